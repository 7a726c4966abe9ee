"""The command line: `python3 -m union --runs N --work DIR --out DIR
--stratafs PATH` (as benches/union.sh calls it), or `--worker NAME` for
one measurement in a child process."""

import argparse
import json
import os
import signal
import subprocess
import time

from .fixture import build_fixture
from .host import log, loadavg
from .mounts import STRATAFS_TARGETS, TARGET_ALIASES, TARGET_LABEL, TARGETS, unmount, wipe
from .report import report, write_outputs
from .runner import Bench
from .workloads import TIMED, VERIFY, WORKLOADS, Site


def worker(args):
    """One measurement on the mount at args.mnt; prints JSON {ms, check, ...}."""
    spec = VERIFY if args.worker == VERIFY.name else WORKLOADS.get(args.worker)
    if spec is None:
        raise SystemExit(f"unknown workload {args.worker}")
    ms, check, *details = spec.run(Site(args.mnt, args.fixture, args.lower))
    print(json.dumps({"ms": ms, "check": check, **TIMED, **(details[0] if details else {})}))


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


def choose_targets(a):
    """Sets a.exes and a.versions; a target whose binary is missing leaves
    a.targets for a.skipped, with how to get it."""
    fo1 = os.environ.get("FUSE_OVERLAYFS1", "/usr/bin/fuse-overlayfs")
    fo2 = os.environ.get("FUSE_OVERLAYFS2", "/work/peers/fuse-overlayfs2/bin/fuse-overlayfs")
    a.exes = {"overlay": "mount", "stratafs": a.stratafs, "stratafs-base": a.stratafs_baseline, "fo1": fo1, "fo2": fo2}
    a.skipped = []
    a.versions = {"overlay": f"kernel {os.uname().release}, default options (metacopy="
                  f"{open('/sys/module/overlay/parameters/metacopy').read().strip()})"}
    how = {"fo1": "apt-get install -y fuse-overlayfs", "fo2": "set FUSE_OVERLAYFS2=PATH",
           "stratafs-base": "set STRATAFS_BASELINE=PATH"}
    for t in list(a.targets):
        exe = a.exes[t]
        if t == "overlay":
            continue
        if not exe or not os.access(exe, os.X_OK):
            a.skipped.append(f"{TARGET_LABEL[t]}: {exe or '?'} not found ({how.get(t, '')})")
            a.targets.remove(t)
            continue
        if t == "stratafs":
            version = a.stratafs_version
        elif t == "stratafs-base":
            version = f"built {time.strftime('%F %T', time.localtime(os.stat(exe).st_mtime))}"
        else:
            version = version_of(exe)
        a.versions[t] = f"{exe}: {version}"
        if t in STRATAFS_TARGETS:
            a.versions[t] += f"; extra options: {a.stratafs_opts or 'none'} (STRATA_BENCH_STRATAFS_OPTS)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default="/var/tmp/strata-union-bench")
    ap.add_argument("--out", default="benches/out")
    ap.add_argument("--stratafs")
    ap.add_argument("--stratafs-version", default="")
    ap.add_argument("--stratafs-baseline", default="", help="a second stratafs binary, the target stratafs-base")
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
    # Appended to -o for the stratafs targets only.
    a.stratafs_opts = os.environ.get("STRATA_BENCH_STRATAFS_OPTS", "metacopy=on").strip().strip(",")
    a.workloads = select("STRATA_BENCH_WORKLOADS", list(WORKLOADS), {}, "workload")
    a.targets = select("STRATA_BENCH_TARGETS", TARGETS, TARGET_ALIASES, "target")
    if not a.stratafs_baseline and not os.environ.get("STRATA_BENCH_TARGETS", "").strip():
        a.targets.remove("stratafs-base")  # opt-in: only with STRATAFS_BASELINE
    rebuild = a.rebuild or os.environ.get("STRATA_BENCH_REBUILD", "0") not in ("", "0")
    build_fixture(os.path.join(a.work, "fixture"), rebuild)
    if a.fixture_only:
        return
    choose_targets(a)
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
        b.close()
    summary, text = report(b, load_start, started)
    write_outputs(b, summary, text)


if __name__ == "__main__":
    main()
