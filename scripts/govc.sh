#!/bin/sh
# scripts/govc.sh: builds (once) and caches govc 0.24.2 (Debian's govmomi source package) with
# the shared peer build script, outside the repository, and prints the path of the govc binary
# on its last line. Cache: $GOVC_CACHE_DIR, default $HOME/.cache/vsphere-peer. The shared
# tools live next to the repository: "$(dirname REPO)/shared" (override: $SHARED_DIR).
# A cached, working govc is reused without running the build script (no apt, no go).
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED_DIR:-"$(dirname "$REPO")/shared"}
CACHE=${GOVC_CACHE_DIR:-"$HOME/.cache/vsphere-peer"}
BUILD="$SHARED/tools/vsphere-peer/build.sh"

if [ -x "$CACHE/bin/govc" ] && "$CACHE/bin/govc" version >/dev/null 2>&1; then
    echo "$CACHE/bin/govc"
    exit 0
fi
if [ ! -f "$BUILD" ]; then
    echo "govc.sh: $BUILD not found (set SHARED_DIR to the shared folder)" >&2
    exit 1
fi
bindir=$(bash "$BUILD" "$CACHE" | tail -n 1)
if [ ! -x "$bindir/govc" ]; then
    echo "govc.sh: the build printed '$bindir', which holds no govc" >&2
    exit 1
fi
echo "$bindir/govc"
