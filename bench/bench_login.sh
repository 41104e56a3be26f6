#!/bin/sh
# make bench, the host side's cost per login. In-process: pam_ephemeral's
# session open + close (bench_pamopen) against a pam_permit-only stack.
# Whole logins: real `ssh USER@127.0.0.1 true` to two private sshd
# processes run side by side on loopback high ports:
#   a. baseline: stock sshd accepting the certificate through an
#      AuthorizedPrincipalsFile, a PAM session of pam_permit only;
#   b. ephemeral-principals as AuthorizedPrincipalsCommand (as a user made
#      here) and pam_ephemeral.so, by absolute path, before pam_permit;
# and, to tell sshd's share from ours:
#   c. stock sshd running /bin/echo PRINCIPAL as its
#      AuthorizedPrincipalsCommand (as the same user), pam_permit;
# rotating the order round by round so the machine's noise falls on all
# alike, next to one ephemeral-principals call (bench_exec) as a fraction
# of the baseline login. Ratios of figures measured in this run; never fails on
# a time (it fails when a login that must work does not).
#
# Root only (sshd, useradd, /etc/pam.d): prints "skipped" otherwise. Runs
# in a private mount namespace with its own /run (sshd's /run/sshd, the
# root-owned folder of the copies of sshd, the principals command and the
# module), so nothing of it reaches the machine's journal; the PAM
# services are /etc/pam.d/sshd-ephtest-PID*, made and removed here. The
# machine's sshd, /etc/pam.d/sshd and port 22 are never touched.
set -eu

builddir=$(cd "${1:-.}" && pwd)
N=${BENCH_LOGINS:-30}
O=${BENCH_PAM_OPENS:-1000}
P=${BENCH_PRINCIPALS_CALLS:-300}
T1="pam_ephemeral session open + close, in-process (pam_start_confdir)"
T2="a whole ssh login on loopback, with and without the host side"

skip() {
	echo
	echo "$T1"
	echo "  skipped: $*"
	echo
	echo "$T2"
	echo "  skipped: $*"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
if [ -z "${EPH_BENCH_NS:-}" ]; then
	if ! command -v unshare >/dev/null || ! unshare -m --propagation private true 2>/dev/null; then
		skip "no private mount namespace (unshare -m)"
	fi
	EPH_BENCH_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi

SSHD=${SSHD:-/usr/sbin/sshd}
SSH=$(command -v "${SSH:-ssh}" || true)
SSH_KEYGEN=${SSH_KEYGEN:-ssh-keygen}
SSHCA=$builddir/sshca/sshca
PRINCIPALS=$builddir/host/ephemeral-principals
MODULE=$builddir/host/.libs/pam_ephemeral.so
[ -x "$SSHD" ] || skip "no sshd at $SSHD"
[ -n "$SSH" ] || skip "no ssh client"
for t in "$SSH_KEYGEN" useradd userdel mount setpriv ldd; do
	command -v "$t" >/dev/null || skip "no $t"
done
[ -d /etc/pam.d ] || skip "no /etc/pam.d"
for f in "$SSHCA" "$PRINCIPALS" "$MODULE" "$builddir/host/ephemeral-watchdog" "$builddir/bench/bench_exec" \
	"$builddir/bench/bench_pamopen"; do
	[ -e "$f" ] || { echo "FAIL: no $f (build first)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/eph-benchlogin.XXXXXX)
chmod 0755 "$tmp"
svc_a="sshd-ephtest-$$-base"
svc_c="sshd-ephtest-$$-echo"
svc_b="sshd-ephtest-$$"
princ="ephbp$$"
luser="ephbl$$"
made_users=""
pids=""
cleanup() {
	set +e
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -f "/etc/pam.d/$svc_a" "/etc/pam.d/$svc_b" "/etc/pam.d/$svc_c"
	for u in $made_users; do userdel "$u" 2>/dev/null; done
	umount -l /run 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	for l in "$tmp"/sshd-*.log; do
		[ -f "$l" ] && tail -n 20 "$l" | sed "s|^|$(basename "$l" .log): |" >&2
	done
	[ -f "$tmp/ssh.err" ] && sed 's/^/ssh: /' "$tmp/ssh.err" >&2
	exit 1
}

# ---- whole logins.
mount -t tmpfs -o mode=0755 tmpfs /run || fail "mount a private /run"
mkdir -m 0755 /run/sshd
bin=/run/ephbench-$$
mkdir -m 0755 "$bin"
cp "$SSHD" "$bin/$svc_a"
cp "$SSHD" "$bin/$svc_b"
cp "$SSHD" "$bin/$svc_c"
cp /bin/echo "$bin/echo" || fail "no /bin/echo"
cp "$PRINCIPALS" "$bin/ephemeral-principals"
cp "$MODULE" "$bin/pam_ephemeral.so"
cp "$builddir/bench/bench_exec" "$bin/bench_exec"
chmod 0755 "$bin"/*
cp "$builddir/host/ephemeral-watchdog" "$bin/ephemeral-watchdog"
chmod 0755 "$bin/ephemeral-watchdog"

# ---- in-process: the module's open + close against pam_permit alone.
# Run twice: loading the module's libraries afresh each time (what a
# process pays that has none of them), and with those it shares with this
# sshd already mapped (sshd's per-connection monitor has them: what a
# login pays).
libs_of() { ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u; }
libs_of "$SSHD" >"$tmp/sshd.libs"
shared=$(libs_of "$MODULE" | grep -Fx -f "$tmp/sshd.libs" | grep -v '/libc\.so' | tr '\n' ' ')
rc=0
m_fresh=$("$builddir/bench/bench_pamopen" "$MODULE" "$O" "$bin/ephemeral-watchdog") || rc=$?
m_sshd=""
if [ "$rc" -eq 0 ]; then
	m_sshd=$(LD_PRELOAD="$shared" "$builddir/bench/bench_pamopen" "$MODULE" "$O" \
		"$bin/ephemeral-watchdog") ||
		fail "bench_pamopen with sshd's libraries preloaded"
elif [ "$rc" -ne 77 ]; then
	fail "bench_pamopen"
fi
val() { echo "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
echo
echo "$T1"
if [ "$rc" -eq 77 ]; then
	echo "  $m_fresh"
	pam_us=""
else
	permit_us=$(val "$m_fresh" permit_open_close_us)
	fresh_us=$(val "$m_fresh" module_open_close_us)
	permit2_us=$(val "$m_sshd" permit_open_close_us)
	sshd_us=$(val "$m_sshd" module_open_close_us)
	echo "  $O sessions each: pam_start, SSH_AUTH_INFO_0, open, close, pam_end"
	echo "  pam_permit only:                 $permit_us us per session ($permit2_us us in the second run)"
	echo "  pam_ephemeral, then pam_permit:  $fresh_us us per session, its libraries loaded afresh each time"
	echo "  pam_ephemeral, then pam_permit:  $sshd_us us per session, with sshd's libraries already mapped"
	wd_us=$(val "$m_sshd" module_watchdog_open_close_us)
	echo "  the same with its watchdog:      $wd_us us per session (started, ok, lifeline closed)"
	echo "    ($(echo "$shared" | xargs -n1 basename 2>/dev/null | tr '\n' ' ' | sed 's/ $//'))"
	pam_us=$(echo "$wd_us $permit2_us" | awk '{ printf "%.1f", $1 - $2 }')
	echo "$fresh_us $permit_us $sshd_us $permit2_us" | awk '{
		printf "  the module'"'"'s own cost: %.0f us afresh, %.0f us as in sshd (%.1fx / %.1fx pam_permit alone)\n",
		    $1 - $2, $3 - $4, $1 / $2, $3 / $4 }'
fi


useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$princ" ||
	fail "useradd $princ"
made_users="$made_users $princ"
useradd --no-create-home --home-dir "$tmp/home" --shell /bin/sh "$luser" || fail "useradd $luser"
made_users="$made_users $luser"
mkdir -m 0755 "$tmp/home"
chown "$luser:" "$tmp/home"

host=bench.example.com
principal="eph:bench@$host"
"$SSHCA" init --key "$tmp/ca" >/dev/null || fail "sshca init"
"$SSHCA" pubkey --key "$tmp/ca" >"$tmp/ca.pub"
"$SSHCA" krl --key "$tmp/ca.pub" -o "$tmp/revoked.krl" >/dev/null 2>&1 || fail "sshca krl"
"$SSH_KEYGEN" -q -t ed25519 -N '' -C bench -f "$tmp/id"
"$SSH_KEYGEN" -q -t ed25519 -N '' -f "$tmp/hostkey"
# cert NAME SERIAL MAX_LOGINS: the login's certificate, $tmp/NAME-cert.pub.
cert() {
	cp "$tmp/id.pub" "$tmp/$1.pub"
	cp "$tmp/id" "$tmp/$1"
	"$SSHCA" sign --key "$tmp/ca" --principals "$principal" --serial "$2" --ttl 1h \
		--key-id "eph:g-$2:bench:bench" --grant-id "g-$2" --task bench --requester bench \
		--login-as "$luser" --approver approver --max-logins "$3" \
		-o "$tmp/$1-cert.pub" "$tmp/$1.pub" 2>/dev/null || fail "sshca sign $1"
}
cert login 1 0
cert once 2 1
mkdir -m 0755 "$tmp/state" "$tmp/principals"
mkdir -m 0700 "$tmp/state/spool"
chown "$princ:" "$tmp/state/spool"
echo "$principal" >"$tmp/principals/$luser"
# session_end on (the default): each session has its watchdog.
cat >"$tmp/host.conf" <<EOC
host = { names = [ "$host" ]; };
trusted_ca_keys = "$tmp/ca.pub";
revoked_keys = "$tmp/revoked.krl";
state_dir = "$tmp/state";
services = [ "$svc_b" ];
session_end = true;
accept = ( { task = "bench"; users = [ "$luser" ]; } );
EOC
chmod 0644 "$tmp/host.conf" "$tmp/ca.pub" "$tmp/revoked.krl" "$tmp/principals/$luser"
cat >"/etc/pam.d/$svc_a" <<EOP
account required pam_permit.so
session required pam_permit.so
EOP
cp "/etc/pam.d/$svc_a" "/etc/pam.d/$svc_c"
cat >"/etc/pam.d/$svc_b" <<EOP
account required pam_permit.so
session required $bin/pam_ephemeral.so conf=$tmp/host.conf watchdog=$bin/ephemeral-watchdog
session required pam_permit.so
EOP

# start_sshd NAME AUTH_LINES: a private sshd from $bin/NAME on a free
# loopback port, its pid added to $pids, its port in $port.
start_sshd() {
	port=""
	for _ in 1 2 3 4 5 6 7 8; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		cat >"$tmp/$1.conf" <<EOC
Port $p
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
PidFile none
TrustedUserCAKeys $tmp/ca.pub
RevokedKeys $tmp/revoked.krl
AuthorizedKeysFile none
$2
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
ExposeAuthInfo yes
StrictModes no
EOC
		"$bin/$1" -t -f "$tmp/$1.conf" || fail "sshd -t rejects $tmp/$1.conf"
		"$bin/$1" -D -e -f "$tmp/$1.conf" 2>"$tmp/sshd-$1.log" &
		spid=$!
		i=0
		while [ $i -lt 50 ]; do
			grep -q "Server listening" "$tmp/sshd-$1.log" 2>/dev/null && { port=$p; break; }
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		if [ -n "$port" ]; then
			pids="$pids $spid"
			return 0
		fi
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
	done
	fail "could not start $1 on a loopback port"
}
start_sshd "$svc_a" "AuthorizedPrincipalsFile $tmp/principals/%u"
port_a=$port
start_sshd "$svc_b" "AuthorizedPrincipalsCommand $bin/ephemeral-principals -f $tmp/host.conf %u %t %k
AuthorizedPrincipalsCommandUser $princ"
port_b=$port
start_sshd "$svc_c" "AuthorizedPrincipalsCommand $bin/echo $principal
AuthorizedPrincipalsCommandUser $princ"
port_c=$port

# client PORT CERT [PREFIX...]: one login's client, run by PREFIX.
client() {
	cp_=$1 cc_=$2
	shift 2
	"$@" "$SSH" -F /dev/null -p "$cp_" -i "$tmp/$cc_" -o CertificateFile="$tmp/$cc_-cert.pub" \
		-o IdentitiesOnly=yes -o BatchMode=yes -o ControlMaster=no -o ControlPath=none \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 "$luser@127.0.0.1" true
}
# login PORT CERT: a login with its output and errors in $tmp/ssh.err.
login() { client "$1" "$2" >"$tmp/ssh.err" 2>&1; }
# timed PORT CERT: one login's wall time from the client, in us.
timed() {
	t_=$(client "$1" "$2" "$bin/bench_exec" 1)
	[ "$(val "$t_" failed_calls)" = 0 ] || { login "$1" "$2" || true; fail "a timed login failed"; }
	val "$t_" per_call_us
}

# Both work, once untimed (and warm); b runs the host side: a certificate
# of max_logins 1 logs in once, not twice.
login "$port_a" login || fail "the baseline login failed"
login "$port_c" login || fail "the login with /bin/echo as principals command failed"
login "$port_b" login || fail "the login through the host side failed"
login "$port_b" once || fail "the max_logins 1 certificate's first login failed"
if login "$port_b" once; then fail "pam_ephemeral is not in the session: a second login of max_logins 1"; fi

: >"$tmp/a.us"
: >"$tmp/b.us"
: >"$tmp/c.us"
r=0
while [ $r -lt "$N" ]; do
	case $((r % 3)) in
	0) order="a b c" ;;
	1) order="b c a" ;;
	*) order="c a b" ;;
	esac
	for k in $order; do
		eval "timed \"\$port_$k\" login" >>"$tmp/$k.us"
	done
	r=$((r + 1))
done

# One ephemeral-principals call as sshd makes it (as the command user,
# the spool its own), for the login's certificate.
ctype=$(cut -d' ' -f1 "$tmp/login-cert.pub")
cb64=$(cut -d' ' -f2 "$tmp/login-cert.pub")
pr=$(setpriv --reuid="$princ" --regid="$princ" --clear-groups "$bin/bench_exec" "$P" \
	"$bin/ephemeral-principals" -f "$tmp/host.conf" "$luser" "$ctype" "$cb64")
[ "$(val "$pr" failed_calls)" = 0 ] || fail "ephemeral-principals refused the login's certificate"
call_us=$(val "$pr" per_call_us)

# stats FILE: mean median min, in ms.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.2f %.2f %.2f\n", s / NR / 1000, m / 1000, v[1] / 1000 }'
}
sa=$(stats "$tmp/a.us")
sb=$(stats "$tmp/b.us")
sc=$(stats "$tmp/c.us")
echo
echo "$T2"
echo "  \`ssh ... $luser@127.0.0.1 true\`, ControlMaster=no, $N logins each, the order rotating"
echo "$sa" | awk '{ printf "  a. stock sshd, AuthorizedPrincipalsFile, pam_permit:    mean %6.2f ms, median %6.2f ms, min %6.2f ms\n", $1, $2, $3 }'
echo "$sb" | awk '{ printf "  b. ephemeral-principals, pam_ephemeral + pam_permit:   mean %6.2f ms, median %6.2f ms, min %6.2f ms\n", $1, $2, $3 }'
echo "$sc" | awk '{ printf "  c. /bin/echo as principals command, pam_permit:        mean %6.2f ms, median %6.2f ms, min %6.2f ms\n", $1, $2, $3 }'
echo "$sa $sb $sc" | awk '{
	printf "  b vs a: %+.1f%% (means), %+.1f%% (medians), %+.1f%% (minimums); target under +5%%\n",
	    100 * ($4 / $1 - 1), 100 * ($5 / $2 - 1), 100 * ($6 / $3 - 1)
	printf "    of which sshd running a principals command at all (c vs a): %+.1f%% (means), %+.1f%% (medians)\n",
	    100 * ($7 / $1 - 1), 100 * ($8 / $2 - 1)
	printf "    and ephemeral-principals + pam_ephemeral beyond that (b - c): %+.1f%% (means), %+.1f%% (medians) of a\n",
	    100 * ($4 - $7) / $1, 100 * ($5 - $8) / $2 }'
echo "$sa $call_us ${pam_us:-}" | awk '{
	base = $1 * 1000
	printf "  one ephemeral-principals call: %.0f us, %.1f%% of the baseline login'"'"'s mean (sshd makes two per login)\n",
	    $4, 100 * $4 / base
	if ($5 != "") {
		printf "  one pam_ephemeral open + close (less pam_permit'"'"'s): %.0f us, %.1f%% of it\n", $5, 100 * $5 / base
		printf "  two calls and one open + close: %.1f%% of the baseline login\n", 100 * (2 * $4 + $5) / base
	}
}'
