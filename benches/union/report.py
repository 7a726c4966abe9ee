"""The report: the table of medians (with each FUSE target's ratio to
kernel overlayfs and stratafs's goals), the depth and memory rows, the
notes, the FUSE requests per file; then the CSV files (raw runs, summary,
memory, requests, problems), the
text report and an SVG chart of the ratios under the output directory."""

import csv
import math
import os
import statistics
import time

from . import requests
from .host import loadavg
from .mounts import TARGET_LABEL
from .workloads import WORKLOADS

def med(xs):
    return statistics.median(xs) if xs else None


def run_ratio(raw, w1, t1, w2, t2):
    """The median over runs of (w1 on t1) / (w2 on t2) in the same run."""
    by = {(w, t, r): ms for w, t, r, ms in raw}
    rs = [by[w1, t1, r] / by[w2, t2, r] for (w, t, r) in by
          if (w, t) == (w1, t1) and (w2, t2, r) in by and by[w2, t2, r] > 0]
    return med(rs)


# The peers stratafs is compared with, when they were measured.
PEERS = ("fo1", "fo2")


def medians(b):
    """{(workload, target): (median ms, runs)} of what was measured."""
    meds = {}
    for w in WORKLOADS:
        for t in b.a.targets:
            xs = [ms for (w2, t2, _, ms) in b.raw if w2 == w and t2 == t]
            if xs:
                meds[w, t] = (med(xs), len(xs))
    return meds


def goal_verdict(spec, ms, ratio):
    """(goal, verdict) of stratafs's median `ms` (and ratio to kernel
    overlayfs) for the workload `spec`; empty strings without a goal."""
    if not spec.goal:
        return "", ""
    kind, lim = spec.goal
    if kind == "abs_ms":
        return f"<{lim:g} ms", "PASS" if ms < lim else "MISS"
    if ratio is not None:
        return f"<=x{lim:g}", "PASS" if ratio <= lim else "MISS"
    return "", ""


def workload_rows(b, meds, summary, verdicts):
    """One row per timed workload measured: each target's median (and ratio
    to kernel overlayfs), then stratafs's goal, verdict and whether it
    beats the peers measured."""
    targets = b.a.targets
    has_ov = "overlay" in targets
    rows = []
    for w, spec in WORKLOADS.items():
        if spec.memory or not any((w, t) in meds for t in targets):
            continue
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
            sr = run_ratio(b.raw, w, "stratafs", w, "overlay") if has_ov else None
            goal, verdict = goal_verdict(spec, s, sr)
            peers = [meds[w, t][0] for t in PEERS if (w, t) in meds]
            beats = ("yes" if all(s < p for p in peers) else "NO") if peers else "-"
            row += f"  {goal:<10}{verdict:<9}{beats:<12}"
            if verdict:
                verdicts.append((w, goal, verdict))
        rows.append(row)
    return rows


def depth_row(b, summary, verdicts):
    """The same lookups through 64 layers and through 1, per target; or None."""
    dl = {}
    for t in b.a.targets:
        r = run_ratio(b.raw, "depth64_cold", t, "depth1_cold", t)
        if r is not None:
            dl[t] = r
            summary.append(("depth64/depth1", t, 0, r, None))
    if not dl:
        return None
    row = f"{'depth 64/1':<16}" + "".join(f"{('x%.2f' % dl[t]) if t in dl else '-':>24}" for t in b.a.targets)
    if "stratafs" in dl:
        v = "PASS" if dl["stratafs"] <= 1.10 else "MISS"
        row += f"  {'<=x1.10':<10}{v:<9}"
        verdicts.append(("depth64/depth1", "<=x1.10", v))
    return row


def memory_row(b, summary, verdicts):
    """The FUSE servers' median VmRSS / VmHWM; or None."""
    if not b.mem:
        return None
    row = f"{'VmRSS/HWM MiB':<16}"
    memmed = {}
    for t in b.a.targets:
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
        peers = [memmed[t][0] for t in PEERS if t in memmed]
        v = ("PASS" if all(memmed["stratafs"][0] <= p for p in peers) else "MISS") if peers else "-"
        row += f"  {'<=peers':<10}{v:<9}"
        if peers:
            verdicts.append(("memory (RSS)", "<= the peers measured", v))
    return row


def peer_verdicts(meds):
    """Per peer: PASS if stratafs was faster on every workload both ran,
    MISS if not, "not measured" if the peer ran nothing."""
    out = []
    for t in PEERS:
        both = [w for w in WORKLOADS if (w, "stratafs") in meds and (w, t) in meds]
        if not both:
            out.append(f"{TARGET_LABEL[t]} not measured")
            continue
        faster = all(meds[w, "stratafs"][0] < meds[w, t][0] for w in both)
        out.append(f"{TARGET_LABEL[t]} {'PASS' if faster else 'MISS'}")
    return out


def notes(meds):
    lines = [
        "",
        "States: " + "; ".join(f"{w} {spec.state}" for w, spec in WORKLOADS.items() if not spec.memory),
        "cold = sync + drop_caches after mounting, before the timed part; every measurement on a fresh mount "
        "with an empty upper; after each write workload the upper is removed, then sync + drop clean pages.",
    ]
    if any(WORKLOADS[w].on_reflink_store for (w, _) in meds):
        lines.append("append_copyup_reflink: the lower layer and the upper and work directories on a loop-mounted "
                     "XFS made with reflink=1 (a copy-up that clones shares the lower file's extents); goal for "
                     "stratafs: under 50 ms.")
    lines.append("Note: untar's `sync -f` flushes the upper filesystem on kernel overlayfs; on the FUSE mounts it "
                 "returns in a few ms (the kernel does not pass syncfs on to a /dev/fuse server), so their untar "
                 "leaves the upper unflushed.")
    return lines


def report(b, load_start, started):
    """Prints the text report; returns (summary rows for the CSV, the text)."""
    a = b.a
    targets = a.targets
    meds = medians(b)
    lines = []
    P = lines.append
    P("")
    P(f"Union filesystem benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}, kernel {os.uname().release}, "
      f"{os.cpu_count()} cpus")
    P(f"load at start {load_start}; at end {loadavg()}; {a.runs} runs (1 GiB workloads: "
      f"{min(a.runs, a.big_runs)}); wall {time.time() - started:.0f} s")
    for t in targets:
        P(f"  {TARGET_LABEL[t]:<20} {a.versions.get(t, '')}")
    P("medians in ms; (xN.NN) = ratio to kernel overlayfs: the median over runs of each run's ratio")
    hdr = f"{'workload':<16}" + "".join(f"{TARGET_LABEL[t]:>24}" for t in targets)
    if "stratafs" in targets:
        hdr += f"  {'goal':<10}{'stratafs':<9}{'beats peers':<12}"
    P(hdr)
    P("-" * len(hdr))
    summary = []
    verdicts = []
    lines += workload_rows(b, meds, summary, verdicts)
    lines += [r for r in (depth_row(b, summary, verdicts), memory_row(b, summary, verdicts)) if r]
    lines += notes(meds)
    lines += requests.report_lines(b.requests, list(WORKLOADS), targets, TARGET_LABEL)
    if "stratafs" in targets and verdicts:
        P("")
        P("Goals for stratafs: " + ", ".join(f"{w} {g} {v}" for w, g, v in verdicts))
        P("Faster than each fuse-overlayfs version on every workload both ran: " + "; ".join(peer_verdicts(meds)))
    if "stratafs" in targets and "stratafs-base" in targets:
        P("stratafs / stratafs baseline, the median over runs of each run's ratio: " + ", ".join(
            f"{w} x{r:.2f}" for w in WORKLOADS
            if (r := run_ratio(b.raw, w, "stratafs", w, "stratafs-base")) is not None))
    P("Reference: fuse-overlayfs 1.10 / 2.0's ratios to kernel overlayfs when the goals were set: " + ", ".join(
        f"{w} {spec.reference[0]}/{spec.reference[1]}" for w, spec in WORKLOADS.items() if spec.reference))
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
    paths["requests"] = base + "-requests.csv"
    with open(paths["requests"], "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["workload", "target", "run", "files", "opcode", "count", "events_lost"])
        for w, t, r, counts, files, lost in b.requests:
            for op, n in sorted(counts.items()):
                wr.writerow([w, TARGET_LABEL[t], r, files, op, n, int(lost)])
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
    fuse = [t for t in targets if t != "overlay"]
    data = {}
    for w, t, n, m, ratio in summary:
        if ratio is not None and t in fuse:
            data.setdefault(w, {})[t] = ratio
    ws = [w for w in WORKLOADS if w in data]
    colors = {"stratafs": "#2b7bba", "stratafs-base": "#9ecae1", "fo1": "#e8912d", "fo2": "#8c5bb5"}
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
