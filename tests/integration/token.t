#!/bin/bash
# One-time enrollment tokens (docs/enrollment.md) against a real havend
# and MariaDB with real haven-agent processes, install.sh from the agent
# package, and curl + openssl computing the proofs independently of the
# C code: issue, list, revoke; an agent and install.sh enrolling with a
# token; a used, an expired, a revoked and an unknown token refused in
# words; two agents racing with one token (exactly one wins); a wrong
# proof refused without using the token up; the passphrase still
# working beside tokens; the validity from havend.conf; and no token
# text anywhere but the one answer that issued it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

AGENT=$HAVEN_BIN/haven-agent
PKG=${HAVEN_AGENT_PKG:-$(cd "$here/../.." && pwd)/build/agent/haven-agent-0.1.0.tar.gz}
TOKEN_RE='hvt1\.[0-9a-f]{16}\.[0-9a-f]{64}'
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

dir=$(mktemp -d /tmp/haven-token.XXXXXX)
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
cleanup() {
	trap '' INT TERM HUP
	havend_teardown "$dir" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

new_agent() {	# NAME
	mkdir -p "$dir/$1"
	echo "state_dir = $dir/$1/state" >"$dir/$1/agent.conf"
}
agent() { local a=$1; shift; "$AGENT" -c "$dir/$a/agent.conf" "$@"; }
enroll_tok() {	# NAME TOKENFILE: output in $out, exit code in $rc
	new_agent "$1"
	out=$(agent "$1" enroll --cs "127.0.0.1:$cport" --token-file "$2" 2>&1)
	rc=$?
}
mid() { jq -r .machine_id "$dir/$1/state/machine.json" 2>/dev/null; }
tok() {	# ID JQ-FIELD: a field of the token's row in the API's list
	hctl --json token list | jq -r --arg id "$1" \
	    ".tokens[] | select(.id == \$id) | $2"
}
issue() {	# FILE [havenctl token issue options]: the id in $tid
	local f=$1
	shift
	hctl token issue --out "$f" "$@" >"$dir/issue.out" 2>&1
	tid=$(sed -n 's/^enrollment token \([0-9a-f]\{16\}\) written.*/\1/p' \
	    "$dir/issue.out")
}
api() {	# METHOD PATH [BODY]: the unix socket, answer on stdout
	curl -s --max-time 20 --unix-socket "$dir/havend.sock" -X "$1" \
	    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
	    "http://localhost$2"
}
# From 127.0.0.2, so that refusals counted here do not rate-limit the
# agents on 127.0.0.1.  cpost PATH BODYFILE [curl args]: the status.
cpost() {
	local p=$1 b=$2
	shift 2
	curl -sk --interface 127.0.0.2 --max-time 10 -o "$dir/resp.json" \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary @"$b" "$@" "https://127.0.0.1:$cport$p"
}
emsg() { jq -r '.error.message // empty' "$dir/resp.json" 2>/dev/null; }
ecode() { jq -r '.error.code // empty' "$dir/resp.json" 2>/dev/null; }
# proof LABEL SN CN DOCFILE SECRET (docs/enrollment.md)
proof() {
	local k
	k=$(printf 'haven-enroll-v1%s' "$5" | openssl dgst -sha256 -r |
	    cut -c1-64)
	{ printf '%s%s%s' "$1" "$2" "$3"; openssl dgst -sha256 -binary <"$4"; } |
	    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$k" -r | cut -c1-64
}

plan 69

export HAVEN_LOG_LEVEL=debug
# Refusals are the point here: do not let the rate limit answer them.
havend_setup "$dir" && echo "enroll_failures = 100" >>"$dir/havend.conf"
if ! havend_start "$dir"; then
	echo "Bail out! havend did not start"
	exit 1
fi
cport=$(conf_get "$dir" control_port)

# --- issue and list -------------------------------------------------------

issue "$dir/t1"
ok $? "havenctl token issue --out FILE"
is "$(stat -c %a "$dir/t1")" 600 "the token file is mode 0600"
grep -qE "^$TOKEN_RE\$" "$dir/t1"
ok $? "it holds one token: hvt1.<16 hex id>.<64 hex secret> (256 bits)"
like "$(cat "$dir/issue.out")" "valid until .* \(1h\), for one enrollment" \
    "the default validity is enroll_token_ttl, 1 h"
is "$(tok "$tid" '.state + " " + .purpose + " " + (.valid_s | tostring)')" \
    "live manual 3600" "token list: live, manual, valid 3600 s"
hctl token issue --out "$dir/t1" >"$dir/again.out" 2>&1
is "$?" 1 "a token is never written over an existing file"
like "$(tr '\n' ' ' <"$dir/again.out")" "File exists .*token revoke [0-9a-f]{16}" \
    "... says so and how to revoke the token made in vain"
hctl token issue >"$dir/t2" 2>"$dir/t2.err"
chmod 600 "$dir/t2"
ok $? "havenctl token issue without --out: the token alone on stdout"
grep -qE "^$TOKEN_RE\$" "$dir/t2" && [ "$(wc -l <"$dir/t2")" = 1 ]
ok $? "... one line, the token; the explanation went to stderr"
like "$(cat "$dir/t2.err")" "install.sh --cs HOST:PORT --token-file FILE" \
    "... which says how to use it"
hctl token issue --valid 9d >"$dir/bad.out" 2>&1
is "$?" 2 "--valid beyond 7d: usage error"
like "$(cat "$dir/bad.out")" "--valid is a time from 1s to 7d" "... says the range"
like "$(api POST /api/v1/tokens '{"valid_s": 0}')" "'valid_s' is a number of seconds from 1 to 604800" \
    "the API refuses valid_s 0 naming the range"
like "$(api POST /api/v1/tokens '{"token": "x"}')" "unknown field 'token'" \
    "the API refuses unknown fields"

# --- an agent enrolls with a token ---------------------------------------

t1=$tid
enroll_tok a1 "$dir/t1"
is "$rc" 0 "haven-agent enroll --token-file: enrolled"
[ $rc = 0 ] || diag "$out"
m1=$(mid a1)
like "$m1" "$UUID_RE" "machine id saved"
is "$(hctl --json machine list | jq -r --arg id "$m1" \
    '.machines[] | select(.id == $id) | .status')" enrolled \
    "the CS lists the machine"
is "$(tok "$tid" '.state + " " + .machine_id')" "used $m1" \
    "token list: used, by that machine"
is "$(tok "$tid" .used_by)" "$(hostname)" "... and names the host"
like "$(grep "enrolled agent $m1" "$dir/havend.log")" \
    "with enrollment token $tid" "havend logs the token's id (not secret)"
like "$(api GET /api/v1/audit | jq -r --arg id "$m1" \
    '.entries[] | select(.target == $id) | .detail')" \
    "enrollment token $tid" "the audit log says which token enrolled it"

# --- refused: used, expired, revoked, unknown ----------------------------

enroll_tok a2 "$dir/t1"
is "$rc" 1 "the same token again: refused"
like "$out" "this enrollment token was already used at [0-9-]+ [0-9:]+ UTC by $(hostname) \(127\.0\.0\.1, machine $m1\): issue a new one with 'havenctl token issue'" \
    "... naming when, by which host and machine, and what to do"
[ ! -e "$dir/a2/state/machine.json" ]
ok $? "... and nothing was enrolled"

issue "$dir/t3" --valid 2s
sleep 3
enroll_tok a3 "$dir/t3"
is "$rc" 1 "an expired token: refused"
like "$out" "this enrollment token expired at [0-9-]+ [0-9:]+ UTC \(it was valid for 2 s\)" \
    "... says when it expired and for how long it was valid"
is "$(tok "$tid" .state)" expired "token list: expired"

issue "$dir/t4"
t4=$tid
out=$(hctl token revoke "$t4" --reason "sent to the wrong person" 2>&1)
ok $? "havenctl token revoke"
like "$out" "revoked at .*can no longer enroll" "... says what it means"
enroll_tok a4 "$dir/t4"
is "$rc" 1 "a revoked token: refused"
like "$out" "this enrollment token was revoked at [0-9-]+ [0-9:]+ UTC by .+ \(sent to the wrong person\): issue a new one" \
    "... says when, by whom and why"
out=$(hctl token revoke "$t4" 2>&1)
like "$out" "already revoked|was revoked" "revoking twice: refused (409)"
out=$(hctl token revoke "$t1" 2>&1)
like "$out" "already used at" "revoking a used token: refused"
out=$(hctl token revoke 0000000000000000 2>&1)
like "$out" "no enrollment token 0000000000000000" "revoking an unknown id: 404"

# A token file changed by one character (a valid id, a wrong secret):
# the CS cannot prove it knows that token, and says nothing useful.
issue "$dir/t5"
t5=$tid
t=$(cat "$dir/t5")
[ "${t: -1}" = 0 ] && last=1 || last=0
printf '%s\n' "${t%?}$last" >"$dir/t5x"
chmod 600 "$dir/t5x"
enroll_tok a5 "$dir/t5x"
is "$rc" 1 "a token with a wrong secret: refused"
like "$out" "could not prove it knows" "... the agent does not trust the CS"
is "$(tok "$t5" .state)" live "... and the token is not used up"

printf 'not a token\n' >"$dir/notatoken"
chmod 600 "$dir/notatoken"
enroll_tok a6 "$dir/notatoken"
is "$rc" 1 "--token-file with something else in it: refused"
like "$out" "does not hold an enrollment token \(hvt1\." "... saying what a token looks like"

# --- the protocol, computed independently ---------------------------------

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/curl.key" -subj /CN=curl-client -out "$dir/csr.pem" \
    2>/dev/null
secret5=$(cat "$dir/t5")
cn=$(openssl rand -hex 32)
jq -n --arg cn "$cn" --arg t "$t5" '{client_nonce: $cn, token_id: $t}' \
    >"$dir/chal.json"
is "$(cpost /api/v1/enroll/challenge "$dir/chal.json")" 200 \
    "challenge naming token_id in the body: 200"
sn=$(jq -r .server_nonce "$dir/resp.json")
jq -j .ca_certificate "$dir/resp.json" >"$dir/ca.pem"
is "$(jq -r .server_proof "$dir/resp.json")" \
    "$(proof server "$sn" "$cn" "$dir/ca.pem" "$secret5")" \
    "the server proof is HMAC keyed by SHA-256('haven-enroll-v1' || token)"
body() {	# PROOF
	jq -n --arg sn "$sn" --arg cn "$cn" --arg p "$1" --rawfile csr \
	    "$dir/csr.pem" '{server_nonce: $sn, client_nonce: $cn, csr: $csr,
	    hostname: "curl-client", role: "agent", proof: $p}' >"$dir/enr.json"
}
body "$(proof client "$sn" "$cn" "$dir/csr.pem" "wrong-$secret5")"
is "$(cpost /api/v1/enroll "$dir/enr.json")" 403 "a wrong client proof: 403"
like "$(emsg)" "proof made with enrollment token $t5 is wrong" "... saying so"
is "$(tok "$t5" .state)" live "... the token is still live"
cn=$(openssl rand -hex 32)
jq -n --arg cn "$cn" --arg t "$t5" '{client_nonce: $cn, token_id: $t}' \
    >"$dir/chal.json"
is "$(cpost /api/v1/enroll/challenge "$dir/chal.json")" 200 \
    "a second challenge naming the same token: 200"
sn=$(jq -r .server_nonce "$dir/resp.json")
is "$(jq -r .server_proof "$dir/resp.json")" \
    "$(proof server "$sn" "$cn" "$dir/ca.pem" "$secret5")" \
    "... proved with the token's key"
body "$(proof client "$sn" "$cn" "$dir/csr.pem" "$secret5")"
is "$(cpost /api/v1/enroll "$dir/enr.json")" 200 "the right proof: enrolled"
is "$(tok "$t5" '.state + " " + .used_by')" "used curl-client" \
    "token used by curl-client"
jq -n --arg cn "$cn" '{client_nonce: $cn, token_id: "0123456789abcdef"}' \
    >"$dir/chal.json"
is "$(cpost /api/v1/enroll/challenge "$dir/chal.json")" 403 "an unknown token id: 403"
like "$(emsg)" "no enrollment token 0123456789abcdef on this configuration server" \
    "... saying so"
jq -n --arg cn "$cn" '{client_nonce: $cn, token_id: "XYZ"}' >"$dir/chal.json"
is "$(cpost /api/v1/enroll/challenge "$dir/chal.json")/$(ecode)" 400/bad_request \
    "a malformed token id: 400"

# --- two agents racing with one token -------------------------------------

issue "$dir/t6"
t6=$tid
new_agent r1
new_agent r2
agent r1 enroll --cs "127.0.0.1:$cport" --token-file "$dir/t6" \
    >"$dir/r1.out" 2>&1 &
p1=$!
agent r2 enroll --cs "127.0.0.1:$cport" --token-file "$dir/t6" \
    >"$dir/r2.out" 2>&1 &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
is "$((rc1 == 0 ? 1 : 0))$((rc2 == 0 ? 1 : 0)) $((rc1 + rc2))" \
    "$([ $rc1 = 0 ] && echo 10 || echo 01) 1" "two racing with one token: exactly one enrolled"
winner=r1 loser=r2
[ $rc1 = 0 ] || { winner=r2; loser=r1; }
like "$(cat "$dir/$loser.out")" "already used at .* machine $(mid $winner)" \
    "the other is told the token was used, by the winner"
is "$(tok "$t6" .machine_id)" "$(mid $winner)" "the token names the winner"
is "$(grep -c "enrolled agent .* with enrollment token $t6" "$dir/havend.log")" 1 \
    "one enrollment with it in havend's log"

# The same race made certain: both challenges answered first, then both
# proofs at once; the database lets exactly one use the token.
issue "$dir/t10"
t10=$tid
secret10=$(cat "$dir/t10")
for k in A B; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$dir/$k.key" -subj "/CN=race-$k" -out "$dir/$k.csr" \
	    2>/dev/null
	kcn=$(openssl rand -hex 32)
	jq -n --arg cn "$kcn" --arg t "$t10" '{client_nonce: $cn, token_id: $t}' \
	    >"$dir/chal.json"
	cpost /api/v1/enroll/challenge "$dir/chal.json" >/dev/null
	ksn=$(jq -r .server_nonce "$dir/resp.json")
	jq -n --arg sn "$ksn" --arg cn "$kcn" --arg p "$(proof client "$ksn" \
	    "$kcn" "$dir/$k.csr" "$secret10")" --arg h "race-$k" --rawfile csr \
	    "$dir/$k.csr" '{server_nonce: $sn, client_nonce: $cn, csr: $csr,
	    hostname: $h, role: "agent", proof: $p}' >"$dir/$k.json"
done
for k in A B; do
	curl -sk --interface 127.0.0.2 --max-time 10 -o "$dir/$k.resp" \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary @"$dir/$k.json" \
	    "https://127.0.0.1:$cport/api/v1/enroll" >"$dir/$k.code" &
	pids="${pids:-} $!"
done
wait $pids
is "$(for k in A B; do cat "$dir/$k.code"; echo; done | sort | paste -sd' ')" "200 403" \
    "two valid proofs for one token submitted at once: one 200, one 403"
lose=$(grep -l 403 "$dir/A.code" "$dir/B.code" | sed 's/.code$//')
like "$(jq -r .error.message "$lose.resp")" "already used at .* by race-[AB]" \
    "the loser is told it was used, and by whom"

# --- install.sh --token-file (a manual install) ----------------------------

tar xzf "$PKG" -C "$dir"
issue "$dir/t7"
t7=$tid
sh "$dir"/haven-agent-*/install.sh --cs "127.0.0.1:$cport" --token-file \
    "$dir/t7" --prefix "$dir/root" --no-start >"$dir/install.out" 2>&1
ok $? "install.sh --cs ADDR --token-file FILE installs and enrolls"
[ ! -e "$dir/t7" ]
ok $? "... and deletes the token file"
is "$(tok "$t7" .state)" used "... the token is used"
issue "$dir/t8" --valid 1s
sleep 2
sh "$dir"/haven-agent-*/install.sh --cs "127.0.0.1:$cport" --token-file \
    "$dir/t8" --prefix "$dir/root2" --no-start >"$dir/install.out" 2>&1
is "$?" 1 "install.sh with an expired token fails"
like "$(cat "$dir/install.out")" "expired at .*issue a new one" "... saying why"
[ ! -e "$dir/t8" ]
ok $? "... and deletes the token file all the same"

# --- the passphrase works beside tokens --------------------------------------

hctl passphrase show 2>/dev/null | tail -n 1 >"$dir/pass"
chmod 600 "$dir/pass"
new_agent p1
agent p1 enroll --cs "127.0.0.1:$cport" --passphrase-file "$dir/pass" \
    >"$dir/p1.out" 2>&1
ok $? "the passphrase still enrolls while tokens are live"

# --- the validity from havend.conf -------------------------------------------

echo "enroll_token_ttl = 5" >>"$dir/havend.conf"
kill -HUP "$(havend_pid "$dir")"
sleep 1
issue "$dir/t9"
is "$(tok "$tid" .valid_s)" 5 "enroll_token_ttl = 5 (SIGHUP): issued for 5 s"
like "$(sed -n '/^enroll_token_ttl/,/^$/p' <("$HAVEN_BIN/havend" -k 2>&1) | head -3)" \
    "enroll_token_ttl" "havend -k documents enroll_token_ttl"

# --- where the tokens must not be ---------------------------------------------

leaks=""
grep -Eq "$TOKEN_RE" "$dir/havend.log" && leaks="$leaks havend.log"
api GET /api/v1/audit | grep -Eq "$TOKEN_RE" && leaks="$leaks audit"
api GET /api/v1/tokens | grep -Eq "$TOKEN_RE" && leaks="$leaks token-list"
api GET /api/v1/jobs | grep -Eq "$TOKEN_RE" && leaks="$leaks jobs"
api GET /api/v1/machines | grep -Eq "$TOKEN_RE" && leaks="$leaks machines"
is "$leaks" "" "no token text in havend's log (debug), audit, token list, jobs, machines"
secrets=$(cat "$dir/t1" "$dir/t2" "$dir/t5" | sed 's/.*\.//' | paste -sd'|')
mariadb --defaults-file="$dir/db/root.cnf" -N -B haven -e \
    "SELECT * FROM enroll_tokens" >"$dir/dump.tsv" 2>&1
like "$(wc -l <"$dir/dump.tsv")" "^1[0-9]$" "the database has the tokens' rows"
grep -Eq "$secrets|$TOKEN_RE" "$dir/dump.tsv"
is "$?" 1 "... without their text or secret (only the sealed proof key)"
