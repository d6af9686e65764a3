#!/usr/bin/env bash
# Install the Node.js packages the tests run with the machine's node and npm: the relying party of
# tests/interop (openid-client v6) and the upstream OpenID provider of tests/accounts/upstream
# (oidc-provider, the version bench/node uses). Idempotent: does nothing in a folder whose node_modules
# already matches its package-lock.json. No browser or other binary is downloaded.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
root="$(dirname "$script")/.."

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

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# install FOLDER PACKAGE: npm ci in FOLDER unless node_modules is current and holds PACKAGE.
install() {
    local folder="$1" package="$2"
    cd "$root/$folder"
    # npm writes node_modules/.package-lock.json after a successful install; when it is newer than the
    # lock file the tree is already what the lock file asks for.
    if [ -f package-lock.json ] && [ -f node_modules/.package-lock.json ] \
            && [ node_modules/.package-lock.json -nt package-lock.json ] \
            && [ -f "node_modules/$package/package.json" ]; then
        echo "install-node-deps: $folder/node_modules is up to date"
        return 0
    fi
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --loglevel=error
    fi
    echo "install-node-deps: $package $(node -p "require('./node_modules/$package/package.json').version") installed in $folder"
}

install tests/interop/node openid-client
node -e 'import("openid-client").then((m) => { if (typeof m.discovery !== "function") process.exit(1) })'
install tests/accounts/upstream/node oidc-provider
