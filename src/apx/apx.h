/* SPDX-License-Identifier: MIT */
/*
 * Execution of Intel APX forms (src/apx/): the EVEX map-4 promoted instructions in their
 * legacy, NDD (new data destination) and NF (no flags) forms, the APX-only instructions
 * (CCMPscc, CTESTscc, CFCMOVcc, SETZUcc, IMULZU, PUSH2/POP2, PUSHP/POPP, JMPABS) and the
 * EVEX (and VEX) encodings of the BMI1/BMI2 GPR instructions.
 *
 * REX2-encoded legacy instructions need nothing here: the decoder gives them register numbers
 * 16..31 and the legacy handlers execute them on state->gpr[] like any other register.
 */
#ifndef HVEMU_APX_H
#define HVEMU_APX_H
#include "exec/exec.h"

/* The handler for a decoded instruction when the legacy table is not the answer: called by
 * hvemu_emulate for every EVEX instruction and for mnemonics without a legacy handler.
 * `legacy` is hv_exec_handlers[in->mnemonic]. APX-promoted EVEX forms (map 4, or an entry of
 * feature APX) always take the APX handler (NULL when not executed); other EVEX instructions
 * keep `legacy`; a mnemonic without a legacy handler gets the APX one (PUSHP, POPP, JMPABS,
 * the VEX BMI forms), or NULL. */
exec_fn apx_exec_handler(const struct hvemu_insn *in, exec_fn legacy);

#endif
