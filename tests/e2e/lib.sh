# Shared by the root-only CA daemon tests (sourced, not run): the skip
# checks, a temp dir, temporary Unix users, a temp CA with its ca.conf
# and policy, starting and killing `sshca serve`, and curl as a user.
#
# The sourcing script sets `set -eu` and may set, before sourcing:
#   E2E_TOOLS  extra tools it needs (skips with 77 when one is missing)
# and, after sourcing, calls e2e_setup and then e2e_start.
# Everything made is removed by the EXIT trap, also on failure.

SSHCA=${SSHCA:-$(cd "$(dirname "$0")/../.." && pwd)/sshca/sshca}
SSH_KEYGEN=${SSH_KEYGEN:-ssh-keygen}

if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root (useradd, privilege drop)"; exit 77; fi
for t in curl jq sqlite3 pgrep runuser useradd userdel "$SSH_KEYGEN" ${E2E_TOOLS:-}; do
	command -v "$t" >/dev/null || { echo "skip: no $t"; exit 77; }
done
[ -x "$SSHCA" ] || { echo "FAIL: no sshca at $SSHCA (build first)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/eph-e2e.XXXXXX)
chmod 0755 "$tmp"
ca_user="ephca$$"
req="ephreq$$"
made_users=""
daemon_pid=""
e2e_cleanup_hook="" # a function the script runs first on exit (its own processes, mounts)

# Every process of the daemon (the network side and the signer), by pid.
e2e_daemon_pids() {
	[ -n "$daemon_pid" ] || return 0
	pgrep -P "$daemon_pid" 2>/dev/null || true
	echo "$daemon_pid"
}

e2e_cleanup() {
	set +e
	[ -z "$e2e_cleanup_hook" ] || "$e2e_cleanup_hook"
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		i=0
		while kill -0 "$daemon_pid" 2>/dev/null && [ "$i" -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		for p in $(e2e_daemon_pids); do kill -KILL "$p" 2>/dev/null; done
		wait "$daemon_pid" 2>/dev/null
	fi
	for u in $made_users; do userdel "$u" 2>/dev/null; done
	rm -rf "$tmp"
}
trap e2e_cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/serve.log" ] && tail -n 40 "$tmp/serve.log" | sed 's/^/serve: /' >&2
	[ -f "$tmp/body" ] && head -c 2000 "$tmp/body" | sed 's/^/body: /' >&2
	exit 1
}

e2e_user() {
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1" ||
		fail "useradd $1"
	made_users="$made_users $1"
}

# The programs the tests run as temporary users, copied into $tmp/bin:
# a build tree in a checkout under /root (mode 0700) is out of their
# reach. SSHCA and EPHSSH (when set) name the copies from then on.
e2e_user_bins() {
	mkdir -p "$tmp/bin"
	chmod 0755 "$tmp/bin"
	if [ -x "$SSHCA" ]; then cp "$SSHCA" "$tmp/bin/sshca" && SSHCA=$tmp/bin/sshca; fi
	if [ -n "${EPHSSH:-}" ] && [ -x "$EPHSSH" ]; then
		cp "$EPHSSH" "$tmp/bin/ephssh" && EPHSSH=$tmp/bin/ephssh
	fi
}

# e2e_setup [DBDIR]: users, the CA key, a policy with an auto-approved
# task "ping" for $req, ca.conf with the database in DBDIR (default
# $tmp/state), a user key in $tmp/user ($pub).
e2e_setup() {
	e2e_user_bins
	e2e_user "$ca_user"
	e2e_user "$req"
	"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
	mkdir -m 0700 "$tmp/state"
	chown "$ca_user:" "$tmp/state"
	dbdir=${1:-$tmp/state}
	sock="$tmp/run/sshca.sock"
	cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
tasks = (
  { name = "ping"; requesters = [ "$req" ]; hosts = [ "web01.example.com" ];
    login_as = "deploy"; default_ttl = "10m"; }
);
EOP
	cat >"$tmp/ca.conf" <<EOC
ca_key = "$tmp/ca";
policy = "$tmp/policy.conf";
revoked_keys = "$tmp/state/krl";
database = "$dbdir/ca.db";
socket = "$sock";
user = "$ca_user";
limits = { active_grants = 1000000; requests_per_minute = 1000000; };
EOC
	chmod 0644 "$tmp/ca.conf" "$tmp/policy.conf"
	"$SSH_KEYGEN" -q -t ed25519 -N '' -C test -f "$tmp/user"
	chmod 0644 "$tmp/user"
	pub=$(cut -d' ' -f1-2 "$tmp/user.pub")
	ping_json="{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
}

# Start the daemon and wait for its socket.
e2e_start() {
	rm -f "$sock"
	"$SSHCA" serve -f "$tmp/ca.conf" >>"$tmp/serve.log" 2>&1 &
	daemon_pid=$!
	i=0
	until [ -S "$sock" ]; do
		kill -0 "$daemon_pid" 2>/dev/null || fail "sshca serve exited at startup"
		i=$((i + 1))
		[ "$i" -lt 100 ] || fail "no socket after 10 s"
		sleep 0.1
	done
}

# SIGTERM and wait: it must exit 0.
e2e_stop() {
	kill -TERM "$daemon_pid"
	rc=0
	wait "$daemon_pid" || rc=$?
	daemon_pid=""
	[ "$rc" -eq 0 ] || fail "sshca serve exited $rc on SIGTERM"
}

# kill -9 of every process of the daemon at once.
e2e_kill9() {
	pids=$(e2e_daemon_pids)
	[ "$(echo "$pids" | wc -w)" -ge 2 ] || fail "the daemon has no signer: $pids"
	# shellcheck disable=SC2086
	kill -KILL $pids
	wait "$daemon_pid" 2>/dev/null || true
	for p in $pids; do
		i=0
		while kill -0 "$p" 2>/dev/null; do
			i=$((i + 1))
			[ "$i" -lt 50 ] || fail "pid $p survived kill -9"
			sleep 0.1
		done
	done
	daemon_pid=""
}

# api USER METHOD PATH [JSON]: the body in $tmp/body, the status in $status.
api() {
	u=$1 m=$2 p=$3
	shift 3
	if [ $# -gt 0 ]; then
		out=$(runuser -u "$u" -- curl -sS --max-time 20 --unix-socket "$sock" -X "$m" \
			-H 'Content-Type: application/json' --data-binary "$1" \
			-w '\n%{http_code}' "http://ca$p") || fail "curl $m $p as $u"
	else
		out=$(runuser -u "$u" -- curl -sS --max-time 20 --unix-socket "$sock" -X "$m" \
			-w '\n%{http_code}' "http://ca$p") || fail "curl $m $p as $u"
	fi
	status=$(printf '%s\n' "$out" | tail -n 1)
	printf '%s\n' "$out" | sed '$d' >"$tmp/body"
}
expect() { [ "$status" = "$1" ] || fail "$2: expected HTTP $1, got $status"; }
field() { jq -r "$1" "$tmp/body"; }

# The error shape of every 4xx/5xx answer.
expect_error_json() {
	jq -e '(.error | type) == "string" and (.detail | type) == "string"' "$tmp/body" \
		>/dev/null 2>&1 || fail "$1: not a JSON error"
}

# sqlite3 as the CA user (so no file of the database becomes root's).
db() { runuser -u "$ca_user" -- sqlite3 -cmd '.timeout 5000' "$dbdir/ca.db" "$1"; }

audit_verify() {
	runuser -u "$ca_user" -- "$SSHCA" audit verify -f "$tmp/ca.conf" >"$tmp/verify" 2>&1 ||
		fail "audit verify ($1): $(cat "$tmp/verify")"
	grep -q '^OK' "$tmp/verify" || fail "audit verify ($1): $(cat "$tmp/verify")"
}
