#!/bin/sh
# Build tests/lib/ovfimport (the OVA import check) offline against
# Debian's golang-github-vmware-govmomi-dev, like tests/lib/vcsim.sh:
#
#	sh tests/lib/ovfimport/build.sh		prints the binary's path
#
# The binary and Go's build cache live under $BUILD (default: build/ at
# the top of the tree); it is rebuilt only when main.go changes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
BUILD=${BUILD:-$root/build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
out=$BUILD/ovfimport
bin=$out/ovfimport

die() {
	echo "ovfimport: $*" >&2
	exit 1
}

sum=$(sha256sum < "$here/main.go" | cut -d' ' -f1)
if [ ! -x "$bin" ] || [ "$(cat "$out/main.sum" 2>/dev/null)" != "$sum" ]; then
	command -v go >/dev/null 2>&1 ||
	    die "no go command: install golang-go (tests/lib/packages.txt)"
	for p in ovf nfc simulator; do
		[ -d /usr/share/gocode/src/github.com/vmware/govmomi/$p ] ||
		    die "no govmomi $p package: install golang-github-vmware-govmomi-dev"
	done
	mkdir -p "$out"
	echo "ovfimport: building $bin" >&2
	(cd "$here" &&
	    GO111MODULE=off GOPROXY=off GOFLAGS='' GOPATH=/usr/share/gocode \
	    GOCACHE="$out/gocache" HOME=${HOME:-$out} \
	    go build -o "$bin.tmp" .) || die "go build failed"
	mv "$bin.tmp" "$bin"
	echo "$sum" > "$out/main.sum"
fi
echo "$bin"
