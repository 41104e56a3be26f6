#!/bin/sh
# End to end for `ephssh request`, `fetch`, `status` and `done` against
# the real `sshca serve` on a temporary Unix socket, as real Unix users
# made for the test (a requester with their own ssh-agent and a private
# XDG_RUNTIME_DIR, an approver): the refusal without an agent (nothing
# sent), an auto-issued grant written with --write and read back by
# ssh-keygen, a grant waited for and approved by the second user landing
# in the agent with the CA's validity, status --json, done (agent empty,
# the KRL revokes the serial: ssh-keygen -Q), --no-wait + fetch, policy
# denials with their reasons, a denial while waiting, wait_timeout, Ctrl-C
# on a PTY (cancel, and leave pending), SIGINT without a TTY, and the CA
# down (exit 3).
#
# Needs root. Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

E2E_TOOLS="ssh-agent ssh-add python3"
. "$(dirname "$0")/lib.sh"

EPHSSH=${EPHSSH:-$(cd "$(dirname "$SSHCA")/.." && pwd)/client/ephssh}
[ -x "$EPHSSH" ] || fail "no ephssh at $EPHSSH (build first)"

ap="ephap$$"
agent_pid=""
e2e_cleanup_hook=ephssh_cleanup
ephssh_cleanup() {
	[ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null
	# Any ephssh the test left waiting (a failure half-way).
	pkill -KILL -u "$req" -x ephssh 2>/dev/null
	return 0
}

e2e_setup
e2e_user "$ap"
cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
tasks = (
  { name = "ping"; requesters = [ "$req" ]; hosts = [ "web01.example.com" ];
    login_as = "deploy"; default_ttl = "10m"; },
  { name = "db"; requesters = [ "$req" ]; approvers = [ "$ap" ]; approvals = 1;
    hosts = [ "db01.example.com" ]; login_as = "postgres"; default_ttl = "10m"; }
);
EOP
e2e_start

# The requester's private runtime dir and agent.
xdg="$tmp/xdg"
mkdir -m 0700 "$xdg"
chown "$req:" "$xdg"
asock="$tmp/agent/sock"
mkdir -m 0700 "$tmp/agent"
chown "$req:" "$tmp/agent"
agent_pid=$(runuser -u "$req" -- ssh-agent -s -a "$asock" | sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p')
[ -n "$agent_pid" ] || fail "ssh-agent did not start"
noconf="$tmp/none.conf" # a system config that does not exist

# ephssh as the requester: E [env...] -- args
E() {
	runuser -u "$req" -- env EPHSSH_SYSTEM_CONFIG_FOR_TESTS="$noconf" HOME=/nonexistent \
		NO_COLOR=1 SSH_AUTH_SOCK="$asock" XDG_RUNTIME_DIR="$xdg" "$EPHSSH" --ca "unix:$sock" "$@"
}
agent_list() { runuser -u "$req" -- env SSH_AUTH_SOCK="$asock" ssh-add -L 2>/dev/null || true; }
count() { db "SELECT count(*) FROM requests;"; }
# Wait (bounded) for a pending request of the requester; its id on stdout.
pending_id() {
	i=0
	while :; do
		api "$ap" GET "/v1/requests?state=pending"
		id=$(jq -r '.requests[0].id // empty' "$tmp/body")
		[ -z "$id" ] || { echo "$id"; return 0; }
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "no pending request after 10 s"
		sleep 0.1
	done
}
state_of() { api "$req" GET "/v1/requests/$1"; field .state; }

# --- no agent, no --write: refused before anything is sent
n0=$(count)
rc=0
runuser -u "$req" -- env -u SSH_AUTH_SOCK EPHSSH_SYSTEM_CONFIG_FOR_TESTS="$noconf" \
	XDG_RUNTIME_DIR="$xdg" "$EPHSSH" --ca "unix:$sock" request ping --host web01.example.com \
	>"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "no agent: exit $rc"
grep -q 'eval $(ssh-agent)' "$tmp/err" || fail "no agent: no hint: $(cat "$tmp/err")"
rc=0
runuser -u "$req" -- env SSH_AUTH_SOCK="$tmp/agent/nothing" \
	EPHSSH_SYSTEM_CONFIG_FOR_TESTS="$noconf" XDG_RUNTIME_DIR="$xdg" "$EPHSSH" \
	--ca "unix:$sock" request ping --host web01.example.com >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "unreachable agent: exit $rc"
grep -q 'no ssh-agent at' "$tmp/err" || fail "unreachable agent: $(cat "$tmp/err")"
[ "$(count)" = "$n0" ] || fail "a request reached the CA without an agent"

# --- auto-issued, --write DIR (made 0700), --json
wdir="$tmp/w/keys"
mkdir -m 0755 "$tmp/w"
chown "$req:" "$tmp/w"
E --json request ping --host web01.example.com --write "$wdir" >"$tmp/out" 2>"$tmp/err" ||
	fail "request --write: $(cat "$tmp/err")"
jq -e '.state == "issued" and .agent == false and (.written | length) == 2' "$tmp/out" \
	>/dev/null || fail "request --write --json: $(cat "$tmp/out")"
wid=$(jq -r .id "$tmp/out")
[ "$(stat -c %a "$wdir")" = 700 ] || fail "--write DIR mode $(stat -c %a "$wdir")"
for f in "$wdir/$wid" "$wdir/$wid-cert.pub"; do
	[ "$(stat -c '%a %U' "$f")" = "600 $req" ] || fail "$f: $(stat -c '%a %U' "$f")"
done
# OpenSSH reads the key, and the certificate is for it.
runuser -u "$req" -- "$SSH_KEYGEN" -y -f "$wdir/$wid" >"$tmp/pub" || fail "ssh-keygen -y of the written key"
"$SSH_KEYGEN" -L -f "$wdir/$wid-cert.pub" >"$tmp/certl" || fail "ssh-keygen -L"
grep -q "Public key: ED25519-CERT $("$SSH_KEYGEN" -lf "$tmp/pub" | cut -d' ' -f2)" "$tmp/certl" ||
	fail "the certificate is not for the written key: $(cat "$tmp/certl")"
[ -z "$(agent_list | grep -v '^The agent has no')" ] || fail "--write also loaded the agent"
# The human form names the ssh -i command.
E request ping --host web01.example.com --write "$wdir" >"$tmp/out" 2>"$tmp/err" ||
	fail "request --write: $(cat "$tmp/err")"
grep -q "ssh -i $wdir/r-[0-9a-f]* deploy@web01.example.com" "$tmp/out" || fail "no ssh -i line: $(cat "$tmp/out")"
# A DIR others may write is refused, before sending.
mkdir "$tmp/w/open"
chown "$req:" "$tmp/w/open"
chmod 0777 "$tmp/w/open"
n0=$(count)
rc=0
E request ping --host web01.example.com --write "$tmp/w/open" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'writable by everyone' "$tmp/err" || fail "open DIR: $rc $(cat "$tmp/err")"
[ "$(count)" = "$n0" ] || fail "a request was sent for a refused DIR"

# --- waited for, approved by the second user, into the agent
E request db --host db01.example.com --reason "INC-1 vacuum" >"$tmp/out" 2>"$tmp/err" &
bg=$!
id=$(pending_id)
api "$ap" POST "/v1/requests/$id/approve" '{"comment": "ok"}'
expect 200 "approve"
rc=0
wait "$bg" || rc=$?
[ "$rc" -eq 0 ] || fail "request db: exit $rc: $(cat "$tmp/err")"
grep -q 'waiting for 1 more approval from' "$tmp/err" || fail "no plain wait line: $(cat "$tmp/err")"
[ "$(grep -c 'waiting for' "$tmp/err")" -eq 1 ] || fail "the plain wait line repeats: $(cat "$tmp/err")"
grep -q "ssh postgres@db01.example.com" "$tmp/out" || fail "no ssh line: $(cat "$tmp/out")"
runuser -u "$req" -- env SSH_AUTH_SOCK="$asock" ssh-add -l | grep -q 'ED25519-CERT' ||
	fail "ssh-add -l lists no certificate"
api "$req" GET "/v1/requests/$id"
field .certificate | cut -d' ' -f1-2 >"$tmp/ca_cert"
agent_list | grep -- '-cert-v01@openssh.com' | cut -d' ' -f1-2 >"$tmp/agent_cert"
cmp -s "$tmp/ca_cert" "$tmp/agent_cert" || fail "the agent's certificate is not the CA's"
# Its validity is the CA's (the agent's lifetime is computed from it).
vb=$(date -u -d "$(field .valid_before)" +%Y-%m-%dT%H:%M:%S)
TZ=UTC "$SSH_KEYGEN" -L -f "$tmp/agent_cert" | grep -q "Valid: from .* to $vb$" ||
	fail "validity: $("$SSH_KEYGEN" -L -f "$tmp/agent_cert" | grep Valid) vs $(field .valid_before)"
serial=$(field .serial)

# --- status
E --json status >"$tmp/out" || fail "status --json"
jq -e --arg id "$id" '.grants | map(select(.id == $id)) | .[0] | .in_agent == true and
	.task == "db" and .login_as == "postgres" and .seconds_left > 500 and
	.hosts == ["db01.example.com"]' "$tmp/out" >/dev/null || fail "status --json: $(cat "$tmp/out")"
E status >"$tmp/out" || fail "status"
grep -q "^$id  *db  *db01.example.com  *postgres .* yes$" "$tmp/out" || fail "status: $(cat "$tmp/out")"

# --- done (no id: the newest active grant, which is this one)
E done >"$tmp/out" 2>"$tmp/err" || fail "done: $(cat "$tmp/err")"
grep -q "$id revoked" "$tmp/out" || fail "done: $(cat "$tmp/out")"
[ "$(state_of "$id")" = revoked ] || fail "done: state $(state_of "$id")"
[ -z "$(agent_list | grep -- '-cert-v01@openssh.com')" ] || fail "done: the agent still has a certificate"
curl -sS --unix-socket "$sock" -o "$tmp/krl" http://ca/v1/krl || fail "GET /v1/krl"
"$SSH_KEYGEN" -Q -f "$tmp/krl" "$tmp/agent_cert" | grep -q REVOKED ||
	fail "the KRL does not revoke serial $serial"
E --json status >"$tmp/out" || fail "status after done"
jq -e --arg id "$id" '.grants | map(select(.id == $id)) | length == 0' "$tmp/out" >/dev/null ||
	fail "status still lists $id"

# --- --no-wait, approve, fetch
E request db --host db01.example.com --no-wait >"$tmp/out" 2>"$tmp/err" ||
	fail "--no-wait: $(cat "$tmp/err")"
nid=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
[ -n "$nid" ] || fail "--no-wait printed no id: $(cat "$tmp/out")"
grep -q "ephssh fetch $nid" "$tmp/out" || fail "--no-wait: no fetch hint: $(cat "$tmp/out")"
kf=$(ls "$xdg/ephssh/" | grep "^pending-$nid\.")
[ "$(stat -c '%a %U' "$xdg/ephssh/$kf")" = "600 $req" ] || fail "saved key mode"
rc=0
E fetch "$nid" >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'still pending' "$tmp/err" || fail "fetch while pending: $rc $(cat "$tmp/err")"
api "$ap" POST "/v1/requests/$nid/approve"
expect 200 "approve $nid"
E fetch "$nid" >"$tmp/out" 2>"$tmp/err" || fail "fetch: $(cat "$tmp/err")"
grep -q "$nid issued" "$tmp/out" || fail "fetch: $(cat "$tmp/out")"
[ ! -e "$xdg/ephssh/$kf" ] || fail "fetch left the saved key"
agent_list | grep -q -- '-cert-v01@openssh.com' || fail "fetch: nothing in the agent"
E done "$nid" >/dev/null || fail "done $nid"

# --- denials: a host outside the task, an unknown task
rc=0
E request db --host db09.example.com >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "denied: exit $rc"
grep -q 'denied by policy' "$tmp/err" && grep -q 'db09.example.com' "$tmp/err" ||
	fail "denied: reasons not shown: $(cat "$tmp/err")"
rc=0
E request nosuch --host db01.example.com >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "unknown task 'nosuch'" "$tmp/err" || fail "unknown task: $rc $(cat "$tmp/err")"
# A typo: the policy names the nearest task this requester may ask for.
rc=0
E request dv --host db01.example.com >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "unknown task 'dv': did you mean db? (r-" "$tmp/err" ||
	fail "typo: $rc $(cat "$tmp/err")"

# --- denied while waiting
E request db --host db01.example.com >"$tmp/out" 2>"$tmp/err" &
bg=$!
id=$(pending_id)
api "$ap" POST "/v1/requests/$id/deny" '{"reason": "not today"}'
expect 200 "deny"
rc=0
wait "$bg" || rc=$?
[ "$rc" -eq 1 ] && grep -q "$id was denied by $ap: not today" "$tmp/err" ||
	fail "denied while waiting: $rc $(cat "$tmp/err")"

# --- wait_timeout: exit 4, left pending with the key saved
printf 'wait_timeout = "2s";\n' >"$tmp/wt.conf"
chmod 0644 "$tmp/wt.conf"
rc=0
E --config "$tmp/wt.conf" request db --host db01.example.com >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 4 ] || fail "wait_timeout: exit $rc: $(cat "$tmp/err")"
tid=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
grep -q "ephssh fetch $tid" "$tmp/out" || fail "wait_timeout: no fetch hint: $(cat "$tmp/out")"
[ "$(state_of "$tid")" = pending ] || fail "wait_timeout: not pending"
ls "$xdg/ephssh/" | grep -q "^pending-$tid\." || fail "wait_timeout: no saved key"
api "$req" POST "/v1/requests/$tid/cancel"

# --- the request expires while ephssh waits: exit 4. A reloaded policy
# with a 2 s pending_timeout; the next request gets it.
sed 's/pending_timeout = "1h"/pending_timeout = "2s"/' "$tmp/policy.conf" >"$tmp/policy.new"
cat "$tmp/policy.new" >"$tmp/policy.conf"
# reload N: SIGHUP, then wait (bounded) for the daemon's Nth reload line.
reload() {
	kill -HUP "$daemon_pid"
	i=0
	until [ "$(grep -c 'policy.conf: reloaded' "$tmp/serve.log")" -ge "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "the policy was not reloaded: $(tail -n 5 "$tmp/serve.log")"
		sleep 0.1
	done
}
reload 1
rc=0
E request db --host db01.example.com >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 4 ] && grep -q 'r-[0-9a-f]\{16\} expired before it was approved' "$tmp/err" ||
	fail "expiry while waiting: exit $rc: $(cat "$tmp/err")"
# The CA marks it expired on its next touch (or sweep): touch it now, so
# the tests below find only their own pending requests.
eid=$(grep -o 'r-[0-9a-f]\{16\} expired' "$tmp/err" | cut -d' ' -f1)
api "$req" POST "/v1/requests/$eid/cancel"
expect 409 "cancel of the expired $eid"
[ "$(state_of "$eid")" = expired ] || fail "$eid is not expired at the CA"
sed 's/pending_timeout = "2s"/pending_timeout = "1h"/' "$tmp/policy.conf" >"$tmp/policy.new"
cat "$tmp/policy.new" >"$tmp/policy.conf"
reload 2

# --- Ctrl-C on a PTY: answer y (cancelled), answer n (left pending)
pty_run() { # ANSWER: runs ephssh request on a PTY, sends ^C, answers; output in $tmp/pty
	python3 - "$1" "$(id -u "$req")" "$(id -g "$req")" "$EPHSSH" "unix:$sock" \
		"$asock" "$xdg" "$noconf" >"$tmp/pty" 2>&1 <<'EOPY'
import os, pty, select, sys, time
answer, uid, gid, ephssh, ca, asock, xdg, noconf = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.setgroups([]); os.setgid(int(gid)); os.setuid(int(uid))
    env = {"PATH": "/usr/bin:/bin", "SSH_AUTH_SOCK": asock, "XDG_RUNTIME_DIR": xdg,
           "HOME": "/nonexistent", "NO_COLOR": "1", "TERM": "xterm",
           "EPHSSH_SYSTEM_CONFIG_FOR_TESTS": noconf}
    os.execve(ephssh, [ephssh, "--ca", ca, "request", "db", "--host", "db01.example.com"], env)
seen = b""
def until(pat, secs=20):
    global seen
    end = time.monotonic() + secs
    while pat not in seen:
        if time.monotonic() > end:
            sys.stdout.write(seen.decode(errors="replace")); sys.exit("timed out waiting for %r" % pat)
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: seen += os.read(fd, 4096)
            except OSError: break
until(b"waiting for 1 more approval")
os.write(fd, b"\x03")
until(b"[y/N]")
os.write(fd, answer.encode() + b"\n")
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d: break
    seen += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print("\nEXIT %d" % os.waitstatus_to_exitcode(st))
EOPY
}
pty_run y || fail "pty y: $(cat "$tmp/pty")"
cid=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/pty" | head -n 1)
grep -q "cancel the request $cid?" "$tmp/pty" || fail "pty y: no question: $(cat "$tmp/pty")"
grep -q "EXIT 1" "$tmp/pty" || fail "pty y: $(cat "$tmp/pty")"
[ "$(state_of "$cid")" = cancelled ] || fail "pty y: $cid is $(state_of "$cid")"
! ls "$xdg/ephssh/" | grep -q "^pending-$cid\." || fail "pty y: a key was kept"
pty_run n || fail "pty n: $(cat "$tmp/pty")"
cid=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/pty" | head -n 1)
grep -q "ephssh fetch $cid" "$tmp/pty" || fail "pty n: no fetch hint: $(cat "$tmp/pty")"
[ "$(state_of "$cid")" = pending ] || fail "pty n: $cid is $(state_of "$cid")"
ls "$xdg/ephssh/" | grep -q "^pending-$cid\." || fail "pty n: no saved key"
api "$req" POST "/v1/requests/$cid/cancel"

# --- SIGINT without a TTY: left pending with the fetch hint
E request db --host db01.example.com </dev/null >"$tmp/out" 2>"$tmp/err" &
bg=$!
id=$(pending_id)
epid=$(pgrep -u "$req" -x ephssh) || fail "no ephssh process"
kill -INT "$epid"
rc=0
wait "$bg" || rc=$?
[ "$rc" -eq 1 ] || fail "non-TTY SIGINT: exit $rc: $(cat "$tmp/err")"
grep -q "ephssh fetch $id" "$tmp/out" || fail "non-TTY SIGINT: no hint: $(cat "$tmp/out")"
[ "$(state_of "$id")" = pending ] || fail "non-TTY SIGINT: $id is $(state_of "$id")"
ls "$xdg/ephssh/" | grep -q "^pending-$id\." || fail "non-TTY SIGINT: no saved key"
api "$req" POST "/v1/requests/$id/cancel"
# fetch of a cancelled request says so and drops the key.
rc=0
E fetch "$id" >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "$id was cancelled" "$tmp/err" || fail "fetch cancelled: $rc $(cat "$tmp/err")"
! ls "$xdg/ephssh/" | grep -q "^pending-$id\." || fail "fetch cancelled: key kept"

# --- the CA down: exit 3
rc=0
runuser -u "$req" -- env EPHSSH_SYSTEM_CONFIG_FOR_TESTS="$noconf" SSH_AUTH_SOCK="$asock" \
	XDG_RUNTIME_DIR="$xdg" "$EPHSSH" --ca "unix:$tmp/run/nothing.sock" status \
	>"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 3 ] && grep -q 'cannot reach the CA' "$tmp/err" || fail "CA down: $rc $(cat "$tmp/err")"

echo "PASS: ephssh request/fetch/status/done end to end"
