#!/usr/bin/env bash
# Replication history (docs/replication.md "History"): a real havend
# samples every second (history_interval = 1) while a real haven-agent
# replicates; the machine's series carries exactly the data bytes the
# agent sent, received and applied, with sane RPO values; /metrics has
# per-disk counters equal to them that survive a restart of the shards
# and of the control process; the history API refuses bad input; rows
# past 7 days are pruned.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

plan 46

dir=$(mktemp -d "${TMPDIR:-/tmp}/haven-history.XXXXXX")
trap 'havend_teardown "$dir"; rm -rf "$dir"' EXIT

HAVEN_HEARTBEAT=2 havend_setup "$dir" || { echo "Bail out! MariaDB did not start"; exit 1; }
echo "history_interval = 1" >>"$dir/havend.conf"
havend_start "$dir" || { echo "Bail out! havend did not start"; exit 1; }
B=$HAVEN_BIN
cp=$(conf_get "$dir" control_port)
ap=$(conf_get "$dir" admin_port)
MiB=$((1 << 20))

api() { curl -s --max-time 20 --unix-socket "$dir/havend.sock" "http://localhost$1"; }
api_code() { curl -s -o "$dir/body" -w '%{http_code}' --max-time 20 \
    --unix-socket "$dir/havend.sock" "http://localhost$1"; }
sql() { mariadb --defaults-file="$dir/db/root.cnf" -N -B haven -e "$1"; }
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/state/metrics.token")
metrics() { curl -sk --max-time 20 -H "Authorization: Bearer $(cat "$dir/state/metrics.token")" \
    "https://127.0.0.1:$ap/metrics"; }

(umask 077; hctl passphrase show | tail -n 1 >"$dir/pass")
mkdir -p "$dir/agent"
disk=$dir/agent/disk0
head -c $((8 * MiB)) /dev/urandom >"$disk"
cat >"$dir/agent/agent.conf" <<EOF
state_dir = $dir/agent/state
disks = $disk
snapshot = none
EOF
ag() { "$B/haven-agent" -c "$dir/agent/agent.conf" "$@"; }
ag enroll --cs "127.0.0.1:$cp" --passphrase-file "$dir/pass" >/dev/null 2>&1
ok $? "the agent enrolls"
mid=$(jq -r .machine_id "$dir/agent/state/machine.json")
hctl policy create hist --interval 10 --rpo 60 --retention 3600 >/dev/null &&
    hctl policy assign "$mid" hist >/dev/null
ok $? "a policy with a 60 s RPO threshold is assigned"
ag heartbeat --once >/dev/null 2>&1

# --- before any data: an empty series, not an invented one
code=$(api_code "/api/v1/machines/$mid/history?hours=24")
is "$code" 200 "the history of a machine that has not replicated answers 200"
is "$(jq -c '[.points, .rpo_threshold_s, .policy]' "$dir/body")" '[[],60,"hist"]' \
    "... with no points, and the policy's threshold for the chart"

# --- replicate: the full 8 MiB, then two changes of 1 MiB
t0=$(date +%s)
ag replicate --once >/dev/null 2>&1
ok $? "the first cycle replicates 8 MiB"
for i in 1 2; do
	dd if=/dev/urandom of="$disk" bs=1M seek=$((i * 3)) count=1 conv=notrunc 2>/dev/null
	ag replicate --once >/dev/null 2>&1 || diag "replicate $i failed"
done
npoints() { [ "$(hctl --json points list "$mid" | jq '.points | length')" -ge 3 ]; }
wait_for 30 npoints
ok $? "three recovery points are complete"
data=$(jq '[.disks[].total.data_bytes] | add' "$dir/agent/state/replication.json")
frames=$(jq '[.disks[].total.frame_bytes] | add' "$dir/agent/state/replication.json")
is "$data" $((10 * MiB)) "the agent sent 10 MiB of data ($frames bytes of frames)"

series() { api "/api/v1/machines/$mid/history?hours=${1:-24}"; }
sum_in() { series | jq '[.points[].bytes_in] | add // 0'; }
sum_ap() { series | jq '[.points[].bytes_applied] | add // 0'; }
settled() { [ "$(sum_in)" = "$data" ] && [ "$(sum_ap)" = "$data" ]; }
wait_for 20 settled
s=$(series)
is "$(echo "$s" | jq '[.points[].bytes_in] | add')" "$data" \
    "the series' bytes received add up to the data bytes the agent sent"
is "$(echo "$s" | jq '[.points[].bytes_applied] | add')" "$data" \
    "... and so do its bytes applied"
in=$(echo "$s" | jq '[.points[].bytes_in] | add')
[ "$in" -ge "$data" ] && [ "$in" -le "$frames" ]
ok $? "... which is within the agent's frame bytes ($data <= $in <= $frames)"
n=$(echo "$s" | jq '.points | length')
[ "$n" -ge 1 ] && [ "$n" -le 300 ]
ok $? "the 24 h series has between 1 and 300 points ($n)"
is "$(echo "$s" | jq -c '[.hours, .bucket_s, .sample_s]')" "[24,300,1]" \
    "24 h of 1 s samples come in 5-minute buckets"
now=$(date +%s)
echo "$s" | jq -e --argjson now "$now" \
    '.from <= .now - 86400 and .to > .now and .now <= $now and
     ((.to - .from) / .bucket_s) <= 300 and
     (.from as $f | .to as $e | .bucket_s as $b |
      all(.points[]; .t >= $f and .t < $e and (.t - $f) % $b == 0))' >/dev/null
ok $? "the window covers the 24 h, aligned to its buckets"

# RPO: seconds since the disk's newest point, null before the first one.
s1=$(series 1)
is "$(echo "$s1" | jq '.bucket_s')" 15 "a 1 h series comes in 15 s buckets"
echo "$s1" | jq -e --argjson span $(( $(date +%s) - t0 + 5 )) \
    '[.points[].rpo_s | select(. != null)] | length > 0 and
     all(.[]; . >= 0 and . <= $span)' >/dev/null
ok $? "the RPO values are between 0 and the time since replication began"
last_rpo=$(echo "$s1" | jq '[.points[] | select(.rpo_s != null)] | last | .rpo_s')
[ "$last_rpo" -le 15 ]
ok $? "the newest bucket's RPO is the age of the last point, a few seconds ($last_rpo s)"
echo "$s1" | jq -e '[.points[].samples] | all(. >= 1)' >/dev/null
ok $? "every bucket says how many samples it holds"
is "$(echo "$s1" | jq -c '.disks')" "[\"$disk\"]" "the series names the machine's disk"

# --- /metrics: per-disk counters, with their HELP and TYPE
m=$(metrics)
like "$m" "# TYPE haven_disk_received_bytes_total counter" \
    "/metrics declares haven_disk_received_bytes_total a counter"
like "$m" "# HELP haven_disk_applied_bytes_total .*restart" \
    "... and says in its HELP what a restart may lose"
lbl="machine=\"$mid\",host=\"[^\"]*\",disk=\"$disk\""
mval() { metrics | sed -n "s|^$1{machine=\"$mid\",host=\"[^\"]*\",disk=\"$disk\"} ||p"; }
like "$m" "haven_disk_received_bytes_total\{$lbl\} $data" \
    "the disk's bytes received equal the data sent ($data)"
like "$m" "haven_disk_applied_bytes_total\{$lbl\} $data" \
    "the disk's bytes applied equal the data sent"
like "$m" "haven_disk_rpo_seconds\{$lbl\} [0-9]+" "the disk's achieved RPO is there"
is "$(sql "SELECT bytes_received, bytes_applied FROM disk_state WHERE machine_id = '$mid'" | tr '\t' ' ')" \
    "$data $data" "the totals are kept in the database (disk_state)"

# An agent reports bytes sent; received and applied are the servers' count.
st=$dir/agent/state
curl -s --max-time 10 --cacert "$st/ca.crt" --cert "$st/agent.crt" --key "$st/agent.key" \
    -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
    -d "{\"inventory\": {}, \"replication\": [{\"disk\": \"$disk\", \"bytes_received\": 0, \"bytes_applied\": 0}]}" \
    "https://127.0.0.1:$cp/api/v1/heartbeat" >"$dir/hbcode"
is "$(cat "$dir/hbcode")" 200 "a heartbeat claiming 0 bytes received and applied is answered"
sleep 1
is "$(sql "SELECT bytes_received, bytes_applied FROM disk_state WHERE machine_id = '$mid'" | tr '\t' ' ')" \
    "$data $data" "... and does not touch the servers' counts"

# --- restarts: the counters do not go back
cpid=$(havend_worker_pid "$dir" control)
kill -9 "$cpid"
control_back() { p=$(havend_worker_pid "$dir" control); [ -n "$p" ] && [ "$p" != null ] &&
    [ "$p" != "$cpid" ] && havend_db_up "$dir"; }
wait_for 20 control_back
ok $? "the control process is killed and restarted"
has_rx() { [ "$(mval haven_disk_received_bytes_total)" = "$data" ]; }
wait_for 10 has_rx
is "$(mval haven_disk_received_bytes_total)/$(mval haven_disk_applied_bytes_total)" "$data/$data" \
    "after the control restart the counters still equal the data sent"
for i in 0 1; do
	spid=$(havend_worker_pid "$dir" shard $i)
	[ -n "$spid" ] && [ "$spid" != null ] && kill -9 "$spid"
done
sleep 2
dd if=/dev/urandom of="$disk" bs=64k seek=5 count=4 conv=notrunc 2>/dev/null
ag replicate --once >/dev/null 2>&1
ok $? "after both shards were killed a 256 KiB change replicates"
want=$((data + 256 * 1024))
data2=$(jq '[.disks[].total.data_bytes] | add' "$dir/agent/state/replication.json")
is "$data2" "$want" "the agent counts 256 KiB more data"
grown() { [ "$(mval haven_disk_received_bytes_total)" = "$want" ] &&
    [ "$(mval haven_disk_applied_bytes_total)" = "$want" ]; }
wait_for 20 grown
ok $? "the counters grow by exactly the change ($(mval haven_disk_received_bytes_total)/$(mval haven_disk_applied_bytes_total), want $want)"
settled2() { [ "$(sum_in)" = "$want" ] && [ "$(sum_ap)" = "$want" ]; }
wait_for 20 settled2
ok $? "... and so does the series ($(sum_in)/$(sum_ap))"

# --- bad input
for h in abc 0 10000 -1 1.5 ""; do
	code=$(api_code "/api/v1/machines/$mid/history?hours=$h")
	msg=$(jq -r .error.message "$dir/body" 2>/dev/null)
	if [ "$code" = 400 ] && printf '%s' "$msg" | grep -q "from 1 to 168"; then
		pass "hours=$h is refused with 400: $msg"
	else
		fail "hours=$h is refused with 400 (got $code: $(cat "$dir/body"))"
	fi
done
code=$(api_code "/api/v1/machines/00000000-0000-0000-0000-000000000000/history")
is "$code" 404 "the history of a machine that does not exist is 404"
like "$(jq -r .error.message "$dir/body")" "no machine .*havenctl machine list" \
    "... and the message says where the machines are listed"
code=$(api_code "/api/v1/machines/$mid/history?hours=168")
is "$(jq -c '[.bucket_s, (.points | length <= 300)]' "$dir/body")" "[3600,true]" \
    "168 h (the most kept) comes in hourly buckets"

# --- pruning: rows past 7 days go, those within stay
sql "INSERT INTO disk_history (machine_id, disk, at, interval_s, bytes_in)
    VALUES ('$mid', 'gone8d', UTC_TIMESTAMP() - INTERVAL 8 DAY, 60, 1),
           ('$mid', 'kept6d', UTC_TIMESTAMP() - INTERVAL 6 DAY, 60, 12345)"
ok $? "two old samples are planted: 8 and 6 days old"
pruned() { [ "$(sql "SELECT COUNT(*) FROM disk_history WHERE disk = 'gone8d'")" = 0 ]; }
wait_for 10 pruned
ok $? "the sample older than 7 days is pruned"
is "$(sql "SELECT COUNT(*) FROM disk_history WHERE disk = 'kept6d'")" 1 \
    "the 6-day-old sample is kept"
is "$(series 168 | jq '[.points[].bytes_in] | add')" $((want + 12345)) \
    "the 168 h series includes it"
is "$(series 24 | jq '[.points[].bytes_in] | add')" "$want" \
    "the 24 h series does not"
