#!/bin/bash
# Install the Debian packages the tests and benchmarks use, when they are missing.
# As root this installs them; otherwise it prints the exact command to run.
set -e
PKGS="libzydis-dev llvm-19 libunicorn-dev clang libclang-rt-14-dev valgrind python3"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq $missing >/dev/null
else
    echo "deps: missing packages:$missing" >&2
    echo "deps: run as root: apt-get install -y$missing" >&2
    exit 1
fi
