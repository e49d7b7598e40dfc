/* SPDX-License-Identifier: MIT */
/* Handlers of every instruction family; hv_exec_handlers (handlers.c) maps mnemonics to them. */
#ifndef HVEMU_FAMILIES_H
#define HVEMU_FAMILIES_H
#include "exec.h"
#include <string.h>

/* alu.c */
int exec_alu2(struct exec *x);
int exec_alu1(struct exec *x);
int exec_cmpxchg(struct exec *x);
int exec_xadd(struct exec *x);
/* mov.c */
int exec_mov(struct exec *x);
int exec_movzx(struct exec *x);
int exec_movsx(struct exec *x);
int exec_xchg(struct exec *x);
int exec_lea(struct exec *x);
int exec_cbw(struct exec *x);
int exec_cwd(struct exec *x);
int exec_xlat(struct exec *x);
int exec_lahf(struct exec *x);
int exec_sahf(struct exec *x);
int exec_nop(struct exec *x);
int exec_flagop(struct exec *x);
/* stack.c */
int exec_push(struct exec *x);
int exec_pop(struct exec *x);
int exec_pushf(struct exec *x);
int exec_popf(struct exec *x);
int exec_leave(struct exec *x);
int exec_enter(struct exec *x);
int exec_jmp(struct exec *x);
int exec_jcc(struct exec *x);
int exec_call(struct exec *x);
int exec_ret(struct exec *x);
int exec_loop(struct exec *x);
/* shift.c */
int exec_shift(struct exec *x);
int exec_shxd(struct exec *x);
/* muldiv.c */
int exec_mul1(struct exec *x);
int exec_imul_n(struct exec *x);
int exec_div(struct exec *x);
int exec_imul(struct exec *x);
/* string.c */
int exec_string(struct exec *x);
int exec_inout(struct exec *x);
/* bits.c */
int exec_cmov(struct exec *x);
int exec_setcc(struct exec *x);
int exec_bt(struct exec *x);
int exec_bitscan(struct exec *x);
int exec_bswap(struct exec *x);
int exec_movbe(struct exec *x);
int exec_crc32(struct exec *x);
int exec_adx(struct exec *x);
int exec_cmpxchg8b16b(struct exec *x);
/* bmi.c */
int exec_bmi(struct exec *x);
/* system.c */
int exec_clts(struct exec *x);
int exec_lmsw(struct exec *x);
int exec_smsw(struct exec *x);
int exec_sldt_str(struct exec *x);
int exec_sgdt_sidt(struct exec *x);
int exec_lgdt_lidt(struct exec *x);
int exec_rdmsr_wrmsr(struct exec *x);
int exec_swapgs(struct exec *x);
int exec_fsgsbase(struct exec *x);
int exec_xgetbv(struct exec *x);
int exec_xsetbv(struct exec *x);
int exec_event(struct exec *x);
int exec_cli_sti(struct exec *x);
int exec_clac_stac(struct exec *x);
int exec_invpcid(struct exec *x);
int exec_syscall(struct exec *x);
int exec_sysret(struct exec *x);
int exec_sysenter_sysexit(struct exec *x);
/* segment.c */
int exec_lseg(struct exec *x);
int exec_lldt(struct exec *x);
int exec_ltr(struct exec *x);
int exec_descriptor_query(struct exec *x);
int exec_far_jmp_call(struct exec *x);
int exec_far_ret(struct exec *x);
int exec_iret(struct exec *x);
/* misc.c */
int exec_soft_int(struct exec *x);
int exec_rdpid(struct exec *x);
int exec_rdrand(struct exec *x);
int exec_movdir64b(struct exec *x);
int exec_cpuid(struct exec *x);
/* legacy.c: instructions that exist only outside 64-bit mode */
int exec_pusha(struct exec *x);
int exec_popa(struct exec *x);
int exec_bcd(struct exec *x);
int exec_aam_aad(struct exec *x);
int exec_bound(struct exec *x);
int exec_into(struct exec *x);
int exec_lxs(struct exec *x);
int exec_rdtsc(struct exec *x);
int exec_cacheline(struct exec *x);
int exec_hint(struct exec *x);
int exec_raise_ud(struct exec *x);
/* simd.c */
int exec_simd_move(struct exec *x);
int exec_movsd(struct exec *x);
int exec_kmov(struct exec *x);
#endif
