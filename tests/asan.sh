#!/bin/bash
# Build the whole library with ASan+UBSan (clang) and run the Zydis differential test's random
# part briefly against it. Disagreements are the plain zydis_diff line's business; here only
# sanitizer reports (which abort) fail. Usage: tests/asan.sh BUILD_DIR [COUNT]
set -e
B=${1:-build}
make --no-print-directory -f tests/tests.mk BUILD="$B" asan-bins >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$B/asan/zydis_diff" --random-only --count "${2:-50000}" --quiet --report-only
