/* SPDX-License-Identifier: MIT */
/*
 * Contention tests of every lockable instruction with a memory destination (ADD ADC AND BTC
 * BTR BTS CMPXCHG CMPXCHG8B CMPXCHG16B DEC INC NEG NOT OR SBB SUB XOR XADD) and of XCHG, which
 * is always locked: N threads, each a vCPU of its own (context + state), emulate M locked
 * instructions each with hvemu_emulate_bytes() on one shared guest RAM through the hostmem
 * backend, and an invariant that a lost update breaks is checked.
 *
 *   contention                 every invariant must hold (hostmem's atomic compare-exchange)
 *   contention --negative      the negative control: the same tests with a compare-exchange
 *                              that reads, compares, yields and writes; every test must detect
 *                              lost updates (proof that the invariants can fail)
 *   contention --yield         the same window as the negative control (a yield between the
 *                              read and the commit) with the atomic compare-exchange: retries
 *                              happen even on one busy CPU, and every invariant must hold
 *   options: --threads N (>= 3, default 3)  --iters M (default 20000)  --only NAME  --list
 *
 * The retry counts hvemu reported (hvemu_result.retries) are printed per test.
 */
#include "atomic_common.h"

#include <stdint.h>
#include <stdarg.h>
#include <time.h>

#define MAXT 16
#define W    (GUEST_BASE + 0x100) /* the shared word (8-byte aligned) */
#define W16  (GUEST_BASE + 0x200) /* 16-byte aligned pair */
#define BMAP (GUEST_BASE + 0x1000)
#define BMAP_BITS 4096u

#define CF HVEMU_FLAG_CF
#define ZF HVEMU_FLAG_ZF
#define SF HVEMU_FLAG_SF

static int N = 3;
static long M = 20000;
static int negative, yield;
static const struct hvemu_ops *g_ops;
static struct vcpu V[MAXT];
static pthread_barrier_t bar;

/* what one test found; filled by its check and by the threads */
static char g_msg[256];
static uint64_t g_bad; /* invariant breaks counted by the check (besides v->violations) */

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    if (g_msg[0])
        return; /* the first break is the one worth reading */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof(g_msg), fmt, ap);
    va_end(ap);
}

static uint64_t sum_ids_plus(uint64_t k)
{
    uint64_t s = 0;
    for (int t = 0; t < N; t++)
        s += (uint64_t)t + k;
    return s;
}

/* ---- counters: ADD ADC SBB SUB INC DEC ---- */

static void add_setup(void) { st64(W, 0); }
static void add_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    v->st.gpr[HVEMU_RSI] = (uint64_t)v->id + 1;
    for (long i = 0; i < M; i++)
        EMU(v, 0xf0, 0x48, 0x01, 0x37); /* lock add qword [rdi], rsi */
}
static void add_check(void)
{
    uint64_t want = (uint64_t)M * sum_ids_plus(1), got = ld64(W);
    if (got != want)
        g_bad++, note("qword %llu, want %llu", (unsigned long long)got, (unsigned long long)want);
}

static void adc_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    v->st.gpr[HVEMU_RSI] = (uint64_t)v->id + 1;
    for (long i = 0; i < M; i++) {
        v->st.rflags |= CF;             /* as a preceding STC would: adds esi + 1 */
        EMU(v, 0xf0, 0x11, 0x37);       /* lock adc dword [rdi], esi */
    }
}
static void adc_check(void)
{
    uint32_t want = (uint32_t)((uint64_t)M * sum_ids_plus(2)), got = ld32(W);
    if (got != want)
        g_bad++, note("dword %u, want %u", got, want);
}

static void sbb_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    v->st.gpr[HVEMU_RSI] = (uint64_t)v->id + 1;
    for (long i = 0; i < M; i++) {
        v->st.rflags |= CF;             /* subtracts si + 1 */
        EMU(v, 0x66, 0xf0, 0x19, 0x37); /* lock sbb word [rdi], si */
    }
}
static void sbb_check(void)
{
    uint16_t want = (uint16_t)(0 - (uint64_t)M * sum_ids_plus(2)), got = ld16(W);
    if (got != want)
        g_bad++, note("word %u, want %u", got, want);
}

static void sub_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    for (long i = 0; i < M; i++)
        EMU(v, 0xf0, 0x80, 0x2f, 0x03); /* lock sub byte [rdi], 3 */
}
static void sub_check(void)
{
    uint8_t want = (uint8_t)(0 - 3 * (uint64_t)M * (uint64_t)N), got = ld8(W);
    if (got != want)
        g_bad++, note("byte %u, want %u (mod 256)", got, want);
}

static void inc_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    for (long i = 0; i < M; i++)
        EMU(v, 0xf0, 0xff, 0x07); /* lock inc dword [rdi] */
}
static void inc_check(void)
{
    uint32_t want = (uint32_t)((uint64_t)M * (uint64_t)N), got = ld32(W);
    if (got != want)
        g_bad++, note("dword %u, want %u", got, want);
}

static void dec_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    for (long i = 0; i < M; i++)
        EMU(v, 0xf0, 0x48, 0xff, 0x0f); /* lock dec qword [rdi] */
}
static void dec_check(void)
{
    uint64_t want = 0 - (uint64_t)M * (uint64_t)N, got = ld64(W);
    if (got != want)
        g_bad++, note("qword %lld, want %lld", (long long)got, (long long)want);
}

/* ---- tickets: XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B ----
 * Every successful update records the value it replaced; in a history without lost updates
 * these are 0..N*M-1, each exactly once. */

static uint64_t *tickets[MAXT];

static void tickets_setup(void)
{
    for (int t = 0; t < N; t++) {
        free(tickets[t]);
        tickets[t] = calloc((size_t)M, sizeof(uint64_t));
    }
}

static void tickets_check(uint64_t final_count)
{
    uint64_t total = (uint64_t)N * (uint64_t)M;
    uint8_t *seen = calloc(total, 1);
    uint64_t dup = 0, out = 0, missing = 0;
    for (int t = 0; t < N; t++)
        for (long i = 0; i < M; i++) {
            uint64_t k = tickets[t][i];
            if (k >= total)
                out++;
            else if (seen[k]++)
                dup++;
        }
    for (uint64_t k = 0; k < total; k++)
        missing += !seen[k];
    free(seen);
    if (dup || out || missing)
        g_bad++, note("tickets: %llu taken twice, %llu out of range, %llu never taken",
                      (unsigned long long)dup, (unsigned long long)out, (unsigned long long)missing);
    if (final_count != total)
        g_bad++, note("counter %llu, want %llu", (unsigned long long)final_count,
                      (unsigned long long)total);
}

static void xadd_setup(void) { st64(W, 0); tickets_setup(); }
static void xadd_body(struct vcpu *v)
{
    v->st.gpr[HVEMU_RDI] = W;
    for (long i = 0; i < M; i++) {
        v->st.gpr[HVEMU_RSI] = 1;
        EMU(v, 0xf0, 0x48, 0x0f, 0xc1, 0x37); /* lock xadd qword [rdi], rsi */
        tickets[v->id][i] = v->st.gpr[HVEMU_RSI];
    }
}
static void xadd_check(void) { tickets_check(ld64(W)); }

static void cmpxchg_body(struct vcpu *v)
{
    struct hvemu_state *s = &v->st;
    s->gpr[HVEMU_RDI] = W;
    s->gpr[HVEMU_RAX] = 0; /* a guess; a failure loads the real value */
    for (long i = 0; i < M;) {
        s->gpr[HVEMU_RCX] = s->gpr[HVEMU_RAX] + 1;
        EMU(v, 0xf0, 0x48, 0x0f, 0xb1, 0x0f); /* lock cmpxchg qword [rdi], rcx */
        if (s->rflags & ZF) {
            tickets[v->id][i++] = s->gpr[HVEMU_RAX]; /* RAX kept: the value replaced */
            s->gpr[HVEMU_RAX]++;
        }
    }
}
static void cmpxchg_check(void) { tickets_check(ld64(W)); }

#define HI8 0x10000u                  /* CMPXCHG8B: high dword = low dword + HI8 */
#define HI16 0x5555555555555555ull    /* CMPXCHG16B: high qword = low qword + HI16 */

static void cx8_setup(void)
{
    tickets_setup();
    st64(W, (uint64_t)HI8 << 32);
}
static void cx8_body(struct vcpu *v)
{
    struct hvemu_state *s = &v->st;
    s->gpr[HVEMU_RDI] = W;
    s->gpr[HVEMU_RAX] = 0;
    s->gpr[HVEMU_RDX] = HI8;
    for (long i = 0; i < M;) {
        s->gpr[HVEMU_RBX] = (uint32_t)(s->gpr[HVEMU_RAX] + 1);
        s->gpr[HVEMU_RCX] = (uint32_t)(s->gpr[HVEMU_RDX] + 1);
        EMU(v, 0xf0, 0x0f, 0xc7, 0x0f); /* lock cmpxchg8b [rdi] */
        if (s->rflags & ZF) {
            tickets[v->id][i++] = s->gpr[HVEMU_RAX];
            s->gpr[HVEMU_RAX] = (uint32_t)(s->gpr[HVEMU_RAX] + 1);
            s->gpr[HVEMU_RDX] = (uint32_t)(s->gpr[HVEMU_RDX] + 1);
        } else if (s->gpr[HVEMU_RDX] != (uint32_t)(s->gpr[HVEMU_RAX] + HI8)) {
            v->violations++; /* a torn 64-bit value reached EDX:EAX */
        }
    }
}
static void cx8_check(void)
{
    uint64_t v = ld64(W);
    uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
    if (hi != lo + HI8)
        g_bad++, note("final value torn: %08x:%08x", hi, lo);
    tickets_check(lo);
}

static void cx16_setup(void)
{
    tickets_setup();
    st64(W16, 0);
    st64(W16 + 8, HI16);
}
static void cx16_body(struct vcpu *v)
{
    struct hvemu_state *s = &v->st;
    s->gpr[HVEMU_RDI] = W16;
    s->gpr[HVEMU_RAX] = 0;
    s->gpr[HVEMU_RDX] = HI16;
    for (long i = 0; i < M;) {
        s->gpr[HVEMU_RBX] = s->gpr[HVEMU_RAX] + 1;
        s->gpr[HVEMU_RCX] = s->gpr[HVEMU_RDX] + 1;
        EMU(v, 0xf0, 0x48, 0x0f, 0xc7, 0x0f); /* lock cmpxchg16b [rdi] */
        if (s->rflags & ZF) {
            tickets[v->id][i++] = s->gpr[HVEMU_RAX];
            s->gpr[HVEMU_RAX]++;
            s->gpr[HVEMU_RDX]++;
        } else if (s->gpr[HVEMU_RDX] != s->gpr[HVEMU_RAX] + HI16) {
            v->violations++; /* a torn 128-bit value reached RDX:RAX */
        }
    }
}
static void cx16_check(void)
{
    uint64_t lo = ld64(W16), hi = ld64(W16 + 8);
    if (hi != lo + HI16)
        g_bad++, note("final value torn: %016llx:%016llx", (unsigned long long)hi,
                      (unsigned long long)lo);
    tickets_check(lo);
}

/* ---- owned bits: AND OR XOR BTC ----
 * Thread t owns the bits j of one shared qword with j % N == t and changes only those; after
 * every change it reads the word back (an emulated MOV) and checks its own bits. Another
 * thread's lost update writes back a stale copy of t's bits, which t sees. */

static uint64_t owned_mask(int t)
{
    uint64_t m = 0;
    for (int j = t; j < 64; j += N)
        m |= (uint64_t)1 << j;
    return m;
}

static void own_check_bits(struct vcpu *v, uint64_t mask, uint64_t want)
{
    v->st.gpr[HVEMU_RDI] = W;
    EMU(v, 0x48, 0x8b, 0x07); /* mov rax, [rdi] */
    if ((v->st.gpr[HVEMU_RAX] & mask) != want)
        v->violations++;
}

/* one iteration: set the thread's bits with `set`, check, clear them with `clr`, check */
static void own_body(struct vcpu *v, const uint8_t *set, const uint8_t *clr, int clr_inverted)
{
    uint64_t mask = owned_mask(v->id);
    for (long i = 0; i < M / 2; i++) {
        v->st.gpr[HVEMU_RDI] = W;
        v->st.gpr[HVEMU_RSI] = mask;
        emu(v, set, 4);
        own_check_bits(v, mask, mask);
        v->st.gpr[HVEMU_RDI] = W;
        v->st.gpr[HVEMU_RSI] = clr_inverted ? ~mask : mask;
        emu(v, clr, 4);
        own_check_bits(v, mask, 0);
    }
}
static const uint8_t OR_Q[4] = {0xf0, 0x48, 0x09, 0x37};  /* lock or  qword [rdi], rsi */
static const uint8_t AND_Q[4] = {0xf0, 0x48, 0x21, 0x37}; /* lock and qword [rdi], rsi */
static const uint8_t XOR_Q[4] = {0xf0, 0x48, 0x31, 0x37}; /* lock xor qword [rdi], rsi */

static void own_setup(void) { st64(W, 0); }
static void or_body(struct vcpu *v) { own_body(v, OR_Q, XOR_Q, 0); }
static void and_body(struct vcpu *v) { own_body(v, XOR_Q, AND_Q, 1); }
static void xor_body(struct vcpu *v) { own_body(v, XOR_Q, XOR_Q, 0); }
static void own_check(void)
{
    uint64_t got = ld64(W);
    if (got != 0)
        g_bad++, note("word %016llx at the end, want 0", (unsigned long long)got);
}

/* BTC: CF is the old value of the bit, which only its owner changes: it must always be what
 * the owner last left there. */
static uint64_t btc_final[MAXT];
static void btc_body(struct vcpu *v)
{
    uint64_t mirror = 0;
    int bits[64], nb = 0;
    for (int j = v->id; j < 64; j += N)
        bits[nb++] = j;
    v->st.gpr[HVEMU_RDI] = W;
    for (long i = 0; i < M; i++) {
        int b = bits[(i * 7) % nb];
        v->st.gpr[HVEMU_RSI] = (uint64_t)b;
        EMU(v, 0xf0, 0x48, 0x0f, 0xbb, 0x37); /* lock btc qword [rdi], rsi */
        int cf = (v->st.rflags & CF) != 0;
        if (cf != (int)((mirror >> b) & 1))
            v->violations++;
        mirror ^= (uint64_t)1 << b;
    }
    btc_final[v->id] = mirror;
}
static void btc_check(void)
{
    uint64_t want = 0, got = ld64(W);
    for (int t = 0; t < N; t++)
        want |= btc_final[t];
    if (got != want)
        g_bad++, note("word %016llx, want %016llx", (unsigned long long)got,
                      (unsigned long long)want);
}

/* ---- bitmap claims: BTS, BTR ----
 * Every thread sweeps the whole bitmap in the same order (maximum contention); BTS claims a
 * bit when CF=0 (BTR when CF=1). Each bit must be claimed by exactly one thread per round. */

static uint8_t claimed[MAXT][BMAP_BITS];
static int claim_rounds(void)
{
    long r = (M + BMAP_BITS - 1) / BMAP_BITS;
    return r < 2 ? 2 : (int)r;
}

static void claim_body(struct vcpu *v, int bts)
{
    int rounds = claim_rounds();
    for (int r = 0; r < rounds; r++) {
        if (v->id == 0)
            for (unsigned q = 0; q < BMAP_BITS / 64; q++)
                st64(BMAP + 8 * q, bts ? 0 : ~0ull);
        memset(claimed[v->id], 0, BMAP_BITS);
        pthread_barrier_wait(&bar);
        for (unsigned b = 0; b < BMAP_BITS; b++) {
            v->st.gpr[HVEMU_RDI] = BMAP;
            v->st.gpr[HVEMU_RSI] = b;
            if (bts)
                EMU(v, 0xf0, 0x48, 0x0f, 0xab, 0x37); /* lock bts qword [rdi], rsi */
            else
                EMU(v, 0xf0, 0x0f, 0xb3, 0x37);       /* lock btr dword [rdi], esi */
            int cf = (v->st.rflags & CF) != 0;
            if (cf != bts)
                claimed[v->id][b] = 1;
        }
        pthread_barrier_wait(&bar);
        if (v->id == 0) {
            uint64_t twice = 0, never = 0, left = 0;
            for (unsigned b = 0; b < BMAP_BITS; b++) {
                int c = 0;
                for (int t = 0; t < N; t++)
                    c += claimed[t][b];
                twice += c > 1;
                never += c == 0;
            }
            for (unsigned q = 0; q < BMAP_BITS / 64; q++)
                left += ld64(BMAP + 8 * q) != (bts ? ~0ull : 0);
            if (twice || never || left) {
                g_bad++;
                note("round %d: %llu bits claimed twice, %llu never, %llu qwords not %s", r,
                     (unsigned long long)twice, (unsigned long long)never,
                     (unsigned long long)left, bts ? "all ones" : "zero");
            }
        }
        pthread_barrier_wait(&bar);
    }
}
static void noop_setup(void) {}
static void noop_check(void) {}
static void bts_body(struct vcpu *v) { claim_body(v, 1); }
static void btr_body(struct vcpu *v) { claim_body(v, 0); }

/* ---- involutions: NEG, NOT ---- */

/* NEG on a word holding V or -V: the result's SF says which way an instruction went. In every
 * round, (number that wrote -V) - (number that wrote V) must equal the change the word made. */
#define NEGV 5
static uint64_t neg_to_minus[MAXT], neg_to_plus[MAXT];
static int neg_rounds(void) { return M / 50 > 40 ? (int)(M / 50) : 40; }
static void neg_setup(void) { st64(W, NEGV); }
static void neg_body(struct vcpu *v)
{
    long per = M / neg_rounds();
    for (int r = 0; r < neg_rounds(); r++) {
        uint64_t start = ld64(W);
        neg_to_minus[v->id] = neg_to_plus[v->id] = 0;
        pthread_barrier_wait(&bar);
        for (long i = 0; i < per; i++) {
            v->st.gpr[HVEMU_RDI] = W;
            EMU(v, 0xf0, 0x48, 0xf7, 0x1f); /* lock neg qword [rdi] */
            if (v->st.rflags & SF)
                neg_to_minus[v->id]++;
            else
                neg_to_plus[v->id]++;
        }
        pthread_barrier_wait(&bar);
        if (v->id == 0) {
            int64_t d = 0;
            for (int t = 0; t < N; t++)
                d += (int64_t)neg_to_minus[t] - (int64_t)neg_to_plus[t];
            uint64_t end = ld64(W);
            int64_t want = (end == (uint64_t)-NEGV) - (start == (uint64_t)-NEGV);
            if ((end != NEGV && end != (uint64_t)-NEGV) || d != want) {
                g_bad++;
                note("round %d: transitions say %lld, the word says %lld (%lld)", r,
                     (long long)d, (long long)want, (long long)end);
            }
        }
        pthread_barrier_wait(&bar);
    }
}

/* NOT at overlapping widths: thread t flips the low 8, 4, 2 or 1 bytes of one qword K times
 * per round (K odd); after the round each byte must be flipped by the parity of the number of
 * NOTs that cover it. A lost update drops one flip of the bytes the stale writer covers. */
#define NOT_K 101
static int not_width(int t) { static const int w[4] = {8, 4, 2, 1}; return w[t % 4]; }
static void not_setup(void) { st64(W, 0x0123456789abcdefull); }
static void not_body(struct vcpu *v)
{
    int rounds = (int)(M / NOT_K);
    if (rounds < 2)
        rounds = 2;
    int w = not_width(v->id);
    for (int r = 0; r < rounds; r++) {
        uint64_t start = ld64(W);
        pthread_barrier_wait(&bar);
        for (int i = 0; i < NOT_K; i++) {
            v->st.gpr[HVEMU_RDI] = W;
            switch (w) {
            case 8: EMU(v, 0xf0, 0x48, 0xf7, 0x17); break; /* lock not qword [rdi] */
            case 4: EMU(v, 0xf0, 0xf7, 0x17); break;       /* lock not dword [rdi] */
            case 2: EMU(v, 0x66, 0xf0, 0xf7, 0x17); break; /* lock not word [rdi] */
            default: EMU(v, 0xf0, 0xf6, 0x17); break;      /* lock not byte [rdi] */
            }
        }
        pthread_barrier_wait(&bar);
        if (v->id == 0) {
            uint64_t want = start;
            for (int j = 0; j < 8; j++) {
                int flips = 0;
                for (int t = 0; t < N; t++)
                    flips += not_width(t) > j ? NOT_K : 0;
                if (flips & 1)
                    want ^= (uint64_t)0xff << (8 * j);
            }
            uint64_t end = ld64(W);
            if (end != want) {
                g_bad++;
                note("round %d: %016llx, want %016llx", r, (unsigned long long)end,
                     (unsigned long long)want);
            }
        }
        pthread_barrier_wait(&bar);
    }
}

/* ---- XCHG hand-off (the experiment of seed 002) ----
 * vCPU 0 waits for the word to be 0, writes 0x12345678 (a plain MOV) and counts (count0);
 * the others XCHG the word with 0 and count when they get 0x12345678 (count1, count2, ...).
 * A token taken twice makes the sum of the others exceed count0; a token overwritten by a
 * stale 0 makes it fall short. At the end count0 == count1 + count2 + ... */
#define TOKEN 0x12345678u
static uint64_t xcounts[MAXT];
static int xdone;

static uint64_t xsum(void)
{
    uint64_t s = 0;
    for (int t = 1; t < N; t++)
        s += __atomic_load_n(&xcounts[t], __ATOMIC_ACQUIRE);
    return s;
}

static void xchg_setup(void)
{
    st64(W, 0);
    memset(xcounts, 0, sizeof(xcounts));
    __atomic_store_n(&xdone, 0, __ATOMIC_RELEASE);
}

static void xchg_print_row(void)
{
    uint64_t c0 = __atomic_load_n(&xcounts[0], __ATOMIC_ACQUIRE), s = xsum();
    printf("    counts:\t%llu", (unsigned long long)c0);
    for (int t = 1; t < N; t++)
        printf("\t%llu", (unsigned long long)__atomic_load_n(&xcounts[t], __ATOMIC_ACQUIRE));
    printf("\t%lld\n", (long long)(c0 - s));
}

/* wait (bounded) until the consumers have counted every token produced */
static double now(void);
static void xchg_settle(void)
{
    double until = now() + 0.02; /* a lost token never arrives: do not wait for it long */
    while (xsum() != __atomic_load_n(&xcounts[0], __ATOMIC_ACQUIRE) && now() < until)
        sched_yield();
}

static void xchg_body(struct vcpu *v)
{
    struct hvemu_state *s = &v->st;
    s->gpr[HVEMU_RDI] = W;
    if (v->id == 0) {
        /* a quarter of the iterations: the consumers spin on the word meanwhile */
        long tokens = M / 4, row = tokens / 8 ? tokens / 8 : 1;
        printf("    counts:\tcount0");
        for (int t = 1; t < N; t++)
            printf("\tcount%d", t);
        printf("\tcount0-(sum)\n");
        for (long i = 0; i < tokens; i++) {
            for (unsigned spin = 0;; spin++) {
                EMU(v, 0x8b, 0x07); /* mov eax, [rdi] */
                if ((uint32_t)s->gpr[HVEMU_RAX] == 0)
                    break;
                if ((spin & 31) == 31)
                    sched_yield();
            }
            EMU(v, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12); /* mov dword [rdi], 0x12345678 */
            __atomic_store_n(&xcounts[0], (uint64_t)i + 1, __ATOMIC_RELEASE);
            if ((i + 1) % row == 0) {
                xchg_settle();
                xchg_print_row();
            }
        }
        xchg_settle();
        __atomic_store_n(&xdone, 1, __ATOMIC_RELEASE);
        return;
    }
    unsigned idle = 0;
    while (!__atomic_load_n(&xdone, __ATOMIC_ACQUIRE)) {
        s->gpr[HVEMU_RAX] = 0;
        EMU(v, 0x87, 0x07); /* xchg [rdi], eax (implicitly locked) */
        uint32_t got = (uint32_t)s->gpr[HVEMU_RAX];
        if (got == TOKEN) {
            __atomic_store_n(&xcounts[v->id], xcounts[v->id] + 1, __ATOMIC_RELEASE);
            idle = 0;
        } else if (got != 0) {
            v->violations++;
        } else if ((++idle & 31) == 0) {
            sched_yield();
        }
    }
}
static void xchg_check(void)
{
    uint64_t c0 = xcounts[0], s = xsum();
    if (c0 != s)
        g_bad++, note("count0 %llu, sum of the others %llu (%s)", (unsigned long long)c0,
                      (unsigned long long)s, s > c0 ? "tokens taken twice" : "tokens lost");
    if (ld32(W) != 0)
        g_bad++, note("a token is left in the word");
}

/* ---- the table ---- */

struct test {
    const char *name;
    const char *insn;
    void (*setup)(void);
    void (*body)(struct vcpu *v);
    void (*check)(void);
    int barriers; /* uses the barrier */
};

static const struct test tests[] = {
    {"add", "lock add qword [rdi], rsi", add_setup, add_body, add_check, 0},
    {"adc", "stc; lock adc dword [rdi], esi", add_setup, adc_body, adc_check, 0},
    {"and", "lock and qword [rdi], ~own (set by xor)", own_setup, and_body, own_check, 0},
    {"btc", "lock btc qword [rdi], rsi (own bits, CF)", own_setup, btc_body, btc_check, 0},
    {"btr", "lock btr dword [rdi], esi (bitmap release)", noop_setup, btr_body, noop_check, 1},
    {"bts", "lock bts qword [rdi], rsi (bitmap claim)", noop_setup, bts_body, noop_check, 1},
    {"cmpxchg", "lock cmpxchg qword [rdi], rcx (CAS loop)", xadd_setup, cmpxchg_body,
     cmpxchg_check, 0},
    {"cmpxchg8b", "lock cmpxchg8b [rdi] (64-bit pair)", cx8_setup, cx8_body, cx8_check, 0},
    {"cmpxchg16b", "lock cmpxchg16b [rdi] (128-bit pair)", cx16_setup, cx16_body, cx16_check, 0},
    {"dec", "lock dec qword [rdi]", add_setup, dec_body, dec_check, 0},
    {"inc", "lock inc dword [rdi]", add_setup, inc_body, inc_check, 0},
    {"neg", "lock neg qword [rdi] (transitions by SF)", neg_setup, neg_body, noop_check, 1},
    {"not", "lock not [rdi] at widths 8/4/2/1", not_setup, not_body, noop_check, 1},
    {"or", "lock or qword [rdi], own (cleared by xor)", own_setup, or_body, own_check, 0},
    {"sbb", "stc; lock sbb word [rdi], si", add_setup, sbb_body, sbb_check, 0},
    {"sub", "lock sub byte [rdi], 3", add_setup, sub_body, sub_check, 0},
    {"xor", "lock xor qword [rdi], own (set and clear)", own_setup, xor_body, own_check, 0},
    {"xadd", "lock xadd qword [rdi], rsi (tickets)", xadd_setup, xadd_body, xadd_check, 0},
    {"xchg", "xchg [rdi], eax (seed 002 hand-off)", xchg_setup, xchg_body, xchg_check, 0},
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

static const struct test *cur;
static void *thread_main(void *arg)
{
    pthread_barrier_wait(&bar); /* all vCPUs start together: contention from the first access */
    cur->body((struct vcpu *)arg);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run one test; returns the number of invariant breaks found. */
static uint64_t run_test(const struct test *t, int quiet)
{
    cur = t;
    g_msg[0] = 0;
    g_bad = 0;
    memset(g_ram, 0, GUEST_SIZE);
    t->setup();
    pthread_barrier_init(&bar, 0, (unsigned)N);
    pthread_t th[MAXT];
    double t0 = now();
    for (int i = 0; i < N; i++) {
        vcpu_init(&V[i], i, g_ops);
        if (pthread_create(&th[i], 0, thread_main, &V[i])) {
            perror("pthread_create");
            exit(2);
        }
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], 0);
    double secs = now() - t0;
    pthread_barrier_destroy(&bar);
    t->check();
    uint64_t bad = g_bad, emus = 0, retries = 0, rmin = ~0ull, rmax = 0, hits = 0, withr = 0;
    uint64_t tmin = ~0ull, tmax = 0;
    for (int i = 0; i < N; i++) {
        bad += V[i].violations;
        if (V[i].violations)
            note("vCPU %d saw %llu broken values", i, (unsigned long long)V[i].violations);
        emus += V[i].emulations;
        retries += V[i].retries;
        hits += V[i].bound_hits;
        withr += V[i].with_retry;
        rmax = V[i].retry_max > rmax ? V[i].retry_max : rmax;
        rmin = V[i].retry_min < rmin ? V[i].retry_min : rmin;
        tmin = V[i].retries < tmin ? V[i].retries : tmin;
        tmax = V[i].retries > tmax ? V[i].retries : tmax;
    }
    if (!quiet) {
        printf("%-11s %-46s %s\n", t->name, t->insn,
               bad ? (negative ? "DETECTED" : "BROKEN") : (negative ? "not detected" : "held"));
        if (bad)
            printf("    %llu breaks; first: %s\n", (unsigned long long)bad, g_msg);
        printf("    %llu emulations in %.2fs; retries: %llu in %llu emulations (per emulation "
               "min %llu avg %.4f max %llu; per vCPU min %llu avg %.1f max %llu); retry bound hit "
               "%llu times\n",
               (unsigned long long)emus, secs, (unsigned long long)retries,
               (unsigned long long)withr, (unsigned long long)rmin,
               emus ? (double)retries / (double)emus : 0.0,
               (unsigned long long)rmax, (unsigned long long)tmin, (double)retries / N,
               (unsigned long long)tmax, (unsigned long long)hits);
        fflush(stdout);
    }
    return bad;
}

/* --race-selftest: an unsynchronised counter shared by two threads. Under ThreadSanitizer this
 * must be reported (the process exits non-zero): proof that the sanitizer build is live. */
static long racy_counter;
static void *racy_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        racy_counter++;
    return 0;
}
static int race_selftest(void)
{
    pthread_t a, b;
    pthread_create(&a, 0, racy_main, 0);
    pthread_create(&b, 0, racy_main, 0);
    pthread_join(a, 0);
    pthread_join(b, 0);
    printf("race selftest: counter %ld (a data race by design)\n", racy_counter);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--race-selftest"))
        return race_selftest();
    const char *only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            M = atol(argv[++i]);
        else if (!strcmp(argv[i], "--negative"))
            negative = 1;
        else if (!strcmp(argv[i], "--yield"))
            yield = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--list")) {
            for (size_t k = 0; k < NTESTS; k++)
                printf("%-11s %s\n", tests[k].name, tests[k].insn);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--iters M] [--negative | --yield] [--only NAME] [--list]\n",
                    argv[0]);
            return 2;
        }
    }
    if (N < 2 || N > MAXT || M < 100) {
        fprintf(stderr, "need 2 <= threads <= %d and iters >= 100\n", MAXT);
        return 2;
    }
    mem_setup();
    g_ops = negative ? &g_ops_broken : yield ? &g_ops_yield : &g_ops_atomic;
    printf("%s: %d vCPU threads x %ld iterations, %s compare-exchange\n",
           negative ? "negative control" : "contention", N, M,
           negative ? "a NON-ATOMIC (read, compare, yield, write)"
                    : yield ? "a yield, then hostmem's atomic" : "hostmem's atomic");
    int ran = 0, failed = 0;
    for (size_t k = 0; k < NTESTS; k++) {
        const struct test *t = &tests[k];
        if (only && strcmp(only, t->name))
            continue;
        ran++;
        uint64_t bad = run_test(t, 0);
        if (negative) {
            /* a lost update is a race: give it a few more chances before calling it missed */
            long m0 = M;
            for (int again = 0; !bad && again < 6; again++) {
                M *= 2;
                printf("    (again with %ld iterations)\n", M);
                bad = run_test(t, 0);
            }
            M = m0;
            failed += bad == 0;
        } else {
            failed += bad != 0;
        }
    }
    if (negative)
        printf("summary: negative control: %d of %d tests detected the lost updates of a "
               "non-atomic compare-exchange, %d did not\n", ran - failed, ran, failed);
    else
        printf("summary: %d of %d contention tests held, %d broken\n", ran - failed, ran, failed);
    return failed ? 1 : 0;
}
