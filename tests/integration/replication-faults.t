#!/bin/bash
# Replication faults against the real havend and MariaDB
# (tests/lib/havend.sh) with an enrolled haven-agent (two file disks,
# snapshot = none):
#
# - the cache disk full: cache_dir is a 24 MiB tmpfs and the drain is
#   blocked (mt_address unreachable, SIGHUP) while 48 MiB replicate: the
#   agent is held, not failed, an alert cache_full:<disk> is raised;
#   once mt_address is fixed (SIGHUP) the drain frees space, the agent
#   finishes, the alert clears and the point recovers identical;
# - a corrupted record of the retention journal: reported, and the
#   points that need it refuse to recover, naming the file and offset;
#   newer points still recover identical;
# - a corrupted record of the process server's cache: reported (log and
#   an alert corrupt:<disk>), never applied, its point never listed.
#
# Needs root for the tmpfs; without it the cache-full part is skipped.
# KEEP=1 keeps the directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
. "$root/tests/lib/tap.sh"
. "$root/tests/lib/havend.sh"

AGENT=$HAVEN_BIN/haven-agent
MiB=$((1 << 20))

dir=$(mktemp -d /tmp/haven-replf.XXXXXX)
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
agent_pid=
cleanup() {
	trap '' INT TERM HUP
	[ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null
	havend_teardown "$dir" >/dev/null 2>&1
	mountpoint -q "$dir/cache" 2>/dev/null && umount "$dir/cache"
	[ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- helpers -------------------------------------------------------------

api() {	# METHOD PATH
	curl -s --max-time 20 --unix-socket "$dir/havend.sock" -X "$1" \
	    "http://localhost$2"
}
alerts() { api GET /api/v1/alerts | jq -r '.alerts[].key'; }
alert_msg() {	# KEY
	api GET /api/v1/alerts | jq -r --arg k "$1" '.alerts[] | select(.key == $k) | .message'
}
has_alert() { alerts | grep -qxF -- "$1"; }
no_alert() { ! has_alert "$1"; }
spawn() {	# CMD...: background, pid in $agent_pid, exit code in agent.rc
	rm -f "$dir/agent.pid" "$dir/agent.rc"
	( bash -c '"$@" >>"$0/agent.log" 2>&1 & echo $! >"$0/agent.pid"
	    wait $!; echo $? >"$0/agent.rc"' "$dir" "$@" 2>/dev/null & )
	wait_for 10 test -s "$dir/agent.pid"
	agent_pid=$(cat "$dir/agent.pid")
}
agent_done() { test -s "$dir/agent.rc"; }
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
hexbytes() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
loggrep() { grep -F -- "$1" "$dir/havend.log"; }
flip_byte() {	# FILE POS: invert every bit of one byte in place
	local b
	# Only files this test made: never create one, never outside $dir.
	case "$1" in "$dir"/*) ;; *) return 1 ;; esac
	[ -f "$1" ] || return 1
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((b ^ 255)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

st=$dir/agent/state
conf=$dir/agent/agent.conf
alog=$dir/agent.log
d1=$dir/disk1.img
d2=$dir/disk2.img
agent_conf() {
	{
		echo "state_dir = $st"
		echo "disks = $d1 $d2"
		echo "ps = 127.0.0.1:$dport"
		echo "snapshot = none"
		echo "app_consistent_interval = 0"
		echo "quiesce_dir = $dir/agent/quiesce.d"
	} >"$conf"
}
once() { timeout 120 "$AGENT" -c "$conf" replicate --once >>"$alog" 2>&1; }
dj() { jq -r ".disks[$1].$2" "$st/replication.json" 2>/dev/null; }
img_name() { printf '%s' "${1#/}" | tr / _; }
point_listed() {
	api GET "/api/v1/machines/$mid/points" |
	    jq -e --argjson p "$1" 'any(.points[]; .point_id == $p)' >/dev/null
}
keep_ref() { mkdir -p "$dir/ref/$1"; cp --sparse=always "$d1" "$d2" "$dir/ref/$1/"; }
recover_same() {	# POINT [REF]: recover POINT, compare with ref/REF
	local out=$dir/recovered/$1
	rm -rf "$out"
	hctl recover "$mid" --point "$1" --out "$out" >"$dir/recover.out" 2>&1 &&
	    cmp -s "$out/$(img_name "$d1").img" "$dir/ref/${2:-$1}/disk1.img" &&
	    cmp -s "$out/$(img_name "$d2").img" "$dir/ref/${2:-$1}/disk2.img"
}
rand_write() {	# DISK OFFSET LENGTH (bytes)
	dd if=/dev/urandom of="$1" bs="$3" count=1 seek="$2" oflag=seek_bytes \
	    iflag=fullblock conv=notrunc status=none
}
# Point the drain somewhere (SIGHUP applies mt_address); "" = the MT here.
set_mt() {
	local n
	sed -i '/^mt_address *=/d' "$dir/havend.conf"
	[ -n "$1" ] && echo "mt_address = $1" >>"$dir/havend.conf"
	n=$(grep -c 'reload: mt_address changed; applied' "$dir/havend.log")
	kill -HUP "$(havend_pid "$dir")"
	wait_for 10 sh -c "[ \$(grep -c 'reload: mt_address changed; applied' \
	    '$dir/havend.log') -gt $n ]"
}

# --- havend with its cache on a 24 MiB tmpfs ----------------------------

havend_setup "$dir" || { echo "Bail out! no MariaDB"; exit 1; }
mkdir -p "$dir/cache"
tmpfs=0
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=24m,mode=700 tmpfs \
    "$dir/cache" 2>/dev/null; then
	tmpfs=1
fi
if ! havend_start "$dir"; then
	echo "Bail out! havend did not start"
	exit 1
fi
cport=$(conf_get "$dir" control_port)
dport=$(conf_get "$dir" data_port)
hctl passphrase show >"$dir/pass" 2>/dev/null
chmod 600 "$dir/pass"
mkdir -p "$dir/agent"
agent_conf
head -c $((32 * MiB)) /dev/urandom >"$d1"
dd if=/dev/zero of="$d1" bs=$MiB seek=20 count=2 conv=notrunc status=none
head -c $((16 * MiB)) /dev/urandom >"$d2"
"$AGENT" -c "$conf" enroll --cs "127.0.0.1:$cport" \
    --passphrase-file "$dir/pass" >>"$alog" 2>&1
ok $? "an agent enrolls"
mid=$(jq -r .machine_id "$st/machine.json" 2>/dev/null)
hctl policy create faults --app-interval 0 >/dev/null 2>&1 &&
    hctl policy assign "$mid" faults >/dev/null 2>&1 &&
    "$AGENT" -c "$conf" heartbeat --once >>"$alog" 2>&1
ok $? "the machine follows a policy and reports its two disks"

# --- 1. The cache disk full ---------------------------------------------

if [ $tmpfs = 1 ]; then
	set_mt 127.0.0.1:1
	ok $? "the drain is pointed at an unreachable master target (SIGHUP)"
	# 46 MiB of data for a 24 MiB cache that cannot drain.
	spawn "$AGENT" -c "$conf" replicate --once
	key=cache_full:$mid:$d1
	wait_for 30 has_alert "$key"
	ok $? "GET /api/v1/alerts has $key"
	like "$(alert_msg "$key")" "is full .*slowed down until space is freed; nothing is lost" \
	    "... saying the agent is slowed down and nothing is lost"
	like "$(loggrep "cache for $mid:$d1 is full")" "holding the agent" \
	    "havend logs that it holds the agent"
	a1=$(dj 0 acked_seq)
	sleep 3
	a2=$(dj 0 acked_seq)
	last=$(( $(dj 0 cycle.first_seq) + $(dj 0 cycle.frames) - 1 ))
	! agent_done && kill -0 "$agent_pid" 2>/dev/null &&
	    [ "$a2" -lt "$last" ] && [ "$(dj 0 state)" != failed ]
	ok $? "the agent is held, not failed (acknowledged seq $a1, 3 s later $a2, of $last)"
	unlike "$(cat "$alog")" "giving up|warning" "the agent logged no error while held"
	used=$(df --output=pcent "$dir/cache" | tail -n 1 | tr -dc 0-9)
	[ "$used" -ge 90 ]
	ok $? "the cache filesystem is full ($used% used)"
	p=$(dj 0 cycle.point)
	point_listed "$p"
	ok $((! $?)) "point $p is not listed while it is stuck in the cache"

	set_mt ""
	ok $? "mt_address fixed (SIGHUP)"
	wait_for 60 agent_done
	is "$(cat "$dir/agent.rc" 2>/dev/null)" 0 "the agent finishes its point once the drain frees space"
	if ! agent_done; then
		df "$dir/cache" | sed 's/^/# /'
		tail -n 5 "$dir/havend.log" | cut -c1-300 | sed 's/^/# /'
		echo "Bail out! the cache stayed full after the drain came back"
		exit 1
	fi
	agent_pid=
	wait_for 20 no_alert "$key"
	ok $? "the cache_full alert clears"
	is "$(dj 0 run.data_bytes)+$(dj 1 run.data_bytes)" "$((30 * MiB))+$((16 * MiB))" \
	    "every block was sent once: held, never dropped and resent"
	wait_for 30 point_listed "$p"
	ok $? "point $p is listed"
	keep_ref "$p"
	recover_same "$p"
	ok $? "point $p recovers identical: nothing acknowledged was lost"
	used=$(df --output=pcent "$dir/cache" | tail -n 1 | tr -dc 0-9)
	[ "$used" -le 50 ]
	ok $? "the drain freed the cache ($used% used)"
else
	for t in "drain blocked" "cache_full alert" "alert message" "log" \
	    "agent waits" "no agent error" "fs full" "point not listed" \
	    "mt fixed" "agent finishes" "alert clears" "sent once" \
	    "point listed" "recovers identical" "cache freed"; do
		ok 0 "$t # skip no tmpfs here (needs root)"
	done
	once
	keep_ref "$(dj 0 last_point.id)"
fi
p1=$(dj 0 last_point.id)

# --- 2. A corrupted journal record ----------------------------------------

rand_write "$d1" $((3 * MiB + 4321)) 700000
rand_write "$d2" $((9 * MiB)) 100000
once
p2=$(dj 0 last_point.id)
s2=$(dj 0 last_point.seq)
wait_for 30 point_listed "$p2"
ok $? "point $p2 is listed"
keep_ref "$p2"
rand_write "$d1" $((12 * MiB + 99)) 1500000
rand_write "$d1" $((25 * MiB)) 65536
once
p3=$(dj 0 last_point.id)
s3=$(dj 0 last_point.seq)
wait_for 30 point_listed "$p3"
ok $? "point $p3 is listed"
keep_ref "$p3"

# The old bytes of the change from p2 to p3 (undo records: type 1, with
# a payload, seq between the two bookmarks): docs/storage.md.
jdir=$dir/retention/$(hexof "$mid:$d1")/journal
target=
for f in "$jdir"/*.jrnl; do
	size=$(stat -c %s "$f")
	pos=32
	while [ $((pos + 56)) -le "$size" ]; do
		h=$(hexbytes "$f" "$pos" 56)
		[ "${h:0:8}" = 48564a52 ] || break
		type=$((16#${h:8:2})) seq=$((16#${h:16:16})) plen=$((16#${h:80:8}))
		if [ -z "$target" ] && [ "$type" = 1 ] && [ "$plen" -gt 0 ] &&
		    [ "$seq" -gt "$s2" ] && [ "$seq" -le "$s3" ]; then
			target="$f $pos $plen $seq"
		fi
		pos=$((pos + 56 + plen))
	done
done
set -- $target
ok $((! $#)) "found an undo record of the change from point $p2 to $p3 (seq ${4:-?}) in the journal"
jfile=${1:-$dir/no-journal-record-found} jpos=${2:-0}
flip_byte "$jfile" $((jpos + 56 + ${3:-0} / 2))
hctl recover "$mid" --point "$p2" --out "$dir/recovered/bad" >"$dir/recover.out" 2>&1
rc=$?
is "$rc" 1 "recovering point $p2, which needs the damaged record, fails"
like "$(cat "$dir/recover.out")" \
    "point $p2 .* cannot be rebuilt: the journal is damaged \\($jfile at offset $jpos \\(checksum mismatch" \
    "... saying the journal is damaged, with the file and offset"
[ -z "$(ls -A "$dir/recovered/bad" 2>/dev/null)" ]
ok $? "... and leaves no image behind"
like "$(loggrep "journal damaged: $jfile at offset $jpos")" . \
    "havend logs the damage"
hctl recover "$mid" --point "$p1" --out "$dir/recovered/bad1" >/dev/null 2>&1
is "$?" 1 "the older point $p1 needs it too: refused"
recover_same "$p3"
ok $? "point $p3, which does not need it, still recovers identical"
workload_more() {
	rand_write "$d1" $((1 * MiB)) 300000
	rand_write "$d1" $((4 * MiB)) 2000000
	dd if=/dev/zero of="$d1" bs=$MiB seek=14 count=1 conv=notrunc status=none
	rand_write "$d2" $((2 * MiB + 7)) 123456
}
workload_more
once
p4=$(dj 0 last_point.id)
wait_for 30 point_listed "$p4"
ok $? "replication goes on over the damaged journal: point $p4 is listed"
keep_ref "$p4"
recover_same "$p4"
ok $? "point $p4 recovers identical"

# --- 3. A corrupted cache record ------------------------------------------

# A point first, so that both drains are connected (and idle) when
# mt_address changes: SIGHUP must redirect a connected drain too.
rand_write "$d1" $((30 * MiB + 5)) 4000
once
p5=$(dj 0 last_point.id)
s5=$(dj 0 last_point.seq)
wait_for 30 point_listed "$p5"
ok $? "point $p5 is listed"
keep_ref "$p5"
set_mt 127.0.0.1:1
ok $? "the drain is pointed at an unreachable master target again (SIGHUP)"
rand_write "$d1" $((2 * MiB)) $MiB
rand_write "$d1" $((9 * MiB)) $MiB
rand_write "$d1" $((23 * MiB)) $MiB
once
ok $? "replicate --once: the cache acknowledges the point"
p6=$(dj 0 last_point.id)
sleep 2
point_listed "$p6"
ok $((! $?)) "the drains are held: point $p6 is not applied"
# The second data record (type 1) of the cycle, in the cache segments.
cdir=$dir/cache/$(hexof "$mid:$d1")
target=
n=0
for f in $(ls "$cdir"/*.clog | sort); do
	size=$(stat -c %s "$f")
	pos=32
	while [ $((pos + 48)) -le "$size" ]; do
		h=$(hexbytes "$f" "$pos" 48)
		[ "${h:0:8}" = 48564352 ] || break
		type=$((16#${h:8:2})) seq=$((16#${h:16:16}))
		off=$((16#${h:32:16})) len=$((16#${h:64:8}))
		if [ "$type" = 1 ] && [ "$seq" -gt "$s5" ]; then
			n=$((n + 1))
			[ $n = 2 ] && target="$f $pos $len $seq $off"
		fi
		pos=$((pos + 48 + len))
	done
done
set -- $target
ok $((! $#)) "found the cycle's second data record in the cache (seq ${4:-?}, offset ${5:-?}, ${3:-?} bytes)"
cfile=${1:-$dir/no-cache-record-found} cpos=${2:-0} clen=${3:-0} cseq=${4:-0} coff=${5:-0}
flip_byte "$cfile" $((cpos + 48 + clen / 3))
dd if="$cfile" of="$dir/corrupt.bin" bs=1M iflag=skip_bytes,count_bytes \
    skip=$((cpos + 48)) count="$clen" status=none
set_mt ""
ok $? "the drain is unblocked (SIGHUP)"
key=corrupt:$mid:$d1
wait_for 30 has_alert "$key"
ok $? "GET /api/v1/alerts has $key"
like "$(alert_msg "$key")" "corrupt at offset $cpos \\(checksum mismatch\\).*not applied" \
    "... naming the segment offset, and saying it was not applied"
like "$(loggrep "drain of $mid:$d1 stopped: cache log segment $cfile is corrupt at offset $cpos")" . \
    "havend logs the corrupt record and stops that drain"
replica=$dir/retention/$(hexof "$mid:$d1")/replica.img
dd if="$replica" of="$dir/region.bin" bs=1M iflag=skip_bytes,count_bytes \
    skip="$coff" count="$clen" status=none
dd if="$dir/ref/$p5/disk1.img" of="$dir/region.old" bs=1M \
    iflag=skip_bytes,count_bytes skip="$coff" count="$clen" status=none
! cmp -s "$dir/region.bin" "$dir/corrupt.bin" && cmp -s "$dir/region.bin" "$dir/region.old"
ok $? "the replica does not hold the corrupt bytes: it still has the old ones there"
sleep 2
point_listed "$p6"
ok $((! $?)) "point $p6 is never listed"
recover_same latest "$p5"
ok $? "recover --point latest gives point $p5, identical: never silently wrong"

plan "$_tap_n"
[ "$_tap_failed" -eq 0 ]
