#!/bin/bash
# haven-firstboot (docs/firstboot.md) driven through tmux, as an operator
# at the console would: send-keys in, capture-pane out.  Every run has its
# own HAVEN_ROOT, so nothing outside the temp dir is touched.
#
#  - every invalid input shows its message and keeps its screen;
#  - the time check against a real chronyd (tests/lib/ntpd.sh): in step,
#    1 hour ahead under faketime (blocked, with the skew), unreachable;
#  - two consoles: the second waits while the first runs setup;
#  - a full run with the real haven-setup against a private MariaDB:
#    a first attempt fails (root refused), its last lines show, Back
#    leads to the database screen, the second attempt ends on the admin
#    URL and the passphrase, and the done marker stops a second run;
#  - the admin password becomes root's console password: a missing or
#    immutable shadow file stops setup with the file and the fix named;
#    then root's field is a $6$ hash of it and nothing else changed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/ntpd.sh"

BIN=${HAVEN_BIN:-$here/../../build/bin}
FB=$BIN/haven-firstboot
SETUP=$BIN/haven-setup
PASS_RE='[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){4}'

dir=$(mktemp -d /tmp/haven-fb.XXXXXX)
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"
tm() { tmux -S "$dir/tmux.sock" "$@"; }
cleanup() {
	trap '' INT TERM HUP
	tm kill-server >/dev/null 2>&1
	chattr -i "$dir/root-full/etc/shadow" 2>/dev/null
	ntpd_stop "$dir/ntp"
	sh "$here/../lib/mariadb.sh" stop "$dir/db" >/dev/null 2>&1
	[ -n "${FB_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

plan 140

# --- the wizard in tmux
# start NAME ROOT [VAR=VALUE...] [-- PREFIX-COMMAND...]: the wizard in
# an 80x24 window, like the serial console.
start() {
	local name=$1 root=$2
	shift 2
	{
		# Wait until pipe-pane records the terminal: the start line
		# comes before the first screen.
		echo "while [ ! -e $(printf %q "$dir/$name.go") ]; do sleep 0.05; done"
		echo "export TERM=vt220 HAVEN_ROOT=$(printf %q "$root")"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			echo "export ${1%%=*}=$(printf %q "${1#*=}")"; shift
		done
		[ "${1:-}" = -- ] && shift
		printf '%q ' "$@" "$FB"
		echo
		echo 'echo WIZARD-EXIT=$?'
		echo "sleep 3600"
	} >"$dir/$name.sh"
	tm new-session -d -s "$name" -x 80 -y 24 "bash $dir/$name.sh"
	tm pipe-pane -t "$name" -o "cat >>$dir/$name.out"
	touch "$dir/$name.go"
}
screen() { tm capture-pane -p -t "$1"; }
# The screen as one line, box drawing and wrapping gone: messages wrap.
flat() {
	screen "$1" | sed 's/[│┌┐└┘─┤├↓↑▮]/ /g' | tr '\n' ' ' | tr -s ' '
}
keys() { local n=$1; shift; tm send-keys -t "$n" "$@"; }
# type NAME TEXT: literally, into the focused field, replacing it.
type_in() { tm send-keys -t "$1" C-a C-k; tm send-keys -t "$1" -l -- "$2"; }
# wait_screen NAME REGEX [SECONDS]
wait_screen() {
	local end=$(( $(date +%s) + ${3:-20} ))
	while [ "$(date +%s)" -le "$end" ]; do
		flat "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
# see NAME REGEX DESCRIPTION [SECONDS]: the screen shows it.
see() {
	if wait_screen "$1" "$2" "${4:-20}"; then pass "$3"; else
		# On stderr, so that prove shows why without -v.
		fail "$3"; { diag "want /$2/ on:"; screen "$1" |
		    sed 's/^/# /'; } >&2
	fi
}
# stays NAME REGEX-MESSAGE TITLE DESCRIPTION: the message shows and the
# screen is still the same one.
stays() {
	if wait_screen "$1" "$2" 20 && flat "$1" | grep -q "setup: $3 "; then
		pass "$4"
	else
		fail "$4"; { diag "want /$2/ on the $3 screen:"
		screen "$1" | sed 's/^/# /'; } >&2
	fi
}

# --- a real NTP server
ntpd_start "$dir/ntp" || { echo "Bail out! chronyd did not start"; exit 1; }
ntp=127.0.0.1:$(ntpd_port "$dir/ntp")
# faketime preloads libfaketime: an ASan build (make asan) must be told
# that its runtime need not come first.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
dead=127.0.0.1:$(ntpd_free_udp_port)

# --- the SNTP client from the command line, against chronyd
out=$("$FB" --time-check "$ntp" 2>&1)
ok $? "--time-check: chronyd answers"
like "$out" "^offset [-+]0\.[0-9]+ s \(clock within [0-9.]+ s of $ntp\)" \
    "--time-check: the offset from the real server is under a second"
out=$(faketime -f +1h "$FB" --time-check "$ntp" 2>&1)
[ $? -eq 1 ]; ok $? "--time-check under faketime +1h: fails"
like "$out" "clock is 1 h 0 min 0 s ahead of 127.0.0.1 port [0-9]+ \(skew \+3600 s; the limit is 15 min\): setup is blocked" \
    "--time-check under faketime +1h: says the skew and the limit"
like "$out" "Fix the clock" "--time-check under faketime: says how to fix it"
out=$(faketime -f -20m "$FB" --time-check "$ntp" 2>&1)
like "$out" "20 min 0 s behind" "20 minutes slow: blocked too"
out=$(faketime -f +10m "$FB" --time-check "$ntp" 2>&1)
ok $? "10 minutes of skew passes (under 15)"
out=$("$FB" --time-check "$dead" 2>&1)
[ $? -eq 1 ]; ok $? "--time-check of a port nobody serves: fails"
like "$out" "No NTP server answers at 127.0.0.1 port [0-9]+ \(Connection refused\)" \
    "--time-check: says the source is unreachable"

# --- every invalid input, on one wizard
bad=$dir/root-bad
mkdir -p "$bad/etc"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' >"$bad/etc/hosts"
start bad "$bad" HAVEN_FIRSTBOOT_NTP="$dead"
see bad 'Haven appliance setup: licence' "the wizard opens on the licence"
like "$(cat "$dir/bad.out")" "^Haven appliance setup: starting on /dev/pts/[0-9]+" \
    "it prints the plain start line with its terminal first"
keys bad Tab Tab Enter
stays bad "You declined the licence" licence "declined licence: says so, stays"
keys bad F12
see bad 'setup: host name' "Accept leads to the host name"
type_in bad 'bad_host'; keys bad F12
stays bad "contains '_'" "host name" "host name with '_': refused"
type_in bad '-lead.example.com'; keys bad F12
stays bad "starts or ends with a hyphen" "host name" "label starting with '-': refused"
type_in bad 'a..b'; keys bad F12
stays bad "empty label" "host name" "empty label: refused"
type_in bad 'good-name.example.com'; keys bad F12
see bad 'setup: network' "a good host name leads to the network"
is "$(cat "$bad/etc/hostname")" "good-name" "etc/hostname holds the short name"
grep -q "^127.0.1.1	good-name.example.com good-name$" "$bad/etc/hosts" &&
    grep -q "^::1	localhost ip6-localhost$" "$bad/etc/hosts"
ok $? "etc/hosts: 127.0.1.1 line added, other lines kept"

# Focus: NIC list, DHCP, Static, address, gateway, DNS.
keys bad Tab Tab Space Tab
type_in bad '192.168.10.300/24'; keys bad F12
stays bad "'192.168.10.300' is not an IPv4 address" network "bad IP: refused"
type_in bad '192.168.10.20'; keys bad F12
stays bad "has no prefix length" network "address without prefix: refused"
type_in bad '192.168.10.20/24'; keys bad Tab
type_in bad '192.168.11.1'; keys bad F12
stays bad "gateway 192.168.11.1 is outside the network 192.168.10.0/24" network \
    "gateway outside the subnet: refused"
type_in bad '192.168.10.1'; keys bad Tab
type_in bad '192.168.10.2 dns.example'; keys bad F12
stays bad "'dns.example' is not an IP address" network "bad DNS server: refused"
type_in bad '192.168.10.2, 192.168.10.3'; keys bad F12
see bad 'setup: admin password' "a good static network leads to the password"
ifile=$(cat "$bad/etc/network/interfaces.d/haven" 2>/dev/null)
like "$ifile" "auto eth0" "interfaces.d/haven: the NIC comes up at boot"
like "$ifile" "iface eth0 inet static" "interfaces.d/haven: static"
like "$ifile" "address 192.168.10.20/24" "interfaces.d/haven: address/prefix"
like "$ifile" "gateway 192.168.10.1" "interfaces.d/haven: gateway"
is "$(grep nameserver "$bad/etc/resolv.conf")" \
    "$(printf 'nameserver 192.168.10.2\nnameserver 192.168.10.3')" \
    "etc/resolv.conf: the DNS servers"

type_in bad 'Sh0rt!'; keys bad Tab; type_in bad 'Sh0rt!'; keys bad F12
stays bad "has 6 characters: it needs at least 8" "admin password" "short password: refused"
type_in bad 'weakpassword'; keys bad Tab; type_in bad 'weakpassword'; keys bad F12
stays bad "too weak: it needs an upper-case letter, a digit, a symbol" \
    "admin password" "weak password: refused, naming what it lacks"
type_in bad 'Str0ng!pass'; keys bad Tab; type_in bad 'Str0ng!pasS'; keys bad F12
stays bad "do not match" "admin password" "mismatched passwords: refused"
type_in bad 'Str0ng!pass'; keys bad Tab; type_in bad 'Str0ng!pass'; keys bad F12
see bad 'setup: time' "matching strong passwords lead to the time check"

keys bad F12
stays bad "No NTP server answers at 127.0.0.1 port [0-9]+ \(Connection" time \
    "unreachable time source: says so, stays"
see bad "Press Check to try again, or type another time source" \
    "unreachable: offers retry or another source"
type_in bad 'bad_ntp'; keys bad F12
stays bad "is not a host name or address" time "bad time source name: refused"
type_in bad "$ntp"; keys bad F12
see bad 'setup: database' "a reachable source in step leads on"
like "$(cat "$bad/etc/chrony/sources.d/haven.sources" 2>/dev/null)" \
    "server 127.0.0.1 port [0-9]+ iburst" "the chosen time source is given to chrony"

# Focus: Generate, Enter, root, user.
keys bad Tab Space Tab
type_in bad 'short'; keys bad Tab; type_in bad 'Us3r-pass-ok'; keys bad F12
stays bad "MariaDB root password has 5 characters" database "short root password: refused"
type_in bad 'has"quote'; keys bad F12
stays bad "contains a double quote" database "a quote in a password: refused"
type_in bad 'Root-pass-ok'; keys bad F12
see bad 'setup: vault registration' "good database passwords lead on"

type_in bad "$dir/missing.key"; keys bad F12
stays bad "cannot be used: No such file or directory" "vault registration" \
    "missing vault key file: refused"
: >"$dir/empty.key"
type_in bad "$dir/empty.key"; keys bad F12
stays bad "is empty" "vault registration" "empty vault key file: refused"
printf 'vault-registration-key-v1 0123\n' >"$dir/vault.key"
chmod 644 "$dir/vault.key"
type_in bad "$dir/vault.key"; keys bad F12
see bad 'setup: data network' "a readable key file leads on"
see bad 'eth0 +192\.0\.2\.[0-9]+|[a-z0-9]+ +[0-9.]+' "the data NIC list shows NICs with their addresses"
unlike "$(screen bad)" '│ lo ' "the loopback is not offered"

keys bad Tab
for p in 443:"Port 443 is the control port" 0:"0 is out of range" \
    70000:"70000 is out of range" 44315:"Port 44315 is the admin port" \
    22:"Port 22 is SSH \(the appliance's sshd" \
    3306:"Port 3306 is MariaDB \(the appliance's database" \
    abc:"not a port number"; do
	type_in bad "${p%%:*}"; keys bad F12
	stays bad "${p#*:}" "data network" "data port ${p%%:*}: refused"
done
type_in bad 9443; keys bad F12
see bad 'setup: proxy' "data port 9443 leads to the proxy"

# Focus: None, Custom, URL, port, user, password.
keys bad Tab Space Tab
type_in bad 'proxy.example.com'; keys bad F12
stays bad "is not a proxy URL: it starts with http:// or https://" proxy "proxy URL without scheme: refused"
type_in bad 'http://proxy.example.com:3128'; keys bad F12
stays bad "Put the proxy port in the Port field" proxy "proxy URL with a port: refused"
type_in bad 'http://proxy.example.com'; keys bad Tab
type_in bad '99999'; keys bad F12
stays bad "99999 is out of range" proxy "proxy port 99999: refused"
type_in bad '3128'; keys bad Tab
type_in bad 'bob'; keys bad F12
stays bad "A proxy user needs its password" proxy "proxy user without password: refused"
type_in bad 'Pr0xy-pw'; keys bad F12
see bad 'setup: summary' "a good proxy leads to the summary"
sum=$(flat bad)
like "$sum" "Host name: good-name.example.com" "summary: host name"
like "$sum" "Network: eth0, 192.168.10.20/24, gateway 192.168.10.1, DNS 192.168.10.2 192.168.10.3" \
    "summary: network"
like "$sum" "Data: eth0 192.168.10.20, port 9443" \
    "summary: the data address is the static one of that NIC"
like "$sum" "Proxy: http://proxy.example.com:3128 as bob" "summary: proxy"
like "$sum" "Console login: root with the admin password; SSH: keys only" \
    "summary: root's console login, SSH by key only"
unlike "$sum" "Str0ng|Pr0xy-pw|Root-pass" "summary: no secret on the screen"
# Back from the summary: the proxy screen keeps what was typed.
keys bad Tab Enter
see bad 'setup: proxy' "Back from the summary returns to the proxy"
see bad 'http://proxy.example.com' "the typed proxy URL is still there"
tm kill-session -t bad

# --- the clock 1 hour ahead: blocked with the skew
skew=$dir/root-skew
start skew "$skew" HAVEN_FIRSTBOOT_NTP="$ntp" -- faketime -f +1h
# One full make check saw this first screen missing after 20 s (not
# reproduced since, cause unknown): wait longer, and a failure prints
# the screen on stderr.
see skew 'setup: licence' "under faketime +1h: the wizard starts" 60
keys skew F12; see skew 'setup: host name' "skew run: host name"
keys skew F12; see skew 'setup: network' "skew run: network"
keys skew F12; see skew 'setup: admin password' "skew run: DHCP accepted"
type_in skew 'Str0ng!pass'; keys skew Tab; type_in skew 'Str0ng!pass'; keys skew F12
see skew 'setup: time' "skew run: time"
keys skew F12
stays skew "clock is 1 h 0 min 0 s ahead of 127.0.0.1 port [0-9]+ \(skew" time \
    "1 hour ahead: setup is blocked, the skew is shown"
see skew "Fix the clock" "the block says how to fix the clock"
keys skew F12
sleep 0.5
stays skew "1 h 0 min 0 s ahead" time "checking again: still blocked"
tm kill-session -t skew

# --- two consoles: one runs setup, the other waits
lock=$dir/root-lock
start con1 "$lock"
start con2 "$lock"
see con1 'setup: licence' "console 1 shows the licence"
see con2 'setup: licence' "console 2 shows the licence"
keys con1 F12
see con1 'setup: host name' "console 1 accepts and goes on"
keys con2 F12
see con2 "Setup is running on the other console \(/dev/pts/[0-9]+\)" \
    "console 2: told setup runs on the other console"
tm kill-session -t con1
see con2 'setup: host name' "console 1 gone without finishing: console 2 takes over"
start con3 "$lock"
see con3 'setup: licence' "console 3 shows the licence"
keys con3 F12
see con3 "Setup is running on the other console" "console 3 waits for console 2"
mkdir -p "$lock/var/lib/haven"; echo test >"$lock/var/lib/haven/firstboot.done"
wait_for 10 grep -q WIZARD-EXIT=0 "$dir/con3.out"
ok $? "setup done elsewhere: the waiting console exits 0"
like "$(cat "$dir/con3.out")" "setup was completed on the other console" \
    "and says why"
tm kill-session -t con2

# --- the full run with the real haven-setup
if [ ! -x "$SETUP" ]; then
	for i in $(seq 1 56); do fail "full run: $SETUP is missing"; done
	exit 1
fi
sh "$here/../lib/mariadb.sh" start "$dir/db" >"$dir/mariadb.out" 2>&1 ||
    { cat "$dir/mariadb.out" >&2; echo "Bail out! MariaDB did not start"; exit 1; }
dbport=$(cat "$dir/db/port")
rootpw=$(cat "$dir/db/root.pass")
# The wizard points haven-setup at 127.0.0.1:PORT (HAVEN_FIRSTBOOT_DBHOST
# and _DBPORT); the private server's root is root@localhost only.
mariadb --defaults-file="$dir/db/root.cnf" -e "CREATE USER 'root'@'127.0.0.1'
    IDENTIFIED BY '$rootpw'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH
    GRANT OPTION" || { echo "Bail out! cannot add root@127.0.0.1"; exit 1; }
full=$dir/root-full
mkdir -p "$full/etc/chrony" "$dir/full"
# The default time source is chrony's first one.
printf 'confdir /etc/chrony/conf.d\nserver 127.0.0.1 port %s iburst\npool 2.debian.pool.ntp.org\n' \
    "$(ntpd_port "$dir/ntp")" >"$full/etc/chrony/chrony.conf"
start full "$full" HAVEN_SETUP="$SETUP" HAVEN_FIRSTBOOT_DBHOST=127.0.0.1 \
    HAVEN_FIRSTBOOT_DBPORT="$dbport" \
    HAVEN_SETUP_ARGS="/NoStart /ConfigFile $dir/full/havend.conf /InstallLocation $dir/full/state"
see full 'setup: licence' "full run: licence"
keys full F12; see full 'setup: host name' "full run: host name"
type_in full 'haven-cs1'; keys full F12
see full 'setup: network' "full run: network"
keys full F12; see full 'setup: admin password' "full run: DHCP"
like "$(cat "$full/etc/network/interfaces.d/haven")" "iface eth0 inet dhcp" \
    "interfaces.d/haven: DHCP"
type_in full 'Adm1n!pass'; keys full Tab; type_in full 'Adm1n!pass'; keys full F12
see full 'setup: time' "full run: time"
see full "127\.0\.0\.1:[0-9]+_" "the time source defaults to chrony.conf's first server"
keys full F12
see full 'setup: database' "full run: the clock is in step"
# First attempt: generated passwords; root by the unix socket, which a
# server on TCP refuses.
keys full F12; see full 'setup: vault' "full run: vault"
keys full F12; see full 'setup: data network' "full run: no vault key is fine"
keys full F12; see full 'setup: proxy' "full run: data port 9443"
keys full F12; see full 'setup: summary' "full run: summary"
# No shadow file yet: setup stops before haven-setup, naming file and fix.
keys full Enter
see full "Cannot set the console password of root: $full/etc/shadow cannot be used: No such file or directory" \
    "a missing shadow file stops setup, naming the file" 30
see full "restore it from its backup $full/etc/shadow- in a rescue shell, or redeploy the appliance; then choose Retry" \
    "and saying how to fix it"
see full "haven-setup did not run" "and that haven-setup did not run"
[ ! -e "$full/var/lib/haven/firstboot.done" ] && [ ! -e "$dir/full/havend.conf" ]
ok $? "no done marker, no haven-setup run"
# A realistic Debian shadow file: root locked, system and user accounts.
cat >"$dir/shadow.orig" <<'SHADOW'
root:!*:20228:0:99999:7:::
daemon:*:20228:0:99999:7:::
bin:*:20228:0:99999:7:::
sys:*:20228:0:99999:7:::
www-data:*:20228:0:99999:7:::
nobody:*:20228:0:99999:7:::
systemd-network:!*:20263::::::
messagebus:!:20263::::::
mysql:!:20779::::::
sshd:!:20779::::::
_chrony:!:20779::::::
ops:$y$j9T$Lq0mbLIgRs2qYtYyTAaO61$0A8N1bYh5b4b6JzXo9R1l8tB6vU1p9b5q3L0mLQ0W/A:20500:0:99999:7:::
SHADOW
cp "$dir/shadow.orig" "$full/etc/shadow"
chown root:shadow "$full/etc/shadow" && chmod 640 "$full/etc/shadow"
# Unwritable: immutable (root may write anything else).
if chattr +i "$full/etc/shadow"; then
	keys full F12
	see full "cannot replace $full/etc/shadow: Operation not permitted\. The file or its directory is immutable: clear the flag" \
	    "an immutable shadow file: Retry stops again, naming file and fix" 30
	cmp -s "$dir/shadow.orig" "$full/etc/shadow" &&
	    [ -z "$(ls "$full/etc" | grep '^shadow\.')" ]
	ok $? "the shadow file is untouched and no temp file is left"
	chattr -i "$full/etc/shadow"
else
	fail "chattr +i is refused here: the unwritable case is untested"
	fail "the shadow file is untouched (not run)"
fi
keys full F12
see full "refused root" "Retry with the shadow file: haven-setup runs and fails" 60
see full 'setup: setup failed' "haven-setup failing shows the failure"
see full "Last lines of haven-setup" "with haven-setup's last lines"
like "$(grep '^root:' "$full/etc/shadow")" '^root:\$6\$' \
    "root's password is set before haven-setup, for a console login if it fails"
see full "Go Back to change the settings .*, or Retry" "and offers Back"
keys full BTab Enter
see full 'setup: summary' "Back: the summary"
keys full Tab Enter; see full 'setup: proxy' "Back: proxy"
keys full BTab Enter; see full 'setup: data network' "Back: data"
keys full BTab Enter; see full 'setup: vault' "Back: vault"
keys full BTab Enter; see full 'setup: database' "Back: database"
userpw=Us3r-pw-$$
keys full Tab Space Tab; type_in full "$rootpw"; keys full Tab
type_in full "$userpw"; keys full F12
see full 'setup: vault' "the entered database passwords are taken"
keys full F12 ; see full 'setup: data network' "again: data"
keys full F12 ; see full 'setup: proxy' "again: proxy"
keys full F12 ; see full 'setup: summary' "again: summary"
keys full Enter
see full 'setup: done' "haven-setup succeeds: the last screen" 180
# The progress screen is often too quick for capture-pane; the terminal
# stream (pipe-pane) has every update drawn: "Step k of N: title".
grep -a -Eq '[0-9]+ of [0-9]+: [A-Z][a-z]+ ' "$dir/full.out"
ok $? "the progress screen showed haven-setup's steps as they came"
grep -a -Eq '(^|[^0-9])([0-9]+) of \2: [A-Z][a-z]+ ' "$dir/full.out"
ok $? "the progress screen reached the last step (k of k)"
done_screen=$(flat full)
like "$done_screen" "Admin URL: https://[0-9.]+:44315/" "it shows the admin URL"
like "$done_screen" "Passphrase: $PASS_RE" "it shows the passphrase"
like "$done_screen" "Console login: root with the admin password; SSH: keys only" \
    "it says root logs in on the console with the admin password, SSH by key"
# root's console password: a SHA-512 crypt of the admin password,
# verified with perl's crypt(3); everything else byte for byte.
hash=$(sed -n 's/^root:\([^:]*\):.*/\1/p' "$full/etc/shadow")
like "$hash" '^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$' "root's field is a \$6\$ hash"
HASH=$hash perl -e 'exit(crypt("Adm1n!pass", $ENV{HASH}) eq $ENV{HASH} ? 0 : 1)'
ok $? "it verifies with crypt() against the admin password"
HASH=$hash perl -e 'exit(crypt("Adm1n!pasS", $ENV{HASH}) eq $ENV{HASH} ? 1 : 0)'
ok $? "and not against another password"
is "$(sed 's/^root:[^:]*:/root:HASH:/' "$full/etc/shadow")" \
    "$(sed 's/^root:[^:]*:/root:HASH:/' "$dir/shadow.orig")" \
    "every other line and field of the shadow file is unchanged"
cmp -s <(grep -v '^root:' "$full/etc/shadow") <(grep -v '^root:' "$dir/shadow.orig")
ok $? "the other accounts' lines are byte-identical"
is "$(stat -c '%a %U:%G' "$full/etc/shadow")" "640 root:shadow" \
    "the shadow file keeps its mode and owner (0640 root:shadow)"
is "$(ls "$full/etc" | grep '^shadow\.')" "" "no temp file is left beside it"
grep -aqF -e "$hash" -e 'Adm1n!pass' "$dir/full.out"
[ $? -eq 1 ]; ok $? "neither the password nor the hash ever reached the terminal"
pass_shown=$(printf '%s' "$done_screen" | grep -Eo "Passphrase: $PASS_RE" | head -1)
[ -n "$pass_shown" ] && [ "${pass_shown#Passphrase: }" = "$(cat "$dir/full/state/passphrase" 2>/dev/null)" ]
ok $? "the passphrase shown is the one setup stored"
is "$(cat "$dir/full/db.pass" 2>/dev/null)" "$userpw" \
    "the database password entered reached haven-setup"
grep -q "^data_port = 9443" "$dir/full/havend.conf"
ok $? "havend.conf has the data port"
[ -f "$full/var/lib/haven/firstboot.done" ]
ok $? "the done marker is written"
left=$(find "$TMPDIR" -name 'haven-firstboot.*' 2>/dev/null)
is "$left" "" "the private INI/password files are gone"
keys full Enter
wait_for 10 grep -q WIZARD-EXIT=0 "$dir/full.out"
ok $? "Finish ends the wizard with status 0"
last=$(tr -d '\r' <"$dir/full.out" | grep -a 'finished; admin URL')
like "$last" "finished; admin URL https://[0-9.]+:44315/" \
    "after the screen closes, the admin URL is printed"
unlike "$last" "$PASS_RE" "but not the passphrase"
is "$(mariadb --defaults-file="$dir/db/root.cnf" -N -B -e \
    "SELECT name FROM haven.users")" admin "the admin account exists"
out=$(HAVEN_ROOT=$full "$FB" 2>&1)
like "$out" "already done" "a second start does nothing: setup is done"
