#!/bin/sh
# End to end over TLS: `sshca serve` with a loopback TLS listener (a
# certificate made here with openssl(1)) and a private PAM service file
# /etc/pam.d/sshca-ephtest-PID (pam_wrapper's pam_matrix module and a
# password file of the test's own) that the daemon uses through
# --pam-service. POST /v1/login with curl --cacert gives a token; the
# token issues a certificate with POST /v1/requests as the Unix caller
# would; a wrong password, an unknown user, a bad or missing token are
# 401s; the database holds only the token's SHA-256; the login and the
# refusals are in the audit chain, which verifies; POST /v1/logout ends
# the session (the same token is then a 401 on every route) with a logout
# record in the chain. Then the relayed PAM conversation: {"user"} alone
# against the password stack, and against a stack that also asks a
# one-time code (pam_testotp.so, the tests' own module) with a message
# first; a wrong code, a wrong number of answers, an unknown id, the
# one-step form refused by that stack; SIGTERM with a conversation
# waiting for its answers ends it and exits.
#
# pam_matrix rather than pam_unix: the daemon runs PAM as its
# unprivileged CA user, and pam_unix checks no one's password but the
# caller's own without root (unix_chkpwd). Sites use a stack that works
# unprivileged (sssd, LDAP, Kerberos).
#
# Needs root (useradd, /etc/pam.d). Exit 77 (skip) when it cannot run.
# Removes everything it made.
set -eu

SSHCA=${SSHCA:-$(cd "$(dirname "$0")/../.." && pwd)/sshca/sshca}
SSH_KEYGEN=${SSH_KEYGEN:-ssh-keygen}
PAM_MATRIX=${PAM_MATRIX:-$(pkg-config --variable=modules pam_wrapper 2>/dev/null || true)/pam_matrix.so}
PAM_TESTOTP=${PAM_TESTOTP:-$(dirname "$SSHCA")/../tests/.libs/pam_testotp.so}

if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root (useradd, /etc/pam.d)"; exit 77; fi
for t in curl jq sqlite3 openssl useradd userdel "$SSH_KEYGEN"; do
	command -v "$t" >/dev/null || { echo "skip: no $t"; exit 77; }
done
[ -f "$PAM_MATRIX" ] || { echo "skip: no pam_matrix.so (libpam-wrapper)"; exit 77; }
[ -d /etc/pam.d ] || { echo "skip: no /etc/pam.d"; exit 77; }
[ -x "$SSHCA" ] || { echo "FAIL: no sshca at $SSHCA (build first)" >&2; exit 1; }
[ -f "$PAM_TESTOTP" ] || { echo "FAIL: no $PAM_TESTOTP (make check builds it)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/eph-tls.XXXXXX)
chmod 0755 "$tmp"
ca_user="ephtca$$"
req="ephtreq$$"
service="sshca-ephtest-$$"
password="pw-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port=$((20000 + $$ % 20000))
made_users=""
daemon_pid=""

cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	rm -f "/etc/pam.d/$service"
	for u in $made_users; do userdel "$u" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/serve.log" ] && sed 's/^/serve: /' "$tmp/serve.log" >&2
	[ -f "$tmp/body" ] && sed 's/^/body: /' "$tmp/body" >&2
	exit 1
}

for u in "$ca_user" "$req"; do
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
		fail "useradd $u"
	made_users="$made_users $u"
done

"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
mkdir -m 0700 "$tmp/state"
chown "$ca_user:" "$tmp/state"
sock="$tmp/run/sshca.sock"

# The TLS certificate, for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
	-keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1 || fail "openssl req"
chmod 0600 "$tmp/tls.key"
chmod 0644 "$tmp/tls.crt"

# The private PAM service: pam_matrix over a password file the CA user
# can read (PAM runs in the unprivileged daemon).
printf '%s:%s:%s\n' "$req" "$password" "$service" >"$tmp/passdb"
chown "$ca_user:" "$tmp/passdb"
chmod 0600 "$tmp/passdb"
cat >"/etc/pam.d/$service" <<EOP
auth    required $PAM_MATRIX passdb=$tmp/passdb
account required $PAM_MATRIX passdb=$tmp/passdb
EOP

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
database = "$tmp/state/ca.db";
socket = "$sock";
user = "$ca_user";
login_ttl = "1h";
tls = { listen = "127.0.0.1:$port"; certificate = "$tmp/tls.crt"; key = "$tmp/tls.key"; };
EOC
chmod 0644 "$tmp/ca.conf" "$tmp/policy.conf"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C test -f "$tmp/user"
pub=$(cut -d' ' -f1-2 "$tmp/user.pub")

"$SSHCA" serve -f "$tmp/ca.conf" --pam-service "$service" >"$tmp/serve.log" 2>&1 &
daemon_pid=$!
i=0
while [ ! -S "$sock" ]; do
	kill -0 "$daemon_pid" 2>/dev/null || fail "sshca serve exited at startup"
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "no socket after 10 s"
	sleep 0.1
done

base="https://127.0.0.1:$port"
# tls METHOD PATH [JSON [TOKEN]]: the body in $tmp/body, the status in $status.
tls() {
	m=$1 p=$2
	shift 2
	set -- "$@" "" ""
	if [ -n "$2" ]; then
		out=$(curl -sS --cacert "$tmp/tls.crt" -X "$m" -H "Authorization: Bearer $2" \
			-H 'Content-Type: application/json' --data-binary "$1" \
			-w '\n%{http_code}' "$base$p") || fail "curl $m $p"
	elif [ -n "$1" ]; then
		out=$(curl -sS --cacert "$tmp/tls.crt" -X "$m" \
			-H 'Content-Type: application/json' --data-binary "$1" \
			-w '\n%{http_code}' "$base$p") || fail "curl $m $p"
	else
		out=$(curl -sS --cacert "$tmp/tls.crt" -X "$m" -w '\n%{http_code}' "$base$p") ||
			fail "curl $m $p"
	fi
	status=$(printf '%s\n' "$out" | tail -n 1)
	printf '%s\n' "$out" | sed '$d' >"$tmp/body"
}
expect() { [ "$status" = "$1" ] || fail "$2: expected HTTP $1, got $status"; }
field() { jq -r "$1" "$tmp/body"; }

# --- public routes need no session
tls GET /v1/healthz
expect 200 "healthz over TLS"

# --- login
tls POST /v1/login "{\"user\": \"$req\", \"password\": \"$password\"}"
expect 200 "login"
token=$(field .token)
[ "$(printf %s "$token" | wc -c)" -eq 64 ] || fail "token: '$token'"
[ "$(field .user)" = "$req" ] || fail "login user: $(field .user)"
now=$(date +%s)
exp=$(field .expires)
[ "$exp" -gt $((now + 3500)) ] && [ "$exp" -le $((now + 3610)) ] ||
	fail "expires $exp is not now + login_ttl (1h)"

# --- the token does what the Unix socket's peer credentials do
tls POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}" "$token"
expect 201 "request with a bearer token"
[ "$(field .state)" = issued ] || fail "state $(field .state)"
[ "$(field .requester)" = "$req" ] || fail "requester $(field .requester)"
field .certificate | "$SSH_KEYGEN" -L -f - >"$tmp/cert.txt" || fail "ssh-keygen -L refuses the certificate"
grep -q "eph:ping@web01.example.com" "$tmp/cert.txt" || fail "principal missing"
id=$(field .id)
tls GET "/v1/requests/$id" "" "$token"
expect 200 "GET a request with a bearer token"
[ "$(field .id)" = "$id" ] || fail "GET: id $(field .id)"

# --- refusals
tls POST /v1/login "{\"user\": \"$req\", \"password\": \"wrong-$password\"}"
expect 401 "a wrong password"
[ "$(field .error)" = unauthorized ] || [ -n "$(field .error)" ] || fail "no error token"
grep -q "$password" "$tmp/body" && fail "the password echoed back"
tls POST /v1/login "{\"user\": \"ephnobody$$\", \"password\": \"$password\"}"
expect 401 "an unknown user"
tls POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
expect 401 "a bad token"
tls POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}"
expect 401 "no token"
tls GET /v1/requests "" "not/a%token"
expect 401 "a malformed token"

# --- only the hash is stored; the audit chain has the logins
hash=$(printf %s "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$(sqlite3 "$tmp/state/ca.db" "SELECT count(*) FROM sessions WHERE token_hash = '$hash' AND user = '$req'")" = 1 ] ||
	fail "no session row under the token's SHA-256"
if grep -q "$token" "$tmp/state/ca.db" "$tmp/state/ca.db-wal" 2>/dev/null; then
	fail "the token itself is in the database"
fi
if grep -q "$password" "$tmp/state/ca.db" "$tmp/state/ca.db-wal" "$tmp/serve.log" 2>/dev/null; then
	fail "the password is in the database or the log"
fi
[ "$(sqlite3 "$tmp/state/ca.db" "SELECT count(*) FROM audit WHERE type = 'login'")" = 1 ] ||
	fail "no login audit record"
[ "$(sqlite3 "$tmp/state/ca.db" "SELECT count(*) FROM audit WHERE type = 'login_failed'")" = 2 ] ||
	fail "refused logins not audited"

# --- logout ends the session: the same token is then refused everywhere
tls POST /v1/logout "" "$token"
expect 200 "logout"
[ "$(field .ok)" = true ] || fail "logout answered $(cat "$tmp/body")"
tls GET "/v1/requests/$id" "" "$token"
expect 401 "GET a request with a logged-out token"
[ "$(field .error)" = unauthenticated ] || fail "no unauthenticated error after logout"
tls POST /v1/requests "{\"task\": \"ping\", \"hosts\": [\"web01.example.com\"], \"public_key\": \"$pub\"}" "$token"
expect 401 "a request with a logged-out token"
tls GET "/v1/audit?since=0" "" "$token"
expect 401 "the audit log with a logged-out token"
tls POST /v1/logout "" "$token"
expect 401 "a second logout of the same token"
[ "$(sqlite3 "$tmp/state/ca.db" "SELECT count(*) FROM audit WHERE type = 'logout' AND actor = '$req'")" = 1 ] ||
	fail "no logout audit record for $req"
[ "$(sqlite3 "$tmp/state/ca.db" "SELECT revoked FROM sessions WHERE token_hash = '$hash'")" = 1 ] ||
	fail "the session row is not marked ended"
# The Unix socket has no session to end.
out=$(curl -sS --unix-socket "$sock" -X POST -w '\n%{http_code}' http://ca/v1/logout) ||
	fail "curl POST /v1/logout on the Unix socket"
status=$(printf '%s\n' "$out" | tail -n 1)
printf '%s\n' "$out" | sed '$d' >"$tmp/body"
expect 400 "logout on the Unix socket"
grep -q 'no session to end' "$tmp/body" || fail "logout on the Unix socket does not say why"

# --- the relayed conversation, against the password stack: one prompt
tls POST /v1/login "{\"user\": \"$req\"}"
expect 200 "a conversation"
conv=$(field .conversation)
printf %s "$conv" | grep -Eq '^c-[0-9a-f]{32}$' || fail "conversation id: $(cat "$tmp/body")"
[ "$(field '.prompts | length')" = 1 ] && [ "$(field '.prompts[0].style')" = echo_off ] &&
	[ "$(field '.messages | length')" = 0 ] || fail "the password prompt: $(cat "$tmp/body")"
tls POST /v1/login "{\"conversation\": \"$conv\", \"answers\": [\"$password\"]}"
expect 200 "the password answered"
[ "$(field .user)" = "$req" ] && [ "$(printf %s "$(field .token)" | wc -c)" -eq 64 ] ||
	fail "the conversation's session: $(cat "$tmp/body")"
token=$(field .token)
tls GET "/v1/requests/$id" "" "$token"
expect 200 "a conversation's token"
# Over: its id is forgotten.
tls POST /v1/login "{\"conversation\": \"$conv\", \"answers\": [\"$password\"]}"
expect 401 "an ended conversation"

# --- a stack that asks a one-time code after the password (PAM reads
# the file at each pam_start: no restart)
cp "$PAM_TESTOTP" "$tmp/pam_testotp.so"
chmod 0644 "$tmp/pam_testotp.so"
cat >"/etc/pam.d/$service" <<EOP
auth    required $PAM_MATRIX passdb=$tmp/passdb
auth    required $tmp/pam_testotp.so code=123456 info
account required $PAM_MATRIX passdb=$tmp/passdb
EOP
tls POST /v1/login "{\"user\": \"$req\", \"password\": \"$password\"}"
expect 401 "the one-step form against a stack that asks more"
# otp_start: a conversation through the password, at the code prompt.
otp_start() {
	tls POST /v1/login "{\"user\": \"$req\"}"
	expect 200 "a conversation (OTP)"
	conv=$(field .conversation)
	tls POST /v1/login "{\"conversation\": \"$conv\", \"answers\": [\"$password\"]}"
	expect 200 "the password answered (OTP)"
	[ "$(field .conversation)" = "$conv" ] || fail "another id: $(cat "$tmp/body")"
	[ "$(field '.prompts | length')" = 1 ] && [ "$(field '.prompts[0].style')" = echo_on ] &&
		[ "$(field '.prompts[0].text')" = "One-time code: " ] ||
		fail "the code prompt: $(cat "$tmp/body")"
	[ "$(field '.messages[0].style')" = info ] &&
		[ "$(field '.messages[0].text')" = "Enter the one-time code from your token." ] ||
		fail "the message before the code: $(cat "$tmp/body")"
}
otp_start
tls POST /v1/login "{\"conversation\": \"$conv\", \"answers\": []}"
expect 400 "no answer to one prompt"
grep -q '0 given for 1 prompts' "$tmp/body" || fail "wrong count: $(cat "$tmp/body")"
tls POST /v1/login "{\"conversation\": \"c-0123456789abcdef0123456789abcdef\", \"answers\": [\"123456\"]}"
expect 401 "an unknown conversation"
tls POST /v1/login "{\"conversation\": \"$conv\", \"answers\": [\"123456\"]}"
expect 200 "the code answered"
token=$(field .token)
tls GET "/v1/requests/$id" "" "$token"
expect 200 "the OTP login's token"
otp_start
tls POST /v1/login "{\"conversation\": \"$conv\", \"answers\": [\"654321\"]}"
expect 401 "a wrong code"
[ "$(field .detail)" = "login refused" ] || fail "wrong code: $(cat "$tmp/body")"
if grep -q "$password" "$tmp/state/ca.db" "$tmp/state/ca.db-wal" "$tmp/serve.log" 2>/dev/null; then
	fail "the password is in the database or the log"
fi
grep -q 654321 "$tmp/serve.log" && fail "the code is in the log"
fails=$(sqlite3 "$tmp/state/ca.db" "SELECT count(*) FROM audit WHERE type = 'login_failed'")

# --- SIGTERM with a conversation waiting for its answers (a minute by
# default): it ends, and so does the daemon
tls POST /v1/login "{\"user\": \"$req\"}"
expect 200 "a conversation left waiting"
kill -TERM "$daemon_pid"
i=0
while kill -0 "$daemon_pid" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "SIGTERM: still running 30 s later with a conversation open"
	sleep 0.1
done
wait "$daemon_pid" || fail "SIGTERM: exit status $?"
daemon_pid=""
[ "$(sqlite3 "$tmp/state/ca.db" "SELECT count(*) FROM audit WHERE type = 'login_failed'")" = $((fails + 1)) ] ||
	fail "the conversation ended by SIGTERM is not a login_failed record"
"$SSHCA" audit verify -f "$tmp/ca.conf" >"$tmp/verify" 2>&1 || fail "audit verify: $(cat "$tmp/verify")"
echo "ok: TLS login, bearer issuance, 401s, hash-only storage, logout, audit, PAM conversation"
