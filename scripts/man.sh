#!/usr/bin/env bash
# Writes strata's man pages (roff) into DIR, default target/man:
# strata.1 and strata-VERB.1 for each verb, from the clap tree itself.
#
#   scripts/man.sh [DIR]
#   man -l target/man/strata-run.1
set -euo pipefail

cd "$(dirname "$0")/.."
cargo run --locked --quiet --example man -- "${1:-target/man}"
