#!/bin/bash
# The private MariaDB of tests/lib/mariadb.sh (no account without a
# password, the haven account works, reuse keeps data), then the
# database operations and migrations against it (build/tests/test_db_ops).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${HAVEN_BIN:-$root/build/bin}
driver=$(dirname "$bin")/tests/test_db_ops
mdb() { sh "$root/tests/lib/mariadb.sh" "$@"; }

dir=$(mktemp -d /tmp/haven-db.XXXXXX)
cleanup() {
	mdb stop "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	[ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/#   /'
}
# expect_ok DESC CMD...: CMD must succeed.
expect_ok() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$out"; fi
}
# expect_refused DESC CMD...: CMD must fail with "Access denied".
expect_refused() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$desc" "it let us in: $out"
	elif printf '%s' "$out" | grep -q 'Access denied'; then
		pass "$desc"
	else
		fail "$desc" "failed, but not with Access denied: $out"
	fi
}
# mariadb client with no option files: only what we pass counts.
client() { mariadb --no-defaults --connect-timeout=5 -N -B "$@"; }

echo "1..15"

out=$(mdb start "$dir" 2>&1)
if [ $? -eq 0 ] && [ "$out" = "mariadb: ready on 127.0.0.1:$(cat "$dir/port" 2>/dev/null) ($dir)" ]; then
	pass "start prints exactly its ready line"
else
	fail "start prints exactly its ready line" "$out"
	echo "Bail out! the private MariaDB did not start"
	exit 1
fi
port=$(cat "$dir/port")
sock=$dir/mysql.sock

modes=$(stat -c '%n %a' "$dir/root.pass" "$dir/db.pass" "$dir/root.cnf")
if [ "$(printf '%s\n' "$modes" | awk '$2 != 600' | wc -l)" -eq 0 ]; then
	pass "password files are mode 0600"
else
	fail "password files are mode 0600" "$modes"
fi

expect_refused "root without a password over TCP is refused" \
    client -h 127.0.0.1 -P "$port" -u root -e 'SELECT 1'
expect_refused "root without a password over the socket is refused" \
    client --protocol=socket -S "$sock" -u root -e 'SELECT 1'
expect_refused "haven without a password is refused" \
    client -h 127.0.0.1 -P "$port" -u haven -e 'SELECT 1'
expect_refused "an unknown account without a password is refused" \
    client -h 127.0.0.1 -P "$port" -u "nosuch$$" -e 'SELECT 1'

open=$(mariadb --defaults-file="$dir/root.cnf" -N -B -e "
    SELECT CONCAT(User, '@', Host) FROM mysql.global_priv
    WHERE Host <> ''
    AND COALESCE(JSON_EXTRACT(Priv, '\$.account_locked'), 'false') <> 'true'
    AND COALESCE(JSON_VALUE(Priv, '\$.authentication_string'), '') = ''" 2>&1)
if [ $? -eq 0 ] && [ -z "$open" ]; then
	pass "root (with root.pass) sees no account without a password"
else
	fail "root (with root.pass) sees no account without a password" "$open"
fi

(umask 077; printf '[client]\nuser=haven\npassword=%s\n' \
    "$(cat "$dir/db.pass")" > "$dir/haven.cnf")
who=$(mariadb --defaults-file="$dir/haven.cnf" -N -B -h 127.0.0.1 \
    -P "$port" haven -e 'SELECT CURRENT_USER()' 2>&1)
if [ "$who" = "haven@127.0.0.1" ]; then
	pass "haven with its password works over TCP"
else
	fail "haven with its password works over TCP" "$who"
fi
who=$(mariadb --defaults-file="$dir/haven.cnf" -N -B --protocol=socket \
    -S "$sock" haven -e 'SELECT CURRENT_USER()' 2>&1)
if [ "$who" = "haven@localhost" ]; then
	pass "haven with its password works over the socket"
else
	fail "haven with its password works over the socket" "$who"
fi

listen=$(ss -Htln "sport = :$port" | awk '{print $4}')
if [ "$listen" = "127.0.0.1:$port" ]; then
	pass "the server listens on 127.0.0.1 only"
else
	fail "the server listens on 127.0.0.1 only" "$listen"
fi

envout=$(mdb env "$dir")
(
	eval "$envout"
	[ "$HAVEN_DB_PORT" = "$port" ] && [ -S "$HAVEN_DB_SOCKET" ] &&
	    [ "$HAVEN_DB_PASSWORD_FILE" = "$dir/db.pass" ]
) && pass "env prints usable HAVEN_DB_* assignments" ||
    fail "env prints usable HAVEN_DB_* assignments" "$envout"

if [ ! -x "$driver" ]; then
	fail "test_db_ops against the private server" \
	    "$driver is missing: build it first (make all)"
else
	out=$(HAVEN_TEST_DB_SOCKET=$sock \
	    HAVEN_TEST_DB_PASSWORD_FILE=$dir/db.pass "$driver" 2>&1)
	if [ $? -eq 0 ]; then
		pass "test_db_ops against the private server"
		printf '%s\n' "$out" | grep -E '^\[ *(PASSED|OK)' | sed 's/^/# /'
	else
		fail "test_db_ops against the private server" "$out"
	fi
fi

# A second start of the same directory keeps everything.
pass_before=$(cat "$dir/db.pass")
mariadb --defaults-file="$dir/haven.cnf" --protocol=socket -S "$sock" haven \
    -e 'CREATE TABLE keepme (x INT); INSERT INTO keepme VALUES (42)' 2>&1
mdb stop "$dir"
if [ -S "$sock" ] || client --protocol=socket -S "$sock" -e 'SELECT 1' \
    >/dev/null 2>&1; then
	fail "stop stops the server"
else
	pass "stop stops the server"
fi
out=$(mdb start "$dir" 2>&1)
kept=$(mariadb --defaults-file="$dir/haven.cnf" -N -B --protocol=socket \
    -S "$sock" haven -e 'SELECT x FROM keepme' 2>&1)
if [ "$kept" = 42 ] && [ "$(cat "$dir/port")" = "$port" ] &&
    [ "$(cat "$dir/db.pass")" = "$pass_before" ]; then
	pass "a second start reuses the data, the port and the passwords"
else
	fail "a second start reuses the data, the port and the passwords" \
	    "$out / keepme: $kept / port $(cat "$dir/port") was $port"
fi

out="$driver is missing"
if [ -x "$driver" ] && out=$(HAVEN_TEST_DB_SOCKET=$sock \
    HAVEN_TEST_DB_PASSWORD_FILE=$dir/db.pass "$driver" 2>&1); then
	pass "test_db_ops again on the reused server (migrations a no-op)"
else
	fail "test_db_ops again on the reused server (migrations a no-op)" \
	    "$out"
fi
