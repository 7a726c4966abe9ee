#!/usr/bin/env bash
# Import throughput: `strata import` of a root filesystem tar through a fresh
# stratad, against `tar -x` of the same tar into a fresh directory on the same
# filesystem. Rounds are interleaved (import, then tar -x, RUNS times) and
# medians reported. Both sides include flushing to disk: stratad calls
# syncfs before it commits a layer, and tar -x is followed by `sync -f`.
# Run as root (tar then keeps ownership, as the store does):
#
#   bash benches/import-throughput.sh [RUNS]     (default 5)
#
# Tars: the busybox image (scripts/busybox-image.sh) and debootstrap's minbase
# bookworm (scripts/debian-image.sh, needs the Debian package registry; the
# row is skipped with the reason if it cannot be built). Both are cached in
# $STRATA_BENCH_CACHE (default /var/tmp/strata-bench) and reused.
# Release binaries are built only if missing, or if STRATA_BENCH_REBUILD=1.
#
# Settling (STRATA_BENCH_SETTLE=1, the default; needs root): after each
# untimed cleanup (rmi, rm -rf), flush the filesystem, drop clean caches and
# re-read the tar into the page cache. Without it, on ext4 without a journal
# (the machine this was written on) each side pays for the other's
# deletions: inode allocation skips inodes freed in the last 30 s (ialloc.c
# recently_deleted(), much longer while their inode-table blocks are dirty),
# scanning past thousands of them per create, and the next syncfs also
# flushes the other side's deletions.
# STRATA_BENCH_SETTLE=0 measures that raw, order-dependent behaviour.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 5)

[ "$(id -u)" = 0 ] || echo "warning: not root: tar -x cannot keep ownership and debootstrap cannot run" >&2

# --- 1. binaries and tars ---------------------------------------------------
if [ "${STRATA_BENCH_REBUILD:-0}" = 1 ] || [ ! -x "$bin/stratad" ] || [ ! -x "$bin/strata" ]; then
    build_bins
elif [ -n "$(find src Cargo.toml Cargo.lock -newer "$bin/stratad" -print -quit)" ]; then
    echo "warning: sources are newer than $bin/stratad; STRATA_BENCH_REBUILD=1 rebuilds" >&2
fi
cache_busybox_tar
cache_debian_tar

# --- 2. a fresh daemon; store root, socket and tar -x scratch all under one
# temporary directory, so on the same filesystem -------------------------------
make_work strata-bench-run
start_daemon
strata() { "$bin/strata" "$@"; }

# --- 3. timed rounds -----------------------------------------------------------
# Wall-clock seconds with microseconds, no fork: bash's $EPOCHREALTIME.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# Untimed, after each cleanup: see "Settling" above.
settle=${STRATA_BENCH_SETTLE:-1}
if [ "$settle" = 1 ] && [ ! -w /proc/sys/vm/drop_caches ]; then
    echo "warning: cannot write /proc/sys/vm/drop_caches (not root?): settling off" >&2
    settle=0
fi
settle() {
    [ "$settle" = 1 ] || return 0
    sync -f "$work"
    echo 1 >/proc/sys/vm/drop_caches
    cat "$1" >/dev/null
}

load "at start"
echo "filesystem: $(df --output=source "$work" | tail -n 1) $(findmnt -n -o FSTYPE,OPTIONS -T "$work"); $runs interleaved runs per tar"
if [ "$settle" = 1 ]; then
    echo "settling on: after each untimed rmi / rm -rf: sync -f, drop clean caches, re-read the tar"
else
    echo "settling off: each side may pay for the other's deletions (see the script's header)"
fi
rows=() raw=()
for name in busybox debian; do
    tarball=$cache/$name.tar
    if [ "$name" = debian ] && [ -n "$debian_skip" ]; then continue; fi
    cat "$tarball" >/dev/null            # into the page cache, for both sides
    bytes=$(stat -c %s "$tarball")
    entries=$(tar -tf "$tarball" | wc -l)
    imports=() untars=()
    for i in $(seq "$runs"); do
        # (a) strata import; only the import is timed, rmi is not.
        t0=$EPOCHREALTIME
        id=$(strata import "$tarball" "bench:$i")
        t1=$EPOCHREALTIME
        [[ $id == sha256:* ]] || { echo "unexpected import output: $id" >&2; exit 1; }
        imports+=("$(elapsed "$t0" "$t1")")
        strata rmi "bench:$i" >/dev/null
        settle "$tarball"
        # (b) tar -x into a fresh directory and flush that filesystem; the
        # removal afterwards is not timed.
        dest=$work/x$i
        mkdir "$dest"
        t0=$EPOCHREALTIME
        tar --numeric-owner -xf "$tarball" -C "$dest"
        sync -f "$dest"
        t1=$EPOCHREALTIME
        untars+=("$(elapsed "$t0" "$t1")")
        rm -rf "$dest"
        settle "$tarball"
    done
    [ -z "$(strata images -q)" ] || echo "warning: images left in the store after rmi" >&2
    rows+=("$name $bytes $entries $(IFS=,; echo "${imports[*]}") $(IFS=,; echo "${untars[*]}")")
done

# --- 4. the table (medians; MB = 10^6 bytes) -----------------------------------
python3 - "${rows[@]}" <<'PY'
import statistics, sys
print()
hdr = f"{'tar':<8} {'MB':>7} {'entries':>7} | {'import s':>8} {'MB/s':>7} {'files/s':>8} | {'tar -x s':>8} {'MB/s':>7} {'files/s':>8} | {'strata/tar':>10}"
print(hdr)
print("-" * len(hdr))
detail = []
for row in sys.argv[1:]:
    name, size, n, imp, unt = row.split()
    mb, n = int(size) / 1e6, int(n)
    imp = [float(x) for x in imp.split(",")]
    unt = [float(x) for x in unt.split(",")]
    mi, mt = statistics.median(imp), statistics.median(unt)
    print(f"{name:<8} {mb:7.1f} {n:7d} | {mi:8.3f} {mb/mi:7.1f} {n/mi:8.0f} | {mt:8.3f} {mb/mt:7.1f} {n/mt:8.0f} | {mi/mt:10.2f}")
    detail.append(f"{name}: import runs {' '.join(f'{x:.3f}' for x in imp)}; tar -x runs {' '.join(f'{x:.3f}' for x in unt)}")
print()
print("\n".join(detail))
PY
[ -z "$debian_skip" ] || echo "debian: skipped: $debian_skip"
echo "Times are medians of wall-clock seconds. Both sides flush to disk: stratad calls syncfs"
echo "before committing a layer; tar -x (--numeric-owner) is followed by sync -f on its directory."
echo "Ratio = import time / tar -x time (above 1: strata is slower)."
load "at end"
