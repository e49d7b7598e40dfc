#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compile the opcode description files (src/decode/opcodes/*.txt) into C tables.

Each description line is one instruction form (see src/decode/opcodes/FORMAT.md):

    <space>.<map> <opcode>[+r] [conditions] | <mnemonic> | <operands> | <attributes>

The generator turns the conditions into a (mask, value) pair over the decoder's match key, so the
decoder finds an entry with one loop and one compare per candidate, with no per-opcode code.

Usage: gen_tables.py OUT_DIR FILE...      writes OUT_DIR/tables.gen.h and OUT_DIR/tables.gen.c
       gen_tables.py --check OUT_DIR FILE...  fails if the generated files are out of date
"""
import re
import sys
import os

# ---- the match key (must agree with src/decode/decode.c: build_key) -------------------------
KEY = {
    'reg':  (0, 3),   # ModRM.reg
    'modr': (3, 1),   # 1 = register form (mod == 3)
    'rm':   (4, 3),   # ModRM.rm
    'p':    (7, 2),   # mandatory prefix: 0 none, 1 66, 2 F3, 3 F2
    'w':    (9, 1),
    'l':    (10, 2),
    'm64':  (12, 1),  # 64-bit mode
    'nd':   (13, 1),  # EVEX.ND
    'nf':   (14, 1),  # EVEX.NF (APX map 4)
    'rex2': (15, 1),  # a REX2 prefix is present
    'b':    (16, 1),  # EVEX.b
    'osz16': (17, 1), # operand size is 16 (66 prefix, no REX.W)
    'vvvv0': (18, 1), # VEX/EVEX vvvv (with V4) encodes 0
    'zreg0': (19, 1),  # the +r register (opcode low bits with REX.B/B4) is register 0
    'asz67': (20, 1),  # a 67 (address-size) prefix is present
}

SPACES = {'lx': 0, 'vex': 1, 'evex': 2}
MAPS = {'0': 0, '0f': 1, '0f38': 2, '0f3a': 3, 'm4': 4, 'm5': 5, 'm6': 6, 'm7': 7}
PREFIX = {'np': 0, '66': 1, 'f3': 2, 'f2': 3}

# ---- operand specifications -------------------------------------------------------------
# location, class, size (names of the C enums below), fixed register or constant
LOC = ['NONE', 'REG', 'RM', 'RM_MEM', 'RM_REG', 'VVVV', 'OPC', 'FIXED', 'IMM', 'IMM_SX',
       'REL', 'MOFFS', 'FARPTR', 'IS4', 'STRSRC', 'STRDST', 'CONST1', 'XLAT', 'VSIB', 'SIBMEM',
       'IMPL_MEM']
CLS = ['NONE', 'GPR', 'SEG', 'CR', 'DR', 'ST', 'MM', 'VEC', 'K', 'TMM', 'BND', 'MEM', 'IMM']
SIZE = ['NONE', 'B', 'W', 'D', 'Q', 'O', 'Y32', 'Z64', 'T', 'V', 'Y', 'Z', 'VX', 'VH', 'VF',
        'VE', 'P', 'S', 'FX', 'ENV', 'FST', 'A', 'CR']

SPECS = {}


def spec(name, loc, cls, size, fixed=0):
    SPECS[name] = (loc, cls, size, fixed)


GSZ = {'b': 'B', 'w': 'W', 'd': 'D', 'q': 'Q', 'v': 'V', 'y': 'Y', 'z': 'Z'}
for c, s in GSZ.items():
    spec('E' + c, 'RM', 'GPR', s)
    spec('G' + c, 'REG', 'GPR', s)
    spec('R' + c, 'RM_REG', 'GPR', s)
    spec('B' + c, 'VVVV', 'GPR', s)
    spec('Z' + c, 'OPC', 'GPR', s)
    spec('X' + c, 'STRSRC', 'MEM', s)
    spec('Y' + c, 'STRDST', 'MEM', s)
    spec('O' + c, 'MOFFS', 'MEM', s)
for c, s in {'b': 'B', 'w': 'W', 'd': 'D', 'q': 'Q', 'o': 'O', 'v': 'V', 'y': 'Y', 't': 'T',
             'p': 'P', 's': 'S', 'fx': 'FX', 'env': 'ENV', 'fst': 'FST', 'xs': 'NONE',
             'Y': 'Y32', 'Z': 'Z64'}.items():
    spec('M' + c, 'RM_MEM', 'MEM', s)
spec('M', 'RM_MEM', 'MEM', 'NONE')
# vector operands: V reg field, H vvvv, W rm (reg or memory), U rm register, M rm memory,
# L imm8[7:4]; width x = by VEX/EVEX.L, X/Y/Z fixed 128/256/512, h/f/e = 1/2, 1/4, 1/8 of L,
# b/w/d/q = a scalar element of 1/2/4/8 bytes in an XMM register or memory.
VW = {'x': 'VX', 'X': 'O', 'Y': 'Y32', 'Z': 'Z64', 'h': 'VH', 'f': 'VF', 'e': 'VE',
      'b': 'B', 'w': 'W', 'd': 'D', 'q': 'Q'}
for c, s in VW.items():
    spec('V' + c, 'REG', 'VEC', s)
    spec('H' + c, 'VVVV', 'VEC', s)
    spec('W' + c, 'RM', 'VEC', s)
    spec('U' + c, 'RM_REG', 'VEC', s)
    spec('L' + c, 'IS4', 'VEC', s)
    if c not in 'bwdq':
        spec('M' + c, 'RM_MEM', 'MEM', s)  # Mx, MX, MY, MZ, Mh, Mf, Me
# VSIB memory: index register width (x by L, X/Y/Z fixed, h half of L)
for c, s in {'x': 'VX', 'X': 'O', 'Y': 'Y32', 'Z': 'Z64', 'h': 'VH'}.items():
    spec('Mi' + c, 'VSIB', 'MEM', s)
spec('Msib', 'SIBMEM', 'MEM', 'NONE')
# a GPR of the address size (MOVDIR64B, ENQCMD, UMONITOR: the register holds an address)
spec('Ga', 'REG', 'GPR', 'A')
spec('Ra', 'RM_REG', 'GPR', 'A')
# opmask registers
spec('Kr', 'REG', 'K', 'Q')
spec('Kv', 'VVVV', 'K', 'Q')
spec('Ku', 'RM_REG', 'K', 'Q')
for c, s in {'b': 'B', 'w': 'W', 'd': 'D', 'q': 'Q'}.items():
    spec('Km' + c, 'RM', 'K', s)
# MMX
spec('Pq', 'REG', 'MM', 'Q')
spec('Pd', 'REG', 'MM', 'D')
spec('Qq', 'RM', 'MM', 'Q')
spec('Qd', 'RM', 'MM', 'D')
spec('Nq', 'RM_REG', 'MM', 'Q')
# AMX tiles and MPX bounds
spec('Tr', 'REG', 'TMM', 'NONE')
spec('Tv', 'VVVV', 'TMM', 'NONE')
spec('Tu', 'RM_REG', 'TMM', 'NONE')
spec('BNr', 'REG', 'BND', 'O')
spec('BNm', 'RM', 'BND', 'O')
# x87
spec('ST0', 'FIXED', 'ST', 'T', 0)
spec('STi', 'RM_REG', 'ST', 'T')
# segment, control and debug registers
spec('Sw', 'REG', 'SEG', 'W')
spec('Cd', 'REG', 'CR', 'CR')
spec('Dd', 'REG', 'DR', 'CR')
for i, s in enumerate(['ES', 'CS', 'SS', 'DS', 'FS', 'GS']):
    spec(s, 'FIXED', 'SEG', 'W', i)
# fixed GPRs
for i, r in enumerate(['AL', 'CL', 'DL', 'BL']):
    spec(r, 'FIXED', 'GPR', 'B', i)
for i, r in enumerate(['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI']):
    spec(r, 'FIXED', 'GPR', 'W', i)
    spec('E' + r, 'FIXED', 'GPR', 'D', i)
    spec('R' + r, 'FIXED', 'GPR', 'Q', i)
    spec('r' + r, 'FIXED', 'GPR', 'V', i)
    spec('e' + r, 'FIXED', 'GPR', 'Z', i)  # 16 or 32 bits (IN/OUT)
    spec('y' + r, 'FIXED', 'GPR', 'Y', i)  # 32 or 64 bits
spec('XMM0', 'FIXED', 'VEC', 'O', 0)
# immediates and branch targets
spec('Ib', 'IMM', 'IMM', 'B')
spec('Ibs', 'IMM_SX', 'IMM', 'B')  # imm8 sign-extended to the operand size
spec('Iw', 'IMM', 'IMM', 'W')
spec('Id', 'IMM', 'IMM', 'D')
spec('Iq', 'IMM', 'IMM', 'Q')
spec('Iz', 'IMM', 'IMM', 'Z')  # 2 or 4 bytes, sign-extended to a 64-bit operand
spec('Iv', 'IMM', 'IMM', 'V')  # 2, 4 or 8 bytes
spec('I1', 'CONST1', 'IMM', 'B', 1)
spec('Jb', 'REL', 'IMM', 'B')
spec('Jz', 'REL', 'IMM', 'Z')
spec('Ap', 'FARPTR', 'IMM', 'P')
spec('Mxlat', 'XLAT', 'MEM', 'B')

# ---- attributes ---------------------------------------------------------------------------
ATTRS = [
    'lock',     # LOCK allowed (with a memory destination)
    'xlock',    # always locked when it has a memory operand (XCHG)
    'rep',      # F3 is REP (string instructions)
    'repcc',    # F3/F2 are REPE/REPNE (CMPS, SCAS)
    'd64',      # 64-bit mode: operand size defaults to 64 (66 gives 16)
    'f64',      # 64-bit mode: operand size is 64 whatever the prefixes (near branches)
    'byteop',   # operand size is 8 bits
    'modreg',   # ModRM is always a register form whatever mod says (MOV CR/DR)
    'norex2',   # REX2 is #UD with this opcode
    'novvvv',   # VEX/EVEX vvvv (and V4) must be 1111: else #UD
    'mask',     # EVEX: opmask {k} allowed
    'maskz',    # EVEX: zeroing {z} allowed
    'nok0',     # EVEX: opmask k0 is #UD (gathers/scatters)
    'er',       # EVEX: embedded rounding in the register form
    'sae',      # EVEX: suppress-all-exceptions in the register form
    'bcst',     # EVEX: embedded broadcast in the memory form
    'mov',      # first operand is written only
    'rd',       # first operand is read only (CMP, TEST, PUSH, branches)
    'nowrite',  # no operand is written
    'xop2',     # first two operands are both read and written (XCHG, XADD)
    'ign66',    # 66 does not change the operand size
    'w64',      # operand size is 64 in 64-bit mode when REX.W, else 32 (VEX/EVEX GPR ops)
    'rexw_ign', # REX.W ignored
    'evex_nol', # EVEX.L'L ignored (scalar)
    'apx_ppx',  # APX: PPX hint applies
    'sccdfv',   # APX CCMP/CTEST: SCC and DFV fields
    'vsib',     # VSIB addressing
    'nopfx66',  # #UD with a 66 prefix (JMPABS)
    'nopfxrep', # #UD with F2/F3 prefix
    'osz66',    # EVEX (APX map 4): pp=66 selects a 16-bit operand size
    'distinct', # #UD when two register operands of one kind (vector with VSIB index, tile, GPR) are the same
    'norsp',    # #UD when a GPR register operand is RSP (PUSH2/POP2)
    'dstdiff',  # the destination register must differ from every source register (else #UD)
    'vl',       # EVEX: at vector length 128/256 (L'L < 2) AVX512VL is needed as well
]
# Lower-case names of enum hvemu_feature (include/hvemu.h), HVEMU_FEAT_ stripped.
FEATURES = ['base', 'cmov', 'cx8', 'cx16', 'movbe', 'popcnt', 'lzcnt', 'bmi1', 'bmi2', 'adx',
            'crc32', 'rdrand', 'rdseed', 'rdtscp', 'rdpid', 'fsgsbase', 'clflushopt', 'clwb',
            'mmx', 'sse', 'sse2', 'sse3', 'ssse3', 'sse41', 'sse42', 'aes', 'pclmul', 'sha',
            'gfni', 'avx', 'avx2', 'fma', 'f16c', 'avx512', 'amx', 'xsave', 'system',
            'movdiri', 'serialize', 'waitpkg', 'other', 'apx',
            'avx512bw', 'avx512dq', 'avx512cd', 'avx512vl', 'avx512ifma', 'avx512vbmi',
            'avx512vbmi2', 'avx512vnni', 'avx512bitalg', 'avx512vpopcntdq', 'avx512bf16',
            'avx512fp16', 'avx512vp2intersect', 'avx512er', 'avx512pf', 'avx512_4vnniw',
            'avx512_4fmaps', 'vaes', 'vpclmulqdq',
            'avx_vnni', 'avx_ifma', 'avx_vnni_int8', 'avx_vnni_int16', 'avx_ne_convert',
            'sha512', 'sm3', 'sm4', 'cmpccxadd', 'amx_int8', 'amx_bf16', 'amx_fp16',
            'amx_complex',
            'vmx', 'smx', 'svm', 'skinit', 'sgx', 'enclv', 'monitor', 'monitorx', 'smap',
            'cet_ss', 'cet_ibt', 'pconfig', 'wrmsrns', 'msrlist', 'user_msr', 'msr_imm',
            'invpcid', 'invlpgb', 'rdpru', 'mcommit', 'clzero', 'sev_snp', 'rmpquery', 'enqcmd',
            'hreset', 'rtm', 'hle', 'tsxldtrk', 'uintr', 'pku', 'prefetchi', 'cldemote', 'sse4a',
            'ptwrite', 'kl', 'aeskle', 'wide_kl', 'rao_int', 'movdir64b', 'xsaveopt', 'xsavec',
            'xsaves', 'lahf_lm', 'syscall', 'sep', 'fxsr', 'clfsh', 'tsc', 'msr', 'wbnoinvd',
            'prefetchwt1']
TUPLES = ['none', 'fv', 'hv', 'fvm', 'hvm', 'qvm', 'ovm', 't1s', 't1f', 't2', 't4', 't8',
          'm128', 'dup', 'b2', 't1s8', 't1s16']


class Entry:
    pass


def fail(where, msg):
    sys.exit('%s: %s' % (where, msg))


def parse_line(where, line):
    parts = [p.strip() for p in line.split('|')]
    if len(parts) < 3 or len(parts) > 4:
        fail(where, 'expected "encoding conds | mnemonic | operands [| attributes]"')
    head = parts[0].split()
    e = Entry()
    e.where = where
    sp, _, mp = head[0].partition('.')
    if sp not in SPACES or mp not in MAPS:
        fail(where, 'bad space.map %r' % head[0])
    e.space, e.map = SPACES[sp], MAPS[mp]
    op = head[1].lower()
    e.plus_r = op.endswith('+r')
    if e.plus_r:
        op = op[:-2]
    if not re.fullmatch(r'[0-9a-f]{2}', op):
        fail(where, 'bad opcode %r' % head[1])
    e.opcode = int(op, 16)
    e.mask = 0
    e.val = 0
    e.modrm = False
    e.fields = {}

    def setk(field, v):
        pos, width = KEY[field]
        m = ((1 << width) - 1) << pos
        if v >> width:
            fail(where, 'value %d too wide for %s' % (v, field))
        e.mask |= m
        e.val = (e.val & ~m) | (v << pos)
        e.fields[field] = v

    for c in head[2:]:
        c = c.lower()
        if c == '/r':
            e.modrm = True
        elif re.fullmatch(r'/[0-7]', c):
            e.modrm = True
            setk('reg', int(c[1]))
        elif c in ('mod=m', 'mem'):
            e.modrm = True
            setk('modr', 0)
        elif c in ('mod=r', 'reg'):
            e.modrm = True
            setk('modr', 1)
        elif re.fullmatch(r'rm=[0-7]', c):
            e.modrm = True
            setk('rm', int(c[3]))
        elif c.startswith('p='):
            if c[2:] not in PREFIX:
                fail(where, 'bad prefix %r' % c)
            setk('p', PREFIX[c[2:]])
        elif c.startswith('mode='):
            if c[5:] not in ('64', 'no64'):
                fail(where, 'bad mode %r' % c)
            setk('m64', 1 if c[5:] == '64' else 0)
        elif c.startswith('l='):
            v = c[2:]
            setk('l', {'0': 0, '1': 1, '2': 2, '128': 0, '256': 1, '512': 2}[v])
        elif c == 'l=ig':
            pass
        else:
            m = re.fullmatch(r'(w|nd|nf|rex2|b|osz16|vvvv0|zreg0|asz67)=([01])', c)
            if not m:
                fail(where, 'unknown condition %r' % c)
            setk(m.group(1), int(m.group(2)))
    if e.space != 0:
        e.modrm = e.modrm or not (e.space == 1 and e.opcode == 0x77)
    e.mnemonics = parts[1].split('/')
    if not all(re.fullmatch(r'[a-z][a-z0-9_.]*', m) for m in e.mnemonics):
        fail(where, 'bad mnemonic %r' % parts[1])
    ops = [] if parts[2] in ('', '-') else parts[2].split(',')
    if len(ops) > 4:
        fail(where, 'at most 4 operands')
    for o in ops:
        if o not in SPECS:
            fail(where, 'unknown operand %r' % o)
        loc = SPECS[o][0]
        if loc in ('REG', 'RM', 'RM_MEM', 'RM_REG', 'VSIB', 'SIBMEM'):
            e.modrm = True
        if loc in ('RM_MEM', 'VSIB', 'SIBMEM'):
            if e.fields.get('modr', 0) != 0:
                fail(where, 'memory operand in a register form')
            setk('modr', 0)
        if loc == 'RM_REG' and o != 'STi':
            pass
    e.ops = ops
    e.attrs = set()
    e.feature = 'base'
    e.feature2 = 'base'
    e.tuple = 'none'
    e.mnsel = ''
    for a in (parts[3].split() if len(parts) == 4 else []):
        if a.startswith('feat='):
            # feat=A or feat=A+B: every named feature is needed (an AND)
            fs = a[5:].split('+')
            if len(fs) > 2 or not all(f in FEATURES for f in fs):
                fail(where, 'unknown feature or more than two in %r' % a)
            e.feature = fs[0]
            e.feature2 = fs[1] if len(fs) > 1 else 'base'
        elif a.startswith('t='):
            if a[2:] not in TUPLES:
                fail(where, 'unknown tuple %r' % a)
            e.tuple = a[2:]
        elif a.startswith('mn='):
            e.mnsel = a[3:]
        elif a in ATTRS:
            e.attrs.add(a)
        else:
            fail(where, 'unknown attribute %r' % a)
    if 'vl' in e.attrs and e.space != SPACES['evex']:
        fail(where, '`vl` is for EVEX lines only')
    if len(e.mnemonics) > 1 and e.mnsel not in ('osz', 'asz', 'w'):
        fail(where, 'several mnemonics need mn=osz, mn=asz or mn=w')
    if e.mnsel == 'osz' and len(e.mnemonics) != 3:
        fail(where, 'mn=osz needs three mnemonics (16/32/64)')
    if e.mnsel == 'asz' and len(e.mnemonics) != 3:
        fail(where, 'mn=asz needs three mnemonics (16/32/64)')
    if e.mnsel == 'w' and len(e.mnemonics) != 2:
        fail(where, 'mn=w needs two mnemonics (W0/W1)')
    if e.space == 0 and e.map == 0 and 0xd8 <= e.opcode <= 0xdf:
        e.modrm = True
    return e


def main():
    args = sys.argv[1:]
    check = False
    if args and args[0] == '--check':
        check = True
        args = args[1:]
    outdir, files = args[0], args[1:]
    if len(ATTRS) > 64:
        sys.exit('more than 64 attributes')
    entries = []
    for fn in files:
        with open(fn) as f:
            for n, line in enumerate(f, 1):
                line = line.split('#', 1)[0].strip()
                if line:
                    entries.append(parse_line('%s:%d' % (fn, n), line))

    # mnemonics: sorted, unique; variants of one entry get consecutive ids
    names = ['(bad)']
    seen = {}
    groups = []
    for e in entries:
        key = tuple(e.mnemonics)
        if key not in seen:
            seen[key] = None
            groups.append(key)
    # single names first in sorted order, then variant groups appended contiguously
    idx = {}
    singles = sorted({m for g in groups if len(g) == 1 for m in g} - {'invalid'})
    idx[('invalid',)] = 0
    for m in singles:
        idx[(m,)] = len(names)
        names.append(m)
    for g in groups:
        if len(g) > 1 and g not in idx:
            idx[g] = len(names)
            names.extend(g)

    # index: space x map x opcode -> (first, count, has_modrm)
    slots = {}
    for e in entries:
        ops = [e.opcode + i for i in range(8)] if e.plus_r else [e.opcode]
        for o in ops:
            k = (e.space, e.map, o)
            slots.setdefault(k, []).append(e)
    flat = []
    index = {}
    for k in sorted(slots):
        lst = slots[k]
        mods = {x.modrm for x in lst}
        if len(mods) != 1:
            fail(lst[0].where, 'entries of opcode %02x disagree on having ModRM: %s' %
                 (k[2], ', '.join(x.where for x in lst)))
        if len(lst) > 255:
            fail(lst[0].where, 'too many entries for one opcode')
        index[k] = (len(flat), len(lst), 1 if lst[0].modrm else 0)
        flat.extend(lst)
    if len(flat) > 65535:
        sys.exit('too many entries')

    spec_names = ['none'] + sorted(SPECS)
    spec_id = {n: i for i, n in enumerate(spec_names)}

    h = []
    h.append('/* Generated by tools/gen/gen_tables.py from the files of src/decode/opcodes: do not edit. */')
    h.append('#ifndef HVEMU_TABLES_GEN_H\n#define HVEMU_TABLES_GEN_H\n#include <stdint.h>')
    for field, (pos, width) in KEY.items():
        h.append('#define HV_KEY_%s_SHIFT %d' % (field.upper(), pos))
    h.append('enum hv_opspec_loc { %s };' % ', '.join('HV_LOC_' + x for x in LOC))
    h.append('enum hv_opspec_cls { %s };' % ', '.join('HV_CLS_' + x for x in CLS))
    h.append('enum hv_opspec_size { %s };' % ', '.join('HV_SZ_' + x for x in SIZE))
    h.append('enum hv_tuple { %s };' % ', '.join('HV_TUPLE_' + x.upper() for x in TUPLES))
    for i, a in enumerate(ATTRS):
        h.append('#define HV_ATTR_%s (1ull << %d)' % (a.upper(), i))
    h.append('#define HV_MNSEL_NONE 0\n#define HV_MNSEL_OSZ 1\n#define HV_MNSEL_ASZ 2\n#define HV_MNSEL_W 3')
    h.append('enum hv_mnemonic {')
    used = set()
    for i, n in enumerate(names):
        en = re.sub(r'[^A-Za-z0-9_]', '_', n.upper()) if i else 'INVALID'
        base, k = en, 2
        while en in used:
            en = '%s_%d' % (base, k)
            k += 1
        used.add(en)
        h.append('    HV_MN_%s = %d,' % (en, i))
    h.append('    HV_MN_COUNT = %d\n};' % len(names))
    h.append('enum hv_opspec_id {')
    for i, n in enumerate(spec_names):
        h.append('    HV_OP_%s = %d,' % (n, i))
    h.append('    HV_OP_COUNT = %d\n};' % len(spec_names))
    h.append('''struct hv_opspec { uint8_t loc, cls, size, fixed; };
struct hv_entry {
    uint32_t mask, val;   /* match: (key & mask) == val */
    uint64_t attrs;       /* HV_ATTR_* */
    uint16_t mnemonic;    /* first of the variants when mnsel != 0 */
    uint8_t ops[4];       /* enum hv_opspec_id, 0 = none */
    uint8_t nops;
    uint8_t feature;      /* enum hvemu_feature */
    uint8_t feature2;     /* a second feature also needed (HVEMU_FEAT_BASE: none) */
    uint8_t tuple;        /* enum hv_tuple (EVEX disp8*N) */
    uint8_t mnsel;        /* HV_MNSEL_* */
};
struct hv_slot { uint16_t first; uint8_t count; uint8_t has_modrm; };
extern const struct hv_opspec hv_opspecs[HV_OP_COUNT];
extern const struct hv_entry hv_entries[];
extern const struct hv_slot hv_slots[3][8][256];
extern const char *const hv_mnemonic_names[HV_MN_COUNT];
extern const char *const hv_opspec_names[HV_OP_COUNT];
#endif''')

    c = []
    c.append('/* Generated by tools/gen/gen_tables.py from the files of src/decode/opcodes: do not edit. */')
    c.append('#include "tables.gen.h"\n#include "hvemu.h"')
    c.append('const struct hv_opspec hv_opspecs[HV_OP_COUNT] = {\n    {0, 0, 0, 0},')
    for n in spec_names[1:]:
        l, cl, s, fx = SPECS[n]
        c.append('    {HV_LOC_%s, HV_CLS_%s, HV_SZ_%s, %d}, /* %s */' % (l, cl, s, fx, n))
    c.append('};')
    c.append('const char *const hv_opspec_names[HV_OP_COUNT] = {\n    "none",')
    c.extend('    "%s",' % n for n in spec_names[1:])
    c.append('};')
    c.append('const char *const hv_mnemonic_names[HV_MN_COUNT] = {')
    c.extend('    "%s",' % n for n in names)
    c.append('};')
    c.append('const struct hv_entry hv_entries[] = {')
    for e in flat:
        attrs = ' | '.join('HV_ATTR_' + a.upper() for a in sorted(e.attrs)) or '0'
        ops = ', '.join('HV_OP_%s' % o for o in e.ops) or '0'
        mn = idx[tuple(e.mnemonics)]
        sel = {'': 'NONE', 'osz': 'OSZ', 'asz': 'ASZ', 'w': 'W'}[e.mnsel]
        c.append('    {0x%05x, 0x%05x, %s, %d, {%s}, %d, HVEMU_FEAT_%s, HVEMU_FEAT_%s, HV_TUPLE_%s, HV_MNSEL_%s}, /* %s %s */'
                 % (e.mask, e.val, attrs, mn, ops, len(e.ops), e.feature.upper(), e.feature2.upper(),
                    e.tuple.upper(),
                    sel, '/'.join(e.mnemonics), e.where.split('/')[-1]))
    if not flat:
        c.append('    {0, 0, 0, 0, {0}, 0, 0, 0, 0, 0}')
    c.append('};')
    c.append('const struct hv_slot hv_slots[3][8][256] = {')
    for (sp, mp, op), (first, cnt, modrm) in sorted(index.items()):
        c.append('    [%d][%d][0x%02x] = {%d, %d, %d},' % (sp, mp, op, first, cnt, modrm))
    c.append('};')

    outs = {os.path.join(outdir, 'tables.gen.h'): '\n'.join(h) + '\n',
            os.path.join(outdir, 'tables.gen.c'): '\n'.join(c) + '\n'}
    stale = []
    for fn, text in outs.items():
        old = open(fn).read() if os.path.exists(fn) else None
        if old != text:
            if check:
                stale.append(fn)
            else:
                with open(fn, 'w') as f:
                    f.write(text)
    if stale:
        sys.exit('out of date (run make tables): ' + ' '.join(stale))


if __name__ == '__main__':
    main()
