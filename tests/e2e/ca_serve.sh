#!/bin/sh
# End to end with the real CA daemon: `sshca serve` on a temporary Unix
# socket, driven with curl(1) as real Unix users made for the test (a CA
# account, a requester, two approvers, an outsider): startup refusals
# (missing user, readable key, writable ca.conf / policy, unopenable
# database), auto-issue, a two-approval flow
# with self-approval, non-approver and double approval, revocation and the
# KRL (ssh-keygen -Q, ETag / 304), break-glass with its review, malformed
# input, SIGHUP with a broken policy, `sshca audit verify` clean and then
# detecting a hand-edited row, SIGTERM exiting 0, a restart whose serials
# go on above the old ones, the signer's death stopping the daemon, and a
# restart on lost state that keeps the KRL's revocations and serials above them.
#
# Needs root (useradd, binding as root then dropping to the CA user).
# Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

SSHCA=${SSHCA:-$(cd "$(dirname "$0")/../.." && pwd)/sshca/sshca}
SSH_KEYGEN=${SSH_KEYGEN:-ssh-keygen}

if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root (useradd, privilege drop)"; exit 77; fi
for t in curl jq sqlite3 pgrep runuser useradd userdel "$SSH_KEYGEN"; do
	command -v "$t" >/dev/null || { echo "skip: no $t"; exit 77; }
done
[ -x "$SSHCA" ] || { echo "FAIL: no sshca at $SSHCA (build first)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/eph-serve.XXXXXX)
chmod 0755 "$tmp"
# The CA's user runs sshca audit: a copy it can reach, as a build tree in
# a checkout under /root (mode 0700) is not.
mkdir -m 0755 "$tmp/bin"
cp "$SSHCA" "$tmp/bin/sshca"
SSHCA=$tmp/bin/sshca
ca_user="ephca$$"
req="ephreq$$"
ap1="ephap1$$"
ap2="ephap2$$"
other="ephno$$"
made_users=""
daemon_pid=""

cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	for u in $made_users; do userdel "$u" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/serve.log" ] && sed 's/^/serve: /' "$tmp/serve.log" >&2
	[ -f "$tmp/body" ] && sed 's/^/body: /' "$tmp/body" >&2
	exit 1
}

for u in "$ca_user" "$req" "$ap1" "$ap2" "$other"; do
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
		fail "useradd $u"
	made_users="$made_users $u"
done

# The CA's files: key and configs owned by root, state owned by the CA user.
"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
mkdir -m 0700 "$tmp/state"
chown "$ca_user:" "$tmp/state"
sock="$tmp/run/sshca.sock"

cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
groups = { leads = [ "$ap1", "$ap2" ]; };
tasks = (
  { name = "ping"; requesters = [ "$req" ]; hosts = [ "web01.example.com" ];
    login_as = "deploy"; default_ttl = "10m"; },
  { name = "db"; requesters = [ "$req" ]; approvers = [ "@leads" ]; approvals = 2;
    hosts = [ "db01.example.com" ]; login_as = "postgres"; require_reason = true; },
  { name = "glass"; break_glass = true; requesters = [ "$req" ]; approvers = [ "@leads" ];
    hosts = [ "db01.example.com" ]; login_as = "root"; max_ttl = "5m"; require_reason = true; }
);
EOP
cp "$tmp/policy.conf" "$tmp/policy.good"
cat >"$tmp/ca.conf" <<EOC
ca_key = "$tmp/ca";
policy = "$tmp/policy.conf";
revoked_keys = "$tmp/state/krl";
database = "$tmp/state/ca.db";
socket = "$sock";
user = "$ca_user";
EOC
chmod 0644 "$tmp/ca.conf" "$tmp/policy.conf"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C test -f "$tmp/user"
pub=$(cut -d' ' -f1-2 "$tmp/user.pub")

# --- startup refusals: each exits 1 with one line saying why
refused() { # what, pattern: sshca serve must refuse to start
	if "$SSHCA" serve -f "$tmp/ca.conf" >"$tmp/refused" 2>&1; then
		fail "sshca serve started with $1"
	fi
	grep -q "$2" "$tmp/refused" || fail "$1: unclear refusal: $(cat "$tmp/refused")"
	[ "$(wc -l <"$tmp/refused")" -eq 1 ] || fail "$1: not one line: $(cat "$tmp/refused")"
}
sed "s/^user = .*/user = \"ephnouser$$\";/" "$tmp/ca.conf" >"$tmp/ca.conf.nouser"
mv "$tmp/ca.conf" "$tmp/ca.conf.good"
cp "$tmp/ca.conf.nouser" "$tmp/ca.conf"
refused "a missing user" 'does not exist'
cp "$tmp/ca.conf.good" "$tmp/ca.conf"
chmod 0644 "$tmp/ca"
refused "a CA key others can read" 'unsafe'
chmod 0600 "$tmp/ca"
chmod 0666 "$tmp/ca.conf"
refused "a ca.conf others can write" 'ca.conf: unsafe'
chmod 0644 "$tmp/ca.conf"
chmod 0666 "$tmp/policy.conf"
refused "a policy others can write" 'policy.conf: unsafe'
chmod 0644 "$tmp/policy.conf"
chown root: "$tmp/state"
refused "a database it cannot open" 'database .*cannot open'
chown "$ca_user:" "$tmp/state"

"$SSHCA" serve -f "$tmp/ca.conf" >"$tmp/serve.log" 2>&1 &
daemon_pid=$!
i=0
while [ ! -S "$sock" ]; do
	kill -0 "$daemon_pid" 2>/dev/null || fail "sshca serve exited at startup"
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "no socket after 10 s"
	sleep 0.1
done

# api USER METHOD PATH [JSON]: the body in $tmp/body, the status in $status.
api() {
	u=$1 m=$2 p=$3
	shift 3
	if [ $# -gt 0 ]; then
		out=$(runuser -u "$u" -- curl -sS --unix-socket "$sock" -X "$m" \
			-H 'Content-Type: application/json' --data-binary "$1" \
			-w '\n%{http_code}' "http://ca$p") || fail "curl $m $p as $u"
	else
		out=$(runuser -u "$u" -- curl -sS --unix-socket "$sock" -X "$m" \
			-w '\n%{http_code}' "http://ca$p") || fail "curl $m $p as $u"
	fi
	status=$(printf '%s\n' "$out" | tail -n 1)
	printf '%s\n' "$out" | sed '$d' >"$tmp/body"
}
expect() { [ "$status" = "$1" ] || fail "$2: expected HTTP $1, got $status"; }
field() { jq -r "$1" "$tmp/body"; }

# --- auto-issue
api "$req" POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
expect 201 "auto-issue"
[ "$(field .state)" = issued ] || fail "auto-issue: state $(field .state)"
field .certificate >"$tmp/ping-cert.pub"
"$SSH_KEYGEN" -L -f "$tmp/ping-cert.pub" >"$tmp/ping-cert.txt" || fail "ssh-keygen -L refuses the certificate"
grep -q 'eph:ping@web01.example.com' "$tmp/ping-cert.txt" || fail "principal missing"
ping_id=$(field .id)
ping_serial=$(field .serial)

# --- two approvals
api "$req" POST /v1/requests "{\"task\": \"db\", \"hosts\": [\"db01.example.com\"], \"reason\": \"INC-1 vacuum\", \"public_key\": \"$pub\"}"
expect 201 "two-approval request"
[ "$(field .state)" = pending ] || fail "db: state $(field .state)"
[ "$(field .approvals.required)" = 2 ] || fail "db: required $(field .approvals.required)"
db_id=$(field .id)
api "$req" POST "/v1/requests/$db_id/approve" '{"comment": "me"}'
expect 403 "self-approval"
# Someone who may not approve the task may not see the request either:
# refused as unknown (404), so ids leak nothing.
api "$other" POST "/v1/requests/$db_id/approve" '{}'
expect 404 "non-approver"
api "$ap1" POST "/v1/requests/$db_id/approve" '{"comment": "ok"}'
expect 200 "first approval"
[ "$(field .state)" = pending ] || fail "db after one approval: $(field .state)"
api "$ap1" POST "/v1/requests/$db_id/approve" '{"comment": "again"}'
expect 200 "same approver again"
[ "$(field .approvals.valid)" = 1 ] || fail "double approval counted $(field .approvals.valid)"
[ "$(field .state)" = pending ] || fail "double approval issued"
api "$ap2" POST "/v1/requests/$db_id/approve" '{}'
expect 200 "second approval"
[ "$(field .state)" = issued ] || fail "db after two approvals: $(field .state)"
field .certificate | "$SSH_KEYGEN" -L -f - >/dev/null || fail "db certificate refused by ssh-keygen -L"
api "$ap2" POST "/v1/requests/$db_id/approve" '{}'
expect 409 "approving an issued request"

# --- revoke and the KRL
curl -sS --unix-socket "$sock" -D "$tmp/krl.h0" -o "$tmp/krl0" http://ca/v1/krl || fail "GET /v1/krl"
api "$req" POST "/v1/requests/$ping_id/revoke" '{"reason": "task done"}'
expect 200 "revoke by the requester"
[ "$(field .state)" = revoked ] || fail "revoke: state $(field .state)"
code=$(curl -sS --unix-socket "$sock" -D "$tmp/krl.h" -o "$tmp/krl" -w '%{http_code}' http://ca/v1/krl)
[ "$code" = 200 ] || fail "GET /v1/krl: $code"
if "$SSH_KEYGEN" -Q -f "$tmp/krl" "$tmp/ping-cert.pub" >"$tmp/q" 2>&1; then
	fail "ssh-keygen -Q does not report serial $ping_serial revoked: $(cat "$tmp/q")"
fi
grep -q REVOKED "$tmp/q" || fail "ssh-keygen -Q: $(cat "$tmp/q")"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$tmp/krl.h" | tr -d '\r')
[ -n "$etag" ] || fail "no ETag on /v1/krl"
[ "$etag" != "$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$tmp/krl.h0" | tr -d '\r')" ] ||
	fail "the KRL's ETag did not change on revocation"
code=$(curl -sS --unix-socket "$sock" -H "If-None-Match: $etag" -o /dev/null -w '%{http_code}' http://ca/v1/krl)
[ "$code" = 304 ] || fail "If-None-Match: expected 304, got $code"

# --- break-glass
api "$req" POST /v1/requests "{\"task\": \"glass\", \"hosts\": [\"db01.example.com\"], \"reason\": \"outage\", \"public_key\": \"$pub\"}"
expect 201 "break-glass"
[ "$(field .state)" = issued ] || fail "break-glass: state $(field .state)"
[ "$(field .review.state)" = open ] || fail "break-glass: review $(field .review.state)"
glass_id=$(field .id)
api "$req" POST "/v1/requests/$glass_id/review" '{"comment": "fine"}'
expect 403 "review by the requester"
api "$ap1" POST "/v1/requests/$glass_id/review" '{"comment": "checked"}'
expect 200 "review by an approver"
[ "$(field .review.state)" = closed ] || fail "review: $(field .review.state)"

# --- malformed input and unknown ids
api "$req" POST /v1/requests '{"task": "ping", '
expect 400 "bad JSON"
api "$req" GET /v1/requests/r-0000000000000000
expect 404 "unknown id"
api "$req" GET /v1/requests/nonsense
expect 400 "malformed id"
api "$req" GET /v1/healthz
expect 200 "healthz"
curl -sS --unix-socket "$sock" http://ca/metrics >"$tmp/metrics" || fail "GET /metrics"
grep -q '^sshca_issuances_total 3$' "$tmp/metrics" || fail "metrics: $(grep issuances "$tmp/metrics")"
grep -q '^sshca_signer_signatures_total 3$' "$tmp/metrics" || fail "metrics: signer count"
curl -sS --unix-socket "$sock" http://ca/v1/ca.pub | grep -q '^ssh-ed25519 ' || fail "GET /v1/ca.pub"

# --- SIGHUP with a broken policy: the old one stays in force
printf 'tasks = ( { name = "ping"; oops; } );\n' >"$tmp/policy.new"
chmod 0644 "$tmp/policy.new"
mv "$tmp/policy.new" "$tmp/policy.conf"
kill -HUP "$daemon_pid"
i=0
until grep -q 'policy.conf:[0-9]' "$tmp/serve.log"; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || fail "no file:line error logged for the broken policy"
	sleep 0.1
done
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on a broken policy"
api "$req" POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
expect 201 "after a broken reload"
[ "$(field .state)" = issued ] || fail "old policy not in force after a broken reload"
cp "$tmp/policy.good" "$tmp/policy.conf"

# --- the audit chain: intact, then a hand-edited row is found
runuser -u "$ca_user" -- "$SSHCA" audit verify -f "$tmp/ca.conf" >"$tmp/verify" 2>&1 ||
	fail "audit verify: $(cat "$tmp/verify")"
grep -q '^OK' "$tmp/verify" || fail "audit verify: $(cat "$tmp/verify")"
runuser -u "$ca_user" -- sqlite3 "$tmp/state/ca.db" \
	"DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE seq = 2;" ||
	fail "sqlite3 edit"
if runuser -u "$ca_user" -- "$SSHCA" audit verify -f "$tmp/ca.conf" >"$tmp/verify" 2>&1; then
	fail "audit verify missed an edited row: $(cat "$tmp/verify")"
fi

# --- SIGTERM: exit 0, also as systemd stops a unit: SIGTERM to every
# process of it, the signer's maybe first. The signer leaves its end to
# the network side, which stops it; it must not die of it on its own.
signer=$(pgrep -P "$daemon_pid" | head -n 1)
[ -n "$signer" ] || fail "no signer process"
kill -TERM "$signer"
sleep 0.5
kill -0 "$signer" 2>/dev/null || fail "the signer died of a SIGTERM of its own"
api "$req" POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
expect 201 "an issuance after the signer's SIGTERM"
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
[ "$rc" -eq 0 ] || fail "sshca serve exited $rc on SIGTERM"
! kill -0 "$signer" 2>/dev/null || fail "the signer outlived the daemon's stop"
[ ! -e "$sock" ] || fail "the socket is left behind after SIGTERM"

# --- restart: serials go on above every earlier one; the signer's death
# stops the daemon with a non-zero status
last_serial=$(sqlite3 "$tmp/state/ca.db" "SELECT max(serial) FROM requests;")
"$SSHCA" serve -f "$tmp/ca.conf" >>"$tmp/serve.log" 2>&1 &
daemon_pid=$!
i=0
until [ -S "$sock" ]; do
	kill -0 "$daemon_pid" 2>/dev/null || fail "sshca serve did not restart"
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "no socket after restart"
	sleep 0.1
done
api "$req" POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
expect 201 "after restart"
[ "$(field .serial)" -gt "$last_serial" ] || fail "serial $(field .serial) not above $last_serial"
signer=$(pgrep -P "$daemon_pid" | head -n 1)
[ -n "$signer" ] || fail "no signer process"
# Serving, both processes (started as root) hold no capability and have
# emptied their bounding set.
for p in "$daemon_pid" "$signer"; do
	for set in CapEff CapPrm CapBnd; do
		v=$(sed -n "s/^$set:[[:space:]]*//p" "/proc/$p/status")
		[ "$v" = 0000000000000000 ] || fail "pid $p ($(cat "/proc/$p/comm")): $set $v"
	done
done
kill -KILL "$signer"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
[ "$rc" -ne 0 ] || fail "sshca serve exited 0 when its signer died"
grep -q 'signer.*gone' "$tmp/serve.log" || fail "the signer's death was not logged"

# --- the state lost (database and high-water file), the KRL kept: the
# revoked certificate stays revoked and new serials start above the KRL's
rm -f "$tmp/state/ca.db" "$tmp/state/ca.db-wal" "$tmp/state/ca.db-shm" "$tmp/state/krl.serial"
"$SSHCA" serve -f "$tmp/ca.conf" >>"$tmp/serve.log" 2>&1 &
daemon_pid=$!
i=0
until [ -S "$sock" ]; do
	kill -0 "$daemon_pid" 2>/dev/null || fail "sshca serve did not start on lost state"
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "no socket after losing the state"
	sleep 0.1
done
api "$req" POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
expect 201 "after losing the state"
[ "$(field .serial)" -gt "$ping_serial" ] ||
	fail "serial $(field .serial) after losing the state is not above the KRL's $ping_serial"
if "$SSH_KEYGEN" -Q -f "$tmp/krl" "$tmp/ping-cert.pub" >"$tmp/q" 2>&1; then
	fail "a lost database un-revoked serial $ping_serial: $(cat "$tmp/q")"
fi
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "sshca serve exited non-zero on SIGTERM after losing the state"
daemon_pid=""
[ -z "${KEEP_LOG:-}" ] || cat "$tmp/serve.log" "$tmp/verify"
echo "ok: sshca serve end to end"
