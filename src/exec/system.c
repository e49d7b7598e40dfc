/* SPDX-License-Identifier: MIT */
/*
 * System instructions (64-bit mode): MOV to/from CR0 CR2 CR3 CR4 CR8 and DR0-DR7, CLTS, LMSW,
 * SMSW, SGDT, SIDT, SLDT, STR, LGDT, LIDT, RDMSR, WRMSR, SWAPGS, RDFSBASE/RDGSBASE/WRFSBASE/
 * WRGSBASE, XGETBV and XSETBV; CLI, STI, CLAC, STAC; INVPCID; SYSCALL, SYSRET, SYSENTER and SYSEXIT; HLT, INVLPG, WBINVD, WBNOINVD and INVD, which complete with an
 * event for the embedder (result.event: hvemu has no TLB, caches or scheduler).
 *
 * Each writes at most two system registers, staged (exec_sysw) and applied at commit like every
 * other effect, so a fault leaves the state as it was. The reserved-bit rules that depend on
 * the CPU (CR3's physical-address width, which CR4 bits exist, which XCR0 components exist,
 * DR6's RTM and bus-lock bits) are read from the embedder's cpuid callback, which describes the
 * guest's CPU; without it those writes answer HVEMU_UNHANDLEABLE rather than guess.
 *
 * Exception order, where the SDM lists several for one instruction: an invalid register
 * (CR1, CR5-CR7, CR9-CR15, DR8-DR15) is #UD first, as the CPU treats the encoding as invalid
 * (measured on AMD Zen 4 at CPL 3: MOV from CR1 is #UD, from CR0 #GP); then the privilege
 * #GP(0); then the other #UD (CR4.DE and DR4/DR5); then DR7.GD's #DB; then the value checks.
 *
 * What stays with the embedder: the consequences of a new CR0/CR3/CR4 for its MMU (TLB flushes
 * by the SDM's rules; a MOV to CR3 with CR4.PCIDE=1 does not keep the source's bit 63, the
 * no-flush hint), CR8 as the APIC TPR, and every MSR but IA32_FS_BASE and IA32_GS_BASE.
 */
#include "families.h"

/* The bits of CR0 that exist; writes of the other low bits are ignored, ET reads as 1. */
#define CR0_DEFINED (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | \
                     CR0_NW | CR0_CD | CR0_PG)

#define DR7_GD (1ull << 13)

#define MSR_EFER           0xC0000080u
#define MSR_FS_BASE        0xC0000100u
#define MSR_GS_BASE        0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u

/* Ring 0 only: #GP(0) otherwise. */
static int need_cpl0(struct exec *x)
{
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    return exec_cpl(x) ? exec_gp0(x) : X_OK;
}

/* One CPUID register of the guest's CPU, for rules that depend on its features. */
static int cpuid_reg(struct exec *x, uint32_t leaf, uint32_t sub, unsigned reg, uint32_t *v)
{
    uint32_t out[4];
    if (!x->ctx->ops->cpuid)
        return exec_unhandled(x, "this check depends on the guest's CPUID: needs the cpuid callback");
    if (x->ctx->ops->cpuid(x->ctx->opaque, leaf, sub, out) != HVEMU_CB_OK)
        return exec_unhandled(x, "the cpuid callback failed");
    *v = out[reg];
    return X_OK;
}

/* Whether CPUID.(leaf, sub).reg[bit] is set; the leaf is checked against the maximum leaf,
 * and a subleaf of leaf 7 against the maximum subleaf (CPUID.(7,0):EAX). */
int cpuid_bit(struct exec *x, uint32_t leaf, uint32_t sub, unsigned reg, unsigned bit, int *on)
{
    uint32_t max = 0, v = 0;
    int rc = cpuid_reg(x, leaf & 0x80000000u, 0, EAX, &max);
    if (rc != X_OK)
        return rc;
    *on = 0;
    if (leaf > max)
        return X_OK;
    if (leaf == 7 && sub > 0) {
        if ((rc = cpuid_reg(x, 7, 0, EAX, &max)) != X_OK)
            return rc;
        if (sub > max)
            return X_OK;
    }
    if ((rc = cpuid_reg(x, leaf, sub, reg, &v)) != X_OK)
        return rc;
    *on = (v >> bit) & 1;
    return X_OK;
}

/* Whether the guest's CPU is AMD's (or Hygon's): CPUID leaf 0's EBX "Auth" / "Hygo". For the
 * few instructions whose architecture differs by vendor. */
int cpu_is_amd(struct exec *x, int *amd)
{
    uint32_t ebx = 0;
    int rc = cpuid_reg(x, 0, 0, EBX, &ebx);
    *amd = ebx == 0x68747541u || ebx == 0x6f677948u;
    return rc;
}

/* ---- control registers ---- */

/* CR4 bits beyond the first eleven (which every x86-64 CPU has), each with the CPUID bit that
 * says it exists (SDM Vol. 3, 2.5, and the CPUID leaf 7 tables). */
static const struct { uint8_t cr4_bit; uint32_t leaf; uint8_t sub, reg, bit; } cr4_features[] = {
    {11, 7, 0, ECX, 2},           /* UMIP */
    {12, 7, 0, ECX, 16},          /* LA57 */
    {13, 1, 0, ECX, 5},           /* VMXE: VMX */
    {14, 1, 0, ECX, 6},           /* SMXE: SMX */
    {16, 7, 0, EBX, 0},           /* FSGSBASE */
    {17, 1, 0, ECX, 17},          /* PCIDE: PCID */
    {18, 1, 0, ECX, 26},          /* OSXSAVE: XSAVE */
    {19, 7, 0, ECX, 23},          /* KL */
    {20, 7, 0, EBX, 7},           /* SMEP */
    {21, 7, 0, EBX, 20},          /* SMAP */
    {22, 7, 0, ECX, 3},           /* PKE: PKU */
    {23, 7, 0, ECX, 7},           /* CET: CET_SS ... */
    {23, 7, 0, EDX, 20},          /* ... or CET_IBT */
    {24, 7, 0, ECX, 31},          /* PKS */
    {25, 7, 0, EDX, 5},           /* UINTR */
    {28, 7, 1, EAX, 26},          /* LAM_SUP: LAM */
    {32, 7, 1, EAX, 17},          /* FRED */
};

static int cr4_allowed(struct exec *x, uint64_t *allowed)
{
    uint64_t a = 0x7ff; /* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT */
    for (unsigned i = 0; i < sizeof(cr4_features) / sizeof(cr4_features[0]); i++) {
        int on, rc = cpuid_bit(x, cr4_features[i].leaf, cr4_features[i].sub, cr4_features[i].reg,
                               cr4_features[i].bit, &on);
        if (rc != X_OK)
            return rc;
        if (on)
            a |= 1ull << cr4_features[i].cr4_bit;
    }
    *allowed = a;
    return X_OK;
}

/* The guest's physical-address width (CPUID.80000008H:EAX[7:0]; 36 without that leaf). */
static int maxphyaddr(struct exec *x, unsigned *bits)
{
    uint32_t max = 0, v = 0;
    int rc = cpuid_reg(x, 0x80000000u, 0, EAX, &max);
    if (rc != X_OK)
        return rc;
    *bits = 36;
    if (max >= 0x80000008u) {
        if ((rc = cpuid_reg(x, 0x80000008u, 0, EAX, &v)) != X_OK)
            return rc;
        if ((v & 0xff) >= 32 && (v & 0xff) <= 64)
            *bits = v & 0xff;
    }
    return X_OK;
}

static int write_cr0(struct exec *x, uint64_t v)
{
    const struct hvemu_state *s = x->s;
    if (exec_need(x, HVEMU_PART_CR0 | HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    if (v >> 32)
        return exec_gp0(x);
    if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
        return exec_gp0(x);
    if (!(v & CR0_PG)) /* 64-bit mode runs with paging: clearing PG there is #GP */
        return exec_gp0(x);
    if ((s->cr4 & CR4_CET) && !(v & CR0_WP))
        return exec_gp0(x);
    sys_stage(x, SYSREG_CR0, (v & CR0_DEFINED) | CR0_ET, 0);
    return X_OK;
}

static int write_cr3(struct exec *x, uint64_t v)
{
    unsigned pa;
    int lam, rc;
    if (exec_need(x, HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    if (x->s->cr4 & CR4_PCIDE)
        v &= ~(1ull << 63); /* the no-flush hint, not part of CR3 */
    if ((rc = maxphyaddr(x, &pa)) != X_OK || (rc = cpuid_bit(x, 7, 1, EAX, 26, &lam)) != X_OK)
        return rc;
    uint64_t reserved = pa >= 64 ? 0 : ~0ull << pa;
    if (lam)
        reserved &= ~(3ull << 61); /* LAM_U57, LAM_U48 */
    if (v & reserved)
        return exec_gp0(x);
    sys_stage(x, SYSREG_CR3, v, 0);
    return X_OK;
}

static int write_cr4(struct exec *x, uint64_t v)
{
    const struct hvemu_state *s = x->s;
    uint64_t allowed;
    int rc;
    if (exec_need(x, HVEMU_PART_CR0 | HVEMU_PART_CR3 | HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    if ((rc = cr4_allowed(x, &allowed)) != X_OK)
        return rc;
    if (v & ~allowed)
        return exec_gp0(x);
    /* 64-bit mode: PAE stays set and LA57 cannot change (SDM Vol. 3, 2.5 and 4.1.1) */
    if (!(v & CR4_PAE) || ((v ^ s->cr4) & CR4_LA57))
        return exec_gp0(x);
    if ((v & CR4_PCIDE) && !(s->cr4 & CR4_PCIDE) && (s->cr3 & 0xfff))
        return exec_gp0(x);
    if ((v & CR4_CET) && !(s->cr0 & CR0_WP))
        return exec_gp0(x);
    sys_stage(x, SYSREG_CR4, v, 0);
    return X_OK;
}

/* The control registers MOV reaches, with their state parts (CR1, CR5-CR7, CR9-CR15: none). */
static const uint64_t cr_part[9] = {HVEMU_PART_CR0, 0, HVEMU_PART_CR2, HVEMU_PART_CR3,
                                    HVEMU_PART_CR4, 0, 0, 0, HVEMU_PART_CR8};

static int cr_read(struct exec *x, unsigned n, uint64_t *v)
{
    if (n > 8 || !cr_part[n])
        return exec_ud(x);
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, cr_part[n]) != X_OK)
        return X_UNHANDLED;
    const struct hvemu_state *s = x->s;
    *v = n == 0 ? s->cr0 : n == 2 ? s->cr2 : n == 3 ? s->cr3 : n == 4 ? s->cr4 : s->cr8;
    return X_OK;
}

static int cr_write(struct exec *x, unsigned n, uint64_t v)
{
    if (n > 8 || !cr_part[n])
        return exec_ud(x);
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    switch (n) {
    case 0: return write_cr0(x, v);
    case 2: sys_stage(x, SYSREG_CR2, v, 0); return X_OK;
    case 3: return write_cr3(x, v);
    case 4: return write_cr4(x, v);
    default: /* CR8: the task priority, 4 bits */
        if (v >> 4)
            return exec_gp0(x);
        sys_stage(x, SYSREG_CR8, v, 0);
        return X_OK;
    }
}

/* CLTS: CR0.TS := 0. */
int exec_clts(struct exec *x)
{
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_CR0) != X_OK)
        return X_UNHANDLED;
    sys_stage(x, SYSREG_CR0, x->s->cr0 & ~CR0_TS, 0);
    return X_OK;
}

/* LMSW: CR0[3:0] := source[3:0], except that PE can be set but not cleared. */
int exec_lmsw(struct exec *x)
{
    uint64_t v;
    int rc = need_cpl0(x);
    if (rc != X_OK || (rc = op_read(x, 0, &v)) != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_CR0) != X_OK)
        return X_UNHANDLED;
    uint64_t cr0 = x->s->cr0;
    sys_stage(x, SYSREG_CR0, (cr0 & ~0xeull) | (v & 0xf) | (cr0 & CR0_PE), 0);
    return X_OK;
}

/* ---- the UMIP-guarded stores: SMSW, SGDT, SIDT, SLDT, STR ---- */

static int umip_check(struct exec *x)
{
    if (exec_need(x, HVEMU_PART_CR4 | HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    return (x->s->cr4 & CR4_UMIP) && exec_cpl(x) ? exec_gp0(x) : X_OK;
}

/* SMSW/SLDT/STR: a memory destination takes 16 bits; a register takes the operand size, the
 * value zero-extended (a 16-bit register merges, as every 16-bit write). */
static int store_system_value(struct exec *x, uint64_t v)
{
    const struct hvemu_operand *d = &x->in->op[0];
    if (d->kind == HVEMU_OP_REG) {
        gpr_set_sized(x, d->u.reg.idx, d->size, v & size_mask(d->size));
        return X_OK;
    }
    return op_write(x, 0, v & 0xffff);
}

int exec_smsw(struct exec *x)
{
    int rc = umip_check(x);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_CR0) != X_OK)
        return X_UNHANDLED;
    return store_system_value(x, x->s->cr0);
}

int exec_sldt_str(struct exec *x)
{
    int rc = umip_check(x);
    if (rc != X_OK)
        return rc;
    if (x->mode == HV_CPU_REAL) /* no LDT or task register to name outside protected mode */
        return exec_ud(x);
    if (exec_need(x, HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    return store_system_value(x, x->in->mnemonic == HV_MN_SLDT ? x->s->ldtr.selector
                                                                : x->s->tr.selector);
}

/* SGDT/SIDT: limit (2 bytes) then base (8 bytes; outside 64-bit mode 4 bytes, the full 32-bit
 * base whatever the operand size, as current processors store it). */
int exec_sgdt_sidt(struct exec *x)
{
    uint8_t b[10];
    int rc = umip_check(x);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_DTABLES) != X_OK)
        return X_UNHANDLED;
    const struct hvemu_dtable *t = x->in->mnemonic == HV_MN_SGDT ? &x->s->gdtr : &x->s->idtr;
    __builtin_memcpy(b, &t->limit, 2);
    __builtin_memcpy(b + 2, &t->base, 8);
    return op_write_mem(x, 0, 0, b, x->mode ? 6 : 10);
}

/* LGDT/LIDT: limit then base; a non-canonical base is #GP(0). */
int exec_lgdt_lidt(struct exec *x)
{
    uint8_t b[10];
    uint16_t limit;
    uint64_t base;
    int rc = need_cpl0(x);
    if (x->mode) {
        /* 6 bytes: a 32-bit base, of which a 16-bit operand size keeps 24 bits */
        uint32_t b32;
        if (rc != X_OK || (rc = op_read_mem(x, 0, 0, b, 6)) != X_OK)
            return rc;
        __builtin_memcpy(&limit, b, 2);
        __builtin_memcpy(&b32, b + 2, 4);
        base = x->in->opsize == 2 ? b32 & 0xffffffu : b32;
    } else {
        if (rc != X_OK || (rc = op_read_mem(x, 0, 0, b, 10)) != X_OK)
            return rc;
        __builtin_memcpy(&limit, b, 2);
        __builtin_memcpy(&base, b + 2, 8);
    }
    if (!is_canonical(base))
        return exec_gp0(x);
    if (exec_need(x, HVEMU_PART_DTABLES) != X_OK) /* the part is written whole */
        return X_UNHANDLED;
    sys_stage(x, x->in->mnemonic == HV_MN_LGDT ? SYSREG_GDTR : SYSREG_IDTR, base, limit);
    return X_OK;
}

/* ---- debug registers ---- */

/* DR6 as it reads after a write of v: B0-B3, BD, BS, BT are writable; RTM (bit 16) and BLD
 * (bit 11) are writable where the CPU has them and read 1 otherwise; bits 4-10 and 17-31 read 1,
 * bit 12 reads 0. DR7: bit 10 reads 1; bits 11, 12, 14, 15 read 0. */
static int dr6_value(struct exec *x, uint64_t v, uint64_t *out)
{
    int rtm, bld, rc;
    if ((rc = cpuid_bit(x, 7, 0, EBX, 11, &rtm)) != X_OK ||
        (rc = cpuid_bit(x, 7, 0, ECX, 24, &bld)) != X_OK)
        return rc;
    uint64_t writable = 0xe00f | (rtm ? 1u << 16 : 0) | (bld ? 1u << 11 : 0);
    uint64_t ones = 0xfffe07f0 | (rtm ? 0 : 1u << 16) | (bld ? 0 : 1u << 11);
    *out = (v & writable) | ones;
    return X_OK;
}

/* DR4/DR5 are DR6/DR7 without debug extensions and #UD with them; DR8-DR15 do not exist. The
 * debug-register index that an access by `n` reaches, or an exception. */
static int dr_access(struct exec *x, unsigned *n)
{
    if (*n > 7)
        return exec_ud(x);
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_CR4 | HVEMU_PART_DR) != X_OK)
        return X_UNHANDLED;
    if (*n == 4 || *n == 5) {
        if (x->s->cr4 & CR4_DE)
            return exec_ud(x);
        *n += 2;
    }
    /* general detect: the access faults with #DB (the embedder sets DR6.BD when it delivers
     * it, as it writes CR2 for a #PF) */
    if (x->s->dr[7] & DR7_GD) {
        int r = exec_exception(x, HVEMU_EXC_DB, 0, 0);
        x->res->exc.dr6 = 1u << 13; /* BD */
        return r;
    }
    return X_OK;
}

static int dr_read(struct exec *x, unsigned n, uint64_t *v)
{
    int rc = dr_access(x, &n);
    if (rc == X_OK)
        *v = x->s->dr[n];
    return rc;
}

static int dr_write(struct exec *x, unsigned n, uint64_t v)
{
    int rc = dr_access(x, &n);
    if (rc != X_OK)
        return rc;
    if (n >= 6 && (v >> 32))
        return exec_gp0(x);
    if (n == 6 && (rc = dr6_value(x, v, &v)) != X_OK)
        return rc;
    if (n == 7)
        v = (v & 0xffff2bffull) | 0x400;
    sys_stage(x, SYSREG_DR0 + n, v, 0);
    return X_OK;
}

/* MOV to and from CRn/DRn reaches these through the operand accessors (src/mem/access.c), so
 * MOV itself has no special case. */
int sysreg_read(struct exec *x, unsigned cls, unsigned idx, uint64_t *v)
{
    if (x->mode) /* 32-bit registers, CR0.PG/PE and EFER.LME transitions: not modelled yet */
        return exec_unhandled(x, "MOV CR/DR outside 64-bit mode is not executed yet");
    return cls == HVEMU_REG_CR ? cr_read(x, idx, v) : dr_read(x, idx, v);
}

int sysreg_write(struct exec *x, unsigned cls, unsigned idx, uint64_t v)
{
    if (x->mode)
        return exec_unhandled(x, "MOV CR/DR outside 64-bit mode is not executed yet");
    return cls == HVEMU_REG_CR ? cr_write(x, idx, v) : dr_write(x, idx, v);
}

/* ---- MSRs, SWAPGS, the FS/GS base instructions ---- */

static int msr_read(struct exec *x, uint32_t msr, uint64_t *v)
{
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    if (!x->ctx->ops->rdmsr)
        return exec_unhandled(x, "RDMSR needs the rdmsr callback");
    int cb = x->ctx->ops->rdmsr(x->ctx->opaque, msr, v, &exc);
    return cb == HVEMU_CB_OK ? X_OK : exec_cb_fault(x, cb, &exc);
}

static int msr_write(struct exec *x, uint32_t msr, uint64_t v)
{
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    if (!x->ctx->ops->wrmsr)
        return exec_unhandled(x, "WRMSR needs the wrmsr callback");
    int cb = x->ctx->ops->wrmsr(x->ctx->opaque, msr, v, &exc);
    return cb == HVEMU_CB_OK ? X_OK : exec_cb_fault(x, cb, &exc);
}

/* RDMSR/WRMSR: ECX selects, EDX:EAX is the value. IA32_FS_BASE and IA32_GS_BASE are the segment
 * bases in the state; every other MSR is the embedder's (callbacks). After a WRMSR of EFER,
 * whose value the state mirrors, HVEMU_PART_EFER is dropped from `valid`, so the next
 * instruction that needs it asks load_state for what the embedder made of the write. */
int exec_rdmsr_wrmsr(struct exec *x)
{
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    uint32_t msr = (uint32_t)gpr_get(x, HVEMU_RCX);
    int fs = msr == MSR_FS_BASE, gs = msr == MSR_GS_BASE;
    uint64_t v;
    if (x->in->mnemonic == HV_MN_RDMSR) {
        if (fs || gs) {
            v = seg_base(x, fs ? HVEMU_FS : HVEMU_GS);
        } else if ((rc = msr_read(x, msr, &v)) != X_OK) {
            return rc;
        }
        gpr_set_sized(x, HVEMU_RAX, 4, v & 0xffffffffu);
        gpr_set_sized(x, HVEMU_RDX, 4, v >> 32);
        return X_OK;
    }
    v = (gpr_get(x, HVEMU_RDX) << 32) | (gpr_get(x, HVEMU_RAX) & 0xffffffffu);
    if (fs || gs) {
        if (!is_canonical(v))
            return exec_gp0(x);
        sys_stage(x, fs ? SYSREG_FS_BASE : SYSREG_GS_BASE, v, 0);
        return X_OK;
    }
    if ((rc = msr_write(x, msr, v)) != X_OK)
        return rc;
    if (msr == MSR_EFER)
        sys_stage(x, SYSREG_DROP_VALID, HVEMU_PART_EFER, 0);
    return X_OK;
}

/* SWAPGS: GS.base <-> IA32_KERNEL_GS_BASE (an MSR: the callbacks). */
int exec_swapgs(struct exec *x)
{
    uint64_t kernel;
    if (x->mode) /* 64-bit mode only */
        return exec_ud(x);
    int rc = need_cpl0(x);
    if (rc != X_OK || (rc = msr_read(x, MSR_KERNEL_GS_BASE, &kernel)) != X_OK)
        return rc;
    uint64_t user = seg_base(x, HVEMU_GS);
    if (x->state_missing)
        return X_UNHANDLED;
    if ((rc = msr_write(x, MSR_KERNEL_GS_BASE, user)) != X_OK)
        return rc;
    sys_stage(x, SYSREG_GS_BASE, kernel, 0);
    return X_OK;
}

/* RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE: any CPL, #UD unless CR4.FSGSBASE; a 32-bit operand reads
 * the low half and writes the base zero-extended; a 64-bit one must be canonical. */
int exec_fsgsbase(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned mn = in->mnemonic;
    unsigned seg = (mn == HV_MN_RDFSBASE || mn == HV_MN_WRFSBASE) ? HVEMU_FS : HVEMU_GS;
    const struct hvemu_operand *r = &in->op[0];
    if (x->mode) /* 64-bit mode only */
        return exec_ud(x);
    if (exec_need(x, HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    if (!(x->s->cr4 & CR4_FSGSBASE))
        return exec_ud(x);
    if (mn == HV_MN_RDFSBASE || mn == HV_MN_RDGSBASE) {
        gpr_set_sized(x, r->u.reg.idx, r->size, seg_base(x, seg) & size_mask(r->size));
        return X_OK;
    }
    uint64_t v = gpr_get(x, r->u.reg.idx) & size_mask(r->size);
    if (!is_canonical(v))
        return exec_gp0(x);
    sys_stage(x, seg == HVEMU_FS ? SYSREG_FS_BASE : SYSREG_GS_BASE, v, 0);
    return X_OK;
}

/* ---- XGETBV / XSETBV ---- */

int exec_xgetbv(struct exec *x)
{
    if (exec_need(x, HVEMU_PART_CR4 | HVEMU_PART_XCR0) != X_OK)
        return X_UNHANDLED;
    if (!(x->s->cr4 & CR4_OSXSAVE))
        return exec_ud(x);
    uint32_t n = (uint32_t)gpr_get(x, HVEMU_RCX);
    uint64_t v = x->s->xcr0;
    if (n == 1) {
        /* XINUSE, where CPUID.(0DH,1):EAX[2] enumerates it. hvemu does not track which
         * components are in their initial configuration; a set bit is allowed to mean "may
         * be in use" (SDM Vol. 1, 13.6), so every enabled component is reported. */
        int on, rc = cpuid_bit(x, 0xd, 1, EAX, 2, &on);
        if (rc != X_OK)
            return rc;
        if (!on)
            return exec_gp0(x);
    } else if (n != 0) {
        return exec_gp0(x);
    }
    gpr_set_sized(x, HVEMU_RAX, 4, v & 0xffffffffu);
    gpr_set_sized(x, HVEMU_RDX, 4, v >> 32);
    return X_OK;
}

/* XSETBV: XCR0 := EDX:EAX, with the architectural consistency rules (SDM Vol. 1, 13.3) and only
 * components the CPU supports (CPUID.(0DH,0):EDX:EAX). */
int exec_xsetbv(struct exec *x)
{
    uint32_t lo = 0, hi = 0;
    int rc;
    if (exec_need(x, HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    if (!(x->s->cr4 & CR4_OSXSAVE))
        return exec_ud(x);
    if ((rc = need_cpl0(x)) != X_OK)
        return rc;
    if ((uint32_t)gpr_get(x, HVEMU_RCX) != 0)
        return exec_gp0(x);
    uint64_t v = (gpr_get(x, HVEMU_RDX) << 32) | (gpr_get(x, HVEMU_RAX) & 0xffffffffu);
    if ((rc = cpuid_reg(x, 0xd, 0, EAX, &lo)) != X_OK || (rc = cpuid_reg(x, 0xd, 0, EDX, &hi)) != X_OK)
        return rc;
    uint64_t supported = ((uint64_t)hi << 32) | lo;
    if ((v & ~supported) || !(v & XCR0_X87) || ((v & XCR0_AVX) && !(v & XCR0_SSE)))
        return exec_gp0(x);
    if ((v & XCR0_AVX512) && ((v & XCR0_AVX512) != XCR0_AVX512 || !(v & XCR0_AVX)))
        return exec_gp0(x);
    if ((v & XCR0_MPX) && (v & XCR0_MPX) != XCR0_MPX)
        return exec_gp0(x);
    if ((v & XCR0_AMX) && (v & XCR0_AMX) != XCR0_AMX)
        return exec_gp0(x);
    if (!hvemu_xcr0_apx_ok(v))
        return exec_gp0(x);
    sys_stage(x, SYSREG_XCR0, v, 0);
    return X_OK;
}

/* ---- instructions whose effect is the embedder's: result.event ---- */

/* HLT, WBINVD, WBNOINVD, INVD: ring 0 only; INVLPG also names a linear address (never
 * accessed: INVLPG does not fault on it). */
int exec_event(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    switch (in->mnemonic) {
    case HV_MN_HLT: x->res->event = HVEMU_EVENT_HALT; break;
    case HV_MN_WBINVD: x->res->event = HVEMU_EVENT_WBINVD; break;
    case HV_MN_WBNOINVD: x->res->event = HVEMU_EVENT_WBNOINVD; break;
    case HV_MN_INVD: x->res->event = HVEMU_EVENT_INVD; break;
    default: { /* INVLPG m */
        struct hvemu_mem m = in->op[0].u.mem;
        uint64_t la;
        if ((rc = mem_linear(x, &m, &la)) != X_OK)
            return rc;
        x->res->event = HVEMU_EVENT_INVLPG;
        x->res->event_addr = la;
        break;
    }
    }
    return X_OK;
}

/* ---- fast system calls: SYSCALL, SYSRET, SYSENTER, SYSEXIT ---- */

#define MSR_SYSENTER_CS  0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_STAR         0xC0000081u
#define MSR_LSTAR        0xC0000082u
#define MSR_FMASK        0xC0000084u

/* The flat segments these instructions load, in the VMX access-rights layout: code (type 11,
 * S, P, G and L or D) and data (type 3, S, P, B, G), at a DPL. */
static void stage_flat(struct exec *x, unsigned seg, uint16_t sel, uint32_t attr)
{
    struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + seg, 0, 0xffffffffu);
    w->selector = sel;
    w->attr = attr;
}
#define FLAT_CODE64(dpl) (0xa09bu | ((dpl) << 5))
#define FLAT_CODE32(dpl) (0xc09bu | ((dpl) << 5))
#define FLAT_DATA(dpl)   (0xc093u | ((dpl) << 5))

int exec_syscall(struct exec *x)
{
    if (x->mode) /* written for 64-bit mode; the others differ (vendor rules, sizes) */
        return exec_unhandled(x, "instruction outside 64-bit mode: not executed yet");
    uint64_t star, lstar, fmask;
    int rc;
    if (exec_need(x, HVEMU_PART_EFER) != X_OK)
        return X_UNHANDLED;
    if (!(x->s->efer & EFER_SCE))
        return exec_ud(x);
    if ((rc = msr_read(x, MSR_STAR, &star)) != X_OK || (rc = msr_read(x, MSR_LSTAR, &lstar)) != X_OK ||
        (rc = msr_read(x, MSR_FMASK, &fmask)) != X_OK)
        return rc;
    uint16_t cs = (uint16_t)(star >> 32);
    gpr_set_sized(x, HVEMU_RCX, 8, x->rip_next);
    gpr_set_sized(x, HVEMU_R11, 8, x->new_rflags);
    x->new_rflags &= ~(fmask & 0xffffffffu);
    x->new_rflags &= ~(uint64_t)HVEMU_FLAG_RF;
    x->new_rip = lstar;
    stage_flat(x, HVEMU_CS, (uint16_t)(cs & 0xfffc), FLAT_CODE64(0));
    stage_flat(x, HVEMU_SS, (uint16_t)(cs + 8), FLAT_DATA(0));
    return X_OK;
}

/* Vendor rules differ here: Intel raises #GP(0) in ring 0 for a non-canonical RCX and loads
 * SS's attributes; AMD returns to the non-canonical RIP (the fault comes with the fetch, at
 * CPL 3) and leaves SS's hidden attributes as they were (Linux's X86_BUG_SYSRET_SS_ATTRS). */
int exec_sysret(struct exec *x)
{
    if (x->mode) /* written for 64-bit mode; the others differ (vendor rules, sizes) */
        return exec_unhandled(x, "instruction outside 64-bit mode: not executed yet");
    uint64_t star;
    int amd, rc;
    if (exec_need(x, HVEMU_PART_EFER | HVEMU_PART_SEG(HVEMU_SS)) != X_OK)
        return X_UNHANDLED;
    if (!(x->s->efer & EFER_SCE))
        return exec_ud(x);
    if ((rc = need_cpl0(x)) != X_OK || (rc = cpu_is_amd(x, &amd)) != X_OK)
        return rc;
    int q = x->in->rex_w;
    uint64_t rip = q ? gpr_get(x, HVEMU_RCX) : gpr_get(x, HVEMU_RCX) & 0xffffffffu;
    if (q && !is_canonical(rip) && !amd)
        return exec_gp0(x);
    if ((rc = msr_read(x, MSR_STAR, &star)) != X_OK)
        return rc;
    uint16_t base = (uint16_t)(star >> 48);
    x->new_rip = rip;
    x->new_rflags = (gpr_get(x, HVEMU_R11) & 0x3c7fd7u) | 2;
    stage_flat(x, HVEMU_CS, (uint16_t)((q ? base + 16 : base) | 3), q ? FLAT_CODE64(3) : FLAT_CODE32(3));
    if (amd) {
        struct hvemu_segment ss = x->s->seg[HVEMU_SS];
        struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + HVEMU_SS, ss.base, ss.limit);
        w->selector = (uint16_t)((base + 8) | 3);
        w->attr = ss.attr;
    } else {
        stage_flat(x, HVEMU_SS, (uint16_t)((base + 8) | 3), FLAT_DATA(3));
    }
    return X_OK;
}

/* SYSENTER/SYSEXIT in 64-bit mode: Intel only; AMD raises #UD in long mode. */
int exec_sysenter_sysexit(struct exec *x)
{
    if (x->mode) /* written for 64-bit mode; the others differ (vendor rules, sizes) */
        return exec_unhandled(x, "instruction outside 64-bit mode: not executed yet");
    uint64_t cs, v;
    int amd, rc;
    if ((rc = cpu_is_amd(x, &amd)) != X_OK)
        return rc;
    if (amd)
        return exec_ud(x);
    int exit = x->in->mnemonic == HV_MN_SYSEXIT;
    if (exit && (rc = need_cpl0(x)) != X_OK)
        return rc;
    if ((rc = msr_read(x, MSR_SYSENTER_CS, &cs)) != X_OK)
        return rc;
    if ((cs & 0xfffc) == 0)
        return exec_gp0(x);
    if (!exit) {
        uint64_t esp, eip;
        if ((rc = msr_read(x, MSR_SYSENTER_ESP, &esp)) != X_OK || (rc = msr_read(x, MSR_SYSENTER_EIP, &eip)) != X_OK)
            return rc;
        x->new_rflags &= ~(uint64_t)(HVEMU_FLAG_IF | HVEMU_FLAG_RF | (1u << 17) /* VM */);
        x->new_rip = eip;
        gpr_set_sized(x, HVEMU_RSP, 8, esp);
        stage_flat(x, HVEMU_CS, (uint16_t)(cs & 0xfffc), FLAT_CODE64(0));
        stage_flat(x, HVEMU_SS, (uint16_t)((cs & 0xfffc) + 8), FLAT_DATA(0));
        return X_OK;
    }
    int q = x->in->rex_w;
    v = gpr_get(x, HVEMU_RDX);
    uint64_t rsp = gpr_get(x, HVEMU_RCX);
    if (q) {
        if (!is_canonical(v) || !is_canonical(rsp))
            return exec_gp0(x);
    } else {
        v &= 0xffffffffu;
        rsp &= 0xffffffffu;
    }
    x->new_rip = v;
    gpr_set_sized(x, HVEMU_RSP, 8, rsp);
    stage_flat(x, HVEMU_CS, (uint16_t)((cs + (q ? 32 : 16)) | 3), q ? FLAT_CODE64(3) : FLAT_CODE32(3));
    stage_flat(x, HVEMU_SS, (uint16_t)((cs + (q ? 40 : 24)) | 3), FLAT_DATA(3));
    return X_OK;
}

/* ---- IF and AC: CLI, STI, CLAC, STAC ---- */

/* CLI/STI: allowed when CPL <= IOPL; at CPL 3 with CR4.PVI they change VIF instead (STI: #GP if
 * VIP is set); otherwise #GP(0). An STI that sets IF blocks interrupts for one instruction. */
int exec_cli_sti(struct exec *x)
{
    int sti = x->in->mnemonic == HV_MN_STI;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    unsigned c = exec_cpl(x), iopl = (unsigned)(x->new_rflags >> 12) & 3;
    if (c <= iopl) {
        if (sti && !(x->new_rflags & HVEMU_FLAG_IF))
            x->res->event = HVEMU_EVENT_STI_SHADOW;
        flags_set(x, HVEMU_FLAG_IF, sti ? HVEMU_FLAG_IF : 0);
        return X_OK;
    }
    if (c == 3 && (x->s->cr4 & CR4_PVI)) {
        if (sti && (x->new_rflags & HVEMU_FLAG_VIP))
            return exec_gp0(x);
        flags_set(x, HVEMU_FLAG_VIF, sti ? HVEMU_FLAG_VIF : 0);
        return X_OK;
    }
    return exec_gp0(x);
}

/* CLAC/STAC (SMAP): ring 0 only, #UD elsewhere. */
int exec_clac_stac(struct exec *x)
{
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    if (exec_cpl(x))
        return exec_ud(x);
    flags_set(x, HVEMU_FLAG_AC, x->in->mnemonic == HV_MN_STAC ? HVEMU_FLAG_AC : 0);
    return X_OK;
}

/* INVPCID type, [descriptor]: ring 0; the 16-byte descriptor is PCID (bits 11:0, the rest of
 * its first 8 bytes reserved) and a linear address. The invalidation is the embedder's. */
int exec_invpcid(struct exec *x)
{
    if (x->mode) /* written for 64-bit mode; the others differ (vendor rules, sizes) */
        return exec_unhandled(x, "instruction outside 64-bit mode: not executed yet");
    uint64_t desc[2];
    int rc = need_cpl0(x);
    if (rc != X_OK)
        return rc;
    uint64_t type = gpr_get(x, x->in->op[0].u.reg.idx);
    if ((rc = op_read_mem(x, 1, 0, desc, 16)) != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_CR4) != X_OK)
        return X_UNHANDLED;
    uint64_t pcid = desc[0] & 0xfff;
    if (type > 3 || (desc[0] >> 12))
        return exec_gp0(x);
    if (type <= 1 && pcid && !(x->s->cr4 & CR4_PCIDE))
        return exec_gp0(x);
    if (type == 0 && !is_canonical(desc[1]))
        return exec_gp0(x);
    x->res->event = HVEMU_EVENT_INVPCID;
    x->res->event_arg = (uint32_t)(type | (pcid << 16));
    x->res->event_addr = type == 0 ? desc[1] : 0;
    return X_OK;
}
