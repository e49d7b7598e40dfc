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
 * usage: feature_gates [-v]
 */
#include "synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            unbuilt++;
            if (verbose)
                printf("not built: entry %u %s (space %u map %u opcode %02x)\n", idx,
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
    printf("summary: %u gated entries, %u encodings built (%u not), %u features each gating at least one, "
           "%u missing, %u errors -> %s\n", gated_entries, built, unbuilt,
           HVEMU_FEAT_COUNT - 2 - missing, missing, errors, errors || missing ? "FAIL" : "ok");
    return errors || missing ? 1 : 0;
}
