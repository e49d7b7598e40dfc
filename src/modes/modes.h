/* SPDX-License-Identifier: MIT */
/*
 * CPU modes outside 64-bit mode: which mode the vCPU is in (CR0.PE, EFER.LMA, RFLAGS.VM, CS.L,
 * CS.D), its privilege level, and segmentation (limit and type checks, 32-bit linear
 * addresses) for data, stack, string and instruction-fetch accesses.
 *
 * 64-bit mode is HV_CPU_64 = 0, so "x->mode != 0" is the one test the 64-bit paths pay.
 */
#ifndef HVEMU_MODES_H
#define HVEMU_MODES_H

#include "hvemu.h"
#include "x86.h"

enum hv_cpu_mode {
    HV_CPU_64 = 0,   /* IA-32e, CS.L = 1 */
    HV_CPU_COMPAT,   /* IA-32e, CS.L = 0: 16- or 32-bit code by CS.D */
    HV_CPU_PROT,     /* legacy protected mode (EFER.LMA = 0): 16- or 32-bit code by CS.D */
    HV_CPU_REAL,     /* CR0.PE = 0: 16- or 32-bit code by CS.D ("big real mode" as loaded) */
    HV_CPU_V86,      /* protected mode with RFLAGS.VM = 1 (not executed) */
};

/* VMX access-rights bits (struct hvemu_segment.attr) the checks read. */
#define HV_SEG_TYPE_A     (1u << 0)
#define HV_SEG_TYPE_W_R   (1u << 1) /* data: writable; code: readable */
#define HV_SEG_TYPE_E_C   (1u << 2) /* data: expand-down; code: conforming */
#define HV_SEG_TYPE_CODE  (1u << 3)

/* The mode of a state whose RIP, RFLAGS, CS, CR0 and EFER are loaded. */
static inline unsigned hv_cpu_mode(const struct hvemu_state *s)
{
    if (!(s->cr0 & CR0_PE))
        return HV_CPU_REAL;
    if (s->efer & EFER_LMA)
        return (s->seg[HVEMU_CS].attr & HVEMU_SEG_ATTR_L) ? HV_CPU_64 : HV_CPU_COMPAT;
    return (s->rflags & HVEMU_FLAG_VM) ? HV_CPU_V86 : HV_CPU_PROT;
}

/* The decoder's mode (default operand and address size) outside 64-bit mode: CS.D. */
static inline enum hvemu_mode hv_code_size(const struct hvemu_state *s)
{
    return (s->seg[HVEMU_CS].attr & HVEMU_SEG_ATTR_DB) ? HVEMU_MODE_32 : HVEMU_MODE_16;
}

/* The current privilege level: 0 in real mode (whatever CS holds), 3 in virtual-8086 mode,
 * otherwise CS.RPL, which the processor keeps equal to CPL (for conforming code segments too).
 * KVM reads SS.DPL instead; the two agree in every state a guest can reach, and CS is already
 * loaded for the mode, so the emulation needs no further state part. */
static inline unsigned hv_cpl(const struct hvemu_state *s, unsigned mode)
{
    if (mode == HV_CPU_REAL)
        return 0;
    if (mode == HV_CPU_V86)
        return 3;
    return s->seg[HVEMU_CS].selector & 3;
}

/* Bytes of an instruction at EIP that CS allows (its limit; at most 15); 0: EIP is past the
 * limit, so the fetch is #GP(0). */
static inline unsigned hv_cs_room(const struct hvemu_state *s, uint64_t eip)
{
    uint64_t limit = s->seg[HVEMU_CS].limit;
    if (eip > limit)
        return 0;
    return limit - eip >= 14 ? 15 : (unsigned)(limit - eip + 1);
}

/* Segmentation of a data or stack access outside 64-bit mode: `offset` (already truncated to
 * the address size), `size` bytes (>= 1), a write or not. Returns 0 and the 32-bit linear
 * address, or the exception vector (HVEMU_EXC_GP or HVEMU_EXC_SS, error code 0). */
unsigned hv_seg_check(const struct hvemu_state *s, unsigned mode, unsigned seg, uint64_t offset,
                      unsigned size, int write, uint64_t *la);

#endif
