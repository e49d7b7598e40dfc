/* SPDX-License-Identifier: MIT */
/* APX state helpers: r16..r31 to and from a standard-format XSAVE area, and the XCR0 rule
 * that APX excludes MPX. */
#include "hvemu.h"

#include <string.h>

int hvemu_xcr0_apx_ok(uint64_t xcr0)
{
    return !((xcr0 & HVEMU_XCR0_APX) && (xcr0 & (HVEMU_XCR0_BNDREGS | HVEMU_XCR0_BNDCSR)));
}

#define APX_AREA_END (HVEMU_XSAVE_APX_OFFSET + HVEMU_XSAVE_APX_SIZE)

int hvemu_apx_xsave(const struct hvemu_state *state, void *xsave, size_t size)
{
    uint8_t *area = xsave;
    uint64_t bv;
    if (!xsave || size < APX_AREA_END)
        return -1;
    /* little-endian layout, as the architecture defines it: r16 at offset 960, r31 at 1080 */
    memcpy(area + HVEMU_XSAVE_APX_OFFSET, &state->gpr[HVEMU_R16], HVEMU_XSAVE_APX_SIZE);
    memcpy(&bv, area + HVEMU_XSAVE_HEADER_OFFSET, 8);
    bv |= HVEMU_XCR0_APX;
    memcpy(area + HVEMU_XSAVE_HEADER_OFFSET, &bv, 8);
    return 0;
}

int hvemu_apx_xrstor(struct hvemu_state *state, const void *xsave, size_t size)
{
    const uint8_t *area = xsave;
    uint64_t bv;
    if (!xsave || size < APX_AREA_END)
        return -1;
    memcpy(&bv, area + HVEMU_XSAVE_HEADER_OFFSET, 8);
    if (bv & HVEMU_XCR0_APX)
        memcpy(&state->gpr[HVEMU_R16], area + HVEMU_XSAVE_APX_OFFSET, HVEMU_XSAVE_APX_SIZE);
    else
        memset(&state->gpr[HVEMU_R16], 0, HVEMU_XSAVE_APX_SIZE);
    state->valid |= HVEMU_PART_EGPRS;
    state->dirty |= HVEMU_PART_EGPRS;
    return 0;
}
