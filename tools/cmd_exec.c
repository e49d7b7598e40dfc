/* SPDX-License-Identifier: MIT */
/* `hvemu exec`: emulate one instruction on a state given on the command line and print what
 * changed, in the same syntax as the input, so a result can be fed back in. */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

const char cmd_exec_usage[] =
    "usage: hvemu exec [--mode 64] [--no-apx] HEX [REG=VALUE ...] [mem:ADDR=HEX ...]\n"
    "       hvemu exec --batch [--mode 64] [--no-apx]\n"
    "\n"
    "Emulate one instruction (64-bit mode) on the given state and print every changed\n"
    "register, the flags and every written memory range, or the exception.\n"
    "Unspecified registers are zero (rflags 0x2, rip 0x1000), unspecified memory reads as zero.\n"
    "\n"
    "  REG       rax..r15, r16..r31, rip, rflags, cr0 cr2 cr3 cr4 cr8 efer xcr0, dr0-dr3 dr6 dr7,\n"
    "            fs.base gs.base, cs (CPL = cs & 3), gdtr.base/limit idtr.base/limit, ldtr tr\n"
    "  mem:ADDR=HEX   bytes in memory order at ADDR\n"
    "\n"
    "Output (one line): the changed registers as REG=0x..., rflags=0x..., each written range as\n"
    "mem:0xADDR=HEX, port writes as out:0xPORT=HEX, then event:halt|invlpg:0xADDR|wbinvd|...\n"
    "and trap:#DB:dr6=0x...|#BP|int1|int:0xN for an instruction that completed with a trap;\n"
    "or #DE, #UD, #GP(0), #SS(0), #AC(0), #PF(0xERR,0xADDR); or `unhandleable: REASON`.\n"
    "An exception exits 0 (it is a result); bad input exits 2.\n"
    "\n"
    "--batch reads one `HEX REG=VALUE ... mem:ADDR=HEX ...` line per input line and writes\n"
    "exactly one result line per input line (`error: MESSAGE` for a bad line).\n";

static const char *const gpr_names[32] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
    "r13", "r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25",
    "r26", "r27", "r28", "r29", "r30", "r31",
};

/* ---- a sparse memory of 4 KiB pages; reads of absent pages give zeros ---- */

#define EXEC_MAX_PAGES 64
#define EXEC_MAX_WRITES 256

struct exec_mem {
    uint64_t page_addr[EXEC_MAX_PAGES];
    uint8_t *page[EXEC_MAX_PAGES];
    unsigned npages;
    struct { uint64_t addr; unsigned len; } wr[EXEC_MAX_WRITES];
    unsigned nwr;
    char outs[512];
    size_t outs_len;
};

static uint8_t *mem_page(struct exec_mem *m, uint64_t addr, int create)
{
    uint64_t pa = addr & ~(uint64_t)4095;
    for (unsigned i = 0; i < m->npages; i++)
        if (m->page_addr[i] == pa)
            return m->page[i];
    if (!create || m->npages == EXEC_MAX_PAGES)
        return NULL;
    m->page_addr[m->npages] = pa;
    m->page[m->npages] = calloc(1, 4096);
    return m->page[m->npages++];
}

static int m_read(void *o, uint64_t a, void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)k; (void)e;
    uint8_t *p = mem_page(o, a, 0);
    if (p)
        memcpy(d, p + (a & 4095), n);
    else
        memset(d, 0, n);
    return HVEMU_CB_OK;
}

static void note_write(struct exec_mem *m, uint64_t a, unsigned n)
{
    for (unsigned i = 0; i < m->nwr; i++)
        if (a <= m->wr[i].addr + m->wr[i].len && m->wr[i].addr <= a + n) {
            uint64_t lo = a < m->wr[i].addr ? a : m->wr[i].addr;
            uint64_t hi = a + n > m->wr[i].addr + m->wr[i].len ? a + n : m->wr[i].addr + m->wr[i].len;
            m->wr[i].addr = lo;
            m->wr[i].len = (unsigned)(hi - lo);
            return;
        }
    if (m->nwr < EXEC_MAX_WRITES) {
        m->wr[m->nwr].addr = a;
        m->wr[m->nwr++].len = n;
    }
}

static int m_write(void *o, uint64_t a, const void *d, unsigned n, enum hvemu_access k, struct hvemu_exception *e)
{
    (void)k;
    uint8_t *p = mem_page(o, a, 1);
    if (!p) {
        e->vector = HVEMU_EXC_PF;
        e->has_error_code = 1;
        e->error_code = 2;
        e->cr2 = a;
        return HVEMU_CB_FAULT;
    }
    memcpy(p + (a & 4095), d, n);
    note_write(o, a, n);
    return HVEMU_CB_OK;
}

static int m_cmpxchg(void *o, uint64_t a, void *exp, const void *des, unsigned n, struct hvemu_exception *e)
{
    uint8_t cur[16];
    m_read(o, a, cur, n, HVEMU_ACCESS_RMW_READ, e);
    if (memcmp(cur, exp, n)) {
        memcpy(exp, cur, n);
        return HVEMU_CB_CHANGED;
    }
    return m_write(o, a, des, n, HVEMU_ACCESS_RMW_WRITE, e);
}

static int m_in(void *o, uint16_t port, void *d, unsigned n, struct hvemu_exception *e)
{
    (void)o; (void)port; (void)e;
    memset(d, 0xff, n); /* nothing answers: the bus floats high */
    return HVEMU_CB_OK;
}

static int m_out(void *o, uint16_t port, const void *d, unsigned n, struct hvemu_exception *e)
{
    struct exec_mem *m = o;
    (void)e;
    char buf[64];
    int k = snprintf(buf, sizeof buf, " out:0x%x=", port);
    for (unsigned i = 0; i < n; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "%02x", ((const uint8_t *)d)[i]);
    if (m->outs_len + (size_t)k < sizeof m->outs) {
        memcpy(m->outs + m->outs_len, buf, (size_t)k + 1);
        m->outs_len += (size_t)k;
    }
    return HVEMU_CB_OK;
}

static int m_cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)o;
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(sub));
    return HVEMU_CB_OK;
}

static int m_rdtsc(void *o, uint64_t *tsc, uint32_t *aux)
{
    (void)o;
    *tsc = 0x1000; /* a fixed counter: the tool's output stays reproducible */
    *aux = 0;
    return HVEMU_CB_OK;
}

static const struct hvemu_ops exec_ops = {
    .read = m_read, .write = m_write, .cmpxchg = m_cmpxchg, .pio_in = m_in, .pio_out = m_out,
    .cpuid = m_cpuid, .rdtsc = m_rdtsc,
};

/* ---- one run ---- */

static void free_mem(struct exec_mem *m)
{
    for (unsigned i = 0; i < m->npages; i++)
        free(m->page[i]);
}

/* The system state `hvemu exec` takes and prints (printed when the instruction changed it). */
enum { F64, F32, F16 };
static const struct sys_field {
    const char *name;
    size_t offset;
    int width;
} sys_fields[] = {
    {"cr0", offsetof(struct hvemu_state, cr0), F64},
    {"cr2", offsetof(struct hvemu_state, cr2), F64},
    {"cr3", offsetof(struct hvemu_state, cr3), F64},
    {"cr4", offsetof(struct hvemu_state, cr4), F64},
    {"cr8", offsetof(struct hvemu_state, cr8), F64},
    {"efer", offsetof(struct hvemu_state, efer), F64},
    {"xcr0", offsetof(struct hvemu_state, xcr0), F64},
    {"dr0", offsetof(struct hvemu_state, dr[0]), F64},
    {"dr1", offsetof(struct hvemu_state, dr[1]), F64},
    {"dr2", offsetof(struct hvemu_state, dr[2]), F64},
    {"dr3", offsetof(struct hvemu_state, dr[3]), F64},
    {"dr6", offsetof(struct hvemu_state, dr[6]), F64},
    {"dr7", offsetof(struct hvemu_state, dr[7]), F64},
    {"fs.base", offsetof(struct hvemu_state, seg[HVEMU_FS].base), F64},
    {"gs.base", offsetof(struct hvemu_state, seg[HVEMU_GS].base), F64},
    {"cs", offsetof(struct hvemu_state, seg[HVEMU_CS].selector), F16}, /* CPL = cs & 3 */
    {"gdtr.base", offsetof(struct hvemu_state, gdtr.base), F64},
    {"gdtr.limit", offsetof(struct hvemu_state, gdtr.limit), F16},
    {"idtr.base", offsetof(struct hvemu_state, idtr.base), F64},
    {"idtr.limit", offsetof(struct hvemu_state, idtr.limit), F16},
    {"ldtr", offsetof(struct hvemu_state, ldtr.selector), F16},
    {"tr", offsetof(struct hvemu_state, tr.selector), F16},
};
#define NSYS (sizeof sys_fields / sizeof sys_fields[0])

static uint64_t sys_get(const struct hvemu_state *s, const struct sys_field *f)
{
    const char *p = (const char *)s + f->offset;
    uint64_t v = 0;
    memcpy(&v, p, f->width == F64 ? 8 : f->width == F32 ? 4 : 2);
    return v;
}

static void sys_set(struct hvemu_state *s, const struct sys_field *f, uint64_t v)
{
    memcpy((char *)s + f->offset, &v, f->width == F64 ? 8 : f->width == F32 ? 4 : 2);
}

static int set_reg(struct hvemu_state *s, const char *name, uint64_t v)
{
    for (unsigned i = 0; i < 32; i++)
        if (!strcmp(name, gpr_names[i])) {
            s->gpr[i] = v;
            return 0;
        }
    if (!strcmp(name, "rip")) { s->rip = v; return 0; }
    if (!strcmp(name, "rflags")) { s->rflags = v | 2; return 0; }
    for (unsigned i = 0; i < NSYS; i++)
        if (!strcmp(name, sys_fields[i].name)) {
            sys_set(s, &sys_fields[i], v);
            return 0;
        }
    return -1;
}

/* Run one instruction described by tokens; the result line (no newline) goes to `out`.
 * Returns 0, or 2 with an error message in `out`. */
static int exec_tokens(int ntok, char **tok, int no_apx, char *out, size_t outsz)
{
    struct hvemu_state st, before;
    struct exec_mem *m = calloc(1, sizeof *m);
    uint8_t code[16];
    long ncode = -1;
    int rc = 2;
    memset(&st, 0, sizeof st);
    st.valid = HVEMU_PART_ALL;
    st.rip = 0x1000;
    st.rflags = 2;
    st.cr0 = 0x80000011;
    st.cr4 = 0x40000 | 0x20;
    st.efer = 0x500;
    st.xcr0 = 0x7 | (no_apx ? 0 : 0x80000);
    st.seg[HVEMU_CS].attr = HVEMU_SEG_ATTR_L | 0x9b;
    for (int i = 0; i < ntok; i++) {
        char *t = tok[i], *eq = strchr(t, '=');
        if (!strncmp(t, "mem:", 4)) {
            uint64_t addr;
            uint8_t bytes[4096];
            if (!eq) { snprintf(out, outsz, "error: %s: expected mem:ADDR=HEX", t); goto done; }
            *eq = 0;
            if (cli_parse_u64(t + 4, &addr)) { snprintf(out, outsz, "error: bad address %s", t + 4); goto done; }
            long n = cli_parse_hex(eq + 1, bytes, sizeof bytes);
            if (n < 0 || n > (long)sizeof bytes) { snprintf(out, outsz, "error: bad bytes for mem:%s", t + 4); goto done; }
            for (long k = 0; k < n; k++) {
                uint8_t *p = mem_page(m, addr + (uint64_t)k, 1);
                if (!p) { snprintf(out, outsz, "error: too many memory pages"); goto done; }
                p[(addr + (uint64_t)k) & 4095] = bytes[k];
            }
        } else if (eq) {
            uint64_t v;
            *eq = 0;
            if (cli_parse_u64(eq + 1, &v)) { snprintf(out, outsz, "error: bad value for %s", t); goto done; }
            if (set_reg(&st, t, v)) { snprintf(out, outsz, "error: unknown register %s", t); goto done; }
        } else if (ncode < 0) {
            ncode = cli_parse_hex(t, code, sizeof code);
            if (ncode <= 0) { snprintf(out, outsz, "error: bad instruction hex %s", t); goto done; }
            if (ncode > 15) ncode = 15;
        } else {
            snprintf(out, outsz, "error: unexpected argument %s", t);
            goto done;
        }
    }
    if (ncode < 0) { snprintf(out, outsz, "error: no instruction bytes"); goto done; }
    before = st;
    struct hvemu_ctx ctx;
    struct hvemu_result res;
    hvemu_init(&ctx, &exec_ops, m, &st);
    if (no_apx)
        hvemu_feature_set(&ctx.features, HVEMU_FEAT_APX, 0);
    int r = hvemu_emulate_bytes(&ctx, code, (size_t)ncode, &res);
    size_t k = 0;
    out[0] = 0;
#define OUT(...) (k += (size_t)snprintf(out + k, k < outsz ? outsz - k : 0, __VA_ARGS__))
    switch (r) {
    case HVEMU_OK:
    case HVEMU_TRAP:
        for (unsigned i = 0; i < 32; i++)
            if (st.gpr[i] != before.gpr[i])
                OUT("%s=0x%llx ", gpr_names[i], (unsigned long long)st.gpr[i]);
        for (unsigned i = 0; i < NSYS; i++)
            if (sys_get(&st, &sys_fields[i]) != sys_get(&before, &sys_fields[i]))
                OUT("%s=0x%llx ", sys_fields[i].name, (unsigned long long)sys_get(&st, &sys_fields[i]));
        OUT("rip=0x%llx rflags=0x%llx", (unsigned long long)st.rip, (unsigned long long)st.rflags);
        for (unsigned i = 0; i < m->nwr; i++) {
            OUT(" mem:0x%llx=", (unsigned long long)m->wr[i].addr);
            for (unsigned b = 0; b < m->wr[i].len; b++) {
                uint8_t byte = 0;
                m_read(m, m->wr[i].addr + b, &byte, 1, HVEMU_ACCESS_READ, NULL);
                OUT("%02x", byte);
            }
        }
        if (m->outs_len)
            OUT("%s", m->outs);
        if (res.event) {
            static const char *const ev[] = {"", "halt", "invlpg", "wbinvd", "wbnoinvd", "invd", "ss-shadow", "sti-shadow", "invpcid", "iret"};
            OUT(" event:%s", res.event < sizeof ev / sizeof ev[0] ? ev[res.event] : "?");
            if (res.event == HVEMU_EVENT_INVLPG)
                OUT(":0x%llx", (unsigned long long)res.event_addr);
            if (res.event == HVEMU_EVENT_INVPCID)
                OUT(":type=%u:pcid=0x%x:0x%llx", res.event_arg & 3, res.event_arg >> 16,
                    (unsigned long long)res.event_addr);
        }
        if (r == HVEMU_TRAP) {
            if (res.trap_type == HVEMU_TRAP_SOFT_INT)
                OUT(" trap:int:0x%x", res.exc.vector);
            else if (res.trap_type == HVEMU_TRAP_DEBUG)
                OUT(" trap:#DB:dr6=0x%llx", (unsigned long long)res.exc.dr6);
            else if (res.trap_type == HVEMU_TRAP_PRIV_SOFT_EXC)
                OUT(" trap:int1");
            else
                OUT(" trap:%s", res.exc.vector == HVEMU_EXC_BP ? "#BP" : "#OF");
        }
        break;
    case HVEMU_EXCEPTION: {
        static const char *const names[32] = {
            [0] = "#DE", [1] = "#DB", [3] = "#BP", [4] = "#OF", [5] = "#BR", [6] = "#UD", [7] = "#NM",
            [8] = "#DF", [10] = "#TS", [11] = "#NP", [12] = "#SS", [13] = "#GP", [14] = "#PF",
            [16] = "#MF", [17] = "#AC", [18] = "#MC", [19] = "#XM", [20] = "#VE", [21] = "#CP",
        };
        const char *nm = res.exc.vector < 32 && names[res.exc.vector] ? names[res.exc.vector] : "#?";
        if (res.exc.vector == HVEMU_EXC_PF)
            OUT("#PF(0x%x,0x%llx)", res.exc.error_code, (unsigned long long)res.exc.cr2);
        else if (res.exc.has_error_code)
            OUT("%s(%u)", nm, res.exc.error_code);
        else
            OUT("%s", nm);
        break;
    }
    case HVEMU_RETRY:
        OUT("retry: %s", res.reason ? res.reason : "");
        break;
    default:
        OUT("unhandleable: %s%s%s", res.reason ? res.reason : "", res.detail[0] ? ": " : "", res.detail);
        break;
    }
#undef OUT
    rc = 0;
done:
    free_mem(m);
    free(m);
    return rc;
}

int cmd_exec(int argc, char **argv)
{
    int batch = 0, no_apx = 0, first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1] == '-'; first++) {
        const char *a = argv[first];
        if (!strcmp(a, "--batch")) batch = 1;
        else if (!strcmp(a, "--no-apx")) no_apx = 1;
        else if (!strcmp(a, "--help")) { fputs(cmd_exec_usage, stdout); return CLI_EXIT_OK; }
        else if (!strcmp(a, "--mode") && first + 1 < argc) {
            enum hvemu_mode mode;
            if (cli_parse_mode(argv[++first], &mode) || mode != HVEMU_MODE_64)
                return cli_usage_error("exec", "only --mode 64 is executed so far");
        } else {
            return cli_usage_error("exec", "unknown option %s", a);
        }
    }
    char out[8192];
    if (!batch) {
        if (first >= argc)
            return cli_usage_error("exec", "no instruction given");
        int rc = exec_tokens(argc - first, argv + first, no_apx, out, sizeof out);
        if (rc) {
            fprintf(stderr, "hvemu exec: %s\n", out + 7);
            return CLI_EXIT_USAGE;
        }
        puts(out);
        return CLI_EXIT_OK;
    }
    char line[16384];
    while (fgets(line, sizeof line, stdin)) {
        char *tok[512];
        int n = 0;
        for (char *p = strtok(line, " \t\r\n"); p && n < 512; p = strtok(NULL, " \t\r\n"))
            tok[n++] = p;
        if (exec_tokens(n, tok, no_apx, out, sizeof out) && strncmp(out, "error:", 6))
            snprintf(out, sizeof out, "error: bad line");
        puts(out);
        fflush(stdout);
    }
    return CLI_EXIT_OK;
}
