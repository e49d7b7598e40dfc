/* SPDX-License-Identifier: MIT */
/*
 * The host-differential test of execution: every instruction form hvemu executes is run on the
 * host CPU (native.c) and through hvemu_emulate_bytes() on the same registers, flags and memory,
 * and everything must match: GPRs, RIP, RFLAGS (less the bits tests/hostdiff/undef_flags.c
 * declares undefined for that instruction), the memory window, and the exception (vector and,
 * for #PF, the address) when there is one, with the state untouched.
 *
 * Forms are generated, not listed: every opcode of the legacy maps 0, 0F and 0F38 with a ModRM
 * spread (register, [base], [base+disp8], [base+index*scale+disp32], [rsp+disp8], RIP-relative)
 * and prefix mixes (none, 66, REX.W, REX.RB, 67, LOCK, F3/F2), kept when hvemu decodes it and
 * has a handler for it. States are random with edge-case bias (0, 1, -1, 0x80.., 0x7f.., small
 * counts), then fixed up so memory operands, the stack, string pointers and indirect branch
 * targets land in the native window or code region.
 *
 * --mode 32 runs everything in compatibility mode instead (native.h, native_set_mode()): the
 * forms are decoded as 32-bit code (no REX; 66 gives 16-bit operands, 67 16-bit addressing),
 * hvemu gets the state Linux gives 32-bit code (EFER.LMA = 1, CS 0x23 with L = 0 and D = 1,
 * flat DS/ES/SS 0x2b with base 0, limit 4 GiB, B = 1), and the low 32 bits of the eight legacy
 * GPRs are compared: the SDM leaves the upper halves undefined across the mode switches the
 * runner makes (they are random in the input, so hvemu must also ignore them).
 *
 * --oracle unicorn compares with Unicorn (tests/hostdiff/uc_oracle.h) instead of the host: --mode 32
 * in 32-bit protected mode, --mode 16 with 16-bit code and a 16-bit stack segment, and --real
 * with that machine in (big) real mode.
 *
 * usage: hostdiff [--trials N] [--seed S] [--insn HEX] [--mnemonic NAME] [--mode 64|32|16]
 *                 [--oracle unicorn] [--real] [--verbose] [--list]
 */
#include "hvemu.h"
#include "exec/exec.h"
#include "native.h"
#include "undef_flags.h"
#include "uc_oracle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window_mem.h"

/* ---- random ---- */

#include "test_random.h"

/* ---- forms ---- */

struct form {
    uint8_t b[15];
    uint8_t len;
};

#define MAX_FORMS 400000
static struct form *forms;
static unsigned nforms;
/* 64, or 32: compatibility mode (or, with --oracle unicorn, 32-bit protected mode) */
static unsigned g_mode = 64;
static int g_unicorn;
static int g_real; /* --mode 16 --real: the 16-bit machine in (big) real mode */
static enum hvemu_mode dec_mode(void)
{
    return g_mode == 32 ? HVEMU_MODE_32 : g_mode == 16 ? HVEMU_MODE_16 : HVEMU_MODE_64;
}
/* --mode 16 (Unicorn only): SS is a 16-bit stack segment based at the window, so the stack
 * pointer and SS-relative operands are offsets in it (uc_oracle.h) */
static uint64_t ss_base(void)
{
    return g_mode == 16 ? UC_ORACLE_SS16_BASE : 0;
}

#include "native_skip.h"

/* The features the host's CPUID enumerates (APX off: no host has it yet): a form the host
 * does not have is not a form to compare, and hvemu decodes for the same CPU. */
static hvemu_features host_features;

static int form_ok(const uint8_t *b, unsigned n, struct hvemu_insn *in)
{
    hvemu_features f = host_features;
    if (hvemu_decode(b, n, dec_mode(), &f, in) != HVEMU_DECODE_OK)
        return 0;
    if (!hv_exec_handlers[in->mnemonic] || native_skipped(hvemu_mnemonic_name(in->mnemonic)))
        return 0;
    /* segment registers and far transfers are system state the native runner cannot set
     * (control and debug registers are compared: at CPL 3 every access faults; LES & co. are
     * in native_skip.h); MMX registers are not executed (MOVD/MOVQ answer unhandleable for
     * them) */
    for (unsigned i = 0; i < in->noperands; i++)
        if (in->op[i].kind == HVEMU_OP_REG && (in->op[i].u.reg.cls == HVEMU_REG_SEG ||
                                               in->op[i].u.reg.cls == HVEMU_REG_MM))
            return 0;
    /* Unicorn runs at CPL 0, where these would change its machine (QEMU's debug registers
     * crash it; CR0/CR3 writes switch its paging): system instructions have unit tests */
    if (g_unicorn) {
        static const char *const uc_skip[] = {"lgdt", "lidt", "lmsw", "clts", "rdmsr", "wrmsr",
                                              "xsetbv", "swapgs", "hlt", "cli", "sti", "clac",
                                              "stac", "invlpg", "invpcid", "wbinvd", "wbnoinvd",
                                              "invd", "lldt", "ltr", "sysret", "sysexit",
                                              "movdir64b", NULL};
        for (unsigned i = 0; i < in->noperands; i++)
            if (in->op[i].kind == HVEMU_OP_REG &&
                (in->op[i].u.reg.cls == HVEMU_REG_CR || in->op[i].u.reg.cls == HVEMU_REG_DR))
                return 0;
        for (unsigned i = 0; uc_skip[i]; i++)
            if (!strcmp(uc_skip[i], hvemu_mnemonic_name(in->mnemonic)))
                return 0;
        /* Where QEMU (Unicorn 2.0) is not the hardware, as measured against hvemu, whose 64-bit
         * behaviour the host checks: PDEP/PEXT take their operands swapped; RET imm16
         * sign-extends imm16 (compared below 0x8000); LOCK NEG computes wrong flags; a page-crossing store is half
         * done before its #PF; ENTER does not touch the new stack top; 16-bit BSWAP and 16-bit
         * SHLD/SHRD with counts above 16 (undefined) give other values; F6/F7 /1 (TEST's
         * alias) faults; F2/F3 on non-string instructions and repeated prefixes are
         * decoded otherwise (#UD, other addresses). Those forms are left to the 64-bit host
         * test. */
        const char *mn = hvemu_mnemonic_name(in->mnemonic);
        if (in->encoding == HVEMU_ENC_VEX ||
            ((in->prefixes & HVEMU_PFX_LOCK) && !strcmp(mn, "neg")) ||
            (!strcmp(mn, "bswap") && in->opsize == 2) ||
            ((!strcmp(mn, "shld") || !strcmp(mn, "shrd")) && in->opsize == 2) ||
            (in->map == 0 && (in->opcode == 0xf6 || in->opcode == 0xf7) &&
             ((in->modrm >> 3) & 7) == 1) ||
            (!strcmp(mn, "ret") && in->noperands && (in->op[0].u.imm.imm & 0x8000)))
            return 0;
        int string = in->map == 0 && ((in->opcode >= 0xa4 && in->opcode <= 0xaf) ||
                                      (in->opcode >= 0x6c && in->opcode <= 0x6f));
        if ((in->prefixes & (HVEMU_PFX_REP | HVEMU_PFX_REPNE)) && !string)
            return 0;
        for (unsigned i = 0; i + 1 < n && i < 4; i++)
            for (unsigned j = i + 1; j < 4 && j < n; j++)
                if (b[i] == b[j] && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3))
                    return 0;
    }
    /* LOCK MOV CR0 is AMD's other encoding of CR8 (CPUID 80000001H:ECX[4]); #UD on Intel,
     * which hvemu decodes. Vendor-specific: not compared. */
    if (in->map == 1 && (in->opcode == 0x20 || in->opcode == 0x22) && (in->prefixes & HVEMU_PFX_LOCK))
        return 0;
    /* A 66 prefix on a near branch is vendor-specific in 64-bit mode: Intel ignores it (what
     * hvemu and Zydis decode), AMD uses a 16-bit operand size, with another length for rel16.
     * Neither host can check the other's behaviour, so these forms are not compared. */
    if ((in->attrs & HV_ATTR_F64) && (in->prefixes & HVEMU_PFX_OPSZ))
        return 0;
    /* F2/F3 on an instruction that defines no use for them is reserved (SDM Vol. 2, 2.1.1).
     * Observed on AMD Zen 4: F2 E1 (LOOPE) branches as LOOPNE would. hvemu ignores the prefix,
     * as Intel documents for branches; the forms are not compared. */
    /* 0F 0D with a register operand: a reserved NOP on Intel (what hvemu and Zydis decode),
     * #UD on AMD Zen 4 (measured). Vendor-specific: not compared. */
    if (in->map == 1 && in->opcode == 0x0d && (in->modrm >> 6) == 3)
        return 0;
    if (in->map == 0 && in->opcode >= 0xe0 && in->opcode <= 0xe3 &&
        (in->prefixes & (HVEMU_PFX_REP | HVEMU_PFX_REPNE)))
        return 0;
    /* segment overrides: with Unicorn's machines (flat DS/ES/FS/GS, SS based at the window in
     * 16-bit code); a CS override only for reads (QEMU makes no type checks) */
    if ((in->prefixes & HVEMU_PFX_SEG) &&
        (!g_unicorn || (in->seg_override == HVEMU_CS && in->noperands &&
                        (in->op[0].access & HVEMU_OPA_WRITE) && in->op[0].kind == HVEMU_OP_MEM)))
        return 0;
    return 1;
}

static void add_form(const uint8_t *pfx, unsigned npfx, const uint8_t *esc, unsigned nesc,
                     uint8_t op, const uint8_t *tail, unsigned ntail)
{
    uint8_t b[32];
    unsigned n = 0;
    struct hvemu_insn in;
    if (npfx)
        memcpy(b, pfx, npfx);
    n += npfx;
    if (nesc) /* (memcpy from NULL is undefined even for 0 bytes) */
        memcpy(b + n, esc, nesc);
    n += nesc;
    b[n++] = op;
    if (ntail)
        memcpy(b + n, tail, ntail);
    n += ntail;
    for (unsigned i = 0; i < 8; i++)
        b[n + i] = (uint8_t)rnd();
    if (nforms >= MAX_FORMS || !form_ok(b, n + 8, &in))
        return;
    memcpy(forms[nforms].b, b, in.length);
    forms[nforms].len = in.length;
    nforms++;
}

/* VEX and EVEX forms of the SIMD moves hvemu executes: every opcode of map 0F (and 0F38 2A)
 * with pp, W and L, the register bits R/X/B (and EVEX R', V', X as the fifth bit of a ZMM
 * number), opmasks with merging and zeroing, and vvvv both 1111 and naming a register (the
 * scalar moves' register forms). form_ok() keeps those hvemu decodes and executes. */
static void gen_simd_forms(void)
{
    static const uint8_t vex_ops[][2] = {
        {1, 0x10}, {1, 0x11}, {1, 0x12}, {1, 0x13}, {1, 0x16}, {1, 0x17}, {1, 0x28}, {1, 0x29}, {1, 0x2b}, {1, 0x6e}, {1, 0x6f},
        {1, 0x7e}, {1, 0x7f}, {1, 0xd6}, {1, 0xe7}, {1, 0xf0}, {1, 0x90}, {1, 0x91},
        {1, 0x92}, {1, 0x93}, {2, 0x2a},
    };
    static const uint8_t shapes[][7] = {
        {1, 0xc0 | 1}, {1, 0xc0 | 6}, {1, 0x03}, {2, 0x43, 0x40}, {6, 0x84, 0x8b, 0x20, 0, 0, 0},
        {3, 0x44, 0x24, 0x08}, {5, 0x05, 0, 0, 0, 0},
    };
    for (unsigned o = 0; o < sizeof vex_ops / sizeof vex_ops[0]; o++) {
        unsigned map = vex_ops[o][0], op = vex_ops[o][1];
        for (unsigned pp = 0; pp < 4; pp++)
            for (unsigned w = 0; w < 2; w++)
                for (unsigned l = 0; l < 2; l++)
                    for (unsigned v = 0; v < 2; v++)
                        for (unsigned rxb = 0; rxb < 3; rxb++)
                            for (unsigned sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
                                /* R X B inverted: none, R and B, X */
                                unsigned bits = rxb == 0 ? 0xe0 : rxb == 1 ? 0x60 : 0xa0;
                                unsigned vvvv = v ? 0 : 5;
                                uint8_t vex[3] = {0xc4, (uint8_t)(bits | map),
                                                  (uint8_t)((w << 7) | ((~vvvv & 15u) << 3) | (l << 2) | pp)};
                                uint8_t t[8];
                                memcpy(t, shapes[sh] + 1, shapes[sh][0]);
                                t[0] |= (uint8_t)((rnd() % 8) << 3);
                                add_form(vex, 3, NULL, 0, (uint8_t)op, t, shapes[sh][0]);
                            }
        /* EVEX: 62 P0 P1 P2 */
        for (unsigned pp = 0; pp < 4; pp++)
            for (unsigned w = 0; w < 2; w++)
                for (unsigned l = 0; l < 3; l++)
                    for (unsigned mk = 0; mk < 4; mk++)
                        for (unsigned rr = 0; rr < 3; rr++)
                            for (unsigned sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
                                /* P0: R X B R' 0 m m m (R X B R' inverted) */
                                unsigned p0 = rr == 0 ? 0xf0 : rr == 1 ? 0x20 : 0xd0; /* -, R+B+R'/X, X? */
                                unsigned vvvv = (mk & 1) ? 0 : 6, vp = mk == 3 ? 0 : 1;
                                unsigned aaa = mk == 0 ? 0 : mk == 1 ? 1 : mk == 2 ? 5 : 7;
                                unsigned z = mk >= 2;
                                uint8_t ev[4] = {0x62, (uint8_t)(p0 | map),
                                                 (uint8_t)((w << 7) | ((~vvvv & 15u) << 3) | 4 | pp),
                                                 (uint8_t)((z << 7) | (l << 5) | (vp << 3) | aaa)};
                                uint8_t t[8];
                                memcpy(t, shapes[sh] + 1, shapes[sh][0]);
                                t[0] |= (uint8_t)((rnd() % 8) << 3);
                                add_form(ev, 4, NULL, 0, (uint8_t)op, t, shapes[sh][0]);
                            }
    }
}

static void gen_forms(void)
{
    gen_simd_forms();
    static const uint8_t prefixes[][3] = {
        {0}, {1, 0x66}, {1, 0x48}, {1, 0x4d}, {1, 0x40}, {1, 0x67}, {2, 0x66, 0x41}, {1, 0xf0},
        {2, 0xf0, 0x48}, {1, 0xf3}, {1, 0xf2}, {2, 0xf3, 0x48}, {2, 0xf3, 0x66},
    };
    /* 32-bit code has no REX (40-4F are INC/DEC): operand and address size prefixes instead */
    static const uint8_t prefixes32[][4] = {
        {0}, {1, 0x66}, {1, 0x67}, {2, 0x66, 0x67}, {1, 0xf0}, {2, 0xf0, 0x66}, {1, 0xf3},
        {1, 0xf2}, {2, 0xf3, 0x66}, {2, 0xf3, 0x67}, {3, 0xf3, 0x66, 0x67},
    };
    static const uint8_t escapes[][3] = {{0}, {1, 0x0f}, {2, 0x0f, 0x38}};
    uint8_t pfx[24][4];
    static const uint8_t segpfx[][4] = {{1, 0x26}, {1, 0x2e}, {1, 0x36}, {1, 0x64}, {2, 0x66, 0x65},
                                        {2, 0x67, 0x36}};
    unsigned npfx = 0;
    if (g_mode != 64) {
        for (unsigned i = 0; i < sizeof prefixes32 / sizeof prefixes32[0]; i++)
            memcpy(pfx[npfx++], prefixes32[i], 4);
        if (g_unicorn)
            for (unsigned i = 0; i < sizeof segpfx / sizeof segpfx[0]; i++)
                memcpy(pfx[npfx++], segpfx[i], 4);
    } else {
        for (unsigned i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
            memcpy(pfx[npfx++], prefixes[i], 3);
    }

    /* ModRM shapes; the reg field is filled in below */
    static const uint8_t shapes[][7] = {
        {1, 0xc0 | 1},                  /* register rcx */
        {1, 0xc0 | 6},                  /* register rsi */
        {1, 0x03},                      /* [rbx] */
        {2, 0x43, 0x10},                /* [rbx+0x10] */
        {6, 0x84, 0x8b, 0x20, 0, 0, 0}, /* [rbx+rcx*4+0x20] */
        {3, 0x44, 0x24, 0x08},          /* [rsp+8] */
        {5, 0x05, 0, 0, 0, 0},          /* [rip+disp32], fixed up per state */
        {3, 0x45, 0xf8, 0},             /* [rbp-8] (SS) */
    };
    /* VEX-encoded GPR instructions (BMI1/BMI2): C4, map 0F38 F0-F7 and 0F3A F0, each W, pp,
     * L=0, and vvvv naming rax (1111), rcx, rbx or r9; R/X/B off and on (r8-r15 in ModRM) */
    static const uint8_t vvvv_regs[] = {0, 1, 3, 9};
    /* (in 32-bit code a C4 whose next byte is below C0 is LES, which has no handler: those
     * forms drop out) */
    for (unsigned map = 2; map <= 3; map++)
        for (unsigned op = 0xf0; op <= (map == 2 ? 0xf7u : 0xf0u); op++)
            for (unsigned w = 0; w < 2; w++)
                for (unsigned pp = 0; pp < 4; pp++)
                    for (unsigned vi = 0; vi < sizeof vvvv_regs; vi++)
                        for (unsigned rxb = 0; rxb < 2; rxb++) {
                            uint8_t vex[3] = {0xc4, (uint8_t)((rxb ? 0x20 : 0xe0) | map),
                                              (uint8_t)((w << 7) | ((~vvvv_regs[vi] & 15u) << 3) | pp)};
                            for (unsigned sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
                                for (unsigned reg = 0; reg < 8; reg++) {
                                    uint8_t t[8];
                                    memcpy(t, shapes[sh] + 1, shapes[sh][0]);
                                    t[0] |= (uint8_t)(reg << 3);
                                    add_form(vex, 3, NULL, 0, (uint8_t)op, t, shapes[sh][0]);
                                }
                        }
    for (unsigned e = 0; e < 3; e++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned p = 0; p < npfx; p++) {
                add_form(pfx[p] + 1, pfx[p][0], escapes[e] + 1, escapes[e][0], (uint8_t)op, NULL, 0);
                for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                    for (unsigned reg = 0; reg < 8; reg++) {
                        uint8_t t[8];
                        memcpy(t, shapes[s] + 1, shapes[s][0]);
                        t[0] |= (uint8_t)(reg << 3);
                        add_form(pfx[p] + 1, pfx[p][0], escapes[e] + 1, escapes[e][0],
                                 (uint8_t)op, t, shapes[s][0]);
                    }
            }
}

/* ---- one case ---- */

struct stats {
    uint64_t cases, ok, faults, mismatches, unhandled;
};

static int verbose;
/* CR4.FSGSBASE as the host kernel set it */
#define CR4_FSGSBASE (1ull << 16)

static void print_insn(const struct form *fm)
{
    for (unsigned i = 0; i < fm->len; i++)
        printf("%02x", fm->b[i]);
}

/* Instructions that take the vector state: a vector or opmask operand, or VEX/EVEX. */
static int is_simd(const struct hvemu_insn *in)
{
    if (in->encoding == HVEMU_ENC_VEX && in->map != 2 && in->map != 3)
        return 1; /* (the VEX BMI forms live in maps 0F38/0F3A) */
    if (in->encoding == HVEMU_ENC_EVEX)
        return 1;
    for (unsigned i = 0; i < in->noperands; i++)
        if (in->op[i].kind == HVEMU_OP_REG && in->op[i].u.reg.cls >= HVEMU_REG_XMM &&
            in->op[i].u.reg.cls <= HVEMU_REG_K)
            return 1;
    return 0;
}

static int uses_opmask(const struct hvemu_insn *in)
{
    for (unsigned i = 0; i < in->noperands; i++)
        if (in->op[i].kind == HVEMU_OP_REG && in->op[i].u.reg.cls == HVEMU_REG_K)
            return 1;
    return 0;
}

/* The element size an EVEX opmask selects for the SIMD moves. */
static unsigned elem_size(const struct hvemu_insn *in)
{
    const char *mn = hvemu_mnemonic_name(in->mnemonic);
    if (strstr(mn, "pd") || strstr(mn, "64") || !strcmp(mn, "vmovsd"))
        return 8;
    if (strstr(mn, "ps") || strstr(mn, "32") || !strcmp(mn, "vmovss"))
        return 4;
    if (strstr(mn, "16"))
        return 2;
    return 1;
}

static int host_is_amd(void)
{
    static int amd = -1;
    if (amd < 0) {
        unsigned a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
        amd = b == 0x68747541u; /* "Auth" */
    }
    return amd;
}

/* Behaviour the manuals leave to the implementation, measured on AMD Zen 4 and emulated that
 * way; compared only on AMD hosts:
 *  - #AC for a misaligned SIMD access of 16 bytes or more (Intel SDM: "may or may not be
 *    generated depending on processor implementation"; AMD Zen 4 raises it for the legacy,
 *    VEX and EVEX unaligned moves when the address is not 16-byte aligned)
 *  - an EVEX move whose opmask selects no element: Zen 4 makes no check at all on the memory
 *    operand (no alignment #GP, no canonical #GP/#SS).
 *  - a misaligned aligned move to a non-canonical SS address: Zen 4 raises #GP (alignment)
 *    rather than #SS (run_case() skips these on other hosts). */
static int vendor_specific(const struct native_state *st, const struct hvemu_insn *in)
{
    if (host_is_amd())
        return 0;
    for (unsigned i = 0; i < in->noperands; i++)
        if (in->op[i].kind == HVEMU_OP_MEM && in->op[i].size >= 16 && (st->rflags & HVEMU_FLAG_AC))
            return 1;
    if (in->encoding == HVEMU_ENC_EVEX && in->evex_aaa) {
        unsigned size = in->op[0].size > in->op[1].size ? in->op[0].size : in->op[1].size;
        unsigned nel = size / elem_size(in);
        if (!strcmp(hvemu_mnemonic_name(in->mnemonic), "vmovss") ||
            !strcmp(hvemu_mnemonic_name(in->mnemonic), "vmovsd"))
            nel = 1;
        uint64_t sel = st->k[in->evex_aaa & 7] & (nel >= 64 ? ~0ull : (1ull << nel) - 1);
        if (!sel)
            return 1;
    }
    return 0;
}

/* Where a SIMD memory operand of `size` bytes goes: mostly aligned to its size (the aligned
 * moves #GP otherwise), sometimes misaligned, across the page boundary inside the window, or
 * into the PROT_NONE page above it, where an opmask may leave the elements there unselected
 * (fault suppression). */
static uint64_t simd_target(struct native_state *st, const struct hvemu_insn *in, unsigned size)
{
    uint64_t end = NATIVE_MEM_ADDR + NATIVE_MEM_SIZE;
    unsigned a = size >= 64 ? 64 : size >= 32 ? 32 : 16;
    switch (rnd() % 8) {
    case 0: /* misaligned */
        return NATIVE_MEM_ADDR + 0x100 + rnd() % 0x1800;
    case 1: /* across the page boundary inside the window */
        return NATIVE_MEM_ADDR + 0x1000 - 1 - rnd() % (size ? size : 1);
    case 2: { /* into the PROT_NONE page; the opmask selects only what lies below it */
        uint64_t t = end - size + 4 * (1 + rnd() % (size / 4 ? size / 4 : 1));
        if (in->encoding == HVEMU_ENC_EVEX && in->evex_aaa && rnd() % 2) {
            unsigned inside = (unsigned)(end - t), n = inside / elem_size(in);
            st->k[in->evex_aaa] &= n >= 64 ? ~0ull : (1ull << n) - 1;
        }
        return t;
    }
    case 3: /* the last bytes of the window */
        return end - size;
    default:
        return (NATIVE_MEM_ADDR + 0x100 + rnd() % 0x1800) & ~(uint64_t)(a - 1);
    }
}

/* Set the registers a memory operand uses so that it lands at `target`. */
static void aim(struct native_state *st, const struct hvemu_mem *m, uint64_t target, struct form *fm,
                const struct hvemu_insn *in)
{
    if (m->segment == HVEMU_SS)
        target -= ss_base();
    if (m->base_class == HVEMU_REG_NONE && m->index_class == HVEMU_REG_NONE) {
        /* an absolute disp32 (or disp16 with 16-bit addressing) outside 64-bit mode */
        unsigned dsz = m->addr_size == 2 ? 2 : 4;
        unsigned at = (unsigned)fm->len - in->imm_size - dsz;
        for (unsigned i = 0; i < dsz; i++)
            fm->b[at + i] = (uint8_t)(target >> (8 * i));
        return;
    }
    if (m->base_class == HVEMU_REG_RIP) {
        /* rewrite disp32 so RIP-relative addressing reaches the target */
        int64_t d = (int64_t)(target - (NATIVE_CODE_ADDR + fm->len));
        unsigned at = (unsigned)fm->len - in->imm_size - 4;
        for (unsigned i = 0; i < 4; i++)
            fm->b[at + i] = (uint8_t)((uint64_t)d >> (8 * i));
        return;
    }
    uint64_t idx = 0;
    if (m->index_class != HVEMU_REG_NONE) {
        if (m->index_class == HVEMU_REG_GPR8) {
            idx = st->gpr[m->index] & 0xff; /* XLAT's AL */
        } else {
            st->gpr[m->index] = rnd() % 16;
            idx = st->gpr[m->index];
        }
    }
    if (m->base_class != HVEMU_REG_NONE && m->base < 16 &&
        !(m->index_class != HVEMU_REG_NONE && m->index == m->base))
        st->gpr[m->base] = target - (uint64_t)m->disp - idx * m->scale;
}

static uint64_t host_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* All 32 ZMM (16 YMM on an AVX-only host), k0-7 and MXCSR. */
static void vec_compare(const struct native_state *nat, const struct hvemu_state *hs, char *why,
                        size_t n, const char *when)
{
    int lvl = native_vec_level();
    unsigned nz = lvl == 2 ? 32 : 16, bytes = lvl == 2 ? 64 : 32;
    for (unsigned i = 0; i < nz; i++)
        for (unsigned b = 0; b < bytes; b++)
            if (nat->zmm[i][b] != hs->vec[i].b[b]) {
                snprintf(why, n, "%szmm%u byte %u: native %02x hvemu %02x", when, i, b,
                         nat->zmm[i][b], hs->vec[i].b[b]);
                return;
            }
    for (unsigned i = 0; lvl == 2 && i < 8; i++)
        if (nat->k[i] != hs->k[i]) {
            snprintf(why, n, "%sk%u: native %" PRIx64 " hvemu %" PRIx64, when, i, nat->k[i], hs->k[i]);
            return;
        }
    if (nat->mxcsr != hs->mxcsr)
        snprintf(why, n, "%smxcsr: native %x hvemu %x", when, nat->mxcsr, hs->mxcsr);
}

static int run_case(struct form *fm0, struct stats *stt)
{
    static struct native_state st, nat;
    static struct hvemu_state hs;
    struct form fm = *fm0;
    struct hvemu_insn in;
    hvemu_features feat = host_features;
    if (hvemu_decode(fm.b, fm.len, dec_mode(), &feat, &in) != HVEMU_DECODE_OK)
        return 0;
    const char *mn = hvemu_mnemonic_name(in.mnemonic);

    /* random state */
    int simd = is_simd(&in);
    /* the vector state is carried by the 64-bit native runner only: SIMD outside 64-bit mode
     * has unit tests (tests/unit/simd_rules.c) */
    if (simd && g_mode != 64)
        return 0;
    for (unsigned i = 0; i < 16; i++)
        st.gpr[i] = edge_value();
    st.vec = simd;
    if (simd) {
        st.mxcsr = 0x1f80;
        for (unsigned i = 0; i < 32; i++)
            for (unsigned j = 0; j < 64; j += 8) {
                uint64_t v = edge_value();
                memcpy(&st.zmm[i][j], &v, 8);
            }
        for (unsigned i = 0; i < 8; i++) {
            unsigned c = (unsigned)(rnd() % 4);
            st.k[i] = c == 0 ? 0 : c == 1 ? ~0ull : rnd();
        }
    }
    st.rflags = rnd() & 0x8d5;            /* arithmetic flags; DF rarely */
    if (rnd() % 8 == 0)
        st.rflags |= HVEMU_FLAG_DF;
    if (rnd() % 32 == 0 && !g_unicorn)
        st.rflags |= HVEMU_FLAG_AC;         /* alignment checking (Linux sets CR0.AM) */
    for (unsigned i = 0; i < NATIVE_MEM_SIZE; i += 8) {
        uint64_t v = edge_value();
        memcpy(st.mem + i, &v, 8);
    }
    /* the stack, string pointers and RBP in the window; counts small */
    st.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR - ss_base() + 0x1000 + (rnd() % 64) * 8;
    st.gpr[HVEMU_RBP] = NATIVE_MEM_ADDR - ss_base() + 0x800 + (rnd() % 64) * 8;
    if (g_mode == 16 && rnd() % 16 == 0)
        st.gpr[HVEMU_RSP] = rnd() % 8; /* the 16-bit stack pointer wraps */
    if (g_mode == 16 && rnd() % 2)
        st.gpr[HVEMU_RSP] |= (rnd() & 0xffff) << 16; /* SP's users must ignore and keep these */
    if (in.map == 0 && ((in.opcode >= 0xa4 && in.opcode <= 0xaf))) {
        st.gpr[HVEMU_RSI] = NATIVE_MEM_ADDR + 0x200 + rnd() % 0x200;
        st.gpr[HVEMU_RDI] = NATIVE_MEM_ADDR + 0x600 + rnd() % 0x200;
        st.gpr[HVEMU_RCX] = rnd() % 24;
        if ((in.prefixes & HVEMU_PFX_SEG) && in.seg_override == HVEMU_SS)
            st.gpr[HVEMU_RSI] -= ss_base(); /* an offset in the window-based stack segment */
        if (in.addrsize == 4)
            st.gpr[HVEMU_RCX] |= rnd() << 32; /* the upper half must be ignored */
    }
    if (!strcmp(mn, "leave"))
        st.gpr[HVEMU_RBP] = NATIVE_MEM_ADDR - ss_base() + 0x1000 + (rnd() % 64) * 8;
    if (!strncmp(mn, "bt", 2) && in.op[1].kind == HVEMU_OP_REG)
        st.gpr[in.op[1].u.reg.idx] = (uint64_t)((int64_t)(rnd() % 1024) - 512);
    if ((!strcmp(mn, "div") || !strcmp(mn, "idiv")) && rnd() % 2)
        st.gpr[HVEMU_RDX] = rnd() % 3 == 0 ? ~0ull : rnd() % 4;
    /* memory operands: inside the window; sometimes straddling into the faulting page */
    for (unsigned i = 0; i < in.noperands; i++) {
        const struct hvemu_operand *op = &in.op[i];
        if (op->kind != HVEMU_OP_MEM)
            continue;
        if (in.map == 0 && in.opcode >= 0xa4 && in.opcode <= 0xaf)
            continue;
        uint64_t target = NATIVE_MEM_ADDR + 0x100 + rnd() % 0x1800;
        if (rnd() % 16 == 0)
            target = NATIVE_MEM_ADDR + NATIVE_MEM_SIZE - 1 - rnd() % 8; /* crosses into PROT_NONE */
        if (simd) {
            target = simd_target(&st, &in, op->size);
            if (rnd() % 32 == 0) {
                target ^= 0x8000000000000000ull; /* non-canonical: #GP or #SS */
                /* misaligned too: AMD checks alignment (#GP) before the canonical #SS */
                if (op->u.mem.segment == HVEMU_SS && !host_is_amd())
                    return 0;
            }
        }
        if (rnd() % 64 == 0)
            target ^= 0x8000000000000000ull; /* non-canonical: #GP or #SS */
        if (g_mode == 32 && !g_unicorn && rnd() % 32 == 0)
            target = 0xffffffffull - rnd() % 8; /* at the 4 GiB segment limit */
        aim(&st, &op->u.mem, target, &fm, &in);
    }
    /* POPF: the value on the stack keeps TF clear (a set TF would single-step the native run;
     * hvemu does not model the trap that follows an instruction) */
    if (!strncmp(mn, "popf", 4)) {
        uint64_t sp = st.gpr[HVEMU_RSP] + ss_base() - NATIVE_MEM_ADDR;
        if (sp < NATIVE_MEM_SIZE)
            st.mem[sp + 1] &= (uint8_t)~1u; /* bit 8 */
    }
    /* indirect branch targets and return addresses inside the INT3 code region */
    int branch = !strcmp(mn, "jmp") || !strcmp(mn, "call") || !strcmp(mn, "ret");
    if (branch) {
        uint64_t t = NATIVE_CODE_LO + 0x100 + rnd() % 0x7000;
        if (rnd() % 32 == 0)
            t ^= 0x8000000000000000ull;
        if (in.noperands && in.op[0].kind == HVEMU_OP_REG)
            st.gpr[in.op[0].u.reg.idx] = t;
        else if (in.noperands && in.op[0].kind == HVEMU_OP_MEM) {
            uint64_t la = 0;
            /* find where the operand points now and plant the target there */
            const struct hvemu_mem *m = &in.op[0].u.mem;
            la = (uint64_t)m->disp;
            if (m->base_class == HVEMU_REG_RIP) la += NATIVE_CODE_ADDR + fm.len;
            else if (m->base_class != HVEMU_REG_NONE) la += st.gpr[m->base];
            if (m->index_class != HVEMU_REG_NONE) la += st.gpr[m->index] * m->scale;
            if (in.addrsize == 4) la &= 0xffffffff;
            if (in.addrsize == 2) la &= 0xffff;
            if (m->segment == HVEMU_SS) la += ss_base();
            if (in_window(la, 8))
                memcpy(st.mem + (la - NATIVE_MEM_ADDR), &t, in.opsize);
        } else if (!strcmp(mn, "ret")) {
            uint64_t off = st.gpr[HVEMU_RSP] + ss_base() - NATIVE_MEM_ADDR;
            if (off + 8 <= NATIVE_MEM_SIZE)
                memcpy(st.mem + off, &t, 8);
        }
    }

    /* a relative branch back into its own bytes would run it twice natively */
    for (unsigned i = 0; i < in.noperands; i++)
        if (in.op[i].kind == HVEMU_OP_REL) {
            uint64_t t = NATIVE_CODE_ADDR + fm.len + sext(in.op[i].u.imm.imm, in.op[i].size);
            if (t >= NATIVE_CODE_ADDR && t < NATIVE_CODE_ADDR + fm.len)
                return 0;
        }

    if (simd && vendor_specific(&st, &in))
        return 0;
    /* the native runner sets vector state up with AVX (or AVX-512) moves; EVEX and opmask
     * forms need all of AVX-512's state loaded (level 2) */
    if (simd && (native_vec_level() < 1 ||
                 (native_vec_level() < 2 && (in.encoding == HVEMU_ENC_EVEX || uses_opmask(&in)))))
        return 0;

    /* run natively */
    nat = st;
    struct native_fault nf;
    int nr = g_unicorn ? uc_oracle_run(fm.b, fm.len, &nat, &nf) : native_run(fm.b, fm.len, &nat, &nf);
    if (nr == NATIVE_TIMEOUT || nr < 0)
        return 0;

    /* run through hvemu on the same state */
    memset(&hs, 0, offsetof(struct hvemu_state, vec));
    hs.valid = HVEMU_PART_ALL;
    memcpy(hs.gpr, st.gpr, sizeof st.gpr);
    hs.rip = NATIVE_CODE_ADDR;
    hs.rflags = st.rflags | 0x202; /* IF is set in user mode */
    hs.cr0 = 0x80050033;           /* PE, AM, PG, ... */
    hs.cr4 = 0x3506f0 & ~CR4_FSGSBASE;
    if (native_have_fsgsbase())             /* RDFSBASE & co. are #UD unless the kernel enabled them */
        hs.cr4 |= CR4_FSGSBASE;
    hs.efer = 0xd01;
    hs.seg[HVEMU_CS].selector = 0x33;
    hs.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0xfb;
    hs.seg[HVEMU_SS].selector = 0x2b;
    hs.xcr0 = host_xcr0();
    if (simd) {
        memcpy(hs.vec, st.zmm, sizeof hs.vec);
        memcpy(hs.k, st.k, sizeof hs.k);
        hs.mxcsr = st.mxcsr;
    }
    if (g_mode == 32) {
        /* compatibility mode as Linux sets it up for 32-bit code: flat 4 GiB segments */
        hs.seg[HVEMU_CS].selector = 0x23;
        hs.seg[HVEMU_CS].attr = 0xc0fb;  /* code RX accessed, S, DPL 3, P, D, G */
        hs.seg[HVEMU_CS].limit = 0xffffffffu;
        for (unsigned sg = 0; sg < HVEMU_NUM_SEGS; sg++) {
            if (sg == HVEMU_CS)
                continue;
            hs.seg[sg].selector = 0x2b;
            hs.seg[sg].attr = 0xc0f3;   /* data RW accessed, S, DPL 3, P, B, G */
            hs.seg[sg].limit = 0xffffffffu;
        }
    }
    if (g_mode == 16) {
        /* uc_oracle.h's 16-bit machine: 16-bit code, flat data, a 16-bit stack in the window */
        hs.seg[HVEMU_CS].selector = 8;
        hs.seg[HVEMU_CS].attr = 0x809b;
        hs.seg[HVEMU_CS].limit = 0xffffffffu;
        for (unsigned sg = 0; sg < HVEMU_NUM_SEGS; sg++)
            if (sg != HVEMU_CS) {
                hs.seg[sg].selector = 0x10;
                hs.seg[sg].attr = 0xc093;
                hs.seg[sg].limit = 0xffffffffu;
            }
        hs.seg[HVEMU_SS].selector = 0x18;
        hs.seg[HVEMU_SS].base = UC_ORACLE_SS16_BASE;
        hs.seg[HVEMU_SS].limit = 0xffff;
        hs.seg[HVEMU_SS].attr = 0x93;
        if (g_real)
            hs.cr0 = 0x10; /* set again below for Unicorn; see there */
    }
    if (g_unicorn) {
        /* Unicorn's UC_MODE_32: protected mode without paging at CPL 0, IF clear, flat
         * segments with null selectors (QEMU keeps their flat descriptor caches usable) */
        hs.cr0 = g_real ? 0x10 : 0x11;
        hs.cr4 = 0;
        hs.efer = 0;
        hs.rflags &= ~(uint64_t)0x200;
        if (g_mode == 32) {
            hs.seg[HVEMU_CS].selector = 0;
            hs.seg[HVEMU_CS].attr = 0xc09b;
            for (unsigned sg = 0; sg < HVEMU_NUM_SEGS; sg++)
                if (sg != HVEMU_CS) {
                    hs.seg[sg].selector = 0;
                    hs.seg[sg].attr = 0xc093;
                }
        }
    }
    memcpy(hmem, st.mem, NATIVE_MEM_SIZE);
    struct hvemu_ctx ctx;
    struct hvemu_result res;
    hvemu_init(&ctx, &hops, NULL, &hs);
    ctx.features = host_features;
    ctx.rep_chunk = 1u << 20;
    int hr = hvemu_emulate_bytes(&ctx, fm.b, fm.len, &res);

    stt->cases++;
    char why[256] = "";
    /* compatibility mode: the low halves of the eight legacy GPRs (native.h) */
    unsigned ngpr = g_mode != 64 ? 8 : 16;
    uint64_t gmask = g_mode != 64 ? 0xffffffffull : ~0ull;
    if (hr == HVEMU_UNHANDLEABLE) {
        snprintf(why, sizeof why, "hvemu unhandleable: %s %s", res.reason, res.detail);
        /* documented refusals: split-lock RMW (never done non-atomically), SSE not executed */
        if (!strncmp(res.reason, "locked access crosses a page", 28) ||
            !strncmp(res.reason, "SSE instruction", 15) ||
            !strncmp(res.reason, "far transfer", 12) ||
            !strncmp(res.reason, "ENTER whose pushes wrap", 23) ||
            !strncmp(res.reason, "ENTER with an operand size", 26)) {
            stt->unhandled++;
            return 0;
        }
    } else if (nr == NATIVE_OK && g_unicorn && hr == HVEMU_EXCEPTION && !strcmp(mn, "enter") &&
               (res.exc.vector == HVEMU_EXC_PF || (g_mode == 16 && res.exc.vector == HVEMU_EXC_SS))) {
        /* ENTER touches its new stack top on the hardware (the 64-bit host test shows it);
         * QEMU does not, so a #PF (or, past a 16-bit stack's limit, #SS) there has no
         * counterpart */
        stt->unhandled++;
        return 0;
    } else if (nr == NATIVE_OK) {
        stt->ok++;
        uint64_t dmask = 0;
        uint64_t count = 0, src = 0;
        unsigned width = in.noperands ? in.op[0].size * 8 : 64;
        if (in.noperands > 1 && in.op[in.noperands - 1].kind == HVEMU_OP_IMM)
            count = in.op[in.noperands - 1].u.imm.imm;
        else if (in.noperands > 1 && in.op[in.noperands - 1].kind == HVEMU_OP_REG &&
                 in.op[in.noperands - 1].u.reg.cls == HVEMU_REG_GPR8 && in.op[in.noperands - 1].u.reg.idx == 1)
            count = st.gpr[HVEMU_RCX] & 0xff;
        if (in.noperands > 1) {
            if (in.op[1].kind == HVEMU_OP_REG && in.op[1].u.reg.cls >= HVEMU_REG_GPR8 &&
                in.op[1].u.reg.cls <= HVEMU_REG_GPR64 && in.op[1].u.reg.idx < 16)
                src = st.gpr[in.op[1].u.reg.idx] & ((width >= 64) ? ~0ull : (1ull << width) - 1);
            else if (in.op[1].kind == HVEMU_OP_MEM)
                src = 1; /* a memory source: decide below from the result's ZF */
        }
        if ((!strcmp(mn, "bsf") || !strcmp(mn, "bsr")) && in.op[1].kind == HVEMU_OP_MEM)
            src = (nat.rflags & HVEMU_FLAG_ZF) ? 0 : 1;
        uint32_t undef = undef_flags_for(mn, width, count, src, &dmask);
        if (hr != HVEMU_OK) {
            snprintf(why, sizeof why, "native completed, hvemu raised vector %u", res.exc.vector);
        } else {
            uint64_t fm_mask = NATIVE_RFLAGS_MASK & ~(uint64_t)undef;
            for (unsigned i = 0; i < ngpr && !why[0]; i++) {
                uint64_t m = gmask;
                if (in.noperands && in.op[0].kind == HVEMU_OP_REG && in.op[0].u.reg.idx == i &&
                    in.op[0].u.reg.cls != HVEMU_REG_GPR8_HIGH)
                    m = gmask & ~dmask;
                if ((nat.gpr[i] ^ hs.gpr[i]) & m)
                    snprintf(why, sizeof why, "gpr %u: native %016" PRIx64 " hvemu %016" PRIx64, i, nat.gpr[i], hs.gpr[i]);
            }
            if (!why[0] && ((nat.rflags ^ hs.rflags) & fm_mask))
                snprintf(why, sizeof why, "rflags: native %" PRIx64 " hvemu %" PRIx64 " (compared %" PRIx64 ")",
                         nat.rflags, hs.rflags & NATIVE_RFLAGS_MASK, fm_mask);
            if (!why[0] && nat.rip != hs.rip)
                snprintf(why, sizeof why, "rip: native %" PRIx64 " hvemu %" PRIx64, nat.rip, hs.rip);
            if (!why[0] && simd)
                vec_compare(&nat, &hs, why, sizeof why, "");
            if (!why[0] && memcmp(nat.mem, hmem, NATIVE_MEM_SIZE)) {
                unsigned k = 0;
                while (nat.mem[k] == hmem[k]) k++;
                snprintf(why, sizeof why, "memory at +%#x: native %02x hvemu %02x", k, nat.mem[k], hmem[k]);
            }
        }
    } else {
        stt->faults++;
        /* the vector the host saw; a #PF the kernel reports with the address */
        int nvec = nf.vector;
        if (nf.signo == 7 /* SIGBUS */ && nvec < 0) nvec = HVEMU_EXC_AC;
        if (hr != HVEMU_EXCEPTION) {
            snprintf(why, sizeof why, "native fault vector %d (sig %d, addr %" PRIx64 "), hvemu status %d", nvec,
                     nf.signo, nf.fault_addr, hr);
        } else if (g_unicorn && g_mode == 16 && res.exc.vector == HVEMU_EXC_SS && nvec == HVEMU_EXC_PF) {
            /* the 16-bit stack segment's 0xFFFF limit: QEMU checks no segment limits, so a
             * stack access past it (a push at its top, or an SS-relative operand with 32-bit
             * addressing) goes on to unmapped memory (tests/unit/modes.c has the #SS) */
            stt->unhandled++;
            return 0;
        } else if ((int)res.exc.vector != nvec) {
            snprintf(why, sizeof why, "vector: native %d hvemu %u", nvec, res.exc.vector);
        } else if (nvec == HVEMU_EXC_PF && res.exc.cr2 != nf.fault_addr &&
                   !(g_unicorn && !strncmp(mn, "cmps", 4))) {
            /* (CMPS with both operands unmapped: QEMU reads ES:rDI first) */
            snprintf(why, sizeof why, "#PF address: native %" PRIx64 " hvemu %" PRIx64, nf.fault_addr, res.exc.cr2);
        } else {
            /* state as the CPU left it: unchanged, or a REP string's progress */
            for (unsigned i = 0; i < ngpr && !why[0]; i++)
                if ((nat.gpr[i] ^ hs.gpr[i]) & gmask)
                    snprintf(why, sizeof why, "after fault, gpr %u: native %" PRIx64 " hvemu %" PRIx64, i, nat.gpr[i], hs.gpr[i]);
            if (!why[0] && hs.rip != NATIVE_CODE_ADDR)
                snprintf(why, sizeof why, "after fault, rip moved");
            if (!why[0] && simd)
                vec_compare(&nat, &hs, why, sizeof why, "after fault, ");
            /* ENTER faulting on its new stack top: the host has already stored the pushed
             * frame pointer below RSP (free stack, not architectural state); hvemu writes
             * nothing on a fault. Bytes below the old RSP are not compared then. */
            unsigned from = 0;
            if (!strcmp(mn, "enter") && st.gpr[HVEMU_RSP] - NATIVE_MEM_ADDR <= NATIVE_MEM_SIZE)
                from = (unsigned)(st.gpr[HVEMU_RSP] - NATIVE_MEM_ADDR);
            /* (QEMU does the first page's part of a page-crossing store before the #PF) */
            if (!why[0] && !(g_unicorn && nvec == HVEMU_EXC_PF) &&
                memcmp(nat.mem + from, hmem + from, NATIVE_MEM_SIZE - from))
                snprintf(why, sizeof why, "after fault, memory differs");
        }
    }
    if (why[0]) {
        stt->mismatches++;
        if (stt->mismatches <= 30 || verbose) {
            printf("MISMATCH %s ", mn);
            print_insn(&fm);
            printf(": %s\n  state:", why);
            for (unsigned i = 0; i < 16; i++)
                printf(" %" PRIx64, st.gpr[i]);
            printf(" fl=%" PRIx64 "\n", st.rflags);
            if (simd)
                printf("  k[aaa]=%" PRIx64 "\n", st.k[in.evex_aaa & 7]);
        }
        return 1;
    }
    return 0;
}

static int parse_hex(const char *s, struct form *f)
{
    f->len = 0;
    while (*s && f->len < 15) {
        unsigned v;
        if (*s == ' ') { s++; continue; }
        if (sscanf(s, "%2x", &v) != 1)
            return -1;
        f->b[f->len++] = (uint8_t)v;
        s += 2;
    }
    return f->len ? 0 : -1;
}

int main(int argc, char **argv)
{
    unsigned trials = 40;
    const char *only_hex = NULL, *only_mn = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--trials") && i + 1 < argc) trials = (unsigned)strtoul(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state = strtoull(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--insn") && i + 1 < argc) only_hex = argv[++i];
        else if (!strcmp(argv[i], "--mnemonic") && i + 1 < argc) only_mn = argv[++i];
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) g_mode = (unsigned)strtoul(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--oracle") && i + 1 < argc) g_unicorn = !strcmp(argv[++i], "unicorn");
        else if (!strcmp(argv[i], "--real")) g_real = 1;
        else if (!strcmp(argv[i], "--list")) list = 1;
        else {
            fprintf(stderr, "usage: %s [--trials N] [--seed S] [--insn HEX] [--mnemonic NAME] [--mode 64|32|16] [--oracle unicorn] [--real] [--verbose] [--list]\n", argv[0]);
            return 2;
        }
    }
    host_features = hvemu_features_from_cpuid(h_cpuid, NULL);
    hvemu_feature_set(&host_features, HVEMU_FEAT_APX, 0);
    if (g_mode != 64 && g_mode != 32 && !(g_mode == 16 && g_unicorn)) {
        fprintf(stderr, "--mode must be 64 or 32 (or 16 with --oracle unicorn)\n");
        return 2;
    }
    if (g_unicorn && (g_mode == 64 || (g_real && g_mode != 16) ||
                      uc_oracle_init(g_real ? 15 : g_mode) != 0)) {
        printf("summary: SKIP: --oracle unicorn needs --mode 32 or 16 and libunicorn.so.2\n");
        return 0;
    }
    if (!g_unicorn) {
        if (native_init() != 0)
            return 1;
        int m = native_set_mode(g_mode);
        if (m == -2) {
            printf("summary: SKIP: this host cannot run compatibility-mode code (no 32-bit user code "
                   "segment); use --oracle unicorn for 32-bit protected mode\n");
            return 0;
        }
        if (m != 0) {
            fprintf(stderr, "cannot switch the native runner to mode %u\n", g_mode);
            return 1;
        }
    }
    forms = calloc(MAX_FORMS, sizeof *forms);
    if (only_hex) {
        if (parse_hex(only_hex, &forms[0]) != 0) {
            fprintf(stderr, "bad hex\n");
            return 2;
        }
        nforms = 1;
    } else {
        gen_forms();
    }
    struct stats st = {0, 0, 0, 0, 0};
    unsigned used = 0, mnseen[HV_MN_COUNT] = {0};
    for (unsigned f = 0; f < nforms; f++) {
        struct hvemu_insn in;
        if (hvemu_decode(forms[f].b, forms[f].len, dec_mode(), NULL, &in) != HVEMU_DECODE_OK)
            continue;
        if (only_mn && strcmp(only_mn, hvemu_mnemonic_name(in.mnemonic)))
            continue;
        if (list) {
            print_insn(&forms[f]);
            printf(" %s\n", hvemu_mnemonic_name(in.mnemonic));
        }
        used++;
        mnseen[in.mnemonic]++;
        for (unsigned t = 0; t < trials; t++)
            run_case(&forms[f], &st);
    }
    unsigned nmn = 0;
    for (unsigned i = 0; i < HV_MN_COUNT; i++)
        nmn += mnseen[i] != 0;
    printf("compared %" PRIu64 " cases over %u forms of %u mnemonics: %" PRIu64 " completed, %" PRIu64
           " faulted, %" PRIu64 " known-unhandleable\n", st.cases, used, nmn, st.ok, st.faults, st.unhandled);
    printf("summary: %" PRIu64 " cases passed, %" PRIu64 " failed\n", st.cases - st.mismatches, st.mismatches);
    return st.mismatches ? 1 : 0;
}
