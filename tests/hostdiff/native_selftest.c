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

#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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
        CHECK(rc == NATIVE_OK && state_same() && st.rip == X + 1, "nop flags %#x rc %d %s", f, rc, native_fault_str(&flt, fbuf, sizeof fbuf));
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
    reset();
    st.gpr[RAX] = 1; /* exit, in the 32-bit table */
    st.gpr[RBX] = 78;
    rc = RUN(0xcd, 0x80);
    /* a kernel without 32-bit emulation has no gate for it: #GP(0x80*8+2) */
    CHECK(rc == NATIVE_FAULT && (flt.signo == SIGSYS || (flt.vector == 13 && flt.error_code == 0x402)),
          "int 80h: rc %d %s", rc,
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
    native_set_timeout_ms(100);
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

/* The undefined-flags table against this host: with the inputs fixed and only the input
 * flags changed (all clear vs all set, except the flags the instruction reads), every flag
 * the table calls defined must come out either the same both times (computed from the
 * operands) or equal to its input both times (left unaffected). Anything else is a flag the
 * host treats as undefined that the table does not mask. Registers must not depend on the
 * input flags either (beyond the table's destination mask). Also prints, per family, which
 * of the masked flags this host computes and which it passes through, for the notes. */
struct fam {
    const char *mn;
    unsigned width;
    uint32_t reads; /* flags the instruction consumes */
    uint8_t len;
    uint8_t b[7];
    uint8_t need; /* 0 base, 1 lzcnt, 2 bmi1, 3 bmi2, 4 adx */
};
static const struct fam fams[] = {
    {"add", 64, 0, 3, {0x48, 0x01, 0xd8}, 0},
    {"adc", 64, CF, 3, {0x48, 0x11, 0xd8}, 0},
    {"sub", 64, 0, 3, {0x48, 0x29, 0xd8}, 0},
    {"sbb", 64, CF, 3, {0x48, 0x19, 0xd8}, 0},
    {"cmp", 64, 0, 3, {0x48, 0x39, 0xd8}, 0},
    {"neg", 64, 0, 3, {0x48, 0xf7, 0xd8}, 0},
    {"inc", 64, 0, 3, {0x48, 0xff, 0xc0}, 0},
    {"dec", 64, 0, 3, {0x48, 0xff, 0xc8}, 0},
    {"and", 64, 0, 3, {0x48, 0x21, 0xd8}, 0},
    {"or", 64, 0, 3, {0x48, 0x09, 0xd8}, 0},
    {"xor", 64, 0, 3, {0x48, 0x31, 0xd8}, 0},
    {"test", 64, 0, 3, {0x48, 0x85, 0xd8}, 0},
    {"mul", 64, 0, 3, {0x48, 0xf7, 0xe3}, 0},
    {"mul", 8, 0, 2, {0xf6, 0xe3}, 0},
    {"imul", 64, 0, 3, {0x48, 0xf7, 0xeb}, 0},
    {"imul", 64, 0, 4, {0x48, 0x0f, 0xaf, 0xc3}, 0},
    {"imul", 16, 0, 4, {0x66, 0x0f, 0xaf, 0xc3}, 0},
    {"div", 64, 0, 3, {0x48, 0xf7, 0xf3}, 0},
    {"idiv", 64, 0, 3, {0x48, 0xf7, 0xfb}, 0},
    {"div", 8, 0, 2, {0xf6, 0xf3}, 0},
    {"shl", 64, 0, 3, {0x48, 0xd3, 0xe0}, 0},
    {"shl", 8, 0, 2, {0xd2, 0xe0}, 0},
    {"shl", 16, 0, 3, {0x66, 0xd3, 0xe0}, 0},
    {"shr", 64, 0, 3, {0x48, 0xd3, 0xe8}, 0},
    {"shr", 8, 0, 2, {0xd2, 0xe8}, 0},
    {"sar", 64, 0, 3, {0x48, 0xd3, 0xf8}, 0},
    {"sar", 8, 0, 2, {0xd2, 0xf8}, 0},
    {"rol", 64, 0, 3, {0x48, 0xd3, 0xc0}, 0},
    {"rol", 8, 0, 2, {0xd2, 0xc0}, 0},
    {"ror", 64, 0, 3, {0x48, 0xd3, 0xc8}, 0},
    {"ror", 16, 0, 3, {0x66, 0xd3, 0xc8}, 0},
    {"rcl", 64, CF, 3, {0x48, 0xd3, 0xd0}, 0},
    {"rcl", 8, CF, 2, {0xd2, 0xd0}, 0},
    {"rcr", 64, CF, 3, {0x48, 0xd3, 0xd8}, 0},
    {"rcr", 16, CF, 3, {0x66, 0xd3, 0xd8}, 0},
    {"shld", 64, 0, 4, {0x48, 0x0f, 0xa5, 0xd8}, 0},
    {"shld", 16, 0, 4, {0x66, 0x0f, 0xa5, 0xd8}, 0},
    {"shrd", 64, 0, 4, {0x48, 0x0f, 0xad, 0xd8}, 0},
    {"shrd", 16, 0, 4, {0x66, 0x0f, 0xad, 0xd8}, 0},
    {"shrd", 32, 0, 3, {0x0f, 0xad, 0xd8}, 0},
    {"bsf", 64, 0, 4, {0x48, 0x0f, 0xbc, 0xc3}, 0},
    {"bsf", 32, 0, 3, {0x0f, 0xbc, 0xc3}, 0},
    {"bsf", 16, 0, 4, {0x66, 0x0f, 0xbc, 0xc3}, 0},
    {"bsr", 64, 0, 4, {0x48, 0x0f, 0xbd, 0xc3}, 0},
    {"bsr", 32, 0, 3, {0x0f, 0xbd, 0xc3}, 0},
    {"bt", 64, 0, 4, {0x48, 0x0f, 0xa3, 0xd8}, 0},
    {"bts", 64, 0, 4, {0x48, 0x0f, 0xab, 0xd8}, 0},
    {"btr", 64, 0, 4, {0x48, 0x0f, 0xb3, 0xd8}, 0},
    {"btc", 64, 0, 4, {0x48, 0x0f, 0xbb, 0xd8}, 0},
    {"popcnt", 64, 0, 5, {0xf3, 0x48, 0x0f, 0xb8, 0xc3}, 0},
    {"lzcnt", 64, 0, 5, {0xf3, 0x48, 0x0f, 0xbd, 0xc3}, 1},
    {"tzcnt", 64, 0, 5, {0xf3, 0x48, 0x0f, 0xbc, 0xc3}, 2},
    {"andn", 64, 0, 5, {0xc4, 0xe2, 0xe0, 0xf2, 0xc1}, 2},
    {"bextr", 64, 0, 5, {0xc4, 0xe2, 0xe0, 0xf7, 0xc1}, 2},
    {"blsi", 64, 0, 5, {0xc4, 0xe2, 0xf8, 0xf3, 0xd9}, 2},
    {"blsmsk", 64, 0, 5, {0xc4, 0xe2, 0xf8, 0xf3, 0xd1}, 2},
    {"blsr", 64, 0, 5, {0xc4, 0xe2, 0xf8, 0xf3, 0xc9}, 2},
    {"bzhi", 64, 0, 5, {0xc4, 0xe2, 0xe0, 0xf5, 0xc1}, 3},
    {"sarx", 64, 0, 5, {0xc4, 0xe2, 0xe2, 0xf7, 0xc1}, 3},
    {"mulx", 64, 0, 5, {0xc4, 0xe2, 0xe3, 0xf6, 0xc1}, 3},
    {"pdep", 64, 0, 5, {0xc4, 0xe2, 0xe3, 0xf5, 0xc1}, 3},
    {"pext", 64, 0, 5, {0xc4, 0xe2, 0xe2, 0xf5, 0xc1}, 3},
    {"rorx", 64, 0, 6, {0xc4, 0xe3, 0xfb, 0xf0, 0xc3, 0x05}, 3},
    {"adcx", 64, CF, 6, {0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3}, 4},
    {"adox", 64, OF, 6, {0xf3, 0x48, 0x0f, 0x38, 0xf6, 0xc3}, 4},
    {"crc32", 64, 0, 6, {0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc3}, 0},
};

static int host_has(int need)
{
    unsigned a, b, c, d;
    switch (need) {
    case 1: return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c >> 5 & 1);
    case 2: return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 3 & 1);
    case 3: return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 8 & 1);
    case 4: return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 19 & 1);
    default: return 1;
    }
}

static void test_undef_table(void)
{
    static const uint32_t six[6] = {CF, PF, AF, ZF, SF, OF};
    static const char *const names[6] = {"CF", "PF", "AF", "ZF", "SF", "OF"};
    int bad = 0, runs = 0;
    for (unsigned f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        const struct fam *fm = &fams[f];
        CHECK(undef_flags_lookup(fm->mn) != NULL, "%s not in the table", fm->mn);
        if (!host_has(fm->need)) {
            printf("host: %s not supported here, skipped\n", fm->mn);
            continue;
        }
        uint32_t computed = 0, passed = 0; /* masked flags seen computed / passed through */
        for (int t = 0; t < 400; t++) {
            struct native_state a, b;
            reset();
            st.gpr[RAX] = rnd();
            st.gpr[RBX] = rnd();
            st.gpr[RCX] = rnd();
            st.gpr[RDX] = rnd();
            switch (t % 4) { /* small values and zeros matter for counts and bit scans */
            case 1: st.gpr[RCX] = rnd() % 72; st.gpr[RBX] &= 0xff; break;
            case 2: st.gpr[RBX] = 0; st.gpr[RCX] = t / 4 % 3; break;
            case 3: st.gpr[RAX] &= 0xffff; st.gpr[RCX] = 1; break;
            }
            if (!strcmp(fm->mn, "div") || !strcmp(fm->mn, "idiv")) {
                st.gpr[RDX] = 0;
                st.gpr[RAX] >>= 2;
                st.gpr[RBX] |= 0x101; /* nonzero divisor, bl included */
                st.gpr[RAX] &= fm->width == 8 ? 0xff : ~0ull;
            }
            uint32_t fixed = (uint32_t)rnd() & fm->reads;
            a = st;
            a.rflags = 2 | fixed;
            b = st;
            b.rflags = 2 | fixed | ((CF | PF | AF | ZF | SF | OF) & ~fm->reads);
            struct native_state ia = a, ib = b;
            int ra = native_run(fm->b, fm->len, &a, &flt);
            int rb = native_run(fm->b, fm->len, &b, &flt);
            runs += 2;
            if (ra != NATIVE_OK || rb != NATIVE_OK) {
                bad++;
                printf("%s/%u: rc %d %d\n", fm->mn, fm->width, ra, rb);
                continue;
            }
            uint64_t dmask = 0;
            uint64_t count = st.gpr[RCX];
            uint32_t undef = undef_flags_for(fm->mn, fm->width, count, st.gpr[RBX], &dmask);
            for (int k = 0; k < 6; k++) {
                uint32_t bit = six[k];
                int oa = !!(a.rflags & bit), ob = !!(b.rflags & bit);
                int ina = !!(ia.rflags & bit), inb = !!(ib.rflags & bit);
                int same = oa == ob, through = oa == ina && ob == inb;
                if (undef & bit) {
                    if (!same)
                        passed |= bit;
                    else if (!through)
                        computed |= bit;
                    continue;
                }
                if (!same && !through) {
                    bad++;
                    printf("%s/%u: %s depends on input flags (rax=%#llx rbx=%#llx rcx=%#llx): %d->%d, %d->%d\n",
                           fm->mn, fm->width, names[k], (unsigned long long)st.gpr[RAX],
                           (unsigned long long)st.gpr[RBX], (unsigned long long)st.gpr[RCX], ina, oa, inb, ob);
                }
            }
            for (int r = 0; r < 16; r++) {
                uint64_t m = r == RAX ? ~dmask : ~0ull;
                if ((a.gpr[r] & m) != (b.gpr[r] & m)) {
                    bad++;
                    printf("%s/%u: register %d depends on input flags\n", fm->mn, fm->width, r);
                }
            }
        }
        char line[160];
        int n = snprintf(line, sizeof line, "host: %-6s/%-2u masked:", fm->mn, fm->width);
        for (int k = 0; k < 6; k++)
            if ((computed | passed) & six[k])
                n += snprintf(line + n, sizeof line - (size_t)n, " %s=%s", names[k],
                              passed & six[k] ? "input" : "computed");
        printf("%s\n", line);
    }
    /* BT leaves ZF alone on this host, as the current SDM says */
    for (int z = 0; z < 2; z++) {
        reset();
        st.rflags = 2 | (z ? ZF : 0);
        st.gpr[RBX] = 5;
        st.gpr[RAX] = 0x20;
        int rc = RUN(0x48, 0x0f, 0xa3, 0xd8);
        CHECK(rc == NATIVE_OK && (st.rflags & CF) && !!(st.rflags & ZF) == z, "bt zf %d", z);
    }
    CHECK(bad == 0, "%d undefined-flag disagreements in %d runs", bad, runs);
    printf("cases: %d runs of %u families against the undefined-flags table\n", runs,
           (unsigned)(sizeof fams / sizeof fams[0]));
}

/* Host control state survives what a test does to it; another thread is refused. */
static void *other_thread(void *arg)
{
    (void)arg;
    static const uint8_t nop = 0x90;
    struct native_state *s2 = calloc(1, sizeof *s2);
    int rc = native_run(&nop, 1, s2, NULL);
    free(s2);
    return (void *)(intptr_t)rc;
}

static void test_host_state(void)
{
    uint32_t mx0, mx1;
    uint16_t cw0, cw1;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mx0), "=m"(cw0));
    reset();
    st.gpr[RDI] = NATIVE_MEM_ADDR + 0x40;
    uint32_t weird = 0x7f80 | 0x6000; /* all masked, round toward zero */
    memcpy(&st.mem[0x40], &weird, 4);
    int rc = RUN(0x0f, 0xae, 0x17); /* ldmxcsr [rdi] */
    CHECK(rc == NATIVE_OK, "ldmxcsr rc %d", rc);
    reset();
    st.gpr[RDI] = NATIVE_MEM_ADDR + 0x40;
    st.mem[0x40] = 0x7f;
    st.mem[0x41] = 0x0c; /* round toward zero, all masked */
    rc = RUN(0xd9, 0x2f); /* fldcw [rdi] */
    CHECK(rc == NATIVE_OK, "fldcw rc %d", rc);
    reset();
    rc = RUN(0xfd); /* std */
    CHECK(rc == NATIVE_OK && st.rflags == (2 | DF), "std: %#llx", (unsigned long long)st.rflags);
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mx1), "=m"(cw1));
    CHECK(mx0 == mx1 && cw0 == cw1, "host mxcsr %#x->%#x fcw %#x->%#x", mx0, mx1, cw0, cw1);
    uint64_t fl;
    __asm__ volatile("pushfq\n\tpopq %0" : "=r"(fl));
    CHECK(!(fl & (DF | AC)), "host rflags %#llx", (unsigned long long)fl);

    /* Segment loads that would break glibc's TLS if left behind. errno lives in TLS: using
     * it after each run proves FS is right. */
    static const struct {
        uint8_t b[4];
        uint8_t len;
        uint64_t rax;
        const char *what;
    } segs[] = {
        {{0x8e, 0xe0}, 2, 0, "mov fs, 0"},
        {{0x8e, 0xe0}, 2, 0x2b, "mov fs, 0x2b"},
        {{0x8e, 0xe8}, 2, 0, "mov gs, 0"},
        {{0x8e, 0xe8}, 2, 0x2b, "mov gs, 0x2b"},
        {{0x8e, 0xd8}, 2, 0, "mov ds, 0"},
        {{0x8e, 0xc0}, 2, 0x2b, "mov es, 0x2b"},
        {{0x8e, 0xe0}, 2, 0x1234, "mov fs, bad"},
        {{0x0f, 0xa1}, 2, 0, "pop fs"},
        {{0xf3, 0x48, 0x0f, 0xae}, 4, 0, "wrfsbase (needs modrm)"},
    };
    for (unsigned i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        uint8_t b[5];
        memcpy(b, segs[i].b, 4);
        unsigned len = segs[i].len;
        if (i == 8) {
            /* with the FSGSBASE probe disabled for testing, WRFSBASE would really run */
            if (getenv("HVEMU_NATIVE_NO_FSGSBASE"))
                continue;
            b[len++] = 0xd0; /* wrfsbase rax */
        }
        reset();
        st.gpr[RAX] = segs[i].rax;
        set_mem64(NATIVE_MEM_ADDR + 0x1000, 0x2b);
        rc = native_run(b, len, &st, &flt);
        errno = 0;
        errno = (int)i + 100;
        CHECK(errno == (int)i + 100, "%s", segs[i].what);
        printf("host: %s -> rc %d %s\n", segs[i].what, rc,
               rc == NATIVE_FAULT ? native_fault_str(&flt, fbuf, sizeof fbuf) : "");
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%d", 42); /* locale data: TLS again */
    CHECK(!strcmp(buf, "42"), "tls after segment loads");

    /* FS/GS overrides address from the state's bases */
    reset();
    st.fs_base = NATIVE_MEM_ADDR;
    st.gs_base = NATIVE_MEM_ADDR + 0x800;
    st.gpr[RDI] = 0x40;
    set_mem64(NATIVE_MEM_ADDR + 0x40, 0x1111);
    set_mem64(NATIVE_MEM_ADDR + 0x840, 0x2222);
    rc = RUN(0x64, 0x48, 0x8b, 0x07); /* mov rax, fs:[rdi] */
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 0x1111, "fs: rc %d rax %#llx", rc, (unsigned long long)st.gpr[RAX]);
    rc = RUN(0x65, 0x48, 0x89, 0x5f, 0x08); /* mov gs:[rdi+8], rbx */
    CHECK(rc == NATIVE_OK && mem64(NATIVE_MEM_ADDR + 0x848) == st.gpr[RBX], "gs store: rc %d", rc);
    rc = RUN(0xf3, 0x48, 0x0f, 0xae, 0xc1); /* rdfsbase rcx: #UD where FSGSBASE is off */
    CHECK(getenv("HVEMU_NATIVE_NO_FSGSBASE") || (rc == NATIVE_FAULT ? flt.vector == 6 : st.gpr[RCX] == NATIVE_MEM_ADDR), "rdfsbase rc %d rcx %#llx",
          rc, (unsigned long long)st.gpr[RCX]);
    errno = 7;
    CHECK(errno == 7, "tls after fs override");

    /* the code region is not writable from a test */
    reset();
    st.gpr[RDI] = X + 0x100;
    rc = RUN(0x48, 0x89, 0x07);
    CHECK(rc == NATIVE_FAULT && flt.vector == 14 && flt.fault_addr == X + 0x100 && (flt.error_code & 7) == 7,
          "store to code: %s", native_fault_str(&flt, fbuf, sizeof fbuf));
    reset();
    rc = RUN(0xeb, 0x10);
    CHECK(rc == NATIVE_OK && st.rip == X + 0x12, "sled intact");

    /* a non-canonical RSP survives kernel entries during the run */
    {
        int bad = 0;
        for (int i = 0; i < 2000; i++) {
            reset();
            st.gpr[RSP] = 0x8000000000000000ull ^ rnd();
            st.gpr[RSP] |= 0x8000000000000000ull;
            st.gpr[RSP] &= ~0x7fff000000000000ull; /* 0x8000...: non-canonical */
            rc = RUN(0x48, 0x01, 0xd8);
            bad += rc != NATIVE_OK;
        }
        CHECK(bad == 0, "%d of 2000 runs with a non-canonical RSP failed", bad);
    }

    /* a full x87 stack is not left to the host */
    for (int i = 0; i < 9; i++) {
        reset();
        rc = RUN(0xd9, 0xe8); /* fld1 */
    }
    volatile long double ld = 1.5L;
    ld = ld * 2;
    CHECK(ld == 3.0L, "x87 after fld1 x9");

    pthread_t th;
    void *ret = NULL;
    if (pthread_create(&th, NULL, other_thread, NULL) == 0) {
        pthread_join(th, &ret);
        CHECK((intptr_t)ret == NATIVE_ETHREAD, "other thread rc %d", (int)(intptr_t)ret);
    }
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

/* Random bytes: whatever they are, the runner must come back with a sane answer and leave
 * the process as it was. SYSENTER is left out: on Intel hosts it is a real system call the
 * seccomp guard cannot see (see native.h). */
static void test_fuzz(void)
{
    int counts[3] = {0, 0, 0}, bad = 0, n = 30000;
    int maps0 = count_lines("/proc/self/maps"), fds0 = count_fds();
    native_set_timeout_ms(10);
    for (int i = 0; i < n; i++) {
        uint8_t b[15];
        unsigned len = 1 + (unsigned)(rnd() % 15);
        for (unsigned k = 0; k < len; k++)
            b[k] = (uint8_t)rnd();
        int skip = 0;
        for (unsigned k = 0; k + 1 < len; k++)
            if (b[k] == 0x0f && b[k + 1] == 0x34)
                skip = 1;
        if (skip)
            continue;
        reset();
        for (int r = 0; r < 16; r++) {
            switch (rnd() % 4) {
            case 0: st.gpr[r] = rnd(); break;
            case 1: st.gpr[r] = NATIVE_MEM_ADDR + rnd() % NATIVE_MEM_SIZE; break;
            case 2: st.gpr[r] = rnd() % 64; break;
            default: break;
            }
        }
        st.rflags = 2 | ((uint32_t)rnd() & 0xcd5);
        int rc = native_run(b, len, &st, &flt);
        if (rc < 0 || rc > 2)
            bad++;
        else
            counts[rc]++;
    }
    native_set_timeout_ms(100);
    errno = 3;
    CHECK(errno == 3 && bad == 0, "fuzz: %d bad answers", bad);
    CHECK(count_lines("/proc/self/maps") == maps0 && count_fds() == fds0, "fuzz leaked mappings or fds");
    reset();
    st.gpr[RAX] = 2;
    st.gpr[RBX] = 3;
    int rc = RUN(0x48, 0x01, 0xd8);
    CHECK(rc == NATIVE_OK && st.gpr[RAX] == 5 && st.rip == X + 3, "runner after fuzz");
    reset();
    rc = RUN(0xeb, 0x40);
    CHECK(rc == NATIVE_OK && st.rip == X + 0x42, "sled after fuzz");
    uint32_t mx;
    uint16_t cw;
    uint64_t fl;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1\n\tpushfq\n\tpopq %2" : "=m"(mx), "=m"(cw), "=r"(fl));
    /* control bits only: the status flags in MXCSR are sticky results of the host's own
     * floating point (the printf of the timing above) */
    CHECK((mx & ~0x3fu) == 0x1f80 && cw == 0x37f && !(fl & (DF | AC)),
          "host control state after fuzz: mxcsr %#x fcw %#x rflags %#llx", mx, cw, (unsigned long long)fl);
    printf("cases: %d random byte strings: %d completed, %d faulted, %d timed out\n", n, counts[0],
           counts[1], counts[2]);
}

/* The optional vector state: loaded before, stored after, from the signal frame on a fault,
 * and left alone when not asked for. */
static void vec_random(void)
{
    st.vec = 1;
    st.mxcsr = 0x1f80 | (uint32_t)(rnd() & 0x6000); /* rounding control varies */
    for (unsigned i = 0; i < 32; i++)
        for (unsigned j = 0; j < 64; j += 8) {
            uint64_t v = rnd();
            memcpy(&st.zmm[i][j], &v, 8);
        }
    for (unsigned i = 0; i < 8; i++)
        st.k[i] = rnd();
}

static int vec_same_except(int zmm, int k)
{
    int lvl = native_vec_level();
    unsigned nz = lvl == 2 ? 32 : 16, bytes = lvl == 2 ? 64 : 32;
    for (unsigned i = 0; i < nz; i++)
        if ((int)i != zmm && memcmp(st.zmm[i], before.zmm[i], bytes))
            return 0;
    for (unsigned i = 0; lvl == 2 && i < 8; i++)
        if ((int)i != k && st.k[i] != before.k[i])
            return 0;
    return st.mxcsr == before.mxcsr;
}

static void test_vector(void)
{
    int lvl = native_vec_level();
    int rc;
    printf("host vector level %d (0 none, 1 AVX, 2 AVX-512 F/DQ/BW/VL)\n", lvl);
    if (lvl < 1)
        return;
    /* vmovdqu ymm1, ymm2 (c5 fe 6f ca): ymm1 = ymm2, everything else kept */
    reset();
    vec_random();
    rc = RUN(0xc5, 0xfe, 0x6f, 0xca);
    CHECK(rc == NATIVE_OK && !memcmp(st.zmm[1], before.zmm[2], 32) && vec_same_except(1, -1) &&
              state_same(), "vmovdqu ymm1, ymm2: rc %d", rc);
    /* the test's MXCSR is in force: stmxcsr [rsp] stores it */
    reset();
    vec_random();
    rc = RUN(0x0f, 0xae, 0x1c, 0x24);
    uint32_t m;
    memcpy(&m, &st.mem[0x1000], 4);
    CHECK(rc == NATIVE_OK && m == before.mxcsr, "stmxcsr: %#x want %#x", m, before.mxcsr);
    /* movaps xmm0, [rax] misaligned: #GP, and the vector state comes back from the frame */
    reset();
    vec_random();
    st.gpr[RAX] = NATIVE_MEM_ADDR + 0x108;
    rc = RUN(0x0f, 0x28, 0x00);
    CHECK(rc == NATIVE_FAULT && flt.vector == 13 && vec_same_except(-1, -1) && state_same(),
          "movaps misaligned: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
    /* with vec = 0 nothing is loaded or stored: the fields stay as they were */
    reset();
    vec_random();
    st.vec = 0;
    rc = RUN(0xc5, 0xfe, 0x6f, 0xca);
    CHECK(rc == NATIVE_OK && !memcmp(st.zmm, before.zmm, sizeof st.zmm) &&
              !memcmp(st.k, before.k, sizeof st.k), "vec=0 touched the vector fields");
    if (lvl < 2)
        return;
    /* vmovdqu64 zmm17, zmm30 (62 a1 fe 48 6f ce) and kmovq k3, k6 (c4 e1 f8 90 de) */
    reset();
    vec_random();
    rc = RUN(0x62, 0x81, 0xfe, 0x48, 0x6f, 0xce);
    CHECK(rc == NATIVE_OK && !memcmp(st.zmm[17], before.zmm[30], 64) && vec_same_except(17, -1),
          "vmovdqu64 zmm17, zmm30: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
    reset();
    vec_random();
    rc = RUN(0xc4, 0xe1, 0xf8, 0x90, 0xde);
    CHECK(rc == NATIVE_OK && st.k[3] == before.k[6] && vec_same_except(-1, 3), "kmovq k3, k6");
    /* a fault keeps zmm16-31, the upper halves and the opmasks: vmovdqa64 zmm0, [rax] at a
     * 32-byte aligned address (#GP) */
    reset();
    vec_random();
    st.gpr[RAX] = NATIVE_MEM_ADDR + 0x120;
    rc = RUN(0x62, 0xf1, 0xfd, 0x48, 0x6f, 0x00);
    CHECK(rc == NATIVE_FAULT && flt.vector == 13 && vec_same_except(-1, -1),
          "vmovdqa64 misaligned: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
    /* a masked store into the PROT_NONE page with the elements there masked off completes:
     * vmovdqu32 [rax]{k1}, zmm2 (62 f1 7e 49 7f 10), rax 16 bytes below the fault page */
    reset();
    vec_random();
    st.k[1] = 0x000f;
    st.gpr[RAX] = NATIVE_FAULT_ADDR - 16;
    rc = RUN(0x62, 0xf1, 0x7e, 0x49, 0x7f, 0x10);
    CHECK(rc == NATIVE_OK && !memcmp(&st.mem[NATIVE_MEM_SIZE - 16], before.zmm[2], 16),
          "masked store by the fault page: rc %d %s", rc, native_fault_str(&flt, fbuf, sizeof fbuf));
}

int main(void)
{
    /* NATIVE_SELFTEST_SEED=n varies the random cases (the default is fixed) */
    if (getenv("NATIVE_SELFTEST_SEED"))
        rng ^= strtoull(getenv("NATIVE_SELFTEST_SEED"), NULL, 0) * 0x2545f4914f6cdd1dull;
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
    test_undef_table();
    test_host_state();
    test_vector();
    test_many();
    test_fuzz();
    native_fini();
    TEST_DONE();
}
