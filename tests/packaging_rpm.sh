#!/bin/sh
# packaging/rpm/ephssh.spec really builds: the `make dist` tree of this
# build (make distdir into a temp dir, so nothing is written into the
# build or source tree: make distcheck's srcdir is read-only) is tarred
# into SOURCES, rpmbuild -bb makes the binary RPMs, and the test checks
# what they hold: exactly ephssh-ca, ephssh-client and pam_ephemeral at
# configure.ac's version; each package's exact file list (the Debian
# split: the CA, the client, the host side); %config(noreplace) on every
# file in /etc; owners and modes of the state directories; every manual
# the build installs ($MANPAGES) in exactly one package; the PAM module
# in %{_libdir}/security; the units and cron line naming /usr/sbin and
# /etc; the shipped host.conf accepting nothing; no build path in any
# packaged file or scriptlet; each scriptlet /bin/sh, free of unexpanded
# macros and passing sh -n, the %pre users made as intended (run against
# stubs of getent, groupadd and useradd); and the dependencies that keep
# the split (no CA libraries on hosts or clients). rpmbuild fails on an
# installed but unpackaged file (its default, kept on here).
# Skips (77) without rpmbuild, rpmspec or a payload unpacker (Debian:
# apt-get install rpm; packaging/install-deps), and inside a package
# build. Takes about half a minute on two cores: a full configure and
# make, without make check.
set -eu
[ -z "${EPH_IN_RPM_BUILD:-}${EPH_IN_DEB_BUILD:-}" ] || { echo "skip: inside a package build"; exit 77; }
for t in rpmbuild rpmspec rpm; do
	command -v "$t" >/dev/null || { echo "skip: no $t (apt-get install rpm; packaging/install-deps)"; exit 77; }
done
if command -v rpm2cpio >/dev/null && command -v cpio >/dev/null; then
	unpack() { rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames); }
elif command -v rpm2archive >/dev/null; then
	unpack() { rpm2archive - <"$1" | tar -xzf - -C "$2"; }
else
	echo "skip: neither rpm2cpio with cpio nor rpm2archive to unpack an RPM"
	exit 77
fi
top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# make check runs the tests in the top build directory.
builddir=${TOP_BUILDDIR:-$(pwd)}
spec=$top/packaging/rpm/ephssh.spec

fail() { echo "FAIL: $*" >&2; exit 1; }

[ -f "$spec" ] || fail "no $spec"
[ -f "$builddir/Makefile" ] || fail "no Makefile in $builddir: run it from the build directory (make check TESTS=tests/packaging_rpm.sh)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/eph-rpm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir "$tmp/home" "$tmp/tmp" "$tmp/top" "$tmp/top/SOURCES"
# Nothing of the caller's ~/.rpmmacros or ~/rpmbuild, nor of make
# check's environment (MAKEFLAGS with its jobserver and TESTS=, the
# tests' variables).
clean_env() {
	env -i PATH="$PATH" HOME="$tmp/home" TMPDIR="$tmp/tmp" LANG=C LC_ALL=C "$@"
}
rpmspec() { clean_env rpmspec --define "_topdir $tmp/top" "$@"; }

want=$(sed -n 's/^AC_INIT(\[ephssh\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[ -n "$want" ] || fail "no version in configure.ac's AC_INIT"

# ------------------------------------------------------------ the spec
rpmspec -P "$spec" >"$tmp/spec" 2>"$tmp/err" || fail "rpmspec -P: $(cat "$tmp/err")"
! grep -i 'error' "$tmp/err" || fail "rpmspec -P complained"
grep -q "^Source0: *ephssh-$want\\.tar\\.gz\$" "$tmp/spec" ||
	fail "Source0 is not the make dist tarball ephssh-$want.tar.gz"
# The check for installed but unpackaged files stays on.
! grep -n '_unpackaged_files_terminate_build\|_missing_doc_files_terminate_build' "$spec" ||
	fail "the spec turns off rpmbuild's unpackaged or missing file check"

# ------------------------------------------------------- make dist tree
dist=ephssh-$want
clean_env make -s -C "$builddir" distdir distdir="$tmp/$dist" >"$tmp/distdir.log" 2>&1 ||
	{ tail -n 30 "$tmp/distdir.log" >&2; fail "make distdir"; }
[ -f "$tmp/$dist/packaging/rpm/ephssh.spec" ] || fail "the make dist tree has no packaging/rpm/ephssh.spec"
cmp -s "$spec" "$tmp/$dist/packaging/rpm/ephssh.spec" || fail "the make dist tree's spec is not $spec"
(cd "$tmp" && tar -czf "top/SOURCES/$dist.tar.gz" "$dist") || fail "tar"
rm -rf "${tmp:?}/$dist"

# ------------------------------------------------------------- rpmbuild
# --nodeps: Debian's rpm database is empty, so no BuildRequires can be
# met there (the libraries come from the Debian -dev packages instead).
# --without check: make check is the project's own test run (and, as
# root, it would start sshds inside the build). The defines are what a
# RHEL build has too: its own _topdir, _tmppath and no source fetching;
# _buildhost as reproducible builds set it (without it rpmbuild looks
# the machine's name up, and warns on a new machine whose name does not
# resolve). Without the network where a network namespace can be had
# (root).
nonet=""
unshare -n true 2>/dev/null && nonet="unshare -n"
log=$tmp/rpmbuild.log
start=$(date +%s)
# shellcheck disable=SC2086
clean_env $nonet rpmbuild -bb --nodeps --without check \
	--define "_topdir $tmp/top" --define "_tmppath $tmp/tmp" \
	--define "_disable_source_fetch 1" --define "_buildhost localhost" \
	"$spec" >"$log" 2>&1 ||
	{ tail -n 40 "$log" >&2; fail "rpmbuild -bb (log above)"; }
echo "rpmbuild -bb: $(($(date +%s) - start)) s${nonet:+, without network}"
! grep -n '^warning:\|^error:' "$log" || fail "rpmbuild warned (above)"
buildroot=$(sed -n 's/^Checking for unpackaged file(s): [^ ]* //p' "$log" | head -n 1)
[ -n "$buildroot" ] || fail "no buildroot in the rpmbuild log"

# ------------------------------------------------------------ packages
pkgs="ephssh-ca ephssh-client pam_ephemeral"
# Debug packages are a distribution's (redhat-rpm-config), not the split.
find "$tmp/top/RPMS" -name '*.rpm' ! -name '*-debuginfo-*' ! -name '*-debugsource-*' |
	while read -r f; do rpm -qp --qf '%{NAME} %{VERSION}\n' "$f"; done | sort >"$tmp/pkgs"
for p in $pkgs; do echo "$p $want"; done | sort >"$tmp/want"
cmp -s "$tmp/pkgs" "$tmp/want" ||
	fail "packages and versions: got [$(tr '\n' ' ' <"$tmp/pkgs")], want [$(tr '\n' ' ' <"$tmp/want")] (configure.ac says $want)"
rpm_of() { find "$tmp/top/RPMS" -name "$1-$want-*.rpm" ! -name '*-debug*' | head -n 1; }

# Each package's files: the build-id links are rpm's, the manuals
# compressed or not as the distribution has it, the doc directory with
# or without the version (%_docdir_fmt).
libdir=$(clean_env rpm --eval '%{_libdir}')
case $(uname -m) in x86_64 | aarch64 | ppc64le | s390x) [ "$libdir" = /usr/lib64 ] || fail "%{_libdir} is $libdir, not RHEL's /usr/lib64" ;; esac
files_of() {
	rpm -qlp "$(rpm_of "$1")" | grep -v '^/usr/lib/\.build-id\(/\|$\)' |
		sed -e 's/\.\(gz\|bz2\|xz\|zst\)$//' -e "s|^/usr/share/doc/$1-$want|/usr/share/doc/$1|" | sort
}
want_ca="/etc/ephemeral
/etc/ephemeral/ca.conf
/etc/ephemeral/policy.conf
/usr/lib/systemd/system/sshca.service
/usr/sbin/sshca
/usr/share/doc/ephssh-ca
/usr/share/doc/ephssh-ca/README.md
/usr/share/doc/ephssh-ca/api.md
/usr/share/man/man5/ca.conf.5
/usr/share/man/man5/policy.conf.5
/usr/share/man/man8/sshca.8
/var/lib/ephemeral
/var/lib/ephemeral/ca"
want_client="/usr/bin/ephssh
/usr/share/doc/ephssh-client
/usr/share/doc/ephssh-client/README.md
/usr/share/man/man1/ephssh.1"
want_host="/etc/cron.d
/etc/cron.d/ephemeral-krl-sync
/etc/ephemeral
/etc/ephemeral/host.conf
/usr/lib/systemd/system/ephemeral-krl-sync.service
/usr/lib/systemd/system/ephemeral-krl-sync.timer
$libdir/security/pam_ephemeral.so
/usr/libexec/ephemeral
/usr/libexec/ephemeral/ephemeral-principals
/usr/libexec/ephemeral/ephemeral-watchdog
/usr/sbin/ephemeral-krl-sync
/usr/sbin/ephemeral-setup
/usr/share/doc/pam_ephemeral
/usr/share/doc/pam_ephemeral/README.md
/usr/share/man/man5/ephemeral-host.conf.5
/usr/share/man/man8/ephemeral-krl-sync.8
/usr/share/man/man8/ephemeral-principals.8
/usr/share/man/man8/ephemeral-setup.8
/usr/share/man/man8/pam_ephemeral.8
/var/lib/ephemeral
/var/lib/ephemeral/spool"
check_files() {
	files_of "$1" >"$tmp/got.$1"
	printf '%s\n' "$2" | sort >"$tmp/want.$1"
	diff -u "$tmp/want.$1" "$tmp/got.$1" >&2 || fail "$1's files are not the split's (- wanted, + packaged)"
}
check_files ephssh-ca "$want_ca"
check_files ephssh-client "$want_client"
check_files pam_ephemeral "$want_host"

# Modes, owners and flags: "MODE USER:GROUP f=FLAGS PATH".
attrs_of() {
	rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} f=%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$(rpm_of "$1")"
}
has_attr() {
	attrs_of "$1" | grep -q -- "$2" || fail "$1: no file line matching '$2' in: $(attrs_of "$1" | grep -v build-id)"
}
has_attr ephssh-ca '^drwxr-xr-x root:root f= /var/lib/ephemeral$'
has_attr ephssh-ca '^drwxr-x--- _sshca:_sshca f= /var/lib/ephemeral/ca$'
has_attr ephssh-ca '^-rwxr-xr-x root:root f= /usr/sbin/sshca$'
has_attr ephssh-client '^-rwxr-xr-x root:root f= /usr/bin/ephssh$'
has_attr pam_ephemeral '^drwxr-xr-x root:root f= /var/lib/ephemeral$'
has_attr pam_ephemeral '^drwx------ _ephprincipals:_ephprincipals f= /var/lib/ephemeral/spool$'
has_attr pam_ephemeral "^-rwxr-xr-x root:root f= $libdir/security/pam_ephemeral\\.so\$"
for p in $pkgs; do
	# Every file in /etc a %config(noreplace) (flags c and n).
	attrs_of "$p" | awk '$4 ~ "^/etc/" && $1 !~ /^d/ && !($3 ~ /c/ && $3 ~ /n/)' >"$tmp/noconf"
	[ ! -s "$tmp/noconf" ] || fail "$p: not %config(noreplace): $(cat "$tmp/noconf")"
	# Nothing set-id or writable by group or others (symlinks aside).
	attrs_of "$p" | awk '$1 !~ /^l/ && ($1 ~ /[sS]/ || substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w")' >"$tmp/modes"
	[ ! -s "$tmp/modes" ] || fail "$p: modes: $(cat "$tmp/modes")"
	attrs_of "$p" | awk '$4 ~ /^\/(usr|etc)\// && $2 != "root:root"' >"$tmp/owners"
	[ ! -s "$tmp/owners" ] || fail "$p: not root's: $(cat "$tmp/owners")"
done
has_attr ephssh-ca 'f=cn /etc/ephemeral/ca.conf$'
has_attr ephssh-ca 'f=cn /etc/ephemeral/policy.conf$'
has_attr pam_ephemeral 'f=cn /etc/ephemeral/host.conf$'
has_attr pam_ephemeral 'f=cn /etc/cron.d/ephemeral-krl-sync$'

# Every manual the build installs in exactly one package, and no other.
# shellcheck disable=SC2016
mans=${MANPAGES:-$(printf 'eph-print-man:\n\t@echo $(dist_man_MANS)\n' |
	clean_env make -s -C "$builddir" -f Makefile -f - eph-print-man)}
[ -n "$mans" ] || fail "no manuals (\$MANPAGES, dist_man_MANS)"
for p in $pkgs; do grep '^/usr/share/man/' "$tmp/got.$p" || true; done | sort >"$tmp/man.got"
for m in $mans; do
	b=$(basename "$m")
	echo "/usr/share/man/man${b##*.}/$b"
done | sort >"$tmp/man.want"
diff -u "$tmp/man.want" "$tmp/man.got" >&2 ||
	fail "the manuals the build installs are not each in exactly one package (- built, + packaged)"

# ------------------------------------------------------------- payloads
for p in $pkgs; do
	mkdir "$tmp/root.$p"
	unpack "$(rpm_of "$p")" "$tmp/root.$p" || fail "unpacking $p"
done
# No build path in any packaged file: the buildroot, rpmbuild's tree,
# this build and its sources.
for d in "$buildroot" "$tmp" "$builddir" "$top"; do
	if grep -rlF -- "$d" "$tmp"/root.* >"$tmp/leaks"; then
		fail "$d in packaged files: $(sed "s|^$tmp/root\\.||" "$tmp/leaks" | tr '\n' ' ')"
	fi
done
h=$tmp/root.pam_ephemeral
c=$tmp/root.ephssh-ca
grep -q '^ExecStart=/usr/sbin/sshca serve -f /etc/ephemeral/ca\.conf$' "$c/usr/lib/systemd/system/sshca.service" ||
	fail "sshca.service does not run /usr/sbin/sshca with /etc/ephemeral/ca.conf"
grep -q '^ExecStart=/usr/sbin/ephemeral-krl-sync ' "$h/usr/lib/systemd/system/ephemeral-krl-sync.service" ||
	fail "ephemeral-krl-sync.service does not run /usr/sbin/ephemeral-krl-sync"
grep -q '^WantedBy=timers\.target$' "$h/usr/lib/systemd/system/ephemeral-krl-sync.timer" ||
	fail "ephemeral-krl-sync.timer is not wanted by timers.target"
grep -q '^\* \* \* \* \* root .* /usr/sbin/ephemeral-krl-sync --if-configured --quiet$' "$h/etc/cron.d/ephemeral-krl-sync" ||
	fail "the cron line does not run /usr/sbin/ephemeral-krl-sync"
# The shipped host.conf accepts nothing until the administrator edits it
# (the Debian package's), with RHEL's steps.
grep -q '^accept = ( );$' "$h/etc/ephemeral/host.conf" || fail "the packaged host.conf accepts tasks"
! grep -n 'reload ssh$\|enables pam_ephemeral' "$h/etc/ephemeral/host.conf" ||
	fail "the packaged host.conf has Debian's steps"
grep -q '^ca_key = "/etc/ephemeral/ca_key";$' "$c/etc/ephemeral/ca.conf" ||
	fail "the packaged ca.conf names another ca_key than the one %post ca makes"
head -c 4 "$h$libdir/security/pam_ephemeral.so" | grep -q 'ELF' || fail "pam_ephemeral.so is no ELF file"
sh -n "$h/usr/sbin/ephemeral-setup" || fail "ephemeral-setup: sh -n"

# ----------------------------------------------------------- scriptlets
# PREIN etc.: the scriptlet's text, "(none)" for none.
for p in $pkgs; do
	for s in PREIN POSTIN PREUN POSTUN PRETRANS POSTTRANS VERIFYSCRIPT; do
		rpm -qp --qf "%{$s}" "$(rpm_of "$p")" >"$tmp/$p.$s"
		if [ "$(cat "$tmp/$p.$s")" = "(none)" ]; then
			rm -f "$tmp/$p.$s"
			continue
		fi
		prog=$(rpm -qp --qf "%{${s}PROG}" "$(rpm_of "$p")")
		[ "$prog" = /bin/sh ] || fail "$p $s runs in '$prog', not /bin/sh"
		sh -n "$tmp/$p.$s" || fail "$p $s: sh -n"
		! grep -n '%[{(a-zA-Z_]' "$tmp/$p.$s" || fail "$p $s: an unexpanded macro (above)"
		for d in "$buildroot" "$tmp" "$builddir" "$top"; do
			! grep -qF -- "$d" "$tmp/$p.$s" || fail "$p $s names $d"
		done
	done
done
script_has() {
	[ -f "$tmp/$1.$2" ] || fail "$1 has no $2 scriptlet"
	grep -q -- "$3" "$tmp/$1.$2" || fail "$1 $2 lacks '$3': $(cat "$tmp/$1.$2")"
}
script_has ephssh-ca POSTIN '/usr/sbin/sshca init --key /etc/ephemeral/ca_key'
script_has ephssh-ca PREUN 'sshca\.service'
script_has ephssh-ca POSTUN 'sshca\.service'
script_has pam_ephemeral POSTIN '/usr/sbin/ephemeral-krl-sync -f /etc/ephemeral/host\.conf --init'
script_has pam_ephemeral PREUN 'ephemeral-krl-sync\.timer'
script_has pam_ephemeral POSTUN 'ephemeral-krl-sync\.timer'
for f in "$tmp"/ephssh-client.*; do
	[ ! -e "$f" ] || fail "ephssh-client has scriptlets: ${f##*.}"
done
# Each %pre against stubs: a first install makes the group and the
# system user as intended, and one where they exist touches nothing.
mkdir "$tmp/stubs"
for t in getent groupadd useradd; do
	# shellcheck disable=SC2016
	printf '#!/bin/sh\necho "%s $*" >>"$STUB_LOG"\n[ "%s" != getent ] || [ -n "$STUB_EXIST" ]\n' "$t" "$t" >"$tmp/stubs/$t"
	chmod 0755 "$tmp/stubs/$t"
done
run_pre() {
	: >"$tmp/stub.log"
	env -i PATH="$tmp/stubs:/usr/bin:/bin" STUB_LOG="$tmp/stub.log" STUB_EXIST="$3" \
		sh "$tmp/$1.PREIN" "$2" >/dev/null 2>&1 || fail "$1 PREIN $2 exits non-zero"
}
check_pre() { # package user home
	run_pre "$1" 1 ""
	grep -q "^groupadd -r $2\$" "$tmp/stub.log" || fail "$1 %pre: no groupadd -r $2: $(cat "$tmp/stub.log")"
	grep -q "^useradd -r -g $2 -d $3 -s /sbin/nologin -c .* $2\$" "$tmp/stub.log" ||
		fail "$1 %pre: not useradd -r -g $2 -d $3 -s /sbin/nologin: $(cat "$tmp/stub.log")"
	run_pre "$1" 2 yes
	! grep -q '^\(groupadd\|useradd\)' "$tmp/stub.log" || fail "$1 %pre remakes existing users: $(cat "$tmp/stub.log")"
}
check_pre ephssh-ca _sshca /var/lib/ephemeral/ca
check_pre pam_ephemeral _ephprincipals /

# --------------------------------------------------------- dependencies
reqs() { rpm -qp --requires "$(rpm_of "$1")" | sed 's/ .*//' | sort -u; }
requires() { reqs "$1" | grep -q -- "$2" || fail "$1 does not require $2: $(reqs "$1" | tr '\n' ' ')"; }
not_requires() { ! reqs "$1" | grep -- "$2" || fail "$1 requires $2"; }
requires ephssh-ca '^shadow-utils$'
requires ephssh-ca '^libmicrohttpd\.so'
requires ephssh-ca '^libsqlite3\.so'
requires ephssh-client '^openssh-clients$'
requires pam_ephemeral '^openssh-server$'
requires pam_ephemeral '^shadow-utils$'
requires pam_ephemeral '^libpam\.so'
requires pam_ephemeral '^libcurl\.so'
for p in ephssh-client pam_ephemeral; do
	not_requires "$p" '^libmicrohttpd\.so\|^libsqlite3\.so\|^libpq\.so'
done
not_requires ephssh-client '^libpam\.so'
rpm -qp --provides "$(rpm_of pam_ephemeral)" | grep -q "^ephssh-host = $want-" ||
	fail "pam_ephemeral does not provide ephssh-host = $want"

echo "ok: ephssh.spec $want built: $(for p in $pkgs; do basename "$(rpm_of "$p")"; done | tr '\n' ' ')"
