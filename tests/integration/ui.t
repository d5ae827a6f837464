#!/bin/bash
# The admin port's UI routes without a browser (tests/e2e has the
# browser): static files and their headers, sign-in and CSRF, the
# passphrase behind the password, changing the password, alerts, disk
# usage and /metrics with a session or a bearer token.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export HAVEN_BIN=${HAVEN_BIN:-$root/build/bin}
. "$root/tests/lib/tap.sh"
. "$root/tests/lib/havend.sh"

dir=$(mktemp -d /tmp/haven-ui.XXXXXX)
trap 'havend_teardown "$dir"; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP

plan 42
havend_setup "$dir" && havend_start "$dir" || { echo "Bail out! havend did not start"; exit 1; }
url="https://127.0.0.1:$(conf_get "$dir" admin_port)"
jar=$dir/cookies
printf 'correct horse battery\n' >"$dir/pw"
chmod 600 "$dir/pw"
hctl user add admin --password-file "$dir/pw" >/dev/null

# c [CURL ARGS] PATH: body, then the status on the last line.
c() { local p=${*: -1}; curl -sk -b "$jar" -c "$jar" -w '\n%{http_code}' "${@:1:$#-1}" "$url$p"; }
code() { printf '%s' "$1" | tail -n 1; }
body() { printf '%s' "$1" | sed '$d'; }
json() { curl -sk -b "$jar" -c "$jar" -w '\n%{http_code}' -H 'Content-Type: application/json' "$@"; }

# Static files.
h=$(curl -sk -D - -o "$dir/index.html" "$url/")
like "$h" '^HTTP/1.1 200' "/ serves the UI"
like "$h" "Content-Security-Policy: default-src 'self'" "with a CSP"
like "$h" 'X-Content-Type-Options: nosniff' "and nosniff"
grep -q '<script src="app.js" defer></script>' "$dir/index.html"; ok $? "index.html loads app.js"
unlike "$(cat "$dir/index.html")" '<script>|[[:space:]]style=|[[:space:]]on[a-z]+=' "no inline script, style or handler (the CSP forbids them)"
for f in app.js chart.js app.css favicon.svg; do
	is "$(curl -sk -o /dev/null -w '%{http_code}' "$url/$f")" 200 "$f is served"
done
# A browser that accepts gzip gets the compressed copy; the bytes are the
# same files, and the whole UI stays small on a slow link.
wire=0
for f in index.html app.js chart.js app.css favicon.svg; do
	h=$(curl -sk -D - -o "$dir/$f.gz" -H 'Accept-Encoding: gzip' "$url/$f")
	gunzip -c "$dir/$f.gz" 2>/dev/null | cmp -s - "$root/src/www/$f" ||
	    cmp -s "$dir/$f.gz" "$root/src/www/$f"
	ok $? "$f over gzip is the file itself"
	wire=$((wire + $(wc -c <"$dir/$f.gz")))
done
like "$(curl -sk -D - -o /dev/null -H 'Accept-Encoding: gzip, br' "$url/app.js")" \
    'Content-Encoding: gzip' "app.js is sent gzipped when asked"
unlike "$(curl -sk -D - -o /dev/null "$url/app.js")" 'Content-Encoding' \
    "and plain to a client that does not accept gzip"
unlike "$(curl -sk -D - -o /dev/null -H 'Accept-Encoding: gzip;q=0' "$url/app.js")" \
    'Content-Encoding' "or refuses it with q=0"
[ "$wire" -lt 60000 ]; ok $? "the whole UI is $wire bytes on the wire (under 60,000)"

# Not signed in.
r=$(c /api/v1/alerts)
is "$(code "$r")" 401 "alerts need a session"
r=$(c /metrics)
is "$(code "$r")" 401 "/metrics needs a session or a token"

r=$(json -d '{"name":"admin","password":"correct horse battery"}' "$url/api/v1/session")
is "$(code "$r")" 200 "sign in"
csrf=$(body "$r" | jq -r .csrf_token)

r=$(json -d '{"password":"correct horse battery"}' "$url/api/v1/passphrase/reveal")
is "$(code "$r")" 403 "reveal without the CSRF token: 403"
like "$(body "$r")" '"code":"csrf"' "... as csrf"
r=$(json -H "X-CSRF-Token: $csrf" -d '{"password":"wrong"}' "$url/api/v1/passphrase/reveal")
is "$(code "$r")" 403 "reveal with a wrong password: 403"
like "$(body "$r")" 'the password is wrong: enter the password you signed in with' "... saying what to do"
r=$(json -H "X-CSRF-Token: $csrf" -d '{}' "$url/api/v1/passphrase/reveal")
is "$(code "$r")" 400 "reveal without a password: 400"
r=$(json -H "X-CSRF-Token: $csrf" -d '{"password":"correct horse battery"}' "$url/api/v1/passphrase/reveal")
is "$(code "$r")" 200 "reveal with the password"
is "$(body "$r" | jq -r .passphrase)" "$(hctl passphrase show | tail -n 1)" "... is the passphrase"

r=$(json -H "X-CSRF-Token: $csrf" -d '{"current":"correct horse battery","new":"short"}' "$url/api/v1/password")
like "$(code "$r") $(body "$r")" '^400 .*8 to 1024 characters' "a short new password is refused"
r=$(json -H "X-CSRF-Token: $csrf" -d '{"current":"nope","new":"a better password"}' "$url/api/v1/password")
is "$(code "$r")" 403 "a wrong current password is refused"
r=$(json -H "X-CSRF-Token: $csrf" -d '{"current":"correct horse battery","new":"a better password"}' "$url/api/v1/password")
is "$(code "$r")" 200 "the password is changed"
r=$(curl -sk -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d '{"name":"admin","password":"a better password"}' "$url/api/v1/session")
is "$(code "$r")" 200 "the new password signs in"

r=$(c /api/v1/alerts)
like "$(code "$r") $(body "$r")" '^200 \{"alerts":\[' "alerts"
r=$(c /api/v1/storage)
like "$(body "$r")" '"cache":\{"path":"[^"]+","exists":false,"size_bytes":[1-9]' "disk usage, before the cache exists"

r=$(c /metrics)
is "$(code "$r")" 200 "/metrics with a session"
like "$(body "$r")" '^haven_uptime_seconds [0-9]+$' "uptime"
like "$(body "$r")" '^haven_agents_connected 0$' "connected agents"
like "$(body "$r")" '^haven_certificate_days_left\{cert="server"\} 109[0-9]$' "certificate days left"
like "$(body "$r")" '^haven_worker_restarts_total\{slot="0",kind="control"\} 0$' "worker restarts"

tok=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$tok" >"$dir/state/metrics.token"
chmod 644 "$dir/state/metrics.token"
is "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/metrics")" 401 \
    "a token file others can read is not used"
chmod 600 "$dir/state/metrics.token"
is "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/metrics")" 200 \
    "the bearer token from state_dir/metrics.token"
is "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${tok}x" "$url/metrics")" 401 \
    "a wrong token is refused"
