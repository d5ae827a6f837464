#!/bin/sh
# A private MariaDB server for tests and `make run`, all of it in one
# directory: it never touches /var/lib/mysql, /etc/mysql or systemd.
#
#	mariadb.sh start DIR [PORT]	initialise (first time) and start
#	mariadb.sh stop DIR		stop it
#	mariadb.sh env DIR		HAVEN_DB_* shell assignments
#
# DIR holds data/, mysql.sock, mariadb.pid, mariadb.log, port, and the
# secrets root.pass, db.pass and root.cnf (mode 0600).  A second start
# of the same DIR reuses everything.  After the first start no account
# can log in without a password; database `haven` belongs to user
# `haven` (@127.0.0.1 and @localhost) whose password is in db.pass.
set -eu

MARIADBD=/usr/sbin/mariadbd

die() {
	echo "mariadb: $*" >&2
	# Do not leave a half-started server behind.
	if [ "${launched:-0}" = 1 ]; then
		launched=0
		cmd_stop
	fi
	exit 1
}

usage() {
	echo "usage: $0 start DIR [PORT] | stop DIR | env DIR" >&2
	exit 2
}

# Password for SQL: hex only, so it needs no quoting anywhere.
gen_password() {
	od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

port_free() {
	! ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

pick_port() {
	if command -v python3 >/dev/null 2>&1 && python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null; then
		return 0
	fi
	n=0
	while [ $n -lt 200 ]; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 + 20000 ))
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
		n=$((n + 1))
	done
	die "no free TCP port found on 127.0.0.1"
}

# The pid of the server running from DIR, or nothing.
running_pid() {
	[ -f "$dir/mariadb.pid" ] || return 0
	pid=$(cat "$dir/mariadb.pid" 2>/dev/null || true)
	case "$pid" in
	''|*[!0-9]*) return 0 ;;
	esac
	# A stale pid file may name a process that is not ours any more.
	if [ -r "/proc/$pid/comm" ] &&
	    [ "$(cat "/proc/$pid/comm")" = mariadbd ]; then
		echo "$pid"
	fi
}

ping_server() {
	# ping succeeds as soon as the server answers, even when the
	# account is refused: that is all we want to know here.
	mariadb-admin --no-defaults --protocol=socket \
	    --socket="$dir/mysql.sock" --user=root --connect-timeout=2 \
	    ping >/dev/null 2>&1
}

log_tail() {
	echo "--- last lines of $dir/mariadb.log:" >&2
	tail -n 25 "$dir/mariadb.log" >&2 2>/dev/null || true
}

wait_ready() {
	n=0
	while [ $n -lt 600 ]; do
		if ping_server; then
			return 0
		fi
		if [ -n "${srv_pid:-}" ] && ! kill -0 "$srv_pid" 2>/dev/null &&
		    [ -z "$(running_pid)" ]; then
			log_tail
			die "mariadbd exited during start-up (see $dir/mariadb.log)"
		fi
		sleep 0.1
		n=$((n + 1))
	done
	log_tail
	die "mariadbd did not answer within 60 s (see $dir/mariadb.log)"
}

# SQL as root over the socket; before the first setup root has no
# password, afterwards root.cnf holds it.
sql_root() {
	if [ -f "$dir/root.cnf" ]; then
		mariadb --defaults-file="$dir/root.cnf" -N -B "$@"
	else
		mariadb --no-defaults --protocol=socket \
		    --socket="$dir/mysql.sock" --user=root -N -B "$@"
	fi
}

# First start only: passwords, accounts, the haven database.
secure_setup() {
	rootpw=$(gen_password)
	dbpw=$(gen_password)
	# Every account mariadb-install-db made except root@localhost,
	# the locked mariadb.sys and roles (Host '') goes: none of them
	# has a password.
	accounts=$(sql_root -e "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host))
	    FROM mysql.global_priv WHERE Host <> ''
	    AND NOT (User = 'root' AND Host = 'localhost')
	    AND User <> 'mariadb.sys'") ||
	    die "cannot list the accounts of the new server"
	drops=""
	for a in $accounts; do
		drops="$drops
DROP USER $a;"
	done
	(umask 077
	 printf '%s\n' "$rootpw" > "$dir/root.pass.tmp"
	 printf '%s\n' "$dbpw" > "$dir/db.pass.tmp"
	 printf '[client]\nuser=root\npassword=%s\nprotocol=socket\nsocket=%s\n' \
	     "$rootpw" "$dir/mysql.sock" > "$dir/root.cnf.tmp")
	sql_root <<EOF || die "securing the new server failed (see above)"
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password
    USING PASSWORD('$rootpw');
$drops
CREATE DATABASE IF NOT EXISTS haven
    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER 'haven'@'127.0.0.1' IDENTIFIED BY '$dbpw';
CREATE USER 'haven'@'localhost' IDENTIFIED BY '$dbpw';
GRANT ALL ON haven.* TO 'haven'@'127.0.0.1';
GRANT ALL ON haven.* TO 'haven'@'localhost';
FLUSH PRIVILEGES;
EOF
	mv "$dir/root.pass.tmp" "$dir/root.pass"
	mv "$dir/db.pass.tmp" "$dir/db.pass"
	mv "$dir/root.cnf.tmp" "$dir/root.cnf"
	# Belt and braces: refuse to hand out a server where an account
	# without a password could log in.
	open=$(sql_root -e "SELECT CONCAT(User, '@', Host)
	    FROM mysql.global_priv WHERE Host <> ''
	    AND COALESCE(JSON_EXTRACT(Priv, '\$.account_locked'), 'false')
	        <> 'true'
	    AND COALESCE(JSON_VALUE(Priv, '\$.authentication_string'), '')
	        = ''") || die "cannot check the accounts of the new server"
	[ -z "$open" ] || die "accounts without a password remain: $open"
	touch "$dir/initialised"
}

cmd_start() {
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ -n "$(running_pid)" ]; then
		srv_pid=$(running_pid)
		wait_ready
		echo "mariadb: ready on 127.0.0.1:$(cat "$dir/port") ($dir)"
		return 0
	fi
	[ -x "$MARIADBD" ] || die "$MARIADBD is missing: apt-get install mariadb-server"
	fresh=0
	if [ ! -f "$dir/initialised" ]; then
		# A first start that died half-way: nothing of ours is in
		# there yet, so start over.
		rm -rf "$dir/data" "$dir/root.pass" "$dir/db.pass" \
		    "$dir/root.cnf" "$dir"/*.tmp
		mkdir -p "$dir/data"
		# Its own tmpdir: a starting mariadbd deletes every #sql*
		# file in its tmpdir, including those of other servers
		# sharing /tmp (concurrent installs then fail with
		# "Unknown table 'mysql.tmp_user_sys'").
		mkdir -p "$dir/tmp"
		if ! TMPDIR=$dir/tmp mariadb-install-db --no-defaults \
		    --datadir="$dir/data" \
		    --user=root --auth-root-authentication-method=normal \
		    --skip-test-db >"$dir/install.log" 2>&1; then
			tail -n 25 "$dir/install.log" >&2
			die "mariadb-install-db failed (see $dir/install.log)"
		fi
		fresh=1
	fi
	if [ -n "$port" ]; then
		:
	elif [ -f "$dir/port" ] && port_free "$(cat "$dir/port")"; then
		port=$(cat "$dir/port")
	else
		port=$(pick_port)
	fi
	echo "$port" > "$dir/port"
	rm -f "$dir/mariadb.pid"
	# setsid and no inherited stdio: the server must not die with the
	# caller's terminal nor hold a test harness's pipes open.
	mkdir -p "$dir/tmp"
	setsid "$MARIADBD" --no-defaults --user=root --tmpdir="$dir/tmp" \
	    --datadir="$dir/data" --socket="$dir/mysql.sock" \
	    --pid-file="$dir/mariadb.pid" --port="$port" \
	    --bind-address=127.0.0.1 --skip-name-resolve \
	    --log-error="$dir/mariadb.log" \
	    --character-set-server=utf8mb4 \
	    --collation-server=utf8mb4_unicode_ci \
	    --innodb-buffer-pool-size=64M \
	    </dev/null >>"$dir/mariadb.log" 2>&1 &
	srv_pid=$!
	launched=1
	wait_ready
	if [ $fresh -eq 1 ]; then
		secure_setup
	fi
	echo "mariadb: ready on 127.0.0.1:$port ($dir)"
}

cmd_stop() {
	pid=$(running_pid)
	if [ -z "$pid" ]; then
		rm -f "$dir/mariadb.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	n=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ $n -ge 300 ]; then
			echo "mariadb: $pid did not stop within 30 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
		n=$((n + 1))
	done
	rm -f "$dir/mariadb.pid"
}

cmd_env() {
	[ -f "$dir/port" ] || die "$dir has never been started"
	echo "HAVEN_DB_PORT=$(cat "$dir/port")"
	echo "HAVEN_DB_SOCKET='$dir/mysql.sock'"
	echo "HAVEN_DB_PASSWORD_FILE='$dir/db.pass'"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port=${3:-}
case "$dir" in
/*) ;;
*) dir=$(pwd)/$dir ;;
esac
case "$port" in
*[!0-9]*) usage ;;
esac
case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
*) usage ;;
esac
