"""The targets and their mounts: kernel overlayfs (mount -t overlay) and
the FUSE servers (stratafs, fuse-overlayfs 1.x and 2.x) with the same
lowerdir/upperdir/workdir options, the FUSE server's process (for its
memory and to be sure it exits), and the loop-mounted XFS reflink store."""

import os
import signal
import subprocess
import time

from .fixture import write_big
from .host import log

TARGETS = ["overlay", "stratafs", "stratafs-base", "fo1", "fo2"]
TARGET_LABEL = {
    "overlay": "kernel overlayfs",
    "stratafs": "stratafs",
    "stratafs-base": "stratafs baseline",
    "fo1": "fuse-overlayfs 1.x",
    "fo2": "fuse-overlayfs 2.x",
}
TARGET_ALIASES = {
    "kernel": "overlay", "overlayfs": "overlay", "fuse-overlayfs": "fo1",
    "fuse-overlayfs1": "fo1", "fuse-overlayfs2": "fo2", "fo-1": "fo1", "fo-2": "fo2",
    "base": "stratafs-base", "baseline": "stratafs-base",
}
# The targets mounted with STRATA_BENCH_STRATAFS_OPTS: this build and the
# baseline one (STRATAFS_BASELINE), so that they differ by the binary only.
STRATAFS_TARGETS = ("stratafs", "stratafs-base")


def mounted(mnt):
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            if line.split()[4] == mnt:
                return True
    return False


def fuse_pid(mnt, exe):
    """The FUSE server serving `mnt`: a process running `exe` whose last
    argument is the mountpoint and that holds /dev/fuse open (newest)."""
    best = None
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            if argv and argv[-1] == b"":
                argv = argv[:-1]
            if not argv or os.path.basename(argv[0]) != os.path.basename(exe).encode():
                continue
            if os.path.realpath(argv[-1].decode()) != mnt:
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/fuse" for fd in fds):
                continue
            start = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])
        except (OSError, ValueError, IndexError):
            continue
        if best is None or start > best[0]:
            best = (start, int(pid))
    return best[1] if best else None


class Mount:
    def __init__(self, target, exe, lowers, scratch, mnt, extra_opts=""):
        self.target, self.exe, self.mnt = target, exe, mnt
        self.upper = os.path.join(scratch, "upper")
        self.work = os.path.join(scratch, "work")
        self.pid = None
        for d in (self.upper, self.work, mnt):
            os.makedirs(d, exist_ok=True)
        opts = f"lowerdir={':'.join(lowers)},upperdir={self.upper},workdir={self.work}"
        if extra_opts:
            opts += "," + extra_opts
        if target == "overlay":
            cmd = ["mount", "-t", "overlay", "overlay", "-o", opts, mnt]
        else:
            cmd = [exe, "-o", opts, mnt]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or not mounted(mnt):
            msg = (p.stderr or p.stdout).strip() or f"exit {p.returncode}, not mounted"
            if mounted(mnt):
                unmount(mnt)
            raise RuntimeError(f"mount failed: {msg}")
        if target != "overlay":
            for _ in range(50):
                self.pid = fuse_pid(mnt, exe)
                if self.pid:
                    break
                time.sleep(0.02)

    def close(self):
        unmount(self.mnt)
        if self.pid:
            for _ in range(500):
                if not os.path.exists(f"/proc/{self.pid}"):
                    break
                try:  # reap it if it happens to be our child
                    os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                time.sleep(0.02)
            else:
                log(f"  ! {self.target}: server {self.pid} still alive 10 s after umount; killing it")
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def unmount(mnt):
    if not mounted(mnt):
        return
    for cmd in (["umount", mnt], ["umount", "-l", mnt]):
        for _ in range(3):
            if subprocess.run(cmd, capture_output=True).returncode == 0 or not mounted(mnt):
                return
            time.sleep(0.3)
    if mounted(mnt):
        log(f"  ! could not unmount {mnt}")


def wipe(path):
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=False)


class ReflinkStore:
    """A sparse XFS image made with reflink=1 under the fixture directory,
    loop-mounted under the work directory, holding a lower layer with a
    1 GiB file (the same content as big/big.bin) and the scratch upper and
    work directories of the workloads in ON_REFLINK_STORE. Made for the run
    and removed after it (union.sh's exit trap unmounts it if we cannot)."""

    SIZE = 4 << 30  # the lower file, an upper copy for a target that copies, room

    def __init__(self, work, fx):
        self.image = os.path.join(fx, "reflink.img")
        self.mnt = os.path.join(work, "reflink")
        self.lower = os.path.join(self.mnt, "lower")
        self.scratch = os.path.join(self.mnt, "scratch")
        self.mounted = False

    def setup(self):
        """Makes the store; returns why not, or None."""
        t0 = time.time()
        unmount(self.mnt)
        if os.path.exists(self.image):
            os.unlink(self.image)
        with open(self.image, "wb") as fh:
            fh.truncate(self.SIZE)
        try:
            p = subprocess.run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", self.image], capture_output=True, text=True)
        except OSError as e:
            self.close()
            return f"mkfs.xfs not runnable ({e}; apt-get install -y xfsprogs)"
        if p.returncode != 0:
            self.close()
            return f"mkfs.xfs -m reflink=1 failed: {p.stderr.strip()[:200]}"
        os.makedirs(self.mnt, exist_ok=True)
        p = subprocess.run(["mount", "-t", "xfs", "-o", "loop", self.image, self.mnt], capture_output=True, text=True)
        if p.returncode != 0:
            self.close()
            return f"cannot loop-mount an XFS image: {p.stderr.strip()[:200]}"
        self.mounted = True
        write_big(os.path.join(self.lower, "big", "big.bin"))
        log(f"reflink store: {self.image} (XFS, reflink=1) on {self.mnt}, 1 GiB lower file, "
            f"made in {time.time() - t0:.0f} s")
        return None

    def close(self):
        if self.mounted:
            unmount(self.mnt)
            self.mounted = mounted(self.mnt)
        if not self.mounted:
            if os.path.exists(self.image):
                os.unlink(self.image)
            if os.path.isdir(self.mnt):
                os.rmdir(self.mnt)


def vm_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


