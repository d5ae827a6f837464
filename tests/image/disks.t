#!/bin/bash
# appliance/haven-disks on plain files standing in for disks: which one
# becomes the cache and which the retention disk, that only blank disks
# are formatted (and why others are not), fstab by UUID, idempotence,
# taking back labelled disks, and bad input.  The qemu boot (boot.t) runs
# the same script on real virtio disks.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh
plan 24

hd=$PWD/appliance/haven-disks
t=$(mktemp -d /tmp/haven-disks-t.XXXXXX)
trap 'rm -rf "$t"' EXIT
export HAVEN_DISKS_BASE=$t/mnt

mk() { truncate -s "$2" "$t/$1"; echo "$t/$1"; }
sum() { md5sum "$1" | cut -d' ' -f1; }
run() { out=$("$hd" --fstab "$t/fstab" --no-mount "$@" 2>&1); rc=$?; }

cache=$(mk cache 32M)			# smallest blank disk
noise=$(mk noise 36M)			# data at the start, no signature
head -c 4096 /dev/urandom | dd of="$noise" conv=notrunc status=none
fs=$(mk fs 40M)				# an existing filesystem
mkfs.ext4 -q -F -L precious "$fs"
pt=$(mk pt 48M)				# a partition table
echo 'label: dos' | sfdisk -q "$pt" >/dev/null
tail=$(mk tail 56M)			# data in its last MiB only
printf 'GPT backup' | dd of="$tail" bs=1 seek=$((56 * 1048576 - 4096)) \
    conv=notrunc status=none
ret=$(mk ret 64M)			# the retention disk
printf '# fstab\nUUID=1234 / ext4 defaults 0 1\n' > "$t/fstab"
before_fs=$(sum "$fs") before_pt=$(sum "$pt") before_noise=$(sum "$noise")
before_tail=$(sum "$tail")

run "$ret" "$tail" "$pt" "$fs" "$noise" "$cache"
diag "$out"
is "$rc" 0 "haven-disks sets up two of six disks and exits 0"
like "$out" "cache: formatted $cache \(32 MiB\) as ext4" \
    "the smallest blank disk is the cache disk"
like "$out" "retention: formatted $ret \(64 MiB\) as ext4" \
    "the next blank disk is the retention disk"
like "$out" "$noise: skipped, not formatted: its first MiB is not zeros" \
    "a disk with unknown data is skipped, saying why"
like "$out" "$fs: skipped, not formatted: it holds ext4 \(filesystem" \
    "a disk with a filesystem is skipped, saying why"
like "$out" "$pt: skipped, not formatted: it has a partition table \(dos\)" \
    "a disk with a partition table is skipped, saying why"
like "$out" "$tail: skipped, not formatted: its last MiB is not zeros" \
    "a disk with data at its end is skipped, saying why"
like "$out" "wipefs -a" "the skip message says how to make a disk usable"
ok $([ "$(sum "$fs")$(sum "$pt")$(sum "$noise")$(sum "$tail")" = \
    "$before_fs$before_pt$before_noise$before_tail" ]; echo $?) \
    "the four non-blank disks are untouched"
is "$(blkid -p -o value -s LABEL "$cache") $(blkid -p -o value -s TYPE "$cache")" \
    "haven-cache ext4" "the cache disk is ext4 labelled haven-cache"
is "$(blkid -p -o value -s LABEL "$ret")" haven-retention \
    "the retention disk is labelled haven-retention"
cu=$(blkid -p -o value -s UUID "$cache") ru=$(blkid -p -o value -s UUID "$ret")
like "$(cat "$t/fstab")" "UUID=$cu	$t/mnt/cache	ext4	defaults,nofail" \
    "fstab mounts the cache disk by UUID"
like "$(cat "$t/fstab")" "UUID=$ru	$t/mnt/retention	ext4	defaults,nofail" \
    "fstab mounts the retention disk by UUID"
like "$(head -n2 "$t/fstab")" "UUID=1234 / ext4" "fstab keeps its other lines"

# Again: nothing formatted twice, fstab unchanged.
fst=$(sum "$t/fstab") c1=$(sum "$cache") r1=$(sum "$ret")
run "$ret" "$tail" "$pt" "$fs" "$noise" "$cache"
is "$rc" 0 "a second run exits 0"
like "$out" "cache: UUID=$cu in $t/fstab" "a second run finds the cache in fstab"
ok $([ "$(sum "$t/fstab")$(sum "$cache")$(sum "$ret")" = "$fst$c1$r1" ]; \
    echo $?) "a second run changes neither fstab nor the disks"

# A new OS disk with the old data disks: they are taken back, not
# formatted, whatever their order.
printf 'UUID=1234 / ext4 defaults 0 1\n' > "$t/fstab"
run "$cache" "$ret"
like "$out" "retention: took back $ret \(label haven-retention" \
    "a disk labelled haven-retention is taken back"
ok $([ "$(sum "$cache")$(sum "$ret")" = "$c1$r1" ] &&
    grep -q "UUID=$cu	$t/mnt/cache" "$t/fstab"; echo $?) \
    "taken-back disks are not formatted and go back into fstab"

# One blank disk: the cache gets it; retention says what to do.
printf 'UUID=1234 / ext4 defaults 0 1\n' > "$t/fstab"
one=$(mk one 20M)
run "$one" "$fs"
like "$out" "retention: no blank disk: $t/mnt/retention stays on the OS disk; add a disk" \
    "with one blank disk, retention says it stays on the OS disk and what to do"
is "$rc" 0 "a missing disk is not an error (the appliance still boots)"

# Bad input.
run "$t/nonexistent"
like "$rc $out" "^1 .*$t/nonexistent: not a block device or file" \
    "a missing device is refused by name"
out=$("$hd" --fstab "$t/nofstab" --no-mount "$one" 2>&1); rc=$?
like "$rc $out" "^1 .*$t/nofstab: no such file" "a missing fstab is refused"
out=$("$hd" --bogus 2>&1); rc=$?
like "$rc $out" "^1 .*unknown option --bogus" "an unknown option is refused"
