#!/bin/bash
# The trap-and-emulate runner end to end: `hvemu demo` with small counts (every invariant
# must hold, exit status 0), its usage errors, and `hvemu trace` on a program whose accesses
# to a trapped region must be logged and must still give the right results.
B=${1:-build}
H=$B/hvemu
fail=0; n=0
check() { # NAME CONDITION-COMMAND...
    n=$((n+1)); local name=$1; shift
    if "$@"; then :; else echo "FAIL: $name"; fail=$((fail+1)); fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# the demo, small: three and four vCPUs
for v in 3 4; do
    timeout 120 "$H" demo --vcpus $v --iterations 20000 --quiet > "$tmp/demo$v.txt" 2>&1
    rc=$?
    check "demo --vcpus $v exit status ($rc)" [ $rc = 0 ]
    check "demo --vcpus $v: every invariant held" grep -q '^result: every invariant held' "$tmp/demo$v.txt"
    check "demo --vcpus $v: no BROKEN" bash -c "! grep -q BROKEN '$tmp/demo$v.txt'"
    check "demo --vcpus $v: three scenarios held" [ "$(grep -c '^([abc]) .* held$' "$tmp/demo$v.txt")" = 3 ]
    # every checkpoint row of (a): count0 - (sum of the others) is 0
    check "demo --vcpus $v: count0 == sum at every checkpoint" \
        awk -F'\t' '/^counts:\t[0-9]/ { if ($NF != 0) bad=1; rows++ } END { exit (bad || rows < 2) }' "$tmp/demo$v.txt"
    [ $fail = 0 ] || cat "$tmp/demo$v.txt"
done
# a slow device makes hvemu's compare-exchange fail and retry: still exact
timeout 120 "$H" demo --only a --iterations 20000 --device-delay 20000 --quiet > "$tmp/slow.txt" 2>&1
check "demo with a slow device: exit status" [ $? = 0 ]
check "demo with a slow device: held" grep -q '^result: every invariant held' "$tmp/slow.txt"
grep -A1 '^(a) XCHG' "$tmp/slow.txt"

# the negative control: with devices that compare-exchange non-atomically the same demo must
# catch it (a lost or duplicated hand-off in (a), a torn half or lost update in (b))
for s in a b; do
    timeout 120 "$H" demo --only $s --iterations 20000 --device-delay 20000 --nonatomic-device --quiet > "$tmp/neg$s.txt" 2>&1
    rc=$?
    check "negative control ($s): exit status 1 ($rc)" [ $rc = 1 ]
    check "negative control ($s): BROKEN reported" grep -q "^($s) .* BROKEN\$" "$tmp/neg$s.txt"
    grep -A1 "^($s) .* BROKEN" "$tmp/neg$s.txt" | tail -1
done

# usage
"$H" demo --vcpus 2 > /dev/null 2>&1
check "demo --vcpus 2 is a usage error" [ $? = 2 ]
"$H" demo --help | grep -q -- '--iterations'
check "demo --help explains --iterations" [ $? = 0 ]

# trace: a region at a fixed address mapped after start, and a file
out=$(timeout 60 "$H" trace --window 0x7e5500000000:8192 --output "$tmp/w.log" -- "$B/tests/trace_target" window)
check "trace window: the program ran right ($out)" [ "$out" = "trace_target window: ok" ]
check "trace window: the store is logged" grep -q '^hvemu-trace: W 4 0x7e5500000010 0x12345678 rip=0x[0-9a-f]* mov dword ptr' "$tmp/w.log"
check "trace window: the locked add is one CAS" grep -q '^hvemu-trace: CAS 4 0x7e5500000010 0x12345678->0x12345679 ok' "$tmp/w.log"
check "trace window: the REP STOSB is 4 writes" [ "$(grep -c 'rep stosb' "$tmp/w.log")" = 4 ]
out=$(timeout 60 "$H" trace --file "$tmp/dev.bin" --output "$tmp/f.log" -- "$B/tests/trace_target" file "$tmp/dev.bin")
check "trace file: the program ran right ($out)" [ "$out" = "trace_target file: ok" ]
check "trace file: accesses logged" grep -q '^hvemu-trace: 14 accesses logged' "$tmp/f.log"
# SIMD moves through the tracer: results right (vector registers written back through the
# signal frame), a 16-byte store logged as one write, the masked store as two runs of 16
out=$(timeout 60 "$H" trace --window 0x7e5500000000:8192 --output "$tmp/s.log" -- "$B/tests/trace_target" simd)
check "trace simd: the program ran right ($out)" [ "$out" = "trace_target simd: ok" ]
check "trace simd: movdqu store is one 16-byte write" grep -q '^hvemu-trace: W 16 0x7e5500000020 .* movdqu xmmword ptr' "$tmp/s.log"
if grep -q avx512bw /proc/cpuinfo; then
    check "trace simd: the masked store is two 16-byte writes" \
        [ "$(grep -c '^hvemu-trace: W 16 0x7e55000001[02]0 .*vmovdqu32 zmmword ptr' "$tmp/s.log")" = 2 ]
fi
"$H" trace -- true > /dev/null 2>&1
check "trace without a region is a usage error" [ $? = 2 ]

echo "summary: $n checks, $fail failed"
[ $fail = 0 ]
