# SPDX-License-Identifier: GPL-2.0
"""Guest test of a terabyte region (issue 14): the scale lane.

One boot per kernel: a 2 GiB guest (`-m 2G,maxmem=1100G`, physical address
bits 46) booted with `memory_hotplug.memmap_on_memory=1`, one 1 TiB
virtio-mem device (vm0) backed by `memory-backend-ram,size=1T,reserve=off`
(the host commits only what the guest touches), hotdimm loaded with
`memmap_on_memory=1` and the default policy.

  scale-1t   the 8192-block device: `blocks` refuses (EFBIG) and block_map
             shows all 8192 blocks; plug 128 GiB (1024 blocks) and check that
             plugged_size, QEMU's size, MemTotal (plugged memory minus the
             memmap on each block) and the complete block map agree with
             /sys/devices/system/memory and /proc/iomem; shrink to 0 and
             measure what was returned in what time. Whatever stays plugged
             must be kernel-zone blocks the kernel cannot offline (printed
             with their state, zone and the status line), at most
             SCALE_MAX_LEFT; anything else fails.

A second boot, `scale-16t`: a 16 TiB device (131072 blocks; QEMU 7.2
takes `size=16T,reserve=off` with `maxmem=16400G`): the complete map of
131072 blocks from block_map, a 1 GiB plug and unplug checked like above.

Both measure what loading hotdimm costs (`bookkeeping`): MemFree,
SUnreclaim (large kmalloc) and VmallocUsed before and after insmod, less the
module image (/proc/modules). Every number is printed as a
"# KVER scale-...: ..." line and written to the scenario log.
"""

import time

import hotdimm_vm as hv
from hotdimm_vm import Group, scenario, expect, Fail, Dev, GiB, MiB

BLOCK = 128 * MiB
REGION_SIZE = 1024 * GiB
PLUG = 128 * GiB
# memmap of one 128 MiB block (64-byte struct page per 4 KiB page): with
# memmap_on_memory it sits on the block and is not in MemTotal.
MEMMAP = BLOCK // 4096 * 64
PLUG_TIMEOUT = 240
# The shrink is over when nothing changed for UNPLUG_STALL s (kernel blocks
# are retried every few seconds and give back parts), at most UNPLUG_TIMEOUT.
UNPLUG_TIMEOUT = 480
UNPLUG_STALL = 45
# What may stay after the shrink: kernel-zone blocks holding unmovable pages.
SCALE_MAX_LEFT = 512 * MiB
INSMOD = "insmod /hotdimm.ko memmap_on_memory=1"


def say(ctx, text, name="scale-1t"):
    line = f"# {ctx.kver} {name}: {text}"
    print(line, flush=True)
    ctx.note(line)


def qom(vm, prop):
    return int(vm.qmp("qom-get", path="vm0", property=prop))


def set_size(vm, size):
    vm.qmp("qom-set", path="vm0", property="requested-size", value=int(size))


def plugged(dev):
    return int(dev.attr("plugged_size"))


def wait_size(vm, dev, size, timeout, stall=None):
    """Poll plugged_size until it is `size` and status is ok, for at most
    `timeout` s, or until it did not change for `stall` s. Returns
    (seconds, reached, plugged) where seconds is the last change."""
    t0 = time.monotonic()
    last, last_t = None, 0.0
    cond = (f'[ "$(cat {dev.path}/plugged_size)" = "{int(size)}" ] && '
            f'grep -q "^ok" {dev.path}/status')
    while True:
        rc, _ = vm.run(cond)
        now = time.monotonic() - t0
        p = plugged(dev)
        if p != last:
            last, last_t = p, now
        if rc == 0:
            return now, True, p
        if now > timeout or (stall and now - last_t > stall):
            return last_t, False, p
        time.sleep(0.5)


def check_settled(vm, dev):
    """check_device on a device that may still change (a retried block):
    its attributes are read one after the other, so read them again once."""
    try:
        return hv.check_device(vm, dev, None, BLOCK)
    except Fail:
        time.sleep(2)
        return hv.check_device(vm, dev, None, BLOCK)


def memtotal_expected(base_kb, blocks, memmap_on):
    """MemTotal (kB) once every non-'-' block is online."""
    online = sum(BLOCK for c in blocks if c in "KM")
    memmap = sum(MEMMAP for c in blocks if c in "KMkm") if memmap_on else 0
    return base_kb + (online - memmap) // 1024


def describe_left(vm, dev, blocks):
    """The blocks still plugged: index, memoryN state, zones, plugged part."""
    start = int(dev.attr("region_start"), 16)
    out = []
    for i, c in enumerate(blocks):
        if c == "-":
            continue
        n = start // BLOCK + i
        rc, st = vm.run(f"cat {hv.MEMORY}/memory{n}/state {hv.MEMORY}/memory{n}/valid_zones "
                        "2>/dev/null | tr '\\n' ' '")
        out.append(f"block {i} '{c}' (memory{n}: {st.strip() or 'not in Linux'})")
    return out


def kmem(vm):
    m = vm.meminfo()
    return {k: m.get(k, 0) for k in ("MemFree", "SUnreclaim", "VmallocUsed")}


def insmod_measured(vm, ctx, name, args=""):
    """insmod; returns the hotdimm device. Prints what the load cost."""
    vm.sh("sync; echo 3 > /proc/sys/vm/drop_caches")
    before = kmem(vm)
    vm.sh(f"{INSMOD} {args}".strip())
    n = hv.devices(vm)
    expect(len(n) == 1, f"hotdimm devices: {n}")
    vm.sh("sync; echo 3 > /proc/sys/vm/drop_caches; sleep 1")
    after = kmem(vm)
    mod = int(vm.sh("awk '$1 == \"hotdimm\" {print $2}' /proc/modules").strip() or 0)
    d = {k: after[k] - before[k] for k in before}
    dev = Dev(vm, n[0])
    nr = int(dev.attr("region_size")) // BLOCK
    say(ctx, f"bookkeeping: insmod with {nr} blocks: MemFree {d['MemFree']:+d} kB, "
        f"SUnreclaim {d['SUnreclaim']:+d} kB, VmallocUsed {d['VmallocUsed']:+d} kB, "
        f"module image {mod // 1024} kB; block array {nr} x 48 B = {nr * 48 // 1024} kB", name)
    return dev


@scenario("scale-1t")
def scale_1t(vm, ctx):
    expect(vm.read("/sys/module/memory_hotplug/parameters/memmap_on_memory").strip() == "Y",
           "the kernel did not take memory_hotplug.memmap_on_memory=1")
    dev = insmod_measured(vm, ctx, "scale-1t")
    expect(int(dev.attr("region_size")) == REGION_SIZE, "region_size is not 1 TiB")
    nr = REGION_SIZE // BLOCK

    # The map at 1 TiB: blocks cannot hold 8192 characters and says so.
    rc, out = vm.run(f"cat {dev.path}/blocks")
    expect(rc != 0 and "too large" in out.lower(),
           f"blocks of {nr} blocks did not fail with EFBIG: rc {rc}, {len(out)} bytes")
    text = vm.sh(f"cat {dev.path}/block_map")
    expect(text.split("\n")[1] == f"0-{nr - 1}:-", f"block_map of the empty device: {text!r}")
    a = hv.check_device(vm, dev, None, BLOCK)
    base_kb = vm.meminfo()["MemTotal"]

    # Plug 128 GiB.
    t0 = time.monotonic()
    set_size(vm, PLUG)
    dt, ok, p = wait_size(vm, dev, PLUG, PLUG_TIMEOUT)
    host_dt = time.monotonic() - t0
    say(ctx, f"plug 0 -> {PLUG >> 30} GiB: {dt:.1f}s ({PLUG / GiB / max(dt, 0.001):.1f} GiB/s), "
        f"reached {ok}")
    if not ok:
        raise Fail(f"plug of {PLUG >> 30} GiB stopped at {p >> 20} MiB after {host_dt:.0f}s: "
                   f"status '{dev.attr('status')}'")
    expect(qom(vm, "size") == PLUG, f"QEMU size {qom(vm, 'size') >> 20} MiB != {PLUG >> 20} MiB")
    a = hv.check_device(vm, dev, None, BLOCK)
    blocks = a["blocks"]
    expect(int(a["plugged_size"]) == PLUG, f"plugged_size {a['plugged_size']}")
    expect(sum(c != "-" for c in blocks) == PLUG // BLOCK,
           f"block_map shows {sum(c != '-' for c in blocks)} plugged blocks, want {PLUG // BLOCK}")
    mt = vm.meminfo()["MemTotal"]
    want = memtotal_expected(base_kb, blocks, True)
    expect(mt == want, f"MemTotal {mt} kB, want {want} kB (base {base_kb} kB + "
           f"{PLUG >> 20} MiB - memmap {PLUG // BLOCK * MEMMAP >> 20} MiB)")
    runs = hv.block_runs(blocks)
    say(ctx, f"after plug: kernel {int(a['kernel_size']) >> 20} MiB, movable "
        f"{int(a['movable_size']) >> 20} MiB, MemTotal +{(mt - base_kb) >> 10} MiB, "
        f"map {runs if len(runs) < 200 else runs[:200] + '...'}")

    # Shrink to 0.
    t0 = time.monotonic()
    set_size(vm, 0)
    dt, ok, p = wait_size(vm, dev, 0, UNPLUG_TIMEOUT, UNPLUG_STALL)
    a = check_settled(vm, dev)
    blocks = a["blocks"]
    q = qom(vm, "size")
    expect(q == int(a["plugged_size"]),
           f"QEMU size {q >> 20} MiB != plugged_size {int(a['plugged_size']) >> 20} MiB")
    back = PLUG - p
    say(ctx, f"shrink {PLUG >> 30} GiB -> 0: returned {back >> 20} MiB in {dt:.1f}s "
        f"({back / GiB / max(dt, 0.001):.1f} GiB/s), left {p >> 20} MiB")
    if ok:
        expect(vm.meminfo()["MemTotal"] == base_kb,
               f"MemTotal {vm.meminfo()['MemTotal']} kB after the shrink, was {base_kb} kB")
        return
    left = describe_left(vm, dev, blocks)
    say(ctx, f"left after {time.monotonic() - t0:.0f}s ({UNPLUG_STALL}s without progress): "
        f"{hv.block_runs(blocks)}; status '{a['status']}'; "
        + "; ".join(left[:8]))
    partial = dev.attr("partial_blocks").strip()
    if partial:
        say(ctx, "partial_blocks: " + partial.replace("\n", ", "))
    expect(set(blocks) <= set("-Kk"),
           f"{p >> 20} MiB left, not only in kernel-zone blocks: {hv.block_runs(blocks)}")
    expect(p <= SCALE_MAX_LEFT, f"{p >> 20} MiB left after {time.monotonic() - t0:.0f}s "
           f"(more than {SCALE_MAX_LEFT >> 20} MiB): {hv.block_runs(blocks)}")
    if "k" not in blocks:
        mt, want = vm.meminfo()["MemTotal"], memtotal_expected(base_kb, blocks, True)
        expect(mt == want, f"MemTotal {mt} kB with {p >> 20} MiB left, want {want} kB")


def reset(vm):
    """The scenario reported any remainder; rmmod takes what it can. Only
    one scenario boots this guest, so what stays does not matter."""
    set_size(vm, 0)
    if hv.hotdimm_loaded(vm):
        vm.run("rmmod hotdimm", 300)


@scenario("scale-16t")
def scale_16t(vm, ctx):
    dev = insmod_measured(vm, ctx, "scale-16t", "memmap_on_memory=1")
    size = int(dev.attr("region_size"))
    nr = size // BLOCK
    expect(size == 16 * 1024 * GiB, f"region_size {size} is not 16 TiB")
    rc, out = vm.run(f"cat {dev.path}/blocks")
    expect(rc != 0 and "too large" in out.lower(), f"blocks of {nr} blocks did not fail with EFBIG")
    t0 = time.monotonic()
    text = vm.sh(f"cat {dev.path}/block_map")
    gen, flat = hv.parse_block_map(text)
    expect(text.split("\n")[1] == f"0-{nr - 1}:-" and flat == "-" * nr,
           f"block_map of the empty 16 TiB device: {text[:200]!r}")
    base_kb = vm.meminfo()["MemTotal"]
    set_size(vm, GiB)
    dt, ok, p = wait_size(vm, dev, GiB, 120)
    expect(ok, f"1 GiB plug stopped at {p >> 20} MiB: status '{dev.attr('status')}'")
    a = hv.check_device(vm, dev, None, BLOCK)
    expect(qom(vm, "size") == GiB, f"QEMU size {qom(vm, 'size') >> 20} MiB")
    blocks = a["blocks"]
    mt, want = vm.meminfo()["MemTotal"], memtotal_expected(base_kb, blocks, True)
    expect(mt == want, f"MemTotal {mt} kB, want {want} kB")
    set_size(vm, 0)
    dt2, ok, p = wait_size(vm, dev, 0, 120)
    expect(ok, f"unplug of 1 GiB left {p >> 20} MiB: {hv.block_runs(dev.block_map())}")
    hv.check_device(vm, dev, None, BLOCK)
    say(ctx, f"1 GiB plug {dt:.1f}s, unplug {dt2:.1f}s, map {hv.block_runs(blocks)}; "
        f"took {time.monotonic() - t0:.0f}s", "scale-16t")


VM_SCALE = dict(mem="2G", maxmem="1100G", cpu="max,phys-bits=46",
                append="memory_hotplug.memmap_on_memory=1",
                qemu_args=[
                    "-object", "memory-backend-ram,id=vmem0,size=1T,reserve=off",
                    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"])

# It plugs 1 GiB: KASAN's shadow is sized for that, not for the 16 TiB.
VM_SCALE16 = dict(VM_SCALE, maxmem="16400G", max_plug=GiB, qemu_args=[
    "-object", "memory-backend-ram,id=vmem0,size=16T,reserve=off",
    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"])

# KASAN allocates shadow memory for hotplugged memory when it goes online,
# an eighth of it from the guest's own RAM: 16 GiB for the 128 GiB plug.
KASAN_WHY = (f"KASAN's shadow of the {PLUG // GiB} GiB plug would need "
             f"{PLUG // 8 // GiB} GiB of the 2 GiB guest")
GROUPS = [Group("scale", [scale_1t], vm=VM_SCALE, reset=reset,
                not_kconfig={"CONFIG_KASAN": KASAN_WHY}),
          Group("scale16", [scale_16t], vm=VM_SCALE16, reset=reset)]
