#!/bin/bash
# make ova (ovf/build.sh): the OVA's structure, its descriptor, its disks,
# and a deployment into the vSphere simulator (tests/lib/vcsim.sh) by
# tests/lib/ovfimport, which does what vCenter's Deploy OVF Template does:
# manifest check, CreateImportSpec, ImportVApp, uploads through the NFC
# lease.  Then the ways it must fail.  docs/ovf.md.
#
#	HAVEN_OVA=build/ova/haven-0.1.0.ova HAVEN_VERSION=0.1.0 \
#	    [HAVEN_IMAGE=build/image/haven-0.1.0.raw] prove -v tests/image/ova.t
#
# With HAVEN_IMAGE the OS disk inside the OVA is compared with it, byte
# for byte.  The failure cases use small OVAs that ovf/build.sh makes
# here from a 64 MiB stand-in disk, so they take seconds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib/tap.sh"
VERSION=${HAVEN_VERSION:-0.1.0}
OVA=${HAVEN_OVA:-$root/build/ova/haven-$VERSION.ova}
IMAGE=${HAVEN_IMAGE:-}
BIN=${HAVEN_BIN:-$root/build/bin}
build=$(cd "$BIN/.." 2>/dev/null && pwd || echo "$root/build")
export BUILD=$build

tmp=$(mktemp -d /tmp/haven-ova.XXXXXX)
vc=$tmp/vcsim
cleanup() {
	sh "$root/tests/lib/vcsim.sh" stop "$vc" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# run CMD...: output (stdout and stderr) in $out, exit code in $rc.
run() { out=$("$@" 2>&1); rc=$?; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $*"; }
# fails DESCRIPTION REGEX: the last run failed, saying that.
fails() {
	if [ "$rc" != 0 ] && printf '%s' "$out" | grep -Eq -- "$2"; then
		ok 0 "$1"
	else
		ok 1 "$1"; diag "exit $rc: $(printf '%s' "$out" | head -c 2000)"
		diag "want a failure saying /$2/"
	fi
}
# XPath on the descriptor, namespace-blind.
xp() { xmllint --xpath "$1" "$x/$ovf" 2>/dev/null; }
item() {	# RESOURCE-TYPE ELEMENT: that element of the items of that type
	xp "//*[local-name()='Item'][*[local-name()='ResourceType']='$1']/*[local-name()='$2']/text()"
}
disk_attr() {	# DISK-ID ATTRIBUTE
	xp "string(//*[local-name()='Disk'][@*[local-name()='diskId']='$1']/@*[local-name()='$2'])"
}
vsize() { qemu-img info --output=json "$1" | jq '."virtual-size"'; }

plan 62

name=haven-$VERSION
ovf=$name.ovf mf=$name.mf
d1=$name-disk1.vmdk d2=$name-disk2.vmdk d3=$name-disk3.vmdk
gib600=644245094400

[ -f "$OVA" ]
ok $? "the OVA exists ($OVA)"
[ -f "$OVA" ] || { echo "Bail out! no OVA at $OVA: run make ova"; exit 1; }
diag "OVA $(stat -c %s "$OVA") bytes"

# --- the archive ---------------------------------------------------------
is "$(tar tf "$OVA" | tr '\n' ' ')" "$ovf $mf $d1 $d2 $d3 " \
    "the OVA holds the descriptor first, then the manifest, then the three disks"
# POSIX ustar: "ustar\0" then version "00" in every header (GNU tar's
# own format says "ustar  \0").
magic=$(dd if="$OVA" bs=1 skip=257 count=8 2>/dev/null | od -An -c | tr -s ' ')
is "$magic" " u s t a r \0 0 0" "the archive is ustar, as OVF 1.x requires"
is "$(tar tvf "$OVA" | awk '{print $2}' | sort -u)" "0/0" \
    "members are owned by 0/0, not by whoever built them"

x=$tmp/x
mkdir "$x" && tar xf "$OVA" -C "$x"
ok $? "the OVA unpacks"
run sh -c "cd '$x' && sha256sum -c '$mf'"
ok $rc "every SHA256 in the manifest matches its file (sha256sum -c)"
[ $rc = 0 ] || diag "$out"
is "$(sed 's/^SHA256(\(.*\))= [0-9a-f]\{64\}$/\1/' "$x/$mf" | tr '\n' ' ')" "$ovf $d1 $d2 $d3 " \
    "the manifest has one SHA256(file)= line for every other file"

# --- the descriptor -------------------------------------------------------
run xmllint --noout "$x/$ovf"
ok $rc "the descriptor is well-formed XML"
schema=
for d in ${OVF_SCHEMA_DIR:-} /usr/share/xml/dmtf /usr/share/xml/ovf /usr/share/ovf; do
	[ -n "$d" ] || continue
	for f in "$d"/dsp8023*.xsd "$d"/ovf-envelope.xsd; do
		[ -f "$f" ] && { schema=$f; break 2; }
	done
done
if [ -n "$schema" ]; then
	run xmllint --noout --schema "$schema" "$x/$ovf"
	ok $rc "the descriptor validates against the DMTF OVF envelope schema ($schema)"
	[ $rc = 0 ] || diag "$out"
else
	skip "no copy of the DMTF OVF envelope schema (dsp8023) here; set OVF_SCHEMA_DIR to one"
fi

is "$(xp "string(/*[local-name()='Envelope']/namespace::*[name()='ovf'])")" \
    "http://schemas.dmtf.org/ovf/envelope/1" "the envelope is OVF 1.x"
is "$(item 3 VirtualQuantity)" 8 "8 virtual CPUs"
is "$(item 4 VirtualQuantity) $(item 4 AllocationUnits)" "12288 byte * 2^20" \
    "12,288 MB of memory, in MB units"
is "$(xp "count(//*[local-name()='Disk'])")" 3 "three disks in the DiskSection"
is "$(xp "count(//*[local-name()='Item'][*[local-name()='ResourceType']='17'])")" 3 \
    "three disk items in the hardware"
is "$(disk_attr vmdisk2 capacity) $(disk_attr vmdisk2 capacityAllocationUnits)" \
    "600 byte * 2^30" "disk 2 (cache) is 600 GB"
is "$(disk_attr vmdisk3 capacity) $(disk_attr vmdisk3 capacityAllocationUnits)" \
    "600 byte * 2^30" "disk 3 (retention) is 600 GB"
is "$(disk_attr vmdisk2 populatedSize) $(disk_attr vmdisk3 populatedSize)" "0 0" \
    "the data disks are empty (populatedSize 0): thin"
oscap=$(disk_attr vmdisk1 capacity)
if [ -n "$IMAGE" ] && [ -f "$IMAGE" ]; then
	is "$oscap" "$(stat -c %s "$IMAGE")" "disk 1's capacity is the OS image's size"
else
	is "$oscap" "$(vsize "$x/$d1")" "disk 1's capacity is its VMDK's virtual size"
fi
pop=$(disk_attr vmdisk1 populatedSize)
[ "${pop:-0}" -gt 0 ] && [ "$pop" -le "$oscap" ]
ok $? "disk 1's populatedSize ($pop) is positive and at most its capacity"

refs_ok=0
for id in vmdisk1 vmdisk2 vmdisk3; do
	ref=$(disk_attr $id fileRef)
	href=$(xp "string(//*[local-name()='File'][@*[local-name()='id']='$ref']/@*[local-name()='href'])")
	size=$(xp "string(//*[local-name()='File'][@*[local-name()='id']='$ref']/@*[local-name()='size'])")
	if [ -z "$ref" ] || [ ! -f "$x/$href" ] || [ "$size" != "$(stat -c %s "$x/$href")" ]; then
		refs_ok=1
		diag "$id: fileRef '$ref' href '$href' size '$size'"
	fi
	fmt=$(disk_attr $id format)
	[ "$fmt" = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ] ||
	    { refs_ok=1; diag "$id: format $fmt"; }
done
ok $refs_ok "every disk has a file reference to a streamOptimized file in the OVA, of the size References says"

is "$(item 10 ResourceSubType | tr '\n' ' ')" "VmxNet3 " "one NIC, VMXNET3"
is "$(item 10 Connection)" "$(xp "string(//*[local-name()='Network']/@*[local-name()='name'])")" \
    "the NIC is on the network the NetworkSection declares"
is "$(item 6 ResourceSubType)" VirtualSCSI "the disks hang off one PVSCSI controller"
is "$(xp "string(//*[local-name()='VirtualSystemType'])")" vmx-13 "hardware version vmx-13"
prod=$(xp "//*[local-name()='ProductSection']/*[local-name()='Product']/text()")
pver=$(xp "//*[local-name()='ProductSection']/*[local-name()='Version']/text()")
is "$prod $pver" "Haven $VERSION" "ProductSection: Haven, version $VERSION"
like "$(xp "//*[local-name()='ProductSection']/*[local-name()='FullVersion']/text()")" \
    "^$VERSION" "FullVersion starts with the version"
like "$(xp "//*[local-name()='ProductSection']/*[local-name()='Vendor']/text()")|$(xp "//*[local-name()='ProductSection']/*[local-name()='ProductUrl']/text()")" \
    '^.+\|https?://.+' "ProductSection has a vendor and a product URL"
like "$(xp "//*[local-name()='EulaSection']/*[local-name()='License']/text()")" 'ISC licence' \
    "EulaSection carries the licence"
like "$(xp "//*[local-name()='AnnotationSection']/*[local-name()='Annotation']/text()")" \
    "Haven $VERSION" "AnnotationSection says what the appliance is"
is "$(xp "string(//*[local-name()='OperatingSystemSection']/@*[local-name()='osType'])")" \
    debian11_64Guest "the guest OS type is Debian 11 64-bit (vSphere 7.0 U1 and later know it)"

# --- the disks --------------------------------------------------------------
vm_ok=0
for d in $d1 $d2 $d3; do
	t=$(qemu-img info --output=json "$x/$d" | jq -r '."format-specific".data."create-type"')
	[ "$t" = streamOptimized ] || { vm_ok=1; diag "$d: create type $t"; }
	qemu-img check -q "$x/$d" || { vm_ok=1; diag "$d: qemu-img check failed"; }
done
ok $vm_ok "all three VMDKs are streamOptimized and pass qemu-img check"
is "$(vsize "$x/$d2") $(vsize "$x/$d3")" "$gib600 $gib600" \
    "the cache and retention VMDKs read as 600 GiB disks"
is "$(qemu-img map --output=json "$x/$d2" | jq -c '[.[] | select(.data)] | length')" 0 \
    "the cache VMDK holds no data"
[ "$(stat -c %s "$x/$d2")" -lt 1048576 ] && [ "$(stat -c %s "$x/$d3")" -lt 1048576 ]
ok $? "the empty VMDKs are small ($(stat -c %s "$x/$d2") bytes each)"
if [ -n "$IMAGE" ] && [ -f "$IMAGE" ]; then
	run qemu-img compare -f vmdk -F raw "$x/$d1" "$IMAGE"
	ok $rc "the OS VMDK holds exactly the OS image"
	[ $rc = 0 ] || diag "$out"
else
	skip "HAVEN_IMAGE not set: the OS VMDK is not compared with its image"
fi

# --- deployment into the simulator ------------------------------------------
imp=$(sh "$root/tests/lib/ovfimport/build.sh" 2>"$tmp/go.log")
ok $? "the import tool builds (cached in $build/ovfimport)"
[ -x "$imp" ] || { sed 's/^/# /' "$tmp/go.log"; echo "Bail out! no import tool"; exit 1; }
port=$(sh "$root/tests/lib/vcsim.sh" start "$vc" 0 2>"$tmp/vcsim.err")
ok $? "the simulator starts"
[ -n "$port" ] || { sed 's/^/# /' "$tmp/vcsim.err"; echo "Bail out! no simulator"; exit 1; }
eval "$(sh "$root/tests/lib/vcsim.sh" env "$vc")"
export VCSIM_USER VCSIM_PASSWORD

"$imp" -port "$port" -name haven "$OVA" >"$tmp/vm.json" 2>"$tmp/imp.err"
ok $? "the OVA deploys: manifest checked, import spec accepted, disks uploaded, lease completed"
[ -s "$tmp/imp.err" ] && sed 's/^/# /' "$tmp/imp.err"
j() { jq -c "$1" "$tmp/vm.json" 2>/dev/null; }
is "$(j '[.numCPU, .memoryMB]')" "[8,12288]" "the VM has 8 CPUs and 12,288 MB"
is "$(j '[.disks[].capacityBytes]')" "[$oscap,$gib600,$gib600]" \
    "the VM has three disks: the OS disk and two of 600 GiB"
is "$(j '[.disks[].controller] + .controllers')" '["pvscsi","pvscsi","pvscsi","pvscsi"]' \
    "on one PVSCSI controller"
is "$(j '.nics')" '[{"type":"vmxnet3","network":"VM Network"}]' \
    "the VM has one VMXNET3 NIC on VM Network"
is "$(j '[.guestId, .hwVersion]')" '["debian11_64Guest","vmx-13"]' \
    "guest OS and hardware version as the descriptor says"
is "$(j '.warnings | length')" 0 "CreateImportSpec gave no warnings"
is "$(j '[.descriptor.product, .descriptor.version]')" "[\"Haven\",\"$VERSION\"]" \
    "the deployed package is Haven $VERSION"
want=$(for d in $d1 $d2 $d3; do printf '%s:%s ' "$d" "$(stat -c %s "$x/$d")"; done)
is "$(jq -r '.uploads[] | "\(.file):\(.bytes)"' "$tmp/vm.json" | tr '\n' ' ')" "$want" \
    "every disk went up through the NFC lease, whole"
is "$(grep -c "nfc POST .*/haven/disk-[0-2].vmdk: transferred" "$vc/vcsim.log")" 3 \
    "the simulator received the three uploads"

# --- failures ---------------------------------------------------------------
# Small OVAs from ovf/build.sh for the bad cases.
small=$tmp/small.raw
truncate -s 64M "$small" && printf 'label: dos\nstart=2048, type=83, bootable\n' |
    sfdisk -q "$small" && dd if=/dev/urandom of="$small" bs=1M count=2 seek=8 \
    conv=notrunc 2>/dev/null
run bash "$root/ovf/build.sh" "$small" "$tmp/s.ova" "$VERSION"
ok $rc "ovf/build.sh packs a 64 MiB stand-in disk"
[ $rc = 0 ] || diag "$out"
like "$out" "$d2 +[0-9]+ bytes  cache, 600 GiB, empty" "and prints the sizes"
s=$tmp/s
mkdir "$s" && tar xf "$tmp/s.ova" -C "$s"

# repack NAME [FILE...]: $tmp/NAME.ova from $tmp/NAME/, files in that
# order (default: the usual five), with a fresh manifest unless told.
repack() {
	local n=$1; shift
	[ $# -gt 0 ] || set -- $ovf $mf $d1 $d2 $d3
	if [ -z "${keep_mf:-}" ]; then
		(cd "$tmp/$n" && for f in "$@"; do
			[ "$f" = $mf ] || [ ! -f "$f" ] ||
			    printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
		done >$mf)
	fi
	tar --format=ustar -cf "$tmp/$n.ova" -C "$tmp/$n" "$@"
}
copy() { rm -rf "${tmp:?}/$1"; cp -a "$s" "$tmp/$1"; }

copy badsum
printf '\001' | dd of="$tmp/badsum/$d2" bs=1 seek=600 conv=notrunc 2>/dev/null
keep_mf=1 repack badsum
run sh -c "cd '$tmp/badsum' && sha256sum -c --quiet '$mf'"
like "$out" "$d2: FAILED" "sha256sum -c catches a disk the manifest does not match"
nfc_before=$(grep -c 'nfc POST' "$vc/vcsim.log")
run "$imp" -port "$port" -name badsum "$tmp/badsum.ova"
fails "the import tool refuses an OVA whose manifest does not match a disk, naming the file and both digests" \
    "SHA-256 of $d2 is [0-9a-f]{64} but the manifest says [0-9a-f]{64}: the file is corrupt or was altered"
is "$(grep -c 'nfc POST' "$vc/vcsim.log")" "$nfc_before" "and sends nothing to the server"

copy notfirst
repack notfirst $mf $ovf $d1 $d2 $d3
run "$imp" -check "$tmp/notfirst.ova"
fails "an OVA whose first file is not the descriptor is refused" \
    "the first file is \"$mf\", not the .ovf descriptor"

copy nofile
repack nofile $ovf $mf $d1 $d2
run "$imp" -check "$tmp/nofile.ova"
fails "a disk file missing from the OVA is named" \
    "references file \"$d3\" \(id file3\), which is not in the OVA"

copy noref
sed -i 's/ ovf:fileRef="file3"//' "$tmp/noref/$ovf"
repack noref
run "$imp" -check "$tmp/noref.ova"
fails "a disk without a file reference is refused" "disk vmdisk3 has no ovf:fileRef"

copy unknown
sed -i 's|<rasd:ResourceType>10</rasd:ResourceType>|<rasd:ResourceType>99</rasd:ResourceType>|' "$tmp/unknown/$ovf"
repack unknown
run "$imp" -port "$port" -name unknown "$tmp/unknown.ova"
fails "a hardware type the server does not know fails with CreateImportSpec's reason" "CreateImportSpec error: OvfUnsupportedType: unsupported resource type: 99"

copy hw
sed -i 's|>vmx-13<|>vmx-thirteen<|' "$tmp/hw/$ovf"
repack hw
run "$imp" -port "$port" -name hw "$tmp/hw.ova"
fails "a hardware family the server does not know fails with ImportVApp's reason" \
    "ImportVApp refused the import spec: NotSupported"

# ovf/build.sh's own refusals; none leaves an OVA or a staging directory.
mkdir "$tmp/out"
run bash "$root/ovf/build.sh" "$tmp/nope.raw" "$tmp/out/a.ova" "$VERSION"
fails "build.sh: a missing image is named, with what to run" "ovf: no OS disk image at $tmp/nope.raw: run make image first"
qemu-img convert -O qcow2 "$small" "$tmp/small.qcow2"
run bash "$root/ovf/build.sh" "$tmp/small.qcow2" "$tmp/out/a.ova" "$VERSION"
fails "build.sh: a qcow2 image is refused" "is a qcow2 image, not a raw disk"
truncate -s 8M "$tmp/blank.raw"
run bash "$root/ovf/build.sh" "$tmp/blank.raw" "$tmp/out/a.ova" "$VERSION"
fails "build.sh: a disk without a boot sector is refused" "has no boot sector"
run bash "$root/ovf/build.sh" "$small" "$tmp/out/a.ova" "v1"
fails "build.sh: a malformed version is refused" "version 'v1' is not like 1.2.3"
is "$(ls -A "$tmp/out")" "" "the refusals leave nothing in the output directory"
