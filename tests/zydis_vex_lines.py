# SPDX-License-Identifier: MIT
"""VEX decoder coverage against Zydis 4.0 (valid/invalid and length).

  python3 tests/zydis_vex_lines.py gen MODE > lines.txt     MODE: 64, 32 or 16
  zcmp -m MODE < lines.txt > diff.txt                        (the scratch Zydis comparer)
  python3 tests/zydis_vex_lines.py classify < diff.txt

`gen` writes one hex line per encoding: every VEX map number 0..8 (C4) and C5, every opcode,
pp, L, W, four vvvv values (none, 15, 7, 8), VEX.R/X/B clear and set, and a spread of ModRM
bytes (register forms with four r/m values, memory forms with plain, SIB and disp32 r/m, disp8
and disp32 forms), each followed by a SIB byte from a small set and 8 filler bytes. Outside
64-bit mode only C4/C5 bytes that are VEX there (ModRM-like byte with mod 11) are written.

`classify` sorts the DIFF lines into the deliberate disagreements listed in
docs/decode-exclusions.md (section VEX) and prints how many fall outside them ("unexplained",
which should be 0) with examples.
"""
import collections
import re
import sys

MODRMS = ([0xC0 | (r << 3) | rm for r in range(8) for rm in (0, 1, 5, 7)] +
          [(r << 3) | rm for r in range(8) for rm in (0, 4, 5)] +
          [0x44, 0x5C, 0x8A, 0xB2, 0x4C, 0x94])
SIBS = [0x24, 0x05, 0x8C, 0xE1]
TAIL = '1122334455667788'


def gen(mode):
    w = sys.stdout.write
    for mp in (1, 2, 3, 4, 5, 6, 7, 0, 8):
        for op in range(256):
            for pp in range(4):
                for L in range(2):
                    for W in range(2):
                        for vv in (0xF, 0x0, 0x8, 0x7):  # the field as encoded (inverted)
                            for i, m in enumerate(MODRMS):
                                rest = '%02x%02x%s' % (m, SIBS[(i + op) % 4], TAIL)
                                b2 = (W << 7) | (vv << 3) | (L << 2) | pp
                                # inverted R X B: all 1 (no extension) or some 0
                                for rxb in ((7, 0) if mode == 64 else (7, 6)):
                                    w('c4%02x%02x%02x%s\n' % ((rxb << 5) | mp, b2, op, rest))
                                if mp == 1 and W == 0 and (mode == 64 or vv >= 8):
                                    for r in ((1, 0) if mode == 64 else (1,)):
                                        w('c5%02x%02x%s\n' % ((r << 7) | (vv << 3) | (L << 2) | pp,
                                                               op, rest))


# hvemu decodes, Zydis 4.0 does not know the extension
UNKNOWN = re.compile(r'^(vpdpb[su][su]ds?|vpdpw[su][su]ds?|vpmadd52[lh]uq|vcvtne\w+|vbcstne\w+|'
                     r'vsha512\w+|vsm3\w+|vsm4\w+|cmpn?\w*xadd|tdpfp16ps|tcmm\w+|urdmsr|uwrmsr|'
                     r'rdmsr|wrmsrns)$')
# Zydis decodes Knights Corner forms outside its KNC mode; hvemu: #UD
KNC = {'jkzd', 'jknzd', 'vprefetch0', 'vprefetch1', 'vprefetch2', 'vprefetche0', 'vprefetche1',
       'vprefetche2', 'vprefetchenta', 'vprefetchnta', 'kand', 'kandn', 'kandnr', 'kor', 'kxor',
       'kxnor', 'kmerge2l1h', 'kmerge2l1l', 'kconcath', 'kconcatl', 'clevict0', 'clevict1',
       'delay', 'spflt', 'popcnt', 'tzcnt', 'tzcnti', 'lzcnt', 'kextract'}


def classify():
    c = collections.Counter()
    other = []
    for line in sys.stdin:
        if not line.startswith('DIFF'):
            continue
        hv = line.split('hvemu:')[1].split('|')[0].split()
        zy = line.split('zydis:')[1].split()
        if hv[0] == 'ok' and zy[0] == 'invalid' and UNKNOWN.match(hv[-1]):
            c['A: extension unknown to Zydis 4.0 (hvemu decodes per the SDM)'] += 1
        elif hv[0] == '#UD' and zy[0] == 'ok' and zy[-1] in KNC:
            c['B: Knights Corner form Zydis decodes (hvemu #UD)'] += 1
        elif hv[0] == '#UD' and zy[0] == 'ok' and re.match(r'^(vfn?m|vpermil2)', zy[-1]):
            c['C: AMD FMA4 / VPERMIL2PS/PD Zydis decodes (hvemu #UD)'] += 1
        else:
            c['unexplained'] += 1
            other.append(line.rstrip())
    for k in sorted(c):
        print('%9d  %s' % (c[k], k))
    for l in other[:30]:
        print(l)
    return 1 if other else 0


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == 'gen':
        gen(int(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == 'classify':
        sys.exit(classify())
    else:
        sys.exit(__doc__)
