/* SPDX-License-Identifier: MIT */
/* A test memory for hvemu's callbacks: a flat buffer at BUFMEM_BASE, #PF outside it (and on
 * pages marked not-present), with counters and an optional hook that changes memory between
 * a locked read and its compare-exchange (to force the retry path). */
#ifndef HVEMU_BUFMEM_H
#define HVEMU_BUFMEM_H
#include "hvemu.h"
#include <string.h>

#define BUFMEM_BASE 0x100000ull
#define BUFMEM_SIZE (4 * 4096)

struct bufmem {
    uint8_t mem[BUFMEM_SIZE];
    uint8_t absent[BUFMEM_SIZE / 4096]; /* page not present: #PF */
    unsigned reads, writes, cmpxchgs, cmpxchg_fail, probes;
    int interfere;                       /* >0: change memory before this many cmpxchgs */
    uint64_t last_write_addr;
    unsigned last_write_size;
};

static int bufmem_pf(struct bufmem *m, uint64_t addr, unsigned size, int write, struct hvemu_exception *exc)
{
    if (addr < BUFMEM_BASE || addr + size > BUFMEM_BASE + BUFMEM_SIZE ||
        m->absent[(addr - BUFMEM_BASE) / 4096] || m->absent[(addr + size - 1 - BUFMEM_BASE) / 4096]) {
        exc->vector = HVEMU_EXC_PF;
        exc->has_error_code = 1;
        exc->error_code = write ? 2 : 0;
        exc->cr2 = addr;
        return 1;
    }
    return 0;
}

static int bufmem_read(void *o, uint64_t addr, void *data, unsigned size, enum hvemu_access kind,
                       struct hvemu_exception *exc)
{
    struct bufmem *m = o;
    (void)kind;
    if (bufmem_pf(m, addr, size, 0, exc))
        return HVEMU_CB_FAULT;
    memcpy(data, m->mem + (addr - BUFMEM_BASE), size);
    m->reads++;
    return HVEMU_CB_OK;
}

static int bufmem_write(void *o, uint64_t addr, const void *data, unsigned size,
                        enum hvemu_access kind, struct hvemu_exception *exc)
{
    struct bufmem *m = o;
    (void)kind;
    if (bufmem_pf(m, addr, size, 1, exc))
        return HVEMU_CB_FAULT;
    memcpy(m->mem + (addr - BUFMEM_BASE), data, size);
    m->writes++;
    m->last_write_addr = addr;
    m->last_write_size = size;
    return HVEMU_CB_OK;
}

static int bufmem_probe(void *o, uint64_t addr, unsigned size, struct hvemu_exception *exc)
{
    struct bufmem *m = o;
    m->probes++;
    return bufmem_pf(m, addr, size, 1, exc) ? HVEMU_CB_FAULT : HVEMU_CB_OK;
}

static int bufmem_cmpxchg(void *o, uint64_t addr, void *expected, const void *desired,
                          unsigned size, struct hvemu_exception *exc)
{
    struct bufmem *m = o;
    if (bufmem_pf(m, addr, size, 1, exc))
        return HVEMU_CB_FAULT;
    uint8_t *p = m->mem + (addr - BUFMEM_BASE);
    m->cmpxchgs++;
    if (m->interfere > 0) {
        m->interfere--;
        p[0] ^= 0x5a; /* another writer got there first */
    }
    if (memcmp(p, expected, size)) {
        memcpy(expected, p, size);
        m->cmpxchg_fail++;
        return HVEMU_CB_CHANGED;
    }
    memcpy(p, desired, size);
    return HVEMU_CB_OK;
}

static const struct hvemu_ops bufmem_ops = {
    .read = bufmem_read, .write = bufmem_write, .cmpxchg = bufmem_cmpxchg,
    .probe_write = bufmem_probe,
};

/* A 64-bit-mode vCPU state with everything valid. */
static void state_init64(struct hvemu_state *s)
{
    memset(s, 0, sizeof(*s));
    s->valid = HVEMU_PART_ALL;
    s->cr0 = 0x80000011;
    s->cr4 = 0x20 | (1u << 18);
    s->efer = 0x500;
    s->seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0x9b;
    s->rflags = 2;
}
#endif
