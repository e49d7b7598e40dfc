/* SPDX-License-Identifier: MIT */
/* SYSCALL, SYSRET, SYSENTER, SYSEXIT in 64-bit mode (SDM Vol. 2 and AMD APM Vol. 3 Operation
 * sections), on an Intel and on an AMD guest CPU: the host cannot run these without entering its
 * own kernel (SYSRET and SYSEXIT at CPL 3 are compared with the host in hostdiff). */
#include "testlib.h"
#include "bufmem.h"

static struct bufmem M;
static struct hvemu_state S, before;
static struct hvemu_ctx C;
static struct hvemu_result R;
static int amd;

static int t_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o; (void)sub;
    memset(out, 0, 16);
    if (leaf == 0)
        out[1] = amd ? 0x68747541u : 0x756e6547u;
    return HVEMU_CB_OK;
}

static const uint64_t star = (0x23ull << 48) | (0x10ull << 32);
static int t_rdmsr(void *o, uint32_t msr, uint64_t *v, struct hvemu_exception *e)
{
    (void)o; (void)e;
    switch (msr) {
    case 0xC0000081: *v = star; return HVEMU_CB_OK;
    case 0xC0000082: *v = 0xffffffff81000000ull; return HVEMU_CB_OK;
    case 0xC0000084: *v = 0x47700; return HVEMU_CB_OK; /* TF DF IF IOPL AC NT, as Linux */
    case 0x174: *v = 0x10; return HVEMU_CB_OK;
    case 0x175: *v = 0xfffffe0000002000ull; return HVEMU_CB_OK;
    case 0x176: *v = 0xffffffff81000100ull; return HVEMU_CB_OK;
    }
    e->vector = HVEMU_EXC_GP; e->has_error_code = 1; e->error_code = 0;
    return HVEMU_CB_FAULT;
}

static int run(const char *hex)
{
    uint8_t b[16];
    size_t n = hex_bytes(hex, b, sizeof b);
    S.dirty = 0;
    before = S;
    return hvemu_emulate_bytes(&C, b, n, &R);
}

#define FAULT(hex, vec, ...)                                                                     \
    CHECK(run(hex) == HVEMU_EXCEPTION && R.exc.vector == (vec) && !memcmp(&S, &before, sizeof S), \
          __VA_ARGS__)

static void user(void)
{
    state_init64(&S);
    S.efer = 0xd01;
    S.rip = 0x401000;
    S.rflags = 0x246 | 0x400 | 0x100; /* ZF PF IF, DF, TF */
    S.seg[HVEMU_CS] = (struct hvemu_segment){0, 0xffffffff, 0x33, 0xa0fb};
    S.seg[HVEMU_SS] = (struct hvemu_segment){0, 0xffffffff, 0x2b, 0xc0f3};
}

static void kernel(void)
{
    state_init64(&S);
    S.efer = 0xd01;
    S.rip = 0xffffffff81001000ull;
    S.rflags = 0x46;
    S.seg[HVEMU_CS] = (struct hvemu_segment){0, 0xffffffff, 0x10, 0xa09b};
    S.seg[HVEMU_SS] = (struct hvemu_segment){0, 0xffffffff, 0x18, 0xc093};
}

int main(void)
{
    struct hvemu_ops ops = bufmem_ops;
    ops.cpuid = t_cpuid;
    ops.rdmsr = t_rdmsr;
    hvemu_init(&C, &ops, &M, &S);

    for (amd = 0; amd < 2; amd++) {
        const char *v = amd ? "AMD" : "Intel";
        /* SYSCALL: RCX, R11, FMASK, flat CS/SS from STAR, RIP from LSTAR; the single-step trap
         * is that of the instruction (TF was set as it began) */
        user();
        int rc = run("0f05");
        CHECK(rc == HVEMU_TRAP && R.trap_type == HVEMU_TRAP_DEBUG, "%s syscall with TF: trap", v);
        CHECK(S.rip == 0xffffffff81000000ull && S.gpr[HVEMU_RCX] == 0x401002 &&
              S.gpr[HVEMU_R11] == (0x246 | 0x400 | 0x100) && S.rflags == 0x46,
              "%s syscall: rip %llx rcx %llx r11 %llx rflags %llx", v, (unsigned long long)S.rip,
              (unsigned long long)S.gpr[HVEMU_RCX], (unsigned long long)S.gpr[HVEMU_R11],
              (unsigned long long)S.rflags);
        CHECK(S.seg[HVEMU_CS].selector == 0x10 && S.seg[HVEMU_CS].attr == 0xa09b && S.seg[HVEMU_CS].base == 0 &&
              S.seg[HVEMU_SS].selector == 0x18 && S.seg[HVEMU_SS].attr == 0xc093 &&
              (S.dirty & (HVEMU_PART_SEG(HVEMU_CS) | HVEMU_PART_SEG(HVEMU_SS))), "%s syscall segments", v);
        user();
        S.efer &= ~1ull;
        FAULT("0f05", HVEMU_EXC_UD, "%s syscall without EFER.SCE", v);

        /* SYSRETQ back to user mode */
        kernel();
        S.gpr[HVEMU_RCX] = 0x401002;
        S.gpr[HVEMU_R11] = 0x246 | 0x10000 | 0x20000; /* RF and VM are not restored */
        CHECK(run("480f07") == HVEMU_OK, "%s sysretq", v);
        CHECK(S.rip == 0x401002 && S.rflags == 0x246 && S.seg[HVEMU_CS].selector == 0x33 &&
              S.seg[HVEMU_CS].attr == 0xa0fb && S.seg[HVEMU_SS].selector == 0x2b,
              "%s sysretq: rip %llx rflags %llx cs %x ss %x", v, (unsigned long long)S.rip,
              (unsigned long long)S.rflags, S.seg[HVEMU_CS].selector, S.seg[HVEMU_SS].selector);
        CHECK(S.seg[HVEMU_SS].attr == (amd ? 0xc093u : 0xc0f3u), "%s: SS attributes %x", v, S.seg[HVEMU_SS].attr);
        /* SYSRET (32-bit) to compatibility mode */
        kernel();
        S.gpr[HVEMU_RCX] = 0xffffffff00001234ull;
        S.gpr[HVEMU_R11] = 0x202;
        CHECK(run("0f07") == HVEMU_OK && S.rip == 0x1234 && S.seg[HVEMU_CS].selector == 0x23 &&
              S.seg[HVEMU_CS].attr == 0xc0fb, "%s sysretl", v);
        /* a non-canonical RCX */
        kernel();
        S.gpr[HVEMU_RCX] = 0x0000800000000000ull;
        S.gpr[HVEMU_R11] = 0x202;
        if (amd)
            CHECK(run("480f07") == HVEMU_OK && S.rip == 0x0000800000000000ull && (S.seg[HVEMU_CS].selector & 3) == 3,
                  "AMD sysretq to a non-canonical RIP: the fetch faults at CPL 3");
        else
            FAULT("480f07", HVEMU_EXC_GP, "Intel sysretq with a non-canonical RCX: #GP(0) in ring 0");
        user();
        FAULT("480f07", HVEMU_EXC_GP, "%s sysret at CPL 3", v);

        /* SYSENTER / SYSEXIT: Intel only in 64-bit mode */
        user();
        S.rflags = 0x246;
        if (amd) {
            FAULT("0f34", HVEMU_EXC_UD, "AMD sysenter in long mode");
        } else {
            CHECK(run("0f34") == HVEMU_OK && S.rip == 0xffffffff81000100ull &&
                  S.gpr[HVEMU_RSP] == 0xfffffe0000002000ull && S.rflags == 0x46 &&
                  S.seg[HVEMU_CS].selector == 0x10 && S.seg[HVEMU_SS].selector == 0x18, "Intel sysenter");
            kernel();
            S.gpr[HVEMU_RCX] = 0x7ffff000;
            S.gpr[HVEMU_RDX] = 0x401000;
            CHECK(run("480f35") == HVEMU_OK && S.rip == 0x401000 && S.gpr[HVEMU_RSP] == 0x7ffff000 &&
                  S.seg[HVEMU_CS].selector == 0x33 && S.seg[HVEMU_SS].selector == 0x3b, "Intel sysexitq");
            kernel();
            S.gpr[HVEMU_RDX] = 0x0000800000000000ull;
            FAULT("480f35", HVEMU_EXC_GP, "sysexitq to a non-canonical RIP");
            user();
            FAULT("480f35", HVEMU_EXC_GP, "sysexit at CPL 3");
        }
    }
    TEST_DONE();
}
