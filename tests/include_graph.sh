#!/bin/sh
# SPDX-License-Identifier: MIT
# include_graph.sh - the module graph of engine/ from its #include lines,
# and a check that it has no cycle (README, "Source layout").
#
# A module is a file name without its extension: X.c and X.h are module
# X.  Every '#include "Y.h"' in X.c or X.h is an edge X -> Y (X uses Y).
# The public headers (logkeep*.h) and the shared helpers that sit under
# everything (alloc, error, endian) are left out, so the graph shows the
# layers.  Prints the edges, one "X -> Y" a line, then the modules in
# layer order (tsort: every module after the ones it uses), and exits 1
# if the graph has a cycle.
#
# Usage: sh tests/include_graph.sh [ENGINE_DIR]
set -eu
dir=${1:-engine}
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in "$dir"/*.c "$dir"/*.h; do
	from=$(basename "$f" | sed 's/\.[ch]$//')
	sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f" | while read -r to; do
		case "$to" in
		"$from" | logkeep* | alloc | error | endian) ;;
		*) echo "$from $to" ;;
		esac
	done
done | sort -u >"$edges"
sed 's/ / -> /' "$edges"
echo "layer order (each after what it uses):"
# tsort orders "A B" as A before B; reversed, a module comes after its uses.
if ! order=$(tsort "$edges" 2>&1) || echo "$order" | grep -q "loop"; then
	echo "$order" >&2
	echo "include_graph: the module graph of $dir has a cycle" >&2
	exit 1
fi
echo "$order" | tac | tr '\n' ' '
echo
