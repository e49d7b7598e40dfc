/* SPDX-License-Identifier: MIT */
/*
 * The decoder: prefixes, REX/REX2/VEX/EVEX, one table lookup, ModRM/SIB/displacement,
 * immediates, operands.
 *
 * There is no per-opcode code here. The opcode tables (generated from the files of src/decode/opcodes)
 * give for each (encoding space, map, opcode) a short list of entries, each with a mask/value
 * over a match key built from the ModRM fields, the mandatory prefix, W, L, the mode and the
 * APX bits. The first entry that matches describes the instruction: its operands (as operand
 * specifications: where the operand is encoded, its register class and size rule), its
 * attributes (lockable, default 64-bit operand size, ...) and its feature.
 */
#include "decode_internal.h"

#include <string.h>

/* The library is built with -ffreestanding, where memset() is always a call into libc: the
 * fixed-size clears below use the builtin, which compiles to a few stores. */
#define CLEAR(p, n) __builtin_memset((p), 0, (n))

/* Reading bytes: TRUNCATED when the caller's buffer ends, TOO_LONG past 15 bytes. */
struct reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static inline int rd_byte(struct reader *r, uint8_t *out)
{
    if (r->pos >= 15)
        return HVEMU_DECODE_TOO_LONG;
    if (r->pos >= r->len)
        return HVEMU_DECODE_TRUNCATED;
    *out = r->p[r->pos++];
    return HVEMU_DECODE_OK;
}

static inline int rd_peek(const struct reader *r, uint8_t *out)
{
    if (r->pos >= 15)
        return HVEMU_DECODE_TOO_LONG;
    if (r->pos >= r->len)
        return HVEMU_DECODE_TRUNCATED;
    *out = r->p[r->pos];
    return HVEMU_DECODE_OK;
}

/* Little-endian immediate/displacement of n bytes, sign-extended when `sx`. */
static inline int rd_le(struct reader *r, unsigned n, int sx, uint64_t *out)
{
    uint64_t v = 0;
    if (r->pos + n > 15)
        return HVEMU_DECODE_TOO_LONG;
    if (r->pos + n > r->len)
        return HVEMU_DECODE_TRUNCATED;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->pos + i] << (8 * i);
    r->pos += n;
    if (sx && n < 8) {
        uint64_t sign = (uint64_t)1 << (8 * n - 1);
        v = (v ^ sign) - sign;
    }
    *out = v;
    return HVEMU_DECODE_OK;
}

#define TRY(x)                                                                                  \
    do {                                                                                        \
        int rc_ = (x);                                                                          \
        if (rc_ != HVEMU_DECODE_OK)                                                             \
            return rc_;                                                                         \
    } while (0)

/* The legacy prefix bytes F0 F2 F3 66 67 26 2E 36 3E 64 65 as a 256-bit set. */
#define PFX_BIT(b) ((uint64_t)1 << ((b) & 63))
static const uint64_t legacy_prefix_bits[4] = {
    PFX_BIT(0x26) | PFX_BIT(0x2E) | PFX_BIT(0x36) | PFX_BIT(0x3E),
    PFX_BIT(0x64) | PFX_BIT(0x65) | PFX_BIT(0x66) | PFX_BIT(0x67),
    0,
    PFX_BIT(0xF0) | PFX_BIT(0xF2) | PFX_BIT(0xF3),
};

/* The mandatory prefix byte of each pp value (none, 66, F3, F2). */
static const uint8_t mandatory_of_pp[4] = {0, 0x66, 0xF3, 0xF2};

/* Prefix state gathered before the opcode. */
struct prefixes {
    uint8_t lock, has66, has67, rep_last; /* rep_last: 0, 0xF2 or 0xF3 (the last one) */
    uint8_t seg;                          /* last segment override + 1, or 0 */
    uint8_t rex;                          /* effective REX byte or 0 */
};

static unsigned vector_bytes(unsigned l)
{
    return 16u << (l > 2 ? 2 : l);
}

/* Size in bytes of an operand from its size rule. */
static unsigned operand_bytes(const struct hvemu_insn *in, unsigned size_rule, unsigned vl)
{
    switch (size_rule) {
    case HV_SZ_B: return 1;
    case HV_SZ_W: return 2;
    case HV_SZ_D: return 4;
    case HV_SZ_Q: return 8;
    case HV_SZ_O: return 16;
    case HV_SZ_Y32: return 32;
    case HV_SZ_Z64: return 64;
    case HV_SZ_T: return 10;
    case HV_SZ_V: return in->opsize;
    case HV_SZ_Y: return in->opsize == 8 ? 8 : 4;
    case HV_SZ_Z: return in->opsize == 2 ? 2 : 4;
    case HV_SZ_VX: return vl;
    case HV_SZ_VH: return vl / 2;
    case HV_SZ_VF: return vl / 4;
    case HV_SZ_VE: return vl / 8;
    case HV_SZ_P: return 2u + in->opsize;
    case HV_SZ_S: return in->mode == HVEMU_MODE_64 ? 10 : 6;
    case HV_SZ_FX: return 512;
    case HV_SZ_ENV: return in->opsize == 2 ? 14 : 28;
    case HV_SZ_FST: return in->opsize == 2 ? 94 : 108;
    case HV_SZ_A: return in->addrsize;
    case HV_SZ_CR: return in->mode == HVEMU_MODE_64 ? 8 : 4;
    default: return 0;
    }
}

/* operand_bytes() of the size rules up to HV_SZ_T, which do not depend on the instruction */
static const uint8_t fixed_operand_bytes[HV_SZ_T + 1] = {
    [HV_SZ_NONE] = 0, [HV_SZ_B] = 1, [HV_SZ_W] = 2, [HV_SZ_D] = 4, [HV_SZ_Q] = 8,
    [HV_SZ_O] = 16, [HV_SZ_Y32] = 32, [HV_SZ_Z64] = 64, [HV_SZ_T] = 10,
};

static uint8_t gpr_class(unsigned bytes)
{
    switch (bytes) {
    case 1: return HVEMU_REG_GPR8;
    case 2: return HVEMU_REG_GPR16;
    case 4: return HVEMU_REG_GPR32;
    default: return HVEMU_REG_GPR64;
    }
}

static uint8_t vec_class(unsigned bytes)
{
    return bytes >= 64 ? HVEMU_REG_ZMM : bytes == 32 ? HVEMU_REG_YMM : HVEMU_REG_XMM;
}

/* Build a register operand of a class from an index. */
/* Inlined: called from several operand kinds, it was a call per register operand. */
static inline __attribute__((always_inline)) void
set_reg(struct hvemu_insn *in, struct hvemu_operand *op, unsigned cls, unsigned bytes, unsigned idx)
{
    op->kind = HVEMU_OP_REG;
    op->size = (uint16_t)bytes;
    switch (cls) {
    case HV_CLS_GPR:
        op->u.reg.cls = gpr_class(bytes);
        /* Without any REX-class prefix, byte registers 4..7 are AH, CH, DH, BH. */
        if (bytes == 1 && idx >= 4 && idx < 8 && !(in->prefixes & HVEMU_PFX_REX) &&
            in->encoding == HVEMU_ENC_LEGACY) {
            op->u.reg.cls = HVEMU_REG_GPR8_HIGH;
            idx -= 4;
        }
        break;
    case HV_CLS_SEG: op->u.reg.cls = HVEMU_REG_SEG; break;
    case HV_CLS_CR: op->u.reg.cls = HVEMU_REG_CR; break;
    case HV_CLS_DR: op->u.reg.cls = HVEMU_REG_DR; break;
    case HV_CLS_ST: op->u.reg.cls = HVEMU_REG_ST; idx &= 7; break;
    case HV_CLS_MM: op->u.reg.cls = HVEMU_REG_MM; idx &= 7; break;
    case HV_CLS_VEC:
        op->u.reg.cls = vec_class(bytes);
        op->size = (uint16_t)(bytes < 16 ? 16 : bytes);
        break;
    case HV_CLS_K: op->u.reg.cls = HVEMU_REG_K; idx &= 7; op->size = 8; break;
    case HV_CLS_TMM: op->u.reg.cls = HVEMU_REG_TMM; idx &= 7; op->size = 1024; break;
    case HV_CLS_BND: op->u.reg.cls = HVEMU_REG_BND; idx &= 3; break;
    default: op->u.reg.cls = HVEMU_REG_NONE; break;
    }
    op->u.reg.idx = (uint8_t)idx;
}

/* 16-bit addressing: (base, index) per ModRM.rm. */
static const uint8_t addr16_base[8] = {HVEMU_RBX, HVEMU_RBX, HVEMU_RBP, HVEMU_RBP,
                                       HVEMU_RSI, HVEMU_RDI, HVEMU_RBP, HVEMU_RBX};
static const uint8_t addr16_index[8] = {HVEMU_RSI, HVEMU_RDI, HVEMU_RSI, HVEMU_RDI,
                                        0xff, 0xff, 0xff, 0xff};

/* Parse SIB and displacement for a memory ModRM; fills in->op-independent `mem`. */
static int decode_modrm_mem(struct reader *r, struct hvemu_insn *in, struct hvemu_mem *m,
                            int need_sib)
{
    unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
    uint64_t disp = 0;
    CLEAR(m, sizeof(*m)); /* no stale stack bytes in base/index when they are absent */
    m->base_class = m->index_class = HVEMU_REG_NONE;
    m->scale = 1;
    m->addr_size = in->addrsize;
    if (in->addrsize == 2) {
        if (need_sib)
            return HVEMU_DECODE_UD; /* VSIB / SIB memory cannot be encoded with 16-bit addressing */
        if (mod == 0 && rm == 6) {
            TRY(rd_le(r, 2, 1, &disp));
            in->disp_size = 2;
        } else {
            m->base_class = HVEMU_REG_GPR16;
            m->base = addr16_base[rm];
            if (addr16_index[rm] != 0xff) {
                m->index_class = HVEMU_REG_GPR16;
                m->index = addr16_index[rm];
            }
            if (mod == 1) {
                TRY(rd_le(r, 1, 1, &disp));
                in->disp_size = 1;
            } else if (mod == 2) {
                TRY(rd_le(r, 2, 1, &disp));
                in->disp_size = 2;
            }
        }
        m->disp = (int64_t)disp;
        return HVEMU_DECODE_OK;
    }
    uint8_t cls = in->addrsize == 4 ? HVEMU_REG_GPR32 : HVEMU_REG_GPR64;
    unsigned base = rm;
    if (rm == 4) {
        TRY(rd_byte(r, &in->sib));
        in->has_sib = 1;
        unsigned ss = in->sib >> 6, idx = (in->sib >> 3) & 7;
        base = in->sib & 7;
        unsigned idx_full = idx | (in->rex_x << 3) | (in->rex_x4 << 4);
        /* index 100 (without REX.X/X4) means "no index" */
        if (idx_full != 4) {
            m->index_class = cls;
            m->index = (uint8_t)idx_full;
            m->scale = (uint8_t)(1u << ss);
        }
        if (base == 5 && mod == 0) {
            TRY(rd_le(r, 4, 1, &disp));
            in->disp_size = 4;
            m->disp = (int64_t)disp;
            return HVEMU_DECODE_OK;
        }
    } else if (need_sib) {
        return HVEMU_DECODE_UD;
    } else if (rm == 5 && mod == 0) {
        TRY(rd_le(r, 4, 1, &disp));
        in->disp_size = 4;
        if (in->mode == HVEMU_MODE_64) {
            m->base_class = HVEMU_REG_RIP;
            m->base = 0;
        }
        m->disp = (int64_t)disp;
        return HVEMU_DECODE_OK;
    }
    m->base_class = cls;
    m->base = (uint8_t)(base | (in->rex_b << 3) | (in->rex_b4 << 4));
    if (mod == 1) {
        TRY(rd_le(r, 1, 1, &disp));
        in->disp_size = 1;
    } else if (mod == 2) {
        TRY(rd_le(r, 4, 1, &disp));
        in->disp_size = 4;
    }
    m->disp = (int64_t)disp;
    return HVEMU_DECODE_OK;
}

/* *d = *s field by field: `s` was just written a byte at a time, and the one 16-byte load a
 * struct copy compiles to cannot take those bytes from the store buffer (a stall of a dozen
 * cycles); loads of the same widths as the stores can. */
static inline void copy_mem(struct hvemu_mem *d, const struct hvemu_mem *s)
{
    d->segment = s->segment;
    d->base_class = s->base_class;
    d->base = s->base;
    d->index_class = s->index_class;
    d->index = s->index;
    d->scale = s->scale;
    d->bcst = s->bcst;
    d->addr_size = s->addr_size;
    d->disp = s->disp;
}

static uint8_t default_segment(const struct hvemu_mem *m)
{
    if (m->base_class != HVEMU_REG_NONE && m->base_class != HVEMU_REG_RIP &&
        (m->base == HVEMU_RSP || m->base == HVEMU_RBP))
        return HVEMU_SS;
    return HVEMU_DS;
}

static uint8_t effective_segment(const struct hvemu_insn *in, const struct hvemu_mem *m)
{
    if (in->prefixes & HVEMU_PFX_SEG) {
        /* In 64-bit mode only FS and GS overrides take effect. */
        if (in->mode != HVEMU_MODE_64 || in->seg_override >= HVEMU_FS)
            return in->seg_override;
    }
    return default_segment(m);
}

const struct hv_entry *hv_match(const struct hv_slot *slot, uint32_t key,
                                const hvemu_features *features)
{
    const struct hv_entry *e = &hv_entries[slot->first];
    /* an entry's features are an AND: `feature`, `feature2` (BASE when there is none) and,
     * for `vl` entries at a vector length below 512 (L'L < 2 in the key: EVEX.b register forms
     * have 2 there), AVX512VL */
    for (unsigned i = 0; i < slot->count; i++, e++)
        if ((key & e->mask) == e->val && hvemu_feature_has(features, (enum hvemu_feature)e->feature) &&
            (e->feature2 == HVEMU_FEAT_BASE || hvemu_feature_has(features, (enum hvemu_feature)e->feature2)) &&
            (!(e->attrs & HV_ATTR_VL) || ((key >> HV_KEY_L_SHIFT) & 3) >= 2 ||
             hvemu_feature_has(features, HVEMU_FEAT_AVX512VL)))
            return e;
    return NULL;
}

int hvemu_decode(const uint8_t *bytes, size_t len, enum hvemu_mode mode,
                 const hvemu_features *features, struct hvemu_insn *in)
{
    struct reader r = {bytes, len, 0};
    struct prefixes px = {0, 0, 0, 0, 0, 0};
    hvemu_features all;
    uint8_t b;
    unsigned space = 0, map = 0, pp = 0, vex_w = 0, vvvv = 0, v4 = 0;
    unsigned vvvv_raw = 0; /* all four vvvv bits, also outside 64-bit mode (for `novvvv`) */
    int is64 = mode == HVEMU_MODE_64;
    int ud_late = 0; /* an encoding error whose #UD waits until the instruction is read */

    if (!features) {
        all = hvemu_features_all();
        features = &all;
    }
    if (mode != HVEMU_MODE_16 && mode != HVEMU_MODE_32 && mode != HVEMU_MODE_64)
        return HVEMU_DECODE_UD;
    /* Only the fields up to the operands need clearing; operands are set as they are built. */
    CLEAR(in, offsetof(struct hvemu_insn, op));
    in->mode = (uint8_t)mode;

    /* ---- legacy prefixes and REX ---- */
    for (;;) {
        TRY(rd_byte(&r, &b));
        /* most instructions have no prefix: one bit test sends the opcode byte on its way */
        if (!((legacy_prefix_bits[b >> 6] >> (b & 63)) & 1)) {
            if (is64 && (b & 0xF0) == 0x40) {
                px.rex = b; /* a later legacy prefix cancels it; a later REX replaces it */
                continue;
            }
            break;
        }
        switch (b) {
        case 0xF0: px.lock = 1; px.rex = 0; continue;
        case 0xF2: case 0xF3: px.rep_last = b; px.rex = 0; continue;
        case 0x66: px.has66 = 1; px.rex = 0; continue;
        case 0x67: px.has67 = 1; px.rex = 0; continue;
        case 0x26: px.seg = 1 + HVEMU_ES; px.rex = 0; continue;
        case 0x2E: px.seg = 1 + HVEMU_CS; px.rex = 0; continue;
        case 0x36: px.seg = 1 + HVEMU_SS; px.rex = 0; continue;
        case 0x3E: px.seg = 1 + HVEMU_DS; px.rex = 0; continue;
        case 0x64: px.seg = 1 + HVEMU_FS; px.rex = 0; continue;
        case 0x65: px.seg = 1 + HVEMU_GS; px.rex = 0; continue;
        default: break; /* not reached: the bit test above lets only these bytes here */
        }
    }
    if (r.pos > 1) { /* there were prefixes (px is all zero otherwise) */
        unsigned pfx = 0;
        if (px.lock) pfx |= HVEMU_PFX_LOCK;
        if (px.rep_last == 0xF3) pfx |= HVEMU_PFX_REP;
        if (px.rep_last == 0xF2) pfx |= HVEMU_PFX_REPNE;
        if (px.has66) pfx |= HVEMU_PFX_OPSZ;
        if (px.has67) pfx |= HVEMU_PFX_ADSZ;
        if (px.seg) {
            pfx |= HVEMU_PFX_SEG;
            in->seg_override = (uint8_t)(px.seg - 1);
        }
        if (px.rex) {
            pfx |= HVEMU_PFX_REX;
            in->rex_w = (px.rex >> 3) & 1;
            in->rex_r = (px.rex >> 2) & 1;
            in->rex_x = (px.rex >> 1) & 1;
            in->rex_b = px.rex & 1;
        }
        in->prefixes = (uint8_t)pfx;
        pp = px.rep_last == 0xF3 ? 2 : px.rep_last == 0xF2 ? 3 : px.has66 ? 1 : 0;
    }

    /* ---- REX2, VEX, EVEX, or the legacy opcode escape ---- */
    uint8_t nb = 0;
    int vexlike = 0;
    if (b == 0xD5 && is64 && hvemu_feature_has(features, HVEMU_FEAT_APX)) {
        uint8_t p0;
        if (px.rex)
            return HVEMU_DECODE_UD;
        TRY(rd_byte(&r, &p0));
        in->encoding = HVEMU_ENC_REX2;
        in->prefixes |= HVEMU_PFX_REX;
        map = (p0 >> 7) & 1;
        in->rex_r4 = (p0 >> 6) & 1;
        in->rex_x4 = (p0 >> 5) & 1;
        in->rex_b4 = (p0 >> 4) & 1;
        in->rex_w = (p0 >> 3) & 1;
        in->rex_r = (p0 >> 2) & 1;
        in->rex_x = (p0 >> 1) & 1;
        in->rex_b = p0 & 1;
        TRY(rd_byte(&r, &b));
    } else if (b == 0xC4 || b == 0xC5 || b == 0x62) {
        TRY(rd_peek(&r, &nb));
        /* Outside 64-bit mode these are LES/LDS/BOUND unless ModRM.mod would be 11. */
        vexlike = is64 || (nb & 0xC0) == 0xC0;
    }
    if (vexlike) {
        if (px.has66 || px.rep_last || px.lock || px.rex)
            return HVEMU_DECODE_UD;
        uint8_t p0, p1, p2;
        if (b == 0xC5) {
            TRY(rd_byte(&r, &p0));
            in->encoding = HVEMU_ENC_VEX;
            space = 1;
            map = 1;
            in->rex_r = !(p0 >> 7);
            vvvv = (~p0 >> 3) & 15;
            in->vex_l = (p0 >> 2) & 1;
            pp = p0 & 3;
        } else if (b == 0xC4) {
            TRY(rd_byte(&r, &p0));
            TRY(rd_byte(&r, &p1));
            in->encoding = HVEMU_ENC_VEX;
            space = 1;
            in->rex_r = !(p0 >> 7);
            in->rex_x = !((p0 >> 6) & 1);
            in->rex_b = !((p0 >> 5) & 1);
            map = p0 & 0x1F;
            vex_w = p1 >> 7;
            vvvv = (~p1 >> 3) & 15;
            in->vex_l = (p1 >> 2) & 1;
            pp = p1 & 3;
            if (map > 7)
                return HVEMU_DECODE_UD;
        } else {
            TRY(rd_byte(&r, &p0));
            TRY(rd_byte(&r, &p1));
            TRY(rd_byte(&r, &p2));
            in->encoding = HVEMU_ENC_EVEX;
            space = 2;
            in->rex_r = !(p0 >> 7);
            in->rex_x = !((p0 >> 6) & 1);
            in->rex_b = !((p0 >> 5) & 1);
            in->rex_r4 = !((p0 >> 4) & 1);
            map = p0 & 7;
            vex_w = p1 >> 7;
            vvvv = (~p1 >> 3) & 15;
            pp = p1 & 3;
            in->evex_z = p2 >> 7;
            in->vex_l = (p2 >> 5) & 3;
            in->evex_b = (p2 >> 4) & 1;
            v4 = !((p2 >> 3) & 1);
            in->evex_aaa = p2 & 7;
            int apx = hvemu_feature_has(features, HVEMU_FEAT_APX) && is64;
            if (apx) {
                in->rex_b4 = (p0 >> 3) & 1;
                in->rex_x4 = !((p1 >> 2) & 1);
            } else if ((p0 & 0x08) || !(p1 & 0x04)) {
                ud_late = 1; /* reserved bits without APX: #UD once the bytes are read */
            }
            if (map == 4) {
                if (!apx)
                    return HVEMU_DECODE_UD;
                in->evex_nd = (p2 >> 4) & 1;
                in->evex_nf = (p2 >> 2) & 1;
                in->evex_scc = p2 & 15;
                in->evex_dfv = (p1 >> 3) & 15;
            }
            if (!is64 && v4 && map != 4)
                return HVEMU_DECODE_UD; /* V' must be 1 (unused) outside 64-bit mode */
            if (!is64) {
                /* Outside 64-bit mode the high register bits are not encodable. */
                in->rex_r = in->rex_x = in->rex_b = in->rex_r4 = 0;
                v4 = 0;
            }
        }
        vvvv_raw = vvvv;
        if (!is64) {
            in->rex_r = in->rex_x = in->rex_b = 0;
            vvvv &= 7;
        }
        in->rex_w = (uint8_t)vex_w;
        TRY(rd_byte(&r, &b));
    } else if (in->encoding == HVEMU_ENC_LEGACY && b == 0x0F) {
        TRY(rd_byte(&r, &b));
        map = 1;
        if (b == 0x38 || b == 0x3A) {
            map = b == 0x38 ? 2 : 3;
            TRY(rd_byte(&r, &b));
        }
        /* 0F 0F is AMD 3DNow!, which no current CPU implements: no table entry, so #UD. */
    }
    in->map = (uint8_t)map;
    in->opcode = b;
    in->vvvv = (uint8_t)(vvvv | (v4 << 4));
    in->mandatory = mandatory_of_pp[pp & 3];

    if (map > 7)
        return HVEMU_DECODE_UD;
    const struct hv_slot *slot = &hv_slots[space][map][b];
    if (!slot->count)
        return HVEMU_DECODE_UD;
    /* ModRM is kept in a local: read back from *in (after byte stores the compiler cannot see
     * through) it cost a store-forwarding stall on the key below */
    unsigned modrm = 0;
    if (slot->has_modrm) {
        uint8_t mb;
        TRY(rd_byte(&r, &mb));
        modrm = mb;
        in->modrm = mb;
        in->has_modrm = 1;
    }

    /* ---- match ---- */
    unsigned enc = in->encoding;
    unsigned osz16 = !in->rex_w && px.has66 && enc <= HVEMU_ENC_REX2;
    /* APX gives EVEX encodings to a few GPR instructions of maps 1-3 (BMI, KMOV); their NF bit is
     * aaa[2], as in map 4. AVX-512 entries never test nf, so the bit is harmless for them. */
    unsigned key_nf = in->evex_nf;
    if (enc == HVEMU_ENC_EVEX && map != 4 && is64 && hvemu_feature_has(features, HVEMU_FEAT_APX))
        key_nf = (in->evex_aaa >> 2) & 1;
    uint32_t key = ((uint32_t)(modrm >> 3 & 7) << HV_KEY_REG_SHIFT) |
                   ((uint32_t)((modrm >> 6) == 3) << HV_KEY_MODR_SHIFT) |
                   ((uint32_t)(modrm & 7) << HV_KEY_RM_SHIFT) |
                   ((uint32_t)pp << HV_KEY_P_SHIFT) |
                   ((uint32_t)in->rex_w << HV_KEY_W_SHIFT) |
                   ((uint32_t)is64 << HV_KEY_M64_SHIFT) |
                   ((uint32_t)osz16 << HV_KEY_OSZ16_SHIFT) |
                   ((uint32_t)(((b & 7) | in->rex_b | in->rex_b4) == 0) << HV_KEY_ZREG0_SHIFT) |
                   ((uint32_t)px.has67 << HV_KEY_ASZ67_SHIFT);
    if (enc <= HVEMU_ENC_REX2) {
        /* legacy and REX2 encodings have no vector length, vvvv (it reads as 0), NDD, NF or
         * EVEX.b: their key bits are constants */
        key |= ((uint32_t)1 << HV_KEY_VVVV0_SHIFT) |
               ((uint32_t)(enc == HVEMU_ENC_REX2) << HV_KEY_REX2_SHIFT);
    } else {
        /* EVEX.b in a register form turns L'L into rounding control: the vector length is 512. */
        unsigned key_l = enc == HVEMU_ENC_EVEX && map != 4 && in->evex_b && (modrm >> 6) == 3 ?
                         2 : in->vex_l;
        key |= ((uint32_t)key_l << HV_KEY_L_SHIFT) |
               ((uint32_t)in->evex_nd << HV_KEY_ND_SHIFT) |
               ((uint32_t)key_nf << HV_KEY_NF_SHIFT) |
               ((uint32_t)in->evex_b << HV_KEY_B_SHIFT) |
               ((uint32_t)(in->vvvv == 0) << HV_KEY_VVVV0_SHIFT);
    }
    const struct hv_entry *e = hv_match(slot, key, features);
    if (!e || e->mnemonic == HV_MN_INVALID)
        return HVEMU_DECODE_UD;
    in->entry = e;
    in->attrs = e->attrs;
    uint64_t at = e->attrs;
    unsigned mand66 = ((e->mask >> HV_KEY_P_SHIFT) & 3) == 3 && pp == 1;

    /* ---- operand and address size ---- */
    if (at & HV_ATTR_BYTEOP) {
        in->opsize = 1;
    } else if (in->encoding >= HVEMU_ENC_VEX) {
        in->opsize = in->rex_w && is64 ? 8 : (at & HV_ATTR_OSZ66) && pp == 1 ? 2 : 4;
    } else {
        unsigned def = mode == HVEMU_MODE_16 ? 2 : 4;
        unsigned alt = def == 2 ? 4 : 2;
        if (is64 && (at & HV_ATTR_F64))
            in->opsize = 8;
        else if (in->rex_w && !(at & HV_ATTR_REXW_IGN))
            in->opsize = 8;
        else if (px.has66 && !mand66 && !(at & HV_ATTR_IGN66))
            in->opsize = (uint8_t)alt;
        else if (is64 && (at & HV_ATTR_D64))
            in->opsize = 8;
        else
            in->opsize = (uint8_t)def;
    }
    if (is64)
        in->addrsize = px.has67 ? 4 : 8;
    else if (mode == HVEMU_MODE_32)
        in->addrsize = px.has67 ? 2 : 4;
    else
        in->addrsize = px.has67 ? 4 : 2;

    /* ---- encoding checks that do not depend on operands ----
     * Their #UD is answered only once the whole instruction has been read: a CPU fetches the
     * instruction before it decodes it (a fetch fault and the 15-byte #GP take priority over
     * #UD), so TRUNCATED and TOO_LONG win over these. */
    int memform = in->has_modrm && (modrm >> 6) != 3 && !(at & HV_ATTR_MODREG);
    if (px.lock && !((at & (HV_ATTR_LOCK | HV_ATTR_XLOCK)) && memform))
        ud_late = 1;
    if (in->encoding == HVEMU_ENC_REX2 && (at & HV_ATTR_NOREX2))
        ud_late = 1;
    /* The whole field must be 1111 (also its top bit outside 64-bit mode, where registers
     * 8-15 do not exist); with VSIB, V' is the high bit of the index, not part of vvvv. */
    if ((at & HV_ATTR_NOVVVV) && (vvvv_raw || (v4 && !(at & HV_ATTR_VSIB))))
        ud_late = 1;
    if ((at & HV_ATTR_NOPFX66) && px.has66)
        ud_late = 1;
    if ((at & HV_ATTR_NOPFXREP) && px.rep_last)
        ud_late = 1;
    unsigned vl = in->encoding >= HVEMU_ENC_VEX ? vector_bytes(in->vex_l) : 16;
    /* APX-promoted EVEX forms (map 4, and the APX-only entries of maps 1-3) have no masking,
     * zeroing, vector length or broadcast: z, L'L and aaa[1:0] must be 0 (aaa is the source
     * condition for CCMP/CTEST), outside map 4 also b. Their pp=F3/F2 is not an operand size. */
    int apx_evex = in->encoding == HVEMU_ENC_EVEX &&
                   (map == 4 || e->feature == HVEMU_FEAT_APX);
    if (apx_evex) {
        if (in->evex_z || in->vex_l || (!(at & HV_ATTR_SCCDFV) && (in->evex_aaa & 3)))
            ud_late = 1;
        if ((at & HV_ATTR_OSZ66) && pp >= 2)
            ud_late = 1;
        if (map != 4) {
            if (in->evex_b)
                ud_late = 1;
            /* aaa[2] is NF here, not a mask: the AVX-512 checks below then find no mask */
            in->evex_nf = (uint8_t)key_nf;
            in->evex_aaa = 0;
        }
        if (at & HV_ATTR_SCCDFV)
            in->evex_nf = 0; /* P2[2] is part of the source condition there */
    }
    if (in->encoding == HVEMU_ENC_EVEX && map != 4) {
        if (in->evex_aaa && !(at & HV_ATTR_MASK))
            ud_late = 1;
        /* zeroing needs an instruction that allows it and a mask to zero with (z with k0 is #UD) */
        if (in->evex_z && (!(at & HV_ATTR_MASKZ) || !in->evex_aaa))
            ud_late = 1;
        if ((at & HV_ATTR_NOK0) && !in->evex_aaa)
            ud_late = 1;
        if (in->evex_b) {
            if (memform ? !(at & HV_ATTR_BCST) : !(at & (HV_ATTR_ER | HV_ATTR_SAE)))
                ud_late = 1;
            if (!memform)
                vl = 64; /* rounding control replaces L'L */
        }
        /* L'L=3 is reserved, unless it is rounding control (EVEX.b in a register form) */
        if (in->vex_l == 3 && !(at & HV_ATTR_EVEX_NOL) && !(in->evex_b && !memform))
            return HVEMU_DECODE_UD;
    }

    /* ---- ModRM memory operand ---- */
    struct hvemu_mem mem;
    int have_mem = 0;
    if (memform) {
        /* whether an operand must have a SIB byte (VSIB, AMX sibmem) matters only when there
         * is none: with ModRM.rm = 100 and 32/64-bit addressing there is one anyway */
        int need_sib = 0;
        if ((modrm & 7) != 4 || in->addrsize == 2) {
            for (unsigned i = 0; i < e->nops; i++) {
                unsigned loc = hv_opspecs[e->ops[i]].loc;
                if (loc == HV_LOC_VSIB || loc == HV_LOC_SIBMEM)
                    need_sib = 1;
            }
        }
        TRY(decode_modrm_mem(&r, in, &mem, need_sib));
        mem.segment = effective_segment(in, &mem);
        mem.bcst = 0;
        have_mem = 1;
    }

    /* ---- operands (immediates are read in operand order) ---- */
    unsigned reg_idx = (modrm >> 3 & 7) | (in->rex_r << 3) | (in->rex_r4 << 4);
    unsigned rm_idx = (modrm & 7) | (in->rex_b << 3) | (in->rex_b4 << 4);
    in->noperands = e->nops;
    for (unsigned i = 0; i < e->nops; i++) {
        const struct hv_opspec *s = &hv_opspecs[e->ops[i]];
        struct hvemu_operand *op = &in->op[i];
        /* the fixed sizes and the operand size without the switch: its indirect jump is
         * mispredicted on a mix of instructions */
        unsigned nbytes = s->size <= HV_SZ_T ? fixed_operand_bytes[s->size] :
                          s->size == HV_SZ_V ? in->opsize : operand_bytes(in, s->size, vl);
        uint64_t v = 0;
        CLEAR(op, sizeof(*op));
        op->access = HVEMU_OPA_READ;
        switch (s->loc) {
        case HV_LOC_REG:
            /* registers that do not exist are #UD (once the instruction is read): SEG 6-7, CR other
             * than 0/2/3/4/8, DR 8+ */
            if (s->cls == HV_CLS_SEG && (modrm >> 3 & 7) > 5)
                ud_late = 1;
            if (s->cls == HV_CLS_CR && (reg_idx > 8 || reg_idx == 1 || (reg_idx >= 5 && reg_idx <= 7)))
                ud_late = 1;
            if (s->cls == HV_CLS_DR && reg_idx > 7)
                ud_late = 1;
            /* VEX: opmask and tile registers are 0..7; VEX.R set on them is #UD */
            if ((s->cls == HV_CLS_K || s->cls == HV_CLS_TMM) && reg_idx > 7 &&
                in->encoding == HVEMU_ENC_VEX)
                ud_late = 1;
            /* EVEX: R' cannot extend a GPR in ModRM.reg (unless APX makes it R4: r16-r31),
             * nor R/R' an opmask (k0-k7 only) */
            if (in->encoding == HVEMU_ENC_EVEX && map != 4 &&
                ((s->cls == HV_CLS_GPR && in->rex_r4 && !(is64 && hvemu_feature_has(features, HVEMU_FEAT_APX))) ||
                 (s->cls == HV_CLS_K && (in->rex_r || in->rex_r4))))
                ud_late = 1;
            /* REX2.R4 reaches GPRs only: a vector register in ModRM.reg ignores it (legacy SSE
             * has xmm0-15; docs/apx.md), as REX.R is ignored for MMX */
            set_reg(in, op, s->cls, nbytes,
                    s->cls == HV_CLS_VEC && in->encoding == HVEMU_ENC_REX2 ? reg_idx & 15 :
                    s->cls == HV_CLS_VEC || s->cls == HV_CLS_GPR ||
                    s->cls == HV_CLS_CR || s->cls == HV_CLS_DR ? reg_idx : (modrm >> 3 & 7));
            break;
        case HV_LOC_RM:
        case HV_LOC_RM_REG:
        case HV_LOC_RM_MEM:
        case HV_LOC_VSIB:
        case HV_LOC_SIBMEM:
            if (have_mem) {
                op->kind = HVEMU_OP_MEM;
                copy_mem(&op->u.mem, &mem);
                op->size = (uint16_t)nbytes;
                if (s->loc == HV_LOC_VSIB) {
                    op->u.mem.index_class = vec_class(nbytes);
                    op->u.mem.index = (uint8_t)((mem.index_class == HVEMU_REG_NONE ? 4 : mem.index) |
                                                (v4 << 4));
                    /* SIB.index 100 is a vector register here, not "no index": keep its scale */
                    if (mem.index_class == HVEMU_REG_NONE)
                        op->u.mem.scale = (uint8_t)(1u << (in->sib >> 6));
                    op->size = 0;
                    /* a gather whose destination is also its index register is #UD */
                    if (i > 0 && in->op[0].kind == HVEMU_OP_REG &&
                        hv_opspecs[e->ops[0]].cls == HV_CLS_VEC && in->op[0].u.reg.idx == op->u.mem.index)
                        return HVEMU_DECODE_UD;
                }
                if (in->encoding == HVEMU_ENC_EVEX && in->evex_b && (at & HV_ATTR_BCST)) {
                    unsigned elem = e->tuple == HV_TUPLE_B2 ? 2 : in->rex_w ? 8 : 4;
                    /* one element repeated over the operand: Wh (e.g. VCVTPS2PD) is half a vector */
                    op->u.mem.bcst = (uint8_t)(nbytes / elem);
                    op->size = (uint16_t)elem;
                }
                if (in->encoding == HVEMU_ENC_EVEX && in->disp_size == 1 && !apx_evex) {
                    /* disp8*N: N is the access size, except for Tuple1 Scalar operands that
                     * access a vector's worth of elements (VSIB, expand/compress): one element */
                    unsigned n = op->size;
                    if ((e->tuple == HV_TUPLE_T1S || e->tuple == HV_TUPLE_T1S8 || e->tuple == HV_TUPLE_T1S16) &&
                        !op->u.mem.bcst && (s->loc == HV_LOC_VSIB || n >= 16))
                        n = e->tuple == HV_TUPLE_T1S8 ? 1 : e->tuple == HV_TUPLE_T1S16 ? 2 : in->rex_w ? 8 : 4;
                    if (n)
                        op->u.mem.disp *= n;
                }
            } else {
                unsigned idx = rm_idx;
                if (s->cls == HV_CLS_VEC && in->encoding == HVEMU_ENC_EVEX)
                    idx = (modrm & 7) | (in->rex_b << 3) | (in->rex_x << 4);
                else if (s->cls == HV_CLS_VEC && in->encoding == HVEMU_ENC_REX2)
                    idx &= 15; /* REX2.B4 likewise */
                /* VEX: a tile in ModRM.rm with VEX.B set is #UD (an opmask ignores VEX.B) */
                if (s->cls == HV_CLS_TMM && idx > 7 && in->encoding == HVEMU_ENC_VEX)
                    return HVEMU_DECODE_UD;
                set_reg(in, op, s->cls, nbytes, idx);
            }
            break;
        case HV_LOC_VVVV:
            /* VEX: opmask and tile registers in vvvv are 0..7; vvvv[3] set is #UD */
            if ((s->cls == HV_CLS_K || s->cls == HV_CLS_TMM) && in->vvvv > 7 &&
                in->encoding == HVEMU_ENC_VEX)
                return HVEMU_DECODE_UD;
            set_reg(in, op, s->cls, nbytes, in->vvvv);
            break;
        case HV_LOC_OPC:
            set_reg(in, op, s->cls, nbytes, (b & 7) | (in->rex_b << 3) | (in->rex_b4 << 4));
            break;
        case HV_LOC_FIXED:
            set_reg(in, op, s->cls, nbytes, s->fixed);
            if (s->cls == HV_CLS_GPR && nbytes == 1 && s->fixed >= 4) {
                op->u.reg.cls = HVEMU_REG_GPR8_HIGH;
                op->u.reg.idx = (uint8_t)(s->fixed - 4);
            }
            break;
        case HV_LOC_IMM:
        case HV_LOC_IMM_SX: {
            unsigned n = s->size == HV_SZ_Z ? (in->opsize == 2 ? 2 : 4) : nbytes;
            TRY(rd_le(&r, n, 1, &v));
            in->imm_size = (uint8_t)(in->imm_size + n);
            op->kind = HVEMU_OP_IMM;
            op->size = (uint16_t)(s->loc == HV_LOC_IMM_SX || s->size == HV_SZ_Z ? in->opsize : n);
            if (op->size < 8)
                v &= ((uint64_t)1 << (8 * op->size)) - 1;
            op->u.imm.imm = v;
            break;
        }
        case HV_LOC_CONST1:
            op->kind = HVEMU_OP_IMM;
            op->size = 1;
            op->u.imm.imm = 1;
            break;
        case HV_LOC_REL: {
            unsigned n = s->size == HV_SZ_B ? 1 : in->opsize == 2 ? 2 : 4;
            TRY(rd_le(&r, n, 1, &v));
            in->imm_size = (uint8_t)(in->imm_size + n);
            op->kind = HVEMU_OP_REL;
            op->size = (uint16_t)n;
            op->u.imm.imm = v;
            break;
        }
        case HV_LOC_FARPTR: {
            unsigned n = in->opsize == 2 ? 2 : 4;
            uint64_t sel;
            TRY(rd_le(&r, n, 0, &v));
            TRY(rd_le(&r, 2, 0, &sel));
            in->imm_size = (uint8_t)(in->imm_size + n + 2);
            op->kind = HVEMU_OP_FARPTR;
            op->size = (uint16_t)(n + 2);
            op->u.imm.imm = v;
            op->u.imm.imm_sel = (uint16_t)sel;
            break;
        }
        case HV_LOC_MOFFS:
            TRY(rd_le(&r, in->addrsize, 0, &v));
            in->disp_size = in->addrsize;
            op->kind = HVEMU_OP_MEM;
            op->size = (uint16_t)nbytes;
            op->u.mem.addr_size = in->addrsize;
            op->u.mem.scale = 1;
            op->u.mem.disp = (int64_t)v;
            op->u.mem.segment = effective_segment(in, &op->u.mem);
            break;
        case HV_LOC_IS4: {
            TRY(rd_le(&r, 1, 0, &v));
            in->imm_size = (uint8_t)(in->imm_size + 1);
            set_reg(in, op, s->cls, nbytes, (unsigned)(v >> 4) & (is64 ? 15 : 7));
            break;
        }
        case HV_LOC_STRSRC:
        case HV_LOC_STRDST:
        case HV_LOC_XLAT:
            op->kind = HVEMU_OP_MEM;
            op->size = (uint16_t)nbytes;
            op->u.mem.addr_size = in->addrsize;
            op->u.mem.scale = 1;
            op->u.mem.base_class = gpr_class(in->addrsize);
            op->u.mem.base = s->loc == HV_LOC_STRDST ? HVEMU_RDI :
                             s->loc == HV_LOC_STRSRC ? HVEMU_RSI : HVEMU_RBX;
            if (s->loc == HV_LOC_XLAT) {
                op->u.mem.index_class = HVEMU_REG_GPR8;
                op->u.mem.index = HVEMU_RAX;
            }
            /* the destination of string instructions is always ES, without override */
            op->u.mem.segment = s->loc == HV_LOC_STRDST ? HVEMU_ES : effective_segment(in, &op->u.mem);
            break;
        default:
            break;
        }
    }
    /* `distinct`: #UD when two register operands of one kind are the same register: gathers
     * (destination, VSIB index, mask), AMX dot products (three tiles), POP2 (two GPRs). One mask
     * per kind, so a GPR and a vector register of the same number never collide. */
    if (at & HV_ATTR_DISTINCT) {
        uint32_t seen[3] = {0, 0, 0}; /* vector, tile, GPR */
        for (unsigned i = 0; i < e->nops; i++) {
            const struct hvemu_operand *op = &in->op[i];
            unsigned idx, kind;
            if (op->kind == HVEMU_OP_REG && op->u.reg.cls >= HVEMU_REG_XMM &&
                op->u.reg.cls <= HVEMU_REG_ZMM)
                idx = op->u.reg.idx, kind = 0;
            else if (op->kind == HVEMU_OP_REG && op->u.reg.cls == HVEMU_REG_TMM)
                idx = op->u.reg.idx, kind = 1;
            else if (op->kind == HVEMU_OP_REG && op->u.reg.cls >= HVEMU_REG_GPR8 &&
                     op->u.reg.cls <= HVEMU_REG_GPR64)
                idx = op->u.reg.idx, kind = 2;
            else if (op->kind == HVEMU_OP_MEM && hv_opspecs[e->ops[i]].loc == HV_LOC_VSIB)
                idx = op->u.mem.index, kind = 0;
            else
                continue;
            if (seen[kind] & (1u << (idx & 31)))
                ud_late = 1;
            seen[kind] |= 1u << (idx & 31);
        }
    }
    /* `norsp`: RSP as a GPR register operand is #UD (PUSH2/POP2) */
    if (at & HV_ATTR_NORSP)
        for (unsigned i = 0; i < e->nops; i++)
            if (in->op[i].kind == HVEMU_OP_REG && in->op[i].u.reg.cls == HVEMU_REG_GPR64 &&
                in->op[i].u.reg.idx == HVEMU_RSP)
                ud_late = 1;
    if (at & HV_ATTR_DSTDIFF) {
        for (unsigned i = 1; i < e->nops; i++)
            if (in->op[i].kind == HVEMU_OP_REG && hv_opspecs[e->ops[i]].cls == hv_opspecs[e->ops[0]].cls &&
                in->op[i].u.reg.idx == in->op[0].u.reg.idx)
                ud_late = 1;
    }
    /* #UD from an encoding rule is answered only once the whole instruction has been read: a
     * CPU fetches before it decodes, so a truncated (fetch-faulting) or over-long instruction
     * reports that first */
    if (ud_late)
        return HVEMU_DECODE_UD;
    /* operand access from the attributes: by default the first operand is read and written */
    if (e->nops) {
        if (at & HV_ATTR_MOV)
            in->op[0].access = HVEMU_OPA_WRITE;
        else if (!(at & (HV_ATTR_RD | HV_ATTR_NOWRITE)))
            in->op[0].access = HVEMU_OPA_READ | HVEMU_OPA_WRITE;
        if ((at & HV_ATTR_XOP2) && e->nops > 1)
            in->op[1].access = HVEMU_OPA_READ | HVEMU_OPA_WRITE;
    }

    /* ---- mnemonic ---- */
    in->mnemonic = e->mnemonic;
    switch (e->mnsel) {
    case HV_MNSEL_OSZ: in->mnemonic = (uint16_t)(e->mnemonic + (in->opsize == 2 ? 0 : in->opsize == 4 ? 1 : 2)); break;
    case HV_MNSEL_ASZ: in->mnemonic = (uint16_t)(e->mnemonic + (in->addrsize == 2 ? 0 : in->addrsize == 4 ? 1 : 2)); break;
    case HV_MNSEL_W: in->mnemonic = (uint16_t)(e->mnemonic + in->rex_w); break;
    default: break;
    }
    in->length = (uint8_t)r.pos;
    return HVEMU_DECODE_OK;
}

const char *hvemu_mnemonic_name(unsigned mnemonic)
{
    return mnemonic < HV_MN_COUNT ? hv_mnemonic_names[mnemonic] : "(bad)";
}

hvemu_features hvemu_features_all(void)
{
    hvemu_features f = {{0, 0}};
    for (unsigned i = 0; i < HVEMU_FEAT_COUNT; i++)
        hvemu_feature_set(&f, (enum hvemu_feature)i, 1);
    return f;
}

hvemu_features hvemu_features_no_apx(void)
{
    hvemu_features f = hvemu_features_all();
    hvemu_feature_set(&f, HVEMU_FEAT_APX, 0);
    return f;
}
