#!/bin/bash
# image/build.sh BIN_DIR AGENT_PKG_TGZ OUT_RAW VERSION
#
# Builds the bootable appliance disk: a partitioned raw image (msdos
# label, one ext4 root partition at 1 MiB, GRUB for BIOS in the MBR and
# the gap after it).  No loop device and no mount is used: the root
# filesystem is a directory (image/base.sh, cached), the partition table
# is written by sfdisk on the file, the filesystem by `mkfs.ext4 -d` at
# the partition's offset, and GRUB's boot.img and core.img by dd with the
# fields grub-bios-setup would set.  docs/appliance.md explains it all.
#
# The result is written under a temporary name and renamed at the end:
# OUT_RAW is either the previous image or a complete new one.
set -euo pipefail
# The whole script is one block, read before it runs: editing this file
# during a build does not change the build under way.
{
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
prog=image/build.sh

die() { echo "$prog: $*" >&2; exit 1; }

[ $# -eq 4 ] || die "usage: $prog BIN_DIR AGENT_PKG_TGZ OUT_RAW VERSION
(\`make image\` runs it with build/bin, the agent package and
build/image/haven-VERSION.raw)"
bin_dir=$1 agent_pkg=$2 out=$3 version=$4

# Sizes: an 8 GiB sparse disk; the root partition starts at 1 MiB and
# the space before it holds the MBR and GRUB's core.img.
DISK_MIB=${HAVEN_IMAGE_MIB:-8192}
PART_START=2048			# sectors of 512 bytes
GRUB_DIR=${HAVEN_GRUB_DIR:-/usr/lib/grub/i386-pc}
# Kernel messages and systemd's status go to both the VGA console and the
# first serial port; the last console= is /dev/console, where units with
# StandardOutput=console write.
KCMD="ro console=tty0 console=ttyS0,115200n8"

# --- timing ------------------------------------------------------------
t_all=$(date +%s)
t_step=$t_all
step_name=
step() {
	local now; now=$(date +%s)
	[ -n "$step_name" ] &&
	    printf '  %-44s %4ss\n' "$step_name" "$((now - t_step))"
	step_name=$1; t_step=$now
	[ -n "$1" ] && echo "image: $1 ..."
	return 0
}

# --- inputs -------------------------------------------------------------
# Check everything before doing anything, so a bad input costs nothing
# and leaves nothing behind.
[ -d "$bin_dir" ] || die "$bin_dir: no such directory: build the programs \
first (make all), or give the directory that holds them"
# What the appliance runs and where it goes in the image.
declare -A dest=(
	[havend]=/usr/sbin/havend
	[havenctl]=/usr/bin/havenctl
	[haven-setup]=/usr/sbin/haven-setup
	[haven-firstboot]=/usr/sbin/haven-firstboot
)
for p in havend havenctl haven-setup haven-firstboot; do
	[ -f "$bin_dir/$p" ] && [ -x "$bin_dir/$p" ] ||
	    die "$bin_dir/$p: missing or not executable: the appliance needs \
havend, havenctl, haven-setup and haven-firstboot; build them (make all)"
done
[ -s "$agent_pkg" ] || die "$agent_pkg: missing or empty: build the agent \
package first (make agent-package)"
case $agent_pkg in
*/haven-agent-*.tar.gz|haven-agent-*.tar.gz) ;;
*) die "$agent_pkg: not named haven-agent-VERSION.tar.gz: havend's push \
install looks for that name in its repository; give the file \
\`make agent-package\` builds" ;;
esac
tar -tzf "$agent_pkg" >/dev/null 2>&1 || die "$agent_pkg: not a gzip'd tar \
archive: rebuild it (make agent-package)"
case $out in
*.raw) ;;
*) die "$out: the output must be a .raw file (e.g. build/image/haven-$version.raw)" ;;
esac
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([.~+-][0-9A-Za-z.~+-]+)?$ ]] ||
    die "version '$version' is not like 1.2.3: give the Makefile's VERSION"
[ "$(id -u)" = 0 ] || die "run as root: the files of the root filesystem \
keep their owners (root, mysql, ...) from mmdebstrap to mkfs.ext4 -d"
need() {
	command -v "$1" >/dev/null || die "$1 not found: install the Debian \
package $2 (apt-get install $2)"
}
need mmdebstrap mmdebstrap
need sfdisk fdisk
need mkfs.ext4 e2fsprogs
need grub-mkimage grub-common
need dpkg-query dpkg
for f in boot.img diskboot.img kernel.img moddep.lst; do
	[ -f "$GRUB_DIR/$f" ] || die "$GRUB_DIR/$f: missing: install the \
Debian package grub-pc-bin (GRUB's BIOS modules and boot images)"
done
mke2fs_ver=$(mkfs.ext4 -V 2>&1 | awk 'NR==1{print $2}')
case $mke2fs_ver in
1.4[3-9]*|1.[5-9]*) ;;
*) die "mke2fs $mke2fs_ver cannot build a filesystem at an offset from a \
directory (-E offset, -d): e2fsprogs 1.43 or later is needed" ;;
esac

out_dir=$(dirname "$out")
mkdir -p "$out_dir" "$out_dir/cache"
out=$(cd "$out_dir" && pwd)/$(basename "$out")
cache_dir=$(cd "$out_dir/cache" && pwd)

work=$(mktemp -d "$out_dir/.build.XXXXXX")
tmp_out="$out.tmp.$$"
cleanup() {
	local rc=$?
	rm -rf "$work"
	rm -f "$tmp_out"
	[ $rc -eq 0 ] || echo "$prog: failed; $out is unchanged" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- package list ---------------------------------------------------------
step "package list (image/packages.txt + libraries of the programs)"
# The libraries the programs link, as the Debian packages that hold them,
# so the list follows the code without anyone keeping it by hand.
declare -A libs=()
for p in havend havenctl haven-setup haven-firstboot; do
	missing=$(ldd "$bin_dir/$p" | awk '/not found/ {print $1; exit}')
	[ -z "$missing" ] || die "$bin_dir/$p: $missing not found: install \
its package and rebuild"
	while read -r lib; do
		libs[$lib]=$p
	done < <(ldd "$bin_dir/$p" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
done
# One dpkg-query for all: a library's path as ldd says it, resolved, and
# with or without /usr (Debian 12 is /usr-merged; dpkg knows one spelling).
spellings() {
	local r; r=$(readlink -f "$1")
	printf '%s\n' "$1" "$r" "${1#/usr}" "/usr$1" "${r#/usr}" "/usr$r"
}
declare -A owner=()
while IFS= read -r line; do
	case $line in diversion*) continue ;; esac
	owner[${line#*: }]=${line%%: *}
done < <(for lib in "${!libs[@]}"; do spellings "$lib"; done | sort -u |
    xargs dpkg-query -S 2>/dev/null || true)
libpkgs=()
for lib in "${!libs[@]}"; do
	pkg=
	while read -r c; do
		[ -n "${owner[$c]:-}" ] && { pkg=${owner[$c]%%:*}; break; }
	done < <(spellings "$lib")
	[ -n "$pkg" ] || die "$lib (linked by ${libs[$lib]}): no Debian \
package holds it: build the programs against Debian 12's packaged libraries"
	libpkgs+=("$pkg")
done
# libc6 comes with the base; sanitizer runtimes would mean an ASan build.
pkgs=$( { grep -v '^#' "$here/packages.txt" | awk 'NF{print $1}'
	printf '%s\n' "${libpkgs[@]}"; } | grep -v '^libc6$' | sort -u)
if grep -qE '^lib(asan|ubsan)' <<<"$pkgs"; then
	die "$bin_dir: the programs are a sanitizer build: build the image \
from a plain build (make image, not BUILD=build-asan)"
fi
echo "  $(wc -l <<<"$pkgs") packages; from ldd: $(printf '%s\n' \
    "${libpkgs[@]}" | sort -u | grep -v '^libc6$' | tr '\n' ' ')"

# --- base root filesystem (cached) ----------------------------------------
key=$( { cat "$here/base.sh"; echo "$pkgs"; mmdebstrap --version
	echo "${HAVEN_DEBIAN_MIRROR:-}${HAVEN_DEBIAN_SECURITY:-}"; } |
	sha256sum | cut -c1-16)
base_tar=$cache_dir/base-$key.tar
# A base older than this misses Debian's security updates since: it is
# rebuilt (and still used, with a warning, if the mirror cannot be reached).
max_days=${HAVEN_BASE_MAX_DAYS:-7}
stale=
if [ -s "$base_tar" ] && [ -n "$(find "$base_tar" -mtime "+$((max_days - 1))")" ]
then
	stale=1
	echo "  the cached base is more than $max_days days old: rebuilding it \
for Debian's updates (HAVEN_BASE_MAX_DAYS)"
fi
if [ -s "$base_tar" ] && [ -z "$stale" ]; then
	step "base root filesystem: cached ($(basename "$base_tar"))"
else
	step "base root filesystem: mmdebstrap (Debian 12, $(wc -l \
<<<"$pkgs") packages; cached after)"
	# shellcheck disable=SC2086
	if bash "$here/base.sh" "$work/base.tar" $pkgs \
	    > "$work/mmdebstrap.log" 2>&1; then
		mv "$work/mmdebstrap.log" "${base_tar%.tar}.log"
		mv "$work/base.tar" "$base_tar"
		# Older bases are of no more use.
		find "$cache_dir" -name 'base-*' ! -name "base-$key.*" -delete
	elif [ -n "$stale" ]; then
		tail -n 5 "$work/mmdebstrap.log" >&2
		echo "  warning: mmdebstrap failed (above): using the cached \
base of $(date -r "$base_tar" +%F), without Debian's updates since" >&2
	else
		tail -n 30 "$work/mmdebstrap.log" >&2
		die "mmdebstrap failed (log above): check that \
deb.debian.org is reachable (or set HAVEN_DEBIAN_MIRROR)"
	fi
fi

step "unpack the base"
root=$work/root
mkdir "$root"
tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$base_tar"

# --- the appliance's files ------------------------------------------------
step "install Haven and the appliance's files"
inst() {	# inst MODE SRC DEST
	install -D -m "$1" -o 0 -g 0 "$2" "$root$3"
}
for p in "${!dest[@]}"; do
	inst 0755 "$bin_dir/$p" "${dest[$p]}"
done
app=$top/appliance
# The push-install repository: havend's state_dir (/var/lib/haven) +
# "repository" (src/havend/api_push.h PUSH_REPOSITORY).
install -d -m 0700 -o 0 -g 0 "$root/var/lib/haven"
install -d -m 0755 -o 0 -g 0 "$root/var/lib/haven/repository"
inst 0644 "$agent_pkg" "/var/lib/haven/repository/$(basename "$agent_pkg")"
# The cache and retention disks are mounted here at first boot
# (haven-disks); the directories serve on the OS disk until then.
install -d -m 0700 -o 0 -g 0 "$root/var/lib/haven/cache" \
    "$root/var/lib/haven/retention"
install -d -m 0755 -o 0 -g 0 "$root/etc/haven"
# The defaults are a reference: haven-setup writes /etc/haven/havend.conf,
# whose presence is what starts havend (ConditionPathExists).
inst 0644 "$app/havend.conf" /usr/share/haven/havend.conf.default
inst 0644 "$top/LICENSE" /usr/share/haven/LICENSE
inst 0644 "$top/README.md" /usr/share/doc/haven/README.md
for f in "$top"/docs/*.md; do
	inst 0644 "$f" "/usr/share/doc/haven/$(basename "$f")"
done
inst 0644 "$app/havend.service" /etc/systemd/system/havend.service
inst 0755 "$app/haven-disks" /usr/sbin/haven-disks
inst 0644 "$app/haven-disks.service" /etc/systemd/system/haven-disks.service
inst 0644 "$app/haven-ssh-keys.service" \
    /etc/systemd/system/haven-ssh-keys.service
inst 0644 "$app/chrony-haven.conf" /etc/chrony/conf.d/haven.conf
inst 0644 "$app/sshd-haven.conf" /etc/ssh/sshd_config.d/haven.conf
inst 0755 "$app/haven-boot-report" /usr/lib/haven/haven-boot-report
inst 0644 "$app/haven-boot-report.service" \
    /etc/systemd/system/haven-boot-report.service
echo "$version" > "$root/etc/haven/version"

enable() {	# enable UNIT TARGET: what `systemctl enable` does, offline
	mkdir -p "$root/etc/systemd/system/$2.wants"
	ln -sfn "$3" "$root/etc/systemd/system/$2.wants/$1"
}
enable havend.service multi-user.target /etc/systemd/system/havend.service
enable haven-disks.service multi-user.target \
    /etc/systemd/system/haven-disks.service
enable haven-ssh-keys.service multi-user.target \
    /etc/systemd/system/haven-ssh-keys.service
enable haven-boot-report.service multi-user.target \
    /etc/systemd/system/haven-boot-report.service
# The network is the wizard's to set (ifupdown: interfaces.d/haven, and
# resolv.conf for a static address; dhclient writes it for DHCP): the
# image has only the loopback, and no build host's resolver.
rm -f "$root/etc/resolv.conf"
: > "$root/etc/resolv.conf"
grep -q '^source /etc/network/interfaces.d/' "$root/etc/network/interfaces" ||
    die "the base's /etc/network/interfaces does not read interfaces.d: \
the wizard's network settings would be ignored"
# The first-boot wizard (firstboot/) on the VGA and the serial console:
# its units as they are, and the instances for tty1 and ttyS0 enabled
# where `systemctl enable` would link them (the wizard disables them with
# systemctl once setup is done).  A separate serial template
# (haven-firstboot-serial@.service), if firstboot/ has one, runs ttyS0.
fb_units=("$top"/firstboot/*.service)
if [ -f "${fb_units[0]}" ]; then
	for u in "${fb_units[@]}"; do
		inst 0644 "$u" "/etc/systemd/system/$(basename "$u")"
	done
	for inst_tty in haven-firstboot@:tty1 haven-firstboot-serial@:ttyS0; do
		tmpl=${inst_tty%%:*} tty=${inst_tty#*:}
		[ -f "$top/firstboot/$tmpl.service" ] || tmpl=haven-firstboot@
		fb_unit=$top/firstboot/$tmpl.service
		[ -f "$fb_unit" ] || die "$fb_unit: missing: firstboot/ has \
units but no haven-firstboot@.service to run the wizard on $tty"
		wanted=$(sed -n 's/^WantedBy=//p' "$fb_unit" | head -n1)
		for w in ${wanted:-multi-user.target}; do
			enable "$tmpl$tty.service" "$w" \
			    "/etc/systemd/system/$tmpl.service"
		done
	done
else
	echo "  note: firstboot/ has no unit: the image has no first-boot wizard"
fi

# Identity: each appliance gets its own at first boot.
step "identity, accounts, fstab, grub.cfg"
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root/var/lib/systemd/random-seed"
rm -f "$root"/etc/ssh/ssh_host_*
echo haven > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	haven
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# The root account is locked until the first-boot wizard gives it the
# admin password (console login; Debian's sshd keeps root key-only).
awk -F: -v OFS=: '$1 == "root" { $2 = "!*" } { print }' \
    "$root/etc/shadow" > "$work/shadow"
cat "$work/shadow" > "$root/etc/shadow"
# Logs of the image build are of no use on the appliance.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_* \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* 2>/dev/null ||
    true

root_uuid=$(cat /proc/sys/kernel/random/uuid)
cat > "$root/etc/fstab" <<EOF
# <file system>	<mount point>	<type>	<options>	<dump>	<pass>
UUID=$root_uuid	/	ext4	errors=remount-ro	0	1
# haven-disks adds the cache and retention disks below at first boot.
EOF

[ -e "$root/vmlinuz" ] && [ -e "$root/initrd.img" ] ||
    die "the base has no /vmlinuz or /initrd.img: linux-image-amd64 did \
not install (see image/packages.txt)"
mkdir -p "$root/boot/grub"
sed -e "s|@ROOT_UUID@|$root_uuid|g" -e "s|@KCMD@|$KCMD|g" \
    -e "s|@VERSION@|$version|g" "$app/grub.cfg" > "$root/boot/grub/grub.cfg"
# The modules, so that `insmod` works from the GRUB prompt.
mkdir -p "$root/boot/grub/i386-pc"
cp "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst "$root/boot/grub/i386-pc/"

# --- the disk -------------------------------------------------------------
step "partition table (sfdisk on the file)"
disk_bytes=$((DISK_MIB * 1024 * 1024))
truncate -s "$disk_bytes" "$tmp_out"
part_sectors=$((disk_bytes / 512 - PART_START))
# A fixed disk identifier would make every appliance's PARTUUID the same;
# boot and fstab use the filesystem's UUID, which is new for every build.
sfdisk --quiet --no-reread --no-tell-kernel "$tmp_out" <<EOF
label: dos
unit: sectors

start=$PART_START, size=$part_sectors, type=83, bootable
EOF

step "ext4 root filesystem from the directory (mkfs.ext4 -d, at 1 MiB)"
# -E offset: the filesystem goes straight into the partition; the size is
# given in 1 KiB blocks so mke2fs does not take the whole file.
mkfs.ext4 -q -F -L haven-root -U "$root_uuid" \
    -E offset=$((PART_START * 512)),root_owner=0:0 \
    -d "$root" "$tmp_out" "$((part_sectors / 2))k" ||
    die "mkfs.ext4 -d failed (message above)"
# e2fsprogs' unix I/O manager takes the offset after a '?'.
fsck_out=$(e2fsck -fn "$tmp_out?offset=$((PART_START * 512))" 2>&1) ||
    die "the new root filesystem does not pass e2fsck -fn: $fsck_out"
used=$(du -sm "$root" | cut -f1)
echo "  root filesystem: ${used} MiB of files in a $((part_sectors / 2048)) MiB partition"

step "GRUB for BIOS (boot.img in the MBR, core.img in the gap)"
# core.img finds the root filesystem by its UUID, so it does not matter
# which BIOS disk the appliance's disk is; the config is /boot/grub/grub.cfg.
cat > "$work/early.cfg" <<EOF
search.fs_uuid $root_uuid root
set prefix=(\$root)/boot/grub
EOF
grub-mkimage -O i386-pc -d "$GRUB_DIR" -o "$work/core.img" \
    -c "$work/early.cfg" -p /boot/grub \
    biosdisk part_msdos ext2 search_fs_uuid normal linux configfile echo \
    serial terminal test ||
    die "grub-mkimage failed (message above)"
core_bytes=$(stat -c %s "$work/core.img")
core_sectors=$(( (core_bytes + 511) / 512 ))
[ "$core_sectors" -lt "$PART_START" ] || die "core.img is $core_bytes \
bytes: more than the $((PART_START - 1)) sectors before the partition"
# boot.img: the first 440 bytes of the MBR; bytes 440-511 (disk signature,
# partition table, 0x55AA) stay as sfdisk wrote them.
cp "$GRUB_DIR/boot.img" "$work/boot.img"
patch() {	# patch FILE OFFSET HEXBYTES...: little-endian fields
	local f=$1 off=$2; shift 2
	printf "$(printf '\\x%s' "$@")" |
	    dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
# As grub-bios-setup does for a hard disk (util/setup.c):
#  0x5c kernel_sector (8 bytes): where core.img starts = sector 1;
#  0x64 boot_drive = 0xff: use the drive the BIOS booted from;
#  0x66 the floppy drive check jump becomes two NOPs.
patch "$work/boot.img" $((0x5c)) 01 00 00 00 00 00 00 00
patch "$work/boot.img" $((0x64)) ff
patch "$work/boot.img" $((0x66)) 90 90
# core.img's first sector (diskboot.img) ends with its block list: the
# rest of core.img is at sector 2, (core_sectors - 1) sectors, loaded at
# segment 0x820.  grub-mkimage sets the length; write all three so the
# image does not depend on its defaults.
rest=$((core_sectors - 1))
patch "$work/core.img" $((0x200 - 12)) 02 00 00 00 00 00 00 00 \
    "$(printf %02x $((rest & 255)))" "$(printf %02x $((rest >> 8)))" 20 08
dd if="$work/boot.img" of="$tmp_out" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$tmp_out" bs=512 seek=1 conv=notrunc status=none
echo "  core.img: $core_sectors sectors at sector 1"

step "check the disk"
# The partition table survived boot.img, and the filesystem is sound.
sfdisk -d "$tmp_out" | grep -q "start= *$PART_START, size= *$part_sectors, type=83, bootable" ||
    die "the partition table is not what was written: $(sfdisk -d "$tmp_out")"
[ "$(od -An -tx1 -j510 -N2 "$tmp_out" | tr -d ' ')" = 55aa ] ||
    die "the MBR lost its 0x55AA signature"

step ""
# What is in the image, package by package (for audits and release notes).
dpkg-query --admindir="$root/var/lib/dpkg" -W \
    -f '${Package} ${Version} ${Architecture}\n' > "$work/packages"
mv "$work/packages" "${out%.raw}.packages"
mv "$tmp_out" "$out"
size_app=$(du -m --apparent-size "$out" | cut -f1)
size_alloc=$(du -m "$out" | cut -f1)
echo "image: $out ($size_app MiB disk, $size_alloc MiB allocated) in $(( $(date +%s) - t_all ))s"
echo "image: its $(wc -l < "${out%.raw}.packages") Debian packages: ${out%.raw}.packages"
exit 0
}
