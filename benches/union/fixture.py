"""The fixture: four seeded, distro-like lower layers (packages installed,
upgraded and removed, whiteouts, opaque directories, a 1 GiB file, a tree
to remove), a 3,000-file git repository, a 10,000-file tar, and stacks of
64 layers and of 1 for the depth workloads. Built once under the work
directory and kept; FIXTURE_VERSION says when it must be rebuilt."""

import hashlib
import io
import json
import os
import random
import stat
import subprocess
import tarfile
import time

from .host import log, run
from .oracle import expected_view, is_whiteout

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
                tf.addfile(ti, io.BytesIO(data))
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


