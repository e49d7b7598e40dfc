/* SPDX-License-Identifier: MIT */
/*
 * Operand and memory access: registers (lazily loaded, writes staged), linear addresses
 * (segment base, address-size wrap, canonical checks), reads split per page, staged writes and
 * the commit that applies everything an instruction did.
 */
#include "exec/exec.h"

#include <string.h>

#define PAGE_SIZE 4096u

/* ---- results ---- */

int exec_exception(struct exec *x, unsigned vector, int has_error, uint32_t error)
{
    x->res->status = HVEMU_EXCEPTION;
    x->res->exc.vector = (uint8_t)vector;
    /* real mode delivers no exception with an error code (and VM entry refuses to inject one) */
    x->res->exc.has_error_code = (uint8_t)(has_error != 0 && x->mode != HV_CPU_REAL);
    x->res->exc.error_code = error;
    return X_EXC;
}

int exec_unhandled(struct exec *x, const char *reason)
{
    x->res->status = HVEMU_UNHANDLEABLE;
    x->res->reason = reason;
    return X_UNHANDLED;
}

/* A callback's fault becomes the instruction's exception. */
int exec_cb_fault(struct exec *x, int cb, const struct hvemu_exception *exc)
{
    switch (cb) {
    case HVEMU_CB_FAULT:
        x->res->status = HVEMU_EXCEPTION;
        x->res->exc = *exc;
        return X_EXC;
    case HVEMU_CB_RETRY:
        x->res->status = HVEMU_RETRY;
        x->res->reason = "the embedder asked to retry an access";
        return X_RETRY;
    default:
        return exec_unhandled(x, "the embedder could not perform a memory access");
    }
}

/* ---- state parts ---- */

/* Make sure `parts` are loaded. A part that cannot be had makes the emulation unhandleable;
 * the flag is sticky and checked after the handler (register reads have no error path). */
int exec_need(struct exec *x, uint64_t parts)
{
    uint64_t missing = parts & ~x->s->valid;
    if (!missing)
        return X_OK;
    if (x->ctx->ops->load_state &&
        x->ctx->ops->load_state(x->ctx->opaque, x->s, missing) == HVEMU_CB_OK &&
        !(missing & ~x->s->valid))
        return X_OK;
    x->state_missing = 1;
    return exec_unhandled(x, "a vCPU state part the instruction needs is not loaded");
}

/* ---- registers ---- */

uint64_t reg_get(struct exec *x, unsigned cls, unsigned idx)
{
    if (cls == HVEMU_REG_SEG) {
        if (idx >= HVEMU_NUM_SEGS)
            return 0;
        exec_need(x, HVEMU_PART_SEG(idx));
        return x->s->seg[idx].selector;
    }
    if (cls > HVEMU_REG_GPR64) {
        exec_unhandled(x, "register class not handled by this instruction");
        x->state_missing = 1;
        return 0;
    }
    if (cls == HVEMU_REG_GPR8_HIGH) {
        if (!(x->s->valid & HVEMU_PART_GPR(idx)))
            exec_need(x, HVEMU_PART_GPR(idx));
        return (x->s->gpr[idx] >> 8) & 0xff;
    }
    if (idx >= HVEMU_NUM_GPRS)
        return 0;
    if (!(x->s->valid & HVEMU_PART_GPR(idx)))
        exec_need(x, HVEMU_PART_GPR(idx));
    uint64_t v = x->s->gpr[idx];
    switch (cls) {
    case HVEMU_REG_GPR8: return v & 0xff;
    case HVEMU_REG_GPR16: return v & 0xffff;
    case HVEMU_REG_GPR32: return v & 0xffffffffu;
    default: return v;
    }
}

/* The value a staged write starts from: an earlier staged write of this instruction, or the
 * register as it was. */
static uint64_t gpr_current(struct exec *x, unsigned idx)
{
    if (x->gpr_dirty & (1u << idx))
        return x->new_gpr[idx];
    if (!(x->s->valid & HVEMU_PART_GPR(idx)))
        exec_need(x, HVEMU_PART_GPR(idx));
    return x->s->gpr[idx];
}

void reg_set(struct exec *x, unsigned cls, unsigned idx, uint64_t v)
{
    if (idx >= HVEMU_NUM_GPRS)
        return;
    uint64_t cur = gpr_current(x, idx);
    switch (cls) {
    case HVEMU_REG_GPR8_HIGH: v = (cur & ~(uint64_t)0xff00) | ((v & 0xff) << 8); break;
    case HVEMU_REG_GPR8: v = (cur & ~(uint64_t)0xff) | (v & 0xff); break;
    case HVEMU_REG_GPR16: v = (cur & ~(uint64_t)0xffff) | (v & 0xffff); break;
    case HVEMU_REG_GPR32: v &= 0xffffffffu; break;
    default: break;
    }
    x->new_gpr[idx] = v;
    x->gpr_dirty |= 1u << idx;
}

static unsigned gpr_class_of(unsigned size)
{
    return size == 1 ? HVEMU_REG_GPR8 : size == 2 ? HVEMU_REG_GPR16 :
           size == 4 ? HVEMU_REG_GPR32 : HVEMU_REG_GPR64;
}

void gpr_set_sized(struct exec *x, unsigned idx, unsigned size, uint64_t v)
{
    reg_set(x, gpr_class_of(size), idx, v);
}

uint64_t gpr_get_sized(struct exec *x, unsigned idx, unsigned size)
{
    return reg_get(x, gpr_class_of(size), idx);
}

/* ---- linear addresses ---- */

/* 64-bit mode: only FS and GS have a base. */
uint64_t seg_base(struct exec *x, unsigned seg)
{
    if (seg != HVEMU_FS && seg != HVEMU_GS)
        return 0;
    if (!(x->s->valid & HVEMU_PART_SEG(seg)))
        exec_need(x, HVEMU_PART_SEG(seg));
    return x->s->seg[seg].base;
}

static int canonical_fault(struct exec *x, unsigned seg)
{
    return seg == HVEMU_SS ? exec_exception(x, HVEMU_EXC_SS, 1, 0) : exec_gp0(x);
}

static inline int check_canonical(struct exec *x, unsigned seg, uint64_t la, unsigned size)
{
    /* both ends must be canonical; an access that wraps past 2^64 is not a #GP on hardware
     * (its first byte is a kernel address: the page walk faults) */
    uint64_t last = la + (size ? size - 1 : 0);
    if (__builtin_expect(!is_canonical(la) || !is_canonical(last), 0))
        return canonical_fault(x, seg);
    return X_OK;
}

int seg_linear(struct exec *x, unsigned seg, uint64_t offset, unsigned addr_size, uint64_t *la)
{
    offset &= size_mask(addr_size);
    if (x->mode) { /* every segment has a base; linear addresses are 32 bits */
        if (exec_need(x, HVEMU_PART_SEG(seg)) != X_OK)
            return X_UNHANDLED;
        *la = (x->s->seg[seg].base + offset) & 0xffffffffu;
        return X_OK;
    }
    *la = seg_base(x, seg) + offset;
    return X_OK;
}

int seg_access(struct exec *x, unsigned seg, uint64_t offset, unsigned addr_size, unsigned size,
               int write, uint64_t *la)
{
    if (exec_need(x, HVEMU_PART_SEG(seg)) != X_OK)
        return X_UNHANDLED;
    unsigned v = hv_seg_check(x->s, x->mode, seg, offset & size_mask(addr_size), size ? size : 1,
                              write, la);
    return v ? exec_exception(x, v, 1, 0) : X_OK;
}

/* Effective address + segment base of a memory operand displaced by `offset`. Inline: it is
 * on the path of every memory operand. */
static inline uint64_t linear_of(struct exec *x, const struct hvemu_mem *m, int64_t offset)
{
    uint64_t ea = (uint64_t)m->disp + (uint64_t)offset;
    if (m->base_class == HVEMU_REG_RIP)
        ea += x->rip_next;
    else if (m->base_class != HVEMU_REG_NONE)
        ea += gpr_get(x, m->base);
    if (m->index_class != HVEMU_REG_NONE) {
        uint64_t idx = m->index_class == HVEMU_REG_GPR8 ? reg_get(x, HVEMU_REG_GPR8, m->index)
                                                        : gpr_get(x, m->index);
        ea += idx * m->scale;
    }
    if (m->addr_size < 8)
        ea &= size_mask(m->addr_size);
    if (m->segment >= HVEMU_FS) /* FS or GS: the only segments with a base in 64-bit mode */
        ea += seg_base(x, m->segment);
    return ea;
}

/* Outside 64-bit mode: the effective address truncated to the address size, then
 * segmentation (src/modes/segment.c). Out of line and cold: inlined, it would make every 64-bit
 * caller save registers it never needs. */
__attribute__((noinline, cold)) static int legacy_linear(struct exec *x, const struct hvemu_mem *m, int64_t offset,
                         unsigned size, int write, uint64_t *la)
{
    uint64_t ea = (uint64_t)m->disp + (uint64_t)offset;
    if (m->base_class != HVEMU_REG_NONE)
        ea += gpr_get(x, m->base);
    if (m->index_class != HVEMU_REG_NONE) {
        uint64_t idx = m->index_class == HVEMU_REG_GPR8 ? reg_get(x, HVEMU_REG_GPR8, m->index)
                                                        : gpr_get(x, m->index);
        ea += idx * m->scale;
    }
    return seg_access(x, m->segment, ea, m->addr_size, size, write, la);
}

int mem_linear(struct exec *x, const struct hvemu_mem *m, uint64_t *la)
{
    if (x->mode) { /* the address only (no checks), for the callers' own checks */
        uint64_t ea = (uint64_t)m->disp;
        if (m->base_class != HVEMU_REG_NONE)
            ea += gpr_get(x, m->base);
        if (m->index_class != HVEMU_REG_NONE)
            ea += gpr_get(x, m->index) * m->scale;
        return seg_linear(x, m->segment, ea, m->addr_size, la);
    }
    *la = linear_of(x, m, 0);
    return X_OK;
}

static int check_align_slow(struct exec *x, uint64_t la, unsigned size)
{
    if (size < 2 || !(la & (size - 1)))
        return X_OK;
    if (exec_need(x, HVEMU_PART_CR0 | HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    if ((x->s->cr0 & CR0_AM) && exec_cpl(x) == 3)
        return exec_exception(x, HVEMU_EXC_AC, 1, 0);
    return X_OK;
}

/* #AC needs RFLAGS.AC, which kernels and most code run without: one test in the common case. */
static inline int check_align(struct exec *x, uint64_t la, unsigned size)
{
    if (__builtin_expect(!(x->s->rflags & HVEMU_FLAG_AC), 1))
        return X_OK;
    return check_align_slow(x, la, size);
}

int mem_check_align(struct exec *x, uint64_t la, unsigned size)
{
    return check_align(x, la, size);
}

/* ---- memory ---- */

int mem_read(struct exec *x, uint64_t la, void *data, unsigned size, enum hvemu_access kind)
{
    const struct hvemu_ops *ops = x->ctx->ops;
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    uint8_t *d = data;
    if (!ops->read)
        return exec_unhandled(x, "no memory read callback");
    while (size) {
        unsigned room = PAGE_SIZE - (unsigned)(la & (PAGE_SIZE - 1));
        unsigned n = size < room ? size : room;
        int cb = ops->read(x->ctx->opaque, la, d, n, kind, &exc);
        if (cb != HVEMU_CB_OK)
            return exec_cb_fault(x, cb, &exc);
        la = (la + n) & la_mask(x); /* 32-bit linear addresses wrap at 4 GiB */
        d += n;
        size -= n;
    }
    return X_OK;
}

int mem_write(struct exec *x, uint64_t la, const void *data, unsigned size, enum hvemu_access kind)
{
    if (x->nwrites >= EXEC_MAX_WRITES || size > sizeof(x->wr[0].data))
        return exec_unhandled(x, "too many memory writes in one instruction");
    struct exec_write *w = &x->wr[x->nwrites++];
    w->la = la;
    w->size = (uint16_t)size;
    w->kind = (uint8_t)kind;
    w->locked = 0;
    copy_small(w->data, data, size);
    return X_OK;
}

/* ---- operands ---- */

static inline int linear_checked(struct exec *x, const struct hvemu_mem *m, int64_t offset,
                                 unsigned size, uint64_t *la)
{
    *la = linear_of(x, m, offset);
    int rc = check_canonical(x, m->segment, *la, size);
    if (rc != X_OK)
        return rc;
    return check_align(x, *la, size);
}

/* op_linear_at(), inline in the operand accessors below (as it was before the modes: the
 * mode test must not change what the compiler inlines on the 64-bit paths). */
static inline __attribute__((always_inline)) int op_linear(struct exec *x, unsigned i, int64_t offset,
                                                           unsigned size, uint64_t *la)
{
    const struct hvemu_operand *op = &x->in->op[i];
    if (__builtin_expect(x->mode != 0, 0)) {
        /* a read-modify-write operand is checked as a write before it is read, as the CPU does */
        int rc = legacy_linear(x, &op->u.mem, offset, size, (op->access & HVEMU_OPA_WRITE) != 0, la);
        return rc != X_OK ? rc : check_align(x, *la, size);
    }
    return linear_checked(x, &op->u.mem, offset, size, la);
}

int op_linear_at(struct exec *x, unsigned i, int64_t offset, unsigned size, uint64_t *la)
{
    return op_linear(x, i, offset, size, la);
}

int op_read_mem(struct exec *x, unsigned i, int64_t offset, void *buf, unsigned size)
{
    const struct hvemu_operand *op = &x->in->op[i];
    uint64_t la;
    int rc = op_linear(x, i, offset, size, &la);
    if (rc != X_OK)
        return rc;
    int rmw = (op->access & HVEMU_OPA_WRITE) != 0;
    /* A locked access that crosses a page cannot be one compare-exchange: refuse it before
     * the read, so that a device behind it sees nothing of an instruction that will not run. */
    if (x->locked && rmw && (la & (PAGE_SIZE - 1)) + size > PAGE_SIZE)
        return exec_unhandled(x, "locked access crosses a page (split lock): refused");
    if (x->locked && rmw && x->lock_fresh && x->lock_la == la) {
        /* re-execution after a failed compare-exchange: the callback already gave the
         * current value, so the device is not read a second time */
        copy_small(buf, x->lock_val, size);
    } else {
        rc = mem_read(x, la, buf, size, rmw ? HVEMU_ACCESS_RMW_READ : HVEMU_ACCESS_READ);
        if (rc != X_OK)
            return rc;
    }
    if (x->locked && rmw && size <= sizeof(x->lock_val)) {
        x->lock_la = la;
        copy_small(x->lock_val, buf, size);
    }
    return X_OK;
}

int op_write_mem(struct exec *x, unsigned i, int64_t offset, const void *buf, unsigned size)
{
    const struct hvemu_operand *op = &x->in->op[i];
    uint64_t la;
    int rc = op_linear(x, i, offset, size, &la);
    if (rc != X_OK)
        return rc;
    int rmw = (op->access & HVEMU_OPA_READ) != 0;
    /* a locked instruction writes memory only through compare-exchange against what it read:
     * a write that is not the other half of its locked read is refused, never made plain */
    if (x->locked && (!rmw || x->lock_la != la || size > sizeof(x->lock_val)))
        return exec_unhandled(x, "locked write without its locked read: refused");
    rc = mem_write(x, la, buf, size, rmw ? HVEMU_ACCESS_RMW_WRITE : HVEMU_ACCESS_WRITE);
    if (rc == X_OK && x->locked) {
        /* a locked RMW commits through compare-exchange against the value read */
        struct exec_write *w = &x->wr[x->nwrites - 1];
        w->locked = 1;
        copy_small(w->old, x->lock_val, size);
    }
    return rc;
}

/* The linear address of memory operand `op` accessed with `size` bytes, for the common MMIO
 * case, computed without a call: not locked, size 1..8, a loaded base and index, 64-bit
 * addressing, no FS/GS base, both ends canonical, RFLAGS.AC clear (no alignment check).
 * Returns 0 when the case is not that one: the caller then takes the general path, which gives
 * the same result (and raises the #GP/#SS and #AC). */
static inline int fast_linear(const struct exec *x, const struct hvemu_operand *op,
                              unsigned size, uint64_t *la)
{
    const struct hvemu_mem *m = &op->u.mem;
    const struct hvemu_state *s = x->s;
    if (__builtin_expect(x->locked || size - 1u >= 8 || m->addr_size != 8 ||
                         m->segment >= HVEMU_FS || (s->rflags & HVEMU_FLAG_AC), 0))
        return 0;
    uint64_t ea = (uint64_t)m->disp;
    /* register numbers from the decoder are 0..31 (the & 31 only keeps the index in bounds) */
    if (m->base_class == HVEMU_REG_RIP) {
        ea += x->rip_next;
    } else if (m->base_class != HVEMU_REG_NONE) {
        if (!((s->valid >> (m->base & 31)) & 1))
            return 0;
        ea += s->gpr[m->base & 31];
    }
    if (m->index_class != HVEMU_REG_NONE) {
        if (m->index_class == HVEMU_REG_GPR8 || !((s->valid >> (m->index & 31)) & 1))
            return 0;
        ea += s->gpr[m->index & 31] * m->scale;
    }
    /* both ends canonical: bits 63..47 all equal, i.e. adding 2^47 leaves bits 63..48 clear */
    if (((ea + ((uint64_t)1 << 47)) | (ea + size - 1 + ((uint64_t)1 << 47))) >> 48)
        return 0;
    *la = ea;
    return 1;
}

/* op_write()/op_read() of a memory operand, any case. Kept out of line so that the fast paths
 * below need no stack frame. */
__attribute__((noinline, cold)) static int op_write_mem_value_slow(struct exec *x, unsigned i,
                                                                    uint64_t v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    return op_write_mem(x, i, 0, &v, op->size > 8 ? 8 : op->size);
}

__attribute__((noinline, cold)) static int op_read_mem_value_slow(struct exec *x, unsigned i,
                                                                   uint64_t *v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    *v = 0;
    return op_read_mem(x, i, 0, v, op->size > 8 ? 8 : op->size);
}

/* The store of op_write() to memory: staged with one 8-byte move. */
int op_write_mem_value(struct exec *x, unsigned i, uint64_t v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    unsigned size = op->size, nw = x->nwrites;
    uint64_t la;
    if (nw >= EXEC_MAX_WRITES || !fast_linear(x, op, size, &la))
        return op_write_mem_value_slow(x, i, v);
    struct exec_write *w = &x->wr[nw];
    w->la = la;
    w->size = (uint16_t)size;
    w->kind = (op->access & HVEMU_OPA_READ) ? HVEMU_ACCESS_RMW_WRITE : HVEMU_ACCESS_WRITE;
    w->locked = 0;
    store_u64(w->data, v); /* little-endian: the low `size` bytes are the value */
    x->nwrites = nw + 1;
    return X_OK;
}

/* The load of op_read() from memory: one read callback when the access stays in its page. */
int op_read_mem_value(struct exec *x, unsigned i, uint64_t *v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    const struct hvemu_ops *ops = x->ctx->ops;
    unsigned size = op->size;
    uint64_t la;
    if (!fast_linear(x, op, size, &la) || !ops->read || (la & (PAGE_SIZE - 1)) + size > PAGE_SIZE)
        return op_read_mem_value_slow(x, i, v);
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    *v = 0;
    int cb = ops->read(x->ctx->opaque, la, v, size,
                       (op->access & HVEMU_OPA_WRITE) ? HVEMU_ACCESS_RMW_READ : HVEMU_ACCESS_READ,
                       &exc);
    return cb == HVEMU_CB_OK ? X_OK : exec_cb_fault(x, cb, &exc);
}

int op_read_slow(struct exec *x, unsigned i, uint64_t *v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    switch (op->kind) {
    case HVEMU_OP_REG:
        if (op->u.reg.cls == HVEMU_REG_CR || op->u.reg.cls == HVEMU_REG_DR)
            return sysreg_read(x, op->u.reg.cls, op->u.reg.idx, v);
        *v = reg_get(x, op->u.reg.cls, op->u.reg.idx);
        return X_OK;
    case HVEMU_OP_IMM:
    case HVEMU_OP_REL:
        *v = op->u.imm.imm;
        return X_OK;
    case HVEMU_OP_MEM:
        *v = 0;
        return op_read_mem(x, i, 0, v, op->size > 8 ? 8 : op->size);
    default:
        return exec_unhandled(x, "operand kind not readable");
    }
}

int op_write_slow(struct exec *x, unsigned i, uint64_t v)
{
    const struct hvemu_operand *op = &x->in->op[i];
    switch (op->kind) {
    case HVEMU_OP_REG:
        if (op->u.reg.cls == HVEMU_REG_CR || op->u.reg.cls == HVEMU_REG_DR)
            return sysreg_write(x, op->u.reg.cls, op->u.reg.idx, v);
        if (op->u.reg.cls == HVEMU_REG_SEG)
            return segreg_load(x, op->u.reg.idx, (uint16_t)v);
        if (op->u.reg.cls > HVEMU_REG_GPR64 || op->u.reg.cls < HVEMU_REG_GPR8)
            return exec_unhandled(x, "write to a non-GPR register operand");
        reg_set(x, op->u.reg.cls, op->u.reg.idx, v);
        return X_OK;
    case HVEMU_OP_MEM:
        return op_write_mem(x, i, 0, &v, op->size > 8 ? 8 : op->size);
    default:
        return exec_unhandled(x, "operand kind not writable");
    }
}

/* ---- branches ---- */

int exec_jump(struct exec *x, uint64_t target)
{
    if (x->mode) {
        target &= size_mask(x->in->opsize < 4 ? 2 : 4);
        if (target > x->s->seg[HVEMU_CS].limit)
            return exec_gp0(x);
        x->new_rip = target;
        return X_OK;
    }
    if (!is_canonical(target))
        return exec_gp0(x);
    x->new_rip = target;
    return X_OK;
}

int cond_holds(uint64_t f, unsigned cc)
{
    int r;
    switch ((cc >> 1) & 7) {
    case 0: r = (f & HVEMU_FLAG_OF) != 0; break;
    case 1: r = (f & HVEMU_FLAG_CF) != 0; break;
    case 2: r = (f & HVEMU_FLAG_ZF) != 0; break;
    case 3: r = (f & (HVEMU_FLAG_CF | HVEMU_FLAG_ZF)) != 0; break;
    case 4: r = (f & HVEMU_FLAG_SF) != 0; break;
    case 5: r = (f & HVEMU_FLAG_PF) != 0; break;
    case 6: r = !(f & HVEMU_FLAG_SF) != !(f & HVEMU_FLAG_OF); break;
    default: r = (f & HVEMU_FLAG_ZF) || (!(f & HVEMU_FLAG_SF) != !(f & HVEMU_FLAG_OF)); break;
    }
    return (cc & 1) ? !r : r;
}

/* ---- commit ---- */

/* Write `size` bytes now, one callback per page piece. */
static int write_pieces(struct exec *x, uint64_t la, const uint8_t *d, unsigned size,
                        enum hvemu_access kind)
{
    const struct hvemu_ops *ops = x->ctx->ops;
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    if (!ops->write)
        return exec_unhandled(x, "no memory write callback");
    while (size) {
        unsigned room = PAGE_SIZE - (unsigned)(la & (PAGE_SIZE - 1));
        unsigned n = size < room ? size : room;
        int cb = ops->write(x->ctx->opaque, la, d, n, kind, &exc);
        if (cb != HVEMU_CB_OK)
            return exec_cb_fault(x, cb, &exc);
        la = (la + n) & la_mask(x);
        d += n;
        size -= n;
    }
    return X_OK;
}

/* Ask the embedder, one page piece at a time, whether writing there would fault. */
static int probe_pieces(struct exec *x, uint64_t la, unsigned size)
{
    const struct hvemu_ops *ops = x->ctx->ops;
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    while (size) {
        unsigned room = PAGE_SIZE - (unsigned)(la & (PAGE_SIZE - 1));
        unsigned n = size < room ? size : room;
        int cb = ops->probe_write(x->ctx->opaque, la, n, &exc);
        if (cb != HVEMU_CB_OK)
            return exec_cb_fault(x, cb, &exc);
        la = (la + n) & la_mask(x);
        size -= n;
    }
    return X_OK;
}

int mem_probe(struct exec *x, uint64_t la, unsigned size)
{
    return x->ctx->ops->probe_write ? probe_pieces(x, la, size) : X_OK;
}

int mem_write_now(struct exec *x, uint64_t la, const void *data, unsigned size,
                  enum hvemu_access kind)
{
    int rc;
    /* a write crossing a page is probed first: a fault on its second piece leaves the first
     * unwritten */
    if ((la & (PAGE_SIZE - 1)) + size > PAGE_SIZE && (rc = mem_probe(x, la, size)) != X_OK)
        return rc;
    return write_pieces(x, la, data, size, kind);
}

int stack_linear(struct exec *x, uint64_t rsp, unsigned size, unsigned align, uint64_t *la)
{
    int rc;
    if (x->mode) {
        if ((rc = seg_access(x, HVEMU_SS, rsp, sp_size(x), size, 0, la)) != X_OK)
            return rc;
        return mem_check_align(x, *la, align);
    }
    seg_linear(x, HVEMU_SS, rsp, 8, la);
    if ((rc = check_canonical(x, HVEMU_SS, *la, size)) != X_OK)
        return rc;
    return mem_check_align(x, *la, align);
}

/* The memory writes of the instruction: probed first when there are several or one crosses a
 * page, locked ones through compare-exchange. */
static int commit_writes(struct exec *x)
{
    const struct hvemu_ops *ops = x->ctx->ops;
    int rc;
    /* Several writes, or one that crosses a page: make sure none faults before doing any. */
    if (ops->probe_write && x->nwrites) {
        int need = x->nwrites > 1 ||
                   ((x->wr[0].la & (PAGE_SIZE - 1)) + x->wr[0].size > PAGE_SIZE);
        for (unsigned i = 0; need && i < x->nwrites; i++)
            if ((rc = probe_pieces(x, x->wr[i].la, x->wr[i].size)) != X_OK)
                return rc;
    }
    for (unsigned i = 0; i < x->nwrites; i++) {
        struct exec_write *w = &x->wr[i];
        if (w->locked) {
            struct hvemu_exception exc = {0, 0, 0, 0, 0};
            uint8_t expected[16];
            if ((w->la & (PAGE_SIZE - 1)) + w->size > PAGE_SIZE)
                return exec_unhandled(x, "locked access crosses a page (split lock): refused");
            if (!ops->cmpxchg)
                return exec_unhandled(x, "locked instruction needs the cmpxchg callback");
            copy_small(expected, w->old, w->size);
            int cb = ops->cmpxchg(x->ctx->opaque, w->la, expected, w->data, w->size, &exc);
            if (cb == HVEMU_CB_CHANGED) {
                if (i != 0)
                    return exec_unhandled(x, "locked write after another write");
                x->lock_fresh = 1;
                x->lock_la = w->la;
                copy_small(x->lock_val, expected, w->size);
                return X_CHANGED;
            }
            if (cb != HVEMU_CB_OK)
                return exec_cb_fault(x, cb, &exc);
        } else if ((rc = write_pieces(x, w->la, w->data, w->size, (enum hvemu_access)w->kind)) != X_OK) {
            return rc;
        }
    }
    return X_OK;
}

/* The staged system register writes, after the memory writes and GPRs. Only a SIMD masked
 * store can still fail here; it writes no GPR, and its runs are probed before any is written. */
static int apply_system(struct exec *x)
{
    struct hvemu_state *s = x->s;
    for (unsigned i = 0; i < x->nsys; i++) {
        const struct exec_sysw *w = &x->sys[i];
        switch (w->reg) {
        case SYSREG_SIMD: {
            int rc = simd_apply(x);
            if (rc != X_OK)
                return rc;
            break;
        }
        case SYSREG_CR0: s->cr0 = w->value; s->dirty |= HVEMU_PART_CR0; break;
        case SYSREG_CR2: s->cr2 = w->value; s->dirty |= HVEMU_PART_CR2; break;
        case SYSREG_CR3: s->cr3 = w->value; s->dirty |= HVEMU_PART_CR3; break;
        case SYSREG_CR4: s->cr4 = w->value; s->dirty |= HVEMU_PART_CR4; break;
        case SYSREG_CR8: s->cr8 = w->value; s->dirty |= HVEMU_PART_CR8; break;
        case SYSREG_XCR0: s->xcr0 = w->value; s->dirty |= HVEMU_PART_XCR0; break;
        case SYSREG_FS_BASE:
            s->seg[HVEMU_FS].base = w->value;
            s->dirty |= HVEMU_PART_SEG(HVEMU_FS);
            break;
        case SYSREG_GS_BASE:
            s->seg[HVEMU_GS].base = w->value;
            s->dirty |= HVEMU_PART_SEG(HVEMU_GS);
            break;
        case SYSREG_GDTR: case SYSREG_IDTR: {
            struct hvemu_dtable *t = w->reg == SYSREG_GDTR ? &s->gdtr : &s->idtr;
            t->base = w->value;
            t->limit = (uint16_t)w->limit;
            s->dirty |= HVEMU_PART_DTABLES;
            break;
        }
        case SYSREG_SEG0: case SYSREG_SEG0 + 1: case SYSREG_SEG0 + 2: case SYSREG_SEG0 + 3:
        case SYSREG_SEG0 + 4: case SYSREG_SEG0 + 5: case SYSREG_LDTR: case SYSREG_TR: {
            unsigned n = w->reg - SYSREG_SEG0;
            struct hvemu_segment *t = n < HVEMU_NUM_SEGS ? &s->seg[n] :
                                      w->reg == SYSREG_LDTR ? &s->ldtr : &s->tr;
            t->base = w->value;
            t->limit = w->limit;
            t->attr = w->attr;
            t->selector = w->selector;
            s->dirty |= n < HVEMU_NUM_SEGS ? HVEMU_PART_SEG(n) : HVEMU_PART_DTABLES;
            break;
        }
        case SYSREG_RFLAGS:
            s->rflags = w->value;
            s->dirty |= HVEMU_PART_RFLAGS;
            break;
        case SYSREG_DROP_VALID:
            s->valid &= ~w->value;
            break;
        default:
            if (w->reg >= SYSREG_DR0 && w->reg < SYSREG_DR0 + 8) {
                s->dr[w->reg - SYSREG_DR0] = w->value;
                s->dirty |= HVEMU_PART_DR;
            }
            break;
        }
    }
    return X_OK;
}

/* Everything but RIP, and the staging emptied. emulate.c's commit() does the common case (at
 * most one unlocked write within a page) inline and calls this for everything else; REP strings
 * call it when a fault follows retired iterations. */
int exec_commit_effects(struct exec *x)
{
    if (x->nwrites) {
        int rc = commit_writes(x);
        if (rc != X_OK)
            return rc;
    }
    apply_registers(x);
    if (x->nsys) {
        int rc = apply_system(x);
        if (rc != X_OK)
            return rc;
    }
    x->gpr_dirty = 0;
    x->nwrites = 0;
    x->nsys = 0;
    return X_OK;
}
