"""FUSE requests per operation, counted by the kernel for any FUSE server
(stratafs and the peers alike): the `fuse:fuse_request_send` tracepoint,
recorded in a private tracefs instance filtered to one mount's connection,
switched on only around a workload's timed part (the worker writes
`tracing_on`, see workloads.timed). Times are noisy on these machines;
request counts are not.

FORGET and BATCH_FORGET travel on their own queue, without the tracepoint:
they are not counted (they are replies to nothing and cost no round trip)."""

import os
import re
import statistics

TRACEFS = "/sys/kernel/tracing"
EVENT = "events/fuse/fuse_request_send"
# Environment variable naming the instance directory to the worker.
ENV = "STRATA_BENCH_TRACE"
# Per CPU: a 10,000-file untar sends about 100,000 requests (~40 bytes each).
BUFFER_KB = 65536

_OPCODE = re.compile(r"fuse_request_send: .*?\(FUSE_([A-Z0-9_]+)\)")


def available():
    """None if the kernel can trace FUSE requests here, else why not."""
    if not os.path.isdir(os.path.join(TRACEFS, "events")):
        os.system(f"mount -t tracefs nodev {TRACEFS} 2>/dev/null")
    if not os.path.isdir(os.path.join(TRACEFS, EVENT)):
        return "no fuse:fuse_request_send tracepoint (kernel 6.13+ with tracefs)"
    return None


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


class RequestTrace:
    """A tracefs instance of this run, removed by close()."""

    def __init__(self):
        self.dir = os.path.join(TRACEFS, "instances", f"strata-union-{os.getpid()}")
        os.makedirs(self.dir, exist_ok=True)
        _write(os.path.join(self.dir, "tracing_on"), "0")
        _write(os.path.join(self.dir, "buffer_size_kb"), str(BUFFER_KB))
        _write(os.path.join(self.dir, EVENT, "enable"), "1")

    def arm(self, mountpoint):
        """Empties the buffer and filters on the connection of `mountpoint`
        (the st_dev of a FUSE mount is its connection's number). The worker
        switches tracing on and off."""
        _write(os.path.join(self.dir, "tracing_on"), "0")
        _write(os.path.join(self.dir, EVENT, "filter"), f"connection == {os.stat(mountpoint).st_dev}")
        _write(os.path.join(self.dir, "trace"), "")

    def counts(self):
        """{opcode: count} since arm(), and whether events were lost."""
        _write(os.path.join(self.dir, "tracing_on"), "0")
        counts = {}
        with open(os.path.join(self.dir, "trace")) as fh:
            for line in fh:
                m = _OPCODE.search(line)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts, self._lost()

    def _lost(self):
        lost = 0
        per_cpu = os.path.join(self.dir, "per_cpu")
        for cpu in os.listdir(per_cpu):
            with open(os.path.join(per_cpu, cpu, "stats")) as fh:
                for line in fh:
                    if line.startswith("overrun:"):
                        lost += int(line.split()[1])
        return lost > 0

    def close(self):
        try:
            _write(os.path.join(self.dir, "tracing_on"), "0")
            _write(os.path.join(self.dir, EVENT, "enable"), "0")
            os.rmdir(self.dir)
        except OSError:
            pass


def switch(on):
    """In the worker: starts or stops recording, if the runner armed a trace."""
    d = os.environ.get(ENV)
    if d:
        _write(os.path.join(d, "tracing_on"), "1" if on else "0")


def per_file(counts, files):
    """The counts divided by the workload's files, most first."""
    files = max(files or 1, 1)
    return sorted(((op, n / files) for op, n in counts.items()), key=lambda x: (-x[1], x[0]))


def number(x):
    """A count for the report: 3 significant digits, whole above 100."""
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def describe(counts, files, top=4):
    """`7.1/file: SETATTR 3, GETXATTR 2.3…` for a report cell (a workload
    of one file, such as the 1 GiB write, shows the whole counts)."""
    total = sum(counts.values()) / max(files or 1, 1)
    parts = [f"{op} {number(n)}" for op, n in per_file(counts, files)[:top]]
    unit = "/file" if files and files > 1 else " in all"
    return f"{number(total)}{unit}: " + ", ".join(parts) if parts else "0"


def medians(rows):
    """{(workload, target): ({opcode: median count}, files, lost)} over runs;
    an opcode a run did not send counts 0 in it."""
    runs, files, lost = {}, {}, {}
    for w, t, _r, counts, n, run_lost in rows:
        runs.setdefault((w, t), []).append(counts)
        files[(w, t)] = n
        lost[(w, t)] = lost.get((w, t), False) or run_lost
    out = {}
    for key, cs in runs.items():
        ops = sorted({op for c in cs for op in c})
        out[key] = ({op: statistics.median(c.get(op, 0) for c in cs) for op in ops}, files[key], lost[key])
    return out


def report_lines(rows, workloads, targets, label):
    """The report's section: per workload, each FUSE target's requests per
    file and the opcodes that make them."""
    meds = medians(rows)
    if not meds:
        return []
    lines = ["", "FUSE requests per file of each timed part (the kernel's count, median over runs; "
             "forgets not counted):"]
    for w in workloads:
        cells = []
        for t in targets:
            if (w, t) in meds:
                med, files, lost = meds[(w, t)]
                cells.append(f"{label[t]} {describe(med, files)}" + (" (events lost)" if lost else ""))
        if cells:
            lines.append(f"  {w:<16} " + " | ".join(cells))
    return lines
