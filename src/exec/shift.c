/* SPDX-License-Identifier: MIT */
/* Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR (by 1, imm8, CL), SHLD SHRD.
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count of zero changes
 * neither the destination's value nor the flags (the operand is still written back, as on
 * hardware, so a memory destination sees its write). Flags the SDM leaves undefined (OF for
 * counts above 1, AF, CF past the width) get one consistent value here and are masked by the
 * differential tests (tests/hostdiff/undef_flags.c). */
#include "families.h"

static uint64_t msb(uint64_t v, unsigned size)
{
    return (v >> (8 * size - 1)) & 1;
}

int exec_shift(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t a, cnt, m = size_mask(size);
    int rc;
    if ((rc = op_read(x, 0, &a)) != X_OK || (rc = op_read(x, 1, &cnt)) != X_OK)
        return rc;
    unsigned c = (unsigned)(cnt & (size == 8 ? 63 : 31));
    if (c == 0)
        return op_write(x, 0, a);
    uint64_t f = x->new_rflags, r = a, cf = f & HVEMU_FLAG_CF ? 1 : 0, of = 0;
    int arith = 1;
    switch (in->mnemonic) {
    case HV_MN_SHL: case HV_MN_SAL:
        r = c >= w ? 0 : (a << c) & m;
        cf = c > w ? 0 : (a >> (w - c)) & 1;
        of = msb(r, size) ^ cf;
        break;
    case HV_MN_SHR:
        r = c >= w ? 0 : a >> c;
        cf = c > w ? 0 : (a >> (c - 1)) & 1;
        of = msb(a, size);
        break;
    case HV_MN_SAR: {
        uint64_t s = sext(a, size);
        unsigned e = c >= w ? w - 1 : c;
        r = (uint64_t)((int64_t)s >> e) & m;
        cf = (uint64_t)((int64_t)s >> (c >= w ? w - 1 : c - 1)) & 1;
        of = 0;
        break;
    }
    case HV_MN_ROL: {
        unsigned k = c % w;
        r = k ? ((a << k) | (a >> (w - k))) & m : a;
        cf = r & 1;
        of = msb(r, size) ^ cf;
        arith = 0;
        break;
    }
    case HV_MN_ROR: {
        unsigned k = c % w;
        r = k ? ((a >> k) | (a << (w - k))) & m : a;
        cf = msb(r, size);
        of = msb(r, size) ^ ((r >> (w - 2)) & 1);
        arith = 0;
        break;
    }
    case HV_MN_RCL: {
        unsigned k = size <= 2 ? c % (w + 1) : c;
        of = msb(a, size); /* placeholder, recomputed below when k != 0 */
        if (k) {
            /* rotate the (w+1)-bit value CF:a left by k */
            unsigned __int128 v = ((unsigned __int128)cf << w) | a;
            unsigned __int128 vm = (((unsigned __int128)1) << (w + 1)) - 1;
            v = ((v << k) | (v >> (w + 1 - k))) & vm;
            r = (uint64_t)v & m;
            cf = (uint64_t)(v >> w) & 1;
        }
        of = msb(r, size) ^ cf;
        arith = 0;
        break;
    }
    default: { /* RCR */
        unsigned k = size <= 2 ? c % (w + 1) : c;
        of = msb(a, size) ^ cf; /* OF uses the operand and CF before the rotation */
        if (k) {
            unsigned __int128 v = ((unsigned __int128)cf << w) | a;
            unsigned __int128 vm = (((unsigned __int128)1) << (w + 1)) - 1;
            v = ((v >> k) | (v << (w + 1 - k))) & vm;
            r = (uint64_t)v & m;
            cf = (uint64_t)(v >> w) & 1;
        }
        arith = 0;
        break;
    }
    }
    uint64_t nf = (cf ? HVEMU_FLAG_CF : 0) | (of ? HVEMU_FLAG_OF : 0);
    if (arith) {
        flags_set(x, FLAGS_ARITH, nf | flags_szp(r, size));
    } else {
        flags_set(x, HVEMU_FLAG_CF | HVEMU_FLAG_OF, nf);
    }
    return op_write(x, 0, r);
}

/* SHLD/SHRD dst, src, count: shift dst, filling from src. A count above the operand width
 * (16-bit operands) leaves the result undefined; hvemu then shifts the 48-bit concatenation
 * the way current Intel and AMD CPUs do for counts up to 31. */
int exec_shxd(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t a, b, cnt, m = size_mask(size), r, cf;
    int rc;
    if ((rc = op_read(x, 0, &a)) != X_OK || (rc = op_read(x, 1, &b)) != X_OK ||
        (rc = op_read(x, 2, &cnt)) != X_OK)
        return rc;
    unsigned c = (unsigned)(cnt & (size == 8 ? 63 : 31));
    if (c == 0)
        return op_write(x, 0, a);
    int left = in->opcode == 0xA4 || in->opcode == 0xA5;
    if (size == 2) {
        /* 16-bit: shift the 48-bit value a:b:b (left) or b:b:a (right), so counts 17..31
         * keep pulling in bits of b */
        unsigned __int128 v;
        if (left) {
            v = ((unsigned __int128)a << 32) | (b << 16) | b;
            r = (uint64_t)(v >> (32 - c)) & m;
            cf = (uint64_t)(v >> (48 - c)) & 1;
        } else {
            v = ((unsigned __int128)b << 32) | (b << 16) | a;
            r = (uint64_t)(v >> c) & m;
            cf = (uint64_t)(v >> (c - 1)) & 1;
        }
    } else if (left) {
        r = ((a << c) | (b >> (w - c))) & m;
        cf = (a >> (w - c)) & 1;
    } else {
        r = ((a >> c) | (b << (w - c))) & m;
        cf = (a >> (c - 1)) & 1;
    }
    uint64_t of = msb(r, size) ^ msb(a, size);
    flags_set(x, FLAGS_ARITH, flags_szp(r, size) | (cf ? HVEMU_FLAG_CF : 0) | (of ? HVEMU_FLAG_OF : 0));
    return op_write(x, 0, r);
}
