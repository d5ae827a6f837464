#!/bin/bash
# End-to-end replication against the real thing: a private MariaDB and
# havend (tests/lib/havend.sh), an enrolled haven-agent with two file
# disks (32 and 16 MiB, snapshot = none) streaming to the data port, the
# drain to the master target on the same port, recovery points in the
# database, `havenctl points list` and `havenctl recover`.
#
# A workload writes random data between points (random offsets and
# sizes, overwrites, zero runs; the writer is paused while a point is
# taken, so each point has a well-defined content) and the test keeps
# its own copy of every disk at every point.  Each cycle must send
# exactly the blocks that changed (computed here, independently of the
# agent), and every point recovered must be byte-identical to its copy,
# without changing the replica.  Three cycles are interrupted mid-stream
# by kill -9: of the agent, of the shard holding the stream, and of all
# of havend; each completes on resume, sending only what the process
# server did not have (the bytes on the wire are counted and printed).
# Last, retention: `havenctl prune` drops the points past a 10 s window
# with their journal space, and what is kept still recovers identical.
#
# SEED=n replays a workload; KEEP=1 keeps the directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
. "$root/tests/lib/tap.sh"
. "$root/tests/lib/havend.sh"

AGENT=$HAVEN_BIN/haven-agent
MiB=$((1 << 20))
BS=65536
# Bytes a resume may send twice: frames in flight (queued, in socket
# buffers, or read but not yet committed by the PS) when the stream
# broke.  The throttle keeps that to a frame or two.
SLACK=$((4 * MiB))

dir=$(mktemp -d /tmp/haven-repl.XXXXXX)
# A private TMPDIR for MariaDB (see enroll.t).
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
agent_pid=
cleanup() {
	trap '' INT TERM HUP
	[ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null
	havend_teardown "$dir" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

seed=${SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) ))}
RANDOM=$seed
diag "workload seed $seed (SEED=$seed replays it)"

# --- helpers -------------------------------------------------------------

api() {	# METHOD PATH
	curl -s --max-time 20 --unix-socket "$dir/havend.sock" -X "$1" \
	    "http://localhost$2"
}
# spawn CMD...: run CMD in the background, not as a job of this shell
# (no "Killed" notices); its pid in $dir/agent.pid and $agent_pid, its
# exit code in $dir/agent.rc once it ends.
spawn() {
	rm -f "$dir/agent.pid" "$dir/agent.rc"
	( bash -c '"$@" >>"$0/agent.log" 2>&1 & echo $! >"$0/agent.pid"
	    wait $!; echo $? >"$0/agent.rc"' "$dir" "$@" 2>/dev/null & )
	wait_for 10 test -s "$dir/agent.pid"
	agent_pid=$(cat "$dir/agent.pid")
}
agent_done() { test -s "$dir/agent.rc"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

st=$dir/agent/state
conf=$dir/agent/agent.conf
alog=$dir/agent.log
d1=$dir/disk1.img
d2=$dir/disk2.img
disks="$d1 $d2"
agent_conf() {
	{
		echo "state_dir = $st"
		echo "disks = $disks"
		echo "ps = 127.0.0.1:$dport"
		echo "snapshot = none"
		echo "app_consistent_interval = 0"
		echo "quiesce_dir = $dir/agent/quiesce.d"
	} >"$conf"
}
once() { timeout 120 "$AGENT" -c "$conf" replicate --once >>"$alog" 2>&1; }
rj() { jq -r "$1" "$st/replication.json" 2>/dev/null; }	# replication.json
dj() { rj ".disks[$1].$2"; }				# DISK-INDEX FIELD
img_name() { printf '%s' "${1#/}" | tr / _; }		# recover's file name
replica_of() { echo "$dir/retention/$(hexof "$mid:$1")/replica.img"; }

# blocks FILE: per 64 KiB block, a hash ("Z" for a block of zeros) and
# "z" or "d" (zero or data).
blocks() {
	perl -e 'use Digest::MD5 qw(md5_hex);
	    open(my $f, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!";
	    my $b;
	    while (read($f, $b, 65536)) {
		print $b =~ /\A\0*\z/ ? "Z z\n" : md5_hex($b) . " d\n" }' "$1"
}
# expect OLD NEW: "DATA ZERO", the bytes a cycle from OLD to NEW must send
# as data and as zero runs (OLD "-": a new disk, whose map is all zero).
expect() {
	blocks "$2" >"$dir/blocks.new"
	if [ "$1" = - ]; then
		sed 's/.*/Z z/' "$dir/blocks.new" >"$dir/blocks.old"
	else
		blocks "$1" >"$dir/blocks.old"
	fi
	paste -d ' ' "$dir/blocks.old" "$dir/blocks.new" | awk -v bs=$BS '
	    $1 != $3 { if ($4 == "z") z += bs; else d += bs }
	    END { print d + 0, z + 0 }'
}

# workload DISK N: N writes at random offsets: random data of random
# sizes (1 B to 1 MiB, unaligned), a fifth of them over an earlier
# write, and one in five a zero run (64 KiB to 2 MiB, block-aligned).
declare -A history
workload() {
	local disk=$1 n=$2 size i off len src
	local -a prev
	size=$(stat -c %s "$disk")
	read -r -a prev <<<"${history[$disk]:-}"
	for ((i = 0; i < n; i++)); do
		len=$(( (RANDOM * 32768 + RANDOM) % MiB + 1 ))
		off=$(( (RANDOM * 32768 + RANDOM) % (size - len) ))
		src=/dev/urandom
		if [ $((RANDOM % 5)) = 0 ] && [ ${#prev[@]} -gt 0 ]; then
			off=${prev[RANDOM % ${#prev[@]}]}
			[ $((off + len)) -le "$size" ] || len=$((size - off))
		elif [ $((RANDOM % 5)) = 0 ]; then
			src=/dev/zero
			len=$(( (RANDOM % 32 + 1) * BS ))
			off=$(( off / BS * BS ))
			[ $((off + len)) -le "$size" ] || len=$((size - off))
		fi
		dd if=$src of="$disk" bs="$len" count=1 seek="$off" \
		    oflag=seek_bytes iflag=fullblock conv=notrunc status=none
		prev+=("$off")
	done
	history[$disk]="${prev[*]}"
}

# Points taken, oldest first; ref/POINT/ holds the disks at each.
points=()
prev_ref=-	# the last point's directory, "-" before the first
keep_ref() {	# POINT
	mkdir -p "$dir/ref/$1"
	cp --sparse=always "$d1" "$d2" "$dir/ref/$1/"
	points+=("$1")
	prev_ref=$dir/ref/$1
}
old_of() { [ "$prev_ref" = - ] && echo - || echo "$prev_ref/$(basename "$1")"; }
point_listed() {
	api GET "/api/v1/machines/$mid/points" |
	    jq -e --argjson p "$1" 'any(.points[]; .point_id == $p)' >/dev/null
}
# The data port's view of an agent's connection: bytes the kernel sent.
wire_sent() {	# PID
	ss -tinpH "dport = :$dport" 2>/dev/null | awk -v p="pid=$1," '
	    /^[A-Z]|^[0-9]/ { mine = index($0, p) > 0 }
	    mine && match($0, /bytes_sent:[0-9]+/) {
		s += substr($0, RSTART + 11, RLENGTH - 11) }
	    END { print s + 0 }'
}
last_resume_seq() {	# DISK: the seq havend last resumed its stream after
	grep -F "info: stream of $mid:$1 from " "$dir/havend.log" |
	    tail -n 1 | sed -nE 's/.* resumes after seq ([0-9]+)$/\1/p'
}

# --- havend, an enrolled agent, a policy -------------------------------

if ! havend_setup "$dir" || ! havend_start "$dir"; then
	echo "Bail out! havend did not start"
	exit 1
fi
disown -a	# killed below: no "Killed" notice from this shell
cport=$(conf_get "$dir" control_port)
dport=$(conf_get "$dir" data_port)
hctl passphrase show >"$dir/pass" 2>/dev/null
chmod 600 "$dir/pass"

# disk1: random with holes (zero at 10..14 MiB and the last MiB);
# disk2: sparse with 6 MiB of random data in the middle.
head -c $((32 * MiB)) /dev/urandom >"$d1"
dd if=/dev/zero of="$d1" bs=$MiB seek=10 count=4 conv=notrunc status=none
dd if=/dev/zero of="$d1" bs=$MiB seek=31 count=1 conv=notrunc status=none
truncate -s $((16 * MiB)) "$d2"
dd if=/dev/urandom of="$d2" bs=$MiB seek=5 count=6 conv=notrunc status=none

mkdir -p "$dir/agent"
agent_conf
"$AGENT" -c "$conf" enroll --cs "127.0.0.1:$cport" \
    --passphrase-file "$dir/pass" >>"$alog" 2>&1
ok $? "an agent enrolls"
mid=$(jq -r .machine_id "$st/machine.json" 2>/dev/null)
hctl policy create repl --rpo 1h --interval 10m --retention 1d \
    --app-interval 0 >/dev/null 2>&1 &&
    hctl policy assign "$mid" repl >/dev/null 2>&1
ok $? "the machine follows a policy"
"$AGENT" -c "$conf" heartbeat --once >>"$alog" 2>&1
ok $? "it reports its two disks and gets its policy's settings"

# cycle NAME: one point without faults; the agent must send exactly the
# changed blocks of each disk, and the point must be listed.
cycle() {
	local name=$1 e1 e2 p
	e1=$(expect "$(old_of "$d1")" "$d1")
	e2=$(expect "$(old_of "$d2")" "$d2")
	once
	ok $? "$name: replicate --once exits 0"
	p=$(dj 0 last_point.id)
	is "$(dj 1 last_point.id)" "$p" "$name: both disks committed point $p"
	is "$(dj 0 run.data_bytes) $(dj 0 run.zero_bytes)/$(dj 1 run.data_bytes) $(dj 1 run.zero_bytes)" \
	    "$e1/$e2" "$name: each disk sent exactly its changed blocks (data, zero runs)"
	wait_for 30 point_listed "$p"
	ok $? "$name: point $p is listed once applied on both disks"
	keep_ref "$p"
}

# --- 1. Initial sync and workload cycles --------------------------------

cycle "initial sync"
for c in 1 2 3; do
	workload "$d1" 12
	workload "$d2" 6
	cycle "workload $c"
done
cmp -s "$d1" "$(replica_of "$d1")" && cmp -s "$d2" "$(replica_of "$d2")"
ok $? "the replicas hold the disks as they are now"

# --- 2. kill -9 mid-stream ------------------------------------------------

# A cycle big enough to be interrupted: the workload, and 24 MiB of
# disk1 rewritten (streamed at 8 MiB/s below).
big_change() {
	workload "$d1" 6
	workload "$d2" 4
	dd if=/dev/urandom of="$d1" bs=$MiB seek=$((RANDOM % 4)) count=24 \
	    conv=notrunc status=none
	e1=$(expect "$(old_of "$d1")" "$d1")
	e2=$(expect "$(old_of "$d2")" "$d2")
	data1=${e1% *}
	data2=${e2% *}
}
# Start the throttled agent and wait until its first disk is well under
# way: at least 6 frames (about 6 MiB) acknowledged.
under_way() {
	local f a
	f=$(dj 0 cycle.first_seq) a=$(dj 0 acked_seq)
	[ "$f" != null ] && [ "${f:-0}" -gt 0 ] && [ $((a - f + 1)) -ge 6 ]
}
# The throttle is the policy's: the heartbeat answer carries it and the
# agent applies it at its next cycle (over agent.conf).
throttle() {	# RATE
	hctl policy throttle repl "$1" >/dev/null 2>&1 &&
	    "$AGENT" -c "$conf" heartbeat --once >>"$alog" 2>&1 &&
	    [ "$(jq -r .throttle "$st/cs-settings.json")" = "$1" ]
}
start_throttled() {
	throttle 8m || return 1
	spawn "$AGENT" -c "$conf" replicate --once
	wait_for 30 under_way
}
# Frames of disk1's cycle (its extents and the bookmark), once committed.
cycle_frames() { echo $(( $(dj 0 last_point.seq) - first + 1 )); }

# 2a. The agent.
big_change
start_throttled
ok $? "agent kill: disk1's cycle is under way (the policy's throttle: 8 MiB/s)"
first=$(dj 0 cycle.first_seq)
acked=$(dj 0 acked_seq)
tot_before=$(dj 0 total.tls_bytes)
# Stopped first so that its socket's counters hold still, then killed.
kill -STOP "$agent_pid"
sleep 0.5
w1=$(wire_sent "$agent_pid")
tot_killed=$(dj 0 total.tls_bytes)
kill -KILL "$agent_pid"
wait_for 10 gone "$agent_pid"
agent_pid=
wait_for 10 agent_done
is "$(cat "$dir/agent.rc" 2>/dev/null)" 137 "the agent died of the kill -9"
ls "$st"/disk1.img-*.cycle >/dev/null 2>&1
ok $? "killed mid-cycle: the cycle file is there ($((acked - first + 1)) frames were acknowledged)"
throttle 0
once
ok $? "agent kill: replicate --once after kill -9 exits 0"
p=$(dj 0 last_point.id)
s=$(last_resume_seq "$d1")
[ -n "$s" ] && [ "$s" -ge "$acked" ]
ok $? "havend resumed disk1 after seq $s, at or past the last ack the agent saw ($acked)"
is "$(dj 0 run.frames)" $(( $(cycle_frames) - (s - first + 1) )) \
    "the resume sent only the frames after seq $s (none twice, none missing)"
like "$(grep -F "disk $d1: resuming point $p at seq $((s + 1))" "$alog")" \
    "frames already durable" "the agent logged the resume"
r1=$(dj 0 run.data_bytes)
w2=$(dj 0 run.tls_bytes)
[ "$r1" -lt "$data1" ] && [ "$r1" -gt 0 ]
ok $? "the resume sent $r1 of the cycle's $data1 data bytes"
if [ "$w1" -eq 0 ]; then
	# No socket counters (ss without -p?): the agent's own, which lag
	# by up to a second.
	w1=$((tot_killed - tot_before))
	diag "ss gave no counters; using the agent's (lower bound)"
fi
diag "agent kill -9: cycle $data1 data bytes; interrupted run $w1 bytes on the" \
    "wire, resume $w2 (data $r1); together $((w1 + w2))"
[ $((w1 + w2)) -ge "$data1" ] && [ $((w1 + w2)) -le $((data1 + SLACK)) ]
ok $? "interrupted + resumed wire bytes ($((w1 + w2))) are the cycle's data ($data1), not twice"
is "$(dj 1 run.data_bytes)" "$data2" "disk2 sent exactly its changes"
wait_for 30 point_listed "$p"
ok $? "point $p is listed"
keep_ref "$p"

# 2b. The shard holding the stream.
big_change
start_throttled
ok $? "shard kill: disk1's cycle is under way"
first=$(dj 0 cycle.first_seq)
acked=$(dj 0 acked_seq)
n=$(grep -F "info: stream of $mid:$d1 from " "$dir/havend.log" | tail -n 1 |
    sed -nE 's/.*\(shard ([0-9]+)\).*/\1/p')
spid=$(havend_worker_pid "$dir" shard "${n:-0}")
restarts=$(hctl status --json | jq --argjson p "$spid" '.workers[] | select(.pid == $p) | .restarts')
like "$spid" '^[0-9]+$' "shard $n (pid $spid) holds disk1's stream"
kill -KILL "$spid"
wait_for 60 agent_done
is "$(cat "$dir/agent.rc" 2>/dev/null)" 0 "shard kill: the agent finished its point"
agent_pid=
slot=$(hctl status --json | jq -c --argjson n "${n:-0}" '[.workers[] | select(.kind == "shard")][$n] | [.restarts, .state, .pid != 0]')
is "$slot" "[$((restarts + 1)),\"running\",true]" "the parent restarted shard $n"
p=$(dj 0 last_point.id)
s=$(last_resume_seq "$d1")
[ -n "$s" ] && [ "$s" -ge "$acked" ]
ok $? "disk1 resumed after seq $s, at or past the last ack seen before the kill ($acked)"
r1=$(dj 0 run.data_bytes)
is "$(dj 0 run.connections)" 2 "disk1 needed one reconnection"
diag "shard kill -9: cycle $data1 data bytes; the run sent $r1 data bytes," \
    "$(dj 0 run.tls_bytes) on the wire, in $(dj 0 run.frames) frames for a" \
    "cycle of $(cycle_frames)"
[ "$r1" -ge "$data1" ] && [ "$r1" -le $((data1 + SLACK)) ]
ok $? "data sent over the broken stream and its resume ($r1) is the cycle's ($data1) + $((r1 - data1)) in flight"
is "$(dj 1 run.data_bytes)" "$data2" "disk2 sent exactly its changes"
wait_for 30 point_listed "$p"
ok $? "point $p is listed"
keep_ref "$p"

# 2c. All of havend: the parent and every child at once.
big_change
start_throttled
ok $? "havend kill: disk1's cycle is under way"
acked=$(dj 0 acked_seq)
pids="$(havend_pid "$dir") $(hctl status --json | jq -r '.workers[].pid')"
kill -KILL $pids
alive=
for p in $pids; do wait_for 10 gone "$p" || alive="$alive $p"; done
is "$alive" "" "kill -9 of havend: all $(echo $pids | wc -w) processes are gone"
sleep 1
havend_start "$dir"
ok $? "havend restarts"
disown -a
wait_for 90 agent_done
is "$(cat "$dir/agent.rc" 2>/dev/null)" 0 "havend kill: the agent finished its point"
agent_pid=
p=$(dj 0 last_point.id)
s=$(last_resume_seq "$d1")
[ -n "$s" ] && [ "$s" -ge "$acked" ]
ok $? "disk1 resumed after seq $s, at or past the last ack seen before the kill ($acked)"
r1=$(dj 0 run.data_bytes)
[ "$(dj 0 run.connections)" -ge 2 ]
ok $? "disk1 reconnected to the restarted havend ($(dj 0 run.connections) connections)"
diag "havend kill -9: cycle $data1 data bytes; the run sent $r1 data bytes," \
    "$(dj 0 run.tls_bytes) on the wire, over $(dj 0 run.connections) connections"
[ "$r1" -ge "$data1" ] && [ "$r1" -le $((data1 + SLACK)) ]
ok $? "data sent over the broken stream and its resume ($r1) is the cycle's ($data1) + $((r1 - data1)) in flight"
is "$(dj 1 run.data_bytes)" "$data2" "disk2 sent exactly its changes"
wait_for 30 point_listed "$p"
ok $? "point $p is listed after the restart"
keep_ref "$p"

# And life goes on.
throttle 0
ok $? "the policy's throttle is off again"
workload "$d1" 8
workload "$d2" 8
cycle "after the restarts"

# --- 3. Every point, recovered -------------------------------------------

listed=$(hctl points list "$mid" | awk '$1 ~ /^[0-9]+$/ { print $1 }' | sort -n | tr '\n' ' ')
is "$listed" "$(printf '%s\n' "${points[@]}" | sort -n | tr '\n' ' ')" \
    "havenctl points list shows every point taken (${#points[@]})"
like "$(hctl points list "$mid")" 'achieved RPO: [0-9ms ]+ \(threshold 1h\)$' \
    "... and the achieved RPO against the policy's threshold"
is "$(hctl points list "$mid" | awk '$1 ~ /^[0-9]+$/ { $1 = $2 = ""; print }' | sort -u)" \
    "  crash none (no snapshot provider)" \
    "... each a crash point read live (snapshot none): not crash-consistent"
sum_before=$(cat "$(replica_of "$d1")" "$(replica_of "$d2")" \
    "$dir"/retention/*/state | md5sum)
bad=
for p in "${points[@]}"; do
	out=$dir/recovered/$p
	if ! hctl recover "$mid" --point "$p" --out "$out" >"$dir/recover.out" 2>&1; then
		bad="$bad $p(failed: $(tail -n 1 "$dir/recover.out"))"
		continue
	fi
	for d in "$d1" "$d2"; do
		cmp -s "$out/$(img_name "$d").img" "$dir/ref/$p/$(basename "$d")" ||
		    bad="$bad $p:$(basename "$d")"
	done
	rm -rf "$out"
done
is "$bad" "" "every point (${#points[@]}) recovers byte-identical to the disks at that point"
is "$(cat "$(replica_of "$d1")" "$(replica_of "$d2")" \
    "$dir"/retention/*/state | md5sum)" "$sum_before" \
    "recovering did not change the replicas"
hctl recover "$mid" --point latest --out "$dir/recovered/latest" >/dev/null 2>&1 &&
    cmp -s "$dir/recovered/latest/$(img_name "$d1").img" "$d1" &&
    cmp -s "$dir/recovered/latest/$(img_name "$d2").img" "$d2"
ok $? "recover --point latest gives the disks as they are"
is "$(api GET /api/v1/alerts | jq -r '[.alerts[].key] | join(" ")')" "" \
    "no alert is left"

# --- 4. Retention pruning -------------------------------------------------

# A 10 s retention; once the newest point is older than that, one more
# point, then a prune: every point but the new one goes, with the
# journal space only they needed (disk1's journal spans two segments).
jbytes() { du -sb "$dir"/retention/*/journal | awk '{ s += $1 } END { print s }'; }
hctl policy set repl --interval 10 --retention 10 >/dev/null 2>&1
ok $? "the policy's retention is now 10 s"
age_over() {
	api GET "/api/v1/machines/$mid/points" | jq -e --argjson a "$1" \
	    '.latest.age_s > $a' >/dev/null
}
wait_for 30 age_over 10
workload "$d1" 4
workload "$d2" 4
cycle "before pruning"
new=${points[-1]}
old=("${points[@]:0:${#points[@]}-1}")
j0=$(jbytes)
sum_before=$(cat "$(replica_of "$d1")" "$(replica_of "$d2")" | md5sum)
out=$(hctl prune 2>&1)
like "$out" "$mid $d1: dropped ${#old[@]} points, freed [1-9][0-9]* bytes" \
    "havenctl prune drops disk1's ${#old[@]} old points and frees journal space"
like "$out" "$mid $d2: dropped ${#old[@]} points" "... and disk2's"
j1=$(jbytes)
[ "$j1" -lt "$j0" ]
ok $? "the journals shrank ($j0 -> $j1 bytes)"
listed=$(hctl points list "$mid" | awk '$1 ~ /^[0-9]+$/ { print $1 }' | tr '\n' ' ')
is "$listed" "$new " "only the new point $new is listed"
hctl recover "$mid" --point "${old[0]}" --out "$dir/recovered/pruned" >"$dir/recover.out" 2>&1
rc=$?
like "$rc $(cat "$dir/recover.out")" "^1 .*has no complete recovery point ${old[0]} \\(pruned" \
    "a pruned point cannot be recovered"
hctl recover "$mid" --point "$new" --out "$dir/recovered/$new" >/dev/null 2>&1 &&
    cmp -s "$dir/recovered/$new/$(img_name "$d1").img" "$dir/ref/$new/disk1.img" &&
    cmp -s "$dir/recovered/$new/$(img_name "$d2").img" "$dir/ref/$new/disk2.img"
ok $? "the point kept recovers identical"
is "$(cat "$(replica_of "$d1")" "$(replica_of "$d2")" | md5sum)" "$sum_before" \
    "pruning did not change the replicas"

plan "$_tap_n"
[ "$_tap_failed" -eq 0 ]
