#!/bin/bash
# image/base.sh OUT_TAR PACKAGE...: the appliance's Debian 12 base as a
# tarball, by mmdebstrap.  No loop device and no mount of an image: the
# root filesystem is built in a directory (mmdebstrap's "root" mode: a
# chroot, as root) and packed.  image/build.sh caches the
# result under a hash of this file, image/packages.txt and the derived
# libraries, so changing any of them rebuilds it.
set -euo pipefail
out=$1; shift
pkgs=$(IFS=,; echo "$*")
mode=${HAVEN_MMDEBSTRAP_MODE:-root}
mirror=${HAVEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${HAVEN_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
# The fstab written before the kernel is installed names the root
# filesystem's type, so that the initramfs gets fsck.ext4 and checks /
# at boot (build.sh writes the real fstab, by UUID).
# --variant=important: systemd, udev, kmod, iproute2, ifupdown, the
# DHCP client, procps, nano... what an admin expects on a Debian box.
# Documentation and non-English locales are left out: a smaller image.
exec mmdebstrap --mode="$mode" --variant=important --arch=amd64 \
    --include="$pkgs" \
    --components=main \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --aptopt='Acquire::Retries "3"' \
    --essential-hook='printf "LABEL=haven-root / ext4 errors=remount-ro 0 1\\n" > "$1/etc/fstab"' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    bookworm "$out" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main"
