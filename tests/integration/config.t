#!/bin/bash
# havend -n (check a configuration) and havend -k (list the keys): a good
# file passes, every error of a bad file is printed with its line number
# and a reason, a secret file readable by others is refused with the fix.
# No database and no daemon: only the config code of the real binary.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
root=$(cd "$here/../.." && pwd)
bin=${HAVEN_BIN:-$root/build/bin}
havend=$bin/havend

dir=$(mktemp -d /tmp/haven-config.XXXXXX)
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP

plan 31

if [ ! -x "$havend" ]; then
	echo "Bail out! $havend is missing: build it first (make)"
	exit 1
fi

# check FILE: run havend -n -f FILE; sets out (stdout+stderr) and rc.
check() {
	out=$("$havend" -n -f "$1" 2>&1)
	rc=$?
}
# line_of FILE REGEX: the number of the first line matching REGEX.
line_of() { grep -n -E -m1 -- "$2" "$1" | cut -d: -f1; }

(umask 077; echo 'not-a-real-password' > "$dir/db.pass")

cat > "$dir/good.conf" <<EOF
# A good configuration: every role on loopback, unprivileged ports.
roles = cs ps mt
listen_address = 127.0.0.1
control_port = 8443
admin_port = 44315
data_port = 9443
state_dir = $dir/state
socket_path = $dir/havend.sock
shards = 2
db_password_file = $dir/db.pass
log_level = debug
heartbeat_interval = 10
max_body = 64k
EOF

check "$dir/good.conf"
is "$rc" 0 "havend -n on a good configuration exits 0"
is "$out" "configuration OK" "havend -n on a good configuration prints exactly 'configuration OK'"
[ ! -e "$dir/state" ] && [ ! -e "$dir/havend.sock" ]
ok $? "havend -n creates nothing (no state_dir, no socket)"

# One file with five different mistakes: all of them must be reported,
# each with its line, not just the first.
cat > "$dir/bad.conf" <<EOF
# Five mistakes.
roles = cs ps mt
listen_address = 127.0.0.1
heartbeat_intervall = 5
control_port = 8443
admin_port = 8443
data_port = 443
db_port = 70000
state_dir = $dir/state
db_password_file = $dir/db.pass
log_level = loud
EOF
check "$dir/bad.conf"
b=$dir/bad.conf
[ "$rc" -ne 0 ]
ok $? "havend -n on a bad configuration exits non-zero (got $rc)"
unlike "$out" "configuration OK" "a bad configuration is not called OK"
like "$out" "^$b:$(line_of "$b" '^heartbeat_intervall'): unknown key 'heartbeat_intervall' \(did you mean 'heartbeat_interval'\?\)" \
    "unknown key: reported on its line with a suggestion"
like "$out" "^$b:$(line_of "$b" '^db_port'):.*db_port.*70000.*out of range.*1\.\.65535" \
    "out-of-range port: reported on its line with the allowed range"
like "$out" "^$b:$(line_of "$b" '^log_level'):.*log_level.*'loud'.*error, warning, info, debug" \
    "bad log_level: reported on its line with the allowed values"
like "$out" "data_port.*443.*(reserved|refused).*control port" \
    "data_port = 443 is refused with the reason (443 belongs to the control port)"
like "$out" "^$b:$(line_of "$b" '^data_port'): .*443" \
    "data_port = 443 is reported with the line number of data_port"
like "$out" "control_port and admin_port are both 8443" \
    "two equal ports are reported, naming both keys and the port"
like "$out" "^$b:($(line_of "$b" '^control_port')|$(line_of "$b" '^admin_port')): .*both 8443" \
    "two equal ports are reported with the line number of one of them"
like "$out" "$b: 5 errors" "the summary counts all five errors"
is "$(printf '%s\n' "$out" | grep -c "^$b")" 6 \
    "one line per error plus the summary, nothing else"

# Each mistake alone is an error too (no error hides behind another).
one_bad() {	# DESC LINE REGEX (@ in REGEX stands for "FILE:LINE")
	local key=${2%% *} f=$dir/one.conf
	{
		printf '%s\n' "listen_address = 127.0.0.1" \
		    "control_port = 8443" "admin_port = 44315" \
		    "data_port = 9443" "state_dir = $dir/state" \
		    "db_password_file = $dir/db.pass" |
		    grep -v "^$key = "
		printf '%s\n' "$2"
	} > "$f"
	check "$f"
	local re=${3//@/$f:$(line_of "$f" "^$2\$")}
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$re"; then
		pass "$1"
	else
		fail "$1"; diag "rc $rc: $out"; diag "want: /$re/"
	fi
}
one_bad "alone: data_port = 443 is refused, on its line" "data_port = 443" \
    "^@: .*data_port.*443"
one_bad "alone: data_port equal to control_port is refused, on a line" \
    "data_port = 8443" "^$dir/one.conf:(2|6): .*both 8443"
one_bad "alone: port 0 is out of range" "admin_port = 0" \
    "^@: admin_port: .*out of range"
one_bad "alone: a port that is not a number is refused" "admin_port = http" \
    "^@: admin_port: 'http' is not"
one_bad "alone: a line without '=' is an error" "shards 4" \
    "^@: .*missing '='"

printf 'control_port = 8443\ncontrol_port = 8444\n' > "$dir/twice.conf"
check "$dir/twice.conf"
like "$out" "^$dir/twice.conf:2: control_port is already set on line 1" \
    "a key set twice is reported on the second line, naming the first"

# The database password file must be readable by its owner only.
chmod 0644 "$dir/db.pass"
check "$dir/good.conf"
[ "$rc" -ne 0 ]
ok $? "db_password_file with mode 0644 is refused (exit $rc)"
like "$out" "^$dir/good.conf:$(line_of "$dir/good.conf" '^db_password_file'): db_password_file: .*$dir/db.pass" \
    "the refusal names the line and the file"
like "$out" "chmod 600 $dir/db.pass" "the refusal says how to fix it: chmod 600 FILE"
chmod 0640 "$dir/db.pass"
check "$dir/good.conf"
[ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q 'chmod 600'
ok $? "mode 0640 (group-readable) is refused too"
chmod 0600 "$dir/db.pass"
check "$dir/good.conf"
is "$rc/$out" "0/configuration OK" "after chmod 600 the configuration is OK again"

check "$dir/nonexistent.conf"
[ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "$dir/nonexistent.conf.*No such file"
ok $? "a missing configuration file is an error that names it"

# havend -k: every key with its default, type and whether SIGHUP applies.
keys=$("$havend" -k 2>&1)
rc=$?
is "$rc" 0 "havend -k exits 0"
missing=""
for kv in "control_port = 443" "admin_port = 44315" "data_port = 9443" \
    "log_level = info" "heartbeat_interval = 30" "roles = cs ps mt" \
    "db_password_file = /etc/haven/db.pass" "shards = 0" \
    "cert_days = 1095" "max_body = 1m"; do
	printf '%s\n' "$keys" | grep -qxF -- "$kv" || missing="$missing [$kv]"
done
is "$missing" "" "havend -k lists the keys with their defaults"
like "$(printf '%s\n' "$keys" | grep -A1 -x 'log_level = info')" \
    "reloaded on SIGHUP" "havend -k says log_level is applied by SIGHUP"
like "$(printf '%s\n' "$keys" | grep -A1 -x 'control_port = 443')" \
    "takes effect on restart" "havend -k says control_port needs a restart"

# The defaults havend -k prints are themselves a valid configuration
# (with a password file that exists).
printf '%s\n' "$keys" | grep -E '^[a-z_]+ = ' |
    sed "s|^db_password_file = .*|db_password_file = $dir/db.pass|" \
    > "$dir/defaults.conf"
nkeys=$(wc -l < "$dir/defaults.conf")
check "$dir/defaults.conf"
if [ "$rc" -eq 0 ] && [ "$out" = "configuration OK" ] && [ "$nkeys" -ge 20 ]; then
	pass "the $nkeys defaults listed by havend -k form a valid configuration"
else
	fail "the defaults listed by havend -k form a valid configuration"
	diag "$nkeys keys; rc $rc: $out"
fi
