/* SPDX-License-Identifier: MIT */
/* hvemu's side of a host-differential test: memory callbacks over a copy of the native window
 * (tests/hostdiff/native.h), with #PF outside it. Shared by hostdiff.c and tests/apx/apx_exec.c. */
#ifndef HVEMU_HOSTDIFF_WINDOW_MEM_H
#define HVEMU_HOSTDIFF_WINDOW_MEM_H
#include "hvemu.h"
#include "native.h"
#include <string.h>

static uint8_t hmem[NATIVE_MEM_SIZE];

static int in_window(uint64_t a, unsigned n)
{
    return a >= NATIVE_MEM_ADDR && a + n <= NATIVE_MEM_ADDR + NATIVE_MEM_SIZE && a + n >= a;
}

static int pf(uint64_t a, int write, struct hvemu_exception *e)
{
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = 4u | (write ? 2u : 0u);
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

static int h_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k;
    if (!in_window(a, n))
        return pf(a, 0, e);
    memcpy(d, hmem + (a - NATIVE_MEM_ADDR), n);
    return HVEMU_CB_OK;
}

static int h_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k;
    if (!in_window(a, n))
        return pf(a, 1, e);
    memcpy(hmem + (a - NATIVE_MEM_ADDR), d, n);
    return HVEMU_CB_OK;
}

static int h_probe(void *o, uint64_t a, unsigned n, struct hvemu_exception *e)
{
    (void)o;
    return in_window(a, n) ? HVEMU_CB_OK : pf(a, 1, e);
}

static int h_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    (void)o;
    if (!in_window(a, n))
        return pf(a, 1, e);
    uint8_t *p = hmem + (a - NATIVE_MEM_ADDR);
    if (memcmp(p, exp, n)) {
        memcpy(exp, p, n);
        return HVEMU_CB_CHANGED;
    }
    memcpy(p, des, n);
    return HVEMU_CB_OK;
}

/* The host's CPUID: for the rules that differ by vendor (SYSRET, SYSENTER, null FS/GS). */
static int h_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o;
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(sub));
    return HVEMU_CB_OK;
}

static const struct hvemu_ops hops = {
    .cpuid = h_cpuid,
    .read = h_read, .write = h_write, .cmpxchg = h_cmpxchg, .probe_write = h_probe,
};

#endif
