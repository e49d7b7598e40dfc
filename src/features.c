/* SPDX-License-Identifier: MIT */
/*
 * Features from CPUID: one table row per feature, naming the CPUID leaf, subleaf, register and
 * bit that enumerates it (the same facts include/hvemu.h lists at each enum value).
 */
#include "hvemu.h"
#include "x86.h"

_Static_assert(HVEMU_FEAT_COUNT <= 64 * sizeof(((hvemu_features *)0)->bits) / sizeof(uint64_t),
               "hvemu_features has no room for every feature");

enum { EAX, EBX, ECX, EDX };

/* The leaves asked for, in the order of the `leaf` index of the rows below. */
static const struct {
    uint32_t leaf, subleaf;
} leaves[] = {
    {1, 0}, {7, 0}, {7, 1}, {0xD, 1}, {0x12, 0}, {0x14, 0}, {0x19, 0},
    {0x80000001, 0}, {0x80000008, 0}, {0x8000001F, 0},
};
enum { L1, L7_0, L7_1, LD_1, L12_0, L14_0, L19, LX1, LX8, LX1F, NLEAVES };

static const struct {
    uint8_t feature, leaf, reg, bit;
} rows[] = {
    {HVEMU_FEAT_CMOV, L1, EDX, 15}, {HVEMU_FEAT_CX8, L1, EDX, 8},
    {HVEMU_FEAT_CX16, L1, ECX, 13}, {HVEMU_FEAT_MOVBE, L1, ECX, 22},
    {HVEMU_FEAT_POPCNT, L1, ECX, 23}, {HVEMU_FEAT_LZCNT, LX1, ECX, 5},
    {HVEMU_FEAT_BMI1, L7_0, EBX, 3}, {HVEMU_FEAT_BMI2, L7_0, EBX, 8},
    {HVEMU_FEAT_ADX, L7_0, EBX, 19}, {HVEMU_FEAT_CRC32, L1, ECX, 20},
    {HVEMU_FEAT_RDRAND, L1, ECX, 30}, {HVEMU_FEAT_RDSEED, L7_0, EBX, 18},
    {HVEMU_FEAT_RDTSCP, LX1, EDX, 27}, {HVEMU_FEAT_RDPID, L7_0, ECX, 22},
    {HVEMU_FEAT_FSGSBASE, L7_0, EBX, 0}, {HVEMU_FEAT_CLFLUSHOPT, L7_0, EBX, 23},
    {HVEMU_FEAT_CLWB, L7_0, EBX, 24}, {HVEMU_FEAT_MMX, L1, EDX, 23},
    {HVEMU_FEAT_SSE, L1, EDX, 25}, {HVEMU_FEAT_SSE2, L1, EDX, 26},
    {HVEMU_FEAT_SSE3, L1, ECX, 0}, {HVEMU_FEAT_SSSE3, L1, ECX, 9},
    {HVEMU_FEAT_SSE41, L1, ECX, 19}, {HVEMU_FEAT_SSE42, L1, ECX, 20},
    {HVEMU_FEAT_AES, L1, ECX, 25}, {HVEMU_FEAT_PCLMUL, L1, ECX, 1},
    {HVEMU_FEAT_SHA, L7_0, EBX, 29}, {HVEMU_FEAT_GFNI, L7_0, ECX, 8},
    {HVEMU_FEAT_AVX, L1, ECX, 28}, {HVEMU_FEAT_AVX2, L7_0, EBX, 5},
    {HVEMU_FEAT_FMA, L1, ECX, 12}, {HVEMU_FEAT_F16C, L1, ECX, 29},
    {HVEMU_FEAT_AVX512, L7_0, EBX, 16}, {HVEMU_FEAT_AMX, L7_0, EDX, 24},
    {HVEMU_FEAT_XSAVE, L1, ECX, 26}, {HVEMU_FEAT_MOVDIRI, L7_0, ECX, 27},
    {HVEMU_FEAT_SERIALIZE, L7_0, EDX, 14}, {HVEMU_FEAT_WAITPKG, L7_0, ECX, 5},
    {HVEMU_FEAT_APX, L7_1, EDX, 21},
    {HVEMU_FEAT_AVX512BW, L7_0, EBX, 30}, {HVEMU_FEAT_AVX512DQ, L7_0, EBX, 17},
    {HVEMU_FEAT_AVX512CD, L7_0, EBX, 28}, {HVEMU_FEAT_AVX512VL, L7_0, EBX, 31},
    {HVEMU_FEAT_AVX512IFMA, L7_0, EBX, 21}, {HVEMU_FEAT_AVX512VBMI, L7_0, ECX, 1},
    {HVEMU_FEAT_AVX512VBMI2, L7_0, ECX, 6}, {HVEMU_FEAT_AVX512VNNI, L7_0, ECX, 11},
    {HVEMU_FEAT_AVX512BITALG, L7_0, ECX, 12}, {HVEMU_FEAT_AVX512VPOPCNTDQ, L7_0, ECX, 14},
    {HVEMU_FEAT_AVX512BF16, L7_1, EAX, 5}, {HVEMU_FEAT_AVX512FP16, L7_0, EDX, 23},
    {HVEMU_FEAT_AVX512VP2INTERSECT, L7_0, EDX, 8}, {HVEMU_FEAT_AVX512ER, L7_0, EBX, 27},
    {HVEMU_FEAT_AVX512PF, L7_0, EBX, 26}, {HVEMU_FEAT_AVX512_4VNNIW, L7_0, EDX, 2},
    {HVEMU_FEAT_AVX512_4FMAPS, L7_0, EDX, 3}, {HVEMU_FEAT_VAES, L7_0, ECX, 9},
    {HVEMU_FEAT_VPCLMULQDQ, L7_0, ECX, 10},
    {HVEMU_FEAT_AVX_VNNI, L7_1, EAX, 4}, {HVEMU_FEAT_AVX_IFMA, L7_1, EAX, 23},
    {HVEMU_FEAT_AVX_VNNI_INT8, L7_1, EDX, 4}, {HVEMU_FEAT_AVX_VNNI_INT16, L7_1, EDX, 10},
    {HVEMU_FEAT_AVX_NE_CONVERT, L7_1, EDX, 5}, {HVEMU_FEAT_SHA512, L7_1, EAX, 0},
    {HVEMU_FEAT_SM3, L7_1, EAX, 1}, {HVEMU_FEAT_SM4, L7_1, EAX, 2},
    {HVEMU_FEAT_CMPCCXADD, L7_1, EAX, 7}, {HVEMU_FEAT_AMX_INT8, L7_0, EDX, 25},
    {HVEMU_FEAT_AMX_BF16, L7_0, EDX, 22}, {HVEMU_FEAT_AMX_FP16, L7_1, EAX, 21},
    {HVEMU_FEAT_AMX_COMPLEX, L7_1, EDX, 8},
    {HVEMU_FEAT_VMX, L1, ECX, 5}, {HVEMU_FEAT_SMX, L1, ECX, 6},
    {HVEMU_FEAT_SVM, LX1, ECX, 2}, {HVEMU_FEAT_SKINIT, LX1, ECX, 12},
    {HVEMU_FEAT_SGX, L7_0, EBX, 2}, {HVEMU_FEAT_ENCLV, L12_0, EAX, 5},
    {HVEMU_FEAT_MONITOR, L1, ECX, 3}, {HVEMU_FEAT_MONITORX, LX1, ECX, 29},
    {HVEMU_FEAT_SMAP, L7_0, EBX, 20}, {HVEMU_FEAT_CET_SS, L7_0, ECX, 7},
    {HVEMU_FEAT_CET_IBT, L7_0, EDX, 20}, {HVEMU_FEAT_PCONFIG, L7_0, EDX, 18},
    {HVEMU_FEAT_WRMSRNS, L7_1, EAX, 19}, {HVEMU_FEAT_MSRLIST, L7_1, EAX, 27},
    {HVEMU_FEAT_USER_MSR, L7_1, EDX, 15}, {HVEMU_FEAT_MSR_IMM, L7_1, ECX, 5},
    {HVEMU_FEAT_INVPCID, L7_0, EBX, 10}, {HVEMU_FEAT_INVLPGB, LX8, EBX, 3},
    {HVEMU_FEAT_RDPRU, LX8, EBX, 4}, {HVEMU_FEAT_MCOMMIT, LX8, EBX, 8},
    {HVEMU_FEAT_CLZERO, LX8, EBX, 0}, {HVEMU_FEAT_SEV_SNP, LX1F, EAX, 4},
    {HVEMU_FEAT_RMPQUERY, LX1F, EAX, 6}, {HVEMU_FEAT_ENQCMD, L7_0, ECX, 29},
    {HVEMU_FEAT_HRESET, L7_1, EAX, 22}, {HVEMU_FEAT_RTM, L7_0, EBX, 11},
    {HVEMU_FEAT_HLE, L7_0, EBX, 4}, {HVEMU_FEAT_TSXLDTRK, L7_0, EDX, 16},
    {HVEMU_FEAT_UINTR, L7_0, EDX, 5}, {HVEMU_FEAT_PKU, L7_0, ECX, 3},
    {HVEMU_FEAT_PREFETCHI, L7_1, EDX, 14}, {HVEMU_FEAT_CLDEMOTE, L7_0, ECX, 25},
    {HVEMU_FEAT_SSE4A, LX1, ECX, 6}, {HVEMU_FEAT_PTWRITE, L14_0, EBX, 4},
    {HVEMU_FEAT_KL, L7_0, ECX, 23}, {HVEMU_FEAT_AESKLE, L19, EBX, 0},
    {HVEMU_FEAT_WIDE_KL, L19, EBX, 2}, {HVEMU_FEAT_RAO_INT, L7_1, EAX, 3},
    {HVEMU_FEAT_MOVDIR64B, L7_0, ECX, 28}, {HVEMU_FEAT_XSAVEOPT, LD_1, EAX, 0},
    {HVEMU_FEAT_XSAVEC, LD_1, EAX, 1}, {HVEMU_FEAT_XSAVES, LD_1, EAX, 3},
    {HVEMU_FEAT_LAHF_LM, LX1, ECX, 0}, {HVEMU_FEAT_SYSCALL, LX1, EDX, 11},
    {HVEMU_FEAT_SEP, L1, EDX, 11}, {HVEMU_FEAT_FXSR, L1, EDX, 24},
    {HVEMU_FEAT_CLFSH, L1, EDX, 19}, {HVEMU_FEAT_TSC, L1, EDX, 4},
    {HVEMU_FEAT_MSR, L1, EDX, 5}, {HVEMU_FEAT_WBNOINVD, LX8, EBX, 9},
    {HVEMU_FEAT_PREFETCHWT1, L7_0, ECX, 0},
};

/* Every feature but BASE, SYSTEM and OTHER has exactly one row (checked by tests/unit). */
_Static_assert(sizeof(rows) / sizeof(rows[0]) == HVEMU_FEAT_COUNT - 3, "a feature without a CPUID row");

static void ask(int (*cpuid)(void *, uint32_t, uint32_t, uint32_t[4]), void *opaque,
                uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    if (cpuid(opaque, leaf, subleaf, out) != 0)
        out[0] = out[1] = out[2] = out[3] = 0;
}

hvemu_features hvemu_features_from_cpuid(
    int (*cpuid)(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4]), void *opaque)
{
    uint32_t regs[NLEAVES][4] = {{0}};
    uint32_t max[4];
    hvemu_features f = {{0, 0}};
    hvemu_feature_set(&f, HVEMU_FEAT_BASE, 1);
    if (!cpuid)
        return f;
    /* a leaf above the maximum answers another leaf's data on real CPUs: read only those that
     * exist, and (7,1) only when CPUID.(7,0):EAX says subleaf 1 does */
    ask(cpuid, opaque, 0, 0, max);
    uint32_t max_basic = max[EAX];
    ask(cpuid, opaque, 0x80000000u, 0, max);
    uint32_t max_ext = max[EAX];
    for (unsigned i = 0; i < NLEAVES; i++) {
        uint32_t leaf = leaves[i].leaf;
        int ok = leaf >= 0x80000000u ? max_ext >= 0x80000000u && leaf <= max_ext : leaf <= max_basic;
        if (i == L7_1)
            ok = ok && regs[L7_0][EAX] >= 1; /* CPUID.(7,0):EAX is the highest subleaf of 7 */
        if (ok)
            ask(cpuid, opaque, leaf, leaves[i].subleaf, regs[i]);
    }
    for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if ((regs[rows[i].leaf][rows[i].reg] >> rows[i].bit) & 1)
            hvemu_feature_set(&f, (enum hvemu_feature)rows[i].feature, 1);
    return f;
}

int hvemu_features_apx_usable(const hvemu_features *f, uint64_t xcr0, uint64_t cr4)
{
    return hvemu_feature_has(f, HVEMU_FEAT_APX) && apx_os_enabled(xcr0, cr4);
}
