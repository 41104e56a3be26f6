# Shared by the root-only host side tests under a real sshd (sourced, not
# run): the re-exec into a private mount namespace, the skip checks, a
# private /run with sshd's folders and a journal listener on its socket,
# temporary Unix users, a copy of sshd named after a private PAM service
# started on a free loopback high port, real `ssh` logins, and matching
# the listener's journald records.
#
# The sourcing script sets `set -eu` and, before sourcing, $top (the
# source tree) and may set:
#   host_name   a word for its temp dir (/tmp/eph-NAME.XXXXXX)
#   sshd_preload  LD_PRELOAD for sshd (host_sanitizer_preload)
# and then calls, in this order: host_private_run, host_journal_start,
# host_users, (its own files, /etc/pam.d/$service) and host_sshd_start.
# Everything made is removed by the EXIT trap, also on failure.

# A private mount namespace first: the tmpfs /run below is seen by this
# script, its sshd and their children only.
if [ "$(id -u)" -eq 0 ] && [ -z "${EPH_E2E_NS:-}" ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	EPH_E2E_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi
if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root to run sshd"; exit 77; fi
[ -n "${EPH_E2E_NS:-}" ] || { echo "skip: no private mount namespace (unshare -m)"; exit 77; }

top=${top:-$(cd "$(dirname "$0")/../.." && pwd)}
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

tmp=$(mktemp -d "/tmp/eph-${host_name:-host}.XXXXXX")
chmod 0755 "$tmp"
# sshd opens PAM under the name it was started as: /etc/pam.d/$service.
service="sshd-ephtest-$$"
bin=/run/ephtest-$$
princ="ephpr$$"
alice="ephal$$"
bob="ephbo$$"
made_users=""
sshd_pid=""
recv_pid=""
port=""
jfrom=0 # journal lines before this one are not matched (host_journal_from)
host_cleanup() {
	set +e
	[ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null
	[ -z "$recv_pid" ] || kill "$recv_pid" 2>/dev/null
	[ -z "$sshd_pid" ] || wait "$sshd_pid" 2>/dev/null
	[ -z "$recv_pid" ] || wait "$recv_pid" 2>/dev/null
	rm -f "/etc/pam.d/$service"
	for u in $made_users; do
		# userdel refuses while a session of the user is still closing.
		i=0
		until userdel "$u" 2>/dev/null || [ "$i" -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
	done
	umount -l /run 2>/dev/null
	rm -rf "$tmp"
}
trap host_cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/ssh.err" ] && tail -n 5 "$tmp/ssh.err" | sed 's/^/ssh: /' >&2
	[ -f "$tmp/sshd.log" ] && tail -n 30 "$tmp/sshd.log" | sed 's/^/sshd: /' >&2
	[ -f "$tmp/journal.log" ] && tail -n 10 "$tmp/journal.log" | sed 's/^/journal: /' >&2
	exit 1
}

# A private /run: sshd's privilege separation folder, the root-owned
# folder $bin of the principals command (sshd refuses one under /tmp) and
# of sshd's copy, and a journal socket nobody else sees.
host_private_run() {
	mount -t tmpfs -o mode=0755 tmpfs /run || fail "mount a private /run"
	mkdir -m 0755 /run/sshd /run/systemd /run/systemd/journal
	mkdir -m 0755 "$bin"
	cp "$PRINCIPALS" "$bin/ephemeral-principals"
	cp "$SSHD" "$bin/$service"
	chmod 0755 "$bin/ephemeral-principals" "$bin/$service"
}

# The journal listener (tests/e2e/jrecv.py): each record as one JSON
# line in $tmp/journal.log with the sender's pid (journald's _PID), and in
# the journal export format in $tmp/journal.export.
host_journal_start() {
	python3 "$top/tests/e2e/jrecv.py" /run/systemd/journal/socket "$tmp/journal.log" \
		--export "$tmp/journal.export" &
	recv_pid=$!
	i=0
	until [ -f "$tmp/journal.log.ready" ]; do
		i=$((i + 1)); [ "$i" -lt 100 ] || fail "the journal listener did not start"; sleep 0.1
	done
	: >>"$tmp/journal.log"
}

# $princ, a system user for AuthorizedPrincipalsCommandUser; $alice and
# $bob with a shell and a home of their own under $tmp.
host_users() {
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		"$princ" || fail "useradd $princ"
	made_users="$made_users $princ"
	for u in "$alice" "$bob"; do
		useradd --no-create-home --home-dir "$tmp/home-$u" --shell /bin/sh "$u" ||
			fail "useradd $u"
		made_users="$made_users $u"
		mkdir -m 0755 "$tmp/home-$u"
		chown "$u:" "$tmp/home-$u"
	done
}

# host_sshd_start < LINES: sshd ($bin/$service) with LINES (the keys,
# principals and PAM lines of the test) on a free loopback high port, in
# $port; its log in $tmp/sshd.log.
host_sshd_start() {
	cat >"$tmp/sshd_config.body"
	[ -f "$tmp/hostkey" ] || "$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/hostkey"
	port=""
	for _ in 1 2 3 4 5 6 7 8; do
		p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
		{
			cat <<EOC
Port $p
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
ExposeAuthInfo yes
StrictModes no
LogLevel VERBOSE
EOC
			cat "$tmp/sshd_config.body"
		} >"$tmp/sshd_config"
		"$bin/$service" -t -f "$tmp/sshd_config" || fail "sshd -t rejects the config"
		if [ -n "${sshd_preload:-}" ]; then
			LD_PRELOAD=$sshd_preload ASAN_OPTIONS=detect_leaks=0 \
				"$bin/$service" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
		else
			"$bin/$service" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
		fi
		sshd_pid=$!
		i=0
		while [ $i -lt 50 ]; do
			grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && { port=$p; break; }
			kill -0 "$sshd_pid" 2>/dev/null || break
			sleep 0.1; i=$((i + 1))
		done
		[ -n "$port" ] && return 0
		kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; sshd_pid=""
	done
	fail "could not start sshd on a loopback port"
}

# host_sanitizer_preload MODULE: the sanitizer runtimes a module of the
# sanitizer build needs loaded first in the process that dlopens it
# (sshd), for sshd_preload; nothing for a normal build.
host_sanitizer_preload() {
	ldd "$1" 2>/dev/null | awk '$1 ~ /^lib(asan|ubsan)\.so/ && $3 ~ /^\// { print $3 }' |
		tr '\n' ' ' | sed 's/ $//'
}

# host_ssh USER KEY [ssh options]: runs a command as USER; its output in
# $out, ssh's errors in $tmp/ssh.err.
host_ssh() {
	_u=$1 _k=$2
	shift 2
	# shellcheck disable=SC2016,SC2034 # expanded by the remote shell; the caller reads $out
	out=$("$SSH" -F /dev/null -p "$port" -i "$_k" "$@" \
		-o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
		"$_u@127.0.0.1" 'echo "LOGIN-OK as $(id -un)"' 2>"$tmp/ssh.err")
}
# login USER CERT: with $tmp/admin and the certificate $tmp/CERT-cert.pub.
login() {
	host_ssh "$1" "$tmp/admin" -o CertificateFile="$tmp/$2-cert.pub"
}

# From here on, host_record and host_norecord look at new records only.
host_journal_from() {
	jfrom=$(wc -l <"$tmp/journal.log")
}

# Waits until every record sent before now is in $tmp/journal.log: a
# marker through the same socket, which the listener takes in order.
host_journal_sync() {
	_m="sync-$$-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(("MESSAGE=%s\nSYSLOG_IDENTIFIER=host-e2e-sync\n" % sys.argv[2]).encode(), sys.argv[1])' \
		/run/systemd/journal/socket "$_m" || fail "cannot write to the journal listener"
	i=0
	until grep -q "\"MESSAGE\": \"$_m\"" "$tmp/journal.log"; do
		i=$((i + 1)); [ "$i" -lt 100 ] || fail "the journal listener is stuck"; sleep 0.05
	done
}

# host_record IDENT FIELD=VALUE... : a journald record of SYSLOG_IDENTIFIER
# IDENT with those fields ("!FIELD": without that field), waited for up
# to about 5 s; the matching record, as FIELD=VALUE lines, in $tmp/record.
host_record() {
	i=0
	until host_record_find "$@"; do
		i=$((i + 1)); [ "$i" -lt 50 ] || fail "no journal record with: $*"; sleep 0.1
	done
}
# host_norecord IDENT FIELD=VALUE... : none such (after host_journal_sync).
host_norecord() {
	host_journal_sync
	if host_record_find "$@"; then fail "an unexpected journal record: $(cat "$tmp/record")"; fi
}
host_record_find() {
	python3 - "$tmp/journal.log" "$jfrom" "$tmp/record" "$@" <<'EOP'
import json, sys
path, skip, found, ident = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
want = [a.split("=", 1) if not a.startswith("!") else [a[1:], None] for a in sys.argv[5:]]
for n, line in enumerate(open(path)):
    if n < skip:
        continue
    r = json.loads(line)
    if r.get("SYSLOG_IDENTIFIER") == ident and all(r.get(k) == v for k, v in want):
        with open(found, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in sorted(r.items())))
        sys.exit(0)
sys.exit(1)
EOP
}
# record_field FIELD: that field of the last record host_record matched.
record_field() {
	sed -n "s/^$1=//p" "$tmp/record"
}
