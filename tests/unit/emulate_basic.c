/* SPDX-License-Identifier: MIT */
/* Emulation core rules: staged commit, exceptions leave no trace, page split, locked retry. */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S;
static struct hvemu_ctx C;

static int run(const char *hex, struct hvemu_result *r)
{
    uint8_t b[16];
    size_t n = hex_bytes(hex, b, sizeof b);
    S.rip = 0x401000;
    return hvemu_emulate_bytes(&C, b, n, r);
}

int main(void)
{
    struct hvemu_result r;
    hvemu_init(&C, &bufmem_ops, &M, &S);
    state_init64(&S);

    /* mov [rdi], eax: a 4-byte store through the write callback, RIP advanced */
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x10;
    S.gpr[HVEMU_RAX] = 0x11223344aabbccddull;
    CHECK(run("8907", &r) == HVEMU_OK, "status %d %s", r.status, r.reason ? r.reason : "");
    CHECK(M.last_write_size == 4 && M.last_write_addr == BUFMEM_BASE + 0x10, "write %u", M.last_write_size);
    CHECK(!memcmp(M.mem + 0x10, "\xdd\xcc\xbb\xaa", 4), "stored bytes");
    CHECK(S.rip == 0x401002, "rip %llx", (unsigned long long)S.rip);

    /* add dword [rdi], 1 -> flags; 32-bit register write zero-extends */
    CHECK(run("830701", &r) == HVEMU_OK, "add");
    CHECK(M.mem[0x10] == 0xde, "add result %x", M.mem[0x10]);
    S.gpr[HVEMU_RBX] = ~0ull;
    CHECK(run("8b1f", &r) == HVEMU_OK && S.gpr[HVEMU_RBX] == 0xaabbccde, "mov ebx, [rdi] %llx",
          (unsigned long long)S.gpr[HVEMU_RBX]);
    /* 8-bit write merges, AH form */
    S.gpr[HVEMU_RCX] = 0x1111;
    CHECK(run("8a27", &r) == HVEMU_OK && S.gpr[HVEMU_RSP] == 0 && (S.gpr[HVEMU_RAX] & 0xff00) == 0xde00,
          "mov ah, [rdi]");

    /* #PF from the callback: nothing changes */
    S.gpr[HVEMU_RDI] = 0x5000;
    uint64_t rax = S.gpr[HVEMU_RAX], rfl = S.rflags, rip = S.rip = 0x401000;
    CHECK(run("0107", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_PF && r.exc.cr2 == 0x5000,
          "pf %d", r.exc.vector);
    CHECK(S.gpr[HVEMU_RAX] == rax && S.rflags == rfl && S.rip == rip, "state untouched after #PF");

    /* non-canonical address: #GP(0); with an RSP base: #SS(0) */
    S.gpr[HVEMU_RDI] = 0x8000000000000000ull;
    CHECK(run("8907", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_GP && r.exc.has_error_code, "gp");
    S.gpr[HVEMU_RSP] = 0x8000000000000000ull;
    CHECK(run("890424", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_SS, "ss %d", r.exc.vector);
    S.gpr[HVEMU_RSP] = 0;

    /* page-crossing write, second page absent: #PF and the first page is untouched */
    M.absent[1] = 1;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 4096 - 2;
    memset(M.mem + 4094, 0x77, 2);
    S.gpr[HVEMU_RAX] = 0;
    CHECK(run("488907", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_PF, "split pf");
    CHECK(M.mem[4094] == 0x77 && M.mem[4095] == 0x77, "first page untouched");
    M.absent[1] = 0;
    unsigned w0 = M.writes;
    CHECK(run("488907", &r) == HVEMU_OK && M.writes == w0 + 2, "split write in two callbacks");

    /* lock add with interference: retried through compare-exchange, never a plain write */
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x100;
    memset(M.mem + 0x100, 0, 8);
    M.interfere = 3;
    w0 = M.writes;
    CHECK(run("f0830705", &r) == HVEMU_OK && r.retries == 3, "lock add retries %u", r.retries);
    CHECK(M.writes == w0, "no plain write for LOCK");
    CHECK(M.mem[0x100] == (0x5a ^ 0x5a ^ 0x5a) + 5, "value %x", M.mem[0x100]);
    /* past the retry bound: HVEMU_RETRY and nothing changed */
    C.max_cmpxchg_retries = 2;
    M.interfere = 10;
    rfl = S.rflags;
    CHECK(run("f0830705", &r) == HVEMU_RETRY && S.rip == 0x401000 && S.rflags == rfl, "retry bound");
    C.max_cmpxchg_retries = 64;
    M.interfere = 0;

    /* xchg with memory is locked */
    unsigned c0 = M.cmpxchgs;
    S.gpr[HVEMU_RAX] = 0x12345678;
    CHECK(run("8707", &r) == HVEMU_OK && M.cmpxchgs == c0 + 1, "xchg via cmpxchg");

    /* unknown-to-execution instruction: unhandleable with its name */
    CHECK(run("0f01c1", &r) == HVEMU_UNHANDLEABLE && !strcmp(r.detail, "vmcall"), "vmcall: %s", r.detail);
    /* invalid: #UD */
    CHECK(run("8e08", &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_UD, "ud");
    TEST_DONE();
}
