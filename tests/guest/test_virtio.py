# SPDX-License-Identifier: GPL-2.0
"""Guest tests of the virtio-mem transport (issue 3).

Two boots per kernel:

  virtio       -m 1G,maxmem=9G and one 8 GiB virtio-mem device (vm0).
               probe, resize 0 -> 1G -> 4G -> 512M -> 0 with
               `hotdimm-qmp resize --wait`, unaligned / too large / changed
               mid-way requests, BUSY (the host is migrating) with an
               rmmod that leaves memory plugged and an insmod that adopts it
               with UNPLUG_ALL, three rmmod/insmod cycles with memory
               plugged, coexistence with the in-tree virtio_mem.ko, and the
               error cases of hotdimm-qmp.
  virtio-numa  two NUMA nodes, one 2 GiB virtio-mem device on each (vm0 on
               node 0, vm1 on node 1), resized independently.

After every size change the test checks that QEMU (qom-get size), the
platform device (plugged_size, blocks), /sys/devices/system/memory,
/proc/iomem and MemTotal agree (hotdimm_vm.check_device). The resize test
loads hotdimm with online_policy=movable: with 1 GiB of boot memory the
default auto-movable policy puts part of 4 GiB into kernel zones, and kernel
blocks holding unmovable pages cannot go back to 0 (that is the policy's
business, tested elsewhere). The NUMA group uses the default policy.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import hotdimm_vm as hv
from hotdimm_vm import Group, scenario, expect, Fail, Dev, GiB, MiB

QMP_TOOL = [sys.executable, str(hv.SCRIPTS / "hotdimm-qmp")]
BLOCK = 128 * MiB
REGION = 0x100000000
VIRTIO_MEM_KO = "/lib/modules/virtio_mem.ko"
INSMOD = "insmod /hotdimm.ko dyndbg=+p"
INSMOD_MOVABLE = INSMOD + " online_policy=movable"


# -- helpers -----------------------------------------------------------------

def qmp_tool(vm, *args, timeout=240):
    """Run scripts/hotdimm-qmp against the VM's spare QMP socket.
    Returns (rc, stdout, stderr)."""
    p = subprocess.run(QMP_TOOL + [vm.qmp_tool_socket, *[str(a) for a in args]],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def qom_size(vm, qdev="vm0"):
    return int(vm.qmp("qom-get", path=qdev, property="size"))


def qom_set(vm, size, qdev="vm0"):
    vm.qmp("qom-set", path=qdev, property="requested-size", value=int(size))


def dev_for(vm, qdev):
    """The hotdimm.N device whose region starts at the virtio-mem memaddr."""
    addr = int(vm.qmp("qom-get", path=qdev, property="memaddr"))
    for n in hv.devices(vm):
        if int(Dev(vm, n).attr("region_start"), 16) == addr:
            return Dev(vm, n)
    raise Fail(f"no hotdimm device for {qdev} (region {addr:#x})")


def wait_guest(vm, dev, size, timeout=180):
    """plugged_size == size and status 'ok...' in the guest."""
    dev.wait_converged(size, timeout)


def check_agree(vm, dev, size, qdev="vm0", base_kb=None, online=None):
    """QEMU, sysfs, memory blocks, iomem (and MemTotal) agree on size."""
    q = qom_size(vm, qdev)
    expect(q == size, f"qom-get {qdev} size {q >> 20} MiB != {int(size) >> 20} MiB")
    a = hv.check_device(vm, dev, None, BLOCK)
    expect(int(a["plugged_size"]) == size,
           f"plugged_size {int(a['plugged_size']) >> 20} MiB != {int(size) >> 20} MiB")
    expect(a["transport"] == "virtio-mem", f"transport is {a['transport']}")
    if base_kb is not None:
        hv.check_memtotal(vm, base_kb, size if online is None else online)
    return a


def resize_wait(vm, ctx, size, qdev="vm0", timeout=180):
    """hotdimm-qmp resize --wait; returns the seconds it took."""
    t0 = time.monotonic()
    rc, out, err = qmp_tool(vm, "resize", qdev, size, "--wait", "--timeout", timeout,
                            timeout=timeout + 30)
    dt = time.monotonic() - t0
    ctx.note(f"hotdimm-qmp resize {qdev} {size} --wait: rc {rc} in {dt:.1f}s: "
             f"{(out + err).strip()}")
    expect(rc == 0, f"hotdimm-qmp resize {qdev} {size} --wait exited {rc}: "
           f"{(err or out).strip()}")
    return dt


def dmesg_since(vm, mark):
    """Kernel log lines after the first `mark` lines."""
    return vm.dmesg().splitlines()[mark:]


def dmesg_len(vm):
    return len(vm.dmesg().splitlines())


def grep_log(lines, pattern):
    r = re.compile(pattern)
    return [ln for ln in lines if r.search(ln)]


def poll(fn, timeout, interval=0.3):
    """Host-side wait until fn() is true; returns True or False."""
    end = time.monotonic() + timeout
    while True:
        if fn():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(interval)


def iomem_bytes(vm):
    """Bytes of hotdimm memory in /proc/iomem."""
    return sum(e - s + 1 for s, e, _, _ in vm.iomem(hv.HOTDIMM_RES))


def virtio_driver(vm, vdev="virtio0"):
    rc, out = vm.run(f"readlink /sys/bus/virtio/devices/{vdev}/driver")
    return out.strip().rsplit("/", 1)[-1] if rc == 0 else None


def virtio_mem_vdev(vm):
    """Names of the virtio devices with device id 0x0018 (virtio-mem)."""
    out = vm.sh("for d in /sys/bus/virtio/devices/*; do "
                "[ \"$(cat $d/device)\" = 0x0018 ] && basename $d; done; true")
    return out.split()


def module_loaded(vm, name):
    rc, _ = vm.run(f"grep -q '^{name} ' /proc/modules")
    return rc == 0


def make_reset(qdevs):
    def reset(vm):
        for q in qdevs:
            qom_set(vm, 0, q)
        hv.unload_hotdimm(vm)
        if module_loaded(vm, "virtio_mem"):
            for v in virtio_mem_vdev(vm):
                if virtio_driver(vm, v) == "virtio_mem":
                    vm.sh(f"echo {v} > /sys/bus/virtio/drivers/virtio_mem/unbind")
            vm.sh("rmmod virtio_mem")
        for q in qdevs:
            s = qom_size(vm, q)
            if s:
                raise Fail(f"{q} still has {s >> 20} MiB plugged after the reset")
    return reset


# -- one device ---------------------------------------------------------------

@scenario("virtio-probe")
def probe(vm, ctx):
    mark = dmesg_len(vm)
    vm.sh(INSMOD)
    vdevs = virtio_mem_vdev(vm)
    expect(len(vdevs) == 1, f"virtio-mem devices: {vdevs}")
    drv = virtio_driver(vm, vdevs[0])
    expect(drv == "hotdimm", f"{vdevs[0]} bound to {drv}, not hotdimm")
    dev = dev_for(vm, "vm0")
    a = check_agree(vm, dev, 0)
    expect(int(a["region_start"], 16) == REGION, f"region_start {a['region_start']}")
    expect(int(a["region_size"]) == 8 * GiB, f"region_size {a['region_size']}")
    expect(a["node"] == "0", f"node {a['node']}")
    expect(a["status"].startswith("ok"), f"status '{a['status']}'")
    log = dmesg_since(vm, mark)
    own = grep_log(log, rf"{vdevs[0]}: owned by hotdimm as hotdimm\.{dev.n}: region "
                   r"0x100000000-0x2ffffffff, device block 2048 KiB, node 0")
    expect(own, "no 'owned by hotdimm' line in dmesg")
    ctx.note(own[0])


@scenario("virtio-resize")
def resize(vm, ctx):
    vm.sh(INSMOD_MOVABLE)
    dev = dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    for size in (GiB, 4 * GiB, 512 * MiB, 0):
        dt = resize_wait(vm, ctx, size)
        wait_guest(vm, dev, size)
        check_agree(vm, dev, size, base_kb=base)
        ctx.note(f"# resize to {size >> 20} MiB: {dt:.1f}s")


@scenario("virtio-unaligned-and-too-big")
def unaligned(vm, ctx):
    vm.sh(INSMOD_MOVABLE)
    dev = dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    # Requests that are device-block aligned (2 MiB) but not memory-block
    # aligned are honoured exactly: a partly plugged block ('m').
    for odd in (GiB + 2 * MiB, GiB + 64 * MiB):
        rc, out, err = qmp_tool(vm, "resize", "vm0", odd)
        expect(rc == 0, f"hotdimm-qmp resize vm0 {odd} exited {rc}: {err.strip()}")
        wait_guest(vm, dev, odd)
        a = check_agree(vm, dev, odd, base_kb=base)
        expect(a["blocks"].startswith("M" * 8 + "m"), f"blocks {a['blocks']} for {odd}")
        expect(a["status"] == "ok", f"status '{a['status']}' for {odd}")
        ctx.note(f"{odd}: blocks {a['blocks']}, status {a['status']}")
    # Beyond the region: QEMU refuses; nothing changes in the guest.
    rc, out, err = qmp_tool(vm, "resize", "vm0", "16G", "--wait", "--timeout", 10)
    lines = err.strip().splitlines()
    expect(rc != 0, "resize beyond the region succeeded")
    expect(len(lines) == 1, f"expected one error line, got: {err.strip()!r}")
    ctx.note(f"16G: rc {rc}: {lines[0]}")
    req = int(vm.qmp("qom-get", path="vm0", property="requested-size"))
    expect(req == odd, f"requested-size changed to {req} by a refused request")
    check_agree(vm, dev, odd, base_kb=base)

    resize_wait(vm, ctx, 0)
    wait_guest(vm, dev, 0)


@scenario("virtio-change-midway")
def midway(vm, ctx):
    vm.sh(INSMOD_MOVABLE)
    dev = dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    mark = dmesg_len(vm)

    # Shrink while still plugging: 4G asked, 256M asked again mid-way.
    # QMP polling from the host is much faster than a guest round trip.
    qom_set(vm, 4 * GiB)
    expect(poll(lambda: qom_size(vm) >= 512 * MiB, 60, 0.02), "plugging did not start")
    qom_set(vm, 256 * MiB)
    seen = qom_size(vm)
    ctx.note(f"requested 256 MiB when {seen >> 20} MiB were plugged")
    expect(seen < 4 * GiB, "plugging finished before the new request; nothing tested")
    wait_guest(vm, dev, 256 * MiB)
    check_agree(vm, dev, 256 * MiB, base_kb=base)

    # Grow while still unplugging: 6G, then 0, then 1G mid-way. Unplugging
    # idle movable blocks takes ~10 ms each, so the host may lose the race
    # on a busy machine: up to three tries, each reported.
    for attempt in range(1, 4):
        resize_wait(vm, ctx, 6 * GiB)
        wait_guest(vm, dev, 6 * GiB)
        qom_set(vm, 0)
        expect(poll(lambda: qom_size(vm) <= 5 * GiB + 512 * MiB, 60, 0.02),
               "unplugging did not start")
        qom_set(vm, GiB)
        seen = qom_size(vm)
        ctx.note(f"try {attempt}: requested 1 GiB when {seen >> 20} MiB were plugged")
        wait_guest(vm, dev, GiB)
        check_agree(vm, dev, GiB, base_kb=base)
        if seen > GiB:
            break
    expect(seen > GiB, "unplugging went below 1 GiB before the new request in 3 tries; "
           "nothing tested")
    log = dmesg_since(vm, mark)
    nacks = grep_log(log, r"PLUG 0x[0-9a-f]+-0x[0-9a-f]+: NACK")
    ctx.note(f"NACKed plug requests: {len(nacks)}")
    resize_wait(vm, ctx, 0)
    wait_guest(vm, dev, 0)
    check_agree(vm, dev, 0, base_kb=base)


def migration_status(vm):
    return vm.qmp("query-migrate").get("status", "none")


class HostBusy:
    """While QEMU migrates, virtio-mem answers BUSY to every request: a
    migration to /dev/null at 4 KiB/s keeps it busy until cancelled."""

    def __init__(self, vm, ctx):
        self.vm, self.ctx = vm, ctx
        self.ended = False

    def __enter__(self):
        self.vm.qmp("migrate-set-parameters", **{"max-bandwidth": 4096})
        self.vm.qmp("migrate", uri="exec:cat > /dev/null")
        st = migration_status(self.vm)
        expect(st in ("setup", "active"), f"migration status {st}")
        return self

    def end(self):
        if self.ended:
            return
        self.ended = True
        self.vm.qmp("migrate_cancel")
        for _ in range(100):
            st = migration_status(self.vm)
            if st not in ("setup", "active", "cancelling"):
                break
            time.sleep(0.2)
        self.ctx.note(f"migration: {st}")

    def __exit__(self, *exc):
        self.end()
        return False


@scenario("virtio-busy-status")
def busy_status(vm, ctx):
    """BUSY from the host: the core retries with backoff, visibly in status,
    and converges once the host is no longer busy."""
    vm.sh(INSMOD_MOVABLE)
    dev = dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    mark = dmesg_len(vm)
    with HostBusy(vm, ctx):
        qom_set(vm, 512 * MiB)
        seen = vm.wait_until(f"grep -q '^retrying: plug' {dev.path}/status", 20)
        st = dev.attr("status")
        ctx.note(f"status while busy: {st}")
        log = dmesg_since(vm, mark)
        expect(grep_log(log, r"virtio0: PLUG 0x[0-9a-f]+-0x[0-9a-f]+: BUSY"),
               "no BUSY answer logged")
        expect(qom_size(vm) == 0, "the device plugged memory while busy")
        expect(seen, f"retrying not visible in status while the host is busy: '{st}'")
    resize_wait(vm, ctx, 512 * MiB, timeout=120)
    wait_guest(vm, dev, 512 * MiB)
    check_agree(vm, dev, 512 * MiB, base_kb=base)


@scenario("virtio-busy-adopt")
def busy_adopt(vm, ctx):
    """Shrink while the host is busy (memory leaves Linux, unplug retried),
    rmmod (memory stays plugged), insmod (UNPLUG_ALL is BUSY: retried in the
    background, no device yet), host no longer busy -> UNPLUG_ALL succeeds,
    the device is adopted and plugged to the requested size again."""
    vm.sh(INSMOD_MOVABLE)
    dev = dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    resize_wait(vm, ctx, GiB)
    wait_guest(vm, dev, GiB)
    with HostBusy(vm, ctx) as busy:
        mark = dmesg_len(vm)
        qom_set(vm, 512 * MiB)
        expect(poll(lambda: iomem_bytes(vm) <= 512 * MiB, 60),
               f"memory did not leave Linux: blocks {dev.attr('blocks')}")
        expect(vm.wait_until("dmesg | grep -q 'unplug of block [0-9]* failed (-16), retry in'",
                             30), "no unplug retry with backoff in dmesg")
        expect(qom_size(vm) == GiB, "the device unplugged memory while busy")
        # Linux should keep the requested 512 MiB while the unplug of the
        # rest waits for the host (checked at the end, after the adoption).
        time.sleep(3)
        kept = iomem_bytes(vm)
        ctx.note(f"kept in Linux while busy: {kept >> 20} MiB, blocks {dev.attr('blocks')}")

        mark = dmesg_len(vm)
        t0 = time.monotonic()
        vm.sh("rmmod hotdimm", timeout=180)
        ctx.note(f"# rmmod while busy: {time.monotonic() - t0:.1f}s")
        log = dmesg_since(vm, mark)
        expect(grep_log(log, r"bytes remain plugged"), "rmmod did not report plugged memory")
        expect(not vm.iomem(hv.HOTDIMM_RES), "hotdimm memory left in /proc/iomem")
        hv.check_memtotal(vm, base, 0)
        left = qom_size(vm)
        expect(left > 0, "nothing stayed plugged: BUSY was not exercised")
        ctx.note(f"plugged after rmmod: {left >> 20} MiB")

        mark = dmesg_len(vm)
        vm.sh(INSMOD_MOVABLE)
        log = dmesg_since(vm, mark)
        expect(grep_log(log, r"plugged by an earlier driver: UNPLUG_ALL"),
               "probe did not notice the plugged memory")
        expect(grep_log(log, r"retrying UNPLUG_ALL in the background"),
               "UNPLUG_ALL was not retried while busy")
        expect(not hv.devices(vm), "a hotdimm device exists before UNPLUG_ALL succeeded")
        busy.end()
        expect(vm.wait_until(f"[ -e {hv.PLATFORM}/hotdimm.0 ]", 60),
               "device not adopted after the host stopped being busy")
    log = dmesg_since(vm, mark)
    expect(grep_log(log, r"UNPLUG_ALL done: adopted the device"), "no adoption message")
    dev = dev_for(vm, "vm0")
    wait_guest(vm, dev, 512 * MiB)
    check_agree(vm, dev, 512 * MiB, base_kb=base)
    expect(kept == 512 * MiB, f"over-shrink: while the host was busy Linux kept "
           f"{kept >> 20} MiB of the requested 512 MiB")


@scenario("virtio-reload-plugged")
def reload_plugged(vm, ctx):
    """rmmod with memory plugged removes and unplugs it all; insmod follows
    the requested size again. Three cycles."""
    base = vm.meminfo()["MemTotal"]
    qom_set(vm, GiB + 512 * MiB)
    vm.sh(INSMOD_MOVABLE)
    for cycle in range(3):
        dev = dev_for(vm, "vm0")
        wait_guest(vm, dev, GiB + 512 * MiB)
        check_agree(vm, dev, GiB + 512 * MiB, base_kb=base)
        mark = dmesg_len(vm)
        t0 = time.monotonic()
        vm.sh("rmmod hotdimm", timeout=180)
        dt = time.monotonic() - t0
        log = dmesg_since(vm, mark)
        expect(not vm.iomem(hv.HOTDIMM_RES), f"cycle {cycle}: hotdimm memory left")
        hv.check_memtotal(vm, base, 0)
        expect(qom_size(vm) == 0, f"cycle {cycle}: {qom_size(vm) >> 20} MiB still plugged")
        expect(grep_log(log, r"virtio0: released by hotdimm"), f"cycle {cycle}: no release line")
        expect(not grep_log(log, r"remain plugged|could not be offlined"),
               f"cycle {cycle}: " + "; ".join(grep_log(log, r"remain plugged|could not")))
        ctx.note(f"# cycle {cycle}: rmmod {dt:.1f}s")
        vm.sh(INSMOD_MOVABLE)
    dev = dev_for(vm, "vm0")
    wait_guest(vm, dev, GiB + 512 * MiB)
    check_agree(vm, dev, GiB + 512 * MiB, base_kb=base)


@scenario("virtio-coexist")
def coexist(vm, ctx):
    """The in-tree virtio_mem.ko cannot take a device hotdimm owns; and when
    virtio_mem got it first, hotdimm says so and leaves it alone."""
    vdev = virtio_mem_vdev(vm)[0]
    vm.sh(INSMOD_MOVABLE)
    vm.sh(f"insmod {VIRTIO_MEM_KO}")
    expect(module_loaded(vm, "virtio_mem"), "virtio_mem.ko did not load")
    drv = virtio_driver(vm, vdev)
    expect(drv == "hotdimm", f"{vdev} is bound to {drv} after loading virtio_mem")
    dev = dev_for(vm, "vm0")
    resize_wait(vm, ctx, 256 * MiB)
    wait_guest(vm, dev, 256 * MiB)
    check_agree(vm, dev, 256 * MiB)
    resize_wait(vm, ctx, 0)
    wait_guest(vm, dev, 0)

    # The other way round: virtio_mem owns the device, then hotdimm loads.
    vm.sh("rmmod hotdimm")
    expect(virtio_driver(vm, vdev) is None, f"{vdev} still bound after rmmod hotdimm")
    vm.sh(f"echo {vdev} > /sys/bus/virtio/drivers_probe")
    drv = virtio_driver(vm, vdev)
    expect(drv == "virtio_mem", f"{vdev} bound to {drv}, expected virtio_mem")
    mark = dmesg_len(vm)
    vm.sh(INSMOD_MOVABLE)
    log = dmesg_since(vm, mark)
    said = grep_log(log, rf"hotdimm: {vdev}: virtio-mem device owned by driver virtio_mem, not hotdimm")
    expect(said, "hotdimm did not say that virtio_mem owns the device")
    ctx.note(said[0])
    expect(not hv.devices(vm), "hotdimm created a device for a device virtio_mem owns")
    expect(virtio_driver(vm, vdev) == "virtio_mem", "ownership changed")

    # Hand it back: unbind virtio_mem, unload it, probe again.
    vm.sh(f"echo {vdev} > /sys/bus/virtio/drivers/virtio_mem/unbind && rmmod virtio_mem")
    vm.sh(f"echo {vdev} > /sys/bus/virtio/drivers_probe")
    drv = virtio_driver(vm, vdev)
    expect(drv == "hotdimm", f"{vdev} bound to {drv} after virtio_mem left")
    dev = dev_for(vm, "vm0")
    resize_wait(vm, ctx, 128 * MiB)
    wait_guest(vm, dev, 128 * MiB)
    check_agree(vm, dev, 128 * MiB)


@scenario("virtio-qmp-tool-errors")
def qmp_errors(vm, ctx):
    cases = [
        ("missing socket", ["/nonexistent/hotdimm-qmp.sock", "list"], True),
        ("unknown id", ["resize", "nosuch", "1G"], False),
        ("bad size", ["resize", "vm0", "12Q"], False),
        ("negative size", ["resize", "vm0", "-1G"], False),
    ]
    for what, args, raw in cases:
        if raw:
            p = subprocess.run(QMP_TOOL + args, capture_output=True, text=True, timeout=60)
            rc, out, err = p.returncode, p.stdout, p.stderr
        else:
            rc, out, err = qmp_tool(vm, *args, timeout=60)
        lines = err.strip().splitlines()
        ctx.note(f"{what}: rc {rc}: {err.strip()!r}")
        expect(rc != 0, f"{what}: exit status 0")
        expect(len(lines) == 1, f"{what}: expected one error line, got {err.strip()!r}")
    rc, out, err = qmp_tool(vm, "list")
    expect(rc == 0 and "vm0" in out, f"list: rc {rc}: {(out + err).strip()}")


def modprobe_plan(root, kver, conf, target, udev=True):
    """Module names `modprobe -n` would load for target, with
    /etc/modprobe.d replaced by conf. udev=True: as udev loads a modalias
    (blacklist applies); False: as `modprobe NAME` (it does not)."""
    p = subprocess.run(["modprobe", "-n", "-v"] + (["-b"] if udev else []) +
                       ["-d", root, "-C", conf, "-S", kver, target],
                       capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, f"modprobe -n {target}: {p.stderr.strip()}")
    names = []
    for line in p.stdout.splitlines():
        m = re.match(r"insmod \S*/([^/\s]+?)\.ko(\.\w+)?\b", line)
        if m and m.group(1) not in names:
            names.append(m.group(1))
    return names


@scenario("virtio-modprobe-conf")
def modprobe_conf(vm, ctx):
    """scripts/hotdimm-modprobe.conf, checked with the host's kmod against a
    module tree for this kernel that holds hotdimm.ko (as `make install` or
    DKMS leave it): udev's modalias lookup loads hotdimm and not virtio_mem,
    and `modprobe virtio_mem` loads hotdimm first."""
    conf = str(hv.SCRIPTS / "hotdimm-modprobe.conf")
    src = hv.kernel_info(ctx.kver)["MODDIR"]
    alias = "virtio:d00000018v00001AF4"
    root = tempfile.mkdtemp(prefix="hotdimm-modprobe-")
    try:
        mods = os.path.join(root, "lib", "modules", ctx.kver)
        drivers = os.path.join(mods, "kernel", "drivers")
        os.makedirs(drivers)
        os.symlink(f"{src}/kernel/drivers/virtio", os.path.join(drivers, "virtio"))
        os.makedirs(os.path.join(mods, "updates"))
        shutil.copy(ctx.artifacts["module"], os.path.join(mods, "updates", "hotdimm.ko"))
        for f in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
            if os.path.exists(f"{src}/{f}"):
                shutil.copy(f"{src}/{f}", mods)
        p = subprocess.run(["depmod", "-b", root, ctx.kver], capture_output=True, text=True,
                           timeout=120)
        expect(p.returncode == 0, f"depmod: {p.stderr.strip()}")

        plain = modprobe_plan(root, ctx.kver, "/dev/null", alias)
        ctx.note(f"without the config, {alias} loads {plain}")
        expect("hotdimm" in plain and "virtio_mem" in plain,
               f"hotdimm.ko or virtio_mem.ko lacks the virtio-mem modalias: {plain}")
        by_alias = modprobe_plan(root, ctx.kver, conf, alias)
        ctx.note(f"with the config, {alias} loads {by_alias}")
        expect("hotdimm" in by_alias and "virtio_mem" not in by_alias,
               f"modalias loads {by_alias}")
        by_name = modprobe_plan(root, ctx.kver, conf, "virtio_mem", udev=False)
        ctx.note(f"with the config, modprobe virtio_mem loads {by_name}")
        expect("hotdimm" in by_name and "virtio_mem" in by_name and
               by_name.index("hotdimm") < by_name.index("virtio_mem"),
               f"modprobe virtio_mem loads {by_name}: hotdimm must come first")
    finally:
        shutil.rmtree(root, ignore_errors=True)


VM_ONE = dict(mem="1G", maxmem="9G", qemu_args=[
    "-object", "memory-backend-ram,id=vmem0,size=8G",
    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"])


# -- two devices on two nodes -----------------------------------------------------

def node_blocks(vm, node):
    out = vm.sh(f"ls /sys/devices/system/node/node{node}/ | grep '^memory[0-9]' ; true")
    return {int(x[len("memory"):]) for x in out.split()}


def node_memtotal(vm, node):
    txt = vm.read(f"/sys/devices/system/node/node{node}/meminfo")
    m = re.search(r"MemTotal:\s+(\d+) kB", txt)
    return int(m.group(1))


@scenario("virtio-numa")
def numa(vm, ctx):
    vm.sh(INSMOD)
    devs = {q: dev_for(vm, q) for q in ("vm0", "vm1")}
    for node, q in enumerate(("vm0", "vm1")):
        n = devs[q].attr("node")
        expect(n == str(node), f"{q} (hotdimm.{devs[q].n}) reports node {n}, want {node}")
    base = {n: node_memtotal(vm, n) for n in (0, 1)}
    total = vm.meminfo()["MemTotal"]

    sizes = {"vm0": 512 * MiB, "vm1": 768 * MiB}

    def check_nodes():
        for node, q in enumerate(("vm0", "vm1")):
            a = check_agree(vm, devs[q], sizes[q], qdev=q)
            start = int(a["region_start"], 16)
            want = {start // BLOCK + i for i, c in enumerate(a["blocks"]) if c != "-"}
            have = node_blocks(vm, node)
            other = node_blocks(vm, 1 - node)
            expect(want <= have, f"{q}: blocks {sorted(want - have)} not under node{node}")
            expect(not (want & other), f"{q}: blocks {sorted(want & other)} under node{1 - node}")
            delta = (node_memtotal(vm, node) - base[node]) * 1024
            expect(delta == sizes[q], f"node{node} MemTotal grew by {delta >> 20} MiB, "
                   f"want {sizes[q] >> 20}")
        hv.check_memtotal(vm, total, sum(sizes.values()))

    for q in ("vm1", "vm0"):
        resize_wait(vm, ctx, sizes[q], qdev=q)
    for q in ("vm0", "vm1"):
        wait_guest(vm, devs[q], sizes[q])
    check_nodes()
    # Independently: vm0 back to 0 while vm1 keeps its memory.
    sizes["vm0"] = 0
    resize_wait(vm, ctx, 0, qdev="vm0")
    wait_guest(vm, devs["vm0"], 0)
    check_nodes()
    sizes["vm1"] = 0
    resize_wait(vm, ctx, 0, qdev="vm1")
    wait_guest(vm, devs["vm1"], 0)
    check_nodes()


# One CPU per socket: two cores of one socket on different nodes make the
# guest kernel warn (topology_sane) at boot.
VM_NUMA = dict(mem="1G", maxmem="6G", smp="2,sockets=2,cores=1,threads=1",
               qemu_args=[
    "-object", "memory-backend-ram,id=ram0,size=512M",
    "-object", "memory-backend-ram,id=ram1,size=512M",
    "-numa", "node,nodeid=0,cpus=0,memdev=ram0",
    "-numa", "node,nodeid=1,cpus=1,memdev=ram1",
    "-object", "memory-backend-ram,id=vmem0,size=2G",
    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=0",
    "-object", "memory-backend-ram,id=vmem1,size=2G",
    "-device", "virtio-mem-pci,id=vm1,memdev=vmem1,node=1,requested-size=0"])


GROUPS = [
    Group("virtio", [probe, resize, unaligned, midway, busy_status, busy_adopt,
                     reload_plugged,
                     coexist, qmp_errors, modprobe_conf],
          vm=VM_ONE, reset=make_reset(("vm0",))),
    # A virtio-mem device's node comes from ACPI (SRAT, VIRTIO_MEM_F_ACPI_PXM).
    Group("virtio-numa", [numa], vm=VM_NUMA, reset=make_reset(("vm0", "vm1")),
          kconfig=("CONFIG_ACPI_NUMA",)),
]
