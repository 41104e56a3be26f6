#!/bin/sh
# The systemd units in packaging/systemd pass `systemd-analyze verify`
# (with ExecStart pointed at the built program, without the man pages that
# come with the package), and the cron.d file has one well-formed root
# line running the same command. Skips (77) without systemd-analyze.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KRLSYNC=${KRLSYNC:-$top/host/ephemeral-krl-sync}
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
printf '%s\n' "$jobs" | grep -q '/usr/sbin/ephemeral-krl-sync --quiet$' ||
	fail "cron: not the service's command: $jobs"
grep -q '^ExecStart=/usr/sbin/ephemeral-krl-sync --quiet$' "$units/ephemeral-krl-sync.service" ||
	fail "the service's ExecStart changed: update the cron line with it"

command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
[ -x "$KRLSYNC" ] || fail "no ephemeral-krl-sync at $KRLSYNC (build first)"
tmp=$(mktemp -d /tmp/eph-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$units/ephemeral-krl-sync.service" "$units/ephemeral-krl-sync.timer" "$tmp/"
sed -i "s|^ExecStart=/usr/sbin/ephemeral-krl-sync|ExecStart=$KRLSYNC|" \
	"$tmp/ephemeral-krl-sync.service"
if ! systemd-analyze verify --man=no "$tmp/ephemeral-krl-sync.service" \
	"$tmp/ephemeral-krl-sync.timer" >"$tmp/out" 2>&1 || [ -s "$tmp/out" ]; then
	fail "systemd-analyze verify: $(cat "$tmp/out")"
fi
echo OK
