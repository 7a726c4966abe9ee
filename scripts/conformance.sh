#!/usr/bin/env bash
# Runs the independent conformance suites (pjdfstest, fsx, stress-ng, via
# scripts/conformance-suites.sh, which installs them when missing) against a
# stratafs mount of two lower layers and an upper layer. As root. Prints one
# summary line per suite; exits non-zero if any case fails.
#
#   scripts/conformance.sh [STRATAFS_BINARY] [conformance-suites.sh options…]
#
# STRATA_CONFORMANCE_OPTIONS adds mount options (e.g. metacopy=on).
set -euo pipefail
cd "$(dirname "$0")/.."
stratafs=${1:-target/debug/stratafs}
shift || true
[ -x "$stratafs" ] || { echo "conformance: build stratafs first (cargo build)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/strata-conformance.XXXXXX)
cleanup() {
    umount "$work/mnt" 2>/dev/null || umount -l "$work/mnt" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# Other users (pjdfstest switches to them) must reach the mountpoint.
chmod 755 "$work"
mkdir -p "$work"/{lower1,lower2,upper,work,mnt}
# Two real lower layers, so the suites run over merged directories.
mkdir -p "$work/lower2/etc" "$work/lower1/etc" "$work/lower2/usr/share"
echo "from the bottom layer" > "$work/lower2/etc/motd"
echo "from the top layer" > "$work/lower1/etc/issue"
chmod 1777 "$work/lower1" "$work/lower2"
"$stratafs" -o "lowerdir=$work/lower1:$work/lower2,upperdir=$work/upper,workdir=$work/work${STRATA_CONFORMANCE_OPTIONS:+,$STRATA_CONFORMANCE_OPTIONS}" "$work/mnt"
chmod 1777 "$work/mnt"
logs=${STRATA_CONFORMANCE_LOGS:-$work/logs}
bash scripts/conformance-suites.sh -o "$logs" "$@" "$work/mnt"
