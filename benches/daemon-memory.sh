#!/usr/bin/env bash
# The daemon's resident memory across container runs (issue 13, finding 7):
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
runs=${1:-1000}
check=${2:-100}
cd "$(dirname "$0")/.."
profile=${STRATA_BENCH_PROFILE:-release}
bin=${CARGO_TARGET_DIR:-$PWD/target}/$profile
if [ "$profile" = release ]; then cargo build --release --locked --bins -q; else cargo build --locked --bins -q; fi
work=$(mktemp -d /var/tmp/strata-mem.XXXXXX)
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
export STRATA_HOST=unix://$work/s.sock
"$bin/stratad" --root "$work/root" -H "$STRATA_HOST" >"$work/log" 2>&1 &
daemon=$!
for _ in $(seq 100); do "$bin/strata" version >/dev/null 2>&1 && break; sleep 0.05; done
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
