#!/bin/bash
# Hypervisor discovery (issue 5) against real components: the vCenter
# simulator of tests/lib/vcsim, libvirt's test:/// driver and a private
# libvirtd with qemu domains.  Drives src/common/vsphere.c and virt.c
# through tests/lib/discover.c, built here against build/libcommon.a.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib/tap.sh"
BIN=${HAVEN_BIN:-$root/build/bin}
build=$(cd "$BIN/.." 2>/dev/null && pwd || echo "$root/build")
export BUILD=$build

tmp=$(mktemp -d /tmp/haven-discovery.XXXXXX)
vc=$tmp/vcsim
lv=$tmp/libvirtd
cleanup() {
	sh "$root/tests/lib/vcsim.sh" stop "$vc" 2>/dev/null
	sh "$root/tests/lib/vcsim.sh" stop "$vc.2" 2>/dev/null
	sh "$root/tests/lib/libvirtd.sh" stop "$lv" 2>/dev/null
	[ -n "${plain_pid:-}" ] && kill "$plain_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 31

# The driver: make builds tests/lib/discover.c into $HAVEN_TOOLS (with
# the sanitizers under make asan).
drv=${HAVEN_TOOLS:-$root/build/tools}/discover
[ -x "$drv" ]
ok $? "the discovery driver is built ($drv)"
[ -x "$drv" ] || { echo "Bail out! no driver at $drv: run make"; exit 1; }

# vSphere: 10 VMs, only haven/secret may log in.
sh "$root/tests/lib/vcsim.sh" build >"$tmp/go.log" 2>&1
ok $? "the simulator builds (cached in $build/vcsim)"
port=$(sh "$root/tests/lib/vcsim.sh" start "$vc" 10 2>"$tmp/vcsim.err")
ok $? "the simulator starts with 10 VMs"
[ -n "$port" ] || { sed 's/^/# /' "$tmp/vcsim.err"; echo "Bail out! no simulator"; exit 1; }

thumb=$("$drv" thumbprint 127.0.0.1 "$port" | tr -d '"')
want=$(openssl x509 -in "$vc/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
is "$thumb" "$want" "the thumbprint is the SHA-256 of the server certificate"

export HAVEN_PASSWORD=secret
"$drv" vsphere 127.0.0.1 "$port" haven "$thumb" >"$tmp/inv1.json" 2>"$tmp/err"
ok $? "discovery with the accepted thumbprint succeeds"
is "$(jq '.vms | length' "$tmp/inv1.json")" 10 "10 VMs discovered"
vm0=$(jq -c '.vms[] | select(.name == "DC0_C0_RP0_VM0") | {power_state,
    addresses, cpus, memory_mb, folder, datastore,
    disk: .disks[0] | {capacity, controller, file},
    nic: .nics[0] | {type, network}}' "$tmp/inv1.json")
is "$vm0" '{"power_state":"on","addresses":["10.1.0.1"],"cpus":1,"memory_mb":32,"folder":"/DC0/vm","datastore":"LocalDS_0","disk":{"capacity":1048576,"controller":"pvscsi","file":"[LocalDS_0] DC0_C0_RP0_VM0/disk1.vmdk"},"nic":{"type":"e1000","network":"DC0_DVPG0"}}' \
    "VM0's facts: power, address, size, folder, disk, NIC"
like "$(jq -r '.vms[0].host' "$tmp/inv1.json")" '^DC0_C0_H[0-2]$' "a VM's host is named"
is "$(jq -r '.vms[] | select(.name == "DC0_C0_RP0_VM3") | .power_state' "$tmp/inv1.json")" \
    off "a powered-off VM says so"
is "$(jq '[.vms[].instance_uuid] | unique | length' "$tmp/inv1.json")" 10 \
    "every VM has its own instance UUID"
is "$(jq '[.vms[] | select(.bios_uuid == null or .instance_uuid == .bios_uuid)] | length' "$tmp/inv1.json")" 0 \
    "BIOS UUIDs are reported apart from instance UUIDs"
is "$(jq -r .about.api_type "$tmp/inv1.json")" VirtualCenter "the server is a vCenter"

# Pages of 3: RetrievePropertiesEx then three ContinueRetrievePropertiesEx.
"$drv" vsphere 127.0.0.1 "$port" haven "$thumb" 3 >"$tmp/paged.json" 2>/dev/null
is "$(jq -S .vms "$tmp/paged.json" | md5sum)" "$(jq -S .vms "$tmp/inv1.json" | md5sum)" \
    "paged by 3 the inventory is the same"

out=$(HAVEN_PASSWORD=wrong "$drv" vsphere 127.0.0.1 "$port" haven "$thumb" 2>&1)
ok $((! $?)) "a wrong password fails"
like "$out" "refused the login of 'haven': wrong username or password" \
    "... and says so"

closed=$(free_port)
out=$("$drv" vsphere 127.0.0.1 "$closed" haven "$thumb" 2>&1)
ok $((! $?)) "an unreachable host fails"
like "$out" "cannot connect to 127.0.0.1:$closed: connection refused" "... and says so"

# Something that is not TLS at all.
plain=$(free_port)
perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr =>
    "127.0.0.1:'"$plain"'", Listen => 5, ReuseAddr => 1) or die;
    while ($c = $s->accept) { print $c "HTTP/1.0 200 OK\r\n\r\nhello\n"; close $c }' &
plain_pid=$!
wait_for 5 bash -c "echo > /dev/tcp/127.0.0.1/$plain"
out=$("$drv" vsphere 127.0.0.1 "$plain" haven "$thumb" 2>&1)
like "$out" "TLS handshake with 127.0.0.1:$plain failed" "a port without TLS is a TLS failure"

# The same address with a new certificate.
sh "$root/tests/lib/vcsim.sh" stop "$vc"
port2=$(sh "$root/tests/lib/vcsim.sh" start "$vc.2" 10 "$port" 2>"$tmp/vcsim.err")
is "$port2" "$port" "the simulator restarts on the same port with a new certificate"
thumb2=$(openssl x509 -in "$vc.2/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
out=$("$drv" vsphere 127.0.0.1 "$port" haven "$thumb" 2>&1)
ok $((! $?)) "a changed thumbprint stops discovery"
like "$out" "the certificate of 127.0.0.1:$port changed: was $thumb, now $thumb2; .*accept the new thumbprint" \
    "... and names both thumbprints"
out=$("$drv" vsphere 127.0.0.1 "$port" haven "" 2>&1)
like "$out" "not accepted yet: its SHA-256 thumbprint is $thumb2" \
    "without an accepted thumbprint nothing is sent but the handshake"

# A VM removed between two discoveries.
"$drv" vsphere 127.0.0.1 "$port" haven "$thumb2" >"$tmp/before.json" 2>/dev/null
sh "$root/tests/lib/vcsim.sh" destroy "$vc.2" DC0_C0_RP0_VM5
"$drv" vsphere 127.0.0.1 "$port" haven "$thumb2" >"$tmp/after.json" 2>/dev/null
is "$(jq '.vms | length' "$tmp/after.json")" 9 "after Destroy_Task 9 VMs are left"
is "$("$drv" gone "$tmp/before.json" "$tmp/after.json")" '["DC0_C0_RP0_VM5"]' \
    "the removed VM is detected, by instance UUID"
sh "$root/tests/lib/vcsim.sh" stop "$vc.2"

# libvirt's test driver, in-process.
out=$("$drv" libvirt test:///default 2>/dev/null)
is "$(jq -c '[.vms[] | {name, power_state, cpus, memory_mb}]' <<<"$out")" \
    '[{"name":"test","power_state":"on","cpus":2,"memory_mb":2048}]' "test:///default lists its domain"
out=$("$drv" libvirt foo:///system 2>&1)
like "$out" "the driver 'foo' is not one discovery supports" "an unknown URI scheme is refused"
out=$("$drv" libvirt "qemu:///system?socket=$tmp/nowhere/libvirt-sock" 2>&1)
like "$out" "cannot connect to libvirt at qemu:///system.*No such file or directory.*running" \
    "a libvirtd that is not there is a clear error"

# A real libvirtd with two qemu (TCG) domains, defined, not started.
uri=$(LIBVIRTD_CAPS_CACHE=$build/libvirtd-caps sh "$root/tests/lib/libvirtd.sh" start "$lv" 2>"$tmp/lv.err")
ok $? "a private libvirtd starts"
[ -n "$uri" ] || { sed 's/^/# /' "$tmp/lv.err"; echo "Bail out! no libvirtd"; exit 1; }
for i in 1 2; do
	truncate -s ${i}G "$tmp/d$i.raw"
	cat > "$tmp/d$i.xml" <<EOF
<domain type='qemu'>
  <name>haven-t$i</name>
  <uuid>8f0e4f4e-1d7c-4a36-9a43-0c6d5f0e000$i</uuid>
  <memory unit='MiB'>$((256 * i))</memory>
  <vcpu>$i</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$tmp/d$i.raw'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'>
      <mac address='52:54:00:00:00:0$i'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
EOF
	"$drv" define "$uri" "$tmp/d$i.xml" >/dev/null 2>"$tmp/define.err" ||
	    sed 's/^/# /' "$tmp/define.err"
done
out=$("$drv" libvirt "$uri" 2>"$tmp/err")
ok $? "discovery over $uri succeeds"
is "$(jq -c '[.vms[] | {name, power_state, cpus, memory_mb, disk: .disks[0].capacity, mac: .nics[0].mac}]' <<<"$out")" \
    '[{"name":"haven-t1","power_state":"off","cpus":1,"memory_mb":256,"disk":1073741824,"mac":"52:54:00:00:00:01"},{"name":"haven-t2","power_state":"off","cpus":2,"memory_mb":512,"disk":2147483648,"mac":"52:54:00:00:00:02"}]' \
    "both domains with their vCPUs, memory, disk sizes and NICs"
is "$(jq -r .hypervisor.type <<<"$out")" QEMU "the hypervisor is QEMU"

[ "$_tap_failed" -eq 0 ]
