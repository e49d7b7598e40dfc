/* SPDX-License-Identifier: MIT */
/* Data movement: MOV MOVZX MOVSX MOVSXD XCHG LEA CBW/CWDE/CDQE CWD/CDQ/CQO XLAT LAHF SAHF, and
 * the one-byte flag instructions and NOPs. */
#include "families.h"

int exec_mov(struct exec *x)
{
    uint64_t v;
    int rc = op_read(x, 1, &v);
    return rc != X_OK ? rc : op_write(x, 0, v);
}

int exec_movzx(struct exec *x)
{
    return exec_mov(x); /* op_read zero-extends; the write width is the destination's */
}

/* MOVSX, MOVSXD: sign-extend the source to the destination size. */
int exec_movsx(struct exec *x)
{
    uint64_t v;
    int rc = op_read(x, 1, &v);
    if (rc != X_OK)
        return rc;
    return op_write(x, 0, sext(v, x->in->op[1].size));
}

/* XCHG: with a memory operand it is locked (the commit uses compare-exchange). */
int exec_xchg(struct exec *x)
{
    uint64_t a, b;
    int rc;
    if ((rc = op_read(x, 0, &a)) != X_OK || (rc = op_read(x, 1, &b)) != X_OK)
        return rc;
    if ((rc = op_write(x, 0, b)) != X_OK)
        return rc;
    return op_write(x, 1, a);
}

/* LEA: the effective address (no segment base), truncated to the operand size. */
int exec_lea(struct exec *x)
{
    const struct hvemu_mem *m = &x->in->op[1].u.mem;
    uint64_t ea = (uint64_t)m->disp;
    if (m->base_class == HVEMU_REG_RIP)
        ea += x->rip_next;
    else if (m->base_class != HVEMU_REG_NONE)
        ea += gpr_get(x, m->base);
    if (m->index_class != HVEMU_REG_NONE)
        ea += gpr_get(x, m->index) * m->scale;
    ea &= size_mask(m->addr_size);
    return op_write(x, 0, ea);
}

/* CBW/CWDE/CDQE: sign-extend the low half of the accumulator into all of it. */
int exec_cbw(struct exec *x)
{
    unsigned size = x->in->opsize;
    uint64_t v = gpr_get_sized(x, HVEMU_RAX, size / 2);
    gpr_set_sized(x, HVEMU_RAX, size, sext(v, size / 2));
    return X_OK;
}

/* CWD/CDQ/CQO: the accumulator's sign into rDX. */
int exec_cwd(struct exec *x)
{
    unsigned size = x->in->opsize;
    uint64_t v = gpr_get_sized(x, HVEMU_RAX, size);
    gpr_set_sized(x, HVEMU_RDX, size, (v & sign_bit(size)) ? ~(uint64_t)0 : 0);
    return X_OK;
}

/* XLAT: AL = [seg:rBX + AL] (zero-extended AL, address-size wrap). */
int exec_xlat(struct exec *x)
{
    uint64_t v;
    int rc = op_read(x, 0, &v);
    if (rc != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RAX, 1, v);
    return X_OK;
}

/* LAHF/SAHF: AH <-> SF ZF AF PF CF (bit 1 always reads as 1). */
int exec_lahf(struct exec *x)
{
    uint64_t f = (x->new_rflags & 0xd5) | 2;
    reg_set(x, HVEMU_REG_GPR8_HIGH, HVEMU_RAX, f);
    return X_OK;
}

int exec_sahf(struct exec *x)
{
    uint64_t ah = reg_get(x, HVEMU_REG_GPR8_HIGH, HVEMU_RAX);
    flags_set(x, 0xd5, ah);
    return X_OK;
}

int exec_nop(struct exec *x)
{
    (void)x;
    return X_OK;
}

/* CLC STC CMC CLD STD. */
int exec_flagop(struct exec *x)
{
    switch (x->in->mnemonic) {
    case HV_MN_CLC: flags_set(x, HVEMU_FLAG_CF, 0); break;
    case HV_MN_STC: flags_set(x, HVEMU_FLAG_CF, HVEMU_FLAG_CF); break;
    case HV_MN_CMC: flags_set(x, HVEMU_FLAG_CF, x->new_rflags ^ HVEMU_FLAG_CF); break;
    case HV_MN_CLD: flags_set(x, HVEMU_FLAG_DF, 0); break;
    default: flags_set(x, HVEMU_FLAG_DF, HVEMU_FLAG_DF); break; /* STD */
    }
    return X_OK;
}
