/* SPDX-License-Identifier: MIT */
/*
 * Architectural bits of the control registers, EFER and XCR0 that more than one part of hvemu
 * reads (SDM Vol. 3, 2.5 and 2.2.1; Vol. 1, 13.3), and the APX gate built from them.
 */
#ifndef HVEMU_X86_H
#define HVEMU_X86_H
#include "hvemu.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define CR4_PVI        (1ull << 1)
#define CR4_TSD        (1ull << 2)
#define CR4_DE         (1ull << 3)
#define CR4_PAE        (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_UMIP       (1ull << 11)
#define CR4_LA57       (1ull << 12)
#define CR4_FSGSBASE   (1ull << 16)
#define CR4_PCIDE      (1ull << 17)
#define CR4_OSXSAVE    (1ull << 18)
#define CR4_CET        (1ull << 23)

#define EFER_SCE (1ull << 0)
#define EFER_LMA (1ull << 10)

#define XCR0_X87    (1ull << 0)
#define XCR0_SSE    (1ull << 1)
#define XCR0_AVX    (1ull << 2)
#define XCR0_MPX    (HVEMU_XCR0_BNDREGS | HVEMU_XCR0_BNDCSR)
#define XCR0_AVX512 (7ull << 5)  /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_AMX    (3ull << 17) /* XTILECFG, XTILEDATA */
#define XCR0_APX    HVEMU_XCR0_APX

/* Whether the OS has enabled APX's state: XCR0[19] with CR4.OSXSAVE (CPUID is the other half
 * of the gate, in the features). */
static inline int apx_os_enabled(uint64_t xcr0, uint64_t cr4)
{
    return (xcr0 & XCR0_APX) && (cr4 & CR4_OSXSAVE);
}
#endif
