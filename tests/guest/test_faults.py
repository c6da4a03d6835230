# SPDX-License-Identifier: GPL-2.0
"""Fault injection with the kernel's memory notifier error injector
(memory-notifier-error-inject.ko, a module of every supported Debian
kernel): hotdimm reports, retries or gives up as documented, says each
error once, and converges once the fault stops."""
import re
import time

import hotdimm_vm as hv
from hotdimm_vm import Dev, GiB, Group, MiB, expect, scenario

HIDDEN = 0x100000000
INJECT = "/sys/kernel/debug/notifier-error-inject/memory/actions"


def inject(vm, action, errno):
    vm.sh(f"echo {errno} > {INJECT}/{action}/error")


def load_injector(vm):
    vm.sh("for m in notifier_error_inject memory_notifier_error_inject; do "
          "grep -q \"^$m \" /proc/modules || insmod /lib/modules/$m.ko; done; "
          f"[ -d {INJECT}/MEM_GOING_OFFLINE ]")


@scenario("faults-offline-eio-logged-once")
def sc_offline_eio(vm, ctx):
    """Offlining fails with EIO (MEM_GOING_OFFLINE): a shrink never gives up
    but retries every 60 s, logs the error once per block (repeats go to
    the debug log), and completes once the fault is gone."""
    load_injector(vm)
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{HIDDEN:#x} online_policy=movable dyndbg=+p")
    d = Dev(vm, 0)
    d.set_requested(256 * MiB)
    expect(d.wait_plugged(256 * MiB, 120), "plug 256 MiB")
    mark = len(vm.dmesg().splitlines())
    inject(vm, "MEM_GOING_OFFLINE", -5)
    d.set_requested(0)
    # Two attempts of the last block: the first, then the one 60 s later.
    ok = vm.wait_until(f"[ $(dmesg | tail -n +{mark + 1} | grep -c 'failed again (-5)') -ge 1 ]",
                       150)
    lines = vm.dmesg().splitlines()[mark:]
    errs = [ln for ln in lines if "failed: device error (-5); retrying every 60 s" in ln]
    again = [ln for ln in lines if "failed again (-5)" in ln]
    st = d.attr("status")
    ctx.note(f"status {st!r}; {len(errs)} error line(s), {len(again)} repeat(s) at debug level")
    print(f"# offline EIO: {len(errs)} error line(s) for {len(again) + len(errs)} failed "
          "attempts", flush=True)
    expect(ok, f"no second attempt within 150 s (status {st!r})")
    blocks = [re.search(r"of block (\d+) ", ln).group(1) for ln in errs]
    expect(errs and len(blocks) == len(set(blocks)),
           f"an error was logged more than once per block: {errs[:4]}")
    m = re.search(r"next attempt in (\d+) s", st)
    expect(st.startswith("retrying: ") and "device error" in st and
           (m is None or int(m.group(1)) <= 60), f"status {st!r}")
    expect(int(d.attr("plugged_size")) > 0, "memory went although offlining fails")
    # The fault stops: the next retry (at most 60 s away) takes the rest.
    inject(vm, "MEM_GOING_OFFLINE", 0)
    expect(d.wait_plugged(0, 90), f"did not converge after the fault stopped: "
           f"{d.attr('plugged_size')} plugged, status {d.attr('status')!r}")
    a = hv.check_device(vm, d, None)
    expect(a["status"] == "ok", f"status {a['status']!r} after converging")


@scenario("faults-online-refused")
def sc_online_refused(vm, ctx):
    """Onlining fails (MEM_GOING_ONLINE refused with EBUSY): hotdimm backs
    off and retries, the blocks are never counted as online, and the plug
    completes once the fault stops."""
    load_injector(vm)
    vm.sh(f"insmod /hotdimm.ko dimms=1G@{HIDDEN:#x} online_policy=movable dyndbg=+p")
    d = Dev(vm, 0)
    inject(vm, "MEM_GOING_ONLINE", -16)
    d.set_requested(256 * MiB)
    time.sleep(5)
    a = hv.check_device(vm, d, None)
    ctx.note(f"while refused: blocks {a['blocks']}, status {a['status']!r}")
    expect(int(a["kernel_size"]) + int(a["movable_size"]) == 0,
           f"blocks counted online although onlining fails: {a['blocks']}")
    expect(a["status"].startswith("retrying: online"), f"status {a['status']!r}")
    inject(vm, "MEM_GOING_ONLINE", 0)
    expect(vm.wait_until(f'[ "$(cat {d.path}/movable_size)" = "{256 * MiB}" ]', 120),
           f"did not come online after the fault stopped: {d.attr('blocks')} "
           f"status {d.attr('status')!r}")
    hv.check_device(vm, d, None)
    d.set_requested(0)
    expect(d.wait_plugged(0, 120), "shrink to 0")


def reset(vm):
    vm.run(f"echo 0 > {INJECT}/MEM_GOING_OFFLINE/error 2>/dev/null; "
           f"echo 0 > {INJECT}/MEM_GOING_ONLINE/error 2>/dev/null")
    hv.unload_hotdimm(vm)


GROUPS = [Group("faults", [sc_offline_eio, sc_online_refused],
                vm=dict(mem="5G", append="mem=1G"), reset=reset)]
