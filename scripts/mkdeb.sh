#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian packages (`make deb`), out of the source tree:
#
#   scripts/mkdeb.sh [OUTDIR]          default OUTDIR: build/deb
#
# 1. copies the tree (what `git ls-files -co --exclude-standard` lists:
#    tracked and new files, never ignored build products; without git,
#    every file but build/ and .git) to OUTDIR/hotdimm-<version>/,
# 2. writes debian/changelog there from dkms.conf's PACKAGE_VERSION (the
#    one version source; the repository has no changelog that could
#    disagree), dated by the last commit, so that a rebuild of the same
#    commit gives the same packages,
# 3. runs `dpkg-buildpackage -b -us -uc` in the copy, which leaves
#    hotdimm-dkms_<version>_all.deb and hotdimm-tools_<version>_amd64.deb
#    (plus .changes and .buildinfo) in OUTDIR,
# 4. runs lintian on the result (OUTDIR/lintian.txt) and fails on any
#    error or warning that debian/*.lintian-overrides does not explain.
#    HOTDIMM_LINTIAN=0 skips this step.
#
# Build dependencies (scripts/deps.sh installs them): debhelper, dh-dkms,
# dpkg-dev, libkmod-dev, pkg-config, lintian.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
V=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
[ -n "$V" ] || { echo "mkdeb: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
OUT=$(mkdir -p "${1:-build/deb}" && cd "${1:-build/deb}" && pwd)
SRC=$OUT/hotdimm-$V

case $OUT/ in
"$ROOT"/build/*) ;;
"$ROOT"/*) echo "mkdeb: $OUT is inside the source tree but not under build/" >&2; exit 1 ;;
esac
for t in dpkg-buildpackage dh dh_dkms; do
	command -v "$t" >/dev/null ||
		{ echo "mkdeb: $t not found (run scripts/deps.sh)" >&2; exit 1; }
done

# Only what this script makes: earlier packages and the copy.
rm -rf "$SRC"
rm -f "$OUT"/hotdimm-dkms_*.deb "$OUT"/hotdimm-tools_*.deb \
	"$OUT"/hotdimm-tools-dbgsym_*.deb "$OUT"/hotdimm_*.changes \
	"$OUT"/hotdimm_*.buildinfo "$OUT"/lintian.txt "$OUT"/build.log
mkdir -p "$SRC"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z |
		while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
		cpio -0 -pdm --quiet "$SRC"
	when=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y dkms.conf)
else
	find . -path ./build -prune -o -path ./.git -prune -o -type f -print0 |
		cpio -0 -pdm --quiet "$SRC"
	when=$(stat -c %Y dkms.conf)
fi
[ -f "$SRC/debian/control" ] || { echo "mkdeb: no debian/control copied" >&2; exit 1; }

maint=$(sed -n 's/^Maintainer: //p' debian/control)
{
	echo "hotdimm ($V) bookworm; urgency=medium"
	echo
	echo "  * hotdimm $V (version from dkms.conf)."
	echo
	echo " -- $maint  $(LC_ALL=C date -u -R -d "@$when")"
} > "$SRC/debian/changelog"

echo "mkdeb: building hotdimm $V in ${SRC#"$ROOT"/} (log: ${OUT#"$ROOT"/}/build.log)"
if ! (cd "$SRC" && dpkg-buildpackage -b -us -uc) > "$OUT/build.log" 2>&1; then
	tail -n 25 "$OUT/build.log" >&2
	echo "mkdeb: dpkg-buildpackage failed (log: $OUT/build.log)" >&2
	exit 1
fi
rm -rf "$SRC"
ls -1 "$OUT"/*.deb

if [ "${HOTDIMM_LINTIAN:-1}" != 0 ]; then
	command -v lintian >/dev/null ||
		{ echo "mkdeb: lintian not found (run scripts/deps.sh)" >&2; exit 1; }
	# Overrides are read from the packages (debian/*.lintian-overrides).
	rc=0
	lintian --fail-on error,warning --show-overrides --display-info \
		"$OUT"/hotdimm_"$V"_*.changes > "$OUT/lintian.txt" 2>&1 || rc=$?
	sed 's/^/lintian: /' "$OUT/lintian.txt"
	if [ "$rc" != 0 ]; then
		echo "mkdeb: lintian found errors or warnings (${OUT#"$ROOT"/}/lintian.txt)" >&2
		exit 1
	fi
	echo "mkdeb: lintian clean"
fi
