/* SPDX-License-Identifier: MIT */
/*
 * hvemu: the command-line front end of the library.
 *
 * Subcommands live in a table ({name, function, summary, usage}); a new one (exec, bench,
 * trace, ...) is a tools/cmd_NAME.c with its entry point plus one line in `commands`.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const char help_usage[] =
    "usage: hvemu help [COMMAND]\n"
    "Without COMMAND, list the commands; with it, describe that command.\n";
static const char version_usage[] =
    "usage: hvemu version\n"
    "Print the version of hvemu and of its library API.\n";

static const struct cli_cmd commands[] = {
    {"decode", cmd_decode, "decode instructions from hex and print their Intel text", cmd_decode_usage},
    {"exec", cmd_exec, "emulate one instruction on a given state and print what changed", cmd_exec_usage},
    {"bench", cmd_bench, "time emulation of an MMIO mix, next to Unicorn", cmd_bench_usage},
    {"demo", cmd_demo, "trap-and-emulate demo: device windows driven by guest code on vCPU threads", cmd_demo_usage},
    {"trace", cmd_trace, "run a program with regions trapped and log every access (mmiotrace)", cmd_trace_usage},
    {"help", cmd_help, "describe the commands", help_usage},
    {"version", cmd_version, "print the version", version_usage},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_overview(FILE *f)
{
    fprintf(f, "usage: hvemu COMMAND [ARGS...]\n"
               "       hvemu --help | --version\n\n"
               "hvemu is an x86-64 instruction emulator library for hypervisors; this tool\n"
               "exercises it from the command line.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun `hvemu help COMMAND` for the options of one command.\n");
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hvemu%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(run `hvemu help%s%s` for usage)\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long cli_parse_hex(const char *s, uint8_t *out, size_t cap)
{
    long n = 0;
    int token_start = 1;
    while (*s) {
        if (isspace((unsigned char)*s) || *s == ',' || *s == ':') {
            s++;
            token_start = 1;
            continue;
        }
        /* a 0x / \x prefix may open any group of digits */
        if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && token_start) ||
            (s[0] == '\\' && (s[1] == 'x' || s[1] == 'X'))) {
            s += 2;
            token_start = 0;
            if (hexval((unsigned char)*s) < 0)
                return -1;
            continue;
        }
        int hi = hexval((unsigned char)s[0]);
        int lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
        if (hi < 0 || lo < 0)
            return -1; /* not hex, or an odd number of digits */
        if ((size_t)n < cap)
            out[n] = (uint8_t)(hi << 4 | lo);
        n++;
        s += 2;
        token_start = 0;
    }
    return n;
}

int cli_parse_mode(const char *s, enum hvemu_mode *mode)
{
    if (strcmp(s, "16") == 0)
        *mode = HVEMU_MODE_16;
    else if (strcmp(s, "32") == 0)
        *mode = HVEMU_MODE_32;
    else if (strcmp(s, "64") == 0)
        *mode = HVEMU_MODE_64;
    else
        return -1;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

const char *cli_decode_error(int status)
{
    switch (status) {
    case HVEMU_DECODE_UD: return "#UD";
    case HVEMU_DECODE_TOO_LONG: return "#GP: longer than 15 bytes";
    case HVEMU_DECODE_TRUNCATED: return "truncated";
    default: return "unknown decode status";
    }
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 2)
        return cli_usage_error("help", "expected at most one command name");
    if (argc < 2) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    const struct cli_cmd *c = find_cmd(argv[1]);
    if (!c)
        return cli_usage_error("help", "no command named '%s'", argv[1]);
    fputs(c->usage, stdout);
    return CLI_EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage_error("version", "takes no arguments");
    printf("hvemu %d.%d\n", HVEMU_VERSION_MAJOR, HVEMU_VERSION_MINOR);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return cmd_version(1, argv + 1);
    const struct cli_cmd *c = find_cmd(name);
    if (!c) {
        if (name[0] == '-')
            return cli_usage_error(NULL, "unknown option '%s'", name);
        return cli_usage_error(NULL, "unknown command '%s'", name);
    }
    if (wants_help(argc - 1, argv + 1)) {
        fputs(c->usage, stdout);
        return CLI_EXIT_OK;
    }
    return c->fn(argc - 1, argv + 1);
}
