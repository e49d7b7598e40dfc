/* SPDX-License-Identifier: MIT */
/* SIMD moves (src/exec/simd.c): which state parts are loaded and dirtied, #UD/#NM from CR0, CR4
 * and XCR0 in their order, state untouched after a fault, masked stores (one write per run,
 * nothing outside the mask), and the string MOVSD still a string move. */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S;
static struct hvemu_ctx C;
static uint64_t loaded; /* parts load_state was asked for */

static int load_state(void *o, struct hvemu_state *s, uint64_t parts)
{
    (void)o;
    loaded |= parts;
    s->valid |= parts; /* the values are already in S: "loading" makes them valid */
    return HVEMU_CB_OK;
}

static struct hvemu_ops ops;

static int run(const char *hex, struct hvemu_result *r)
{
    uint8_t b[16];
    size_t n = hex_bytes(hex, b, sizeof b);
    S.rip = 0x401000;
    return hvemu_emulate_bytes(&C, b, n, r);
}

#define VEC_PARTS (HVEMU_PART_XMM | HVEMU_PART_YMM_HI | HVEMU_PART_ZMM | HVEMU_PART_OPMASK | \
                   HVEMU_PART_MXCSR)

static void reset(void)
{
    state_init64(&S);
    S.cr4 |= 1u << 9;      /* OSFXSR */
    S.xcr0 = 0xe7;         /* x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM */
    for (unsigned i = 0; i < 32; i++)
        for (unsigned j = 0; j < 64; j++)
            S.vec[i].b[j] = (uint8_t)(i * 64 + j + 1);
    for (unsigned i = 0; i < 8; i++)
        S.k[i] = 0x0101010101010101ull * (i + 1);
    S.valid = HVEMU_PART_ALL & ~VEC_PARTS;
    S.rip = 0x401000;
    loaded = 0;
}

static int vec_eq(unsigned i, unsigned from, unsigned to, const struct hvemu_state *ref)
{
    return !memcmp(S.vec[i].b + from, ref->vec[i].b + from, to - from);
}

static void expect_exc(const char *hex, unsigned vector, const char *what)
{
    struct hvemu_result r;
    static struct hvemu_state before;
    S.rip = 0x401000;
    before = S;
    int rc = run(hex, &r);
    CHECK(rc == HVEMU_EXCEPTION && r.exc.vector == vector, "%s: status %d vector %u", what, rc,
          r.exc.vector);
    CHECK(!memcmp(before.vec, S.vec, sizeof S.vec) && !memcmp(before.k, S.k, sizeof S.k) &&
              before.dirty == S.dirty && before.rip == S.rip, "%s: state changed", what);
}

int main(void)
{
    struct hvemu_result r;
    static struct hvemu_state ref;
    ops = bufmem_ops;
    ops.load_state = load_state;
    hvemu_init(&C, &ops, &M, &S);

    /* ---- lazy loading and dirty parts ---- */
    /* movaps xmm1, xmm2: XMM only; bits above 127 kept */
    reset();
    ref = S;
    CHECK(run("0f28ca", &r) == HVEMU_OK, "movaps: %d %s", r.status, r.reason ? r.reason : "");
    CHECK((loaded & VEC_PARTS) == HVEMU_PART_XMM, "movaps loaded %#llx", (unsigned long long)loaded);
    CHECK((S.dirty & VEC_PARTS) == HVEMU_PART_XMM, "movaps dirty %#llx", (unsigned long long)S.dirty);
    CHECK(!memcmp(S.vec[1].b, ref.vec[2].b, 16) && vec_eq(1, 16, 64, &ref), "movaps value");
    /* vmovdqu64 zmm1, zmm2 (62 f1 fe 48 6f ca): XMM, YMM_HI and ZMM */
    reset();
    ref = S;
    CHECK(run("62f1fe486fca", &r) == HVEMU_OK, "vmovdqu64: %d", r.status);
    uint64_t z3 = HVEMU_PART_XMM | HVEMU_PART_YMM_HI | HVEMU_PART_ZMM;
    CHECK((loaded & VEC_PARTS) == z3, "vmovdqu64 loaded %#llx", (unsigned long long)loaded);
    CHECK((S.dirty & VEC_PARTS) == z3, "vmovdqu64 dirty %#llx", (unsigned long long)S.dirty);
    CHECK(!memcmp(S.vec[1].b, ref.vec[2].b, 64), "vmovdqu64 value");
    /* vmovdqu ymm1, ymm2 (c5 fe 6f ca) with XCR0 lacking AVX-512: XMM and YMM_HI, and the
     * ZMM bits are left alone (that state does not exist for the guest) */
    reset();
    S.xcr0 = 7;
    ref = S;
    CHECK(run("c5fe6fca", &r) == HVEMU_OK, "vmovdqu ymm: %d", r.status);
    CHECK((loaded & VEC_PARTS) == (HVEMU_PART_XMM | HVEMU_PART_YMM_HI), "vmovdqu loaded %#llx",
          (unsigned long long)loaded);
    CHECK(!memcmp(S.vec[1].b, ref.vec[2].b, 32) && vec_eq(1, 32, 64, &ref), "vmovdqu ymm value");
    /* same with AVX-512 enabled: the upper 256 bits are zeroed, ZMM dirty */
    reset();
    CHECK(run("c5f96fca", &r) == HVEMU_OK, "vmovdqa xmm: %d", r.status); /* vmovdqa xmm1, xmm2 */
    CHECK((S.dirty & VEC_PARTS) == z3, "vex.128 dirty %#llx", (unsigned long long)S.dirty);
    uint8_t zero[48] = {0};
    CHECK(!memcmp(S.vec[1].b + 16, zero, 48), "vex.128 zeroes to VLMAX");
    /* movd xmm0, eax (66 0f 6e c0): legacy, bits 127:32 zero, above kept */
    reset();
    ref = S;
    S.gpr[HVEMU_RAX] = 0xdeadbeefcafef00dull;
    CHECK(run("660f6ec0", &r) == HVEMU_OK && S.vec[0].q[0] == 0xcafef00d && S.vec[0].q[1] == 0 &&
              vec_eq(0, 16, 64, &ref), "movd xmm0, eax");
    /* kmovw k1, k2 (c5 f8 90 ca): OPMASK only, zero-extended */
    reset();
    S.k[2] = 0xffffffffffff1234ull;
    CHECK(run("c5f890ca", &r) == HVEMU_OK && S.k[1] == 0x1234, "kmovw: %d %llx", r.status,
          (unsigned long long)S.k[1]);
    CHECK((loaded & VEC_PARTS) == HVEMU_PART_OPMASK && (S.dirty & VEC_PARTS) == HVEMU_PART_OPMASK,
          "kmovw parts loaded %#llx dirty %#llx", (unsigned long long)loaded, (unsigned long long)S.dirty);
    /* kmovb eax, k1 (c5 f9 93 c1): zero-extended to 64 */
    S.gpr[HVEMU_RAX] = ~0ull;
    S.k[1] = 0xabcd;
    CHECK(run("c5f993c1", &r) == HVEMU_OK && S.gpr[HVEMU_RAX] == 0xcd, "kmovb eax, k1: %llx",
          (unsigned long long)S.gpr[HVEMU_RAX]);
    /* without load_state, a missing part is unhandleable (named), nothing changed */
    reset();
    ops.load_state = NULL;
    CHECK(run("0f28ca", &r) == HVEMU_UNHANDLEABLE && S.dirty == 0, "no load_state: %d", r.status);
    ops.load_state = load_state;

    /* ---- #UD / #NM ---- */
    reset();
    S.cr0 |= 8; /* TS */
    expect_exc("0f28ca", HVEMU_EXC_NM, "movaps TS");
    expect_exc("c5fe6fca", HVEMU_EXC_NM, "vmovdqu TS");
    expect_exc("62f1fe486fca", HVEMU_EXC_NM, "vmovdqu64 TS");
    expect_exc("c5f890ca", HVEMU_EXC_NM, "kmovw TS");
    S.cr0 |= 4; /* EM: #UD before #NM for legacy SSE; VEX does not look at EM */
    expect_exc("0f28ca", HVEMU_EXC_UD, "movaps EM");
    expect_exc("c5fe6fca", HVEMU_EXC_NM, "vmovdqu EM+TS");
    reset();
    S.cr4 &= ~(uint64_t)(1u << 9); /* OSFXSR clear */
    expect_exc("0f28ca", HVEMU_EXC_UD, "movaps !OSFXSR");
    reset();
    S.cr4 &= ~(uint64_t)(1u << 18); /* OSXSAVE clear */
    S.cr0 |= 8;
    expect_exc("c5fe6fca", HVEMU_EXC_UD, "vmovdqu !OSXSAVE");
    reset();
    S.xcr0 = 3; /* no AVX state */
    expect_exc("c5fe6fca", HVEMU_EXC_UD, "vmovdqu XCR0=3");
    reset();
    S.xcr0 = 7; /* no AVX-512 state: EVEX and KMOV #UD, VEX fine */
    expect_exc("62f1fe486fca", HVEMU_EXC_UD, "vmovdqu64 XCR0=7");
    expect_exc("c5f890ca", HVEMU_EXC_UD, "kmovw XCR0=7");
    CHECK(run("c5fe6fca", &r) == HVEMU_OK, "vmovdqu XCR0=7");

    /* ---- memory: alignment, faults, masks ---- */
    reset();
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x108;
    expect_exc("0f2807", HVEMU_EXC_GP, "movaps misaligned"); /* movaps xmm0, [rdi] */
    CHECK(run("0f1007", &r) == HVEMU_OK && !memcmp(S.vec[0].b, M.mem + 0x108, 16), "movups");
    /* vmovdqu64 zmm1{k1}, [rdi] on an absent page: #PF, nothing changed */
    M.absent[1] = 1;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 4096 - 32;
    S.k[1] = ~0ull;
    expect_exc("62f1fe496f0f", HVEMU_EXC_PF, "masked load into an absent page");
    /* the same with only the elements below the page selected: no fault */
    S.k[1] = 0x0f;
    ref = S;
    unsigned r0 = M.reads;
    CHECK(run("62f1fe496f0f", &r) == HVEMU_OK && !memcmp(S.vec[1].b, M.mem + 4096 - 32, 32) &&
              vec_eq(1, 32, 64, &ref) && M.reads == r0 + 1, "masked load suppressed: %d", r.status);
    /* masked store vmovdqu32 [rdi]{k1}, zmm2 (62 f1 7e 49 7f 17), k1 = 0x0f0f: two runs of
     * 16 bytes, one write each; the bytes between are not written */
    M.absent[1] = 0;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x200;
    memset(M.mem + 0x200, 0xee, 64);
    S.k[1] = 0x0f0f;
    unsigned w0 = M.writes;
    CHECK(run("62f17e497f17", &r) == HVEMU_OK && M.writes == w0 + 2, "masked store writes %u",
          M.writes - w0);
    CHECK(!memcmp(M.mem + 0x200, S.vec[2].b, 16) && M.mem[0x210] == 0xee && M.mem[0x23f] == 0xee &&
              !memcmp(M.mem + 0x220, S.vec[2].b + 32, 16), "masked store bytes");
    /* the same store with its second run on an absent page: #PF, and the first run (on a
     * present page) is not written either: every run is probed first */
    M.absent[1] = 1;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 4096 - 32;
    memset(M.mem + 4096 - 32, 0xee, 32);
    w0 = M.writes;
    expect_exc("62f17e497f17", HVEMU_EXC_PF, "masked store, second run absent");
    CHECK(M.writes == w0 && M.mem[4096 - 32] == 0xee, "masked store: first run written (%u writes)",
          M.writes - w0);
    M.absent[1] = 0;
    /* zeroing-masking: vmovdqu32 zmm1{k1}{z}, zmm2 (62 f1 7e c9 6f ca) */
    S.k[1] = 0x1;
    CHECK(run("62f17ec96fca", &r) == HVEMU_OK && !memcmp(S.vec[1].b, S.vec[2].b, 4) &&
              !memcmp(S.vec[1].b + 4, zero, 48), "zeroing mask");

    /* ---- MOVSD: the string move (A5) is still one ---- */
    reset();
    S.gpr[HVEMU_RSI] = BUFMEM_BASE + 0x300;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x400;
    memcpy(M.mem + 0x300, "\x01\x02\x03\x04", 4);
    int rs = run("a5", &r);
    CHECK(rs == HVEMU_OK && !memcmp(M.mem + 0x400, "\x01\x02\x03\x04", 4) &&
              S.gpr[HVEMU_RSI] == BUFMEM_BASE + 0x304, "movsd string: %d %s", rs, r.reason ? r.reason : "");
    /* and the SSE2 one: movsd xmm0, [rsi] (f2 0f 10 06) zeroes bits 127:64 */
    CHECK(run("f20f1006", &r) == HVEMU_OK && S.vec[0].q[1] == 0, "movsd sse2");
    /* MMX movd mm0, eax (0f 6e c0): not executed */
    CHECK(run("0f6ec0", &r) == HVEMU_UNHANDLEABLE, "mmx movd: %d", r.status);
    TEST_DONE();
}
