#!/usr/bin/env bash
# TCP throughput host -> container: iperf3's client on the host sending to
# an iperf3 server in a container, side by side in one run:
#
#   strata-bridge  strata run -p 127.0.0.1:PORT:5201 (the default network:
#                  the port is pasta's listener on the host, spliced into
#                  the container's namespace)
#   strata-host    strata run --network host (the server on the host's
#                  loopback: the kernel's loopback alone, the ceiling)
#   podman         podman run -p 127.0.0.1:PORT:5201 (its default network,
#                  rootful: netavark's bridge; skipped without podman or when
#                  it cannot run here)
#
# Run as root, not in CI (it is a benchmark):
#
#   bash benches/net-throughput.sh [RUNS]     (default 5; $SECONDS_PER_RUN, default 3)
#
# The image is the busybox one plus the host's iperf3 and its libraries
# (scripts/iperf3-image.sh); iperf3 is installed with apt-get if missing.
# Each target's server container starts once; every round runs the client
# once against each (round-robin, the starting target rotating each round),
# after one untimed warm-up run each. The figure is iperf3's received
# throughput (end.sum_received, from its JSON), in Gbit/s.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
runs=$(runs_arg "${1:-}" 5)
secs=${SECONDS_PER_RUN:-3}
require_root "the podman row runs rootful, and iperf3 is installed with apt-get"

# --- 1. tools and binaries ------------------------------------------------------
if ! command -v iperf3 >/dev/null; then
    echo "installing iperf3..." >&2
    apt-get install -y iperf3 >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y iperf3 >/dev/null 2>&1; } \
        || die "apt-get install iperf3 failed"
fi
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
build_bins

# --- 2. temporary state, the daemon, the image ----------------------------------
make_work strata-net-throughput
start_daemon
bash scripts/iperf3-image.sh -o "$work/iperf3.tar" || die "scripts/iperf3-image.sh failed"
"$bin/strata" import "$work/iperf3.tar" strata-bench-iperf3 >/dev/null
on_exit '"$bin/strata" rm -f nb-bridge nb-host >/dev/null 2>&1'

# A free port on the host's loopback: one nothing listens on.
free_port() {
    local p
    for p in $(shuf -i 20000-40000 -n 50); do
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    die "no free port"
}

# --- 3. targets: each a server container and the port the client uses ----------
targets=(strata-bridge strata-host)
notes=()
declare -A port
port[strata-bridge]=$(free_port)
"$bin/strata" run -d --name nb-bridge -p "127.0.0.1:${port[strata-bridge]}:5201" strata-bench-iperf3 \
    iperf3 -s -p 5201 >/dev/null
port[strata-host]=$(free_port)
"$bin/strata" run -d --name nb-host --network host strata-bench-iperf3 \
    iperf3 -s -B 127.0.0.1 -p "${port[strata-host]}" >/dev/null

if command -v podman >/dev/null; then
    # A private store, as in run-latency.sh; its overlay mounts go before $work.
    podman_args=(--root "$work/podman-root" --runroot "$work/podman-run")
    on_exit 'podman "${podman_args[@]}" system reset -f >/dev/null 2>&1 || true;
        awk -v w="$work/" '"'"'index($5, w) == 1 { print $5 }'"'"' /proc/self/mountinfo | tac | xargs -r -n1 umount -l'
    podman() { env -u DOCKER_CONFIG podman "$@"; }
    port[podman]=$(free_port)
    if podman "${podman_args[@]}" import "$work/iperf3.tar" strata-bench-iperf3 >"$work/podman-probe.log" 2>&1 \
        && podman "${podman_args[@]}" run -d --name nb-podman --runtime runc \
            --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
            -p "127.0.0.1:${port[podman]}:5201" strata-bench-iperf3 iperf3 -s -p 5201 >>"$work/podman-probe.log" 2>&1; then
        targets+=(podman)
    else
        notes+=("podman: skipped: $(tail -n 1 "$work/podman-probe.log")")
    fi
else
    notes+=("podman: skipped: not installed")
fi

# --- 4. the client ------------------------------------------------------------------
gbps=""
once() { # TARGET [SECONDS]: one client run, sets $gbps; aborts with its output on failure
    local out=$work/client.json
    if ! iperf3 -c 127.0.0.1 -p "${port[$1]}" -t "${2:-$secs}" -J >"$out" 2>&1; then
        echo "$1: iperf3 -c failed:" >&2
        jq -r '.error // empty' "$out" >&2 2>/dev/null || cat "$out" >&2
        exit 1
    fi
    gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9' "$out")
}
# The servers may still be starting (pasta's listener answers before
# iperf3 does): short tries for up to 10 s each, which are the warm-up too.
for t in "${targets[@]}"; do
    for i in $(seq 20); do
        iperf3 -c 127.0.0.1 -p "${port[$t]}" -t 1 -J >"$work/client.json" 2>&1 && break
        [ "$i" -lt 20 ] || { echo "$t: the server never answered:" >&2; cat "$work/client.json" >&2; exit 1; }
        sleep 0.5
    done
done

echo "kernel: $(uname -r); nproc: $(nproc); $(iperf3 --version | head -n 1); $(pasta --version 2>/dev/null | head -n 1)"
load before
echo "$runs rounds of ${secs} s per target (round-robin, rotating start); Gbit/s received:"
declare -A results
gbit() { printf '%.2f' "$1"; }
round_robin "$runs" 14 gbps gbit
load after

# --- 5. the table -------------------------------------------------------------------
read -r host_med _ _ <<<"$(median_min_max ${results[strata-host]})"
read -r bridge_med _ _ <<<"$(median_min_max ${results[strata-bridge]})"
echo
printf '%-14s %12s %8s %8s %12s %14s\n' target "median Gb/s" min max "vs host" "vs bridge"
printf '%-14s %12s %8s %8s %12s %14s\n' ---------- ----------- ------ ------ ---------- ------------
for t in "${targets[@]}"; do
    read -r med lo hi <<<"$(median_min_max ${results[$t]})"
    awk -v t="$t" -v m="$med" -v lo="$lo" -v hi="$hi" -v h="$host_med" -v b="$bridge_med" \
        'BEGIN { printf "%-14s %12.2f %8.2f %8.2f %12.2f %14.2f\n", t, m, lo, hi, m / h, m / b }'
done
for note in "${notes[@]}"; do echo "$note"; done
echo "iperf3 -c 127.0.0.1 -t $secs on the host to iperf3 -s in a container; 'vs host' = median / strata-host's"
echo "median (the loopback, no network of the container's own), 'vs bridge' = median / strata-bridge's."
