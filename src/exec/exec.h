/* SPDX-License-Identifier: MIT */
/*
 * Internal interface of execution: the per-emulation working state (struct exec), operand and
 * memory access (src/mem/access.c), flag helpers (src/exec/flags.h) and the handlers of each
 * instruction family (src/exec/<family>.c), found through hv_exec_handlers[mnemonic].
 *
 * The commit model: handlers never change the vCPU state directly. Memory reads go to the
 * embedder at once (a device register is read exactly once); register, flag and RIP updates and
 * memory writes are staged in struct exec and applied by exec_commit() only when the whole
 * instruction succeeded. An exception, a retry or an unhandleable answer therefore leaves the
 * state exactly as before the instruction.
 */
#ifndef HVEMU_EXEC_H
#define HVEMU_EXEC_H

#include "hvemu.h"
#include "tables.gen.h"
#include "modes/modes.h"
#include "x86.h"

/* The library is built with -ffreestanding, which turns every memcpy() into a call to libc
 * (through the PLT): fixed-size copies go through the builtin, which compiles to moves. */
static inline uint64_t load_u64(const void *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}
static inline void store_u64(void *p, uint64_t v)
{
    __builtin_memcpy(p, &v, 8);
}
/* Copy n (0..64) bytes; the sizes of operands are moves. */
static inline void copy_small(void *dst, const void *src, unsigned n)
{
    switch (n) {
    case 1: __builtin_memcpy(dst, src, 1); break;
    case 2: __builtin_memcpy(dst, src, 2); break;
    case 4: __builtin_memcpy(dst, src, 4); break;
    case 8: __builtin_memcpy(dst, src, 8); break;
    case 16: __builtin_memcpy(dst, src, 16); break;
    default: {
        uint8_t *d = dst;
        const uint8_t *s = src;
        for (unsigned i = 0; i < n; i++)
            d[i] = s[i];
    }
    }
}

/* Handler results. */
enum {
    X_OK = 0,
    X_EXC,      /* x->res->exc is set */
    X_UNHANDLED,/* x->res->reason is set */
    X_RETRY,    /* x->res->reason is set; nothing done */
    X_CHANGED,  /* internal: a locked commit found memory changed; re-execute */
    X_TRAP,     /* completed: commit, then report x->res->exc as a trap (INT n, INT3, INT1) */
};

#define EXEC_MAX_WRITES 4

/* A system register write staged by a system instruction (src/exec/system.c). */
enum exec_sysreg {
    SYSREG_CR0, SYSREG_CR2, SYSREG_CR3, SYSREG_CR4, SYSREG_CR8,
    SYSREG_DR0, /* .. SYSREG_DR0 + 7 */
    SYSREG_XCR0 = SYSREG_DR0 + 8,
    SYSREG_FS_BASE, SYSREG_GS_BASE,
    SYSREG_GDTR, SYSREG_IDTR,    /* value = base, limit = limit */
    SYSREG_DROP_VALID,           /* value = state parts an MSR callback changed: reload them */
    SYSREG_SEG0,                 /* .. SYSREG_SEG0 + 5: a whole segment register (value = base,
                                  * limit, attr, selector) */
    SYSREG_LDTR = SYSREG_SEG0 + 6, SYSREG_TR, /* the same for LDTR and TR */
    SYSREG_SIMD,                 /* the SIMD fields below: simd_apply() (src/exec/simd.c) */
    SYSREG_RFLAGS,               /* RFLAGS as IRET loads it: RF kept (the completion rule that
                                  * clears RF does not apply) */
};
#define EXEC_MAX_SYS 8 /* IRET: CS, SS, RFLAGS and the four data segments it may null */
struct exec_sysw {
    uint8_t reg;      /* enum exec_sysreg */
    uint16_t selector;
    uint32_t limit;
    uint32_t attr;
    uint64_t value;
};

struct exec_write {
    uint64_t la;          /* linear address */
    uint16_t size;
    uint8_t kind;         /* enum hvemu_access */
    uint8_t locked;       /* commit with cmpxchg against `old` */
    uint8_t data[64];
    uint8_t old[16];      /* locked: the value read */
};

/* Only the fields before new_gpr[] are set up per emulation (emulate.c): new_gpr[] and wr[]
 * are read only where gpr_dirty and nwrites say they were written, lock_val only when
 * lock_fresh says so. The hot fields come first so they share cache lines. */
struct exec {
    struct hvemu_ctx *ctx;
    struct hvemu_state *s;
    const struct hvemu_insn *in;
    struct hvemu_result *res;
    uint64_t rip_next;          /* RIP after this instruction (fall-through) */
    uint64_t new_rip;           /* RIP to commit */
    uint64_t new_rflags;        /* RFLAGS to commit (starts as the current value) */
    uint32_t gpr_dirty;         /* which new_gpr[] entries are staged */
    unsigned nwrites;
    uint8_t locked;             /* LOCK prefix or implicitly locked (XCHG with memory) */
    uint8_t state_missing;      /* a register read found its state part unavailable */
    uint8_t nsys;               /* system register writes staged in sys[] */
    uint8_t lock_fresh;         /* a failed cmpxchg left the current value in lock_val */
    uint8_t mode;               /* enum hv_cpu_mode: 0 is 64-bit mode (src/modes/) */
    uint64_t lock_la;           /* locked RMW: the address read, and the value it held */
    uint64_t new_gpr[HVEMU_NUM_GPRS];
    struct exec_write wr[EXEC_MAX_WRITES];
    struct exec_sysw sys[EXEC_MAX_SYS];
    uint8_t lock_val[16];
    /* SIMD staging (src/exec/simd.c), set up and read by the SIMD handlers only: bytes
     * [0, vec_extent) of vec[vec_idx] (0: none), opmask k[k_idx], and a masked store of the
     * bytes of simd_st_data selected by simd_st_bytes at simd_st_la (simd_st_runs runs). */
    uint8_t vec_idx, vec_extent, k_idx, k_staged, simd_st_runs;
    uint64_t new_k, simd_st_la, simd_st_bytes;
    hvemu_vec new_vec;
    uint8_t simd_st_data[64];
};

/* Apply the staged GPRs and RFLAGS to the state and mark them dirty (RIP is the caller's): the
 * register half of every commit, inline for emulate.c's fast path. */
static inline void apply_registers(struct exec *x)
{
    struct hvemu_state *s = x->s;
    uint32_t d = x->gpr_dirty;
    if (d) {
        s->dirty |= d;
        do {
            unsigned i = (unsigned)__builtin_ctz(d);
            d &= d - 1;
            s->gpr[i] = x->new_gpr[i];
        } while (d);
    }
    if (x->new_rflags != s->rflags) {
        s->rflags = x->new_rflags;
        s->dirty |= HVEMU_PART_RFLAGS;
    }
}

/* Stage a system register write (applied at commit, with its dirty part). */
static inline struct exec_sysw *sys_stage(struct exec *x, unsigned reg, uint64_t value,
                                          uint32_t limit)
{
    struct exec_sysw *w = &x->sys[x->nsys++];
    w->reg = (uint8_t)reg;
    w->value = value;
    w->limit = limit;
    return w;
}

/* ---- segment registers (src/exec/segment.c) ---- */
/* Load segment register `seg` with `selector` as MOV/POP/LSS/LFS/LGS do: the descriptor read
 * and checks, the accessed bit, the hidden part staged. */
int segreg_load(struct exec *x, unsigned seg, uint16_t selector);

/* Apply what a SIMD handler staged (a masked store's runs, vector and opmask registers). */
int simd_apply(struct exec *x);

/* Load state parts that are not valid (lazy getter); X_UNHANDLED if they cannot be had. */
int exec_need(struct exec *x, uint64_t parts);
/* Apply staged memory, register and flag writes, keep RIP; staging is emptied. */
int exec_commit_effects(struct exec *x);
/* Apply the staged writes, then RIP; X_CHANGED when a locked commit found memory changed. */
static inline int exec_commit(struct exec *x)
{
    int rc = exec_commit_effects(x);
    if (rc == X_OK) {
        x->s->rip = x->new_rip;
        x->s->dirty |= HVEMU_PART_RIP;
    }
    return rc;
}

typedef int (*exec_fn)(struct exec *x);
extern const exec_fn hv_exec_handlers[HV_MN_COUNT];

/* ---- results ---- */
int exec_exception(struct exec *x, unsigned vector, int has_error, uint32_t error);
static inline int exec_gp0(struct exec *x) { return exec_exception(x, HVEMU_EXC_GP, 1, 0); }
static inline int exec_ud(struct exec *x) { return exec_exception(x, HVEMU_EXC_UD, 0, 0); }
int exec_unhandled(struct exec *x, const char *reason);
/* A callback's answer other than HVEMU_CB_OK as the instruction's result (fault, retry, ...). */
int exec_cb_fault(struct exec *x, int cb, const struct hvemu_exception *exc);

/* ---- registers (reads see the state before the instruction) ---- */
uint64_t reg_get(struct exec *x, unsigned cls, unsigned idx);
/* Stage a GPR write with the architectural width rules: 8/16-bit writes merge, 32-bit writes
 * zero-extend, 64-bit writes replace. */
void reg_set(struct exec *x, unsigned cls, unsigned idx, uint64_t v);

/* The value bits of a GPR class that a plain load can serve (GPR8 low byte, 16, 32, 64);
 * 0 for every other class (AH..BH, segment, control, vector), which take the slow paths. */
static inline uint64_t gpr_cls_mask(unsigned cls)
{
    switch (cls) {
    case HVEMU_REG_GPR8: return 0xff;
    case HVEMU_REG_GPR16: return 0xffff;
    case HVEMU_REG_GPR32: return 0xffffffffu;
    case HVEMU_REG_GPR64: return ~(uint64_t)0;
    default: return 0;
    }
}

/* A loaded GPR is a load; reg_get() handles the lazy-load path. */
static inline uint64_t gpr_get(struct exec *x, unsigned idx)
{
    if (idx < HVEMU_NUM_GPRS && ((x->s->valid >> idx) & 1))
        return x->s->gpr[idx];
    return reg_get(x, HVEMU_REG_GPR64, idx);
}
/* Stage a GPR write of `size` bytes (1, 2, 4, 8) to register idx (byte: low byte, never AH). */
void gpr_set_sized(struct exec *x, unsigned idx, unsigned size, uint64_t v);
uint64_t gpr_get_sized(struct exec *x, unsigned idx, unsigned size);

/* ---- memory ---- */
/* Linear address of a memory operand, with the canonical check (#GP(0), #SS(0) for SS). */
int mem_linear(struct exec *x, const struct hvemu_mem *m, uint64_t *la);
/* Linear address of seg:offset for an implicit access (stack, strings). */
int seg_linear(struct exec *x, unsigned seg, uint64_t offset, unsigned addr_size, uint64_t *la);
/* Read now, through the callbacks, split per page. */
int mem_read(struct exec *x, uint64_t la, void *data, unsigned size, enum hvemu_access kind);
/* Stage a write; it happens at commit. */
int mem_write(struct exec *x, uint64_t la, const void *data, unsigned size, enum hvemu_access kind);
/* #AC check for an access (when CR0.AM, RFLAGS.AC and CPL 3). */
int mem_check_align(struct exec *x, uint64_t la, unsigned size);
/* Write now (not staged), split per page, a page-crossing write probed first: for REP strings,
 * whose iterations retire one by one. */
int mem_write_now(struct exec *x, uint64_t la, const void *data, unsigned size,
                  enum hvemu_access kind);
/* The fault a write of `size` bytes at `la` would raise, asked per page (ops->probe_write; no
 * callback: X_OK). For accesses the CPU checks without storing (ENTER's new top, INS). */
int mem_probe(struct exec *x, uint64_t la, unsigned size);
/* SS:rsp for a stack access of `size` bytes: #SS(0) when not canonical, then #AC by `align`. */
int stack_linear(struct exec *x, uint64_t rsp, unsigned size, unsigned align, uint64_t *la);

/* The privilege level (src/modes/modes.h says which register it comes from). */
static inline unsigned exec_cpl(const struct exec *x)
{
    return hv_cpl(x->s, x->mode);
}
/* The stack pointer's width in bytes: 8 in 64-bit mode, else 4 or 2 by SS.B. */
static inline unsigned sp_size(struct exec *x)
{
    if (!x->mode)
        return 8;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_SS)) != X_OK)
        return 4;
    return (x->s->seg[HVEMU_SS].attr & HVEMU_SEG_ATTR_DB) ? 4 : 2;
}
/* Outside 64-bit mode, segmentation (limit, type) of seg:offset for `size` bytes: X_OK and the
 * linear address, or the #GP(0)/#SS(0). `offset` is truncated to `addr_size` first. */
int seg_access(struct exec *x, unsigned seg, uint64_t offset, unsigned addr_size, unsigned size,
               int write, uint64_t *la);
/* The bits of a linear address: all in 64-bit mode, 32 otherwise. */
static inline uint64_t la_mask(const struct exec *x)
{
    return x->mode ? 0xffffffffu : ~(uint64_t)0;
}

/* The base of segment `seg` as 64-bit mode uses it (FS and GS only; 0 for the others). */
uint64_t seg_base(struct exec *x, unsigned seg);

/* Whether the guest CPU (the cpuid callback) is AMD's: for vendor-specific rules. */
int cpu_is_amd(struct exec *x, int *amd);
/* Whether the guest's CPUID.(leaf, sub).reg[bit] is set (0 beyond the maximum leaf). */
enum { EAX, EBX, ECX, EDX };
int cpuid_bit(struct exec *x, uint32_t leaf, uint32_t sub, unsigned reg, unsigned bit, int *on);

/* A segment register load (MOV Sreg, POP Sreg; src/exec/legacy.c): real mode only. */
int seg_load(struct exec *x, unsigned seg, uint16_t selector);

/* ---- control and debug registers (src/exec/system.c): MOV's operands, with their checks ---- */
int sysreg_read(struct exec *x, unsigned cls, unsigned idx, uint64_t *v);
int sysreg_write(struct exec *x, unsigned cls, unsigned idx, uint64_t v);

/* ---- operands of the decoded instruction ---- */
int op_read_slow(struct exec *x, unsigned i, uint64_t *v);
int op_write_slow(struct exec *x, unsigned i, uint64_t v);
/* Stage a write of up to 8 bytes (the operand's size) of v to memory operand i. */
int op_write_mem_value(struct exec *x, unsigned i, uint64_t v);
/* Read up to 8 bytes (the operand's size) of memory operand i, zero-extended. */
int op_read_mem_value(struct exec *x, unsigned i, uint64_t *v);

/* Value of operand i, zero-extended (register, memory or immediate; immediates as decoded).
 * Inline for what MMIO handlers mostly see: a loaded GPR, an immediate, a device register. */
static inline int op_read(struct exec *x, unsigned i, uint64_t *v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    if (op->kind == HVEMU_OP_REG) {
        unsigned idx = op->u.reg.idx;
        uint64_t mask = gpr_cls_mask(op->u.reg.cls);
        if (mask && idx < HVEMU_NUM_GPRS && ((x->s->valid >> idx) & 1)) {
            *v = x->s->gpr[idx] & mask;
            return X_OK;
        }
    } else if (op->kind == HVEMU_OP_IMM || op->kind == HVEMU_OP_REL) {
        *v = op->u.imm.imm;
        return X_OK;
    } else if (op->kind == HVEMU_OP_MEM) {
        return op_read_mem_value(x, i, v);
    }
    return op_read_slow(x, i, v);
}

/* Stage a write of operand i (register or memory). Inline: a 32- or 64-bit write of a loaded
 * GPR (no merge with the old value) and the memory store. */
static inline int op_write(struct exec *x, unsigned i, uint64_t v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    if (op->kind == HVEMU_OP_REG) {
        unsigned idx = op->u.reg.idx, cls = op->u.reg.cls;
        if ((cls == HVEMU_REG_GPR32 || cls == HVEMU_REG_GPR64) && idx < HVEMU_NUM_GPRS &&
            ((x->s->valid >> idx) & 1)) {
            x->new_gpr[idx] = v & gpr_cls_mask(cls);
            x->gpr_dirty |= 1u << idx;
            return X_OK;
        }
    } else if (op->kind == HVEMU_OP_MEM) {
        return op_write_mem_value(x, i, v);
    }
    return op_write_slow(x, i, v);
}
/* Memory operand i displaced by `offset` bytes, accessed with `size` bytes (BT with a register
 * bit offset, CMPXCHG16B): address with checks, read now / stage a write (locked when the
 * instruction is). */
int op_linear_at(struct exec *x, unsigned i, int64_t offset, unsigned size, uint64_t *la);
int op_read_mem(struct exec *x, unsigned i, int64_t offset, void *buf, unsigned size);
int op_write_mem(struct exec *x, unsigned i, int64_t offset, const void *buf, unsigned size);

/* ---- flags ---- */
#define FLAGS_ARITH (HVEMU_FLAG_CF | HVEMU_FLAG_PF | HVEMU_FLAG_AF | HVEMU_FLAG_ZF | \
                     HVEMU_FLAG_SF | HVEMU_FLAG_OF)
static inline uint64_t flags_get(struct exec *x) { return x->new_rflags; }
static inline void flags_set(struct exec *x, uint64_t mask, uint64_t v)
{
    x->new_rflags = (x->new_rflags & ~mask) | (v & mask);
}
int cond_holds(uint64_t rflags, unsigned cc);

/* The RFLAGS bits POPF and IRET load from memory at privilege `cpl` under `iopl`: the status
 * flags, TF, DF, NT, AC, ID; IF when CPL <= IOPL; IOPL at CPL 0. */
static inline uint64_t flags_loadable(unsigned cpl, unsigned iopl)
{
    uint64_t m = FLAGS_ARITH | HVEMU_FLAG_TF | HVEMU_FLAG_DF | HVEMU_FLAG_NT | HVEMU_FLAG_AC |
                 HVEMU_FLAG_ID;
    if (cpl <= iopl)
        m |= HVEMU_FLAG_IF;
    if (cpl == 0)
        m |= HVEMU_FLAG_IOPL;
    return m;
}

static inline uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * size)) - 1;
}
static inline uint64_t sign_bit(unsigned size)
{
    return (uint64_t)1 << (8 * size - 1);
}
static inline uint64_t sext(uint64_t v, unsigned size)
{
    uint64_t s = sign_bit(size);
    v &= size_mask(size);
    return (v ^ s) - s;
}
/* Population count without libgcc (__builtin_popcount calls __popcountdi2 without -mpopcnt,
 * which a kernel embedding hvemu may not have). */
static inline unsigned popcount64(uint64_t v)
{
    v = v - ((v >> 1) & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((v * 0x0101010101010101ull) >> 56);
}

static inline int is_canonical(uint64_t la)
{
    /* bits 63..47 all equal; no shift of a signed value (that is undefined for negatives) */
    uint64_t hi = la >> 47;
    return hi == 0 || hi == 0x1ffff;
}

/* Branch helper: set the new RIP with the canonical check (#GP(0)); outside 64-bit mode the
 * target is truncated to the operand size and checked against the CS limit (#GP(0)). */
int exec_jump(struct exec *x, uint64_t target);

/* ---- family handlers' shared flag computations (src/exec/flags.c) ---- */
uint64_t flags_add(uint64_t a, uint64_t b, uint64_t carry, unsigned size, uint64_t *res);
uint64_t flags_sub(uint64_t a, uint64_t b, uint64_t borrow, unsigned size, uint64_t *res);
uint64_t flags_logic(uint64_t r, unsigned size);
uint64_t flags_szp(uint64_t r, unsigned size);

#endif
