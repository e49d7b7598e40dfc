/* SPDX-License-Identifier: MIT */
/* Internal interface of the decoder: the generated tables and the entry matcher. */
#ifndef HVEMU_DECODE_INTERNAL_H
#define HVEMU_DECODE_INTERNAL_H

#include "hvemu.h"
#include "tables.gen.h"

/* First table entry of `slot` whose mask/value matches `key`, or NULL. */
const struct hv_entry *hv_match(const struct hv_slot *slot, uint32_t key);

#endif
