#!/usr/bin/env bash
# The main flow on a fresh machine, as root: install what is needed, build,
# start stratad in the background, build the default busybox image offline
# and import it through the API, list and inspect it, then the tutorial's
# container steps: run, exec, ps, logs, diff, rm.
#
# stratad keeps running afterwards (log: $STRATA_DEMO_LOG); stop it with
# `kill $(cat /run/strata/stratad.pid)`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked --bins
bin=$PWD/target/release
export PATH=$bin:$PATH

log=${STRATA_DEMO_LOG:-/var/log/stratad.log}
if strata version >/dev/null 2>&1; then
    echo "== stratad is already running"
else
    echo "== starting stratad (log: $log)"
    # stratad writes /run/strata/stratad.pid itself once it is up.
    nohup "$bin/stratad" >>"$log" 2>&1 &
    for _ in $(seq 100); do strata version >/dev/null 2>&1 && break; sleep 0.1; done
    strata version >/dev/null || { tail "$log" >&2; exit 1; }
fi

echo "== strata version"
strata version
# A re-run replaces the demo image instead of leaving the old one dangling.
strata rmi busybox:latest >/dev/null 2>&1 || true
echo "== building busybox:latest from Debian's busybox-static and importing it"
STRATA=$bin/strata scripts/busybox-image.sh busybox:latest
echo "== strata images"
strata images
echo "== strata inspect busybox"
strata inspect busybox
echo "== strata history busybox"
strata history busybox

echo "== strata run --rm busybox echo hello from a container"
strata run --rm busybox echo hello from a container
strata rm -f tutorial >/dev/null 2>&1 || true
echo "== strata run -d --name tutorial busybox sh -c '...'"
strata run -d --name tutorial busybox sh -c 'echo hi > /hello; rm /etc/group; echo ready; sleep 300'
for _ in $(seq 50); do strata logs tutorial | grep -q ready && break; sleep 0.1; done
echo "== strata exec tutorial sh -c 'echo \$\$; hostname; cat /hello'"
strata exec tutorial sh -c 'echo $$; hostname; cat /hello'
echo "== strata ps"
strata ps
echo "== strata diff tutorial"
strata diff tutorial
echo "== strata top tutorial"
strata top tutorial
echo "== strata rm -f tutorial"
strata rm -f tutorial
echo "== done: try 'strata run -it busybox sh' (Ctrl-P Ctrl-Q detaches, 'strata attach' comes back)"
