/* SPDX-License-Identifier: MIT */
/* System instructions at CPL 0, which the host-differential test cannot run (it runs at CPL 3,
 * where hostdiff checks that each of them faults as the host does). Every rule below is a
 * sentence of the SDM (Vol. 2 instruction pages, Vol. 3 2.5 for CR0/CR4, 17.2 for DR6/DR7, Vol. 1
 * 13.3 for XCR0); every fault is also checked to leave the whole state untouched. The guest CPU
 * is described by a CPUID table the test changes to show the CPUID-dependent rules. */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S, before;
static struct hvemu_ctx C;
static struct hvemu_result R;

/* ---- the guest CPU ---- */
static uint32_t id1_ecx = (1u << 17) | (1u << 26);            /* PCID, XSAVE */
static uint32_t id7_ebx = (1u << 0) | (1u << 7) | (1u << 20); /* FSGSBASE, SMEP, SMAP */
static uint32_t id7_ecx = 1u << 2;                            /* UMIP */
static uint32_t id71_eax;                                     /* LAM: off */
static uint32_t idd_eax = 0x800e7 | 0x18;                     /* x87 SSE AVX AVX-512 MPX APX */
static uint32_t idd1_eax = 1u << 2;                           /* XINUSE via XGETBV(1) */
static unsigned phys_bits = 46;

static int t_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o;
    memset(out, 0, 16);
    switch (leaf) {
    case 0: out[0] = 0xd; break;
    case 1: out[2] = id1_ecx; out[3] = 0x0789fbff; break;
    case 7: if (sub == 0) { out[0] = 1; out[1] = id7_ebx; out[2] = id7_ecx; }
            else if (sub == 1) out[0] = id71_eax;
            break;
    case 0xd: if (sub == 0) out[0] = idd_eax; else if (sub == 1) out[0] = idd1_eax; break;
    case 0x80000000: out[0] = 0x80000008; break;
    case 0x80000008: out[0] = phys_bits; break;
    }
    return HVEMU_CB_OK;
}

/* ---- MSRs: a small table; 0x1234 faults #GP(0) as an absent MSR would ---- */
static uint64_t msr_kgs = 0xffff888000001000ull, msr_efer_written, msr_other = 0x55;
static unsigned rdmsrs, wrmsrs;

static int t_rdmsr(void *o, uint32_t msr, uint64_t *v, struct hvemu_exception *e)
{
    (void)o;
    rdmsrs++;
    if (msr == 0xC0000102) { *v = msr_kgs; return HVEMU_CB_OK; }
    if (msr == 0x10) { *v = msr_other; return HVEMU_CB_OK; }
    e->vector = HVEMU_EXC_GP; e->has_error_code = 1; e->error_code = 0;
    return HVEMU_CB_FAULT;
}

static int t_wrmsr(void *o, uint32_t msr, uint64_t v, struct hvemu_exception *e)
{
    (void)o;
    wrmsrs++;
    if (msr == 0xC0000102) { msr_kgs = v; return HVEMU_CB_OK; }
    if (msr == 0xC0000080) { msr_efer_written = v; return HVEMU_CB_OK; }
    if (msr == 0x10) { msr_other = v; return HVEMU_CB_OK; }
    e->vector = HVEMU_EXC_GP; e->has_error_code = 1; e->error_code = 0;
    return HVEMU_CB_FAULT;
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

/* The instruction completed and RIP moved past it. */
#define OK(hex, ...) CHECK(run(hex) == HVEMU_OK && S.rip != 0x1000, __VA_ARGS__)
/* The instruction raised `vec` and nothing at all changed. */
#define FAULT(hex, vec, ...)                                                                     \
    CHECK(run(hex) == HVEMU_EXCEPTION && R.exc.vector == (vec) &&                               \
          !memcmp(&S, &before, sizeof S), __VA_ARGS__)

static void reset(unsigned cpl)
{
    state_init64(&S);
    S.cr0 = 0x80050033; /* PE MP ET NE WP AM PG */
    S.cr4 = 0x3406f0;   /* PSE PAE MCE PGE OSFXSR OSXMMEXCPT OSXSAVE SMEP SMAP */
    S.efer = 0xd01;
    S.xcr0 = 0x7;
    S.cr3 = 0x1000;
    S.dr[6] = 0xffff0ff0;
    S.dr[7] = 0x400;
    S.seg[HVEMU_CS].selector = (uint16_t)(cpl ? 0x33 : 0x10);
    S.gpr[HVEMU_RBX] = BUFMEM_BASE + 0x100;
}

static void control_registers(void)
{
    reset(0);
    OK("0f20c0", "mov rax, cr0");
    CHECK(S.gpr[HVEMU_RAX] == 0x80050033 && !(S.dirty & HVEMU_PART_CR0), "read cr0 %llx",
          (unsigned long long)S.gpr[HVEMU_RAX]);
    /* CR0: the low reserved bits are ignored and ET reads 1; the written value is dirty */
    S.gpr[HVEMU_RAX] = 0x80000001 | 0x40 | 0x8; /* PE PG, reserved bit 6, TS; ET clear */
    OK("0f22c0", "mov cr0, rax");
    CHECK(S.cr0 == (0x80000001 | 0x10 | 0x8) && (S.dirty & HVEMU_PART_CR0), "cr0 %llx",
          (unsigned long long)S.cr0);
    S.gpr[HVEMU_RAX] = 0x180000011ull;
    FAULT("0f22c0", HVEMU_EXC_GP, "cr0 bits 63:32");
    S.gpr[HVEMU_RAX] = 0x80000010;
    FAULT("0f22c0", HVEMU_EXC_GP, "cr0 PG without PE");
    S.gpr[HVEMU_RAX] = 0xa0000011;
    FAULT("0f22c0", HVEMU_EXC_GP, "cr0 NW without CD");
    S.gpr[HVEMU_RAX] = 0x00000011;
    FAULT("0f22c0", HVEMU_EXC_GP, "cr0 PG cleared in 64-bit mode");
    S.cr4 |= 1u << 23; /* CET */
    S.gpr[HVEMU_RAX] = 0x80000011;
    FAULT("0f22c0", HVEMU_EXC_GP, "cr0 WP cleared with CR4.CET");
    reset(0);

    /* CR2 takes anything; CR8 four bits */
    S.gpr[HVEMU_RAX] = 0xdeadbeefcafef00dull;
    OK("0f22d0", "mov cr2, rax");
    CHECK(S.cr2 == 0xdeadbeefcafef00dull && (S.dirty & HVEMU_PART_CR2), "cr2");
    S.gpr[HVEMU_RAX] = 9;
    OK("440f22c0", "mov cr8, rax");
    CHECK(S.cr8 == 9 && (S.dirty & HVEMU_PART_CR8), "cr8");
    S.gpr[HVEMU_RAX] = 0;
    OK("440f20c0", "mov rax, cr8");
    CHECK(S.gpr[HVEMU_RAX] == 9, "read cr8");
    S.gpr[HVEMU_RAX] = 16;
    FAULT("440f22c0", HVEMU_EXC_GP, "cr8 bits 63:4");
    FAULT("440f22c8", HVEMU_EXC_UD, "cr9 does not exist");
    FAULT("0f20c8", HVEMU_EXC_UD, "cr1 does not exist");

    /* CR3: bits at and above MAXPHYADDR are reserved; with PCIDE, bit 63 is the no-flush hint */
    S.gpr[HVEMU_RAX] = 0x3fffffff000ull | 0x18;
    OK("0f22d8", "mov cr3, rax (46-bit address)");
    CHECK(S.cr3 == (0x3fffffff000ull | 0x18), "cr3 %llx", (unsigned long long)S.cr3);
    S.gpr[HVEMU_RAX] = 1ull << 46;
    FAULT("0f22d8", HVEMU_EXC_GP, "cr3 above MAXPHYADDR");
    phys_bits = 52;
    OK("0f22d8", "cr3 bit 46 with MAXPHYADDR 52");
    phys_bits = 46;
    S.gpr[HVEMU_RAX] = (1ull << 63) | 0x2000;
    FAULT("0f22d8", HVEMU_EXC_GP, "cr3 bit 63 without PCIDE");
    S.cr4 |= 1u << 17;
    OK("0f22d8", "cr3 bit 63 with PCIDE");
    CHECK(S.cr3 == 0x2000, "bit 63 is not kept: %llx", (unsigned long long)S.cr3);
    S.gpr[HVEMU_RAX] = (1ull << 62) | 0x2000;
    FAULT("0f22d8", HVEMU_EXC_GP, "cr3 LAM bit without LAM");
    id71_eax = 1u << 26;
    OK("0f22d8", "cr3 LAM_U48 with LAM");
    id71_eax = 0;
    reset(0);

    /* CR4: a bit exists only when CPUID says so */
    S.gpr[HVEMU_RAX] = S.cr4 | (1u << 16); /* FSGSBASE: enumerated */
    OK("0f22e0", "cr4 FSGSBASE");
    CHECK(S.cr4 == (0x3406f0 | (1u << 16)) && (S.dirty & HVEMU_PART_CR4), "cr4 %llx", (unsigned long long)S.cr4);
    S.gpr[HVEMU_RAX] = S.cr4 | (1u << 22); /* PKE: not enumerated */
    FAULT("0f22e0", HVEMU_EXC_GP, "cr4 PKE without PKU");
    id7_ecx |= 1u << 3;
    OK("0f22e0", "cr4 PKE with PKU");
    id7_ecx &= ~(1u << 3);
    S.cr4 &= ~(1ull << 22);
    S.gpr[HVEMU_RAX] = S.cr4 | (1u << 15);
    FAULT("0f22e0", HVEMU_EXC_GP, "cr4 reserved bit 15");
    S.gpr[HVEMU_RAX] = S.cr4 | (1ull << 40);
    FAULT("0f22e0", HVEMU_EXC_GP, "cr4 reserved bit 40");
    S.gpr[HVEMU_RAX] = S.cr4 & ~0x20ull;
    FAULT("0f22e0", HVEMU_EXC_GP, "cr4 PAE cleared in 64-bit mode");
    id7_ecx |= 1u << 16;
    S.gpr[HVEMU_RAX] = S.cr4 | (1u << 12);
    FAULT("0f22e0", HVEMU_EXC_GP, "cr4 LA57 changed in 64-bit mode");
    id7_ecx &= ~(1u << 16);
    S.cr3 = 0x1005;
    S.gpr[HVEMU_RAX] = S.cr4 | (1u << 17);
    FAULT("0f22e0", HVEMU_EXC_GP, "cr4 PCIDE with CR3[11:0] != 0");
    S.cr3 = 0x1000;
    OK("0f22e0", "cr4 PCIDE with CR3[11:0] = 0");
    CHECK(S.cr4 & (1u << 17), "PCIDE set");

    /* without the cpuid callback the CPUID-dependent writes are refused, not guessed */
    struct hvemu_ops ops = *C.ops;
    const struct hvemu_ops *saved = C.ops;
    ops.cpuid = NULL;
    C.ops = &ops;
    S.gpr[HVEMU_RAX] = S.cr4;
    CHECK(run("0f22e0") == HVEMU_UNHANDLEABLE && !memcmp(&S, &before, sizeof S), "cr4 without cpuid");
    C.ops = saved;

    /* privilege, and lazy loading of the parts a CR access needs */
    reset(3);
    FAULT("0f20c0", HVEMU_EXC_GP, "mov rax, cr0 at CPL 3");
    FAULT("0f22e0", HVEMU_EXC_GP, "mov cr4, rax at CPL 3");
    FAULT("0f20c8", HVEMU_EXC_UD, "cr1 at CPL 3 is #UD first (as measured)");
}

static void msw_and_tables(void)
{
    reset(0);
    S.cr0 |= 8;
    OK("0f06", "clts");
    CHECK(S.cr0 == 0x80050033 && (S.dirty & HVEMU_PART_CR0), "TS cleared");
    S.gpr[HVEMU_RAX] = 0xfff0 | 0xe; /* MP EM TS, PE clear */
    OK("0f01f0", "lmsw ax");
    CHECK(S.cr0 == (0x80050031 | 0xe), "lmsw sets MP EM TS, keeps PE: %llx", (unsigned long long)S.cr0);
    S.gpr[HVEMU_RAX] = 0x1111222233334444ull;
    OK("660f01e0", "smsw ax");
    CHECK(S.gpr[HVEMU_RAX] == (0x1111222233330000ull | (S.cr0 & 0xffff)), "smsw ax merges");
    OK("0f01e0", "smsw eax");
    CHECK(S.gpr[HVEMU_RAX] == S.cr0, "smsw eax");
    memset(M.mem + 0x100, 0xcc, 16);
    OK("0f0123", "smsw [rbx]");
    CHECK(M.mem[0x100] == (S.cr0 & 0xff) && M.mem[0x101] == ((S.cr0 >> 8) & 0xff) && M.mem[0x102] == 0xcc,
          "smsw m16 writes two bytes");

    S.gdtr.base = 0xfffffe0000001000ull;
    S.gdtr.limit = 0x7f;
    S.idtr.base = 0xfffffe0000000000ull;
    S.idtr.limit = 0xfff;
    OK("0f0103", "sgdt [rbx]");
    uint64_t base;
    uint16_t limit;
    memcpy(&limit, M.mem + 0x100, 2);
    memcpy(&base, M.mem + 0x102, 8);
    CHECK(limit == 0x7f && base == 0xfffffe0000001000ull, "sgdt stores limit, base");
    OK("0f010b", "sidt [rbx]");
    memcpy(&limit, M.mem + 0x100, 2);
    memcpy(&base, M.mem + 0x102, 8);
    CHECK(limit == 0xfff && base == 0xfffffe0000000000ull, "sidt");

    limit = 0x1ff;
    base = 0xffffffff81000000ull;
    memcpy(M.mem + 0x100, &limit, 2);
    memcpy(M.mem + 0x102, &base, 8);
    OK("0f0113", "lgdt [rbx]");
    CHECK(S.gdtr.base == base && S.gdtr.limit == 0x1ff && (S.dirty & HVEMU_PART_DTABLES), "lgdt");
    OK("0f011b", "lidt [rbx]");
    CHECK(S.idtr.base == base && S.idtr.limit == 0x1ff, "lidt");
    base = 0x0000800000000000ull;
    memcpy(M.mem + 0x102, &base, 8);
    FAULT("0f0113", HVEMU_EXC_GP, "lgdt non-canonical base");
    S.gpr[HVEMU_RBX] = BUFMEM_BASE + BUFMEM_SIZE - 4;
    FAULT("0f0113", HVEMU_EXC_PF, "lgdt operand past the end of memory");
    S.gpr[HVEMU_RBX] = BUFMEM_BASE + 0x100;

    S.ldtr.selector = 0x28;
    S.tr.selector = 0x40;
    S.gpr[HVEMU_RAX] = ~0ull;
    OK("0f00c0", "sldt eax");
    CHECK(S.gpr[HVEMU_RAX] == 0x28, "sldt eax zero-extends");
    S.gpr[HVEMU_RAX] = ~0ull;
    OK("660f00c8", "str ax");
    CHECK(S.gpr[HVEMU_RAX] == 0xffffffffffff0040ull, "str ax merges");

    /* CPL 3: LMSW/CLTS/LGDT are #GP; the stores are allowed unless CR4.UMIP */
    reset(3);
    FAULT("0f06", HVEMU_EXC_GP, "clts at CPL 3");
    FAULT("0f01f0", HVEMU_EXC_GP, "lmsw at CPL 3");
    FAULT("0f0113", HVEMU_EXC_GP, "lgdt at CPL 3");
    OK("0f01e0", "smsw at CPL 3 without UMIP");
    OK("0f0103", "sgdt at CPL 3 without UMIP");
    S.cr4 |= 1u << 11;
    FAULT("0f01e0", HVEMU_EXC_GP, "smsw at CPL 3 with UMIP");
    FAULT("0f0103", HVEMU_EXC_GP, "sgdt at CPL 3 with UMIP");
    FAULT("0f010b", HVEMU_EXC_GP, "sidt at CPL 3 with UMIP");
    FAULT("0f00c0", HVEMU_EXC_GP, "sldt at CPL 3 with UMIP");
    FAULT("0f00c8", HVEMU_EXC_GP, "str at CPL 3 with UMIP");
    reset(0);
    S.cr4 |= 1u << 11;
    OK("0f01e0", "smsw at CPL 0 with UMIP");
}

static void debug_registers(void)
{
    reset(0);
    S.gpr[HVEMU_RAX] = 0xffffffff81234567ull;
    OK("0f23c0", "mov dr0, rax");
    CHECK(S.dr[0] == 0xffffffff81234567ull && (S.dirty & HVEMU_PART_DR), "dr0");
    OK("0f21c1", "mov rcx, dr0");
    CHECK(S.gpr[HVEMU_RCX] == 0xffffffff81234567ull, "read dr0");
    /* DR6: B0-B3 BD BS BT writable; 4-11 and 16-31 read 1; 12 reads 0 (no RTM, no bus lock) */
    S.gpr[HVEMU_RAX] = 0;
    OK("0f23f0", "mov dr6, rax");
    CHECK(S.dr[6] == 0xffff0ff0, "dr6 fixed bits %llx", (unsigned long long)S.dr[6]);
    S.gpr[HVEMU_RAX] = 0xffffffff;
    OK("0f23f0", "mov dr6, all ones");
    CHECK(S.dr[6] == 0xffffeff0 + 0xf, "dr6 %llx", (unsigned long long)S.dr[6]);
    id7_ebx |= 1u << 11; /* RTM: bit 16 becomes writable */
    S.gpr[HVEMU_RAX] = 0;
    OK("0f23f0", "mov dr6 with RTM");
    CHECK(S.dr[6] == 0xfffe0ff0, "dr6 RTM bit writable %llx", (unsigned long long)S.dr[6]);
    id7_ebx &= ~(1u << 11);
    /* DR7: bit 10 reads 1, 11 12 14 15 read 0 */
    S.gpr[HVEMU_RAX] = 0xffffffff;
    OK("0f23f8", "mov dr7, rax");
    CHECK(S.dr[7] == ((0xffffffffull & 0xffff2bff) | 0x400),
          "dr7 %llx", (unsigned long long)S.dr[7]);
    S.dr[7] = 0x400;
    S.gpr[HVEMU_RAX] = 1ull << 32;
    FAULT("0f23f8", HVEMU_EXC_GP, "dr7 bits 63:32");
    FAULT("0f23f0", HVEMU_EXC_GP, "dr6 bits 63:32");
    /* DR4/DR5: aliases of DR6/DR7 without CR4.DE, #UD with it */
    S.gpr[HVEMU_RAX] = 0x401;
    OK("0f23e8", "mov dr5, rax is dr7");
    CHECK(S.dr[7] == 0x401 && S.dr[5] == 0, "dr5 -> dr7");
    OK("0f21e0", "mov rax, dr4 is dr6");
    CHECK(S.gpr[HVEMU_RAX] == S.dr[6], "dr4 -> dr6");
    S.cr4 |= 1u << 3;
    FAULT("0f21e0", HVEMU_EXC_UD, "dr4 with CR4.DE");
    S.cr4 &= ~(1ull << 3);
    /* DR7.GD: any access is #DB */
    S.dr[7] = 0x2400;
    FAULT("0f21c0", HVEMU_EXC_DB, "general detect");
    reset(3);
    S.dr[7] = 0x2400;
    FAULT("0f21c0", HVEMU_EXC_GP, "CPL 3 before general detect");
    FAULT("440f21c0", HVEMU_EXC_UD, "dr8 does not exist");
}

static void msrs(void)
{
    reset(0);
    S.gpr[HVEMU_RCX] = 0x10;
    S.gpr[HVEMU_RAX] = ~0ull;
    S.gpr[HVEMU_RDX] = ~0ull;
    OK("0f32", "rdmsr 0x10");
    CHECK(S.gpr[HVEMU_RAX] == 0x55 && S.gpr[HVEMU_RDX] == 0, "edx:eax, zero-extended");
    S.gpr[HVEMU_RAX] = 0xffffffff00000001ull; /* the upper halves are ignored */
    S.gpr[HVEMU_RDX] = 0xffffffff00000002ull;
    OK("0f30", "wrmsr 0x10");
    CHECK(msr_other == 0x200000001ull, "wrmsr value %llx", (unsigned long long)msr_other);
    S.gpr[HVEMU_RCX] = 0x1234;
    unsigned w0 = wrmsrs;
    FAULT("0f30", HVEMU_EXC_GP, "wrmsr of an absent MSR: the callback's #GP");
    FAULT("0f32", HVEMU_EXC_GP, "rdmsr of an absent MSR");
    CHECK(wrmsrs == w0 + 1, "one callback");
    /* FS/GS base are the state's */
    S.gpr[HVEMU_RCX] = 0xC0000100;
    S.gpr[HVEMU_RDX] = 0x7fff;
    S.gpr[HVEMU_RAX] = 0x12345000;
    unsigned r0 = rdmsrs;
    w0 = wrmsrs;
    OK("0f30", "wrmsr FS_BASE");
    CHECK(S.seg[HVEMU_FS].base == 0x7fff12345000ull && (S.dirty & HVEMU_PART_SEG(HVEMU_FS)) &&
          wrmsrs == w0, "fs base in the state");
    S.gpr[HVEMU_RCX] = 0xC0000101;
    S.gpr[HVEMU_RDX] = 0x8000;
    FAULT("0f30", HVEMU_EXC_GP, "wrmsr GS_BASE non-canonical");
    S.gpr[HVEMU_RCX] = 0xC0000100;
    OK("0f32", "rdmsr FS_BASE");
    CHECK(S.gpr[HVEMU_RAX] == 0x12345000 && S.gpr[HVEMU_RDX] == 0x7fff && rdmsrs == r0, "rdmsr fs base");
    /* EFER: the embedder's; the state's copy is dropped from valid, to be loaded again */
    S.gpr[HVEMU_RCX] = 0xC0000080;
    S.gpr[HVEMU_RDX] = 0;
    S.gpr[HVEMU_RAX] = 0xd01;
    OK("0f30", "wrmsr EFER");
    CHECK(msr_efer_written == 0xd01 && !(S.valid & HVEMU_PART_EFER), "efer: callback, part invalid");
    S.valid |= HVEMU_PART_EFER;
    /* SWAPGS */
    S.seg[HVEMU_GS].base = 0x7f0000001000ull;
    msr_kgs = 0xffff888000002000ull;
    OK("0f01f8", "swapgs");
    CHECK(S.seg[HVEMU_GS].base == 0xffff888000002000ull && msr_kgs == 0x7f0000001000ull, "swapped");
    reset(3);
    FAULT("0f32", HVEMU_EXC_GP, "rdmsr at CPL 3");
    FAULT("0f30", HVEMU_EXC_GP, "wrmsr at CPL 3");
    FAULT("0f01f8", HVEMU_EXC_GP, "swapgs at CPL 3");
}

static void fsgsbase(void)
{
    reset(3);
    S.seg[HVEMU_FS].base = 0x7f1122334455ull;
    FAULT("f3480faec0", HVEMU_EXC_UD, "rdfsbase without CR4.FSGSBASE");
    S.cr4 |= 1u << 16;
    OK("f3480faec0", "rdfsbase rax at CPL 3");
    CHECK(S.gpr[HVEMU_RAX] == 0x7f1122334455ull, "rdfsbase");
    OK("f30faec0", "rdfsbase eax");
    CHECK(S.gpr[HVEMU_RAX] == 0x22334455ull, "rdfsbase eax: low half");
    S.gpr[HVEMU_RAX] = 0xffff800000000000ull;
    OK("f3480faed8", "wrgsbase rax");
    CHECK(S.seg[HVEMU_GS].base == 0xffff800000000000ull && (S.dirty & HVEMU_PART_SEG(HVEMU_GS)), "wrgsbase");
    S.gpr[HVEMU_RAX] = 0xffffffff87654321ull;
    OK("f30faed0", "wrfsbase eax");
    CHECK(S.seg[HVEMU_FS].base == 0x87654321ull, "wrfsbase eax zero-extends");
    S.gpr[HVEMU_RAX] = 0x0000800000000000ull;
    FAULT("f3480faed0", HVEMU_EXC_GP, "wrfsbase non-canonical");
}

static void xcr0(void)
{
    reset(0);
    S.gpr[HVEMU_RCX] = 0;
    OK("0f01d0", "xgetbv 0");
    CHECK(S.gpr[HVEMU_RAX] == 7 && S.gpr[HVEMU_RDX] == 0, "xcr0");
    S.gpr[HVEMU_RCX] = 1;
    OK("0f01d0", "xgetbv 1 (XINUSE, enumerated)");
    idd1_eax = 0;
    FAULT("0f01d0", HVEMU_EXC_GP, "xgetbv 1 not enumerated");
    idd1_eax = 1u << 2;
    S.gpr[HVEMU_RCX] = 2;
    FAULT("0f01d0", HVEMU_EXC_GP, "xgetbv 2");
    S.cr4 &= ~(1ull << 18);
    S.gpr[HVEMU_RCX] = 0;
    FAULT("0f01d0", HVEMU_EXC_UD, "xgetbv without CR4.OSXSAVE");
    FAULT("0f01d1", HVEMU_EXC_UD, "xsetbv without CR4.OSXSAVE");
    S.cr4 |= 1u << 18;

    static const struct { uint64_t v; int ok; const char *what; } cases[] = {
        {0x7, 1, "x87 SSE AVX"}, {0xe7, 1, "with AVX-512"}, {0x3, 1, "x87 SSE"},
        {0x1, 1, "x87 only"}, {0x80007, 1, "APX"}, {0x1f, 1, "MPX"},
        {0x6, 0, "x87 clear"}, {0x5, 0, "AVX without SSE"}, {0x27, 0, "AVX-512 partly"},
        {0xe3, 0, "AVX-512 without AVX"}, {0xf, 0, "MPX half"}, {0x8001f, 0, "APX with MPX"},
        {0x80017, 0, "APX with half of MPX"}, {0x207, 0, "PKRU: not supported by this CPU"},
        {0x100000007ull, 0, "bit 32"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset(0);
        S.gpr[HVEMU_RCX] = 0;
        S.gpr[HVEMU_RAX] = cases[i].v & 0xffffffff;
        S.gpr[HVEMU_RDX] = cases[i].v >> 32;
        if (cases[i].ok) {
            OK("0f01d1", "xsetbv %s", cases[i].what);
            CHECK(S.xcr0 == cases[i].v && (S.dirty & HVEMU_PART_XCR0), "xcr0 %s", cases[i].what);
        } else {
            FAULT("0f01d1", HVEMU_EXC_GP, "xsetbv %s", cases[i].what);
        }
    }
    reset(0);
    S.gpr[HVEMU_RCX] = 1;
    S.gpr[HVEMU_RAX] = 7;
    FAULT("0f01d1", HVEMU_EXC_GP, "xsetbv ecx=1");
    reset(3);
    S.gpr[HVEMU_RAX] = 7;
    FAULT("0f01d1", HVEMU_EXC_GP, "xsetbv at CPL 3");
    OK("0f01d0", "xgetbv at CPL 3");

    /* XSETBV changes the APX gate at once: a REX2 instruction after it decodes as APX */
    reset(0);
    S.gpr[HVEMU_RAX] = 0x80007;
    hvemu_features f = hvemu_features_all();
    C.features = f;
    CHECK(run("d51801c0") == HVEMU_EXCEPTION && R.exc.vector == HVEMU_EXC_UD, "REX2 #UD, XCR0[19] clear");
    S.xcr0 = 7;
    S.gpr[HVEMU_RCX] = 0;
    OK("0f01d1", "xsetbv APX on");
    S.gpr[16] = 5;
    S.gpr[HVEMU_RAX] = 1;
    OK("d51801c0", "add r16, rax after XSETBV"); /* REX2.B4 W: rm = r16 */
    CHECK(S.gpr[16] == 6, "r16 %llu", (unsigned long long)S.gpr[16]);
}

static uint32_t tsc_aux = 0x1234;
static int t_rdtsc(void *o, uint64_t *tsc, uint32_t *aux)
{
    (void)o;
    *tsc = 1;
    *aux = tsc_aux;
    return HVEMU_CB_OK;
}

static int rand_valid = 1;
static int t_rdrand(void *o, int seed, uint64_t *v, int *valid)
{
    (void)o;
    *v = seed ? 0x5eed5eed5eed5eedull : 0xaaaabbbbccccddddull;
    *valid = rand_valid;
    return HVEMU_CB_OK;
}

static void random_and_invpcid(void)
{
    reset(3);
    S.rflags = 0x8d5; /* every arithmetic flag set */
    OK("480fc7f0", "rdrand rax");
    CHECK(S.gpr[HVEMU_RAX] == 0xaaaabbbbccccddddull && (S.rflags & 0x8d5) == 1, "value, CF = 1, the rest 0");
    OK("660fc7f9", "rdseed cx");
    CHECK((S.gpr[HVEMU_RCX] & 0xffff) == 0x5eed, "rdseed 16-bit");
    rand_valid = 0;
    S.gpr[HVEMU_RAX] = 7;
    OK("0fc7f0", "rdrand eax, exhausted");
    CHECK(S.gpr[HVEMU_RAX] == 0 && !(S.rflags & 1), "0 and CF = 0");
    rand_valid = 1;

    reset(0);
    uint64_t desc[2] = {0x5, 0xffff800000001000ull};
    memcpy(M.mem + 0x100, desc, 16);
    S.gpr[HVEMU_RAX] = 0;
    FAULT("660f388203", HVEMU_EXC_GP, "invpcid type 0 with a PCID while CR4.PCIDE = 0");
    S.cr4 |= 1u << 17;
    OK("660f388203", "invpcid type 0");
    CHECK(R.event == HVEMU_EVENT_INVPCID && R.event_arg == (0 | (5u << 16)) && R.event_addr == 0xffff800000001000ull,
          "event %u arg %x", R.event, R.event_arg);
    S.gpr[HVEMU_RAX] = 2;
    OK("660f388203", "invpcid type 2");
    CHECK(R.event_arg == (2 | (5u << 16)) && R.event_addr == 0, "type 2");
    S.gpr[HVEMU_RAX] = 4;
    FAULT("660f388203", HVEMU_EXC_GP, "invpcid type 4");
    S.gpr[HVEMU_RAX] = 0;
    desc[1] = 0x0000800000000000ull;
    memcpy(M.mem + 0x100, desc, 16);
    FAULT("660f388203", HVEMU_EXC_GP, "invpcid type 0, non-canonical address");
    desc[0] = 0x1005;
    memcpy(M.mem + 0x100, desc, 16);
    S.gpr[HVEMU_RAX] = 2;
    FAULT("660f388203", HVEMU_EXC_GP, "invpcid: reserved descriptor bits");
    reset(3);
    FAULT("660f388203", HVEMU_EXC_GP, "invpcid at CPL 3");
}

static void flags_and_stores(void)
{
    /* CLI/STI: CPL <= IOPL; at CPL 3 with CR4.PVI the virtual flag; STI's shadow */
    reset(0);
    S.rflags = 2;
    OK("fb", "sti at CPL 0");
    CHECK((S.rflags & 0x200) && R.event == HVEMU_EVENT_STI_SHADOW, "IF set, shadow");
    OK("fb", "sti again");
    CHECK(R.event == HVEMU_EVENT_NONE, "no shadow when IF was already set");
    OK("fa", "cli");
    CHECK(!(S.rflags & 0x200), "IF clear");
    reset(3);
    S.rflags = 0x3002; /* IOPL 3 */
    OK("fb", "sti at CPL 3, IOPL 3");
    S.rflags = 0x202;
    FAULT("fa", HVEMU_EXC_GP, "cli at CPL 3, IOPL 0");
    S.cr4 |= 2; /* PVI */
    OK("fa", "cli at CPL 3 with PVI: VIF");
    CHECK((S.rflags & 0x200) && !(S.rflags & 0x80000), "IF kept, VIF clear");
    OK("fb", "sti with PVI");
    CHECK(S.rflags & 0x80000, "VIF set");
    S.rflags |= 0x100000; /* VIP */
    FAULT("fb", HVEMU_EXC_GP, "sti with PVI and VIP");
    /* CLAC/STAC */
    reset(0);
    OK("0f01cb", "stac");
    CHECK(S.rflags & 0x40000, "AC set");
    OK("0f01ca", "clac");
    CHECK(!(S.rflags & 0x40000), "AC clear");
    reset(3);
    FAULT("0f01cb", HVEMU_EXC_UD, "stac at CPL 3");
    /* RDPID */
    OK("f30fc7f8", "rdpid rax");
    CHECK(S.gpr[HVEMU_RAX] == 0x1234, "tsc_aux");
    /* MOVDIR64B: one 64-byte write */
    reset(3);
    for (unsigned i = 0; i < 64; i++)
        M.mem[0x200 + i] = (uint8_t)i;
    S.gpr[HVEMU_RSI] = BUFMEM_BASE + 0x200;
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x400;
    unsigned w0 = M.writes;
    OK("660f38f83e", "movdir64b rdi, [rsi]");
    CHECK(M.writes == w0 + 1 && M.last_write_size == 64 && M.last_write_addr == BUFMEM_BASE + 0x400 &&
          !memcmp(M.mem + 0x400, M.mem + 0x200, 64), "one 64-byte write");
    S.gpr[HVEMU_RDI] = BUFMEM_BASE + 0x408;
    FAULT("660f38f83e", HVEMU_EXC_GP, "movdir64b to an unaligned destination");
}

int main(void)
{
    struct hvemu_ops ops = bufmem_ops;
    ops.cpuid = t_cpuid;
    ops.rdmsr = t_rdmsr;
    ops.wrmsr = t_wrmsr;
    ops.rdtsc = t_rdtsc;
    ops.rdrand = t_rdrand;
    hvemu_init(&C, &ops, &M, &S);
    control_registers();
    msw_and_tables();
    debug_registers();
    msrs();
    fsgsbase();
    xcr0();
    flags_and_stores();
    random_and_invpcid();
    TEST_DONE();
}
