/* SPDX-License-Identifier: MIT */
/* Traps and events: the single-step #DB (RFLAGS.TF as an instruction begins, SDM Vol. 3,
 * 17.3.1.4), software interrupts (INT n, INT3, INT1) reported for delivery, and the
 * instructions whose effect is the embedder's (HLT, INVLPG, WBINVD, WBNOINVD, INVD). */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S;
static struct hvemu_ctx C;
static struct hvemu_result R;

static int run(const char *hex)
{
    uint8_t b[16];
    size_t n = hex_bytes(hex, b, sizeof b);
    return hvemu_emulate_bytes(&C, b, n, &R);
}

#define TF 0x100ull

static void reset(void)
{
    state_init64(&S);
    S.rip = 0x1000;
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    S.gpr[HVEMU_RBX] = BUFMEM_BASE + 0x100;
}

static int is_single_step(void)
{
    return R.status == HVEMU_TRAP && R.trap_type == HVEMU_TRAP_DEBUG &&
           R.exc.vector == HVEMU_EXC_DB && R.exc.dr6 == (1u << 14) && !R.exc.has_error_code;
}

static void single_step(void)
{
    reset();
    S.rflags = 2 | TF;
    S.gpr[HVEMU_RAX] = 5;
    run("4801d8"); /* add rax, rbx */
    CHECK(is_single_step() && S.rip == 0x1003 && S.gpr[HVEMU_RAX] == 5 + BUFMEM_BASE + 0x100,
          "add with TF: completes, then #DB (status %d)", R.status);
    S.rflags = 2;
    run("4801d8");
    CHECK(R.status == HVEMU_OK, "no TF: no trap");

    /* a fault wins: no single-step trap, nothing changed */
    S.rflags = 2 | TF;
    S.gpr[HVEMU_RDI] = 0x8000000000000000ull;
    uint64_t rip = S.rip;
    run("8b07");
    CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_GP && S.rip == rip, "fault, not trap");

    /* POPF: TF as the instruction begins decides */
    reset();
    S.rflags = 2;
    uint64_t v = 2 | TF;
    memcpy(M.mem + 0x800, &v, 8);
    run("9d");
    CHECK(R.status == HVEMU_OK && (S.rflags & TF), "popf setting TF does not trap after itself");
    run("90");
    CHECK(is_single_step(), "the next instruction traps");
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    v = 2;
    memcpy(M.mem + 0x800, &v, 8);
    run("9d");
    CHECK(is_single_step() && !(S.rflags & TF), "popf clearing TF still traps");

    /* REP: one iteration, then the trap, RIP on the instruction until RCX runs out */
    reset();
    S.rflags = 2 | TF;
    S.gpr[HVEMU_RSI] = BUFMEM_BASE + 0x200;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x300;
    S.gpr[HVEMU_RCX] = 3;
    memcpy(M.mem + 0x200, "abc", 3);
    C.rep_chunk = 1024;
    for (unsigned i = 0; i < 3; i++) {
        run("f3a4");
        CHECK(is_single_step() && S.gpr[HVEMU_RCX] == 2 - i && S.rip == (i < 2 ? 0x1000u : 0x1002u),
              "rep movsb iteration %u: rcx %llu rip %llx", i, (unsigned long long)S.gpr[HVEMU_RCX],
              (unsigned long long)S.rip);
    }
    CHECK(!memcmp(M.mem + 0x300, "abc", 3), "copied");

    /* a locked RMW that had to retry still traps once, after it */
    reset();
    S.rflags = 2 | TF;
    M.interfere = 1;
    run("f0480103"); /* lock add [rbx], rax */
    CHECK(is_single_step() && R.retries == 1 && S.rip == 0x1004, "locked retry then trap");
    M.interfere = 0;
}

static void soft_ints(void)
{
    reset();
    S.rflags = 2 | TF;
    run("cd80");
    CHECK(R.status == HVEMU_TRAP && R.trap_type == HVEMU_TRAP_SOFT_INT && R.exc.vector == 0x80 &&
          R.insn_len == 2 && S.rip == 0x1002 && !R.exc.has_error_code,
          "int 0x80: a software interrupt, RIP past it, no single-step on top");
    run("cc");
    CHECK(R.status == HVEMU_TRAP && R.trap_type == HVEMU_TRAP_SOFT_EXC && R.exc.vector == HVEMU_EXC_BP &&
          R.insn_len == 1 && S.rip == 0x1003, "int3");
    run("f1");
    CHECK(R.status == HVEMU_TRAP && R.trap_type == HVEMU_TRAP_PRIV_SOFT_EXC && R.exc.vector == HVEMU_EXC_DB &&
          R.exc.dr6 == 0 && S.rip == 0x1004, "int1");
    run("cd03");
    CHECK(R.status == HVEMU_TRAP && R.trap_type == HVEMU_TRAP_SOFT_INT && R.exc.vector == 3, "int 3 (CD 03) is INT n");
    run("ce");
    CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_UD, "into in 64-bit mode");
}

static void events(void)
{
    reset();
    run("f4");
    CHECK(R.status == HVEMU_OK && R.event == HVEMU_EVENT_HALT && S.rip == 0x1001, "hlt");
    run("90");
    CHECK(R.status == HVEMU_OK && R.event == HVEMU_EVENT_NONE, "the event does not linger");
    S.seg[HVEMU_FS].base = 0x7f0000000000ull;
    S.gpr[HVEMU_RAX] = 0x1234;
    unsigned reads = M.reads;
    run("640f0138"); /* invlpg fs:[rax] */
    CHECK(R.status == HVEMU_OK && R.event == HVEMU_EVENT_INVLPG && R.event_addr == 0x7f0000001234ull,
          "invlpg: linear address %llx", (unsigned long long)R.event_addr);
    CHECK(M.reads == reads, "invlpg reads nothing");
    run("0f09");
    CHECK(R.event == HVEMU_EVENT_WBINVD, "wbinvd");
    run("f30f09");
    CHECK(R.event == HVEMU_EVENT_WBNOINVD, "wbnoinvd");
    run("0f08");
    CHECK(R.event == HVEMU_EVENT_INVD, "invd");
    S.rflags = 2 | TF;
    run("f4");
    CHECK(is_single_step() && R.event == HVEMU_EVENT_HALT, "hlt with TF: halt and the trap");
    S.rflags = 2;
    S.seg[HVEMU_CS].selector = 0x33;
    uint64_t rip = S.rip;
    static const char *const priv[] = {"f4", "0f0138", "0f09", "f30f09", "0f08"};
    for (unsigned i = 0; i < 5; i++) {
        run(priv[i]);
        CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_GP && R.event == HVEMU_EVENT_NONE &&
              S.rip == rip, "%s at CPL 3: #GP(0)", priv[i]);
    }
    /* general detect: #DB with DR6.BD */
    reset();
    S.dr[7] = 0x2400;
    run("0f21c0");
    CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_DB && R.exc.dr6 == (1u << 13), "GD: BD");
}

int main(void)
{
    hvemu_init(&C, &bufmem_ops, &M, &S);
    single_step();
    soft_ints();
    events();
    TEST_DONE();
}
