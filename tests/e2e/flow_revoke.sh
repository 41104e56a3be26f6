#!/bin/sh
# Revocation of a live session, and the CA down, end to end (issue 16):
# one CA (`sshca serve`), one host (a private sshd with
# ephemeral-principals, pam_ephemeral.so and its session watchdog, a KRL
# kept by ephemeral-krl-sync from the CA's socket), a requester with their
# own ssh-agent, an approver:
#   5. a live `ssh ... sleep 300` session through the agent; the approver
#      runs `ephssh revoke`; the host's KRL sync runs; the session ends
#      within 60 s: pam_ephemeral's "session terminated" record with
#      EPH_REASON=revoked, then its session end, no process of the
#      account or watchdog left; a new login with the same certificate is
#      refused by sshd (the agent still holds it); the CA's revoke audit
#      and journal records name the approver and the reason;
#   6. the CA down (sshca serve stopped): the host's KRL sync fails and
#      keeps the KRL byte for byte (its failed record); the host still
#      lets in a valid grant (through the agent; its session record) and
#      refuses the revoked one (a copy of its key and certificate);
#      `ephssh status` and `ephssh request` say the CA is unreachable
#      (exit 3, the address named).
#
# Needs root (useradd, sshd, unshare, /etc/pam.d), python3, ssh-agent.
# Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034 # flow_lib.sh reads it
flow_name=revoke
# shellcheck source=tests/e2e/flow_lib.sh
. "$top/tests/e2e/flow_lib.sh"

ap1="ephap1$$"
flow_setup
e2e_user "$ap1"
host=db01.example.com
cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
tasks = (
  { name = "db-maint"; requesters = [ "$req" ]; approvers = [ "$ap1" ]; approvals = 1;
    hosts = [ "$host" ]; login_as = "$alice"; default_ttl = "10m"; }
);
EOP
flow_ca_start
flow_host a "$host" db-maint
flow_agent "$req"
agent_certs() {
	runuser -u "$req" -- env SSH_AUTH_SOCK="$tmp/agent-$req/sock" ssh-add -L 2>/dev/null |
		grep -c -- '-cert-v01@openssh.com' || true
}
# grant NAME: a request of db-maint sent with --no-wait, its pending key
# copied to $tmp/NAME (what a thief would hold), approved, fetched into
# the agent; its id in $id, its serial in $serial, the certificate in
# $tmp/NAME-cert.pub.
grant() {
	E "$req" request db-maint --host "$host" --no-wait
	expect_rc 0 "request --no-wait ($1)"
	id=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
	kf=$(find "$tmp/xdg-$req/ephssh" -name "pending-$id.*")
	[ -n "$kf" ] || fail "no saved key for $id"
	flow_openssh_key "$kf" "$tmp/$1"
	E "$ap1" approve "$id"
	expect_rc 0 "approve ($1)" "^approved $id: issued to $req"
	E "$req" fetch "$id"
	expect_rc 0 "fetch ($1)" "$id issued"
	api "$req" GET "/v1/requests/$id"
	serial=$(field .serial)
	field .certificate >"$tmp/$1-cert.pub"
}
# ssh_copy NAME: a login with the copy of grant NAME's key and certificate.
ssh_copy() {
	out=$("$SSH" -F /dev/null -p "$(cat "$tmp/h-a/port")" -i "$tmp/$1" \
		-o CertificateFile="$tmp/$1-cert.pub" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 "$alice@127.0.0.1" 'echo LOGIN-OK' </dev/null 2>"$tmp/ssh.err")
}
# sshd_revoked_since LINES: sshd logged a revoked key after line LINES.
sshd_revoked_since() {
	sed -n "$(($1 + 1)),\$p" "$tmp/h-a/sshd.log" | grep -q "revoked by file $tmp/h-a/revoked.krl" ||
		fail "sshd did not log the revoked certificate"
}

# ------------------------------------- 5. revoked while a session is open
grant one
id1=$id serial1=$serial
[ "$(agent_certs)" = 1 ] || fail "the grant is not in the agent"
host_journal_from
live_start "$req" a "$alice"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_SERIAL="$serial1" EPH_GRANT="$id1" \
	EPH_WATCHDOG=yes EPH_USER="$alice"
pgrep -f "ephemeral-watchdog .*--user $alice" >/dev/null || fail "no watchdog for the live session"
E "$ap1" revoke --reason "INC-5 key may be exposed" "$id1"
expect_rc 0 "revoke by the approver" "^revoked $id1: serial $serial1 is in the CA's revocation list$"
audit_has "$id1" revoke ".actor == \"$ap1\" and .serial == $serial1"
flow_record SYSLOG_IDENTIFIER=sshca "$a_revoke" EPH_GRANT="$id1" EPH_SERIAL="$serial1" \
	EPH_ACTOR="$ap1" EPH_REASON="INC-5 key may be exposed"
# The CA has revoked it; the host does not know before its KRL sync.
kill -0 "$live_pid" 2>/dev/null || fail "the session ended before the host's KRL sync"
flow_krl_sync a
flow_record SYSLOG_IDENTIFIER=ephemeral-krl-sync "$k_updated"
live_ended 60
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_term" EPH_DECISION=terminated EPH_REASON=revoked \
	EPH_SERIAL="$serial1" EPH_GRANT="$id1" EPH_USER="$alice" EPH_TASK=db-maint EPH_HOST="$host"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_end" EPH_SERIAL="$serial1" EPH_USER="$alice"
i=0
while pgrep -u "$alice" >/dev/null || pgrep -f "ephemeral-watchdog .*--user $alice" >/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "left behind: $(ps -o pid,user,args -u "$alice"; pgrep -af ephemeral-watchdog)"
	sleep 0.1
done
# New logins: the agent still holds the certificate; sshd refuses it.
[ "$(agent_certs)" = 1 ] || fail "the revoked certificate left the requester's agent"
host_journal_from
lines=$(wc -l <"$tmp/h-a/sshd.log")
flow_ssh_refused "$req" a "$alice"
sshd_revoked_since "$lines"
flow_norecord SYSLOG_IDENTIFIER=pam_ephemeral EPH_SERIAL="$serial1"
lines=$(wc -l <"$tmp/h-a/sshd.log")
if ssh_copy one; then fail "the copy of the revoked grant logged in: $out"; fi
sshd_revoked_since "$lines"
# The requester ends it: out of the agent.
E "$req" "done" "$id1"
expect_rc 0 "done of a revoked grant" "$id1 was revoked already; its key and certificate are out"
[ "$(agent_certs)" = 0 ] || fail "done left the revoked certificate in the agent"

# ----------------------------------------------------------- 6. CA down
grant two
id2=$id serial2=$serial
flow_krl_sync a
cp "$tmp/h-a/revoked.krl" "$tmp/krl.before"
e2e_stop
[ ! -S "$sock" ] || fail "the CA's socket is still there"
host_journal_from
rc=0
"$KRLSYNC" -f "$tmp/h-a/host.conf" --url "unix:$sock" --quiet || rc=$?
[ "$rc" -eq 1 ] || fail "ephemeral-krl-sync with the CA down exited $rc, not 1"
cmp -s "$tmp/krl.before" "$tmp/h-a/revoked.krl" || fail "the KRL changed with the CA down"
flow_record SYSLOG_IDENTIFIER=ephemeral-krl-sync "$k_failed" EPH_KRL_FILE="$tmp/h-a/revoked.krl"
# A valid grant still gets in, through the agent.
flow_ssh "$req" a "$alice" || fail "the valid grant was refused with the CA down: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "the command's output: $out"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_DECISION=accepted EPH_SERIAL="$serial2" \
	EPH_GRANT="$id2" EPH_USER="$alice"
ssh_copy two || fail "the copy of the valid grant was refused with the CA down"
# The revoked one stays refused.
lines=$(wc -l <"$tmp/h-a/sshd.log")
if ssh_copy one; then fail "the revoked grant logged in with the CA down: $out"; fi
sshd_revoked_since "$lines"
# The client says the CA is unreachable.
E "$req" status
expect_rc 3 "status with the CA down" "cannot reach the CA at unix:$sock"
E "$req" request db-maint --host "$host"
expect_rc 3 "request with the CA down" "cannot reach the CA at unix:$sock"

echo "ok: a live session ended by revocation through the host's KRL sync; the host with the CA down"
exit 0
