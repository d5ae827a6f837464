#!/bin/sh
# Install, upgrade, repair or remove the Haven agent (haven-agent).
#
#   install.sh --cs HOST:PORT --token-file FILE         one-time token
#   install.sh --cs HOST:PORT --passphrase-file FILE    site passphrase
#   install.sh --uninstall        (installed as haven-agent-install)
#
# Options: --prefix DIR installs under DIR (tests; default /),
# --no-start does not enable or start the service.
#
# Secrets are only ever read from files (mode 0600), never taken on the
# command line.  A token file holds a one-time enrollment token: the one
# the process server uploaded for this push install, or one from
# 'havenctl token issue' for a manual install.  It is deleted as soon as
# the agent has enrolled, or has failed to (a token works once anyway).
# Re-running on an installed machine replaces the binary and the service
# files and restarts the service (upgrade, repair); an enrolled machine
# is not enrolled again.
set -eu

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
cs= pass= token= prefix=/ uninstall=0 start=1

die() { echo "install.sh: $*" >&2; exit 1; }
step() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--cs) [ $# -ge 2 ] || die "--cs needs HOST:PORT"; cs=$2; shift ;;
	--passphrase-file) [ $# -ge 2 ] || die "--passphrase-file needs FILE"
		pass=$2; shift ;;
	--token-file) [ $# -ge 2 ] || die "--token-file needs FILE"
		token=$2; shift ;;
	--prefix) [ $# -ge 2 ] || die "--prefix needs DIR"; prefix=$2; shift ;;
	--uninstall) uninstall=1 ;;
	--no-start) start=0 ;;
	-h|--help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown option '$1' (--help lists them)" ;;
	esac
	shift
done

# The token is single-use: whatever happens, it does not stay behind.
[ -n "$token" ] && trap 'rm -f "$token"' EXIT

[ -n "$prefix" ] || prefix=/
prefix=${prefix%/}
sbin=$prefix/usr/local/sbin
etc=$prefix/etc/haven
conf=$etc/agent.conf
state=$prefix/var/lib/haven-agent
run=$prefix/run
logdir=$prefix/var/log
initd=$prefix/etc/init.d
unitdir=$prefix/etc/systemd/system

if [ -z "$prefix" ] && [ "$(id -u)" != 0 ]; then
	die "run it as root (sudo sh $0 ...)"
fi
[ "$(uname -s)" = Linux ] || die "the agent runs on Linux, not $(uname -s)"
case "$(uname -m)" in
x86_64|amd64) ;;
*) die "the agent is built for x86_64, not $(uname -m)" ;;
esac

# systemd only for a real install on a machine booted with it.
use_systemd=0
if [ -z "$prefix" ] && [ -d /run/systemd/system ] &&
    command -v systemctl >/dev/null 2>&1; then
	use_systemd=1
fi

service_stop() {
	if [ $use_systemd = 1 ]; then
		systemctl disable --now haven-agent.service \
		    haven-agent-replicate.service >/dev/null 2>&1 || true
	elif [ -x "$initd/haven-agent" ]; then
		"$initd/haven-agent" stop >/dev/null 2>&1 || true
		if [ -z "$prefix" ]; then
			if command -v update-rc.d >/dev/null 2>&1; then
				update-rc.d -f haven-agent remove >/dev/null 2>&1 || true
			elif command -v chkconfig >/dev/null 2>&1; then
				chkconfig --del haven-agent >/dev/null 2>&1 || true
			fi
		fi
	fi
}

if [ $uninstall = 1 ]; then
	step "stopping and removing the haven-agent service"
	service_stop
	rm -f "$unitdir/haven-agent.service" \
	    "$unitdir/haven-agent-replicate.service" "$initd/haven-agent" \
	    "$run/haven-agent.pid"
	[ $use_systemd = 1 ] && systemctl daemon-reload || true
	step "removing $sbin/haven-agent, $etc and $state"
	rm -f "$sbin/haven-agent" "$sbin/haven-agent-install" "$conf" \
	    "$logdir/haven-agent.log"
	rmdir "$etc" 2>/dev/null || true
	rm -rf "$prefix/usr/local/lib/haven-agent"
	rm -rf "$state"
	step "removed; revoke the machine on the configuration server " \
	    "('havenctl machine revoke') if it is not coming back"
	exit 0
fi

[ -f "$here/haven-agent" ] || die "$here/haven-agent is missing: run the " \
    "install.sh of an unpacked haven-agent package"
secret=${token:-$pass}
enrolled=0
[ -f "$state/machine.json" ] && enrolled=1
if [ $enrolled = 0 ]; then
	[ -n "$cs" ] || die "which configuration server? give --cs HOST:PORT"
	[ -n "$secret" ] || die "give --token-file FILE ('havenctl token " \
	    "issue' on the configuration server) or --passphrase-file FILE " \
	    "(secrets are never taken on the command line)"
	[ -r "$secret" ] || die "cannot read $secret"
fi

step "installing $sbin/haven-agent"
mkdir -p "$sbin" "$etc" "$initd"
# A new file renamed over the old one: a running agent keeps its binary.
cp "$here/haven-agent" "$sbin/.haven-agent.new"
chmod 0755 "$sbin/.haven-agent.new"
mv -f "$sbin/.haven-agent.new" "$sbin/haven-agent"
# Kept for 'haven-agent-install --uninstall' (and repairs).
for f in install.sh haven-agent.service haven-agent-replicate.service \
    haven-agent.init; do
	[ "$here/$f" = "$prefix/usr/local/lib/haven-agent/$f" ] && continue
	mkdir -p "$prefix/usr/local/lib/haven-agent"
	cp "$here/$f" "$prefix/usr/local/lib/haven-agent/$f"
done
cp "$here/haven-agent" "$prefix/usr/local/lib/haven-agent/haven-agent" \
    2>/dev/null || true
ln -sf "$prefix/usr/local/lib/haven-agent/install.sh" "$sbin/haven-agent-install"

if [ ! -f "$conf" ]; then
	step "writing $conf"
	umask 022
	{
		echo "# Written by the haven-agent install.sh; 'haven-agent help'"
		echo "# lists the keys."
		echo "state_dir = $state"
		echo "cs = $cs"
	} >"$conf.new"
	mv -f "$conf.new" "$conf"
elif [ -n "$cs" ] && ! grep -q "^cs *= *$cs\$" "$conf"; then
	step "setting cs = $cs in $conf"
	sed "/^cs *=/d" "$conf" >"$conf.new"
	echo "cs = $cs" >>"$conf.new"
	mv -f "$conf.new" "$conf"
fi

if [ $enrolled = 1 ]; then
	step "already enrolled ($state/machine.json): keeping it"
else
	step "enrolling with the configuration server at $cs"
	mkdir -p "$state"
	chmod 0700 "$state"
	if [ -n "$token" ]; then
		"$sbin/haven-agent" -c "$conf" enroll --cs "$cs" \
		    --token-file "$token" || die "enrollment failed"
	else
		"$sbin/haven-agent" -c "$conf" enroll --cs "$cs" \
		    --passphrase-file "$pass" || die "enrollment failed"
	fi
fi
[ -n "$token" ] && rm -f "$token"

subst() {
	sed -e "s|@SBIN@|$sbin|g" -e "s|@CONF@|$conf|g" -e "s|@RUN@|$run|g" \
	    -e "s|@LOG@|$logdir|g" "$1"
}
service_stop
if [ $use_systemd = 1 ]; then
	step "installing the systemd unit"
	for u in haven-agent haven-agent-replicate; do
		subst "$here/$u.service" >"$unitdir/$u.service"
	done
	rm -f "$initd/haven-agent"
	systemctl daemon-reload
	if [ $start = 1 ]; then
		systemctl enable --now haven-agent.service \
		    haven-agent-replicate.service
		systemctl restart haven-agent.service \
		    haven-agent-replicate.service
	fi
else
	step "no systemd: installing $initd/haven-agent"
	subst "$here/haven-agent.init" >"$initd/haven-agent"
	chmod 0755 "$initd/haven-agent"
	if [ -z "$prefix" ]; then
		if command -v update-rc.d >/dev/null 2>&1; then
			update-rc.d haven-agent defaults >/dev/null
		elif command -v chkconfig >/dev/null 2>&1; then
			chkconfig --add haven-agent >/dev/null
		fi
	fi
	[ $start = 1 ] && "$initd/haven-agent" start
fi
# For the process server's push job: which machine this is.
mid=$(sed -n 's/.*"machine_id": *"\([^"]*\)".*/\1/p' "$state/machine.json" \
    2>/dev/null | head -n 1)
echo "machine_id=$mid"
step "done: haven-agent $("$sbin/haven-agent" -V | sed 's/^haven-agent //')" \
    "installed$([ $start = 1 ] && echo ' and running')"
