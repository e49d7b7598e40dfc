/* SPDX-License-Identifier: MIT */
/* Segment register loads at CPL 0 and 3 with a GDT and LDT of our own: the hidden parts loaded
 * (base, expanded limit, attributes), the accessed bit set in memory, the checks that
 * tests/hostdiff/segload.c cannot reach with Linux's GDT (not-present segments, conforming code,
 * expand-down data, the LDT), LLDT and LTR, LAR/LSL/VERR/VERW on what CPL 3 cannot see, null selectors (SS in 64-bit mode; the vendor rule for the FS/GS
 * base), and MOV SS's interrupt shadow. SDM Vol. 3, 3.4-3.5 and 5.5-5.8. */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S, before;
static struct hvemu_ctx C;
static struct hvemu_result R;

#define GDT (BUFMEM_BASE + 0x1000)
#define LDT (BUFMEM_BASE + 0x1800)

static uint32_t vendor_ebx = 0x756e6547; /* "Genu" (Intel) */
static uint32_t amd_nscb;                /* AMD NullSelectorClearsBase */

static int t_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o; (void)sub;
    memset(out, 0, 16);
    if (leaf == 0) out[1] = vendor_ebx;
    if (leaf == 0x80000000) out[0] = 0x80000021;
    if (leaf == 0x80000021) out[0] = amd_nscb << 6;
    return HVEMU_CB_OK;
}

static uint64_t desc(uint32_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t)(limit & 0xffff)) | ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)(flags & 0xff) << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
           ((uint64_t)((flags >> 12) & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

static void put(uint64_t table, unsigned idx, uint64_t d)
{
    memcpy(M.mem + (table - BUFMEM_BASE) + idx * 8, &d, 8);
}

static uint64_t get(uint64_t table, unsigned idx)
{
    uint64_t d;
    memcpy(&d, M.mem + (table - BUFMEM_BASE) + idx * 8, 8);
    return d;
}

static int run(const char *hex)
{
    uint8_t b[16];
    size_t n = hex_bytes(hex, b, sizeof b);
    S.rip = 0x1000;
    S.dirty = 0;
    before = S;
    return hvemu_emulate_bytes(&C, b, n, &R);
}

#define OK(hex, ...) CHECK(run(hex) == HVEMU_OK && S.rip != 0x1000, __VA_ARGS__)
#define FAULT(hex, vec, err, ...)                                                               \
    CHECK(run(hex) == HVEMU_EXCEPTION && R.exc.vector == (vec) && R.exc.error_code == (err) &&  \
          !memcmp(&S, &before, sizeof S), __VA_ARGS__)

static void reset(unsigned cpl)
{
    state_init64(&S);
    S.cr0 = 0x80050033;
    S.efer = 0xd01;
    S.seg[HVEMU_CS] = (struct hvemu_segment){0, 0xffffffff, (uint16_t)(cpl ? 0x33 : 0x10), HVEMU_SEG_ATTR_L | 0x9b | (cpl << 5)};
    S.seg[HVEMU_SS] = (struct hvemu_segment){0, 0xffffffff, (uint16_t)(cpl ? 0x2b : 0x18), 0xc093 | (cpl << 5)};
    S.gdtr.base = GDT;
    S.gdtr.limit = 16 * 8 - 1;
    S.ldtr = (struct hvemu_segment){LDT, 4 * 8 - 1, 0x60, 0x82};
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    S.gpr[HVEMU_RBX] = BUFMEM_BASE + 0x100;
    memset(M.mem + 0x1000, 0, 0x1000);
    put(GDT, 1, desc(0xa09b, 0, 0xfffff));           /* 0x08 code64 DPL0 */
    put(GDT, 2, desc(0xc092, 0, 0xfffff));           /* 0x10 data DPL0, accessed bit clear */
    put(GDT, 3, desc(0x40f3, 0x12345678, 0xabcde));  /* 0x18 data DPL3, byte-granular */
    put(GDT, 4, desc(0xc0f3, 0xff000000, 0x00010));  /* 0x20 data DPL3, 4K-granular */
    put(GDT, 5, desc(0x4073, 0, 0xffff));            /* 0x28 data DPL3, not present */
    put(GDT, 6, desc(0x409f, 0, 0xffff));            /* 0x30 conforming readable code DPL0 */
    put(GDT, 7, desc(0x4099, 0, 0xffff));            /* 0x38 execute-only code DPL0 */
    put(GDT, 8, desc(0x40f7, 0x1000, 0x0fff));       /* 0x40 expand-down RW data DPL3 */
    put(GDT, 9, desc(0x40f1, 0, 0xffff));            /* 0x48 read-only data DPL3 */
    put(GDT, 10, desc(0x0089, 0x4000, 0x67));        /* 0x50 a TSS: system */
    put(LDT, 1, desc(0xc0f3, 0x5000, 0xfffff));      /* LDT 0x0f: data DPL3 */
}

static void loads(void)
{
    reset(0);
    /* the hidden part, and the accessed bit set in the descriptor in memory */
    S.gpr[HVEMU_RAX] = 0x10;
    OK("8ed8", "mov ds, 0x10");
    CHECK(S.seg[HVEMU_DS].selector == 0x10 && S.seg[HVEMU_DS].base == 0 && S.seg[HVEMU_DS].limit == 0xffffffff &&
          S.seg[HVEMU_DS].attr == 0xc093 && (S.dirty & HVEMU_PART_SEG(HVEMU_DS)),
          "ds hidden %x %llx %x", S.seg[HVEMU_DS].attr, (unsigned long long)S.seg[HVEMU_DS].base, S.seg[HVEMU_DS].limit);
    CHECK(get(GDT, 2) == (desc(0xc092, 0, 0xfffff) | (1ull << 40)), "accessed bit written back");
    S.gpr[HVEMU_RAX] = 0x1b;
    OK("8ec0", "mov es, 0x1b");
    CHECK(S.seg[HVEMU_ES].base == 0x12345678 && S.seg[HVEMU_ES].limit == 0xabcde && S.seg[HVEMU_ES].attr == 0x40f3,
          "byte granular: %llx %x", (unsigned long long)S.seg[HVEMU_ES].base, S.seg[HVEMU_ES].limit);
    S.gpr[HVEMU_RAX] = 0x23;
    OK("8ee0", "mov fs, 0x23");
    CHECK(S.seg[HVEMU_FS].base == 0xff000000 && S.seg[HVEMU_FS].limit == 0x10fff, "4K granular, FS base from the descriptor");
    S.gpr[HVEMU_RAX] = 0x0f;
    OK("8ee8", "mov gs, LDT 0x0f");
    CHECK(S.seg[HVEMU_GS].base == 0x5000 && S.seg[HVEMU_GS].selector == 0x0f, "LDT descriptor");
    S.gpr[HVEMU_RAX] = 0x30;
    OK("8ed8", "mov ds, conforming readable code");
    S.gpr[HVEMU_RAX] = 0x40;
    OK("8ed8", "mov ds, expand-down data");
    S.gpr[HVEMU_RAX] = 0x38;
    FAULT("8ed8", HVEMU_EXC_GP, 0x38, "execute-only code");
    S.gpr[HVEMU_RAX] = 0x50;
    FAULT("8ed8", HVEMU_EXC_GP, 0x50, "system descriptor");
    S.gpr[HVEMU_RAX] = 0x2b;
    FAULT("8ed8", HVEMU_EXC_NP, 0x28, "not present: #NP");
    FAULT("8ed0", HVEMU_EXC_GP, 0x28, "SS with RPL 3 at CPL 0: #GP first");
    put(GDT, 5, desc(0x4093, 0, 0xffff) & ~(1ull << 47)); /* DPL0 RW data, not present */
    S.gpr[HVEMU_RAX] = 0x28;
    FAULT("8ed0", HVEMU_EXC_SS, 0x28, "SS not present: #SS");
    S.gpr[HVEMU_RAX] = 0x80;
    FAULT("8ed8", HVEMU_EXC_GP, 0x80, "beyond the GDT limit");
    S.gpr[HVEMU_RAX] = 0x27;
    FAULT("8ed8", HVEMU_EXC_GP, 0x24, "beyond the LDT limit (TI kept in the error code)");
    S.ldtr.attr = HVEMU_SEG_ATTR_UNUSABLE;
    S.gpr[HVEMU_RAX] = 0x0f;
    FAULT("8ed8", HVEMU_EXC_GP, 0x0c, "LDT selector without an LDT");

    /* SS: writable data, DPL = RPL = CPL */
    reset(0);
    S.gpr[HVEMU_RAX] = 0x10;
    OK("8ed0", "mov ss, 0x10");
    CHECK(R.event == HVEMU_EVENT_SS_SHADOW && S.seg[HVEMU_SS].attr == 0xc093, "ss shadow");
    S.gpr[HVEMU_RAX] = 0x48 | 0;
    FAULT("8ed0", HVEMU_EXC_GP, 0x48, "read-only data into SS");
    S.gpr[HVEMU_RAX] = 0x08;
    FAULT("8ed0", HVEMU_EXC_GP, 0x08, "code into SS");
    /* null SS: 64-bit mode, CPL < 3, RPL = CPL */
    S.gpr[HVEMU_RAX] = 0;
    OK("8ed0", "mov ss, 0 at CPL 0");
    CHECK(S.seg[HVEMU_SS].attr & HVEMU_SEG_ATTR_UNUSABLE, "null SS unusable");
    S.gpr[HVEMU_RAX] = 1;
    FAULT("8ed0", HVEMU_EXC_GP, 0, "null SS with RPL != CPL");

    /* MOV SS with TF: the single-step trap waits for the next instruction */
    reset(0);
    S.rflags = 0x102;
    S.gpr[HVEMU_RAX] = 0x10;
    CHECK(run("8ed0") == HVEMU_OK && R.event == HVEMU_EVENT_SS_SHADOW, "mov ss with TF: no trap now");
    S.rflags = 0x102;
    CHECK(run("8ed8") == HVEMU_TRAP, "mov ds with TF: trap");

    /* CPL 3 */
    reset(3);
    S.gpr[HVEMU_RAX] = 0x10;
    FAULT("8ed8", HVEMU_EXC_GP, 0x10, "DPL 0 data at CPL 3");
    S.gpr[HVEMU_RAX] = 0x33; /* conforming readable code, DPL 0, with RPL 3 */
    OK("8ed8", "conforming code at CPL 3");
    S.gpr[HVEMU_RAX] = 0x18; /* RPL 0, DPL 3 data: fine */
    OK("8ed8", "DPL 3 data with RPL 0");
    S.gpr[HVEMU_RAX] = 0x1b;
    OK("8ed0", "mov ss, DPL 3 data at CPL 3");
    S.gpr[HVEMU_RAX] = 0x18;
    FAULT("8ed0", HVEMU_EXC_GP, 0x18, "SS with RPL != CPL");
    S.gpr[HVEMU_RAX] = 3;
    FAULT("8ed0", HVEMU_EXC_GP, 0, "null SS at CPL 3");
    S.gpr[HVEMU_RAX] = 0;
    OK("8ed8", "null DS at CPL 3");
    CHECK(S.seg[HVEMU_DS].attr == HVEMU_SEG_ATTR_UNUSABLE && S.seg[HVEMU_DS].selector == 0, "null ds");
}

static void null_fs_gs(void)
{
    reset(0);
    S.seg[HVEMU_FS].base = 0x7f0000001000ull;
    S.gpr[HVEMU_RAX] = 0;
    OK("8ee0", "null fs (Intel)");
    CHECK(S.seg[HVEMU_FS].base == 0, "Intel clears the base");
    vendor_ebx = 0x68747541; /* "Auth" */
    S.seg[HVEMU_FS].base = 0x7f0000001000ull;
    OK("8ee0", "null fs (AMD without NullSelectorClearsBase)");
    CHECK(S.seg[HVEMU_FS].base == 0x7f0000001000ull, "old AMD keeps the base");
    amd_nscb = 1;
    OK("8ee0", "null fs (AMD with NullSelectorClearsBase)");
    CHECK(S.seg[HVEMU_FS].base == 0, "Zen 3+ clears the base");
    vendor_ebx = 0x756e6547;
    amd_nscb = 0;
}

static void other_forms(void)
{
    reset(0);
    uint16_t sel = 0x1b;
    memcpy(M.mem + 0x800, &sel, 2);
    OK("0fa1", "pop fs");
    CHECK(S.seg[HVEMU_FS].selector == 0x1b && S.gpr[HVEMU_RSP] == BUFMEM_BASE + 0x808, "pop fs: 8 bytes");
    uint64_t off = 0x1122334455667788ull;
    memcpy(M.mem + 0x100, &off, 8);
    sel = 0x10;
    memcpy(M.mem + 0x108, &sel, 2);
    OK("480fb203", "lss rax, [rbx]");
    CHECK(S.gpr[HVEMU_RAX] == off && S.seg[HVEMU_SS].selector == 0x10 && R.event == HVEMU_EVENT_NONE, "lss m16:64, no interrupt shadow");
    memcpy(M.mem + 0x104, &sel, 2);
    OK("0fb503", "lgs eax, [rbx]");
    CHECK(S.gpr[HVEMU_RAX] == 0x55667788 && S.seg[HVEMU_GS].selector == 0x10, "lgs m16:32");
    sel = 0x38;
    memcpy(M.mem + 0x104, &sel, 2);
    S.gpr[HVEMU_RAX] = 5;
    FAULT("0fb503", HVEMU_EXC_GP, 0x38, "lgs faults: no register written");
    /* MOV r, Sreg */
    S.gpr[HVEMU_RCX] = ~0ull;
    OK("8ce9", "mov ecx, gs");
    CHECK(S.gpr[HVEMU_RCX] == 0x10, "mov ecx, gs zero-extends");
}

static void system_segments(void)
{
    reset(0);
    put(GDT, 12, desc(0x0082, 0x00345000, 0x7f)); /* 0x60 LDT, base 0xffff800000345000 */
    put(GDT, 13, 0xffff8000);
    put(GDT, 14, desc(0x0089, 0x00346000, 0x67)); /* 0x70 available TSS */
    put(GDT, 15, 0xffff8000);
    S.gpr[HVEMU_RAX] = 0x60;
    CHECK(run("0f00d0") == HVEMU_OK, "lldt ax");
    CHECK(S.ldtr.selector == 0x60 && S.ldtr.base == 0xffff800000345000ull && S.ldtr.limit == 0x7f &&
          S.ldtr.attr == 0x82 && (S.dirty & HVEMU_PART_DTABLES), "ldtr %llx %x %x",
          (unsigned long long)S.ldtr.base, S.ldtr.limit, S.ldtr.attr);
    S.gpr[HVEMU_RAX] = 0x70;
    CHECK(run("0f00d8") == HVEMU_OK, "ltr ax");
    CHECK(S.tr.selector == 0x70 && S.tr.base == 0xffff800000346000ull && S.tr.attr == 0x8b, "tr busy %x", S.tr.attr);
    CHECK(get(GDT, 14) == (desc(0x0089, 0x00346000, 0x67) | (2ull << 40)), "the TSS descriptor is busy in memory");
    FAULT("0f00d8", HVEMU_EXC_GP, 0x70, "ltr of a busy TSS");
    S.gpr[HVEMU_RAX] = 0x60;
    FAULT("0f00d8", HVEMU_EXC_GP, 0x60, "ltr of an LDT");
    S.gpr[HVEMU_RAX] = 0x70;
    FAULT("0f00d0", HVEMU_EXC_GP, 0x70, "lldt of a TSS");
    S.gpr[HVEMU_RAX] = 0x10;
    FAULT("0f00d0", HVEMU_EXC_GP, 0x10, "lldt of a data segment");
    S.gpr[HVEMU_RAX] = 0x78;
    FAULT("0f00d0", HVEMU_EXC_GP, 0x78, "lldt: the 16 bytes cross the GDT limit");
    S.gpr[HVEMU_RAX] = 0x64;
    FAULT("0f00d0", HVEMU_EXC_GP, 0x64, "lldt with an LDT selector");
    put(GDT, 13, 0xffff8000 | (0x1full << 40));
    S.gpr[HVEMU_RAX] = 0x60;
    FAULT("0f00d0", HVEMU_EXC_GP, 0x60, "lldt: upper half type not 0");
    put(GDT, 13, 0x00008000);
    FAULT("0f00d0", HVEMU_EXC_GP, 0x60, "lldt: non-canonical base");
    put(GDT, 13, 0xffff8000);
    put(GDT, 12, desc(0x0002, 0x00345000, 0x7f));
    FAULT("0f00d0", HVEMU_EXC_NP, 0x60, "lldt: not present");
    S.gpr[HVEMU_RAX] = 0;
    CHECK(run("0f00d0") == HVEMU_OK && (S.ldtr.attr & HVEMU_SEG_ATTR_UNUSABLE), "lldt 0: no LDT");
    FAULT("0f00d8", HVEMU_EXC_GP, 0, "ltr 0");
    reset(3);
    S.gpr[HVEMU_RAX] = 0x60;
    FAULT("0f00d0", HVEMU_EXC_GP, 0, "lldt at CPL 3");

    /* LAR/LSL/VERR/VERW at CPL 0 on what CPL 3 cannot see */
    reset(0);
    put(GDT, 14, desc(0x0089, 0x00346000, 0x67));
    put(GDT, 15, 0xffff8000);
    S.gpr[HVEMU_RAX] = 0x70;
    S.gpr[HVEMU_RCX] = 0;
    CHECK(run("0f02c8") == HVEMU_OK && (S.rflags & 0x40) && S.gpr[HVEMU_RCX] == 0x8900, "lar of a TSS: %llx",
          (unsigned long long)S.gpr[HVEMU_RCX]);
    CHECK(run("0f03c8") == HVEMU_OK && (S.rflags & 0x40) && S.gpr[HVEMU_RCX] == 0x67, "lsl of a TSS");
    CHECK(run("0f00e0") == HVEMU_OK && !(S.rflags & 0x40), "verr of a TSS: ZF = 0");
    S.gpr[HVEMU_RAX] = 0x23;
    CHECK(run("0f03c8") == HVEMU_OK && (S.rflags & 0x40) && S.gpr[HVEMU_RCX] == 0x10fff, "lsl, 4K granular");
    S.gpr[HVEMU_RAX] = 0x38;
    CHECK(run("0f00e0") == HVEMU_OK && !(S.rflags & 0x40), "verr of execute-only code");
    S.gpr[HVEMU_RAX] = 0x48;
    CHECK(run("0f00e8") == HVEMU_OK && !(S.rflags & 0x40), "verw of read-only data");
    CHECK(run("0f00e0") == HVEMU_OK && (S.rflags & 0x40), "verr of read-only data");
    reset(3);
    S.gpr[HVEMU_RAX] = 0x30 | 3;
    CHECK(run("0f00e0") == HVEMU_OK && (S.rflags & 0x40), "verr of conforming code at CPL 3");
    S.gpr[HVEMU_RAX] = 0x10 | 3;
    S.gpr[HVEMU_RCX] = 7;
    CHECK(run("0f02c8") == HVEMU_OK && !(S.rflags & 0x40) && S.gpr[HVEMU_RCX] == 7, "lar of DPL 0 at CPL 3: unchanged");
}

static void far_transfers(void)
{
    reset(0);
    put(GDT, 11, desc(0x409b, 0, 0x0ffff)); /* 0x58 32-bit code DPL0, limit 0xffff (bytes) */
    uint64_t off = 0xffffffff81000000ull;
    uint16_t sel = 0x08;
    memcpy(M.mem + 0x100, &off, 8);
    memcpy(M.mem + 0x108, &sel, 2);
    CHECK(run("48ff2b") == HVEMU_OK && S.rip == off && S.seg[HVEMU_CS].selector == 0x08 &&
          S.seg[HVEMU_CS].attr == 0xa09b && (S.dirty & HVEMU_PART_SEG(HVEMU_CS)), "jmp far m16:64");
    reset(0);
    memcpy(M.mem + 0x100, &off, 8);
    memcpy(M.mem + 0x108, &sel, 2);
    uint64_t rsp = S.gpr[HVEMU_RSP];
    CHECK(run("48ff1b") == HVEMU_OK && S.rip == off && S.gpr[HVEMU_RSP] == rsp - 16, "call far m16:64");
    uint64_t slot[2];
    memcpy(slot, M.mem + 0x7f0, 16);
    CHECK(slot[0] == 0x1003 && slot[1] == 0x10, "pushed RIP %llx, CS %llx", (unsigned long long)slot[0],
          (unsigned long long)slot[1]);
    /* and back: RETFQ with 8 more bytes released */
    S.seg[HVEMU_CS].selector = 0x08;
    sel = 0x08;
    memcpy(M.mem + 0x7f8, &sel, 2);
    memset(M.mem + 0x7fa, 0, 6);
    CHECK(run("48ca0800") == HVEMU_OK && S.rip == 0x1003 && S.gpr[HVEMU_RSP] == rsp + 8, "retfq 8");
    /* checks */
    reset(0);
    static const struct { uint16_t sel; uint64_t off; int vec; uint32_t err; const char *what; } bad[] = {
        {0x10, 0x1000, HVEMU_EXC_GP, 0x10, "data segment"},
        {0x00, 0x1000, HVEMU_EXC_GP, 0, "null selector"},
        {0x50, 0x1000, HVEMU_EXC_GP, 0x50, "a TSS"},
        {0x08, 0x0000800000000000ull, HVEMU_EXC_GP, 0, "non-canonical 64-bit target"},
        {0x58, 0x10000, HVEMU_EXC_GP, 0, "beyond a 32-bit segment's limit"},
        {0x80, 0x1000, HVEMU_EXC_GP, 0x80, "beyond the GDT"},
    };
    put(GDT, 11, desc(0x409b, 0, 0x0ffff));
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(M.mem + 0x100, &bad[i].off, 8);
        memcpy(M.mem + 0x108, &bad[i].sel, 2);
        FAULT("48ff2b", bad[i].vec, bad[i].err, "jmp far: %s", bad[i].what);
    }
    off = 0x1000;
    sel = 0x38;
    memcpy(M.mem + 0x100, &off, 8);
    memcpy(M.mem + 0x108, &sel, 2);
    CHECK(run("48ff2b") == HVEMU_OK && S.seg[HVEMU_CS].selector == 0x38, "execute-only code is a fine CS");
    reset(0);
    put(GDT, 11, desc(0x409b, 0, 0x0ffff));
    sel = 0x58;
    memcpy(M.mem + 0x100, &off, 8);
    memcpy(M.mem + 0x108, &sel, 2);
    CHECK(run("48ff2b") == HVEMU_OK && !(S.seg[HVEMU_CS].attr & HVEMU_SEG_ATTR_L) && S.rip == 0x1000,
          "to compatibility mode");
    reset(0);
    put(GDT, 12, desc(0x008c, 0, 0)); /* 0x60 a call gate (its upper half follows) */
    put(GDT, 13, 0);
    sel = 0x60;
    memcpy(M.mem + 0x108, &sel, 2);
    CHECK(run("48ff2b") == HVEMU_UNHANDLEABLE, "call gates: not executed yet");
    /* CPL 3 */
    reset(3);
    sel = 0x08;
    memcpy(M.mem + 0x100, &off, 8);
    memcpy(M.mem + 0x108, &sel, 2);
    FAULT("48ff2b", HVEMU_EXC_GP, 0x08, "DPL 0 code at CPL 3");
    sel = 0x30;
    memcpy(M.mem + 0x108, &sel, 2);
    CHECK(run("48ff2b") == HVEMU_OK && S.seg[HVEMU_CS].selector == 0x33, "conforming code: CPL stays 3 (RPL forced)");
    /* RETF to another privilege level */
    reset(0);
    uint32_t fr[2] = {0x1000, 0x0b}; /* code, RPL 3 */
    memcpy(M.mem + 0x800, fr, 8);
    CHECK(run("cb") == HVEMU_UNHANDLEABLE, "retf to CPL 3: not executed yet");
    fr[1] = 0x08;
    memcpy(M.mem + 0x800, fr, 8);
    CHECK(run("cb") == HVEMU_OK && S.rip == 0x1000 && S.gpr[HVEMU_RSP] == BUFMEM_BASE + 0x808, "retf (m16:32 frame)");
    /* AMD has no m16:64 form: REX.W reads m16:32 */
    reset(0);
    vendor_ebx = 0x68747541;
    uint32_t p32[2] = {0x2000, 0x08};
    memcpy(M.mem + 0x100, p32, 8);
    CHECK(run("48ff2b") == HVEMU_OK && S.rip == 0x2000 && S.seg[HVEMU_CS].selector == 0x08, "AMD: rex.w jmp far is m16:32");
    vendor_ebx = 0x756e6547;
}

static void iret(void)
{
    /* CPL 0 -> 3: a DPL 3 code segment at 0x58 (0x5b), DPL 3 data 0x18 (0x1b) as SS */
    reset(0);
    put(GDT, 11, desc(0xa0fb, 0, 0xfffff)); /* 0x58 64-bit code DPL3 */
    S.seg[HVEMU_DS] = (struct hvemu_segment){0, 0xffffffff, 0x10, 0xc093}; /* kernel data */
    S.seg[HVEMU_FS] = (struct hvemu_segment){0x7f0000000000ull, 0, 0, HVEMU_SEG_ATTR_UNUSABLE};
    S.rflags = 0x3046; /* IOPL 3 at CPL 0 */
    uint64_t fr[5] = {0x401000, 0x5b, 0x10202 | 0x40000, 0x7ffff000, 0x1b};
    memcpy(M.mem + 0x800, fr, sizeof fr);
    CHECK(run("48cf") == HVEMU_OK, "iretq to CPL 3: %s", R.reason ? R.reason : "");
    CHECK(S.rip == 0x401000 && S.seg[HVEMU_CS].selector == 0x5b && S.seg[HVEMU_SS].selector == 0x1b &&
          S.gpr[HVEMU_RSP] == 0x7ffff000, "rip %llx cs %x ss %x", (unsigned long long)S.rip,
          S.seg[HVEMU_CS].selector, S.seg[HVEMU_SS].selector);
    CHECK(S.rflags == (0x10202 | 0x40000), "RFLAGS from the frame at CPL 0, RF kept: %llx", (unsigned long long)S.rflags);
    CHECK(S.seg[HVEMU_DS].selector == 0 && (S.seg[HVEMU_DS].attr & HVEMU_SEG_ATTR_UNUSABLE), "DPL 0 DS nulled");
    CHECK(S.seg[HVEMU_FS].base == 0x7f0000000000ull, "a null FS keeps its base");
    CHECK(R.event == HVEMU_EVENT_IRET, "NMI unblocking reported");
    /* at CPL 3: IF and IOPL stay */
    S.rflags = 0x202;
    S.gpr[HVEMU_RSP] = BUFMEM_BASE + 0x800;
    uint64_t fr2[5] = {0x402000, 0x5b, 0x3002 | 0x8c1, 0x7fffe000, 0x1b};
    memcpy(M.mem + 0x800, fr2, sizeof fr2);
    CHECK(run("48cf") == HVEMU_OK && S.rflags == (0x202 | 0x8c1) && S.rip == 0x402000, "CPL 3: IF and IOPL kept: %llx",
          (unsigned long long)S.rflags);
    /* faults */
    reset(0);
    put(GDT, 11, desc(0xa0fb, 0, 0xfffff));
    S.rflags = 0x4002; /* NT */
    FAULT("48cf", HVEMU_EXC_GP, 0, "iret with NT");
    S.rflags = 2;
    uint64_t f3[5] = {0x401000, 0x5b, 2, 0x7ffff000, 0x10}; /* SS DPL 0 for CPL 3 */
    memcpy(M.mem + 0x800, f3, sizeof f3);
    FAULT("48cf", HVEMU_EXC_GP, 0x10, "SS RPL != new CPL");
    f3[4] = 0x18; /* DPL 3 data with RPL 0 */
    memcpy(M.mem + 0x800, f3, sizeof f3);
    FAULT("48cf", HVEMU_EXC_GP, 0x18, "SS RPL 0 for CPL 3");
    f3[4] = 0;
    memcpy(M.mem + 0x800, f3, sizeof f3);
    FAULT("48cf", HVEMU_EXC_GP, 0, "null SS for CPL 3");
    uint64_t f4[5] = {0x401000, 0x08, 2, 0x7ffff000, 0};
    memcpy(M.mem + 0x800, f4, sizeof f4);
    CHECK(run("48cf") == HVEMU_OK && (S.seg[HVEMU_SS].attr & HVEMU_SEG_ATTR_UNUSABLE), "null SS at CPL 0 in 64-bit mode");
    reset(3);
    uint64_t f5[5] = {0x401000, 0x08, 2, 0x7ffff000, 0x10};
    memcpy(M.mem + 0x800, f5, sizeof f5);
    FAULT("48cf", HVEMU_EXC_GP, 0x08, "iret to an inner level");
}

int main(void)
{
    struct hvemu_ops ops = bufmem_ops;
    ops.cpuid = t_cpuid;
    hvemu_init(&C, &ops, &M, &S);
    loads();
    null_fs_gs();
    other_forms();
    system_segments();
    far_transfers();
    iret();
    TEST_DONE();
}
