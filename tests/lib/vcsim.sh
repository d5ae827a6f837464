#!/bin/sh
# The vCenter simulator of tests/lib/vcsim/main.go, for discovery tests.
#
#	vcsim.sh build			build (once; again when main.go changes)
#	vcsim.sh start DIR VMS [PORT]	start it, print its port
#	vcsim.sh stop DIR		stop it
#	vcsim.sh destroy DIR NAME	Destroy_Task on the VM called NAME
#	vcsim.sh env DIR		VCSIM_* shell assignments
#
# DIR holds vcsim.pid, vcsim.log, port, and cert.pem/key.pem: a start
# in the same DIR keeps the certificate (and so its thumbprint); remove
# them, or use another DIR, for a new one.  Only $VCSIM_USER (haven) with
# $VCSIM_PASSWORD (secret) can log in.
#
# The build is offline, against Debian's golang-github-vmware-govmomi-dev:
# GO111MODULE=off GOPATH=/usr/share/gocode.  The binary and Go's build
# cache live under $BUILD (default: build/ at the top of the tree).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$root/build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
out=$BUILD/vcsim
bin=$out/vcsim
VCSIM_USER=${VCSIM_USER:-haven}
VCSIM_PASSWORD=${VCSIM_PASSWORD:-secret}

die() {
	echo "vcsim: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 build | start DIR VMS [PORT] | stop DIR |" \
	    "destroy DIR NAME | env DIR" >&2
	exit 2
}

cmd_build() {
	sum=$(sha256sum < "$here/vcsim/main.go" | cut -d' ' -f1)
	if [ -x "$bin" ] && [ "$(cat "$out/main.sum" 2>/dev/null)" = "$sum" ]
	then
		return 0
	fi
	command -v go >/dev/null 2>&1 ||
	    die "no go command: install golang-go (tests/lib/packages.txt)"
	[ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] ||
	    die "no govmomi simulator: install golang-github-vmware-govmomi-dev"
	mkdir -p "$out"
	echo "vcsim: building $bin (first time: 15 s or so)" >&2
	(cd "$here/vcsim" &&
	    GO111MODULE=off GOPROXY=off GOFLAGS='' GOPATH=/usr/share/gocode \
	    GOCACHE="$out/gocache" HOME=${HOME:-$out} \
	    go build -o "$bin.tmp" .) || die "go build failed"
	mv "$bin.tmp" "$bin"
	echo "$sum" > "$out/main.sum"
}

alive() {
	[ -f "$1/vcsim.pid" ] && kill -0 "$(cat "$1/vcsim.pid")" 2>/dev/null
}

cmd_start() {
	dir=$1 vms=$2 port=${3:-0}
	cmd_build
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	alive "$dir" && die "already running in $dir (pid $(cat "$dir/vcsim.pid"))"
	rm -f "$dir/port"
	"$bin" -l "127.0.0.1:$port" -vm "$vms" -username "$VCSIM_USER" \
	    -password "$VCSIM_PASSWORD" -cert "$dir/cert.pem" \
	    -key "$dir/key.pem" -port-file "$dir/port" \
	    </dev/null >"$dir/vcsim.log" 2>&1 &
	echo $! > "$dir/vcsim.pid"
	# About 1 s per 1,000 VMs to build the inventory.
	n=0
	while [ ! -s "$dir/port" ]; do
		if ! alive "$dir"; then
			tail -n 20 "$dir/vcsim.log" >&2
			die "the simulator exited; see $dir/vcsim.log"
		fi
		n=$((n + 1))
		[ $n -lt 1200 ] || { cmd_stop "$dir"; die "not up after 120 s"; }
		sleep 0.1
	done
	port=$(cat "$dir/port")
	curl -fsk --max-time 10 "https://127.0.0.1:$port/haven/ready" \
	    >/dev/null || { cmd_stop "$dir"; die "port $port does not answer"; }
	echo "$port"
}

cmd_stop() {
	dir=$1
	[ -f "$dir/vcsim.pid" ] || return 0
	pid=$(cat "$dir/vcsim.pid")
	if kill "$pid" 2>/dev/null; then
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/vcsim.pid" "$dir/port"
}

cmd_destroy() {
	dir=$1 name=$2
	port=$(cat "$dir/port") || die "not running in $dir"
	curl -fsSk --max-time 30 -X POST \
	    "https://127.0.0.1:$port/haven/destroy?name=$name" >/dev/null ||
	    die "cannot destroy $name"
}

cmd_env() {
	echo "VCSIM_PORT=$(cat "$1/port")"
	echo "VCSIM_USER=$VCSIM_USER"
	echo "VCSIM_PASSWORD=$VCSIM_PASSWORD"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd:$# in
build:0)	cmd_build ;;
start:2|start:3) cmd_start "$@" ;;
stop:1)		cmd_stop "$1" ;;
destroy:2)	cmd_destroy "$@" ;;
env:1)		cmd_env "$1" ;;
*)		usage ;;
esac
