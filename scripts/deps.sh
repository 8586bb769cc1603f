#!/bin/sh
# scripts/deps.sh: installs the Debian packages update-sessiond needs to build, run and test.
# Idempotent: asks dpkg which packages are missing and installs only those (one apt-get
# update, then one install). A fast no-op when everything is present. Uses sudo when not root.
set -eu

PKGS="build-essential pkg-config libevent-dev libjson-c-dev uuid-dev libhiredis-dev
libcmocka-dev libhttp-parser-dev libssl-dev libxml2-dev libcrypt-dev redis-server openssl
python3 wrk faketime curl clang libclang-rt-14-dev haproxy"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: dpkg-query not found; this script supports Debian/Ubuntu only." >&2
    # shellcheck disable=SC2086,SC2116
    echo "deps: install by hand: $(echo $PKGS)" >&2
    exit 1
fi

missing=""
for p in $PKGS; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: missing packages:$missing" >&2
        echo "deps: not root and sudo is not installed; install them as root." >&2
        exit 1
    fi
    SUDO=sudo
fi

echo "deps: installing:$missing"
APT_OPTS="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS update
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS install -y --no-install-recommends $missing
echo "deps: done"
