/* SPDX-License-Identifier: MIT */
/* Execution rules the host-differential test cannot reach: POPF's privilege rules, REP chunks
 * and resumption, lazy state loading and the dirty mask, callbacks for CPUID/RDTSC/port I/O. */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S;
static struct hvemu_ctx C;
static uint64_t loaded_parts;
static unsigned outs, ins;

static int run(const char *hex, struct hvemu_result *r)
{
    uint8_t b[16];
    size_t n = hex_bytes(hex, b, sizeof b);
    return hvemu_emulate_bytes(&C, b, n, r);
}

static int lazy_load(void *o, struct hvemu_state *s, uint64_t parts)
{
    (void)o;
    loaded_parts |= parts;
    s->valid |= parts;
    return HVEMU_CB_OK;
}

static int my_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o;
    out[0] = leaf + 1; out[1] = sub + 2; out[2] = 0xc; out[3] = 0xd;
    return HVEMU_CB_OK;
}

static int my_rdtsc(void *o, uint64_t *tsc, uint32_t *aux)
{
    (void)o;
    *tsc = 0x1122334455667788ull;
    *aux = 7;
    return HVEMU_CB_OK;
}

static int my_in(void *o, uint16_t port, void *d, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)e;
    ins++;
    memset(d, (int)(port & 0xff), n);
    return HVEMU_CB_OK;
}

static int my_out(void *o, uint16_t port, const void *d, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)port; (void)d; (void)n; (void)e;
    outs++;
    return HVEMU_CB_OK;
}

int main(void)
{
    struct hvemu_result r;
    struct hvemu_ops ops = bufmem_ops;
    ops.cpuid = my_cpuid;
    ops.rdtsc = my_rdtsc;
    ops.pio_in = my_in;
    ops.pio_out = my_out;
    hvemu_init(&C, &ops, &M, &S);
    state_init64(&S);

    /* ---- POPF: at CPL 3 with IOPL 0, IF and IOPL do not change; AC, DF, TF, the arithmetic
     * flags do; RF is cleared; bit 1 stays set ---- */
    S.seg[HVEMU_CS].selector = 0x33;
    S.rflags = 0x202;
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    uint64_t v = 0x40cd5 | 0x3000 | 0x10000; /* everything the guest might try, IOPL=3 and RF */
    v &= ~(uint64_t)0x200;                   /* tries to clear IF */
    memcpy(M.mem + 0x800, &v, 8);
    S.rip = 0x1000;
    CHECK(run("9d", &r) == HVEMU_OK, "popf %d", r.status);
    CHECK((S.rflags & 0x200) && !(S.rflags & 0x3000), "IF kept, IOPL kept at CPL 3: %llx", (unsigned long long)S.rflags);
    CHECK((S.rflags & 0x40cd5) == 0x40cd5 && !(S.rflags & 0x10000) && (S.rflags & 2), "flags %llx", (unsigned long long)S.rflags);
    CHECK(S.gpr[HVEMU_RSP] == BUFMEM_BASE + 0x808, "rsp after popf");
    /* at CPL 0 IOPL and IF change */
    S.seg[HVEMU_CS].selector = 0x10;
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    CHECK(run("9d", &r) == HVEMU_OK && (S.rflags & 0x3000) == 0x3000 && !(S.rflags & 0x200), "cpl0 popf %llx",
          (unsigned long long)S.rflags);
    /* 16-bit POPF changes only the low 16 bits */
    S.rflags = 0x40202;
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    uint16_t w = 0x0001;
    memcpy(M.mem + 0x800, &w, 2);
    CHECK(run("669d", &r) == HVEMU_OK && (S.rflags & 0x40000) && (S.rflags & 1) && S.gpr[HVEMU_RSP] == BUFMEM_BASE + 0x802,
          "popf16 %llx", (unsigned long long)S.rflags);
    S.rflags = 2;

    /* ---- REP chunks: RIP stays until the count is exhausted; counters consistent ---- */
    C.rep_chunk = 10;
    S.gpr[HVEMU_RSI] = BUFMEM_BASE + 0x100;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x400;
    S.gpr[HVEMU_RCX] = 25;
    for (unsigned i = 0; i < 25; i++)
        M.mem[0x100 + i] = (uint8_t)(i + 1);
    S.rip = 0x1000;
    CHECK(run("f3a4", &r) == HVEMU_OK && S.rip == 0x1000 && S.gpr[HVEMU_RCX] == 15 &&
          S.gpr[HVEMU_RSI] == BUFMEM_BASE + 0x10a, "chunk 1: rip %llx rcx %llu", (unsigned long long)S.rip,
          (unsigned long long)S.gpr[HVEMU_RCX]);
    CHECK(run("f3a4", &r) == HVEMU_OK && S.rip == 0x1000 && S.gpr[HVEMU_RCX] == 5, "chunk 2");
    CHECK(run("f3a4", &r) == HVEMU_OK && S.rip == 0x1002 && S.gpr[HVEMU_RCX] == 0, "chunk 3 completes");
    CHECK(!memcmp(M.mem + 0x100, M.mem + 0x400, 25), "all 25 bytes moved");
    /* a fault in the middle of a REP: earlier iterations stay done, counters point at the
     * faulting element, RIP on the instruction */
    C.rep_chunk = 1024;
    M.absent[1] = 1;
    S.gpr[HVEMU_RSI] = BUFMEM_BASE + 0x100;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 4096 - 4;
    S.gpr[HVEMU_RCX] = 10;
    S.rip = 0x1000;
    CHECK(run("f3a4", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_PF && r.exc.cr2 == BUFMEM_BASE + 4096,
          "rep fault %d %llx", r.exc.vector, (unsigned long long)r.exc.cr2);
    CHECK(S.gpr[HVEMU_RCX] == 6 && S.gpr[HVEMU_RDI] == BUFMEM_BASE + 4096 && S.rip == 0x1000, "progress kept: rcx %llu",
          (unsigned long long)S.gpr[HVEMU_RCX]);
    M.absent[1] = 0;
    /* REPE CMPSB stops at the first difference */
    memcpy(M.mem + 0x200, "abcdef", 6);
    memcpy(M.mem + 0x300, "abcXef", 6);
    S.gpr[HVEMU_RSI] = BUFMEM_BASE + 0x200;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x300;
    S.gpr[HVEMU_RCX] = 6;
    S.rip = 0x1000;
    CHECK(run("f3a6", &r) == HVEMU_OK && S.gpr[HVEMU_RCX] == 2 && !(S.rflags & HVEMU_FLAG_ZF) && S.rip == 0x1002,
          "repe cmpsb rcx %llu", (unsigned long long)S.gpr[HVEMU_RCX]);

    /* ---- lazy state: only what the instruction touches is loaded; dirty says what changed ---- */
    S.valid = HVEMU_PART_RIP | HVEMU_PART_RFLAGS | HVEMU_PART_CR0 | HVEMU_PART_EFER | HVEMU_PART_SEG(HVEMU_CS);
    S.dirty = 0;
    loaded_parts = 0;
    ops.load_state = lazy_load;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x10;
    S.rip = 0x1000;
    CHECK(run("8907", &r) == HVEMU_OK, "mov with lazy state");
    CHECK(loaded_parts == (HVEMU_PART_GPR(HVEMU_RAX) | HVEMU_PART_GPR(HVEMU_RDI)), "loaded only rax, rdi: %llx",
          (unsigned long long)loaded_parts);
    CHECK(S.dirty == HVEMU_PART_RIP, "dirty: only rip %llx", (unsigned long long)S.dirty);
    S.dirty = 0;
    CHECK(run("4801d8", &r) == HVEMU_OK && S.dirty == (HVEMU_PART_RIP | HVEMU_PART_RFLAGS | HVEMU_PART_GPR(0)),
          "dirty after add: %llx", (unsigned long long)S.dirty);
    /* without a loader, a missing part is unhandleable with a reason, and nothing changes */
    ops.load_state = NULL;
    S.valid &= ~HVEMU_PART_GPR(HVEMU_RCX);
    uint64_t rip0 = S.rip = 0x1000;
    CHECK(run("4801c8", &r) == HVEMU_UNHANDLEABLE && r.reason && S.rip == rip0, "missing part: %s", r.reason ? r.reason : "");
    S.valid = HVEMU_PART_ALL;

    /* ---- callbacks ---- */
    S.gpr[HVEMU_RAX] = 7;
    S.gpr[HVEMU_RCX] = 1;
    S.gpr[HVEMU_RBX] = ~0ull;
    CHECK(run("0fa2", &r) == HVEMU_OK && S.gpr[HVEMU_RAX] == 8 && S.gpr[HVEMU_RBX] == 3 && S.gpr[HVEMU_RCX] == 0xc &&
          S.gpr[HVEMU_RDX] == 0xd, "cpuid");
    CHECK(run("0f31", &r) == HVEMU_OK && S.gpr[HVEMU_RAX] == 0x55667788 && S.gpr[HVEMU_RDX] == 0x11223344, "rdtsc");
    CHECK(run("0f01f9", &r) == HVEMU_OK && S.gpr[HVEMU_RCX] == 7, "rdtscp aux");
    S.cr4 |= 4; /* TSD */
    S.seg[HVEMU_CS].selector = 0x33;
    CHECK(run("0f31", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_GP, "rdtsc with CR4.TSD at CPL 3");
    S.seg[HVEMU_CS].selector = 0x10;
    S.cr4 &= ~4ull;
    S.gpr[HVEMU_RAX] = 0;
    CHECK(run("e470", &r) == HVEMU_OK && (S.gpr[HVEMU_RAX] & 0xff) == 0x70 && ins == 1, "in al, 0x70");
    S.gpr[HVEMU_RDX] = 0x3f8;
    CHECK(run("ee", &r) == HVEMU_OK && outs == 1, "out dx, al");
    S.seg[HVEMU_CS].selector = 0x33; /* CPL 3 > IOPL 0: the TSS bitmap decides: unhandleable */
    CHECK(run("ee", &r) == HVEMU_UNHANDLEABLE && outs == 1, "out at CPL 3 needs the I/O bitmap");
    S.seg[HVEMU_CS].selector = 0x10;

    /* ---- non-canonical branch targets: #GP(0), RIP unchanged ---- */
    S.gpr[HVEMU_RAX] = 0x0000800000000000ull;
    S.rip = 0x1000;
    CHECK(run("ffe0", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_GP && S.rip == 0x1000, "jmp rax non-canonical");
    /* 32-bit register write zero-extends, also for a CMOV not taken */
    S.gpr[HVEMU_RAX] = ~0ull;
    S.rflags = 2; /* ZF=0: cmovz not taken */
    CHECK(run("0f44c1", &r) == HVEMU_OK && S.gpr[HVEMU_RAX] == 0xffffffffull, "cmovz eax, ecx not taken zero-extends");
    TEST_DONE();
}
