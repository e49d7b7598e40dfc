/* SPDX-License-Identifier: MIT */
/* `hvemu decode`: hex bytes in, length and Intel text out; --batch is the line protocol that
 * other tools (comparison scripts, fuzzers) drive. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

const char cmd_decode_usage[] =
    "usage: hvemu decode [--mode 16|32|64] [--no-apx | --host] [--address ADDR] HEX...\n"
    "       hvemu decode --batch [--mode 16|32|64] [--no-apx | --host] [--address ADDR]\n"
    "\n"
    "Decode x86 instructions and print them in Intel syntax (LLVM's spelling).\n"
    "\n"
    "Each HEX argument holds one or more instructions back to back; bytes may be separated\n"
    "by spaces (quote the argument), commas or colons, and may carry 0x or \\x prefixes.\n"
    "Every instruction is printed as: address, length, bytes, text. An invalid instruction\n"
    "ends its argument with a message and makes the exit status 1; an argument that is not\n"
    "hex makes it 2.\n"
    "\n"
    "--batch reads one hex string per line from standard input and writes exactly one line\n"
    "per input line (answers go out before the next read, so a driver may go line by line):\n"
    "    LENGTH<TAB>TEXT            the first instruction of the line decodes\n"
    "    invalid<TAB>REASON         REASON is one of: #UD, #GP: longer than 15 bytes,\n"
    "                               truncated (the bytes end first; an empty line too),\n"
    "                               bad hex (the line is not hex)\n"
    "Bytes after the first instruction are ignored. The exit status is 0 unless reading\n"
    "or writing fails.\n"
    "\n"
    "options:\n"
    "  --mode, -m 16|32|64   code size (default 64)\n"
    "  --no-apx              decode as a CPU without APX (no REX2, no EVEX map 4, no EGPRs)\n"
    "  --host                decode with the features this machine's CPUID enumerates\n"
    "                        (hvemu_features_from_cpuid; default: every feature)\n"
    "  --address, -a ADDR    address of the first instruction, for branch targets (default 0)\n"
    "  --batch               the line protocol above\n";

#if defined(__x86_64__) || defined(__i386__)
static int host_cpuid(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)opaque;
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
    return 0;
}
#endif

struct decode_opts {
    enum hvemu_mode mode;
    hvemu_features features;
    uint64_t address;
    int batch;
};

/* Longest text hvemu_format() writes is far below this; the formatter truncates safely. */
#define TEXT_MAX 256

/* Answer one input line (without its newline). */
static void batch_line(const struct decode_opts *o, const char *line)
{
    uint8_t bytes[32];
    char text[TEXT_MAX];
    long n = cli_parse_hex(line, bytes, sizeof(bytes));
    if (n < 0) {
        fputs("invalid\tbad hex\n", stdout);
        return;
    }
    struct hvemu_insn insn;
    size_t len = (size_t)n < sizeof(bytes) ? (size_t)n : sizeof(bytes);
    int rc = hvemu_decode(bytes, len, o->mode, &o->features, &insn);
    if (rc != HVEMU_DECODE_OK) {
        printf("invalid\t%s\n", cli_decode_error(rc));
        return;
    }
    hvemu_format(&insn, o->address, text, sizeof(text));
    printf("%u\t%s\n", insn.length, text);
}

/* Lines come through read(2) so that the answers to everything read so far are flushed
 * before the next read can block: a driver that writes one line and waits for its answer
 * gets it at once, and a bulk run still writes in large blocks. */
static int decode_batch(const struct decode_opts *o)
{
    static char chunk[1 << 16];
    char *line = NULL;
    size_t used = 0, cap = 0;
    int status = CLI_EXIT_OK;
    for (;;) {
        ssize_t got = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            perror("hvemu decode: reading standard input");
            status = CLI_EXIT_FAIL;
            break;
        }
        if (got == 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            if (used + 1 >= cap) {
                size_t ncap = cap ? cap * 2 : 256;
                char *nl = realloc(line, ncap);
                if (!nl) {
                    fprintf(stderr, "hvemu decode: out of memory\n");
                    free(line);
                    return CLI_EXIT_FAIL;
                }
                line = nl;
                cap = ncap;
            }
            if (chunk[i] == '\n') {
                line[used] = 0;
                batch_line(o, line);
                used = 0;
            } else {
                line[used++] = chunk[i];
            }
        }
        if (fflush(stdout) != 0)
            break;
    }
    if (used) { /* a last line without a newline */
        line[used] = 0;
        batch_line(o, line);
    }
    free(line);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("hvemu decode: writing standard output");
        return CLI_EXIT_FAIL;
    }
    return status;
}

static void print_bytes(const uint8_t *p, size_t n)
{
    char hex[3 * 16 + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && i < 15; i++)
        k += (size_t)snprintf(hex + k, sizeof(hex) - k, "%02x ", p[i]);
    printf("%-45s", hex);
}

/* Decode every instruction of one argument; returns CLI_EXIT_OK when all decode,
 * CLI_EXIT_FAIL at an invalid instruction, CLI_EXIT_USAGE when the argument is not hex. */
static int decode_arg(const struct decode_opts *o, const char *arg, uint64_t *addr)
{
    size_t len = strlen(arg); /* upper bound of the byte count */
    uint8_t *bytes = malloc(len / 2 + 1);
    char text[TEXT_MAX];
    int status = CLI_EXIT_OK;
    if (!bytes) {
        fprintf(stderr, "hvemu decode: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    long n = cli_parse_hex(arg, bytes, len / 2 + 1);
    if (n < 0) {
        free(bytes);
        return cli_usage_error("decode", "'%s' is not hex bytes", arg);
    }
    if (n == 0) {
        free(bytes);
        return cli_usage_error("decode", "'%s' holds no bytes", arg);
    }
    for (size_t pos = 0; pos < (size_t)n;) {
        struct hvemu_insn insn;
        int rc = hvemu_decode(bytes + pos, (size_t)n - pos, o->mode, &o->features, &insn);
        if (rc != HVEMU_DECODE_OK) {
            printf("%8llx  --  ", (unsigned long long)*addr);
            print_bytes(bytes + pos, (size_t)n - pos);
            printf("invalid: %s\n", cli_decode_error(rc));
            status = CLI_EXIT_FAIL;
            break;
        }
        hvemu_format(&insn, *addr, text, sizeof(text));
        printf("%8llx  %2u  ", (unsigned long long)*addr, insn.length);
        print_bytes(bytes + pos, insn.length);
        printf("%s\n", text);
        pos += insn.length;
        *addr += insn.length;
    }
    free(bytes);
    return status;
}

int cmd_decode(int argc, char **argv)
{
    struct decode_opts o = {HVEMU_MODE_64, hvemu_features_all(), 0, 0};
    int first_arg = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--") == 0) {
            first_arg = i + 1;
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            first_arg = i;
            break;
        }
        /* options with a value: "--mode 32", "--mode=32", "-m 32" */
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        int is_mode = (nlen == 6 && strncmp(a, "--mode", 6) == 0) || strcmp(a, "-m") == 0;
        int is_addr = (nlen == 9 && strncmp(a, "--address", 9) == 0) || strcmp(a, "-a") == 0;
        if (is_mode || is_addr) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                return cli_usage_error("decode", "%s needs a value", a);
            }
            if (is_mode && cli_parse_mode(val, &o.mode) != 0)
                return cli_usage_error("decode", "--mode must be 16, 32 or 64, not '%s'", val);
            if (is_addr && cli_parse_u64(val, &o.address) != 0)
                return cli_usage_error("decode", "--address needs a number, not '%s'", val);
        } else if (strcmp(a, "--no-apx") == 0) {
            o.features = hvemu_features_no_apx();
        } else if (strcmp(a, "--host") == 0) {
#if defined(__x86_64__) || defined(__i386__)
            o.features = hvemu_features_from_cpuid(host_cpuid, NULL);
#else
            return cli_usage_error("decode", "--host needs an x86 host");
#endif
        } else if (strcmp(a, "--batch") == 0) {
            o.batch = 1;
        } else {
            return cli_usage_error("decode", "unknown option '%s'", a);
        }
    }
    if (o.batch) {
        if (first_arg < argc)
            return cli_usage_error("decode", "--batch reads standard input and takes no HEX "
                                             "arguments ('%s')", argv[first_arg]);
        return decode_batch(&o);
    }
    if (first_arg >= argc)
        return cli_usage_error("decode", "no HEX argument (or use --batch)");
    int status = CLI_EXIT_OK;
    uint64_t addr = o.address;
    for (int i = first_arg; i < argc; i++) {
        int rc = decode_arg(&o, argv[i], &addr);
        if (rc > status)
            status = rc; /* usage (2) outranks an invalid instruction (1) */
    }
    return status;
}
