#!/usr/bin/env bash
# Union filesystem benchmark: stratafs beside kernel overlayfs,
# fuse-overlayfs 1.x and fuse-overlayfs 2.x, over one seeded, distro-like
# fixture (about 30,000 entries over 4 lower layers with whiteouts and opaque
# directories, a 1 GiB file, a 3,000-file git repository, a 4,200-file tree
# to remove, a 10,000-file tar, a 64-layer stack), plus, for the
# append_copyup_reflink workload, an XFS image made with reflink=1 for the
# run (loop-mounted; a lower layer with a 1 GiB file, and the upper and work
# directories; removed afterwards). As root:
#
#   bash benches/union.sh [RUNS]        (default 5; medians in milliseconds)
#
# Every measurement is a fresh mount with an empty upper and work directory;
# targets are interleaved (for run: for workload: for target); cold means
# sync + drop_caches after mounting, before the timed part; warm means run
# once untimed first. The 1 GiB workloads (seq_read, rand_read, seq_write,
# append_copyup, chmod_copyup, append_copyup_reflink) run
# min(RUNS, STRATA_BENCH_BIG_RUNS=3) times.
# A correctness pass first compares every target's merged view with the
# overlay rules applied to the layers, and each workload checks its result;
# wrong results, errors and hangs are listed under PROBLEMS.
#
# Environment:
#   STRATA_BENCH_WORKLOADS=find_warm,git_status   only these (names in benches/union/workloads.py)
#   STRATA_BENCH_TARGETS=stratafs,overlay         only these (overlay, stratafs, stratafs-base, fo1, fo2)
#   STRATA_BENCH_WORK=/var/tmp/strata-union-bench fixture and mounts (the fixture is kept)
#   STRATA_BENCH_REBUILD=1                        rebuild the fixture
#   STRATA_BENCH_OUT=benches/out                  CSVs, SVG chart, report
#   STRATA_BENCH_BIG_RUNS=3                       runs of the 1 GiB workloads
#   STRATA_BENCH_VERIFY=0                         skip the correctness pass
#   STRATA_BENCH_TIMEOUT=300                      seconds before a measurement counts as hung
#   STRATA_BENCH_STRATAFS_OPTS=metacopy=on        appended to stratafs's -o (the stratafs targets only; empty: none)
#   STRATAFS_BASELINE=/path/to/stratafs           another stratafs build (a baseline, e.g. before a change):
#                                                 the target stratafs-base, mounted with the same options,
#                                                 shown beside stratafs, with stratafs / baseline per workload
#   FUSE_OVERLAYFS1=/usr/bin/fuse-overlayfs       fuse-overlayfs 1.x (apt-get install -y fuse-overlayfs)
#   FUSE_OVERLAYFS2=/work/peers/fuse-overlayfs2/bin/fuse-overlayfs
#                                                 fuse-overlayfs 2.x, used only if present
#   CARGO_TARGET_DIR                              where stratafs is built (default target/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 5)
require_root "mounts, mknod, drop_caches"
command -v git >/dev/null || { apt-get update -qq && apt-get install -y -qq git >/dev/null; }
# mkfs.xfs for the reflink store; without it append_copyup_reflink is skipped.
command -v mkfs.xfs >/dev/null || { apt-get update -qq && apt-get install -y -qq xfsprogs >/dev/null; } || true
command -v python3 >/dev/null || die "python3 is needed"
modprobe overlay 2>/dev/null || true
modprobe fuse 2>/dev/null || true

build_bins
stratafs=$bin/stratafs
[ -x "$stratafs" ] || die "$stratafs was not built"

work=${STRATA_BENCH_WORK:-/var/tmp/strata-union-bench}
out=${STRATA_BENCH_OUT:-$repo/benches/out}
mkdir -p "$work"
work=$(cd "$work" && pwd -P)

# Never leave a mount behind, whatever happens to the Python side.
unmount_all() {
    local m
    for m in $(awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | tac); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "union.sh: could not unmount $m" >&2
    done
    rm -rf --one-file-system "$work/scratch"
    # The reflink store's image, once unmounted (its loop device goes with it).
    if ! mountpoint -q "$work/reflink" 2>/dev/null; then
        rm -f "$work/fixture/reflink.img"
    fi
}
on_exit unmount_all

version="strata $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), built $(date -r "$stratafs" '+%F %T')"
PYTHONPATH="$repo/benches" python3 -m union --runs "$runs" --work "$work" --out "$out" \
    --stratafs "$stratafs" --stratafs-version "$version" --stratafs-baseline "$baseline" &
py=$!
# Ctrl-C or a TERM stops the measurements; the Python side still prints
# and writes what it measured, and unmounts.
trap 'kill -TERM "$py" 2>/dev/null || true' INT TERM
rc=0
wait "$py" || rc=$?
while kill -0 "$py" 2>/dev/null; do wait "$py" || rc=$?; done
exit "$rc"
