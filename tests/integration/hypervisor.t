#!/bin/bash
# Accounts, hypervisor servers and discovery jobs (issue 5) against a
# real havend and MariaDB, the vCenter simulator (tests/lib/vcsim) and
# libvirt's test driver: secrets never come back out (API, audit log,
# daemon log, database dump), thumbprint pinning, wrong password,
# unreachable host, changed certificate, a VM that goes and comes back,
# protectable reasons, the refusals of remove, the 15-minute rerun.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/havend.sh"
BUILD=$(cd "$HAVEN_BIN/.." 2>/dev/null && pwd || echo "$root/build")
export BUILD

dir=$(mktemp -d /tmp/haven-hypervisor.XXXXXX)
# MariaDB wants a private tmpdir (see certs.t).
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
vc=$dir/vcsim
cleanup() {
	trap '' INT TERM HUP
	sh "$root/tests/lib/vcsim.sh" stop "$vc" >/dev/null 2>&1
	sh "$root/tests/lib/vcsim.sh" stop "$vc.2" >/dev/null 2>&1
	havend_teardown "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 70

# A password nothing else contains, so a grep for it means something.
PW="Hv-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-pw"
export VCSIM_USER=haven VCSIM_PASSWORD=$PW
sql() { mariadb --defaults-file="$dir/db/root.cnf" -N -B haven -e "$1"; }
api() { curl -s --max-time 10 --unix-socket "$dir/havend.sock" "$@"; }
secretfile() { printf '%s\n' "$2" >"$dir/$1"; chmod 600 "$dir/$1"; }

# The sweep (and so the periodic discovery check) every second.
HAVEN_HEARTBEAT=1 havend_setup "$dir" && havend_start "$dir" ||
    { echo "Bail out! havend did not start"; exit 1; }
sh "$root/tests/lib/vcsim.sh" build >"$dir/go.log" 2>&1 ||
    { sed 's/^/# /' "$dir/go.log"; echo "Bail out! no simulator"; exit 1; }
port=$(sh "$root/tests/lib/vcsim.sh" start "$vc" 10 2>"$dir/vcsim.err")
[ -n "$port" ] || { sed 's/^/# /' "$dir/vcsim.err"; echo "Bail out! no simulator"; exit 1; }
thumb=$(openssl x509 -in "$vc/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')

## Accounts: the secret goes in, never out.
secretfile pw "$PW"
secretfile bad "not-the-password"
out=$(hctl account add vc --kind vsphere --user haven --secret-file "$dir/pw" 2>&1)
ok $? "account add"
unlike "$out" "$PW" "... does not echo the secret"
key=$dir/state/secrets.key
is "$(stat -c '%a %s' "$key" 2>/dev/null)" "600 32" "the secrets key is made on first use: 32 bytes, mode 0600"
hctl account add kvm --kind libvirt >/dev/null
ok $? "a libvirt account without a secret (auth none)"
secretfile key "-----BEGIN OPENSSH PRIVATE KEY-----
AAAAnotreallyakey$PW
-----END OPENSSH PRIVATE KEY-----"
hctl account add push1 --kind push --user deploy --secret-file "$dir/key" --sudo >/dev/null
ok $? "a push account with a private key and sudo"
out=$(hctl account add vc --kind vsphere --user haven --secret-file "$dir/pw" 2>&1)
like "$out" "an account named vc already exists" "names are unique"
out=$(hctl account add nosecret --kind vsphere --user haven 2>&1)
like "$out" "needs a secret" "a vSphere account needs a password"
out=$(hctl account list)
like "$out" "vc +vsphere +haven .*stored" "account list: name, kind, user, a stored secret"
like "$out" "push1 +push +deploy +- +yes +stored" "... the push account's sudo"
json=$(hctl account list --json)
is "$(jq -c '[.accounts[] | {name, has_secret}]' <<<"$json")" \
    '[{"name":"kvm","has_secret":false},{"name":"push1","has_secret":true},{"name":"vc","has_secret":true}]' \
    "the API says whether a secret is stored"
unlike "$json$out" "$PW|\"secret\":|AAAAnotreally" "... and never returns one"
is "$(sql "SELECT COUNT(*) FROM accounts WHERE secret LIKE 'hv1:%'")" 2 \
    "the database holds the secrets sealed"
r=$(api -X POST -d "{\"name\": \"typo\", \"kind\": \"vsphere\", \"username\": \"u\", \"password\": \"$PW\"}" \
    http://localhost/api/v1/accounts)
like "$r" "unknown field 'password'" "an unknown field is refused, not ignored"
unlike "$r" "$PW" "... without echoing it"

# The same routes for people, on the admin port with a session.
url="https://127.0.0.1:$(conf_get "$dir" admin_port)"
printf 'correct horse battery\n' >"$dir/upw" && chmod 600 "$dir/upw"
hctl user add admin --password-file "$dir/upw" >/dev/null
csrf=$(curl -sk -c "$dir/jar" -H 'Content-Type: application/json' \
    -d '{"name":"admin","password":"correct horse battery"}' "$url/api/v1/session" | jq -r .csrf_token)
r=$(curl -sk -b "$dir/jar" "$url/api/v1/accounts")
is "$(jq -r '[.accounts[].name] | join(" ")' <<<"$r")" "kvm push1 vc" "GET /accounts on the admin port, signed in"
unlike "$r" "$PW|AAAAnotreally" "... without a secret"
code=$(curl -sk -b "$dir/jar" -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $csrf" \
    -X DELETE "$url/api/v1/accounts/kvm")
is "$code" 200 "DELETE /accounts/kvm with the CSRF token"
hctl account add kvm --kind libvirt >/dev/null

## vSphere: add, accept the thumbprint, discover.
out=$(hctl hypervisor add vc1 --kind vsphere --address 127.0.0.1 --port "$port" --account vc 2>&1)
ok $? "hypervisor add"
like "$(tr '\n' ' ' <<<"$out")" "SHA-256 thumbprint +$thumb .*havenctl hypervisor accept vc1" \
    "... prints the thumbprint to accept"
like "$(hctl hypervisor list)" "vc1 +vsphere +127.0.0.1:$port +vc +Not accepted +0" \
    "until it is accepted nothing is discovered"
is "$(hctl vm list --hypervisor vc1)" "no machines discovered on this hypervisor" "no machines yet"
out=$(hctl hypervisor refresh vc1 2>&1)
ok $((! $?)) "a refresh before the thumbprint is accepted fails"
like "$out" "is not accepted yet: its SHA-256 thumbprint is $thumb; check it" "... with vsphere.c's words"
out=$(hctl hypervisor accept vc1 2>&1)
ok $? "hypervisor accept"
like "$out" "vc1: 10 machines \(0 protectable\)" "... pins it and discovers 10 machines"
h=$(api "http://localhost/api/v1/hypervisors/vc1")
is "$(jq -c '{status, error, vm_count, thumbprint, account}' <<<"$h")" \
    "{\"status\":\"connected\",\"error\":null,\"vm_count\":10,\"thumbprint\":\"$thumb\",\"account\":\"vc\"}" \
    "GET /hypervisors/vc1: connected, 10 VMs, the pinned thumbprint"
like "$(jq -r .about.api_type <<<"$h")" VirtualCenter "... what the server is"
vm0=$(jq -c '.vms[] | select(.name == "DC0_C0_RP0_VM0") | {power_state, addresses,
    cpus, memory_mb, folder, datastore, gone_at, protectable, not_protectable_reason,
    disk: .disks[0].capacity, nic: .nics[0].network}' <<<"$h")
is "$vm0" '{"power_state":"on","addresses":["10.1.0.1"],"cpus":1,"memory_mb":32,"folder":"/DC0/vm","datastore":"LocalDS_0","gone_at":null,"protectable":false,"not_protectable_reason":"its guest OS (otherGuest) is not Linux","disk":1048576,"nic":"DC0_DVPG0"}' \
    "VM0's facts and why it cannot be protected"
is "$(jq -r '.vms[] | select(.name == "DC0_C0_RP0_VM3") | .not_protectable_reason' <<<"$h")" \
    "it is powered off; its guest OS (otherGuest) is not Linux" "a powered-off VM: every reason"
is "$(sql "SELECT CONCAT(COUNT(DISTINCT instance_uuid), ' ', COUNT(bios_uuid)) FROM vms")" "10 10" \
    "the vms table: one row per instance UUID, BIOS UUIDs kept"
is "$(api 'http://localhost/api/v1/vms?hypervisor=vc1' | jq '.vms | length')" 10 "GET /vms?hypervisor=vc1"

## A wrong password: the status says so; the right one again: connected.
hctl account edit vc --secret-file "$dir/bad" >/dev/null
out=$(hctl hypervisor refresh vc1 2>&1)
ok $((! $?)) "refresh with a wrong password fails"
like "$out" "refused the login of 'haven': wrong username or password" "... and says why"
out=$(hctl hypervisor list)
like "$out" "vc1 +vsphere .* Error +10 " "hypervisor list: Error, the machines of the last discovery kept"
like "$out" "vc1: vSphere at 127.0.0.1:$port refused the login of 'haven': wrong username or password" \
    "... with the reason"
hctl account edit vc --secret-file "$dir/pw" >/dev/null
out=$(hctl hypervisor refresh vc1 2>&1)
like "$out" "vc1: 10 machines" "the secret replaced, discovery works again"
like "$(hctl hypervisor list)" "vc1 .* Connected +10 " "... Connected"

## A VM destroyed between two discoveries is marked gone, not deleted.
sh "$root/tests/lib/vcsim.sh" destroy "$vc" DC0_C0_RP0_VM5
out=$(hctl hypervisor refresh vc1 2>&1)
like "$out" "vc1: 9 machines \(0 protectable, 1 gone\)" "after Destroy_Task: 9 machines, 1 gone"
like "$(hctl vm list --hypervisor vc1 | grep VM5)" "DC0_C0_RP0_VM5 +gone since 20" "vm list marks it gone"
is "$(sql "SELECT COUNT(*) FROM vms WHERE name = 'DC0_C0_RP0_VM5' AND gone_at IS NOT NULL")" 1 \
    "its row stays, with gone_at"
is "$(hctl vm list --hypervisor vc1 --present | grep -c VM5)" 0 "vm list --present leaves it out"

## The same address with another certificate.
sh "$root/tests/lib/vcsim.sh" stop "$vc"
port2=$(sh "$root/tests/lib/vcsim.sh" start "$vc.2" 10 "$port" 2>"$dir/vcsim.err")
is "$port2" "$port" "the simulator restarts on the same port with a new certificate"
thumb2=$(openssl x509 -in "$vc.2/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
out=$(hctl hypervisor refresh vc1 2>&1)
ok $((! $?)) "a changed thumbprint stops discovery"
like "$out" "the certificate of 127.0.0.1:$port changed: was $thumb, now $thumb2" \
    "... with vsphere.c's error naming both"
h=$(api "http://localhost/api/v1/hypervisors/vc1?vms=0")
is "$(jq -c '{status, pending_thumbprint, thumbprint}' <<<"$h")" \
    "{\"status\":\"error\",\"pending_thumbprint\":\"$thumb2\",\"thumbprint\":\"$thumb\"}" \
    "the status shows it; the new thumbprint waits to be accepted"
out=$(hctl hypervisor accept vc1 --thumbprint "$(tr -d : <<<"$thumb2" | tr A-F a-f)" 2>&1)
like "$out" "vc1: 10 machines" "accepting the new one (any case, no colons) discovers again"
like "$(hctl vm list --hypervisor vc1 | grep VM5)" "DC0_C0_RP0_VM5 +on " "the VM that came back is no longer gone"

## An unreachable host.
closed=$(free_port)
out=$(hctl hypervisor add dead --kind vsphere --address 127.0.0.1 --port "$closed" --account vc 2>&1)
ok $((! $?)) "adding a server nobody listens on reports a failure"
like "$out" "cannot connect to 127.0.0.1:$closed: connection refused" "... saying why"
like "$(hctl hypervisor list)" "dead: cannot connect to 127.0.0.1:$closed: connection refused" \
    "hypervisor list shows the error"

## libvirt: test:///default, and a test driver file with Linux guests.
out=$(hctl hypervisor add t --kind libvirt --uri test:///default 2>&1)
like "$out" "t: 1 machine \(0 protectable\)" "libvirt test:///default: its one domain"
is "$(hctl vm list --hypervisor t --json | jq -c '.vms[] | {name, power_state, cpus, memory_mb}')" \
    '{"name":"test","power_state":"on","cpus":2,"memory_mb":2048}' "... with its facts"
osinfo() { echo "<metadata><libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'><libosinfo:os id='$1'/></libosinfo:libosinfo></metadata>"; }
domain() {	# NAME N OSID DISKS [RUNSTATE]
	local i disks="" l
	for i in $(seq 1 "$4"); do
		l=$(printf "\\$(printf %o $((96 + i)))")
		disks="$disks<disk type='file' device='disk'><source file='/g/$1-$i'/><target dev='vd$l' bus='virtio'/></disk>"
	done
	echo "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
<name>$1</name><uuid>11111111-2222-3333-4444-00000000000$2</uuid>$(osinfo "$3")
<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm</type></os>
<devices>$disks</devices>${5:+<test:runstate>$5</test:runstate>}</domain>"
}
node() {
	echo "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads><active>2</active><mhz>2000</mhz><model>i686</model></cpu><memory>8388608</memory>"
	domain deb1 1 http://debian.org/debian/12 1
	domain rocky 2 http://rockylinux.org/rocky/9 17
	[ "${1:-}" = nowin ] || domain win1 3 http://microsoft.com/win/2k22 1
	domain off1 4 http://ubuntu.com/ubuntu/22.04 1 5
	echo "</node>"
}
node >"$dir/node.xml"
out=$(hctl hypervisor add kvm1 --kind libvirt --uri "test://$dir/node.xml" --account kvm 2>&1)
like "$out" "kvm1: 4 machines \(1 protectable\)" "a libvirt host with four domains, one protectable"
is "$(hctl vm list --hypervisor kvm1 --json | jq -c '[.vms[] | [.name, .protectable, .not_protectable_reason]]')" \
    '[["deb1",true,null],["off1",false,"it is powered off"],["rocky",false,"it has 17 disks, more than 16"],["win1",false,"its guest OS (http://microsoft.com/win/2k22) is not Linux"]]' \
    "protectable: a running Linux guest with 1..16 disks; else the reason"
node nowin >"$dir/node.xml"
out=$(hctl hypervisor refresh kvm1 2>&1)
like "$out" "kvm1: 3 machines \(1 protectable, 1 gone\)" "a domain undefined: gone"
like "$(sql "SELECT kind, message FROM events WHERE kind = 'vm.gone' ORDER BY id DESC LIMIT 1")" \
    "vm.gone.VM win1 on hypervisor kvm1 is gone" "... and an event says so"

## Every 15 minutes: an attempt that old is made again by itself.
run=$(sql "SELECT discovery_run FROM hypervisors WHERE name = 't'")
sql "UPDATE hypervisors SET last_attempt = UTC_TIMESTAMP() - INTERVAL 901 SECOND WHERE name = 't'"
rerun() { [ "$(sql "SELECT discovery_run FROM hypervisors WHERE name = 't' AND discovering = 0")" -gt "$run" ] 2>/dev/null; }
wait_for 10 rerun
ok $? "a hypervisor last tried 15 minutes ago is discovered again by control's timer"
is "$(sql "SELECT created_by FROM jobs WHERE kind = 'discover' ORDER BY id DESC LIMIT 1")" \
    "havend (periodic discovery)" "... as a job of its own"

## Removing: refused while in use, naming what uses it.
out=$(hctl account remove vc 2>&1)
ok $((! $?)) "account remove refused while hypervisors use it"
like "$out" "account vc is used by hypervisor dead, vc1" "... naming them"
# A machine enrolled from VM0 (by host name) that follows a policy.
sql "INSERT INTO machines (id, hostname, role, status, cert_serial, cert_fingerprint,
    cert_not_after, enrolled_at, policy_id) SELECT '00000000-0000-0000-0000-000000000001',
    'DC0_C0_RP0_VM0', 'agent', 'connected', 'S1', REPEAT('a', 64), UTC_TIMESTAMP(),
    UTC_TIMESTAMP(), id FROM policies WHERE name = 'default'"
out=$(hctl hypervisor remove vc1 2>&1)
like "$out" "hypervisor vc1 has protected machines: DC0_C0_RP0_VM0; stop protecting them first" \
    "hypervisor remove refused while a machine on it is protected"
sql "UPDATE machines SET policy_id = NULL"
out=$(hctl hypervisor remove vc1 2>&1)
like "$out" "hypervisor vc1 removed, with the 10 machines discovered on it" "... and allowed once it is not"
is "$(sql "SELECT COUNT(*) FROM vms v LEFT JOIN hypervisors h ON h.id = v.hypervisor_id WHERE h.id IS NULL")" 0 \
    "its machines go with it"
hctl hypervisor remove dead >/dev/null && out=$(hctl account remove vc 2>&1)
like "$out" "account vc removed" "the account, no longer used, is removed"

## Where the secret must never be.
hctl account edit push1 --secret-file "$dir/pw" >/dev/null
mariadb-dump --defaults-file="$dir/db/root.cnf" haven >"$dir/dump.sql" 2>/dev/null
ok $? "the database dumps"
n=$(grep -c -e "$PW" -e AAAAnotreally "$dir/dump.sql")
is "$n" 0 "no secret in the database dump"
audit=$(api http://localhost/api/v1/audit)
like "$audit" '"action":"account.edit","target":"push1","detail":"secret replaced"' \
    "the audit log records every change"
unlike "$audit" "$PW|AAAAnotreally" "... and no secret"
unlike "$(cat "$dir/havend.log")" "$PW|AAAAnotreally" "no secret in havend's log"
unlike "$(api http://localhost/api/v1/jobs)" "$PW" "... nor in the jobs"

[ "$_tap_failed" -eq 0 ]
