#!/bin/bash
# havend as a family of processes, against a real MariaDB: status (JSON
# and human), kill -9 of a shard, of control and of db (each back in
# its slot quickly, the data port and the API serving again), SIGHUP
# (reloadable keys applied, restart-only keys kept and said so,
# established data connections kept, a broken file refused), SIGTERM
# (everything gone within 5 s, the socket removed).
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
tools=${HAVEN_TOOLS:-$root/build/tools}
. "$here/../lib/havend.sh"

dir=$(mktemp -d /tmp/haven-daemon.XXXXXX)
bgpids=""
cleanup() {
	local p
	for p in $bgpids; do kill "$p" 2>/dev/null; done
	havend_teardown "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 59

for b in "$HAVEN_BIN/havend" "$HAVEN_BIN/havenctl" "$HAVEN_BIN/haven-agent" \
    "$tools/dataclient"; do
	if [ ! -x "$b" ]; then
		echo "Bail out! $b is missing: build it first (make)"
		exit 1
	fi
done

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# A process that exists and is not a zombie.
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$s" in Z*) return 1 ;; esac
	return 0
}
status_json() { timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" --json status; }
# jqs FILTER: one value from a fresh status.
jqs() { status_json 2>/dev/null | jq -r "$1"; }
log_has() { grep -qE -- "$1" "$dir/havend.log"; }
log_count() { grep -cE -- "$1" "$dir/havend.log"; }

export HAVEN_SHARDS=2
if havend_setup "$dir" && havend_start "$dir"; then
	pass "havend starts with its database up (2 shards)"
else
	fail "havend starts with its database up (2 shards)"
	echo "Bail out! havend did not start"
	exit 1
fi
ppid_havend=$(havend_pid "$dir")
cport=$(conf_get "$dir" control_port)
ap=$(conf_get "$dir" admin_port)
dp=$(conf_get "$dir" data_port)

# --- status --json -------------------------------------------------
st=$(status_json)
is "$(printf '%s' "$st" | jq -c .roles)" '["cs","ps","mt"]' "status: roles"
is "havend $(printf '%s' "$st" | jq -r .version)" "$("$HAVEN_BIN/havend" -v)" \
    "status: version is havend -v's"
is "$(printf '%s' "$st" | jq -r '"\(.ports.control) \(.ports.admin) \(.ports.data)"')" \
    "$cport $ap $dp" "status: the configured control, admin and data ports"
days=$(printf '%s' "$st" | jq -r .certificate.days_left)
[ "$days" -ge 1093 ] 2>/dev/null && [ "$days" -le 1095 ]
ok $? "status: the server certificate has ~1095 days left (got $days)"
is "$(printf '%s' "$st" | jq -r .certificate.warning)" null \
    "status: no expiry warning for a new certificate"
dbv=$(mariadb --defaults-file="$dir/db/root.cnf" -N -B haven \
    -e "SELECT MAX(version) FROM schema_version WHERE state = 'applied'" 2>&1)
is "$(printf '%s' "$st" | jq -r '"\(.database.state) \(.database.schema_version)"')" \
    "up $dbv" "status: database up, schema_version as in the database ($dbv)"
is "$(printf '%s' "$st" | jq -r '[.workers[].kind] | join(" ")')" \
    "control db shard shard" "status: 4 workers: control, db, shard, shard"
is "$(printf '%s' "$st" | jq -r '[.workers[] | "\(.restarts)/\(.state)"] | join(" ")')" \
    "0/running 0/running 0/running 0/running" \
    "status: every worker running, no restarts"
bad=""
for p in $(printf '%s' "$st" | jq -r '.workers[].pid'); do
	[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$ppid_havend" ] ||
	    bad="$bad $p"
done
is "$bad" "" "status: every worker pid is a live child of havend ($ppid_havend)"

# --- the human status ----------------------------------------------
human=$(timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" status 2>&1)
like "$human" "roles: cs ps mt" "havenctl status: roles"
like "$human" "$("$HAVEN_BIN/havend" -v | cut -d' ' -f2)" "havenctl status: version"
like "$human" "control $cport +admin $ap +data $dp" "havenctl status: ports"
like "$human" "certificate .*expires [0-9-]+ \((1093|1094|1095) days\)" \
    "havenctl status: certificate expiry in days"
like "$human" "database +up .*schema $dbv" "havenctl status: database up with its schema"
missing=""
for p in $(printf '%s' "$st" | jq -r '.workers[] | "\(.slot)_\(.kind)_\(.pid)"'); do
	IFS=_ read -r s k pid <<<"$p"
	printf '%s\n' "$human" | grep -Eq "^ *(workers +)?$s +$k +$pid +running +0 " ||
	    missing="$missing $s/$k/$pid"
done
is "$missing" "" "havenctl status: every worker slot with its pid and 0 restarts"

# --- an enrolled agent, for the data port --------------------------
(umask 077; timeout 10 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" \
    passphrase show > "$dir/pass")
mkdir -p "$dir/agent"
printf 'state_dir = %s\n' "$dir/agent/state" > "$dir/agent/agent.conf"
out=$(timeout 30 "$HAVEN_BIN/haven-agent" -c "$dir/agent/agent.conf" enroll \
    --cs "127.0.0.1:$cport" --passphrase-file "$dir/pass" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -s "$dir/agent/state/agent.crt" ] && [ -s "$dir/agent/state/agent.key" ]
ok $? "haven-agent enrolls with the passphrase from havenctl passphrase show"
[ $rc -eq 0 ] || diag "$out"
A=$dir/agent/state
dc() { timeout 20 "$tools/dataclient" --connect "127.0.0.1:$dp" --ca "$A/ca.crt" \
    --cert "$A/agent.crt" --key "$A/agent.key" "$@" 2>&1; }
# Hellos in a row: the parent deals connections out round robin, and
# the drain's own connections to the master target take turns too, so
# a few tries reach both shards.  Prints the distinct shards that
# answered.
hellos() {
	local a all="" i
	for i in 1 2 3 4; do
		a=$(dc) || { echo "FAIL: $a"; return; }
		all="$all$a
"
	done
	printf '%s' "$all" | sed -n 's/^hello-ok seq=[0-9]* shard=//p' |
	    sort -u | tr '\n' ' '
}
is "$(hellos)" "0 1 " "data port: an enrolled agent gets hello-ok from both shards"

# --- kill -9 of a shard --------------------------------------------
slot=$(printf '%s' "$st" | jq -r '[.workers[] | select(.kind == "shard")][0].slot')
old=$(printf '%s' "$st" | jq -r ".workers[$slot].pid")
t0=$(now_ms)
kill -9 "$old"
new=$old
while [ $(( $(now_ms) - t0 )) -lt 5000 ]; do
	new=$(jqs ".workers[$slot].pid")
	if [ -n "$new" ] && [ "$new" != "$old" ] && [ "$new" -gt 0 ] 2>/dev/null &&
	    alive "$new"; then
		break
	fi
	sleep 0.02
done
el=$(( $(now_ms) - t0 ))
[ "$new" != "$old" ] && [ $el -le 1000 ]
ok $? "kill -9 of shard pid $old: a new pid ($new) in slot $slot within 1 s (${el} ms)"
w=$(jqs ".workers[$slot] | \"\(.kind) \(.restarts) \(.state)\"")
is "$w" "shard 1 running" "the shard slot: restarts 1, running"
like "$(jqs ".workers[$slot].last_exit")" "signal 9" "the shard slot's last_exit names signal 9"
is "$(jqs '[.workers[] | .restarts] | add')" 1 "no other worker restarted"
wait_for 3 log_has "shard 0 \(pid $old\) killed by signal 9.*restarting"
ok $? "the log says the shard was killed by signal 9 and restarted"
is "$(hellos)" "0 1 " "data port: both shards (the restarted one too) answer hello"

# --- kill -9 of control --------------------------------------------
old=$(jqs '.workers[0].pid')
t0=$(now_ms)
kill -9 "$old"
served=""
while [ $(( $(now_ms) - t0 )) -lt 5000 ]; do
	new=$(timeout 5 "$HAVEN_BIN/havenctl" -s "$dir/havend.sock" --json status \
	    2>/dev/null | jq -r '.workers[0].pid' 2>/dev/null)
	if [ -n "$new" ] && [ "$new" != "$old" ] && [ "$new" != null ]; then
		served=yes
		break
	fi
	sleep 0.02
done
el=$(( $(now_ms) - t0 ))
[ -n "$served" ] && [ $el -le 1000 ]
ok $? "kill -9 of control (pid $old): havenctl status answers again, from pid $new, within 1 s (${el} ms)"
is "$(jqs '.workers[0] | "\(.kind) \(.restarts)"')" "control 1" "the control slot: restarts 1"
like "$(jqs '.workers[0].last_exit')" "signal 9" "the control slot's last_exit names signal 9"
wait_for 5 sh -c "timeout 5 '$HAVEN_BIN/havenctl' -s '$dir/havend.sock' --json status | jq -e '.database.state == \"up\"'"
ok $? "the new control process sees the database up"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$dir/state/ca.crt" \
    "https://127.0.0.1:$cport/api/v1/enroll/challenge")
is "$code" 405 "the control port serves again (GET on a POST route: 405)"

# --- kill -9 of db -------------------------------------------------
old=$(jqs '.workers[1].pid')
t0=$(now_ms)
kill -9 "$old"
up=""
while [ $(( $(now_ms) - t0 )) -lt 10000 ]; do
	s=$(status_json 2>/dev/null)
	if [ "$(printf '%s' "$s" | jq -r '.workers[1].pid')" != "$old" ] &&
	    [ "$(printf '%s' "$s" | jq -r '.database.state')" = up ]; then
		up=yes
		break
	fi
	sleep 0.05
done
el=$(( $(now_ms) - t0 ))
[ -n "$up" ] && [ $el -le 5000 ]
ok $? "kill -9 of db (pid $old): the database is up again within a few seconds (${el} ms)"
is "$(jqs '.workers[1] | "\(.kind) \(.restarts)"')" "db 1" "the db slot: restarts 1"
like "$(jqs '.workers[1].last_exit')" "signal 9" "the db slot's last_exit names signal 9"
is "$(jqs '.database.schema_version')" "$dbv" "the schema version is read again after the db restart"
is "$(jqs '[.workers[] | .restarts] | join(" ")')" "1 1 1 0" \
    "restarts per slot: control 1, db 1, shard 1, shard 0"

# --- SIGHUP ----------------------------------------------------------
# What debug logging looks like: an API error answer logs at debug.
api_unix() { curl -s --max-time 5 --unix-socket "$dir/havend.sock" "$@"; }
api_unix -o /dev/null http://localhost/api/v1/before-hup
sleep 0.2
is "$(log_count 'debug: .*before-hup')" 0 "at log_level info nothing is logged at debug"
pids_before=$(jqs '[.workers[].pid] | join(" ")')

# (c) a data connection that is open across the reload.
dc --hold 3 > "$dir/hold.out" &
holdpid=$!
bgpids="$bgpids $holdpid"
wait_for 5 grep -q hello-ok "$dir/hold.out"
ok $? "a held data connection is established before the SIGHUP"

newcp=$(free_port)
while [ "$newcp" = "$cport" ] || [ "$newcp" = "$ap" ] || [ "$newcp" = "$dp" ]; do
	newcp=$(free_port)
done
cp "$dir/havend.conf" "$dir/havend.conf.orig"
sed -i -e 's/^log_level = .*/log_level = debug/' \
    -e 's/^heartbeat_interval = .*/heartbeat_interval = 7/' \
    -e "s/^control_port = .*/control_port = $newcp/" "$dir/havend.conf"
kill -HUP "$ppid_havend"
wait_for 5 log_has "reload: log_level changed; applied"
ok $? "SIGHUP: the log says log_level changed and was applied"
wait_for 5 log_has "reload: heartbeat_interval changed; applied"
ok $? "SIGHUP: the log says heartbeat_interval changed and was applied"
wait_for 5 log_has "reload: control_port changed; it takes effect when havend is restarted"
ok $? "SIGHUP: the log says control_port takes effect on restart"
api_unix -o /dev/null http://localhost/api/v1/after-hup
wait_for 3 log_has '\(control\) debug: .*after-hup'
ok $? "log_level = debug is in effect in the control process"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$dir/state/ca.crt" \
    "https://127.0.0.1:$cport/api/v1/enroll/challenge")
is "$code" 405 "the old control port $cport still serves"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$dir/state/ca.crt" \
    "https://127.0.0.1:$newcp/api/v1/enroll/challenge")
is "$code" 000 "nothing listens on the new control port $newcp before a restart"
is "$(jqs .ports.control)" "$cport" "status still reports the running control port"
hb=$(timeout 20 "$HAVEN_BIN/haven-agent" -c "$dir/agent/agent.conf" heartbeat --once 2>&1)
like "$hb" "accepted \(next in 7s\)" "the new heartbeat_interval (7) reaches agents"
is "$(jqs '[.workers[].pid] | join(" ")')" "$pids_before" "SIGHUP restarted no worker"
wait "$holdpid"
rc=$?
is "$rc" 0 "the data connection opened before the SIGHUP survived it (dataclient --hold 3)"
is "$(grep -c '^hello-ok' "$dir/hold.out")" 2 "it got a hello-ok before and after the reload"
[ $rc -eq 0 ] || diag "$(cat "$dir/hold.out")"

# (d) a broken file: refused, the running configuration stays.
printf 'heartbeat_interval = 9\nbogus_key = 1\n' > "$dir/broken.tail"
sed -e '/^heartbeat_interval/d' "$dir/havend.conf" > "$dir/havend.conf.new"
cat "$dir/broken.tail" >> "$dir/havend.conf.new"
mv "$dir/havend.conf.new" "$dir/havend.conf"
bogus_line=$(grep -n '^bogus_key' "$dir/havend.conf" | cut -d: -f1)
kill -HUP "$ppid_havend"
wait_for 5 log_has "configuration not reloaded"
ok $? "SIGHUP with a broken file: the log says the configuration was not reloaded"
like "$(grep -F "$dir/havend.conf:$bogus_line:" "$dir/havend.log")" \
    "unknown key 'bogus_key'" "the log names the error with its file and line"
sleep 0.3
alive "$ppid_havend"
ok $? "havend keeps running"
is "$(jqs '[.workers[] | "\(.state)"] | join(" ")')" "running running running running" \
    "every worker still running"
is "$(jqs '[.workers[].pid] | join(" ")')" "$pids_before" "the broken reload restarted no worker"
hb=$(timeout 20 "$HAVEN_BIN/haven-agent" -c "$dir/agent/agent.conf" heartbeat --once 2>&1)
like "$hb" "accepted \(next in 7s\)" "the old heartbeat_interval (7) stays, not the broken file's 9"
is "$(hellos)" "0 1 " "the data port still serves both shards"

# --- SIGTERM ---------------------------------------------------------
all="$ppid_havend $(jqs '[.workers[].pid] | join(" ")')"
t0=$(now_ms)
kill -TERM "$ppid_havend"
left=$all
while [ $(( $(now_ms) - t0 )) -lt 6000 ]; do
	left=""
	for p in $all; do alive "$p" && left="$left $p"; done
	[ -z "$left" ] && break
	sleep 0.05
done
el=$(( $(now_ms) - t0 ))
[ -z "$left" ] && [ $el -le 5000 ]
ok $? "SIGTERM: havend and its 4 workers are gone within 5 s (${el} ms)"
[ -n "$left" ] && diag "still running: $left"
wait "$ppid_havend"
is "$?" 0 "havend exits with status 0 on SIGTERM"
rm -f "$dir/havend.pid"
[ ! -e "$dir/havend.sock" ]
ok $? "the unix socket is removed"
log_has "\(parent\) info: stopped"
ok $? "the log says stopped"
listening=$(ss -Htln | awk '{print $4}' | grep -E ":($cport|$ap|$dp)\$")
is "$listening" "" "nothing listens on the control, admin and data ports any more"
