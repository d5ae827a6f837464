#!/usr/bin/env bash
# Browser tests of the admin UI, run by `make check` (make e2e).
#
# Starts a private MariaDB and havend (tests/lib/havend.sh) in a temp
# directory on free ports, creates the sign-in accounts, enrolls two
# agents (one keeps beating, one goes quiet), starts the vSphere
# simulator (tests/lib/vcsim.sh) and, as root, an sshd in a network
# namespace (tests/lib/sshd.sh) for a real push install, then drives
# Debian's chromium with playwright-core under node's own test runner.
# Never downloads a browser.  Screenshots go to build/e2e-screenshots/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$top/build/bin}
export HAVEN_E2E_SHOTS=${HAVEN_E2E_SHOTS:-$top/build/e2e-screenshots}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/havend.sh"

die() { echo "e2e: $*" >&2; exit 1; }
[ -x "$CHROMIUM" ] || die "$CHROMIUM is missing: 'make deps' installs Debian's chromium"
command -v node >/dev/null && command -v npm >/dev/null ||
    die "node and npm are missing: 'make deps' installs them"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
    die "node $(node --version) is too old: playwright-core needs node 20 or later"
for b in havend havenctl haven-agent; do
	[ -x "$HAVEN_BIN/$b" ] || die "$HAVEN_BIN/$b is missing: run 'make' first"
done
# The push install pages need the agent package in the repository.
build=$(cd "$HAVEN_BIN/.." && pwd)
pkg=${HAVEN_AGENT_PKG:-$(ls -t "$build"/agent/haven-agent-*.tar.gz 2>/dev/null | head -n 1)}
[ -n "$pkg" ] && [ -f "$pkg" ] ||
    die "no agent package under $build/agent: run 'make BUILD=${build#$top/} agent-package' first"

# playwright-core only (it never fetches a browser), pinned by the lock.
if [ ! -f "$here/node_modules/playwright-core/package.json" ] ||
    [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
	(cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit \
	    --no-fund --ignore-scripts --loglevel=error) ||
	    die "npm ci failed in tests/e2e"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/haven-e2e.XXXXXX")
agent_pid=
socat_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	[ -s "$dir/replicate.pid" ] && kill "$(cat "$dir/replicate.pid")" 2>/dev/null
	BUILD=$build sh "$top/tests/lib/vcsim.sh" stop "$dir/vcsim" >/dev/null 2>&1
	if [ -f "$dir/ssh/netns" ]; then
		[ -x "$dir/root/etc/init.d/haven-agent" ] &&
		    "$dir/root/etc/init.d/haven-agent" stop >/dev/null 2>&1
		sshd_ns_stop "$dir/ssh" >/dev/null 2>&1
	fi
	[ -n "$socat_pid" ] && kill "$socat_pid" 2>/dev/null
	havend_teardown "$dir"
	if [ "${HAVEN_E2E_KEEP:-0}" = 1 ]; then
		echo "e2e: kept $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Beats every 5 s (the agent's minimum), so the quiet one is marked
# disconnected 15 s after its only heartbeat.
HAVEN_HEARTBEAT=5 havend_setup "$dir" || die "MariaDB did not start"
# The host end of the push test's veth pair (below): agents installed in
# the namespace reach havend there, so the certificate names it too.
push_host=10.200.0.5
echo "server_names = $push_host" >>"$dir/havend.conf"
# The RPO chart's samples every 2 s, so the browser sees them soon.
echo "history_interval = 2" >>"$dir/havend.conf"
havend_start "$dir" || die "havend did not start"
export HAVEN_E2E_URL="https://127.0.0.1:$(conf_get "$dir" admin_port)"
export HAVEN_E2E_STATE="$dir/state"

pw() { (umask 077; head -c 12 /dev/urandom | base64 | tr '+/' 'xy' >"$1"); }
pw "$dir/admin.pass"
pw "$dir/lock.pass"
hctl user add admin --password-file "$dir/admin.pass" >/dev/null ||
    die "cannot create the admin account"
hctl user add locktest --password-file "$dir/lock.pass" >/dev/null ||
    die "cannot create the locktest account"
export HAVEN_E2E_PASSWORD_FILE="$dir/admin.pass"

# A server certificate 30 days from expiry: the UI must warn (60 days)
# and renewing must show the new, 3-year expiry.  Same key, same CA.
st=$dir/state
openssl req -new -key "$st/server.key" -subj "/CN=$(hostname)" 2>/dev/null |
    openssl x509 -req -CA "$st/ca.crt" -CAkey "$st/ca.key" -days 30 \
    -set_serial "0x$(openssl rand -hex 12)" -out "$st/server.crt.new" \
    -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:%s\n' "$push_host") \
    2>/dev/null && mv "$st/server.crt.new" "$st/server.crt" ||
    die "cannot make the 30-day certificate fixture"

# /metrics with a bearer token.
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$st/metrics.token")

# Two agents: "db-01" beats once then goes quiet; "web-01" keeps beating.
hctl passphrase show | tail -n 1 >"$dir/passphrase"
chmod 600 "$dir/passphrase"
cp=$(conf_get "$dir" control_port)
enroll() {	# NAME [small]
	local n=$1
	mkdir -p "$dir/$n"
	if [ "${2:-}" = small ]; then
		# One 32 MiB disk of random data, sent at 2 MiB/s: an initial
		# sync of about 16 s the browser can watch.
		head -c 32M /dev/urandom >"$dir/$n/data.img"
		cat >"$dir/$n.conf" <<CONF
state_dir = $dir/$n/state
disks = $dir/$n/data.img
snapshot = none
throttle = 2m
CONF
	else
		truncate -s 20G "$dir/$n/sda.img"
		truncate -s 4G "$dir/$n/sdb.img"
		cat >"$dir/$n.conf" <<CONF
state_dir = $dir/$n/state
disks = $dir/$n/sda.img $dir/$n/sdb.img
CONF
	fi
	# Its own host name where the kernel lets us (root: a UTS namespace).
	local run="$HAVEN_BIN/haven-agent -c $dir/$n.conf"
	if unshare -u true 2>/dev/null; then
		run="unshare -u sh -c 'hostname $n; exec \"\$0\" \"\$@\"' $run"
	fi
	eval "$run enroll --cs 127.0.0.1:$cp --passphrase-file $dir/passphrase" \
	    >"$dir/$n.enroll" 2>&1 || { cat "$dir/$n.enroll" >&2; return 1; }
	"$HAVEN_BIN/haven-agent" -c "$dir/$n.conf" status |
	    sed -n 's/^machine id  *//p' >"$dir/$n.id"
	echo "$run"
}
quiet=$(enroll db-01) || die "cannot enroll db-01"
eval "$quiet heartbeat --once" >"$dir/db-01.hb" 2>&1 ||
    { cat "$dir/db-01.hb" >&2; die "db-01's heartbeat failed"; }
busy=$(enroll web-01 small) || die "cannot enroll web-01"
eval "exec $busy heartbeat" >"$dir/web-01.hb" 2>&1 &
agent_pid=$!
# The test starts web-01's replication once it has a policy (no ps in
# its config: the agent takes the data port from the heartbeat answer).
cat >"$dir/replicate.sh" <<SH
#!/bin/sh
echo \$\$ >"$dir/replicate.pid"
exec $busy -d replicate >>"$dir/web-01.repl" 2>&1
SH
export HAVEN_E2E_REPLICATE="$dir/replicate.sh"
export HAVEN_E2E_QUIET_ID=$(cat "$dir/db-01.id")
export HAVEN_E2E_BUSY_ID=$(cat "$dir/web-01.id")

# Discovery and push install (discovery.test.mjs) sign in as their own
# user: ui.test.mjs changes admin's password and signs it out.
pw "$dir/operator.pass"
hctl user add operator --password-file "$dir/operator.pass" >/dev/null ||
    die "cannot create the operator account"
export HAVEN_E2E_OPERATOR_PASSWORD_FILE="$dir/operator.pass"
export HAVEN_E2E_CONTROL_PORT=$cp
mkdir -p "$st/repository"
cp "$pkg" "$st/repository/" || die "cannot copy $pkg into the repository"

# The vSphere simulator, started as tests/integration/hypervisor.t does,
# with a password nothing else contains (the test greps for it).
export VCSIM_USER=haven VCSIM_PASSWORD="Vc-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-pw"
BUILD=$build sh "$top/tests/lib/vcsim.sh" build >"$dir/go.log" 2>&1 ||
    { cat "$dir/go.log" >&2; die "cannot build the vSphere simulator"; }
vcport=$(BUILD=$build sh "$top/tests/lib/vcsim.sh" start "$dir/vcsim" 12 2>"$dir/vcsim.err") &&
    [ -n "$vcport" ] || { cat "$dir/vcsim.err" >&2; die "the vSphere simulator did not start"; }
export HAVEN_E2E_VCSIM_PORT=$vcport HAVEN_E2E_VCSIM_DIR="$dir/vcsim" HAVEN_E2E_BUILD=$build
export HAVEN_E2E_VCSIM_THUMB=$(openssl x509 -in "$dir/vcsim/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')

# A push account's key (ed25519: libssh2 1.10 signs RSA with SHA-1 only).
ssh-keygen -q -t ed25519 -N '' -C haven-e2e -f "$dir/push_key" || die "ssh-keygen failed"
export HAVEN_E2E_PUSH_KEY="$dir/push_key"

# A real push install: sshd as root in a network namespace (its own
# /30, not push.t's, so both can run at once), the agent installed under
# $dir/root.  The namespace reaches havend, which listens on 127.0.0.1,
# through socat on the host end of the veth pair.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && [ -x /usr/sbin/sshd ] &&
    command -v socat >/dev/null; then
	. "$top/tests/lib/sshd.sh"
	SSHD_HOST_ADDR=$push_host SSHD_ADDR=10.200.0.6
	mkdir -p "$dir/ssh/authorized_keys" "$dir/root"
	cp "$dir/push_key.pub" "$dir/ssh/authorized_keys/root"
	if sshd_ns_start "$dir/ssh" "SetEnv HAVEN_AGENT_PREFIX=$dir/root" 2>"$dir/sshd.err"; then
		socat "TCP-LISTEN:$cp,bind=$SSHD_HOST_ADDR,reuseaddr,fork" "TCP:127.0.0.1:$cp" \
		    </dev/null >"$dir/socat.log" 2>&1 &
		socat_pid=$!
		export HAVEN_E2E_SSH_ADDR=$SSHD_ADDR HAVEN_E2E_SSH_FP=$(sshd_fingerprint "$dir/ssh")
		# The test gives the "machine" a new host key with this.
		cat >"$dir/rekey.sh" <<SH
#!/bin/bash
. "$top/tests/lib/sshd.sh"
SSHD_HOST_ADDR=$SSHD_HOST_ADDR SSHD_ADDR=$SSHD_ADDR
sshd_new_host_key "$dir/ssh" && sshd_restart "$dir/ssh" "SetEnv HAVEN_AGENT_PREFIX=$dir/root" >&2 &&
    sshd_fingerprint "$dir/ssh"
SH
		export HAVEN_E2E_SSH_REKEY="$dir/rekey.sh"
	else
		echo "e2e: no sshd in a network namespace ($(tail -n 1 "$dir/sshd.err")): the real push install is skipped" >&2
	fi
else
	echo "e2e: not root, or no ip, sshd or socat: the real push install is skipped" >&2
fi

mkdir -p "$HAVEN_E2E_SHOTS"
rm -f "$HAVEN_E2E_SHOTS"/*.png
# One file at a time, in this order (node --test would sort them):
# discovery.test.mjs push-installs an agent, which ui.test.mjs's counts
# of connected agents must not see.
rc=0
for f in ${HAVEN_E2E_FILES:-ui.test.mjs discovery.test.mjs}; do
	(cd "$here" && timeout 300 node --test --test-reporter=spec "$f") || rc=1
done
[ $rc -eq 0 ] || { echo "e2e: havend's log ends:"; tail -n 30 "$dir/havend.log"
	[ -f "$dir/web-01.repl" ] && { echo "e2e: web-01's replicate log ends:"; tail -n 15 "$dir/web-01.repl"; }; }
echo "e2e: screenshots in $HAVEN_E2E_SHOTS"
exit $rc
