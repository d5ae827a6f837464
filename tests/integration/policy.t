#!/bin/bash
# Replication policies, recovery points and recovery through havenctl,
# against a real havend and MariaDB (tests/lib/havend.sh) with a real
# enrolled haven-agent.  Points are written into the database and a
# replica directory is laid out by hand (docs/storage.md) where the data
# path would; the end-to-end replication test drives the real one.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
. "$root/tests/lib/tap.sh"
. "$root/tests/lib/havend.sh"

AGENT=$HAVEN_BIN/haven-agent
dir=$(mktemp -d /tmp/haven-policy.XXXXXX)
trap 'havend_teardown "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP

# run CMD...: output (stdout and stderr) in $out, exit code in $rc.
run() { out=$("$@" 2>&1); rc=$?; }
api() {	# METHOD PATH [BODY]: the answer; the status in $dir/status
	curl -s --max-time 10 --unix-socket "$dir/havend.sock" -X "$1" \
	    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
	    -o "$dir/answer" -w '%{http_code}' "http://localhost$2" \
	    >"$dir/status"
	cat "$dir/answer"
}
sql() {
	mariadb --defaults-file="$dir/db/root.cnf" -N -B haven -e "$1"
}
policy() { hctl policy list --json | jq -c --arg n "$1" '.policies[] | select(.name == $n)'; }
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

plan 50

if ! havend_setup "$dir" || ! havend_start "$dir"; then
	echo "Bail out! havend did not start"
	exit 1
fi
cport=$(conf_get "$dir" control_port)
retention=$(conf_get "$dir" retention_dir)

# --- Policies -----------------------------------------------------------

like "$(hctl policy list)" '^ID +NAME +RPO-THRESHOLD +RETENTION +CRASH-INTERVAL +APP-INTERVAL +MACHINES' \
    "policy list is a table"
like "$(hctl policy list)" '[0-9]+ +default-failback +15m +1d +5m +4h +0' \
    "the seed policy has its failback twin, 5 min crash-consistent interval"

run hctl policy create gold --rpo 10m --interval 2m --retention 2d --app-interval 1h
is "$rc" 0 "policy create gold succeeds"
like "$out" '^created policy gold \(id [0-9]+\) and its failback twin gold-failback \(id [0-9]+\): RPO threshold 10m, retention 2d, crash-consistent every 2m, app-consistent every 1h$' \
    "and says so, naming the twin"
g=$(policy gold); f=$(policy gold-failback)
is "$(jq -c '[.rpo_threshold_s, .retention_s, .crash_interval_s, .app_consistent_s, .is_failback, .twin]' <<<"$g")" \
    '[600,172800,120,3600,false,"gold-failback"]' "gold has the values given"
is "$(jq -c '[.rpo_threshold_s, .retention_s, .crash_interval_s, .app_consistent_s, .is_failback, .twin]' <<<"$f")" \
    '[600,172800,120,3600,true,"gold"]' "gold-failback has the same values and knows its twin"
is "$(jq .twin_id <<<"$g")" "$(jq .id <<<"$f")" "the twins point at each other"

npol=$(hctl policy list --json | jq '.policies | length')
run hctl policy create silver --interval 5
is "$rc" 1 "a 5 s interval is refused"
like "$out" "crash-consistent interval \('crash_interval_s'\) must be from 10 s to 1 day, not 5 s" \
    "... saying the range"
run hctl policy create silver --interval 2d
like "$out" "must be from 10 s to 1 day, not 172800 s" "a 2-day interval is refused"
run hctl policy create silver --interval 1h --rpo 15m
like "$out" 'the RPO threshold \(15 min\) must be at least the crash-consistent interval \(1 h\)' \
    "an RPO threshold below the interval is refused, with both values"
run hctl policy create silver --app-interval 1m --interval 5m
like "$out" 'app-consistent interval \(1 min\) must be at least the crash-consistent interval \(5 min\)' \
    "an app-consistent interval below the crash one is refused"
run hctl policy create silver --rpo soon
is "$rc" 2 "a duration that is not one is a usage error"
like "$out" "--rpo 'soon': give seconds, or a number with s, m, h or d" "... saying the forms"
run hctl policy create gold
like "$out" "a policy named 'gold' already exists" "a second gold is refused"
run hctl policy create x-failback
like "$out" 'names ending in -failback are for the failback twin' "-failback names are the twins'"
run hctl policy create 'a;b'
like "$out" 'a policy name is 1 to 55 letters, digits' "a name with ';' is refused"
api POST /api/v1/policies '{"name":"silver","rpo":60}' >/dev/null
is "$(cat "$dir/status") $(jq -r .error.message "$dir/answer")" \
    "400 unknown policy setting 'rpo'; the settings are name, rpo_threshold_s, retention_s, app_consistent_s, crash_interval_s, thin_after_s and thin_every_s (seconds)" \
    "the API refuses an unknown setting with 400, listing the right ones"
is "$(hctl policy list --json | jq '.policies | length')" "$npol" "the refusals created nothing"
run hctl policy create fast --interval 10 --rpo 30 --app-interval 0
is "$rc $(policy fast | jq -c '[.crash_interval_s, .app_consistent_s]')" "0 [10,0]" \
    "10 s is the shortest interval; app-consistent points can be off"
run hctl policy create eu.gold-2 --interval 1m
is "$rc:$(hctl policy show eu.gold-2 | head -n 1)" "0:policy eu.gold-2 (id $(policy eu.gold-2 | jq .id))" \
    "names may have dots and dashes, and policy show finds them by name"
run hctl policy set fast --rpo 1m
like "$out" '^policy fast: RPO threshold 1m, retention 1d, crash-consistent every 10s, app-consistent never$' \
    "policy set changes a setting and shows the result"

# --- A machine ----------------------------------------------------------

hctl passphrase show >"$dir/pass" 2>/dev/null
chmod 600 "$dir/pass"
truncate -s 1M "$dir/disk1.img" "$dir/disk2.img"
mkdir -p "$dir/agent"
printf 'state_dir = %s\ndisks = %s %s\n' "$dir/agent/state" \
    "$dir/disk1.img" "$dir/disk2.img" >"$dir/agent/agent.conf"
"$AGENT" -c "$dir/agent/agent.conf" enroll --cs "127.0.0.1:$cport" \
    --passphrase-file "$dir/pass" >/dev/null 2>&1 &&
    "$AGENT" -c "$dir/agent/agent.conf" heartbeat --once >/dev/null 2>&1
ok $? "an agent enrolls and reports its two disks"
mid=$(jq -r .machine_id "$dir/agent/state/machine.json" 2>/dev/null)
host=$(hctl machine list --json | jq -r --arg id "$mid" '.machines[] | select(.id == $id) | .hostname')

run hctl policy assign "$mid" gold
is "$rc" 0 "policy assign MACHINE-ID gold"
is "$out" "$host ($mid) now follows policy gold" "... says who follows what"
run hctl policy assign "$host" fast
is "$rc:$out" "0:$host ($mid) now follows policy fast" "a hostname names the machine too"
hctl policy assign "$mid" gold >/dev/null 2>&1
is "$(api GET "/api/v1/machines/$mid/replication" | jq -r '.policy.name + " " + (.policy.crash_interval_s | tostring)')" \
    "gold 120" "the machine's replication view carries the policy (for the heartbeat)"
run hctl policy assign "$mid" nosuch
like "$rc:$out" "^1:.*no policy named 'nosuch'" "assigning an unknown policy is refused"
run hctl policy assign 00000000-0000-0000-0000-000000000000 gold
like "$rc:$out" '^1:.*no machine with id 00000000-0000-0000-0000-000000000000' "assigning to an unknown machine is refused"
run hctl policy assign no-such-host gold
like "$rc:$out" "^1:.*no enrolled machine has the id or hostname 'no-such-host'" "an unknown hostname is refused"
run hctl policy delete gold
like "$rc:$out" "^1:.*policy 'gold' is in use by 1 machine: $host \\($mid\\); assign it another policy first" \
    "a policy in use cannot be deleted, and the refusal names the machine"
run hctl policy delete gold-failback
like "$out" "policy 'gold-failback' is a failback twin" "a twin is deleted only with its policy"
is "$(api GET /api/v1/audit | jq -r '[.entries[].action] | map(select(. == "policy.create" or . == "machine.policy" or . == "policy.update")) | unique | join(",")')" \
    "machine.policy,policy.create,policy.update" "creating, changing and assigning are in the audit log"

# --- Points -------------------------------------------------------------

run hctl points list "$mid"
is "$rc" 0 "points list with no points succeeds"
is "$out" "no recovery points for $host yet: a point is listed once every disk of the machine has it
achieved RPO: - (threshold 10m)" "... and says there are none, with the threshold"
run hctl recover "$mid" --point latest --out "$dir/out"
like "$rc:$out" "^1:havenctl: $host \\($mid\\) has no recovery points yet" \
    "recover with no points fails, saying why"
[ ! -e "$dir/out" ]; ok $? "... and writes nothing"

# Points as the master target records them; point 8 lacks disk2.
d1=$dir/disk1.img d2=$dir/disk2.img
sql "INSERT INTO recovery_points VALUES
    ('$mid', '$d1', 7, 70, 'crash', 1, UTC_TIMESTAMP(3) - INTERVAL 200 SECOND, UTC_TIMESTAMP(3)),
    ('$mid', '$d2', 7, 71, 'crash', 1, UTC_TIMESTAMP(3) - INTERVAL 200 SECOND, UTC_TIMESTAMP(3)),
    ('$mid', '$d1', 8, 80, 'app', 1, UTC_TIMESTAMP(3) - INTERVAL 10 SECOND, UTC_TIMESTAMP(3))"
run hctl points list "$mid"
like "$out" '^POINT +TIME +KIND +CONSISTENCY
7 +20[0-9-]{8}T[0-9:]{8}Z +crash +crash-consistent
achieved RPO: 3m 2[0-9]s \(threshold 10m\)$' \
    "points list shows complete points only, and the achieved RPO against the threshold"
run hctl recover "$mid" --point latest-app --out "$dir/out"
like "$rc:$out" "^1:.*has no app-consistent recovery point" "latest-app without one is refused"
run hctl recover "$mid" --point 8 --out "$dir/out"
like "$rc:$out" "^1:.*has no complete recovery point 8 \\(pruned, or not every disk has it\\)" \
    "an incomplete point cannot be recovered"
run hctl recover "$mid" --point latest --out "$retention/x"
like "$rc:$out" "^1:.*'out' must not be inside havend's state, cache or retention directory" \
    "recovery never writes into the retention directory"
run hctl recover "$mid" --point latest --out "$dir/out"
like "$rc:$out" "^1:.*recover failed: disk $d1 has no replica on this master target" \
    "a point without a replica: the job fails and says which disk"

# A replica of each disk as the master target leaves it (docs/storage.md):
# the image, an empty journal, and a state naming point 7.
for d in "$d1" "$d2"; do
	rd=$retention/$(hexof "$mid:$d")
	mkdir -p "$rd/journal"
	head -c 1048576 /dev/urandom >"$rd/replica.img"
	printf 'haven-replica 1\ndisk-size 1048576\napplied 80\npoint 7 70 %s crash\n' \
	    "$(date +%s)" >"$rd/state"
	printf 'sum %s\n' "$(xxh64sum <"$rd/state" | cut -c1-16)" >>"$rd/state"
done
sum_before=$(cat "$retention"/*/replica.img | md5sum)
run hctl recover "$host" --point latest --out "$dir/out"
is "$rc" 0 "recover --point latest succeeds"
like "$out" "^recovering $host at point 7 into $dir/out \\(job [0-9]+\\)" "... naming the point and the job"
f1=$dir/out/$(printf '%s' "${d1#/}" | tr / _).img
f2=$dir/out/$(printf '%s' "${d2#/}" | tr / _).img
cmp -s "$f1" "$retention/$(hexof "$mid:$d1")/replica.img" &&
    cmp -s "$f2" "$retention/$(hexof "$mid:$d2")/replica.img"
ok $? "each disk is written to DIR/<disk>.img, identical to the replica at that point"
is "$(cat "$retention"/*/replica.img | md5sum)" "$sum_before" "the replicas are unchanged"
is "$(hctl job list --json | jq -r '[.jobs[] | select(.kind == "recover")][0] | "\(.state) \(.result.files | length)"')" \
    "succeeded 2" "the recover job is recorded with its files"
run hctl recover "$mid" --point 7 --out "$dir/out"
like "$rc:$out" "^1:.*already exists: recovery never overwrites a file" "recovering over existing images is refused"

# --- Deleting -----------------------------------------------------------

hctl policy assign "$mid" default >/dev/null 2>&1
run hctl policy delete gold
is "$rc:$out" "0:deleted policy gold and gold-failback" "an unused policy is deleted with its twin"
[ -z "$(policy gold)$(policy gold-failback)" ]; ok $? "both are gone"
