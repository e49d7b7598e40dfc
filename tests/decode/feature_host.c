/* SPDX-License-Identifier: MIT */
/*
 * hvemu_features_from_cpuid() and the decoder's feature gates against the host CPU: the
 * features come from the host's own CPUID instruction; then every feature-gated table entry
 * (64-bit mode; encodings built by tests/decode/synth.h) is decoded by hvemu with those
 * features and run natively (tests/hostdiff/native.c):
 *   - hvemu answers #UD (the bytes decode with every feature on): the host must raise SIGILL;
 *   - hvemu decodes it: the host must not raise SIGILL (other faults are fine: the operands
 *     point at arbitrary memory).
 * A hypervisor can hide a feature in CPUID that the hardware still executes (RDPID, RDSEED,
 * SVM...): a feature whose every #UD-in-hvemu encoding runs on the host is reported as "hidden"
 * and not counted as a disagreement; a feature whose encodings the host treats differently
 * (some #UD, some not) is one, as is an encoding hvemu decodes and the host does not.
 * Instructions that are #UD or #GP in user mode or without OS set-up whatever CPUID says (VMX,
 * SVM, SGX, MONITOR, CET shadow stacks, user interrupts, AMX without permission, ...) are not
 * run: the host's answer there says nothing about the feature. Prints the counts; fails on any
 * disagreement.
 *
 * usage: feature_host [-v]
 */
#include "native.h"
#include "synth.h"

#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_ENTRIES 8192
static struct synth_slot where[MAX_ENTRIES];

/* what happened to the encodings hvemu calls #UD, by missing feature */
static unsigned ud_sigill[HVEMU_FEAT_COUNT], ud_ran[HVEMU_FEAT_COUNT];
struct pending {
    char text[200];
    unsigned missing[4], nmissing;
};
static struct pending pend[MAX_ENTRIES];

static int host_cpuid(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)opaque;
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
    return 0;
}

/* #UD at CPL 3, or without kernel set-up, even when CPUID enumerates them */
static int privileged(unsigned f)
{
    static const unsigned list[] = {
        HVEMU_FEAT_SYSTEM, HVEMU_FEAT_VMX, HVEMU_FEAT_SMX, HVEMU_FEAT_SVM, HVEMU_FEAT_SKINIT,
        HVEMU_FEAT_SGX, HVEMU_FEAT_ENCLV, HVEMU_FEAT_MONITOR, HVEMU_FEAT_MONITORX,
        HVEMU_FEAT_SMAP, HVEMU_FEAT_CET_SS, HVEMU_FEAT_PCONFIG, HVEMU_FEAT_WRMSRNS,
        HVEMU_FEAT_MSRLIST, HVEMU_FEAT_USER_MSR, HVEMU_FEAT_MSR_IMM, HVEMU_FEAT_INVPCID,
        HVEMU_FEAT_INVLPGB, HVEMU_FEAT_RDPRU, HVEMU_FEAT_MCOMMIT, HVEMU_FEAT_SEV_SNP,
        HVEMU_FEAT_RMPQUERY, HVEMU_FEAT_ENQCMD, HVEMU_FEAT_HRESET, HVEMU_FEAT_UINTR,
        HVEMU_FEAT_PKU, HVEMU_FEAT_PTWRITE, HVEMU_FEAT_KL, HVEMU_FEAT_AESKLE,
        HVEMU_FEAT_WIDE_KL, HVEMU_FEAT_XSAVES, HVEMU_FEAT_WAITPKG, HVEMU_FEAT_TSXLDTRK,
        HVEMU_FEAT_RTM, HVEMU_FEAT_HLE, HVEMU_FEAT_AMX, HVEMU_FEAT_AMX_INT8,
        HVEMU_FEAT_AMX_BF16, HVEMU_FEAT_AMX_FP16, HVEMU_FEAT_AMX_COMPLEX,
        /* system calls and MSRs; SYSENTER/SYSEXIT are also #UD in 64-bit mode on AMD though
         * CPUID.1:EDX[11] is set there (a vendor difference the tables do not model) */
        HVEMU_FEAT_SYSCALL, HVEMU_FEAT_SEP, HVEMU_FEAT_MSR,
    };
    for (unsigned i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        if (list[i] == f)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int verbose = argc > 1 && !strcmp(argv[1], "-v");
    hvemu_features host = hvemu_features_from_cpuid(host_cpuid, NULL);
    /* APX also needs its XSAVE state enabled by the OS (XCR0[19]); a kernel that predates it
     * leaves it off and the CPU raises #UD, which is the execution-time gate, not CPUID's.
     * (AVX and AVX-512 state: Linux enables it whenever CPUID has it.) */
    if (hvemu_feature_has(&host, HVEMU_FEAT_APX)) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if (!hvemu_features_apx_usable(&host, ((uint64_t)hi << 32) | lo, 1u << 18))
            hvemu_feature_set(&host, HVEMU_FEAT_APX, 0);
    }
    hvemu_features all = hvemu_features_all();
    unsigned nent = synth_slots(where, MAX_ENTRIES);
    if (nent > MAX_ENTRIES)
        return 2;
    unsigned on = 0;
    for (unsigned f = 0; f < HVEMU_FEAT_COUNT; f++)
        on += hvemu_feature_has(&host, (enum hvemu_feature)f);
    if (verbose) {
        printf("host features:");
        for (unsigned f = 0; f < HVEMU_FEAT_COUNT; f++)
            if (hvemu_feature_has(&host, (enum hvemu_feature)f))
                printf(" %u", f);
        printf("\n");
    }
    if (native_init() != 0)
        return 2;
    unsigned ran_ud = 0, ran_ok = 0, skipped = 0, bad = 0, npend = 0;
    for (unsigned idx = 0; idx < nent; idx++) {
        const struct hv_entry *e = &hv_entries[idx];
        if (e->mnemonic == HV_MN_INVALID)
            continue;
        int gated = e->feature != HVEMU_FEAT_BASE || (e->attrs & HV_ATTR_VL) ||
                    (where[idx].space == 2 && where[idx].map == 4) ||
                    synth_field(e, HV_KEY_REX2_SHIFT, 1) == 1;
        if (!gated)
            continue;
        uint8_t b[15];
        struct hvemu_insn in;
        int built = 0;
        for (unsigned v = 0; v < SYNTH_VARIANTS && !built; v++)
            built = synth_encode(e, where[idx], v, b) == 64 &&
                    hvemu_decode(b, 15, HVEMU_MODE_64, &all, &in) == HVEMU_DECODE_OK && in.entry == e;
        if (!built) {
            skipped++;
            continue;
        }
        unsigned len = in.length;
        int rc = hvemu_decode(b, len, HVEMU_MODE_64, &host, &in);
        int emu_ud = rc == HVEMU_DECODE_UD;
        const struct hv_entry *ran = emu_ud ? e : (const struct hv_entry *)in.entry;
        if (privileged(ran->feature) || privileged(ran->feature2)) {
            skipped++;
            continue;
        }
        struct native_state st;
        memset(&st, 0, sizeof st);
        for (unsigned g = 0; g < 16; g++)
            st.gpr[g] = NATIVE_MEM_ADDR + 0x100;
        st.gpr[HVEMU_RSP] = NATIVE_MEM_ADDR + 0x1000;
        struct native_fault nf;
        int nrc = native_run(b, len, &st, &nf);
        int host_ud = nrc == NATIVE_FAULT && nf.signo == SIGILL;
        /* the features the host lacks that this entry needs */
        unsigned need[4], nneed = 0, missing[4], nmissing = 0;
        need[nneed++] = e->feature;
        need[nneed++] = e->feature2;
        if (where[idx].space == 2 && where[idx].map == 4)
            need[nneed++] = HVEMU_FEAT_APX;
        if ((e->attrs & HV_ATTR_VL) && synth_field(e, HV_KEY_L_SHIFT, 2) != 2)
            need[nneed++] = HVEMU_FEAT_AVX512VL;
        for (unsigned i = 0; i < nneed; i++)
            if (!hvemu_feature_has(&host, (enum hvemu_feature)need[i]))
                missing[nmissing++] = need[i];
        if (emu_ud) {
            ran_ud++;
            /* only an encoding that lacks one feature says something about that feature */
            if (nmissing == 1)
                (host_ud ? ud_sigill : ud_ran)[missing[0]]++;
        } else {
            ran_ok++;
        }
        if (emu_ud != host_ud) {
            char fs[160], hx[40];
            for (unsigned i = 0; i < len; i++)
                sprintf(hx + 2 * i, "%02x", b[i]);
            struct pending *p = &pend[npend++];
            snprintf(p->text, sizeof p->text, "%s %s (features %u+%u%s): hvemu %s, host %s", hx,
                     hvemu_mnemonic_name(e->mnemonic), e->feature, e->feature2,
                     (e->attrs & HV_ATTR_VL) ? "+vl" : "", emu_ud ? "#UD" : "decodes",
                     nrc == NATIVE_OK ? "ran" : nrc == NATIVE_TIMEOUT ? "timeout" :
                     native_fault_str(&nf, fs, sizeof fs));
            p->nmissing = emu_ud ? nmissing : 0;
            memcpy(p->missing, missing, sizeof missing);
        }
    }
    if (verbose)
        for (unsigned f = 0; f < HVEMU_FEAT_COUNT; f++)
            if (ud_sigill[f] || ud_ran[f])
                printf("feature %3u missing: %u encodings SIGILL, %u ran\n", f, ud_sigill[f], ud_ran[f]);
    /* a disagreement is excused only when every feature it lacks is hidden: present in the
     * hardware (none of its #UD encodings raised SIGILL) though CPUID does not say so */
    unsigned hidden = 0;
    for (unsigned f = 0; f < HVEMU_FEAT_COUNT; f++)
        if (ud_ran[f] && !ud_sigill[f]) {
            hidden++;
            printf("hidden: feature %u is not in CPUID but the host runs its %u encodings\n", f, ud_ran[f]);
        }
    for (unsigned i = 0; i < npend; i++) {
        int excused = pend[i].nmissing > 0;
        for (unsigned k = 0; k < pend[i].nmissing; k++)
            excused &= ud_ran[pend[i].missing[k]] && !ud_sigill[pend[i].missing[k]];
        if (excused && !verbose)
            continue;
        printf("%s %s\n", excused ? "hidden  " : "DISAGREE", pend[i].text);
        bad += !excused;
    }
    printf("summary: host enumerates %u of %u features; %u encodings run natively (%u #UD in hvemu, "
           "%u decoded), %u skipped, %u features hidden by CPUID, %u disagreements -> %s\n", on,
           (unsigned)HVEMU_FEAT_COUNT, ran_ud + ran_ok, ran_ud, ran_ok, skipped, hidden, bad,
           bad ? "FAIL" : "ok");
    return bad ? 1 : 0;
}
