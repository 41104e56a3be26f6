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

if [ "$(id -u)" -eq 0 ] && [ -z "${EPH_E2E_NS:-}" ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	EPH_E2E_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi
if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root to run sshd"; exit 77; fi
[ -n "${EPH_E2E_NS:-}" ] || { echo "skip: no private mount namespace (unshare -m)"; exit 77; }

top=$(cd "$(dirname "$0")/../.." && pwd)
SSHCA=${SSHCA:-$top/sshca/sshca}
SSHD=${SSHD:-/usr/sbin/sshd}
PRINCIPALS=${PRINCIPALS:-$(dirname "$SSHCA")/../host/ephemeral-principals}
SSH=${SSH:-ssh}
SSH_KEYGEN=${SSH_KEYGEN:-ssh-keygen}
[ -x "$SSHD" ] || { echo "skip: no sshd at $SSHD"; exit 77; }
for t in "$SSH" "$SSH_KEYGEN" python3 useradd userdel mount; do
	command -v "$t" >/dev/null || { echo "skip: no $t"; exit 77; }
done
[ -d /etc/pam.d ] || { echo "skip: no /etc/pam.d"; exit 77; }
[ -x "$SSHCA" ] || { echo "FAIL: no sshca at $SSHCA (build first)" >&2; exit 1; }
[ -x "$PRINCIPALS" ] || { echo "FAIL: no ephemeral-principals at $PRINCIPALS" >&2; exit 1; }

tmp=$(mktemp -d /tmp/eph-hostp.XXXXXX)
chmod 0755 "$tmp"
service="sshd-ephtest-$$"
princ="ephpr$$"
alice="ephal$$"
bob="ephbo$$"
made_users=""
sshd_pid=""
recv_pid=""
cleanup() {
	set +e
	[ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null
	[ -z "$recv_pid" ] || kill "$recv_pid" 2>/dev/null
	rm -f "/etc/pam.d/$service"
	for u in $made_users; do userdel "$u" 2>/dev/null; done
	umount -l /run 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/sshd.log" ] && tail -n 30 "$tmp/sshd.log" | sed 's/^/sshd: /' >&2
	[ -f "$tmp/journal.log" ] && tail -n 10 "$tmp/journal.log" | sed 's/^/journal: /' >&2
	exit 1
}

# A private /run: sshd's privilege separation folder, the root-owned
# folder of the principals command (sshd refuses one under /tmp), and a
# journal socket nobody else sees.
mount -t tmpfs -o mode=0755 tmpfs /run || fail "mount a private /run"
mkdir -m 0755 /run/sshd /run/systemd /run/systemd/journal
bin=/run/ephtest-$$
mkdir -m 0755 "$bin"
cp "$PRINCIPALS" "$bin/ephemeral-principals"
cp "$SSHD" "$bin/$service"
chmod 0755 "$bin/ephemeral-principals" "$bin/$service"

# The journal listener: each native-protocol datagram (KEY=value lines,
# or KEY\n<le64 length><bytes>\n) as one JSON line.
cat >"$tmp/jrecv.py" <<'EOP'
import json, os, socket, struct, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
open(out + ".ready", "w").close()
while True:
    d = s.recv(1 << 20)
    rec, i = {}, 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = struct.unpack("<Q", d[nl + 1:nl + 9])[0]
            v = d[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        rec[k.decode()] = v.decode("utf-8", "replace")
    with open(out, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
EOP
python3 "$tmp/jrecv.py" /run/systemd/journal/socket "$tmp/journal.log" &
recv_pid=$!
i=0
until [ -f "$tmp/journal.log.ready" ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || fail "the journal listener did not start"; sleep 0.1
done

for u in "$princ"; do
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
		fail "useradd $u"
	made_users="$made_users $u"
done
for u in "$alice" "$bob"; do
	useradd --no-create-home --home-dir "$tmp/home-$u" --shell /bin/sh "$u" || fail "useradd $u"
	made_users="$made_users $u"
	mkdir -m 0755 "$tmp/home-$u"
	chown "$u:" "$tmp/home-$u"
done

host=db01.example.com
"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
"$SSHCA" pubkey --key "$tmp/ca" >"$tmp/ca.pub"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C admin -f "$tmp/admin"
"$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/hostkey"
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

port=""
for try in 1 2 3 4 5 6 7 8; do
	p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
	cat >"$tmp/sshd_config" <<EOC
Port $p
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
TrustedUserCAKeys $tmp/ca.pub
RevokedKeys $tmp/sshd.krl
AuthorizedKeysFile none
AuthorizedPrincipalsCommand $bin/ephemeral-principals -f $tmp/host.conf %u %t %k
AuthorizedPrincipalsCommandUser $princ
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
ExposeAuthInfo yes
StrictModes no
LogLevel VERBOSE
EOC
	"$bin/$service" -t -f "$tmp/sshd_config" || fail "sshd -t rejects the config"
	"$bin/$service" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
	sshd_pid=$!
	i=0
	while [ $i -lt 50 ]; do
		grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && { port=$p; break; }
		kill -0 "$sshd_pid" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	[ -n "$port" ] && break
	kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; sshd_pid=""
done
[ -n "$port" ] || fail "could not start sshd on a loopback port"

# login USER CERT: runs a command; its output in $out.
login() {
	out=$("$SSH" -F /dev/null -p "$port" -i "$tmp/admin" -o CertificateFile="$tmp/$2-cert.pub" \
		-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
		"$1@127.0.0.1" 'echo "LOGIN-OK as $(id -un)"' 2>"$tmp/ssh.err")
}
# record SERIAL FIELD=VALUE...: a journald record of ephemeral-principals
# for that serial with those fields.
record() {
	python3 - "$tmp/journal.log" "$@" <<'EOP' || fail "no journal record with: $*"
import json, sys
path, serial, want = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
for line in open(path):
    r = json.loads(line)
    if r.get("SYSLOG_IDENTIFIER") == "ephemeral-principals" and r.get("EPH_SERIAL") == serial \
            and all(r.get(k) == v for k, v in want.items()):
        sys.exit(0)
sys.exit(1)
EOP
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
