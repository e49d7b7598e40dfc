/* SPDX-License-Identifier: MIT */
/*
 * Feature gating, from the opcode tables: for every table entry that needs a feature, build an
 * encoding that decodes to that entry (tests/decode/synth.h), then check that
 *   - it decodes to the entry with exactly its features on (and BASE), nothing else: no
 *     feature gate hides elsewhere;
 *   - with any one of its features off it does not (#UD, or another entry: the fall-through
 *     ones such as TZCNT -> BSF, ENDBR -> NOP); its features are the entry's feat= values,
 *     AVX512VL for a `vl` entry at 128 bits, APX for map 4 and REX2 entries.
 * and that every feature (but BASE and OTHER, which gates nothing) is the one that makes the
 * difference for at least one encoding. Fails on any violation; prints per-feature counts.
 *
 * Also hvemu_features_from_cpuid() against the CPUID bits include/hvemu.h documents at each
 * enum value ("(7,0):EBX[16]"): a fake CPUID that answers only that bit must give exactly the
 * features documented with it; bits of leaves above the maximum leaf must be ignored.
 *
 * usage: feature_gates [-v]   (from the project root: it reads include/hvemu.h)
 */
#include "synth.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hvemu_features_from_cpuid() against the header's documentation ---- */

struct doc_bit {
    uint32_t leaf, subleaf;
    unsigned reg, bit;
};
static struct doc_bit doc[HVEMU_FEAT_COUNT];
static int documented[HVEMU_FEAT_COUNT];
static struct {
    struct doc_bit only; /* the one bit set */
    uint32_t max_basic;
} fake;

static int fake_cpuid(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)opaque;
    out[0] = out[1] = out[2] = out[3] = 0;
    if (leaf == 0)
        out[0] = fake.max_basic;
    if (leaf == 0x80000000u)
        out[0] = 0x80000021u;
    if (leaf == 7 && subleaf == 0)
        out[0] = 1; /* subleaf 1 exists */
    if (leaf == fake.only.leaf && subleaf == fake.only.subleaf)
        out[fake.only.reg] |= 1u << fake.only.bit;
    return 0;
}

static unsigned check_from_cpuid(int verbose)
{
    FILE *f = fopen("include/hvemu.h", "r");
    if (!f) {
        printf("FAIL cannot read include/hvemu.h (run from the project root)\n");
        return 1;
    }
    regex_t re;
    regcomp(&re, "HVEMU_FEAT_[A-Z0-9_]+, */\\* \\((0x[0-9A-Fa-f]+|[0-9]+)(,([0-9]+))?\\):E([ABCD])X\\[([0-9]+)\\]",
            REG_EXTENDED);
    char line[512];
    unsigned feat = 0, errors = 0, ndoc = 0;
    int in_enum = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "enum hvemu_feature {"))
            in_enum = 1;
        if (!in_enum)
            continue;
        if (strstr(line, "HVEMU_FEAT_COUNT"))
            break;
        if (!strstr(line, "HVEMU_FEAT_"))
            continue;
        regmatch_t m[6];
        if (regexec(&re, line, 6, m, 0) == 0) {
            doc[feat].leaf = (uint32_t)strtoul(line + m[1].rm_so, NULL, 0);
            doc[feat].subleaf = m[3].rm_so >= 0 ? (uint32_t)strtoul(line + m[3].rm_so, NULL, 0) : 0;
            doc[feat].reg = (unsigned)(line[m[4].rm_so] - 'A');
            doc[feat].bit = (unsigned)strtoul(line + m[5].rm_so, NULL, 10);
            documented[feat] = 1;
            ndoc++;
        }
        feat++;
    }
    fclose(f);
    regfree(&re);
    if (feat != HVEMU_FEAT_COUNT) {
        printf("FAIL include/hvemu.h: %u enum lines with HVEMU_FEAT_, expected %u (one per line)\n",
               feat, (unsigned)HVEMU_FEAT_COUNT);
        return 1;
    }
    for (unsigned i = 1; i < HVEMU_FEAT_COUNT; i++) {
        if (!documented[i]) {
            if (i != HVEMU_FEAT_SYSTEM && i != HVEMU_FEAT_OTHER) {
                printf("FAIL feature %u: no CPUID bit documented in include/hvemu.h\n", i);
                errors++;
            }
            continue;
        }
        fake.only = doc[i];
        fake.max_basic = 0x20;
        hvemu_features got = hvemu_features_from_cpuid(fake_cpuid, NULL);
        for (unsigned j = 0; j < HVEMU_FEAT_COUNT; j++) {
            int want = j == HVEMU_FEAT_BASE ||
                       (documented[j] && !memcmp(&doc[j], &doc[i], sizeof doc[i]));
            if (hvemu_feature_has(&got, (enum hvemu_feature)j) != want) {
                printf("FAIL CPUID (0x%x,%u) reg %c bit %u: feature %u is %s\n", doc[i].leaf,
                       doc[i].subleaf, 'A' + doc[i].reg, doc[i].bit, j, want ? "missing" : "set");
                errors++;
            }
        }
        /* a leaf beyond the maximum is not read (real CPUs answer another leaf's data there) */
        if (doc[i].leaf < 0x80000000u && doc[i].leaf > 1) {
            fake.max_basic = 1;
            got = hvemu_features_from_cpuid(fake_cpuid, NULL);
            if (hvemu_feature_has(&got, (enum hvemu_feature)i)) {
                printf("FAIL feature %u read from leaf 0x%x above the maximum leaf\n", i, doc[i].leaf);
                errors++;
            }
        }
    }
    if (verbose || errors)
        printf("from_cpuid: %u features documented with their CPUID bit, %u errors\n", ndoc, errors);
    return errors;
}

#define MAX_ENTRIES 8192
static struct synth_slot where[MAX_ENTRIES];

static hvemu_features only(const unsigned *feats, unsigned n)
{
    hvemu_features f = {{0, 0}};
    hvemu_feature_set(&f, HVEMU_FEAT_BASE, 1);
    for (unsigned i = 0; i < n; i++)
        hvemu_feature_set(&f, (enum hvemu_feature)feats[i], 1);
    return f;
}

/* does `b` decode to entry `e` with features `f`? */
static int decodes_to(const uint8_t *b, int mode, const hvemu_features *f, const struct hv_entry *e,
                      const struct hv_entry **got)
{
    struct hvemu_insn in;
    int rc = hvemu_decode(b, 15, (enum hvemu_mode)mode, f, &in);
    *got = rc == HVEMU_DECODE_OK ? (const struct hv_entry *)in.entry : NULL;
    return rc == HVEMU_DECODE_OK && in.entry == e;
}

static void hex(const uint8_t *b, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

int main(int argc, char **argv)
{
    int verbose = argc > 1 && !strcmp(argv[1], "-v");
    unsigned cpuid_errors = check_from_cpuid(verbose);
    unsigned nent = synth_slots(where, MAX_ENTRIES);
    if (nent > MAX_ENTRIES) {
        fprintf(stderr, "more than %u entries\n", MAX_ENTRIES);
        return 2;
    }
    static unsigned covered[HVEMU_FEAT_COUNT], gated_entries, built, errors, unbuilt;
    static char example[HVEMU_FEAT_COUNT][40];
    hvemu_features all = hvemu_features_all();
    for (unsigned idx = 0; idx < nent; idx++) {
        const struct hv_entry *e = &hv_entries[idx];
        if (e->mnemonic == HV_MN_INVALID)
            continue;
        unsigned needs[4], nn = 0;
        if (e->feature != HVEMU_FEAT_BASE)
            needs[nn++] = e->feature;
        if (e->feature2 != HVEMU_FEAT_BASE)
            needs[nn++] = e->feature2;
        int apx_implied = (where[idx].space == 2 && where[idx].map == 4) || synth_field(e, HV_KEY_REX2_SHIFT, 1) == 1;
        if (apx_implied && e->feature != HVEMU_FEAT_APX && e->feature2 != HVEMU_FEAT_APX)
            needs[nn++] = HVEMU_FEAT_APX;
        int l = synth_field(e, HV_KEY_L_SHIFT, 2);
        if ((e->attrs & HV_ATTR_VL) && l != 2 && l != 3)
            needs[nn++] = HVEMU_FEAT_AVX512VL;
        if (!nn)
            continue;
        gated_entries++;
        uint8_t b[15];
        int mode = 0, ok = 0;
        hvemu_features start = all;
        const struct hv_entry *got = NULL;
        for (unsigned v = 0; v < SYNTH_VARIANTS && !ok; v++) {
            mode = synth_encode(e, where[idx], v, b);
            if (!mode)
                continue;
            start = all;
            /* an earlier line of the slot with another feature may take the bytes first (an OR
             * such as XTEST's RTM / HLE lines): switch that feature off and try again */
            for (unsigned tries = 0; tries < 4 && !ok; tries++) {
                ok = decodes_to(b, mode, &start, e, &got);
                if (ok || !got || got > e || got < &hv_entries[0])
                    break;
                int shared = 0;
                for (unsigned i = 0; i < nn; i++)
                    shared |= got->feature == needs[i];
                if (shared || got->feature == HVEMU_FEAT_BASE)
                    break;
                hvemu_feature_set(&start, (enum hvemu_feature)got->feature, 0);
            }
        }
        if (!ok) {
            /* every gated entry must be reachable, or its gates go untested */
            unbuilt++;
            printf("FAIL no encoding built for entry %u %s (space %u map %u opcode %02x)\n", idx,
                   hvemu_mnemonic_name(e->mnemonic), where[idx].space, where[idx].map, where[idx].opcode);
            continue;
        }
        built++;
        char hx[40];
        struct hvemu_insn in;
        hvemu_decode(b, 15, (enum hvemu_mode)mode, &all, &in);
        hex(b, in.length ? in.length : 15, hx);
        /* exactly its features suffice */
        hvemu_features min = only(needs, nn);
        if (!decodes_to(b, mode, &min, e, &got)) {
            errors++;
            printf("FAIL %s %s (mode %d): does not decode with only its features\n", hx,
                   hvemu_mnemonic_name(e->mnemonic), mode);
        }
        /* each one is needed */
        for (unsigned i = 0; i < nn; i++) {
            hvemu_features off = start;
            hvemu_feature_set(&off, (enum hvemu_feature)needs[i], 0);
            if (decodes_to(b, mode, &off, e, &got)) {
                errors++;
                printf("FAIL %s %s (mode %d): still decodes with feature %u off\n", hx,
                       hvemu_mnemonic_name(e->mnemonic), mode, needs[i]);
                continue;
            }
            if (!covered[needs[i]]++)
                snprintf(example[needs[i]], sizeof example[0], "%s", hx);
        }
    }
    unsigned missing = 0;
    for (unsigned f = 1; f < HVEMU_FEAT_COUNT; f++) {
        if (f == HVEMU_FEAT_OTHER)
            continue;
        if (!covered[f]) {
            missing++;
            printf("FAIL feature %u: no encoding that needs it\n", f);
        } else if (verbose) {
            printf("feature %3u: %5u encodings, e.g. %s\n", f, covered[f], example[f]);
        }
    }
    errors += cpuid_errors + unbuilt;
    printf("summary: %u gated entries, %u encodings built (%u not), %u features each gating at least one, "
           "%u missing, %u errors (%u in from_cpuid) -> %s\n", gated_entries, built, unbuilt,
           HVEMU_FEAT_COUNT - 2 - missing, missing, errors, cpuid_errors, errors || missing ? "FAIL" : "ok");
    return errors || missing ? 1 : 0;
}
