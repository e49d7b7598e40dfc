#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Print EVEX test encodings (hex, one per line) for comparing hvemu's decoder with a reference.

For every map (0f, 0f38, 0f3a, 5, 6), opcode, pp, W and L'L it prints a fixed core (EVEX.b, z,
aaa 0/nonzero, every ModRM.reg value, register and memory forms) plus random variations of
R/X/B/R'/V', vvvv, ModRM/SIB and displacement sizes. Deterministic (fixed seed).

usage: evex_cases.py [--mode 64|32] [--random N]
"""
import random
import sys


def main():
    mode = 64
    nrand = 24
    a = sys.argv[1:]
    while a:
        if a[0] == '--mode':
            mode = int(a[1]); a = a[2:]
        elif a[0] == '--random':
            nrand = int(a[1]); a = a[2:]
        else:
            sys.exit(__doc__)
    rnd = random.Random(12345 + mode)
    out = sys.stdout
    for mp in (1, 2, 3, 5, 6):
        for op in range(256):
            for pp in range(4):
                for w in range(2):
                    for ll in range(4):
                        cases = []
                        for b in (0, 1):
                            for z in (0, 1):
                                for aaa in (0, 5):
                                    for reg in range(8):
                                        cases.append((0xF, 1, 0xF, b, z, aaa, 0xC1 | reg << 3, b''))
                                        cases.append((0xF, 1, 0xF, b, z, aaa, 0x44 | reg << 3, bytes([0x8A, 0x10])))
                        for _ in range(nrand):
                            rxbr = rnd.randrange(16)
                            vp = rnd.randrange(2)
                            vvvv = rnd.choice((0xF, 0xF, 0, rnd.randrange(16)))
                            modrm = rnd.randrange(256)
                            rest = bytes(rnd.randrange(256) for _ in range(5))
                            cases.append((rxbr, vp, vvvv, rnd.randrange(2), rnd.randrange(2),
                                          rnd.choice((0, rnd.randrange(8))), modrm, rest))
                        for rxbr, vp, vvvv, b, z, aaa, modrm, rest in cases:
                            if mode != 64:
                                rxbr |= 0xC  # R and X set (inverted 0): else it is BOUND
                            p0 = rxbr << 4 | mp
                            p1 = w << 7 | vvvv << 3 | 4 | pp
                            p2 = z << 7 | ll << 5 | b << 4 | vp << 3 | aaa
                            enc = bytes([0x62, p0, p1, p2, op, modrm]) + rest
                            enc = (enc + bytes([0x11] * 16))[:15]
                            out.write(enc.hex() + '\n')


if __name__ == '__main__':
    main()
