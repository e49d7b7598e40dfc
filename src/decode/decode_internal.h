/* SPDX-License-Identifier: MIT */
/* Internal interface of the decoder: the generated tables and the entry matcher. */
#ifndef HVEMU_DECODE_INTERNAL_H
#define HVEMU_DECODE_INTERNAL_H

#include "hvemu.h"
#include "tables.gen.h"

/* First table entry of `slot` whose mask/value matches `key` and whose features are enabled, or
 * NULL. Skipping disabled features lets an encoding fall back to what older processors did with
 * it (TZCNT/LZCNT run as BSF/BSR, ENDBR and other hints as NOPs). */
const struct hv_entry *hv_match(const struct hv_slot *slot, uint32_t key,
                                const hvemu_features *features);

#endif
