"""What the benchmark asks of the machine: logging, the page cache,
commands and the load average."""

import os
import subprocess


def log(*args):
    print(*args, flush=True)


def drop_caches(what="3"):
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write(what + "\n")


def settle():
    """After removing an upper full of files: flush, then drop clean pages.
    On ext4 (without a journal, as here) inode allocation skips inodes freed
    recently while their inode-table blocks are cached (ialloc.c
    recently_deleted()), so without this the next target's untar pays for
    the previous target's deletions (6x slower, order-dependent)."""
    drop_caches("1")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def sh(cmd, **kw):
    """Runs cmd, returns its stdout; a failure raises with its stderr."""
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}…: exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}")
    return p.stdout


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])
