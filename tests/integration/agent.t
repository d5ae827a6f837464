#!/bin/bash
# haven-agent replicate against tests/lib/fakeps (a test peer, not the
# real process server): initial sync with holes, a 1 % delta that sends
# only the changed blocks, kill -9 of the agent mid-cycle (the resume
# sends only what the PS did not have), a dropped connection, a killed
# and restarted PS, a corrupt block map (full resync), a PS that lost its
# cache (it asks for a resync), quiesce hooks, and
# (where a loop-mounted xfs can be made) reflink with app-consistent
# points.  Certificates come from the openssl CLI.  KEEP=1 keeps the
# temporary directory (and the loop mount) for a look afterwards.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${HAVEN_BIN:-$root/build/bin}
tools=${HAVEN_TOOLS:-$root/build/tools}
. "$root/tests/lib/tap.sh"

dir=$(mktemp -d /tmp/haven-agent.XXXXXX)
ps_pid=
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	[ -n "$ps_pid" ] && kill -9 "$ps_pid" 2>/dev/null
	mountpoint -q "$dir/xfs" 2>/dev/null && umount "$dir/xfs"
	rm -rf "$dir"
}
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap - EXIT
trap 'exit 1' INT TERM HUP

MiB=$((1 << 20))
BS=65536
disk=$dir/disk.img
st=$dir/state
conf=$dir/agent.conf
alog=$dir/agent.log

# --- certificates: a CA, the PS's server certificate, the machine's ---
mkdir -p "$dir/ps" "$st" && chmod 700 "$st"
(
	cd "$dir" || exit 1
	openssl ecparam -name prime256v1 -genkey -noout -out ca.key
	openssl req -x509 -new -key ca.key -subj /CN=test-site-ca -days 2 \
	    -out ps/ca.crt
	openssl ecparam -name prime256v1 -genkey -noout -out ps/server.key
	openssl req -new -key ps/server.key -subj /CN=ps -out s.csr
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
	    >s.ext
	openssl x509 -req -in s.csr -CA ps/ca.crt -CAkey ca.key \
	    -CAcreateserial -days 2 -extfile s.ext -out ps/server.crt
	openssl ecparam -name prime256v1 -genkey -noout -out state/agent.key
	chmod 600 state/agent.key
	openssl req -new -key state/agent.key -subj /CN=m-test -out c.csr
	printf 'extendedKeyUsage=clientAuth\n' >c.ext
	openssl x509 -req -in c.csr -CA ps/ca.crt -CAkey ca.key \
	    -CAcreateserial -days 2 -extfile c.ext -out state/agent.crt
	cp ps/ca.crt state/ca.crt
	echo '{"machine_id": "m-test", "cs": "127.0.0.1:1"}' \
	    >state/machine.json
) >"$dir/openssl.log" 2>&1
ok $? "certificates made with openssl"

# Background processes that are no jobs of this shell (no "Killed"
# notices): spawn PIDFILE LOG CMD...
spawn() {
	local pf=$1 log=$2
	shift 2
	bash -c 'log=$1; shift; "$@" >>"$log" 2>&1 & echo $! >"$0"' \
	    "$pf" "$log" "$@"
	cat "$pf"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
stop() {	# PID [SIGNAL]
	kill "-${2:-TERM}" "$1" 2>/dev/null
	wait_for 10 gone "$1"
}

# --- fakeps ---
port=0
ps_start() {	# extra fakeps arguments
	ps_pid=$(spawn "$dir/ps.pid" "$dir/ps.log" "$tools/fakeps" \
	    --dir "$dir/ps" --listen "127.0.0.1:$port" "$@")
	wait_for 10 test -s "$dir/ps/fakeps.port" || return 1
	port=$(cat "$dir/ps/fakeps.port")
}
ps_stop() {	# [signal]
	[ -n "$ps_pid" ] || return 0
	stop "$ps_pid" "${1:-TERM}"
	ps_pid=
	rm -f "$dir/ps/fakeps.port"
}
pstat() { jq -r ".$1" "$dir/ps/stats.json"; }
replica() { echo "$dir/ps/m-test_$(echo "$disk" | tr -c 'A-Za-z0-9._\n-' _).img"; }

ps_start
ok $? "fakeps listens on port $port"

# --- the agent ---
write_conf() {	# extra "key = value" lines
	{
		echo "state_dir = $st"
		echo "disks = $disk"
		echo "ps = 127.0.0.1:$port"
		echo "quiesce_dir = $dir/quiesce.d"
		printf '%s\n' "$@"
	} >"$conf"
}
agent() { "$bin/haven-agent" -c "$conf" "$@"; }
once() { timeout 60 "$bin/haven-agent" -c "$conf" replicate --once \
    >>"$alog" 2>&1; }
ast() { jq -r ".disks[0].$1" "$st/replication.json"; }
write_block() {	# BLOCK SOURCE
	dd if="$2" of="$disk" bs=$BS seek="$1" count=1 conv=notrunc status=none
}
nonzero_blocks() {	# blocks outside the zero runs made below
	{ seq 0 159; seq 224 1007; } | shuf -n "$1"
}
random_disk() {	# 64 MiB: random, zero 10..14 MiB and the last 1 MiB
	head -c $((64 * MiB)) /dev/urandom >"$disk"
	dd if=/dev/zero of="$disk" bs=$MiB seek=10 count=4 conv=notrunc \
	    status=none
	dd if=/dev/zero of="$disk" bs=$MiB seek=63 count=1 conv=notrunc \
	    status=none
}

# 1. Initial replication: every non-zero block, holes stay holes.
random_disk
write_conf
once
ok $? "replicate --once (initial sync) exits 0"
cmp -s "$disk" "$(replica)"
ok $? "the PS's copy is byte-identical to the disk"
is "$(ast run.data_bytes)" $((59 * MiB)) \
    "initial sync sent the 59 MiB of non-zero blocks, not the zero ones"
is "$(pstat dup_frames)/$(pstat gaps)" "0/0" "no duplicate or missing seq"
out=$(agent status 2>&1)
like "$out" "snapshot provider +[a-z]+: " "status names the provider and why"
like "$out" "last point +[0-9]+ at .*seq 60" "status shows the committed point"
like "$out" "sent \(last run\) +60 frames" "status shows the bytes sent"
like "$(cat "$dir/ps/"*.points)" "^60 [0-9]+ crash [0-9]+ [01] [a-z]+$" \
    "the PS got a bookmark (seq, point, kind, time, consistency, provider)"

# 2. A 1 % delta: 10 blocks rewritten, one block zeroed.
set -- $(nonzero_blocks 11)
for b in "${@:1:10}"; do
	head -c $BS /dev/urandom >"$dir/blk"
	write_block "$b" "$dir/blk"
done
write_block "${11}" /dev/zero
once
ok $? "replicate --once (1% delta) exits 0"
cmp -s "$disk" "$(replica)"
ok $? "the PS's copy is identical after the delta"
data=$(ast run.data_bytes) zero=$(ast run.zero_bytes)
frames=$(ast run.frame_bytes) tls=$(ast run.tls_bytes)
is "$data/$zero" "$((10 * BS))/$BS" \
    "the delta sent the 10 changed blocks and one hole"
diag "1% delta of a 64 MiB disk: $data data bytes, $frames frame bytes," \
    "$tls bytes on the wire (TLS)"
[ "$tls" -lt $((12 * BS)) ]
ok $? "bytes on the wire ($tls) are about the changed blocks"

# 3. kill -9 of the agent mid-cycle, then resume.
random_disk
before=$(pstat data_bytes)
write_conf "throttle = 16m"
agent_pid=$(spawn "$dir/agent.pid" "$alog" "$bin/haven-agent" -c "$conf" \
    replicate --once)
wait_for 20 sh -c "[ \$(jq .data_bytes '$dir/ps/stats.json') -ge \
    $((before + 12 * MiB)) ]"
ok $? "the throttled cycle is under way"
stop "$agent_pid" KILL
agent_pid=
sleep 0.3
first=$(( $(pstat data_bytes) - before ))
ls "$st"/*.cycle >/dev/null 2>&1
ok $? "killed mid-cycle: the cycle file is there ($first bytes were durable)"
write_conf
once
ok $? "replicate --once after kill -9 exits 0"
cmp -s "$disk" "$(replica)"
ok $? "identical after the resume"
second=$(ast run.data_bytes)
is "$((first + second))" $((59 * MiB)) \
    "the resume sent only what the PS lacked ($first + $second bytes)"
is "$(pstat dup_frames)" 0 "the PS saw no frame twice"
like "$(cat "$alog")" "resuming point [0-9]+ at seq" "the agent logged the resume"

# 4. A dropped connection (and a flow-control window).
ps_stop
ps_start --drop-after 20 --window $((4 * MiB))
random_disk
once
ok $? "replicate --once through a dropped connection exits 0"
cmp -s "$disk" "$(replica)"
ok $? "identical after the reconnect"
is "$(pstat drops)" 1 "fakeps dropped the connection once"
is "$(pstat flow_violations)" 0 "the agent kept within the 4 MiB window"
like "$(cat "$alog")" "reconnecting in" "the agent reconnected"

# 5. The PS killed and restarted mid-cycle.
ps_stop
ps_start
random_disk
before=$(pstat data_bytes)
write_conf "throttle = 16m"
rm -f "$dir/agent.rc"
agent_pid=$(spawn "$dir/agent.pid" "$alog" sh -c \
    '"$@"; echo $? >"$0"' "$dir/agent.rc" "$bin/haven-agent" -c "$conf" \
    replicate --once)
wait_for 20 sh -c "[ \$(jq .data_bytes '$dir/ps/stats.json') -ge \
    $((before + 8 * MiB)) ]"
ps_stop KILL
sleep 0.5
ps_start
wait_for 45 test -s "$dir/agent.rc"
is "$(cat "$dir/agent.rc" 2>/dev/null)" 0 \
    "the agent finished after the PS came back"
agent_pid=
cmp -s "$disk" "$(replica)"
ok $? "identical after the PS restart"

# 6. A corrupt block map: detected, with the reason, and a full resync.
write_conf
map=$(ls "$st"/*.map)
printf '\377\377\377\377' | dd of="$map" bs=1 seek=200 conv=notrunc \
    status=none
once
ok $? "replicate --once with a corrupt map exits 0"
like "$(cat "$alog")" "fails its checksum \(corrupt\): full resync" \
    "the corrupt map was detected, with the reason"
cmp -s "$disk" "$(replica)"
ok $? "identical after the full resync"
is "$(ast run.data_bytes)/$(ast run.zero_bytes)" "$((59 * MiB))/$((5 * MiB))" \
    "the resync resent every block, zero ones as holes"

# 6b. The PS lost its cache: it asks for a resync, the agent resends all.
ps_stop
rm -f "$dir/ps/"m-test_*disk.img.*
ps_start
once
ok $? "replicate --once against a PS that lost its cache exits 0"
is "$(pstat resyncs)" 1 "the PS refused the stale resume and asked for a resync"
like "$(cat "$alog")" "needs a resync: full resync" "the agent logged why"
cmp -s "$disk" "$(replica)"
ok $? "identical after the resync"

# 7. Quiesce hooks: a failing one makes the point crash-consistent.
mkdir -p "$dir/quiesce.d"
printf '#!/bin/sh\necho "$1" >>%s/hooks.log\n' "$dir" >"$dir/quiesce.d/10-ok"
printf '#!/bin/sh\n[ "$1" = pre ] && { echo app not ready >&2; exit 3; }\n' \
    >"$dir/quiesce.d/20-fail"
chmod 755 "$dir/quiesce.d/"*
write_conf "app_consistent_interval = 1"
write_block 0 /dev/urandom
once
ok $? "replicate --once with a failing quiesce hook exits 0"
like "$(cat "$alog")" "20-fail pre failed \(exit 3\): app not ready" \
    "the hook's failure is logged with its reason"
like "$(tail -n 1 "$dir/ps/"*.points)" " crash " "so the point is crash-consistent"
is "$(tr '\n' ' ' <"$dir/hooks.log")" "pre post " \
    "the hook that ran pre also ran post"
cmp -s "$disk" "$(replica)"
ok $? "identical"

# 8. reflink on a loop-mounted xfs: consistent, app-consistent points.
ps_stop
if [ "$(id -u)" = 0 ] && command -v mkfs.xfs >/dev/null &&
    truncate -s 320M "$dir/xfs.img" && mkfs.xfs -q "$dir/xfs.img" \
    >/dev/null 2>&1 && mkdir -p "$dir/xfs" &&
    mount -o loop "$dir/xfs.img" "$dir/xfs" 2>/dev/null; then
	ps_start
	mkdir -m 700 "$dir/xfs/state"
	cp -p "$st/"{ca.crt,agent.crt,agent.key,machine.json} "$dir/xfs/state/"
	st=$dir/xfs/state
	disk=$dir/xfs/vm.img
	head -c $((16 * MiB)) /dev/urandom >"$disk"
	rm -f "$dir/quiesce.d/20-fail" "$dir/hooks.log"
	write_conf "app_consistent_interval = 1"
	once
	ok $? "replicate --once of a file on xfs exits 0"
	cmp -s "$disk" "$(replica)"
	ok $? "identical"
	like "$(agent status)" "snapshot provider +reflink: .*supports reflinks" \
	    "status says reflink, and why"
	like "$(tail -n 1 "$dir/ps/"*vm.img.points)" " app [0-9]+ 1 reflink$" \
	    "the point is app-consistent and crash-consistent, by reflink"
	is "$(tr '\n' ' ' <"$dir/hooks.log")" "pre post " "the hooks ran"
	ls "$st"/*.snap >/dev/null 2>&1
	ok $((! $?)) "the clone was released after the point"
else
	for t in "once on xfs" identical "status says reflink" \
	    "app-consistent point" "hooks ran" "clone released"; do
		ok 0 "$t # skip no loop-mounted xfs here (root, mkfs.xfs)"
	done
fi

plan "$_tap_n"
[ "$_tap_failed" -eq 0 ]
