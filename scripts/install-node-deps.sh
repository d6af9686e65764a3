#!/usr/bin/env bash
# Install the Node.js relying party used by tests/interop (openid-client v6) with the machine's
# node and npm. Idempotent: does nothing when node_modules already matches package-lock.json.
# No browser or other binary is downloaded: the only packages are openid-client, oauth4webapi, jose.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/../tests/interop/node"

# Two test runs starting at once must not run npm in the same folder together.
if [ -z "${MOTID_NODE_DEPS_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    export MOTID_NODE_DEPS_LOCKED=1
    exec flock -w 600 "${TMPDIR:-/tmp}/motid-install-node-deps.lock" bash "$script" "$@"
fi

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-node-deps: $tool is not installed (Node.js 20 or newer is needed)" >&2
        exit 1
    fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
    echo "install-node-deps: Node.js $(node --version) is too old; 20 or newer is needed" >&2
    exit 1
fi

# npm writes node_modules/.package-lock.json after a successful install; when it is newer than the
# lock file the tree is already what the lock file asks for.
if [ -f package-lock.json ] && [ -f node_modules/.package-lock.json ] \
        && [ node_modules/.package-lock.json -nt package-lock.json ] \
        && [ -f node_modules/openid-client/package.json ]; then
    echo "install-node-deps: tests/interop/node/node_modules is up to date"
    exit 0
fi

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
node -e 'import("openid-client").then((m) => { if (typeof m.discovery !== "function") process.exit(1) })'
echo "install-node-deps: openid-client $(node -p 'require("./node_modules/openid-client/package.json").version') installed"
