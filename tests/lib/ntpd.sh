# A real NTP server for tests: chronyd serving its own clock (`local
# stratum 1`) on a free UDP port of 127.0.0.1.  Source it (bash, as root).
# It never touches the system clock (-x), /etc/chrony, /var/lib/chrony
# or /run/chrony: config, pid, drift and log files are all under DIR.
#
#   ntpd_start DIR     start chronyd; DIR/port holds its UDP port
#   ntpd_port DIR      that port
#   ntpd_stop DIR      stop it
#   ntpd_free_udp_port a UDP port on 127.0.0.1 nobody listens on
CHRONYD=${CHRONYD:-/usr/sbin/chronyd}

ntpd_free_udp_port() {
	python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

ntpd_port() {
	cat "$1/port"
}

ntpd_start() {
	local dir=$1 port pid i
	mkdir -p "$dir"
	[ -x "$CHRONYD" ] || { echo "ntpd: $CHRONYD is missing: apt-get install chrony" >&2; return 1; }
	port=$(ntpd_free_udp_port) || return 1
	cat >"$dir/chrony.conf" <<EOF
# tests/lib/ntpd.sh: serve this machine's clock, touch nothing else.
port $port
bindaddress 127.0.0.1
cmdport 0
local stratum 1
allow 127.0.0.1
pidfile $dir/chronyd.pid
driftfile $dir/chrony.drift
logdir $dir
EOF
	echo "$port" >"$dir/port"
	rm -f "$dir/chronyd.pid"
	# -x: never adjust the clock; -u root: no switch to _chrony, which
	# could not write DIR.
	"$CHRONYD" -x -u root -f "$dir/chrony.conf" -l "$dir/chronyd.log" \
	    </dev/null >>"$dir/chronyd.out" 2>&1 || {
		cat "$dir/chronyd.out" "$dir/chronyd.log" >&2 2>/dev/null
		echo "ntpd: chronyd did not start (see $dir/chronyd.log)" >&2
		return 1
	}
	for i in $(seq 1 100); do
		pid=$(cat "$dir/chronyd.pid" 2>/dev/null)
		if [ -n "$pid" ] && ss -Hunl "sport = :$port" 2>/dev/null |
		    grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	echo "ntpd: chronyd is not listening on UDP port $port (see $dir/chronyd.log)" >&2
	return 1
}

ntpd_stop() {
	local dir=$1 pid i
	pid=$(cat "$dir/chronyd.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	[ "$(cat /proc/$pid/comm 2>/dev/null)" = chronyd ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$dir/chronyd.pid"
}
