/* SPDX-License-Identifier: MIT */
/*
 * The trap-and-emulate runner: the userspace equivalent of a hypervisor's MMIO exit path.
 *
 * Guest code is ordinary code of this process, running natively on any number of threads
 * (the vCPUs). A device window is address space mapped with no access; an access to it
 * faults (SIGSEGV), and the runner's handler
 *   1. builds a struct hvemu_state from the signal context: GPRs, RIP, RFLAGS, CS as 64-bit
 *      user code, CR0/EFER of a 64-bit user process; FS/GS base, CR4, XCR0 and the vector
 *      registers (XMM/YMM/ZMM, opmasks, MXCSR from the XSAVE area of the signal frame) only
 *      when the instruction asks for them (hvemu_ops.load_state),
 *   2. calls hvemu_emulate() with callbacks that send accesses inside a window to its device
 *      model and treat every other address as this process's memory (read and written
 *      directly, compare-exchanged with the host's atomic instructions; a fault there becomes
 *      the #PF the guest would take),
 *   3. writes the changed state (state.dirty) back into the signal context and returns, which
 *      resumes the guest after the instruction.
 * HVEMU_EXCEPTION is delivered to the guest as the signal the kernel would send for it (#PF ->
 * SIGSEGV with si_addr = CR2, #GP -> SIGSEGV, #DE -> SIGFPE, #UD -> SIGILL, #AC/#SS -> SIGBUS,
 * ...): the handler the guest installed for that signal runs with the guest's context, or the
 * default action ends the process. HVEMU_RETRY resumes without advancing (the instruction
 * faults again). HVEMU_UNHANDLEABLE prints the reason and aborts.
 *
 * A fault outside every window goes to the SIGSEGV handler that was installed before
 * hvr_init() (or the default action). x86-64 Linux only.
 *
 * Threads: every thread that touches a window is a vCPU; per-thread state (the hvemu context,
 * the statistics) lives in thread-local storage, so no registration is needed. Windows are
 * created before the threads that use them start; they are never removed while in use.
 */
#ifndef HVEMU_RUNNER_H
#define HVEMU_RUNNER_H

#include "hvemu.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A device model behind a window. Offsets are from the window's start; answers are
 * enum hvemu_cb_result and faults go to *exc, exactly as for struct hvemu_ops. Several vCPU
 * threads call these at once: cmpxchg must be atomic with respect to every other callback
 * (hvr_atomic_cmpxchg() on the device's register memory does it). NULL callbacks make the
 * access unhandleable, except probe_write (optional). */
struct hvr_device {
    int (*read)(void *opaque, uint64_t off, void *data, unsigned size,
                enum hvemu_access kind, struct hvemu_exception *exc);
    int (*write)(void *opaque, uint64_t off, const void *data, unsigned size,
                 enum hvemu_access kind, struct hvemu_exception *exc);
    int (*cmpxchg)(void *opaque, uint64_t off, void *expected, const void *desired,
                   unsigned size, struct hvemu_exception *exc);
    int (*probe_write)(void *opaque, uint64_t off, unsigned size, struct hvemu_exception *exc);
};

#define HVR_MAX_WINDOWS 64

/* Install the SIGSEGV handler (idempotent). Returns 0, or -1 with errno set. */
int hvr_init(void);

/* Map a new window of `len` bytes (rounded up to pages) with no access, followed by one guard
 * page that belongs to no window (an access running past the end faults like unmapped
 * memory). Returns the window's address, or NULL with errno set. */
void *hvr_window_create(size_t len, const struct hvr_device *dev, void *opaque);

/* Make [addr, addr+len) a window: the range must already be inaccessible (PROT_NONE) or be
 * made so by the caller right after. Returns the window index or -1. */
int hvr_window_add(void *addr, size_t len, const struct hvr_device *dev, void *opaque);

/* Stop routing a window (its accesses then fault like any PROT_NONE memory). */
void hvr_window_remove(int index);

/* The guest's SIGSEGV disposition: the handler that faults outside every window and #PF/#GP
 * delivered by the runner go to. hvr_init() takes the one installed at that time; a program
 * that installs its own later calls this instead of sigaction(SIGSEGV) (for any other
 * signal it is plain sigaction()). */
int hvr_guest_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Per-thread statistics of the calling thread (a vCPU sees only its own). */
struct hvr_stats {
    uint64_t exits;          /* faults in a window handled (each one an emulation) */
    uint64_t emulated;       /* HVEMU_OK */
    uint64_t exceptions;     /* HVEMU_EXCEPTION delivered to the guest */
    uint64_t retry_status;   /* HVEMU_RETRY (resumed without advancing) */
    uint64_t retries;        /* sum of hvemu_result.retries (compare-exchange re-runs) */
    uint64_t retries_max;    /* the largest hvemu_result.retries of one emulation */
    uint64_t emulations_retried; /* emulations with retries > 0 */
    uint64_t emulate_tsc;    /* TSC ticks spent inside hvemu_emulate() (device callbacks
                              * included), for hvr_tsc_per_ns() */
};
/* TSC ticks per nanosecond, measured once by hvr_init(). */
double hvr_tsc_per_ns(void);
void hvr_thread_stats(struct hvr_stats *out);
void hvr_thread_stats_reset(void);

/* While a device callback runs: the instruction being emulated (RIP and its decode). */
uint64_t hvr_current_rip(void);
const struct hvemu_insn *hvr_current_insn(void);

/* Called instead of abort() when hvemu answers HVEMU_UNHANDLEABLE (for tests and tools);
 * it must not return (exit, _exit or longjmp). NULL restores the default (print, abort). */
typedef void (*hvr_unhandleable_fn)(const struct hvemu_result *res, uint64_t rip);
void hvr_set_unhandleable_hook(hvr_unhandleable_fn fn);

/* Host atomics on ordinary memory, for device models: 1, 2, 4, 8 or 16 bytes (16 needs a
 * 16-byte aligned address: lock cmpxchg16b). Return HVEMU_CB_OK or HVEMU_CB_CHANGED (the
 * current value is then in *expected). Loads and stores are single-copy atomic when aligned
 * (16-byte loads go through cmpxchg16b). */
int hvr_atomic_cmpxchg(void *p, void *expected, const void *desired, unsigned size);
void hvr_atomic_load(const void *p, void *data, unsigned size);
void hvr_atomic_store(void *p, const void *data, unsigned size);

/* A ready-made device: memory that behaves like RAM, at `backing` (reads, writes and
 * compare-exchange with host atomics). Pass the backing pointer as the window's opaque. */
extern const struct hvr_device hvr_ram_device;

/* The signal hvemu's exception is delivered as (SIGSEGV, SIGFPE, ...) and its si_code. */
int hvr_exception_signal(const struct hvemu_exception *exc, int *si_code);

#ifdef __cplusplus
}
#endif
#endif
