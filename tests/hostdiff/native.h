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
 * Not reentrant: one thread at a time may use it (it keeps its bookkeeping in statics, as
 * signal handlers must). Instructions that leave user mode's sandbox are the caller's
 * business: SYSCALL/INT 80h from the code region are stopped by a seccomp filter (reported
 * as SIGSYS); WRFSBASE/WRGSBASE, SYSENTER on Intel hosts, and writes into the code region are
 * not guarded and must not be run.
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
    uint8_t mem[NATIVE_MEM_SIZE]; /* the window at NATIVE_MEM_ADDR */
};

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

/* Watchdog budget in milliseconds of user CPU time (default 200). */
void native_set_timeout_ms(unsigned ms);

/* "SIGSEGV #PF err=0x6 addr=0x10002000" style text for messages. */
const char *native_fault_str(const struct native_fault *fault, char *buf, size_t size);

#endif
