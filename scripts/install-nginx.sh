#!/usr/bin/env bash
# Install nginx, the TLS-terminating reverse proxy that tests/integration puts in front of
# `idp serve` (client certificates: ssl_verify_client optional_no_ca), from Debian's archive.
# Idempotent: does nothing when an nginx binary is already there. The package's own service is
# not needed: the tests start nginx themselves with a private configuration, as an ordinary process.
# For production, docs/nginx.conf is the configuration to start from: it names the issuer's host in
# server_name and drops requests for any other host.
#
# Needs root (or sudo without a password). The tests run this script themselves when nginx is missing.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
NAME=install-nginx
PACKAGES=(nginx)
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "$script")/apt-lib.sh"

apt_serialise "$@"

find_nginx() {
    command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

if [ -n "$(find_nginx)" ]; then
    echo "install-nginx: $("$(find_nginx)" -v 2>&1 | head -n1) is already installed"
    exit 0
fi

apt_prepare "install nginx (Debian/Ubuntu: apt-get install nginx)"

# Keep the package from starting its own service on port 80 (policy-rc.d: 101 = action forbidden).
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    created_policy=1
fi
trap '[ -n "$created_policy" ] && "${SUDO[@]}" rm -f "$policy"' EXIT

apt_install

if [ -z "$(find_nginx)" ]; then
    echo "install-nginx: nginx was installed but no nginx binary was found" >&2
    exit 1
fi
echo "install-nginx: $("$(find_nginx)" -v 2>&1 | head -n1) installed"
