#!/usr/bin/env python3
"""Union-filesystem benchmark (issue 6): stratafs beside kernel overlayfs and
fuse-overlayfs 1.x and 2.x over one seeded, distro-like fixture.

Run through benches/union.sh, which builds the binaries and passes their
paths. Python 3 standard library only.

Every measurement gets a fresh mount with an empty upper and work directory
(the lower layers are shared and never written). Targets are interleaved
(for run: for workload: for target) so that noise hits them alike. Each
measurement runs in a child process of this script (`--worker`), which
times itself with time.perf_counter, so mounting and unmounting are never
timed and a hung filesystem is killed after a timeout instead of hanging
the run.
"""

import argparse
import csv
import hashlib
import json
import os
import random
import signal
import stat
import statistics
import subprocess
import sys
import tarfile
import time

FIXTURE_VERSION = "union-fixture-v1 seed=42"
SEED = 42
BIG_SIZE = 1 << 30
BLOCK = 1 << 20
SMALL_MAX = 16 * 1024
RAND_READS = 20_000
DEPTH = 64
DEPTH_FILES = 2000
UNTAR_FILES = 10_000
RM_FILES = 4200
GIT_FILES = 3000

# ---------------------------------------------------------------- workloads

# name -> (description, state). "big" workloads touch the 1 GiB file and may
# run fewer times (STRATA_BENCH_BIG_RUNS).
WORKLOADS = {
    "find_cold": ("find over the image (~30k entries)", "cold"),
    "find_warm": ("find over the image", "warm"),
    # No goal: shows what find_warm's second pass pays once. The first
    # listing of a FUSE directory marks its atime stale, so the next fstat
    # of it is a round trip; later passes are served from the kernel's
    # caches.
    "find_warm3": ("find over the image, third pass", "warm: run twice before"),
    "stat_cold": ("lstat every entry of the image", "cold"),
    "stat_warm": ("lstat every entry of the image", "warm"),
    "read_small_warm": ("read every small file (<=16 KiB) of the image", "warm"),
    "seq_read": ("sequential read of the 1 GiB lower file, dd bs=1M", "warm: read once before"),
    "rand_read": ("20,000 random 4 KiB preads of the 1 GiB file", "warm: same offsets read once before"),
    "seq_write": ("write a new 1 GiB file, dd bs=1M conv=fsync", "fresh mount"),
    "untar": ("tar -xf of 10,000 files into the mount + sync -f", "fresh mount, tar cached"),
    "rm_rf": ("rm -rf of a 4,200-file lower tree", "fresh mount, lower cached"),
    "git_status": ("git status --porcelain, 3,000-file repo", "warm: run once before"),
    "depth64_cold": ("lstat 2,000 files in the bottom of 64 lower layers", "cold"),
    "depth1_cold": ("lstat the same 2,000 files, 1 lower layer", "cold"),
    "append_copyup": ("append 1 byte to the 1 GiB lower file (copy-up)",
                      "fresh mount, lower cached, path looked up untimed"),
    "chmod_copyup": ("chmod of the 1 GiB lower file (metadata copy-up)",
                     "fresh mount, lower cached, path looked up untimed"),
    "append_copyup_reflink": ("append 1 byte to a 1 GiB lower file, layers on an XFS reflink store",
                              "fresh mount, lower cached, path looked up untimed"),
    "memory": ("daemon VmRSS/VmHWM after lstat-all + read-all-small", "untimed"),
}
BIG = {"seq_read", "rand_read", "seq_write", "append_copyup", "chmod_copyup", "append_copyup_reflink"}
# Workloads that leave many files or much data in the upper: after removing
# it, settle (see settle()).
WRITES = {"seq_write", "untar", "rm_rf", "append_copyup", "chmod_copyup", "append_copyup_reflink"}
# Workloads whose lower and upper layers are on the XFS reflink store (see
# ReflinkStore) instead of the fixture's filesystem.
ON_REFLINK_STORE = {"append_copyup_reflink"}

# Goals from the issue, for stratafs, as ratio to kernel overlayfs unless said.
GOALS = {
    "find_warm": ("ratio", 1.2),
    "stat_warm": ("ratio", 1.2),
    "read_small_warm": ("ratio", 1.2),
    "git_status": ("ratio", 1.2),
    "find_cold": ("ratio", 1.5),
    "stat_cold": ("ratio", 1.5),
    "seq_read": ("ratio", 1.1),
    "rand_read": ("ratio", 1.1),
    "seq_write": ("ratio", 1.1),
    "untar": ("ratio", 1.5),
    "rm_rf": ("ratio", 1.5),
    "append_copyup": ("ratio", 1.0),
    "chmod_copyup": ("abs_ms", 1.0),
    # Near-instant: the upper copy shares the lower file's extents (a clone).
    "append_copyup_reflink": ("abs_ms", 50.0),
}
# The issue's figures for the peers (ratio to kernel overlayfs): 1.10 / 2.0.
ISSUE_PEERS = {
    "find_cold": (3.8, 5.2), "find_warm": (4.2, 14), "stat_warm": (1.6, 5.3),
    "read_small_warm": (2.9, 3.9), "seq_read": (1.25, 1.5), "rand_read": (1.0, 1.0),
    "seq_write": (1.9, 1.3), "untar": (3.2, 3.3), "rm_rf": (12.8, 21),
    "git_status": (1.5, 7.7), "depth64_cold": (0.9, 0.6), "append_copyup": (1.0, 1.0),
}

TARGETS = ["overlay", "stratafs", "fo1", "fo2"]
TARGET_LABEL = {
    "overlay": "kernel overlayfs",
    "stratafs": "stratafs",
    "fo1": "fuse-overlayfs 1.x",
    "fo2": "fuse-overlayfs 2.x",
}
TARGET_ALIASES = {
    "kernel": "overlay", "overlayfs": "overlay", "fuse-overlayfs": "fo1",
    "fuse-overlayfs1": "fo1", "fuse-overlayfs2": "fo2", "fo-1": "fo1", "fo-2": "fo2",
}


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


def warm_lower(fx, rel):
    """Puts what a workload reads from the lower layers in the page cache
    (read from the layers, not through the mount): "lower cached"."""
    for layer in sorted(os.listdir(os.path.join(fx, "layers"))):
        p = os.path.join(fx, "layers", layer, rel)
        if os.path.isfile(p):
            with open(p, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        elif os.path.isdir(p):
            for dp, dns, fns in os.walk(p):
                for n in dns + fns:
                    os.lstat(os.path.join(dp, n))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ------------------------------------------------------------------ fixture

SYL = ["ba", "ko", "ri", "sel", "mon", "ta", "lu", "xen", "dor", "pi", "qua", "ve",
       "zu", "fen", "gra", "hol", "im", "jo", "kal", "nex", "ost", "pre", "rum", "sy"]
LANGS = ["de", "fr", "es", "it", "pt_BR", "ru", "ja", "zh_CN", "pl", "nl", "sv", "cs",
         "da", "fi", "hu", "ko", "tr", "uk", "el", "ro", "ca", "eu", "gl", "nb"]


class Gen:
    """Deterministic content: slices of one seeded random pool."""

    pool = random.Random(SEED + 1).randbytes(4 << 20)

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def name(self, lo=1, hi=3):
        return "".join(self.rng.choice(SYL) for _ in range(self.rng.randint(lo, hi)))

    def small_size(self):
        r = self.rng.random()
        if r < 0.08:
            return 0
        if r < 0.55:
            return self.rng.randint(1, 2048)
        return self.rng.randint(2049, SMALL_MAX)

    def size(self):
        # A few larger files (64 KiB .. 2 MiB), mostly small ones.
        if self.rng.random() < 0.012:
            return self.rng.randint(64 << 10, 2 << 20)
        return self.small_size()

    def data(self, n):
        off = self.rng.randrange(0, len(self.pool) - n) if n < len(self.pool) else 0
        return self.pool[off:off + n]


def package_entries(g, pkg, upgrade=0):
    """The files one package installs, as (relpath, kind, payload, mode):
    kind 'f' (payload bytes), 'l' (payload target)."""
    out = []

    def f(path, size=None, mode=0o644):
        out.append((path, "f", g.data(g.size() if size is None else size), mode))

    def link(path, target):
        out.append((path, "l", target, 0o777))

    doc = f"usr/share/doc/{pkg}"
    f(f"{doc}/copyright", g.rng.randint(400, 8000))
    f(f"{doc}/changelog.Debian.gz", g.rng.randint(300, SMALL_MAX))
    f(f"var/lib/dpkg/info/{pkg}.list")
    f(f"var/lib/dpkg/info/{pkg}.md5sums")
    tools = [f"{pkg}{g.name(0, 1)}" for _ in range(g.rng.randint(0, 3))]
    for t in dict.fromkeys(tools):
        f(f"usr/bin/{t}", mode=0o755)
        sec = g.rng.choice([1, 1, 1, 5, 8])
        f(f"usr/share/man/man{sec}/{t}.{sec}.gz", g.rng.randint(200, 6000))
        if g.rng.random() < 0.15:
            link(f"etc/alternatives/{t}", f"/usr/bin/{t}")
    if g.rng.random() < 0.5:
        maj = g.rng.randint(0, 6)
        so = f"usr/lib/x86_64-linux-gnu/lib{pkg}.so.{maj}.{g.rng.randint(0, 20)}.{upgrade}"
        f(so, g.rng.randint(4096, SMALL_MAX) if g.rng.random() < 0.8 else None)
        link(f"usr/lib/x86_64-linux-gnu/lib{pkg}.so.{maj}", os.path.basename(so))
    if g.rng.random() < 0.3:
        for lang in g.rng.sample(LANGS, g.rng.randint(4, 16)):
            f(f"usr/share/locale/{lang}/LC_MESSAGES/{pkg}.mo", g.rng.randint(500, SMALL_MAX))
    if g.rng.random() < 0.35:
        for _ in range(g.rng.randint(1, 3)):
            f(f"etc/{pkg}/{g.name()}.conf", g.rng.randint(50, 4000))
    if g.rng.random() < 0.45:
        dirs = [f"usr/share/{pkg}"]
        for _ in range(g.rng.randint(0, 6)):
            dirs.append(f"{g.rng.choice(dirs)}/{g.name()}")
        for _ in range(g.rng.randint(4, 70)):
            f(f"{g.rng.choice(dirs)}/{g.name()}.{g.rng.choice(['dat', 'xml', 'png', 'txt', 'svg', 'json'])}")
    if g.rng.random() < 0.2:
        base = f"usr/lib/python3/dist-packages/{pkg}"
        mods = ["__init__"] + [g.name() for _ in range(g.rng.randint(2, 25))]
        for m in dict.fromkeys(mods):
            f(f"{base}/{m}.py")
            f(f"{base}/__pycache__/{m}.cpython-311.pyc")
    # Unique paths, last one wins (a random name may repeat).
    return list({p: (p, k, d, m) for p, k, d, m in out}.values())


def write_entry(root, rel, kind, payload, mode):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise RuntimeError(f"fixture: {path} is a directory")
        os.unlink(path)
    if kind == "f":
        with open(path, "wb") as fh:
            fh.write(payload)
        os.chmod(path, mode)
    elif kind == "l":
        os.symlink(payload, path)
    elif kind == "w":
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)


def whiteout(root, rel):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def build_image_layers(fx):
    """Four lower layers L1 (bottom) .. L4 (top) with image/, plus rmtree/
    (in L1 and L3), repo/ (L2) and big/big.bin (L1)."""
    g = Gen(SEED)
    layers = {n: os.path.join(fx, "layers", f"L{n}") for n in (1, 2, 3, 4)}
    for p in layers.values():
        os.makedirs(os.path.join(p, "image"), exist_ok=True)
    img = {n: os.path.join(p, "image") for n, p in layers.items()}
    # Merged-usr symlinks and a skeleton in the base layer.
    for name, target in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")]:
        write_entry(img[1], name, "l", target, 0o777)
    for d in ["usr/sbin", "usr/lib64", "tmp", "root", "home", "srv", "mnt", "opt", "var/log", "var/cache/apt", "run"]:
        os.makedirs(os.path.join(img[1], d), exist_ok=True)
    installed = {}  # pkg -> layer
    budgets = {1: 17000, 2: 7200, 3: 4600, 4: 2900}  # approximate new entries per layer
    used = set()

    def new_pkg():
        while True:
            p = g.name(2, 3)
            if p not in used:
                used.add(p)
                return p

    counts = {}
    for n in (1, 2, 3, 4):
        root = img[n]
        made = 0
        if n > 1:
            lower = sorted(installed)
            # Upgrades: rewrite some lower packages (same paths, new content).
            for pkg in g.rng.sample(lower, 25):
                for rel, kind, payload, mode in package_entries(Gen(hash_seed(pkg)), pkg):
                    if kind == "f":
                        write_entry(root, rel, kind, g.data(g.small_size()), mode)
                        made += 1
            # Removals: a package's directories and files become whiteouts.
            for pkg in g.rng.sample(lower, 4 if n > 2 else 2):
                for rel, kind, _, _ in package_entries(Gen(hash_seed(pkg)), pkg):
                    if not (rel.startswith(f"usr/share/doc/{pkg}/") or rel.startswith(f"usr/share/{pkg}/")
                            or rel.startswith(f"usr/lib/python3/dist-packages/{pkg}/")
                            or rel.startswith(f"etc/{pkg}/")):
                        if not os.path.lexists(os.path.join(root, rel)):
                            whiteout(root, rel)
                for d in [f"usr/share/doc/{pkg}", f"usr/share/{pkg}",
                          f"usr/lib/python3/dist-packages/{pkg}", f"etc/{pkg}"]:
                    if not os.path.lexists(os.path.join(root, d)):
                        whiteout(root, d)
                del installed[pkg]
                made += 1
            # An opaque directory: a package's data dir replaced whole.
            with_data = [p for p in sorted(installed)
                         if any(os.path.isdir(os.path.join(img[k], f"usr/share/{p}")) for k in range(1, n))]
            for pkg in g.rng.sample(with_data, 2):
                d = os.path.join(root, f"usr/share/{pkg}")
                if os.path.lexists(d):
                    continue
                os.makedirs(d)
                os.setxattr(d, "trusted.overlay.opaque", b"y")
                for i in range(g.rng.randint(3, 12)):
                    write_entry(d, f"new{i}.dat", "f", g.data(g.small_size()), 0o644)
                    made += 1
        while made < budgets[n]:
            pkg = new_pkg()
            ents = package_entries(Gen(hash_seed(pkg)), pkg)
            for rel, kind, payload, mode in ents:
                write_entry(root, rel, kind, payload, mode)
            installed[pkg] = n
            made += len(ents) + 2
        counts[n] = made
    # rm -rf target: 4,200 files, 3,600 in L1 and 600 in L3 (some dirs merged).
    for i in range(RM_FILES):
        layer = 1 if i < 3600 else 3
        d = f"rmtree/d{(i * 7) % 60:02d}/s{i % 3}"
        write_entry(layers[layer], f"{d}/f{i}", "f", g.data(g.rng.randint(0, 4096)), 0o644)
    # The 1 GiB file: 1,024 distinct 1 MiB blocks (not sparse).
    write_big(os.path.join(layers[1], "big", "big.bin"))
    return layers


def hash_seed(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def big_block(i, base=[None]):
    if base[0] is None:
        base[0] = random.Random(SEED + 7).randbytes(BLOCK)
    return i.to_bytes(8, "little") + base[0][8:]


def write_big(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        for i in range(BIG_SIZE // BLOCK):
            fh.write(big_block(i))
        fh.flush()
        os.fsync(fh.fileno())


def build_repo(repo):
    g = Gen(SEED + 3)
    mods = [g.name() for _ in range(40)]
    for i in range(GIT_FILES):
        m = mods[i % len(mods)]
        rel = f"src/{m}/{g.rng.choice(['core', 'util', 'io', 'net'])}/file{i}.{g.rng.choice(['rs', 'c', 'py', 'md'])}"
        write_entry(repo, rel, "f", g.data(g.rng.randint(100, 12000)), 0o644)
    env = dict(os.environ, GIT_AUTHOR_DATE="2024-01-01T00:00:00Z", GIT_COMMITTER_DATE="2024-01-01T00:00:00Z",
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
    git = ["git", "-c", "safe.directory=*", "-c", "init.defaultBranch=main", "-C", repo]
    run(git + ["init", "-q"], env=env)
    run(git + ["add", "-A"], env=env)
    run(git + ["commit", "-q", "-m", "fixture"], env=env)
    run(git + ["repack", "-adq"], env=env)
    run(git + ["prune-packed"], env=env)


def build_tar(path):
    g = Gen(SEED + 5)
    with tarfile.open(path + ".tmp", "w", format=tarfile.GNU_FORMAT) as tf:
        for d in range(100):
            ti = tarfile.TarInfo(f"untar/d{d:03d}")
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tf.addfile(ti)
            for i in range(UNTAR_FILES // 100):
                data = g.data(g.small_size())
                ti = tarfile.TarInfo(f"untar/d{d:03d}/f{i:03d}")
                ti.size, ti.mode, ti.mtime = len(data), 0o644, 1_700_000_000
                tf.addfile(ti, __import__("io").BytesIO(data))
    os.rename(path + ".tmp", path)


def build_depth(fx):
    for depth, name in [(DEPTH, "deep"), (1, "shallow")]:
        for i in range(depth):
            d = os.path.join(fx, name, f"l{i:02d}", "d")
            os.makedirs(d, exist_ok=True)
            if i == depth - 1:
                for k in range(DEPTH_FILES):
                    open(os.path.join(d, f"f{k}"), "wb").close()
            else:
                with open(os.path.join(d, f"only-in-{i}"), "w") as fh:
                    fh.write(f"{i}\n")


def is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path):
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def describe(path, st, with_hash=True):
    """What a path shows, for comparing targets: a tuple of strings."""
    m = st.st_mode
    if stat.S_ISDIR(m):
        return ["d", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid]
    if stat.S_ISLNK(m):
        return ["l", os.readlink(path)]
    if stat.S_ISREG(m):
        h = ""
        if with_hash:
            with open(path, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()[:16]
        return ["f", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid, st.st_size, int(st.st_mtime), h]
    return ["o", oct(m), st.st_rdev]


def expected_view(layer_roots, sub):
    """The merged view of `sub` over the layers (top first), by the overlay
    rules, read from the layer directories: {relpath: description}."""
    out = {}

    def merge(rel, roots):
        names = {}
        for r in roots:
            p = os.path.join(r, rel)
            try:
                for n in os.listdir(p):
                    names.setdefault(n, None)
            except FileNotFoundError:
                continue
            if is_opaque(p):
                break
        for n in sorted(names):
            crel = os.path.join(rel, n)
            below = []
            winner = None
            for i, r in enumerate(roots):
                p = os.path.join(r, crel)
                try:
                    st = os.lstat(p)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                winner = (p, st, i)
                break
            if winner is None:
                continue
            p, st, i = winner
            if is_whiteout(st):
                continue
            out[crel] = describe(p, st)
            if stat.S_ISDIR(st.st_mode):
                # The directory merges with lower directories, down to a
                # non-directory or past an opaque one.
                below = [roots[i]]
                if not is_opaque(p):
                    for r in roots[i + 1:]:
                        try:
                            s2 = os.lstat(os.path.join(r, crel))
                        except (FileNotFoundError, NotADirectoryError):
                            continue
                        if not stat.S_ISDIR(s2.st_mode):
                            break
                        below.append(r)
                        if is_opaque(os.path.join(r, crel)):
                            break
                merge(crel, below)

    top = [r for r in layer_roots if os.path.isdir(os.path.join(r, sub))]
    merge(sub, top)
    return out


def build_fixture(fx, rebuild):
    stamp = os.path.join(fx, "VERSION")
    if not rebuild and os.path.exists(stamp) and open(stamp).read().strip() == FIXTURE_VERSION:
        log(f"fixture: reusing {fx} ({FIXTURE_VERSION}; STRATA_BENCH_REBUILD=1 to rebuild)")
        return
    t0 = time.time()
    log(f"fixture: building {fx} (about a minute) ...")
    if os.path.exists(fx):
        subprocess.run(["rm", "-rf", fx], check=True)
    os.makedirs(fx)
    layers = build_image_layers(fx)
    build_repo(os.path.join(layers[2], "repo"))
    build_tar(os.path.join(fx, "untar.tar"))
    build_depth(fx)
    roots = [layers[n] for n in (4, 3, 2, 1)]
    manifest = {}
    for sub in ["image", "rmtree", "repo"]:
        manifest.update(expected_view(roots, sub))
    with open(os.path.join(fx, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, sort_keys=True)
    image = sorted(p for p in manifest if p.startswith("image/"))
    with open(os.path.join(fx, "stat.list"), "w") as fh:
        fh.write("\n".join(image) + "\n")
    small = [p for p in image if manifest[p][0] == "f" and manifest[p][4] <= SMALL_MAX]
    with open(os.path.join(fx, "small.list"), "w") as fh:
        fh.write("\n".join(small) + "\n")
    os.sync()
    with open(stamp, "w") as fh:
        fh.write(FIXTURE_VERSION + "\n")
    n_wh = sum(1 for r in roots for dp, dn, fn in os.walk(os.path.join(r, "image"))
               for x in fn if is_whiteout(os.lstat(os.path.join(dp, x))))
    log(f"fixture: built in {time.time() - t0:.0f} s: image {len(image)} entries in the merged view "
        f"({len(small)} small files), {n_wh} whiteouts; repo, rmtree, untar.tar, 1 GiB file, 64-layer stack")


def fixture_paths(fx):
    return {
        "image": [os.path.join(fx, "layers", f"L{n}") for n in (4, 3, 2, 1)],
        "deep": [os.path.join(fx, "deep", f"l{i:02d}") for i in range(DEPTH)],
        "shallow": [os.path.join(fx, "shallow", "l00")],
    }


# ------------------------------------------------------------------- mounts

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


# ------------------------------------------------------------------ workers

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


def timed(fn, *a):
    t = time.perf_counter()
    r = fn(*a)
    return (time.perf_counter() - t) * 1000, r


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}…: exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}")
    return p.stdout


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


def worker(args):
    """One measurement on the mount at args.mnt; prints JSON {ms, check}."""
    w, mnt, fx = args.worker, args.mnt, args.fixture
    check = None
    extra = {}
    if w in ("find_cold", "find_warm", "find_warm3"):
        cmd = ["find", os.path.join(mnt, "image")]
        if w == "find_cold":
            drop_caches()
        else:
            n_warm = sh(cmd).count(b"\n")
            if w == "find_warm3":
                sh(cmd)
        ms, out = timed(sh, cmd)
        n = out.count(b"\n") - 1
        expect = sum(1 for _ in read_list(fx, "stat.list", ""))
        if n != expect:
            check = f"find listed {n} entries, expected {expect}"
        elif w != "find_cold" and n_warm != n + 1:
            check = f"warm find listed {n_warm - 1}, then {n}"
    elif w in ("stat_cold", "stat_warm"):
        paths = read_list(fx, "stat.list", mnt)
        if w == "stat_cold":
            drop_caches()
        else:
            lstat_all(paths)
        ms, _ = timed(lstat_all, paths)
    elif w == "read_small_warm":
        paths = read_list(fx, "small.list", mnt)
        expect = read_all(paths)
        ms, total = timed(read_all, paths)
        manifest = json.load(open(os.path.join(fx, "manifest.json")))
        want = sum(manifest[os.path.relpath(p, mnt)][4] for p in paths)
        if total != want or expect != want:
            check = f"read {expect} then {total} bytes, expected {want}"
    elif w == "memory":
        lstat_all(read_list(fx, "stat.list", mnt))
        read_all(read_list(fx, "small.list", mnt))
        ms = 0.0
    elif w == "seq_read":
        big = os.path.join(mnt, "big", "big.bin")
        cmd = ["dd", f"if={big}", "of=/dev/null", "bs=1M"]
        sh(cmd)
        ms, _ = timed(sh, cmd)
        check = check_big_sample(big)
    elif w == "rand_read":
        big = os.path.join(mnt, "big", "big.bin")
        offs = big_offsets()
        preads(big, offs)
        ms, short = timed(preads, big, offs)
        bad = check_preads(big, offs)
        if short or bad:
            check = f"{short} of {len(offs)} random reads short, {bad} of 200 checked wrong"
    elif w == "seq_write":
        out = os.path.join(mnt, "seqwrite.bin")
        ms, _ = timed(sh, ["dd", "if=/dev/zero", f"of={out}", "bs=1M", "count=1024", "conv=fsync"])
        if os.stat(out).st_size != BIG_SIZE:
            check = f"wrote {os.stat(out).st_size} bytes"
    elif w == "untar":
        tar = os.path.join(fx, "untar.tar")
        with open(tar, "rb") as fh:  # the archive in the page cache
            while fh.read(1 << 20):
                pass
        def untar():
            sh(["tar", "-xf", tar, "-C", mnt])
            sh(["sync", "-f", os.path.join(mnt, "untar")])
        ms, _ = timed(untar)
        n = sum(len(fn) for _, _, fn in os.walk(os.path.join(mnt, "untar")))
        if n != UNTAR_FILES:
            check = f"{n} files after untar, expected {UNTAR_FILES}"
    elif w == "rm_rf":
        warm_lower(fx, "rmtree")
        tree = os.path.join(mnt, "rmtree")
        ms, _ = timed(sh, ["rm", "-rf", tree])
        if os.path.lexists(tree) or "rmtree" in os.listdir(mnt):
            check = "rmtree still visible after rm -rf"
    elif w == "git_status":
        cmd = ["git", "-c", "safe.directory=*", "-C", os.path.join(mnt, "repo"), "status", "--porcelain"]
        first = sh(cmd)
        ms, out = timed(sh, cmd)
        if first or out:
            check = f"git status not clean: {(first or out).decode(errors='replace')[:200]!r}"
    elif w in ("depth64_cold", "depth1_cold"):
        paths = [os.path.join(mnt, "d", f"f{i}") for i in range(DEPTH_FILES)]
        drop_caches()
        ms, _ = timed(lstat_all, paths)
        if w == "depth64_cold":
            names = os.listdir(os.path.join(mnt, "d"))
            if len(names) != DEPTH_FILES + DEPTH - 1:
                check = f"d/ lists {len(names)} names, expected {DEPTH_FILES + DEPTH - 1}"
    elif w in ("append_copyup", "append_copyup_reflink"):
        if w == "append_copyup":
            warm_lower(fx, "big/big.bin")
        else:
            with open(os.path.join(args.lower, "big", "big.bin"), "rb") as fh:
                while fh.read(1 << 20):
                    pass
        big = os.path.join(mnt, "big", "big.bin")
        # The first lookups of a fresh mount are measured elsewhere (the
        # cold rows); these rows time the copy-up itself.
        os.lstat(big)
        def append():
            fd = os.open(big, os.O_WRONLY | os.O_APPEND)
            os.write(fd, b"x")
            os.close(fd)
        ms, _ = timed(append)
        size = os.stat(big).st_size
        if size != BIG_SIZE + 1:
            check = f"size {size} after append"
        else:
            with open(big, "rb") as fh:
                fh.seek(BIG_SIZE - 1)
                if fh.read() != big_block(1023)[-1:] + b"x":
                    check = "tail differs after append"
            check = check or check_big_sample(big)
    elif w == "chmod_copyup":
        warm_lower(fx, "big/big.bin")
        big = os.path.join(mnt, "big", "big.bin")
        os.lstat(big)
        ms, _ = timed(os.chmod, big, 0o600)
        st = os.stat(big)
        if stat.S_IMODE(st.st_mode) != 0o600 or st.st_size != BIG_SIZE:
            check = f"mode {oct(st.st_mode)} size {st.st_size} after chmod"
        else:
            check = check_big_sample(big)
    elif w == "verify":
        manifest = json.load(open(os.path.join(fx, "manifest.json")))
        got = {}
        for sub in ("image", "rmtree", "repo"):
            for dp, dns, fns in os.walk(os.path.join(mnt, sub)):
                for n in dns + fns:
                    p = os.path.join(dp, n)
                    got[os.path.relpath(p, mnt)] = describe(p, os.lstat(p))
        diffs = []
        for p in sorted(set(manifest) | set(got)):
            a, b = manifest.get(p), got.get(p)
            if a != b:
                diffs.append(f"{p}: expected {a}, got {b}")
        extra["entries"] = len(got)
        extra["diffs"] = diffs[:20]
        extra["ndiffs"] = len(diffs)
        ms = 0.0
        if diffs:
            check = f"{len(diffs)} paths differ from the expected merged view"
    else:
        raise SystemExit(f"unknown workload {w}")
    print(json.dumps({"ms": ms, "check": check, **extra}))


# -------------------------------------------------------------------- main

class Bench:
    def __init__(self, a):
        self.a = a
        self.fx = os.path.join(a.work, "fixture")
        self.mnt = os.path.join(a.work, "mnt")
        self.scratch = os.path.join(a.work, "scratch")
        self.lowers = fixture_paths(self.fx)
        self.store = ReflinkStore(a.work, self.fx)
        self.lowers["reflink"] = [self.store.lower]
        self.raw = []       # (workload, target, run, ms)
        self.mem = []       # (target, run, rss, hwm)
        self.problems = []  # (workload, target, run, text)

    def mount(self, target, lowers, scratch=None):
        scratch = scratch or self.scratch
        wipe(scratch)
        os.makedirs(scratch)
        extra = self.a.stratafs_opts if target == "stratafs" else ""
        return Mount(target, self.a.exes[target], lowers, scratch, self.mnt, extra)

    def measure(self, w, target, run_no):
        lowers = self.lowers["deep" if w == "depth64_cold" else "shallow" if w == "depth1_cold"
                             else "reflink" if w in ON_REFLINK_STORE else "image"]
        scratch = self.store.scratch if w in ON_REFLINK_STORE else self.scratch
        try:
            m = self.mount(target, lowers, scratch)
        except Exception as e:  # noqa: BLE001
            self.problem(w, target, run_no, str(e))
            return None
        res = None
        try:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", w, "--mnt", self.mnt, "--fixture", self.fx,
                   "--lower", lowers[0]]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.a.timeout)
            except subprocess.TimeoutExpired:
                self.problem(w, target, run_no, f"HANG: no result after {self.a.timeout} s (worker killed)")
                return None
            if p.returncode != 0:
                err = (p.stderr.strip().splitlines() or ["?"])[-1]
                self.problem(w, target, run_no, f"error: {err}")
                return None
            res = json.loads(p.stdout.strip().splitlines()[-1])
            if res.get("check"):
                self.problem(w, target, run_no, f"wrong result: {res['check']}")
                for d in res.get("diffs", []):
                    log(f"      {d}")
            if w == "memory" and m.pid:
                st = vm_status(m.pid)
                self.mem.append((target, run_no, st.get("VmRSS"), st.get("VmHWM")))
            return res
        finally:
            m.close()
            wipe(scratch)
            if w in WRITES:
                settle()

    def problem(self, w, target, run_no, text):
        self.problems.append((w, target, run_no, text))
        log(f"  ! {w} / {TARGET_LABEL[target]} (run {run_no}): {text}")

    def verify(self):
        log("verify: each target's merged view (image, rmtree, repo: types, modes, owners, sizes, mtimes, "
            "link targets, content hashes) against the overlay rules applied to the layers")
        for t in self.a.targets:
            res = self.measure("verify", t, 0)
            if res is not None:
                status = "OK" if not res.get("check") else "DIFFERS"
                log(f"  {TARGET_LABEL[t]:<20} {res.get('entries')} entries, {status}")

    def probe(self):
        """Mounts each target once; one that cannot mount is skipped, with why."""
        for t in list(self.a.targets):
            try:
                self.mount(t, self.lowers["image"]).close()
            except Exception as e:  # noqa: BLE001
                self.a.skipped.append(f"{TARGET_LABEL[t]}: cannot mount: {e}")
                log(f"skipped: {TARGET_LABEL[t]}: cannot mount: {e}")
                self.a.targets.remove(t)
            finally:
                unmount(self.mnt)
                wipe(self.scratch)
        if not self.a.targets:
            raise SystemExit("no target could mount")

    def go(self):
        a = self.a
        self.probe()
        if any(w in ON_REFLINK_STORE for w in a.workloads):
            why = self.store.setup()
            if why:
                for w in [w for w in a.workloads if w in ON_REFLINK_STORE]:
                    a.skipped.append(f"{w}: {why}")
                    log(f"skipped: {w}: {why}")
                    a.workloads.remove(w)
        if a.verify:
            self.verify()
        big_runs = min(a.runs, a.big_runs)
        settle()
        t_start = time.time()
        for r in range(1, a.runs + 1):
            log(f"run {r}/{a.runs} (load {loadavg()})")
            for w in a.workloads:
                if w in BIG and r > big_runs:
                    continue
                line = []
                for t in a.targets:
                    if w == "memory" and t == "overlay":
                        continue
                    res = self.measure(w, t, r)
                    if res is None:
                        line.append(f"{t}=FAIL")
                        continue
                    if w == "memory":
                        mm = [x for x in self.mem if x[0] == t and x[1] == r]
                        line.append(f"{t}={mm[0][2]} KiB" if mm else f"{t}=n/a")
                        continue
                    self.raw.append((w, t, r, res["ms"]))
                    line.append(f"{t}={res['ms']:.1f}")
                log(f"  {w:<16} " + "  ".join(line) + ("" if w == "memory" else " ms"))
            log(f"  (elapsed {time.time() - t_start:.0f} s)")


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def med(xs):
    return statistics.median(xs) if xs else None


def run_ratio(raw, w1, t1, w2, t2):
    """The median over runs of (w1 on t1) / (w2 on t2) in the same run."""
    by = {(w, t, r): ms for w, t, r, ms in raw}
    rs = [by[w1, t1, r] / by[w2, t2, r] for (w, t, r) in by
          if (w, t) == (w1, t1) and (w2, t2, r) in by and by[w2, t2, r] > 0]
    return med(rs)


def report(b, load_start, started):
    a = b.a
    targets = a.targets
    meds = {}
    for w in WORKLOADS:
        for t in targets:
            xs = [ms for (w2, t2, _, ms) in b.raw if w2 == w and t2 == t]
            if xs:
                meds[w, t] = (med(xs), len(xs))
    lines = []
    P = lines.append
    P("")
    P(f"Union filesystem benchmark (issue 6), {time.strftime('%Y-%m-%d %H:%M:%S')}, kernel {os.uname().release}, "
      f"{os.cpu_count()} cpus")
    P(f"load at start {load_start}; at end {loadavg()}; {a.runs} runs (1 GiB workloads: "
      f"{min(a.runs, a.big_runs)}); wall {time.time() - started:.0f} s")
    for t in targets:
        P(f"  {TARGET_LABEL[t]:<20} {a.versions.get(t, '')}")
    P("medians in ms; (xN.NN) = ratio to kernel overlayfs: the median over runs of each run's ratio")
    has_ov = "overlay" in targets
    hdr = f"{'workload':<16}" + "".join(f"{TARGET_LABEL[t]:>24}" for t in targets)
    if "stratafs" in targets:
        hdr += f"  {'goal':<10}{'stratafs':<9}{'beats peers':<12}"
    P(hdr)
    P("-" * len(hdr))
    summary = []
    verdicts = []
    for w in WORKLOADS:
        if w == "memory" or not any((w, t) in meds for t in targets):
            continue
        base = meds.get((w, "overlay"), (None, 0))[0] if has_ov else None
        row = f"{w:<16}"
        for t in targets:
            if (w, t) not in meds:
                row += f"{'-':>24}"
                continue
            m, n = meds[w, t]
            ratio = run_ratio(b.raw, w, t, w, "overlay") if has_ov else None
            summary.append((w, t, n, m, ratio))
            cell = f"{m:.1f}" if m >= 1 else f"{m:.3f}"
            if ratio is not None and t != "overlay":
                cell += f" (x{ratio:.2f})"
            row += f"{cell:>24}"
        if "stratafs" in targets and (w, "stratafs") in meds:
            s = meds[w, "stratafs"][0]
            goal, verdict = "", ""
            sr = run_ratio(b.raw, w, "stratafs", w, "overlay") if has_ov else None
            if w in GOALS:
                kind, lim = GOALS[w]
                if kind == "abs_ms":
                    goal, verdict = f"<{lim:g} ms", "PASS" if s < lim else "MISS"
                elif sr is not None:
                    goal, verdict = f"<=x{lim:g}", "PASS" if sr <= lim else "MISS"
            peers = [meds[w, t][0] for t in ("fo1", "fo2") if (w, t) in meds]
            beats = ("yes" if all(s < p for p in peers) else "NO") if peers else "-"
            row += f"  {goal:<10}{verdict:<9}{beats:<12}"
            if verdict:
                verdicts.append((w, goal, verdict))
        P(row)
    # Depth: the same lookups through 64 layers and through 1.
    dl = []
    for t in targets:
        r = run_ratio(b.raw, "depth64_cold", t, "depth1_cold", t)
        if r is not None:
            dl.append((t, r))
            summary.append(("depth64/depth1", t, 0, r, None))
    if dl:
        row = f"{'depth 64/1':<16}" + "".join(
            f"{('x%.2f' % dict(dl)[t]) if t in dict(dl) else '-':>24}" for t in targets)
        if "stratafs" in dict(dl):
            v = "PASS" if dict(dl)["stratafs"] <= 1.10 else "MISS"
            row += f"  {'<=x1.10':<10}{v:<9}"
            verdicts.append(("depth64/depth1", "<=x1.10", v))
        P(row)
    # Memory.
    if b.mem:
        row = f"{'VmRSS/HWM MiB':<16}"
        memmed = {}
        for t in targets:
            rs = [x[2] for x in b.mem if x[0] == t and x[2] is not None]
            hs = [x[3] for x in b.mem if x[0] == t and x[3] is not None]
            if rs:
                memmed[t] = (med(rs), med(hs))
                row += f"{'%.1f / %.1f' % (memmed[t][0] / 1024, memmed[t][1] / 1024):>24}"
                summary.append(("memory_rss_kib", t, len(rs), memmed[t][0], None))
                summary.append(("memory_hwm_kib", t, len(hs), memmed[t][1], None))
            else:
                row += f"{'-':>24}"
        if "stratafs" in memmed:
            peers = [memmed[t][0] for t in ("fo1", "fo2") if t in memmed]
            v = ("PASS" if all(memmed["stratafs"][0] <= p for p in peers) else "MISS") if peers else "-"
            row += f"  {'<=peers':<10}{v:<9}"
            verdicts.append(("memory (RSS)", "<= both peers", v))
        P(row)
    P("")
    P("States: " + "; ".join(f"{w} {WORKLOADS[w][1]}" for w in WORKLOADS if w not in ("memory",)))
    P("cold = sync + drop_caches after mounting, before the timed part; every measurement on a fresh mount "
      "with an empty upper; after each write workload the upper is removed, then sync + drop clean pages.")
    if any(w in ON_REFLINK_STORE for (w, _) in meds):
        P("append_copyup_reflink: the lower layer and the upper and work directories on a loop-mounted XFS made "
          "with reflink=1 (a copy-up that clones shares the lower file's extents); goal for stratafs: under 50 ms.")
    P("Note: untar's `sync -f` flushes the upper filesystem on kernel overlayfs; on the FUSE mounts it "
      "returns in a few ms (the kernel does not pass syncfs on to a /dev/fuse server), so their untar leaves "
      "the upper unflushed.")
    if "stratafs" in targets and verdicts:
        P("")
        P("Issue 6 goals for stratafs: " + ", ".join(f"{w} {g} {v}" for w, g, v in verdicts))
        beats_all = all(
            all(meds[w, "stratafs"][0] < meds[w, t][0] for t in ("fo1", "fo2") if (w, t) in meds)
            for w in WORKLOADS if (w, "stratafs") in meds)
        P(f"Faster than both fuse-overlayfs versions on every workload: {'PASS' if beats_all else 'MISS'}")
    P("Issue's peer ratios (1.10 / 2.0): " + ", ".join(f"{w} {x}/{y}" for w, (x, y) in ISSUE_PEERS.items()))
    if b.problems:
        P("")
        P(f"PROBLEMS ({len(b.problems)}):")
        for w, t, r, text in b.problems:
            P(f"  {w} / {TARGET_LABEL[t]} (run {r}): {text}")
    for s in a.skipped:
        P(f"skipped: {s}")
    text = "\n".join(lines)
    print(text, flush=True)
    return summary, text


def write_outputs(b, summary, text):
    a = b.a
    os.makedirs(a.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join(a.out, f"union-{stamp}")
    paths = {}
    paths["raw"] = base + "-raw.csv"
    with open(paths["raw"], "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["workload", "target", "run", "ms"])
        for w, t, r, ms in b.raw:
            wr.writerow([w, TARGET_LABEL[t], r, f"{ms:.3f}"])
    paths["summary"] = base + "-summary.csv"
    with open(paths["summary"], "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["workload", "target", "n", "median", "ratio_to_overlay"])
        for w, t, n, m, ratio in summary:
            wr.writerow([w, TARGET_LABEL[t], n, f"{m:.3f}", "" if ratio is None else f"{ratio:.3f}"])
    paths["memory"] = base + "-memory.csv"
    with open(paths["memory"], "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["target", "run", "vmrss_kib", "vmhwm_kib"])
        for t, r, rss, hwm in b.mem:
            wr.writerow([TARGET_LABEL[t], r, rss, hwm])
    paths["problems"] = base + "-problems.txt"
    with open(paths["problems"], "w") as fh:
        for w, t, r, tx in b.problems:
            fh.write(f"{w}\t{TARGET_LABEL[t]}\t{r}\t{tx}\n")
    paths["report"] = base + "-report.txt"
    with open(paths["report"], "w") as fh:
        fh.write(text + "\n")
    paths["svg"] = base + "-ratios.svg"
    with open(paths["svg"], "w") as fh:
        fh.write(svg_chart(summary, a.targets))
    print("")
    for k, p in paths.items():
        print(f"{k + ':':<9} {p}")


def svg_chart(summary, targets):
    """Grouped bars: ratio to kernel overlayfs per workload, one bar per
    FUSE target, log scale (x1/64 .. x64), a line at x1."""
    import math
    fuse = [t for t in targets if t != "overlay"]
    data = {}
    for w, t, n, m, ratio in summary:
        if ratio is not None and t in fuse:
            data.setdefault(w, {})[t] = ratio
    ws = [w for w in WORKLOADS if w in data]
    colors = {"stratafs": "#2b7bba", "fo1": "#e8912d", "fo2": "#8c5bb5"}
    lo, hi = -6, 6  # log2 range
    W, H, left, top, bottom = max(600, 70 * len(ws) + 120), 460, 70, 40, 120
    ph = H - top - bottom

    def y(r):
        v = min(max(math.log2(max(r, 1e-9)), lo), hi)
        return top + ph * (hi - v) / (hi - lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">Ratio to kernel overlayfs '
           '(median, log scale; lower is better)</text>']
    for e in range(lo, hi + 1, 2):
        yy = y(2.0 ** e)
        out.append(f'<line x1="{left}" x2="{W - 20}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        lab = f"x{2 ** e:g}" if e >= 0 else f"x1/{2 ** -e:g}"
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{lab}</text>')
    y1 = y(1.0)
    gw = (W - left - 20) / max(1, len(ws))
    bw = min(18, (gw - 10) / max(1, len(fuse)))
    for i, w in enumerate(ws):
        x0 = left + i * gw + (gw - bw * len(fuse)) / 2
        for j, t in enumerate(fuse):
            if t not in data[w]:
                continue
            r = data[w][t]
            yy = y(r)
            top_y, h = (yy, y1 - yy) if yy < y1 else (y1, yy - y1)
            out.append(f'<rect x="{x0 + j * bw:.1f}" y="{top_y:.1f}" width="{bw - 2:.1f}" height="{max(h, 1):.1f}" '
                       f'fill="{colors.get(t, "#888")}"><title>{w} {TARGET_LABEL[t]}: x{r:.2f}</title></rect>')
        cx = left + i * gw + gw / 2
        out.append(f'<text x="{cx:.1f}" y="{H - bottom + 14}" text-anchor="end" '
                   f'transform="rotate(-40 {cx:.1f} {H - bottom + 14})">{w}</text>')
    out.append(f'<line x1="{left}" x2="{W - 20}" y1="{y1:.1f}" y2="{y1:.1f}" stroke="black"/>')
    for j, t in enumerate(fuse):
        lx = left + j * 170
        out.append(f'<rect x="{lx}" y="{H - 22}" width="12" height="12" fill="{colors.get(t, "#888")}"/>')
        out.append(f'<text x="{lx + 16}" y="{H - 12}">{TARGET_LABEL[t]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def select(env, allowed, aliases, what):
    raw = os.environ.get(env, "").strip()
    if not raw:
        return list(allowed)
    out = []
    for x in raw.split(","):
        x = aliases.get(x.strip(), x.strip())
        if x not in allowed:
            raise SystemExit(f"{env}: unknown {what} {x!r}; known: {', '.join(allowed)}")
        out.append(x)
    return [x for x in allowed if x in out]


def version_of(exe):
    try:
        p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        for line in (p.stdout + p.stderr).splitlines():
            if "version" in line.lower() and "fusermount" not in line.lower() and "library" not in line.lower():
                return line.strip()
        return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default="/var/tmp/strata-union-bench")
    ap.add_argument("--out", default="benches/out")
    ap.add_argument("--stratafs")
    ap.add_argument("--stratafs-version", default="")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--fixture-only", action="store_true")
    ap.add_argument("--worker")
    ap.add_argument("--mnt")
    ap.add_argument("--fixture")
    ap.add_argument("--lower")
    a = ap.parse_args()
    if a.worker:
        return worker(a)
    started = time.time()
    load_start = loadavg()
    log(f"load at start: {load_start}")
    a.work = os.path.abspath(a.work)
    a.out = os.path.abspath(a.out)
    a.big_runs = int(os.environ.get("STRATA_BENCH_BIG_RUNS", "3"))
    a.timeout = int(os.environ.get("STRATA_BENCH_TIMEOUT", "300"))
    a.verify = os.environ.get("STRATA_BENCH_VERIFY", "1") != "0"
    # Appended to -o for the stratafs target only.
    a.stratafs_opts = os.environ.get("STRATA_BENCH_STRATAFS_OPTS", "metacopy=on").strip().strip(",")
    a.workloads = select("STRATA_BENCH_WORKLOADS", list(WORKLOADS), {}, "workload")
    a.targets = select("STRATA_BENCH_TARGETS", TARGETS, TARGET_ALIASES, "target")
    rebuild = a.rebuild or os.environ.get("STRATA_BENCH_REBUILD", "0") not in ("", "0")
    build_fixture(os.path.join(a.work, "fixture"), rebuild)
    if a.fixture_only:
        return
    fo1 = os.environ.get("FUSE_OVERLAYFS1", "/usr/bin/fuse-overlayfs")
    fo2 = os.environ.get("FUSE_OVERLAYFS2", "/work/peers/fuse-overlayfs2/bin/fuse-overlayfs")
    a.exes = {"overlay": "mount", "stratafs": a.stratafs, "fo1": fo1, "fo2": fo2}
    a.skipped = []
    a.versions = {"overlay": f"kernel {os.uname().release}, default options (metacopy="
                  f"{open('/sys/module/overlay/parameters/metacopy').read().strip()})"}
    for t in list(a.targets):
        exe = a.exes[t]
        if t == "overlay":
            continue
        if not exe or not os.access(exe, os.X_OK):
            how = {"fo1": "apt-get install -y fuse-overlayfs", "fo2": "set FUSE_OVERLAYFS2=PATH"}.get(t, "")
            a.skipped.append(f"{TARGET_LABEL[t]}: {exe or '?'} not found ({how})")
            a.targets.remove(t)
            continue
        a.versions[t] = f"{exe}: {a.stratafs_version if t == 'stratafs' else version_of(exe)}"
        if t == "stratafs":
            a.versions[t] += f"; extra options: {a.stratafs_opts or 'none'} (STRATA_BENCH_STRATAFS_OPTS)"
    for s in a.skipped:
        log(f"skipped: {s}")
    for t in a.targets:
        log(f"target: {TARGET_LABEL[t]:<20} {a.versions.get(t, '')}")
    if not a.targets:
        raise SystemExit("no target to measure")
    # One mount at a time; be sure nothing is left from an earlier crash.
    os.makedirs(a.work, exist_ok=True)
    unmount(os.path.join(a.work, "mnt"))
    b = Bench(a)

    stopping = []

    def on_signal(sig, _frame):
        if stopping:  # the first one stops the run; the report still comes
            return
        stopping.append(sig)
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        b.go()
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured")
    finally:
        unmount(b.mnt)
        wipe(b.scratch)
        b.store.close()
    summary, text = report(b, load_start, started)
    write_outputs(b, summary, text)


if __name__ == "__main__":
    main()
