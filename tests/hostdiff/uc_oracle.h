/* SPDX-License-Identifier: MIT */
/*
 * A second reference for the modes the host cannot run: Unicorn (QEMU's x86 emulation) in
 * 32-bit legacy protected mode (UC_MODE_32: CR0 = PE|ET, no paging, CPL 0, flat 4 GiB
 * segments with D/B = 1). Same contract and fixed layout as native_run() (native.h): the
 * window at NATIVE_MEM_ADDR, the instruction at NATIVE_CODE_ADDR in a region of INT3, the
 * result in the same struct native_state / native_fault (vector only; no error codes).
 *
 * It is an emulator, not the CPU: hostdiff uses it where the host cannot run 32-bit code (a
 * kernel without compatibility-mode support, as some sandboxes are), for what QEMU models
 * exactly: results, flags the SDM defines, 16/32-bit operand and address sizes, stack widths,
 * #PF addresses, #DE/#UD. QEMU does not check segment limits, so segmentation faults are
 * tested by tests/unit/modes.c instead.
 */
#ifndef HVEMU_HOSTDIFF_UC_ORACLE_H
#define HVEMU_HOSTDIFF_UC_ORACLE_H
#include "native.h"
#include <stddef.h>

/* bits 32: the flat 32-bit machine above. bits 16: protected mode with a GDT giving a 16-bit
 * code segment (selector 8: base 0, limit 4 GiB, D = 0), flat data segments (0x10, B = 1)
 * and a 16-bit stack segment inside the window (0x18: base NATIVE_MEM_ADDR, limit 0xFFFF,
 * B = 0), so SP-relative accesses and 16-bit stack wrap-around reach the window.
 * 0: ready; -1: no libunicorn.so.2 (the caller skips). */
#define UC_ORACLE_SS16_BASE NATIVE_MEM_ADDR
/* bits 15: the 16-bit machine, then CR0.PE cleared: real mode with those descriptor caches
 * (big real mode: a 4 GiB CS and DS, the stack segment at the window). */
int uc_oracle_init(unsigned bits);
int uc_oracle_run(const uint8_t *insn, size_t len, struct native_state *in_out,
                  struct native_fault *fault);
#endif
