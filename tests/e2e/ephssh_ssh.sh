#!/bin/sh
# End to end for `ephssh ssh`: the real `sshca serve` issues a grant for
# host "localhost" (auto-approved task), its key and certificate go into
# the requester's own ssh-agent with ssh-add (then the files are
# deleted), and a private sshd on a loopback high port trusts the CA
# (TrustedUserCAKeys from GET /v1/ca.pub, AuthorizedPrincipalsFile with
# the principal ssh-keygen -L shows in the certificate). As the
# requester, ephssh ssh logs in as the grant's login_as; passes the
# remote exit status, stdout, stderr and stdin; runs a shell on a PTY
# (script(1)) and restores the terminal; refuses an unknown or changed
# host key unless --accept-new (unknown only); says so when there is no
# grant for the host, the certificate is not in the agent, there is no
# agent, or the account is not the grant's; exits 3 when the CA is down;
# offers the server only the grant's certificate (decoy keys in the agent
# and MaxAuthTries 3, which the real ssh trips over); and writes nothing
# anywhere the requester may write (its home, /tmp, /var/tmp, /dev/shm,
# /run) except known_hosts with --accept-new.
#
# Needs root (useradd, sshd). Exit 77 (skip) when it cannot run. Removes
# everything it made.
set -eu

SSHD=${SSHD:-/usr/sbin/sshd}
EPHSSH=${EPHSSH:-$(cd "$(dirname "$0")/../.." && pwd)/client/ephssh}
if [ "$(id -u)" -eq 0 ]; then
	[ -x "$SSHD" ] || { echo "skip: no sshd at $SSHD"; exit 77; }
fi
E2E_TOOLS="ssh ssh-agent ssh-add script timeout usermod"
. "$(dirname "$0")/lib.sh"
[ -x "$EPHSSH" ] || fail "no ephssh at $EPHSSH (build first)"
fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/sshd.log" ] && tail -n 30 "$tmp/sshd.log" | sed 's/^/sshd: /' >&2
	[ -f "$tmp/serve.log" ] && tail -n 10 "$tmp/serve.log" | sed 's/^/serve: /' >&2
	exit 1
}

tgt="ephtgt$$"
sshd_pid=""
agent_pid=""
agent2_pid=""
made_run_sshd=0
ssh_cleanup() {
	[ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null
	[ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null
	[ -z "$agent2_pid" ] || kill "$agent2_pid" 2>/dev/null
	[ "$made_run_sshd" -eq 0 ] || rmdir /run/sshd 2>/dev/null
	return 0
}
e2e_cleanup_hook=ssh_cleanup
if [ ! -d /run/sshd ]; then mkdir -p -m 0755 /run/sshd; made_run_sshd=1; fi

e2e_setup
useradd --no-create-home --home-dir "$tmp/tgthome" --shell /bin/sh "$tgt" || fail "useradd $tgt"
made_users="$made_users $tgt"
# Not locked (sshd without PAM refuses a '!' password), no password either.
usermod -p '*' "$tgt"
mkdir -m 0755 "$tmp/tgthome"
chown "$tgt:" "$tmp/tgthome"
# The requester gets a home: known_hosts and ~/.ssh/config live there.
home="$tmp/home"
usermod -d "$home" "$req" || fail "usermod -d $req"
mkdir -m 0700 "$home" "$home/.ssh" "$tmp/rk" "$tmp/agents"
chown "$req:" "$home" "$home/.ssh" "$tmp/rk" "$tmp/agents"

cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
tasks = (
  { name = "ping"; requesters = [ "$req" ]; hosts = [ "localhost" ];
    login_as = "$tgt"; default_ttl = "10m"; pty = true; },
  { name = "other"; requesters = [ "$req" ]; hosts = [ "otherhost.test" ];
    login_as = "$tgt"; default_ttl = "10m"; }
);
EOP
e2e_start

# as_req FILE CMD...: CMD as the requester, stdout in FILE.out, stderr in
# FILE.err, the exit status in $rc; stdin is the caller's.
as_req() {
	f=$1
	shift
	rc=0
	runuser -u "$req" -- "$@" >"$tmp/$f.out" 2>"$tmp/$f.err" || rc=$?
}
agent_sock="$tmp/agents/1.sock" # the test's; not in the snapshots
# eph FILE ARGS...: ephssh as the requester with a clean environment.
eph() {
	f=$1
	shift
	as_req "$f" timeout 120 env -i PATH="$PATH" HOME="$home" SSH_AUTH_SOCK="$agent_sock" \
		EPHSSH_SYSTEM_CONFIG_FOR_TESTS=/nonexistent "$EPHSSH" --ca "unix:$sock" "$@"
}
expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit $rc, not $1: $(cat "$tmp/$f.err")"; }
expect_err() {
	grep -qF -- "$1" "$tmp/$f.err" || fail "$2: stderr lacks '$1': $(cat "$tmp/$f.err")"
}

# --------------------------------------------------------------- a grant
as_req keygen ssh-keygen -q -t ed25519 -N '' -C grant -f "$tmp/rk/k" || true
[ -f "$tmp/rk/k.pub" ] || fail "ssh-keygen as $req"
api "$req" POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"localhost\"],
	\"public_key\": \"$(cut -d' ' -f1-2 "$tmp/rk/k.pub")\"}"
expect 201 "POST /v1/requests"
[ "$(field .state)" = issued ] || fail "the grant was not issued at once"
grant=$(field .id)
serial=$(field .serial)
field .certificate >"$tmp/rk/k-cert.pub"
chown "$req:" "$tmp/rk/k-cert.pub"
"$SSH_KEYGEN" -L -f "$tmp/rk/k-cert.pub" >"$tmp/cert.txt" || fail "ssh-keygen -L refuses the grant"
principals=$(sed -n '/^ *Principals:/,/^ *Critical Options:/p' "$tmp/cert.txt" | sed '1d;$d' |
	tr -d ' \t')
[ -n "$principals" ] || fail "no principals in the certificate: $(cat "$tmp/cert.txt")"
grep -q 'permit-pty' "$tmp/cert.txt" || fail "the certificate does not permit a PTY"

# Another grant (host otherhost.test) whose key never reaches the agent.
as_req keygen ssh-keygen -q -t ed25519 -N '' -C other -f "$tmp/rk/o" || true
api "$req" POST /v1/requests "{\"task\": \"other\", \"hosts\": [\"otherhost.test\"],
	\"public_key\": \"$(cut -d' ' -f1-2 "$tmp/rk/o.pub")\"}"
expect 201 "POST /v1/requests (other)"
other=$(field .id)

# ------------------------------------------------------------- the agent
# Three decoy keys first, then the grant's key and certificate: an SSH
# client that offers every agent key runs into MaxAuthTries 3 first.
as_req agent ssh-agent -a "$agent_sock"
[ "$rc" -eq 0 ] || fail "ssh-agent: $(cat "$tmp/agent.err")"
agent_pid=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$tmp/agent.out")
[ -n "$agent_pid" ] || fail "no agent pid in: $(cat "$tmp/agent.out")"
for d in 1 2 3; do
	as_req keygen ssh-keygen -q -t ed25519 -N '' -C "decoy$d" -f "$tmp/rk/decoy$d" || true
	as_req add env SSH_AUTH_SOCK="$agent_sock" ssh-add -q "$tmp/rk/decoy$d"
	[ "$rc" -eq 0 ] || fail "ssh-add decoy$d: $(cat "$tmp/add.err")"
done
as_req add env SSH_AUTH_SOCK="$agent_sock" ssh-add "$tmp/rk/k"
[ "$rc" -eq 0 ] || fail "ssh-add the grant: $(cat "$tmp/add.err")"
grep -q "Certificate added" "$tmp/add.err" || fail "ssh-add did not add the certificate"
as_req list env SSH_AUTH_SOCK="$agent_sock" ssh-add -l
[ "$(wc -l <"$tmp/list.out")" -eq 5 ] || fail "the agent holds: $(cat "$tmp/list.out")"
# And an empty one.
as_req agent2 ssh-agent -a "$tmp/agents/2.sock"
[ "$rc" -eq 0 ] || fail "ssh-agent 2: $(cat "$tmp/agent2.err")"
agent2_pid=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$tmp/agent2.out")
[ -n "$agent2_pid" ] || fail "no agent pid in: $(cat "$tmp/agent2.out")"
cp "$tmp/rk/k-cert.pub" "$tmp/grant-cert.pub"
# Nothing of the grant on disk from here on: ephssh must not need it.
rm -f "$tmp/rk/"*

# ------------------------------------------------------------------ sshd
api "$req" GET /v1/ca.pub
expect 200 "GET /v1/ca.pub"
cp "$tmp/body" "$tmp/ca.pub"
"$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/hostkey"
"$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/otherhostkey"
mkdir -m 0755 "$tmp/principals"
printf '%s\n' "$principals" >"$tmp/principals/$tgt"
chmod 0644 "$tmp/principals/$tgt" "$tmp/ca.pub"
write_config() {
	cat >"$tmp/sshd_config" <<EOC
Port $1
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
TrustedUserCAKeys $tmp/ca.pub
AuthorizedPrincipalsFile $tmp/principals/%u
AuthorizedKeysFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxAuthTries 3
PermitRootLogin no
StrictModes no
LogLevel VERBOSE
EOC
}
port=""
for try in 1 2 3 4 5 6 7 8; do
	p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
	write_config "$p"
	"$SSHD" -t -f "$tmp/sshd_config" || fail "sshd -t rejects the config"
	"$SSHD" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
	sshd_pid=$!
	i=0
	while [ $i -lt 50 ]; do
		grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null && { port=$p; break; }
		kill -0 "$sshd_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$port" ] && break
	kill "$sshd_pid" 2>/dev/null || true
	wait "$sshd_pid" 2>/dev/null || true
	sshd_pid=""
done
[ -n "$port" ] || fail "could not start sshd on a loopback port"

# The requester's ~/.ssh: "localhost" is 127.0.0.1 (sshd listens there
# only), and sshd's host key is known for [127.0.0.1]:PORT.
kh="$home/.ssh/known_hosts"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1-2 "$tmp/hostkey.pub")" >"$kh"
printf 'Host localhost\n\tHostName 127.0.0.1\n' >"$home/.ssh/config"
chown "$req:" "$kh" "$home/.ssh/config"
chmod 0600 "$kh" "$home/.ssh/config"

# The oracle: the real ssh, offering every agent key, trips MaxAuthTries
# (the decoys are in the way); ephssh must not.
as_req ossh timeout 60 env SSH_AUTH_SOCK="$agent_sock" ssh -F /dev/null -p "$port" \
	-o BatchMode=yes -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null \
	"$tgt@127.0.0.1" true </dev/null
[ "$rc" -ne 0 ] || fail "ssh with all agent keys got in: the decoys prove nothing"
grep -q "Too many authentication failures" "$tmp/ossh.err" ||
	fail "ssh did not trip MaxAuthTries: $(cat "$tmp/ossh.err")"

mark=$(wc -l <"$tmp/sshd.log")

# What the requester could have written: its home and every place open
# to all. Taken again after each change the test itself makes, and
# compared after the ephssh runs that follow (none may write).
snapshot() {
	{
		find "$home" -printf '%p %s %T@ %m\n'
		for d in /tmp /var/tmp /dev/shm /run; do
			[ -d "$d" ] && find "$d" -xdev -path "$tmp/agents" -prune -o -user "$req" \
				-printf '%p %s %T@\n' 2>/dev/null
		done
	} | sort >"$1"
}
unchanged() {
	snapshot "$tmp/snap.after"
	diff "$tmp/snap.before" "$tmp/snap.after" >"$tmp/snap.diff" ||
		fail "ephssh ssh wrote to disk ($1): $(cat "$tmp/snap.diff")"
}
snapshot "$tmp/snap.before"

# ---------------------------------------------------------------- logins
eph login ssh -p "$port" localhost id -un </dev/null
expect_rc 0 "ephssh ssh localhost id -un"
[ "$(cat "$tmp/login.out")" = "$tgt" ] || fail "logged in as '$(cat "$tmp/login.out")', not $tgt"
[ ! -s "$tmp/login.err" ] || fail "ephssh ssh was not quiet: $(cat "$tmp/login.err")"
grep -q "Accepted publickey for $tgt from 127.0.0.1 .*ED25519-CERT.*serial $serial" \
	"$tmp/sshd.log" || fail "sshd did not log the grant's certificate (serial $serial)"
tail -n +"$((mark + 1))" "$tmp/sshd.log" | grep "Failed publickey\|Connection closed by authenticating" &&
	fail "ephssh ssh offered sshd another key than the grant's"

eph st ssh -p "$port" localhost 'exit 7' </dev/null
expect_rc 7 "the remote exit status"
eph st ssh -p "$port" localhost sh -c "'exit 0'" </dev/null
expect_rc 0 "a quoted remote command"

eph streams ssh -p "$port" localhost 'echo out; echo err >&2' </dev/null
expect_rc 0 "stdout and stderr"
[ "$(cat "$tmp/streams.out")" = out ] || fail "stdout: $(cat "$tmp/streams.out")"
[ "$(cat "$tmp/streams.err")" = err ] || fail "stderr: $(cat "$tmp/streams.err")"

printf 'hello\nworld\n' >"$tmp/in"
eph cat ssh -p "$port" localhost cat <"$tmp/in"
expect_rc 0 "stdin to cat"
cmp -s "$tmp/in" "$tmp/cat.out" || fail "stdin did not come back: $(cat "$tmp/cat.out")"

unchanged "logins"

# ~/.ssh/config's Port is used; -p wins over it.
printf 'Host localhost\n\tHostName 127.0.0.1\n\tPort %s\n' "$port" >"$home/.ssh/config"
snapshot "$tmp/snap.before"
eph cfg ssh localhost id -un </dev/null
expect_rc 0 "the port from ~/.ssh/config"
[ "$(cat "$tmp/cfg.out")" = "$tgt" ] || fail "config port: logged in as $(cat "$tmp/cfg.out")"
eph cfgp ssh -p 1 localhost id -un </dev/null
expect_rc 1 "-p over ~/.ssh/config"
expect_err "cannot connect to [127.0.0.1]:1" "-p over ~/.ssh/config"

# ---------------------------------------------------------------- refusals
eph none ssh -p "$port" nogrant.test id </dev/null
expect_rc 1 "a host without a grant"
expect_err "no active grant for nogrant.test: run 'ephssh request TASK --host nogrant.test'" \
	"a host without a grant"

eph notin ssh -p "$port" otherhost.test id </dev/null
expect_rc 1 "a grant not in the agent"
expect_err "the certificate of grant $other" "a grant not in the agent"
expect_err "is not in the ssh-agent" "a grant not in the agent"

as_req noagent timeout 120 env -i PATH="$PATH" HOME="$home" \
	EPHSSH_SYSTEM_CONFIG_FOR_TESTS=/nonexistent "$EPHSSH" --ca "unix:$sock" \
	ssh -p "$port" localhost id </dev/null
f=noagent
expect_rc 1 "no agent"
expect_err "no ssh-agent (SSH_AUTH_SOCK is not set)" "no agent"

# An empty agent: the grant's certificate is not there.
as_req empty timeout 120 env -i PATH="$PATH" HOME="$home" SSH_AUTH_SOCK="$tmp/agents/2.sock" \
	EPHSSH_SYSTEM_CONFIG_FOR_TESTS=/nonexistent "$EPHSSH" --ca "unix:$sock" \
	ssh -p "$port" localhost id </dev/null
f=empty
expect_rc 1 "an empty agent"
expect_err "the certificate of grant $grant (serial $serial) is not in the ssh-agent" \
	"an empty agent"

eph wrong ssh -p "$port" "$ca_user@localhost" id </dev/null
expect_rc 1 "another account than login_as"
expect_err "refused the grant's certificate for the account $ca_user" "another account"
expect_err "lets you in as $tgt only" "another account"
[ ! -s "$tmp/wrong.out" ] || fail "another account ran something: $(cat "$tmp/wrong.out")"

eph usage ssh </dev/null
expect_rc 2 "no host"
eph usage ssh -p 0 localhost </dev/null
expect_rc 2 "port 0"
eph usage --json ssh localhost </dev/null
expect_rc 2 "--json"

# Nothing written by any of it (the key files are gone, the agent has it all).
unchanged "refusals"

# A shell on a PTY: the remote side sees a terminal; the local terminal
# is back as it was afterwards.
cat >"$tmp/pty.sh" <<EOS
stty -g >"$tmp/rk/stty.before"
env -i PATH="$PATH" HOME="$home" TERM=xterm SSH_AUTH_SOCK="$agent_sock" \
	EPHSSH_SYSTEM_CONFIG_FOR_TESTS=/nonexistent "$EPHSSH" --ca "unix:$sock" ssh localhost
rc=\$?
stty -g >"$tmp/rk/stty.after"
exit \$rc
EOS
chmod 0755 "$tmp/pty.sh"
printf 'tty >/dev/null && echo "PTY-OK-$(id -un)"; exit 5\n' >"$tmp/pty.in"
as_req pty timeout 120 script -qec "sh $tmp/pty.sh" /dev/null <"$tmp/pty.in"
expect_rc 5 "the shell's exit status on a PTY"
grep -q "PTY-OK-$tgt" "$tmp/pty.out" || fail "no shell on a PTY: $(cat "$tmp/pty.out")"
[ -s "$tmp/rk/stty.before" ] || fail "no terminal settings recorded"
cmp -s "$tmp/rk/stty.before" "$tmp/rk/stty.after" || fail "the terminal was left in raw mode"
rm -f "$tmp/rk/stty.before" "$tmp/rk/stty.after"

# ------------------------------------------------------------- host keys
cp "$kh" "$tmp/kh.good"
rm -f "$kh"
eph unknown ssh -p "$port" localhost id -un </dev/null
expect_rc 1 "an unknown host key"
expect_err "the host key of [127.0.0.1]:$port is not known" "an unknown host key"
expect_err "--accept-new" "an unknown host key"
[ ! -s "$tmp/unknown.out" ] || fail "ran on an unknown host"
[ ! -e "$kh" ] || fail "known_hosts was written without --accept-new"

printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1-2 "$tmp/otherhostkey.pub")" >"$kh"
chown "$req:" "$kh"
cp "$kh" "$tmp/kh.changed"
eph changed ssh -p "$port" localhost id -un </dev/null
expect_rc 1 "a changed host key"
expect_err "REMOTE HOST IDENTIFICATION HAS CHANGED for [127.0.0.1]:$port" "a changed host key"
[ ! -s "$tmp/changed.out" ] || fail "ran on a changed host key"
eph changed ssh --accept-new -p "$port" localhost id -un </dev/null
expect_rc 1 "a changed host key with --accept-new"
cmp -s "$kh" "$tmp/kh.changed" || fail "known_hosts changed on a changed host key"

rm -f "$kh"
eph accept ssh --accept-new -p "$port" localhost id -un </dev/null
expect_rc 0 "--accept-new"
[ "$(cat "$tmp/accept.out")" = "$tgt" ] || fail "--accept-new: $(cat "$tmp/accept.out")"
expect_err "permanently added [127.0.0.1]:$port" "--accept-new"
[ -s "$kh" ] || fail "--accept-new wrote no known_hosts"
eph again ssh -p "$port" localhost id -un </dev/null
expect_rc 0 "the key added by --accept-new"
[ ! -s "$tmp/again.err" ] || fail "not quiet: $(cat "$tmp/again.err")"
# The line added is OpenSSH's: ssh accepts it as the only known host.
as_req okh timeout 60 ssh -F /dev/null -p "$port" -o BatchMode=yes -o UserKnownHostsFile="$kh" \
	-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \
	-o IdentityFile=/dev/null "$tgt@127.0.0.1" true </dev/null
grep -q "Host key verification failed\|REMOTE HOST" "$tmp/okh.err" &&
	fail "ssh does not accept the known_hosts line: $(cat "$tmp/okh.err")"
cp "$tmp/kh.good" "$kh"

# ------------------------------------------------------------- CA down
e2e_stop
eph down ssh -p "$port" localhost id -un </dev/null
expect_rc 3 "the CA down"
expect_err "$sock" "the CA down"
exit 0
