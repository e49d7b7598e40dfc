/* SPDX-License-Identifier: MIT */
/* Miscellaneous: CPUID, RDTSC/RDTSCP, cache-line maintenance and prefetch, fences. */
#include "families.h"

#define CR4_TSD (1u << 2)

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
