/* SPDX-License-Identifier: MIT */
/*
 * Differential decoding test: hvemu_decode() (APX off) against Zydis 4.0, in 16-, 32- and
 * 64-bit mode. For every byte string both decoders get the same buffer and we compare the
 * verdict: valid with a length, invalid (#UD), too long (#GP), or truncated (needs more bytes).
 *
 * Two sources of byte strings per mode:
 *   random  instruction-shaped strings from a seeded PRNG: legacy prefix mixes, REX in any
 *           position, the 0F/0F38/0F3A escapes, VEX and EVEX payloads with random fields
 *           (reserved bits included), random opcodes and tails, lengths that cut the
 *           instruction short or push it past 15 bytes.
 *   sweep   every opcode of every legacy map, VEX map 1-3 and EVEX maps 1-3, 5, 6, with each
 *           mandatory prefix / W / L, and ModRM bytes of every mod and reg with rm 0, 4 (SIB)
 *           and 5.
 *
 * Disagreements that are known and documented are listed in docs/decode-exclusions.md (the
 * fenced `exclusions` block; its syntax is described there and parsed by load_exclusions()
 * below). Every other disagreement fails the test; the first 20 are printed with both
 * verdicts, followed by a histogram by encoding space / map / opcode.
 */
#include "hvemu.h"

#include <Zydis/Zydis.h>

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * Verdicts
 * ---------------------------------------------------------------------------------------- */

enum { V_OK, V_UD, V_TRUNC, V_LONG, V_NKINDS };
static const char *const vname[V_NKINDS] = {"ok", "ud", "trunc", "toolong"};

struct verdict {
    int kind;
    unsigned len; /* V_OK only */
};

static int same_verdict(struct verdict a, struct verdict b)
{
    return a.kind == b.kind && (a.kind != V_OK || a.len == b.len);
}

static void fmt_verdict(char *out, size_t n, struct verdict v)
{
    if (v.kind == V_OK)
        snprintf(out, n, "ok(%u)", v.len);
    else
        snprintf(out, n, "%s", vname[v.kind]);
}

static hvemu_features g_feat;
static ZydisDecoder g_zdec[3]; /* 16, 32, 64 */

static int mode_index(int mode)
{
    return mode == 16 ? 0 : mode == 32 ? 1 : 2;
}

static struct verdict run_hvemu(int mode, const uint8_t *buf, size_t len, struct hvemu_insn *in)
{
    struct verdict v = {V_UD, 0};
    int rc = hvemu_decode(buf, len, (enum hvemu_mode)mode, &g_feat, in);
    switch (rc) {
    case HVEMU_DECODE_OK: v.kind = V_OK; v.len = in->length; break;
    case HVEMU_DECODE_TRUNCATED: v.kind = V_TRUNC; break;
    case HVEMU_DECODE_TOO_LONG: v.kind = V_LONG; break;
    default: v.kind = V_UD; break;
    }
    return v;
}

static struct verdict run_zydis(int mode, const uint8_t *buf, size_t len, ZydisDecodedInstruction *zi)
{
    struct verdict v = {V_UD, 0};
    ZydisDecoderContext ctx;
    ZyanStatus st = ZydisDecoderDecodeInstruction(&g_zdec[mode_index(mode)], &ctx, buf, len, zi);
    if (ZYAN_SUCCESS(st)) {
        v.kind = V_OK;
        v.len = zi->length;
    } else if (st == ZYDIS_STATUS_NO_MORE_DATA) {
        v.kind = V_TRUNC;
    } else if (st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) {
        v.kind = V_LONG;
    }
    return v;
}

/* ------------------------------------------------------------------------------------------
 * Where a byte string lands: encoding space, map and opcode, by our own reading of the
 * prefixes (independent of both decoders), for the histogram.
 * ---------------------------------------------------------------------------------------- */

static int is_legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: case 0x2E: case 0x36: case 0x3E: case 0x64: case 0x65:
    case 0x66: case 0x67: case 0xF0: case 0xF2: case 0xF3:
        return 1;
    default:
        return 0;
    }
}

static const char *map_name(unsigned m)
{
    static const char *const n[8] = {"0", "0f", "0f38", "0f3a", "m4", "m5", "m6", "m7"};
    return m < 8 ? n[m] : "m?";
}

static void classify(int mode, const uint8_t *buf, size_t len, char *out, size_t n)
{
    size_t i = 0;
    while (i < len && i < 15 && (is_legacy_prefix(buf[i]) || (mode == 64 && (buf[i] & 0xF0) == 0x40)))
        i++;
    if (i >= 15) {
        snprintf(out, n, "prefixes-only");
        return;
    }
    if (i >= len) {
        snprintf(out, n, "trunc.prefixes");
        return;
    }
    uint8_t b = buf[i];
    if (b == 0xC4 || b == 0xC5 || b == 0x62) {
        if (i + 1 >= len) {
            snprintf(out, n, "trunc.%02x", b);
            return;
        }
        if (mode == 64 || (buf[i + 1] & 0xC0) == 0xC0) {
            size_t need = b == 0xC5 ? 2 : b == 0xC4 ? 3 : 4;
            if (i + need >= len) {
                snprintf(out, n, "trunc.%s", b == 0x62 ? "evex" : "vex");
                return;
            }
            unsigned m = b == 0xC5 ? 1 : b == 0xC4 ? (buf[i + 1] & 0x1F) : (buf[i + 1] & 7);
            char mb[8];
            snprintf(mb, sizeof mb, "m%u", m);
            snprintf(out, n, "%s.%s.%02x", b == 0x62 ? "evex" : "vex", m < 8 ? map_name(m) : mb,
                     buf[i + need]);
            return;
        }
    }
    if (b == 0x8F && i + 1 < len && (buf[i + 1] & 0x1F) >= 8) {
        snprintf(out, n, "xop");
        return;
    }
    if (b == 0x0F) {
        if (i + 1 >= len) {
            snprintf(out, n, "trunc.0f");
            return;
        }
        uint8_t c = buf[i + 1];
        if (c == 0x38 || c == 0x3A) {
            if (i + 2 >= len)
                snprintf(out, n, "trunc.0f%02x", c);
            else
                snprintf(out, n, "lx.%s.%02x", c == 0x38 ? "0f38" : "0f3a", buf[i + 2]);
            return;
        }
        snprintf(out, n, "lx.0f.%02x", c);
        return;
    }
    snprintf(out, n, "lx.0.%02x", b);
}

/* ------------------------------------------------------------------------------------------
 * Exclusions: docs/decode-exclusions.md, the lines of the fenced block whose info string is
 * `exclusions`:
 *     exclude <modes> <hex-regex> [zydis=<v>] [hvemu=<v>] [zmn=<re>] [hmn=<re>] <reason...>
 * <modes> is `*` or a comma list of 16, 32, 64. <hex-regex> is a POSIX extended regex matched
 * against the lower-case hex of the whole byte string given to both decoders (no spaces),
 * anchored at its first byte; `{P}` stands for any run of legacy prefixes and REX bytes and
 * `{B}` for any one byte. zydis=/hvemu= restrict the rule to those verdicts (ok, ud, trunc,
 * toolong, invalid = ud|toolong, any; several joined by `|`). zmn=/hmn= restrict it to
 * instructions whose Zydis / hvemu mnemonic matches the (anchored) regex, which implies that
 * decoder said ok. A rule excuses a disagreement when all its parts match.
 * ---------------------------------------------------------------------------------------- */

struct exclusion {
    unsigned modes;        /* bit 0: 16, bit 1: 32, bit 2: 64 */
    unsigned zv, hv;       /* verdict filters: bit per V_* kind */
    regex_t re;
    regex_t *zmn, *hmn;    /* mnemonic filters, or NULL */
    char *pattern;
    char *reason;
    int line;
    unsigned long hits;
};

static struct exclusion *g_excl;
static int g_nexcl;

/* "ok|trunc" -> a bit per verdict kind; 0 when a name is unknown */
static unsigned parse_vfilter(const char *s)
{
    unsigned bits = 0;
    while (*s) {
        size_t n = strcspn(s, "|");
        unsigned b = 0;
        for (int k = 0; k < V_NKINDS; k++)
            if (strlen(vname[k]) == n && !strncmp(s, vname[k], n))
                b = 1u << k;
        if (n == 7 && !strncmp(s, "invalid", 7))
            b = 1u << V_UD | 1u << V_LONG;
        if (n == 3 && !strncmp(s, "any", 3))
            b = (1u << V_NKINDS) - 1;
        if (!b)
            return 0;
        bits |= b;
        s += n;
        if (*s == '|')
            s++;
    }
    return bits;
}

static int vfilter_match(unsigned f, struct verdict v)
{
    return (f >> v.kind) & 1;
}

static regex_t *compile_mnemonic_filter(const char *re)
{
    size_t n = strlen(re);
    char *anchored = malloc(n + 5);
    regex_t *r = malloc(sizeof *r);
    if (!anchored || !r) {
        free(anchored);
        free(r);
        return NULL;
    }
    snprintf(anchored, n + 5, "^(%s)$", re);
    int rc = regcomp(r, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc) {
        free(r);
        return NULL;
    }
    return r;
}

/* Expand {P} and {B} into plain ERE and anchor the pattern. */
static char *expand_pattern(const char *p)
{
    static const char *const P = "((26|2e|36|3e|64|65|66|67|f0|f2|f3|4[0-9a-f])*)";
    static const char *const B = "([0-9a-f]{2})";
    size_t cap = strlen(p) * 4 + 256, n = 0;
    char *o = malloc(cap);
    if (!o)
        return NULL;
    n += (size_t)snprintf(o + n, cap - n, "^(");
    for (const char *s = p; *s;) {
        const char *rep = !strncmp(s, "{P}", 3) ? P : !strncmp(s, "{B}", 3) ? B : NULL;
        size_t need = rep ? strlen(rep) : 1;
        if (n + need + 4 >= cap) {
            cap = cap * 2 + need;
            char *t = realloc(o, cap);
            if (!t) {
                free(o);
                return NULL;
            }
            o = t;
        }
        if (rep) {
            memcpy(o + n, rep, need);
            n += need;
            s += 3;
        } else {
            o[n++] = (char)tolower((unsigned char)*s++);
        }
    }
    o[n++] = ')';
    o[n] = 0;
    return o;
}

static int load_exclusions(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("note: no exclusion file %s (%s): every disagreement counts\n", path, strerror(errno));
        return 0;
    }
    char line[2048];
    int in_block = 0, lineno = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!strncmp(s, "```", 3)) {
            if (in_block) {
                in_block = 0;
            } else {
                char *info = s + 3;
                while (*info == ' ')
                    info++;
                in_block = !strncmp(info, "exclusions", 10);
            }
            continue;
        }
        if (!in_block)
            continue;
        s[strcspn(s, "\r\n")] = 0;
        if (!*s || *s == '#')
            continue;
        char *save = NULL;
        char *kw = strtok_r(s, " \t", &save);
        char *modes = strtok_r(NULL, " \t", &save);
        char *pat = strtok_r(NULL, " \t", &save);
        if (!kw || strcmp(kw, "exclude") || !modes || !pat) {
            printf("%s:%d: expected `exclude <modes> <hex-regex> [zydis=V] [hvemu=V] <reason>`\n",
                   path, lineno);
            errors++;
            continue;
        }
        struct exclusion e;
        memset(&e, 0, sizeof e);
        e.line = lineno;
        e.zv = e.hv = (1u << V_NKINDS) - 1;
        if (!strcmp(modes, "*") || !strcmp(modes, "all")) {
            e.modes = 7;
        } else {
            char *ms = NULL;
            for (char *m = strtok_r(modes, ",", &ms); m; m = strtok_r(NULL, ",", &ms)) {
                if (!strcmp(m, "16")) e.modes |= 1;
                else if (!strcmp(m, "32")) e.modes |= 2;
                else if (!strcmp(m, "64")) e.modes |= 4;
                else {
                    printf("%s:%d: bad mode '%s'\n", path, lineno, m);
                    errors++;
                }
            }
        }
        char *rest = save ? save : (char *)"";
        /* optional verdict and mnemonic filters, then the reason */
        for (;;) {
            while (*rest == ' ' || *rest == '\t')
                rest++;
            static const char *const keys[4] = {"zydis=", "hvemu=", "zmn=", "hmn="};
            int which = -1;
            for (int k = 0; k < 4; k++)
                if (!strncmp(rest, keys[k], strlen(keys[k])))
                    which = k;
            if (which < 0)
                break;
            char val[256];
            size_t k = 0;
            rest += strlen(keys[which]);
            while (*rest && *rest != ' ' && *rest != '\t' && k + 1 < sizeof val)
                val[k++] = *rest++;
            val[k] = 0;
            if (which < 2) {
                unsigned v = parse_vfilter(val);
                if (!v) {
                    printf("%s:%d: bad verdict '%s'\n", path, lineno, val);
                    errors++;
                }
                if (which == 0)
                    e.zv = v;
                else
                    e.hv = v;
            } else {
                regex_t *r = compile_mnemonic_filter(val);
                if (!r) {
                    printf("%s:%d: bad mnemonic regex '%s'\n", path, lineno, val);
                    errors++;
                }
                if (which == 2) {
                    e.zmn = r;
                    e.zv &= 1u << V_OK;
                } else {
                    e.hmn = r;
                    e.hv &= 1u << V_OK;
                }
            }
        }
        if (!*rest) {
            printf("%s:%d: an exclusion needs a reason\n", path, lineno);
            errors++;
            continue;
        }
        e.pattern = expand_pattern(pat);
        e.reason = strdup(rest);
        int rc = e.pattern ? regcomp(&e.re, e.pattern, REG_EXTENDED | REG_NOSUB) : -1;
        if (rc) {
            printf("%s:%d: bad regex '%s'\n", path, lineno, pat);
            errors++;
            continue;
        }
        struct exclusion *t = realloc(g_excl, sizeof(*g_excl) * (size_t)(g_nexcl + 1));
        if (!t)
            break;
        g_excl = t;
        g_excl[g_nexcl++] = e;
    }
    fclose(f);
    return errors;
}

static void to_hex(const uint8_t *buf, size_t len, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hx[buf[i] >> 4];
        out[2 * i + 1] = hx[buf[i] & 15];
    }
    out[2 * len] = 0;
}

static struct exclusion *find_exclusion(int mode, const uint8_t *buf, size_t len, struct verdict z,
                                        struct verdict h, const char *zmn, const char *hmn)
{
    char hex[2 * 32 + 1];
    if (!g_nexcl)
        return NULL;
    to_hex(buf, len, hex);
    unsigned mbit = 1u << mode_index(mode);
    for (int i = 0; i < g_nexcl; i++) {
        struct exclusion *e = &g_excl[i];
        if (!(e->modes & mbit) || !vfilter_match(e->zv, z) || !vfilter_match(e->hv, h))
            continue;
        if (e->zmn && regexec(e->zmn, zmn, 0, NULL, 0))
            continue;
        if (e->hmn && regexec(e->hmn, hmn, 0, NULL, 0))
            continue;
        if (!regexec(&e->re, hex, 0, NULL, 0))
            return e;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Bookkeeping of disagreements
 * ---------------------------------------------------------------------------------------- */

struct hist_ent {
    char key[24];
    unsigned long count;
    unsigned long pairs[V_NKINDS][V_NKINDS]; /* [zydis kind][hvemu kind] */
    unsigned long lenmis;                    /* both ok, lengths differ */
    int ex_mode;
    uint8_t ex[16];
    uint8_t ex_len;
    char zmn[20], hmn[20]; /* mnemonics of the first example each decoder accepted */
};

#define HIST_CAP 8192
static struct hist_ent g_hist[HIST_CAP];
static int g_nhist;

static struct opts {
    int modes[3], nmodes;
    unsigned long count;
    uint64_t seed;
    int sweep, random, quiet, hist_top, report_only;
    const char *excl_path;
} g_opt;

static unsigned long g_fail_total, g_excused_total, g_shown;
static unsigned long g_mode_fail, g_mode_excused, g_mode_compared;
static unsigned long g_zkinds[V_NKINDS]; /* Zydis's verdicts, for the shape of the input mix */

static struct hist_ent *hist_find(const char *key)
{
    /* linear probing over a small hash table */
    unsigned h = 2166136261u;
    for (const char *s = key; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    for (unsigned i = 0; i < HIST_CAP; i++) {
        struct hist_ent *e = &g_hist[(h + i) % HIST_CAP];
        if (!e->key[0]) {
            snprintf(e->key, sizeof e->key, "%s", key);
            g_nhist++;
            return e;
        }
        if (!strcmp(e->key, key))
            return e;
    }
    return NULL;
}

static void print_bytes(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%s%02x", i ? " " : "", buf[i]);
}

/* Compare one byte string; returns 1 when the decoders agree (or the case is excused). */
static int compare_one(int mode, const uint8_t *buf, size_t len, const char *origin,
                       unsigned *hlen, unsigned *zlen)
{
    struct hvemu_insn in;
    ZydisDecodedInstruction zi;
    struct verdict h = run_hvemu(mode, buf, len, &in);
    struct verdict z = run_zydis(mode, buf, len, &zi);
    g_mode_compared++;
    g_zkinds[z.kind]++;
    if (hlen)
        *hlen = h.kind == V_OK ? h.len : 0;
    if (zlen)
        *zlen = z.kind == V_OK ? z.len : 0;
    if (same_verdict(h, z))
        return 1;
    struct exclusion *ex = find_exclusion(mode, buf, len, z, h,
                                          z.kind == V_OK ? ZydisMnemonicGetString(zi.mnemonic) : "",
                                          h.kind == V_OK ? hvemu_mnemonic_name(in.mnemonic) : "");
    if (ex) {
        ex->hits++;
        g_mode_excused++;
        return 1;
    }
    g_mode_fail++;
    char key[24], vz[16], vh[16];
    classify(mode, buf, len, key, sizeof key);
    struct hist_ent *he = hist_find(key);
    if (he) {
        if (!he->count) {
            he->ex_mode = mode;
            he->ex_len = (uint8_t)(len > 16 ? 16 : len);
            memcpy(he->ex, buf, he->ex_len);
        }
        he->count++;
        he->pairs[z.kind][h.kind]++;
        if (z.kind == V_OK && !he->zmn[0])
            snprintf(he->zmn, sizeof he->zmn, "%s", ZydisMnemonicGetString(zi.mnemonic));
        if (h.kind == V_OK && !he->hmn[0])
            snprintf(he->hmn, sizeof he->hmn, "%s", hvemu_mnemonic_name(in.mnemonic));
        if (z.kind == V_OK && h.kind == V_OK)
            he->lenmis++;
    }
    if (g_shown < 20) {
        g_shown++;
        fmt_verdict(vz, sizeof vz, z);
        fmt_verdict(vh, sizeof vh, h);
        printf("DIFF mode %d %-7s [", mode, origin);
        print_bytes(buf, len);
        printf("] %s: zydis %s%s%s, hvemu %s%s%s\n", key, vz, z.kind == V_OK ? " " : "",
               z.kind == V_OK ? ZydisMnemonicGetString(zi.mnemonic) : "", vh,
               h.kind == V_OK ? " " : "", h.kind == V_OK ? hvemu_mnemonic_name(in.mnemonic) : "");
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Random instruction-shaped strings
 * ---------------------------------------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *g)
{
    /* splitmix64: tiny, good enough, and reproducible from one 64-bit seed */
    uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned rn(struct rng *g, unsigned n) /* 0..n-1 */
{
    return (unsigned)(rnd(g) % n);
}

static int chance(struct rng *g, unsigned percent)
{
    return rn(g, 100) < percent;
}

static uint8_t random_prefix(struct rng *g, int mode, int vexlike)
{
    static const uint8_t segs[6] = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65};
    unsigned r = rn(g, 100);
    if (vexlike && r < 60) /* the prefixes VEX/EVEX tolerate, most of the time */
        return chance(g, 70) ? segs[rn(g, 6)] : 0x67;
    if (r < 25) return segs[rn(g, 6)];
    if (r < 48) return 0x66;
    if (r < 58) return 0x67;
    if (r < 68) return 0xF2;
    if (r < 80) return 0xF3;
    if (r < 90) return 0xF0;
    if (mode == 64) return (uint8_t)(0x40 | rn(g, 16));
    return segs[rn(g, 6)];
}

enum { E_MAP0, E_0F, E_0F38, E_0F3A, E_VEX2, E_VEX3, E_EVEX, E_JUNK };

/* Fills buf (at least 24 bytes) and returns the length to hand to the decoders. */
static size_t gen_random(struct rng *g, int mode, uint8_t *buf)
{
    size_t n = 0;
    unsigned r = rn(g, 100);
    int enc = r < 30 ? E_MAP0 : r < 52 ? E_0F : r < 60 ? E_0F38 : r < 67 ? E_0F3A : r < 74 ? E_VEX2 :
              r < 83 ? E_VEX3 : r < 97 ? E_EVEX : E_JUNK;
    int vexlike = enc == E_VEX2 || enc == E_VEX3 || enc == E_EVEX;

    /* legacy prefixes: usually a few, sometimes enough to reach the 15-byte limit */
    unsigned np;
    r = rn(g, 100);
    if (vexlike)
        np = r < 65 ? 0 : r < 85 ? 1 : r < 95 ? 2 : 3 + rn(g, 12);
    else
        np = r < 40 ? 0 : r < 65 ? 1 : r < 80 ? 2 : r < 90 ? 3 : r < 96 ? 4 + rn(g, 2) : 6 + rn(g, 9);
    for (unsigned i = 0; i < np; i++) {
        if (i && chance(g, 10))
            buf[n] = buf[n - 1]; /* repeated prefix */
        else
            buf[n] = random_prefix(g, mode, vexlike);
        n++;
    }
    /* REX last (the effective position), in 64-bit mode */
    if (mode == 64 && !vexlike ? chance(g, 45) : mode == 64 && chance(g, 5))
        buf[n++] = (uint8_t)(0x40 | rn(g, 16));

    switch (enc) {
    case E_MAP0:
        break;
    case E_0F:
        buf[n++] = 0x0F;
        break;
    case E_0F38:
        buf[n++] = 0x0F;
        buf[n++] = 0x38;
        break;
    case E_0F3A:
        buf[n++] = 0x0F;
        buf[n++] = 0x3A;
        break;
    case E_VEX2: {
        uint8_t p0 = (uint8_t)rnd(g);
        if (mode != 64 && chance(g, 85))
            p0 |= 0xC0; /* make it VEX rather than LDS outside 64-bit mode */
        buf[n++] = 0xC5;
        buf[n++] = p0;
        break;
    }
    case E_VEX3: {
        uint8_t p0 = (uint8_t)rnd(g), p1 = (uint8_t)rnd(g);
        if (chance(g, 90))
            p0 = (uint8_t)((p0 & 0xE0) | (1 + rn(g, 3)));
        if (mode != 64 && chance(g, 85))
            p0 |= 0xC0;
        buf[n++] = 0xC4;
        buf[n++] = p0;
        buf[n++] = p1;
        break;
    }
    case E_EVEX: {
        static const uint8_t maps[5] = {1, 2, 3, 5, 6};
        uint8_t p0 = (uint8_t)rnd(g), p1 = (uint8_t)rnd(g), p2 = (uint8_t)rnd(g);
        if (chance(g, 90))
            p0 = (uint8_t)((p0 & 0xF8) | maps[rn(g, 5)]);
        if (chance(g, 85))
            p0 &= (uint8_t)~0x08; /* reserved bit 3 of P0: must be 0 without APX */
        if (chance(g, 85))
            p1 |= 0x04; /* reserved bit 2 of P1: must be 1 */
        if (chance(g, 60))
            p2 = (uint8_t)((p2 & 0x8F) | (rn(g, 3) << 5)); /* fewer b=1, L'L=3 */
        if (chance(g, 60))
            p2 &= 0x78; /* no mask, no zeroing */
        if (mode != 64 && chance(g, 85))
            p0 |= 0xC0;
        buf[n++] = 0x62;
        buf[n++] = p0;
        buf[n++] = p1;
        buf[n++] = p2;
        break;
    }
    default:
        break;
    }
    /* opcode, ModRM, SIB, displacement, immediates: random bytes */
    size_t opc_at = n;
    while (n < 24)
        buf[n++] = (uint8_t)rnd(g);
    /* ModRM: lean towards memory forms with a SIB byte now and then */
    if (opc_at + 1 < 24 && chance(g, 20))
        buf[opc_at + 1] = (uint8_t)((buf[opc_at + 1] & 0x78) | (rn(g, 3) << 6) | 4);
    /* the length given to the decoders: usually a full 16 bytes, else cut somewhere */
    size_t len = 16;
    if (chance(g, 22))
        len = 1 + rn(g, 15);
    return len;
}

static void run_random(int mode)
{
    struct rng g = {g_opt.seed ^ ((uint64_t)mode * 0x1000193ull)};
    uint8_t buf[32];
    for (unsigned long i = 0; i < g_opt.count; i++) {
        size_t len = gen_random(&g, mode, buf);
        compare_one(mode, buf, len, "random", NULL, NULL);
    }
}

/* ------------------------------------------------------------------------------------------
 * Exhaustive sweep
 * ---------------------------------------------------------------------------------------- */

/* The bytes after ModRM: a SIB byte, then displacement/immediate bytes. Which SIB varies with
 * the ModRM so that base 5 (no base with mod 0) and a real index both occur. */
static size_t sweep_tail(uint8_t *p, unsigned modrm)
{
    static const uint8_t sibs[4] = {0x24, 0x25, 0x8C, 0x4D};
    size_t n = 0;
    p[n++] = sibs[(modrm >> 3) & 3];
    for (unsigned i = 0; n < 12; i++)
        p[n++] = (uint8_t)(0x11 * (i + 1));
    return n;
}

static unsigned long sweep_emit(int mode, const uint8_t *head, size_t hn, unsigned modrm)
{
    uint8_t buf[32];
    memcpy(buf, head, hn);
    buf[hn] = (uint8_t)modrm;
    size_t n = hn + 1 + sweep_tail(buf + hn + 1, modrm);
    if (n > 16)
        n = 16;
    unsigned hl, zl;
    compare_one(mode, buf, n, "sweep", &hl, &zl);
    /* every shorter prefix of a valid instruction must be TRUNCATED for both */
    unsigned l = hl > zl ? hl : zl;
    for (unsigned t = 1; t < l; t++)
        compare_one(mode, buf, t, "trunc", NULL, NULL);
    return 1;
}

static const uint8_t sweep_rms[3] = {0, 4, 5};

static void sweep_modrms(int mode, const uint8_t *head, size_t hn)
{
    for (unsigned mod = 0; mod < 4; mod++)
        for (unsigned reg = 0; reg < 8; reg++)
            for (unsigned k = 0; k < 3; k++)
                sweep_emit(mode, head, hn, mod << 6 | reg << 3 | sweep_rms[k]);
}

static void run_sweep(int mode)
{
    static const uint8_t pfx[4] = {0, 0x66, 0xF3, 0xF2};
    uint8_t head[16];
    size_t hn;
    /* legacy maps 0, 0F, 0F38, 0F3A, each mandatory prefix, REX.W in 64-bit mode */
    for (unsigned map = 0; map < 4; map++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned p = 0; p < 4; p++)
                for (unsigned w = 0; w < (mode == 64 ? 2u : 1u); w++) {
                    hn = 0;
                    if (pfx[p])
                        head[hn++] = pfx[p];
                    if (w)
                        head[hn++] = 0x48;
                    if (map)
                        head[hn++] = 0x0F;
                    if (map == 2)
                        head[hn++] = 0x38;
                    if (map == 3)
                        head[hn++] = 0x3A;
                    head[hn++] = (uint8_t)op;
                    sweep_modrms(mode, head, hn);
                }
    /* VEX: the two-byte form for map 1, the three-byte form for maps 1-3 */
    for (unsigned op = 0; op < 256; op++)
        for (unsigned pp = 0; pp < 4; pp++)
            for (unsigned l = 0; l < 2; l++) {
                head[0] = 0xC5;
                head[1] = (uint8_t)(0xF8 | l << 2 | pp);
                head[2] = (uint8_t)op;
                sweep_modrms(mode, head, 3);
            }
    for (unsigned map = 1; map < 4; map++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned pp = 0; pp < 4; pp++)
                for (unsigned w = 0; w < 2; w++)
                    for (unsigned l = 0; l < 2; l++) {
                        head[0] = 0xC4;
                        head[1] = (uint8_t)(0xE0 | map);
                        head[2] = (uint8_t)(w << 7 | 0x78 | l << 2 | pp);
                        head[3] = (uint8_t)op;
                        sweep_modrms(mode, head, 4);
                    }
    /* EVEX maps 1, 2, 3, 5, 6: every pp/W/L'L, no mask; then masking and EVEX.b on a smaller
     * ModRM set (memory with SIB and register) so that broadcast/rounding forms are seen. */
    static const uint8_t emaps[5] = {1, 2, 3, 5, 6};
    for (unsigned mi = 0; mi < 5; mi++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned pp = 0; pp < 4; pp++)
                for (unsigned w = 0; w < 2; w++)
                    for (unsigned l = 0; l < 4; l++) {
                        head[0] = 0x62;
                        head[1] = (uint8_t)(0xF0 | emaps[mi]);
                        head[2] = (uint8_t)(w << 7 | 0x7C | pp);
                        head[3] = (uint8_t)(l << 5 | 0x08);
                        head[4] = (uint8_t)op;
                        sweep_modrms(mode, head, 5);
                        for (unsigned v = 1; v < 4; v++) {
                            /* v=1: EVEX.b; v=2: {k1}; v=3: {k1}{z} with EVEX.b */
                            head[3] = (uint8_t)(l << 5 | 0x08 | (v & 1 ? 0x10 : 0) |
                                                (v >= 2 ? 1 : 0) | (v == 3 ? 0x80 : 0));
                            for (unsigned reg = 0; reg < 8; reg += 3) {
                                sweep_emit(mode, head, 5, 0x04 | reg << 3);
                                sweep_emit(mode, head, 5, 0xC0 | reg << 3 | 1);
                            }
                        }
                    }
}

/* ------------------------------------------------------------------------------------------
 * --hex: one string, verbose
 * ---------------------------------------------------------------------------------------- */

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int c = (unsigned char)*s, v;
        if (c == ' ' || c == ',' || c == ':' || c == '\t')
            continue;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return -1;
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0)
        return -1;
    *len = n;
    return 0;
}

static int run_hex(const char *hex)
{
    uint8_t buf[32];
    size_t len;
    if (parse_hex(hex, buf, sizeof buf, &len) || !len) {
        fprintf(stderr, "--hex: bad byte string\n");
        return 2;
    }
    int bad = 0;
    for (int mi = 0; mi < g_opt.nmodes; mi++) {
        int mode = g_opt.modes[mi];
        struct hvemu_insn in;
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
        struct verdict h = run_hvemu(mode, buf, len, &in);
        ZyanStatus st = ZydisDecoderDecodeFull(&g_zdec[mode_index(mode)], buf, len, &zi, zops);
        struct verdict z = run_zydis(mode, buf, len, &zi);
        char key[24], vz[16], vh[16];
        classify(mode, buf, len, key, sizeof key);
        fmt_verdict(vz, sizeof vz, z);
        fmt_verdict(vh, sizeof vh, h);
        printf("mode %d [", mode);
        print_bytes(buf, len);
        printf("] %s\n", key);
        printf("  zydis: %s (status 0x%08x)", vz, (unsigned)st);
        if (z.kind == V_OK) {
            ZydisFormatter fmt;
            char text[256];
            ZydisDecoderDecodeFull(&g_zdec[mode_index(mode)], buf, len, &zi, zops);
            ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
            if (ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&fmt, &zi, zops, zi.operand_count_visible,
                                                              text, sizeof text, 0, NULL)))
                printf("  %s", text);
            printf("  [enc %d map %d opcode %02x opsize %u addrsize %u]", zi.encoding,
                   zi.opcode_map, zi.opcode, zi.operand_width, zi.address_width);
        }
        printf("\n  hvemu: %s", vh);
        if (h.kind == V_OK)
            printf("  %s  [enc %u map %u opcode %02x modrm %s%02x opsize %u addrsize %u disp %u imm %u]",
                   hvemu_mnemonic_name(in.mnemonic), in.encoding, in.map, in.opcode,
                   in.has_modrm ? "" : "-", in.modrm, in.opsize, in.addrsize, in.disp_size, in.imm_size);
        printf("\n");
        if (!same_verdict(h, z)) {
            struct exclusion *ex = find_exclusion(
                mode, buf, len, z, h, z.kind == V_OK ? ZydisMnemonicGetString(zi.mnemonic) : "",
                h.kind == V_OK ? hvemu_mnemonic_name(in.mnemonic) : "");
            if (ex)
                printf("  differ, excused by exclusion line %d: %s\n", ex->line, ex->reason);
            else {
                printf("  DIFFER\n");
                bad = 1;
            }
        }
    }
    return bad;
}

/* ------------------------------------------------------------------------------------------ */

static int cmp_hist(const void *a, const void *b)
{
    const struct hist_ent *x = *(const struct hist_ent *const *)a, *y = *(const struct hist_ent *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->key, y->key);
}

static void print_histogram(void)
{
    struct hist_ent *list[HIST_CAP];
    int n = 0;
    for (int i = 0; i < HIST_CAP; i++)
        if (g_hist[i].count)
            list[n++] = &g_hist[i];
    if (!n)
        return;
    qsort(list, (size_t)n, sizeof list[0], cmp_hist);

    /* by space and map first: the overview of what is left */
    struct {
        char key[24];
        unsigned long count, opcodes;
    } maps[64];
    int nm = 0;
    for (int i = 0; i < n; i++) {
        char mk[24];
        snprintf(mk, sizeof mk, "%s", list[i]->key);
        char *dot = strrchr(mk, '.');
        if (dot && (!strncmp(mk, "lx.", 3) || !strncmp(mk, "vex.", 4) || !strncmp(mk, "evex.", 5)))
            *dot = 0;
        int j;
        for (j = 0; j < nm; j++)
            if (!strcmp(maps[j].key, mk))
                break;
        if (j == nm) {
            if (nm == 64)
                continue;
            snprintf(maps[nm].key, sizeof maps[nm].key, "%s", mk);
            maps[nm].count = maps[nm].opcodes = 0;
            nm++;
        }
        maps[j].count += list[i]->count;
        maps[j].opcodes++;
    }
    printf("disagreements by map (space.map: strings, opcodes):\n");
    for (int i = 0; i < nm; i++)
        printf("  %-16s %9lu  %3lu opcodes\n", maps[i].key, maps[i].count, maps[i].opcodes);

    int top = g_opt.hist_top < n ? g_opt.hist_top : n;
    printf("disagreements by opcode (top %d of %d; zydis/hvemu verdict pairs; an example):\n", top, n);
    for (int i = 0; i < top; i++) {
        struct hist_ent *e = list[i];
        printf("  %-16s %8lu ", e->key, e->count);
        for (int a = 0; a < V_NKINDS; a++)
            for (int b = 0; b < V_NKINDS; b++)
                if (e->pairs[a][b]) {
                    if (a == V_OK && b == V_OK)
                        printf(" len-differs:%lu", e->pairs[a][b]);
                    else
                        printf(" %s/%s:%lu", vname[a], vname[b], e->pairs[a][b]);
                }
        if (e->zmn[0])
            printf("  zydis:%s", e->zmn);
        if (e->hmn[0])
            printf("  hvemu:%s", e->hmn);
        printf("  e.g. mode %d [", e->ex_mode);
        print_bytes(e->ex, e->ex_len);
        printf("]\n");
    }
}

static void usage(void)
{
    printf("usage: zydis_diff [--mode 16|32|64] [--count N] [--seed S] [--hex BYTES]\n"
           "                  [--sweep-only] [--random-only] [--quiet] [--hist N]\n"
           "                  [--exclusions FILE] [--report-only]\n");
}

int main(int argc, char **argv)
{
    const char *hex = NULL;
    g_opt.count = 400000;
    g_opt.seed = 0x6876656D75ull; /* "hvemu" */
    g_opt.sweep = g_opt.random = 1;
    g_opt.hist_top = 40;
    g_opt.excl_path = "docs/decode-exclusions.md";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--mode") && val) {
            int m = atoi(val);
            if (m != 16 && m != 32 && m != 64) {
                usage();
                return 2;
            }
            g_opt.modes[g_opt.nmodes++] = m;
            i++;
        } else if (!strcmp(a, "--count") && val) {
            g_opt.count = strtoul(val, NULL, 0);
            i++;
        } else if (!strcmp(a, "--seed") && val) {
            g_opt.seed = strtoull(val, NULL, 0);
            i++;
        } else if (!strcmp(a, "--hex") && val) {
            hex = val;
            i++;
        } else if (!strcmp(a, "--hist") && val) {
            g_opt.hist_top = atoi(val);
            i++;
        } else if (!strcmp(a, "--exclusions") && val) {
            g_opt.excl_path = val;
            i++;
        } else if (!strcmp(a, "--sweep-only")) {
            g_opt.random = 0;
        } else if (!strcmp(a, "--random-only")) {
            g_opt.sweep = 0;
        } else if (!strcmp(a, "--report-only")) {
            g_opt.report_only = 1; /* for sanitizer runs: disagreements do not fail */
        } else if (!strcmp(a, "--quiet")) {
            g_opt.quiet = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (!g_opt.nmodes) {
        g_opt.modes[0] = 16;
        g_opt.modes[1] = 32;
        g_opt.modes[2] = 64;
        g_opt.nmodes = 3;
    }
    g_feat = hvemu_features_no_apx();
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&g_zdec[0], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16)) ||
        !ZYAN_SUCCESS(ZydisDecoderInit(&g_zdec[1], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)) ||
        !ZYAN_SUCCESS(ZydisDecoderInit(&g_zdec[2], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64))) {
        fprintf(stderr, "Zydis decoder init failed\n");
        return 2;
    }
    int excl_errors = load_exclusions(g_opt.excl_path);
    if (hex)
        return run_hex(hex);

    unsigned long compared = 0;
    for (int mi = 0; mi < g_opt.nmodes; mi++) {
        int mode = g_opt.modes[mi];
        unsigned long rnd_n = 0;
        g_mode_fail = g_mode_excused = g_mode_compared = 0;
        memset(g_zkinds, 0, sizeof g_zkinds);
        if (g_opt.random) {
            run_random(mode);
            rnd_n = g_mode_compared;
        }
        if (g_opt.sweep)
            run_sweep(mode);
        printf("compared %lu strings in mode %d (%lu random, %lu sweep): %lu disagree, %lu excused\n",
               g_mode_compared, mode, rnd_n, g_mode_compared - rnd_n, g_mode_fail, g_mode_excused);
        if (!g_opt.quiet && g_mode_compared)
            printf("  mode %d input mix by Zydis's verdict: ok %.1f%%, ud %.1f%%, trunc %.1f%%, toolong %.1f%%\n",
                   mode, 100.0 * g_zkinds[V_OK] / g_mode_compared, 100.0 * g_zkinds[V_UD] / g_mode_compared,
                   100.0 * g_zkinds[V_TRUNC] / g_mode_compared, 100.0 * g_zkinds[V_LONG] / g_mode_compared);
        compared += g_mode_compared;
        g_fail_total += g_mode_fail;
        g_excused_total += g_mode_excused;
    }
    if (!g_opt.quiet) {
        print_histogram();
        if (g_nexcl) {
            printf("exclusions (%s):\n", g_opt.excl_path);
            for (int i = 0; i < g_nexcl; i++)
                printf("  line %-4d %8lu hits  %s\n", g_excl[i].line, g_excl[i].hits, g_excl[i].reason);
        }
    }
    if (excl_errors)
        printf("%d error(s) in %s\n", excl_errors, g_opt.excl_path);
    printf("summary: compared %lu strings in %d mode(s): %lu disagreements, %lu excused by %d exclusions -> %s\n",
           compared, g_opt.nmodes, g_fail_total, g_excused_total, g_nexcl,
           g_fail_total || excl_errors ? (g_opt.report_only ? "FAIL (report only)" : "FAIL") : "ok");
    if (g_opt.report_only)
        return excl_errors ? 1 : 0;
    return g_fail_total || excl_errors ? 1 : 0;
}
