#!/bin/bash
# Compare hvemu's Intel text with LLVM's (libLLVM-19, same text as llvm-mc-19 -output-asm-variant=1
# --print-imm-hex) on a generated corpus of one-byte-map instructions in all three modes.
# usage: bash tests/llvm_format.sh [BUILD_DIR] [options of tests/llvm_format.py]
B=${1:-build}
shift
exec python3 "$(dirname "$0")/llvm_format.py" "$B" "$@"
