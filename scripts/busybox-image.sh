#!/usr/bin/env bash
# Builds the default image, busybox:latest, offline from Debian's
# busybox-static: the static binary, a link for every applet, /etc/passwd and
# /etc/group. The tar is deterministic (sorted, numeric root ownership, every
# mtime set to the binary's), so its diff_id depends only on the busybox build.
#
#   scripts/busybox-image.sh [-o FILE.tar] [NAME[:TAG]]
#
# With -o, only writes the tar. Otherwise imports it through stratad with the
# strata client ($STRATA, default: strata on PATH; $STRATA_HOST picks the daemon).
set -euo pipefail

out=""
if [ "${1:-}" = "-o" ]; then out=$2; shift 2; fi
name=${1:-busybox:latest}
bb=${BUSYBOX:-/bin/busybox}
strata=${STRATA:-strata}

if [ ! -x "$bb" ] || ! "$bb" --list-full >/dev/null 2>&1; then
    echo "busybox-image: $bb is missing or not busybox: apt-get install busybox-static" >&2
    exit 1
fi
case "$(file -b "$bb" 2>/dev/null || true)" in
*dynamically*)
    echo "busybox-image: $bb is dynamically linked; the image needs busybox-static" >&2
    exit 1
    ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home,var/tmp,proc,sys,dev,run}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 0755 "$bb" "$root/bin/busybox"
for applet in $("$bb" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
wheel:x:10:root
www-data:x:33:
nogroup:x:65534:
GROUP
chmod 0644 "$root/etc/passwd" "$root/etc/group"

epoch=$(stat -c %Y "$bb")
tarball=${out:-$work/busybox.tar}
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --format=gnu -C "$root" -cf "$tarball" .

if [ -n "$out" ]; then
    echo "$out"
    exit 0
fi
# awk reads to the end: `head` would make busybox die of SIGPIPE, which
# pipefail turns into a failure.
version=$("$bb" 2>&1 | awk 'NR == 1 { print $2 }')
"$strata" import -c 'CMD ["sh"]' -m "busybox $version from Debian's busybox-static" "$tarball" "$name"
