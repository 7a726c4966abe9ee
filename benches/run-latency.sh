#!/usr/bin/env bash
# Container run latency: wall-clock time to start a container running `true`
# and see it finish, for Strata and its peers, on the same root filesystem,
# side by side in the same run:
#
#   strata      strata run --rm --network host busybox true   (a private release stratad; Docker's
#               seccomp filter and device rules on, as by default; the host's network, as bwrap's)
#   strata-mem  the same with -m 512m (a memory limit: the container's resource cgroups, which
#               every container gets, with a limit written)
#   strata-none the same with --network none (a network namespace with lo alone)
#   strata-bridge  strata run --rm busybox true (the default network: a namespace set up by pasta)
#   strata-base the first row's command on the binaries in $STRATA_BASELINE (a directory with
#               another build's stratad and strata, e.g. main before a change), on a daemon
#               and store of their own; only when it is set
#   strata-new-shim the first row's command on a second stratad started with --no-spare: each
#               container on a new shim, its init moved into its cgroups (what a start cost
#               before the spare shim)
#   docker      docker -H unix://SOCK run --rm --network host busybox true   (same stratad;
#               skipped without docker)
#   unconfined  the same with --security-opt seccomp=unconfined (no filter; device rules on)
#   podman      podman run --rm busybox true (its default network; the same tar imported;
#               skipped without podman or when it cannot run here)
#   bwrap    bwrap over the busybox tar extracted into a directory
#   crun     crun run with an OCI bundle over that directory (crun spec, edited)
#   runc     runc run with the same bundle (skipped without runc)
#
# Run as root, not in CI (it is a benchmark):
#
#   bash benches/run-latency.sh [RUNS]     (default 20)
#
# Same namespaces everywhere: mount, pid, uts and ipc, which is what stratad
# gives a container by default; the network is the host's (bwrap without
# --unshare-net; the bundle's network and cgroup namespaces are dropped).
# Rounds are interleaved round-robin, one run of every target per round, the
# starting target rotating each round, so machine noise hits all alike. One
# untimed warm-up run of each target comes first. Times come from bash's
# $EPOCHREALTIME (microseconds, no fork) around each single run.
#
# After the table: what compiling Docker's seccomp profile costs (libseccomp,
# `cargo bench --bench micro seccomp`), which stratad pays once per daemon
# for the default profile and once per start for a profile of one's own.
#
# crun 1.8 refuses hybrid cgroups (v1 controllers plus /sys/fs/cgroup/unified)
# unless cgroup2 is unmounted from its mount namespace. Then crun runs under
# `nsenter --mount=NS` into a persistent private mount namespace without it,
# and the row `nsenter` (nsenter running `true` on the host) shows what that
# wrapper costs by itself.
#
# bwrap and crun are installed with apt-get if missing. Release binaries are
# built with `cargo build --release --locked --bins` (a no-op when current).
# Everything temporary lives under one directory in $STRATA_BENCH_WORK
# (default /var/tmp), removed on exit with stratad (SIGTERM).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 20)
require_root "bwrap, crun and runc here run rootful"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (\$EPOCHREALTIME)"

# --- 1. tools and binaries ------------------------------------------------------
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v crun >/dev/null || missing+=(crun)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}..." >&2
    apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y "${missing[@]}" >/dev/null 2>&1; } \
        || echo "warning: apt-get install ${missing[*]} failed" >&2
fi
build_bins
echo "building the micro bench..." >&2
cargo bench --locked --no-run -q --bench micro 2>/dev/null

# --- 2. temporary state, cleaned on exit whatever happens ------------------------
mntns=""
on_exit '[ -z "$mntns" ] || umount "$mntns" 2>/dev/null'
make_work strata-run-latency

# --- 3. stratad and the busybox image; the same tar extracted for the peers ---
start_daemon
STRATA=$bin/strata STRATA_HOST=$STRATA_HOST bash scripts/busybox-image.sh busybox >/dev/null
bash scripts/busybox-image.sh -o "$work/busybox.tar" >/dev/null
# The tar is deterministic: check that the peers get exactly the image's layer.
layer=$("$bin/strata" inspect busybox | awk -F'"' '/"sha256:/ && prev ~ /Layers/ { print $2; exit } { prev = $0 }')
tarsum=sha256:$(sha256sum "$work/busybox.tar" | cut -d' ' -f1)
if [ "$layer" != "$tarsum" ]; then
    echo "warning: the extracted tar ($tarsum) is not the image's layer (${layer:-?})" >&2
fi
bundle=$work/bundle
rootfs=$bundle/rootfs
mkdir -p "$rootfs"
tar --numeric-owner -xf "$work/busybox.tar" -C "$rootfs"

# --- 4. targets -------------------------------------------------------------------
# Each is a function running one container; a non-zero status aborts the bench.
targets=(strata strata-mem strata-none strata-bridge)
notes=()
run_strata() { "$bin/strata" run --rm --network host busybox true; }
run_strata-mem() { "$bin/strata" run --rm --network host -m 512m busybox true; }
run_strata-none() { "$bin/strata" run --rm --network none busybox true; }
run_strata-bridge() { "$bin/strata" run --rm busybox true; }
# The second daemon: its own store, socket and pid file, the same image.
"$bin/stratad" --no-spare --root "$work/root-new-shim" -H "unix://$work/new-shim.sock" --pidfile "$work/new-shim.pid" 2>"$work/stratad-new-shim.log" &
new_shim_daemon=$!
on_exit 'kill -TERM "$new_shim_daemon" 2>/dev/null; wait "$new_shim_daemon" 2>/dev/null'
for _ in $(seq 200); do
    STRATA_HOST=unix://$work/new-shim.sock "$bin/strata" version >/dev/null 2>&1 && break
    sleep 0.05
done
STRATA=$bin/strata STRATA_HOST=unix://$work/new-shim.sock bash scripts/busybox-image.sh busybox >/dev/null
run_strata-new-shim() { STRATA_HOST=unix://$work/new-shim.sock "$bin/strata" run --rm --network host busybox true; }
targets+=(strata-new-shim)

# A baseline build beside this one (e.g. main before a change), on its own
# daemon and store: the row strata-base, the first row's command.
if [ -n "${STRATA_BASELINE:-}" ]; then
    base=$(realpath -m -- "$STRATA_BASELINE")
    [ -x "$base/stratad" ] && [ -x "$base/strata" ] || die "STRATA_BASELINE=$base has no stratad and strata"
    "$base/stratad" --root "$work/root-base" -H "unix://$work/base.sock" --pidfile "$work/base.pid" 2>"$work/stratad-base.log" &
    base_daemon=$!
    on_exit 'kill -TERM "$base_daemon" 2>/dev/null; wait "$base_daemon" 2>/dev/null'
    for _ in $(seq 200); do
        STRATA_HOST=unix://$work/base.sock "$base/strata" version >/dev/null 2>&1 && break
        sleep 0.05
    done
    STRATA=$base/strata STRATA_HOST=unix://$work/base.sock bash scripts/busybox-image.sh busybox >/dev/null
    run_strata-base() { STRATA_HOST=unix://$work/base.sock "$base/strata" run --rm --network host busybox true; }
    targets+=(strata-base)
fi

if command -v docker >/dev/null; then
    export DOCKER_CONFIG=$work/docker-config
    mkdir -p "$DOCKER_CONFIG"
    run_docker() { docker -H "$STRATA_HOST" run --rm --network host busybox true; }
    run_unconfined() { docker -H "$STRATA_HOST" run --rm --network host --security-opt seccomp=unconfined busybox true; }
    targets+=(docker unconfined)
else
    notes+=("docker: skipped: not installed")
fi

if command -v bwrap >/dev/null; then
    # A new mount namespace is implied; no --unshare-net: the host's network,
    # as strata's default.
    run_bwrap() { bwrap --unshare-pid --unshare-ipc --unshare-uts --bind "$rootfs" / --proc /proc --dev /dev -- /bin/true; }
    targets+=(bwrap)
else
    notes+=("bwrap: skipped: not installed (apt-get install bubblewrap failed)")
fi

json_edit() { # FILE: terminal false, args [true], rootfs by absolute path, writable, no net/cgroup ns
    if command -v jq >/dev/null; then
        jq --arg root "$rootfs" '.process.terminal = false | .process.args = ["true"]
            | .root.path = $root | .root.readonly = false
            | .linux.namespaces |= map(select(.type != "network" and .type != "cgroup"))' "$1" >"$1.new"
    else
        python3 - "$1" "$rootfs" >"$1.new" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"] = {"path": sys.argv[2], "readonly": False}
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in ("network", "cgroup")]
json.dump(c, sys.stdout, indent=2)
PY
    fi
    mv "$1.new" "$1"
}
if command -v crun >/dev/null || command -v runc >/dev/null; then
    spec=$(command -v crun >/dev/null && echo crun || echo runc)
    (cd "$bundle" && "$spec" spec)
    json_edit "$bundle/config.json"
fi
seq_id=0
if command -v crun >/dev/null; then
    crun_pre=()
    if ! crun --root "$work/crun-state" run -b "$bundle" "bench-probe" >"$work/crun-probe.log" 2>&1; then
        if grep -q "hybrid" "$work/crun-probe.log" && [ -d /sys/fs/cgroup/unified ]; then
            # A persistent private mount namespace without cgroup2, entered per run.
            mntns=$work/mntns
            touch "$mntns"
            unshare --mount="$mntns" --propagation private sh -c 'umount /sys/fs/cgroup/unified'
            crun_pre=(nsenter --mount="$mntns")
            notes+=("crun: run as \`nsenter --mount=NS crun ...\` (NS: a private mount namespace without /sys/fs/cgroup/unified, which crun 1.8 refuses in hybrid mode); the nsenter row is that wrapper alone")
        fi
    fi
    if "${crun_pre[@]}" crun --root "$work/crun-state" run -b "$bundle" "bench-probe2" >"$work/crun-probe.log" 2>&1; then
        run_crun() { seq_id=$((seq_id + 1)); "${crun_pre[@]}" crun --root "$work/crun-state" run -b "$bundle" "bench-$seq_id"; }
        targets+=(crun)
        if [ -n "$mntns" ]; then
            run_nsenter() { nsenter --mount="$mntns" true; }
            targets+=(nsenter)
        fi
    else
        notes+=("crun: skipped: $(tail -n 1 "$work/crun-probe.log")")
    fi
else
    notes+=("crun: skipped: not installed (apt-get install crun failed)")
fi

if command -v runc >/dev/null; then
    run_runc() { seq_id=$((seq_id + 1)); runc --root "$work/runc-state" run -b "$bundle" "bench-$seq_id"; }
    targets+=(runc)
else
    notes+=("runc: skipped: not installed")
fi

if command -v podman >/dev/null; then
    # A private store, so nothing of the host's podman is touched. It mounts
    # its overlay directory: unmounted before $work goes.
    podman_args=(--root "$work/podman-root" --runroot "$work/podman-run")
    on_exit 'podman "${podman_args[@]}" system reset -f >/dev/null 2>&1 || true;
        awk -v w="$work/" '"'"'index($5, w) == 1 { print $5 }'"'"' /proc/self/mountinfo | tac | xargs -r -n1 umount -l'
    # DOCKER_CONFIG, set for the docker CLI above, would be podman's auth
    # file. Root cannot raise its hard limits here, which podman's default
    # nofile and nproc limits need: lower ones are given. crun 1.8 refuses
    # the hybrid cgroup layout: runc, as podman's runtime.
    podman() { env -u DOCKER_CONFIG podman "$@"; }
    run_podman() {
        podman "${podman_args[@]}" run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
            strata-bench-busybox true
    }
    if podman "${podman_args[@]}" import "$work/busybox.tar" strata-bench-busybox >"$work/podman-probe.log" 2>&1 \
        && run_podman >>"$work/podman-probe.log" 2>&1; then
        targets+=(podman)
    else
        notes+=("podman: skipped: $(tail -n 1 "$work/podman-probe.log")")
    fi
else
    notes+=("podman: skipped: not installed")
fi

# --- 5. timed rounds ---------------------------------------------------------------
ms() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }   # microseconds -> ms, 1 decimal
once() { # TARGET: runs it once, sets $us; aborts with its output on failure
    local t0 t1
    t0=$EPOCHREALTIME
    if ! "run_$1" >"$work/out" 2>&1; then
        echo "$1 failed:" >&2
        cat "$work/out" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    us=$((${t1/./} - ${t0/./}))
}

declare -A results
for t in "${targets[@]}"; do once "$t"; done   # warm-up, untimed

echo "kernel: $(uname -r); nproc: $(nproc); filesystem of the store and rootfs: $(findmnt -n -o FSTYPE -T "$work")"
echo "versions: strata $("$bin/strata" version 2>/dev/null | awk '/Version:/ { print $2; exit }')$(
    command -v docker >/dev/null && echo "; docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null)")$(
    command -v bwrap >/dev/null && echo "; $(bwrap --version)")$(
    command -v crun >/dev/null && echo "; $(crun --version | head -n 1)")$(
    command -v runc >/dev/null && echo "; $(runc --version | head -n 1)")"
load before
echo "$runs rounds, each running every target once (round-robin, rotating start); ms per run:"
round_robin "$runs" 15 us ms
load after

# --- 6. the table -------------------------------------------------------------------
stats() { # microseconds... -> "median min max" in whole microseconds
    local m lo hi
    read -r m lo hi <<<"$(median_min_max "$@")"
    echo "${m%.*} $lo $hi"
}
read -r base _ _ <<<"$(stats ${results[strata]})"
bwrap_med=""
[ -z "${results[bwrap]:-}" ] || read -r bwrap_med _ _ <<<"$(stats ${results[bwrap]})"
ratio() { [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo -; }
echo
printf '%-15s %9s %8s %8s %10s %9s\n' target "median ms" "min" "max" "vs strata" "vs bwrap"
printf '%-15s %9s %8s %8s %10s %9s\n' ---------- --------- -------- -------- ---------- ---------
for t in "${targets[@]}"; do
    read -r med lo hi <<<"$(stats ${results[$t]})"
    printf '%-15s %9s %8s %8s %10s %9s\n' "$t" "$(ms "$med")" "$(ms "$lo")" "$(ms "$hi")" \
        "$(ratio "$med" "$base")" "$(ratio "$med" "$bwrap_med")"
done
for note in "${notes[@]}"; do echo "$note"; done
echo "Wall-clock time of one run of \`true\` in a container, start to finish, as seen by the caller;"
echo "'vs strata' = median / strata's median, 'vs bwrap' = median / bwrap's. Namespaces: mount, pid, uts, ipc everywhere;"
echo "the host's network but for strata-none (lo alone), strata-bridge (pasta) and podman (its default)."
if [ -n "${results[strata-bridge]:-}" ] && [ -n "${results[strata-none]:-}" ]; then
    read -r bridge_med _ _ <<<"$(stats ${results[strata-bridge]})"
    read -r none_med _ _ <<<"$(stats ${results[strata-none]})"
    echo "the default network (pasta) against none: $(ratio "$bridge_med" "$none_med")x"
fi
echo "stratad's device rules: $(grep -o "containers' cgroups under .*" "$work/stratad.log" | head -n 1)"
echo
echo "compiling Docker's seccomp profile (once per daemon for the default, once per start for another):"
cargo bench --locked -q --bench micro -- seccomp | tail -n 1
