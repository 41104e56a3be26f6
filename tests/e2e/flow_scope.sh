#!/bin/sh
# A grant's scope, end to end (issue 16): one CA (`sshca serve`), three
# hosts (a private sshd each, with ephemeral-principals, pam_ephemeral.so
# and its watchdog, a host.conf of its own and a KRL kept by
# ephemeral-krl-sync): A (db01, accepts db-maint), B (db02, accepts
# db-maint), C (db03, accepts web-deploy only); a requester with their
# own ssh-agent and grants issued without approval:
#   - a grant of db-maint for db01 as $alice logs in to A (its session
#     record); presented to B: refused, the principals command's record
#     with EPH_REASON=wrong_host; used for another local account on A
#     ($bob): refused, login_as_mismatch;
#   - a grant of db-maint for db03, presented to C (which accepts only
#     web-deploy): refused, task_not_accepted; a grant of web-deploy for
#     db03 logs in to C;
#   - no refused one ever reaches pam_ephemeral or runs a command, and
#     each grant's issue record at the CA names the principals it has.
#
# Needs root (useradd, sshd, unshare, /etc/pam.d), python3, ssh-agent.
# Exit 77 (skip) when it cannot run. Removes everything it made.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034 # flow_lib.sh reads it
flow_name=scope
# shellcheck source=tests/e2e/flow_lib.sh
. "$top/tests/e2e/flow_lib.sh"

flow_setup
cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
tasks = (
  { name = "db-maint"; requesters = [ "$req" ];
    hosts = [ "db01.example.com", "db02.example.com", "db03.example.com" ];
    login_as = "$alice"; default_ttl = "10m"; },
  { name = "web-deploy"; requesters = [ "$req" ]; hosts = [ "db03.example.com" ];
    login_as = "$alice"; default_ttl = "10m"; }
);
EOP
flow_ca_start
flow_host a db01.example.com db-maint
flow_host b db02.example.com db-maint
flow_host c db03.example.com web-deploy
flow_agent "$req"

# issue TASK HOST: a grant issued at once into the agent (the only
# certificate there: the previous one is ended first); $id, $serial.
id=""
issue() {
	[ -z "$id" ] || { E "$req" "done" "$id"; expect_rc 0 "done $id"; }
	E "$req" request "$1" --host "$2"
	expect_rc 0 "request $1 --host $2" "r-[0-9a-f]{16} issued"
	id=$(grep -o 'r-[0-9a-f]\{16\}' "$tmp/out" | head -n 1)
	api "$req" GET "/v1/requests/$id"
	serial=$(field .serial)
	[ "$(field '.principals | join(",")')" = "eph:$1@$2" ] ||
		fail "the principals of $id: $(field .principals)"
	flow_record SYSLOG_IDENTIFIER=sshca "$a_issue" EPH_GRANT="$id" EPH_SERIAL="$serial" \
		EPH_PRINCIPALS="eph:$1@$2"
}
# refused HOST ACCOUNT REASON [FIELD=VALUE...]: a login through the agent
# to ACCOUNT on HOST refused by its principals command for REASON; the
# module never saw it.
refused() {
	_rh=$1 _ra=$2 _rr=$3
	shift 3
	host_journal_from
	flow_ssh_refused "$req" "$_rh" "$_ra"
	flow_record SYSLOG_IDENTIFIER=ephemeral-principals "$p_refused" EPH_DECISION=refused \
		EPH_REASON="$_rr" EPH_SERIAL="$serial" EPH_GRANT="$id" EPH_USER="$_ra" "$@"
	flow_norecord SYSLOG_IDENTIFIER=ephemeral-principals "$p_accepted" EPH_SERIAL="$serial"
	flow_norecord SYSLOG_IDENTIFIER=pam_ephemeral EPH_SERIAL="$serial"
}

# --- a grant for host A
host_journal_from
issue db-maint db01.example.com
flow_ssh "$req" a "$alice" || fail "the grant for A did not log in to A: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "the command's output: $out"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_SERIAL="$serial" EPH_GRANT="$id" \
	EPH_HOST=db01.example.com EPH_USER="$alice"
# ... presented to host B
refused b "$alice" wrong_host EPH_TASK=db-maint EPH_HOST=db02.example.com
# ... for another local account on A
refused a "$bob" login_as_mismatch EPH_LOGIN_AS="$alice" EPH_HOST=db01.example.com

# --- task X used as task Y: C accepts web-deploy only
issue db-maint db03.example.com
refused c "$alice" task_not_accepted EPH_TASK=db-maint EPH_HOST=db03.example.com
issue web-deploy db03.example.com
host_journal_from
flow_ssh "$req" c "$alice" || fail "web-deploy did not log in to C: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "the command's output: $out"
flow_record SYSLOG_IDENTIFIER=pam_ephemeral "$m_start" EPH_SERIAL="$serial" EPH_GRANT="$id" \
	EPH_TASK=web-deploy EPH_HOST=db03.example.com
E "$req" "done" "$id"
expect_rc 0 "done $id"

echo "ok: refused on another host, for another task, for another account; accepted in scope"
exit 0
