#!/usr/bin/env bash
# Install the browser used by tests/browser: Debian's own Chromium (/usr/bin/chromium), with apt.
# Idempotent: does nothing when /usr/bin/chromium is already there and starts.
#
# Nothing is downloaded outside the Debian archive: Playwright is driven against this Chromium
# (executable_path), so `playwright install` is never run; the Playwright Python package itself
# comes from the test extras (pip install -e '.[test]'), not from this script.
#
# Needs root (or sudo without a password). The fonts give the screenshots Vietnamese glyphs.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-liberation fonts-dejavu-core)

# Two test runs starting at once must not run apt together (dpkg has its own lock, but fails on it).
if [ -z "${MOTID_BROWSER_INSTALL_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    export MOTID_BROWSER_INSTALL_LOCKED=1
    exec flock -w 900 "${TMPDIR:-/tmp}/motid-install-browser.lock" bash "$script" "$@"
fi

works() {
    [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --version >/dev/null 2>&1
}

if works; then
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null | head -n1) is already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: apt-get not found; install Chromium so that $CHROMIUM exists" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "install-browser: root is needed to install ${PACKAGES[*]} with apt-get (run: sudo $script)" >&2
        exit 1
    fi
fi

# Installed but not starting (e.g. a file removed by hand): install it again rather than do nothing.
REINSTALL=()
if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
    REINSTALL=(--reinstall)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${REINSTALL[@]}" \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}"

if ! works; then
    echo "install-browser: $CHROMIUM was installed but does not start" >&2
    exit 1
fi
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null | head -n1) installed"
