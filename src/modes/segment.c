/* SPDX-License-Identifier: MIT */
/*
 * Segmentation outside 64-bit mode (SDM Vol. 3A, 3.4.5 and 5.3-5.5; APM Vol. 2, 4.8-4.9).
 *
 * The hidden part of each segment register is what struct hvemu_segment holds (VMX layout:
 * `limit` is the byte limit with the granularity already applied), so a state loaded from a
 * VMCS or KVM's kvm_segment is used as the hardware uses its descriptor cache: big real mode
 * (a 4 GiB DS limit left by protected mode) works without anything special.
 *
 * Checks, in the order the processor makes them:
 *   1. protected and compatibility mode: an unusable (null) segment, a write to a code segment
 *      or a read-only data segment, a read of an execute-only code segment;
 *   2. every mode: the limit. Expand-up: the access's last byte must be at or below the limit.
 *      Expand-down data segments: every byte above the limit and at or below 0xFFFF (B = 0) or
 *      0xFFFFFFFF (B = 1).
 * The fault is #SS(0) for an SS-based access, #GP(0) otherwise. In real mode the processor
 * pushes no error code: hvemu reports the vector with has_error_code clear there
 * (exec_exception()), which is also what VMX event injection in real mode requires.
 * Real mode makes no type checks here (its segment loads do not change the access rights, and
 * the SDM describes none for real-address-mode accesses).
 *
 * The linear address is base + offset truncated to 32 bits: outside IA-32e paging linear
 * addresses are 32 bits; in compatibility mode the effective address and the base are 32 bits
 * as well (hvemu truncates the FS/GS bases too, which may hold 64-bit values there).
 */
#include "modes/modes.h"

unsigned hv_seg_check(const struct hvemu_state *s, unsigned mode, unsigned seg, uint64_t offset,
                      unsigned size, int write, uint64_t *la)
{
    const struct hvemu_segment *sg = &s->seg[seg];
    unsigned fault = seg == HVEMU_SS ? HVEMU_EXC_SS : HVEMU_EXC_GP;
    uint32_t attr = sg->attr, type = attr & 15;
    uint64_t last = offset + size - 1;
    if (mode != HV_CPU_REAL) {
        if (attr & HVEMU_SEG_ATTR_UNUSABLE)
            return fault;
        if (type & HV_SEG_TYPE_CODE) {
            if (write || !(type & HV_SEG_TYPE_W_R))
                return fault;
        } else if (write && !(type & HV_SEG_TYPE_W_R)) {
            return fault;
        }
    }
    if (!(type & HV_SEG_TYPE_CODE) && (type & HV_SEG_TYPE_E_C)) {
        uint64_t upper = (attr & HVEMU_SEG_ATTR_DB) ? 0xffffffffu : 0xffffu;
        if (offset <= sg->limit || last > upper)
            return fault;
    } else if (last > sg->limit) {
        return fault;
    }
    *la = (sg->base + offset) & 0xffffffffu;
    return 0;
}
