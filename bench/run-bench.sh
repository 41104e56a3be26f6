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
