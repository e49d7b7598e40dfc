/* SPDX-License-Identifier: MIT */
/*
 * A program for `hvemu trace` tests: it maps a region (at a fixed address, or a file) and
 * makes known accesses to it, checking the results as any program would. Run under the
 * tracer its accesses are emulated and logged; it must behave exactly as without it.
 *   trace_target window        map 8 KiB at 0x7e5500000000
 *   trace_target file PATH     map PATH (created, 4 KiB) shared, then read it back with read()
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FIXED ((void *)0x7e5500000000ull)

static int accesses(volatile uint8_t *p)
{
    int bad = 0;
    uint32_t v;
    __asm__ volatile("movl $0x12345678, 0x10(%0)" : : "r"(p) : "memory");
    __asm__ volatile("movl 0x10(%1), %0" : "=r"(v) : "r"(p) : "memory");
    bad |= v != 0x12345678;
    __asm__ volatile("lock addl $1, 0x10(%0)" : : "r"(p) : "memory", "cc");
    uint32_t x = 0xabcd;
    __asm__ volatile("xchgl %0, 0x10(%1)" : "+r"(x) : "r"(p) : "memory");
    bad |= x != 0x12345679;
    __asm__ volatile("movzbl 0x10(%1), %0" : "=r"(v) : "r"(p) : "memory");
    bad |= v != 0xcd;
    uint64_t di = (uint64_t)(uintptr_t)(p + 0x100), c = 4;
    __asm__ volatile("rep stosb" : "+D"(di), "+c"(c) : "a"(0x77) : "memory");
    bad |= p[0x100] != 0x77 || p[0x103] != 0x77 || p[0x104] != 0;
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "window") == 0) {
        volatile uint8_t *p = mmap(FIXED, 8192, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED || p != FIXED) {
            perror("mmap");
            return 2;
        }
        int bad = accesses(p);
        printf("trace_target window: %s\n", bad ? "WRONG RESULTS" : "ok");
        return bad;
    }
    if (argc >= 3 && strcmp(argv[1], "file") == 0) {
        int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate(fd, 4096) != 0) {
            perror(argv[2]);
            return 2;
        }
        volatile uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            perror("mmap");
            return 2;
        }
        int bad = accesses(p);
        munmap((void *)p, 4096);
        uint32_t v = 0;
        if (pread(fd, &v, 4, 0x10) != 4 || v != 0xabcd)
            bad = 1;
        close(fd);
        printf("trace_target file: %s\n", bad ? "WRONG RESULTS" : "ok");
        return bad;
    }
    fprintf(stderr, "usage: trace_target window | file PATH\n");
    return 2;
}
