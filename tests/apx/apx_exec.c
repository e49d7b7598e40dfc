/* SPDX-License-Identifier: MIT */
/*
 * APX execution against the host CPU. The host has no APX, so every APX instruction is run by
 * hvemu and its documented legacy equivalent is run natively (tests/hostdiff/native.c) on the
 * same state:
 *
 *   - EGPRs are mapped onto legacy registers: register n of the APX form is register n & 15 of
 *     the legacy form, and hvemu's state mirrors the host's (r16+i holds what register i holds).
 *     Every case uses distinct legacy registers, so the mapping is one-to-one and the register
 *     the host writes tells which of i / 16+i hvemu must write.
 *   - REX2 legacy forms: the same instruction with REX (the bit-4 register bits dropped).
 *   - EVEX map 4, ND=0: the legacy instruction; NF: the same, with RFLAGS expected unchanged.
 *   - NDD (ND=1): the legacy instruction on src1, whose result (what the host wrote to src1, a
 *     register or memory) is expected zero-extended in the new destination (EVEX.vvvv); src1
 *     itself, and memory, unchanged. SETZUcc/IMULZU: the legacy result, upper bits zeroed.
 *   - CCMPscc/CTESTscc: CMP/TEST natively; flags from it when the source condition holds, else
 *     from the default flag values (PF = CF, AF = 0); a fault is a fault either way.
 *   - CFCMOVcc: MOV natively when the condition holds; when it does not, no access and no fault
 *     (memory operands are aimed at faulting addresses too), a register destination 0.
 *   - PUSH2/POP2 (and PPX): two PUSH / two POP natively; a misaligned RSP is #GP(0).
 *   - JMPABS: JMP [RIP+disp32] natively with the target in memory.
 *   - EVEX BMI1/BMI2 (with NF): the VEX form natively.
 *   - EVEX KMOV and VMOVD/VMOVQ with EGPR operands or addresses: the VEX form natively, with
 *     random vector and opmask state compared whole.
 * Plus the gating: every APX form is #UD while XCR0[19] (or CR4.OSXSAVE) is clear, and the
 * EGPR values survive APX off and on again (the KVM EGPR-switch scenario), XSAVE component 19
 * round trips, and the XCR0 APX/MPX rule.
 *
 * usage: apx_exec [--cases N] [--seed S] [--verbose] [--coverage]   (default 150000 cases;
 * --coverage lists the cases per mnemonic, operand size and register/memory form)
 */
#include "hvemu.h"
#include "exec/exec.h"
#include "native.h"
#include "undef_flags.h"
#include "../unit/testlib.h"

#include <inttypes.h>
#include <stdlib.h>

#include "native_skip.h"
#include "window_mem.h" /* hmem, in_window(), hops: hvemu's memory over the window */

/* ---- random ---- */

#define RNG_DEFAULT_SEED 0x5DEECE66Dull
#include "test_random.h"

/* ---- one comparison ---- */

static struct native_state hinit, hout;
static struct hvemu_state hs;
static hvemu_features feat_all;
/* The features the host's CPUID enumerates, APX off: a legacy equivalent the host does not
 * have cannot be run natively, so those forms are not drawn. */
static hvemu_features feat_host;
static int verbose;

struct expect {
    int fault;              /* an exception is expected */
    int vector;
    uint64_t cr2;           /* #PF only */
    uint64_t gpr[32];
    uint64_t gmask[32];     /* bits compared */
    uint64_t rflags, fmask;
    uint64_t rip;
    uint8_t mem[NATIVE_MEM_SIZE];
    int vec;                /* the vector state below is compared too */
    uint8_t zmm[32][64];
    uint64_t k[8];
};
static struct expect ex;

struct stats {
    uint64_t cases, faults, mismatches;
};
static struct stats st_rex2, st_map4, st_ccmp, st_cfcmov, st_push2, st_jmpabs, st_bmi, st_simd;

static void hexs(const uint8_t *b, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        out += sprintf(out, "%02x", b[i]);
    *out = 0;
}

/* The state every case starts from: random registers (edge-biased), flags, memory. */
static void random_host_state(void)
{
    for (unsigned i = 0; i < 16; i++)
        hinit.gpr[i] = edge_value();
    hinit.rflags = rnd() & 0x8d5;
    for (unsigned i = 0; i < NATIVE_MEM_SIZE; i += 8) {
        uint64_t v = edge_value();
        memcpy(hinit.mem + i, &v, 8);
    }
    hinit.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR + 0x1000 + (rnd() % 64) * 8;
    hinit.fs_base = hinit.gs_base = 0;
}

/* hvemu's state: the host's, mirrored into r16..r31 (r16+i = register i). */
static void hvemu_state_from_host(int apx_on)
{
    memset(&hs, 0, offsetof(struct hvemu_state, vec));
    hs.valid = HVEMU_PART_ALL;
    for (unsigned i = 0; i < 32; i++)
        hs.gpr[i] = hinit.gpr[i & 15];
    hs.rip = NATIVE_CODE_ADDR;
    hs.rflags = hinit.rflags | 0x202;
    hs.cr0 = 0x80050033;
    hs.cr4 = 0x3506f0 | (apx_on ? 0x40000 : 0);
    hs.xcr0 = 0x7 | (apx_on ? HVEMU_XCR0_APX : 0);
    hs.efer = 0xd01;
    hs.seg[HVEMU_CS].selector = 0x33;
    hs.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0xfb;
    hs.seg[HVEMU_SS].selector = 0x2b;
    memcpy(hmem, hinit.mem, NATIVE_MEM_SIZE);
}

/* Expected: nothing changes (the starting point of every model). */
static void expect_unchanged(unsigned apx_len)
{
    ex.fault = 0;
    for (unsigned i = 0; i < 32; i++) {
        ex.gpr[i] = hinit.gpr[i & 15];
        ex.gmask[i] = ~0ull;
    }
    ex.rflags = hinit.rflags;
    ex.fmask = NATIVE_RFLAGS_MASK;
    ex.rip = NATIVE_CODE_ADDR + apx_len;
    memcpy(ex.mem, hinit.mem, NATIVE_MEM_SIZE);
    ex.vec = hinit.vec;
    if (ex.vec) {
        memcpy(ex.zmm, hinit.zmm, sizeof ex.zmm);
        memcpy(ex.k, hinit.k, sizeof ex.k);
    }
}

static void expect_fault_from(const struct native_fault *nf)
{
    ex.fault = 1;
    ex.vector = nf->vector;
    if (nf->signo == 7 /* SIGBUS */ && ex.vector < 0)
        ex.vector = HVEMU_EXC_AC;
    ex.cr2 = nf->fault_addr;
}

/* Which hvemu register holds legacy register i in this instruction: the EGPR among its
 * register operands (memory base/index included) whose low four bits are i, else i. */
static unsigned target_of(const struct hvemu_insn *in, unsigned i, int skip_op0)
{
    for (unsigned k = skip_op0 ? 1 : 0; k < in->noperands; k++) {
        const struct hvemu_operand *op = &in->op[k];
        if (op->kind == HVEMU_OP_REG && op->u.reg.cls >= HVEMU_REG_GPR8 &&
            op->u.reg.cls <= HVEMU_REG_GPR64 && op->u.reg.idx >= 16 && (op->u.reg.idx & 15) == i)
            return op->u.reg.idx;
        if (op->kind == HVEMU_OP_MEM) {
            if (op->u.mem.base_class != HVEMU_REG_NONE && op->u.mem.base_class != HVEMU_REG_RIP &&
                op->u.mem.base >= 16 && (op->u.mem.base & 15) == i)
                return op->u.mem.base;
            if (op->u.mem.index_class != HVEMU_REG_NONE && op->u.mem.index >= 16 &&
                (op->u.mem.index & 15) == i)
                return op->u.mem.index;
        }
    }
    return i;
}

/* Expected from the host's run of the legacy equivalent (hout), registers mapped back. */
static void expect_from_host(const struct hvemu_insn *in, int skip_op0, unsigned host_len)
{
    expect_unchanged(in->length);
    for (unsigned i = 0; i < 16; i++)
        if (hout.gpr[i] != hinit.gpr[i])
            ex.gpr[target_of(in, i, skip_op0)] = hout.gpr[i];
    ex.rflags = hout.rflags;
    memcpy(ex.mem, hout.mem, NATIVE_MEM_SIZE);
    if (ex.vec) {
        memcpy(ex.zmm, hout.zmm, sizeof ex.zmm);
        memcpy(ex.k, hout.k, sizeof ex.k);
    }
    if (hout.rip != NATIVE_CODE_ADDR + host_len)
        ex.rip = hout.rip; /* a branch */
}

/* The linear address of a memory operand on the initial state (mirrored registers). */
static uint64_t mem_addr(const struct hvemu_mem *m, unsigned len)
{
    uint64_t a = (uint64_t)m->disp;
    if (m->base_class == HVEMU_REG_RIP)
        a += NATIVE_CODE_ADDR + len;
    else if (m->base_class != HVEMU_REG_NONE)
        a += hinit.gpr[m->base & 15];
    if (m->index_class != HVEMU_REG_NONE)
        a += hinit.gpr[m->index & 15] * m->scale;
    if (m->addr_size == 4)
        a &= 0xffffffffu;
    return a;
}

/* Coverage: cases per (form label, mnemonic, operand size, register/memory). */
#define MAX_LABELS 16
static const char *labels[MAX_LABELS];
static unsigned nlabels;
static uint32_t cov[MAX_LABELS][HV_MN_COUNT][4][2];
static int list_coverage;

static void note_coverage(const char *what, const uint8_t *apx, unsigned len)
{
    unsigned l = 0;
    while (l < nlabels && strcmp(labels[l], what))
        l++;
    if (l == nlabels) {
        if (nlabels == MAX_LABELS)
            return;
        labels[nlabels++] = what;
    }
    struct hvemu_insn in;
    if (hvemu_decode(apx, len, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK)
        return;
    unsigned mem = 0, sz = 0, size = in.noperands ? in.op[0].size : 8;
    for (unsigned i = 0; i < in.noperands; i++)
        mem |= in.op[i].kind == HVEMU_OP_MEM;
    if (in.noperands > 1 && in.op[0].kind == HVEMU_OP_REG && in.evex_nd)
        size = in.op[1].size;
    sz = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
    cov[l][in.mnemonic][sz][mem]++;
}

static void print_coverage(void)
{
    static const char *const sizes[] = {"8", "16", "32", "64"};
    for (unsigned l = 0; l < nlabels; l++) {
        unsigned forms = 0, mns = 0;
        char line[4096];
        size_t n = 0;
        line[0] = 0;
        for (unsigned m = 0; m < HV_MN_COUNT; m++) {
            unsigned here = 0;
            for (unsigned z = 0; z < 4; z++)
                for (unsigned k = 0; k < 2; k++)
                    if (cov[l][m][z][k]) {
                        forms++;
                        here++;
                        if (list_coverage)
                            printf("  %-14s %-12s %-3s %-3s %u\n", labels[l], hvemu_mnemonic_name(m),
                                   sizes[z], k ? "mem" : "reg", cov[l][m][z][k]);
                    }
            if (here) {
                mns++;
                if (n < sizeof line - 40)
                    n += (size_t)snprintf(line + n, sizeof line - n, " %s", hvemu_mnemonic_name(m));
            }
        }
        printf("forms %-14s %3u mnemonics, %4u (mnemonic, size, reg/mem) forms:%s\n", labels[l], mns,
               forms, line);
    }
}

/* The vector registers and opmasks against `ex` (when the case set them up). */
static void vec_check(char *why, size_t n)
{
    if (why[0] || !ex.vec)
        return;
    for (unsigned i = 0; i < 32; i++)
        if (memcmp(hs.vec[i].b, ex.zmm[i], 64)) {
            snprintf(why, n, "zmm%u differs", i);
            return;
        }
    for (unsigned i = 0; i < 8; i++)
        if (hs.k[i] != ex.k[i]) {
            snprintf(why, n, "k%u: expected %" PRIx64 ", hvemu %" PRIx64, i, ex.k[i], hs.k[i]);
            return;
        }
}

/* Run hvemu on the APX bytes and compare with `ex`. Returns 1 on a mismatch. */
static int compare(const uint8_t *apx, unsigned len, const char *what, struct stats *stt,
                   const uint8_t *host, unsigned hlen)
{
    struct hvemu_ctx ctx;
    struct hvemu_result res;
    hvemu_init(&ctx, &hops, NULL, &hs);
    int hr = hvemu_emulate_bytes(&ctx, apx, len, &res);
    char why[256] = "";
    /* documented refusal (as in tests/hostdiff): a locked RMW that crosses a page is never done
     * non-atomically */
    if (hr == HVEMU_UNHANDLEABLE && res.reason && !strncmp(res.reason, "locked access crosses a page", 28))
        return 0;
    stt->cases++;
    note_coverage(what, apx, len);
    if (ex.fault) {
        stt->faults++;
        if (hr != HVEMU_EXCEPTION)
            snprintf(why, sizeof why, "expected vector %d, hvemu status %d (%s)", ex.vector, hr,
                     hr == HVEMU_UNHANDLEABLE ? res.reason : "");
        else if (res.exc.vector != ex.vector)
            snprintf(why, sizeof why, "vector: expected %d, hvemu %u", ex.vector, res.exc.vector);
        else if (ex.vector == HVEMU_EXC_PF && res.exc.cr2 != ex.cr2)
            snprintf(why, sizeof why, "#PF address: expected %" PRIx64 ", hvemu %" PRIx64, ex.cr2, res.exc.cr2);
        for (unsigned i = 0; i < 32 && !why[0]; i++)
            if (hs.gpr[i] != hinit.gpr[i & 15])
                snprintf(why, sizeof why, "after the fault, r%u changed", i);
        if (!why[0] && (hs.rip != NATIVE_CODE_ADDR || memcmp(hmem, hinit.mem, NATIVE_MEM_SIZE)))
            snprintf(why, sizeof why, "after the fault, rip or memory changed");
        vec_check(why, sizeof why);
    } else if (hr != HVEMU_OK) {
        snprintf(why, sizeof why, "expected completion, hvemu status %d vector %u (%s %s)", hr,
                 res.exc.vector, res.reason ? res.reason : "", res.detail);
    } else {
        for (unsigned i = 0; i < 32 && !why[0]; i++)
            if ((hs.gpr[i] ^ ex.gpr[i]) & ex.gmask[i])
                snprintf(why, sizeof why, "r%u: expected %016" PRIx64 ", hvemu %016" PRIx64, i,
                         ex.gpr[i], hs.gpr[i]);
        if (!why[0] && ((hs.rflags ^ ex.rflags) & ex.fmask))
            snprintf(why, sizeof why, "rflags: expected %" PRIx64 ", hvemu %" PRIx64 " (mask %" PRIx64 ")",
                     ex.rflags & NATIVE_RFLAGS_MASK, hs.rflags & NATIVE_RFLAGS_MASK, ex.fmask);
        if (!why[0] && hs.rip != ex.rip)
            snprintf(why, sizeof why, "rip: expected %" PRIx64 ", hvemu %" PRIx64, ex.rip, hs.rip);
        vec_check(why, sizeof why);
        if (!why[0] && memcmp(hmem, ex.mem, NATIVE_MEM_SIZE)) {
            unsigned k = 0;
            while (hmem[k] == ex.mem[k])
                k++;
            snprintf(why, sizeof why, "memory at +%#x: expected %02x, hvemu %02x", k, ex.mem[k], hmem[k]);
        }
    }
    if (!why[0])
        return 0;
    stt->mismatches++;
    if (stt->mismatches <= 12 || verbose) {
        char a[40], h[40];
        struct hvemu_insn in;
        hexs(apx, len, a);
        hexs(host, hlen, h);
        hvemu_decode(apx, len, HVEMU_MODE_64, &feat_all, &in);
        printf("MISMATCH %s %s %s (host %s): %s\n  state:", what, hvemu_mnemonic_name(in.mnemonic), a, h, why);
        for (unsigned i = 0; i < 16; i++)
            printf(" %" PRIx64, hinit.gpr[i]);
        printf(" fl=%" PRIx64 "\n", hinit.rflags);
    }
    return 1;
}

/* ---- operand registers: one-to-one onto legacy registers ---- */

/* Pick a register 0..31 whose low four bits are not in *used (nor in `avoid`), and mark them. */
static unsigned pick_reg(uint32_t *used, uint32_t avoid)
{
    for (;;) {
        unsigned r = (unsigned)(rnd() % 32);
        if ((*used | avoid) & (1u << (r & 15)))
            continue;
        *used |= 1u << (r & 15);
        return r;
    }
}

/* ModRM/SIB/displacement for a register or memory r/m; the memory operand is aimed at the
 * window (sometimes at its faulting edges or a non-canonical address) through the host state. */
struct rm_form {
    int is_mem;
    unsigned reg, rm, base, index, scale;
    uint8_t bytes[8];
    unsigned n;
    int64_t disp;
};

static void make_rm(struct rm_form *f, uint32_t *used, uint32_t avoid, int mem)
{
    f->is_mem = mem;
    f->n = 0;
    f->disp = 0;
    if (!mem) {
        f->rm = pick_reg(used, avoid);
        return;
    }
    /* base: never rsp/r12-style SIB-only or rbp-without-disp ambiguity (mod is 01 or 10) */
    /* rbp as a base means SS on the host, while r21 (its EGPR image) means DS: not rbp */
    f->base = pick_reg(used, avoid | (1u << 4) | (1u << 5) | (1u << 12));
    f->index = 0xff;
    if (rnd() % 2) {
        f->index = pick_reg(used, avoid | (1u << 4)); /* index 4 (and 20) means none */
        f->scale = 1u << (rnd() % 4);
    }
    f->disp = (rnd() % 2) ? (int8_t)rnd() : (int32_t)(rnd() % 0x400) - 0x200;
}

/* Aim the memory operand: sets the host's base (and index) so the address is `target`. */
static void aim(struct rm_form *f, uint64_t target)
{
    uint64_t idx = 0;
    if (f->index != 0xff) {
        hinit.gpr[f->index & 15] = rnd() % 16;
        idx = hinit.gpr[f->index & 15] * f->scale;
    }
    hinit.gpr[f->base & 15] = target - (uint64_t)f->disp - idx;
}

static uint64_t random_target(int hostile)
{
    uint64_t t = NATIVE_MEM_ADDR + 0x100 + rnd() % 0x1800;
    if (hostile || rnd() % 16 == 0)
        t = NATIVE_MEM_ADDR + NATIVE_MEM_SIZE - 1 - rnd() % 8; /* crosses into PROT_NONE */
    if (rnd() % 64 == 0 || (hostile && rnd() % 4 == 0))
        t ^= 0x8000000000000000ull; /* non-canonical */
    return t;
}

/* The ModRM byte (and SIB, displacement) with the low three bits of each register. */
static unsigned modrm_bytes(const struct rm_form *f, unsigned reg, uint8_t *out)
{
    unsigned n = 0;
    if (!f->is_mem) {
        out[n++] = (uint8_t)(0xc0 | ((reg & 7) << 3) | (f->rm & 7));
        return n;
    }
    int d8 = f->disp >= -128 && f->disp <= 127;
    unsigned mod = d8 ? 1 : 2;
    if (f->index != 0xff) {
        static const uint8_t ss[] = {0, 0, 1, 0, 2, 0, 0, 0, 3};
        out[n++] = (uint8_t)((mod << 6) | ((reg & 7) << 3) | 4);
        out[n++] = (uint8_t)((ss[f->scale] << 6) | ((f->index & 7) << 3) | (f->base & 7));
    } else {
        out[n++] = (uint8_t)((mod << 6) | ((reg & 7) << 3) | (f->base & 7));
    }
    if (d8) {
        out[n++] = (uint8_t)f->disp;
    } else {
        for (unsigned i = 0; i < 4; i++)
            out[n++] = (uint8_t)((uint64_t)f->disp >> (8 * i));
    }
    return n;
}

/* bit 3 and bit 4 of each encoded register of a form */
#define B3(r) (((r) >> 3) & 1)
#define B4(r) (((r) >> 4) & 1)

static unsigned rm_reg_of(const struct rm_form *f) { return f->is_mem ? f->base : f->rm; }
static unsigned idx_of(const struct rm_form *f) { return f->is_mem && f->index != 0xff ? f->index : 0; }

/* Host REX for a form: W R X B from bit 3 of the registers. */
static uint8_t rex_of(unsigned w, unsigned reg, const struct rm_form *f)
{
    return (uint8_t)(0x40 | (w << 3) | (B3(reg) << 2) | (B3(idx_of(f)) << 1) | B3(rm_reg_of(f)));
}

/* Run the host bytes on hinit into hout. Returns native_run's result; *nf the fault. */
static int host_run(const uint8_t *b, unsigned n, struct native_fault *nf)
{
    hout = hinit;
    return native_run(b, n, &hout, nf);
}

/* Random vector state for a case with vector operands (hinit.vec until the case ends). */
static void random_vec_state(void)
{
    hinit.vec = 1;
    hinit.mxcsr = 0x1f80;
    for (unsigned i = 0; i < 32; i++)
        for (unsigned j = 0; j < 64; j += 8) {
            uint64_t v = edge_value();
            memcpy(&hinit.zmm[i][j], &v, 8);
        }
    for (unsigned i = 0; i < 8; i++)
        hinit.k[i] = edge_value();
}

static uint64_t host_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* hvemu's vector state: the host's, with XCR0 as the host has it (plus APX). */
static void hvemu_vec_from_host(void)
{
    hs.xcr0 = (host_xcr0() & 0xe7) | HVEMU_XCR0_APX;
    memcpy(hs.vec, hinit.zmm, sizeof hs.vec);
    memcpy(hs.k, hinit.k, sizeof hs.k);
    hs.mxcsr = hinit.mxcsr;
}

static unsigned count_operand(const struct hvemu_insn *in)
{
    const struct hvemu_operand *last = &in->op[in->noperands - 1];
    if (last->kind == HVEMU_OP_IMM)
        return (unsigned)last->u.imm.imm;
    if (last->kind == HVEMU_OP_REG && last->u.reg.cls == HVEMU_REG_GPR8 && last->u.reg.idx == 1)
        return (unsigned)(hinit.gpr[1] & 0xff);
    return 0;
}

/* Mask the flags (and destination bits) the SDM leaves undefined for the legacy instruction. */
static void mask_undefined(const char *legacy_mn, const struct hvemu_insn *in, unsigned dest)
{
    uint64_t dmask = 0;
    unsigned width = 8 * in->op[dest].size;
    uint64_t src = 1;
    if (in->noperands > dest + 1 && in->op[dest + 1].kind == HVEMU_OP_REG)
        src = hinit.gpr[in->op[dest + 1].u.reg.idx & 15];
    uint32_t u = undef_flags_for(legacy_mn, width, in->noperands > 1 ? count_operand(in) : 0, src, &dmask);
    ex.fmask &= ~(uint64_t)u;
    (void)dmask;
}

/* ---- REX2 legacy forms ---- */

/* Mnemonics with implicit register operands: their EGPR operands must not alias those (the
 * mapping onto legacy registers would make them the same register on the host). */
static uint32_t implicit_regs(const char *mn)
{
    static const char *const acc[] = {"mul", "div", "idiv", "cbw", "cwde", "cdqe", "cwd", "cdq",
                                      "cqo", "cmpxchg", "lahf", "sahf", NULL};
    for (unsigned i = 0; acc[i]; i++)
        if (!strcmp(mn, acc[i]))
            return 0x0f;
    if (!strcmp(mn, "imul"))
        return 0x0f;
    if (!strncmp(mn, "push", 4) || !strncmp(mn, "pop", 3))
        return 0x30;
    return 0x10;
}

/* Besides the mnemonics no differential test runs natively (native_skip.h): the ones whose
 * REX2 forms the legacy mapping here does not model (branches and stack frames, implicit
 * registers, POPF's privilege rules, LZCNT's vendor fallback). */
static const char *const rex2_skip[] = {
    "hlt", "popf", "popfd", "popfq", "jmp", "call", "ret", "enter", "leave", "xlatb",
    "cmpxchg8b", "cmpxchg16b", "lzcnt", NULL,
};

/* one-byte map and 0F map opcodes the REX2 cases draw from (those with legacy handlers) */
static uint16_t rex2_ops[512];
static unsigned n_rex2_ops;

static void rex2_init(void)
{
    for (unsigned m = 0; m < 2; m++)
        for (unsigned op = 0; op < 256; op++) {
            int ok = 0;
            for (unsigned reg = 0; reg < 8 && !ok; reg++) {
                uint8_t b[12] = {0xd5, (uint8_t)(m << 7), (uint8_t)op, (uint8_t)(0xc0 | (reg << 3) | 1), 1, 2, 3, 4, 5, 6, 7, 8};
                struct hvemu_insn in;
                if (hvemu_decode(b, sizeof b, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK)
                    continue;
                b[3] = (uint8_t)(0x40 | (reg << 3) | 3);
                if (!hv_exec_handlers[in.mnemonic] &&
                    hvemu_decode(b, sizeof b, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK)
                    continue;
                ok = 1;
            }
            if (ok)
                rex2_ops[n_rex2_ops++] = (uint16_t)(m << 8 | op);
        }
}

static void rex2_case(void)
{
    uint16_t mo = rex2_ops[rnd() % n_rex2_ops];
    unsigned m0 = mo >> 8, op = mo & 0xff, w = (unsigned)(rnd() % 2);
    uint32_t used = 1u << 4;
    struct rm_form f;
    random_host_state();
    unsigned reg = (unsigned)(rnd() % 32);
    /* the reg field may also be an opcode extension: any value; the decoder says what it is */
    make_rm(&f, &used, 0, rnd() % 2);
    if ((used >> (reg & 15)) & 1)
        reg = (reg & 16) | ((reg + 1) & 15) ; /* keep it apart from the r/m registers */
    if ((used >> (reg & 15)) & 1)
        return;
    if (op >= 0x50 && op <= 0x5f && !m0) { /* +r opcodes: the register is B4:B3:opcode[2:0] */
        f.is_mem = 0;
        f.rm = pick_reg(&used, 1u << 4);
        op = (op & 0xf8) | (f.rm & 7);
    }
    static const uint8_t pfxs[] = {0, 0, 0, 0, 0, 0, 0x66, 0x66, 0xf0, 0x67};
    uint8_t pfx = pfxs[rnd() % sizeof pfxs];
    uint8_t apx[32], host[32], tail[8];
    unsigned na = 0, nh = 0, nt;
    unsigned plus_r = !m0 && ((op >= 0x50 && op <= 0x5f) || (op >= 0x91 && op <= 0x97) ||
                              (op >= 0xb0 && op <= 0xbf));
    if (plus_r && !(op >= 0x50 && op <= 0x5f)) {
        f.is_mem = 0;
        f.rm = pick_reg(&used, 1u << 4);
        op = (op & 0xf8) | (f.rm & 7);
        if (op == 0x90 || op == 0x98)
            return;
    }
    nt = plus_r ? 0 : modrm_bytes(&f, reg, tail);
    if (pfx)
        apx[na++] = host[nh++] = pfx;
    apx[na++] = 0xd5;
    apx[na++] = (uint8_t)((m0 << 7) | (B4(reg) << 6) | (B4(idx_of(&f)) << 5) | (B4(rm_reg_of(&f)) << 4) |
                          (w << 3) | (B3(reg) << 2) | (B3(idx_of(&f)) << 1) | B3(rm_reg_of(&f)));
    host[nh++] = rex_of(w, reg, &f);
    if (m0)
        host[nh++] = 0x0f;
    apx[na++] = host[nh++] = (uint8_t)op;
    for (unsigned i = 0; i < nt; i++)
        apx[na++] = host[nh++] = tail[i];
    for (unsigned i = 0; i < 8; i++)
        apx[na + i] = host[nh + i] = (uint8_t)rnd();
    struct hvemu_insn in, hin;
    if (hvemu_decode(apx, na + 8, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK ||
        hvemu_decode(host, nh + 8, HVEMU_MODE_64, &feat_host, &hin) != HVEMU_DECODE_OK)
        return;
    const char *mn = hvemu_mnemonic_name(in.mnemonic);
    if (native_skipped(mn))
        return;
    for (unsigned i = 0; rex2_skip[i]; i++)
        if (!strcmp(mn, rex2_skip[i]))
            return;
    if (!hv_exec_handlers[in.mnemonic] && in.mnemonic != HV_MN_PUSHP && in.mnemonic != HV_MN_POPP)
        return;
    if (in.length - na != hin.length - nh || (in.prefixes & HVEMU_PFX_SEG))
        return;
    if (in.map == 1 && in.opcode == 0x0d) /* reserved NOP on Intel, #UD on AMD: not compared */
        return;
    /* (MMX forms are not executed; SSE forms carry random vector state, compared whole) */
    int vec = 0;
    for (unsigned i = 0; i < in.noperands; i++) {
        if (in.op[i].kind == HVEMU_OP_REG && (in.op[i].u.reg.cls == HVEMU_REG_SEG ||
                                              in.op[i].u.reg.cls == HVEMU_REG_CR ||
                                              in.op[i].u.reg.cls == HVEMU_REG_DR ||
                                              in.op[i].u.reg.cls == HVEMU_REG_MM))
            return;
        /* (REX2.R4/B4 on an XMM operand are ignored: the decoder gives xmm0-15, the host form
         * drops them too) */
        if (in.op[i].kind == HVEMU_OP_REG && in.op[i].u.reg.cls == HVEMU_REG_XMM)
            vec = 1;
    }
    if (vec && native_vec_level() < 2)
        return;
    /* one-to-one mapping: no two operand registers share their low four bits, and no EGPR
     * operand sits on an implicit register */
    uint32_t imp = implicit_regs(mn);
    unsigned regs[8], nr = 0;
    for (unsigned i = 0; i < in.noperands; i++) {
        const struct hvemu_operand *o = &in.op[i];
        if (o->kind == HVEMU_OP_REG && o->u.reg.cls >= HVEMU_REG_GPR8 && o->u.reg.cls <= HVEMU_REG_GPR64)
            regs[nr++] = o->u.reg.idx;
        if (o->kind == HVEMU_OP_MEM) {
            if (o->u.mem.base_class != HVEMU_REG_NONE && o->u.mem.base_class != HVEMU_REG_RIP)
                regs[nr++] = o->u.mem.base;
            if (o->u.mem.index_class != HVEMU_REG_NONE)
                regs[nr++] = o->u.mem.index;
        }
    }
    for (unsigned i = 0; i < nr; i++) {
        for (unsigned j = 0; j < i; j++)
            if (regs[j] != regs[i] && (regs[j] & 15) == (regs[i] & 15))
                return;
        if (regs[i] >= 16 && ((imp >> (regs[i] & 15)) & 1))
            return;
    }
    na = in.length;
    nh = hin.length;
    if (f.is_mem) {
        aim(&f, random_target(0));
        if (!strncmp(mn, "bt", 2) && in.op[1].kind == HVEMU_OP_REG)
            hinit.gpr[in.op[1].u.reg.idx & 15] = (uint64_t)((int64_t)(rnd() % 1024) - 512);
    }
    if ((!strcmp(mn, "div") || !strcmp(mn, "idiv")) && rnd() % 2)
        hinit.gpr[HVEMU_RDX] = rnd() % 3 == 0 ? ~0ull : rnd() % 4;
    struct native_fault nf;
    if (vec)
        random_vec_state();
    int nr2 = host_run(host, nh, &nf);
    if (nr2 == NATIVE_TIMEOUT || nr2 < 0) {
        hinit.vec = 0;
        return;
    }
    hvemu_state_from_host(1);
    if (vec)
        hvemu_vec_from_host();
    if (nr2 == NATIVE_FAULT) {
        expect_unchanged(na);
        expect_fault_from(&nf);
    } else {
        expect_from_host(&in, 0, nh);
        uint64_t dmask = 0;
        unsigned width = in.noperands ? 8 * in.op[0].size : 64;
        uint64_t src = 1;
        if (in.noperands > 1 && in.op[1].kind == HVEMU_OP_REG)
            src = hinit.gpr[in.op[1].u.reg.idx & 15] & size_mask(in.op[1].size);
        if ((!strcmp(mn, "bsf") || !strcmp(mn, "bsr")) && in.op[1].kind == HVEMU_OP_MEM)
            src = (hout.rflags & HVEMU_FLAG_ZF) ? 0 : 1;
        ex.fmask &= ~(uint64_t)undef_flags_for(mn, width, in.noperands > 1 ? count_operand(&in) : 0, src, &dmask);
        if (in.noperands && in.op[0].kind == HVEMU_OP_REG)
            ex.gmask[in.op[0].u.reg.idx] &= ~dmask;
    }
    compare(apx, na, vec ? "rex2-sse" : "rex2", &st_rex2, host, nh);
    hinit.vec = 0;
}

/* ---- EVEX map 4 ---- */

/* The legacy equivalent of a map-4 opcode: escape (0 none, 1 0F, 2 0F38), opcode, mandatory
 * prefix. Returns 0 when the opcode is not compared here. */
static int legacy_of(unsigned op4, unsigned pp, const struct hvemu_insn *in, unsigned *esc,
                     unsigned *lop, unsigned *mpfx)
{
    *esc = 0;
    *lop = op4;
    *mpfx = 0;
    if (op4 <= 0x3b || (op4 >= 0x80 && op4 <= 0x85) || (op4 >= 0xc0 && op4 <= 0xd3) ||
        op4 == 0xf6 || op4 == 0xf7 || op4 == 0xfe || op4 == 0xff || op4 == 0x69 || op4 == 0x6b) {
        if (op4 == 0x24 || op4 == 0x2c) {
            *esc = 1;
            *lop = op4 == 0x24 ? 0xa4 : 0xac;
        }
        return 1;
    }
    switch (op4) {
    case 0xa5: case 0xad: case 0xaf: *esc = 1; return 1;
    case 0x88: *esc = 1; *lop = 0xb8; *mpfx = 0xf3; return 1;
    case 0xf4: *esc = 1; *lop = 0xbc; *mpfx = 0xf3; return 1;
    case 0x60: case 0x61: *esc = 2; *lop = 0xf0 + (op4 & 1); return 1;
    case 0x66: *esc = 2; *lop = 0xf6; *mpfx = pp == 1 ? 0x66 : 0xf3; return 1;
    case 0xf0: case 0xf1: *esc = 2; *mpfx = 0xf2; return 1;
    default: break;
    }
    if (op4 >= 0x40 && op4 <= 0x4f) {
        *esc = 1;
        if (pp == 3)
            *lop = 0x90 + (op4 & 15); /* SETcc / SETZUcc */
        else if (in->mnemonic >= HV_MN_CMOVB && in->mnemonic <= HV_MN_CMOVZ)
            *lop = op4; /* CMOVcc NDD */
        else
            return 0; /* CFCMOVcc: its own model */
        return 1;
    }
    return 0;
}

static const uint8_t map4_ops[] = {
    0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1a,
    0x1b, 0x20, 0x21, 0x22, 0x23, 0x28, 0x29, 0x2a, 0x2b, 0x30, 0x31, 0x32, 0x33, 0x80, 0x81,
    0x83, 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff, 0x24, 0x2c, 0xa5, 0xad,
    0xaf, 0x69, 0x6b, 0x88, 0xf4, 0x60, 0x61, 0x66, 0xf0, 0xf1,
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
    /* CCMP/CTEST */
    0x38, 0x39, 0x3a, 0x3b, 0x80, 0x81, 0x83, 0x84, 0x85, 0xf6, 0xf7,
};

/* Build an EVEX map-4 (or map 2/3) instruction. */
static unsigned evex_bytes(uint8_t *b, unsigned map, unsigned w, unsigned pp, unsigned nd,
                           unsigned nf, unsigned vvvv, unsigned reg, const struct rm_form *f,
                           int ccmp, unsigned scc, unsigned dfv)
{
    unsigned rmr = rm_reg_of(f), x = idx_of(f);
    b[0] = 0x62;
    b[1] = (uint8_t)(((!B3(reg)) << 7) | ((!B3(x)) << 6) | ((!B3(rmr)) << 5) | ((!B4(reg)) << 4) |
                     (B4(rmr) << 3) | map);
    if (ccmp) {
        b[2] = (uint8_t)((w << 7) | (dfv << 3) | ((!B4(x)) << 2) | pp);
        b[3] = (uint8_t)(scc & 15);
    } else {
        b[2] = (uint8_t)((w << 7) | ((~vvvv & 15) << 3) | ((!B4(x)) << 2) | pp);
        b[3] = (uint8_t)((nd << 4) | ((!B4(vvvv)) << 3) | (nf << 2));
    }
    return 4;
}

static int is_cfcmov(unsigned mn) { return mn >= HV_MN_CFCMOVB && mn <= HV_MN_CFCMOVZ; }
static int is_setzu(unsigned mn) { return mn >= HV_MN_SETZUB && mn <= HV_MN_SETZUZ; }

static void map4_case(void)
{
    unsigned op4 = map4_ops[rnd() % sizeof map4_ops];
    unsigned w = (unsigned)(rnd() % 2), nd = (unsigned)(rnd() % 2), nf = (unsigned)(rnd() % 2);
    unsigned pp = rnd() % 4 == 0 ? 1 : 0;
    if (op4 == 0x66)
        pp = rnd() % 2 ? 1 : 2;
    if (op4 >= 0x40 && op4 <= 0x4f && rnd() % 3 == 0) {
        pp = 3;
        w = 0;
        nf = 0;
    }
    int ccmp = (op4 >= 0x38 && op4 <= 0x3b) || op4 == 0x84 || op4 == 0x85;
    unsigned digit = (unsigned)(rnd() % 8);
    if ((op4 == 0x80 || op4 == 0x81 || op4 == 0x83) && rnd() % 4 == 0)
        digit = 7, ccmp = 1;
    if ((op4 == 0xf6 || op4 == 0xf7) && rnd() % 4 == 0)
        digit = 0, ccmp = 1;
    if (ccmp)
        nd = 0;
    /* implicit registers: rAX/rDX (MUL/DIV), CL (shifts by CL), RSP */
    uint32_t avoid = 1u << 4;
    if (op4 == 0xf6 || op4 == 0xf7)
        avoid |= 0x5;
    if (op4 == 0xd2 || op4 == 0xd3 || op4 == 0xa5 || op4 == 0xad)
        avoid |= 0x2;
    uint32_t used = 0;
    struct rm_form f;
    random_host_state();
    int mem = rnd() % 2;
    make_rm(&f, &used, avoid, mem);
    unsigned reg = pick_reg(&used, avoid);
    int group = op4 >= 0x80 && op4 <= 0x83 ? 1 : (op4 >= 0xc0 && op4 <= 0xd3) || op4 >= 0xf6;
    if (group && !(op4 == 0xff && digit == 6))
        reg = (reg & ~7u) | digit;
    unsigned vvvv = nd ? (unsigned)(rnd() % 32) : 0;
    unsigned scc = (unsigned)(rnd() % 16), dfv = (unsigned)(rnd() % 16);
    uint8_t apx[32], host[32], tail[16];
    unsigned na = evex_bytes(apx, 4, w, pp, nd, nf, vvvv, reg, &f, ccmp, scc, dfv);
    apx[na++] = (uint8_t)op4;
    unsigned nt = modrm_bytes(&f, reg, tail);
    memcpy(apx + na, tail, nt);
    for (unsigned i = 0; i < 8; i++)
        apx[na + nt + i] = (uint8_t)rnd();
    struct hvemu_insn in;
    if (hvemu_decode(apx, na + nt + 8, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK)
        return;
    unsigned mn = in.mnemonic;
    if (mn == HV_MN_LZCNT || mn == HV_MN_PUSH2 || mn == HV_MN_POP2 || mn == HV_MN_PUSH2P ||
        mn == HV_MN_POP2P)
        return;
    unsigned alen = in.length;
    if (mn == HV_MN_CCMP || mn == HV_MN_CTEST) { /* the reg field may have made it one */
        ccmp = 1;
        scc = in.evex_scc;
        dfv = in.evex_dfv;
    }
    if (f.is_mem) {
        /* CFCMOV with a false condition must not fault: aim it at hostile addresses often */
        aim(&f, random_target(is_cfcmov(mn) && rnd() % 2));
    }
    if ((mn == HV_MN_DIV || mn == HV_MN_IDIV) && rnd() % 2)
        hinit.gpr[HVEMU_RDX] = rnd() % 3 == 0 ? ~0ull : rnd() % 4;
    /* the tail after the opcode: ModRM, SIB, displacement, immediate */
    unsigned tl = alen - na;
    const uint8_t *atail = apx + na;
    struct native_fault nfault;
    int nr;

    if (is_cfcmov(mn)) {
        /* host: MOV r, r/m (load and NDD forms) or MOV r/m, r (store form), only when the
         * condition holds */
        int t = cond_holds(hinit.rflags, op4 & 15);
        unsigned nh = 0;
        if (pp == 1 && !w)
            host[nh++] = 0x66;
        host[nh++] = rex_of(w, reg, &f);
        host[nh++] = (!nd && nf) ? 0x89 : 0x8b;
        memcpy(host + nh, atail, tl);
        nh += tl;
        unsigned size = in.op[0].size;
        if (t) {
            nr = host_run(host, nh, &nfault);
            if (nr == NATIVE_TIMEOUT || nr < 0)
                return;
            hvemu_state_from_host(1);
            if (nr == NATIVE_FAULT) {
                expect_unchanged(alen);
                expect_fault_from(&nfault);
            } else if (nd) {
                /* NDD: the value moved into the host's reg field register goes to vvvv */
                expect_unchanged(alen);
                ex.gpr[vvvv] = hout.gpr[reg & 15] & size_mask(size);
            } else {
                expect_from_host(&in, 0, nh);
            }
        } else {
            hvemu_state_from_host(1);
            expect_unchanged(alen);
            if (nd) {
                ex.gpr[vvvv] = hinit.gpr[reg & 15] & size_mask(size);
            } else {
                unsigned d = !nf ? reg : (f.is_mem ? 0xff : f.rm);
                if (d != 0xff) {
                    uint64_t old = hinit.gpr[d & 15];
                    ex.gpr[d] = size == 2 ? old & ~0xffffull : 0;
                }
            }
        }
        compare(apx, alen, nd ? "cfcmov-ndd" : nf ? "cfcmov-store" : "cfcmov-load", &st_cfcmov, host, nh);
        return;
    }

    unsigned esc, lop, mpfx;
    if (!legacy_of(op4, pp, &in, &esc, &lop, &mpfx))
        return;
    unsigned nh = 0;
    unsigned size = in.op[0].size;
    if (pp == 1 && !w && !(in.attrs & HV_ATTR_BYTEOP) && mpfx != 0x66)
        host[nh++] = 0x66;
    if (mpfx)
        host[nh++] = (uint8_t)mpfx;
    host[nh++] = rex_of(w, reg, &f);
    if (esc)
        host[nh++] = 0x0f;
    if (esc == 2)
        host[nh++] = 0x38;
    host[nh++] = (uint8_t)lop;
    memcpy(host + nh, atail, tl);
    nh += tl;
    struct hvemu_insn hin;
    hvemu_features noapx = hvemu_features_no_apx();
    if (hvemu_decode(host, nh, HVEMU_MODE_64, &noapx, &hin) != HVEMU_DECODE_OK || hin.length != nh)
        return;
    nr = host_run(host, nh, &nfault);
    if (nr == NATIVE_TIMEOUT || nr < 0)
        return;
    hvemu_state_from_host(1);
    const char *legacy_mn = hvemu_mnemonic_name(hin.mnemonic);
    if (ccmp) {
        expect_unchanged(alen);
        if (nr == NATIVE_FAULT) {
            expect_fault_from(&nfault);
        } else if (scc == 0xa || (scc != 0xb && cond_holds(hinit.rflags, scc))) {
            ex.rflags = hout.rflags;
            mask_undefined(legacy_mn, &hin, 0);
        } else {
            ex.rflags = (hinit.rflags & ~(uint64_t)FLAGS_ARITH) | ((dfv & 8) ? HVEMU_FLAG_OF : 0) |
                        ((dfv & 4) ? HVEMU_FLAG_SF : 0) | ((dfv & 2) ? HVEMU_FLAG_ZF : 0) |
                        ((dfv & 1) ? HVEMU_FLAG_CF | HVEMU_FLAG_PF : 0);
        }
        compare(apx, alen, "ccmp", &st_ccmp, host, nh);
        return;
    }
    if (nr == NATIVE_FAULT) {
        expect_unchanged(alen);
        expect_fault_from(&nfault);
        compare(apx, alen, nd ? (nf ? "map4-ndd-nf" : "map4-ndd") : (nf ? "map4-nf" : "map4"),
                &st_map4, host, nh);
        return;
    }
    int ndd = nd && !is_setzu(mn) && mn != HV_MN_IMULZU;
    if (ndd) {
        /* the legacy result sits where the host's destination (src1) is */
        expect_unchanged(alen);
        const struct hvemu_operand *s1 = &in.op[1];
        uint64_t v = 0;
        if (s1->kind == HVEMU_OP_REG) {
            v = hout.gpr[s1->u.reg.idx & 15];
        } else {
            uint64_t la = mem_addr(&s1->u.mem, alen);
            memcpy(&v, hout.mem + (la - NATIVE_MEM_ADDR), size);
        }
        ex.rflags = hout.rflags;
        ex.gpr[in.op[0].u.reg.idx] = v & size_mask(size);
        mask_undefined(legacy_mn, &hin, 0);
    } else {
        expect_from_host(&in, 0, nh);
        mask_undefined(legacy_mn, &hin, 0);
        if (nd && in.op[0].kind == HVEMU_OP_REG) { /* ZU: upper bits zeroed */
            unsigned d = in.op[0].u.reg.idx;
            ex.gpr[d] &= size_mask(size);
        }
    }
    if (nf && !(in.mnemonic >= HV_MN_SETB && in.mnemonic <= HV_MN_SETZ)) {
        ex.rflags = hinit.rflags;
        ex.fmask = NATIVE_RFLAGS_MASK;
    }
    compare(apx, alen, nd ? (nf ? "map4-ndd-nf" : "map4-ndd") : (nf ? "map4-nf" : "map4"), &st_map4, host, nh);
}

/* ---- PUSH2 / POP2 ---- */

static void push2_case(void)
{
    int pop = rnd() % 2;
    unsigned w = (unsigned)(rnd() % 2);
    uint32_t used = 1u << 4;
    unsigned a = pick_reg(&used, 1u << 4), b = pick_reg(&used, 1u << 4);
    random_host_state();
    uint64_t rsp = NATIVE_MEM_ADDR + 0x100 + (rnd() % 0x1e0) * 16;
    unsigned r = (unsigned)(rnd() % 16);
    if (r == 0)
        rsp = pop ? NATIVE_MEM_ADDR + NATIVE_MEM_SIZE - 8 : NATIVE_MEM_ADDR; /* faulting */
    else if (r == 1)
        rsp += 8; /* misaligned */
    else if (r == 2)
        rsp ^= 0x8000000000000000ull;
    hinit.gpr[HVEMU_RSP] = rsp;
    uint8_t apx[8];
    struct rm_form f = {.is_mem = 0, .rm = b};
    evex_bytes(apx, 4, w, 0, 1, 0, a, 0, &f, 0, 0, 0);
    apx[4] = pop ? 0x8f : 0xff;
    apx[5] = (uint8_t)(0xc0 | (pop ? 0 : 6) << 3 | (b & 7));
    struct hvemu_insn in;
    if (hvemu_decode(apx, 6, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK) {
        CHECK(0, "push2/pop2 %u %u did not decode", a, b);
        return;
    }
    /* host: PUSH a; PUSH b  /  POP a; POP b */
    uint8_t h1[2] = {(uint8_t)(0x40 | B3(a)), (uint8_t)((pop ? 0x58 : 0x50) | (a & 7))};
    uint8_t h2[2] = {(uint8_t)(0x40 | B3(b)), (uint8_t)((pop ? 0x58 : 0x50) | (b & 7))};
    hvemu_state_from_host(1);
    expect_unchanged(6);
    if (rsp & 15) {
        ex.fault = 1;
        ex.vector = HVEMU_EXC_GP;
    } else {
        struct native_fault nf;
        int nr = host_run(h1, 2, &nf);
        if (nr == NATIVE_OK) {
            struct native_state mid = hout;
            hout = mid;
            nr = native_run(h2, 2, &hout, &nf);
        }
        if (nr == NATIVE_TIMEOUT || nr < 0)
            return;
        if (nr == NATIVE_FAULT) {
            expect_fault_from(&nf);
            /* PUSH2 is one 16-byte store: its #PF reports the store's lowest address (the APX
             * specification does not say which slot; the host's first PUSH reports RSP-8) */
            if (!pop && ex.vector == HVEMU_EXC_PF)
                ex.cr2 = rsp - 16;
        } else {
            ex.gpr[HVEMU_RSP] = hout.gpr[HVEMU_RSP];
            ex.gpr[HVEMU_RSP + 16] = hinit.gpr[HVEMU_RSP];
            if (pop) {
                ex.gpr[a] = hout.gpr[a & 15];
                ex.gpr[b] = hout.gpr[b & 15];
            }
            memcpy(ex.mem, hout.mem, NATIVE_MEM_SIZE);
        }
    }
    compare(apx, 6, pop ? "pop2" : "push2", &st_push2, h1, 2);
}

/* ---- JMPABS ---- */

static void jmpabs_case(void)
{
    random_host_state();
    uint64_t t = NATIVE_CODE_LO + 0x100 + rnd() % 0x7000;
    if (rnd() % 8 == 0)
        t ^= 0x8000000000000000ull;
    else if (rnd() % 8 == 0)
        t = rnd() & 0x00007fffffffffffull;
    if (t >= NATIVE_CODE_ADDR - 16 && t < NATIVE_CODE_ADDR + 16)
        return;
    uint8_t apx[11] = {0xd5, 0x00, 0xa1};
    for (unsigned i = 0; i < 8; i++)
        apx[3 + i] = (uint8_t)(t >> (8 * i));
    /* host: JMP [RIP+disp32] with the target at window+0x40 */
    uint64_t slot = NATIVE_MEM_ADDR + 0x40;
    memcpy(hinit.mem + 0x40, &t, 8);
    int64_t d = (int64_t)(slot - (NATIVE_CODE_ADDR + 6));
    uint8_t host[6] = {0xff, 0x25, (uint8_t)d, (uint8_t)(d >> 8), (uint8_t)(d >> 16), (uint8_t)(d >> 24)};
    struct native_fault nf;
    int nr = host_run(host, 6, &nf);
    if (nr == NATIVE_TIMEOUT || nr < 0)
        return;
    hvemu_state_from_host(1);
    expect_unchanged(11);
    if (nr == NATIVE_FAULT && nf.vector == HVEMU_EXC_GP) {
        expect_fault_from(&nf);
    } else {
        /* a target outside the code region faults on the fetch there: it is the new RIP */
        ex.rip = nr == NATIVE_FAULT ? nf.rip : hout.rip;
        if (nr == NATIVE_FAULT && nf.vector == HVEMU_EXC_PF)
            ex.rip = nf.fault_addr;
    }
    compare(apx, 11, "jmpabs", &st_jmpabs, host, 6);
}

/* ---- BMI1/BMI2: EVEX (APX) against VEX (host) ---- */

struct bmi_op {
    unsigned map, op, pp, digit; /* digit: /1../3 group (BLSR...), 8 = /r */
    int imm, nf;                 /* imm8 (RORX); NF allowed */
    uint32_t avoid;              /* implicit registers (MULX: RDX) */
};
static const struct bmi_op bmi_ops[] = {
    {2, 0xf2, 0, 8, 0, 1, 0},    /* andn */
    {2, 0xf3, 0, 1, 0, 1, 0},    /* blsr */
    {2, 0xf3, 0, 2, 0, 1, 0},    /* blsmsk */
    {2, 0xf3, 0, 3, 0, 1, 0},    /* blsi */
    {2, 0xf5, 0, 8, 0, 1, 0},    /* bzhi */
    {2, 0xf5, 2, 8, 0, 0, 0},    /* pext */
    {2, 0xf5, 3, 8, 0, 0, 0},    /* pdep */
    {2, 0xf6, 3, 8, 0, 0, 1u << 2}, /* mulx */
    {2, 0xf7, 0, 8, 0, 1, 0},    /* bextr */
    {2, 0xf7, 1, 8, 0, 0, 0},    /* shlx */
    {2, 0xf7, 2, 8, 0, 0, 0},    /* sarx */
    {2, 0xf7, 3, 8, 0, 0, 0},    /* shrx */
    {3, 0xf0, 3, 8, 1, 0, 0},    /* rorx */
};

static void bmi_case(void)
{
    const struct bmi_op *o = &bmi_ops[rnd() % (sizeof bmi_ops / sizeof bmi_ops[0])];
    unsigned w = (unsigned)(rnd() % 2), nf = o->nf ? (unsigned)(rnd() % 2) : 0;
    uint32_t used = 0, avoid = (1u << 4) | o->avoid;
    struct rm_form f;
    random_host_state();
    make_rm(&f, &used, avoid, rnd() % 2);
    unsigned reg = o->digit < 8 ? o->digit : pick_reg(&used, avoid);
    unsigned vvvv = o->map == 3 ? 0 : pick_reg(&used, avoid);
    uint8_t apx[32], host[32], tail[16];
    unsigned na = evex_bytes(apx, o->map, w, o->pp, 0, nf, vvvv, reg, &f, 0, 0, 0);
    apx[na++] = (uint8_t)o->op;
    unsigned nt = modrm_bytes(&f, reg, tail);
    if (o->imm)
        tail[nt++] = (uint8_t)rnd();
    memcpy(apx + na, tail, nt);
    na += nt;
    /* VEX3: C4, ~R ~X ~B mmmmm, W ~vvvv L pp */
    unsigned nh = 0, rmr = rm_reg_of(&f), x = idx_of(&f);
    host[nh++] = 0xc4;
    host[nh++] = (uint8_t)(((!B3(reg)) << 7) | ((!B3(x)) << 6) | ((!B3(rmr)) << 5) | o->map);
    host[nh++] = (uint8_t)((w << 7) | ((~vvvv & 15) << 3) | o->pp);
    host[nh++] = (uint8_t)o->op;
    memcpy(host + nh, tail, nt);
    nh += nt;
    /* (hvemu's decoder has no VEX BMI entries yet: the host bytes are built, not decoded) */
    struct hvemu_insn in;
    if (hvemu_decode(apx, na, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK || in.length != na) {
        CHECK(0, "EVEX bmi form %02x/%u did not decode", o->op, o->pp);
        return;
    }
    if (f.is_mem)
        aim(&f, random_target(0));
    struct native_fault nfault;
    int nr = host_run(host, nh, &nfault);
    if (nr == NATIVE_TIMEOUT || nr < 0)
        return;
    hvemu_state_from_host(1);
    if (nr == NATIVE_FAULT) {
        expect_unchanged(na);
        expect_fault_from(&nfault);
    } else {
        expect_from_host(&in, 0, nh);
        mask_undefined(hvemu_mnemonic_name(in.mnemonic), &in, 0);
        if (nf) {
            ex.rflags = hinit.rflags;
            ex.fmask = NATIVE_RFLAGS_MASK;
        }
    }
    compare(apx, na, nf ? "bmi-nf" : "bmi", &st_bmi, host, nh);
}

/* ---- EVEX KMOV and VMOVD/VMOVQ with EGPRs ---- */

/* The APX issue's "KMOV/VMOVD/VMOVQ with EGPRs": the EVEX forms (map 0F) with r16..r31 as the
 * GPR operand or in the address, against the VEX form on the legacy registers. The vector
 * registers are xmm0-15 and k0-7 (what VEX can name); the vector state is random and compared
 * whole (VEX and EVEX both zero a written XMM up to bit 511). */
struct simd_op {
    uint8_t op, pp, w;
    uint8_t kind; /* 0: K,K/M  1: M,K  2: K,GPR  3: GPR,K  4: XMM,GPR/M  5: GPR/M,XMM
                   * 6: XMM,XMM/M (F3 7E)  7: M,XMM (D6, memory form) */
};
static const struct simd_op simd_ops[] = {
    {0x90, 0, 0, 0}, {0x90, 0, 1, 0}, {0x90, 1, 0, 0}, {0x90, 1, 1, 0},
    {0x91, 0, 0, 1}, {0x91, 0, 1, 1}, {0x91, 1, 0, 1}, {0x91, 1, 1, 1},
    {0x92, 0, 0, 2}, {0x92, 1, 0, 2}, {0x92, 3, 0, 2}, {0x92, 3, 1, 2},
    {0x93, 0, 0, 3}, {0x93, 1, 0, 3}, {0x93, 3, 0, 3}, {0x93, 3, 1, 3},
    {0x6e, 1, 0, 4}, {0x6e, 1, 1, 4}, {0x7e, 1, 0, 5}, {0x7e, 1, 1, 5},
    {0x7e, 2, 1, 6}, {0xd6, 1, 1, 7},
};

static void simd_case(void)
{
    const struct simd_op *o = &simd_ops[rnd() % (sizeof simd_ops / sizeof simd_ops[0])];
    uint32_t used = 0, avoid = 1u << 4;
    struct rm_form f;
    int mem = o->kind == 1 || o->kind == 7 ? 1 : o->kind == 2 || o->kind == 3 ? 0 : (int)(rnd() % 2);
    random_host_state();
    random_vec_state();
    /* the register field: a GPR (kinds 3, 5: any of r0..r31), else a k or xmm number */
    unsigned reg;
    int reg_gpr = o->kind == 3;
    make_rm(&f, &used, avoid, mem);
    /* a 32-bit displacement: EVEX scales a disp8 by the operand size (disp8*N), VEX does not */
    if (mem)
        f.disp = (rnd() % 2) ? 0x80 + (int64_t)(rnd() % 0x200) : -0x81 - (int64_t)(rnd() % 0x200);
    if (reg_gpr)
        reg = pick_reg(&used, avoid);
    else
        reg = (unsigned)(rnd() % (o->kind <= 2 ? 8 : 16));
    /* a k or xmm in the r/m field: a small register number, not an EGPR */
    if (!mem && (o->kind == 0 || o->kind == 3 || o->kind == 6))
        f.rm = (unsigned)(rnd() % (o->kind == 6 ? 16 : 8));
    uint8_t apx[32], host[32], tail[16];
    unsigned na = evex_bytes(apx, 1, o->w, o->pp, 0, 0, 0, reg, &f, 0, 0, 0);
    apx[na++] = o->op;
    unsigned nt = modrm_bytes(&f, reg, tail);
    memcpy(apx + na, tail, nt);
    na += nt;
    /* VEX3 on the legacy registers: C4, ~R ~X ~B 00001, W 1111 0 pp */
    unsigned nh = 0, rmr = rm_reg_of(&f), x = idx_of(&f);
    host[nh++] = 0xc4;
    host[nh++] = (uint8_t)(((!B3(reg)) << 7) | ((!B3(x)) << 6) | ((!B3(rmr)) << 5) | 1);
    host[nh++] = (uint8_t)((o->w << 7) | (15u << 3) | o->pp);
    host[nh++] = o->op;
    memcpy(host + nh, tail, nt);
    nh += nt;
    struct hvemu_insn in;
    if (hvemu_decode(apx, na, HVEMU_MODE_64, &feat_all, &in) != HVEMU_DECODE_OK || in.length != na) {
        char h[40];
        hexs(apx, na, h);
        CHECK(0, "EVEX simd form %s did not decode", h);
        hinit.vec = 0;
        return;
    }
    if (f.is_mem)
        aim(&f, random_target(0));
    struct native_fault nfault;
    int nr = host_run(host, nh, &nfault);
    if (nr == NATIVE_TIMEOUT || nr < 0) {
        hinit.vec = 0;
        return;
    }
    hvemu_state_from_host(1);
    hvemu_vec_from_host();
    if (nr == NATIVE_FAULT) {
        expect_unchanged(na);
        expect_fault_from(&nfault);
    } else {
        expect_from_host(&in, 0, nh);
    }
    compare(apx, na, "kmov/vmovd/q", &st_simd, host, nh);
    hinit.vec = 0;
}

/* ---- gating, EGPR preservation, XSAVE ---- */

static void gating_tests(void)
{
    const uint8_t *const forms[] = {
        (const uint8_t[]){0xd5, 0x50, 0x01, 0xc8},                   /* add r16d, r17d (REX2) */
        (const uint8_t[]){0x62, 0xec, 0xdc, 0x10, 0x01, 0xf5},       /* add r20, r21, r22 */
        (const uint8_t[]){0x62, 0xec, 0xdc, 0x14, 0x01, 0xf5},       /* {nf} add */
        (const uint8_t[]){0x62, 0xfc, 0x7c, 0x10, 0xff, 0xf1},       /* push2 r16, r17 */
        (const uint8_t[]){0x62, 0xf4, 0xfc, 0x08, 0x44, 0x03},       /* cfcmove rax, [rbx] */
        (const uint8_t[]){0x62, 0xea, 0xd4, 0x00, 0xf2, 0xe6},       /* andn r20, r21, r22 */
        (const uint8_t[]){0xd5, 0x00, 0xa1, 0, 0x10, 0, 0, 0, 0, 0, 0}, /* jmpabs */
        (const uint8_t[]){0x62, 0xf9, 0xff, 0x08, 0x92, 0xcd},       /* kmovq k1, r21 */
        (const uint8_t[]){0x62, 0xf9, 0x7d, 0x08, 0x6e, 0xc9},       /* vmovd xmm1, r17d */
    };
    static const unsigned lens[] = {4, 6, 6, 6, 6, 6, 11, 6, 6};
    for (unsigned k = 0; k < 3; k++) { /* XCR0[19] clear; CR4.OSXSAVE clear; CPUID without APX */
        for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            random_host_state();
            hinit.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR + 0x1000;
            hinit.gpr[HVEMU_RBX] = NATIVE_MEM_ADDR + 0x100;
            hvemu_state_from_host(1);
            if (k == 0)
                hs.xcr0 &= ~HVEMU_XCR0_APX;
            else if (k == 1)
                hs.cr4 &= ~(uint64_t)0x40000;
            for (unsigned r = 16; r < 32; r++)
                hs.gpr[r] = 0xE6E6000000000000ull | r;
            struct hvemu_ctx ctx;
            struct hvemu_result res;
            hvemu_init(&ctx, &hops, NULL, &hs);
            if (k == 2)
                ctx.features = hvemu_features_no_apx();
            int rc = hvemu_emulate_bytes(&ctx, forms[i], lens[i], &res);
            CHECK(rc == HVEMU_EXCEPTION && res.exc.vector == HVEMU_EXC_UD,
                  "APX form %u with APX off (%u): want #UD, got %d/%u", i, k, rc, res.exc.vector);
            int same = hs.rip == NATIVE_CODE_ADDR && !(hs.dirty & HVEMU_PART_EGPRS);
            for (unsigned r = 16; r < 32; r++)
                same = same && hs.gpr[r] == (0xE6E6000000000000ull | r);
            CHECK(same, "APX form %u with APX off (%u): state changed", i, k);
        }
    }

    /* Seed 001: the guest sets r16..r31, clears XCR0[APX] (EGPR accesses #UD, values kept),
     * runs legacy code, sets XCR0[APX] again and finds its values. */
    random_host_state();
    hvemu_state_from_host(1);
    struct hvemu_ctx ctx;
    struct hvemu_result res;
    hvemu_init(&ctx, &hops, NULL, &hs);
    for (unsigned r = 16; r < 32; r++) { /* mov r16+i, imm64 via REX2 (D5 18 B8+r imm64) */
        uint8_t b[11] = {0xd5, 0x18, (uint8_t)(0xb8 | (r & 7)), 0};
        b[1] = (uint8_t)(0x18 | ((r & 8) ? 1 : 0));
        uint64_t v = 0xA9A9000000000000ull | (uint64_t)r << 8 | r;
        memcpy(b + 3, &v, 8);
        hs.rip = NATIVE_CODE_ADDR;
        int rc = hvemu_emulate_bytes(&ctx, b, 11, &res);
        CHECK(rc == HVEMU_OK && hs.gpr[r] == v, "mov r%u, imm64 (REX2): rc %d value %" PRIx64, r, rc, hs.gpr[r]);
    }
    uint8_t xs[1088 + 64];
    memset(xs, 0, sizeof xs);
    CHECK(hvemu_apx_xsave(&hs, xs, sizeof xs) == 0, "xsave of r16..r31");
    hs.xcr0 &= ~HVEMU_XCR0_APX; /* XSETBV without APX */
    for (unsigned i = 0; i < 100; i++) {
        static const uint8_t legacy_add[] = {0x48, 0x01, 0xc8};  /* add rax, rcx */
        static const uint8_t rex2_add[] = {0xd5, 0x48, 0x01, 0xc8}; /* add r16, rcx */
        hs.rip = NATIVE_CODE_ADDR;
        int rc = hvemu_emulate_bytes(&ctx, i % 2 ? rex2_add : legacy_add, i % 2 ? 4 : 3, &res);
        CHECK(i % 2 ? (rc == HVEMU_EXCEPTION && res.exc.vector == HVEMU_EXC_UD) : rc == HVEMU_OK,
              "APX off: %s: rc %d", i % 2 ? "REX2 #UD" : "legacy runs", rc);
    }
    hs.xcr0 |= HVEMU_XCR0_APX;
    int kept = 1;
    for (unsigned r = 16; r < 32; r++)
        kept = kept && hs.gpr[r] == (0xA9A9000000000000ull | (uint64_t)r << 8 | r);
    CHECK(kept, "EGPR values kept across APX off and on");
    hs.rip = NATIVE_CODE_ADDR;
    int rc = hvemu_emulate_bytes(&ctx, (const uint8_t[]){0xd5, 0x48, 0x01, 0xc8}, 4, &res);
    CHECK(rc == HVEMU_OK, "REX2 runs again after APX is re-enabled");
    /* the decode cache keeps APX decodes: a hit must still see XCR0[19] and CR4.OSXSAVE */
    static const uint8_t add16[] = {0xd5, 0x48, 0x01, 0xc8};
    for (unsigned k = 0; k < 4; k++) {
        hs.rip = NATIVE_CODE_ADDR;
        hs.xcr0 |= HVEMU_XCR0_APX;
        hs.cr4 |= 0x40000;
        rc = hvemu_emulate_bytes(&ctx, add16, 4, &res); /* cached with APX on */
        CHECK(rc == HVEMU_OK, "REX2 add with APX on (%u)", k);
        hs.rip = NATIVE_CODE_ADDR;
        if (k == 0)
            hs.xcr0 &= ~HVEMU_XCR0_APX;
        else if (k == 1)
            hs.cr4 &= ~(uint64_t)0x40000;
        else if (k == 2)
            hs.valid &= ~HVEMU_PART_XCR0; /* not loaded, no load_state: cannot decide */
        if (k == 3) {
            rc = hvemu_emulate_bytes(&ctx, add16, 4, &res);
            CHECK(rc == HVEMU_OK, "cached REX2 add, APX still on");
        } else if (k == 2) {
            rc = hvemu_emulate_bytes(&ctx, add16, 4, &res);
            CHECK(rc == HVEMU_UNHANDLEABLE, "cached APX decode with XCR0 not loaded: %d", rc);
            hs.valid |= HVEMU_PART_XCR0;
        } else {
            rc = hvemu_emulate_bytes(&ctx, add16, 4, &res);
            CHECK(rc == HVEMU_EXCEPTION && res.exc.vector == HVEMU_EXC_UD,
                  "cached APX decode after %s is cleared: want #UD, got %d", k ? "CR4.OSXSAVE" : "XCR0[19]", rc);
        }
    }
    hs.xcr0 |= HVEMU_XCR0_APX;
    hs.cr4 |= 0x40000;
    /* XSAVE component 19 round trip, and the init state when XSTATE_BV[19] is clear */
    uint64_t v17;
    memcpy(&v17, xs + HVEMU_XSAVE_APX_OFFSET + 8, 8);
    CHECK(v17 == (0xA9A9000000000000ull | 17u << 8 | 17u), "r17 at offset 968 of the XSAVE area");
    CHECK((xs[HVEMU_XSAVE_HEADER_OFFSET + 2] & 0x08) != 0, "XSTATE_BV bit 19 set by the store");
    struct hvemu_state s2;
    memset(&s2, 0, sizeof s2);
    CHECK(hvemu_apx_xrstor(&s2, xs, sizeof xs) == 0 && s2.gpr[31] == (0xA9A9000000000000ull | 31u << 8 | 31u) &&
          (s2.valid & HVEMU_PART_EGPRS) == HVEMU_PART_EGPRS && (s2.dirty & HVEMU_PART_EGPRS) == HVEMU_PART_EGPRS,
          "xrstor of r16..r31");
    xs[HVEMU_XSAVE_HEADER_OFFSET + 2] &= (uint8_t)~0x08;
    CHECK(hvemu_apx_xrstor(&s2, xs, sizeof xs) == 0 && s2.gpr[16] == 0 && s2.gpr[31] == 0,
          "xrstor with XSTATE_BV[19] clear gives the init state (zeros)");
    CHECK(hvemu_apx_xsave(&s2, xs, 1087) == -1 && hvemu_apx_xrstor(&s2, xs, 1000) == -1,
          "XSAVE area too small is refused");
    CHECK(!hvemu_xcr0_apx_ok(0x80007 | 0x8) && !hvemu_xcr0_apx_ok(0x80007 | 0x10) &&
          hvemu_xcr0_apx_ok(0x80007) && hvemu_xcr0_apx_ok(0x1f), "XCR0: APX excludes MPX");
}

int main(int argc, char **argv)
{
    unsigned long cases = 150000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = strtoul(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state = strtoull(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else if (!strcmp(argv[i], "--coverage")) list_coverage = 1;
        else {
            fprintf(stderr, "usage: %s [--cases N] [--seed S] [--verbose] [--coverage]\n", argv[0]);
            return 2;
        }
    }
    feat_all = hvemu_features_all();
    feat_host = hvemu_features_from_cpuid(h_cpuid, NULL);
    hvemu_feature_set(&feat_host, HVEMU_FEAT_APX, 0);
    if (native_init() != 0)
        return 1;
    gating_tests();
    rex2_init();
    struct stats *all[] = {&st_rex2, &st_map4, &st_ccmp, &st_cfcmov, &st_push2, &st_jmpabs, &st_bmi,
                           &st_simd};
    const char *names[] = {"rex2-legacy", "map4 (legacy/NDD/NF/ZU)", "ccmp/ctest", "cfcmov",
                           "push2/pop2", "jmpabs", "bmi (evex)", "kmov/vmovd/vmovq (evex)"};
    /* the EVEX KMOV/VMOVD/VMOVQ cases need the host's AVX-512 (F, BW, DQ, VL) */
    int simd_ok = native_vec_level() == 2;
    if (!simd_ok)
        printf("host without AVX-512 F/BW/DQ/VL: the EVEX KMOV/VMOVD/VMOVQ cases are skipped\n");
    uint64_t total = 0;
    while (total < cases) {
        unsigned k = (unsigned)(rnd() % 21);
        if (k < 5) rex2_case();
        else if (k < 13) map4_case();
        else if (k < 15) push2_case();
        else if (k < 16) jmpabs_case();
        else if (k < 20) bmi_case();
        else if (simd_ok) simd_case();
        total = 0;
        for (unsigned i = 0; i < 8; i++)
            total += all[i]->cases;
    }
    print_coverage();
    uint64_t bad = 0;
    for (unsigned i = 0; i < 8; i++) {
        printf("%-26s %8" PRIu64 " cases (%" PRIu64 " faulting), %" PRIu64 " mismatches\n", names[i],
               all[i]->cases, all[i]->faults, all[i]->mismatches);
        bad += all[i]->mismatches;
    }
    CHECK(bad == 0, "%" PRIu64 " mismatches against the host", bad);
    printf("compared %" PRIu64 " APX cases against the host\n", total);
    TEST_DONE();
}
