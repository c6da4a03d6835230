#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build hotdimm's debug kernel once per machine: Debian's 6.1 source
# (linux-source-6.1, installed by scripts/deps.sh) configured as
# x86_64_defconfig + kvm_guest.config + scripts/debug-kernel.config (KASAN,
# lockdep, DEBUG_VM, kmemleak, debug objects, failslab, fail_page_alloc, the
# memory notifier error injector; memory hotplug as in the stock kernel).
#
#   scripts/debug-kernel.sh            build unless built; prints the cache dir
#   scripts/debug-kernel.sh --dir      the cache dir when built, else fails
#   scripts/debug-kernel.sh --check-config DOTCONFIG
#                                      check a .config against the fragment
#
# Cache, outside the clone, one per source version:
#   $HOTDIMM_STATE/debug-kernel/<linux-source-6.1 version>/
#     linux-source-6.1/   the built tree: KDIR for `make -C KDIR M=... modules`
#     bzImage             the guest kernel image
#     staging/lib/modules/<release>/   modules_install output (virtio_mem,
#                         memory-notifier-error-inject, ...)
#     kernelrelease       e.g. 6.1.192-hotdimm-debug
#     build-seconds       wall time of the build that made it
#     .ready              written last; holds the fragment's hash
# A second run with the same fragment does nothing; a changed fragment
# rebuilds incrementally. HOTDIMM_STATE defaults to /var/lib/hotdimm.
# The build runs under `nice -n 10 make -j${HOTDIMM_JOBS:-2}`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FRAGMENT=$ROOT/scripts/debug-kernel.config
STATE=${HOTDIMM_STATE:-/var/lib/hotdimm}
TARBALL=/usr/src/linux-source-6.1.tar.xz
JOBS=${HOTDIMM_JOBS:-2}

log() { echo "debug-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

# Every line above the "trim" marker must hold in DOTCONFIG.
check_config() {
	local dotconfig=$1 line sym bad=0
	while IFS= read -r line; do
		case "$line" in
		*"---- trim"*) break ;;
		CONFIG_*=*)
			if ! grep -qxF -- "$line" "$dotconfig"; then
				sym=${line%%=*}
				log "config: want $line, have: $(grep -E "^(# )?${sym}[= ]" "$dotconfig" || echo "(absent)")"
				bad=1
			fi ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			if grep -qE "^$sym=" "$dotconfig"; then
				log "config: want $sym off, have: $(grep -E "^$sym=" "$dotconfig")"
				bad=1
			fi ;;
		esac
	done < "$FRAGMENT"
	[ "$bad" = 0 ] || die "config: $dotconfig lacks required options (see above)"
	log "config: all required options of ${FRAGMENT#"$ROOT"/} are set"
}

case "${1:-}" in
--check-config)
	[ $# = 2 ] || die "usage: $0 --check-config DOTCONFIG"
	check_config "$2"
	exit 0 ;;
-h|--help)
	sed -n '3,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0 ;;
--dir|"") ;;
*)
	die "usage: $0 [--dir | --check-config DOTCONFIG | --help]" ;;
esac

[ -f "$TARBALL" ] || die "no /usr/src/linux-source-6.1.tar.xz (run scripts/deps.sh)"
SRCVER=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[ -n "$SRCVER" ] || die "linux-source-6.1 is not installed (run scripts/deps.sh)"
CACHE=$STATE/debug-kernel/$SRCVER
KEY=$(sha256sum < "$FRAGMENT" | cut -d" " -f1)

ready() { [ "$(cat "$CACHE/.ready" 2>/dev/null)" = "$KEY" ] && [ -f "$CACHE/bzImage" ]; }

if [ "${1:-}" = --dir ]; then
	ready || die "not built (run scripts/debug-kernel.sh)"
	echo "$CACHE"
	exit 0
fi
if ready; then
	echo "$CACHE"
	exit 0
fi

mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
if ! flock -n 9; then
	log "another build is running; waiting for it"
	flock 9
fi
if ready; then
	echo "$CACHE"
	exit 0
fi

start=$(date +%s)
SRC=$CACHE/linux-source-6.1
if [ ! -f "$SRC/.hotdimm-unpacked" ]; then
	log "unpacking $TARBALL"
	rm -rf "$SRC" "$CACHE/.unpack"
	mkdir -p "$CACHE/.unpack"
	tar -C "$CACHE/.unpack" -xJf "$TARBALL"
	mv "$CACHE/.unpack/linux-source-6.1" "$SRC"
	rmdir "$CACHE/.unpack"
	touch "$SRC/.hotdimm-unpacked"
fi

cd "$SRC"
log "configuring: x86_64_defconfig + kvm_guest.config + ${FRAGMENT#"$ROOT"/}"
make -s x86_64_defconfig >&2
KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config \
	kernel/configs/kvm_guest.config "$FRAGMENT" >&2
make -s olddefconfig >&2
check_config "$SRC/.config"

log "building with nice -n 10 make -j$JOBS (log: make output below)"
nice -n 10 make -j"$JOBS" bzImage modules >&2
rm -rf "$CACHE/staging"
nice -n 10 make -s INSTALL_MOD_PATH="$CACHE/staging" INSTALL_MOD_STRIP=1 \
	modules_install >&2
release=$(make -s kernelrelease)
[ -f "$CACHE/staging/lib/modules/$release/modules.dep" ] ||
	die "modules_install left no modules.dep for $release"
cp arch/x86/boot/bzImage "$CACHE/bzImage"
echo "$release" > "$CACHE/kernelrelease"
end=$(date +%s)
echo "$((end - start))" > "$CACHE/build-seconds"
echo "$KEY" > "$CACHE/.ready"
log "built $release in $((end - start)) s (nice'd, on a shared machine)"
echo "$CACHE"
