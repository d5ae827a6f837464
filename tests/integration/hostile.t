#!/bin/bash
# Hostile and broken clients against a real havend: the data port
# refuses clients without a certificate of the site CA; garbage on the
# control, admin and data ports and on the unix socket crashes nothing;
# the API answers bad requests with the documented status and error
# JSON; a data stream that turns to garbage is closed with a reason.
# Afterwards no worker has restarted and everything still serves.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
tools=${HAVEN_TOOLS:-$root/build/tools}
. "$here/../lib/havend.sh"

dir=$(mktemp -d /tmp/haven-hostile.XXXXXX)
cleanup() {
	havend_teardown "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 68

for b in "$HAVEN_BIN/havend" "$HAVEN_BIN/havenctl" "$HAVEN_BIN/haven-agent" \
    "$tools/dataclient"; do
	if [ ! -x "$b" ]; then
		echo "Bail out! $b is missing: build it first (make)"
		exit 1
	fi
done

export HAVEN_SHARDS=2
if ! { havend_setup "$dir" && havend_start "$dir"; }; then
	echo "Bail out! havend did not start"
	exit 1
fi
sock=$dir/havend.sock
cport=$(conf_get "$dir" control_port)
aport=$(conf_get "$dir" admin_port)
dport=$(conf_get "$dir" data_port)
ca=$dir/state/ca.crt

status_json() { timeout 10 "$HAVEN_BIN/havenctl" -s "$sock" --json status; }
log_count() { grep -cE -- "$1" "$dir/havend.log"; }
pids0=$(status_json | jq -r '[.workers[].pid] | join(" ")')

# An enrolled agent: its certificate is the one that must work.
(umask 077; timeout 10 "$HAVEN_BIN/havenctl" -s "$sock" passphrase show > "$dir/pass")
mkdir -p "$dir/agent"
printf 'state_dir = %s\n' "$dir/agent/state" > "$dir/agent/agent.conf"
timeout 30 "$HAVEN_BIN/haven-agent" -c "$dir/agent/agent.conf" enroll \
    --cs "127.0.0.1:$cport" --passphrase-file "$dir/pass" > "$dir/enroll.out" 2>&1
A=$dir/agent/state
if [ ! -s "$A/agent.crt" ]; then
	cat "$dir/enroll.out" | sed 's/^/# /'
	echo "Bail out! the agent did not enroll"
	exit 1
fi
machine=$(openssl x509 -in "$A/agent.crt" -noout -subject -nameopt multiline |
    sed -n 's/^ *commonName *= *//p')

dc() { timeout 30 "$tools/dataclient" --connect "127.0.0.1:$dport" --ca "$ca" "$@" 2>&1; }

# --- who may use the data port --------------------------------------
out=$(dc --cert "$A/agent.crt" --key "$A/agent.key")
rc=$?
is "$rc/$(printf '%s' "$out" | head -1 | cut -d' ' -f1)" "0/hello-ok" \
    "the enrolled agent's certificate gets hello-ok (the control case)"

n0=$(log_count "refused data connection from 127\.0\.0\.1:[0-9]+: TLS handshake failed .*no.* certificate|refused data connection .*peer did not return a certificate")
out=$(dc)
rc=$?
[ $rc -ne 0 ]
ok $? "dataclient without a certificate is refused (exit $rc)"
like "$out" "certificate required|handshake failure" "it is told a certificate is required"
unlike "$out" "hello-ok" "it never gets hello-ok"
out=$(echo hello | timeout 10 openssl s_client -connect "127.0.0.1:$dport" \
    -CAfile "$ca" -verify_return_error -quiet 2>&1)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'alert certificate required'
ok $? "openssl s_client (TLS 1.3) without a certificate is refused (exit $rc)"
out=$(echo hello | timeout 10 openssl s_client -tls1_2 -connect "127.0.0.1:$dport" \
    -CAfile "$ca" -verify_return_error -quiet 2>&1)
rc=$?
[ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'alert handshake failure'
ok $? "openssl s_client (TLS 1.2) without a certificate is refused in the handshake (exit $rc)"
sleep 0.2
n1=$(log_count "refused data connection from 127\.0\.0\.1:[0-9]+: TLS handshake failed .*no.* certificate|refused data connection .*peer did not return a certificate")
is "$((n1 - n0))" 3 "havend logs each of the three refusals, naming the missing certificate"

# A certificate from another CA, even one that names the enrolled machine.
E=$dir/evil
mkdir -p "$E"
(
	cd "$E" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout ca.key -out ca.crt -days 30 -subj "/CN=Haven site CA" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout client.key -out client.csr -subj "/CN=$machine" &&
	printf 'extendedKeyUsage = clientAuth\nkeyUsage = digitalSignature\n' > ext &&
	openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key \
	    -CAcreateserial -days 30 -extfile ext -out client.crt
) > "$dir/evil.out" 2>&1
ok $? "made a client certificate for CN=$machine signed by a different CA"
n0=$(log_count "refused data connection .*client certificate: ")
out=$(dc --cert "$E/client.crt" --key "$E/client.key")
rc=$?
[ $rc -ne 0 ]
ok $? "the foreign certificate is refused on the data port (exit $rc)"
like "$out" "unknown ca|bad certificate|certificate verify failed|decrypt error" \
    "the client is told its certificate is not trusted"
unlike "$out" "hello-ok" "it never gets hello-ok"
sleep 0.2
n1=$(log_count "refused data connection .*client certificate: ")
is "$((n1 - n0))" 1 "havend logs the refusal with the certificate problem"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$ca" \
    --cert "$E/client.crt" --key "$E/client.key" -H 'Content-Type: application/json' \
    -d '{"inventory":{}}' "https://127.0.0.1:$cport/api/v1/heartbeat")
[ "$code" != 200 ] && { [ "$code" = 000 ] || [ "$code" -ge 400 ]; }
ok $? "a heartbeat with the foreign certificate is refused (HTTP $code)"

# --- garbage on every port -------------------------------------------
cat > "$dir/raw.pl" <<'PERL'
# raw.pl TARGET FILE [SECONDS]: send FILE's bytes to TARGET (HOST:PORT or
# unix:PATH), read what comes back, and say how the connection ended.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time);
$SIG{PIPE} = 'IGNORE';
my ($target, $file, $wait) = @ARGV;
$wait ||= 5;
my $s = $target =~ /^unix:(.*)$/
    ? IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $1)
    : IO::Socket::INET->new(PeerAddr => $target, Proto => 'tcp', Timeout => 5);
die "connect $target: $!\n" unless $s;
open(my $fh, '<:raw', $file) or die "$file: $!\n";
my $data = do { local $/; <$fh> };
close $fh;
binmode $s;
$s->blocking(0);
my ($off, $reply, $end, $werr) = (0, '', 'timeout', '');
my $deadline = time + $wait;
my $sel = IO::Select->new($s);
while (time < $deadline) {
	if ($off < length $data) {
		my $n = syswrite($s, $data, 65536, $off);
		if (defined $n) { $off += $n }
		elsif (!$!{EAGAIN}) { $werr = "$!"; $data = substr($data, 0, $off) }
	}
	next unless $sel->can_read(0.02);
	my $n = sysread($s, my $buf, 65536);
	if (!defined $n) { next if $!{EAGAIN}; $end = "reset ($!)"; last }
	if ($n == 0) { $end = 'eof'; last }
	$reply .= $buf;
}
my ($first) = split /\r?\n/, $reply;
$first = '' unless defined $first;
$first =~ s/[^\x20-\x7e]/./g;
print "sent $off bytes", ($werr ? " (then: $werr)" : ''), "\n";
print "reply: ", substr($first, 0, 100), "\n";
print "end: $end\n";
exit($end eq 'timeout' ? 1 : 0);
PERL
raw() { perl "$dir/raw.pl" "$@" 2>&1; }

# 64 KiB of noise that does not start like a TLS record (which would
# make a TLS server wait for the rest of it).
head -c 65536 /dev/urandom > "$dir/noise"
printf '\x42' | dd of="$dir/noise" bs=1 count=1 conv=notrunc 2>/dev/null
{ head -c 1024 "$dir/noise"; printf '\r\n\r\n'; } > "$dir/smallnoise"
printf 'GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' \
    > "$dir/http"
{ printf 'GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nX-Huge: '
  head -c 1048576 /dev/zero | tr '\0' A
  printf '\r\n\r\n'; } > "$dir/hugeheader"
{ head -c 1048576 /dev/zero | tr '\0' A; printf '\r\n'; } > "$dir/hugeline"

nref0=$(log_count "refused data connection from .*TLS handshake failed")
for target in "control 127.0.0.1:$cport" "admin 127.0.0.1:$aport" \
    "data 127.0.0.1:$dport" "unix unix:$sock"; do
	set -- $target
	name=$1 addr=$2
	for kind in noise http hugeheader hugeline; do
		out=$(raw "$addr" "$dir/$kind" 5)
		rc=$?
		case "$name/$kind" in
		unix/http)
			# Plain HTTP is what the unix socket speaks.
			like "$out" "reply: HTTP/1.1 200" \
			    "unix socket: a plain HTTP request is answered" ;;
		unix/*)
			printf '%s' "$out" | grep -q '^reply: HTTP/1.1 4[0-9][0-9]' &&
			    printf '%s' "$out" | grep -Eq '^end: (eof|reset)'
			ok $? "unix socket: $kind is answered with a 4xx and the connection closed"
			[ $rc -eq 0 ] || diag "$out" ;;
		*)
			[ $rc -eq 0 ] && ! printf '%s' "$out" | grep -q 'reply: HTTP/1.1 200'
			ok $? "$name port: $kind (plain, not TLS) is dropped, the connection closed"
			[ $rc -eq 0 ] || diag "$out" ;;
		esac
	done
done

# Garbage inside TLS on the HTTPS listeners.
for target in "control $cport" "admin $aport"; do
	set -- $target
	# 64 KiB: the server may close before it has read it all, so the
	# answer can be lost in the reset; it must not hang nor say 200.
	out=$(timeout 10 openssl s_client -connect "127.0.0.1:$2" -CAfile "$ca" \
	    -quiet < "$dir/noise" 2>&1)
	rc=$?
	[ $rc -ne 124 ] && ! printf '%s' "$out" | grep -q 'HTTP/1.1 2'
	ok $? "$1 port: 64 KiB of noise inside TLS: the server closes the connection"
	# 1 KiB and an end of headers: small enough to be read whole.
	out=$(timeout 10 openssl s_client -connect "127.0.0.1:$2" -CAfile "$ca" \
	    -quiet < "$dir/smallnoise" 2>&1)
	like "$out" "HTTP/1.1 4[0-9][0-9]" "$1 port: 1 KiB of noise inside TLS gets a 4xx answer"
	hdr=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$ca" \
	    -H "X-Huge: $(head -c 65536 /dev/zero | tr '\0' A)" \
	    "https://127.0.0.1:$2/api/v1/status")
	# The server may close before curl has read the answer: a 4xx or a
	# closed connection are both a refusal.
	[ "$hdr" = 000 ] || { [ "$hdr" -ge 400 ] 2>/dev/null && [ "$hdr" -lt 500 ]; }
	ok $? "$1 port: a 64 KiB header over TLS is refused (got $hdr)"
done

sleep 0.3
st=$(status_json)
is "$(printf '%s' "$st" | jq -r '[.workers[] | "\(.restarts)"] | join(" ")')" "0 0 0 0" \
    "after all the garbage: no worker restarted"
is "$(printf '%s' "$st" | jq -r '[.workers[].pid] | join(" ")')" "$pids0" \
    "after all the garbage: the same worker pids as at start"
n=$(( $(log_count "refused data connection from .*TLS handshake failed") - nref0 ))
is "$n" 4 "each of the 4 garbage connections to the data port is logged as refused"

# --- the API's answers to bad requests -------------------------------
# api METHOD URL [curl args]: sets code and body.
api() {
	local m=$1 u=$2
	shift 2
	body=$(curl -s --max-time 10 -X "$m" -w '\n%{http_code}' "$@" "$u")
	code=${body##*$'\n'}
	body=${body%$'\n'*}
}
# is_error BODY CODE: the documented error JSON with that code.
is_error() {
	printf '%s' "$1" | jq -e --arg c "$2" '(.error.code == $c) and
	    (.error.message | type == "string" and length > 10)' >/dev/null 2>&1
}
U=(--unix-socket "$sock")
H=(--cacert "$ca")

api POST http://localhost/api/v1/users "${U[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"name": "x", "password": '
is "$code" 400 "unix: malformed JSON is answered 400"
is_error "$body" bad_json
ok $? "unix: ... with {\"error\": {\"code\": \"bad_json\", \"message\"}}"
api POST "https://127.0.0.1:$cport/api/v1/enroll/challenge" "${H[@]}" \
    -H 'Content-Type: application/json' --data-binary '{"client_nonce": [1, 2'
is "$code" 400 "control port (HTTPS): malformed JSON is answered 400"
is_error "$body" bad_json
ok $? "control port: ... with the error JSON (bad_json)"
api POST "https://127.0.0.1:$cport/api/v1/enroll/challenge" "${H[@]}" \
    -H 'Content-Type: application/json' --data-binary '[1, 2, 3]'
is "$code/$(printf '%s' "$body" | jq -r .error.code 2>/dev/null)" "400/bad_json" \
    "control port: JSON that is not an object is answered 400 bad_json"

head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$dir/bigbody"
api POST http://localhost/api/v1/users "${U[@]}" -H 'Content-Type: application/json' \
    --data-binary @"$dir/bigbody"
is "$code" 413 "unix: a 2 MiB body (max_body 1m) is answered 413"
api POST "https://127.0.0.1:$aport/api/v1/session" "${H[@]}" \
    -H 'Content-Type: application/json' --data-binary @"$dir/bigbody"
is "$code" 413 "admin port (HTTPS): a 2 MiB body is answered 413"

api GET http://localhost/api/v1/status "${U[@]}" \
    -H "X-Huge: $(head -c 65536 /dev/zero | tr '\0' A)"
is "$code" 400 "unix: a header over max_header is refused with 400, as havend -k says"

api GET http://localhost/api/v1/no/such/route "${U[@]}"
is "$code" 404 "unix: an unknown route is answered 404"
is_error "$body" not_found
ok $? "unix: ... with the error JSON (not_found)"
api GET "https://127.0.0.1:$aport/api/v1/no/such/route" "${H[@]}"
is "$code/$(printf '%s' "$body" | jq -r .error.code 2>/dev/null)" "404/not_found" \
    "admin port: an unknown API route is answered 404 not_found JSON"

api DELETE http://localhost/api/v1/status "${U[@]}"
is "$code" 405 "unix: a wrong method is answered 405"
is_error "$body" method_not_allowed
ok $? "unix: ... with the error JSON (method_not_allowed)"
api GET "https://127.0.0.1:$cport/api/v1/heartbeat" "${H[@]}"
is "$code/$(printf '%s' "$body" | jq -r .error.code 2>/dev/null)" "405/method_not_allowed" \
    "control port: GET on the heartbeat route is answered 405 JSON"
api GET "https://127.0.0.1:$cport/api/v1/status" "${H[@]}"
[ "$code" = 404 ] || [ "$code" = 405 ]
ok $? "control port: the status route is not served to agents (got $code)"

api POST "https://127.0.0.1:$cport/api/v1/heartbeat" "${H[@]}" \
    -H 'Content-Type: application/json' --data-binary '{"inventory": {}}'
is "$code" 401 "control port: a heartbeat without a client certificate is answered 401"
is_error "$body" no_certificate
ok $? "control port: ... with the error JSON (no_certificate)"
api POST "https://127.0.0.1:$cport/api/v1/heartbeat" "${H[@]}" \
    --cert "$A/agent.crt" --key "$A/agent.key" \
    -H 'Content-Type: application/json' --data-binary '{"inventory": {}}'
is "$code/$(printf '%s' "$body" | jq -r .machine_id 2>/dev/null)" "200/$machine" \
    "control port: the same heartbeat with the enrolled certificate is answered 200"
api GET "https://127.0.0.1:$aport/api/v1/status" "${H[@]}"
is "$code" 401 "admin port: status without signing in is answered 401"

# --- a data stream that turns to garbage -----------------------------
for bytes in 100 65536; do
	n0=$(log_count "data connection from .*machine $machine closed: ")
	out=$(dc --cert "$A/agent.crt" --key "$A/agent.key" --garbage $bytes)
	rc=$?
	is "$rc" 0 "data port: $bytes garbage bytes after hello-ok: the server says why and closes"
	like "$out" "error: not a Haven frame \(bad magic" \
	    "... the reason names the bad frame"
	sleep 0.2
	n1=$(log_count "data connection from .*machine $machine closed: not a Haven frame")
	is "$((n1 - n0))" 1 "... and the log names the machine and the reason"
done

# --- afterwards ----------------------------------------------------
st=$(status_json)
rc=$?
is "$rc" 0 "havenctl status still answers"
is "$(printf '%s' "$st" | jq -r '[.workers[] | "\(.restarts)/\(.state)"] | join(" ")')" \
    "0/running 0/running 0/running 0/running" "no worker restarted, all running"
is "$(printf '%s' "$st" | jq -r '[.workers[].pid] | join(" ")')" "$pids0" \
    "the same worker pids as at start"
is "$(printf '%s' "$st" | jq -r .database.state)" up "the database is still up"
shards=""
for i in 1 2; do
	shards="$shards $(dc --cert "$A/agent.crt" --key "$A/agent.key" |
	    sed -n 's/^hello-ok seq=0 shard=//p')"
done
is "$(echo $shards | tr ' ' '\n' | sort | tr '\n' ' ')" "0 1 " \
    "both shards still answer an enrolled agent's hello"
