#!/bin/sh
# make bench: certificate signing speed of libephcore as ratios against
# references measured in the same run: raw Ed25519 signing in the same
# process, `openssl speed ed25519`, and one `ssh-keygen -s` per
# certificate. Reports; never fails on a time.
set -eu
builddir=${1:-.}
N=${BENCH_CERTS:-20000}
KEYGEN_RUNS=${BENCH_KEYGEN_RUNS:-50}

out=$("$builddir/bench/bench_sign" "$N")
lib=$(echo "$out" | awk '$1 == "lib_certs_per_sec" { print $2 }')
raw=$(echo "$out" | awk '$1 == "raw_ed25519_signs_per_sec" { print $2 }')

ossl=""
if command -v openssl >/dev/null 2>&1; then
	# "ed25519 ... sign/s verify/s" table: sign/s is the 4th column.
	ossl=$(openssl speed -seconds 2 ed25519 2>/dev/null |
		awk '/^ *253 bits EdDSA \(Ed25519\)/ { print $(NF-1) }' | head -n1)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
keygen_per_cert=""
if command -v ssh-keygen >/dev/null 2>&1; then
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/ca"
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/user"
	start=$(date +%s.%N)
	i=0
	while [ $i -lt "$KEYGEN_RUNS" ]; do
		ssh-keygen -q -s "$tmp/ca" -I "eph:g-$i:alice:db-maint" -z $((i + 1)) \
			-n eph:db-maint@db01.example.com -V +10m "$tmp/user.pub" 2>/dev/null
		i=$((i + 1))
	done
	end=$(date +%s.%N)
	keygen_per_cert=$(echo "$start $end $KEYGEN_RUNS" | awk '{ printf "%.6f", ($2 - $1) / $3 }')
fi

echo "certificate signing, one core, Ed25519 CA, $N certificates"
echo "$out" | sed 's/^/  /'
echo "$lib $raw" | awk '{ printf "  libephcore vs raw Ed25519 sign (same process): %.1f%% (target >= 80%%)\n", 100 * $1 / $2 }'
if [ -n "$ossl" ]; then
	echo "  openssl speed ed25519: $ossl signs/s"
	echo "$lib $ossl" | awk '{ printf "  libephcore vs openssl speed: %.1f%%\n", 100 * $1 / $2 }'
fi
if [ -n "$keygen_per_cert" ]; then
	echo "  ssh-keygen -s: $keygen_per_cert s per certificate ($KEYGEN_RUNS runs)"
	echo "$lib $keygen_per_cert" | awk '{ printf "  libephcore vs one ssh-keygen -s per certificate: %.0fx faster (target > 100x)\n", $1 * $2 }'
fi

# Policy evaluation: decisions per second on a policy of 1,000 tasks and
# 10,000 hosts, against the bare lookups (task search + hostgroup
# membership) for the same requests, measured in the same process.
pout=$("$builddir/bench/bench_policy" "${BENCH_DECISIONS:-400000}")
echo
echo "policy evaluation, one core"
echo "$pout" | sed 's/^/  /'
echo "$pout" | awk '
	$1 == "decisions_per_sec" { d = $2 }
	$1 == "lookup_only_per_sec" { l = $2 }
	END {
		printf "  decisions vs lookup-only floor: %.1f%%\n", 100 * d / l
		printf "  decisions per second vs the 100,000/s aim: %.1fx\n", d / 100000
	}'
# Loading a policy near the 8 MiB cap (1,000 tasks naming a 100,000-member
# group): reported, never judged.
echo "$pout" | awk '
	$1 == "big_policy_bytes" { b = $2 }
	$1 == "big_policy_load_ms" { ms = $2 }
	$1 == "big_policy_libconfig_parse_ms" { f = $2 }
	END {
		if (b) printf "  loading a %.1f MiB policy: %.0f ms\n", b / 1048576, ms
		if (ms > 0 && f > 0)
			printf "  that load vs libconfig parsing the same text alone: %.2fx\n", ms / f
	}'

# The daemon: durable issuances per second and latency of the real
# `sshca serve` over its Unix socket (auto-approved task, keep-alive, a
# fresh key per request) at 1, 16 and 64 clients, against the signing
# rate and a bare fsync'd SQLite commit rate measured in the same run,
# in a temp CA under the build directory (a real disk, as the database
# would be). The load generator shares the machine. Reported, never judged.
sout=$(cd "$builddir" && "$builddir/bench/bench_serve" "$builddir/sshca/sshca" "${BENCH_ISSUANCES:-5000}")
echo
echo "sshca serve over the Unix socket, auto-approved, keep-alive, load generator on the same machine"
echo "$sout" | sed 's/^/  /'
echo "$sout" | awk '
	{ v[$1] = $2 }
	END {
		s = v["lib_certs_per_sec"]; f = v["sqlite_fsync_commits_per_sec"]
		n = split("1 16 64", cs, " ")
		for (i = 1; i <= n; i++) {
			c = cs[i]; r = v["c" c "_issued_per_sec"]
			printf "  %2d clients: %6.0f issuances/s (p50 %s ms, p99 %s ms): %5.1f%% of signing, %5.1f%% of bare fsync commits\n",
			    c, r, v["c" c "_p50_ms"], v["c" c "_p99_ms"], 100 * r / s, 100 * r / f
		}
		printf "  64 clients vs the aim of 5,000 issuances/s: %.2fx; p99 %s ms vs 20 ms\n",
		    v["c64_issued_per_sec"] / 5000, v["c64_p99_ms"]
		if (v["c64_cpu_bound_per_sec"] != "")
			printf "  64 clients, CPU per issuance: daemon %s ms + signer %s ms + load generator %s ms on %s of %s cores busy: at most %s/s with every core busy\n",
			    v["c64_daemon_cpu_ms"], v["c64_signer_cpu_ms"], v["c64_loadgen_cpu_ms"],
			    v["c64_cpus_busy"], v["cpus"], v["c64_cpu_bound_per_sec"]
	}'

# ephemeral-principals: sshd execs it twice per login. The wall time of
# one call (accepted: check, spool record, principals printed; refused:
# the check and its log record), measured as N spawns in a row, against
# `true` and `openssl version` (a program that only loads libcrypto)
# exec'd the same way in the same run. Reported, never judged.
P=${BENCH_PRINCIPALS_CALLS:-300}
ptmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$ptmp"' EXIT
chmod 0755 "$ptmp"
"$builddir/sshca/sshca" init --key "$ptmp/ca" >/dev/null
"$builddir/sshca/sshca" pubkey --key "$ptmp/ca" >"$ptmp/ca.pub"
"$builddir/sshca/sshca" init --key "$ptmp/user" >/dev/null
"$builddir/sshca/sshca" pubkey --key "$ptmp/user" >"$ptmp/user.pub"
"$builddir/sshca/sshca" sign --key "$ptmp/ca" --principals eph:db-maint@db01.example.com \
	--ttl 1h --serial 7 --key-id eph:g-7:alice:db-maint --grant-id g-7 --task db-maint \
	--requester alice --login-as postgres -o "$ptmp/user-cert.pub" "$ptmp/user.pub" 2>/dev/null
"$builddir/sshca/sshca" krl --key "$ptmp/ca.pub" --serial 1-5 -o "$ptmp/krl" >/dev/null 2>&1
mkdir -m 0755 "$ptmp/state"
mkdir -m 0700 "$ptmp/state/spool"
cat >"$ptmp/host.conf" <<EOC
host = { names = [ "db01.example.com" ]; groups = [ "db" ]; };
trusted_ca_keys = "$ptmp/ca.pub";
revoked_keys = "$ptmp/krl";
state_dir = "$ptmp/state";
accept = ( { task = "db-maint"; users = [ "postgres" ]; } );
EOC
chmod 0644 "$ptmp/host.conf" "$ptmp/ca.pub" "$ptmp/krl"
ctype=$(cut -d' ' -f1 "$ptmp/user-cert.pub")
cb64=$(cut -d' ' -f2 "$ptmp/user-cert.pub")
pcmd="$builddir/host/ephemeral-principals"
per_call() { "$builddir/bench/bench_exec" "$P" "$@" | awk '$1 == "per_call_us" { print $2 }'; }
truebin=/bin/true
[ -x "$truebin" ] || truebin=/usr/bin/true
t_true=$(per_call "$truebin")
t_ossl=""
command -v openssl >/dev/null 2>&1 && t_ossl=$(per_call "$(command -v openssl)" version)
t_acc=$(per_call "$pcmd" -f "$ptmp/host.conf" postgres "$ctype" "$cb64")
t_ref=$("$builddir/bench/bench_exec" "$P" "$pcmd" -f "$ptmp/host.conf" root "$ctype" "$cb64" |
	awk '$1 == "per_call_us" { print $2 }')
echo
echo "ephemeral-principals, one exec per call, $P calls in a row"
echo "  true:                         $t_true us per exec"
[ -z "$t_ossl" ] || echo "  openssl version:              $t_ossl us per exec"
echo "  ephemeral-principals accepted: $t_acc us per call"
echo "  ephemeral-principals refused:  $t_ref us per call"
echo "$t_acc $t_ref $t_true ${t_ossl:-0}" | awk '{
	printf "  accepted vs true: %.1fx; refused vs true: %.1fx\n", $1 / $3, $2 / $3
	if ($4 > 0) printf "  accepted vs openssl version: %.2fx\n", $1 / $4
	printf "  two calls per login: %.2f ms (aim: well under 2 ms per call)\n", 2 * $1 / 1000
}'

# The host side per login: pam_ephemeral's session open + close
# in-process against pam_permit alone, and whole real ssh logins on
# loopback with and without ephemeral-principals and the module, in the
# same run (bench_login.sh; root only, it says skipped otherwise).
# Reported, never judged.
sh "$(dirname "$0")/bench_login.sh" "$builddir"
