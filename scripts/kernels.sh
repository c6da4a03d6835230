#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the installed Debian kernel versions that have both an image in
# /boot and matching headers, oldest first. Tests build and boot each.
for h in /usr/src/linux-headers-*-amd64; do
	[ -d "$h" ] || continue
	v=${h#/usr/src/linux-headers-}
	[ -f "/boot/vmlinuz-$v" ] && echo "$v"
done | sort -V
