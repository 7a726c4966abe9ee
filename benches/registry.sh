#!/usr/bin/env bash
# Registry pull and push: stratad against skopeo, side by side in one run,
# over a loopback registry (Debian's docker-registry, CNCF distribution 2.8,
# plain HTTP on 127.0.0.1).
#
#   bash benches/registry.sh [RUNS]     (default 5)
#
# The image: LAYERS layers (default 6) of deterministic random content
# (AES-CTR keystream, so gzip cannot shrink it), each 4 files of 5 MiB and
# 100 of 8 KiB (about 21 MB a layer, 125 MB in all), built once into
# $STRATA_BENCH_CACHE/registry (default /var/tmp/strata-bench) and seeded by
# `skopeo copy docker-archive:` (which gzips the layers) into the source
# registry.
#
# Rounds are interleaved, each from a clean state (untimed cleanup, then
# settling: sync, drop clean caches, re-read the registry's blobs):
#   pull  (a) stratad's pull of ADDR/bench:src (`POST /images/create`, by
#             curl on its socket): download, verify, extract into the store
#             (stratad flushes before it commits a layer); then rmi.
#         (b) `skopeo copy docker://ADDR/bench:src dir:D` (download alone),
#             then `tar -xzf` of each layer into one directory + `sync -f`.
#   push  to a second registry, emptied and restarted before each push:
#         (a) stratad's push of the pulled image (`POST /images/…/push`;
#             layers gzip'd as they go up);
#         (b) `skopeo copy dir:D docker://…` (blobs already compressed).
# The goal (issue 15): strata's pull in less time than skopeo's download alone.
#
# A stratad without pull or push (before issue 15) has its rows skipped
# with the reason; the skopeo side still runs. Needs root (tar keeps owners,
# drop_caches), docker-registry, skopeo, curl, openssl, python3.
# STRATA_BENCH_LAYERS sets the layer count; STRATA_BENCH_SETTLE=0 turns
# settling off; release binaries are built if missing (STRATA_BENCH_REBUILD=1
# forces it).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 5)
layers=${STRATA_BENCH_LAYERS:-6}
require_root "tar -x keeps ownership; settling drops caches"
for tool in docker-registry skopeo curl openssl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh installs it)"
done

if [ "${STRATA_BENCH_REBUILD:-0}" = 1 ] || [ ! -x "$bin/stratad" ] || [ ! -x "$bin/strata" ]; then
    build_bins
elif [ -n "$(find src Cargo.toml Cargo.lock -newer "$bin/stratad" -print -quit)" ]; then
    echo "warning: sources are newer than $bin/stratad; STRATA_BENCH_REBUILD=1 rebuilds" >&2
fi

# --- 1. the image, built once ------------------------------------------------------
# build_image DIR: DIR/image.tar, a docker-archive of $layers layers.
build_image() {
    local dir=$1 i f layer diff_ids=() names=()
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    for ((i = 0; i < layers; i++)); do
        layer=$dir.partial/l$i
        mkdir -p "$layer/data$i/small"
        # One keystream per layer (key = the layer's number): the same bytes
        # every build, incompressible.
        # (Process substitution: openssl's SIGPIPE is not the script's failure.)
        head -c $((4 * 5 * 1048576 + 100 * 8192)) >"$layer.bytes" \
            < <(openssl enc -aes-128-ctr -K "$(printf '%032x' "$((i + 1))")" -iv 0 -in /dev/zero 2>/dev/null)
        for f in 0 1 2 3; do
            dd if="$layer.bytes" of="$layer/data$i/big$f" bs=1M skip=$((f * 5)) count=5 status=none
        done
        for f in $(seq 0 99); do
            dd if="$layer.bytes" of="$layer/data$i/small/f$f" bs=8192 skip=$((2560 + f)) count=1 status=none
        done
        rm "$layer.bytes"
        tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -C "$layer" -cf "$dir.partial/layer$i.tar" .
        rm -rf "$layer"
        diff_ids+=("\"sha256:$(sha256sum "$dir.partial/layer$i.tar" | cut -d' ' -f1)\"")
        names+=("\"layer$i.tar\"")
    done
    local ids names_json
    ids=$(IFS=,; echo "${diff_ids[*]}")
    names_json=$(IFS=,; echo "${names[*]}")
    printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        "$ids" >"$dir.partial/config.json"
    printf '[{"Config":"config.json","RepoTags":["bench:src"],"Layers":[%s]}]' "$names_json" >"$dir.partial/manifest.json"
    tar -C "$dir.partial" -cf "$dir.partial/image.tar" manifest.json config.json $(cd "$dir.partial" && ls layer*.tar)
    rm -f "$dir.partial"/layer*.tar
    rm -rf "$dir" && mv "$dir.partial" "$dir"
}
image=$cache/registry-$layers
if [ ! -s "$image/image.tar" ]; then
    echo "building the $layers-layer image (once, into $image)..." >&2
    on_exit "rm -rf '$image.partial'"
    build_image "$image"
fi

# --- 2. registries and a daemon ----------------------------------------------------
make_work strata-bench-registry
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# registry_start NAME: docker-registry on 127.0.0.1 with storage in
# $work/NAME; sets NAME_pid and NAME_addr, returns once /v2/ answers.
registry_start() {
    local name=$1 port pid
    port=$(free_port)
    mkdir -p "$work/$name"
    cat >"$work/$name.yml" <<EOF
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/$name/data }, delete: { enabled: true } }
http: { addr: "127.0.0.1:$port" }
EOF
    docker-registry serve "$work/$name.yml" >>"$work/$name.log" 2>&1 &
    pid=$!
    printf -v "${name}_pid" %s "$pid"
    printf -v "${name}_addr" %s "127.0.0.1:$port"
    for _ in $(seq 400); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")" = 200 ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "docker-registry $name exited"; }
        sleep 0.05
    done
    die "docker-registry $name did not answer in 20 s"
}
registry_stop() {
    local pid_var=${1}_pid
    [ -n "${!pid_var:-}" ] || return 0
    kill "${!pid_var}" 2>/dev/null || true
    wait "${!pid_var}" 2>/dev/null || true
    printf -v "$pid_var" %s ""
}
# registry_reset NAME: stopped, emptied, started again (a new port).
registry_reset() { registry_stop "$1"; rm -rf "${work:?}/$1/data"; registry_start "$1"; }
source_pid="" sink_pid=""
on_exit 'registry_stop source; registry_stop sink'
registry_start source
registry_start sink
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "docker-archive:$image/image.tar" "docker://$source_addr/bench:src"
src=$source_addr/bench:src
start_daemon
strata() { "$bin/strata" "$@"; }

# stratad's pull and push through its API (curl on the socket; the strata
# client's verbs are not needed): the JSON stream, which must not end in an
# error line.
api_stream() {
    local log=$1 path=$2
    curl -sS --unix-socket "$sock" -X POST "http://stratad$path" >"$log" 2>&1 || { cat "$log" >&2; die "curl $path failed"; }
    ! grep -q '"error"' "$log" || { cat "$log" >&2; die "stratad: $path failed"; }
}
strata_pull() { api_stream "$work/pull.log" "/images/create?fromImage=$source_addr/bench&tag=src"; }
strata_push() { api_stream "$work/push.log" "/images/$sink_addr/bench/push?tag=$1"; }
# Without the API (a stratad before issue 15), the strata rows are skipped.
probe() { curl -s --unix-socket "$sock" -X POST "http://stratad$1"; }
pull_skip="" push_skip=""
case $(probe "/images/create?fromImage=127.0.0.1:1/none&tag=x") in
*"page not found"* | *"no registry access"*) pull_skip="this stratad has no pull" ;;
esac
case $(probe "/images/127.0.0.1:1/none/push?tag=x") in *"page not found"*) push_skip="this stratad has no push" ;; esac
[ -z "$pull_skip" ] || push_skip="needs stratad's pull to have the image"

# --- 3. timed rounds -----------------------------------------------------------------
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
settle_on=${STRATA_BENCH_SETTLE:-1}
# settle [DIR]: untimed, after each cleanup: flush, drop clean caches, re-read
# the source registry's blobs (and DIR) so both sides start alike.
settle() {
    [ "$settle_on" = 1 ] || return 0
    sync -f "$work"
    echo 1 >/proc/sys/vm/drop_caches
    find "$work/source/data" ${1:+"$1"} -type f -exec cat {} + >/dev/null
}
# run_logged LOG CMD...: CMD with its output in LOG; on failure, shows LOG.
run_logged() {
    local log=$1; shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; die "failed: $*"; }
}

load "at start"
echo "filesystem: $(df --output=source "$work" | tail -n 1) $(findmnt -n -o FSTYPE,OPTIONS -T "$work"); $runs interleaved runs"
image_bytes=$(stat -c %s "$image/image.tar")
strata_pulls=() skopeo_pulls=() untars=() strata_pushes=() skopeo_pushes=()
for i in $(seq "$runs"); do
    # pull (a): stratad's pull, then an untimed rmi.
    if [ -z "$pull_skip" ]; then
        settle
        t0=$EPOCHREALTIME
        strata_pull
        t1=$EPOCHREALTIME
        strata_pulls+=("$(elapsed "$t0" "$t1")")
        strata rmi "$src" >/dev/null
    fi
    # pull (b): skopeo's download, then tar -x of its layers (timed apart).
    rm -rf "$work/dir" "$work/x"
    settle
    t0=$EPOCHREALTIME
    run_logged "$work/skopeo.log" skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$src" "dir:$work/dir"
    t1=$EPOCHREALTIME
    mkdir "$work/x"
    for digest in $(jq -r '.layers[].digest' "$work/dir/manifest.json"); do
        tar --numeric-owner -xzf "$work/dir/${digest#sha256:}" -C "$work/x"
    done
    sync -f "$work/x"
    t2=$EPOCHREALTIME
    skopeo_pulls+=("$(elapsed "$t0" "$t1")")
    untars+=("$(elapsed "$t1" "$t2")")
    rm -rf "$work/x"
    # push (a): the pulled image (untimed pull and tag) to an empty registry.
    if [ -z "$push_skip" ]; then
        strata_pull
        registry_reset sink
        strata tag "$src" "$sink_addr/bench:s$i"
        settle
        t0=$EPOCHREALTIME
        strata_push "s$i"
        t1=$EPOCHREALTIME
        strata_pushes+=("$(elapsed "$t0" "$t1")")
        strata rmi "$src" "$sink_addr/bench:s$i" >/dev/null
    fi
    # push (b): skopeo from its dir: copy to an empty registry.
    registry_reset sink
    settle "$work/dir"
    t0=$EPOCHREALTIME
    run_logged "$work/skopeo.log" skopeo --insecure-policy copy --quiet --dest-tls-verify=false "dir:$work/dir" "docker://$sink_addr/bench:k$i"
    t1=$EPOCHREALTIME
    skopeo_pushes+=("$(elapsed "$t0" "$t1")")
done

# --- 4. the table (medians) ---------------------------------------------------------------
csv() { local IFS=,; echo "$*"; }
python3 - "$image_bytes" "$layers" "$(csv "${strata_pulls[@]}")" "$(csv "${skopeo_pulls[@]}")" \
    "$(csv "${untars[@]}")" "$(csv "${strata_pushes[@]}")" "$(csv "${skopeo_pushes[@]}")" <<'PY'
import statistics, sys
size, layers = int(sys.argv[1]), int(sys.argv[2])
runs = [[float(x) for x in a.split(",") if x] for a in sys.argv[3:]]
sp, kp, ux, su, ku = runs
kx = [a + b for a, b in zip(kp, ux)]
med = lambda v: statistics.median(v) if v else None
def row(name, v):
    if not v:
        return f"{name:<34} {'skipped':>9}"
    m = med(v)
    return f"{name:<34} {m:9.3f} {size / 1e6 / m:8.1f} {min(v):9.3f} {max(v):9.3f}"
print()
print(f"image: {layers} layers, {size / 1e6:.1f} MB uncompressed (docker-archive)")
hdr = f"{'':<34} {'median s':>9} {'MB/s':>8} {'min s':>9} {'max s':>9}"
print(hdr)
print("-" * len(hdr))
for name, v in [("pull: strata pull", sp), ("pull: skopeo copy docker:// dir:", kp),
                ("pull: tar -xzf of its layers", ux), ("pull: skopeo + tar -x", kx),
                ("push: strata push", su), ("push: skopeo copy dir: docker://", ku)]:
    print(row(name, v))
print()
ratio = lambda a, b: f"{med(a) / med(b):.2f}" if a and b else "n/a"
print(f"strata pull / skopeo download alone:   {ratio(sp, kp)}  (goal: below 1)")
print(f"strata pull / skopeo download + tar -x: {ratio(sp, kx)}")
print(f"strata push / skopeo push:              {ratio(su, ku)}")
PY
[ -z "$pull_skip" ] || echo "strata pull: skipped: $pull_skip"
[ -z "$push_skip" ] || echo "strata push: skipped: $push_skip"
echo "Times are medians of wall-clock seconds over $runs interleaved runs; MB/s over the uncompressed image."
echo "strata pull includes verifying both digests and extracting into the store (flushed before commit);"
echo "strata push includes gzip-compressing each layer, skopeo's dir: blobs are already compressed."
load "at end"
