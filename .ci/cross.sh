#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cross.sh - CI's cross stage (SPEC §1, §4, §11): logkeep built for armhf
# (32-bit little-endian, the routers' ARM) and s390x (64-bit big-endian)
# with Debian's cross compilers and -Werror, and its test suites run under
# qemu-user through meson's exe_wrapper (.ci/cross/ARCH.ini).
#
# .ci/run sources it, and its results go into the run's count; alone,
#   bash .ci/cross.sh [ARCH...]       (default: armhf s390x)
# runs the same stage and ends with its own "N passed, N failed" line.
# As root on a fresh Debian 12 it installs what is missing: the cross
# compilers, qemu-user, and the target's libraries unpacked into
# /opt/logkeep-cross/ARCH (.ci/cross/sysroot.sh says why not multiarch).
#
# Both targets run every test of `meson test` (55), with one thing scaled
# down: the power-cut crash explorer cuts at every fifth I/O call
# (LK_CRASH_STEP=5, 39,802 states; every workload and reboot choice kept,
# and the fault loops still fail every allocation and I/O call), because
# at `meson test`'s own scale it takes about 290 s under qemu, 10 times
# its native 30 s, on each target (at every third call, 164 s: the whole
# of CI then took past its 25 minutes).  crash_mesh runs at its own
# scale.
#
# Portability (tests/portable_test.sh, the `portable` test of each
# target's suite): each target's golden_gen writes the golden workload
# under qemu, and a native build's tools open, verify and dump it exactly
# as they do the native build's own directory, and the target's tools the
# native directory likewise (a second or so per target).  The native build
# is .ci/run's build-ci when this file is sourced from it, else
# build-cross-native (only the tool and golden_gen are built), passed to
# each target's meson setup as -Dnative_build.  The golden directories
# (tests/golden, golden_test.sh) run in each target's suite too.
#
# Fuzzing under qemu (cross_mutate, after each target's suite): each fuzz
# target's replayer in its --mutate mode (fuzz/mutate.c, a plain random
# mutator) for FUZZ_CROSS_SECONDS (default 10) over its corpus and
# regressions, the suite fuzz-mutate that -Dfuzz_mutate_seconds defines,
# one test per target, CROSS_JOBS at a time.  libFuzzer's runtime exists
# for x86-64 only, so these are the only fuzzing runs that see 32-bit and
# big-endian behaviour.  A failing target prints its input (kept in
# build-cross-ARCH/fuzz/mutate-TARGET/current) and its seed.
#
# Build directories: build-cross-ARCH (and build-cross-native), removed and
# made anew.
# CROSS_JOBS (default 2) sets ninja's -j and meson test's processes.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cross_standalone=0
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cross_standalone=1
	passed=0
	failed=0
	# count BUILDDIR: adds one meson test run's results to passed, failed.
	. .ci/count.sh
fi

# cross_install ARCH...: the cross compilers, qemu-user and the sysroots.
cross_install() {
	local arch missing="" update=0 triplet
	for arch in "$@"; do
		case $arch in
		armhf) triplet=arm-linux-gnueabihf ;;
		s390x) triplet=s390x-linux-gnu ;;
		*) echo "cross.sh: unknown target $arch" >&2; return 1 ;;
		esac
		dpkg-query -W -f='${Status}' "gcc-$triplet" 2>/dev/null |
			grep -q "ok installed" || missing="$missing gcc-$triplet"
		if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
			dpkg --add-architecture "$arch" || return 1
			update=1
		fi
	done
	dpkg-query -W -f='${Status}' qemu-user 2>/dev/null |
		grep -q "ok installed" || missing="$missing qemu-user"
	if [ -n "$missing" ] || [ "$update" -eq 1 ]; then
		echo "== installing (cross):${missing:- (package lists)}"
		# Not fatal: an index of one foreign architecture that fails
		# to download (seen for bookworm-security's armhf) leaves the
		# others usable; a package really missing fails below.
		apt-get update -qq >/dev/null 2>&1
		if [ -n "$missing" ]; then
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				$missing >/dev/null || return 1
		fi
	fi
	for arch in "$@"; do
		bash .ci/cross/sysroot.sh "$arch" || return 1
	done
}

# cross_native: sets cross_native_dir to a native build with the tool and
# golden_gen, for the portable test; empty (and counted failed) if none.
cross_native() {
	local dir=build-cross-native jobs=${CROSS_JOBS:-2}
	cross_native_dir=
	if [ "$cross_standalone" -eq 0 ] && [ -x build-ci/tools/logkeep ] &&
		[ -x build-ci/tests/golden_gen ]; then
		cross_native_dir=$PWD/build-ci
		return
	fi
	echo "== native build for the portable test ($dir)"
	rm -rf "$dir"
	if meson setup "$dir" --werror -Dbench_peers=disabled \
		-Dsqlite_import=disabled >"$dir.log" 2>&1 &&
		ninja -C "$dir" -j "$jobs" tools/logkeep tests/golden_gen \
			>>"$dir.log" 2>&1; then
		cross_native_dir=$PWD/$dir
	else
		tail -40 "$dir.log"
		echo "FAILED: the native build for the portable test"
		failed=$((failed + 1))
	fi
}

# cross_lib_size ARCH DIR: the shared library as a router would install
# it, stripped with the target's binutils, against the footprint budget
# (README, "Footprint"): at most 200 KiB on armhf, a test of this stage;
# printed only on s390x, which no router runs.
cross_lib_size() {
	local arch=$1 dir=$2 triplet bytes budget=$((200 * 1024))
	case "$arch" in
	armhf) triplet=arm-linux-gnueabihf ;;
	s390x) triplet=s390x-linux-gnu ;;
	esac
	if ! "$triplet-strip" -o "$dir/liblogkeep-stripped.so" \
		"$dir/engine/liblogkeep.so.0.1.0"; then
		echo "FAILED: $arch: stripping liblogkeep.so"
		failed=$((failed + 1))
		return
	fi
	bytes=$(stat -c %s "$dir/liblogkeep-stripped.so")
	echo "$arch: liblogkeep.so stripped: $bytes bytes ($((bytes / 1024)) KiB)"
	[ "$arch" = armhf ] || return 0
	if [ "$bytes" -le "$budget" ]; then
		passed=$((passed + 1))
	else
		echo "FAILED: $arch: liblogkeep.so stripped is past its budget of $((budget / 1024)) KiB"
		failed=$((failed + 1))
	fi
}

# cross_mutate ARCH DIR: the suite fuzz-mutate of DIR, under qemu; prints
# each target's runs per second, and a failing target's input and seed.
#
# Why FUZZ_CROSS_SECONDS is 10: six targets, two at a time, make half a
# minute per architecture, one for the stage, beside its 4 to 6 minutes
# of suites (at 20 s, the whole of CI took past its 25 minutes).  Under
# qemu on armhf the targets ran 4 (fuzz_snapshot), 7 (fuzz_open), 18
# (fuzz_ops), 600 (fuzz_policy), 6,000 (fuzz_record) and 35,000
# (fuzz_mesh_values) inputs a second, two at a time on a 2-core VM that a
# CI run shared.  A plain random mutator finds a shallow width or
# byte-order bug (a field read as 32 bits, a byte swapped) in the fast
# targets within seconds, and a deep one in no time CI could give it;
# doubling the time doubles the slow targets' 100 or so inputs without
# changing what such a mutator reaches.  The seed is new each run (the
# clock) and printed, so successive runs cover different inputs.
cross_mutate() {
	local arch=$1 dir=$2 jobs=${CROSS_JOBS:-2} cur t
	echo "== fuzz, mutate mode ($arch, ${FUZZ_CROSS_SECONDS:-10} s" \
		"per target under qemu-user)"
	meson test -C "$dir" --suite fuzz-mutate --print-errorlogs \
		--num-processes "$jobs"
	count "$dir"
	awk -v arch="$arch" '/^test: /{ t = $NF }
		/^mutate: [0-9]+ runs in / {
			printf "%s: %s: %d runs in %s s, %.0f runs/s\n",
				arch, t, $2, $5, ($5 > 0 ? $2 / $5 : 0) }' \
		"$dir/meson-logs/testlog.txt"
	# A run that passed removes its current input: one left is a failure
	# (or a timeout's kill).
	for cur in "$dir"/fuzz/mutate-*/current; do
		[ -f "$cur" ] || continue
		t=${cur%/current}
		t=${t##*/mutate-}
		echo "FAILED: fuzz_$t --mutate ($arch); its input, $cur:"
		od -A d -t x1 "$cur" | head -32
		grep -h "^mutate: .*$cur" "$dir/meson-logs/testlog.txt"
		echo "replay: $dir/fuzz/fuzz_${t}_replay $cur under" \
			"the exe_wrapper of .ci/cross/$arch.ini"
	done
}

# cross_one ARCH: builds build-cross-ARCH, runs its tests under qemu, weighs
# the library (cross_lib_size), then fuzzes (cross_mutate).
cross_one() {
	local arch=$1 dir=build-cross-$1 jobs=${CROSS_JOBS:-2} start
	echo "== cross build ($arch, -Werror, tests under qemu-user)"
	start=$(date +%s)
	rm -rf "$dir"
	if ! meson setup "$dir" --cross-file ".ci/cross/$arch.ini" --werror \
		-Dbench_peers=disabled -Dsqlite_import=disabled \
		-Dnative_build="$cross_native_dir" \
		-Dfuzz_mutate_seconds="${FUZZ_CROSS_SECONDS:-10}" \
		>"$dir.log" 2>&1 ||
		! ninja -C "$dir" -j "$jobs" >>"$dir.log" 2>&1; then
		tail -40 "$dir.log"
		failed=$((failed + 1))
		return
	fi
	LK_CRASH_STEP=${LK_CRASH_STEP:-5} \
		meson test -C "$dir" --print-errorlogs --num-processes "$jobs" \
		--timeout-multiplier 3 --no-suite fuzz-mutate
	count "$dir"
	grep -h "^crash states:\|^mesh crash states:" \
		"$dir/meson-logs/testlog.txt" | sed "s/^/$arch: /"
	cross_lib_size "$arch" "$dir"
	cross_mutate "$arch" "$dir"
	echo "$arch: $(($(date +%s) - start)) s"
}

cross_targets=("$@")
[ ${#cross_targets[@]} -gt 0 ] || cross_targets=(armhf s390x)
if cross_install "${cross_targets[@]}"; then
	cross_native
	for cross_arch in "${cross_targets[@]}"; do
		cross_one "$cross_arch"
	done
else
	echo "FAILED: installing the cross toolchains"
	failed=$((failed + 1))
fi

if [ "$cross_standalone" -eq 1 ]; then
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
fi
