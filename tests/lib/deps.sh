#!/bin/sh
# Install every Debian package listed in tests/lib/packages.txt that is
# missing.  Quiet when everything is there; waits for a busy dpkg lock.
set -e
here=$(dirname "$0")
list=$(grep -v '^#' "$here/packages.txt" | grep -v '^$')
missing=""
for p in $list; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
apt="$sudo apt-get -y -q -o DPkg::Lock::Timeout=600"
# A fresh machine may have no package lists yet; update once if the
# first attempt cannot find a package.
if ! $apt install --no-install-recommends $missing >/tmp/haven-deps.log 2>&1; then
	$apt update >>/tmp/haven-deps.log 2>&1 || true
	if ! $apt install --no-install-recommends $missing >>/tmp/haven-deps.log 2>&1; then
		tail -n 30 /tmp/haven-deps.log >&2
		echo "deps: apt-get install failed; see /tmp/haven-deps.log" >&2
		exit 1
	fi
fi
echo "deps: done"
