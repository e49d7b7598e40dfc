/* SPDX-License-Identifier: MIT */
/*
 * The single-step trap against the host CPU. Each case runs POPFQ followed by the instruction
 * under test, natively (tests/hostdiff/native.c): the value POPFQ pops has TF set, and a POPF
 * that sets TF traps only after the next instruction, so the host raises its single-step #DB
 * (SIGTRAP, trap number 1) right after the instruction under test, or where a branch took it,
 * or after one iteration of a REP string; an instruction that faults raises its fault instead.
 * hvemu runs the same instruction on the state POPFQ left (RFLAGS with TF, RSP past the popped
 * value) and must answer HVEMU_TRAP with a single-step #DB (DR6.BS) and the same registers,
 * RIP and memory, or the same exception.
 *
 * usage: single_step [--cases N] [--seed S]   (default 20000)
 */
#include "hvemu.h"
#include "native.h"
#include "undef_flags.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window_mem.h" /* hmem, hops: hvemu's memory over the window */

#define RNG_DEFAULT_SEED 0x5157e9ull
#include "test_random.h"

/* Instructions with what single-stepping them shows: a plain one, loads and stores, the stack,
 * every kind of branch, REP strings (a trap per iteration), a locked RMW, faults (#DE, #GP,
 * #PF: no trap), and POPF (clearing TF still traps after it). rdi and rsi point into the
 * window; rbx is a small count. Not CPUID: in a VM the hypervisor emulates it, and the one this
 * was written on dropped the single-step trap after it (measured). */
static const char *const forms[] = {
    "90", "4801d8", "89c8", "8b07", "8907", "48ff07", "50", "5b", "48870f", "f0480107",
    "e800000000", "eb05", "7405", "7505", "ff27", "c3", "e2fe", "e3fe",
    "f3a4", "f3aa", "f3a6", "f3ae", "f348a5", "a4", "ac",
    "48f7f3", "8b04250000008000", "c6042500000000ff", "9d", "0f0b", "f390",
};

static struct native_state st, nat;
static struct hvemu_state hs;
static unsigned long cases, fails, traps_seen;

static int hexbytes(const char *h, uint8_t *b)
{
    int n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        b[n++] = (uint8_t)v;
    }
    return n;
}

static void one(const char *form)
{
    uint8_t insn[16], bytes[17];
    int n = hexbytes(form, insn);
    bytes[0] = 0x9d; /* popfq */
    memcpy(bytes + 1, insn, (size_t)n);

    memset(&st, 0, sizeof st);
    for (unsigned i = 0; i < 16; i++)
        st.gpr[i] = edge_value();
    for (unsigned i = 0; i < NATIVE_MEM_SIZE; i++)
        st.mem[i] = (uint8_t)rnd();
    st.gpr[HVEMU_RDI] = NATIVE_MEM_ADDR + 0x100 + rnd() % 0x700;
    st.gpr[HVEMU_RSI] = NATIVE_MEM_ADDR + 0x900 + rnd() % 0x700;
    st.gpr[HVEMU_RCX] = rnd() % 5;
    st.gpr[HVEMU_RBX] = rnd() % 4;
    uint64_t rsp = NATIVE_MEM_ADDR + 0x1800 + (rnd() % 0x100) * 8;
    /* the flags POPFQ pops: TF, arithmetic flags, sometimes DF; below them the value a POPF
     * under test pops (TF clear: single-stepping it must still trap after it) */
    uint64_t flags = 0x102 | (rnd() & 0x8d5) | (rnd() % 8 == 0 ? 0x400 : 0);
    uint64_t popped = 0x202 | (rnd() & 0x8d5);
    memcpy(st.mem + (rsp - NATIVE_MEM_ADDR), &flags, 8);
    memcpy(st.mem + (rsp + 8 - NATIVE_MEM_ADDR), &popped, 8);
    st.gpr[HVEMU_RSP] = rsp;
    st.rflags = 0x202;

    /* hvemu: the state POPFQ leaves */
    memset(&hs, 0, offsetof(struct hvemu_state, vec));
    hs.valid = HVEMU_PART_ALL;
    memcpy(hs.gpr, st.gpr, sizeof st.gpr);
    hs.gpr[HVEMU_RSP] = rsp + 8;
    hs.rip = NATIVE_CODE_ADDR + 1;
    hs.rflags = (flags & (0x8d5 | 0x400 | 0x100)) | 0x202;
    hs.cr0 = 0x80050033;
    hs.cr4 = 0x3406f0;
    hs.efer = 0xd01;
    hs.seg[HVEMU_CS].selector = 0x33;
    hs.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0xfb;
    hs.seg[HVEMU_SS].selector = 0x2b;
    memcpy(hmem, st.mem, NATIVE_MEM_SIZE);

    nat = st;
    struct native_fault f;
    int nr = native_run(bytes, (size_t)n + 1, &nat, &f);
    if (nr == NATIVE_TIMEOUT || nr < 0)
        return;

    struct hvemu_ctx ctx;
    struct hvemu_result r;
    hvemu_init(&ctx, &hops, NULL, &hs);
    int hr = hvemu_emulate_bytes(&ctx, insn, (size_t)n, &r);
    cases++;

    char why[200] = "";
    int native_trap = nr == NATIVE_FAULT && f.signo == 5 /* SIGTRAP */ && f.vector == 1;
    if (native_trap) {
        traps_seen++;
        if (hr != HVEMU_TRAP || r.trap_type != HVEMU_TRAP_DEBUG || r.exc.vector != 1 ||
            r.exc.dr6 != (1u << 14))
            snprintf(why, sizeof why, "native single-step trap; hvemu status %d vector %d (%s)", hr,
                     r.exc.vector, r.reason ? r.reason : "");
        else if (nat.rip != hs.rip)
            snprintf(why, sizeof why, "rip: native %" PRIx64 " hvemu %" PRIx64, nat.rip, hs.rip);
        else if (memcmp(nat.gpr, hs.gpr, sizeof nat.gpr))
            snprintf(why, sizeof why, "registers differ");
        else if (memcmp(nat.mem, hmem, NATIVE_MEM_SIZE))
            snprintf(why, sizeof why, "memory differs");
    } else if (nr == NATIVE_FAULT) {
        if (hr != HVEMU_EXCEPTION || (int)r.exc.vector != f.vector)
            snprintf(why, sizeof why, "native fault %d (signal %d); hvemu status %d vector %d", f.vector,
                     f.signo, hr, r.exc.vector);
    } else {
        snprintf(why, sizeof why, "native completed without a trap (rc %d)", nr);
    }
    if (hr == HVEMU_UNHANDLEABLE && !why[0])
        snprintf(why, sizeof why, "hvemu unhandleable: %s", r.reason);
    if (why[0]) {
        fails++;
        if (fails <= 20)
            printf("MISMATCH %s: %s\n", form, why);
    }
}

int main(int argc, char **argv)
{
    unsigned long n = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc) n = strtoul(argv[++i], 0, 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state = strtoull(argv[++i], 0, 0);
        else { printf("usage: single_step [--cases N] [--seed S]\n"); return 2; }
    }
    if (native_init() != 0)
        return 1;
    unsigned nf = sizeof forms / sizeof forms[0];
    for (unsigned long i = 0; i < n; i++)
        one(forms[i % nf]);
    printf("compared %lu single-stepped instructions with the host (%lu ended in its #DB trap)\n",
           cases, traps_seen);
    printf("summary: %lu cases passed, %lu failed\n", cases - fails, fails);
    return fails != 0;
}
