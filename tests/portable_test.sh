#!/bin/sh
# SPDX-License-Identifier: MIT
#
# portable_test.sh - a data directory is the same log on every host (SPEC
# §4, §11): one written by this build's golden_gen (a cross build's under
# qemu-user: armhf, 32-bit little-endian; s390x, 64-bit big-endian) opens,
# verifies and dumps in a native build's tools exactly as the native
# build's own directory does, and a native directory does in this build's
# tools.  In a native build both sides are the same build, and the test
# shows that golden_gen writes the same log at every run.
#
# Method: each side's golden_gen writes the golden workload (golden_gen.c:
# every record type, compressed values, several segments, a compaction
# generation, a snapshot with log after it, the mesh collections, a
# ledger).  The reference is what the native tools print for the native
# directory: `logkeep verify` (duration_us zeroed), `logkeep dump --json`
# and `golden_gen read` (an open through the API: the snapshot loaded, every
# live record, the mesh collections, the ledger's chain).  The three are
# then taken for each pair (tools of one side, directory of the other) and
# must equal it.  One thing differs between two runs of the workload, and
# is normalized: the database id, which lk_open() draws at creation from
# the clocks and the handle's address (no API sets it).  dump prints it in
# each segment item, so it is replaced there; every record's checksum is
# seeded with it, so the files differ byte for byte, but dump prints only
# "checksum":"ok" and read prints no id.  Everything else, timestamps
# included (golden_gen's clock is fixed), must be identical.  Each read
# must also say that the snapshot was used: a snapshot from another
# architecture is loaded, not refused (and if a change made it refused,
# the report differs from the reference and says why).
#
# Usage: sh tests/portable_test.sh NATIVE_LOGKEEP NATIVE_GOLDEN_GEN \
#          LOGKEEP GOLDEN_GEN [NAME]
# (LOGKEEP and GOLDEN_GEN are this build's, run under MESON_EXE_WRAPPER
# when meson test sets it; NAME names this build's host in the checks).
# TAP lines (tap.sh); the script fails if any check does.

set -u

NLK=${1:?usage: portable_test.sh NATIVE_LOGKEEP NATIVE_GEN LOGKEEP GEN}
NGEN=${2:?usage: portable_test.sh NATIVE_LOGKEEP NATIVE_GEN LOGKEEP GEN}
XLK=${3:?usage: portable_test.sh NATIVE_LOGKEEP NATIVE_GEN LOGKEEP GEN}
XGEN=${4:?usage: portable_test.sh NATIVE_LOGKEEP NATIVE_GEN LOGKEEP GEN}
for p in "$NLK" "$NGEN" "$XLK" "$XGEN"; do
	[ -x "$p" ] || { echo "portable_test.sh: $p is not executable" >&2
		exit 99; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/logkeep-portable.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
# This build's programs run under its exe_wrapper (wrap_exe.sh); the
# native ones as they are (meson passes no wrapper for them: they are not
# this build's).
tap_dir=$(dirname "$0")
. "$tap_dir/tap.sh"
tap_wrap XLK
tap_wrap XGEN
this=${5:-this build}

# outputs LOGKEEP GEN DIR OUT: OUT.verify, OUT.dump, OUT.read, normalized;
# fails (naming the command) if one exits non-zero.
outputs() {
	: >"$T/err"
	"$1" verify "$3" >"$4.out" 2>>"$T/err" || {
		echo "verify $3 exited $?" >>"$T/err"; return 1; }
	sed 's/^duration_us: [0-9]*$/duration_us: 0/' <"$4.out" >"$4.verify"
	"$1" dump --json "$3" >"$4.out" 2>>"$T/err" || {
		echo "dump $3 exited $?" >>"$T/err"; return 1; }
	sed 's/"db_id":"[0-9a-f]*"/"db_id":"ID"/' <"$4.out" >"$4.dump"
	"$2" read "$3" >"$4.read" 2>>"$T/err" || {
		echo "golden_gen read $3 exited $?" >>"$T/err"; return 1; }
}

# compare NAME OUT: OUT.* equal the reference, and the snapshot was used.
compare() {
	: >"$T/diff"
	for k in verify dump read; do
		diff "$T/ref.$k" "$2.$k" >>"$T/diff" 2>&1
	done
	if [ -s "$T/diff" ]; then
		not_ok "$1"
	elif ! grep -q '^open.snapshot_used: 1$' "$2.read"; then
		grep '^open.snapshot' "$2.read" >"$T/diff"
		not_ok "$1: the snapshot was used"
	else
		ok "$1"
	fi
}

# The two directories, one per side.
: >"$T/err"
if "$NGEN" write "$T/native" 2>"$T/err"; then
	ok "native golden_gen writes the workload"
else
	not_ok "native golden_gen writes the workload"
fi
if "$XGEN" write "$T/this" 2>"$T/err"; then
	ok "$this golden_gen writes the workload"
else
	not_ok "$this golden_gen writes the workload"
fi
[ "$failed" -eq 0 ] || exit 1

# The reference: native tools, native directory.
if outputs "$NLK" "$NGEN" "$T/native" "$T/ref" &&
	grep -q '^open.snapshot_used: 1$' "$T/ref.read" &&
	grep -q '^result: ok$' "$T/ref.verify"; then
	ok "native tools read the native directory, its snapshot used"
else
	not_ok "native tools read the native directory, its snapshot used"
	exit 1
fi

if outputs "$NLK" "$NGEN" "$T/this" "$T/n-this"; then
	compare "native tools read the $this directory as the native one" \
		"$T/n-this"
else
	not_ok "native tools read the $this directory"
fi
if outputs "$XLK" "$XGEN" "$T/native" "$T/this-n"; then
	compare "$this tools read the native directory as native ones do" \
		"$T/this-n"
else
	not_ok "$this tools read the native directory"
fi
if outputs "$XLK" "$XGEN" "$T/this" "$T/this-this"; then
	compare "$this tools read their own directory as native ones do" \
		"$T/this-this"
else
	not_ok "$this tools read their own directory"
fi

# The files: the same names and sizes on both sides (only the bytes the
# database id seeds differ).
(cd "$T/native" && for f in *; do echo "$f $(wc -c <"$f")"; done) \
	>"$T/files.native"
(cd "$T/this" && for f in *; do echo "$f $(wc -c <"$f")"; done) \
	>"$T/files.this"
if diff "$T/files.native" "$T/files.this" >"$T/diff"; then
	ok "the $this directory has the native one's files and sizes"
else
	not_ok "the $this directory has the native one's files and sizes"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
