#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run kbuild for an external module directory against one kernel:
#
#   scripts/kmake.sh KVER DIR [MAKE ARGS...]    e.g. ... W=1 modules
#
# For a host kernel this is `make -C KDIR M=DIR ARGS`. For a kernel whose
# headers live in a chroot (scripts/kernels.sh: the newest kernel, whose
# header tools need a newer glibc than the host's), DIR is mirrored to the
# same path inside the chroot, built there, and everything is copied back
# with timestamps, so paths in messages are the host's and rebuilds stay
# incremental.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 KVER DIR [MAKE ARGS...]" >&2
	exit 2
fi
KVER=$1
DIR=$(cd "$2" && pwd)
shift 2
env_out=$("$(dirname "$0")/kernels.sh" --env "$KVER") || exit 1
KDIR=$(sed -n 's/^KDIR=//p' <<< "$env_out")
KDIR_IN=$(sed -n 's/^KDIR_IN=//p' <<< "$env_out")
CHROOT=$(sed -n 's/^CHROOT=//p' <<< "$env_out")

if [ ! -d "$KDIR" ]; then
	echo "kmake: no kernel headers at $KDIR" >&2
	exit 1
fi
if [ -z "$CHROOT" ]; then
	exec make -C "$KDIR" M="$DIR" "$@"
fi

if [ "$(id -u)" != 0 ]; then
	echo "kmake: building for $KVER needs its chroot ($CHROOT): run as root" >&2
	exit 1
fi
IN=$CHROOT$DIR
rm -rf "$IN"
mkdir -p "$IN"
(cd "$DIR" && tar cf - .) | (cd "$IN" && tar xpf -)
rc=0
"$(dirname "$0")/in-chroot.sh" "$CHROOT" make -C "$KDIR_IN" M="$DIR" "$@" || rc=$?
(cd "$IN" && tar cf - .) | (cd "$DIR" && tar xpf -)
rm -rf "$IN"
exit $rc
