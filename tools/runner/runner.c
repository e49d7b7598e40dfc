/* SPDX-License-Identifier: MIT */
/*
 * The trap-and-emulate runner (see runner.h for the contract).
 *
 * Why it is built this way:
 * - Per-thread state is initial-exec TLS: a signal handler can use it without allocation or
 *   locks, and any thread that faults in a window is a vCPU without registering.
 * - The handler runs with SA_NODEFER so that a fault while it touches ordinary memory on the
 *   guest's behalf (a read past a window's end, a write to a read-only page) comes back to it:
 *   with the thread's recovery point armed it jumps back and the access becomes the #PF the
 *   guest would have taken. Without a recovery point armed a fault inside the handler is a
 *   bug: the default action is restored and the process dies on the spot.
 * - The guest's own handlers are called directly with the guest's context (the one the
 *   kernel gave us), so they see the faulting instruction's RIP and can change the context
 *   (skip the instruction, siglongjmp) exactly as with a kernel-delivered signal.
 */
#if !defined(__x86_64__) || !defined(__linux__)
#error "the trap-and-emulate runner needs x86-64 Linux"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runner.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096u

/* ------------------------------------------------------------------------------------------
 * Host atomics
 * ---------------------------------------------------------------------------------------- */

/* Explicit LOCK CMPXCHG of each width: well defined on any alignment (a misaligned one that
 * crosses a cache line is a split lock, still atomic), unlike the compiler builtins. */
#define CAS_FN(name, T, sfx)                                                              \
    static int name(void *p, T *expected, T desired)                                      \
    {                                                                                     \
        T old = *expected;                                                                \
        unsigned char ok;                                                                 \
        __asm__ volatile("lock cmpxchg" sfx " %3, %1\n\tsete %0"                          \
                         : "=q"(ok), "+m"(*(volatile T *)p), "+a"(old)                    \
                         : "q"(desired)                                                   \
                         : "memory", "cc");                                               \
        *expected = old;                                                                  \
        return ok;                                                                        \
    }
CAS_FN(cas1, uint8_t, "b")
CAS_FN(cas2, uint16_t, "w")
CAS_FN(cas4, uint32_t, "l")
CAS_FN(cas8, uint64_t, "q")

struct u128 {
    uint64_t q[2];
};

static int cas16(void *p, uint64_t exp[2], const uint64_t des[2])
{
    uint64_t lo = exp[0], hi = exp[1];
    unsigned char ok;
    __asm__ volatile("lock cmpxchg16b %1\n\tsete %0"
                     : "=q"(ok), "+m"(*(volatile struct u128 *)p), "+a"(lo), "+d"(hi)
                     : "b"(des[0]), "c"(des[1])
                     : "memory", "cc");
    exp[0] = lo;
    exp[1] = hi;
    return ok;
}

int hvr_atomic_cmpxchg(void *p, void *expected, const void *desired, unsigned size)
{
    int ok;
    switch (size) {
    case 1: {
        uint8_t e, d;
        memcpy(&e, expected, 1);
        memcpy(&d, desired, 1);
        ok = cas1(p, &e, d);
        memcpy(expected, &e, 1);
        break;
    }
    case 2: {
        uint16_t e, d;
        memcpy(&e, expected, 2);
        memcpy(&d, desired, 2);
        ok = cas2(p, &e, d);
        memcpy(expected, &e, 2);
        break;
    }
    case 4: {
        uint32_t e, d;
        memcpy(&e, expected, 4);
        memcpy(&d, desired, 4);
        ok = cas4(p, &e, d);
        memcpy(expected, &e, 4);
        break;
    }
    case 8: {
        uint64_t e, d;
        memcpy(&e, expected, 8);
        memcpy(&d, desired, 8);
        ok = cas8(p, &e, d);
        memcpy(expected, &e, 8);
        break;
    }
    case 16: {
        uint64_t e[2], d[2];
        memcpy(e, expected, 16);
        memcpy(d, desired, 16);
        ok = cas16(p, e, d);
        memcpy(expected, e, 16);
        break;
    }
    default:
        /* hvemu asks only for 1, 2, 4, 8, 16: anything else is a caller bug */
        abort();
    }
    return ok ? HVEMU_CB_OK : HVEMU_CB_CHANGED;
}

/* One load or store instruction per aligned size (single-copy atomic like the guest's own
 * access would be); byte copies otherwise. */
void hvr_atomic_load(const void *p, void *data, unsigned size)
{
    uintptr_t a = (uintptr_t)p;
    switch (size) {
    case 1: { uint8_t v = *(const volatile uint8_t *)p; memcpy(data, &v, 1); return; }
    case 2: if (!(a & 1)) { uint16_t v = *(const volatile uint16_t *)p; memcpy(data, &v, 2); return; } break;
    case 4: if (!(a & 3)) { uint32_t v = *(const volatile uint32_t *)p; memcpy(data, &v, 4); return; } break;
    case 8: if (!(a & 7)) { uint64_t v = *(const volatile uint64_t *)p; memcpy(data, &v, 8); return; } break;
    case 16:
        if (!(a & 15)) {
            /* a compare-exchange that stores back what it finds: an atomic 16-byte read */
            uint64_t e[2] = {0, 0}, d[2] = {0, 0};
            cas16((void *)(uintptr_t)p, e, d);
            memcpy(data, e, 16);
            return;
        }
        break;
    default: break;
    }
    const volatile uint8_t *s = p;
    uint8_t *d = data;
    for (unsigned i = 0; i < size; i++)
        d[i] = s[i];
}

void hvr_atomic_store(void *p, const void *data, unsigned size)
{
    uintptr_t a = (uintptr_t)p;
    switch (size) {
    case 1: { uint8_t v; memcpy(&v, data, 1); *(volatile uint8_t *)p = v; return; }
    case 2: if (!(a & 1)) { uint16_t v; memcpy(&v, data, 2); *(volatile uint16_t *)p = v; return; } break;
    case 4: if (!(a & 3)) { uint32_t v; memcpy(&v, data, 4); *(volatile uint32_t *)p = v; return; } break;
    case 8: if (!(a & 7)) { uint64_t v; memcpy(&v, data, 8); *(volatile uint64_t *)p = v; return; } break;
    default: break;
    }
    volatile uint8_t *d = p;
    const uint8_t *s = data;
    for (unsigned i = 0; i < size; i++)
        d[i] = s[i];
}

/* ------------------------------------------------------------------------------------------
 * The RAM device
 * ---------------------------------------------------------------------------------------- */

static int ram_read(void *opaque, uint64_t off, void *data, unsigned size, enum hvemu_access kind,
                    struct hvemu_exception *exc)
{
    (void)kind;
    (void)exc;
    hvr_atomic_load((uint8_t *)opaque + off, data, size);
    return HVEMU_CB_OK;
}

static int ram_write(void *opaque, uint64_t off, const void *data, unsigned size,
                     enum hvemu_access kind, struct hvemu_exception *exc)
{
    (void)kind;
    (void)exc;
    hvr_atomic_store((uint8_t *)opaque + off, data, size);
    return HVEMU_CB_OK;
}

static int ram_cmpxchg(void *opaque, uint64_t off, void *expected, const void *desired,
                       unsigned size, struct hvemu_exception *exc)
{
    (void)exc;
    return hvr_atomic_cmpxchg((uint8_t *)opaque + off, expected, desired, size);
}

const struct hvr_device hvr_ram_device = {ram_read, ram_write, ram_cmpxchg, NULL};

/* ------------------------------------------------------------------------------------------
 * Windows
 * ---------------------------------------------------------------------------------------- */

struct window {
    uintptr_t base, end;
    const struct hvr_device *dev;
    void *opaque;
    volatile int active;
};

static struct window g_win[HVR_MAX_WINDOWS];
static int g_nwin; /* slots in use (published with release) */
static pthread_mutex_t g_win_lock = PTHREAD_MUTEX_INITIALIZER;

static struct window *find_window(uint64_t addr)
{
    int n = __atomic_load_n(&g_nwin, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        struct window *w = &g_win[i];
        if (addr >= w->base && addr < w->end && w->active)
            return w;
    }
    return NULL;
}

int hvr_window_add(void *addr, size_t len, const struct hvr_device *dev, void *opaque)
{
    uintptr_t a = (uintptr_t)addr;
    /* page granularity: hvemu splits accesses per page, so a callback is then always wholly
     * inside or wholly outside a window */
    if ((a & (PAGE - 1)) || !len || !dev) {
        errno = EINVAL;
        return -1;
    }
    len = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
    pthread_mutex_lock(&g_win_lock);
    int n = g_nwin;
    if (n >= HVR_MAX_WINDOWS) {
        pthread_mutex_unlock(&g_win_lock);
        errno = ENOSPC;
        return -1;
    }
    g_win[n].base = a;
    g_win[n].end = a + len;
    g_win[n].dev = dev;
    g_win[n].opaque = opaque;
    g_win[n].active = 1;
    __atomic_store_n(&g_nwin, n + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_win_lock);
    return n;
}

void hvr_window_remove(int index)
{
    if (index >= 0 && index < HVR_MAX_WINDOWS)
        g_win[index].active = 0;
}

void *hvr_window_create(size_t len, const struct hvr_device *dev, void *opaque)
{
    if (hvr_init() != 0)
        return NULL;
    len = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
    void *p = mmap(NULL, len + PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (hvr_window_add(p, len, dev, opaque) < 0) {
        int e = errno;
        munmap(p, len + PAGE);
        errno = e;
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------------------------------------
 * Per-thread state
 * ---------------------------------------------------------------------------------------- */

struct hvr_thread {
    int ready;
    volatile int armed;      /* a plain-memory access is in progress: recover instead of dying */
    volatile int in_handler;
    uint64_t fault_addr;
    int fault_code;
    uint64_t rip;            /* RIP of the instruction being emulated */
    ucontext_t *uc;
    sigjmp_buf recover;
    struct hvr_stats stats;
    struct hvemu_ctx ctx;
    struct hvemu_state st;
};

static __thread struct hvr_thread tls __attribute__((tls_model("initial-exec")));

void hvr_thread_stats(struct hvr_stats *out)
{
    *out = tls.stats;
}

void hvr_thread_stats_reset(void)
{
    memset(&tls.stats, 0, sizeof(tls.stats));
}

uint64_t hvr_current_rip(void)
{
    return tls.rip;
}

const struct hvemu_insn *hvr_current_insn(void)
{
    return &tls.ctx.insn;
}

static hvr_unhandleable_fn g_unhandleable_hook;

void hvr_set_unhandleable_hook(hvr_unhandleable_fn fn)
{
    g_unhandleable_hook = fn;
}

/* ------------------------------------------------------------------------------------------
 * Host facts, read once at hvr_init()
 * ---------------------------------------------------------------------------------------- */

static struct {
    uint64_t cr4, xcr0;
    int have_xsave;
    uint32_t xoff[8], xsize[8]; /* XSAVE component offsets (standard format) */
} g_host;

#define CR0_USER 0x80050033ull /* PE MP ET NE WP AM PG: what Linux runs a 64-bit process with */
#define EFER_USER 0xd01ull     /* SCE LME LMA NXE */
#define CS_ATTR_USER64 0xa0fbu /* code, accessed, readable; S; DPL 3; P; L; G */
#define DS_ATTR_USER 0xc0f3u   /* data, accessed, writable; S; DPL 3; P; D/B; G */

static void host_probe(void)
{
    unsigned a, b, c, d;
    uint64_t cr4 = 0x10 | 0x20 | 0x40 | 0x80 | 0x200 | 0x400; /* PSE PAE MCE PGE OSFXSR OSXMMEXCPT */
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27))) { /* OSXSAVE */
        g_host.have_xsave = 1;
        cr4 |= 1u << 18;
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        g_host.xcr0 = ((uint64_t)hi << 32) | lo;
        for (unsigned i = 2; i < 8; i++) {
            __cpuid_count(0xd, i, a, b, c, d);
            g_host.xsize[i] = a;
            g_host.xoff[i] = b;
        }
    }
#ifdef AT_HWCAP2
    if (getauxval(AT_HWCAP2) & 2) /* HWCAP2_FSGSBASE: the kernel enabled CR4.FSGSBASE */
        cr4 |= 1u << 16;
#endif
    g_host.cr4 = cr4;
}

/* ------------------------------------------------------------------------------------------
 * State from and to the signal context
 * ---------------------------------------------------------------------------------------- */

static const int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                REG_R12, REG_R13, REG_R14, REG_R15};

static void state_from_uc(struct hvemu_state *s, const ucontext_t *uc)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    for (int i = 0; i < 16; i++)
        s->gpr[i] = (uint64_t)g[greg_of[i]];
    s->rip = (uint64_t)g[REG_RIP];
    s->rflags = (uint64_t)g[REG_EFL];
    s->cr0 = CR0_USER;
    s->efer = EFER_USER;
    s->seg[HVEMU_CS].base = 0;
    s->seg[HVEMU_CS].limit = 0xffffffffu;
    s->seg[HVEMU_CS].selector = (uint16_t)((uint64_t)g[REG_CSGSFS] & 0xffff);
    s->seg[HVEMU_CS].attr = CS_ATTR_USER64;
    s->valid = HVEMU_PART_GPRS_LEGACY | HVEMU_PART_RIP | HVEMU_PART_RFLAGS | HVEMU_PART_CR0 |
               HVEMU_PART_EFER | HVEMU_PART_SEG(HVEMU_CS);
    s->dirty = 0;
}

/* The XSAVE area of the signal frame, when the kernel wrote one (magic in the software
 * bytes of the FXSAVE area), else NULL. */
static uint8_t *xsave_area(const ucontext_t *uc, uint64_t *features, uint32_t *size)
{
    uint8_t *fx = (uint8_t *)uc->uc_mcontext.fpregs;
    if (!fx)
        return NULL;
    uint32_t magic, xsize;
    memcpy(&magic, fx + 464, 4);
    if (magic != 0x46505853u) { /* FP_XSTATE_MAGIC1: only the legacy FXSAVE area */
        *features = 3;
        *size = 512;
        return fx;
    }
    memcpy(features, fx + 472, 8);
    memcpy(&xsize, fx + 480, 4);
    *size = xsize;
    return fx;
}

static int xcomp_ok(uint64_t features, uint32_t size, unsigned comp)
{
    return ((features >> comp) & 1) && g_host.xoff[comp] &&
           g_host.xoff[comp] + g_host.xsize[comp] <= size;
}

/* Component `comp` is in its init state (all zero) when its XSTATE_BV bit is clear. */
static int xcomp_in_use(const uint8_t *fx, uint32_t size, unsigned comp)
{
    uint64_t bv;
    if (size < 520)
        return 1;
    memcpy(&bv, fx + 512, 8);
    return (bv >> comp) & 1;
}

static void xcomp_mark(uint8_t *fx, uint32_t size, unsigned comp)
{
    uint64_t bv;
    if (size < 520)
        return;
    memcpy(&bv, fx + 512, 8);
    bv |= (uint64_t)1 << comp;
    memcpy(fx + 512, &bv, 8);
}

static void load_vectors(struct hvemu_state *s, const ucontext_t *uc, uint64_t parts)
{
    uint64_t feat;
    uint32_t size;
    uint8_t *fx = xsave_area(uc, &feat, &size);
    if (!fx)
        return;
    if (parts & HVEMU_PART_MXCSR) {
        memcpy(&s->mxcsr, fx + 24, 4);
        s->valid |= HVEMU_PART_MXCSR;
    }
    if (parts & HVEMU_PART_XMM) {
        for (int i = 0; i < 16; i++)
            memcpy(s->vec[i].b, fx + 160 + 16 * i, 16);
        s->valid |= HVEMU_PART_XMM;
    }
    if ((parts & HVEMU_PART_YMM_HI) && xcomp_ok(feat, size, 2)) {
        int used = xcomp_in_use(fx, size, 2);
        for (int i = 0; i < 16; i++) {
            if (used)
                memcpy(s->vec[i].b + 16, fx + g_host.xoff[2] + 16 * i, 16);
            else
                memset(s->vec[i].b + 16, 0, 16);
        }
        s->valid |= HVEMU_PART_YMM_HI;
    }
    if ((parts & HVEMU_PART_OPMASK) && xcomp_ok(feat, size, 5)) {
        if (xcomp_in_use(fx, size, 5))
            memcpy(s->k, fx + g_host.xoff[5], 64);
        else
            memset(s->k, 0, sizeof(s->k));
        s->valid |= HVEMU_PART_OPMASK;
    }
    if ((parts & HVEMU_PART_ZMM) && xcomp_ok(feat, size, 6) && xcomp_ok(feat, size, 7)) {
        int u6 = xcomp_in_use(fx, size, 6), u7 = xcomp_in_use(fx, size, 7);
        for (int i = 0; i < 16; i++) {
            if (u6)
                memcpy(s->vec[i].b + 32, fx + g_host.xoff[6] + 32 * i, 32);
            else
                memset(s->vec[i].b + 32, 0, 32);
        }
        for (int i = 0; i < 16; i++) {
            if (u7)
                memcpy(s->vec[16 + i].b, fx + g_host.xoff[7] + 64 * i, 64);
            else
                memset(s->vec[16 + i].b, 0, 64);
        }
        s->valid |= HVEMU_PART_ZMM;
    }
}

/* Write the dirty vector parts back; returns the parts it could not write. */
static uint64_t store_vectors(const struct hvemu_state *s, ucontext_t *uc, uint64_t parts)
{
    uint64_t feat;
    uint32_t size;
    uint8_t *fx = xsave_area(uc, &feat, &size);
    if (!fx)
        return parts;
    if (parts & HVEMU_PART_MXCSR) {
        memcpy(fx + 24, &s->mxcsr, 4);
        parts &= ~HVEMU_PART_MXCSR;
    }
    if (parts & HVEMU_PART_XMM) {
        for (int i = 0; i < 16; i++)
            memcpy(fx + 160 + 16 * i, s->vec[i].b, 16);
        xcomp_mark(fx, size, 1);
        parts &= ~HVEMU_PART_XMM;
    }
    if ((parts & HVEMU_PART_YMM_HI) && xcomp_ok(feat, size, 2)) {
        for (int i = 0; i < 16; i++)
            memcpy(fx + g_host.xoff[2] + 16 * i, s->vec[i].b + 16, 16);
        xcomp_mark(fx, size, 2);
        parts &= ~HVEMU_PART_YMM_HI;
    }
    if ((parts & HVEMU_PART_OPMASK) && xcomp_ok(feat, size, 5)) {
        memcpy(fx + g_host.xoff[5], s->k, 64);
        xcomp_mark(fx, size, 5);
        parts &= ~HVEMU_PART_OPMASK;
    }
    if ((parts & HVEMU_PART_ZMM) && xcomp_ok(feat, size, 6) && xcomp_ok(feat, size, 7)) {
        for (int i = 0; i < 16; i++)
            memcpy(fx + g_host.xoff[6] + 32 * i, s->vec[i].b + 32, 32);
        for (int i = 0; i < 16; i++)
            memcpy(fx + g_host.xoff[7] + 64 * i, s->vec[16 + i].b, 64);
        xcomp_mark(fx, size, 6);
        xcomp_mark(fx, size, 7);
        parts &= ~HVEMU_PART_ZMM;
    }
    return parts;
}

static uint64_t get_base(int code)
{
    unsigned long v = 0;
    syscall(SYS_arch_prctl, code, &v);
    return v;
}

static int cb_load_state(void *opaque, struct hvemu_state *s, uint64_t parts)
{
    struct hvr_thread *t = opaque;
    const greg_t *g = t->uc->uc_mcontext.gregs;
    uint64_t csgsfs = (uint64_t)g[REG_CSGSFS];
    for (int seg = 0; seg < HVEMU_NUM_SEGS; seg++) {
        if (!(parts & HVEMU_PART_SEG(seg)) || seg == HVEMU_CS)
            continue;
        struct hvemu_segment *sg = &s->seg[seg];
        sg->base = 0;
        sg->limit = 0xffffffffu;
        sg->attr = DS_ATTR_USER;
        sg->selector = 0;
        if (seg == HVEMU_FS) {
            sg->selector = (uint16_t)(csgsfs >> 32);
            sg->base = get_base(ARCH_GET_FS);
        } else if (seg == HVEMU_GS) {
            sg->selector = (uint16_t)(csgsfs >> 16);
            sg->base = get_base(ARCH_GET_GS);
        } else if (seg == HVEMU_SS) {
            sg->selector = (t->uc->uc_flags & 0x4) ? (uint16_t)(csgsfs >> 48) : 0x2b; /* UC_SIGCONTEXT_SS */
        }
        s->valid |= HVEMU_PART_SEG(seg);
    }
    if (parts & HVEMU_PART_CR4) {
        s->cr4 = g_host.cr4;
        s->valid |= HVEMU_PART_CR4;
    }
    if (parts & HVEMU_PART_XCR0) {
        s->xcr0 = g_host.have_xsave ? g_host.xcr0 : 3;
        s->valid |= HVEMU_PART_XCR0;
    }
    /* Invisible to a user process; any instruction that uses them is #GP at CPL 3. */
    if (parts & (HVEMU_PART_CR2 | HVEMU_PART_CR3 | HVEMU_PART_CR8 | HVEMU_PART_DR |
                 HVEMU_PART_DTABLES)) {
        s->cr2 = s->cr3 = s->cr8 = 0;
        memset(s->dr, 0, sizeof(s->dr));
        memset(&s->gdtr, 0, sizeof(s->gdtr));
        memset(&s->idtr, 0, sizeof(s->idtr));
        memset(&s->ldtr, 0, sizeof(s->ldtr));
        memset(&s->tr, 0, sizeof(s->tr));
        s->valid |= parts & (HVEMU_PART_CR2 | HVEMU_PART_CR3 | HVEMU_PART_CR8 | HVEMU_PART_DR |
                             HVEMU_PART_DTABLES);
    }
    if (parts & (HVEMU_PART_XMM | HVEMU_PART_YMM_HI | HVEMU_PART_ZMM | HVEMU_PART_OPMASK |
                 HVEMU_PART_MXCSR))
        load_vectors(s, t->uc, parts);
    return (parts & ~s->valid) ? HVEMU_CB_UNHANDLEABLE : HVEMU_CB_OK;
}

/* ------------------------------------------------------------------------------------------
 * Memory callbacks: windows go to their device, everything else is this process's memory
 * ---------------------------------------------------------------------------------------- */

enum { PLAIN_READ, PLAIN_WRITE, PLAIN_CMPXCHG };

/* The one place that touches ordinary memory for the guest, under the recovery point. Kept
 * free of locals that live across sigsetjmp (everything is read from *t or the arguments,
 * which are not modified). */
static __attribute__((noinline)) int plain_access(struct hvr_thread *t, int op, void *mem,
                                                  void *buf, const void *desired, unsigned size)
{
    if (sigsetjmp(t->recover, 0))
        return -1;
    t->armed = 1;
    int r = HVEMU_CB_OK;
    if (op == PLAIN_READ)
        hvr_atomic_load(mem, buf, size);
    else if (op == PLAIN_WRITE)
        hvr_atomic_store(mem, buf, size);
    else
        r = hvr_atomic_cmpxchg(mem, buf, desired, size);
    t->armed = 0;
    return r;
}

static int plain(struct hvr_thread *t, int op, uint64_t addr, void *buf, const void *desired,
                 unsigned size, int fetch, struct hvemu_exception *exc)
{
    int r = plain_access(t, op, (void *)(uintptr_t)addr, buf, desired, size);
    if (r >= 0)
        return r;
    t->armed = 0;
    /* #PF: P when the page is mapped (an access-rights fault), W for writes, U always, I/D
     * for fetches */
    exc->vector = HVEMU_EXC_PF;
    exc->has_error_code = 1;
    exc->error_code = (t->fault_code == SEGV_ACCERR ? 1u : 0u) | (op != PLAIN_READ ? 2u : 0u) |
                      4u | (fetch ? 0x10u : 0u);
    exc->cr2 = t->fault_addr;
    return HVEMU_CB_FAULT;
}

static int window_fault(uint64_t addr, unsigned err, struct hvemu_exception *exc)
{
    exc->vector = HVEMU_EXC_PF;
    exc->has_error_code = 1;
    exc->error_code = err;
    exc->cr2 = addr;
    return HVEMU_CB_FAULT;
}

static int cb_read(void *opaque, uint64_t addr, void *data, unsigned size,
                   enum hvemu_access kind, struct hvemu_exception *exc)
{
    struct window *w = find_window(addr);
    if (w) {
        if (kind == HVEMU_ACCESS_FETCH) /* executing from a device window: no-execute fault */
            return window_fault(addr, 0x15, exc);
        if (!w->dev->read)
            return HVEMU_CB_UNHANDLEABLE;
        return w->dev->read(w->opaque, addr - w->base, data, size, kind, exc);
    }
    return plain(opaque, PLAIN_READ, addr, data, NULL, size, kind == HVEMU_ACCESS_FETCH, exc);
}

static int cb_fetch(void *opaque, uint64_t addr, void *data, unsigned size, unsigned *fetched,
                    struct hvemu_exception *exc)
{
    int r = cb_read(opaque, addr, data, size, HVEMU_ACCESS_FETCH, exc);
    *fetched = r == HVEMU_CB_OK ? size : 0;
    return r;
}

static int cb_write(void *opaque, uint64_t addr, const void *data, unsigned size,
                    enum hvemu_access kind, struct hvemu_exception *exc)
{
    struct window *w = find_window(addr);
    if (w) {
        if (!w->dev->write)
            return HVEMU_CB_UNHANDLEABLE;
        return w->dev->write(w->opaque, addr - w->base, data, size, kind, exc);
    }
    return plain(opaque, PLAIN_WRITE, addr, (void *)(uintptr_t)data, NULL, size, 0, exc);
}

static int cb_cmpxchg(void *opaque, uint64_t addr, void *expected, const void *desired,
                      unsigned size, struct hvemu_exception *exc)
{
    struct window *w = find_window(addr);
    if (w) {
        if (!w->dev->cmpxchg)
            return HVEMU_CB_UNHANDLEABLE;
        return w->dev->cmpxchg(w->opaque, addr - w->base, expected, desired, size, exc);
    }
    return plain(opaque, PLAIN_CMPXCHG, addr, expected, desired, size, 0, exc);
}

static int cb_probe_write(void *opaque, uint64_t addr, unsigned size, struct hvemu_exception *exc)
{
    struct window *w = find_window(addr);
    if (w)
        return w->dev->probe_write ? w->dev->probe_write(w->opaque, addr - w->base, size, exc)
                                   : HVEMU_CB_OK;
    /* ordinary memory: a compare-exchange of a byte with itself faults exactly where a
     * write would, and changes nothing */
    uint8_t cur = 0;
    struct hvr_thread *t = opaque;
    for (uint64_t a = addr; a < addr + size; a = (a | (PAGE - 1)) + 1) {
        int r = plain(t, PLAIN_READ, a, &cur, NULL, 1, 0, exc);
        if (r == HVEMU_CB_OK)
            r = plain(t, PLAIN_CMPXCHG, a, &cur, &cur, 1, 0, exc);
        if (r == HVEMU_CB_FAULT) {
            exc->error_code |= 2;
            return r;
        }
    }
    return HVEMU_CB_OK;
}

static int cb_cpuid(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)opaque;
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
    return HVEMU_CB_OK;
}

static int cb_rdtsc(void *opaque, uint64_t *tsc, uint32_t *aux)
{
    (void)opaque;
    uint32_t lo, hi, c;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    *tsc = ((uint64_t)hi << 32) | lo;
    *aux = c;
    return HVEMU_CB_OK;
}

static const struct hvemu_ops g_ops = {
    .read = cb_read,
    .write = cb_write,
    .cmpxchg = cb_cmpxchg,
    .probe_write = cb_probe_write,
    .fetch = cb_fetch,
    .cpuid = cb_cpuid,
    .rdtsc = cb_rdtsc,
    .load_state = cb_load_state,
};

/* ------------------------------------------------------------------------------------------
 * Signals
 * ---------------------------------------------------------------------------------------- */

static struct sigaction g_prev_segv;
static int g_inited;
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

int hvr_exception_signal(const struct hvemu_exception *exc, int *code)
{
    switch (exc->vector) {
    case HVEMU_EXC_DE: *code = FPE_INTDIV; return SIGFPE;
    case HVEMU_EXC_DB: *code = TRAP_TRACE; return SIGTRAP;
    case HVEMU_EXC_BP: *code = SI_KERNEL; return SIGTRAP;
    case HVEMU_EXC_UD: *code = ILL_ILLOPN; return SIGILL;
    case HVEMU_EXC_NM: *code = SI_KERNEL; return SIGSEGV;
    case HVEMU_EXC_MF: *code = FPE_FLTINV; return SIGFPE;
    case HVEMU_EXC_XM: *code = FPE_FLTINV; return SIGFPE;
    case HVEMU_EXC_AC: *code = BUS_ADRALN; return SIGBUS;
    case HVEMU_EXC_SS: *code = SI_KERNEL; return SIGBUS;
    case HVEMU_EXC_NP: *code = SI_KERNEL; return SIGBUS;
    case HVEMU_EXC_PF: *code = (exc->error_code & 1) ? SEGV_ACCERR : SEGV_MAPERR; return SIGSEGV;
    default: *code = SI_KERNEL; return SIGSEGV; /* #GP, #TS, #OF, #BR, #CP... as Linux does */
    }
}

/* Run the handler the guest has for `sig` on the guest's context, as the kernel would;
 * with no handler, the default action (these signals end the process). */
static void deliver(int sig, int code, uint64_t addr, ucontext_t *uc)
{
    struct sigaction act;
    if (sig == SIGSEGV)
        act = g_prev_segv;
    else
        sigaction(sig, NULL, &act);
    int has_fn = (act.sa_flags & SA_SIGINFO) ? act.sa_sigaction != NULL
                                             : (act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN);
    if (!has_fn) {
        /* synchronous faults cannot be ignored: the kernel forces the default action too */
        signal(sig, SIG_DFL);
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, sig);
        pthread_sigmask(SIG_UNBLOCK, &m, NULL);
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        si.si_signo = sig;
        si.si_code = code;
        si.si_addr = (void *)(uintptr_t)addr;
        syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, &si);
        raise(sig); /* in case the queued one was refused */
        _exit(128 + sig);
    }
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_signo = sig;
    si.si_code = code;
    si.si_addr = (void *)(uintptr_t)addr;
    sigset_t mask = act.sa_mask, old;
    if (!(act.sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (act.sa_flags & SA_RESETHAND) {
        if (sig == SIGSEGV)
            g_prev_segv.sa_handler = SIG_DFL, g_prev_segv.sa_flags = 0;
        else
            signal(sig, SIG_DFL);
    }
    if (act.sa_flags & SA_SIGINFO)
        act.sa_sigaction(sig, &si, uc);
    else
        act.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A fault that is not ours: the handler that was there before, or the default action. */
static void chain(int sig, siginfo_t *si, void *ucv)
{
    struct sigaction *p = &g_prev_segv;
    if (p->sa_flags & SA_SIGINFO) {
        if (p->sa_sigaction) {
            p->sa_sigaction(sig, si, ucv);
            return;
        }
    } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
        return;
    }
    /* default: returning re-executes the instruction, which faults again and ends the
     * process with the kernel's own SIGSEGV */
    signal(SIGSEGV, SIG_DFL);
}

static void hex(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 16; i++)
        out[2 + i] = digits[(v >> (60 - 4 * i)) & 15];
    out[18] = 0;
}

static void unhandleable(const struct hvemu_result *res, uint64_t rip)
{
    if (g_unhandleable_hook)
        g_unhandleable_hook(res, rip);
    char buf[400], h[20];
    hex(h, rip);
    snprintf(buf, sizeof(buf), "hvemu runner: cannot emulate the instruction at rip=%s: %s%s%s%s\n",
             h, res->reason ? res->reason : "unhandleable", res->detail[0] ? " (" : "",
             res->detail, res->detail[0] ? ")" : "");
    say(buf);
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void writeback(struct hvr_thread *t, ucontext_t *uc, const struct hvemu_result *res)
{
    struct hvemu_state *s = &t->st;
    greg_t *g = uc->uc_mcontext.gregs;
    uint64_t d = s->dirty;
    for (int i = 0; i < 16; i++)
        if (d & HVEMU_PART_GPR(i))
            g[greg_of[i]] = (greg_t)s->gpr[i];
    if (d & HVEMU_PART_RIP)
        g[REG_RIP] = (greg_t)s->rip;
    if (d & HVEMU_PART_RFLAGS)
        g[REG_EFL] = (greg_t)s->rflags;
    d &= ~(HVEMU_PART_GPRS_LEGACY | HVEMU_PART_RIP | HVEMU_PART_RFLAGS);
    uint64_t vec = d & (HVEMU_PART_XMM | HVEMU_PART_YMM_HI | HVEMU_PART_ZMM | HVEMU_PART_OPMASK |
                        HVEMU_PART_MXCSR);
    if (vec)
        d = (d & ~vec) | store_vectors(s, uc, vec);
    if (d) {
        /* segment registers, control registers...: nothing a user process can set this way */
        struct hvemu_result r = *res;
        r.status = HVEMU_UNHANDLEABLE;
        r.reason = "the instruction changed state the runner cannot write back (segments, CRs)";
        unhandleable(&r, t->rip);
    }
    s->dirty = 0;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static double g_tsc_per_ns;

double hvr_tsc_per_ns(void)
{
    return g_tsc_per_ns;
}

/* TSC against the monotonic clock over 20 ms. */
static void tsc_calibrate(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t t0 = rdtsc();
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 20000000L);
    uint64_t t1 = rdtsc();
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    g_tsc_per_ns = (double)(t1 - t0) / ns;
}

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
    struct hvr_thread *t = &tls;
    if (t->armed) {
        /* a fault while touching ordinary memory for the guest: back to plain_access() */
        t->armed = 0;
        t->fault_addr = (uint64_t)(uintptr_t)si->si_addr;
        t->fault_code = si->si_code;
        siglongjmp(t->recover, 1);
    }
    if (t->in_handler) {
        char m[120], h1[20], h2[20], h3[20];
        hex(h1, (uint64_t)(uintptr_t)si->si_addr);
        hex(h2, (uint64_t)((ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP]);
        hex(h3, t->rip);
        snprintf(m, sizeof(m), "hvemu runner: fault at %s (rip %s) inside the emulation of rip %s\n",
                 h1, h2, h3);
        say(m);
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    int saved_errno = errno;
    ucontext_t *uc = ucv;
    uint64_t addr = (uint64_t)(uintptr_t)si->si_addr;
    /* only faults the kernel raised for an access (not a kill(), not a #GP with no address) */
    if ((si->si_code != SEGV_ACCERR && si->si_code != SEGV_MAPERR) || !find_window(addr)) {
        chain(sig, si, ucv);
        errno = saved_errno;
        return;
    }
    t->in_handler = 1;
    if (!t->ready) {
        hvemu_init(&t->ctx, &g_ops, t, &t->st);
        t->ready = 1;
    }
    t->uc = uc;
    state_from_uc(&t->st, uc);
    t->rip = t->st.rip;
    struct hvemu_result res;
    uint64_t t0 = rdtsc();
    int rc = hvemu_emulate(&t->ctx, &res);
    struct hvr_stats *st = &t->stats;
    st->emulate_tsc += rdtsc() - t0;
    st->exits++;
    st->retries += res.retries;
    if (res.retries) {
        st->emulations_retried++;
        if (res.retries > st->retries_max)
            st->retries_max = res.retries;
    }
    switch (rc) {
    case HVEMU_OK:
        st->emulated++;
        writeback(t, uc, &res);
        break;
    case HVEMU_EXCEPTION: {
        st->exceptions++;
        int code, signo = hvr_exception_signal(&res.exc, &code);
        uint64_t a = res.exc.vector == HVEMU_EXC_PF ? res.exc.cr2 : 0;
        if (signo == SIGBUS && res.exc.vector == HVEMU_EXC_AC)
            a = addr;
        t->in_handler = 0; /* the guest's handler may never come back (siglongjmp) */
        deliver(signo, code, a, uc);
        break;
    }
    case HVEMU_RETRY:
        st->retry_status++;
        break; /* nothing done: the instruction runs (and faults) again */
    default:
        t->in_handler = 0;
        unhandleable(&res, t->rip);
    }
    t->in_handler = 0;
    errno = saved_errno;
}

int hvr_guest_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig != SIGSEGV)
        return sigaction(sig, act, old);
    if (hvr_init() != 0)
        return -1;
    pthread_mutex_lock(&g_init_lock);
    if (old)
        *old = g_prev_segv;
    if (act)
        g_prev_segv = *act;
    pthread_mutex_unlock(&g_init_lock);
    return 0;
}

int hvr_init(void)
{
    pthread_mutex_lock(&g_init_lock);
    if (g_inited) {
        pthread_mutex_unlock(&g_init_lock);
        return 0;
    }
    host_probe();
    tsc_calibrate();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int r = sigaction(SIGSEGV, &sa, &g_prev_segv);
    if (r == 0)
        g_inited = 1;
    pthread_mutex_unlock(&g_init_lock);
    return r;
}
