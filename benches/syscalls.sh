#!/usr/bin/env bash
# Syscalls stratafs makes per operation, and a short interleaved timing, for
# one or more stratafs binaries side by side (a build before a change and
# one after, say). As root:
#
#   bash benches/syscalls.sh [-r ROUNDS] [-o OPTIONS]... [-s] [-k] STRATAFS...
#
# Each -o adds a set of mount options to try (default: none); every binary
# runs with every set. -s makes the lower layer a layer of Strata's store
# (the tree imported by a private stratad, `strata` and `stratad` from
# $STRATA_BINS, default target/release; the daemon is stopped before the
# mounts), whose attributes stratafs answers from its index; the timed part
# then mounts it too. -k adds kernel overlayfs (over the plain tree) to the
# timed part, as the reference the others are a ratio of. Counted with `strace -c` on all of the server's
# threads (so slower than normal: the counts matter, not the time):
#   create     tar -x of 3,000 small files into a fresh mount (per file)
#   lookup up  after a remount, stat of each of those upper files by path
#   lookup low stat of each of 3,000 lower files by path, cold (per file)
#   readdir    find over the whole tree, cold: listings with their
#              attributes (readdirplus) and directory lookups (per entry)
#   stat warm  with -s: the same stats again (the kernel's caches answer)
#   find low   find over the lower tree alone, cold, on a fresh mount (an
#              empty upper: the three before have the created files in it)
# Timed (no strace), ROUNDS rounds (default 5), binaries and option sets
# interleaved, medians: untar of 10,000 small files into a fresh mount
# (with sync -f), a cold find over 10,000 lower files on a fresh mount, and
# a cold stat of 3,000 of them.
set -euo pipefail
rounds=5
sets=()
store=""
kernel=""
while getopts "r:o:sk" opt; do
    case $opt in
    r) rounds=$OPTARG ;;
    o) sets+=("$OPTARG") ;;
    s) store=1 ;;
    k) kernel=1 ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] [-o OPTIONS]... [-s] [-k] STRATAFS..." >&2; exit 2; }
# The binaries as given, before lib.sh moves to the repository's root.
bins=()
for b in "$@"; do bins+=("$(realpath -m -- "$b")"); done
set -- "${bins[@]}"
. "$(dirname "$0")/lib.sh"
require_root "mounts, drop_caches, strace"
[ ${#sets[@]} -gt 0 ] || sets=("")
for b in "$@"; do [ -x "$b" ] || { echo "$b: not executable" >&2; exit 2; }; done
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }

make_work strata-syscalls
pid=""
on_exit 'umount "$work/mnt" 2>/dev/null || umount -l "$work/mnt" 2>/dev/null'

# Fixture: a lower tree of 10,000 files in 100 directories (the first 3,000
# are the counted ones), and tars of 3,000 and 10,000 small files.
mkdir -p "$work"/{lower,src,mnt}
python3 - "$work" <<'PY'
import os, sys
w = sys.argv[1]
# The tars' files go into the lower tree's directories, beside its files.
for root, n, prefix in (("lower", 10000, "f"), ("src/t3", 3000, "n"), ("src/t10", 10000, "n")):
    for i in range(n):
        d = os.path.join(w, root, f"d{i % 100:02}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{prefix}{i:05}"), "w") as f:
            f.write("x" * (i % 700))
PY
tar -C "$work/src/t3" -cf "$work/t3.tar" .
tar -C "$work/src/t10" -cf "$work/t10.tar" .
(cd "$work/lower" && find . -type f | sort) | awk "NR <= 3000" > "$work/lower.list"
(cd "$work/src/t3" && find . -type f | sort) > "$work/upper.list"

# The lower layer stratafs mounts: the tree itself, or (-s) the store's
# layer made of it (a directory with root/ and index).
lower=$work/lower
if [ -n "$store" ]; then
    bin=${STRATA_BINS:-$bin}
    tar -C "$work/lower" -cf "$work/lower.tar" .
    start_daemon
    "$bin/strata" import "$work/lower.tar" lower:1 >/dev/null
    layer=$("$bin/strata" inspect lower:1 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["RootFS"]["Layers"][0][7:])')
    stop_daemon
    lower=$work/root/layers/$layer
    [ -f "$lower/index" ] && [ -d "$lower/root" ] || die "no store layer at $lower"
    echo "lower layer: the store's $lower"
fi

mount_fs() { # BINARY OPTIONS: fresh upper and work, mounted in the foreground in the background
    rm -rf "$work/upper" "$work/work"
    mkdir -p "$work/upper" "$work/work"
    remount "$@"
}
remount() {
    local opts="lowerdir=$lower,upperdir=$work/upper,workdir=$work/work${2:+,$2}"
    "$1" -f -o "$opts" "$work/mnt" 2>/dev/null &
    pid=$!
    for _ in $(seq 500); do mountpoint -q "$work/mnt" && return; sleep 0.01; done
    echo "mount failed: $1 $opts" >&2
    exit 1
}
unmount_fs() {
    umount "$work/mnt"
    wait "$pid" 2>/dev/null || true
}
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# Syscalls of the server while CMD runs (strace -c over all its threads).
count() {
    local out
    # -f with -p: every thread of the server.
    strace -c -f -p "$pid" -o "$work/strace.out" 2>/dev/null &
    local st=$!
    sleep 0.5 # strace attached
    (cd "$work/mnt" && eval "$1") >/dev/null 2>&1
    sleep 0.2
    kill -INT "$st"
    wait "$st" 2>/dev/null || true
    out=$(awk '$NF == "total" { print $(NF-2) }' "$work/strace.out")
    echo "${out:-0}"
}

per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "syscalls per operation (strace -c on the server)"
printf '%-40s %-24s %8s %10s %10s %8s %9s%s\n' binary options create "lookup up" "lookup low" readdir "find low" "${store:+  stat warm}"
for b in "$@"; do
    for o in "${sets[@]}"; do
        mount_fs "$b" "$o"
        c=$(count "tar -xf $work/t3.tar")
        unmount_fs
        remount "$b" "$o"
        cold
        lu=$(count "xargs -a $work/upper.list stat -c %s")
        ll=$(count "xargs -a $work/lower.list stat -c %s")
        if [ -n "$store" ]; then
            # Warm: the kernel's caches answer (an hour by default).
            lw=$(count "xargs -a $work/lower.list stat -c %s")
        fi
        unmount_fs
        remount "$b" "$o"
        cold
        rd=$(count "find . -printf ''")
        entries=$(find "$work/mnt" | wc -l)
        unmount_fs
        mount_fs "$b" "$o"
        cold
        fl=$(count "find . -printf ''")
        low_entries=$(find "$work/mnt" | wc -l)
        unmount_fs
        printf '%-40s %-24s %8s %10s %10s %8s %9s%s\n' "$b" "${o:-(none)}" "$(per "$c" 3000)" \
            "$(per "$lu" 3000)" "$(per "$ll" 3000)" "$(per "$rd" "$entries")" "$(per "$fl" "$low_entries")" \
            "${store:+ $(printf '%11s' "$(per "$lw" 3000)")}"
    done
done

echo
echo "timed: $rounds rounds, interleaved, milliseconds (median; every run)"
# Targets: every binary with every option set, and (-k) kernel overlayfs,
# whose lower is the plain tree (the same content as the store's layer).
keys=()
for b in "$@"; do for o in "${sets[@]}"; do keys+=("$b|$o"); done; done
[ -z "$kernel" ] || keys+=("kernel overlayfs|")
mount_key() { # KEY: a fresh upper and work, mounted
    if [ "$1" = "kernel overlayfs|" ]; then
        rm -rf "$work/upper" "$work/work"
        mkdir -p "$work/upper" "$work/work"
        mount -t overlay overlay -o "lowerdir=$work/lower,upperdir=$work/upper,workdir=$work/work" "$work/mnt"
        pid=""
    else
        mount_fs "${1%%|*}" "${1#*|}"
    fi
}
declare -A untar find statc
ms() { local s=$EPOCHREALTIME; eval "$1" >/dev/null 2>&1; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
for r in $(seq "$rounds"); do
    for k in "${keys[@]}"; do
        mount_key "$k"
        cold
        untar[$k]+="$(ms "tar -C $work/mnt -xf $work/t10.tar && sync -f $work/mnt") "
        unmount_fs
        mount_key "$k"
        cold
        find[$k]+="$(ms "find $work/mnt -printf ''") "
        unmount_fs
        mount_key "$k"
        cold
        statc[$k]+="$(ms "cd $work/mnt && xargs -a $work/lower.list stat -c %s") "
        unmount_fs
    done
done
median() { local m; read -r m _ < <(median_min_max $1); echo "$m"; }
printf '%-40s %-24s %10s %10s %10s   %s\n' binary options untar find "stat cold" "runs (untar | find | stat cold)"
for k in "${keys[@]}"; do
    o=${k#*|}
    printf '%-40s %-24s %10s %10s %10s   %s| %s| %s\n' "${k%%|*}" "${o:-(none)}" "$(median "${untar[$k]}")" \
        "$(median "${find[$k]}")" "$(median "${statc[$k]}")" "${untar[$k]}" "${find[$k]}" "${statc[$k]}"
done
