#!/bin/sh
# End to end for ephemeral-krl-sync against the real `sshca serve` (its
# Unix socket, --url unix:SOCKET) and a small python3 HTTP server on
# loopback (host.conf's krl_url) that serves crafted answers:
#   --init on a missing file writes an empty KRL that ssh-keygen -Q reads
#   (the certificate is not revoked); --init on an existing file leaves it;
#   the first sync writes the CA's KRL byte for byte (mode 0644, no temp
#   file left); an unchanged KRL is a 304 (If-None-Match "VERSION") and the
#   file is untouched (inode, mtime); a revocation at the CA reaches the
#   file (ssh-keygen -Q: REVOKED); with the CA down, a garbage body, an
#   empty one, an HTTP 500, a truncated body, a KRL over 16 MiB (with and
#   without Content-Length), a fetch that times out and an older KRL (a
#   replay) the run exits 1 and the KRL stays byte for byte; a newer KRL
#   from krl_url replaces it; two runs at once: the second waits on the
#   lock (seen in /proc/locks) and then finds the KRL current. In a private
#   mount namespace (unshare -m), a tmpfs on /run holds a journald socket
#   of the test's own, and the records (MESSAGE_ID, SYSLOG_IDENTIFIER,
#   EPH_KRL_*) of --init, updated, unchanged, refused and failed are
#   checked; without one, those checks are left out.
#
# Needs root (lib.sh: useradd, the daemon's privilege drop) and python3.
# Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

if [ "$(id -u)" -eq 0 ] && [ -z "${EPH_E2E_NS:-}" ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	EPH_E2E_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi
# shellcheck disable=SC2034 # lib.sh reads these
E2E_TOOLS="python3 stat cmp"
. "$(dirname "$0")/lib.sh"
KRLSYNC=${KRLSYNC:-$(cd "$(dirname "$0")/../.." && pwd)/host/ephemeral-krl-sync}
[ -x "$KRLSYNC" ] || fail "no ephemeral-krl-sync at $KRLSYNC (build first)"

py_pid=""
bg_pids=""
journal_pid=""
krlsync_cleanup() {
	touch "$tmp/py/release" 2>/dev/null
	for p in $bg_pids $py_pid $journal_pid; do kill "$p" 2>/dev/null; done
	for p in $bg_pids $py_pid $journal_pid; do wait "$p" 2>/dev/null; done
}
e2e_cleanup_hook=krlsync_cleanup

# A journald socket of our own (one JSON object per record), only inside
# the private mount namespace: /run is a tmpfs there and nowhere else.
journal=""
if [ -n "${EPH_E2E_NS:-}" ] && mount -t tmpfs -o mode=0755 tmpfs /run 2>/dev/null; then
	mkdir -p /run/systemd/journal
	cat >"$tmp/journald.py" <<'EOP'
import json, os, socket, sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2] + ".tmp", "w"):
    pass
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
out = open(sys.argv[2], "a", buffering=1)
while True:
    rec = {}
    for line in s.recv(1 << 20).split(b"\n"):
        if b"=" in line:
            k, v = line.split(b"=", 1)
            rec[k.decode()] = v.decode("utf-8", "replace")
    out.write(json.dumps(rec) + "\n")
EOP
	python3 "$tmp/journald.py" /run/systemd/journal/socket "$tmp/journal" 2>"$tmp/journald.log" &
	journal_pid=$!
	journal=1
else
	echo "note: no private mount namespace: the journal records are not checked"
fi

e2e_setup
e2e_start

host="$tmp/host"
mkdir -m 0755 "$host" "$tmp/py"
krl="$host/krl"
# The crafted server's answers, chosen by $tmp/py/mode per request.
cat >"$tmp/krlserver.py" <<'EOP'
import http.server, os, sys, time

d = sys.argv[1]


def path(name):
    return os.path.join(d, name)


def read(name):
    with open(path(name), "rb") as f:
        return f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, etag=None):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(path("requests"), "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("If-None-Match", "-")))
        mode = read("mode").decode().strip()
        if mode == "hold":
            open(path("arrived"), "w").close()
            while not os.path.exists(path("release")):
                time.sleep(0.05)
            mode = "krl"
        try:
            if mode == "hang":
                while not os.path.exists(path("release")):
                    time.sleep(0.05)
            elif mode == "krl":
                etag = '"%s"' % read("version").decode().strip()
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                else:
                    self.reply(200, read("krl"), etag)
            elif mode == "garbage":
                self.reply(200, b"\x00\x01 not a KRL, just bytes " * 20)
            elif mode == "empty":
                self.reply(200, b"")
            elif mode == "500":
                self.reply(500, b'{"error": "internal", "detail": "internal error"}')
            elif mode == "truncated":
                body = read("krl")
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + 100))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
            elif mode in ("big", "bigstream"):
                n = 17 * 1024 * 1024
                self.send_response(200)
                if mode == "big":
                    self.send_header("Content-Length", str(n))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                chunk = b"\0" * 65536
                for _ in range(n // len(chunk)):
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


s = Server(("127.0.0.1", 0), Handler)
with open(path("port.tmp"), "w") as f:
    f.write(str(s.server_address[1]))
os.rename(path("port.tmp"), path("port"))
s.serve_forever()
EOP
echo krl >"$tmp/py/mode"
python3 "$tmp/krlserver.py" "$tmp/py" 2>"$tmp/py/log" &
py_pid=$!
i=0
until [ -f "$tmp/py/port" ]; do
	kill -0 "$py_pid" 2>/dev/null || fail "the python server exited: $(cat "$tmp/py/log")"
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the python server did not start"
	sleep 0.1
done
py_url="http://127.0.0.1:$(cat "$tmp/py/port")/v1/krl"

cat >"$host/host.conf" <<EOC
host = { names = [ "web01.example.com" ]; };
trusted_ca_keys = "$tmp/ca.pub";
revoked_keys = "$krl";
accept = ( { task = "ping"; users = [ "deploy" ]; } );
krl_url = "$py_url";
EOC
chmod 0644 "$host/host.conf"

# sync [ARGS]: the run's exit status in $rc, its stderr in $tmp/out.
sync_krl() {
	rc=0
	"$KRLSYNC" -f "$host/host.conf" "$@" >"$tmp/out" 2>&1 || rc=$?
}
sync_ca() { sync_krl --url "unix:$sock"; }
expect_rc() {
	[ "$rc" = "$1" ] || fail "$2: exit $rc, expected $1: $(cat "$tmp/out")"
	[ -z "${3:-}" ] || grep -q -- "$3" "$tmp/out" || fail "$2: no '$3' in: $(cat "$tmp/out")"
}
# The KRL's identity: inode, size, mtime to the nanosecond.
krl_stat() { stat -c '%i %s %y' "$krl"; }
query() {
	qrc=0
	"$SSH_KEYGEN" -Q -f "$krl" "$tmp/ping-cert.pub" >"$tmp/q" 2>&1 || qrc=$?
}
expect_not_revoked() {
	query
	if [ "$qrc" != 0 ] || ! grep -q ': ok$' "$tmp/q"; then
		fail "$1: ssh-keygen -Q (exit $qrc): $(cat "$tmp/q")"
	fi
}
expect_revoked() {
	query
	if [ "$qrc" != 1 ] || ! grep -q 'REVOKED' "$tmp/q"; then
		fail "$1: ssh-keygen -Q (exit $qrc): $(cat "$tmp/q")"
	fi
}
# The KRL stays what it was: same bytes, same file.
keep() {
	cp "$krl" "$tmp/kept"
	kept_stat=$(krl_stat)
}
expect_kept() {
	cmp -s "$krl" "$tmp/kept" || fail "$1: the KRL changed"
	[ "$(krl_stat)" = "$kept_stat" ] || fail "$1: the KRL was rewritten"
	[ "$(ls -A "$host" | sort | tr '\n' ' ')" = "host.conf krl krl.lock " ] ||
		fail "$1: files left beside the KRL: $(ls -A "$host")"
}
# expect_log MSGID JQ WHAT: a record of ours with that MESSAGE_ID for which
# the jq expression holds arrives (waited for: the receiver is another
# process).
expect_log() {
	[ -n "$journal" ] || return 0
	i=0
	until [ -f "$tmp/journal" ] && jq -e -s --arg id "$1" \
		"map(select(.MESSAGE_ID == \$id and .SYSLOG_IDENTIFIER == \"ephemeral-krl-sync\" and ($2))) | length > 0" \
		"$tmp/journal" >/dev/null 2>&1; do
		kill -0 "$journal_pid" 2>/dev/null || fail "the journal receiver died: $(cat "$tmp/journald.log")"
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "$3: no journal record $1 with $2: $(tail -n 3 "$tmp/journal")"
		sleep 0.1
	done
}
msg_updated=801f18cbc42889bfcf0615bb9c81770b
msg_unchanged=b3cd606f860cd794a8fc7028251fa59c
msg_refused=376f0d9aed66f794dfd7cc474f19bede
msg_failed=f8f3bbb3eb96f5ced22e0ab86d4a8af8
msg_init=c060bdac39ccab79f974694347b624a3
ca_krl() { curl -sS --max-time 20 --unix-socket "$sock" -o "$1" http://ca/v1/krl || fail "GET /v1/krl"; }

# A certificate of the CA, for ssh-keygen -Q.
api "$req" POST /v1/requests "$ping_json"
expect 201 "auto-issue"
field .certificate >"$tmp/ping-cert.pub"
ping_id=$(field .id)

# --- --init
sync_krl --init
expect_rc 0 "--init on a missing KRL" "wrote an empty KRL"
expect_log $msg_init '.EPH_KRL_FILE == "'"$krl"'" and (.MESSAGE | test("wrote an empty KRL"))' "--init"
expect_not_revoked "the empty KRL of --init"
[ "$(stat -c %a "$krl")" = 644 ] || fail "--init: mode $(stat -c %a "$krl")"
keep
sync_krl --init
expect_rc 0 "--init on an existing KRL" "left alone"
expect_kept "--init on an existing KRL"

# --- the first sync from the CA replaces version 0
sync_ca
expect_rc 0 "first sync" "KRL version 1, was 0"
expect_log $msg_updated '.EPH_KRL_VERSION == "1" and .EPH_KRL_OLD_VERSION == "0" and .PRIORITY == "5"' \
	"first sync"
ca_krl "$tmp/ca.krl"
cmp -s "$krl" "$tmp/ca.krl" || fail "first sync: the KRL is not the CA's"
[ "$(stat -c %a "$krl")" = 644 ] || fail "first sync: mode $(stat -c %a "$krl")"
expect_not_revoked "before the revocation"

# --- unchanged: a 304, the file untouched
keep
sync_ca
expect_rc 0 "unchanged" "not modified"
expect_log $msg_unchanged '.EPH_KRL_VERSION == "1" and .PRIORITY == "7"' "unchanged"
expect_kept "unchanged"
sync_krl --init
expect_rc 0 "--init after a sync" "left alone"
expect_kept "--init after a sync"

# --- a revocation at the CA reaches the file
api "$req" POST "/v1/requests/$ping_id/revoke" '{"reason": "task done"}'
expect 200 "revoke"
sync_ca
expect_rc 0 "sync after the revocation" "KRL version 2, was 1, serials revoked: 1"
expect_log $msg_updated '.EPH_KRL_VERSION == "2" and .EPH_KRL_SERIALS == "1"' "after the revocation"
ca_krl "$tmp/ca.krl"
cmp -s "$krl" "$tmp/ca.krl" || fail "after the revocation: the KRL is not the CA's"
expect_revoked "after the revocation"
cp "$tmp/ca.krl" "$tmp/py/krl"
echo 2 >"$tmp/py/version"

# --- the CA down: exit 1, the KRL kept
e2e_stop
keep
sync_ca
expect_rc 1 "CA down" "fetch failed"
expect_log $msg_failed '(.EPH_REASON | test("unix:")) and .PRIORITY == "3"' "CA down"
expect_kept "CA down"
expect_revoked "CA down"

# --- crafted answers from krl_url; each keeps the KRL
for mode in garbage empty 500 truncated big bigstream; do
	echo "$mode" >"$tmp/py/mode"
	sync_krl
	case $mode in
	garbage | empty)
		expect_rc 1 "$mode" "not a KRL"
		expect_log $msg_refused '.EPH_REASON | test("not a KRL")' "$mode"
		;;
	500) expect_rc 1 "$mode" "HTTP 500" ;;
	big | bigstream) expect_rc 1 "$mode" "over 16777216 bytes" ;;
	*) expect_rc 1 "$mode" "fetch failed" ;;
	esac
	expect_kept "$mode"
	expect_revoked "$mode"
done
echo hang >"$tmp/py/mode"
sync_krl --timeout 1
expect_rc 1 "a fetch that does not answer" "fetch failed"
expect_kept "timeout"

# A replayed older KRL (version 1, nothing revoked) is refused.
echo krl >"$tmp/py/mode"
"$SSHCA" krl --key "$tmp/ca.pub" --krl-version 1 -o "$tmp/py/krl" >/dev/null 2>&1 || fail "sshca krl"
echo 1 >"$tmp/py/version"
sync_krl
expect_rc 1 "an older KRL" "older than version 2"
expect_log $msg_refused '.EPH_KRL_VERSION == "1" and .EPH_KRL_OLD_VERSION == "2"' "an older KRL"
expect_kept "an older KRL"
expect_revoked "an older KRL"
tail -n 1 "$tmp/py/requests" | grep -q '^/v1/krl "2"$' ||
	fail "no If-None-Match \"2\": $(tail -n 1 "$tmp/py/requests")"

# --- a newer KRL replaces it; two runs at once
"$SSHCA" krl --key "$tmp/ca.pub" --krl-version 9 --serial 1-1000 -o "$tmp/py/krl" >/dev/null 2>&1 ||
	fail "sshca krl"
echo 9 >"$tmp/py/version"
echo hold >"$tmp/py/mode"
: >"$tmp/py/requests"
"$KRLSYNC" -f "$host/host.conf" >"$tmp/out.a" 2>&1 &
a_pid=$!
bg_pids="$a_pid"
i=0
until [ -f "$tmp/py/arrived" ]; do
	i=$((i + 1))
	[ "$i" -lt 200 ] || fail "the first run never reached the server: $(cat "$tmp/out.a")"
	sleep 0.1
done
"$KRLSYNC" -f "$host/host.conf" >"$tmp/out.b" 2>&1 &
b_pid=$!
bg_pids="$a_pid $b_pid"
# The second run blocks on the lock (a "->" waiter in /proc/locks).
i=0
until grep -q -- "-> FLOCK .* $b_pid " /proc/locks; do
	kill -0 "$b_pid" 2>/dev/null || fail "the second run did not wait: $(cat "$tmp/out.b")"
	i=$((i + 1))
	[ "$i" -lt 200 ] || fail "the second run is not waiting on the lock"
	sleep 0.1
done
[ "$(wc -l <"$tmp/py/requests")" = 1 ] || fail "the second run fetched under the lock"
touch "$tmp/py/release"
rc=0
wait "$a_pid" || rc=$?
[ "$rc" = 0 ] || fail "the first run: exit $rc: $(cat "$tmp/out.a")"
rc=0
wait "$b_pid" || rc=$?
[ "$rc" = 0 ] || fail "the second run: exit $rc: $(cat "$tmp/out.b")"
bg_pids=""
grep -q "KRL version 9, was 2, serials revoked: 1000" "$tmp/out.a" ||
	fail "the first run: $(cat "$tmp/out.a")"
if ! grep -q "waited for another run" "$tmp/out.b" || ! grep -q "not modified" "$tmp/out.b"; then
	fail "the second run: $(cat "$tmp/out.b")"
fi
sed -n 2p "$tmp/py/requests" | grep -q '^/v1/krl "9"$' ||
	fail "the second run's request: $(cat "$tmp/py/requests")"
cmp -s "$krl" "$tmp/py/krl" || fail "after two runs: the KRL is not the served one"
expect_revoked "after two runs"

# --quiet: nothing on stderr, the exit status says it.
echo 500 >"$tmp/py/mode"
sync_krl --quiet
if [ "$rc" != 1 ] || [ -s "$tmp/out" ]; then fail "--quiet: exit $rc: $(cat "$tmp/out")"; fi

echo "OK"
