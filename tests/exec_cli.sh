#!/bin/bash
# `hvemu exec`: results in the input's syntax, exceptions, batch protocol, bad input.
B=${1:-build}; H=$B/hvemu
pass=0; fail=0
expect() { # expected, command...
    local want=$1; shift
    local got; got=$("$@" 2>&1)
    if [ "$got" = "$want" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $*"; echo "  want: $want"; echo "  got:  $got"; fi
}
expect "rax=0xc rip=0x1003 rflags=0x6" $H exec 4801d8 rax=5 rbx=7
expect "rip=0x1002 rflags=0x2 mem:0x2000=44332211" $H exec 8907 rdi=0x2000 rax=0x11223344
expect "#DE" $H exec 48f7f1 rax=1 rdx=0 rcx=0
expect "#GP(0)" $H exec 8b07 rdi=0x8000000000000000
expect "#SS(0)" $H exec 8b0424 rsp=0x8000000000000000
expect "#UD" $H exec 0f0b
expect "#UD" $H exec f001c0
expect "rcx=0x0 rsi=0x3004 rdi=0x4004 rip=0x1002 rflags=0x2 mem:0x4000=41424344" $H exec f3a4 rsi=0x3000 rdi=0x4000 rcx=4 mem:0x3000=41424344
expect "rip=0x1002 rflags=0x2 out:0x60=99" $H exec e660 rax=0x99
# a result fed back in is a fixed point of a load: nothing but RIP changes then
r=$($H exec 8b07 rdi=0x2000 mem:0x2000=efbeadde)
expect "rax=0xdeadbeef rip=0x1002 rflags=0x2" echo "$r"
expect "rip=0x1002 rflags=0x2" $H exec 8b07 rdi=0x2000 mem:0x2000=efbeadde $(echo "$r" | tr ' ' '\n' | grep -v '^rip=')
# APX: EGPR names in and out; NDD/NF, PUSH2/POP2 order, CFCMOV without the fault, #UD without APX
expect "r20=0xc rip=0x1006 rflags=0x6" $H exec 62ecdc1001f5 r21=5 r22=7
expect "r20=0xc rip=0x1006 rflags=0x2" $H exec 62ecdc1401f5 r21=5 r22=7
expect "rsp=0x7ff0 rip=0x1006 rflags=0x2 mem:0x7ff0=bb00000000000000aa00000000000000" $H exec 62fc7c10fff1 rsp=0x8000 r16=0xaa r17=0xbb
expect "rsp=0x8010 r16=0xbb r17=0xaa rip=0x1006 rflags=0x2" $H exec 62fc74108fc0 rsp=0x8000 mem:0x8000=aa00000000000000bb00000000000000
expect "rax=0x0 rip=0x1006 rflags=0x2" $H exec 62f4fc084403 rax=5 rbx=0x8000000000000000
expect "#UD" $H exec --no-apx 62ecdc1001f5 r21=5 r22=7
expect "#UD" $H exec d51001c8 xcr0=7
# system state in and out: control registers, descriptor tables, CPL through cs
expect "cr0=0x80050033 rip=0x1003 rflags=0x2" $H exec 0f22c0 rax=0x80050033
expect "#GP(0)" $H exec 0f22c0 rax=0x80050033 cs=0x33
expect "gdtr.base=0x1000 gdtr.limit=0xfff rip=0x1003 rflags=0x2" $H exec 0f0113 rbx=0x2000 mem:0x2000=ff0f0010000000000000
expect "fs.base=0x1234 rip=0x1005 rflags=0x2" $H exec f3480faed0 rax=0x1234 cr4=0x50020
expect "#UD" $H exec f3480faed0 rax=0x1234 cr4=0x40020
# traps and events: single-step, software interrupts, HLT/INVLPG
expect "rip=0x1001 rflags=0x102 trap:#DB:dr6=0x4000" $H exec 90 rflags=0x102
expect "rcx=0x2 rsi=0x2001 rdi=0x3001 rip=0x1000 rflags=0x102 mem:0x3000=00 trap:#DB:dr6=0x4000" $H exec f3a4 rflags=0x102 rcx=3 rsi=0x2000 rdi=0x3000
expect "rip=0x1002 rflags=0x2 trap:int:0x80" $H exec cd80
expect "rip=0x1001 rflags=0x2 event:halt" $H exec f4
expect "rip=0x1003 rflags=0x2 event:invlpg:0x5000" $H exec 0f0138 rax=0x5000
# batch: one line out per line in, errors included
out=$(printf '4801d8 rax=1 rbx=2\nbogus\n\n8907 rdi=0x10 rax=3\n' | $H exec --batch)
expect "4" echo "$(echo "$out" | wc -l)"
expect "error: bad instruction hex bogus" echo "$(echo "$out" | sed -n 2p)"
# bad input: exit status 2 and a message, never a crash
$H exec zz >/dev/null 2>&1; expect "2" echo $?
$H exec 90 rzz=1 >/dev/null 2>&1; expect "2" echo $?
$H exec --mode 32 90 >/dev/null 2>&1; expect "2" echo $?
$H exec >/dev/null 2>&1; expect "2" echo $?
echo "summary: $pass passed, $fail failed"
[ $fail = 0 ]
