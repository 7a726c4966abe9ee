#!/usr/bin/env bash
# Import throughput: `strata import` of a root filesystem tar through a
# running stratad, against `tar -x` of the same tar into a directory on the
# same filesystem, in one run, interleaved. Both sides flush to disk before
# the clock stops (stratad calls syncfs before it commits a layer; tar is
# followed by `sync -f`). As root:
#
#   bash benches/import.sh [RUNS]        (default 5; medians reported)
#
# Tars: the busybox image (scripts/busybox-image.sh) and, when the Debian
# package registry is reachable, debootstrap's minbase bookworm
# (scripts/debian-image.sh), cached in $STRATA_BENCH_CACHE.
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
cargo build --release --locked --bins -q
bin=$PWD/target/release
cache=${STRATA_BENCH_CACHE:-/var/tmp/strata-bench}
mkdir -p "$cache"
[ -s "$cache/busybox.tar" ] || scripts/busybox-image.sh -o "$cache/busybox.tar" >/dev/null
if [ ! -s "$cache/debian.tar" ]; then
    scripts/debian-image.sh -o "$cache/debian.tar" >/dev/null 2>&1 || {
        rm -f "$cache/debian.tar"
        echo "(debian: debootstrap failed or the registry is unreachable; skipped)"
    }
fi

work=$(mktemp -d /var/tmp/strata-bench-run.XXXXXX)
"$bin/stratad" --root "$work/root" -H "unix://$work/s.sock" 2>"$work/stratad.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$work"' EXIT
export STRATA_HOST="unix://$work/s.sock"
for _ in $(seq 100); do "$bin/strata" version >/dev/null 2>&1 && break; sleep 0.05; done

now() { date +%s.%N; }
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %9s %8s | %10s %9s %9s | %10s %9s %9s | %6s\n' \
    tar MB entries "import s" MB/s files/s "tar -x s" MB/s files/s ratio
for name in busybox debian; do
    tarball=$cache/$name.tar
    [ -s "$tarball" ] || continue
    mb=$(python3 -c "import os; print(os.path.getsize('$tarball')/1e6)")
    entries=$(tar -tf "$tarball" | wc -l)
    imports=() untars=()
    for i in $(seq "$runs"); do
        t0=$(now); "$bin/strata" import "$tarball" "bench:$i" >/dev/null; t1=$(now)
        imports+=("$(echo "$t1 - $t0" | bc -l)")
        "$bin/strata" rmi "bench:$i" >/dev/null
        mkdir "$work/x"
        t0=$(now); tar --numeric-owner -xf "$tarball" -C "$work/x"; sync -f "$work/x"; t1=$(now)
        untars+=("$(echo "$t1 - $t0" | bc -l)")
        rm -rf "$work/x"
    done
    mi=$(median "${imports[@]}"); mt=$(median "${untars[@]}")
    python3 - "$name" "$mb" "$entries" "$mi" "$mt" <<'PY'
import sys
name, mb, n, mi, mt = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
print(f"{name:<8} {mb:9.1f} {n:8d} | {mi:10.3f} {mb/mi:9.1f} {n/mi:9.0f} | {mt:10.3f} {mb/mt:9.1f} {n/mt:9.0f} | {mi/mt:6.2f}")
PY
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); $runs runs each, interleaved; ratio = import / tar -x (lower is faster)"
