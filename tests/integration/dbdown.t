#!/bin/bash
# havend without its database: it starts and stays up, says the
# database is down with host:port and MariaDB's own error, answers
# calls that need the database with 503, and once MariaDB is back it
# connects by itself (back-off) without a restart of havend or a worker.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
. "$here/../lib/havend.sh"

dir=$(mktemp -d /tmp/haven-dbdown.XXXXXX)
cleanup() {
	havend_teardown "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 22

for b in "$HAVEN_BIN/havend" "$HAVEN_BIN/havenctl"; do
	if [ ! -x "$b" ]; then
		echo "Bail out! $b is missing: build it first (make)"
		exit 1
	fi
done

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$s" in Z*) return 1 ;; esac
	return 0
}
status_json() { timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" --json status; }
jqs() { status_json 2>/dev/null | jq -r "$1"; }
mdb() { sh "$here/../lib/mariadb.sh" "$@"; }

# A real MariaDB with the haven account, then stopped.
export HAVEN_SHARDS=1
if ! havend_setup "$dir"; then
	echo "Bail out! the private MariaDB did not start"
	exit 1
fi
dbport=$(cat "$dir/db/port")
mdb stop "$dir/db" >/dev/null 2>&1
! mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$dbport" \
    --connect-timeout=2 ping >/dev/null 2>&1
ok $? "MariaDB on 127.0.0.1:$dbport is stopped"

# havend_start waits for the database; start havend by hand instead.
HAVEN_DIR=$dir
"$HAVEN_BIN/havend" -d -f "$dir/havend.conf" >>"$dir/havend.log" 2>&1 &
hpid=$!
echo $hpid > "$dir/havend.pid"
wait_for 10 status_json
ok $? "havend serves havenctl status without its database"
# Let it try, fail and back off a few times.
sleep 2.5
alive "$hpid"
ok $? "havend is still running 2.5 s later"

st=$(status_json)
state=$(printf '%s' "$st" | jq -r .database.state)
[ "$state" = down ] || [ "$state" = connecting ]
ok $? "status says the database is down (got '$state')"
is "$(printf '%s' "$st" | jq -r '"\(.database.host):\(.database.port)"')" \
    "127.0.0.1:$dbport" "status names the database host and port"
err=$(printf '%s' "$st" | jq -r .database.error)
like "$err" "127\.0\.0\.1:$dbport" "the error names host:port"
like "$err" "Can't connect to (MySQL )?server on '127\.0\.0\.1'" \
    "the error carries the MariaDB client's own message"
is "$(printf '%s' "$st" | jq -r '[.workers[] | "\(.kind)/\(.restarts)/\(.state)"] | join(" ")')" \
    "control/0/running db/0/running shard/0/running" \
    "no worker dies over it: every one running, no restarts"
human=$(timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" status 2>&1)
like "$human" "database +(down|connecting) +127\.0\.0\.1:$dbport/haven" \
    "havenctl status: database down at 127.0.0.1:$dbport"
like "$human" "error: .*127\.0\.0\.1:$dbport.*(Can't connect|refused)" \
    "havenctl status: with the server's error"
out=$(timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" machine list 2>&1)
rc=$?
[ $rc -ne 0 ]
ok $? "a command that needs the database fails (exit $rc)"
like "$out" "[Dd]atabase.*(unavailable|down)" "... saying the database is unavailable"
code=$(curl -s -o "$dir/body" -w '%{http_code}' --max-time 10 \
    --unix-socket "$dir/havend.sock" http://localhost/api/v1/machines)
is "$code/$(jq -r .error.code "$dir/body" 2>/dev/null)" "503/database_unavailable" \
    "the API answers 503 database_unavailable"
grep -Eq "database down: .*127\.0\.0\.1:$dbport" "$dir/havend.log"
ok $? "the log says the database is down, with host:port"
n=$(grep -c "database down:" "$dir/havend.log")
[ "$n" -le 2 ]
ok $? "retries do not flood the log ($n 'database down' lines)"

# MariaDB comes back on the same port: havend connects by itself.
mdb start "$dir/db" "$dbport" >"$dir/mariadb2.out" 2>&1
ok $? "MariaDB starts again on 127.0.0.1:$dbport"
t0=$(now_ms)
wait_for 25 sh -c "timeout 10 '$HAVEN_BIN/havenctl' -s '$dir/havend.sock' --json status | jq -e '.database.state == \"up\"'"
rc=$?
el=$(( $(now_ms) - t0 ))
[ $rc -eq 0 ] && [ $el -le 20000 ]
ok $? "the database is up within 20 s of MariaDB's return (${el} ms)"
st=$(status_json)
[ "$(printf '%s' "$st" | jq -r .database.schema_version)" -ge 1 ] 2>/dev/null
ok $? "the schema is in place (schema_version $(printf '%s' "$st" | jq -r .database.schema_version))"
is "$(printf '%s' "$st" | jq -r .database.error)" null "no database error any more"
is "$(printf '%s' "$st" | jq -r '[.workers[] | .restarts] | join(" ")')" "0 0 0" \
    "no worker was restarted to get there"
[ "$(havend_pid "$dir")" = "$hpid" ] && alive "$hpid"
ok $? "the same havend process (pid $hpid) all along"
timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" machine list >/dev/null 2>&1
ok $? "a command that needs the database works now"
