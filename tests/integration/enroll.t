#!/bin/bash
# Enrollment by passphrase, heartbeats, disconnect detection and
# revocation, against a real havend and MariaDB (tests/lib/havend.sh)
# with real haven-agent processes and, for the server side of the
# protocol, curl and openssl computing the proofs of docs/enrollment.md
# independently of the C code.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

AGENT=$HAVEN_BIN/haven-agent
PASS_RE='^[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){4}$'
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

dir=$(mktemp -d /tmp/haven-enroll.XXXXXX)
# A private TMPDIR for MariaDB: a starting mariadbd deletes every #sql*
# file in its tmpdir, so servers sharing /tmp break each other's
# mariadb-install-db (until tests/lib/mariadb.sh gives each its own).
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
hb_pid=
cleanup() {
	trap '' INT TERM HUP
	[ -n "$hb_pid" ] && kill -KILL "$hb_pid" 2>/dev/null
	havend_teardown "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# check DESC CMD...: ok when CMD succeeds; its output as diagnostics if not.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$desc"; else
		fail "$desc"; printf '%s\n' "$out" | head -n 20 | sed 's/^/# /'
	fi
}
mstatus() {
	hctl machine list --json | jq -r --arg id "$1" \
	    '.machines[] | select(.id == $id) | .status'
}
status_is() { [ "$(mstatus "$1")" = "$2" ]; }
mfield() {	# ID JQ-EXPR
	hctl machine list --json | jq -c --arg id "$1" \
	    ".machines[] | select(.id == \$id) | $2"
}
# new_agent NAME [DISK...]: an agent config with its own state_dir.
new_agent() {
	local a=$dir/$1
	shift
	mkdir -p "$a"
	{
		echo "state_dir = $a/state"
		[ $# -gt 0 ] && echo "disks = $*"
	} >"$a/agent.conf"
}
agent() { local a=$1; shift; "$AGENT" -c "$dir/$a/agent.conf" "$@"; }
enroll() {	# NAME PASSFILE
	agent "$1" enroll --cs "127.0.0.1:$cport" --passphrase-file "$2"
}
mid() { jq -r .machine_id "$dir/$1/state/machine.json"; }

# The control port, from a second loopback address so that the refusals
# counted against it do not rate-limit the agents on 127.0.0.1.
# cpost PATH BODYFILE: prints the HTTP status; answer in $dir/resp.json.
cpost() {
	curl -sk --interface 127.0.0.2 --max-time 10 -D "$dir/resp.h" \
	    -o "$dir/resp.json" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary @"$2" \
	    "https://127.0.0.1:$cport$1"
}
ecode() { jq -r '.error.code // empty' "$dir/resp.json" 2>/dev/null; }
emsg() { jq -r '.error.message // empty' "$dir/resp.json" 2>/dev/null; }
# proof LABEL SERVER_NONCE CLIENT_NONCE DOCFILE PASSPHRASE, as in
# docs/enrollment.md: HMAC-SHA256(SHA-256("haven-enroll-v1" || pass),
# label || server_nonce || client_nonce || SHA-256(doc)).
proof() {
	local k
	k=$(printf 'haven-enroll-v1%s' "$5" | openssl dgst -sha256 -r |
	    cut -c1-64)
	{ printf '%s%s%s' "$1" "$2" "$3"; openssl dgst -sha256 -binary <"$4"; } |
	    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$k" -r | cut -c1-64
}
# challenge: fresh client nonce in $cn, server nonce in $sn.
challenge() {
	cn=$(openssl rand -hex 32)
	jq -n --arg cn "$cn" '{client_nonce: $cn}' >"$dir/chal.json"
	chal_code=$(cpost /api/v1/enroll/challenge "$dir/chal.json")
	sn=$(jq -r '.server_nonce // empty' "$dir/resp.json" 2>/dev/null)
}
# enroll_body SN CN PROOF: the enrollment request for csr.pem.
enroll_body() {
	jq -n --arg sn "$1" --arg cn "$2" --arg proof "$3" \
	    --rawfile csr "$dir/csr.pem" '{server_nonce: $sn, client_nonce: $cn,
	    csr: $csr, hostname: "curl-client", role: "agent", proof: $proof}' \
	    >"$dir/enroll.json"
}
# dconnect NAME: a TLS connection to the data port with NAME's certificate.
dconnect() {
	local s=$dir/$1/state
	timeout 10 openssl s_client -connect "127.0.0.1:$dport" -brief \
	    -cert "$s/agent.crt" -key "$s/agent.key" -CAfile "$s/ca.crt" \
	    </dev/null >"$dir/sclient.out" 2>&1
	return 0
}
loggrep() { grep -Eq -- "$1" "$dir/havend.log"; }

plan 64

export HAVEN_HEARTBEAT=1 HAVEN_LOG_LEVEL=debug
if ! havend_setup "$dir" || ! havend_start "$dir"; then
	echo "Bail out! havend did not start"
	exit 1
fi
cport=$(conf_get "$dir" control_port)
dport=$(conf_get "$dir" data_port)

# --- The passphrase and a first enrollment ---------------------------

pass1=$(hctl passphrase show)
like "$pass1" "$PASS_RE" "havenctl passphrase show prints XXXX-XXXX-XXXX-XXXX-XXXX"
(umask 077; printf '%s\n' "$pass1" >"$dir/pass1")

truncate -s 3M "$dir/disk1.img"
truncate -s 5M "$dir/disk2.img"
new_agent a "$dir/disk1.img" "$dir/disk2.img"
out=$(enroll a "$dir/pass1" 2>&1)
ok $? "haven-agent enroll with the right passphrase succeeds"
like "$out" "^enrolled as machine [0-9a-f-]{36} with the configuration server at 127.0.0.1:$cport" \
    "enroll says which machine it became and where"
ida=$(mid a 2>/dev/null)
like "$ida" "$UUID_RE" "machine.json holds the machine id (a UUID)"
is "$(stat -c %a "$dir/a/state/agent.key" 2>&1)" 600 "the agent's private key is mode 0600"
check "the agent certificate is signed by the site CA, CN = machine id" \
    sh -c "openssl verify -CAfile '$dir/state/ca.crt' '$dir/a/state/agent.crt' &&
    openssl x509 -in '$dir/a/state/agent.crt' -noout -subject | grep -q 'CN *= *$ida\$'"
like "$(hctl machine list)" "^$ida +$(hostname) +agent +enrolled " \
    "havenctl machine list shows it, enrolled"

out=$(agent a heartbeat --once 2>&1)
ok $? "haven-agent heartbeat --once succeeds"
like "$out" "accepted" "heartbeat --once says the beat was accepted"
is "$(mstatus "$ida")" connected "after a heartbeat the machine is connected"
is "$(mfield "$ida" .inventory.hostname)" "\"$(hostname)\"" "inventory: hostname"
is "$(mfield "$ida" .inventory.kernel)" "\"$(uname -r)\"" "inventory: kernel"
is "$(mfield "$ida" '.inventory.disks | map({name, size})')" \
    "[{\"name\":\"$dir/disk1.img\",\"size\":3145728},{\"name\":\"$dir/disk2.img\",\"size\":5242880}]" \
    "inventory: the configured disks with their sizes in bytes"
like "$(mfield "$ida" '[.inventory.os, .inventory.agent_version, (.inventory.addresses | type)]')" \
    '^\["[^"]+","[^"]+","array"\]$' "inventory: os, agent_version and addresses"
api=$(curl -s --max-time 10 --unix-socket "$dir/havend.sock" http://localhost/api/v1/machines)
is "$(printf '%s' "$api" | jq -r --arg id "$ida" \
    '.machines[] | select(.id == $id) | "\(.status) \(.inventory.disks[0].size)"' 2>&1)" \
    "connected 3145728" "the JSON API (GET /api/v1/machines) has the same"

# --- Refusals seen by the agent --------------------------------------

(umask 077; echo "ABCD-EFGH-JKLM-NPQR-STUV" >"$dir/wrong")
new_agent w
out=$(enroll w "$dir/wrong" 2>&1)
rc=$?
[ $rc -ne 0 ]; ok $? "enroll with a wrong passphrase exits non-zero (got $rc)"
like "$out" "could not prove it knows the passphrase.*havenctl passphrase show" \
    "the agent says the server did not prove the passphrase, and where to look"
[ ! -e "$dir/w/state/machine.json" ] && [ ! -e "$dir/w/state/agent.key" ]
ok $? "a refused enrollment leaves no machine.json and no key behind"
cp "$dir/pass1" "$dir/pass-open" && chmod 644 "$dir/pass-open"
new_agent o
out=$(enroll o "$dir/pass-open" 2>&1)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'chmod 600'
ok $? "a passphrase file readable by others is refused, saying chmod 600"

# --- The protocol on the wire, from curl (address 127.0.0.2) ---------

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=x -keyout "$dir/csr.key" -out "$dir/csr.pem" 2>/dev/null
challenge
is "$chal_code $(printf '%s' "$sn" | grep -Ec '^[0-9a-f]{64}$')" "200 1" \
    "POST /api/v1/enroll/challenge answers a 64-hex server nonce"
jq -j '.ca_certificate // empty' "$dir/resp.json" >"$dir/ca-answer.pem"
check "the challenge carries the site CA (state/ca.crt)" \
    cmp "$dir/ca-answer.pem" "$dir/state/ca.crt"
is "$(jq -r .server_proof "$dir/resp.json")" \
    "$(proof server "$sn" "$cn" "$dir/ca-answer.pem" "$pass1")" \
    "server_proof is the HMAC of docs/enrollment.md over the CA"
enroll_body "$sn" "$cn" "$(proof client "$sn" "$cn" "$dir/csr.pem" "$pass1")"
good_sn=$sn
code=$(cpost /api/v1/enroll "$dir/enroll.json")
idc=$(jq -r '.machine_id // empty' "$dir/resp.json")
jq -j '.certificate // empty' "$dir/resp.json" >"$dir/curl.crt"
is "$code $(printf '%s' "$idc" | grep -Ec "$UUID_RE")" "200 1" \
    "an enrollment with an independently computed proof is accepted"
check "its certificate is for our key, signed by the site CA, CN = machine id" \
    sh -c "openssl verify -CAfile '$dir/state/ca.crt' '$dir/curl.crt' &&
    [ \"\$(openssl x509 -in '$dir/curl.crt' -noout -pubkey)\" = \
      \"\$(openssl pkey -in '$dir/csr.key' -pubout)\" ] &&
    openssl x509 -in '$dir/curl.crt' -noout -subject | grep -q 'CN *= *$idc\$'"
hb=$(curl -s --max-time 10 --cacert "$dir/state/ca.crt" --cert "$dir/curl.crt" \
    --key "$dir/csr.key" -H 'Content-Type: application/json' \
    -d '{"inventory": {"hostname": "curl-client", "disks": []}}' \
    "https://127.0.0.1:$cport/api/v1/heartbeat")
is "$(printf '%s' "$hb" | jq -r .machine_id 2>&1)" "$idc" \
    "that certificate authenticates a heartbeat (mutual TLS, curl)"

# Refusals: each counts as a failure for 127.0.0.2.
challenge
enroll_body "$sn" "$cn" "$(printf '0%.0s' $(seq 64))"
code=$(cpost /api/v1/enroll "$dir/enroll.json")
is "$code $(ecode)" "403 bad_passphrase" "a wrong proof: 403 bad_passphrase (failure 1)"
like "$(emsg)" "havenctl passphrase show" "the refusal names 'havenctl passphrase show'"
spent_sn=$sn spent_cn=$cn
enroll_body "$good_sn" "$cn" "$(proof client "$good_sn" "$cn" "$dir/csr.pem" "$pass1")"
code=$(cpost /api/v1/enroll "$dir/enroll.json")
is "$code $(ecode)" "403 bad_nonce" \
    "replaying the nonce of a successful enrollment: 403 bad_nonce (failure 2)"
enroll_body "$spent_sn" "$spent_cn" \
    "$(proof client "$spent_sn" "$spent_cn" "$dir/csr.pem" "$pass1")"
code=$(cpost /api/v1/enroll "$dir/enroll.json")
is "$code $(ecode)" "403 bad_nonce" \
    "a nonce spent by a refused attempt is dead even with the right proof (failure 3)"
codes=
for i in 4 5; do
	challenge
	enroll_body "$sn" "$cn" "$(proof client "$sn" "$cn" "$dir/csr.pem" WRONG)"
	codes="$codes $chal_code/$(cpost /api/v1/enroll "$dir/enroll.json")/$(ecode)"
done
is "$codes" " 200/403/bad_passphrase 200/403/bad_passphrase" \
    "failures 4 and 5 (enroll_failures = 5) are still answered 403"
challenge
is "$chal_code $(ecode)" "429 too_many_failures" \
    "after 5 failures in a minute the next challenge gets 429 too_many_failures"
like "$(tr -d '\r' <"$dir/resp.h")" '^[Rr]etry-[Aa]fter: *[0-9]+$' \
    "the 429 carries Retry-After"
enroll_body "$spent_sn" "$spent_cn" "$(printf '0%.0s' $(seq 64))"
code=$(cpost /api/v1/enroll "$dir/enroll.json")
is "$code $(ecode)" "429 too_many_failures" "POST /api/v1/enroll is limited too"

# --- A new passphrase --------------------------------------------------

pass2=$(hctl passphrase generate 2>/dev/null)
like "$pass2" "$PASS_RE" "havenctl passphrase generate prints a new passphrase"
[ "$pass2" != "$pass1" ]; ok $? "the new passphrase differs from the old one"
is "$(hctl passphrase show)" "$pass2" "passphrase show prints the new one"
check "the machine enrolled before still heartbeats" agent a heartbeat --once
new_agent old
out=$(enroll old "$dir/pass1" 2>&1)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'could not prove it knows the passphrase'
ok $? "enrolling with the OLD passphrase fails"
(umask 077; printf '%s\n' "$pass2" >"$dir/pass2")
new_agent b "$dir/disk1.img"
check "enrolling with the NEW passphrase works (127.0.0.1 is not rate-limited)" \
    enroll b "$dir/pass2"
idb=$(mid b 2>/dev/null)
check "the new machine heartbeats" agent b heartbeat --once

# --- Connected, then disconnected --------------------------------------

# A has not beaten for a while: three missed 1 s beats.
wait_for 6 status_is "$ida" disconnected
ok $? "a machine whose heartbeats stopped is disconnected (3 missed beats)"
"$AGENT" -d -c "$dir/a/agent.conf" heartbeat >"$dir/hb-a.log" 2>&1 &
hb_pid=$!
wait_for 5 status_is "$ida" connected
ok $? "haven-agent heartbeat (the service loop) makes it connected again"
# It must stay connected while the agent runs: 7 s is 7 intervals.  The
# sweep logs every disconnection, so a short one between two samples
# counts too.
ndisc() { grep -c "machine $ida is disconnected" "$dir/havend.log"; }
n0=$(ndisc)
seen=
for _ in $(seq 1 28); do
	seen="$seen $(mstatus "$ida")"
	sleep 0.25
done
n1=$(ndisc)
unlike "$seen" "disconnected" "it stays connected for 7 s while the agent runs"
is "$((n1 - n0))" 0 "havend logged no disconnection of it meanwhile"
kill -TERM "$hb_pid"
wait_for 3 sh -c "! kill -0 $hb_pid"
ok $? "the agent stops on SIGTERM"
wait "$hb_pid" 2>/dev/null
hb_pid=
t0=$(date +%s%N)
wait_for 7 status_is "$ida" disconnected
ok $? "after the agent stops, the machine is disconnected within ~6 s"
diag "disconnected $(( ($(date +%s%N) - t0) / 1000000 )) ms after the agent stopped"
loggrep "machine $ida is disconnected: no heartbeat"
ok $? "havend logs the disconnection"

# --- Revocation ----------------------------------------------------------

dconnect a
wait_for 5 loggrep "data connection from [^ ]+: machine $ida"
ok $? "before revocation, A's certificate is accepted on the data port"
out=$(hctl machine revoke "$ida" 2>&1)
ok $? "havenctl machine revoke A succeeds"
like "$out" "revoked" "revoke says so"
is "$(mstatus "$ida")" revoked "machine list shows A revoked"
out=$(agent a heartbeat --once 2>&1)
rc=$?
[ $rc -ne 0 ]; ok $? "A's next heartbeat fails (exit $rc)"
# Not the agent's guess "(if this machine was revoked ...)": the server's
# answer or the TLS alert must say so.
like "$out" "certificate was revoked|alert certificate revoked" \
    "the agent's message says it was revoked"
dconnect a
wait_for 5 loggrep "refused data connection from [^ ]+: TLS handshake failed \(client certificate: certificate revoked\)"
ok $? "a TLS connection to the data port with A's certificate is refused (shard log)"
if ! loggrep "refused data connection"; then diag "$(cat "$dir/sclient.out")"; fi
check "the other agent (B) still heartbeats" agent b heartbeat --once
is "$(mstatus "$idb")" connected "B is connected"
dconnect b
wait_for 5 loggrep "data connection from [^ ]+: machine $idb"
ok $? "B's certificate is still accepted on the data port"

# --- The audit log, secrets, health ------------------------------------

audit=$(curl -s --max-time 10 --unix-socket "$dir/havend.sock" http://localhost/api/v1/audit)
is "$(printf '%s' "$audit" | jq --arg id "$ida" \
    'any(.entries[]; .action == "machine.enroll" and .target == $id)' 2>&1)" \
    true "the audit log has A's enrollment"
is "$(printf '%s' "$audit" | jq \
    'any(.entries[]; .action == "machine.enroll.refused" and .address == "127.0.0.2")' 2>&1)" \
    true "the audit log has the refused enrollment, with its address"
is "$(printf '%s' "$audit" | jq --arg id "$ida" \
    'any(.entries[]; .action == "machine.revoke" and .target == $id)' 2>&1)" \
    true "the audit log has A's revocation"
is "$(printf '%s' "$audit" | jq 'any(.entries[]; .action == "passphrase.generate")' 2>&1)" \
    true "the audit log has the passphrase change"
leaks=
for p in "$pass1" "$pass2"; do
	grep -rqF -- "$p" "$dir/havend.log" "$dir/hb-a.log" && leaks="$leaks log"
	printf '%s' "$audit" | grep -qF -- "$p" && leaks="$leaks audit"
done
is "$leaks" "" "neither passphrase appears in the havend log (debug level), the agent log or the audit log"
dump=$(mariadb-dump --defaults-file="$dir/db/root.cnf" haven 2>&1)
if [ -n "$dump" ] && ! printf '%s' "$dump" | grep -qF -e "$pass1" -e "$pass2"; then
	pass "neither passphrase is stored in the database"
else
	fail "neither passphrase is stored in the database"
fi
is "$(hctl status --json | jq '[.workers[].restarts] | add' 2>&1)" 0 \
    "no havend worker died during all this"
