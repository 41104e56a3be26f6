#!/bin/sh
# pam_ephemeral.so under the real sshd: a copy of sshd named
# sshd-ephtest-PID on a loopback high port, UsePAM yes with a private
# /etc/pam.d entry that runs the built module (copied to a root-owned
# folder) after pam_env with user_readenv, ephemeral-principals as the
# principals command, one KRL file for sshd and host.conf, certificates
# from `sshca sign`, and real `ssh`:
#   - a valid grant logs in; its session start and end records;
#   - refused by the module: a certificate whose max_logins are used up;
#     a plain-key login that replays a captured certificate through
#     ~/.pam_environment (not the one sshd saw on the connection); a
#     plain-key login under non_ephemeral = "deny";
#   - refused before it: another host, a task not accepted, another
#     local account, revoked (the KRL replaced while sshd runs), expired;
#   - let through: a plain-key login under non_ephemeral = "ignore";
#   - live sessions ended by the session watchdog: one on a terminal when
#     its certificate expires (a TTL of seconds; the user is told why),
#     one when its serial is revoked (the KRL replaced while it runs);
#     no process of theirs, nor the watchdog, left behind;
#   - each case's journald record, caught by a listener on the journal
#     socket of a private /run (a private mount namespace).
#
# Needs root (sshd, useradd, unshare, /etc/pam.d) and python3 (the journal
# listener). Exit 77 (skip) when it cannot run.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034 # host_lib.sh reads it
host_name=hostpam
# shellcheck source=tests/e2e/host_lib.sh
. "$top/tests/e2e/host_lib.sh"
PAM_EPHEMERAL_SO=${PAM_EPHEMERAL_SO:-$(dirname "$SSHCA")/../host/.libs/pam_ephemeral.so}
[ -f "$PAM_EPHEMERAL_SO" ] || fail "no pam_ephemeral.so at $PAM_EPHEMERAL_SO (build first)"

host_private_run
host_journal_start
host_users
WATCHDOG=${WATCHDOG:-$(dirname "$PRINCIPALS")/ephemeral-watchdog}
[ -x "$WATCHDOG" ] || fail "no ephemeral-watchdog at $WATCHDOG (build first)"
cp "$PAM_EPHEMERAL_SO" "$bin/pam_ephemeral.so"
chmod 0644 "$bin/pam_ephemeral.so"
# The module insists on a root-owned watchdog in root-owned folders.
cp "$WATCHDOG" "$bin/ephemeral-watchdog"
chmod 0755 "$bin/ephemeral-watchdog"

host=db01.example.com
"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
"$SSHCA" pubkey --key "$tmp/ca" >"$tmp/ca.pub"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C admin -f "$tmp/admin"
# One KRL, sshd's RevokedKeys and host.conf's revoked_keys, as on a host.
krl=$tmp/revoked.krl
"$SSHCA" krl --key "$tmp/ca.pub" -o "$krl" >/dev/null 2>&1 || fail "sshca krl"
chmod 0644 "$krl"
mkdir -m 0755 "$tmp/state"
mkdir -m 0700 "$tmp/state/spool"
chown "$princ:" "$tmp/state/spool"
# host_conf NON_EPHEMERAL: host.conf, which the module reads afresh for
# each session (written whole, then moved into place). services names
# this sshd's PAM service: the module passes over any other (default
# "sshd"). session_end (the default, written out) gives every session
# its watchdog.
host_conf() {
	cat >"$tmp/host.conf.new" <<EOC
host = { names = [ "$host" ]; groups = [ "db" ]; };
trusted_ca_keys = "$tmp/ca.pub";
revoked_keys = "$krl";
state_dir = "$tmp/state";
accept = ( { task = "db-maint"; users = [ "$alice", "$bob" ]; } );
non_ephemeral = "$1";
session_end = true;
services = [ "$service" ];
EOC
	chmod 0644 "$tmp/host.conf.new"
	mv "$tmp/host.conf.new" "$tmp/host.conf"
}
host_conf deny

# Plain keys: bob's in AuthorizedKeysFile (a root-owned folder).
mkdir -m 0755 "$tmp/keys"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C bob -f "$tmp/bobkey"
cp "$tmp/bobkey.pub" "$tmp/keys/$bob"
chmod 0644 "$tmp/keys/$bob"

# cert NAME SERIAL TASK PRINCIPAL LOGIN_AS [sign options]
cert() {
	n=$1 serial=$2 task=$3 principal=$4 login=$5
	shift 5
	cp "$tmp/admin.pub" "$tmp/$n.pub"
	"$SSHCA" sign --key "$tmp/ca" --principals "$principal" --serial "$serial" \
		--key-id "eph:g-$serial:carol:$task" --no-default-extensions \
		--grant-id "g-$serial" --task "$task" --requester carol --login-as "$login" \
		--approver dave "$@" -o "$tmp/$n-cert.pub" "$tmp/$n.pub" 2>/dev/null ||
		fail "sshca sign $n"
}
cert good 1 db-maint "eph:db-maint@$host" "$alice" --ttl 5m --max-logins 1
cert otherhost 2 db-maint "eph:db-maint@db02.example.com" "$alice" --ttl 5m
cert othertask 3 web-deploy "eph:web-deploy@$host" "$alice" --ttl 5m
cert asalice 4 db-maint "eph:db-maint@$host" "$alice" --ttl 5m
cert revoked 5 db-maint "eph:db-maint@$host" "$alice" --ttl 5m --max-logins 0
cert short 6 db-maint "eph:db-maint@$host" "$alice" --ttl 1s --skew 0
cert captured 7 db-maint "eph:db-maint@$host" "$bob" --ttl 5m --max-logins 0
cert revokedlive 9 db-maint "eph:db-maint@$host" "$alice" --ttl 5m --max-logins 0

# pam_env first, on purpose: what a user puts in SSH_AUTH_INFO_0 through
# ~/.pam_environment reaches the module, which must not trust it.
cat >"/etc/pam.d/$service" <<EOP
account required pam_permit.so
session required pam_env.so user_readenv=1 envfile=/dev/null
session required $bin/pam_ephemeral.so conf=$tmp/host.conf watchdog=$bin/ephemeral-watchdog
session required pam_permit.so
EOP

# A module of the sanitizer build needs its runtimes in sshd first.
sshd_preload=$(host_sanitizer_preload "$bin/pam_ephemeral.so")
host_sshd_start <<EOC
TrustedUserCAKeys $tmp/ca.pub
RevokedKeys $krl
AuthorizedKeysFile $tmp/keys/%u
AuthorizedPrincipalsCommand $bin/ephemeral-principals -f $tmp/host.conf %u %t %k
AuthorizedPrincipalsCommandUser $princ
EOC

p_refused=MESSAGE_ID=e3058484723d73fbc255b88f734948f5
m_refused=MESSAGE_ID=7a5f0aeaed04cc04fea94d59cacc476c
m_start=MESSAGE_ID=56db258effae58e5257d4ec8899c7d5f
m_end=MESSAGE_ID=3cbb80c8a68e6e71af02f56aed580e35
pam=pam_ephemeral
# plain USER KEY: a plain-key login.
plain() {
	host_ssh "$1" "$2"
}
# refused_by_module MESSAGE: sshd authenticated the last login and its
# PAM session was refused (PAM_PERM_DENIED), the command never ran, and
# the module's MESSAGE reached the user.
refused_by_module() {
	sed -n "$((sshd_lines + 1)),\$p" "$tmp/sshd.log" |
		grep -q "PAM: pam_open_session(): Permission denied" ||
		fail "sshd logged no refused PAM session"
	case $out in *LOGIN-OK*) fail "the command ran: $out" ;; esac
	case $out in *"$1"*) ;; *) fail "the user was not told \"$1\": $out" ;; esac
}
# No record of the module for SERIAL since host_journal_from: sshd or
# the principals command refused first.
module_not_run() {
	host_norecord "$pam" EPH_SERIAL="$1"
}

# 1. A valid grant (max_logins 1) logs in and runs a command; the module
# logs the session's start, from the sshd process that runs it, and end.
host_journal_from
login "$alice" good || fail "the valid grant was refused: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "unexpected output: $out"
host_record "$pam" "$m_start" EPH_DECISION=accepted EPH_REASON=ok EPH_SERIAL=1 \
	EPH_GRANT=g-1 EPH_TASK=db-maint EPH_REQUESTER=carol EPH_APPROVERS=dave \
	EPH_USER="$alice" EPH_LOGIN_AS="$alice" EPH_RHOST=127.0.0.1 EPH_LOGINS=1 EPH_HOST="$host" \
	PRIORITY=6
spid=$(record_field EPH_SSHD_PID)
if [ -z "$spid" ] || [ "$spid" != "$(record_field _PID)" ] || [ "$spid" = "$sshd_pid" ]; then
	fail "EPH_SSHD_PID '$spid': not the sender ($(record_field _PID)) or the listener"
fi
host_record "$pam" "$m_end" EPH_SERIAL=1 EPH_GRANT=g-1 EPH_USER="$alice" EPH_HOST="$host"
dur=$(record_field EPH_DURATION)
case $dur in '' | *[!0-9]*) fail "EPH_DURATION '$dur' is not a number of seconds" ;; esac

# 2. The same certificate again: sshd and the principals command accept
# it, the module refuses (its one login is used), so does the login.
host_journal_from
sshd_lines=$(wc -l <"$tmp/sshd.log")
if login "$alice" good; then fail "a second login on max_logins 1 was let in: $out"; fi
host_record "$pam" "$m_refused" EPH_DECISION=refused EPH_REASON=max_logins EPH_SERIAL=1 \
	EPH_USER="$alice" EPH_GRANT=g-1 EPH_RHOST=127.0.0.1 PRIORITY=4
host_norecord "$pam" "$m_start"
refused_by_module "Access denied: this certificate has been used for all its logins."

# 3. Refused by the principals command, before the module runs: another
# host, a task this host does not accept, another local account.
host_journal_from
if login "$alice" otherhost; then fail "a certificate for another host was let in"; fi
host_record ephemeral-principals "$p_refused" EPH_SERIAL=2 EPH_DECISION=refused \
	EPH_REASON=wrong_host
module_not_run 2
if login "$alice" othertask; then fail "a task the host does not accept was let in"; fi
host_record ephemeral-principals "$p_refused" EPH_SERIAL=3 EPH_DECISION=refused \
	EPH_REASON=task_not_accepted EPH_TASK=web-deploy
module_not_run 3
if login "$bob" asalice; then fail "login_as $alice was let in as $bob"; fi
host_record ephemeral-principals "$p_refused" EPH_SERIAL=4 EPH_DECISION=refused \
	EPH_REASON=login_as_mismatch EPH_USER="$bob" EPH_LOGIN_AS="$alice"
module_not_run 4

# 4. Revoked while sshd runs: one login, then serial 5 in the KRL (a new
# file moved over the one sshd and host.conf name); sshd refuses first.
host_journal_from
login "$alice" revoked || fail "serial 5 before its revocation: $(cat "$tmp/ssh.err")"
host_record "$pam" "$m_start" EPH_SERIAL=5 EPH_USER="$alice" '!EPH_LOGINS'
"$SSHCA" krl --key "$tmp/ca.pub" --serial 5 -o "$krl.new" >/dev/null 2>&1 || fail "sshca krl"
chmod 0644 "$krl.new"
mv "$krl.new" "$krl"
host_journal_from
sshd_lines=$(wc -l <"$tmp/sshd.log")
if login "$alice" revoked; then fail "a revoked certificate was let in"; fi
sed -n "$((sshd_lines + 1)),\$p" "$tmp/sshd.log" | grep -qi "revoked" ||
	fail "sshd did not log the revoked certificate"
module_not_run 5
host_norecord ephemeral-principals EPH_SERIAL=5

# 5. Expired (sshd asks for principals before it checks validity).
sleep 2
host_journal_from
if login "$alice" short; then fail "an expired certificate was let in"; fi
host_record ephemeral-principals "$p_refused" EPH_SERIAL=6 EPH_DECISION=refused \
	EPH_REASON=expired
module_not_run 6

# 6. The replay: bob logs in with his plain key, and his ~/.pam_environment
# (read by pam_env before the module) puts a captured certificate of a
# grant for bob into SSH_AUTH_INFO_0. sshd's own value (the plain key's
# line, with its '\n') follows as the line's info field, since pam_env
# cannot write a newline. The module checks the certificate (so it was
# handed over: the record has its serial) and refuses it: not the one
# sshd's principals command saw on this connection.
b64=$(cut -d' ' -f2 "$tmp/captured-cert.pub")
# shellcheck disable=SC2016 # pam_env expands it
printf 'SSH_AUTH_INFO_0 OVERRIDE="publickey ssh-ed25519-cert-v01\\@openssh.com %s ${SSH_AUTH_INFO_0}"\n' \
	"$b64" >"$tmp/home-$bob/.pam_environment"
chown "$bob:" "$tmp/home-$bob/.pam_environment"
chmod 0644 "$tmp/home-$bob/.pam_environment"
host_journal_from
sshd_lines=$(wc -l <"$tmp/sshd.log")
if plain "$bob" "$tmp/bobkey"; then fail "a replayed certificate let bob in: $out"; fi
host_record "$pam" "$m_refused" EPH_DECISION=refused EPH_REASON=not_presented EPH_SERIAL=7 \
	EPH_GRANT=g-7 EPH_USER="$bob" EPH_LOGIN_AS="$bob" EPH_RHOST=127.0.0.1
host_norecord "$pam" "$m_start"
refused_by_module "Access denied: the certificate was not the one presented to sshd."
# Without it, the same plain-key login is no certificate login at all,
# which non_ephemeral = "deny" refuses.
rm -f "$tmp/home-$bob/.pam_environment"
host_journal_from
sshd_lines=$(wc -l <"$tmp/sshd.log")
if plain "$bob" "$tmp/bobkey"; then fail "non_ephemeral = deny let a plain key in: $out"; fi
host_record "$pam" "$m_refused" EPH_DECISION=refused EPH_REASON=not_ephemeral \
	EPH_USER="$bob" '!EPH_SERIAL' EPH_RHOST=127.0.0.1
refused_by_module "Access denied: this host accepts only ephemeral certificate logins."

# 7. non_ephemeral = "ignore": the same login is the module's business
# no more (PAM_IGNORE) and goes through.
host_conf ignore
host_journal_from
plain "$bob" "$tmp/bobkey" || fail "non_ephemeral = ignore refused a plain key: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $bob" ] || fail "unexpected output: $out"
host_norecord "$pam" "$m_refused"
host_norecord "$pam" "$m_start"

# Live sessions. live_start CERT [ssh options]: a login that prints
# STARTED and then sleeps, in the background (ssh's pid in $live_pid, its
# output in $tmp/live.out), once the sleep runs.
live_start() {
	_c=$1
	shift
	: >"$tmp/live.out"
	"$SSH" -F /dev/null -p "$port" -i "$tmp/admin" -o CertificateFile="$tmp/$_c-cert.pub" "$@" \
		-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
		"$alice@127.0.0.1" 'echo STARTED; exec sleep 300' </dev/null >"$tmp/live.out" \
		2>"$tmp/ssh.err" &
	live_pid=$!
	i=0
	until grep -q STARTED "$tmp/live.out"; do
		i=$((i + 1)); [ "$i" -lt 100 ] || fail "the live session did not start: $(cat "$tmp/ssh.err")"
		sleep 0.1
	done
}
# live_ended SECONDS: the background login has ended within SECONDS.
live_ended() {
	i=0
	while kill -0 "$live_pid" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt $(($1 * 10)) ] || { kill "$live_pid"; fail "the live session was not ended"; }
		sleep 0.1
	done
	wait "$live_pid" 2>/dev/null || true
}
# Nothing of the session left: no process of alice's, no watchdog for her.
none_left() {
	i=0
	while pgrep -u "$alice" >/dev/null || pgrep -f "ephemeral-watchdog .*--user $alice" >/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 50 ] || fail "left behind: $(ps -o pid,user,args -u "$alice" 2>&1; pgrep -af ephemeral-watchdog)"
		sleep 0.1
	done
}
m_term=MESSAGE_ID=b3d0c7e4a1f24b6e9c85d2a7f03e61c9

# 8. On a terminal, until the certificate expires (8 s): the watchdog
# tells the terminal why, ends the session within 5 s of valid_before,
# and the session's end is logged as usual (sshd ran close_session).
cert live 8 db-maint "eph:db-maint@$host" "$alice" --ttl 8s --skew 0 --max-logins 0 \
	--extension permit-pty
host_journal_from
live_start live -tt
host_record "$pam" "$m_start" EPH_SERIAL=8 EPH_WATCHDOG=yes
pgrep -f "ephemeral-watchdog .*--user $alice" >/dev/null || fail "no watchdog for the live session"
live_ended 30
host_record "$pam" "$m_term" EPH_DECISION=terminated EPH_REASON=expired EPH_SERIAL=8 \
	EPH_GRANT=g-8 EPH_USER="$alice" EPH_TASK=db-maint EPH_HOST="$host" PRIORITY=5
lag=$(record_field EPH_LAG)
case $lag in '' | *[!0-9]*) fail "EPH_LAG '$lag'" ;; esac
[ "$lag" -le 5 ] || fail "the session ended $lag s after its certificate expired"
grep -q "the grant of this session has expired" "$tmp/live.out" ||
	fail "the terminal was not told why: $(cat "$tmp/live.out")"
host_record "$pam" "$m_end" EPH_SERIAL=8 EPH_USER="$alice"
# The cause before its effect: the watchdog's record comes first.
python3 - "$tmp/journal.log" "${m_term#MESSAGE_ID=}" "${m_end#MESSAGE_ID=}" <<'EOP' ||
import json, sys
ids = [json.loads(l).get("MESSAGE_ID") for l in open(sys.argv[1])
       if json.loads(l).get("EPH_SERIAL") == "8"]
sys.exit(0 if sys.argv[2] in ids and sys.argv[3] in ids and
         ids.index(sys.argv[2]) < ids.index(sys.argv[3]) else 1)
EOP
	fail "the session's end was logged before its termination"
none_left

# 9. Without a terminal, until its serial is revoked: the KRL replaced
# while the session runs; ended within 60 s (the watchdog looks every 5).
host_journal_from
live_start revokedlive
"$SSHCA" krl --key "$tmp/ca.pub" --serial 5 --serial 9 -o "$krl.new" >/dev/null 2>&1 ||
	fail "sshca krl"
chmod 0644 "$krl.new"
mv "$krl.new" "$krl"
live_ended 60
host_record "$pam" "$m_term" EPH_DECISION=terminated EPH_REASON=revoked EPH_SERIAL=9 \
	EPH_USER="$alice" PRIORITY=4
none_left
if login "$alice" revokedlive; then fail "the revoked live certificate logged in again"; fi

echo "ok: session start/end; refused max_logins, replay, not_ephemeral; principals refusals;" \
	"revoked, expired; non_ephemeral ignore; live sessions ended on expiry and revocation"
exit 0
