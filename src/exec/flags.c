/* SPDX-License-Identifier: MIT */
/* Arithmetic flag computation shared by the instruction families. Each function returns the
 * six arithmetic flags (CF PF AF ZF SF OF) as RFLAGS bits. */
#include "exec.h"

static uint64_t parity(uint64_t r)
{
    /* PF is set when the low byte has an even number of 1 bits */
    return (popcount64(r & 0xff) & 1) ? 0 : HVEMU_FLAG_PF;
}

uint64_t flags_szp(uint64_t r, unsigned size)
{
    uint64_t f = parity(r);
    r &= size_mask(size);
    if (!r)
        f |= HVEMU_FLAG_ZF;
    if (r & sign_bit(size))
        f |= HVEMU_FLAG_SF;
    return f;
}

uint64_t flags_add(uint64_t a, uint64_t b, uint64_t carry, unsigned size, uint64_t *res)
{
    uint64_t m = size_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a + b + carry) & m;
    uint64_t f = flags_szp(r, size);
    /* carry out of the top bit: unsigned overflow, including the carry-in */
    if (r < a || (carry && r == a))
        f |= HVEMU_FLAG_CF;
    if ((a ^ r) & (b ^ r) & sign_bit(size))
        f |= HVEMU_FLAG_OF;
    if ((a ^ b ^ r) & 0x10)
        f |= HVEMU_FLAG_AF;
    *res = r;
    return f;
}

uint64_t flags_sub(uint64_t a, uint64_t b, uint64_t borrow, unsigned size, uint64_t *res)
{
    uint64_t m = size_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a - b - borrow) & m;
    uint64_t f = flags_szp(r, size);
    if (a < b || (borrow && a == b))
        f |= HVEMU_FLAG_CF;
    if ((a ^ b) & (a ^ r) & sign_bit(size))
        f |= HVEMU_FLAG_OF;
    if ((a ^ b ^ r) & 0x10)
        f |= HVEMU_FLAG_AF;
    *res = r;
    return f;
}

/* AND, OR, XOR, TEST: CF and OF cleared, AF cleared (the SDM leaves AF undefined; hardware
 * clears it on the CPUs we test, and the differential harness masks it). */
uint64_t flags_logic(uint64_t r, unsigned size)
{
    return flags_szp(r, size);
}
