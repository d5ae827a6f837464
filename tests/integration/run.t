#!/bin/bash
# `make run` (tests/lib/run.sh) in a private directory: it starts MariaDB
# and havend, prints the admin URL, the sign-in and the passphrase; the
# sign-in works over HTTPS with a proper session cookie; Ctrl-C (SIGINT)
# stops everything it started; a second run reuses the state.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

RUN=$HAVEN_LIB/run.sh
PASS_RE='[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){4}'
dir=$(mktemp -d /tmp/haven-run.XXXXXX)
# A private TMPDIR for MariaDB: a starting mariadbd deletes every #sql*
# file in its tmpdir, so servers sharing /tmp break each other's
# mariadb-install-db (until tests/lib/mariadb.sh gives each its own).
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
rpid=
cleanup() {
	trap '' INT TERM HUP
	# Whatever a failed run left: its process group, havend, MariaDB.
	[ -n "$rpid" ] && kill -KILL -- "-$rpid" 2>/dev/null
	havend_teardown "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$desc"; else
		fail "$desc"; printf '%s\n' "$out" | head -n 20 | sed 's/^/# /'
	fi
}
# start_run OUTFILE: run.sh in its own session, as a terminal would run
# it: SIGINT at its default (a background job of a script ignores it).
start_run() {
	setsid env --default-signal=INT "$RUN" "$HAVEN_BIN" \
	    </dev/null >"$1" 2>&1 &
	rpid=$!
	# Its own session, so that -$rpid is its process group.
	if [ "$(awk '{print $6}' "/proc/$rpid/stat" 2>/dev/null)" != "$rpid" ]; then
		sleep 0.2
		[ "$(awk '{print $6}' "/proc/$rpid/stat" 2>/dev/null)" = "$rpid" ] ||
		    diag "run.sh (pid $rpid) is not a session leader"
	fi
}
running() { grep -q "Haven is running" "$1"; }
field() { sed -n "s/^ *$2: *//p" "$1" | head -n 1; }
# Every process of this run: havend, its workers, mariadbd.
pids() {
	local p
	cat "$dir/havend.pid" "$dir/db/mariadb.pid" 2>/dev/null
	hctl status --json 2>/dev/null | jq -r '.workers[].pid' 2>/dev/null
	p=$(cat "$dir/havend.pid" 2>/dev/null) && [ -n "$p" ] &&
	    pgrep -P "$p" 2>/dev/null
}
none_alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
	return 0
}
# stop_run HOW: SIGINT to run.sh alone, or to its process group (what
# Ctrl-C on a terminal does); everything must be gone within 10 s.
stop_run() {
	local how=$1 all rc t0
	all=$(pids | sort -u | tr '\n' ' ')
	t0=$(date +%s%N)
	if [ "$how" = group ]; then kill -INT -- "-$rpid"; else kill -INT "$rpid"; fi
	wait_for 10 none_alive "$rpid" $all
	ok $? "SIGINT ($how): run.sh, havend, its workers and MariaDB all exit within 10 s"
	diag "stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pids $all)"
	wait "$rpid" 2>/dev/null
	rc=$?
	is "$rc" 0 "run.sh exits 0 after SIGINT ($how)"
	left=$(ls -d "$dir/db/mysql.sock" "$dir/havend.pid" "$dir/db/mariadb.pid" 2>/dev/null)
	is "$left" "" "no pid file or database socket is left behind ($how)"
	rpid=
}
login() {	# PASSWORD: prints the HTTP status; headers in $dir/login.h
	jq -n --arg pw "$1" '{name: "admin", password: $pw}' >"$dir/login.json"
	curl -s --max-time 20 --cacert "$dir/state/ca.crt" -D "$dir/login.h" \
	    -o "$dir/login.out" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary @"$dir/login.json" \
	    "$url/api/v1/session"
}

plan 30

export HAVEN_RUN_DIR=$dir
HAVEN_DIR=$dir		# for hctl

# --- First run ------------------------------------------------------------

start_run "$dir/out1"
if ! wait_for 90 running "$dir/out1"; then
	fail "run.sh prints 'Haven is running'"
	sed 's/^/# /' "$dir/out1"
	echo "Bail out! make run did not start"
	exit 1
fi
pass "run.sh prints 'Haven is running'"
ap=$(conf_get "$dir" admin_port)
url=$(field "$dir/out1" "Admin UI")
is "$url" "https://127.0.0.1:$ap/" "it prints the admin URL, https://127.0.0.1:ADMINPORT/"
url=${url%/}
is "$(field "$dir/out1" "Sign in as")" admin "it says to sign in as admin"
pw1=$(field "$dir/out1" Password | awk '{print $1}')
[ -n "$pw1" ] && [ "${#pw1}" -ge 12 ] && [ "$pw1" = "$(cat "$dir/admin.pass")" ]
ok $? "it prints the admin password, the one kept in admin.pass"
is "$(stat -c %a "$dir/admin.pass" 2>&1)" 600 "admin.pass is mode 0600"
pp1=$(field "$dir/out1" Passphrase)
like "$pp1" "^$PASS_RE\$" "it prints a passphrase of the form XXXX-XXXX-XXXX-XXXX-XXXX"
is "$pp1" "$(hctl passphrase show)" "the passphrase is havend's"

code=$(login "$pw1")
is "$code" 200 "POST /api/v1/session with the printed password: 200 (CA-verified HTTPS)"
cookie=$(tr -d '\r' <"$dir/login.h" | grep -i '^set-cookie:')
like "$cookie" "; *Secure(;|$)" "the session cookie is Secure"
like "$cookie" "; *HttpOnly(;|$)" "the session cookie is HttpOnly"
like "$cookie" "; *SameSite=Strict(;|$)" "the session cookie is SameSite=Strict"
like "$(jq -r .csrf_token "$dir/login.out" 2>&1)" '^[0-9a-f]{64}$' "the answer carries a CSRF token"
tok=$(printf '%s' "$cookie" | sed 's/^[^:]*: *//; s/;.*//')
st=$(curl -s --max-time 10 --cacert "$dir/state/ca.crt" -H "Cookie: $tok" \
    "$url/api/v1/status" | jq -r .database.state 2>&1)
is "$st" up "the cookie signs in: GET /api/v1/status answers, database up"
code=$(login "not-$pw1")
is "$code $(jq -r .error.code "$dir/login.out" 2>&1)" "401 bad_credentials" \
    "a wrong password: 401 bad_credentials"

# An agent enrolls during the first run.
cp=$(conf_get "$dir" control_port)
(umask 077; printf '%s\n' "$pp1" >"$dir/pass")
mkdir -p "$dir/agent"
echo "state_dir = $dir/agent/state" >"$dir/agent/agent.conf"
check "an agent enrolls with the printed passphrase" "$HAVEN_BIN/haven-agent" \
    -c "$dir/agent/agent.conf" enroll --cs "127.0.0.1:$cp" --passphrase-file "$dir/pass"
mid=$(jq -r .machine_id "$dir/agent/state/machine.json" 2>/dev/null)
ca1=$(sha256sum <"$dir/state/ca.crt")
srv1=$(sha256sum <"$dir/state/server.crt")

stop_run pid
like "$(cat "$dir/out1")" "stopping havend and MariaDB" "run.sh says it is stopping"

# --- Second run: the same state -------------------------------------------

start_run "$dir/out2"
if wait_for 90 running "$dir/out2"; then
	pass "a second run starts"
else
	fail "a second run starts"
	sed 's/^/# /' "$dir/out2"
fi
is "$(field "$dir/out2" "Admin UI")" "$url/" "the same admin URL"
is "$(field "$dir/out2" Password | awk '{print $1}')" "$pw1" "the same admin password"
is "$(field "$dir/out2" Passphrase)" "$pp1" "the same passphrase"
like "$(hctl machine list)" "^$mid " "the machine enrolled in the first run is still listed"
[ "$(sha256sum <"$dir/state/ca.crt")" = "$ca1" ] &&
    [ "$(sha256sum <"$dir/state/server.crt")" = "$srv1" ]
ok $? "the CA and server certificates were not regenerated"
is "$(login "$pw1")" 200 "signing in with the same password works"
check "the agent's heartbeat works against the second run" \
    "$HAVEN_BIN/haven-agent" -c "$dir/agent/agent.conf" heartbeat --once

stop_run group
