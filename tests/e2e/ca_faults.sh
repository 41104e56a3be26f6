#!/bin/sh
# Faults under the real CA daemon: kill -9 of every daemon process during
# a stream of auto-approved issuances (every certificate a client received
# has its issue record, the audit chain is intact, no serial repeats, new
# serials go on above every earlier one), and a database on a tiny tmpfs
# that is filled (503 with a JSON error, nothing issued, reads still
# served, and issuance again once space returns) or made read-only, at
# the start or while the daemon runs (503 likewise, nothing issued, and
# issuance again once it is writable, by the same daemon: no restart).
#
# Needs root (useradd, privilege drop, a private mount namespace for the
# tmpfs). Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

if [ "$(id -u)" -eq 0 ] && [ -z "${EPH_E2E_NS:-}" ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	EPH_E2E_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi
E2E_TOOLS="mount umount dd"
. "$(dirname "$0")/lib.sh"
[ -n "${EPH_E2E_NS:-}" ] || { echo "skip: no private mount namespace (unshare -m)"; exit 77; }

loops=""
faults_cleanup() {
	touch "$tmp/stop" 2>/dev/null
	for p in $loops; do kill "$p" 2>/dev/null; done
	for p in $loops; do wait "$p" 2>/dev/null; done
	mountpoint -q "$tmp/db" 2>/dev/null && umount -l "$tmp/db"
}
e2e_cleanup_hook=faults_cleanup

mkdir -m 0700 "$tmp/db"
e2e_setup "$tmp/db"
mount -t tmpfs -o "size=16m,mode=0700,uid=$(id -u "$ca_user")" tmpfs "$tmp/db" ||
	fail "mount tmpfs"
e2e_start

# --- kill -9 during a stream of issuances
# Each client saves every answer; a file holding a certificate is one a
# client received, whatever curl said about the rest of the exchange.
cat >"$tmp/loop.sh" <<'EOL'
dir=$1 sock=$2 json=$3 stop=$4
n=0
while [ ! -e "$stop" ]; do
	n=$((n + 1))
	curl -s --max-time 10 --unix-socket "$sock" -H 'Content-Type: application/json' \
		--data-binary "$json" -o "$dir/$n" http://ca/v1/requests || sleep 0.05
done
EOL
nclients=4
for c in $(seq "$nclients"); do
	mkdir "$tmp/got$c"
	chown "$req:" "$tmp/got$c"
	runuser -u "$req" -- sh "$tmp/loop.sh" "$tmp/got$c" "$sock" "$ping_json" "$tmp/stop" &
	loops="$loops $!"
done
received() { cat "$tmp"/got*/* 2>/dev/null | grep -c '"certificate"' || true; }
i=0
until [ "$(received)" -ge 200 ]; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "the clients got no 200 certificates in 30 s"
	sleep 0.1
done
e2e_kill9
sleep 0.5 # the clients see the daemon gone
touch "$tmp/stop"
for p in $loops; do wait "$p" 2>/dev/null || true; done
loops=""

# The serials of every certificate received, read from the certificates.
: >"$tmp/got.serials"
for f in "$tmp"/got*/*; do
	cert=$(jq -r '.certificate // empty' "$f" 2>/dev/null) || continue
	[ -n "$cert" ] || continue
	printf '%s\n' "$cert" >"$tmp/c.pub"
	s=$("$SSH_KEYGEN" -L -f "$tmp/c.pub" | sed -n 's/^ *Serial: //p')
	[ -n "$s" ] || fail "a received certificate without a serial: $f"
	[ "$s" = "$(jq -r .serial "$f")" ] || fail "$f: the certificate's serial is not .serial"
	echo "$s" >>"$tmp/got.serials"
done
ngot=$(wc -l <"$tmp/got.serials")
[ "$ngot" -ge 200 ] || fail "only $ngot certificates parsed"
dup=$(sort -n "$tmp/got.serials" | uniq -d | head -n 3)
[ -z "$dup" ] || fail "serial(s) handed out twice before the crash: $dup"

e2e_start
audit_verify "after kill -9"
db "SELECT serial FROM audit WHERE type = 'issue' ORDER BY serial;" >"$tmp/db.serials"
missing=$(sort -n "$tmp/got.serials" | comm -23 - "$tmp/db.serials" | head -n 3)
[ -z "$missing" ] || fail "certificates received without an issue record: serial(s) $missing"
dup=$(uniq -d "$tmp/db.serials" | head -n 3)
[ -z "$dup" ] || fail "serial(s) issued twice: $dup"
[ "$(db "SELECT count(*) FROM requests WHERE state = 'issued' AND serial IS NOT NULL;")" = \
	"$(wc -l <"$tmp/db.serials")" ] || fail "issued requests and issue records differ"
# One grant's records by serial, as an operator reads them.
s=$(head -n 1 "$tmp/got.serials")
runuser -u "$ca_user" -- "$SSHCA" audit show -f "$tmp/ca.conf" --json "$s" >"$tmp/body" ||
	fail "audit show $s"
jq -e --argjson s "$s" 'map(select(.type == "issue" and .serial == $s)) | length == 1' \
	"$tmp/body" >/dev/null || fail "audit show $s: no issue record"
high=$(sort -n "$tmp/got.serials" "$tmp/db.serials" | tail -n 1)
: >"$tmp/new.serials"
for n in $(seq 20); do
	api "$req" POST /v1/requests "$ping_json"
	expect 201 "issuance $n after the restart"
	field .serial >>"$tmp/new.serials"
done
low=$(sort -n "$tmp/new.serials" | head -n 1)
[ "$low" -gt "$high" ] || fail "serial $low after the restart is not above $high"
dup=$(sort -n "$tmp/got.serials" "$tmp/db.serials" "$tmp/new.serials" | sort -n -u |
	cat - "$tmp/new.serials" "$tmp/got.serials" | sort -n | uniq -c | awk '$1 > 2' | head -n 3)
[ -z "$dup" ] || fail "serials repeated across the restart: $dup"
audit_verify "after the restart"

# --- a full database
issued_before=$(db "SELECT count(*) FROM audit WHERE type = 'issue';")
api "$req" GET /v1/requests?mine=1
expect 200 "list before filling"
some_id=$(field '.requests[0].id')
dd if=/dev/zero of="$tmp/db/fill" bs=64k 2>/dev/null || true
# SQLite reuses the WAL's pages already written: requests go on until
# they need a new page (each such issuance must have its record), then
# every one is refused.
n201=0
while :; do
	api "$req" POST /v1/requests "$ping_json"
	[ "$status" = 201 ] || break
	n201=$((n201 + 1))
	[ "$n201" -lt 2000 ] || fail "2000 issuances on a full database"
done
issued_before=$((issued_before + n201))
for n in $(seq 20); do
	api "$req" POST /v1/requests "$ping_json"
	expect 503 "request $n on a full database"
	expect_error_json "request $n on a full database"
	! grep -q 'ssh-ed25519-cert' "$tmp/body" || fail "a certificate from a full database"
done
api "$req" GET "/v1/requests/$some_id"
expect 200 "a read on a full database"
curl -sS --unix-socket "$sock" -o /dev/null http://ca/v1/krl || fail "GET /v1/krl on a full database"
api "$req" GET /v1/healthz
expect 503 "healthz on a full database"
grep -q 'free' "$tmp/body" || fail "healthz on a full database does not say why: $(cat "$tmp/body")"
rm -f "$tmp/db/fill"
api "$req" GET /v1/healthz
expect 200 "healthz once space returns"
[ "$(db "SELECT count(*) FROM audit WHERE type = 'issue';")" = "$issued_before" ] ||
	fail "an issue record from a full database"
api "$req" POST /v1/requests "$ping_json"
expect 201 "issuance once space returns"
# A full database is not a read-only one: nothing was reopened.
curl -sS --unix-socket "$sock" http://ca/metrics >"$tmp/metrics" || fail "GET /metrics"
grep -q '^sshca_store_reopens_total 0$' "$tmp/metrics" ||
	fail "the full database was reopened: $(grep reopens "$tmp/metrics")"
audit_verify "after the full database"

# --- a read-only database (the CA user cannot write it) from the start
e2e_stop
issued_before=$(db "SELECT count(*) FROM audit WHERE type = 'issue';")
chmod 0400 "$tmp/db/ca.db"
e2e_start
ro_pid=$daemon_pid
read_only_refused() {
	for n in $(seq 5); do
		api "$req" POST /v1/requests "$ping_json"
		expect 503 "request $n on a read-only database ($1)"
		expect_error_json "request $n on a read-only database ($1)"
		! grep -q 'ssh-ed25519-cert' "$tmp/body" || fail "a certificate from a read-only database ($1)"
	done
	api "$req" GET "/v1/requests/$some_id"
	expect 200 "a read on a read-only database ($1)"
	api "$req" GET /v1/healthz
	expect 503 "healthz on a read-only database ($1)"
	grep -q 'read-only' "$tmp/body" || fail "healthz on a read-only database ($1) does not say why"
	[ "$(db "SELECT count(*) FROM audit WHERE type = 'issue';")" = "$issued_before" ] ||
		fail "an issue record from a read-only database ($1)"
}
read_only_refused "from the start"
# Writable again (SQLite made its -wal and -shm with the database's mode
# meanwhile): the same daemon reopens the database by itself.
chmod 0600 "$tmp/db"/ca.db*
api "$req" POST /v1/requests "$ping_json"
expect 201 "issuance once the database is writable, without a restart"
[ "$daemon_pid" = "$ro_pid" ] && kill -0 "$daemon_pid" || fail "the daemon was restarted"
api "$req" GET /v1/healthz
expect 200 "healthz once the database is writable"
curl -sS --unix-socket "$sock" http://ca/metrics >"$tmp/metrics" || fail "GET /metrics"
grep -q '^sshca_store_reopens_total 1$' "$tmp/metrics" ||
	fail "no reopen counted: $(grep reopens "$tmp/metrics")"

# --- read-only while the daemon runs: its open descriptors could still
# write, the store refuses to; healthz says why; then it recovers.
issued_before=$(db "SELECT count(*) FROM audit WHERE type = 'issue';")
chmod 0400 "$tmp/db"/ca.db*
read_only_refused "while running"
chmod 0600 "$tmp/db"/ca.db*
api "$req" GET /v1/healthz
expect 200 "healthz once the database is writable again"
api "$req" POST /v1/requests "$ping_json"
expect 201 "issuance once the database is writable again"
[ "$daemon_pid" = "$ro_pid" ] || fail "the daemon was restarted"
audit_verify "at the end"
e2e_stop
echo "ok: sshca serve faults ($ngot certificates received before kill -9)"
