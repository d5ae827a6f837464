# A real sshd inside a network namespace, standing in for a protected
# Linux host (tests/integration/push.t).  Source it (bash, as root).
#
# The namespace is reached over a veth pair: 10.200.0.1/30 on the host
# side, 10.200.0.2/30 inside; no other address is touched.  sshd has its
# own config, host key and authorized_keys under DIR and listens on
# 10.200.0.2:22 only.
#
#   sshd_ns_start DIR [EXTRA_CONFIG_LINE...]   namespace (once) + sshd
#   sshd_restart DIR [EXTRA_CONFIG_LINE...]    sshd again (new config)
#   sshd_new_host_key DIR                      a fresh host key
#   sshd_fingerprint DIR                       SHA256:... of the host key
#   sshd_ns_stop DIR                           sshd and the namespace
SSHD_HOST_ADDR=10.200.0.1
SSHD_ADDR=10.200.0.2

sshd_ns_start() {
	local dir=$1 ns veth
	shift
	mkdir -p "$dir/authorized_keys" /run/sshd
	ns=haven-push-$$
	veth=hvp$$
	veth=${veth:0:11}
	echo "$ns" >"$dir/netns"
	echo "$veth" >"$dir/veth"
	ip netns add "$ns" || return 1
	ip link add "${veth}h" type veth peer name "${veth}n" || return 1
	# Every change on the host side must be over when this returns: a
	# browser started later (tests/e2e) aborts its requests in flight
	# with net::ERR_NETWORK_CHANGED when the host's addresses change.
	# The host end's IPv6 link-local address would appear 1-2 s after
	# "up" (duplicate address detection), so it gets no IPv6.
	if [ -e "/proc/sys/net/ipv6/conf/${veth}h" ]; then
		sysctl -qw "net.ipv6.conf.${veth}h.disable_ipv6=1" || return 1
	fi
	ip link set "${veth}n" netns "$ns" || return 1
	ip addr add "$SSHD_HOST_ADDR/30" dev "${veth}h" || return 1
	ip link set "${veth}h" up || return 1
	ip netns exec "$ns" ip link set lo up || return 1
	ip netns exec "$ns" ip addr add "$SSHD_ADDR/30" dev "${veth}n" ||
	    return 1
	ip netns exec "$ns" ip link set "${veth}n" up || return 1
	# The carrier follows asynchronously (up to a second): wait for it.
	sshd_carrier "${veth}h" || return 1
	[ -f "$dir/ssh_host_ed25519_key" ] || sshd_new_host_key "$dir" ||
	    return 1
	sshd_restart "$dir" "$@"
}

sshd_carrier() {	# LINK: wait up to 5 s for its carrier
	local i
	for i in $(seq 1 100); do
		ip -o link show dev "$1" | grep -q LOWER_UP && return 0
		sleep 0.05
	done
	echo "sshd.sh: $1 has no carrier after 5 s: see 'ip link show $1'" >&2
	return 1
}

sshd_new_host_key() {
	rm -f "$1/ssh_host_ed25519_key" "$1/ssh_host_ed25519_key.pub"
	ssh-keygen -q -t ed25519 -N '' -C haven-push-test \
	    -f "$1/ssh_host_ed25519_key"
}

sshd_fingerprint() {
	ssh-keygen -l -E sha256 -f "$1/ssh_host_ed25519_key.pub" |
	    awk '{print $2}'
}

sshd_stop() {
	local pid
	pid=$(cat "$1/sshd.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$1/sshd.pid"
}

sshd_restart() {
	local dir=$1 ns line
	shift
	ns=$(cat "$dir/netns")
	sshd_stop "$dir"
	{
		echo "ListenAddress $SSHD_ADDR:22"
		echo "HostKey $dir/ssh_host_ed25519_key"
		echo "PidFile $dir/sshd.pid"
		echo "AuthorizedKeysFile $dir/authorized_keys/%u"
		echo "StrictModes no"
		echo "UsePAM no"
		echo "PasswordAuthentication yes"
		echo "KbdInteractiveAuthentication no"
		echo "PermitRootLogin yes"
		echo "Subsystem sftp internal-sftp"
		echo "LogLevel VERBOSE"
		for line in "$@"; do echo "$line"; done
	} >"$dir/sshd_config"
	ip netns exec "$ns" /usr/sbin/sshd -f "$dir/sshd_config" \
	    -E "$dir/sshd.log" || return 1
	for _ in $(seq 1 50); do
		timeout 1 bash -c "exec 3<>/dev/tcp/$SSHD_ADDR/22" 2>/dev/null &&
		    return 0
		sleep 0.1
	done
	echo "sshd did not come up; its log:" >&2
	tail -n 20 "$dir/sshd.log" >&2
	return 1
}

sshd_ns_stop() {
	local dir=$1 ns veth
	sshd_stop "$dir"
	ns=$(cat "$dir/netns" 2>/dev/null)
	veth=$(cat "$dir/veth" 2>/dev/null)
	[ -n "$veth" ] && ip link del "${veth}h" 2>/dev/null
	[ -n "$ns" ] && ip netns delete "$ns" 2>/dev/null
	rm -f "$dir/netns" "$dir/veth"
}
