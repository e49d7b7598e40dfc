/* SPDX-License-Identifier: MIT */
/* Miscellaneous: CPUID, RDTSC/RDTSCP/RDPID, cache-line maintenance and prefetch, fences, the
 * software interrupts INT n, INT3, INT1, and MOVDIR64B. */
#include "families.h"


int exec_cpuid(struct exec *x)
{
    uint32_t out[4];
    if (!x->ctx->ops->cpuid)
        return exec_unhandled(x, "CPUID needs the cpuid callback");
    uint32_t leaf = (uint32_t)gpr_get(x, HVEMU_RAX), sub = (uint32_t)gpr_get(x, HVEMU_RCX);
    if (x->ctx->ops->cpuid(x->ctx->opaque, leaf, sub, out) != HVEMU_CB_OK)
        return exec_unhandled(x, "the cpuid callback failed");
    gpr_set_sized(x, HVEMU_RAX, 4, out[0]);
    gpr_set_sized(x, HVEMU_RBX, 4, out[1]);
    gpr_set_sized(x, HVEMU_RCX, 4, out[2]);
    gpr_set_sized(x, HVEMU_RDX, 4, out[3]);
    return X_OK;
}

/* RDTSC/RDTSCP: #GP(0) outside ring 0 when CR4.TSD is set. */
int exec_rdtsc(struct exec *x)
{
    uint64_t tsc = 0;
    uint32_t aux = 0;
    if (exec_need(x, HVEMU_PART_CR4 | HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    if ((x->s->cr4 & CR4_TSD) && exec_cpl(x))
        return exec_gp0(x);
    if (!x->ctx->ops->rdtsc)
        return exec_unhandled(x, "RDTSC needs the rdtsc callback");
    if (x->ctx->ops->rdtsc(x->ctx->opaque, &tsc, &aux) != HVEMU_CB_OK)
        return exec_unhandled(x, "the rdtsc callback failed");
    gpr_set_sized(x, HVEMU_RAX, 4, tsc);
    gpr_set_sized(x, HVEMU_RDX, 4, tsc >> 32);
    if (x->in->mnemonic == HV_MN_RDTSCP)
        gpr_set_sized(x, HVEMU_RCX, 4, aux);
    return X_OK;
}

/* RDRAND/RDSEED r: a random number from the embedder (ops->rdrand) with CF = 1, or 0 with
 * CF = 0 when none is available; OF SF ZF AF PF are cleared. */
int exec_rdrand(struct exec *x)
{
    const struct hvemu_operand *d = &x->in->op[0];
    uint64_t v = 0;
    int valid = 0;
    if (!x->ctx->ops->rdrand)
        return exec_unhandled(x, "RDRAND/RDSEED need the rdrand callback (hvemu has no entropy)");
    if (x->ctx->ops->rdrand(x->ctx->opaque, x->in->mnemonic == HV_MN_RDSEED, &v, &valid) != HVEMU_CB_OK)
        return exec_unhandled(x, "the rdrand callback failed");
    gpr_set_sized(x, d->u.reg.idx, d->size, valid ? v & size_mask(d->size) : 0);
    flags_set(x, FLAGS_ARITH, valid ? HVEMU_FLAG_CF : 0);
    return X_OK;
}

/* RDPID: IA32_TSC_AUX (the rdtsc callback's aux) into a 64-bit register, at any CPL. */
int exec_rdpid(struct exec *x)
{
    uint64_t tsc = 0;
    uint32_t aux = 0;
    if (!x->ctx->ops->rdtsc)
        return exec_unhandled(x, "RDPID needs the rdtsc callback (its IA32_TSC_AUX)");
    if (x->ctx->ops->rdtsc(x->ctx->opaque, &tsc, &aux) != HVEMU_CB_OK)
        return exec_unhandled(x, "the rdtsc callback failed");
    gpr_set_sized(x, x->in->op[0].u.reg.idx, 8, aux);
    return X_OK;
}

/* MOVDIR64B: 64 bytes from the source memory operand to ES:[reg], written as one 64-byte
 * write, which is what the device behind it must see. The source is read first: its faults
 * come before the destination's #GP(0) for a non-canonical or not 64-byte aligned address, and
 * its #AC is by 16-byte granules as for other 64-byte loads (both measured on AMD Zen 5). */
int exec_movdir64b(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    const struct hvemu_mem *src = &in->op[1].u.mem;
    uint8_t buf[64];
    uint64_t sla, la, off = gpr_get_sized(x, in->op[0].u.reg.idx, in->addrsize);
    if (x->mode) /* the segment checks of both operands are not made yet */
        return exec_unhandled(x, "MOVDIR64B outside 64-bit mode: not executed yet");
    int rc = mem_linear(x, src, &sla);
    if (rc != X_OK)
        return rc;
    if (!is_canonical(sla) || !is_canonical(sla + 63))
        return src->segment == HVEMU_SS ? exec_exception(x, HVEMU_EXC_SS, 1, 0) : exec_gp0(x);
    if ((rc = mem_check_align(x, sla, 16)) != X_OK || (rc = mem_read(x, sla, buf, 64, HVEMU_ACCESS_READ)) != X_OK ||
        (rc = seg_linear(x, HVEMU_ES, off, in->addrsize, &la)) != X_OK)
        return rc;
    if (!is_canonical(la) || (la & 63))
        return exec_gp0(x);
    return mem_write(x, la, buf, 64, HVEMU_ACCESS_WRITE);
}

/* CLFLUSH/CLFLUSHOPT/CLWB: the address is checked (canonical, #GP/#SS) but no data moves;
 * the embedder owns caching, and a translation fault is its to report on real accesses. */
int exec_cacheline(struct exec *x)
{
    uint64_t la;
    const struct hvemu_operand *op = &x->in->op[0];
    struct hvemu_mem m = op->u.mem;
    if (x->mode) /* segmentation: checked as a 1-byte read */
        return op_linear_at(x, 0, 0, 1, &la);
    int rc = mem_linear(x, &m, &la);
    if (rc != X_OK)
        return rc;
    if (!is_canonical(la))
        return m.segment == HVEMU_SS ? exec_exception(x, HVEMU_EXC_SS, 1, 0) : exec_gp0(x);
    return X_OK;
}

/* Prefetches never fault and fences order nothing hvemu can see: they complete. */
int exec_hint(struct exec *x)
{
    (void)x;
    return X_OK;
}

/* UD0/UD1/UD2 decode (they have a length) and raise #UD when executed. */
int exec_raise_ud(struct exec *x)
{
    return exec_ud(x);
}

/* INT n, INT3, INT1: they complete (RIP past them) and raise a trap-class event, which the
 * embedder delivers through the IDT (event injection performs the gate checks). INTO is #UD in
 * 64-bit mode (the decoder says so). */
int exec_soft_int(struct exec *x)
{
    struct hvemu_result *r = x->res;
    r->exc.has_error_code = 0;
    r->exc.error_code = 0;
    switch (x->in->mnemonic) {
    case HV_MN_INT3:
        r->exc.vector = HVEMU_EXC_BP;
        r->trap_type = HVEMU_TRAP_SOFT_EXC;
        break;
    case HV_MN_INT1:
        r->exc.vector = HVEMU_EXC_DB;
        r->exc.dr6 = 0; /* ICEBP's #DB sets no DR6 bit */
        r->trap_type = HVEMU_TRAP_PRIV_SOFT_EXC;
        break;
    default: /* INT imm8 */
        r->exc.vector = (uint8_t)x->in->op[0].u.imm.imm;
        r->trap_type = HVEMU_TRAP_SOFT_INT;
        break;
    }
    return X_TRAP;
}
