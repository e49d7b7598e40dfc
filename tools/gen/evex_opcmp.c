/* SPDX-License-Identifier: MIT */
/* Development tool (not part of the library): for hex lines on stdin that both hvemu and Zydis 4.0
 * (oracle) decode, compare explicit operands: register class and number, memory displacement
 * after disp8*N, broadcast count, VSIB index, imm8. usage: evex_opcmp [64|32] < lines
 *   cc -O2 -Iinclude tools/gen/evex_opcmp.c build/libhvemu.a -lZydis -o evex_opcmp */
#include <Zydis/Zydis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "hvemu.h"
static const char *hcls(int c) {
    switch (c) { case HVEMU_REG_XMM: return "xmm"; case HVEMU_REG_YMM: return "ymm"; case HVEMU_REG_ZMM: return "zmm";
    case HVEMU_REG_K: return "k"; case HVEMU_REG_GPR32: return "r32"; case HVEMU_REG_GPR64: return "r64";
    case HVEMU_REG_GPR16: return "r16"; case HVEMU_REG_GPR8: return "r8"; default: return "?"; }
}
static const char *zcls(ZydisRegister r) {
    switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_XMM: return "xmm"; case ZYDIS_REGCLASS_YMM: return "ymm"; case ZYDIS_REGCLASS_ZMM: return "zmm";
    case ZYDIS_REGCLASS_MASK: return "k"; case ZYDIS_REGCLASS_GPR32: return "r32"; case ZYDIS_REGCLASS_GPR64: return "r64";
    case ZYDIS_REGCLASS_GPR16: return "r16"; case ZYDIS_REGCLASS_GPR8: return "r8"; default: return "?"; }
}
int main(int argc, char **argv) {
    int mode = argc > 1 ? atoi(argv[1]) : 64;
    ZydisDecoder dec;
    if (mode == 64) ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    else ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    hvemu_features f = hvemu_features_no_apx();
    char line[4096]; long n = 0, bad = 0;
    while (fgets(line, sizeof line, stdin)) {
        uint8_t b[64]; size_t len = 0; char *p = line;
        while (*p && len < sizeof b) {
            while (*p && !isxdigit((unsigned char)*p)) p++;
            if (!p[0] || !p[1]) break;
            unsigned v; sscanf(p, "%2x", &v); b[len++] = (uint8_t)v; p += 2;
        }
        ZydisDecodedInstruction zi; ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
        struct hvemu_insn hi;
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, b, len, &zi, zo))) continue;
        if (hvemu_decode(b, len, mode, &f, &hi) != HVEMU_DECODE_OK) continue;
        n++;
        char msg[512] = ""; int j = 0, mism = 0;
        for (int i = 0; i < zi.operand_count; i++) {
            ZydisDecodedOperand *o = &zo[i];
            if (o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT || o->encoding == ZYDIS_OPERAND_ENCODING_MASK) continue;
            if (j >= hi.noperands) { mism = 1; strcat(msg, " missing"); break; }
            struct hvemu_operand *h = &hi.op[j++];
            char t[128] = "";
            if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
                int zidx = ZydisRegisterGetId(o->reg.value);
                if (h->kind != HVEMU_OP_REG || strcmp(hcls(h->u.reg.cls), zcls(o->reg.value)) || h->u.reg.idx != zidx)
                    snprintf(t, sizeof t, " op%d reg h=%s%d z=%s%d", j, h->kind == HVEMU_OP_REG ? hcls(h->u.reg.cls) : "nonreg", h->u.reg.idx, zcls(o->reg.value), zidx);
            } else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
                long zd = (long)o->mem.disp.value;
                if (h->kind != HVEMU_OP_MEM || h->u.mem.disp != zd)
                    snprintf(t, sizeof t, " op%d mem disp h=%ld z=%ld", j, (long)h->u.mem.disp, zd);
                else if (zi.avx.broadcast.mode && !zi.avx.broadcast.is_static &&
                         h->u.mem.bcst != (1 << (zi.avx.broadcast.mode <= 6 ? zi.avx.broadcast.mode : 0)))
                    snprintf(t, sizeof t, " op%d bcst h=%d zmode=%d", j, h->u.mem.bcst, zi.avx.broadcast.mode);
                else if (o->mem.type == ZYDIS_MEMOP_TYPE_VSIB && (strcmp(hcls(h->u.mem.index_class), zcls(o->mem.index)) || h->u.mem.index != ZydisRegisterGetId(o->mem.index)))
                    snprintf(t, sizeof t, " op%d vsib h=%s%d z=%s", j, hcls(h->u.mem.index_class), h->u.mem.index, ZydisRegisterGetString(o->mem.index));
            } else if (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
                if (h->kind != HVEMU_OP_IMM || (h->u.imm.imm & 0xff) != (o->imm.value.u & 0xff))
                    snprintf(t, sizeof t, " op%d imm", j);
            }
            if (*t) { mism = 1; strcat(msg, t); }
        }
        if (!mism && j != hi.noperands) { mism = 1; strcat(msg, " extra"); }
        if (mism) { bad++; line[strcspn(line, "\n")] = 0; printf("%s %s%s\n", line, ZydisMnemonicGetString(zi.mnemonic), msg); }
    }
    fprintf(stderr, "compared %ld, operand mismatches %ld\n", n, bad);
    return 0;
}
