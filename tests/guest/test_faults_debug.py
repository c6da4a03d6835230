# SPDX-License-Identifier: GPL-2.0
"""Allocation failures injected into hotdimm's worker (debug kernel only).

The kernel's fault injection (debugfs failslab and fail_page_alloc) is
pointed at the worker thread of the device, hotdimm/0, alone: task-filter=Y
and /proc/<pid>/make-it-fail=1, ignore-gfp-wait=N (sleeping allocations
fail too), verbose=1 (one "FAULT_INJECTION: forcing a failure" line per
fault, no stack). Everything the worker allocates fails: hotdimm's own
memory, the memmap and memory block devices of a block being added
(add_memory_driver_managed), the migration targets of a block being
offlined. Each scenario checks that hotdimm reports and retries as the
README says (status `retrying: ...`, plugged size never beyond the request,
counters consistent while the faults last), converges once the faults
stop, and that data held in the memory (/bin/memhold) survives.
One scenario (faults-debug-virtio-adopt) points failslab at the kernel's
workers (every kworker) instead: the adoption of a virtio-mem device runs
there.

Only kernels built with CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
CONFIG_FAULT_INJECTION_DEBUG_FS (scripts/debug-kernel.sh) run these; on
the others the groups do not apply (tests/guest/run prints a "#" line, no
PASS). A guest that lacks the debugfs files although its config has them
fails.

A failed allocation may make the kernel print an allocation-failure report
with a stack ("vmemmap alloc failure: order:9 ..., Call Trace:"): that is
the injected fault, not a bug, and is accepted only right after such a
failure line; any other bad kernel log line fails the scenario.
"""
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hotdimm_vm as hv  # noqa: E402
from hotdimm_vm import Dev, GiB, Group, MiB, expect, scenario  # noqa: E402
import test_virtio as tv  # noqa: E402

HIDDEN = 0x100000000
DBG = "/sys/kernel/debug"
ATTRS = ("failslab", "fail_page_alloc")
TIMES = 100000
# A "Call Trace:" that belongs to one of these is the injected fault.
ALLOC_FAIL = re.compile(r"alloc(ation)? failure|FAULT_INJECTION: forcing a failure")
# While memory is added, page allocations fail only from order 1 on: on
# x86 the kernel's own direct-map setup for new memory (init_memory_mapping
# -> phys_pud_init) does not check alloc_low_page() for NULL, so an
# order-0 failure there is a NULL dereference in the kernel (seen on the
# debug 6.1 kernel), not something a driver can handle. hotdimm's own
# allocations fail through failslab; the memmap (order 9) still fails.
GROW_MIN_ORDER = 1


def worker_pid(vm, n=0):
    out = vm.sh(f'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = "hotdimm/{n}" ] '
                '&& echo ${p#/proc/}; done; true')
    pids = out.split()
    expect(len(pids) == 1, f"hotdimm/{n} worker thread: pids {pids}")
    return int(pids[0])


def inject(vm, pid, probability=100, interval=1, times=TIMES, which=ATTRS, min_order=0):
    """Fail the allocations of task pid (both kinds unless `which`); with
    pid None, of the tasks the caller marks with make-it-fail itself."""
    cmds = []
    for a in which:
        d = f"{DBG}/{a}"
        cmds += [f"[ -d {d} ] || {{ echo no {d}; exit 1; }}",
                 f"echo Y > {d}/task-filter", f"echo N > {d}/ignore-gfp-wait",
                 f"echo 1 > {d}/verbose", f"echo 0 > {d}/space",
                 f"echo {interval} > {d}/interval", f"echo {times} > {d}/times",
                 f"echo {probability} > {d}/probability"]
        if a == "fail_page_alloc":
            cmds += [f"echo N > {d}/ignore-gfp-highmem", f"echo {min_order} > {d}/min-order"]
    if pid is not None:
        cmds.append(f"echo 1 > /proc/{pid}/make-it-fail")
    vm.sh(" && ".join(cmds))


def stop(vm, pid=None, times=TIMES, which=ATTRS):
    """No more faults; returns {attr: number injected since inject(...,
    times=times)} for the attrs in `which`."""
    cmd = "; ".join(f"echo 0 > {DBG}/{a}/probability" for a in ATTRS)
    if pid is not None:
        cmd += f"; echo 0 > /proc/{pid}/make-it-fail 2>/dev/null"
    vm.run(cmd)
    left = {}
    for a in which:
        rc, out = vm.run(f"cat {DBG}/{a}/times")
        left[a] = times - int(out) if rc == 0 and out.strip().lstrip("-").isdigit() else 0
    return left


def begin_faults(vm):
    """Before injecting: no bad kernel log line so far (the window after
    this is judged by accept_alloc_failures). Returns the dmesg mark."""
    bad = vm.check_log()
    expect(not bad, f"kernel log before the faults: {bad[0] if bad else ''}")
    return len(vm.dmesg().splitlines())


def accept_alloc_failures(vm, mark, ctx):
    """Bad kernel log lines since dmesg line `mark`: only allocation-failure
    reports (their Call Trace) are accepted; anything else fails. Advances
    the runner's bad-line window past them."""
    lines = vm.dmesg().splitlines()[mark:]
    unexpected, reports = [], 0
    for i, ln in enumerate(lines):
        if not hv._BAD_RE.search(ln):
            continue
        if "Call Trace" in ln and any(ALLOC_FAIL.search(x) for x in lines[max(0, i - 12):i]):
            reports += 1
            continue
        unexpected.append(ln.strip())
    vm.check_log()
    if reports:
        ctx.note(f"{reports} allocation-failure report(s) with a stack (injected faults)")
    if unexpected:
        more = f" (+{len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise hv.Fail(f"kernel log while injecting: {unexpected[0]}{more}")


def start_memhold(vm, ctx, mib, start, end):
    vm.sh(f"memhold {mib} {start:#x} {end:#x} > /tmp/memhold.out 2>&1 & "
          "echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 180),
           "memhold did not get ready: " + vm.run("cat /tmp/memhold.out")[1].strip())
    ready = vm.read("/tmp/memhold.out")
    ctx.note(f"memhold: {ready}")
    inrange = int(re.search(r"inrange=(-?\d+)", ready).group(1))
    expect(inrange > 0, f"none of memhold's pages is in hotdimm's memory: {ready}")


def verify_memhold(vm, ctx):
    vm.sh("kill -USR1 $(cat /tmp/memhold.pid)")
    expect(vm.wait_until("grep -q verify /tmp/memhold.out", 180), "memhold did not verify")
    res = vm.read("/tmp/memhold.out")
    ctx.note(f"memhold: {res}")
    expect("verify ok" in res, f"held data corrupted: {res.splitlines()[-1]}")
    expect("inrange=0" in res, f"pages still in unplugged memory: {res.splitlines()[-1]}")


def settle_check(vm, d, ctx, what, tries=1):
    """hotdimm's counters, its blocks, the memoryN blocks and /proc/iomem
    agree (check_device); notes them. Returns the attrs. While the worker
    is busy the reads can straddle a block being added or removed: up to
    `tries` reads a second apart, the first that agrees counts. After the
    faults, a check waits for wait_converged() (status 'ok' too), not for
    plugged_size alone: an emptied block whose removal failed waits for its
    retry, which can remove it between the reads (seen on the debug kernel,
    where the reads took 28 s and the retry came 32 s after the failure)."""
    for i in range(tries):
        try:
            a = hv.check_device(vm, d, None)
            break
        except hv.Fail as e:
            if i == tries - 1:
                raise hv.Fail(f"{what}: {e}") from None
            time.sleep(1)
    ctx.note(f"{what}: plugged {int(a['plugged_size']) >> 20} MiB, blocks {a['blocks']}, "
             f"status {a['status']!r}")
    return a


def wait_retrying(vm, d, timeout=90):
    return vm.wait_until(f"grep -q '^retrying' {d.path}/status", timeout)


def while_failing(vm, d, pid, mark, ctx, timeout):
    """Faults are on: wait for status 'retrying', check the counters, stop
    the faults; fail unless faults were injected and status said so.
    Returns the attrs seen while failing."""
    retrying = wait_retrying(vm, d, timeout)
    a = settle_check(vm, d, ctx, "while failing", tries=10)
    n = stop(vm, pid)
    ctx.note(f"faults injected: {n}")
    accept_alloc_failures(vm, mark, ctx)
    expect(sum(n.values()) > 0, "no allocation of the worker failed: the test proved nothing")
    expect(retrying, f"status never said retrying while allocations failed: {a['status']!r}")
    return a


# -- emulated DIMM -------------------------------------------------------------

@scenario("faults-debug-plug-failslab")
def sc_plug(vm, ctx):
    """Growing while every allocation of the worker fails: nothing is
    plugged beyond what was there, status says retrying, the counters stay
    consistent; once the faults stop the request is met."""
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{HIDDEN:#x} online_policy=movable dyndbg=+p")
    d = Dev(vm, 0)
    base = vm.meminfo()["MemTotal"]
    d.set_requested(256 * MiB)
    expect(d.wait_plugged(256 * MiB, 180), "plug 256 MiB without faults")
    pid = worker_pid(vm)
    mark = begin_faults(vm)
    inject(vm, pid, min_order=GROW_MIN_ORDER)
    d.set_requested(768 * MiB)
    a = while_failing(vm, d, pid, mark, ctx, 90)
    expect(int(a["plugged_size"]) < 768 * MiB,
           f"plugged {int(a['plugged_size']) >> 20} MiB although every allocation failed")
    d.wait_converged(768 * MiB, 240)
    a = settle_check(vm, d, ctx, "converged")
    expect(a["status"].startswith("ok"), f"status {a['status']!r} after converging")
    hv.check_memtotal(vm, base, 768 * MiB)
    d.set_requested(0)
    expect(d.wait_plugged(0, 180), "shrink to 0")


@scenario("faults-debug-unplug-page-alloc")
def sc_unplug(vm, ctx):
    """Shrinking while the worker's page allocations (migration targets)
    fail, with patterned data in the DIMM: the data survives, the blocks it
    sits in stay until the faults stop, then everything goes."""
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{HIDDEN:#x} online_policy=movable dyndbg=+p")
    d = Dev(vm, 0)
    base = vm.meminfo()["MemTotal"]
    d.set_requested(GiB)
    expect(d.wait_plugged(GiB, 240), "plug 1 GiB without faults")
    start_memhold(vm, ctx, 192, HIDDEN, HIDDEN + GiB)
    pid = worker_pid(vm)
    mark = begin_faults(vm)
    inject(vm, pid)
    d.set_requested(0)
    a = while_failing(vm, d, pid, mark, ctx, 120)
    expect(int(a["plugged_size"]) > 0, "all memory went although migrating the held data failed")
    d.wait_converged(0, 240)
    settle_check(vm, d, ctx, "converged")
    hv.check_memtotal(vm, base, 0)
    verify_memhold(vm, ctx)


@scenario("faults-debug-intermittent")
def sc_intermittent(vm, ctx):
    """Every 5th allocation of the worker fails for 45 s while it grows to
    1 GiB, and again for 45 s while it shrinks back to 0 with data held;
    then the faults stop and hotdimm must get there by itself (its retries
    and backoff, nothing written to it)."""
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{HIDDEN:#x} online_policy=movable dyndbg=+p")
    d = Dev(vm, 0)
    pid = worker_pid(vm)
    mark = begin_faults(vm)
    inject(vm, pid, interval=5, min_order=GROW_MIN_ORDER)
    d.set_requested(GiB)
    time.sleep(45)
    a = settle_check(vm, d, ctx, "growing with faults", tries=10)
    n = stop(vm, pid)
    ctx.note(f"faults injected (grow): {n}")
    expect(sum(n.values()) > 0, "no allocation of the worker failed while growing")
    d.wait_converged(GiB, 300)
    settle_check(vm, d, ctx, "grown")
    start_memhold(vm, ctx, 192, HIDDEN, HIDDEN + GiB)
    inject(vm, pid, interval=5)
    d.set_requested(0)
    time.sleep(45)
    a = settle_check(vm, d, ctx, "shrinking with faults", tries=10)
    n = stop(vm, pid)
    ctx.note(f"faults injected (shrink): {n}")
    accept_alloc_failures(vm, mark, ctx)
    expect(sum(n.values()) > 0, "no allocation of the worker failed while shrinking")
    ctx.note(f"status while failing: {a['status']!r}")
    d.wait_converged(0, 300)
    settle_check(vm, d, ctx, "shrunk")
    verify_memhold(vm, ctx)


def reset(vm):
    stop(vm)
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/memhold.*")
    hv.unload_hotdimm(vm)


# -- virtio-mem, resized through QMP -------------------------------------------

def qom(vm, prop):
    return int(vm.qmp("qom-get", path="vm0", property=prop))


def virtio_dev(vm):
    addr = qom(vm, "memaddr")
    for n in hv.devices(vm):
        if int(Dev(vm, n).attr("region_start"), 16) == addr:
            return Dev(vm, n)
    raise hv.Fail(f"no hotdimm device for vm0 (region {addr:#x})")


def check_qmp_agrees(vm, d, size, ctx, what):
    a = settle_check(vm, d, ctx, what)
    q = qom(vm, "size")
    expect(q == int(a["plugged_size"]) == size,
           f"{what}: QMP size {q >> 20} MiB, plugged_size {int(a['plugged_size']) >> 20} MiB, "
           f"want {size >> 20} MiB")


@scenario("faults-debug-virtio")
def sc_virtio(vm, ctx):
    """virtio-mem resized with QMP qom-set requested-size: a grow while the
    worker's slab allocations fail, then a shrink with held data while its
    page allocations fail; QEMU's size, plugged_size, the blocks and
    MemTotal agree after each."""
    vm.sh("insmod /hotdimm.ko online_policy=movable dyndbg=+p")
    d = virtio_dev(vm)
    base = vm.meminfo()["MemTotal"]
    pid = worker_pid(vm, d.n)
    start = qom(vm, "memaddr")
    mark = begin_faults(vm)
    inject(vm, pid, which=("failslab",))
    vm.qmp("qom-set", path="vm0", property="requested-size", value=GiB)
    retrying = wait_retrying(vm, d)
    a = settle_check(vm, d, ctx, "grow while failing", tries=10)
    n = stop(vm, pid)
    ctx.note(f"faults injected (grow): {n}")
    accept_alloc_failures(vm, mark, ctx)
    expect(n["failslab"] > 0, "no slab allocation of the worker failed: the grow proved nothing")
    expect(retrying, f"status never said retrying: {a['status']!r}")
    d.wait_converged(GiB, 180)
    check_qmp_agrees(vm, d, GiB, ctx, "grown")
    hv.check_memtotal(vm, base, GiB)
    start_memhold(vm, ctx, 192, start, start + 2 * GiB)
    mark = begin_faults(vm)
    inject(vm, pid, which=("fail_page_alloc",))
    vm.qmp("qom-set", path="vm0", property="requested-size", value=0)
    time.sleep(15)
    a = settle_check(vm, d, ctx, "shrink while failing", tries=10)
    n = stop(vm, pid)
    ctx.note(f"faults injected (shrink): {n}")
    accept_alloc_failures(vm, mark, ctx)
    expect(n["fail_page_alloc"] > 0, "no page allocation of the worker failed: "
           "the shrink proved nothing")
    expect(int(a["plugged_size"]) > 0, "all memory went although migrating the held data failed")
    d.wait_converged(0, 240)
    check_qmp_agrees(vm, d, 0, ctx, "shrunk")
    hv.check_memtotal(vm, base, 0)
    verify_memhold(vm, ctx)


# Every kworker gets make-it-fail while this runs (new ones too: a kworker
# created later does not inherit it), until /tmp/kw.stop exists; the number
# of passes done is in /tmp/kw.pass.
KWORKER_FAIL = ("n=0; while [ ! -e /tmp/kw.stop ]; do for p in /proc/[0-9]*; do "
                "case \"$(cat $p/comm 2>/dev/null)\" in kworker/*) "
                "echo 1 > $p/make-it-fail 2>/dev/null;; esac; done; "
                "n=$((n + 1)); echo $n > /tmp/kw.pass; sleep 0.2; done; "
                "for p in /proc/[0-9]*; do echo 0 > $p/make-it-fail 2>/dev/null; done; "
                "echo done > /tmp/kw.stop")
ADOPT_FAILED = r"adopted device not managed yet: creating its hotdimm device failed"


@scenario("faults-debug-virtio-adopt")
def sc_adopt(vm, ctx):
    """An adoption whose registration fails (review defect 7): memory left
    plugged by an earlier load (rmmod while the host is busy), insmod while
    still busy (UNPLUG_ALL retried in the background); then every slab
    allocation of the kernel's workers fails (failslab on all kworkers,
    where the adoption runs) and the host stops being busy: UNPLUG_ALL
    succeeds, creating the hotdimm device fails. dmesg says so once,
    although it is retried with backoff for 25 s; no device exists
    meanwhile. Once the faults stop the next retry creates the device,
    which plugs the requested size again: QEMU, sysfs and MemTotal agree."""
    vm.sh("insmod /hotdimm.ko online_policy=movable dyndbg=+p")
    d = virtio_dev(vm)
    base = vm.meminfo()["MemTotal"]
    vm.qmp("qom-set", path="vm0", property="requested-size", value=512 * MiB)
    expect(d.wait_plugged(512 * MiB, 180), "plug 512 MiB")
    with tv.HostBusy(vm, ctx) as busy:
        vm.sh("rmmod hotdimm", timeout=180)
        left = qom(vm, "size")
        expect(left > 0, "nothing stayed plugged after rmmod while busy: no adoption to test")
        ctx.note(f"plugged at the host after rmmod: {left >> 20} MiB")
        mark = tv.dmesg_len(vm)
        vm.sh("insmod /hotdimm.ko online_policy=movable dyndbg=+p")
        expect(vm.wait_until("dmesg | grep -q 'retrying UNPLUG_ALL in the background'", 30),
               "insmod while busy did not leave UNPLUG_ALL to the background")
        fmark = begin_faults(vm)
        vm.sh("rm -f /tmp/kw.stop /tmp/kw.pass; (" + KWORKER_FAIL + ") > /dev/null 2>&1 &")
        inject(vm, None, which=("failslab",))
        # Every kworker marked (twice) before the adoption can go on.
        expect(vm.wait_until("[ \"$(cat /tmp/kw.pass 2>/dev/null)\" -ge 2 ]", 120),
               "the kworkers were not marked for failslab")
        busy.end()
        failed = vm.wait_until(f"dmesg | grep -q '{ADOPT_FAILED}'", 60)
        t0 = time.monotonic()
        if failed:
            time.sleep(25)
        log = tv.dmesg_since(vm, mark)
        devs = hv.devices(vm)
        vm.sh("touch /tmp/kw.stop")
        n = stop(vm, which=("failslab",))
        vm.wait_until("grep -q done /tmp/kw.stop", 30)
    ctx.note(f"faults injected: {n}; failing for {time.monotonic() - t0:.0f} s after the "
             f"first failure")
    accept_alloc_failures(vm, fmark, ctx)
    expect(n["failslab"] > 0, "no slab allocation failed: the test proved nothing")
    expect(tv.grep_log(log, r"UNPLUG_ALL done: adopted the device"),
           "UNPLUG_ALL did not succeed once the host was no longer busy")
    expect(not devs, f"a hotdimm device exists although its creation failed: {devs}")
    expect(vm.wait_until(f"[ -e {hv.PLATFORM}/hotdimm.0 ]", 60),
           "the adopted device was not created after the faults stopped (virtio-mem "
           f"device bound, no hotdimm device; dmesg: {tv.grep_log(log, 'hotdimm device')})")
    said = tv.grep_log(log, ADOPT_FAILED)
    expect(failed and said, "the failed registration of the adopted device was not reported")
    expect(len(said) == 1, f"the failure was reported {len(said)} times, not once: {said[-1]}")
    retries = tv.grep_log(log, r"registration: next try in")
    ctx.note(f"registration retried {len(retries)} times while failing")
    expect(len(retries) >= 2, f"registration retried {len(retries)} times in 25 s")
    d = virtio_dev(vm)
    expect(d.wait_plugged(512 * MiB, 180), f"adopted device did not plug the request: "
           f"{d.attr('plugged_size')}, status {d.attr('status')!r}")
    check_qmp_agrees(vm, d, 512 * MiB, ctx, "adopted")
    hv.check_memtotal(vm, base, 512 * MiB)


def reset_virtio(vm):
    vm.run("touch /tmp/kw.stop")
    stop(vm)
    vm.run("kill $(cat /tmp/memhold.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/memhold.*")
    vm.qmp("qom-set", path="vm0", property="requested-size", value=0)
    hv.unload_hotdimm(vm)
    s = qom(vm, "size")
    if s:
        raise hv.Fail(f"vm0 still has {s >> 20} MiB plugged after the reset")


KCONFIG = ("CONFIG_FAILSLAB", "CONFIG_FAIL_PAGE_ALLOC", "CONFIG_FAULT_INJECTION_DEBUG_FS")
GROUPS = [
    Group("faults-debug", [sc_plug, sc_unplug, sc_intermittent],
          vm=dict(mem="5G", append="mem=1G"), needs=("module", "memhold"),
          reset=reset, kconfig=KCONFIG),
    Group("faults-debug-virtio", [sc_virtio, sc_adopt],
          vm=dict(mem="1G", maxmem="3G", qemu_args=[
              "-object", "memory-backend-ram,id=vmem0,size=2G",
              "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"]),
          needs=("module", "memhold"), reset=reset_virtio, kconfig=KCONFIG),
]
