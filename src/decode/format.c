/* SPDX-License-Identifier: MIT */
/*
 * hvemu_format(): Intel-syntax text of a decoded instruction, spelled the way LLVM's Intel
 * printer spells it (llvm-mc -output-asm-variant=1 --print-imm-hex), so that the text can be
 * compared with that oracle line by line. Branch targets are absolute (address + length +
 * displacement), as a disassembler listing shows them.
 *
 * Freestanding: a tiny bounded writer instead of snprintf. It counts every character it would
 * write, so the return value is the full length even when `buf` is too small.
 */
#include "decode_internal.h"

struct out {
    char *buf;
    size_t size;
    size_t len; /* characters the full text has so far */
};

static void put_c(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_s(struct out *o, const char *s)
{
    while (*s)
        put_c(o, *s++);
}

static void put_hex(struct out *o, uint64_t v)
{
    char tmp[16];
    int n = 0;
    put_s(o, "0x");
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        put_c(o, tmp[--n]);
}

/* LLVM prints signed values as -0x.. */
static void put_shex(struct out *o, int64_t v)
{
    if (v < 0) {
        put_c(o, '-');
        put_hex(o, (uint64_t)0 - (uint64_t)v);
    } else {
        put_hex(o, (uint64_t)v);
    }
}

static void put_dec(struct out *o, unsigned v)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put_c(o, tmp[--n]);
}

static int64_t sext(uint64_t v, unsigned bytes)
{
    if (bytes >= 8 || bytes == 0)
        return (int64_t)v;
    uint64_t sign = (uint64_t)1 << (8 * bytes - 1);
    v &= (sign << 1) - 1;
    return (int64_t)((v ^ sign) - sign);
}

/* Operand count, clamped: the formatter never reads past op[] whatever the struct holds. */
static unsigned nops(const struct hvemu_insn *in)
{
    return in->noperands < HVEMU_MAX_OPERANDS ? in->noperands : HVEMU_MAX_OPERANDS;
}

/* ------------------------------------------------------------------------------------------
 * Register names
 * ---------------------------------------------------------------------------------------- */

static const char *const gpr64[32] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
    "r13", "r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25",
    "r26", "r27", "r28", "r29", "r30", "r31",
};
static const char *const gpr32[32] = {
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d",
    "r13d", "r14d", "r15d", "r16d", "r17d", "r18d", "r19d", "r20d", "r21d", "r22d", "r23d",
    "r24d", "r25d", "r26d", "r27d", "r28d", "r29d", "r30d", "r31d",
};
static const char *const gpr16[32] = {
    "ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w",
    "r14w", "r15w", "r16w", "r17w", "r18w", "r19w", "r20w", "r21w", "r22w", "r23w", "r24w",
    "r25w", "r26w", "r27w", "r28w", "r29w", "r30w", "r31w",
};
static const char *const gpr8[32] = {
    "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b",
    "r13b", "r14b", "r15b", "r16b", "r17b", "r18b", "r19b", "r20b", "r21b", "r22b", "r23b",
    "r24b", "r25b", "r26b", "r27b", "r28b", "r29b", "r30b", "r31b",
};
static const char *const xmm_names[32] = {
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
    "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
    "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
    "xmm31",
};
static const char *const ymm_names[32] = {
    "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10",
    "ymm11", "ymm12", "ymm13", "ymm14", "ymm15", "ymm16", "ymm17", "ymm18", "ymm19", "ymm20",
    "ymm21", "ymm22", "ymm23", "ymm24", "ymm25", "ymm26", "ymm27", "ymm28", "ymm29", "ymm30",
    "ymm31",
};
static const char *const zmm_names[32] = {
    "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10",
    "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20",
    "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "zmm26", "zmm27", "zmm28", "zmm29", "zmm30",
    "zmm31",
};
static const char *const cr_names[16] = {
    "cr0", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6", "cr7", "cr8", "cr9", "cr10", "cr11", "cr12",
    "cr13", "cr14", "cr15",
};
static const char *const dr_names[16] = {
    "dr0", "dr1", "dr2", "dr3", "dr4", "dr5", "dr6", "dr7", "dr8", "dr9", "dr10", "dr11", "dr12",
    "dr13", "dr14", "dr15",
};
static const char *const gpr8h[4] = {"ah", "ch", "dh", "bh"};
static const char *const seg_names[8] = {"es", "cs", "ss", "ds", "fs", "gs", NULL, NULL};
static const char *const st_names[8] = {"st(0)", "st(1)", "st(2)", "st(3)",
                                        "st(4)", "st(5)", "st(6)", "st(7)"};
static const char *const mm_names[8] = {"mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7"};
static const char *const k_names[8] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
static const char *const tmm_names[8] = {"tmm0", "tmm1", "tmm2", "tmm3",
                                         "tmm4", "tmm5", "tmm6", "tmm7"};
static const char *const bnd_names[4] = {"bnd0", "bnd1", "bnd2", "bnd3"};

const char *hvemu_reg_name(enum hvemu_reg_class cls, unsigned idx)
{
    switch (cls) {
    case HVEMU_REG_GPR8: return idx < 32 ? gpr8[idx] : NULL;
    case HVEMU_REG_GPR8_HIGH: return idx < 4 ? gpr8h[idx] : NULL;
    case HVEMU_REG_GPR16: return idx < 32 ? gpr16[idx] : NULL;
    case HVEMU_REG_GPR32: return idx < 32 ? gpr32[idx] : NULL;
    case HVEMU_REG_GPR64: return idx < 32 ? gpr64[idx] : NULL;
    case HVEMU_REG_SEG: return idx < 8 ? seg_names[idx] : NULL;
    case HVEMU_REG_CR: return idx < 16 ? cr_names[idx] : NULL;
    case HVEMU_REG_DR: return idx < 16 ? dr_names[idx] : NULL;
    case HVEMU_REG_ST: return idx < 8 ? st_names[idx] : NULL;
    case HVEMU_REG_MM: return idx < 8 ? mm_names[idx] : NULL;
    case HVEMU_REG_XMM: return idx < 32 ? xmm_names[idx] : NULL;
    case HVEMU_REG_YMM: return idx < 32 ? ymm_names[idx] : NULL;
    case HVEMU_REG_ZMM: return idx < 32 ? zmm_names[idx] : NULL;
    case HVEMU_REG_K: return idx < 8 ? k_names[idx] : NULL;
    case HVEMU_REG_TMM: return idx < 8 ? tmm_names[idx] : NULL;
    case HVEMU_REG_BND: return idx < 4 ? bnd_names[idx] : NULL;
    case HVEMU_REG_RIP: return idx == 0 ? "rip" : NULL;
    default: return NULL;
    }
}

static void put_reg(struct out *o, unsigned cls, unsigned idx)
{
    const char *n;
    /* LLVM calls the implicit st(0) plain "st" */
    if (cls == HVEMU_REG_ST && idx == 0)
        n = "st";
    else
        n = hvemu_reg_name((enum hvemu_reg_class)cls, idx);
    put_s(o, n ? n : "(bad)");
}

/* ------------------------------------------------------------------------------------------
 * Mnemonics: hvemu's table names are Intel's; a few differ from LLVM's spelling.
 * ---------------------------------------------------------------------------------------- */

/* Own string helpers: the library links against nothing but memcpy/memset-class functions. */
static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* If `s` starts with `p`, the rest of `s`; else NULL. */
static const char *after_prefix(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return NULL;
    return s;
}

/* Condition-code suffixes that LLVM spells with the other Intel alias. */
static const char *const cc_alias[][2] = {
    {"nb", "ae"}, {"z", "e"}, {"nz", "ne"}, {"nbe", "a"}, {"nl", "ge"}, {"nle", "g"},
};

/* Write the mnemonic as LLVM names it; `o` gets the text. */
static void put_mnemonic(struct out *o, const struct hvemu_insn *in, const char *mn)
{
    static const char *const cc_prefixes[] = {"cfcmov", "cmov", "setzu", "set", "j"};
    for (unsigned p = 0; p < sizeof(cc_prefixes) / sizeof(cc_prefixes[0]); p++) {
        const char *rest = after_prefix(mn, cc_prefixes[p]);
        if (!rest)
            continue;
        for (unsigned i = 0; i < sizeof(cc_alias) / sizeof(cc_alias[0]); i++) {
            if (streq(rest, cc_alias[i][0])) {
                put_s(o, cc_prefixes[p]);
                put_s(o, cc_alias[i][1]);
                return;
            }
        }
        break;
    }
    if (in->map == HVEMU_MAP_0 && in->encoding <= HVEMU_ENC_REX2) {
        if (streq(mn, "fwait")) {
            put_s(o, "wait");
            return;
        }
    }
    if (in->map == HVEMU_MAP_0F && in->encoding <= HVEMU_ENC_REX2) {
        /* SYSRET/SYSEXIT to 64-bit code carry a q */
        if ((streq(mn, "sysret") || streq(mn, "sysexit")) && in->rex_w) {
            put_s(o, mn);
            put_c(o, 'q');
            return;
        }
        /* descriptor-table loads and stores: w/d suffix outside 64-bit mode */
        if ((streq(mn, "sgdt") || streq(mn, "sidt") || streq(mn, "lgdt") || streq(mn, "lidt")) &&
            in->mode != HVEMU_MODE_64) {
            put_s(o, mn);
            put_c(o, in->opsize == 2 ? 'w' : 'd');
            return;
        }
    }
    if (in->map == HVEMU_MAP_0 && in->encoding <= HVEMU_ENC_REX2) {
        if (streq(mn, "fcomip") || streq(mn, "fucomip")) {
            put_s(o, mn[1] == 'c' ? "fcompi" : "fucompi");
            return;
        }
        /* APX PPX hint: REX2.W on PUSH/POP r64 (LLVM 19 prints pushp/popp for every REX2
         * form; hvemu follows the APX specification and keys it on W) */
        if (in->encoding == HVEMU_ENC_REX2 && in->rex_w && (in->opcode & 0xf0) == 0x50) {
            put_s(o, in->opcode < 0x58 ? "pushp" : "popp");
            return;
        }
        if (streq(mn, "retf") && in->rex_w) {
            put_s(o, "retfq");
            return;
        }
        /* PUSHA/POPA: LLVM names the two sizes pushaw/pushal */
        if (streq(mn, "pusha") || streq(mn, "popa") || streq(mn, "pushad") || streq(mn, "popad")) {
            put_s(o, mn[1] == 'u' ? "pusha" : "popa");
            put_c(o, in->opsize == 2 ? 'w' : 'l');
            return;
        }
        /* Indirect far branches are plain call/jmp at 32-bit operand size, else lcall/ljmp;
         * direct far branches are always lcall/ljmp. */
        if (streq(mn, "callf") || streq(mn, "jmpf")) {
            if (in->opsize != 4)
                put_c(o, 'l');
            put_s(o, mn[0] == 'c' ? "call" : "jmp");
            return;
        }
        if ((streq(mn, "call") || streq(mn, "jmp")) && nops(in) &&
            in->op[0].kind == HVEMU_OP_FARPTR) {
            put_c(o, 'l');
            put_s(o, mn);
            return;
        }
        /* MOV with a 64-bit immediate or a 64-bit moffs is LLVM's movabs */
        if (streq(mn, "mov")) {
            int abs = 0;
            for (unsigned i = 0; i < nops(in); i++) {
                const struct hvemu_operand *op = &in->op[i];
                if (op->kind == HVEMU_OP_IMM && op->size == 8 && in->imm_size == 8)
                    abs = 1;
                if (op->kind == HVEMU_OP_MEM && !in->has_modrm && op->u.mem.addr_size == 8)
                    abs = 1;
            }
            if (abs) {
                put_s(o, "movabs");
                return;
            }
        }
    }
    /* LLVM marks the VEX forms of instructions that EVEX also encodes under the same name */
    if (in->encoding == HVEMU_ENC_VEX) {
        static const char *const vex_marked[] = {"vpdpbusd", "vpdpbusds", "vpdpwssd", "vpdpwssds",
                                                 "vpmadd52luq", "vpmadd52huq", "vcvtneps2bf16"};
        for (unsigned i = 0; i < sizeof(vex_marked) / sizeof(vex_marked[0]); i++)
            if (streq(mn, vex_marked[i]))
                put_s(o, "{vex} ");
    }
    put_s(o, mn);
}

/* ------------------------------------------------------------------------------------------
 * Operands
 * ---------------------------------------------------------------------------------------- */

static const struct hv_opspec *spec_of(const struct hvemu_insn *in, unsigned i)
{
    const struct hv_entry *e = (const struct hv_entry *)in->entry;
    if (!e || i >= e->nops)
        return NULL;
    return &hv_opspecs[e->ops[i]];
}

static const char *size_keyword(unsigned size)
{
    switch (size) {
    case 1: return "byte ptr ";
    case 2: return "word ptr ";
    case 4: return "dword ptr ";
    case 8: return "qword ptr ";
    case 10: return "tbyte ptr ";
    case 16: return "xmmword ptr ";
    case 32: return "ymmword ptr ";
    case 64: return "zmmword ptr ";
    default: return "";
    }
}

static int has_seg_operand(const struct hvemu_insn *in)
{
    for (unsigned i = 0; i < nops(in); i++)
        if (in->op[i].kind == HVEMU_OP_REG && in->op[i].u.reg.cls == HVEMU_REG_SEG)
            return 1;
    return 0;
}

/* Bytes a gather/scatter touches, as LLVM sizes its VSIB operand: as many elements as both
 * the index vector and the data register hold, of the data element size. */
static unsigned vsib_size(const struct hvemu_insn *in, const struct hvemu_mem *m, const char *mn)
{
    const char *p = mn;
    unsigned data_bytes = 0, idx_elem, data_elem;
    for (unsigned i = 0; i < nops(in); i++) {
        const struct hvemu_operand *op = &in->op[i];
        if (op->kind == HVEMU_OP_REG && op->u.reg.cls >= HVEMU_REG_XMM &&
            op->u.reg.cls <= HVEMU_REG_ZMM && op->size > data_bytes)
            data_bytes = op->size;
    }
    while (*p && !after_prefix(p, "gather") && !after_prefix(p, "scatter"))
        p++;
    if (!*p)
        return 0;
    p += p[0] == 'g' ? 6 : 7;
    if (p[0] == 'p' && p[1] == 'f' && p[2])
        p += 3; /* vgatherpf0dps and friends */
    if (*p != 'd' && *p != 'q')
        return 0;
    idx_elem = *p == 'd' ? 4 : 8;
    p++;
    data_elem = (streq(p, "pd") || streq(p, "q")) ? 8 : 4;
    unsigned idx_bytes = m->index_class == HVEMU_REG_ZMM ? 64 : m->index_class == HVEMU_REG_YMM ? 32 : 16;
    unsigned bytes = idx_bytes / idx_elem * data_elem;
    return data_bytes && data_bytes < bytes ? data_bytes : bytes;
}

/* VGATHERPF0DPS and the other gather/scatter prefetches: LLVM writes "{k1}, mem". */
static int is_pf_gather(const char *mn)
{
    return after_prefix(mn, "vgatherpf") || after_prefix(mn, "vscatterpf");
}

/* AES*KL: "aes" ... "kl" */
static int is_keylocker(const char *mn)
{
    const char *rest = after_prefix(mn, "aes");
    size_t l = 0;
    while (rest && rest[l])
        l++;
    return rest && l >= 2 && rest[l - 2] == 'k' && rest[l - 1] == 'l';
}

static void put_mem(struct out *o, const struct hvemu_insn *in, const struct hvemu_operand *op,
                    const struct hv_opspec *s, const char *mn)
{
    const struct hvemu_mem *m = &op->u.mem;
    unsigned size = op->size;
    int keyword = 1;
    if (s) {
        /* LEA's M and the far-pointer loads print no size; BOUND prints the element size */
        if (s->size == HV_SZ_NONE && s->cls == HV_CLS_MEM && s->loc == HV_LOC_RM_MEM)
            keyword = 0;
        if (s->size == HV_SZ_S)
            keyword = 0; /* SGDT/LIDT pseudo-descriptor */
        if (s->size == HV_SZ_P) {
            if (streq(mn, "bound"))
                size = in->opsize;
            else
                keyword = 0;
        }
    }
    if (is_keylocker(mn))
        keyword = 0; /* Key Locker handles (m384/m512) are opaque memory to LLVM */
    if (size == 0 && (in->attrs & HV_ATTR_VSIB))
        size = vsib_size(in, m, mn);
    /* the 64-byte AMX tile configuration prints without a size */
    if (streq(mn, "ldtilecfg") || streq(mn, "sttilecfg"))
        keyword = 0;
    if (has_seg_operand(in) && streq(mn, "mov"))
        size = 2; /* MOV to/from a segment register moves a word in memory */
    if (keyword)
        put_s(o, size_keyword(m->bcst ? op->size : size));
    if (s && s->loc == HV_LOC_STRDST) {
        put_s(o, "es:");
    } else if (in->prefixes & HVEMU_PFX_SEG) {
        /* LLVM shows the override as written, even where it has no effect */
        const char *sn = hvemu_reg_name(HVEMU_REG_SEG, in->seg_override);
        put_s(o, sn ? sn : "(bad)");
        put_c(o, ':');
    }
    put_c(o, '[');
    int any = 0;
    if (m->base_class == HVEMU_REG_RIP) {
        put_s(o, m->addr_size == 4 ? "eip" : "rip");
        any = 1;
    } else if (m->base_class != HVEMU_REG_NONE) {
        put_reg(o, m->base_class, m->base);
        any = 1;
    }
    /* The index: LLVM shows a SIB "no index" as riz/eiz whenever the SIB byte carries
     * information a plain ModRM could not (a scale, a base other than rsp/r12, or 32-bit
     * absolute addressing). */
    unsigned scale = m->scale;
    int show_index = m->index_class != HVEMU_REG_NONE;
    const char *zname = NULL;
    if (!show_index && in->has_sib && op->kind == HVEMU_OP_MEM && in->has_modrm &&
        (!s || s->loc == HV_LOC_RM || s->loc == HV_LOC_RM_MEM)) {
        unsigned ss = in->sib >> 6;
        scale = 1u << ss;
        if (m->base_class != HVEMU_REG_NONE) {
            if (ss || (m->base != HVEMU_RSP && m->base != HVEMU_R12))
                zname = m->addr_size == 4 ? "eiz" : "riz";
        } else if (m->addr_size == 4 && in->mode != HVEMU_MODE_64) {
            zname = "eiz";
        } else if (ss) {
            zname = m->addr_size == 4 ? "eiz" : "riz";
        }
    }
    if (show_index || zname) {
        if (any)
            put_s(o, " + ");
        if (scale != 1 || !any) {
            put_dec(o, scale);
            put_c(o, '*');
        }
        if (zname)
            put_s(o, zname);
        else
            put_reg(o, m->index_class, m->index);
        any = 1;
    }
    int64_t disp = m->disp;
    /* moffs prints unsigned unless it is a full 64-bit address (LLVM's movabs form) */
    int moffs = s && s->loc == HV_LOC_MOFFS;
    if (moffs && m->addr_size < 8)
        disp = (int64_t)((uint64_t)disp & (((uint64_t)1 << (8 * m->addr_size)) - 1));
    if (!any) {
        put_shex(o, disp);
    } else if (disp) {
        if (disp < 0) {
            put_s(o, " - ");
            put_hex(o, (uint64_t)0 - (uint64_t)disp);
        } else {
            put_s(o, " + ");
            put_hex(o, (uint64_t)disp);
        }
    }
    put_c(o, ']');
    if (m->bcst) {
        put_s(o, "{1to");
        put_dec(o, m->bcst);
        put_c(o, '}');
    }
}

/* Byte immediates that LLVM declares unsigned (u8imm); every other immediate of a fixed
 * size prints sign-extended from its encoded size. */
static int imm8_unsigned(const struct hvemu_insn *in, const char *mn)
{
    static const char *const u8[] = {"int", "in", "out", "rol", "ror", "rcl", "rcr", "shl",
                                     "shr", "sal", "sar", "shld", "shrd"};
    if (in->map != HVEMU_MAP_0 && in->map != HVEMU_MAP_4)
        return 1; /* SSE/AVX control bytes and the like are u8 */
    for (unsigned i = 0; i < sizeof(u8) / sizeof(u8[0]); i++)
        if (streq(mn, u8[i]))
            return 1;
    return 0;
}

/* The operand size LLVM picks its instruction form by: a 66 prefix makes even the
 * always-64-bit near branches (RET imm16) 16-bit forms. 0 means "none matches". */
static unsigned llvm_opsize(const struct hvemu_insn *in)
{
    /* APX map 4 selects 16 bits with EVEX.pp, not a 66 byte: LLVM prints its imm16 signed */
    if (in->encoding == HVEMU_ENC_EVEX && in->map == HVEMU_MAP_4 && in->opsize == 2)
        return 0;
    if (in->mode == HVEMU_MODE_64 && (in->attrs & HV_ATTR_F64) && (in->prefixes & HVEMU_PFX_OPSZ) &&
        !in->rex_w)
        return 2;
    return in->opsize;
}

/* A word or dword immediate prints unsigned when it is as wide as the operand size and
 * sign-extended otherwise; byte immediates print signed unless LLVM declares them u8. */
static void put_imm_value(struct out *o, const struct hvemu_insn *in, uint64_t v, unsigned enc,
                          int sx8, const char *mn)
{
    if ((enc == 2 || enc == 4) && enc == llvm_opsize(in) && !streq(mn, "enter"))
        put_hex(o, v & (((uint64_t)1 << (8 * enc)) - 1));
    else if (enc == 1 && !sx8 && imm8_unsigned(in, mn))
        put_hex(o, v & 0xff);
    else
        put_shex(o, sext(v, enc));
}

static void put_imm(struct out *o, const struct hvemu_insn *in, const struct hvemu_operand *op,
                    const struct hv_opspec *s, const char *mn)
{
    uint64_t v = op->u.imm.imm;
    unsigned enc = op->size; /* bytes as encoded */
    if (s && s->loc == HV_LOC_IMM_SX) {
        put_shex(o, sext(v, 1));
        return;
    }
    if (s) {
        switch (s->size) {
        case HV_SZ_B: enc = 1; break;
        case HV_SZ_W: enc = 2; break;
        case HV_SZ_D: enc = 4; break;
        case HV_SZ_Q: enc = 8; break;
        case HV_SZ_Z: enc = in->opsize == 2 ? 2 : 4; break;
        case HV_SZ_V: enc = in->opsize; break;
        default: break;
        }
    }
    put_imm_value(o, in, v, enc, 0, mn);
}

static void put_rel(struct out *o, const struct hvemu_insn *in, const struct hvemu_operand *op,
                    uint64_t address)
{
    uint64_t t = address + in->length + op->u.imm.imm;
    if (in->opsize == 2)
        t &= 0xffff;
    else if (in->mode != HVEMU_MODE_64)
        t &= 0xffffffffu;
    put_hex(o, t);
}

/* Whether operand i is left out of the text, as LLVM leaves it out. */
static int operand_hidden(const struct hvemu_insn *in, unsigned i, const struct hv_opspec *s,
                          const char *mn)
{
    const struct hvemu_operand *op = &in->op[i];
    if (s && s->loc == HV_LOC_CONST1)
        return 1; /* shift by one: "shl eax" */
    if (s && s->loc == HV_LOC_XLAT)
        return 1; /* "xlatb" */
    if (op->kind == HVEMU_OP_REG && op->u.reg.cls == HVEMU_REG_ST && s &&
        s->loc == HV_LOC_FIXED && nops(in) == 2 && in->op[i ^ 1].kind == HVEMU_OP_REG &&
        in->op[i ^ 1].u.reg.cls == HVEMU_REG_ST) {
        /* x87 forms LLVM writes with the st(i) operand alone */
        static const char *const one[] = {"fcom", "fcomp", "fucom", "fucomp", "fxch", "fld",
                                          "fst", "fstp", "ffree", "ffreep", "fstpnce"};
        for (unsigned k = 0; k < sizeof(one) / sizeof(one[0]); k++)
            if (streq(mn, one[k]))
                return 1;
    }
    if ((streq(mn, "aam") || streq(mn, "aad")) && op->kind == HVEMU_OP_IMM &&
        op->u.imm.imm == 10)
        return 1; /* base 10 is the default */
    return 0;
}

static void put_operand(struct out *o, const struct hvemu_insn *in, unsigned i,
                        uint64_t address, const char *mn)
{
    const struct hvemu_operand *op = &in->op[i];
    const struct hv_opspec *s = spec_of(in, i);
    switch (op->kind) {
    case HVEMU_OP_REG: {
        unsigned cls = op->u.reg.cls, idx = op->u.reg.idx;
        /* MOV to/from a segment register names the GPR at the operand size */
        if ((cls == HVEMU_REG_GPR16 || cls == HVEMU_REG_GPR32 || cls == HVEMU_REG_GPR64) &&
            has_seg_operand(in) && streq(mn, "mov"))
            cls = in->opsize == 8 ? HVEMU_REG_GPR64 : in->opsize == 4 ? HVEMU_REG_GPR32
                                                                       : HVEMU_REG_GPR16;
        if (cls == HVEMU_REG_K && i == 0 && after_prefix(mn, "vp2intersect"))
            idx &= 6; /* the destination is a mask pair, named by its even register */
        if (cls == HVEMU_REG_ST && s && s->loc != HV_LOC_FIXED)
            put_s(o, st_names[idx & 7]); /* st(i) from ModRM, st(0) included */
        else
            put_reg(o, cls, idx);
        break;
    }
    case HVEMU_OP_MEM:
        put_mem(o, in, op, s, mn);
        break;
    case HVEMU_OP_IMM:
        put_imm(o, in, op, s, mn);
        break;
    case HVEMU_OP_REL:
        put_rel(o, in, op, address);
        break;
    case HVEMU_OP_FARPTR:
        put_imm_value(o, in, op->u.imm.imm_sel, 2, 0, mn);
        put_s(o, ", ");
        put_imm_value(o, in, op->u.imm.imm, in->opsize == 2 ? 2 : 4, 0, mn);
        break;
    default:
        put_s(o, "(bad)");
        break;
    }
    /* EVEX masking decorates the destination (gather/scatter prefetches print it apart) */
    if (i == 0 && in->encoding == HVEMU_ENC_EVEX && in->map != HVEMU_MAP_4 && !is_pf_gather(mn)) {
        if (in->evex_aaa) {
            put_s(o, " {");
            put_s(o, k_names[in->evex_aaa & 7]);
            put_c(o, '}');
        }
        if (in->evex_z)
            put_s(o, " {z}");
    }
}

/* Compare predicates LLVM folds into the mnemonic (cmpltps, vcmpneq_oqpd, vpcmpnltud). */
static const char *const cmp_pred[32] = {
    "eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord",
    "eq_uq", "nge", "ngt", "false", "neq_oq", "ge", "gt", "true",
    "eq_os", "lt_oq", "le_oq", "unord_s", "neq_us", "nlt_uq", "nle_uq", "ord_s",
    "eq_us", "nge_uq", "ngt_uq", "false_os", "neq_os", "ge_oq", "gt_oq", "true_us",
};

/* APX condition names of CCMP/CTEST's source condition (0xA and 0xB are true/false). */
static const char *const scc_names[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                                          "s", "ns", "t", "f", "l", "ge", "le", "g"};

/* Copy `a` then `b` then `c` into dst (bounded); returns dst. */
static const char *join3(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
    size_t n = 0;
    const char *parts[3] = {a, b, c};
    for (unsigned k = 0; k < 3; k++)
        for (const char *q = parts[k]; *q && n + 1 < cap; q++)
            dst[n++] = *q;
    dst[n] = 0;
    return dst;
}

/* If the instruction's trailing immediate is a compare predicate LLVM folds into the
 * mnemonic, write the folded name into `dst` and return it; else NULL. */
static const char *cmp_pseudo(const struct hvemu_insn *in, const char *mn, char *dst, size_t cap)
{
    if (!nops(in) || in->op[nops(in) - 1].kind != HVEMU_OP_IMM)
        return NULL;
    uint64_t imm = in->op[nops(in) - 1].u.imm.imm & 0xff;
    const char *rest;
    if (in->encoding <= HVEMU_ENC_REX2 && (rest = after_prefix(mn, "cmp")) &&
        (streq(rest, "ps") || streq(rest, "pd") || streq(rest, "ss") || streq(rest, "sd"))) {
        return imm < 8 ? join3(dst, cap, "cmp", cmp_pred[imm], rest) : NULL;
    }
    if (in->encoding >= HVEMU_ENC_VEX && (rest = after_prefix(mn, "vcmp")) &&
        (streq(rest, "ps") || streq(rest, "pd") || streq(rest, "ss") || streq(rest, "sd") ||
         streq(rest, "ph") || streq(rest, "sh"))) {
        return imm < 32 ? join3(dst, cap, "vcmp", cmp_pred[imm], rest) : NULL;
    }
    if (in->encoding == HVEMU_ENC_EVEX && (rest = after_prefix(mn, "vpcmp")) &&
        (streq(rest, "b") || streq(rest, "w") || streq(rest, "d") || streq(rest, "q") ||
         streq(rest, "ub") || streq(rest, "uw") || streq(rest, "ud") || streq(rest, "uq"))) {
        return imm < 8 && imm != 3 && imm != 7 ? join3(dst, cap, "vpcmp", cmp_pred[imm], rest)
                                               : NULL;
    }
    return NULL;
}

/* Whether F2/F3 print as the HLE hints XACQUIRE/XRELEASE rather than REP/REPNE: on a locked
 * instruction, on XCHG (86/87 and, without REX, 90..97), and F3 on MOV r/m stores (88/89,
 * C6/C7). LLVM applies this by opcode, register forms included; so does hvemu. */
static int hle_hint(const struct hvemu_insn *in)
{
    if (!(in->prefixes & (HVEMU_PFX_REP | HVEMU_PFX_REPNE)) || in->encoding != HVEMU_ENC_LEGACY)
        return 0;
    if (in->prefixes & HVEMU_PFX_LOCK)
        return 1;
    if (in->map != HVEMU_MAP_0)
        return 0;
    if (in->opcode == 0x86 || in->opcode == 0x87)
        return 1;
    if ((in->opcode & 0xf8) == 0x90 && !(in->prefixes & HVEMU_PFX_REX))
        return 1;
    return (in->prefixes & HVEMU_PFX_REP) &&
           (in->opcode == 0x88 || in->opcode == 0x89 || in->opcode == 0xc6 || in->opcode == 0xc7);
}

/* Map-4 instructions LLVM writes with an {evex} mark when neither ND nor NF is set: the
 * promoted integer instructions. Those whose text cannot be mistaken for a legacy form in
 * LLVM's eyes (MOVBE, CRC32, shadow-stack and VMX instructions, ...) go without it. */
static int evex_marked(const char *mn)
{
    static const char *const unmarked[] = {
        "movbe", "crc32", "wrssd", "wrssq", "wrussd", "wrussq", "invvpid", "invept", "invpcid",
        "movdir64b", "movdiri", "urdmsr", "uwrmsr", "aadd", "aand", "aor", "axor", "adcx",
        "adox", "enqcmd", "enqcmds", "push2", "push2p", "pop2", "pop2p",
    };
    if (after_prefix(mn, "cfcmov") || after_prefix(mn, "setzu"))
        return 0;
    for (unsigned i = 0; i < sizeof(unmarked) / sizeof(unmarked[0]); i++)
        if (streq(mn, unmarked[i]))
            return 0;
    return 1;
}

/* VEX instructions that also exist with the same name as EVEX: LLVM marks the VEX form. */
static int vex_marked(const char *mn)
{
    static const char *const marked[] = {
        "vpdpbusd", "vpdpbusds", "vpdpwssd", "vpdpwssds", "vpmadd52luq", "vpmadd52huq",
        "vcvtneps2bf16",
    };
    for (unsigned i = 0; i < sizeof(marked) / sizeof(marked[0]); i++)
        if (streq(mn, marked[i]))
            return 1;
    return 0;
}

/* Whether the text shows the address size anyway (a register in an address, a moffs, a
 * string operand, or a mnemonic that names it), so that a 67 prefix needs no word of its own. */
static int addr_size_visible(const struct hvemu_insn *in, const char *mn)
{
    if (!(in->prefixes & HVEMU_PFX_ADSZ))
        return 1;
    if (streq(mn, "jcxz") || streq(mn, "jecxz") || streq(mn, "jrcxz"))
        return 1;
    for (unsigned i = 0; i < nops(in); i++) {
        const struct hvemu_operand *op = &in->op[i];
        const struct hv_opspec *s = spec_of(in, i);
        if (op->kind != HVEMU_OP_MEM || (s && s->loc == HV_LOC_XLAT))
            continue;
        if (s && s->loc == HV_LOC_MOFFS)
            return 1;
        if (op->u.mem.base_class != HVEMU_REG_NONE || op->u.mem.index_class != HVEMU_REG_NONE)
            return 1;
        if (in->has_sib && ((in->mode != HVEMU_MODE_64 && op->u.mem.addr_size == 4) ||
                            (in->sib >> 6) != 0))
            return 1; /* shows N*eiz */
    }
    return 0;
}

int hvemu_format(const struct hvemu_insn *insn, uint64_t address, char *buf, size_t size)
{
    struct out o = {buf, size, 0};
    const char *mn = hvemu_mnemonic_name(insn->mnemonic);

    /* prefixes LLVM prints as words */
    /* F3/F2 not taken as a mandatory prefix print as rep/repne, on any instruction */
    const struct hv_entry *e = (const struct hv_entry *)insn->entry;
    int mandatory_rep = e && ((e->mask >> HV_KEY_P_SHIFT) & 3) == 3 && insn->mandatory >= 0xf2;
    int hle = insn->encoding <= HVEMU_ENC_REX2 && !mandatory_rep && hle_hint(insn);
    if (hle) {
        /* F2/F3 on a locked RMW, XCHG with memory, or (F3) a MOV store are HLE hints,
         * written before LOCK as in "xacquire lock add" */
        put_s(&o, (insn->prefixes & HVEMU_PFX_REPNE) && !(insn->prefixes & HVEMU_PFX_REP)
                      ? "xacquire " : "xrelease ");
    }
    if (insn->prefixes & HVEMU_PFX_LOCK)
        put_s(&o, "lock ");
    /* (LLVM shows a stray F2/F3 as rep/repne only on one-byte-map instructions) */
    if (!hle && insn->encoding <= HVEMU_ENC_REX2 && !mandatory_rep && insn->map == HVEMU_MAP_0) {
        if (insn->prefixes & HVEMU_PFX_REP)
            put_s(&o, "rep ");
        else if (insn->prefixes & HVEMU_PFX_REPNE)
            put_s(&o, "repne ");
    }
    if (!addr_size_visible(insn, mn)) {
        /* a 67 prefix the operands do not show: LLVM names it */
        put_s(&o, insn->mode == HVEMU_MODE_32 ? "addr16 " : "addr32 ");
    }
    int apx_evex = insn->encoding == HVEMU_ENC_EVEX && insn->map == HVEMU_MAP_4;
    int sccdfv = apx_evex && (insn->attrs & HV_ATTR_SCCDFV);
    if (apx_evex && insn->evex_nf && !after_prefix(mn, "cfcmov")) {
        put_s(&o, "{nf} "); /* (CFCMOVcc uses the NF bit as part of its encoding) */
    } else if (apx_evex && !insn->evex_nd && !sccdfv && evex_marked(mn)) {
        /* an EVEX-promoted legacy instruction: LLVM marks the encoding */
        put_s(&o, "{evex} ");
    }
    if (insn->encoding == HVEMU_ENC_VEX && vex_marked(mn))
        put_s(&o, "{vex} ");
    char pseudo[24];
    const char *folded = cmp_pseudo(insn, mn, pseudo, sizeof(pseudo));
    if (folded) {
        put_s(&o, folded);
    } else if (sccdfv && (streq(mn, "ccmp") || streq(mn, "ctest"))) {
        /* CCMP/CTEST: condition in the name, default flags as a decoration */
        put_s(&o, mn);
        put_s(&o, scc_names[insn->evex_scc & 15]);
        put_s(&o, " {dfv=");
        static const char *const dfv[4] = {"cf", "zf", "sf", "of"};
        int any = 0;
        for (int b = 3; b >= 0; b--) {
            if (insn->evex_dfv & (1u << b)) {
                if (any)
                    put_c(&o, ',');
                put_s(&o, dfv[b]);
                any = 1;
            }
        }
        put_c(&o, '}');
    } else {
        put_mnemonic(&o, insn, mn);
    }

    /* operand order: XCHG rAX with 90+r is written "xchg eax, reg" */
    unsigned order[HVEMU_MAX_OPERANDS], n = 0;
    for (unsigned i = 0; i < nops(insn); i++)
        order[n++] = i;
    if (insn->map == HVEMU_MAP_0 && insn->encoding <= HVEMU_ENC_REX2 &&
        n == 2 && ((insn->opcode & 0xf8) == 0x90 ||
                   ((insn->opcode == 0x86 || insn->opcode == 0x87) && (insn->modrm >> 6) == 3))) {
        /* and register-form XCHG r/m, reg as "xchg reg, r/m" */
        order[0] = 1;
        order[1] = 0;
    }
    /* embedded rounding / SAE goes after the register sources, before a trailing imm8 */
    int rc = insn->encoding == HVEMU_ENC_EVEX && insn->map != HVEMU_MAP_4 && insn->evex_b &&
             !(insn->has_modrm && (insn->modrm >> 6) != 3) &&
             (insn->attrs & (HV_ATTR_ER | HV_ATTR_SAE));
    unsigned rc_at = n;
    if (rc && n && (insn->op[order[n - 1]].kind == HVEMU_OP_IMM ||
                    after_prefix(mn, "vcvtsi2") || after_prefix(mn, "vcvtusi2")))
        rc_at = n - 1; /* before a trailing imm8, and before the GPR source of vcvt(u)si2* */

    int first = 1;
    if (insn->encoding == HVEMU_ENC_EVEX && is_pf_gather(mn)) {
        put_s(&o, " {");
        put_s(&o, k_names[insn->evex_aaa & 7]);
        put_c(&o, '}');
        first = 0;
    }
    for (unsigned k = 0; k <= n; k++) {
        if (rc && k == rc_at) {
            static const char *const rcn[4] = {"{rn-sae}", "{rd-sae}", "{ru-sae}", "{rz-sae}"};
            put_s(&o, first ? " " : ", ");
            put_s(&o, (insn->attrs & HV_ATTR_ER) ? rcn[insn->vex_l & 3] : "{sae}");
            first = 0;
        }
        if (k == n)
            break;
        unsigned i = order[k];
        if (operand_hidden(insn, i, spec_of(insn, i), mn))
            continue;
        if (folded && i + 1 == nops(insn))
            continue; /* the predicate went into the mnemonic */
        put_s(&o, first ? " " : ", ");
        first = 0;
        put_operand(&o, insn, i, address, mn);
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}
