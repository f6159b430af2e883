#!/bin/sh
# SPDX-License-Identifier: MIT
#
# golden_test.sh - data directories written by earlier formats still open,
# verify and dump as they did (SPEC §4): every tests/golden/V/ is opened by
# the tools of this build, whatever its host (meson test runs it in the
# native build and, under qemu-user, in the armhf and s390x cross builds).
#
# Layout: tests/golden/V/ for each on-disk format, V named by the segment
# format version (LK_FORMAT_VERSION, engine/record.h) as vN, and, when only
# the snapshot format moved (SNAP_VERSION, engine/snapshot_format.h), as
# vN-snapM.  Each holds
#   data/        the data directory golden_gen wrote (LOCK, segments,
#                snapshot), byte for byte
#   verify.txt   `logkeep verify data`, duration_us shown as 0
#   dump.jsonl   `logkeep dump --json data`
#   read.txt     `golden_gen read data` (tests/golden_gen.c): the recovery
#                report, stats, every live record through the API, the mesh
#                collections and the ledger's chain check
#   FORMAT       the format versions it was written with, for people
# Every directory tests/golden/*/ with a data/ in it is tested: a new
# format's golden is picked up by adding its directory.
#
# Checks, for each V (TAP lines, the script fails if any does):
#   1. verify, dump and read of a copy print exactly the expected text
#      (exit status 0), nothing filtered but verify's duration;
#   2. the snapshot of a copy with its version field byte-swapped, as a
#      writer that stored host-order integers on a big-endian router would
#      leave it, is refused with its reason (the log is replayed) and the data
#      read is the same, record for record (only lines starting "open."
#      may differ);
#   3. a writable open of a copy (`logkeep put`) takes a new record, and
#      every record and the ledger's chain are still there after it;
#   4. the checked-in files are unchanged: every open is of a copy under
#      one mktemp -d directory, never of tests/golden itself.
#
# Regenerating.  A golden is the record of what a released format looks
# like: NEVER regenerate or edit an existing tests/golden/V/.  If this test
# fails on one, the change broke old data: fix the change (or teach the
# reader the old format), not the golden.  Only the expected outputs of
# an existing golden may be refreshed, and only when the tool's output
# itself changed on purpose (a new field in dump), with data/ untouched:
#   sh tests/golden_test.sh --expect tests/golden/V build/tools/logkeep \
#     build/tests/golden_gen
# When a change bumps LK_FORMAT_VERSION or SNAP_VERSION, add the new
# format's golden from a native build of that change, alongside the old:
#   sh tests/golden_test.sh --make tests/golden/v3 build/tools/logkeep \
#     build/tests/golden_gen
# (--make refuses a directory that exists), extend golden_gen's workload
# first if the new format has a new kind of record, and commit the new
# directory with the change that bumps the version.
#
# Usage: sh tests/golden_test.sh LOGKEEP GOLDEN_GEN GOLDEN_ROOT
#        sh tests/golden_test.sh --make|--expect DIR LOGKEEP GOLDEN_GEN
# Needs: POSIX sh, cp, diff, od, dd, sed, grep, sort, comm, cksum.

# shellcheck disable=SC2016
set -u

# verify's text output with its one timing field zeroed.
verify_filter() {
	sed 's/^duration_us: [0-9]*$/duration_us: 0/'
}

# expected_of DIR LK GEN: (re)writes DIR's verify.txt, dump.jsonl and
# read.txt from DIR/data, run on a copy.
expected_of() {
	e_tmp=$(mktemp -d "${TMPDIR:-/tmp}/logkeep-golden.XXXXXX") || exit 99
	cp -R "$1/data" "$e_tmp/data" || exit 99
	"$2" verify "$e_tmp/data" | verify_filter >"$1/verify.txt"
	"$2" dump --json "$e_tmp/data" >"$1/dump.jsonl"
	"$3" read "$e_tmp/data" >"$1/read.txt"
	rm -rf "$e_tmp"
}

case ${1:-} in
--make | --expect)
	mode=$1
	dir=${2:?usage: golden_test.sh $mode DIR LOGKEEP GOLDEN_GEN}
	lk=${3:?usage: golden_test.sh $mode DIR LOGKEEP GOLDEN_GEN}
	gen=${4:?usage: golden_test.sh $mode DIR LOGKEEP GOLDEN_GEN}
	if [ "$mode" = --make ]; then
		if [ -e "$dir" ]; then
			echo "golden_test.sh: $dir exists: a golden is never" \
				"regenerated (see the top of this script)" >&2
			exit 2
		fi
		mkdir -p "$dir" && "$gen" write "$dir/data" || exit 1
		od -An -tu1 -j8 -N1 "$dir/data"/*.snap |
			tr -d ' ' >"$dir/.snap" 2>/dev/null
		{
			echo "written by: golden_gen write (tests/golden_gen.c)"
			echo "segment format: $("$lk" dump --json "$dir/data" |
				sed -n 's/.*"format_version":\([0-9]*\).*/\1/p' |
				sort -u)"
			echo "snapshot format: $(cat "$dir/.snap")"
		} >"$dir/FORMAT"
		rm -f "$dir/.snap"
	fi
	expected_of "$dir" "$lk" "$gen"
	exit 0
	;;
esac

LK=${1:?usage: golden_test.sh LOGKEEP GOLDEN_GEN GOLDEN_ROOT}
GEN=${2:?usage: golden_test.sh LOGKEEP GOLDEN_GEN GOLDEN_ROOT}
ROOT=${3:?usage: golden_test.sh LOGKEEP GOLDEN_GEN GOLDEN_ROOT}

T=$(mktemp -d "${TMPDIR:-/tmp}/logkeep-golden.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
tap_dir=$(dirname "$0")
. "$tap_dir/tap.sh"
# A cross build's programs run under its exe_wrapper.
tap_wrap LK
tap_wrap GEN

# same NAME EXPECTED GOT: the two files are equal.
same() {
	if diff "$2" "$3" >"$T/diff" 2>&1; then
		ok "$1"
	else
		not_ok "$1"
	fi
}

# fresh V: a new copy of golden V's data directory at $T/V.
fresh() {
	rm -rf "${T:?}/$1"
	cp -R "$ROOT/$1/data" "$T/$1"
}

found=0
for gdir in "$ROOT"/*/; do
	[ -d "$gdir/data" ] || continue
	gdir=${gdir%/}
	v=${gdir##*/}
	found=$((found + 1))
	: >"$T/err"
	before=$(cd "$gdir" && cksum data/* verify.txt dump.jsonl read.txt)

	# 1. verify, dump and read print what they printed when written
	fresh "$v"
	"$LK" verify "$T/$v" >"$T/out" 2>"$T/err"
	rc=$?
	verify_filter <"$T/out" >"$T/verify"
	same "$v: verify prints the expected report (exit $rc)" \
		"$gdir/verify.txt" "$T/verify"
	[ "$rc" -eq 0 ] || not_ok "$v: verify exits 0, not $rc"
	"$LK" dump --json "$T/$v" >"$T/dump" 2>"$T/err"
	rc=$?
	same "$v: dump --json prints the expected records (exit $rc)" \
		"$gdir/dump.jsonl" "$T/dump"
	[ "$rc" -eq 0 ] || not_ok "$v: dump exits 0, not $rc"
	"$GEN" read "$T/$v" >"$T/read" 2>"$T/err"
	rc=$?
	same "$v: an open reads the expected records, mesh and ledger" \
		"$gdir/read.txt" "$T/read"
	[ "$rc" -eq 0 ] || not_ok "$v: golden_gen read exits 0, not $rc"

	# 2. a snapshot in host order (big-endian) is refused, never misread
	set -- "$T/$v"/*.snap
	if [ -f "$1" ]; then
		# the version (u16 at 8) in big-endian order
		dd if="$1" bs=1 skip=8 count=2 2>/dev/null |
			dd conv=swab 2>/dev/null >"$T/swapped"
		dd if="$T/swapped" of="$1" bs=1 seek=8 conv=notrunc 2>/dev/null
		"$GEN" read "$T/$v" >"$T/read-swapped" 2>"$T/err"
		rc=$?
		if [ "$rc" -eq 0 ] &&
			grep -q '^open.snapshot_used: 0$' "$T/read-swapped" &&
			grep -q '^open.snapshot_note: .* not used: ..*' \
				"$T/read-swapped"; then
			ok "$v: a byte-swapped snapshot is refused with its reason"
		else
			grep '^open.snapshot' "$T/read-swapped" >>"$T/err"
			not_ok "$v: a byte-swapped snapshot is refused with" \
				"its reason (exit $rc)"
		fi
		grep -v '^open\.' "$gdir/read.txt" >"$T/data-expected"
		grep -v '^open\.' "$T/read-swapped" >"$T/data-swapped"
		same "$v: without its snapshot the log gives the same records" \
			"$T/data-expected" "$T/data-swapped"
		"$LK" verify "$T/$v" >"$T/out" 2>"$T/err"
		if grep -q '^snapshot_used: no$' "$T/out"; then
			ok "$v: verify says the swapped snapshot was not used"
		else
			not_ok "$v: verify says the swapped snapshot was not used"
		fi
	fi

	# 3. a writable open of the old directory, a write, everything kept
	fresh "$v"
	if "$LK" put "$T/$v" golden-test "written on $v" 2>"$T/err" &&
		"$LK" verify "$T/$v" >"$T/out" 2>>"$T/err" &&
		"$GEN" read "$T/$v" >"$T/read-after" 2>>"$T/err"; then
		grep '^  ' "$gdir/read.txt" | grep -v '^  chain: ' |
			sort >"$T/records-before"
		grep '^  ' "$T/read-after" | sort >"$T/records-after"
		comm -23 "$T/records-before" "$T/records-after" >"$T/diff"
		if [ ! -s "$T/diff" ] &&
			grep -q '^  "golden-test" seq [0-9]* = "written on '"$v"'"$' \
				"$T/read-after" &&
			grep -q '^  chain: ok,' "$T/read-after"; then
			ok "$v: a writable open adds a record and keeps every other"
		else
			not_ok "$v: a writable open adds a record and keeps" \
				"every other"
		fi
	else
		not_ok "$v: a writable open adds a record and keeps every other"
	fi

	# 4. the checked-in golden is as it was
	after=$(cd "$gdir" && cksum data/* verify.txt dump.jsonl read.txt)
	if [ "$before" = "$after" ]; then
		ok "$v: the checked-in files are unchanged"
	else
		not_ok "$v: the checked-in files are unchanged"
	fi
done

if [ "$found" -eq 0 ]; then
	echo "not ok - no golden directory under $ROOT"
	exit 1
fi
echo "1..$n"
echo "# $found golden director$([ "$found" -eq 1 ] && echo y || echo ies)," \
	"$failed failed"
[ "$failed" -eq 0 ]
