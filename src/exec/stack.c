/* SPDX-License-Identifier: MIT */
/* Stack and control flow: PUSH POP PUSHF POPF ENTER LEAVE, JMP Jcc CALL RET LOOP/LOOPcc JrCXZ.
 * 64-bit mode: the stack is SS:RSP with 64-bit addressing; pushes are 8 bytes (2 with 66).
 * Other modes: SS.B picks ESP or SP (sp_size()), which wraps within its width and is the only
 * part of RSP written; pushes are 4 or 2 bytes by the operand size; stack_linear() does the SS
 * limit check (#SS(0)) and branch targets the CS limit check (exec_jump()). */
#include "families.h"

#include <string.h>

/* Stage a push of `size` bytes; *rsp is the stack pointer to update. */
static int push_val(struct exec *x, uint64_t *rsp, uint64_t v, unsigned size)
{
    uint64_t la;
    *rsp -= size;
    int rc = stack_linear(x, *rsp, size, size, &la);
    if (rc != X_OK)
        return rc;
    return mem_write(x, la, &v, size, HVEMU_ACCESS_STACK_WRITE);
}

static int pop_val(struct exec *x, uint64_t *rsp, uint64_t *v, unsigned size)
{
    uint64_t la;
    int rc = stack_linear(x, *rsp, size, size, &la);
    if (rc != X_OK)
        return rc;
    *v = 0;
    rc = mem_read(x, la, v, size, HVEMU_ACCESS_STACK_READ);
    *rsp += size;
    return rc;
}

int exec_push(struct exec *x)
{
    uint64_t v, rsp = gpr_get(x, HVEMU_RSP);
    unsigned size = x->in->opsize;
    int rc = op_read(x, 0, &v);
    if (rc != X_OK)
        return rc;
    /* A pushed segment register is its 16-bit selector zero-extended into the slot, which is
     * what Intel and AMD do with a 64-bit operand size. With a 32-bit one the SDM lets either
     * happen, and recent Intel processors make a 16-bit move that leaves the slot's upper half
     * as it was; AMD writes the whole slot. The guest's CPUID says which (cpu_is_amd()). */
    if (x->mode && size == 4 && x->in->op[0].kind == HVEMU_OP_REG &&
        x->in->op[0].u.reg.cls == HVEMU_REG_SEG) {
        int amd;
        uint64_t la;
        if ((rc = cpu_is_amd(x, &amd)) != X_OK)
            return rc;
        if (!amd) {
            rsp -= 4;
            if ((rc = stack_linear(x, rsp, 2, 2, &la)) != X_OK ||
                (rc = mem_write(x, la, &v, 2, HVEMU_ACCESS_STACK_WRITE)) != X_OK)
                return rc;
            gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
            return X_OK;
        }
    }
    if ((rc = push_val(x, &rsp, v, size)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    return X_OK;
}

int exec_pop(struct exec *x)
{
    uint64_t v, rsp = gpr_get(x, HVEMU_RSP);
    unsigned size = x->in->opsize;
    int rc = pop_val(x, &rsp, &v, size);
    if (rc != X_OK)
        return rc;
    /* RSP is incremented before a memory destination's address is computed (POP [RSP+8]) */
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    if (x->in->op[0].kind == HVEMU_OP_MEM) {
        /* the address uses the incremented RSP: an RSP base is displaced by the pop's size */
        const struct hvemu_mem *m = &x->in->op[0].u.mem;
        int64_t adj = m->base_class != HVEMU_REG_NONE && m->base_class != HVEMU_REG_RIP &&
                      m->base == HVEMU_RSP ? (int64_t)size : 0;
        return op_write_mem(x, 0, adj, &v, size);
    }
    return op_write(x, 0, v); /* POP RSP: the popped value wins */
}

/* RFLAGS as PUSHF stores it: VM and RF read as 0. */
int exec_pushf(struct exec *x)
{
    uint64_t rsp = gpr_get(x, HVEMU_RSP);
    uint64_t f = x->new_rflags & ~(uint64_t)(HVEMU_FLAG_VM | HVEMU_FLAG_RF);
    int rc = push_val(x, &rsp, f, x->in->opsize);
    if (rc != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    return X_OK;
}

/* POPF at CPL 0 with IOPL 0 semantics for the bits a guest can change: the arithmetic flags,
 * TF, DF, OF, NT, AC, ID; IF and IOPL need the privilege level, which hvemu takes from CS. */
int exec_popf(struct exec *x)
{
    uint64_t v, rsp = gpr_get(x, HVEMU_RSP);
    unsigned size = x->in->opsize;
    int rc = pop_val(x, &rsp, &v, size);
    if (rc != X_OK)
        return rc;
    if (exec_need(x, HVEMU_PART_SEG(HVEMU_CS)) != X_OK)
        return X_UNHANDLED;
    uint64_t mask = flags_loadable(exec_cpl(x), (unsigned)(x->s->rflags >> 12) & 3);
    if (size == 2)
        mask &= 0xffff;
    /* VM, RF, VIF, VIP are cleared or kept by POPF in 64-bit mode: RF cleared, VIF/VIP kept */
    x->new_rflags = (x->new_rflags & ~mask & ~(uint64_t)HVEMU_FLAG_RF) | (v & mask) | 2;
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    return X_OK;
}

/* LEAVE: RSP = RBP; RBP = pop. */
int exec_leave(struct exec *x)
{
    unsigned size = x->in->opsize;
    uint64_t v, rsp = gpr_get(x, HVEMU_RBP);
    int rc = pop_val(x, &rsp, &v, size);
    if (rc != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    gpr_set_sized(x, HVEMU_RBP, size, v);
    return X_OK;
}

/* ENTER alloc, level. Its pushes (the old frame pointer, level-1 frame pointers copied from the
 * enclosing frame, then the new frame pointer) are contiguous below RSP, so they are built as
 * one block and staged as up to four 64-byte writes: at most 32 slots of 8 bytes = 256 bytes.
 * The copied pointers are read before anything is written, so a fault leaves no trace. */
int exec_enter(struct exec *x)
{
    unsigned size = x->in->opsize;
    uint64_t alloc = x->in->op[0].u.imm.imm & 0xffff;
    unsigned level = (unsigned)(x->in->op[1].u.imm.imm & 31);
    uint64_t rsp = gpr_get(x, HVEMU_RSP), rbp = gpr_get(x, HVEMU_RBP);
    unsigned nslots = level ? level + 1 : 1;
    uint8_t block[32 * 8];
    uint64_t spmask = size_mask(sp_size(x)), frame = rsp - size, la;
    /* An operand size other than the stack's (66 C8 on a 16-bit stack, or on a 32-bit one):
     * the SDM's pseudo-code and emulators read differently which width FrameTemp and rBP get,
     * and this host cannot run such code to tell: not executed. */
    if (x->mode && size != sp_size(x))
        return exec_unhandled(x, "ENTER with an operand size other than the stack's");
    int rc;
    /* slot k is pushed k-th and lands at rsp - (k+1)*size: offset (nslots-1-k)*size in block */
#define SLOT(k) (block + (nslots - 1 - (k)) * size)
    memcpy(SLOT(0), &rbp, size);
    for (unsigned i = 1; i < level; i++) {
        uint64_t v = 0;
        if ((rc = stack_linear(x, rbp - (uint64_t)i * size, size, size, &la)) != X_OK ||
            (rc = mem_read(x, la, &v, size, HVEMU_ACCESS_STACK_READ)) != X_OK)
            return rc;
        memcpy(SLOT(i), &v, size);
    }
    if (level)
        memcpy(SLOT(level), &frame, size);
#undef SLOT
    unsigned total = nslots * size;
    /* a 16/32-bit stack pointer that wraps inside the pushed block would split it in two */
    if (x->mode && ((rsp - total) & spmask) + total - 1 > spmask)
        return exec_unhandled(x, "ENTER whose pushes wrap around the stack pointer's width");
    if ((rc = stack_linear(x, rsp - total, total, size, &la)) != X_OK)
        return rc;
    for (unsigned off = 0; off < total; off += 64)
        if ((rc = mem_write(x, la + off, block + off, total - off < 64 ? total - off : 64,
                            HVEMU_ACCESS_STACK_WRITE)) != X_OK)
            return rc;
    /* the pushes come before the touch of the new stack top, the first push (the highest
     * slot) first: a fault on them is the one reported */
    if ((rc = mem_probe(x, la + total - size, size)) != X_OK ||
        (rc = mem_probe(x, la, total)) != X_OK)
        return rc;
    rsp -= total + alloc;
    /* the CPU touches the new stack top (a fault there reports exactly that address, as
     * measured on the host): probe it as a write of one stack slot */
    if ((rc = stack_linear(x, rsp, size, size, &la)) != X_OK || /* #AC comes before the #PF */
        (rc = mem_probe(x, la, size)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RBP, size, frame);
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    return X_OK;
}

/* ---- control flow ---- */

static uint64_t branch_target(struct exec *x, unsigned i, int *rc)
{
    const struct hvemu_operand *op = &x->in->op[i];
    uint64_t v = 0;
    *rc = X_OK;
    if (op->kind == HVEMU_OP_FARPTR) { /* JMP/CALL ptr16:16/32 outside 64-bit mode */
        *rc = exec_unhandled(x, "far transfer (a CS descriptor load) not executed");
        return 0;
    }
    if (op->kind == HVEMU_OP_REL)
        return x->rip_next + sext(op->u.imm.imm, op->size);
    *rc = op_read(x, i, &v);
    return v & size_mask(x->in->opsize);
}

int exec_jmp(struct exec *x)
{
    int rc;
    uint64_t t = branch_target(x, 0, &rc);
    if (rc != X_OK)
        return rc;
    if (x->in->opsize == 2)
        t &= 0xffff;
    return exec_jump(x, t);
}

/* Jcc: the condition is the low nibble of the opcode (70-7F and 0F 80-8F alike). */
int exec_jcc(struct exec *x)
{
    if (!cond_holds(x->new_rflags, x->in->opcode & 15))
        return X_OK;
    return exec_jmp(x);
}

int exec_call(struct exec *x)
{
    int rc;
    uint64_t t = branch_target(x, 0, &rc);
    if (rc != X_OK)
        return rc;
    uint64_t rsp = gpr_get(x, HVEMU_RSP);
    unsigned size = x->in->opsize;
    if (size == 2)
        t &= 0xffff;
    if ((rc = exec_jump(x, t)) != X_OK)
        return rc;
    if ((rc = push_val(x, &rsp, x->rip_next, size)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    return X_OK;
}

int exec_ret(struct exec *x)
{
    uint64_t t, rsp = gpr_get(x, HVEMU_RSP);
    unsigned size = x->in->opsize;
    int rc = pop_val(x, &rsp, &t, size);
    if (rc != X_OK)
        return rc;
    if (x->in->noperands)
        rsp += x->in->op[0].u.imm.imm & 0xffff;
    if ((rc = exec_jump(x, t)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp);
    return X_OK;
}

/* LOOP/LOOPE/LOOPNE/JrCXZ: the counter is rCX at the address size. */
int exec_loop(struct exec *x)
{
    unsigned asz = x->in->addrsize;
    uint64_t c = gpr_get_sized(x, HVEMU_RCX, asz);
    int take;
    switch (x->in->mnemonic) {
    case HV_MN_JCXZ: case HV_MN_JECXZ: case HV_MN_JRCXZ:
        take = c == 0;
        break;
    default:
        c = (c - 1) & size_mask(asz);
        gpr_set_sized(x, HVEMU_RCX, asz, c);
        take = c != 0;
        if (x->in->mnemonic == HV_MN_LOOPE)
            take = take && (x->new_rflags & HVEMU_FLAG_ZF);
        else if (x->in->mnemonic == HV_MN_LOOPNE)
            take = take && !(x->new_rflags & HVEMU_FLAG_ZF);
        break;
    }
    return take ? exec_jmp(x) : X_OK;
}
