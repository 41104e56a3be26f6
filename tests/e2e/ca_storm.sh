#!/bin/sh
# A storm of malformed requests against the real CA daemon (bad JSON,
# 10 MB bodies, wrong types, unknown fields, unknown and malformed ids,
# NUL bytes, huge headers, half-sent requests held open by slow clients),
# bounded in count and time (tests/e2e/storm.py, as the requester). After
# it the daemon still serves (healthz, a valid issuance), the storm issued
# nothing (the only issue record is the final valid one) and the audit
# chain verifies.
#
# Needs root (useradd, privilege drop) and python3. Exit 77 (skip) when
# it cannot run. Removes everything it made.
set -eu
E2E_TOOLS="python3"
. "$(dirname "$0")/lib.sh"
storm_py="$(cd "$(dirname "$0")" && pwd)/storm.py"
[ -r "$storm_py" ] || fail "no $storm_py"

e2e_setup
e2e_start
cp "$storm_py" "$tmp/storm.py"
chmod 0644 "$tmp/storm.py"
runuser -u "$req" -- python3 "$tmp/storm.py" "$sock" "$pub" "${STORM_COUNT:-3000}" 60 \
	>"$tmp/storm.out" 2>&1 || { cat "$tmp/storm.out" >&2; fail "the storm"; }
cat "$tmp/storm.out"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died in the storm"
[ "$(pgrep -P "$daemon_pid" | wc -l)" -ge 1 ] || fail "the signer died in the storm"
[ "$(db "SELECT count(*) FROM audit WHERE type = 'issue';")" = 0 ] ||
	fail "the storm issued: $(db "SELECT serial FROM audit WHERE type = 'issue';")"
api "$req" GET /v1/healthz
expect 200 "healthz after the storm"
api "$req" POST /v1/requests "$ping_json"
expect 201 "a valid request after the storm"
[ "$(field .state)" = issued ] || fail "after the storm: state $(field .state)"
serial=$(field .serial)
[ "$(db "SELECT group_concat(serial) FROM audit WHERE type = 'issue';")" = "$serial" ] ||
	fail "issue records other than the final one"
audit_verify "after the storm"
e2e_stop
echo "ok: sshca serve survives a storm of malformed requests"
