# SPDX-License-Identifier: MIT
"""LLVM's disassembler through the LLVM C API (libLLVM-19), used as a text oracle.

Gives the same text as `llvm-mc-19 --disassemble -output-asm-variant=1 --print-imm-hex`,
without a process per instruction."""
import ctypes
import ctypes.util
import glob

# (triple, features): the C API does not derive 16-bit mode from a code16 triple, so it is
# asked for as a feature.
TRIPLES = {64: (b"x86_64-unknown-linux-gnu", b""), 32: (b"i386-unknown-linux-gnu", b""),
           16: (b"i386-unknown-unknown-code16", b"+16bit-mode")}
OPT_PRINT_IMM_HEX = 2
OPT_ASM_PRINTER_VARIANT = 4  # switches x86 from AT&T to Intel


def _load():
    names = ["/usr/lib/llvm-19/lib/libLLVM-19.so", "/usr/lib/llvm-19/lib/libLLVM.so"]
    names += glob.glob("/usr/lib/x86_64-linux-gnu/libLLVM-19.so*")
    for n in names:
        try:
            return ctypes.CDLL(n)
        except OSError:
            continue
    raise OSError("libLLVM-19 not found (apt-get install llvm-19)")


class Disasm:
    def __init__(self):
        lib = _load()
        for f in ("LLVMInitializeX86TargetInfo", "LLVMInitializeX86TargetMC",
                  "LLVMInitializeX86Disassembler"):
            getattr(lib, f)()
        lib.LLVMCreateDisasmCPUFeatures.restype = ctypes.c_void_p
        lib.LLVMCreateDisasmCPUFeatures.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                                    ctypes.c_char_p, ctypes.c_void_p,
                                                    ctypes.c_int, ctypes.c_void_p,
                                                    ctypes.c_void_p]
        lib.LLVMSetDisasmOptions.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        lib.LLVMDisasmInstruction.restype = ctypes.c_size_t
        lib.LLVMDisasmInstruction.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64,
                                              ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]
        self.lib = lib
        self.ctx = {}
        for mode, (triple, features) in TRIPLES.items():
            dc = lib.LLVMCreateDisasmCPUFeatures(triple, b"", features, None, 0, None, None)
            if not dc:
                raise OSError("LLVMCreateDisasm failed for %s" % triple)
            # Two calls: switching the printer variant makes a new printer, which would drop
            # an immediate-hex setting made in the same call.
            lib.LLVMSetDisasmOptions(dc, OPT_ASM_PRINTER_VARIANT)
            lib.LLVMSetDisasmOptions(dc, OPT_PRINT_IMM_HEX)
            self.ctx[mode] = dc
        self.buf = ctypes.create_string_buffer(512)

    def _one(self, mode, data):
        self.buf.value = b""
        n = self.lib.LLVMDisasmInstruction(self.ctx[mode], data, len(data), 0, self.buf, 512)
        return n, self.buf.value.decode(errors="replace") if n else ""

    def disasm(self, mode, data):
        """(length, text) of the first instruction, length 0 when LLVM finds it invalid.
        LLVM returns a LOCK/REP prefix it cannot attach as an instruction of its own (llvm-mc
        prints it on a line of its own); such prefixes are joined to what follows."""
        total, words = 0, []
        while True:
            n, text = self._one(mode, data[total:])
            if not n:
                return 0, ""
            total += n
            words.append(text)
            if text.strip() not in ("lock", "rep", "repne", "repe", "xacquire", "xrelease") or total >= len(data):
                return total, " ".join(words)


if __name__ == "__main__":
    import sys
    d = Disasm()
    mode = int(sys.argv[1])
    for h in sys.argv[2:]:
        print(d.disasm(mode, bytes.fromhex(h)))
