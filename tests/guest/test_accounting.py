# SPDX-License-Identifier: GPL-2.0
"""Guest scenarios for the per-device auto-movable accounting and the
zone-steered onlining (issue 4).

Layout: QEMU `-machine pc -m 11G` puts 3 GiB of RAM below 4 GiB and 8 GiB at
0x100000000..0x300000000; the kernel command line `mem=1G` hides everything
above 1 GiB, so the guest boots with 1 GiB and hotdimm is loaded with
`dimms=8G@0x100000000` (one emulated device, 64 blocks of 128 MiB).

The expected split is computed from the guest's own numbers, independently
of the module: P = present pages of the kernel zones (DMA, DMA32, Normal) in
/proc/zoneinfo before anything is plugged; then block by block, a block goes
to ZONE_MOVABLE iff
    dev_movable + block <= ratio * (P + dev_kernel) / 100
(the device's own kernel memory backs more movable memory), else to a kernel
zone. The result is compared with the device's `blocks`, kernel_size,
movable_size, with /proc/zoneinfo (Movable and kernel zones grow by exactly
movable_size and kernel_size), with MemTotal, and with every block's
/sys/devices/system/memory/memoryN/state and valid_zones (an online block
names exactly its zone: Movable for M, Normal for K). The module's debug
line per decision ("block N: zone ... boot kernel P ...") must agree too.

Unplug under load plugs the largest size the default ratio places entirely
in ZONE_MOVABLE (3 GiB in the 1 GiB guest): that memory must all come back.
Beyond it (e.g. 4 GiB: 2 kernel blocks) the kernel allocates slab and other
unmovable data in the hot-added ZONE_NORMAL blocks, and Linux cannot offline
them; that is the trade-off the ratio controls, not something to test for.

Groups (one boot each; the reset reboots when memory stays in a kernel zone
after rmmod, which Linux may legitimately refuse to give back):
  acct                     mem=1G: default split, ratio 0, policies, runtime
                           ratio changes, administrator actions, shrink
                           order, unplug under load
  acct-online              + memhp_default_state=online
  acct-online-automovable  + memhp_default_state=online
                             memory_hotplug.online_policy=auto-movable
  acct-online-movable      + memhp_default_state=online_movable (policy
                           "system" follows the kernel's own choice)
"""

import re
import time

from hotdimm_vm import (GiB, MiB, PARAMS, Dev, Fail, Group, HOTDIMM_RES, expect,
                        hotdimm_loaded, scenario)

BS = 128 * MiB
PAGE = 4096
BPAGES = BS // PAGE
START = 0x100000000
SIZE = 8 * GiB
NBLK = SIZE // BS
FIRST_MEM = START // BS          # memoryN index of the device's block 0
DEV = "/sys/bus/platform/devices/hotdimm.0"
MEMORY = "/sys/devices/system/memory"
CONVERGE_TIMEOUT = 300
KERNEL_ZONES = ("DMA", "DMA32", "Normal")

DECISION_RE = re.compile(
    r"hotdimm hotdimm\.0: block (\d+): zone (movable|kernel|system's choice) "
    r"\(policy (\S+), ratio (\d+)%: boot kernel (\d+) cma (\d+) other movable (\d+) "
    r"others need (\d+); device kernel (\d+) movable (\d+); pages\)")
REMOVED_RE = re.compile(r"hotdimm hotdimm\.0: block (\d+) offlined and removed")
UNPLUG_FAIL_RE = re.compile(r"hotdimm hotdimm\.0: unplug of block (\d+) failed")
# The kernel's report of a page that keeps a block from going offline: a
# page dump (its pfn) that ends with "page dumped because: unmovable page".
PAGE_RE = re.compile(r"\bpage:\S+ .*\bpfn:0x([0-9a-f]+)")
UNMOVABLE_RE = re.compile(r"page dumped because: unmovable page")
# The sub-block mechanism's last word on a block it could not empty.
BUSY_RE = re.compile(r"hotdimm hotdimm\.0: block (\d+): \d+ sub-blocks unplugged, (\d+) busy")
SUB_BLOCK = 2 * 1024 * 1024

_marks = [0]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def mark(vm, what):
    """Put a marker line in the guest's kernel log; returns its text."""
    _marks[0] += 1
    text = f"hotdimm-acct: mark {_marks[0]} {what}"
    vm.sh(f"echo '{text}' > /dev/kmsg")
    return text


def log_since(vm, marker):
    """Kernel log lines after the marker line."""
    lines = vm.dmesg().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if marker in lines[i]:
            return lines[i + 1:]
    raise Fail(f"marker {marker!r} not found in dmesg")


def decisions(lines):
    """[(block, zone, fields...)] from hotdimm's debug lines."""
    out = []
    for ln in lines:
        m = DECISION_RE.search(ln)
        if m:
            g = m.groups()
            out.append(dict(block=int(g[0]), zone=g[1], policy=g[2], ratio=int(g[3]),
                            boot_kernel=int(g[4]), cma=int(g[5]), other_movable=int(g[6]),
                            others_need=int(g[7]), dev_kernel=int(g[8]),
                            dev_movable=int(g[9])))
    return out


def zoneinfo(vm):
    """{zone: {"present": pages, "free": pages}} of node 0."""
    out = {}
    zone = None
    for ln in vm.read("/proc/zoneinfo").splitlines():
        m = re.match(r"^Node (\d+), zone\s+(\S+)", ln)
        if m:
            zone = m.group(2) if m.group(1) == "0" else None
            if zone:
                out[zone] = {}
            continue
        if zone is None:
            continue
        m = re.match(r"^\s+(present|pages free|managed)\s+(\d+)$", ln)
        if m:
            out[zone][m.group(1).split()[-1]] = int(m.group(2))
    return out


def kernel_pages(zi):
    return sum(zi.get(z, {}).get("present", 0) for z in KERNEL_ZONES)


def movable_pages(zi):
    return zi.get("Movable", {}).get("present", 0)


def predict(P, ratio, n, kernel=0, movable=0):
    """Greedy block-by-block split of n more blocks for a device that has
    `kernel`/`movable` blocks already: 'M' iff the movable memory including
    the new block stays within ratio% of (boot kernel + device kernel)."""
    out = []
    for _ in range(n):
        if ratio and (movable + 1) * BPAGES <= ratio * (P + kernel * BPAGES) // 100:
            out.append("M")
            movable += 1
        else:
            out.append("K")
            kernel += 1
    return "".join(out)


def insmod(vm, params=""):
    rc, out = vm.run(f"insmod /hotdimm.ko dimms=8G@{START:#x} dyndbg=+p {params}", 120)
    expect(rc == 0, f"insmod hotdimm.ko {params} failed: {out.strip()}")
    expect(vm.run(f"test -d {DEV}")[0] == 0, f"{DEV} missing after insmod")


def attrs(vm):
    return Dev(vm, 0).attrs()


def describe(a):
    return (f"plugged {int(a['plugged_size']) >> 20}M kernel {int(a['kernel_size']) >> 20}M "
            f"movable {int(a['movable_size']) >> 20}M offline {int(a['offline_size']) >> 20}M "
            f"blocks {a['blocks']} status {a['status']!r}")


def write_request(vm, size):
    rc, out = vm.write(f"{DEV}/requested_size", size)
    expect(rc == 0, f"writing requested_size={size} failed: {out.strip()}")


def converged(size, offline=0, offline_any=False):
    """Shell condition: plugged_size == size, status ok and offline_size ==
    offline (any value with offline_any)."""
    cond = (f'[ "$(cat {DEV}/plugged_size)" = "{int(size)}" ] && '
            f'[ "$(cat {DEV}/status)" = ok ]')
    if not offline_any:
        cond += f' && [ "$(cat {DEV}/offline_size)" = "{int(offline)}" ]'
    return cond


def request(vm, size, offline=0, timeout=CONVERGE_TIMEOUT, offline_any=False):
    """Write requested_size and wait until plugged_size == size, status ok
    and offline_size == offline (any value with offline_any). Returns
    (attrs, seconds)."""
    t0 = time.monotonic()
    write_request(vm, size)
    ok = vm.wait_until(converged(size, offline, offline_any), timeout, interval=0.5)
    dt = time.monotonic() - t0
    a = attrs(vm)
    if not ok:
        raise Fail(f"requested {int(size) >> 20}M: not converged after {timeout}s: {describe(a)}")
    return a, dt


def block_states(vm, n=NBLK):
    """[(state, valid_zones)] of the device's n memory blocks (None when the
    Linux memory block does not exist)."""
    script = (f"for i in $(seq {FIRST_MEM} {FIRST_MEM + n - 1}); do d={MEMORY}/memory$i; "
              f"if [ -d $d ]; then echo $i $(cat $d/state) $(cat $d/valid_zones); "
              f"else echo $i -; fi; done")
    out = []
    for ln in vm.sh(script).splitlines():
        p = ln.split()
        if len(p) < 2:
            continue
        if p[1] == "-":
            out.append((None, ""))
        else:
            out.append((p[1], " ".join(p[2:])))
    expect(len(out) == n, f"expected {n} memory block lines, got {len(out)}")
    return out


def check_blocks_vs_linux(vm, blocks):
    """Every char of `blocks` agrees with memoryN/state and valid_zones (a
    partly plugged block, k or m, like a whole one)."""
    states = block_states(vm, len(blocks))
    for i, (c, (st, vz)) in enumerate(zip(blocks, states)):
        mem = f"memory{FIRST_MEM + i}"
        if c == "-":
            expect(st is None, f"block {i} is '-' but {mem} exists ({st})")
        elif c == "o":
            expect(st == "offline", f"block {i} is 'o' but {mem} is {st}")
        elif c in "Mm":
            expect(st == "online", f"block {i} is '{c}' but {mem} is {st}")
            expect(vz == "Movable", f"block {i} is '{c}' but {mem}/valid_zones is {vz!r}")
        elif c in "Kk":
            expect(st == "online", f"block {i} is '{c}' but {mem} is {st}")
            expect(vz == "Normal", f"block {i} is '{c}' but {mem}/valid_zones is {vz!r}")
        else:
            raise Fail(f"unexpected char {c!r} in blocks {blocks}")


def check_sizes(a, blocks, partial=None):
    """kernel/movable/offline/plugged_size agree with the blocks string;
    `partial` gives the plugged bytes of its partly plugged blocks (k)."""
    expect(a["blocks"] == blocks, f"blocks {a['blocks']} != expected {blocks}")
    part = {i: (partial or {}).get(i) for i, c in enumerate(blocks) if c == "k"}
    expect(None not in part.values(), f"no plugged size known for the k blocks in {blocks}")
    for key, chars in (("kernel_size", "Kk"), ("movable_size", "M"), ("offline_size", "o"),
                       ("plugged_size", "KkMo")):
        want = sum(blocks.count(c) for c in chars if c != "k") * BS
        want += sum(part.values()) if "k" in chars else 0
        expect(int(a[key]) == want, f"{key} {a[key]} != {want} for blocks {blocks}")


def check_zones_grew(zi0, zi1, a):
    dk = kernel_pages(zi1) - kernel_pages(zi0)
    dm = movable_pages(zi1) - movable_pages(zi0)
    expect(dm * PAGE == int(a["movable_size"]),
           f"zoneinfo: Movable present grew by {dm} pages, movable_size is "
           f"{int(a['movable_size']) // PAGE} pages")
    expect(dk * PAGE == int(a["kernel_size"]),
           f"zoneinfo: kernel zones present grew by {dk} pages, kernel_size is "
           f"{int(a['kernel_size']) // PAGE} pages")


def memtotal(vm):
    for ln in vm.read("/proc/meminfo").splitlines():
        if ln.startswith("MemTotal:"):
            return int(ln.split()[1])
    raise Fail("no MemTotal in /proc/meminfo")


def check_decisions(lines, expected, policy, ratio, P, first=0):
    """The module's decision lines for blocks first.. agree with `expected`
    (a string of K/M, or '?' per block for the system's choice). A block
    decided twice (a retried add) counts with its last decision."""
    last = {}
    for d in decisions(lines):
        last[d["block"]] = d
    want_blocks = list(range(first, first + len(expected)))
    expect(sorted(last) == want_blocks,
           f"decision lines in dmesg for blocks {sorted(last)}, expected {want_blocks}")
    names = {"K": "kernel", "M": "movable", "?": "system's choice"}
    for b, c in zip(want_blocks, expected):
        d = last[b]
        expect(d["zone"] == names[c], f"block {b}: decision says {d['zone']}, expected {names[c]}")
        expect(d["policy"] == policy, f"block {b}: decision policy {d['policy']}, expected {policy}")
        expect(d["ratio"] == ratio, f"block {b}: decision ratio {d['ratio']}, expected {ratio}")
        expect(d["boot_kernel"] == P,
               f"block {b}: decision boot kernel {d['boot_kernel']} != zoneinfo {P}")
        expect(d["cma"] == 0 and d["other_movable"] == 0 and d["others_need"] == 0,
               f"block {b}: unexpected cma/other movable/others need in decision: {d}")
    return last


def plug_and_check_split(vm, ctx, size=SIZE, params="", ratio=301,
                         policy="auto-movable"):
    """insmod, plug `size`, and check the split against the prediction."""
    zi0 = zoneinfo(vm)
    P = kernel_pages(zi0)
    expect(movable_pages(zi0) == 0, f"ZONE_MOVABLE not empty before plugging: {zi0}")
    mt0 = memtotal(vm)
    n = size // BS
    want = predict(P, ratio, n) if policy == "auto-movable" else \
        ("M" if policy == "movable" else "K") * n
    want_full = want + "-" * (NBLK - n)
    insmod(vm, params)
    m = mark(vm, f"plug {size >> 20}M")
    a, dt = request(vm, size)
    ctx.note(f"P={P} pages (zoneinfo kernel zones), ratio {ratio}, policy {policy}: "
             f"plugged {size >> 20}M in {dt:.1f}s: {describe(a)}")
    ctx.note(f"predicted {want_full}")
    check_sizes(a, want_full)
    check_decisions(log_since(vm, m), want, policy, ratio, P)
    zi1 = zoneinfo(vm)
    check_zones_grew(zi0, zi1, a)
    check_blocks_vs_linux(vm, a["blocks"])
    mt1 = memtotal(vm)
    expect((mt1 - mt0) * 1024 == size,
           f"MemTotal grew by {(mt1 - mt0) >> 10} MiB, expected {size >> 20} MiB")
    ctx.note("zoneinfo after: " + ", ".join(
        f"{z} present {v.get('present')}" for z, v in zi1.items() if v.get("present")))
    return P, a


def reset(vm):
    """rmmod hotdimm. When memory stays behind (a kernel-zone block that
    Linux cannot offline, e.g. with a slab page on it), the guest is no
    longer pristine for the next scenario: stop it so that the runner boots
    a fresh one. rmmod itself failing is an error."""
    # Leftovers of a failed unplug-under-load run would pin memory.
    vm.run("[ -f /tmp/memhold.pid ] && kill $(cat /tmp/memhold.pid); rm -f /tmp/memhold.pid; "
           "if grep -q ' /mnt/acct ' /proc/mounts; then rm -rf /mnt/acct/*; umount /mnt/acct; fi",
           120)
    if hotdimm_loaded(vm):
        rc, out = vm.run("rmmod hotdimm", 240)
        if rc != 0:
            raise Fail(f"rmmod hotdimm failed: {out.strip()}")
    left = vm.iomem(HOTDIMM_RES)
    if left:
        vm.run(f"echo 'hotdimm-acct: {len(left)} hotdimm range(s) stay after rmmod: "
               f"{' '.join(f'{s:#x}-{e:#x}' for s, e, _, _ in left)}; rebooting' > /dev/kmsg")
        vm.stop()


def movable_budget(vm):
    """Largest block count the default ratio puts entirely in ZONE_MOVABLE."""
    P = kernel_pages(zoneinfo(vm))
    return (301 * P // 100) // BPAGES


# ---------------------------------------------------------------------------
# 1 and 2: the default split (with and without the kernel's auto-onlining)
# ---------------------------------------------------------------------------

@scenario("acct-split-8g")
def sc_split(vm, ctx):
    """1 GiB guest plugs 8 GiB with ratio 301: split equals the prediction."""
    plug_and_check_split(vm, ctx)
    ctx.note(f"auto_online_blocks={vm.read(MEMORY + '/auto_online_blocks')}")


def split_cmdline(state, policy=None):
    def fn(vm, ctx):
        got = vm.read(MEMORY + "/auto_online_blocks")
        expect(got == state, f"auto_online_blocks is {got!r}, the command line asked {state!r}")
        if policy:
            got = vm.read("/sys/module/memory_hotplug/parameters/online_policy")
            expect(got == policy, f"memory_hotplug online_policy is {got!r}, want {policy!r}")
        mark_text = mark(vm, "before insmod")
        plug_and_check_split(vm, ctx)
        # How often the kernel's own onlining picked another zone and was
        # refused by the driver (informational: depends on the kernel policy).
        refused = sum("refusing to online" in ln for ln in log_since(vm, mark_text))
        ctx.note(f"kernel onlining attempts refused by hotdimm: {refused}")
    return fn


sc_split_online = scenario("acct-split-8g-autoonline")(split_cmdline("online"))
sc_split_automovable = scenario("acct-split-8g-autoonline-automovable")(
    split_cmdline("online", "auto-movable"))


# ---------------------------------------------------------------------------
# 3: ratio 0, policy movable, policy system
# ---------------------------------------------------------------------------

@scenario("acct-ratio0")
def sc_ratio0(vm, ctx):
    """movable_ratio=0 at insmod: every block in a kernel zone."""
    plug_and_check_split(vm, ctx, size=GiB, params="movable_ratio=0", ratio=0)
    expect(vm.read(f"{DEV}/movable_ratio") == "0", "device movable_ratio is not 0")


@scenario("acct-policy-movable")
def sc_policy_movable(vm, ctx):
    """online_policy=movable: all 8 GiB in ZONE_MOVABLE, beyond the ratio."""
    plug_and_check_split(vm, ctx, params="online_policy=movable", policy="movable")


def system_choice(vm, ctx, want=None):
    """online_policy=system: hotdimm adds the blocks and leaves onlining to
    the kernel; blocks must show what Linux did. want: expected blocks
    string, or None to accept whatever the kernel chose."""
    zi0 = zoneinfo(vm)
    P = kernel_pages(zi0)
    auto = vm.read(MEMORY + "/auto_online_blocks")
    insmod(vm, "online_policy=system")
    m = mark(vm, "plug system")
    a, dt = request(vm, GiB, offline_any=True)
    blocks = a["blocks"]
    ctx.note(f"auto_online_blocks={auto}: plugged 1G in {dt:.1f}s: {describe(a)}")
    # What Linux says about each block is the truth the device must report.
    linux = []
    for st, vz in block_states(vm, 8):
        expect(st is not None, "a plugged block has no memoryN directory")
        if st == "offline":
            linux.append("o")
        else:
            expect(vz in ("Movable", "Normal"), f"online block with valid_zones {vz!r}")
            linux.append("M" if vz == "Movable" else "K")
    linux = "".join(linux) + "-" * (NBLK - 8)
    check_sizes(a, linux)
    check_blocks_vs_linux(vm, blocks)
    check_zones_grew(zi0, zoneinfo(vm), a)
    check_decisions(log_since(vm, m), "?" * 8, "system", 301, P)
    if want is not None:
        expect(blocks == want, f"blocks {blocks}, expected {want} with auto_online_blocks={auto}")
    # Nothing steers: still the same a few seconds later.
    time.sleep(3)
    a2 = attrs(vm)
    expect(a2["blocks"] == blocks, f"blocks changed from {blocks} to {a2['blocks']} by themselves")


@scenario("acct-policy-system")
def sc_policy_system(vm, ctx):
    auto = vm.read(MEMORY + "/auto_online_blocks")
    # 6.1 default: new memory stays offline; 6.12 (Debian) onlines it.
    want = "o" * 8 + "-" * (NBLK - 8) if auto == "offline" else None
    system_choice(vm, ctx, want)


@scenario("acct-policy-system-online-movable")
def sc_policy_system_movable(vm, ctx):
    auto = vm.read(MEMORY + "/auto_online_blocks")
    expect(auto == "online_movable", f"auto_online_blocks is {auto!r}, want online_movable")
    system_choice(vm, ctx, "M" * 8 + "-" * (NBLK - 8))


# ---------------------------------------------------------------------------
# 4: runtime ratio changes affect the next plug only
# ---------------------------------------------------------------------------

@scenario("acct-runtime-ratio")
def sc_runtime_ratio(vm, ctx):
    zi0 = zoneinfo(vm)
    P = kernel_pages(zi0)
    insmod(vm)
    dev_ratio = f"{DEV}/movable_ratio"
    param = f"{PARAMS}/movable_ratio"

    a, _ = request(vm, GiB)
    check_sizes(a, "M" * 8 + "-" * 56)

    # Module parameter: the device follows it (it has no ratio of its own).
    rc, out = vm.write(param, "0")
    expect(rc == 0, f"writing {param}=0 failed: {out.strip()}")
    expect(vm.read(dev_ratio) == "0",
           f"device movable_ratio {vm.read(dev_ratio)} did not follow the module parameter 0")
    m = mark(vm, "plug 2G ratio 0")
    a, _ = request(vm, 2 * GiB)
    want = "M" * 8 + "K" * 8 + "-" * 48
    check_sizes(a, want)
    check_decisions(log_since(vm, m), "K" * 8, "auto-movable", 0, P, first=8)
    check_blocks_vs_linux(vm, a["blocks"])
    ctx.note(f"module param 0: {describe(a)}")

    # Back to 301: the next plug uses it again (8 M with 8 K is well within).
    rc, out = vm.write(param, "301")
    expect(rc == 0, f"writing {param}=301 failed: {out.strip()}")
    expect(vm.read(dev_ratio) == "301", "device movable_ratio did not follow the parameter 301")
    m = mark(vm, "plug 3G ratio 301")
    a, _ = request(vm, 3 * GiB)
    exp = predict(P, 301, 8, kernel=8, movable=8)
    want = "M" * 8 + "K" * 8 + exp + "-" * 40
    check_sizes(a, want)
    check_decisions(log_since(vm, m), exp, "auto-movable", 301, P, first=16)

    # Per-device attribute: 0 on the device, then a module parameter change
    # must not override it.
    rc, out = vm.write(dev_ratio, "0")
    expect(rc == 0, f"writing {dev_ratio}=0 failed: {out.strip()}")
    rc, out = vm.write(param, "500")
    expect(rc == 0, f"writing {param}=500 failed: {out.strip()}")
    expect(vm.read(dev_ratio) == "0",
           f"module parameter 500 overrode the device's movable_ratio 0 ({vm.read(dev_ratio)})")
    m = mark(vm, "plug 4G device ratio 0")
    a, _ = request(vm, 4 * GiB)
    want = "M" * 8 + "K" * 8 + exp + "K" * 8 + "-" * 32
    check_sizes(a, want)
    check_decisions(log_since(vm, m), "K" * 8, "auto-movable", 0, P, first=24)
    check_blocks_vs_linux(vm, a["blocks"])
    check_zones_grew(zi0, zoneinfo(vm), a)
    ctx.note(f"device ratio 0, param 500: {describe(a)}")


# ---------------------------------------------------------------------------
# 5: administrator's offline / online_kernel are reflected, not undone
# ---------------------------------------------------------------------------

def state_write(vm, mem, value, tries=5):
    path = f"{MEMORY}/memory{mem}/state"
    for i in range(tries):
        rc, out = vm.write(path, value, timeout=120)
        if rc == 0:
            return
        time.sleep(1)
    raise Fail(f"echo {value} > {path} failed {tries} times: {out.strip()}")


@scenario("acct-admin-online-offline")
def sc_admin(vm, ctx):
    insmod(vm)
    a, _ = request(vm, GiB)
    check_sizes(a, "M" * 8 + "-" * 56)
    idx = 3
    mem = FIRST_MEM + idx

    state_write(vm, mem, "offline")
    want = "MMMoMMMM" + "-" * 56
    a, _ = request(vm, GiB, offline=BS, timeout=30)
    check_sizes(a, want)
    check_blocks_vs_linux(vm, a["blocks"])
    time.sleep(3)
    a = attrs(vm)
    check_sizes(a, want)
    expect(vm.read(f"{MEMORY}/memory{mem}/state") == "offline",
           f"memory{mem} did not stay offline: the driver undid the administrator's offline")
    ctx.note(f"after offline: {describe(a)}")

    state_write(vm, mem, "online_kernel")
    want = "MMMKMMMM" + "-" * 56
    a, _ = request(vm, GiB, timeout=30)
    check_sizes(a, want)
    check_blocks_vs_linux(vm, a["blocks"])
    time.sleep(3)
    a = attrs(vm)
    check_sizes(a, want)
    check_blocks_vs_linux(vm, a["blocks"])
    expect(a["status"] == "ok", f"status {a['status']!r} after online_kernel")
    ctx.note(f"after online_kernel: {describe(a)}")


# ---------------------------------------------------------------------------
# 6: shrinking removes movable blocks first, newest first
# ---------------------------------------------------------------------------

def removal_log(lines):
    """(order of removed blocks, blocks with a failed unplug attempt)."""
    order = [int(m.group(1)) for m in map(REMOVED_RE.search, lines) if m]
    failed = {int(m.group(1)) for m in map(UNPLUG_FAIL_RE.search, lines) if m}
    return order, failed


def check_removal_order(order, blocks, failed):
    """Each removed block must be the newest remaining movable block, or
    the newest remaining kernel block once no movable one is left (blocks
    were added in index order, so newest = highest index). A candidate that
    was skipped is tolerated only if a failed unplug attempt was logged for
    it (the driver then moves on to the next candidate)."""
    left = {i: c for i, c in enumerate(blocks) if c in "KM"}
    for r in order:
        expect(r in left, f"block {r} removed twice or was not plugged (order {order})")
        if left[r] == "M":
            skipped = [b for b, c in left.items() if c == "M" and b > r]
        else:
            skipped = [b for b, c in left.items() if c == "M" or (c == "K" and b > r)]
        skipped = [b for b in skipped if b not in failed]
        expect(not skipped, f"block {r} ({left[r]}) removed before {sorted(skipped)} "
               f"(order {order}; expected movable first, newest first)")
        del left[r]


def pinned_blocks(lines):
    """Blocks Linux refused to offline for an unmovable page: a page dump
    (its pfn) that ends with "page dumped because: unmovable page"."""
    pinned, pfn = set(), None
    for ln in lines:
        pm = PAGE_RE.search(ln)
        if pm:
            pfn = int(pm.group(1), 16)
        elif UNMOVABLE_RE.search(ln) and pfn is not None:
            pinned.add(pfn * 4096 // BS - FIRST_MEM)
    return pinned


def shrink_past_pinned(vm, nblocks, marker):
    """Request nblocks blocks and wait as request() does, but stop waiting
    once the only blocks left over are kernel blocks that Linux refused to
    offline for an unmovable page, no movable block is left and status
    says the driver retries: such a block stays plugged, retried, after
    the sub-block mechanism gave back what it could of it (k), and its
    retries fail the same way until the timeout (on the debug kernel a
    slab page: 900 s of waiting). Any other block left over fails the
    caller's checks. Returns (attrs, seconds, log lines since marker,
    sorted stuck blocks)."""
    t0 = time.monotonic()
    size = nblocks * BS
    write_request(vm, size)
    end = t0 + CONVERGE_TIMEOUT * vm.slow
    while True:
        left_s = max(end - time.monotonic(), 1) / vm.slow
        ok = vm.wait_until(f'{{ {converged(size)}; }} || grep -q ^retrying {DEV}/status', left_s,
                           interval=0.5)
        a = attrs(vm)
        since = log_since(vm, marker)
        kernel = [i for i, c in enumerate(a["blocks"]) if c in "Kk"]
        stuck = sorted(set(kernel) & pinned_blocks(since))
        if int(a["plugged_size"]) == size and a["status"] == "ok" and not int(a["offline_size"]):
            return a, time.monotonic() - t0, since, stuck
        if (ok and stuck and a["status"].startswith("retrying")
                and not set("Mm") & set(a["blocks"]) and len(kernel) - len(stuck) == nblocks):
            return a, time.monotonic() - t0, since, stuck
        expect(time.monotonic() < end,
               f"requested {size >> 20}M: not converged after "
               f"{CONVERGE_TIMEOUT * vm.slow:.0f}s: {describe(a)}")
        time.sleep(5)


@scenario("acct-shrink-order")
def sc_shrink(vm, ctx):
    P, a = plug_and_check_split(vm, ctx)
    blocks = a["blocks"]
    nk = blocks.count("K")
    nm = blocks.count("M")
    expect(nk and nm, f"the 8G plug did not give both zones: {blocks}")

    # Step 1: remove half of the M blocks: only M blocks go, newest first.
    n1 = nm // 2
    m = mark(vm, "shrink 1")
    a, dt = request(vm, (NBLK - n1) * BS)
    order, failed = removal_log(log_since(vm, m))
    ctx.note(f"shrink by {n1} blocks in {dt:.1f}s: order {order} (failed attempts: "
             f"{sorted(failed)}): {describe(a)}")
    expect(len(order) == n1, f"{len(order)} blocks removed, expected {n1}")
    check_removal_order(order, blocks, failed)
    expect(a["blocks"].count("K") == nk and a["blocks"].count("M") == nm - n1,
           f"after removing {n1} blocks: {a['blocks']} (expected only movable ones gone)")
    check_sizes(a, a["blocks"])
    check_blocks_vs_linux(vm, a["blocks"])

    # Step 2: every remaining M block, then 2 K blocks (the one K block of
    # a guest with more boot memory, e.g. a KASAN kernel's).
    nk2 = nk - min(2, nk)
    blocks = a["blocks"]
    m = mark(vm, "shrink 2")
    a, dt, since, stuck = shrink_past_pinned(vm, nk2, m)
    order, failed = removal_log(since)
    busy = {int(bm.group(1)): int(bm.group(2)) * SUB_BLOCK
            for bm in map(BUSY_RE.search, since) if bm}
    left = [i for i, c in enumerate(a["blocks"]) if c in "Kk"]
    ctx.note(f"shrink to {nk2 * BS >> 20}M in {dt:.1f}s: order {order} (failed "
             f"attempts: {sorted(failed)}; kernel blocks with an unmovable page: "
             f"{stuck}): {describe(a)}")
    expect(not set("Mm") & set(a["blocks"]), f"movable blocks left after the shrink: {a['blocks']}")
    expect(len(left) - len(stuck) == nk2,
           f"expected {nk2} kernel blocks left (besides {stuck} that Linux cannot "
           f"offline): {a['blocks']}")
    if stuck:
        expect(a["status"].startswith("retrying"),
               f"block(s) {stuck} stay, status '{a['status']}' does not say so")
    check_removal_order(order, blocks, failed)
    check_sizes(a, a["blocks"], busy)
    check_blocks_vs_linux(vm, a["blocks"])


# ---------------------------------------------------------------------------
# 7: unplug under load (slab, page cache, anonymous memory)
# ---------------------------------------------------------------------------

LOAD_DIRS = 20
LOAD_FILES = 1000        # per directory: 20000 small files
BIG_MB = 128
ANON_MB = 192


@scenario("acct-unplug-under-load")
def sc_unplug_load(vm, ctx):
    expect(vm.run("test -x /bin/memhold")[0] == 0, "/bin/memhold missing from the initramfs")
    # The largest size the default ratio places entirely in ZONE_MOVABLE:
    # nothing of it may then stay stuck in a kernel zone.
    n = movable_budget(vm)
    expect(n >= 8, f"unexpected budget of {n} movable blocks")
    size = n * BS
    P, a = plug_and_check_split(vm, ctx, size=size)
    expect(set(a["blocks"][:n]) == {"M"}, f"expected all movable: {a['blocks']}")
    end = START + size

    t0 = time.monotonic()
    vm.sh(f"setsid memhold {ANON_MB} {START:#x} {end:#x} > /tmp/memhold.out 2>&1 < /dev/null & "
          f"echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 120), "memhold never got ready: " +
           vm.run("cat /tmp/memhold.out")[1].strip())
    ready = vm.read("/tmp/memhold.out")
    inrange = int(re.search(r"inrange=(-?\d+)", ready).group(1))
    ctx.note(f"memhold: {ready.strip()}")
    expect(inrange > 0, f"none of memhold's anonymous memory landed in the device: {ready}")

    script = f"""
set -e
mkdir -p /mnt/acct
mount -t tmpfs -o size=640m tmpfs /mnt/acct
cd /mnt/acct
for d in $(seq 1 {LOAD_DIRS}); do
  mkdir d$d
  i=0
  while [ $i -lt {LOAD_FILES} ]; do
    echo "hotdimm file $d/$i" > d$d/f$i
    i=$((i + 1))
  done
done
dd if=/dev/urandom of=big bs=1M count={BIG_MB} 2>/dev/null
cat d*/f*7 | md5sum > /tmp/small.md5
md5sum big > /tmp/big.md5
"""
    vm.sh(script, timeout=300)
    t_load = time.monotonic() - t0
    zi = zoneinfo(vm)
    mv = zi["Movable"]
    used_mov = (mv["present"] - mv["free"]) * PAGE
    mi = vm.sh("grep -E '^(MemFree|Shmem|Slab|SReclaimable|SUnreclaim|AnonPages):' /proc/meminfo")
    ctx.note(f"load created in {t_load:.1f}s; ZONE_MOVABLE in use {used_mov >> 20} MiB; "
             + " ".join(mi.split()))
    expect(used_mov >= 64 * MiB,
           f"only {used_mov >> 20} MiB of ZONE_MOVABLE in use: the load is not on the device")

    m = mark(vm, "unplug under load")
    t1 = time.monotonic()
    try:
        a, dt = request(vm, 0, timeout=300)
    finally:
        ctx.note(f"shrink attempt took {time.monotonic() - t1:.1f}s")
    lines = log_since(vm, m)
    failed = [ln for ln in lines if UNPLUG_FAIL_RE.search(ln)]
    ctx.note(f"unplugged {size >> 20}M under load in {dt:.1f}s, "
             f"{len(failed)} failed offline attempt(s)")
    check_sizes(a, "-" * NBLK)
    check_blocks_vs_linux(vm, a["blocks"])
    expect(not vm.iomem(HOTDIMM_RES), f"'{HOTDIMM_RES}' left in /proc/iomem")
    expect(movable_pages(zoneinfo(vm)) == 0, "ZONE_MOVABLE still has present pages")

    # Everything still there and intact.
    vm.sh("kill -USR1 $(cat /tmp/memhold.pid)")
    expect(vm.wait_until("grep -q verify /tmp/memhold.out", 120), "memhold did not verify")
    res = vm.read("/tmp/memhold.out")
    vm.sh("rm -f /tmp/memhold.pid")
    expect("verify ok inrange=0" in res, f"memhold after unplug: {res.strip()}")
    out = vm.sh("cd /mnt/acct && cat d*/f*7 | md5sum | cmp -s - /tmp/small.md5 && echo small-ok; "
                "md5sum big | cmp -s - /tmp/big.md5 && echo big-ok; ls d* | grep -c '^f'",
                timeout=300)
    expect("small-ok" in out, "checksum of the small files changed")
    expect("big-ok" in out, "checksum of the big file changed")
    nfiles = int(out.split()[-1])
    expect(nfiles == LOAD_DIRS * LOAD_FILES, f"{nfiles} small files left, expected "
           f"{LOAD_DIRS * LOAD_FILES}")
    vm.sh("rm -rf /mnt/acct/* && umount /mnt/acct", timeout=300)


# ---------------------------------------------------------------------------

VM_BASE = dict(mem="11G", append="mem=1G")

GROUPS = [
    # Scenarios that leave no kernel-zone memory first: those that do may
    # cost a reboot each (see reset()).
    Group("acct", [sc_policy_movable, sc_unplug_load, sc_policy_system, sc_split,
                   sc_shrink, sc_ratio0, sc_runtime_ratio, sc_admin],
          vm=VM_BASE, needs=("module", "memhold"), reset=reset),
    Group("acct-online", [sc_split_online],
          vm=dict(mem="11G", append="mem=1G memhp_default_state=online"), reset=reset),
    Group("acct-online-automovable", [sc_split_automovable],
          vm=dict(mem="11G", append="mem=1G memhp_default_state=online "
                                    "memory_hotplug.online_policy=auto-movable"), reset=reset),
    Group("acct-online-movable", [sc_policy_system_movable],
          vm=dict(mem="11G", append="mem=1G memhp_default_state=online_movable"), reset=reset),
]
