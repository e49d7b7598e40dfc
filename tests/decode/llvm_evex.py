#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""EVEX validity and length: hvemu's decoder against LLVM 19's disassembler (64-bit, APX off).

hvemu's EVEX table was generated from facts queried from Zydis, so tests/decode/zydis_diff.c
cannot check EVEX validity independently; LLVM's disassembler is a second, independent opinion.

For every map (0f, 0f38, 0f3a, 5, 6), opcode, pp, W and L'L the encodings cover register and
memory forms, EVEX.b, EVEX.z, EVEX.aaa 0/nonzero and a spread of ModRM.reg, plus a few random
variations of R/X/B/R'/V', vvvv, ModRM/SIB and displacement (fixed seed). Each is decoded by
`hvemu decode --batch --no-apx` and by LLVM; valid/invalid and length must agree except for the
documented classes in excuse(), where by the Intel SDM LLVM is too lenient (or, for a few
hvemu-only classes, too strict). Exit status 1 on any other disagreement.

usage: llvm_evex.py BUILD_DIR [-v]
"""
import collections
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import llvm_disasm  # noqa: E402

MAPS = (1, 2, 3, 5, 6)
PP = ('np', '66', 'f3', 'f2')


def cases():
    """Yield (map, op, pp, w, ll, b, z, aaa, modrm, bytes)."""
    rnd = random.Random(4242)
    for mp in MAPS:
        for op in range(256):
            for pp in range(4):
                for w in range(2):
                    for ll in range(4):
                        c = []
                        for b in (0, 1):
                            for z in (0, 1):
                                for aaa in (0, 5):
                                    for reg in (0, 1, 2, 3, 4, 5, 6, 7):
                                        c.append((0xF, 1, 0xF, b, z, aaa, 0xC1 | reg << 3, b''))
                                        c.append((0xF, 1, 0xF, b, z, aaa, 0x44 | reg << 3,
                                                  bytes([0x8A, 0x10])))
                        for _ in range(4):
                            c.append((rnd.randrange(16), rnd.randrange(2),
                                      rnd.choice((0xF, 0xF, 0, rnd.randrange(16))),
                                      rnd.randrange(2), rnd.randrange(2),
                                      rnd.choice((0, rnd.randrange(8))), rnd.randrange(256),
                                      bytes(rnd.randrange(256) for _ in range(5))))
                        for rxbr, vp, vvvv, b, z, aaa, modrm, rest in c:
                            p0 = rxbr << 4 | mp
                            p1 = w << 7 | vvvv << 3 | 4 | pp
                            p2 = z << 7 | ll << 5 | b << 4 | vp << 3 | aaa
                            enc = bytes([0x62, p0, p1, p2, op, modrm]) + rest
                            enc = (enc + bytes([0x11] * 16))[:15]
                            yield (mp, op, pp, w, ll, b, z, aaa, modrm, enc)


CPLX = ('vfmaddcph', 'vfcmaddcph', 'vfmulcph', 'vfcmulcph',
        'vfmaddcsh', 'vfcmaddcsh', 'vfmulcsh', 'vfcmulcsh')


def _regs(text):
    """Vector registers named in LLVM's operand text (masks and decorations dropped)."""
    ops = text.split(None, 1)[1] if ' ' in text.strip() else ''
    return re.findall(r'\b[xyz]mm(\d+)\b', re.sub(r'\{[^}]*\}', '', ops))


WIG = ('vpsrlw', 'vpsraw', 'vpsllw', 'vpalignr', 'vmovw')


def excuse(kind, enc, ll, b, z, aaa, reg, ltext, htext):
    """Why a disagreement is LLVM's fault (SDM reference), or None when it is unexplained.
    kind: 'llvm-only' (LLVM decodes, hvemu says #UD), 'hvemu-only', 'length'."""
    words = ltext.split()
    mn = next((w for w in words if not w.startswith('{')), '')
    hmn = htext.split()[0] if htext else ''
    rprime_hi = not enc[1] & 0x10  # EVEX.R' (stored inverted) selects registers 16-31
    if kind == 'llvm-only':
        # LLVM 19 always decodes the APX EVEX promotions of legacy/VEX GPR and opmask
        # instructions ({nf}, {evex}, kmov*, bmi, cmpccxadd...) in maps 2/3/1; hvemu runs with
        # APX off, where EVEX never encodes a non-vector instruction (Intel APX spec 3.1).
        if not mn.startswith('v'):
            return 'apx'
        # Zeroing-masking needs a predicate, and k0 cannot be encoded as one (SDM Vol.2A
        # 2.6.4); z=1 with aaa=000 is #UD (as Bochs decodes it); LLVM ignores z.
        if z and not aaa:
            return 'z-k0'
        # L'L=11b is reserved unless EVEX.b selects rounding in a reg-reg form
        # (SDM Vol.2A 2.6.11, Table 2-36), scalar LIG forms included (XED: BAD_EVEX_LL);
        # LLVM decodes it as some length.
        if ll == 3 and not (reg and b):
            return 'll3'
        # The complex FP16 multiplies are #UD when the destination equals a source
        # (SDM VFCMADDCPH/VFCMULCPH/...: "#UD if dest == src"); LLVM does not check.
        if mn in CPLX:
            r = _regs(ltext)
            if r and r[0] in r[1:]:
                return 'cplx-dst'
        # Gathers are #UD when the destination is also the VSIB index (SDM VPGATHERDD/
        # VGATHERDPS...: "if any pair of the index, mask, or destination registers are the
        # same, this instruction results a #UD fault"); LLVM does not check.
        if 'gather' in mn:
            r = _regs(ltext)
            if len(r) >= 2 and r[0] == r[1]:
                return 'gather-dst-index'
        # EVEX.R' set (inverted 0) while ModRM.reg names an opmask or a GPR: #UD without APX
        # (SDM Vol.2A 2.6.11.3, the #UD conditions of opmask/GPR operand fields; XED issue
        # #56 agrees). LLVM ignores it for opmasks and reads r16-r31 (APX EGPR) for GPRs.
        if rprime_hi and re.match(r'\S+\s+(k[0-7]|e?r\w+)\b', ltext):
            return 'rprime-k-gpr'
    elif kind == 'hvemu-only':
        # LLVM 19 rejects W1 for forms the SDM marks W-ignored: VPSRLW/VPSRAW/VPSLLW
        # (EVEX.*.66.0F.WIG D1/E1/F1), VPALIGNR (EVEX.*.66.0F3A.WIG 0F),
        # VMOVW (EVEX.128.66.MAP5.WIG 6E/7E).
        if hmn in WIG and enc[2] & 0x80:
            return 'llvm-wig'
        # LLVM 19 rejects L'L != 0 on FP16 scalar forms the SDM marks LLIG (VRNDSCALESH,
        # VFPCLASSSH, VSCALEFSH, VGETEXPSH, VF[C]MADDCSH, ...: EVEX.LLIG).
        if hmn.endswith('sh') and ll != 0:
            return 'llvm-lig'
        # LLVM reads EVEX.B as a fourth register bit of an opmask in ModRM.rm and rejects
        # k8-k15; for an opmask in ModRM.rm EVEX.B is ignored (SDM Vol.2A 2.6.11.3, the
        # opmask #UD-condition table; XED issue #56).
        if reg and not enc[1] & 0x20 and re.search(r', k[0-7]$', htext):
            return 'llvm-k-rm-b'
    return None


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    verbose = '-v' in sys.argv[2:]
    allc = list(cases())
    inp = ''.join(c[-1].hex() + '\n' for c in allc)
    out = subprocess.run([os.path.join(build, 'hvemu'), 'decode', '--batch', '--no-apx'],
                         input=inp, capture_output=True, text=True, check=True).stdout
    hv = out.split('\n')
    d = llvm_disasm.Disasm()
    lib, ctx, buf = d.lib, d.ctx[64], d.buf
    classes = collections.defaultdict(list)
    excused = collections.Counter()
    exclasses = collections.defaultdict(collections.Counter)
    for i, c in enumerate(allc):
        mp, op, pp, w, ll, b, z, aaa, modrm, enc = c
        ln = lib.LLVMDisasmInstruction(ctx, enc, 15, 0, buf, 512)
        f = hv[i].split('\t', 1)
        hl = 0 if f[0] == 'invalid' else int(f[0])
        if hl == ln:
            continue
        kind = 'llvm-only' if hl == 0 else 'hvemu-only' if ln == 0 else 'length'
        txt = buf.value.decode(errors='replace').strip() if ln else ''
        why = excuse(kind, enc, ll, b, z, aaa, modrm >> 6 == 3, txt, f[1] if hl else '')
        if why:
            excused[why] += 1
            exclasses[why][(mp, op, pp, w, kind)] += 1
            continue
        classes[(mp, op, pp, w, kind)].append((enc.hex(), hl, ln, f[1] if hl == 0 else f[1],
                                                txt, ll, b, z, aaa, modrm >> 6 == 3))
    bad = 0
    for k in sorted(classes):
        v = classes[k]
        bad += len(v)
        mp, op, pp, w, kind = k
        print('map%d %02x %s W%d %s: %d' % (mp, op, PP[pp], w, kind, len(v)))
        for e in v[:int(verbose) * 1000 or 3]:
            print('   ', e)
    for why in sorted(excused):
        print('excused %-18s %7d strings in %4d classes (map, opcode, pp, W, kind)'
              % (why, excused[why], len(exclasses[why])))
        if verbose:
            for (mp, op, pp, w, kind), n in sorted(exclasses[why].items()):
                print('    map%d %02x %s W%d %s: %d' % (mp, op, PP[pp], w, kind, n))
    print('compared %d EVEX encodings with LLVM 19: %d excused, %d unexplained disagreements'
          ' in %d classes' % (len(allc), sum(excused.values()), bad, len(classes)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
