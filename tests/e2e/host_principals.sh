#!/bin/sh
# ephemeral-principals under the real sshd: a copy of sshd named
# sshd-ephtest-PID on a loopback high port, UsePAM yes with a private
# /etc/pam.d entry, the principals command installed in a root-owned
# folder, run as a user made here, certificates from `sshca sign`, KRLs
# from `sshca krl`, and real `ssh`:
#   - a valid grant logs in and runs a command; the spool holds its
#     serial under the pid of the sshd process that runs its PAM session;
#   - refused: a task this host does not accept, another local account
#     (login_as), another host, an expired certificate, a revoked one;
#   - each case's journald record, caught by a listener on the journal
#     socket of a private /run (a private mount namespace).
#
# Needs root (sshd, useradd, unshare, /etc/pam.d) and python3 (the journal
# listener). Exit 77 (skip) when it cannot run.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034 # host_lib.sh reads it
host_name=hostp
# shellcheck source=tests/e2e/host_lib.sh
. "$top/tests/e2e/host_lib.sh"
host_private_run
host_journal_start
host_users

host=db01.example.com
"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
"$SSHCA" pubkey --key "$tmp/ca" >"$tmp/ca.pub"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C admin -f "$tmp/admin"
# sshd's RevokedKeys and host.conf's revoked_keys are one file on a real
# host; here two, so the principals command's own KRL check is seen too
# (sshd checks its KRL before it runs the command).
"$SSHCA" krl --key "$tmp/ca.pub" -o "$tmp/sshd.krl" >/dev/null 2>&1 || fail "sshca krl"
"$SSHCA" krl --key "$tmp/ca.pub" -o "$tmp/host.krl" >/dev/null 2>&1 || fail "sshca krl"
mkdir -m 0755 "$tmp/state"
mkdir -m 0700 "$tmp/state/spool"
chown "$princ:" "$tmp/state/spool"
cat >"$tmp/host.conf" <<EOC
host = { names = [ "$host" ]; groups = [ "db" ]; };
trusted_ca_keys = "$tmp/ca.pub";
revoked_keys = "$tmp/host.krl";
state_dir = "$tmp/state";
accept = ( { task = "db-maint"; users = [ "$alice", "$bob" ]; } );
EOC
chmod 0644 "$tmp/host.conf"

# cert NAME SERIAL TASK PRINCIPAL LOGIN_AS [sign options]
cert() {
	n=$1 serial=$2 task=$3 principal=$4 login=$5
	shift 5
	cp "$tmp/admin.pub" "$tmp/$n.pub"
	"$SSHCA" sign --key "$tmp/ca" --principals "$principal" --serial "$serial" \
		--key-id "eph:g-$serial:carol:$task" --no-default-extensions \
		--grant-id "g-$serial" --task "$task" --requester carol --login-as "$login" \
		--approver dave --max-logins 1 "$@" -o "$tmp/$n-cert.pub" "$tmp/$n.pub" 2>/dev/null ||
		fail "sshca sign $n"
}
cert good 1 db-maint "eph:db-maint@$host" "$alice" --ttl 5m
cert othertask 2 web-deploy "eph:web-deploy@$host" "$alice" --ttl 5m
cert otherhost 3 db-maint "eph:db-maint@db02.example.com" "$alice" --ttl 5m
cert short 4 db-maint "eph:db-maint@$host" "$alice" --ttl 1s --skew 0
cert revoked 5 db-maint "eph:db-maint@$host" "$alice" --ttl 5m

cat >"$bin/session" <<EOS
#!/bin/sh
echo "\$PAM_TYPE \$PPID \$PAM_USER" >>"$tmp/pam.log"
EOS
chmod 0755 "$bin/session"
cat >"/etc/pam.d/$service" <<EOP
account required pam_permit.so
session optional pam_exec.so quiet $bin/session
session required pam_permit.so
EOP

host_sshd_start <<EOC
TrustedUserCAKeys $tmp/ca.pub
RevokedKeys $tmp/sshd.krl
AuthorizedKeysFile none
AuthorizedPrincipalsCommand $bin/ephemeral-principals -f $tmp/host.conf %u %t %k
AuthorizedPrincipalsCommandUser $princ
EOC

# record SERIAL FIELD=VALUE...: a journald record of ephemeral-principals
# for that serial with those fields.
record() {
	_s=$1
	shift
	host_record ephemeral-principals EPH_SERIAL="$_s" "$@"
}
accepted=MESSAGE_ID=197a2d5d5f7081c3ff65830b0b02db1b
refused=MESSAGE_ID=e3058484723d73fbc255b88f734948f5

# A valid grant logs in and runs a command.
login "$alice" good || fail "the valid grant was refused: $(cat "$tmp/ssh.err")"
[ "$out" = "LOGIN-OK as $alice" ] || fail "unexpected output: $out"
grep -q "Accepted publickey for $alice .*ID eph:g-1:carol:db-maint (serial 1)" "$tmp/sshd.log" ||
	fail "sshd did not accept serial 1"
record 1 "$accepted" EPH_DECISION=accepted EPH_REASON=ok EPH_USER="$alice" EPH_GRANT=g-1 \
	EPH_TASK=db-maint EPH_REQUESTER=carol EPH_APPROVERS=dave EPH_LOGIN_AS="$alice" \
	EPH_HOST="$host" PRIORITY=6

# The spool entry is named after the sshd process that ran the PAM
# session (pam_exec's parent): what pam_ephemeral will look up.
i=0
until grep -q "^open_session " "$tmp/pam.log" 2>/dev/null; do
	i=$((i + 1)); [ "$i" -lt 50 ] || fail "no PAM session recorded"; sleep 0.1
done
monitor=$(awk '$1 == "open_session" { print $2; exit }' "$tmp/pam.log")
entry=$(ls "$tmp/state/spool" | grep "^$monitor-" || true)
[ -n "$entry" ] || fail "no spool entry for sshd pid $monitor: $(ls -a "$tmp/state/spool")"
[ "$(stat -c '%U %a' "$tmp/state/spool/$entry")" = "$princ 600" ] ||
	fail "spool entry owner/mode: $(stat -c '%U %a' "$tmp/state/spool/$entry")"
head -n 1 "$tmp/state/spool/$entry" | grep -q "^ephspool 1 $monitor " || fail "spool header"
[ "$(sed -n '2,$p' "$tmp/state/spool/$entry" | awk '{ print $2, $3 }')" = "1 $alice" ] ||
	fail "spool entries: $(cat "$tmp/state/spool/$entry")"

# Refused: a task this host does not accept.
if login "$alice" othertask; then fail "a task the host does not accept was let in"; fi
record 2 "$refused" EPH_DECISION=refused EPH_REASON=task_not_accepted EPH_TASK=web-deploy
# Refused: another local account than the grant's login_as, though
# host.conf accepts the task for it.
if login "$bob" good; then fail "login_as $alice was let in as $bob"; fi
record 1 "$refused" EPH_DECISION=refused EPH_REASON=login_as_mismatch EPH_USER="$bob"
# Refused: the certificate of another host.
if login "$alice" otherhost; then fail "a certificate for another host was let in"; fi
record 3 "$refused" EPH_REASON=wrong_host
# Refused: revoked, in host.conf's KRL (sshd's own one still empty).
"$SSHCA" krl --key "$tmp/ca.pub" --serial 5 -o "$tmp/host.krl" >/dev/null 2>&1 || fail "sshca krl"
if login "$alice" revoked; then fail "a revoked certificate was let in"; fi
record 5 "$refused" EPH_REASON=revoked
# ... and in sshd's: sshd refuses before asking the command.
cp "$tmp/host.krl" "$tmp/sshd.krl"
if login "$alice" revoked; then fail "sshd let a revoked certificate in"; fi
# Refused: expired (sshd asks for principals before it checks validity).
sleep 2
if login "$alice" short; then fail "an expired certificate was let in"; fi
record 4 "$refused" EPH_REASON=expired
# The good certificate still works, and the stale entry of the first
# connection is gone (its sshd process has exited) once a sweep is due:
# at most one a minute, so the last sweep's stamp is made old.
[ -f "$tmp/state/spool/.swept" ] || fail "no sweep stamp in the spool"
touch -d '2 minutes ago' "$tmp/state/spool/.swept"
login "$alice" good || fail "the valid grant was refused the second time: $(cat "$tmp/ssh.err")"
[ ! -e "$tmp/state/spool/$entry" ] || fail "the stale spool entry $entry was not cleaned"

echo "ok: accepted and spooled; refused task, login_as, host, revoked, expired; journal records"
exit 0
