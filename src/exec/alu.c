/* SPDX-License-Identifier: MIT */
/* Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT,
 * CMPXCHG and XADD. */
#include "families.h"

/* Two-operand ALU: op0 = op0 <op> op1, flags from the result; CMP and TEST only set flags. */
int exec_alu2(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size;
    uint64_t a, b, r = 0, f;
    int rc;
    if ((rc = op_read(x, 0, &a)) != X_OK || (rc = op_read(x, 1, &b)) != X_OK)
        return rc;
    uint64_t cf = (x->new_rflags & HVEMU_FLAG_CF) ? 1 : 0;
    int store = 1;
    switch (in->mnemonic) {
    case HV_MN_ADD: f = flags_add(a, b, 0, size, &r); break;
    case HV_MN_ADC: f = flags_add(a, b, cf, size, &r); break;
    case HV_MN_SUB: f = flags_sub(a, b, 0, size, &r); break;
    case HV_MN_SBB: f = flags_sub(a, b, cf, size, &r); break;
    case HV_MN_CMP: f = flags_sub(a, b, 0, size, &r); store = 0; break;
    case HV_MN_AND: r = a & b; f = flags_logic(r, size); break;
    case HV_MN_TEST: r = a & b; f = flags_logic(r, size); store = 0; break;
    case HV_MN_OR: r = a | b; f = flags_logic(r, size); break;
    default: r = (a ^ b) & size_mask(size); f = flags_logic(r, size); break; /* XOR */
    }
    flags_set(x, FLAGS_ARITH, f);
    return store ? op_write(x, 0, r) : X_OK;
}

/* One-operand: INC DEC (CF kept), NEG, NOT (no flags). */
int exec_alu1(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size;
    uint64_t a, r = 0, f;
    int rc = op_read(x, 0, &a);
    if (rc != X_OK)
        return rc;
    switch (in->mnemonic) {
    case HV_MN_INC:
        f = flags_add(a, 1, 0, size, &r);
        flags_set(x, FLAGS_ARITH & ~(uint64_t)HVEMU_FLAG_CF, f);
        break;
    case HV_MN_DEC:
        f = flags_sub(a, 1, 0, size, &r);
        flags_set(x, FLAGS_ARITH & ~(uint64_t)HVEMU_FLAG_CF, f);
        break;
    case HV_MN_NEG:
        f = flags_sub(0, a, 0, size, &r);
        flags_set(x, FLAGS_ARITH, f);
        break;
    default: /* NOT */
        r = ~a & size_mask(size);
        break;
    }
    return op_write(x, 0, r);
}

/* CMPXCHG: compare the accumulator with the destination. Equal: destination = source, ZF=1.
 * Different: accumulator = destination, and the destination is written back with its own value
 * (the processor always writes it, so a locked CMPXCHG is still one atomic RMW). */
int exec_cmpxchg(struct exec *x)
{
    unsigned size = x->in->op[0].size;
    uint64_t dst, src, acc = gpr_get_sized(x, HVEMU_RAX, size), r;
    int rc;
    if ((rc = op_read(x, 0, &dst)) != X_OK || (rc = op_read(x, 1, &src)) != X_OK)
        return rc;
    uint64_t f = flags_sub(acc, dst, 0, size, &r);
    flags_set(x, FLAGS_ARITH, f);
    if (f & HVEMU_FLAG_ZF)
        return op_write(x, 0, src);
    if (x->in->op[0].kind == HVEMU_OP_MEM && (rc = op_write(x, 0, dst)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RAX, size, dst);
    return X_OK;
}

/* XADD: temp = dst + src; src = dst; dst = temp. */
int exec_xadd(struct exec *x)
{
    unsigned size = x->in->op[0].size;
    uint64_t dst, src, r;
    int rc;
    if ((rc = op_read(x, 0, &dst)) != X_OK || (rc = op_read(x, 1, &src)) != X_OK)
        return rc;
    flags_set(x, FLAGS_ARITH, flags_add(dst, src, 0, size, &r));
    /* register-register form with the same register: the sum wins (written last) */
    if ((rc = op_write(x, 1, dst)) != X_OK)
        return rc;
    return op_write(x, 0, r);
}
