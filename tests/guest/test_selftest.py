# SPDX-License-Identifier: GPL-2.0
"""The kernel's own memory-hotplug selftest on hotdimm's blocks.

tools/testing/selftests/memory-hotplug/mem-on-off-test.sh is taken from
Debian's linux-source-6.1 tarball (scripts/deps.sh installs it) when the
test runs, never kept in this repository, and run unchanged with the
guest's /bin/bash on every kernel.

The script works on every memory block whose `removable` reads 1. On these
kernels that is every block (the attribute no longer says anything), boot
memory included, so "only hotdimm's blocks are removable" cannot be
arranged. Instead hotdimm's 1 GiB DIMM sits at 1 GiB (blocks 8-15) next to
1 GiB of boot memory (blocks 0-7), and the script runs with `-r 25`: it
offlines 25% of the online blocks (4 of 16) in glob order, memory0,
memory1, memory10..memory15, ..., so hotdimm's blocks 10-12 are among the
first it takes (boot blocks 0 and 1 mostly refuse: kernel data). Its
notifier part (memory-notifier-error-inject, loaded by the script through
busybox modprobe from a module tree made for it) offlines a random 25%,
checks that onlining fails under an injected -ENOMEM and offlining under
an injected error, and onlines everything again. The last hotdimm block is
partly plugged (6 of 64 device blocks unplugged), so the administrator's
offline/online of a block with holes runs through hotdimm's notifier too.
The guest uses memory_hotplug.online_policy=auto-movable (see GROUPS).

Passing means: exit status 0; the output has no FAILED / unexpected /
skip line and reached the notifier part; at least one hotdimm block was
offlined by the script (its "online->offline memoryN" followed by
"-> Success"); afterwards hotdimm's counters, its blocks, the memoryN
blocks and /proc/iomem agree (check_device), and hotdimm shrinks to 0 with
no hotdimm range left in /proc/iomem.
"""
import os
import re
import subprocess
import time

import hotdimm_vm as hv
from hotdimm_vm import Dev, GiB, Group, MiB, expect, scenario

DIMM = 0x40000000
TARBALL = "/usr/src/linux-source-6.1.tar.xz"
MEMBER = "linux-source-6.1/tools/testing/selftests/memory-hotplug/mem-on-off-test.sh"
CACHE = hv.BUILD / "selftest" / "mem-on-off-test.sh"
GUEST_SCRIPT = "/tmp/mem-on-off-test.sh"
RATIO = 25
# What busybox modprobe needs to load the injector by name, as the script does.
MODTREE = ('D=/lib/modules/$(uname -r); mkdir -p $D; : > $D/modules.dep; '
           'dep=; for m in notifier_error_inject memory_notifier_error_inject; do '
           '  f=$(echo $m | tr _ -).ko; '
           '  [ -f /lib/modules/$m.ko ] || continue; '
           '  cp /lib/modules/$m.ko $D/$f; echo "$f:$dep" >> $D/modules.dep; dep=" $f"; '
           'done; cat $D/modules.dep')


def selftest_script():
    """The script's text from the linux-source tarball (cached under build/
    while the tarball does not change)."""
    try:
        st = os.stat(TARBALL)
    except OSError:
        raise hv.Fail(f"no {TARBALL} (scripts/deps.sh installs linux-source-6.1)")
    key = CACHE.with_suffix(".key")
    want = f"{st.st_size} {st.st_mtime_ns}"
    if not CACHE.exists() or not key.exists() or key.read_text() != want:
        p = subprocess.run(["tar", "-xJOf", TARBALL, MEMBER], capture_output=True)
        expect(p.returncode == 0 and p.stdout.startswith(b"#!/bin/bash"),
               f"cannot extract {MEMBER}: {p.stderr.decode(errors='replace').strip()[-200:]}")
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_bytes(p.stdout)
        key.write_text(want)
    return CACHE.read_bytes()


def offline_results(out):
    """{block: "Success"|"Failure"} from the script's first offline pass."""
    res = {}
    cur = None
    for line in out.splitlines():
        m = re.match(r"online->offline memory(\d+)$", line.strip())
        if m:
            cur = int(m.group(1))
        elif cur is not None and line.strip() in ("-> Success", "-> Failure"):
            res[cur] = line.strip()[3:]
            cur = None
    return res


@scenario("selftest-mem-on-off")
def sc_mem_on_off(vm, ctx):
    script = selftest_script()
    vm.put_file(GUEST_SCRIPT, script, 0o755)
    ctx.note(vm.sh(MODTREE))
    # The injector must load by name, else the script skips its notifier
    # part and still exits 0.
    vm.sh("modprobe -q memory-notifier-error-inject && "
          "[ -d /sys/kernel/debug/notifier-error-inject/memory ] && "
          "modprobe -q -r memory-notifier-error-inject")
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{DIMM:#x} online_policy=movable")
    d = Dev(vm, 0)
    want = GiB - 12 * MiB
    d.set_requested(want)
    expect(d.wait_plugged(want, 180), f"plug {want >> 20} MiB: plugged {d.attr('plugged_size')}, "
           f"status {d.attr('status')!r}")
    a = hv.check_device(vm, d, None)
    ctx.note(f"before: blocks {a['blocks']}")
    first = DIMM // (128 * MiB)
    ours = range(first, first + 8)
    t0 = time.monotonic()
    # The xtrace (to its own file) shows which blocks went through the
    # notifier part, whose loops print nothing unless something fails.
    rc, out = vm.run(f"BASH_XTRACEFD=9 bash -x {GUEST_SCRIPT} -r {RATIO} 9>/tmp/selftest.trace 2>&1",
                     240)
    ctx.note(f"mem-on-off-test.sh -r {RATIO}: exit {rc} after {time.monotonic() - t0:.0f}s\n{out}")
    trace = vm.run("cat /tmp/selftest.trace; rm -f /tmp/selftest.trace")[1]
    inj = {k: sorted({int(b) for b in re.findall(rf"^\++ {k} (\d+)$", trace, re.M)})
           for k in ("online_memory_expect_fail", "offline_memory_expect_fail")}
    ctx.note(f"blocks checked under injected errors: {inj}")
    print(f"# selftest mem-on-off-test.sh ran {time.monotonic() - t0:.0f}s; under injected "
          f"errors: online refused for {inj['online_memory_expect_fail']}, offline refused for "
          f"{inj['offline_memory_expect_fail']} (hotdimm's: {first}-{first + 7})", flush=True)
    bad = [ln for ln in out.splitlines()
           if re.search(r"FAILED|unexpected|skip|not available|command not found", ln)]
    last = (bad or out.splitlines() or ["no output"])[-1]
    expect(rc == 0, f"mem-on-off-test.sh exited {rc}: {last}")
    expect(not bad, f"mem-on-off-test.sh: {' | '.join(bad[:3])}")
    expect("Test with memory notifier error injection" in out,
           "the script did not reach its notifier error injection part")
    res = offline_results(out)
    taken = sorted(b for b, r in res.items() if b in ours and r == "Success")
    ctx.note(f"first offline pass: {res}")
    expect(taken, f"the script offlined none of hotdimm's blocks {first}-{first + 7}: {res}")
    # Everything is online again; hotdimm's view agrees with Linux's.
    a = hv.check_device(vm, d, None)
    ctx.note(f"after: blocks {a['blocks']}, status {a['status']!r}")
    expect(int(a["plugged_size"]) == want, f"plugged_size {a['plugged_size']} != {want}")
    expect(not set(a["blocks"]) & set("op"), f"blocks left offline: {a['blocks']}")
    d.set_requested(0)
    expect(d.wait_plugged(0, 180), f"shrink to 0: plugged {d.attr('plugged_size')}, "
           f"status {d.attr('status')!r}, blocks {d.attr('blocks')}")
    a = hv.check_device(vm, d, None)
    expect(a["blocks"] == "-" * 8, f"blocks after shrinking to 0: {a['blocks']}")
    hv.unload_hotdimm(vm)   # fails when a hotdimm range is left in /proc/iomem


def reset(vm):
    vm.run("modprobe -r memory-notifier-error-inject 2>/dev/null; "
           "rm -rf /lib/modules/$(uname -r) " + GUEST_SCRIPT)
    hv.unload_hotdimm(vm)


# auto-movable: the script onlines with a plain `echo online`; under the
# default policy (contig-zones) a hotdimm block next to boot memory would go
# to ZONE_NORMAL (an administrator's choice hotdimm keeps), where kernel
# allocations can pin it and hotdimm could not shrink to 0 afterwards.
GROUPS = [Group("selftest", [sc_mem_on_off],
                vm=dict(mem="3G", append="mem=1G memory_hotplug.online_policy=auto-movable"),
                reset=reset)]
