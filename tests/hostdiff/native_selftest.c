/* SPDX-License-Identifier: MIT */
/*
 * Self-test of the native runner: known instructions with results worked out by hand, every
 * exception class the harness must report, branch outcomes, and a long run for leaks.
 * Uses no RDTSC (timing is clock_gettime) so it runs the same under any TSC policy.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "native.h"
#include "undef_flags.h"
#include "../unit/testlib.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#define X NATIVE_CODE_ADDR
#define CF 0x1u
#define PF 0x4u
#define AF 0x10u
#define ZF 0x40u
#define SF 0x80u
#define DF 0x400u
#define OF 0x800u
#define AC 0x40000u
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static struct native_state st, before;
static struct native_fault flt;
static char fbuf[160];

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void reset(void)
{
    memset(&st, 0, sizeof st);
    for (int i = 0; i < 16; i++)
        st.gpr[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
    st.gpr[RSP] = NATIVE_MEM_ADDR + 0x1000;
    st.rflags = 2;
    for (unsigned i = 0; i < NATIVE_MEM_SIZE; i++)
        st.mem[i] = (uint8_t)(i * 7 + 3);
}

#define RUN(...)                                                                                \
    ({                                                                                          \
        static const uint8_t b_[] = {__VA_ARGS__};                                              \
        before = st;                                                                            \
        native_run(b_, sizeof b_, &st, &flt);                                                   \
    })

static uint64_t mem64(uint64_t addr)
{
    uint64_t v;
    memcpy(&v, &st.mem[addr - NATIVE_MEM_ADDR], 8);
    return v;
}
static void set_mem64(uint64_t addr, uint64_t v)
{
    memcpy(&st.mem[addr - NATIVE_MEM_ADDR], &v, 8);
}

/* Registers other than those in `changed` (a bit mask) kept their values. */
static int others_same(unsigned changed)
{
    for (int i = 0; i < 16; i++)
        if (!(changed & (1u << i)) && st.gpr[i] != before.gpr[i])
            return 0;
    return 1;
}
static int state_same(void)
{
    return others_same(0) && st.rflags == before.rflags && !memcmp(st.mem, before.mem, sizeof st.mem);
}

static void test_roundtrip(void)
{
    /* NOP on random registers and every combination of the state flags. */
    for (unsigned f = 0; f < 256; f++) {
        reset();
        for (int i = 0; i < 16; i++)
            st.gpr[i] = rnd();
        uint32_t bits[8] = {CF, PF, AF, ZF, SF, DF, OF, AC};
        st.rflags = 2;
        for (int b = 0; b < 8; b++)
            if (f & (1u << b))
                st.rflags |= bits[b];
        int rc = RUN(0x90);
        CHECK(rc == NATIVE_OK && state_same() && st.rip == X + 1, "nop flags %#x rc %d", f, rc);
    }
    /* mov r_i, r_j for every pair: the 16 registers are loaded and stored in the right slots. */
    int bad = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            reset();
            for (int k = 0; k < 16; k++)
                st.gpr[k] = rnd();
            uint8_t b[3] = {(uint8_t)(0x48 | (j >= 8 ? 4 : 0) | (i >= 8 ? 1 : 0)), 0x89,
                            (uint8_t)(0xc0 | (j & 7) << 3 | (i & 7))};
            before = st;
            int rc = native_run(b, 3, &st, &flt);
            if (rc != NATIVE_OK || st.gpr[i] != before.gpr[j] || !others_same(1u << i) ||
                st.rip != X + 3)
                bad++;
        }
    CHECK(bad == 0, "%d of 256 mov r,r wrong", bad);
}

static void test_alu(void)
{
    reset();
    st.gpr[RAX] = 0x7fffffffffffffffull;
    st.gpr[RBX] = 1;
    int rc = RUN(0x48, 0x01, 0xd8); /* add rax, rbx */
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 0x8000000000000000ull && others_same(1u << RAX),
          "add: rax=%#llx", (unsigned long long)st.gpr[RAX]);
    CHECK(st.rflags == (2 | OF | SF | AF | PF), "add flags %#llx", (unsigned long long)st.rflags);
    CHECK(st.rip == X + 3, "add rip %#llx", (unsigned long long)st.rip);

    reset();
    st.gpr[RAX] = 5;
    st.gpr[RBX] = 5;
    rc = RUN(0x48, 0x29, 0xd8); /* sub rax, rbx */
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 0 && st.rflags == (2 | ZF | PF), "sub equal: %#llx",
          (unsigned long long)st.rflags);

    reset();
    st.gpr[RAX] = 0;
    st.gpr[RBX] = 1;
    rc = RUN(0x48, 0x29, 0xd8);
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == ~0ull && st.rflags == (2 | CF | SF | AF | PF),
          "sub borrow: %#llx", (unsigned long long)st.rflags);

    /* adc consumes CF; DF passes through untouched */
    reset();
    st.gpr[RAX] = 1;
    st.gpr[RBX] = 1;
    st.rflags = 2 | CF | DF;
    rc = RUN(0x48, 0x11, 0xd8); /* adc rax, rbx */
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 3 && st.rflags == (2 | DF | PF), "adc: %#llx",
          (unsigned long long)st.rflags);

    /* RSP as an ordinary register */
    reset();
    st.gpr[RSP] = 0xdeadbeef00000000ull;
    st.gpr[RAX] = 0x1234;
    rc = RUN(0x48, 0x01, 0xc4); /* add rsp, rax */
    CHECK(rc == NATIVE_OK && st.gpr[RSP] == 0xdeadbeef00001234ull && others_same(1u << RSP),
          "add rsp: %#llx", (unsigned long long)st.gpr[RSP]);

    /* 32-bit destination zero-extends */
    reset();
    st.gpr[RCX] = 0xffffffff00000001ull;
    rc = RUN(0xff, 0xc1); /* inc ecx */
    CHECK(rc == NATIVE_OK && st.gpr[RCX] == 2, "inc ecx: %#llx", (unsigned long long)st.gpr[RCX]);
}

static void test_memory(void)
{
    reset();
    st.gpr[RDI] = NATIVE_MEM_ADDR + 0x100;
    st.gpr[RSI] = 0x10;
    set_mem64(NATIVE_MEM_ADDR + 0x108, 0xfffffffffffffff8ull);
    int rc = RUN(0x48, 0x01, 0x77, 0x08); /* add [rdi+8], rsi */
    CHECK(rc == NATIVE_OK && mem64(NATIVE_MEM_ADDR + 0x108) == 8 && others_same(0),
          "add mem: %#llx", (unsigned long long)mem64(NATIVE_MEM_ADDR + 0x108));
    CHECK((st.rflags & (CF | ZF | SF | OF)) == CF, "add mem flags %#llx", (unsigned long long)st.rflags);
    /* only those 8 bytes changed */
    memcpy(&before.mem[0x108], &st.mem[0x108], 8);
    CHECK(!memcmp(st.mem, before.mem, sizeof st.mem), "memory outside the operand changed");

    /* RIP-relative load from the window */
    reset();
    set_mem64(NATIVE_MEM_ADDR + 0x40, 0x0123456789abcdefull);
    {
        int32_t disp = (int32_t)(int64_t)(NATIVE_MEM_ADDR + 0x40 - (X + 7));
        uint8_t b[7] = {0x48, 0x8b, 0x05};
        memcpy(b + 3, &disp, 4);
        before = st;
        rc = native_run(b, 7, &st, &flt);
    }
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 0x0123456789abcdefull, "rip-relative: %#llx",
          (unsigned long long)st.gpr[RAX]);

    /* 32-bit address size reaches the window too */
    reset();
    st.gpr[RBX] = 0xffffffff00000000ull | (NATIVE_MEM_ADDR + 0x80);
    set_mem64(NATIVE_MEM_ADDR + 0x80, 42);
    rc = RUN(0x67, 0x48, 0x8b, 0x03); /* mov rax, [ebx] */
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 42, "addr32: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));

    /* rep stosb with DF=1 walks down */
    reset();
    st.rflags = 2 | DF;
    st.gpr[RDI] = NATIVE_MEM_ADDR + 0x20;
    st.gpr[RCX] = 4;
    st.gpr[RAX] = 0xab;
    rc = RUN(0xf3, 0xaa);
    CHECK(rc == NATIVE_OK && st.gpr[RCX] == 0 && st.gpr[RDI] == NATIVE_MEM_ADDR + 0x1c &&
              st.mem[0x20] == 0xab && st.mem[0x1d] == 0xab && st.mem[0x1c] != 0xab &&
              st.rflags == (2 | DF),
          "std rep stosb");
}

static void test_faults(void)
{
    /* #DE */
    reset();
    st.gpr[RCX] = 0;
    int rc = RUN(0x48, 0xf7, 0xf1); /* div rcx */
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGFPE && flt.vector == 0 && flt.si_code == FPE_INTDIV,
          "div0: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
    CHECK(state_same() && st.rip == X, "div0 changed state");
    /* #DE from quotient overflow too */
    reset();
    st.gpr[RDX] = 5;
    st.gpr[RCX] = 5;
    rc = RUN(0x48, 0xf7, 0xf1);
    CHECK(rc == NATIVE_FAULT && flt.vector == 0, "div overflow: %s", native_fault_str(&flt, fbuf, sizeof fbuf));

    /* #PF read and write on the PROT_NONE window; error code: W bit 1, U bit 2, P bit 0 clear */
    reset();
    st.gpr[RDI] = NATIVE_FAULT_ADDR + 0x10;
    rc = RUN(0x48, 0x8b, 0x07); /* mov rax, [rdi] */
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGSEGV && flt.vector == 14 &&
              flt.fault_addr == NATIVE_FAULT_ADDR + 0x10 && (flt.error_code & 7) == 4 && state_same() &&
              st.rip == X,
          "pf read: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    reset();
    st.gpr[RDI] = NATIVE_FAULT_ADDR + 0x1ff8;
    rc = RUN(0x48, 0x89, 0x07); /* mov [rdi], rax */
    CHECK(rc == NATIVE_FAULT && flt.vector == 14 && flt.fault_addr == NATIVE_FAULT_ADDR + 0x1ff8 &&
              (flt.error_code & 7) == 6 && flt.cr2 == flt.fault_addr && state_same(),
          "pf write: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    /* an access crossing from the window into the fault area faults at the page boundary */
    reset();
    st.gpr[RDI] = NATIVE_FAULT_ADDR - 4;
    rc = RUN(0x48, 0x89, 0x07);
    CHECK(rc == NATIVE_FAULT && flt.vector == 14 && flt.fault_addr == NATIVE_FAULT_ADDR && state_same(),
          "pf crossing: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    /* the guard page below the window */
    reset();
    st.gpr[RDI] = NATIVE_MEM_ADDR - 1;
    rc = RUN(0x8a, 0x07); /* mov al, [rdi] */
    CHECK(rc == NATIVE_FAULT && flt.vector == 14 && flt.fault_addr == NATIVE_MEM_ADDR - 1,
          "pf below: %s", native_fault_str(&flt, fbuf, sizeof fbuf));

    /* REP MOVSB stopping at the fault area keeps its progress (RCX/RSI/RDI) */
    reset();
    st.gpr[RSI] = NATIVE_MEM_ADDR;
    st.gpr[RDI] = NATIVE_FAULT_ADDR - 16;
    st.gpr[RCX] = 64;
    rc = RUN(0xf3, 0xa4);
    CHECK(rc == NATIVE_FAULT && flt.vector == 14 && flt.fault_addr == NATIVE_FAULT_ADDR && st.rip == X &&
              st.gpr[RCX] == 48 && st.gpr[RDI] == NATIVE_FAULT_ADDR && st.gpr[RSI] == NATIVE_MEM_ADDR + 16 &&
              !memcmp(&st.mem[NATIVE_MEM_SIZE - 16], &st.mem[0], 16),
          "rep movsb partial: rcx=%llu %s", (unsigned long long)st.gpr[RCX],
          native_fault_str(&flt, fbuf, sizeof fbuf));

    /* #UD */
    reset();
    rc = RUN(0x0f, 0x0b);
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGILL && flt.vector == 6 && state_same() && st.rip == X,
          "ud2: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    /* an encoding that is invalid in 64-bit mode (PUSH ES) */
    reset();
    rc = RUN(0x06);
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGILL && flt.vector == 6, "push es: %s",
          native_fault_str(&flt, fbuf, sizeof fbuf));

    /* #GP(0): non-canonical data address; #SS(0) when the base is RSP */
    reset();
    st.gpr[RDI] = 0x8000000000000000ull;
    rc = RUN(0x48, 0x8b, 0x07);
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGSEGV && flt.vector == 13 && flt.error_code == 0 &&
              state_same(),
          "gp: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    reset();
    st.gpr[RSP] = 0x8000000000000000ull;
    rc = RUN(0x48, 0x8b, 0x04, 0x24); /* mov rax, [rsp] */
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGBUS && flt.vector == 12 && state_same(),
          "ss: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    /* privileged instruction: HLT is #GP(0) at CPL 3 */
    reset();
    rc = RUN(0xf4);
    CHECK(rc == NATIVE_FAULT && flt.vector == 13, "hlt: %s", native_fault_str(&flt, fbuf, sizeof fbuf));

    /* #AC: AC=1 and a misaligned load */
    reset();
    st.rflags = 2 | AC;
    st.gpr[RDI] = NATIVE_MEM_ADDR + 0x100;
    rc = RUN(0x8b, 0x47, 0x01); /* mov eax, [rdi+1] */
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGBUS && flt.vector == 17 && flt.si_code == BUS_ADRALN &&
              state_same(),
          "ac: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
    /* ...and the same load aligned runs, AC staying set */
    reset();
    st.rflags = 2 | AC;
    st.gpr[RDI] = NATIVE_MEM_ADDR + 0x100;
    rc = RUN(0x8b, 0x47, 0x04);
    CHECK(rc == NATIVE_OK && st.rflags == (2 | AC), "ac aligned: rc %d", rc);

    /* INT3 in the test itself is a trap: RIP after it */
    reset();
    rc = RUN(0xcc);
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGTRAP && flt.vector == 3 && st.rip == X + 1,
          "int3: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
    /* INT n (not 3) from CPL 3: #GP(n*8+2) */
    reset();
    rc = RUN(0xcd, 0x21);
    CHECK(rc == NATIVE_FAULT && flt.vector == 13 && flt.error_code == 0x21 * 8 + 2, "int 21: %s",
          native_fault_str(&flt, fbuf, sizeof fbuf));

    /* SYSCALL never reaches the kernel's syscall table (seccomp) */
    reset();
    st.gpr[RAX] = 60; /* exit */
    st.gpr[RDI] = 77;
    rc = RUN(0x0f, 0x05);
    CHECK(rc == NATIVE_FAULT && flt.signo == SIGSYS, "syscall: rc %d %s", rc,
          native_fault_str(&flt, fbuf, sizeof fbuf));
}

static void test_branches(void)
{
    reset();
    st.rflags = 2 | ZF;
    int rc = RUN(0x74, 0x10); /* jz +0x10 */
    CHECK(rc == NATIVE_OK && st.rip == X + 2 + 0x10 && others_same(0) && st.rflags == (2 | ZF),
          "jz taken: rc %d rip %#llx", rc, (unsigned long long)st.rip);
    reset();
    rc = RUN(0x74, 0x10);
    CHECK(rc == NATIVE_OK && st.rip == X + 2, "jz not taken: %#llx", (unsigned long long)st.rip);
    /* targets right after the instruction: inside the fall-through jump's displacement */
    for (int d = 1; d <= 5; d++) {
        reset();
        uint8_t b[2] = {0xeb, (uint8_t)d};
        rc = native_run(b, 2, &st, &flt);
        CHECK(rc == NATIVE_OK && st.rip == X + 2 + (uint64_t)d, "jmp +%d: %#llx", d, (unsigned long long)st.rip);
    }
    reset();
    rc = RUN(0xeb, 0x80); /* jmp -128 */
    CHECK(rc == NATIVE_OK && st.rip == X + 2 - 128, "jmp back: %#llx", (unsigned long long)st.rip);
    reset();
    rc = RUN(0x0f, 0x8c, 0x00, 0x10, 0x00, 0x00); /* jl rel32 +0x1000, SF==OF: not taken */
    CHECK(rc == NATIVE_OK && st.rip == X + 6, "jl not taken");
    reset();
    st.rflags = 2 | SF;
    rc = RUN(0x0f, 0x8c, 0x00, 0x10, 0x00, 0x00);
    CHECK(rc == NATIVE_OK && st.rip == X + 6 + 0x1000, "jl taken: %#llx", (unsigned long long)st.rip);
    /* far target outside the code region: the fetch fault gives it */
    reset();
    rc = RUN(0xe9, 0x00, 0x00, 0x00, 0x10); /* jmp +0x10000000 */
    CHECK(rc == NATIVE_OK && st.rip == X + 5 + 0x10000000, "jmp far: rc %d %#llx", rc, (unsigned long long)st.rip);
    /* into the (non-executable) memory window */
    reset();
    {
        int32_t disp = (int32_t)(int64_t)(NATIVE_MEM_ADDR + 0x10 - (X + 5));
        uint8_t b[5] = {0xe9};
        memcpy(b + 1, &disp, 4);
        rc = native_run(b, 5, &st, &flt);
    }
    CHECK(rc == NATIVE_OK && st.rip == NATIVE_MEM_ADDR + 0x10, "jmp window: rc %d %#llx", rc,
          (unsigned long long)st.rip);
    /* indirect */
    reset();
    st.gpr[RAX] = X + 0x333;
    rc = RUN(0xff, 0xe0); /* jmp rax */
    CHECK(rc == NATIVE_OK && st.rip == X + 0x333, "jmp rax");

    /* LOOP: decrement and branch */
    reset();
    st.gpr[RCX] = 2;
    rc = RUN(0xe2, 0x20);
    CHECK(rc == NATIVE_OK && st.gpr[RCX] == 1 && st.rip == X + 2 + 0x20, "loop taken");
    reset();
    st.gpr[RCX] = 1;
    rc = RUN(0xe2, 0x20);
    CHECK(rc == NATIVE_OK && st.gpr[RCX] == 0 && st.rip == X + 2, "loop not taken");

    /* CALL: return address pushed into the window, RSP-8 */
    reset();
    rc = RUN(0xe8, 0x00, 0x01, 0x00, 0x00); /* call +0x100 */
    CHECK(rc == NATIVE_OK && st.rip == X + 5 + 0x100 && st.gpr[RSP] == NATIVE_MEM_ADDR + 0xff8 &&
              mem64(NATIVE_MEM_ADDR + 0xff8) == X + 5 && others_same(1u << RSP),
          "call: rip %#llx rsp %#llx", (unsigned long long)st.rip, (unsigned long long)st.gpr[RSP]);
    /* RET: pops the target */
    reset();
    set_mem64(NATIVE_MEM_ADDR + 0x1000, X + 0x40);
    rc = RUN(0xc3);
    CHECK(rc == NATIVE_OK && st.rip == X + 0x40 && st.gpr[RSP] == NATIVE_MEM_ADDR + 0x1008, "ret");
    reset();
    set_mem64(NATIVE_MEM_ADDR + 0x1000, X - 0x40);
    rc = RUN(0xc2, 0x10, 0x00); /* ret 16 */
    CHECK(rc == NATIVE_OK && st.rip == X - 0x40 && st.gpr[RSP] == NATIVE_MEM_ADDR + 0x1018, "ret 16");
    /* CALL with the stack in the fault area: #PF on the push, nothing changed */
    reset();
    st.gpr[RSP] = NATIVE_FAULT_ADDR + 8;
    rc = RUN(0xe8, 0x00, 0x01, 0x00, 0x00);
    CHECK(rc == NATIVE_FAULT && flt.vector == 14 && flt.fault_addr == NATIVE_FAULT_ADDR && (flt.error_code & 2) &&
              state_same() && st.rip == X,
          "call pf: %s", native_fault_str(&flt, fbuf, sizeof fbuf));

    /* A branch to itself never ends: the watchdog stops it */
    reset();
    native_set_timeout_ms(50);
    rc = RUN(0xeb, 0xfe);
    CHECK(rc == NATIVE_TIMEOUT && st.rip == X, "jmp $: rc %d", rc);
    native_set_timeout_ms(200);
}

static void test_pushf_popf(void)
{
    reset();
    st.rflags = 2 | CF | ZF | DF | OF;
    int rc = RUN(0x9c); /* pushfq */
    uint64_t pushed = mem64(NATIVE_MEM_ADDR + 0xff8);
    CHECK(rc == NATIVE_OK && st.gpr[RSP] == NATIVE_MEM_ADDR + 0xff8 && st.rip == X + 1, "pushf");
    /* the image carries IF (user mode runs with it) and the fixed bit 1; no TF, no RF */
    CHECK((pushed & 0x3fffff) == (2 | CF | ZF | DF | OF | 0x200), "pushf image %#llx", (unsigned long long)pushed);

    reset();
    set_mem64(NATIVE_MEM_ADDR + 0x1000, 0x202 | SF | AF | PF | AC);
    rc = RUN(0x9d); /* popfq */
    CHECK(rc == NATIVE_OK && st.rflags == (2 | SF | AF | PF | AC) && st.gpr[RSP] == NATIVE_MEM_ADDR + 0x1008,
          "popf: %#llx", (unsigned long long)st.rflags);

    /* LAHF/SAHF-free check of flag output: SETcc sees what RFLAGS says */
    reset();
    st.rflags = 2 | OF;
    rc = RUN(0x0f, 0x90, 0xc0); /* seto al */
    CHECK(rc == NATIVE_OK && (st.gpr[RAX] & 0xff) == 1, "seto");
}

/* A fact the undefined-flags table relies on: BSF with a zero source. */
static void test_bsf_zero(void)
{
    reset();
    st.gpr[RAX] = 0xffffffff12345678ull;
    st.gpr[RCX] = 0;
    int rc = RUN(0x0f, 0xbc, 0xc1); /* bsf eax, ecx */
    printf("host: bsf eax, 0 -> rax=%#llx (zf=%d)\n", (unsigned long long)st.gpr[RAX], !!(st.rflags & ZF));
    uint64_t mask = 0;
    uint32_t fl = undef_flags_for("bsf", 32, 0, 0, &mask);
    CHECK(rc == NATIVE_OK && (st.rflags & ZF) &&
              (st.gpr[RAX] & ~mask) == (0xffffffff12345678ull & ~mask),
          "bsf zero: rax %#llx", (unsigned long long)st.gpr[RAX]);
    CHECK(fl == (CF | OF | SF | AF | PF), "bsf undefined flags %#x", fl);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return -1;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_many(void)
{
    int maps0 = count_lines("/proc/self/maps"), fds0 = count_fds();
    struct timespec t0, t1;
    int n = 20000, bad = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        reset();
        st.gpr[RAX] = rnd();
        st.gpr[RBX] = rnd();
        st.gpr[RCX] = i % 3 ? rnd() : 0;
        st.gpr[RDI] = i % 5 ? NATIVE_MEM_ADDR + 0x10 : NATIVE_FAULT_ADDR;
        int rc;
        switch (i % 4) {
        case 0: rc = RUN(0x48, 0x01, 0xd8); if (rc != NATIVE_OK || st.gpr[RAX] != before.gpr[RAX] + before.gpr[RBX]) bad++; break;
        case 1: rc = RUN(0x48, 0xf7, 0xf1); if ((before.gpr[RCX] == 0 || before.gpr[RDX] >= before.gpr[RCX]) != (rc == NATIVE_FAULT)) bad++; break;
        case 2: rc = RUN(0x48, 0x89, 0x07); if ((before.gpr[RDI] == NATIVE_FAULT_ADDR) != (rc == NATIVE_FAULT)) bad++; break;
        default: rc = RUN(0x74, 0x05); if (rc != NATIVE_OK || st.rip != X + 2) bad++; break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
    CHECK(bad == 0, "%d of %d mixed runs wrong", bad, n);
    CHECK(count_lines("/proc/self/maps") == maps0 && count_fds() == fds0, "mappings or fds leaked");
    printf("cases: %d mixed runs (a quarter faulting), %.2f us per run\n", n, us);
}

int main(void)
{
    if (native_init()) {
        printf("native_init failed\n");
        return 1;
    }
    test_roundtrip();
    test_alu();
    test_memory();
    test_faults();
    test_branches();
    test_pushf_popf();
    test_bsf_zero();
    test_many();
    native_fini();
    TEST_DONE();
}
