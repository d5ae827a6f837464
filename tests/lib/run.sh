#!/usr/bin/env bash
# make run: a private MariaDB and havend with every role on 127.0.0.1.
# State lives in ./run; a second run reuses it.  Ctrl-C stops it all.
set -u
HAVEN_BIN=$1
HAVEN_LIB=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$HAVEN_LIB/../.." && pwd)
dir=${HAVEN_RUN_DIR:-$top/run}
. "$HAVEN_LIB/tap.sh"
. "$HAVEN_LIB/havend.sh"

stop() {
	echo
	echo "stopping havend and MariaDB..."
	havend_teardown "$dir"
	exit 0
}
trap stop INT TERM

havend_setup "$dir" || exit 1
if [ -f "$dir/havend.pid" ] && kill -0 "$(cat "$dir/havend.pid")" 2>/dev/null; then
	echo "havend is already running from $dir (pid $(cat "$dir/havend.pid"))"
	exit 1
fi
echo "starting havend (log: $dir/havend.log)..."
havend_start "$dir" || { havend_teardown "$dir"; exit 1; }
if [ ! -f "$dir/admin.pass" ]; then
	(umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$dir/admin.pass")
	hctl user add admin --password-file "$dir/admin.pass" >/dev/null ||
	    { echo "could not create the admin account"; stop; }
fi
ap=$(conf_get "$dir" admin_port)
cp=$(conf_get "$dir" control_port)
dp=$(conf_get "$dir" data_port)
cat <<MSG

  Haven is running.

  Admin UI:      https://127.0.0.1:$ap/
  Sign in as:    admin
  Password:      $(cat "$dir/admin.pass")    (kept in run/admin.pass)
  Passphrase:    $(hctl passphrase show | tail -n 1)
  Control port:  127.0.0.1:$cp   (agents enroll here)
  Data port:     127.0.0.1:$dp
  havenctl:      build/bin/havenctl -s $dir/havend.sock status

  The certificate is from Haven's own site CA ($dir/state/ca.crt):
  your browser will ask you to accept it.
  Press Ctrl-C to stop.
MSG
while kill -0 "$(cat "$dir/havend.pid" 2>/dev/null)" 2>/dev/null; do
	sleep 1
done
echo "havend exited; see $dir/havend.log"
havend_teardown "$dir"
exit 1
