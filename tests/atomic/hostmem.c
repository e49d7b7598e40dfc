/* SPDX-License-Identifier: MIT */
/* The hostmem backend: RAM regions (every size, aligned and not, compare-exchange success and
 * failure), #PF error codes, read-only and no-execute regions, accesses across regions, device
 * ranges behind the embedder's callbacks, and whole emulations on top of it. */
#include "testlib.h"
#include "hvemu.h"

#include <stdlib.h>

#define RAM_A 0x100000ull /* 8 KiB RAM */
#define DEV   0x102000ull /* 256-byte device right after it */
#define RAM_R 0x200000ull /* 4 KiB read-only */
#define RAM_X 0x300000ull /* 4 KiB no-execute */

static uint8_t *ram_a, *ram_r, *ram_x;

/* a device model: 256 bytes of registers under the device's own rules, with a log */
static struct {
    uint8_t regs[256];
    unsigned reads, writes, cmpxchgs, probes, fetches;
    uint64_t last_addr;
    unsigned last_size, last_kind;
} D;

static int d_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)e;
    CHECK(o == &D, "device opaque");
    D.reads++;
    D.last_addr = a, D.last_size = n, D.last_kind = k;
    memcpy(d, D.regs + (a - DEV), n);
    return HVEMU_CB_OK;
}
static int d_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)o, (void)e;
    D.writes++;
    D.last_addr = a, D.last_size = n, D.last_kind = k;
    memcpy(D.regs + (a - DEV), d, n);
    return HVEMU_CB_OK;
}
static int d_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    (void)o, (void)e;
    D.cmpxchgs++;
    D.last_addr = a, D.last_size = n;
    /* registers in host memory: the library's primitive does it atomically */
    return hvemu_host_cmpxchg(D.regs + (a - DEV), exp, des, n, 0);
}
static int d_probe(void *o, uint64_t a, unsigned n, struct hvemu_exception *e)
{
    (void)o, (void)a, (void)n, (void)e;
    D.probes++;
    return HVEMU_CB_OK;
}
static struct hvemu_ops DEV_OPS = {.read = d_read, .write = d_write, .cmpxchg = d_cmpxchg,
                                   .probe_write = d_probe};

static struct hvemu_hostmem_region REG[4];
static struct hvemu_hostmem MEM;

static void setup(void)
{
    ram_a = aligned_alloc(4096, 8192);
    ram_r = aligned_alloc(4096, 4096);
    ram_x = aligned_alloc(4096, 4096);
    for (int i = 0; i < 8192; i++)
        ram_a[i] = (uint8_t)i;
    memset(ram_r, 0x77, 4096);
    memset(ram_x, 0x90, 4096);
    REG[0] = (struct hvemu_hostmem_region){.base = RAM_A, .size = 8192, .host = ram_a};
    REG[1] = (struct hvemu_hostmem_region){.base = DEV, .size = 256, .dev = &DEV_OPS, .dev_opaque = &D};
    REG[2] = (struct hvemu_hostmem_region){.base = RAM_R, .size = 4096, .host = ram_r,
                                           .flags = HVEMU_HOSTMEM_RDONLY};
    REG[3] = (struct hvemu_hostmem_region){.base = RAM_X, .size = 4096, .host = ram_x,
                                           .flags = HVEMU_HOSTMEM_NOEXEC};
    MEM = (struct hvemu_hostmem){.regions = REG, .nregions = 4, .pf_error_code = 4};
}

static void ram_accesses(void)
{
    struct hvemu_exception e;
    const unsigned sizes[5] = {1, 2, 4, 8, 16};
    for (int i = 0; i < 5; i++) {
        unsigned n = sizes[i];
        for (unsigned off = 0; off < 64 + 16; off += (n == 1 ? 17 : n / 2 + 1)) {
            uint64_t a = RAM_A + 0x400 + off;
            uint8_t buf[16], want[16], exp[16], des[16];
            for (unsigned k = 0; k < n; k++)
                want[k] = (uint8_t)(0xc0 + k + off);
            CHECK(hvemu_hostmem_write(&MEM, a, want, n, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_OK, "write");
            CHECK(hvemu_hostmem_read(&MEM, a, buf, n, HVEMU_ACCESS_READ, &e) == HVEMU_CB_OK &&
                  !memcmp(buf, want, n) && !memcmp(ram_a + 0x400 + off, want, n), "read %u at +%u", n, off);
            /* compare-exchange: a wrong expected value gets the current one back */
            memset(exp, 0, sizeof(exp));
            memset(des, 0xee, sizeof(des));
            int aligned = (off & (n - 1)) == 0;
            int rc = hvemu_hostmem_cmpxchg(&MEM, a, exp, des, n, &e);
            if (n == 16 && !aligned) {
                CHECK(rc == HVEMU_CB_UNHANDLEABLE, "misaligned 16-byte cmpxchg refused");
                continue;
            }
            CHECK(rc == HVEMU_CB_CHANGED && !memcmp(exp, want, n), "cmpxchg %u at +%u: mismatch %d", n, off, rc);
            CHECK(hvemu_hostmem_cmpxchg(&MEM, a, exp, des, n, &e) == HVEMU_CB_OK &&
                  !memcmp(ram_a + 0x400 + off, des, n), "cmpxchg %u at +%u: match", n, off);
            /* across a cache line and refused by request */
            int crosses = ((0x400 + off) & 63) + n > 64;
            if (n > 1 && !aligned) {
                MEM.flags = HVEMU_HOSTMEM_NO_SPLIT_LOCK;
                memcpy(exp, des, n);
                rc = hvemu_hostmem_cmpxchg(&MEM, a, exp, des, n, &e);
                CHECK(crosses ? rc == HVEMU_CB_UNHANDLEABLE : rc == HVEMU_CB_OK,
                      "no split lock: %u at +%u: %d", n, off, rc);
                MEM.flags = 0;
            }
        }
    }
    uint8_t x[8] = {0};
    CHECK(hvemu_host_cmpxchg(ram_a, x, x, 3, 0) == HVEMU_CB_UNHANDLEABLE, "size 3 refused");
    /* odd sizes and large ones are copied */
    uint8_t big[64];
    memset(big, 0x3c, sizeof(big));
    CHECK(hvemu_hostmem_write(&MEM, RAM_A + 0x801, big, 64, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_OK &&
          !memcmp(ram_a + 0x801, big, 64), "64-byte write");
}

static void faults(void)
{
    struct hvemu_exception e;
    uint8_t b[16] = {0};
    unsigned got;
    memset(&e, 0, sizeof(e));
    CHECK(hvemu_hostmem_read(&MEM, 0x5000, b, 4, HVEMU_ACCESS_READ, &e) == HVEMU_CB_FAULT &&
          e.vector == HVEMU_EXC_PF && e.has_error_code && e.error_code == 4 && e.cr2 == 0x5000, "read #PF");
    CHECK(hvemu_hostmem_write(&MEM, 0x5000, b, 4, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_FAULT &&
          e.error_code == 6, "write #PF %x", e.error_code);
    CHECK(hvemu_hostmem_cmpxchg(&MEM, 0x5000, b, b, 4, &e) == HVEMU_CB_FAULT && e.error_code == 6, "cmpxchg #PF");
    CHECK(hvemu_hostmem_probe_write(&MEM, 0x5000, 4, &e) == HVEMU_CB_FAULT && e.error_code == 6, "probe #PF");
    CHECK(hvemu_hostmem_fetch(&MEM, 0x5000, b, 15, &got, &e) == HVEMU_CB_FAULT && e.error_code == 0x14 &&
          got == 0, "fetch #PF %x", e.error_code);
    CHECK(hvemu_hostmem_read(&MEM, 0x5000, b, 4, HVEMU_ACCESS_FETCH, &e) == HVEMU_CB_FAULT &&
          e.error_code == 0x14, "fetch through read #PF");
    /* the read of a read-modify-write faults as a write (the host CPU does: W=1) */
    CHECK(hvemu_hostmem_read(&MEM, 0x5000, b, 4, HVEMU_ACCESS_RMW_READ, &e) == HVEMU_CB_FAULT &&
          e.error_code == 6, "RMW read #PF %x", e.error_code);
    CHECK(hvemu_hostmem_read(&MEM, RAM_R, b, 4, HVEMU_ACCESS_RMW_READ, &e) == HVEMU_CB_FAULT &&
          e.error_code == 7, "RMW read of a read-only page #PF %x", e.error_code);
    /* read-only: reads fine, writes and compare-exchanges #PF(P|W) */
    CHECK(hvemu_hostmem_read(&MEM, RAM_R, b, 8, HVEMU_ACCESS_READ, &e) == HVEMU_CB_OK && b[0] == 0x77, "ro read");
    CHECK(hvemu_hostmem_write(&MEM, RAM_R + 8, b, 8, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_FAULT &&
          e.error_code == 7 && e.cr2 == RAM_R + 8, "ro write %x", e.error_code);
    CHECK(hvemu_hostmem_cmpxchg(&MEM, RAM_R, b, b, 8, &e) == HVEMU_CB_FAULT && e.error_code == 7, "ro cmpxchg");
    CHECK(ram_r[8] == 0x77, "ro untouched");
    /* no-execute: data fine, fetch #PF(P|I/D) */
    CHECK(hvemu_hostmem_fetch(&MEM, RAM_X, b, 15, &got, &e) == HVEMU_CB_FAULT && e.error_code == 0x15, "nx fetch");
    CHECK(hvemu_hostmem_read(&MEM, RAM_X, b, 8, HVEMU_ACCESS_READ, &e) == HVEMU_CB_OK, "nx read");
    /* a write that runs off the end of RAM: #PF at the first uncovered byte, nothing written */
    memset(ram_r, 0x77, 16);
    uint8_t w[8];
    memset(w, 0x11, 8);
    CHECK(hvemu_hostmem_write(&MEM, RAM_R + 4096 - 4, w, 8, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_FAULT, "ro+gap");
    ram_x[4092] = 0;
    REG[3].flags = 0;
    CHECK(hvemu_hostmem_write(&MEM, RAM_X + 4096 - 4, w, 8, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_FAULT &&
          e.cr2 == RAM_X + 4096 && e.error_code == 6 && ram_x[4092] == 0, "write off the end: nothing written");
    uint8_t c8[8] = {0};
    CHECK(hvemu_hostmem_cmpxchg(&MEM, RAM_X + 4096 - 4, c8, c8, 8, &e) == HVEMU_CB_FAULT &&
          e.cr2 == RAM_X + 4096, "cmpxchg off the end: #PF at the gap");
    REG[3].flags = HVEMU_HOSTMEM_NOEXEC;
    /* fetch stops at the region's end */
    CHECK(hvemu_hostmem_fetch(&MEM, RAM_A + 8192 - 5, b, 15, &got, &e) == HVEMU_CB_OK && got == 5, "fetch to the end: %u", got);
}

static void devices(void)
{
    struct hvemu_exception e;
    uint8_t b[16];
    for (int i = 0; i < 256; i++)
        D.regs[i] = (uint8_t)(0x80 + i);
    /* a read across RAM and the device: both parts, the device sees its own address */
    CHECK(hvemu_hostmem_read(&MEM, DEV - 4, b, 8, HVEMU_ACCESS_READ, &e) == HVEMU_CB_OK &&
          !memcmp(b, ram_a + 8192 - 4, 4) && !memcmp(b + 4, D.regs, 4) && D.last_addr == DEV &&
          D.last_size == 4, "read across RAM and device");
    /* a write across them: probed whole first (the device's probe_write is asked) */
    unsigned p0 = D.probes;
    memset(b, 0x42, 8);
    CHECK(hvemu_hostmem_write(&MEM, DEV - 4, b, 8, HVEMU_ACCESS_WRITE, &e) == HVEMU_CB_OK &&
          D.probes == p0 + 1 && D.regs[0] == 0x42 && ram_a[8191] == 0x42, "write across RAM and device");
    /* compare-exchange: routed; across RAM and device: refused */
    uint8_t exp[8], des[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(exp, D.regs + 8, 8);
    CHECK(hvemu_hostmem_cmpxchg(&MEM, DEV + 8, exp, des, 8, &e) == HVEMU_CB_OK && !memcmp(D.regs + 8, des, 8),
          "device cmpxchg");
    CHECK(hvemu_hostmem_cmpxchg(&MEM, DEV - 4, exp, des, 8, &e) == HVEMU_CB_UNHANDLEABLE, "cmpxchg across regions");
    DEV_OPS.cmpxchg = 0;
    CHECK(hvemu_hostmem_cmpxchg(&MEM, DEV + 8, exp, des, 8, &e) == HVEMU_CB_UNHANDLEABLE, "device without cmpxchg");
    DEV_OPS.cmpxchg = d_cmpxchg;
}

static void emulations(void)
{
    struct hvemu_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.cpuid = (int (*)(void *, uint32_t, uint32_t, uint32_t *))0x1; /* must survive */
    hvemu_hostmem_ops(&ops);
    CHECK(ops.read == hvemu_hostmem_read && ops.write == hvemu_hostmem_write &&
          ops.cmpxchg == hvemu_hostmem_cmpxchg && ops.probe_write == hvemu_hostmem_probe_write &&
          ops.fetch == hvemu_hostmem_fetch && ops.cpuid == (void *)0x1, "hvemu_hostmem_ops");
    ops.cpuid = 0;

    static struct hvemu_state s;
    static struct hvemu_ctx c;
    memset(&s, 0, sizeof(s));
    s.valid = HVEMU_PART_ALL;
    s.cr0 = 0x80000011;
    s.efer = 0x500;
    s.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0x9b;
    s.rflags = 2;
    hvemu_init(&c, &ops, &MEM, &s);
    struct hvemu_result r;

    /* code fetched from RAM: lock cmpxchg16b [rdi] on RAM, then lock add [rsi] on the device */
    static const uint8_t code[] = {0xf0, 0x48, 0x0f, 0xc7, 0x0f, 0xf0, 0x48, 0x01, 0x06,
                                   0x48, 0x01, 0x06, 0x48, 0x8b, 0x06};
    memcpy(ram_a + 0x1000, code, sizeof(code));
    s.rip = RAM_A + 0x1000;
    s.gpr[HVEMU_RDI] = RAM_A + 0x200;
    memcpy(&s.gpr[HVEMU_RAX], ram_a + 0x200, 8);
    memcpy(&s.gpr[HVEMU_RDX], ram_a + 0x208, 8);
    s.gpr[HVEMU_RBX] = 0x1111111111111111ull;
    s.gpr[HVEMU_RCX] = 0x2222222222222222ull;
    CHECK(hvemu_emulate(&c, &r) == HVEMU_OK && (s.rflags & HVEMU_FLAG_ZF) &&
          !memcmp(ram_a + 0x200, &s.gpr[HVEMU_RBX], 8) && !memcmp(ram_a + 0x208, &s.gpr[HVEMU_RCX], 8),
          "lock cmpxchg16b on hostmem RAM: %d %s", r.status, r.reason ? r.reason : "");
    s.gpr[HVEMU_RSI] = DEV + 0x20;
    s.gpr[HVEMU_RAX] = 5;
    uint64_t v0;
    memcpy(&v0, D.regs + 0x20, 8);
    unsigned r0 = D.reads, w0 = D.writes, x0 = D.cmpxchgs;
    CHECK(hvemu_emulate(&c, &r) == HVEMU_OK && D.reads == r0 + 1 && D.last_kind == HVEMU_ACCESS_RMW_READ &&
          D.cmpxchgs == x0 + 1 && D.writes == w0, "lock add on the device: read + cmpxchg, no write");
    r0 = D.reads, w0 = D.writes, x0 = D.cmpxchgs;
    CHECK(hvemu_emulate(&c, &r) == HVEMU_OK && D.reads == r0 + 1 && D.writes == w0 + 1 &&
          D.last_kind == HVEMU_ACCESS_RMW_WRITE && D.cmpxchgs == x0, "add on the device: read + write");
    uint64_t v1;
    memcpy(&v1, D.regs + 0x20, 8);
    CHECK(v1 == v0 + 10, "device register %llx", (unsigned long long)v1);
    CHECK(hvemu_emulate(&c, &r) == HVEMU_OK && s.gpr[HVEMU_RAX] == v1 && s.rip == RAM_A + 0x1000 + sizeof(code),
          "mov from the device");
    /* a fault from hostmem reaches the guest as #PF with the error code */
    s.gpr[HVEMU_RSI] = 0x7000;
    s.rip = RAM_A + 0x1000 + 5;
    CHECK(hvemu_emulate(&c, &r) == HVEMU_EXCEPTION && r.exc.vector == HVEMU_EXC_PF &&
          r.exc.error_code == 6 && r.exc.cr2 == 0x7000, "#PF through hvemu: %x", r.exc.error_code);
}

int main(void)
{
    setup();
    ram_accesses();
    faults();
    devices();
    emulations();
    TEST_DONE();
}
