#!/usr/bin/env bash
# Builds debian:bookworm with debootstrap --variant=minbase (real Debian with
# apt, about 175 MB) for the full tutorial, and imports it through stratad.
# Needs the package registry; not part of the default path.
#
#   scripts/debian-image.sh [-o FILE.tar] [NAME[:TAG]]
#
# The mirror is debootstrap's default unless $MIRROR is set.
set -euo pipefail

out=""
if [ "${1:-}" = "-o" ]; then out=$2; shift 2; fi
name=${1:-debian:bookworm}
suite=${SUITE:-bookworm}
strata=${STRATA:-strata}

if ! command -v debootstrap >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "debian-image: install debootstrap first" >&2; exit 1; }
    apt-get install -y debootstrap >/dev/null
fi
[ "$(id -u)" = 0 ] || { echo "debian-image: debootstrap needs root" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase "$suite" "$work/rootfs" ${MIRROR:+"$MIRROR"} >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    exit 1
}
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*_Packages
tarball=${out:-$work/debian.tar}
tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$work/rootfs" -cf "$tarball" .
if [ -n "$out" ]; then
    echo "$out"
    exit 0
fi
"$strata" import -c 'CMD ["bash"]' -m "debootstrap --variant=minbase $suite" "$tarball" "$name"
