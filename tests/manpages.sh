#!/bin/sh
# Every manual the build installs ($MANPAGES, relative to $MAN_SRCDIR)
# renders under groff with all warnings on and says nothing, and names
# the page it is (.Dt) after its file. Skips (77) without groff.
set -eu
command -v groff >/dev/null || { echo "skip: no groff"; exit 77; }
[ -n "${MANPAGES:-}" ] || { echo "FAIL: MANPAGES is empty (run from make check)" >&2; exit 1; }
status=0
for m in $MANPAGES; do
	f=$MAN_SRCDIR/$m
	[ -f "$f" ] || { echo "FAIL: $m: missing" >&2; status=1; continue; }
	if ! err=$(groff -ww -z -mdoc "$f" 2>&1) || [ -n "$err" ]; then
		echo "FAIL: $m: groff -ww: $err" >&2
		status=1
	fi
	base=$(basename "$f")
	name=${base%.*} sect=${base##*.}
	want=$(echo "$name $sect" | tr '[:lower:]' '[:upper:]')
	got=$(sed -n 's/^\.Dt //p' "$f")
	[ "$got" = "$want" ] || { echo "FAIL: $m: .Dt '$got', expected '$want'" >&2; status=1; }
done
[ "$status" -ne 0 ] || echo "ok: $(echo $MANPAGES | wc -w) manuals"
exit "$status"
