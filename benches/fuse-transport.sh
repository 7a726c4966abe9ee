#!/usr/bin/env bash
# The FUSE transport's per-request cost: the classic /dev/fuse read/write
# loop against FUSE over io_uring (kernel 6.14+), one prototype server
# (examples/fuse_transport) that owns its request loop, both transports over
# the same request handling and trivial filesystem; the targets: the classic
# loop with 1 reader thread, with one per CPU (as stratafs runs fuser), with
# one per CPU pinned each to its CPU (a control: io_uring's queue threads are
# pinned, as libfuse pins them), and io_uring (a queue per CPU). The workload: OPS stat() calls of one file
# (attributes valid 0 s: one GETATTR each) and OPS 64-byte direct-I/O reads
# (one READ each), from one client thread and from two, ROUNDS rounds, every
# target mounted side by side and measured in turn, the first one later each
# round; the server counts every request by transport and opcode, and the
# table gives the medians, µs per request and requests/s, and the ratio of
# io_uring to the best classic target. As root:
#
#   bash benches/fuse-transport.sh [ROUNDS [OPS [ARGS...]]]   (default 5 rounds, 200000 ops)
#
# ARGS go to the prototype: --targets classic:1,classic:2,classic-pinned:2,uring
# (classic:N is N reader threads), --clients 1,2, --workloads stat,read.
#
# The fuse module's enable_uring is switched on for the run and put back as
# it was at exit, whatever happens.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rounds=$(runs_arg "${1:-}" 5)
ops=$(runs_arg "${2:-}" 200000)
require_root "mounts FUSE, switches the fuse module's enable_uring"
param=/sys/module/fuse/parameters/enable_uring
[ -w "$param" ] || die "$param is missing: this kernel has no FUSE over io_uring (6.14+, CONFIG_FUSE_IO_URING)"
echo "building the prototype (cargo build --release --locked --example fuse_transport)..." >&2
cargo build --release --locked --example fuse_transport -q
was=$(cat "$param")
on_exit "echo '$was' > '$param'"
echo Y > "$param"
make_work strata-fuse-transport
on_exit "umount -l '$work' 2>/dev/null"
load before >&2
"$target_dir/release/examples/fuse_transport" --rounds "$rounds" --ops "$ops" --mountpoint "$work" "${@:3}"
load after >&2
