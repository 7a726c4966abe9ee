//! The report: per workload each target's median and its ratio to kernel
//! overlayfs (the median of each run's ratio), stratafs's FUSE requests per
//! file by opcode, what was not measured and why, and the problems; as
//! Markdown (also printed), CSV files and an SVG chart under `--out`.
//! A target that was not measured gets no ratio and no verdict.

use super::Error;
use super::fixture::Fixture;
use super::runner::{Results, Sample};
use super::svg::{Chart, Group};
use super::targets::{OVERLAY, STRATAFS};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    })
}

fn samples<'a>(r: &'a Results, workload: &'a str, target: &'a str) -> impl Iterator<Item = &'a Sample> {
    r.samples
        .iter()
        .filter(move |s| s.workload == workload && s.target == target)
}

fn median_ms(r: &Results, workload: &str, target: &str) -> Option<f64> {
    median(samples(r, workload, target).map(|s| s.ms).collect())
}

/// The median over runs of this target's time over kernel overlayfs's in
/// the same run; `None` without both.
fn ratio(r: &Results, workload: &str, target: &str) -> Option<f64> {
    let overlay: BTreeMap<u32, f64> = samples(r, workload, OVERLAY).map(|s| (s.run, s.ms)).collect();
    median(
        samples(r, workload, target)
            .filter_map(|s| overlay.get(&s.run).filter(|&&o| o > 0.0).map(|o| s.ms / o))
            .collect(),
    )
}

/// stratafs's requests per file by opcode (median over runs), most first.
fn requests_per_file(r: &Results, workload: &str) -> Option<Vec<(String, f64)>> {
    let runs: Vec<&Sample> = samples(r, workload, STRATAFS)
        .filter(|s| s.requests.is_some())
        .collect();
    if runs.is_empty() {
        return None;
    }
    let mut ops: Vec<String> = runs
        .iter()
        .flat_map(|s| s.requests.iter().flat_map(|c| c.keys().cloned()))
        .collect();
    ops.sort();
    ops.dedup();
    let per_file = |s: &Sample, op: &str| {
        let n = s.requests.as_ref().and_then(|c| c.get(op)).copied().unwrap_or(0);
        n as f64 / s.files.max(1) as f64
    };
    let mut out: Vec<(String, f64)> = ops
        .into_iter()
        .filter_map(|op| Some((op.clone(), median(runs.iter().map(|s| per_file(s, &op)).collect())?)))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Some(out)
}

fn ms_cell(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

fn header(r: &Results, fx: &Fixture, elapsed: Duration) -> String {
    let m = &fx.manifest;
    let mut t = String::from("# strata bench\n\n");
    let _ = writeln!(
        t,
        "- fixture: {} (seed {}): {} image entries ({} small files), {} whiteouts, {} opaque directories; a {}-entry tree to remove; a {}-file tar; a {} MiB file",
        if m.scale == super::fixture::Scale::QUICK {
            "quick"
        } else {
            "full"
        },
        m.seed,
        m.image_entries,
        m.small_files,
        m.whiteouts,
        m.opaque_dirs,
        m.rm_entries,
        m.scale.untar_files,
        m.scale.big_size >> 20
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let _ = writeln!(
        t,
        "- {} run(s), interleaved, each measurement a fresh mount with an empty upper; {} measurements in {:.0} s; load {}",
        r.runs,
        r.samples.len(),
        elapsed.as_secs_f64(),
        load.join(" ")
    );
    for target in &r.targets {
        let _ = writeln!(t, "- {}: {}", target.label, target.version);
    }
    t
}

/// The table of medians: a row per workload, a column per target measured.
fn table(r: &Results) -> String {
    let mut t = String::from("\n| workload | state |");
    for target in &r.targets {
        let _ = write!(t, " {} |", target.label);
    }
    t.push_str("\n| --- | --- |");
    t.push_str(&" ---: |".repeat(r.targets.len()));
    t.push('\n');
    for w in &r.workloads {
        let _ = write!(t, "| {} | {} |", w.name, w.state.describe());
        for target in &r.targets {
            let cell = match median_ms(r, w.name, &target.id) {
                None => "-".to_string(),
                Some(ms) => match ratio(r, w.name, &target.id).filter(|_| target.id != OVERLAY) {
                    Some(x) => format!("{} (×{x:.2})", ms_cell(ms)),
                    None => ms_cell(ms),
                },
            };
            let _ = write!(t, " {cell} |");
        }
        t.push('\n');
    }
    if r.targets.iter().any(|t| t.id == OVERLAY) {
        t.push_str("\nMedians; (×N) is the median over runs of the time over kernel overlayfs's in the same run.\n");
    } else {
        t.push_str("\nMedians; no ratios: kernel overlayfs, their reference, was not measured.\n");
    }
    t
}

fn requests_section(r: &Results) -> String {
    let mut t = String::from(
        "\n## stratafs: FUSE requests per file\n\n| workload | files | requests per file | by opcode |\n| --- | ---: | ---: | --- |\n",
    );
    let mut any = false;
    for w in &r.workloads {
        let Some(ops) = requests_per_file(r, w.name) else {
            continue;
        };
        let files = samples(r, w.name, STRATAFS).map(|s| s.files).next().unwrap_or(0);
        let total = ops.iter().fold(0.0, |sum, (_, n)| sum + n);
        let by: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n:.2}")).collect();
        let by = if by.is_empty() {
            "none".to_string()
        } else {
            by.join(", ")
        };
        let _ = writeln!(t, "| {} | {files} | {total:.2} | {by} |", w.name);
        any = true;
    }
    if !any {
        t.push_str("| (none measured) | | | |\n");
    }
    t
}

fn notes(r: &Results) -> String {
    let mut t = String::new();
    if !r.not_measured.is_empty() {
        t.push_str("\n## Not measured\n\n");
        for n in &r.not_measured {
            let _ = writeln!(t, "- {}: not measured: {}", n.label, n.reason);
        }
    }
    if r.interrupted {
        t.push_str("\nInterrupted: the table holds what was measured before.\n");
    }
    if !r.problems.is_empty() {
        t.push_str("\n## Problems\n\n");
        for p in &r.problems {
            let _ = writeln!(t, "- {p}");
        }
    }
    t
}

pub fn markdown(r: &Results, fx: &Fixture, elapsed: Duration) -> String {
    header(r, fx, elapsed) + &table(r) + &requests_section(r) + &notes(r)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}")).unwrap_or_default()
}

/// A row per (workload, target) measured.
pub fn summary_csv(r: &Results) -> String {
    let mut t = String::from("workload,state,target,label,runs,median_ms,ratio_to_overlay,requests_per_file\n");
    for w in &r.workloads {
        for target in &r.targets {
            let runs = samples(r, w.name, &target.id).count();
            if runs == 0 {
                continue;
            }
            let per_file = (target.id == STRATAFS)
                .then(|| requests_per_file(r, w.name).map(|ops| ops.iter().fold(0.0, |sum, (_, n)| sum + n)))
                .flatten();
            let _ = writeln!(
                t,
                "{},{},{},{},{runs},{},{},{}",
                w.name,
                csv_field(w.state.describe()),
                target.id,
                csv_field(&target.label),
                opt(median_ms(r, w.name, &target.id), 3),
                opt(ratio(r, w.name, &target.id), 3),
                opt(per_file, 3)
            );
        }
    }
    t
}

fn runs_csv(r: &Results) -> String {
    let mut t = String::from("workload,target,run,ms,files,requests\n");
    for s in &r.samples {
        let total = s
            .requests
            .as_ref()
            .map(|c| c.values().sum::<u64>().to_string())
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "{},{},{},{:.3},{},{total}",
            s.workload, s.target, s.run, s.ms, s.files
        );
    }
    t
}

fn requests_csv(r: &Results) -> String {
    let mut t = String::from("workload,target,run,opcode,count,files\n");
    for s in &r.samples {
        for (op, n) in s.requests.iter().flatten() {
            let _ = writeln!(t, "{},{},{},{op},{n},{}", s.workload, s.target, s.run, s.files);
        }
    }
    t
}

/// Bars of each target's ratio to kernel overlayfs; without kernel
/// overlayfs, of each median over the slowest target's of the workload.
fn chart(r: &Results) -> Chart {
    let has_overlay = r.targets.iter().any(|t| t.id == OVERLAY);
    let groups = r
        .workloads
        .iter()
        .map(|w| {
            let slowest = r
                .targets
                .iter()
                .filter_map(|t| median_ms(r, w.name, &t.id))
                .fold(0.0, f64::max);
            let bars = r
                .targets
                .iter()
                .map(|t| {
                    let value = if has_overlay {
                        if t.id == OVERLAY {
                            median_ms(r, w.name, OVERLAY).map(|_| 1.0)
                        } else {
                            ratio(r, w.name, &t.id)
                        }
                    } else {
                        median_ms(r, w.name, &t.id).map(|ms| ms / slowest)
                    };
                    (t.label.clone(), value)
                })
                .collect();
            Group {
                name: w.name.to_string(),
                bars,
            }
        })
        .collect();
    Chart {
        title: if has_overlay {
            "strata bench: time relative to kernel overlayfs (lower is better)".into()
        } else {
            "strata bench: time relative to the slowest target (kernel overlayfs not measured)".into()
        },
        groups,
    }
}

/// Writes every file of the report to `out`; returns the Markdown.
pub fn write(r: &Results, fx: &Fixture, elapsed: Duration, out: &Path) -> Result<String, Error> {
    let text = markdown(r, fx, elapsed);
    let files = [
        ("bench.md", text.clone()),
        ("bench.csv", summary_csv(r)),
        ("runs.csv", runs_csv(r)),
        ("requests.csv", requests_csv(r)),
        ("bench.svg", chart(r).render()),
    ];
    for (name, content) in files {
        let path = out.join(name);
        std::fs::write(&path, content).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(text)
}
