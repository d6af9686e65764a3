# Shared by scripts/install-{browser,nginx,softhsm,wrk}.sh: one apt-get at a time, root or sudo, and the
# install itself. Source it after setting `script` (this script's absolute path), NAME (for messages)
# and PACKAGES (an array).

# Two test runs starting at once must not run apt together (dpkg has its own lock, but fails on it):
# re-run this script under one lock shared by every installer. Call with "$@".
apt_serialise() {
    if [ -z "${MOTID_APT_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
        export MOTID_APT_LOCKED=1
        exec flock -w 900 "${TMPDIR:-/tmp}/motid-install-apt.lock" bash "$script" "$@"
    fi
}

# Exit 1 with a hint when apt-get is missing or root is out of reach; sets SUDO (an array).
apt_prepare() {
    local hint=$1
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$NAME: apt-get not found; $hint" >&2
        exit 1
    fi
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
        else
            echo "$NAME: root is needed to install ${PACKAGES[*]} with apt-get (run: sudo $script)" >&2
            exit 1
        fi
    fi
}

# apt-get update, then install PACKAGES with any extra apt-get options given.
apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}"
}
