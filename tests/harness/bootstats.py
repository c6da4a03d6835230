#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Boot reliability and boot time of guests under different TCG settings.

    tests/harness/bootstats.py [--kernel KVER] [-n BOOTS] [OPTS...]

Each OPTS is a string appended to "-accel tcg" (e.g. "" and ",thread=single").
The settings take turns boot by boot, so a busy machine slows all of them
alike. A boot counts as crashed when the guest oopsed, panicked or died
before its userspace answered. Prints one line per boot and a summary per
setting: boots, crashes (with the first oops line), median and max boot time.
"""
import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.dont_write_bytecode = True
os.environ.setdefault("HOTDIMM_ACCEL", "tcg")
import hotdimm_vm as hv  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", default=None)
    ap.add_argument("-n", type=int, default=20, help="boots per setting")
    ap.add_argument("opts", nargs="*", default=[",thread=multi", ",thread=single"])
    a = ap.parse_args()
    kver = a.kernel or hv.kernels()[-1]
    res = {o: {"t": [], "crash": []} for o in a.opts}
    for i in range(a.n):
        for o in a.opts:
            hv.TCG_OPTS = o
            vm = hv.VM(kver, name=f"bootstats-{i}", boot_timeout=120)
            try:
                vm.start()
                res[o]["t"].append(vm.boot_time)
                print(f"boot {i} tcg{o or ''}: ok {vm.boot_time:.2f}s", flush=True)
            except hv.BootError as e:
                res[o]["crash"].append(str(e))
                print(f"boot {i} tcg{o or ''}: CRASH {e}", flush=True)
            finally:
                vm.stop()
    print(f"# kernel {kver}")
    for o, r in res.items():
        t = r["t"]
        print(f"tcg{o or ' (default)'}: {len(t) + len(r['crash'])} boots, "
              f"{len(r['crash'])} crashed; boot time median "
              f"{statistics.median(t) if t else float('nan'):.2f}s, max "
              f"{max(t) if t else float('nan'):.2f}s"
              + (f"; first crash: {r['crash'][0]}" if r["crash"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
