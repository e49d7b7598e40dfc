/* SPDX-License-Identifier: MIT */
/*
 * The native side of the host-differential harness: run one x86-64 instruction on the host
 * CPU, in user mode, on a given register and memory state, and capture what it did.
 *
 * Layout of the process while a test instruction runs (all at fixed addresses, so a test can
 * compute pointers and RIP-relative displacements before it runs anything):
 *
 *   NATIVE_MEM_ADDR    NATIVE_MEM_SIZE bytes, read/write, not executable: the memory window.
 *                      Its contents are native_state.mem, copied in before and out after.
 *   NATIVE_FAULT_ADDR  NATIVE_FAULT_SIZE bytes, PROT_NONE, directly after the window: any
 *                      access there (or one that crosses into it) raises #PF.
 *                      One more PROT_NONE page sits directly below the window.
 *   NATIVE_CODE_ADDR   where the instruction's first byte is placed (its RIP). Everything in
 *                      [NATIVE_CODE_LO, NATIVE_CODE_HI) around it is INT3, so a branch that
 *                      lands there is caught and its target read back exactly.
 *
 * The window sits below 2 GiB so that disp32 absolute addressing, 32-bit address size (67)
 * and RIP-relative disp32 from NATIVE_CODE_ADDR all reach it.
 *
 * Handlers are installed for SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS and SIGVTALRM;
 * a signal that arrives outside a run, or in another thread, gets the default action (the
 * process dies as it would have without the harness).
 *
 * One thread: native_init() and every native_run() must come from the same thread (it owns
 * the alternate signal stack; the bookkeeping is in statics, as signal handlers need).
 * Other threads may exist. Not reentrant.
 *
 * Host state a test cannot damage: callee-saved GPRs and RSP, DF/AC, MXCSR and the x87
 * control word, the DS/ES/FS/GS selectors and the FS/GS bases (glibc's TLS: MOV/POP Sreg,
 * LFS/LGS, WRFSBASE/WRGSBASE) and PKRU are restored after every run; SYSCALL / INT 80h from the code
 * region are stopped by a seccomp filter (reported as SIGSYS, the call not made). Not
 * guarded, so the caller must not run them: SYSENTER on Intel hosts (a real 32-bit system
 * call) and anything that relies on TF. Valgrind cannot run this. The code region
 * is mapped read+execute only: a store into it is a #PF like any other.
 *
 * Blind spot: a branch whose target is within a few bytes of NATIVE_CODE_ADDR + 5 -
 * 0x33333334 + 1..15 (the fall-through landing pad, around 0x0ccd4cd2) is reported as a
 * fall-through. Code-region targets hit INT3 and unmapped or non-executable targets fault on
 * the fetch, both giving the exact target; but an indirect branch into other executable
 * memory of the process (libc, the harness) runs that code, so keep such targets in range.
 */
/*
 * Typical use in a differential test:
 *
 *     struct native_state host = {0}, *emu_in = ...;  // same registers, rflags, mem
 *     host.gpr[HVEMU_RDI] = NATIVE_MEM_ADDR + 0x100;   // point operands into the window
 *     host.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR + 0x1000;  // a stack, if the insn uses one
 *     struct native_fault f;
 *     int rc = native_run(bytes, len, &host, &f);
 *     // emulator side: rip = NATIVE_CODE_ADDR, memory callbacks backed by a copy of mem
 *     // at NATIVE_MEM_ADDR that fault (#PF, CR2 = address) on NATIVE_FAULT_ADDR.. and
 *     // below NATIVE_MEM_ADDR; then compare gpr, rip, mem, and rflags through
 *     // undef_flags_for() (undef_flags.h), and for NATIVE_FAULT f.vector / f.error_code /
 *     // f.cr2 against the emulator's exception.
 */
#ifndef HVEMU_HOSTDIFF_NATIVE_H
#define HVEMU_HOSTDIFF_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define NATIVE_MEM_ADDR   0x10000000ull
#define NATIVE_MEM_SIZE   0x2000u
#define NATIVE_FAULT_ADDR (NATIVE_MEM_ADDR + NATIVE_MEM_SIZE)
#define NATIVE_FAULT_SIZE 0x2000u

#define NATIVE_CODE_LO    0x40000000ull
#define NATIVE_CODE_ADDR  0x40008000ull
#define NATIVE_CODE_HI    0x40010000ull

/* RFLAGS bits that are state here: the six arithmetic flags, DF and AC. Input bits outside
 * the mask are ignored; output is masked the same way, plus the always-one bit 1. AC=1 makes
 * a misaligned data access raise #AC (Linux runs with CR0.AM set). */
#define NATIVE_RFLAGS_MASK ((uint64_t)0x40cd5)

/* The register and memory state an instruction runs on. GPRs in encoding order (rax, rcx,
 * rdx, rbx, rsp, rbp, rsi, rdi, r8..r15), as enum hvemu_gpr. */
struct native_state {
    uint64_t gpr[16];
    uint64_t rflags;
    /* Out: where execution went next (absolute). NATIVE_CODE_ADDR + length when the
     * instruction fell through; the branch target when it branched; the faulting
     * instruction's address (NATIVE_CODE_ADDR) for a fault; the next RIP for a trap
     * (INT3, INT1). In: ignored. */
    uint64_t rip;
    /* In: the FS and GS bases the instruction sees (0 in a zeroed state, so FS:/GS:
     * overrides address like DS:). Installed when the host has FSGSBASE, or otherwise when
     * the bytes contain a 64/65 prefix byte. Not changed by the run. */
    uint64_t fs_base, gs_base;
    uint8_t mem[NATIVE_MEM_SIZE]; /* the window at NATIVE_MEM_ADDR */
    /* Optional vector state. In: `vec` nonzero makes the run load zmm0-31 (or, on a host
     * without AVX-512, ymm0-15), k0-7 and MXCSR from the fields below and store them back
     * after (from the signal frame's XSAVE image when the instruction faults). With `vec` 0
     * the run neither loads nor stores them and the fields are not touched. */
    int vec;
    uint32_t mxcsr;
    uint64_t k[8];
    uint8_t zmm[32][64];
};

/* What vector state the host has enabled: 0 none usable here, 1 AVX (ymm0-15), 2 AVX-512
 * (zmm0-31, k0-7). native_state.vec runs need at least 1. */
int native_vec_level(void);

/* What the host reported when the instruction did not complete normally. */
struct native_fault {
    int signo;          /* SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGSYS, or 0 (timeout) */
    int si_code;        /* siginfo si_code, e.g. FPE_INTDIV, SEGV_ACCERR, BUS_ADRALN */
    uint64_t fault_addr;   /* siginfo fault_addr (the faulting address for #PF, #AC) */
    int vector;         /* the x86 vector the kernel saw (REG_TRAPNO), -1 when none (SIGSYS) */
    uint64_t error_code;/* the exception's error code (REG_ERR): #PF bits, #GP selector... */
    uint64_t cr2;       /* REG_CR2 (Linux fills it for #PF) */
    uint64_t rip;       /* RIP in the signal context */
};

enum native_result {
    NATIVE_OK = 0,       /* completed; *in_out is the state after it */
    NATIVE_FAULT = 1,    /* raised an exception; *fault says which; *in_out is the state the
                          * CPU reported with it (for a fault: as before, except the progress
                          * a REP string instruction made; for a trap such as INT3: after) */
    NATIVE_TIMEOUT = 2,  /* still running after the watchdog (e.g. a branch to itself) */
    NATIVE_EINVAL = -1,  /* length 0 or > 15 */
    NATIVE_EINIT = -2,   /* could not set up the fixed mappings / handlers (see stderr) */
    NATIVE_ETHREAD = -3, /* called from another thread than the one that ran native_init() */
};

/* Optional: set up explicitly (native_run() does it on first use). Returns 0 or -1. */
int native_init(void);
/* Undo native_init(): unmap everything, restore the previous signal handlers and stack.
 * (The seccomp filter stays: Linux cannot remove one.) */
void native_fini(void);

/* Run insn[0..len) at NATIVE_CODE_ADDR on *in_out. Returns enum native_result.
 * `fault` may be NULL; it is filled (or zeroed) on every call. */
int native_run(const uint8_t *insn, size_t len, struct native_state *in_out,
               struct native_fault *fault);

/* Run the instructions in 64-bit mode (64, the default) or in compatibility mode (32): a far
 * jump to Linux's 32-bit user code segment (selector 0x23, base 0, limit 4 GiB, D = 1) with
 * DS = ES = SS = 0x2b (flat), and a far jump back to 0x33 after the instruction. The state's
 * GPRs are loaded whole; after a mode switch the SDM leaves the upper halves (and R8-R15)
 * undefined, so a compatibility-mode test compares the low 32 bits of the eight legacy GPRs.
 * Signals arrive in 64-bit mode (Linux delivers a 64-bit process's signals so), with the
 * 32-bit EIP as RIP. Returns 0, -1 (bad argument, or the page could not be rewritten), or -2:
 * the host has no 32-bit user code segment (a kernel without IA-32 emulation; also seen in a
 * sandbox VM whose kernel runs under PVM), so compatibility mode cannot be tested here. */
int native_set_mode(unsigned bits);
unsigned native_mode(void);

/* Whether user mode may use RDFSBASE/WRFSBASE & co. (CR4.FSGSBASE), as native_init() found by
 * running RDFSBASE (the auxiliary vector and /proc/cpuinfo can say no while it works). */
int native_have_fsgsbase(void);

/* Watchdog period in milliseconds of user CPU time (default 100): a run still going one to
 * two periods after it started is stopped (NATIVE_TIMEOUT). Between native_init() and
 * native_fini() the process takes a SIGVTALRM each period (handled, SA_RESTART). */
void native_set_timeout_ms(unsigned ms);

/* "SIGSEGV #PF code=2 err=0x6 addr=0x10002000 rip=..." style text for messages ("no fault"
 * when native_run() returned NATIVE_OK). `vector` is -1 when there was no exception. */
const char *native_fault_str(const struct native_fault *fault, char *buf, size_t size);

#endif
