#!/bin/sh
# SPDX-License-Identifier: MIT
#
# wrap_exe.sh - writes OUTPUT, an executable script that runs the program
# EXE under the exe_wrapper of a cross build (qemu-user: .ci/cross/).
#
# Why: meson runs a cross-built test binary through the cross file's
# exe_wrapper itself, but the shell tests (cli_test.sh, operator_test.sh)
# start the tool as a process of their own, which the build machine
# cannot execute.  When meson test has set MESON_EXE_WRAPPER (shell-quoted;
# it does for a cross build's test that is handed a cross-built program)
# they write OUTPUT with this and run it instead of the tool.
# (import_test.py prefixes MESON_EXE_WRAPPER itself.)
#
# Usage: wrap_exe.sh EXE OUTPUT
set -eu
exe=$1
out=$2
case $exe in
/*) ;;
*) exe=$(pwd)/$exe ;;
esac
case $exe in
*\'*)
	echo "wrap_exe.sh: a quote in $exe" >&2
	exit 1
	;;
esac
cat >"$out" <<EOF
#!/bin/sh
# Written by tests/wrap_exe.sh: runs $exe under \$MESON_EXE_WRAPPER.
eval "exec \${MESON_EXE_WRAPPER:-} '$exe' \"\\\$@\""
EOF
chmod +x "$out"
