/* SPDX-License-Identifier: MIT */
/*
 * Run one instruction natively (see native.h for the contract).
 *
 * How a run goes:
 *   1. The window is filled from the state; the instruction's bytes go to NATIVE_CODE_ADDR
 *      (X) inside a 64 KiB region that is otherwise all INT3, and the five bytes after it
 *      become E9 CC CC CC CC, "jmp rel32" with a displacement of 0xCCCCCCCC.
 *   2. native_enter (assembly below) saves the host's callee-saved registers and RSP, loads
 *      RFLAGS and all 16 GPRs from the state (RSP last but one, RDI last, RFLAGS first so
 *      that nothing after it changes flags) and jumps to X through memory, so no register is
 *      left holding anything of the host's.
 *   3. Where the instruction goes decides how it is observed:
 *      - Fall through: the E9 at X+len jumps to X+len+5-0x33333334, a "mirror" page where a
 *        run of NOPs (one entry per possible length) leads to an absolute jump to
 *        native_epilogue, which stores all GPRs and RFLAGS with RIP-relative stores (no
 *        register or stack needed), switches back to the host stack and returns.
 *      - A branch anywhere else in the code region hits INT3: SIGTRAP, and RIP-1 in the
 *        signal context is the exact target. Because the displacement bytes after the E9 are
 *        CC as well, even targets X+len+1..X+len+4 are exact. A branch to an unmapped or
 *        non-executable address faults on the fetch with RIP == fault_addr == target.
 *      - An exception in the instruction itself arrives as a signal with RIP == X.
 *      In every signal case the handler (on an alternate stack, since RSP belongs to the
 *      test) copies the signal context and siglongjmp()s back to native_run().
 *   4. The window is copied back and the code bytes return to INT3.
 * A watchdog ends instructions that never get anywhere (a branch to itself, LOOP with a
 * huge RCX onto itself): a periodic ITIMER_VIRTUAL tick (it counts only this process's user
 * time) that stops a run when it finds the same run still going one period after it first
 * saw it. Nothing is armed per run, so a run that completes costs no system call at all:
 * sigsetjmp does not save the signal mask, and the handlers run with SA_NODEFER and an empty
 * sa_mask so that nothing is left blocked when they siglongjmp out. A seccomp filter turns any system call made
 * from the code region into SIGSYS, so SYSCALL in a test cannot do anything to the process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "native.h"

#include <asm/prctl.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

/* The layout native_enter/native_epilogue use: gpr[0..15] at 0..120, rflags at 128. */
struct native_regs {
    uint64_t gpr[16];
    uint64_t rflags;
};

/* The vector state the assembly loads and stores when native_vec_mode is 1 (ymm0-15) or
 * 2 (zmm0-31 and k0-7): zmm[i] at 64*i, k[i] at 2048+8*i, MXCSR at 2112. */
struct native_vec {
    uint8_t zmm[32][64];
    uint64_t k[8];
    uint32_t mxcsr;
};

/* Shared with the assembly. Hidden, so the RIP-relative references resolve locally. */
__attribute__((visibility("hidden"))) struct native_regs native_in_regs, native_out_regs;
__attribute__((visibility("hidden"), aligned(64))) struct native_vec native_vec_in, native_vec_out;
__attribute__((visibility("hidden"))) int native_vec_mode;
__attribute__((visibility("hidden"))) uint64_t native_host_rsp, native_target;

__attribute__((visibility("hidden"))) void native_enter(const struct native_regs *regs);
__attribute__((visibility("hidden"))) void native_epilogue(void);
__attribute__((visibility("hidden"))) void native_clear_ac(void);

__asm__(".text\n"
        ".globl native_enter\n"
        ".hidden native_enter\n"
        ".type native_enter,@function\n"
        "native_enter:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  mov %rsp, native_host_rsp(%rip)\n"
        /* the optional vector state, first: nothing after it touches a vector register */
        "  cmpl $0, native_vec_mode(%rip)\n"
        "  je 2f\n"
        "  ldmxcsr native_vec_in+2112(%rip)\n"
        "  cmpl $2, native_vec_mode(%rip)\n"
        "  jne 1f\n"
        "  vmovdqu64 native_vec_in+0(%rip), %zmm0\n"
        "  vmovdqu64 native_vec_in+64(%rip), %zmm1\n"
        "  vmovdqu64 native_vec_in+128(%rip), %zmm2\n"
        "  vmovdqu64 native_vec_in+192(%rip), %zmm3\n"
        "  vmovdqu64 native_vec_in+256(%rip), %zmm4\n"
        "  vmovdqu64 native_vec_in+320(%rip), %zmm5\n"
        "  vmovdqu64 native_vec_in+384(%rip), %zmm6\n"
        "  vmovdqu64 native_vec_in+448(%rip), %zmm7\n"
        "  vmovdqu64 native_vec_in+512(%rip), %zmm8\n"
        "  vmovdqu64 native_vec_in+576(%rip), %zmm9\n"
        "  vmovdqu64 native_vec_in+640(%rip), %zmm10\n"
        "  vmovdqu64 native_vec_in+704(%rip), %zmm11\n"
        "  vmovdqu64 native_vec_in+768(%rip), %zmm12\n"
        "  vmovdqu64 native_vec_in+832(%rip), %zmm13\n"
        "  vmovdqu64 native_vec_in+896(%rip), %zmm14\n"
        "  vmovdqu64 native_vec_in+960(%rip), %zmm15\n"
        "  vmovdqu64 native_vec_in+1024(%rip), %zmm16\n"
        "  vmovdqu64 native_vec_in+1088(%rip), %zmm17\n"
        "  vmovdqu64 native_vec_in+1152(%rip), %zmm18\n"
        "  vmovdqu64 native_vec_in+1216(%rip), %zmm19\n"
        "  vmovdqu64 native_vec_in+1280(%rip), %zmm20\n"
        "  vmovdqu64 native_vec_in+1344(%rip), %zmm21\n"
        "  vmovdqu64 native_vec_in+1408(%rip), %zmm22\n"
        "  vmovdqu64 native_vec_in+1472(%rip), %zmm23\n"
        "  vmovdqu64 native_vec_in+1536(%rip), %zmm24\n"
        "  vmovdqu64 native_vec_in+1600(%rip), %zmm25\n"
        "  vmovdqu64 native_vec_in+1664(%rip), %zmm26\n"
        "  vmovdqu64 native_vec_in+1728(%rip), %zmm27\n"
        "  vmovdqu64 native_vec_in+1792(%rip), %zmm28\n"
        "  vmovdqu64 native_vec_in+1856(%rip), %zmm29\n"
        "  vmovdqu64 native_vec_in+1920(%rip), %zmm30\n"
        "  vmovdqu64 native_vec_in+1984(%rip), %zmm31\n"
        "  kmovq native_vec_in+2048(%rip), %k0\n"
        "  kmovq native_vec_in+2056(%rip), %k1\n"
        "  kmovq native_vec_in+2064(%rip), %k2\n"
        "  kmovq native_vec_in+2072(%rip), %k3\n"
        "  kmovq native_vec_in+2080(%rip), %k4\n"
        "  kmovq native_vec_in+2088(%rip), %k5\n"
        "  kmovq native_vec_in+2096(%rip), %k6\n"
        "  kmovq native_vec_in+2104(%rip), %k7\n"
        "  jmp 2f\n"
        "1:\n"
        "  vmovdqu native_vec_in+0(%rip), %ymm0\n"
        "  vmovdqu native_vec_in+64(%rip), %ymm1\n"
        "  vmovdqu native_vec_in+128(%rip), %ymm2\n"
        "  vmovdqu native_vec_in+192(%rip), %ymm3\n"
        "  vmovdqu native_vec_in+256(%rip), %ymm4\n"
        "  vmovdqu native_vec_in+320(%rip), %ymm5\n"
        "  vmovdqu native_vec_in+384(%rip), %ymm6\n"
        "  vmovdqu native_vec_in+448(%rip), %ymm7\n"
        "  vmovdqu native_vec_in+512(%rip), %ymm8\n"
        "  vmovdqu native_vec_in+576(%rip), %ymm9\n"
        "  vmovdqu native_vec_in+640(%rip), %ymm10\n"
        "  vmovdqu native_vec_in+704(%rip), %ymm11\n"
        "  vmovdqu native_vec_in+768(%rip), %ymm12\n"
        "  vmovdqu native_vec_in+832(%rip), %ymm13\n"
        "  vmovdqu native_vec_in+896(%rip), %ymm14\n"
        "  vmovdqu native_vec_in+960(%rip), %ymm15\n"
        "2:\n"
        "  pushq 128(%rdi)\n"
        "  popfq\n"
        "  mov 0(%rdi), %rax\n  mov 8(%rdi), %rcx\n  mov 16(%rdi), %rdx\n"
        "  mov 24(%rdi), %rbx\n  mov 32(%rdi), %rsp\n  mov 40(%rdi), %rbp\n"
        "  mov 48(%rdi), %rsi\n  mov 64(%rdi), %r8\n  mov 72(%rdi), %r9\n"
        "  mov 80(%rdi), %r10\n  mov 88(%rdi), %r11\n  mov 96(%rdi), %r12\n"
        "  mov 104(%rdi), %r13\n  mov 112(%rdi), %r14\n  mov 120(%rdi), %r15\n"
        "  mov 56(%rdi), %rdi\n"
        "  jmp *native_target(%rip)\n"
        ".size native_enter, .-native_enter\n"
        "\n"
        ".globl native_epilogue\n"
        ".hidden native_epilogue\n"
        ".type native_epilogue,@function\n"
        "native_epilogue:\n"
        "  mov %rax, native_out_regs+0(%rip)\n  mov %rcx, native_out_regs+8(%rip)\n"
        "  mov %rdx, native_out_regs+16(%rip)\n  mov %rbx, native_out_regs+24(%rip)\n"
        "  mov %rsp, native_out_regs+32(%rip)\n  mov %rbp, native_out_regs+40(%rip)\n"
        "  mov %rsi, native_out_regs+48(%rip)\n  mov %rdi, native_out_regs+56(%rip)\n"
        "  mov %r8, native_out_regs+64(%rip)\n  mov %r9, native_out_regs+72(%rip)\n"
        "  mov %r10, native_out_regs+80(%rip)\n  mov %r11, native_out_regs+88(%rip)\n"
        "  mov %r12, native_out_regs+96(%rip)\n  mov %r13, native_out_regs+104(%rip)\n"
        "  mov %r14, native_out_regs+112(%rip)\n  mov %r15, native_out_regs+120(%rip)\n"
        "  mov native_host_rsp(%rip), %rsp\n"
        "  pushfq\n"
        "  pop %rax\n"
        "  mov %rax, native_out_regs+128(%rip)\n"
        "  cmpl $0, native_vec_mode(%rip)\n"
        "  je 4f\n"
        "  stmxcsr native_vec_out+2112(%rip)\n"
        "  cmpl $2, native_vec_mode(%rip)\n"
        "  jne 3f\n"
        "  vmovdqu64 %zmm0, native_vec_out+0(%rip)\n"
        "  vmovdqu64 %zmm1, native_vec_out+64(%rip)\n"
        "  vmovdqu64 %zmm2, native_vec_out+128(%rip)\n"
        "  vmovdqu64 %zmm3, native_vec_out+192(%rip)\n"
        "  vmovdqu64 %zmm4, native_vec_out+256(%rip)\n"
        "  vmovdqu64 %zmm5, native_vec_out+320(%rip)\n"
        "  vmovdqu64 %zmm6, native_vec_out+384(%rip)\n"
        "  vmovdqu64 %zmm7, native_vec_out+448(%rip)\n"
        "  vmovdqu64 %zmm8, native_vec_out+512(%rip)\n"
        "  vmovdqu64 %zmm9, native_vec_out+576(%rip)\n"
        "  vmovdqu64 %zmm10, native_vec_out+640(%rip)\n"
        "  vmovdqu64 %zmm11, native_vec_out+704(%rip)\n"
        "  vmovdqu64 %zmm12, native_vec_out+768(%rip)\n"
        "  vmovdqu64 %zmm13, native_vec_out+832(%rip)\n"
        "  vmovdqu64 %zmm14, native_vec_out+896(%rip)\n"
        "  vmovdqu64 %zmm15, native_vec_out+960(%rip)\n"
        "  vmovdqu64 %zmm16, native_vec_out+1024(%rip)\n"
        "  vmovdqu64 %zmm17, native_vec_out+1088(%rip)\n"
        "  vmovdqu64 %zmm18, native_vec_out+1152(%rip)\n"
        "  vmovdqu64 %zmm19, native_vec_out+1216(%rip)\n"
        "  vmovdqu64 %zmm20, native_vec_out+1280(%rip)\n"
        "  vmovdqu64 %zmm21, native_vec_out+1344(%rip)\n"
        "  vmovdqu64 %zmm22, native_vec_out+1408(%rip)\n"
        "  vmovdqu64 %zmm23, native_vec_out+1472(%rip)\n"
        "  vmovdqu64 %zmm24, native_vec_out+1536(%rip)\n"
        "  vmovdqu64 %zmm25, native_vec_out+1600(%rip)\n"
        "  vmovdqu64 %zmm26, native_vec_out+1664(%rip)\n"
        "  vmovdqu64 %zmm27, native_vec_out+1728(%rip)\n"
        "  vmovdqu64 %zmm28, native_vec_out+1792(%rip)\n"
        "  vmovdqu64 %zmm29, native_vec_out+1856(%rip)\n"
        "  vmovdqu64 %zmm30, native_vec_out+1920(%rip)\n"
        "  vmovdqu64 %zmm31, native_vec_out+1984(%rip)\n"
        "  kmovq %k0, native_vec_out+2048(%rip)\n"
        "  kmovq %k1, native_vec_out+2056(%rip)\n"
        "  kmovq %k2, native_vec_out+2064(%rip)\n"
        "  kmovq %k3, native_vec_out+2072(%rip)\n"
        "  kmovq %k4, native_vec_out+2080(%rip)\n"
        "  kmovq %k5, native_vec_out+2088(%rip)\n"
        "  kmovq %k6, native_vec_out+2096(%rip)\n"
        "  kmovq %k7, native_vec_out+2104(%rip)\n"
        "  jmp 4f\n"
        "3:\n"
        "  vmovdqu %ymm0, native_vec_out+0(%rip)\n"
        "  vmovdqu %ymm1, native_vec_out+64(%rip)\n"
        "  vmovdqu %ymm2, native_vec_out+128(%rip)\n"
        "  vmovdqu %ymm3, native_vec_out+192(%rip)\n"
        "  vmovdqu %ymm4, native_vec_out+256(%rip)\n"
        "  vmovdqu %ymm5, native_vec_out+320(%rip)\n"
        "  vmovdqu %ymm6, native_vec_out+384(%rip)\n"
        "  vmovdqu %ymm7, native_vec_out+448(%rip)\n"
        "  vmovdqu %ymm8, native_vec_out+512(%rip)\n"
        "  vmovdqu %ymm9, native_vec_out+576(%rip)\n"
        "  vmovdqu %ymm10, native_vec_out+640(%rip)\n"
        "  vmovdqu %ymm11, native_vec_out+704(%rip)\n"
        "  vmovdqu %ymm12, native_vec_out+768(%rip)\n"
        "  vmovdqu %ymm13, native_vec_out+832(%rip)\n"
        "  vmovdqu %ymm14, native_vec_out+896(%rip)\n"
        "  vmovdqu %ymm15, native_vec_out+960(%rip)\n"
        "4:\n"
        /* Back to the ABI's flags: DF and AC clear (IF cannot change at CPL 3). */
        "  pushq $0x202\n"
        "  popfq\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
        "  ret\n"
        ".size native_epilogue, .-native_epilogue\n"
        "\n"
        /* A signal handler runs with the interrupted code's AC (Linux clears only DF, RF
         * and TF on delivery), so the first thing it does is drop AC. */
        ".globl native_clear_ac\n"
        ".hidden native_clear_ac\n"
        ".type native_clear_ac,@function\n"
        "native_clear_ac:\n"
        "  pushfq\n"
        "  andl $0xfffbffff, (%rsp)\n"
        "  popfq\n"
        "  ret\n"
        ".size native_clear_ac, .-native_clear_ac\n");

/* The fall-through jump: E9 with displacement 0xCCCCCCCC lands this far back. */
#define MIRROR_BACK 0x33333334ull
/* mirror_base + len is where the fall-through jump of a len-byte instruction lands. */
#define MIRROR_BASE (NATIVE_CODE_ADDR + 5 - MIRROR_BACK)
#define MIRROR_PAGE (MIRROR_BASE & ~0xfffull)

#define ALTSTACK_SIZE (64 * 1024)

static const int g_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGVTALRM};
#define NSIGNALS ((int)(sizeof g_signals / sizeof g_signals[0]))

static int g_ready;
static struct sigaction g_old_act[NSIGNALS];
static stack_t g_old_stack;
static void *g_altstack;
/* The code region is a memfd mapped twice: read+execute at NATIVE_CODE_LO, where the test
 * runs (so a stray store from a test faults instead of corrupting the INT3 sled), and
 * read+write here, where native_run() writes the instruction. x86 keeps instruction fetch
 * coherent with stores by physical address, so the alias needs no extra serialisation. */
static uint8_t *g_code_rw;
static unsigned g_timeout_ms = 100;

static sigjmp_buf g_jmp;
static volatile sig_atomic_t g_running;
/* The thread that ran native_init(): it owns the alternate stack, and signals that other
 * threads take are none of ours. */
static pthread_t g_thread;
/* Watchdog: g_gen counts runs; g_seen_gen is the run the last tick found running. */
static volatile sig_atomic_t g_gen, g_seen_gen = -1;
/* What the handler saw; read only after siglongjmp. */
static struct {
    int signo, si_code;
    uint64_t fault_addr;
    greg_t gregs[NGREG];
} g_sig;

/* Segment state a test can change and glibc depends on: FS is its TLS (and the pointer
 * guard siglongjmp uses), so a test that loads FS (MOV/POP FS, LFS) or writes its base must
 * not leave that behind. Captured at init; fix_segments() puts it back using neither TLS nor
 * libc, before anything else runs after the test. */
static uint16_t g_sel[4]; /* ds es fs gs */
static uint64_t g_fsbase, g_gsbase;
static int g_have_fsgsbase;
static uint32_t g_pkru; /* the host's PKRU, when the CPU has one enabled */
static int g_have_pkru;
static volatile sig_atomic_t g_seg_risk; /* the bytes could load FS/GS: re-set the bases */
/* FS/GS bases the test runs with, and whether enter_guarded() must install them. */
static uint64_t g_test_fsbase, g_test_gsbase;
static volatile sig_atomic_t g_set_bases;

static inline long raw_arch_prctl(long code, uint64_t addr)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_arch_prctl), "D"(code), "S"(addr)
                     : "rcx", "r11", "memory");
    return ret;
}

__attribute__((always_inline)) static inline void fix_segments(void)
{
    uint16_t ds, es, fs, gs;
    __asm__ volatile("mov %%ds, %0\n\tmov %%es, %1\n\tmov %%fs, %2\n\tmov %%gs, %3"
                     : "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
    if (ds != g_sel[0])
        __asm__ volatile("mov %0, %%ds" : : "r"(g_sel[0]));
    if (es != g_sel[1])
        __asm__ volatile("mov %0, %%es" : : "r"(g_sel[1]));
    int fs_bad = fs != g_sel[2], gs_bad = gs != g_sel[3];
    if (fs_bad)
        __asm__ volatile("mov %0, %%fs" : : "r"(g_sel[2]));
    if (gs_bad)
        __asm__ volatile("mov %0, %%gs" : : "r"(g_sel[3]));
    if (g_have_pkru) { /* WRPKRU or XRSTOR in a test could leave memory inaccessible */
        uint32_t pk;
        __asm__ volatile("rdpkru" : "=a"(pk) : "c"(0) : "rdx");
        if (pk != g_pkru)
            __asm__ volatile("wrpkru" : : "a"(g_pkru), "c"(0), "d"(0));
    }
    if (g_have_fsgsbase) {
        uint64_t b;
        __asm__ volatile("rdfsbase %0" : "=r"(b));
        if (b != g_fsbase)
            __asm__ volatile("wrfsbase %0" : : "r"(g_fsbase));
        __asm__ volatile("rdgsbase %0" : "=r"(b));
        if (b != g_gsbase)
            __asm__ volatile("wrgsbase %0" : : "r"(g_gsbase));
    } else {
        /* Without FSGSBASE only a selector load moves a base, and loading the same null
         * selector may still clear it (Intel; AMD with NullSelectorClearsBase), so go by
         * the bytes rather than by the selector alone. */
        if (fs_bad || g_seg_risk)
            raw_arch_prctl(ARCH_SET_FS, g_fsbase);
        if (gs_bad || g_seg_risk)
            raw_arch_prctl(ARCH_SET_GS, g_gsbase);
    }
}

/* ---- the optional vector state ---- */

static int g_vec_level = -1;
/* Where XSAVE (standard format) puts components 2 (YMM_Hi128), 5 (opmask), 6 (ZMM_Hi256) and
 * 7 (Hi16_ZMM): CPUID.(EAX=0DH, ECX=i).EBX. */
static unsigned g_xoff[8];
/* The vector state of a run that ended in a signal, from the signal frame. */
static struct native_vec g_sig_vec;

static void cpuid2(unsigned leaf, unsigned sub, unsigned r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

int native_vec_level(void)
{
    if (g_vec_level >= 0)
        return g_vec_level;
    unsigned r[4];
    g_vec_level = 0;
    cpuid2(1, 0, r);
    if (!(r[2] & (1u << 27)) || !(r[2] & (1u << 28)))
        return g_vec_level; /* no OSXSAVE or no AVX */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6)
        return g_vec_level;
    g_vec_level = 1;
    for (unsigned c = 2; c < 8; c++) {
        cpuid2(0xd, c, r);
        g_xoff[c] = r[1];
    }
    cpuid2(7, 0, r);
    /* AVX-512 F, DQ, BW and VL: what the SIMD moves' tests use (KMOVB/D/Q, VMOVDQU8/16, the
     * 128/256-bit EVEX forms) */
    unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((lo & 0xe6) == 0xe6 && (r[1] & need) == need)
        g_vec_level = 2;
    return g_vec_level;
}

/* Copy the vector state out of a signal frame's XSAVE image (standard format: the kernel
 * writes it with XSAVE): components whose XSTATE_BV bit is clear are in their initial state,
 * zero. */
static void vec_from_frame(const ucontext_t *uc, struct native_vec *v)
{
    const uint8_t *fx = (const uint8_t *)uc->uc_mcontext.fpregs;
    memset(v, 0, sizeof *v);
    if (!fx)
        return;
    uint32_t magic;
    uint64_t bv = 3;
    memcpy(&v->mxcsr, fx + 24, 4);
    memcpy(&magic, fx + 464, 4);
    if (magic == 0x46505853u) /* FP_XSTATE_MAGIC1: an XSAVE header follows the legacy area */
        memcpy(&bv, fx + 512, 8);
    for (unsigned i = 0; i < 16 && (bv & 2); i++)
        memcpy(v->zmm[i], fx + 160 + 16 * i, 16);
    for (unsigned i = 0; i < 16 && (bv & 4); i++)
        memcpy(v->zmm[i] + 16, fx + g_xoff[2] + 16 * i, 16);
    for (unsigned i = 0; i < 8 && (bv & 0x20); i++)
        memcpy(&v->k[i], fx + g_xoff[5] + 8 * i, 8);
    for (unsigned i = 0; i < 16 && (bv & 0x40); i++)
        memcpy(v->zmm[i] + 32, fx + g_xoff[6] + 32 * i, 32);
    for (unsigned i = 0; i < 16 && (bv & 0x80); i++)
        memcpy(v->zmm[16 + i], fx + g_xoff[7] + 64 * i, 64);
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
    native_clear_ac();
    /* Only the runner thread runs its handlers on our alternate stack; decided without TLS,
     * which the test may have broken. */
    char here;
    int runner = (uintptr_t)&here >= (uintptr_t)g_altstack &&
                 (uintptr_t)&here < (uintptr_t)g_altstack + ALTSTACK_SIZE;
    if (!runner) {
        if (sig == SIGVTALRM)
            return; /* the runner's own ticks are the ones that count */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    if (sig == SIGVTALRM) {
        /* Returning into a run must leave its state alone (FS base included): no
         * fix_segments() on these paths. */
        if (!g_running) {
            g_seen_gen = -1;
            return; /* no run going on */
        }
        if (g_seen_gen != g_gen) {
            g_seen_gen = g_gen; /* first sight of this run: give it one more period */
            return;
        }
    }
    if (!g_running) {
        /* Not ours: a real crash of the harness. Die the ordinary way. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    fix_segments(); /* before anything that may use TLS, siglongjmp's pointer guard included */
    g_running = 0;
    const ucontext_t *uc = ucv;
    g_sig.signo = sig;
    g_sig.si_code = si->si_code;
    g_sig.fault_addr = (uint64_t)(uintptr_t)si->si_addr;
    memcpy(g_sig.gregs, uc->uc_mcontext.gregs, sizeof g_sig.gregs);
    if (native_vec_mode)
        vec_from_frame(uc, &g_sig_vec);
    siglongjmp(g_jmp, 1);
}

static int map_fixed(uint64_t addr, size_t size, int prot, const char *what)
{
    void *p = mmap((void *)(uintptr_t)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != addr) {
        fprintf(stderr, "native: cannot map %s at %#llx: %s\n", what, (unsigned long long)addr,
                p == MAP_FAILED ? strerror(errno) : "placed elsewhere");
        if (p != MAP_FAILED)
            munmap(p, size);
        return -1;
    }
    return 0;
}

/* System calls made from the code region answer SIGSYS instead of running. */
static void install_seccomp(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(NATIVE_CODE_LO >> 32), 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)NATIVE_CODE_LO, 0, 2),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)NATIVE_CODE_HI, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        fprintf(stderr, "native: no seccomp guard (%s): SYSCALL in a test would really run\n",
                strerror(errno));
}

static int g_seccomp_done;

/* Compatibility mode (native_set_mode(32)): Linux's 32-bit user code segment and the 64-bit
 * one to return to. */
#define USER32_CS 0x23
#define USER64_CS 0x33
#define USER_DS   0x2b


/* The mode the test instruction runs in: 64, or 32 (compatibility mode, CS = USER32_CS). */
static unsigned g_bits = 64;
/* In the fall-through page, away from the entries at MIRROR_BASE: the 64-bit trampoline that
 * enters compatibility mode, and the one the 32-bit entries return through. */
#define MIRROR_TO32 0x100
#define MIRROR_TO64 0x180

/* Fill the fall-through page for `bits` (it is writable on entry; read+execute on return).
 * 64: the entries end in jmp qword [rip+disp] to native_epilogue. 32: they end in a far jump
 * (EA ptr16:32, valid in compatibility mode) to a 64-bit stub doing that jump; the page also
 * holds the far jump into compatibility mode that native_enter takes, jmp far [rip+disp]
 * (FF /5, m16:32), which changes no register. All pointers are 8-aligned so their loads cannot
 * raise #AC when the test left AC set. */
static int build_mirror(unsigned bits)
{
    uint8_t *m = (uint8_t *)(uintptr_t)MIRROR_PAGE;
    uint8_t *entry = (uint8_t *)(uintptr_t)MIRROR_BASE;
    uint64_t epi = (uint64_t)(uintptr_t)&native_epilogue;
    memset(m, 0xcc, 0x1000);
    memset(entry + 1, 0x90, 15);   /* entries for lengths 1..15 */
    /* the 64-bit jump to native_epilogue: at entry+16 (64-bit entries) or the TO64 stub */
    uint8_t *j = bits == 64 ? entry + 16 : m + MIRROR_TO64;
    uint8_t *ptr = (uint8_t *)(((uintptr_t)(j + 6) + 7) & ~(uintptr_t)7);
    int32_t disp = (int32_t)(ptr - (j + 6));
    j[0] = 0xff;
    j[1] = 0x25;
    memcpy(j + 2, &disp, 4);
    memcpy(ptr, &epi, 8);
    if (bits == 32) {
        uint32_t to64 = (uint32_t)(MIRROR_PAGE + MIRROR_TO64);
        uint16_t cs64 = USER64_CS, cs32 = USER32_CS;
        entry[16] = 0xea; /* jmp far 0x33:TO64 */
        memcpy(entry + 17, &to64, 4);
        memcpy(entry + 21, &cs64, 2);
        uint8_t *t = m + MIRROR_TO32;
        uint8_t *fp = t + 8; /* m16:32 = NATIVE_CODE_ADDR, USER32_CS */
        uint32_t code = (uint32_t)NATIVE_CODE_ADDR;
        int32_t d2 = (int32_t)(fp - (t + 6));
        t[0] = 0xff;
        t[1] = 0x2d;
        memcpy(t + 2, &d2, 4);
        memcpy(fp, &code, 4);
        memcpy(fp + 4, &cs32, 2);
    }
    if (mprotect(m, 0x1000, PROT_READ | PROT_EXEC)) {
        perror("native: mprotect fall-through page");
        return -1;
    }
    return 0;
}

/* A periodic tick of `ms` of user CPU time (0: off). A run is stopped between one and two
 * periods after it started. */
static void arm_watchdog(unsigned ms)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (long)(ms % 1000) * 1000;
    it.it_interval = it.it_value;
    setitimer(ITIMER_VIRTUAL, &it, NULL);
}

int native_have_fsgsbase(void)
{
    return g_have_fsgsbase;
}

int native_init(void)
{
    if (g_ready)
        return 0;
    /* One PROT_NONE page below the window, the window, the PROT_NONE fault area above. */
    if (map_fixed(NATIVE_MEM_ADDR - 0x1000, 0x1000 + NATIVE_MEM_SIZE + NATIVE_FAULT_SIZE,
                  PROT_NONE, "memory window"))
        return -1;
    if (mprotect((void *)(uintptr_t)NATIVE_MEM_ADDR, NATIVE_MEM_SIZE, PROT_READ | PROT_WRITE)) {
        perror("native: mprotect window");
        goto fail_mem;
    }
    {
        size_t csize = NATIVE_CODE_HI - NATIVE_CODE_LO;
        int fd = memfd_create("hvemu-native-code", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)csize) != 0) {
            perror("native: memfd for the code region");
            if (fd >= 0)
                close(fd);
            goto fail_mem;
        }
        void *x = mmap((void *)(uintptr_t)NATIVE_CODE_LO, csize, PROT_READ | PROT_EXEC,
                       MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
        void *w = mmap(NULL, csize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (x != (void *)(uintptr_t)NATIVE_CODE_LO || w == MAP_FAILED) {
            fprintf(stderr, "native: cannot map the code region at %#llx\n",
                    (unsigned long long)NATIVE_CODE_LO);
            if (x != MAP_FAILED)
                munmap(x, csize);
            if (w != MAP_FAILED)
                munmap(w, csize);
            goto fail_mem;
        }
        g_code_rw = w;
        memset(g_code_rw, 0xcc, csize);
        /* Populate every page a run touches now, while RSP is still the host's (see the
         * non-canonical RSP note in native_run()). */
        for (size_t off = 0; off < csize; off += 0x1000)
            (void)*(volatile uint8_t *)(uintptr_t)(NATIVE_CODE_LO + off);
        (void)*(volatile uint8_t *)(uintptr_t)&native_enter;
        (void)*(volatile uint8_t *)(uintptr_t)&native_epilogue;
        memset(&native_out_regs, 0, sizeof native_out_regs);
    }
    if (map_fixed(MIRROR_PAGE, 0x1000, PROT_READ | PROT_WRITE, "fall-through page"))
        goto fail_code;
    if (build_mirror(g_bits))
        goto fail_mirror;
    g_altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_altstack == MAP_FAILED) {
        perror("native: alternate stack");
        goto fail_mirror;
    }
    stack_t ss = {.ss_sp = g_altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, &g_old_stack)) {
        perror("native: sigaltstack");
        goto fail_stack;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NSIGNALS; i++)
        sigaction(g_signals[i], &sa, &g_old_act[i]);
    if (!g_seccomp_done) {
        install_seccomp();
        g_seccomp_done = 1;
    }
    native_target = g_bits == 32 ? MIRROR_PAGE + MIRROR_TO32 : NATIVE_CODE_ADDR;
    g_thread = pthread_self();
    __asm__ volatile("mov %%ds, %0\n\tmov %%es, %1\n\tmov %%fs, %2\n\tmov %%gs, %3"
                     : "=r"(g_sel[0]), "=r"(g_sel[1]), "=r"(g_sel[2]), "=r"(g_sel[3]));
    syscall(SYS_arch_prctl, ARCH_GET_FS, &g_fsbase);
    syscall(SYS_arch_prctl, ARCH_GET_GS, &g_gsbase);
    g_have_fsgsbase = 0;
    g_ready = 1;
    arm_watchdog(g_timeout_ms);
    /* Can user mode use RDFSBASE/WRFSBASE (CR4.FSGSBASE)? Ask the CPU itself: AT_HWCAP2 and
     * /proc/cpuinfo can say no while the instructions work (seen in a VM). */
    if (!getenv("HVEMU_NATIVE_NO_FSGSBASE")) { /* the variable tests the other path */
        static const uint8_t rdfsbase_rax[] = {0xf3, 0x48, 0x0f, 0xae, 0xc0};
        static struct native_state probe;
        memset(&probe, 0, sizeof probe);
        probe.gpr[4] = NATIVE_MEM_ADDR + 0x1000;
        if (native_run(rdfsbase_rax, sizeof rdfsbase_rax, &probe, NULL) == NATIVE_OK &&
            probe.gpr[0] == g_fsbase)
            g_have_fsgsbase = 1;
    }
    {
        static const uint8_t rdpkru[] = {0x0f, 0x01, 0xee};
        static struct native_state probe;
        memset(&probe, 0, sizeof probe);
        probe.gpr[4] = NATIVE_MEM_ADDR + 0x1000;
        if (native_run(rdpkru, sizeof rdpkru, &probe, NULL) == NATIVE_OK) {
            g_pkru = (uint32_t)probe.gpr[0];
            g_have_pkru = 1;
        }
    }
    return 0;

fail_stack:
    munmap(g_altstack, ALTSTACK_SIZE);
fail_mirror:
    munmap((void *)(uintptr_t)MIRROR_PAGE, 0x1000);
fail_code:
    munmap((void *)(uintptr_t)NATIVE_CODE_LO, NATIVE_CODE_HI - NATIVE_CODE_LO);
    munmap(g_code_rw, NATIVE_CODE_HI - NATIVE_CODE_LO);
fail_mem:
    munmap((void *)(uintptr_t)(NATIVE_MEM_ADDR - 0x1000), 0x1000 + NATIVE_MEM_SIZE + NATIVE_FAULT_SIZE);
    return -1;
}

void native_fini(void)
{
    if (!g_ready)
        return;
    arm_watchdog(0);
    for (int i = 0; i < NSIGNALS; i++)
        sigaction(g_signals[i], &g_old_act[i], NULL);
    sigaltstack(&g_old_stack, NULL);
    munmap(g_altstack, ALTSTACK_SIZE);
    munmap((void *)(uintptr_t)MIRROR_PAGE, 0x1000);
    munmap((void *)(uintptr_t)NATIVE_CODE_LO, NATIVE_CODE_HI - NATIVE_CODE_LO);
    munmap(g_code_rw, NATIVE_CODE_HI - NATIVE_CODE_LO);
    munmap((void *)(uintptr_t)(NATIVE_MEM_ADDR - 0x1000), 0x1000 + NATIVE_MEM_SIZE + NATIVE_FAULT_SIZE);
    g_ready = 0;
}

void native_set_timeout_ms(unsigned ms)
{
    g_timeout_ms = ms ? ms : 1;
    if (g_ready)
        arm_watchdog(g_timeout_ms);
}

int native_set_mode(unsigned bits)
{
    if (bits != 64 && bits != 32)
        return -1;
    if (bits == 32) {
        /* Is the 32-bit user code segment there? LAR answers for a descriptor CPL 3 may use.
         * Kernels without IA-32 emulation (ia32_emulation=0, or sandboxes that cannot give
         * user mode a 32-bit segment) have none: a far jump to it would be #GP(0x20). */
        uint32_t ar = 0;
        uint8_t ok = 0;
        __asm__ volatile("lar %2, %0\n\tsetz %1" : "=r"(ar), "=q"(ok) : "r"((uint32_t)USER32_CS) : "cc");
        if (!ok || !(ar & (1u << 15)) || (ar & (1u << 21)) || !(ar & (1u << 22)))
            return -2;
    }
    if (g_ready && bits != g_bits) {
        if (mprotect((void *)(uintptr_t)MIRROR_PAGE, 0x1000, PROT_READ | PROT_WRITE) ||
            build_mirror(bits))
            return -1;
    }
    g_bits = bits;
    native_target = bits == 32 ? MIRROR_PAGE + MIRROR_TO32 : NATIVE_CODE_ADDR;
    return 0;
}

unsigned native_mode(void)
{
    return g_bits;
}

/* ucontext register numbers in encoding order. */
static const int g_greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                  REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                  REG_R12, REG_R13, REG_R14, REG_R15};

/* 0 when the instruction reached the epilogue, 1 when a signal brought us back. Kept apart
 * and without locals so that nothing lives across the siglongjmp. */
__attribute__((noinline)) static int enter_guarded(void)
{
    if (sigsetjmp(g_jmp, 0) == 0) {
        g_gen++;
        g_running = 1;
        /* From here to fix_segments() nothing may use TLS: the test's bases are in. */
        if (g_set_bases) {
            if (g_have_fsgsbase)
                __asm__ volatile("wrfsbase %0\n\twrgsbase %1" : : "r"(g_test_fsbase), "r"(g_test_gsbase));
            else {
                raw_arch_prctl(ARCH_SET_FS, g_test_fsbase);
                raw_arch_prctl(ARCH_SET_GS, g_test_gsbase);
            }
        }
        if (g_bits == 32) /* a 64-bit process runs with null DS/ES: compat mode needs data ones */
            __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"((uint16_t)USER_DS));
        native_enter(&native_in_regs);
        fix_segments();
        g_running = 0;
        return 0;
    }
    return 1;
}

/* The vector state after a run into *st: what the run's mode covers (AVX: ymm0-15). */
static void vec_out(struct native_state *st, const struct native_vec *v)
{
    st->mxcsr = v->mxcsr;
    if (native_vec_mode == 2) {
        memcpy(st->zmm, v->zmm, sizeof st->zmm);
        memcpy(st->k, v->k, sizeof st->k);
    } else {
        for (unsigned i = 0; i < 16; i++)
            memcpy(st->zmm[i], v->zmm[i], 32);
    }
}

static int run_once(const uint8_t *insn, size_t len, struct native_state *in_out,
                    struct native_fault *fault)
{
    memset(fault, 0, sizeof *fault);
    fault->vector = -1;
    uint8_t *code = g_code_rw + (NATIVE_CODE_ADDR - NATIVE_CODE_LO);
    memcpy((void *)(uintptr_t)NATIVE_MEM_ADDR, in_out->mem, NATIVE_MEM_SIZE);
    memcpy(code, insn, len);
    code[len] = 0xe9; /* the displacement bytes after it are already CC */
    memcpy(native_in_regs.gpr, in_out->gpr, sizeof native_in_regs.gpr);
    /* MOV Sreg (8E), POP FS/GS (0F A1/A9), LFS/LGS (0F B4/B5): any such byte anywhere. */
    g_seg_risk = 0;
    int seg_prefix = 0;
    for (size_t i = 0; i < len; i++) {
        if (insn[i] == 0x8e || insn[i] == 0xa1 || insn[i] == 0xa9 || insn[i] == 0xb4 ||
            insn[i] == 0xb5)
            g_seg_risk = 1;
        if (insn[i] == 0x64 || insn[i] == 0x65)
            seg_prefix = 1;
    }
    /* The test's FS/GS bases: always with FSGSBASE (two cheap instructions, and RDFSBASE in
     * a test then reads the state's value); otherwise only when an FS/GS override may be
     * there, since each costs a system call. */
    g_test_fsbase = in_out->fs_base;
    g_test_gsbase = in_out->gs_base;
    g_set_bases = g_have_fsgsbase || seg_prefix;
    if (g_set_bases && !g_have_fsgsbase)
        g_seg_risk = 1;
    native_in_regs.rflags = (in_out->rflags & NATIVE_RFLAGS_MASK) | 2;

    /* The test may load MXCSR or the x87 control word; those are the host's callee-saved
     * control state, so they are put back whatever happens. */
    uint32_t host_mxcsr;
    uint16_t host_fcw;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(host_mxcsr), "=m"(host_fcw));
    native_vec_mode = in_out->vec ? native_vec_level() : 0;
    if (native_vec_mode) {
        memcpy(native_vec_in.zmm, in_out->zmm, sizeof native_vec_in.zmm);
        memcpy(native_vec_in.k, in_out->k, sizeof native_vec_in.k);
        native_vec_in.mxcsr = in_out->mxcsr;
    }
    int rc;
    if (enter_guarded() == 0) {
        if (native_vec_mode)
            vec_out(in_out, &native_vec_out);
        memcpy(in_out->gpr, native_out_regs.gpr, sizeof in_out->gpr);
        in_out->rflags = (native_out_regs.rflags & NATIVE_RFLAGS_MASK) | 2;
        in_out->rip = NATIVE_CODE_ADDR + len;
        rc = NATIVE_OK;
    } else {
        const greg_t *g = g_sig.gregs;
        uint64_t rip = (uint64_t)g[REG_RIP];
        int in_insn = rip >= NATIVE_CODE_ADDR && rip < NATIVE_CODE_ADDR + len;
        fault->signo = g_sig.signo;
        fault->si_code = g_sig.si_code;
        fault->fault_addr = g_sig.fault_addr;
        fault->vector = (int)g[REG_TRAPNO];
        fault->error_code = (uint64_t)g[REG_ERR];
        fault->cr2 = (uint64_t)g[REG_CR2];
        fault->rip = rip;
        for (int i = 0; i < 16; i++)
            in_out->gpr[i] = (uint64_t)g[g_greg_of[i]];
        in_out->rflags = ((uint64_t)g[REG_EFL] & NATIVE_RFLAGS_MASK) | 2;
        in_out->rip = rip;
        if (native_vec_mode)
            vec_out(in_out, &g_sig_vec);
        if (g_sig.signo == SIGVTALRM) {
            fault->signo = 0;
            fault->vector = -1;
            rc = NATIVE_TIMEOUT;
        } else if (g_sig.signo == SIGTRAP && fault->vector == 3 &&
                   !(rip - 1 >= NATIVE_CODE_ADDR && rip - 1 < NATIVE_CODE_ADDR + len)) {
            /* Landed on an INT3 of the sled: the branch target is the INT3's address. */
            in_out->rip = rip - 1;
            memset(fault, 0, sizeof *fault);
            fault->vector = -1;
            rc = NATIVE_OK;
        } else if (g_sig.signo == SIGSEGV && fault->vector == 14 && rip == g_sig.fault_addr &&
                   !in_insn) {
            /* The branch completed; fetching at its target faulted. */
            memset(fault, 0, sizeof *fault);
            fault->vector = -1;
            rc = NATIVE_OK;
        } else {
            if (g_sig.signo == SIGSYS)
                fault->vector = -1;
            rc = NATIVE_FAULT;
        }
    }
    /* fninit: a test may leave values on the x87 stack, which the ABI wants empty. */
    __asm__ volatile("fninit\n\tldmxcsr %0\n\tfldcw %1" : : "m"(host_mxcsr), "m"(host_fcw));
    if (native_vec_mode) /* the test's upper halves would slow the host's SSE code down */
        __asm__ volatile("vzeroupper" ::: "memory");
    native_vec_mode = 0;
    memset(code, 0xcc, len + 1);
    memcpy(in_out->mem, (const void *)(uintptr_t)NATIVE_MEM_ADDR, NATIVE_MEM_SIZE);
    return rc;
}

static int canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

int native_run(const uint8_t *insn, size_t len, struct native_state *in_out,
               struct native_fault *fault)
{
    struct native_fault dummy;
    if (!fault)
        fault = &dummy;
    memset(fault, 0, sizeof *fault);
    fault->vector = -1;
    if (len == 0 || len > 15)
        return NATIVE_EINVAL;
    if (!g_ready && native_init())
        return NATIVE_EINIT;
    if (!pthread_equal(pthread_self(), g_thread))
        return NATIVE_ETHREAD;
    /* With a non-canonical RSP, any kernel entry during the run (an interrupt, a page fault
     * the kernel resolves, NUMA balancing) returns to user mode by IRET, which faults on
     * that RSP; Linux reports it as a #GP at the test's RIP. Such a spurious #GP does not
     * repeat, a real one does: run again a few times before believing it. */
    if (canonical(in_out->gpr[4]))
        return run_once(insn, len, in_out, fault);
    static struct native_state saved;
    memcpy(&saved, in_out, sizeof saved);
    int rc;
    for (int tries = 0;; tries++) {
        rc = run_once(insn, len, in_out, fault);
        if (!(rc == NATIVE_FAULT && fault->signo == SIGSEGV && fault->vector == 13) || tries == 3)
            break;
        memcpy(in_out, &saved, sizeof saved);
    }
    return rc;
}

static const char *vector_name(int v)
{
    static const char *const names[32] = {
        [0] = "#DE", [1] = "#DB", [3] = "#BP", [4] = "#OF", [5] = "#BR", [6] = "#UD",
        [7] = "#NM", [8] = "#DF", [10] = "#TS", [11] = "#NP", [12] = "#SS", [13] = "#GP",
        [14] = "#PF", [16] = "#MF", [17] = "#AC", [18] = "#MC", [19] = "#XM", [21] = "#CP",
    };
    if (v >= 0 && v < 32 && names[v])
        return names[v];
    return "-";
}

const char *native_fault_str(const struct native_fault *f, char *buf, size_t size)
{
    if (f->signo == 0 && f->rip == 0) {
        snprintf(buf, size, "no fault");
        return buf;
    }
    const char *sig = f->signo == 0 ? NULL : sigabbrev_np(f->signo);
    snprintf(buf, size, "%s%s %s code=%d err=%#llx addr=%#llx rip=%#llx",
             f->signo == 0 ? "timeout" : "SIG", f->signo == 0 ? "" : sig ? sig : "?", vector_name(f->vector), f->si_code, (unsigned long long)f->error_code,
             (unsigned long long)f->fault_addr, (unsigned long long)f->rip);
    return buf;
}
