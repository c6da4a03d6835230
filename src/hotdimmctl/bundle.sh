#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Copy hotdimmctl into an initramfs tree together with the shared libraries
# it needs (libkmod and what libkmod links) and the dynamic loader, at the
# same absolute paths. Debian ships no static libkmod, so this is how the
# tool gets into a busybox guest (scripts/mkinitramfs.sh does the same for
# its EXTRA files).
#
#   bundle.sh ROOT [BINARY]      BINARY defaults to ./hotdimmctl
set -eu
[ $# -ge 1 ] || { echo "usage: $0 ROOT [BINARY]" >&2; exit 2; }
root=$1
bin=${2:-$(dirname "$0")/hotdimmctl}
[ -x "$bin" ] || { echo "bundle: $bin is not built" >&2; exit 1; }
mkdir -p "$root/bin"
cp "$bin" "$root/bin/hotdimmctl"
ldd "$bin" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
	echo "bundle: $lib"
done
