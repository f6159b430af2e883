# SPDX-License-Identifier: MIT
#
# tap.sh - sourced by golden_test.sh, portable_test.sh and
# fuzz/mutate_test.sh: TAP lines and
# the programs of a cross build run under its exe_wrapper.
#
# The sourcing script sets T (its mktemp -d directory) first.  ok NAME and
# not_ok NAME print `ok N - NAME` and `not ok N - NAME`; not_ok adds the
# first lines of $T/diff and $T/err as `#   ` lines and counts $failed.
# tap_wrap VAR: when meson test set MESON_EXE_WRAPPER (a cross build's
# test), the program named by $VAR becomes a script in $T that runs it
# under the wrapper (wrap_exe.sh), and VAR names that script.

n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	for f in "$T/diff" "$T/err"; do
		[ -s "$f" ] && sed 's/^/#   /' "$f" | head -n 30
	done
	:
}

tap_wrap() {
	[ -n "${MESON_EXE_WRAPPER:-}" ] || return 0
	eval "tap_exe=\$$1"
	sh "$tap_dir/wrap_exe.sh" "$tap_exe" "$T/wrapped-$1" || exit 99
	eval "$1=\$T/wrapped-$1"
}
