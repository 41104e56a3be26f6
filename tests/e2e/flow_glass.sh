#!/bin/sh
# Break glass, end to end (issue 16): one CA (`sshca serve`) with a
# webhook to a python3 HTTP listener on loopback, one host (a private
# sshd with ephemeral-principals, pam_ephemeral.so and its watchdog), a
# requester with their own ssh-agent, two approvers:
#   - refused without a reason (the policy's reason shown), nothing sent
#     to the webhook for it;
#   - with a reason: issued at once, no approval, into the agent; the
#     CA's break_glass audit record and its journal record at ALERT
#     priority; the webhook's POST (JSON, event "break-glass", the
#     request with its open review); plain ssh through the agent runs a
#     command on the host, whose session record names the grant and no
#     approver;
#   - the review stays open (ephssh show; the auditor's list) until
#     someone else closes it: the requester's own `ephssh review` is
#     refused (exit 5), an approver's closes it (review audit and journal
#     records, ephssh show: closed, by whom); a second review is refused.
#
# Needs root (useradd, sshd, unshare, /etc/pam.d), python3, ssh-agent.
# Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034 # flow_lib.sh reads it
flow_name=glass
# shellcheck source=tests/e2e/flow_lib.sh
. "$top/tests/e2e/flow_lib.sh"
# The CA's webhook goes to loopback, never through a proxy of the runner.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

ap1="ephap1$$"
ap2="ephap2$$"
aud="ephaud$$"
flow_setup
for u in "$ap1" "$ap2" "$aud"; do e2e_user "$u"; done
host=db01.example.com

# The webhook listener: each POST as one JSON line in $tmp/hooks.log
# ({"path", "content_type", "body"}), answered 204; its port in
# $tmp/hooks.port once it listens.
cat >"$tmp/hooks.py" <<'EOP'
import http.server, json, os, sys

log, portfile = sys.argv[1], sys.argv[2]


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "body": body,
                                "content_type": self.headers.get("Content-Type")}) + "\n")
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


s = http.server.HTTPServer(("127.0.0.1", 0), Hook)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.server_address[1])
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
EOP
: >"$tmp/hooks.log"
python3 "$tmp/hooks.py" "$tmp/hooks.log" "$tmp/hooks.port" 2>"$tmp/hooks.err" &
flow_pids="$flow_pids $!"
i=0
until [ -s "$tmp/hooks.port" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the webhook listener did not start: $(cat "$tmp/hooks.err")"
	sleep 0.1
done
hook_port=$(cat "$tmp/hooks.port")

cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
groups = { leads = [ "$ap1", "$ap2" ]; };
tasks = (
  { name = "glass"; break_glass = true; requesters = [ "$req" ]; approvers = [ "@leads" ];
    hosts = [ "$host" ]; login_as = "$alice"; max_ttl = "5m"; require_reason = true; }
);
EOP
cat >>"$tmp/ca.conf" <<EOC
auditors = [ "$aud" ];
webhooks = ( { url = "http://127.0.0.1:$hook_port/hooks/ephssh"; events = [ "break-glass" ]; } );
EOC
flow_ca_start
flow_host a "$host" glass
flow_agent "$req"
agent_certs() {
	runuser -u "$req" -- env SSH_AUTH_SOCK="$tmp/agent-$req/sock" ssh-add -L 2>/dev/null |
		grep -c -- '-cert-v01@openssh.com' || true
}

# --- no reason: refused by the policy
E "$req" request glass --host "$host"
expect_rc 1 "break-glass without a reason" "denied by policy:"
grep -qi "reason" "$tmp/err" || fail "the policy's reason is not shown"
[ "$(agent_certs)" = 0 ] || fail "a refused break-glass reached the agent"

# --- with a reason: issued at once
host_journal_from
E "$req" request glass --host "$host" --reason "INC-9 the primary is down"
expect_rc 0 "break-glass" "r-[0-9a-f]{16} issued"
id=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
[ "$(agent_certs)" = 1 ] || fail "the break-glass certificate is not in the agent"
api "$req" GET "/v1/requests/$id"
[ "$(field .state)" = issued ] || fail "break-glass: state $(field .state)"
[ "$(field .break_glass)" = true ] || fail "break-glass: not flagged"
[ "$(field .review.state)" = open ] || fail "break-glass: review $(field .review.state)"
[ "$(field '.approvals.by | length')" = 0 ] || fail "break-glass: approvals $(field .approvals)"
serial=$(field .serial)

# The CA's records: the audit log, and the journal at ALERT (1).
audit_has "$id" break_glass
audit_has "$id" issue ".serial == $serial"
flow_record SYSLOG_IDENTIFIER=sshca "$a_break_glass" PRIORITY=1 EPH_GRANT="$id" \
	EPH_REQUESTER="$req" EPH_TASK=glass
flow_record SYSLOG_IDENTIFIER=sshca "$a_issue" EPH_GRANT="$id" EPH_SERIAL="$serial"

# The webhook: one POST for it, JSON, event break-glass, the review open.
i=0
until jq -e --arg id "$id" 'select((.body | fromjson | .request.id) == $id)' "$tmp/hooks.log" \
	>/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "no webhook for $id in 30 s: $(cat "$tmp/hooks.log")"
	sleep 0.1
done
jq -c --arg id "$id" 'select((.body | fromjson | .request.id) == $id)' "$tmp/hooks.log" \
	>"$tmp/hook"
[ "$(wc -l <"$tmp/hook")" -eq 1 ] || fail "not one webhook for $id: $(cat "$tmp/hook")"
jq -e '.path == "/hooks/ephssh" and (.content_type | startswith("application/json")) and
	(.body | fromjson | .event == "break-glass" and .request.break_glass == true and
	 .request.review.state == "open" and .request.reason == "INC-9 the primary is down" and (.time | type) == "string")' \
	"$tmp/hook" >/dev/null || fail "the webhook: $(cat "$tmp/hook")"
jq -e --arg u "$req" '.body | fromjson | .request.requester == $u' "$tmp/hook" >/dev/null ||
	fail "the webhook does not name the requester: $(cat "$tmp/hook")"
# The hook tells of the grant as issued at once: its serial, validity
# and certificate, not the pending request it was before the signature.
jq -e --argjson s "$serial" '.body | fromjson | .request.state == "issued" and
	.request.serial == $s and (.request.valid_before | type) == "string" and
	(.request.certificate | type) == "string"' "$tmp/hook" >/dev/null ||
	fail "the break-glass webhook does not carry the issued grant: $(cat "$tmp/hook")"
# The refused request sent nothing (the hook's events: break-glass only).
[ "$(wc -l <"$tmp/hooks.log")" -eq 1 ] || fail "other webhooks: $(cat "$tmp/hooks.log")"

# --- the login: plain ssh through the agent
flow_ssh "$req" a "$alice" || fail "the break-glass grant did not log in: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "the command's output: $out"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_DECISION=accepted EPH_SERIAL="$serial" \
	EPH_GRANT="$id" EPH_TASK=glass EPH_REQUESTER="$req" EPH_USER="$alice" EPH_HOST="$host"
approvers=$(record_field EPH_APPROVERS)
[ -z "$approvers" ] || fail "the break-glass session names approvers: $approvers"

# --- the review: open until someone else closes it
open_review() { # FILE: the list in FILE has $id with its review open
	jq -e --arg id "$id" '[.requests[] | select(.id == $id and .review.state == "open")] |
		length == 1' "$1" >/dev/null
}
E "$aud" --json list --all
expect_rc 0 "the auditor's list"
open_review "$tmp/out" || fail "the auditor's list lacks the open review: $(cat "$tmp/out")"
# The approvers, who may close it, see it by its id (show) and in their
# lists: everything they may see, and the open reviews.
E "$ap1" --json show "$id"
expect_rc 0 "an approver's show"
[ "$(jq -r .review.state "$tmp/out")" = open ] || fail "an approver's show: $(cat "$tmp/out")"
E "$ap1" --json list --all
expect_rc 0 "an approver's list"
open_review "$tmp/out" || fail "an approver's list --all lacks the open review: $(cat "$tmp/out")"
E "$ap1" --json list --reviews
expect_rc 0 "an approver's list --reviews"
open_review "$tmp/out" || fail "an approver's list --reviews lacks the open review: $(cat "$tmp/out")"
[ "$(jq '.requests | length' "$tmp/out")" = 1 ] || fail "list --reviews: not one: $(cat "$tmp/out")"
E "$ap1" list --reviews
expect_rc 0 "an approver's list --reviews (table)" "$id"
E "$req" review --comment "all fine" "$id"
expect_rc 5 "the requester's own review" "refused: someone other than the requester"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "own review: not one line: $(cat "$tmp/err")"
E "$req" --json show "$id"
[ "$(jq -r .review.state "$tmp/out")" = open ] || fail "the requester closed it: $(cat "$tmp/out")"
host_journal_from
E "$ap1" review --comment "checked the session log" "$id"
expect_rc 0 "an approver's review" "^reviewed $id: break-glass review closed$"
E "$req" --json show "$id"
jq -e --arg a "$ap1" '.review.state == "closed" and .review.by == $a and
	.review.comment == "checked the session log"' "$tmp/out" >/dev/null ||
	fail "after the review: $(cat "$tmp/out")"
audit_has "$id" review ".actor == \"$ap1\""
flow_record SYSLOG_IDENTIFIER=sshca "$a_review" EPH_GRANT="$id" EPH_ACTOR="$ap1"
E "$ap2" review "$id"
expect_rc 1 "a second review" "$id has no open review \(it is closed\)"
# No audit record of the refused ones: one review record only.
runuser -u "$ca_user" -- "$SSHCA" audit show -f "$tmp/ca.conf" --json "$id" >"$tmp/audit"
[ "$(jq '[.[] | select(.type == "review")] | length' "$tmp/audit")" = 1 ] ||
	fail "review records: $(cat "$tmp/audit")"
audit_verify "after the break-glass review"

E "$req" "done" "$id"
expect_rc 0 "done" "$id revoked"
echo "ok: break-glass issued without approval, ALERT record, webhook, login, review by another"
exit 0
