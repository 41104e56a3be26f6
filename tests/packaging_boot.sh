#!/bin/sh
# The Debian packages under a real systemd: packaging/build-deb, a fresh
# Debian 12 root (mmdebstrap) with systemd and the packages' dependencies,
# booted with systemd as PID 1 by systemd-nspawn (its own network
# namespace: loopback only), and in it: apt-get installs the three
# packages (nothing started or enabled), the shipped CA config with a TLS
# listener on 127.0.0.1:443 (below 1024: CAP_NET_BIND_SERVICE), then
# `systemctl start sshca` reaches READY; the network side runs as _sshca
# and the signer as root, both with no capabilities, NoNewPrivs and a
# seccomp filter; the file system is read-only outside ReadWritePaths
# and the CA key unreadable as _sshca; the API answers on the socket and
# over TLS; ephemeral-krl-sync.service fetches the KRL over https (the
# TLS certificate in the root's trust store) and the timer is enabled;
# `systemctl reload sshca` reloads the policy (a broken one keeps the
# old); the journal has the start and reload records; `systemctl stop`
# ends it cleanly. The container, its cgroups and the temp dir go on
# every exit. Skips (77) unless root with dpkg-buildpackage, dh,
# mmdebstrap, systemd-nspawn and nsenter. PACKAGING_DEBS_WORKTREE=1 and
# PACKAGING_DEBS_PREBUILT=DIR as in tests/packaging_debs.sh;
# PACKAGING_BOOT_DEBUG=1 opens a shell on a failure with the container
# still running (enter it with the nsenter line printed).
set -eu
[ -z "${EPH_IN_DEB_BUILD:-}" ] || { echo "skip: inside a package build"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
tools="mmdebstrap systemd-nspawn nsenter"
[ -n "${PACKAGING_DEBS_PREBUILT:-}" ] || tools="dpkg-buildpackage dh $tools"
for t in $tools; do
	command -v "$t" >/dev/null || { echo "skip: no $t (packaging/install-deps)"; exit 77; }
done
top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}

tmp=$(mktemp -d /var/tmp/packaging_boot.XXXXXX)
root=$tmp/root
machine=ephboot-$$
nspawn_pid=""
leader=""
# Without systemd as the host's PID 1 there is no unit to put the
# container in (--keep-unit): nspawn runs in a cgroup of its own below
# ours, in each hierarchy systemd uses, which also finds every process
# it left at the end.
cgroups=""
cleanup() {
	set +e
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		[ -z "$leader" ] || in_ct systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 40); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
		# nspawn turns SIGTERM into the container's orderly shutdown.
		kill -0 "$nspawn_pid" 2>/dev/null && kill -TERM "$nspawn_pid"
		for _ in $(seq 20); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
		[ -z "$leader" ] || kill -KILL "$leader" 2>/dev/null
		kill -KILL "$nspawn_pid" 2>/dev/null
	fi
	[ -z "$nspawn_pid" ] || wait "$nspawn_pid" 2>/dev/null
	for cg in $cgroups; do
		[ -d "$cg" ] || continue
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
			[ -n "$pids" ] || break
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null
			sleep 0.2
		done
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		[ ! -d "$cg" ] || echo "packaging_boot: could not remove the cgroup $cg" >&2
	done
	# nspawn leaves this behind when /run is no tmpfs.
	rm -rf "/run/systemd/nspawn/propagate/$machine"
	findmnt -rn -o TARGET | grep -F "$tmp" | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*" >&2
	if [ -n "$leader" ] && [ -z "${no_ct_log:-}" ]; then
		no_ct_log=1
		echo "--- systemctl status sshca ephemeral-krl-sync.service" >&2
		in_ct systemctl --no-pager status sshca ephemeral-krl-sync.service >&2 2>&1 || true
		echo "--- journalctl -u sshca -u ephemeral-krl-sync (last 40)" >&2
		in_ct journalctl --no-pager -n 40 -u sshca -u ephemeral-krl-sync >&2 2>&1 || true
	fi
	if [ -n "${PACKAGING_BOOT_DEBUG:-}" ]; then
		echo "container running; enter with: nsenter -t $leader -a -r -w; ^D here to clean up" >&2
		sh -i </dev/tty >/dev/tty 2>&1 || true
	fi
	exit 1
}
# A command in the booted container: all its namespaces, its root and
# working directory (-r -w: entering the mount namespace alone gives that
# namespace's first root, which is the host's when the test itself runs
# in a chroot), a clean environment, and a bound on its time.
in_ct() {
	timeout 90 nsenter -t "$leader" -a -r -w env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
step() { echo "== $*"; }

# shellcheck source=tests/packaging_lib.sh
. "$top/tests/packaging_lib.sh"
debs_build "$tmp/debs.all"
# The three alone, for the container (build-deb leaves more files).
mkdir "$tmp/debs"
# shellcheck disable=SC2086
cp $debs "$tmp/debs/"

# Their dependencies, systemd as init, curl to ask the API, and
# ca-certificates for the trust store krl-sync's https uses.
deps=$(debs_depends "$tmp"/debs/*.deb),systemd,systemd-sysv,dbus,curl,ca-certificates
step "mmdebstrap bookworm (+ $deps)"
mmdebstrap --quiet --variant=apt --include="$deps" bookworm "$root" >"$tmp/mmdebstrap.log" 2>&1 ||
	{ tail -n 30 "$tmp/mmdebstrap.log" >&2; fail "mmdebstrap"; }
# The container's sshd has no part here.
ln -sf /dev/null "$root/etc/systemd/system/ssh.service"

step "boot the root (systemd-nspawn --boot)"
keep=""
if [ ! -d /run/systemd/system ]; then
	keep=--keep-unit
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		p=$(sed -n 's/^0:://p' /proc/self/cgroup)
		cgroups=/sys/fs/cgroup${p%/}
	else
		for h in systemd unified; do
			[ -d "/sys/fs/cgroup/$h" ] || continue
			case $h in
			systemd) p=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup) ;;
			*) p=$(sed -n 's/^0:://p' /proc/self/cgroup) ;;
			esac
			cgroups="$cgroups /sys/fs/cgroup/$h${p%/}"
		done
	fi
	[ -n "$cgroups" ] || fail "no systemd cgroup hierarchy under /sys/fs/cgroup"
	c=""
	for cg in $cgroups; do
		mkdir "$cg/$machine" || fail "mkdir $cg/$machine"
		c="$c $cg/$machine"
	done
	cgroups=$c
fi
# shellcheck disable=SC2016 # $$ of the inner sh: nspawn itself
sh -c 'for cg in $1; do echo $$ >"$cg/cgroup.procs" || exit 1; done; shift
	exec systemd-nspawn "$@"' nspawn "$cgroups" \
	--quiet --boot --register=no $keep --private-network --console=pipe \
	--bind-ro="$tmp/debs:/mnt/debs" -M "$machine" -D "$root" \
	</dev/null >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!
# Its child in another PID namespace is the container's init.
pidns=$(readlink /proc/self/ns/pid)
for _ in $(seq 100); do
	for c in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
		[ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" != "$pidns" ] && leader=$c
	done
	[ -n "$leader" ] && break
	kill -0 "$nspawn_pid" 2>/dev/null || { cat "$tmp/nspawn.log" >&2; fail "systemd-nspawn exited"; }
	sleep 0.1
done
[ -n "$leader" ] || { cat "$tmp/nspawn.log" >&2; fail "no container init"; }
state=""
for _ in $(seq 120); do
	state=$(in_ct systemctl is-system-running 2>/dev/null) || true
	case $state in running | degraded) break ;; esac
	kill -0 "$nspawn_pid" 2>/dev/null || { cat "$tmp/nspawn.log" >&2; fail "the container stopped"; }
	sleep 0.5
done
case $state in
running) ;;
degraded) in_ct systemctl --no-pager --failed || true ;; # not ours: nothing of ours is enabled
*) cat "$tmp/nspawn.log" >&2; fail "the container did not boot (state: ${state:-none})" ;;
esac
[ "$(in_ct readlink /proc/1/exe)" = /usr/lib/systemd/systemd ] || fail "PID 1 is not systemd"
echo "booted: $(in_ct systemd-analyze 2>/dev/null | head -n 1)"

step "apt-get install the three packages under systemd"
in_ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /mnt/debs/*.deb' \
	>"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "apt-get install"; }
for u in sshca.service ephemeral-krl-sync.timer ephemeral-krl-sync.service; do
	[ "$(in_ct systemctl is-active "$u")" = inactive ] || fail "$u started on install"
done
[ "$(in_ct systemctl is-enabled sshca.service)" = disabled ] || fail "sshca.service enabled on install"
[ "$(in_ct systemctl is-enabled ephemeral-krl-sync.timer)" = disabled ] || fail "the timer enabled on install"

step "configure the CA: the shipped ca.conf and policy, a TLS listener on 127.0.0.1:443"
in_ct openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout /etc/ephemeral/tls.key -out /etc/ephemeral/tls.crt >"$tmp/openssl.log" 2>&1 ||
	{ cat "$tmp/openssl.log" >&2; fail "openssl req"; }
in_ct chmod 0600 /etc/ephemeral/tls.key
in_ct chmod 0644 /etc/ephemeral/tls.crt
cat >>"$root/etc/ephemeral/ca.conf" <<'EOF'
tls = { listen = "127.0.0.1:443"; certificate = "/etc/ephemeral/tls.crt"; key = "/etc/ephemeral/tls.key"; };
EOF
in_ct sshca check-config -f /etc/ephemeral/ca.conf >"$tmp/check-config.log" 2>&1 ||
	{ cat "$tmp/check-config.log" >&2; fail "sshca check-config"; }
# The host side of the same machine trusts it and fetches the KRL there.
in_ct cp /etc/ephemeral/tls.crt /usr/local/share/ca-certificates/ephssh-test.crt
in_ct update-ca-certificates >/dev/null 2>&1 || fail "update-ca-certificates"
echo 'krl_url = "https://127.0.0.1/v1/krl";' >>"$root/etc/ephemeral/host.conf"

step "systemctl start sshca (Type=notify)"
in_ct systemctl start sshca || fail "systemctl start sshca"
[ "$(in_ct systemctl is-active sshca)" = active ] || fail "sshca is not active"
[ "$(in_ct systemctl show -p StatusText --value sshca)" = serving ] ||
	fail "no READY status: $(in_ct systemctl show -p StatusText --value sshca)"
main=$(in_ct systemctl show -p MainPID --value sshca)
case $main in '' | 0) fail "no MainPID" ;; esac
cgpath=$(in_ct systemctl show -p ControlGroup --value sshca)
procs=""
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
	procs=$(in_ct cat "$h$cgpath/cgroup.procs" 2>/dev/null) && [ -n "$procs" ] && break
done
[ "$(echo "$procs" | wc -w)" = 2 ] || fail "sshca.service has not two processes: $procs"

step "the sandbox: users, capabilities, NoNewPrivs, seccomp, read-only file system"
uid=$(in_ct id -u _sshca)
gid=$(in_ct id -g _sshca)
status() { in_ct sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '[:space:]' ' ' | sed 's/ $//'; }
[ "$(status "$main" Uid)" = "$uid $uid $uid $uid" ] || fail "the network side's uids: $(status "$main" Uid)"
[ "$(status "$main" Gid)" = "$gid $gid $gid $gid" ] || fail "the network side's gids: $(status "$main" Gid)"
signer=""
for p in $procs; do
	# CapBnd too: both empty their bounding set before they serve.
	for f in CapEff CapPrm CapAmb CapBnd; do
		[ "$(status "$p" $f)" = 0000000000000000 ] || fail "pid $p: $f $(status "$p" $f)"
	done
	[ "$(status "$p" NoNewPrivs)" = 1 ] || fail "pid $p: NoNewPrivs $(status "$p" NoNewPrivs)"
	[ "$(status "$p" Seccomp)" = 2 ] || fail "pid $p: no seccomp filter"
	[ "$p" = "$main" ] || signer=$p
done
[ "$(status "$signer" Uid)" = "0 0 0 0" ] || fail "the signer's uids: $(status "$signer" Uid)"
# In the service's mount namespace: ProtectSystem=strict, ReadWritePaths.
if in_ct nsenter -t "$main" -m -r -w sh -c 'echo x >/etc/ephemeral/.w' 2>/dev/null; then
	fail "the service may write /etc/ephemeral"
fi
if in_ct nsenter -t "$main" -m -r -w sh -c 'echo x >/var/lib/ephemeral/.w' 2>/dev/null; then
	fail "the service may write /var/lib/ephemeral (not in ReadWritePaths)"
fi
in_ct nsenter -t "$main" -m -r -w sh -c 'echo x >/var/lib/ephemeral/ca/.w && rm /var/lib/ephemeral/ca/.w' ||
	fail "the service may not write its ReadWritePaths /var/lib/ephemeral/ca"
if in_ct nsenter -t "$main" -m -r -w -S "$uid" -G "$gid" cat /etc/ephemeral/ca_key >/dev/null 2>&1; then
	fail "the CA user can read the CA key"
fi

step "the API: the socket and TLS on 127.0.0.1:443"
h=$(in_ct curl -sS --max-time 10 --unix-socket /run/ephemeral/sshca.sock http://localhost/v1/healthz) ||
	fail "GET /v1/healthz on the socket"
[ "$h" = '{"status":"ok"}' ] || fail "healthz: $h"
pub=$(in_ct curl -sS --max-time 10 https://127.0.0.1/v1/ca.pub) || fail "GET /v1/ca.pub over TLS"
[ "$(echo "$pub" | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$root/etc/ephemeral/ca_key.pub")" ] ||
	fail "ca.pub over TLS is not the CA key: $pub"
in_ct curl -sS --max-time 10 -o /tmp/krl https://127.0.0.1/v1/krl || fail "GET /v1/krl over TLS"

step "ephemeral-krl-sync.service and the timer"
in_ct systemctl start ephemeral-krl-sync.service ||
	fail "systemctl start ephemeral-krl-sync.service"
[ "$(in_ct systemctl show -p Result --value ephemeral-krl-sync.service)" = success ] ||
	fail "ephemeral-krl-sync.service: $(in_ct systemctl show -p Result --value ephemeral-krl-sync.service)"
cmp -s "$root/var/lib/ephemeral/revoked.krl" "$root/var/lib/ephemeral/ca/revoked.krl" ||
	fail "the host's KRL is not the CA's"
[ "$(in_ct stat -c '%U %a' /var/lib/ephemeral/revoked.krl)" = "root 644" ] || fail "the KRL's owner or mode"
in_ct systemctl enable --now ephemeral-krl-sync.timer >/dev/null 2>&1 || fail "enable --now the timer"
[ "$(in_ct systemctl is-active ephemeral-krl-sync.timer)" = active ] || fail "the timer is not active"
[ "$(in_ct systemctl is-enabled ephemeral-krl-sync.timer)" = enabled ] || fail "the timer is not enabled"

# journald takes the records asynchronously: wait for one.
journal_has() {
	for _ in $(seq 20); do
		in_ct journalctl --no-pager -o cat -u "$1" | grep -Fq "$2" && return 0
		sleep 0.25
	done
	return 1
}

step "systemctl reload sshca (SIGHUP: the policy)"
in_ct systemctl reload sshca || fail "systemctl reload sshca"
journal_has sshca "/etc/ephemeral/policy.conf: reloaded (generation 2)" || fail "no reload record"
[ "$(in_ct systemctl show -p MainPID --value sshca)" = "$main" ] || fail "reload restarted the daemon"
cp "$root/etc/ephemeral/policy.conf" "$tmp/policy.conf"
echo 'tasks = (' >>"$root/etc/ephemeral/policy.conf"
in_ct systemctl reload sshca || fail "systemctl reload sshca (a broken policy)"
journal_has sshca "not reloaded (malformed data); the old policy stays in force" ||
	fail "no record of the refused policy"
[ "$(in_ct systemctl is-active sshca)" = active ] || fail "a broken policy stopped sshca"
cp "$tmp/policy.conf" "$root/etc/ephemeral/policy.conf"

step "the journal"
journal_has sshca "serving on /run/ephemeral/sshca.sock and 127.0.0.1:443 as _sshca (pid $main)" ||
	fail "no startup record in journalctl -u sshca"
journal_has ephemeral-krl-sync "/var/lib/ephemeral/revoked.krl: KRL version 1, was 0" ||
	fail "no KRL record in journalctl -u ephemeral-krl-sync"
# Each event once (no syslog(3) or stderr copy beside the record), as
# LOG_AUTHPRIV, and the KRL record's MESSAGE carries its facts for syslog.
n=$(in_ct journalctl --no-pager -o cat -u sshca | grep -c "serving on /run/ephemeral/sshca.sock") || true
[ "$n" = 1 ] || fail "the startup record is in the journal $n times"
n=$(in_ct journalctl --no-pager -o cat -u sshca SYSLOG_FACILITY=10 | grep -c "serving on /run/ephemeral/sshca.sock") || true
[ "$n" = 1 ] || fail "the startup record is not LOG_AUTHPRIV"
n=$(in_ct journalctl --no-pager -o cat -u ephemeral-krl-sync | grep -c "KRL version 1, was 0") || true
[ "$n" = 1 ] || fail "the KRL record is in the journal $n times"
in_ct journalctl --no-pager -o cat -u ephemeral-krl-sync | grep "KRL version 1, was 0" |
	grep -q 'EPH_KRL_FILE=/var/lib/ephemeral/revoked.krl' || fail "the KRL record's MESSAGE lacks its facts"
if in_ct journalctl --no-pager -o cat -u sshca | grep -E 'MHD_OPTION|standard MHD logger' >&2; then
	fail "libmicrohttpd warns in the journal"
fi

step "systemctl stop sshca"
in_ct systemctl stop sshca || fail "systemctl stop sshca"
[ "$(in_ct systemctl is-active sshca)" = inactive ] || fail "sshca is not inactive after stop"
[ "$(in_ct systemctl show -p Result --value sshca)" = success ] ||
	fail "sshca stopped with $(in_ct systemctl show -p Result --value sshca)"
journal_has sshca "SIGTERM: stopping" || fail "no stop record"
for p in $procs; do
	! in_ct test -d "/proc/$p" || fail "pid $p outlived the stop"
done
! in_ct test -e /run/ephemeral || fail "/run/ephemeral outlived the stop"

step "shut the container down"
in_ct systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
! kill -0 "$nspawn_pid" 2>/dev/null || fail "the container did not power off"
wait "$nspawn_pid" || true
nspawn_pid=""
leader=""
echo "ok: sshca and ephemeral-krl-sync start, sandboxed, reload and stop under systemd as PID 1"
