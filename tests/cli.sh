#!/bin/bash
# The hvemu command-line tool: the `decode --batch` line contract (exactly one output line per
# input line, blank and garbage lines included), exit statuses of good and bad arguments, and
# no crash on garbage arguments.
# usage: bash tests/cli.sh [BUILD_DIR]
B=${1:-build}
H="$B/hvemu"
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# expect_rc WANT CMD...: exit status of CMD (output discarded)
expect_rc() {
    local want=$1; shift
    "$@" >/dev/null 2>&1
    local rc=$?
    if [ "$rc" = "$want" ]; then ok; else bad "'$*' exited $rc, want $want"; fi
}

[ -x "$H" ] || { echo "FAIL: $H missing"; echo "summary: 0 checks passed, 1 failed"; exit 1; }

# ---- batch contract ----
input=$(cat <<'IN'
4801d8
48 8b 44 98 10
0x48,0x8b,0x44,0x98,0x10

zz
123
   
f3a5 9090
c4
06
66666666666666666666666666666690
d6
\x90
eb fe
IN
)
expected=$(printf '%s\n' \
    $'3\tadd rax, rbx' \
    $'5\tmov rax, qword ptr [rax + 4*rbx + 0x10]' \
    $'5\tmov rax, qword ptr [rax + 4*rbx + 0x10]' \
    $'invalid\ttruncated' \
    $'invalid\tbad hex' \
    $'invalid\tbad hex' \
    $'invalid\ttruncated' \
    $'2\trep movsd dword ptr es:[rdi], dword ptr [rsi]' \
    $'invalid\ttruncated' \
    $'invalid\t#UD' \
    $'invalid\t#GP: longer than 15 bytes' \
    $'invalid\t#UD' \
    $'1\tnop' \
    $'2\tjmp 0x0')
got=$(printf '%s\n' "$input" | "$H" decode --batch)
rc=$?
[ $rc = 0 ] && ok || bad "batch exited $rc"
if [ "$got" = "$expected" ]; then ok; else
    bad "batch output differs"; diff <(echo "$expected") <(echo "$got") | sed 's/^/    /'
fi

# one line per line, whatever the lines hold (CRLF, NUL-free binary junk, very long lines)
lines=$( { printf '90\r\n'; head -c 3000 /dev/urandom | tr -d '\0' | tr '\n' 'x'; echo;
           printf '%0200000d\n' 0; printf 'ff\n'; printf '\n\n\n'; } | "$H" decode --batch | wc -l)
[ "$lines" = 7 ] && ok || bad "junk batch gave $lines lines, want 7"
# a last line without a newline still gets its answer
got=$(printf '90\n90' | "$H" decode --batch | wc -l)
[ "$got" = 2 ] && ok || bad "unterminated last line: $got lines"
# CRLF is whitespace
got=$(printf '4801d8\r\n' | "$H" decode --batch)
[ "$got" = $'3\tadd rax, rbx' ] && ok || bad "CRLF line: '$got'"
# modes and features
got=$(printf '6660\n' | "$H" decode --batch --mode 32)
[ "$got" = $'2\tpushaw' ] && ok || bad "--mode 32: '$got'"
got=$(printf '8b00\n' | "$H" decode --batch --mode=16)
[ "$got" = $'2\tmov ax, word ptr [bx + si]' ] && ok || bad "--mode=16: '$got'"
got=$(printf 'd51001c0\n' | "$H" decode --batch --no-apx)
[ "$got" = $'invalid\t#UD' ] && ok || bad "--no-apx REX2: '$got'"
# --host: the host's CPUID features; a Xeon Phi AVX512ER instruction (VEXP2PD zmm) no current
# CPU has is #UD there, while every feature decodes it
got=$(printf '62f2fd48c8c1\n' | "$H" decode --batch --host)
[ "$got" = $'invalid\t#UD' ] && ok || bad "--host AVX512ER: '$got'"
got=$(printf '62f2fd48c8c1\n' | "$H" decode --batch)
[ "${got%%$'\t'*}" = 6 ] && ok || bad "all features AVX512ER: '$got'"
got=$(printf 'd51001c0\n' | "$H" decode --batch)
[ "$got" = $'4\tadd r16d, eax' ] && ok || bad "APX REX2: '$got'"
got=$(printf 'eb00\n' | "$H" decode --batch --address 0x1000)
[ "$got" = $'2\tjmp 0x1002' ] && ok || bad "--address: '$got'"
# empty input: no output, success
got=$("$H" decode --batch </dev/null); rc=$?
[ -z "$got" ] && [ $rc = 0 ] && ok || bad "empty input: rc $rc, '$got'"
# the driver protocol: answers come line by line through a pipe (no buffering deadlock)
coproc HV { "$H" decode --batch; }
echo 90 >&"${HV[1]}"
if read -r -t 5 reply <&"${HV[0]}" && [ "$reply" = $'1\tnop' ]; then ok; else bad "interactive batch: '$reply'"; fi
exec {HV[1]}>&-
wait "$HV_PID" 2>/dev/null

# ---- argument mode ----
got=$("$H" decode '48 8b 44 98 10 f3 a5')
[ "$(echo "$got" | wc -l)" = 2 ] && echo "$got" | grep -q 'rep movsd' && ok || bad "two instructions in one argument: '$got'"
expect_rc 0 "$H" decode 90 '48 01 d8'
expect_rc 1 "$H" decode 06
expect_rc 1 "$H" decode c4
expect_rc 2 "$H" decode zz
expect_rc 2 "$H" decode 9
expect_rc 2 "$H" decode ''

# ---- exit statuses of good and bad arguments ----
expect_rc 0 "$H" --help
expect_rc 0 "$H" -h
expect_rc 0 "$H" --version
expect_rc 0 "$H" version
expect_rc 0 "$H" help
expect_rc 0 "$H" help decode
expect_rc 0 "$H" help demo
expect_rc 0 "$H" decode --help
expect_rc 0 "$H" demo --iterations 20000 --quiet  # the full run (10^6 exchanges) is `make demo`
expect_rc 2 "$H"
expect_rc 2 "$H" nosuchcommand
expect_rc 2 "$H" --nosuchoption
expect_rc 2 "$H" help nosuchcommand
expect_rc 2 "$H" help decode demo
expect_rc 2 "$H" version extra
expect_rc 2 "$H" demo extra
expect_rc 2 "$H" decode
expect_rc 2 "$H" decode --mode
expect_rc 2 "$H" decode --mode 17 90
expect_rc 2 "$H" decode --mode= 90
expect_rc 2 "$H" decode --address 90
expect_rc 2 "$H" decode --address -5 90
expect_rc 2 "$H" decode --bogus 90
expect_rc 2 "$H" decode --batch 90
"$H" decode --mode 17 90 2>&1 >/dev/null | grep -q 'mode' && ok || bad "--mode 17 message does not name the option"
"$H" nosuchcommand 2>&1 >/dev/null | grep -q 'unknown command' && ok || bad "unknown command message"

# ---- garbage arguments never crash (status below 128 means no signal) ----
crashes=0
garbage=("" "-" "--" "---" "-m" "--mode=" "--mode=64=64" "%s%s%n" "$(printf '\xff\xfe')" \
         "$(head -c 5000 /dev/zero | tr '\0' 'A')" "0x" "\\x" "0x0x90" "::" ",,90,," "--batch=1")
for cmd in decode demo trace help version; do
    for g in "${garbage[@]}"; do
        "$H" "$cmd" "$g" </dev/null >/dev/null 2>&1
        [ $? -ge 128 ] && { crashes=$((crashes+1)); echo "crash: $cmd '$g'"; }
        "$H" "$cmd" "$g" "$g" </dev/null >/dev/null 2>&1
        [ $? -ge 128 ] && { crashes=$((crashes+1)); echo "crash: $cmd '$g' '$g'"; }
    done
done
for g in "${garbage[@]}"; do
    "$H" "$g" </dev/null >/dev/null 2>&1
    [ $? -ge 128 ] && { crashes=$((crashes+1)); echo "crash: '$g'"; }
done
[ $crashes = 0 ] && ok || bad "$crashes crashes on garbage arguments"

echo "summary: $pass checks passed, $fail failed"
[ $fail = 0 ]
