/* SPDX-License-Identifier: MIT */
/*
 * A program for `hvemu trace` tests: it maps a region (at a fixed address, or a file) and
 * makes known accesses to it, checking the results as any program would. Run under the
 * tracer its accesses are emulated and logged; it must behave exactly as without it.
 *   trace_target window        map 8 KiB at 0x7e5500000000
 *   trace_target file PATH     map PATH (created, 4 KiB) shared, then read it back with read()
 *   trace_target simd          map the window and move data with SSE, AVX and AVX-512
 *                              (what the host has): the vector registers the emulated moves
 *                              write must reach the program, masked stores only their elements
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

/* SIMD moves to and from the region; the data goes through vector registers only, so the
 * emulator's vector writes must come back in the signal frame. */
static int simd_accesses(volatile uint8_t *p)
{
    int bad = 0;
    uint8_t in[64], out[64];
    for (unsigned i = 0; i < 64; i++)
        in[i] = (uint8_t)(i * 7 + 1);
    memset(out, 0, sizeof out);
    /* MOVDQU store and load, MOVUPS load of the same bytes */
    __asm__ volatile("movdqu (%1), %%xmm0\n\tmovdqu %%xmm0, 0x20(%0)\n\t"
                     "movdqu 0x20(%0), %%xmm1\n\tmovdqu %%xmm1, (%2)"
                     : : "r"(p), "r"(in), "r"(out) : "xmm0", "xmm1", "memory");
    bad |= memcmp(in, out, 16) != 0;
    /* MOVD store, MOVD load (zero-extends in the register), MOVQ load */
    uint32_t v = 0;
    uint64_t q = 0;
    __asm__ volatile("movl $0xcafe1234, %%eax\n\tmovd %%eax, %%xmm2\n\tmovd %%xmm2, 0x40(%2)\n\t"
                     "movd 0x40(%2), %%xmm3\n\tmovd %%xmm3, %0\n\tmovq 0x20(%2), %%xmm4\n\t"
                     "movq %%xmm4, %1"
                     : "=r"(v), "=r"(q) : "r"(p) : "eax", "xmm2", "xmm3", "xmm4", "memory");
    uint64_t q0;
    memcpy(&q0, in, 8);
    bad |= v != 0xcafe1234 || q != q0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx")) {
        memset(out, 0, sizeof out);
        __asm__ volatile("vmovdqu (%1), %%ymm0\n\tvmovdqu %%ymm0, 0x60(%0)\n\t"
                         "vmovdqu 0x60(%0), %%ymm1\n\tvmovdqu %%ymm1, (%2)\n\tvzeroupper"
                         : : "r"(p), "r"(in), "r"(out) : "xmm0", "xmm1", "memory");
        bad |= memcmp(in, out, 32) != 0;
    }
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        /* k1 = 0x0f0f: a masked store writes dwords 0-3 and 8-11 of 16, nothing else */
        memset(out, 0xee, sizeof out);
        __asm__ volatile("movl $0x0f0f, %%eax\n\tkmovw %%eax, %%k1\n\t"
                         "vmovdqu32 (%1), %%zmm0\n\tvmovdqu32 %%zmm0, 0x100(%0)%{%%k1%}\n\t"
                         "vmovdqu32 0x100(%0), %%zmm1%{%%k1%}%{z%}\n\tvmovdqu32 %%zmm1, (%2)\n\t"
                         "vzeroupper"
                         : : "r"(p), "r"(in), "r"(out) : "eax", "xmm0", "xmm1", "memory");
        for (unsigned i = 0; i < 64; i++) {
            int sel = (i / 16) % 2 == 0;
            bad |= p[0x100 + i] != (sel ? in[i] : 0);
            bad |= out[i] != (sel ? in[i] : 0);
        }
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "simd") == 0) {
        volatile uint8_t *p = mmap(FIXED, 8192, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED || p != FIXED) {
            perror("mmap");
            return 2;
        }
        int bad = simd_accesses(p);
        printf("trace_target simd: %s\n", bad ? "WRONG RESULTS" : "ok");
        return bad;
    }
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
    fprintf(stderr, "usage: trace_target window | file PATH | simd\n");
    return 2;
}
