/* SPDX-License-Identifier: MIT */
/* Multiply and divide: MUL, IMUL (1, 2, 3 operands), DIV, IDIV. Division raises #DE for a zero
 * divisor and for a quotient that does not fit, before anything is written. SF ZF AF PF after
 * a multiply and all six flags after a divide are undefined: hvemu leaves them as they were
 * for DIV/IDIV and sets SF ZF PF from the low result for MUL/IMUL; the tests mask them. */
#include "families.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* the accumulator pair of a size: AX (as AL*src), DX:AX, EDX:EAX, RDX:RAX */
static u128 acc_pair(struct exec *x, unsigned size)
{
    if (size == 1)
        return gpr_get_sized(x, HVEMU_RAX, 2);
    return ((u128)gpr_get_sized(x, HVEMU_RDX, size) << (8 * size)) | gpr_get_sized(x, HVEMU_RAX, size);
}

static void set_acc_pair(struct exec *x, unsigned size, uint64_t lo, uint64_t hi)
{
    if (size == 1) {
        gpr_set_sized(x, HVEMU_RAX, 2, (lo & 0xff) | ((hi & 0xff) << 8));
        return;
    }
    gpr_set_sized(x, HVEMU_RAX, size, lo);
    gpr_set_sized(x, HVEMU_RDX, size, hi);
}

int exec_mul1(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t src, m = size_mask(size);
    int rc = op_read(x, 0, &src);
    if (rc != X_OK)
        return rc;
    uint64_t a = gpr_get_sized(x, HVEMU_RAX, size), lo, hi;
    int ovf;
    if (in->mnemonic == HV_MN_MUL) {
        u128 p = (u128)a * src;
        lo = (uint64_t)p & m;
        hi = (uint64_t)(p >> w) & m;
        ovf = hi != 0;
    } else {
        s128 p = (s128)(int64_t)sext(a, size) * (s128)(int64_t)sext(src, size);
        lo = (uint64_t)p & m;
        hi = (uint64_t)((u128)p >> w) & m;
        ovf = (s128)(int64_t)sext(lo, size) != p;
    }
    set_acc_pair(x, size, lo, hi);
    flags_set(x, FLAGS_ARITH, flags_szp(lo, size) | (ovf ? HVEMU_FLAG_CF | HVEMU_FLAG_OF : 0));
    return X_OK;
}

/* IMUL r, r/m and IMUL r, r/m, imm: the truncated signed product. */
int exec_imul_n(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size;
    uint64_t a, b;
    int rc;
    unsigned s1 = in->noperands == 3 ? 1 : 0, s2 = in->noperands == 3 ? 2 : 1;
    if ((rc = op_read(x, s1, &a)) != X_OK || (rc = op_read(x, s2, &b)) != X_OK)
        return rc;
    s128 p = (s128)(int64_t)sext(a, size) * (s128)(int64_t)sext(b, size);
    uint64_t lo = (uint64_t)p & size_mask(size);
    int ovf = (s128)(int64_t)sext(lo, size) != p;
    flags_set(x, FLAGS_ARITH, flags_szp(lo, size) | (ovf ? HVEMU_FLAG_CF | HVEMU_FLAG_OF : 0));
    return op_write(x, 0, lo);
}

/* Unsigned (hi:lo) / d with hi < d, so the quotient fits in 64 bits. A bounded long division:
 * 128-bit division would need libgcc's __udivti3, which a kernel embedding hvemu may lack. */
static void udiv128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *q, uint64_t *r)
{
    uint64_t quo = 0, rem = hi;
    for (int i = 63; i >= 0; i--) {
        uint64_t carry = rem >> 63;
        rem = (rem << 1) | ((lo >> i) & 1);
        if (carry || rem >= d) {
            rem -= d;
            quo |= (uint64_t)1 << i;
        }
    }
    *q = quo;
    *r = rem;
}

int exec_div(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t src, m = size_mask(size);
    int rc = op_read(x, 0, &src);
    if (rc != X_OK)
        return rc;
    if (src == 0)
        return exec_exception(x, HVEMU_EXC_DE, 0, 0);
    /* the dividend as a 128-bit two's-complement value hi:lo */
    u128 n = acc_pair(x, size);
    if (in->mnemonic == HV_MN_IDIV && w < 64 && (n >> (2 * w - 1)) & 1)
        n |= ~(u128)0 << (2 * w); /* sign-extend the 2w-bit dividend */
    uint64_t q, r;
    if (in->mnemonic == HV_MN_DIV) {
        uint64_t hi = (uint64_t)(n >> 64), lo = (uint64_t)n;
        if (w < 64) {
            /* the dividend fits in 64 bits: hardware's limit is quotient < 2^w */
            if (lo / src > m)
                return exec_exception(x, HVEMU_EXC_DE, 0, 0);
            q = lo / src;
            r = lo % src;
        } else {
            if (hi >= src)
                return exec_exception(x, HVEMU_EXC_DE, 0, 0);
            udiv128(hi, lo, src, &q, &r);
        }
    } else {
        int nneg = (int)((n >> 127) & 1);
        uint64_t d = sext(src, size);
        int dneg = (int)(d >> 63);
        u128 an = nneg ? (u128)0 - n : n;
        uint64_t ad = dneg ? 0 - d : d;
        uint64_t ahi = (uint64_t)(an >> 64), alo = (uint64_t)an;
        if (ahi >= ad)
            return exec_exception(x, HVEMU_EXC_DE, 0, 0);
        uint64_t aq, ar;
        udiv128(ahi, alo, ad, &aq, &ar);
        /* the quotient must fit the signed range: up to 2^(w-1) when negative, else 2^(w-1)-1 */
        uint64_t lim = (uint64_t)1 << (w - 1);
        if (nneg != dneg ? aq > lim : aq >= lim)
            return exec_exception(x, HVEMU_EXC_DE, 0, 0);
        q = (nneg != dneg ? 0 - aq : aq) & m;
        r = (nneg ? 0 - ar : ar) & m; /* the remainder has the dividend's sign */
    }
    set_acc_pair(x, size, q, r);
    return X_OK;
}

/* IMUL has a one-operand form (F6/F7 /5) and two- and three-operand forms. */
int exec_imul(struct exec *x)
{
    return x->in->noperands == 1 ? exec_mul1(x) : exec_imul_n(x);
}
