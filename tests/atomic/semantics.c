/* SPDX-License-Identifier: MIT */
/*
 * The semantic rules of locked instructions, one check each, with the host CPU as the oracle
 * for values (tests/hostdiff/native.h runs the same bytes natively on the same state) and a
 * recording memory for the transactions hvemu makes:
 *   - every lockable instruction (and XCHG) with LOCK: exactly one RMW_READ, then commits only
 *     through cmpxchg with the value read as expected; never a plain write
 *   - the same with memory changed before the compare-exchange: re-run on the fresh value
 *     (no second read), and the result equals the host's on the fresh value
 *   - without LOCK: RMW_READ then RMW_WRITE, no cmpxchg (XCHG has no unlocked memory form)
 *   - a failed CMPXCHG writes its destination with its own value and loads the accumulator;
 *     CMPXCHG8B/16B load EDX:EAX / RDX:RAX and clear ZF on mismatch, set ZF and store on match
 *   - CMPXCHG16B needs REX.W (without: CMPXCHG8B), #GP(0) when not 16-byte aligned with no
 *     access made, 66 ignored; the whole 128-bit expected and desired values reach cmpxchg
 *   - past ctx->max_cmpxchg_retries: HVEMU_RETRY with nothing changed
 *   - a split lock is refused (HVEMU_UNHANDLEABLE, reason says so) before any access
 */
#include "testlib.h"
#include "hvemu.h"
#include "native.h"
#include "undef_flags.h"

#include <stdlib.h>

#define MEM NATIVE_MEM_ADDR
#define DST (MEM + 0x100) /* 16-byte aligned */

/* ---- recording memory ---- */

struct call {
    char op; /* R read, W write, X cmpxchg, P probe */
    uint8_t kind;
    uint64_t addr;
    unsigned size;
    uint8_t exp[16], des[16]; /* X: as passed in */
    int rc;
};

static struct {
    uint8_t mem[NATIVE_MEM_SIZE];
    struct call log[128];
    unsigned n;
    int interfere;      /* >0: before this many compare-exchanges, memory becomes ifx_val */
    int interfere_xor;  /* instead: flip a byte before every compare-exchange (forever) */
    uint8_t ifx_val[16];
    int cas_answer;     /* 0, or HVEMU_CB_RETRY / HVEMU_CB_FAULT to answer that */
} R;

static int in_mem(uint64_t a, unsigned n)
{
    return a >= MEM && a + n <= MEM + NATIVE_MEM_SIZE;
}

static int pf(uint64_t a, int w, struct hvemu_exception *e)
{
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = w ? 6 : 4;
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

static struct call *rec(char op, unsigned kind, uint64_t a, unsigned n)
{
    static struct call dummy;
    if (R.n >= sizeof(R.log) / sizeof(R.log[0]))
        return &dummy;
    struct call *c = &R.log[R.n++];
    memset(c, 0, sizeof(*c));
    c->op = op;
    c->kind = (uint8_t)kind;
    c->addr = a;
    c->size = n;
    return c;
}

static int r_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o;
    rec('R', k, a, n);
    if (!in_mem(a, n))
        return pf(a, 0, e);
    memcpy(d, R.mem + (a - MEM), n);
    return HVEMU_CB_OK;
}

static int r_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o;
    rec('W', k, a, n);
    if (!in_mem(a, n))
        return pf(a, 1, e);
    memcpy(R.mem + (a - MEM), d, n);
    return HVEMU_CB_OK;
}

static int r_probe(void *o, uint64_t a, unsigned n, struct hvemu_exception *e)
{
    (void)o;
    rec('P', 0, a, n);
    return in_mem(a, n) ? HVEMU_CB_OK : pf(a, 1, e);
}

static int r_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    (void)o;
    struct call *c = rec('X', 0, a, n);
    if (n <= 16) {
        memcpy(c->exp, exp, n);
        memcpy(c->des, des, n);
    }
    if (!in_mem(a, n))
        return c->rc = pf(a, 1, e);
    if (R.cas_answer == HVEMU_CB_FAULT) {
        e->vector = HVEMU_EXC_PF;
        e->has_error_code = 1;
        e->error_code = 7;
        e->cr2 = a;
        return c->rc = HVEMU_CB_FAULT;
    }
    if (R.cas_answer)
        return c->rc = R.cas_answer;
    uint8_t *p = R.mem + (a - MEM);
    if (R.interfere > 0) {
        R.interfere--;
        memcpy(p, R.ifx_val, n); /* another writer got there first */
    }
    if (R.interfere_xor)
        p[0] ^= 0x5a;
    if (memcmp(p, exp, n)) {
        memcpy(exp, p, n);
        return c->rc = HVEMU_CB_CHANGED;
    }
    memcpy(p, des, n);
    return c->rc = HVEMU_CB_OK;
}

static struct hvemu_ops OPS = {
    .read = r_read, .write = r_write, .cmpxchg = r_cmpxchg, .probe_write = r_probe,
};

static struct hvemu_state S;
static struct hvemu_ctx C;

static void reset_state(void)
{
    memset(&S, 0, sizeof(S));
    S.valid = HVEMU_PART_ALL;
    S.cr0 = 0x80050033;
    S.cr4 = 0x20 | (1u << 18);
    S.efer = 0x500;
    S.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0x9b;
    S.seg[HVEMU_CS].selector = 0x33;
    S.rflags = 0x202;
    S.rip = NATIVE_CODE_ADDR;
    /* registers with distinct, recognisable values in every byte */
    for (int i = 0; i < 16; i++)
        S.gpr[i] = 0x0101010101010101ull * (uint64_t)(0x11 + i) ^ 0x8000000000000000ull;
    S.gpr[HVEMU_RSP] = MEM + 0x1800;
    S.gpr[HVEMU_RDI] = DST;
    S.gpr[HVEMU_RSI] = 0x25; /* a small bit offset for BT* register forms */
    R.n = 0;
    R.interfere = 0;
    R.interfere_xor = 0;
    R.cas_answer = 0;
    for (unsigned i = 0; i < NATIVE_MEM_SIZE; i++)
        R.mem[i] = (uint8_t)(i * 7 + 3);
    hvemu_init(&C, &OPS, 0, &S);
}

static int emu(const uint8_t *b, size_t n, struct hvemu_result *r)
{
    S.rip = NATIVE_CODE_ADDR;
    R.n = 0;
    return hvemu_emulate_bytes(&C, b, n, r);
}

static unsigned count_op(char op)
{
    unsigned k = 0;
    for (unsigned i = 0; i < R.n; i++)
        k += R.log[i].op == op;
    return k;
}

static const char *hex(const uint8_t *b, size_t n)
{
    static char buf[64];
    for (size_t i = 0; i < n && i < 20; i++)
        sprintf(buf + 2 * i, "%02x", b[i]);
    return buf;
}

/* ---- the host as oracle ---- */

static struct native_state NS;

/* Run `b` on the host from S and `host_mem` (NULL: R.mem) and in hvemu from S and R.mem;
 * compare status, GPRs, defined flags and memory. */
static void diff_native(const uint8_t *b, size_t n, const uint8_t *host_mem, struct hvemu_result *r)
{
    memcpy(NS.gpr, S.gpr, sizeof(NS.gpr));
    NS.rflags = S.rflags & NATIVE_RFLAGS_MASK;
    memcpy(NS.mem, host_mem ? host_mem : R.mem, NATIVE_MEM_SIZE);
    struct native_fault f;
    int nrc = native_run(b, n, &NS, &f);
    uint64_t before[16];
    memcpy(before, S.gpr, sizeof(before));
    uint64_t rfl0 = S.rflags;
    int rc = emu(b, n, r);
    if (nrc == NATIVE_FAULT) {
        CHECK(rc == HVEMU_EXCEPTION && r->exc.vector == f.vector, "%s: host faults with vector %d, "
              "hvemu status %d vector %d", hex(b, n), f.vector, rc, r->exc.vector);
        if (f.vector == HVEMU_EXC_GP)
            CHECK(r->exc.has_error_code && r->exc.error_code == f.error_code, "%s: #GP error code",
                  hex(b, n));
        CHECK(!memcmp(before, S.gpr, sizeof(before)) && S.rflags == rfl0,
              "%s: state changed by a faulting instruction", hex(b, n));
        return;
    }
    CHECK(nrc == NATIVE_OK, "%s: host run %d", hex(b, n), nrc);
    CHECK(rc == HVEMU_OK, "%s: hvemu status %d (%s)", hex(b, n), rc, r->reason ? r->reason : "");
    if (rc != HVEMU_OK || nrc != NATIVE_OK)
        return;
    for (int i = 0; i < 16; i++)
        CHECK(S.gpr[i] == NS.gpr[i], "%s: gpr %d hvemu %016llx host %016llx", hex(b, n), i,
              (unsigned long long)S.gpr[i], (unsigned long long)NS.gpr[i]);
    const char *mn = hvemu_mnemonic_name(C.insn.mnemonic);
    unsigned width = C.insn.op[0].size * 8u;
    uint32_t undef = undef_flags_lookup(mn) ? undef_flags_for(mn, width > 64 ? 64 : width, 0, 0, 0) : 0;
    uint64_t mask = NATIVE_RFLAGS_MASK & ~(uint64_t)undef;
    CHECK((S.rflags & mask) == (NS.rflags & mask), "%s (%s): rflags hvemu %llx host %llx", hex(b, n),
          mn, (unsigned long long)(S.rflags & mask), (unsigned long long)(NS.rflags & mask));
    CHECK(!memcmp(R.mem, NS.mem, NATIVE_MEM_SIZE), "%s: memory differs", hex(b, n));
    CHECK(S.rip == NATIVE_CODE_ADDR + n, "%s: rip", hex(b, n));
}

/* ---- every lockable instruction ---- */

struct form {
    const char *name;
    uint8_t b[8];
    uint8_t n;
    uint8_t size; /* bytes of the memory operand */
    uint8_t xchg; /* implicitly locked */
};

static const struct form FORMS[] = {
    {"add m64, r64", {0x48, 0x01, 0x37}, 3, 8, 0},
    {"add m8, imm8", {0x80, 0x07, 0x7f}, 3, 1, 0},
    {"add m32, imm8", {0x83, 0x07, 0x05}, 3, 4, 0},
    {"or m16, r16", {0x66, 0x09, 0x37}, 3, 2, 0},
    {"adc m32, r32", {0x11, 0x37}, 2, 4, 0},
    {"sbb m8, dh", {0x18, 0x37}, 2, 1, 0},
    {"and m64, imm32", {0x48, 0x81, 0x27, 0x78, 0x56, 0x34, 0x12}, 7, 8, 0},
    {"sub m32, r32", {0x29, 0x37}, 2, 4, 0},
    {"xor m64, r64", {0x48, 0x31, 0x37}, 3, 8, 0},
    {"not m16", {0x66, 0xf7, 0x17}, 3, 2, 0},
    {"neg m8", {0xf6, 0x1f}, 2, 1, 0},
    {"inc m64", {0x48, 0xff, 0x07}, 3, 8, 0},
    {"dec m8", {0xfe, 0x0f}, 2, 1, 0},
    {"bts m64, r64", {0x48, 0x0f, 0xab, 0x37}, 4, 8, 0},
    {"btr m32, imm8", {0x0f, 0xba, 0x37, 0x05}, 4, 4, 0},
    {"btc m16, r16", {0x66, 0x0f, 0xbb, 0x37}, 4, 2, 0},
    {"bts m32, imm8", {0x0f, 0xba, 0x2f, 0x1f}, 4, 4, 0},
    {"xadd m8, dh", {0x0f, 0xc0, 0x37}, 3, 1, 0},
    {"xadd m64, r64", {0x48, 0x0f, 0xc1, 0x37}, 4, 8, 0},
    {"cmpxchg m32, ecx", {0x0f, 0xb1, 0x0f}, 3, 4, 0},
    {"cmpxchg m8, cl", {0x0f, 0xb0, 0x0f}, 3, 1, 0},
    {"cmpxchg8b m64", {0x0f, 0xc7, 0x0f}, 3, 8, 0},
    {"cmpxchg16b m128", {0x48, 0x0f, 0xc7, 0x0f}, 4, 16, 0},
    {"xchg m8, dh", {0x86, 0x37}, 2, 1, 1},
    {"xchg m16, si", {0x66, 0x87, 0x37}, 3, 2, 1},
    {"xchg m32, esi", {0x87, 0x37}, 2, 4, 1},
    {"xchg m64, rsi", {0x48, 0x87, 0x37}, 3, 8, 1},
};
#define NFORMS (sizeof(FORMS) / sizeof(FORMS[0]))

/* the bytes with LOCK in front (for XCHG: with or without) */
static size_t locked_bytes(const struct form *f, int with_lock, uint8_t *out)
{
    size_t n = 0;
    if (with_lock)
        out[n++] = 0xf0;
    memcpy(out + n, f->b, f->n);
    return n + f->n;
}

/* The memory address the instruction accesses (BT* with a register offset moves it). */
static uint64_t touched(void)
{
    for (unsigned i = 0; i < R.n; i++)
        if (R.log[i].op == 'R')
            return R.log[i].addr;
    return 0;
}

static void sweep_locked(void)
{
    struct hvemu_result r;
    uint8_t b[16];
    for (size_t k = 0; k < NFORMS; k++) {
        const struct form *f = &FORMS[k];
        for (int lockp = f->xchg ? 0 : 1; lockp <= 1; lockp++) {
            size_t n = locked_bytes(f, lockp, b);
            /* (1) uncontended: one RMW_READ, one cmpxchg, no write; values as on the host */
            reset_state();
            if (!strncmp(f->name, "cmpxchg8b", 9) || !strncmp(f->name, "cmpxchg16b", 10)) {
                /* CMPXCHG8B/16B: make RDX:RAX match memory so the store path runs too */
                memcpy(&S.gpr[HVEMU_RAX], R.mem + 0x100, f->size / 2);
                memcpy(&S.gpr[HVEMU_RDX], R.mem + 0x100 + f->size / 2, f->size / 2);
            }
            diff_native(b, n, 0, &r);
            CHECK(R.n == 2 && R.log[0].op == 'R' && R.log[0].kind == HVEMU_ACCESS_RMW_READ &&
                  R.log[0].size == f->size && R.log[1].op == 'X' && R.log[1].size == f->size &&
                  R.log[1].addr == R.log[0].addr && R.log[1].rc == HVEMU_CB_OK,
                  "%s%s: transactions %u (%c %c)", lockp ? "lock " : "", f->name, R.n,
                  R.n ? R.log[0].op : '-', R.n > 1 ? R.log[1].op : '-');
            CHECK(count_op('W') == 0, "%s: a plain write for a locked instruction", f->name);

            /* (2) memory changes between the read and the compare-exchange: the handler runs
             * again on the fresh value, without a second read; the result is the host's on
             * the fresh value */
            reset_state();
            uint64_t la = DST;
            {
                /* find the address: run once on a scratch copy */
                struct hvemu_result r0;
                uint8_t save[NATIVE_MEM_SIZE];
                memcpy(save, R.mem, sizeof(save));
                emu(b, n, &r0);
                la = touched();
                memcpy(R.mem, save, sizeof(save));
                reset_state();
            }
            uint8_t fresh[NATIVE_MEM_SIZE];
            memcpy(fresh, R.mem, sizeof(fresh));
            for (unsigned i = 0; i < f->size; i++)
                R.ifx_val[i] = (uint8_t)(0xa5 ^ (i * 0x33));
            memcpy(fresh + (la - MEM), R.ifx_val, f->size);
            R.interfere = 1;
            diff_native(b, n, fresh, &r);
            CHECK(r.retries == 1, "%s: retries %u", f->name, r.retries);
            CHECK(count_op('R') == 1, "%s: %u reads (a re-run must not read the device again)",
                  f->name, count_op('R'));
            CHECK(count_op('X') == 2 && count_op('W') == 0, "%s: %u cmpxchg %u writes", f->name,
                  count_op('X'), count_op('W'));

            /* (3) a split lock: refused before any access, nothing changed */
            reset_state();
            S.gpr[HVEMU_RDI] = MEM + 0x1000 - (f->size > 1 ? f->size / 2 : 1);
            S.gpr[HVEMU_RSI] = 3; /* BT*: stay in the addressed operand */
            if (f->size == 1) {
                /* a byte cannot cross: check it is accepted at the page end instead */
                struct hvemu_result r1;
                CHECK(emu(b, n, &r1) == HVEMU_OK, "%s at a page end: %d", f->name, r1.status);
                continue;
            }
            struct hvemu_state before = S;
            int rc = emu(b, n, &r);
            if (f->size == 16) {
                CHECK(rc == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_GP, "cmpxchg16b misaligned");
            } else {
                CHECK(rc == HVEMU_UNHANDLEABLE && r.reason && strstr(r.reason, "split lock"),
                      "%s across a page: status %d (%s)", f->name, rc, r.reason ? r.reason : "");
            }
            CHECK(R.n == 0, "%s across a page: %u accesses made", f->name, R.n);
            CHECK(!memcmp(&before, &S, sizeof(S) - sizeof(S.vec)) , "%s: state changed", f->name);
        }
    }
}

static void sweep_unlocked(void)
{
    struct hvemu_result r;
    for (size_t k = 0; k < NFORMS; k++) {
        const struct form *f = &FORMS[k];
        if (f->xchg)
            continue;
        reset_state();
        diff_native(f->b, f->n, 0, &r);
        CHECK(R.n == 2 && R.log[0].op == 'R' && R.log[0].kind == HVEMU_ACCESS_RMW_READ &&
              R.log[1].op == 'W' && R.log[1].kind == HVEMU_ACCESS_RMW_WRITE &&
              R.log[0].addr == R.log[1].addr && R.log[1].size == f->size,
              "unlocked %s: %u transactions (%c, %c)", f->name, R.n, R.n ? R.log[0].op : '-',
              R.n > 1 ? R.log[1].op : '-');
        CHECK(count_op('X') == 0, "unlocked %s used cmpxchg", f->name);
    }
}

/* ---- CMPXCHG family rules ---- */

static void cmpxchg_rules(void)
{
    struct hvemu_result r;
    static const uint8_t LCX32[] = {0xf0, 0x0f, 0xb1, 0x0f}; /* lock cmpxchg [rdi], ecx */
    static const uint8_t CX32[] = {0x0f, 0xb1, 0x0f};

    /* failure: the destination is written with its own value, the accumulator loaded (a
     * 32-bit load zero-extends RAX), ZF cleared */
    reset_state();
    memcpy(R.mem + 0x100, "\x05\x00\x00\x00", 4);
    S.gpr[HVEMU_RAX] = 0xffffffff00000007ull;
    diff_native(LCX32, sizeof(LCX32), 0, &r);
    CHECK(S.gpr[HVEMU_RAX] == 5 && !(S.rflags & HVEMU_FLAG_ZF), "failed cmpxchg: rax %llx",
          (unsigned long long)S.gpr[HVEMU_RAX]);
    CHECK(R.n == 2 && R.log[1].op == 'X' && !memcmp(R.log[1].exp, "\x05\0\0\0", 4) &&
          !memcmp(R.log[1].des, "\x05\0\0\0", 4), "failed lock cmpxchg writes its own value back");
    reset_state();
    memcpy(R.mem + 0x100, "\x05\x00\x00\x00", 4);
    S.gpr[HVEMU_RAX] = 7;
    diff_native(CX32, sizeof(CX32), 0, &r);
    CHECK(R.n == 2 && R.log[1].op == 'W' && R.log[1].kind == HVEMU_ACCESS_RMW_WRITE &&
          R.log[1].size == 4 && R.mem[0x100] == 5, "failed unlocked cmpxchg still writes");
    /* success: RAX untouched (upper half too), ZF set, destination = source */
    reset_state();
    memcpy(R.mem + 0x100, "\x07\x00\x00\x00", 4);
    S.gpr[HVEMU_RAX] = 0xffffffff00000007ull;
    diff_native(LCX32, sizeof(LCX32), 0, &r);
    CHECK(S.gpr[HVEMU_RAX] == 0xffffffff00000007ull && (S.rflags & HVEMU_FLAG_ZF), "cmpxchg success");

    /* no effect of a stale attempt: the first read matches RAX, another writer changes the
     * value before the compare-exchange: the instruction fails on the fresh value */
    reset_state();
    memcpy(R.mem + 0x100, "\x07\x00\x00\x00", 4);
    S.gpr[HVEMU_RAX] = 7;
    memcpy(R.ifx_val, "\x09\x00\x00\x00", 4);
    R.interfere = 1;
    CHECK(emu(LCX32, sizeof(LCX32), &r) == HVEMU_OK && S.gpr[HVEMU_RAX] == 9 &&
          !(S.rflags & HVEMU_FLAG_ZF) && R.mem[0x100] == 9 && r.retries == 1,
          "stale success undone: rax %llx mem %u", (unsigned long long)S.gpr[HVEMU_RAX], R.mem[0x100]);
    /* and the other way: the first read mismatches, the fresh value matches: success */
    reset_state();
    memcpy(R.mem + 0x100, "\x05\x00\x00\x00", 4);
    S.gpr[HVEMU_RAX] = 0xaaaaaaaa00000007ull;
    S.gpr[HVEMU_RCX] = 0x1234;
    memcpy(R.ifx_val, "\x07\x00\x00\x00", 4);
    R.interfere = 1;
    CHECK(emu(LCX32, sizeof(LCX32), &r) == HVEMU_OK && S.gpr[HVEMU_RAX] == 0xaaaaaaaa00000007ull &&
          (S.rflags & HVEMU_FLAG_ZF) && !memcmp(R.mem + 0x100, "\x34\x12\0\0", 4),
          "stale failure undone: rax %llx", (unsigned long long)S.gpr[HVEMU_RAX]);

    /* CMPXCHG8B / 16B, match and mismatch, with the host as oracle; upper register halves
     * hold garbage to see what a 32-bit load does to them */
    static const uint8_t L8B[] = {0xf0, 0x0f, 0xc7, 0x0f};
    static const uint8_t L16B[] = {0xf0, 0x48, 0x0f, 0xc7, 0x0f};
    static const uint8_t L16B_66[] = {0x66, 0xf0, 0x48, 0x0f, 0xc7, 0x0f};
    static const uint8_t L8B_66[] = {0x66, 0xf0, 0x0f, 0xc7, 0x0f};
    static const uint8_t C16B[] = {0x48, 0x0f, 0xc7, 0x0f};
    const uint8_t old16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    for (int match = 0; match <= 1; match++) {
        reset_state();
        memcpy(R.mem + 0x100, old16, 16);
        S.gpr[HVEMU_RAX] = 0xdeadbeef00000000ull | (match ? 0x04030201u : 0x99u);
        S.gpr[HVEMU_RDX] = 0xcafef00d00000000ull | 0x08070605u;
        diff_native(L8B, sizeof(L8B), 0, &r);
        CHECK(!!(S.rflags & HVEMU_FLAG_ZF) == match, "cmpxchg8b ZF");
        CHECK(R.n == 2 && R.log[1].op == 'X' && R.log[1].size == 8 && !memcmp(R.log[1].exp, old16, 8),
              "cmpxchg8b: one 8-byte compare-exchange against the value read");
        if (!match)
            CHECK(S.gpr[HVEMU_RAX] == 0x04030201u && S.gpr[HVEMU_RDX] == 0x08070605u,
                  "cmpxchg8b mismatch loads EDX:EAX (zero-extended)");
        const uint8_t *cases[3] = {L16B, L16B_66, C16B};
        const size_t lens[3] = {sizeof(L16B), sizeof(L16B_66), sizeof(C16B)};
        for (int c = 0; c < 3; c++) {
            reset_state();
            memcpy(R.mem + 0x100, old16, 16);
            memcpy(&S.gpr[HVEMU_RAX], old16, 8);
            memcpy(&S.gpr[HVEMU_RDX], old16 + 8, 8);
            if (!match)
                S.gpr[HVEMU_RDX] ^= 0x100; /* the high half differs: still a mismatch */
            S.gpr[HVEMU_RBX] = 0x1111111122222222ull;
            S.gpr[HVEMU_RCX] = 0x3333333344444444ull;
            diff_native(cases[c], lens[c], 0, &r);
            CHECK(!!(S.rflags & HVEMU_FLAG_ZF) == match, "cmpxchg16b ZF (%s)", hex(cases[c], lens[c]));
            if (c == 2) {
                CHECK(count_op('W') == 1 && count_op('X') == 0 && R.log[1].size == 16,
                      "unlocked cmpxchg16b: one 16-byte RMW_WRITE");
                continue;
            }
            CHECK(R.n == 2 && R.log[1].op == 'X' && R.log[1].size == 16, "cmpxchg16b: one 16-byte cmpxchg");
            /* the whole 128-bit values travel: expected is what was read, desired RCX:RBX
             * (or, on a mismatch, the old value again) */
            CHECK(!memcmp(R.log[1].exp, old16, 16), "cmpxchg16b: 128-bit expected value");
            uint8_t want[16];
            if (match) {
                memcpy(want, &S.gpr[HVEMU_RBX], 8);
                memcpy(want + 8, &S.gpr[HVEMU_RCX], 8);
            } else {
                memcpy(want, old16, 16);
            }
            CHECK(!memcmp(R.log[1].des, want, 16), "cmpxchg16b: 128-bit desired value (%s)",
                  match ? "RCX:RBX" : "the old value");
            if (!match)
                CHECK(!memcmp(&S.gpr[HVEMU_RAX], old16, 8) && !memcmp(&S.gpr[HVEMU_RDX], old16 + 8, 8),
                      "cmpxchg16b mismatch loads RDX:RAX");
        }
    }
    /* 66 on CMPXCHG8B is ignored as well */
    reset_state();
    diff_native(L8B_66, sizeof(L8B_66), 0, &r);
    CHECK(R.n == 2 && R.log[1].size == 8, "66 cmpxchg8b: 8 bytes");

    /* CMPXCHG16B needs a 16-byte aligned destination: #GP(0), nothing accessed */
    for (unsigned off = 1; off < 16; off += 7) {
        reset_state();
        S.gpr[HVEMU_RDI] = DST + off;
        diff_native(L16B, sizeof(L16B), 0, &r);
        CHECK(r.status == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_GP && r.exc.has_error_code &&
              r.exc.error_code == 0 && R.n == 0, "cmpxchg16b at +%u: #GP(0) without access", off);
    }
    /* REX.W selects 16 bytes; without CX16 / CX8 the forms are #UD */
    reset_state();
    C.features = hvemu_features_no_apx();
    hvemu_feature_set(&C.features, HVEMU_FEAT_CX16, 0);
    CHECK(emu(L16B, sizeof(L16B), &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_UD, "no CX16: #UD");
    CHECK(emu(L8B, sizeof(L8B), &r) == HVEMU_OK, "no CX16: cmpxchg8b still runs");
    hvemu_feature_set(&C.features, HVEMU_FEAT_CX8, 0);
    CHECK(emu(L8B, sizeof(L8B), &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_UD, "no CX8: #UD");
}

/* ---- retry bound, callback answers, LOCK #UD ---- */

static void retry_rules(void)
{
    struct hvemu_result r;
    static const uint8_t LADD[] = {0xf0, 0x48, 0x01, 0x37};
    static const uint8_t LCX16[] = {0xf0, 0x48, 0x0f, 0xc7, 0x0f};
    static const uint8_t XCHG[] = {0x87, 0x37};
    const uint8_t *ins[3] = {LADD, LCX16, XCHG};
    const size_t lens[3] = {sizeof(LADD), sizeof(LCX16), sizeof(XCHG)};
    const unsigned bounds[4] = {0, 1, 5, 64};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            reset_state();
            C.max_cmpxchg_retries = bounds[j];
            R.interfere_xor = 1; /* memory changes before every compare-exchange */
            struct hvemu_state before = S;
            uint8_t mem_before[NATIVE_MEM_SIZE];
            memcpy(mem_before, R.mem, sizeof(mem_before));
            int rc = emu(ins[i], lens[i], &r);
            CHECK(rc == HVEMU_RETRY && r.reason && r.retries == bounds[j] + 1,
                  "%s, bound %u: status %d retries %u", hex(ins[i], lens[i]), bounds[j], rc, r.retries);
            CHECK(!memcmp(&before, &S, sizeof(S)), "%s: state changed on HVEMU_RETRY", hex(ins[i], lens[i]));
            CHECK(count_op('X') == bounds[j] + 1 && count_op('R') == 1 && count_op('W') == 0,
                  "%s: %u cmpxchg %u reads %u writes", hex(ins[i], lens[i]), count_op('X'),
                  count_op('R'), count_op('W'));
            /* memory: only the other writer's changes (byte 0 flipped once per attempt) */
            mem_before[0x100] ^= (bounds[j] + 1) & 1 ? 0x5a : 0;
            CHECK(!memcmp(mem_before, R.mem, sizeof(mem_before)), "%s: memory changed by hvemu",
                  hex(ins[i], lens[i]));
        }
    /* the cmpxchg callback asks to retry, or faults: nothing done */
    for (int k = 0; k < 2; k++) {
        reset_state();
        R.cas_answer = k ? HVEMU_CB_FAULT : HVEMU_CB_RETRY;
        struct hvemu_state before = S;
        int rc = emu(LADD, sizeof(LADD), &r);
        CHECK(k ? (rc == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_PF && r.exc.error_code == 7)
                : rc == HVEMU_RETRY, "cmpxchg answering %d: status %d", R.cas_answer, rc);
        CHECK(!memcmp(&before, &S, sizeof(S)) && count_op('W') == 0, "nothing done");
    }
    /* no cmpxchg callback: a locked instruction is unhandleable, never a plain write */
    reset_state();
    OPS.cmpxchg = 0;
    CHECK(emu(LADD, sizeof(LADD), &r) == HVEMU_UNHANDLEABLE && count_op('W') == 0, "no cmpxchg callback");
    CHECK(emu(XCHG, sizeof(XCHG), &r) == HVEMU_UNHANDLEABLE && count_op('W') == 0, "xchg without cmpxchg");
    OPS.cmpxchg = r_cmpxchg;

    /* LOCK where it is not allowed: #UD, as on the host */
    static const uint8_t BAD[][4] = {
        {0xf0, 0x48, 0x01, 0xf0}, /* lock add rax, rsi (register destination) */
        {0xf0, 0x89, 0x07, 0x00}, /* lock mov [rdi], eax */
        {0xf0, 0x39, 0x37, 0x00}, /* lock cmp [rdi], esi */
        {0xf0, 0x0f, 0xa3, 0x37}, /* lock bt [rdi], esi */
    };
    const size_t blen[4] = {4, 3, 3, 4};
    for (int i = 0; i < 4; i++) {
        reset_state();
        diff_native(BAD[i], blen[i], 0, &r);
        CHECK(r.status == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_UD && R.n == 0,
              "%s: #UD without access", hex(BAD[i], blen[i]));
    }
}

/* APX: REX2-encoded locked forms with extended GPRs take the same path (the host has no APX,
 * so the values are checked here by hand). */
static void apx_rules(void)
{
    struct hvemu_result r;
    static const uint8_t LADD[] = {0xf0, 0xd5, 0x58, 0x01, 0x08};        /* lock add [r16], r17 */
    static const uint8_t LCX16[] = {0xf0, 0xd5, 0x98, 0xc7, 0x0c, 0x24}; /* lock cmpxchg16b [r20] */
    static const uint8_t XCHG[] = {0xd5, 0x5c, 0x87, 0x38};              /* xchg [r16], r31 */
    reset_state();
    S.xcr0 = 0x3 | (1u << 19);
    uint64_t m0;
    memcpy(&m0, R.mem + 0x100, 8);
    S.gpr[16] = DST;
    S.gpr[17] = 0x1000000000000001ull;
    CHECK(emu(LADD, sizeof(LADD), &r) == HVEMU_OK && R.n == 2 && R.log[0].kind == HVEMU_ACCESS_RMW_READ &&
          R.log[1].op == 'X' && R.log[1].size == 8, "lock add [r16], r17: %d %s", r.status,
          r.reason ? r.reason : "");
    uint64_t m1;
    memcpy(&m1, R.mem + 0x100, 8);
    CHECK(m1 == m0 + 0x1000000000000001ull, "lock add [r16], r17 value");
    S.gpr[20] = DST;
    memcpy(&S.gpr[HVEMU_RAX], R.mem + 0x100, 8);
    memcpy(&S.gpr[HVEMU_RDX], R.mem + 0x108, 8);
    CHECK(emu(LCX16, sizeof(LCX16), &r) == HVEMU_OK && (S.rflags & HVEMU_FLAG_ZF) && R.n == 2 &&
          R.log[1].op == 'X' && R.log[1].size == 16 && !memcmp(R.mem + 0x100, &S.gpr[HVEMU_RBX], 8),
          "lock cmpxchg16b [r20]: %d %s", r.status, r.reason ? r.reason : "");
    S.gpr[31] = 0x3131313131313131ull;
    memcpy(&m0, R.mem + 0x100, 8);
    CHECK(emu(XCHG, sizeof(XCHG), &r) == HVEMU_OK && R.n == 2 && R.log[1].op == 'X' &&
          S.gpr[31] == m0 && !memcmp(R.mem + 0x100, "\x31\x31\x31\x31\x31\x31\x31\x31", 8),
          "xchg [r16], r31 locked: %d %s", r.status, r.reason ? r.reason : "");
}

int main(void)
{
    if (native_init()) {
        printf("summary: cannot set up the native runner\n");
        return 1;
    }
    sweep_locked();
    sweep_unlocked();
    cmpxchg_rules();
    retry_rules();
    apx_rules();
    TEST_DONE();
}
