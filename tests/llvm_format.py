# SPDX-License-Identifier: MIT
"""Compare hvemu_format() text (through `hvemu decode --batch`) with LLVM's Intel text on a
generated corpus of one-byte-map instructions in 16-, 32- and 64-bit mode.

usage: python3 tests/llvm_format.py BUILD_DIR [--per-opcode N] [--per-opcode-other N]
              [--spaces map0,0f,0f38,0f3a,vex,evex] [--seed S] [--min PERCENT] [--show N]
              [--dump FILE]
Prints "compared N, equal M (P%)" per encoding space and in all, then the most common kinds
of difference. Spaces hvemu has no tables for yet are skipped (every line "hvemu invalid"),
so the same run measures new opcode maps as they arrive. Exit status 1 when the share of
equal texts is below --min (default 0: only report)."""
import argparse
import collections
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llvm_disasm import Disasm  # noqa: E402

LEGACY_PREFIXES = [0x66, 0x67, 0xF3, 0xF2, 0xF0, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65]
# Bytes that are not one-byte-map opcodes in a mode (prefixes, escapes).
NOT_OPCODES = set(LEGACY_PREFIXES) | {0x0F}
BRANCH = re.compile(r"^(j[a-z]+|call|loop[a-z]*|xbegin)$")


def legacy_prefixes(mode, rng):
    pfx = []
    r = rng.random()
    if r < 0.35:
        pass
    elif r < 0.8:
        pfx.append(rng.choice(LEGACY_PREFIXES))
    else:
        pfx += rng.sample(LEGACY_PREFIXES, 2)
    return pfx


def corpus_other(space, mode, per_opcode, rng):
    """Two/three-byte maps (legacy escapes), VEX and EVEX: random fields and tails."""
    out = []
    for op in range(256):
        for _ in range(per_opcode):
            tail = [rng.randrange(256) for _ in range(15)]
            if space in ("0f", "0f38", "0f3a"):
                esc = {"0f": [0x0F], "0f38": [0x0F, 0x38], "0f3a": [0x0F, 0x3A]}[space]
                pfx = legacy_prefixes(mode, rng)
                if mode == 64 and rng.random() < 0.3:
                    pfx.append(0x40 | rng.randrange(16))
                elif mode == 64 and space == "0f" and rng.random() < 0.1:
                    pfx += [0xD5, 0x80 | rng.randrange(128)]  # REX2, map 1
                    esc = []
                b = pfx + esc + [op] + tail
            elif space == "vex":
                p0 = rng.randrange(256)
                if mode != 64:
                    p0 |= 0xC0
                if rng.random() < 0.3:
                    b = [0xC5, p0 if mode == 64 else (p0 | 0x80), op] + tail
                else:
                    b = [0xC4, (p0 & 0xE0) | rng.choice([1, 2, 3]), rng.randrange(256), op] + tail
            else:  # evex
                p0 = (rng.randrange(256) & 0xF0) | rng.choice([1, 2, 3, 4, 5, 6])
                if mode != 64:
                    p0 |= 0xF0
                if rng.random() < 0.7:
                    p0 &= ~0x08  # without APX this bit must be 0
                p1 = rng.randrange(256) | (0x04 if rng.random() < 0.8 else 0)
                b = [0x62, p0, p1, rng.randrange(256), op] + tail
            if rng.random() < 0.3:  # SIB / disp-only ModRM shapes
                at = len(b) - len(tail)
                b[at] = (b[at] & 0xF8) | rng.choice([4, 5])
            out.append(bytes(b)[:15])
    return out


def corpus(mode, per_opcode, rng):
    """Byte strings: prefixes + opcode + random tail (15 bytes in all)."""
    out = []
    for op in range(256):
        if op in NOT_OPCODES:
            continue
        if mode == 64 and (op & 0xF0) == 0x40:
            continue  # REX
        if op in (0xC4, 0xC5, 0x62) and mode == 64:
            continue  # VEX/EVEX: their own spaces
        for _ in range(per_opcode):
            pfx = []
            r = rng.random()
            if r < 0.35:
                pass
            elif r < 0.8:
                pfx.append(rng.choice(LEGACY_PREFIXES))
            else:
                pfx += rng.sample(LEGACY_PREFIXES, 2)
            if mode == 64:
                r = rng.random()
                if r < 0.3:
                    pfx.append(0x40 | rng.randrange(16))
                elif r < 0.4:
                    pfx += [0xD5, rng.randrange(256) & 0x7F]  # REX2, map 0
            tail = [rng.randrange(256) for _ in range(15)]
            # make the interesting ModRM shapes common: SIB, disp-only, registers
            if rng.random() < 0.3:
                tail[0] = (tail[0] & 0xF8) | rng.choice([4, 5])
            out.append(bytes(pfx + [op] + tail)[:15])
    return out


def normalise(text):
    return " ".join(text.replace(",", ", ").split()).replace(" ,", ",")


def hvemu_batch(build, mode, lines):
    exe = os.path.join(build, "hvemu")
    inp = "".join(b.hex() + "\n" for b in lines)
    res = subprocess.run([exe, "decode", "--batch", "--mode", str(mode)], input=inp,
                         capture_output=True, text=True, check=True)
    out = res.stdout.split("\n")[:-1]
    if len(out) != len(lines):
        sys.exit("hvemu decode --batch gave %d lines for %d" % (len(out), len(lines)))
    return out


def branch_fix(llvm_text, length, mode):
    """LLVM prints a branch's displacement; hvemu prints the target for address 0."""
    parts = llvm_text.split(" ", 1)
    mn = parts[0]
    idx = 0
    while mn in ("lock", "rep", "repne", "{nf}", "addr16", "addr32", "xacquire",
                  "xrelease", "{evex}") and len(parts) > 1:
        idx += 1
        parts = parts[1].split(" ", 1)
        mn = parts[0]
    if not BRANCH.match(mn) or len(parts) < 2:
        return [llvm_text]
    m = re.fullmatch(r"(-?)0x([0-9a-f]+)", parts[1])
    if not m:
        return [llvm_text]
    rel = int(m.group(2), 16) * (-1 if m.group(1) else 1)
    t = length + rel
    head = llvm_text[: len(llvm_text) - len(parts[1])]
    return [head + hex(t % (1 << b)) for b in ((16, 32) if mode != 64 else (64,))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--per-opcode", type=int, default=40)
    ap.add_argument("--per-opcode-other", type=int, default=12)
    ap.add_argument("--spaces", default="map0,0f,0f38,0f3a,vex,evex")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min", type=float, default=0.0)
    ap.add_argument("--show", type=int, default=25)
    ap.add_argument("--dump")
    a = ap.parse_args()
    d = Disasm()
    rng = random.Random(a.seed)
    compared = equal = 0
    per_space = collections.defaultdict(lambda: [0, 0, 0])  # compared, equal, skipped
    skipped = collections.Counter()
    kinds = collections.Counter()
    examples = {}
    dump = open(a.dump, "w") if a.dump else None
    jobs = []
    for space in a.spaces.split(","):
        for mode in (64, 32, 16):
            if space in ("vex", "evex") and mode == 16:
                continue
            if space == "map0":
                jobs.append((space, mode, corpus(mode, a.per_opcode, rng)))
            else:
                jobs.append((space, mode, corpus_other(space, mode, a.per_opcode_other, rng)))
    for space, mode, lines in jobs:
        st = per_space[space]
        for b, hv in zip(lines, hvemu_batch(a.build, mode, lines)):
            hlen, _, htext = hv.partition("\t")
            if hlen == "invalid":
                skipped["hvemu invalid"] += 1
                st[2] += 1
                continue
            n, lt = d.disasm(mode, b)
            if not n:
                skipped["llvm invalid"] += 1
                st[2] += 1
                continue
            hlen = int(hlen)
            compared += 1
            st[0] += 1
            lt = normalise(lt)
            ht = normalise(htext)
            if n != hlen:
                kind = "length"
                ok = False
            else:
                ok = ht in branch_fix(lt, n, mode)
                kind = "text %s" % (lt.split(" ")[0] if lt else "?")
            if ok:
                equal += 1
                st[1] += 1
                continue
            kinds[kind] += 1
            line = "%s %d %s: hvemu[%d] '%s' llvm[%d] '%s'" % (space, mode, b[:max(n, hlen)].hex(), hlen,
                                                            ht, n, lt)
            examples.setdefault(kind, line)
            if dump:
                dump.write(line + "\n")
    for space, (c, e, sk) in per_space.items():
        print("%-5s compared %d, equal %d (%.2f%%), skipped %d" %
              (space, c, e, 100.0 * e / c if c else 0.0, sk))
    pct = 100.0 * equal / compared if compared else 0.0
    print("compared %d, equal %d (%.2f%%); skipped: %s" %
          (compared, equal, pct, ", ".join("%s %d" % kv for kv in sorted(skipped.items()))))
    for kind, cnt in kinds.most_common(a.show):
        print("  %6d  %-18s e.g. %s" % (cnt, kind, examples[kind]))
    return 0 if pct >= a.min else 1


if __name__ == "__main__":
    sys.exit(main())
