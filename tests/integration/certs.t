#!/bin/bash
# The site CA and the server certificate: key modes, names, validity,
# `havenctl cert renew` (a job; enrolled agents keep working because
# they trust the CA), expiry warnings, and renewal after expiry, against
# a real havend and MariaDB with a real haven-agent.  Needs faketime
# (Debian package faketime) to issue a certificate in the past.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

AGENT=$HAVEN_BIN/haven-agent
dir=$(mktemp -d /tmp/haven-certs.XXXXXX)
# A private TMPDIR for MariaDB: a starting mariadbd deletes every #sql*
# file in its tmpdir, so servers sharing /tmp break each other's
# mariadb-install-db (until tests/lib/mariadb.sh gives each its own).
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
st=$dir/state
cleanup() {
	trap '' INT TERM HUP
	havend_teardown "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$desc"; else
		fail "$desc"; printf '%s\n' "$out" | head -n 20 | sed 's/^/# /'
	fi
}
# in_range VALUE LOW HIGH DESC
in_range() {
	if [ -n "$1" ] && [ "$1" -ge "$2" ] 2>/dev/null && [ "$1" -le "$3" ]; then
		pass "$4"
	else
		fail "$4"; diag "got '$1', want $2..$3"
	fi
}
cert_json() { hctl cert show --json | jq -r ".server.$1"; }
ts() { date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%s; }
# The SHA-256 fingerprint of the certificate presented on PORT.
presented() {
	timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername localhost \
	    "${@:2}" </dev/null 2>/dev/null |
	    openssl x509 -noout -fingerprint -sha256 2>/dev/null |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}
heartbeat() { "$AGENT" -c "$dir/agent/agent.conf" heartbeat --once; }
restart_with() {	# CERTFILE: stop havend, install it as server.crt, start
	havend_stop "$dir" &&
	    mv "$1" "$st/server.crt" &&
	    havend_start "$dir"
}
# A certificate for the same key, signed by the same CA, with the
# names havend uses; extra arguments go to openssl x509 -req.
issue() {	# OUT DAYS [faketime DATE]
	local out=$1 days=$2 ft=()
	[ $# -ge 4 ] && ft=(faketime "$4")
	openssl req -new -key "$st/server.key" -subj /CN=localhost \
	    -out "$dir/server.csr" 2>/dev/null &&
	printf '%s\n' 'basicConstraints = CA:FALSE' \
	    'keyUsage = digitalSignature' 'extendedKeyUsage = serverAuth' \
	    'subjectAltName = DNS:localhost, IP:127.0.0.1' >"$dir/ext.cnf" &&
	"${ft[@]}" openssl x509 -req -in "$dir/server.csr" -CA "$st/ca.crt" \
	    -CAkey "$st/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
	    -days "$days" -extfile "$dir/ext.cnf" -out "$out" 2>/dev/null
}

plan 43

if ! command -v faketime >/dev/null; then
	echo "Bail out! faketime is missing: apt-get install faketime"
	exit 1
fi
if ! havend_setup "$dir" || ! havend_start "$dir"; then
	echo "Bail out! havend did not start"
	exit 1
fi
cport=$(conf_get "$dir" control_port)
aport=$(conf_get "$dir" admin_port)
dport=$(conf_get "$dir" data_port)

# --- What the first start made ------------------------------------------

is "$(stat -c %a "$st/ca.key" 2>&1)" 600 "state/ca.key is mode 0600"
is "$(stat -c %a "$st/server.key" 2>&1)" 600 "state/server.key is mode 0600"
is "$(stat -c %a "$st/passphrase" 2>&1)" 600 "state/passphrase is mode 0600"
san=$(openssl x509 -in "$st/server.crt" -noout -ext subjectAltName 2>&1)
like "$san" "DNS:localhost(,|$)" "the server certificate names localhost"
like "$san" "IP Address:127.0.0.1(,|$)" "the server certificate names 127.0.0.1"
like "$san" "DNS:$(hostname)(,|$)" "the server certificate names the host ($(hostname))"
check "the server certificate is signed by the site CA" \
    openssl verify -CAfile "$st/ca.crt" "$st/server.crt"
days=$(( ($(ts "$st/server.crt" enddate) - $(ts "$st/server.crt" startdate)) / 86400 ))
in_range "$days" 1094 1096 "the server certificate is valid for ~3 years ($days days)"
in_range "$(cert_json days_left)" 1094 1095 "cert show: days_left ~1095"
is "$(cert_json warning)" null "cert show: no warning"
days=$(( ($(ts "$st/ca.crt" enddate) - $(ts "$st/ca.crt" startdate)) / 86400 ))
in_range "$days" 3649 3651 "the site CA is valid for ~10 years ($days days)"
fp0=$(cert_json fingerprint)
serial0=$(cert_json serial)
is "$(presented "$cport")" "$fp0" "the control port presents that certificate"
is "$(presented "$aport")" "$fp0" "the admin port presents that certificate"

# An enrolled agent: it trusts the CA, not the certificate.
hctl passphrase show >"$dir/pass" 2>/dev/null && chmod 600 "$dir/pass"
mkdir -p "$dir/agent"
echo "state_dir = $dir/agent/state" >"$dir/agent/agent.conf"
check "an agent enrolls" "$AGENT" -c "$dir/agent/agent.conf" enroll \
    --cs "127.0.0.1:$cport" --passphrase-file "$dir/pass"
check "and heartbeats" heartbeat
ag=$dir/agent/state
is "$(presented "$dport" -cert "$ag/agent.crt" -key "$ag/agent.key")" "$fp0" \
    "the data port presents the same certificate"

# --- Renewal ------------------------------------------------------------

jobs0=$(hctl job list --json | jq '[.jobs[] | select(.kind == "cert.renew")] | length')
out=$(hctl cert renew 2>&1)
ok $? "havenctl cert renew succeeds"
like "$out" "renewed" "cert renew says renewed"
fp1=$(cert_json fingerprint)
serial1=$(cert_json serial)
[ -n "$serial1" ] && [ "$serial1" != "$serial0" ] && [ -n "$fp1" ] && [ "$fp1" != "$fp0" ]
ok $? "cert show --json has a new serial and fingerprint"
jobs=$(hctl job list --json)
is "$(printf '%s' "$jobs" | jq -r --argjson n "$jobs0" \
    '[.jobs[] | select(.kind == "cert.renew")] | "\(length - $n) \(max_by(.id).state) \(max_by(.id).result.serial)"' 2>&1)" \
    "1 succeeded $serial1" "job list has one new cert.renew job, succeeded, with the new serial"
like "$(hctl job list)" "cert\.renew +succeeded" "havenctl job list shows it"
is "$(presented "$cport")" "$fp1" "the control port presents the new certificate at once"
is "$(presented "$dport" -cert "$ag/agent.crt" -key "$ag/agent.key")" "$fp1" \
    "the data port presents it too"
is "$(stat -c %a "$st/server.key" 2>&1)" 600 "the renewed server.key is mode 0600"
check "the enrolled agent's heartbeat still works after the renewal" heartbeat

# --- Expiring in 30 days ----------------------------------------------------

if issue "$dir/soon.crt" 30 && restart_with "$dir/soon.crt"; then
	pass "havend starts with a certificate that expires in 30 days"
else
	fail "havend starts with a certificate that expires in 30 days"
fi
in_range "$(cert_json days_left)" 29 30 "cert show: days_left 29..30"
like "$(cert_json warning)" "expires in (29|30) days.*havenctl cert renew" \
    "cert show --json: a warning saying renew"
like "$(hctl status)" "WARNING.*expires in .*havenctl cert renew" \
    "havenctl status shows a WARNING mentioning renew"
like "$(hctl cert show)" "WARNING.*havenctl cert renew" "havenctl cert show too"
check "agents still heartbeat (the certificate is valid)" heartbeat

# --- Already expired ------------------------------------------------------

if issue "$dir/expired.crt" 30 faketime 2020-01-01 && restart_with "$dir/expired.crt"; then
	pass "havend starts with an expired server certificate"
else
	fail "havend starts with an expired server certificate"
	tail -n 20 "$dir/havend.log" | sed 's/^/# /'
fi
like "$(openssl x509 -in "$st/server.crt" -noout -enddate)" "2020" \
    "(the certificate in place did expire in 2020)"
like "$(hctl status)" "WARNING.*expired.*havenctl cert renew" \
    "havenctl status says the certificate expired, and to renew it"
is "$(cert_json days_left) $(cert_json warning | grep -c expired)" "0 1" \
    "cert show --json: days_left 0 and a warning saying expired"
out=$(heartbeat 2>&1)
rc=$?
[ $rc -ne 0 ]; ok $? "agents refuse the expired certificate (heartbeat fails)"
like "$out" "certificate.*expired|expired.*certificate" "and say the certificate expired"
check "havenctl cert renew works after expiry" hctl cert renew
in_range "$(cert_json days_left)" 1094 1095 "days_left is ~1095 again"
is "$(cert_json warning)" null "no warning any more"
unlike "$(hctl status)" "WARNING" "havenctl status has no WARNING"
check "heartbeats work again" heartbeat
is "$(hctl job list --json | jq --argjson n "$jobs0" \
    '[.jobs[] | select(.kind == "cert.renew" and .state == "succeeded")] | length - $n' 2>&1)" \
    2 "both renewals are succeeded jobs"
