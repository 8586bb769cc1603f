#!/bin/sh
# scripts/govc.sh: builds govc 0.24.2, the vSphere CLI our compatibility tests drive, from
# Debian's own sources, once, and prints the path of the binary on its last line. Progress goes
# to stderr. The project needs nothing outside itself for this: Debian's source package
# golang-github-vmware-govmomi (apt-get source: checksums from the signed Sources index) built in
# GOPATH mode with Debian's Go against Debian's golang-*-dev packages (govc/ is only in the
# source package). Cache: $GOVC_CACHE_DIR, default $HOME/.cache/update-sessiond-govc; a cached
# govc that runs is reused without apt or go. Needs root (apt-get) the first time.
set -eu

VERSION=0.24.2-3
PACKAGE=golang-github-vmware-govmomi
IMPORT=github.com/vmware/govmomi
CACHE=${GOVC_CACHE_DIR:-"$HOME/.cache/update-sessiond-govc"}
BIN="$CACHE/bin/govc"

say() { echo "govc.sh: $*" >&2; }

if [ -x "$BIN" ] && "$BIN" version >/dev/null 2>&1; then
    echo "$BIN"
    exit 0
fi

# Debian packages: Go, the govmomi dependencies, and what apt-get source needs.
need=""
for p in golang-go golang-github-vmware-govmomi-dev golang-github-google-uuid-dev \
         golang-github-kr-pretty-dev dpkg-dev xz-utils ca-certificates; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
    say "installing:$need"
    apt-get -o DPkg::Lock::Timeout=600 -qq update >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq install -y $need >&2
fi

# The source package, from deb-src entries that mirror the machine's deb entries.
WORK="$CACHE/work"
SRC="$WORK/gopath/src/$IMPORT"
if [ ! -f "$SRC/.source-$VERSION" ]; then
    mkdir -p "$WORK/dl"
    if ! ls "$WORK/dl/${PACKAGE}_${VERSION}.dsc" >/dev/null 2>&1; then
        if ! apt-cache showsrc "$PACKAGE" 2>/dev/null | grep -q "^Version: $VERSION\$"; then
            say "adding deb-src entries (the configured deb mirrors and suites)"
            if [ -f /etc/apt/sources.list.d/debian.sources ]; then
                sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
                    > /etc/apt/sources.list.d/update-sessiond-src.sources
            else
                grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
                    > /etc/apt/sources.list.d/update-sessiond-src.list
            fi
            apt-get -o DPkg::Lock::Timeout=600 -qq update >&2
        fi
        say "downloading the $PACKAGE $VERSION source package"
        (cd "$WORK/dl" && apt-get -qq source --download-only "$PACKAGE=$VERSION" >&2)
    fi
    rm -rf "$WORK/unpack" "$SRC"
    mkdir -p "$WORK/unpack" "$(dirname "$SRC")"
    (cd "$WORK/unpack" && dpkg-source -q -x "$WORK/dl/${PACKAGE}_${VERSION}.dsc" govmomi >&2)
    mv "$WORK/unpack/govmomi" "$SRC"
    rm -rf "$WORK/unpack"
    touch "$SRC/.source-$VERSION"
fi

say "building govc with $(go version | cut -d' ' -f3) (about a minute the first time)"
mkdir -p "$CACHE/bin"
GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0 GOPATH="$WORK/gopath:/usr/share/gocode" \
    GOCACHE="$WORK/gocache" go build -trimpath \
    -ldflags "-X $IMPORT/govc/flags.GitVersion=v0.24.2+debian-3" -o "$BIN.tmp" "$IMPORT/govc"
mv -f "$BIN.tmp" "$BIN"
"$BIN" version >/dev/null
say "ready: $("$BIN" version)"
echo "$BIN"
