#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build tests/apx/corpus.txt: APX encodings assembled by llvm-mc-19, with the operands that
llvm's Intel text names, in a form tests/apx/apx_corpus.c compares with hvemu_decode().

Every instruction of the APX promoted set is written in every operand size and form (REX2
legacy, {evex}, {nf}, NDD, ZU, CCMP/CTEST with each condition, PUSH2/POP2, PPX, JMPABS, EVEX
BMI1/BMI2 and KMOV) with EGPRs in each register position and in memory base and index. llvm-mc
picks the encoding; only REX2 (D5) and EVEX (62) encodings are kept, legacy/VEX ones belong to
other tests.

Usage: gen_corpus.py [OUT]   (default tests/apx/corpus.txt; needs llvm-mc-19)

Corpus line:  HEXBYTES | mnemonic | nf=N scc=N dfv=N | op ; op ; ...  | llvm text
  op:  R:cls:idx            cls b h w d q k x y z t
       M:size:base:index:scale:disp   base/index "cls:idx" style "q16", "rip", "-"; size 0 = none
       I:value              as llvm prints it (decimal, maybe negative)
"""
import re
import subprocess
import sys

LLVM = 'llvm-mc-19'
MATTR = ('+egpr,+ndd,+ppx,+push2pop2,+ccmp,+nf,+cf,+zu,+bmi,+bmi2,+movbe,+crc32,+adx,+popcnt,'
         '+lzcnt,+invpcid,+enqcmd,+movdiri,+movdir64b,+shstk,+avx512bw,+raoint,+usermsr,+cmpccxadd,'
         '+amx-tile')

Q = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] + ['r%d' % i for i in range(8, 32)]
D = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] + ['r%dd' % i for i in range(8, 32)]
W = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'] + ['r%dw' % i for i in range(8, 32)]
B = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'] + ['r%db' % i for i in range(8, 32)]
REGS = {8: B, 16: W, 32: D, 64: Q}
PTR = {8: 'byte', 16: 'word', 32: 'dword', 64: 'qword', 128: 'xmmword', 512: 'zmmword'}

# register values tried in each position: EGPRs with every pattern of bits 3..0 that matters
EGPR = [16, 19, 20, 21, 24, 27, 28, 31]
FILL = [1, 9, 2, 10, 3, 11]          # the other positions: legacy and REX registers
MEMS = ['[{b}]', '[{b} + 8]', '[{b} + 0x12345]', '[{b} + 4*{i} + 16]', '[{b} + 8*{i} - 128]',
        '[{b} + {i}]', '[{b} + 2*{i} + 0x1000]', '[8*{i} + 16]']
MEM_REGS = [(16, 17), (20, 28), (21, 29), (13, 20), (24, 12), (31, 4 + 16), (5, 30), (28, 23), (4, 16)]
CCS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g']
SCCS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 't', 'f', 'l', 'ge', 'le', 'g']


def mems(size, extra_addr32=True):
    """memory operands of `size` bits (0: no size keyword) with EGPR base/index"""
    out = []
    pfx = (PTR[size] + ' ptr ') if size else ''
    for k, (b, i) in enumerate(MEM_REGS):
        m = MEMS[k % len(MEMS)]
        if i == 4:
            i = 20
        out.append(pfx + m.format(b=Q[b], i=Q[i]))
    out.append(pfx + '[rip + 0x100]')
    if extra_addr32:
        out.append(pfx + '[r16d + 4*r25d + 8]')
    return out


def imm(size, wide):
    if size == 8:
        return '0x7b' if wide else '-5'
    if size == 16:
        return '0x1234' if wide else '0x12'
    return '0x12345678' if wide else '-0x33'


def esc(fmt):
    """double the braces of {evex}, {nf}, {dfv=..}; keep the {0} {1} {m} slots"""
    return re.sub(r'\{([^}]*)\}', lambda m: m.group(0) if re.fullmatch(r'\d|m', m.group(1))
                  else '{{' + m.group(1) + '}}', fmt)


class Gen:
    def __init__(self):
        self.lines = []

    def emit(self, s):
        self.lines.append(s)

    def form(self, fmt, slots):
        """fmt with {0} {1}... register slots of the given sizes (bits); EGPRs in turn in
        each slot, others filled with legacy/REX registers."""
        n = len(slots)
        fmt = esc(fmt)
        if n == 0:
            self.emit(fmt.format())
            return
        for pos in range(n):
            for k, e in enumerate(EGPR):
                regs = []
                for j, sz in enumerate(slots):
                    r = e if j == pos else FILL[(k + j) % len(FILL)]
                    regs.append(REGS[sz][r])
                self.emit(fmt.format(*regs))
        # all EGPRs, all distinct
        self.emit(fmt.format(*[REGS[sz][16 + 5 * j + 1] for j, sz in enumerate(slots)]))

    def memform(self, fmt, slots, size, addr32=True):
        """fmt has {m} for a memory operand and {0}.. register slots"""
        raw = fmt
        fmt = esc(fmt)
        for k, m in enumerate(mems(size, addr32)):
            regs = [REGS[sz][FILL[(k + j) % len(FILL)]] for j, sz in enumerate(slots)]
            self.emit(fmt.format(*regs, m=m))
        self.form(raw.replace('{m}', mems(size)[0]), slots)


def build():
    g = Gen()
    F = g.form
    M = g.memform
    alu = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor']
    nf_ok = {'add', 'or', 'and', 'sub', 'xor', 'neg', 'inc', 'dec', 'rol', 'ror', 'shl', 'shr',
             'sar', 'shld', 'shrd', 'imul', 'popcnt', 'lzcnt', 'tzcnt', 'mul', 'div', 'idiv',
             'andn', 'bextr', 'blsi', 'blsmsk', 'blsr', 'bzhi'}
    for op in alu:
        pf = ['', '{evex} '] + (['{nf} '] if op in nf_ok else [])
        for s in (8, 16, 32, 64):
            for p in pf:
                F(p + op + ' {0}, {1}', [s, s])
                M(p + op + ' {m}, {0}', [s], s)
                M(p + op + ' {0}, {m}', [s], s)
                for wide in (0, 1):
                    F(p + op + ' {0}, ' + imm(s, wide), [s])
                    M(p + op + ' {m}, ' + imm(s, wide), [], s)
                # NDD
                if p != '{evex} ':
                    F(p + op + ' {0}, {1}, {2}', [s, s, s])
                    M(p + op + ' {0}, {m}, {1}', [s, s], s)
                    M(p + op + ' {0}, {1}, {m}', [s, s], s)
                    for wide in (0, 1):
                        F(p + op + ' {0}, {1}, ' + imm(s, wide), [s, s])
                        M(p + op + ' {0}, {m}, ' + imm(s, wide), [s], s)
    for op in ['inc', 'dec', 'neg', 'not']:
        pf = ['', '{evex} '] + (['{nf} '] if op in nf_ok else [])
        for s in (8, 16, 32, 64):
            for p in pf:
                F(p + op + ' {0}', [s])
                M(p + op + ' {m}', [], s)
                if p != '{evex} ':
                    F(p + op + ' {0}, {1}', [s, s])
                    M(p + op + ' {0}, {m}', [s], s)
    for op in ['mul', 'imul', 'div', 'idiv']:
        for s in (8, 16, 32, 64):
            for p in ['{evex} ', '{nf} ']:
                F(p + op + ' {0}', [s])
                M(p + op + ' {m}', [], s)
    for op in ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar']:
        pf = ['', '{evex} '] + (['{nf} '] if op in nf_ok else [])
        for s in (8, 16, 32, 64):
            for p in pf:
                for cnt in ('1', 'cl', '5'):
                    F(p + op + ' {0}, ' + cnt, [s])
                    M(p + op + ' {m}, ' + cnt, [], s)
                    if p != '{evex} ':
                        F(p + op + ' {0}, {1}, ' + cnt, [s, s])
                        M(p + op + ' {0}, {m}, ' + cnt, [s], s)
    for op in ['shld', 'shrd']:
        for s in (16, 32, 64):
            for p in ['', '{evex} ', '{nf} ']:
                for cnt in ('cl', '7'):
                    F(p + op + ' {0}, {1}, ' + cnt, [s, s])
                    M(p + op + ' {m}, {0}, ' + cnt, [s], s)
                    if p != '{evex} ':
                        F(p + op + ' {0}, {1}, {2}, ' + cnt, [s, s, s])
                        M(p + op + ' {0}, {m}, {1}, ' + cnt, [s, s], s)
    for s in (16, 32, 64):
        for p in ['', '{evex} ', '{nf} ']:
            F(p + 'imul {0}, {1}', [s, s])
            M(p + 'imul {0}, {m}', [s], s)
            for wide in (0, 1):
                F(p + 'imul {0}, {1}, ' + imm(s, wide), [s, s])
                M(p + 'imul {0}, {m}, ' + imm(s, wide), [s], s)
            if p != '{evex} ':
                F(p + 'imul {0}, {1}, {2}', [s, s, s])
                M(p + 'imul {0}, {1}, {m}', [s, s], s)
        for wide in (0, 1):
            F('imulzu {0}, {1}, ' + imm(s, wide), [s, s])
            M('imulzu {0}, {m}, ' + imm(s, wide), [s], s)
        for op in ['popcnt', 'lzcnt', 'tzcnt']:
            for p in ['', '{evex} ', '{nf} ']:
                F(p + op + ' {0}, {1}', [s, s])
                M(p + op + ' {0}, {m}', [s], s)
        for cc in CCS:
            F('cmov' + cc + ' {0}, {1}', [s, s])
            M('cmov' + cc + ' {0}, {m}', [s], s)
            F('cmov' + cc + ' {0}, {1}, {2}', [s, s, s])
            M('cmov' + cc + ' {0}, {1}, {m}', [s, s], s)
            F('cfcmov' + cc + ' {0}, {1}', [s, s])
            M('cfcmov' + cc + ' {0}, {m}', [s], s)
            M('cfcmov' + cc + ' {m}, {0}', [s], s)
            F('cfcmov' + cc + ' {0}, {1}, {2}', [s, s, s])
            M('cfcmov' + cc + ' {0}, {1}, {m}', [s, s], s)
        F('movbe {0}, {1}', [s, s])
        M('movbe {0}, {m}', [s], s)
        M('movbe {m}, {0}', [s], s)
    for cc in CCS:
        F('set' + cc + ' {0}', [8])
        M('set' + cc + ' {m}', [], 8)
        F('{evex} set' + cc + ' {0}', [8])
        M('{evex} set' + cc + ' {m}', [], 8)
        F('setzu' + cc + ' {0}', [8])
        M('setzu' + cc + ' {m}', [], 8)
    for s in (32, 64):
        for op in ['adcx', 'adox']:
            F(op + ' {0}, {1}', [s, s])
            M(op + ' {0}, {m}', [s], s)
            F(op + ' {0}, {1}, {2}', [s, s, s])
            M(op + ' {0}, {1}, {m}', [s, s], s)
        F('crc32 {0}, {1}', [s, 8])
        M('crc32 {0}, {m}', [s], 8)
        F('crc32 {0}, {1}', [s, s])
        M('crc32 {0}, {m}', [s], s)
        M('movdiri {m}, {0}', [s], s)
        M('aadd {m}, {0}', [s], s)
        M('aand {m}, {0}', [s], s)
        M('aor {m}, {0}', [s], s)
        M('axor {m}, {0}', [s], s)
    for s in (16,):
        F('crc32 {0}, {1}', [32, s])
        M('crc32 {0}, {m}', [32], s)
    M('wrssd {m}, {0}', [32], 32)
    M('wrssq {m}, {0}', [64], 64)
    M('wrussd {m}, {0}', [32], 32)
    M('wrussq {m}, {0}', [64], 64)
    for op in ['invept', 'invvpid', 'invpcid']:
        M(op + ' {0}, {m}', [64], 128, addr32=False)
    for op in ['enqcmd', 'enqcmds', 'movdir64b']:
        M(op + ' {0}, {m}', [64], 512, addr32=False)
    for op in ['urdmsr', 'uwrmsr']:
        F(op + ' {0}, {1}', [64, 64])
    # CCMP / CTEST: every source condition, several default-flag sets
    dfvs = ['{dfv=}', '{dfv=of}', '{dfv=sf}', '{dfv=zf}', '{dfv=cf}', '{dfv=of,sf,zf,cf}',
            '{dfv=of,cf}']
    for k, scc in enumerate(SCCS):
        for s in (8, 16, 32, 64):
            d = dfvs[k % len(dfvs)]
            d2 = dfvs[(k + 3) % len(dfvs)]
            for op in ['ccmp', 'ctest']:
                F(op + scc + ' ' + d + ' {0}, {1}', [s, s])
                M(op + scc + ' ' + d2 + ' {m}, {0}', [s], s)
                for wide in (0, 1):
                    F(op + scc + ' ' + d + ' {0}, ' + imm(s, wide), [s])
                    M(op + scc + ' ' + d2 + ' {m}, ' + imm(s, wide), [], s)
            M('ccmp' + scc + ' ' + d + ' {0}, {m}', [s], s)
    # PUSH2/POP2 (no RSP, POP2 with two different registers), PUSHP/POPP, PUSH/POP +r, JMPABS
    for op in ['push2', 'push2p', 'pop2', 'pop2p']:
        for a in [16, 17, 0, 8, 31, 23, 5, 15]:
            for b in [18, 1, 9, 24, 30, 3]:
                if a != b:
                    g.emit('%s %s, %s' % (op, Q[a], Q[b]))
    for r in list(range(0, 32)):
        for op in ['pushp', 'popp', 'push', 'pop']:
            g.emit('%s %s' % (op, Q[r]))
    for v in ['0', '0x1234567890', '0xffffffffffffffff', '0x7fffffffffff']:
        g.emit('jmpabs ' + v)
    # other REX2 legacy-map-0 forms: +r registers, byte registers, memory
    for r in range(16, 32):
        g.emit('mov %s, 0x1122334455667788' % Q[r])
        g.emit('mov %s, 0x7f' % B[r])
        g.emit('mov %s, 0x12345678' % D[r])
        g.emit('xchg %s, rax' % Q[r])
        g.emit('xchg %s, ax' % W[r])
    for s in (8, 16, 32, 64):
        for op in ['mov', 'test', 'cmp', 'xchg']:
            F(op + ' {0}, {1}', [s, s])
            M(op + ' {m}, {0}', [s], s)
    for s in (16, 32, 64):
        M('lea {0}, {m}', [s], 0)
    F('add {0}, {1}', [8, 8])
    for x in ['spl', 'bpl', 'sil', 'dil']:
        g.emit('add %s, r17b' % x)
        g.emit('mov r30b, %s' % x)
    # EVEX BMI1/BMI2 (EGPR needed to get EVEX, or {evex})
    for s in (32, 64):
        for p in ['', '{nf} ', '{evex} ']:
            F(p + 'andn {0}, {1}, {2}', [s, s, s])
            M(p + 'andn {0}, {1}, {m}', [s, s], s)
            for op in ['bextr', 'bzhi']:
                F(p + op + ' {0}, {1}, {2}', [s, s, s])
                M(p + op + ' {0}, {m}, {1}', [s, s], s)
            for op in ['blsi', 'blsmsk', 'blsr']:
                F(p + op + ' {0}, {1}', [s, s])
                M(p + op + ' {0}, {m}', [s], s)
        for p in ['', '{evex} ']:
            for op in ['mulx', 'pdep', 'pext']:
                F(p + op + ' {0}, {1}, {2}', [s, s, s])
                M(p + op + ' {0}, {1}, {m}', [s, s], s)
            for op in ['sarx', 'shlx', 'shrx']:
                F(p + op + ' {0}, {1}, {2}', [s, s, s])
                M(p + op + ' {0}, {m}, {1}', [s, s], s)
            F(p + 'rorx {0}, {1}, 7', [s, s])
            M(p + 'rorx {0}, {m}, 7', [s], s)
    # EVEX CMPccXADD and AMX-TILE with EGPR addressing
    for cc in CCS:
        for s in (32, 64):
            M('cmp' + cc + 'xadd {m}, {0}, {1}', [s, s], s, addr32=False)
    for m in ['[r16]', '[r31 + 0x40]', '[rax + r17]', '[r20 + 8*r21 + 0x100]']:
        g.emit('ldtilecfg ' + m)
        g.emit('sttilecfg ' + m)
    for m in ['[r16 + r17]', '[rax + 2*r31 + 8]', '[r20 + 4*rcx - 0x80]', '[r28 + r12]']:
        g.emit('tileloadd tmm1, ' + m)
        g.emit('tileloaddt1 tmm6, ' + m)
        g.emit('tilestored ' + m + ', tmm3')
    # AVX-512 instructions with a GPR operand or EGPR addressing (EVEX maps 1-3, other tables:
    # skipped while those tables are absent)
    for r in (16, 21, 24, 31):
        g.emit('vmovd xmm1, %s' % D[r])
        g.emit('vmovd %s, xmm17' % D[r])
        g.emit('vmovq xmm3, %s' % Q[r])
        g.emit('vmovq %s, xmm20' % Q[r])
        g.emit('vmovd xmm2, dword ptr [%s + 8*%s + 4]' % (Q[r], Q[r - 7]))
        g.emit('vpinsrd xmm1, xmm2, %s, 1' % D[r])
        g.emit('vpinsrq xmm1, xmm18, %s, 1' % Q[r])
        g.emit('vpextrd %s, xmm2, 3' % D[r])
        g.emit('vcvtsi2sd xmm1, xmm2, %s' % Q[r])
        g.emit('vcvttsd2si %s, xmm5' % Q[r])
        g.emit('vpbroadcastd zmm1, %s' % D[r])
        g.emit('vaddps zmm1, zmm2, zmmword ptr [%s + 4*%s + 0x40]' % (Q[r], Q[r - 3]))
    # EVEX KMOV
    for op, sz, gs in [('kmovb', 8, 32), ('kmovw', 16, 32), ('kmovd', 32, 32), ('kmovq', 64, 64)]:
        for k in ('k1', 'k6'):
            F(op + ' ' + k + ', {0}', [gs])
            F(op + ' {0}, ' + k, [gs])
            M(op + ' ' + k + ', {m}', [], sz)
            M(op + ' {m}, ' + k, [], sz)
        g.emit('{evex} ' + op + ' k1, k7')
    return g.lines


REGIDX = {}
for i, n in enumerate(Q):
    REGIDX[n] = ('q', i)
for i, n in enumerate(D):
    REGIDX[n] = ('d', i)
for i, n in enumerate(W):
    REGIDX[n] = ('w', i)
for i, n in enumerate(B):
    REGIDX[n] = ('b', i)
for i, n in enumerate(['ah', 'ch', 'dh', 'bh']):
    REGIDX[n] = ('h', i)
for i in range(8):
    REGIDX['k%d' % i] = ('k', i)
    REGIDX['tmm%d' % i] = ('t', i)
for i in range(32):
    REGIDX['xmm%d' % i] = ('x', i)
    REGIDX['ymm%d' % i] = ('y', i)
    REGIDX['zmm%d' % i] = ('z', i)
SIZES = {'byte': 1, 'word': 2, 'dword': 4, 'qword': 8, 'xmmword': 16, 'ymmword': 32,
         'zmmword': 64, 'tbyte': 10}
DFV = {'of': 8, 'sf': 4, 'zf': 2, 'cf': 1}


def reg(n):
    c, i = REGIDX[n]
    return '%s:%d' % (c, i)


def parse_mem(t):
    size = 0
    m = re.match(r'(\w+) ptr (.*)$', t)
    if m:
        size = SIZES[m.group(1)]
        t = m.group(2)
    t = re.sub(r'^[a-z]s:', '', t)
    m = re.match(r'\[(.*)\]$', t)
    if not m:
        raise ValueError(t)
    base, index, scale, disp = '-', '-', 1, 0
    terms = re.findall(r'([+-]?)\s*([^+-]+)', m.group(1))
    for sign, term in terms:
        term = term.strip()
        if '*' in term:
            s, r = term.split('*')
            index, scale = reg(r), int(s)
        elif term == 'rip':
            base = 'rip'
        elif term in REGIDX:
            if base == '-':
                base = reg(term)
            else:               # "[base + index]": scale 1
                index, scale = reg(term), 1
        else:
            v = int(term, 0)
            disp += -v if sign == '-' else v
    return 'M:%d:%s:%s:%d:%d' % (size, base, index, scale, disp)


def parse(text):
    """llvm Intel text -> (mnemonic, flags, operands)"""
    t = text.strip()
    nf = 0
    while t.startswith('{'):
        p, t = t.split('}', 1)
        if p == '{nf':
            nf = 1
        t = t.strip()
    parts = t.split(None, 1)
    mn = parts[0]
    rest = parts[1] if len(parts) > 1 else ''
    flags = {'nf': nf}
    m = re.match(r'\{dfv=([a-z,]*)\}\s*(.*)$', rest)
    if m:
        flags['dfv'] = sum(DFV[f] for f in m.group(1).split(',') if f)
        rest = m.group(2)
    ops = []
    for o in [x.strip() for x in rest.split(',')] if rest else []:
        if o in REGIDX:
            ops.append('R:' + reg(o))
        elif '[' in o:
            ops.append(parse_mem(o))
        else:
            ops.append('I:%d' % int(o, 0))
    return mn, flags, ops


# ---- disassembly sweep -------------------------------------------------------------------
# Every map-4 opcode with each pp, W, ND, NF and register/memory ModRM (each ModRM.reg for the
# group opcodes), and the APX opcodes of EVEX maps 1-3, go through llvm-mc's disassembler. What
# llvm decodes joins the corpus; what it rejects must be #UD ("#ud" rows). Where llvm-mc-19 is
# known to be lenient the row follows the APX specification instead:
#  - NF=1 with pp=F3/F2, or with pp=66 on a byte form, is accepted by llvm: #UD (pp=F3/F2 is no
#    operand size, and no NF-capable map-4 instruction has a mandatory F3/F2 prefix);
#  - EVEX KMOV, RORX and AMX with vvvv != 1111: llvm ignores vvvv, the spec reserves it: #UD;
# and where hvemu deliberately differs the row is left out and counted:
#  - pp=66 with W=1 (no NF, or CCMP/CTEST): llvm rejects it, hvemu decodes 64-bit operands (W
#    wins over 66 as REX.W does over 66; llvm itself accepts the combination when NF=1).
GROUPS = {0x80, 0x81, 0x83, 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff, 0x8f,
          0xf8, 0xf3}
BYTE_OPS = {0x00, 0x02, 0x08, 0x0a, 0x10, 0x12, 0x18, 0x1a, 0x20, 0x22, 0x28, 0x2a, 0x30, 0x32,
            0x38, 0x3a, 0x80, 0x84, 0xc0, 0xd0, 0xd2, 0xf6, 0xfe}
PAD = 16


def sweep_cases():
    cases = []
    for op in range(256):
        for pp in range(4):
            for w in (0, 1):
                for nd in (0, 1):
                    for nf in (0, 1):
                        for mod in (0, 3):
                            for reg in (range(8) if op in GROUPS else (0, 5)):
                                p1 = (w << 7) | ((~2 & 15) << 3 if nd else 15 << 3) | 4 | pp
                                p2 = (nd << 4) | 8 | (nf << 2)
                                cases.append(((4, op, pp, w, nd, nf, mod, reg, 15),
                                              [0x62, 0xf4, p1, p2, op, (mod << 6) | (reg << 3) | 1]))
    for mp, ops in [(1, [0x90, 0x91, 0x92, 0x93]),
                    (2, [0xf2, 0xf3, 0xf5, 0xf6, 0xf7, 0x49, 0x4b] + list(range(0xe0, 0xf0))),
                    (3, [0xf0])]:
        for op in ops:
            for vv in (15, ~2 & 15):
                for pp in range(4):
                    for w in (0, 1):
                        for b in (0, 1):
                            for nf in (0, 1):
                                for mod in (0, 3):
                                    for reg in (range(8) if op in GROUPS else (0, 5)):
                                        p1 = (w << 7) | (vv << 3) | 4 | pp
                                        p2 = (b << 4) | 8 | (nf << 2)
                                        cases.append(((mp, op, pp, w, b, nf, mod, reg, vv),
                                                      [0x62, 0xf0 | mp, p1, p2, op,
                                                       (mod << 6) | (reg << 3) | 1]))
    return cases


def sweep():
    """-> (rows, number of llvm-rejected encodings left out as deliberate differences)"""
    cases = sweep_cases()
    # each case, then NOPs to absorb immediates and resynchronise, then UD2 as a separator
    text = '\n'.join(' '.join('0x%02x' % x for x in b + [0x90] * PAD + [0x0f, 0x0b])
                     for k, b in cases) + '\n'
    p = subprocess.run([LLVM, '--disassemble', '-triple=x86_64', '-output-asm-variant=1'],
                       input=text, capture_output=True, text=True)
    bad = set()
    for l in p.stderr.splitlines():
        m = re.match(r'<stdin>:(\d+):(\d+): warning: invalid instruction encoding', l)
        if m and m.group(2) == '1':
            bad.add(int(m.group(1)) - 1)
    segs, cur = [], []
    for l in p.stdout.splitlines():
        l = l.strip()
        if not l or l.startswith('.text'):
            continue
        if l == 'ud2':
            segs.append(cur)
            cur = []
        else:
            cur.append(l)
    if len(segs) != len(cases):
        sys.exit('sweep: %d llvm-mc segments for %d cases' % (len(segs), len(cases)))
    valid = {}
    for i, (k, b) in enumerate(cases):
        if i in bad:
            continue
        seg = segs[i]
        nops = 0
        while nops < len(seg) and seg[-1 - nops] == 'nop':
            nops += 1
        valid[k] = (re.sub(r'\s+', ' ', seg[0]), len(b) + PAD - nops)
    rows, left_out = [], 0
    for k, b in cases:
        mp, op, pp, w, nd, nf = k[:6]
        lenient = ((mp == 4 and nf and (pp >= 2 or (pp == 1 and op in BYTE_OPS))) or
                   (mp in (1, 3) and k[8] != 15) or (mp == 2 and op in (0x49, 0x4b) and k[8] != 15))
        if k in valid and not lenient:
            text, n = valid[k]
            full = b + [0x90] * PAD
            mn, flags, ops = parse(text)
            fl = ' '.join('%s=%d' % kv for kv in sorted(flags.items()))
            rows.append('%s | %s | %s | %s | %s' % (bytes(full[:n]).hex(' '), mn, fl,
                                                     ' ; '.join(ops), text))
            continue
        if mp == 4 and pp == 1 and w == 1 and k not in valid:
            k16 = (mp, op, 1, 0) + tuple(k[4:])
            k64 = (mp, op, 0, 1) + tuple(k[4:])
            # (for CCMP/CTEST the NF bit is part of the source condition)
            if (k16 in valid and k64 in valid and op not in BYTE_OPS and
                    (not nf or valid[k16][0].startswith(('ccmp', 'ctest')))):
                left_out += 1
                continue
        why = 'llvm accepts, spec #UD' if k in valid else 'llvm rejects'
        rows.append('%s | #ud | - | - | %s' % (bytes(b + [0x90] * 8).hex(' '), why))
    return rows, left_out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'tests/apx/corpus.txt'
    src = build()
    p = subprocess.run([LLVM, '-triple=x86_64', '-mattr=' + MATTR, '-x86-asm-syntax=intel',
                        '-output-asm-variant=1', '-show-encoding'],
                       input='\n'.join(src) + '\n', capture_output=True, text=True)
    errs = [l for l in p.stderr.splitlines() if 'error' in l]
    if errs:
        sys.stderr.write('llvm-mc rejected %d lines, e.g.:\n%s\n' % (len(errs), '\n'.join(p.stderr.splitlines()[:12])))
    seen = set()
    rows = []
    for line in p.stdout.splitlines():
        m = re.match(r'\s*(.*?)\s*# encoding: \[(.*)\]', line)
        if not m:
            continue
        text = re.sub(r'\s+', ' ', m.group(1))
        enc = bytes(int(x, 16) for x in m.group(2).split(','))
        k = 0
        while enc[k] in (0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65):
            k += 1
        if enc[k] not in (0xd5, 0x62):
            continue
        if enc in seen:
            continue
        seen.add(enc)
        mn, flags, ops = parse(text)
        fl = ' '.join('%s=%d' % kv for kv in sorted(flags.items()))
        rows.append('%s | %s | %s | %s | %s' % (enc.hex(' '), mn, fl, ' ; '.join(ops), text))
    srows, left_out = sweep()
    with open(out, 'w') as f:
        f.write('# Generated by tests/apx/gen_corpus.py from llvm-mc-19 output: do not edit.\n')
        f.write('\n'.join(rows) + '\n')
        f.write('# disassembly sweep (%d pp=66+W=1 encodings llvm rejects left out)\n' % left_out)
        f.write('\n'.join(srows) + '\n')
    print('%d source lines, %d assembled APX encodings, %d swept encodings (%d #UD, %d left '
          'out) written to %s' % (len(src), len(rows), len(srows),
                                  sum(1 for r in srows if ' | #ud | ' in r), left_out, out))


if __name__ == '__main__':
    main()
