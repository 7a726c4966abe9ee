#!/usr/bin/env bash
# Lookup cost against layer depth: lstat of 2,000 files that live in the
# bottom layer, through 2 and through 64 layers (kernel overlayfs needs two lower layers at least), cold (fresh mount, caches
# dropped), stratafs beside kernel overlayfs in the same run. As root:
#
#   bash benches/depth.sh [RUNS]     (default 5; medians in milliseconds)
#
# STRATAFS_BASELINE=/path/to/stratafs adds a second stratafs build (say, the
# one before a change) as the target stratafs-base, measured the same way.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 5)
require_root "mounts, drop_caches"
build_bins
declare -A exe=([stratafs]=$bin/stratafs)
targets=(stratafs overlay)
if [ -n "$baseline" ]; then
    [ -x "$baseline" ] || die "STRATAFS_BASELINE: $baseline is not executable"
    exe[stratafs-base]=$baseline
    targets=(stratafs stratafs-base overlay)
fi
make_work strata-depth
on_exit 'umount "$work/mnt" 2>/dev/null'
for depth in 2 64; do
    for i in $(seq 0 $((depth - 1))); do
        mkdir -p "$work/s$depth/l$i/d"
        [ "$i" -eq $((depth - 1)) ] || echo "$i" > "$work/s$depth/l$i/d/only-in-$i"
    done
    bottom="$work/s$depth/l$((depth - 1))/d"
    python3 -c "import sys; [open(f'$bottom/f{i}', 'w').close() for i in range(2000)]"
done
lowers() { seq 0 $(($1 - 1)) | sed "s|^|$work/s$1/l|" | paste -sd: -; }
stat_all() { python3 -c "
import os, time
t = time.perf_counter()
for i in range(2000): os.lstat('$work/mnt/d/f%d' % i)
print((time.perf_counter() - t) * 1000)"; }
mkdir -p "$work/mnt"
declare -A results
for r in $(seq "$runs"); do
    for depth in 2 64; do
        for target in "${targets[@]}"; do
            sync; echo 3 > /proc/sys/vm/drop_caches
            if [ $target = overlay ]; then
                mount -t overlay overlay -o "lowerdir=$(lowers $depth)" "$work/mnt"
            else
                "${exe[$target]}" -o "lowerdir=$(lowers $depth)" "$work/mnt"
            fi
            results[$target-$depth]+="$(stat_all) "
            umount "$work/mnt"
        done
    done
done
echo "lstat of 2,000 bottom-layer files, cold, median of $runs (ms); $(load now)"
for target in "${targets[@]}"; do
    python3 - "$target" ${results[$target-2]} -- ${results[$target-64]} <<'PY'
import sys, statistics
args = sys.argv[2:]; cut = args.index('--')
one = statistics.median(map(float, args[:cut])); deep = statistics.median(map(float, args[cut + 1:]))
print(f"{sys.argv[1]:<13} depth 2: {one:7.1f}   depth 64: {deep:7.1f}   64/2: {deep / one:5.2f}")
PY
done
