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
NAME=install-browser
PACKAGES=(chromium fonts-liberation fonts-dejavu-core)
# shellcheck source=scripts/apt-lib.sh
. "$(dirname "$script")/apt-lib.sh"

apt_serialise "$@"

works() {
    [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --version >/dev/null 2>&1
}

if works; then
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null | head -n1) is already installed"
    exit 0
fi

apt_prepare "install Chromium so that $CHROMIUM exists"

# Installed but not starting (e.g. a file removed by hand): install it again rather than do nothing.
REINSTALL=()
if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
    REINSTALL=(--reinstall)
fi

apt_install "${REINSTALL[@]}"

if ! works; then
    echo "install-browser: $CHROMIUM was installed but does not start" >&2
    exit 1
fi
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null | head -n1) installed"
