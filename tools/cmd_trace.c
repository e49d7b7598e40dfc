/* SPDX-License-Identifier: MIT */
/*
 * `hvemu trace`: run a program with regions of it trapped and every access to them logged,
 * like mmiotrace. The work is done inside the program by build/libhvemu-trace.so
 * (tools/runner/trace_preload.c, LD_PRELOAD); this command sets its environment and execs.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_trace_usage[] =
    "usage: hvemu trace [--window ADDR:LEN]... [--file PATH] [--output FILE] -- PROGRAM [ARGS...]\n"
    "Run PROGRAM with regions trapped: every access to them faults, is emulated by hvemu\n"
    "inside the program (LD_PRELOAD of libhvemu-trace.so, next to this executable or named by\n"
    "HVEMU_TRACE_LIB) and logged, one line per access:\n"
    "  hvemu-trace: KIND SIZE ADDRESS VALUE rip=RIP INSTRUCTION\n"
    "KIND is R or W, RMW-R/RMW-W for an unlocked read-modify-write, CAS for a locked one\n"
    "(VALUE is expected->desired, then ok or changed).\n"
    "  --window ADDR:LEN  trap this address range (rounded out to pages): if mapped when the\n"
    "                     program starts, and whenever the program mmap()s onto it (repeatable)\n"
    "  --file PATH        trap every mmap() of this file (a device node, a UIO or PCI\n"
    "                     resource file, any file)\n"
    "  --output FILE      write the log to FILE instead of stderr\n"
    "Limits: only mmap() calls made through the dynamic linker are seen; a SIGSEGV handler the\n"
    "program installs itself replaces the tracer's; instructions hvemu does not execute yet\n"
    "(SSE/AVX moves, x87) end the program with the reason; each access costs a signal round\n"
    "trip. Statically linked programs cannot be traced (no LD_PRELOAD). x86-64 Linux only.\n";

#if defined(__x86_64__) && defined(__linux__)

/* out must hold PATH_MAX bytes */
static int find_lib(char *out, size_t cap)
{
    const char *env = getenv("HVEMU_TRACE_LIB");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char self[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(out, cap, "%s/libhvemu-trace.so", self);
    if (access(out, R_OK) == 0)
        return 0;
    snprintf(out, cap, "%s/../lib/libhvemu-trace.so", self); /* installed layout */
    return access(out, R_OK) == 0 ? 0 : -1;
}

int cmd_trace(int argc, char **argv)
{
    char windows[1024] = "";
    const char *file = NULL, *output = NULL;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) {
            const char *w = argv[++i], *colon = strchr(w, ':');
            uint64_t a, l;
            char abuf[64];
            if (!colon || (size_t)(colon - w) >= sizeof(abuf))
                return cli_usage_error("trace", "--window takes ADDR:LEN");
            memcpy(abuf, w, (size_t)(colon - w));
            abuf[colon - w] = 0;
            if (cli_parse_u64(abuf, &a) || cli_parse_u64(colon + 1, &l) || !l)
                return cli_usage_error("trace", "--window takes ADDR:LEN (numbers, 0x for hex)");
            size_t used = strlen(windows);
            snprintf(windows + used, sizeof(windows) - used, "%s0x%llx:0x%llx", used ? "," : "",
                     (unsigned long long)a, (unsigned long long)l);
        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (argv[i][0] == '-') {
            return cli_usage_error("trace", "unknown option '%s'", argv[i]);
        } else {
            break; /* the program, without "--" */
        }
    }
    if (i >= argc)
        return cli_usage_error("trace", "no program to run");
    if (!windows[0] && !file)
        return cli_usage_error("trace", "nothing to trap: give --window or --file");
    char lib[PATH_MAX];
    if (find_lib(lib, sizeof(lib)) != 0) {
        fprintf(stderr, "hvemu trace: libhvemu-trace.so not found next to hvemu (set HVEMU_TRACE_LIB)\n");
        return CLI_EXIT_FAIL;
    }
    if (windows[0])
        setenv("HVEMU_TRACE_WINDOW", windows, 1);
    if (file) {
        /* absolute, as /proc/self/fd shows it; the file may not exist yet */
        char real[PATH_MAX], cwd[PATH_MAX / 2];
        if (!realpath(file, real)) {
            if (file[0] != '/' && getcwd(cwd, sizeof(cwd)))
                snprintf(real, sizeof(real), "%s/%s", cwd, file);
            else
                snprintf(real, sizeof(real), "%s", file);
        }
        setenv("HVEMU_TRACE_FILE", real, 1);
    }
    if (output) {
        int fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        if (fd < 0) {
            fprintf(stderr, "hvemu trace: %s: %s\n", output, strerror(errno));
            return CLI_EXIT_FAIL;
        }
        char num[16];
        snprintf(num, sizeof(num), "%d", fd);
        setenv("HVEMU_TRACE_FD", num, 1);
    }
    const char *old = getenv("LD_PRELOAD");
    char pre[PATH_MAX * 2];
    snprintf(pre, sizeof(pre), "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", pre, 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "hvemu trace: %s: %s\n", argv[i], strerror(errno));
    return CLI_EXIT_FAIL;
}

#else

int cmd_trace(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "hvemu trace: needs an x86-64 Linux host\n");
    return CLI_EXIT_FAIL;
}

#endif
