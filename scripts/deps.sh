#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything hotdimm's build, tests, demo and benchmark need, as
# root, idempotently: a second run installs nothing.
#
# Kernels: Debian 12's stock kernel (6.1) and the bookworm-backports kernel
# (6.12), each as image + matching headers. The backports source is derived
# from the machine's existing apt configuration (the same mirror that serves
# "bookworm"); no host name is written here.
set -euo pipefail

PKGS=(linux-image-amd64 linux-headers-amd64 linux-source-6.1
      qemu-system-x86 busybox-static dkms kmod libkmod-dev pkg-config
      socat sparse cpio python3 gcc libc6-dev make gnuplot-nox xz-utils
      bc flex bison valgrind)

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
		apt-get update -qq
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

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
bp_installed=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-6.12*-amd64' 2>/dev/null | grep -c 'install ok installed' || true)
if [ "${#missing[@]}" -gt 0 ] || [ "$bp_installed" = 0 ]; then
	apt_update
fi
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing: ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$bp_installed" = 0 ]; then
	log "installing the bookworm-backports 6.12 kernel and headers"
	# Keep the stock 6.1 kernel: the metapackages move to 6.12, so mark
	# the versioned 6.1 packages as manually installed first.
	apt-mark manual $(dpkg-query -W -f='${Package}\n' 'linux-image-6.1.*-amd64' \
		'linux-headers-6.1.*-amd64' 'linux-headers-6.1.*-common' 2>/dev/null) >/dev/null
	apt-get install -y -qq --no-install-recommends \
		linux-image-amd64/bookworm-backports \
		linux-headers-amd64/bookworm-backports
fi
log "ok"
