# TAP helpers for tests/integration/*.t (bash).  Source it.
_tap_n=0
_tap_failed=0
plan() { echo "1..$1"; }
ok() {	# ok COND-EXIT-CODE DESCRIPTION
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}
pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }
diag() { echo "# $*"; }
# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; diag "got:  '$1'"; diag "want: '$2'"; fi
}
# like GOT REGEX DESCRIPTION
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; diag "got:  '$(printf '%s' "$1" | head -c 2000)'"
		diag "want: /$2/"; fi
}
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"; diag "got:  '$(printf '%s' "$1" | head -c 2000)'"
		diag "must not match: /$2/"; else ok 0 "$3"; fi
}
# Wait up to $1 seconds (decimal ok) for a command to succeed.
wait_for() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + ${limit%.*} * 1000 ))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
		sleep 0.05
	done
}
# A TCP port on 127.0.0.1 that nobody listens on.
# Below the kernel's ephemeral range (ip_local_port_range), so an
# outgoing connection cannot take the port before the server binds it.
free_port() {
	local p lo hi
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null ||
	    lo=32768
	[ "${lo:-0}" -gt 12000 ] || lo=32768
	while :; do
		p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000) ))
		ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo $p; return; }
	done
}
