#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# DKMS POST_INSTALL / POST_REMOVE hook (see dkms.conf): install or remove
# /etc/modprobe.d/hotdimm.conf, which makes hotdimm (not the in-tree
# virtio_mem) the driver of virtio-mem devices. On remove, the file stays
# while hotdimm is still installed for some kernel.
set -e
here=$(dirname "$0")
conf=/etc/modprobe.d/hotdimm.conf
case "$1" in
install)
	install -D -m 644 "$here/hotdimm-modprobe.conf" "$conf"
	echo "hotdimm: installed $conf"
	;;
remove)
	if ls /lib/modules/*/updates/dkms/hotdimm.ko* >/dev/null 2>&1; then
		echo "hotdimm: still installed for another kernel, keeping $conf"
	else
		rm -f "$conf"
		echo "hotdimm: removed $conf"
	fi
	;;
*)
	echo "usage: $0 install|remove" >&2
	exit 2
	;;
esac
