# Shared by the root-only whole-flow tests (tests/e2e/flow_*.sh; sourced,
# not run): one CA (`sshca serve`, through tests/e2e/lib.sh), one or more
# hosts (a private sshd each, with ephemeral-principals, pam_ephemeral.so
# and its watchdog, a host.conf and a KRL kept by ephemeral-krl-sync,
# through tests/e2e/host_lib.sh), requesters and approvers as real Unix
# users with their own ssh-agent, and the journald records of CA and
# hosts on one listener (tests/e2e/jrecv.py) in a private /run.
#
# lib.sh and host_lib.sh each make a temp dir, an EXIT trap and a fail();
# sourced together the later would win and the earlier's things would be
# left behind. So: host_lib.sh first (it re-execs into a private mount
# namespace before it makes anything), then lib.sh; one temp dir ($tmp,
# host_lib.sh's), and flow_cleanup below as the only EXIT trap, which
# removes what either of them, and this file, made.
#
# The sourcing script sets `set -eu`, $top (the source tree) and may set
#   flow_name  a word for the temp dir (/tmp/eph-flow-NAME.XXXXXX)
#   E2E_TOOLS  extra tools it needs (skips with 77 when one is missing)
#   flow_cleanup_hook  a function run first on exit
# then calls flow_setup, writes $tmp/policy.conf (and adds to
# $tmp/ca.conf), calls flow_ca_start, and flow_host NAME HOSTNAME TASK...
# for each host.

# shellcheck disable=SC2034 # host_lib.sh reads it
host_name=flow-${flow_name:-x}
# shellcheck source=tests/e2e/host_lib.sh
. "$top/tests/e2e/host_lib.sh"
host_tmp=$tmp
E2E_TOOLS="ssh-agent ssh-add openssl ${E2E_TOOLS:-}"
# shellcheck source=tests/e2e/lib.sh
. "$top/tests/e2e/lib.sh"
rmdir "$tmp"
tmp=$host_tmp

EPHSSH=${EPHSSH:-$top/client/ephssh}
KRLSYNC=${KRLSYNC:-$(dirname "$PRINCIPALS")/ephemeral-krl-sync}
WATCHDOG=${WATCHDOG:-$(dirname "$PRINCIPALS")/ephemeral-watchdog}
PAM_EPHEMERAL_SO=${PAM_EPHEMERAL_SO:-$(dirname "$PRINCIPALS")/.libs/pam_ephemeral.so}

flow_hosts=""     # the names given to flow_host
flow_pids=""      # background processes of the test (agents, listeners, sessions)
flow_cleanup_hook=${flow_cleanup_hook:-}
flow_cleanup() {
	set +e
	[ -z "$flow_cleanup_hook" ] || "$flow_cleanup_hook"
	for p in $flow_pids; do kill "$p" 2>/dev/null; done
	# sshd first: the sessions of the login accounts end with it.
	for h in $flow_hosts; do
		[ -f "$tmp/h-$h/sshd.pid.bg" ] && kill "$(cat "$tmp/h-$h/sshd.pid.bg")" 2>/dev/null
		rm -f "/etc/pam.d/$service-$h"
	done
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		i=0
		while kill -0 "$daemon_pid" 2>/dev/null && [ "$i" -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		for p in $(e2e_daemon_pids); do kill -KILL "$p" 2>/dev/null; done
	fi
	[ -z "$recv_pid" ] || kill "$recv_pid" 2>/dev/null
	for p in $flow_pids $recv_pid $daemon_pid; do wait "$p" 2>/dev/null; done
	for h in $flow_hosts; do
		[ -f "$tmp/h-$h/sshd.pid.bg" ] && wait "$(cat "$tmp/h-$h/sshd.pid.bg")" 2>/dev/null
	done
	for u in $made_users; do
		# userdel refuses while a process of the user (a closing session,
		# a watchdog's victim) is still there.
		i=0
		until userdel "$u" 2>/dev/null || [ "$i" -ge 50 ]; do
			pkill -KILL -u "$u" 2>/dev/null
			sleep 0.1
			i=$((i + 1))
		done
	done
	umount -l /run 2>/dev/null
	rm -rf "$tmp"
}
trap flow_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/out" ] && tail -n 10 "$tmp/out" | sed 's/^/out: /' >&2
	[ -f "$tmp/err" ] && tail -n 10 "$tmp/err" | sed 's/^/err: /' >&2
	[ -f "$tmp/ssh.err" ] && tail -n 5 "$tmp/ssh.err" | sed 's/^/ssh: /' >&2
	[ -f "$tmp/serve.log" ] && tail -n 20 "$tmp/serve.log" | sed 's/^/serve: /' >&2
	for h in $flow_hosts; do
		[ -f "$tmp/h-$h/sshd.log" ] && tail -n 20 "$tmp/h-$h/sshd.log" | sed "s/^/sshd $h: /" >&2
	done
	[ -f "$tmp/journal.log" ] && tail -n 10 "$tmp/journal.log" | sed 's/^/journal: /' >&2
	exit 1
}

[ -x "$EPHSSH" ] || fail "no ephssh at $EPHSSH (build first)"
[ -x "$KRLSYNC" ] || fail "no ephemeral-krl-sync at $KRLSYNC (build first)"
[ -x "$WATCHDOG" ] || fail "no ephemeral-watchdog at $WATCHDOG (build first)"
[ -f "$PAM_EPHEMERAL_SO" ] || fail "no pam_ephemeral.so at $PAM_EPHEMERAL_SO (build first)"

# The journald MESSAGE_IDs (host/events.h, host/krlsync.c, ca/audit.h).
p_accepted=MESSAGE_ID=197a2d5d5f7081c3ff65830b0b02db1b
p_refused=MESSAGE_ID=e3058484723d73fbc255b88f734948f5
m_refused=MESSAGE_ID=7a5f0aeaed04cc04fea94d59cacc476c
m_start=MESSAGE_ID=56db258effae58e5257d4ec8899c7d5f
m_end=MESSAGE_ID=3cbb80c8a68e6e71af02f56aed580e35
m_term=MESSAGE_ID=b3d0c7e4a1f24b6e9c85d2a7f03e61c9
k_updated=MESSAGE_ID=801f18cbc42889bfcf0615bb9c81770b
k_failed=MESSAGE_ID=f8f3bbb3eb96f5ced22e0ab86d4a8af8
a_request=MESSAGE_ID=7884e6fff5c8480ca4b40d6c9aa165df
a_approve=MESSAGE_ID=2bda300227515b5340670ba13da01972
a_deny=MESSAGE_ID=abd2a65b580ca9df2865a48c3c569d82
a_issue=MESSAGE_ID=921272c52c3236c9247b5703e386027f
a_revoke=MESSAGE_ID=dc7b091ae4039fa22b62775fca697885
a_expire=MESSAGE_ID=14d2daf891a4ad709e234e2c591efad2
a_review=MESSAGE_ID=6f466d148e376c5c6f0ffb8fe93f068f
a_break_glass=MESSAGE_ID=627025b82d55a4bb16ef9e0291ca227d

# flow_setup: the private /run and its journal listener, the login
# accounts $alice and $bob (host_lib.sh), the CA's users, key, ca.conf
# (lib.sh; the script writes its own $tmp/policy.conf), $tmp/ca.pub, and
# the root-owned copies of the host programs in $bin.
flow_setup() {
	host_private_run
	host_journal_start
	host_users
	e2e_setup
	"$SSHCA" pubkey --key "$tmp/ca" >"$tmp/ca.pub" || fail "sshca pubkey"
	chmod 0644 "$tmp/ca.pub"
	cp "$PAM_EPHEMERAL_SO" "$bin/pam_ephemeral.so"
	chmod 0644 "$bin/pam_ephemeral.so"
	# The module insists on a root-owned watchdog in root-owned folders.
	cp "$WATCHDOG" "$bin/ephemeral-watchdog"
	chmod 0755 "$bin/ephemeral-watchdog"
	# A module of the sanitizer build needs its runtimes in sshd first.
	sshd_preload=$(host_sanitizer_preload "$bin/pam_ephemeral.so")
	noconf="$tmp/none.conf" # a system config for ephssh that does not exist
}

# flow_ca_start: sshca serve on $sock, its log in $tmp/serve.log.
flow_ca_start() {
	chmod 0644 "$tmp/policy.conf" "$tmp/ca.conf"
	e2e_start
}

# flow_reload N: SIGHUP to the CA, then wait for its Nth reload line.
flow_reload() {
	kill -HUP "$daemon_pid"
	i=0
	until [ "$(grep -c 'policy.conf: reloaded' "$tmp/serve.log")" -ge "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "the policy was not reloaded"
		sleep 0.1
	done
}

# flow_host NAME HOSTNAME TASK...: a host: $tmp/h-NAME/ with host.conf
# (host HOSTNAME, accepting TASK for $alice and $bob), its KRL
# (ephemeral-krl-sync --init, then a first sync from the CA), and sshd
# (a copy named $service-NAME, for its own /etc/pam.d file) on a free
# loopback port: $tmp/h-NAME/port.
flow_host() {
	_h=$1 _name=$2
	shift 2
	_d=$tmp/h-$_h
	flow_hosts="$flow_hosts $_h" # for flow_cleanup, whatever fails below
	mkdir -m 0755 "$_d" "$_d/state"
	mkdir -m 0700 "$_d/state/spool"
	chown "$princ:" "$_d/state/spool"
	{
		echo "host = { names = [ \"$_name\" ]; };"
		echo "trusted_ca_keys = \"$tmp/ca.pub\";"
		echo "revoked_keys = \"$_d/revoked.krl\";"
		echo "state_dir = \"$_d/state\";"
		printf 'accept = ( '
		_sep=""
		for _t in "$@"; do
			printf '%s{ task = "%s"; users = [ "%s", "%s" ]; }' "$_sep" "$_t" "$alice" "$bob"
			_sep=", "
		done
		echo ' );'
		echo 'non_ephemeral = "deny";'
		echo 'session_end = true;'
		echo "services = [ \"$service-$_h\" ];"
	} >"$_d/host.conf"
	chmod 0644 "$_d/host.conf"
	"$KRLSYNC" -f "$_d/host.conf" --init --quiet || fail "ephemeral-krl-sync --init ($_h)"
	flow_krl_sync "$_h"
	cp "$SSHD" "$bin/$service-$_h"
	chmod 0755 "$bin/$service-$_h"
	cat >"/etc/pam.d/$service-$_h" <<EOP
account required pam_permit.so
session required $bin/pam_ephemeral.so conf=$_d/host.conf watchdog=$bin/ephemeral-watchdog
session required pam_env.so envfile=/dev/null
session required pam_permit.so
EOP
	[ -f "$tmp/hostkey" ] || "$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/hostkey"
	for _ in 1 2 3 4 5 6 7 8; do
		_p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		cat >"$_d/sshd_config" <<EOC
Port $_p
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $_d/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
ExposeAuthInfo yes
StrictModes no
LogLevel VERBOSE
PermitRootLogin no
TrustedUserCAKeys $tmp/ca.pub
RevokedKeys $_d/revoked.krl
AuthorizedKeysFile none
AuthorizedPrincipalsCommand $bin/ephemeral-principals -f $_d/host.conf %u %t %k
AuthorizedPrincipalsCommandUser $princ
EOC
		"$bin/$service-$_h" -t -f "$_d/sshd_config" || fail "sshd -t rejects the config ($_h)"
		if [ -n "${sshd_preload:-}" ]; then
			LD_PRELOAD=$sshd_preload ASAN_OPTIONS=detect_leaks=0 \
				"$bin/$service-$_h" -D -e -f "$_d/sshd_config" 2>"$_d/sshd.log" &
		else
			"$bin/$service-$_h" -D -e -f "$_d/sshd_config" 2>"$_d/sshd.log" &
		fi
		echo $! >"$_d/sshd.pid.bg"
		i=0
		while [ $i -lt 50 ]; do
			if grep -q "Server listening" "$_d/sshd.log" 2>/dev/null; then
				echo "$_p" >"$_d/port"
				return 0
			fi
			kill -0 "$(cat "$_d/sshd.pid.bg")" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill "$(cat "$_d/sshd.pid.bg")" 2>/dev/null || true
		wait "$(cat "$_d/sshd.pid.bg")" 2>/dev/null || true
		rm -f "$_d/sshd.pid.bg"
	done
	fail "could not start sshd on a loopback port ($_h)"
}

# flow_krl_sync NAME: the host's timer run: ephemeral-krl-sync from the
# CA's socket. Must succeed (0: updated or current).
flow_krl_sync() {
	"$KRLSYNC" -f "$tmp/h-$1/host.conf" --url "unix:$sock" --quiet ||
		fail "ephemeral-krl-sync ($1) exited $?"
}

# flow_agent USER: USER's own ssh-agent, its socket in $tmp/agent-USER/sock.
flow_agent() {
	mkdir -m 0700 "$tmp/agent-$1" "$tmp/xdg-$1"
	chown "$1:" "$tmp/agent-$1" "$tmp/xdg-$1"
	_a=$(runuser -u "$1" -- ssh-agent -s -a "$tmp/agent-$1/sock" |
		sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p')
	[ -n "$_a" ] || fail "ssh-agent of $1 did not start"
	flow_pids="$flow_pids $_a"
}

# E USER ARGS...: ephssh as USER (their agent, when they have one) on the
# CA's socket; stdout in $tmp/out, stderr in $tmp/err, exit status in $rc.
E() {
	_u=$1
	shift
	rc=0
	runuser -u "$_u" -- env EPHSSH_SYSTEM_CONFIG_FOR_TESTS="$noconf" HOME=/nonexistent \
		NO_COLOR=1 SSH_AUTH_SOCK="$tmp/agent-$_u/sock" XDG_RUNTIME_DIR="$tmp/xdg-$_u" \
		timeout 120 "$EPHSSH" --ca "unix:$sock" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
}
# expect_rc N WHAT [PATTERN]: the exit status of the last E, and PATTERN
# (grep -E) in its stdout and stderr.
expect_rc() {
	[ "$rc" = "$1" ] || fail "$2: exit $rc, not $1"
	[ $# -lt 3 ] || cat "$tmp/out" "$tmp/err" | grep -Eq -- "$3" || fail "$2: no '$3'"
}

# pending_of APPROVER: waits (up to 20 s) for a request pending for
# APPROVER; its id on stdout.
pending_of() {
	i=0
	while :; do
		api "$1" GET "/v1/requests?state=pending"
		_id=$(jq -r '.requests[0].id // empty' "$tmp/body")
		[ -z "$_id" ] || { echo "$_id"; return 0; }
		i=$((i + 1))
		[ "$i" -lt 200 ] || fail "nothing pending for $1 after 20 s"
		sleep 0.1
	done
}

# flow_ssh USER HOST ACCOUNT [CMD]: plain ssh as USER, through USER's
# agent, to ACCOUNT on host HOST (a flow_host name); the command's output
# in $out, ssh's errors in $tmp/ssh.err; the exit status is ssh's.
flow_ssh() {
	_u=$1 _h=$2 _acct=$3
	# shellcheck disable=SC2016 # expanded by the remote shell
	_cmd=${4:-'echo "LOGIN-OK as $(id -un)"'}
	out=$(runuser -u "$_u" -- env SSH_AUTH_SOCK="$tmp/agent-$_u/sock" "$SSH" -F /dev/null \
		-p "$(cat "$tmp/h-$_h/port")" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 "$_acct@127.0.0.1" "$_cmd" </dev/null 2>"$tmp/ssh.err")
}
# flow_ssh_refused USER HOST ACCOUNT: that login is refused, nothing ran.
flow_ssh_refused() {
	if flow_ssh "$@"; then fail "$1 got in to $3 on $2: $out"; fi
	case $out in *LOGIN-OK*) fail "the command ran on a refused login: $out" ;; esac
}

# flow_record FIELD=VALUE... : a journald record (of CA or host) with
# those fields ("!FIELD": without it) since host_journal_from, waited for
# up to about 10 s; as FIELD=VALUE lines in $tmp/record (record_field).
flow_record() {
	i=0
	until flow_record_find "$@"; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "no journal record with: $*"
		sleep 0.1
	done
}
# flow_norecord FIELD=VALUE... : none such (after host_journal_sync).
flow_norecord() {
	host_journal_sync
	if flow_record_find "$@"; then fail "an unexpected journal record: $(cat "$tmp/record")"; fi
}
flow_record_find() {
	python3 - "$tmp/journal.log" "$jfrom" "$tmp/record" "$@" <<'EOP'
import json, sys
path, skip, found = sys.argv[1], int(sys.argv[2]), sys.argv[3]
want = [a.split("=", 1) if not a.startswith("!") else [a[1:], None] for a in sys.argv[4:]]
for n, line in enumerate(open(path)):
    if n < skip:
        continue
    r = json.loads(line)
    if all(r.get(k) == v for k, v in want):
        with open(found, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in sorted(r.items())))
        sys.exit(0)
sys.exit(1)
EOP
}

# audit_has ID TYPE [JQ-CONDITION]: `sshca audit show ID --json` holds a
# record of TYPE (and CONDITION on it).
audit_has() {
	runuser -u "$ca_user" -- "$SSHCA" audit show -f "$tmp/ca.conf" --json "$1" >"$tmp/audit" \
		2>"$tmp/audit.err" || fail "sshca audit show $1: $(cat "$tmp/audit.err")"
	jq -e --arg t "$2" "[.[] | select(.type == \$t and (${3:-true}))] | length >= 1" \
		"$tmp/audit" >/dev/null || fail "no audit record '$2' ${3:-} for $1: $(cat "$tmp/audit")"
}

# live_start USER HOST ACCOUNT: a login that prints STARTED and sleeps,
# in the background; ssh's pid in $live_pid, its output in $tmp/live.out.
live_start() {
	: >"$tmp/live.out"
	runuser -u "$1" -- env SSH_AUTH_SOCK="$tmp/agent-$1/sock" "$SSH" -F /dev/null \
		-p "$(cat "$tmp/h-$2/port")" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 -o ServerAliveInterval=0 "$3@127.0.0.1" 'echo STARTED; exec sleep 300' \
		</dev/null >"$tmp/live.out" 2>"$tmp/ssh.err" &
	live_pid=$!
	flow_pids="$flow_pids $live_pid"
	i=0
	until grep -q STARTED "$tmp/live.out"; do
		kill -0 "$live_pid" 2>/dev/null || fail "the live session ended at once: $(cat "$tmp/ssh.err")"
		i=$((i + 1))
		[ "$i" -lt 200 ] || fail "the live session did not start"
		sleep 0.1
	done
}
# live_ended SECONDS: the background login has ended within SECONDS.
live_ended() {
	i=0
	while kill -0 "$live_pid" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt $(($1 * 10)) ] || fail "the live session was not ended within $1 s"
		sleep 0.1
	done
	wait "$live_pid" 2>/dev/null || true
}

# flow_openssh_key PKCS8 OUT: the Ed25519 key PKCS8 (PEM, as ephssh saves
# a pending request's key) as OUT in OpenSSH's own format, which ssh -i
# reads (ssh reads no PKCS#8 Ed25519 key). Seed and public key by openssl.
flow_openssh_key() {
	openssl pkey -in "$1" -outform DER 2>/dev/null | tail -c 32 >"$2.seed" ||
		fail "openssl pkey $1"
	openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c 32 >"$2.pk" ||
		fail "openssl pkey -pubout $1"
	python3 - "$2.seed" "$2.pk" "$2" <<'EOP' || fail "cannot write $2"
import base64, os, struct, sys
seed, pk = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert len(seed) == 32 and len(pk) == 32
s = lambda b: struct.pack(">I", len(b)) + b
pub = s(b"ssh-ed25519") + s(pk)
check = os.urandom(4)
priv = check + check + pub + s(seed + pk) + s(b"flow")
priv += bytes(range(1, 1 + (-len(priv)) % 8))
blob = b"openssh-key-v1\0" + s(b"none") + s(b"none") + s(b"") + struct.pack(">I", 1) + s(pub) + s(priv)
b64 = base64.b64encode(blob).decode()
fd = os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    f.write("".join(b64[i:i + 70] + "\n" for i in range(0, len(b64), 70)))
    f.write("-----END OPENSSH PRIVATE KEY-----\n")
EOP
	rm -f "$2.seed" "$2.pk"
}
