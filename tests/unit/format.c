/* SPDX-License-Identifier: MIT */
/* hvemu_format() and hvemu_reg_name(): expected texts are LLVM 19's Intel spelling
 * (llvm-mc-19 -output-asm-variant=1 --print-imm-hex), with branch targets made absolute. */
#include "hvemu.h"
#include "decode_internal.h"
#include "testlib.h"

#include <stdint.h>
#include <stdlib.h>

struct fcase {
    int mode;
    const char *hex;
    uint64_t address;
    const char *text;
};

static const struct fcase cases[] = {
    /* registers, memory forms, sizes */
    {64, "4801d8", 0, "add rax, rbx"},
    {64, "488b449810", 0, "mov rax, qword ptr [rax + 4*rbx + 0x10]"},
    {64, "648a00", 0, "mov al, byte ptr fs:[rax]"},
    {64, "8b0510000000", 0, "mov eax, dword ptr [rip + 0x10]"},
    {64, "8b05f0ffffff", 0, "mov eax, dword ptr [rip - 0x10]"},
    {64, "678b0510000000", 0, "mov eax, dword ptr [eip + 0x10]"},
    {64, "488b40f0", 0, "mov rax, qword ptr [rax - 0x10]"},
    {64, "4c8b0425ffffffff", 0, "mov r8, qword ptr [-0x1]"},
    {64, "8b040d10000000", 0, "mov eax, dword ptr [1*rcx + 0x10]"},
    {64, "8b04a0", 0, "mov eax, dword ptr [rax + 4*riz]"},
    {64, "8b0424", 0, "mov eax, dword ptr [rsp]"},
    {64, "8b4500", 0, "mov eax, dword ptr [rbp]"},
    {64, "3e8b00", 0, "mov eax, dword ptr ds:[rax]"},
    {64, "40887c2408", 0, "mov byte ptr [rsp + 0x8], dil"},
    {64, "88e0", 0, "mov al, ah"},
    {64, "4088f0", 0, "mov al, sil"},
    {64, "668b00", 0, "mov ax, word ptr [rax]"},
    {64, "8d0424", 0, "lea eax, [rsp]"},
    {64, "488d0c8500000000", 0, "lea rcx, [4*rax]"},
    /* immediates: signedness as LLVM prints it */
    {64, "4883c0f0", 0, "add rax, -0x10"},
    {64, "81c0f0ffffff", 0, "add eax, 0xfffffff0"},
    {64, "4881c0f0ffffff", 0, "add rax, -0x10"},
    {64, "6681c0f0ff", 0, "add ax, 0xfff0"},
    {64, "24f0", 0, "and al, -0x10"},
    {64, "c6c0ff", 0, "mov al, -0x1"},
    {64, "b878563412", 0, "mov eax, 0x12345678"},
    {64, "48b88877665544332211", 0, "movabs rax, 0x1122334455667788"},
    {64, "48a1ffffffffffffffff", 0, "movabs rax, qword ptr [-0x1]"},
    {64, "67a100000000", 0, "mov eax, dword ptr [0x0]"},
    {64, "6aff", 0, "push -0x1"},
    {64, "cd80", 0, "int 0x80"},
    {64, "e460", 0, "in al, 0x60"},
    {64, "c1e0ff", 0, "shl eax, 0xff"},
    {64, "c2ffff", 0, "ret -0x1"},
    {64, "66c2ffff", 0, "ret 0xffff"},
    {64, "c8100001", 0, "enter 0x10, 0x1"},
    /* implicit and hidden operands */
    {64, "d1e0", 0, "shl eax"},
    {64, "d3e0", 0, "shl eax, cl"},
    {64, "d7", 0, "xlatb"},
    {64, "ec", 0, "in al, dx"},
    {64, "ef", 0, "out dx, eax"},
    {64, "87d8", 0, "xchg ebx, eax"},
    {64, "4993", 0, "xchg rax, r11"},
    {64, "90", 0, "nop"},
    {64, "f390", 0, "pause"},
    /* string instructions with their implicit operands and prefixes */
    {64, "a4", 0, "movsb byte ptr es:[rdi], byte ptr [rsi]"},
    {64, "f3a5", 0, "rep movsd dword ptr es:[rdi], dword ptr [rsi]"},
    {64, "f348ab", 0, "rep stosq qword ptr es:[rdi], rax"},
    {64, "f2ae", 0, "repne scasb al, byte ptr es:[rdi]"},
    {64, "f3a6", 0, "rep cmpsb byte ptr [rsi], byte ptr es:[rdi]"},
    {64, "2ea4", 0, "movsb byte ptr es:[rdi], byte ptr cs:[rsi]"},
    {64, "67a4", 0, "movsb byte ptr es:[edi], byte ptr [esi]"},
    {64, "6c", 0, "insb byte ptr es:[rdi], dx"},
    {64, "ac", 0, "lodsb al, byte ptr [rsi]"},
    {64, "f0480118", 0, "lock add qword ptr [rax], rbx"},
    {64, "67ec", 0, "addr32 in al, dx"},
    {64, "f30118", 0, "rep add dword ptr [rax], ebx"},
    {64, "f2f00118", 0, "xacquire lock add dword ptr [rax], ebx"},
    {64, "f3f00118", 0, "xrelease lock add dword ptr [rax], ebx"},
    {64, "f28618", 0, "xacquire xchg byte ptr [rax], bl"},
    {64, "f38918", 0, "xrelease mov dword ptr [rax], ebx"},
    {64, "f290", 0, "xacquire nop"},
    {32, "678b0610ff", 0, "addr16 mov eax, dword ptr [-0xf0]"},
    /* branches: absolute targets */
    {64, "eb05", 0x1000, "jmp 0x1007"},
    {64, "ebfe", 0x1000, "jmp 0x1000"},
    {64, "e800010000", 0, "call 0x105"},
    {64, "7400", 0, "je 0x2"},
    {64, "7310", 0, "jae 0x12"},
    {64, "7f10", 0, "jg 0x12"},
    {64, "e300", 0, "jrcxz 0x2"},
    {32, "e300", 0, "jecxz 0x2"},
    {16, "ebfe", 0xfffe, "jmp 0xfffe"},
    {16, "eb05", 0xfffe, "jmp 0x5"},
    {64, "ffd0", 0, "call rax"},
    {64, "ff20", 0, "jmp qword ptr [rax]"},
    {64, "ff1c24", 0, "call [rsp]"},
    {64, "48ff2c24", 0, "ljmp [rsp]"},
    /* segment registers, far pointers, 16/32-bit forms */
    {64, "8cd8", 0, "mov eax, ds"},
    {64, "8e00", 0, "mov es, word ptr [rax]"},
    {64, "8c00", 0, "mov word ptr [rax], es"},
    {64, "668ed8", 0, "mov ds, ax"},
    {32, "9a001000002000", 0, "lcall 0x20, 0x1000"},
    {16, "9a00100020", 0, "lcall 0x2000, 0x1000"},
    {32, "8b00", 0, "mov eax, dword ptr [eax]"},
    {32, "678b00", 0, "mov eax, dword ptr [bx + si]"},
    {16, "8b4610", 0, "mov ax, word ptr [bp + 0x10]"},
    {16, "8b06f0ff", 0, "mov ax, word ptr [-0x10]"},
    {32, "8b0425ffffffff", 0, "mov eax, dword ptr [1*eiz - 0x1]"},
    {32, "60", 0, "pushal"},
    {32, "6660", 0, "pushaw"},
    {32, "9c", 0, "pushfd"},
    {32, "d40a", 0, "aam"},
    {32, "d410", 0, "aam 0x10"},
    {32, "d5ed", 0, "aad -0x13"},
    {32, "a1ffffffff", 0, "mov eax, dword ptr [0xffffffff]"},
    {64, "66caffff", 0, "retf 0xffff"},
    {64, "caffff", 0, "retf -0x1"},
    {32, "40", 0, "inc eax"},
    {32, "6200", 0, "bound eax, dword ptr [eax]"},
    {32, "c400", 0, "les eax, [eax]"},
    {64, "48cf", 0, "iretq"},
    {64, "48cb", 0, "retfq"},
    {64, "9b", 0, "wait"},
    /* APX: EGPRs through REX2 */
    {64, "d51001c0", 0, "add r16d, eax"},
    {64, "d5408b0424", 0, "mov r16d, dword ptr [rsp]"},
    {64, "d51993", 0, "xchg rax, r27"},
    {64, "d50850", 0, "pushp rax"},
    {64, "d50a8804c0", 0, "mov byte ptr [rax + 8*r8], al"},
    {64, "d5338804c0", 0, "mov byte ptr [r24 + 8*r24], al"},
    {64, "d5448804c0", 0, "mov byte ptr [rax + 8*rax], r24b"},
};

/* Decorations of EVEX forms, checked on hand-built instructions so that they do not depend on
 * which vector tables exist: masking, zeroing, broadcast, rounding, SAE. */
static void check_evex(void)
{
    struct hvemu_insn in;
    char buf[128];
    memset(&in, 0, sizeof(in));
    in.length = 6;
    in.mode = HVEMU_MODE_64;
    in.encoding = HVEMU_ENC_EVEX;
    in.map = HVEMU_MAP_0F;
    in.mnemonic = HV_MN_ADD; /* any name will do */
    in.noperands = 3;
    for (unsigned i = 0; i < 3; i++) {
        in.op[i].kind = HVEMU_OP_REG;
        in.op[i].size = 64;
        in.op[i].u.reg.cls = HVEMU_REG_ZMM;
        in.op[i].u.reg.idx = (uint8_t)(i == 2 ? 31 : i);
    }
    in.evex_aaa = 1;
    in.evex_z = 1;
    hvemu_format(&in, 0, buf, sizeof(buf));
    CHECK(strcmp(buf, "add zmm0 {k1} {z}, zmm1, zmm31") == 0, "got '%s'", buf);

    in.evex_z = 0;
    in.evex_b = 1;
    in.vex_l = 3;
    in.attrs = HV_ATTR_ER;
    in.has_modrm = 1;
    in.modrm = 0xc0;
    hvemu_format(&in, 0, buf, sizeof(buf));
    CHECK(strcmp(buf, "add zmm0 {k1}, zmm1, zmm31, {rz-sae}") == 0, "got '%s'", buf);

    in.attrs = HV_ATTR_SAE;
    in.noperands = 4;
    in.op[3].kind = HVEMU_OP_IMM;
    in.op[3].size = 1;
    in.op[3].u.imm.imm = 4;
    hvemu_format(&in, 0, buf, sizeof(buf));
    CHECK(strcmp(buf, "add zmm0 {k1}, zmm1, zmm31, {sae}, 0x4") == 0, "got '%s'", buf);

    /* broadcast: dword ptr [rax + 0x4]{1to16} */
    in.noperands = 3;
    in.attrs = HV_ATTR_BCST;
    in.evex_aaa = 0;
    in.modrm = 0x40;
    in.op[2].kind = HVEMU_OP_MEM;
    in.op[2].size = 4;
    memset(&in.op[2].u.mem, 0, sizeof(in.op[2].u.mem));
    in.op[2].u.mem.segment = HVEMU_DS;
    in.op[2].u.mem.base_class = HVEMU_REG_GPR64;
    in.op[2].u.mem.base = HVEMU_RAX;
    in.op[2].u.mem.scale = 1;
    in.op[2].u.mem.addr_size = 8;
    in.op[2].u.mem.bcst = 16;
    in.op[2].u.mem.disp = 4;
    hvemu_format(&in, 0, buf, sizeof(buf));
    CHECK(strcmp(buf, "add zmm0, zmm1, dword ptr [rax + 0x4]{1to16}") == 0, "got '%s'", buf);

    /* a VSIB index and an x87 stack register */
    in.op[2].u.mem.bcst = 0;
    in.op[2].size = 64;
    in.op[2].u.mem.index_class = HVEMU_REG_ZMM;
    in.op[2].u.mem.index = 17;
    in.op[2].u.mem.scale = 4;
    in.op[1].u.reg.cls = HVEMU_REG_ST;
    in.op[1].u.reg.idx = 0;
    in.op[0].u.reg.cls = HVEMU_REG_ST;
    in.op[0].u.reg.idx = 3;
    hvemu_format(&in, 0, buf, sizeof(buf));
    CHECK(strcmp(buf, "add st(3), st, zmmword ptr [rax + 4*zmm17 + 0x4]") == 0, "got '%s'", buf);
}

static void check_buffers(void)
{
    struct hvemu_insn in;
    uint8_t b[] = {0x48, 0x8b, 0x44, 0x98, 0x10};
    char full[128], small[8];
    int rc = hvemu_decode(b, sizeof(b), HVEMU_MODE_64, NULL, &in);
    CHECK(rc == HVEMU_DECODE_OK, "decode rc %d", rc);
    int n = hvemu_format(&in, 0, full, sizeof(full));
    CHECK(n == (int)strlen(full), "length %d vs %zu", n, strlen(full));
    /* every buffer size: NUL-terminated prefix of the full text, same return value */
    for (size_t sz = 0; sz <= (size_t)n + 2; sz++) {
        char buf[128];
        memset(buf, 'X', sizeof(buf));
        int m = hvemu_format(&in, 0, buf, sz);
        CHECK(m == n, "size %zu: returned %d, want %d", sz, m, n);
        if (sz) {
            size_t want = sz - 1 < (size_t)n ? sz - 1 : (size_t)n;
            CHECK(strlen(buf) == want && memcmp(buf, full, want) == 0, "size %zu: '%s'", sz, buf);
        }
        CHECK(buf[sz] == 'X', "size %zu: wrote past the end", sz);
    }
    CHECK(hvemu_format(&in, 0, NULL, 0) == n, "NULL buffer of size 0");
    hvemu_format(&in, 0, small, sizeof(small));
    CHECK(strcmp(small, "mov rax") == 0, "small '%s'", small);
}

static void check_reg_names(void)
{
    struct { enum hvemu_reg_class c; unsigned i; const char *n; } r[] = {
        {HVEMU_REG_GPR64, 0, "rax"}, {HVEMU_REG_GPR64, 17, "r17"}, {HVEMU_REG_GPR32, 16, "r16d"},
        {HVEMU_REG_GPR16, 31, "r31w"}, {HVEMU_REG_GPR8, 20, "r20b"}, {HVEMU_REG_GPR8, 6, "sil"},
        {HVEMU_REG_GPR8_HIGH, 3, "bh"}, {HVEMU_REG_SEG, 4, "fs"}, {HVEMU_REG_CR, 8, "cr8"},
        {HVEMU_REG_DR, 7, "dr7"}, {HVEMU_REG_ST, 1, "st(1)"}, {HVEMU_REG_MM, 7, "mm7"},
        {HVEMU_REG_XMM, 31, "xmm31"}, {HVEMU_REG_YMM, 3, "ymm3"}, {HVEMU_REG_ZMM, 16, "zmm16"},
        {HVEMU_REG_K, 1, "k1"}, {HVEMU_REG_TMM, 7, "tmm7"}, {HVEMU_REG_BND, 3, "bnd3"},
        {HVEMU_REG_RIP, 0, "rip"},
    };
    for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        const char *n = hvemu_reg_name(r[i].c, r[i].i);
        CHECK(n && strcmp(n, r[i].n) == 0, "class %d idx %u: %s", r[i].c, r[i].i, n ? n : "NULL");
    }
    CHECK(hvemu_reg_name(HVEMU_REG_GPR64, 32) == NULL, "gpr 32");
    CHECK(hvemu_reg_name(HVEMU_REG_K, 8) == NULL, "k8");
    CHECK(hvemu_reg_name(HVEMU_REG_NONE, 0) == NULL, "none");
    CHECK(hvemu_reg_name((enum hvemu_reg_class)200, 0) == NULL, "bad class");
}

/* Random bytes through decode and format, and random instruction structs (entry NULL):
 * the formatter stays within its buffer, terminates it and reports the full length. */
static void check_random(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned decoded = 0, bad = 0;
    for (unsigned iter = 0; iter < 300000; iter++) {
        uint8_t b[15];
        for (unsigned k = 0; k < 15; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[k] = (uint8_t)x;
        }
        struct hvemu_insn in;
        enum hvemu_mode mode = iter % 3 == 0 ? HVEMU_MODE_64 : iter % 3 == 1 ? HVEMU_MODE_32
                                                                           : HVEMU_MODE_16;
        if (hvemu_decode(b, 15, mode, NULL, &in) != HVEMU_DECODE_OK)
            continue;
        decoded++;
        char buf[200];
        memset(buf, 'X', sizeof(buf));
        int n = hvemu_format(&in, x, buf, 160);
        if (n <= 0 || n >= 160 || (size_t)n != strlen(buf) || buf[160] != 'X' ||
            strstr(buf, "(bad)")) {
            if (bad++ < 5)
                CHECK(0, "random %02x%02x%02x%02x: n=%d '%s'", b[0], b[1], b[2], b[3], n, buf);
        }
    }
    CHECK(decoded > 10000, "only %u random instructions decoded", decoded);
    CHECK(bad == 0, "%u random instructions formatted badly", bad);

    unsigned garbage_bad = 0;
    for (unsigned iter = 0; iter < 20000; iter++) {
        struct hvemu_insn in;
        uint8_t *raw = (uint8_t *)&in;
        for (size_t k = 0; k < sizeof(in); k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            raw[k] = (uint8_t)x;
        }
        in.entry = NULL;
        char buf[64];
        memset(buf, 'X', sizeof(buf));
        int n = hvemu_format(&in, 0, buf, 32);
        if (!(n > 0 && buf[32] == 'X' && strlen(buf) == (size_t)(n < 32 ? n : 31)) &&
            garbage_bad++ < 5)
            printf("garbage insn %u: n=%d '%s'\n", iter, n, buf);
    }
    CHECK(garbage_bad == 0, "%u garbage instructions formatted badly", garbage_bad);
}

int main(void)
{
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct fcase *c = &cases[i];
        uint8_t b[16];
        size_t n = strlen(c->hex) / 2;
        for (size_t k = 0; k < n; k++) {
            char two[3] = {c->hex[2 * k], c->hex[2 * k + 1], 0};
            b[k] = (uint8_t)strtoul(two, NULL, 16);
        }
        struct hvemu_insn in;
        char buf[160];
        int rc = hvemu_decode(b, n, (enum hvemu_mode)c->mode, NULL, &in);
        if (rc != HVEMU_DECODE_OK) {
            CHECK(0, "%d-bit %s: decode status %d", c->mode, c->hex, rc);
            continue;
        }
        CHECK(in.length == n, "%d-bit %s: length %u", c->mode, c->hex, in.length);
        hvemu_format(&in, c->address, buf, sizeof(buf));
        CHECK(strcmp(buf, c->text) == 0, "%d-bit %s: got '%s', want '%s'", c->mode, c->hex, buf,
              c->text);
    }
    check_evex();
    check_buffers();
    check_reg_names();
    check_random();
    TEST_DONE();
}
