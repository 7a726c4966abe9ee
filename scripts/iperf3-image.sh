#!/usr/bin/env bash
# Builds an image with the host's iperf3 in it, for benches/net-throughput.sh:
# the busybox image (scripts/busybox-image.sh) plus /usr/bin/iperf3 and every
# shared library `ldd` names for it, copied at the paths the host has them
# (symlinks followed), so the dynamic loader finds them as on the host.
#
#   scripts/iperf3-image.sh -o FILE.tar
#
# Needs iperf3 on the host (Debian: apt-get install iperf3) and busybox-static.
set -euo pipefail

[ "${1:-}" = "-o" ] && [ -n "${2:-}" ] || { echo "usage: $0 -o FILE.tar" >&2; exit 2; }
out=$2
iperf=$(command -v iperf3) || { echo "iperf3-image: iperf3 is not installed (apt-get install iperf3)" >&2; exit 1; }
here=$(dirname "$0")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"
bash "$here/busybox-image.sh" -o "$work/busybox.tar" >/dev/null
tar --numeric-owner -xf "$work/busybox.tar" -C "$root"
install -D -m 0755 "$iperf" "$root/usr/bin/iperf3"
# ldd lines: "name => /path (addr)" or "/path (addr)" (the loader); vdso has no path.
for lib in $(ldd "$iperf" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
chroot "$root" /usr/bin/iperf3 --version >/dev/null \
    || { echo "iperf3-image: iperf3 does not run in the image's root" >&2; exit 1; }
tar --numeric-owner --owner=0 --group=0 --sort=name -cf "$out" -C "$root" .
