/* SPDX-License-Identifier: MIT */
/*
 * Segment register loads in protected and 64-bit mode: MOV Sreg, POP Sreg (they reach
 * segreg_load() through the operand accessors), LSS, LFS, LGS.
 *
 * A load reads the descriptor from the GDT or LDT (ops->read, HVEMU_ACCESS_SYSTEM: a supervisor
 * access whatever the CPL), checks it (SDM Vol. 2, MOV "Operation", and Vol. 3, 5.5-5.8), sets
 * its accessed bit with a compare-exchange as the CPU's locked update does, and stages the
 * selector and the hidden part (base, expanded limit, attributes in the VMX access-rights
 * layout) for the commit. Error codes are the selector with its RPL bits cleared (EXT = IDT = 0).
 *
 * MOV SS and POP SS also block interrupts, and delay a single-step trap, until the next
 * instruction has run: result.event = HVEMU_EVENT_SS_SHADOW says so.
 */
#include "families.h"

#define ATTR_TYPE_ACCESSED 0x1u
#define ATTR_TYPE_WRITABLE 0x2u   /* data */
#define ATTR_TYPE_READABLE 0x2u   /* code */
#define ATTR_TYPE_CONFORMING 0x4u /* code */
#define ATTR_TYPE_CODE 0x8u
#define ATTR_S 0x10u
#define ATTR_P 0x80u
#define ATTR_G 0x8000u

static unsigned cpl(struct exec *x)
{
    return x->s->seg[HVEMU_CS].selector & 3;
}

static int fault_sel(struct exec *x, unsigned vector, uint16_t sel)
{
    return exec_exception(x, vector, 1, sel & 0xfffcu);
}

/* Whether loading a null selector into FS/GS clears their base: it does on Intel, and on AMD
 * only with NullSelectorClearsBase (CPUID 80000021H:EAX[6]); older AMD CPUs keep the base. */
static int null_clears_base(struct exec *x, int *clears)
{
    uint32_t out[4];
    const struct hvemu_ops *ops = x->ctx->ops;
    int amd, rc = cpu_is_amd(x, &amd);
    if (rc != X_OK)
        return rc;
    *clears = !amd;
    if (!amd)
        return X_OK;
    if (ops->cpuid(x->ctx->opaque, 0x80000000u, 0, out) != HVEMU_CB_OK)
        return exec_unhandled(x, "the cpuid callback failed");
    if (out[0] >= 0x80000021u) {
        if (ops->cpuid(x->ctx->opaque, 0x80000021u, 0, out) != HVEMU_CB_OK)
            return exec_unhandled(x, "the cpuid callback failed");
        *clears = (out[0] >> 6) & 1;
    }
    return X_OK;
}

/* Read the 8-byte descriptor `sel` names; #GP(sel) when it lies beyond its table's limit or
 * names the LDT while LDTR is unusable. *la is where it lives. */
static int read_descriptor(struct exec *x, uint16_t sel, uint64_t *desc, uint64_t *la)
{
    const struct hvemu_state *s = x->s;
    uint64_t base;
    uint32_t limit;
    if (exec_need(x, HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    if (sel & 4) {
        if (s->ldtr.attr & HVEMU_SEG_ATTR_UNUSABLE)
            return fault_sel(x, HVEMU_EXC_GP, sel);
        base = s->ldtr.base;
        limit = s->ldtr.limit;
    } else {
        base = s->gdtr.base;
        limit = s->gdtr.limit;
    }
    if ((uint32_t)(sel | 7) > limit)
        return fault_sel(x, HVEMU_EXC_GP, sel);
    *la = base + (sel & 0xfff8u);
    if (!x->ctx->ops->read)
        return exec_unhandled(x, "a segment load needs the read callback");
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    int cb = x->ctx->ops->read(x->ctx->opaque, *la, desc, 8, HVEMU_ACCESS_SYSTEM, &exc);
    return cb == HVEMU_CB_OK ? X_OK : exec_cb_fault(x, cb, &exc);
}

/* Set the descriptor's accessed bit as the CPU does: a locked update of the descriptor. */
static int set_accessed(struct exec *x, uint64_t la, uint64_t desc)
{
    const struct hvemu_ops *ops = x->ctx->ops;
    for (unsigned tries = 0;; tries++) {
        uint64_t want = desc | (1ull << 40);
        struct hvemu_exception exc = {0, 0, 0, 0, 0};
        if (desc & (1ull << 40))
            return X_OK;
        if (!ops->cmpxchg)
            return exec_unhandled(x, "setting a descriptor's accessed bit needs the cmpxchg callback");
        int cb = ops->cmpxchg(x->ctx->opaque, la, &desc, &want, 8, &exc);
        if (cb == HVEMU_CB_OK)
            return X_OK;
        if (cb != HVEMU_CB_CHANGED)
            return exec_cb_fault(x, cb, &exc);
        if (tries >= x->ctx->max_cmpxchg_retries) {
            x->res->status = HVEMU_RETRY;
            x->res->reason = "a descriptor kept changing while its accessed bit was set";
            return X_RETRY;
        }
    }
}

int segreg_load(struct exec *x, unsigned seg, uint16_t sel)
{
    const struct hvemu_state *s = x->s;
    unsigned rpl = sel & 3;
    if (seg == HVEMU_CS || seg >= HVEMU_NUM_SEGS) /* MOV to CS is #UD at decode */
        return exec_ud(x);
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_SEG(seg)) != X_OK)
        return X_UNHANDLED;
    unsigned c = cpl(x);
    int is64 = (s->seg[HVEMU_CS].attr & HVEMU_SEG_ATTR_L) != 0;

    if ((sel & 0xfffc) == 0) {
        /* a null selector: DS ES FS GS become unusable; SS only in 64-bit mode, below CPL 3,
         * with RPL = CPL */
        uint64_t base = s->seg[seg].base;
        if (seg == HVEMU_SS && (!is64 || c == 3 || rpl != c))
            return exec_gp0(x);
        if (seg == HVEMU_FS || seg == HVEMU_GS) {
            int clears = 0, rc = null_clears_base(x, &clears);
            if (rc != X_OK)
                return rc;
            if (clears)
                base = 0;
        }
        struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + seg, base, 0);
        w->selector = sel;
        /* SS keeps a DPL of the CPL, so that CPL-from-SS stays right (SDM Vol. 3, 5.2.1) */
        w->attr = HVEMU_SEG_ATTR_UNUSABLE | (seg == HVEMU_SS ? (uint32_t)c << 5 : 0);
        if (seg == HVEMU_SS)
            x->res->event = HVEMU_EVENT_SS_SHADOW;
        return X_OK;
    }

    uint64_t d = 0, la = 0;
    int rc = read_descriptor(x, sel, &d, &la);
    if (rc != X_OK)
        return rc;
    uint32_t hi = (uint32_t)(d >> 32);
    uint32_t attr = (hi >> 8) & 0xf0ffu;
    unsigned type = attr & 0xf, dpl = (attr >> 5) & 3;
    if (!(attr & ATTR_S)) /* a system descriptor */
        return fault_sel(x, HVEMU_EXC_GP, sel);
    if (seg == HVEMU_SS) {
        if (rpl != c || (type & ATTR_TYPE_CODE) || !(type & ATTR_TYPE_WRITABLE) || dpl != c)
            return fault_sel(x, HVEMU_EXC_GP, sel);
        if (!(attr & ATTR_P))
            return fault_sel(x, HVEMU_EXC_SS, sel);
    } else {
        if ((type & ATTR_TYPE_CODE) && !(type & ATTR_TYPE_READABLE))
            return fault_sel(x, HVEMU_EXC_GP, sel); /* execute-only code */
        if ((!(type & ATTR_TYPE_CODE) || !(type & ATTR_TYPE_CONFORMING)) && (rpl > dpl || c > dpl))
            return fault_sel(x, HVEMU_EXC_GP, sel);
        if (!(attr & ATTR_P))
            return fault_sel(x, HVEMU_EXC_NP, sel);
    }
    if ((rc = set_accessed(x, la, d)) != X_OK)
        return rc;
    uint32_t lo = (uint32_t)d;
    uint32_t limit = (lo & 0xffffu) | (hi & 0xf0000u);
    if (attr & ATTR_G)
        limit = (limit << 12) | 0xfffu;
    uint64_t base = (lo >> 16) | ((uint64_t)(hi & 0xffu) << 16) | (hi & 0xff000000u);
    struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + seg, base, limit);
    w->selector = sel;
    w->attr = attr | ATTR_TYPE_ACCESSED;
    if (seg == HVEMU_SS)
        x->res->event = HVEMU_EVENT_SS_SHADOW;
    return X_OK;
}

/* LSS/LFS/LGS r, m16:16/32/64: the offset, then the selector, from memory. */
int exec_lseg(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size;
    uint8_t b[10] = {0};
    int rc = op_read_mem(x, 1, 0, b, size + 2);
    if (rc != X_OK)
        return rc;
    uint64_t off = 0;
    uint16_t sel;
    __builtin_memcpy(&off, b, size);
    __builtin_memcpy(&sel, b + size, 2);
    unsigned seg = in->mnemonic == HV_MN_LSS ? HVEMU_SS : in->mnemonic == HV_MN_LFS ? HVEMU_FS : HVEMU_GS;
    if ((rc = segreg_load(x, seg, sel)) != X_OK)
        return rc;
    gpr_set_sized(x, in->op[0].u.reg.idx, size, off);
    return X_OK;
}
