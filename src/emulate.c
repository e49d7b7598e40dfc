/* SPDX-License-Identifier: MIT */
/* hvemu_emulate(): the top of one emulation. Execution of instructions is not built yet, so
 * every decodable instruction answers HVEMU_UNHANDLEABLE naming its mnemonic; nothing is
 * executed and no state changes. */
#include "hvemu.h"
#include "decode_internal.h"

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

int hvemu_emulate_bytes(struct hvemu_ctx *ctx, const uint8_t *bytes, size_t len,
                        struct hvemu_result *res)
{
    memset(res, 0, sizeof(*res));
    int rc = hvemu_decode(bytes, len, HVEMU_MODE_64, &ctx->features, &ctx->insn);
    if (rc == HVEMU_DECODE_UD) {
        res->status = HVEMU_EXCEPTION;
        res->exc.vector = HVEMU_EXC_UD;
        return res->status;
    }
    if (rc == HVEMU_DECODE_TOO_LONG) {
        res->status = HVEMU_EXCEPTION;
        res->exc.vector = HVEMU_EXC_GP;
        res->exc.has_error_code = 1;
        return res->status;
    }
    res->status = HVEMU_UNHANDLEABLE;
    if (rc == HVEMU_DECODE_TRUNCATED) {
        res->reason = "instruction bytes end before the instruction";
        return res->status;
    }
    res->reason = "instruction not executed yet";
    set_detail(res, hvemu_mnemonic_name(ctx->insn.mnemonic));
    return res->status;
}

int hvemu_emulate(struct hvemu_ctx *ctx, struct hvemu_result *res)
{
    memset(res, 0, sizeof(*res));
    res->status = HVEMU_UNHANDLEABLE;
    res->reason = "instruction execution is not built yet";
    (void)ctx;
    return res->status;
}
