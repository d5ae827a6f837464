#!/bin/bash
# make ova: the appliance's raw OS disk (make image) packed as an OVF 1.x
# package in one OVA.  docs/ovf.md says what is in it and why.
#
#	bash ovf/build.sh IMAGE_RAW OUT_OVA VERSION
#
# The OVA is a ustar archive holding, in this order (OVF 1.x wants the
# descriptor first, then the manifest):
#	haven-VERSION.ovf		descriptor, from ovf/haven.ovf.in
#	haven-VERSION.mf		SHA256(file)= line for each other file
#	haven-VERSION-disk1.vmdk	OS disk, streamOptimized
#	haven-VERSION-disk2.vmdk	cache, 600 GiB, empty streamOptimized
#	haven-VERSION-disk3.vmdk	retention, 600 GiB, empty streamOptimized
# Everything is staged next to OUT_OVA and renamed into place at the end:
# a failed run leaves no half-written OVA behind.
#
# HAVEN_VENDOR, HAVEN_PRODUCT_URL and HAVEN_VENDOR_URL override the
# ProductSection's vendor and links.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

DATA_GB=600			# cache and retention disks, GiB each
OS_TYPE=debian11_64Guest	# vSphere 7.0 U1 and later; docs/ovf.md says why not debian12
HW_VERSION=vmx-13		# ESXi 6.5 and later
SCSI_TYPE=VirtualSCSI		# PVSCSI; Debian's kernel has vmw_pvscsi
VENDOR=${HAVEN_VENDOR:-The Haven project}
PRODUCT_URL=${HAVEN_PRODUCT_URL:-https://haven.example.org/}
VENDOR_URL=${HAVEN_VENDOR_URL:-https://haven.example.org/}

die() {
	echo "ovf: $*" >&2
	exit 1
}

[ $# -eq 3 ] || die "usage: bash ovf/build.sh IMAGE_RAW OUT_OVA VERSION"
raw=$1 ova=$2 version=$3

# Inputs first, each with what to do about it.
for t in qemu-img tar sha256sum awk; do
	command -v $t >/dev/null 2>&1 ||
	    die "no $t command: install it (qemu-utils for qemu-img; tests/lib/packages.txt)"
done
[ -e "$raw" ] ||
    die "no OS disk image at $raw: run make image first (it writes build/image/haven-VERSION.raw)"
if [ ! -f "$raw" ] || [ ! -r "$raw" ]; then
	die "$raw is not a readable regular file"
fi
rawsize=$(stat -c %s "$raw")
[ "$rawsize" -ge 1048576 ] ||
    die "$raw is $rawsize bytes: too small to be the appliance's disk; rebuild it with make image"
[ $((rawsize % 512)) -eq 0 ] ||
    die "$raw is $rawsize bytes, not a whole number of 512-byte sectors: a truncated image? rebuild it with make image"
fmt=$(qemu-img info --output=json "$raw" | awk -F'"' '/"format"/ {print $4; exit}')
[ "$fmt" = raw ] ||
    die "$raw is a $fmt image, not a raw disk: pass make image's .raw (or qemu-img convert -O raw it first)"
[ "$(od -An -tx1 -j510 -N2 "$raw" | tr -d ' ')" = 55aa ] ||
    die "$raw has no boot sector (no 55aa signature at byte 510): not a bootable disk; rebuild it with make image"
printf '%s' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+([.~+-][0-9A-Za-z.]+)?$' ||
    die "version '$version' is not like 1.2.3: pass the Makefile's VERSION"
case $ova in
*.ova) ;;
*) die "output $ova does not end in .ova: name it like build/ova/haven-$version.ova" ;;
esac

name=haven-$version
outdir=$(dirname "$ova")
mkdir -p "$outdir" || die "cannot create $outdir"
stage=$(mktemp -d "$outdir/.$name.XXXXXX") || die "cannot create a staging directory in $outdir"
trap 'rm -rf "$stage"' EXIT
trap 'exit 1' INT TERM HUP

# Little-endian integer of $2 bytes.
le() {
	local v=$1 n=$2 i out=''
	for ((i = 0; i < n; i++)); do
		out+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255)))
	done
	printf %b "$out"
}

zeros() {
	head -c "$1" /dev/zero
}

# A streamOptimized sparse extent header (VMDK 5.0 technote): grains of
# 64 KiB (128 sectors), 512 entries per grain table, deflate, markers.
vmdk_header() {	# CAPACITY-SECTORS DESCRIPTOR-SECTORS GD-OFFSET
	printf 'KDMV'
	le 3 4				# version
	le $((0x30001)) 4		# newline check, compressed, markers
	le "$1" 8			# capacity
	le 128 8			# grainSize
	le 1 8				# descriptorOffset
	le "$2" 8			# descriptorSize
	le 512 4			# numGTEsPerGT
	le 0 8				# rgdOffset
	le "$3" 8			# gdOffset
	le 128 8			# overHead
	printf '\000\n \r\n'		# clean; the newline check bytes
	le 1 2				# compressAlgorithm: deflate
	zeros 433
}

vmdk_marker() {	# VALUE TYPE
	le "$1" 8
	le 0 4
	le "$2" 4
	zeros 496
}

# An empty disk as a real stream: header, descriptor, a grain directory
# whose entries are all 0 (no grain table, so no grain: all zeros),
# footer, end of stream.  About 150 KB for 600 GiB, where qemu-img's
# streamOptimized keeps room for every grain table (75 MB of zeros each,
# which ustar cannot store sparse).
vmdk_empty() {	# FILE BYTES
	local file=$1 sectors=$(($2 / 512)) base cid cyl gts gdsec
	base=$(basename "$file")
	cid=$(printf '%s' "$base" | sha256sum | cut -c1-8)
	cyl=$(((sectors + 255 * 63 - 1) / (255 * 63)))
	[ $cyl -le 65535 ] || cyl=65535
	gts=$(((sectors / 128 + 511) / 512))
	gdsec=$(((gts * 4 + 511) / 512))
	{
		vmdk_header $sectors 1 -1	# -1: the GD is at the end
		printf '%s\n' '# Disk DescriptorFile' version=1 'encoding="UTF-8"' \
		    "CID=$cid" parentCID=ffffffff 'createType="streamOptimized"' '' \
		    '# Extent description' "RW $sectors SPARSE \"$base\"" '' \
		    '# The Disk Data Base' '#DDB' '' \
		    "ddb.longContentID = \"$(printf '%s' "$base" | sha256sum | cut -c9-40)\"" \
		    'ddb.toolsVersion = "2147483647"' \
		    'ddb.adapterType = "lsilogic"' \
		    "ddb.geometry.cylinders = \"$cyl\"" \
		    'ddb.geometry.heads = "255"' 'ddb.geometry.sectors = "63"' \
		    'ddb.virtualHWVersion = "4"' >"$file.desc"
		[ "$(stat -c %s "$file.desc")" -le 512 ] || die "VMDK descriptor over one sector"
		cat "$file.desc"
		zeros $((512 - $(stat -c %s "$file.desc")))
		zeros $((126 * 512))		# up to overHead (sector 128)
		vmdk_marker $gdsec 2		# grain directory
		zeros $((gdsec * 512))
		vmdk_marker 1 3			# footer
		vmdk_header $sectors 1 129
		zeros 512			# end of stream
	} >"$file"
	rm -f "$file.desc"
}

ovf=$name.ovf mf=$name.mf
d1=$name-disk1.vmdk d2=$name-disk2.vmdk d3=$name-disk3.vmdk

echo "ovf: converting $raw ($rawsize bytes) to a streamOptimized VMDK" >&2
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic \
    "$raw" "$stage/$d1" || die "qemu-img convert of $raw failed (disk full in $outdir?)"
datasize=$((DATA_GB * 1024 * 1024 * 1024))
vmdk_empty "$stage/$d2" $datasize
vmdk_empty "$stage/$d3" $datasize
for d in $d2 $d3; do
	got=$(qemu-img info --output=json "$stage/$d" | awk -F'[:,]' '/"virtual-size"/ {gsub(/ /, "", $2); print $2; exit}')
	[ "$got" = $datasize ] || die "internal: $d reads as $got bytes, not $datasize"
done

# populatedSize: the bytes the OS disk's grains hold (what a thin copy uses).
populated=$(qemu-img map --output=json "$stage/$d1" |
    awk '/"data": true/ { if (match($0, /"length": [0-9]+/)) s += substr($0, RSTART + 10, RLENGTH - 10) } END { printf "%d", s }')

full=$version
if git -C "$root" rev-parse --short HEAD >/dev/null 2>&1; then
	full="$version (git $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ", modified"))"
fi

xml_escape() {
	sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$@"
}

xml_escape "$here/eula.txt" >"$stage/eula" || die "cannot read $here/eula.txt"
awk -v os_file="$d1" -v cache_file="$d2" -v retention_file="$d3" \
    -v os_size="$(stat -c %s "$stage/$d1")" \
    -v cache_size="$(stat -c %s "$stage/$d2")" \
    -v retention_size="$(stat -c %s "$stage/$d3")" \
    -v os_capacity="$rawsize" -v os_populated="$populated" \
    -v data_gb="$DATA_GB" -v version="$version" \
    -v full_version="$(printf '%s' "$full" | xml_escape)" \
    -v vendor="$(printf '%s' "$VENDOR" | xml_escape)" \
    -v product_url="$(printf '%s' "$PRODUCT_URL" | xml_escape)" \
    -v vendor_url="$(printf '%s' "$VENDOR_URL" | xml_escape)" \
    -v os_type="$OS_TYPE" -v hw_version="$HW_VERSION" -v scsi_type="$SCSI_TYPE" \
    -v eula="$stage/eula" '
BEGIN {
	v["OS_FILE"] = os_file; v["OS_FILE_SIZE"] = os_size
	v["CACHE_FILE"] = cache_file; v["CACHE_FILE_SIZE"] = cache_size
	v["RETENTION_FILE"] = retention_file; v["RETENTION_FILE_SIZE"] = retention_size
	v["OS_CAPACITY"] = os_capacity; v["OS_POPULATED"] = os_populated
	v["DATA_CAPACITY_GB"] = data_gb; v["VERSION"] = version
	v["FULL_VERSION"] = full_version; v["VENDOR"] = vendor
	v["PRODUCT_URL"] = product_url; v["VENDOR_URL"] = vendor_url
	v["OS_TYPE"] = os_type; v["HW_VERSION"] = hw_version
	v["SCSI_TYPE"] = scsi_type
	while ((getline l < eula) > 0)
		v["EULA"] = v["EULA"] (n++ ? "\n" : "") l
}
# The comment at the top names the placeholders; leave it alone.
/@NAMES@/ { print; next }
{
	out = ""
	while (match($0, /@[A-Z_]+@/)) {
		k = substr($0, RSTART + 1, RLENGTH - 2)
		if (!(k in v)) {
			print "ovf: unknown placeholder @" k "@ in the template" > "/dev/stderr"
			exit 1
		}
		out = out substr($0, 1, RSTART - 1) v[k]
		$0 = substr($0, RSTART + RLENGTH)
	}
	print out $0
}' "$here/haven.ovf.in" >"$stage/$ovf" || die "cannot fill in $here/haven.ovf.in"
rm -f "$stage/eula"
if command -v xmllint >/dev/null 2>&1; then
	xmllint --noout "$stage/$ovf" || die "the descriptor is not well-formed XML (see above): fix ovf/haven.ovf.in"
fi

(cd "$stage" && for f in "$ovf" "$d1" "$d2" "$d3"; do
	printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
done) >"$stage/$mf"

# ustar stores at most 8 GiB - 1 per member.
for f in "$d1" "$d2" "$d3"; do
	[ "$(stat -c %s "$stage/$f")" -lt 8589934592 ] ||
	    die "$f is 8 GiB or more, more than a ustar OVA member can hold: shrink the OS image"
done
tar --format=ustar --owner=0 --group=0 --numeric-owner --mode=0644 \
    --mtime="@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$raw")}" \
    -C "$stage" -cf "$stage/$name.ova" "$ovf" "$mf" "$d1" "$d2" "$d3" ||
    die "tar failed writing $stage/$name.ova (disk full in $outdir?)"
mv -f "$stage/$name.ova" "$ova" || die "cannot move the OVA to $ova"

size() {
	stat -c %s "$1"
}
printf 'ovf: %-28s %12s bytes  %s\n' \
    "$d1" "$(size "$stage/$d1")" "OS disk, capacity $rawsize, populated $populated" \
    "$d2" "$(size "$stage/$d2")" "cache, ${DATA_GB} GiB, empty" \
    "$d3" "$(size "$stage/$d3")" "retention, ${DATA_GB} GiB, empty" \
    "$ovf" "$(size "$stage/$ovf")" "descriptor" \
    "$(basename "$ova")" "$(size "$ova")" "$ova"
