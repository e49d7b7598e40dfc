#!/bin/bash
# The core library is freestanding: the only external symbols it may use are memcpy-class
# functions (so it embeds in a kernel, firmware or a #VC/#VE handler), and its static archive
# exports only the hvemu_* API.
B=${1:-build}
undef=$(nm -u "$B/hvemu-all.o" | awk '{print $2}' | grep -v '^_GLOBAL_OFFSET_TABLE_$' | sort -u)
bad=$(echo "$undef" | grep -v -x -E 'memcpy|memset|memmove|memcmp|strlen' | grep -v '^$')
exported=$(nm -g --defined-only "$B/libhvemu.a" | awk 'NF==3{print $3}' | grep -v '^hvemu_' | sort -u)
pass=0; fail=0
if [ -z "$bad" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: library uses: $bad"; fi
if [ -z "$exported" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: static library exports: $exported"; fi
echo "external symbols used: $(echo $undef)"
echo "summary: $pass passed, $fail failed"
[ $fail = 0 ]
