/* SPDX-License-Identifier: MIT */
/*
 * `hvemu demo`: what a hypervisor's instruction-emulation path sees. For now it decodes a
 * built-in list of instructions of the kinds that trap (MMIO moves, read-modify-write ALU on
 * device memory, SIMD moves, APX) and shows, per instruction, the text and the memory access
 * the emulator would have to perform. Later it becomes the full trap-and-emulate demo.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char cmd_demo_usage[] =
    "usage: hvemu demo\n"
    "Decode a built-in list of sample instructions (MMIO-style moves, ALU on memory, SIMD\n"
    "moves, APX) and print a table: bytes, length, Intel text and the memory access each\n"
    "one makes. Samples the decode tables do not cover yet are listed as such (the exit\n"
    "status stays 0: the list shows coverage, it is not a test).\n";

struct sample {
    const char *what;
    const char *hex;
};

static const struct sample samples[] = {
    {"MMIO load", "8b 87 00 03 00 00"},               /* mov eax, [rdi+0x300] */
    {"MMIO store", "89 0e"},                          /* mov [rsi], ecx */
    {"MMIO store imm", "c7 80 10 00 00 00 01 00 00 00"},
    {"MMIO byte store", "c6 40 08 ff"},
    {"MMIO 64-bit load", "48 8b 04 25 00 f0 ff ff"},
    {"RIP-relative load", "8b 05 10 00 00 00"},
    {"moffs load", "48 a1 00 00 e0 fe 00 00 00 00"},
    {"fs: segment load", "64 48 8b 04 25 28 00 00 00"},
    {"ALU on memory", "81 48 04 00 00 01 00"},        /* or dword ptr [rax+4], 0x10000 */
    {"locked RMW", "f0 48 0f b1 0a"},                 /* lock cmpxchg [rdx], rcx */
    {"locked add", "f0 01 18"},
    {"xchg (implicit lock)", "87 03"},
    {"bit test on memory", "f6 40 04 01"},
    {"16-bit store", "66 89 50 02"},
    {"rep string store", "f3 48 ab"},
    {"rep movsb", "f3 a4"},
    {"port I/O", "ec"},
    {"SSE move", "0f 28 01"},                         /* movaps xmm0, [rcx] */
    {"AVX move", "c5 fc 11 07"},                      /* vmovups [rdi], ymm0 */
    {"AVX-512 masked", "62 f1 7c 49 10 07"},          /* vmovups zmm0{k1}, [rdi] */
    {"APX EGPR load", "d5 40 8b 04 24"},              /* mov r16d, [rsp] */
    {"APX NDD add", "62 f4 7c 18 01 c0"},             /* add eax, eax, eax */
    {"APX NF add", "62 f4 7c 0c 01 c0"},              /* {nf} add eax, eax */
};

static const char *access_text(unsigned a)
{
    switch (a & (HVEMU_OPA_READ | HVEMU_OPA_WRITE)) {
    case HVEMU_OPA_READ: return "read";
    case HVEMU_OPA_WRITE: return "write";
    case HVEMU_OPA_READ | HVEMU_OPA_WRITE: return "rmw";
    default: return "none";
    }
}

int cmd_demo(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage_error("demo", "takes no arguments");
    hvemu_features all = hvemu_features_all();
    unsigned decoded = 0, total = 0;
    printf("%-20s  %-30s  %3s  %-44s  %s\n", "sample", "bytes", "len", "instruction", "memory access");
    printf("%-20s  %-30s  %3s  %-44s  %s\n", "------", "-----", "---", "-----------", "-------------");
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        uint8_t bytes[16];
        total++;
        long n = cli_parse_hex(samples[i].hex, bytes, sizeof(bytes));
        struct hvemu_insn insn;
        char text[128], acc[64] = "-";
        int rc = n < 0 ? HVEMU_DECODE_UD
                       : hvemu_decode(bytes, (size_t)n, HVEMU_MODE_64, &all, &insn);
        if (rc != HVEMU_DECODE_OK) {
            /* the decode tables are still growing: show the gap instead of hiding it */
            printf("%-20s  %-30s  %3s  %-44s  %s\n", samples[i].what, samples[i].hex, "-",
                   "(not decoded yet)", cli_decode_error(rc));
            continue;
        }
        decoded++;
        hvemu_format(&insn, 0, text, sizeof(text));
        for (unsigned k = 0; k < insn.noperands; k++) {
            const struct hvemu_operand *op = &insn.op[k];
            if (op->kind == HVEMU_OP_MEM && op->size) {
                snprintf(acc, sizeof(acc), "%s %u byte%s", access_text(op->access), op->size,
                         op->size == 1 ? "" : "s");
                break;
            }
        }
        printf("%-20s  %-30s  %3u  %-44s  %s\n", samples[i].what, samples[i].hex, insn.length,
               text, acc);
    }
    printf("\n%u of %u samples decoded\n", decoded, total);
    return CLI_EXIT_OK;
}
