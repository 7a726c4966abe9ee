#!/usr/bin/env bash
# diff and commit: what `strata diff` costs as the image grows, and how fast
# `strata commit` turns a container's writable layer into an image layer.
# Run as root (drop_caches, debootstrap), not in CI (it is a benchmark):
#
#   bash benches/diff-commit.sh [RUNS]     (default 5)
#
# 1. diff cost vs image size. Two images: (a) debootstrap's minbase bookworm
#    (scripts/debian-image.sh -o, about 6,700 entries; needs the Debian
#    package registry; skipped with the reason if it cannot be built) and
#    (b) a generated image of 100,000 small files (/data/dNNN/fNNNN, 100
#    directories of 1,000 files, 10 bytes each) laid over the busybox rootfs
#    so it has a shell: one deterministic tar, built here with Python's
#    tarfile, imported with `strata import FILE big:1`. In each image one
#    container makes exactly 10 changes (create 3 files, modify 2 existing
#    files, chmod 1, delete 2 existing files, mkdir 1 directory, rename 1
#    existing file) with commands both images have, and exits; then
#    `strata diff` on it is timed RUNS times after one untimed warm-up (warm:
#    the same container again and again), and the same request through the raw API with curl (when
#    curl is installed). The floor is `strata version` (a client process and
#    one request that does no work), timed the same way.
# 2. commit throughput. A busybox container writes 100 files of 1 MiB from
#    /dev/urandom and 300 small files, and exits. One first commit (which
#    stores the layer) is reported by itself; then RUNS interleaved rounds of
#      cold: sync; drop caches; strata commit   |  sync; drop caches; tar | sha256sum
#      warm:                    strata commit   |                    tar | sha256sum
#    where `tar | sha256sum` is `tar -C UPPER -cf - . | sha256sum` of the same
#    writable layer (UPPER = GraphDriver.Data.UpperDir from `strata inspect`),
#    the floor of "read the changes and hash them as a tar". Before each
#    commit (untimed) a 20-byte stamp file in UPPER is rewritten, so every
#    commit makes a new layer that the store extracts and flushes (what a
#    real commit costs); each commit makes a new tag (bench:cold-N,
#    bench:warm-N). Last, one commit of the unchanged layer again is timed by
#    itself: the store finds the layer already stored and drops its copy
#    unflushed. MB/s = `du -sb UPPER` bytes (10^6) / seconds.
#
# Times are wall clock from `date +%s%N` around a single command, so they
# include the client's process start (a few ms); every run is printed, and
# medians (min, max) are tabulated. Release binaries are built with
# `cargo build --release --locked --bins` (a no-op when current). The tars
# are cached in $STRATA_BENCH_CACHE (default /var/tmp/strata-bench, shared
# with import-throughput.sh); everything else lives in one temporary
# directory under $STRATA_BENCH_WORK (default /var/tmp), removed on exit
# with the daemon (SIGTERM).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 5)
require_root "drop_caches, debootstrap"
command -v python3 >/dev/null || die "needs python3"

# --- 1. binaries and tars -------------------------------------------------------
build_bins
cache_busybox_tar
cache_debian_tar
# The 100,000-file tar: busybox's entries as they are, then /data. Fixed
# names, sizes, modes, owners and mtime (busybox.tar's), so the same bytes
# every time; rebuilt only when busybox.tar is newer.
big=$cache/big100k.tar
on_exit 'rm -f "$big.partial"'
if [ ! -s "$big" ] || [ "$cache/busybox.tar" -nt "$big" ]; then
    echo "generating the 100,000-file tar..." >&2
    python3 - "$cache/busybox.tar" "$big.partial" <<'PY'
import io, sys, tarfile
src, dst = sys.argv[1:]
with tarfile.open(src) as bb, tarfile.open(dst, "w", format=tarfile.GNU_FORMAT) as out:
    members = bb.getmembers()
    mtime = max(m.mtime for m in members)
    for m in members:
        out.addfile(m, bb.extractfile(m) if m.isfile() else None)
    def entry(name, kind, mode, size=0):
        t = tarfile.TarInfo(name)
        t.type, t.mode, t.size, t.mtime = kind, mode, size, mtime
        t.uid = t.gid = 0
        t.uname = t.gname = ""
        return t
    out.addfile(entry("./data", tarfile.DIRTYPE, 0o755))
    for d in range(100):
        out.addfile(entry(f"./data/d{d:03d}", tarfile.DIRTYPE, 0o755))
        for f in range(1000):
            body = f"{d:03d}/{f:04d}\n".encode()
            out.addfile(entry(f"./data/d{d:03d}/f{f:04d}", tarfile.REGTYPE, 0o644, len(body)), io.BytesIO(body))
PY
    mv "$big.partial" "$big"
fi

# --- 2. a private daemon ----------------------------------------------------------
make_work strata-bench-dc
start_daemon
strata() { "$bin/strata" "$@"; }

now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
dropcaches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
have_curl=0
command -v curl >/dev/null && have_curl=1

load "at start"
echo "filesystem: $(df --output=source "$work" | tail -n 1) $(findmnt -n -o FSTYPE,OPTIONS -T "$work"); runs: $runs"
echo

# --- 3. diff cost vs image size ---------------------------------------------------
strata import -c 'CMD ["sh"]' "$cache/busybox.tar" busybox:latest >/dev/null
images=()
if [ -z "$debian_skip" ]; then
    strata import -c 'CMD ["bash"]' "$cache/debian.tar" debian:bookworm >/dev/null
    images+=(debian:bookworm)
fi
strata import -c 'CMD ["sh"]' "$big" big:1 >/dev/null
images+=(big:1)

# The 10 changes: create 3, modify 2, chmod 1, delete 2, mkdir 1, rename 1.
# $1..$6: the two files to modify, the one to chmod, the two to delete, the
# one to rename (all existing regular files of the image).
changes() {
    printf '%s' "echo new1 >/new1 && echo new2 >/new2 && echo new3 >/new3 && echo mod >>$1 && echo mod >>$2 && chmod 600 $3 && rm $4 $5 && mkdir /newdir && mv $6 $6.renamed"
}
declare -A entries diffs curls nlines
version_runs=()
n=0
for image in "${images[@]}"; do
    n=$((n + 1))
    case $image in
    debian:*)
        tarball=$cache/debian.tar
        script=$(changes /etc/debian_version /etc/issue /etc/issue.net /etc/motd /etc/host.conf /etc/profile)
        ;;
    big:*)
        tarball=$big
        script=$(changes /data/d000/f0000 /data/d050/f0500 /data/d099/f0999 /data/d010/f0010 /data/d020/f0020 /data/d030/f0030)
        ;;
    esac
    entries[$image]=$(tar -tf "$tarball" | wc -l)
    strata run --name "d$n" "$image" sh -c "$script"
    out=$(strata diff "d$n")
    nlines[$image]=$(printf '%s\n' "$out" | wc -l)
    echo "diff d$n ($image, ${entries[$image]} entries): $(printf '%s' "$out" | tr '\n' ' ')"
    t=()
    strata diff "d$n" >/dev/null    # untimed warm-up (the first diff printed above is one too)
    for _ in $(seq "$runs"); do
        t0=$(now); strata diff "d$n" >/dev/null; t1=$(now)
        t+=("$(ms "$t0" "$t1")")
    done
    diffs[$image]="${t[*]}"
    echo "  strata diff ms: ${diffs[$image]}"
    if [ "$have_curl" = 1 ]; then
        t=()
        curl -s -o /dev/null --unix-socket "$sock" "http://localhost/containers/d$n/changes"    # untimed warm-up
        for _ in $(seq "$runs"); do
            t0=$(now)
            code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" "http://localhost/containers/d$n/changes")
            t1=$(now)
            [ "$code" = 200 ] || { echo "GET /containers/d$n/changes: HTTP $code" >&2; exit 1; }
            t+=("$(ms "$t0" "$t1")")
        done
        curls[$image]="${t[*]}"
        echo "  curl /changes ms: ${curls[$image]}"
    fi
done
for _ in $(seq "$runs"); do
    t0=$(now); strata version >/dev/null; t1=$(now)
    version_runs+=("$(ms "$t0" "$t1")")
done
echo "  strata version ms (floor): ${version_runs[*]}"

diff_rows=()
for image in "${images[@]}"; do
    diff_rows+=("$image|${entries[$image]}|${nlines[$image]}|${diffs[$image]}|${curls[$image]:-}")
done
python3 - "${version_runs[*]}" "${diff_rows[@]}" <<'PY'
import statistics, sys
def stats(xs):
    xs = [float(x) for x in xs.split()]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None
def cell(s):
    return f"{s[0]:8.1f} {s[1]:7.1f} {s[2]:7.1f}" if s else f"{'-':>8} {'-':>7} {'-':>7}"
floor = stats(sys.argv[1])
rows = [r.split("|") for r in sys.argv[2:]]
print()
hdr = f"{'image':<16} {'entries':>7} {'lines':>5} | {'diff ms':>8} {'min':>7} {'max':>7} | {'curl ms':>8} {'min':>7} {'max':>7}"
print(hdr)
print("-" * len(hdr))
meds = {}
for name, n, lines, d, c in rows:
    sd, sc = stats(d), stats(c)
    meds[name] = (sd, sc)
    print(f"{name:<16} {int(n):7d} {int(lines):5d} | {cell(sd)} | {cell(sc)}")
print(f"{'strata version':<16} {'':>7} {'':>5} | {cell(floor)} | (floor: client start + one request)")
if "big:1" in meds and len(meds) == 2:
    small = next(k for k in meds if k != "big:1")
    (bd, bc), (sd, sc) = meds["big:1"], meds[small]
    line = f"big/small (median): strata diff x{bd[0] / sd[0]:.2f}"
    line += f"; minus the floor x{(bd[0] - floor[0]) / max(sd[0] - floor[0], 0.1):.2f}"
    if bc and sc:
        line += f"; curl x{bc[0] / sc[0]:.2f}"
    print(line)
PY
echo

# --- 4. commit throughput -----------------------------------------------------------
strata run --name c1 busybox sh -c 'mkdir /data /data/small && i=1 && while [ $i -le 100 ]; do head -c 1048576 /dev/urandom >/data/big$i || exit 1; i=$((i + 1)); done && i=1 && while [ $i -le 300 ]; do echo "small file $i" >/data/small/s$i; i=$((i + 1)); done'
upper=$(strata inspect c1 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["GraphDriver"]["Data"]["UpperDir"])')
bytes=$(du -sb "$upper" | cut -f1)
files=$(find "$upper" | wc -l)
echo "commit: container c1 on busybox; upper $upper: $bytes bytes, $files entries"
tarsum() { tar -C "$upper" -cf - . | sha256sum >/dev/null; }
commit() { strata commit c1 "$1" >/dev/null; }
stamp() { printf '%-20s' "$1" >"$upper/data/stamp"; }

stamp first; dropcaches
t0=$(now); commit bench:first; t1=$(now)
first=$(ms "$t0" "$t1")
echo "  first commit (cold, stores the layer): $first ms"
cc=() tc=() cw=() tw=()
for i in $(seq "$runs"); do
    stamp "cold-$i"; dropcaches; t0=$(now); commit "bench:cold-$i"; t1=$(now); cc+=("$(ms "$t0" "$t1")")
    dropcaches; t0=$(now); tarsum; t1=$(now); tc+=("$(ms "$t0" "$t1")")
    stamp "warm-$i"; t0=$(now); commit "bench:warm-$i"; t1=$(now); cw+=("$(ms "$t0" "$t1")")
    t0=$(now); tarsum; t1=$(now); tw+=("$(ms "$t0" "$t1")")
    echo "  round $i ms: commit cold ${cc[-1]}, tar|sha256sum cold ${tc[-1]}, commit warm ${cw[-1]}, tar|sha256sum warm ${tw[-1]}"
done
t0=$(now); commit bench:again; t1=$(now)
again=$(ms "$t0" "$t1")
echo "  commit of the same layer again (already stored, warm): $again ms"
layers=$(strata inspect bench:first | python3 -c 'import json, sys; print(len(json.load(sys.stdin)[0]["RootFS"]["Layers"]))')
stored=$(find "$work/root/layers" -mindepth 1 -maxdepth 1 -type d | wc -l)
echo "  bench:first has $layers layers; the store holds $stored layer directories (busybox, debian, big, and $((2 * runs + 1)) committed)"

python3 - "$bytes" "$first" "$again" "${cc[*]}" "${tc[*]}" "${cw[*]}" "${tw[*]}" <<'PY'
import statistics, sys
mb = int(sys.argv[1]) / 1e6
first = float(sys.argv[2])
again = float(sys.argv[3])
cc, tc, cw, tw = ([float(x) for x in a.split()] for a in sys.argv[4:8])
print()
hdr = f"{'commit, ' + format(mb, '.1f') + ' MB':<22} | {'median ms':>9} {'min':>7} {'max':>7} {'MB/s':>7}"
print(hdr)
print("-" * len(hdr))
def row(name, xs):
    m = statistics.median(xs)
    print(f"{name:<22} | {m:9.1f} {min(xs):7.1f} {max(xs):7.1f} {mb / (m / 1e3):7.1f}")
    return m
row("strata commit first", [first])
a = row("strata commit cold", cc)
b = row("tar|sha256sum cold", tc)
c = row("strata commit warm", cw)
d = row("tar|sha256sum warm", tw)
row("strata commit same", [again])
print(f"commit / tar|sha256sum (median time): cold x{a / b:.2f}, warm x{c / d:.2f}")
PY
echo "cold = sync; echo 3 >/proc/sys/vm/drop_caches before the timed command; warm = right after the other side read the same files."
load "at end"
