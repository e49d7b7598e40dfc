/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the atomicity tests: guest memory through the hostmem backend, one vCPU
 * (context + state) per thread, the emulation helper that counts compare-exchange retries, and
 * the deliberately broken (non-atomic) compare-exchange of the negative control.
 */
#ifndef HVEMU_ATOMIC_COMMON_H
#define HVEMU_ATOMIC_COMMON_H

#include "hvemu.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUEST_BASE 0x10000000ull /* guest-linear address of the shared RAM */
#define GUEST_SIZE 0x10000u
#define CODE_RIP 0x401000ull     /* instruction bytes are given, never fetched */

/* ---- the shared guest RAM and its backends ---- */

static uint8_t *g_ram;
static struct hvemu_hostmem_region g_region;
static struct hvemu_hostmem g_mem;
static struct hvemu_ops g_ops_atomic;  /* hostmem as is */
static struct hvemu_ops g_ops_broken;  /* hostmem with a non-atomic compare-exchange */

/* The negative control's compare-exchange: read, compare, give the other threads a chance to
 * run, write. Each load and store is itself atomic (so ThreadSanitizer sees no data race and
 * the test measures lost updates, not torn C accesses), but the whole is not: a writer that
 * comes in between is overwritten. A 16-byte store is done in two halves with a yield between,
 * so a torn 128-bit value is possible too. */
static int broken_cmpxchg(void *o, uint64_t addr, void *expected, const void *desired,
                          unsigned size, struct hvemu_exception *exc)
{
    uint8_t cur[16];
    int cb = hvemu_hostmem_read(o, addr, cur, size, HVEMU_ACCESS_READ, exc);
    if (cb != HVEMU_CB_OK)
        return cb;
    if (memcmp(cur, expected, size)) {
        memcpy(expected, cur, size);
        return HVEMU_CB_CHANGED;
    }
    sched_yield();
    if (size == 16) {
        cb = hvemu_hostmem_write(o, addr, desired, 8, HVEMU_ACCESS_WRITE, exc);
        sched_yield();
        if (cb == HVEMU_CB_OK)
            cb = hvemu_hostmem_write(o, addr + 8, (const uint8_t *)desired + 8, 8,
                                     HVEMU_ACCESS_WRITE, exc);
        return cb;
    }
    return hvemu_hostmem_write(o, addr, desired, size, HVEMU_ACCESS_WRITE, exc);
}

/* The positive twin of the negative control: the same yield between the read and the
 * commit, but hostmem's atomic compare-exchange after it. Even on a single or busy CPU the
 * other vCPUs get in between, so the retry path runs under real concurrency, and every
 * invariant must still hold. */
static int yield_cmpxchg(void *o, uint64_t addr, void *expected, const void *desired,
                         unsigned size, struct hvemu_exception *exc)
{
    sched_yield();
    return hvemu_hostmem_cmpxchg(o, addr, expected, desired, size, exc);
}
static struct hvemu_ops g_ops_yield;

static void mem_setup(void)
{
    g_ram = aligned_alloc(4096, GUEST_SIZE);
    if (!g_ram) {
        perror("aligned_alloc");
        exit(2);
    }
    memset(g_ram, 0, GUEST_SIZE);
    g_region.base = GUEST_BASE;
    g_region.size = GUEST_SIZE;
    g_region.host = g_ram;
    g_mem.regions = &g_region;
    g_mem.nregions = 1;
    memset(&g_ops_atomic, 0, sizeof(g_ops_atomic));
    hvemu_hostmem_ops(&g_ops_atomic);
    g_ops_yield = g_ops_atomic;
    g_ops_yield.cmpxchg = yield_cmpxchg;
    g_ops_broken = g_ops_atomic;
    g_ops_broken.cmpxchg = broken_cmpxchg;
}

/* Host pointer of a guest address, for setup and the final checks (done with atomics). */
static void *ram(uint64_t ga)
{
    return g_ram + (ga - GUEST_BASE);
}
static uint64_t ld64(uint64_t ga) { return __atomic_load_n((uint64_t *)ram(ga), __ATOMIC_ACQUIRE); }
static uint32_t ld32(uint64_t ga) { return __atomic_load_n((uint32_t *)ram(ga), __ATOMIC_ACQUIRE); }
static uint16_t ld16(uint64_t ga) { return __atomic_load_n((uint16_t *)ram(ga), __ATOMIC_ACQUIRE); }
static uint8_t ld8(uint64_t ga) { return __atomic_load_n((uint8_t *)ram(ga), __ATOMIC_ACQUIRE); }
static void st64(uint64_t ga, uint64_t v) { __atomic_store_n((uint64_t *)ram(ga), v, __ATOMIC_RELEASE); }

/* ---- one vCPU per thread ---- */

struct vcpu {
    int id;
    struct hvemu_ctx ctx;
    struct hvemu_state st;
    /* retry statistics */
    uint64_t emulations, retries, retry_min, retry_max, bound_hits, with_retry;
    uint64_t violations;     /* invariant breaks this thread saw itself */
};

static void vcpu_init(struct vcpu *v, int id, const struct hvemu_ops *ops)
{
    memset(v, 0, sizeof(*v));
    v->id = id;
    v->retry_min = ~0ull;
    struct hvemu_state *s = &v->st;
    s->valid = HVEMU_PART_ALL;
    s->cr0 = 0x80000011;
    s->cr4 = 0x20 | (1u << 18);
    s->efer = 0x500;
    s->seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0x9b;
    s->rflags = 2;
    hvemu_init(&v->ctx, ops, &g_mem, s);
}

/* Emulate one instruction at CODE_RIP. HVEMU_RETRY (the retry bound) is what a VMM answers by
 * re-entering the guest, which runs the instruction again: do that here. Anything else but
 * HVEMU_OK is a test failure. */
static int emu(struct vcpu *v, const uint8_t *bytes, size_t len)
{
    struct hvemu_result r;
    for (;;) {
        v->st.rip = CODE_RIP;
        int rc = hvemu_emulate_bytes(&v->ctx, bytes, len, &r);
        v->emulations++;
        v->retries += r.retries;
        if (r.retries < v->retry_min)
            v->retry_min = r.retries;
        if (r.retries) {
            v->with_retry++;
            if (r.retries > v->retry_max)
                v->retry_max = r.retries;
        }
        if (rc == HVEMU_OK)
            return 0;
        if (rc == HVEMU_RETRY) {
            v->bound_hits++;
            continue;
        }
        /* the other threads may wait at a barrier for this one: stop the whole test */
        fprintf(stderr, "FATAL vcpu %d: status %d vector %u: %s %s\n", v->id, rc, r.exc.vector,
                r.reason ? r.reason : "", r.detail);
        printf("summary: fatal emulation error\n");
        exit(1);
    }
}
#define EMU(v, ...)                                                                              \
    do {                                                                                         \
        static const uint8_t b_[] = {__VA_ARGS__};                                               \
        emu((v), b_, sizeof(b_));                                                                \
    } while (0)

#endif
