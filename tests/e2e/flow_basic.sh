#!/bin/sh
# The whole flow, end to end (issue 16), with one CA (`sshca serve`) and
# one host (a private sshd with ephemeral-principals, pam_ephemeral.so and
# its watchdog, a KRL kept by ephemeral-krl-sync from the CA's socket),
# as real Unix users: a requester with their own ssh-agent, approvers.
#   1. approved request: --no-wait, approved, `ephssh fetch` into the
#      agent, plain ssh through the agent runs a command; the CA's audit
#      records (request, approve, issue) and the host's records (the
#      principals accepted, the session's start and end with grant,
#      serial, requester and approver); `ephssh done`: revoked at the CA,
#      out of the agent; a copy of the key and certificate (taken while
#      pending) still logs in until the host's KRL sync runs, then sshd
#      refuses it;
#   2. two approvals: one is not enough (no certificate, still pending,
#      ephssh still waiting), the requester's own approval is refused
#      (exit 5, one clear line) although they are in the approver group;
#      the second approval issues into the waiting ephssh's agent and the
#      host's session record names both approvers;
#   3. denials: by an approver, with the reason shown to the requester
#      (`ephssh fetch`, `ephssh show`); by the policy (a host outside the
#      task, no reason given), with the policy's reasons; a request that
#      expires (pending_timeout of 2 s, the policy reloaded): `fetch`
#      exits 4, an approval comes too late, the CA's expire record;
#   8. the auditor's timeline of scenario 1 (`sshca audit timeline`, the
#      CA's store with the host's records as journal files, made from
#      what the host logged by systemd-journal-remote): every step in
#      order, the host named, no alarm; `sshca audit verify` is clean.
#
# Needs root (useradd, sshd, unshare, /etc/pam.d), python3, ssh-agent.
# Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
JREMOTE=${JREMOTE:-/lib/systemd/systemd-journal-remote}
[ -x "$JREMOTE" ] || { echo "skip: no $JREMOTE (apt-get install systemd-journal-remote)"; exit 77; }
# shellcheck disable=SC2034 # flow_lib.sh reads it
flow_name=basic
# shellcheck source=tests/e2e/flow_lib.sh
. "$top/tests/e2e/flow_lib.sh"

ap1="ephap1$$"
ap2="ephap2$$"
flow_setup
for u in "$ap1" "$ap2"; do e2e_user "$u"; done
host=db01.example.com
policy() { # PENDING_TIMEOUT
	cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "$1"; };
groups = { leads = [ "$ap1", "$ap2", "$req" ]; };
tasks = (
  { name = "db-maint"; requesters = [ "$req" ]; approvers = [ "@leads" ]; approvals = 1;
    hosts = [ "$host" ]; login_as = "$alice"; default_ttl = "10m"; require_reason = true; },
  { name = "db-schema"; requesters = [ "$req" ]; approvers = [ "@leads" ]; approvals = 2;
    hosts = [ "$host" ]; login_as = "$alice"; default_ttl = "10m"; }
);
EOP
}
policy 1h
flow_ca_start
flow_host a "$host" db-maint db-schema
flow_agent "$req"
agent_certs() {
	runuser -u "$req" -- env SSH_AUTH_SOCK="$tmp/agent-$req/sock" ssh-add -L 2>/dev/null |
		grep -c -- '-cert-v01@openssh.com' || true
}

# ------------------------------------------------ 1. an approved request
host_journal_from
E "$req" request db-maint --host "$host" --reason "INC-1 vacuum" --no-wait
expect_rc 0 "request --no-wait" "ephssh fetch r-"
id=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
# A copy of the key ephssh keeps while the request is pending: what a
# thief of the key and certificate would hold once it is issued.
kf=$(find "$tmp/xdg-$req/ephssh" -name "pending-$id.*")
[ -n "$kf" ] || fail "no saved key for $id"
flow_openssh_key "$kf" "$tmp/stolen"
E "$ap1" approve --comment "ok INC-1" "$id"
expect_rc 0 "approve" "^approved $id: issued to $req"
E "$req" fetch "$id"
expect_rc 0 "fetch" "$id issued"
[ "$(agent_certs)" = 1 ] || fail "fetch put no certificate in the agent"
api "$req" GET "/v1/requests/$id"
serial=$(field .serial)
field .certificate >"$tmp/stolen-cert.pub"
[ "$(field .login_as)" = "$alice" ] || fail "login_as $(field .login_as)"

flow_ssh "$req" a "$alice" || fail "the approved grant did not log in: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "the command's output: $out"
flow_record SYSLOG_IDENTIFIER=ephemeral-principals "$p_accepted" EPH_DECISION=accepted \
	EPH_SERIAL="$serial" EPH_GRANT="$id" EPH_TASK=db-maint EPH_USER="$alice" EPH_HOST="$host"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_DECISION=accepted EPH_SERIAL="$serial" \
	EPH_GRANT="$id" EPH_TASK=db-maint EPH_REQUESTER="$req" EPH_APPROVERS="$ap1" \
	EPH_USER="$alice" EPH_LOGIN_AS="$alice" EPH_HOST="$host" EPH_RHOST=127.0.0.1
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_end" EPH_SERIAL="$serial" EPH_GRANT="$id" \
	EPH_USER="$alice" EPH_HOST="$host"
# The CA's side, in its journal records and its audit log.
flow_record SYSLOG_IDENTIFIER=sshca "$a_request" EPH_GRANT="$id" EPH_REQUESTER="$req" EPH_TASK=db-maint
flow_record SYSLOG_IDENTIFIER=sshca "$a_approve" EPH_GRANT="$id" EPH_ACTOR="$ap1"
flow_record SYSLOG_IDENTIFIER=sshca "$a_issue" EPH_GRANT="$id" EPH_SERIAL="$serial" EPH_REQUESTER="$req" \
	EPH_APPROVERS="$ap1" EPH_TASK=db-maint
audit_has "$id" request ".actor == \"$req\""
audit_has "$id" approve ".actor == \"$ap1\""
audit_has "$id" issue ".serial == $serial"

# The CA's audit records carry whole seconds: a second apart, the
# timeline of scenario 8 has the login before the done.
sleep 1
E "$req" "done" "$id"
expect_rc 0 "done" "$id revoked"
[ "$(agent_certs)" = 0 ] || fail "done left the certificate in the agent"
audit_has "$id" revoke ".serial == $serial and .actor == \"$req\""
flow_record SYSLOG_IDENTIFIER=sshca "$a_revoke" EPH_GRANT="$id" EPH_SERIAL="$serial" EPH_ACTOR="$req"
# Until the host syncs its KRL it cannot know: the copy still gets in.
ssh_stolen() {
	out=$("$SSH" -F /dev/null -p "$(cat "$tmp/h-a/port")" -i "$tmp/stolen" \
		-o CertificateFile="$tmp/stolen-cert.pub" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 "$alice@127.0.0.1" 'echo LOGIN-OK' </dev/null 2>"$tmp/ssh.err")
}
ssh_stolen || fail "the key and certificate did not log in before the KRL sync: $(cat "$tmp/ssh.err")"
flow_krl_sync a
flow_record SYSLOG_IDENTIFIER=ephemeral-krl-sync "$k_updated" EPH_KRL_FILE="$tmp/h-a/revoked.krl"
"$SSH_KEYGEN" -Q -f "$tmp/h-a/revoked.krl" "$tmp/stolen-cert.pub" | grep -q REVOKED ||
	fail "the host's KRL does not revoke serial $serial"
host_journal_from
sshd_lines=$(wc -l <"$tmp/h-a/sshd.log")
if ssh_stolen; then fail "a revoked certificate logged in after the KRL sync: $out"; fi
sed -n "$((sshd_lines + 1)),\$p" "$tmp/h-a/sshd.log" | grep -qi "revoked" ||
	fail "sshd did not log the revoked certificate"
flow_norecord SYSLOG_IDENTIFIER=pam_ephemeral EPH_SERIAL="$serial"
flow_ssh_refused "$req" a "$alice"

# ------------------------------- 8. the auditor's timeline of scenario 1
# The host's records as an auditor collects them: journal files.
host_journal_sync
jdir=$tmp/journal-1
mkdir -m 0755 "$jdir"
"$JREMOTE" -o "$jdir/remote.journal" "$tmp/journal.export" >"$tmp/jr.out" 2>&1 ||
	fail "systemd-journal-remote: $(cat "$tmp/jr.out")"
chmod -R a+rX "$jdir"
timeline() {
	runuser -u "$ca_user" -- "$SSHCA" audit timeline "$@" -f "$tmp/ca.conf" \
		--journal-dir "$jdir" >"$tmp/timeline" 2>"$tmp/timeline.err" ||
		fail "sshca audit timeline $*: $(cat "$tmp/timeline.err" "$tmp/timeline")"
}
timeline "$id" --json
# Every step in order: requested, approved, issued, the login (the
# principals command's acceptance, the session's start and end, from the
# host), done; then the stolen copy's login before the KRL sync, also on
# the record. No alarm, and the host is named.
python3 - "$tmp/timeline" "$host" "$id" "$serial" <<'EOP' ||
import json, sys
path, host, gid, serial = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
events = [r["event"] for r in rows]
want = ["requested", "approved", "issued", "login-accepted", "session-start", "session-end",
        "done", "login-accepted", "session-start", "session-end"]
i = 0
for e in events:
    if i < len(want) and e == want[i]:
        i += 1
if i != len(want):
    sys.exit("not in order: %s (matched %d of %s)" % (events, i, want))
if "alarm" in events:
    sys.exit("an alarm: %s" % [r for r in rows if r["event"] == "alarm"])
times = [r["time"] for r in rows]
if times != sorted(times):
    sys.exit("not in time order: %s" % times)
hostrows = [r for r in rows if r["source"] != "ca"]
if not hostrows or any(r["host"] != host for r in hostrows):
    sys.exit("host rows not all from %s: %s" % (host, [r["host"] for r in hostrows]))
start = [r for r in rows if r["event"] == "session-start"][0]
if start.get("EPH_GRANT") != gid or start.get("EPH_SERIAL") != serial:
    sys.exit("session-start record: %s" % start)
EOP
	fail "the timeline of $id: $(cat "$tmp/timeline")"
# By serial, as text: the header names the grant, the summary the host.
timeline "$serial"
head -n 1 "$tmp/timeline" | grep -q "^grant $id serial $serial task db-maint requester $req" ||
	fail "timeline header: $(head -n 1 "$tmp/timeline")"
grep -q "^hosts: $host (" "$tmp/timeline" || fail "timeline summary: $(tail -n 3 "$tmp/timeline")"
if grep -q "ALARM" "$tmp/timeline"; then fail "an alarm: $(cat "$tmp/timeline")"; fi
audit_verify "the timeline of scenario 1"

# --------------------------------------------------- 2. two approvals
runuser -u "$req" -- env EPHSSH_SYSTEM_CONFIG_FOR_TESTS="$noconf" HOME=/nonexistent NO_COLOR=1 \
	SSH_AUTH_SOCK="$tmp/agent-$req/sock" XDG_RUNTIME_DIR="$tmp/xdg-$req" \
	timeout 120 "$EPHSSH" --ca "unix:$sock" request db-schema --host "$host" \
	</dev/null >"$tmp/wait.out" 2>"$tmp/wait.err" &
waiter=$!
flow_pids="$flow_pids $waiter"
id2=$(pending_of "$ap1")
E "$ap1" approve "$id2"
expect_rc 0 "the first of two approvals" "^approved $id2: 1 of 2 approvals; waiting for @leads$"
api "$req" GET "/v1/requests/$id2"
[ "$(field .state)" = pending ] || fail "one of two approvals: state $(field .state)"
[ "$(field '.certificate // "none"')" = none ] || fail "one of two approvals: a certificate"
[ "$(field .approvals.valid)" = 1 ] || fail "approvals.valid $(field .approvals.valid)"
E "$req" approve "$id2"
expect_rc 5 "the requester's own approval" "you cannot approve your own request $id2"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "self-approval: not one line: $(cat "$tmp/err")"
api "$req" GET "/v1/requests/$id2"
[ "$(field .state)" = pending ] && [ "$(field .approvals.valid)" = 1 ] ||
	fail "the self-approval counted: $(cat "$tmp/body")"
kill -0 "$waiter" 2>/dev/null || fail "ephssh stopped waiting after one of two approvals"
[ "$(agent_certs)" = 0 ] || fail "a certificate in the agent after one of two approvals"
E "$ap2" approve "$id2"
expect_rc 0 "the second approval" "^approved $id2: issued to $req until "
rc=0
wait "$waiter" || rc=$?
[ "$rc" -eq 0 ] || fail "the waiting ephssh exited $rc: $(cat "$tmp/wait.err")"
grep -q "waiting for 2 more approvals\|waiting for 1 more approval" "$tmp/wait.err" ||
	fail "no wait line: $(cat "$tmp/wait.err")"
grep -q "$id2 issued" "$tmp/wait.out" || fail "request: $(cat "$tmp/wait.out")"
[ "$(agent_certs)" = 1 ] || fail "the two-approval grant is not in the agent"
api "$req" GET "/v1/requests/$id2"
serial2=$(field .serial)
host_journal_from
flow_ssh "$req" a "$alice" || fail "the two-approval grant did not log in: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "the command's output: $out"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_SERIAL="$serial2" EPH_GRANT="$id2" \
	EPH_TASK=db-schema EPH_REQUESTER="$req"
approvers=$(record_field EPH_APPROVERS)
for a in "$ap1" "$ap2"; do
	case ",$approvers," in *",$a,"*) ;; *) fail "the session record's approvers: '$approvers'" ;; esac
done
audit_has "$id2" approve ".actor == \"$ap1\""
audit_has "$id2" approve ".actor == \"$ap2\""
audit_has "$id2" issue ".serial == $serial2"
E "$req" "done" "$id2"
expect_rc 0 "done" "$id2 revoked"

# -------------------------------------------------------- 3. denials
E "$req" request db-maint --host "$host" --reason "INC-2 reindex" --no-wait
expect_rc 0 "request --no-wait"
id3=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
E "$ap1" deny --reason "not during the freeze" "$id3"
expect_rc 0 "deny"
E "$req" fetch "$id3"
expect_rc 1 "fetch of a denied request" "$id3 was denied by $ap1: not during the freeze"
# The requester sees who denied it and why (ephssh.1, deny): show, and
# the request's object.
E "$req" show "$id3"
expect_rc 0 "show of a denied request" "$id3  denied"
grep -q "by $ap1 at .*: \"not during the freeze\"" "$tmp/out" ||
	fail "show of the denied $id3 lacks the approver's reason: $(cat "$tmp/out")"
E "$req" --json show "$id3"
jq -e --arg a "$ap1" '.denial.by == $a and .denial.reason == "not during the freeze"' \
	"$tmp/out" >/dev/null || fail "show --json of the denied $id3: $(cat "$tmp/out")"
[ -z "$(find "$tmp/xdg-$req/ephssh" -name "pending-$id3.*")" ] || fail "fetch kept the denied key"
audit_has "$id3" deny ".actor == \"$ap1\""
flow_record SYSLOG_IDENTIFIER=sshca "$a_deny" EPH_GRANT="$id3" EPH_ACTOR="$ap1" \
	EPH_REASON="not during the freeze"
E "$req" status
expect_rc 0 "status"
grep -q "$id3" "$tmp/out" && fail "status lists the denied $id3: $(cat "$tmp/out")"

# The policy's own denials, with its reasons: a host outside the task,
# and no reason where the task requires one.
E "$req" request db-maint --host db09.example.com --reason "INC-3"
expect_rc 1 "a host outside the task" "denied by policy:"
grep -q "db09.example.com" "$tmp/err" || fail "the policy's reason does not name the host"
E "$req" request db-maint --host "$host"
expect_rc 1 "no reason" "denied by policy:"
grep -qi "reason" "$tmp/err" || fail "no reason: the policy's reason is not shown"
[ "$(agent_certs)" = 0 ] || fail "a denied request reached the agent"

# Expiry: a pending_timeout of 2 s.
policy 2s
flow_reload 1
host_journal_from
E "$req" request db-maint --host "$host" --reason "INC-4" --no-wait
expect_rc 0 "request --no-wait (2 s)"
id4=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
# Past the deadline a read expires it at once, without waiting for the
# CA's expiry sweep (every 5 s): the requester's fetch says so.
sleep 2.5
E "$req" fetch "$id4"
expect_rc 4 "fetch of an expired request" "$id4 expired before it was approved"
[ -z "$(find "$tmp/xdg-$req/ephssh" -name "pending-$id4.*")" ] || fail "fetch kept the expired key"
E "$ap1" approve "$id4"
expect_rc 1 "approving an expired request" "$id4 is already expired|$id4.*expired"
api "$req" GET "/v1/requests/$id4"
[ "$(field .state)" = expired ] || fail "$id4 is $(field .state), not expired"
audit_has "$id4" expire
flow_record SYSLOG_IDENTIFIER=sshca "$a_expire" EPH_GRANT="$id4" EPH_TASK=db-maint
policy 1h
flow_reload 2

echo "ok: approved request, login, records, done and the KRL; two approvals and self-approval;" \
	"denials with reasons; expiry"
exit 0
