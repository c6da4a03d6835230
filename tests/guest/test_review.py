# SPDX-License-Identifier: GPL-2.0
"""Defects a code review found, each shown in a real guest.

  review-readd-plugged   A block that left Linux while the host answered
                         BUSY to its unplug stays plugged at the host; when
                         the host asks for the memory again, hotdimm adds
                         that block back to Linux (the old code counted it
                         as plugged, reported "ok" and left it unused).
  review-offline-lock    The 10 s offline watchdog bounds migration only:
                         while an administrator's offline of another block
                         holds the kernel's hotplug lock for 25 s, hotdimm's
                         removal waits for the lock and then succeeds at
                         the first attempt (the old code's watchdog fired
                         during the wait and failed it with ETIMEDOUT).

The administrator's offline is made to take long the way real pinned pages
do it: memhold --pin vmsplice()s pages of the block into a pipe it never
reads, so their migration fails and offline_pages() retries until the
offlining task gets a signal (here from timeout(1) after 25 s).
"""
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hotdimm_vm as hv  # noqa: E402
from hotdimm_vm import Group, MiB, expect, scenario  # noqa: E402
import test_virtio as tv  # noqa: E402

BLOCK = 128 * MiB
ADMIN_SECONDS = 25
ADMIN_END = "hotdimm-test: admin offline ended"
WATCHDOG_SECONDS = 10    # HOTDIMM_OFFLINE_TIMEOUT


def stamp(line):
    """The kernel log time of a line ("[  325.401510] ..."), or None."""
    m = re.match(r"\s*\[\s*(\d+\.\d+)\]", line)
    return float(m.group(1)) if m else None


def plugged_to(vm, ctx, size):
    """Load hotdimm (movable blocks) and plug @size; (device, base MemTotal)."""
    vm.sh(tv.INSMOD_MOVABLE)
    dev = tv.dev_for(vm, "vm0")
    base = vm.meminfo()["MemTotal"]
    tv.resize_wait(vm, ctx, size)
    tv.wait_guest(vm, dev, size)
    return dev, base


@scenario("review-readd-plugged")
def readd_plugged(vm, ctx):
    dev, base = plugged_to(vm, ctx, 4 * BLOCK)
    with tv.HostBusy(vm, ctx):
        tv.qom_set(vm, 2 * BLOCK)
        expect(tv.poll(lambda: tv.iomem_bytes(vm) <= 2 * BLOCK, 60),
               f"memory did not leave Linux: blocks {dev.attr('blocks')}")
        expect(tv.qom_size(vm) == 4 * BLOCK, "the host unplugged memory while busy")
        # The host wants the memory again before it could take it back.
        tv.qom_set(vm, 4 * BLOCK)
        t0 = time.monotonic()
        back = tv.poll(lambda: tv.iomem_bytes(vm) == 4 * BLOCK, 30)
        a = dev.attrs()
        expect(back, f"memory still plugged at the host stayed out of Linux: "
               f"{tv.iomem_bytes(vm) >> 20} of 512 MiB in Linux, blocks {a['blocks']}, "
               f"status {a['status']!r}")
        ctx.note(f"# re-added while the host was busy in {time.monotonic() - t0:.1f}s")
        expect(tv.qom_size(vm) == 4 * BLOCK, "the host size changed while busy")
    tv.wait_guest(vm, dev, 4 * BLOCK)
    tv.check_agree(vm, dev, 4 * BLOCK, base_kb=base)


@scenario("review-offline-lock")
def offline_lock(vm, ctx):
    # The pinned data goes into the first block (the only movable memory
    # then); the second, which hotdimm removes, stays empty, so that its
    # migration is short even on a slow machine.
    dev, base = plugged_to(vm, ctx, BLOCK)
    start = int(dev.attr("region_start"), 16)
    first = start // BLOCK
    vm.sh(f"memhold --pin 64 {start:#x} {start + BLOCK:#x} > /tmp/memhold.out 2>&1 & "
          "echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 120), "memhold not ready")
    tv.resize_wait(vm, ctx, 2 * BLOCK)
    tv.wait_guest(vm, dev, 2 * BLOCK)
    m = re.search(r"pinned=(\d+)", vm.read("/tmp/memhold.out"))
    expect(m and int(m.group(1)) > 0,
           f"no page of block {first} could be pinned: {vm.read('/tmp/memhold.out').strip()}")
    ctx.note(f"pinned {m.group(1)} pages in memory{first}")

    mark = tv.dmesg_len(vm)
    state = f"{hv.MEMORY}/memory{first}/state"
    # The end of the administrator's offline goes into the kernel log, so
    # that hotdimm's attempt can be timed from it on the kernel's clock.
    vm.sh(f"(timeout -s TERM {ADMIN_SECONDS} sh -c 'echo offline > {state}'; rc=$?; "
          f"echo '{ADMIN_END}' > /dev/kmsg; echo rc=$rc) > /tmp/admin.out 2>&1 &")
    expect(vm.wait_until(f"grep -q going-offline {state}", 10),
           f"the administrator's offline of memory{first} is not in progress: "
           f"{vm.read(state).strip()}")
    t0 = time.monotonic()
    # hotdimm removes the newest block; it needs the lock the offline holds.
    tv.qom_set(vm, BLOCK)
    time.sleep(15)
    waited = tv.iomem_bytes(vm)
    expect(waited == 2 * BLOCK,
           f"hotdimm removed memory while the administrator held the hotplug lock "
           f"({waited >> 20} MiB in Linux): the premise of this test does not hold")
    expect(vm.wait_until("grep -q rc= /tmp/admin.out", ADMIN_SECONDS + 20),
           "the administrator's offline did not end")
    admin = vm.read("/tmp/admin.out").strip()
    # Killed by timeout(1): 124 (coreutils) or 143, SIGTERM (busybox).
    expect(re.search(r"rc=(124|143)", admin),
           f"the administrator's offline was not stuck: {admin}")
    done = tv.poll(lambda: tv.iomem_bytes(vm) == BLOCK, 60)
    dt = time.monotonic() - t0
    log = tv.dmesg_since(vm, mark)
    ends = [stamp(ln) for ln in tv.grep_log(log, ADMIN_END)]
    expect(ends and ends[0] is not None, f"no '{ADMIN_END}' line in the kernel log")
    # hotdimm got the lock when the administrator's offline ended. A
    # watchdog that started only then fires 10 s later at the earliest: a
    # timeout sooner than that counted the wait for the lock. (One that
    # late bounded hotdimm's own migration: the administrator's offline
    # moved block 0's unpinned pages into block 1, and on a slow kernel
    # moving them back can take that long; the retry then removes it.)
    timed_out = tv.grep_log(log, r"offline of block \d+ failed \(-110\)")
    early = [ln for ln in timed_out if stamp(ln) - ends[0] < WATCHDOG_SECONDS - 1]
    expect(not early, "the offline watchdog counted the wait for the hotplug lock: "
           f"{early[0].strip() if early else ''} ({ADMIN_END} at {ends[0]:.1f})")
    if timed_out:
        ctx.note(f"# the watchdog bounded hotdimm's own migration "
                 f"{stamp(timed_out[0]) - ends[0]:.1f}s after the lock was free")
    expect(done, f"the removal did not complete after the lock was free: "
           f"blocks {dev.attr('blocks')}, status {dev.attr('status')!r}")
    ctx.note(f"# removal done {dt:.1f}s after the request ({ADMIN_SECONDS}s of it waiting "
             "for the administrator's offline)")
    expect(vm.read(state).strip() == "online",
           f"memory{first} after the cancelled offline: {vm.read(state).strip()}")
    vm.sh("kill -USR1 $(cat /tmp/memhold.pid)")
    expect(vm.wait_until("grep -q verify /tmp/memhold.out", 120), "memhold did not verify")
    res = vm.read("/tmp/memhold.out")
    expect("verify ok" in res, f"anonymous memory corrupted: {res.splitlines()[-1]}")
    tv.wait_guest(vm, dev, BLOCK)
    tv.check_agree(vm, dev, BLOCK, base_kb=base)


def reset(vm):
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/memhold.*")
    tv.make_reset(("vm0",))(vm)


GROUPS = [
    Group("review", [readd_plugged, offline_lock], vm=tv.VM_ONE,
          needs=("module", "memhold"), reset=reset),
]
