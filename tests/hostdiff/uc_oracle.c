/* SPDX-License-Identifier: MIT */
/* Unicorn as the reference for 32-bit protected mode (see uc_oracle.h). Loaded with dlopen so
 * that the test builds without Unicorn's headers and skips without its library. */
#include "uc_oracle.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* The few Unicorn 2 ABI values used (unicorn/unicorn.h, unicorn/x86.h). */
#define UC_ARCH_X86 4
#define UC_MODE_32 (1 << 2)
#define UC_PROT_ALL 7
#define UC_PROT_RW 3
#define UC_PROT_RX 5
#define UC_HOOK_INTR (1 << 0)
#define UC_HOOK_INSN_INVALID (1 << 14)
#define UC_HOOK_MEM_READ_UNMAPPED (1 << 4)
#define UC_HOOK_MEM_WRITE_UNMAPPED (1 << 5)
#define UC_HOOK_MEM_FETCH_UNMAPPED (1 << 6)
#define UC_HOOK_MEM_WRITE_PROT (1 << 8)
#define UC_HOOK_MEM_FETCH_PROT (1 << 9)
#define UC_MEM_READ_UNMAPPED 19
#define UC_MEM_WRITE_UNMAPPED 20
#define UC_MEM_FETCH_UNMAPPED 21
#define UC_MEM_WRITE_PROT 22
#define UC_MEM_FETCH_PROT 24
#define R_CS 11
#define R_DS 17
#define R_ES 28
#define R_FS 32
#define R_GS 33
#define R_SS 49
#define R_GDTR 243
#define R_CR0 50
#define GDT_ADDR 0x30000000ull
struct uc_mmr { uint16_t selector; uint64_t base; uint32_t limit; uint32_t flags; };
enum { R_EAX = 19, R_EBP = 20, R_EBX = 21, R_ECX = 22, R_EDI = 23, R_EDX = 24, R_EFLAGS = 25,
       R_EIP = 26, R_ESI = 29, R_ESP = 30 };

typedef void uc_engine;
static struct {
    void *lib;
    int (*open)(int, int, uc_engine **);
    int (*mem_map)(uc_engine *, uint64_t, size_t, uint32_t);
    int (*mem_write)(uc_engine *, uint64_t, const void *, size_t);
    int (*mem_read)(uc_engine *, uint64_t, void *, size_t);
    int (*reg_write)(uc_engine *, int, const void *);
    int (*reg_read)(uc_engine *, int, void *);
    int (*emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
    int (*emu_stop)(uc_engine *);
    int (*hook_add)(uc_engine *, size_t *, int, void *, void *, uint64_t, uint64_t, ...);
    uc_engine *uc;
} U;

static const int g_reg[8] = {R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI};

/* what the hooks saw in this run */
static int h_vector;      /* -1: none */
static int h_unmapped;    /* UC_MEM_*_UNMAPPED, or 0 */
static uint64_t h_addr;

static void hook_intr(uc_engine *uc, uint32_t intno, void *user)
{
    (void)user;
    if (h_vector < 0)
        h_vector = (int)intno;
    U.emu_stop(uc);
}

static int hook_invalid(uc_engine *uc, void *user)
{
    (void)uc; (void)user;
    if (h_vector < 0)
        h_vector = 6;
    return 0;
}

static int hook_unmapped(uc_engine *uc, int type, uint64_t addr, int size, int64_t value, void *user)
{
    (void)uc; (void)size; (void)value; (void)user;
    if (!h_unmapped && h_vector < 0) {
        /* as on the host: the code region is read+execute, the window read+write (NX) */
        h_unmapped = type == UC_MEM_FETCH_PROT ? UC_MEM_FETCH_UNMAPPED
                     : type == UC_MEM_WRITE_PROT ? UC_MEM_WRITE_UNMAPPED : type;
        h_addr = addr & 0xffffffffu; /* QEMU's 64-bit target_ulong may hold it sign-extended */
    }
    return 0;
}

/* An 8-byte code/data descriptor: base, byte limit (G set when it is above 1 MiB), access
 * byte, and the D/B bit. */
static uint64_t descriptor(uint32_t base, uint32_t limit, unsigned access, int db)
{
    int g = limit > 0xfffff;
    uint32_t lim = g ? limit >> 12 : limit;
    return (uint64_t)(lim & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)access << 40) | ((uint64_t)((lim >> 16) & 15) << 48) |
           ((uint64_t)(db ? 0x4 : 0) << 52) | ((uint64_t)(g ? 0x8 : 0) << 52) |
           ((uint64_t)(base >> 24) << 56);
}

static int setup16(void)
{
    uint64_t gdt[4] = {0, descriptor(0, 0xffffffffu, 0x9b, 0), descriptor(0, 0xffffffffu, 0x93, 1),
                       descriptor((uint32_t)UC_ORACLE_SS16_BASE, 0xffff, 0x93, 0)};
    struct uc_mmr g = {0, GDT_ADDR, sizeof gdt - 1, 0};
    uint32_t cs = 8, ds = 0x10, ss = 0x18;
    if (U.mem_map(U.uc, GDT_ADDR, 0x1000, UC_PROT_ALL) || U.mem_write(U.uc, GDT_ADDR, gdt, sizeof gdt) ||
        U.reg_write(U.uc, R_GDTR, &g) || U.reg_write(U.uc, R_CS, &cs) || U.reg_write(U.uc, R_SS, &ss) ||
        U.reg_write(U.uc, R_DS, &ds) || U.reg_write(U.uc, R_ES, &ds) || U.reg_write(U.uc, R_FS, &ds) ||
        U.reg_write(U.uc, R_GS, &ds))
        return -1;
    return 0;
}

int uc_oracle_init(unsigned bits)
{
    if (U.uc)
        return 0;
    U.lib = dlopen("libunicorn.so.2", RTLD_NOW);
    if (!U.lib)
        return -1;
#define SYM(f, n) *(void **)&U.f = dlsym(U.lib, n)
    SYM(open, "uc_open"); SYM(mem_map, "uc_mem_map"); SYM(mem_write, "uc_mem_write");
    SYM(mem_read, "uc_mem_read"); SYM(reg_write, "uc_reg_write"); SYM(reg_read, "uc_reg_read");
    SYM(emu_start, "uc_emu_start"); SYM(emu_stop, "uc_emu_stop"); SYM(hook_add, "uc_hook_add");
#undef SYM
    if (!U.open || !U.hook_add || U.open(UC_ARCH_X86, UC_MODE_32, &U.uc) != 0)
        return -1;
    size_t h;
    /* The code region read+execute as on the host, except the page of the instruction, which
     * is rewritten every run (a write to a page without write permission makes Unicorn flush
     * its whole translation cache: ten times slower). Tests aim no data at that page. */
    uint64_t page = NATIVE_CODE_ADDR & ~0xfffull;
    if (U.mem_map(U.uc, NATIVE_MEM_ADDR, NATIVE_MEM_SIZE, UC_PROT_RW) ||
        U.mem_map(U.uc, NATIVE_CODE_LO, page - NATIVE_CODE_LO, UC_PROT_RX) ||
        U.mem_map(U.uc, page, 0x1000, UC_PROT_ALL) ||
        U.mem_map(U.uc, page + 0x1000, NATIVE_CODE_HI - page - 0x1000, UC_PROT_RX))
        return -1;
    static uint8_t cc[NATIVE_CODE_HI - NATIVE_CODE_LO];
    memset(cc, 0xcc, sizeof cc);
    U.mem_write(U.uc, NATIVE_CODE_LO, cc, sizeof cc);
    U.hook_add(U.uc, &h, UC_HOOK_INTR, (void *)hook_intr, NULL, 1, 0);
    U.hook_add(U.uc, &h, UC_HOOK_INSN_INVALID, (void *)hook_invalid, NULL, 1, 0);
    U.hook_add(U.uc, &h, UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED |
               UC_HOOK_MEM_FETCH_UNMAPPED | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT,
               (void *)hook_unmapped, NULL, 1, 0);
    if ((bits == 16 || bits == 15) && setup16())
        return -1;
    if (bits == 15) { /* leave protected mode: the segment caches stay */
        uint64_t cr0 = 0x10;
        if (U.reg_write(U.uc, R_CR0, &cr0))
            return -1;
    }
    return 0;
}

int uc_oracle_run(const uint8_t *insn, size_t len, struct native_state *st, struct native_fault *f)
{
    memset(f, 0, sizeof *f);
    f->vector = -1;
    if (len == 0 || len > 15)
        return NATIVE_EINVAL;
    if (!U.uc)
        return NATIVE_EINIT;
    /* the whole page: INT3 around the instruction, whatever a previous run wrote there */
    static uint8_t page[4096];
    unsigned at = (unsigned)(NATIVE_CODE_ADDR & 0xfff);
    memset(page, 0xcc, sizeof page);
    memcpy(page + at, insn, len);
    U.mem_write(U.uc, NATIVE_CODE_ADDR & ~0xfffull, page, sizeof page);
    U.mem_write(U.uc, NATIVE_MEM_ADDR, st->mem, NATIVE_MEM_SIZE);
    for (int i = 0; i < 8; i++) {
        uint32_t v = (uint32_t)st->gpr[i];
        U.reg_write(U.uc, g_reg[i], &v);
    }
    uint32_t fl = (uint32_t)((st->rflags & NATIVE_RFLAGS_MASK & ~(uint64_t)0x40000) | 2);
    U.reg_write(U.uc, R_EFLAGS, &fl);
    uint32_t eip = (uint32_t)NATIVE_CODE_ADDR;
    U.reg_write(U.uc, R_EIP, &eip);
    h_vector = -1;
    h_unmapped = 0;
    h_addr = 0;
    /* until: the byte after the instruction (a fall-through); at most 10^6 instructions (a
     * branch to itself; a timeout would start a timer thread per run, 10 times slower) */
    int err = U.emu_start(U.uc, NATIVE_CODE_ADDR, NATIVE_CODE_ADDR + len, 0, 1000000);
    uint32_t out[8], ofl = 0, oeip = 0;
    for (int i = 0; i < 8; i++)
        U.reg_read(U.uc, g_reg[i], &out[i]);
    U.reg_read(U.uc, R_EFLAGS, &ofl);
    U.reg_read(U.uc, R_EIP, &oeip);
    U.mem_read(U.uc, NATIVE_MEM_ADDR, st->mem, NATIVE_MEM_SIZE);
    for (int i = 0; i < 8; i++)
        st->gpr[i] = (st->gpr[i] & ~0xffffffffull) | out[i];
    st->rflags = (ofl & NATIVE_RFLAGS_MASK) | 2;
    st->rip = oeip;
    if (h_vector == 3 && !(oeip - 1 >= NATIVE_CODE_ADDR && oeip - 1 < NATIVE_CODE_ADDR + len)) {
        st->rip = oeip - 1; /* a branch landed on an INT3 of the region */
        return NATIVE_OK;
    }
    if (h_vector == 8) {
        /* Seen for IDIV's #DE now and then: QEMU escalated the exception (it has no IDT to
         * deliver through) before the hook saw the original. Not a reference: skipped. */
        f->vector = -1;
        return NATIVE_TIMEOUT;
    }
    if (h_vector >= 0) {
        f->vector = h_vector;
        f->signo = h_vector == 0 ? SIGFPE : h_vector == 6 ? SIGILL : SIGSEGV;
        f->rip = oeip;
        return NATIVE_FAULT;
    }
    if (h_unmapped == UC_MEM_FETCH_UNMAPPED &&
        !(h_addr >= NATIVE_CODE_ADDR && h_addr < NATIVE_CODE_ADDR + len)) {
        st->rip = h_addr; /* the branch completed; its target is not mapped */
        return NATIVE_OK;
    }
    if (h_unmapped) {
        f->vector = 14;
        f->signo = SIGSEGV;
        f->fault_addr = f->cr2 = h_addr;
        f->rip = oeip;
        return NATIVE_FAULT;
    }
    if (err != 0 || oeip != NATIVE_CODE_ADDR + len) {
        if (err == 0 && oeip == NATIVE_CODE_ADDR) { /* stopped by the timeout */
            f->vector = -1;
            return NATIVE_TIMEOUT;
        }
        f->vector = -1;
        f->signo = SIGSYS; /* something else: reported as an unknown fault */
        return err ? NATIVE_FAULT : NATIVE_OK;
    }
    return NATIVE_OK;
}
