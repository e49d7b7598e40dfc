/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the decoder (and the formatter): every input is decoded in 16-, 32- and
 * 64-bit mode, with APX on and off, and the answers are checked against invariants that hold
 * for any correct decoder:
 *   - the status is one of the four documented ones;
 *   - decoding is deterministic (same status, same struct hvemu_insn);
 *   - on OK: 1 <= length <= 15, length <= input size, noperands <= HVEMU_MAX_OPERANDS, and
 *     decoding exactly `length` bytes gives the same instruction;
 *   - every proper prefix of a valid instruction (0..length-1 bytes) answers TRUNCATED;
 *   - TRUNCATED only when fewer than 15 bytes were given;
 *   - an instruction valid without APX is valid with it, with the same length and mnemonic
 *     (APX only adds encodings);
 *   - hvemu_format() NUL-terminates within the buffer and returns the full text length, also
 *     for tiny buffers.
 * Each shorter decode reads from a heap copy of exactly that many bytes, so AddressSanitizer
 * catches any read past the `len` the decoder was given.
 *
 * Build: tests/mk/fuzz.mk (clang -fsanitize=fuzzer,address,undefined); run: tests/fuzz.sh.
 */
#include "hvemu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hvemu_format() is defined by src/decode/format.c once it exists. Until then this weak
 * stand-in lets the target link; the library objects are linked as objects (not from an
 * archive), so the real definition, when present, takes precedence. */
static int g_format_is_stub;
__attribute__((weak)) int hvemu_format(const struct hvemu_insn *insn, uint64_t address, char *buf,
                                       size_t size)
{
    (void)insn;
    (void)address;
    g_format_is_stub = 1;
    if (size)
        buf[0] = 0;
    return 0;
}

static void fail(const char *what, const uint8_t *data, size_t size, int mode, int apx)
{
    fprintf(stderr, "decode_fuzz: invariant broken: %s (mode %d, apx %d) bytes:", what, mode, apx);
    for (size_t i = 0; i < size && i < 32; i++)
        fprintf(stderr, " %02x", data[i]);
    fprintf(stderr, "\n");
    abort();
}

#define CHECK(cond, what)                                                                       \
    do {                                                                                        \
        if (!(cond))                                                                            \
            fail(what, data, size, mode, apx);                                                  \
    } while (0)

/* The meaningful part of a decoded instruction: everything before the operands, and the
 * operands that exist. */
static int same_insn(const struct hvemu_insn *a, const struct hvemu_insn *b)
{
    if (memcmp(a, b, offsetof(struct hvemu_insn, op)))
        return 0;
    unsigned n = a->noperands <= HVEMU_MAX_OPERANDS ? a->noperands : HVEMU_MAX_OPERANDS;
    return !memcmp(a->op, b->op, n * sizeof(a->op[0]));
}

/* Decode from a heap copy of exactly n bytes. */
static int decode_exact(const uint8_t *data, size_t n, int mode, const hvemu_features *f,
                        struct hvemu_insn *in)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, data, n);
    int rc = hvemu_decode(copy, n, (enum hvemu_mode)mode, f, in);
    free(copy);
    return rc;
}

static void check_format(const struct hvemu_insn *in, const uint8_t *data, size_t size, int mode,
                         int apx)
{
    char buf[160];
    int full = hvemu_format(in, 0x1000, buf, sizeof buf);
    CHECK(full >= 0, "hvemu_format returned a negative length");
    CHECK(memchr(buf, 0, sizeof buf) != NULL, "hvemu_format left the buffer unterminated");
    size_t got = strlen(buf);
    CHECK(got == ((size_t)full < sizeof buf ? (size_t)full : sizeof buf - 1),
          "hvemu_format length does not match its text");
    if (g_format_is_stub)
        return;
    /* tiny buffers: truncated, terminated, nothing written past them */
    for (size_t sz = 0; sz < 4; sz++) {
        char small[8];
        memset(small, 'x', sizeof small);
        int r = hvemu_format(in, 0x1000, small, sz);
        CHECK(r == full, "hvemu_format answered differently for a small buffer");
        for (size_t i = sz; i < sizeof small; i++)
            CHECK(small[i] == 'x', "hvemu_format wrote past the buffer size");
        if (sz)
            CHECK(small[strnlen(small, sz)] == 0 && strnlen(small, sz) < sz,
                  "hvemu_format did not terminate a small buffer");
    }
}

static void check_operands(const struct hvemu_insn *in, const uint8_t *data, size_t size, int mode,
                           int apx)
{
    CHECK(in->noperands <= HVEMU_MAX_OPERANDS, "too many operands");
    for (unsigned i = 0; i < in->noperands; i++) {
        const struct hvemu_operand *op = &in->op[i];
        CHECK(op->kind <= HVEMU_OP_FARPTR, "bad operand kind");
        if (op->kind == HVEMU_OP_REG) {
            CHECK(op->u.reg.cls <= HVEMU_REG_RIP && op->u.reg.idx < 32, "bad register operand");
            if (op->u.reg.cls >= HVEMU_REG_GPR8 && op->u.reg.cls <= HVEMU_REG_GPR64 && !apx)
                CHECK(op->u.reg.idx < 16, "extended GPR without APX");
            if (mode != 64 && op->u.reg.cls >= HVEMU_REG_GPR8 && op->u.reg.cls <= HVEMU_REG_GPR64)
                CHECK(op->u.reg.idx < 8, "r8+ outside 64-bit mode");
        }
        if (op->kind == HVEMU_OP_MEM) {
            const struct hvemu_mem *m = &op->u.mem;
            CHECK(m->segment < HVEMU_NUM_SEGS, "bad segment");
            CHECK(m->scale == 1 || m->scale == 2 || m->scale == 4 || m->scale == 8, "bad scale");
            CHECK(m->addr_size == 2 || m->addr_size == 4 || m->addr_size == 8, "bad address size");
            CHECK(m->base < 32 && m->index < 32, "bad base/index register");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int modes[3] = {16, 32, 64};
    hvemu_features feats[2] = {hvemu_features_no_apx(), hvemu_features_all()};
    if (size > 64)
        size = 64; /* 15 bytes are all a decoder may read; some slack shows it reads no more */
    for (int mi = 0; mi < 3; mi++) {
        int mode = modes[mi];
        struct hvemu_insn ok_noapx;
        int rc_noapx = -1;
        for (int apx = 0; apx < 2; apx++) {
            struct hvemu_insn a, b;
            memset(&a, 0x00, sizeof a);
            memset(&b, 0xA5, sizeof b);
            int rc = decode_exact(data, size, mode, &feats[apx], &a);
            CHECK(rc == HVEMU_DECODE_OK || rc == HVEMU_DECODE_UD || rc == HVEMU_DECODE_TOO_LONG ||
                  rc == HVEMU_DECODE_TRUNCATED, "unknown status");
            int rc2 = hvemu_decode(data, size, (enum hvemu_mode)mode, &feats[apx], &b);
            CHECK(rc2 == rc, "decode is not deterministic (status)");
            if (rc == HVEMU_DECODE_TRUNCATED)
                CHECK(size < 15, "TRUNCATED with 15 bytes or more at hand");
            if (rc != HVEMU_DECODE_OK)
                continue;
            CHECK(same_insn(&a, &b), "decode is not deterministic (instruction)");
            CHECK(a.length >= 1 && a.length <= 15, "length outside 1..15");
            CHECK(a.length <= size, "length beyond the bytes given");
            CHECK(a.mode == mode, "mode not recorded");
            check_operands(&a, data, size, mode, apx);
            /* exactly `length` bytes: the same instruction */
            rc2 = decode_exact(data, a.length, mode, &feats[apx], &b);
            CHECK(rc2 == HVEMU_DECODE_OK, "decoding exactly `length` bytes failed");
            CHECK(same_insn(&a, &b), "decoding exactly `length` bytes differs");
            /* every proper prefix: TRUNCATED */
            for (size_t t = 0; t < a.length; t++) {
                rc2 = decode_exact(data, t, mode, &feats[apx], &b);
                CHECK(rc2 == HVEMU_DECODE_TRUNCATED, "a prefix of a valid instruction is not TRUNCATED");
            }
            check_format(&a, data, size, mode, apx);
            if (!apx) {
                rc_noapx = rc;
                ok_noapx = a;
            } else if (rc_noapx == HVEMU_DECODE_OK) {
                CHECK(a.length == ok_noapx.length, "APX changes the length of a non-APX instruction");
                CHECK(a.mnemonic == ok_noapx.mnemonic, "APX changes the mnemonic of a non-APX instruction");
            }
        }
        if (rc_noapx == HVEMU_DECODE_OK) {
            /* checked above when APX decoded it; here: APX must not reject it */
            struct hvemu_insn c;
            int apx = 1;
            int rc = decode_exact(data, size, mode, &feats[1], &c);
            CHECK(rc == HVEMU_DECODE_OK, "an instruction valid without APX is invalid with APX");
        }
    }
    return 0;
}
