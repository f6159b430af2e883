#!/bin/sh
# SPDX-License-Identifier: MIT
#
# mutate_test.sh - the replayers' --mutate mode end to end (mutate.c), in
# about a second: it fuzzes, it stops in time, and a failing run exits
# non-zero and leaves its input on disk.
#
# Method: fuzz_record_replay mutates corpus/record for 1 s (seed 1) and
# must exit 0 with its "mutate: N runs in S s, seed 1" line (N > 0) and
# remove its current-input file; mutate_planted_replay, a target whose one
# property fails on the bytes 7f ff ff ff (mutate_planted.c), mutates a
# seed without them for up to 10 s and must abort (exit 134, by SIGABRT)
# within a few thousand runs, name the run, the seed and the file, and
# leave there an input that holds the bytes and fails the replay mode too.
# TAP lines; a cross build's programs run under its exe_wrapper (tap.sh).
#
# Usage: sh fuzz/mutate_test.sh RECORD_REPLAY PLANTED_REPLAY RECORD_CORPUS
set -u

REC=${1:?usage: mutate_test.sh RECORD_REPLAY PLANTED_REPLAY RECORD_CORPUS}
PLANTED=${2:?usage: mutate_test.sh RECORD_REPLAY PLANTED_REPLAY RECORD_CORPUS}
CORPUS=${3:?usage: mutate_test.sh RECORD_REPLAY PLANTED_REPLAY RECORD_CORPUS}

T=$(mktemp -d "${TMPDIR:-/tmp}/logkeep-mutate.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
tap_dir=$(dirname "$0")/../tests
. "$tap_dir/tap.sh"
tap_wrap REC
tap_wrap PLANTED

# 1. A healthy target: 1 s, exit 0, the closing line, no file left.
mkdir "$T/rec"
"$REC" --mutate 1 --seed 1 --out "$T/rec" "$CORPUS" >"$T/out" 2>"$T/err"
rc=$?
cp "$T/out" "$T/diff"
runs=$(sed -n 's/^mutate: \([0-9]*\) runs in [0-9.]* s, seed 1$/\1/p' \
	"$T/out")
if [ "$rc" -eq 0 ] && [ "${runs:-0}" -gt 0 ]; then
	ok "fuzz_record mutates for 1 s and exits 0 ($runs runs)"
else
	not_ok "fuzz_record mutates for 1 s and exits 0 (exit $rc)"
fi
if [ ! -e "$T/rec/current" ]; then
	ok "a run that passed removes its current-input file"
else
	not_ok "a run that passed removes its current-input file"
fi

# 2. The planted bug: found, exit by SIGABRT, the input on disk.
mkdir "$T/planted" "$T/seed"
printf 'a seed without the planted bytes\n' \
	>"$T/seed/one"
"$PLANTED" --mutate 10 --seed 7 --out "$T/planted" "$T/seed" \
	>"$T/out" 2>"$T/err"
rc=$?
: >"$T/diff"
if [ "$rc" -eq 134 ]; then
	ok "the planted bug ends the run by SIGABRT"
else
	not_ok "the planted bug ends the run by SIGABRT (exit $rc)"
fi
if grep -q "^mutate: run [0-9]* did not finish (signal 6); its input is in $T/planted/current; seed 7: rerun with --mutate 0 --seed 7 --runs [0-9]*$" \
	"$T/err"; then
	ok "the failure names the run, the file and the seed"
else
	not_ok "the failure names the run, the file and the seed"
fi
if [ -f "$T/planted/current" ] &&
	od -An -v -tx1 "$T/planted/current" | tr -d '\n' |
	grep -q '7f ff ff ff'; then
	ok "the file holds the failing input"
else
	not_ok "the file holds the failing input"
fi
"$PLANTED" "$T/planted/current" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -ne 0 ]; then
	ok "the saved input fails the replay mode too (exit $rc)"
else
	not_ok "the saved input fails the replay mode too"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
