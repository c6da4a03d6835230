#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything hotdimm's build, tests, demo and benchmark need, as
# root, idempotently: a second run installs nothing.
#
# Packaging (`make deb`, tests/pkg, the man page lint): debhelper, dh-dkms,
# dpkg-dev, fakeroot, lintian, man-db and groff-base.
# libvirt (libvirtd, virtlogd, virsh) is for the guest tests that boot a
# libvirt domain; they start the daemons themselves when none runs, so no
# service manager is needed.
#
# Kernels: Debian 12's stock kernel (6.1) and the bookworm-backports kernel
# (6.12), each as image + matching headers, and the newest one
# (trixie-backports, 7.x) in a trixie chroot (scripts/deps-newest.sh). The
# backports sources are derived from the machine's existing apt
# configuration (the same mirror that serves "bookworm"); no host name is
# written here.
set -euo pipefail

# Others may be running apt at the same time: wait for dpkg's lock.
APT=(apt-get -o DPkg::Lock::Timeout=600)

PKGS=(linux-source-6.1 debootstrap
      qemu-system-x86 busybox-static dkms kmod libkmod-dev pkg-config
      socat sparse cpio python3 gcc libc6-dev make gnuplot-nox xz-utils
      bc flex bison valgrind libelf-dev libssl-dev
      debhelper dh-dkms dpkg-dev fakeroot lintian man-db groff-base
      libvirt-daemon-system libvirt-clients util-linux)

log() { echo "deps: $*"; }

if [ "$(id -u)" != 0 ]; then
	echo "deps: must run as root (apt-get install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

BP_LIST=/etc/apt/sources.list.d/hotdimm-backports.list
updated=0
apt_update() {
	if [ "$updated" = 0 ]; then
		log "apt-get update"
		"${APT[@]}" update -qq
		updated=1
	fi
}

# Backports: reuse the Repo-URI of the configured "bookworm" suite.
if [ ! -f "$BP_LIST" ]; then
	if ! apt-get indextargets --format '$(REPO_URI)' 'Release: bookworm' 2>/dev/null | grep -q .; then
		apt_update
	fi
	repo=$(apt-get indextargets --format '$(REPO_URI)' 'Release: bookworm' | head -n1)
	if [ -z "$repo" ]; then
		echo "deps: no 'bookworm' suite in the apt sources; cannot derive backports" >&2
		exit 1
	fi
	log "adding bookworm-backports from the configured mirror"
	echo "deb ${repo} bookworm-backports main" > "$BP_LIST"
	updated=0
fi

# The kernel versions behind the metapackages, discovered, never pinned:
# the stock one (newest linux-image-amd64 outside backports) and the
# bookworm-backports one. Installed by their versioned names, so that both
# stay when the other moves.
meta_kernel() { # $1: "stock" or "backports" -> the versioned image name it depends on
	local want=$1 ver
	ver=$(apt-cache madison linux-image-amd64 | awk -F'|' -v w="$want" '
		{ gsub(/ /, "", $2); bp = ($3 ~ /-backports/) }
		(w == "backports") == bp { print $2 }' | sort -V | tail -n1)
	[ -n "$ver" ] || return 0
	apt-cache show "linux-image-amd64=$ver" |
		sed -n 's/^Depends:.*linux-image-\([^ ,]*-amd64\).*/\1/p' | head -n1
}
if [ -z "$(apt-cache madison linux-image-amd64 | grep -- -backports)" ]; then
	apt_update
fi
STOCK=$(meta_kernel stock)
BACKPORTS=$(meta_kernel backports)
[ -n "$STOCK" ] || { echo "deps: cannot find Debian's stock kernel (linux-image-amd64)" >&2; exit 1; }
[ -n "$BACKPORTS" ] || { echo "deps: cannot find the bookworm-backports kernel" >&2; exit 1; }
for k in "$STOCK" "$BACKPORTS"; do
	PKGS+=("linux-image-$k" "linux-headers-$k")
done

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	apt_update
	# The versioned kernels may have moved since the indexes were read.
	STOCK=$(meta_kernel stock)
	BACKPORTS=$(meta_kernel backports)
	log "installing: ${missing[*]}"
	"${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}"
	apt-mark manual "${missing[@]}" >/dev/null
fi

# The newest kernel (trixie-backports) in its chroot.
"$(dirname "$0")/deps-newest.sh"

# What the suite must find (scripts/kernels.sh --expected).
STATE=${HOTDIMM_STATE:-/var/lib/hotdimm}
mkdir -p "$STATE"
{
	echo "$STOCK"
	echo "$BACKPORTS"
	for h in "$STATE"/trixie/usr/src/linux-headers-*-amd64; do
		[ -d "$h" ] && echo "${h##*/linux-headers-}"
	done
} > "$STATE/expected-kernels.new"
mv "$STATE/expected-kernels.new" "$STATE/expected-kernels"
log "kernels: $(tr '\n' ' ' < "$STATE/expected-kernels")"
log "ok"
