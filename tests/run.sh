#!/bin/bash
# Build every test and run the suite in tests/suite.txt; ends with "N passed, N failed".
# Each suite line is: NAME  COMMAND...   (COMMAND runs from the project root; $B is the build dir)
B=${1:-build}
export B
make --no-print-directory -f tests/tests.mk BUILD="$B" test-bins || { echo "0 passed, 1 failed"; exit 1; }
pass=0; fail=0; failed=""
while read -r name cmd; do
    case "$name" in ''|'#'*) continue;; esac
    start=$(date +%s)
    if out=$(eval "$cmd" 2>&1); then
        pass=$((pass+1)); status=PASS
    else
        fail=$((fail+1)); status=FAIL; failed="$failed $name"
    fi
    printf '%-28s %s (%ss)\n' "$name" "$status" "$(( $(date +%s) - start ))"
    # show the test's own summary lines; everything on failure
    if [ $status = FAIL ]; then echo "$out" | tail -40 | sed 's/^/    /'; else echo "$out" | grep -E '^(summary|compared|cases)' | sed 's/^/    /'; fi
done < tests/suite.txt
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
