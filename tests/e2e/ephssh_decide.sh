#!/bin/sh
# ephssh's approver and admin commands against the real `sshca serve` on a
# temporary Unix socket, run as real Unix users made for the test (a
# requester, two approvers of a task that needs two approvals, an auditor
# who may see but not approve, a stranger): approve (a second approver
# counts, the requester's own approval and a non-approver refused, the
# same approver twice counted once, a decided request a 409), deny with a
# reason the requester sees in `ephssh show`, cancel, revoke with the
# serial then in the KRL (`ssh-keygen -Q`), the review of a break-glass
# grant, `ephssh list` as a table and as JSON (jq), and the CA down (exit
# 3, the address named). Then over a loopback TLS listener with a private
# PAM service (pam_matrix): `ephssh login` on a pseudo-terminal relaying
# the CA's prompts (echo off, restored after Ctrl-C), --password-stdin,
# the token cached 0600 under $XDG_RUNTIME_DIR, a command working with it,
# logout removing it, and afterwards "not logged in" (exit 5); then a
# stack that also asks a one-time code (pam_testotp.so) after a message:
# the message shown, the password asked with echo off and the code with
# echo on, logged in; a wrong code refused (exit 5, no token).
#
# Needs root (useradd, runuser, /etc/pam.d). Exit 77 (skip) when it
# cannot run. Removes everything it made.
set -eu

E2E_TOOLS="openssl python3"
. "$(dirname "$0")/lib.sh"

EPHSSH=${EPHSSH:-$(dirname "$SSHCA")/../client/ephssh}
[ -x "$EPHSSH" ] || fail "no ephssh at $EPHSSH (build first)"
PAM_MATRIX=${PAM_MATRIX:-$(pkg-config --variable=modules pam_wrapper 2>/dev/null || true)/pam_matrix.so}
PAM_TESTOTP=${PAM_TESTOTP:-$(dirname "$SSHCA")/../tests/.libs/pam_testotp.so}

ap1="ephap1$$"
ap2="ephap2$$"
aud="ephaud$$"
stranger="ephno$$"
service="sshca-ephdecide-$$"

e2e_setup
for u in "$ap1" "$ap2" "$aud" "$stranger"; do e2e_user "$u"; done
cat >"$tmp/policy.conf" <<EOP
defaults = { max_ttl = "30m"; pending_timeout = "1h"; };
groups = { leads = [ "$ap1", "$ap2" ]; };
tasks = (
  { name = "db"; requesters = [ "$req" ]; approvers = [ "@leads" ]; approvals = 2;
    hosts = [ "db01.example.com" ]; login_as = "postgres"; require_reason = true; },
  { name = "glass"; break_glass = true; requesters = [ "$req" ]; approvers = [ "@leads" ];
    hosts = [ "db01.example.com" ]; login_as = "root"; max_ttl = "5m"; require_reason = true; }
);
EOP
echo "auditors = [ \"$aud\" ];" >>"$tmp/ca.conf"
e2e_start

db_json="{\"task\": \"db\", \"hosts\": [\"db01.example.com\"], \"reason\": \"INC-1\", \"public_key\": \"$pub\"}"

# eph USER ARGS...: ephssh as USER on the socket; stdout in $tmp/out,
# stderr in $tmp/err, the exit status in $rc.
eph() {
	u=$1
	shift
	rc=0
	runuser -u "$u" -- "$EPHSSH" --ca "unix:$sock" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}
# expect_rc N WHAT [PATTERN]: the exit status, and the message (stderr
# when failing, stdout on success) holding PATTERN; a failure is one line
# (a usage error: the message and the usage).
expect_rc() {
	[ "$rc" = "$1" ] ||
		fail "$2: expected exit $1, got $rc; out: $(cat "$tmp/out"); err: $(cat "$tmp/err")"
	[ $# -lt 3 ] && return 0
	if [ "$1" = 0 ]; then f="$tmp/out"; else f="$tmp/err"; fi
	grep -q -- "$3" "$f" || fail "$2: no '$3' in: $(cat "$f")"
	if [ "$1" = 2 ]; then
		grep -q '^usage: ephssh ' "$tmp/err" || fail "$2: no usage line: $(cat "$tmp/err")"
	elif [ "$1" != 0 ]; then
		[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$2: not one line: $(cat "$tmp/err")"
	fi
}

# --- approve: the requester, an auditor, a stranger; two approvers
api "$req" POST /v1/requests "$db_json"
expect 201 "a request needing two approvals"
id1=$(field .id)
eph "$req" approve "$id1"
expect_rc 5 "self-approval" "you cannot approve your own request $id1"
eph "$aud" approve "$id1"
expect_rc 5 "an auditor approving" "$aud may not approve db"
eph "$stranger" approve "$id1"
expect_rc 1 "a stranger approving" "$id1: no such request"
eph "$ap1" approve --comment "ok INC-1" "$id1"
expect_rc 0 "the first approval" "^approved $id1: 1 of 2 approvals; waiting for @leads$"
eph "$ap1" approve "$id1"
expect_rc 0 "the same approver again" "1 of 2 approvals"
api "$req" GET "/v1/requests/$id1"
[ "$(field .approvals.valid)" = 1 ] || fail "double approval counted $(field .approvals.valid)"
[ "$(field '.approvals.by[0].comment')" = "ok INC-1" ] || fail "comment lost: $(cat "$tmp/body")"

# --- list: the approver sees it pending, as a table and as JSON
eph "$ap1" list
expect_rc 0 "list as an approver" "$id1"
head -n 1 "$tmp/out" | grep -q '^ID  *TASK  *REQUESTER  *HOSTS  *STATE  *APPROVALS  *EXPIRES$' ||
	fail "list header: $(head -n 1 "$tmp/out")"
grep "$id1" "$tmp/out" | grep -q " db  *$req  *db01.example.com  *pending  *1/2 " ||
	fail "list row: $(cat "$tmp/out")"
eph "$ap1" --json list --pending
expect_rc 0 "list --json"
jq -e --arg id "$id1" '.requests | map(select(.id == $id)) | length == 1 and .[0].approvals.valid == 1' \
	"$tmp/out" >/dev/null || fail "list --json: $(cat "$tmp/out")"
eph "$stranger" list --all
expect_rc 0 "list as a stranger" "^no requests$"
eph "$ap1" list --pending --all
expect_rc 2 "two list filters" "exclude each other"

# --- the second approval issues; a decided request is a 409
eph "$ap2" approve "$id1"
expect_rc 0 "the second approval" "^approved $id1: issued to $req until "
api "$req" GET "/v1/requests/$id1"
[ "$(field .state)" = issued ] || fail "after two approvals: $(field .state)"
field .certificate >"$tmp/cert1.pub"
serial1=$(field .serial)
eph "$ap2" approve "$id1"
expect_rc 1 "approving an issued request" "$id1 is already issued"
eph "$req" --json list
expect_rc 0 "the requester's default list"
jq -e --arg id "$id1" '[.requests[] | select(.id == $id and .state == "issued")] | length == 1' \
	"$tmp/out" >/dev/null || fail "the requester's list lacks the active grant: $(cat "$tmp/out")"

# --- deny with a reason; the requester sees it
api "$req" POST /v1/requests "$db_json"
id2=$(field .id)
eph "$ap1" deny "$id2"
expect_rc 2 "deny without a reason" "--reason TEXT is required"
eph "$ap1" --json deny --reason "not during the freeze" "$id2"
expect_rc 0 "deny"
[ "$(jq -r .state "$tmp/out")" = denied ] || fail "deny --json: $(cat "$tmp/out")"
eph "$req" show "$id2"
expect_rc 0 "show a denied request" "$id2  denied"
grep -q "denied .*by $ap1 at .*: \"not during the freeze\"" "$tmp/out" ||
	fail "show of a denied request: no denier and reason: $(cat "$tmp/out")"
eph "$req" --json show "$id2"
jq -e --arg a "$ap1" '.denial.by == $a and .denial.reason == "not during the freeze"' \
	"$tmp/out" >/dev/null || fail "show --json of a denied request: $(cat "$tmp/out")"
eph "$ap2" approve "$id2"
expect_rc 1 "approving a denied request" "$id2 is already denied"

# --- cancel: only the requester
api "$req" POST /v1/requests "$db_json"
id3=$(field .id)
eph "$ap1" cancel "$id3"
expect_rc 5 "cancel by an approver" "only the requester cancels"
eph "$req" cancel "$id3"
expect_rc 0 "cancel" "^cancelled $id3$"
eph "$req" cancel "$id3"
expect_rc 1 "cancel twice" "$id3 is already cancelled"

# --- revoke: the serial lands in the KRL
eph "$ap1" revoke "$id1"
expect_rc 2 "revoke without a reason" "--reason TEXT is required"
eph "$stranger" revoke --reason x "$id1"
expect_rc 1 "revoke by a stranger" "no such request"
"$SSH_KEYGEN" -Q -f "$tmp/state/krl" "$tmp/cert1.pub" >/dev/null 2>&1 ||
	fail "the serial is revoked before ephssh revoke"
eph "$ap1" revoke --reason "INC-1 closed" "$id1"
expect_rc 0 "revoke" "^revoked $id1: serial $serial1 is in the CA's revocation list$"
curl -sS --unix-socket "$sock" -o "$tmp/krl" http://ca/v1/krl || fail "GET /v1/krl"
if "$SSH_KEYGEN" -Q -f "$tmp/krl" "$tmp/cert1.pub" >"$tmp/q" 2>&1; then
	fail "ssh-keygen -Q does not report serial $serial1 revoked: $(cat "$tmp/q")"
fi
grep -q REVOKED "$tmp/q" || fail "ssh-keygen -Q: $(cat "$tmp/q")"
eph "$ap1" revoke --reason again "$id1"
expect_rc 1 "revoke twice" "$id1 is already revoked"

# --- review of a break-glass grant
api "$req" POST /v1/requests "{\"task\": \"glass\", \"hosts\": [\"db01.example.com\"], \"reason\": \"outage\", \"public_key\": \"$pub\"}"
expect 201 "break-glass"
[ "$(field .review.state)" = open ] || fail "break-glass: review $(field .review.state)"
glass=$(field .id)
eph "$req" review "$glass"
expect_rc 5 "review by the requester" "refused: someone other than the requester"
eph "$ap2" review --comment "checked the session" "$glass"
expect_rc 0 "review" "^reviewed $glass: break-glass review closed$"
eph "$req" --json show "$glass"
[ "$(jq -r .review.state "$tmp/out")" = closed ] || fail "review: $(cat "$tmp/out")"
[ "$(jq -r .review.by "$tmp/out")" = "$ap2" ] || fail "review by: $(cat "$tmp/out")"
eph "$ap1" review "$glass"
expect_rc 1 "review twice" "$glass has no open review (it is closed)"

# --- ids: unknown, malformed; the auditor's list has everything
eph "$ap1" approve r-0000000000000000
expect_rc 1 "an unknown id" "r-0000000000000000: no such request"
eph "$ap1" approve nonsense
expect_rc 2 "a malformed id" "'nonsense' is not a request id"
eph "$aud" --json list --all
jq -e --arg a "$id1" --arg b "$id2" --arg c "$id3" --arg d "$glass" \
	'[.requests[].id] as $ids | [$a, $b, $c, $d] | all(. as $x | $ids | index($x))' \
	"$tmp/out" >/dev/null || fail "the auditor's list --all: $(cat "$tmp/out")"
eph "$req" login
expect_rc 0 "login on the socket" "nothing to log in"

# --- the CA down: exit 3, the address named
e2e_stop
eph "$ap1" approve "$id2"
expect_rc 3 "the CA down" "cannot reach the CA at unix:$sock"

# ------------------------------------------------------------- over TLS
if [ ! -f "$PAM_MATRIX" ] || [ ! -d /etc/pam.d ]; then
	echo "ok: ephssh decide on the socket (TLS skipped: no pam_matrix.so)"
	exit 0
fi
remove_pam() { rm -f "/etc/pam.d/$service"; }
e2e_cleanup_hook=remove_pam
password="pw-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port=$((20000 + ($$ + 7) % 20000))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
	-keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1 || fail "openssl req"
chmod 0600 "$tmp/tls.key"
chmod 0644 "$tmp/tls.crt"
printf '%s:%s:%s\n' "$req" "$password" "$service" >"$tmp/passdb"
chown "$ca_user:" "$tmp/passdb"
chmod 0600 "$tmp/passdb"
cat >"/etc/pam.d/$service" <<EOP
auth    required $PAM_MATRIX passdb=$tmp/passdb
account required $PAM_MATRIX passdb=$tmp/passdb
EOP
cat >>"$tmp/ca.conf" <<EOC
login_ttl = "1h";
tls = { listen = "127.0.0.1:$port"; certificate = "$tmp/tls.crt"; key = "$tmp/tls.key"; };
EOC
rm -f "$sock"
"$SSHCA" serve -f "$tmp/ca.conf" --pam-service "$service" >>"$tmp/serve.log" 2>&1 &
daemon_pid=$!
i=0
until [ -S "$sock" ]; do
	kill -0 "$daemon_pid" 2>/dev/null || fail "sshca serve with TLS exited at startup"
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "no socket after 10 s"
	sleep 0.1
done
ca="https://127.0.0.1:$port"
printf 'ca = "%s";\nca_bundle = "%s";\n' "$ca" "$tmp/tls.crt" >"$tmp/ephssh.conf"
chmod 0644 "$tmp/ephssh.conf"
xdg="$tmp/xdg-$req"
mkdir -m 0700 "$xdg"
chown "$req:" "$xdg"

# tls_eph ARGS...: ephssh as the requester against the TLS listener.
tls_eph() {
	rc=0
	runuser -u "$req" -- env XDG_RUNTIME_DIR="$xdg" "$EPHSSH" --config "$tmp/ephssh.conf" "$@" \
		>"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
}
token_file() { find "$xdg/ephssh" -name 'token-*' 2>/dev/null; }

tls_eph list
expect_rc 5 "a command before login" "not logged in to $ca"
# Without the CA's certificate in ca_bundle: TLS verification fails, said so.
printf 'ca = "%s";\n' "$ca" >"$tmp/notrust.conf"
chmod 0644 "$tmp/notrust.conf"
rc=0
runuser -u "$req" -- env XDG_RUNTIME_DIR="$xdg" "$EPHSSH" --config "$tmp/notrust.conf" list \
	>"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
expect_rc 3 "an untrusted TLS certificate" "TLS with $ca failed: .*(check ca_bundle"

# The CA's prompts answered on a pseudo-terminal. STEPS is a JSON list of
# [TEXT, ECHO, ANSWER]: wait for TEXT, check the terminal's echo is ECHO
# (1 on, 0 off) at that moment, type ANSWER and Enter (null: Ctrl-C and
# stop; false: type nothing, as for a message). Answers typed with echo off must never show; echo must be on
# again once ephssh ends.
cat >"$tmp/pty.py" <<'EOPY'
import fcntl, json, os, select, subprocess, sys, termios

steps, cmd = json.loads(sys.argv[1]), sys.argv[2:]
master, slave = os.openpty()

def ctty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                     preexec_fn=ctty)
seen, pos = b"", 0

def drain(want):
    global seen, pos
    while want is None or want not in seen[pos:]:
        r, _, _ = select.select([master], [], [], 30 if want is not None else 0)
        if not r:
            return False
        try:
            d = os.read(master, 4096)
        except OSError:
            return False
        if not d:
            return False
        seen += d
    pos = seen.index(want, pos) + len(want)
    return True

secrets = []
for text, echo, answer in steps:
    if not drain(text.encode()):
        p.kill()
        sys.exit("no %r; saw %r" % (text, seen))
    on = 1 if termios.tcgetattr(slave)[3] & termios.ECHO else 0
    if on != echo:
        p.kill()
        sys.exit("echo is %s at %r; saw %r" % ("on" if on else "off", text, seen))
    if answer is None:
        os.write(master, b"\x03")
        break
    if answer is False:
        continue
    if not echo:
        secrets.append(answer.encode())
    os.write(master, answer.encode() + b"\n")
rc = p.wait()
drain(None)
for s in secrets:
    if s in seen:
        sys.exit("an answer typed with echo off was echoed: %r" % seen)
if not termios.tcgetattr(slave)[3] & termios.ECHO:
    sys.exit("echo is still off after ephssh ended (rc %d)" % rc)
sys.stdout.write(seen.decode(errors="replace"))
print("rc=%d" % rc)
EOPY
pty_login() { # STEPS: ephssh login on a pseudo-terminal as the requester
	rc=0
	python3 "$tmp/pty.py" "$1" runuser -u "$req" -- env XDG_RUNTIME_DIR="$xdg" \
		"$EPHSSH" --config "$tmp/ephssh.conf" login >"$tmp/out" 2>"$tmp/err" || rc=$?
}
asked="($req at $ca) "
pty_login "[[\"$asked\", 0, null]]"
[ -z "${KEEP_LOG:-}" ] || cat "$tmp/out" "$tmp/err"
[ "$rc" = 0 ] || fail "login interrupted on the PTY: $(cat "$tmp/err") $(cat "$tmp/out")"
grep -q "^rc=0$" "$tmp/out" && fail "an interrupted login exited 0: $(cat "$tmp/out")"
[ -z "$(token_file)" ] || fail "an interrupted login left a token"
pty_login "[[\"$asked\", 0, \"$password\"]]"
[ -z "${KEEP_LOG:-}" ] || cat "$tmp/out" "$tmp/err"
[ "$rc" = 0 ] || fail "login on the PTY: $(cat "$tmp/err") $(cat "$tmp/out")"
grep -q "^($req at $ca) Password: " "$tmp/out" || fail "login prompt: $(cat "$tmp/out")"
grep -q "logged in to $ca as $req until " "$tmp/out" || fail "login: $(cat "$tmp/out")"
grep -q "^rc=0" "$tmp/out" || fail "login on the PTY failed: $(cat "$tmp/out")"

tok=$(token_file)
[ -n "$tok" ] || fail "no token file under $xdg/ephssh"
[ "$(stat -c '%a %U' "$tok")" = "600 $req" ] || fail "token file: $(stat -c '%a %U' "$tok")"
[ "$(stat -c '%a' "$xdg/ephssh")" = 700 ] || fail "runtime dir mode $(stat -c '%a' "$xdg/ephssh")"
grep -q "$password" "$tok" && fail "the password is in the token file"
tls_eph --json list --mine
expect_rc 0 "a command with the session"
jq -e --arg id "$id1" '[.requests[].id] | index($id) != null' "$tmp/out" >/dev/null ||
	fail "list over TLS: $(cat "$tmp/out")"

tls_eph logout
expect_rc 0 "logout" "^logged out of $ca$"
[ -z "$(token_file)" ] || fail "logout left the token"
tls_eph list
expect_rc 5 "a command after logout" "not logged in to $ca"
tls_eph logout
expect_rc 0 "logout when not logged in" "not logged in"

# --password-stdin, a wrong password, and a session ended at the CA
rc=0
printf 'wrong-%s\n' "$password" | runuser -u "$req" -- env XDG_RUNTIME_DIR="$xdg" "$EPHSSH" \
	--config "$tmp/ephssh.conf" login --password-stdin >"$tmp/out" 2>"$tmp/err" || rc=$?
expect_rc 5 "a wrong password" "login refused for $req"
[ -z "$(token_file)" ] || fail "a refused login left a token"
rc=0
printf '%s\n' "$password" | runuser -u "$req" -- env XDG_RUNTIME_DIR="$xdg" "$EPHSSH" \
	--config "$tmp/ephssh.conf" --json login --password-stdin >"$tmp/out" 2>"$tmp/err" || rc=$?
expect_rc 0 "login --password-stdin"
[ "$(jq -r .user "$tmp/out")" = "$req" ] || fail "login --json: $(cat "$tmp/out")"
jq -e 'has("token") | not' "$tmp/out" >/dev/null || fail "login --json shows the token"
token=$(cut -d' ' -f1 "$(token_file)")
curl -sS --cacert "$tmp/tls.crt" -X POST -H "Authorization: Bearer $token" -o /dev/null \
	"$ca/v1/logout" || fail "curl logout"
tls_eph logout
expect_rc 0 "logout of an ended session" "had already ended"
[ -z "$(token_file)" ] || fail "logout of an ended session left the token"

# --- a stack that asks a one-time code after the password, with a
# message first (the tests' own pam_testotp.so; PAM reads the service
# file at each login, so the daemon keeps running)
[ -f "$PAM_TESTOTP" ] || fail "no $PAM_TESTOTP (make check builds it)"
cp "$PAM_TESTOTP" "$tmp/pam_testotp.so"
chmod 0644 "$tmp/pam_testotp.so"
cat >"/etc/pam.d/$service" <<EOP
auth    required $PAM_MATRIX passdb=$tmp/passdb
auth    required $tmp/pam_testotp.so code=123456 info
account required $PAM_MATRIX passdb=$tmp/passdb
EOP
otp_steps() { # CODE: the password with echo off, the message, the code with echo on
	printf '[["%s", 0, "%s"], ["Enter the one-time code from your token.", 1, false], ["%sOne-time code: ", 1, "%s"]]' \
		"$asked" "$password" "$asked" "$1"
}
pty_login "$(otp_steps 123456)"
[ -z "${KEEP_LOG:-}" ] || cat "$tmp/out" "$tmp/err"
[ "$rc" = 0 ] || fail "OTP login on the PTY: $(cat "$tmp/err") $(cat "$tmp/out")"
grep -q "^rc=0" "$tmp/out" || fail "OTP login on the PTY failed: $(cat "$tmp/out")"
grep -q "logged in to $ca as $req until " "$tmp/out" || fail "OTP login: $(cat "$tmp/out")"
# Echo on for the code: it shows.
grep -q "One-time code: 123456" "$tmp/out" || fail "the code was not echoed: $(cat "$tmp/out")"
[ -n "$(token_file)" ] || fail "no token file after the OTP login"
tls_eph --json list --mine
expect_rc 0 "a command with the OTP login's session"
jq -e --arg id "$id1" '[.requests[].id] | index($id) != null' "$tmp/out" >/dev/null ||
	fail "list after the OTP login: $(cat "$tmp/out")"
tls_eph logout
expect_rc 0 "logout after the OTP login" "^logged out of $ca$"
# A wrong code: refused, exit 5, no token.
pty_login "$(otp_steps 654321)"
[ "$rc" = 0 ] || fail "wrong code on the PTY: $(cat "$tmp/err") $(cat "$tmp/out")"
grep -q "^rc=5$" "$tmp/out" || fail "a wrong code did not exit 5: $(cat "$tmp/out")"
grep -q "login refused for $req at $ca" "$tmp/out" || fail "a wrong code: $(cat "$tmp/out")"
[ -z "$(token_file)" ] || fail "a refused OTP login left a token"
# The one-step form cannot answer the code.
rc=0
printf '%s\n' "$password" | runuser -u "$req" -- env XDG_RUNTIME_DIR="$xdg" "$EPHSSH" \
	--config "$tmp/ephssh.conf" login --password-stdin >"$tmp/out" 2>"$tmp/err" || rc=$?
expect_rc 5 "--password-stdin against the OTP stack" "login refused for $req"
[ -z "$(token_file)" ] || fail "a refused one-step login left a token"
echo "ok: ephssh approve, deny, cancel, revoke, review, list, login (password, OTP), logout"
