#!/usr/bin/env bash
# Replication, end to end on this machine, beside the machine's limits.
# Printed figures, not a timed test (make bench).
#
#  1. ingest: a 1 GiB disk of random data, agent -> process server
#     (durable cache) -> master target (replica + journal): MB/s to the
#     durable cache and to a complete recovery point;
#  2. the machine: fdatasync'd sequential write on the cache disk,
#     openssl speed aes-256-gcm, zstd -b1;
#  3. a delta cycle on a 4 GiB file after 1 % of it changed in random
#     4 KiB writes, beside rsync --inplace --no-whole-file over ssh to
#     localhost for the same change: wall time and bytes sent.
#
# HAVEN_BENCH_DIR picks the filesystem (default /var/tmp); HAVEN_BENCH_GIB
# the delta file's size (default 4).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$top/build/bin}
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/havend.sh"
gib=${HAVEN_BENCH_GIB:-4}

dir=$(mktemp -d "${HAVEN_BENCH_DIR:-/var/tmp}/haven-bench-repl.XXXXXX")
sshd_pid=
cleanup() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
	havend_teardown "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms() { echo $(( $(date +%s%N) / 1000000 )); }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", b / 1048576 / (t / 1000) }'; }

HAVEN_LOG_LEVEL=warning havend_setup "$dir" >/dev/null || exit 1
havend_start "$dir" || exit 1
cp=$(conf_get "$dir" control_port)
dp=$(conf_get "$dir" data_port)
(umask 077; hctl passphrase show | tail -n 1 >"$dir/pass")
hctl policy create bench --interval 10 --rpo 3600 --retention 86400 >/dev/null

# An agent per disk: each one enrolls as its own machine.
agent() {	# NAME DISK [BLOCK]
	mkdir -p "$dir/$1"
	cat >"$dir/$1/agent.conf" <<EOF
state_dir = $dir/$1/state
disks = $2
ps = 127.0.0.1:$dp
snapshot = none
block_size = ${3:-64k}
EOF
	"$HAVEN_BIN/haven-agent" -c "$dir/$1/agent.conf" enroll \
	    --cs "127.0.0.1:$cp" --passphrase-file "$dir/pass" >/dev/null 2>&1
	hctl policy assign "$(jq -r .machine_id "$dir/$1/state/machine.json")" \
	    bench >/dev/null
}
replicate() {	# NAME -> the agent's summary line on stdout
	"$HAVEN_BIN/haven-agent" -c "$dir/$1/agent.conf" replicate --once 2>&1 |
	    grep "sent this run" | tail -n 1
}
npoints() {
	[ "$(hctl --json points list "$(jq -r .machine_id \
	    "$dir/$1/state/machine.json")" | jq '.points | length')" -ge "$2" ]
}
wire() { sed -n 's/.*, \([0-9]*\) bytes on the wire.*/\1/p'; }

echo "# Haven replication benchmark: $(nproc) cpus, $(free -g | awk '/Mem:/ { print $2 }') GiB," \
    "on $(df -P "$dir" | awk 'NR == 2 { print $1 }') ($(findmnt -no FSTYPE -T "$dir"))"

# 1. Ingest.
head -c $((1 << 30)) /dev/urandom >"$dir/ingest.img"
agent ingest "$dir/ingest.img"
t0=$(ms)
line=$(replicate ingest)
t1=$(ms)
wait_for 600 npoints ingest 1
t2=$(ms)
echo "ingest 1 GiB random (agent -> durable cache): $(mbps $((1 << 30)) $((t1 - t0))) MB/s" \
    "($((t1 - t0)) ms; $(echo "$line" | wire) bytes on the wire)"
echo "ingest 1 GiB random (agent -> complete point on the replica): $(mbps $((1 << 30)) $((t2 - t0))) MB/s ($((t2 - t0)) ms)"

# 2. The machine's own limits.
dd if=/dev/zero of="$dir/dd" bs=1M count=512 conv=fdatasync 2>&1 |
    awk '/copied/ { print "sequential write + fdatasync on the cache disk (dd 512 MiB): " $(NF-1) " " $NF }'
rm -f "$dir/dd"
openssl speed -evp aes-256-gcm -seconds 1 2>/dev/null |
    awk '/^(type|AES-256-GCM|aes-256-gcm)/ { print "openssl speed -evp aes-256-gcm: " $0 }'
zstd -b1 -i1 2>&1 | tr '\r' '\n' | grep 'MB/s.*MB/s' | tail -n 1 |
    sed 's/^ *[|/\\-]*/zstd -b1 (compress, decompress): /'
rm -f "$dir/ingest.img"

# 3. Delta cycle vs rsync.
size=$((gib << 30))
head -c "$size" /dev/urandom >"$dir/big.img"
cp --sparse=never "$dir/big.img" "$dir/rsync-dest.img"
agent delta "$dir/big.img" 64k
agent delta4k "$dir/big.img" 4k
replicate delta >/dev/null
replicate delta4k >/dev/null
# 1 % of the file in random 4 KiB writes.
n=$((size / 100 / 4096))
perl -e '
	my ($path, $n, $size) = @ARGV;
	open(my $f, "+<", $path) or die "$path: $!";
	srand(42);
	for (1 .. $n) {
		my $off = int(rand($size / 4096)) * 4096;
		my $buf = join("", map { chr(int(rand(256))) } 1 .. 4096);
		sysseek($f, $off, 0); syswrite($f, $buf, 4096);
	}
	close($f);' "$dir/big.img" "$n" "$size"
echo "delta: ${gib} GiB file, $n random 4 KiB writes ($((n * 4096)) bytes, 1 %)"
for a in delta delta4k; do
	t0=$(ms)
	line=$(replicate "$a")
	t1=$(ms)
	echo "haven-agent ($(sed -n 's/^block_size = //p' "$dir/$a/agent.conf") blocks): $((t1 - t0)) ms wall," \
	    "$(echo "$line" | wire) bytes on the wire"
done

# rsync over ssh to localhost: a private sshd on a loopback port.
port=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$dir/userkey"
cat "$dir/userkey.pub" >"$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
mkdir -p /run/sshd
cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/hostkey
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
PidFile $dir/sshd.pid
StrictModes no
EOF
/usr/sbin/sshd -f "$dir/sshd_config" -D -e 2>"$dir/sshd.log" &
sshd_pid=$!
wait_for 10 ss -Htln "sport = :$port"
t0=$(ms)
stats=$(rsync --inplace --no-whole-file --stats \
    -e "ssh -p $port -i $dir/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" \
    "$dir/big.img" "root@127.0.0.1:$dir/rsync-dest.img" 2>&1)
t1=$(ms)
echo "rsync --inplace --no-whole-file over ssh: $((t1 - t0)) ms wall," \
    "$(echo "$stats" | sed -n 's/^Total bytes sent: //p' | tr -d ,) bytes sent"
cmp -s "$dir/big.img" "$dir/rsync-dest.img" || echo "warning: rsync's copy differs"
