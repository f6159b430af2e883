#!/bin/sh
# SPDX-License-Identifier: MIT
#
# cli_test.sh - the logkeep tool, end to end: what each command prints and
# the exit status it returns, on healthy, torn and damaged directories.
#
# Method: every check runs the real binary on a data directory under one
# mktemp -d directory (removed at exit) and prints TAP lines, `ok N - name`
# or `not ok N - name` with the command's stderr as `# ` lines; the script
# exits non-zero if any check failed.  Damage is made the way LevelDB's
# corruption_test makes it: truncate the newest segment file a few bytes
# into its data, before the zero tail that verify reports (a torn tail), or
# flip one byte in the middle of the log with many commits after it
# (damage).  Segment files are DIR/<16 digits>.seg.  A second writer is a
# `load` that holds DIR while it waits on a FIFO.  Hostile directories (a
# FIFO under a segment's, a snapshot's or the LOCK's name, a plain file as
# DIR, 1001 segment files, an 8 GiB sparse segment, damage behind a
# snapshot) are run through every command, each under `timeout` so that a
# hang fails its check instead of hanging the suite.  A full device is a
# small tmpfs in a mount namespace of its own, where the kernel allows.
#
# Usage: sh tests/cli_test.sh path/to/logkeep
# Needs: POSIX sh, awk, od, dd, mkfifo; python3 (optional) parses --json;
# timeout and truncate (optional) guard against hangs and make the sparse
# file.

# Checks are `check NAME eval '...'` so that they read as one condition;
# the single quotes are meant (the condition expands when it runs).
# shellcheck disable=SC2016,SC2317
set -u

LK=${1:?usage: cli_test.sh path/to/logkeep}
[ -x "$LK" ] || { echo "cli_test.sh: $LK is not executable" >&2; exit 99; }

T=$(mktemp -d "${TMPDIR:-/tmp}/logkeep-cli.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
# A cross build's tool runs under its exe_wrapper (qemu-user, .ci/cross/),
# which meson test passes in MESON_EXE_WRAPPER: LK becomes a script that
# runs it so (wrap_exe.sh).
if [ -n "${MESON_EXE_WRAPPER:-}" ]; then
	sh "$(dirname "$0")/wrap_exe.sh" "$LK" "$T/logkeep" || exit 99
	LK=$T/logkeep
fi

n=0
failed=0
TAB=$(printf '\t')

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	if [ -s "$T/err" ]; then
		sed 's/^/#   stderr: /' "$T/err" | head -n 20
	fi
}

# check NAME COMMAND...: COMMAND's exit status decides.
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# run COMMAND...: runs COMMAND with stdout in $T/out and stderr in $T/err,
# and sets $rc to its exit status.
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect_rc NAME WANT: checks the exit status of the last run.
expect_rc() {
	if [ "$rc" -eq "$2" ]; then
		ok "$1"
	else
		not_ok "$1 (exit status $rc, want $2)"
	fi
}

lines() {
	wc -l <"$1" | tr -d ' '
}

file_size() {
	wc -c <"$1" | tr -d ' '
}

# A field of the recovery report in verify --json output.
json_field() {
	sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" "$2"
}

# The interpreter itself, found once: a python3 on PATH may be a wrapper
# (pyenv's shim took 0.7 s a call on a loaded CI machine).
PY=python3
if command -v python3 >/dev/null 2>&1; then
	PY=$(python3 -c 'import sys; print(sys.executable)') && [ -x "$PY" ] ||
		PY=python3
fi

# json_check NAME FILE EXPR: EXPR, a Python expression over the JSON
# object of FILE (as j), must hold.  Without python3 the check is
# skipped (TAP "# SKIP").
json_check() {
	if ! command -v python3 >/dev/null 2>&1; then
		n=$((n + 1))
		echo "ok $n - $1 # SKIP no python3"
		return
	fi
	check "$1" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
ok = eval("(" + sys.argv[2] + ")")
if not ok:
	print("#   json: " + json.dumps(j)[:600])
sys.exit(0 if ok else 1)' "$2" "$3"
}

json_parses() {
	if command -v python3 >/dev/null 2>&1; then
		"$PY" -c 'import json, sys; json.load(sys.stdin)' <"$1"
	else
		grep -Eq '^\{.*"ok":(true|false).*"report":\{.*\}\}$' "$1"
	fi
}

# truncate_to FILE SIZE
truncate_to() {
	if command -v truncate >/dev/null 2>&1; then
		truncate -s "$2" "$1"
	else
		dd if="$1" of="$1.cut" bs="$2" count=1 2>/dev/null &&
			mv "$1.cut" "$1"
	fi
}

# flip_byte FILE OFFSET: replaces the byte at OFFSET by its complement.
flip_byte() {
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the octal escape
	printf "\\$(printf '%03o' $((255 - b)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# gen_lines COUNT [BAD_LINE]: KEY<TAB>VALUE lines key0001..; line BAD_LINE
# has no TAB.
gen_lines() {
	awk -v count="$1" -v bad="${2:-0}" 'BEGIN {
		for (i = 1; i <= count; i++)
			if (i == bad)
				printf "key%04d value without a tab\n", i
			else
				printf "key%04d\tvalue number %d\n", i, i
	}'
}

# The segment files of DIR, oldest first (the names are zero-padded).
segments() {
	for f in "$1"/*.seg; do
		if [ -f "$f" ]; then echo "$f"; fi
	done | sort
}

newest_segment() {
	segments "$1" | tail -n 1
}

oldest_segment() {
	segments "$1" | head -n 1
}

# ---------------------------------------------------------------------------
# put, get, del
# ---------------------------------------------------------------------------

D=$T/kv

run "$LK" put "$D" greeting hello
expect_rc "put stores a value and creates DIR" 0

run "$LK" get "$D" greeting
printf 'hello' >"$T/want"
check "get prints the value exactly, with no newline added" \
	cmp -s "$T/out" "$T/want"

run "$LK" get "$D" nosuchkey
expect_rc "get of an absent key exits 1" 1
check "get of an absent key prints nothing" test ! -s "$T/out"

run "$LK" put "$D" doomed value
run "$LK" del "$D" doomed
expect_rc "del succeeds" 0
run "$LK" get "$D" doomed
expect_rc "get after del exits 1" 1

run "$LK" del "$D" neverthere
expect_rc "del of an absent key succeeds" 0

printf 'line one\nline\ttwo\000and a NUL\n' >"$T/value"
run "$LK" put "$D" fromstdin <"$T/value"
expect_rc "put reads the value from stdin when VALUE is omitted" 0
run "$LK" get "$D" fromstdin
check "a value from stdin comes back byte for byte" \
	cmp -s "$T/out" "$T/value"

dd if=/dev/zero bs=1024 count=1024 2>/dev/null | tr '\0' 'v' >"$T/big"
run "$LK" put "$D" big <"$T/big"
expect_rc "a value of exactly 1 MiB is accepted" 0
run "$LK" get "$D" big
check "a 1 MiB value comes back whole" cmp -s "$T/out" "$T/big"

printf 'x' >>"$T/big"
run "$LK" put "$D" toobig <"$T/big"
expect_rc "a value over 1 MiB on stdin is refused with exit 2" 2
run "$LK" get "$D" toobig
expect_rc "nothing of a refused value is stored" 1

run "$LK" put "$D" -dash -1
run "$LK" get "$D" -dash
check "a KEY and VALUE after DIR that start with '-' are not options" \
	test "$(cat "$T/out")" = "-1"

run "$LK" put --ttl 1 "$D" shortlived value
run "$LK" get "$D" shortlived
expect_rc "a record with --ttl is there before it expires" 0
sleep 2
run "$LK" get "$D" shortlived
expect_rc "a record past its --ttl is not returned" 1

run "$LK" put --ttl 0 "$D" k v
expect_rc "--ttl 0 is a usage error" 2

# An expiry past 2038, the end of a 32-bit time_t (armhf's), is kept and
# printed as its own year on every host: a century of --ttl.
run "$LK" put --ttl 3155760000 "$D" century value
run "$LK" get "$D" century
expect_rc "a record expiring in a century is returned" 0
run "$LK" dump --json --key century "$D"
check "an expiry past 2038 is dumped in its year, not in 1901-1969" \
	grep -q '"expires_at":"21[0-9][0-9]-' "$T/out"

run "$LK" put --segment-size 12x "$D" k v
expect_rc "--segment-size that is not a number is a usage error" 2

# ---------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------

run "$LK" put -n a "$D" shared "in a"
run "$LK" put --namespace b "$D" shared "in b"
run "$LK" get -n a "$D" shared
check "-n a sees its own value" test "$(cat "$T/out")" = "in a"
run "$LK" get -n b "$D" shared
check "-n b sees its own value" test "$(cat "$T/out")" = "in b"
run "$LK" get "$D" shared
expect_rc "the default namespace does not see a key of namespace a" 1
run "$LK" get -n nosuchns "$D" shared
expect_rc "get in an absent namespace exits 1" 1
run "$LK" scan -n nosuchns "$D"
check "scan of an absent namespace prints nothing and exits 0" \
	eval '[ "$rc" -eq 0 ] && [ ! -s "$T/out" ]'

# ---------------------------------------------------------------------------
# load and scan
# ---------------------------------------------------------------------------

L=$T/load
gen_lines 1000 >"$T/lines"
run "$LK" load "$L" <"$T/lines"
check "load of 1000 lines prints 'stored 1000 records'" \
	eval '[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "stored 1000 records" ]'
check "load shows no progress when stderr is not a terminal" \
	test ! -s "$T/err"

run "$LK" scan "$L"
check "scan lists the 1000 loaded records" test "$(lines "$T/out")" = 1000
check "scan prints KEY<TAB>VALUE" grep -q "^key0042${TAB}value number 42\$" \
	"$T/out"

run "$LK" scan --prefix key01 "$L"
check "scan --prefix lists only the keys with the prefix" \
	eval '[ "$(lines "$T/out")" = 100 ] &&
	      [ "$(grep -c "^key01" "$T/out")" = 100 ]'

M=$T/malformed
gen_lines 25 25 >"$T/lines"
run "$LK" load --batch 10 "$M" <"$T/lines"
expect_rc "load of a malformed line exits 2" 2
check "the error names the malformed line" grep -q "line 25" "$T/err"
run "$LK" scan "$M"
check "the batches before the malformed line stay, its own is not stored" \
	test "$(lines "$T/out")" = 20

printf '\tvalue with an empty key\n' >"$T/in"
run "$LK" load "$M" <"$T/in"
expect_rc "load of a line with an empty key exits 2" 2

gen_lines 30 >"$T/in"
run "$LK" load --batch 7 --sync none -n bulk "$M" <"$T/in"
check "load --sync none --batch 7 stores every line" \
	eval '[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "stored 30 records" ]'

run "$LK" load --sync sometimes "$M" </dev/null
expect_rc "load --sync with an unknown mode is a usage error" 2

E=$T/escape
printf 'x\ny\\z\001' >"$T/in"
run "$LK" put "$E" "k${TAB}1" <"$T/in"
run "$LK" scan "$E"
printf 'k\\t1\tx\\ny\\\\z\\x01\n' >"$T/want"
check "scan escapes TAB, newline, backslash and other bytes, one line each" \
	cmp -s "$T/out" "$T/want"

# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------

run "$LK" put --bogus "$D" k v
expect_rc "an unknown option exits 2" 2
run "$LK" --bogus
expect_rc "an unknown global option exits 2" 2
run "$LK" frobnicate "$D"
expect_rc "an unknown command exits 2" 2
run "$LK"
expect_rc "no command exits 2" 2
run "$LK" get "$D"
expect_rc "a missing argument exits 2" 2
run "$LK" get "$T/nosuchdir" k
check "get in a DIR that does not exist exits 2 and creates nothing" \
	eval '[ "$rc" -eq 2 ] && [ ! -e "$T/nosuchdir" ]'

run "$LK" --help
check "--help prints the manual with its exit statuses" \
	eval '[ "$rc" -eq 0 ] && grep -q "^EXIT STATUS" "$T/out"'
run "$LK" help
check "'logkeep help' prints the manual" \
	eval '[ "$rc" -eq 0 ] && grep -q "^SYNOPSIS" "$T/out"'
run "$LK" load --help
check "'logkeep load --help' prints the manual of load" \
	eval '[ "$rc" -eq 0 ] && grep -q "logkeep load" "$T/out"'
run "$LK" --version
check "--version prints the version" grep -q '^logkeep [0-9]' "$T/out"
# every command named in the manual's synopsis has a manual with examples
# (help's own manual is the whole one)
cmds=$("$LK" help | sed -n '/^SYNOPSIS/,/^[A-Z]/s/^       logkeep \([a-z][a-z-]*\) .*/\1/p' |
	grep -v '^help$' | sort -u)
no_examples=""
for c in $cmds; do
	"$LK" "$c" --help 2>/dev/null | grep -q '^EXAMPLES' ||
		no_examples="$no_examples $c"
done
echo "commands without EXAMPLES:${no_examples:- none}" >"$T/why"
check "every command's --help has examples ($(echo $cmds | wc -w) commands)" \
	eval '[ -z "$no_examples" ] && [ -n "$cmds" ]'

# ---------------------------------------------------------------------------
# A second writer
# ---------------------------------------------------------------------------

# load takes the lock when it opens DIR, before it reads stdin; fed from a
# FIFO that stays open, it holds the lock for as long as the test wants.
B=$T/busy
mkfifo "$T/fifo"
"$LK" load "$B" <"$T/fifo" >"$T/load.out" 2>"$T/load.err" &
load_pid=$!
exec 3>"$T/fifo"
tries=0
while [ ! -e "$B/LOCK" ] && [ "$tries" -lt 50 ]; do
	sleep 1
	tries=$((tries + 1))
done
sleep 1
run "$LK" put "$B" k v
expect_rc "a second writer gets exit status 5 (busy)" 5
run "$LK" get "$B" k
expect_rc "a reader is not blocked by the writer" 1
printf 'k\tfrom load\n' >&3
exec 3>&-
wait "$load_pid"
# shellcheck disable=SC2034 # read by the eval below
load_rc=$?
check "the first writer finishes normally" \
	eval '[ "$load_rc" -eq 0 ] && grep -q "stored 1 records" "$T/load.out"'

# ---------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------

V=$T/verify
gen_lines 1000 | "$LK" load --batch 10 "$V" >/dev/null 2>&1
run "$LK" verify "$V"
expect_rc "verify of a healthy directory exits 0" 0
check "verify prints the recovery report" grep -q '^records_replayed: ' \
	"$T/out"

run "$LK" verify --json "$V"
check "verify --json of a healthy directory exits 0, on one line" \
	eval '[ "$rc" -eq 0 ] && [ "$(lines "$T/out")" = 1 ]'
check "verify --json output is valid JSON" json_parses "$T/out"
check "verify --json says ok" grep -q '"ok":true' "$T/out"
zero_tail=$(json_field zero_tail_bytes "$T/out")

run "$LK" verify "$T/nosuchdir"
expect_rc "verify of a DIR that does not exist exits 2" 2

seg=$(newest_segment "$V")
check "DIR holds segment files named <sequence>.seg" test -n "$seg"

# A torn tail: cut the last few bytes of data off the newest segment.
if [ -n "$seg" ]; then
	truncate_to "$seg" $(($(file_size "$seg") - ${zero_tail:-0} - 3))
	run "$LK" verify "$V"
	expect_rc "verify of a torn tail exits 1" 1
	run "$LK" verify --json "$V"
	check "verify --json reports the torn tail and exits 1" \
		eval '[ "$rc" -eq 1 ] &&
		      grep -q "\"kind\":\"torn_tail\"" "$T/out"'
	check "verify --json of a torn tail is valid JSON" json_parses "$T/out"
	run "$LK" put "$V" after-cut value
	run "$LK" verify "$V"
	expect_rc "a writing open cuts the torn tail: verify exits 0 after" 0
fi

# Damage: one flipped byte in the middle of a segment with many commits
# after it (100 commits of 10 records, one segment).
C=$T/corrupt
gen_lines 1000 | "$LK" load --batch 10 "$C" >/dev/null 2>&1
run "$LK" verify --json "$C"
zero_tail=$(json_field zero_tail_bytes "$T/out")
seg=$(newest_segment "$C")
if [ -n "$seg" ]; then
	flip_byte "$seg" $((($(file_size "$seg") - ${zero_tail:-0}) / 2))
	run "$LK" verify "$C"
	expect_rc "verify of a flipped byte mid-segment exits 3" 3
	check "verify names the segment and offset of the damage" \
		grep -q '^segment [0-9]* offset [0-9]*: ' "$T/out"
	run "$LK" verify --json "$C"
	check "verify --json of damage says \"ok\":false and exits 3" \
		eval '[ "$rc" -eq 3 ] && grep -q "\"ok\":false" "$T/out"'
	check "verify --json of damage is valid JSON" json_parses "$T/out"
	run "$LK" get "$C" key0001
	expect_rc "get on a damaged directory exits 3" 3
fi

# Damage in a sealed segment: small segments, flip a byte in the oldest.
S=$T/sealed
gen_lines 1000 |
	"$LK" load --batch 10 --segment-size 4096 "$S" >/dev/null 2>&1
seg=$(oldest_segment "$S")
if [ -n "$seg" ] && [ "$seg" != "$(newest_segment "$S")" ]; then
	flip_byte "$seg" $(($(file_size "$seg") / 2))
	run "$LK" verify "$S"
	expect_rc "verify of a flipped byte in an older segment exits 3" 3
else
	not_ok "load --segment-size 4096 of 1000 records makes several segments"
fi

# An overwrite of a key whose record lies in a sealed (mapped) segment
# names that record (format 3's replaces): dump shows the claim, and it
# is the place dump gives the older record.
R=$T/replaces
gen_lines 300 |
	"$LK" load --batch 10 --segment-size 4096 "$R" >/dev/null 2>&1
"$LK" put --segment-size 4096 "$R" key0005 newer >/dev/null 2>&1
run "$LK" dump --json --key key0005 "$R"
check "dump --json of an overwritten key prints both records" \
	test "$(lines "$T/out")" = 2
place=$(head -n 1 "$T/out" |
	sed -n 's/.*"segment":\([0-9]*\),.*"offset":\([0-9]*\),.*/"segment":\1,"offset":\2/p')
check "the overwrite's replaces is the older record's segment and offset" \
	eval 'tail -n 1 "$T/out" | grep -q "\"replaces\":{$place}" &&
	! head -n 1 "$T/out" | grep -q replaces'
run "$LK" dump --key key0005 "$R"
check "dump's YAML shows the claim too" grep -q '^  replaces:$' "$T/out"

# Backup: a consistent copy that opens as a database of its own.
B=$T/backup-src
gen_lines 500 | "$LK" load --segment-size 4096 "$B" >/dev/null 2>&1
run "$LK" backup "$B" "$T/backup-copy"
expect_rc "backup of a data directory exits 0" 0
run "$LK" scan "$T/backup-copy"
check "the backup holds every record" test "$(lines "$T/out")" = 500
run "$LK" verify "$T/backup-copy"
expect_rc "the backup verifies clean" 0
run "$LK" backup "$B" "$T/backup-copy"
check "a backup into a non-empty directory is refused" \
	eval '[ "$rc" -ne 0 ] && grep -q "already" "$T/err"'

# Compact: the same records in less space.
C=$T/compact
for round in 1 2 3 4; do
	gen_lines 300 | "$LK" load --segment-size 4096 "$C" >/dev/null 2>&1
done
before=$(du -sk "$C" | cut -f1)
run "$LK" compact "$C"
expect_rc "compact exits 0" 0
check "compact reports what it dropped" grep -q '^records_dropped: [1-9]' "$T/out"
run "$LK" scan "$C"
check "after compact every key is still there" test "$(lines "$T/out")" = 300
check "compact shrinks the directory" test "$(du -sk "$C" | cut -f1)" -lt "$before"
run "$LK" verify "$C"
expect_rc "the compacted directory verifies clean" 0
run "$LK" compact "$T/no-such-dir"
expect_rc "compact of a missing DIR is a usage error" 2
check "compact does not create a missing DIR" test ! -e "$T/no-such-dir"

# Snapshot: the next open loads the index instead of replaying the log.
check "compact leaves a snapshot" eval 'ls "$C" | grep -q "^[0-9a-f]\{16\}\.snap$"'
run "$LK" put "$C" after-compact value
run "$LK" snapshot "$C"
expect_rc "snapshot exits 0" 0
check "snapshot names the file it wrote" grep -q '^snapshot: [0-9a-f]\{16\}\.snap, ' "$T/out"
check "the snapshot file is in DIR" eval 'ls "$C" | grep -q "^[0-9a-f]\{16\}\.snap$"'
run "$LK" snapshot "$C"
check "a second snapshot of the same state writes nothing" grep -q 'is up to date' "$T/out"
run "$LK" stats "$C"
check "stats shows the snapshot and no log after it" \
	grep -q '^snapshot: [0-9a-f]\{16\}\.snap, taken .*; 0 bytes of log after it' "$T/out"
check "stats says its open did not read the log before the snapshot" \
	grep -q '^  not read by this open: the log before the snapshot' "$T/out"
run "$LK" verify --json "$C"
check "verify's report says the snapshot is used" grep -q '"snapshot_used":true' "$T/out"
run "$LK" scan "$C"
check "after the snapshot every key is still there" test "$(lines "$T/out")" = 301
mkdir "$T/empty-dir"
run "$LK" snapshot "$T/empty-dir"
check "a snapshot of an empty DIR writes nothing" grep -q '^snapshot: none needed' "$T/out"
run "$LK" snapshot "$T/no-such-dir"
expect_rc "snapshot of a missing DIR is a usage error" 2

# A damaged snapshot: open replays the log instead, so every answer
# stands, and each command that opens DIR says so on stderr, naming the
# file and why; stats reports it, verify counts it.
cp -r "$C" "$T/snapdmg"
snap=$(ls "$T/snapdmg" | grep '^[0-9a-f]\{16\}\.snap$' | head -n 1)
flip_byte "$T/snapdmg/$snap" $(($(file_size "$T/snapdmg/$snap") - 40))
run "$LK" get "$T/snapdmg" after-compact
expect_rc "get with a damaged snapshot exits 0" 0
check "get with a damaged snapshot answers from the log" \
	test "$(cat "$T/out")" = value
check "get warns of the damaged snapshot, naming it and why" \
	grep -q "^logkeep: get: warning: damaged snapshot $snap: checksum mismatch in its index entries; not used, nothing is lost (open read the log instead); \`logkeep verify $T/snapdmg\` reports it, \`logkeep snapshot $T/snapdmg\` replaces it$" "$T/err"
run "$LK" scan "$T/snapdmg"
check "scan with a damaged snapshot lists every key" test "$(lines "$T/out")" = 301
check "scan warns of the damaged snapshot" grep -q "warning: damaged snapshot $snap" "$T/err"
run "$LK" stats "$T/snapdmg"
check "stats shows the damaged snapshot" \
	grep -q "^  snapshot_damaged: $snap: checksum mismatch" "$T/out"
run "$LK" stats --json "$T/snapdmg"
json_check "stats --json: recovery.snapshot_damaged names it" "$T/out" \
	'j["recovery"]["snapshot_damaged"].startswith("'"$snap"': ")'
run "$LK" verify --json "$T/snapdmg"
expect_rc "verify of a damaged snapshot exits 3" 3
json_check "verify --json: its report's snapshot_damaged names it" \
	"$T/out" 'j["report"]["snapshot_damaged"].startswith("'"$snap"': ")'
run "$LK" put "$T/snapdmg" after-damage value2
expect_rc "put with a damaged snapshot exits 0" 0
check "put warns of it and what removes it" \
	grep -q "^logkeep: put: warning: damaged snapshot $snap: .*; this open removes it, or the next snapshot does (\`logkeep snapshot $T/snapdmg\`)$" "$T/err"
run "$LK" snapshot "$T/snapdmg"
check "snapshot warns that the snapshot it writes replaces it" \
	grep -q "^logkeep: snapshot: warning: damaged snapshot $snap: .*; the snapshot this command writes replaces it$" "$T/err"
run "$LK" get "$T/snapdmg" after-damage
check "after a new snapshot the value reads back" test "$(cat "$T/out")" = value2
check "after a new snapshot no warning is left" test ! -s "$T/err"
check "the damaged snapshot file is gone" test ! -e "$T/snapdmg/$snap"
run "$LK" get "$C" after-compact
check "an intact snapshot brings no warning" test ! -s "$T/err"

# Stats: totals, namespaces and segments, as text and as JSON.
run "$LK" stats "$B"
check "stats draws a bar per segment" grep -q '^ *[0-9][0-9]*[ *] .*bytes \[' "$T/out"
run "$LK" stats --json "$B"
expect_rc "stats --json exits 0" 0
check "stats --json is valid JSON" json_parses "$T/out"
check "stats --json has live_keys 500, disk_bytes and live_bytes" \
	eval 'grep -q "\"live_keys\":500," "$T/out" &&
	      grep -q "\"disk_bytes\":" "$T/out" &&
	      grep -q "\"live_bytes\":" "$T/out"'

# Stats of a compacted directory with a snapshot and two namespaces: each
# namespace's keys and live bytes, the compaction totals (which a later
# read-only open reports: they are kept in the snapshot file), the
# snapshot's serial and age, and the recovery report of stats' own open.
P=$T/stats
for round in 1 2 3; do
	gen_lines 300 | "$LK" load --segment-size 4096 "$P" >/dev/null 2>&1
done
run "$LK" put -n nodes "$P" n1 hello
run "$LK" compact "$P"
dropped1=$(sed -n 's/^records_dropped: //p' "$T/out")
run "$LK" stats --json "$P"
expect_rc "stats --json of a compacted directory exits 0" 0
cp "$T/out" "$T/stats1.json"
json_check "stats --json: each namespace's keys and live bytes" \
	"$T/stats1.json" '[(x["name"], x["keys"]) for x in j["namespaces"]] ==
	[("default", 300), ("nodes", 1)] and
	all(x["live_bytes"] > 0 for x in j["namespaces"]) and
	sum(x["live_bytes"] for x in j["namespaces"]) < j["live_bytes"]'
json_check "stats --json: 300 keys of equal values hold 300 times the bytes of one" \
	"$T/stats1.json" 'j["namespaces"][0]["live_bytes"] > 300 * 20'
json_check "stats --json: index bytes per key" "$T/stats1.json" \
	'abs(j["index_bytes_per_key"] - j["index_bytes"] / j["live_keys"]) < 0.06'
json_check "stats --json: compaction totals of the compact before" \
	"$T/stats1.json" 'j["compaction_totals"]["compactions"] >= 1 and
	j["compaction_totals"]["records_dropped"] == '"${dropped1:-0}"' and
	j["compaction_totals"]["segments_removed"] >=
	j["compaction_totals"]["compactions"] and
	j["compaction_totals"]["bytes_read"] > 0 and
	j["compaction_totals"]["bytes_written"] > 0'
json_check "stats --json: the snapshot's serial and age" "$T/stats1.json" \
	'j["snapshot"]["serial"] >= 1 and j["snapshot"]["age_ms"] >= 0 and
	j["snapshot"]["behind_bytes"] == 0 and j["log_replayed_bytes"] == 0'
json_check "stats --json: its open's recovery report, from the snapshot" \
	"$T/stats1.json" 'j["recovery"]["snapshot_used"] is True and
	j["recovery"]["records_replayed"] == 0 and
	j["recovery"]["bytes_cut"] == 0 and
	"%016x.snap" % j["snapshot"]["serial"] in j["recovery"]["snapshot_note"]
	and j["recovery"]["segments_read"] == j["segment_count"]'
run "$LK" stats --help
cp "$T/out" "$T/stats-help"
json_check "stats --help documents every member of stats --json" \
	"$T/stats1.json" 'all(k in open(sys.argv[1].replace("stats1.json",
	"stats-help")).read() for k in list(j) + list(j["namespaces"][0]) +
	list(j["segments"][0]) + list(j["snapshot"]) +
	list(j["compaction_totals"]) + list(j["recovery"]))'
check "stats --help has examples" grep -q '^EXAMPLES' "$T/stats-help"
gen_lines 300 | "$LK" load --segment-size 4096 "$P" >/dev/null 2>&1
run "$LK" compact "$P"
dropped2=$(sed -n 's/^records_dropped: //p' "$T/out")
run "$LK" stats --json "$P"
json_check "stats --json: the totals add up the compactions of both runs" \
	"$T/out" 'j["compaction_totals"]["records_dropped"] == '"$((${dropped1:-0} + ${dropped2:-0}))"' and
	j["compaction_totals"]["compactions"] >
	json.load(open(sys.argv[1].replace("out", "stats1.json")))
	["compaction_totals"]["compactions"]'
run "$LK" stats "$P"
check "stats shows each namespace's live bytes" \
	grep -q '^  nodes  *1 keys  *[1-9][0-9]* bytes$' "$T/out"
check "stats shows the compactions since the database was created" \
	grep -q '^compactions since the database was created: [1-9]' "$T/out"
check "stats shows the snapshot's serial and age" \
	grep -q '^snapshot: [0-9a-f]\{16\}\.snap, taken .*(serial [1-9][0-9]*, age [0-9]* ms)' "$T/out"
check "stats shows its open's recovery report" \
	grep -q '^recovery (this read-only open): [1-9][0-9]* segments read, 0 records replayed, 0 discarded, 0 bytes cut, .*snapshot used; .*$' "$T/out"

# The memory budget: a load stops at the first batch whose keys the index
# cannot hold within it; what was stored stays, overwrites pass, and
# stats reckon the room under a budget.
M=$T/budget
gen_lines 6000 | "$LK" load --sync none --batch 1 --memory-bytes 65536 "$M" \
	>"$T/out" 2>"$T/err"
rc=$?
expect_rc "load past the memory budget exits 2" 2
check "load past the memory budget names it" \
	grep -q 'limit exceeded: memory budget of 65536 bytes (memory_bytes_max)' "$T/err"
run "$LK" put --memory-bytes 65536 "$M" key0001 again
expect_rc "put of an existing key at the memory budget succeeds" 0
run "$LK" stats --json --memory-bytes 65536 "$M"
json_check "stats --json --memory-bytes: the budget, what it charges, the room" \
	"$T/out" 'j["memory_bytes_max"] == 65536 and
	j["memory_bytes"] == j["index_bytes"] + j["map_bytes"] and
	1000 < j["live_keys"] < 6000 and j["memory_keys_room"] < 1000'
run "$LK" stats --json "$M"
json_check "stats --json without a budget: 0, and room up to the index limit" \
	"$T/out" 'j["memory_bytes_max"] == 0 and j["memory_keys_room"] > 10**8'
run "$LK" stats --memory-bytes 65536 "$M"
check "stats shows the memory budget" \
	grep -q '^memory: [0-9]* bytes (index and mappings) of a budget of 65536 ([0-9]*%); room for [0-9]* more keys$' "$T/out"
run "$LK" put --memory-bytes 1000 "$M" k v
expect_rc "a memory budget under 65536 is a usage error" 2

# Without a snapshot the report says why and counts the records
# replayed; a torn tail is reported (a read-only open cuts nothing).
Q=$T/stats-torn
gen_lines 300 | "$LK" load --batch 10 "$Q" >/dev/null 2>&1
run "$LK" verify --json "$Q"
zero_tail=$(json_field zero_tail_bytes "$T/out")
run "$LK" stats --json "$Q"
json_check "stats --json without a snapshot: null, and the whole log replayed" \
	"$T/out" 'j["snapshot"] is None and
	j["recovery"]["snapshot_used"] is False and
	"no snapshot" in j["recovery"]["snapshot_note"] and
	j["recovery"]["records_replayed"] == 300 and
	j["compaction_totals"]["compactions"] == 0 and
	j["log_replayed_bytes"] > 0'
seg=$(newest_segment "$Q")
truncate_to "$seg" $(($(file_size "$seg") - ${zero_tail:-0} - 3))
run "$LK" stats --json "$Q"
expect_rc "stats of a torn tail exits 0" 0
json_check "stats --json reports the torn tail its open found" "$T/out" \
	'j["recovery"]["bytes_cut"] > 0 and j["recovery"]["tail_note"] != ""
	and j["recovery"]["cut_segment_seq"] == 1'
run "$LK" stats "$Q"
check "stats says what was cut and why" grep -q '^  tail_note: ' "$T/out"

# ---------------------------------------------------------------------------
# Hostile directories: one exit status per kind of state, from every command
# ---------------------------------------------------------------------------

# run_t COMMAND...: run, but a command that hangs is killed after 60
# seconds (exit status 124) instead of hanging the suite.
run_t() {
	if command -v timeout >/dev/null 2>&1; then
		run timeout 60 "$@"
	else
		run "$@"
	fi
}

# every_command NAME WANT DIR: runs the read and write commands on DIR
# and checks that each exits WANT.
every_command() {
	for c in "get $3 key0001" "scan $3" "verify $3" "stats $3" \
		"put $3 k v" "del $3 k" "compact $3" "snapshot $3" \
		"backup $3 $T/hostile-backup"; do
		# shellcheck disable=SC2086 # the words of c are meant
		run_t "$LK" $c
		expect_rc "$1: ${c%% *} exits $2" "$2"
		rm -rf "$T/hostile-backup"
	done
}

H=$T/hostile
gen_lines 20 | "$LK" load "$H" >/dev/null 2>&1
mkfifo "$H/00000000000000ff.seg"
every_command "a FIFO named like a segment is refused without blocking" 4 "$H"
run_t "$LK" get "$H" key0001
check "the refusal of a FIFO names it" grep -q '00000000000000ff.seg.*FIFO' \
	"$T/err"
rm -f "$H/00000000000000ff.seg"
mkfifo "$H/00000000000000ff.snap"
run_t "$LK" get "$H" key0001
expect_rc "a FIFO named like a snapshot is not used, nor waited on" 0
run_t "$LK" verify "$H"
check "verify says why the FIFO snapshot is not used" \
	eval '[ "$rc" -eq 0 ] && grep -q "snapshot_note: .*FIFO" "$T/out"'
rm -f "$H/00000000000000ff.snap" "$H/LOCK"
mkfifo "$H/LOCK"
run_t "$LK" put "$H" k v
check "a FIFO as the LOCK file fails a writing open with exit 4" \
	eval '[ "$rc" -eq 4 ] && grep -q "LOCK.*FIFO" "$T/err"'
run_t "$LK" get "$H" key0001
expect_rc "a read-only open takes no lock, so the LOCK FIFO is not opened" 0
rm -f "$H/LOCK"

: >"$T/plain-file"
every_command "a regular file given as DIR is a bad argument" 2 \
	"$T/plain-file"

M=$T/many-segments
mkdir "$M"
awk 'BEGIN { for (i = 1; i <= 1001; i++) printf "%016x.seg\n", i }' |
	while read -r f; do : >"$M/$f"; done
every_command "more than 1000 segment files exceed the limit" 6 "$M"

# A newest segment with an 8 GiB sparse tail: refused as damage from its
# size, without reading the tail.
Z=$T/sparse
gen_lines 20 | "$LK" load "$Z" >/dev/null 2>&1
seg=$(newest_segment "$Z")
if command -v truncate >/dev/null 2>&1 && truncate -s 8G "$seg"; then
	every_command "a segment with an 8 GiB sparse tail is damage" 3 "$Z"
	check "the refused opens left the sparse segment as it was" \
		test "$(file_size "$seg")" = 8589934592
fi

# compact on a directory with damage behind a snapshot (which a writing
# open does not read): refused with exit 3, every file as it was.
X=$T/compact-damaged
gen_lines 300 | "$LK" load --batch 10 --segment-size 4096 "$X" >/dev/null 2>&1
gen_lines 300 | "$LK" load --batch 10 --segment-size 4096 "$X" >/dev/null 2>&1
"$LK" snapshot "$X" >/dev/null 2>&1
for i in 1 2 3 4 5 6 7 8; do # dead bytes in the active segment, which
	"$LK" put "$X" key0001 "changed $i" >/dev/null 2>&1 # compact seals
done
seg=$(oldest_segment "$X")
flip_byte "$seg" $(($(file_size "$seg") / 2))
listing() {
	for f in "$1"/*; do echo "${f##*/} $(file_size "$f")"; done
}
listing "$X" >"$T/before"
run_t "$LK" compact "$X"
expect_rc "compact of a damaged directory exits 3" 3
listing "$X" >"$T/after"
check "a refused compact changes no file" cmp -s "$T/before" "$T/after"

# ---------------------------------------------------------------------------
# A full device: del and compact free space (the reserve in LOCK)
# ---------------------------------------------------------------------------

# A 4 MiB tmpfs, mounted in a user and mount namespace of its own (no root
# needed where the kernel allows unprivileged user namespaces; skipped
# where it does not): puts of 100 KiB fill it, then del and compact must
# still succeed and free space for puts again.  The inner shell writes
# each step's exit status to $T/full.rc for the checks below.
F=$T/full
mkdir -p "$F"
head -c 102400 /dev/urandom >"$T/blob" 2>/dev/null
if command -v unshare >/dev/null 2>&1 &&
	unshare --user --map-root-user --mount true 2>/dev/null; then
	unshare --user --map-root-user --mount sh -c '
		LK=$1 F=$2 B=$3 OUT=$4
		mount -t tmpfs -o size=4m tmpfs "$F" || exit 77
		D=$F/db i=0
		while [ $i -lt 100 ] &&
			"$LK" put --segment-size 262144 "$D" "k$i" <"$B"; do
			i=$((i + 1))
		done 2>/dev/null
		echo "filled $i" >"$OUT"
		# the last bytes, with small records
		awk "BEGIN { for (j = 0; j < 100000; j++) print \"s\" j \"\t\" j }" |
			"$LK" load --batch 1 "$D" >/dev/null 2>&1
		echo "load_full $?" >>"$OUT"
		"$LK" put "$D" one-more <"$B" 2>/dev/null
		echo "put_full $?" >>"$OUT"
		rc=0 k=1
		while [ $k -lt $i ]; do
			"$LK" del "$D" "k$k" 2>>"$OUT.err" || rc=$?
			k=$((k + 1))
		done
		echo "del $rc" >>"$OUT"
		"$LK" compact "$D" >/dev/null 2>>"$OUT.err"
		echo "compact $?" >>"$OUT"
		rc=0 k=0
		while [ $k -lt $((i / 2)) ]; do
			"$LK" put "$D" "again$k" <"$B" 2>>"$OUT.err" || rc=$?
			k=$((k + 1))
		done
		echo "put_after $rc" >>"$OUT"
		"$LK" get "$D" k0 >"$F.k0" 2>>"$OUT.err"
		echo "get_kept $?" >>"$OUT"
		cmp -s "$F.k0" "$B"
		echo "kept_same $?" >>"$OUT"
		"$LK" verify "$D" >/dev/null 2>>"$OUT.err"
		echo "verify $?" >>"$OUT"
	' sh "$LK" "$F" "$T/blob" "$T/full.rc"
	full_rc() { awk -v k="$1" '$1 == k { print $2 }' "$T/full.rc"; }
	cp "$T/full.rc.err" "$T/err" 2>/dev/null || : >"$T/err"
	check "puts fill a 4 MiB device" test "$(full_rc filled)" -ge 20
	check "small records fill the last bytes (load exits 4)" \
		test "$(full_rc load_full)" = 4
	check "a put on the full device exits 4 (no space)" \
		test "$(full_rc put_full)" = 4
	check "del succeeds on the full device" test "$(full_rc del)" = 0
	check "compact succeeds on the full device" \
		test "$(full_rc compact)" = 0
	check "after del and compact, puts succeed again" \
		test "$(full_rc put_after)" = 0
	check "a key kept through it all reads back whole" \
		test "$(full_rc get_kept)" = 0 -a "$(full_rc kept_same)" = 0
	check "the directory verifies after it" test "$(full_rc verify)" = 0
else
	echo "# skipped: no unprivileged mount namespace for a small tmpfs"
fi

# ---------------------------------------------------------------------------
# The mesh layer: demo, node, policy, cache, history, ledger
# ---------------------------------------------------------------------------

M="$T/mesh"
run "$LK" demo --seconds 1 "$M"
expect_rc "demo runs a mesh node for a second" 0
check "demo registers 16 nodes" grep -q '^nodes: 16 ' "$T/out"
check "demo verifies the ledger" grep -q '^ledger chain verified' "$T/out"
run "$LK" demo --seconds 1 "$M"
expect_rc "demo runs again on the same DIR" 0
check "the second run keeps 16 nodes" grep -q '^nodes: 16 ' "$T/out"
run "$LK" demo --seconds 0 "$M"
expect_rc "demo --seconds 0 is a usage error" 2

run "$LK" node list "$M"
expect_rc "node list" 0
check "node list prints 16 nodes as YAML" \
	test "$(grep -c '^- id: node-' "$T/out")" = 16
run "$LK" node list --json "$M"
check "node list --json prints JSON" json_parses "$T/out"
run "$LK" node get "$M" node-03
expect_rc "node get" 0
check "node get prints the node" grep -q '^id: node-03$' "$T/out"
run "$LK" node get "$M" node-99
expect_rc "node get of an absent node exits 1" 1
check "node get of an absent node prints nothing" test ! -s "$T/out"
run "$LK" node frobnicate "$M"
expect_rc "an unknown node subcommand is a usage error" 2

printf 'name: p\nrules:\n  - action: allow\n  - [oops\n' >"$T/bad.yaml"
run "$LK" policy put "$M" bad "$T/bad.yaml"
expect_rc "policy put of bad YAML exits 2" 2
check "it names FILE:LINE:COLUMN" grep -q 'bad.yaml:5:1: ' "$T/err"
run "$LK" policy get "$M" bad
expect_rc "and nothing was stored" 1
printf 'name: p\npriority: 1\n' >"$T/norules.yaml"
run "$LK" policy put "$M" bad "$T/norules.yaml"
expect_rc "policy put without a rules sequence exits 2" 2
check "it says what is missing" grep -q 'rules' "$T/err"
run "$LK" policy example rate-limit-iot
expect_rc "policy example prints an example" 0
cp "$T/out" "$T/rl.yaml"
run "$LK" policy put "$M" rl "$T/rl.yaml"
expect_rc "policy put of an example" 0
check "it counts the rules from the document" grep -q '3 rules' "$T/out"
run "$LK" policy get --json "$M" rl
check "policy get --json prints the document" \
	grep -q '"rules_count":3' "$T/out"
run "$LK" policy list "$M"
check "policy list shows the demo's and the new one" \
	test "$(grep -c '^- id: ' "$T/out")" = 5

run "$LK" cache get "$M" node-00 node-01 x
expect_rc "cache get with a bad K is a usage error" 2
run "$LK" cache clear-expired "$M"
expect_rc "cache clear-expired" 0
check "it says how many went" grep -q '^removed [0-9]* expired' "$T/out"

run "$LK" history "$M" node-00
expect_rc "history" 0
check "history starts at the registration" \
	grep -q 'to: registered' "$T/out"
run "$LK" history --json "$M" node-00
check "history --json prints JSON" json_parses "$T/out"
run "$LK" history "$M" nobody
expect_rc "history of an entity without one exits 1" 1
run "$LK" ledger verify "$M"
expect_rc "ledger verify of a sound ledger" 0
check "it counts the entries" grep -q '^ledger chain holds: [0-9]* entries' \
	"$T/out"
run "$LK" node list "$D"
expect_rc "a mesh command on a DIR without mesh data exits 1" 1
run "$LK" --help
check "the manual lists the mesh commands" \
	grep -q 'logkeep ledger verify DIR' "$T/out"

# ---------------------------------------------------------------------------

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	echo "# $failed of $n checks failed"
	exit 1
fi
exit 0
