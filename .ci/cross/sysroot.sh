#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sysroot.sh ARCH - the target libraries of a cross build, unpacked into
# /opt/logkeep-cross/ARCH (the `sysroot` constant of .ci/cross/ARCH.ini).
#
# Why not multiarch (`apt-get install libzstd-dev:s390x`): Debian 12's
# security archive (bookworm-security) no longer carries s390x, and a
# fresh machine's libzstd1:amd64 comes from it (1.5.4+dfsg2-5+deb12u1),
# while libzstd1:s390x exists only at 1.5.4+dfsg2-5.  Multiarch wants one
# version across architectures, so apt refuses the pair unless the host's
# zstd is downgraded.  (armhf's security index was also failing to
# download on the day this was written.)  Unpacking the target's .deb
# files with `dpkg -x` beside the cross compiler's C library changes
# nothing on the host, and is the same for both targets.
#
# Needs: ARCH added with `dpkg --add-architecture` and an `apt-get update`
# after it (for `apt-get download`); the cross compiler and qemu-user
# come from ordinary packages (.ci/cross.sh installs them).  Idempotent:
# a sysroot with every package's stamp is left as it is.
set -eu
arch=${1:?usage: sysroot.sh armhf|s390x}
root=/opt/logkeep-cross/$arch
pkgs="libxxhash-dev libxxhash0 libzstd-dev libzstd1 libyaml-dev libyaml-0-2
libsodium-dev libsodium23 libcmocka-dev libcmocka0"

missing=""
for p in $pkgs; do
	[ -f "$root/.stamp-$p" ] || missing="$missing $p:$arch"
done
[ -n "$missing" ] || exit 0

debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
chown _apt "$debs" 2>/dev/null || true # apt downloads as _apt
# A package list may be missing or stale (apt-get clean, a point
# release): then update once and try again.
(cd "$debs" && apt-get download -qq $missing 2>/dev/null) || {
	apt-get update -qq >/dev/null 2>&1
	(cd "$debs" && apt-get download -qq $missing)
}
mkdir -p "$root"
for deb in "$debs"/*.deb; do
	dpkg -x "$deb" "$root"
	p=$(dpkg-deb -f "$deb" Package)
	dpkg-deb -f "$deb" Version >"$root/.stamp-$p"
done
