#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fake hotdimm sysfs tree and the check of `hotdimmctl status --json`.

    sysfs_fixture.py make ROOT            create ROOT/sys/... and ROOT/proc/iomem
    sysfs_fixture.py make-big ROOT        the same with one 1 TiB device (8192
                                          blocks, only in block_map)
    sysfs_fixture.py check ROOT [DEVICE]  read `status --json` output on stdin,
                                          compare it with the tree under ROOT

check_status_json() is also used by the guest test with attribute values
read from a real guest's sysfs.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from hotdimm_vm import block_runs as runs  # noqa: E402  one run formatter for tests and fixture

DEVICES_DIR = "sys/bus/platform/devices"
PARAMS_DIR = "sys/module/hotdimm/parameters"

# Every per-device attribute the README documents.
DEVICE_ATTRS = ("transport", "region_start", "region_size", "block_size",
                "device_block_size", "node", "requested_size", "plugged_size",
                "kernel_size", "movable_size", "offline_size", "movable_ratio",
                "blocks", "status")
SIZE_ATTRS = ("region_start", "region_size", "block_size", "device_block_size",
              "requested_size", "plugged_size", "kernel_size", "movable_size",
              "offline_size")
# block_map (the complete map in runs) is read and shown as "blocks" (every
# block) and "block_map" (its runs line).
DEVICE_KEYS = ("name",) + DEVICE_ATTRS + ("block_map",)
TOP_KEYS = ("version", "module_loaded", "parameters", "devices")
BOOL_PARAMS = ("numa_aware", "memmap_on_memory")
INT_PARAMS = ("movable_ratio",)

M = 1 << 20
G = 1 << 30

FIXTURE = {
    "hotdimm.0": {
        "transport": "emulated", "region_start": "0x40000000",
        "region_size": 2 * G, "block_size": 128 * M, "device_block_size": 2 * M,
        "node": 0, "requested_size": 1 * G, "plugged_size": 1 * G,
        "kernel_size": 256 * M, "movable_size": 768 * M, "offline_size": 0,
        "movable_ratio": 301, "blocks": "KMMMMMMM--------", "status": "ok",
    },
    "hotdimm.1": {
        "transport": "virtio-mem", "region_start": "0x100000000",
        "region_size": 8 * G, "block_size": 128 * M, "device_block_size": 2 * M,
        "node": 0, "requested_size": 522 * M, "plugged_size": 522 * M,
        "kernel_size": 128 * M, "movable_size": 266 * M,
        "offline_size": 128 * M, "movable_ratio": 0,
        "blocks": "KMMmo" + "-" * 59, "partial_blocks": "3 10485760\n",
        "block_map": "blocks 64 generation 7\n0:K 1-2:M 3:m 4:o 5-63:-\ngeneration 7",
        "status": 'retrying: busy "block 4"\tx\\y',
    },
    "hotdimm.10": {
        "transport": "emulated", "region_start": "0x300000000",
        "region_size": 256 * M, "block_size": 128 * M, "device_block_size": 2 * M,
        "node": 1,
        "requested_size": 0, "plugged_size": 0, "kernel_size": 0,
        "movable_size": 0, "offline_size": 0, "movable_ratio": 301,
        "blocks": "--", "status": "ok",
    },
}
# A terabyte device: sysfs refuses its blocks file (EFBIG), so there is
# none here; block_map has the map.
BIG = {
    "hotdimm.0": {
        "transport": "virtio-mem", "region_start": "0x100000000",
        "region_size": 1024 * G, "block_size": 128 * M, "device_block_size": 2 * M,
        "node": 0, "requested_size": 4 * G + 10 * M, "plugged_size": 4 * G + 10 * M,
        "kernel_size": 128 * M, "movable_size": 3968 * M + 10 * M, "offline_size": 0,
        "movable_ratio": 301, "partial_blocks": "32 10485760\n",
        "block_map": "blocks 8192 generation 99\n0-23:M 24:K 25-31:M 32:m 33-8191:-\n"
                     "generation 99",
        "status": "ok",
    },
}
PARAMS = {"dimms": "1G@0x40000000,256M@0x300000000", "movable_ratio": "301",
          "numa_aware": "Y", "online_policy": "auto-movable",
          "memmap_on_memory": "N"}
IOMEM = """00000000-00000fff : Reserved
00100000-3fffffff : System RAM
40000000-47ffffff : System RAM (hotdimm)
48000000-7fffffff : System RAM (hotdimm)
100000000-13fffffff : System RAM (hotdimm)
"""




def expand(block_map):
    """block_map text -> one character per block (no checks: the fixture's)."""
    out = []
    for run in block_map.split("\n")[1].split():
        span, _, c = run.partition(":")
        a, _, b = span.partition("-")
        out.append(c * (int(b or a) - int(a) + 1))
    return "".join(out)


def make(root, fixture=None):
    for name, attrs in (fixture or FIXTURE).items():
        d = os.path.join(root, DEVICES_DIR, name)
        os.makedirs(d, exist_ok=True)
        for k, v in attrs.items():
            with open(os.path.join(d, k), "w") as f:
                f.write("%s\n" % v)
    # things that are not hotdimm devices
    os.makedirs(os.path.join(root, DEVICES_DIR, "serial8250"), exist_ok=True)
    os.makedirs(os.path.join(root, DEVICES_DIR, "hotdimm.x"), exist_ok=True)
    p = os.path.join(root, PARAMS_DIR)
    os.makedirs(p, exist_ok=True)
    for k, v in PARAMS.items():
        with open(os.path.join(p, k), "w") as f:
            f.write(v + "\n")
    os.makedirs(os.path.join(root, "proc"), exist_ok=True)
    with open(os.path.join(root, "proc", "iomem"), "w") as f:
        f.write(IOMEM)


def read_tree(root, only=None):
    """{device: {attr: text}}, {param: text} from a (fake or real) root."""
    devs = {}
    ddir = os.path.join(root, DEVICES_DIR)
    for name in os.listdir(ddir):
        pre, _, num = name.partition(".")
        if pre != "hotdimm" or not num.isdigit():
            continue
        if only and name != only:
            continue
        attrs = {}
        for a in DEVICE_ATTRS + ("block_map",):
            try:
                with open(os.path.join(ddir, name, a)) as f:
                    attrs[a] = f.read().rstrip("\n")
            except OSError:
                attrs[a] = None
        # The complete map: block_map where there is one.
        if attrs["block_map"] is not None:
            attrs["blocks"] = expand(attrs["block_map"])
        devs[name] = attrs
    params = {}
    pdir = os.path.join(root, PARAMS_DIR)
    for k in os.listdir(pdir):
        with open(os.path.join(pdir, k)) as f:
            params[k] = f.read().rstrip("\n")
    return devs, params


def _num(text):
    return int(text, 0)


def check_status_json(doc, devs, params):
    """Errors (a list of strings) comparing `status --json` output with
    sysfs text: devs {name: {attr: text}}, params {name: text}."""
    errs = []
    if not isinstance(doc, dict):
        return ["top level is %s, not an object" % type(doc).__name__]
    if sorted(doc) != sorted(TOP_KEYS):
        errs.append("top-level keys %s, want %s" % (list(doc), list(TOP_KEYS)))
    if doc.get("module_loaded") is not True:
        errs.append("module_loaded is %r" % doc.get("module_loaded"))
    if not isinstance(doc.get("version"), str) or not doc.get("version"):
        errs.append("version %r" % doc.get("version"))
    jp = doc.get("parameters")
    if not isinstance(jp, dict):
        errs.append("parameters is not an object")
        jp = {}
    if sorted(jp) != sorted(params):
        errs.append("parameters %s, want %s" % (sorted(jp), sorted(params)))
    for k, text in params.items():
        v = jp.get(k)
        if k in BOOL_PARAMS:
            want = text in ("Y", "y", "1")
        elif k in INT_PARAMS:
            want = int(text)
        else:
            want = text
        if v != want or type(v) is not type(want):
            errs.append("parameter %s = %r, sysfs %r" % (k, v, text))
    jd = doc.get("devices")
    if not isinstance(jd, list):
        return errs + ["devices is not a list"]
    names = [d.get("name") if isinstance(d, dict) else None for d in jd]
    want_names = sorted(devs, key=lambda n: int(n.split(".")[1]))
    if names != want_names:
        errs.append("devices %s, want %s (sorted by number)" % (names, want_names))
    for d in jd:
        if not isinstance(d, dict):
            errs.append("device entry is not an object")
            continue
        name = d.get("name")
        if sorted(d) != sorted(DEVICE_KEYS):
            errs.append("%s: keys %s, want %s" % (name, list(d), list(DEVICE_KEYS)))
        attrs = devs.get(name)
        if attrs is None:
            continue
        for a in DEVICE_ATTRS:
            text, v = attrs[a], d.get(a)
            if text is None:
                want = None
            elif a in SIZE_ATTRS or a in ("node", "movable_ratio"):
                want = _num(text)
            else:
                want = text
            if v != want or type(v) is not type(want):
                errs.append("%s.%s = %r, sysfs %r" % (name, a, v, text))
        want = runs(attrs["blocks"]) if attrs["blocks"] is not None else None
        if d.get("block_map") != want:
            errs.append("%s.block_map = %r, want %r" % (name, d.get("block_map"), want))
    return errs


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "make-big":
        make(sys.argv[2], BIG)
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        only = sys.argv[3] if len(sys.argv) > 3 else None
        try:
            doc = json.load(sys.stdin)
        except ValueError as e:
            print("invalid JSON: %s" % e)
            return 1
        devs, params = read_tree(sys.argv[2], only)
        errs = check_status_json(doc, devs, params)
        for e in errs:
            print(e)
        return 1 if errs else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
