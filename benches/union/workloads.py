"""The workloads, in one table: each is one function, registered with its
name, what it does, the state it starts from, its goal for stratafs and
the flags the run needs. The order of registration is the order of the
report.

A workload function runs in the worker process, on a fresh mount, and
returns (milliseconds, check): check is None, or what was wrong with the
result. Only the part between timed()'s start and end is measured."""

import json
import os
import random
import stat
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

from .fixture import BIG_SIZE, BLOCK, DEPTH, DEPTH_FILES, GIT_FILES, RAND_READS, SEED, UNTAR_FILES, big_block
from . import requests
from .host import drop_caches, sh
from .oracle import mounted_view, view_diffs

# The lower stacks a workload can mount (see fixture.fixture_paths and
# mounts.ReflinkStore).
IMAGE, DEEP, SHALLOW, REFLINK = "image", "deep", "shallow", "reflink"


class Site(NamedTuple):
    """Where a workload runs: the mount, the fixture, the topmost lower layer."""
    mnt: str
    fx: str
    lower: str


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    state: str                    # how the measurement starts: cold, warm, fresh mount...
    run: Callable[[Site], tuple]
    lowers: str = IMAGE           # which lower stack it mounts
    big: bool = False             # touches a 1 GiB file: at most STRATA_BENCH_BIG_RUNS runs
    writes: bool = False          # leaves much in the upper: settle after removing it
    memory: bool = False          # measures the FUSE server's memory, not time
    goal: Optional[tuple] = None  # for stratafs: ("ratio", x) to kernel overlayfs, or ("abs_ms", ms)
    # fuse-overlayfs 1.10 and 2.0's ratios to kernel overlayfs when the goals were set.
    reference: Optional[tuple] = None

    @property
    def on_reflink_store(self):
        """Its lower, upper and work directories are on the XFS reflink store."""
        return self.lowers == REFLINK


WORKLOADS = {}


def workload(name, description, state, **flags):
    """Registers the decorated function as the workload `name`."""
    def register(fn):
        WORKLOADS[name] = Workload(name, description, state, fn, **flags)
        return fn
    return register


# ------------------------------------------------------------------ helpers

def read_list(fx, name, mnt):
    with open(os.path.join(fx, name)) as fh:
        return [os.path.join(mnt, line) for line in fh.read().split("\n") if line]


def lstat_all(paths):
    for p in paths:
        os.lstat(p)


def read_all(paths, buf=bytearray(1 << 16)):
    total = 0
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            while True:
                n = os.readv(fd, [buf])
                if n == 0:
                    break
                total += n
        finally:
            os.close(fd)
    return total


# What the last timed() call covered: "files", the count its requests are
# divided by (entries listed, files read or written; 1 for one big file).
# The worker adds it to its result.
TIMED = {}


def timed(fn, *a, files=1):
    """Runs fn(*a), measured; the FUSE requests it causes are traced (when
    the runner armed a trace) between the same two points."""
    requests.switch(True)
    t = time.perf_counter()
    r = fn(*a)
    ms = (time.perf_counter() - t) * 1000
    requests.switch(False)
    TIMED["files"] = files
    return ms, r


def read_through(path):
    """Reads a file to its end: puts it in the page cache."""
    with open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass


def warm_lower(fx, rel):
    """Puts what a workload reads from the lower layers in the page cache
    (read from the layers, not through the mount): "lower cached"."""
    for layer in sorted(os.listdir(os.path.join(fx, "layers"))):
        p = os.path.join(fx, "layers", layer, rel)
        if os.path.isfile(p):
            read_through(p)
        elif os.path.isdir(p):
            for dp, dns, fns in os.walk(p):
                for n in dns + fns:
                    os.lstat(os.path.join(dp, n))


def big_offsets():
    rng = random.Random(SEED + 11)
    return [rng.randrange(0, BIG_SIZE // 4096) * 4096 for _ in range(RAND_READS)]


def preads(path, offsets):
    fd = os.open(path, os.O_RDONLY)
    try:
        short = 0
        for off in offsets:
            if len(os.pread(fd, 4096, off)) != 4096:
                short += 1
        return short
    finally:
        os.close(fd)


def check_preads(path, offsets):
    """Untimed: some of the random blocks against what was written."""
    bad = 0
    with open(path, "rb") as fh:
        for off in offsets[:200]:
            fh.seek(off)
            want = big_block(off // BLOCK)[off % BLOCK:off % BLOCK + 4096]
            if fh.read(4096) != want:
                bad += 1
    return bad


def check_big_sample(path):
    """A few 4 KiB blocks of the big file against what was written."""
    with open(path, "rb") as fh:
        for i in (0, 1, 517, 1023):
            fh.seek(i * BLOCK)
            if fh.read(4096) != big_block(i)[:4096]:
                return f"content of block {i} differs"
    return None


def big_file(s):
    return os.path.join(s.mnt, "big", "big.bin")


# ---------------------------------------------------------------- the table

def find_image(s, passes_before):
    """find over the image after `passes_before` untimed passes (none: cold)."""
    cmd = ["find", os.path.join(s.mnt, "image")]
    if passes_before == 0:
        drop_caches()
    else:
        n_warm = sh(cmd).count(b"\n")
        for _ in range(passes_before - 1):
            sh(cmd)
    expect = sum(1 for _ in read_list(s.fx, "stat.list", ""))
    ms, out = timed(sh, cmd, files=expect)
    n = out.count(b"\n") - 1
    if n != expect:
        return ms, f"find listed {n} entries, expected {expect}"
    if passes_before and n_warm != n + 1:
        return ms, f"warm find listed {n_warm - 1}, then {n}"
    return ms, None


@workload("find_cold", "find over the image (~30k entries)", "cold",
          goal=("ratio", 1.5), reference=(3.8, 5.2))
def find_cold(s):
    return find_image(s, 0)


@workload("find_warm", "find over the image", "warm",
          goal=("ratio", 1.2), reference=(4.2, 14))
def find_warm(s):
    return find_image(s, 1)


# No goal: shows what find_warm's second pass pays once. The first listing
# of a FUSE directory marks its atime stale, so the next fstat of it is a
# round trip; later passes are served from the kernel's caches.
@workload("find_warm3", "find over the image, third pass", "warm: run twice before")
def find_warm3(s):
    return find_image(s, 2)


def stat_image(s, cold):
    paths = read_list(s.fx, "stat.list", s.mnt)
    if cold:
        drop_caches()
    else:
        lstat_all(paths)
    ms, _ = timed(lstat_all, paths, files=len(paths))
    return ms, None


@workload("stat_cold", "lstat every entry of the image", "cold", goal=("ratio", 1.5))
def stat_cold(s):
    return stat_image(s, cold=True)


@workload("stat_warm", "lstat every entry of the image", "warm",
          goal=("ratio", 1.2), reference=(1.6, 5.3))
def stat_warm(s):
    return stat_image(s, cold=False)


@workload("read_small_warm", "read every small file (<=16 KiB) of the image", "warm",
          goal=("ratio", 1.2), reference=(2.9, 3.9))
def read_small_warm(s):
    paths = read_list(s.fx, "small.list", s.mnt)
    expect = read_all(paths)
    ms, total = timed(read_all, paths, files=len(paths))
    manifest = json.load(open(os.path.join(s.fx, "manifest.json")))
    want = sum(manifest[os.path.relpath(p, s.mnt)][4] for p in paths)
    if total != want or expect != want:
        return ms, f"read {expect} then {total} bytes, expected {want}"
    return ms, None


@workload("seq_read", "sequential read of the 1 GiB lower file, dd bs=1M", "warm: read once before",
          big=True, goal=("ratio", 1.1), reference=(1.25, 1.5))
def seq_read(s):
    big = big_file(s)
    cmd = ["dd", f"if={big}", "of=/dev/null", "bs=1M"]
    sh(cmd)
    ms, _ = timed(sh, cmd)
    return ms, check_big_sample(big)


@workload("rand_read", "20,000 random 4 KiB preads of the 1 GiB file", "warm: same offsets read once before",
          big=True, goal=("ratio", 1.1), reference=(1.0, 1.0))
def rand_read(s):
    big = big_file(s)
    offs = big_offsets()
    preads(big, offs)
    ms, short = timed(preads, big, offs, files=len(offs))
    bad = check_preads(big, offs)
    if short or bad:
        return ms, f"{short} of {len(offs)} random reads short, {bad} of 200 checked wrong"
    return ms, None


@workload("seq_write", "write a new 1 GiB file, dd bs=1M conv=fsync", "fresh mount",
          big=True, writes=True, goal=("ratio", 1.1), reference=(1.9, 1.3))
def seq_write(s):
    out = os.path.join(s.mnt, "seqwrite.bin")
    ms, _ = timed(sh, ["dd", "if=/dev/zero", f"of={out}", "bs=1M", "count=1024", "conv=fsync"])
    if os.stat(out).st_size != BIG_SIZE:
        return ms, f"wrote {os.stat(out).st_size} bytes"
    return ms, None


@workload("untar", "tar -xf of 10,000 files into the mount + sync -f", "fresh mount, tar cached",
          writes=True, goal=("ratio", 1.5), reference=(3.2, 3.3))
def untar(s):
    tar = os.path.join(s.fx, "untar.tar")
    read_through(tar)

    def extract():
        sh(["tar", "-xf", tar, "-C", s.mnt])
        sh(["sync", "-f", os.path.join(s.mnt, "untar")])
    ms, _ = timed(extract, files=UNTAR_FILES)
    n = sum(len(fn) for _, _, fn in os.walk(os.path.join(s.mnt, "untar")))
    if n != UNTAR_FILES:
        return ms, f"{n} files after untar, expected {UNTAR_FILES}"
    return ms, None


@workload("rm_rf", "rm -rf of a 4,200-file lower tree", "fresh mount, lower cached",
          writes=True, goal=("ratio", 1.5), reference=(12.8, 21))
def rm_rf(s):
    warm_lower(s.fx, "rmtree")
    tree = os.path.join(s.mnt, "rmtree")
    entries = sum(len(d) + len(f) for _, d, f in os.walk(tree)) + 1
    ms, _ = timed(sh, ["rm", "-rf", tree], files=entries)
    if os.path.lexists(tree) or "rmtree" in os.listdir(s.mnt):
        return ms, "rmtree still visible after rm -rf"
    return ms, None


@workload("git_status", "git status --porcelain, 3,000-file repo", "warm: run once before",
          goal=("ratio", 1.2), reference=(1.5, 7.7))
def git_status(s):
    cmd = ["git", "-c", "safe.directory=*", "-C", os.path.join(s.mnt, "repo"), "status", "--porcelain"]
    first = sh(cmd)
    ms, out = timed(sh, cmd, files=GIT_FILES)
    if first or out:
        return ms, f"git status not clean: {(first or out).decode(errors='replace')[:200]!r}"
    return ms, None


def stat_bottom(s):
    """Cold lstat of the DEPTH_FILES files of the bottom layer's d/."""
    paths = [os.path.join(s.mnt, "d", f"f{i}") for i in range(DEPTH_FILES)]
    drop_caches()
    ms, _ = timed(lstat_all, paths, files=len(paths))
    return ms


@workload("depth64_cold", "lstat 2,000 files in the bottom of 64 lower layers", "cold",
          lowers=DEEP, reference=(0.9, 0.6))
def depth64_cold(s):
    ms = stat_bottom(s)
    names = os.listdir(os.path.join(s.mnt, "d"))
    if len(names) != DEPTH_FILES + DEPTH - 1:
        return ms, f"d/ lists {len(names)} names, expected {DEPTH_FILES + DEPTH - 1}"
    return ms, None


@workload("depth1_cold", "lstat the same 2,000 files, 1 lower layer", "cold", lowers=SHALLOW)
def depth1_cold(s):
    return stat_bottom(s), None


def append_byte(s):
    """Appends one byte to the big file (the lower is cached by the caller)."""
    big = big_file(s)
    # The first lookups of a fresh mount are measured elsewhere (the cold
    # rows); these rows time the copy-up itself.
    os.lstat(big)

    def append():
        fd = os.open(big, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"x")
        os.close(fd)
    ms, _ = timed(append)
    size = os.stat(big).st_size
    if size != BIG_SIZE + 1:
        return ms, f"size {size} after append"
    with open(big, "rb") as fh:
        fh.seek(BIG_SIZE - 1)
        if fh.read() != big_block(1023)[-1:] + b"x":
            return ms, "tail differs after append"
    return ms, check_big_sample(big)


@workload("append_copyup", "append 1 byte to the 1 GiB lower file (copy-up)",
          "fresh mount, lower cached, path looked up untimed",
          big=True, writes=True, goal=("ratio", 1.0), reference=(1.0, 1.0))
def append_copyup(s):
    warm_lower(s.fx, "big/big.bin")
    return append_byte(s)


@workload("chmod_copyup", "chmod of the 1 GiB lower file (metadata copy-up)",
          "fresh mount, lower cached, path looked up untimed",
          big=True, writes=True, goal=("abs_ms", 1.0))
def chmod_copyup(s):
    warm_lower(s.fx, "big/big.bin")
    big = big_file(s)
    os.lstat(big)
    ms, _ = timed(os.chmod, big, 0o600)
    st = os.stat(big)
    if stat.S_IMODE(st.st_mode) != 0o600 or st.st_size != BIG_SIZE:
        return ms, f"mode {oct(st.st_mode)} size {st.st_size} after chmod"
    return ms, check_big_sample(big)


# Near-instant: the upper copy shares the lower file's extents (a clone).
@workload("append_copyup_reflink", "append 1 byte to a 1 GiB lower file, layers on an XFS reflink store",
          "fresh mount, lower cached, path looked up untimed",
          lowers=REFLINK, big=True, writes=True, goal=("abs_ms", 50.0))
def append_copyup_reflink(s):
    read_through(os.path.join(s.lower, "big", "big.bin"))
    return append_byte(s)


@workload("memory", "daemon VmRSS/VmHWM after lstat-all + read-all-small", "untimed", memory=True)
def memory(s):
    lstat_all(read_list(s.fx, "stat.list", s.mnt))
    read_all(read_list(s.fx, "small.list", s.mnt))
    return 0.0, None


def verify_merged_view(s):
    """The correctness pass: the mount's merged view against the manifest
    (the oracle's view of the layers); returns (0, check, details)."""
    manifest = json.load(open(os.path.join(s.fx, "manifest.json")))
    got = mounted_view(s.mnt, ("image", "rmtree", "repo"))
    diffs = view_diffs(manifest, got)
    check = f"{len(diffs)} paths differ from the expected merged view" if diffs else None
    return 0.0, check, {"entries": len(got), "diffs": diffs[:20], "ndiffs": len(diffs)}


# Not a workload of the table: run once per target before them (STRATA_BENCH_VERIFY).
VERIFY = Workload("verify", "each target's merged view against the overlay rules", "fresh mount",
                  verify_merged_view)
