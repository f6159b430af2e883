#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job, until the mesh layer's demo exists: load generated node
# records into a data directory, read a few back, verify the directory,
# and print its recovery report.  Usage: tools/demo.sh [DIR] (default
# ./logkeep-data); LOGKEEP names the tool (default build/tools/logkeep),
# N the number of records (default 100000).
set -eu
LOGKEEP=${LOGKEEP:-build/tools/logkeep}
DIR=${1:-./logkeep-data}
N=${N:-100000}

echo "== loading $N node records into $DIR"
awk -v n="$N" 'BEGIN {
	for (i = 0; i < n; i++)
		printf "node-%06d\t{\"interfaces\":[\"wlan0\",\"eth%d\"],\"protocols\":[\"batman-adv\"],\"routes_discovered\":%d}\n", i, i % 4, i % 97
}' | "$LOGKEEP" load -n nodes "$DIR"

echo "== a few gets"
for k in node-000000 node-004242 "node-$(printf %06d $((N - 1)))"; do
	printf '%s = ' "$k"
	"$LOGKEEP" get -n nodes "$DIR" "$k"
	echo
done
printf 'node-999999x (absent): '
"$LOGKEEP" get -n nodes "$DIR" node-999999x && echo found || echo "absent (exit $?)"

echo "== verify"
"$LOGKEEP" verify "$DIR"
