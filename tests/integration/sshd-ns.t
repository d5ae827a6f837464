#!/bin/bash
# tests/lib/sshd.sh's network namespace leaves the host's network settled:
# once sshd_ns_start returns, the host end of the veth pair changes no
# more.  A late change (its IPv6 link-local address leaving duplicate
# address detection 1-2 s after "up", its carrier coming up) made the
# e2e tests' first page load fail now and then: chromium aborts the
# requests in flight with net::ERR_NETWORK_CHANGED when the host's
# addresses change, app.js never ran and the sign-in form stayed hidden.
# Needs root, ip and sshd; skipped otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/sshd.sh"

skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root for ip netns"
for c in ip /usr/sbin/sshd ssh-keygen; do
	command -v "$c" >/dev/null || skip_all "needs $c"
done

# Its own /30: push.t (10.200.0.0/30) and the e2e tests (.4/30) may run
# at the same time.
SSHD_HOST_ADDR=10.200.0.9 SSHD_ADDR=10.200.0.10
dir=$(mktemp -d /tmp/haven-sshd-ns.t.XXXXXX)
cleanup() {
	sshd_ns_stop "$dir/ssh" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

plan 5
state() { ip -o link show dev "$1"; ip -o addr show dev "$1"; }

sshd_ns_start "$dir/ssh" 2>"$dir/err"
ok $? "sshd_ns_start: the namespace and sshd are up $(tail -n 1 "$dir/err")"
veth=$(cat "$dir/ssh/veth" 2>/dev/null)h
at_return=$(state "$veth" | sed 's/^[0-9]*: //')
like "$at_return" "LOWER_UP" "$veth's carrier is up when sshd_ns_start returns"
unlike "$at_return" "inet6" "$veth has no IPv6 address, so none can appear (or leave tentative) later"
like "$at_return" "inet $SSHD_HOST_ADDR/30" "$veth has its IPv4 address"
# Duplicate address detection takes 1-2 s; the carrier at most 1 s.
sleep 3
is "$(state "$veth" | sed 's/^[0-9]*: //')" "$at_return" \
    "$veth did not change after sshd_ns_start returned (a browser would abort its requests with net::ERR_NETWORK_CHANGED)"
