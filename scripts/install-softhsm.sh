#!/usr/bin/env bash
# Install SoftHSM2, the software PKCS#11 token the certificate tests use in place of a USB token,
# from Debian's own archive (package softhsm2: softhsm2-util and libsofthsm2.so).
# Idempotent: does nothing when softhsm2-util is already on the PATH.
#
# Needs root (or sudo without a password). The tests run this script themselves when
# softhsm2-util is missing (tests/accounts/test_certificates_pkcs11.py).
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
PACKAGES=(softhsm2)

# Two test runs starting at once must not run apt together (dpkg has its own lock, but fails on it).
if [ -z "${MOTID_SOFTHSM_INSTALL_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    export MOTID_SOFTHSM_INSTALL_LOCKED=1
    exec flock -w 900 "${TMPDIR:-/tmp}/motid-install-apt.lock" bash "$script" "$@"
fi

if command -v softhsm2-util >/dev/null 2>&1; then
    echo "install-softhsm: $(softhsm2-util --version 2>/dev/null | head -n1) is already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-softhsm: apt-get not found; install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2)" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "install-softhsm: root is needed to install ${PACKAGES[*]} with apt-get (run: sudo $script)" >&2
        exit 1
    fi
fi

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}"

if ! command -v softhsm2-util >/dev/null 2>&1; then
    echo "install-softhsm: softhsm2 was installed but softhsm2-util is not on the PATH" >&2
    exit 1
fi
echo "install-softhsm: $(softhsm2-util --version 2>/dev/null | head -n1) installed"
