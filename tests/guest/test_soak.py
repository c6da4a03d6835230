# SPDX-License-Identifier: GPL-2.0
"""Soak: random resizes of a guest under load, per transport.

    HOTDIMM_SOAK_RESIZES=N   resizes per transport and kernel (default 12:
                             the short form that `make check` runs;
                             `make soak` runs 1000)
    HOTDIMM_SOAK_SEED=S      seed of the random sequence (default: from the
                             clock); printed, so a run can be repeated

The guest holds data the whole time: two memhold processes with patterned
anonymous memory, a tmpfs with files and their checksums, and a writer that
keeps rewriting a file and checking it. Each step is one of:

  - a resize: block-aligned, unaligned (device-block multiple) or an
    extreme (0 or the whole region); waited for until plugged_size equals
    the request and status is "ok", or (one step in four) replaced by the
    next request while it is still converging;
  - an administrator offlining a random hotdimm block (it may refuse) and
    later onlining it again as movable;
  - in the middle of the run: rmmod and insmod of hotdimm with the data
    held (the module takes all memory out and follows the request again).

After the last step everything is verified: every byte held (memhold
patterns, tmpfs checksums, the writer's rounds), sysfs, the memory blocks,
/proc/iomem, MemTotal (and QEMU's size) agree, no status says "broken", and
no kernel warning (the harness checks the log). hotdimm runs with
online_policy=movable here, so that every shrink and the reload can
complete with the data held; kernel-zone blocks pinned by the kernel are
the subject of the sub-block tests.

Each transport prints one line
"# soak <transport> seed=S resizes=N time=T verified=B" per kernel.
"""
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hotdimm_vm as hv  # noqa: E402
from hotdimm_vm import Dev, Fail, GiB, Group, MiB, expect, scenario  # noqa: E402
import test_virtio as tv  # noqa: E402

BLOCK = 128 * MiB
SB = 2 * MiB
HIDDEN = 0x100000000           # emulated DIMM: RAM above 4 GiB (-m 7G), hidden by mem=1G
EMU_SIZE = 4 * GiB
VIRTIO_SIZE = 8 * GiB
HOLD_MIB = 96                  # per memhold process
TMPFS_FILES = 32               # of 1 MiB each
WRITER_MIB = 4
CONVERGE_S = 240


def resizes():
    return int(os.environ.get("HOTDIMM_SOAK_RESIZES", "12"))


def seed():
    s = os.environ.get("HOTDIMM_SOAK_SEED")
    return int(s) if s else int(time.time() * 1000) % 1000000007


def out(text):
    print(f"# {text}", flush=True)


class Load:
    """The data the guest holds while it is resized."""

    def start(self, vm, start, end):
        """Start the load; its anonymous memory and files prefer the device's
        movable blocks [start, end) that are plugged now."""
        for i in (0, 1):
            vm.sh(f"memhold {HOLD_MIB} {start:#x} {end:#x} > /tmp/soak-hold{i}.out 2>&1 & "
                  f"echo $! > /tmp/soak-hold{i}.pid")
        vm.sh("mkdir -p /mnt/soak && mount -t tmpfs -o size=256M tmpfs /mnt/soak && "
              f"for i in $(seq {TMPFS_FILES}); do "
              "dd if=/dev/urandom of=/mnt/soak/f$i bs=1M count=1 2>/dev/null; done && "
              "cd /mnt/soak && md5sum f* > /tmp/soak.md5", 300)
        # The writer: rewrite, sync, re-read and compare, forever.
        vm.sh("cat > /tmp/soak-writer.sh <<'EOF'\n"
              "n=0\n"
              "while :; do\n"
              f"  dd if=/dev/urandom of=/mnt/soak/w bs=1M count={WRITER_MIB} 2>/dev/null\n"
              "  a=$(md5sum < /mnt/soak/w)\n"
              "  sync; echo 1 > /proc/sys/vm/drop_caches\n"
              "  b=$(md5sum < /mnt/soak/w)\n"
              "  [ \"$a\" = \"$b\" ] || echo \"round $n: $a != $b\" >> /tmp/soak-writer.bad\n"
              "  n=$((n+1)); echo $n > /tmp/soak-writer.rounds\n"
              "  sleep 1\n"
              "done\n"
              "EOF\n"
              "sh /tmp/soak-writer.sh > /dev/null 2>&1 & echo $! > /tmp/soak-writer.pid")
        inrange = 0
        for i in (0, 1):
            expect(vm.wait_until(f"grep -q ready /tmp/soak-hold{i}.out", 120),
                   f"memhold {i} not ready")
            m = re.search(r"inrange=(\d+)", vm.read(f"/tmp/soak-hold{i}.out"))
            inrange += int(m.group(1)) if m else 0
        return inrange * 4096

    def verify(self, vm):
        """Check everything held; returns the bytes verified."""
        vm.sh("kill $(cat /tmp/soak-writer.pid)")
        rounds = int(vm.read("/tmp/soak-writer.rounds").strip() or 0)
        rc, bad = vm.run("cat /tmp/soak-writer.bad 2>/dev/null")
        expect(not bad.strip(), f"the writer saw corrupted data: {bad.strip()[:300]}")
        expect(rounds > 0, "the writer never completed a round")
        for i in (0, 1):
            vm.sh(f"kill -USR1 $(cat /tmp/soak-hold{i}.pid)")
        for i in (0, 1):
            expect(vm.wait_until(f"grep -q verify /tmp/soak-hold{i}.out", 180),
                   f"memhold {i} did not verify")
            res = vm.read(f"/tmp/soak-hold{i}.out")
            expect("verify ok" in res, f"memhold {i}: {res.strip().splitlines()[-1]}")
        rc, res = vm.run("cd /mnt/soak && md5sum -c /tmp/soak.md5", 300)
        expect(rc == 0, f"tmpfs files corrupted: {res.strip()[-300:]}")
        return (2 * HOLD_MIB + TMPFS_FILES + rounds * WRITER_MIB) * MiB


class Target:
    """How a transport is loaded and resized."""

    def __init__(self, vm, virtio):
        self.vm, self.virtio = vm, virtio
        self.size = VIRTIO_SIZE if virtio else EMU_SIZE
        self.dev = None

    def load(self):
        if self.virtio:
            self.vm.sh(tv.INSMOD_MOVABLE)
            self.dev = tv.dev_for(self.vm, "vm0")
        else:
            self.vm.sh(f"{tv.INSMOD_MOVABLE} dimms={EMU_SIZE >> 20}M@{HIDDEN:#x}")
            self.dev = Dev(self.vm, hv.devices(self.vm)[0])

    def request(self, size):
        if self.virtio:
            tv.qom_set(self.vm, size)
        else:
            rc, res = self.dev.set_requested(size)
            expect(rc == 0, f"requested_size={size}: {res.strip()}")

    def converged(self, size, timeout):
        p = self.dev.path
        return self.vm.wait_until(f'[ "$(cat {p}/plugged_size)" = "{int(size)}" ] && '
                                  f'grep -q "^ok" {p}/status', timeout, interval=0.3)

    def agree(self, base):
        a = hv.check_device(self.vm, self.dev, None, BLOCK)
        expect(not a["status"].startswith("broken"), f"status {a['status']!r}")
        if self.virtio:
            q = tv.qom_size(self.vm)
            expect(q == int(a["plugged_size"]),
                   f"QMP size {q} != plugged_size {a['plugged_size']}")
        hv.check_memtotal(self.vm, base, int(a["kernel_size"]) + int(a["movable_size"]))
        return a


def pick_size(rng, limit):
    kind = rng.random()
    if kind < 0.15:
        return rng.choice((0, limit))
    if kind < 0.55:
        return rng.randrange(0, limit // BLOCK + 1) * BLOCK
    return rng.randrange(0, limit // SB + 1) * SB


def admin_toggle(vm, dev, rng, offlined):
    """Offline a random online block of the device, or online one we offlined."""
    if offlined and rng.random() < 0.6:
        blk = offlined.pop()
        vm.run(f"echo online_movable > {hv.MEMORY}/memory{blk}/state")
        return f"online memory{blk}"
    start = int(dev.attr("region_start"), 16)
    blocks = dev.attr("blocks").strip()
    online = [i for i, c in enumerate(blocks) if c in "MK"]
    if not online:
        return "no online block"
    blk = start // BLOCK + rng.choice(online)
    rc, _ = vm.run(f"echo offline > {hv.MEMORY}/memory{blk}/state", 120)
    if rc == 0:
        offlined.append(blk)
    return f"offline memory{blk}: {'ok' if rc == 0 else 'refused'}"


def soak(vm, ctx, virtio):
    s, n = seed(), resizes()
    rng = random.Random(s)
    name = "virtio-mem" if virtio else "emulated"
    out(f"soak {name} {ctx.kver}: seed={s} resizes={n} "
        f"(repeat with HOTDIMM_SOAK_SEED={s} HOTDIMM_SOAK_RESIZES={n})")
    ctx.note(f"seed {s}, {n} resizes")
    base = vm.meminfo()["MemTotal"]
    t = Target(vm, virtio)
    t.load()
    # The data starts out in the device's memory: plug 2 GiB first.
    t.request(2 * GiB)
    expect(t.converged(2 * GiB, CONVERGE_S), "first plug of 2 GiB not reached")
    start = int(t.dev.attr("region_start"), 16)
    load = Load()
    held = load.start(vm, start, start + t.size)
    ctx.note(f"load started: {held >> 20} MiB of the anonymous memory in the device")
    offlined = []
    t0 = time.monotonic()
    done = waits = 0
    slowest = 0.0
    while done < n:
        if done == n // 2 and done:
            # Reload with the data held: the data leaves the device (a
            # shrink to 0, which retries busy blocks for as long as it
            # takes; rmmod itself gives each block only a few attempts and
            # is tested with memory plugged elsewhere), then comes back.
            for blk in offlined:
                vm.run(f"echo online_movable > {hv.MEMORY}/memory{blk}/state")
            offlined.clear()
            t.request(0)
            expect(t.converged(0, CONVERGE_S), f"step {done}: shrink to 0 before the "
                   f"reload not done: blocks {t.dev.attr('blocks')}, "
                   f"status {t.dev.attr('status')!r}")
            hv.unload_hotdimm(vm)
            expect(not vm.iomem(hv.HOTDIMM_RES), "hotdimm memory left after rmmod")
            t.load()
            ctx.note(f"step {done}: reloaded")
        if rng.random() < 0.1:
            ctx.note(f"step {done}: {admin_toggle(vm, t.dev, rng, offlined)}")
        size = pick_size(rng, t.size)
        t.request(size)
        done += 1
        if rng.random() < 0.25:
            time.sleep(rng.random())
            ctx.note(f"step {done}: {size >> 20} MiB, not waited for")
            continue
        t1 = time.monotonic()
        # Blocks an administrator offlined count as plugged (and stay
        # offline) or are the first to go: the request converges anyway.
        ok = t.converged(size, CONVERGE_S)
        dt = time.monotonic() - t1
        slowest = max(slowest, dt)
        waits += 1
        a = t.dev.attrs()
        ctx.note(f"step {done}: {size >> 20} MiB in {dt:.1f}s: plugged "
                 f"{int(a['plugged_size']) >> 20} MiB, {a['blocks']}, {a['status']!r}")
        if not ok:
            raise Fail(f"step {done} (seed {s}): request of {size} bytes not reached in "
                       f"{CONVERGE_S}s: plugged {a['plugged_size']}, blocks {a['blocks']}, "
                       f"status {a['status']!r}")
    for blk in offlined:
        vm.run(f"echo online_movable > {hv.MEMORY}/memory{blk}/state")
    size = pick_size(rng, t.size)
    t.request(size)
    expect(t.converged(size, CONVERGE_S), f"final request of {size} bytes not reached")
    elapsed = time.monotonic() - t0
    t.agree(base)
    verified = load.verify(vm)
    out(f"soak {name} {ctx.kver}: seed={s} resizes={done} time={elapsed:.0f}s "
        f"waited={waits} slowest={slowest:.1f}s verified={verified >> 20}MiB "
        f"(anonymous memory in the device at the start: {held >> 20}MiB)")
    expect(held > 0, "none of the held memory was in the device: the soak moved no data")


@scenario("soak-virtio")
def soak_virtio(vm, ctx):
    soak(vm, ctx, True)


@scenario("soak-emulated")
def soak_emulated(vm, ctx):
    soak(vm, ctx, False)


def stop_load(vm):
    vm.run("kill $(cat /tmp/soak-writer.pid /tmp/soak-hold*.pid 2>/dev/null) 2>/dev/null; "
           "sleep 1; umount /mnt/soak 2>/dev/null; rm -f /tmp/soak*")


def reset_virtio(vm):
    stop_load(vm)
    tv.make_reset(("vm0",))(vm)


def reset_emulated(vm):
    stop_load(vm)
    hv.unload_hotdimm(vm)


# The harness kills a VM after hard_timeout seconds: a long soak needs more
# than the default (a resize took up to 160 s on a loaded machine).
HARD_TIMEOUT = 1800 + 60 * resizes()

GROUPS = [
    Group("soak-virtio", [soak_virtio], vm=dict(tv.VM_ONE, hard_timeout=HARD_TIMEOUT),
          needs=("module", "memhold"), reset=reset_virtio),
    Group("soak-emulated", [soak_emulated],
          vm=dict(mem="7G", append="mem=1G", hard_timeout=HARD_TIMEOUT),
          needs=("module", "memhold"), reset=reset_emulated),
]
