/* SPDX-License-Identifier: MIT */
/*
 * hostmem: a ready-made set of memory callbacks for guest memory that lives in host RAM, with
 * device ranges forwarded to the embedder's own callbacks (see include/hvemu.h).
 *
 * Every RAM access of a natural width is one host instruction of that width, so what the guest
 * would see on hardware (single-copy atomicity of aligned loads and stores, LOCK CMPXCHG for
 * locked instructions) holds for other vCPU threads and for guest code running natively on the
 * same memory. Freestanding: no allocation, no locks, no state of its own.
 */
#include "hvemu.h"

/* -ffreestanding turns builtins off: ask for them by name so fixed-size copies stay inline
 * (a variable-size copy may still call memcpy, the one libc function hvemu uses) */

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_ID 0x10u
#define LINE 64u

/* Memory operands of the inline assembly: byte arrays, so that a misaligned address forms no
 * misaligned C object (the CPU, not the compiler, does the access). */
typedef struct { uint8_t b[2]; } blob2;
typedef struct { uint8_t b[4]; } blob4;
typedef struct { uint8_t b[8]; } blob8;
typedef struct { uint8_t b[16]; } blob16;

static int aligned(const void *p, unsigned size)
{
    return ((uintptr_t)p & (size - 1)) == 0;
}

#if defined(__x86_64__)
static int crosses_line(const void *p, unsigned size)
{
    return ((uintptr_t)p & (LINE - 1)) + size > LINE;
}
#endif

/* Naturally aligned types for the atomic builtins (on i386 a plain uint64_t is 4-aligned). */
typedef uint16_t a16 __attribute__((aligned(2)));
typedef uint32_t a32 __attribute__((aligned(4)));
typedef uint64_t a64 __attribute__((aligned(8)));

/* ---- host loads and stores ---- */

static void host_load(const uint8_t *p, void *data, unsigned size)
{
    switch (size) {
    case 1: {
        uint8_t v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
        __builtin_memcpy(data, &v, 1);
        return;
    }
    case 2:
    case 4:
    case 8:
        if (aligned(p, size)) {
            if (size == 2) {
                uint16_t v = __atomic_load_n((const a16 *)(const void *)p, __ATOMIC_ACQUIRE);
                __builtin_memcpy(data, &v, 2);
            } else if (size == 4) {
                uint32_t v = __atomic_load_n((const a32 *)(const void *)p, __ATOMIC_ACQUIRE);
                __builtin_memcpy(data, &v, 4);
            } else {
                uint64_t v = __atomic_load_n((const a64 *)(const void *)p, __ATOMIC_ACQUIRE);
                __builtin_memcpy(data, &v, 8);
            }
            return;
        }
#if defined(__x86_64__)
        /* one MOV: atomic on x86 when the bytes are within one cache line, as for the guest */
        if (size == 2) {
            uint16_t v;
            __asm__ volatile("movw %1, %0" : "=r"(v) : "m"(*(const blob2 *)(const void *)p));
            __builtin_memcpy(data, &v, 2);
        } else if (size == 4) {
            uint32_t v;
            __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*(const blob4 *)(const void *)p));
            __builtin_memcpy(data, &v, 4);
        } else {
            uint64_t v;
            __asm__ volatile("movq %1, %0" : "=r"(v) : "m"(*(const blob8 *)(const void *)p));
            __builtin_memcpy(data, &v, 8);
        }
        return;
#endif
        break;
    case 16:
#if defined(__x86_64__) && defined(__SSE2__)
        if (aligned(p, 16)) {
            /* one 16-byte load: atomic on CPUs with AVX (a build without SSE, e.g. for a
             * kernel, copies instead) */
            typedef long long v2di __attribute__((vector_size(16)));
            v2di v;
            __asm__ volatile("movdqa %1, %0" : "=x"(v) : "m"(*(const blob16 *)(const void *)p));
            __builtin_memcpy(data, &v, 16);
            return;
        }
#endif
        break;
    default:
        break;
    }
    __builtin_memcpy(data, p, size);
}

static void host_store(uint8_t *p, const void *data, unsigned size)
{
    switch (size) {
    case 1: {
        uint8_t v;
        __builtin_memcpy(&v, data, 1);
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
        return;
    }
    case 2:
    case 4:
    case 8:
        if (aligned(p, size)) {
            if (size == 2) {
                uint16_t v;
                __builtin_memcpy(&v, data, 2);
                __atomic_store_n((a16 *)(void *)p, v, __ATOMIC_RELEASE);
            } else if (size == 4) {
                uint32_t v;
                __builtin_memcpy(&v, data, 4);
                __atomic_store_n((a32 *)(void *)p, v, __ATOMIC_RELEASE);
            } else {
                uint64_t v;
                __builtin_memcpy(&v, data, 8);
                __atomic_store_n((a64 *)(void *)p, v, __ATOMIC_RELEASE);
            }
            return;
        }
#if defined(__x86_64__)
        if (size == 2) {
            uint16_t v;
            __builtin_memcpy(&v, data, 2);
            __asm__ volatile("movw %1, %0" : "=m"(*(blob2 *)(void *)p) : "r"(v) : "memory");
        } else if (size == 4) {
            uint32_t v;
            __builtin_memcpy(&v, data, 4);
            __asm__ volatile("movl %1, %0" : "=m"(*(blob4 *)(void *)p) : "r"(v) : "memory");
        } else {
            uint64_t v;
            __builtin_memcpy(&v, data, 8);
            __asm__ volatile("movq %1, %0" : "=m"(*(blob8 *)(void *)p) : "r"(v) : "memory");
        }
        return;
#endif
        break;
    case 16:
#if defined(__x86_64__) && defined(__SSE2__)
        if (aligned(p, 16)) {
            typedef long long v2di __attribute__((vector_size(16)));
            v2di v;
            __builtin_memcpy(&v, data, 16);
            __asm__ volatile("movdqa %1, %0" : "=m"(*(blob16 *)(void *)p) : "x"(v) : "memory");
            return;
        }
#endif
        break;
    default:
        break;
    }
    __builtin_memcpy(p, data, size);
}

/* ---- compare-exchange ---- */

#define CAS_ALIGNED(T, n)                                                                      \
    do {                                                                                       \
        T e, d;                                                                                \
        __builtin_memcpy(&e, expected, n);                                                     \
        __builtin_memcpy(&d, desired, n);                                                      \
        if (__atomic_compare_exchange_n((T *)ptr, &e, d, 0, __ATOMIC_SEQ_CST,                  \
                                        __ATOMIC_SEQ_CST))                                     \
            return HVEMU_CB_OK;                                                                \
        __builtin_memcpy(expected, &e, n);                                                     \
        return HVEMU_CB_CHANGED;                                                               \
    } while (0)

#if defined(__x86_64__)
/* LOCK CMPXCHG on a misaligned address: the CPU makes it atomic (a split lock when it crosses a
 * cache line). The accumulator holds the expected value and receives the current one. */
#define CAS_ASM(T, B, suffix, n)                                                               \
    do {                                                                                       \
        T e, d;                                                                                \
        uint8_t ok;                                                                            \
        __builtin_memcpy(&e, expected, n);                                                     \
        __builtin_memcpy(&d, desired, n);                                                      \
        __asm__ volatile("lock cmpxchg" suffix " %3, %1\n\tsete %0"                            \
                         : "=q"(ok), "+m"(*(B *)ptr), "+a"(e)                                  \
                         : "r"(d)                                                              \
                         : "memory", "cc");                                                    \
        if (ok)                                                                                \
            return HVEMU_CB_OK;                                                                \
        __builtin_memcpy(expected, &e, n);                                                     \
        return HVEMU_CB_CHANGED;                                                               \
    } while (0)
#endif

int hvemu_host_cmpxchg(void *ptr, void *expected, const void *desired, unsigned size,
                       int no_split_lock)
{
    switch (size) {
    case 1:
        CAS_ALIGNED(uint8_t, 1);
    case 2:
    case 4:
    case 8:
        if (aligned(ptr, size)) {
            if (size == 2)
                CAS_ALIGNED(a16, 2);
            if (size == 4)
                CAS_ALIGNED(a32, 4);
            CAS_ALIGNED(a64, 8);
        }
#if defined(__x86_64__)
        if (no_split_lock && crosses_line(ptr, size))
            return HVEMU_CB_UNHANDLEABLE;
        if (size == 2)
            CAS_ASM(uint16_t, blob2, "w", 2);
        if (size == 4)
            CAS_ASM(uint32_t, blob4, "l", 4);
        CAS_ASM(uint64_t, blob8, "q", 8);
#else
        (void)no_split_lock;
        return HVEMU_CB_UNHANDLEABLE;
#endif
    case 16:
#if defined(__x86_64__)
        if (aligned(ptr, 16)) {
            uint64_t e[2], d[2];
            uint8_t ok;
            __builtin_memcpy(e, expected, 16);
            __builtin_memcpy(d, desired, 16);
            __asm__ volatile("lock cmpxchg16b %1\n\tsete %0"
                             : "=q"(ok), "+m"(*(blob16 *)ptr), "+a"(e[0]), "+d"(e[1])
                             : "b"(d[0]), "c"(d[1])
                             : "memory", "cc");
            if (ok)
                return HVEMU_CB_OK;
            __builtin_memcpy(expected, e, 16);
            return HVEMU_CB_CHANGED;
        }
#endif
        return HVEMU_CB_UNHANDLEABLE;
    default:
        return HVEMU_CB_UNHANDLEABLE;
    }
}

/* ---- regions ---- */

static const struct hvemu_hostmem_region *find(const struct hvemu_hostmem *m, uint64_t addr)
{
    for (unsigned i = 0; i < m->nregions; i++) {
        const struct hvemu_hostmem_region *r = &m->regions[i];
        if (addr - r->base < r->size)
            return r;
    }
    return 0;
}

/* Bytes of [addr, addr+size) that lie in region r (addr is inside it). */
static unsigned span(const struct hvemu_hostmem_region *r, uint64_t addr, unsigned size)
{
    uint64_t left = r->size - (addr - r->base);
    return left < size ? (unsigned)left : size;
}

static int page_fault(const struct hvemu_hostmem *m, uint64_t addr, uint32_t code,
                      struct hvemu_exception *exc)
{
    exc->vector = HVEMU_EXC_PF;
    exc->has_error_code = 1;
    exc->error_code = code | m->pf_error_code;
    exc->cr2 = addr;
    return HVEMU_CB_FAULT;
}

int hvemu_hostmem_read(void *opaque, uint64_t addr, void *data, unsigned size,
                       enum hvemu_access kind, struct hvemu_exception *exc)
{
    const struct hvemu_hostmem *m = opaque;
    uint8_t *d = data;
    /* the read half of a read-modify-write is a read with intent to write: like the CPU, it
     * faults as a write (W=1), and on a read-only page already at the read */
    uint32_t code = kind == HVEMU_ACCESS_FETCH ? PF_ID : kind == HVEMU_ACCESS_RMW_READ ? PF_W : 0;
    while (size) {
        const struct hvemu_hostmem_region *r = find(m, addr);
        if (!r)
            return page_fault(m, addr, code, exc);
        if (kind == HVEMU_ACCESS_FETCH && (r->flags & HVEMU_HOSTMEM_NOEXEC))
            return page_fault(m, addr, PF_P | PF_ID, exc);
        if (kind == HVEMU_ACCESS_RMW_READ && (r->flags & HVEMU_HOSTMEM_RDONLY))
            return page_fault(m, addr, PF_P | PF_W, exc);
        unsigned n = span(r, addr, size);
        if (r->host) {
            host_load((const uint8_t *)r->host + (addr - r->base), d, n);
        } else {
            if (!r->dev || !r->dev->read)
                return HVEMU_CB_UNHANDLEABLE;
            int cb = r->dev->read(r->dev_opaque, addr, d, n, kind, exc);
            if (cb != HVEMU_CB_OK)
                return cb;
        }
        addr += n;
        d += n;
        size -= n;
    }
    return HVEMU_CB_OK;
}

int hvemu_hostmem_probe_write(void *opaque, uint64_t addr, unsigned size,
                              struct hvemu_exception *exc)
{
    const struct hvemu_hostmem *m = opaque;
    while (size) {
        const struct hvemu_hostmem_region *r = find(m, addr);
        if (!r)
            return page_fault(m, addr, PF_W, exc);
        if (r->flags & HVEMU_HOSTMEM_RDONLY)
            return page_fault(m, addr, PF_P | PF_W, exc);
        unsigned n = span(r, addr, size);
        if (!r->host) {
            if (!r->dev || !r->dev->write)
                return HVEMU_CB_UNHANDLEABLE;
            if (r->dev->probe_write) {
                int cb = r->dev->probe_write(r->dev_opaque, addr, n, exc);
                if (cb != HVEMU_CB_OK)
                    return cb;
            }
        }
        addr += n;
        size -= n;
    }
    return HVEMU_CB_OK;
}

int hvemu_hostmem_write(void *opaque, uint64_t addr, const void *data, unsigned size,
                        enum hvemu_access kind, struct hvemu_exception *exc)
{
    const struct hvemu_hostmem *m = opaque;
    const uint8_t *d = data;
    const struct hvemu_hostmem_region *r = find(m, addr);
    /* a write that leaves its region is checked whole first, so a fault writes nothing */
    if (!r || span(r, addr, size) < size) {
        int cb = hvemu_hostmem_probe_write(opaque, addr, size, exc);
        if (cb != HVEMU_CB_OK)
            return cb;
    }
    while (size) {
        if (!r)
            r = find(m, addr);
        if (!r)
            return page_fault(m, addr, PF_W, exc);
        if (r->flags & HVEMU_HOSTMEM_RDONLY)
            return page_fault(m, addr, PF_P | PF_W, exc);
        unsigned n = span(r, addr, size);
        if (r->host) {
            host_store((uint8_t *)r->host + (addr - r->base), d, n);
        } else {
            if (!r->dev || !r->dev->write)
                return HVEMU_CB_UNHANDLEABLE;
            int cb = r->dev->write(r->dev_opaque, addr, d, n, kind, exc);
            if (cb != HVEMU_CB_OK)
                return cb;
        }
        addr += n;
        d += n;
        size -= n;
        r = 0;
    }
    return HVEMU_CB_OK;
}

int hvemu_hostmem_cmpxchg(void *opaque, uint64_t addr, void *expected, const void *desired,
                          unsigned size, struct hvemu_exception *exc)
{
    const struct hvemu_hostmem *m = opaque;
    const struct hvemu_hostmem_region *r = find(m, addr);
    if (!r)
        return page_fault(m, addr, PF_W, exc);
    if (r->flags & HVEMU_HOSTMEM_RDONLY)
        return page_fault(m, addr, PF_P | PF_W, exc);
    if (span(r, addr, size) < size) {
        /* the far part may be unmapped: that fault comes first, as on hardware */
        const struct hvemu_hostmem_region *r2 = find(m, r->base + r->size);
        if (!r2)
            return page_fault(m, r->base + r->size, PF_W, exc);
        return HVEMU_CB_UNHANDLEABLE; /* one compare-exchange cannot span two regions */
    }
    if (!r->host) {
        if (!r->dev || !r->dev->cmpxchg)
            return HVEMU_CB_UNHANDLEABLE;
        return r->dev->cmpxchg(r->dev_opaque, addr, expected, desired, size, exc);
    }
    return hvemu_host_cmpxchg((uint8_t *)r->host + (addr - r->base), expected, desired, size,
                              (m->flags & HVEMU_HOSTMEM_NO_SPLIT_LOCK) != 0);
}

int hvemu_hostmem_fetch(void *opaque, uint64_t addr, void *data, unsigned size,
                        unsigned *fetched, struct hvemu_exception *exc)
{
    const struct hvemu_hostmem *m = opaque;
    const struct hvemu_hostmem_region *r = find(m, addr);
    *fetched = 0;
    if (!r)
        return page_fault(m, addr, PF_ID, exc);
    if (r->flags & HVEMU_HOSTMEM_NOEXEC)
        return page_fault(m, addr, PF_P | PF_ID, exc);
    /* as far as this region goes: the decoder asks again if the instruction goes on */
    unsigned n = span(r, addr, size);
    if (r->host) {
        __builtin_memcpy(data, (const uint8_t *)r->host + (addr - r->base), n);
    } else if (r->dev && r->dev->fetch) {
        return r->dev->fetch(r->dev_opaque, addr, data, n, fetched, exc);
    } else if (r->dev && r->dev->read) {
        int cb = r->dev->read(r->dev_opaque, addr, data, n, HVEMU_ACCESS_FETCH, exc);
        if (cb != HVEMU_CB_OK)
            return cb;
    } else {
        return HVEMU_CB_UNHANDLEABLE;
    }
    *fetched = n;
    return HVEMU_CB_OK;
}

void hvemu_hostmem_ops(struct hvemu_ops *ops)
{
    ops->read = hvemu_hostmem_read;
    ops->write = hvemu_hostmem_write;
    ops->cmpxchg = hvemu_hostmem_cmpxchg;
    ops->probe_write = hvemu_hostmem_probe_write;
    ops->fetch = hvemu_hostmem_fetch;
}
