#!/usr/bin/env bash
# Install wrk, the HTTP load generator with which bench/oidc_bench.py drives MotID's endpoints, from
# Debian's archive. Idempotent: does nothing when a wrk binary is already there.
#
# Needs root (or sudo without a password). tests/bench runs this script itself when wrk is missing.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
NAME=install-wrk
PACKAGES=(wrk)
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "$script")/apt-lib.sh"

apt_serialise "$@"

find_wrk() {
    command -v wrk 2>/dev/null || { [ -x /usr/bin/wrk ] && echo /usr/bin/wrk; } || true
}

# `wrk --version` prints "wrk VERSION [epoll] Copyright ...", then its usage, and exits with 1.
wrk_version() {
    { "$(find_wrk)" --version 2>&1 || true; } | awk 'NR == 1 { print $1, $2 }'
}

if [ -n "$(find_wrk)" ]; then
    echo "install-wrk: $(wrk_version) is already installed"
    exit 0
fi

apt_prepare "install wrk (Debian/Ubuntu: apt-get install wrk)"
apt_install

if [ -z "$(find_wrk)" ]; then
    echo "install-wrk: wrk was installed but no wrk binary was found" >&2
    exit 1
fi
echo "install-wrk: $(wrk_version) installed"
