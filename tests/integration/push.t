#!/bin/bash
# Push install of the agent over SSH (issue 6) against a real sshd in a
# network namespace (tests/lib/sshd.sh), a real havend and MariaDB: a
# password account with sudo, a key account (root), a wrong password,
# the host key pinned on first use and a changed one refused, an
# unsupported OS (a uname wrapper first in PATH via a forced command), the
# pushed agent enrolling with a one-time token and heartbeating, its disk
# replicating to the real havend (recovered byte-identical), repair,
# remote uninstall (files, service and state gone, the machine revoked
# and on the CRL; again: nothing to remove; a wrong password: nothing
# changed).  A failed push revokes its token; a copy of the token taken
# during the install (as an intruder on the machine could) is refused
# afterwards; neither the token nor the passphrase shows in any command
# line (ps, and every command sshd ran, logged by a ForceCommand wrapper),
# the job, the audit log, havend's or sshd's log, or API answers.
# Needs root (ip netns, useradd), sshd, sudo; skipped otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"
. "$here/../lib/sshd.sh"

PKG=${HAVEN_AGENT_PKG:-$(cd "$here/../.." && pwd)/build/agent/haven-agent-0.1.0.tar.gz}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root for ip netns and useradd"
for c in ip /usr/sbin/sshd ssh-keygen sudo useradd; do
	command -v "$c" >/dev/null || skip_all "needs $c"
done
[ -f "$PKG" ] || skip_all "no agent package $PKG (make agent-package)"

dir=$(mktemp -d /tmp/haven-push.t.XXXXXX)
chmod 0755 "$dir"
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
user=hvpush$$
user=${user:0:16}
cleanup() {
	trap '' INT TERM HUP
	[ -x "$dir/root/etc/init.d/haven-agent" ] &&
	    "$dir/root/etc/init.d/haven-agent" stop >/dev/null 2>&1
	havend_teardown "$dir" >/dev/null 2>&1
	sshd_ns_stop "$dir/ssh" >/dev/null 2>&1
	userdel "$user" >/dev/null 2>&1
	rm -f "/etc/sudoers.d/$user"
	[ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 68

# The "protected host": its files under $dir/root (HAVEN_AGENT_PREFIX,
# set for every SSH session by sshd's SetEnv), a sudo user with a
# password, and root with a key.
mkdir -p "$dir/ssh" "$dir/root" "$dir/home" "$dir/fakebin"
pw=$(openssl rand -hex 12)
useradd -M -d "$dir/home" -s /bin/sh "$user" || { fail "useradd"; exit 1; }
echo "$user:$pw" | chpasswd
echo "$user ALL=(ALL) ALL" >"/etc/sudoers.d/$user"
chmod 0440 "/etc/sudoers.d/$user"
# ed25519: libssh2 1.10 signs RSA only with SHA-1, which OpenSSH 9 refuses.
ssh-keygen -q -t ed25519 -N '' -C haven-push -f "$dir/id_rsa"
mkdir -p "$dir/ssh/authorized_keys"
cp "$dir/id_rsa.pub" "$dir/ssh/authorized_keys/root"
prefix_env="SetEnv HAVEN_AGENT_PREFIX=$dir/root"
# The password user's sessions go through a wrapper that logs each
# command sshd runs and copies any push token it finds (what an intruder
# on the machine could do during the install).
mkdir -p "$dir/spy"
chmod 1777 "$dir/spy"
cat >"$dir/spy.sh" <<SPY
#!/bin/sh
printf '%s\n' "\$SSH_ORIGINAL_COMMAND" >>"$dir/spy/commands"
for f in /tmp/haven-push.*/token; do
	[ -f "\$f" ] && cp "\$f" "$dir/spy/stolen-token"
done
case "\$SSH_ORIGINAL_COMMAND" in
internal-sftp) exec /usr/lib/openssh/sftp-server ;;
esac
exec /bin/sh -c "\$SSH_ORIGINAL_COMMAND"
SPY
chmod 0755 "$dir/spy.sh"
spy_env="Match User $user
ForceCommand $dir/spy.sh"
sshd_ns_start "$dir/ssh" "$prefix_env" "$spy_env" ||
    { fail "sshd in a netns"; exit 1; }
pass "sshd listening on $SSHD_ADDR inside a network namespace"

# havend's control port must be reachable from the namespace.
havend_setup "$dir" || exit 1
sed -i "s/^listen_address = .*/listen_address = $SSHD_HOST_ADDR/" \
    "$dir/havend.conf"
# No mt_address: the drain finds this appliance's own master target on
# the address havend listens on (the veth address, not 127.0.0.1).
havend_start "$dir" || exit 1
mkdir -p "$dir/state/repository"
cp "$PKG" "$dir/state/repository/"
cport=$(conf_get "$dir" control_port)
dport=$(conf_get "$dir" data_port)
ns=$(cat "$dir/ssh/netns")
TOKEN_RE='hvt1\.[0-9a-f]{16}\.[0-9a-f]{64}'
api() {	# PATH: a GET on the unix socket
	curl -s --max-time 20 --unix-socket "$dir/havend.sock" "http://localhost$1"
}
ptoken() {	# JQ-FILTER over the push tokens, newest first
	hctl --json token list | jq -r "[.tokens[] | select(.purpose == \"push\")] | $1"
}
# ps_watch: every command line on the host while a push runs (the
# namespace shares the process table), until ps_stop.
ps_watch() {
	rm -f "$dir/ps.stop"
	( while [ ! -e "$dir/ps.stop" ]; do ps -eo args; sleep 0.02; done \
	    >>"$dir/ps.log" 2>&1 ) &
	ps_pid=$!
}
ps_stop() { touch "$dir/ps.stop"; wait "$ps_pid"; }

secret() { printf '%s' "$2" >"$dir/$1.secret"; chmod 0600 "$dir/$1.secret"; }
secret pw "$pw"
secret bad "not-$pw"
cp "$dir/id_rsa" "$dir/key.secret"; chmod 0600 "$dir/key.secret"
hctl account add pw --kind push --user "$user" --secret-file "$dir/pw.secret" \
    --sudo >/dev/null && hctl account add bad --kind push --user "$user" \
    --secret-file "$dir/bad.secret" --sudo >/dev/null && hctl account add key \
    --kind push --user root --secret-file "$dir/key.secret" >/dev/null
ok $? "push accounts: password with sudo, wrong password, root key"

push() { hctl push-install "$@" 2>&1; }
# has GOT FIXED-STRING DESCRIPTION (fingerprints hold + and /)
has() {
	if printf '%s' "$1" | grep -qF -- "$2"; then pass "$3"; else
		fail "$3"; diag "got:  '$(printf '%s' "$1" | head -c 2000)'"
		diag "want: '$2'"; fi
}
fp=$(sshd_fingerprint "$dir/ssh")

# A wrong password: refused with a reason; the host key is still pinned.
out=$(push $SSHD_ADDR --account bad); rc=$?
is "$rc" 1 "wrong password: exit 1"
like "$out" "refused the password of user '$user'" "wrong password: says so"
has "$out" "first connection: recorded the host key of $SSHD_ADDR:22: $fp" \
    "first use: the host key is recorded and shown"
is "$(cat "$dir/state/push_known_hosts")" "$SSHD_ADDR:22 $fp" \
    "pinned in state_dir/push_known_hosts"

# A push whose install fails after the token was made (the agent cannot
# reach this CS's control port): the job fails and its token is revoked.
closed=$(free_port)
out=$(push $SSHD_ADDR --account pw --cs "$SSHD_HOST_ADDR:$closed" --wait 5)
rc=$?
is "$rc" 1 "a push whose enrollment fails: exit 1"
like "$(printf '%s' "$out" | tr '\n' ' ')" "install.sh failed on $SSHD_ADDR.*Connection refused.*enrollment failed" \
    "... says install.sh could not enroll"
is "$(ptoken '.[0].state + " " + .[0].target + " " + .[0].revoke_reason')" \
    "revoked $SSHD_ADDR the push install failed" \
    "... and its token is revoked, bound to the target"
rm -f "$dir/spy/stolen-token"

# The password account with sudo: installs, enrolls, heartbeats.
ps_watch
out=$(push $SSHD_ADDR --account pw --wait 60); rc=$?
ps_stop
is "$rc" 0 "password account with sudo: push install succeeds"
[ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
has "$out" "host key of $SSHD_ADDR:22 matches the pinned $fp" \
    "the pinned host key matches"
like "$out" "runs .*Linux x86_64.*sudo works" "OS and sudo checked"
like "$out" "uploaded the one-time enrollment token [0-9a-f]{16} \(mode 0600, valid 3600 s\)" \
    "a one-time token uploaded, valid enroll_token_ttl (1 h)"
tid=$(printf '%s' "$out" | sed -n 's/.*enrollment token \([0-9a-f]\{16\}\) (mode.*/\1/p')
job=$(hctl --json job list | jq -r '[.jobs[] | select(.kind == "push")][0].id')
like "$out" "enrollment token $tid used by machine [0-9a-f-]{36}" \
    "the job says the token was used, and by which machine"
like "$out" "machine [0-9a-f-]{36} enrolled and heartbeating" \
    "the agent enrolled and heartbeats"
mid=$(jq -r .machine_id "$dir/root/var/lib/haven-agent/machine.json")
st=$(hctl machine list --json | jq -r --arg id "$mid" \
    '.machines[] | select(.id == $id) | .status')
like "$st" "enrolled|connected" "the machine is in the CS's list ($st)"
is "$(ptoken ".[] | select(.id == \"$tid\") | [.state, .target, (.job | tostring), .machine_id] | join(\" \")")" \
    "used $SSHD_ADDR $job $mid" \
    "token list: used, bound to the target and the job, by this machine"
[ -x "$dir/root/usr/local/sbin/haven-agent" ] && \
    grep -q "^cs = $SSHD_HOST_ADDR:$cport" "$dir/root/etc/haven/agent.conf"
ok $? "binary in PREFIX/usr/local/sbin, agent.conf names the CS"
"$dir/root/etc/init.d/haven-agent" status >/dev/null
ok $? "no systemd: the fallback init script runs the agent"
left=$(ls -d /tmp/haven-push.?????? 2>/dev/null | grep -v "^$dir" | wc -l)
is "$left" 0 "no temporary directory (nor the token) left on the machine"
pass_phrase=$(hctl passphrase show 2>/dev/null | tail -n 1)
if [ -n "$pass_phrase" ] && grep -rqF "$pass_phrase" "$dir/root" \
    "$dir/ssh/sshd.log" "$dir/havend.log" 2>/dev/null; then
	fail "the passphrase is nowhere on the machine or in the logs"
else
	pass "the passphrase is nowhere on the machine or in the logs"
fi

# The token, copied by the spy while install.sh had not yet run, is the
# one the job made; used once, it is refused.
grep -qE "^$TOKEN_RE\$" "$dir/spy/stolen-token" 2>/dev/null &&
    grep -q "^hvt1\.$tid\." "$dir/spy/stolen-token"
ok $? "the spy copied the pushed token during the install (the check below can see one)"
install -m 0600 "$dir/spy/stolen-token" "$dir/stolen"
mkdir -p "$dir/intruder"
echo "state_dir = $dir/intruder/state" >"$dir/intruder/agent.conf"
out=$("$dir/root/usr/local/sbin/haven-agent" -c "$dir/intruder/agent.conf" \
    enroll --cs "$SSHD_HOST_ADDR:$cport" --token-file "$dir/stolen" 2>&1)
is "$?" 1 "the copied token, used again: refused"
like "$out" "this enrollment token was already used at [0-9-]+ [0-9:]+ UTC by $(hostname) \($SSHD_ADDR, machine $mid\): start the push install again" \
    "... saying when, by which host, and what to do"

# Where neither the token nor the passphrase may be.
stolen=$(cat "$dir/stolen")
leaks=""
for f in "$dir/ps.log" "$dir/spy/commands" "$dir/ssh/sshd.log" \
    "$dir/havend.log"; do
	grep -qF -e "$stolen" -e "$pass_phrase" "$f" && leaks="$leaks $f"
	grep -qE "$TOKEN_RE" "$f" && leaks="$leaks $f(token)"
done
for p in /api/v1/jobs "/api/v1/jobs/$job" /api/v1/audit /api/v1/tokens \
    /api/v1/machines /api/v1/status; do
	api "$p" >"$dir/answer.json"
	grep -qF -e "$stolen" -e "$pass_phrase" "$dir/answer.json" &&
	    leaks="$leaks $p"
	grep -qE "$TOKEN_RE" "$dir/answer.json" && leaks="$leaks $p(token)"
done
is "$leaks" "" "no token or passphrase in ps, sshd's commands or log, havend's log, the job, the audit log, API answers"
like "$(grep -c "install.sh --cs $SSHD_HOST_ADDR:$cport --token-file /tmp/haven-push\.[A-Za-z0-9]*/token" \
    "$dir/ps.log" "$dir/spy/commands" | paste -sd' ')" ":[1-9][0-9]* .*:[1-9]" \
    "... which did see the install command (a file name, not the token)"

# --- The pushed agent replicates a disk to this havend ---------------------
# A 24 MiB file disk on the "machine": random data with holes.  The
# installed service (init script, in the namespace) streams it to the
# data port; the point is recovered and compared byte for byte.
MiB=$((1 << 20))
disk=$dir/root/data/disk0.img
mkdir -p "$dir/root/data"
head -c $((24 * MiB)) /dev/urandom >"$disk"
dd if=/dev/zero of="$disk" bs=$MiB seek=8 count=5 conv=notrunc status=none
cat >>"$dir/root/etc/haven/agent.conf" <<CONF
disks = $disk
ps = $SSHD_HOST_ADDR:$dport
snapshot = none
interval = 10
app_consistent_interval = 0
quiesce_dir = $dir/root/etc/haven/quiesce.d
CONF
cp "$disk" "$dir/ref0.img"
ip netns exec "$ns" "$dir/root/etc/init.d/haven-agent" restart >/dev/null
ok $? "the installed service restarts with a disk (in the machine's namespace)"
points() { hctl points list "$mid" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $1 }'; }
has_points() { [ "$(points | wc -l)" -ge "$1" ]; }
wait_for 90 has_points 1
rc=$?
ok $rc "a recovery point of the pushed machine is listed"
if [ $rc != 0 ]; then
	tail -n 15 "$dir/root/var/log/haven-agent.log" | sed 's/^/# agent: /'
	grep -i "stream\|data\|shard" "$dir/havend.log" | tail -n 10 |
	    sed 's/^/# havend: /'
fi
p1=$(points | sort -n | tail -n 1)
img=$(printf '%s' "${disk#/}" | tr / _).img
hctl recover "$mid" --point "$p1" --out "$dir/rec1" >"$dir/recover.out" 2>&1 &&
    cmp "$dir/rec1/$img" "$dir/ref0.img"
ok $? "point $p1 recovered byte-identical to the disk"
# Change 1 MiB and wait for a point taken after it (interval 10 s; a
# point's id is at least the unix time its cycle started).
cp "$disk" "$dir/ref1.img"
dd if=/dev/urandom of="$dir/ref1.img" bs=$MiB seek=3 count=1 conv=notrunc \
    status=none
cp "$dir/ref1.img" "$disk.new" && mv "$disk.new" "$disk"
changed=$(( $(date +%s) + 1 ))
point_after() { [ "$(points | sort -n | tail -n 1)" -ge "$changed" ] 2>/dev/null; }
wait_for 60 point_after
ok $? "a point taken after the disk changed"
p2=$(points | sort -n | tail -n 1)
hctl recover "$mid" --point "$p2" --out "$dir/rec2" >>"$dir/recover.out" 2>&1 &&
    cmp "$dir/rec2/$img" "$dir/ref1.img"
rc=$?
ok $rc "point $p2 recovered byte-identical to the changed disk"
[ $rc = 0 ] || sed 's/^/# /' "$dir/recover.out" | tail -n 5

# The key account (root): a repair of the installed agent, same machine.
out=$(push $SSHD_ADDR --account key --wait 60); rc=$?
is "$rc" 0 "key account (root): push again succeeds (repair)"
[ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
like "$out" "logged in as root with a key" "logged in with the key"
like "$out" "machine $mid enrolled" "the same machine, not enrolled anew"
like "$out" "machine $mid was enrolled already: enrollment token [0-9a-f]{16} revoked unused" \
    "the token a repair did not need is revoked"
rtid=$(printf '%s' "$out" | sed -n 's/.*enrollment token \([0-9a-f]\{16\}\) revoked unused.*/\1/p')
is "$(ptoken ".[] | select(.id == \"$rtid\") | .state + \" \" + .revoke_reason")" \
    "revoked not needed: the machine was enrolled already" "... token list says so"

# An unsupported OS: uname says FreeBSD, through a forced command that
# puts a wrapper first in PATH for this key (sshd's SetEnv cannot
# override the PATH it sets itself).
printf '#!/bin/sh\necho FreeBSD amd64\n' >"$dir/fakebin/uname"
chmod 0755 "$dir/fakebin/uname"
cp "$dir/ssh/authorized_keys/root" "$dir/authorized_keys.real"
printf 'command="PATH=%s:$PATH; eval \\"$SSH_ORIGINAL_COMMAND\\"" %s\n' \
    "$dir/fakebin" "$(cat "$dir/id_rsa.pub")" >"$dir/ssh/authorized_keys/root"
out=$(push $SSHD_ADDR --account key); rc=$?
is "$rc" 1 "unsupported OS: exit 1"
like "$out" "not supported: it runs .*FreeBSD amd64.*Linux on x86_64 only" \
    "unsupported OS: says what it is and what is supported"
cp "$dir/authorized_keys.real" "$dir/ssh/authorized_keys/root"

# A changed host key: refused, naming both, before any credential.
sshd_new_host_key "$dir/ssh"
sshd_restart "$dir/ssh" "$prefix_env"
fp2=$(sshd_fingerprint "$dir/ssh")
n0=$(grep -c "Accepted\|Failed" "$dir/ssh/sshd.log")
out=$(push $SSHD_ADDR --account key); rc=$?
is "$rc" 1 "changed host key: exit 1"
has "$out" "host key of $SSHD_ADDR:22 changed: was $fp, now $fp2" \
    "changed host key: names both fingerprints"
is "$(grep -c "Accepted\|Failed" "$dir/ssh/sshd.log")" "$n0" \
    "no authentication was attempted"
out=$(push $SSHD_ADDR --account key --host-key "$fp2" --wait 60); rc=$?
is "$rc" 0 "the operator accepts the new key with --host-key"
[ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'

# --- Remote uninstall (havenctl push-uninstall) -----------------------------
# The machine as installed: the service's pid, the certificate's serial.
agent_pid=$(cat "$dir/root/run/haven-agent.pid" 2>/dev/null)
serial=$(openssl x509 -in "$dir/root/var/lib/haven-agent/agent.crt" -noout \
    -serial | sed 's/^serial=//' | tr A-Z a-z)
mst() { hctl machine list --json | jq -r --arg id "$mid" \
    '.machines[] | select(.id == $id) | .status'; }
crl_has() { openssl crl -in "$dir/state/crl.pem" -noout -text |
    tr A-Z a-z | tr -d ' :' | grep -q "serialnumber$1"; }

# A wrong password: refused before anything is touched.
out=$(hctl push-uninstall $SSHD_ADDR --account bad 2>&1); rc=$?
is "$rc" 1 "uninstall with a wrong password: exit 1"
like "$out" "push uninstall from $SSHD_ADDR failed: .*refused the password of user '$user'" \
    "... says the password was refused"
[ -x "$dir/root/usr/local/sbin/haven-agent" ] &&
    [ -f "$dir/root/var/lib/haven-agent/machine.json" ] &&
    kill -0 "$agent_pid" 2>/dev/null && [ "$(mst)" != revoked ] &&
    ! crl_has "$serial"
ok $? "... and changes nothing: files, running service, machine not revoked"

# The password account with sudo, by the machine's id: removed, checked,
# revoked.
out=$(hctl push-uninstall "$mid" --account pw 2>&1); rc=$?
is "$rc" 0 "push-uninstall MACHINE with the sudo account succeeds"
printf '%s\n' "$out" | sed 's/^/# /'
has "$out" "host key of $SSHD_ADDR:22 matches the pinned $fp2" \
    "uninstall: the same host-key pinning"
like "$(printf '%s' "$out" | tr '\n' ' ')" "logged in as $user with a password.*sudo works.*found haven-agent on $SSHD_ADDR \(machine $mid\): its service is running.*running .*/usr/local/sbin/haven-agent-install --uninstall with sudo.*stopping and removing the haven-agent service.*checked on $SSHD_ADDR: no agent files, service or state directory left.*revoked the certificate of machine $mid .*on the CRL" \
    "uninstall: every step reported, in order"
like "$out" "haven-agent removed from $mid; machine $mid revoked" "... and the outcome"
rest=$(find "$dir/root" -mindepth 1 ! -type d | grep -v "^$dir/root/data/" | head)
is "$rest" "" "nothing of the agent is left on the machine (files, links, log, pid file)"
rest=$(find "$dir/root" -type d \( -name haven-agent -o -name haven \) | head)
is "$rest" "" "... nor its state or configuration directory"
! kill -0 "$agent_pid" 2>/dev/null
ok $? "the agent's service (pid $agent_pid) is stopped"
is "$(mst)" revoked "the machine list shows the machine revoked"
crl_has "$serial"
ok $? "its certificate's serial $serial is on the CRL"
grep -q "revoked machine $mid: reloading the CRL" "$dir/havend.log"
ok $? "havend reloaded the CRL"
api /api/v1/audit | grep -q "push.uninstall"
ok $? "the uninstall is in the audit log"

# Again: nothing to remove, a success; nothing else revoked.
out=$(hctl push-uninstall $SSHD_ADDR --account key 2>&1); rc=$?
is "$rc" 0 "uninstall again: exit 0"
like "$out" "haven-agent is not installed on $SSHD_ADDR: nothing to remove" \
    "... says there is nothing to remove"

# Agent files without their uninstaller: refused, naming what is there.
mkdir -p "$dir/root/usr/local/sbin"
cp "$dir/id_rsa.pub" "$dir/root/usr/local/sbin/haven-agent"
out=$(hctl push-uninstall $SSHD_ADDR --account key 2>&1); rc=$?
is "$rc" 1 "agent files without the uninstaller: exit 1"
like "$out" "haven-agent is on $SSHD_ADDR \($dir/root/usr/local/sbin/haven-agent\) but its uninstaller, haven-agent-install, is missing: push install again" \
    "... names the file and the fix"
[ -f "$dir/root/usr/local/sbin/haven-agent" ]
ok $? "... and removes nothing"
rm -rf "$dir/root/usr"

# Usage errors.
out=$(hctl push-uninstall $SSHD_ADDR 2>&1); rc=$?
is "$rc" 2 "push-uninstall without --account: usage error"
like "$out" "missing --account" "... says what is missing"
out=$(curl -s --unix-socket "$dir/havend.sock" -X POST -d \
    '{"address":"10.0.0.1","account":"key","action":"remove"}' \
    http://localhost/api/v1/push-install)
like "$out" "'action' must be .*install.* or .*uninstall" "API: an unknown action is refused"

# Installed again (a new machine: the old one's state went), then removed
# with --keep-enrollment: the machine is not revoked.
out=$(push $SSHD_ADDR --account key --wait 60); rc=$?
mid2=$(printf '%s' "$out" | sed -n 's/^machine \([0-9a-f-]*\) enrolled and heartbeating.*/\1/p')
[ $rc = 0 ] && [ -n "$mid2" ] && [ "$mid2" != "$mid" ]
ok $? "pushed again after the uninstall: a new machine ($mid2) enrolls"
out=$(hctl push-uninstall $SSHD_ADDR --account key --keep-enrollment 2>&1); rc=$?
is "$rc" 0 "push-uninstall --keep-enrollment succeeds"
like "$out" "machine $mid2 keeps its enrollment" "... and says the machine keeps its enrollment"
like "$(mid=$mid2 mst)" "enrolled|connected|disconnected" "... which is not revoked"
