# SPDX-License-Identifier: GPL-2.0
"""util-linux's lsmem and chmem against hotdimm's sysfs (issue 13).

One boot per kernel: -m 4G with mem=1G and one emulated 1 GiB DIMM at
1 GiB (blocks 8-15), so every memory block of the device is one lsmem row.
After every step `lsmem -a -r -o BLOCK,STATE,ZONES`, `lsmem -a -J` and
lsmem's byte totals must say what hotdimm's `blocks` and size attributes
say: '-' no memoryN block (no lsmem row), 'o'/'p' offline, 'M'/'m' online
in zone Movable, 'K'/'k' online in a kernel zone. lsmem counts whole
blocks: a partly plugged block is one 128 MiB row, while MemTotal and
plugged_size count only its plugged part.

  utillinux-chmem  `chmem -d -b N` (an administrator offlines a block):
                   hotdimm shows 'o', offline_size grows, MemTotal drops,
                   status stays ok, and hotdimm leaves it offline;
                   `chmem -e -z Movable -b N` brings it back ('M'); offlined again, it
                   is the first block a shrink gives back, and the next grow
                   plugs it back online; a partly plugged block offlined
                   with chmem shows 'p' and comes back as 'm'; a grow fills
                   the holes of an offline block, which stays offline ('o')
  utillinux-zones  movable_ratio=0 puts new blocks in a kernel zone: lsmem
                   shows Normal for 'K' and 'k' and Movable for 'M'. Last:
                   kernel blocks may stay (README), so the VM is not reused.
"""

import json

import hotdimm_vm as hv
from hotdimm_vm import Group, scenario, expect, Dev, MiB

BLOCK = 128 * MiB
START = 0x40000000
FIRST = START // BLOCK          # memory8
DEV = f"{hv.PLATFORM}/hotdimm.0"


def lsmem(vm):
    """{block: (state, zones)} from lsmem's raw and JSON output (checked to
    agree), and the (online, offline) byte totals of its summary."""
    raw = {}
    for line in vm.sh("lsmem -a -r -n -o BLOCK,STATE,ZONES").splitlines():
        b, state, zones = (line.split() + ["", ""])[:3]
        raw[int(b)] = (state, zones)
    js = {}
    for row in json.loads(vm.sh("lsmem -a -J -o BLOCK,STATE,ZONES"))["memory"]:
        js[int(row["block"])] = (row["state"], row["zones"] or "")
    expect(raw == js, f"lsmem raw and --json disagree: {raw} vs {js}")
    tot = {}
    for line in vm.sh("lsmem -b --summary=only").splitlines():
        k, _, v = line.partition(":")
        if k.strip().startswith("Total"):
            tot[k.split()[1]] = int(v)
    return raw, (tot["online"], tot["offline"])


def compare(vm, ctx, label, want=None):
    """hotdimm's blocks and sizes against lsmem; returns the attrs."""
    a = hv.check_device(vm, Dev(vm, 0), None, BLOCK)
    blocks = a["blocks"]
    if want is not None:
        expect(blocks == want, f"{label}: blocks {blocks}, want {want}")
    rows, (online, offline) = lsmem(vm)
    for i, c in enumerate(blocks):
        idx = FIRST + i
        got = rows.get(idx)
        if c == "-":
            expect(got is None, f"{label}: block {i} is '-', lsmem shows memory{idx} {got}")
            continue
        expect(got is not None, f"{label}: block {i} is '{c}', lsmem has no memory{idx}")
        state, zones = got
        if c in "op":
            expect(state == "offline", f"{label}: block {i} is '{c}', lsmem: {state}")
        elif c in "Mm":
            expect(state == "online" and zones == "Movable",
                   f"{label}: block {i} is '{c}', lsmem: {state} {zones}")
        else:
            expect(state == "online" and zones in ("Normal", "DMA32"),
                   f"{label}: block {i} is '{c}', lsmem: {state} {zones}")
    # Only hotdimm's blocks can be offline; lsmem counts them whole.
    n_off = sum(c in "op" for c in blocks)
    expect(offline == n_off * BLOCK, f"{label}: lsmem offline total {offline >> 20} MiB, "
           f"hotdimm has {n_off} offline blocks")
    if "p" not in blocks:
        expect(int(a["offline_size"]) == offline,
               f"{label}: offline_size {int(a['offline_size']) >> 20} MiB, "
               f"lsmem {offline >> 20} MiB")
    n_on = sum(c in "KMkm" for c in blocks)
    expect(online == BOOT_ONLINE[vm] + n_on * BLOCK,
           f"{label}: lsmem online total {online >> 20} MiB, want boot + {n_on} blocks")
    ctx.note(f"{label}: blocks {blocks}, lsmem " + " ".join(
        f"{b}:{s}/{z}" for b, (s, z) in sorted(rows.items()) if b >= FIRST))
    return a


BOOT_ONLINE = {}


def setup(vm, ratio=None):
    if vm not in BOOT_ONLINE:
        BOOT_ONLINE[vm] = lsmem(vm)[1][0]
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{START:#x}")
    if ratio is not None:
        vm.sh(f"echo {ratio} > {DEV}/movable_ratio")
    return Dev(vm, 0), vm.meminfo()["MemTotal"]


def resize(vm, dev, size):
    dev.set_requested(size)
    dev.wait_converged(size, 120)


def chmem(vm, args):
    rc, out = vm.run(f"chmem -v {args}", 120)
    expect(rc == 0, f"chmem {args} exited {rc}: {out.strip()}")
    return out.strip()


@scenario("utillinux-chmem")
def sc_chmem(vm, ctx):
    dev, base = setup(vm)
    resize(vm, dev, 512 * MiB)
    compare(vm, ctx, "512M", "MMMM----")
    ctx.note(chmem(vm, f"-d -b {FIRST + 2}"))
    a = compare(vm, ctx, "chmem -d", "MMoM----")
    expect(int(a["offline_size"]) == BLOCK, f"offline_size {a['offline_size']}")
    expect(a["status"] == "ok", f"status {a['status']!r} after chmem -d")
    expect(int(a["plugged_size"]) == 512 * MiB, f"plugged_size {a['plugged_size']}")
    hv.check_memtotal(vm, base, 384 * MiB)
    vm.sh("sleep 3")
    compare(vm, ctx, "3 s after chmem -d", "MMoM----")   # hotdimm leaves it offline

    ctx.note(chmem(vm, f"-e -z Movable -b {FIRST + 2}"))
    compare(vm, ctx, "chmem -e", "MMMM----")
    hv.check_memtotal(vm, base, 512 * MiB)

    # Offlined again: a shrink gives that block back first, a grow plugs
    # it back (online).
    chmem(vm, f"-d -b {FIRST + 2}")
    resize(vm, dev, 384 * MiB)
    a = compare(vm, ctx, "shrink to 384M with block 2 offline", "MM-M----")
    expect(int(a["offline_size"]) == 0, f"offline_size {a['offline_size']} after the shrink")
    hv.check_memtotal(vm, base, 384 * MiB)
    resize(vm, dev, 512 * MiB)
    compare(vm, ctx, "grow to 512M", "MMMM----")
    hv.check_memtotal(vm, base, 512 * MiB)

    # A partly plugged block.
    resize(vm, dev, 522 * MiB)
    compare(vm, ctx, "522M", "MMMMm---")
    chmem(vm, f"-d -b {FIRST + 4}")
    a = compare(vm, ctx, "chmem -d of the partly plugged block", "MMMMp---")
    expect(int(a["offline_size"]) == 10 * MiB, f"offline_size {a['offline_size']}")
    hv.check_memtotal(vm, base, 512 * MiB)
    chmem(vm, f"-e -z Movable -b {FIRST + 4}")
    compare(vm, ctx, "chmem -e of the partly plugged block", "MMMMm---")
    hv.check_memtotal(vm, base, 522 * MiB)
    # Growing fills the holes of an offline block, which stays offline.
    chmem(vm, f"-d -b {FIRST + 4}")
    resize(vm, dev, 650 * MiB)
    compare(vm, ctx, "grow to 650M with the partly plugged block offline", "MMMMom--")
    hv.check_memtotal(vm, base, 522 * MiB)
    resize(vm, dev, 0)
    compare(vm, ctx, "0", "--------")


@scenario("utillinux-zones")
def sc_zones(vm, ctx):
    dev, base = setup(vm)
    resize(vm, dev, 266 * MiB)
    compare(vm, ctx, "266M", "MMm-----")
    vm.sh(f"echo 0 > {DEV}/movable_ratio")
    resize(vm, dev, 532 * MiB)
    compare(vm, ctx, "532M at ratio 0", "MMMKk---")
    hv.check_memtotal(vm, base, 532 * MiB)
    # Kernel blocks may not come back (README): this guest is not reused.
    bad = vm.check_log()
    vm.stop()
    expect(not bad, f"kernel log: {bad[0] if bad else ''}")


def reset(vm):
    if vm.alive:
        hv.unload_hotdimm(vm)


GROUPS = [
    Group("utillinux", [sc_chmem, sc_zones],
          vm=dict(mem="4G", append="mem=1G"), reset=reset),
]
