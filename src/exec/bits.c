/* SPDX-License-Identifier: MIT */
/* Bit instructions: BT BTS BTR BTC, BSF BSR LZCNT TZCNT POPCNT, CMOVcc SETcc, BSWAP MOVBE,
 * CRC32, ADCX ADOX, CMPXCHG8B/16B.
 * Flags the SDM leaves undefined are left unchanged here and masked by the differential tests
 * (tests/hostdiff/undef_flags.c is the one table that lists them). */
#include "families.h"

/* ---- conditional ---- */

/* CMOVcc: the source is read whatever the condition (a memory source can fault); a not-taken
 * CMOV with a 32-bit destination still zero-extends it. */
int exec_cmov(struct exec *x)
{
    uint64_t d, s;
    int rc;
    if ((rc = op_read(x, 1, &s)) != X_OK || (rc = op_read(x, 0, &d)) != X_OK)
        return rc;
    return op_write(x, 0, cond_holds(x->new_rflags, x->in->opcode & 15) ? s : d);
}

int exec_setcc(struct exec *x)
{
    return op_write(x, 0, (uint64_t)cond_holds(x->new_rflags, x->in->opcode & 15));
}

/* ---- bit test ---- */

int exec_bt(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t off, v = 0;
    int rc = op_read(x, 1, &off);
    if (rc != X_OK)
        return rc;
    int64_t disp = 0;
    unsigned bit;
    if (in->op[0].kind == HVEMU_OP_MEM && in->op[1].kind == HVEMU_OP_REG) {
        /* a register bit offset is signed and reaches outside the addressed operand */
        int64_t o = (int64_t)sext(off, size);
        int64_t unit = o >= 0 ? o / (int64_t)w : -((-o + (int64_t)w - 1) / (int64_t)w);
        disp = unit * (int64_t)size;
        bit = (unsigned)(o - unit * (int64_t)w);
    } else {
        bit = (unsigned)(off & (w - 1));
    }
    if (in->op[0].kind == HVEMU_OP_MEM)
        rc = op_read_mem(x, 0, disp, &v, size);
    else
        rc = op_read(x, 0, &v);
    if (rc != X_OK)
        return rc;
    uint64_t mask = (uint64_t)1 << bit, r = v;
    flags_set(x, HVEMU_FLAG_CF, (v & mask) ? HVEMU_FLAG_CF : 0);
    switch (in->mnemonic) {
    case HV_MN_BT: return X_OK;
    case HV_MN_BTS: r = v | mask; break;
    case HV_MN_BTR: r = v & ~mask; break;
    default: r = v ^ mask; break; /* BTC */
    }
    if (in->op[0].kind == HVEMU_OP_MEM)
        return op_write_mem(x, 0, disp, &r, size);
    return op_write(x, 0, r);
}

/* ---- bit scan and count ---- */

static unsigned ctz64(uint64_t v) { return (unsigned)__builtin_ctzll(v); }
static unsigned clz64(uint64_t v) { return (unsigned)__builtin_clzll(v); }

int exec_bitscan(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t s;
    int rc = op_read(x, 1, &s);
    if (rc != X_OK)
        return rc;
    s &= size_mask(size);
    uint64_t r, f = 0;
    switch (in->mnemonic) {
    case HV_MN_BSF:
    case HV_MN_BSR:
        if (!s) {
            /* destination unchanged (AMD documents it; Intel CPUs behave the same) */
            flags_set(x, HVEMU_FLAG_ZF, HVEMU_FLAG_ZF);
            return X_OK;
        }
        r = in->mnemonic == HV_MN_BSF ? ctz64(s) : 63 - clz64(s);
        flags_set(x, HVEMU_FLAG_ZF, 0);
        return op_write(x, 0, r);
    case HV_MN_TZCNT:
        r = s ? ctz64(s) : w;
        f = (s ? 0 : HVEMU_FLAG_CF) | (r ? 0 : HVEMU_FLAG_ZF);
        flags_set(x, HVEMU_FLAG_CF | HVEMU_FLAG_ZF, f);
        return op_write(x, 0, r);
    case HV_MN_LZCNT:
        r = s ? clz64(s) - (64 - w) : w;
        f = (s ? 0 : HVEMU_FLAG_CF) | (r ? 0 : HVEMU_FLAG_ZF);
        flags_set(x, HVEMU_FLAG_CF | HVEMU_FLAG_ZF, f);
        return op_write(x, 0, r);
    default: /* POPCNT: ZF for a zero source, the other five cleared */
        r = popcount64(s);
        flags_set(x, FLAGS_ARITH, s ? 0 : HVEMU_FLAG_ZF);
        return op_write(x, 0, r);
    }
}

/* ---- byte order ---- */

static uint64_t bswap_n(uint64_t v, unsigned size)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < size; i++)
        r |= ((v >> (8 * i)) & 0xff) << (8 * (size - 1 - i));
    return r;
}

/* BSWAP r32/r64. With a 16-bit operand the result is undefined; hvemu gives 0 as current
 * Intel and AMD CPUs do. */
int exec_bswap(struct exec *x)
{
    unsigned size = x->in->op[0].size;
    uint64_t v;
    int rc = op_read(x, 0, &v);
    if (rc != X_OK)
        return rc;
    return op_write(x, 0, size == 2 ? 0 : bswap_n(v, size));
}

int exec_movbe(struct exec *x)
{
    uint64_t v;
    int rc = op_read(x, 1, &v);
    if (rc != X_OK)
        return rc;
    return op_write(x, 0, bswap_n(v, x->in->op[0].size));
}

/* ---- CRC32 (Castagnoli polynomial, bit-reflected, as SSE4.2 defines it) ---- */

int exec_crc32(struct exec *x)
{
    uint64_t crc, s;
    int rc;
    if ((rc = op_read(x, 0, &crc)) != X_OK || (rc = op_read(x, 1, &s)) != X_OK)
        return rc;
    uint32_t c = (uint32_t)crc;
    unsigned n = x->in->op[1].size;
    for (unsigned i = 0; i < n; i++) {
        c ^= (uint32_t)((s >> (8 * i)) & 0xff);
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return op_write(x, 0, c); /* a 64-bit destination is zero-extended */
}

/* ---- ADX ---- */

int exec_adx(struct exec *x)
{
    unsigned size = x->in->op[0].size;
    uint64_t a, b, r;
    int rc;
    if ((rc = op_read(x, 0, &a)) != X_OK || (rc = op_read(x, 1, &b)) != X_OK)
        return rc;
    uint64_t flag = x->in->mnemonic == HV_MN_ADCX ? HVEMU_FLAG_CF : HVEMU_FLAG_OF;
    uint64_t f = flags_add(a, b, (x->new_rflags & flag) ? 1 : 0, size, &r);
    flags_set(x, flag, (f & HVEMU_FLAG_CF) ? flag : 0);
    return op_write(x, 0, r);
}

/* ---- CMPXCHG8B / CMPXCHG16B ---- */

/* Compare EDX:EAX (RDX:RAX) with the 8 (16) bytes in memory. Equal: store ECX:EBX (RCX:RBX),
 * ZF=1. Different: load the memory value into EDX:EAX (RDX:RAX), ZF=0, and write the old value
 * back, as the processor does, so the locked form is one atomic compare-exchange of the full
 * width whose expected value is the full value read. */
int exec_cmpxchg8b16b(struct exec *x)
{
    unsigned half = x->in->rex_w ? 8 : 4, size = 2 * half;
    uint8_t old[16], nv[16];
    uint64_t la;
    int rc;
    if (size == 16) {
        /* a misaligned operand is #GP(0), checked before the canonical (#SS) and #AC checks,
         * as the host CPU does */
        if ((rc = mem_linear(x, &x->in->op[0].u.mem, &la)) != X_OK)
            return rc;
        if (la & 15)
            return exec_gp0(x);
    }
    if ((rc = op_read_mem(x, 0, 0, old, size)) != X_OK)
        return rc;
    uint64_t lo = 0, hi = 0;
    memcpy(&lo, old, half);
    memcpy(&hi, old + half, half);
    uint64_t a = gpr_get_sized(x, HVEMU_RAX, half), d = gpr_get_sized(x, HVEMU_RDX, half);
    if (lo == a && hi == d) {
        uint64_t b = gpr_get_sized(x, HVEMU_RBX, half), c = gpr_get_sized(x, HVEMU_RCX, half);
        memcpy(nv, &b, half);
        memcpy(nv + half, &c, half);
        flags_set(x, HVEMU_FLAG_ZF, HVEMU_FLAG_ZF);
        return op_write_mem(x, 0, 0, nv, size);
    }
    flags_set(x, HVEMU_FLAG_ZF, 0);
    gpr_set_sized(x, HVEMU_RAX, half, lo);
    gpr_set_sized(x, HVEMU_RDX, half, hi);
    return op_write_mem(x, 0, 0, old, size);
}
