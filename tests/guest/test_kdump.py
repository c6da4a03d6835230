# SPDX-License-Identifier: GPL-2.0
"""kdump: a dump of a crashed guest never reads what the host unplugged.

The guest boots with crashkernel=256M, plugs 266 MiB of a virtio-mem device
with hotdimm (two whole memory blocks and a third with 5 of its 64 device
blocks plugged: 59 holes inside memory Linux has), loads itself as the
crash kernel (tests/guest/kexec-crash.c: kexec_file_load) and panics. The
crash kernel (the same kernel and initramfs) loads hotdimm, which must
register a vmcore callback and leave the device as it is; reading all of
/proc/vmcore then asks hotdimm about the device's pages: exactly the 59
unplugged device blocks must be answered "not RAM" (dmesg "vmcore: ...
unplugged, not read", one line per device block), and the read succeeds.
The panic's own report is expected; any other bad kernel line fails.
"""
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hotdimm_vm as hv  # noqa: E402
from hotdimm_vm import Group, MiB, expect, scenario  # noqa: E402
import test_virtio as tv  # noqa: E402

BLOCK = 128 * MiB
DEV_BLOCK = 2 * MiB
PLUG = 2 * BLOCK + 10 * MiB


def files(kver, arts):
    """The crash kernel: this kernel's image and an initramfs with hotdimm."""
    out = hv.BUILD / "guest" / "kexec-crash"
    src = Path(__file__).resolve().parent / "kexec-crash.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(["gcc", "-O2", "-static", "-Wall", "-Wextra", "-o", str(out),
                            str(src)], capture_output=True, text=True)
        if p.returncode:
            raise hv.VMError("kexec-crash build failed: " + p.stderr.strip()[-300:])
    initrd = hv.initramfs(kver, [arts["module"]])
    return [f"{out}:/bin/kexec-crash", f"{hv.kernel_info(kver)['VMLINUZ']}:/kdump/vmlinuz",
            f"{initrd}:/kdump/initrd"]


@scenario("kdump-vmcore")
def kdump_vmcore(vm, ctx):
    vm.sh(tv.INSMOD)
    dev = tv.dev_for(vm, "vm0")
    start = int(dev.attr("region_start"), 16)
    tv.qom_set(vm, PLUG)
    tv.wait_guest(vm, dev, PLUG)
    blocks = dev.attr("blocks").strip()
    expect(blocks.startswith("MM") or blocks.startswith("KK") or blocks[:2] in ("KM", "MK"),
           f"blocks {blocks}")
    cmdline = re.sub(r"\bcrashkernel=\S+", "", vm.read("/proc/cmdline")).strip()
    rc, res = vm.run(f"kexec-crash /kdump/vmlinuz /kdump/initrd "
                     f"'{cmdline} nr_cpus=1 irqpoll reset_devices'", 120)
    expect(rc == 0, f"loading the crash kernel failed: {res.strip()}")
    expect(vm.read("/sys/kernel/kexec_crash_loaded").strip() == "1", "no crash kernel loaded")

    before = vm.check_log()
    expect(not before, f"bad kernel lines before the crash: {before[:3]}")
    ups = vm.console_text().count("init: userspace up")
    vm.run("(sleep 1; echo c > /proc/sysrq-trigger) > /dev/null 2>&1 &")
    t0 = time.monotonic()
    expect(tv.poll(lambda: vm.console_text().count("init: userspace up") > ups, 300),
           f"the crash kernel did not boot: {vm.console_tail()}")
    vm.rebooted(120)
    ctx.note(f"# crash kernel up after {time.monotonic() - t0:.1f}s")
    # The panic's report is the point of the test: it, and nothing else.
    crash = vm.check_log()
    other = [ln for ln in crash if not re.search(
        r"sysrq|Kernel panic|Call Trace|panic|RIP:|Oops", ln)]
    ctx.note(f"expected crash report: {len(crash)} line(s)")
    expect(not other, f"unexpected bad kernel lines around the crash: {other[:3]}")

    expect(vm.run("[ -e /proc/vmcore ]")[0] == 0, "no /proc/vmcore: not a kdump kernel")
    vm.sh(tv.INSMOD)
    log = vm.dmesg()
    expect(re.search(r"kdump kernel: .*/proc/vmcore skips unplugged device blocks", log),
           "hotdimm registered no vmcore callback: "
           + "; ".join(ln for ln in log.splitlines() if "hotdimm" in ln)[-300:])
    expect(not hv.devices(vm), "a hotdimm device exists in the kdump kernel")
    t1 = time.monotonic()
    rc, res = vm.run("dd if=/proc/vmcore of=/dev/null bs=1M 2>&1", 600)
    ctx.note(f"# /proc/vmcore read in {time.monotonic() - t1:.1f}s: {res.strip()[-120:]}")
    expect(rc == 0, f"reading /proc/vmcore failed: {res.strip()[-300:]}")
    skipped = set()
    for m in re.finditer(r"vmcore: 0x([0-9a-f]+)-0x([0-9a-f]+) (\S+), not read", vm.dmesg()):
        s, e = int(m.group(1), 16), int(m.group(2), 16)
        expect(e - s + 1 == DEV_BLOCK and m.group(3) == "unplugged",
               f"unexpected answer: {m.group(0)}")
        skipped.add(s)
    want = {start + PLUG + i * DEV_BLOCK
            for i in range((3 * BLOCK - PLUG) // DEV_BLOCK)}
    expect(skipped == want,
           f"device blocks answered 'not RAM': {len(skipped)}, want the {len(want)} "
           f"unplugged ones of the third block (extra: "
           f"{sorted(hex(a) for a in skipped - want)[:4]}, missing: "
           f"{sorted(hex(a) for a in want - skipped)[:4]})")
    ctx.note(f"{len(skipped)} unplugged device blocks hidden from /proc/vmcore")


def reset(vm):
    # The crash kernel's memory is the crashed one's: start afresh.
    vm.stop()


GROUPS = [
    Group("kdump", [kdump_vmcore],
          vm=dict(tv.VM_ONE, append="crashkernel=256M"),
          needs=("module",), files=files, reset=reset,
          kconfig=("CONFIG_KEXEC_FILE", "CONFIG_CRASH_DUMP", "CONFIG_PROC_VMCORE")),
]
