/* SPDX-License-Identifier: MIT */
/*
 * hvemu_emulate(): one emulation, top to bottom.
 *   1. mode from CR0/EFER/RFLAGS.VM/CS (src/modes/): 64-bit mode takes the paths below;
 *      real, protected and compatibility mode (16- or 32-bit code by CS.D) take
 *      fetch_decode_legacy() and segmentation in every access; virtual-8086 mode answers
 *      unhandleable
 *   2. fetch the bytes at CS:RIP (one callback, a second only when the instruction crosses
 *      a page), decode (APX only when CPUID, XCR0[19] and CR4.OSXSAVE allow it); outside
 *      64-bit mode the fetch is CS-limit checked and EIP wraps at 32 bits
 *   3. run the family handler of the mnemonic (src/exec/), which reads operands and stages
 *      every effect in struct exec
 *   4. commit (src/mem/access.c): memory writes (locked ones through compare-exchange, and a
 *      changed value re-runs the handler from step 3), then registers, flags and RIP.
 */
#include "hvemu.h"
#include "exec/exec.h"
#include "apx/apx.h"

#include <string.h>


void hvemu_init(struct hvemu_ctx *ctx, const struct hvemu_ops *ops, void *opaque,
                struct hvemu_state *state)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->ops = ops;
    ctx->opaque = opaque;
    ctx->state = state;
    ctx->features = hvemu_features_all();
    ctx->rep_chunk = 1024;
    ctx->max_cmpxchg_retries = 64;
}

static void set_detail(struct hvemu_result *res, const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof(res->detail))
        n = sizeof(res->detail) - 1;
    memcpy(res->detail, text, n);
    res->detail[n] = 0;
}

static int result_unhandled(struct hvemu_result *res, const char *reason)
{
    res->status = HVEMU_UNHANDLEABLE;
    res->reason = reason;
    return res->status;
}

static int result_exception(struct hvemu_result *res, unsigned vector, int has_err)
{
    res->status = HVEMU_EXCEPTION;
    res->exc.vector = (uint8_t)vector;
    res->exc.has_error_code = (uint8_t)has_err;
    res->exc.error_code = 0;
    return res->status;
}

/* What a fetch callback's answer means for the emulation. */
static int fetch_answer(struct hvemu_result *res, int cb, unsigned got, unsigned want)
{
    if (cb == HVEMU_CB_OK && (got == 0 || got > want))
        return result_unhandled(res, "fetch callback returned no bytes");
    if (cb == HVEMU_CB_OK)
        return HVEMU_OK;
    if (cb == HVEMU_CB_FAULT) {
        res->status = HVEMU_EXCEPTION;
        return res->status;
    }
    if (cb == HVEMU_CB_RETRY) {
        res->status = HVEMU_RETRY;
        res->reason = "the embedder asked to retry the fetch";
        return res->status;
    }
    return result_unhandled(res, "instruction fetch failed");
}

/* Fetch up to `want` bytes at `la`, within one page. */
static int fetch_bytes(struct hvemu_ctx *ctx, uint64_t la, uint8_t *buf, unsigned want,
                       unsigned *got, struct hvemu_result *res)
{
    const struct hvemu_ops *ops = ctx->ops;
    int cb;
    *got = 0;
    if (ops->fetch) {
        cb = ops->fetch(ctx->opaque, la, buf, want, got, &res->exc);
    } else if (ops->read) {
        cb = ops->read(ctx->opaque, la, buf, want, HVEMU_ACCESS_FETCH, &res->exc);
        if (cb == HVEMU_CB_OK)
            *got = want;
    } else {
        return result_unhandled(res, "no fetch or read callback");
    }
    return fetch_answer(res, cb, *got, want);
}

static int need_parts(struct hvemu_ctx *ctx, uint64_t parts, struct hvemu_result *res)
{
    struct hvemu_state *s = ctx->state;
    uint64_t missing = parts & ~s->valid;
    if (!missing)
        return HVEMU_OK;
    if (ctx->ops->load_state &&
        ctx->ops->load_state(ctx->opaque, s, missing) == HVEMU_CB_OK && !(missing & ~s->valid))
        return HVEMU_OK;
    return result_unhandled(res, "vCPU state needed for the mode (RIP, RFLAGS, CS, CR0, EFER) is not loaded");
}

/* The low `n` bytes (0..8) of a little-endian 8-byte word. */
static inline uint64_t low_bytes_mask(unsigned n)
{
    return n >= 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * n)) - 1;
}

/* Do the first bytes of buf (16 readable bytes, `n` of them fetched) equal the cached
 * instruction? Two 8-byte compares instead of a memcmp call: buf past `n` may hold anything,
 * so the words are masked to the cached length, which is at most 15. */
static inline int cache_hit_bytes(const struct hvemu_ctx *ctx, const uint8_t *buf, unsigned n)
{
    unsigned cl = ctx->cached_len;
    if (!cl || n < cl)
        return 0;
    uint64_t lo = (load_u64(buf) ^ load_u64(ctx->cached_bytes)) & low_bytes_mask(cl);
    uint64_t hi = cl > 8 ? (load_u64(buf + 8) ^ load_u64(ctx->cached_bytes + 8)) &
                               low_bytes_mask(cl - 8) : 0;
    return !(lo | hi) && ctx->cached_features.bits[0] == ctx->features.bits[0] &&
           ctx->cached_features.bits[1] == ctx->features.bits[1];
}

static inline int cache_hit(const struct hvemu_ctx *ctx, const uint8_t *buf, unsigned n)
{
    if (!cache_hit_bytes(ctx, buf, n))
        return 0;
    /* an APX decode stays valid only while XCR0[19] and CR4.OSXSAVE are still set; a decode
     * of another mode (cached_apx >= CACHE_TAG_LEGACY) is no hit */
    const struct hvemu_state *s = ctx->state;
    return !ctx->cached_apx ||
           (ctx->cached_apx == 1 && (s->valid & (HVEMU_PART_XCR0 | HVEMU_PART_CR4)) == (HVEMU_PART_XCR0 | HVEMU_PART_CR4) &&
            apx_os_enabled(s->xcr0, s->cr4));
}

/* Decode with APX enabled only when the guest may use it. APX-specific bytes are #UD without
 * it, so the gate (which needs XCR0 and CR4) is consulted only when a decode without APX fails:
 * instructions without APX never pay for loading those registers. */
static int decode_gated(struct hvemu_ctx *ctx, const uint8_t *buf, size_t n,
                        struct hvemu_result *res, int *rc_out)
{
    hvemu_features f = ctx->features;
    int apx = hvemu_feature_has(&f, HVEMU_FEAT_APX);
    hvemu_feature_set(&f, HVEMU_FEAT_APX, 0);
    ctx->cached_len = 0;
    int rc = hvemu_decode(buf, n, HVEMU_MODE_64, &f, &ctx->insn);
    if (rc == HVEMU_DECODE_OK) {
        /* the bytes decoded without APX: a hit needs nothing more than the same bytes */
        copy_small(ctx->cached_bytes, buf, ctx->insn.length);
        ctx->cached_features = ctx->features;
        ctx->cached_len = ctx->insn.length;
        ctx->cached_apx = 0;
    }
    if (rc == HVEMU_DECODE_UD && apx) {
        if (need_parts(ctx, HVEMU_PART_XCR0 | HVEMU_PART_CR4, res) != HVEMU_OK)
            return res->status;
        struct hvemu_state *s = ctx->state;
        if (apx_os_enabled(s->xcr0, s->cr4)) {
            hvemu_feature_set(&f, HVEMU_FEAT_APX, 1);
            rc = hvemu_decode(buf, n, HVEMU_MODE_64, &f, &ctx->insn);
            if (rc == HVEMU_DECODE_OK) { /* cached too; a hit re-checks XCR0 and CR4 */
                copy_small(ctx->cached_bytes, buf, ctx->insn.length);
                ctx->cached_features = ctx->features;
                ctx->cached_len = ctx->insn.length;
                ctx->cached_apx = 1;
            }
        }
    }
    *rc_out = rc;
    return HVEMU_OK;
}

/* Fetch and decode the instruction at RIP into ctx->insn; HVEMU_OK or the result status. */
static int fetch_decode(struct hvemu_ctx *ctx, const uint8_t *given, size_t given_len,
                        struct hvemu_result *res)
{
    struct hvemu_state *s = ctx->state;
    const struct hvemu_ops *ops = ctx->ops;
    uint8_t buf[16];
    unsigned have = 0;
    uint64_t la = s->rip;
    /* bytes past those fetched are compared masked (cache_hit) but are read: give them a value */
    store_u64(buf, 0);
    store_u64(buf + 8, 0);
    if (given_len) {
        have = given_len > 15 ? 15 : (unsigned)given_len;
        copy_small(buf, given, have);
    } else {
        unsigned room = 4096 - (unsigned)(la & 4095), want = room < 15 ? room : 15;
        if (__builtin_expect(ops->fetch != 0, 1)) {
            /* the fetch callback inline: it is on the path of every emulation */
            int cb = ops->fetch(ctx->opaque, la, buf, want, &have, &res->exc);
            if ((cb != HVEMU_CB_OK || have - 1 >= want) && fetch_answer(res, cb, have, want) != HVEMU_OK)
                return res->status;
        } else if (fetch_bytes(ctx, la, buf, want, &have, res) != HVEMU_OK) {
            return res->status;
        }
    }
    if (cache_hit(ctx, buf, have))
        return HVEMU_OK; /* same bytes as the last (non-APX) decode: same result */
    int rc;
    for (;;) {
        if (decode_gated(ctx, buf, have, res, &rc) != HVEMU_OK)
            return res->status;
        if (rc != HVEMU_DECODE_TRUNCATED || have >= 15)
            break;
        /* the instruction goes on past the bytes we have (and past the page): fetch more */
        unsigned more = 0, room = 4096 - (unsigned)((la + have) & 4095), want = 15 - have;
        if (fetch_bytes(ctx, la + have, buf + have, room < want ? room : want, &more, res) != HVEMU_OK) {
            if (res->status == HVEMU_EXCEPTION && res->exc.vector == HVEMU_EXC_PF)
                res->exc.cr2 = res->exc.cr2 ? res->exc.cr2 : la + have;
            return res->status;
        }
        have += more;
    }
    if (rc == HVEMU_DECODE_UD)
        return result_exception(res, HVEMU_EXC_UD, 0);
    if (rc == HVEMU_DECODE_TOO_LONG)
        return result_exception(res, HVEMU_EXC_GP, 1);
    if (rc == HVEMU_DECODE_TRUNCATED)
        return result_unhandled(res, "instruction bytes end before the instruction");
    return HVEMU_OK;
}

/* Outside 64-bit mode the cache tag (ctx->cached_apx) is this plus the decoder's mode: 64-bit
 * hits test cached_apx == 0 (or 1, APX) as before, so keying the cache by mode costs them
 * nothing. */
#define CACHE_TAG_LEGACY 0x80u

/* Fetch and decode at CS:EIP outside 64-bit mode: the bytes must lie within the CS limit
 * (#GP(0) when the instruction reaches past it), the linear address is 32 bits and wraps at
 * 4 GiB, and the decoder runs in the mode CS.D gives (no REX, no APX). */
__attribute__((noinline)) static int fetch_decode_legacy(struct hvemu_ctx *ctx, const uint8_t *given,
                                                         size_t given_len, enum hvemu_mode dmode,
                                                         struct hvemu_result *res)
{
    struct hvemu_state *s = ctx->state;
    uint8_t buf[16];
    unsigned have = 0;
    uint64_t eip = s->rip & 0xffffffffu;
    unsigned avail = hv_cs_room(s, eip);
    uint64_t la = (s->seg[HVEMU_CS].base + eip) & 0xffffffffu;
    store_u64(buf, 0);
    store_u64(buf + 8, 0);
    /* #GP(0) past the CS limit; real mode pushes no error code */
    int err = hv_cpu_mode(s) != HV_CPU_REAL;
    if (!avail)
        return result_exception(res, HVEMU_EXC_GP, err);
    if (given_len) {
        have = given_len > avail ? avail : (unsigned)given_len;
        copy_small(buf, given, have);
    } else {
        unsigned room = 4096 - (unsigned)(la & 4095), want = room < avail ? room : avail;
        if (fetch_bytes(ctx, la, buf, want, &have, res) != HVEMU_OK)
            return res->status;
    }
    unsigned tag = CACHE_TAG_LEGACY | (unsigned)dmode;
    if (ctx->cached_apx == tag && cache_hit_bytes(ctx, buf, have))
        return HVEMU_OK;
    hvemu_features f = ctx->features;
    hvemu_feature_set(&f, HVEMU_FEAT_APX, 0);
    ctx->cached_len = 0;
    int rc;
    for (;;) {
        rc = hvemu_decode(buf, have, dmode, &f, &ctx->insn);
        if (rc != HVEMU_DECODE_TRUNCATED || have >= avail)
            break;
        if (given_len && have >= given_len)
            break;
        unsigned more = 0, want = avail - have;
        uint64_t at = (la + have) & 0xffffffffu;
        unsigned room = 4096 - (unsigned)(at & 4095);
        if (given_len) {
            more = (unsigned)given_len - have < want ? (unsigned)given_len - have : want;
            copy_small(buf + have, given + have, more);
        } else if (fetch_bytes(ctx, at, buf + have, room < want ? room : want, &more, res) != HVEMU_OK) {
            if (res->status == HVEMU_EXCEPTION && res->exc.vector == HVEMU_EXC_PF)
                res->exc.cr2 = res->exc.cr2 ? res->exc.cr2 : at;
            return res->status;
        }
        have += more;
    }
    if (rc == HVEMU_DECODE_OK) {
        copy_small(ctx->cached_bytes, buf, ctx->insn.length);
        ctx->cached_features = ctx->features;
        ctx->cached_len = ctx->insn.length;
        ctx->cached_apx = (uint8_t)tag;
        return HVEMU_OK;
    }
    if (rc == HVEMU_DECODE_UD)
        return result_exception(res, HVEMU_EXC_UD, 0);
    if (rc == HVEMU_DECODE_TOO_LONG || (rc == HVEMU_DECODE_TRUNCATED && have >= avail))
        return result_exception(res, HVEMU_EXC_GP, err); /* 15 bytes, or past the CS limit */
    return result_unhandled(res, "instruction bytes end before the instruction");
}

/* exec_commit() with its common case inline: at most one unlocked write within a page (no
 * probing, one callback), then the GPRs, RFLAGS and RIP. */
static inline __attribute__((always_inline)) int commit(struct exec *x)
{
    struct hvemu_state *s = x->s;
    const struct exec_write *w = &x->wr[0];
    const struct hvemu_ops *ops = x->ctx->ops;
    if (x->nwrites > 1 || x->nsys || (x->nwrites == 1 && (w->locked || !ops->write ||
                                                           (w->la & 4095) + w->size > 4096)))
        return exec_commit(x);
    if (x->nwrites) {
        struct hvemu_exception exc = {0, 0, 0, 0, 0};
        int cb = ops->write(x->ctx->opaque, w->la, w->data, w->size, (enum hvemu_access)w->kind,
                            &exc);
        if (cb != HVEMU_CB_OK)
            return exec_cb_fault(x, cb, &exc);
    }
    apply_registers(x);
    s->rip = x->new_rip;
    s->dirty |= HVEMU_PART_RIP;
    return X_OK;
}

/* The end of an emulation that is not a plain success: a completed INT n/INT3/INT1 (X_TRAP,
 * result.exc set by the handler), a single-step trap after an instruction that began with TF
 * (none after MOV SS, whose shadow delays it past the next instruction), or a failure. */
static __attribute__((noinline, cold)) int finish_trap(struct hvemu_result *res, int rc, uint64_t tf,
                                                       unsigned insn_len)
{
    if (rc == X_TRAP) {
        res->insn_len = (uint8_t)insn_len;
        return res->status = HVEMU_TRAP;
    }
    if (rc != X_OK)
        return res->status;
    res->status = HVEMU_OK;
    if (tf && res->event != HVEMU_EVENT_SS_SHADOW) {
        res->insn_len = (uint8_t)insn_len;
        res->status = HVEMU_TRAP;
        res->trap_type = HVEMU_TRAP_DEBUG;
        res->exc.vector = HVEMU_EXC_DB;
        res->exc.dr6 = 1u << 14; /* BS */
    }
    return res->status;
}

#define MODE_PARTS (HVEMU_PART_RIP | HVEMU_PART_RFLAGS | HVEMU_PART_CR0 | HVEMU_PART_EFER | \
                    HVEMU_PART_SEG(HVEMU_CS))

/* Execute and commit the decoded instruction in `mode`. Inlined twice: with the constant
 * HV_CPU_64 into emulate(), where the mode tests fold away, and into emulate_legacy(). */
static inline __attribute__((always_inline)) int execute(struct hvemu_ctx *ctx,
                                                         struct hvemu_result *res, unsigned mode)
{
    struct hvemu_state *s = ctx->state;
    const struct hvemu_insn *in = &ctx->insn;
    exec_fn fn = hv_exec_handlers[in->mnemonic];
    if (in->encoding == HVEMU_ENC_EVEX || !fn)
        fn = apx_exec_handler(in, fn); /* APX-promoted and APX-only forms: src/apx/ */
    if (!fn) {
        set_detail(res, hvemu_mnemonic_name(in->mnemonic));
        return result_unhandled(res, "instruction not executed by hvemu yet (see detail)");
    }

    /* ---- execute and commit ---- */
    struct exec x;
    x.ctx = ctx;
    x.s = s;
    x.in = in;
    x.res = res;
    x.mode = (uint8_t)mode;
    /* outside 64-bit mode EIP wraps at 32 bits (the next fetch checks it against the CS limit) */
    x.rip_next = mode ? (s->rip + in->length) & 0xffffffffu : s->rip + in->length;
    x.locked = (in->prefixes & HVEMU_PFX_LOCK) ||
               ((in->attrs & HV_ATTR_XLOCK) && in->has_modrm && (in->modrm >> 6) != 3);
    x.lock_fresh = 0;
    x.lock_la = 0;
    /* single-step: TF as the instruction begins decides (a POPF that sets TF traps only after
     * the next instruction; one that clears it still traps) */
    uint64_t tf = s->rflags & HVEMU_FLAG_TF;
    x.nsys = 0; /* a locked retry (X_CHANGED) never comes from a system instruction */
    int rc;
    for (;;) {
        x.new_rip = x.rip_next;
        x.new_rflags = s->rflags;
        x.gpr_dirty = 0;
        x.nwrites = 0;
        x.state_missing = 0;
        rc = fn(&x);
        if (x.state_missing)
            return res->status;
        if (__builtin_expect(rc == X_OK, 1) || rc == X_TRAP) {
            /* the instruction completed: RF is cleared (unless a REP chunk resumes later) */
            if (x.new_rip != s->rip)
                x.new_rflags &= ~(uint64_t)HVEMU_FLAG_RF;
            int crc = commit(&x);
            if (__builtin_expect(crc == X_OK, 1))
                break; /* rc says whether a trap follows */
            rc = crc;
        }
        if (rc != X_CHANGED)
            break;
        if (++res->retries > ctx->max_cmpxchg_retries) {
            res->status = HVEMU_RETRY;
            res->reason = "locked read-modify-write kept losing to other writers";
            return res->status;
        }
    }
    if (__builtin_expect(rc == X_OK && !tf, 1))
        return res->status = HVEMU_OK;
    return finish_trap(res, rc, tf, in->length);
}

/* Real, protected and compatibility mode: out of the 64-bit path, which pays one branch. */
__attribute__((noinline)) static int emulate_legacy(struct hvemu_ctx *ctx, const uint8_t *given,
                                                    size_t given_len, struct hvemu_result *res)
{
    struct hvemu_state *s = ctx->state;
    unsigned mode = hv_cpu_mode(s);
    if (mode == HV_CPU_V86)
        return result_unhandled(res, "virtual-8086 mode is not executed");
    if (fetch_decode_legacy(ctx, given, given_len, hv_code_size(s), res) != HVEMU_OK)
        return res->status;
    return execute(ctx, res, mode);
}

static int emulate(struct hvemu_ctx *ctx, const uint8_t *given, size_t given_len,
                   struct hvemu_result *res)
{
    struct hvemu_state *s = ctx->state;
    res->status = HVEMU_OK;
    res->reason = 0;
    res->detail[0] = 0;
    res->retries = 0;
    res->exc.vector = 0;
    res->exc.has_error_code = 0;
    res->exc.error_code = 0;
    res->exc.cr2 = 0;
    res->event = HVEMU_EVENT_NONE;

    if ((s->valid & MODE_PARTS) != MODE_PARTS && need_parts(ctx, MODE_PARTS, res) != HVEMU_OK)
        return res->status;
    if (!(s->efer & EFER_LMA) || !(s->cr0 & CR0_PE) || !(s->seg[HVEMU_CS].attr & HVEMU_SEG_ATTR_L))
        return emulate_legacy(ctx, given, given_len, res);
    if (fetch_decode(ctx, given, given_len, res) != HVEMU_OK)
        return res->status;
    return execute(ctx, res, HV_CPU_64);
}

int hvemu_emulate(struct hvemu_ctx *ctx, struct hvemu_result *res)
{
    return emulate(ctx, 0, 0, res);
}

int hvemu_emulate_bytes(struct hvemu_ctx *ctx, const uint8_t *bytes, size_t len,
                        struct hvemu_result *res)
{
    return emulate(ctx, bytes, len, res);
}
