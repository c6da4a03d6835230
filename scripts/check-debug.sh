#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-debug: the guest suite on the debug kernel.
#
#   scripts/check-debug.sh [--fresh] [tests/guest/run ARGS...]    e.g. -k faults
#
# 1. scripts/deps.sh (as root; installs linux-source-6.1), then
#    scripts/debug-kernel.sh: builds the debug kernel unless it is built
#    (about 9 minutes on 2 idle cores; output in build/logs/debug-kernel.log).
# 2. tests/guest/run --kernel <debug kernel> with panic_on_warn=1 on every
#    guest's command line (HOTDIMM_GUEST_APPEND), so a WARN, and a KASAN
#    report, stops the guest at once. kmemleak is on by default in this
#    kernel (no command line needed); the runner scans after each scenario.
#    The guest suite includes the soak (tests/guest/test_soak.py) in its
#    short form; HOTDIMM_SOAK_RESIZES=N in the environment makes it longer.
# 3. The suite takes over an hour on 2 cores (the debug kernel runs 3-10
#    times slower than a stock one under TCG), so it can be stopped and run
#    again:
#    a scenario that passed is not run again while nothing it depends on
#    changed: the stamp below (every file git tracks or would track, less
#    *.md and tests/guest/test_*.py; the debug kernel; HOTDIMM_* settings)
#    and the test modules defining it (tests/guest/run --journal). The
#    journal is build/check-debug/journal; the final count includes those
#    scenarios and says how many. --fresh (make check-debug FRESH=1)
#    forgets the journal first.
# Prints PASS/FAIL lines and ends with "N passed, N failed".
set -u
fresh=0
if [ "${1:-}" = --fresh ]; then
	fresh=1
	shift
fi
cd "$(dirname "$0")/.." || exit 1
mkdir -p build/logs
export HOTDIMM_ROOT=$PWD

if [ "$(id -u)" = 0 ] && ! scripts/deps.sh > build/logs/deps.log 2>&1; then
	echo "FAIL deps: scripts/deps.sh failed, see build/logs/deps.log"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "# debug kernel: scripts/debug-kernel.sh (log: build/logs/debug-kernel.log)"
if ! scripts/debug-kernel.sh > build/logs/debug-kernel.log 2>&1; then
	tail -n 20 build/logs/debug-kernel.log
	echo "FAIL debug-kernel: the build failed, see build/logs/debug-kernel.log"
	echo "0 passed, 1 failed"
	exit 1
fi
dir=$(scripts/debug-kernel.sh --dir)
KVER=$(scripts/kernels.sh --debug)
echo "# debug kernel $KVER in $dir (built in $(cat "$dir/build-seconds" 2>/dev/null || echo '?') s)"

export HOTDIMM_GUEST_APPEND="panic_on_warn=1${HOTDIMM_GUEST_APPEND:+ $HOTDIMM_GUEST_APPEND}"
# The stamp: every file git tracks or would track, less *.md and the guest
# test modules (the runner hashes those per scenario), the kernel and the
# settings.
stamp=$({
	{ git ls-files; git ls-files -o --exclude-standard; } | grep -v '\.md$' |
		grep -v '^tests/guest/test_[^/]*\.py$' | sort -u |
		while read -r f; do [ -f "$f" ] && sha256sum "$f"; done
	echo "$KVER"
	sha256sum "$dir/bzImage"
	env | grep '^HOTDIMM_' | grep -v '^HOTDIMM_DEBUG_LANES=' | sort
} | sha256sum | cut -c1-16)
mkdir -p build/check-debug
journal=build/check-debug/journal
out=build/logs/check-debug.out
[ "$fresh" = 1 ] && rm -f build/check-debug/*
n=0
[ -f "$journal" ] && n=$(wc -l < "$journal")
echo "# stamp $stamp, journal $journal ($n line(s); FRESH=1 forgets it)" | tee "$out"
rc=0
t0=$(date +%s)
# Two lanes: each guest uses one host core under TCG (HOTDIMM_DEBUG_LANES=N
# to change).
tests/guest/run --kernel "$KVER" --lanes "${HOTDIMM_DEBUG_LANES:-2}" \
	--journal "$journal" --stamp "$stamp" "$@" 2>&1 | tee -a "$out"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
p=$(grep -c '^PASS ' "$out")
f=$(grep -c '^FAIL ' "$out")
earlier=$(grep -c 'passed in an earlier run (journal)' "$out")
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
	echo "FAIL check-debug: a suite exited non-zero without a FAIL line"
	f=1
fi
echo "# this run: $p passed, $f failed in $(($(date +%s) - t0)) s; $earlier passed in earlier runs of this tree"
p=$((p + earlier))
echo "$p passed, $f failed"
[ "$f" = 0 ] && [ "$rc" = 0 ]
