/* SPDX-License-Identifier: MIT */
/* Mnemonics a host-differential test must not run natively, or whose native result does not
 * follow from the state it gives: one list for hostdiff.c and tests/apx/apx_exec.c. Each is
 * covered elsewhere, as noted. */
#ifndef HVEMU_HOSTDIFF_NATIVE_SKIP_H
#define HVEMU_HOSTDIFF_NATIVE_SKIP_H
#include <string.h>

static const char *const native_skip[] = {
    /* software interrupts: hvemu reports them for delivery (the gate checks are the
     * injection's), the host delivers them (INT 0x80 is even a system call): tests/unit/traps.c */
    "int3", "int", "int1", "into",
    /* these enter the host kernel: tests/unit/syscall.c */
    "syscall", "sysenter",
    /* port I/O is the host kernel's; CPUID, the TSC and TSC_AUX are the host's: exec_rules.c */
    "in", "out", "insb", "insw", "insd", "outsb", "outsw", "outsd",
    "cpuid", "rdtsc", "rdtscp", "rdpid", "rdrand", "rdseed",
    /* the host's descriptor tables and CR0 (and UMIP, which Linux may emulate), the host's
     * XINUSE, and FS/GS bases the runner does not report back: tests/unit/system.c */
    "smsw", "sldt", "str", "sgdt", "sidt", "xgetbv", "wrfsbase", "wrgsbase",
    /* segment loads and descriptor inspections need the host's GDT: tests/hostdiff/segload.c
     * has it (and tests/unit/modes.c the real-mode loads) */
    "les", "lds", "lss", "lfs", "lgs", "lar", "lsl", "verr", "verw", "jmpf", "callf", "retf",
    "iret", "iretd", "iretq",
    NULL,
};

static inline int native_skipped(const char *mnemonic)
{
    for (unsigned i = 0; native_skip[i]; i++)
        if (!strcmp(native_skip[i], mnemonic))
            return 1;
    return 0;
}
#endif
