#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the integration tests, which
# start real stratad daemons on temporary sockets and drive them with the
# strata client, raw HTTP and the docker CLI (when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo test --locked "$@"
