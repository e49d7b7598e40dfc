/* SPDX-License-Identifier: MIT */
/*
 * Development tool (not part of the library): asks a reference decoder (Zydis 4.0, used as an
 * oracle only) which EVEX encodings of maps 0f/0f38/0f3a/5/6 are valid and what their explicit
 * operands are, and prints one fact line per (map, opcode, pp, W, L'L, register/memory form,
 * ModRM.reg). tools/gen/evex_table.py turns the facts into src/decode/opcodes/evex.txt.
 *
 *   cc -O2 tools/gen/evex_facts.c -lZydis -o evex_facts
 *   ./evex_facts 64 > facts64.txt; ./evex_facts 32 > facts32.txt
 *
 * Per valid form it also tests: opmask (aaa=1), zeroing (z=1), k0 (aaa=0), EVEX.b (broadcast
 * element size in memory forms, rounding vs SAE in register forms, and at which L'L), a
 * non-1111 vvvv and V'=0, and it prints the form's ISA set (meta.isa_set, e.g. AVX512BW_128).
 */
#include <Zydis/Zydis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static ZydisDecoder dec;
static int dq(const unsigned char *b, ZydisDecodedInstruction *zi, ZydisDecodedOperand *ops) {
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, b, 15, zi, ops));
}
static int build(unsigned char *b, int map, int op, int pp, int w, int vvvv, int z, int l, int bb, int vp, int aaa, int mem, int reg) {
    int n = 0;
    b[n++] = 0x62; b[n++] = 0xF0 | map;
    b[n++] = (w << 7) | ((~vvvv & 15) << 3) | 4 | pp;
    b[n++] = (z << 7) | (l << 5) | (bb << 4) | ((!vp) << 3) | aaa;
    b[n++] = op;
    if (mem) { b[n++] = 0x44 | (reg << 3); b[n++] = 0x8A; b[n++] = 0x10; }
    else b[n++] = 0xC0 | (reg << 3) | 2;
    for (int i = 0; i < 6; i++) b[n++] = 0x11;
    return n;
}
int main(int argc, char **argv) {
    if (argc > 1 && atoi(argv[1]) == 32)
        ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    else
        ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    int maps[] = {1, 2, 3, 5, 6};
    unsigned char b[32];
    ZydisDecodedInstruction zi, z2;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT], o2[ZYDIS_MAX_OPERAND_COUNT];
    for (int mi = 0; mi < 5; mi++) for (int op = 0; op < 256; op++) for (int pp = 0; pp < 4; pp++)
    for (int w = 0; w < 2; w++) for (int l = 0; l < 4; l++) for (int mem = 0; mem < 2; mem++) for (int reg = 0; reg < 8; reg++) {
        int map = maps[mi];
        int aaa = 0, nok0 = 0;
        build(b, map, op, pp, w, 0, 0, l, 0, 0, 0, mem, reg);
        if (!dq(b, &zi, ops)) {
            build(b, map, op, pp, w, 0, 0, l, 0, 0, 1, mem, reg);
            if (!dq(b, &zi, ops)) continue;
            aaa = 1; nok0 = 1;
        }
        printf("%d %02x %d %d %d %d %d | %s | %d |", map, op, pp, w, l, mem, reg,
               ZydisMnemonicGetString(zi.mnemonic), zi.length);
        for (int i = 0; i < zi.operand_count; i++) {
            ZydisDecodedOperand *o = &ops[i];
            if (o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) continue;
            if (o->encoding == ZYDIS_OPERAND_ENCODING_MASK) continue;
            printf(" %d:%d:", o->type, o->encoding);
            if (o->type == ZYDIS_OPERAND_TYPE_REGISTER)
                printf("%s", ZydisRegisterGetString(o->reg.value));
            else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
                printf("m%d%s", o->mem.type, o->mem.type==ZYDIS_MEMOP_TYPE_VSIB ? ZydisRegisterGetString(o->mem.index) : "");
            else printf("i");
            printf(":%d:%d:%d", o->size, o->element_size, o->actions);
        }
        int fm = 0, fz = 0, fb = 0, fv = 0, fvp = 0, bel = 0, er = 0;
        build(b, map, op, pp, w, 0, 0, l, 0, 0, 1, mem, reg); fm = dq(b, &z2, o2);
        build(b, map, op, pp, w, 0, 1, l, 0, 0, 1, mem, reg); fz = dq(b, &z2, o2);
        build(b, map, op, pp, w, 0, 0, l, 1, 0, aaa, mem, reg); fb = dq(b, &z2, o2);
        if (fb) {
            er = z2.avx.rounding.mode != ZYDIS_ROUNDING_MODE_INVALID;
            for (int i = 0; i < z2.operand_count; i++) if (o2[i].type == ZYDIS_OPERAND_TYPE_MEMORY && o2[i].visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT) bel = o2[i].element_size;
            if (!mem) bel = z2.avx.has_sae ? 1 : 0;
        }
        build(b, map, op, pp, w, 15, 0, l, 0, 0, aaa, mem, reg); fv = dq(b, &z2, o2);
        build(b, map, op, pp, w, 0, 0, l, 0, 1, aaa, mem, reg); fvp = dq(b, &z2, o2);
        int bl = 0;
        if (!mem) for (int ll = 0; ll < 4; ll++) { build(b, map, op, pp, w, 0, 0, ll, 1, 0, aaa, mem, reg); bl |= dq(b, &z2, o2) << ll; }
        /* the ISA set of the plain form (EVEX.b=0): which CPUID features it needs, and whether
         * its vector length needs AVX512VL (sets ending _128/_256) */
        build(b, map, op, pp, w, 0, 0, l, 0, 0, aaa, mem, reg); dq(b, &z2, o2);
        printf(" | bl%d m%d z%d k0%d b%d er%d bel%d vv%d vp%d | %s\n", bl, fm, fz, !nok0, fb, er, bel, fv, fvp,
               ZydisISASetGetString(z2.meta.isa_set));
    }
    return 0;
}
