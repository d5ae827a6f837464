#!/bin/sh
# Storage engines (cache log, seal, replica) beside the primitives they
# are built on.  Printed figures, not a timed test.  HAVEN_BENCH_DIR
# picks the filesystem (default: a directory under /var/tmp).
set -eu
cd "$(dirname "$0")/../.."

out=build/bench
mkdir -p "$out"
PKGS="openssl libzstd libxxhash"
cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc/common $(pkg-config --cflags $PKGS) \
    -o "$out/storage_bench" tests/bench/storage_bench.c \
    src/common/cachelog.c src/common/seal.c src/common/journal.c \
    src/common/replica.c src/common/util.c src/common/log.c \
    $(pkg-config --libs $PKGS)

dir=$(mktemp -d "${HAVEN_BENCH_DIR:-/var/tmp}/haven-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

echo "# storage on $(df -P "$dir" | awk 'NR == 2 { print $1 }'), $(nproc) cpus"
"$out/storage_bench" "$dir"

echo "# primitives"
dd if=/dev/zero of="$dir/dd" bs=1M count=256 conv=fdatasync 2>&1 |
    awk '/copied/ { print "sequential write+fdatasync (dd 256 MiB): " $(NF-1) " " $NF }'
rm -f "$dir/dd"
openssl speed -evp aes-256-gcm -seconds 1 2>/dev/null |
    awk '/^(type|AES-256-GCM|aes-256-gcm)/ { print "openssl speed: " $0 }'
zstd -b1 -i1 2>&1 | tr '\r' '\n' | grep 'MB/s.*MB/s' | tail -1 |
    sed 's/^ *[|/\\-]*/zstd -b1 (compress, decompress): /'
