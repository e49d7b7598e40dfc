/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for hvemu_emulate_bytes(): any bytes on any state must give a precise answer
 * (OK, an exception, retry, or unhandleable with a reason), never a crash or undefined
 * behaviour (run under ASan+UBSan), and an answer other than OK must leave the registers, flags,
 * RIP and memory as they were (a REP string may have retired iterations before a fault: then
 * only RIP is checked).
 *
 * Input: bytes 0..14 the instruction; the rest seeds the state: GPR values (with edge values),
 * RFLAGS, which state parts are loaded, whether APX is enabled, and the memory behaviour (a
 * page that faults, a compare-exchange that finds memory changed, a callback that asks to retry).
 * Half the inputs run outside 64-bit mode: real mode, 16/32-bit protected mode, compatibility
 * mode or virtual-8086 mode, with segments of random base, limit and type (read-only,
 * expand-down, execute-only, null), so segmentation's faults are reached too.
 */
#include "hvemu.h"

#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define MEM_BASE 0x10000ull
#define MEM_SIZE 0x2000u

struct fmem {
    uint8_t mem[MEM_SIZE];
    uint8_t fault_page;   /* 1 or 2: that page faults; 0: none */
    uint8_t interfere;    /* compare-exchanges that find memory changed */
    uint8_t retry_reads;  /* reads answered RETRY */
    uint8_t fail_load;    /* load_state refuses */
    int wrote;            /* a write callback ran (memory may have changed) */
};

static int outside(struct fmem *m, uint64_t a, unsigned n)
{
    if (a < MEM_BASE || a + n > MEM_BASE + MEM_SIZE || a + n < a)
        return 1;
    unsigned p0 = (unsigned)((a - MEM_BASE) >> 12) + 1, p1 = (unsigned)((a + n - 1 - MEM_BASE) >> 12) + 1;
    return m->fault_page && (p0 == m->fault_page || p1 == m->fault_page);
}

static int pf(uint64_t a, int w, struct hvemu_exception *e)
{
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = w ? 6 : 4;
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

static int f_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    struct fmem *m = o;
    (void)k;
    if (n == 0 || n > 64)
        abort(); /* hvemu must never ask for an empty or oversized access */
    if (m->retry_reads) {
        m->retry_reads--;
        return HVEMU_CB_RETRY;
    }
    if (outside(m, a, n))
        return pf(a, 0, e);
    memcpy(d, m->mem + (a - MEM_BASE), n);
    return HVEMU_CB_OK;
}

static int f_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    struct fmem *m = o;
    (void)k;
    if (n == 0 || n > 64 || ((a & 4095) + n > 4096))
        abort(); /* hvemu splits every access at page boundaries */
    if (outside(m, a, n))
        return pf(a, 1, e);
    memcpy(m->mem + (a - MEM_BASE), d, n);
    m->wrote = 1;
    return HVEMU_CB_OK;
}

static int f_probe(void *o, uint64_t a, unsigned n, struct hvemu_exception *e)
{
    return outside(o, a, n) ? pf(a, 1, e) : HVEMU_CB_OK;
}

static int f_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    struct fmem *m = o;
    if (n != 1 && n != 2 && n != 4 && n != 8 && n != 16)
        abort();
    if (outside(m, a, n))
        return pf(a, 1, e);
    uint8_t *p = m->mem + (a - MEM_BASE);
    if (m->interfere) {
        m->interfere--;
        p[0] ^= 0xa5; /* another writer */
        m->wrote = 1;
    }
    if (memcmp(p, exp, n)) {
        memcpy(exp, p, n);
        return HVEMU_CB_CHANGED;
    }
    memcpy(p, des, n);
    m->wrote = 1;
    return HVEMU_CB_OK;
}

static int f_load(void *o, struct hvemu_state *s, uint64_t parts)
{
    struct fmem *m = o;
    if (m->fail_load)
        return HVEMU_CB_UNHANDLEABLE;
    s->valid |= parts;
    return HVEMU_CB_OK;
}

static int f_pio_in(void *o, uint16_t port, void *d, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)e;
    memset(d, port & 0xff, n);
    return HVEMU_CB_OK;
}

static int f_pio_out(void *o, uint16_t port, const void *d, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)port; (void)d; (void)n; (void)e;
    return HVEMU_CB_OK;
}

static int f_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o;
    out[0] = leaf; out[1] = sub; out[2] = 0; out[3] = 0;
    return HVEMU_CB_OK;
}

static int f_rdtsc(void *o, uint64_t *tsc, uint32_t *aux)
{
    (void)o;
    *tsc = 1;
    *aux = 2;
    return HVEMU_CB_OK;
}

static const struct hvemu_ops fops = {
    .read = f_read, .write = f_write, .probe_write = f_probe, .cmpxchg = f_cmpxchg,
    .load_state = f_load, .pio_in = f_pio_in, .pio_out = f_pio_out, .cpuid = f_cpuid,
    .rdtsc = f_rdtsc,
};

static uint64_t take(const uint8_t **p, size_t *n, unsigned k)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < k && *n; i++, (*p)++, (*n)--)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hvemu_state st, before;
    static struct fmem m, mem_before;
    struct hvemu_ctx ctx;
    struct hvemu_result res;
    uint8_t insn[15] = {0};
    size_t ilen = size < 15 ? size : 15;
    memcpy(insn, data, ilen);
    const uint8_t *p = data + ilen;
    size_t n = size - ilen;

    memset(&st, 0, sizeof st);
    st.valid = HVEMU_PART_ALL;
    st.cr0 = 0x80050033;
    st.cr4 = 0x40000 | 0x20;
    st.efer = 0xd01;
    st.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0xfb;
    st.seg[HVEMU_CS].selector = (uint16_t)(take(&p, &n, 1) & 1 ? 0x33 : 0x10);
    uint64_t ctl = take(&p, &n, 4);
    st.rflags = (take(&p, &n, 4) & 0x40dd5) | 2; /* arithmetic flags, TF, DF, AC */
    /* system state the system instructions check: DE, UMIP, FSGSBASE, TSD; DR7.GD */
    uint64_t sys = take(&p, &n, 2);
    st.cr4 |= sys & (0x8 | 0x800 | 0x4);
    st.cr4 |= (sys & 0x10) << 12;
    st.dr[7] = 0x400 | (sys & 0x2000);
    st.xcr0 = (ctl & 1) ? 0x80007 : 7;
    for (unsigned i = 0; i < 32; i++) {
        /* registers point into the memory, are small, or are anything */
        uint64_t sel = take(&p, &n, 1), v = take(&p, &n, 2);
        st.gpr[i] = sel % 3 == 0 ? MEM_BASE + (v % MEM_SIZE) : sel % 3 == 1 ? v % 64 : (v * 0x9E3779B97F4A7C15ull);
    }
    st.seg[HVEMU_FS].base = MEM_BASE;
    st.rip = 0x400000;
    /* the mode: bit 16 of ctl leaves 64-bit mode, bits 17-19 say for which */
    enum hvemu_mode dmode = HVEMU_MODE_64;
    if (ctl & (1u << 16)) {
        static const uint32_t attrs[] = {0x93, 0x93, 0x91, 0x97, 0x9b, 0x99, 0x93 | 0x4000,
                                         0x97 | 0x4000, HVEMU_SEG_ATTR_UNUSABLE};
        static const uint32_t limits[] = {0xffff, 0xffffffffu, 0xfff, 0x1fff, 0xffffff};
        unsigned kind = (unsigned)(ctl >> 17) & 7, d = (unsigned)(ctl >> 20) & 1;
        uint64_t segbits = take(&p, &n, 4);
        if (kind <= 1) {            /* real mode */
            st.cr0 = 0x10;
            st.efer = 0;
        } else if (kind <= 4) {     /* protected mode (kind 4: virtual-8086) */
            st.cr0 = 0x11;
            st.efer = 0;
            if (kind == 4)
                st.rflags |= HVEMU_FLAG_VM;
        } else {                    /* compatibility mode */
            st.cr0 = 0x80000011;
            st.efer = 0x500;
        }
        for (unsigned i = 0; i < HVEMU_NUM_SEGS; i++, segbits >>= 5) {
            st.seg[i].selector = (uint16_t)(0x10 | (segbits & 3));
            st.seg[i].base = (segbits & 4) ? MEM_BASE : 0;
            st.seg[i].limit = limits[(segbits >> 3) % 5];
            st.seg[i].attr = attrs[(segbits >> 1) % 9];
        }
        /* CS: code, 16- or 32-bit; EIP 0x100 at linear 0x400000 */
        st.seg[HVEMU_CS].base = 0x400000 - 0x100;
        st.seg[HVEMU_CS].attr = 0x9b | (d ? HVEMU_SEG_ATTR_DB : 0);
        st.rip = 0x100;
        dmode = d ? HVEMU_MODE_32 : HVEMU_MODE_16;
    }
    if (ctl & 2)
        st.valid &= ~(uint64_t)take(&p, &n, 4); /* some parts not loaded: the lazy path */
    memset(&m, 0, sizeof m);
    for (unsigned i = 0; i < MEM_SIZE && n; i++)
        m.mem[i] = (uint8_t)take(&p, &n, 1);
    m.fault_page = (uint8_t)((ctl >> 2) % 3);
    m.interfere = (uint8_t)((ctl >> 4) & 3);
    m.retry_reads = (ctl & 0x40) ? 1 : 0;
    m.fail_load = (ctl & 0x80) ? 1 : 0;

    before = st;
    mem_before = m;
    hvemu_init(&ctx, &fops, &m, &st);
    ctx.rep_chunk = 1 + (unsigned)((ctl >> 8) & 63);
    ctx.max_cmpxchg_retries = (unsigned)((ctl >> 14) & 3);
    int rc = hvemu_emulate_bytes(&ctx, insn, ilen, &res);

    if (rc != res.status)
        abort();
    switch (rc) {
    case HVEMU_OK:
        return 0;
    case HVEMU_TRAP:
        /* completed with a trap: a single-step #DB only when TF was set as it began */
        if (res.trap_type > HVEMU_TRAP_PRIV_SOFT_EXC ||
            (res.trap_type == HVEMU_TRAP_DEBUG && !(before.rflags & HVEMU_FLAG_TF)))
            abort();
        return 0;
    case HVEMU_EXCEPTION:
        if (res.exc.vector >= 32)
            abort();
        break;
    case HVEMU_RETRY:
    case HVEMU_UNHANDLEABLE:
        if (!res.reason)
            abort(); /* an answer without a reason is not precise */
        break;
    default:
        abort();
    }
    /* not OK: nothing changed; a REP string may have retired iterations first (then RIP must
     * still be on the instruction) */
    if (st.rip != before.rip)
        abort();
    struct hvemu_insn in;
    int string = hvemu_decode(insn, ilen, dmode, NULL, &in) == HVEMU_DECODE_OK &&
                 in.map == 0 && ((in.opcode >= 0xa4 && in.opcode <= 0xaf) || (in.opcode >= 0x6c && in.opcode <= 0x6f));
    if (!string) {
        if (memcmp(st.gpr, before.gpr, sizeof st.gpr) || st.rflags != before.rflags)
            abort();
        /* nor any system state: segments, control and debug registers, XCR0, tables */
        if (memcmp(&st.seg, &before.seg, offsetof(struct hvemu_state, mxcsr) -
                                         offsetof(struct hvemu_state, seg)))
            abort();
        /* memory: unchanged unless the injected "other writer" changed it */
        if (!mem_before.interfere && memcmp(m.mem, mem_before.mem, MEM_SIZE))
            abort();
    }
    return 0;
}
