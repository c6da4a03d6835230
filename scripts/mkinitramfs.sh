#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the initramfs (gzip'ed newc cpio) that hotdimm's guest tests, the
# demo and the benchmark boot:
#
#   scripts/mkinitramfs.sh KVER OUT [EXTRA...]
#
# Contents:
#   /bin/busybox + one link per applet (/sbin, /usr/bin, /usr/sbin -> /bin)
#   /bin/bash             the host's bash and its libraries, for upstream
#                         bash scripts (the kernel's memory-hotplug
#                         selftest); /bin/sh stays busybox
#   /init                 mounts proc/sys/devtmpfs/debugfs, loads the
#                         in-tree virtio modules the guest needs (those that
#                         are modules in KVER, in dependency order),
#                         then execs busybox init, which runs (and respawns)
#                         /bin/hotdimm-serve: the command loop on /dev/ttyS1
#   /lib/modules/NAME.ko  virtio_ring, virtio, virtio_pci_modern_dev,
#                         virtio_pci_legacy_dev, virtio_pci (loaded at boot
#                         when they are modules) and virtio_mem (copied,
#                         NEVER loaded automatically: there is no udev; a
#                         test loads it explicitly to check coexistence),
#                         notifier_error_inject and
#                         memory_notifier_error_inject (fault injection
#                         tests load them)
#                         .ko.xz/.ko.zst/.ko.gz are decompressed: busybox
#                         insmod only reads plain .ko files.
#   /bin/lsmem, /bin/chmem  util-linux's tools, from the host (with their
#                         libraries), so tests compare them with hotdimm's sysfs
#
# EXTRA arguments:
#   PATH              a file; hotdimm.ko goes to /hotdimm.ko, hotdimmctl to
#                     /bin/hotdimmctl, anything else to /<basename>
#   PATH:/DEST        a file at an explicit guest path
#   module:NAME       one more in-tree module of KVER, at /lib/modules/NAME.ko
# Dynamically linked ELF executables get their shared libraries (from ldd)
# copied too.
#
# The output is cached: OUT.key records a hash of every input (this script,
# KVER, busybox, the modules, the extra files); when it matches, nothing is
# rebuilt.
#
# Command channel protocol (host side: scripts/hotdimm_vm.py), one line each,
# on /dev/ttyS1 in raw mode without echo:
#   host:  PING <n>                      guest: PONG <n>
#   host:  CMD <id> <timeout> <base64 of a sh script>
#   guest: BEGIN <id> / base64 of stdout+stderr / END <id> <rc> [killed]
# ("killed": SIGKILLed, normally by the timeout; the host checks the time)
# The guest announces "HOTDIMM-READY" once it has opened the port.
set -euo pipefail

usage() {
	echo "usage: $0 KVER OUT [PATH | PATH:/DEST | module:NAME]..." >&2
	exit 2
}
[ $# -ge 2 ] || usage
KVER=$1
OUT=$2
shift 2

# The kernel's module tree: /lib/modules/KVER, or where scripts/kernels.sh
# says (the newest kernel is unpacked, not installed).
MODDIR=$("$(dirname "$0")/kernels.sh" --env "$KVER" 2>/dev/null | sed -n 's/^MODDIR=//p')
MODDIR=${MODDIR:-/lib/modules/$KVER}
BUSYBOX=${BUSYBOX:-/bin/busybox}
# Loaded at boot in this order when they are modules of KVER.
BOOT_MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci)
# Copied but never loaded by /init.
COPY_MODULES=(virtio_mem notifier_error_inject memory_notifier_error_inject)

die() { echo "mkinitramfs: $*" >&2; exit 1; }

[ -d "$MODDIR" ] || die "no $MODDIR (install linux-image-$KVER)"
[ -f "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep"
[ -x "$BUSYBOX" ] || die "no $BUSYBOX (install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked (install busybox-static)"
fi

# Path of module NAME in KVER's tree, "builtin", or "" when missing.
module_path() {
	local name=$1 alt=${1//_/-} rel
	rel=$(grep -E "(^|/)(${name}|${alt})\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -n1 | cut -d: -f1)
	if [ -n "$rel" ]; then
		echo "$MODDIR/$rel"
	elif grep -qE "(^|/)(${name}|${alt})\.ko$" "$MODDIR/modules.builtin" 2>/dev/null; then
		echo builtin
	fi
}

# Resolve extras into "src dest" pairs and modules into "src name".
declare -a X_SRC=() X_DST=() M_SRC=() M_NAME=() M_BOOT=()
add_module() {
	local name=$1 boot=$2 p
	p=$(module_path "$name")
	case "$p" in
	builtin) return 0 ;;
	"") die "module $name not found for $KVER" ;;
	esac
	M_SRC+=("$p"); M_NAME+=("$name"); M_BOOT+=("$boot")
}
for m in "${BOOT_MODULES[@]}"; do add_module "$m" 1; done
for m in "${COPY_MODULES[@]}"; do add_module "$m" 0; done

for x in "$@"; do
	case "$x" in
	module:*)
		add_module "${x#module:}" 0
		continue ;;
	*:/*)
		src=${x%%:/*}; dst=/${x#*:/} ;;
	*)
		src=$x
		case "$(basename "$src")" in
		hotdimm.ko) dst=/hotdimm.ko ;;
		hotdimmctl) dst=/bin/hotdimmctl ;;
		*) dst=/$(basename "$src") ;;
		esac ;;
	esac
	[ -f "$src" ] || die "extra file $src does not exist"
	X_SRC+=("$src"); X_DST+=("$dst")
done
[ -x /bin/bash ] || die "no /bin/bash"
X_SRC+=(/bin/bash); X_DST+=(/bin/bash)

# util-linux's memory tools from the host (busybox has neither).
for t in lsmem chmem; do
	p=$(PATH=/usr/bin:/usr/sbin:/bin:/sbin command -v "$t") ||
		die "no $t on the host (install util-linux)"
	X_SRC+=("$p"); X_DST+=("/bin/$t")
done

# Shared libraries of dynamically linked extras.
declare -a LIBS=()
for src in "${X_SRC[@]+"${X_SRC[@]}"}"; do
	if head -c 4 "$src" | grep -q 'ELF' && ldd "$src" >/dev/null 2>&1; then
		while read -r lib; do LIBS+=("$lib"); done < <(ldd "$src" |
			sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
	fi
done

# Cache key over every input.
key=$(
	{
		echo "kver $KVER"
		sha256sum "$0" "$BUSYBOX"
		for i in "${!M_SRC[@]}"; do
			echo "mod ${M_NAME[$i]} ${M_BOOT[$i]}"; stat -c '%n %s %Y' "${M_SRC[$i]}"
		done
		for i in "${!X_SRC[@]}"; do
			echo "extra ${X_DST[$i]}"; sha256sum < "${X_SRC[$i]}"
		done
		for l in "${LIBS[@]+"${LIBS[@]}"}"; do stat -L -c '%n %s %Y' "$l"; done
	} | sha256sum | cut -d' ' -f1
)
if [ -f "$OUT" ] && [ "$(cat "$OUT.key" 2>/dev/null)" = "$key" ]; then
	echo "mkinitramfs: $OUT is up to date" >&2
	exit 0
fi

mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "$(dirname "$OUT")/.initramfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R"/{bin,dev,proc,sys,tmp,run,etc,root,lib/modules,usr,mnt}
ln -s bin "$R/sbin"
ln -s ../bin "$R/usr/bin"
ln -s ../bin "$R/usr/sbin"

cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] && continue
	[ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done

boot_list=
for i in "${!M_SRC[@]}"; do
	src=${M_SRC[$i]} dst=$R/lib/modules/${M_NAME[$i]}.ko
	case "$src" in
	*.ko.xz) xz -dc "$src" > "$dst" ;;
	*.ko.zst) zstd -qdc "$src" > "$dst" ;;
	*.ko.gz) gzip -dc "$src" > "$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
	[ "${M_BOOT[$i]}" = 1 ] && boot_list="$boot_list ${M_NAME[$i]}"
done
echo "${boot_list# }" > "$R/etc/boot-modules"
echo "$KVER" > "$R/etc/kernel-version"

for i in "${!X_SRC[@]}"; do
	mkdir -p "$R$(dirname "${X_DST[$i]}")"
	cp "${X_SRC[$i]}" "$R${X_DST[$i]}"
	chmod a+r "$R${X_DST[$i]}"
done
for l in "${LIBS[@]+"${LIBS[@]}"}"; do
	d=$(dirname "$l")
	# Never replace the /lib/modules or /bin directories by links.
	mkdir -p "$R$d"
	cp -L "$l" "$R$l"
done

cat > "$R/init" <<'EOF'
#!/bin/sh
# hotdimm test guest init (generated by scripts/mkinitramfs.sh).
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t tmpfs -o size=50% tmpfs /dev/shm
echo 60 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
# The host sends sysrq keys (blocked tasks, CPU backtraces) when a guest stalls.
echo 1 > /proc/sys/kernel/sysrq

for m in $(cat /etc/boot-modules); do
	insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done

# tests/harness: a kernel fault report before userspace that does not stop the boot.
grep -qw hotdimm.harness_early_fault /proc/cmdline &&
	echo "BUG: hotdimm harness: a fault reported before userspace" > /dev/kmsg
echo "init: userspace up after $(cut -d' ' -f1 /proc/uptime)s"

# busybox init becomes PID 1: it reaps orphans and respawns the command
# loop. The loop must not be PID 1 nor have background children: a SIGCHLD
# arriving while ash's `read` waits makes it drop the partial line.
exec /bin/busybox init
EOF

cat > "$R/etc/inittab" <<'EOF'
::respawn:/bin/hotdimm-serve
EOF

cat > "$R/bin/hotdimm-serve" <<'EOF'
#!/bin/sh
# Command channel on the second serial port (protocol: see the top of
# scripts/mkinitramfs.sh). Each command runs in its own session under busybox
# timeout; after a timeout the rest of that session is killed too.
exec 3<>/dev/ttyS1 || { sleep 1; exit 1; }
stty raw -echo -echoe -echok -echoctl -echoke -ixon -ixoff <&3
echo "HOTDIMM-READY" >&3
cd /
while :; do
	IFS=' ' read -r verb id tmo data <&3 || { sleep 1; continue; }
	case "$verb" in
	PING)
		echo "PONG $id" >&3 ;;
	CMD)
		echo "$data" | base64 -d > /tmp/.cmd 2>/dev/null
		rm -f /tmp/.pgid
		# setsid does not fork here: $$ is the new session's id.
		timeout -s KILL "$tmo" setsid sh -c 'echo $$ > /tmp/.pgid; exec sh /tmp/.cmd' \
			> /tmp/.out 2>&1 < /dev/null
		rc=$?
		flag=
		if [ "$rc" = 137 ]; then
			p=$(cat /tmp/.pgid 2>/dev/null)
			[ -n "$p" ] && kill -9 -- "-$p" 2>/dev/null
			flag=killed
		fi
		{ echo "BEGIN $id"; base64 /tmp/.out; echo "END $id $rc $flag"; } >&3 ;;
	esac
done
EOF
chmod 755 "$R/init" "$R/bin/hotdimm-serve"

(cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) |
	gzip -1 > "$WORK/out.cpio.gz"
mv "$WORK/out.cpio.gz" "$OUT"
echo "$key" > "$OUT.key"
echo "mkinitramfs: wrote $OUT ($(du -h "$OUT" | cut -f1))" >&2
