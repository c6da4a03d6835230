# SPDX-License-Identifier: GPL-2.0
"""hotdimm_vm: boot a QEMU guest with a Debian kernel and drive it.

Python 3 standard library only. Used by the guest tests (tests/guest/),
`make demo` (scripts/demo.sh) and the benchmark.

    import sys; sys.path.insert(0, "scripts")
    from hotdimm_vm import VM, build_module, kernels

    kver = kernels()[0]                 # discovered, never pinned
    ko = build_module(kver)
    with VM(kver, mem="3G", append="mem=1G", extra_files=[ko]) as vm:
        rc, out = vm.run("insmod /hotdimm.ko dimms=1G@0x40000000")
        print(vm.read("/sys/bus/platform/devices/hotdimm.0/blocks"))
        vm.qmp("query-memory-devices")
        assert not vm.check_log()

The guest (initramfs from scripts/mkinitramfs.sh: busybox, /hotdimm.ko,
/lib/modules/*.ko) has its console on ttyS0, written to console.log in the
VM's log directory (build/logs/guest/<kver>/<name>/), and a command channel
on ttyS1 bound to a unix socket. QMP: vm.qmp() uses one monitor; a second one
at vm.qmp_tool_socket is free for tools such as scripts/hotdimm-qmp.

Cleanup: QEMU is killed by its pid when the VM is stopped, on any exception
in the `with` block, after `hard_timeout` seconds, at interpreter exit, and
(through PR_SET_PDEATHSIG) when the Python process dies. Start a VM from the
thread that will stop it: the death signal follows the starting thread.
"""

import atexit
import base64
import ctypes
import hashlib
import importlib.machinery
import importlib.util
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(os.environ.get("HOTDIMM_ROOT") or Path(__file__).resolve().parent.parent)
SCRIPTS = ROOT / "scripts"
BUILD = ROOT / "build"
LOGS = BUILD / "logs" / "guest"

QEMU = os.environ.get("HOTDIMM_QEMU", "qemu-system-x86_64")

# TCG threading. With one host thread per vCPU ("multi", QEMU's default),
# a 6.12 guest sometimes oopses while booting (int3 in sched_clock_cpu,
# right after "sched_clock: Marking stable": a static-key patch another
# vCPU still sees half done). Measured here, 25 boots each, alternating:
# multi 1 oops, median boot 5.36 s; single 0 oopses, median 4.70 s. So
# TCG guests run single-threaded unless HOTDIMM_TCG_THREAD=multi.
TCG_THREAD = os.environ.get("HOTDIMM_TCG_THREAD", "single")
if TCG_THREAD not in ("single", "multi"):
    raise SystemExit(f"HOTDIMM_TCG_THREAD={TCG_THREAD!r}: use single or multi")
TCG_OPTS = f",thread={TCG_THREAD}"


def _load_qmp():
    path = SCRIPTS / "hotdimm-qmp"
    loader = importlib.machinery.SourceFileLoader("hotdimm_qmp", str(path))
    spec = importlib.util.spec_from_loader("hotdimm_qmp", loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("hotdimm_qmp", mod)
    loader.exec_module(mod)
    return mod


hotdimm_qmp = _load_qmp()
QMPClient = hotdimm_qmp.QMPClient
QMPError = hotdimm_qmp.QMPError
parse_size = hotdimm_qmp.parse_size
human = hotdimm_qmp.human

MiB = 1 << 20
GiB = 1 << 30

# Kernel command line added to every guest (make check-debug: panic_on_warn=1).
APPEND_ENV = "HOTDIMM_GUEST_APPEND"

# A boot whose kernel prints nothing for this long before its userspace is
# up has hung: seen on the debug kernel under TCG (with ACPI and without),
# stuck for good after "Running RCU-tasks wait API self tests" in a third
# of its boots on a loaded machine. Its boots print a line at
# least every few seconds until then, stock kernels boot in 5-20 s.
BOOT_SILENCE = 90

# Boots retried after a crash or hang before userspace (hv.boot()): more on
# KASAN kernels, where besides that hang an early-boot KASAN report from
# an interrupt during CPU identification ("wild-memory-access in
# rcu_is_watching") stops some boots before any of our code runs.
BOOT_RETRIES = 2
BOOT_RETRIES_KASAN = 8

# Kernel log lines that fail any guest test.
BAD_LOG_PATTERNS = [
    r"BUG:", r"WARNING:", r"\bOops\b", r"Call Trace", r"kernel BUG at",
    r"general protection fault", r"Kernel panic", r"UBSAN:", r"KASAN:",
    r"possible circular locking", r"possible recursive locking",
    r"inconsistent lock state", r"INFO: task .* blocked", r"suspicious RCU usage",
    r"rcu: INFO: .*stall", r"soft lockup", r"hard LOCKUP", r"refcount_t:",
    r"list_(add|del) corruption", r"Bad page (state|map)",
    # Debug kernels (scripts/debug-kernel.sh): KASAN ("BUG: KASAN: ..."),
    # lockdep ("WARNING: possible ...", "INFO: trying to register non-static
    # key"), SLUB debug ("BUG kmalloc-64 (Tainted: G): Redzone overwritten"),
    # debug objects (ODEBUG:).
    r"\bINFO: (trying to register|lockdep is turned off|possible)",
    r"\bBUG [\w.:-]+ \((Not t|T)ainted", r"ODEBUG:",
]
_BAD_RE = re.compile("|".join(f"(?:{p})" for p in BAD_LOG_PATTERNS))


class VMError(Exception):
    """The VM could not do what was asked."""


class BootError(VMError):
    """QEMU did not start or the guest did not reach its command loop.
    .retryable: the guest kernel ran and crashed, hung or died before its
    userspace, so before any hotdimm code ran (e.g. a TCG boot flake); a
    new boot may work. Not retryable: QEMU itself could not run the guest
    (bad option, KVM broken, no kernel, no memory): that will not change."""

    def __init__(self, msg, retryable=False):
        super().__init__(msg)
        self.retryable = retryable


class ChannelError(VMError):
    """The command channel is unusable (QEMU died, guest hung, host timeout).
    The VM cannot run further commands."""


class CommandTimeout(VMError):
    """The guest killed a command after its timeout; the VM is still usable.
    .output holds what it printed."""

    def __init__(self, msg, output=""):
        super().__init__(msg)
        self.output = output


class CommandFailed(VMError):
    """vm.sh(): the command exited non-zero."""

    def __init__(self, cmd, rc, output):
        tail = output.strip().splitlines()[-3:]
        super().__init__(f"`{_short(cmd)}` exited {rc}: " + " | ".join(tail))
        self.cmd, self.rc, self.output = cmd, rc, output


def _short(s, n=80):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 3] + "..."


def kernels():
    """Kernel versions to test (scripts/kernels.sh), oldest first."""
    out = subprocess.run([str(SCRIPTS / "kernels.sh")], capture_output=True,
                         text=True, check=True).stdout
    return out.split()


def expected_kernels():
    """Kernels scripts/deps.sh installed (empty when it never ran here)."""
    out = subprocess.run([str(SCRIPTS / "kernels.sh"), "--expected"],
                         capture_output=True, text=True).stdout
    return out.split()


_KINFO = {}


def kernel_info(kver):
    """{VMLINUZ, MODDIR, SYSMAP, CONFIG, KDIR, CHROOT, KDIR_IN} of kver
    (scripts/kernels.sh --env). Raises BootError for an unknown kernel."""
    if kver not in _KINFO:
        p = subprocess.run([str(SCRIPTS / "kernels.sh"), "--env", kver],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise BootError(p.stderr.strip() or f"unknown kernel {kver}")
        _KINFO[kver] = dict(line.split("=", 1) for line in p.stdout.splitlines()
                            if "=" in line)
    return _KINFO[kver]


# ---------------------------------------------------------------------------
# Accelerator: proven by booting, never assumed from /dev/kvm opening.
# ---------------------------------------------------------------------------

ACCEL_ENV = "HOTDIMM_ACCEL"          # kvm | tcg: forced by the user
_ACCEL_CACHE_ENV = "HOTDIMM_ACCEL_CHOSEN"  # "accel:reason", inherited by children
_accel = None

# QEMU output lines that say why it could not run a guest, most telling
# first. Used for every "QEMU died" message.
_QEMU_CAUSES = [
    r"failed to set MSR.*", r"KVM internal error.*", r".*Assertion .* failed.*",
    r"Could not access KVM kernel module.*", r"failed to initialize kvm.*",
    r".*[Kk][Vv][Mm].*(not supported|unavailable|error).*",
    r".*cannot set up guest memory.*", r".*[Cc]annot allocate memory.*",
    r".*could not load kernel.*", r".*could not load initrd.*",
    r".*(No such file or directory|Permission denied).*",
    r"qemu-system-\S+: .*",
]


def qemu_cause(text):
    """The line of QEMU's own output that best says why it stopped, or ""."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for pat in _QEMU_CAUSES:
        rx = re.compile(pat)
        for ln in lines:
            if rx.search(ln):
                return ln[:300]
    return lines[-1][:300] if lines else ""


def _probe_initramfs(dirpath):
    """A tiny initramfs: static busybox as /init prints a token, powers off."""
    root = Path(dirpath) / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    init = root / "init"
    init.write_text("#!/bin/busybox sh\n/bin/busybox echo HOTDIMM-KVM-PROBE-OK\n"
                    "/bin/busybox poweroff -f\n")
    init.chmod(0o755)
    out = Path(dirpath) / "probe.cpio"
    names = "\n".join(["init", "bin", "bin/busybox"]) + "\n"
    p = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-F", str(out)], cwd=root,
                       input=names, text=True, capture_output=True)
    if p.returncode != 0:
        raise OSError(f"cpio: {p.stderr.strip()}")
    return str(out)


def probe_kvm(timeout=60):
    """Boot a tiny guest under KVM. Returns (True, how long) or (False, why)."""
    if not os.path.exists("/dev/kvm"):
        return False, "no /dev/kvm"
    ks = kernels()
    if not ks:
        return False, "no kernel to boot the probe with"
    vmlinuz = kernel_info(ks[-1])["VMLINUZ"]
    with tempfile.TemporaryDirectory(prefix="hotdimm-kvm-probe-") as d:
        try:
            initrd = _probe_initramfs(d)
        except OSError as e:
            return False, f"cannot build the probe initramfs: {e}"
        argv = [QEMU, "-machine", "pc", "-accel", "kvm", "-cpu", "host", "-smp", "1",
                "-m", "256", "-nodefaults", "-no-user-config", "-display", "none",
                "-no-reboot", "-serial", "stdio", "-kernel", vmlinuz, "-initrd", initrd,
                "-append", "console=ttyS0 panic=-1 quiet"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False, f"probe guest did not finish within {timeout}s"
        except OSError as e:
            return False, f"cannot start {QEMU}: {e}"
        if "HOTDIMM-KVM-PROBE-OK" in p.stdout:
            return True, f"probe guest booted in {time.monotonic() - t0:.1f}s"
        cause = qemu_cause(p.stderr) or qemu_cause(p.stdout) or f"QEMU exited {p.returncode}"
        return False, cause


def choose_accel():
    """("kvm"|"tcg", reason). HOTDIMM_ACCEL forces one; otherwise KVM is
    probed by booting, once per run: the answer is cached in this process
    and in the environment its children inherit."""
    global _accel
    if _accel is not None:
        return _accel
    forced = os.environ.get(ACCEL_ENV, "").strip().lower()
    if forced:
        if forced not in ("kvm", "tcg"):
            raise BootError(f"{ACCEL_ENV}={forced!r}: use kvm or tcg")
        _accel = (forced, f"forced by {ACCEL_ENV}={forced}")
        return _accel
    cached = os.environ.get(_ACCEL_CACHE_ENV, "")
    if cached.partition(":")[0] in ("kvm", "tcg"):
        a, _, why = cached.partition(":")
        _accel = (a, why)
        return _accel
    ok, why = probe_kvm()
    _accel = ("kvm", f"kvm probe booted: {why}") if ok else ("tcg", f"kvm probe failed: {why}")
    os.environ[_ACCEL_CACHE_ENV] = f"{_accel[0]}:{_accel[1]}"
    return _accel


def accel_line():
    a, why = choose_accel()
    return f"accel: {a} ({why})"


def build_module(kver, *make_args):
    """Build hotdimm.ko for kver (scripts/build-module.sh); returns its path.
    Raises VMError with the build output's tail on failure."""
    p = subprocess.run([str(SCRIPTS / "build-module.sh"), kver, *make_args],
                       capture_output=True, text=True)
    path = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    if p.returncode != 0 or not path or not os.path.isfile(path):
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        raise VMError(f"module build for {kver} failed: " + " | ".join(tail))
    return path


def initramfs(kver, extra_files=()):
    """Path of an initramfs for kver with the given extra files (see
    scripts/mkinitramfs.sh for the EXTRA syntax); built or reused from cache."""
    tag = hashlib.sha1("\0".join(str(x) for x in extra_files).encode()).hexdigest()[:12]
    out = BUILD / "initramfs" / kver / f"{tag}.cpio.gz"
    p = subprocess.run([str(SCRIPTS / "mkinitramfs.sh"), kver, str(out),
                        *[str(x) for x in extra_files]], capture_output=True, text=True)
    if p.returncode != 0:
        raise BootError(f"mkinitramfs failed: {p.stderr.strip()[-500:]}")
    return str(out)


_LIVE = set()
_LIVE_LOCK = threading.Lock()


def _kill_all_live():
    with _LIVE_LOCK:
        vms = list(_LIVE)
    for vm in vms:
        vm._kill_qemu()


atexit.register(_kill_all_live)


def install_signal_cleanup():
    """Turn SIGTERM/SIGHUP into SystemExit so `with VM(...)` blocks clean up.
    Call from the main thread of a program (runner, demo, bench)."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _set_pdeathsig(sig=signal.SIGKILL):
    """preexec_fn: the child gets sig when the thread that started it dies."""
    if _libc is not None:
        _libc.prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG


class VM:
    """One QEMU guest. Use as a context manager, or call start()/stop().

    kver          kernel version, one of kernels(); its image and modules are
                  where scripts/kernels.sh --env says
    mem           -m size, e.g. "3G"; maxmem/slots add ",maxmem=..,slots=.."
    smp           vCPUs (2), or a full -smp value such as "2,sockets=2"
    cpu           -cpu model ("max"); with -numa and one CPU per node use
                  "max,l3-cache=off", else the guest warns at boot that the
                  CPUs share a last-level cache across nodes (topology_sane)
    append        extra kernel command line, e.g. "mem=1G"
    qemu_args     extra QEMU arguments (list), e.g. virtio-mem devices, -numa
    extra_files   extra initramfs files (see scripts/mkinitramfs.sh)
    initrd        use this initramfs instead of building one
    name          log directory name under build/logs/guest/KVER/
    boot_timeout  seconds until the command channel must answer
    hard_timeout  QEMU is killed after this many seconds, whatever happens
    max_plug      bytes the scenarios plug at most (default: all that is
                  hotpluggable); sizes the boot memory added on KASAN kernels
    """

    _names = {}

    def __init__(self, kver, mem="1G", maxmem=None, slots=None, smp=2, cpu="max", append="",
                 qemu_args=(), extra_files=(), initrd=None, name="vm",
                 boot_timeout=180, hard_timeout=1800, logdir=None, quiet=False,
                 max_plug=None):
        self.kver = kver
        self.max_plug = max_plug
        self.mem, self.maxmem, self.slots, self.smp = mem, maxmem, slots, smp
        self.cpu = cpu
        self.append = append
        self.qemu_args = list(qemu_args)
        self.extra_files = list(extra_files)
        self.initrd = initrd
        self.boot_timeout = boot_timeout
        self.hard_timeout = hard_timeout
        self.quiet = quiet
        if logdir is None:
            key = (kver, name)
            n = VM._names.get(key, 0) + 1
            VM._names[key] = n
            logdir = LOGS / kver / (name if n == 1 else f"{name}-{n}")
        self.logdir = Path(logdir)
        self.proc = None
        self.pid = None
        self.boot_time = None
        self.hard_timed_out = False
        self._sockdir = None
        self._chan = None
        self._rbuf = b""
        self._seq = 0
        self._dead = None  # reason the channel is unusable
        self._qmp = None
        self._timer = None
        self._con_mark = 0
        self._dmesg_mark = 0
        self._cmdlog = None
        self._started = None
        self.kinfo = {}
        self.accel = None
        self.boot_retries = []  # reasons of the boots retried before this one
        self.kmemleak = False   # the runner scans for leaks after each scenario
        self.kasan_extra = None  # bytes added for KASAN's shadow (start())
        self.slow = 1            # guest timeouts are multiplied by this

    # -- paths ----------------------------------------------------------------
    @property
    def console_log(self):
        return self.logdir / "console.log"

    @property
    def qmp_socket(self):
        return os.path.join(self._sockdir, "qmp.sock")

    @property
    def qmp_tool_socket(self):
        """A QMP monitor nobody in this library uses: for hotdimm-qmp etc."""
        return os.path.join(self._sockdir, "qmp-tool.sock")

    @property
    def chan_socket(self):
        return os.path.join(self._sockdir, "cmd.sock")

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def qemu_cmdline(self):
        m = self.mem
        if self.slots is not None:
            m += f",slots={self.slots}"
        if self.maxmem is not None:
            m += f",maxmem={self.maxmem}"
        accel, _ = choose_accel()
        cpu = self.cpu
        if accel == "kvm":
            # The host CPU; options such as l3-cache=off are kept.
            cpu = ",".join(["host"] + cpu.split(",")[1:])
        else:
            accel = "tcg" + TCG_OPTS
        cmdline = " ".join([
            "console=ttyS0,115200", "panic=-1", "log_buf_len=4M",
            "loglevel=7", "printk.time=1", "nokaslr", self.append,
            os.environ.get(APPEND_ENV, "")]).strip()
        return [
            QEMU, "-machine", "pc", "-accel", accel, "-cpu", cpu,
            "-smp", str(self.smp), "-m", m,
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", self.kinfo["VMLINUZ"], "-initrd", self.initrd,
            "-append", cmdline,
            "-chardev", f"file,id=con0,path={self.console_log}",
            "-serial", "chardev:con0",
            "-chardev", f"socket,id=cmd0,path={self.chan_socket},server=on,wait=off",
            "-serial", "chardev:cmd0",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
            "-qmp", f"unix:{self.qmp_tool_socket},server=on,wait=off",
        ] + self.qemu_args

    def mem_limit(self):
        """The guest's mem= limit in bytes, or None."""
        m = re.search(r"(?:^|\s)mem=(\S+)", self.append)
        return parse_size(m.group(1)) if m else None

    def hotpluggable(self):
        """Bytes this guest can hot(un)plug: the RAM `mem=` hides and the
        space between -m and maxmem."""
        mem = parse_size(self.mem)
        n = parse_size(self.maxmem) - mem if self.maxmem else 0
        limit = self.mem_limit()
        if limit is not None:
            n += max(0, mem - limit)
        return n

    def add_kasan_headroom(self):
        """On a KASAN kernel, memory going online gets shadow memory (an
        eighth of it) vmalloc'ed from the kernel zones the guest booted
        with; a guest sized for a stock kernel runs out of it (the OOM
        killer, then a panic). Give the guest that much more boot memory:
        more -m (and maxmem) and, where mem= hides RAM for emulated DIMMs,
        the new RAM at the top of the address space as usable RAM with
        memmap=SIZE@START, so the DIMMs' ranges stay as they were. Such a
        kernel also runs several times slower: three times the boot
        timeout and every command's and wait's timeout (`slow`), four times
        the hard timeout."""
        if self.kasan_extra is not None:
            return
        self.kasan_extra = 0
        try:
            if not present_kconfig(self.kver, ["CONFIG_KASAN"]):
                return
        except VMError:
            return  # no config to read: a stock kernel's layout
        plug = self.hotpluggable() if self.max_plug is None else parse_size(self.max_plug)
        extra = -(-(plug // 8 + 256 * MiB) // (128 * MiB)) * 128 * MiB
        mem = parse_size(self.mem)
        if self.mem_limit() is not None:
            # QEMU's pc machine: from 3.5 GiB on, RAM above 3 GiB moves to
            # 4 GiB. Keep (or put) the layout there so the top is contiguous.
            low_top = 3 * GiB
            new = max(mem, low_top + 512 * MiB) + extra
            end = 4 * GiB + new - low_top
            self.append += f" memmap={extra // MiB}M@{(end - extra) // MiB}M"
        else:
            new = mem + extra
        self.kasan_extra = new - mem
        self.mem = f"{new // MiB}M"
        self._grow_first_numa_node(self.kasan_extra)
        # Measured: 25-30 s to userspace alone, over 180 s with three other
        # TCG guests on 2 cores.
        self.boot_timeout *= 3
        self.hard_timeout *= 4
        self.slow = 3
        if self.maxmem:
            self.maxmem = f"{(parse_size(self.maxmem) + self.kasan_extra) // MiB}M"

    def _grow_first_numa_node(self, extra):
        """With -numa nodes backed by memdevs, QEMU wants their sizes to add
        up to -m: the memory -m gained goes to the first node's backend."""
        args = self.qemu_args
        nodes = [re.search(r"(?:^|,)memdev=([^,]+)", args[i + 1])
                 for i, a in enumerate(args[:-1]) if a == "-numa"]
        nodes = [m.group(1) for m in nodes if m]
        if not nodes:
            return
        for i, a in enumerate(args):
            m = re.fullmatch(r"(memory-backend-ram,(?:.*,)?id=([^,]+),(?:.*,)?size=)([^,]+)(.*)",
                             a)
            if m and m.group(2) == nodes[0]:
                size = parse_size(m.group(3)) + extra
                self.qemu_args = args[:i] + [f"{m.group(1)}{size // MiB}M{m.group(4)}"] + \
                    args[i + 1:]
                return
        raise VMError(f"-numa node memdev {nodes[0]} has no memory-backend-ram to grow")

    def start(self):
        self.add_kasan_headroom()
        self.kinfo = kernel_info(self.kver)
        if not self.kinfo.get("VMLINUZ") or not os.path.exists(self.kinfo["VMLINUZ"]):
            raise BootError(f"no kernel image for {self.kver} "
                            f"({self.kinfo.get('VMLINUZ') or 'not found'})")
        self.accel = choose_accel()
        if self.initrd is None:
            self.initrd = initramfs(self.kver, self.extra_files)
        shutil.rmtree(self.logdir, ignore_errors=True)
        self.logdir.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to 108 bytes: keep them short.
        self._sockdir = tempfile.mkdtemp(prefix="hotdimm-vm-")
        self._cmdlog = open(self.logdir / "commands.log", "w", buffering=1)
        self._log(f"# accel: {self.accel[0]} ({self.accel[1]})")
        self._started = time.monotonic()
        try:
            self._launch()
        except BootError:
            self._cleanup_files()
            raise
        self.pid = self.proc.pid
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._timer = threading.Timer(self.hard_timeout, self._hard_kill)
        self._timer.daemon = True
        self._timer.start()
        try:
            self._wait_ready()
        except (BootError, ChannelError) as e:
            self.stop(save_dmesg=False)
            err = self._boot_failure(str(e))
            self._log(f"# boot failed: {err}")
            raise err from None
        except BaseException:
            self.stop(save_dmesg=False)
            raise
        early = self._early_fault()
        if early:
            # The kernel reported a fault before its userspace, so before
            # any test or hotdimm code ran (the debug kernel's early-boot
            # KASAN report from an interrupt during CPU identification does
            # not always stop the boot): a boot failure, retried.
            self.stop(save_dmesg=False)
            err = BootError(f"guest kernel reported a fault before userspace: {early[:200]}",
                            retryable=True)
            self._log(f"# boot failed: {err}")
            raise err
        self.boot_time = time.monotonic() - self._started
        self._log(f"# guest ready after {self.boot_time:.1f}s (pid {self.pid})")
        return self

    def _early_fault(self):
        """The first bad kernel log line printed before userspace came up,
        or None."""
        con = self.console_text()
        up = con.find("init: userspace up")
        for line in (con if up < 0 else con[:up]).splitlines():
            if _BAD_RE.search(line):
                return re.sub(r"^\[\s*[0-9.]+\]\s*", "", line.strip())
        return None

    def _launch(self):
        """Start QEMU: sets self.proc (a Popen, or anything with pid, poll(),
        wait(timeout) and returncode). Raises BootError."""
        argv = self.qemu_cmdline()
        (self.logdir / "qemu-cmdline.txt").write_text(shlex.join(argv) + "\n")
        with open(self.logdir / "qemu.log", "wb") as qlog:
            try:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             preexec_fn=_set_pdeathsig)
            except OSError as e:
                raise BootError(f"cannot start {QEMU}: {e}") from None

    def _boot_failure(self, detail):
        """A BootError that names the cause: QEMU's own words when QEMU
        could not run the guest, the guest's oops/panic line when the kernel
        crashed before userspace."""
        con = self.console_text()
        try:
            qlog = (self.logdir / "qemu.log").read_text(errors="replace")
        except OSError:
            qlog = ""
        if not con.strip():
            cause = qemu_cause(qlog)
            if cause:
                # Name the accelerator: a broken KVM's error (e.g. "failed
                # to set MSR") does not say that it comes from KVM.
                accel = self.accel[0] if self.accel else "?"
                return BootError(f"QEMU could not run the guest with -accel {accel}: {cause}")
            return BootError(f"the guest printed nothing: {detail}")
        lines = con.splitlines()
        for kind, rx in (("oops", r"\bOops\b|BUG:|general protection fault|kernel BUG at"),
                         ("panic", r"Kernel panic")):
            hit = next((ln for ln in lines if re.search(rx, ln)), None)
            if hit:
                hit = re.sub(r"^\[\s*[0-9.]+\]\s*", "", hit.strip())
                return BootError(f"guest {kind} before userspace: {hit[:200]}", retryable=True)
        # QEMU reports the SIGTERM this process sent it on a timeout: not a cause.
        ours = re.compile(rf"terminating on signal \d+ from pid {os.getpid()}\b")
        cause = qemu_cause("\n".join(ln for ln in qlog.splitlines() if not ours.search(ln)))
        if cause:
            return BootError(f"guest died before userspace: {cause}", retryable=True)
        return BootError(f"guest did not reach userspace: {detail}", retryable=True)

    def _hard_kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.hard_timed_out = True
            self._dead = f"hard timeout of {self.hard_timeout}s reached, QEMU killed"
            self._kill_qemu()

    def _kill_qemu(self):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass

    def stop(self, save_dmesg=True):
        """Save the guest's dmesg (when it still answers), kill QEMU by pid,
        remove sockets. Safe to call more than once."""
        if self.proc is None:
            return
        try:
            if save_dmesg and self.alive:
                try:
                    (self.logdir / "dmesg.txt").write_text(self.dmesg(timeout=30))
                except VMError:
                    pass
        finally:
            if self._qmp is not None:
                self._qmp.close()
                self._qmp = None
            if self._chan is not None:
                self._chan.close()
                self._chan = None
            self._kill_qemu()
            if self._timer is not None:
                self._timer.cancel()
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if self.proc.returncode is not None and self._dead is None:
                self._dead = "VM stopped"
            self._log(f"# QEMU pid {self.pid} ended with status {self.proc.returncode}")
            if self._cmdlog:
                self._cmdlog.close()
                self._cmdlog = None
            self.proc = None
            self._cleanup_files()

    def _cleanup_files(self):
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)

    @property
    def alive(self):
        """QEMU runs and the command channel is usable."""
        return self.proc is not None and self.proc.poll() is None and self._dead is None

    def _log(self, text):
        if self._cmdlog:
            self._cmdlog.write(text + "\n")

    # -- command channel ------------------------------------------------------
    def _check_proc(self):
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
            self._dead = self._dead or f"QEMU exited (status {rc}); console tail: {self.console_tail()}"
            raise ChannelError(self._dead)

    def _readline(self, deadline):
        """Next line from the channel (bytes, without newline), or None at
        the deadline. Raises ChannelError when QEMU is gone."""
        while b"\n" not in self._rbuf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self._chan], [], [], min(left, 0.5))
            if not r:
                self._check_proc()
                continue
            try:
                chunk = self._chan.recv(65536)
            except OSError as e:
                chunk = b""
                self._dead = f"command channel error: {e}"
            if not chunk:
                try:  # EOF: normally QEMU is exiting (guest panic, -no-reboot)
                    self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    pass
                self._check_proc()
                self._dead = self._dead or "command channel closed"
                raise ChannelError(self._dead)
            self._rbuf += chunk
        line, self._rbuf = self._rbuf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def _wait_ready(self):
        deadline = self._started + self.boot_timeout
        while True:
            self._check_proc()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.chan_socket)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise BootError("command channel socket never appeared")
                time.sleep(0.05)
        self._chan = s
        self._sync(deadline)

    def _sync(self, deadline):
        """Bytes sent before the guest opened ttyS1 are lost: ping until it
        answers (PONG) or announces itself (HOTDIMM-READY), then drop what
        came before the last PONG. A kernel whose console stays silent for
        BOOT_SILENCE seconds before its userspace is up has hung."""
        n = 0
        ready = False
        next_ping = 0.0
        con_size, con_t, up = -1, time.monotonic(), False
        while not ready:
            now = time.monotonic()
            if now > deadline:
                raise BootError(f"guest not ready after {self.boot_timeout}s; "
                                f"console tail: {self.console_tail()}")
            try:
                size = os.path.getsize(self.console_log)
            except OSError:
                size = 0
            if size != con_size:
                con_size, con_t = size, now
                up = up or "init: userspace up" in self.console_text()
            elif not up and now - con_t > BOOT_SILENCE:
                raise BootError(f"guest hung before userspace: no console output for "
                                f"{BOOT_SILENCE}s; console tail: {self.console_tail()}")
            if now >= next_ping:
                # A guest that hangs before it reads ttyS1 leaves the
                # pings queued: once the socket is full a blocking send
                # would never return, deadline or not. Skip the ping then.
                _, writable, _ = select.select([], [self._chan], [], 0)
                if writable:
                    n += 1
                    try:
                        self._chan.sendall(f"PING {n}\n".encode())
                    except OSError as e:
                        self._check_proc()
                        raise BootError(f"command channel failed while booting: {e}; "
                                        f"console tail: {self.console_tail()}") from None
                next_ping = now + 1.0
            try:
                line = self._readline(min(deadline, next_ping))
            except ChannelError as e:
                raise BootError(f"guest died during boot: {e}") from None
            if line is None:
                continue
            if line == b"HOTDIMM-READY" or line.startswith(b"PONG "):
                ready = True
        # Synchronise: everything before our last PONG is stale.
        n += 1
        self._chan.sendall(f"PING {n}\n".encode())
        want = f"PONG {n}".encode()
        while True:
            line = self._readline(deadline)
            if line is None:
                raise BootError("guest stopped answering right after boot")
            if line == want:
                break

    def rebooted(self, timeout=300):
        """The guest runs a new kernel in the same QEMU (a kdump kernel after
        a panic, a kexec): wait until its command loop answers and restart
        the kernel log window (its dmesg starts empty)."""
        self._dead = None
        self._rbuf = b""
        try:
            self._sync(time.monotonic() + timeout)
        except BootError as e:
            self._dead = f"guest did not come back: {e}"
            raise
        self._dmesg_mark = 0

    def run(self, cmd, timeout=60, _scaled=False):
        """Run a shell command (busybox sh) in the guest. Returns (rc, output)
        with stdout and stderr merged. The guest kills the command (and its
        children) after `timeout` seconds (times `slow`): CommandTimeout. If
        the guest does not answer either, the channel is declared dead:
        ChannelError."""
        if not _scaled:
            timeout *= self.slow
        if self._dead:
            raise ChannelError(self._dead)
        if self._chan is None:
            raise ChannelError("VM not started")
        self._seq += 1
        cid = self._seq
        tmo = max(1, int(timeout + 0.999))
        payload = base64.b64encode(cmd.encode()).decode()
        t0 = time.monotonic()
        self._log(f"$ {cmd}")
        try:
            self._chan.sendall(f"CMD {cid} {tmo} {payload}\n".encode())
        except OSError as e:
            self._dead = f"command channel write failed: {e}"
            raise ChannelError(self._dead) from None
        # Slack for the transfer and a slow (TCG) guest.
        deadline = t0 + tmo + 30 + len(payload) / 5000
        begin = f"BEGIN {cid}".encode()
        endp = f"END {cid} ".encode()
        body = None
        while True:
            line = self._readline(deadline)
            if line is None:
                self._dead = (f"guest did not answer `{_short(cmd)}` within "
                              f"{deadline - t0:.0f}s")
                self._log(f"# {self._dead}")
                self.diagnose_stall()
                raise ChannelError(self._dead)
            if line == begin:
                body = []
            elif line.startswith(endp) and body is not None:
                parts = line.decode(errors="replace").split()
                rc = int(parts[2])
                # Killed by SIGKILL: by the guest's timeout if it ran that long.
                timed_out = (len(parts) > 3 and parts[3] == "killed"
                             and time.monotonic() - t0 >= tmo - 1)
                break
            elif body is not None:
                body.append(line)
        try:
            out = base64.b64decode(b"".join(body)).decode(errors="replace")
        except ValueError:
            out = "<undecodable output>"
        dt = time.monotonic() - t0
        self._log(out.rstrip("\n") + ("\n" if out.strip() else "") +
                  f"# rc={rc}{' TIMEOUT' if timed_out else ''} {dt:.2f}s")
        if timed_out:
            raise CommandTimeout(f"`{_short(cmd)}` killed after {tmo}s in the guest", out)
        return rc, out

    def sh(self, cmd, timeout=60):
        """run() that raises CommandFailed on a non-zero exit; returns output."""
        rc, out = self.run(cmd, timeout)
        if rc != 0:
            raise CommandFailed(cmd, rc, out)
        return out

    def read(self, path, timeout=30):
        """Contents of a guest file, without the trailing newline."""
        return self.sh(f"cat {shlex.quote(path)}", timeout).rstrip("\n")

    def write(self, path, value, timeout=60):
        """Write value to a guest file (e.g. sysfs) with one write() call
        (an empty value writes a lone newline). Returns (rc, output); on a
        failed write the output is "sh: write error: <strerror>"."""
        value = str(value)
        echo = f"echo -n {shlex.quote(value)}" if value else "echo"
        return self.run(f"{echo} > {shlex.quote(path)}", timeout)

    def put_file(self, path, data, mode=0o644):
        """Copy bytes (or str) to a guest file through the channel."""
        if isinstance(data, str):
            data = data.encode()
        b64 = base64.b64encode(data).decode()
        q = shlex.quote(path)
        self.sh(f": > {q}.b64")
        for i in range(0, len(b64), 3000):
            self.sh(f"printf '%s' '{b64[i:i + 3000]}' >> {q}.b64")
        self.sh(f"base64 -d {q}.b64 > {q} && rm {q}.b64 && chmod {mode:o} {q}")

    def wait_until(self, condition, timeout=60, interval=0.2):
        """Poll a shell condition inside the guest until it is true.
        Returns True, or False after `timeout` seconds (times `slow`)."""
        timeout *= self.slow
        script = (f"end=$(( $(cut -d. -f1 /proc/uptime) + {int(timeout + 0.999)} ))\n"
                  f"until {condition}; do\n"
                  f"  [ $(cut -d. -f1 /proc/uptime) -ge $end ] && exit 1\n"
                  f"  sleep {interval}\n"
                  f"done\n")
        try:
            # The loop ends by the guest's clock, which can run slow: the
            # debug kernel (no TSC, PM timer or HPET under TCG) keeps time
            # by its tick and lost a sixth of it in a 960 s wait.
            rc, _ = self.run(script, timeout * 1.25 + 60, _scaled=True)
        except CommandTimeout:
            return False
        return rc == 0

    # -- guest state helpers ---------------------------------------------------
    def meminfo(self):
        """/proc/meminfo as {field: kB}."""
        out = {}
        for line in self.read("/proc/meminfo").splitlines():
            k, _, v = line.partition(":")
            v = v.split()
            if v:
                out[k.strip()] = int(v[0])
        return out

    def iomem(self, name=None):
        """/proc/iomem entries [(start, end, name, depth)], filtered by name."""
        out = []
        for line in self.read("/proc/iomem").splitlines():
            m = re.match(r"^(\s*)([0-9a-f]+)-([0-9a-f]+) : (.*)$", line)
            if m and (name is None or m.group(4) == name):
                out.append((int(m.group(2), 16), int(m.group(3), 16), m.group(4),
                            len(m.group(1)) // 2))
        return out

    def memory_blocks(self):
        """{block index: state} from /sys/devices/system/memory."""
        # One grep, not a process per block: a terabyte guest has thousands.
        out = {}
        txt = self.sh("cd /sys/devices/system/memory && grep -H . memory*/state")
        for line in txt.splitlines():
            m = re.fullmatch(r"memory(\d+)/state:(\S+)", line.strip())
            if m:
                out[int(m.group(1))] = m.group(2)
        return out

    def block_size(self):
        return int(self.read("/sys/devices/system/memory/block_size_bytes"), 16)

    def diagnose_stall(self):
        """Record where a stalled guest is: vCPU instruction pointers
        (symbolized with System.map; the guest runs with nokaslr) in
        commands.log, and sysrq w/l dumps (blocked tasks, CPU backtraces) on
        the console."""
        try:
            regs = self.qmp("human-monitor-command", timeout=10,
                            **{"command-line": "info registers -a"})
            rips = re.findall(r"RIP=([0-9a-f]{16})", regs)
            self._log("# stall: vCPU RIPs: " + ", ".join(
                f"{r} {self._symbol(int(r, 16))}" for r in rips))
            for key in ("w", "l"):
                self.qmp("human-monitor-command", timeout=10,
                         **{"command-line": f"sendkey alt-sysrq-{key}"})
                time.sleep(2)
            time.sleep(3)
            self._log("# stall: sysrq-w and sysrq-l sent, see console.log")
        except Exception as e:  # diagnostics must never hide the real error
            self._log(f"# stall diagnostics failed: {e}")

    def _symbol(self, addr):
        try:
            best = None
            with open(self.kinfo.get("SYSMAP") or "/nonexistent") as f:
                for line in f:
                    a, t, name = line.split()[:3]
                    a = int(a, 16)
                    if t in "tTwW" and a <= addr and (best is None or a > best[0]):
                        best = (a, name)
            return f"<{best[1]}+{addr - best[0]:#x}>" if best else "<?>"
        except (OSError, ValueError):
            return "<?>"

    # -- QMP ---------------------------------------------------------------------
    def qmp_client(self):
        """The library's QMPClient (connected on first use)."""
        if self._qmp is None:
            if self.proc is None:
                raise VMError("VM not started")
            self._qmp = QMPClient(self.qmp_socket, timeout=30).connect(retry_for=10)
        return self._qmp

    def qmp(self, command, timeout=None, **args):
        """Run a QMP command; returns its result, raises QMPError."""
        return self.qmp_client().cmd(command, timeout=timeout, **args)

    # -- kernel log ----------------------------------------------------------------
    def dmesg(self, timeout=60):
        return self.sh("dmesg", timeout)

    def console_text(self):
        try:
            return self.console_log.read_text(errors="replace")
        except OSError:
            return ""

    def console_tail(self, n=5):
        lines = [ln for ln in self.console_text().splitlines() if ln.strip()]
        return " | ".join(lines[-n:])

    def mark_log(self):
        """Start a new window for check_log()."""
        self.check_log()

    def check_log(self):
        """Bad kernel log lines (BUG:, WARNING:, Oops, Call Trace, lockdep...)
        that appeared since the previous call (or mark_log()). Reads the
        console log and, when the guest answers, its dmesg."""
        bad = []
        seen = set()
        try:
            data = self.console_log.read_bytes()
        except OSError:
            data = b""
        new = data[self._con_mark:]
        cut = new.rfind(b"\n") + 1
        self._con_mark += cut
        for line in new[:cut].decode(errors="replace").splitlines():
            if _BAD_RE.search(line):
                key = line.strip()
                if key not in seen:
                    seen.add(key)
                    bad.append(key)
        if self.alive:
            # Only the lines after the previous check travel over the channel
            # (the 4 MiB log buffer does not wrap in a test run).
            try:
                lines = self.sh(f"dmesg | tail -n +{self._dmesg_mark + 1}", 60).splitlines()
            except VMError:
                lines = []
            for line in lines:
                if _BAD_RE.search(line) and line.strip() not in seen:
                    seen.add(line.strip())
                    bad.append(line.strip())
            self._dmesg_mark += len(lines)
        return bad


# ---------------------------------------------------------------------------
# libvirt: the same guests booted as libvirt domains.
# ---------------------------------------------------------------------------

LIBVIRT_URI = "qemu:///system"
LIBVIRT_RUN = "/run/libvirt"
# Names this run's domains (hotdimm-RUN-...): the first process sets it,
# the per-kernel children of tests/guest/run inherit it.
RUN_ID = os.environ.setdefault("HOTDIMM_RUN_ID", str(os.getpid()))


class Libvirtd:
    """libvirtd and virtlogd for guests booted as libvirt domains.

    ensure() uses daemons that already answer (someone else's: never
    stopped here) or starts the missing ones in the foreground as children
    (logs in build/logs/libvirtd/), remembers their pids and stops exactly
    those pids in stop(): at interpreter exit, on SIGTERM/SIGHUP turned into
    SystemExit (install_signal_cleanup) and, through PR_SET_PDEATHSIG, when
    the starting process dies. Before stopping its own libvirtd, stop()
    destroys this run's domains left in it (hotdimm-RUN_ID-*), never
    another run's (LibvirtVM kills its QEMU by pid when libvirtd is gone).
    tests/guest/run starts them once in its main process, so the
    per-kernel children share them."""

    def __init__(self):
        self.procs = {}        # name -> Popen, only the daemons started here
        self._lock = threading.Lock()
        self._atexit = False

    @staticmethod
    def _answers(sock):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def running(self):
        return self._answers(f"{LIBVIRT_RUN}/libvirt-sock")

    def ensure(self, timeout=60):
        with self._lock:
            for name, sock in (("virtlogd", "virtlogd-sock"), ("libvirtd", "libvirt-sock")):
                if self._answers(f"{LIBVIRT_RUN}/{sock}"):
                    continue
                self._start(name, f"{LIBVIRT_RUN}/{sock}", timeout)
            p = subprocess.run(virsh_argv("version"), capture_output=True, text=True,
                               timeout=timeout)
            if p.returncode != 0:
                raise BootError(f"libvirtd does not answer: {(p.stderr or p.stdout).strip()}")

    def _start(self, name, sock, timeout):
        exe = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if exe is None:
            raise BootError(f"{name} not found (install libvirt-daemon-system: scripts/deps.sh)")
        logdir = BUILD / "logs" / "libvirtd"
        logdir.mkdir(parents=True, exist_ok=True)
        pidfile = logdir / f"{name}.pid"
        with open(logdir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen([exe, "--pid-file", str(pidfile)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=lambda: _set_pdeathsig(signal.SIGTERM))
        self.procs[name] = proc
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        deadline = time.monotonic() + timeout
        while not self._answers(sock):
            if proc.poll() is not None:
                del self.procs[name]
                raise BootError(f"{name} exited with status {proc.returncode} at start "
                                f"(see {logdir / (name + '.log')})")
            if time.monotonic() > deadline:
                self.stop()
                raise BootError(f"{name} did not open {sock} within {timeout}s")
            time.sleep(0.1)

    def stop(self):
        """Destroy hotdimm-* domains and stop the daemons started here, by pid."""
        with self._lock:
            if "libvirtd" in self.procs and self.procs["libvirtd"].poll() is None:
                p = subprocess.run(virsh_argv("list", "--name"), capture_output=True,
                                   text=True, timeout=60)
                others = []
                for dom in p.stdout.split():
                    if dom.startswith(f"hotdimm-{RUN_ID}-"):
                        subprocess.run(virsh_argv("destroy", dom), capture_output=True, timeout=60)
                    else:
                        others.append(dom)
                if others:  # their runs kill their QEMUs by pid when virsh cannot
                    print("hotdimm_vm: stopping libvirtd while other runs' domains use it: "
                          + " ".join(others), file=sys.stderr)
            for name in ("libvirtd", "virtlogd"):
                proc = self.procs.pop(name, None)
                if proc is None or proc.poll() is not None:
                    continue
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


LIBVIRTD = Libvirtd()


def virsh_argv(*args):
    return ["virsh", "-c", LIBVIRT_URI, "-q", *args]


class _DomainProc:
    """The QEMU of a libvirt domain, for VM code that expects a Popen. It is
    libvirtd's child, so its exit status is unknown: returncode becomes
    "gone" once the process is."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                if state in ("Z", "X"):
                    self.returncode = "gone"
            except (OSError, IndexError):
                self.returncode = "gone"
        return self.returncode

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode


class LibvirtVM(VM):
    """A VM booted as a transient libvirt domain (`virsh create`) instead
    of a QEMU started here; everything else (command channel, check_log,
    stop on every path) is VM's.

    virtio_mem  {alias: region size}: one virtio-mem device each on node 0
                (device block 2 MiB, requested 0); aliases must start with
                "ua-" (libvirt's rule for user aliases)
    mem         boot memory; maxMemory is mem + the devices

    The domain (<name> self.domain, type kvm or qemu as choose_accel says)
    boots the kernel and initramfs directly; libvirt gives their ownership
    to its QEMU user, so it boots copies. Its serial ports are the
    harness's: ttyS0 a file (console.log), ttyS1 a unix socket libvirt
    listens on (the command channel). vm.qmp() goes through `virsh
    qemu-monitor-command`, vm.virsh() runs any virsh command for the
    domain. libvirtd/virtlogd are started when needed (LIBVIRTD). TCG runs
    with QEMU's default threading (libvirt has no setting for it)."""

    def __init__(self, kver, virtio_mem=None, **kw):
        # Measured: libvirt boots of 150 s on a 2-core machine running a
        # dozen guests; the plain harness allows 180 s.
        kw.setdefault("boot_timeout", 300)
        super().__init__(kver, **kw)
        self.virtio_mem = dict(virtio_mem or {})
        self.domain = re.sub(r"[^A-Za-z0-9_.-]", "-",
                             f"hotdimm-{RUN_ID}-{kver}-{self.logdir.name}-{os.getpid()}")

    @property
    def qmp_tool_socket(self):
        raise VMError("a libvirt guest has no spare QMP socket: use hotdimm-qmp --virsh")

    def hotpluggable(self):
        return sum(parse_size(s) for s in self.virtio_mem.values())

    def virsh(self, *args, timeout=60):
        """Run `virsh ARGS` (the domain is not added). Returns CompletedProcess."""
        p = subprocess.run(virsh_argv(*args), capture_output=True, text=True, timeout=timeout)
        self._log(f"$host virsh {shlex.join(args)}\n{(p.stdout + p.stderr).rstrip()}"
                  f"\n# rc={p.returncode}")
        return p

    def qmp_client(self):
        if self._qmp is None:
            if self.proc is None:
                raise VMError("VM not started")
            self._qmp = hotdimm_qmp.VirshQMP(self.domain, timeout=30)
        return self._qmp

    def domain_xml(self, kernel, initrd):
        accel, _ = choose_accel()
        mem = parse_size(self.mem)
        maxmem = mem + sum(parse_size(s) for s in self.virtio_mem.values())
        # no_timer_check: libvirt runs TCG with one thread per vCPU (it has
        # no setting for thread=single); on a loaded host the kernel's
        # IO-APIC timer check then failed ("IO-APIC + timer doesn't work!"
        # panic, 2 of 6 boots of 6.1 at a load average of 25).
        cmdline = " ".join(["console=ttyS0,115200", "panic=-1", "log_buf_len=4M", "loglevel=7",
                            "printk.time=1", "nokaslr", "no_timer_check", self.append,
                            os.environ.get(APPEND_ENV, "")]).strip()
        cpu = "host-passthrough" if accel == "kvm" else "maximum"
        cpus = int(str(self.smp).split(",")[0])
        vmem = "".join(f"""
    <memory model='virtio-mem'>
      <target>
        <size unit='KiB'>{parse_size(size) >> 10}</size>
        <node>0</node>
        <block unit='KiB'>2048</block>
        <requested unit='KiB'>0</requested>
      </target>
      <alias name='{alias}'/>
    </memory>""" for alias, size in self.virtio_mem.items())
        esc = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;"}
        x = lambda v: "".join(esc.get(c, c) for c in str(v))  # noqa: E731
        return f"""<domain type='{'kvm' if accel == 'kvm' else 'qemu'}'>
  <name>{x(self.domain)}</name>
  <memory unit='KiB'>{maxmem >> 10}</memory>
  <maxMemory slots='1' unit='KiB'>{maxmem >> 10}</maxMemory>
  <vcpu>{cpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{x(kernel)}</kernel>
    <initrd>{x(initrd)}</initrd>
    <cmdline>{x(cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='{cpu}'>
    <numa><cell id='0' cpus='0-{cpus - 1}' memory='{mem >> 10}' unit='KiB'/></numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='{x(self.console_log)}'/><target port='0'/></serial>
    <serial type='unix'><source mode='bind' path='{x(self.chan_socket)}'/>
      <target port='1'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>{vmem}
  </devices>
</domain>
"""

    def _launch(self):
        LIBVIRTD.ensure()
        # libvirt chowns what it boots to its QEMU user: copies, in a
        # directory that user can enter.
        os.chmod(self._sockdir, 0o755)
        kernel = shutil.copy(self.kinfo["VMLINUZ"], os.path.join(self._sockdir, "vmlinuz"))
        initrd = shutil.copy(self.initrd, os.path.join(self._sockdir, "initrd"))
        xml = self.logdir / "domain.xml"
        xml.write_text(self.domain_xml(kernel, initrd))
        p = self.virsh("create", str(xml))
        if p.returncode != 0:
            self._save_qemu_log()
            raise BootError(f"virsh create failed: {' '.join(p.stderr.split())}")
        try:
            pid = int(Path(f"{LIBVIRT_RUN}/qemu/{self.domain}.pid").read_text())
        except (OSError, ValueError) as e:
            self.virsh("destroy", self.domain)
            raise BootError(f"no pid for domain {self.domain}: {e}") from None
        self.proc = _DomainProc(pid)
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            (self.logdir / "qemu-cmdline.txt").write_text(
                shlex.join(a.decode(errors="replace") for a in argv) + "\n")
        except OSError:
            pass

    def _save_qemu_log(self):
        """libvirt's log of the domain's QEMU, as qemu.log beside the others."""
        try:
            shutil.copy(f"/var/log/libvirt/qemu/{self.domain}.log", self.logdir / "qemu.log")
        except OSError:
            pass

    def _kill_qemu(self):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            subprocess.run(virsh_argv("destroy", self.domain), capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:  # libvirtd did not: the pid it gave us
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self._save_qemu_log()


def boot_retries(kver):
    """How many boots hv.boot() retries for this kernel."""
    try:
        return BOOT_RETRIES_KASAN if present_kconfig(kver, ["CONFIG_KASAN"]) else BOOT_RETRIES
    except VMError:
        return BOOT_RETRIES


def boot(make_vm, retries=BOOT_RETRIES, report=None):
    """Start a VM from make_vm() and return it. A boot that fails in a way
    that may not happen again (BootError.retryable: the guest crashed or
    hung before its userspace, so before the test or hotdimm ran) is retried
    up to `retries` times with a new VM; report(n, error) is called for
    retry n. vm.boot_retries lists the reasons. A failure of QEMU itself,
    or anything after the guest is up, is never retried here."""
    reasons = []
    while True:
        vm = make_vm()
        try:
            vm.start()
        except BootError as e:
            if not e.retryable or len(reasons) >= retries:
                if reasons:
                    same = all(r == str(e) for r in reasons)
                    raise BootError(f"{e} (after {len(reasons)} boot retries" +
                                    (", each the same)" if same else
                                     f": {'; '.join(reasons)})"), e.retryable) from None
                raise
            reasons.append(str(e))
            if report is not None:
                report(len(reasons), e)
            continue
        vm.boot_retries = reasons
        return vm


# ---------------------------------------------------------------------------
# Test framework used by tests/guest/run and tests/guest/test_*.py.
# ---------------------------------------------------------------------------

class Fail(Exception):
    """A scenario's assertion failed; the message is the one-line reason."""


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def scenario(name):
    """Decorator naming a scenario function fn(vm, ctx)."""
    def deco(fn):
        fn.scenario_name = name
        return fn
    return deco


class Group:
    """Scenarios that share one boot.

    name       log directory / VM name
    scenarios  functions fn(vm, ctx), run in order (see @scenario)
    vm         keyword arguments for VM(): mem, maxmem, slots, append,
               qemu_args, smp...
    needs      artifacts the scenarios need: "module" (/hotdimm.ko),
               "hotdimmctl" (/bin/hotdimmctl), "memhold" (/bin/memhold).
               When one cannot be built, every scenario fails with why.
    reset      fn(vm) run after every scenario to return to a clean state
               (default: unload hotdimm, check no hotdimm memory is left).
               If it raises, the runner boots a fresh VM for the next one.
    kconfig    options the kernel must have (=y or =m in its config, see
               scripts/kernels.sh CONFIG), e.g. ("CONFIG_FAILSLAB",). On a
               kernel without them the group does not apply: it is not run
               and prints no PASS, only a "#" line saying why.
    files      fn(kver, artifacts) -> more initramfs EXTRA arguments (see
               scripts/mkinitramfs.sh) for this group's guest, e.g. a
               second kernel; artifacts as in `needs` (name -> host path).
    vm_class   VM (default) or LibvirtVM (boots a libvirt domain; the
               runner starts libvirtd once for all kernels)
    not_kconfig  {option: why} the group cannot run with, e.g.
               {"CONFIG_KASAN": "its shadow of 128 GiB needs 16 GiB"}: on a
               kernel that sets one, the group does not apply ("#" line with
               the why, no PASS).
    """

    def __init__(self, name, scenarios, vm=None, needs=("module",), reset=None, kconfig=(),
                 files=None, vm_class=None, not_kconfig=None):
        self.name = name
        self.vm_class = vm_class or VM
        self.scenarios = list(scenarios)
        self.vm = dict(vm or {})
        self.needs = tuple(needs)
        self.files = files
        self.reset = reset if reset is not None else unload_hotdimm
        self.kconfig = tuple(kconfig)
        self.not_kconfig = dict(not_kconfig or {})


def missing_kconfig(kver, options):
    """The options of `options` that kver's config does not set to y or m.
    Raises VMError when the kernel has no readable config."""
    if not options:
        return []
    path = kernel_info(kver).get("CONFIG")
    try:
        text = Path(path).read_text() if path else None
    except OSError:
        text = None
    if text is None:
        raise VMError(f"no kernel config for {kver} ({path or 'scripts/kernels.sh names none'})")
    have = {m.group(1) for m in re.finditer(r"^(CONFIG_\w+)=[ym]$", text, re.M)}
    return [o for o in options if o not in have]


def present_kconfig(kver, options):
    """The options of `options` that kver's config sets to y or m."""
    if not options:
        return []
    absent = missing_kconfig(kver, options)
    return [o for o in options if o not in absent]


# kmemleak (debug kernels). The runner clears the suspects found at boot
# and, after each scenario's reset (hotdimm unloaded), scans and fails the
# scenario on any new unreferenced object: the guest runs nothing but the
# test, so whatever leaked was allocated while it ran (in hotdimm or in the
# kernel code it drove).
KMEMLEAK = "/sys/kernel/debug/kmemleak"


def kmemleak_active(vm):
    """True when the guest kernel has kmemleak enabled (debugfs file readable)."""
    rc, _ = vm.run(f"cat {KMEMLEAK} > /dev/null")
    return rc == 0


def kmemleak_clear(vm):
    """Scan once and forget every suspect found so far (the boot's)."""
    vm.sh(f"echo scan > {KMEMLEAK} && echo clear > {KMEMLEAK}", 600)


def kmemleak_scan(vm, min_age=6):
    """New kmemleak reports since the last clear: a list of report texts
    ("unreferenced object ..." with its backtrace). Waits min_age seconds
    first (kmemleak does not report objects younger than 5 s), then clears."""
    out = vm.sh(f"sleep {min_age}; echo scan > {KMEMLEAK} && cat {KMEMLEAK} && "
                f"echo clear > {KMEMLEAK}", 600 + min_age)
    reports = re.split(r"(?m)^(?=unreferenced object )", out)
    return [r.strip() for r in reports if r.startswith("unreferenced object ")]


class Ctx:
    """What a scenario gets besides the VM: kver, artifacts (host paths),
    note(text) to add to the scenario log."""

    def __init__(self, kver, artifacts, logfile):
        self.kver = kver
        self.artifacts = artifacts
        self._log = logfile

    def note(self, text):
        self._log.write(str(text).rstrip("\n") + "\n")
        self._log.flush()


# ---------------------------------------------------------------------------
# hotdimm guest helpers (shared by the emulated, virtio and hotdimmctl tests)
# ---------------------------------------------------------------------------

HOTDIMM_RES = "System RAM (hotdimm)"
PLATFORM = "/sys/bus/platform/devices"
PARAMS = "/sys/module/hotdimm/parameters"
MEMORY = "/sys/devices/system/memory"

DEV_ATTRS = ("transport", "region_start", "region_size", "block_size", "device_block_size", "node",
             "requested_size", "plugged_size", "kernel_size", "movable_size",
             "offline_size", "movable_ratio", "blocks", "status")


# The one-character-per-block `blocks` file: sysfs takes at most 4095 bytes
# from it, the map and its newline; larger devices refuse it with EFBIG and
# only block_map has the map.
BLOCKS_MAX = 4094


def parse_block_map(text):
    """block_map text -> (generation, map string with one character per
    block). Raises Fail when it is malformed, does not cover every block, or
    its two generations differ (read while blocks changed)."""
    lines = text.split("\n")
    m = re.fullmatch(r"blocks (\d+) generation (\d+)", lines[0]) if lines else None
    if not m or len(lines) != 4 or lines[3] != "":
        raise Fail(f"block_map malformed: {text[:200]!r}")
    nr, gen = int(m.group(1)), int(m.group(2))
    m2 = re.fullmatch(r"generation (\d+)", lines[2])
    if not m2:
        raise Fail(f"block_map without its last line: {text[-200:]!r}")
    if int(m2.group(1)) != gen:
        raise Fail(f"block_map torn: generation {gen} then {m2.group(1)}")
    out, nxt = [], 0
    for run in lines[1].split(" ") if nr else []:
        r = re.fullmatch(r"(\d+)(?:-(\d+))?:([-oKMpkm])", run)
        if not r:
            raise Fail(f"block_map: bad run {run!r}")
        first = int(r.group(1))
        last = int(r.group(2)) if r.group(2) else first
        if first != nxt or last < first or last >= nr:
            raise Fail(f"block_map: run {run!r} does not follow block {nxt - 1}")
        out.append(r.group(3) * (last - first + 1))
        nxt = last + 1
    if nxt != nr:
        raise Fail(f"block_map covers {nxt} of {nr} blocks")
    return gen, "".join(out)


def block_runs(blocks):
    """One character per block -> "FIRST[-LAST]:C ..." (for short messages)."""
    runs, i = [], 0
    while i < len(blocks):
        j = i
        while j + 1 < len(blocks) and blocks[j + 1] == blocks[i]:
            j += 1
        runs.append(f"{i}:{blocks[i]}" if i == j else f"{i}-{j}:{blocks[i]}")
        i = j + 1
    return " ".join(runs)


def hotdimm_loaded(vm):
    rc, _ = vm.run("grep -q '^hotdimm ' /proc/modules")
    return rc == 0


def unload_hotdimm(vm, timeout=180):
    """rmmod hotdimm if loaded; raise Fail if hotdimm memory is left."""
    if hotdimm_loaded(vm):
        rc, out = vm.run("rmmod hotdimm", timeout)
        if rc != 0:
            raise Fail(f"rmmod hotdimm failed: {out.strip()}")
    left = vm.iomem(HOTDIMM_RES)
    if left:
        raise Fail(f"{len(left)} '{HOTDIMM_RES}' ranges left after rmmod")


class Dev:
    """One hotdimm.N platform device in the guest."""

    def __init__(self, vm, n):
        self.vm = vm
        self.n = n
        self.path = f"{PLATFORM}/hotdimm.{n}"

    def attr(self, name):
        return self.vm.read(f"{self.path}/{name}")

    def block_map(self, tries=5):
        """The complete map from block_map (one character per block),
        read again while blocks change under the reader."""
        for i in range(tries):
            try:
                return parse_block_map(self.vm.sh(f"cat {self.path}/block_map"))[1]
            except Fail as e:
                if "torn" not in str(e) or i == tries - 1:
                    raise
        raise Fail("unreachable")

    def attrs(self):
        """All per-device attributes (README, sysfs interface) in one guest
        command: {name: value}. "blocks" is the complete map, also where the
        blocks file cannot hold it (then "blocks_file" is "<EFBIG>"); "block_map"
        is the map expanded from block_map, "<missing>" if absent."""
        parts = []
        for a in DEV_ATTRS:
            if a == "blocks":
                parts.append(f"printf 'blocks='; cat {self.path}/blocks 2>/dev/null || "
                             f"{{ [ -e {self.path}/blocks ] && echo '<EFBIG>' || echo '<missing>'; }}")
            else:
                parts.append(f"printf '%s=' {a}; cat {self.path}/{a} 2>&1 || echo '<missing>'")
        parts.append(f"printf 'block_map='; cat {self.path}/block_map 2>/dev/null | "
                     "tr '\\n' '|' || true; echo")
        out = {}
        for line in self.vm.sh("; ".join(parts)).splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        raw = out.get("block_map", "")
        out["blocks_file"] = out.get("blocks", "<missing>")
        if raw:
            try:
                out["block_map"] = parse_block_map(raw.replace("|", "\n"))[1]
            except Fail as e:
                out["block_map"] = f"<{e}>"
        else:
            out["block_map"] = "<missing>"
        if out["blocks_file"] == "<EFBIG>" and not out["block_map"].startswith("<"):
            out["blocks"] = out["block_map"]
        return out

    def set_requested(self, size):
        return self.vm.write(f"{self.path}/requested_size", size)

    def wait_plugged(self, size, timeout=120):
        """Wait until plugged_size == size (bytes). Returns True or False."""
        return self.vm.wait_until(f'[ "$(cat {self.path}/plugged_size)" = "{int(size)}" ]',
                                  timeout)

    def wait_converged(self, size, timeout=180):
        """Wait until plugged_size == size (bytes) and status is 'ok...';
        raise Fail with the device's state if that does not happen."""
        cond = (f'[ "$(cat {self.path}/plugged_size)" = "{int(size)}" ] && '
                f'grep -q "^ok" {self.path}/status')
        if not self.vm.wait_until(cond, timeout, interval=0.2):
            a = self.attrs()
            raise Fail(f"hotdimm.{self.n} did not reach {int(size) >> 20} MiB in {timeout}s: "
                       f"plugged {int(a['plugged_size']) >> 20} MiB, status '{a['status']}', "
                       f"blocks {a['blocks']}")


def memhold_start(vm, mib, start, end):
    """Start /bin/memhold (tests/guest/memhold.c) in the background: MIB MiB
    of patterned anonymous memory, pid in /tmp/memhold.pid. Waits until it
    is ready; returns (pages in [start, end), its ready line)."""
    vm.sh(f"setsid memhold {mib} {start:#x} {end:#x} > /tmp/memhold.out 2>&1 < /dev/null & "
          "echo $! > /tmp/memhold.pid")
    expect(vm.wait_until("grep -q ready /tmp/memhold.out", 120),
           "memhold did not get ready: " + vm.run("cat /tmp/memhold.out")[1].strip())
    ready = vm.read("/tmp/memhold.out").strip()
    return int(re.search(r"inrange=(-?\d+)", ready).group(1)), ready


def memhold_verify(vm):
    """Have memhold check its memory; returns its output (last line
    "verify ok inrange=N" or "verify bad ...")."""
    vm.sh("kill -USR1 $(cat /tmp/memhold.pid)")
    expect(vm.wait_until("grep -q verify /tmp/memhold.out", 120), "memhold did not verify")
    return vm.read("/tmp/memhold.out")


def devices(vm):
    """Indices of the hotdimm.N devices present."""
    rc, out = vm.run(f"ls -d {PLATFORM}/hotdimm.* 2>/dev/null")
    return sorted(int(p.rsplit(".", 1)[1]) for p in out.split() if p.rsplit(".", 1)[1].isdigit())


def merge_ranges(ranges):
    """[(start, end_inclusive)] -> merged sorted list."""
    out = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def snapshot(vm):
    """Guest memory state for before/after comparisons."""
    out = vm.sh("grep '^MemTotal:' /proc/meminfo; echo @@; "
                f"cd {MEMORY} && grep -H . memory*/state | sed 's,^memory,,; s,/state:, ,'; "
                "echo @@; cat /proc/iomem; echo @@; "
                f"ls -d {PLATFORM}/hotdimm.* 2>/dev/null; true")
    mem, blk, iomem, devs = out.split("@@\n")
    blocks = {}
    for line in blk.splitlines():
        p = line.split()
        if len(p) == 2 and p[0].isdigit():
            blocks[int(p[0])] = p[1]
    return {
        "memtotal": int(mem.split()[1]),
        "blocks": blocks,
        "iomem": iomem.rstrip("\n"),
        "devices": sorted(int(d.rsplit(".", 1)[1]) for d in devs.split()
                          if d.rsplit(".", 1)[1].isdigit()),
    }


def check_device(vm, dev, base, block_size=128 * MiB):
    """Check that one device's sysfs, /sys/devices/system/memory and
    /proc/iomem agree. Returns the attrs. Raises Fail."""
    a = dev.attrs()
    for k, v in a.items():
        expect(v != "<missing>", f"hotdimm.{dev.n}/{k} missing")
    start = int(a["region_start"], 16)
    size = int(a["region_size"])
    bs = int(a["block_size"])
    expect(bs == block_size, f"block_size {bs} != {block_size}")
    plugged = int(a["plugged_size"])
    # The complete map is block_map's; blocks shows the same or, when it
    # cannot hold every block, refuses (EFBIG) rather than cutting it.
    # Read again once when the map changed between the reads (torn, or the
    # two files read at different moments).
    if "torn" in a["block_map"] or (
            a["blocks_file"] not in ("<EFBIG>", a["block_map"])):
        a = dev.attrs()
    expect(not a["block_map"].startswith("<"), f"block_map: {a['block_map']}")
    blocks = a["block_map"]
    if size // bs > BLOCKS_MAX:
        expect(a["blocks_file"] == "<EFBIG>",
               f"blocks of {size // bs} blocks should fail with EFBIG, gave "
               f"{len(a['blocks_file'])} chars")
    else:
        expect(a["blocks_file"] == blocks,
               f"blocks {a['blocks_file']} != block_map {block_runs(blocks)}")
    expect(len(blocks) == size // bs, f"block_map has {len(blocks)} blocks, want {size // bs}: "
           f"{block_runs(blocks)}")
    expect(set(blocks) <= set("-oKMpkm"), f"unexpected block chars: {block_runs(blocks)}")
    dbs = int(a.get("device_block_size") or bs)
    expect(dbs > 0 and bs % dbs == 0, f"device_block_size {dbs} does not divide block_size {bs}")
    # Whole blocks count fully; a partly plugged one (p, k, m) with at
    # least one and at most all-but-one sub-block.
    full = {c: blocks.count(c) * bs for c in "oKM"}
    part = {c: blocks.count(c) for c in "pkm"}
    # A block with nothing plugged left whose removal failed is still 'p',
    # 'k' or 'm' (and has 0 bytes) until its retry; status says so.
    part_min = 0 if a["status"].startswith("retrying: removal of block") else dbs
    kern = int(a["kernel_size"])
    mov = int(a["movable_size"])
    off = int(a["offline_size"])
    for name, val, fc, pc in (("kernel_size", kern, "K", "k"), ("movable_size", mov, "M", "m"),
                              ("offline_size", off, "o", "p")):
        lo = full[fc] + part[pc] * part_min
        hi = full[fc] + part[pc] * (bs - dbs)
        expect(val % dbs == 0 and lo <= val <= hi,
               f"{name} {val} disagrees with blocks {block_runs(blocks)} (want {lo}..{hi})")
    expect(plugged == kern + mov + off,
           f"plugged_size {plugged} != kernel {kern} + movable {mov} + offline {off}")
    # Linux memory blocks of the region.
    mb = vm.memory_blocks()
    zones = {}
    idx0 = start // bs
    used_idx = [idx0 + i for i, c in enumerate(blocks) if c in "KMkm"]
    for k in range(0, len(used_idx), 256):
        chunk = used_idx[k:k + 256]
        rc, txt = vm.run("cd %s && grep -H . %s" % (
            MEMORY, " ".join(f"memory{i}/valid_zones" for i in chunk)))
        for line in txt.splitlines():
            m = re.fullmatch(r"memory(\d+)/valid_zones:(\S+).*", line.strip())
            if m:
                zones[int(m.group(1))] = m.group(2)
    for i, c in enumerate(blocks):
        idx = idx0 + i
        st = mb.get(idx)
        if c == "-":
            expect(st is None, f"block {i} is '-' but memory{idx} exists ({st})")
        elif c in "op":
            # 'o' and 'p' may also be a block plugged at the host but not in
            # Linux: its add failed or is pending (retried by the worker), or
            # it waits for its unplug. A block stuck so shows in MemTotal
            # (check_memtotal) once the device has converged.
            expect(st == "offline" or st is None,
                   f"block {i} is '{c}' but memory{idx} is {st}")
        else:
            # going-offline: an offline attempt is migrating its pages (it
            # stays online for hotdimm until the offline succeeds); its
            # valid_zones then lists candidates, not its zone.
            expect(st in ("online", "going-offline"),
                   f"block {i} is '{c}' but memory{idx} is {st}")
            if st != "online":
                continue
            z = zones.get(idx, "?")
            if c in "Mm":
                expect(z == "Movable", f"block {i} is 'M' but memory{idx} is in zone {z}")
            else:
                expect(z != "Movable", f"block {i} is 'K' but memory{idx} is in ZONE_MOVABLE")
    # /proc/iomem entries inside the region cover exactly the added blocks
    # (those with a memoryN).
    res = [(s, e) for s, e, _, _ in vm.iomem(HOTDIMM_RES) if s >= start and e < start + size]
    want = merge_ranges([(start + i * bs, start + (i + 1) * bs - 1)
                         for i, c in enumerate(blocks) if mb.get(idx0 + i) is not None])
    expect(merge_ranges(res) == want,
           "iomem '%s' %s != added blocks %s" % (
               HOTDIMM_RES, [f"{s:#x}-{e:#x}" for s, e in merge_ranges(res)],
               [f"{s:#x}-{e:#x}" for s, e in want]))
    return a


def check_memtotal(vm, base_kb, plugged_online_bytes, exact=True):
    """MemTotal grew by exactly the online hotdimm memory."""
    now = vm.meminfo()["MemTotal"]
    delta = (now - base_kb) * 1024
    if exact:
        expect(delta == plugged_online_bytes,
               f"MemTotal delta {delta >> 10} kB != online plugged {plugged_online_bytes >> 10} kB")
    return delta
