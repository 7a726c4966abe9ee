#!/usr/bin/env bash
# Real work on a union mount: `dpkg -i` of git and every package it pulls
# in (apt's default, recommends included) into a Debian root, on stratafs
# beside kernel overlayfs and fuse-overlayfs, interleaved. As root:
#
#   bash benches/dpkg.sh [RUNS]         (default 3; medians in seconds)
#
# The root is debootstrap's minbase bookworm (scripts/debian-image.sh, kept
# in $cache as debian.tar; it needs the Debian package registry), extracted
# once into one lower layer with git's .debs in its /var/cache/apt/archives
# (fetched once by apt-get --download-only in a chroot of it, kept in
# $cache/git-debs). Every measurement is a fresh mount with an empty upper;
# dpkg runs chrooted in a private mount namespace with /dev and /proc, so
# nothing of it outlives the run. Each run checks `git --version` in the
# result. Beside each time: stratafs's FUSE requests by opcode (its
# `-o request_counts=FILE`, written at unmount), per package.
#
# Environment:
#   STRATA_DPKG_TARGETS=overlay,stratafs,fo1     only these (stratafs-base with STRATAFS_BASELINE)
#   STRATA_BENCH_STRATAFS_OPTS=metacopy=on       appended to stratafs's -o
#   STRATAFS_BASELINE=/path/to/stratafs          another build beside this one: the target stratafs-base
#   FUSE_OVERLAYFS1=/usr/bin/fuse-overlayfs      fuse-overlayfs 1.x (skipped when absent)
#   FUSE_OVERLAYFS2=/path/to/fuse-overlayfs      fuse-overlayfs 2.x (used only if set and present)
#   STRATA_BENCH_PROFILE=debug                   stratafs of the debug build (request counts; times mean little)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 3)
require_root "mounts, chroot"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (\$EPOCHREALTIME)"
modprobe overlay 2>/dev/null || true
build_bins "${STRATA_BENCH_PROFILE:-release}"

# --- 1. the Debian root and git's packages, built once ------------------------------
cache_debian_tar
[ -z "$debian_skip" ] || die "$debian_skip"
debs=$cache/git-debs
if [ ! -s "$debs/list" ]; then
    echo "fetching git's packages (apt-get --download-only in a chroot)..." >&2
    fetch=$(mktemp -d /var/tmp/strata-dpkg-fetch.XXXXXX)
    on_exit "rm -rf '$fetch'"
    tar --numeric-owner -xf "$cache/debian.tar" -C "$fetch"
    cp /etc/resolv.conf "$fetch/etc/resolv.conf"
    chroot "$fetch" /bin/sh -c 'apt-get update -qq && apt-get install -y -qq --download-only git' >&2
    rm -rf "$debs.partial"
    mkdir -p "$debs.partial"
    cp "$fetch"/var/cache/apt/archives/*.deb "$debs.partial/"
    (cd "$debs.partial" && ls ./*.deb | sed 's|^\./||') >"$debs.partial/list"
    mv "$debs.partial" "$debs"
fi
packages=$(wc -l <"$debs/list")

make_work strata-dpkg
lower=$work/lower
mkdir -p "$lower"
tar --numeric-owner -xf "$cache/debian.tar" -C "$lower"
cp "$debs"/*.deb "$lower/var/cache/apt/archives/"
echo "fixture: minbase bookworm with $packages packages of git in its apt cache ($(du -sh "$lower" | cut -f1))" >&2

# --- 2. targets ---------------------------------------------------------------------
declare -A exe=([stratafs]=$bin/stratafs)
available=(overlay stratafs)
if [ -n "$baseline" ]; then
    [ -x "$baseline" ] || die "STRATAFS_BASELINE=$baseline is not executable"
    exe[stratafs-base]=$baseline
    available+=(stratafs-base)
fi
fo1=${FUSE_OVERLAYFS1:-$(command -v fuse-overlayfs || true)}
[ -z "$fo1" ] || { exe[fo1]=$fo1; available+=(fo1); }
fo2=${FUSE_OVERLAYFS2:-}
[ -z "$fo2" ] || [ ! -x "$fo2" ] || { exe[fo2]=$fo2; available+=(fo2); }
targets=()
IFS=, read -ra wanted <<<"${STRATA_DPKG_TARGETS:-$(IFS=,; echo "${available[*]}")}"
for t in "${wanted[@]}"; do
    [ -n "${exe[$t]:-}" ] || [ "$t" = overlay ] || die "unknown or missing target $t (available: ${available[*]})"
    targets+=("$t")
done

mnt=$work/mnt
mounted=""
on_exit '[ -z "$mounted" ] || umount -l "$mnt" 2>/dev/null'
# mount_target TARGET COUNTS: mounts TARGET at $mnt over a fresh upper.
mount_target() {
    rm -rf "$work/upper" "$work/work"
    mkdir -p "$work/upper" "$work/work" "$mnt"
    local opts="lowerdir=$lower,upperdir=$work/upper,workdir=$work/work"
    case $1 in
        overlay) mount -t overlay overlay -o "$opts" "$mnt" ;;
        stratafs*) "${exe[$1]}" -o "$opts,request_counts=$2${STRATA_BENCH_STRATAFS_OPTS:+,$STRATA_BENCH_STRATAFS_OPTS}" "$mnt" ;;
        *) "${exe[$1]}" -o "$opts" "$mnt" ;;
    esac
    mounted=1
}
unmount_target() {
    umount "$mnt"
    mounted=""
}

# once TARGET: one dpkg -i on a fresh mount; its seconds in $secs.
secs=""
round=0
once() {
    local t=$1 counts=$work/counts.$1.$round start end
    rm -f "$counts"
    mount_target "$t" "$counts"
    start=$EPOCHREALTIME
    unshare -m --propagation private /bin/sh -c '
        mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" &&
        chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
            /bin/sh -c "cd /var/cache/apt/archives && dpkg -i \$(cat /list)"' sh "$mnt" \
        >"$work/dpkg.$t.log" 2>&1 \
        || { tail -n 20 "$work/dpkg.$t.log" >&2; die "dpkg -i failed on $t"; }
    end=$EPOCHREALTIME
    unshare -m --propagation private /bin/sh -c 'mount --rbind /dev "$1/dev" && chroot "$1" git --version' sh "$mnt" \
        >/dev/null || die "$t: no git after dpkg -i"
    unmount_target
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ "${t#stratafs}" != "$t" ]; then
        # The server writes its counts when it ends, after the unmount.
        for _ in $(seq 100); do [ -s "$counts" ] && break; sleep 0.1; done
    fi
}
cp "$debs/list" "$lower/list"

# --- 3. the runs ------------------------------------------------------------------------
echo "$(load before); $runs run(s) of each target, interleaved" >&2
declare -A results=()
rounds() {
    local r
    for ((r = 0; r < runs; r++)); do
        round=$r
        local n=${#targets[@]} k t line
        line=$(printf '%5d' $((r + 1)))
        for ((k = 0; k < n; k++)); do
            t=${targets[$(((r + k) % n))]}
            once "$t"
            results[$t]+="$secs "
        done
        for t in "${targets[@]}"; do line+=$(printf ' %14s' "$(echo "${results[$t]}" | awk '{ print $NF }')"); done
        echo "$line"
    done
}
printf '%5s' round
for t in "${targets[@]}"; do printf ' %14s' "$t"; done
echo
rounds

# --- 4. the table -------------------------------------------------------------------------
declare -A median=()
for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    read -r median[$t] _ _ < <(median_min_max ${results[$t]})
done
echo
echo "dpkg -i of $packages packages (git, apt's default set) into minbase bookworm; $(load after)"
echo
echo "| target | median | × kernel overlayfs |"
echo "| --- | ---: | ---: |"
for t in "${targets[@]}"; do
    ratio=-
    [ -z "${median[overlay]:-}" ] || ratio=$(awk -v a="${median[$t]}" -v b="${median[overlay]}" 'BEGIN { printf "%.2f", a / b }')
    echo "| $t | ${median[$t]} s | $ratio |"
done
for t in "${targets[@]}"; do
    [ "${t#stratafs}" != "$t" ] || continue
    counts=$work/counts.$t.$((runs - 1))
    [ -s "$counts" ] || { echo "$t: no request counts"; continue; }
    echo
    echo "$t: FUSE requests of the last run, per package (of $(awk '$1 == "TOTAL" { print $2 }' "$counts") in all$(
        awk '$1 == "URING" { printf ", %s of them over io_uring", $2 }' "$counts")):"
    echo
    # After TOTAL, URING (those of them served over io_uring) is no opcode.
    awk -v n="$packages" '$1 == "TOTAL" { done = 1 } !done && $2 > 0 { printf "%s %.1f\n", $1, $2 / n }' "$counts" | sort -k2 -gr \
        | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
done
