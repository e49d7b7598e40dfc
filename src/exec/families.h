/* SPDX-License-Identifier: MIT */
/* Handlers of every instruction family; hv_exec_handlers (handlers.c) maps mnemonics to them. */
#ifndef HVEMU_FAMILIES_H
#define HVEMU_FAMILIES_H
#include "exec.h"

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
#endif
