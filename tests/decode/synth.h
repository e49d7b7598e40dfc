/* SPDX-License-Identifier: MIT */
/*
 * Test helper: build an instruction encoding for a given opcode-table entry, straight from the
 * generated tables (tables.gen.h), so tests can walk every entry without a hand-written list.
 *
 * The entry's match key (mask/value over ModRM.reg/mod/rm, mandatory prefix, W, L, mode, ND,
 * NF, REX2, EVEX.b, operand size 16, vvvv = 0, +r register 0, 67 prefix) says which fields are
 * fixed; the others get values that keep the registers of one instruction apart (ModRM.reg 1,
 * vvvv 2, ModRM.rm 3, SIB index 5), the vector length 128 (so AVX512VL matters), memory at
 * [rax]. A few variants per entry cover the entries those choices do not fit.
 */
#ifndef HVEMU_TEST_SYNTH_H
#define HVEMU_TEST_SYNTH_H

#include "hvemu.h"
#include "tables.gen.h"

#include <string.h>

#define SYNTH_VARIANTS 6

struct synth_slot {
    unsigned space, map, opcode; /* where the entry lives */
};

/* For every entry index, its slot (entries are laid out slot by slot). Fills `where` (sized
 * for every entry) and answers the number of entries. */
static unsigned synth_slots(struct synth_slot *where, unsigned cap)
{
    unsigned n = 0;
    for (unsigned sp = 0; sp < 3; sp++)
        for (unsigned mp = 0; mp < 8; mp++)
            for (unsigned op = 0; op < 256; op++) {
                const struct hv_slot *s = &hv_slots[sp][mp][op];
                for (unsigned i = 0; i < s->count; i++) {
                    unsigned idx = s->first + i;
                    if (idx < cap) {
                        where[idx].space = sp;
                        where[idx].map = mp;
                        where[idx].opcode = op;
                    }
                    if (idx + 1 > n)
                        n = idx + 1;
                }
            }
    return n;
}

/* the key field `name` of entry e: -1 when the entry does not test it */
static int synth_field(const struct hv_entry *e, unsigned shift, unsigned width)
{
    uint32_t m = ((1u << width) - 1) << shift;
    if ((e->mask & m) != m)
        return -1;
    return (int)((e->val >> shift) & ((1u << width) - 1));
}
#define SF(e, NAME, width) synth_field((e), HV_KEY_##NAME##_SHIFT, (width))

static int synth_has_loc(const struct hv_entry *e, unsigned loc)
{
    for (unsigned i = 0; i < e->nops; i++)
        if (hv_opspecs[e->ops[i]].loc == loc)
            return 1;
    return 0;
}

/* Encode entry e (at slot w) as variant v into out[15] (the tail is zero: displacement and
 * immediates). Answers the mode to decode in (64 or 32), or 0 when the entry's conditions
 * cannot be met this way (e.g. osz16=0 with p=66 outside 64-bit mode). */
static int synth_encode(const struct hv_entry *e, struct synth_slot w, unsigned v, uint8_t out[15])
{
    int reg = SF(e, REG, 3), modr = SF(e, MODR, 1), rm = SF(e, RM, 3), p = SF(e, P, 2);
    int wb = SF(e, W, 1), l = SF(e, L, 2), m64 = SF(e, M64, 1), nd = SF(e, ND, 1);
    int nf = SF(e, NF, 1), rex2 = SF(e, REX2, 1), bb = SF(e, B, 1), osz16 = SF(e, OSZ16, 1);
    int vv0 = SF(e, VVVV0, 1), zreg0 = SF(e, ZREG0, 1), asz67 = SF(e, ASZ67, 1);
    int mode64 = m64 != 0;
    unsigned n = 0;
    memset(out, 0, 15);
    /* the +r register: the opcode's low bits (no REX.B here) */
    if (zreg0 >= 0 && zreg0 != ((w.opcode & 7) == 0))
        return 0;
    unsigned sib_needed = synth_has_loc(e, HV_LOC_VSIB) || synth_has_loc(e, HV_LOC_SIBMEM);
    unsigned r = reg >= 0 ? (unsigned)reg : (v & 1) ? 0 : 1;
    unsigned mod = modr == 1 ? 3 : modr == 0 ? 0 : (v & 2) ? 0 : 3;
    unsigned rmv = rm >= 0 ? (unsigned)rm : mod == 3 ? ((v & 1) ? 0 : 3) : (sib_needed || (v & 4)) ? 4 : 0;
    unsigned vvvv = vv0 == 1 ? 0 : vv0 == 0 ? 2 : (e->attrs & HV_ATTR_NOVVVV) ? 0 : (v & 1) ? 0 : 2;
    unsigned W = wb == 1;
    unsigned L = l >= 0 ? (unsigned)l : 0;
    unsigned pp = p >= 0 ? (unsigned)p : 0;
    if (bb == 1 && mod == 3 && l < 0)
        L = 0; /* EVEX.b in a register form: L'L is rounding control, any value */
    if (asz67 == 1)
        out[n++] = 0x67;
    if (w.space == 0) {
        int has66 = pp == 1 || osz16 == 1;
        if (osz16 == 1 && W)
            return 0;
        if (osz16 == 0 && has66) {
            if (!mode64 || wb == 0)
                return 0;
            W = 1; /* 66 with REX.W: not a 16-bit operand size */
        }
        if (has66)
            out[n++] = 0x66;
        if (pp == 2)
            out[n++] = 0xf3;
        if (pp == 3)
            out[n++] = 0xf2;
        if (rex2 == 1) {
            if (!mode64 || w.map > 1)
                return 0;
            out[n++] = 0xd5;
            out[n++] = (uint8_t)((w.map << 7) | (W << 3));
        } else {
            if (W) {
                if (!mode64)
                    return 0;
                out[n++] = 0x48;
            }
            if (w.map >= 1)
                out[n++] = 0x0f;
            if (w.map == 2)
                out[n++] = 0x38;
            if (w.map == 3)
                out[n++] = 0x3a;
        }
        out[n++] = (uint8_t)w.opcode;
    } else if (w.space == 1) {
        out[n++] = 0xc4;
        out[n++] = (uint8_t)(0xe0 | w.map);
        out[n++] = (uint8_t)((W << 7) | ((~vvvv & 15) << 3) | ((L & 1) << 2) | pp);
        out[n++] = (uint8_t)w.opcode;
    } else {
        unsigned aaa = (e->attrs & HV_ATTR_NOK0) ? 1 : 0;
        unsigned p2;
        if (w.map == 4)
            p2 = ((nd == 1) << 4) | 0x08 | ((nf == 1) << 2);
        else
            p2 = (L << 5) | ((bb == 1) << 4) | 0x08 | aaa | ((nf == 1) << 2);
        out[n++] = 0x62;
        out[n++] = (uint8_t)(0xf0 | w.map);
        out[n++] = (uint8_t)((W << 7) | ((~vvvv & 15) << 3) | 0x04 | pp);
        out[n++] = (uint8_t)p2;
        out[n++] = (uint8_t)w.opcode;
    }
    if (hv_slots[w.space][w.map][w.opcode].has_modrm) {
        out[n++] = (uint8_t)((mod << 6) | (r << 3) | rmv);
        if (mod != 3 && rmv == 4)
            out[n++] = (uint8_t)(sib_needed ? 0x28 : 0x20); /* [rax + index 5] / [rax] */
    }
    (void)n;
    return mode64 ? 64 : 32;
}

#endif
