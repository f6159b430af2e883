# SPDX-License-Identifier: MIT
# Sourced by .ci/run and .ci/cross.sh (bash): count BUILDDIR adds one meson
# test run's results to the caller's $passed and $failed.

# Adds the results of one meson test run (from its testlog.json).
count() {
	local log="$1/meson-logs/testlog.json"
	if [ ! -f "$log" ]; then
		failed=$((failed + 1))
		return
	fi
	read -r p f < <(python3 - "$log" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
        p += 1
    else:
        f += 1
        print("FAILED:", r["name"], r["result"], file=sys.stderr)
print(p, f)
PY
)
	passed=$((passed + p))
	failed=$((failed + f))
}
