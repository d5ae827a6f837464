#!/bin/bash
# A 2,000-VM vSphere inventory through the whole discovery job: havenctl
# -> API -> job process -> vsphere_discover() -> one transaction into
# MariaDB -> status, against a real havend and the simulator.  Prints the
# wall time of the first discovery (all inserts) and of a second one
# (all updates), and the job's own split (discovery vs. saving).
# Goal: under 10 s.  VMS=n changes the size.
# make bench runs it with sh; the helpers it sources are bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${HAVEN_BIN:=$root/build/bin}"
export HAVEN_BIN
BUILD=$(cd "$HAVEN_BIN/.." 2>/dev/null && pwd || echo "$root/build")
export BUILD
VMS=${VMS:-2000}
GOAL=10

. "$root/tests/lib/tap.sh"
. "$root/tests/lib/havend.sh"
dir=$(mktemp -d /tmp/haven-bench-hypervisor.XXXXXX)
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
trap 'sh "$root/tests/lib/vcsim.sh" stop "$dir/vcsim"; havend_teardown "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT

havend_setup "$dir" >/dev/null && havend_start "$dir"
port=$(sh "$root/tests/lib/vcsim.sh" start "$dir/vcsim" "$VMS")
printf 'secret\n' >"$dir/pw"
chmod 600 "$dir/pw"
hctl account add vc --kind vsphere --user haven --secret-file "$dir/pw" >/dev/null
hctl hypervisor add vc --kind vsphere --address 127.0.0.1 --port "$port" \
    --account vc >/dev/null

ms() { echo $(( $(date +%s%N) / 1000000 )); }
split() {	# the last discover job's own times
	hctl --json job list | jq -r '[.jobs[] | select(.kind == "discover")][0].result |
	    "discovery \(.discovery_s) s, whole job \(.total_s) s"'
}
secs() { echo "$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))"; }
t0=$(ms)
out=$(hctl hypervisor accept vc)
d1=$(( $(ms) - t0 ))
echo "bench hypervisor: first discovery of $VMS VMs into the database:" \
    "$(secs $d1) s ($(split))"
echo "bench hypervisor: $out" | grep -q "vc: $VMS machines" ||
    { echo "bench hypervisor: $out" >&2; exit 1; }
t0=$(ms)
hctl hypervisor refresh vc >/dev/null
d2=$(( $(ms) - t0 ))
echo "bench hypervisor: second discovery (updates): $(secs $d2) s ($(split))"
t0=$(ms)
n=$(hctl vm list --json | jq '.vms | length')
echo "bench hypervisor: vm list of $n VMs: $(( $(ms) - t0 )) ms," \
    "$(hctl vm list --json | wc -c) bytes of JSON"
[ $(( d1 > d2 ? d1 : d2 )) -lt $((GOAL * 1000)) ] ||
    { echo "bench hypervisor: over the goal of $GOAL s" >&2; exit 1; }
