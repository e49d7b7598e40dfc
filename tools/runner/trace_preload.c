/* SPDX-License-Identifier: MIT */
/*
 * libhvemu-trace.so: an LD_PRELOAD shim that traps regions of a program and logs every access
 * to them, one line each, like Linux's mmiotrace. `hvemu trace` sets it up; by hand:
 *
 *   HVEMU_TRACE_WINDOW=ADDR:LEN[,ADDR:LEN...]  trap these address ranges (page-aligned
 *       outward): those already mapped when the program starts, and any later mmap() that
 *       lands on them
 *   HVEMU_TRACE_FILE=PATH  trap every mmap() of this file (a device node, a UIO/PCI resource
 *       file, any file)
 *   HVEMU_TRACE_FD=N       write the log to descriptor N (default 2, stderr)
 *   LD_PRELOAD=.../libhvemu-trace.so
 *
 * How: a trapped range is moved aside with mremap() (its pages, protections and file backing
 * go along: the "backing") and an inaccessible placeholder takes its place. Every access then
 * faults, the runner (runner.c) emulates it with hvemu, and this file's device model performs
 * it on the backing and logs it:
 *
 *   hvemu-trace: <kind> <size> <address> <value> rip=<rip> <instruction>
 *
 * kind is R, W (RMW-R / RMW-W for the two halves of an unlocked read-modify-write, CAS for a
 * locked one, with expected->desired and ok/changed). A write to a range the program mapped
 * without PROT_WRITE is the #PF (SIGSEGV) it would have been.
 *
 * Limits (kept simple on purpose):
 * - Only mmap() calls the program makes through the dynamic linker are seen (glibc's own
 *   internal mappings and raw system calls are not), and munmap() of a whole trapped range.
 *   mprotect() or mremap() of a trapped range are not followed.
 * - A SIGSEGV handler the program installs after start-up replaces the tracer's (a program
 *   that does so, e.g. a managed runtime, stops being traced).
 * - Instructions hvemu does not execute yet (SSE/AVX moves, x87) end the program with the
 *   reason; so does any instruction that changes segment or control registers.
 * - Each access costs a signal round trip (microseconds): fine for device registers, slow for
 *   bulk data.
 * - Code executing from a trapped range faults (the runner delivers it as SIGSEGV).
 * - Programs the traced one runs inherit the environment, and so the tracing and the log
 *   descriptor (their lines are interleaved with the parent's).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096ull
#define MAX_SPECS 16

struct trapped {
    uint8_t *backing;
    uint64_t base, len;
    int prot;
    int window;
};

static struct {
    uint64_t spec_lo[MAX_SPECS], spec_hi[MAX_SPECS];
    int nspec;
    char file[PATH_MAX];
    dev_t file_dev;
    ino_t file_ino;
    int have_file;
    int fd;
    int ready;
    struct trapped t[HVR_MAX_WINDOWS];
    uint64_t logged;
} g;

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return MAP_FAILED;
    }
    return (void *)r;
}

/* ---- the logging device: performs the access on the backing ---- */

static void put_hex(char **p, const uint8_t *v, unsigned size)
{
    static const char dig[] = "0123456789abcdef";
    char *o = *p;
    *o++ = '0';
    *o++ = 'x';
    for (unsigned i = size; i-- > 0;) { /* little endian: most significant byte first */
        *o++ = dig[v[i] >> 4];
        *o++ = dig[v[i] & 15];
    }
    *p = o;
}

static void log_access(const char *kind, uint64_t addr, unsigned size, const void *v1,
                       const void *v2, const char *tail)
{
    char line[512], *p = line;
    p += snprintf(p, 64, "hvemu-trace: %s %u 0x%llx ", kind, size, (unsigned long long)addr);
    put_hex(&p, v1, size > 64 ? 64 : size);
    if (v2) {
        *p++ = '-';
        *p++ = '>';
        put_hex(&p, v2, size > 64 ? 64 : size);
    }
    char text[128];
    uint64_t rip = hvr_current_rip();
    if (hvemu_format(hvr_current_insn(), rip, text, sizeof(text)) < 0)
        text[0] = 0;
    p += snprintf(p, (size_t)(line + sizeof(line) - p), "%s%s rip=0x%llx %s\n", tail ? " " : "",
                  tail ? tail : "", (unsigned long long)rip, text);
    ssize_t r = write(g.fd, line, (size_t)(p - line));
    (void)r;
    __atomic_fetch_add(&g.logged, 1, __ATOMIC_RELAXED);
}

static int pf(struct trapped *t, uint64_t off, unsigned err, struct hvemu_exception *exc)
{
    exc->vector = HVEMU_EXC_PF;
    exc->has_error_code = 1;
    exc->error_code = err;
    exc->cr2 = t->base + off;
    return HVEMU_CB_FAULT;
}

static const char *kind_name(enum hvemu_access k)
{
    switch (k) {
    case HVEMU_ACCESS_READ: return "R";
    case HVEMU_ACCESS_WRITE: return "W";
    case HVEMU_ACCESS_RMW_READ: return "RMW-R";
    case HVEMU_ACCESS_RMW_WRITE: return "RMW-W";
    case HVEMU_ACCESS_STACK_READ: return "STACK-R";
    case HVEMU_ACCESS_STACK_WRITE: return "STACK-W";
    default: return "SYS";
    }
}

static int tr_read(void *o, uint64_t off, void *data, unsigned size, enum hvemu_access kind,
                   struct hvemu_exception *exc)
{
    struct trapped *t = o;
    if (!(t->prot & PROT_READ))
        return pf(t, off, 5, exc);
    hvr_atomic_load(t->backing + off, data, size);
    log_access(kind_name(kind), t->base + off, size, data, NULL, NULL);
    return HVEMU_CB_OK;
}

static int tr_write(void *o, uint64_t off, const void *data, unsigned size, enum hvemu_access kind,
                    struct hvemu_exception *exc)
{
    struct trapped *t = o;
    if (!(t->prot & PROT_WRITE))
        return pf(t, off, 7, exc);
    hvr_atomic_store(t->backing + off, data, size);
    log_access(kind_name(kind), t->base + off, size, data, NULL, NULL);
    return HVEMU_CB_OK;
}

static int tr_cmpxchg(void *o, uint64_t off, void *expected, const void *desired, unsigned size,
                      struct hvemu_exception *exc)
{
    struct trapped *t = o;
    if (!(t->prot & PROT_WRITE))
        return pf(t, off, 7, exc);
    uint8_t e[16];
    memcpy(e, expected, size);
    int r = hvr_atomic_cmpxchg(t->backing + off, expected, desired, size);
    log_access("CAS", t->base + off, size, e, desired, r == HVEMU_CB_OK ? "ok" : "changed");
    return r;
}

static int tr_probe(void *o, uint64_t off, unsigned size, struct hvemu_exception *exc)
{
    (void)size;
    struct trapped *t = o;
    return (t->prot & PROT_WRITE) ? HVEMU_CB_OK : pf(t, off, 7, exc);
}

static const struct hvr_device trace_dev = {tr_read, tr_write, tr_cmpxchg, tr_probe};

/* ---- trapping a range ---- */

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) {
        ssize_t r = write(g.fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
        (void)r;
    }
}

/* Move [base, base+len) aside and leave an inaccessible placeholder; `prot` is what the
 * program asked for. */
static void trap_range(uint64_t base, uint64_t len, int prot)
{
    /* a place to move to (mremap to the same size would otherwise stay where it is) */
    void *dest = raw_mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (dest == MAP_FAILED)
        return;
    void *moved = (void *)syscall(SYS_mremap, (void *)base, len, len,
                                  MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    if ((long)moved < 0 && (long)moved > -4096) {
        syscall(SYS_munmap, dest, len);
        note("hvemu-trace: cannot trap 0x%llx+0x%llx: %s\n", (unsigned long long)base,
             (unsigned long long)len, strerror((int)-(long)moved));
        return;
    }
    void *ph = raw_mmap((void *)base, len, PROT_NONE,
                        MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ph == MAP_FAILED) {
        /* put it back: the program must not lose its memory */
        syscall(SYS_mremap, moved, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)base);
        return;
    }
    for (int i = 0; i < HVR_MAX_WINDOWS; i++) {
        struct trapped *t = &g.t[i];
        if (t->len)
            continue;
        t->backing = moved;
        t->base = base;
        t->len = len;
        t->prot = prot;
        t->window = hvr_window_add((void *)base, len, &trace_dev, t);
        if (t->window < 0)
            t->len = 0;
        else
            note("hvemu-trace: trapping 0x%llx-0x%llx (%s%s)\n", (unsigned long long)base,
                 (unsigned long long)(base + len), prot & PROT_READ ? "r" : "-",
                 prot & PROT_WRITE ? "w" : "-");
        return;
    }
}

/* The protections of a mapped range, from /proc/self/maps (-1 when not wholly mapped). */
static int mapped_prot(uint64_t lo, uint64_t hi)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    static char buf[1 << 16];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    uint64_t covered = lo;
    int prot = PROT_READ | PROT_WRITE;
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        unsigned long long a, b;
        char perms[5];
        if (sscanf(line, "%llx-%llx %4s", &a, &b, perms) != 3)
            continue;
        if (b <= covered || a > covered || a >= hi)
            continue;
        if (perms[0] != 'r')
            prot &= ~PROT_READ;
        if (perms[1] != 'w')
            prot &= ~PROT_WRITE;
        covered = b;
        if (covered >= hi)
            return prot;
    }
    return -1;
}

static void trap_specs_overlapping(uint64_t lo, uint64_t hi, int prot, int at_start)
{
    for (int i = 0; i < g.nspec; i++) {
        uint64_t a = g.spec_lo[i] > lo ? g.spec_lo[i] : lo;
        uint64_t b = g.spec_hi[i] < hi ? g.spec_hi[i] : hi;
        if (a >= b)
            continue;
        if (at_start) {
            int p = mapped_prot(a, b);
            if (p < 0) {
                note("hvemu-trace: 0x%llx-0x%llx not mapped yet: trapped when the program maps it\n",
                     (unsigned long long)a, (unsigned long long)b);
                continue;
            }
            prot = p;
        }
        trap_range(a, b - a, prot);
    }
}

/* ---- interposed calls ---- */

/* The file may not exist when the program starts (it may create it): match by inode when
 * it did, else by the path the descriptor was opened with. */
static int is_the_file(int fd)
{
    struct stat st;
    if (g.have_file && fstat(fd, &st) == 0)
        return st.st_dev == g.file_dev && st.st_ino == g.file_ino;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    return strcmp(path, g.file) == 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void *addr, size_t len);

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *r = raw_mmap(addr, len, prot, flags, fd, off);
    if (r == MAP_FAILED || !g.ready)
        return r;
    uint64_t lo = (uint64_t)(uintptr_t)r, hi = lo + ((len + PAGE - 1) & ~(PAGE - 1));
    if (g.file[0] && fd >= 0 && !(flags & MAP_ANONYMOUS) && is_the_file(fd))
        trap_range(lo, hi - lo, prot);
    else if (g.nspec)
        trap_specs_overlapping(lo, hi, prot, 0);
    return r;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
    uint64_t a = (uint64_t)(uintptr_t)addr;
    for (int i = 0; g.ready && i < HVR_MAX_WINDOWS; i++) {
        struct trapped *t = &g.t[i];
        if (t->len && t->base == a && (len + PAGE - 1) / PAGE * PAGE == t->len) {
            hvr_window_remove(t->window);
            syscall(SYS_munmap, t->backing, t->len);
            t->len = 0;
            break;
        }
    }
    return (int)syscall(SYS_munmap, addr, len);
}

/* ---- set-up ---- */

__attribute__((constructor)) static void trace_init(void)
{
    const char *fdv = getenv("HVEMU_TRACE_FD");
    g.fd = fdv ? atoi(fdv) : 2;
    if (hvr_init() != 0)
        return;
    const char *w = getenv("HVEMU_TRACE_WINDOW");
    while (w && *w && g.nspec < MAX_SPECS) {
        char *end;
        unsigned long long a = strtoull(w, &end, 0), l = 0;
        if (*end == ':')
            l = strtoull(end + 1, &end, 0);
        if (l) {
            g.spec_lo[g.nspec] = a & ~(PAGE - 1);
            g.spec_hi[g.nspec] = (a + l + PAGE - 1) & ~(PAGE - 1);
            g.nspec++;
        }
        w = strchr(end, ',') ? strchr(end, ',') + 1 : NULL;
    }
    const char *f = getenv("HVEMU_TRACE_FILE");
    struct stat st;
    if (f && *f) {
        snprintf(g.file, sizeof(g.file), "%s", f);
        if (stat(f, &st) == 0) {
            g.have_file = 1;
            g.file_dev = st.st_dev;
            g.file_ino = st.st_ino;
        }
    }
    trap_specs_overlapping(0, ~0ull, 0, 1);
    g.ready = 1;
}

__attribute__((destructor)) static void trace_fini(void)
{
    if (g.ready)
        note("hvemu-trace: %llu accesses logged\n", (unsigned long long)g.logged);
}
