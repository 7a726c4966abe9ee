# The preamble every benches/*.sh shares; source it first:
#
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#
# Sourcing it moves to the repository's root and sets
#   bench       the script's name (for messages)
#   repo        the repository's root
#   target_dir  cargo's target directory (CARGO_TARGET_DIR honoured, made absolute)
#   bin         the release binaries in it (build_bins sets it for another profile)
#   cache       tars kept between runs ($STRATA_BENCH_CACHE, default /var/tmp/strata-bench)
#   baseline    $STRATAFS_BASELINE (a second stratafs build, for the benches
#               that measure one beside this one) made absolute, or empty
# and installs the exit trap: the hooks given to on_exit (last first), the
# private daemon (start_daemon), the temporary directory (make_work). INT
# and TERM exit with 130, so the trap runs then too.
# shellcheck shell=bash

bench=$(basename "$0" .sh)
# Relative to where the bench was started, so resolved before moving.
baseline=${STRATAFS_BASELINE:+$(realpath -m -- "$STRATAFS_BASELINE")}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
bin=$target_dir/release
cache=${STRATA_BENCH_CACHE:-/var/tmp/strata-bench}

die() { echo "$bench: $*" >&2; exit 1; }

# require_root WHY: exits unless run as root; WHY says what needs it.
require_root() { [ "$(id -u)" = 0 ] || die "run as root ($1)"; }

# runs=$(runs_arg "${1:-}" DEFAULT): the run count, a positive integer, or
# the usage and exit status 2.
runs_arg() {
    local runs=${1:-$2}
    case $runs in '' | *[!0-9]* | 0*) echo "usage: $0 [RUNS>0]" >&2; return 2 ;; esac
    echo "$runs"
}

# build_bins [PROFILE]: cargo builds the binaries (release by default, or
# debug) and points $bin at them; a no-op build when they are current.
build_bins() {
    local profile=${1:-release}
    echo "building $profile binaries (cargo build --locked --bins)..." >&2
    if [ "$profile" = release ]; then cargo build --release --locked --bins -q; else cargo build --locked --bins -q; fi
    bin=$target_dir/$profile
}

# --- cleanup on exit, whatever happens ------------------------------------------
daemon=""
work=""
bench_temp=""
exit_hooks=()
# on_exit COMMAND...: run (eval'ed) at exit, after the hooks added later.
on_exit() { exit_hooks+=("$*"); }
bench_cleanup() {
    local i
    for ((i = ${#exit_hooks[@]} - 1; i >= 0; i--)); do eval "${exit_hooks[i]}" || true; done
    stop_daemon
    [ -z "$bench_temp" ] || rm -rf "$bench_temp"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# make_work PREFIX: a new temporary directory in $work, under
# $STRATA_BENCH_WORK (default /var/tmp), removed at exit.
make_work() {
    work=$(mktemp -d "${STRATA_BENCH_WORK:-/var/tmp}/$1.XXXXXX")
    bench_temp=$work
}

# --- a private daemon ---------------------------------------------------------------
# start_daemon: stratad on $work/root, its socket $sock, its stderr in
# $work/stratad.log; exports STRATA_HOST and returns once it answers.
start_daemon() {
    sock=$work/s.sock
    "$bin/stratad" --root "$work/root" -H "unix://$sock" 2>"$work/stratad.log" &
    daemon=$!
    export STRATA_HOST="unix://$sock"
    for _ in $(seq 200); do
        "$bin/strata" version >/dev/null 2>&1 && return 0
        kill -0 "$daemon" 2>/dev/null || { echo "stratad exited:" >&2; cat "$work/stratad.log" >&2; exit 1; }
        sleep 0.05
    done
    die "stratad did not answer in 10 s"
}
stop_daemon() {
    [ -n "$daemon" ] || return 0
    kill -TERM "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    daemon=""
}

# --- image tars, built once and kept in $cache --------------------------------------
# cache_tar NAME SCRIPT: $cache/NAME.tar from `SCRIPT -o FILE`, built only if
# missing; returns the script's status, its output in $cache/NAME.log.
cache_tar() {
    mkdir -p "$cache"
    [ ! -s "$cache/$1.tar" ] || return 0
    on_exit "rm -f '$cache/$1.tar.partial'"
    "$2" -o "$cache/$1.tar.partial" >"$cache/$1.log" 2>&1 || return
    mv "$cache/$1.tar.partial" "$cache/$1.tar"
}
# cache_busybox_tar: $cache/busybox.tar (scripts/busybox-image.sh), or exit.
cache_busybox_tar() {
    cache_tar busybox scripts/busybox-image.sh || { cat "$cache/busybox.log" >&2; die "scripts/busybox-image.sh failed"; }
}
# cache_debian_tar: $cache/debian.tar (debootstrap's minbase bookworm, needs
# the Debian package registry), or debian_skip says why it is not there.
debian_skip=""
cache_debian_tar() {
    [ -s "$cache/debian.tar" ] || echo "building the debootstrap tar (about 70 s)..." >&2
    cache_tar debian scripts/debian-image.sh && return 0
    debian_skip="scripts/debian-image.sh failed (registry unreachable?): $(grep -v '^\s*$' "$cache/debian.log" | tail -n 1) [full log: $cache/debian.log]"
    echo "debian: skipped: $debian_skip" >&2
}

# --- reporting ------------------------------------------------------------------------
# load WHEN: "load WHEN: the 1, 5 and 15 minute load averages; nproc N".
load() { echo "load $1: $(cut -d' ' -f1-3 /proc/loadavg); nproc $(nproc)"; }

# median_min_max NUMBER...: "median min max" (of an even count, the median
# is the mean of the middle two).
median_min_max() {
    printf '%s\n' "$@" | sort -g | awk -v OFMT=%.10g -v CONVFMT=%.10g '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}

# round_robin RUNS WIDTH FIELD SHOW: RUNS rounds, each calling `once TARGET`
# for every target of the caller's `targets` array, starting one later each
# round so that no target always runs first (after a quiet gap) or last.
# `once` leaves its figure in the global named FIELD; each is appended to
# the caller's associative array `results[TARGET]`, and printed per round
# in columns WIDTH wide through `SHOW VALUE`.
round_robin() {
    local runs=$1 width=$2 field=$3 show=$4 n=${#targets[@]} r k t
    local -A row=()
    printf '%5s' round
    for t in "${targets[@]}"; do printf " %${width}s" "$t"; done
    echo
    for ((r = 0; r < runs; r++)); do
        row=()
        for ((k = 0; k < n; k++)); do
            t=${targets[$(((r + k) % n))]}
            once "$t"
            row[$t]=${!field}
            results[$t]+="${!field} "
        done
        printf '%5d' $((r + 1))
        for t in "${targets[@]}"; do printf " %${width}s" "$("$show" "${row[$t]}")"; done
        echo
    done
}
