/* SPDX-License-Identifier: MIT */
/* CPU modes outside 64-bit mode, where the host cannot be the reference: real mode (big real
 * mode, IP at the 0xFFFF limit), 16- and 32-bit protected mode, compatibility mode; segment
 * limit and type faults (expand-down, read-only, execute-only, unusable), #SS versus #GP, the
 * CS limit on fetches and branches, 32-bit linear wrap-around, the stack-pointer width, and
 * that every fault leaves the state and memory as they were. */
#include "testlib.h"
#include "hvemu.h"

#include <stdlib.h>

/* Guest memory: 2 MiB at linear 0, and the 4 KiB page below 4 GiB (for the wrap tests).
 * Anything else is #PF with CR2 = the address. */
#define LOW_SIZE 0x200000u
#define TOP_PAGE 0xfffff000ull
static uint8_t *low;
static uint8_t top[4096];
static unsigned pio_ins;

static uint8_t *where(uint64_t a, unsigned n)
{
    if (a + n <= LOW_SIZE)
        return low + a;
    if (a >= TOP_PAGE && a + n <= 0x100000000ull)
        return top + (a - TOP_PAGE);
    return NULL;
}

static int pf(uint64_t a, struct hvemu_exception *e)
{
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = 0;
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

static int m_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k;
    uint8_t *p = where(a, n);
    if (!p)
        return pf(a, e);
    memcpy(d, p, n);
    return HVEMU_CB_OK;
}

static int m_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k;
    uint8_t *p = where(a, n);
    if (!p)
        return pf(a, e);
    memcpy(p, d, n);
    return HVEMU_CB_OK;
}

static int m_in(void *o, uint16_t port, void *d, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)e;
    pio_ins++;
    memset(d, (int)(port & 0xff), n);
    return HVEMU_CB_OK;
}

static int vendor_amd;
static int m_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o; (void)sub;
    memset(out, 0, 16);
    if (leaf == 0)
        out[1] = vendor_amd ? 0x68747541u : 0x756e6547u; /* "Auth" / "Genu" */
    return HVEMU_CB_OK;
}

static const struct hvemu_ops ops = {.read = m_read, .write = m_write, .pio_in = m_in,
                                     .cpuid = m_cpuid};

static struct hvemu_state S, before;
static struct hvemu_ctx C;
static struct hvemu_result R;

static void seg(unsigned i, uint16_t sel, uint64_t base, uint32_t limit, uint32_t attr)
{
    S.seg[i].selector = sel;
    S.seg[i].base = base;
    S.seg[i].limit = limit;
    S.seg[i].attr = attr;
}

/* Real mode as a VMM holds it: PE clear, each segment base = selector * 16, limit 0xFFFF,
 * read/write data (0x93) and a readable code segment (0x9b). */
static void real_mode(void)
{
    memset(&S, 0, sizeof S);
    S.valid = HVEMU_PART_ALL;
    S.cr0 = 0x10;
    S.rflags = 2;
    seg(HVEMU_CS, 0x1000, 0x10000, 0xffff, 0x9b);
    for (unsigned i = 0; i < HVEMU_NUM_SEGS; i++)
        if (i != HVEMU_CS)
            seg(i, 0x2000, 0x20000, 0xffff, 0x93);
    S.rip = 0x100;
}

/* Protected mode with 16-bit (d = 0) or 32-bit (d = 1) code and flat 4 GiB data segments. */
static void prot_mode(int d)
{
    memset(&S, 0, sizeof S);
    S.valid = HVEMU_PART_ALL;
    S.cr0 = 0x11;
    S.rflags = 2;
    uint32_t db = d ? HVEMU_SEG_ATTR_DB : 0;
    seg(HVEMU_CS, 0x8, 0, d ? 0xffffffffu : 0xffff, 0x9b | db | (d ? 0x8000u : 0));
    for (unsigned i = 0; i < HVEMU_NUM_SEGS; i++)
        if (i != HVEMU_CS)
            seg(i, 0x10, 0, 0xffffffffu, 0xc093);
    S.rip = 0x1000;
}

static int hexb(const char *hex, uint8_t *b)
{
    int n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        b[n++] = (uint8_t)v;
    }
    return n;
}

/* Run the instruction given as hex (placed at CS:EIP in memory, fetched through callbacks). */
static int run(const char *hex)
{
    uint8_t b[16];
    int n = hexb(hex, b);
    uint64_t la = (S.seg[HVEMU_CS].base + (S.rip & 0xffffffffu)) & 0xffffffffu;
    for (int i = 0; i < n; i++) {
        uint8_t *p = where((la + (unsigned)i) & 0xffffffffu, 1);
        if (p)
            *p = b[i];
    }
    memcpy(&before, &S, sizeof S);
    S.dirty = 0;
    before.dirty = 0;
    return hvemu_emulate(&C, &R);
}

static uint32_t rd32(uint64_t a)
{
    uint32_t v = 0;
    uint8_t *p = where(a, 4);
    if (p)
        memcpy(&v, p, 4);
    return v;
}

static void wr32(uint64_t a, uint32_t v)
{
    uint8_t *p = where(a, 4);
    if (p)
        memcpy(p, &v, 4);
}

/* The instruction faulted with `vec` (error code 0) and changed nothing at all. */
#define FAULTED(vec, what)                                                                      \
    do {                                                                                        \
        CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == (vec) && R.exc.error_code == 0 &&   \
              R.exc.has_error_code == ((S.cr0 & 1) && (vec) != HVEMU_EXC_DE &&                \
                                       (vec) != HVEMU_EXC_BR),                                  \
              "%s: status %d vector %u err %u (%s)", what, R.status, R.exc.vector,              \
              R.exc.has_error_code, R.reason ? R.reason : "");                                  \
        CHECK(!memcmp(&S, &before, sizeof S), "%s: the state changed on a fault", what);        \
    } while (0)
#define OK(what) CHECK(R.status == HVEMU_OK, "%s: status %d (%s %s) vector %u", what, R.status, \
                       R.reason ? R.reason : "", R.detail, R.exc.vector)

static void test_real(void)
{
    /* mov [bx], ax: DS base 0x20000 */
    real_mode();
    S.gpr[HVEMU_RBX] = 0x10;
    S.gpr[HVEMU_RAX] = 0xdeadbeef;
    run("8907");
    OK("real mov [bx], ax");
    CHECK((rd32(0x20010) & 0xffff) == 0xbeef && S.rip == 0x102, "real mov: mem %x rip %llx",
          rd32(0x20010), (unsigned long long)S.rip);

    /* the last byte past the 0xFFFF limit: #GP(0), nothing written */
    real_mode();
    S.gpr[HVEMU_RBX] = 0xffff;
    wr32(0x2ffff, 0x11223344);
    run("8907");
    FAULTED(HVEMU_EXC_GP, "real word at 0xFFFF");
    CHECK(rd32(0x2ffff) == 0x11223344, "real limit fault wrote memory");
    /* a byte there is fine */
    real_mode();
    S.gpr[HVEMU_RBX] = 0xffff;
    run("8807");
    OK("real byte at 0xFFFF");
    /* BP-based: SS, so #SS(0) */
    real_mode();
    S.gpr[HVEMU_RBP] = 0xffff;
    run("894600");
    FAULTED(HVEMU_EXC_SS, "real [bp] word at 0xFFFF");
    /* 16-bit addressing wraps the offset before the limit check: [bx+si] = 0x0001 */
    real_mode();
    S.gpr[HVEMU_RBX] = 0xffff;
    S.gpr[HVEMU_RSI] = 2;
    S.gpr[HVEMU_RAX] = 0x5566;
    run("8900");
    OK("real [bx+si] wrap");
    CHECK((rd32(0x20001) & 0xffff) == 0x5566, "real [bx+si] wrap: %x", rd32(0x20001));

    /* big real mode: DS base 0 with a 4 GiB limit left by protected mode, 32-bit addressing
     * (67) reaches above 1 MiB; with the ordinary limit it is #GP(0) */
    real_mode();
    seg(HVEMU_DS, 0, 0, 0xffffffffu, 0x8093);
    S.gpr[HVEMU_RBX] = 0x150000;
    S.gpr[HVEMU_RAX] = 0xcafef00d;
    run("668907"); /* 16-bit code: 66 = 32-bit operand, mov [bx] */
    OK("big real mov [bx], eax");
    run("67668903"); /* mov [ebx], eax */
    OK("big real mov [ebx], eax");
    CHECK(rd32(0x150000) == 0xcafef00d, "big real: %x", rd32(0x150000));
    real_mode();
    S.gpr[HVEMU_RBX] = 0x150000;
    run("67668903");
    FAULTED(HVEMU_EXC_GP, "real mov [ebx] past 0xFFFF");

    /* IP at the CS limit: a 1-byte instruction at 0xFFFF completes (EIP 0x10000), and the
     * next fetch is #GP(0); an instruction reaching past the limit is #GP(0) */
    real_mode();
    S.rip = 0xffff;
    run("90");
    OK("real nop at 0xFFFF");
    CHECK(S.rip == 0x10000, "rip after 0xFFFF: %llx", (unsigned long long)S.rip);
    run("90");
    FAULTED(HVEMU_EXC_GP, "real fetch at 0x10000");
    real_mode();
    S.rip = 0xfffe;
    run("8907");
    OK("real 2-byte insn ending at 0xFFFF");
    real_mode();
    S.rip = 0xffff;
    run("8907");
    FAULTED(HVEMU_EXC_GP, "real insn crossing the CS limit");
    /* with a 4 GiB CS limit the instruction pointer goes on past 0xFFFF */
    real_mode();
    S.seg[HVEMU_CS].limit = 0xffffffffu;
    S.rip = 0xffff;
    run("8907");
    OK("real insn crossing 0xFFFF, big CS");
    CHECK(S.rip == 0x10001, "rip %llx", (unsigned long long)S.rip);

    /* branches: the target is truncated to 16 bits and checked against the CS limit */
    real_mode();
    S.rip = 0xfff0;
    run("e92000"); /* jmp rel16: 0xfff3 + 0x20 = 0x10013 -> 0x0013 */
    OK("real jmp wrap");
    CHECK(S.rip == 0x13, "jmp wrap rip %llx", (unsigned long long)S.rip);
    real_mode();
    S.seg[HVEMU_CS].limit = 0x1ff;
    run("e90002"); /* 0x103 + 0x200 = 0x303 > 0x1ff */
    FAULTED(HVEMU_EXC_GP, "real jmp past the CS limit");
    real_mode();
    S.seg[HVEMU_CS].limit = 0x1ff;
    run("ebfe");
    OK("real jmp within the limit");

    /* the stack: SP wraps within 16 bits, ESP's upper half stays */
    real_mode();
    S.gpr[HVEMU_RSP] = 0x12340000;
    S.gpr[HVEMU_RAX] = 0xabcd;
    run("50");
    OK("real push ax at SP 0");
    CHECK(S.gpr[HVEMU_RSP] == 0x1234fffe && (rd32(0x2fffe) & 0xffff) == 0xabcd,
          "push wrap: rsp %llx mem %x", (unsigned long long)S.gpr[HVEMU_RSP], rd32(0x2fffe));
    real_mode();
    S.gpr[HVEMU_RSP] = 0xffff;
    run("58");
    FAULTED(HVEMU_EXC_SS, "real pop at SP 0xFFFF");
    /* call pushes the 16-bit IP */
    real_mode();
    S.gpr[HVEMU_RSP] = 0x100;
    run("e80010");
    OK("real call");
    CHECK(S.rip == 0x1103 && S.gpr[HVEMU_RSP] == 0xfe && (rd32(0x200fe) & 0xffff) == 0x103,
          "call: rip %llx sp %llx", (unsigned long long)S.rip, (unsigned long long)S.gpr[HVEMU_RSP]);
    run("c3");
    OK("real ret");
    CHECK(S.rip == 0x103 && S.gpr[HVEMU_RSP] == 0x100, "ret: rip %llx", (unsigned long long)S.rip);

    /* CPL 0 in real mode whatever CS's low bits: IN at IOPL 0 and POPF setting IOPL */
    real_mode();
    S.seg[HVEMU_CS].selector = 0x1003;
    pio_ins = 0;
    run("e460");
    OK("real in al, 0x60");
    CHECK(pio_ins == 1 && (S.gpr[HVEMU_RAX] & 0xff) == 0x60, "in: %u", pio_ins);
    real_mode();
    S.seg[HVEMU_CS].selector = 0x1003;
    S.gpr[HVEMU_RSP] = 0x200;
    wr32(0x20200, 0x3202);
    run("9d");
    OK("real popf");
    CHECK((S.rflags & 0x3200) == 0x3200, "popf at CPL 0: %llx", (unsigned long long)S.rflags);

    /* REP MOVSB with 16-bit addresses: SI wraps from 0xFFFF to 0 */
    real_mode();
    S.gpr[HVEMU_RSI] = 0xffff;
    S.gpr[HVEMU_RDI] = 0x10;
    S.gpr[HVEMU_RCX] = 0x70000 | 2;
    low[0x2ffff] = 0xa1;
    low[0x20000] = 0xa2;
    run("f3a4");
    OK("real rep movsb wrap");
    CHECK(S.gpr[HVEMU_RSI] == 1 && S.gpr[HVEMU_RDI] == 0x12 && S.gpr[HVEMU_RCX] == 0x70000 &&
          low[0x20010] == 0xa1 && low[0x20011] == 0xa2, "movsb: si %llx cx %llx",
          (unsigned long long)S.gpr[HVEMU_RSI], (unsigned long long)S.gpr[HVEMU_RCX]);
    /* a word at SI = 0xFFFF crosses the limit: #GP, no iteration done */
    real_mode();
    S.gpr[HVEMU_RSI] = 0xffff;
    S.gpr[HVEMU_RCX] = 1;
    run("f3a5");
    FAULTED(HVEMU_EXC_GP, "real movsw at 0xFFFF");

    /* LEA with 16-bit addressing wraps; a 32-bit destination is zero-extended */
    real_mode();
    S.gpr[HVEMU_RBX] = 0xffff;
    S.gpr[HVEMU_RSI] = 2;
    S.gpr[HVEMU_RAX] = ~0ull;
    run("668d00");
    OK("lea eax, [bx+si]");
    CHECK(S.gpr[HVEMU_RAX] == 1, "lea: %llx", (unsigned long long)S.gpr[HVEMU_RAX]);
    /* LOOP counts CX: ECX's upper half stays */
    real_mode();
    S.gpr[HVEMU_RCX] = 0x10000;
    run("e2fe");
    OK("loop with CX 0");
    CHECK(S.gpr[HVEMU_RCX] == 0x1ffff && S.rip == 0x100, "loop: cx %llx", (unsigned long long)S.gpr[HVEMU_RCX]);
}

static void test_prot16(void)
{
    /* 16-bit code: default 16-bit operands; flat data */
    prot_mode(0);
    S.gpr[HVEMU_RBX] = 0x1800;
    S.gpr[HVEMU_RAX] = 0x12345678;
    run("8907");
    OK("prot16 mov [bx], ax");
    CHECK(rd32(0x1800) == 0x5678, "prot16: %x", rd32(0x1800));

    /* a read-only data segment: reads work, writes (and RMW) are #GP(0) */
    prot_mode(0);
    S.seg[HVEMU_DS].attr = 0xc091;
    S.gpr[HVEMU_RBX] = 0x1800;
    run("8b07");
    OK("read of a read-only segment");
    run("8907");
    FAULTED(HVEMU_EXC_GP, "write to a read-only segment");
    run("0107");
    FAULTED(HVEMU_EXC_GP, "RMW of a read-only segment");
    /* read-only SS: [bp] is #SS */
    prot_mode(0);
    S.seg[HVEMU_SS].attr = 0xc091;
    run("894600");
    FAULTED(HVEMU_EXC_SS, "write through a read-only SS");

    /* code segments: readable ones can be read through CS, never written; execute-only ones
     * cannot be read */
    prot_mode(0);
    S.gpr[HVEMU_RBX] = 0x1800;
    run("2e8b07");
    OK("read through a readable CS");
    run("2e8907");
    FAULTED(HVEMU_EXC_GP, "write through CS");
    S.seg[HVEMU_CS].attr = 0x99;
    run("2e8b07");
    FAULTED(HVEMU_EXC_GP, "read of an execute-only CS");
    /* a code segment in DS: same rules */
    prot_mode(0);
    S.seg[HVEMU_DS].attr = 0xc099;
    run("8b07");
    FAULTED(HVEMU_EXC_GP, "read of an execute-only segment in DS");

    /* an unusable (null) segment: #GP(0) on any use */
    prot_mode(0);
    S.seg[HVEMU_ES].attr = HVEMU_SEG_ATTR_UNUSABLE;
    run("268b07");
    FAULTED(HVEMU_EXC_GP, "read through a null ES");
    S.gpr[HVEMU_RDI] = 0x100;
    run("aa");
    FAULTED(HVEMU_EXC_GP, "stosb through a null ES");

    /* expand-down, B = 0: valid offsets are limit+1 .. 0xFFFF */
    prot_mode(0);
    seg(HVEMU_DS, 0x18, 0x100000, 0x0fff, 0x97);
    S.gpr[HVEMU_RBX] = 0x0fff;
    run("8807");
    FAULTED(HVEMU_EXC_GP, "expand-down at the limit");
    S.gpr[HVEMU_RBX] = 0x1000;
    run("8907");
    OK("expand-down just above the limit");
    S.gpr[HVEMU_RBX] = 0xffff;
    run("8807");
    OK("expand-down byte at 0xFFFF");
    run("8907");
    FAULTED(HVEMU_EXC_GP, "expand-down word past 0xFFFF (B = 0)");
    /* B = 1: the upper bound is 0xFFFFFFFF */
    S.seg[HVEMU_DS].attr = 0x97 | HVEMU_SEG_ATTR_DB;
    run("8907");
    OK("expand-down word past 0xFFFF (B = 1)");
    /* SS expand-down: #SS */
    prot_mode(0);
    seg(HVEMU_SS, 0x18, 0x100000, 0x0fff, 0x97);
    S.gpr[HVEMU_RSP] = 0x1002;
    run("50");
    OK("push into expand-down SS");
    CHECK(S.gpr[HVEMU_RSP] == 0x1000, "sp %llx", (unsigned long long)S.gpr[HVEMU_RSP]);
    run("50");
    FAULTED(HVEMU_EXC_SS, "push below an expand-down SS's limit");

    /* a 16-bit stack (SS.B = 0) with a large limit: SP wraps, the access does not */
    prot_mode(0);
    seg(HVEMU_SS, 0x18, 0x100000, 0xfffff, 0x93);
    S.gpr[HVEMU_RSP] = 0xabcd0002;
    S.gpr[HVEMU_RAX] = 0x11223344;
    run("6650"); /* push eax */
    OK("push eax with SP 2");
    CHECK(S.gpr[HVEMU_RSP] == 0xabcdfffe && rd32(0x10fffe) == 0x11223344, "sp %llx mem %x",
          (unsigned long long)S.gpr[HVEMU_RSP], rd32(0x10fffe));
    /* 32-bit stack (SS.B = 1): ESP */
    prot_mode(0);
    seg(HVEMU_SS, 0x18, 0, 0xffffffffu, 0xc093);
    S.gpr[HVEMU_RSP] = 0x10002;
    run("50");
    OK("push ax with ESP");
    CHECK(S.gpr[HVEMU_RSP] == 0x10000, "esp %llx", (unsigned long long)S.gpr[HVEMU_RSP]);

    /* the CS limit on a branch target and on the fetch */
    prot_mode(0);
    S.seg[HVEMU_CS].limit = 0x10ff;
    run("eb7f"); /* 0x1002 + 0x7f = 0x1081 */
    OK("jmp within the CS limit");
    prot_mode(0);
    S.seg[HVEMU_CS].limit = 0x10ff;
    run("e90001"); /* 0x1003 + 0x100 = 0x1103 */
    FAULTED(HVEMU_EXC_GP, "jmp past the CS limit");
    prot_mode(0);
    S.seg[HVEMU_CS].limit = 0x1001;
    run("8907");
    OK("insn ending at the CS limit");
    prot_mode(0);
    S.seg[HVEMU_CS].limit = 0x1001;
    run("66b801000000");
    FAULTED(HVEMU_EXC_GP, "insn crossing the CS limit");

    /* SGDT stores the limit and the 32-bit base; LGDT with a 16-bit operand keeps 24 bits */
    prot_mode(0);
    S.gdtr.base = 0x12345678;
    S.gdtr.limit = 0x3ff;
    S.gpr[HVEMU_RBX] = 0x1800;
    memset(low + 0x1800, 0xee, 8);
    run("0f0107");
    OK("sgdt");
    CHECK(rd32(0x1800) == 0x567803ff && rd32(0x1804) == 0xeeee1234, "sgdt: %x %x",
          rd32(0x1800), rd32(0x1804));
    wr32(0x1800, 0xccdd0123);
    wr32(0x1804, 0xaabb);
    run("0f0117");
    OK("lgdt o16");
    CHECK(S.gdtr.base == 0xbbccdd && S.gdtr.limit == 0x123, "lgdt: %llx",
          (unsigned long long)S.gdtr.base);
    run("660f0117");
    OK("lgdt o32");
    CHECK(S.gdtr.base == 0xaabbccdd, "lgdt32: %llx", (unsigned long long)S.gdtr.base);
    /* MOV CR outside 64-bit mode: not executed yet */
    run("0f20c0");
    CHECK(R.status == HVEMU_UNHANDLEABLE, "mov eax, cr0: %d", R.status);
}

static void test_prot32(void)
{
    /* 32-bit linear addresses wrap at 4 GiB: base 0xFFFFF000 + 0x1010 = 0x10 */
    prot_mode(1);
    S.seg[HVEMU_DS].base = 0xfffff000u;
    S.gpr[HVEMU_RBX] = 0x1010;
    S.gpr[HVEMU_RAX] = 0x600df00d;
    run("8903");
    OK("prot32 wrap");
    CHECK(rd32(0x10) == 0x600df00d, "wrap: %x", rd32(0x10));
    /* an access whose bytes wrap: two at 0xFFFFFFFE, two at 0 */
    prot_mode(1);
    S.seg[HVEMU_DS].base = 0xfffffffeu;
    S.gpr[HVEMU_RBX] = 0;
    S.gpr[HVEMU_RAX] = 0xa1b2c3d4;
    wr32(0, 0);
    run("8903");
    OK("prot32 access wrapping at 4 GiB");
    CHECK(top[4094] == 0xd4 && top[4095] == 0xc3 && low[0] == 0xb2 && low[1] == 0xa1,
          "wrapped bytes %02x %02x %02x %02x", top[4094], top[4095], low[0], low[1]);
    /* the offset past a 4 GiB limit: #GP (the last byte is above the limit) */
    prot_mode(1);
    S.gpr[HVEMU_RBX] = 0xfffffffeu;
    run("8903");
    FAULTED(HVEMU_EXC_GP, "dword at offset 0xFFFFFFFE");
    /* ESP-based: #SS */
    prot_mode(1);
    S.gpr[HVEMU_RSP] = 0xfffffffeu;
    run("8b0424");
    FAULTED(HVEMU_EXC_SS, "dword at ESP 0xFFFFFFFE");
    /* a limited data segment, 32-bit addressing */
    prot_mode(1);
    S.seg[HVEMU_ES].limit = 0x1fff;
    S.gpr[HVEMU_RDI] = 0x1ffe;
    S.gpr[HVEMU_RCX] = 3;
    S.gpr[HVEMU_RAX] = 0x77;
    run("f3aa"); /* rep stosb: two iterations retire, the third is #GP */
    CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_GP && S.gpr[HVEMU_RDI] == 0x2000 &&
          S.gpr[HVEMU_RCX] == 1 && low[0x1ffe] == 0x77 && low[0x1fff] == 0x77 && S.rip == 0x1000,
          "rep stosb to the ES limit: %d rdi %llx rcx %llx", R.status,
          (unsigned long long)S.gpr[HVEMU_RDI], (unsigned long long)S.gpr[HVEMU_RCX]);
    /* EIP wraps at 32 bits */
    prot_mode(1);
    S.seg[HVEMU_CS].base = 0x1000;
    S.rip = 0xffffffffu;
    S.seg[HVEMU_CS].limit = 0xffffffffu;
    run("90");
    OK("nop at EIP 0xFFFFFFFF");
    CHECK(S.rip == 0, "eip %llx", (unsigned long long)S.rip);
    /* INC/DEC 40-4F are instructions outside 64-bit mode */
    prot_mode(1);
    S.gpr[HVEMU_RAX] = 0xffffffffu;
    run("40");
    OK("inc eax");
    CHECK(S.gpr[HVEMU_RAX] == 0 && (S.rflags & HVEMU_FLAG_ZF) && S.rip == 0x1001, "inc: %llx",
          (unsigned long long)S.gpr[HVEMU_RAX]);
    /* virtual-8086 mode is not executed */
    prot_mode(1);
    S.rflags |= HVEMU_FLAG_VM;
    run("90");
    CHECK(R.status == HVEMU_UNHANDLEABLE && S.rip == 0x1000, "v86: %d", R.status);
}

static void test_compat_and_cache(void)
{
    /* compatibility mode with a 16-bit code segment: add [bx+si], ax */
    prot_mode(0);
    S.efer = 0x500;
    S.cr0 = 0x80000011;
    S.gpr[HVEMU_RBX] = 0x1800;
    S.gpr[HVEMU_RSI] = 0x10;
    S.gpr[HVEMU_RAX] = 5;
    wr32(0x1810, 0x10000);
    run("0100");
    OK("compat16 add [bx+si], ax");
    CHECK(rd32(0x1810) == 0x10005 && S.rip == 0x1002, "compat16: %x", rd32(0x1810));

    /* the decode cache is keyed by mode: the same bytes are 5 bytes in 32-bit code and 3 in
     * 16-bit code */
    prot_mode(1);
    run("b801000000");
    OK("mov eax, 1");
    CHECK(S.rip == 0x1005 && S.gpr[HVEMU_RAX] == 1, "32: rip %llx", (unsigned long long)S.rip);
    prot_mode(0);
    S.gpr[HVEMU_RAX] = 0xffff0000u;
    run("b801000000");
    OK("mov ax, 1");
    CHECK(S.rip == 0x1003 && S.gpr[HVEMU_RAX] == 0xffff0001u, "16: rip %llx rax %llx",
          (unsigned long long)S.rip, (unsigned long long)S.gpr[HVEMU_RAX]);
    /* and 64-bit mode after it decodes anew: B8 is mov eax, imm32 there */
    prot_mode(1);
    S.efer = 0x500;
    S.cr0 = 0x80000011;
    S.seg[HVEMU_CS].attr = 0xa09b; /* L */
    run("b801000000");
    OK("64-bit mov eax, 1");
    CHECK(S.rip == 0x1005, "64: rip %llx", (unsigned long long)S.rip);
}

static void test_legacy_insns(void)
{
    /* real-mode segment loads: base = selector * 16, the (big) limit stays */
    real_mode();
    seg(HVEMU_DS, 0, 0, 0xffffffffu, 0x8093);
    S.gpr[HVEMU_RAX] = 0x1234;
    run("8ed8"); /* mov ds, ax */
    OK("real mov ds, ax");
    CHECK(S.seg[HVEMU_DS].selector == 0x1234 && S.seg[HVEMU_DS].base == 0x12340 &&
          S.seg[HVEMU_DS].limit == 0xffffffffu && (S.dirty & HVEMU_PART_SEG(HVEMU_DS)),
          "mov ds: base %llx", (unsigned long long)S.seg[HVEMU_DS].base);
    S.gpr[HVEMU_RSP] = 0x80;
    low[0x20080] = 0x00;
    low[0x20081] = 0x30;
    run("07"); /* pop es */
    OK("real pop es");
    CHECK(S.seg[HVEMU_ES].base == 0x30000 && S.gpr[HVEMU_RSP] == 0x82, "pop es: %llx",
          (unsigned long long)S.seg[HVEMU_ES].base);
    run("8ed0"); /* mov ss, ax: loaded, with the one-instruction interrupt shadow reported */
    CHECK(R.status == HVEMU_OK && R.event == HVEMU_EVENT_SS_SHADOW && S.seg[HVEMU_SS].base == 0x12340,
          "mov ss: %d", R.status);
    prot_mode(0);
    S.gpr[HVEMU_RAX] = 0x1234;
    run("8ed8"); /* a descriptor load (src/exec/segment.c): this state's GDT is empty */
    CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_GP && R.exc.error_code == 0x1234,
          "protected-mode mov ds: %d %d %x", R.status, R.exc.vector, R.exc.error_code);

    /* LES/LSS in real mode: offset into the register, selector into the segment */
    real_mode();
    S.gpr[HVEMU_RBX] = 0x40;
    wr32(0x20040, 0x56781234);
    run("c407"); /* les ax, [bx] */
    OK("real les");
    CHECK((S.gpr[HVEMU_RAX] & 0xffff) == 0x1234 && S.seg[HVEMU_ES].selector == 0x5678 &&
          S.seg[HVEMU_ES].base == 0x56780, "les: ax %llx es %x", (unsigned long long)S.gpr[HVEMU_RAX],
          S.seg[HVEMU_ES].selector);
    run("0fb227"); /* lss sp, [bx] */
    OK("real lss");
    CHECK((S.gpr[HVEMU_RSP] & 0xffff) == 0x1234 && S.seg[HVEMU_SS].base == 0x56780, "lss");
    S.gpr[HVEMU_RBX] = 0xfffe;
    run("c507"); /* lds ax, [bx]: 4 bytes from 0xFFFE cross the limit */
    FAULTED(HVEMU_EXC_GP, "real lds past the limit");
    prot_mode(1);
    S.gpr[HVEMU_RDI] = 0x40; /* c5 07 with 32-bit addressing is lds eax, [edi] */
    wr32(0x40, 0x11111111);
    wr32(0x44, 0x5678);
    run("c507"); /* a descriptor load: the far pointer's selector lies beyond the empty GDT */
    CHECK(R.status == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_GP && R.exc.error_code == 0x5678,
          "protected-mode lds: %d %d", R.status, R.exc.vector);
    /* far JMP: unhandleable, named */
    run("ea0000000008000");
    CHECK(R.status == HVEMU_UNHANDLEABLE && R.reason && strstr(R.reason, "far"), "far jmp: %d", R.status);
    /* 32-bit PUSH of a segment register: Intel moves 16 bits into the slot, AMD fills it */
    S.gpr[HVEMU_RSP] = 0x100;
    wr32(0xfc, 0xaaaaaaaa);
    S.seg[HVEMU_ES].selector = 0x1234;
    run("06");
    CHECK(R.status == HVEMU_OK && S.gpr[HVEMU_RSP] == 0xfc && rd32(0xfc) == 0xaaaa1234,
          "push es (32-bit), Intel: %d %x", R.status, rd32(0xfc));
    vendor_amd = 1;
    S.gpr[HVEMU_RSP] = 0x100;
    run("06");
    CHECK(R.status == HVEMU_OK && rd32(0xfc) == 0x1234, "push es (32-bit), AMD: %x", rd32(0xfc));
    vendor_amd = 0;

    /* PUSHA with a 16-bit stack, POPA back; the stored SP is skipped */
    real_mode();
    for (unsigned i = 0; i < 8; i++)
        S.gpr[i] = 0x1100 * (i + 1) + i;
    S.gpr[HVEMU_RSP] = 0x55550100;
    run("60");
    OK("real pusha");
    CHECK(S.gpr[HVEMU_RSP] == 0x555500f0 && (rd32(0x200f0) & 0xffff) == (uint16_t)S.gpr[HVEMU_RDI] &&
          (rd32(0x200f6) & 0xffff) == 0x0100 && (rd32(0x200fe) & 0xffff) == (uint16_t)S.gpr[HVEMU_RAX],
          "pusha: sp %llx", (unsigned long long)S.gpr[HVEMU_RSP]);
    for (unsigned i = 0; i < 8; i++)
        if (i != HVEMU_RSP)
            S.gpr[i] = 0;
    run("61");
    OK("real popa");
    CHECK(S.gpr[HVEMU_RAX] == 0x1100 && S.gpr[HVEMU_RDI] == 0x8807 && S.gpr[HVEMU_RSP] == 0x55550100,
          "popa: ax %llx di %llx", (unsigned long long)S.gpr[HVEMU_RAX], (unsigned long long)S.gpr[HVEMU_RDI]);
    /* PUSHA with SP = 4: AX and CX below it, DX .. DI wrapped to the top of the segment */
    real_mode();
    for (unsigned i = 0; i < 8; i++)
        S.gpr[i] = 0x1100 * (i + 1);
    S.gpr[HVEMU_RSP] = 4;
    run("60");
    OK("real pusha across SP 0");
    CHECK(S.gpr[HVEMU_RSP] == 0xfff4 && (rd32(0x20002) & 0xffff) == 0x1100 &&
          (rd32(0x20000) & 0xffff) == 0x2200 && (rd32(0x2fffe) & 0xffff) == 0x3300 &&
          (rd32(0x2fff4) & 0xffff) == 0x8800, "pusha wrap: sp %llx",
          (unsigned long long)S.gpr[HVEMU_RSP]);
    run("61");
    OK("real popa across SP 0");
    CHECK(S.gpr[HVEMU_RSP] == 4 && S.gpr[HVEMU_RDX] == 0x3300 && S.gpr[HVEMU_RAX] == 0x1100,
          "popa wrap: sp %llx dx %llx", (unsigned long long)S.gpr[HVEMU_RSP],
          (unsigned long long)S.gpr[HVEMU_RDX]);
    /* with SP = 1 the first push straddles 0xFFFF: #SS, nothing written */
    real_mode();
    S.gpr[HVEMU_RSP] = 1;
    run("60");
    FAULTED(HVEMU_EXC_SS, "real pusha straddling the SS limit");

    /* BCD: DAA after 0x19 + 0x28 = 0x41 with AF: 0x47; AAM 10 of 47: AH 4, AL 7 */
    prot_mode(1);
    S.gpr[HVEMU_RAX] = 0x41;
    S.rflags = 2 | HVEMU_FLAG_AF;
    run("27");
    OK("daa");
    CHECK((S.gpr[HVEMU_RAX] & 0xff) == 0x47 && !(S.rflags & HVEMU_FLAG_CF), "daa: %llx",
          (unsigned long long)S.gpr[HVEMU_RAX]);
    S.gpr[HVEMU_RAX] = 47;
    run("d40a");
    OK("aam");
    CHECK((S.gpr[HVEMU_RAX] & 0xffff) == 0x0407, "aam: %llx", (unsigned long long)S.gpr[HVEMU_RAX]);
    run("d400");
    FAULTED(HVEMU_EXC_DE, "aam 0");
    run("d50a");
    OK("aad");
    CHECK((S.gpr[HVEMU_RAX] & 0xffff) == 47, "aad: %llx", (unsigned long long)S.gpr[HVEMU_RAX]);
    /* AAA with AL = 0xFA: AX + 106h carries twice into AH */
    S.gpr[HVEMU_RAX] = 0x01fa;
    run("37");
    OK("aaa");
    CHECK((S.gpr[HVEMU_RAX] & 0xffff) == 0x0300 && (S.rflags & HVEMU_FLAG_CF), "aaa: %llx",
          (unsigned long long)S.gpr[HVEMU_RAX]);

    /* BOUND: #BR outside [lower, upper], signed */
    prot_mode(1);
    wr32(0x1800, (uint32_t)-5);
    wr32(0x1804, 10);
    S.gpr[HVEMU_RBX] = 0x1800;
    S.gpr[HVEMU_RAX] = (uint32_t)-5;
    run("6203");
    OK("bound within");
    S.gpr[HVEMU_RAX] = 11;
    run("6203");
    FAULTED(HVEMU_EXC_BR, "bound above");
    /* INTO: nothing with OF clear; with OF set it completes with a #OF trap */
    run("ce");
    OK("into, OF clear");
    S.rflags |= HVEMU_FLAG_OF;
    uint64_t rip = S.rip;
    run("ce");
    CHECK(R.status == HVEMU_TRAP && R.exc.vector == HVEMU_EXC_OF && R.trap_type == HVEMU_TRAP_SOFT_EXC &&
          S.rip == rip + 1 && R.insn_len == 1, "into with OF: %d", R.status);
}

int main(void)
{
    low = calloc(1, LOW_SIZE);
    hvemu_init(&C, &ops, NULL, &S);
    test_real();
    test_prot16();
    test_prot32();
    test_compat_and_cache();
    test_legacy_insns();
    free(low);
    TEST_DONE();
}
