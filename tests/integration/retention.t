#!/usr/bin/env bash
# Retention: points older than the policy's retention are pruned, their
# journal space is freed, a pruned point is no longer listed nor
# recoverable, and the points kept still recover byte-identical.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

plan 21

dir=$(mktemp -d "${TMPDIR:-/tmp}/haven-retention.XXXXXX")
trap 'havend_teardown "$dir"; rm -rf "$dir"' EXIT

# A 2 s heartbeat interval: control's sweep (and RPO check) runs that often.
HAVEN_HEARTBEAT=2 havend_setup "$dir" || { echo "Bail out! MariaDB did not start"; exit 1; }
echo "journal_segment = 1m" >>"$dir/havend.conf"
havend_start "$dir" || { echo "Bail out! havend did not start"; exit 1; }
B=$HAVEN_BIN
cp=$(conf_get "$dir" control_port)
dp=$(conf_get "$dir" data_port)

(umask 077; hctl passphrase show | tail -n 1 >"$dir/pass")
mkdir -p "$dir/agent"
head -c $((8 << 20)) /dev/urandom >"$dir/agent/disk0"
cat >"$dir/agent/agent.conf" <<EOF
state_dir = $dir/agent/state
disks = $dir/agent/disk0
snapshot = none
EOF
ag() { "$B/haven-agent" -c "$dir/agent/agent.conf" "$@"; }
ag enroll --cs "127.0.0.1:$cp" --passphrase-file "$dir/pass" >/dev/null 2>&1
ok $? "the agent enrolls"
mid=$(jq -r .machine_id "$dir/agent/state/machine.json")
hctl policy create short --interval 10 --rpo 10 --retention 20 >/dev/null &&
    hctl policy assign "$mid" short >/dev/null
ok $? "a policy with 20 s retention is assigned"
# No ps in agent.conf: the heartbeat answer carries the policy and the
# data port, and replicate takes them from there.
hctl policy throttle short 4m >/dev/null
ok $? "the policy gets a 4 MB/s throttle"
ag heartbeat --once >/dev/null 2>&1
is "$(jq -c '[.policy, .interval, .data_port, .throttle]' "$dir/agent/state/cs-settings.json")" \
    "[\"short\",10,$dp,\"4m\"]" "the heartbeat answer carries the policy's settings"

# The first cycle sends all 8 MiB: at 4 MB/s it cannot take under 1.5 s.
t0=$(( $(date +%s%N) / 1000000 ))
ag replicate --once >/dev/null 2>&1
el=$(( $(date +%s%N) / 1000000 - t0 ))
[ "$el" -ge 1500 ]
ok $? "the policy's throttle holds the agent back (8 MiB in $el ms)"
hctl policy throttle short 0 >/dev/null
ag heartbeat --once >/dev/null 2>&1
# Three points with 2 MiB of changes each, each with a reference copy.
for i in 1 2 3; do
	dd if=/dev/urandom of="$dir/agent/disk0" bs=1M seek=$((i * 2)) count=2 \
	    conv=notrunc 2>/dev/null
	ag replicate --once >/dev/null 2>&1 || diag "replicate $i failed"
	cp "$dir/agent/disk0" "$dir/ref$i"
done
points() { hctl --json points list "$mid" | jq -r '[.points[].point_id] | join(" ")'; }
# The agent is done when the process server holds the data durably; a
# point is complete once the master target has applied it.
npoints() { [ "$(points | wc -w)" -eq "$1" ]; }
wait_for 20 npoints 4
old=$(points)
is "$(echo "$old" | wc -w)" 4 "four points are listed"
jbytes() { du -sb "$dir/retention" | cut -f1; }
before=$(jbytes)

alerts() { curl -s --unix-socket "$dir/havend.sock" http://localhost/api/v1/alerts; }
has_rpo_alert() { alerts | jq -e --arg k "rpo:$mid" \
    '[.alerts[] | select(.alert_key == $k or .key == $k)] | length > 0' >/dev/null; }
no_rpo_alert() { ! has_rpo_alert; }
wait_for 25 has_rpo_alert
ok $? "no point for longer than the 10 s RPO threshold raises the rpo:$mid alert"
like "$(alerts | jq -r '.alerts[].message')" "RPO|threshold" \
    "... and its message names the RPO and the threshold"
sleep 21
dd if=/dev/urandom of="$dir/agent/disk0" bs=64k seek=1 count=1 conv=notrunc \
    2>/dev/null
ag replicate --once >/dev/null 2>&1
cp "$dir/agent/disk0" "$dir/ref4"
wait_for 20 npoints 5
ok $? "the fifth point is complete"
wait_for 10 no_rpo_alert
ok $? "a fresh point clears the RPO alert"
out=$(hctl prune 2>&1)
like "$out" "dropped 4 points, freed [1-9][0-9]* bytes" \
    "havenctl prune drops the four old points and frees journal space"
after=$(jbytes)
[ "$after" -lt "$before" ]
ok $? "the retention directory shrank ($before -> $after bytes)"
now=$(points)
is "$(echo "$now" | wc -w)" 1 "only the new point is listed"
for p in $old; do
	case " $now " in *" $p "*) fail "pruned point $p is still listed" ;;
	*) pass "pruned point $p is no longer listed" ;; esac
done
rm -rf "$dir/out-old"
o=$(hctl recover "$mid" --point "$(echo "$old" | awk '{print $NF}')" \
    --out "$dir/out-old" 2>&1)
[ $? -ne 0 ]
ok $? "recovering a pruned point is refused: $(echo "$o" | tail -n 1)"
rm -rf "$dir/out"
hctl recover "$mid" --point latest --out "$dir/out" >/dev/null 2>&1
cmp -s "$dir"/out/*.img "$dir/ref4"
ok $? "the kept point recovers byte-identical"
grep -q "retention: dropped 4 points" "$dir/havend.log"
ok $? "the log says what retention dropped"
curl -s --unix-socket "$dir/havend.sock" http://localhost/api/v1/audit |
    jq -e '[.entries[] | select(.action == "prune")] | length > 0' >/dev/null
ok $? "the prune is in the audit log"
