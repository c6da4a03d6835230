#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernels hotdimm is built and tested against.
#
#   scripts/kernels.sh              versions, oldest first, one per line
#   scripts/kernels.sh --env KVER   shell assignments describing KVER:
#       VMLINUZ  the guest kernel image
#       MODDIR   its module tree (holds modules.dep)
#       SYSMAP   its System.map (may be empty)
#       CONFIG   its .config (may be empty)
#       KDIR     its headers, as a host path
#       CHROOT   empty for a host kernel; else the chroot whose tools build
#                for it (KDIR then is $CHROOT$KDIR_IN)
#       KDIR_IN  the headers' path inside CHROOT (= KDIR for host kernels)
#   scripts/kernels.sh --expected   the kernels scripts/deps.sh installed
#                                   (the suite fails when one is missing)
#
#   scripts/kernels.sh --debug      the debug kernel's version, e.g.
#                                   6.1.192-hotdimm-debug (fails unless built)
#
# The debug kernel (scripts/debug-kernel.sh: 6.1 with KASAN, lockdep,
# kmemleak, fault injection) is never listed, so normal runs do not change;
# name it explicitly, by its version or as "debug":
# `tests/guest/run --kernel "$(scripts/kernels.sh --debug)"` (what
# make check-debug does). Its headers are its build tree.
#
# Two places are searched for the listed kernels:
#   host      /boot/vmlinuz-KVER with /usr/src/linux-headers-KVER (Debian
#             12's stock and bookworm-backports kernels)
#   newest    $HOTDIMM_STATE/kernels/KVER/root (the unpacked guest kernel)
#             with headers in $HOTDIMM_STATE/trixie (scripts/deps-newest.sh)
set -euo pipefail

STATE=${HOTDIMM_STATE:-/var/lib/hotdimm}
CHROOT_DIR=$STATE/trixie

host_kernels() {
	local h v
	for h in /usr/src/linux-headers-*-amd64; do
		[ -d "$h" ] || continue
		v=${h#/usr/src/linux-headers-}
		[ -f "/boot/vmlinuz-$v" ] && [ -d "/lib/modules/$v" ] && echo "$v"
	done
	return 0
}

chroot_kernels() {
	local h v
	for h in "$CHROOT_DIR"/usr/src/linux-headers-*-amd64; do
		[ -d "$h" ] || continue
		v=${h##*/linux-headers-}
		[ -f "$STATE/kernels/$v/.hotdimm-ready" ] && echo "$v"
	done
	return 0
}

debug_dir() {
	"$(dirname "$0")/debug-kernel.sh" --dir 2>/dev/null || {
		echo "kernels: the debug kernel is not built (run scripts/debug-kernel.sh)" >&2
		return 1
	}
}

env_of() {
	local v=$1 root m dir
	if [ "$v" = debug ] || [ "${v%-hotdimm-debug}" != "$v" ]; then
		dir=$(debug_dir) || return 1
		if [ "$v" != debug ] && [ "$v" != "$(cat "$dir/kernelrelease")" ]; then
			echo "kernels: unknown kernel $v (the debug kernel is $(cat "$dir/kernelrelease"))" >&2
			return 1
		fi
		echo "VMLINUZ=$dir/bzImage"
		echo "MODDIR=$dir/staging/lib/modules/$(cat "$dir/kernelrelease")"
		echo "SYSMAP=$dir/linux-source-6.1/System.map"
		echo "CONFIG=$dir/linux-source-6.1/.config"
		echo "KDIR=$dir/linux-source-6.1"
		echo "CHROOT="
		echo "KDIR_IN=$dir/linux-source-6.1"
		return 0
	fi
	if [ -f "/boot/vmlinuz-$v" ] && [ -d "/usr/src/linux-headers-$v" ]; then
		echo "VMLINUZ=/boot/vmlinuz-$v"
		echo "MODDIR=/lib/modules/$v"
		echo "SYSMAP=$([ -f "/boot/System.map-$v" ] && echo "/boot/System.map-$v")"
		echo "CONFIG=$([ -f "/boot/config-$v" ] && echo "/boot/config-$v")"
		echo "KDIR=/usr/src/linux-headers-$v"
		echo "CHROOT="
		echo "KDIR_IN=/usr/src/linux-headers-$v"
		return 0
	fi
	root=$STATE/kernels/$v/root
	if [ -f "$STATE/kernels/$v/.hotdimm-ready" ] && [ -d "$CHROOT_DIR/usr/src/linux-headers-$v" ]; then
		for m in "$root/usr/lib/modules/$v" "$root/lib/modules/$v"; do
			[ -d "$m" ] && break
		done
		local img sysmap config
		img=$(ls "$m/vmlinuz" "$root/boot/vmlinuz-$v" 2>/dev/null | head -n1 || true)
		sysmap=$(ls "$m/System.map" "$root/boot/System.map-$v" 2>/dev/null | head -n1 || true)
		config=$(ls "$m/config" "$root/boot/config-$v" 2>/dev/null | head -n1 || true)
		echo "VMLINUZ=$img"
		echo "MODDIR=$m"
		echo "SYSMAP=$sysmap"
		echo "CONFIG=$config"
		echo "KDIR=$CHROOT_DIR/usr/src/linux-headers-$v"
		echo "CHROOT=$CHROOT_DIR"
		echo "KDIR_IN=/usr/src/linux-headers-$v"
		return 0
	fi
	echo "kernels: unknown kernel $v (scripts/kernels.sh lists the known ones)" >&2
	return 1
}

case "${1:-}" in
"")
	{ host_kernels; chroot_kernels; } | sort -uV ;;
--env)
	[ $# = 2 ] || { echo "usage: $0 --env KVER" >&2; exit 2; }
	env_of "$2" ;;
--debug)
	dir=$(debug_dir)
	cat "$dir/kernelrelease" ;;
--expected)
	[ -f "$STATE/expected-kernels" ] && cat "$STATE/expected-kernels"
	exit 0 ;;
-h|--help)
	sed -n '3,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
*)
	echo "usage: $0 [--env KVER | --debug | --expected | --help]" >&2
	exit 2 ;;
esac
