/* SPDX-License-Identifier: MIT */
/* The one place that says which handler executes which mnemonic. A mnemonic without a handler
 * answers HVEMU_UNHANDLEABLE naming the instruction; nothing is ever skipped silently. */
#include "families.h"

const exec_fn hv_exec_handlers[HV_MN_COUNT] = {
    [HV_MN_ADD] = exec_alu2, [HV_MN_ADC] = exec_alu2, [HV_MN_SUB] = exec_alu2,
    [HV_MN_SBB] = exec_alu2, [HV_MN_AND] = exec_alu2, [HV_MN_OR] = exec_alu2,
    [HV_MN_XOR] = exec_alu2, [HV_MN_CMP] = exec_alu2, [HV_MN_TEST] = exec_alu2,
    [HV_MN_INC] = exec_alu1, [HV_MN_DEC] = exec_alu1, [HV_MN_NEG] = exec_alu1,
    [HV_MN_NOT] = exec_alu1,
    [HV_MN_MOV] = exec_mov, [HV_MN_MOVSXD] = exec_movsx,
    [HV_MN_XCHG] = exec_xchg, [HV_MN_LEA] = exec_lea,
    [HV_MN_CBW] = exec_cbw, [HV_MN_CWDE] = exec_cbw, [HV_MN_CDQE] = exec_cbw,
    [HV_MN_CWD] = exec_cwd, [HV_MN_CDQ] = exec_cwd, [HV_MN_CQO] = exec_cwd,
    [HV_MN_XLATB] = exec_xlat, [HV_MN_LAHF] = exec_lahf, [HV_MN_SAHF] = exec_sahf,
    [HV_MN_NOP] = exec_nop, [HV_MN_PAUSE] = exec_nop,
    [HV_MN_CLC] = exec_flagop, [HV_MN_STC] = exec_flagop, [HV_MN_CMC] = exec_flagop,
    [HV_MN_CLD] = exec_flagop, [HV_MN_STD] = exec_flagop,
};
