#!/bin/sh
# The systemd units in packaging/systemd pass `systemd-analyze verify`
# (with ExecStart pointed at the built programs, without the man pages
# that come with the package), the services' `systemd-analyze security`
# exposure is at most 3.0 (of 10), and the cron.d file has one
# well-formed root line running the same command as the service. Skips
# (77) without systemd-analyze; the exposure part, too, with a
# systemd-analyze older than --offline (systemd 250).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KRLSYNC=${KRLSYNC:-$top/host/ephemeral-krl-sync}
SSHCA=${SSHCA:-$top/sshca/sshca}
# Tenths, as --threshold counts: 30 is an exposure of 3.0.
max_exposure=30
units="$top/packaging/systemd"
cron="$top/packaging/cron/ephemeral-krl-sync"

fail() { echo "FAIL: $*" >&2; exit 1; }

# cron: comments, variables, and exactly one job line as root.
jobs=$(grep -v -e '^#' -e '^$' -e '^[A-Z_]*=' "$cron")
[ "$(printf '%s\n' "$jobs" | wc -l)" = 1 ] || fail "cron: not one job line: $jobs"
set -f
# shellcheck disable=SC2086 # split the line into its fields
set -- $jobs
set +f
[ "$1 $2 $3 $4 $5 $6" = "* * * * * root" ] || fail "cron: not every minute as root: $jobs"
# The service's command, and --if-configured: the line is there from the
# install on, the timer only once the admin enables it.
printf '%s\n' "$jobs" | grep -q '/usr/sbin/ephemeral-krl-sync --if-configured --quiet$' ||
	fail "cron: not the service's command with --if-configured: $jobs"
grep -q '^ExecStart=/usr/sbin/ephemeral-krl-sync --quiet$' "$units/ephemeral-krl-sync.service" ||
	fail "the service's ExecStart changed: update the cron line with it"
grep -q '^ExecStart=/usr/sbin/sshca serve -f /etc/ephemeral/ca.conf$' "$units/sshca.service" ||
	fail "sshca.service: not sshca serve on /etc/ephemeral/ca.conf"

command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
[ -x "$KRLSYNC" ] || fail "no ephemeral-krl-sync at $KRLSYNC (build first)"
[ -x "$SSHCA" ] || fail "no sshca at $SSHCA (build first)"
tmp=$(mktemp -d /tmp/eph-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$units/ephemeral-krl-sync.service" "$units/ephemeral-krl-sync.timer" \
	"$units/sshca.service" "$tmp/"
sed -i "s|^ExecStart=/usr/sbin/ephemeral-krl-sync|ExecStart=$KRLSYNC|" \
	"$tmp/ephemeral-krl-sync.service"
sed -i "s|^ExecStart=/usr/sbin/sshca|ExecStart=$SSHCA|" "$tmp/sshca.service"
if ! systemd-analyze verify --man=no "$tmp/ephemeral-krl-sync.service" \
	"$tmp/ephemeral-krl-sync.timer" "$tmp/sshca.service" >"$tmp/out" 2>&1 ||
	[ -s "$tmp/out" ]; then
	fail "systemd-analyze verify: $(cat "$tmp/out")"
fi
echo "verify: OK"

if ! systemd-analyze security --help 2>/dev/null | grep -q -e '--offline'; then
	echo "skip: systemd-analyze security has no --offline (systemd 250 and later)"
	exit 77
fi
for u in sshca.service ephemeral-krl-sync.service; do
	st=0
	systemd-analyze security --offline=true --no-pager --threshold=$max_exposure \
		"$tmp/$u" >"$tmp/sec" 2>&1 || st=$?
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/sec")
	[ -n "$level" ] || fail "$u: no exposure level in: $(cat "$tmp/sec")"
	[ "$st" = 0 ] || fail "$u: exposure $level, over 3.0:
$(grep '✗' "$tmp/sec")"
	echo "$u: exposure $level"
done
echo OK
