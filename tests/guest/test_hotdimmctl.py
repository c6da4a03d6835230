# SPDX-License-Identifier: GPL-2.0
"""Guest scenarios for hotdimmctl (issue 5).

The guest boots with -m 3G and mem=1G, so 0x40000000..0xC0000000 is RAM the
kernel does not use; hotdimmctl loads hotdimm with dimms=1G@0x40000000 and
drives it. /bin/hotdimmctl is the dynamically linked tool; the initramfs
carries its shared libraries (scripts/mkinitramfs.sh copies what ldd lists).

Checks: load with --module and parameters, status --json parsed and
compared with sysfs, resize --wait grow and shrink, parameters the module
does not know or values it rejects (named in the message, module not
loaded), the modprobe-like lookup without --module, unload, and set ratio=0
making the next plugged blocks kernel ('K') blocks.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from hotdimm_vm import (GiB, MiB, PARAMS, Dev, Fail, Group, HOTDIMM_RES, check_device,
                        devices, expect, hotdimm_loaded, scenario, unload_hotdimm)

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tool"))
from sysfs_fixture import check_status_json  # noqa: E402

BS = 128 * MiB
HIDDEN = 0x40000000
DIMMS = f"dimms=1G@{HIDDEN:#x}"
CTL = "hotdimmctl"
VM_ARGS = dict(mem="3G", append="mem=1G")


def version():
    text = (ROOT / "dkms.conf").read_text()
    return re.search(r'^PACKAGE_VERSION="(.*)"', text, re.M).group(1)


def ctl(vm, ctx, args, want_rc=0, timeout=300):
    """Run hotdimmctl in the guest; check its exit code; return its output
    (stdout and stderr together)."""
    rc, out = vm.run(f"{CTL} {args}", timeout)
    ctx.note(f"$ {CTL} {args}\n{out.rstrip()}\n[exit {rc}]")
    if want_rc is not None and rc != want_rc:
        raise Fail(f"`hotdimmctl {args}` exited {rc}, want {want_rc}: "
                   + " | ".join(out.strip().splitlines()[-4:]))
    return out


def ctl_json(vm, ctx, args="status --json"):
    rc, out = vm.run(f"{CTL} {args} 2>/dev/null")
    ctx.note(f"$ {CTL} {args}\n{out.rstrip()}\n[exit {rc}]")
    expect(rc == 0, f"`hotdimmctl {args}` exited {rc}")
    try:
        return json.loads(out)
    except ValueError as e:
        raise Fail(f"`hotdimmctl {args}` printed invalid JSON ({e}): {out[:200]!r}")


def guest_params(vm):
    out = vm.sh(f"for f in {PARAMS}/*; do echo \"${{f##*/}}=$(cat $f)\"; done")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def load(vm, ctx, extra=""):
    out = ctl(vm, ctx, f"load --module /hotdimm.ko {DIMMS} {extra}".strip())
    expect(hotdimm_loaded(vm), "module not loaded after `hotdimmctl load`")
    expect("hotdimm.0" in out, f"load did not list hotdimm.0: {out.strip()}")
    return Dev(vm, 0)


def check_settled(vm, dev, size, label):
    a = check_device(vm, dev, None)
    expect(int(a["plugged_size"]) == size,
           f"{label}: plugged_size {a['plugged_size']}, want {size}")
    expect(int(a["requested_size"]) == size,
           f"{label}: requested_size {a['requested_size']}, want {size}")
    expect(int(a["offline_size"]) == 0, f"{label}: offline_size {a['offline_size']}")
    return a


@scenario("hotdimmctl-load-status")
def sc_load_status(vm, ctx):
    """load with parameters, then status (table, device view, --json ==
    sysfs); --version from dkms.conf."""
    out = ctl(vm, ctx, "--version")
    expect(out.strip() == f"hotdimmctl {version()}", f"--version printed {out.strip()!r}")
    ctl(vm, ctx, "status", want_rc=1)          # not loaded yet
    dev = load(vm, ctx, "movable_ratio=250 online_policy=auto-movable")
    p = guest_params(vm)
    expect(p.get("movable_ratio") == "250", f"movable_ratio param {p.get('movable_ratio')!r}")
    expect(p.get("dimms") == f"1G@{HIDDEN:#x}", f"dimms param {p.get('dimms')!r}")

    ctl(vm, ctx, "resize hotdimm.0 512M --wait=120")
    check_settled(vm, dev, 512 * MiB, "after resize 512M")

    # --json against sysfs, attribute by attribute
    doc = ctl_json(vm, ctx)
    devs = {"hotdimm.0": dev.attrs()}
    errs = check_status_json(doc, devs, guest_params(vm))
    expect(not errs, "status --json != sysfs: " + "; ".join(errs[:4]))
    doc1 = ctl_json(vm, ctx, "status hotdimm.0 --json")
    errs = check_status_json(doc1, devs, guest_params(vm))
    expect(not errs, "status hotdimm.0 --json != sysfs: " + "; ".join(errs[:4]))

    # human output: one row, sizes human-readable; --bytes raw
    out = ctl(vm, ctx, "status")
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("hotdimm.")]
    expect(len(rows) == 1, f"status shows {len(rows)} device rows")
    r = rows[0]
    expect(r[1] == "emulated" and r[3] == "0x40000000-0x7fffffff" and r[4] == "1G"
           and r[5] == "128M" and r[6] == "512M" and r[7] == "512M" and r[11] == "250",
           f"status row {r}")
    out = ctl(vm, ctx, "status --bytes")
    r = [ln.split() for ln in out.splitlines() if ln.startswith("hotdimm.")][0]
    expect(r[6] == str(512 * MiB) and r[7] == str(512 * MiB), f"status --bytes row {r}")
    out = ctl(vm, ctx, "status 0")
    blocks = dev.attr("blocks")
    expect(f"[{blocks}]" in out, f"device view lacks the block map [{blocks}]: {out}")
    expect(re.search(r"^\s+online_policy\s+auto-movable$", out, re.M),
           f"device view lacks the module parameters: {out}")
    ctl(vm, ctx, "status hotdimm.7", want_rc=1)
    ctl(vm, ctx, "resize hotdimm.0 0 --wait=120")
    check_settled(vm, dev, 0, "after resize 0")


@scenario("hotdimmctl-resize-wait")
def sc_resize(vm, ctx):
    """resize --wait grows and shrinks; errors exit 1 or 2."""
    dev = load(vm, ctx)
    out = ctl(vm, ctx, "resize hotdimm.0 768M --wait=120")
    expect("plugged 768M" in out, f"grow did not report the result: {out.strip()}")
    a = check_settled(vm, dev, 768 * MiB, "after grow to 768M")
    ctx.note(f"blocks after grow: {a['blocks']}")
    out = ctl(vm, ctx, "resize 0 256M --wait=120")
    expect("plugged 256M" in out, f"shrink did not report the result: {out.strip()}")
    check_settled(vm, dev, 256 * MiB, "after shrink to 256M")
    # the device follows to the 2 MiB device block: a partly plugged block
    out = ctl(vm, ctx, "resize 0 300M --wait=120")
    check_settled(vm, dev, 300 * MiB, "after resize 300M")
    out = ctl(vm, ctx, "status 0")
    expect("block 2: 44M plugged, 84M unplugged" in out,
           f"status does not show the partly plugged block: {out.strip()}")
    ctl(vm, ctx, "resize 0 301M --wait=120")
    check_settled(vm, dev, 300 * MiB, "after resize 301M (rounds down to 300M)")
    out = ctl(vm, ctx, "resize 0 2G", want_rc=1)
    expect("larger than the device" in out, f"2G on a 1G device: {out.strip()}")
    ctl(vm, ctx, "resize 0 lots", want_rc=2)
    ctl(vm, ctx, "resize hotdimm.3 1G", want_rc=1)
    check_settled(vm, dev, 300 * MiB, "after the failed resizes")
    ctl(vm, ctx, "resize 0 0 --wait=120")
    check_settled(vm, dev, 0, "after shrink to 0")


@scenario("hotdimmctl-bad-param")
def sc_bad_param(vm, ctx):
    """Unknown parameter, bad values: exit 1, the parameter named, the
    kernel's answer shown, the module not loaded."""
    cases = [
        ("bogus=1", "bogus", None),
        ("movable_ratio=abc", "movable_ratio", "invalid for parameter"),
        ("numa_aware=maybe", "numa_aware", "invalid for parameter"),
        ("online_policy=fast", "online_policy", "kernel: "),
        (f"dimms=1G@{HIDDEN + 16 * MiB:#x}", "dimms", "kernel: hotdimm: dimms entry 0"),
    ]
    for params, name, kernel in cases:
        args = f"load --module /hotdimm.ko {params}"
        if name != "dimms":
            args = f"load --module /hotdimm.ko {DIMMS} {params}"
        out = ctl(vm, ctx, args, want_rc=1)
        expect(f"'{name}'" in out, f"`{args}`: message does not name '{name}': {out.strip()}")
        if kernel:
            expect(kernel in out, f"`{args}`: the kernel's answer ({kernel!r}) is missing: "
                   f"{out.strip()}")
        expect(not hotdimm_loaded(vm), f"`{args}` left the module loaded")
    expect(not vm.iomem(HOTDIMM_RES), "hotdimm memory left after failed loads")
    # usage errors exit 2
    ctl(vm, ctx, "load --module", want_rc=2)
    ctl(vm, ctx, "load 'bad name=1'", want_rc=2)
    # a module that is already loaded
    load(vm, ctx)
    out = ctl(vm, ctx, f"load --module /hotdimm.ko {DIMMS}", want_rc=1)
    expect("already loaded" in out, f"second load: {out.strip()}")


@scenario("hotdimmctl-load-lookup")
def sc_lookup(vm, ctx):
    """Without --module, libkmod finds hotdimm in /lib/modules/KVER through
    modules.dep.bin (built on the host with depmod), like modprobe."""
    kver = ctx.kver
    ko = ctx.artifacts["module"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "lib" / "modules" / kver / "extra"
        d.mkdir(parents=True)
        subprocess.run(["cp", ko, str(d / "hotdimm.ko")], check=True)
        p = subprocess.run(["depmod", "-b", tmp, kver], capture_output=True, text=True)
        expect(p.returncode == 0, f"depmod failed on the host: {p.stderr.strip()}")
        dep_bin = (d.parent / "modules.dep.bin").read_bytes()
    mdir = f"/lib/modules/{kver}"
    out = ctl(vm, ctx, f"load {DIMMS}", want_rc=1)
    expect("not found" in out and kver in out, f"load without an installed module: {out.strip()}")
    vm.sh(f"mkdir -p {mdir}/extra && cp /hotdimm.ko {mdir}/extra/hotdimm.ko")
    try:
        vm.put_file(f"{mdir}/modules.dep.bin", dep_bin)
        out = ctl(vm, ctx, f"load {DIMMS}")
        expect(f"{mdir}/extra/hotdimm.ko" in out, f"load did not use the installed module: {out.strip()}")
        expect(hotdimm_loaded(vm) and devices(vm) == [0], "module or device missing after lookup load")
        ctl(vm, ctx, "unload")
        expect(not hotdimm_loaded(vm), "module still loaded after unload")
    finally:
        vm.run(f"rm -rf {mdir}")


@scenario("hotdimmctl-unload")
def sc_unload(vm, ctx):
    """unload unplugs (movable) memory first, then removes the module."""
    dev = load(vm, ctx)
    ctl(vm, ctx, "resize 0 512M --wait=120")
    a = check_settled(vm, dev, 512 * MiB, "before unload")
    expect("K" not in a["blocks"], f"default ratio gave kernel blocks: {a['blocks']}")
    out = ctl(vm, ctx, "unload --timeout=120")
    expect("unloaded" in out, f"unload output: {out.strip()}")
    expect(not hotdimm_loaded(vm), "module still loaded after unload")
    expect(not vm.iomem(HOTDIMM_RES), "hotdimm memory left after unload")
    ctl(vm, ctx, "unload", want_rc=1)           # not loaded any more


@scenario("hotdimmctl-set-ratio0")
def sc_set_ratio0(vm, ctx):
    """set ratio=0 makes the next plugged blocks kernel blocks; set on a
    device and module-wide; unload --force-unplug reports what stayed."""
    dev = load(vm, ctx)
    ctl(vm, ctx, "resize 0 256M --wait=120")
    a = check_settled(vm, dev, 256 * MiB, "first plug")
    expect(a["blocks"] == "MM------", f"default ratio: blocks {a['blocks']}, want MM------")

    out = ctl(vm, ctx, "set ratio=0")
    expect("movable_ratio: 301 -> 0" in out, f"set ratio=0 printed {out.strip()!r}")
    expect(guest_params(vm)["movable_ratio"] == "0", "module movable_ratio is not 0")
    expect(dev.attr("movable_ratio") == "0", f"device ratio {dev.attr('movable_ratio')} "
           "did not follow the module-wide ratio")
    ctl(vm, ctx, "resize 0 512M --wait=120")
    a = check_settled(vm, dev, 512 * MiB, "plug after set ratio=0")
    expect(a["blocks"] == "MMKK----", f"after set ratio=0: blocks {a['blocks']}, want MMKK----")

    # the other module-wide knobs
    ctl(vm, ctx, "set policy=movable numa_aware=N")
    p = guest_params(vm)
    expect(p["online_policy"] == "movable" and p["numa_aware"] == "N", f"params {p}")
    ctl(vm, ctx, "set policy=fast", want_rc=2)
    ctl(vm, ctx, "set hotdimm.0 policy=kernel", want_rc=2)
    ctl(vm, ctx, "set policy=auto-movable numa_aware=Y ratio=301")
    p = guest_params(vm)
    expect(p["online_policy"] == "auto-movable" and p["numa_aware"] == "Y"
           and p["movable_ratio"] == "301", f"params {p}")

    # per device: ratio 0 on hotdimm.0 only
    out = ctl(vm, ctx, "set hotdimm.0 ratio=0")
    expect("hotdimm.0 movable_ratio: 301 -> 0" in out, f"set hotdimm.0 ratio=0 printed {out.strip()!r}")
    expect(guest_params(vm)["movable_ratio"] == "301", "per-device set changed the module ratio")
    ctl(vm, ctx, "resize 0 640M --wait=120")
    a = check_settled(vm, dev, 640 * MiB, "plug after set hotdimm.0 ratio=0")
    expect(a["blocks"] == "MMKKK---", f"after set hotdimm.0 ratio=0: blocks {a['blocks']}, "
           "want MMKKK---")

    # Kernel blocks may hold unmovable allocations by now: unload with
    # --force-unplug and check that what it reports as left is what is left.
    rc, out = vm.run(f"{CTL} unload --force-unplug --timeout=30", 300)
    ctx.note(f"$ {CTL} unload --force-unplug --timeout=30\n{out.rstrip()}\n[exit {rc}]")
    expect(not hotdimm_loaded(vm), f"module still loaded after unload --force-unplug: {out}")
    left = vm.iomem(HOTDIMM_RES)
    reported = re.findall(r"stayed in the system: (0x[0-9a-f]+)-(0x[0-9a-f]+)", out)
    expect([(int(s, 16), int(e, 16)) for s, e in reported] == [(s, e) for s, e, _, _ in left],
           f"unload reported {reported} as left, /proc/iomem has {left}")
    expect(rc == (1 if left else 0), f"unload exited {rc} with {len(left)} ranges left")
    ctx.note(f"left after unload --force-unplug: {left}")


def _reset_tolerant(vm):
    """After the ratio=0 scenario kernel blocks may stay; this group's VM
    runs nothing after it."""
    if hotdimm_loaded(vm):
        rc, out = vm.run("rmmod hotdimm", 180)
        if rc != 0:
            raise Fail(f"rmmod hotdimm failed: {out.strip()}")


GROUPS = [
    Group("hotdimmctl",
          [sc_load_status, sc_resize, sc_bad_param, sc_lookup, sc_unload],
          vm=VM_ARGS, needs=("module", "hotdimmctl"), reset=unload_hotdimm),
    Group("hotdimmctl-ratio", [sc_set_ratio0],
          vm=VM_ARGS, needs=("module", "hotdimmctl"), reset=_reset_tolerant),
]
