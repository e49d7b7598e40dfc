/* SPDX-License-Identifier: MIT */
/*
 * `hvemu demo`: the trap-and-emulate runner (tools/runner/) driving real device windows from
 * guest code that runs natively on several threads, in three scenarios:
 *   (a) the XCHG hand-off of seed document 002: one vCPU writes 0x12345678 to a device register
 *       and counts it (count0); the others XCHG the register with 0 and count each time they get
 *       0x12345678 (count1, count2, ...). count0 == count1 + count2 + ... at every checkpoint
 *       (all vCPUs parked) and at the end. KVM's emulator lost this (and deadlocked) because a
 *       failed compare-exchange at writeback was ignored.
 *   (b) the background of seed document 000: a table of 256-bit device entries (AMD IOMMU DTEs)
 *       written as two LOCK CMPXCHG16B, one per 128-bit half, by every vCPU at once; the device
 *       model checks every 128-bit value it reads or is asked to store (never torn: each half
 *       carries a check word over its counter, entry and half) and every successful store
 *       (exactly old + 1: no update lost), and the totals at the end.
 *   (c) a mix of device accesses (MOV of every width, MOVZX/MOVSX, ALU read-modify-write, REP
 *       MOVSB/STOSB to and from the window) run on the window and on plain memory, with the
 *       registers, flags and memory compared.
 */
#include "cli.h"

#if defined(__x86_64__) && defined(__linux__)

#include "runner.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char cmd_demo_usage[] =
    "usage: hvemu demo [--vcpus N] [--iterations N] [--device-delay NS] [--nonatomic-device]\n"
    "                  [--only a|b|c] [--quiet]\n"
    "Run guest code natively on N threads (vCPUs) against device windows that are mapped\n"
    "with no access: every access faults, and the runner emulates it with hvemu and the\n"
    "window's device model (the userspace equivalent of a hypervisor's MMIO exits).\n"
    "  (a) seed 002: vCPU 0 writes 0x12345678 to a device register and counts (count0); the\n"
    "      other vCPUs XCHG it with 0 and count when they get 0x12345678. count0 must equal\n"
    "      the sum of the others at every checkpoint (vCPUs parked) and at the end.\n"
    "  (b) seed 000: 256-bit device-table entries, each written as two LOCK CMPXCHG16B by\n"
    "      every vCPU; the device checks no 128-bit half is torn and no update is lost.\n"
    "  (c) MOV/MOVZX/MOVSX/ALU/REP MOVSB/REP STOSB on the window, checked against the same\n"
    "      code on plain memory.\n"
    "Options:\n"
    "  --vcpus N       vCPU threads (at least 3, default 3; (a) uses 1 writer, N-1 exchangers)\n"
    "  --iterations N  XCHG exchanges in (a) (default 1000000); (b) does N/50 entry updates\n"
    "                  per vCPU (at least 100) and (c) N/100000 rounds per vCPU (at least 2)\n"
    "  --device-delay NS  a device register read in (a) and (b) takes NS nanoseconds\n"
    "                  (default 2000, like a bus round trip): other vCPUs change the register\n"
    "                  meanwhile, so hvemu's compare-exchange fails and it retries\n"
    "  --nonatomic-device  negative control: the devices of (a) and (b) compare-exchange by\n"
    "                  read, compare, write (not atomic); the invariants must then break\n"
    "  --only S        run only scenario a, b or c\n"
    "  --quiet         no progress line\n"
    "Prints the table of counts of (a), then one line per scenario: exits emulated,\n"
    "emulations per second, ns per emulation (trap included: vCPU CPU time / exits), the\n"
    "invariant held or BROKEN, and the compare-exchange retries hvemu reported. Exit status 1\n"
    "if an invariant broke. x86-64 Linux only.\n";

#define MAGIC 0x12345678u
#define MAX_VCPUS 64

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int g_quiet;
static int g_tty;
static double g_delay; /* seconds a device register read takes (--device-delay) */
static int g_nonatomic; /* --nonatomic-device: the negative control */

/* A device register read is slow on real hardware (a bus round trip): the device models of
 * (a) and (b) take g_delay per read, which widens the window between hvemu's read and its
 * compare-exchange, so the "memory changed" path (hvemu_result.retries) really runs. */
static void device_delay(void)
{
    if (g_delay <= 0)
        return;
    double end = now_s() + g_delay;
    while (now_s() < end)
        __asm__ volatile("pause");
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    static double last;
    if (g_quiet)
        return;
    /* a terminal gets a line redrawn in place; a log gets a line every two seconds */
    if (!g_tty) {
        double t = now_s();
        if (t - last < 2)
            return;
        last = t;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs(g_tty ? "\r\033[K" : "", stderr);
    vfprintf(stderr, fmt, ap);
    if (!g_tty)
        fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

static void progress_done(void)
{
    if (!g_quiet && g_tty)
        fputs("\r\033[K", stderr);
}

/* What each scenario reports in the final table. */
struct outcome {
    const char *name;
    const char *invariant;
    int ran, held;
    char note[160];
    uint64_t exits;
    double wall, cpu;
    struct hvr_stats st; /* summed over the vCPUs */
};

static void stats_add(struct hvr_stats *sum, const struct hvr_stats *s)
{
    sum->exits += s->exits;
    sum->emulated += s->emulated;
    sum->exceptions += s->exceptions;
    sum->retry_status += s->retry_status;
    sum->retries += s->retries;
    sum->emulations_retried += s->emulations_retried;
    sum->emulate_tsc += s->emulate_tsc;
    if (s->retries_max > sum->retries_max)
        sum->retries_max = s->retries_max;
}

/* Parking: the control thread asks every vCPU to stop at a point where the invariant is
 * checkable, checks it, and lets them go (a new generation). */
struct park {
    volatile int pause, stop;
    volatile int parked;
    volatile unsigned gen;
};

static void park_wait(struct park *pk)
{
    unsigned g = __atomic_load_n(&pk->gen, __ATOMIC_ACQUIRE);
    __atomic_fetch_add(&pk->parked, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&pk->gen, __ATOMIC_ACQUIRE) == g)
        usleep(100);
}

/* Wait until `n` threads are parked, at most `timeout` seconds; 0 when they did not. */
static int park_all(struct park *pk, int n, double timeout)
{
    double t0 = now_s();
    while (__atomic_load_n(&pk->parked, __ATOMIC_ACQUIRE) < n) {
        if (now_s() - t0 > timeout)
            return 0;
        usleep(200);
    }
    return 1;
}

static void park_release(struct park *pk)
{
    __atomic_store_n(&pk->parked, 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&pk->gen, 1, __ATOMIC_ACQ_REL);
}

/* ------------------------------------------------------------------------------------------
 * (a) the XCHG hand-off of seed 002
 * ---------------------------------------------------------------------------------------- */

/* The device: one 32-bit register at offset 0, kept in memory the handler updates with host
 * atomics; every other offset is out of range. */
struct mailbox {
    uint32_t reg __attribute__((aligned(64)));
    uint64_t bad_access __attribute__((aligned(64)));
};

static int mbox_check(struct mailbox *m, uint64_t off, unsigned size, struct hvemu_exception *exc)
{
    if (off == 0 && size == 4)
        return 0;
    __atomic_fetch_add(&m->bad_access, 1, __ATOMIC_RELAXED);
    exc->vector = HVEMU_EXC_GP;
    exc->has_error_code = 1;
    exc->error_code = 0;
    return -1;
}

static int mbox_read(void *o, uint64_t off, void *data, unsigned size, enum hvemu_access kind,
                     struct hvemu_exception *exc)
{
    (void)kind;
    struct mailbox *m = o;
    if (mbox_check(m, off, size, exc))
        return HVEMU_CB_FAULT;
    device_delay();
    uint32_t v = __atomic_load_n(&m->reg, __ATOMIC_SEQ_CST);
    memcpy(data, &v, 4);
    return HVEMU_CB_OK;
}

static int mbox_write(void *o, uint64_t off, const void *data, unsigned size,
                      enum hvemu_access kind, struct hvemu_exception *exc)
{
    (void)kind;
    struct mailbox *m = o;
    if (mbox_check(m, off, size, exc))
        return HVEMU_CB_FAULT;
    uint32_t v;
    memcpy(&v, data, 4);
    __atomic_store_n(&m->reg, v, __ATOMIC_SEQ_CST);
    return HVEMU_CB_OK;
}

static int mbox_cmpxchg(void *o, uint64_t off, void *expected, const void *desired, unsigned size,
                        struct hvemu_exception *exc)
{
    struct mailbox *m = o;
    if (mbox_check(m, off, size, exc))
        return HVEMU_CB_FAULT;
    if (g_nonatomic) {
        /* the negative control: read, compare, write, with time in between for another
         * vCPU to do the same (what a plain write at writeback amounts to) */
        uint32_t cur = __atomic_load_n(&m->reg, __ATOMIC_SEQ_CST), e;
        memcpy(&e, expected, 4);
        if (cur != e) {
            memcpy(expected, &cur, 4);
            return HVEMU_CB_CHANGED;
        }
        device_delay();
        uint32_t d;
        memcpy(&d, desired, 4);
        __atomic_store_n(&m->reg, d, __ATOMIC_SEQ_CST);
        return HVEMU_CB_OK;
    }
    return hvr_atomic_cmpxchg(&m->reg, expected, desired, 4);
}

static const struct hvr_device mailbox_dev = {mbox_read, mbox_write, mbox_cmpxchg, NULL};

struct xa {
    struct park pk;
    volatile uint32_t *reg; /* in the window */
    struct mailbox *dev;
    int nv;
    volatile int writer_parked;
    volatile int deadlock;
    /* per vCPU, each on its own cache line */
    struct {
        volatile uint64_t count, xchgs, bad;
        struct hvr_stats st;
        double cpu;
        char pad[64];
    } v[MAX_VCPUS];
};

static inline uint32_t mmio_read32(volatile uint32_t *p)
{
    uint32_t v;
    __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*p) : "memory");
    return v;
}

static inline void mmio_write32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("movl %1, %0" : "=m"(*p) : "r"(v) : "memory");
}

static inline uint32_t mmio_xchg32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}

static void *xa_writer(void *arg)
{
    struct xa *a = arg;
    double c0 = thread_cpu_s();
    for (;;) {
        /* here the register is 0: the last value was taken */
        if (a->pk.pause) {
            a->writer_parked = 1;
            park_wait(&a->pk);
            if (a->pk.stop)
                break;
            continue;
        }
        mmio_write32(a->reg, MAGIC);
        a->v[0].count++;
        double t0 = 0;
        unsigned spins = 0;
        while (mmio_read32(a->reg) != 0) {
            /* the vCPUs may share host CPUs: give the exchangers the CPU rather than spin out
             * a time slice (hand-offs would come one per slice) */
            sched_yield();
            /* bounded: an exchanger that never takes the value is a deadlock */
            if ((++spins & 255) == 0) {
                if (t0 == 0)
                    t0 = now_s();
                else if (now_s() - t0 > 20) {
                    a->deadlock = 1;
                    goto out;
                }
            }
        }
    }
out:
    hvr_thread_stats(&a->v[0].st);
    a->v[0].cpu = thread_cpu_s() - c0;
    return NULL;
}

struct xa_arg {
    struct xa *a;
    int k;
};

static void *xa_taker(void *arg)
{
    struct xa_arg *xa = arg;
    struct xa *a = xa->a;
    int k = xa->k;
    double c0 = thread_cpu_s();
    for (;;) {
        if (a->pk.pause && a->writer_parked) {
            park_wait(&a->pk);
            if (a->pk.stop)
                break;
            continue;
        }
        uint32_t v = mmio_xchg32(a->reg, 0);
        a->v[k].xchgs++;
        if (v == MAGIC)
            a->v[k].count++;
        else if (v != 0)
            a->v[k].bad++;
        else if ((a->v[k].xchgs & 7) == 0)
            sched_yield(); /* nothing to take: let the writer run if it shares our CPU */
    }
    hvr_thread_stats(&a->v[k].st);
    a->v[k].cpu = thread_cpu_s() - c0;
    return NULL;
}

static void xa_row(struct xa *a, const char *label)
{
    uint64_t sum = 0;
    printf("%s\t%" PRIu64, label, a->v[0].count);
    for (int k = 1; k < a->nv; k++) {
        printf("\t%" PRIu64, a->v[k].count);
        sum += a->v[k].count;
    }
    printf("\t%" PRId64 "\n", (int64_t)(a->v[0].count - sum));
}

static void run_xchg(struct outcome *o, int nv, uint64_t target)
{
    o->name = "(a) XCHG hand-off, seed 002";
    o->invariant = "count0 == count1+...+countN";
    o->ran = 1;
    struct xa *a = calloc(1, sizeof(*a));
    struct mailbox *dev = aligned_alloc(64, sizeof(*dev));
    if (!a || !dev) {
        snprintf(o->note, sizeof(o->note), "out of memory");
        return;
    }
    memset(dev, 0, sizeof(*dev));
    a->dev = dev;
    a->nv = nv;
    a->reg = hvr_window_create(4096, &mailbox_dev, dev);
    if (!a->reg) {
        snprintf(o->note, sizeof(o->note), "window: %s", strerror(errno));
        return;
    }
    printf("(a) seed 002: vCPU 0 writes 0x%x to a device register, vCPUs 1..%d XCHG it with 0\n",
           MAGIC, nv - 1);
    printf("counts:\tcount0");
    for (int k = 1; k < nv; k++)
        printf("\tcount%d", k);
    printf("\tcount0-(");
    for (int k = 1; k < nv; k++)
        printf("%scount%d", k > 1 ? "+" : "", k);
    printf(")\n");

    pthread_t th[MAX_VCPUS];
    struct xa_arg args[MAX_VCPUS];
    double t0 = now_s();
    pthread_create(&th[0], NULL, xa_writer, a);
    for (int k = 1; k < nv; k++) {
        args[k].a = a;
        args[k].k = k;
        pthread_create(&th[k], NULL, xa_taker, &args[k]);
    }
    int held = 1, step = 0, nsteps = 16;
    uint64_t last_total = 0;
    double last_move = now_s();
    for (;;) {
        /* run until the next checkpoint (1/16 of the target), watching for progress */
        uint64_t total = 0;
        for (;;) {
            total = 0;
            for (int k = 1; k < nv; k++)
                total += a->v[k].xchgs;
            if (total != last_total) {
                last_total = total;
                last_move = now_s();
            }
            if (total * nsteps >= target * (uint64_t)(step + 1) || a->deadlock)
                break;
            if (now_s() - last_move > 20) {
                a->deadlock = 1;
                break;
            }
            progress("(a) %" PRIu64 "/%" PRIu64 " exchanges, %" PRIu64 " hand-offs, %.1f s",
                     total, target, a->v[0].count, now_s() - t0);
            usleep(50000);
        }
        step++;
        a->pk.pause = 1;
        if (a->deadlock || !park_all(&a->pk, nv, 30)) {
            progress_done();
            snprintf(o->note, sizeof(o->note),
                     "DEADLOCK: no progress for 20 s (%" PRIu64 " exchanges done)", total);
            held = 0;
            /* the stuck threads cannot be joined: report and leave */
            o->held = 0;
            o->wall = now_s() - t0;
            return;
        }
        /* all parked: the writer's last value was taken, so the register is 0 */
        progress_done();
        uint64_t sum = 0, bad = 0;
        for (int k = 1; k < nv; k++) {
            sum += a->v[k].count;
            bad += a->v[k].bad;
        }
        uint32_t regv = __atomic_load_n(&dev->reg, __ATOMIC_SEQ_CST);
        xa_row(a, "counts:");
        if (a->v[0].count != sum || regv != 0 || bad) {
            held = 0;
            snprintf(o->note, sizeof(o->note),
                     "BROKEN at checkpoint %d: count0 %" PRIu64 ", sum %" PRIu64
                     ", register 0x%x, %" PRIu64 " unexpected values", step, a->v[0].count, sum,
                     regv, bad);
        }
        if (step >= nsteps || !held)
            a->pk.stop = 1;
        a->pk.pause = 0;
        a->writer_parked = 0;
        park_release(&a->pk);
        if (a->pk.stop)
            break;
    }
    for (int k = 0; k < nv; k++)
        pthread_join(th[k], NULL);
    o->wall = now_s() - t0;
    uint64_t xchgs = 0;
    for (int k = 0; k < nv; k++) {
        stats_add(&o->st, &a->v[k].st);
        o->cpu += a->v[k].cpu;
        xchgs += a->v[k].xchgs;
    }
    if (dev->bad_access) {
        held = 0;
        snprintf(o->note, sizeof(o->note), "%" PRIu64 " accesses off the register", dev->bad_access);
    }
    if (held)
        snprintf(o->note, sizeof(o->note),
                 "%" PRIu64 " exchanges, %" PRIu64 " hand-offs, %d checkpoints", xchgs,
                 a->v[0].count, step);
    o->held = held;
    printf("\n");
}

/* ------------------------------------------------------------------------------------------
 * (b) 256-bit device-table entries written as two LOCK CMPXCHG16B (seed 000)
 * ---------------------------------------------------------------------------------------- */

#define DTE_ENTRIES 4

/* The check word of a 128-bit half: a mix of its counter, its entry and which half it is, so
 * a value torn between two writes, two entries or two halves does not match. */
static uint64_t dte_check(uint64_t counter, unsigned entry, unsigned half)
{
    uint64_t z = counter ^ ((uint64_t)entry << 56) ^ ((uint64_t)half << 48) ^ 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct dte_dev {
    uint64_t table[DTE_ENTRIES * 4] __attribute__((aligned(64)));
    /* what the device saw; counted with relaxed atomics */
    uint64_t torn_read, torn_store, lost_update, odd_access, stores, changed;
};

static int dte_half_ok(const uint64_t v[2], unsigned idx)
{
    return v[1] == dte_check(v[0], idx / 2, idx % 2);
}

static int dte_read(void *o, uint64_t off, void *data, unsigned size, enum hvemu_access kind,
                    struct hvemu_exception *exc)
{
    (void)kind;
    (void)exc;
    struct dte_dev *d = o;
    if (off + size > sizeof(d->table)) {
        memset(data, 0xff, size); /* nothing there: reads as all ones, like a bus with no device */
        return HVEMU_CB_OK;
    }
    device_delay();
    hvr_atomic_load((uint8_t *)d->table + off, data, size);
    if (size == 16 && !(off & 15)) {
        uint64_t v[2];
        memcpy(v, data, 16);
        if (!dte_half_ok(v, (unsigned)(off / 16)))
            __atomic_fetch_add(&d->torn_read, 1, __ATOMIC_RELAXED);
    }
    return HVEMU_CB_OK;
}

static int dte_write(void *o, uint64_t off, const void *data, unsigned size,
                     enum hvemu_access kind, struct hvemu_exception *exc)
{
    (void)kind;
    (void)exc;
    (void)data;
    struct dte_dev *d = o;
    /* the guest only ever stores with LOCK CMPXCHG16B: a plain write is a non-atomic update */
    __atomic_fetch_add(&d->odd_access, 1, __ATOMIC_RELAXED);
    if (off + size <= sizeof(d->table))
        hvr_atomic_store((uint8_t *)d->table + off, data, size);
    return HVEMU_CB_OK;
}

static int dte_cmpxchg(void *o, uint64_t off, void *expected, const void *desired, unsigned size,
                       struct hvemu_exception *exc)
{
    (void)exc;
    struct dte_dev *d = o;
    if (size != 16 || (off & 15) || off + 16 > sizeof(d->table)) {
        __atomic_fetch_add(&d->odd_access, 1, __ATOMIC_RELAXED);
        return HVEMU_CB_UNHANDLEABLE;
    }
    unsigned idx = (unsigned)(off / 16);
    uint64_t e[2], n[2];
    memcpy(e, expected, 16);
    memcpy(n, desired, 16);
    /* A failed CMPXCHG16B stores the old value back (it equals `expected`); a successful one
     * must be exactly one step on from what it replaces, and whole. */
    int same = e[0] == n[0] && e[1] == n[1];
    if (!same) {
        if (!dte_half_ok(n, idx))
            __atomic_fetch_add(&d->torn_store, 1, __ATOMIC_RELAXED);
        if (n[0] != e[0] + 1)
            __atomic_fetch_add(&d->lost_update, 1, __ATOMIC_RELAXED);
    }
    int r;
    if (g_nonatomic) {
        /* the negative control: two 64-bit reads, compare, two 64-bit writes */
        volatile uint64_t *m = &d->table[off / 8];
        uint64_t cur[2] = {m[0], m[1]};
        if (cur[0] != e[0] || cur[1] != e[1]) {
            memcpy(expected, cur, 16);
            r = HVEMU_CB_CHANGED;
        } else {
            m[0] = n[0];
            device_delay();
            m[1] = n[1];
            r = HVEMU_CB_OK;
        }
    } else {
        r = hvr_atomic_cmpxchg((uint8_t *)d->table + off, expected, desired, 16);
    }
    if (r == HVEMU_CB_OK && !same)
        __atomic_fetch_add(&d->stores, 1, __ATOMIC_RELAXED);
    if (r == HVEMU_CB_CHANGED)
        __atomic_fetch_add(&d->changed, 1, __ATOMIC_RELAXED);
    return r;
}

static const struct hvr_device dte_devm = {dte_read, dte_write, dte_cmpxchg, NULL};

struct db {
    uint8_t *win;
    uint64_t iters;
    volatile uint64_t done_total;
    struct {
        uint64_t mine[DTE_ENTRIES][2];
        uint64_t torn_seen, fails;
        volatile uint64_t done;
        struct hvr_stats st;
        double cpu;
        char pad[64];
    } v[MAX_VCPUS];
};

struct db_arg {
    struct db *b;
    int k;
};

/* LOCK CMPXCHG16B on the window: rdx:rax expected (updated on failure), rcx:rbx new. */
static inline int cmpxchg16b(void *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
    unsigned char ok;
    __asm__ volatile("lock cmpxchg16b (%[p])\n\tsete %[ok]"
                     : [ok] "=q"(ok), "+a"(*lo), "+d"(*hi)
                     : [p] "r"(p), "b"(nlo), "c"(nhi)
                     : "memory", "cc");
    return ok;
}

static void *db_vcpu(void *arg)
{
    struct db_arg *ba = arg;
    struct db *b = ba->b;
    int k = ba->k;
    double c0 = thread_cpu_s();
    uint64_t seed = 0x243f6a8885a308d3ull * (uint64_t)(k + 1);
    /* the guest's idea of each half: a guess the first CMPXCHG16B corrects */
    uint64_t guess[DTE_ENTRIES][2][2];
    memset(guess, 0, sizeof(guess));
    for (uint64_t it = 0; it < b->iters; it++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned e = (unsigned)(seed >> 33) % DTE_ENTRIES;
        /* the upper half first, then the lower, as the AMD IOMMU driver writes a DTE */
        for (int h = 1; h >= 0; h--) {
            uint64_t *g = guess[e][h];
            uint64_t lo = g[0], hi = g[1];
            for (;;) {
                uint64_t nlo = lo + 1;
                if (cmpxchg16b(b->win + e * 32 + h * 16, &lo, &hi, nlo, dte_check(nlo, e, (unsigned)h))) {
                    g[0] = nlo;
                    g[1] = dte_check(nlo, e, (unsigned)h);
                    b->v[k].mine[e][h]++;
                    break;
                }
                /* failed: rdx:rax now hold the current value, which must be whole */
                b->v[k].fails++;
                if (hi != dte_check(lo, e, (unsigned)h))
                    b->v[k].torn_seen++;
            }
        }
        b->v[k].done = it + 1;
    }
    hvr_thread_stats(&b->v[k].st);
    b->v[k].cpu = thread_cpu_s() - c0;
    return NULL;
}

static void run_dte(struct outcome *o, int nv, uint64_t iters)
{
    o->name = "(b) DTE 2x CMPXCHG16B, seed 000";
    o->invariant = "no torn half, no lost update";
    o->ran = 1;
    struct db *b = calloc(1, sizeof(*b));
    struct dte_dev *d = aligned_alloc(64, sizeof(*d));
    if (!b || !d) {
        snprintf(o->note, sizeof(o->note), "out of memory");
        return;
    }
    memset(d, 0, sizeof(*d));
    for (unsigned i = 0; i < DTE_ENTRIES * 2; i++) {
        d->table[2 * i] = 0;
        d->table[2 * i + 1] = dte_check(0, i / 2, i % 2);
    }
    b->win = hvr_window_create(4096, &dte_devm, d);
    if (!b->win) {
        snprintf(o->note, sizeof(o->note), "window: %s", strerror(errno));
        return;
    }
    b->iters = iters;
    pthread_t th[MAX_VCPUS];
    struct db_arg args[MAX_VCPUS];
    double t0 = now_s();
    for (int k = 0; k < nv; k++) {
        args[k].b = b;
        args[k].k = k;
        pthread_create(&th[k], NULL, db_vcpu, &args[k]);
    }
    /* progress; a vCPU stuck for 20 s is a deadlock */
    uint64_t last = 0;
    double last_move = now_s();
    for (;;) {
        uint64_t done = 0;
        for (int k = 0; k < nv; k++)
            done += b->v[k].done;
        if (done >= iters * (uint64_t)nv)
            break;
        if (done != last) {
            last = done;
            last_move = now_s();
        } else if (now_s() - last_move > 20) {
            progress_done();
            snprintf(o->note, sizeof(o->note), "DEADLOCK: no progress for 20 s");
            o->held = 0;
            o->wall = now_s() - t0;
            return;
        }
        progress("(b) %" PRIu64 "/%" PRIu64 " entry updates (2 CMPXCHG16B each), %.1f s", done,
                 iters * (uint64_t)nv, now_s() - t0);
        usleep(50000);
    }
    for (int k = 0; k < nv; k++)
        pthread_join(th[k], NULL);
    progress_done();
    o->wall = now_s() - t0;
    uint64_t torn_seen = 0, fails = 0, wrong_total = 0, unequal = 0, torn_final = 0;
    for (int k = 0; k < nv; k++) {
        stats_add(&o->st, &b->v[k].st);
        o->cpu += b->v[k].cpu;
        torn_seen += b->v[k].torn_seen;
        fails += b->v[k].fails;
    }
    for (unsigned e = 0; e < DTE_ENTRIES; e++) {
        for (unsigned h = 0; h < 2; h++) {
            uint64_t sum = 0;
            for (int k = 0; k < nv; k++)
                sum += b->v[k].mine[e][h];
            const uint64_t *v = &d->table[e * 4 + h * 2];
            if (v[0] != sum)
                wrong_total++;
            if (!dte_half_ok(v, e * 2 + h))
                torn_final++;
        }
        if (d->table[e * 4] != d->table[e * 4 + 2])
            unequal++;
    }
    int held = !torn_seen && !wrong_total && !unequal && !torn_final && !d->torn_read &&
               !d->torn_store && !d->lost_update && !d->odd_access;
    o->held = held;
    printf("(b) seed 000: %d entries of 256 bits, %d vCPUs, %" PRIu64 " updates each (2 LOCK CMPXCHG16B per update)\n",
           DTE_ENTRIES, nv, iters);
    printf("    device: %" PRIu64 " 128-bit stores, %" PRIu64 " compare-exchanges found the half changed\n",
           d->stores, d->changed);
    printf("    torn halves read by the device %" PRIu64 ", asked to store %" PRIu64
           ", seen by the guest %" PRIu64 ", in the table at the end %" PRIu64 "\n",
           d->torn_read, d->torn_store, torn_seen, torn_final);
    printf("    lost updates: stores not old+1 %" PRIu64 ", halves whose counter != updates made %" PRIu64
           ", entries with unequal halves %" PRIu64 ", plain writes %" PRIu64 "\n",
           d->lost_update, wrong_total, unequal, d->odd_access);
    printf("    guest CMPXCHG16B failures (lost a race, retried by the guest) %" PRIu64 "\n\n", fails);
    if (held)
        snprintf(o->note, sizeof(o->note), "%" PRIu64 " 128-bit stores by %d vCPUs", d->stores, nv);
    else
        snprintf(o->note, sizeof(o->note),
                 "BROKEN: torn halves %" PRIu64 " (device reads) %" PRIu64 " (stores) %" PRIu64
                 " (guest) %" PRIu64 " (final); lost updates %" PRIu64 " + %" PRIu64
                 " halves off; %" PRIu64 " plain writes",
                 d->torn_read, d->torn_store, torn_seen, torn_final, d->lost_update, wrong_total,
                 d->odd_access);
}

/* ------------------------------------------------------------------------------------------
 * (c) a mix of device accesses, checked against plain memory
 * ---------------------------------------------------------------------------------------- */

#define MIX_SLICE 8192 /* two pages per vCPU: some accesses cross the page boundary */
#define MIX_OUT 4096

static int g_sse; /* hvemu executes MOVDQU: the mix includes 16-byte SSE moves */

static const unsigned mix_off[] = {0, 1, 2, 3, 5, 7, 8, 13, 16, 63, 64, 255, 1000,
                                   4089, 4092, 4093, 4094, 4095, 4096, 6000};
#define NOFF (sizeof(mix_off) / sizeof(mix_off[0]))

/* One pass over `p` (the window or plain memory, MIX_SLICE bytes); `q` is plain scratch
 * memory of MIX_SLICE bytes; every result goes to o[] (plain memory). Returns the count. */
static unsigned mix(uint8_t *p, uint8_t *q, uint64_t *o, uint64_t seed)
{
    unsigned n = 0;
    uint64_t v, f;
#define LD(insn, dst)                                                                       \
    do {                                                                                    \
        v = seed;                                                                           \
        __asm__ volatile(insn " (%1), %" dst "0" : "+r"(v) : "r"(a) : "memory");            \
        o[n++] = v;                                                                         \
    } while (0)
#define ST(insn, src)                                                                       \
    __asm__ volatile(insn " %" src "0, (%1)" : : "r"(seed ^ n), "r"(a) : "memory")
#define STI(insn, imm) __asm__ volatile(insn " $" imm ", (%0)" : : "r"(a) : "memory")
#define RMW(insn, src)                                                                      \
    do {                                                                                    \
        __asm__ volatile(insn " %" src "2, (%1)\n\tpushfq\n\tpopq %0"                       \
                         : "=r"(f) : "r"(a), "r"(seed + n) : "memory", "cc");                 \
        o[n++] = f & 0x8d5;                                                                 \
    } while (0)
#define RMW1(insn)                                                                          \
    do {                                                                                    \
        __asm__ volatile(insn " (%1)\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a) : "memory", "cc"); \
        o[n++] = f & 0x8d5;                                                                 \
    } while (0)
    for (unsigned i = 0; i < NOFF; i++) {
        uint8_t *a = p + mix_off[i];
        LD("movb", "b");
        LD("movw", "w");
        LD("movl", "k");
        LD("movq", "q");
        LD("movzbl", "k");
        LD("movzwl", "k");
        LD("movzbw", "w");
        LD("movsbq", "q");
        LD("movswq", "q");
        LD("movslq", "q");
        LD("movsbl", "k");
        ST("movb", "b");
        LD("movq", "q");
        ST("movw", "w");
        LD("movq", "q");
        ST("movl", "k");
        LD("movq", "q");
        ST("movq", "q");
        LD("movq", "q");
        STI("movb", "0x5a");
        STI("movw", "0x1234");
        LD("movq", "q");
        STI("movl", "0x89abcdef");
        LD("movq", "q");
        STI("movq", "-0x12345678");
        LD("movq", "q");
        RMW("addl", "k");
        RMW("subw", "w");
        RMW("xorb", "b");
        RMW("orq", "q");
        RMW1("incb");
        RMW1("negl");
        RMW1("notq");
        LD("movq", "q");
        /* Locked accesses only within a page: hvemu refuses a split lock across pages
         * rather than doing it non-atomically (see the note printed with the results). */
        if ((mix_off[i] & 4095) + 8 <= 4096) {
            RMW("lock andl", "k");
            RMW("lock addq", "q");
            RMW1("lock decw");
            /* XADD, CMPXCHG (taken and not), XCHG: registers and memory */
            uint64_t r = seed ^ 0x1111;
            __asm__ volatile("lock xaddl %k0, (%1)" : "+r"(r) : "r"(a) : "memory", "cc");
            o[n++] = r;
            uint64_t acc = 0x77, src = seed;
            __asm__ volatile("lock cmpxchgw %w2, (%3)\n\tpushfq\n\tpopq %1"
                             : "+a"(acc), "=r"(f) : "r"(src), "r"(a) : "memory", "cc");
            o[n++] = acc;
            o[n++] = f & 0x8d5;
            __asm__ volatile("lock cmpxchgw %w2, (%3)\n\tpushfq\n\tpopq %1"
                             : "+a"(acc), "=r"(f) : "r"(src), "r"(a) : "memory", "cc");
            o[n++] = acc;
            o[n++] = f & 0x8d5;
            r = seed * 3;
            __asm__ volatile("xchgq %0, (%1)" : "+r"(r) : "r"(a) : "memory");
            o[n++] = r;
            __asm__ volatile("btsl $13, (%1)\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a) : "memory", "cc");
            o[n++] = f & 1;
            LD("movq", "q");
        }
        if (g_sse) {
            uint64_t x[2];
            __asm__ volatile("movdqu (%1), %%xmm1\n\tmovdqu %%xmm1, (%0)" : : "r"(x), "r"(a) : "memory", "xmm1");
            o[n++] = x[0];
            o[n++] = x[1];
            x[0] = seed;
            x[1] = ~seed;
            __asm__ volatile("movdqu (%0), %%xmm1\n\tmovdqu %%xmm1, (%1)" : : "r"(x), "r"(a) : "memory", "xmm1");
            LD("movq", "q");
        }
        seed = seed * 6364136223846793005ull + 1;
    }
    /* REP MOVSB and REP STOSB: window -> plain, plain -> window, window -> window, fill. The
     * lengths take some copies across the page boundary and past REP's per-call chunk. */
    static const struct { unsigned src, dst, len, dir; } reps[] = {
        {0, 0, 64, 0}, {4000, 100, 300, 0}, {10, 5000, 1500, 0}, {3, 4090, 17, 1},
        {7000, 2, 1100, 1}, {100, 6000, 200, 2}, {4080, 50, 40, 2}, {0, 3000, 2000, 3},
        {0, 4095, 3, 3},
    };
    for (unsigned i = 0; i < sizeof(reps) / sizeof(reps[0]); i++) {
        uint64_t si, di, c = reps[i].len;
        switch (reps[i].dir) {
        case 0: si = (uint64_t)(uintptr_t)(p + reps[i].src); di = (uint64_t)(uintptr_t)(q + reps[i].dst); break;
        case 1: si = (uint64_t)(uintptr_t)(q + reps[i].src); di = (uint64_t)(uintptr_t)(p + reps[i].dst); break;
        case 2: si = (uint64_t)(uintptr_t)(p + reps[i].src); di = (uint64_t)(uintptr_t)(p + reps[i].dst); break;
        default: si = 0; di = (uint64_t)(uintptr_t)(p + reps[i].dst); break;
        }
        uint64_t si0 = si, di0 = di;
        if (reps[i].dir == 3)
            __asm__ volatile("rep stosb" : "+D"(di), "+c"(c) : "a"(seed + i) : "memory");
        else
            __asm__ volatile("rep movsb" : "+S"(si), "+D"(di), "+c"(c) : : "memory");
        o[n++] = c;
        o[n++] = si - si0;
        o[n++] = di - di0;
    }
#undef LD
#undef ST
#undef STI
#undef RMW
#undef RMW1
    return n;
}

static int sse_probe_read(void *op, uint64_t addr, void *data, unsigned size,
                          enum hvemu_access kind, struct hvemu_exception *exc)
{
    (void)op;
    (void)kind;
    (void)exc;
    memcpy(data, (const void *)(uintptr_t)addr, size);
    return HVEMU_CB_OK;
}

static int sse_probe_load(void *op, struct hvemu_state *s, uint64_t parts)
{
    (void)op;
    s->valid |= parts; /* a zeroed state is fine for the probe */
    return HVEMU_CB_OK;
}

/* Does hvemu execute MOVDQU xmm1, [rax]? Asked once, on a made-up state. */
static int sse_supported(void)
{
    static const uint8_t code[16] = {0xf3, 0x0f, 0x6f, 0x08}; /* movdqu xmm1, [rax] */
    static uint8_t data[64];
    static struct hvemu_state s;
    static struct hvemu_ctx ctx;
    struct hvemu_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.read = sse_probe_read;
    ops.load_state = sse_probe_load;
    memset(&s, 0, sizeof(s));
    s.rip = (uint64_t)(uintptr_t)code;
    s.gpr[HVEMU_RAX] = (uint64_t)(uintptr_t)data;
    s.cr0 = 0x80050033;
    s.efer = 0xd01;
    s.cr4 = 0x40620;
    s.seg[HVEMU_CS].attr = 0xa0fb;
    s.valid = HVEMU_PART_ALL;
    hvemu_init(&ctx, &ops, NULL, &s);
    struct hvemu_result r;
    return hvemu_emulate(&ctx, &r) == HVEMU_OK;
}

struct dc {
    uint8_t *win, *backing;
    int rounds;
    volatile int mismatches;
    char first[128];
    pthread_mutex_t lock;
    struct {
        volatile int done;
        unsigned results;
        struct hvr_stats st;
        double cpu;
        char pad[64];
    } v[MAX_VCPUS];
};

struct dc_arg {
    struct dc *c;
    int k;
};

static void *dc_vcpu(void *arg)
{
    struct dc_arg *ca = arg;
    struct dc *c = ca->c;
    int k = ca->k;
    double c0 = thread_cpu_s();
    uint8_t *plain = malloc(MIX_SLICE), *q1 = malloc(MIX_SLICE), *q2 = malloc(MIX_SLICE);
    uint64_t *o1 = calloc(MIX_OUT, 8), *o2 = calloc(MIX_OUT, 8);
    uint8_t *win = c->win + (size_t)k * MIX_SLICE, *back = c->backing + (size_t)k * MIX_SLICE;
    if (!plain || !q1 || !q2 || !o1 || !o2)
        abort();
    for (int r = 0; r < c->rounds; r++) {
        uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(r * MAX_VCPUS + k + 1);
        uint64_t x = seed;
        for (unsigned i = 0; i < MIX_SLICE; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            plain[i] = back[i] = (uint8_t)x;
            q1[i] = q2[i] = (uint8_t)(x >> 8);
        }
        memset(o1, 0, MIX_OUT * 8);
        memset(o2, 0, MIX_OUT * 8);
        unsigned n1 = mix(plain, q1, o1, seed);
        unsigned n2 = mix(win, q2, o2, seed);
        c->v[k].results += n1;
        const char *what = NULL;
        unsigned at = 0;
        if (n1 != n2) {
            what = "result count";
        } else {
            for (unsigned i = 0; i < n1 && !what; i++)
                if (o1[i] != o2[i])
                    what = "register or flags result", at = i;
            for (unsigned i = 0; i < MIX_SLICE && !what; i++)
                if (plain[i] != back[i])
                    what = "device memory byte", at = i;
            for (unsigned i = 0; i < MIX_SLICE && !what; i++)
                if (q1[i] != q2[i])
                    what = "plain memory byte (REP MOVSB destination)", at = i;
        }
        if (what) {
            pthread_mutex_lock(&c->lock);
            if (!c->mismatches)
                snprintf(c->first, sizeof(c->first), "vCPU %d round %d: %s #%u differs", k, r,
                         what, at);
            c->mismatches++;
            pthread_mutex_unlock(&c->lock);
        }
        c->v[k].done = r + 1;
    }
    free(plain);
    free(q1);
    free(q2);
    free(o1);
    free(o2);
    hvr_thread_stats(&c->v[k].st);
    c->v[k].cpu = thread_cpu_s() - c0;
    return NULL;
}

static void run_mix(struct outcome *o, int nv, int rounds)
{
    o->name = "(c) MMIO mix vs plain memory";
    o->invariant = "same registers, flags, memory";
    o->ran = 1;
    g_sse = sse_supported();
    struct dc *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(o->note, sizeof(o->note), "out of memory");
        return;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->backing = aligned_alloc(4096, (size_t)nv * MIX_SLICE);
    c->win = hvr_window_create((size_t)nv * MIX_SLICE, &hvr_ram_device, c->backing);
    if (!c->backing || !c->win) {
        snprintf(o->note, sizeof(o->note), "window: %s", strerror(errno));
        return;
    }
    c->rounds = rounds;
    pthread_t th[MAX_VCPUS];
    struct dc_arg args[MAX_VCPUS];
    double t0 = now_s();
    for (int k = 0; k < nv; k++) {
        args[k].c = c;
        args[k].k = k;
        pthread_create(&th[k], NULL, dc_vcpu, &args[k]);
    }
    for (;;) {
        int done = 0;
        for (int k = 0; k < nv; k++)
            done += c->v[k].done;
        if (done >= rounds * nv)
            break;
        progress("(c) %d/%d rounds of the mix, %.1f s", done, rounds * nv, now_s() - t0);
        usleep(50000);
    }
    for (int k = 0; k < nv; k++)
        pthread_join(th[k], NULL);
    progress_done();
    o->wall = now_s() - t0;
    uint64_t results = 0;
    for (int k = 0; k < nv; k++) {
        stats_add(&o->st, &c->v[k].st);
        o->cpu += c->v[k].cpu;
        results += c->v[k].results;
    }
    o->held = c->mismatches == 0;
    printf("(c) mix: MOV r/m 8/16/32/64 and imm, MOVZX, MOVSX/MOVSXD, ADD/SUB/XOR/OR/AND/INC/DEC/NEG/NOT\n"
           "    (some LOCKed), XADD, CMPXCHG, XCHG, BTS, REP MOVSB/STOSB to, from and within the window,\n"
           "    %d rounds on %d vCPUs: %" PRIu64 " results compared with the same code on plain memory\n",
           rounds, nv, results);
    printf("    locked instructions stay within a page: hvemu refuses a locked access that crosses a\n"
           "    page (split lock) instead of doing it non-atomically\n");
    if (g_sse)
        printf("    SSE: MOVDQU 16-byte loads and stores included\n");
    else
        printf("    SSE: 16-byte moves (MOVDQU) are not executed by hvemu yet: left out of the mix\n");
    if (c->mismatches)
        printf("    MISMATCH: %s (%d rounds differ)\n", c->first, c->mismatches);
    printf("\n");
    if (c->mismatches)
        snprintf(o->note, sizeof(o->note), "%s", c->first);
    else
        snprintf(o->note, sizeof(o->note), "%" PRIu64 " results equal%s", results,
                 g_sse ? "" : "; SSE not executed yet");
}

/* ------------------------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------------------------- */

int cmd_demo(int argc, char **argv)
{
    uint64_t nv = 3, iters = 1000000, delay_ns = 2000;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vcpus") == 0 && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &nv) || nv < 3 || nv > MAX_VCPUS)
                return cli_usage_error("demo", "--vcpus takes a number from 3 to %d", MAX_VCPUS);
        } else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &iters) || iters < 16)
                return cli_usage_error("demo", "--iterations takes a number of at least 16");
        } else if (strcmp(argv[i], "--device-delay") == 0 && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &delay_ns) || delay_ns > 1000000000)
                return cli_usage_error("demo", "--device-delay takes nanoseconds (at most 10^9)");
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
            if (strcmp(only, "a") && strcmp(only, "b") && strcmp(only, "c"))
                return cli_usage_error("demo", "--only takes a, b or c");
        } else if (strcmp(argv[i], "--nonatomic-device") == 0) {
            g_nonatomic = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            g_quiet = 1;
        } else {
            return cli_usage_error("demo", "unknown argument '%s'", argv[i]);
        }
    }
    g_tty = isatty(2);
    g_delay = (double)delay_ns * 1e-9;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (hvr_init() != 0) {
        fprintf(stderr, "hvemu demo: cannot install the SIGSEGV handler: %s\n", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    if (g_nonatomic)
        printf("NEGATIVE CONTROL: the device models compare-exchange non-atomically\n");
    printf("hvemu demo: %d vCPU threads run guest code natively; device windows are mapped with\n"
           "no access, each access traps (SIGSEGV) and is emulated by hvemu and a device model.\n\n",
           (int)nv);
    struct outcome out[3];
    memset(out, 0, sizeof(out));
    if (!only || *only == 'a')
        run_xchg(&out[0], (int)nv, iters);
    if (!only || *only == 'b')
        run_dte(&out[1], (int)nv, iters / 50 < 100 ? 100 : iters / 50);
    if (!only || *only == 'c')
        run_mix(&out[2], (int)nv, iters / 100000 < 2 ? 2 : (int)(iters / 100000));

    int ok = 1;
    struct hvr_stats all;
    memset(&all, 0, sizeof(all));
    printf("%-32s %10s %9s %9s %7s %11s  %-30s %s\n", "scenario", "exits", "emul/s", "ns/emul",
           "hvemu", "retries", "invariant", "");
    for (int i = 0; i < 3; i++) {
        struct outcome *o = &out[i];
        if (!o->ran)
            continue;
        stats_add(&all, &o->st);
        ok &= o->held;
        char retr[32];
        snprintf(retr, sizeof(retr), "%" PRIu64 "/%" PRIu64, o->st.retries, o->st.retries_max);
        double hv = o->st.exits && hvr_tsc_per_ns() > 0
                        ? (double)o->st.emulate_tsc / hvr_tsc_per_ns() / (double)o->st.exits
                        : 0.0;
        printf("%-32s %10" PRIu64 " %9.0f %9.0f %7.0f %11s  %-30s %s\n", o->name, o->st.exits,
               o->wall > 0 ? (double)o->st.exits / o->wall : 0.0,
               o->st.exits ? o->cpu * 1e9 / (double)o->st.exits : 0.0, hv, retr, o->invariant,
               o->held ? "held" : "BROKEN");
        printf("%-32s %s\n", "", o->note);
    }
    printf("\nexits: faults in a window, each one emulation; emul/s: exits / wall time; ns/emul:\n"
           "vCPU CPU time / exits (the SIGSEGV round trip included, which dominates); hvemu: ns\n"
           "inside hvemu_emulate() per exit by the TSC, device model included (--device-delay is in\n"
           "it) and so is any time the vCPU thread was descheduled there.\n"
           "retries: hvemu_result.retries summed / the most in one emulation (a locked\n"
           "read-modify-write whose compare-exchange found the device register changed is\n"
           "computed again from the fresh value).\n");
    printf("all scenarios: %" PRIu64 " exits, %" PRIu64 " emulated, %" PRIu64
           " exceptions delivered, %" PRIu64 " retries in %" PRIu64 " emulations (max %" PRIu64
           "), %" PRIu64 " HVEMU_RETRY\n",
           all.exits, all.emulated, all.exceptions, all.retries, all.emulations_retried,
           all.retries_max, all.retry_status);
    printf("result: %s\n", ok ? "every invariant held" : "an invariant BROKE");
    fflush(stdout);
    if (!ok) {
        /* threads stuck in a deadlock cannot be joined: leave without running atexit work */
        _exit(CLI_EXIT_FAIL);
    }
    return CLI_EXIT_OK;
}

#else /* not x86-64 Linux */

#include <stdio.h>

const char cmd_demo_usage[] =
    "usage: hvemu demo [--vcpus N] [--iterations N]\n"
    "The trap-and-emulate demo needs x86-64 Linux (guest code runs natively).\n";

int cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "hvemu demo: needs an x86-64 Linux host\n");
    return CLI_EXIT_FAIL;
}

#endif
