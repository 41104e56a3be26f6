#!/bin/sh
# ephemeral-setup enable / disable / status against a private sshd_config
# that includes a temp drop-in directory, checked by the real sshd -t
# (a private host key); a fake sshd that refuses everything proves the
# rollback. Never touches /etc/ssh or PAM (--no-pam). Skips (77) without
# sshd or when sshd -t cannot run here.
set -eu
# As root, a private /run with sshd's privilege separation folder, which
# sshd -t insists on and a machine without a running sshd lacks (other
# tests make and remove the real one meanwhile).
if [ "$(id -u)" -eq 0 ] && [ -z "${EPH_SETUP_NS:-}" ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	EPH_SETUP_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi
if [ -n "${EPH_SETUP_NS:-}" ]; then
	mount -t tmpfs -o mode=0755 tmpfs /run
	mkdir -m 0755 /run/sshd
fi
SETUP=${EPHEMERAL_SETUP:?run from make check}
sshd=${SSHD:-}
[ -n "$sshd" ] && [ -x "$sshd" ] || { echo "skip: no sshd"; exit 77; }
command -v ssh-keygen >/dev/null || { echo "skip: no ssh-keygen"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

mkdir "$tmp/d" "$tmp/state"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
ssh-keygen -q -t ed25519 -N '' -C ca -f "$tmp/ca"
cat >"$tmp/sshd_config" <<EOF
Include $tmp/d/*.conf
HostKey $tmp/hostkey
PidFile none
UsePAM no
EOF
"$sshd" -t -f "$tmp/sshd_config" >/dev/null 2>&1 || { echo "skip: sshd -t fails on a bare config here"; exit 77; }
cat >"$tmp/host.conf" <<EOF
host = { names = [ "h.example.com" ]; };
trusted_ca_keys = "$tmp/ca.pub";
revoked_keys = "$tmp/state/revoked.krl";
accept = ( { task = "t"; users = [ "u" ]; } );
EOF
# The real one: ephemeral-setup reads host.conf through its -T.
cp "${PRINCIPALS:?run from make check}" "$tmp/principals"
chmod 0755 "$tmp/principals"
run() {
	"$SETUP" -f "$tmp/host.conf" --sshd-config-dir "$tmp/d" --sshd-config "$tmp/sshd_config" \
	    --principals "$tmp/principals" --no-pam "$@"
}

# A host.conf that does not load: refused with its file:line error.
cp "$tmp/host.conf" "$tmp/host.conf.good"
echo 'no_such_setting = 5;' >>"$tmp/host.conf"
if run enable 2>"$tmp/err"; then fail "enable with a broken host.conf succeeded"; fi
grep -q 'host.conf:[0-9]*:.*no_such_setting' "$tmp/err" || fail "broken host.conf: $(cat "$tmp/err")"
grep -q 'does not load' "$tmp/err" || fail "broken host.conf: $(cat "$tmp/err")"
[ ! -e "$tmp/d/ephemeral.conf" ] || fail "a refused enable left a drop-in"
mv "$tmp/host.conf.good" "$tmp/host.conf"

# No KRL yet: refused before anything is written.
if run enable 2>"$tmp/err"; then fail "enable without a KRL succeeded"; fi
grep -q 'revoked_keys' "$tmp/err" || fail "enable without a KRL: $(cat "$tmp/err")"
[ ! -e "$tmp/d/ephemeral.conf" ] || fail "a refused enable left a drop-in"
if run status >"$tmp/out"; then fail "status said enabled"; fi
grep -q '^not enabled$' "$tmp/out" || fail "status: $(cat "$tmp/out")"

# A CA key that is not a key is refused too.
ssh-keygen -q -k -f "$tmp/state/revoked.krl"
cp "$tmp/ca.pub" "$tmp/ca.pub.good"
echo garbage >"$tmp/ca.pub"
if run enable 2>"$tmp/err"; then fail "enable with a bad CA key succeeded"; fi
grep -q 'not an SSH public key' "$tmp/err" || fail "bad CA key: $(cat "$tmp/err")"
mv "$tmp/ca.pub.good" "$tmp/ca.pub"

# Everything in place: the drop-in is written and sshd -t reads it.
run enable >"$tmp/enable1" 2>&1 || fail "enable: $(cat "$tmp/enable1")"
f=$tmp/d/ephemeral.conf
[ -f "$f" ] || fail "no drop-in"
grep -qx "TrustedUserCAKeys $tmp/ca.pub" "$f" || fail "TrustedUserCAKeys: $(cat "$f")"
grep -qx "RevokedKeys $tmp/state/revoked.krl" "$f" || fail "RevokedKeys"
grep -qx 'ExposeAuthInfo yes' "$f" || fail "ExposeAuthInfo"
grep -qx "AuthorizedPrincipalsCommand $tmp/principals -f $tmp/host.conf %u %t %k" "$f" ||
	fail "AuthorizedPrincipalsCommand"
grep -qx 'AuthorizedPrincipalsCommandUser _ephprincipals' "$f" || fail "AuthorizedPrincipalsCommandUser"
"$sshd" -T -f "$tmp/sshd_config" -C user=root,host=h,addr=127.0.0.1 2>/dev/null |
	grep -qi '^exposeauthinfo yes' || fail "sshd -T does not see the drop-in"
run status >"$tmp/out" || fail "status after enable: $(cat "$tmp/out")"
grep -q '^enabled$' "$tmp/out" || fail "status: $(cat "$tmp/out")"
# No krl_url: enabled, but a warning that revocations will not arrive.
grep -q 'warning: the KRL is not kept current: .*no krl_url' "$tmp/enable1" ||
	fail "enable without krl_url: no warning: $(cat "$tmp/enable1")"
grep -q '^KRL sync: not kept current: .*no krl_url' "$tmp/out" || fail "status without krl_url: $(cat "$tmp/out")"
# Commented out, as the packaged host.conf has it: still none.
printf '%s\n' '# krl_url = "https://ca.example.com/v1/krl";' '  // krl_url = "https://ca.example.com/v1/krl";' >>"$tmp/host.conf"
run status >"$tmp/out" || fail "status with krl_url commented out: $(cat "$tmp/out")"
grep -q '^KRL sync: not kept current: .*no krl_url' "$tmp/out" || fail "a commented krl_url counted: $(cat "$tmp/out")"
echo "krl_url = \"https://ca.example.com/v1/krl\";" >>"$tmp/host.conf"
run enable >"$tmp/out" 2>&1 || fail "enable with krl_url: $(cat "$tmp/out")"
! grep -q 'warning' "$tmp/out" || fail "enable with krl_url warned: $(cat "$tmp/out")"
run status >"$tmp/out" || fail "status with krl_url: $(cat "$tmp/out")"
if [ -d /run/systemd/system ]; then
	grep -q '^KRL sync: .*ephemeral-krl-sync.timer' "$tmp/out" || fail "status with krl_url: $(cat "$tmp/out")"
else
	grep -qx 'KRL sync: every minute (/etc/cron.d/ephemeral-krl-sync)' "$tmp/out" ||
		fail "status with krl_url: $(cat "$tmp/out")"
fi
# Again: idempotent.
run enable >/dev/null 2>&1 || fail "second enable"
cp "$f" "$tmp/before"

# sshd refuses: the previous drop-in comes back unchanged.
printf '#!/bin/sh\necho "refused by the fake sshd" >&2\nexit 255\n' >"$tmp/badsshd"
chmod 0755 "$tmp/badsshd"
sed -i 's/^ExposeAuthInfo.*/# changed/' "$f"
cp "$f" "$tmp/before"
if run --sshd "$tmp/badsshd" enable 2>"$tmp/err"; then fail "enable under a refusing sshd succeeded"; fi
grep -q 'rolled back' "$tmp/err" || fail "no rollback message: $(cat "$tmp/err")"
cmp -s "$f" "$tmp/before" || fail "the previous drop-in was not put back"
# ... and with none before, none after.
rm -f "$f"
if run --sshd "$tmp/badsshd" enable 2>/dev/null; then fail "enable under a refusing sshd succeeded"; fi
[ ! -e "$f" ] || fail "a rolled-back enable left a drop-in"
[ -z "$(ls -A "$tmp/d")" ] || fail "temp files left in the drop-in dir: $(ls -A "$tmp/d")"
# Interrupted while sshd -t runs: the previous drop-in back, no temp file.
cp "$tmp/before" "$f"
printf '#!/bin/sh\ntouch "%s"\nsleep 2\n' "$tmp/checking" >"$tmp/slowsshd"
chmod 0755 "$tmp/slowsshd"
# exec: $! is ephemeral-setup itself, not a subshell around it.
(exec "$SETUP" -f "$tmp/host.conf" --sshd-config-dir "$tmp/d" --sshd-config "$tmp/sshd_config" \
	--principals "$tmp/principals" --no-pam --sshd "$tmp/slowsshd" enable >/dev/null 2>&1) &
pid=$!
i=0
until [ -e "$tmp/checking" ] || [ "$i" -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$tmp/checking" ] || fail "enable never ran sshd -t"
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
[ "$st" -ne 0 ] || fail "an interrupted enable exited 0"
cmp -s "$f" "$tmp/before" || fail "an interrupted enable did not put the previous drop-in back"
[ "$(ls -A "$tmp/d")" = ephemeral.conf ] || fail "an interrupted enable left: $(ls -A "$tmp/d")"
rm -f "$f" "$tmp/checking"

# A drop-in of someone else's is never overwritten or removed.
echo 'ExposeAuthInfo yes' >"$f"
if run enable 2>/dev/null; then fail "enable overwrote a foreign drop-in"; fi
if run disable 2>/dev/null; then fail "disable removed a foreign drop-in"; fi
[ "$(cat "$f")" = 'ExposeAuthInfo yes' ] || fail "foreign drop-in changed"
rm -f "$f"

# disable removes ours; a second disable is a no-op.
run enable >/dev/null 2>&1 || fail "enable"
run disable >"$tmp/out" 2>&1 || fail "disable: $(cat "$tmp/out")"
[ ! -e "$f" ] || fail "disable left the drop-in"
run disable >/dev/null 2>&1 || fail "second disable"
"$sshd" -t -f "$tmp/sshd_config" || fail "sshd -t after disable"

# Not root (nor able to write the drop-in folder): a clear refusal.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	# A copy: nobody may not reach a checkout under /root.
	cp "$SETUP" "$tmp/ephemeral-setup"
	chmod 0755 "$tmp" "$tmp/ephemeral-setup"
	st=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/ephemeral-setup" -f "$tmp/host.conf" \
	    --sshd-config-dir "$tmp/d" --sshd-config "$tmp/sshd_config" --principals "$tmp/principals" \
	    --no-pam enable >"$tmp/out" 2>&1 || st=$?
	chmod 0700 "$tmp"
	[ "$st" -eq 1 ] || fail "enable as nobody: exit $st: $(cat "$tmp/out")"
	grep -q 'not writable; run as root' "$tmp/out" || fail "enable as nobody: $(cat "$tmp/out")"
	[ ! -e "$f" ] || fail "enable as nobody wrote a drop-in"
fi

# Usage errors are 2.
st=0
"$SETUP" bogus >/dev/null 2>&1 || st=$?
[ "$st" -eq 2 ] || fail "bogus command: exit $st"
echo "ok: ephemeral-setup"
