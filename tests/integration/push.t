#!/bin/bash
# Push install of the agent over SSH (issue 6) against a real sshd in a
# network namespace (tests/lib/sshd.sh), a real havend and MariaDB: a
# password account with sudo, a key account (root), a wrong password,
# the host key pinned on first use and a changed one refused, an
# unsupported OS (a uname wrapper first in PATH via a forced command), the
# pushed agent enrolling and heartbeating, repair, uninstall.
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
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 27

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
sshd_ns_start "$dir/ssh" "$prefix_env" || { fail "sshd in a netns"; exit 1; }
pass "sshd listening on $SSHD_ADDR inside a network namespace"

# havend's control port must be reachable from the namespace.
havend_setup "$dir" || exit 1
sed -i "s/^listen_address = .*/listen_address = $SSHD_HOST_ADDR/" \
    "$dir/havend.conf"
havend_start "$dir" || exit 1
mkdir -p "$dir/state/repository"
cp "$PKG" "$dir/state/repository/"
cport=$(conf_get "$dir" control_port)

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

# The password account with sudo: installs, enrolls, heartbeats.
out=$(push $SSHD_ADDR --account pw --wait 60); rc=$?
is "$rc" 0 "password account with sudo: push install succeeds"
[ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
has "$out" "host key of $SSHD_ADDR:22 matches the pinned $fp" \
    "the pinned host key matches"
like "$out" "runs .*Linux x86_64.*sudo works" "OS and sudo checked"
like "$out" "uploaded the one-time enrollment token" "token uploaded"
like "$out" "machine [0-9a-f-]{36} enrolled and heartbeating" \
    "the agent enrolled and heartbeats"
mid=$(jq -r .machine_id "$dir/root/var/lib/haven-agent/machine.json")
st=$(hctl machine list --json | jq -r --arg id "$mid" \
    '.machines[] | select(.id == $id) | .status')
like "$st" "enrolled|connected" "the machine is in the CS's list ($st)"
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

# The key account (root): a repair of the installed agent, same machine.
out=$(push $SSHD_ADDR --account key --wait 60); rc=$?
is "$rc" 0 "key account (root): push again succeeds (repair)"
[ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
like "$out" "logged in as root with a key" "logged in with the key"
like "$out" "machine $mid enrolled" "the same machine, not enrolled anew"

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

# Uninstall removes it cleanly.
"$dir/root/usr/local/sbin/haven-agent-install" --uninstall \
    --prefix "$dir/root" >/dev/null 2>&1
ok $? "haven-agent-install --uninstall"
rest=$(find "$dir/root" -type f | grep -v "/var/log/\|/run/" | head)
is "$rest" "" "nothing of the agent is left"
