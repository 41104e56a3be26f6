# shellcheck shell=sh disable=SC2154 # top, tmp: the sourcing test's
# Shared by the packaging tests that install the .debs (packaging_debs.sh,
# packaging_boot.sh); sourced after they define $top, $tmp, fail and step.

# debs_build DIR: the three .debs into DIR (packaging/build-deb from the
# committed tree, or the files as they are with PACKAGING_DEBS_WORKTREE=1,
# or copies of PACKAGING_DEBS_PREBUILT=DIR, a developer's shortcut), and
# their paths, space-separated, in $debs.
debs_build() {
	step "build-deb"
	_wt=""
	[ "${PACKAGING_DEBS_WORKTREE:-0}" = 1 ] && _wt=--worktree
	if [ -n "${PACKAGING_DEBS_PREBUILT:-}" ]; then
		cp -R "$PACKAGING_DEBS_PREBUILT" "$1"
	else
		# shellcheck disable=SC2086
		"$top/packaging/build-deb" $_wt "$1" >"$tmp/build-deb.log" 2>&1 ||
			{ tail -n 40 "$tmp/build-deb.log" >&2; fail "build-deb"; }
	fi
	debs=""
	for _p in ephssh-ca ephssh-client libpam-ephemeral; do
		_f=$(ls "$1/${_p}_"*.deb 2>/dev/null | head -n 1)
		[ -n "$_f" ] || fail "no $_p .deb in $1"
		debs="$debs $_f"
	done
}

# debs_depends FILE...: the packages the .debs depend on, comma-separated
# for mmdebstrap --include (versions and alternatives dropped).
debs_depends() {
	for _f in "$@"; do dpkg-deb -f "$_f" Depends; done | tr ',' '\n' |
		sed -e 's/(.*//' -e 's/|.*//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd, -
}
