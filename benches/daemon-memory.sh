#!/usr/bin/env bash
# The daemon's resident memory across container runs:
# a private stratad on a temporary store, the busybox image imported, then
# RUNS sequential `strata run --rm busybox true`, printing the daemon's
# VmRSS at rest and after every CHECK runs, and 16 containers run at once.
#
#   bash benches/daemon-memory.sh [RUNS] [CHECK]      (defaults 1000 and 100)
#
# Run as root. Uses the binaries cargo built (CARGO_TARGET_DIR honoured,
# STRATA_BENCH_PROFILE=release|debug, default release). Extra environment
# for the daemon (e.g. MALLOC_ARENA_MAX=1) passes through unchanged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 1000)
check=$(runs_arg "${2:-}" 100)
require_root "containers"
build_bins "${STRATA_BENCH_PROFILE:-release}"
make_work strata-mem
start_daemon
STRATA=$bin/strata bash scripts/busybox-image.sh >/dev/null
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
echo "runs,rss_kib"
echo "0,$(rss)"
# 16 at once, then sequential runs.
for _ in $(seq 16); do "$bin/strata" run --rm busybox true & done
wait $(jobs -p | grep -v "^$daemon$") 2>/dev/null || true
echo "16-parallel,$(rss)"
for i in $(seq "$runs"); do
    "$bin/strata" run --rm busybox true
    [ $((i % check)) -eq 0 ] && echo "$i,$(rss)"
done
echo "containers left: $("$bin/strata" ps -aq | wc -l)"
