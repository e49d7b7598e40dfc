#!/bin/bash
# Build the libFuzzer targets (clang, ASan+UBSan) and run one briefly from a small seed corpus
# written here. Usage: tests/fuzz.sh BUILD_DIR [extra libFuzzer options]
# FUZZ_TARGET: decode_fuzz (default) or emulate_fuzz.
# FUZZ_TIME (seconds, default 30) and FUZZ_RUNS (default 1000000) bound the run; whichever
# comes first ends it.
set -e
B=${1:-build}
shift || true
make --no-print-directory -f tests/tests.mk BUILD="$B" fuzz-bins >/dev/null
target=${FUZZ_TARGET:-decode_fuzz}
corpus="$B/fuzz/corpus-$target"
rm -rf "$corpus"
mkdir -p "$corpus"
i=0
# a few instruction shapes of every encoding (hex), so the fuzzer starts inside each space
for hex in \
    90 c3 "8b 04 24" "89 84 8b 44 33 22 11" "66 67 f0 83 44 24 08 01" "48 c7 80 00 10 00 00 78 56 34 12" \
    "f3 48 a5" "0f 05" "0f 1f 44 00 00" "66 0f 6f 04 25 00 00 00 00" "f3 0f 7f 41 10" \
    "66 0f 38 00 c1" "66 0f 3a 0f c1 08" "c5 f8 28 07" "c4 e2 7d 18 46 04" "c4 e3 79 4a c1 20" \
    "62 f1 7c 48 28 07" "62 f1 fd 29 7f 44 24 01" "62 f2 7d 58 18 42 02" "62 f5 7c 08 58 c1" \
    "d5 19 8b 04 24" "62 f4 7c 18 01 c1" "62 f4 fc 08 ff f0" "d9 ee" "dd 1c 24" "ea 00 00 00 00 08 00" \
    "2e 3e 26 64 65 36 66 67 f2 f3 f0 40 48 90" "66 66 66 66 66 66 66 66 66 66 66 66 66 66 90"; do
    printf '%s' "$hex" | xxd -r -p > "$corpus/seed$i" 2>/dev/null || \
        python3 -c "import sys;sys.stdout.buffer.write(bytes.fromhex('$hex'))" > "$corpus/seed$i"
    i=$((i+1))
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
out="$B/fuzz/last-run-$target.log"
set +e
"$B/fuzz/$target" -runs="${FUZZ_RUNS:-1000000}" -max_total_time="${FUZZ_TIME:-30}" -max_len=${FUZZ_MAXLEN:-32} \
    -print_final_stats=1 -artifact_prefix="$B/fuzz/" "$@" "$corpus" >"$out" 2>&1
rc=$?
set -e
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$out" | sed 's/^/    /' || true
if [ $rc != 0 ]; then
    tail -30 "$out"
    echo "summary: $target FAILED (rc $rc), log in $out"
    exit 1
fi
n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")
echo "summary: $target ok, ${n:-?} inputs, corpus $(ls "$corpus" | wc -l) files"
