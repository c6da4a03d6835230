# SPDX-License-Identifier: GPL-2.0
"""Guest scenarios for the emulated DIMM transport (issue 2, point 7).

The guest boots with -m 4G and mem=1G: the kernel uses 0..1G, and the
firmware RAM above it is hidden: 0x40000000..0xbffe0000 (the BIOS keeps the
top 128 KiB below 3G for ACPI tables) and 0x100000000..0x140000000. hotdimm
is loaded with dimms=SIZE@START over that hidden RAM and resized through
/sys/bus/platform/devices/hotdimm.N/requested_size.
"""

import re
import shlex

from hotdimm_vm import (GiB, MiB, PARAMS, Dev, Fail, Group, HOTDIMM_RES, check_device,
                        check_memtotal, devices, expect, hotdimm_loaded, memhold_start,
                        memhold_verify, scenario, snapshot, unload_hotdimm)

BS = 128 * MiB
HIDDEN = 0x40000000
CONVERGE_TIMEOUT = 180


def insmod(vm, params, expect_ok=True, timeout=120):
    rc, out = vm.run(f"insmod /hotdimm.ko {params}", timeout)
    if expect_ok and rc != 0:
        raise Fail(f"insmod hotdimm.ko {params} failed: {out.strip()}")
    return rc, out


def resize(vm, dev, size, timeout=CONVERGE_TIMEOUT):
    rc, out = dev.set_requested(size)
    expect(rc == 0, f"writing requested_size={size} failed: {out.strip()}")
    if not dev.wait_plugged(size, timeout):
        a = dev.attrs()
        raise Fail(f"hotdimm.{dev.n}: plugged_size {a['plugged_size']} did not reach {size} "
                   f"in {timeout}s (blocks {a['blocks']}, status {a['status']!r})")


def check_step(vm, devs, base, ctx, label):
    """Check every device plus the global MemTotal/iomem consistency."""
    online = 0
    for d in devs:
        a = check_device(vm, d, base)
        expect(a["status"].startswith("ok"), f"hotdimm.{d.n} status {a['status']!r} after {label}")
        expect(int(a["offline_size"]) == 0,
               f"hotdimm.{d.n}: {a['offline_size']} bytes plugged but offline after {label}")
        online += int(a["kernel_size"]) + int(a["movable_size"])
        ctx.note(f"{label}: hotdimm.{d.n} plugged={int(a['plugged_size']) >> 20}M "
                 f"blocks={a['blocks']} kernel={int(a['kernel_size']) >> 20}M "
                 f"movable={int(a['movable_size']) >> 20}M")
    check_memtotal(vm, base["memtotal"], online)
    total_res = sum(e - s + 1 for s, e, _, _ in vm.iomem(HOTDIMM_RES))
    plugged = sum(int(d.attr("plugged_size")) for d in devs)
    expect(total_res == plugged, f"iomem has {total_res >> 20}M of '{HOTDIMM_RES}', "
           f"devices report {plugged >> 20}M plugged")


def check_clean(vm, base, what):
    """No hotdimm device or memory left; memory blocks as before."""
    now = snapshot(vm)
    expect(not now["devices"], f"hotdimm devices left after {what}: {now['devices']}")
    expect(not vm.iomem(HOTDIMM_RES), f"'{HOTDIMM_RES}' left in /proc/iomem after {what}")
    expect(now["memtotal"] == base["memtotal"],
           f"MemTotal {now['memtotal']} kB != {base['memtotal']} kB before, after {what}")
    expect(now["blocks"] == base["blocks"],
           f"memory blocks changed after {what}: {sorted(set(now['blocks']) ^ set(base['blocks']))}")


@scenario("emulated-resize")
def sc_resize(vm, ctx):
    """0 -> 512M -> 1G -> 256M -> 0 on one 1G DIMM."""
    base = snapshot(vm)
    insmod(vm, f"dimms=1G@{HIDDEN:#x} dyndbg=+p")
    expect(devices(vm) == [0], f"want one device hotdimm.0, have {devices(vm)}")
    d = Dev(vm, 0)
    a = d.attrs()
    expect(a["transport"] == "emulated", f"transport {a['transport']!r}")
    expect(int(a["region_start"], 16) == HIDDEN, f"region_start {a['region_start']}")
    expect(int(a["region_size"]) == GiB, f"region_size {a['region_size']}")
    expect(int(a["requested_size"]) == 0, f"initial requested_size {a['requested_size']}")
    expect(a["blocks"] == "-" * 8, f"initial blocks {a['blocks']!r}")
    expect(int(a["plugged_size"]) == 0, f"initial plugged_size {a['plugged_size']}")
    check_step(vm, [d], base, ctx, "load")
    for size in (512 * MiB, GiB, 256 * MiB, 0):
        resize(vm, d, size)
        expect(int(d.attr("requested_size")) == size, "requested_size does not read back")
        check_step(vm, [d], base, ctx, f"resize to {size >> 20}M")
    rc, raw = vm.run("dmesg -r | grep -c '^<7>.*hotdimm' || true")
    ctx.note(f"debug lines from hotdimm: {raw.strip()}")
    unload_hotdimm(vm)
    check_clean(vm, base, "rmmod")


@scenario("emulated-two-dimms")
def sc_two(vm, ctx):
    base = snapshot(vm)
    insmod(vm, "dimms=512M@0x40000000,1G@0x100000000 dyndbg=+p")
    expect(devices(vm) == [0, 1], f"want hotdimm.0 and hotdimm.1, have {devices(vm)}")
    d0, d1 = Dev(vm, 0), Dev(vm, 1)
    expect(int(d0.attr("region_start"), 16) == 0x40000000
           and int(d0.attr("region_size")) == 512 * MiB, "hotdimm.0 region wrong")
    expect(int(d1.attr("region_start"), 16) == 0x100000000
           and int(d1.attr("region_size")) == GiB, "hotdimm.1 region wrong")
    expect(d0.attr("blocks") == "----" and d1.attr("blocks") == "--------",
           "blocks not all unplugged at load")
    for s0, s1 in ((512 * MiB, 0), (512 * MiB, GiB), (128 * MiB, 384 * MiB), (0, 0)):
        # Both at once: the workers run concurrently.
        rc0, o0 = d0.set_requested(s0)
        rc1, o1 = d1.set_requested(s1)
        expect(rc0 == 0 and rc1 == 0, f"requested_size writes failed: {o0.strip()} {o1.strip()}")
        for d, s in ((d0, s0), (d1, s1)):
            if not d.wait_plugged(s, CONVERGE_TIMEOUT):
                raise Fail(f"hotdimm.{d.n} did not reach {s >> 20}M: blocks {d.attr('blocks')}")
        check_step(vm, [d0, d1], base, ctx, f"resize to {s0 >> 20}M+{s1 >> 20}M")
    unload_hotdimm(vm)
    check_clean(vm, base, "rmmod")


# (dimms= value, why it is bad, index of the offending entry)
BAD_DIMMS = [
    ("128M@0x0", "overlaps boot RAM", 0),
    ("256M@0x38000000", "straddles the end of boot RAM", 0),
    ("100M@0x40000000", "size not block-aligned", 0),
    ("128M@0x40100000", "start not block-aligned", 0),
    ("0@0x40000000", "empty", 0),
    ("16E@0x40000000", "size overflows", 0),
    ("128M@0xfffffffff8000000", "end wraps past 2^64", 0),
    ("128M@0x1000000000000", "beyond the physical address space", 0),
    ("128M@0x200000000", "not RAM in the firmware map", 0),
    ("1G@0x80000000", "covers the firmware's reserved ACPI area", 0),
    ("1G@0x40000000,512M@0x60000000", "second entry overlaps the first", 1),
    ("512M@0x40000000,512M@0x40000000", "duplicate entry", 1),
    ("foo", "garbage", 0),
    ("1G", "no @START", 0),
    ("1G@", "empty START", 0),
    ("@0x40000000", "empty SIZE", 0),
    ("1Q@0x40000000", "bad suffix", 0),
    ("1G@0x40000000,", "trailing comma", 1),
    ("512M@0x40000000;512M@0x60000000", "wrong separator", 0),
    ("-128M@0x40000000", "negative size", 0),
]


def _entry_named(line, spec, idx):
    """Does a dmesg line name the offending entry?"""
    entries = spec.split(",")
    entry = entries[idx] if idx < len(entries) else ""
    if entry and entry in line:
        return True
    if re.search(rf"\bentry {idx}\b", line):
        return True
    m = re.search(r"@(0x[0-9a-fA-F]+)", entry)
    return bool(m and (m.group(1).lower() in line.lower()))


@scenario("emulated-bad-dimms")
def sc_bad_dimms(vm, ctx):
    base = snapshot(vm)
    problems = []
    for spec, why, idx in BAD_DIMMS:
        # One guest round trip: insmod, whether it stayed, the new dmesg.
        res = vm.sh(f"n=$(dmesg -r | wc -l); insmod /hotdimm.ko dimms={shlex.quote(spec)} "
                    "> /tmp/insmod.out 2>&1; echo rc=$?; "
                    "grep -q '^hotdimm ' /proc/modules && echo loaded=1 || echo loaded=0; "
                    "cat /tmp/insmod.out; echo @@; dmesg -r | tail -n +$((n + 1))", 120)
        head, _, dmesg_new = res.partition("@@\n")
        rc = int(re.search(r"rc=(\d+)", head).group(1))
        loaded = "loaded=1" in head
        out = head.split("\n", 2)[-1]
        if rc == 0:
            problems.append(f"dimms={spec} ({why}) was accepted")
            unload_hotdimm(vm)
            continue
        expect(not loaded, f"hotdimm loaded although insmod failed for {spec}")
        new = dmesg_new.splitlines()
        # busybox insmod tries finit_module() and then init_module(), so the
        # module's init runs twice: count distinct messages.
        errs = []
        for ln in new:
            m = re.match(r"^<[0-4]>(?:\[[^]]*\] )?(.*hotdimm.*)$", ln)
            if m and m.group(1) not in errs:
                errs.append(m.group(1))
        ctx.note(f"dimms={spec}: insmod rc={rc} {out.strip()!r}; dmesg: {errs}")
        if len(errs) != 1:
            problems.append(f"dimms={spec} ({why}): {len(errs)} error lines, want 1: {errs}")
        elif not _entry_named(errs[0], spec, idx):
            problems.append(f"dimms={spec} ({why}): error does not name entry {idx}: {errs[0]}")
        now = snapshot(vm)
        if now["iomem"] != base["iomem"]:
            problems.append(f"dimms={spec}: /proc/iomem changed")
        if now["blocks"] != base["blocks"] or now["memtotal"] != base["memtotal"]:
            problems.append(f"dimms={spec}: memory blocks or MemTotal changed")
        if now["devices"]:
            problems.append(f"dimms={spec}: devices {now['devices']} left")
    for p in problems:
        ctx.note("PROBLEM: " + p)
    expect(not problems, f"{len(problems)} of {len(BAD_DIMMS)} bad inputs mishandled: "
           + "; ".join(problems[:3]))


def _errno_text(out):
    m = re.search(r"write error: (.*)$", out.strip(), re.M)
    return m.group(1) if m else out.strip()


@scenario("emulated-bad-sysfs")
def sc_bad_sysfs(vm, ctx):
    insmod(vm, f"dimms=1G@{HIDDEN:#x}")
    d = Dev(vm, 0)
    resize(vm, d, 256 * MiB)
    keys = ("requested_size", "plugged_size", "blocks", "movable_ratio")
    before = {k: v for k, v in d.attrs().items() if k in keys}
    params_before = vm.sh(f"cat {PARAMS}/movable_ratio {PARAMS}/online_policy")
    problems = []
    writes = [
        ("requested_size", "garbage", ("Invalid argument",)),
        ("requested_size", "", ("Invalid argument",)),
        ("requested_size", "2G", ("Invalid argument",)),            # beyond the region
        ("requested_size", "1280M", ("Invalid argument",)),
        ("requested_size", "-1", ("Invalid argument",)),
        ("requested_size", "-128M", ("Invalid argument",)),
        ("requested_size", "1G1", ("Invalid argument",)),
        ("requested_size", "0x", ("Invalid argument",)),
        ("requested_size", "16E", ("Invalid argument", "Numerical result out of range")),
        ("requested_size", "99999999999999999999",
         ("Invalid argument", "Numerical result out of range")),
        ("movable_ratio", "garbage", ("Invalid argument",)),
        ("movable_ratio", "-1", ("Invalid argument",)),
        ("movable_ratio", "", ("Invalid argument",)),
        ("movable_ratio", "1.5", ("Invalid argument",)),
        ("movable_ratio", "99999999999", ("Invalid argument", "Numerical result out of range")),
    ]
    for attr, val, errnos in writes:
        rc, out = vm.write(f"{d.path}/{attr}", val)
        if rc == 0:
            problems.append(f"{attr}={val!r} accepted")
        elif _errno_text(out) not in errnos:
            problems.append(f"{attr}={val!r}: {_errno_text(out)}, want {errnos[0]}")
    for param, val in (("movable_ratio", "garbage"), ("movable_ratio", "-5"),
                       ("online_policy", "bogus"), ("online_policy", "")):
        rc, out = vm.write(f"{PARAMS}/{param}", val)
        if rc == 0:
            problems.append(f"parameter {param}={val!r} accepted")
    # Give a wrongly woken worker a moment, then compare.
    vm.run("sleep 1")
    after = {k: v for k, v in d.attrs().items() if k in keys}
    if after != before:
        problems.append(f"state changed: {before} -> {after}")
    if vm.sh(f"cat {PARAMS}/movable_ratio {PARAMS}/online_policy") != params_before:
        problems.append("module parameters changed")
    for p in problems:
        ctx.note("PROBLEM: " + p)
    expect(not problems, f"{len(problems)} invalid writes mishandled: " + "; ".join(problems[:4]))
    resize(vm, d, 0)


@scenario("emulated-reload")
def sc_reload(vm, ctx):
    """rmmod/insmod three times with memory plugged."""
    base = snapshot(vm)
    for cycle in range(1, 4):
        insmod(vm, f"dimms=1G@{HIDDEN:#x} dyndbg=+p")
        d = Dev(vm, 0)
        expect(d.attr("blocks") == "-" * 8, f"cycle {cycle}: blocks {d.attr('blocks')} at load")
        resize(vm, d, 768 * MiB)
        check_step(vm, [d], base, ctx, f"cycle {cycle} plugged")
        rc, out = vm.run("rmmod hotdimm", 180)
        expect(rc == 0, f"cycle {cycle}: rmmod with memory plugged failed: {out.strip()}")
        check_clean(vm, base, f"rmmod in cycle {cycle}")


@scenario("emulated-async-probe")
def sc_async_probe(vm, ctx):
    """async_probe=1 (the module loader's generic parameter) must not break
    device registration: the device exists and resizes."""
    base = snapshot(vm)
    rc, out = insmod(vm, f"dimms=1G@{HIDDEN:#x} async_probe=1", expect_ok=False)
    expect(rc == 0, f"insmod with async_probe=1 failed: {out.strip()}")
    d = Dev(vm, 0)
    resize(vm, d, 256 * MiB)
    check_step(vm, [d], base, ctx, "async_probe=1, 256M")
    resize(vm, d, 0)
    rc, out = vm.run("rmmod hotdimm", 180)
    expect(rc == 0, f"rmmod failed: {out.strip()}")
    check_clean(vm, base, "rmmod after async_probe=1")


@scenario("emulated-shrink-busy")
def sc_shrink_busy(vm, ctx):
    """Shrink to 0 while a process and tmpfs hold data in the DIMM."""
    base = snapshot(vm)
    insmod(vm, f"dimms=1G@{HIDDEN:#x} online_policy=movable dyndbg=+p")
    d = Dev(vm, 0)
    resize(vm, d, GiB)
    a = check_device(vm, d, base)
    expect(a["blocks"] == "M" * 8, f"online_policy=movable gave blocks {a['blocks']}")
    end = HIDDEN + GiB
    inrange, ready = memhold_start(vm, 384, HIDDEN, end)
    ctx.note(f"memhold: {ready}")
    # tmpfs (shmem) data too.
    vm.sh("mkdir -p /mnt/t && mount -t tmpfs -o size=200M tmpfs /mnt/t && "
          "dd if=/dev/urandom of=/mnt/t/data bs=1M count=128 2>/dev/null && "
          "md5sum /mnt/t/data > /tmp/t.md5", 300)
    free_hot = vm.sh("cat /proc/meminfo | grep -E '^(MemFree|Shmem|AnonPages):'")
    ctx.note(free_hot.strip())
    expect(inrange > 0, "none of memhold's pages landed in the DIMM; the test would prove nothing")
    resize(vm, d, 0, timeout=300)
    check_step(vm, [d], base, ctx, "shrink to 0 with data")
    res = memhold_verify(vm)
    ctx.note(f"memhold: {res}")
    expect("verify ok" in res, f"anonymous memory corrupted: {res.splitlines()[-1]}")
    expect("inrange=0" in res, f"pages still in the unplugged range: {res.splitlines()[-1]}")
    rc, out = vm.run("md5sum -c /tmp/t.md5", 300)
    expect(rc == 0, f"tmpfs data corrupted: {out.strip()}")
    vm.sh("rm -f /mnt/t/data && umount /mnt/t")
    unload_hotdimm(vm)
    check_clean(vm, base, "rmmod")


def _reset(vm):
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; "
           "umount /mnt/t 2>/dev/null; rm -f /tmp/memhold.*")
    unload_hotdimm(vm)


GROUPS = [
    Group("emulated",
          [sc_resize, sc_two, sc_bad_dimms, sc_bad_sysfs, sc_reload, sc_async_probe,
           sc_shrink_busy],
          vm=dict(mem="4G", append="mem=1G"),
          needs=("module", "memhold"),
          reset=_reset),
]
