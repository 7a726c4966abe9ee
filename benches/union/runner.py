"""The run: probe each target once, the correctness pass, then the
interleaved measurements (for run: for workload: for target), each on a
fresh mount, in a worker process with a timeout. What went wrong is kept
as a problem, never raised: the report lists it."""

import json
import os
import subprocess
import sys
import time

from .fixture import fixture_paths
from .host import log, loadavg, settle
from . import requests
from .mounts import STRATAFS_TARGETS, TARGET_LABEL, Mount, ReflinkStore, unmount, vm_status, wipe
from .workloads import REFLINK, VERIFY, WORKLOADS

# The package's parent directory, for the worker's `python3 -m union`.
BENCHES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

class Bench:
    def __init__(self, a):
        self.a = a
        self.fx = os.path.join(a.work, "fixture")
        self.mnt = os.path.join(a.work, "mnt")
        self.scratch = os.path.join(a.work, "scratch")
        self.lowers = fixture_paths(self.fx)
        self.store = ReflinkStore(a.work, self.fx)
        self.lowers[REFLINK] = [self.store.lower]
        self.raw = []       # (workload, target, run, ms)
        self.mem = []       # (target, run, rss, hwm)
        self.problems = []  # (workload, target, run, text)
        # FUSE requests of each timed part, counted by the kernel:
        # (workload, target, run, {opcode: n}, files, lost).
        self.requests = []
        self.trace = None
        why = requests.available()
        if why:
            a.skipped.append(f"requests per file: {why}")
        else:
            self.trace = requests.RequestTrace()

    def close(self):
        if self.trace:
            self.trace.close()

    def mount(self, target, lowers, scratch=None):
        scratch = scratch or self.scratch
        wipe(scratch)
        os.makedirs(scratch)
        extra = self.a.stratafs_opts if target in STRATAFS_TARGETS else ""
        return Mount(target, self.a.exes[target], lowers, scratch, self.mnt, extra)

    def measure(self, spec, target, run_no):
        """Mounts `target` for the workload `spec`, runs it in a worker,
        unmounts; returns the worker's result, or None (a problem)."""
        w = spec.name
        lowers = self.lowers[spec.lowers]
        scratch = self.store.scratch if spec.on_reflink_store else self.scratch
        try:
            m = self.mount(target, lowers, scratch)
        except Exception as e:  # noqa: BLE001
            self.problem(w, target, run_no, str(e))
            return None
        res = None
        try:
            cmd = [sys.executable, "-m", "union", "--worker", w, "--mnt", self.mnt, "--fixture", self.fx,
                   "--lower", lowers[0]]
            env = dict(os.environ, PYTHONPATH=BENCHES)
            traced = self.trace is not None and target != "overlay" and not spec.memory and spec is not VERIFY
            if traced:
                self.trace.arm(self.mnt)
                env[requests.ENV] = self.trace.dir
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.a.timeout, env=env)
            except subprocess.TimeoutExpired:
                self.problem(w, target, run_no, f"HANG: no result after {self.a.timeout} s (worker killed)")
                return None
            if p.returncode != 0:
                err = (p.stderr.strip().splitlines() or ["?"])[-1]
                self.problem(w, target, run_no, f"error: {err}")
                return None
            res = json.loads(p.stdout.strip().splitlines()[-1])
            if traced:
                counts, lost = self.trace.counts()
                self.requests.append((w, target, run_no, counts, res.get("files", 1), lost))
            if res.get("check"):
                self.problem(w, target, run_no, f"wrong result: {res['check']}")
                for d in res.get("diffs", []):
                    log(f"      {d}")
            if spec.memory and m.pid:
                st = vm_status(m.pid)
                self.mem.append((target, run_no, st.get("VmRSS"), st.get("VmHWM")))
            return res
        finally:
            m.close()
            wipe(scratch)
            if spec.writes:
                settle()

    def problem(self, w, target, run_no, text):
        self.problems.append((w, target, run_no, text))
        log(f"  ! {w} / {TARGET_LABEL[target]} (run {run_no}): {text}")

    def verify(self):
        log("verify: each target's merged view (image, rmtree, repo: types, modes, owners, sizes, mtimes, "
            "link targets, content hashes) against the overlay rules applied to the layers")
        for t in self.a.targets:
            res = self.measure(VERIFY, t, 0)
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
        if any(WORKLOADS[w].on_reflink_store for w in a.workloads):
            why = self.store.setup()
            if why:
                for w in [w for w in a.workloads if WORKLOADS[w].on_reflink_store]:
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
                spec = WORKLOADS[w]
                if spec.big and r > big_runs:
                    continue
                line = []
                for t in a.targets:
                    if spec.memory and t == "overlay":
                        continue
                    res = self.measure(spec, t, r)
                    if res is None:
                        line.append(f"{t}=FAIL")
                        continue
                    if spec.memory:
                        mm = [x for x in self.mem if x[0] == t and x[1] == r]
                        line.append(f"{t}={mm[0][2]} KiB" if mm else f"{t}=n/a")
                        continue
                    self.raw.append((w, t, r, res["ms"]))
                    line.append(f"{t}={res['ms']:.1f}")
                log(f"  {w:<16} " + "  ".join(line) + ("" if spec.memory else " ms"))
            log(f"  (elapsed {time.time() - t_start:.0f} s)")
