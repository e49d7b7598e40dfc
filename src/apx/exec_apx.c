/* SPDX-License-Identifier: MIT */
/*
 * Intel APX execution: the EVEX map-4 promoted instructions and the APX-only instructions.
 *
 * A promoted instruction computes exactly what its legacy form computes, so the legacy family
 * handler (src/exec/) does the arithmetic and the forms are wrappers around it:
 *   - ND=0: the legacy operands, the legacy handler.
 *   - NF=1: the legacy handler, then RFLAGS as before the instruction.
 *   - ND=1 (NDD): operands are [dest (EVEX.vvvv), src1, src2...]. The legacy handler runs on
 *     [src1, src2...] with src1 made read-only; the value it stages for src1 (a register write,
 *     or a memory write that is then dropped, so a memory src1 is only read) is the result,
 *     and it goes to the destination register zero-extended to 64 bits whatever the operand
 *     size (the NDD rule: no merge with the old upper bits, for 8- and 16-bit sizes too).
 *   - ZU (IMUL 69/6B and SETcc with ND=1): the legacy result, the destination register's upper
 *     bits zeroed.
 * New instructions have their own handlers: CCMPscc/CTESTscc, CFCMOVcc, PUSH2/POP2 (and the
 * PPX forms), PUSHP/POPP (plain PUSH/POP: PPX is only a hint), JMPABS, and the BMI1/BMI2 GPR
 * instructions (EVEX with NF, and VEX).
 */
#include "apx/apx.h"
#include "exec/families.h"

/* ---- the wrappers ---- */

/* A copy of the decoded instruction with the first `drop` operands removed: what the legacy
 * handler sees for an NDD form. SHLD/SHRD take left/right from the opcode, which map 4 moves
 * (24/A5, 2C/AD): the copy carries the legacy opcode. */
static void shadow_insn(const struct hvemu_insn *in, struct hvemu_insn *sh, unsigned drop)
{
    *sh = *in;
    for (unsigned i = 0; i + drop < in->noperands; i++)
        sh->op[i] = in->op[i + drop];
    sh->noperands = (uint8_t)(in->noperands - drop);
    if (in->mnemonic == HV_MN_SHLD)
        sh->opcode = 0xA4;
    else if (in->mnemonic == HV_MN_SHRD)
        sh->opcode = 0xAC;
}

/* Run the legacy handler on the instruction as it is (ND=0), honouring NF. */
static int run_legacy(struct exec *x, exec_fn fn)
{
    uint64_t flags = x->new_rflags;
    const struct hvemu_insn *in = x->in;
    struct hvemu_insn sh;
    int rc;
    if (in->mnemonic == HV_MN_SHLD || in->mnemonic == HV_MN_SHRD) {
        shadow_insn(in, &sh, 0);
        x->in = &sh;
        rc = fn(x);
        x->in = in;
    } else {
        rc = fn(x);
    }
    if (in->evex_nf)
        x->new_rflags = flags;
    return rc;
}

/* NDD: dest(vvvv) = src1 <op> src2 ...; see the file comment. */
static int run_ndd(struct exec *x, exec_fn fn)
{
    const struct hvemu_insn *in = x->in;
    uint64_t flags = x->new_rflags;
    struct hvemu_insn sh;
    shadow_insn(in, &sh, 1);
    struct hvemu_operand *src1 = &sh.op[0];
    unsigned size = src1->size;
    /* src1 is only read: a memory src1 is read as a plain read (never the RMW kind) */
    src1->access = src1->kind == HVEMU_OP_REG ? (HVEMU_OPA_READ | HVEMU_OPA_WRITE) : HVEMU_OPA_READ;
    uint32_t dirty0 = x->gpr_dirty;
    unsigned nw0 = x->nwrites;
    unsigned sidx = src1->kind == HVEMU_OP_REG ? src1->u.reg.idx : 0;
    uint64_t saved = x->new_gpr[sidx];
    x->in = &sh;
    int rc = fn(x);
    x->in = in;
    if (rc != X_OK)
        return rc;
    uint64_t v = 0;
    if (src1->kind == HVEMU_OP_REG) {
        uint32_t bit = 1u << sidx;
        if (x->gpr_dirty & bit & ~dirty0)
            v = x->new_gpr[sidx];
        else
            v = reg_get(x, HVEMU_REG_GPR64, sidx); /* the handler kept src1 as it was */
        /* un-stage the write to src1: it belongs to the destination */
        x->gpr_dirty = (x->gpr_dirty & ~bit) | (dirty0 & bit);
        x->new_gpr[sidx] = saved;
    } else if (x->nwrites > nw0) {
        x->nwrites--;
        memcpy(&v, x->wr[x->nwrites].data, size > 8 ? 8 : size);
    } else {
        return exec_unhandled(x, "APX NDD: the legacy handler produced no result");
    }
    reg_set(x, HVEMU_REG_GPR64, in->op[0].u.reg.idx, v & size_mask(size));
    if (in->evex_nf)
        x->new_rflags = flags;
    return X_OK;
}

/* Promoted instruction: legacy, NDD, NF forms of one legacy handler. */
#define PROMOTED(name, legacy)                                           \
    static int name(struct exec *x)                                      \
    {                                                                    \
        return x->in->evex_nd ? run_ndd(x, legacy) : run_legacy(x, legacy); \
    }
PROMOTED(apx_alu2, exec_alu2)
PROMOTED(apx_alu1, exec_alu1)
PROMOTED(apx_shift, exec_shift)
PROMOTED(apx_shxd, exec_shxd)
PROMOTED(apx_adx, exec_adx)
PROMOTED(apx_cmov, exec_cmov)

/* IMUL: the one-operand form (NF), AF two-operand (ND: three registers), 69/6B three-operand. */
static int apx_imul(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    if (in->evex_nd && in->noperands == 3 && in->op[2].kind != HVEMU_OP_IMM)
        return run_ndd(x, exec_imul_n);
    return run_legacy(x, exec_imul);
}

/* Zero the upper bits of a register destination after the legacy handler (the ZU forms). */
static int zero_upper(struct exec *x, int rc)
{
    const struct hvemu_operand *d = &x->in->op[0];
    if (rc != X_OK || d->kind != HVEMU_OP_REG)
        return rc;
    unsigned idx = d->u.reg.idx;
    if (x->gpr_dirty & (1u << idx))
        x->new_gpr[idx] &= size_mask(d->size);
    return X_OK;
}

/* IMULZU r, r/m, imm (69/6B with ND=1): the 16-bit result does not merge. */
static int apx_imulzu(struct exec *x)
{
    return zero_upper(x, run_legacy(x, exec_imul_n));
}

/* SETcc (ND=0) and SETZUcc (ND=1): a register destination's bits 63:8 are zeroed by ZU. */
static int apx_setcc(struct exec *x)
{
    int rc = exec_setcc(x);
    return x->in->evex_nd ? zero_upper(x, rc) : rc;
}

/* NF-only forms (MUL IMUL DIV IDIV, POPCNT LZCNT TZCNT) and forms with neither (MOVBE CRC32). */
static int apx_mul1(struct exec *x) { return run_legacy(x, exec_mul1); }
static int apx_div(struct exec *x) { return run_legacy(x, exec_div); }
static int apx_bitscan(struct exec *x) { return run_legacy(x, exec_bitscan); }
static int apx_movbe(struct exec *x) { return run_legacy(x, exec_movbe); }
static int apx_crc32(struct exec *x) { return run_legacy(x, exec_crc32); }

/* ---- CCMPscc / CTESTscc ---- */

/* The source condition: a condition code, where 0xA is "always" and 0xB "never" (they replace
 * P and NP). */
static int scc_holds(uint64_t rflags, unsigned scc)
{
    if (scc == 0xA)
        return 1;
    if (scc == 0xB)
        return 0;
    return cond_holds(rflags, scc);
}

/* Both operands are read whatever the condition: a memory fault is not suppressed. When the
 * condition holds, the flags are those of CMP/TEST; otherwise OF SF ZF CF come from the default
 * flag value (EVEX.vvvv bits 3..0), PF = CF and AF = 0. */
static int apx_ccmp(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size;
    uint64_t a, b, r, f;
    int rc;
    if ((rc = op_read(x, 0, &a)) != X_OK || (rc = op_read(x, 1, &b)) != X_OK)
        return rc;
    if (scc_holds(x->new_rflags, in->evex_scc)) {
        if (in->mnemonic == HV_MN_CCMP)
            f = flags_sub(a, b, 0, size, &r);
        else
            f = flags_logic(a & b & size_mask(size), size);
    } else {
        unsigned dfv = in->evex_dfv;
        f = ((dfv & 8) ? HVEMU_FLAG_OF : 0) | ((dfv & 4) ? HVEMU_FLAG_SF : 0) |
            ((dfv & 2) ? HVEMU_FLAG_ZF : 0) | ((dfv & 1) ? HVEMU_FLAG_CF | HVEMU_FLAG_PF : 0);
    }
    flags_set(x, FLAGS_ARITH, f);
    return X_OK;
}

/* ---- CFCMOVcc ---- */

/* Conditional move that suppresses faults: when the condition is false, the memory operand is
 * not accessed at all (no read, no write, no fault). The forms (EVEX.ND, EVEX.NF):
 *   0 0  CFCMOVcc r, r/m   r = cc ? r/m : 0
 *   0 1  CFCMOVcc r/m, r   cc: r/m = r; else a register r/m = 0, a memory r/m untouched
 *   1 1  CFCMOVcc d, r, r/m   d = cc ? r/m : r (NDD: zero-extended)
 * (ND=1 NF=0 is CMOVcc with a new destination, which reads its source whatever the condition.)
 * A register written with 0 follows the legacy width rules (16 bits merge, 32 zero-extend); the
 * specification says only "reg := 0", so the 16-bit merge is unverified (docs/apx.md). */
static int apx_cfcmov(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    int t = cond_holds(x->new_rflags, in->opcode & 15);
    uint64_t v = 0;
    int rc;
    if (in->evex_nd) {
        if ((rc = op_read(x, t ? 2 : 1, &v)) != X_OK)
            return rc;
        reg_set(x, HVEMU_REG_GPR64, in->op[0].u.reg.idx, v & size_mask(in->op[0].size));
        return X_OK;
    }
    if (t) {
        if ((rc = op_read(x, 1, &v)) != X_OK)
            return rc;
        return op_write(x, 0, v);
    }
    if (in->op[0].kind == HVEMU_OP_REG)
        return op_write(x, 0, 0);
    return X_OK;
}

/* ---- PUSH2 / POP2 (and PUSH2P / POP2P: the PPX hint changes nothing architectural) ---- */

/* RSP must be 16-byte aligned (#GP(0) otherwise). PUSH2 a, b pushes a, then b: [RSP-8] = a,
 * [RSP-16] = b. POP2 a, b pops a, then b: a = [RSP], b = [RSP+8]. Each is one 16-byte stack
 * access, so either both halves happen or neither (the aligned access never crosses a page).
 * Unverified (docs/apx.md): a #PF reports RSP-16, and the alignment #GP comes first. */
static int stack16(struct exec *x, uint64_t rsp, uint64_t *la)
{
    if (rsp & 15)
        return exec_gp0(x);
    return stack_linear(x, rsp, 16, 16, la); /* 16-byte aligned: #AC cannot apply */
}

static int apx_push2(struct exec *x)
{
    uint64_t rsp = gpr_get(x, HVEMU_RSP), la, v[2];
    v[1] = gpr_get(x, x->in->op[0].u.reg.idx);
    v[0] = gpr_get(x, x->in->op[1].u.reg.idx);
    int rc = stack16(x, rsp - 16, &la);
    if (rc != X_OK)
        return rc;
    if ((rc = mem_write(x, la, v, 16, HVEMU_ACCESS_STACK_WRITE)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, 8, rsp - 16);
    return X_OK;
}

static int apx_pop2(struct exec *x)
{
    uint64_t rsp = gpr_get(x, HVEMU_RSP), la, v[2];
    int rc = stack16(x, rsp, &la);
    if (rc != X_OK)
        return rc;
    if ((rc = mem_read(x, la, v, 16, HVEMU_ACCESS_STACK_READ)) != X_OK)
        return rc;
    gpr_set_sized(x, HVEMU_RSP, 8, rsp + 16);
    gpr_set_sized(x, x->in->op[0].u.reg.idx, 8, v[0]);
    gpr_set_sized(x, x->in->op[1].u.reg.idx, 8, v[1]);
    return X_OK;
}

/* ---- JMPABS ---- */

/* JMPABS imm64: RIP = imm64, #GP(0) when it is not canonical. */
static int apx_jmpabs(struct exec *x)
{
    return exec_jump(x, x->in->op[0].u.imm.imm);
}

/* ---- BMI1 / BMI2 (EVEX with NF, and VEX) ---- */

/* Undefined flags of these instructions (AF, PF, and SF for BEXTR) are written as 0. */
static int bmi_flags(struct exec *x, uint64_t f)
{
    if (!x->in->evex_nf)
        flags_set(x, FLAGS_ARITH, f);
    return X_OK;
}

static uint64_t zs_flags(uint64_t r, unsigned size)
{
    return (r & size_mask(size) ? 0 : HVEMU_FLAG_ZF) | (r & sign_bit(size) ? HVEMU_FLAG_SF : 0);
}

static int apx_bmi(struct exec *x)
{
    const struct hvemu_insn *in = x->in;
    unsigned size = in->op[0].size, w = 8 * size;
    uint64_t m = size_mask(size), a, b = 0, r, f = 0;
    int rc;
    if ((rc = op_read(x, 1, &a)) != X_OK)
        return rc;
    if (in->noperands > 2 && (rc = op_read(x, 2, &b)) != X_OK)
        return rc;
    a &= m;
    b &= m;
    switch (in->mnemonic) {
    case HV_MN_ANDN: /* dest = ~src1 & src2 */
        r = ~a & b & m;
        f = zs_flags(r, size);
        break;
    case HV_MN_BLSI:
        r = (0 - a) & a & m;
        f = zs_flags(r, size) | (a ? HVEMU_FLAG_CF : 0);
        break;
    case HV_MN_BLSMSK:
        r = ((a - 1) ^ a) & m;
        f = (r & sign_bit(size) ? HVEMU_FLAG_SF : 0) | (a ? 0 : HVEMU_FLAG_CF);
        break;
    case HV_MN_BLSR:
        r = ((a - 1) & a) & m;
        f = zs_flags(r, size) | (a ? 0 : HVEMU_FLAG_CF);
        break;
    case HV_MN_BZHI: { /* index = src2[7:0] */
        unsigned n = (unsigned)(b & 0xff);
        r = n < w ? a & (((uint64_t)1 << n) - 1) : a;
        f = zs_flags(r, size) | (n > w - 1 ? HVEMU_FLAG_CF : 0);
        break;
    }
    case HV_MN_BEXTR: { /* start = control[7:0], length = control[15:8] */
        unsigned s = (unsigned)(b & 0xff), l = (unsigned)((b >> 8) & 0xff);
        r = s < w ? a >> s : 0;
        if (l < 64)
            r &= ((uint64_t)1 << l) - 1;
        r &= m;
        f = r ? 0 : HVEMU_FLAG_ZF;
        break;
    }
    case HV_MN_PDEP: { /* deposit the low bits of src (op1) at the set bits of mask (op2) */
        r = 0;
        for (uint64_t k = 1, mk = b; mk; mk &= mk - 1, k <<= 1)
            if (a & k)
                r |= mk & (0 - mk);
        rc = op_write(x, 0, r);
        return rc;
    }
    case HV_MN_PEXT: { /* gather the bits of src (op1) at the set bits of mask (op2) */
        r = 0;
        uint64_t k = 1;
        for (uint64_t mk = b; mk; mk &= mk - 1, k <<= 1)
            if (a & mk & (0 - mk))
                r |= k;
        return op_write(x, 0, r);
    }
    case HV_MN_MULX: { /* hi:lo = rDX * src; op0 = hi, op1 = lo (the high half wins if equal) */
        uint64_t d = gpr_get_sized(x, HVEMU_RDX, size), src;
        if ((rc = op_read(x, 2, &src)) != X_OK)
            return rc;
        unsigned __int128 p = (unsigned __int128)d * (src & m);
        gpr_set_sized(x, in->op[1].u.reg.idx, size, (uint64_t)p & m);
        gpr_set_sized(x, in->op[0].u.reg.idx, size, (uint64_t)(p >> w) & m);
        return X_OK;
    }
    case HV_MN_SHLX: case HV_MN_SHRX: case HV_MN_SARX: {
        unsigned c = (unsigned)(b & (w - 1));
        if (in->mnemonic == HV_MN_SHLX)
            r = (a << c) & m;
        else if (in->mnemonic == HV_MN_SHRX)
            r = a >> c;
        else
            r = (uint64_t)((int64_t)sext(a, size) >> c) & m;
        return op_write(x, 0, r);
    }
    default: { /* RORX */
        unsigned c = (unsigned)(b & (w - 1));
        r = c ? ((a >> c) | (a << (w - c))) & m : a;
        return op_write(x, 0, r);
    }
    }
    if ((rc = op_write(x, 0, r)) != X_OK)
        return rc;
    return bmi_flags(x, f);
}

/* ---- the table ---- */

#define CC16(F_, fn) \
    [HV_MN_##F_##O] = fn, [HV_MN_##F_##NO] = fn, [HV_MN_##F_##B] = fn, [HV_MN_##F_##NB] = fn, \
    [HV_MN_##F_##Z] = fn, [HV_MN_##F_##NZ] = fn, [HV_MN_##F_##BE] = fn, [HV_MN_##F_##NBE] = fn, \
    [HV_MN_##F_##S] = fn, [HV_MN_##F_##NS] = fn, [HV_MN_##F_##P] = fn, [HV_MN_##F_##NP] = fn, \
    [HV_MN_##F_##L] = fn, [HV_MN_##F_##NL] = fn, [HV_MN_##F_##LE] = fn, [HV_MN_##F_##NLE] = fn

/* Handlers of APX-promoted EVEX forms and APX-only mnemonics, keyed by mnemonic. */
static const exec_fn apx_handlers[HV_MN_COUNT] = {
    [HV_MN_ADD] = apx_alu2, [HV_MN_ADC] = apx_alu2, [HV_MN_SUB] = apx_alu2,
    [HV_MN_SBB] = apx_alu2, [HV_MN_AND] = apx_alu2, [HV_MN_OR] = apx_alu2,
    [HV_MN_XOR] = apx_alu2,
    [HV_MN_INC] = apx_alu1, [HV_MN_DEC] = apx_alu1, [HV_MN_NEG] = apx_alu1,
    [HV_MN_NOT] = apx_alu1,
    [HV_MN_SHL] = apx_shift, [HV_MN_SAL] = apx_shift, [HV_MN_SHR] = apx_shift,
    [HV_MN_SAR] = apx_shift, [HV_MN_ROL] = apx_shift, [HV_MN_ROR] = apx_shift,
    [HV_MN_RCL] = apx_shift, [HV_MN_RCR] = apx_shift,
    [HV_MN_SHLD] = apx_shxd, [HV_MN_SHRD] = apx_shxd,
    [HV_MN_ADCX] = apx_adx, [HV_MN_ADOX] = apx_adx,
    [HV_MN_IMUL] = apx_imul, [HV_MN_IMULZU] = apx_imulzu,
    [HV_MN_MUL] = apx_mul1, [HV_MN_DIV] = apx_div, [HV_MN_IDIV] = apx_div,
    [HV_MN_POPCNT] = apx_bitscan, [HV_MN_LZCNT] = apx_bitscan, [HV_MN_TZCNT] = apx_bitscan,
    [HV_MN_MOVBE] = apx_movbe, [HV_MN_CRC32] = apx_crc32,
    CC16(CMOV, apx_cmov), CC16(CFCMOV, apx_cfcmov), CC16(SET, apx_setcc), CC16(SETZU, apx_setcc),
    [HV_MN_CCMP] = apx_ccmp, [HV_MN_CTEST] = apx_ccmp,
    [HV_MN_PUSH2] = apx_push2, [HV_MN_PUSH2P] = apx_push2,
    [HV_MN_POP2] = apx_pop2, [HV_MN_POP2P] = apx_pop2,
    [HV_MN_PUSHP] = exec_push, [HV_MN_POPP] = exec_pop, [HV_MN_JMPABS] = apx_jmpabs,
    [HV_MN_ANDN] = apx_bmi, [HV_MN_BEXTR] = apx_bmi, [HV_MN_BLSI] = apx_bmi,
    [HV_MN_BLSMSK] = apx_bmi, [HV_MN_BLSR] = apx_bmi, [HV_MN_BZHI] = apx_bmi,
    [HV_MN_MULX] = apx_bmi, [HV_MN_PDEP] = apx_bmi, [HV_MN_PEXT] = apx_bmi,
    [HV_MN_RORX] = apx_bmi, [HV_MN_SARX] = apx_bmi, [HV_MN_SHLX] = apx_bmi,
    [HV_MN_SHRX] = apx_bmi,
    /* EVEX KMOV (EGPRs): the VEX forms' handler, which reads registers by number */
    [HV_MN_KMOVB] = exec_kmov, [HV_MN_KMOVW] = exec_kmov, [HV_MN_KMOVD] = exec_kmov,
    [HV_MN_KMOVQ] = exec_kmov,
};

exec_fn apx_exec_handler(const struct hvemu_insn *in, exec_fn legacy)
{
    if (in->encoding == HVEMU_ENC_EVEX) {
        const struct hv_entry *e = in->entry;
        if (in->map == HVEMU_MAP_4 || (e && e->feature == HVEMU_FEAT_APX))
            return apx_handlers[in->mnemonic];
        return legacy;
    }
    return legacy ? legacy : apx_handlers[in->mnemonic];
}
