/* SPDX-License-Identifier: MIT */
/*
 * Segment register loads against the host CPU. A Linux process runs at CPL 3 with the kernel's
 * GDT, whose layout is fixed (arch/x86/include/asm/segment.h: 16 entries, limit 0x7f): null,
 * kernel 32-bit code, kernel code, kernel data (DPL 0), user 32-bit code, user data, user code
 * (DPL 3), an unused entry, the TSS and LDT system descriptors (two slots each), three TLS
 * entries (empty in a process that never called set_thread_area) and the CPUNODE entry (read-only
 * expand-down data, DPL 3, the CPU number in its limit). No LDT is loaded.
 *
 * hvemu gets the same GDT in its memory and the same CPL; every selector of a range (all of
 * 0..0x1ff: every GDT entry with each RPL, beyond the limit, the LDT bit; plus a random sample
 * of the rest) is loaded into ES, SS, DS, FS and GS by MOV Sreg (8E), by POP FS/GS and by
 * LSS/LFS/LGS, inspected by LAR, LSL, VERR and VERW (16/32/64-bit, register and memory
 * operands), and jumped to by far JMP, CALL and RET, natively and through hvemu; the outcomes (completed, or the exception vector and
 * error code), the registers and ZF must agree. The thread stays on one CPU: the CPUNODE entry's
 * limit is the CPU's number. The base and limit loaded are checked in
 * tests/unit/segment.c: the runner cannot read a segment's hidden part.
 *
 * usage: segload [--all] [--verbose]   (--all: every selector 0..0xffff, about a minute)
 */
#include "hvemu.h"
#include "native.h"
#include <stddef.h>
#include <stdio.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define GDT_ADDR 0xfffffe0000001000ull
static uint64_t gdt[16];
static uint8_t hmem[NATIVE_MEM_SIZE];

static uint64_t desc(uint32_t flags, uint32_t base, uint32_t limit)
{
    /* flags as Linux's GDT_ENTRY_INIT: type/S/DPL/P in bits 7:0, AVL/L/D/G in bits 15:12 */
    return ((uint64_t)(limit & 0xffff)) | ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)(flags & 0xff) << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
           ((uint64_t)((flags >> 12) & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

/* The host's GDT as user mode can see it: LAR and LSL (run natively) give each entry's
 * attributes and limit where its DPL allows; an entry they refuse (DPL 0, or a system type LAR
 * does not report) is modelled as DPL-0 data, which every load at CPL 3 refuses with #GP(sel)
 * as it does the real one. The layout above is what a stock kernel has; kernels differ (with
 * IA-32 emulation off, the 32-bit user code segment is not usable), so the host is asked. */
static unsigned host_gdt(void)
{
    unsigned visible = 0;
    memset(gdt, 0, sizeof gdt);
    for (unsigned i = 1; i < 16; i++) {
        static const uint8_t lar[] = {0x0f, 0x02, 0xc1}, lsl[] = {0x0f, 0x03, 0xd1};
        struct native_state st;
        memset(&st, 0, sizeof st);
        st.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR + 0x800;
        st.gpr[HVEMU_RCX] = i * 8 + 3;
        if (native_run(lar, sizeof lar, &st, NULL) != NATIVE_OK || !(st.rflags & 0x40)) {
            gdt[i] = desc(0xc093, 0, 0xfffff);
            continue;
        }
        uint32_t ar = (uint32_t)st.gpr[HVEMU_RAX];
        st.gpr[HVEMU_RCX] = i * 8 + 3;
        if (native_run(lsl, sizeof lsl, &st, NULL) != NATIVE_OK || !(st.rflags & 0x40))
            continue;
        uint32_t limit = (uint32_t)st.gpr[HVEMU_RDX];
        if (ar & 0x800000) /* G: LSL gave the expanded limit */
            limit >>= 12;
        gdt[i] = ((uint64_t)ar << 32) | (limit & 0xffff) | ((uint64_t)(limit & 0xf0000) << 32);
        visible++;
    }
    return visible;
}

static int s_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o;
    if (k == HVEMU_ACCESS_SYSTEM && a >= GDT_ADDR && a + n <= GDT_ADDR + sizeof gdt) {
        memcpy(d, (uint8_t *)gdt + (a - GDT_ADDR), n);
        return HVEMU_CB_OK;
    }
    if (a >= NATIVE_MEM_ADDR && a + n <= NATIVE_MEM_ADDR + NATIVE_MEM_SIZE) {
        memcpy(d, hmem + (a - NATIVE_MEM_ADDR), n);
        return HVEMU_CB_OK;
    }
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = k == HVEMU_ACCESS_SYSTEM ? 0 : 4;
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

/* the GDT is read-only (Linux maps it so; every entry has its accessed bit set already) */
static int s_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)exp; (void)des; (void)n;
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = 3;
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

static int s_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o;
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(sub));
    return HVEMU_CB_OK;
}

static int s_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o; (void)k;
    if (a >= NATIVE_MEM_ADDR && a + n <= NATIVE_MEM_ADDR + NATIVE_MEM_SIZE) {
        memcpy(hmem + (a - NATIVE_MEM_ADDR), d, n);
        return HVEMU_CB_OK;
    }
    e->vector = HVEMU_EXC_PF;
    e->has_error_code = 1;
    e->error_code = 6;
    e->cr2 = a;
    return HVEMU_CB_FAULT;
}

static const struct hvemu_ops sops = {.read = s_read, .write = s_write, .cmpxchg = s_cmpxchg,
                                      .cpuid = s_cpuid};
static int verbose;
static unsigned long cases, fails;

static void one(const uint8_t *b, unsigned len, const char *what, uint16_t sel)
{
    struct native_state nat;
    memset(&nat, 0, sizeof nat);
    nat.gpr[HVEMU_RAX] = sel | 0x12340000ull;
    nat.gpr[HVEMU_RBX] = NATIVE_MEM_ADDR + 0x100;
    nat.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR + 0x800;
    nat.rflags = (sel & 4) ? 0x40 : 0x8c5; /* ZF set or clear before, other flags around it */
    /* far pointer for LSS/LFS/LGS at [rbx]: offset 0x11223344, selector; POP reads [rsp].
     * Far JMP/CALL/RET: [rbx + 0x20] = m16:32 and m16:64 pointers into the code region (its
     * INT3s show where a branch went), and the same for RETF at [rsp] (a 4-byte and an 8-byte
     * frame overlap there: only one form runs at a time). */
    uint32_t off = 0x11223344;
    memcpy(nat.mem + 0x100, &off, 4);
    memcpy(nat.mem + 0x104, &sel, 2);
    memcpy(nat.mem + 0x800, &sel, 2);
    uint64_t target = NATIVE_CODE_ADDR + 0x123;
    memcpy(nat.mem + 0x120, &target, 4);
    memcpy(nat.mem + 0x124, &sel, 2);
    memcpy(nat.mem + 0x130, &target, 8);
    memcpy(nat.mem + 0x138, &sel, 2);
    if (b[len - 1] == 0xcb) { /* RETF: the frame at [rsp] */
        int q = b[0] == 0x48;
        memcpy(nat.mem + 0x800, &target, q ? 8 : 4);
        memcpy(nat.mem + 0x800 + (q ? 8 : 4), &sel, 2);
    }
    if (b[len - 1] == 0xcf) { /* IRETQ: RIP, CS, RFLAGS, RSP, SS; `sel` as CS (48 CF) or as SS
                                * (40 48 CF: a REX prefix in front tells the two apart) */
        int sel_is_ss = len == 3;
        uint64_t fr[5] = {target, sel_is_ss ? 0x33 : sel, 0x8c3 | (sel & 0x8 ? 0x40000 : 0),
                          NATIVE_MEM_ADDR + 0xa00 + (sel & 0x30), sel_is_ss ? sel : 0x2b};
        memcpy(nat.mem + 0x800, fr, sizeof fr);
    }
    memcpy(hmem, nat.mem, NATIVE_MEM_SIZE);
    struct native_state in = nat;
    struct native_fault f;
    int nr = native_run(b, len, &nat, &f);
    if (nr != NATIVE_OK && nr != NATIVE_FAULT)
        return;

    static struct hvemu_state hs;
    memset(&hs, 0, offsetof(struct hvemu_state, vec));
    hs.valid = HVEMU_PART_ALL;
    memcpy(hs.gpr, in.gpr, sizeof in.gpr);
    hs.rip = NATIVE_CODE_ADDR;
    hs.rflags = in.rflags | 2;
    hs.cr0 = 0x80050033;
    hs.cr4 = 0x3406f0;
    hs.efer = 0xd01;
    hs.seg[HVEMU_CS] = (struct hvemu_segment){0, 0xffffffff, 0x33, 0xa0fb};
    hs.seg[HVEMU_SS] = (struct hvemu_segment){0, 0xffffffff, 0x2b, 0xc0f3};
    hs.gdtr.base = GDT_ADDR;
    hs.gdtr.limit = sizeof gdt - 1;
    hs.ldtr.attr = HVEMU_SEG_ATTR_UNUSABLE;
    struct hvemu_ctx ctx;
    struct hvemu_result r;
    hvemu_init(&ctx, &sops, NULL, &hs);
    int hr = hvemu_emulate_bytes(&ctx, b, len, &r);
    cases++;

    int ok;
    char why[200] = "";
    if (nr == NATIVE_OK) {
        ok = hr == HVEMU_OK && hs.rip == nat.rip && !memcmp(hs.gpr, nat.gpr, sizeof nat.gpr) &&
             (hs.rflags & NATIVE_RFLAGS_MASK) == (nat.rflags & NATIVE_RFLAGS_MASK) &&
             !memcmp(hmem, nat.mem, NATIVE_MEM_SIZE);
        if (!ok)
            snprintf(why, sizeof why, "native completed; hvemu status %d vector %d err %#x (%s)", hr,
                     r.exc.vector, r.exc.error_code, r.reason ? r.reason : "");
    } else {
        ok = hr == HVEMU_EXCEPTION && r.exc.vector == f.vector &&
             (!r.exc.has_error_code || r.exc.error_code == (uint32_t)f.error_code);
        if (!ok)
            snprintf(why, sizeof why, "native vector %d err %#lx; hvemu status %d vector %d err %#x (%s)",
                     f.vector, (unsigned long)f.error_code, hr, r.exc.vector, r.exc.error_code,
                     r.reason ? r.reason : "");
    }
    if (!ok) {
        fails++;
        if (verbose || fails <= 20)
            printf("MISMATCH %s selector %#06x: %s\n", what, sel, why);
    }
}

static void selector(uint16_t sel)
{
    static const struct { uint8_t b[6]; uint8_t len; const char *what; } forms[] = {
        {{0x8e, 0xc0}, 2, "mov es, eax"}, {{0x8e, 0xd0}, 2, "mov ss, eax"},
        {{0x8e, 0xd8}, 2, "mov ds, eax"}, {{0x8e, 0xe0}, 2, "mov fs, eax"},
        {{0x8e, 0xe8}, 2, "mov gs, eax"}, {{0x0f, 0xa1}, 2, "pop fs"},
        {{0x0f, 0xa9}, 2, "pop gs"}, {{0x0f, 0xb2, 0x03}, 3, "lss eax, [rbx]"},
        {{0x0f, 0xb4, 0x03}, 3, "lfs eax, [rbx]"}, {{0x0f, 0xb5, 0x03}, 3, "lgs eax, [rbx]"},
        {{0x0f, 0x02, 0xc8}, 3, "lar ecx, eax"}, {{0x48, 0x0f, 0x02, 0xc8}, 4, "lar rcx, rax"},
        {{0x66, 0x0f, 0x02, 0xc8}, 4, "lar cx, ax"}, {{0x0f, 0x03, 0xc8}, 3, "lsl ecx, eax"},
        {{0x66, 0x0f, 0x03, 0x0c, 0x24}, 5, "lsl cx, [rsp]"}, {{0x0f, 0x00, 0xe0}, 3, "verr ax"},
        {{0x0f, 0x00, 0xe8}, 3, "verw ax"}, {{0x0f, 0x00, 0x2c, 0x24}, 4, "verw [rsp]"},
        {{0xff, 0x6b, 0x20}, 3, "jmp far [rbx+0x20] (m16:32)"},
        {{0x48, 0xff, 0x6b, 0x30}, 4, "rex.w jmp far [rbx+0x30]"},
        {{0xff, 0x5b, 0x20}, 3, "call far [rbx+0x20] (m16:32)"},
        {{0x48, 0xff, 0x5b, 0x30}, 4, "rex.w call far [rbx+0x30]"},
        {{0xcb}, 1, "retf"}, {{0x48, 0xcb}, 2, "retfq"},
        {{0x48, 0xcf}, 2, "iretq (selector as CS)"}, {{0x40, 0x48, 0xcf}, 3, "iretq (selector as SS)"},
    };
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++)
        one(forms[i].b, forms[i].len, forms[i].what, sel);
}

int main(int argc, char **argv)
{
    int all = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all")) all = 1;
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else { printf("usage: segload [--all] [--verbose]\n"); return 2; }
    }
    cpu_set_t one_cpu;
    CPU_ZERO(&one_cpu);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one_cpu);
    if (sched_setaffinity(0, sizeof one_cpu, &one_cpu) != 0)
        printf("note: could not pin the thread; the CPUNODE limit may change under LSL\n");
    if (native_init() != 0) {
        printf("native runner unavailable\n");
        return 1;
    }
    unsigned visible = host_gdt();
    if (verbose)
        for (unsigned i = 0; i < 16; i++)
            printf("gdt[%2u] = %016llx\n", i, (unsigned long long)gdt[i]);
    unsigned lim = all ? 0x10000 : 0x200;
    for (unsigned s = 0; s < lim; s++)
        selector((uint16_t)s);
    if (!all) {
        uint64_t x = 0x9E3779B97F4A7C15ull;
        for (unsigned i = 0; i < 300; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            selector((uint16_t)x);
        }
    }
    printf("compared %lu segment loads with the host (its GDT, %u entries visible to LAR; CPL 3)\n",
           cases, visible);
    printf("summary: %lu cases passed, %lu failed\n", cases - fails, fails);
    return fails != 0;
}
