#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build hotdimm.ko for one installed kernel, out of the source tree:
#
#   scripts/build-module.sh KVER [MAKE ARGS...]     e.g. ... $(scripts/kernels.sh | head -n1) W=1
#
# Copies Kbuild, dkms.conf, src/*.c, src/*.h and include/ into
# build/kver/KVER/ (keeping timestamps, so unchanged files are not rebuilt),
# runs `make -C <KVER's headers> M=build/kver/KVER modules ARGS` (through
# scripts/kmake.sh, in the chroot for the newest kernel)
# and prints the path of the resulting hotdimm.ko on stdout. The build's own
# output goes to stderr. Concurrent builds for one KVER are serialised.
set -euo pipefail

if [ $# -lt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
	echo "usage: $0 KVER [MAKE ARGS...]" >&2
	exit 2
fi
KVER=$1
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/kver/$KVER

if ! "$ROOT/scripts/kernels.sh" --env "$KVER" >/dev/null; then
	echo "build-module: no kernel $KVER with headers (run scripts/deps.sh)" >&2
	exit 1
fi
for f in Kbuild dkms.conf; do
	[ -f "$ROOT/$f" ] || { echo "build-module: missing $f" >&2; exit 1; }
done

mkdir -p "$OUT/src" "$OUT/include"
exec 9> "$OUT.lock"
flock 9

# Mirror the sources; drop files that no longer exist in the tree.
sync_dir() {
	local from=$1 to=$2 f
	shift 2
	for f in "$to"/*; do
		[ -f "$f" ] || continue
		case "$f" in *.c|*.h) ;; *) continue ;; esac
		[ -e "$from/$(basename "$f")" ] || rm -f "$f"
	done
	for f in "$@"; do
		[ -f "$f" ] || continue
		cmp -s "$f" "$to/$(basename "$f")" || cp -p "$f" "$to/"
	done
}
cmp -s "$ROOT/Kbuild" "$OUT/Kbuild" || cp -p "$ROOT/Kbuild" "$OUT/"
cmp -s "$ROOT/dkms.conf" "$OUT/dkms.conf" || cp -p "$ROOT/dkms.conf" "$OUT/"
sync_dir "$ROOT/src" "$OUT/src" "$ROOT"/src/*.c "$ROOT"/src/*.h
sync_dir "$ROOT/include" "$OUT/include" "$ROOT"/include/*.h

if ! "$ROOT/scripts/kmake.sh" "$KVER" "$OUT" modules "$@" >&2; then
	echo "build-module: build for $KVER failed" >&2
	exit 1
fi
[ -f "$OUT/hotdimm.ko" ] || { echo "build-module: no hotdimm.ko produced" >&2; exit 1; }
echo "$OUT/hotdimm.ko"
