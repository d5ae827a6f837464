#!/bin/sh
# vSphere discovery of a 2,000-VM inventory from the simulator
# (tests/lib/vcsim): wall time and VMs/s of a whole vsphere_discover()
# (login, two container views, paged RetrievePropertiesEx, logout).
# Goal: under 10 s.  VMS=n changes the size, RUNS=n the repetitions.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=${HAVEN_BIN:-$root/build/bin}
BUILD=$(cd "$BIN/.." 2>/dev/null && pwd || echo "$root/build")
export BUILD
VMS=${VMS:-2000}
RUNS=${RUNS:-3}
GOAL=10

tmp=$(mktemp -d /tmp/haven-bench-discovery.XXXXXX)
trap 'sh "$root/tests/lib/vcsim.sh" stop "$tmp/vcsim"; rm -rf "$tmp"' EXIT

pkgs="libcurl libxml-2.0 libvirt jansson openssl"
[ -f "$BUILD/libcommon.a" ] || { echo "bench: no $BUILD/libcommon.a: run make" >&2; exit 1; }
# shellcheck disable=SC2046,SC2086
cc -std=gnu11 -D_GNU_SOURCE -O2 -I"$root/src/common" \
    $(pkg-config --cflags $pkgs) -o "$tmp/discover" \
    "$root/tests/lib/discover.c" "$root/src/common/vsphere.c" \
    "$root/src/common/virt.c" "$BUILD/libcommon.a" \
    $(pkg-config --libs $pkgs) -lcrypt -lm

t0=$(date +%s%N)
port=$(sh "$root/tests/lib/vcsim.sh" start "$tmp/vcsim" "$VMS")
t1=$(date +%s%N)
echo "bench discovery: simulator with $VMS VMs up in $(( (t1 - t0) / 1000000 )) ms"
thumb=$("$tmp/discover" thumbprint 127.0.0.1 "$port" | tr -d '"')

best=""
n=0
while [ $n -lt "$RUNS" ]; do
	n=$((n + 1))
	t0=$(date +%s%N)
	HAVEN_PASSWORD=secret "$tmp/discover" vsphere 127.0.0.1 "$port" \
	    haven "$thumb" >"$tmp/inv.json" 2>"$tmp/err" ||
	    { cat "$tmp/err" >&2; exit 1; }
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	got=$(jq '.vms | length' "$tmp/inv.json")
	[ "$got" -eq "$VMS" ] ||
	    { echo "bench discovery: got $got VMs, not $VMS" >&2; exit 1; }
	echo "bench discovery: run $n: $VMS VMs in $(printf '%d.%03d' $((ms / 1000)) $((ms % 1000))) s" \
	    "($(( VMS * 1000 / (ms > 0 ? ms : 1) )) VMs/s)"
	if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then
		best=$ms
	fi
done
echo "bench discovery: best $(printf '%d.%03d' $((best / 1000)) $((best % 1000))) s" \
    "for $VMS VMs, $(( VMS * 1000 / (best > 0 ? best : 1) )) VMs/s (goal: under $GOAL s)"
[ "$best" -lt $((GOAL * 1000)) ] || { echo "bench discovery: over the goal" >&2; exit 1; }
