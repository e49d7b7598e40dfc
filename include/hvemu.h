/* SPDX-License-Identifier: MIT */
/*
 * hvemu: an x86-64 instruction emulator for hypervisors and trap-and-emulate tools.
 *
 * One header is the whole public API. The library is freestanding C11: it calls nothing
 * but memcpy/memset-class functions, never allocates, and keeps no global mutable state.
 * Every emulation runs on a context (struct hvemu_ctx) that the embedder owns, one per vCPU;
 * contexts are independent, so vCPU threads need no locking of their own around hvemu.
 *
 * Two entry points:
 *   hvemu_decode()   bytes + mode + enabled features -> struct hvemu_insn, or a precise error.
 *   hvemu_emulate()  fetch, decode and execute one instruction on a vCPU state through the
 *                    embedder's callbacks (struct hvemu_ops).
 * and hvemu_format() for Intel-syntax text.
 */
#ifndef HVEMU_H
#define HVEMU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Public symbols are exported from the shared library; everything else in it is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define HVEMU_API __attribute__((visibility("default")))
#else
#define HVEMU_API
#endif

#define HVEMU_VERSION_MAJOR 0
#define HVEMU_VERSION_MINOR 1

/* ------------------------------------------------------------------------------------------
 * CPU modes and features
 * ---------------------------------------------------------------------------------------- */

/* The code size the decoder works in. For hvemu_emulate() it is derived from the vCPU state
 * (CR0.PE, EFER.LMA, CS.L, CS.D); hvemu_decode() takes it from the caller. */
enum hvemu_mode {
    HVEMU_MODE_16 = 16,
    HVEMU_MODE_32 = 32,
    HVEMU_MODE_64 = 64,
};

/* Instruction-set features. An encoding whose feature is not enabled decodes as #UD, exactly
 * as on a CPU that does not enumerate it (or, for hint encodings and a few others, as what
 * processors without the feature decode it to: TZCNT as BSF, ENDBR as NOP). An encoding may
 * need more than one feature: EVEX forms of 128/256-bit vector length also need AVX512VL, the
 * EVEX forms of GFNI/VAES/VPCLMULQDQ need AVX512F (512 bits) or AVX512VL (128/256), the APX
 * EVEX forms of KMOV need APX and AVX512F/DQ/BW: each form is gated by exactly the CPUID bits
 * the SDM lists for it. The numbering is stable (the values are ABI).
 *
 * Where each feature comes from, as hvemu_features_from_cpuid() reads it: CPUID.(leaf,subleaf)
 * register[bit]. XCR0 / CR4 enabling (OS support) is a separate gate checked at execution.
 * Features that no CPUID bit enumerates are never set by it (marked "no CPUID bit"). */
enum hvemu_feature {
    HVEMU_FEAT_BASE = 0,    /* always on: the 8086..Pentium integer core, x87 (FCMOV/FCOMI need
                             * CMOV, FISTTP SSE3) */
    HVEMU_FEAT_CMOV,        /* (1):EDX[15] */
    HVEMU_FEAT_CX8,         /* (1):EDX[8]  CMPXCHG8B */
    HVEMU_FEAT_CX16,        /* (1):ECX[13] CMPXCHG16B */
    HVEMU_FEAT_MOVBE,       /* (1):ECX[22] */
    HVEMU_FEAT_POPCNT,      /* (1):ECX[23] */
    HVEMU_FEAT_LZCNT,       /* (0x80000001):ECX[5] ABM/LZCNT */
    HVEMU_FEAT_BMI1,        /* (7,0):EBX[3] */
    HVEMU_FEAT_BMI2,        /* (7,0):EBX[8] */
    HVEMU_FEAT_ADX,         /* (7,0):EBX[19] */
    HVEMU_FEAT_CRC32,       /* (1):ECX[20] (SSE4.2) */
    HVEMU_FEAT_RDRAND,      /* (1):ECX[30] */
    HVEMU_FEAT_RDSEED,      /* (7,0):EBX[18] */
    HVEMU_FEAT_RDTSCP,      /* (0x80000001):EDX[27] */
    HVEMU_FEAT_RDPID,       /* (7,0):ECX[22] */
    HVEMU_FEAT_FSGSBASE,    /* (7,0):EBX[0] */
    HVEMU_FEAT_CLFLUSHOPT,  /* (7,0):EBX[23] */
    HVEMU_FEAT_CLWB,        /* (7,0):EBX[24] */
    HVEMU_FEAT_MMX,         /* (1):EDX[23] */
    HVEMU_FEAT_SSE,         /* (1):EDX[25] */
    HVEMU_FEAT_SSE2,        /* (1):EDX[26] */
    HVEMU_FEAT_SSE3,        /* (1):ECX[0] */
    HVEMU_FEAT_SSSE3,       /* (1):ECX[9] */
    HVEMU_FEAT_SSE41,       /* (1):ECX[19] */
    HVEMU_FEAT_SSE42,       /* (1):ECX[20] */
    HVEMU_FEAT_AES,         /* (1):ECX[25] */
    HVEMU_FEAT_PCLMUL,      /* (1):ECX[1] PCLMULQDQ */
    HVEMU_FEAT_SHA,         /* (7,0):EBX[29] */
    HVEMU_FEAT_GFNI,        /* (7,0):ECX[8] */
    HVEMU_FEAT_AVX,         /* (1):ECX[28] */
    HVEMU_FEAT_AVX2,        /* (7,0):EBX[5] */
    HVEMU_FEAT_FMA,         /* (1):ECX[12] */
    HVEMU_FEAT_F16C,        /* (1):ECX[29] */
    HVEMU_FEAT_AVX512,      /* (7,0):EBX[16] AVX512F */
    HVEMU_FEAT_AMX,         /* (7,0):EDX[24] AMX-TILE */
    HVEMU_FEAT_XSAVE,       /* (1):ECX[26] XSAVE, XRSTOR, XGETBV, XSETBV */
    HVEMU_FEAT_SYSTEM,      /* no CPUID bit: TDX (TDCALL) and SEAM (SEAMCALL, SEAMRET, SEAMOPS) */
    HVEMU_FEAT_MOVDIRI,     /* (7,0):ECX[27] */
    HVEMU_FEAT_SERIALIZE,   /* (7,0):EDX[14] */
    HVEMU_FEAT_WAITPKG,     /* (7,0):ECX[5] */
    HVEMU_FEAT_OTHER,       /* no longer gates any encoding (each has its own bit below) */
    HVEMU_FEAT_APX,         /* (7,1):EDX[21] APX_F: REX2, EVEX map 4, EGPRs. Also needs XCR0[19]
                             * and CR4.OSXSAVE at execution: see hvemu_features_apx_usable() */
    /* AVX-512 and its extensions (EVEX) */
    HVEMU_FEAT_AVX512BW,    /* (7,0):EBX[30] */
    HVEMU_FEAT_AVX512DQ,    /* (7,0):EBX[17] */
    HVEMU_FEAT_AVX512CD,    /* (7,0):EBX[28] */
    HVEMU_FEAT_AVX512VL,    /* (7,0):EBX[31] 128/256-bit EVEX vector lengths */
    HVEMU_FEAT_AVX512IFMA,  /* (7,0):EBX[21] */
    HVEMU_FEAT_AVX512VBMI,  /* (7,0):ECX[1] */
    HVEMU_FEAT_AVX512VBMI2, /* (7,0):ECX[6] */
    HVEMU_FEAT_AVX512VNNI,  /* (7,0):ECX[11] */
    HVEMU_FEAT_AVX512BITALG,      /* (7,0):ECX[12] */
    HVEMU_FEAT_AVX512VPOPCNTDQ,   /* (7,0):ECX[14] */
    HVEMU_FEAT_AVX512BF16,        /* (7,1):EAX[5] */
    HVEMU_FEAT_AVX512FP16,        /* (7,0):EDX[23] */
    HVEMU_FEAT_AVX512VP2INTERSECT,/* (7,0):EDX[8] */
    HVEMU_FEAT_AVX512ER,          /* (7,0):EBX[27] (Xeon Phi) */
    HVEMU_FEAT_AVX512PF,          /* (7,0):EBX[26] (Xeon Phi) */
    HVEMU_FEAT_AVX512_4VNNIW,     /* (7,0):EDX[2] (Xeon Phi) */
    HVEMU_FEAT_AVX512_4FMAPS,     /* (7,0):EDX[3] (Xeon Phi) */
    HVEMU_FEAT_VAES,        /* (7,0):ECX[9]  VEX.256 and EVEX VAES* */
    HVEMU_FEAT_VPCLMULQDQ,  /* (7,0):ECX[10] VEX.256 and EVEX VPCLMULQDQ */
    /* VEX extensions */
    HVEMU_FEAT_AVX_VNNI,    /* (7,1):EAX[4] */
    HVEMU_FEAT_AVX_IFMA,    /* (7,1):EAX[23] */
    HVEMU_FEAT_AVX_VNNI_INT8,  /* (7,1):EDX[4] */
    HVEMU_FEAT_AVX_VNNI_INT16, /* (7,1):EDX[10] */
    HVEMU_FEAT_AVX_NE_CONVERT, /* (7,1):EDX[5] */
    HVEMU_FEAT_SHA512,      /* (7,1):EAX[0] */
    HVEMU_FEAT_SM3,         /* (7,1):EAX[1] */
    HVEMU_FEAT_SM4,         /* (7,1):EAX[2] */
    HVEMU_FEAT_CMPCCXADD,   /* (7,1):EAX[7] */
    HVEMU_FEAT_AMX_INT8,    /* (7,0):EDX[25] */
    HVEMU_FEAT_AMX_BF16,    /* (7,0):EDX[22] */
    HVEMU_FEAT_AMX_FP16,    /* (7,1):EAX[21] */
    HVEMU_FEAT_AMX_COMPLEX, /* (7,1):EDX[8] */
    /* system and miscellaneous */
    HVEMU_FEAT_VMX,         /* (1):ECX[5]  VMX instructions, INVEPT, INVVPID, VMFUNC */
    HVEMU_FEAT_SMX,         /* (1):ECX[6]  GETSEC */
    HVEMU_FEAT_SVM,         /* (0x80000001):ECX[2]  VMRUN..INVLPGA */
    HVEMU_FEAT_SKINIT,      /* (0x80000001):ECX[12] SKINIT (and STGI) */
    HVEMU_FEAT_SGX,         /* (7,0):EBX[2]  ENCLS, ENCLU */
    HVEMU_FEAT_ENCLV,       /* (0x12,0):EAX[5] ENCLV */
    HVEMU_FEAT_MONITOR,     /* (1):ECX[3]  MONITOR, MWAIT */
    HVEMU_FEAT_MONITORX,    /* (0x80000001):ECX[29] MONITORX, MWAITX */
    HVEMU_FEAT_SMAP,        /* (7,0):EBX[20] CLAC, STAC */
    HVEMU_FEAT_CET_SS,      /* (7,0):ECX[7]  shadow-stack instructions */
    HVEMU_FEAT_CET_IBT,     /* (7,0):EDX[20] ENDBR32/64 (NOPs without it) */
    HVEMU_FEAT_PCONFIG,     /* (7,0):EDX[18] */
    HVEMU_FEAT_WRMSRNS,     /* (7,1):EAX[19] */
    HVEMU_FEAT_MSRLIST,     /* (7,1):EAX[27] RDMSRLIST, WRMSRLIST */
    HVEMU_FEAT_USER_MSR,    /* (7,1):EDX[15] URDMSR, UWRMSR */
    HVEMU_FEAT_MSR_IMM,     /* (7,1):ECX[5]  RDMSR/WRMSRNS with an immediate MSR index */
    HVEMU_FEAT_INVPCID,     /* (7,0):EBX[10] */
    HVEMU_FEAT_INVLPGB,     /* (0x80000008):EBX[3] INVLPGB, TLBSYNC */
    HVEMU_FEAT_RDPRU,       /* (0x80000008):EBX[4] */
    HVEMU_FEAT_MCOMMIT,     /* (0x80000008):EBX[8] */
    HVEMU_FEAT_CLZERO,      /* (0x80000008):EBX[0] */
    HVEMU_FEAT_SEV_SNP,     /* (0x8000001F):EAX[4] PVALIDATE, RMPADJUST, RMPUPDATE, PSMASH */
    HVEMU_FEAT_RMPQUERY,    /* (0x8000001F):EAX[6] */
    HVEMU_FEAT_ENQCMD,      /* (7,0):ECX[29] ENQCMD, ENQCMDS */
    HVEMU_FEAT_HRESET,      /* (7,1):EAX[22] */
    HVEMU_FEAT_RTM,         /* (7,0):EBX[11] XBEGIN, XEND, XABORT, XTEST */
    HVEMU_FEAT_HLE,         /* (7,0):EBX[4]  XTEST */
    HVEMU_FEAT_TSXLDTRK,    /* (7,0):EDX[16] */
    HVEMU_FEAT_UINTR,       /* (7,0):EDX[5]  UIRET, TESTUI, CLUI, STUI, SENDUIPI */
    HVEMU_FEAT_PKU,         /* (7,0):ECX[3]  RDPKRU, WRPKRU */
    HVEMU_FEAT_PREFETCHI,   /* (7,1):EDX[14] PREFETCHIT0/1 (NOPs without it) */
    HVEMU_FEAT_CLDEMOTE,    /* (7,0):ECX[25] (a NOP without it) */
    HVEMU_FEAT_SSE4A,       /* (0x80000001):ECX[6] EXTRQ, INSERTQ, MOVNTSS, MOVNTSD */
    HVEMU_FEAT_PTWRITE,     /* (0x14,0):EBX[4] */
    HVEMU_FEAT_KL,          /* (7,0):ECX[23] Key Locker: LOADIWKEY */
    HVEMU_FEAT_AESKLE,      /* (0x19):EBX[0] AES*KL, ENCODEKEY* */
    HVEMU_FEAT_WIDE_KL,     /* (0x19):EBX[2] AES*WIDE*KL */
    HVEMU_FEAT_RAO_INT,     /* (7,1):EAX[3] AADD, AAND, AOR, AXOR */
    HVEMU_FEAT_MOVDIR64B,   /* (7,0):ECX[28] */
    HVEMU_FEAT_XSAVEOPT,    /* (0xD,1):EAX[0] */
    HVEMU_FEAT_XSAVEC,      /* (0xD,1):EAX[1] */
    HVEMU_FEAT_XSAVES,      /* (0xD,1):EAX[3] XSAVES, XRSTORS */
    HVEMU_FEAT_LAHF_LM,     /* (0x80000001):ECX[0] LAHF/SAHF in 64-bit mode */
    HVEMU_FEAT_SYSCALL,     /* (0x80000001):EDX[11] SYSCALL, SYSRET */
    HVEMU_FEAT_SEP,         /* (1):EDX[11] SYSENTER, SYSEXIT */
    HVEMU_FEAT_FXSR,        /* (1):EDX[24] FXSAVE, FXRSTOR */
    HVEMU_FEAT_CLFSH,       /* (1):EDX[19] CLFLUSH */
    HVEMU_FEAT_TSC,         /* (1):EDX[4]  RDTSC */
    HVEMU_FEAT_MSR,         /* (1):EDX[5]  RDMSR, WRMSR */
    HVEMU_FEAT_WBNOINVD,    /* (0x80000008):EBX[9] (WBINVD without it) */
    HVEMU_FEAT_PREFETCHWT1, /* (7,0):ECX[0] (a PREFETCH hint without it) */
    HVEMU_FEAT_COUNT /* at most 128: the bits of hvemu_features */
};

/* A set of enabled features: bit n of word n/64 is enum hvemu_feature n. */
typedef struct hvemu_features {
    uint64_t bits[2];
} hvemu_features;

/* Every feature hvemu knows, APX included. */
HVEMU_API hvemu_features hvemu_features_all(void);
/* Every feature but APX: a current CPU without APX (what Zydis 4.0 and today's hosts decode). */
HVEMU_API hvemu_features hvemu_features_no_apx(void);
/* The features a CPU enumerates, from its CPUID answers: `cpuid` is called like
 * hvemu_ops.cpuid (leaf, subleaf -> EAX, EBX, ECX, EDX; a non-zero return reads as all zero)
 * for leaves 0, 1, 7 (subleaves 0 and 1), 0xD.1, 0x12.0, 0x14.0, 0x19 and 0x80000000,
 * 0x80000001, 0x80000008, 0x8000001F, each only when the maximum leaf (CPUID.0:EAX,
 * CPUID.0x80000000:EAX, CPUID.(7,0):EAX for subleaf 1) covers it. Each feature is the one bit
 * named at its enum value above (BASE always; SYSTEM and OTHER never). It reflects CPUID only:
 * whether the OS enabled the state (XCR0, CR4) is checked when an instruction executes, and
 * inconsistent answers (AVX512BW without AVX512F) are taken as they are. */
HVEMU_API hvemu_features hvemu_features_from_cpuid(
    int (*cpuid)(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4]), void *opaque);
/* Whether APX instructions may run: APX in `f` (CPUID), and the OS enabled its state,
 * XCR0[19] (HVEMU_XCR0_APX) with CR4.OSXSAVE (CR4 bit 18). hvemu_emulate() applies this gate
 * itself; hvemu_decode() does not (it decodes for the features it is given). */
HVEMU_API int hvemu_features_apx_usable(const hvemu_features *f, uint64_t xcr0, uint64_t cr4);
static inline int hvemu_feature_has(const hvemu_features *f, enum hvemu_feature n)
{
    return (int)((f->bits[(unsigned)n / 64] >> ((unsigned)n % 64)) & 1);
}
static inline void hvemu_feature_set(hvemu_features *f, enum hvemu_feature n, int on)
{
    uint64_t bit = (uint64_t)1 << ((unsigned)n % 64);
    if (on)
        f->bits[(unsigned)n / 64] |= bit;
    else
        f->bits[(unsigned)n / 64] &= ~bit;
}

/* ------------------------------------------------------------------------------------------
 * Registers
 * ---------------------------------------------------------------------------------------- */

/* General-purpose registers in encoding order; r16..r31 are the APX extended GPRs. */
enum hvemu_gpr {
    HVEMU_RAX, HVEMU_RCX, HVEMU_RDX, HVEMU_RBX, HVEMU_RSP, HVEMU_RBP, HVEMU_RSI, HVEMU_RDI,
    HVEMU_R8, HVEMU_R9, HVEMU_R10, HVEMU_R11, HVEMU_R12, HVEMU_R13, HVEMU_R14, HVEMU_R15,
    HVEMU_R16, HVEMU_R31 = 31,
    HVEMU_NUM_GPRS = 32
};

/* Segment registers in encoding order. */
enum hvemu_segreg { HVEMU_ES, HVEMU_CS, HVEMU_SS, HVEMU_DS, HVEMU_FS, HVEMU_GS, HVEMU_NUM_SEGS };

/* RFLAGS bits. */
#define HVEMU_FLAG_CF   (1u << 0)
#define HVEMU_FLAG_PF   (1u << 2)
#define HVEMU_FLAG_AF   (1u << 4)
#define HVEMU_FLAG_ZF   (1u << 6)
#define HVEMU_FLAG_SF   (1u << 7)
#define HVEMU_FLAG_TF   (1u << 8)
#define HVEMU_FLAG_IF   (1u << 9)
#define HVEMU_FLAG_DF   (1u << 10)
#define HVEMU_FLAG_OF   (1u << 11)
#define HVEMU_FLAG_IOPL (3u << 12)
#define HVEMU_FLAG_NT   (1u << 14)
#define HVEMU_FLAG_RF   (1u << 16)
#define HVEMU_FLAG_VM   (1u << 17)
#define HVEMU_FLAG_AC   (1u << 18)
#define HVEMU_FLAG_VIF  (1u << 19)
#define HVEMU_FLAG_VIP  (1u << 20)
#define HVEMU_FLAG_ID   (1u << 21)

/* A segment register with its hidden part. `attr` uses the VMX access-rights layout:
 * bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable. */
struct hvemu_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint32_t attr;
};
#define HVEMU_SEG_ATTR_L        (1u << 13)
#define HVEMU_SEG_ATTR_DB       (1u << 14)
#define HVEMU_SEG_ATTR_UNUSABLE (1u << 16)

struct hvemu_dtable {
    uint64_t base;
    uint16_t limit;
};

/* One vector register: the full ZMM; XMM is bytes 0..15, YMM bytes 0..31. */
typedef union hvemu_vec {
    uint8_t b[64];
    uint32_t d[16];
    uint64_t q[8];
} hvemu_vec;

/* Parts of the vCPU state, for valid/dirty tracking. Bits 0..31 are GPRs r0..r31. */
#define HVEMU_PART_GPR(n)   ((uint64_t)1 << (n))
#define HVEMU_PART_GPRS_LEGACY ((uint64_t)0xffff)
#define HVEMU_PART_EGPRS    ((uint64_t)0xffff0000)
#define HVEMU_PART_RIP      ((uint64_t)1 << 32)
#define HVEMU_PART_RFLAGS   ((uint64_t)1 << 33)
#define HVEMU_PART_SEG(s)   ((uint64_t)1 << (34 + (s))) /* 34..39 */
#define HVEMU_PART_SEGS     ((uint64_t)0x3f << 34)
#define HVEMU_PART_CR0      ((uint64_t)1 << 40)
#define HVEMU_PART_CR2      ((uint64_t)1 << 41)
#define HVEMU_PART_CR3      ((uint64_t)1 << 42)
#define HVEMU_PART_CR4      ((uint64_t)1 << 43)
#define HVEMU_PART_CR8      ((uint64_t)1 << 44)
#define HVEMU_PART_EFER     ((uint64_t)1 << 45)
#define HVEMU_PART_XCR0     ((uint64_t)1 << 46)
#define HVEMU_PART_DR       ((uint64_t)1 << 47)
#define HVEMU_PART_DTABLES  ((uint64_t)1 << 48) /* GDTR, IDTR, LDTR, TR */
#define HVEMU_PART_XMM      ((uint64_t)1 << 49) /* low 128 bits of vec[0..15] */
#define HVEMU_PART_YMM_HI   ((uint64_t)1 << 50) /* bits 255:128 of vec[0..15] */
#define HVEMU_PART_ZMM      ((uint64_t)1 << 51) /* bits 511:256 of vec[0..15], all of vec[16..31] */
#define HVEMU_PART_OPMASK   ((uint64_t)1 << 52)
#define HVEMU_PART_MXCSR    ((uint64_t)1 << 53)
#define HVEMU_PART_ALL      (((uint64_t)1 << 54) - 1)

/* The vCPU state the emulator reads and writes.
 *
 * `valid` says which parts hold the vCPU's values. When an instruction needs a part that is
 * not valid, hvemu asks hvemu_ops.load_state for it (KVM's lazy register cache is the model);
 * without that callback it answers HVEMU_UNHANDLEABLE naming the part. An embedder that syncs
 * GPRs, RIP and RFLAGS on every exit and the rest on demand pays for nothing else.
 *
 * `dirty` gains a bit for every part an instruction changed; hvemu never clears it, so the
 * embedder writes back exactly the dirty parts and then clears `dirty` itself.
 *
 * The struct is large (2 KiB of vector registers) but is never copied or cleared by hvemu. */
struct hvemu_state {
    uint64_t valid;
    uint64_t dirty;
    uint64_t gpr[HVEMU_NUM_GPRS];
    uint64_t rip;
    uint64_t rflags;
    struct hvemu_segment seg[HVEMU_NUM_SEGS];
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer;
    uint64_t xcr0;
    uint64_t dr[8];
    struct hvemu_dtable gdtr, idtr;
    struct hvemu_segment ldtr, tr;
    uint32_t mxcsr;
    uint64_t k[8];
    hvemu_vec vec[32];
};

/* ------------------------------------------------------------------------------------------
 * Exceptions and callback results
 * ---------------------------------------------------------------------------------------- */

enum hvemu_vector {
    HVEMU_EXC_DE = 0, HVEMU_EXC_DB = 1, HVEMU_EXC_BP = 3, HVEMU_EXC_OF = 4, HVEMU_EXC_BR = 5,
    HVEMU_EXC_UD = 6, HVEMU_EXC_NM = 7, HVEMU_EXC_DF = 8, HVEMU_EXC_TS = 10, HVEMU_EXC_NP = 11,
    HVEMU_EXC_SS = 12, HVEMU_EXC_GP = 13, HVEMU_EXC_PF = 14, HVEMU_EXC_MF = 16,
    HVEMU_EXC_AC = 17, HVEMU_EXC_MC = 18, HVEMU_EXC_XM = 19, HVEMU_EXC_VE = 20,
    HVEMU_EXC_CP = 21,
};

/* An architectural exception: vector, error code when the vector has one, CR2 for #PF. */
struct hvemu_exception {
    uint8_t vector;
    uint8_t has_error_code;
    uint32_t error_code;
    uint64_t cr2; /* #PF only: the faulting linear address */
    uint64_t dr6; /* #DB only (undefined for other vectors): the DR6 bits its delivery sets
                   * (BS for a single-step trap, BD for general detect), as KVM's exception
                   * payload; 0 for INT1 */
};

/* What an embedder callback answers. */
enum hvemu_cb_result {
    HVEMU_CB_OK = 0,        /* done */
    HVEMU_CB_FAULT,         /* the access raised the exception written to *exc (e.g. #PF) */
    HVEMU_CB_CHANGED,       /* cmpxchg only: memory held another value, now in *expected */
    HVEMU_CB_RETRY,         /* come back later (e.g. the device is busy): no side effect done */
    HVEMU_CB_UNHANDLEABLE,  /* the embedder cannot do this access */
};

/* Why hvemu touches memory; lets a device model tell transactions apart. */
enum hvemu_access {
    HVEMU_ACCESS_READ,      /* data read */
    HVEMU_ACCESS_WRITE,     /* data write */
    HVEMU_ACCESS_RMW_READ,  /* read half of a read-modify-write (locked ones commit through
                             * cmpxchg instead of a RMW_WRITE); faults as a write would (W=1) */
    HVEMU_ACCESS_RMW_WRITE, /* write half of an unlocked read-modify-write */
    HVEMU_ACCESS_STACK_READ,
    HVEMU_ACCESS_STACK_WRITE,
    HVEMU_ACCESS_FETCH,     /* instruction fetch */
    HVEMU_ACCESS_SYSTEM,    /* descriptor tables and other implicit supervisor accesses */
};

/* The embedder's callbacks. Addresses are linear (segment base added, canonical checked);
 * translating them is the embedder's business, and a translation failure is answered with
 * HVEMU_CB_FAULT and the #PF it would raise. hvemu splits every access that crosses a 4 KiB
 * page into one call per page, in address order, so each call stays within one page.
 * Any callback may be NULL: an instruction that needs it answers HVEMU_UNHANDLEABLE. */
struct hvemu_ops {
    /* Read `size` (1..64) bytes at `addr` into `data`. */
    int (*read)(void *opaque, uint64_t addr, void *data, unsigned size,
                enum hvemu_access kind, struct hvemu_exception *exc);
    /* Write `size` (1..64) bytes. */
    int (*write)(void *opaque, uint64_t addr, const void *data, unsigned size,
                 enum hvemu_access kind, struct hvemu_exception *exc);
    /* Atomically: if memory at `addr` equals *expected (size 1, 2, 4, 8 or 16), store *desired
     * and answer HVEMU_CB_OK; otherwise copy what memory holds into *expected and answer
     * HVEMU_CB_CHANGED. Locked instructions and XCHG commit only through this callback, with
     * the value they read as *expected; on HVEMU_CB_CHANGED the instruction is computed again
     * from the fresh value (up to ctx->max_cmpxchg_retries, then HVEMU_RETRY, nothing done).
     * A locked access that crosses a page is refused (HVEMU_UNHANDLEABLE, "split lock"),
     * never split into two compare-exchanges. Unlocked read-modify-write instructions make
     * two accesses, read (HVEMU_ACCESS_RMW_READ) then write (RMW_WRITE), as on hardware.
     * struct hvemu_hostmem below implements this with the host's atomic instructions. */
    int (*cmpxchg)(void *opaque, uint64_t addr, void *expected, const void *desired,
                   unsigned size, struct hvemu_exception *exc);
    /* Optional: answer the fault that writing `size` bytes at `addr` would raise, without
     * writing (HVEMU_CB_OK if none). hvemu asks before committing a write that crosses a page
     * or an instruction's second write, so that a fault on a later piece leaves no earlier
     * piece written. Without it, such a fault can leave the earlier piece written. */
    int (*probe_write)(void *opaque, uint64_t addr, unsigned size, struct hvemu_exception *exc);
    /* Instruction fetch: up to `size` bytes at `addr`; answer with *fetched set to how many
     * bytes could be read (at least 1 unless faulting). NULL means "use read". */
    int (*fetch)(void *opaque, uint64_t addr, void *data, unsigned size, unsigned *fetched,
                 struct hvemu_exception *exc);
    /* Port I/O of 1, 2 or 4 bytes. */
    int (*pio_in)(void *opaque, uint16_t port, void *data, unsigned size,
                  struct hvemu_exception *exc);
    int (*pio_out)(void *opaque, uint16_t port, const void *data, unsigned size,
                   struct hvemu_exception *exc);
    /* MSRs (RDMSR, WRMSR, SWAPGS's IA32_KERNEL_GS_BASE); answering HVEMU_CB_FAULT with #GP(0)
     * is the usual "no such MSR". IA32_FS_BASE and IA32_GS_BASE never come here: they are the
     * FS/GS bases in the state. After a WRMSR of IA32_EFER, which the state mirrors, hvemu
     * clears HVEMU_PART_EFER in `valid`, so load_state is asked for what the write made of it. */
    int (*rdmsr)(void *opaque, uint32_t msr, uint64_t *value, struct hvemu_exception *exc);
    int (*wrmsr)(void *opaque, uint32_t msr, uint64_t value, struct hvemu_exception *exc);
    /* CPUID leaf/subleaf -> eax, ebx, ecx, edx: the guest's CPUID. Besides the CPUID
     * instruction, the rules that depend on the CPU ask it: reserved bits of CR3 (the
     * physical-address width), CR4 (which features exist), DR6, and the XCR0 values XSETBV
     * accepts. Without it those writes answer HVEMU_UNHANDLEABLE. */
    int (*cpuid)(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
    /* Time-stamp counter and, for RDTSCP/RDPID, IA32_TSC_AUX. */
    int (*rdtsc)(void *opaque, uint64_t *tsc, uint32_t *tsc_aux);
    /* Load the state parts in `parts` (HVEMU_PART_*) into *state and set them in valid. */
    int (*load_state)(void *opaque, struct hvemu_state *state, uint64_t parts);
    /* RDRAND (seed = 0) and RDSEED (seed = 1): a random number in *value and *valid = 1, or
     * *valid = 0 when none is available now (the instruction then gives 0 with CF = 0, as the
     * hardware does when its entropy source is exhausted). hvemu has no entropy of its own. */
    int (*rdrand)(void *opaque, int seed, uint64_t *value, int *valid);
};

/* ------------------------------------------------------------------------------------------
 * Decoding
 * ---------------------------------------------------------------------------------------- */

enum hvemu_decode_status {
    HVEMU_DECODE_OK = 0,
    HVEMU_DECODE_UD,        /* invalid encoding (or a disabled feature): #UD */
    HVEMU_DECODE_TOO_LONG,  /* longer than 15 bytes: #GP(0) */
    HVEMU_DECODE_TRUNCATED, /* the bytes end before the instruction does: need more bytes */
};

enum hvemu_encoding {
    HVEMU_ENC_LEGACY, HVEMU_ENC_REX2, HVEMU_ENC_VEX, HVEMU_ENC_EVEX,
};

/* Opcode maps: legacy map 0 (one byte), 0F, 0F38, 0F3A; VEX/EVEX use 1..3 the same way and
 * EVEX adds 4 (APX promoted), 5 and 6 (AVX512-FP16). x87 is map 0 opcodes D8..DF. */
enum hvemu_map {
    HVEMU_MAP_0 = 0, HVEMU_MAP_0F = 1, HVEMU_MAP_0F38 = 2, HVEMU_MAP_0F3A = 3,
    HVEMU_MAP_4 = 4, HVEMU_MAP_5 = 5, HVEMU_MAP_6 = 6,
};

/* Register classes of operands. */
enum hvemu_reg_class {
    HVEMU_REG_NONE,
    HVEMU_REG_GPR8,      /* al..r31b (with REX/REX2: spl, bpl, sil, dil for 4..7) */
    HVEMU_REG_GPR8_HIGH, /* ah, ch, dh, bh (index 4..7 without REX) */
    HVEMU_REG_GPR16, HVEMU_REG_GPR32, HVEMU_REG_GPR64,
    HVEMU_REG_SEG, HVEMU_REG_CR, HVEMU_REG_DR,
    HVEMU_REG_ST,        /* x87 st(i) */
    HVEMU_REG_MM,        /* MMX */
    HVEMU_REG_XMM, HVEMU_REG_YMM, HVEMU_REG_ZMM,
    HVEMU_REG_K,         /* AVX-512 opmask */
    HVEMU_REG_TMM,       /* AMX tile */
    HVEMU_REG_BND,       /* MPX bound */
    HVEMU_REG_RIP,       /* only as a memory base: RIP-relative */
};

enum hvemu_operand_kind {
    HVEMU_OP_NONE, HVEMU_OP_REG, HVEMU_OP_MEM, HVEMU_OP_IMM,
    HVEMU_OP_REL,  /* branch displacement; `imm` holds it sign-extended */
    HVEMU_OP_FARPTR, /* ptr16:16/32 immediate: `imm` offset, `imm_sel` selector */
};

/* Operand access, as the instruction uses it. */
#define HVEMU_OPA_READ  1u
#define HVEMU_OPA_WRITE 2u
#define HVEMU_OPA_COND  4u /* written only under a condition (CMOVcc, CFCMOV, masking) */

struct hvemu_mem {
    uint8_t segment;   /* enum hvemu_segreg, after overrides */
    uint8_t base_class, base;   /* base register: class GPRxx or HVEMU_REG_RIP, or NONE */
    uint8_t index_class, index; /* index register: GPRxx or a vector class (VSIB), or NONE */
    uint8_t scale;     /* 1, 2, 4, 8 */
    uint8_t bcst;      /* EVEX embedded broadcast: element count, else 0 */
    uint8_t addr_size; /* 2, 4 or 8 bytes */
    int64_t disp;      /* the displacement, sign-extended and (EVEX) already scaled by N */
};

struct hvemu_operand {
    uint8_t kind;   /* enum hvemu_operand_kind */
    uint8_t access; /* HVEMU_OPA_* */
    uint16_t size;  /* bytes accessed (memory), register width, or immediate width */
    union {
        struct {
            uint8_t cls; /* enum hvemu_reg_class */
            uint8_t idx;
        } reg;
        struct hvemu_mem mem;
        struct {
            uint64_t imm;
            uint16_t imm_sel;
        } imm;
    } u;
};

#define HVEMU_MAX_OPERANDS 5

/* Legacy prefixes seen (bits of hvemu_insn.prefixes). */
#define HVEMU_PFX_LOCK  0x01u
#define HVEMU_PFX_REP   0x02u /* F3 */
#define HVEMU_PFX_REPNE 0x04u /* F2 */
#define HVEMU_PFX_OPSZ  0x08u /* 66 */
#define HVEMU_PFX_ADSZ  0x10u /* 67 */
#define HVEMU_PFX_SEG   0x20u /* a segment override (hvemu_insn.seg_override says which) */
#define HVEMU_PFX_REX   0x40u /* an effective REX (the last prefix) */

/* A decoded instruction. Plain data: copy it, keep it, decode again into it. */
struct hvemu_insn {
    uint8_t length;      /* bytes, 1..15 */
    uint8_t mode;        /* enum hvemu_mode */
    uint8_t encoding;    /* enum hvemu_encoding */
    uint8_t map;         /* enum hvemu_map */
    uint8_t opcode;
    uint8_t modrm, sib;  /* valid when has_modrm / has_sib */
    uint8_t has_modrm, has_sib;
    uint8_t prefixes;    /* HVEMU_PFX_* */
    uint8_t seg_override;/* enum hvemu_segreg when HVEMU_PFX_SEG */
    uint8_t mandatory;   /* mandatory prefix used: 0 none, 0x66, 0xF3, 0xF2 */
    uint8_t opsize;      /* effective operand size in bytes: 2, 4, 8 (1 for byte forms) */
    uint8_t addrsize;    /* effective address size in bytes: 2, 4, 8 */
    /* REX / REX2 / VEX / EVEX fields, normalised to positive polarity */
    uint8_t rex_w, rex_r, rex_x, rex_b;   /* bit 3 of the register numbers */
    uint8_t rex_r4, rex_x4, rex_b4;      /* bit 4 (REX2, EVEX) */
    uint8_t vex_l;       /* vector length: 0=128, 1=256, 2=512 */
    uint8_t vvvv;        /* VEX/EVEX second source / NDD destination, 0..31 */
    uint8_t evex_aaa;    /* opmask */
    uint8_t evex_z, evex_b, evex_nd, evex_nf;
    uint8_t evex_scc;    /* APX CCMP/CTEST source condition */
    uint8_t evex_dfv;    /* APX CCMP/CTEST default flags: OF SF ZF CF in bits 3..0 */
    uint8_t disp_size, imm_size; /* bytes of displacement and immediate(s) in the encoding */
    uint8_t noperands;
    uint16_t mnemonic;   /* see hvemu_mnemonic_name() */
    uint64_t attrs;      /* internal: decode attributes from the opcode table */
    const void *entry;   /* internal: the opcode-table entry (handler and flags) */
    struct hvemu_operand op[HVEMU_MAX_OPERANDS];
};

/* Decode the instruction at `bytes` (at most `len` of them are read; 15 suffice).
 * Returns enum hvemu_decode_status; on HVEMU_DECODE_OK *insn describes the instruction.
 * `features` may be NULL for "every feature" (hvemu_features_all()). */
HVEMU_API int hvemu_decode(const uint8_t *bytes, size_t len, enum hvemu_mode mode,
                 const hvemu_features *features, struct hvemu_insn *insn);

/* The mnemonic's lower-case name ("add", "vaddps", ...). */
HVEMU_API const char *hvemu_mnemonic_name(unsigned mnemonic);

/* Intel-syntax text of a decoded instruction into buf (always NUL-terminated when size > 0).
 * `address` is the instruction's address, used to print branch targets; returns the length
 * the full text has (like snprintf). */
HVEMU_API int hvemu_format(const struct hvemu_insn *insn, uint64_t address, char *buf, size_t size);

/* Name of a register ("rax", "r17d", "xmm3", "k1"...), or NULL. */
HVEMU_API const char *hvemu_reg_name(enum hvemu_reg_class cls, unsigned idx);

/* ------------------------------------------------------------------------------------------
 * Emulation
 * ---------------------------------------------------------------------------------------- */

enum hvemu_status {
    HVEMU_OK = 0,          /* executed: state updated, RIP advanced (or a REP chunk done) */
    HVEMU_EXCEPTION,       /* the instruction raises result.exc; state as before it */
    HVEMU_RETRY,           /* nothing was done; re-enter the guest and let it run again */
    HVEMU_UNHANDLEABLE,    /* hvemu cannot emulate this; result.reason says why */
    HVEMU_TRAP,            /* executed as for HVEMU_OK (state updated, RIP past the instruction,
                            * or on a REP instruction with one more iteration done), and the
                            * instruction raised a trap the embedder delivers now: result.exc,
                            * of the kind result.trap_type says (for VMX/SVM event injection) */
};

/* What kind of event a HVEMU_TRAP is. */
enum hvemu_trap_type {
    HVEMU_TRAP_DEBUG = 0,     /* #DB after an instruction that began with RFLAGS.TF set
                               * (single-step; exc.dr6 has BS); INT n/INT3/INT1 never add it */
    HVEMU_TRAP_SOFT_INT,      /* INT n: vector n */
    HVEMU_TRAP_SOFT_EXC,      /* INT3: #BP (and INTO's #OF outside 64-bit mode) */
    HVEMU_TRAP_PRIV_SOFT_EXC, /* INT1 (ICEBP): #DB, no DR6 bits */
};
/* For a software interrupt or exception (INT n, INT3, INT1) the gate checks (IDT entry type,
 * DPL against CPL, presence) belong to delivery: VMX and SVM event injection of those types
 * perform them, given the instruction length (result.insn_len; RIP is already past it). */

/* Work an instruction leaves to the embedder, beside the state it changed (HVEMU_OK or
 * HVEMU_TRAP). hvemu has no TLB, cache or scheduler of its own. */
enum hvemu_event {
    HVEMU_EVENT_NONE = 0,
    HVEMU_EVENT_HALT,      /* HLT: the vCPU halts until an interrupt (or NMI, SMI, INIT) */
    HVEMU_EVENT_INVLPG,    /* INVLPG: invalidate the TLB entries for result.event_addr */
    HVEMU_EVENT_WBINVD,    /* WBINVD: write back and invalidate caches */
    HVEMU_EVENT_WBNOINVD,  /* WBNOINVD: write back caches */
    HVEMU_EVENT_INVD,      /* INVD: invalidate caches without writing back */
    HVEMU_EVENT_SS_SHADOW, /* MOV SS / POP SS: the next instruction runs with blocking by MOV SS
                            * (no interrupt before it; a single-step trap is taken after it,
                            * so none is reported for this one: VMX sets pending debug BS) */
    HVEMU_EVENT_STI_SHADOW,/* STI that set IF: no maskable interrupt before the next instruction
                            * has run (VMX: blocking by STI) */
    HVEMU_EVENT_INVPCID,   /* INVPCID: result.event_arg bits 1:0 the type (0 one address,
                            * 1 one PCID, 2 all with globals, 3 all but globals), bits 27:16
                            * the PCID; result.event_addr the linear address (type 0) */
    HVEMU_EVENT_IRET,      /* IRET: blocking by NMI ends (virtual-NMI bookkeeping) */
};

struct hvemu_result {
    int status;                  /* enum hvemu_status */
    struct hvemu_exception exc;  /* HVEMU_EXCEPTION */
    const char *reason;          /* HVEMU_UNHANDLEABLE / HVEMU_RETRY: static text */
    char detail[64];             /* the instruction's mnemonic or bytes, for messages */
    uint32_t retries;            /* compare-exchange retries this emulation needed */
    uint8_t trap_type;           /* HVEMU_TRAP: enum hvemu_trap_type */
    uint8_t insn_len;            /* HVEMU_TRAP: the instruction's length */
    uint8_t event;               /* HVEMU_OK / HVEMU_TRAP: enum hvemu_event */
    uint64_t event_addr;         /* HVEMU_EVENT_INVLPG, _INVPCID: the linear address */
    uint32_t event_arg;          /* HVEMU_EVENT_INVPCID: type and PCID */
};

/* Context of one vCPU. Initialise with hvemu_init(); fields below `opaque` are tunables. */
struct hvemu_ctx {
    const struct hvemu_ops *ops;
    void *opaque;                /* passed to every callback */
    struct hvemu_state *state;
    hvemu_features features;     /* enabled features: hvemu_init() enables all; a VMM sets the
                                  * guest's, hvemu_features_from_cpuid(its cpuid callback, opaque)
                                  * (APX also needs XCR0[19] and CR4.OSXSAVE) */
    uint32_t rep_chunk;          /* max iterations of a REP string per call (default 1024) */
    uint32_t max_cmpxchg_retries;/* locked RMW retries before HVEMU_RETRY (default 64) */
    struct hvemu_insn insn;      /* the last decoded instruction (owned by the context) */
    /* Decode cache (internal): the bytes `insn` was decoded from. A VMM emulates the same MMIO
     * instruction again and again; when the fetched bytes equal these (and, when APX was
     * needed, XCR0[19] and CR4.OSXSAVE are still set), the decode is reused. Decoding depends
     * only on the bytes, the mode and the features (and for APX on that gate), so a hit is
     * exact. */
    uint8_t cached_bytes[16];
    hvemu_features cached_features; /* ctx->features when they were decoded */
    uint8_t cached_len;          /* 0: nothing cached */
    uint8_t cached_apx;          /* 1: needed APX (a hit re-checks XCR0/CR4); 0x80 | mode: 16/32-bit */
};

/* Set up a context: ops, opaque and state, every feature enabled, default tunables. */
HVEMU_API void hvemu_init(struct hvemu_ctx *ctx, const struct hvemu_ops *ops, void *opaque,
                struct hvemu_state *state);

/* Emulate the instruction at CS:RIP. Bytes are fetched through ops->fetch (or ops->read). */
HVEMU_API int hvemu_emulate(struct hvemu_ctx *ctx, struct hvemu_result *result);

/* As hvemu_emulate(), with the instruction bytes already at hand (e.g. from the exit
 * information); they are used as far as they go and fetched beyond. */
HVEMU_API int hvemu_emulate_bytes(struct hvemu_ctx *ctx, const uint8_t *bytes, size_t len,
                        struct hvemu_result *result);

/* ------------------------------------------------------------------------------------------
 * Intel APX state: r16..r31 and XCR0
 * ---------------------------------------------------------------------------------------- */

/* XCR0 bits involved. APX's state (r16..r31) is XSAVE state component 19; MPX's bound registers
 * are components 3 and 4, which share its place in the standard XSAVE layout, so the
 * architecture refuses an XCR0 that enables both (XSETBV raises #GP(0)). */
#define HVEMU_XCR0_BNDREGS (1ull << 3)
#define HVEMU_XCR0_BNDCSR  (1ull << 4)
#define HVEMU_XCR0_APX     (1ull << 19)
/* Where component 19 lives in a standard-format (non-compacted) XSAVE area: 16 registers of
 * 8 bytes, r16 first. Bit 19 of XSTATE_BV (the header's first 8 bytes, at offset 512) says
 * whether the component holds data or its initial state (all zero). */
#define HVEMU_XSAVE_APX_OFFSET 960u
#define HVEMU_XSAVE_APX_SIZE   128u
#define HVEMU_XSAVE_HEADER_OFFSET 512u

/* Whether `xcr0` is acceptable as far as APX is concerned: 0 when it enables APX together with
 * either MPX component (the value XSETBV refuses with #GP(0)), 1 otherwise. A VMM checks this
 * when the guest executes XSETBV, alongside its other XCR0 rules. */
HVEMU_API int hvemu_xcr0_apx_ok(uint64_t xcr0);

/* Store r16..r31 from *state into the APX component of a standard-format XSAVE area of `size`
 * bytes (at least HVEMU_XSAVE_APX_OFFSET + HVEMU_XSAVE_APX_SIZE = 1088) and set bit 19 of its
 * XSTATE_BV. Bytes outside the component and that bit are not touched. The EGPR parts must be
 * valid in *state (they are read as they are). Returns 0, or -1 when the area is too small. */
HVEMU_API int hvemu_apx_xsave(const struct hvemu_state *state, void *xsave, size_t size);

/* Load r16..r31 into *state from the APX component of a standard-format XSAVE area: the stored
 * values when XSTATE_BV bit 19 is set, zeros (the component's initial state) when it is clear,
 * as XRSTOR does. The EGPR parts become valid and dirty. Returns 0, or -1 when the area is too
 * small (then *state is unchanged). */
HVEMU_API int hvemu_apx_xrstor(struct hvemu_state *state, const void *xsave, size_t size);

/* ------------------------------------------------------------------------------------------
 * Ready-made memory: guest memory that lives in host RAM, device ranges behind callbacks
 * ----------------------------------------------------------------------------------------
 *
 * struct hvemu_hostmem describes guest-linear memory as a list of regions. A RAM region maps
 * [base, base+size) to host bytes at `host`; a device region (host == NULL) forwards every
 * access in its range to the device model's own struct hvemu_ops (read, write, cmpxchg,
 * probe_write, fetch) with `dev_opaque` and the address unchanged, so a device model written
 * against hvemu_ops works the same standalone and behind hostmem. Regions must not overlap;
 * they are searched in order (put the busiest first). An address outside every region raises
 * #PF with error code P=0, W for writes, compare-exchanges and the read half of a
 * read-modify-write (as the CPU reports it), I/D for fetches, plus the bits
 * of `pf_error_code` (e.g. 4, U/S, for a user-mode vCPU), and CR2 = the first address not
 * covered. hostmem itself is freestanding: no allocation, no locks, no state of its own, so
 * any number of vCPU threads use one struct hvemu_hostmem at once.
 *
 * Setting it up:
 *     struct hvemu_hostmem_region regs[] = {
 *         { .base = 0x0, .size = ram_size, .host = ram },              // guest RAM
 *         { .base = 0xfee00000, .size = 0x1000, .dev = &apic_ops, .dev_opaque = apic },
 *     };
 *     struct hvemu_hostmem mem = { .regions = regs, .nregions = 2, .user = my_vm };
 *     struct hvemu_ops ops = { .pio_in = my_pio_in, ... };  // the non-memory callbacks
 *     hvemu_hostmem_ops(&ops);      // fills read, write, cmpxchg, probe_write, fetch
 *     hvemu_init(&ctx, &ops, &mem, &state);   // opaque = &mem; mem.user is the VM's own
 *
 * How RAM is accessed (x86-64 hosts; other hosts use the C11 atomics for the aligned cases and
 * answer HVEMU_CB_UNHANDLEABLE for the misaligned compare-exchanges):
 *  - read/write of 1, 2, 4, 8 bytes: one host load/store of that width. Aligned, it is atomic
 *    (C11 acquire load / release store: a MOV on x86); misaligned but within a 64-byte cache
 *    line, a single MOV is still atomic on x86 (as for the guest on hardware); across a cache
 *    line it is not (nor is it on hardware).
 *  - read/write of 16 bytes aligned: one MOVDQA, atomic on CPUs with AVX (Intel and AMD
 *    document it; a build without SSE, e.g. for a kernel, copies instead); other sizes (and
 *    pieces of an access split at a page or region boundary) are copied bytewise, not
 *    atomic, as on hardware.
 *  - compare-exchange of 1, 2, 4, 8 bytes: LOCK CMPXCHG of that width. Aligned or within one
 *    cache line it is atomic and cheap. Misaligned across a cache line it is a host split lock:
 *    still atomic (the CPU locks the bus), but slow, and a host kernel with split-lock
 *    detection may warn, throttle or send SIGBUS; set HVEMU_HOSTMEM_NO_SPLIT_LOCK to refuse
 *    those with HVEMU_CB_UNHANDLEABLE instead. hvemu itself refuses a locked access that
 *    crosses a page (HVEMU_UNHANDLEABLE, "split lock"), so no compare-exchange reaches hostmem
 *    split in two.
 *  - compare-exchange of 16 bytes: LOCK CMPXCHG16B, which needs a 16-byte aligned address
 *    (the only 16-byte locked instruction, CMPXCHG16B, raises #GP(0) in hvemu when misaligned,
 *    so a misaligned one never arrives; answered HVEMU_CB_UNHANDLEABLE).
 *  - a compare-exchange that spans two regions is refused (HVEMU_CB_UNHANDLEABLE); a write
 *    that spans regions is checked (probe) over its whole length before any byte is written.
 *
 * Plugging a device model behind a range: give the region `dev` (its callbacks) and
 * `dev_opaque`. The device sees exactly the accesses the guest makes in its range, with their
 * kind (an unlocked read-modify-write arrives as RMW_READ then RMW_WRITE). Locked instructions
 * and XCHG reach the device only as `cmpxchg`: implement it atomically against the device's
 * own state, e.g. take the device's lock, compare the register with *expected, store *desired
 * or copy the register into *expected and answer HVEMU_CB_CHANGED, release the lock. A device
 * whose registers are plain host memory can call hvemu_host_cmpxchg() on them. A device
 * without a cmpxchg callback makes locked accesses to it HVEMU_UNHANDLEABLE (never a plain
 * write). A NULL read/write answers HVEMU_CB_UNHANDLEABLE; a NULL probe_write means "never
 * faults"; a NULL fetch falls back to read with HVEMU_ACCESS_FETCH. */

#define HVEMU_HOSTMEM_RDONLY 0x1u /* region: writes, cmpxchg and RMW reads raise #PF (P=1, W) */
#define HVEMU_HOSTMEM_NOEXEC 0x2u /* region: instruction fetches raise #PF (P=1, I/D) */

struct hvemu_hostmem_region {
    uint64_t base;                /* first guest-linear address of the range */
    uint64_t size;                /* length in bytes */
    void *host;                   /* RAM: guest byte base+i is host byte host+i; NULL: device */
    const struct hvemu_ops *dev;  /* device range: the device model's memory callbacks */
    void *dev_opaque;             /* passed to them */
    uint32_t flags;               /* HVEMU_HOSTMEM_RDONLY, HVEMU_HOSTMEM_NOEXEC */
};

#define HVEMU_HOSTMEM_NO_SPLIT_LOCK 0x1u /* refuse a RAM compare-exchange across a cache line */

struct hvemu_hostmem {
    const struct hvemu_hostmem_region *regions;
    unsigned nregions;
    uint32_t flags;               /* HVEMU_HOSTMEM_NO_SPLIT_LOCK */
    uint32_t pf_error_code;       /* OR-ed into every #PF error code hostmem raises */
    void *user;                   /* the embedder's own pointer, for its other callbacks */
};

/* Fill ops->read, write, cmpxchg, probe_write and fetch with the hostmem callbacks below; the
 * other fields are left as they are. The context's opaque must be the struct hvemu_hostmem. */
HVEMU_API void hvemu_hostmem_ops(struct hvemu_ops *ops);

/* The callbacks themselves (opaque = struct hvemu_hostmem *), for embedders that wrap them. */
HVEMU_API int hvemu_hostmem_read(void *hostmem, uint64_t addr, void *data, unsigned size,
                                 enum hvemu_access kind, struct hvemu_exception *exc);
HVEMU_API int hvemu_hostmem_write(void *hostmem, uint64_t addr, const void *data, unsigned size,
                                  enum hvemu_access kind, struct hvemu_exception *exc);
HVEMU_API int hvemu_hostmem_cmpxchg(void *hostmem, uint64_t addr, void *expected,
                                    const void *desired, unsigned size,
                                    struct hvemu_exception *exc);
HVEMU_API int hvemu_hostmem_probe_write(void *hostmem, uint64_t addr, unsigned size,
                                        struct hvemu_exception *exc);
HVEMU_API int hvemu_hostmem_fetch(void *hostmem, uint64_t addr, void *data, unsigned size,
                                  unsigned *fetched, struct hvemu_exception *exc);

/* Atomic compare-exchange on host memory, as hostmem does it for RAM: if the `size` bytes
 * (1, 2, 4, 8 or 16) at `ptr` equal *expected, store *desired and answer HVEMU_CB_OK; else
 * copy them into *expected and answer HVEMU_CB_CHANGED. HVEMU_CB_UNHANDLEABLE for another size,
 * a 16-byte `ptr` not 16-byte aligned, or (non-x86 hosts) a misaligned `ptr`. `no_split_lock`
 * refuses a misaligned access that crosses a 64-byte line. For device models. */
HVEMU_API int hvemu_host_cmpxchg(void *ptr, void *expected, const void *desired, unsigned size,
                                 int no_split_lock);

#ifdef __cplusplus
}
#endif
#endif /* HVEMU_H */
