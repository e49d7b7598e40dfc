/* SPDX-License-Identifier: MIT */
/*
 * The undefined-results table. Facts from the Intel SDM (Vol. 2 instruction pages, "Flags
 * Affected"; Vol. 1 Appendix A, EFLAGS cross-reference) and the AMD APM Vol. 3 (instruction
 * pages, "rFLAGS Affected"; Appendix E). See undefined_flags.md for the reasoning per entry.
 */
#include "undef_flags.h"

#include <stddef.h>
#include <string.h>

#define CF UNDEF_CF
#define PF UNDEF_PF
#define AF UNDEF_AF
#define ZF UNDEF_ZF
#define SF UNDEF_SF
#define OF UNDEF_OF

const struct undef_flags_entry undef_flags_table[] = {
    /* Arithmetic: every flag they write is defined. */
    {"add", 0, UNDEF_RULE_NONE, "SDM 2A ADD"},
    {"adc", 0, UNDEF_RULE_NONE, "SDM 2A ADC"},
    {"sub", 0, UNDEF_RULE_NONE, "SDM 2B SUB"},
    {"sbb", 0, UNDEF_RULE_NONE, "SDM 2B SBB"},
    {"cmp", 0, UNDEF_RULE_NONE, "SDM 2A CMP"},
    {"neg", 0, UNDEF_RULE_NONE, "SDM 2B NEG"},
    {"inc", 0, UNDEF_RULE_NONE, "SDM 2A INC (CF unaffected, not undefined)"},
    {"dec", 0, UNDEF_RULE_NONE, "SDM 2A DEC (CF unaffected, not undefined)"},
    {"cmpxchg", 0, UNDEF_RULE_NONE, "SDM 2A CMPXCHG"},
    {"xadd", 0, UNDEF_RULE_NONE, "SDM 2B XADD"},
    {"cmpsb", 0, UNDEF_RULE_NONE, "SDM 2A CMPS"},
    {"cmpsw", 0, UNDEF_RULE_NONE, "SDM 2A CMPS"},
    {"cmpsd", 0, UNDEF_RULE_NONE, "SDM 2A CMPS"},
    {"cmpsq", 0, UNDEF_RULE_NONE, "SDM 2A CMPS"},
    {"scasb", 0, UNDEF_RULE_NONE, "SDM 2B SCAS"},
    {"scasw", 0, UNDEF_RULE_NONE, "SDM 2B SCAS"},
    {"scasd", 0, UNDEF_RULE_NONE, "SDM 2B SCAS"},
    {"scasq", 0, UNDEF_RULE_NONE, "SDM 2B SCAS"},
    /* Logic: OF=CF=0, SF ZF PF from the result, AF undefined. */
    {"and", AF, UNDEF_RULE_NONE, "SDM 2A AND"},
    {"or", AF, UNDEF_RULE_NONE, "SDM 2B OR"},
    {"xor", AF, UNDEF_RULE_NONE, "SDM 2B XOR"},
    {"test", AF, UNDEF_RULE_NONE, "SDM 2B TEST"},
    /* Multiply: CF=OF say whether the high half is significant; the rest undefined. */
    {"mul", SF | ZF | AF | PF, UNDEF_RULE_NONE, "SDM 2B MUL"},
    {"imul", SF | ZF | AF | PF, UNDEF_RULE_NONE, "SDM 2A IMUL (all forms)"},
    /* Divide: all six undefined. */
    {"div", CF | OF | SF | ZF | AF | PF, UNDEF_RULE_NONE, "SDM 2A DIV"},
    {"idiv", CF | OF | SF | ZF | AF | PF, UNDEF_RULE_NONE, "SDM 2A IDIV"},
    /* Shifts and rotates: see the rules in undef_flags_for(). */
    {"shl", 0, UNDEF_RULE_SHIFT, "SDM 2B SAL/SAR/SHL/SHR"},
    {"sal", 0, UNDEF_RULE_SHIFT, "SDM 2B SAL/SAR/SHL/SHR"},
    {"shr", 0, UNDEF_RULE_SHIFT, "SDM 2B SAL/SAR/SHL/SHR"},
    {"sar", 0, UNDEF_RULE_SAR, "SDM 2B SAL/SAR/SHL/SHR"},
    {"rol", 0, UNDEF_RULE_ROTATE, "SDM 2B RCL/RCR/ROL/ROR"},
    {"ror", 0, UNDEF_RULE_ROTATE, "SDM 2B RCL/RCR/ROL/ROR"},
    {"rcl", 0, UNDEF_RULE_ROTATE, "SDM 2B RCL/RCR/ROL/ROR"},
    {"rcr", 0, UNDEF_RULE_ROTATE, "SDM 2B RCL/RCR/ROL/ROR"},
    {"shld", 0, UNDEF_RULE_SHXD, "SDM 2B SHLD"},
    {"shrd", 0, UNDEF_RULE_SHXD, "SDM 2B SHRD"},
    /* Flag-less shifts and rotates (BMI2): RFLAGS unaffected. */
    {"sarx", 0, UNDEF_RULE_NONE, "SDM 2B SARX/SHLX/SHRX"},
    {"shlx", 0, UNDEF_RULE_NONE, "SDM 2B SARX/SHLX/SHRX"},
    {"shrx", 0, UNDEF_RULE_NONE, "SDM 2B SARX/SHLX/SHRX"},
    {"rorx", 0, UNDEF_RULE_NONE, "SDM 2B RORX"},
    /* Bit scan: ZF says whether the source was 0; the destination then is the question. */
    {"bsf", CF | OF | SF | AF | PF, UNDEF_RULE_BITSCAN, "SDM 2A BSF; APM 3 BSF"},
    {"bsr", CF | OF | SF | AF | PF, UNDEF_RULE_BITSCAN, "SDM 2A BSR; APM 3 BSR"},
    /* Bit test: CF is the bit; ZF unaffected (current SDM; older revisions said undefined). */
    {"bt", OF | SF | AF | PF, UNDEF_RULE_NONE, "SDM 2A BT"},
    {"bts", OF | SF | AF | PF, UNDEF_RULE_NONE, "SDM 2A BTS"},
    {"btr", OF | SF | AF | PF, UNDEF_RULE_NONE, "SDM 2A BTR"},
    {"btc", OF | SF | AF | PF, UNDEF_RULE_NONE, "SDM 2A BTC"},
    /* Counting: LZCNT/TZCNT define only ZF and CF; POPCNT defines all six. */
    {"lzcnt", OF | SF | AF | PF, UNDEF_RULE_NONE, "SDM 2A LZCNT"},
    {"tzcnt", OF | SF | AF | PF, UNDEF_RULE_NONE, "SDM 2B TZCNT"},
    {"popcnt", 0, UNDEF_RULE_NONE, "SDM 2B POPCNT"},
    /* BMI1 / BMI2 */
    {"andn", AF | PF, UNDEF_RULE_NONE, "SDM 2A ANDN"},
    {"bextr", AF | SF | PF, UNDEF_RULE_NONE, "SDM 2A BEXTR"},
    {"blsi", AF | PF, UNDEF_RULE_NONE, "SDM 2A BLSI"},
    {"blsmsk", AF | PF, UNDEF_RULE_NONE, "SDM 2A BLSMSK"},
    {"blsr", AF | PF, UNDEF_RULE_NONE, "SDM 2A BLSR"},
    {"bzhi", AF | PF, UNDEF_RULE_NONE, "SDM 2A BZHI"},
    {"mulx", 0, UNDEF_RULE_NONE, "SDM 2B MULX (flags unaffected)"},
    {"pdep", 0, UNDEF_RULE_NONE, "SDM 2B PDEP (flags unaffected)"},
    {"pext", 0, UNDEF_RULE_NONE, "SDM 2B PEXT (flags unaffected)"},
    /* ADX: only CF (ADCX) or OF (ADOX) written, the rest unaffected. */
    {"adcx", 0, UNDEF_RULE_NONE, "SDM 2A ADCX"},
    {"adox", 0, UNDEF_RULE_NONE, "SDM 2A ADOX"},
    /* BSWAP of a 16-bit register: the result is undefined (SDM: "use XCHG"). */
    {"bswap", 0, UNDEF_RULE_BSWAP16, "SDM 2A BSWAP"},
    {"crc32", 0, UNDEF_RULE_NONE, "SDM 2A CRC32 (flags unaffected)"},
    {"movbe", 0, UNDEF_RULE_NONE, "SDM 2B MOVBE (flags unaffected)"},
    {"rdrand", 0, UNDEF_RULE_NONE, "SDM 2B RDRAND (CF set, others cleared)"},
    {"rdseed", 0, UNDEF_RULE_NONE, "SDM 2B RDSEED (CF set, others cleared)"},
    /* BCD adjust (16/32-bit modes only: #UD in 64-bit mode). */
    {"aaa", OF | SF | ZF | PF, UNDEF_RULE_NONE, "SDM 2A AAA"},
    {"aas", OF | SF | ZF | PF, UNDEF_RULE_NONE, "SDM 2A AAS"},
    {"aam", OF | AF | CF, UNDEF_RULE_NONE, "SDM 2A AAM"},
    {"aad", OF | AF | CF, UNDEF_RULE_NONE, "SDM 2A AAD"},
    {"daa", OF, UNDEF_RULE_NONE, "SDM 2A DAA"},
    {"das", OF, UNDEF_RULE_NONE, "SDM 2A DAS"},
};
const unsigned undef_flags_table_len = sizeof undef_flags_table / sizeof undef_flags_table[0];

const struct undef_flags_entry *undef_flags_lookup(const char *mnemonic)
{
    for (unsigned i = 0; i < undef_flags_table_len; i++)
        if (!strcmp(undef_flags_table[i].mnemonic, mnemonic))
            return &undef_flags_table[i];
    return NULL;
}

static uint64_t width_mask(unsigned width)
{
    return width >= 64 ? ~0ull : (1ull << width) - 1;
}

uint32_t undef_flags_for(const char *mnemonic, unsigned width, uint64_t count, uint64_t src,
                         uint64_t *dest_mask)
{
    const struct undef_flags_entry *e = undef_flags_lookup(mnemonic);
    uint64_t dm = 0;
    uint32_t fl = 0;
    /* Shift-type counts are masked to 5 bits, 6 with a 64-bit operand, before anything else;
     * a masked count of 0 leaves every flag alone, so nothing is undefined. */
    unsigned masked = (unsigned)(count & (width == 64 ? 63 : 31));
    if (!e)
        goto out;
    fl = e->always;
    switch (e->rule) {
    case UNDEF_RULE_NONE:
        break;
    case UNDEF_RULE_BSWAP16:
        if (width == 16)
            dm = 0xffff;
        break;
    case UNDEF_RULE_SHIFT:
        if (masked == 0)
            break;
        fl |= AF;
        if (masked != 1)
            fl |= OF;
        /* CF is the last bit shifted out, except that it is undefined for SHL/SHR when the
         * count reaches the operand width (possible for 8- and 16-bit operands). */
        if (masked >= width)
            fl |= CF;
        break;
    case UNDEF_RULE_SAR:
        if (masked == 0)
            break;
        fl |= AF;
        if (masked != 1)
            fl |= OF;
        break;
    case UNDEF_RULE_ROTATE:
        /* Only OF: defined for a masked count of 1. RCL/RCR 8/16-bit rotate by the masked
         * count modulo 9/17, but the OF rule is on the masked count itself. */
        if (masked > 1)
            fl |= OF;
        break;
    case UNDEF_RULE_SHXD:
        if (masked == 0)
            break;
        if (masked > width) { /* 16-bit with a count of 17..31 */
            fl |= CF | OF | SF | ZF | AF | PF;
            dm = width_mask(width);
            break;
        }
        fl |= AF;
        if (masked != 1)
            fl |= OF;
        break;
    case UNDEF_RULE_BITSCAN:
        /* Source 0: the SDM leaves the destination undefined. Both vendors in fact keep the
         * old value for 16- and 64-bit operands; for a 32-bit operand AMD keeps all 64 bits
         * while Intel keeps the low 32 and zeroes the high 32 (the usual 32-bit write). The
         * low part is compared, the part the vendors disagree on is not. */
        if ((src & width_mask(width)) == 0 && width == 32)
            dm = 0xffffffff00000000ull;
        break;
    }
out:
    if (dest_mask)
        *dest_mask = dm;
    return fl;
}
