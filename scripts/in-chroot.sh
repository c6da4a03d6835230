#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command inside a chroot made by scripts/deps-newest.sh, as root:
#
#   scripts/in-chroot.sh CHROOT COMMAND [ARGS...]
#
# /proc is mounted inside it (kbuild's objtool and dkms need it) in a
# private mount namespace that ends with the command, so nothing stays
# mounted, also when the command is killed. The environment is reset.
set -euo pipefail
if [ $# -lt 2 ]; then
	echo "usage: $0 CHROOT COMMAND [ARGS...]" >&2
	exit 2
fi
[ "$(id -u)" = 0 ] || { echo "in-chroot: must run as root" >&2; exit 1; }
[ -d "$1/usr/bin" ] || { echo "in-chroot: $1 is not a chroot" >&2; exit 1; }
exec unshare -m --propagation private sh -c \
	'mount -t proc proc "$1/proc" && root=$1 && shift && exec chroot "$root" "$@"' \
	sh "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
	DEBIAN_FRONTEND=noninteractive "${@:2}"
