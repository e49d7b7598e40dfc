/* SPDX-License-Identifier: MIT */
/* String instructions MOVS CMPS SCAS LODS STOS INS OUTS, with REP/REPE/REPNE.
 *
 * Each iteration is committed on its own (memory, rCX/rSI/rDI, flags), exactly as the
 * hardware retires iterations: a fault stops at the faulting iteration with the counters
 * pointing at it and RIP still on the instruction. A REP runs at most ctx->rep_chunk iterations
 * per call; when the count is not exhausted RIP stays on the instruction, so the VMM can take
 * interrupts and call again (hardware does the same at interrupt windows). Elements are moved
 * one at a time with their own size, so a device sees the same accesses as on UC memory. */
#include "families.h"

static unsigned elem_size(const struct hvemu_insn *in)
{
    for (unsigned i = 0; i < in->noperands; i++)
        if (in->op[i].kind == HVEMU_OP_MEM)
            return in->op[i].size;
    return in->opsize;
}

static int port_io(struct exec *x, int out, uint16_t port, void *data, unsigned size)
{
    const struct hvemu_ops *ops = x->ctx->ops;
    struct hvemu_exception exc = {0, 0, 0, 0, 0};
    int cb;
    if (out ? !ops->pio_out : !ops->pio_in)
        return exec_unhandled(x, "no port I/O callback");
    cb = out ? ops->pio_out(x->ctx->opaque, port, data, size, &exc)
             : ops->pio_in(x->ctx->opaque, port, data, size, &exc);
    if (cb == HVEMU_CB_OK)
        return X_OK;
    if (cb == HVEMU_CB_FAULT || cb == HVEMU_CB_RETRY)
        return exec_cb_fault(x, cb, &exc);
    return exec_unhandled(x, "port I/O failed");
}

/* I/O privilege: CPL <= IOPL passes; otherwise the TSS I/O bitmap decides, which hvemu does not
 * read yet, so the instruction is unhandleable rather than guessed. */
static int io_allowed(struct exec *x)
{
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    unsigned cpl = exec_cpl(x), iopl = (unsigned)(x->s->rflags >> 12) & 3;
    if (cpl > iopl)
        return exec_unhandled(x, "port I/O above IOPL needs the TSS I/O bitmap");
    return X_OK;
}

/* IN and OUT with an immediate or DX port. */
int exec_inout(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    int out = in->mnemonic == HV_MN_OUT;
    const struct hvemu_operand *portop = &in->op[out ? 0 : 1];
    const struct hvemu_operand *dataop = &in->op[out ? 1 : 0];
    uint64_t port, v = 0;
    int rc = io_allowed(x);
    if (rc != X_OK)
        return rc;
    port = portop->kind == HVEMU_OP_IMM ? portop->u.imm.imm & 0xff : gpr_get_sized(x, HVEMU_RDX, 2);
    unsigned size = dataop->size;
    if (out)
        v = gpr_get_sized(x, HVEMU_RAX, size);
    if ((rc = port_io(x, out, (uint16_t)port, &v, size)) != X_OK)
        return rc;
    if (!out)
        gpr_set_sized(x, HVEMU_RAX, size == 4 ? 4 : size, v); /* IN EAX zero-extends */
    return X_OK;
}

/* Outside 64-bit mode: segmentation of one iteration's source and destination (kept out of
 * the loop's code so that the 64-bit iterations pay one test). */
__attribute__((noinline, cold)) static int string_segments(struct exec *x, unsigned src_seg,
                                                           uint64_t rsi, uint64_t rdi, unsigned asz,
                                                           unsigned size, int uses_src, int uses_dst,
                                                           uint64_t *src_la, uint64_t *dst_la)
{
    unsigned op = x->in->opcode;
    /* ES is written by MOVS, STOS and INS */
    int dst_write = op != 0xA6 && op != 0xA7 && op != 0xAE && op != 0xAF;
    int rc;
    if (uses_src && (rc = seg_access(x, src_seg, rsi, asz, size, 0, src_la)) != X_OK)
        return rc;
    if (uses_dst && (rc = seg_access(x, HVEMU_ES, rdi, asz, size, dst_write, dst_la)) != X_OK)
        return rc;
    return X_OK;
}

int exec_string(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned asz = in->addrsize, size = elem_size(in);
    int rep = (in->prefixes & (HVEMU_PFX_REP | HVEMU_PFX_REPNE)) != 0;
    int cmp_like = (in->attrs & HV_ATTR_REPCC) != 0;
    int repne = cmp_like && (in->prefixes & HVEMU_PFX_REPNE) && !(in->prefixes & HVEMU_PFX_REP);
    /* the last of F2/F3 decides for CMPS/SCAS; the decoder records it as the mandatory prefix */
    if (cmp_like && rep)
        repne = in->mandatory == 0xF2;
    /* the source segment can be overridden (in 64-bit mode only FS and GS have a base); the
     * destination is always ES */
    int src_seg = (in->prefixes & HVEMU_PFX_SEG) && (x->mode || in->seg_override >= HVEMU_FS)
                      ? in->seg_override : HVEMU_DS;
    int is_io = in->opcode >= 0x6C && in->opcode <= 0x6F;
    int rc;
    /* the SSE2 MOVSD/CMPSD share these names; they live in map 0F */
    if (in->map != HVEMU_MAP_0)
        return exec_unhandled(x, "SSE instruction not executed by hvemu yet");
    if (is_io && (rc = io_allowed(x)) != X_OK)
        return rc;
    /* with TF set, every iteration ends in a single-step trap (SDM Vol. 3, 17.3.1.4) */
    uint32_t chunk = x->ctx->rep_chunk && !(x->new_rflags & HVEMU_FLAG_TF) ? x->ctx->rep_chunk : 1;
    int64_t step = (x->new_rflags & HVEMU_FLAG_DF) ? -(int64_t)size : (int64_t)size;
    int uses_src = in->opcode == 0xA4 || in->opcode == 0xA5 || in->opcode == 0xA6 ||
                   in->opcode == 0xA7 || in->opcode == 0xAC || in->opcode == 0xAD ||
                   in->opcode == 0x6E || in->opcode == 0x6F;
    int uses_dst = !(in->opcode >= 0xAC && in->opcode <= 0xAD) && in->opcode != 0x6E && in->opcode != 0x6F;
    uint64_t amask = size_mask(asz);
    /* The counters live in locals and each element's memory write goes to the embedder at once:
     * hardware retires every iteration, so an element written before a later fault stays
     * written. The registers are staged once, when the loop ends however it ends (done, chunk
     * boundary or fault), so a fault reports the completed iterations' counters. */
    uint64_t rcx = gpr_get_sized(x, HVEMU_RCX, asz), rsi = gpr_get_sized(x, HVEMU_RSI, asz);
    uint64_t rdi = gpr_get_sized(x, HVEMU_RDI, asz), acc = gpr_get_sized(x, HVEMU_RAX, size);
    uint64_t flags = x->new_rflags, loaded = 0;
    uint32_t done = 0;
    const unsigned legacy = x->mode; /* in a register: the callbacks cannot change it */
    rc = X_OK;
    for (uint32_t iter = 0;; iter++) {
        if (rep && rcx == 0)
            break; /* done: fall through to the next instruction */
        if (iter == chunk) {
            x->new_rip = x->s->rip; /* resume here on the next call */
            break;
        }
        uint64_t src_la = 0, dst_la = 0, a = 0, b = 0, r;
        if (__builtin_expect(legacy != 0, 0)) { /* segmentation: DS (or the override) and ES */
            if ((rc = string_segments(x, (unsigned)src_seg, rsi, rdi, asz, size, uses_src, uses_dst,
                                      &src_la, &dst_la)) != X_OK)
                break;
        } else {
            seg_linear(x, (unsigned)src_seg, rsi, asz, &src_la);
            seg_linear(x, HVEMU_ES, rdi, asz, &dst_la);
        }
        if (uses_src && (!is_canonical(src_la) || !is_canonical(src_la + size - 1))) {
            rc = exec_gp0(x);
            break;
        }
        if (uses_dst && (!is_canonical(dst_la) || !is_canonical(dst_la + size - 1))) {
            rc = exec_gp0(x);
            break;
        }
        if ((uses_src && (rc = mem_check_align(x, src_la, size)) != X_OK) ||
            (uses_dst && (rc = mem_check_align(x, dst_la, size)) != X_OK))
            break;
        switch (in->opcode) {
        case 0xA4: case 0xA5: /* MOVS */
            if ((rc = mem_read(x, src_la, &a, size, HVEMU_ACCESS_READ)) == X_OK)
                rc = mem_write_now(x, dst_la, &a, size, HVEMU_ACCESS_WRITE);
            break;
        case 0xA6: case 0xA7: /* CMPS: [rSI] - [rDI] */
            if ((rc = mem_read(x, src_la, &a, size, HVEMU_ACCESS_READ)) == X_OK &&
                (rc = mem_read(x, dst_la, &b, size, HVEMU_ACCESS_READ)) == X_OK)
                flags = (flags & ~(uint64_t)FLAGS_ARITH) | flags_sub(a, b, 0, size, &r);
            break;
        case 0xAE: case 0xAF: /* SCAS: rAX - [rDI] */
            if ((rc = mem_read(x, dst_la, &b, size, HVEMU_ACCESS_READ)) == X_OK)
                flags = (flags & ~(uint64_t)FLAGS_ARITH) | flags_sub(acc, b, 0, size, &r);
            break;
        case 0xAC: case 0xAD: /* LODS */
            if ((rc = mem_read(x, src_la, &a, size, HVEMU_ACCESS_READ)) == X_OK) {
                acc = a;
                loaded = 1;
            }
            break;
        case 0xAA: case 0xAB: /* STOS */
            rc = mem_write_now(x, dst_la, &acc, size, HVEMU_ACCESS_WRITE);
            break;
        case 0x6C: case 0x6D: /* INS: the destination is checked before the port is read */
            if ((rc = mem_probe(x, dst_la, size)) == X_OK &&
                (rc = port_io(x, 0, (uint16_t)gpr_get_sized(x, HVEMU_RDX, 2), &a, size)) == X_OK)
                rc = mem_write_now(x, dst_la, &a, size, HVEMU_ACCESS_WRITE);
            break;
        default: /* OUTS */
            if ((rc = mem_read(x, src_la, &a, size, HVEMU_ACCESS_READ)) == X_OK)
                rc = port_io(x, 1, (uint16_t)gpr_get_sized(x, HVEMU_RDX, 2), &a, size);
            break;
        }
        if (rc != X_OK)
            break;
        done++;
        if (uses_src)
            rsi = (rsi + (uint64_t)step) & amask;
        if (uses_dst)
            rdi = (rdi + (uint64_t)step) & amask;
        if (!rep)
            break;
        rcx = (rcx - 1) & amask;
        if (cmp_like) {
            int zf = (flags & HVEMU_FLAG_ZF) != 0;
            if (repne ? zf : !zf)
                break;
        }
    }
    if (done) {
        if (rep)
            gpr_set_sized(x, HVEMU_RCX, asz, rcx);
        if (uses_src)
            gpr_set_sized(x, HVEMU_RSI, asz, rsi);
        if (uses_dst)
            gpr_set_sized(x, HVEMU_RDI, asz, rdi);
        if (loaded)
            gpr_set_sized(x, HVEMU_RAX, size, acc);
        x->new_rflags = flags;
    }
    if (rc != X_OK && done) {
        /* a fault after some iterations: their register state is architectural, commit it
         * (RIP stays on the instruction) */
        int crc = exec_commit_effects(x);
        if (crc != X_OK)
            return crc;
    }
    return rc;
}
