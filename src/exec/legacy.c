/* SPDX-License-Identifier: MIT */
/* Instructions that exist only outside 64-bit mode (the decoder gives #UD for them in 64-bit
 * mode): PUSHA/PUSHAD, POPA/POPAD, the BCD adjustments AAA AAS DAA DAS AAM AAD, BOUND, INTO,
 * and real-mode segment register loads. Semantics from the SDM's pseudo-code (Vol. 2A/2B);
 * the flags the SDM leaves undefined are listed in tests/hostdiff/undef_flags.c. */
#include "families.h"

#include <string.h>

/* PUSHA/PUSHAD: (E)AX (E)CX (E)DX (E)BX, the (E)SP before the instruction, (E)BP (E)SI (E)DI.
 * Eight pushes, each checked against SS on its own (a 16-bit SP may wrap between two of them);
 * slots that are contiguous in linear memory are staged as one write (at most three writes). */
int exec_pusha(struct exec *x)
{
    unsigned size = x->in->opsize, ss = sp_size(x);
    uint64_t rsp = gpr_get(x, HVEMU_RSP), la[8];
    uint8_t block[32];
    int rc;
    /* slot k (k = 0 is EAX) lands at SP - (k + 1) * size; the slots from EDI (k = 7) upwards */
    for (unsigned k = 0; k < 8; k++) {
        uint64_t v = gpr_get(x, k);
        memcpy(block + (7 - k) * size, &v, size);
        if ((rc = stack_linear(x, rsp - (uint64_t)(k + 1) * size, size, size, &la[7 - k])) != X_OK)
            return rc;
    }
    for (unsigned i = 0; i < 8;) {
        unsigned j = i + 1;
        while (j < 8 && la[j] == la[j - 1] + size)
            j++;
        if ((rc = mem_write(x, la[i], block + i * size, (j - i) * size, HVEMU_ACCESS_STACK_WRITE)) != X_OK)
            return rc;
        i = j;
    }
    gpr_set_sized(x, HVEMU_RSP, ss, rsp - 8 * size);
    return X_OK;
}

/* POPA/POPAD: the reverse, each pop checked on its own; the stored (E)SP is skipped (but its
 * slot is still within the checked stack). */
int exec_popa(struct exec *x)
{
    unsigned size = x->in->opsize;
    uint64_t rsp = gpr_get(x, HVEMU_RSP), la, vals[8];
    int rc;
    for (unsigned i = 0; i < 8; i++) { /* popped in the order EDI ESI EBP (ESP) EBX EDX ECX EAX */
        vals[i] = 0;
        if ((rc = stack_linear(x, rsp + (uint64_t)i * size, size, size, &la)) != X_OK)
            return rc;
        if (i != 3 && (rc = mem_read(x, la, &vals[i], size, HVEMU_ACCESS_STACK_READ)) != X_OK)
            return rc;
    }
    for (unsigned i = 0; i < 8; i++)
        if (i != 3)
            gpr_set_sized(x, 7 - i, size, vals[i]);
    gpr_set_sized(x, HVEMU_RSP, sp_size(x), rsp + 8 * size);
    return X_OK;
}

/* SF, ZF and PF of an 8-bit result (the rest of the arithmetic flags as given). */
static void set_szp8(struct exec *x, uint64_t al, uint64_t others_mask, uint64_t others)
{
    flags_set(x, HVEMU_FLAG_SF | HVEMU_FLAG_ZF | HVEMU_FLAG_PF | others_mask,
              flags_szp(al & 0xff, 1) | others);
}

/* AAA, AAS, DAA, DAS: SDM pseudo-code. AAA/AAS define AF and CF only; DAA/DAS leave OF
 * undefined. hvemu writes SF, ZF and PF from AL and clears OF where it is undefined. */
int exec_bcd(struct exec *x)
{
    uint64_t ax = gpr_get_sized(x, HVEMU_RAX, 2), f = x->new_rflags;
    unsigned al = ax & 0xff, ah = (unsigned)(ax >> 8) & 0xff;
    int af = (f & HVEMU_FLAG_AF) != 0, cf = (f & HVEMU_FLAG_CF) != 0;
    switch (x->in->mnemonic) {
    case HV_MN_AAA:
    case HV_MN_AAS:
        if ((al & 0xf) > 9 || af) {
            /* AX + 106h (AAA); AX - 6 then AH - 1 (AAS): the carry or borrow of AL reaches AH */
            ax = x->in->mnemonic == HV_MN_AAA ? ax + 0x106 : ((ax - 6) & 0xffff) - 0x100;
            af = cf = 1;
        } else {
            af = cf = 0;
        }
        ax = (ax & 0xff00) | (ax & 0x0f);
        gpr_set_sized(x, HVEMU_RAX, 2, ax);
        set_szp8(x, ax, HVEMU_FLAG_AF | HVEMU_FLAG_CF | HVEMU_FLAG_OF,
                 (af ? HVEMU_FLAG_AF : 0) | (cf ? HVEMU_FLAG_CF : 0));
        return X_OK;
    default: { /* DAA, DAS */
        int daa = x->in->mnemonic == HV_MN_DAA;
        unsigned old_al = al;
        int old_cf = cf;
        cf = 0;
        if ((al & 0xf) > 9 || af) {
            unsigned r = daa ? al + 6 : al - 6;
            cf = old_cf || (r > 0xff); /* the carry or borrow out of AL */
            al = r & 0xff;
            af = 1;
        } else {
            af = 0;
        }
        if (old_al > 0x99 || old_cf) {
            al = (daa ? al + 0x60 : al - 0x60) & 0xff;
            cf = 1;
        } else if (daa) {
            cf = 0; /* DAA's pseudo-code clears CF here; DAS's keeps what the low digit gave */
        }
        (void)ah;
        gpr_set_sized(x, HVEMU_RAX, 1, al);
        set_szp8(x, al, HVEMU_FLAG_AF | HVEMU_FLAG_CF | HVEMU_FLAG_OF,
                 (af ? HVEMU_FLAG_AF : 0) | (cf ? HVEMU_FLAG_CF : 0));
        return X_OK;
    }
    }
}

/* AAM imm8: AH = AL / imm8, AL = AL % imm8 (#DE for 0). AAD imm8: AL = AL + AH * imm8, AH = 0.
 * SF ZF PF from AL; OF AF CF undefined (hvemu clears them). */
int exec_aam_aad(struct exec *x)
{
    unsigned base = (unsigned)(x->in->op[0].u.imm.imm & 0xff);
    uint64_t ax = gpr_get_sized(x, HVEMU_RAX, 2);
    unsigned al = ax & 0xff, ah = (unsigned)(ax >> 8) & 0xff;
    if (x->in->mnemonic == HV_MN_AAM) {
        if (!base)
            return exec_exception(x, HVEMU_EXC_DE, 0, 0);
        ah = al / base;
        al = al % base;
    } else {
        al = (al + ah * base) & 0xff;
        ah = 0;
    }
    gpr_set_sized(x, HVEMU_RAX, 2, (uint64_t)ah << 8 | al);
    set_szp8(x, al, HVEMU_FLAG_AF | HVEMU_FLAG_CF | HVEMU_FLAG_OF, 0);
    return X_OK;
}

/* BOUND r, m: #BR unless lower <= r <= upper, signed, the bounds read from m and m + size. */
int exec_bound(struct exec *x)
{
    unsigned size = x->in->opsize;
    uint64_t lo = 0, hi = 0, r;
    int rc;
    if ((rc = op_read_mem(x, 1, 0, &lo, size)) != X_OK ||
        (rc = op_read_mem(x, 1, (int64_t)size, &hi, size)) != X_OK)
        return rc;
    r = gpr_get_sized(x, x->in->op[0].u.reg.idx, size);
    int64_t v = (int64_t)sext(r, size), l = (int64_t)sext(lo, size), h = (int64_t)sext(hi, size);
    if (v < l || v > h)
        return exec_exception(x, HVEMU_EXC_BR, 0, 0);
    return X_OK;
}

/* INTO: nothing when OF is clear. With OF set it completes and raises #OF as a trap (the
 * return address is the next instruction): HVEMU_TRAP, a software exception like INT3. */
int exec_into(struct exec *x)
{
    if (!(x->new_rflags & HVEMU_FLAG_OF))
        return X_OK;
    x->res->exc.vector = HVEMU_EXC_OF;
    x->res->exc.has_error_code = 0;
    x->res->exc.error_code = 0;
    x->res->trap_type = HVEMU_TRAP_SOFT_EXC;
    return X_TRAP;
}

/* MOV Sreg / POP Sreg / LxS in real mode: the selector, and base = selector * 16, keeping the
 * limit and attributes (which is what makes big real mode last); MOV/POP SS report their
 * interrupt shadow. Protected and 64-bit mode loads are src/exec/segment.c's. */
static int seg_load_real(struct exec *x, unsigned seg, uint16_t selector, int shadow)
{
    if (seg >= HVEMU_NUM_SEGS || seg == HVEMU_CS)
        return exec_ud(x);
    if (x->mode != HV_CPU_REAL)
        return exec_unhandled(x, "segment register load needs a descriptor load (protected mode)");
    if (seg == HVEMU_SS && shadow) /* MOV/POP SS block interrupts for one instruction */
        x->res->event = HVEMU_EVENT_SS_SHADOW;
    if (x->nsys >= EXEC_MAX_SYS)
        return exec_unhandled(x, "too many system register writes in one instruction");
    if (exec_need(x, HVEMU_PART_SEG(seg)) != X_OK)
        return X_UNHANDLED;
    const struct hvemu_segment *old = &x->s->seg[seg];
    struct exec_sysw *w = sys_stage(x, SYSREG_SEG0 + seg, (uint64_t)selector << 4, old->limit);
    w->selector = selector;
    w->attr = old->attr;
    return X_OK;
}

int seg_load(struct exec *x, unsigned seg, uint16_t selector)
{
    return seg_load_real(x, seg, selector, 1);
}

/* LES LDS LSS LFS LGS r, m16:16/m16:32: the offset into r, the selector after it into the
 * segment register (real mode only, as seg_load(); LSS makes no interrupt shadow). The far
 * pointer is read as one access. */
int exec_lxs(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, seg;
    uint8_t buf[16];
    uint64_t off = 0;
    uint16_t sel;
    int rc;
    switch (in->mnemonic) {
    case HV_MN_LES: seg = HVEMU_ES; break;
    case HV_MN_LDS: seg = HVEMU_DS; break;
    case HV_MN_LSS: seg = HVEMU_SS; break;
    case HV_MN_LFS: seg = HVEMU_FS; break;
    default: seg = HVEMU_GS; break;
    }
    if (x->mode != HV_CPU_REAL) /* checked first: a protected-mode load reads nothing yet */
        return exec_unhandled(x, "segment register load needs a descriptor load (protected mode)");
    if ((rc = op_read_mem(x, 1, 0, buf, size + 2)) != X_OK)
        return rc;
    memcpy(&off, buf, size);
    memcpy(&sel, buf + size, 2);
    if ((rc = seg_load_real(x, seg, sel, 0)) != X_OK)
        return rc;
    gpr_set_sized(x, in->op[0].u.reg.idx, size, off);
    return X_OK;
}
