# SPDX-License-Identifier: GPL-2.0
"""Guest tests with the guest booted by libvirt (issue 13).

One boot per kernel: libvirt starts the guest as a transient domain
(hotdimm_vm.LibvirtVM: type qemu or kvm, 1 GiB in one NUMA cell, one 4 GiB
virtio-mem device with alias ua-vmem0, direct kernel boot of the test
initramfs; the harness's console and command channel are serial ports of
the domain). The kernel command line has memhp_default_state=online, the
setting under which the in-tree virtio_mem cannot give memory back.

  libvirt-resize          hotdimm (default policy) follows
                          `virsh update-memory-device --requested-size`:
                          2G, 512M, 2G, 0; after every step the guest's
                          hotdimm sysfs, the memory blocks, /proc/iomem,
                          MemTotal and <current> in `virsh dumpxml` agree
  libvirt-bad-requests    too large, unaligned and unknown-alias requests:
                          virsh exits 1, nothing changes anywhere
  libvirt-hotdimm-qmp     scripts/hotdimm-qmp --virsh DOMAIN: resize --wait,
                          list (text and --json), watch, bad arguments
  libvirt-shrink-data     shrink 2G -> 0 while a process (memhold) and tmpfs
                          hold data in the device's memory: data intact
  libvirt-intree-shrink0  the contrast, measured: the in-tree virtio_mem
                          (blocks onlined by memhp_default_state=online)
                          given the same 2G -> 0; how much stays plugged
                          once it makes no progress for 10 s (at most
                          90 s) is recorded, and the scenario fails if it
                          got everything back (then hotdimm's README claim
                          would be wrong). Last: it leaves memory
                          plugged, the VM is not reused.
"""

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import hotdimm_vm as hv
from hotdimm_vm import Group, scenario, expect, Fail, Dev, GiB, MiB

QMP_TOOL = [sys.executable, str(hv.SCRIPTS / "hotdimm-qmp")]
ALIAS = "ua-vmem0"
REGION_SIZE = 4 * GiB
BLOCK = 128 * MiB
INTREE_WAIT = 90         # at most, for the in-tree driver's shrink
INTREE_STUCK = 10        # seconds without progress that count as stuck


# -- helpers -----------------------------------------------------------------

def xml_sizes(vm, alias=ALIAS):
    """(requested, current) in bytes from `virsh dumpxml`."""
    p = vm.virsh("dumpxml", vm.domain)
    expect(p.returncode == 0, f"virsh dumpxml exited {p.returncode}: {p.stderr.strip()}")
    for m in ET.fromstring(p.stdout).iter("memory"):
        if m.get("model") == "virtio-mem" and m.find("alias").get("name") == alias:
            t = m.find("target")
            size = {}
            for k in ("requested", "current"):
                e = t.find(k)
                expect(e is not None and e.get("unit") == "KiB",
                       f"dumpxml: no <{k} unit='KiB'> for {alias}")
                size[k] = int(e.text) << 10
            return size["requested"], size["current"]
    raise Fail(f"dumpxml has no virtio-mem device {alias}")


def update(vm, size, alias=ALIAS):
    """virsh update-memory-device; returns (rc, stderr, seconds)."""
    t0 = time.monotonic()
    p = vm.virsh("update-memory-device", vm.domain, "--alias", alias,
                 "--requested-size", size if isinstance(size, str) else f"{size >> 20}MiB")
    return p.returncode, p.stderr.strip(), time.monotonic() - t0


def wait_current(vm, size, timeout=60):
    """Host side: until <current> in dumpxml is size. Returns seconds or raises."""
    t0 = time.monotonic()
    while True:
        req, cur = xml_sizes(vm)
        if cur == size:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise Fail(f"virsh dumpxml <current> {cur >> 20} MiB, not {size >> 20} MiB "
                       f"after {timeout}s (requested {req >> 20} MiB)")
        time.sleep(0.2)


def hotdimm_dev(vm):
    devs = hv.devices(vm)
    expect(len(devs) == 1, f"hotdimm devices: {devs}")
    dev = Dev(vm, devs[0])
    expect(dev.attr("transport") == "virtio-mem", "transport is not virtio-mem")
    return dev


def check_agree(vm, dev, size, base_kb):
    """Guest sysfs, memory blocks, iomem, MemTotal and libvirt agree on size."""
    a = hv.check_device(vm, dev, None, BLOCK)
    expect(int(a["plugged_size"]) == size,
           f"plugged_size {int(a['plugged_size']) >> 20} MiB != {size >> 20} MiB")
    hv.check_memtotal(vm, base_kb, size)
    req, cur = xml_sizes(vm)
    expect(req == size and cur == size, f"virsh dumpxml: requested {req >> 20} MiB, current "
           f"{cur >> 20} MiB, guest {size >> 20} MiB")
    return a


def resize(vm, ctx, dev, size, base_kb, timeout=180):
    """Resize through virsh and wait until guest and libvirt agree.
    Returns seconds from the request until the guest converged."""
    rc, err, dt_virsh = update(vm, size)
    expect(rc == 0, f"virsh update-memory-device {size >> 20}MiB exited {rc}: {err}")
    t0 = time.monotonic()
    dev.wait_converged(size, timeout)
    dt = time.monotonic() - t0 + dt_virsh
    wait_current(vm, size)
    a = check_agree(vm, dev, size, base_kb)
    ctx.note(f"# {size >> 20} MiB: virsh {dt_virsh:.2f}s, converged after {dt:.1f}s, "
             f"blocks {a['blocks']}")
    return dt


def insmod(vm):
    vm.sh("insmod /hotdimm.ko")
    return hotdimm_dev(vm)


def qmp_tool(*args, timeout=180):
    p = subprocess.run(QMP_TOOL + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def reset(vm):
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; "
           "umount /mnt/t 2>/dev/null; rm -f /tmp/memhold.*")
    if hv.hotdimm_loaded(vm):
        rc, err, _ = update(vm, 0)
        if rc != 0:
            raise Fail(f"reset: virsh update-memory-device 0 exited {rc}: {err}")
        Dev(vm, hv.devices(vm)[0]).wait_converged(0, 120)
    hv.unload_hotdimm(vm)


# -- scenarios ---------------------------------------------------------------

@scenario("libvirt-resize")
def sc_resize(vm, ctx):
    base = vm.meminfo()["MemTotal"]
    dev = insmod(vm)
    a = check_agree(vm, dev, 0, base)
    expect(int(a["region_size"]) == REGION_SIZE, f"region_size {a['region_size']}")
    for size in (2 * GiB, 512 * MiB, 2 * GiB, 0):
        dt = resize(vm, ctx, dev, size, base)
        ctx.note(f"resize to {size >> 20} MiB: {dt:.1f}s")
    a = dev.attrs()
    expect(set(a["blocks"]) == {"-"}, f"blocks after the shrink to 0: {a['blocks']}")
    ctx.note(f"# hotdimm shrink 2 GiB -> 0 completed in {dt:.1f}s")


@scenario("libvirt-bad-requests")
def sc_bad(vm, ctx):
    base = vm.meminfo()["MemTotal"]
    dev = insmod(vm)
    resize(vm, ctx, dev, GiB, base)
    before = dev.attrs()
    for alias, size, why in ((ALIAS, "8GiB", "larger than the device"),
                             (ALIAS, "1027MiB", "not a multiple of the 2 MiB block"),
                             (ALIAS, "-2GiB", "negative"),
                             ("ua-nosuch", "512MiB", "unknown alias")):
        rc, err, _ = update(vm, size, alias)
        ctx.note(f"{alias} {size} ({why}): rc {rc}: {err}")
        expect(rc == 1, f"virsh update-memory-device {alias} {size} ({why}) exited {rc}, not 1")
        expect(err.startswith("error:"), f"{size} ({why}): no virsh error message: {err!r}")
        q = int(vm.qmp("qom-get", path=ALIAS, property="requested-size"))
        expect(q == GiB, f"{size} ({why}): QEMU's requested-size is now {q >> 20} MiB")
        req, cur = xml_sizes(vm)
        expect(req == GiB and cur == GiB, f"{size} ({why}): virsh dumpxml now says requested "
               f"{req >> 20} MiB, current {cur >> 20} MiB")
    time.sleep(2)  # a change would have started by now
    after = check_agree(vm, dev, GiB, base)
    for k in ("requested_size", "plugged_size", "blocks", "status"):
        expect(after[k] == before[k], f"{k} changed from {before[k]!r} to {after[k]!r}")
    resize(vm, ctx, dev, 0, base)


@scenario("libvirt-hotdimm-qmp")
def sc_qmp_tool(vm, ctx):
    base = vm.meminfo()["MemTotal"]
    dev = insmod(vm)
    dom = vm.domain
    rc, out, err = qmp_tool("--help")
    expect(rc == 0 and "--virsh DOMAIN" in out, f"--help does not document --virsh: {out!r}")

    t0 = time.monotonic()
    rc, out, err = qmp_tool("--virsh", dom, "resize", ALIAS, "1G", "--wait", "--timeout", 120)
    ctx.note(f"hotdimm-qmp --virsh resize 1G --wait: rc {rc} in {time.monotonic() - t0:.1f}s: "
             f"{(out + err).strip()}")
    expect(rc == 0, f"hotdimm-qmp --virsh {dom} resize {ALIAS} 1G --wait exited {rc}: "
           f"{err.strip()}")
    dev.wait_converged(GiB, 60)
    wait_current(vm, GiB)  # libvirt learns <current> from a rate-limited QEMU event
    check_agree(vm, dev, GiB, base)  # also: libvirt's <requested> followed

    rc, out, err = qmp_tool("--virsh", dom, "list")
    ctx.note(out.strip())
    row = [ln.split() for ln in out.splitlines() if ln.startswith(ALIAS)]
    expect(rc == 0 and row, f"list exited {rc}, no {ALIAS} row: {(out + err).strip()!r}")
    expect(row[0][1] == "virtio-mem" and row[0][4:6] == ["1G", "1G"],
           f"list row {row[0]}, want virtio-mem requested 1G size 1G")
    rc, out, err = qmp_tool("--virsh", dom, "--json", "list")
    devs = json.loads(out) if rc == 0 else []
    d = [x for x in devs if x["id"] == ALIAS]
    expect(d and d[0]["size"] == GiB and d[0]["requested"] == GiB and
           d[0]["max_size"] == REGION_SIZE, f"--json list: {out.strip()!r} {err.strip()}")

    # watch sees the size change events of a shrink to 0.
    watch = subprocess.Popen(QMP_TOOL + ["--virsh", dom, "watch", "--count", "1",
                                         "--timeout", "90"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # let it subscribe
        rc, out, err = qmp_tool("--virsh", dom, "resize", ALIAS, "0", "--wait", "--timeout", 120)
        expect(rc == 0, f"resize 0 --wait exited {rc}: {err.strip()}")
        wout, werr = watch.communicate(timeout=100)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    ctx.note(f"watch: rc {watch.returncode}: {(wout + werr).strip()}")
    expect(watch.returncode == 0 and re.search(rf"{ALIAS} size \S+", wout),
           f"watch printed no size event of {ALIAS}: {(wout + werr).strip()!r}")
    dev.wait_converged(0, 60)
    # QEMU holds back a size event for up to 1 s after the last one
    ctx.note(f"libvirt's <current> reached 0 {wait_current(vm, 0):.1f}s after the guest")
    check_agree(vm, dev, 0, base)

    for args, want_rc, needle in (
            (["--virsh"], 2, "--virsh"),
            (["--virsh", "hotdimm-no-such-domain", "list"], 1, "hotdimm-no-such-domain"),
            (["--virsh", dom, "resize", ALIAS, "12X"], 2, "size"),
            (["--virsh", dom, "resize", "ua-nosuch", "1G"], 1, "unknown memory device"),
            (["--virsh", dom, "resize", ALIAS, "8G"], 1, "refused")):
        rc, out, err = qmp_tool(*args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        ctx.note(f"hotdimm-qmp {' '.join(args)}: rc {rc}: {err.strip()}")
        expect(rc == want_rc and len(lines) == 1 and needle in lines[0]
               and "Traceback" not in err,
               f"hotdimm-qmp {' '.join(args)}: rc {rc} (want {want_rc}), stderr {err.strip()!r}")
    check_agree(vm, dev, 0, base)


@scenario("libvirt-shrink-data")
def sc_shrink_data(vm, ctx):
    base = vm.meminfo()["MemTotal"]
    dev = insmod(vm)
    resize(vm, ctx, dev, 2 * GiB, base)
    start = int(dev.attr("region_start"), 16)
    inrange, ready = hv.memhold_start(vm, 128, start, start + REGION_SIZE)
    ctx.note(f"memhold: {ready}")
    vm.sh("mkdir -p /mnt/t && mount -t tmpfs -o size=64M tmpfs /mnt/t && "
          "dd if=/dev/urandom of=/mnt/t/data bs=1M count=32 2>/dev/null && "
          "md5sum /mnt/t/data > /tmp/t.md5", 300)
    expect(inrange > 0,
           "none of memhold's pages landed in the device; the test would prove nothing")
    dt = resize(vm, ctx, dev, 0, base, timeout=300)
    ctx.note(f"# shrink 2 GiB -> 0 holding data: {dt:.1f}s")
    res = hv.memhold_verify(vm)
    ctx.note(f"memhold: {res}")
    expect("verify ok inrange=0" in res, f"memhold after the shrink: {res.splitlines()[-1]}")
    rc, out = vm.run("md5sum -c /tmp/t.md5", 300)
    expect(rc == 0, f"tmpfs data corrupted: {out.strip()}")
    vm.sh("rm -f /mnt/t/data && umount /mnt/t && rm -f /tmp/memhold.*")


@scenario("libvirt-intree-shrink0")
def sc_intree(vm, ctx):
    expect(not hv.hotdimm_loaded(vm), "hotdimm is loaded")
    base = vm.meminfo()["MemTotal"]
    vm.sh("insmod /lib/modules/virtio_mem.ko")
    expect(vm.wait_until("readlink /sys/bus/virtio/devices/*/driver | grep -q virtio_mem", 30),
           "the in-tree virtio_mem did not bind the device")
    rc, err, _ = update(vm, 2 * GiB)
    expect(rc == 0, f"virsh update-memory-device 2GiB exited {rc}: {err}")
    wait_current(vm, 2 * GiB, 120)
    expect(vm.wait_until(f"[ $(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2) "
                         f"-eq {base + (2 * GiB >> 10)} ]", 60),
           "MemTotal did not grow by 2 GiB with the in-tree virtio_mem")
    zones = vm.sh("grep -h . /sys/devices/system/memory/memory*/valid_zones | sort | uniq -c")
    ctx.note(f"in-tree, 2 GiB plugged, valid_zones of all blocks:\n{zones.rstrip()}")
    rc, err, _ = update(vm, 0)
    expect(rc == 0, f"virsh update-memory-device 0 exited {rc}: {err}")
    t0 = time.monotonic()
    trace = []   # (seconds, current), one per second
    changed = 0.0
    while True:
        _, cur = xml_sizes(vm)
        now = time.monotonic() - t0
        if trace and cur != trace[-1][1]:
            changed = now
        trace.append((now, cur))
        if cur == 0 or now > INTREE_WAIT or now - changed > INTREE_STUCK:
            break
        time.sleep(1)
    left = trace[-1][1]
    how = (f"no progress for the last {INTREE_STUCK}s" if now - changed > INTREE_STUCK
           else "still progressing")
    memtotal = vm.meminfo()["MemTotal"]
    ctx.note("in-tree shrink 2 GiB -> 0: <current> over time: " +
             ", ".join(f"{t:.0f}s {c >> 20}M" for t, c in trace[::5] + trace[-1:]))
    ctx.note(f"# in-tree virtio_mem shrink 2 GiB -> 0: {left >> 20} MiB still plugged after "
             f"{now:.0f}s, {how} (MemTotal {(memtotal - base) >> 10} MiB above boot)")
    expect(left > 0, f"the in-tree virtio_mem returned all 2 GiB in {trace[-1][0]:.0f}s: "
           "the contrast the README describes did not show")


GROUPS = [
    Group("libvirt", [sc_resize, sc_bad, sc_qmp_tool, sc_shrink_data, sc_intree],
          vm_class=hv.LibvirtVM,
          vm=dict(mem="1G", virtio_mem={ALIAS: REGION_SIZE},
                  append="memhp_default_state=online"),
          needs=("module", "memhold"), reset=reset),
]
