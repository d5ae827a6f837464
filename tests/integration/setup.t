#!/bin/bash
# haven-setup (docs/setup.md) against a real MariaDB and a real havend:
# CS mode end to end (havend comes up from the written config, the admin
# signs in, the passphrase matches), idempotency byte for byte, proxy
# and vault files, PS mode enrollment against that CS (and a wrong
# passphrase), then every kind of bad input with its message and exit
# status.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"

SETUP=$HAVEN_BIN/haven-setup
PASS_RE='[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){4}'

dir=$(mktemp -d /tmp/haven-setup.XXXXXX)
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
cleanup() {
	trap '' INT TERM HUP
	havend_stop "$dir/cs" >/dev/null 2>&1
	"$HAVEN_LIB/mariadb.sh" stop "$dir/db" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 142

# run ARGS...: haven-setup's stdout+stderr in $out, its status in $rc.
run() { out=$("$SETUP" "$@" 2>&1); rc=$?; }
sum() { (cd "$1" && sha256sum ca.crt ca.key server.crt server.key \
    passphrase master.key crl.pem) 2>/dev/null; }
mode() { stat -c %a "$1"; }

"$HAVEN_LIB/mariadb.sh" start "$dir/db" >"$dir/mariadb.out" 2>&1 ||
    { cat "$dir/mariadb.out" >&2; echo "Bail out! MariaDB did not start"; exit 1; }
rootpw=$(cat "$dir/db/root.pass")
userpw="Setup-User-Pw-7b1e"
adminpw="correct horse battery"
proxypw="Proxy-Secret-93af"

mkdir -p "$dir/in" "$dir/cs"
chmod 700 "$dir/in"
# Everything a test writes that holds a secret is owner-only.
umask 077
# The seeds' format with a byte order mark, CRLF ends, comments of both kinds, a quoted
# and an unquoted value, and Haven's MySQLSocket extension.
printf '\xef\xbb\xbf; UnifiedSetup MySQL credentials\r\n[MySQLCredentials]\r\n# root\r\nMySQLRootPassword = "%s"\r\n\r\nMySQLUserPassword=%s\r\nMySQLSocket = "%s"\r\n' \
    "$rootpw" "$userpw" "$dir/db/mysql.sock" >"$dir/in/my.ini"
printf '%s\n' "$adminpw" >"$dir/in/admin.pw"
printf 'vault-registration-key-v1 0123456789abcdef\n' >"$dir/in/vault.key"
cat >"$dir/in/proxy.ini" <<EOF
[ProxySettings]
ProxyAuthentication = "Yes"
Proxy IP = "http://proxy.example.com"
ProxyPort = "3128"
ProxyUserName = "squid"
ProxyPassword = "$proxypw"
EOF
umask 022

cp=$(free_port); ap=$(free_port); dp=$(free_port)
while [ "$ap" = "$cp" ]; do ap=$(free_port); done
while [ "$dp" = "$cp" ] || [ "$dp" = "$ap" ]; do dp=$(free_port); done
conf=$dir/cs/havend.conf
# The operator's own settings, which haven-setup must keep.
cat >"$conf" <<EOF
socket_path = $dir/cs/havend.sock
shards = 1
log_level = info
EOF
cs_args=(/ServerMode CS /InstallLocation "$dir/cs/state"
    /MySQLCredsFilePath "$dir/in/my.ini" /PSIP 127.0.0.1
    /ConfigFile "$conf" /AdminPasswordFilePath "$dir/in/admin.pw"
    /ListenAddress 127.0.0.1 /ControlPort "$cp" /AdminPort "$ap"
    /DataTransferSecurePort "$dp" /EnvType NonVMware /NoStart)

# --- CS mode, first run
run "${cs_args[@]}"
is "$rc" 0 "CS mode: first run succeeds"
[ "$rc" = 0 ] || diag "$out"
like "$out" '^\[1/10\] Checking the input files\.\.\. ok' "progress lines are [k/N] step... ok"
is "$(printf '%s\n' "$out" | grep -c '^\[[0-9]*/10\] .*\.\.\. ok')" 10 "all 10 steps say ok"
is "$(printf '%s\n' "$out" | tail -n 2 | head -n 1)" "Admin URL: https://127.0.0.1:$ap/" \
    "the second last line is the admin URL"
last=$(printf '%s\n' "$out" | tail -n 1)
like "$last" "^Passphrase: $PASS_RE\$" "the last line is the passphrase"
pass1=${last#Passphrase: }
like "$out" 'Creating the database and its user\.\.\. ok$' "the database step did the work"
like "$out" 'Applying the database schema\.\.\. ok \(schema version [0-9]+\)' "migrations ran"
unlike "$out" "$rootpw|$userpw|$adminpw" "no secret is printed"

check_conf() { grep -qx "$1" "$conf"; }
check_conf 'roles = cs ps mt'; ok $? "havend.conf: roles cs ps mt"
check_conf "data_port = $dp"; ok $? "havend.conf: data port from the option"
check_conf "admin_port = $ap"; ok $? "havend.conf: admin port"
check_conf "db_socket = $dir/db/mysql.sock"; ok $? "havend.conf: the MariaDB socket"
check_conf "db_password_file = $dir/cs/db.pass"; ok $? "havend.conf: the db password file next to it"
check_conf "socket_path = $dir/cs/havend.sock"; ok $? "havend.conf: the operator's own lines are kept"
check_conf "server_names = 127.0.0.1"; ok $? "havend.conf: PSIP in server_names"
is "$(mode "$dir/cs/db.pass")" 600 "db.pass is 0600"
is "$(cat "$dir/cs/db.pass")" "$userpw" "db.pass holds MySQLUserPassword"
for d in state state/cache state/retention; do
	is "$(mode "$dir/cs/$d")" 700 "$d is a private directory"
done
"$HAVEN_BIN/havend" -n -f "$conf" >/dev/null 2>&1
ok $? "havend -n accepts the written config"
openssl x509 -in "$dir/cs/state/server.crt" -noout -ext subjectAltName 2>/dev/null |
    grep -q "IP Address:127.0.0.1"
ok $? "the server certificate names the PSIP"
openssl x509 -in "$dir/cs/state/server.crt" -noout -ext subjectAltName 2>/dev/null |
    grep -q "DNS:$(hostname)"
ok $? "and the host name"
mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$(cat "$dir/db/port")" \
    -u haven -p"$userpw" haven -N -e 'SELECT 1' >/dev/null 2>&1
ok $? "user haven@127.0.0.1 logs in with MySQLUserPassword"
mariadb --no-defaults --socket="$dir/db/mysql.sock" -u haven -p"$userpw" haven \
    -N -e 'SELECT 1' >/dev/null 2>&1
ok $? "user haven@localhost logs in with MySQLUserPassword"

# --- havend from the written config
# free_port can hand out a port in the ephemeral range that a client
# socket takes before havend binds it: then new ports, same setup.
for try in 1 2 3; do
	havend_start "$dir/cs" 2>"$dir/start.err" && break
	grep -q 'port is in use' "$dir/havend.log" "$dir/cs/havend.log" 2>/dev/null || break
	diag "a port was taken meanwhile; setting up with new ports"
	cp=$(free_port); ap=$(free_port); dp=$(free_port)
	cs_args=("${cs_args[@]:0:${#cs_args[@]}-9}" /ControlPort "$cp" /AdminPort "$ap"
	    /DataTransferSecurePort "$dp" /EnvType NonVMware /NoStart)
	: >"$dir/cs/havend.log"
	run "${cs_args[@]}"
done
is "$(havend_db_up "$dir/cs"; echo $?)" 0 "havend -d -f CONF comes up with the database up"
url=https://127.0.0.1:$ap
code=$(curl -sk -o "$dir/session.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"admin\",\"password\":\"$adminpw\"}" "$url/api/v1/session")
is "$code" 200 "admin signs in with the /AdminPasswordFilePath password"
is "$(jq -r .user "$dir/session.json")" admin "the session is admin's"
code=$(curl -sk -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' \
    -d '{"name":"admin","password":"not the password"}' "$url/api/v1/session")
is "$code" 401 "a wrong admin password is refused"
is "$(hctl passphrase show)" "$pass1" "havenctl passphrase show equals the printed passphrase"

# --- CS mode, second identical run: nothing changes
sum "$dir/cs/state" >"$dir/sum1"
cp "$conf" "$dir/conf1"
users1=$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e \
    'SELECT name, password_hash, password_changed_at FROM haven.users')
grants1=$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e \
    "SELECT Host, authentication_string FROM mysql.user WHERE User = 'haven' ORDER BY Host")
run "${cs_args[@]}"
is "$rc" 0 "CS mode: second run succeeds"
is "$(printf '%s\n' "$out" | grep -c 'ok (already configured)$')" 6 \
    "6 steps say already configured"
is "$(printf '%s\n' "$out" | grep -c '\.\.\. ok$')" 1 \
    "no step but the input check reports work done"
like "$out" 'Creating the site CA, certificates and passphrase\.\.\. ok \(already configured\)' \
    "the PKI step is already configured"
sum "$dir/cs/state" | cmp -s - "$dir/sum1"
ok $? "CA, keys, certificates and passphrase are byte-identical"
cmp -s "$conf" "$dir/conf1"
ok $? "havend.conf is byte-identical"
is "$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e \
    'SELECT name, password_hash, password_changed_at FROM haven.users')" "$users1" \
    "the admin row is unchanged"
is "$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e \
    "SELECT Host, authentication_string FROM mysql.user WHERE User = 'haven' ORDER BY Host")" \
    "$grants1" "the database accounts are unchanged"
is "$(printf '%s\n' "$out" | tail -n 1)" "Passphrase: $pass1" "the same passphrase is printed"

# --- proxy and vault key
run "${cs_args[@]}" /ProxySettingsFilePath "$dir/in/proxy.ini" \
    /VaultCredsFilePath "$dir/in/vault.key"
is "$rc" 0 "CS mode with a proxy and a vault key succeeds"
[ "$rc" = 0 ] || diag "$out"
check_conf "proxy_url = http://proxy.example.com:3128"; ok $? "havend.conf: proxy_url"
check_conf "proxy_user = squid"; ok $? "havend.conf: proxy_user"
check_conf "proxy_password_file = $dir/cs/state/proxy.pass"; ok $? "havend.conf: proxy_password_file"
is "$(mode "$dir/cs/state/proxy.pass")" 600 "proxy.pass is 0600"
like "$(cat "$dir/cs/state/proxy.pass")" '^hv1:' "the proxy password is sealed (secret.c format)"
grep -q -- "$proxypw" "$dir/cs/state/proxy.pass" "$conf"
is $? 1 "the proxy password is nowhere in clear"
unlike "$out" "$proxypw" "nor printed"
"$HAVEN_BIN/havend" -n -f "$conf" >/dev/null 2>&1
ok $? "havend -n accepts the proxy keys"
cmp -s "$dir/in/vault.key" "$dir/cs/state/vault.key"
ok $? "the vault key is copied into the state dir"
is "$(mode "$dir/cs/state/vault.key")" 600 "vault.key is 0600"
like "$out" 'will be used to register with the vault' "the vault key step says what it is for"
cp "$dir/cs/state/proxy.pass" "$dir/proxy1"
run "${cs_args[@]}" /ProxySettingsFilePath "$dir/in/proxy.ini" \
    /VaultCredsFilePath "$dir/in/vault.key"
like "$out" 'Storing the proxy settings\.\.\. ok \(already configured\)' "same proxy again: already configured"
cmp -s "$dir/proxy1" "$dir/cs/state/proxy.pass"
ok $? "the sealed proxy password is not rewritten"
run "${cs_args[@]}" /BypassProxy
is "$rc" 0 "/BypassProxy succeeds"
grep -q '^proxy_' "$conf"
is $? 1 "/BypassProxy: no proxy keys in havend.conf"
[ ! -e "$dir/cs/state/proxy.pass" ]
ok $? "/BypassProxy: the sealed password is removed"

# --- a new admin password updates the account
(umask 077; printf 'a better password\n' >"$dir/in/admin2.pw")
cs3_args=("${cs_args[@]}")
cs3_args[11]=$dir/in/admin2.pw
run "${cs3_args[@]}"
like "$out" "Creating the admin account\.\.\. ok \(user 'admin'\)" "a new admin password is set"
code=$(curl -sk -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"name":"admin","password":"a better password"}' "$url/api/v1/session")
is "$code" 200 "admin signs in with the new password"

# --- a chosen passphrase
umask 077
printf 'Our-Site-Passphrase-2026\n' >"$dir/in/site.pass"
printf 'short\n' >"$dir/in/short.pass"
umask 022
run "${cs_args[@]}" /PassphraseFilePath "$dir/in/site.pass"
is "$rc" 0 "CS mode with /PassphraseFilePath succeeds"
is "$(printf '%s\n' "$out" | tail -n 1)" "Passphrase: Our-Site-Passphrase-2026" \
    "the chosen passphrase is printed"
is "$(hctl passphrase show)" "Our-Site-Passphrase-2026" "and is the site's passphrase"
run "${cs_args[@]}" /PassphraseFilePath "$dir/in/short.pass"
is "$rc" 1 "a short passphrase fails"
like "$out" 'at least 16 characters' "and says how long it must be"
is "$(hctl passphrase show)" "Our-Site-Passphrase-2026" "the passphrase is unchanged after it"

# --- PS mode against the running CS
umask 077
hctl passphrase show >"$dir/in/cs.pass"
printf 'WRONG-PASS-WRONG-PASS\n' >"$dir/in/wrong.pass"
umask 022
pdp=$(free_port)
ps_args=(/ServerMode PS /CSIP 127.0.0.1 /CSPort "$cp"
    /InstallLocation "$dir/ps/state" /ConfigFile "$dir/ps/havend.conf"
    /DataTransferSecurePort "$pdp" /NoStart)
run "${ps_args[@]}" /PassphraseFilePath "$dir/in/wrong.pass"
is "$rc" 1 "PS mode with a wrong passphrase fails"
like "$out" 'could not prove it knows the passphrase' "and says the passphrase is wrong"
[ ! -e "$dir/ps/havend.conf" ] && [ ! -e "$dir/ps/state/ps.crt" ] &&
    [ ! -e "$dir/ps/state/ca.crt" ] && [ ! -e "$dir/ps/state/ca.crt.enroll" ]
ok $? "nothing is half-written: no config, certificate or CA"
nps() { hctl machine list --json | jq '[.machines[] | select(.role == "ps")] | length'; }
is "$(nps)" 0 "no process server is recorded on the CS"

run "${ps_args[@]}" /PassphraseFilePath "$dir/in/cs.pass"
is "$rc" 0 "PS mode enrolls with the CS"
[ "$rc" = 0 ] || diag "$out"
psid=$(printf '%s\n' "$out" | sed -n 's/^Process server: //p')
like "$psid" '^[0-9a-f-]{36}$' "it prints its machine id"
is "$(hctl machine list --json | jq -r --arg id "$psid" \
    '.machines[] | select(.id == $id) | .role + " " + .status')" "ps connected" \
    "the CS lists it as a connected process server"
grep -qx 'roles = ps' "$dir/ps/havend.conf"; ok $? "PS havend.conf: roles = ps"
grep -qx "mt_address = 127.0.0.1:$dp" "$dir/ps/havend.conf"
ok $? "PS havend.conf: mt_address is the CS's data port"
grep -qx "cs_address = 127.0.0.1:$cp" "$dir/ps/havend.conf"
ok $? "PS havend.conf: cs_address"
grep -q '^db_' "$dir/ps/havend.conf"
is $? 1 "PS havend.conf: no database keys"
cmp -s "$dir/ps/state/ca.crt" "$dir/cs/state/ca.crt"
ok $? "the PS keeps the site CA"
openssl verify -CAfile "$dir/ps/state/ca.crt" "$dir/ps/state/ps.crt" >/dev/null 2>&1
ok $? "its certificate is signed by the site CA"
is "$(mode "$dir/ps/state/ps.key")" 600 "its key is 0600"
sha=$(sha256sum "$dir/ps/state/ps.crt" "$dir/ps/havend.conf")
run "${ps_args[@]}" /PassphraseFilePath "$dir/in/cs.pass"
is "$rc" 0 "PS mode: second run succeeds"
like "$out" 'Enrolling with the configuration server\.\.\. ok \(already configured\)' \
    "it does not enroll again"
is "$(sha256sum "$dir/ps/state/ps.crt" "$dir/ps/havend.conf")" "$sha" \
    "certificate and config are unchanged"
is "$(nps)" 1 "still one process server on the CS"
run /ServerMode PS /CSIP 127.0.0.1 /CSPort "$ap" /InstallLocation "$dir/ps/state" \
    /ConfigFile "$dir/ps/havend.conf" /DataTransferSecurePort "$pdp" /NoStart \
    /PassphraseFilePath "$dir/in/cs.pass"
is "$rc" 1 "PS mode refuses to switch to another CS silently"
like "$out" "enrolled with the configuration server at 127.0.0.1:$cp" "and says with which it is enrolled"

# --- a new MySQLUserPassword: both accounts and db.pass follow, no data lost
userpw2="Setup-User-Pw-second"
(umask 077; sed "s/$userpw/$userpw2/" "$dir/in/my.ini" >"$dir/in/my2.ini")
nusers=$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e 'SELECT COUNT(*) FROM haven.users')
nmach=$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e 'SELECT COUNT(*) FROM haven.machines')
cs2_args=("${cs_args[@]}")
cs2_args[5]=$dir/in/my2.ini
run "${cs2_args[@]}"
is "$rc" 0 "CS mode with a new MySQLUserPassword succeeds"
like "$out" 'Creating the database and its user\.\.\. ok$' "the database step updates the accounts"
is "$(cat "$dir/cs/db.pass")" "$userpw2" "db.pass holds the new password"
mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$(cat "$dir/db/port")" \
    -u haven -p"$userpw2" haven -N -e 'SELECT 1' >/dev/null 2>&1
ok $? "haven@127.0.0.1 logs in with the new password"
mariadb --no-defaults --socket="$dir/db/mysql.sock" -u haven -p"$userpw" haven \
    -N -e 'SELECT 1' >/dev/null 2>&1
is $? 1 "haven@localhost no longer takes the old one"
is "$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e 'SELECT COUNT(*) FROM haven.users')/$(
    mariadb --defaults-file="$dir/db/root.cnf" -N -B -e 'SELECT COUNT(*) FROM haven.machines')" \
    "$nusers/$nmach" "no rows are lost"

# --- bad INI files: exit 1, file:line and what is wrong, no secret echoed
bad_args=(/ServerMode CS /InstallLocation "$dir/bad/state" /ConfigFile "$dir/bad/havend.conf" /NoStart)
bad_ini() {	# NAME CONTENT EXPECTED-REGEX DESCRIPTION
	(umask 077; printf "$2" >"$dir/in/$1.ini")
	run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/$1.ini"
	is "$rc" 1 "bad INI ($4): exit 1"
	like "$out" "$3" "bad INI ($4): the message"
}
bad_ini nosect 'MySQLRootPassword = "Secret-Root-1"\nMySQLUserPassword = "x"\n' \
    "nosect.ini:1: 'MySQLRootPassword' comes before the \[MySQLCredentials\] section header" "no section"
bad_ini empty '; nothing\n' \
    'empty.ini: the \[MySQLCredentials\] section is missing' "empty file"
bad_ini nokey '[MySQLCredentials]\nMySQLRootPassword = "Secret-Root-1"\n' \
    'nokey.ini: MySQLUserPassword is missing from \[MySQLCredentials\]' "missing key"
bad_ini junk '[MySQLCredentials]\nMySQLRootPassword = "Secret-Root-1"\nSecret-Root-1\nMySQLUserPassword = "x"\n' \
    'junk.ini:3: this line is neither a comment' "junk line"
bad_ini dup '[MySQLCredentials]\nMySQLRootPassword = "Secret-Root-1"\nMySQLUserPassword = "x"\nmysqlrootpassword = "Secret-Root-2"\n' \
    'dup.ini:4: MySQLRootPassword is given twice \(first on line 2\)' "duplicate key"
bad_ini quote '[MySQLCredentials]\nMySQLRootPassword = "Secret"Root-1"\nMySQLUserPassword = "x"\n' \
    'quote.ini:2: MySQLRootPassword: the value holds a quote character' "password with a quote"
bad_ini port '[MySQLCredentials]\nMySQLRootPassword = "Secret-Root-1"\nMySQLUserPassword = "x"\nMySQLHost = 127.0.0.1\nMySQLPort = "33o6"\n' \
    "port.ini:5: MySQLPort: '33o6' is not a port" "non-numeric port"
bad_ini unknown '[MySQLCredentials]\nMySQLRootPasword = "Secret-Root-1"\n' \
    "unknown.ini:2: unknown key 'MySQLRootPasword'" "misspelt key"
unlike "$(for f in nosect nokey junk dup quote port; do
	"$SETUP" "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/$f.ini" 2>&1; done)" \
    'Secret' "no INI error shows a secret value"
bad_proxy() {	# NAME CONTENT EXPECTED-REGEX DESCRIPTION
	(umask 077; printf "$2" >"$dir/in/$1.ini")
	run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/my.ini" /ProxySettingsFilePath "$dir/in/$1.ini"
	is "$rc" 1 "bad proxy INI ($4): exit 1"
	like "$out" "$3" "bad proxy INI ($4): the message"
}
bad_proxy pport '[ProxySettings]\nProxyAuthentication = "No"\nProxyIP = "http://p"\nProxyPort = "squid"\n' \
    "pport.ini:4: ProxyPort: 'squid' is not a port" "non-numeric ProxyPort"
bad_proxy pauth '[ProxySettings]\nProxyAuthentication = "Maybe"\nProxyIP = "http://p"\nProxyPort = "3128"\n' \
    "pauth.ini:2: ProxyAuthentication: 'Maybe' is neither \"Yes\" nor \"No\"" "ProxyAuthentication not Yes/No"
bad_proxy pnouser '[ProxySettings]\nProxyAuthentication = "Yes"\nProxyIP = "http://p"\nProxyPort = "3128"\n' \
    'ProxyUserName or ProxyPassword is missing' "authentication without a user"
[ ! -e "$dir/bad/havend.conf" ] && [ ! -e "$dir/bad/state" ]
ok $? "bad input files change nothing"

# --- bad values: exit 2 (usage) or 1 (a file), each naming the option
run /ServerMode CS /MySQLCredsFilePath "$dir/in/my.ini" /DataTransferSecurePort 443
is "$rc" 2 "data port 443: exit 2"
like "$out" '/DataTransferSecurePort: 443 is refused.*9443' "data port 443: says why and what to use"
run /ServerMode CS /MySQLCredsFilePath "$dir/in/my.ini" --data-transfer-secure-port 70000
is "$rc" 2 "data port 70000 (--name form): exit 2"
like "$out" "/DataTransferSecurePort: '70000' is not a port: give a number from 1 to 65535" \
    "data port 70000: the message"
run /ServerMode CS /MySQLCredsFilePath "$dir/in/my.ini" /PSIP 300.1.2.3
is "$rc" 2 "bad IP: exit 2"
like "$out" "/PSIP: '300.1.2.3' is not an IP address" "bad IP: the message"
run /ServerMode CS /Bogus 1
is "$rc" 2 "unknown option: exit 2"
like "$out" "unknown option '/Bogus'" "unknown option: the message"
run /ServerMode
is "$rc" 2 "missing value: exit 2"
like "$out" '/ServerMode needs a value: CS.PS' "missing value: the message"
run /ServerMode PS /PassphraseFilePath "$dir/in/cs.pass"
is "$rc" 2 "PS mode without /CSIP: exit 2"
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/none.ini"
is "$rc" 1 "missing credentials file: exit 1"
like "$out" "cannot read $dir/in/none.ini: No such file" "missing file: the message"
cp "$dir/in/my.ini" "$dir/in/open.ini"; chmod 644 "$dir/in/open.ini"
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/open.ini"
is "$rc" 1 "world-readable credentials file: exit 1"
like "$out" "chmod 600 $dir/in/open.ini" "world-readable: the fix is named"
chmod 644 "$dir/in/vault.key"
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/my.ini" /VaultCredsFilePath "$dir/in/vault.key"
like "$out" "/VaultCredsFilePath: .*chmod 600" "a group/other-readable vault key is refused"
run /ServerMode CS /MySQLCredsFilePath "$dir/in/my.ini" --env-type=Hyper-V
is "$rc" 2 "bad /EnvType (--name=value form): exit 2"
like "$out" "/EnvType: 'Hyper-V' is not accepted: give VMware.NonVMware" "bad /EnvType: what is accepted"
(umask 077; : >"$dir/in/empty.key")
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/my.ini" /VaultCredsFilePath "$dir/in/empty.key"
is "$rc" 1 "an empty vault key: exit 1"
like "$out" "/VaultCredsFilePath: $dir/in/empty.key is empty" "an empty vault key: the message"
run --help
is "$rc" 0 "--help: exit 0"
like "$out" '/DataTransferSecurePort PORT' "--help lists the options"

# --- MariaDB unreachable or refusing
nport=$(free_port)
(umask 077; printf '[MySQLCredentials]\nMySQLRootPassword = "x"\nMySQLUserPassword = "y"\nMySQLHost = 127.0.0.1\nMySQLPort = %s\n' \
    "$nport" >"$dir/in/down.ini")
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/down.ini"
is "$rc" 1 "MariaDB unreachable: exit 1"
like "$out" "cannot connect to MariaDB at 127.0.0.1:$nport: .*MySQLHost and MySQLPort" \
    "MariaDB unreachable: names host:port and the keys to check"
(umask 077; printf '[MySQLCredentials]\nMySQLRootPassword = "not-root-pw"\nMySQLUserPassword = "y"\nMySQLSocket = %s\n' \
    "$dir/db/mysql.sock" >"$dir/in/badroot.ini")
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/badroot.ini"
like "$out" "refused root: .*check MySQLRootPassword" "a wrong root password is named"
unlike "$out" 'not-root-pw' "and not shown"
(umask 077; printf '[MySQLCredentials]\nMySQLRootPassword = ""\nMySQLUserPassword = "y"\nMySQLSocket = %s\n' \
    "$dir/db/mysql.sock" >"$dir/in/noroot.ini")
run "${bad_args[@]}" /MySQLCredsFilePath "$dir/in/noroot.ini"
like "$out" "refused root: .*empty: unix-socket authentication" \
    "an empty root password tries unix-socket authentication and says so"

havend_stop "$dir/cs"
ok $? "havend stops cleanly"
