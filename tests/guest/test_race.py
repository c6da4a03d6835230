# SPDX-License-Identifier: GPL-2.0
"""The kernel's own online/offline racing hotdimm's sub-block work.

Onlining and offlining are two-phase (MEM_GOING_* ... MEM_ONLINE/OFFLINE/
CANCEL_*) and an administrator may start them at any time. hotdimm holds a
per-device hotplug lock across each such transition of its blocks and
around each sub-block plug or unplug, so the two never interleave.

  race-fill-during-offline  An administrator's offline of a partly plugged
                            block is in progress (kept migrating by pinned
                            pages) when the host asks for more: hotdimm
                            waits for the offline to end, then plugs the
                            holes of the now offline block. (Before the
                            lock it freed pages whose reference the
                            offline had dropped: "512 pages are still in
                            use!", and the offline never ended.)
  race-shrink-during-offline  The same offline, cancelled by a signal, while
                            the host asks for less: the holes' references
                            are right afterwards (the block offlines).
  race-offline-during-part-unplug
                            A shrink takes 63 sub-blocks of an online block
                            while an administrator offlines and onlines it
                            in a loop: no sub-block is taken from the block
                            once it is offline.
  race-trim-offline         A shrink of less than a block while the newest
                            block is offline: its top sub-blocks are
                            unplugged at the transport, racing the
                            administrator's online of that block.
  race-258-converges        virtio-mem: blocks left Linux while the host
                            answered busy to their unplug; then a request
                            one device block above what is in Linux:
                            guest, plugged_size and QEMU's size agree.
  race-lane-emulated, race-lane-virtio
                            Administrator actions (offline, online_movable)
                            on random hotdimm blocks, started in the
                            background right before random grows, shrinks
                            and unaligned requests, with anonymous memory
                            and a tmpfs file held in those blocks; every
                            iteration converges and the data stays intact.
                            HOTDIMM_RACE_ITERS (default 12) and
                            HOTDIMM_RACE_SEED change the run; the seed is
                            printed.

Offlines are made to take long the way real pinned pages do it: memhold
--pin vmsplice()s pages of the block into a pipe it never reads until it
exits.
"""
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hotdimm_vm as hv  # noqa: E402
from hotdimm_vm import Dev, GiB, Group, MiB, expect, scenario  # noqa: E402
import test_virtio as tv  # noqa: E402

BLOCK = 128 * MiB
SUB = 2 * MiB
HIDDEN = 0x100000000
MEMORY = hv.MEMORY
ITERS = int(os.environ.get("HOTDIMM_RACE_ITERS", "12"))


def note(ctx, text):
    ctx.note(text)
    print(f"# {text}", flush=True)


def load_emulated(vm, params="online_policy=movable"):
    vm.sh(f"insmod /hotdimm.ko dyndbg=+p {params} dimms=1G@{HIDDEN:#x}")
    return Dev(vm, 0)


def request(d, size):
    rc, out = d.set_requested(size)
    expect(rc == 0, f"requested_size={size}: {out.strip()}")


def state_path(d, block):
    start = int(d.attr("region_start"), 16)
    return f"{MEMORY}/memory{start // BLOCK + block}/state"


def pin_block(vm, d, block, mib):
    """memhold with `mib` MiB of anonymous memory, pinning pages of `block`."""
    start = int(d.attr("region_start"), 16) + block * BLOCK
    vm.sh(f"memhold --pin {mib} {start:#x} {start + BLOCK:#x} > /tmp/memhold.out 2>&1 & "
          "echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 120), "memhold not ready")
    m = re.search(r"pinned=(\d+)", vm.read("/tmp/memhold.out"))
    expect(m and int(m.group(1)) > 0,
           f"no page of block {block} could be pinned: {vm.read('/tmp/memhold.out').strip()}")
    return int(m.group(1))


def memhold_verify(vm):
    """Verify memhold's data; it then exits and its pins are gone."""
    vm.sh("kill -USR1 $(cat /tmp/memhold.pid)")
    expect(vm.wait_until("grep -q verify /tmp/memhold.out", 120), "memhold did not verify")
    res = vm.read("/tmp/memhold.out")
    expect("verify ok" in res, f"anonymous memory corrupted: {res.splitlines()[-1]}")


def admin_offline(vm, state, limit=None):
    """Start `echo offline > state` in the background; wait until Linux is
    migrating (going-offline)."""
    cmd = f"echo offline > {state}"
    if limit:
        cmd = f"timeout -s TERM {limit} sh -c '{cmd}'"
    vm.sh(f"({cmd}; echo rc=$?) > /tmp/admin.out 2>&1 &")
    expect(vm.wait_until(f"grep -q going-offline {state}", 20),
           f"the administrator's offline is not in progress: {vm.read(state).strip()}")


def admin_result(vm, timeout):
    expect(vm.wait_until("grep -q rc= /tmp/admin.out", timeout),
           "the administrator's offline did not end")
    return vm.read("/tmp/admin.out").strip()


@scenario("race-fill-during-offline")
def fill_during_offline(vm, ctx):
    d = load_emulated(vm)
    request(d, 250 * MiB)
    d.wait_converged(250 * MiB, 120)
    a = hv.check_device(vm, d, None)
    expect(a["blocks"].startswith("Mm"), f"blocks {a['blocks']} (block 1 partly plugged)")
    pinned = pin_block(vm, d, 1, 300)
    state = state_path(d, 1)
    mark = len(vm.dmesg().splitlines())
    admin_offline(vm, state)
    t0 = time.monotonic()
    request(d, 256 * MiB)
    # hotdimm must not touch block 1 while Linux offlines it.
    time.sleep(8 * vm.slow)
    a = d.attrs()
    expect(int(a["plugged_size"]) == 250 * MiB,
           f"hotdimm plugged the holes of a block that is going offline: plugged "
           f"{int(a['plugged_size']) >> 20} MiB, blocks {a['blocks']}")
    expect(vm.read(state).strip() == "going-offline", "the offline ended early")
    # The pins go: the offline completes, then hotdimm fills the holes.
    memhold_verify(vm)
    admin = admin_result(vm, 120)
    expect(admin == "rc=0", f"the administrator's offline failed: {admin}")
    d.wait_converged(256 * MiB, 120)
    a = hv.check_device(vm, d, None)
    expect(a["blocks"][1] == "o", f"block 1 after the offline and the fill: {a['blocks']}")
    note(ctx, f"{pinned} pages pinned; offline done, holes filled "
         f"{time.monotonic() - t0:.1f}s after the request: blocks {a['blocks']}")
    log = "\n".join(vm.dmesg().splitlines()[mark:])
    expect("still in use" not in log and "unplugged page referenced" not in log,
           "page reference errors in the kernel log")
    rc, out = vm.write(state, "online_movable")
    expect(rc == 0, f"online_movable after the fill: {out.strip()}")
    a = hv.check_device(vm, d, None)
    expect(a["blocks"].startswith("MM"), f"blocks {a['blocks']}")
    request(d, 0)
    d.wait_converged(0, 120)


@scenario("race-shrink-during-offline")
def shrink_during_offline(vm, ctx):
    d = load_emulated(vm)
    request(d, 256 * MiB)
    d.wait_converged(256 * MiB, 120)
    pin_block(vm, d, 1, 300)
    state = state_path(d, 1)
    admin_offline(vm, state, limit=15)
    request(d, 250 * MiB)
    admin = admin_result(vm, 60)
    expect(re.search(r"rc=(124|143)", admin), f"the offline was not stuck: {admin}")
    d.wait_converged(250 * MiB, 120)
    a = hv.check_device(vm, d, None)
    note(ctx, f"after the cancelled offline: blocks {a['blocks']}")
    memhold_verify(vm)
    # Whatever holes the blocks have now, their pages' references are
    # right: each block offlines and comes back.
    for b in (1, 0):
        st = state_path(d, b)
        rc, out = vm.write(st, "offline")
        expect(rc == 0, f"offline of block {b} after the cancelled offline: {out.strip()}")
        rc, out = vm.write(st, "online_movable")
        expect(rc == 0, f"online_movable of block {b}: {out.strip()}")
    hv.check_device(vm, d, None)
    request(d, 0)
    d.wait_converged(0, 120)


@scenario("race-offline-during-part-unplug")
def offline_during_part_unplug(vm, ctx):
    """A shrink that takes 63 sub-blocks of an online block, one migration
    each, while an administrator offlines and onlines that block in a
    loop: every sub-block is taken with the block's state read again under
    the hotplug lock, so none is taken from a block that went offline."""
    d = load_emulated(vm)
    request(d, 256 * MiB)
    d.wait_converged(256 * MiB, 120)
    vm.sh("memhold 200 > /tmp/memhold.out 2>&1 & echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 120), "memhold not ready")
    state = state_path(d, 1)
    mark = len(vm.dmesg().splitlines())
    vm.sh(f"(i=0; while [ $i -lt 40 ]; do echo offline > {state}; "
          f"echo online_movable > {state}; i=$((i+1)); done; echo end) "
          "> /tmp/admin.out 2>&1 &")
    request(d, 130 * MiB)
    expect(vm.wait_until("grep -q end /tmp/admin.out", 300),
           "the administrator's loop did not end")
    vm.write(state, "online_movable")
    d.wait_converged(130 * MiB, 180)
    a = hv.check_device(vm, d, None)
    log = "\n".join(vm.dmesg().splitlines()[mark:])
    met = len(re.findall(r"(no longer online|going offline), not unplugging", log))
    waited = len(re.findall(r"waits for hotdimm's sub-block work", log))
    note(ctx, f"130 MiB: blocks {a['blocks']}; a part unplug found its block offline "
         f"{met} time(s), the administrator waited for one {waited} time(s)")
    memhold_verify(vm)
    request(d, 0)
    d.wait_converged(0, 120)


@scenario("race-trim-offline")
def trim_offline(vm, ctx):
    """A shrink of less than a block when the newest block is offline (the
    administrator offlined it): its top sub-blocks are unplugged at the
    transport while it stays offline. Then the same again, racing the
    administrator's online_movable of that block: either order ends with
    the request met and the block online with its holes."""
    d = load_emulated(vm)
    request(d, 256 * MiB)
    d.wait_converged(256 * MiB, 120)
    state = state_path(d, 1)
    rc, out = vm.write(state, "offline")
    expect(rc == 0, f"offline of block 1: {out.strip()}")
    mark = len(vm.dmesg().splitlines())
    request(d, 250 * MiB)
    d.wait_converged(250 * MiB, 120)
    a = hv.check_device(vm, d, None)
    log = "\n".join(vm.dmesg().splitlines()[mark:])
    expect(a["blocks"].startswith("Mp") and "3 sub-blocks unplugged while offline" in log,
           f"block 1 was not trimmed while offline: blocks {a['blocks']}")
    vm.sh(f"(sleep 0.05; echo online_movable > {state}; echo rc=$?) > /tmp/admin.out 2>&1 &")
    request(d, 246 * MiB)
    expect(vm.wait_until("grep -q rc= /tmp/admin.out", 60),
           "the administrator's online did not end")
    admin = vm.read("/tmp/admin.out").strip()
    expect(admin == "rc=0", f"the administrator's online failed: {admin}")
    d.wait_converged(246 * MiB, 120)
    a = hv.check_device(vm, d, None)
    note(ctx, f"trimmed while offline to 250 MiB, then 246 MiB racing the online: "
         f"blocks {a['blocks']}")
    expect(a["blocks"].startswith("Mm") and int(a["offline_size"]) == 0,
           f"block 1 after the online: {a['blocks']}, offline_size {a['offline_size']}")
    request(d, 0)
    d.wait_converged(0, 120)


@scenario("race-258-converges")
def converges_258(vm, ctx):
    vm.sh(tv.INSMOD_MOVABLE)
    d = tv.dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    tv.resize_wait(vm, ctx, 4 * BLOCK)
    tv.wait_guest(vm, d, 4 * BLOCK)
    with tv.HostBusy(vm, ctx) as busy:
        tv.qom_set(vm, 2 * BLOCK)
        expect(tv.poll(lambda: tv.iomem_bytes(vm) <= 2 * BLOCK, 60),
               f"memory did not leave Linux: blocks {d.attr('blocks')}")
        expect(tv.qom_size(vm) == 4 * BLOCK, "the host unplugged memory while busy")
        tv.qom_set(vm, 2 * BLOCK + SUB)
        busy.end()
    ok = tv.poll(lambda: tv.qom_size(vm) == 2 * BLOCK + SUB and
                 int(d.attr("plugged_size")) == 2 * BLOCK + SUB, 150)
    a = d.attrs()
    expect(ok, f"did not converge on 258 MiB: QEMU size {tv.qom_size(vm) >> 20} MiB, "
           f"plugged {int(a['plugged_size']) >> 20} MiB, blocks {a['blocks']}, "
           f"status {a['status']!r}")
    d.wait_converged(2 * BLOCK + SUB, 60)
    tv.check_agree(vm, d, 2 * BLOCK + SUB, base_kb=base)
    note(ctx, f"258 MiB: blocks {d.attr('blocks')}")


class Lane:
    """Administrator actions racing hotdimm's resizes, seeded."""

    # "toggle" offlines an online block and onlines an offline one, so that
    # most actions take effect. Plain "online" is left out: Linux may put
    # the block in a kernel zone, where the kernel's own allocations can
    # keep it from ever going.
    ACTIONS = ("toggle", "toggle", "offline", "online_movable")

    def __init__(self, vm, ctx, d, request_fn, granule, top):
        seed = int(os.environ.get("HOTDIMM_RACE_SEED", "0")) or random.randrange(1, 1 << 30)
        self.rng = random.Random(seed)
        self.vm, self.ctx, self.d = vm, ctx, d
        self.request = request_fn
        self.granule, self.top = granule, top
        self.first = int(d.attr("region_start"), 16) // BLOCK
        # The blocks the requests can reach.
        self.nblocks = min(int(d.attr("region_size")), top) // BLOCK
        note(ctx, f"race lane seed {seed}, {ITERS} iterations")

    def admin_burst(self):
        """Start 1-3 administrator actions on random blocks, in the
        background, each after a random delay of up to 0.3 s."""
        cmds = []
        for _ in range(self.rng.randint(1, 3)):
            b = self.first + self.rng.randrange(self.nblocks)
            act = self.rng.choice(self.ACTIONS)
            delay = self.rng.choice(("0", "0.05", "0.1", "0.3"))
            f = f"{MEMORY}/memory{b}/state"
            if act == "toggle":
                write = (f"case $(cat {f}) in online) a=offline;; *) a=online_movable;; esac; "
                         f"echo $a > {f}")
            else:
                write = f"a={act}; echo $a > {f}"
            cmds.append(f"(sleep {delay}; {write}; echo $a $? >> /tmp/admin.log) "
                        ">/dev/null 2>&1 & echo $! >> /tmp/admin.pids")
        self.vm.sh("; ".join(cmds))

    def settle_admin(self):
        if not self.vm.wait_until(
                "(for p in $(cat /tmp/admin.pids 2>/dev/null); do kill -0 $p 2>/dev/null && "
                "exit 1; done; exit 0)", 120):
            # Where they are stuck, and hotdimm's worker: for the log.
            _, diag = self.vm.run(
                "for p in $(cat /tmp/admin.pids) $(pgrep hotdimm/); do [ -d /proc/$p ] || "
                "continue; echo \"== $p $(cat /proc/$p/comm)\"; cat /proc/$p/stack; done; "
                f"for i in $(seq {self.first} {self.first + self.nblocks - 1}); do "
                f"echo \"memory$i $(cat {MEMORY}/memory$i/state 2>/dev/null)\"; done; "
                f"cat {self.d.path}/blocks {self.d.path}/status", 60)
            self.ctx.note(diag)
            raise hv.Fail("an administrator's action did not end: " +
                          " | ".join(diag.splitlines()[:40]))
        self.vm.sh("rm -f /tmp/admin.pids")

    def run(self):
        slowest = 0.0
        for i in range(ITERS):
            kind = self.rng.choice(("grow", "shrink", "unaligned"))
            target = self.rng.randrange(0, self.top // self.granule + 1) * self.granule
            if kind == "unaligned":
                target = min(self.top, target + self.rng.randrange(1, self.granule) * 4096)
            self.admin_burst()
            t0 = time.monotonic()
            want = self.request(target)
            self.settle_admin()
            self.d.wait_converged(want, 300)
            slowest = max(slowest, time.monotonic() - t0)
            a = hv.check_device(self.vm, self.d, None)
            self.ctx.note(f"{i}: {kind} {target} -> {want >> 20} MiB, blocks {a['blocks']}")
        log = self.vm.sh("cat /tmp/admin.log 2>/dev/null || true").split()
        done = {a: 0 for a in ("offline", "online_movable")}
        refused = dict(done)
        for act, rc in zip(log[::2], log[1::2]):
            (done if rc == "0" else refused)[act] += 1
        expect(sum(done.values()) > 0, f"no administrator action took effect: {log[:20]}")
        # How often the two sides met (hotdimm's debug lines).
        kmsg = self.vm.dmesg()
        met = {k: len(re.findall(p, kmsg)) for k, p in (
            ("kernel waited for hotdimm", r"waits for hotdimm's sub-block work"),
            ("hotdimm waited for the kernel", r"waiting for the kernel's online or offline"),
            ("block offlined under a part unplug",
             r"(no longer online|going offline), not unplugging"))}
        note(self.ctx, f"race lane: {ITERS} iterations converged, slowest {slowest:.1f}s; "
             f"administrator actions done {done}, refused or no-op {refused}; met: {met}")


def hold_data(vm):
    """128 MiB of anonymous memory and a 32 MiB tmpfs file, checksummed."""
    vm.sh("memhold 128 > /tmp/memhold.out 2>&1 & echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 120), "memhold not ready")
    vm.sh("mkdir -p /mnt/r && mount -t tmpfs -o size=64M tmpfs /mnt/r && "
          "dd if=/dev/urandom of=/mnt/r/data bs=1M count=32 2>/dev/null && "
          "md5sum /mnt/r/data > /tmp/r.md5", 120)


def check_data(vm):
    memhold_verify(vm)
    rc, out = vm.run("md5sum -c /tmp/r.md5", 120)
    expect(rc == 0, f"tmpfs data corrupted: {out.strip()}")


def online_all(vm, d):
    """Online what the administrator left offline, so that the reset's
    rmmod can take every block."""
    start = int(d.attr("region_start"), 16) // BLOCK
    n = int(d.attr("region_size")) // BLOCK
    vm.run(f"for i in $(seq {start} {start + n - 1}); do f={MEMORY}/memory$i/state; "
           "[ -e $f ] && grep -q offline $f && echo online_movable > $f; done; true")


@scenario("race-lane-emulated")
def lane_emulated(vm, ctx):
    d = load_emulated(vm)
    request(d, 512 * MiB)
    d.wait_converged(512 * MiB, 120)
    hold_data(vm)

    def req(size):
        request(d, size)
        return size - size % SUB

    Lane(vm, ctx, d, req, SUB, GiB).run()
    check_data(vm)
    online_all(vm, d)


@scenario("race-lane-virtio")
def lane_virtio(vm, ctx):
    vm.sh(tv.INSMOD_MOVABLE)
    d = tv.dev_for(vm, "vm0")
    tv.resize_wait(vm, ctx, 512 * MiB)
    tv.wait_guest(vm, d, 512 * MiB)
    hold_data(vm)

    def req(size):
        # QEMU takes only multiples of its block size.
        size -= size % SUB
        tv.qom_set(vm, size)
        return size

    Lane(vm, ctx, d, req, SUB, GiB).run()
    d.wait_converged(tv.qom_size(vm), 60)
    check_data(vm)
    online_all(vm, d)


def reset(vm):
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/memhold.* "
           "/tmp/admin.*; umount /mnt/r 2>/dev/null; true")
    hv.unload_hotdimm(vm)


def reset_virtio(vm):
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/memhold.* "
           "/tmp/admin.*; umount /mnt/r 2>/dev/null; true")
    tv.make_reset(("vm0",))(vm)


EMU = dict(mem="5G", append="mem=1G")
VIRT = dict(mem="1G", maxmem="9G", qemu_args=[
    "-object", "memory-backend-ram,id=vmem0,size=8G",
    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"])

GROUPS = [
    Group("race-emulated", [fill_during_offline, shrink_during_offline,
                            offline_during_part_unplug, trim_offline,
                            lane_emulated],
          vm=EMU, needs=("module", "memhold"), reset=reset),
    Group("race-virtio", [converges_258, lane_virtio], vm=VIRT,
          needs=("module", "memhold"), reset=reset_virtio),
]
