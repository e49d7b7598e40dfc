/* SPDX-License-Identifier: MIT */
/*
 * Which results of an instruction the architecture leaves undefined, so that a differential
 * test compares only what is defined. This table (undef_flags.c, explained in
 * undefined_flags.md) is the one place the harness masks anything: add a family here, with
 * its reference, rather than masking in a test.
 */
#ifndef HVEMU_HOSTDIFF_UNDEF_FLAGS_H
#define HVEMU_HOSTDIFF_UNDEF_FLAGS_H

#include <stdint.h>

#define UNDEF_CF 0x001u
#define UNDEF_PF 0x004u
#define UNDEF_AF 0x010u
#define UNDEF_ZF 0x040u
#define UNDEF_SF 0x080u
#define UNDEF_OF 0x800u
#define UNDEF_ALL6 (UNDEF_CF | UNDEF_PF | UNDEF_AF | UNDEF_ZF | UNDEF_SF | UNDEF_OF)

/* How the undefined set depends on the operands, beyond the bits undefined every time. */
enum undef_rule {
    UNDEF_RULE_NONE,    /* just `always` */
    UNDEF_RULE_SHIFT,   /* SHL/SAL/SHR: count-dependent OF, AF, and CF when count >= width */
    UNDEF_RULE_SAR,     /* SAR: count-dependent OF, AF */
    UNDEF_RULE_ROTATE,  /* ROL/ROR/RCL/RCR: OF unless the masked count is 1 */
    UNDEF_RULE_SHXD,    /* SHLD/SHRD: AF, OF if count > 1, everything if count > width */
    UNDEF_RULE_BITSCAN, /* BSF/BSR: the destination when the source is 0 */
    UNDEF_RULE_BSWAP16, /* BSWAP: the destination's low 16 bits with a 16-bit operand */
};

struct undef_flags_entry {
    const char *mnemonic;  /* as hvemu_mnemonic_name() spells it */
    uint32_t always;       /* RFLAGS bits undefined whenever the instruction executes */
    enum undef_rule rule;
    const char *ref;       /* where the SDM / APM says so */
};

extern const struct undef_flags_entry undef_flags_table[];
extern const unsigned undef_flags_table_len;

/* The entry for a mnemonic, or NULL when the family has not been reviewed (callers should
 * treat that as "unknown", not as "nothing undefined"). */
const struct undef_flags_entry *undef_flags_lookup(const char *mnemonic);

/* RFLAGS bits not to compare for one execution.
 *   width:  operand size in bits (8, 16, 32, 64)
 *   count:  shifts, rotates, SHLD/SHRD: the count operand as executed (CL or imm8, unmasked)
 *   src:    BSF/BSR: the source operand's value
 *   *dest_mask (may be NULL): bits of the destination GPR (as a 64-bit value) not to compare
 * Unknown mnemonics answer 0 with *dest_mask 0; check undef_flags_lookup() first. */
uint32_t undef_flags_for(const char *mnemonic, unsigned width, uint64_t count, uint64_t src,
                         uint64_t *dest_mask);

#endif
