#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""hotdimm benchmark: hotdimm against the in-tree virtio_mem, side by side.

Run by `make bench` (scripts/bench.sh); see `bench.py --help`.

Every configuration boots the same guest (Debian kernel under QEMU, 1 GiB of
boot memory, 2 vCPUs) and is measured with the same guest-side helper
(tests/bench/hdbench.c, /bin/hdbench in the guest), which starts the clock
at the request and stops it when MemTotal reaches the target:

  a  hotdimm (defaults) driving a virtio-mem device; the in-tree virtio_mem
     is never loaded. Request: QMP qom-set requested-size.
  b  in-tree virtio_mem, memhp_default_state=online (the kernel's defaults
     plus auto-onlining). Request: QMP.
  c  in-tree virtio_mem, memhp_default_state=online
     memory_hotplug.online_policy=auto-movable. Request: QMP.
  d  floor: hotdimm's emulated DIMM over RAM hidden with mem=1G (QEMU -m 11G:
     8 GiB at 4..12 GiB), i.e. the kernel's add+online cost with no device
     protocol. Request: the helper writes requested_size.

For QMP requests the clock starts when the guest sees the virtio-mem
device's interrupt (QEMU raises it on a requested-size change), so the
command channel's latency is never measured.

One boot per configuration and repetition:
  plug 1G, unplug, plug 2G, unplug, plug 4G, unplug, plug 8G
  -> zone split and memory overhead at 8 GiB -> unplug 8G (idle)
  -> [load repetitions] plug 8G, fill memory, request 0, wait 60 s.
Boots go round robin (a b c d, a b c d, ...); after each configuration's
first boot, later ones run only while the time budget (--budget-min) allows,
so `make bench` stays under 30 minutes on a busy machine too (the table says
how many boots ran). Plus two boots with memory_hotplug.memmap_on_memory=1
for hotdimm with and without its memmap_on_memory parameter.

--scale runs only the terabyte rows instead (issue 14): a 2 GiB guest
booted with memory_hotplug.memmap_on_memory=1 and one 1 TiB virtio-mem
device (memory-backend-ram,size=1T,reserve=off; -cpu max,phys-bits=46), one
boot per driver: (a) hotdimm with memmap_on_memory=1 and (c) the in-tree
virtio_mem with auto-onlining and auto-movable. In each: plug 0 -> S and
unplug S -> 0 for S = 16, 64, 128 GiB (--scale-sizes), timed inside the guest
from the device's interrupt to the last MemTotal change (MemTotal does not
grow by all of S when the memmap sits on the new memory), and a linear fit
t = a + b*S per driver and direction with its worst residual (linear or
not). Outputs scale.md (also printed), scale.json; --update-readme replaces
the README's scale section.

Outputs (--out, default build/bench/): results.md (also printed), plug.png
and plug.dat/plug.gp (gnuplot), raw.json (everything measured; --from-json
renders it again), logs/ (every guest's console, commands and dmesg).
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("HOTDIMM_ROOT") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT / "scripts"))

import hotdimm_vm  # noqa: E402
from hotdimm_vm import VM, VMError, build_module, install_signal_cleanup  # noqa: E402

GiB = 1 << 30
MiB = 1 << 20
KiB = 1 << 10

REGION_START = 0x100000000      # virtio-mem region / emulated DIMM
REGION_SIZE = 8 * GiB
BLOCK = 128 * MiB                # x86-64 memory block
PLATFORM = "/sys/bus/platform/devices"
MEMORY = "/sys/devices/system/memory"
VMEM_ARGS = ["-object", "memory-backend-ram,id=vmem0,size=8G",
             "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"]

CONFIGS = {
    "a": dict(label="hotdimm (virtio-mem)", short="hotdimm", kind="virtio",
              driver="hotdimm", mem="1G", maxmem="9G", append="",
              qemu=VMEM_ARGS),
    "b": dict(label="virtio_mem, online", short="virtio_mem online",
              kind="virtio", driver="virtio_mem", mem="1G", maxmem="9G",
              append="memhp_default_state=online", qemu=VMEM_ARGS),
    "c": dict(label="virtio_mem, auto-movable", short="virtio_mem auto-movable",
              kind="virtio", driver="virtio_mem", mem="1G", maxmem="9G",
              append="memhp_default_state=online memory_hotplug.online_policy=auto-movable",
              qemu=VMEM_ARGS),
    "d": dict(label="floor (emulated DIMM)", short="floor", kind="emulated",
              driver="hotdimm", mem="11G", maxmem=None, append="mem=1G",
              qemu=[]),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Unavailable(Exception):
    """A configuration cannot be measured (e.g. the driver does not bind)."""


def kv(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def parse_zoneinfo(text):
    """{zone name: {present, managed, spanned, cma}} for node 0 (the only one)."""
    zones, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^Node (\d+), zone\s+(\S+)", line)
        if m:
            cur = zones.setdefault(m.group(2), {"present": 0, "managed": 0,
                                                "spanned": 0, "cma": 0})
            continue
        m = re.match(r"^\s+(present|managed|spanned|cma)\s+(\d+)$", line)
        if m and cur is not None:
            cur[m.group(1)] += int(m.group(2))
    return zones


def predict_split(kernel_early, cma, nblocks, block_pages, ratio=301):
    """Zone of each block when a device plugs nblocks blocks one by one under
    the auto-movable semantics (README, "Module parameters"; the kernel's
    policy for one dynamic memory group is the same): a block goes movable while
    movable <= ratio% of (boot kernel memory - CMA + the device's own kernel
    memory), counting CMA as movable. Returns a string of 'K'/'M'."""
    dev_k = dev_m = 0
    out = []
    for _ in range(nblocks):
        kernel = max(kernel_early - cma, 0) + dev_k
        movable = cma + dev_m + block_pages
        if ratio and movable <= kernel * ratio // 100:
            out.append("M")
            dev_m += block_pages
        else:
            out.append("K")
            dev_k += block_pages
    return "".join(out)


class Guest:
    """One benchmark boot of a configuration: VM + driver + measurement
    helpers. A thin wrapper over hotdimm_vm.VM."""

    def __init__(self, key, kver, ko, hdbench, name, append_extra="",
                 module_args="", logroot=None):
        self.key = key
        self.cfg = CONFIGS[key]
        self.kver = kver
        self.module_args = module_args
        append = " ".join(x for x in (self.cfg["append"], append_extra) if x)
        self._vm_args = dict(mem=self.cfg["mem"], maxmem=self.cfg["maxmem"],
                             cpu=self.cfg.get("cpu", "max"),
                             append=append, qemu_args=self.cfg["qemu"],
                             extra_files=([ko] if ko else []) + [f"{hdbench}:/bin/hdbench"],
                             name=name, logdir=(logroot / name) if logroot else None,
                             boot_timeout=240, hard_timeout=1500, quiet=True)
        self.vm = VM(kver, **self._vm_args)
        self.irq = None
        self.dev = None          # hotdimm.N path (a, d)
        if self.cfg["driver"] == "hotdimm" and not ko:
            raise Unavailable("hotdimm.ko could not be built (see above)")
        self.base_kb = None      # MemTotal with nothing plugged
        self.seq = 0

    # -- lifecycle -------------------------------------------------------------
    def start(self):
        # A guest that crashes before its userspace is booted again (and
        # said so); see hotdimm_vm.boot().
        first = [self.vm]
        self.vm = hotdimm_vm.boot(
            lambda: first.pop() if first else VM(self.kver, **self._vm_args),
            report=lambda n, e: log(f"  boot retry {n}: {e}"))
        try:
            self._load_driver()
        except BaseException:
            self.stop()
            raise
        self.base_kb = self.meminfo()["MemTotal"]
        return self

    def stop(self):
        self.vm.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def _load_driver(self):
        vm = self.vm
        if self.cfg["driver"] == "virtio_mem":
            rc, out = vm.run("insmod /lib/modules/virtio_mem.ko")
            if rc != 0:
                raise Unavailable(f"insmod virtio_mem failed: {out.strip()}")
            if not vm.wait_until("ls /sys/bus/virtio/drivers/virtio_mem/ 2>/dev/null | grep -q virtio",
                                 timeout=20, interval=0.1):
                raise Unavailable("virtio_mem did not bind the device")
        else:
            args = self.module_args
            if self.cfg["kind"] == "emulated":
                args = f"dimms=8G@{REGION_START:#x} {args}".strip()
            rc, out = vm.run(f"insmod /hotdimm.ko {args}".strip())
            if rc != 0:
                raise Unavailable(f"insmod hotdimm {args} failed: {out.strip()}")
            want = "virtio-mem" if self.cfg["kind"] == "virtio" else "emulated"
            if not vm.wait_until(f"grep -qx {want} {PLATFORM}/hotdimm.*/transport 2>/dev/null",
                                 timeout=20, interval=0.1):
                rc, out = vm.run(f"cat {PLATFORM}/hotdimm.*/transport; dmesg | grep -i hotdimm | tail -5")
                raise Unavailable(f"no hotdimm device with transport {want}: {' | '.join(out.split(chr(10))[-6:])}")
            self.dev = vm.sh(f"grep -lx {want} {PLATFORM}/hotdimm.*/transport | head -n1").strip()
            self.dev = self.dev.rsplit("/", 1)[0]
        if self.cfg["kind"] == "virtio":
            self.irq = self._find_irq()

    def _find_irq(self):
        """Name of the virtio-mem device's config interrupt in
        /proc/interrupts: virtioN-config with MSI-X, virtioN with INTx."""
        out = self.vm.sh("for d in /sys/bus/virtio/devices/*; do "
                         "[ \"$(cat $d/device)\" = 0x0018 ] && basename $d; done; true")
        names = out.split()
        if not names:
            raise Unavailable("no virtio-mem device in the guest")
        dev = names[0]
        irqs = self.vm.read("/proc/interrupts")
        for cand in (f"{dev}-config", dev):
            if re.search(rf"\s{re.escape(cand)}\s*$", irqs, re.M):
                return cand
        raise Unavailable(f"no interrupt for {dev} in /proc/interrupts")

    # -- guest state -------------------------------------------------------------
    def meminfo(self):
        return self.vm.meminfo()

    def zoneinfo(self):
        return parse_zoneinfo(self.vm.read("/proc/zoneinfo"))

    def device_size(self):
        """Bytes the device has plugged: QMP 'size' (virtio-mem), or
        plugged_size (emulated DIMM)."""
        if self.cfg["kind"] == "virtio":
            return int(self.vm.qmp("qom-get", path="vm0", property="size"))
        return int(self.vm.read(f"{self.dev}/plugged_size"))

    def region_blocks(self):
        """Zone of every memory block of the 8 GiB region: a string with
        'M' (ZONE_MOVABLE), 'K' (a kernel zone), 'o' (offline), '-' (absent)."""
        first = REGION_START // BLOCK
        last = (REGION_START + REGION_SIZE) // BLOCK - 1
        out = self.vm.sh(
            f"for i in $(seq {first} {last}); do f={MEMORY}/memory$i; "
            f"if [ -d $f ]; then echo $i $(cat $f/state) $(cat $f/valid_zones); "
            f"else echo $i absent; fi; done")
        s = []
        for line in out.splitlines():
            p = line.split()
            if len(p) < 2:
                continue
            if p[1] == "absent":
                s.append("-")
            elif p[1] != "online":
                s.append("o")
            else:
                s.append("M" if len(p) > 2 and p[2] == "Movable" else "K")
        return "".join(s)

    # -- requests ----------------------------------------------------------------
    def request(self, size, target_kb, timeout, stall=None, trace=False):
        """Ask the device for `size` bytes and time, inside the guest, until
        MemTotal == target_kb. Returns the helper's result (dict) plus the
        device size before ('dev_before') and afterwards ('dev_size'), and
        with trace=True the MemTotal steps [(s, kB)] ('trace')."""
        dev_before = self.device_size()
        self.seq += 1
        n = self.seq
        opts = f"--target-kb {target_kb} --timeout {timeout} --trace /tmp/hdb.trace.{n}"
        if stall:
            opts += f" --stall {stall}"
        vm = self.vm
        t_host = time.monotonic()
        if self.cfg["kind"] == "virtio":
            out_file = f"/tmp/hdb.out.{n}"
            vm.sh(f"rm -f /tmp/hdb.armed {out_file}; "
                  f"setsid /bin/hdbench wait {opts} --irq {self.irq} --armed /tmp/hdb.armed "
                  f"--out {out_file} > /tmp/hdb.err.{n} 2>&1 < /dev/null & "
                  f"i=0; while [ ! -e /tmp/hdb.armed ]; do usleep 1000; i=$((i+1)); "
                  f"if [ $i -gt 20000 ]; then cat /tmp/hdb.err.{n}; exit 1; fi; done")
            t_host = time.monotonic()
            vm.qmp("qom-set", path="vm0", property="requested-size", value=int(size))
            # The helper ends by itself (done, stalled or timeout).
            rc, out = vm.run(f"i=0; while [ ! -e {out_file} ]; do usleep 20000; i=$((i+1)); "
                             f"if [ $i -gt {int((timeout + 30) * 50)} ]; then break; fi; done; "
                             f"cat {out_file} /tmp/hdb.err.{n} 2>/dev/null",
                             timeout=timeout + 60)
        else:
            rc, out = vm.run(f"/bin/hdbench wait {opts} --write {self.dev}/requested_size={int(size)}",
                             timeout=timeout + 60)
        res = kv(out)
        res["host_s"] = time.monotonic() - t_host
        if "done" not in res:
            res["error"] = res.get("error") or f"helper failed: {out.strip()[-200:]}"
            res["done"] = "0"
        res = {k: (float(v) if isinstance(v, str) and re.fullmatch(r"-?[0-9.]+", v) else v)
               for k, v in res.items()}
        res["done"] = int(res.get("done", 0))
        res["dev_size"] = self._settled_size(size if res["done"] else None)
        res["dev_before"] = dev_before
        res["size"] = size
        if trace:
            rc, txt = vm.run(f"cat /tmp/hdb.trace.{n}")
            res["trace"] = [(float(a), int(b)) for a, b in
                            (ln.split() for ln in txt.splitlines() if len(ln.split()) == 2)]
        return res

    def _settled_size(self, want, wait=5.0):
        """Device size; when `want` is given, wait (briefly) for the device
        to report it: the last UNPLUG may follow the memory removal."""
        deadline = time.monotonic() + wait
        while True:
            cur = self.device_size()
            if want is None or cur == want or time.monotonic() > deadline:
                return cur
            time.sleep(0.1)


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

def settle_meminfo(g, secs=2.0):
    time.sleep(secs)
    return g.meminfo()


def mem_state(g, settle=1.0):
    """Memory accounting snapshot for the overhead measurement: MemTotal,
    MemFree plus the pages parked on per-CPU lists (which MemFree does not
    count and which change with the zone sizes), after dropping the
    reclaimable caches, and the device's plugged size."""
    time.sleep(settle)
    out = g.vm.sh("sync; echo 3 > /proc/sys/vm/drop_caches; sleep 0.5; "
                  "grep -E '^(MemTotal|MemFree):' /proc/meminfo; "
                  "grep -E '^ +count: ' /proc/zoneinfo")
    st = {"pcp_kb": 0}
    for line in out.splitlines():
        p = line.split()
        if p and p[0] in ("MemTotal:", "MemFree:"):
            st[p[0][:-1]] = int(p[1])
        elif p and p[0] == "count:":
            st["pcp_kb"] += int(p[1]) * 4
    st["free_kb"] = st["MemFree"] + st["pcp_kb"]
    st["dev_size"] = g.device_size()
    return st


def host_load():
    """What else runs on the host: load average and QEMU processes that
    are not ours (other people's guests compete for the 2 cores)."""
    ours = {vm.pid for vm in list(hotdimm_vm._LIVE)}
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in ours:
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                if f.read().startswith("qemu-system"):
                    n += 1
        except OSError:
            pass
    return {"loadavg1": os.getloadavg()[0], "other_qemus": n}


def run_rep(g, sizes, args, do_load, rep_data):
    """One boot's measurements; fills rep_data (dict)."""
    base = g.base_kb
    rep_data["host_load_start"] = host_load()
    rep_data["base_kb"] = base
    z0 = g.zoneinfo()
    rep_data["zones_boot"] = z0
    rep_data["plug"], rep_data["unplug"] = {}, {}
    for s in sizes:
        # Before every plug (not only the one whose memory cost is taken),
        # so that every size starts from the same state: mem_state() drops
        # the caches, which the plug then partly rebuilds.
        st0 = mem_state(g)
        p = g.request(s * GiB, base + s * GiB // KiB, timeout=args.plug_timeout,
                      stall=args.plug_stall, trace=(s == max(sizes)))
        rep_data["plug"][s] = p
        log(f"  {g.key}: plug {s} GiB: " + (f"{p['elapsed']:.3f} s" if p["done"] else
                                           f"NOT DONE ({p.get('error') or 'timeout'}, "
                                           f"MemTotal +{(int(p.get('end_kb', base)) - base) // 1024} MiB)"))
        if s == max(sizes):
            st1 = mem_state(g)
            z1 = g.zoneinfo()
            rep_data["at_max"] = {
                "size": s * GiB, "dev_size": p["dev_size"],
                "blocks": g.region_blocks(),
                "mem_before": st0, "mem_after": st1,
                "zones": z1,
            }
            log(f"  {g.key}: blocks at {s} GiB: {rep_data['at_max']['blocks']}")
        u = g.request(0, base, timeout=args.unplug_timeout, stall=args.unplug_stall)
        rep_data["unplug"][s] = u
        left = u["dev_size"]
        log(f"  {g.key}: unplug {s} GiB -> 0: " + (f"{u['elapsed']:.3f} s" if u["done"] else
                                                 f"{left // MiB} MiB left after {u['elapsed']:.1f} s "
                                                 f"(last change at {u['last']:.1f} s)"))
    # A request that is device-block but not memory-block aligned.
    odd = GiB + 10 * MiB
    p = g.request(odd, base + odd // KiB, timeout=args.unplug_timeout, stall=args.unplug_stall)
    rep_data["unaligned"] = {"asked": odd, "dev_size": p["dev_size"], "done": p["done"],
                             "elapsed": p["elapsed"],
                             "memtotal_mib": (int(p.get("end_kb", base)) - base) / 1024}
    log(f"  {g.key}: request 1 GiB + 10 MiB: device {p['dev_size'] / MiB:.0f} MiB plugged, "
        f"MemTotal +{rep_data['unaligned']['memtotal_mib']:.0f} MiB")
    g.request(0, base, timeout=args.unplug_timeout, stall=args.unplug_stall)
    if do_load:
        t = time.monotonic()
        rep_data["load"] = run_load(g, args)
        rep_data["load_s"] = time.monotonic() - t
    rep_data["host_load_end"] = host_load()


def run_load(g, args):
    """Unplug under load: plug 8 GiB, fill memory with small files (slab),
    page cache and anonymous memory, request 0, count what came back
    within args.load_timeout seconds."""
    base = g.base_kb
    size = REGION_SIZE
    out = {}
    p = g.request(size, base + size // KiB, timeout=args.plug_timeout, stall=args.plug_stall)
    out["replug"] = p
    if not p["done"]:
        out["error"] = "could not plug 8 GiB before the load test"
        return out
    vm = g.vm
    vm.sh("mkdir -p /mnt/hdb && mount -t tmpfs -o size=6g,nr_inodes=0 hdb /mnt/hdb")
    t = time.monotonic()
    vm.sh(f"rm -f /tmp/fill.ready; setsid /bin/hdbench fill --dir /mnt/hdb "
          f"--files {args.load_files} --file-size {args.load_file_size} "
          f"--cache-mb {args.load_cache_mb} --anon-mb {args.load_anon_mb} "
          f"--ready /tmp/fill.ready > /tmp/fill.out 2>&1 < /dev/null &")
    if not vm.wait_until("[ -e /tmp/fill.ready ]", timeout=600, interval=0.5):
        out["error"] = "workload did not finish: " + vm.run("cat /tmp/fill.out")[1].strip()
        return out
    out["fill"] = vm.read("/tmp/fill.out").strip()
    out["fill_host_s"] = time.monotonic() - t
    mi = settle_meminfo(g, 1.0)
    out["meminfo_loaded"] = mi
    out["slab_kb"] = mi.get("Slab", 0)
    out["blocks_loaded"] = g.region_blocks()
    before = g.device_size()
    out["dev_before"] = before
    mark = int(vm.sh("dmesg | wc -l").strip() or 0)
    u = g.request(0, base, timeout=args.load_timeout)
    out["unplug"] = u
    after = u["dev_size"]
    out["dev_after"] = after
    out["returned"] = before - after
    out["blocks_after"] = g.region_blocks()
    out["unmovable"] = unmovable_pages(vm, mark)
    # The data is still there (sample of the small files and the cache).
    rc, txt = vm.run("cat /mnt/hdb/small/0/* | wc -c; cat /mnt/hdb/cache/* | wc -c", timeout=120)
    got = txt.split()
    want = [str(min(1000, args.load_files) * args.load_file_size), str(args.load_cache_mb * MiB)]
    out["verify"] = "ok" if got == want else f"MISMATCH: read {got}, want {want}"

    log(f"  {g.key}: under load: {out['fill']}; slab {out['slab_kb'] // 1024} MiB; "
        f"returned {out['returned'] // MiB} of {before // MiB} MiB, "
        + (f"done in {u['elapsed']:.2f} s" if u["done"] else
           f"not done after {u['elapsed']:.0f} s (last change at {u['last']:.1f} s)")
        + f"; data check {out['verify']}")
    return out


def unmovable_pages(vm, mark):
    """What blocked offlining since dmesg line `mark`: the kernel dumps
    each page it could not migrate ("page dumped because: unmovable page");
    returns {page kind (first page flag, e.g. slab): count}."""
    txt = vm.run(f"dmesg | tail -n +{mark + 1} | grep -B4 'page dumped because' | "
                 f"grep -o 'flags: 0x[0-9a-f]*([^)]*)'", timeout=60)[1]
    kinds = {}
    for m in re.finditer(r"\(([^)|]*)", txt):
        kinds[m.group(1) or "?"] = kinds.get(m.group(1) or "?", 0) + 1
    return kinds


def run_memmap(kver, ko, hdbench, args, logroot, key):
    """hotdimm with memory_hotplug.memmap_on_memory=1 on the kernel command
    line, module parameter memmap_on_memory=0 and =1: memory cost of 8 GiB."""
    res = {}
    for mm in (0, 1):
        name = f"bench-memmap{mm}-{key}"
        log(f"memmap boot: config {key}, hotdimm memmap_on_memory={mm}")
        try:
            with Guest(key, kver, ko, hdbench, name,
                       append_extra="memory_hotplug.memmap_on_memory=1",
                       module_args=f"memmap_on_memory={mm}", logroot=logroot) as g:
                mi0 = mem_state(g)
                z0 = g.zoneinfo()
                # MemTotal grows by less than 8 GiB when the memmap sits on
                # the new memory: wait on the device size instead.
                p = plug_by_device(g, REGION_SIZE, args.plug_timeout)
                mi1 = mem_state(g)
                z1 = g.zoneinfo()
                res[mm] = {"plug": p, "mem_before": mi0, "mem_after": mi1,
                           "zones_before": z0, "zones_after": z1,
                           "blocks": g.region_blocks(),
                           "kernel_param": g.vm.read("/sys/module/memory_hotplug/parameters/memmap_on_memory"),
                           "bad_log": g.vm.check_log()}
                log(f"  memmap_on_memory={mm}: plugged {p['dev_size'] // MiB} MiB in "
                    f"{p['host_s']:.2f} s (host), MemTotal +{(mi1['MemTotal'] - mi0['MemTotal']) // 1024} MiB, "
                    f"free +{(mi1['free_kb'] - mi0['free_kb']) // 1024} MiB")
        except (VMError, Unavailable) as e:
            res[mm] = {"error": str(e)}
            log(f"  memmap_on_memory={mm}: FAILED: {e}")
    return res


# ---------------------------------------------------------------------------
# Terabyte rows (--scale)
# ---------------------------------------------------------------------------

SCALE_REGION = 1024 * GiB
SCALE_VMEM = ["-object", "memory-backend-ram,id=vmem0,size=1T,reserve=off",
              "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=0"]
SCALE_CONFIGS = {
    "a": dict(CONFIGS["a"], mem="2G", maxmem="1100G", qemu=SCALE_VMEM, cpu="max,phys-bits=46"),
    "c": dict(CONFIGS["c"], mem="2G", maxmem="1100G", qemu=SCALE_VMEM, cpu="max,phys-bits=46"),
}
SCALE_README_BEGIN = "<!-- section: bench-scale (owner: bench --scale) -->"
SCALE_README_END = "<!-- end section: bench-scale -->"


def linear_fit(points):
    """Least squares t = a + b*S over [(S, t)]: (a, b, worst |residual| / t)."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    a = my - b * mx
    worst = max(abs(y - (a + b * x)) / y for x, y in points if y > 0)
    return a, b, worst


def scale_request(g, size, timeout, stall):
    """Request `size` and time it in the guest until MemTotal stops changing:
    the target is unreachable on purpose (plug: base + size, never reached
    with the memmap on the new memory; unplug: base), so the helper ends on
    `stall` seconds without a change, or at the target. The time is the last
    MemTotal change after the interrupt."""
    target = g.base_kb + (size // KiB if size else 0)
    r = g.request(size, target, timeout=timeout, stall=stall)
    t = r.get("elapsed") if r.get("done") else r.get("last")
    r["t"] = t if isinstance(t, float) and t > 0 else None
    r["left"] = r["dev_size"] if not size else max(0, size - r["dev_size"])
    return r


def run_scale(kver, ko, hdbench, args, logroot):
    sizes = [int(x) for x in args.scale_sizes.split(",")]
    res = {"sizes": sizes, "drivers": {}, "load_start": host_load()}
    saved = dict(CONFIGS)
    CONFIGS.update({f"scale-{k}": v for k, v in SCALE_CONFIGS.items()})
    try:
        for key in args.configs:
            if key not in SCALE_CONFIGS:
                continue
            d = res["drivers"][key] = {"label": SCALE_CONFIGS[key]["label"], "rows": {}}
            name = f"bench-scale-{key}"
            log(f"scale boot: ({key}) {d['label']}, 1 TiB region, 2 GiB guest")
            try:
                with Guest(f"scale-{key}", kver, ko, hdbench, name,
                           append_extra="memory_hotplug.memmap_on_memory=1",
                           module_args="memmap_on_memory=1" if key == "a" else "",
                           logroot=logroot) as g:
                    d["boot_s"] = g.vm.boot_time
                    d["base_kb"] = g.base_kb
                    for s in sizes:
                        p = scale_request(g, s * GiB, args.plug_timeout * 3, args.scale_stall)
                        mt = g.meminfo()["MemTotal"]
                        u = scale_request(g, 0, args.scale_unplug_timeout, args.scale_stall * 2)
                        d["rows"][s] = {"plug": p, "unplug": u, "memtotal_kb": mt}
                        log(f"  ({key}) {s} GiB: plug {p['t'] or float('nan'):.2f} s "
                            f"(device {p['dev_size'] // GiB} GiB, MemTotal +{(mt - g.base_kb) // 1024} MiB); "
                            f"unplug {u['t'] or float('nan'):.2f} s, {u['left'] // MiB} MiB left")
                        if u["left"]:
                            # Later sizes would start from a different state.
                            d["note"] = f"{u['left'] // MiB} MiB still plugged when the {s} GiB unplug ended"
                            g.request(0, g.base_kb, timeout=30, stall=10)
                    d["bad_log"] = g.vm.check_log()
            except (VMError, Unavailable) as e:
                d["error"] = str(e)
                log(f"  ({key}) failed: {e}")
    finally:
        CONFIGS.clear()
        CONFIGS.update(saved)
    res["load_end"] = host_load()
    return res


def render_scale(res, data):
    m = data["machine"]
    sizes = res["sizes"]
    keys = list(res["drivers"])
    lab = {k: res["drivers"][k]["label"] for k in keys}
    md = [f"Measured {data['date']} on {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, "
          f"{m['qemu']} ({m['accel']}), guest kernel {data['kernel']}, 2 vCPUs, 2 GiB boot "
          "memory with `memory_hotplug.memmap_on_memory=1`, one 1 TiB virtio-mem device "
          "(`-cpu max,phys-bits=46 -m 2G,maxmem=1100G`, `memory-backend-ram,size=1T,reserve=off`); "
          "hotdimm loaded with `memmap_on_memory=1`. One boot per driver; each size is plugged "
          "from 0 and unplugged back to 0.",
          f"Host load during the run: 1-min load average {res['load_start']['loadavg1']:.1f} at "
          f"the start, {res['load_end']['loadavg1']:.1f} at the end, "
          f"{max(res['load_start']['other_qemus'], res['load_end']['other_qemus'])} other QEMU "
          "guest(s) running (a shared, busy machine: absolute times are slow and noisy).", ""]
    head = "| size |" + "".join(f" plug, {lab[k]} (s; GiB/s) |" for k in keys) +         "".join(f" unplug, {lab[k]} (s; GiB/s; left) |" for k in keys)
    md += [head, "|---|" + "---|" * (2 * len(keys))]

    def cell(r, s, unplug):
        if not r:
            return " — |"
        t = r["t"]
        # What moved: from the size before to the size after the request.
        moved = abs(r["dev_before"] - r["dev_size"]) / GiB
        txt = "—" if t is None else f"{t:.2f} s; {moved / t:.2f} GiB/s"
        if unplug:
            if not r["left"]:
                txt += "; 0 left"
            elif r.get("stalled"):
                txt += f"; {r['left'] // MiB} MiB left (stuck: no change for {stall_u:.0f} s)"
            else:
                txt += f"; {r['left'] // MiB} MiB left at the {args_timeout:.0f} s timeout"
        else:
            if r["dev_before"]:
                txt += f"; started at {r['dev_before'] // MiB} MiB"
            if r["dev_size"] != s * GiB:
                txt += f"; only {r['dev_size'] // MiB} MiB plugged"
        return f" {txt} |"

    args_timeout = data["args"].get("scale_unplug_timeout", 0)
    stall_u = 2 * data["args"].get("scale_stall", 5)

    for s in sizes:
        row = f"| {s} GiB |"
        for k in keys:
            row += cell(res["drivers"][k]["rows"].get(s, {}).get("plug"), s, False)
        for k in keys:
            row += cell(res["drivers"][k]["rows"].get(s, {}).get("unplug"), s, True)
        md.append(row)
    md.append("")
    for k in keys:
        d = res["drivers"][k]
        if d.get("error"):
            md.append(f"- {lab[k]}: did not run: {d['error']}")
            continue
        for what in ("plug", "unplug"):
            # Time against GiB moved, over the requests that completed (a
            # plug reaching its size, an unplug leaving less than a block):
            # a size may start where the previous unplug stopped.
            pts = []
            for s in sizes:
                r = d["rows"].get(s, {}).get(what)
                if not r or not r["t"]:
                    continue
                if (r["dev_size"] != s * GiB) if what == "plug" else (r["left"] >= BLOCK):
                    continue
                pts.append((abs(r["dev_before"] - r["dev_size"]) / GiB, r["t"]))
            f = linear_fit(pts)
            if not f:
                md.append(f"- {lab[k]}, {what}: no fit (fewer than two requests completed"
                          f"{' within the timeout' if what == 'unplug' else ''})")
                continue
            a, b, worst = f
            kind = ("two points only: linearity not checked" if len(pts) == 2 else
                    "linear" if worst <= 0.15 else "not linear")
            md.append(f"- {lab[k]}, {what}: t ≈ {a:.2f} s + {b * 1000:.0f} ms/GiB × GiB moved "
                      f"over {', '.join(f'{x:.1f}' for x, _ in pts)} GiB "
                      f"({kind}; worst residual {worst * 100:.0f}% of the measured time)")
        if d.get("bad_log"):
            md.append(f"- {lab[k]}: kernel log: {d['bad_log'][0]}")
    md.append("")
    md.append("Times are taken inside the guest from the device's interrupt (after QMP "
              "`qom-set requested-size`) to the last MemTotal change. Reproduce: "
              "`scripts/bench.sh --scale` (`--scale-sizes`, `--configs ac`).")
    return "\n".join(md)


def update_readme_scale(md_section):
    path = ROOT / "README.md"
    text = path.read_text()
    if SCALE_README_BEGIN not in text or SCALE_README_END not in text:
        log("README.md has no bench-scale section marker; not updated")
        return False
    pre, rest = text.split(SCALE_README_BEGIN, 1)
    _, post = rest.split(SCALE_README_END, 1)
    path.write_text(pre + f"{SCALE_README_BEGIN}\n\n{md_section.strip()}\n\n{SCALE_README_END}" + post)
    return True


def plug_by_device(g, size, timeout):
    """Plug and wait for the device size and all blocks online (for boots
    where MemTotal is not a usable target). Host-side timing."""
    t = time.monotonic()
    if g.cfg["kind"] == "virtio":
        g.vm.qmp("qom-set", path="vm0", property="requested-size", value=int(size))
    else:
        g.vm.write(f"{g.dev}/requested_size", int(size))
    nblocks = size // BLOCK
    ok = g.vm.wait_until(f'[ "$(cat {g.dev}/plugged_size)" = "{int(size)}" ] && '
                         f'[ "$(cat {g.dev}/offline_size)" = 0 ]', timeout=timeout, interval=0.1) \
        if g.dev else False
    return {"done": int(ok), "host_s": time.monotonic() - t, "dev_size": g.device_size(),
            "blocks": nblocks}


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def overhead(b, a, per=REGION_SIZE):
    """Memory cost of plugged memory in MiB, scaled to `per` bytes plugged:
    (total, taken from memory that was there before, on the plugged memory
    itself). b, a: mem_state() before and after the plug. Free memory is
    MemFree plus per-CPU lists."""
    plugged_kb = (a["dev_size"] - b["dev_size"]) // KiB
    if plugged_kb <= 0:
        return (None, None, None)
    d_total = a["MemTotal"] - b["MemTotal"]
    d_free = a["free_kb"] - b["free_kb"]
    f = per / KiB / plugged_kb
    return ((plugged_kb - d_free) * f / 1024, (d_total - d_free) * f / 1024,
            (plugged_kb - d_total) * f / 1024)


def summarize(data, sizes, args):
    """Per configuration: medians and raw lists."""
    S = {}
    for key, cd in data["configs"].items():
        reps = [r for r in cd.get("reps", []) if "plug" in r]
        s = {"label": CONFIGS[key]["label"], "error": cd.get("error"), "n": len(reps)}
        s["plug"], s["plug_all"], s["plug_fail"] = {}, {}, {}
        s["unplug"], s["unplug_all"], s["unplug_left"] = {}, {}, {}
        for sz in sizes:
            ps = [r["plug"][sz] for r in reps if sz in r["plug"]]
            s["plug_all"][sz] = [p["elapsed"] for p in ps if p["done"]]
            s["plug_fail"][sz] = sum(1 for p in ps if not p["done"])
            s["plug"][sz] = med(s["plug_all"][sz]) if not s["plug_fail"][sz] else None
            us = [r["unplug"][sz] for r in reps if sz in r["unplug"]]
            s["unplug_all"][sz] = [u["elapsed"] if u["done"] else None for u in us]
            s["unplug_left"][sz] = [u["dev_size"] for u in us]
            s.setdefault("unplug_runs", {})[sz] = us
            done = [u["elapsed"] for u in us if u["done"]]
            s["unplug"][sz] = med(done) if us and len(done) == len(us) else None
        mx = max(sizes)
        s["gibs"] = (mx / s["plug"][mx]) if s["plug"].get(mx) else None
        # Shape of the largest plug from the MemTotal trace: time from the
        # request to the first block online, then time per 128 MiB block.
        starts, per_block = [], []
        for r in reps:
            p = r["plug"].get(mx) or {}
            tr = p.get("trace") or []
            if p.get("done") and len(tr) >= 2:
                starts.append(tr[0][0])
                nb = (tr[-1][1] - tr[0][1]) / (BLOCK / KiB)
                if nb >= 1:
                    per_block.append((tr[-1][0] - tr[0][0]) / nb)
        s["start_s"] = med(starts)
        s["per_block_s"] = med(per_block)
        ats = [r["at_max"] for r in reps if "at_max" in r]
        if ats:
            s["blocks"] = ats[0]["blocks"]
            s["blocks_all"] = [a["blocks"] for a in ats]
            s["kernel_gib"] = med([a["blocks"].count("K") * BLOCK / GiB for a in ats])
            s["movable_gib"] = med([a["blocks"].count("M") * BLOCK / GiB for a in ats])
            ov = [overhead(a["mem_before"], a["mem_after"]) for a in ats if "mem_before" in a]
            s["overhead_mib"] = med([o[0] for o in ov])
            s["overhead_boot_mib"] = med([o[1] for o in ov])
            s["overhead_onmem_mib"] = med([o[2] for o in ov])
            z0 = reps[0]["zones_boot"]
            early = sum(v["present"] for k, v in z0.items() if k not in ("Movable", "Device"))
            cma = sum(v["cma"] for v in z0.values())
            s["early_pages"] = early
            if key == "b":
                s["predicted"] = "K" * (mx * GiB // BLOCK)
                s["predicted_how"] = "contig-zones: all ZONE_NORMAL"
            else:
                s["predicted"] = predict_split(early, cma, mx * GiB // BLOCK, BLOCK // 4096)
                s["predicted_how"] = f"auto-movable ratio 301 over {early} boot kernel pages"
        loads = [r["load"] for r in reps if r.get("load") and "unplug" in r["load"]]
        if loads:
            s["load_n"] = len(loads)
            s["load_pct"] = med([100.0 * l["returned"] / l["dev_before"] for l in loads])
            s["load_pct_all"] = [100.0 * l["returned"] / l["dev_before"] for l in loads]
            s["load_returned_mib"] = med([l["returned"] / MiB for l in loads])
            s["load_left_mib"] = med([l["dev_after"] / MiB for l in loads])
            s["load_done"] = sum(1 for l in loads if l["unplug"]["done"])
            s["load_time"] = med([l["unplug"]["elapsed"] for l in loads]) \
                if s["load_done"] == len(loads) else None
            s["load_last"] = med([l["unplug"]["last"] for l in loads])
            s["load_slab_mib"] = med([l["slab_kb"] / 1024 for l in loads])
            s["load_blocks_after"] = [l.get("blocks_after", "") for l in loads]
            kinds = {}
            for l in loads:
                for kk, v in (l.get("unmovable") or {}).items():
                    # A dump whose flags start with node=/zone= has no page
                    # type flag: a kernel page that is not slab (page tables,
                    # vmalloc, ...).
                    if kk.startswith(("node=", "zone=")):
                        kk = "other kernel page"
                    kinds[kk] = kinds.get(kk, 0) + v
            s["load_unmovable"] = kinds
            s["load_last_all"] = [l["unplug"]["last"] for l in loads]
        S[key] = s
    return S


def fmt(x, nd=2, unit=""):
    if x is None:
        return "—"
    return f"{x:.{nd}f}{unit}"


def ratio(a, b, nd=2):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{nd}f}"


def render(data, S, sizes, args):
    keys = [k for k in "abcd" if k in S]
    hd = "a"
    cols = [f"({k}) {S[k]['label']}" for k in keys]
    rat = [("b", "hotdimm/(b)"), ("c", "hotdimm/(c)"), ("d", "hotdimm/floor")]
    rat = [(k, t) for k, t in rat if k in S and hd in S]
    lines = []
    hdr = "| measurement (median) | " + " | ".join(cols + [t for _, t in rat]) + " |"
    lines.append(hdr)
    lines.append("|" + "---|" * (1 + len(cols) + len(rat)))

    def row(name, vals, ratios):
        ratios = list(ratios) + [""] * (len(rat) - len(ratios))
        lines.append(f"| {name} | " + " | ".join(list(vals) + ratios) + " |")

    def val_or_err(k, v):
        if S[k].get("error") and not S[k]["n"]:
            return "n/a"
        return v

    def boots(k):
        s = S[k]
        if not s["n"]:
            return "n/a"
        return f"{s['n']} ({s.get('load_n', 0)} with load)"
    row("boots (with the load test)", [boots(k) for k in keys], ["" for _ in rat])
    for sz in sizes:
        vals = []
        for k in keys:
            v = S[k]["plug"].get(sz)
            f = S[k]["plug_fail"].get(sz, 0)
            xs = S[k]["plug_all"].get(sz) or []
            spread = f" ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else ""
            vals.append(val_or_err(k, fmt(v, 3, " s") + spread if v is not None else
                                   (f"not done ({f}/{S[k]['n']})" if f else "—")))
        row(f"plug {sz} GiB (s; min–max)", vals,
            [ratio(S[hd]["plug"].get(sz), S[k]["plug"].get(sz)) for k, _ in rat])
    mx = max(sizes)
    row(f"plug throughput at {mx} GiB (GiB/s)", [val_or_err(k, fmt(S[k]["gibs"], 2)) for k in keys],
        [ratio(S[hd]["gibs"], S[k]["gibs"]) for k, _ in rat])

    def unplug_cell(k, sz):
        s = S[k]
        if not s["n"]:
            return "n/a"
        if s["unplug"].get(sz) is not None:
            return fmt(s["unplug"][sz], 3, " s")
        us = s.get("unplug_runs", {}).get(sz, [])
        if not us:
            return "—"
        nd = [u for u in us if not u["done"]]
        left = med([u["dev_size"] / MiB for u in nd])
        stalled = sum(1 for u in nd if u.get("stalled"))
        if stalled == len(nd):
            what = f"{left:.0f} MiB stuck"
        elif not stalled:
            what = f"{left:.0f} MiB left at {args.unplug_timeout:.0f} s, still progressing"
        else:
            what = f"{left:.0f} MiB left ({stalled} stuck, {len(nd) - stalled} still progressing)"
        done = [u["elapsed"] for u in us if u["done"]]
        extra = f"; done in {med(done):.2f} s in {len(done)}" if done else ""
        rates = [(u["dev_before"] - u["dev_size"]) / GiB / u["last"] for u in nd
                 if u.get("dev_before") and u.get("last", -1) > 0]
        rate = f"; {med(rates):.2f} GiB/s until then" if rates else ""
        return f"{what} ({len(nd)}/{len(us)} runs{extra}{rate})"

    for sz in sizes:
        row(f"idle unplug {sz} GiB → 0 (s)", [unplug_cell(k, sz) for k in keys],
            [ratio(S[hd]["unplug"].get(sz), S[k]["unplug"].get(sz)) for k, _ in rat])

    def unaligned(k):
        us = [r["unaligned"] for r in data["configs"][k]["reps"] if "unaligned" in r]
        if not us:
            return "n/a"
        dev = med([u["dev_size"] / MiB for u in us])
        mt = med([u["memtotal_mib"] for u in us])
        return f"{dev:.0f} MiB plugged, MemTotal +{mt:.0f} MiB"

    row("request 1 GiB + 10 MiB (1034 MiB)", [unaligned(k) for k in keys], [])

    def load_pct(k):
        s = S[k]
        if "load_pct" not in s:
            return "n/a"
        return f"{s['load_pct']:.1f}% ({s['load_returned_mib']:.0f} MiB; {s['load_left_mib']:.0f} MiB left)"

    def load_time(k):
        s = S[k]
        if "load_pct" not in s:
            return "n/a"
        if s["load_time"] is not None:
            return fmt(s["load_time"], 2, " s")
        return f"> {args.load_timeout:.0f} s (last progress {s['load_last']:.1f} s)"

    row(f"under load: returned within {args.load_timeout:.0f} s", [load_pct(k) for k in keys],
        [ratio(S[hd].get("load_pct"), S[k].get("load_pct")) for k, _ in rat])
    row("under load: time to return all (s)", [load_time(k) for k in keys],
        [ratio(S[hd].get("load_time"), S[k].get("load_time")) for k, _ in rat])

    def split(k):
        s = S[k]
        if "blocks" not in s:
            return "n/a"
        return f"{s['kernel_gib']:.2f} / {s['movable_gib']:.2f}"

    def pred(k):
        s = S[k]
        if "predicted" not in s:
            return "n/a"
        p = s["predicted"]
        return f"{p.count('K') * BLOCK / GiB:.2f} / {p.count('M') * BLOCK / GiB:.2f}"

    row(f"split after {mx} GiB: kernel / movable (GiB)", [split(k) for k in keys], [])
    row("split predicted by the accounting", [pred(k) for k in keys], [])
    row(f"driver memory at {mx} GiB (MiB)", [val_or_err(k, fmt(S[k].get("overhead_mib"), 1)) for k in keys],
        [ratio(S[hd].get("overhead_mib"), S[k].get("overhead_mib")) for k, _ in rat])
    return "\n".join(lines)


def render_memmap(mm):
    if not mm:
        return ""
    lines = ["| hotdimm, kernel booted with memory_hotplug.memmap_on_memory=1 | memmap_on_memory=0 | memmap_on_memory=1 |",
             "|---|---|---|"]
    cells = {}
    for k in (0, 1):
        r = mm.get(k) or {}
        if "error" in r or "plug" not in r:
            cells[k] = None
            continue
        b, a = r["mem_before"], r["mem_after"]
        plugged_kb = (a["dev_size"] - b["dev_size"]) // KiB
        d_total = a["MemTotal"] - b["MemTotal"]
        d_free = a["free_kb"] - b["free_kb"]
        hz = [z for z in ("Normal", "Movable")]
        pm_b = sum(r["zones_before"].get(z, {}).get("present", 0) - r["zones_before"].get(z, {}).get("managed", 0) for z in hz)
        pm_a = sum(r["zones_after"].get(z, {}).get("present", 0) - r["zones_after"].get(z, {}).get("managed", 0) for z in hz)
        cells[k] = {
            "plugged": plugged_kb / 1024,
            "total": (plugged_kb - d_free) / 1024,
            "boot": (d_total - d_free) / 1024,
            "onmem": (plugged_kb - d_total) / 1024,
            "pm": (pm_a - pm_b) * 4 / 1024,
            "time": r["plug"]["host_s"],
            "blocks": r["blocks"],
        }

    def c(k, f, nd=1):
        return "failed" if cells[k] is None else f"{cells[k][f]:.{nd}f}"
    lines.append(f"| plugged (MiB) | {c(0, 'plugged', 0)} | {c(1, 'plugged', 0)} |")
    lines.append(f"| memory cost: plugged − free gain (MiB) | {c(0, 'total')} | {c(1, 'total')} |")
    lines.append(f"| … taken from boot memory: MemTotal gain − free gain (MiB) | {c(0, 'boot')} | {c(1, 'boot')} |")
    lines.append(f"| … on the plugged memory: plugged − MemTotal gain (MiB) | {c(0, 'onmem')} | {c(1, 'onmem')} |")
    lines.append(f"| hotplugged zones present − managed (MiB) | {c(0, 'pm')} | {c(1, 'pm')} |")
    lines.append(f"| plug 8 GiB, host-side incl. polling (s) | {c(0, 'time', 2)} | {c(1, 'time', 2)} |")
    return "\n".join(lines)


def targets(S, sizes, args):
    """Targets of issues 6 and 11: reported, never asserted."""
    out = []
    a, b, c, d = (S.get(k) for k in "abcd")
    mx = max(sizes)
    if not a or not a["n"]:
        out.append(f"- hotdimm (a) could not be measured: {a['error'] if a else 'not run'}; "
                   "no hotdimm target can be checked.")
        return out

    def gibs(s):
        return s["gibs"] if s and s.get("gibs") else None
    ga, gb, gc, gd = gibs(a), gibs(b), gibs(c), gibs(d)
    def pb(k):
        s = S.get(k)
        return s.get("per_block_s") if s else None
    blocks = ", ".join(f"({k}) {pb(k) * 1000:.1f} ms" for k in "abcd" if pb(k) is not None)
    if ga and gb and gc:
        ok = ga >= gb and ga >= gc
        txt = (f"- Plug throughput ≥ (b) and (c): **{'met' if ok else 'MISSED'}** — "
               f"hotdimm {ga:.2f} GiB/s, (b) {gb:.2f}, (c) {gc:.2f} at {mx} GiB.")
        if blocks:
            txt += f" Time per 128 MiB block in the {mx} GiB plug (MemTotal trace): {blocks}."
        if not ok:
            # Is the shortfall larger than the run-to-run spread?
            noise = []
            for k in "bc":
                xa, xk = a["plug_all"].get(mx) or [], S[k]["plug_all"].get(mx) or []
                if S[k]["gibs"] > ga and xa and xk:
                    overlap = min(xa) <= max(xk) and min(xk) <= max(xa)
                    noise.append(f"vs ({k}) {ga / S[k]['gibs']:.2f}x, "
                                 + ("within" if overlap else "outside")
                                 + f" the run-to-run spread (min–max {min(xa):.2f}–{max(xa):.2f} s "
                                 f"vs {min(xk):.2f}–{max(xk):.2f} s)")
            if noise:
                txt += " Shortfall " + "; ".join(noise) + "."
        out.append(txt)
    if ga and gd:
        ok = gd / ga <= 1.5
        txt = (f"- Plug within 1.5x of the floor: **{'met' if ok else 'MISSED'}** — "
               f"{gd / ga:.2f}x ({ga:.2f} vs {gd:.2f} GiB/s at {mx} GiB)")
        if abs(gd / ga - 1.5) < 0.15 * 1.5:
            txt += "; close to the line: the run-to-run spread (min–max above) is larger than the margin"
        if pb("a") and pb("d"):
            txt += f"; per 128 MiB block {pb('a') * 1000:.1f} vs {pb('d') * 1000:.1f} ms"
        out.append(txt + ".")
    pts = [(sz, a["plug"].get(sz)) for sz in sizes if a["plug"].get(sz)]
    if len(pts) >= 3:
        # Linearity: least-squares t = t0 + k * size over the medians.
        n = len(pts)
        mxs = sum(p[0] for p in pts) / n
        mys = sum(p[1] for p in pts) / n
        k = sum((x - mxs) * (y - mys) for x, y in pts) / sum((x - mxs) ** 2 for x, _ in pts)
        t0 = mys - k * mxs
        worst = max(abs(y - (t0 + k * x)) / y for x, y in pts)
        txt = (f"- Plug time linear in size: t ≈ {t0 * 1000:.0f} ms + {k * 1000:.0f} ms/GiB "
               f"(least squares over hotdimm's medians; largest deviation {worst * 100:.0f}%).")
        # Doubling the size should double the time: compare every config.
        if len(sizes) >= 2:
            s1, s2 = sizes[-2], sizes[-1]
            dbl = [f"({kk}) {S[kk]['plug'][s2] / S[kk]['plug'][s1]:.2f}" for kk in "abcd"
                   if S.get(kk) and S[kk]["plug"].get(s1) and S[kk]["plug"].get(s2)]
            if dbl:
                txt += (f" Time({s2} GiB) / time({s1} GiB), {s2 / s1:.0f} if linear: " + ", ".join(dbl)
                        + "; whatever makes the largest plug relatively slower is common to all "
                        "configurations, the floor included, when the ratios agree.")
        out.append(txt)
    def why(s):
        left = [bl for bl in s.get("load_blocks_after", []) if bl]
        parts = []
        if left:
            k = med([bl.count("K") for bl in left])
            m = med([bl.count("M") for bl in left])
            parts.append(f"blocks still plugged per run (median): {k:.0f} in a kernel zone, "
                         f"{m:.0f} in ZONE_MOVABLE")
        if s.get("load_unmovable"):
            parts.append("pages the kernel could not migrate: " + ", ".join(
                f"{v}x {kk}" for kk, v in sorted(s["load_unmovable"].items(), key=lambda x: -x[1])))
        last = s.get("load_last_all") or []
        if last:
            parts.append("last progress at " + ", ".join(f"{x:.1f} s" for x in last))
        return "; ".join(parts)

    def granularity_note(s):
        """hotdimm stuck only in kernel-zone blocks holding slab: say why."""
        left = [bl for bl in s.get("load_blocks_after", []) if bl]
        kinds = s.get("load_unmovable") or {}
        if not left or any(bl.count("M") or bl.count("o") for bl in left) or "slab" not in kinds:
            return ""
        others = [f"({k}) {S[k]['load_left_mib']:.0f} MiB" for k in "bc"
                  if S.get(k) and "load_left_mib" in S[k]]
        return (" Kernel allocations prefer the hotplugged ZONE_NORMAL (the highest kernel zone "
                "of a 1 GiB guest), so slab created after the plug lands in the device's kernel-zone "
                "blocks; a 2 MiB device block that holds one slab page cannot come back, for either "
                "driver" + (" (" + ", ".join(others) + ")" if others else "") + ".")

    if "load_pct" in a:
        ok = a["load_pct"] >= 99.999
        txt = (f"- Unplug under load, hotdimm returns 100%: **{'met' if ok else 'MISSED'}** — "
               f"{a['load_pct']:.1f}% ({a['load_left_mib']:.0f} MiB still plugged after "
               f"{args.load_timeout:.0f} s; per run: "
               + ", ".join(f"{x:.1f}%" for x in a["load_pct_all"]) + ")"
               + ("" if ok else f". Why: {why(a)}.{granularity_note(a)}") + ("" if not ok else "."))
        out.append(txt)
    if b and "load_pct" in b:
        ok = b["load_pct"] < 99.999
        out.append(f"- (b) does not return everything under load: **{'yes' if ok else 'no'}** — "
                   f"{b['load_pct']:.1f}% returned, {b['load_left_mib']:.0f} MiB still plugged after "
                   f"{args.load_timeout:.0f} s ({why(b)}).")
    if c and "load_pct" in a and "load_pct" in c:
        if a.get("load_time") is not None and c.get("load_time") is not None:
            ok = a["load_time"] <= c["load_time"]
            out.append(f"- Under load at least as fast as (c): **{'met' if ok else 'MISSED'}** — "
                       f"{a['load_time']:.2f} s vs {c['load_time']:.2f} s.")
        else:
            out.append(f"- Under load vs (c): hotdimm returned {a['load_pct']:.1f}%, (c) {c['load_pct']:.1f}% "
                       f"within {args.load_timeout:.0f} s (time not comparable: not all returned).")
    idle = []
    for k in "abcd":
        s = S.get(k)
        if not s or not s["n"]:
            continue
        us = s.get("unplug_runs", {}).get(mx, [])
        left = [u["dev_size"] / MiB for u in us if not u["done"]]
        if us:
            idle.append(f"({k}) " + (f"{med(left):.0f} MiB left in {len(left)}/{len(us)} runs" if left
                                     else f"all back in {s['unplug'][mx]:.2f} s"))
    if idle:
        txt = f"- Idle unplug of {mx} GiB back to 0: " + "; ".join(idle) + "."
        a_left = [u for u in a.get("unplug_runs", {}).get(mx, []) if not u["done"]]
        if a_left and "K" in a.get("blocks", ""):
            txt += (" Even an idle guest puts a few slab pages into the kernel-zone blocks; the "
                    "in-tree driver keeps only their 2 MiB device blocks, hotdimm keeps their whole "
                    "128 MiB memory blocks.")
        out.append(txt)
    def matches(bl, pred):
        # Blocks are plugged from the start of the region: the rest is '-'.
        return bl[:len(pred)] == pred and set(bl[len(pred):]) <= {"-"}

    if "blocks" in a:
        ok = all(matches(bl, a["predicted"]) for bl in a["blocks_all"])
        out.append(f"- Split after {mx} GiB matches the accounting: **{'met' if ok else 'MISSED'}** — "
                   f"measured `{a['blocks']}`, predicted `{a['predicted']}` "
                   f"({a['predicted'].count('K')} kernel + {a['predicted'].count('M')} movable blocks of 128 MiB; "
                   f"{a['predicted_how']}).")
    out.extend(subblock_findings(S, sizes))
    return out


def subblock_findings(S, sizes):
    """Targets of the sub-block work (issue 11), one line each: hotdimm (a)
    leaves no more than the in-tree driver with the same zone split (c),
    gives back what (c) gives back at least 10x faster, and plugs within
    1.2x of the floor (d)."""
    a, c, d = (S.get(k) for k in "acd")
    out = []
    if not a or not a["n"] or not c or not c["n"]:
        return out

    def mark(ok):
        return "met" if ok else "**missed**"

    def left(s, sz):
        xs = s["unplug_left"].get(sz) or []
        return med([x / MiB for x in xs]) if xs else None

    def took(s, sz):
        # Time to the final value: done, or the last change before the stall.
        us = s.get("unplug_runs", {}).get(sz) or []
        ts = [u["elapsed"] if u["done"] else u.get("last") for u in us]
        ts = [t for t in ts if t is not None and t > 0]
        return med(ts) if ts else None

    rows, ok_left, ok_fast = [], True, True
    for sz in sizes:
        la, lc, ta, tc = left(a, sz), left(c, sz), took(a, sz), took(c, sz)
        if la is None or lc is None:
            continue
        ok_left = ok_left and la <= lc
        fast = (tc / ta) if ta and tc else None
        if fast is not None:
            ok_fast = ok_fast and fast >= 10
        rows.append(f"{sz} GiB: {la:.0f} vs {lc:.0f} MiB left, "
                    + (f"{ta:.2f} vs {tc:.2f} s ({fast:.0f}x)" if fast else "time n/a"))
    if "load_left_mib" in a and "load_left_mib" in c:
        ok_left = ok_left and a["load_left_mib"] <= c["load_left_mib"]
        rows.append(f"under load: {a['load_left_mib']:.0f} vs {c['load_left_mib']:.0f} MiB left")
    if rows:
        out.append(f"- Unplug leaves no more than (c): {mark(ok_left)}; at least 10x faster "
                   f"than (c): {mark(ok_fast)} (hotdimm vs (c): " + "; ".join(rows) + ").")
    if a.get("gibs") and d and d.get("gibs"):
        out.append(f"- Plug within 1.2x of the floor: {mark(d['gibs'] / a['gibs'] <= 1.2)} "
                   f"({d['gibs'] / a['gibs']:.2f}x).")
    return out


def short_findings(S, sizes):
    """The targets in one line each, for the README."""
    a, b, c, d = (S.get(k) for k in "abcd")
    mx = max(sizes)
    out = []
    if not a or not a["n"]:
        return out

    def mark(ok):
        return "met" if ok else "**missed**"
    if a.get("gibs") and b and b.get("gibs") and c and c.get("gibs"):
        blk = (f"; {a['per_block_s'] * 1000:.1f} vs {c['per_block_s'] * 1000:.1f} ms per 128 MiB block"
               if a.get("per_block_s") and c.get("per_block_s") else "")
        ok = a['gibs'] >= b['gibs'] and a['gibs'] >= c['gibs']
        noise = ""
        xa = a["plug_all"].get(mx) or []
        if not ok and xa:
            over = [k for k in "bc" if S[k]["gibs"] > a["gibs"] and S[k]["plug_all"].get(mx)
                    and min(xa) <= max(S[k]["plug_all"][mx]) and min(S[k]["plug_all"][mx]) <= max(xa)]
            if over:
                noise = f"; the gap is within the run-to-run spread of the {mx} GiB plug times"
        out.append(f"- Plug throughput ≥ (b), (c): {mark(ok)} "
                   f"({a['gibs']:.1f} vs {b['gibs']:.1f} and {c['gibs']:.1f} GiB/s at {mx} GiB{blk}{noise}).")
    if a.get("gibs") and d and d.get("gibs"):
        out.append(f"- Plug within 1.5x of the floor: {mark(d['gibs'] / a['gibs'] <= 1.5)} "
                   f"({d['gibs'] / a['gibs']:.2f}x).")
    if "load_pct" in a:
        others = ", ".join(f"({k}) {S[k]['load_pct']:.1f}%" for k in "bc" if S.get(k) and "load_pct" in S[k])
        out.append(f"- Unplug under load returns 100%: {mark(a['load_pct'] >= 99.999)} "
                   f"({a['load_pct']:.1f}%, {a['load_left_mib']:.0f} MiB left in device blocks "
                   f"pinned by slab; {others}).")
    if "blocks" in a:
        n = len(a["predicted"])
        ok = all(bl[:n] == a["predicted"] and set(bl[n:]) <= {"-"} for bl in a["blocks_all"])
        out.append(f"- Split after {mx} GiB in a 1 GiB guest matches the accounting: {mark(ok)} "
                   f"({a['kernel_gib']:.2f} GiB kernel / {a['movable_gib']:.2f} GiB movable).")
    out.extend(subblock_findings(S, sizes))
    return out


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GiB
    qemu = subprocess.run([hotdimm_vm.QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem, 1),
            "host_kernel": platform.release(), "qemu": qemu[0] if qemu else "?",
            "accel": hotdimm_vm.accel_line()}


def plot(S, sizes, outdir):
    """plug.png: median plug time against size, one line per config."""
    dat = outdir / "plug.dat"
    keys = [k for k in "abcd" if k in S]
    with open(dat, "w") as f:
        f.write("# size_gib " + " ".join(f"{k}_median {k}_min {k}_max" for k in keys) + "\n")
        for sz in sizes:
            cells = []
            for k in keys:
                xs = S[k]["plug_all"].get(sz) or []
                m = S[k]["plug"].get(sz)
                cells += [f"{m:.6f}" if m is not None else "NaN",
                          f"{min(xs):.6f}" if xs else "NaN", f"{max(xs):.6f}" if xs else "NaN"]
            f.write(f"{sz} " + " ".join(cells) + "\n")
    if not shutil.which("gnuplot"):
        log("gnuplot not found (install gnuplot-nox): no chart")
        return None
    png = outdir / "plug.png"
    plots = []
    for i, k in enumerate(keys):
        col = 2 + 3 * i
        title = f"({k}) {S[k]['label']}"
        # Nudge each configuration sideways so that the bars do not hide each other.
        off = (i - (len(keys) - 1) / 2) * 0.08
        plots.append(f"'{dat}' using ($1+{off:.2f}):{col}:{col + 1}:{col + 2} with yerrorlines "
                     f"lw 2 pt 7 title \"{title}\"")
    gp = outdir / "plug.gp"
    gp.write_text(
        "set terminal pngcairo size 900,560 font 'sans,11' noenhanced\n"
        f"set output '{png}'\n"
        "set title 'hotdimm benchmark: plug latency (QMP/sysfs request until MemTotal complete)'\n"
        "set xlabel 'plugged size (GiB)'\nset ylabel 'time (s), median; bars: min..max'\n"
        f"set xtics ({', '.join(str(s) for s in sizes)})\n"
        f"set grid\nset key top left\nset yrange [0:*]\nset xrange [0:{max(sizes) + 0.5}]\n"
        "plot " + ", \\\n     ".join(plots) + "\n")
    p = subprocess.run(["gnuplot", str(gp)], capture_output=True, text=True)
    if p.returncode != 0:
        log(f"gnuplot failed: {p.stderr.strip()[-300:]}")
        return None
    return png


README_BEGIN = "<!-- section: bench (owner: bench helper) -->"
README_END = "<!-- end section: bench -->"


def update_readme(md_section):
    path = ROOT / "README.md"
    text = path.read_text()
    block = f"{README_BEGIN}\n\n{md_section.strip()}\n\n{README_END}"
    if README_END in text and README_BEGIN in text:
        pre, rest = text.split(README_BEGIN, 1)
        _, post = rest.split(README_END, 1)
        text = pre + block + post
    elif README_BEGIN in text:
        text = text.replace(README_BEGIN, block, 1)
    else:
        log("README.md has no bench section marker; not updated")
        return False
    path.write_text(text)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", default=os.environ.get("BENCH_KERNEL"),
                    help="guest kernel (default: the oldest installed stock kernel that "
                         "scripts/kernels.sh finds, i.e. Debian 12's 6.1)")
    ap.add_argument("--configs", default=os.environ.get("BENCH_CONFIGS", "abcd"),
                    help="which configurations (default abcd)")
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", 3)),
                    help="boots (repetitions) per configuration (default 3)")
    ap.add_argument("--load-reps", type=int, default=int(os.environ.get("BENCH_LOAD_REPS", 2)),
                    help="of those, how many also run the under-load unplug (default 2)")
    ap.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1,2,4,8"),
                    help="plug sizes in GiB (default 1,2,4,8)")
    ap.add_argument("--no-memmap", action="store_true", help="skip the memmap_on_memory boots")
    ap.add_argument("--budget-min", type=float, default=float(os.environ.get("BENCH_BUDGET_MIN", 27)),
                    help="time budget in minutes: boots after each configuration's first one run "
                         "only while it allows (default 27)")
    ap.add_argument("--plug-timeout", type=float, default=120)
    ap.add_argument("--plug-stall", type=float, default=30,
                    help="give up a plug when MemTotal did not change for this long")
    ap.add_argument("--unplug-timeout", type=float, default=30,
                    help="idle unplug: give up after this long (default 30 s)")
    ap.add_argument("--unplug-stall", type=float, default=6,
                    help="idle unplug: give up when MemTotal did not change for this long")
    ap.add_argument("--load-timeout", type=float, default=60)
    ap.add_argument("--load-files", type=int, default=40000)
    ap.add_argument("--load-file-size", type=int, default=1024)
    ap.add_argument("--load-cache-mb", type=int, default=128)
    ap.add_argument("--load-anon-mb", type=int, default=128)
    ap.add_argument("--out", default=str(ROOT / "build" / "bench"))
    ap.add_argument("--from-json", metavar="RAW",
                    help="do not run: render the results of an earlier run's raw.json")
    ap.add_argument("--scale", action="store_true",
                    help="only the terabyte rows: 1 TiB region, 2 GiB guest, configs a and c")
    ap.add_argument("--scale-sizes", default=os.environ.get("BENCH_SCALE_SIZES", "16,64,128"),
                    help="--scale plug sizes in GiB (default 16,64,128)")
    ap.add_argument("--scale-stall", type=float, default=5,
                    help="--scale: a request is over after this many seconds without a "
                         "MemTotal change (default 5; unplug: twice that)")
    ap.add_argument("--scale-unplug-timeout", type=float, default=150)
    ap.add_argument("--update-readme", action="store_true",
                    help="replace the README's Performance section with this run's results")
    args = ap.parse_args()
    install_signal_cleanup()
    t_start = time.monotonic()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    if max(sizes) * GiB > REGION_SIZE:
        ap.error("sizes beyond the 8 GiB region")
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    logroot = outdir / "logs"

    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
        if "scale" in data:
            sc = data["scale"]
            for d in sc["drivers"].values():
                d["rows"] = {int(x): v for x, v in d["rows"].items()}
            md = render_scale(sc, data)
            md += f"\n\n`scripts/bench.sh --scale` took {data['runtime_s'] / 60:.1f} min."
            (outdir / "scale.md").write_text(md + "\n")
            print(md, flush=True)
            if args.update_readme:
                update_readme_scale(md)
            return 0
        for cd in data["configs"].values():
            for r in cd.get("reps", []):
                for k in ("plug", "unplug"):
                    if k in r:
                        r[k] = {int(x): v for x, v in r[k].items()}
        if "memmap" in data:
            data["memmap"]["runs"] = {int(x): v for x, v in data["memmap"]["runs"].items()}
        sizes = data["sizes"]
        for k in ("reps", "load_reps", "unplug_timeout", "unplug_stall", "load_timeout",
                  "load_files", "load_file_size", "load_cache_mb", "load_anon_mb", "kernel"):
            setattr(args, k, data["args"][k])
        return report(data, sizes, args, outdir, data["runtime_s"], [])

    if not args.kernel:
        found = hotdimm_vm.kernels()
        if not found:
            log("no kernel with headers installed (run scripts/deps.sh as root)")
            return 1
        args.kernel = found[0]
    try:
        hotdimm_vm.kernel_info(args.kernel)
    except VMError as e:
        log(f"kernel {args.kernel}: {e}")
        return 1
    log(hotdimm_vm.accel_line())
    shutil.rmtree(logroot, ignore_errors=True)
    try:
        ko = build_module(args.kernel)
    except VMError as e:
        # The in-tree driver's configurations can still run.
        log(f"hotdimm.ko: {e}")
        ko = None
    hdbench = outdir / "hdbench"
    subprocess.run(["gcc", "-O2", "-Wall", "-static", "-o", str(hdbench),
                    str(ROOT / "tests" / "bench" / "hdbench.c")], check=True)
    log(f"module {ko}; guest helper {hdbench}; kernel {args.kernel}; "
        f"configs {args.configs}; {args.reps} reps ({args.load_reps} with load); sizes {sizes} GiB")

    data = {"machine": machine(), "kernel": args.kernel, "args": vars(args),
            "sizes": sizes, "configs": {}, "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    if args.scale:
        if args.configs == "abcd":
            args.configs = "ac"
        data["scale"] = run_scale(args.kernel, ko, hdbench, args, logroot)
        data["runtime_s"] = time.monotonic() - t_start
        (outdir / "scale.json").write_text(json.dumps(data, indent=1, default=str))
        md = render_scale(data["scale"], data)
        md += f"\n\n`scripts/bench.sh --scale` took {data['runtime_s'] / 60:.1f} min."
        (outdir / "scale.md").write_text(md + "\n")
        print(md, flush=True)
        if args.update_readme:
            update_readme_scale(md)
        return 0 if not any(d.get("error") for d in data["scale"]["drivers"].values()) else 1
    bad_logs = []
    for key in args.configs:
        if key not in CONFIGS:
            ap.error(f"unknown config {key}")
        data["configs"][key] = {"reps": [], "skipped": []}
    # Round robin (a b c d, a b c d, ...): every configuration gets its
    # first boot early, and other guests on a shared machine disturb all
    # configurations alike. Later boots run only while the time budget
    # allows, estimated from the configuration's first boot.
    budget = args.budget_min * 60
    est = {}
    for rep in range(args.reps):
        for key in args.configs:
            cd = data["configs"][key]
            if cd.get("error"):
                continue
            do_load = rep < args.load_reps
            elapsed = time.monotonic() - t_start
            reserve = 0 if args.no_memmap else est.get("memmap", 120)
            if rep > 0 and key in est:
                left = budget - elapsed - reserve
                if est[key]["base"] + (est[key]["load"] if do_load else 0) > left:
                    if do_load and est[key]["base"] <= left:
                        do_load = False
                        cd["skipped"].append(f"load test of boot {rep + 1} (time budget)")
                    else:
                        cd["skipped"].append(f"boot {rep + 1} (time budget)")
                        log(f"config ({key}): boot {rep + 1} skipped: {left:.0f} s of the "
                            f"{args.budget_min:.0f} min budget left")
                        continue
            name = f"bench-{key}-{rep + 1}"
            log(f"config ({key}) {CONFIGS[key]['label']}: boot {rep + 1}/{args.reps}"
                + ("" if do_load else " (no load test)"))
            r = {}
            t0 = time.monotonic()
            try:
                with Guest(key, args.kernel, ko, hdbench, name, logroot=logroot) as g:
                    r["boot_s"] = g.vm.boot_time
                    run_rep(g, sizes, args, do_load, r)
                    bad = g.vm.check_log()
                    if bad:
                        bad_logs.append((name, bad[:5]))
                        r["bad_log"] = bad
            except Unavailable as e:
                cd["error"] = str(e)
                log(f"  ({key}) unavailable: {e}")
                continue
            except VMError as e:
                r["error"] = str(e)
                log(f"  ({key}) boot {rep + 1} failed: {e}")
            total = time.monotonic() - t0
            r["wall_s"] = total
            cd["reps"].append(r)
            if key not in est and "plug" in r:
                load_s = r.get("load_s", 0)
                est[key] = {"base": total - load_s, "load": load_s or 150}
                if key in ("a", "d"):
                    # memmap boots: two boots of a hotdimm guest, one 8 GiB plug each.
                    est["memmap"] = 2 * (r.get("boot_s", 30) + 40)
    if not args.no_memmap:
        mkey = "a" if "a" in data["configs"] and not data["configs"]["a"].get("error") else "d"
        data["memmap"] = {"config": mkey,
                          "runs": run_memmap(args.kernel, ko, hdbench, args, logroot, mkey)}

    runtime = time.monotonic() - t_start
    data["runtime_s"] = runtime
    data["bad_logs"] = bad_logs
    (outdir / "raw.json").write_text(json.dumps(data, indent=1, default=str))
    # A configuration without a single measured boot makes the run fail;
    # without any measured configuration there is no table at all.
    missing = {k: (cd.get("error") or "; ".join(r.get("error", "no data")
                                                for r in cd["reps"]) or "no boot ran")
               for k, cd in data["configs"].items()
               if not any("plug" in r for r in cd["reps"])}
    for k, why in missing.items():
        log(f"config ({k}) {CONFIGS[k]['label']}: no data: {why}")
    if len(missing) == len(data["configs"]):
        (outdir / "results.md").unlink(missing_ok=True)
        log("no configuration could run: no results written")
        return 1
    rc = report(data, sizes, args, outdir, runtime, bad_logs)
    if missing:
        log(f"{len(missing)} of {len(data['configs'])} configurations could not run: "
            + ", ".join(f"({k})" for k in missing))
        return 1
    return rc


def report(data, sizes, args, outdir, runtime, bad_logs):
    bad_logs = bad_logs or data.get("bad_logs", [])
    S = summarize(data, sizes, args)
    png = plot(S, sizes, outdir)
    table = render(data, S, sizes, args)
    m = data["machine"]
    mm = data.get("memmap", {})
    mm_table = render_memmap(mm.get("runs")) if mm else ""
    notes = []
    for k in "abcd":
        if k in S and S[k].get("error"):
            notes.append(f"- ({k}) {S[k]['label']}: not measured: {S[k]['error']}")
        cd = data["configs"].get(k, {})
        if cd.get("skipped"):
            notes.append(f"- ({k}): skipped to stay within the time budget: " + ", ".join(cd["skipped"]))
        for i, r in enumerate(cd.get("reps", [])):
            if r.get("error"):
                notes.append(f"- ({k}) boot {i + 1} failed: {r['error']}")
    for name, bad in bad_logs:
        notes.append(f"- guest log of {name} has kernel warnings: " + " | ".join(bad))
    tg = targets(S, sizes, args)
    loads = [r[k] for cd in data["configs"].values() for r in cd["reps"]
             for k in ("host_load_start", "host_load_end") if k in r]
    md = []
    md.append(f"Measured {data['date']} on {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, "
              f"{m['qemu']} ({m['accel']}), guest kernel {args.kernel}, 2 vCPUs, 1 GiB boot memory, "
              f"virtio-mem region 8 GiB (device block 2 MiB). Medians over up to {args.reps} boots "
              f"per configuration (first row: how many ran), {args.load_reps} of them with the load "
              f"test; `make bench` took {runtime / 60:.1f} min.")
    if loads:
        la = [x["loadavg1"] for x in loads]
        oq = [x["other_qemus"] for x in loads]
        md.append(f"Host load during the run: 1-min load average {min(la):.1f}–{max(la):.1f}, "
                  f"up to {max(oq)} other QEMU guest(s) running at the same time"
                  + (" (numbers from a shared machine are noisier and slower than on an idle one)."
                     if max(oq) or max(la) > 2.5 else "."))
    md.append("")
    md.append(table)
    md.append("")
    md.append("Ratios are hotdimm (a) divided by the other configuration: below 1 means hotdimm "
              "takes less time (or memory), above 1 for throughput and % returned means hotdimm "
              "does better. Plug/unplug times are taken inside the guest: from the moment the guest "
              "sees the request (virtio-mem config interrupt after QMP `qom-set requested-size`; "
              "for the floor, the write to `requested_size`) until MemTotal is complete; "
              "\"stuck\" means MemTotal stopped changing for "
              f"{args.unplug_stall:.0f} s (or {args.unplug_timeout:.0f} s passed) with memory still plugged; "
              "the MiB figure is what the device still had plugged. "
              f"Load test: {args.load_files} files of {args.load_file_size} B in tmpfs (slab), "
              f"{args.load_cache_mb} MiB of file data, {args.load_anon_mb} MiB anonymous memory, "
              f"created after plugging 8 GiB; then request 0 and wait {args.load_timeout:.0f} s. "
              "Driver memory (memmap, page tables, "
              "bookkeeping) is the plugged size minus the gain in free memory (MemFree plus per-CPU "
              "lists, after dropping caches) across the 8 GiB plug, scaled to 8 GiB.")
    if mm_table:
        md.append("")
        md.append(f"memmap_on_memory (config ({mm['config']}), 8 GiB, kernel command line "
                  "`memory_hotplug.memmap_on_memory=1`):")
        md.append("")
        md.append(mm_table)
    if tg:
        md.append("")
        md.append("Targets (reported, not asserted):")
        md.append("")
        md.extend(tg)
    if notes:
        md.append("")
        md.extend(notes)
    if png:
        md.append("")
        md.append("![plug time against size](plug.png)")
    body = "\n".join(md)
    results = outdir / "results.md"
    results.write_text("# hotdimm benchmark results\n\n" + body + "\n")
    print()
    print(body)
    print()
    log(f"wrote {results}" + (f", {png}" if png else "") + f"; total {runtime / 60:.1f} min")
    if args.update_readme:
        rd = [md[0], md[1] if len(md) > 1 and md[1].startswith("Host load") else "", "", table, ""]
        rd.append("Ratios: hotdimm (a) divided by the other configuration (below 1: less time or "
                  "memory; above 1 for GiB/s and % returned: hotdimm does better). Times are taken "
                  "inside the guest, from the request (virtio-mem interrupt after QMP "
                  "`qom-set requested-size`, or the floor's sysfs write) until MemTotal is complete. "
                  f"Load test: {args.load_files} small files in tmpfs, {args.load_cache_mb} MiB of file "
                  f"data and {args.load_anon_mb} MiB anonymous memory created after plugging 8 GiB, "
                  f"then a request for 0 and {args.load_timeout:.0f} s of waiting.")
        mmr = (mm.get("runs") or {}) if mm else {}
        if all(isinstance(mmr.get(k), dict) and "mem_after" in mmr.get(k, {}) for k in (0, 1)):
            def onmem(r):
                return (r["plug"]["dev_size"] - r["mem_before"]["dev_size"]) // MiB - \
                    (r["mem_after"]["MemTotal"] - r["mem_before"]["MemTotal"]) / 1024
            rd.append("")
            rd.append(f"memmap_on_memory (kernel booted with `memory_hotplug.memmap_on_memory=1`): "
                      f"the 8 GiB plug costs the same memmap either way, but with hotdimm's "
                      f"`memmap_on_memory=1` {onmem(mmr[1]):.0f} MiB of it sit on the plugged memory "
                      f"instead of in boot memory ({onmem(mmr[0]):.0f} MiB without).")
        rd.append("")
        rd.append("Targets of the benchmark (reported, not asserted; details and reasons in "
                  "`build/bench/results.md`):")
        rd.append("")
        rd.extend(short_findings(S, sizes))
        rd.append("")
        rd.append("Chart: `build/bench/plug.png` (plug time against size).")
        readme = "\n".join(x for x in rd if x is not None)
        readme += ("\n\nReproduce (Debian 12, as root): `make bench` (installs what is missing with "
                   "`scripts/deps.sh`, builds hotdimm.ko and the guest helper, boots the guests; "
                   "results in `build/bench/results.md`, chart `build/bench/plug.png`, raw data "
                   "`build/bench/raw.json`, guest logs `build/bench/logs/`). "
                   "`BENCH_REPS`, `BENCH_LOAD_REPS`, `BENCH_CONFIGS`, `BENCH_SIZES` and "
                   "`BENCH_KERNEL` change what runs; `scripts/bench.sh --help` lists the options.")
        if update_readme(readme):
            log("README.md Performance section updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
