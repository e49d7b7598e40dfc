/* SPDX-License-Identifier: MIT */
/* A minimal check macro set for the unit tests: count, report, exit status. */
#ifndef HVEMU_TESTLIB_H
#define HVEMU_TESTLIB_H
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;
#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (cond) {                                                                             \
            t_pass++;                                                                           \
        } else {                                                                                \
            t_fail++;                                                                           \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
            printf(__VA_ARGS__);                                                                \
            printf("\n");                                                                       \
        }                                                                                       \
    } while (0)
/* Instruction bytes from hex text ("4801d8"), at most `max`; returns how many. */
static inline size_t hex_bytes(const char *hex, unsigned char *b, size_t max)
{
    size_t n = strlen(hex) / 2;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    return n;
}

#define TEST_DONE()                                                                             \
    do {                                                                                        \
        printf("summary: %d checks passed, %d failed\n", t_pass, t_fail);                      \
        return t_fail ? 1 : 0;                                                                  \
    } while (0)
#endif
