#!/bin/sh
# A private libvirtd for tests, without systemd, all of it in one
# directory: it never touches the host's libvirt state or sockets.
#
#	libvirtd.sh start DIR	start it (again), print its URI
#	libvirtd.sh stop DIR	stop it
#	libvirtd.sh uri DIR	print its URI
#
# As root (Debian 12, libvirt 9) it is the privileged daemon, so the URI
# is qemu:///system?socket=DIR/sock/libvirt-sock.  Its drivers use fixed
# paths (/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
# /var/log/libvirt), so it runs in a private mount namespace where DIR's
# subdirectories are bound over them (those five mount points are made,
# empty, on the host when missing); only the socket directory is seen
# from outside.  In there:
#  - qemu.conf runs QEMU as root.  libvirtd re-probes QEMU (tens of
#    seconds) on every call when its probe and its own /dev/kvm access
#    check disagree, which is what a /dev/kvm that is not group kvm mode
#    0660 causes for the libvirt-qemu user; root sees /dev/kvm the same
#    way in both, so the capabilities are probed once (a few seconds)
#    and cached in DIR/cache.  /dev/kvm itself is left alone.
#  - the qemu driver looks the user libvirt-qemu up before it reads
#    qemu.conf and will not start without it; when the host has no such
#    user (libvirt-daemon-system is not installed) private copies of
#    /etc/passwd and /etc/group with that user are bound in.
# Not root: a session daemon with XDG_* under DIR, URI qemu:///session
# with the same ?socket=.
#
# DIR holds libvirtd.conf, libvirtd.pid, libvirtd.log, uri, sock/, and
# etc/ run/ lib/ cache/ log/ (the driver state: domains defined here
# stay defined across a restart of the same DIR).
#
# LIBVIRTD_CAPS_CACHE=DIR2 (optional) keeps QEMU's probed capabilities
# in DIR2 across fresh DIRs: the first probe costs 4 to 8 s, and libvirt
# checks a cached one against the QEMU binary, kernel and its own
# version before it trusts it.
set -eu

LIBVIRTD=${LIBVIRTD:-/usr/sbin/libvirtd}

die() {
	echo "libvirtd: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start DIR | stop DIR | uri DIR" >&2
	exit 2
}

alive() {
	[ -f "$1/libvirtd.pid" ] && kill -0 "$(cat "$1/libvirtd.pid")" 2>/dev/null
}

write_conf() {
	dir=$1
	mkdir -p "$dir/sock" "$dir/etc/qemu" "$dir/run" "$dir/lib" \
	    "$dir/cache" "$dir/log"
	cat > "$dir/libvirtd.conf" <<EOF
unix_sock_dir = "$dir/sock"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$dir/libvirtd.log"
EOF
	cat > "$dir/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
cgroup_controllers = [ ]
EOF
}

start_root() {
	dir=$1
	binds="etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt"
	binds="$binds cache:/var/cache/libvirt log:/var/log/libvirt"
	if ! getent passwd libvirt-qemu >/dev/null; then
		cp /etc/passwd "$dir/passwd"
		cp /etc/group "$dir/group"
		echo "libvirt-qemu:x:64055:64055:libvirt:/nonexistent:/usr/sbin/nologin" \
		    >> "$dir/passwd"
		getent group libvirt-qemu >/dev/null ||
		    echo "libvirt-qemu:x:64055:" >> "$dir/group"
		binds="$binds passwd:/etc/passwd group:/etc/group"
	fi
	script="set -e"
	for b in $binds; do
		src=$dir/${b%%:*} dst=${b#*:}
		[ -d "$src" ] && script="$script; mkdir -p $dst"
		script="$script; mount --bind $src $dst"
	done
	script="$script; exec $LIBVIRTD --config $dir/libvirtd.conf"
	script="$script --pid-file $dir/libvirtd.pid"
	unshare --mount --propagation private sh -c "$script" \
	    </dev/null >"$dir/libvirtd.out" 2>&1 &
	echo $! > "$dir/daemon.pid"
	echo "qemu:///system?socket=$dir/sock/libvirt-sock" > "$dir/uri"
}

start_user() {
	dir=$1
	mkdir -p "$dir/config/libvirt"
	cp "$dir/etc/qemu.conf" "$dir/config/libvirt/qemu.conf"
	sed -i '/^user\|^group/d' "$dir/config/libvirt/qemu.conf"
	XDG_CONFIG_HOME=$dir/config XDG_RUNTIME_DIR=$dir/run \
	    XDG_CACHE_HOME=$dir/cache XDG_DATA_HOME=$dir/lib \
	    "$LIBVIRTD" --config "$dir/libvirtd.conf" \
	    --pid-file "$dir/libvirtd.pid" </dev/null >"$dir/libvirtd.out" 2>&1 &
	echo $! > "$dir/daemon.pid"
	echo "qemu:///session?socket=$dir/sock/libvirt-sock" > "$dir/uri"
}

cmd_start() {
	[ -x "$LIBVIRTD" ] ||
	    die "no $LIBVIRTD: install libvirt-daemon and libvirt-daemon-driver-qemu"
	mkdir -p "$1"
	dir=$(cd "$1" && pwd)
	alive "$dir" && { cat "$dir/uri"; return 0; }
	write_conf "$dir"
	rm -f "$dir/sock/libvirt-sock" "$dir/libvirtd.pid" "$dir/caps_cache"
	caps=$dir/cache/qemu/capabilities
	if [ -n "${LIBVIRTD_CAPS_CACHE:-}" ]; then
		mkdir -p "$LIBVIRTD_CAPS_CACHE" "$caps"
		cp -pR "$LIBVIRTD_CAPS_CACHE"/. "$caps"/
		(cd "$LIBVIRTD_CAPS_CACHE" && pwd) > "$dir/caps_cache"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		start_root "$dir"
	else
		start_user "$dir"
	fi
	n=0
	while [ ! -S "$dir/sock/libvirt-sock" ] || [ ! -s "$dir/libvirtd.pid" ]
	do
		if ! kill -0 "$(cat "$dir/daemon.pid")" 2>/dev/null; then
			cat "$dir/libvirtd.out" >&2
			grep -E 'error' "$dir/libvirtd.log" 2>/dev/null | tail -n 5 >&2
			die "libvirtd exited; see $dir/libvirtd.log"
		fi
		n=$((n + 1))
		[ $n -lt 300 ] || { cmd_stop "$dir"; die "no socket after 30 s"; }
		sleep 0.1
	done
	cat "$dir/uri"
}

cmd_stop() {
	dir=$1
	for f in libvirtd.pid daemon.pid; do
		[ -f "$dir/$f" ] || continue
		pid=$(cat "$dir/$f")
		rm -f "$dir/$f"
		kill "$pid" 2>/dev/null || continue
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	if [ -s "$dir/caps_cache" ] &&
	    [ -d "$dir/cache/qemu/capabilities" ]; then
		cp -pR "$dir/cache/qemu/capabilities"/. "$(cat "$dir/caps_cache")"/
	fi
}

[ $# -eq 2 ] || usage
case $1 in
start)	cmd_start "$2" ;;
stop)	cmd_stop "$2" ;;
uri)	cat "$2/uri" ;;
*)	usage ;;
esac
