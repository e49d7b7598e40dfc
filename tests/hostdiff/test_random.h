/* SPDX-License-Identifier: MIT */
/* Random states for the host-differential tests: a splitmix64 generator (seeded by --seed) and
 * the edge values random tests rarely hit on their own. A test may define RNG_DEFAULT_SEED
 * before including this to keep its own default sequence. */
#ifndef HVEMU_HOSTDIFF_TEST_RANDOM_H
#define HVEMU_HOSTDIFF_TEST_RANDOM_H
#include <stdint.h>

#ifndef RNG_DEFAULT_SEED
#define RNG_DEFAULT_SEED 0x9E3779B97F4A7C15ull
#endif

static uint64_t rng_state = RNG_DEFAULT_SEED;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t edge_value(void)
{
    static const uint64_t edges[] = {
        0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
        0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, ~0ull - 1, 0x100000000ull, 31, 32,
        63, 64, 8, 16, 0x8000000080008080ull,
    };
    switch (rnd() % 4) {
    case 0: return edges[rnd() % (sizeof edges / sizeof edges[0])];
    case 1: return rnd() & 0xff;
    default: return rnd();
    }
}
#endif
