/* SPDX-License-Identifier: MIT */
/*
 * SIMD data movement: KMOV{B,W,D,Q}; MOVD/MOVQ (SSE2, VEX, EVEX, with APX EGPRs); the full-vector
 * moves MOVAPS MOVAPD MOVUPS MOVUPD MOVDQA MOVDQU MOVNTPS MOVNTPD MOVNTDQ MOVNTDQA LDDQU and
 * their VEX and EVEX forms (VMOVDQA32/64, VMOVDQU8/16/32/64, opmask merging and zeroing); the
 * scalar moves MOVSS/MOVSD and VMOVSS/VMOVSD; the half moves MOVLPS MOVLPD MOVHPS MOVHPD
 * MOVHLPS MOVLHPS and their VEX/EVEX forms.
 *
 * Staging: a vector or opmask destination and a masked store are staged in struct exec's SIMD
 * fields (one of each per instruction), and the handler stages a SYSREG_SIMD entry among the
 * system-register writes, so the one commit point (exec_commit_effects) applies them after the
 * memory writes and GPRs, through simd_apply(). The handler runs every check and every read
 * first, so a fault anywhere leaves the state untouched. Non-SIMD instructions never touch
 * these fields.
 *
 * State parts: a register is read through the parts that hold its bytes (XMM for 0..15,
 * YMM_HI for 16..31, ZMM for 32..63 of vec[0..15] and all of vec[16..31]) and a written
 * register's parts must be valid (they are marked dirty as a whole), so a legacy SSE write needs
 * only XMM, a VEX write XMM and YMM_HI (and ZMM when XCR0 enables the AVX-512 state, whose upper
 * bits it zeroes), an EVEX write all three. OPMASK when an opmask is read or written.
 */
#include "families.h"


enum simd_class { SIMD_SSE, SIMD_AVX, SIMD_AVX512 };

/* The checks every SIMD instruction makes before touching memory, in the architectural order:
 * legacy SSE #UD (CR0.EM, CR4.OSFXSR), VEX/EVEX #UD (CR4.OSXSAVE, XCR0), then #NM (CR0.TS). */
static int simd_check(struct exec *x, enum simd_class cls)
{
    uint64_t parts = HVEMU_PART_CR0 | HVEMU_PART_CR4;
    if (cls != SIMD_SSE)
        parts |= HVEMU_PART_XCR0;
    int rc = exec_need(x, parts);
    if (rc != X_OK)
        return rc;
    const struct hvemu_state *s = x->s;
    if (cls == SIMD_SSE) {
        if ((s->cr0 & CR0_EM) || !(s->cr4 & CR4_OSFXSR))
            return exec_ud(x);
    } else {
        if (!(s->cr4 & CR4_OSXSAVE) || (s->xcr0 & (XCR0_SSE | XCR0_AVX)) != (XCR0_SSE | XCR0_AVX))
            return exec_ud(x);
        if (cls == SIMD_AVX512 && (s->xcr0 & XCR0_AVX512) != XCR0_AVX512)
            return exec_ud(x);
    }
    if (s->cr0 & CR0_TS)
        return exec_exception(x, HVEMU_EXC_NM, 0, 0);
    return X_OK;
}

static enum simd_class class_of(const struct hvemu_insn *in)
{
    return in->encoding == HVEMU_ENC_EVEX ? SIMD_AVX512 :
           in->encoding == HVEMU_ENC_VEX ? SIMD_AVX : SIMD_SSE;
}

/* The state parts that hold bytes [0, nbytes) of vec[idx]. */
static uint64_t vec_parts(unsigned idx, unsigned nbytes)
{
    if (idx >= 16)
        return HVEMU_PART_ZMM;
    uint64_t p = HVEMU_PART_XMM;
    if (nbytes > 16)
        p |= HVEMU_PART_YMM_HI;
    if (nbytes > 32)
        p |= HVEMU_PART_ZMM;
    return p;
}

/* How many bytes of the destination register a write defines: legacy SSE writes 128 bits and
 * keeps the rest; VEX and EVEX zero everything up to the maximum vector length, which for VEX
 * is 256 bits unless XCR0 enables the AVX-512 state. */
static unsigned dest_extent(struct exec *x)
{
    switch (x->in->encoding) {
    case HVEMU_ENC_EVEX: return 64;
    case HVEMU_ENC_VEX: return (x->s->xcr0 & XCR0_AVX512) == XCR0_AVX512 ? 64 : 32;
    default: return 16;
    }
}

/* Bytes [0, nbytes) of vec[idx] into out. Not inlined: GCC's -Warray-bounds would otherwise
 * check the copy against the callers' 8-byte buffers for sizes never used with them. */
__attribute__((noinline)) static int vreg_read(struct exec *x, unsigned idx, unsigned nbytes,
                                               uint8_t *out)
{
    if (idx >= 32)
        return exec_unhandled(x, "vector register out of range");
    int rc = exec_need(x, vec_parts(idx, nbytes));
    if (rc != X_OK)
        return rc;
    memcpy(out, x->s->vec[idx].b, nbytes);
    return X_OK;
}

/* Stage a write of bytes [0, extent) of vec[idx], starting from its current value (what a
 * merge keeps); the handler edits x->new_vec. */
static int vreg_stage(struct exec *x, unsigned idx, unsigned extent)
{
    if (idx >= 32)
        return exec_unhandled(x, "vector register out of range");
    int rc = exec_need(x, vec_parts(idx, extent));
    if (rc != X_OK)
        return rc;
    x->new_vec = x->s->vec[idx];
    x->vec_idx = (uint8_t)idx;
    x->vec_extent = (uint8_t)extent;
    return X_OK;
}

/* The next run of set bits of `m` starting at or after *i: [*i, *end); 0 when there is none.
 * Masked accesses go by runs: one callback per contiguous group of selected bytes. */
static int next_run(uint64_t m, unsigned *i, unsigned *end)
{
    while (*i < 64 && !((m >> *i) & 1))
        (*i)++;
    if (*i >= 64)
        return 0;
    unsigned j = *i;
    while (j < 64 && ((m >> j) & 1))
        j++;
    *end = j;
    return 1;
}

/* At commit (exec_commit_effects, after the memory writes and GPRs): a masked store's runs,
 * then the staged vector and opmask registers. */
int simd_apply(struct exec *x)
{
    int rc;
    uint64_t m = x->simd_st_bytes;
    unsigned i, e;
    /* a masked store of several runs: every run is checked before any is written (a single
     * run that crosses a page is probed by mem_write_now()) */
    if (x->simd_st_runs > 1)
        for (i = 0; next_run(m, &i, &e); i = e)
            if ((rc = mem_probe(x, x->simd_st_la + i, e - i)) != X_OK)
                return rc;
    if (x->simd_st_runs)
        for (i = 0; next_run(m, &i, &e); i = e)
            if ((rc = mem_write_now(x, x->simd_st_la + i, x->simd_st_data + i, e - i,
                                    HVEMU_ACCESS_WRITE)) != X_OK)
                return rc;
    struct hvemu_state *s = x->s;
    if (x->vec_extent) {
        copy_small(s->vec[x->vec_idx].b, x->new_vec.b, x->vec_extent);
        s->dirty |= vec_parts(x->vec_idx, x->vec_extent);
    }
    if (x->k_staged) {
        s->k[x->k_idx & 7] = x->new_k;
        s->dirty |= HVEMU_PART_OPMASK;
    }
    return X_OK;
}

static void simd_begin(struct exec *x)
{
    x->vec_extent = 0;
    x->k_staged = 0;
    x->simd_st_runs = 0;
}

/* The end of a SIMD handler: what it staged in the SIMD fields is applied at commit. */
static int simd_done(struct exec *x)
{
    if (x->state_missing)
        return X_UNHANDLED;
    if (x->vec_extent || x->k_staged || x->simd_st_runs)
        sys_stage(x, SYSREG_SIMD, 0, 0);
    return X_OK;
}

/* Copy a scalar of 4 or 8 bytes (the sizes of MOVD/MOVQ and the scalar moves). */
static inline void copy_scalar(void *dst, const void *src, unsigned es)
{
    if (es == 4)
        __builtin_memcpy(dst, src, 4);
    else
        __builtin_memcpy(dst, src, 8);
}

/* ---- memory operands ---- */

/* #AC for a SIMD access of `size` bytes: as mem_check_align() for sizes up to 8; 16 bytes
 * and more must be aligned to 16. The SDM leaves #AC for these to the implementation; this is
 * what AMD Zen 4 does for the legacy, VEX and EVEX unaligned moves. */
static int simd_check_ac(struct exec *x, uint64_t la, unsigned size)
{
    if (size <= 8)
        return mem_check_align(x, la, size);
    return mem_check_align(x, la, 16);
}

/* Linear address of memory operand i accessed with `size` bytes, with the checks in the order
 * AMD Zen 4 shows them:
 *   - `align` (the aligned moves): a misaligned address is #GP(0), before the canonical check
 *     (a misaligned non-canonical MOVAPS through RBP raises #GP, not #SS);
 *   - both ends canonical, else #GP(0) (#SS(0) for SS);
 *   - otherwise #AC (CR0.AM, RFLAGS.AC, CPL 3) by the granule `ac`: the access size up to 8
 *     bytes, 16 for anything larger (simd_check_ac()), the element size for an EVEX move under
 *     an opmask (VMOVDQU8 with a mask never raises #AC). */
static int simd_la_ac(struct exec *x, unsigned i, unsigned size, unsigned align, unsigned ac,
                      uint64_t *la)
{
    const struct hvemu_mem *m = &x->in->op[i].u.mem;
    mem_linear(x, m, la);
    if (align && (*la & (align - 1)))
        return exec_gp0(x);
    if (!is_canonical(*la) || !is_canonical(*la + size - 1))
        return m->segment == HVEMU_SS ? exec_exception(x, HVEMU_EXC_SS, 1, 0) : exec_gp0(x);
    return align ? X_OK : simd_check_ac(x, *la, ac);
}

static int simd_la(struct exec *x, unsigned i, unsigned size, unsigned align, uint64_t *la)
{
    return simd_la_ac(x, i, size, align, size, la);
}

/* The opmask of an EVEX instruction: k[aaa], all ones without one (aaa = 0). */
static int opmask_of(struct exec *x, uint64_t *mask)
{
    const struct hvemu_insn *in = x->in;
    *mask = ~(uint64_t)0;
    if (in->encoding != HVEMU_ENC_EVEX || !in->evex_aaa)
        return X_OK;
    int rc = exec_need(x, HVEMU_PART_OPMASK);
    if (rc != X_OK)
        return rc;
    *mask = x->s->k[in->evex_aaa & 7];
    return X_OK;
}

/* Byte-enable mask of `nel` elements of `esize` (1, 2, 4, 8) bytes selected by `sel`. */
static uint64_t byte_mask(uint64_t sel, unsigned nel, unsigned esize)
{
    uint64_t e = ((uint64_t)1 << esize) - 1, m = 0;
    for (unsigned i = 0; i < nel; i++)
        if ((sel >> i) & 1)
            m |= e << (i * esize);
    return m;
}

/* Read the bytes at la selected by `bytes` (bit b: byte b), one read per contiguous run:
 * masked-off elements are never accessed. */
static int read_runs(struct exec *x, uint64_t la, uint64_t bytes, uint8_t *buf)
{
    unsigned i, e;
    for (i = 0; next_run(bytes, &i, &e); i = e) {
        int rc = mem_read(x, la + i, buf + i, e - i, HVEMU_ACCESS_READ);
        if (rc != X_OK)
            return rc;
    }
    return X_OK;
}

static unsigned count_runs(uint64_t bytes)
{
    unsigned i, e, n = 0;
    for (i = 0; next_run(bytes, &i, &e); i = e)
        n++;
    return n;
}

/* Stage a store of the selected bytes of data[0..size) to la. */
static int store_bytes(struct exec *x, uint64_t la, const uint8_t *data, unsigned size,
                       uint64_t bytes)
{
    uint64_t all = size >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << size) - 1;
    bytes &= all;
    if (bytes == all)
        return mem_write(x, la, data, size, HVEMU_ACCESS_WRITE);
    if (!bytes)
        return X_OK;
    x->simd_st_la = la;
    x->simd_st_bytes = bytes;
    x->simd_st_runs = (uint8_t)count_runs(bytes);
    copy_small(x->simd_st_data, data, size);
    return X_OK;
}

/* ---- the moves ---- */

enum move_kind { MV_FULL, MV_SCALAR, MV_GPR, MV_HALF };

struct move_desc {
    uint8_t kind;
    uint8_t esize;   /* element size for opmasks; scalar size for MV_SCALAR, MV_GPR */
    uint8_t aligned; /* memory operand must be aligned to its size (#GP(0)) */
};

static int describe(unsigned mn, struct move_desc *d)
{
    d->aligned = 0;
    d->kind = MV_FULL;
    switch (mn) {
    case HV_MN_MOVAPS: case HV_MN_VMOVAPS: case HV_MN_MOVNTPS: case HV_MN_VMOVNTPS:
    case HV_MN_VMOVDQA32: case HV_MN_MOVDQA: case HV_MN_VMOVDQA: case HV_MN_MOVNTDQ:
    case HV_MN_VMOVNTDQ: case HV_MN_MOVNTDQA: case HV_MN_VMOVNTDQA:
        d->aligned = 1; d->esize = 4; return 1;
    case HV_MN_MOVAPD: case HV_MN_VMOVAPD: case HV_MN_MOVNTPD: case HV_MN_VMOVNTPD:
    case HV_MN_VMOVDQA64:
        d->aligned = 1; d->esize = 8; return 1;
    case HV_MN_MOVUPS: case HV_MN_VMOVUPS: case HV_MN_VMOVDQU32: case HV_MN_MOVDQU:
    case HV_MN_VMOVDQU: case HV_MN_LDDQU: case HV_MN_VLDDQU:
        d->esize = 4; return 1;
    case HV_MN_MOVUPD: case HV_MN_VMOVUPD: case HV_MN_VMOVDQU64:
        d->esize = 8; return 1;
    case HV_MN_VMOVDQU8: d->esize = 1; return 1;
    case HV_MN_VMOVDQU16: d->esize = 2; return 1;
    case HV_MN_MOVSS: case HV_MN_VMOVSS: d->kind = MV_SCALAR; d->esize = 4; return 1;
    case HV_MN_MOVSD: case HV_MN_VMOVSD: d->kind = MV_SCALAR; d->esize = 8; return 1;
    case HV_MN_MOVD: case HV_MN_VMOVD: d->kind = MV_GPR; d->esize = 4; return 1;
    case HV_MN_MOVQ: case HV_MN_MOVQ_2: case HV_MN_VMOVQ: d->kind = MV_GPR; d->esize = 8; return 1;
    case HV_MN_MOVLPS: case HV_MN_MOVLPD: case HV_MN_MOVHLPS: case HV_MN_VMOVLPS:
    case HV_MN_VMOVLPD: case HV_MN_VMOVHLPS:
        d->kind = MV_HALF; d->esize = 0; return 1;
    case HV_MN_MOVHPS: case HV_MN_MOVHPD: case HV_MN_MOVLHPS: case HV_MN_VMOVHPS:
    case HV_MN_VMOVHPD: case HV_MN_VMOVLHPS:
        d->kind = MV_HALF; d->esize = 1; return 1;
    default: return 0;
    }
}

static int is_vec(const struct hvemu_operand *op)
{
    return op->kind == HVEMU_OP_REG && (op->u.reg.cls == HVEMU_REG_XMM ||
           op->u.reg.cls == HVEMU_REG_YMM || op->u.reg.cls == HVEMU_REG_ZMM);
}

static int is_gpr(const struct hvemu_operand *op)
{
    return op->kind == HVEMU_OP_REG && (op->u.reg.cls == HVEMU_REG_GPR32 ||
                                        op->u.reg.cls == HVEMU_REG_GPR64);
}

/* Operands the moves accept: vector registers, GPRs (MOVD/MOVQ) and memory; MMX registers
 * (the 0F 6E/7E/6F/7F forms without 66) are not executed. */
static int operands_ok(const struct hvemu_insn *in)
{
    for (unsigned i = 0; i < in->noperands; i++) {
        const struct hvemu_operand *op = &in->op[i];
        if (op->kind != HVEMU_OP_MEM && !is_vec(op) && !is_gpr(op))
            return 0;
    }
    return 1;
}

/* Full-vector moves: dest = src, `n` bytes, EVEX opmask per element. */
static int move_full(struct exec *x, const struct move_desc *d)
{
    const struct hvemu_insn *in = x->in;
    const struct hvemu_operand *dst = &in->op[0], *src = &in->op[1];
    unsigned n = dst->kind == HVEMU_OP_MEM ? dst->size : src->size;
    if (n != 16 && n != 32 && n != 64)
        return exec_unhandled(x, "SIMD move of an unexpected size");
    uint8_t buf[64];
    uint64_t mask, la = 0;
    int rc;
    if ((rc = opmask_of(x, &mask)) != X_OK)
        return rc;
    unsigned nel = n / d->esize;
    uint64_t sel = nel >= 64 ? mask : mask & (((uint64_t)1 << nel) - 1);
    uint64_t all = n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
    uint64_t bytes = mask == ~(uint64_t)0 ? all : byte_mask(sel, nel, d->esize);
    unsigned acg = in->encoding == HVEMU_ENC_EVEX && in->evex_aaa ? d->esize : n;
    /* An opmask that selects no element leaves the memory operand alone: no access, and no
     * alignment or canonical check (measured on AMD Zen 4). */
    if (!sel && dst->kind == HVEMU_OP_MEM)
        return X_OK;
    if (!sel)
        memset(buf, 0, sizeof buf);
    else if (src->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la_ac(x, 1, n, d->aligned ? n : 0, acg, &la)) != X_OK)
            return rc;
        memset(buf, 0, sizeof buf);
        if (bytes == all)
            rc = mem_read(x, la, buf, n, HVEMU_ACCESS_READ);
        else
            rc = read_runs(x, la, bytes, buf);
        if (rc != X_OK)
            return rc;
    } else if ((rc = vreg_read(x, src->u.reg.idx, n, buf)) != X_OK) {
        return rc;
    }
    if (dst->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la_ac(x, 0, n, d->aligned ? n : 0, acg, &la)) != X_OK)
            return rc;
        return store_bytes(x, la, buf, n, bytes);
    }
    unsigned ext = dest_extent(x);
    if ((rc = vreg_stage(x, dst->u.reg.idx, ext)) != X_OK)
        return rc;
    if (bytes == all) {
        memcpy(x->new_vec.b, buf, n);
    } else {
        for (unsigned b = 0; b < n; b++) {
            if ((bytes >> b) & 1)
                x->new_vec.b[b] = buf[b];
            else if (in->evex_z)
                x->new_vec.b[b] = 0;
        }
    }
    if (ext > n)
        memset(x->new_vec.b + n, 0, ext - n);
    return X_OK;
}

/* MOVSS/MOVSD and VMOVSS/VMOVSD. */
static int move_scalar(struct exec *x, const struct move_desc *d)
{
    const struct hvemu_insn *in = x->in;
    unsigned es = d->esize;
    uint64_t mask;
    uint8_t elem[8] = {0}, upper[16] = {0};
    int rc;
    if ((rc = opmask_of(x, &mask)) != X_OK)
        return rc;
    int take = (int)(mask & 1);
    const struct hvemu_operand *dst = &in->op[0];
    if (dst->kind == HVEMU_OP_MEM) { /* store: the low element, if selected */
        uint64_t la;
        if ((rc = vreg_read(x, in->op[in->noperands - 1].u.reg.idx, es, elem)) != X_OK)
            return rc;
        /* an unselected element: no access and no check (as move_full()) */
        if (!take)
            return X_OK;
        if ((rc = simd_la(x, 0, es, 0, &la)) != X_OK)
            return rc;
        return mem_write(x, la, elem, es, HVEMU_ACCESS_WRITE);
    }
    unsigned ext = dest_extent(x);
    if (in->noperands == 3) {
        /* VEX/EVEX register form: low element from op2, the rest of 127:0 from op1 */
        if ((rc = vreg_read(x, in->op[1].u.reg.idx, 16, upper)) != X_OK ||
            (rc = vreg_read(x, in->op[2].u.reg.idx, es, elem)) != X_OK)
            return rc;
        if ((rc = vreg_stage(x, dst->u.reg.idx, ext)) != X_OK)
            return rc;
        if (take)
            copy_scalar(upper, elem, es);
        else if (in->evex_z)
            memset(upper, 0, es);
        else
            copy_scalar(upper, x->new_vec.b, es);
        copy_small(x->new_vec.b, upper, 16);
        memset(x->new_vec.b + 16, 0, 48);
        return X_OK;
    }
    const struct hvemu_operand *src = &in->op[1];
    if (src->kind == HVEMU_OP_REG) {
        /* legacy register form: the low element replaces the destination's, the rest stays */
        if ((rc = vreg_read(x, src->u.reg.idx, es, elem)) != X_OK)
            return rc;
        if ((rc = vreg_stage(x, dst->u.reg.idx, 16)) != X_OK)
            return rc;
        copy_scalar(x->new_vec.b, elem, es);
        return X_OK;
    }
    /* load: the element, zeros up to 127 (legacy) or to the maximum vector length */
    uint64_t la;
    if (take && ((rc = simd_la(x, 1, es, 0, &la)) != X_OK ||
                 (rc = mem_read(x, la, elem, es, HVEMU_ACCESS_READ)) != X_OK))
        return rc;
    if ((rc = vreg_stage(x, dst->u.reg.idx, ext)) != X_OK)
        return rc;
    if (!take && !in->evex_z)
        copy_scalar(elem, x->new_vec.b, es);
    else if (!take)
        memset(elem, 0, es);
    memset(x->new_vec.b, 0, ext);
    copy_scalar(x->new_vec.b, elem, es);
    return X_OK;
}

/* MOVD/MOVQ and VMOVD/VMOVQ: 4 or 8 bytes between a GPR, memory and the low element of a
 * vector register, which gets zeros up to bit 127 (and beyond as dest_extent() says). */
static int move_gpr(struct exec *x, const struct move_desc *d)
{
    const struct hvemu_insn *in = x->in;
    const struct hvemu_operand *dst = &in->op[0], *src = &in->op[1];
    unsigned s = d->esize;
    uint64_t v = 0, la;
    int rc;
    if (is_gpr(src)) {
        v = gpr_get_sized(x, src->u.reg.idx, s);
    } else if (src->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la(x, 1, s, 0, &la)) != X_OK ||
            (rc = mem_read(x, la, &v, s, HVEMU_ACCESS_READ)) != X_OK)
            return rc;
    } else if ((rc = vreg_read(x, src->u.reg.idx, s, (uint8_t *)&v)) != X_OK) {
        return rc;
    }
    if (x->state_missing)
        return X_UNHANDLED;
    if (is_gpr(dst)) {
        gpr_set_sized(x, dst->u.reg.idx, s, v);
        return X_OK;
    }
    if (dst->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la(x, 0, s, 0, &la)) != X_OK)
            return rc;
        return mem_write(x, la, &v, s, HVEMU_ACCESS_WRITE);
    }
    unsigned ext = dest_extent(x);
    if ((rc = vreg_stage(x, dst->u.reg.idx, ext)) != X_OK)
        return rc;
    memset(x->new_vec.b, 0, ext);
    copy_scalar(x->new_vec.b, &v, s);
    return X_OK;
}

/* MOVLPS/MOVLPD/MOVHPS/MOVHPD (a 64-bit half of an XMM register to or from memory) and
 * MOVHLPS/MOVLHPS (a half between registers); d->esize says which: 0 the low half (MOVLPx,
 * and MOVHLPS, which writes the low half), 1 the high half. Legacy forms keep the other half of
 * the destination; VEX/EVEX forms take it from the first source (vvvv) and zero bits 511:128. */
static int move_half(struct exec *x, const struct move_desc *d)
{
    const struct hvemu_insn *in = x->in;
    const struct hvemu_operand *dst = &in->op[0], *src = &in->op[in->noperands - 1];
    uint8_t val[16], other[16];
    uint64_t la;
    unsigned dh = d->esize, sh = 0;
    int rc;
    if (dst->kind == HVEMU_OP_MEM) { /* store: the named half of the register */
        if ((rc = vreg_read(x, src->u.reg.idx, 16, val)) != X_OK ||
            (rc = simd_la(x, 0, 8, 0, &la)) != X_OK)
            return rc;
        return mem_write(x, la, val + 8 * dh, 8, HVEMU_ACCESS_WRITE);
    }
    if (src->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la(x, in->noperands - 1, 8, 0, &la)) != X_OK ||
            (rc = mem_read(x, la, val, 8, HVEMU_ACCESS_READ)) != X_OK)
            return rc;
    } else {
        /* MOVHLPS: low half <- the source's high half; MOVLHPS: high half <- its low half */
        if ((rc = vreg_read(x, src->u.reg.idx, 16, val)) != X_OK)
            return rc;
        sh = dh ? 0 : 1;
    }
    if (in->noperands == 3 && (rc = vreg_read(x, in->op[1].u.reg.idx, 16, other)) != X_OK)
        return rc;
    unsigned ext = in->noperands == 3 ? dest_extent(x) : 16;
    if ((rc = vreg_stage(x, dst->u.reg.idx, ext)) != X_OK)
        return rc;
    if (in->noperands == 3) {
        copy_small(x->new_vec.b, other, 16);
        memset(x->new_vec.b + 16, 0, ext - 16);
    }
    __builtin_memcpy(x->new_vec.b + 8 * dh, val + 8 * sh, 8);
    return X_OK;
}

/* Outside 64-bit mode the SIMD moves would need the segment limit and type checks of their
 * memory operands, which they do not make yet: they answer unhandleable there. */
static int simd_mode_ok(struct exec *x)
{
    return x->mode == HV_CPU_64 ? X_OK :
           exec_unhandled(x, "SIMD instruction outside 64-bit mode: not executed yet");
}

int exec_simd_move(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    struct move_desc d;
    if (simd_mode_ok(x) != X_OK)
        return X_UNHANDLED;
    if (!describe(in->mnemonic, &d) || !operands_ok(in))
        return exec_unhandled(x, "SSE instruction not executed by hvemu yet (MMX form)");
    if (in->encoding == HVEMU_ENC_EVEX && in->evex_b)
        return exec_unhandled(x, "SSE instruction not executed by hvemu yet (EVEX.b set)");
    simd_begin(x);
    int rc = simd_check(x, class_of(in));
    if (rc != X_OK)
        return rc;
    switch (d.kind) {
    case MV_FULL: rc = move_full(x, &d); break;
    case MV_SCALAR: rc = move_scalar(x, &d); break;
    case MV_HALF: rc = move_half(x, &d); break;
    default: rc = move_gpr(x, &d); break;
    }
    if (rc != X_OK)
        return rc;
    return simd_done(x);
}

/* MOVSD: the string instruction (A5) in map 0, the SSE2 scalar move in map 0F. */
int exec_movsd(struct exec *x)
{
    return x->in->map == HVEMU_MAP_0 ? exec_string(x) : exec_simd_move(x);
}

/* KMOVB/W/D/Q: between opmask registers, memory and GPRs. The value is the low 8/16/32/64
 * bits of the source; an opmask destination gets it zero-extended to 64 bits, a GPR
 * destination zero-extended as well (a 32-bit GPR write). VEX-encoded, but an AVX-512
 * instruction: it needs the opmask state enabled in XCR0 (exception types K20/K21). */
int exec_kmov(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned s;
    if (simd_mode_ok(x) != X_OK)
        return X_UNHANDLED;
    switch (in->mnemonic) {
    case HV_MN_KMOVB: s = 1; break;
    case HV_MN_KMOVW: s = 2; break;
    case HV_MN_KMOVD: s = 4; break;
    default: s = 8; break;
    }
    simd_begin(x);
    int rc = simd_check(x, SIMD_AVX512);
    if (rc != X_OK)
        return rc;
    const struct hvemu_operand *dst = &in->op[0], *src = &in->op[1];
    uint64_t v = 0, la;
    if (src->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la(x, 1, s, 0, &la)) != X_OK ||
            (rc = mem_read(x, la, &v, s, HVEMU_ACCESS_READ)) != X_OK)
            return rc;
    } else if (src->kind == HVEMU_OP_REG && src->u.reg.cls == HVEMU_REG_K) {
        if ((rc = exec_need(x, HVEMU_PART_OPMASK)) != X_OK)
            return rc;
        v = x->s->k[src->u.reg.idx & 7];
    } else if (is_gpr(src)) {
        v = gpr_get(x, src->u.reg.idx);
    } else {
        return exec_unhandled(x, "KMOV operand not handled");
    }
    v &= size_mask(s);
    if (dst->kind == HVEMU_OP_MEM) {
        if ((rc = simd_la(x, 0, s, 0, &la)) != X_OK ||
            (rc = mem_write(x, la, &v, s, HVEMU_ACCESS_WRITE)) != X_OK)
            return rc;
    } else if (dst->kind == HVEMU_OP_REG && dst->u.reg.cls == HVEMU_REG_K) {
        if ((rc = exec_need(x, HVEMU_PART_OPMASK)) != X_OK)
            return rc;
        x->k_idx = (uint8_t)(dst->u.reg.idx & 7);
        x->new_k = v;
        x->k_staged = 1;
    } else if (is_gpr(dst)) {
        gpr_set_sized(x, dst->u.reg.idx, 8, v);
    } else {
        return exec_unhandled(x, "KMOV operand not handled");
    }
    return simd_done(x);
}
