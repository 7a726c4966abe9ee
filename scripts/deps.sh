#!/usr/bin/env bash
# Installs the system packages Strata's demo and tests need, if missing
# (Debian/Ubuntu, as root). Idempotent and quiet when all is there.
#   busybox-static  the default image (scripts/busybox-image.sh)
#   debootstrap     the Debian image of the apt-get network tests (scripts/debian-image.sh)
#   openssl         certificates for the TLS tests
#   tar, file       building and checking image tars
#   fuse3           fusermount3, for stratafs mounts without root
#   procps, attr    pgrep and getfattr in the filesystem tests
#   acl             setfacl and getfacl in the ACL test
#   podman, runc    the test that runs Podman with stratafs as mount_program
#   xfsprogs        mkfs.xfs, for the copy-up tests on loop-mounted XFS images
#   libseccomp-dev, pkg-config  building against libseccomp (containers' seccomp filter)
#   bubblewrap, crun  peers of benches/run-latency.sh
#   docker-registry  CNCF distribution, the registry pull/push/login run against (on loopback)
#   skopeo, umoci    seeding registries and reading saved archives (interop)
#   apache2-utils    htpasswd -B, for the registry's basic-auth set-up
#   curl, zstd       raw registry requests and zstd layers in the tests
#   passt            pasta, the user-mode network of bridge containers (root and rootless)
#   iproute2         ip, for the network and capability tests' checks
#   python3          the union benchmark's unit tests (tests/benches.rs)
#   fuse-overlayfs   the peer `strata bench` measures beside stratafs (tests/benches.rs)
#   librsvg2-bin     rsvg-convert, which checks that `strata bench`'s chart renders
set -euo pipefail
packages=(busybox-static debootstrap openssl tar file ca-certificates fuse3 procps attr acl podman runc xfsprogs libseccomp-dev pkg-config bubblewrap crun docker-registry skopeo umoci apache2-utils curl zstd passt iproute2 python3 fuse-overlayfs librsvg2-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
