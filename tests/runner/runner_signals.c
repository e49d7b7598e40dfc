/* SPDX-License-Identifier: MIT */
/*
 * The trap-and-emulate runner, one behaviour at a time: values through a device window, state
 * written back (GPRs, flags, FS-relative addressing, a REP that takes several exits), and the
 * exceptions hvemu reports arriving at the guest as the matching signal with the guest's own
 * context: #DE -> SIGFPE, #PF past the window's end -> SIGSEGV with si_addr = the first byte
 * past it, a device's #GP -> SIGSEGV, a guest handler that skips the instruction, faults
 * outside every window reaching the handler installed before the runner, and an instruction
 * hvemu does not execute ending the process with the reason.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runner.h"

#include <asm/prctl.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static int g_fail, g_checks;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        g_checks++;                                                                         \
        if (!(cond)) {                                                                      \
            g_fail++;                                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                     \
            printf(__VA_ARGS__);                                                            \
            printf("\n");                                                                   \
        }                                                                                   \
    } while (0)

/* ---- a device: 16 registers of 64 bits, reads of register 15 fault with #GP ---- */

static uint64_t g_regs[1024] __attribute__((aligned(64)));
static unsigned g_dev_reads;

static int dev_read(void *o, uint64_t off, void *data, unsigned size, enum hvemu_access kind,
                    struct hvemu_exception *exc)
{
    (void)o;
    (void)kind;
    g_dev_reads++;
    if (off >= 15 * 8 && off < 16 * 8) {
        exc->vector = HVEMU_EXC_GP;
        exc->has_error_code = 1;
        exc->error_code = 0;
        return HVEMU_CB_FAULT;
    }
    hvr_atomic_load((uint8_t *)g_regs + off, data, size);
    return HVEMU_CB_OK;
}

static int dev_write(void *o, uint64_t off, const void *data, unsigned size,
                     enum hvemu_access kind, struct hvemu_exception *exc)
{
    (void)o;
    (void)kind;
    (void)exc;
    hvr_atomic_store((uint8_t *)g_regs + off, data, size);
    return HVEMU_CB_OK;
}

static int dev_cmpxchg(void *o, uint64_t off, void *expected, const void *desired, unsigned size,
                       struct hvemu_exception *exc)
{
    (void)o;
    (void)exc;
    return hvr_atomic_cmpxchg((uint8_t *)g_regs + off, expected, desired, size);
}

static const struct hvr_device dev = {dev_read, dev_write, dev_cmpxchg, NULL};

/* ---- the guest's signal handlers ---- */

static sigjmp_buf g_jmp;
static volatile int g_sig, g_code;
static volatile uint64_t g_addr, g_rip;
static volatile int g_skip; /* instead of jumping back: advance RIP by g_skip and resume */

static void guest_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    g_sig = sig;
    g_code = si->si_code;
    g_addr = (uint64_t)(uintptr_t)si->si_addr;
    g_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    if (g_skip) {
        uc->uc_mcontext.gregs[REG_RIP] += g_skip;
        return;
    }
    siglongjmp(g_jmp, 1);
}

static void install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guest_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sig == SIGSEGV)
        hvr_guest_sigaction(sig, &sa, NULL);
    else
        sigaction(sig, &sa, NULL);
}

static void reset(void)
{
    g_sig = 0;
    g_code = 0;
    g_addr = 0;
    g_rip = 0;
    g_skip = 0;
}

/* Address of a label in an asm block, to compare with the RIP a handler sees. */
extern const char div_insn[], past_insn[], gp_insn[], skip_insn[], skip_after[];

static uint8_t *g_win;
#define WIN_LEN 8192

__attribute__((noinline)) static void test_values(void)
{
    struct hvr_stats before, after;
    hvr_thread_stats(&before);
    g_regs[0] = 0x1122334455667788ull;
    uint64_t v;
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(g_win) : "memory");
    CHECK(v == 0x1122334455667788ull, "64-bit device read gave %#lx", (unsigned long)v);
    uint32_t w = 0xdeadbeef;
    __asm__ volatile("movl %0, 8(%1)" : : "r"(w), "r"(g_win) : "memory");
    CHECK((uint32_t)g_regs[1] == 0xdeadbeef, "32-bit device write left %#lx", (unsigned long)g_regs[1]);
    /* flags come back from the emulated ALU instruction */
    g_regs[2] = 0xffffffff;
    uint64_t f;
    __asm__ volatile("addl %2, 16(%1)\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(g_win), "r"(1u) : "memory", "cc");
    CHECK((f & 0x45) == 0x45 && (uint32_t)g_regs[2] == 0, "add flags %#lx value %#lx",
          (unsigned long)f, (unsigned long)g_regs[2]);
    /* every GPR the instruction does not write survives the trip through the signal frame */
    uint64_t r12 = 0x1212, r13 = 0x1313, r14 = 0x1414, r15 = 0x1515;
    __asm__ volatile("movq (%4), %%rax" : "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15) : "r"(g_win) : "rax", "memory");
    CHECK(r12 == 0x1212 && r13 == 0x1313 && r14 == 0x1414 && r15 == 0x1515, "callee registers changed");
    /* FS-relative: the runner loads the FS base only for this */
    unsigned long fsbase = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase);
    uint64_t rel = (uint64_t)(uintptr_t)g_win - fsbase;
    __asm__ volatile("movq %%fs:(%1), %0" : "=r"(v) : "r"(rel) : "memory");
    CHECK(v == 0x1122334455667788ull, "fs-relative device read gave %#lx", (unsigned long)v);
    /* a REP STOSB longer than hvemu's per-call chunk: several exits, one result */
    memset(g_regs, 0, sizeof(g_regs));
    uint64_t di = (uint64_t)(uintptr_t)(g_win + 100), cnt = 3000;
    hvr_thread_stats(&before);
    __asm__ volatile("rep stosb" : "+D"(di), "+c"(cnt) : "a"(0x5a) : "memory");
    hvr_thread_stats(&after);
    int all = 1;
    for (int i = 100; i < 3100; i++)
        all &= ((uint8_t *)g_regs)[i] == 0x5a;
    CHECK(all && cnt == 0 && di == (uint64_t)(uintptr_t)(g_win + 3100) &&
              ((uint8_t *)g_regs)[99] == 0 && ((uint8_t *)g_regs)[3100] == 0,
          "rep stosb into the window");
    CHECK(after.exits - before.exits >= 3, "rep stosb of 3000 took %lu exits (chunks of 1024)",
          (unsigned long)(after.exits - before.exits));
    /* CMPXCHG16B on the device */
    g_regs[4] = 1;
    g_regs[5] = 2;
    uint64_t lo = 1, hi = 2;
    unsigned char ok;
    __asm__ volatile("lock cmpxchg16b (%[p])\n\tsete %[ok]"
                     : [ok] "=q"(ok), "+a"(lo), "+d"(hi)
                     : [p] "r"(g_win + 32), "b"(3ull), "c"(4ull)
                     : "memory", "cc");
    CHECK(ok && g_regs[4] == 3 && g_regs[5] == 4, "cmpxchg16b on the device");
}

__attribute__((noinline)) static void test_de(void)
{
    reset();
    install(SIGFPE);
    g_regs[3] = 0; /* the divisor read from the device */
    volatile int reached = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        __asm__ volatile("xorl %%edx, %%edx\n\tmovl $100, %%eax\n"
                         "div_insn:\n\tdivl 24(%0)"
                         : : "r"(g_win) : "rax", "rdx", "memory", "cc");
        reached = 1;
    }
    CHECK(!reached && g_sig == SIGFPE && g_code == FPE_INTDIV, "#DE: signal %d code %d", g_sig, g_code);
    CHECK(g_rip == (uint64_t)(uintptr_t)div_insn, "#DE: handler RIP %#lx, div at %p",
          (unsigned long)g_rip, (const void *)div_insn);
    /* and with a non-zero divisor, the emulated DIV gives the quotient */
    g_regs[3] = 7;
    uint32_t q, r;
    __asm__ volatile("xorl %%edx, %%edx\n\tmovl $100, %%eax\n\tdivl 24(%2)"
                     : "=&a"(q), "=&d"(r) : "r"(g_win) : "memory", "cc");
    CHECK(q == 14 && r == 2, "div by a device register: %u r %u", q, r);
}

__attribute__((noinline)) static void test_past_end(void)
{
    reset();
    install(SIGSEGV);
    volatile int reached = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        /* 8 bytes at 4 before the end: half in the window, half in the guard page after it */
        __asm__ volatile("past_insn:\n\tmovq (%0), %%rax" : : "r"(g_win + WIN_LEN - 4) : "rax", "memory");
        reached = 1;
    }
    CHECK(!reached && g_sig == SIGSEGV, "past the end: signal %d", g_sig);
    CHECK(g_addr == (uint64_t)(uintptr_t)(g_win + WIN_LEN), "past the end: si_addr %#lx, end %p",
          (unsigned long)g_addr, (void *)(g_win + WIN_LEN));
    CHECK(g_code == SEGV_ACCERR || g_code == SEGV_MAPERR, "past the end: si_code %d", g_code);
    CHECK(g_rip == (uint64_t)(uintptr_t)past_insn, "past the end: RIP %#lx", (unsigned long)g_rip);
}

__attribute__((noinline)) static void test_device_gp(void)
{
    reset();
    install(SIGSEGV);
    volatile int reached = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        __asm__ volatile("gp_insn:\n\tmovq 120(%0), %%rax" : : "r"(g_win) : "rax", "memory");
        reached = 1;
    }
    CHECK(!reached && g_sig == SIGSEGV && g_code == SI_KERNEL && g_addr == 0,
          "device #GP: signal %d code %d addr %#lx", g_sig, g_code, (unsigned long)g_addr);
    CHECK(g_rip == (uint64_t)(uintptr_t)gp_insn, "device #GP: RIP %#lx", (unsigned long)g_rip);
}

__attribute__((noinline)) static void test_skip(void)
{
    /* a handler that resumes after the faulting instruction (it changes the context) */
    reset();
    install(SIGFPE);
    g_regs[3] = 0;
    g_skip = 3; /* divl 24(%rcx) is 3 bytes: f7 71 18 */
    uint64_t marker = 0;
    __asm__ volatile("xorl %%edx, %%edx\n\tmovl $100, %%eax\n"
                     "skip_insn:\n\tdivl 24(%%rcx)\n"
                     "skip_after:\n\tmovq $0x5151, %0"
                     : "=r"(marker) : "c"(g_win) : "rax", "rdx", "memory", "cc");
    CHECK(skip_after - skip_insn == 3, "divl 24(%%rcx) encoded in %d bytes", (int)(skip_after - skip_insn));
    CHECK(g_sig == SIGFPE && marker == 0x5151, "handler skip: signal %d marker %#lx", g_sig,
          (unsigned long)marker);
    g_skip = 0;
}

static volatile int g_prev_hits;
static void prev_handler(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    g_prev_hits++;
    uc->uc_mcontext.gregs[REG_RIP] += 3; /* movq (%rax), %rax: 48 8b 00 */
}

__attribute__((noinline)) static void test_outside(void *unmapped)
{
    /* installed before hvr_init() in main: a fault outside every window goes there */
    uint64_t v = (uint64_t)(uintptr_t)unmapped;
    __asm__ volatile("movq (%%rax), %%rax" : "+a"(v) : : "memory");
    CHECK(g_prev_hits == 1, "a fault outside the windows reached the previous handler %d times", g_prev_hits);
}

static void unh_hook(const struct hvemu_result *res, uint64_t rip)
{
    (void)rip;
    printf("hook: %s (%s)\n", res->reason ? res->reason : "?", res->detail);
    fflush(stdout);
    _exit(42);
}

__attribute__((noinline)) static void test_unhandleable(void)
{
    /* x87 FLD from the window: hvemu does not execute it; the runner aborts with the reason */
    int fds[2];
    if (pipe(fds) != 0)
        return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        __asm__ volatile("fldl (%0)\n\tfstp %%st(0)" : : "r"(g_win) : "memory");
        _exit(0);
    }
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    (void)n;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "unhandleable: child status %#x", st);
    CHECK(strstr(buf, "cannot emulate") && strstr(buf, "fld"), "unhandleable: message '%s'", buf);
    /* with a hook, the hook decides */
    if (pipe(fds) != 0)
        return;
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        hvr_set_unhandleable_hook(unh_hook);
        __asm__ volatile("fldl (%0)\n\tfstp %%st(0)" : : "r"(g_win) : "memory");
        _exit(0);
    }
    close(fds[1]);
    memset(buf, 0, sizeof(buf));
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42 && strstr(buf, "hook:"), "hook: status %#x '%s'", st, buf);
}

__attribute__((noinline)) static void test_ac(void)
{
    /* RFLAGS.AC with a misaligned device access: #AC -> SIGBUS (whether the CPU raises it
     * before the page fault or hvemu raises it while emulating) */
    reset();
    install(SIGBUS);
    struct hvr_stats b, a;
    hvr_thread_stats(&b);
    volatile int reached = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        __asm__ volatile("pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq\n\t"
                         "movl 1(%0), %%eax\n\t"
                         "pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq"
                         : : "r"(g_win) : "rax", "memory", "cc");
        reached = 1;
    }
    /* the handler ran with the guest's AC set: clear it here */
    __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq" : : : "memory", "cc");
    hvr_thread_stats(&a);
    CHECK(!reached && g_sig == SIGBUS && g_code == BUS_ADRALN, "#AC: signal %d code %d", g_sig, g_code);
    printf("#AC came from %s\n", a.exceptions > b.exceptions ? "hvemu (the page fault came first)"
                                                             : "the CPU (before the page fault)");
}

int main(void)
{
    /* the program's own SIGSEGV handler, installed before the runner */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = prev_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    if (hvr_init() != 0)
        return 1;
    void *unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_win = hvr_window_create(WIN_LEN, &dev, NULL);
    if (!g_win || unmapped == MAP_FAILED) {
        perror("window");
        return 1;
    }
    test_outside(unmapped);
    test_values();
    test_unhandleable();
    test_de();
    test_past_end();
    test_device_gp();
    test_skip();
    test_ac();
    printf("summary: %d checks, %d failed\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
