#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot a guest, load hotdimm with one emulated DIMM, grow and
# shrink it, and show what the guest sees at each step. Exits 0 only if
# every step converged. About a minute under TCG.
#
#   scripts/demo.sh [KVER]      default: the newest installed kernel
set -euo pipefail
cd "$(dirname "$0")/.."

need_deps=0
command -v qemu-system-x86_64 >/dev/null || need_deps=1
[ -x /bin/busybox ] || need_deps=1
[ -n "$(scripts/kernels.sh)" ] || need_deps=1
command -v cpio >/dev/null || need_deps=1
if [ "$need_deps" = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "demo: dependencies are missing; run scripts/deps.sh as root first" >&2
		exit 1
	fi
	echo "demo: installing what is missing (scripts/deps.sh)..."
	scripts/deps.sh
fi

KVER=${1:-$(scripts/kernels.sh | tail -n1)}
[ -n "$KVER" ] || { echo "demo: no kernel with headers installed" >&2; exit 1; }

echo "demo: building hotdimm.ko for $KVER..."
mkdir -p build/logs
if ! KO=$(scripts/build-module.sh "$KVER" 2> build/logs/demo-build.log); then
	tail -n 20 build/logs/demo-build.log >&2
	exit 1
fi

exec /usr/bin/python3 - "$KVER" "$KO" <<'EOF'
import sys
import time

sys.path.insert(0, "scripts")
sys.dont_write_bytecode = True
import hotdimm_vm as hv

kver, ko = sys.argv[1], sys.argv[2]
hv.install_signal_cleanup()
MiB, GiB = hv.MiB, hv.GiB
DEV = "/sys/bus/platform/devices/hotdimm.0"
steps = [512 * MiB, GiB, 300 * MiB, 0]
ok = True


def zone_split(vm):
    """Present memory per zone, from /proc/zoneinfo, in MiB."""
    out, zone = {}, None
    for line in vm.read("/proc/zoneinfo").splitlines():
        p = line.split()
        if line.startswith("Node") and "zone" in p:
            zone = p[-1]
        elif zone and p[:1] == ["present"]:
            out[zone] = int(p[1]) * 4096 // MiB
    return "  ".join(f"{z} {m}M" for z, m in out.items() if m)


try:
    print(f"demo: {hv.accel_line()}")
except hv.VMError as e:
    print(f"demo: {e}", file=sys.stderr)
    sys.exit(1)
print(f"demo: booting {kver} under QEMU with 4 GiB of RAM, the kernel told mem=1G")
t0 = time.monotonic()
try:
    # A guest that crashes before its userspace is booted again, and said so.
    vm = hv.boot(lambda: hv.VM(kver, mem="4G", append="mem=1G", extra_files=[ko],
                               name="demo", hard_timeout=600),
                 report=lambda n, e: print(f"demo: boot retry {n}: {e}"))
except hv.BootError as e:
    print(f"demo: cannot boot the guest: {e}", file=sys.stderr)
    sys.exit(1)
with vm:
    print(f"demo: guest up in {vm.boot_time:.1f}s; logs in {vm.logdir}")
    base = vm.meminfo()["MemTotal"]
    print("\n$ insmod hotdimm.ko dimms=1G@0x40000000")
    vm.sh("insmod /hotdimm.ko dimms=1G@0x40000000")
    print(vm.sh(f"dmesg | grep hotdimm | tail -n 2").rstrip())
    print(f"\n{'requested':>9}  {'plugged':>7}  {'blocks':8}  {'MemTotal':>14}  "
          f"{'kernel':>6}  {'movable':>7}  {'time':>5}  zones (present)")

    def row(req, secs, converged):
        a = hv.Dev(vm, 0).attrs()
        mt = vm.meminfo()["MemTotal"]
        delta = f"({'+' if mt >= base else '-'}{abs(mt - base) >> 10}M)"
        print(f"{req >> 20:>8}M  {int(a['plugged_size']) >> 20:>6}M  {a['blocks']:8}  "
              f"{mt >> 10:>5}M {delta:>8}  "
              f"{int(a['kernel_size']) >> 20:>5}M  {int(a['movable_size']) >> 20:>6}M  "
              f"{secs:>4.1f}s  {zone_split(vm)}"
              + ("" if converged else "   <-- did not converge"))

    row(0, 0.0, True)
    for size in steps:
        t = time.monotonic()
        rc, out = vm.write(f"{DEV}/requested_size", size)
        conv = rc == 0 and hv.Dev(vm, 0).wait_plugged(size, 120)
        ok = ok and conv
        row(size, time.monotonic() - t, conv)
    print("\n$ rmmod hotdimm")
    rc, out = vm.run("rmmod hotdimm", 120)
    left = vm.iomem(hv.HOTDIMM_RES)
    back = vm.meminfo()["MemTotal"] == base
    print(f"unloaded: rc={rc}, hotdimm ranges left in /proc/iomem: {len(left)}, "
          f"MemTotal back to boot value: {'yes' if back else 'no'}")
    ok = ok and rc == 0 and not left and back
    bad = vm.check_log()
    if bad:
        ok = False
        print("kernel log problems:\n  " + "\n  ".join(bad[:10]))
print(f"\ndemo: {'OK' if ok else 'FAILED'} in {time.monotonic() - t0:.0f}s "
      "(blocks: '-' unplugged, 'o' offline, 'K' kernel zone, 'M' movable zone; "
      "'k', 'm', 'p': partly plugged, in 2 MiB device blocks)")
sys.exit(0 if ok else 1)
EOF
