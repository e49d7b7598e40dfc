/* SPDX-License-Identifier: MIT */
/* `hvemu bench`: ns per emulated instruction (fetch + decode + execute + callbacks to a trivial
 * device) for an MMIO-style mix, and the same instructions emulated one at a time by Unicorn
 * (uc_emu_start with count 1, the device mapped with uc_mmio_map) in the same run.
 * Unicorn is loaded at run time (dlopen), so the tool neither needs nor links it to build. */
#include "cli.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<unicorn/unicorn.h>)
#include <unicorn/unicorn.h>
#define HAVE_UNICORN_H 1
#endif
#endif

const char cmd_bench_usage[] =
    "usage: hvemu bench [--iterations N] [--only K] [--no-unicorn] [--apx]\n"
    "\n"
    "Time hvemu_emulate() on an MMIO-style mix: MOV store and load to a device, ALU on device\n"
    "memory, MOVZX, REP MOVSB of 64 bytes, XCHG with memory; and the same instructions in\n"
    "Unicorn (if libunicorn.so.2 is installed) one at a time. Prints ns per instruction and the\n"
    "ratio. The figures are for reading, never asserted. --only K times the K-th of the mix\n"
    "(1 = the MOV store), e.g. under valgrind --tool=callgrind to count instructions.\n"
    "--apx times an APX mix (REX2 with r16/r17, NDD, NF, CFCMOV, CCMP, PUSH2) next to the same\n"
    "operations without APX (legacy registers and encodings).\n";

#define CODE_ADDR 0x1000ull
#define DEV_ADDR 0x100000ull
#define DEV_SIZE 0x1000u

struct bench_insn {
    const char *name;
    const char *hex;
};

static const struct bench_insn mix[] = {
    {"mov [dev], eax (MMIO store)", "8907"},
    {"mov eax, [dev] (MMIO load)", "8b07"},
    {"add dword [dev+8], 1", "83470801"},
    {"movzx eax, byte [dev+1]", "0fb64701"},
    {"rep movsb 64 bytes", "f3a4"},
    {"xchg [dev], eax", "8707"},
};
#define NMIX (sizeof mix / sizeof mix[0])

/* The APX mix: each APX form next to the legacy instruction doing the same device access. */
static const struct bench_insn apx_mix[][2] = {
    {{"mov [r16], eax (REX2)", "d5108900"}, {"mov [rdi], eax", "8907"}},
    {{"mov r17d, [r16] (REX2)", "d5508b08"}, {"mov eax, [rdi]", "8b07"}},
    {{"add r18d, [r16+8], 1 (NDD)", "62fc6c1083400801"}, {"add dword [rdi+8], 1", "83470801"}},
    {{"{nf} add [r16+8], 1", "62fc7c0c83400801"}, {"add dword [rdi+8], 1", "83470801"}},
    {{"cfcmovnz r17d, [r16]", "62ec7c084508"}, {"cmovnz eax, [rdi]", "0f4507"}},
    {{"ccmpt dword [r16], 1", "62fc040a833801"}, {"cmp dword [rdi], 1", "833f01"}},
    {{"push2 r16, r17", "62fc7c10fff1"}, {"push rax", "50"}},
};
#define NAPX (sizeof apx_mix / sizeof apx_mix[0])

/* ---- the trivial device for hvemu ---- */

static uint8_t dev[DEV_SIZE];
static uint8_t code_page[4096];

static int d_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k; (void)e;
    if (a >= DEV_ADDR && a - DEV_ADDR + n <= DEV_SIZE)
        memcpy(d, dev + (a - DEV_ADDR), n);
    else
        memset(d, 0, n);
    return HVEMU_CB_OK;
}

static int d_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k; (void)e;
    if (a >= DEV_ADDR && a - DEV_ADDR + n <= DEV_SIZE)
        memcpy(dev + (a - DEV_ADDR), d, n);
    return HVEMU_CB_OK;
}

static int d_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)e;
    uint8_t *p = dev + (a - DEV_ADDR);
    if (memcmp(p, exp, n)) {
        memcpy(exp, p, n);
        return HVEMU_CB_CHANGED;
    }
    memcpy(p, des, n);
    return HVEMU_CB_OK;
}

static int d_fetch(void *o, uint64_t a, void *d, unsigned n, unsigned *got, struct hvemu_exception *e)
{
    (void)o; (void)e;
    memcpy(d, code_page + (a & 4095), n);
    *got = n;
    return HVEMU_CB_OK;
}

static const struct hvemu_ops bench_ops = {
    .read = d_read, .write = d_write, .cmpxchg = d_cmpxchg, .fetch = d_fetch,
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void set_regs(struct hvemu_state *s)
{
    s->rip = CODE_ADDR;
    s->gpr[HVEMU_RDI] = DEV_ADDR;
    s->gpr[HVEMU_RSI] = DEV_ADDR + 0x800;
    s->gpr[HVEMU_RCX] = 64;
    s->gpr[HVEMU_RAX] = 0x12345678;
    s->gpr[HVEMU_R16] = DEV_ADDR; /* the APX mix addresses the device through r16 */
}

/* Best of 5 runs of `iters` emulations: ns per instruction. */
static double bench_hvemu(const uint8_t *code, size_t len, unsigned iters)
{
    static struct hvemu_state st;
    struct hvemu_ctx ctx;
    struct hvemu_result res;
    memset(&st, 0, sizeof st);
    st.valid = HVEMU_PART_ALL;
    st.cr0 = 0x80000011;
    st.efer = 0x500;
    st.rflags = 2;
    st.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0x9b;
    st.cr4 = 1u << 18;                   /* OSXSAVE */
    st.xcr0 = 0x7 | HVEMU_XCR0_APX;      /* APX enabled (read only when a decode needs it) */
    memcpy(code_page + (CODE_ADDR & 4095), code, len);
    hvemu_init(&ctx, &bench_ops, NULL, &st);
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        double t0 = now_ns();
        for (unsigned i = 0; i < iters; i++) {
            set_regs(&st);
            if (hvemu_emulate(&ctx, &res) != HVEMU_OK) {
                fprintf(stderr, "hvemu bench: emulation failed (%d %s)\n", res.status, res.reason ? res.reason : "");
                return -1;
            }
        }
        double t = (now_ns() - t0) / iters;
        if (t < best)
            best = t;
    }
    return best;
}

/* ---- Unicorn, through dlopen ---- */

#ifdef HAVE_UNICORN_H
struct uc_api {
    void *lib;
    uc_err (*open)(uc_arch, uc_mode, uc_engine **);
    uc_err (*close)(uc_engine *);
    uc_err (*mem_map)(uc_engine *, uint64_t, size_t, uint32_t);
    uc_err (*mem_write)(uc_engine *, uint64_t, const void *, size_t);
    uc_err (*mmio_map)(uc_engine *, uint64_t, size_t, uc_cb_mmio_read_t, void *, uc_cb_mmio_write_t, void *);
    uc_err (*reg_write)(uc_engine *, int, const void *);
    uc_err (*emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
};

static uint64_t uc_dev_read(uc_engine *uc, uint64_t off, unsigned size, void *user)
{
    (void)uc; (void)user;
    uint64_t v = 0;
    if (off + size <= DEV_SIZE)
        memcpy(&v, dev + off, size);
    return v;
}

static void uc_dev_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *user)
{
    (void)uc; (void)user;
    if (off + size <= DEV_SIZE)
        memcpy(dev + off, &value, size);
}

static int uc_load(struct uc_api *u)
{
    u->lib = dlopen("libunicorn.so.2", RTLD_NOW);
    if (!u->lib)
        return -1;
#define SYM(f, n) *(void **)(&u->f) = dlsym(u->lib, n); if (!u->f) return -1
    SYM(open, "uc_open"); SYM(close, "uc_close"); SYM(mem_map, "uc_mem_map");
    SYM(mem_write, "uc_mem_write"); SYM(mmio_map, "uc_mmio_map"); SYM(reg_write, "uc_reg_write");
    SYM(emu_start, "uc_emu_start");
#undef SYM
    return 0;
}

static double bench_unicorn(struct uc_api *u, const uint8_t *code, size_t len, unsigned iters, int rep)
{
    uc_engine *uc;
    if (u->open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        return -1;
    u->mem_map(uc, CODE_ADDR & ~4095ull, 4096, UC_PROT_ALL);
    u->mem_write(uc, CODE_ADDR, code, len);
    u->mmio_map(uc, DEV_ADDR, DEV_SIZE, uc_dev_read, NULL, uc_dev_write, NULL);
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        double t0 = now_ns();
        for (unsigned i = 0; i < iters; i++) {
            uint64_t rdi = DEV_ADDR, rsi = DEV_ADDR + 0x800, rcx = 64, rax = 0x12345678;
            u->reg_write(uc, UC_X86_REG_RDI, &rdi);
            u->reg_write(uc, UC_X86_REG_RSI, &rsi);
            u->reg_write(uc, UC_X86_REG_RCX, &rcx);
            u->reg_write(uc, UC_X86_REG_RAX, &rax);
            /* count 1, as the comparison is specified; but with count 1 Unicorn stops a REP
             * string after its first iteration (RCX 64 -> 63, RIP unchanged), so a REP runs
             * until the instruction's end instead (a slower mode of Unicorn's: ~2.5 us here) */
            uc_err err = rep ? u->emu_start(uc, CODE_ADDR, CODE_ADDR + len, 0, 0)
                             : u->emu_start(uc, CODE_ADDR, 0, 0, 1);
            if (err != UC_ERR_OK) {
                u->close(uc);
                return -1;
            }
        }
        double t = (now_ns() - t0) / iters;
        if (t < best)
            best = t;
    }
    u->close(uc);
    return best;
}
#endif

int cmd_bench(int argc, char **argv)
{
    unsigned iters = 1000000, only = 0;
    int use_unicorn = 1, apx = 0;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &v) || v == 0 || v > 100000000)
                return cli_usage_error("bench", "bad iteration count %s", argv[i]);
            iters = (unsigned)v;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &v) || v == 0 || v > NMIX)
                return cli_usage_error("bench", "--only takes 1..%u", (unsigned)NMIX);
            only = (unsigned)v;
        } else if (!strcmp(argv[i], "--apx")) {
            apx = 1;
        } else if (!strcmp(argv[i], "--no-unicorn")) {
            use_unicorn = 0;
        } else if (!strcmp(argv[i], "--help")) {
            fputs(cmd_bench_usage, stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error("bench", "unknown argument %s", argv[i]);
        }
    }
    if (apx) {
        double sa = 0, sl = 0;
        printf("%-30s %9s  %-22s %9s\n", "APX instruction", "ns", "without APX", "ns");
        for (unsigned k = 0; k < NAPX; k++) {
            uint8_t ca[16], cl[16];
            long na = cli_parse_hex(apx_mix[k][0].hex, ca, sizeof ca);
            long nl = cli_parse_hex(apx_mix[k][1].hex, cl, sizeof cl);
            double ha = bench_hvemu(ca, (size_t)na, iters), hl = bench_hvemu(cl, (size_t)nl, iters);
            if (ha < 0 || hl < 0)
                return CLI_EXIT_FAIL;
            sa += ha;
            sl += hl;
            printf("%-30s %9.1f  %-22s %9.1f\n", apx_mix[k][0].name, ha, apx_mix[k][1].name, hl);
        }
        printf("%-30s %9.1f  %-22s %9.1f\n", "APX mix (mean)", sa / NAPX, "legacy mix (mean)", sl / NAPX);
        return CLI_EXIT_OK;
    }
#ifdef HAVE_UNICORN_H
    struct uc_api u;
    memset(&u, 0, sizeof u);
    int have_uc = use_unicorn && uc_load(&u) == 0;
#else
    int have_uc = 0;
    (void)use_unicorn;
#endif
    printf("%-32s %12s %14s %10s\n", "instruction", "hvemu ns", "unicorn ns", "ratio");
    double sum_h = 0, sum_u = 0;
    for (unsigned k = 0; k < NMIX; k++) {
        uint8_t code[16];
        if (only && k != only - 1)
            continue;
        long n = cli_parse_hex(mix[k].hex, code, sizeof code);
        double h = bench_hvemu(code, (size_t)n, iters);
        double un = -1;
#ifdef HAVE_UNICORN_H
        if (have_uc)
            un = bench_unicorn(&u, code, (size_t)n, iters / 50 + 1, code[0] == 0xf3);
#endif
        sum_h += h;
        if (un > 0) {
            sum_u += un;
            printf("%-32s %12.1f %14.1f %9.0fx\n", mix[k].name, h, un, un / h);
        } else {
            printf("%-32s %12.1f %14s %10s\n", mix[k].name, h, "-", "-");
        }
    }
    if (have_uc && sum_u > 0)
        printf("%-32s %12.1f %14.1f %9.0fx\n", "mix (mean)", sum_h / NMIX, sum_u / NMIX, sum_u / sum_h);
    else
        printf("%-32s %12.1f   (Unicorn not available: apt-get install libunicorn2)\n", "mix (mean)", sum_h / NMIX);
    return CLI_EXIT_OK;
}
