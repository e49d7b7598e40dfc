/* SPDX-License-Identifier: MIT */
/* Shared pieces of the hvemu command-line tool: the subcommand table and small helpers. */
#ifndef HVEMU_CLI_H
#define HVEMU_CLI_H

#include "hvemu.h"

#include <stddef.h>
#include <stdint.h>

/* Exit statuses: 0 success, 1 the work found a problem (e.g. an invalid instruction),
 * 2 bad usage. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* One subcommand. `fn` gets argv with argv[0] = the subcommand's name. */
struct cli_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary; /* one line for `hvemu --help` */
    const char *usage;   /* full text for `hvemu help NAME` and `hvemu NAME --help` */
};

/* Every subcommand's entry point (one per tools/cmd_*.c). */
int cmd_decode(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_trace(int argc, char **argv);
extern const char cmd_trace_usage[];
extern const char cmd_bench_usage[];
extern const char cmd_exec_usage[];
extern const char cmd_decode_usage[];
extern const char cmd_demo_usage[];

/* Print a usage error for `cmd` to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse hex bytes: whitespace, commas and colons separate; a token may start with 0x or \x.
 * Stores at most `cap` bytes but validates the whole text. Returns the number of bytes the
 * text holds (possibly more than cap), or -1 when it is not hex. */
long cli_parse_hex(const char *text, uint8_t *out, size_t cap);

/* Parse "16", "32" or "64"; returns 0 on success. */
int cli_parse_mode(const char *s, enum hvemu_mode *mode);

/* Parse an unsigned number (decimal or 0x hex); returns 0 on success. */
int cli_parse_u64(const char *s, uint64_t *v);

/* Text of a decode status ("#UD", "#GP: longer than 15 bytes", "truncated"). */
const char *cli_decode_error(int status);

#endif
