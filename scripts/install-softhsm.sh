#!/usr/bin/env bash
# Install SoftHSM2, the software PKCS#11 token the certificate tests use in place of a USB token,
# from Debian's own archive (package softhsm2: softhsm2-util and libsofthsm2.so).
# Idempotent: does nothing when softhsm2-util is already on the PATH.
#
# Needs root (or sudo without a password). The tests run this script themselves when
# softhsm2-util is missing (tests/accounts/certificates/test_pkcs11.py).
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
NAME=install-softhsm
PACKAGES=(softhsm2)
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "$script")/apt-lib.sh"

apt_serialise "$@"

if command -v softhsm2-util >/dev/null 2>&1; then
    echo "install-softhsm: $(softhsm2-util --version 2>/dev/null | head -n1) is already installed"
    exit 0
fi

apt_prepare "install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2)"

apt_install

if ! command -v softhsm2-util >/dev/null 2>&1; then
    echo "install-softhsm: softhsm2 was installed but softhsm2-util is not on the PATH" >&2
    exit 1
fi
echo "install-softhsm: $(softhsm2-util --version 2>/dev/null | head -n1) installed"
