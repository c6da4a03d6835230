#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: hotdimm against the in-tree virtio_mem driver, side by side,
# in QEMU guests on this machine. Writes build/bench/results.md (also
# printed), build/bench/plug.png (gnuplot), build/bench/raw.json and the
# guest logs under build/bench/logs/.
#
#   scripts/bench.sh [OPTIONS]      options: tests/bench/bench.py --help
#
# Environment: BENCH_KERNEL (default: the oldest kernel scripts/kernels.sh
# lists, Debian 12's stock one), BENCH_CONFIGS (abcd),
# BENCH_REPS (3), BENCH_LOAD_REPS (2), BENCH_SIZES (1,2,4,8).
# --update-readme also replaces README.md's Performance section.
# --scale runs only the terabyte rows (1 TiB region in a 2 GiB guest, plug
# and unplug 16, 64, 128 GiB, hotdimm against virtio_mem): build/bench/scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export HOTDIMM_ROOT=$PWD

case "${1:-}" in
-h|--help) exec python3 tests/bench/bench.py --help ;;
esac

# A fresh machine has nothing: install it (needs root, idempotent).
if [ "$(id -u)" = 0 ]; then
	mkdir -p build/bench
	if ! scripts/deps.sh > build/bench/deps.log 2>&1; then
		echo "bench: scripts/deps.sh failed, see build/bench/deps.log" >&2
		tail -n 20 build/bench/deps.log >&2
		exit 1
	fi
fi
exec python3 tests/bench/bench.py "$@"
