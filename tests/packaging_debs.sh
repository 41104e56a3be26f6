#!/bin/sh
# The Debian packages end to end: packaging/build-deb from the committed
# tree, then into a fresh Debian 12 root (mmdebstrap) with their
# dependencies: the shipped CA config checks, nothing in sshd or PAM
# changes on install, ephemeral-setup enable puts the drop-in (sshd -t)
# and pam_ephemeral (common-session, ahead of sshd's pam_env) in place,
# the principals command passes sshd's ownership rules (a debug sshd in
# the root runs it as _ephprincipals for a certificate), the cron line
# does nothing until host.conf has a krl_url and then fetches the KRL, a
# reinstall changes nothing, an upgrade to a newer version keeps the
# administrator's conffiles, the key, the KRL and the state, remove
# takes the module out of PAM and sshd, and
# purge leaves only the system users behind. Skips (77) unless root
# with dpkg-buildpackage, dh and mmdebstrap. PACKAGING_DEBS_WORKTREE=1
# builds the files as they are instead of HEAD; PACKAGING_DEBS_PREBUILT=DIR
# takes .debs already built there; PACKAGING_DEBS_DEBUG=1 opens a shell
# in the root on a failure.
set -eu
[ -z "${EPH_IN_DEB_BUILD:-}" ] || { echo "skip: inside a package build"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for t in dpkg-buildpackage dh mmdebstrap; do
	command -v "$t" >/dev/null || { echo "skip: no $t (packaging/install-deps)"; exit 77; }
done
top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}

tmp=$(mktemp -d /var/tmp/packaging_debs.XXXXXX)
root=$tmp/root
sshd_pid=""
cleanup() {
	[ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null || true
	for m in "$root/proc" "$root"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	[ -z "${PACKAGING_DEBS_DEBUG:-}" ] || { echo "root left in $root; ^D to clean up" >&2; sh -i </dev/tty >/dev/tty 2>&1 || true; }
	exit 1
}
in_root() { chroot "$root" "$@"; }
step() { echo "== $*"; }

# shellcheck source=tests/packaging_lib.sh
. "$top/tests/packaging_lib.sh"
debs_build "$tmp/debs"
if command -v lintian >/dev/null; then
	step "lintian"
	# shellcheck disable=SC2086
	lintian --allow-root $debs >"$tmp/lintian" 2>&1 || true
	cat "$tmp/lintian"
	! grep -q '^E:' "$tmp/lintian" || fail "lintian errors"
fi

# Their dependencies go into the root first, so the file lists before
# install and after purge differ only by what the packages leave.
# shellcheck disable=SC2086
deps=$(debs_depends $debs)
step "mmdebstrap bookworm (+ $deps)"
mmdebstrap --quiet --variant=apt --include="$deps" bookworm "$root" >"$tmp/mmdebstrap.log" 2>&1 ||
	{ tail -n 30 "$tmp/mmdebstrap.log" >&2; fail "mmdebstrap"; }
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
# No service starts inside the root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/run/sshd"

listing() {
	in_root find / -xdev \( -path /proc -o -path /tmp -o -path /run -o -path /var/cache \
	    -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/log \
	    -o -path /usr/sbin/policy-rc.d \) -prune -o -print | LC_ALL=C sort
}
listing >"$tmp/before"
cp -p "$root/etc/pam.d/common-session" "$tmp/common-session.before"

step "apt-get install the three packages"
mkdir "$root/tmp/debs"
# shellcheck disable=SC2086
cp $debs "$root/tmp/debs/"
in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/debs/*.deb' \
	>"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "apt-get install"; }
for p in ephssh-ca ephssh-client libpam-ephemeral; do
	in_root dpkg-query -W -f='${Status}\n' "$p" | grep -q '^install ok installed$' || fail "$p not installed"
done

step "the CA: users, key, state, check-config"
in_root getent passwd _sshca >/dev/null || fail "no _sshca user"
in_root getent passwd _ephprincipals >/dev/null || fail "no _ephprincipals user"
[ "$(in_root stat -c '%U %a' /etc/ephemeral/ca_key)" = "root 600" ] || fail "ca_key owner/mode"
[ "$(in_root stat -c '%U %G %a' /var/lib/ephemeral/ca)" = "_sshca _sshca 750" ] || fail "/var/lib/ephemeral/ca: $(in_root stat -c '%U %G %a' /var/lib/ephemeral/ca)"
in_root sshca check-config -f /etc/ephemeral/ca.conf || fail "sshca check-config on the shipped config"
in_root sshca policy check /etc/ephemeral/policy.conf >/dev/null || fail "sshca policy check"
fp=$(in_root ssh-keygen -l -f /etc/ephemeral/ca_key.pub)
[ -f "$root/lib/systemd/system/sshca.service" ] || fail "no sshca.service"
! ls "$root"/etc/systemd/system/*/sshca.service >/dev/null 2>&1 || fail "sshca.service enabled on install"

step "the host: folders, KRL, nothing in sshd or PAM yet"
[ "$(in_root stat -c '%U %a' /var/lib/ephemeral)" = "root 755" ] || fail "/var/lib/ephemeral owner/mode"
[ "$(in_root stat -c '%U %G %a' /var/lib/ephemeral/spool)" = "_ephprincipals _ephprincipals 700" ] ||
	fail "spool owner/mode: $(in_root stat -c '%U %G %a' /var/lib/ephemeral/spool)"
in_root ssh-keygen -Q -f /var/lib/ephemeral/revoked.krl /etc/ephemeral/ca_key.pub >/dev/null ||
	fail "the empty KRL does not load in ssh-keygen -Q"
[ ! -e "$root/etc/ssh/sshd_config.d/ephemeral.conf" ] || fail "install wrote an sshd drop-in"
cmp -s "$root/etc/pam.d/common-session" "$tmp/common-session.before" || fail "install changed common-session"
[ -f "$root/lib/x86_64-linux-gnu/security/pam_ephemeral.so" ] || fail "module not beside pam_unix.so"
[ -f "$root/lib/x86_64-linux-gnu/security/pam_unix.so" ] || fail "pam_unix.so is not where we put ours"
[ -f "$root/lib/systemd/system/ephemeral-krl-sync.timer" ] || fail "no ephemeral-krl-sync.timer"
! ls "$root"/etc/systemd/system/*/ephemeral-krl-sync.* >/dev/null 2>&1 || fail "timer enabled on install"
if in_root ephemeral-setup enable >"$tmp/out" 2>&1; then fail "enable without a CA key"; fi

step "ephemeral-setup enable"
cp "$root/etc/ephemeral/ca_key.pub" "$root/etc/ephemeral/ca.pub"
in_root ephemeral-setup enable || fail "ephemeral-setup enable"
f=$root/etc/ssh/sshd_config.d/ephemeral.conf
[ -f "$f" ] || fail "no drop-in"
grep -qx 'AuthorizedPrincipalsCommandUser _ephprincipals' "$f" || fail "drop-in: $(cat "$f")"
in_root /usr/sbin/sshd -t || fail "sshd -t with the drop-in"
in_root /usr/sbin/sshd -T -C user=root,host=h,addr=127.0.0.1 | grep -qx 'exposeauthinfo yes' ||
	fail "sshd -T does not see ExposeAuthInfo"
in_root ephemeral-setup status || fail "status after enable"
# pam-auth-update --enable ephemeral (what enable ran) put the module
# into common-session, which sshd's own file includes before pam_env.
in_root pam-auth-update --enable ephemeral
cs=$root/etc/pam.d/common-session
grep -Eq '^session[[:space:]]+required[[:space:]]+pam_ephemeral\.so' "$cs" ||
	fail "pam_ephemeral not in common-session: $(cat "$cs")"
! grep -q pam_ephemeral "$root/etc/pam.d/common-session-noninteractive" ||
	fail "pam_ephemeral in common-session-noninteractive"
inc=$(grep -n '^@include common-session$' "$root/etc/pam.d/sshd" | head -n 1 | cut -d: -f1)
env=$(grep -n '^session.*pam_env\.so' "$root/etc/pam.d/sshd" | head -n 1 | cut -d: -f1)
[ -n "$inc" ] && [ -n "$env" ] && [ "$inc" -lt "$env" ] ||
	fail "sshd does not include common-session before pam_env (lines $inc, $env)"
# sshd's rules for AuthorizedPrincipalsCommand: the file and every folder
# above it root's and writable by nobody else.
p=/usr/libexec/ephemeral/ephemeral-principals
while :; do
	o=$(stat -L -c '%u %a' "$root$p")
	m=${o#* }
	[ "${o%% *}" = 0 ] || fail "$p is not root's"
	[ $((0$m & 022)) -eq 0 ] || fail "$p is writable by group or others ($m)"
	[ "$p" = / ] && break
	p=$(dirname "$p")
done
# And sshd itself: a debug sshd in the root on a loopback port, and a
# certificate login it hands to the installed principals command (which
# accepts nothing: host.conf has no task), so the refusal must come from
# the command's empty answer, not from sshd's ownership checks.
port=$(( (($$ % 20000) + 40000) ))
in_root ssh-keygen -q -t ed25519 -N '' -C testca -f /tmp/testca
in_root ssh-keygen -q -t ed25519 -N '' -f /tmp/user
in_root ssh-keygen -q -s /tmp/testca -I test -n root -V -5m:+5m /tmp/user.pub
cp "$root/etc/ephemeral/ca.pub" "$tmp/ca.pub.saved"
cp "$root/tmp/testca.pub" "$root/etc/ephemeral/ca.pub"
in_root /usr/sbin/sshd -d -e -p "$port" -o ListenAddress=127.0.0.1 >"$tmp/sshd.log" 2>&1 &
sshd_pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
	grep -q 'Server listening' "$tmp/sshd.log" && break
	sleep 0.5
done
in_root ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o IdentitiesOnly=yes -i /tmp/user -p "$port" root@127.0.0.1 true >"$tmp/ssh.log" 2>&1 &&
	fail "a certificate login for a task host.conf does not accept succeeded"
# sshd -d serves one connection and exits; if ssh never reached it, stop it.
sleep 0.5
kill "$sshd_pid" 2>/dev/null || true
wait "$sshd_pid" || true
sshd_pid=""
grep -q 'AuthorizedPrincipalsCommand' "$tmp/sshd.log" || { cat "$tmp/sshd.log" >&2; fail "sshd did not get to the principals command"; }
if grep -Eqi 'unsafe AuthorizedPrincipalsCommand|bad owner or modes' "$tmp/sshd.log"; then
	grep -Ei 'unsafe|bad owner' "$tmp/sshd.log" >&2
	fail "sshd refused the installed principals command's ownership"
fi
# It ran (refused: exit 1, EXIT_REFUSED) as _ephprincipals.
grep -q '^AuthorizedPrincipalsCommand /usr/libexec/ephemeral/ephemeral-principals .* failed, status 1' \
	"$tmp/sshd.log" || { cat "$tmp/sshd.log" >&2; fail "sshd did not run the principals command"; }
uid=$(in_root id -u _ephprincipals)
grep -q "temporarily_use_uid: $uid/" "$tmp/sshd.log" || fail "sshd did not switch to _ephprincipals ($uid)"
cp "$tmp/ca.pub.saved" "$root/etc/ephemeral/ca.pub"
rm -f "$root"/tmp/testca* "$root"/tmp/user*
# As sshd runs it: the AuthorizedPrincipalsCommandUser, a login that is
# no certificate of this CA: no principals, and no error.
out=$(in_root runuser -u _ephprincipals -- /usr/libexec/ephemeral/ephemeral-principals \
	-f /etc/ephemeral/host.conf root ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE 2>/dev/null) || true
[ -z "$out" ] || fail "ephemeral-principals printed principals: $out"

step "the cron line, as cron runs it"
# Where systemd does not run (this root has no /run/systemd/system). With
# the shipped host.conf (no krl_url) it does nothing and says nothing.
[ ! -d "$root/run/systemd/system" ] || fail "the root has /run/systemd/system"
job=$(sed -n 's/^\* \* \* \* \* root //p' "$root/etc/cron.d/ephemeral-krl-sync")
[ -n "$job" ] || fail "no job line in /etc/cron.d/ephemeral-krl-sync"
krl=$root/var/lib/ephemeral/revoked.krl
cp "$krl" "$tmp/krl.before"
out=$(in_root sh -c "$job" 2>&1) || fail "the cron line without krl_url failed: $out"
[ -z "$out" ] || fail "the cron line without krl_url said: $out"
cmp -s "$krl" "$tmp/krl.before" || fail "the cron line without krl_url changed the KRL"
# With krl_url (the admin's edit, kept across the upgrade below) it
# fetches: a KRL revoking serial 7 of the CA.
in_root sh -c 'echo "serial: 7" >/tmp/serials && ssh-keygen -q -k -f /tmp/ca.krl -s /etc/ephemeral/ca_key.pub -z 3 /tmp/serials'
sed -i 's|^# krl_url = .*|krl_url = "file:///tmp/ca.krl";|' "$root/etc/ephemeral/host.conf"
grep -q '^krl_url = "file:///tmp/ca.krl";' "$root/etc/ephemeral/host.conf" || fail "could not set krl_url"
out=$(in_root sh -c "$job" 2>&1) || fail "the cron line with krl_url failed: $out"
cmp -s "$krl" "$root/tmp/ca.krl" || fail "the cron line with krl_url did not fetch the KRL"
in_root ephemeral-setup status >"$tmp/out" || fail "status: $(cat "$tmp/out")"
grep -qx 'KRL sync: every minute (/etc/cron.d/ephemeral-krl-sync)' "$tmp/out" || fail "status: $(cat "$tmp/out")"

step "reinstall (postinst again)"
in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall /tmp/debs/*.deb' \
	>"$tmp/reinstall.log" 2>&1 || { cat "$tmp/reinstall.log" >&2; fail "reinstall"; }
[ "$(in_root ssh-keygen -l -f /etc/ephemeral/ca_key.pub)" = "$fp" ] || fail "reinstall changed the CA key"
grep -q pam_ephemeral "$cs" || fail "reinstall took pam_ephemeral out of common-session"
[ -f "$f" ] || fail "reinstall removed the drop-in"
in_root /usr/sbin/sshd -t || fail "sshd -t after reinstall"

step "upgrade to a newer version"
# The same packages at a higher version (repacked), over the installed
# ones with the administrator's edits: conffiles, key, KRL, state,
# sshd drop-in and PAM line are all kept, and the new version runs.
ver=$(in_root dpkg-query -W -f='${Version}' ephssh-ca)
new=$ver+up1
mkdir "$tmp/up" "$root/tmp/up"
# shellcheck disable=SC2086
for d in $debs; do
	x=$tmp/up/x
	rm -rf "$x"
	dpkg-deb -R "$d" "$x"
	sed -i "s/^Version: .*/Version: $new/" "$x/DEBIAN/control"
	dpkg-deb -b -Zxz "$x" "$root/tmp/up/" >/dev/null || fail "repacking $d"
done
echo '# the administrator was here' >>"$root/etc/ephemeral/ca.conf"
for c in ca.conf policy.conf host.conf; do cp "$root/etc/ephemeral/$c" "$tmp/$c.edited"; done
( cd "$root/var/lib/ephemeral" && find . -type f -exec sha256sum {} + | LC_ALL=C sort ) >"$tmp/state.before"
in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/up/*.deb' \
	>"$tmp/upgrade.log" 2>&1 || { cat "$tmp/upgrade.log" >&2; fail "upgrade"; }
for p in ephssh-ca ephssh-client libpam-ephemeral; do
	[ "$(in_root dpkg-query -W -f='${Version} ${Status}' "$p")" = "$new install ok installed" ] ||
		fail "$p after the upgrade: $(in_root dpkg-query -W -f='${Version} ${Status}' "$p")"
done
for c in ca.conf policy.conf host.conf; do
	cmp -s "$root/etc/ephemeral/$c" "$tmp/$c.edited" || fail "the upgrade changed the edited $c"
done
! ls "$root"/etc/ephemeral/*.dpkg-* >/dev/null 2>&1 || fail "the upgrade left $(ls "$root"/etc/ephemeral/*.dpkg-*)"
[ "$(in_root ssh-keygen -l -f /etc/ephemeral/ca_key.pub)" = "$fp" ] || fail "the upgrade changed the CA key"
( cd "$root/var/lib/ephemeral" && find . -type f -exec sha256sum {} + | LC_ALL=C sort ) >"$tmp/state.after"
diff "$tmp/state.before" "$tmp/state.after" >&2 || fail "the upgrade changed the state in /var/lib/ephemeral"
cmp -s "$krl" "$root/tmp/ca.krl" || fail "the upgrade replaced the fetched KRL"
[ "$(in_root stat -c '%U %G %a' /var/lib/ephemeral/ca)" = "_sshca _sshca 750" ] || fail "/var/lib/ephemeral/ca after the upgrade"
grep -q pam_ephemeral "$cs" || fail "the upgrade took pam_ephemeral out of common-session"
[ -f "$f" ] || fail "the upgrade removed the drop-in"
in_root /usr/sbin/sshd -t || fail "sshd -t after the upgrade"
in_root sshca check-config -f /etc/ephemeral/ca.conf >/dev/null || fail "check-config after the upgrade"
in_root ephemeral-setup status >/dev/null || fail "ephemeral-setup status after the upgrade"
rm -rf "$root/tmp/up" "$root"/tmp/ca.krl "$root/tmp/serials"

step "remove libpam-ephemeral"
in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q libpam-ephemeral' >"$tmp/remove.log" 2>&1 ||
	{ cat "$tmp/remove.log" >&2; fail "remove"; }
! grep -q pam_ephemeral "$cs" || fail "remove left pam_ephemeral in common-session"
[ ! -e "$f" ] || fail "remove left the sshd drop-in"
in_root /usr/sbin/sshd -t || fail "sshd -t after remove"
[ -f "$root/etc/ephemeral/host.conf" ] || fail "remove took the conffile"

step "purge"
rm -f "$root/etc/ephemeral/ca.pub" # the administrator's, not the package's
in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ephssh-ca ephssh-client libpam-ephemeral' \
	>"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; fail "purge"; }
rm -rf "$root/tmp/debs"
listing >"$tmp/after"
# Debian policy keeps system users: adduser's backups of the account
# files may appear; nothing else may differ.
diff "$tmp/before" "$tmp/after" | grep '^[<>]' | grep -Ev '^> /etc/(passwd|group|shadow|gshadow)-$' \
	>"$tmp/diff" || true
[ ! -s "$tmp/diff" ] || fail "purge left or took files: $(cat "$tmp/diff")"
cmp -s "$cs" "$tmp/common-session.before" || fail "common-session differs after purge"
in_root getent passwd _sshca >/dev/null || fail "purge removed the _sshca user (policy keeps it)"
echo "ok: packages build, install, enable, remove and purge cleanly"
