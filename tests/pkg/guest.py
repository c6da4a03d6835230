#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Boot one kernel with the hotdimm.ko that the package's DKMS installed.

    tests/pkg/guest.py KVER KO

KO is the module file from /lib/modules/KVER/updates/dkms/ (decompressed
by the caller when DKMS compressed it); it becomes the guest's
/hotdimm.ko. In a guest with 3 GiB of RAM booted with mem=1G, insmod it
with one emulated 1 GiB DIMM, check that it is the packaged version, plug
512 MiB, unplug to 0, rmmod; the guest kernel log must stay clean.
Prints one line, "ok: <details>" (exit 0) or "<reason>" (exit 1).
Lines starting with "#" are notes (boot retries, accelerator).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import hotdimm_vm as hv  # noqa: E402

MIB = 1 << 20


def main():
    if len(sys.argv) != 3:
        print("usage: tests/pkg/guest.py KVER KO", file=sys.stderr)
        return 2
    kver, ko = sys.argv[1], sys.argv[2]
    with open(os.path.join(hv.ROOT, "dkms.conf")) as f:
        want = [ln.split('"')[1] for ln in f if ln.startswith("PACKAGE_VERSION=")][0]
    hv.install_signal_cleanup()
    print(f"# {kver} {hv.accel_line()}", flush=True)

    def report(n, err):
        print(f"# {kver} boot retry {n}: {err}", flush=True)

    dev = "/sys/bus/platform/devices/hotdimm.0"
    try:
        vm = hv.boot(lambda: hv.VM(kver, mem="3G", append="mem=1G", name="pkg",
                                   extra_files=[f"{ko}:/hotdimm.ko"]), report=report)
        with vm:
            rc, out = vm.run("insmod /hotdimm.ko dimms=1G@0x40000000")
            hv.expect(rc == 0, f"insmod of the DKMS module failed: {out.strip()}")
            ver = vm.read("/sys/module/hotdimm/version").strip()
            hv.expect(ver == want, f"guest runs hotdimm {ver!r}, want {want!r}")
            vm.write(f"{dev}/requested_size", "512M")
            hv.expect(vm.wait_until(f'[ "$(cat {dev}/plugged_size)" = {512 * MIB} ]', 120),
                      f"plug 512M did not converge: plugged {vm.read(dev + '/plugged_size').strip()},"
                      f" status {vm.read(dev + '/status').strip()}")
            blocks = vm.read(f"{dev}/blocks").strip()
            ram = vm.iomem(hv.HOTDIMM_RES)
            hv.expect(ram, "no 'System RAM (hotdimm)' in /proc/iomem after plugging")
            vm.write(f"{dev}/requested_size", "0")
            hv.expect(vm.wait_until(f'[ "$(cat {dev}/plugged_size)" = 0 ]', 120),
                      f"unplug to 0 did not converge: plugged {vm.read(dev + '/plugged_size').strip()},"
                      f" status {vm.read(dev + '/status').strip()}")
            hv.unload_hotdimm(vm)
            bad = vm.check_log()
            hv.expect(not bad, f"guest kernel log: {bad[0] if bad else ''}")
    except hv.Fail as e:
        print(e)
        return 1
    except (hv.VMError, OSError) as e:
        print(f"{type(e).__name__}: {e}")
        return 1
    print(f"ok: hotdimm {ver}, plugged 512M (blocks {blocks}), unplugged to 0, rmmod clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
