/* SPDX-License-Identifier: MIT */
/* BMI1/BMI2 GPR instructions (VEX-encoded): ANDN BEXTR BLSI BLSMSK BLSR BZHI PDEP PEXT SARX SHLX
 * SHRX RORX MULX. Flags the SDM leaves undefined (AF PF, and SF for BEXTR) are left unchanged. */
#include "families.h"

/* ---- BMI1 / BMI2 (VEX-encoded; operands as decoded: Gy,By,Ey / Gy,Ey,By / By,Ey) ---- */

int exec_bmi(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t m = size_mask(size), a = 0, b = 0, r = 0;
    int rc;
    if ((rc = op_read(x, 1, &a)) != X_OK)
        return rc;
    if (in->noperands > 2 && (rc = op_read(x, 2, &b)) != X_OK)
        return rc;
    uint64_t f = 0, fmask = 0;
    switch (in->mnemonic) {
    case HV_MN_ANDN: /* dst = ~src1 & src2 */
        r = ~a & b & m;
        f = flags_szp(r, size) & (HVEMU_FLAG_ZF | HVEMU_FLAG_SF);
        fmask = HVEMU_FLAG_ZF | HVEMU_FLAG_SF | HVEMU_FLAG_CF | HVEMU_FLAG_OF;
        break;
    case HV_MN_BEXTR: { /* dst = bits [start, start+len) of src1; control in src2 */
        unsigned start = (unsigned)(b & 0xff), len = (unsigned)((b >> 8) & 0xff);
        r = start >= w ? 0 : a >> start;
        if (len < 64)
            r &= ((uint64_t)1 << len) - 1;
        r &= m;
        f = r ? 0 : HVEMU_FLAG_ZF;
        fmask = HVEMU_FLAG_ZF | HVEMU_FLAG_CF | HVEMU_FLAG_OF;
        break;
    }
    case HV_MN_BZHI: { /* zero the bits from index src2[7:0] up */
        unsigned n = (unsigned)(b & 0xff);
        r = n >= w ? a & m : a & (((uint64_t)1 << n) - 1);
        f = (flags_szp(r, size) & (HVEMU_FLAG_ZF | HVEMU_FLAG_SF)) | (n > w - 1 ? HVEMU_FLAG_CF : 0);
        fmask = HVEMU_FLAG_ZF | HVEMU_FLAG_SF | HVEMU_FLAG_CF | HVEMU_FLAG_OF;
        break;
    }
    case HV_MN_BLSI: /* isolate the lowest set bit */
        a &= m;
        r = a & (0 - a);
        f = (flags_szp(r, size) & (HVEMU_FLAG_ZF | HVEMU_FLAG_SF)) | (a ? HVEMU_FLAG_CF : 0);
        fmask = HVEMU_FLAG_ZF | HVEMU_FLAG_SF | HVEMU_FLAG_CF | HVEMU_FLAG_OF;
        break;
    case HV_MN_BLSMSK: /* mask up to the lowest set bit */
        a &= m;
        r = (a ^ (a - 1)) & m;
        f = (flags_szp(r, size) & HVEMU_FLAG_SF) | (a ? 0 : HVEMU_FLAG_CF);
        fmask = HVEMU_FLAG_ZF | HVEMU_FLAG_SF | HVEMU_FLAG_CF | HVEMU_FLAG_OF;
        break;
    case HV_MN_BLSR: /* reset the lowest set bit */
        a &= m;
        r = a & (a - 1) & m;
        f = (flags_szp(r, size) & (HVEMU_FLAG_ZF | HVEMU_FLAG_SF)) | (a ? 0 : HVEMU_FLAG_CF);
        fmask = HVEMU_FLAG_ZF | HVEMU_FLAG_SF | HVEMU_FLAG_CF | HVEMU_FLAG_OF;
        break;
    case HV_MN_PDEP: { /* deposit the low bits of src1 (By) at the mask (Ey) positions */
        uint64_t src = a, mask = b & m;
        for (unsigned k = 0; mask; mask &= mask - 1, k++)
            if ((src >> k) & 1)
                r |= mask & (0 - mask);
        break;
    }
    case HV_MN_PEXT: { /* extract the src1 bits at the mask positions into the low bits */
        uint64_t src = a, mask = b & m;
        for (unsigned k = 0; mask; mask &= mask - 1, k++)
            if (src & mask & (0 - mask))
                r |= (uint64_t)1 << k;
        break;
    }
    case HV_MN_SARX:
    case HV_MN_SHLX:
    case HV_MN_SHRX: {
        unsigned c = (unsigned)(b & (w - 1));
        if (in->mnemonic == HV_MN_SHLX)
            r = (a << c) & m;
        else if (in->mnemonic == HV_MN_SHRX)
            r = (a & m) >> c;
        else
            r = (uint64_t)((int64_t)sext(a, size) >> c) & m;
        break;
    }
    case HV_MN_RORX: {
        unsigned c = (unsigned)(b & (w - 1));
        a &= m;
        r = c ? ((a >> c) | (a << (w - c))) & m : a;
        break;
    }
    case HV_MN_MULX: { /* hi:lo = rDX * src; Gy = hi, By = lo (hi wins if the same register) */
        uint64_t d = gpr_get_sized(x, HVEMU_RDX, size);
        unsigned __int128 p = (unsigned __int128)d * (b & m);
        uint64_t lo = (uint64_t)p & m, hi = (uint64_t)(p >> w) & m;
        if ((rc = op_write(x, 1, lo)) != X_OK)
            return rc;
        return op_write(x, 0, hi);
    }
    default:
        return exec_unhandled(x, "BMI instruction without a handler");
    }
    if (fmask)
        flags_set(x, fmask, f);
    return op_write(x, 0, r);
}

