#!/bin/bash
# Host instructions per emulation, counted by callgrind (repeatable, unlike time): for each
# instruction of `hvemu bench`'s mix, run it N and 2N times and divide the difference by the
# number of extra emulations (bench runs 5 timed rounds of N), so start-up costs cancel out.
B=${1:-build}
command -v valgrind >/dev/null || { echo "valgrind not installed: apt-get install valgrind"; exit 0; }
N=1000
names=("mov [dev], eax (MMIO store)" "mov eax, [dev] (MMIO load)" "add dword [dev+8], 1" \
       "movzx eax, byte [dev+1]" "rep movsb 64 bytes" "xchg [dev], eax")
printf '%-32s %s\n' "instruction" "host instructions per emulation (callgrind)"
for k in 1 2 3 4 5 6; do
    c1=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/hvemu" bench --iterations $N --only $k --no-unicorn 2>&1 | awk '/Collected/{print $4}')
    c2=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/hvemu" bench --iterations $((2*N)) --only $k --no-unicorn 2>&1 | awk '/Collected/{print $4}')
    printf '%-32s %d\n' "${names[$((k-1))]}" $(( (c2 - c1) / (5 * N) ))
done
