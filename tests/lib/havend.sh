# Start and stop a real havend (with its private MariaDB) for the tests
# and for `make run`.  Source it (bash).  Needs HAVEN_BIN.
HAVEN_LIB=${HAVEN_LIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
: "${HAVEN_BIN:=$(cd "$HAVEN_LIB/../.." && pwd)/build/bin}"

# havend_setup DIR: private MariaDB in DIR/db and a config in DIR.
# Keeps what is there: a second run reuses the state.
havend_setup() {
	local dir=$1
	mkdir -p "$dir"
	"$HAVEN_LIB/mariadb.sh" start "$dir/db" >"$dir/mariadb.out" 2>&1 || {
		cat "$dir/mariadb.out" >&2; return 1; }
	if [ ! -f "$dir/havend.conf" ]; then
		local cp ap dp
		cp=$(free_port); ap=$(free_port); dp=$(free_port)
		while [ "$ap" = "$cp" ]; do ap=$(free_port); done
		while [ "$dp" = "$cp" ] || [ "$dp" = "$ap" ]; do dp=$(free_port); done
		cat >"$dir/havend.conf" <<CONF
# Written by tests/lib/havend.sh: every role on loopback, unprivileged ports.
roles = cs ps mt
listen_address = 127.0.0.1
control_port = $cp
admin_port = $ap
data_port = $dp
state_dir = $dir/state
cache_dir = $dir/cache
retention_dir = $dir/retention
socket_path = $dir/havend.sock
shards = ${HAVEN_SHARDS:-2}
db_host = 127.0.0.1
db_port = $(cat "$dir/db/port")
db_name = haven
db_user = haven
db_password_file = $dir/db/db.pass
log_level = ${HAVEN_LOG_LEVEL:-info}
heartbeat_interval = ${HAVEN_HEARTBEAT:-30}
CONF
	fi
}

hctl() { "$HAVEN_BIN/havenctl" -s "$HAVEN_DIR/havend.sock" "$@"; }
conf_get() { sed -n "s/^$2 *= *//p" "$1/havend.conf"; }

# havend_start DIR: start havend in the foreground (background job) and
# wait until it serves with the database up.
havend_start() {
	local dir=$1
	HAVEN_DIR=$dir
	"$HAVEN_BIN/havend" -d -f "$dir/havend.conf" >>"$dir/havend.log" 2>&1 &
	echo $! >"$dir/havend.pid"
	if ! wait_for 60 havend_db_up "$dir"; then
		echo "havend did not come up; its log:" >&2
		tail -n 40 "$dir/havend.log" >&2
		return 1
	fi
}

havend_db_up() {
	"$HAVEN_BIN/havenctl" -s "$1/havend.sock" status --json 2>/dev/null |
	    grep -q '"state": *"up"'
}

havend_pid() { cat "$1/havend.pid" 2>/dev/null; }

# Children of the parent, by kind as havend names them in status.
havend_worker_pid() {	# DIR KIND [N]
	"$HAVEN_BIN/havenctl" -s "$1/havend.sock" status --json |
	    jq -r --arg k "$2" --argjson n "${3:-0}" \
	    '[.workers[] | select(.kind == $k)][$n].pid'
}

havend_stop() {
	local dir=$1 pid
	pid=$(havend_pid "$dir") || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/havend.pid"; return 0; }
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$dir/havend.pid"; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$dir/havend.pid"
	return 1
}

havend_teardown() {
	local dir=$1
	havend_stop "$dir"
	"$HAVEN_LIB/mariadb.sh" stop "$dir/db" >/dev/null 2>&1
}
