#!/bin/sh
# SPDX-License-Identifier: MIT
#
# operator_test.sh - what an operator sees who gets a data directory off a
# broken node and runs `logkeep verify`, `logkeep dump` and `logkeep repair`
# on it (SPEC §1, §4, §5, §8): one case per kind of state, each checked
# through the exit status and the JSON the tool prints.
#
#   1 clean                      8 damaged snapshot (a flipped byte in .snap)
#   2 torn tail                  9 broken ledger chain (a ledger head altered
#   3 bit flip in a sealed         through `put -n mesh.ledger`)
#     segment, no snapshot      10 foreign files (README.txt, a subdirectory)
#   4 the same behind a snapshot 11 an empty file as SEGMENT_FILE, and one
#   5 missing middle segment        named like a segment in DIR
#   6 missing newest segment    12 a directory that is not a logkeep database
#   7 duplicated segment        13 a file where a directory is expected
#     (segment 2's file copied
#     over segment 3's name)
#
# Then dump's filters (--segment, --from-seq/--to-seq, -n, --key, --type,
# --live-only, --raw) and its YAML (parsed with python3's yaml module when
# it is installed; the check is skipped with a message otherwise).  Then, for
# every damaged case, `logkeep repair` when the binary has it (else one
# `ok N - ... # SKIP repair not built` line per repair check), on a copy
# without its LOCK: without --yes it changes no file and prints a plan (exit
# 1; a torn tail needs nothing: exit 0, as `repair --help` says); with --yes
# it exits 0, keeps each damaged file aside as NAME.broken, leaves a
# directory that verifies clean (case 9: exit 3, the ledger chain stays
# broken and is reported), every key the test wrote whose sequence number
# is outside the lost ranges it reports (steps with action "lost",
# seq_first, seq_last; 0 for no end) still reads back, and the lost ranges
# stay within the damaged part.
#
# Method: as cli_test.sh.  Every check runs the real binary, each run under
# `timeout 60`, on directories under one mktemp -d directory (removed at
# exit), and prints a TAP line, `ok N - name` or `not ok N - name` followed
# by `# ` lines with what the tool printed; the script exits non-zero if any
# check failed.  The data: 300 records in batches of 10 with
# --segment-size 4096, which makes three segments (110, 110 and 80 records;
# record i has sequence number i).  What the test wrote is read back from
# `dump --json` of the directory before it is damaged: the newest version
# of each key, its sequence number and its segment.  Damage is made where
# the clean dump says a record is: a byte flipped inside the value of the
# middle record of segment 2 (so the record still decodes and fails only its
# checksum), the newest segment cut half-way through its last record.
#
# Usage: sh tests/operator_test.sh path/to/logkeep
# Needs: POSIX sh, timeout, od, dd, cksum, python3 (JSON); truncate
# (optional); python3's yaml module (optional).

# The single-quoted Python and conditions are meant (SC2016), checks read
# the variables they name (SC2034, SC2317), and `set -- $(...)` splits a
# helper's words on purpose (SC2046).
# shellcheck disable=SC2016,SC2034,SC2046,SC2317
set -u

LK=${1:?usage: operator_test.sh path/to/logkeep}
# The binary may be being rebuilt: give it a little time to reappear.
tries=0
while [ ! -x "$LK" ] && [ "$tries" -lt 30 ]; do
	sleep 1
	tries=$((tries + 1))
done
[ -x "$LK" ] || { echo "operator_test.sh: $LK is not executable" >&2; exit 99; }
command -v timeout >/dev/null 2>&1 ||
	{ echo "operator_test.sh: needs timeout(1)" >&2; exit 99; }
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 is needed to parse --json"
	exit 0
fi
# The interpreter itself, found once: a python3 on PATH may be a wrapper
# (pyenv's shim took 0.7 s a call on a loaded CI machine, and the checks
# make hundreds of calls).
PY=$(python3 -c 'import sys; print(sys.executable)') && [ -x "$PY" ] ||
	PY=python3

T=$(mktemp -d "${TMPDIR:-/tmp}/logkeep-operator.XXXXXX") || exit 99
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

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

# not_ok NAME: a failed check, with the last command's stderr and the start
# of its stdout, and why the check's condition failed ($T/why).
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	if [ -s "$T/err" ]; then
		sed 's/^/#   stderr: /' "$T/err" | head -n 10 | cut -c1-300
	fi
	if [ -s "$T/out" ]; then
		sed 's/^/#   stdout: /' "$T/out" | head -n 3 | cut -c1-300
	fi
	if [ -s "$T/why" ]; then
		sed 's/^/#   /' "$T/why" | head -n 10 | cut -c1-300
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# check NAME COMMAND...: COMMAND's exit status decides; what it writes to
# stderr is shown when it fails.
check() {
	name=$1
	shift
	if "$@" 2>"$T/why"; then ok "$name"; else not_ok "$name"; fi
	: >"$T/why"
}

# run COMMAND...: runs COMMAND under `timeout 60` (a hang is exit status
# 124, not a hung suite) with stdout in $T/out and stderr in $T/err, and
# sets $rc.  The binary is rebuilt now and then: when it is missing (126,
# 127), waits for it and runs the command again.
run() {
	tries=0
	while :; do
		timeout 60 "$@" >"$T/out" 2>"$T/err"
		rc=$?
		if [ "$rc" -ne 126 ] && [ "$rc" -ne 127 ] || [ -x "$LK" ] ||
			[ "$tries" -ge 30 ]; then
			break
		fi
		sleep 1
		tries=$((tries + 1))
	done
}

# save NAME: keeps the last run's stdout as $T/NAME.
save() {
	cp "$T/out" "$T/$1"
}

# expect_rc NAME WANT: checks the exit status of the last run.
expect_rc() {
	if [ "$rc" -eq "$2" ]; then
		ok "$1"
	else
		not_ok "$1 (exit status $rc, want $2)"
	fi
}

file_size() {
	wc -c <"$1" | tr -d ' '
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

# gen_lines COUNT [PREFIX]: KEY<TAB>VALUE lines key0001..
gen_lines() {
	awk -v count="$1" -v prefix="${2:-value number }" 'BEGIN {
		for (i = 1; i <= count; i++)
			printf "key%04d\t%s%d\n", i, prefix, i
	}'
}

# make_db DIR: 300 records, batches of 10, segments of 4 KiB: three
# segment files.
make_db() {
	gen_lines 300 |
		timeout 60 "$LK" load --batch 10 --segment-size 4096 "$1" \
			>/dev/null 2>&1
}

count_segments() {
	c=0
	for f in "$1"/*.seg; do
		if [ -f "$f" ]; then c=$((c + 1)); fi
	done
	echo "$c"
}

segname() {
	printf '%016x.seg' "$1"
}

# fingerprint DIR: every file's mode, size, time and checksum, and every
# directory, sorted: equal before and after means nothing changed.
fingerprint() {
	(cd "$1" && find . -print | sort | while read -r f; do
		if [ -f "$f" ]; then
			echo "$(ls -ln "$f") $(cksum <"$f")"
		else
			ls -lnd "$f"
		fi
	done)
}

# q.py: the JSON side of the checks.
#   q.py eval FILE EXPR [ARG...]  FILE holds JSON lines (every one must
#       parse): L is their list, d the first object; A the ARGs; EXPR must
#       be true.
#   q.py yaml_eq YAML JSONL   the YAML document equals the JSON lines
#       (exit 77 without the yaml module)
#   q.py expect DUMPJSON      the newest put of each key: {key: [seq,
#       segment, value]}, deleted keys left out
#   q.py lost REPAIRJSON      the lost sequence ranges a repair reports
#   q.py keys_ok EXPECT REPAIRJSON SCAN [FROM]  every expected key whose
#       sequence number is outside the lost ranges (and below FROM) is in
#       SCAN with its value
#   q.py in_lost REPAIRJSON SEQ  SEQ is in a lost range
#   q.py lost_within REPAIRJSON LO HI  every lost range is within [LO, HI]
#       (HI "inf": no bound)
cat >"$T/q.py" <<'PY'
import json, sys

def lines(path):
    out = []
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                out.append(json.loads(raw.decode("utf-8")))
            except Exception as e:
                raise SystemExit("line %d does not parse as JSON (%s): %r"
                                 % (i, e, raw[:200]))
    return out

def one(path):
    L = lines(path)
    if len(L) != 1:
        raise SystemExit("want one JSON object, got %d lines" % len(L))
    return L[0]

def lost_ranges(rep):
    """Every object in the repair report with seq_first and seq_last that
    is a loss: a step with action "lost", or any member of a "lost" list.
    A seq_last below seq_first (an unknown end) reaches to infinity."""
    found = []
    def walk(x, in_lost):
        if isinstance(x, dict):
            if ("seq_first" in x and "seq_last" in x and
                    (in_lost or x.get("action") == "lost")):
                a, b = x["seq_first"], x["seq_last"]
                found.append((a, b if b >= a else float("inf")))
            for k, v in x.items():
                walk(v, in_lost or k == "lost")
        elif isinstance(x, list):
            for v in x:
                walk(v, in_lost)
    walk(rep, False)
    return found

def unescape(s):
    # scan's escaping: \t \n \\ \xHH
    out, i = bytearray(), 0
    b = s.encode("utf-8")
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = b[i + 1]
            if n == ord("t"): out.append(9); i += 2; continue
            if n == ord("n"): out.append(10); i += 2; continue
            if n == 0x5c: out.append(0x5c); i += 2; continue
            if n == ord("x"):
                out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
        out.append(c); i += 1
    return bytes(out)

cmd = sys.argv[1]
if cmd == "eval":
    L = lines(sys.argv[2])
    d = L[0] if L else None
    A = sys.argv[4:]
    r = eval("(" + sys.argv[3] + "\n)")
    if not r:
        sys.stderr.write("false: %s %s\n" % (sys.argv[3], A))
        sys.exit(1)
elif cmd == "yaml_eq":
    try:
        import yaml
    except ImportError:
        sys.exit(77)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(sys.argv[2], "rb") as f:
        y = yaml.load(f, Loader=loader) or []
    j = lines(sys.argv[3])
    if len(y) != len(j):
        raise SystemExit("%d YAML items, %d JSON lines" % (len(y), len(j)))
    for i, (a, b) in enumerate(zip(y, j)):
        if a != b:
            raise SystemExit("item %d differs: %r / %r" % (i, a, b))
elif cmd == "expect":
    want = {}
    for x in lines(sys.argv[2]):
        if x["kind"] == "put":
            k = x.get("key", x.get("key_hex"))
            want[k] = [x["seq"], x["segment"], x.get("value")]
        elif x["kind"] == "del":
            want.pop(x.get("key", x.get("key_hex")), None)
    json.dump(want, sys.stdout)
elif cmd == "lost":
    print(lost_ranges(one(sys.argv[2])))
elif cmd == "keys_ok":
    want = json.load(open(sys.argv[2]))
    lost = lost_ranges(one(sys.argv[3]))
    if len(sys.argv) > 5 and sys.argv[5]:
        lost.append((int(sys.argv[5]), float("inf")))
    have = {}
    with open(sys.argv[4], encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            have[unescape(k).decode("utf-8", "replace")] = \
                unescape(v).decode("utf-8", "replace")
    bad, checked = [], 0
    for k, (seq, seg, v) in sorted(want.items()):
        if any(a <= seq <= b for a, b in lost):
            continue
        checked += 1
        if have.get(k) != v:
            bad.append("%s (seq %d, segment %d): want %r, have %r"
                       % (k, seq, seg, v, have.get(k)))
    if bad or checked == 0:
        sys.stderr.write("lost ranges %s; %d keys checked, %d wrong\n"
                         % (lost, checked, len(bad)))
        sys.stderr.write("".join(b + "\n" for b in bad[:5]))
        sys.exit(1)
elif cmd == "in_lost":
    seq = int(sys.argv[3])
    sys.exit(0 if any(a <= seq <= b for a, b in
                      lost_ranges(one(sys.argv[2]))) else 1)
elif cmd == "lost_within":
    lo = int(sys.argv[3])
    hi = float("inf") if sys.argv[4] == "inf" else int(sys.argv[4])
    lost = lost_ranges(one(sys.argv[2]))
    out = [(a, b) for a, b in lost if a < lo or b > hi]
    if out:
        sys.stderr.write("lost ranges %s reach outside [%s, %s]\n"
                         % (lost, lo, hi))
        sys.exit(1)
elif cmd == "lost_named":
    # every range the repair plan loses lies within the sequence numbers
    # verify's problems name (seq_last 0: to the end; 0 0: none)
    named = [(p["seq_first"], p["seq_last"] or float("inf"))
             for p in one(sys.argv[2])["problems"] if p["seq_first"]]
    lost = lost_ranges(one(sys.argv[3]))
    out = [(a, b) for a, b in lost
           if not any(x <= a and b <= y for x, y in named)]
    if out:
        sys.stderr.write("lost %s, verify named %s\n" % (out, named))
        sys.exit(1)
else:
    raise SystemExit("q.py: unknown command " + cmd)
PY

# q FILE EXPR [ARG...]: a condition on the JSON lines of FILE.
q() {
	"$PY" "$T/q.py" eval "$@"
}

# jval FILE EXPR: prints the value of EXPR on FILE's JSON.
jval() {
	"$PY" -c '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1], "rb")]
d = L[0] if L else None
print(eval(sys.argv[2]))' "$@" 2>/dev/null
}

# verify_json NAME DIR WANT: runs verify --json on DIR, checks the exit
# status, that it prints one JSON object with ok, problems (each with kind,
# segment, offset, file, what) and report (with the recovery report's
# fields, and whether a snapshot was used or why not); keeps it as
# $T/verify.json.
verify_json() {
	run "$LK" verify --json "$2"
	save verify.json
	expect_rc "$1: verify --json exits $3" "$3"
	check "$1: verify --json prints one object with ok, problems, report" \
		q "$T/verify.json" 'isinstance(d["ok"], bool) and
			isinstance(d["problems"], list) and
			isinstance(d["report"], dict) and
			all(all(k in p for k in ("kind", "segment", "offset",
						 "seq_first", "seq_last",
						 "file", "what"))
			    for p in d["problems"])'
	check "$1: the report has segments read, records replayed, bytes cut, and the snapshot used or why not" \
		q "$T/verify.json" 'all(k in d["report"] for k in
			("segments_read", "records_replayed", "bytes_cut",
			 "records_discarded", "seq_last", "snapshot_used",
			 "snapshot_note")) and (d["report"]["snapshot_used"] or
			 d["report"]["snapshot_note"] != "")'
}

# dump_json NAME TARGET WANT [OPTION...]: runs dump --json on TARGET,
# checks the exit status, that every line is a JSON object with kind,
# segment, file, offset and length, and every damage item has what;
# keeps it as $T/dump.json.
dump_json() {
	dname=$1 dtarget=$2 dwant=$3
	shift 3
	run "$LK" dump --json "$@" "$dtarget"
	save dump.json
	expect_rc "$dname: dump --json exits $dwant" "$dwant"
	check "$dname: every line of dump --json is an item with kind, segment, file, offset, length" \
		q "$T/dump.json" 'all(all(k in x for k in ("kind", "segment",
			"file", "offset", "length")) for x in L)'
	check "$dname: every damage item has segment, offset, length and what" \
		q "$T/dump.json" 'all(all(k in x for k in ("segment", "offset",
			"length", "what", "torn_tail"))
			for x in L if x["kind"] == "damage")'
}

# The clean dump of a directory, before it is damaged: the items, and the
# newest version of each key ($T/NAME.dump, $T/NAME.expect).
record_written() {
	timeout 60 "$LK" dump --json "$1" >"$T/$2.dump" 2>/dev/null
	"$PY" "$T/q.py" expect "$T/$2.dump" >"$T/$2.expect"
}

# The middle put of segment SEG in a dump: "offset length seq key".
middle_put() {
	"$PY" -c '
import json, sys
p = [x for x in map(json.loads, open(sys.argv[1]))
     if x["kind"] == "put" and x["segment"] == int(sys.argv[2])]
x = p[len(p) // 2]
print(x["offset"], x["length"], x["seq"], x["key"])' "$1" "$2"
}

# The last put of segment SEG: "offset length seq".
last_put() {
	"$PY" -c '
import json, sys
p = [x for x in map(json.loads, open(sys.argv[1]))
     if x["kind"] == "put" and x["segment"] == int(sys.argv[2])]
print(p[-1]["offset"], p[-1]["length"], p[-1]["seq"])' "$1" "$2"
}

# The sequence numbers of segment SEG in a dump: "first last".
seg_seqs() {
	"$PY" -c '
import json, sys
s = [x["seq"] for x in map(json.loads, open(sys.argv[1]))
     if x["kind"] in ("put", "del") and x["segment"] == int(sys.argv[2])]
print(min(s), max(s))' "$1" "$2"
}

# ---------------------------------------------------------------------------
# Repair
# ---------------------------------------------------------------------------

if timeout 60 "$LK" repair --help >/dev/null 2>&1; then
	have_repair=1
else
	have_repair=0
fi

# repair_checks MODE NAME DIR EXPECT BROKEN LOST_LO LOST_HI [TORN_FROM]:
# the repair of a copy of DIR (without its LOCK, like a copy taken off a
# broken node; DIR itself stays as it is).  MODE damage: a strict open
# refuses DIR, so repair without --yes prints a plan and exits 1.  MODE
# torn: DIR opens as it is (a torn tail), so repair needs nothing (exit 0,
# needed false), and the records of the torn group, from TORN_FROM on, are
# not expected back.  EXPECT: the written keys ($T/X.expect); BROKEN: the
# files that must be kept aside as NAME.broken (space separated, may be
# empty); every lost range must be within [LOST_LO, LOST_HI] (HI inf: no
# bound; LO 1 HI 0: nothing may be lost).
repair_checks() {
	rmode=$1 rname=$2 rsrc=$3 rexpect=$4 rbroken=$5 rlo=$6 rhi=$7
	rtorn=${8:-}
	if [ "$have_repair" -eq 0 ]; then
		for c in "repair without --yes changes no file" \
			"repair without --yes prints the plan" \
			"repair --yes --json exits 0" \
			"repair --yes keeps each damaged file aside as NAME.broken" \
			"verify after repair" \
			"every key outside the lost ranges reads back (scan)" \
			"the lost ranges stay within the damaged part" \
			"a writing open works after repair, and verify exits 0"; do
			skip "$rname: $c" "repair not built"
		done
		return
	fi
	R=$T/repair-work
	rm -rf "$R"
	cp -Rp "$rsrc" "$R"
	rm -f "$R/LOCK"
	for f in $rbroken; do cp "$R/$f" "$T/orig-$f"; done
	fingerprint "$R" >"$T/fp.before"
	run "$LK" repair --json "$R"
	save plan.json
	fingerprint "$R" >"$T/fp.after"
	check "$rname: repair without --yes changes no file (and creates no LOCK)" \
		cmp -s "$T/fp.before" "$T/fp.after"
	if [ "$rmode" = damage ]; then
		check "$rname: repair without --yes prints a plan (needed, not applied, steps) and exits 1" \
			eval '[ "$rc" -eq 1 ] && q "$T/plan.json" "d[\"needed\"] is True and d[\"applied\"] is False and len(d[\"steps\"]) > 0"'
		run "$LK" verify --json "$R"
		save rverify.json
		check "$rname: each range the plan loses is within the sequence numbers verify's problems name" \
			"$PY" "$T/q.py" lost_named "$T/rverify.json" \
			"$T/plan.json"
	else
		check "$rname: repair without --yes says a torn tail needs nothing and exits 0" \
			eval '[ "$rc" -eq 0 ] && q "$T/plan.json" "d[\"needed\"] is False"'
	fi

	run "$LK" repair --yes --json "$R"
	save repair.json
	expect_rc "$rname: repair --yes --json exits 0" 0
	missing=""
	for f in $rbroken; do
		if ! cmp -s "$R/$f.broken" "$T/orig-$f"; then
			missing="$missing $f.broken"
		fi
	done
	echo "not kept aside, or not byte for byte:${missing:- none}" >"$T/why.broken"
	if [ -n "$rbroken" ]; then
		check "$rname: repair --yes keeps each damaged file aside as NAME.broken ($rbroken)" \
			eval '[ -z "$missing" ] || { cat "$T/why.broken" >&2; false; }'
	fi
	for f in $rbroken; do
		run "$LK" dump --json "$R/$f.broken"
		check "$rname: dump reads the kept-aside $f.broken (exit 0, 1 or 3)" \
			eval '[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || [ "$rc" -eq 3 ]'
	done
	run "$LK" verify --json "$R"
	if [ "$rmode" = damage ]; then
		expect_rc "$rname: verify exits 0 after repair" 0
	else
		check "$rname: verify after repair says ok (exit 0, or 1 for the torn tail a writing open cuts)" \
			eval '{ [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; } && q "$T/out" "d[\"ok\"] is True"'
	fi
	run "$LK" scan "$R"
	save scan.out
	check "$rname: every key outside the lost ranges reads back (scan)" \
		"$PY" "$T/q.py" keys_ok "$rexpect" "$T/repair.json" \
		"$T/scan.out" "$rtorn"
	# get of the first and the last key written, when not lost
	for k in key0001 key0300; do
		v=$(jval "$rexpect" 'd["'$k'"][2]')
		s=$(jval "$rexpect" 'd["'$k'"][0]')
		if "$PY" "$T/q.py" in_lost "$T/repair.json" "$s" ||
			{ [ -n "$rtorn" ] && [ "$s" -ge "$rtorn" ]; }; then
			continue # its sequence number is reported lost
		fi
		run "$LK" get "$R" "$k"
		check "$rname: get $k returns its value after repair" \
			eval '[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "$v" ]'
	done
	check "$rname: the lost ranges stay within the damaged part [$rlo, $rhi]" \
		"$PY" "$T/q.py" lost_within "$T/repair.json" "$rlo" "$rhi"
	run "$LK" put "$R" after-repair value
	check "$rname: a writing open works after repair, and verify exits 0" \
		eval '[ "$rc" -eq 0 ] && run "$LK" verify "$R" && [ "$rc" -eq 0 ]'
}

# ---------------------------------------------------------------------------
# 1 clean
# ---------------------------------------------------------------------------

C=$T/c1-clean
make_db "$C"
record_written "$C" c1
N=case1-clean

check "$N: load with --segment-size 4096 made three segments" \
	eval '[ -f "$C/$(segname 1)" ] && [ -f "$C/$(segname 3)" ] &&
	      [ ! -f "$C/$(segname 4)" ]'
verify_json "$N" "$C" 0
check "$N: verify says ok, no problem, 3 segments, 300 records, seq_last 300" \
	q "$T/verify.json" 'd["ok"] is True and d["problems"] == [] and
		d["report"]["segments_read"] == 3 and
		d["report"]["records_replayed"] == 300 and
		d["report"]["seq_last"] == 300 and d["report"]["bytes_cut"] == 0'
dump_json "$N" "$C" 0
check "$N: dump has the 300 puts in sequence order, each checksum ok" \
	q "$T/dump.json" '[x["seq"] for x in L if x["kind"] == "put"] ==
		list(range(1, 301)) and all(x["checksum"] == "ok"
		for x in L if x["kind"] in ("put", "del"))'
check "$N: dump has a segment item for each of the 3 segments, no damage" \
	q "$T/dump.json" '[x["segment"] for x in L if x["kind"] == "segment"]
		== [1, 2, 3] and not any(x["kind"] in ("damage", "discard")
		for x in L)'
check "$N: each put shows its key and value" \
	q "$T/dump.json" 'any(x["kind"] == "put" and
		x["key"] == "key0042" and x["value"] == "value number 42"
		for x in L)'

# One segment file: only that segment's records.
cp "$T/dump.json" "$T/c1-dir.json"
dump_json "$N, one segment file" "$C/$(segname 2)" 0
check "$N: dump of 0000000000000002.seg prints only segment 2's items" \
	q "$T/dump.json" 'len(L) > 0 and all(x["segment"] == 2 and
		x["file"] == "0000000000000002.seg" for x in L) and
		[x["seq"] for x in L if x["kind"] == "put"] ==
		list(range(111, 221))'
check "$N: they are the same items as segment 2's in the dump of DIR" \
	"$PY" -c '
import json, sys
a = [x for x in map(json.loads, open(sys.argv[1])) if x["segment"] == 2]
b = list(map(json.loads, open(sys.argv[2])))
sys.exit(a != b)' "$T/c1-dir.json" "$T/dump.json"
run "$LK" dump --json --segment 2 "$C"
check "$N: dump --segment 2 of DIR prints the same items" \
	"$PY" -c '
import json, sys
a = list(map(json.loads, open(sys.argv[1])))
b = list(map(json.loads, open(sys.argv[2])))
sys.exit(a != b or not a)' "$T/out" "$T/dump.json"

if [ "$have_repair" -eq 1 ]; then
	fingerprint "$C" >"$T/fp.before"
	run "$LK" repair --json "$C"
	save plan.json
	check "$N: repair of a clean directory exits 0 and says nothing is needed" \
		eval '[ "$rc" -eq 0 ] && q "$T/plan.json" "d[\"needed\"] is False"'
	run "$LK" repair --yes --json "$C"
	fingerprint "$C" >"$T/fp.after"
	check "$N: repair --yes of a clean directory exits 0 and changes no file" \
		eval '[ "$rc" -eq 0 ] && cmp -s "$T/fp.before" "$T/fp.after"'
else
	skip "$N: repair of a clean directory exits 0 and says nothing is needed" \
		"repair not built"
	skip "$N: repair --yes of a clean directory exits 0 and changes no file" \
		"repair not built"
fi

# ---------------------------------------------------------------------------
# 2 torn tail: the newest segment cut half-way through its last record
# ---------------------------------------------------------------------------

D=$T/c2-torn
make_db "$D"
record_written "$D" c2
N=case2-torn-tail
seg=$D/$(segname 3)
set -- $(last_put "$T/c2.dump" 3)
cut_off=$1 cut_seq=$3
truncate_to "$seg" $(($1 + $2 / 2))
size=$(file_size "$seg")

verify_json "$N" "$D" 1
check "$N: verify reports one torn_tail in segment 3, ok true" \
	q "$T/verify.json" 'd["ok"] is True and len(d["problems"]) == 1 and
		d["problems"][0]["kind"] == "torn_tail" and
		d["problems"][0]["segment"] == 3 and
		d["problems"][0]["offset"] <= int(A[0])' "$cut_off"
check "$N: the report says bytes are cut from segment 3 and records discarded" \
	q "$T/verify.json" 'd["report"]["bytes_cut"] > 0 and
		d["report"]["cut_segment_seq"] == 3 and
		d["report"]["records_discarded"] > 0'
cp "$T/verify.json" "$T/c2-verify.json"
dump_json "$N" "$D" 1
check "$N: dump's damage item is in segment 3 at the cut record, torn_tail true" \
	q "$T/dump.json" 'any(x["kind"] == "damage" and x["segment"] == 3 and
		x["offset"] == int(A[0]) and x["torn_tail"] is True for x in L)' \
	"$cut_off"
check "$N: dump's discard item names the uncommitted records before the cut one" \
	q "$T/dump.json" 'any(x["kind"] == "discard" and
		x["seq_first"] <= int(A[0]) - 1 <= x["seq_last"] for x in L)' \
	"$cut_seq"
cp "$T/dump.json" "$T/c2-dump.json"
check "$N: dump's discard items count the records verify's report discards" \
	"$PY" -c '
import json, sys
L = list(map(json.loads, open(sys.argv[1])))
v = json.load(open(sys.argv[2]))
n = sum(x["records"] for x in L if x["kind"] == "discard")
if n != v["report"]["records_discarded"]:
    sys.exit("dump discards %d records, verify %d"
             % (n, v["report"]["records_discarded"]))' \
	"$T/dump.json" "$T/c2-verify.json"
check "$N: the puts before the cut are printed with checksum ok" \
	q "$T/dump.json" 'all(x["checksum"] == "ok" for x in L
		if x["kind"] == "put") and
		[x["seq"] for x in L if x["kind"] == "put"] ==
		list(range(1, int(A[0])))' "$cut_seq"
check "$N: verify and dump left the cut segment as it was" \
	test "$(file_size "$seg")" = "$size"
set -- $(seg_seqs "$T/c2.dump" 3)
torn_from=$(jval "$T/c2-dump.json" 'min(x["seq_first"] for x in L if x["kind"] == "discard")')
repair_checks torn "$N" "$D" "$T/c2.expect" "" 1 0 "${torn_from:-1}"

# ---------------------------------------------------------------------------
# 3 bit flip in a sealed segment, no snapshot
# 4 the same with a snapshot taken before the flip
# ---------------------------------------------------------------------------

# damage_checks NAME DIR: the checks of a flipped byte in the value of
# segment 2's middle record ($flip_off $flip_len $flip_seq $flip_key).
damage_checks() {
	verify_json "$1" "$2" 3
	check "$1: verify says ok false and names segment 2, the record's offset, corrupt" \
		q "$T/verify.json" 'd["ok"] is False and any(p["kind"] ==
			"corrupt" and p["segment"] == 2 and
			p["offset"] == int(A[0]) and
			p["file"] == "0000000000000002.seg"
			for p in d["problems"])' "$flip_off"
	cp "$T/verify.json" "$T/damage-verify.json"
	dump_json "$1" "$2" 3
	check "$1: the damaged record is printed with checksum mismatch" \
		q "$T/dump.json" 'any(x["kind"] == "put" and x["segment"] == 2 and
			x["offset"] == int(A[0]) and x["checksum"] == "mismatch"
			for x in L)' "$flip_off"
	check "$1: a damage item names segment 2 at the record's offset" \
		q "$T/dump.json" 'any(x["kind"] == "damage" and
			x["segment"] == 2 and x["offset"] == int(A[0]) and
			x["length"] > 0 for x in L)' "$flip_off"
	check "$1: dumping goes on past the damage (the later records of segment 2 and segment 3)" \
		q "$T/dump.json" 'any(x["kind"] == "put" and x["segment"] == 2
			and x["seq"] == int(A[0]) + 1 for x in L) and
			[x["seq"] for x in L if x["kind"] == "put" and
			 x["segment"] == 3] == list(range(221, 301))' \
		"$flip_seq"
	check "$1: every other record has checksum ok" \
		q "$T/dump.json" 'all(x["checksum"] == "ok" for x in L
			if x["kind"] in ("put", "del") and
			x["offset"] != int(A[0]))' "$flip_off"
	check "$1: dump's discard items count the records verify's report discards" \
		"$PY" -c '
import json, sys
L = list(map(json.loads, open(sys.argv[1])))
v = json.load(open(sys.argv[2]))
n = sum(x["records"] for x in L if x["kind"] == "discard")
if n != v["report"]["records_discarded"]:
    sys.exit("dump discards %d records (%s), verify %d" % (n,
             [(x["seq_first"], x["seq_last"]) for x in L
              if x["kind"] == "discard"], v["report"]["records_discarded"]))' \
		"$T/dump.json" "$T/damage-verify.json"
	run "$LK" dump --type damage "$2"
	check "$1: dump --type damage (YAML) exits 3 and prints only damage" \
		eval '[ "$rc" -eq 3 ] && grep -q "^- kind: damage" "$T/out" &&
		      ! grep -q "^- kind: [^d]" "$T/out"'
	run "$LK" get "$2" "$flip_key"
	check "$1: get of the damaged key exits 3 and prints nothing" \
		eval '[ "$rc" -eq 3 ] && [ ! -s "$T/out" ]'
}

D=$T/c3-flip
make_db "$D"
record_written "$D" c3
set -- $(middle_put "$T/c3.dump" 2)
flip_off=$1 flip_len=$2 flip_seq=$3 flip_key=$4
flip_byte "$D/$(segname 2)" $((flip_off + flip_len - 3))
damage_checks "case3-bit-flip" "$D"
set -- $(seg_seqs "$T/c3.dump" 2)
repair_checks damage "case3-bit-flip" "$D" "$T/c3.expect" "$(segname 2)" "$1" "$2"

D=$T/c4-flip-snap
make_db "$D"
record_written "$D" c4
run "$LK" snapshot "$D"
check "case4-bit-flip-behind-snapshot: snapshot writes a .snap file" \
	eval '[ "$rc" -eq 0 ] && ls "$D" | grep -q "\.snap$"'
run "$LK" verify --json "$D"
check "case4-bit-flip-behind-snapshot: before the flip, verify uses the snapshot" \
	q "$T/out" 'd["report"]["snapshot_used"] is True'
set -- $(middle_put "$T/c4.dump" 2)
flip_off=$1 flip_len=$2 flip_seq=$3 flip_key=$4
flip_byte "$D/$(segname 2)" $((flip_off + flip_len - 3))
damage_checks "case4-bit-flip-behind-snapshot" "$D"
set -- $(seg_seqs "$T/c4.dump" 2)
repair_checks damage "case4-bit-flip-behind-snapshot" "$D" "$T/c4.expect" \
	"$(segname 2)" "$1" "$2"

# ---------------------------------------------------------------------------
# 5 missing segment in the middle, 6 missing newest segment
# ---------------------------------------------------------------------------

D=$T/c5-missing-middle
make_db "$D"
record_written "$D" c5
rm "$D/$(segname 2)"
N=case5-missing-middle
verify_json "$N" "$D" 3
check "$N: verify reports a missing segment, naming segment 2" \
	q "$T/verify.json" 'd["ok"] is False and any(p["kind"] == "missing"
		and (p["segment"] == 2 or "segment 2 " in p["what"])
		for p in d["problems"])'
dump_json "$N" "$D" 3
check "$N: dump prints a damage item for the missing segment" \
	q "$T/dump.json" 'any(x["kind"] == "damage" for x in L)'
check "$N: dump prints the records of segments 1 and 3" \
	q "$T/dump.json" 'sorted({x["segment"] for x in L
		if x["kind"] == "put"}) == [1, 3]'
set -- $(seg_seqs "$T/c5.dump" 2)
repair_checks damage "$N" "$D" "$T/c5.expect" "" "$1" "$2"

D=$T/c6-missing-newest
make_db "$D"
record_written "$D" c6
rm "$D/$(segname 3)"
N=case6-missing-newest
verify_json "$N" "$D" 3
check "$N: verify reports the newest segment missing" \
	q "$T/verify.json" 'd["ok"] is False and
		any(p["kind"] == "missing" for p in d["problems"])'
dump_json "$N" "$D" 3
check "$N: dump prints a damage item for the missing newest segment" \
	q "$T/dump.json" 'any(x["kind"] == "damage" for x in L)'
set -- $(seg_seqs "$T/c6.dump" 3)
repair_checks damage "$N" "$D" "$T/c6.expect" "" "$1" inf

# ---------------------------------------------------------------------------
# 7 duplicated segment: segment 2's file copied over segment 3's name
# ---------------------------------------------------------------------------

D=$T/c7-duplicated
make_db "$D"
record_written "$D" c7
cp "$D/$(segname 2)" "$D/$(segname 3)"
N=case7-duplicated
verify_json "$N" "$D" 3
check "$N: verify names 0000000000000003.seg (corrupt or foreign)" \
	q "$T/verify.json" 'd["ok"] is False and any(p["kind"] in
		("corrupt", "foreign") and p["file"] == "0000000000000003.seg"
		for p in d["problems"])'
dump_json "$N" "$D" 3
check "$N: dump prints a damage item for 0000000000000003.seg" \
	q "$T/dump.json" 'any(x["kind"] == "damage" and
		x["file"] == "0000000000000003.seg" for x in L)'
set -- $(seg_seqs "$T/c7.dump" 3)
repair_checks damage "$N" "$D" "$T/c7.expect" "$(segname 3)" "$1" inf

# ---------------------------------------------------------------------------
# 8 damaged snapshot
# ---------------------------------------------------------------------------

D=$T/c8-snapshot
make_db "$D"
record_written "$D" c8
timeout 60 "$LK" snapshot "$D" >/dev/null 2>&1
snap=""
for f in "$D"/*.snap; do
	if [ -f "$f" ]; then snap=${f##*/}; fi
done
N=case8-damaged-snapshot
check "$N: the snapshot is there" test -n "$snap"
flip_byte "$D/$snap" $(($(file_size "$D/$snap") / 2))
verify_json "$N" "$D" 3
check "$N: the report says the snapshot is not used, naming it and why" \
	q "$T/verify.json" 'd["report"]["snapshot_used"] is False and
		A[0] in d["report"]["snapshot_note"]' "$snap"
check "$N: verify lists the damaged snapshot as a problem" \
	q "$T/verify.json" 'any(p["file"] == A[0]
		for p in d["problems"])' "$snap"
dump_json "$N" "$D" 0
check "$N: dump prints the 300 records from the log, checksum ok" \
	q "$T/dump.json" 'len([x for x in L if x["kind"] == "put" and
		x["checksum"] == "ok"]) == 300'
run "$LK" get "$D" key0150
check "$N: get falls back to the log and returns the value" \
	eval '[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "value number 150" ]'
repair_checks damage "$N" "$D" "$T/c8.expect" "$snap" 1 0

# ---------------------------------------------------------------------------
# 9 broken ledger chain: the ledger head "H" and an entity head altered
# ---------------------------------------------------------------------------

M=$T/c9-mesh
run "$LK" demo --seconds 1 "$M"
N=case9-ledger
expect_rc "$N: demo --seconds 1 builds a mesh directory" 0

# --raw on mesh records (here, while the mesh is sound)
run "$LK" dump --json -n mesh.nodes "$M"
check "dump -n mesh.nodes decodes node values (value is an object, mesh names it)" \
	q "$T/out" 'len(L) > 0 and all(isinstance(x["value"], dict) and
		"mesh" in x for x in L if x["kind"] == "put")'
run "$LK" dump --json --raw -n mesh.nodes "$M"
check "dump --raw prints the same records as value_hex, not decoded" \
	q "$T/out" 'len(L) > 0 and all("value_hex" in x and "value" not in x
		and "mesh" not in x for x in L if x["kind"] == "put")'

run "$LK" dump --json -n mesh.ledger "$M"
check "$N: the ledger holds entries, keyed 'e'... (key_hex 65...)" \
	q "$T/out" 'any(x.get("key_hex", "").startswith("65") and
		x.get("chain") == "ok" for x in L)'
run "$LK" dump --json --raw -n mesh.ledger --key H --live-only "$M"
head_hex=$(jval "$T/out" 'd["value_hex"]')
check "$N: dump --raw --key H --live-only prints the ledger head once" \
	q "$T/out" 'len(L) == 1 and L[0]["key"] == "H"'
cp -Rp "$M" "$T/c9-entity"
# The head's last 32 bytes are the last entry's hash: flip its last byte.
"$PY" -c '
import sys
b = bytearray.fromhex(sys.argv[1]); b[-1] ^= 0xff
sys.stdout.buffer.write(b)' "$head_hex" >"$T/head.bin"
run "$LK" put -n mesh.ledger "$M" H <"$T/head.bin"
expect_rc "$N: put -n mesh.ledger H (an altered head, from stdin)" 0
run "$LK" ledger verify "$M"
expect_rc "$N: ledger verify exits 3" 3
check "$N: ledger verify names where the chain breaks (entry, segment, offset)" \
	grep -q 'broken at entry [0-9]* (segment [0-9]* offset [0-9]*)' "$T/out"
check "$N: ledger verify says the head was altered (the entry is intact)" \
	grep -q 'head was altered' "$T/out"
cp "$T/out" "$T/ledger.out"
verify_json "$N" "$M" 3
check "$N: verify names the ledger chain" \
	q "$T/verify.json" 'any("ledger" in p["what"] for p in d["problems"])'
run "$LK" dump --json "$M"
save dump.json
check "$N: dump --json exits 0 or 3, every line parses" \
	eval '{ [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; } && q "$T/dump.json" True'
set -- $(sed -n 's/.*(segment \([0-9]*\) offset \([0-9]*\)).*/\1 \2/p' \
	"$T/ledger.out")
check "$N: dump marks the record ledger verify names (chain not ok, or a problem)" \
	q "$T/dump.json" 'any(x["segment"] == int(A[0]) and
		x["offset"] == int(A[1]) and (x.get("chain") not in (None, "ok")
		or "value_problem" in x or "warning" in x) for x in L)' \
	"${1:-0}" "${2:-0}"

# An entity head altered instead.
E=$T/c9-entity
run "$LK" dump --json --raw -n mesh.ledger --key hnode-03 --live-only "$E"
"$PY" -c '
import sys
b = bytearray.fromhex(sys.argv[1]); b[-1] ^= 0xff
sys.stdout.buffer.write(b)' "$(jval "$T/out" 'd["value_hex"]')" >"$T/ehead.bin"
run "$LK" put -n mesh.ledger "$E" hnode-03 <"$T/ehead.bin"
run "$LK" ledger verify "$E"
check "$N, entity head: ledger verify exits 3 naming node-03's head" \
	eval '[ "$rc" -eq 3 ] && grep -q "node-03.*head was altered" "$T/out"'
run "$LK" verify --json "$E"
check "$N, entity head: verify exits 3 and names the ledger" \
	eval '[ "$rc" -eq 3 ] && q "$T/out" "any(\"ledger\" in p[\"what\"] for p in d[\"problems\"])"'

if [ "$have_repair" -eq 1 ]; then
	R=$T/repair-work
	rm -rf "$R"
	cp -Rp "$M" "$R"
	fingerprint "$R" >"$T/fp.before"
	run "$LK" repair --json "$R"
	save plan.json
	fingerprint "$R" >"$T/fp.after"
	check "$N: repair without --yes changes no file" \
		cmp -s "$T/fp.before" "$T/fp.after"
	run "$LK" repair --yes --json "$R"
	save repair.json
	check "$N: repair --yes exits 3 and reports the ledger chain broken" \
		eval '[ "$rc" -eq 3 ] && q "$T/repair.json" "d[\"ledger\"][\"chain\"] == \"broken\""'
	check "$N: repair does not re-chain the ledger: ledger verify still exits 3" \
		eval 'run "$LK" ledger verify "$R"; [ "$rc" -eq 3 ]'
	run "$LK" verify --json "$R"
	check "$N: verify after repair exits 3 naming the ledger" \
		eval '[ "$rc" -eq 3 ] && grep -q ledger "$T/out"'
else
	for c in "repair without --yes changes no file" \
		"repair --yes exits 3 and reports the ledger chain broken" \
		"repair does not re-chain the ledger: ledger verify still exits 3" \
		"verify after repair exits 3 naming the ledger"; do
		skip "$N: $c" "repair not built"
	done
fi

# ---------------------------------------------------------------------------
# 10 foreign files in the directory
# ---------------------------------------------------------------------------

D=$T/c10-foreign
make_db "$D"
echo "notes" >"$D/README.txt"
mkdir "$D/subdir"
echo "more notes" >"$D/subdir/notes"
N=case10-foreign-files
verify_json "$N" "$D" 0
check "$N: verify ignores README.txt and subdir (ok, no problem)" \
	q "$T/verify.json" 'd["ok"] is True and d["problems"] == []'
dump_json "$N" "$D" 0
check "$N: dump prints only segment files' items, 300 puts" \
	q "$T/dump.json" 'all(x["file"].endswith(".seg") for x in L) and
		len([x for x in L if x["kind"] == "put"]) == 300'
run "$LK" put "$D" k v
check "$N: a writing open leaves the foreign files alone" \
	eval '[ "$rc" -eq 0 ] && [ "$(cat "$D/README.txt")" = notes ] &&
	      [ -f "$D/subdir/notes" ]'
if [ "$have_repair" -eq 1 ]; then
	fingerprint "$D" >"$T/fp.before"
	run "$LK" repair --yes --json "$D"
	fingerprint "$D" >"$T/fp.after"
	check "$N: repair --yes exits 0 and changes no file" \
		eval '[ "$rc" -eq 0 ] && cmp -s "$T/fp.before" "$T/fp.after"'
else
	skip "$N: repair --yes exits 0 and changes no file" "repair not built"
fi

# ---------------------------------------------------------------------------
# 11 empty files: as SEGMENT_FILE, and named like a segment in DIR
# ---------------------------------------------------------------------------

N=case11-empty-file
: >"$T/empty.seg"
dump_json "$N, as SEGMENT_FILE" "$T/empty.seg" 3
check "$N: dump of an empty file prints one damage item, 'shorter than a segment header'" \
	q "$T/dump.json" '[x["kind"] for x in L if x["kind"] == "damage"] ==
		["damage"] and all("header" in x["what"] for x in L
		if x["kind"] == "damage")'
run "$LK" verify --json "$T/empty.seg"
expect_rc "$N: verify of an empty file (not a directory) exits 2" 2

D=$T/c11-empty-seg
make_db "$D"
record_written "$D" c11
: >"$D/$(segname 4)"
verify_json "$N, in DIR" "$D" 1
check "$N: verify reports a torn_tail in segment 4 (open removes it), ok true" \
	q "$T/verify.json" 'd["ok"] is True and any(p["kind"] == "torn_tail"
		and p["segment"] == 4 for p in d["problems"])'
check "$N: verify (read-only) left the empty file in place" \
	test -f "$D/$(segname 4)"
dump_json "$N, in DIR" "$D" 1
check "$N: dump's damage item for segment 4 says torn_tail true, as verify" \
	q "$T/dump.json" 'any(x["kind"] == "damage" and x["segment"] == 4 and
		x["torn_tail"] is True for x in L)'
check "$N: dump prints the 300 records before it" \
	q "$T/dump.json" 'len([x for x in L if x["kind"] == "put"]) == 300'
cp -Rp "$D" "$T/c11-write"
run "$LK" put "$T/c11-write" k v
check "$N: a writing open removes it; verify exits 0 after" \
	eval '[ "$rc" -eq 0 ] && [ ! -f "$T/c11-write/$(segname 4)" ] &&
	      run "$LK" verify "$T/c11-write" && [ "$rc" -eq 0 ]'
repair_checks torn "$N" "$D" "$T/c11.expect" "" 1 0

# ---------------------------------------------------------------------------
# 12 a directory that is not a logkeep database, 13 a file given as DIR
# ---------------------------------------------------------------------------

D=$T/c12-other
mkdir "$D" "$D/photos"
echo "not a database" >"$D/notes.txt"
N=case12-not-a-database
fingerprint "$D" >"$T/fp.before"
run "$LK" verify --json "$D"
expect_rc "$N: verify exits 2 (not a logkeep directory), as dump does" 2
run "$LK" dump --json "$D"
check "$N: dump exits 2 and says it is not a logkeep data directory" \
	eval '[ "$rc" -eq 2 ] && grep -q "not a logkeep data directory" "$T/err"'
run "$LK" get "$D" k
run "$LK" scan "$D"
fingerprint "$D" >"$T/fp.after"
check "$N: verify, dump, get and scan create or change nothing in it" \
	cmp -s "$T/fp.before" "$T/fp.after"
if [ "$have_repair" -eq 1 ]; then
	run "$LK" repair --json "$D"
	fingerprint "$D" >"$T/fp.after"
	check "$N: repair without --yes creates nothing in it" \
		cmp -s "$T/fp.before" "$T/fp.after"
	run "$LK" repair --yes --json "$D"
	expect_rc "$N: repair --yes exits 2 (not a logkeep directory), as dump does" 2
	fingerprint "$D" >"$T/fp.after"
	check "$N: repair --yes creates nothing in it (no LOCK)" \
		cmp -s "$T/fp.before" "$T/fp.after"
else
	for c in "repair without --yes creates nothing in it" \
		"repair --yes exits 2 (not a logkeep directory), as dump does" \
		"repair --yes creates nothing in it (no LOCK)"; do
		skip "$N: $c" "repair not built"
	done
fi

F=$T/c13-file
echo "just a file" >"$F"
N=case13-file-as-dir
run "$LK" verify --json "$F"
check "$N: verify exits 2 and prints no report" \
	eval '[ "$rc" -eq 2 ] && [ ! -s "$T/out" ]'
dump_json "$N (dump takes it as SEGMENT_FILE)" "$F" 3
check "$N: dump's damage item says what is wrong with it" \
	q "$T/dump.json" 'any(x["kind"] == "damage" and x["what"] for x in L)'
run "$LK" dump --json "$F/sub"
expect_rc "$N: dump of a path through a file exits 2" 2
if [ "$have_repair" -eq 1 ]; then
	run "$LK" repair --yes --json "$F"
	check "$N: repair --yes exits 2, the file as it was" \
		eval '[ "$rc" -eq 2 ] && [ "$(cat "$F")" = "just a file" ]'
else
	skip "$N: repair --yes exits 2, the file as it was" "repair not built"
fi

# ---------------------------------------------------------------------------
# dump's filters
# ---------------------------------------------------------------------------

# 300 records, 50 of them overwritten, one deleted, one in namespace other,
# one with a binary value.
FL=$T/filters
make_db "$FL"
gen_lines 50 "second " |
	timeout 60 "$LK" load --batch 10 --segment-size 4096 "$FL" >/dev/null 2>&1
timeout 60 "$LK" put -n other --segment-size 4096 "$FL" key0001 other-ns \
	>/dev/null 2>&1
timeout 60 "$LK" del "$FL" key0002 >/dev/null 2>&1
printf 'bin\001\000\377' |
	timeout 60 "$LK" put --segment-size 4096 "$FL" binkey >/dev/null 2>&1
N=dump-filters
run "$LK" dump --json "$FL"
save all.json
check "$N: the data: 300 + 50 puts in default, one in other, one del, one binary" \
	q "$T/all.json" 'len([x for x in L if x["kind"] == "put"]) == 353 and
		len([x for x in L if x["kind"] == "del"]) == 1'

run "$LK" dump --json --segment 2 "$FL"
check "$N: --segment 2 prints only segment 2's items, its header included" \
	eval '[ "$rc" -eq 0 ] && q "$T/out" "len(L) > 0 and
		all(x[\"segment\"] == 2 for x in L) and
		L[0][\"kind\"] == \"segment\""'
run "$LK" dump --json --segment 99 "$FL"
expect_rc "$N: --segment of a segment not in DIR exits 2" 2

run "$LK" dump --json --from-seq 100 --to-seq 120 "$FL"
check "$N: --from-seq 100 --to-seq 120 prints exactly puts 100..120, across segments 1 and 2" \
	eval '[ "$rc" -eq 0 ] && q "$T/out" "[x[\"seq\"] for x in L] ==
		list(range(100, 121)) and {x[\"segment\"] for x in L} ==
		{1, 2}"'
run "$LK" dump --json --from-seq 10 --to-seq 5 "$FL"
expect_rc "$N: --from-seq past --to-seq is a usage error" 2

run "$LK" dump --json -n other "$FL"
check "$N: -n other prints its one put, namespace other" \
	q "$T/out" 'len(L) == 1 and L[0]["namespace"] == "other" and
		L[0]["value"] == "other-ns"'
run "$LK" dump --json -n nosuchns "$FL"
check "$N: -n of an absent namespace prints nothing, exit 0" \
	eval '[ "$rc" -eq 0 ] && [ ! -s "$T/out" ]'
run "$LK" dump --json -n default "$FL"
check "$N: -n default prints the default namespace's puts and del (352 items)" \
	q "$T/out" 'len(L) == 352 and
		all(x["kind"] in ("put", "del") for x in L)'

run "$LK" dump --json --key key0001 "$FL"
check "$N: --key key0001 prints its 3 versions (2 in default, 1 in other), oldest first" \
	q "$T/out" '[x["key"] for x in L] == ["key0001"] * 3 and
		[x["seq"] for x in L] == sorted(x["seq"] for x in L)'
run "$LK" dump --json -n other --key key0001 "$FL"
check "$N: -n other --key key0001 prints one" q "$T/out" 'len(L) == 1'
run "$LK" dump --json --key key0002 "$FL"
check "$N: --key of a deleted key prints its puts and its del" \
	q "$T/out" '[x["kind"] for x in L] == ["put", "put", "del"]'

run "$LK" dump --json --type commit "$FL"
check "$N: --type commit prints only commits" \
	q "$T/out" 'len(L) > 0 and all(x["kind"] == "commit" for x in L)'
run "$LK" dump --json --type del "$FL"
check "$N: --type del prints the one del" \
	q "$T/out" 'len(L) == 1 and L[0]["key"] == "key0002"'
run "$LK" dump --json --type segment "$FL"
check "$N: --type segment prints one item per segment file" \
	q "$T/out" '[x["segment"] for x in L] == sorted(x["segment"] for x in L) and
		len(L) == int(A[0])' "$(count_segments "$FL")"
run "$LK" dump --json --type bogus "$FL"
expect_rc "$N: --type of an unknown kind is a usage error" 2

run "$LK" dump --json --live-only "$FL"
save live.json
check "$N: --live-only prints each key once (301 live keys: 299 + binkey + other)" \
	q "$T/live.json" 'len(L) == 301 and len({(x["namespace_id"],
		x.get("key", x.get("key_hex"))) for x in L}) == 301'
check "$N: --live-only prints the newest version of overwritten keys" \
	q "$T/live.json" 'all(x["value"] == "second %d" % int(x["key"][3:])
		for x in L if x.get("key", "").startswith("key") and
		int(x["key"][3:]) <= 50 and "namespace" not in x)'
check "$N: --live-only leaves out the deleted key and has no del" \
	q "$T/live.json" 'not any(x.get("key") == "key0002" or
		x["kind"] == "del" for x in L)'
check "$N: --live-only keeps keys never overwritten (key0051 .. key0300)" \
	q "$T/live.json" 'sum(1 for x in L if x.get("value", "").startswith(
		"value number ")) == 250'

run "$LK" dump --json --key binkey "$FL"
check "$N: a value that is not text is value_hex" \
	q "$T/out" 'L[0]["value_hex"] == "62696e0100ff"'
run "$LK" dump --json --raw --key key0005 --live-only "$FL"
check "$N: --raw prints a text value as text" \
	q "$T/out" 'L[0]["value"] == "second 5"'

# YAML: parses, and holds the same items as --json.
if "$PY" -c 'import yaml' 2>/dev/null; then
	for target in "$FL" "$T/c3-flip" "$T/c2-torn"; do
		run "$LK" dump "$target"
		save dump.yaml
		run "$LK" dump --json "$target"
		check "YAML dump of ${target##*/} parses with yaml.safe_load and equals the JSON lines" \
			"$PY" "$T/q.py" yaml_eq "$T/dump.yaml" "$T/out"
	done
	run "$LK" dump -n mesh.policies "$T/c9-entity"
	save dump.yaml
	run "$LK" dump --json -n mesh.policies "$T/c9-entity"
	check "YAML dump of the mesh policies (YAML documents inside) equals the JSON lines" \
		"$PY" "$T/q.py" yaml_eq "$T/dump.yaml" "$T/out"
else
	echo "# $PY has no yaml module: the YAML checks are skipped"
	skip "YAML dump parses with yaml.safe_load" \
		"python3 yaml module not installed"
fi

# ---------------------------------------------------------------------------
# The man page (`help --troff`, which meson installs as logkeep.1) and the
# bash completion (tools/logkeep.bash, beside this script's directory).

run "$LK" help --troff
check "help --troff is a man page (.TH, NAME, SYNOPSIS, EXIT STATUS)" \
	eval 'head -n 1 "$T/out" | grep -q "^\.TH LOGKEEP 1" &&
	      grep -q "^\.SH NAME" "$T/out" && grep -q "^\.SH SYNOPSIS" "$T/out" &&
	      grep -q "^\.SH EXIT STATUS" "$T/out"'
for c in dump verify repair stats import-sqlite; do
	check "the man page has the $c command" \
		grep -q "^logkeep ${c%%-*}" "$T/out"
done
if command -v groff >/dev/null 2>&1; then
	check "groff reads the man page without a warning" \
		eval '[ -z "$(groff -man -Tutf8 -ww "$T/out" 2>&1 >/dev/null)" ]'
fi
COMPLETION="$(dirname "$0")/../tools/logkeep.bash"
if command -v bash >/dev/null 2>&1 && [ -f "$COMPLETION" ]; then
	check "the bash completion parses" bash -n "$COMPLETION"
	check "the bash completion offers dump's --type values" \
		eval '[ "$(bash -c ". \"$COMPLETION\"; COMP_WORDS=(logkeep dump --type da);
			COMP_CWORD=3; _logkeep; echo \${COMPREPLY[*]}")" = damage ]'
fi

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	echo "# $failed of $n checks failed"
	exit 1
fi
exit 0
