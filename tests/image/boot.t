#!/bin/bash
# The appliance image: image/build.sh refuses bad input without leaving
# anything behind, and the raw image boots under qemu (TCG, no KVM) to the
# first-boot wizard on the serial console, with the cache and retention
# disks found, formatted and mounted on the way.
#
#   HAVEN_IMAGE=build/image/haven-0.1.0.raw HAVEN_BIN=build/bin \
#       prove -v tests/image/boot.t
#
# HAVEN_BOOT_TIMEOUT (seconds, default 1500): how long the boot may take.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/tap.sh

img=${HAVEN_IMAGE:-}
if [ -z "$img" ] || [ ! -s "$img" ]; then
	echo "Bail out! HAVEN_IMAGE='$img' is not an image: run make image \
(or make image-check), or set HAVEN_IMAGE to the .raw file"
	exit 1
fi
bin=${HAVEN_BIN:-$PWD/build/bin}
version=${HAVEN_VERSION:-0.1.0}
timeout=${HAVEN_BOOT_TIMEOUT:-1500}
plan 44

t=$(mktemp -d /tmp/haven-boot-t.XXXXXX)
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$qpid" 2>/dev/null
	fi
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build.sh: bad input ------------------------------------------------
# All of it is checked before any work, so these take no time; none may
# leave an output, a temporary file or a work directory.
mkdir -p "$t/bin" "$t/out"
for p in havend havenctl haven-setup haven-firstboot; do
	[ -x "$bin/$p" ] && cp "$bin/$p" "$t/bin/"
done
pkg=$(ls "$(dirname "$img")"/../agent/haven-agent-*.tar.gz 2>/dev/null |
    head -n1)
[ -n "$pkg" ] || pkg=${HAVEN_AGENT_PKG:-}
if [ -z "$pkg" ]; then	# a well-formed stand-in: these runs stop before it is used
	mkdir -p "$t/pkg/haven-agent-$version"
	echo "$version" > "$t/pkg/haven-agent-$version/VERSION"
	tar -C "$t/pkg" -czf "$t/haven-agent-$version.tar.gz" .
	pkg=$t/haven-agent-$version.tar.gz
fi
left() { ls -A "$t/out"; }
build() { out=$(bash image/build.sh "$@" 2>&1); rc=$?; }

rm -f "$t/bin/haven-firstboot"
build "$t/bin" "$pkg" "$t/out/x.raw" "$version"
like "$rc $out" "^1 .*$t/bin/haven-firstboot: missing or not executable.*make all" \
    "build.sh: a missing program is refused by name, saying how to build it"
is "$(left)" "" "build.sh: nothing is written when a program is missing"
cp "$bin/haven-firstboot" "$t/bin/"
printf 'old image' > "$t/out/x.raw"
build "$t/bin" "$t/nonexistent.tar.gz" "$t/out/x.raw" "$version"
like "$rc $out" "^1 .*$t/nonexistent.tar.gz: missing or empty.*make agent-package" \
    "build.sh: a missing agent package is refused"
is "$(cat "$t/out/x.raw")$(left)" "old imagex.raw" \
    "build.sh: a failed build leaves the previous image as it was"
rm -f "$t/out/x.raw"
cp "$pkg" "$t/agent.tgz"
build "$t/bin" "$t/agent.tgz" "$t/out/x.raw" "$version"
like "$rc $out" "^1 .*agent.tgz: not named haven-agent-VERSION.tar.gz" \
    "build.sh: an agent package under another name is refused"
build "$t/bin" "$pkg" "$t/out/x.raw" "not-a-version"
like "$rc $out" "^1 .*version 'not-a-version' is not like 1.2.3" \
    "build.sh: a bad version is refused"
build "$t/bin" "$pkg"
like "$rc $out" "^1 .*usage: image/build.sh BIN_DIR AGENT_PKG_TGZ OUT_RAW VERSION" \
    "build.sh: missing arguments print the usage"
is "$(left)" "" "build.sh: none of these left anything behind"
# A failure half-way (the Debian mirror cannot be reached, so mmdebstrap
# fails): the previous image stays, no temporary file or directory stays.
printf 'old image' > "$t/out/x.raw"
out=$(HAVEN_DEBIAN_MIRROR=http://127.0.0.1:9/debian \
    HAVEN_DEBIAN_SECURITY=http://127.0.0.1:9/debian-security \
    timeout 600 bash image/build.sh "$t/bin" "$pkg" "$t/out/x.raw" \
    "$version" 2>&1); rc=$?
ok $([ "$rc" = 1 ] && grep -q "mmdebstrap failed.*HAVEN_DEBIAN_MIRROR" \
    <<<"$out"; echo $?) \
    "build.sh: a failed mmdebstrap is reported with what to check"
[ "$rc" = 1 ] || diag "rc $rc: $(tail -n 5 <<<"$out")"
like "$out" "failed; $t/out/x.raw is unchanged" \
    "build.sh: a failure says the previous image is unchanged"
is "$(cat "$t/out/x.raw") $(ls -A "$t/out" | tr '\n' ' ')" \
    "old image cache x.raw " \
    "build.sh: after a failure half-way only the old image (and the cache) remain"
is "$(ls -A "$t/out/cache")" "" "build.sh: a failed base build caches nothing"

# --- the image's layout ---------------------------------------------------
# Read from the file, as a hypervisor's BIOS would: MBR with GRUB's
# boot.img and the partition table, core.img in the gap, ext4 at 1 MiB.
part=$(sfdisk -d "$img" 2>&1)
like "$part" "start= *2048, size= *[0-9]+, type=83, bootable" \
    "image: one bootable Linux partition at 1 MiB"
is "$(od -An -tx1 -j510 -N2 "$img" | tr -d ' ')" 55aa "image: MBR signature"
is "$(od -An -tx1 -j$((0x5c)) -N1 "$img" | tr -d ' ')$(od -An -tx1 \
    -j$((0x66)) -N2 "$img" | tr -d ' ')" 019090 \
    "image: boot.img points at core.img in sector 1 (hard-disk boot drive)"
cmp -s -n 440 <(head -c 440 "$img") <(head -c 440 /dev/zero)
ok $([ $? -ne 0 ] && cmp -s -i 512:0 -n 400 "$img" \
    /usr/lib/grub/i386-pc/diskboot.img; echo $?) \
    "image: core.img (diskboot.img first) follows the MBR"
fsinfo=$(dumpe2fs -h "$img?offset=1048576" 2>/dev/null)
like "$fsinfo" "Filesystem volume name: +haven-root" \
    "image: the partition holds the ext4 root filesystem"
uuid=$(awk '/^Filesystem UUID:/ {print $3}' <<<"$fsinfo")
cat_img() { debugfs -R "cat $1" "$img?offset=1048576" 2>/dev/null; }
like "$(cat_img /etc/fstab)" "^UUID=$uuid	/	ext4" \
    "image: fstab mounts / by its UUID"
like "$(cat_img /boot/grub/grub.cfg)" \
    "root=UUID=$uuid ro console=tty0 console=ttyS0,115200" \
    "image: grub.cfg boots root=UUID with the VGA and serial consoles"
is "$(debugfs -R 'stat /etc/machine-id' "$img?offset=1048576" 2>/dev/null |
    awk '/Size:/ {print $NF; exit}')" 0 \
    "image: /etc/machine-id is empty (each appliance makes its own)"
ls_img() { debugfs -R "ls -l $1" "$img?offset=1048576" 2>/dev/null; }
unlike "$(ls_img /etc/ssh)" "ssh_host_" "image: no SSH host keys in the image"
like "$(cat_img /etc/shadow | grep '^root:')" '^root:!' \
    "image: the root account is locked"
like "$(cat_img /etc/ssh/sshd_config.d/haven.conf)" \
    '^PermitRootLogin prohibit-password' \
    "image: SSH takes keys only (the wizard's root password is for the console)"
like "$(cat_img /usr/share/haven/LICENSE)" 'ISC License' \
    "image: the licence the wizard shows"
like "$(ls_img /var/lib/haven/repository)" "haven-agent-$version.tar.gz" \
    "image: the agent package is in havend's push-install repository"

# --- boot -------------------------------------------------------------------
# Two small blank disks stand in for the OVA's 600 GB cache and retention
# disks, and a smaller one with a partition on it must be left alone; the
# OS disk is opened with snapshot=on, so the image is unchanged.
truncate -s 256M "$t/cache.raw"
truncate -s 384M "$t/retention.raw"
truncate -s 128M "$t/other.raw"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$t/other.raw" >/dev/null
other_sum=$(md5sum < "$t/other.raw")
mtime=$(stat -c %Y "$img")

# boot NAME: power on, wait for the wizard on the serial console and for
# the boot report, power off.  Sets reached, finished (seconds) and log.
boot() {
	local serial=$t/serial-$1.log start
	: > "$serial"
	start=$(date +%s)
	qemu-system-x86_64 -machine pc,accel=tcg -cpu max -smp 2 -m 2048 \
	    -display none -monitor none -no-reboot \
	    -serial "file:$serial" \
	    -drive "file=$img,format=raw,if=virtio,snapshot=on" \
	    -drive "file=$t/cache.raw,format=raw,if=virtio" \
	    -drive "file=$t/retention.raw,format=raw,if=virtio" \
	    -drive "file=$t/other.raw,format=raw,if=virtio" \
	    -nic user,model=virtio-net-pci \
	    -pidfile "$t/qemu.pid" > "$t/qemu.out" 2>&1 &
	qpid=$!
	reached='' finished=''
	# The end of the boot: haven-boot-report runs after multi-user.target
	# and names every unit that failed or did not start (a time-out
	# waiting for the network or a device, say), which can come after
	# the wizard.
	while kill -0 "$qpid" 2>/dev/null &&
	    [ $(( $(date +%s) - start )) -lt "$timeout" ]; do
		[ -z "$reached" ] &&
		    grep -aq "Haven appliance setup" "$serial" &&
		    reached=$(( $(date +%s) - start ))
		if grep -aq "haven: boot finished after" "$serial"; then
			finished=$(( $(date +%s) - start ))
			break
		fi
		sleep 2
	done
	log=$(tr -d '\r' < "$serial" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g')
	# Kept for a look after the test: next to the image.
	cp "$serial" "$(dirname "$img")/boot-serial-$1.log" 2>/dev/null
	diag "$1 boot: wizard on ttyS0 after ${reached:-(never)}s, boot \
report after ${finished:-(never)}s (TCG); console: \
$(dirname "$img")/boot-serial-$1.log"
	if [ -z "$reached" ]; then
		diag "qemu: $(tail -c 2000 "$t/qemu.out")"
		diag "serial (last lines): $(tail -n 40 <<<"$log")"
	fi
	grep -a -E "FAILED|Failed to start|Dependency failed" <<<"$log" |
	    head -n 10 | while read -r l; do diag "$l"; done
	# SIGTERM: qemu flushes the disks and exits.
	kill "$qpid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
}
healthy() {	# the checks every boot passes
	diag "$1 boot: the wizard on ttyS0 after ${reached:-?} s, boot report after ${finished:-?} s (qemu TCG)" >&2
	ok $([ -n "$reached" ]; echo $?) \
	    "$1 boot: the wizard is on the serial console within ${timeout}s"
	like "$log" "Haven appliance setup: starting on /dev/ttyS0" \
	    "$1 boot: the wizard runs on ttyS0 (not a getty)"
	unlike "$log" "\[FAILED\]|Kernel panic|emergency mode|Dependency failed" \
	    "$1 boot: no [FAILED] line and no emergency shell"
	report=$(grep -a -o "haven: boot finished after.*" <<<"$log" | head -n1)
	like "${report:-(no boot report)}" \
	    "haven: boot finished after [0-9.]+s; units failed or not started: none" \
	    "$1 boot: no unit failed or was left unstarted (haven-boot-report)"
}

boot first
healthy first
like "$log" "haven-disks: cache: formatted /dev/vdb \(256 MiB\) as ext4" \
    "first boot: haven-disks formats the smaller blank disk as the cache disk"
like "$log" "haven-disks: retention: formatted /dev/vdc \(384 MiB\) as ext4" \
    "first boot: haven-disks formats the larger one as the retention disk"
like "$log" "haven-disks: /var/lib/haven/cache: mounted \(/dev/vdb\)" \
    "first boot: the cache disk is mounted at /var/lib/haven/cache"
like "$log" "haven-disks: /var/lib/haven/retention: mounted \(/dev/vdc\)" \
    "first boot: the retention disk is mounted at /var/lib/haven/retention"
like "$log" "haven-disks: /dev/vdd: skipped, not formatted: it has partitions \(vdd1\)" \
    "first boot: the disk with a partition is skipped, saying why"
is "$(md5sum < "$t/other.raw")" "$other_sum" \
    "first boot: the disk with a partition is untouched"
is "$(blkid -p -o value -s TYPE "$t/cache.raw") $(blkid -p -o value -s LABEL \
    "$t/cache.raw") $(blkid -p -o value -s LABEL "$t/retention.raw")" \
    "ext4 haven-cache haven-retention" \
    "first boot: the disks hold ext4 labelled haven-cache and haven-retention"
uuids=$(blkid -p -o value -s UUID "$t/cache.raw" "$t/retention.raw")

# The same data disks with a fresh OS disk (the snapshot is gone): they
# are taken back as they are, never formatted again.
boot second
healthy second
like "$log" "haven-disks: cache: took back /dev/vdb \(label haven-cache" \
    "second boot: the cache disk is taken back, not formatted"
like "$log" "haven-disks: retention: took back /dev/vdc \(label haven-retention" \
    "second boot: the retention disk is taken back, not formatted"
is "$(blkid -p -o value -s UUID "$t/cache.raw" "$t/retention.raw")" "$uuids" \
    "second boot: the data disks keep their filesystems (same UUIDs)"
is "$(stat -c %Y "$img")" "$mtime" \
    "the image itself was not written (snapshot=on)"
exit $(( _tap_failed > 0 ))
