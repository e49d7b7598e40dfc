/* SPDX-License-Identifier: MIT */
/* The one place that says which handler executes which mnemonic. A mnemonic without a handler
 * answers HVEMU_UNHANDLEABLE naming the instruction; nothing is ever skipped silently. */
#include "families.h"

/* the sixteen condition-code forms of a family, in condition order */
#define CC16(F_, fn) \
    [HV_MN_##F_##O] = fn, [HV_MN_##F_##NO] = fn, [HV_MN_##F_##B] = fn, [HV_MN_##F_##NB] = fn, \
    [HV_MN_##F_##Z] = fn, [HV_MN_##F_##NZ] = fn, [HV_MN_##F_##BE] = fn, [HV_MN_##F_##NBE] = fn, \
    [HV_MN_##F_##S] = fn, [HV_MN_##F_##NS] = fn, [HV_MN_##F_##P] = fn, [HV_MN_##F_##NP] = fn, \
    [HV_MN_##F_##L] = fn, [HV_MN_##F_##NL] = fn, [HV_MN_##F_##LE] = fn, [HV_MN_##F_##NLE] = fn

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
    [HV_MN_PUSH] = exec_push, [HV_MN_POP] = exec_pop,
    [HV_MN_PUSHF] = exec_pushf, [HV_MN_PUSHFD] = exec_pushf, [HV_MN_PUSHFQ] = exec_pushf,
    [HV_MN_POPF] = exec_popf, [HV_MN_POPFD] = exec_popf, [HV_MN_POPFQ] = exec_popf,
    [HV_MN_LEAVE] = exec_leave, [HV_MN_ENTER] = exec_enter,
    [HV_MN_JMP] = exec_jmp, [HV_MN_CALL] = exec_call, [HV_MN_RET] = exec_ret,
    CC16(J, exec_jcc), CC16(CMOV, exec_cmov), CC16(SET, exec_setcc),
    [HV_MN_LOOP] = exec_loop, [HV_MN_LOOPE] = exec_loop, [HV_MN_LOOPNE] = exec_loop,
    [HV_MN_JCXZ] = exec_loop, [HV_MN_JECXZ] = exec_loop, [HV_MN_JRCXZ] = exec_loop,
    [HV_MN_SHL] = exec_shift, [HV_MN_SAL] = exec_shift, [HV_MN_SHR] = exec_shift,
    [HV_MN_SAR] = exec_shift, [HV_MN_ROL] = exec_shift, [HV_MN_ROR] = exec_shift,
    [HV_MN_RCL] = exec_shift, [HV_MN_RCR] = exec_shift,
    [HV_MN_MUL] = exec_mul1, [HV_MN_IMUL] = exec_imul, [HV_MN_DIV] = exec_div,
    [HV_MN_IDIV] = exec_div,
    [HV_MN_MOVSB] = exec_string, [HV_MN_MOVSW] = exec_string, [HV_MN_MOVSD] = exec_string,
    [HV_MN_MOVSQ] = exec_string, [HV_MN_CMPSB] = exec_string, [HV_MN_CMPSW] = exec_string,
    [HV_MN_CMPSD] = exec_string, [HV_MN_CMPSQ] = exec_string, [HV_MN_SCASB] = exec_string,
    [HV_MN_SCASW] = exec_string, [HV_MN_SCASD] = exec_string, [HV_MN_SCASQ] = exec_string,
    [HV_MN_LODSB] = exec_string, [HV_MN_LODSW] = exec_string, [HV_MN_LODSD] = exec_string,
    [HV_MN_LODSQ] = exec_string, [HV_MN_STOSB] = exec_string, [HV_MN_STOSW] = exec_string,
    [HV_MN_STOSD] = exec_string, [HV_MN_STOSQ] = exec_string,
    [HV_MN_INSB] = exec_string, [HV_MN_INSW] = exec_string, [HV_MN_INSD] = exec_string,
    [HV_MN_OUTSB] = exec_string, [HV_MN_OUTSW] = exec_string, [HV_MN_OUTSD] = exec_string,
    [HV_MN_IN] = exec_inout, [HV_MN_OUT] = exec_inout,
    [HV_MN_MOVZX] = exec_movzx, [HV_MN_MOVSX] = exec_movsx,
    [HV_MN_CMPXCHG] = exec_cmpxchg, [HV_MN_XADD] = exec_xadd,
    [HV_MN_SHLD] = exec_shxd, [HV_MN_SHRD] = exec_shxd,
    [HV_MN_BT] = exec_bt, [HV_MN_BTS] = exec_bt, [HV_MN_BTR] = exec_bt, [HV_MN_BTC] = exec_bt,
    [HV_MN_BSF] = exec_bitscan, [HV_MN_BSR] = exec_bitscan, [HV_MN_TZCNT] = exec_bitscan,
    [HV_MN_LZCNT] = exec_bitscan, [HV_MN_POPCNT] = exec_bitscan,
    [HV_MN_BSWAP] = exec_bswap, [HV_MN_MOVBE] = exec_movbe, [HV_MN_CRC32] = exec_crc32,
    [HV_MN_ADCX] = exec_adx, [HV_MN_ADOX] = exec_adx,
    [HV_MN_CMPXCHG8B] = exec_cmpxchg8b16b, [HV_MN_CMPXCHG16B] = exec_cmpxchg8b16b,
    [HV_MN_ANDN] = exec_bmi, [HV_MN_BEXTR] = exec_bmi, [HV_MN_BLSI] = exec_bmi,
    [HV_MN_BLSMSK] = exec_bmi, [HV_MN_BLSR] = exec_bmi, [HV_MN_BZHI] = exec_bmi,
    [HV_MN_PDEP] = exec_bmi, [HV_MN_PEXT] = exec_bmi, [HV_MN_SARX] = exec_bmi,
    [HV_MN_SHLX] = exec_bmi, [HV_MN_SHRX] = exec_bmi, [HV_MN_RORX] = exec_bmi,
    [HV_MN_MULX] = exec_bmi,
    [HV_MN_CPUID] = exec_cpuid, [HV_MN_RDTSC] = exec_rdtsc, [HV_MN_RDTSCP] = exec_rdtsc,
    [HV_MN_CLFLUSH] = exec_cacheline, [HV_MN_CLFLUSHOPT] = exec_cacheline,
    [HV_MN_CLWB] = exec_cacheline,
    [HV_MN_PREFETCHNTA] = exec_hint, [HV_MN_PREFETCHT0] = exec_hint, [HV_MN_PREFETCHT1] = exec_hint,
    [HV_MN_PREFETCHT2] = exec_hint, [HV_MN_PREFETCHW] = exec_hint, [HV_MN_PREFETCH] = exec_hint,
    [HV_MN_UD0] = exec_raise_ud, [HV_MN_UD1] = exec_raise_ud, [HV_MN_UD2] = exec_raise_ud,
    [HV_MN_LFENCE] = exec_hint, [HV_MN_MFENCE] = exec_hint, [HV_MN_SFENCE] = exec_hint,
};
