/* SPDX-License-Identifier: MIT */
/*
 * Segment register loads in protected, compatibility and 64-bit mode: MOV Sreg, POP Sreg (they
 * reach segreg_load() through the operand accessors; real mode goes to src/exec/legacy.c),
 * LSS, LFS, LGS, LES, LDS; the system segment loads LLDT and LTR; the descriptor inspections
 * LAR, LSL, VERR, VERW; far JMP, CALL and RET and IRET (64-bit mode).
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

/* The descriptor-table instructions here are written for IA-32e mode (64-bit and
 * compatibility mode: 16-byte system descriptors, its system types); legacy protected mode
 * answers unhandleable, real mode #UD as the hardware does. */
static int ia32e_only(struct exec *x)
{
    if (x->mode == HV_CPU_64 || x->mode == HV_CPU_COMPAT)
        return X_OK;
    if (x->mode == HV_CPU_REAL)
        return exec_ud(x);
    return exec_unhandled(x, "descriptor instruction in legacy protected mode: not executed yet");
}

/* Far transfers and IRET are written for 64-bit mode (its stack and operand sizes). */
static int mode64_only(struct exec *x)
{
    return x->mode == HV_CPU_64 ? X_OK :
           exec_unhandled(x, "far transfer or IRET outside 64-bit mode: not executed yet");
}

static int fault_sel(struct exec *x, unsigned vector, uint16_t sel)
{
    return exec_exception(x, vector, 1, sel & 0xfffcu);
}

/* Whether loading a null selector into FS/GS clears their base: it does on Intel, and on AMD
 * only with NullSelectorClearsBase (CPUID 80000021H:EAX[6]); older AMD CPUs keep the base. */
static int null_clears_base(struct exec *x, int *clears)
{
    int amd, rc = cpu_is_amd(x, &amd);
    if (rc != X_OK)
        return rc;
    *clears = 1;
    return amd ? cpuid_bit(x, 0x80000021u, 0, EAX, 6, clears) : X_OK;
}

/* Where the descriptor `sel` names lives: 0 when it lies beyond its table's limit, or names
 * the LDT while LDTR is unusable (a load then faults #GP(sel); LAR and friends clear ZF). */
static int descriptor_addr(struct exec *x, uint16_t sel, uint64_t *la)
{
    const struct hvemu_state *s = x->s;
    const struct hvemu_segment *ldtr = &s->ldtr;
    if (sel & 4) {
        if ((ldtr->attr & HVEMU_SEG_ATTR_UNUSABLE) || (uint32_t)(sel | 7) > ldtr->limit)
            return 0;
        *la = ldtr->base + (sel & 0xfff8u);
        return 1;
    }
    if ((uint32_t)(sel | 7) > s->gdtr.limit)
        return 0;
    *la = s->gdtr.base + (sel & 0xfff8u);
    return 1;
}

/* Read `n` bytes of descriptor at `la`: a supervisor access, whatever the CPL. */
static int read_descriptor_at(struct exec *x, uint64_t la, void *d, unsigned n)
{
    if (!x->ctx->ops->read)
        return exec_unhandled(x, "a descriptor read needs the read callback");
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    int cb = x->ctx->ops->read(x->ctx->opaque, la, d, n, HVEMU_ACCESS_SYSTEM, &exc);
    return cb == HVEMU_CB_OK ? X_OK : exec_cb_fault(x, cb, &exc);
}

/* Read the 8-byte descriptor `sel` names (#GP(sel) when there is none); *la is where. */
static int read_descriptor(struct exec *x, uint16_t sel, uint64_t *desc, uint64_t *la)
{
    if (exec_need(x, HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    if (!descriptor_addr(x, sel, la))
        return fault_sel(x, HVEMU_EXC_GP, sel);
    return read_descriptor_at(x, *la, desc, 8);
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

/* Load data segment register `seg` with `sel` for privilege level `c` in a 64-bit (is64) or
 * other code segment: segreg_load() for the current ones, IRET for those it returns to. */
static int load_segment_as(struct exec *x, unsigned seg, uint16_t sel, unsigned c, int is64)
{
    const struct hvemu_state *s = x->s;
    unsigned rpl = sel & 3;

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
    return X_OK;
}

int segreg_load(struct exec *x, unsigned seg, uint16_t sel)
{
    if (seg == HVEMU_CS || seg >= HVEMU_NUM_SEGS) /* MOV to CS is #UD at decode */
        return exec_ud(x);
    if (x->mode == HV_CPU_REAL)
        return seg_load(x, seg, sel); /* base = selector * 16 (src/exec/legacy.c) */
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_SEG(seg)) != X_OK)
        return X_UNHANDLED;
    int rc = load_segment_as(x, seg, sel, exec_cpl(x), x->mode == HV_CPU_64);
    if (rc == X_OK && seg == HVEMU_SS)
        x->res->event = HVEMU_EVENT_SS_SHADOW;
    return rc;
}

/* LSS/LFS/LGS r, m16:16/32/64: the offset, then the selector, from memory. */
int exec_lseg(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    if (x->mode == HV_CPU_REAL)
        return exec_lxs(x);
    unsigned size = in->op[0].size;
    uint8_t b[10] = {0};
    int rc = op_read_mem(x, 1, 0, b, size + 2);
    if (rc != X_OK)
        return rc;
    uint64_t off = 0;
    uint16_t sel;
    __builtin_memcpy(&off, b, size);
    __builtin_memcpy(&sel, b + size, 2);
    unsigned seg;
    switch (in->mnemonic) {
    case HV_MN_LES: seg = HVEMU_ES; break; /* LES/LDS exist outside 64-bit mode only */
    case HV_MN_LDS: seg = HVEMU_DS; break;
    case HV_MN_LSS: seg = HVEMU_SS; break;
    case HV_MN_LFS: seg = HVEMU_FS; break;
    default: seg = HVEMU_GS; break;
    }
    /* not segreg_load(): LSS makes no interrupt shadow (only MOV SS and POP SS do) */
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_SEG(seg)) != X_OK)
        return X_UNHANDLED;
    if ((rc = load_segment_as(x, seg, sel, exec_cpl(x), x->mode == HV_CPU_64)) != X_OK)
        return rc;
    gpr_set_sized(x, in->op[0].u.reg.idx, size, off);
    return X_OK;
}

/* ---- LLDT, LTR: 16-byte system descriptors in 64-bit mode ---- */

/* Read the 16-byte system descriptor `sel` names in the GDT: #GP(sel) beyond the limit or for
 * an LDT selector, and when the upper half's type field is not 0 or the base not canonical. */
static int read_system_descriptor(struct exec *x, uint16_t sel, uint64_t d[2], uint64_t *la)
{
    const struct hvemu_state *s = x->s;
    if (exec_need(x, HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    if ((sel & 4) || (uint32_t)(sel & 0xfff8u) + 15 > s->gdtr.limit)
        return fault_sel(x, HVEMU_EXC_GP, sel);
    *la = s->gdtr.base + (sel & 0xfff8u);
    return read_descriptor_at(x, *la, d, 16);
}

static int load_system_segment(struct exec *x, unsigned want_type, unsigned reg)
{
    uint64_t v, la = 0, d[2] = {0, 0};
    int rc = ia32e_only(x);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    if (exec_cpl(x))
        return exec_gp0(x);
    if ((rc = op_read(x, 0, &v)) != X_OK)
        return rc;
    uint16_t sel = (uint16_t)v;
    if ((sel & 0xfffc) == 0) {
        if (reg == SYSREG_TR)
            return exec_gp0(x);
        struct exec_sysw *w = sys_stage(x, SYSREG_LDTR, 0, 0);
        w->selector = sel;
        w->attr = HVEMU_SEG_ATTR_UNUSABLE;
        return X_OK;
    }
    if ((rc = read_system_descriptor(x, sel, d, &la)) != X_OK)
        return rc;
    uint32_t hi = (uint32_t)(d[0] >> 32), lo = (uint32_t)d[0];
    uint32_t attr = (hi >> 8) & 0xf0ffu;
    if ((attr & ATTR_S) || (attr & 0xf) != want_type)
        return fault_sel(x, HVEMU_EXC_GP, sel);
    if (!(attr & ATTR_P))
        return fault_sel(x, HVEMU_EXC_NP, sel);
    uint64_t base = (lo >> 16) | ((uint64_t)(hi & 0xffu) << 16) | (hi & 0xff000000u) |
                    ((d[1] & 0xffffffffu) << 32);
    if (((d[1] >> 40) & 0x1f) != 0 || !is_canonical(base))
        return fault_sel(x, HVEMU_EXC_GP, sel);
    uint32_t limit = (lo & 0xffffu) | (hi & 0xf0000u);
    if (attr & ATTR_G)
        limit = (limit << 12) | 0xfffu;
    if (reg == SYSREG_TR) {
        /* the TSS becomes busy (type 9 -> 11), a locked update of its descriptor */
        uint64_t want = d[0] | (2ull << 40), old = d[0];
        struct hvemu_exception exc = {0, 0, 0, 0, 0};
        if (!x->ctx->ops->cmpxchg)
            return exec_unhandled(x, "LTR marks the TSS busy: needs the cmpxchg callback");
        int cb = x->ctx->ops->cmpxchg(x->ctx->opaque, la, &old, &want, 8, &exc);
        if (cb == HVEMU_CB_CHANGED) {
            x->res->status = HVEMU_RETRY;
            x->res->reason = "the TSS descriptor changed while LTR marked it busy";
            return X_RETRY;
        }
        if (cb != HVEMU_CB_OK)
            return exec_cb_fault(x, cb, &exc);
        attr |= 2;
    }
    struct exec_sysw *w = sys_stage(x, reg, base, limit);
    w->selector = sel;
    w->attr = attr;
    return X_OK;
}

int exec_lldt(struct exec *x) { return load_system_segment(x, 2, SYSREG_LDTR); }
int exec_ltr(struct exec *x) { return load_system_segment(x, 9, SYSREG_TR); }

/* ---- LAR, LSL, VERR, VERW: ZF says whether the descriptor qualifies ---- */

/* Whether descriptor `d`, named with RPL `rpl`, passes `mn`'s type and privilege checks. */
static int descriptor_qualifies(unsigned mn, uint64_t d, unsigned rpl, unsigned c)
{
    unsigned attr = (unsigned)(d >> 40) & 0xffu, type = attr & 0xf, dpl = (attr >> 5) & 3;
    int code = (attr & ATTR_S) && (type & ATTR_TYPE_CODE);
    int priv = (code && (type & ATTR_TYPE_CONFORMING)) || (dpl >= c && dpl >= rpl);
    if (!(attr & ATTR_S)) /* LAR and LSL: an LDT or a 64-bit TSS (available or busy) */
        return (mn == HV_MN_LAR || mn == HV_MN_LSL) && (type == 2 || type == 9 || type == 11) && priv;
    if (mn == HV_MN_VERR)
        return (!code || (type & ATTR_TYPE_READABLE)) && priv;
    if (mn == HV_MN_VERW)
        return !code && (type & ATTR_TYPE_WRITABLE) && priv;
    return priv;
}

int exec_descriptor_query(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned mn = in->mnemonic;
    int lar_lsl = mn == HV_MN_LAR || mn == HV_MN_LSL;
    uint64_t v, d = 0, la;
    int rc, ok = 0;
    if ((rc = ia32e_only(x)) != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    if ((rc = op_read(x, lar_lsl ? 1 : 0, &v)) != X_OK)
        return rc;
    uint16_t sel = (uint16_t)v;
    /* a null selector, or one beyond its table: not a fault, only ZF = 0 */
    if ((sel & 0xfffc) != 0 && descriptor_addr(x, sel, &la)) {
        if ((rc = read_descriptor_at(x, la, &d, 8)) != X_OK)
            return rc;
        ok = descriptor_qualifies(mn, d, sel & 3, exec_cpl(x));
    }
    if (ok && lar_lsl) {
        uint32_t hi = (uint32_t)(d >> 32), lo = (uint32_t)d;
        uint64_t r;
        if (mn == HV_MN_LAR) {
            /* bits 23:8 of the descriptor's high half; the SDM calls 19:16 (the limit's top)
             * undefined, AMD Zen returns them (measured) */
            r = hi & 0x00ffff00u;
        } else {
            r = (lo & 0xffffu) | (hi & 0xf0000u);
            if (hi & (1u << 23))
                r = (r << 12) | 0xfffu;
        }
        const struct hvemu_operand *dst = &in->op[0];
        gpr_set_sized(x, dst->u.reg.idx, dst->size, r & size_mask(dst->size));
    }
    flags_set(x, HVEMU_FLAG_ZF, ok ? HVEMU_FLAG_ZF : 0);
    return X_OK;
}

/* ---- far JMP, CALL and RET in 64-bit mode, to code segments (no gates, same privilege) ---- */

#define ATTR_L  0x2000u
#define ATTR_DB 0x4000u

/* Check code segment `sel` as a far transfer's target and stage CS and RIP = off: for JMP and
 * CALL a conforming segment needs DPL <= CPL and another RPL <= CPL with DPL = CPL; for RET
 * (same privilege: RPL = CPL) a conforming segment needs DPL <= RPL and another DPL = RPL.
 * A 64-bit target needs a canonical offset, a compatibility-mode one an offset within its
 * limit (SDM Vol. 2, JMP/CALL/RET "Operation", IA-32e mode). */
enum { FAR_JMP_CALL, FAR_RET, FAR_IRET };

static int far_target(struct exec *x, uint16_t sel, uint64_t off, int kind)
{
    int is_ret = kind != FAR_JMP_CALL;
    uint64_t d = 0, la = 0;
    unsigned c = exec_cpl(x), rpl = sel & 3;
    if ((sel & 0xfffc) == 0)
        return exec_gp0(x);
    int rc = read_descriptor(x, sel, &d, &la);
    if (rc != X_OK)
        return rc;
    uint32_t hi = (uint32_t)(d >> 32), lo = (uint32_t)d;
    uint32_t attr = (hi >> 8) & 0xf0ffu;
    unsigned type = attr & 0xf, dpl = (attr >> 5) & 3;
    if (!(attr & ATTR_S)) {
        if (type == 0xc && !is_ret)
            return exec_unhandled(x, "far transfer through a call gate: not executed yet");
        return fault_sel(x, HVEMU_EXC_GP, sel);
    }
    if (!(type & ATTR_TYPE_CODE))
        return fault_sel(x, HVEMU_EXC_GP, sel);
    int conforming = (type & ATTR_TYPE_CONFORMING) != 0;
    if (is_ret) {
        if (rpl < c)
            return fault_sel(x, HVEMU_EXC_GP, sel);
        if (rpl > c && kind == FAR_RET)
            return exec_unhandled(x, "far return to an outer privilege level: not executed yet");
        if (conforming ? dpl > rpl : dpl != rpl)
            return fault_sel(x, HVEMU_EXC_GP, sel);
    } else if (conforming ? dpl > c : (rpl > c || dpl != c)) {
        return fault_sel(x, HVEMU_EXC_GP, sel);
    }
    if (!(attr & ATTR_P))
        return fault_sel(x, HVEMU_EXC_NP, sel);
    if ((attr & ATTR_L) && (attr & ATTR_DB)) /* L and D together are reserved in IA-32e mode */
        return fault_sel(x, HVEMU_EXC_GP, sel);
    uint32_t limit = (lo & 0xffffu) | (hi & 0xf0000u);
    if (attr & ATTR_G)
        limit = (limit << 12) | 0xfffu;
    if (attr & ATTR_L) {
        if (!is_canonical(off))
            return exec_gp0(x);
    } else if (off > limit) {
        return exec_gp0(x);
    }
    if ((rc = set_accessed(x, la, d)) != X_OK)
        return rc;
    uint64_t base = (lo >> 16) | ((uint64_t)(hi & 0xffu) << 16) | (hi & 0xff000000u);
    struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + HVEMU_CS, base, limit);
    w->selector = (uint16_t)(is_ret ? sel : (sel & 0xfffc) | c); /* a return's RPL is its CPL */
    w->attr = attr | ATTR_TYPE_ACCESSED;
    x->new_rip = off;
    return X_OK;
}

/* JMPF/CALLF m16:16/32/64: the offset (operand size; AMD has no 64-bit form and reads m16:32
 * under REX.W), then the selector. CALLF pushes CS and the return RIP in operand-size slots. */
int exec_far_jmp_call(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->opsize;
    uint8_t b[10] = {0};
    int rc;
    if ((rc = mode64_only(x)) != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    if (size == 8) {
        int amd;
        if ((rc = cpu_is_amd(x, &amd)) != X_OK)
            return rc;
        if (amd)
            size = 4;
    }
    if ((rc = op_read_mem(x, 0, 0, b, size + 2)) != X_OK)
        return rc;
    uint64_t off = 0;
    uint16_t sel;
    __builtin_memcpy(&off, b, size);
    __builtin_memcpy(&sel, b + size, 2);
    uint16_t old_cs = x->s->seg[HVEMU_CS].selector;
    uint64_t ret = x->rip_next, rsp = gpr_get(x, HVEMU_RSP), la;
    if ((rc = far_target(x, sel, off, FAR_JMP_CALL)) != X_OK)
        return rc;
    if (in->mnemonic == HV_MN_JMPF)
        return X_OK;
    /* CALLF: [RSP - size] = CS, [RSP - 2 * size] = return RIP */
    uint64_t v[2] = {ret & size_mask(size), old_cs};
    uint8_t frame[16];
    __builtin_memcpy(frame, &v[0], size);
    __builtin_memcpy(frame + size, &v[1], size);
    if ((rc = stack_linear(x, rsp - 2 * size, 2 * size, size, &la)) != X_OK ||
        (rc = mem_write(x, la, frame, 2 * size, HVEMU_ACCESS_STACK_WRITE)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, 8, rsp - 2 * size);
    return X_OK;
}

/* RETF [imm16]: pop the offset and CS (operand-size slots; 32 bits by default in 64-bit mode),
 * then release imm16 more bytes. Same privilege only. */
int exec_far_ret(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->opsize;
    uint8_t frame[16];
    uint64_t rsp = gpr_get(x, HVEMU_RSP), la, off = 0;
    uint16_t sel;
    int rc;
    if ((rc = mode64_only(x)) != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    if ((rc = stack_linear(x, rsp, 2 * size, size, &la)) != X_OK ||
        (rc = mem_read(x, la, frame, 2 * size, HVEMU_ACCESS_STACK_READ)) != X_OK)
        return rc;
    __builtin_memcpy(&off, frame, size);
    __builtin_memcpy(&sel, frame + size, 2);
    if ((rc = far_target(x, sel, off, FAR_RET)) != X_OK)
        return rc;
    rsp += 2 * size + (in->noperands ? (in->op[0].u.imm.imm & 0xffff) : 0);
    gpr_set_sized(x, HVEMU_RSP, 8, rsp);
    return X_OK;
}

/* IRET/IRETD/IRETQ in 64-bit mode: pop RIP, CS, RFLAGS, RSP and SS (all five, whatever the
 * privilege) in operand-size slots. CS is checked as for a far return (an outer level is
 * allowed), SS as a stack segment for the new CPL (null only for a 64-bit target below CPL 3).
 * RFLAGS takes what the frame holds, but IF only when CPL <= IOPL and IOPL, VIF, VIP only at
 * CPL 0; RF is kept as popped. On a return to an outer level, DS, ES, FS and GS become null
 * where their DPL is below the new CPL (data and non-conforming code). IRET ends NMI blocking:
 * result.event = HVEMU_EVENT_IRET. (SDM Vol. 2, IRET, IA-32e mode.) */
int exec_iret(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->opsize;
    uint8_t frame[40];
    uint64_t v[5] = {0, 0, 0, 0, 0}, rsp = gpr_get(x, HVEMU_RSP), la, old = x->new_rflags;
    int rc;
    if ((rc = mode64_only(x)) != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_DTABLES | HVEMU_PART_SEGS) != X_OK)
        return X_UNHANDLED;
    if (old & (1u << 14)) /* NT: a task return, which IA-32e mode does not have */
        return exec_gp0(x);
    if ((rc = stack_linear(x, rsp, 5 * size, size, &la)) != X_OK ||
        (rc = mem_read(x, la, frame, 5 * size, HVEMU_ACCESS_STACK_READ)) != X_OK)
        return rc;
    for (unsigned i = 0; i < 5; i++)
        __builtin_memcpy(&v[i], frame + i * size, size);
    uint16_t cs = (uint16_t)v[1], ss = (uint16_t)v[4];
    if (v[2] & HVEMU_FLAG_VM)
        return exec_unhandled(x, "IRET to virtual-8086 mode: not executed");
    unsigned c = exec_cpl(x), nc = cs & 3;
    if ((rc = far_target(x, cs, v[0], FAR_IRET)) != X_OK)
        return rc;
    int is64 = (x->sys[x->nsys - 1].attr & ATTR_L) != 0;
    if ((rc = load_segment_as(x, HVEMU_SS, ss, nc, is64)) != X_OK)
        return rc;
    /* POPF's rule, and RF; VIF and VIP at CPL 0 */
    uint64_t take = flags_loadable(c, (unsigned)(old >> 12) & 3) | HVEMU_FLAG_RF;
    if (c == 0)
        take |= HVEMU_FLAG_VIF | HVEMU_FLAG_VIP;
    uint64_t fl = ((old & ~take) | (v[2] & take) | 2) & ~(uint64_t)HVEMU_FLAG_VM;
    sys_stage(x, SYSREG_RFLAGS, fl, 0);
    if (nc > c) {
        static const uint8_t data_segs[4] = {HVEMU_ES, HVEMU_DS, HVEMU_FS, HVEMU_GS};
        for (unsigned i = 0; i < 4; i++) {
            const struct hvemu_segment *sg = &x->s->seg[data_segs[i]];
            unsigned type = sg->attr & 0xf, dpl = (sg->attr >> 5) & 3;
            int nonconforming = !(type & ATTR_TYPE_CODE) || !(type & ATTR_TYPE_CONFORMING);
            if (!(sg->attr & HVEMU_SEG_ATTR_UNUSABLE) && dpl < nc && nonconforming) {
                struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + data_segs[i], sg->base, 0);
                w->selector = 0;
                w->attr = HVEMU_SEG_ATTR_UNUSABLE;
            }
        }
    }
    gpr_set_sized(x, HVEMU_RSP, 8, v[3]);
    x->res->event = HVEMU_EVENT_IRET;
    return X_OK;
}
