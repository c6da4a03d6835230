#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The newest Debian kernel (trixie-backports, 7.x) for hotdimm's build,
# DKMS and guest tests, on a bookworm host. Run by scripts/deps.sh as root;
# idempotent: a second run installs nothing.
#
# Its headers' tools need trixie's glibc, so they run in a trixie chroot:
#
#   $HOTDIMM_STATE/trixie/              debootstrap --variant=minbase trixie,
#                                       with trixie-backports, gcc, make, dkms,
#                                       sparse and linux-headers-amd64 from
#                                       backports
#   $HOTDIMM_STATE/kernels/KVER/root/   the guest kernel's packages unpacked
#                                       with dpkg-deb -x (not installed on the
#                                       host): linux-binary (vmlinuz),
#                                       linux-modules, linux-base (config,
#                                       System.map); the module tree is also
#                                       installed in the chroot, for DKMS
#
# HOTDIMM_STATE defaults to /var/lib/hotdimm: outside the clone, so a
# machine builds it once. The mirror is the one the machine's apt sources
# use for bookworm; no host is named here. scripts/kernels.sh finds the
# kernel from there.
set -euo pipefail

STATE=${HOTDIMM_STATE:-/var/lib/hotdimm}
CHROOT=$STATE/trixie
KERNELS=$STATE/kernels
CHROOT_PKGS=(gcc make libc6-dev dkms kmod xz-utils sparse)

log() { echo "deps-newest: $*"; }
die() { echo "deps-newest: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
export DEBIAN_FRONTEND=noninteractive

# (apt in a chroot without /dev/pts says "Can not write log"; harmless.)
in_chroot() {
	chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@" 2> >(grep -v 'posix_openpt' >&2)
}

repo=$(apt-get indextargets --format '$(REPO_URI)' 'Release: bookworm' | head -n1)
[ -n "$repo" ] || die "no 'bookworm' suite in the apt sources; cannot derive the mirror"

# 1. The chroot. A marker written last tells a complete one from a broken
# earlier attempt, which is removed and made again.
if [ ! -f "$CHROOT/.hotdimm-ready" ]; then
	if [ -d "$CHROOT" ]; then
		log "removing an incomplete chroot at $CHROOT"
		rm -rf --one-file-system "$CHROOT"
	fi
	mkdir -p "$STATE"
	log "debootstrap trixie into $CHROOT"
	t0=$(date +%s)
	debootstrap --variant=minbase trixie "$CHROOT" "$repo" > "$STATE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$STATE/debootstrap.log" >&2; die "debootstrap failed (log: $STATE/debootstrap.log)"; }
	echo "deb $repo trixie-backports main" > "$CHROOT/etc/apt/sources.list.d/backports.list"
	in_chroot apt-get update -qq
	log "installing the trixie-backports headers in the chroot"
	in_chroot apt-get install -y -qq --no-install-recommends \
		-t trixie-backports linux-headers-amd64 >/dev/null
	touch "$CHROOT/.hotdimm-ready"
	log "chroot ready in $(($(date +%s) - t0)) s"
fi

# Build and DKMS tools in the chroot (checked on every run, so that a list
# that grew reaches chroots made before).
missing=()
for p in "${CHROOT_PKGS[@]}"; do
	in_chroot dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing in the chroot: ${missing[*]}"
	in_chroot apt-get update -qq
	in_chroot apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} in the chroot failed"
fi

# Debian's 7.x headers packages omit scripts/checker-valid.sh, which kbuild
# runs for C=1/C=2 (sparse) and which must print 1 when the checker works;
# without it, `make C=2` silently checks nothing. Supply one that says so
# only when the checker really parses a C file.
for c in "$CHROOT"/usr/src/linux-headers-*-common; do
	[ -d "$c/scripts" ] || continue
	[ -e "$c/scripts/checker-valid.sh" ] && continue
	log "adding the missing scripts/checker-valid.sh to ${c##*/}"
	cat > "$c/scripts/checker-valid.sh" <<'CHECKER'
#!/bin/sh
# Added by hotdimm's scripts/deps-newest.sh: prints 1 when the checker
# ("$@", e.g. sparse with its flags) runs and parses a C file.
command -v "$1" >/dev/null 2>&1 || { echo 0; exit 0; }
f=$(mktemp --suffix=.c) || { echo 0; exit 0; }
echo 'int hotdimm_checker_probe(void) { return 0; }' > "$f"
if "$@" "$f" >/dev/null 2>&1; then echo 1; else echo 0; fi
rm -f "$f"
CHECKER
	chmod 755 "$c/scripts/checker-valid.sh"
done

# 2. The guest kernel of every headers package the chroot has.
for h in "$CHROOT"/usr/src/linux-headers-*-amd64; do
	[ -d "$h" ] || continue
	kver=${h##*/linux-headers-}
	dir=$KERNELS/$kver
	[ -f "$dir/.hotdimm-ready" ] && continue
	log "fetching the $kver guest kernel (not installed on the host)"
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/root"
	# 7.x splits linux-image-KVER into binary, modules and base packages;
	# older ones have it all in linux-image-KVER. Take whatever exists.
	pkgs=()
	for p in "linux-binary-$kver" "linux-modules-$kver" "linux-base-$kver"; do
		in_chroot apt-cache show "$p" >/dev/null 2>&1 && pkgs+=("$p")
	done
	[ "${#pkgs[@]}" -gt 0 ] || pkgs=("linux-image-$kver")
	rm -f "$CHROOT"/tmp/*.deb
	(cd "$CHROOT/tmp" && in_chroot sh -c "cd /tmp && apt-get download ${pkgs[*]}" >/dev/null) ||
		die "apt-get download ${pkgs[*]} failed"
	for d in "$CHROOT"/tmp/*.deb; do
		dpkg-deb -x "$d" "$dir/root"
		mv "$d" "$dir/debs/"
	done
	moddir=$(find "$dir/root" -maxdepth 4 -type d -path "*/lib/modules/$kver" | head -n1)
	[ -n "$moddir" ] || die "no lib/modules/$kver in ${pkgs[*]}"
	# modules.dep is made by depmod at install time; make it here.
	depmod -b "${moddir%/lib/modules/$kver}" "$kver" ||
		die "depmod for $kver failed"
	touch "$dir/.hotdimm-ready"
	log "$kver unpacked in $dir/root"
done

# 3. The kernel's module tree inside the chroot too (not its image), so that
# DKMS there installs into a real kernel tree and runs depmod on it.
for h in "$CHROOT"/usr/src/linux-headers-*-amd64; do
	[ -d "$h" ] || continue
	kver=${h##*/linux-headers-}
	in_chroot dpkg-query -W -f='${Status}' "linux-modules-$kver" 2>/dev/null |
		grep -q 'install ok installed' && continue
	debs=()
	for d in "$KERNELS/$kver"/debs/*.deb; do
		case "${d##*/}" in linux-binary-*) continue ;; esac
		cp "$d" "$CHROOT/tmp/"
		debs+=("/tmp/${d##*/}")
	done
	log "installing the $kver module tree in the chroot"
	in_chroot apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null ||
		die "installing ${debs[*]} in the chroot failed"
	rm -f "$CHROOT"/tmp/*.deb
done
log "ok"
