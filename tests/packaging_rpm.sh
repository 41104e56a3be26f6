#!/bin/sh
# packaging/rpm/ephssh.spec parses (rpmspec -P), builds exactly the three
# packages of the Debian split at configure.ac's version from the
# `make dist` tarball, ships each config file as %config(noreplace), and
# installs every manual the build installs ($MANPAGES). Skips (77)
# without rpmspec (Debian: apt-get install rpm; packaging/install-deps).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
spec=$top/packaging/rpm/ephssh.spec

fail() { echo "FAIL: $*" >&2; exit 1; }

command -v rpmspec >/dev/null || { echo "skip: no rpmspec"; exit 77; }
[ -f "$spec" ] || fail "no $spec"
tmp=$(mktemp -d /tmp/eph-rpm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Nothing of the caller's ~/.rpmmacros or ~/rpmbuild.
rpmspec() { HOME=$tmp command rpmspec --define "_topdir $tmp" "$@"; }

want=$(sed -n 's/^AC_INIT(\[ephssh\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[ -n "$want" ] || fail "no version in configure.ac's AC_INIT"

rpmspec -P "$spec" >"$tmp/spec" 2>"$tmp/err" || fail "rpmspec -P: $(cat "$tmp/err")"
! grep -i 'error' "$tmp/err" || fail "rpmspec -P complained"

rpmspec -q --builtrpms --qf '%{name} %{version}\n' "$spec" 2>"$tmp/err" | sort >"$tmp/pkgs" ||
	fail "rpmspec -q: $(cat "$tmp/err")"
printf '%s\n' "ephssh-ca $want" "ephssh-client $want" "pam_ephemeral $want" | sort >"$tmp/want"
cmp -s "$tmp/pkgs" "$tmp/want" ||
	fail "packages and versions: got [$(tr '\n' ' ' <"$tmp/pkgs")], want [$(tr '\n' ' ' <"$tmp/want")] (configure.ac says $want)"

grep -q "^Source0: *ephssh-$want\\.tar\\.gz\$" "$tmp/spec" ||
	fail "Source0 is not the make dist tarball ephssh-$want.tar.gz"

# The lines of one %files section of the preprocessed spec.
files_of() {
	awk -v want="$1" '
		/^%files/ { on = ($0 ~ "^%files +" want "( |$)") ; next }
		/^%(changelog|pre|post|preun|postun|check|install|build|prep|package|description)( |$)/ { on = 0 }
		on' "$tmp/spec"
}
has() {
	files_of "$1" | grep -q -- "$2" || fail "%files $1 lacks $2"
}
has ca '^/usr/sbin/sshca$'
has ca '^%config(noreplace) /etc/ephemeral/ca.conf$'
has ca '^%config(noreplace) /etc/ephemeral/policy.conf$'
has ca '_sshca.*/var/lib/ephemeral/ca$'
has client '^/usr/bin/ephssh$'
has '-n pam_ephemeral' '/security/pam_ephemeral\.so$'
has '-n pam_ephemeral' '^/usr/libexec/ephemeral/ephemeral-principals$'
has '-n pam_ephemeral' '^/usr/libexec/ephemeral/ephemeral-watchdog$'
has '-n pam_ephemeral' '^/usr/sbin/ephemeral-krl-sync$'
has '-n pam_ephemeral' 'systemd/system/ephemeral-krl-sync\.timer$'
has '-n pam_ephemeral' '^%config(noreplace) /etc/ephemeral/host.conf$'
grep -q 'useradd .*_sshca' "$tmp/spec" || fail "ephssh-ca does not make the _sshca user"

# Every installed manual is in some package.
for m in ${MANPAGES:-}; do
	b=$(basename "$m")
	grep -q "/man${b##*.}/$b\*\$" "$tmp/spec" || fail "no package installs the manual $m"
done
echo "ok: ephssh.spec $want: $(tr '\n' ' ' <"$tmp/pkgs")"
