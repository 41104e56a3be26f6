#!/bin/sh
# End to end with the real OpenSSH server and client: a CA made by
# `sshca init`, a policy decision from `sshca policy explain`, a user
# certificate made by `sshca sign` for it, a private sshd on
# a loopback high port trusting the CA, and real `ssh` logins: accepted
# with the right principal, refused with the wrong one, refused once the
# serial is in a KRL made by `sshca krl`, refused once expired.
#
# Needs root (sshd) and never touches the machine's own sshd or port 22.
# Exit 77 (skip) when it cannot run. With -v it narrates each step.
set -eu

verbose=0
[ "${1:-}" = "-v" ] && verbose=1
say() { [ "$verbose" -eq 0 ] || printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { [ "$verbose" -eq 0 ] || printf '$ %s\n' "$*" >&2; "$@"; }
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/sshd.log" ] && sed 's/^/sshd: /' "$tmp/sshd.log" >&2; exit 1; }

SSHCA=${SSHCA:-$(cd "$(dirname "$0")/../.." && pwd)/sshca/sshca}
SSHD=${SSHD:-/usr/sbin/sshd}
SSH=${SSH:-ssh}
SSH_KEYGEN=${SSH_KEYGEN:-ssh-keygen}

if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root to run sshd"; exit 77; fi
[ -x "$SSHD" ] || { echo "skip: no sshd at $SSHD"; exit 77; }
command -v "$SSH" >/dev/null || { echo "skip: no ssh client"; exit 77; }
[ -x "$SSHCA" ] || { echo "FAIL: no sshca at $SSHCA (build first)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/eph-e2e.XXXXXX)
chmod 0755 "$tmp"
made_run_sshd=0
sshd_pid=""
cleanup() {
	[ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null || true
	[ "$made_run_sshd" -eq 0 ] || rmdir /run/sshd 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# Debian's sshd insists on its privilege separation directory.
if [ ! -d /run/sshd ]; then mkdir -p -m 0755 /run/sshd; made_run_sshd=1; fi

user=$(id -un)
host=127.0.0.1

say "A CA key, made by sshca (Ed25519, PKCS#8, mode 0600)"
show "$SSHCA" init --key "$tmp/ca"
show "$SSHCA" pubkey --key "$tmp/ca" >"$tmp/ca.pub"
[ "$verbose" -eq 0 ] || cat "$tmp/ca.pub"

say "An admin's key pair (ephssh will make this in memory later)"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C admin -f "$tmp/admin"

say "The policy: who may ask for task 'demo' on this host, and for how long"
cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
tasks = (
  { name = "demo"; description = "end-to-end demo login";
    requesters = [ "$user" ]; hosts = [ "localhost" ]; login_as = "$user";
    max_ttl = "5m"; require_reason = true; pty = false; max_logins = 1; }
);
EOP
show "$SSHCA" policy check "$tmp/policy.conf" >/dev/null || fail "sshca policy check refuses the demo policy"
show "$SSHCA" policy explain -f "$tmp/policy.conf" --as "$user" --task demo \
	--host localhost --ttl 1h --reason "demo login" >"$tmp/decision" ||
	fail "the policy does not allow the demo request: $(cat "$tmp/decision")"
[ "$verbose" -eq 0 ] || cat "$tmp/decision"
grep -q '^result: *issue' "$tmp/decision" || fail "decision is not 'issue'"
grep -q '^principals: *eph:demo@localhost$' "$tmp/decision" || fail "unexpected principals"
grep -q '^ttl: *5m' "$tmp/decision" || fail "TTL was not clamped to the task's 5m"
login_as=$(sed -n 's/^login_as: *//p' "$tmp/decision")
[ "$login_as" = "$user" ] || fail "the decision's login_as is '$login_as', not '$user'"

say "A certificate for what the policy decided: task 'demo' on this host, 5 minutes, serial 1"
show "$SSHCA" sign --key "$tmp/ca" --principals "eph:demo@localhost" --ttl 5m \
	--serial 1 --key-id "eph:g-1:$user:demo" --no-default-extensions \
	--grant-id g-1 --task demo --requester "$user" --login-as "$login_as" --reason "demo login" \
	--max-logins 1 "$tmp/admin.pub"
[ -f "$tmp/admin-cert.pub" ] || fail "sshca sign wrote no admin-cert.pub"
[ "$verbose" -eq 0 ] || "$SSHCA" inspect "$tmp/admin-cert.pub"
"$SSH_KEYGEN" -L -f "$tmp/admin-cert.pub" >/dev/null || fail "ssh-keygen -L refuses the certificate"

say "A private sshd on $host, trusting only that CA"
"$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/hostkey"
mkdir -m 0755 "$tmp/principals"
echo "eph:demo@localhost" >"$tmp/principals/$user"
: >"$tmp/revoked.krl"
write_config() {
	cat >"$tmp/sshd_config" <<EOC
Port $1
ListenAddress $host
HostKey $tmp/hostkey
PidFile $tmp/sshd.pid
TrustedUserCAKeys $tmp/ca.pub
AuthorizedPrincipalsFile $tmp/principals/%u
AuthorizedKeysFile none
RevokedKeys $tmp/revoked.krl
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
LogLevel VERBOSE
EOC
}
port=""
for try in 1 2 3 4 5 6 7 8; do
	p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
	write_config "$p"
	"$SSHD" -t -f "$tmp/sshd_config" || fail "sshd -t rejects the config"
	"$SSHD" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
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
[ "$verbose" -eq 0 ] || echo "sshd listening on $host:$port"

try_login() {
	"$SSH" -F /dev/null -p "$port" -i "$tmp/admin" \
		-o CertificateFile="$1" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o ConnectTimeout=10 \
		"$user@$host" 'echo "LOGIN-OK as $(id -un)"' 2>"$tmp/ssh.err"
}

say "Login with the certificate"
out=$(try_login "$tmp/admin-cert.pub") || fail "login refused: $(cat "$tmp/ssh.err")"
[ "$verbose" -eq 0 ] || echo "$out"
[ "$out" = "LOGIN-OK as $user" ] || fail "unexpected output: $out"
grep -q "Accepted publickey for $user .*ID eph:g-1:$user:demo (serial 1)" "$tmp/sshd.log" ||
	fail "sshd did not log the key id and serial"
[ "$verbose" -eq 0 ] || grep "Accepted publickey" "$tmp/sshd.log"

say "A certificate for another task is refused"
cp "$tmp/admin.pub" "$tmp/other.pub"
"$SSHCA" sign --key "$tmp/ca" --principals "eph:other@localhost" --ttl 5m \
	--serial 2 --key-id "eph:g-2:$user:other" -o "$tmp/other-cert.pub" "$tmp/other.pub" 2>/dev/null
if try_login "$tmp/other-cert.pub" >/dev/null; then fail "wrong principal was let in"; fi
[ "$verbose" -eq 0 ] || echo "refused: $(tr -d '\r' <"$tmp/ssh.err")"

say "A certificate from another CA is refused"
"$SSHCA" init --key "$tmp/rogue" >/dev/null 2>&1
cp "$tmp/admin.pub" "$tmp/rogue-user.pub"
"$SSHCA" sign --key "$tmp/rogue" --principals "eph:demo@localhost" --ttl 5m \
	--serial 3 --key-id rogue "$tmp/rogue-user.pub" 2>/dev/null
if try_login "$tmp/rogue-user-cert.pub" >/dev/null; then fail "rogue CA was trusted"; fi

say "Revoking serial 1 in a KRL made by sshca"
show "$SSHCA" krl --key "$tmp/ca.pub" --serial 1 -o "$tmp/revoked.new"
mv "$tmp/revoked.new" "$tmp/revoked.krl"
"$SSH_KEYGEN" -Q -f "$tmp/revoked.krl" "$tmp/admin-cert.pub" >/dev/null 2>&1 &&
	fail "ssh-keygen -Q does not see serial 1 as revoked"
if try_login "$tmp/admin-cert.pub" >/dev/null; then fail "revoked certificate was let in"; fi
[ "$verbose" -eq 0 ] || echo "refused: $(tr -d '\r' <"$tmp/ssh.err")"
: >"$tmp/revoked.krl"

say "An expired certificate is refused"
cp "$tmp/admin.pub" "$tmp/short.pub"
"$SSHCA" sign --key "$tmp/ca" --principals "eph:demo@localhost" --ttl 1s --skew 0 \
	--serial 4 --key-id "eph:g-4:$user:demo" "$tmp/short.pub" 2>/dev/null
sleep 2
if try_login "$tmp/short-cert.pub" >/dev/null; then fail "expired certificate was let in"; fi

say "All good: accepted, wrong task refused, rogue CA refused, revoked refused, expired refused"
exit 0
