//! `strata bench`: the union filesystem benchmark for users, from the
//! installed binaries alone. It builds a seeded, layered fixture
//! ([`fixture`]), mounts stratafs, kernel overlayfs and the fuse-overlayfs
//! peers installed over it ([`targets`]), runs the workloads interleaved,
//! each on a fresh mount ([`workloads`], [`runner`]), and reports medians,
//! ratios to kernel overlayfs and stratafs's FUSE requests per file as
//! Markdown, CSV and an SVG chart ([`report`], [`svg`]).
//!
//! Not a client of the daemon: it knows `sys` (and runs `stratafs`), and
//! neither `cli` nor `api`. `benches/union` (Python) stays the developers'
//! fuller tool (correctness pass, more workloads, kernel-traced requests).

pub mod fixture;
pub mod report;
pub mod requests;
pub mod runner;
pub mod store_lowers;
pub mod svg;
pub mod targets;
pub mod workloads;

use clap::Parser;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("mounting {target}: {why}")]
    Mount { target: String, why: String },
    #[error("stratafs's request counts: {0}")]
    Requests(String),
    #[error("{workload}: {why}")]
    Workload { workload: &'static str, why: String },
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn io(context: String, source: std::io::Error) -> Self {
        Error::Io { context, source }
    }
}

/// Docker's exit code for a bad flag, as the rest of `strata` uses.
const FLAG_ERROR: i32 = 125;
/// A shell's status for a process ended by SIGINT.
const INTERRUPTED: i32 = 130;
const MAX_RUNS: u32 = 1000;

/// Benchmark stratafs against kernel overlayfs and the FUSE peers installed
#[derive(Parser, Debug)]
#[command(
    name = "bench",
    bin_name = "strata bench",
    about = "Benchmark stratafs against kernel overlayfs and the FUSE peers installed",
    long_about = "Benchmark stratafs against kernel overlayfs and the FUSE peers installed \
(fuse-overlayfs 1.x or 2.x on PATH) over a seeded, layered fixture. Measurements are interleaved \
(for run: for workload: for target), each on a fresh mount with an empty upper; cold means sync + \
drop_caches. Prints a Markdown table of medians and ratios to kernel overlayfs, with stratafs's FUSE \
requests per file, and writes it with a CSV and an SVG chart to --out. Without root, kernel overlayfs and \
the cold rows are not measured (the report says so).",
    after_help = "Workloads: find_cold, find_warm, stat_cold, stat_warm, read_small_warm, seq_read, seq_write, untar, rm_rf"
)]
pub struct Options {
    /// Run only this workload (repeatable; default: all)
    #[arg(long = "workload", value_name = "W")]
    workloads: Vec<String>,
    /// Measurements of each workload on each target (default 5, 3 with --quick)
    #[arg(long, value_name = "N")]
    runs: Option<u32>,
    /// Peers to measure beside stratafs, comma-separated: overlay, fuse-overlayfs, fuse-overlayfs=PATH (default: overlay,fuse-overlayfs)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    peers: Option<Vec<String>>,
    /// A fixture a tenth the size (64 MiB big file): a run in about a minute
    #[arg(long)]
    quick: bool,
    /// stratafs mounts the lower layers as layers of Strata's store (made once beside the fixture), answering their attributes from the index; the peers mount the plain ones
    #[arg(long)]
    store_lowers: bool,
    /// Where the report goes: bench.md, bench.csv, runs.csv, requests.csv, bench.svg
    #[arg(long, value_name = "DIR", default_value = "strata-bench")]
    out: PathBuf,
    /// Where the fixture (kept and reused) and the mounts go [default: $XDG_CACHE_HOME/strata-bench, else /var/tmp/strata-bench, /var/tmp/strata-bench-UID without root]
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
}

/// The clap tree of `strata bench`, for `strata --help`.
pub fn command() -> clap::Command {
    <Options as clap::CommandFactory>::command()
}

/// Runs `strata bench ARGS` (`args[0]` is `bench`); returns the exit code.
pub fn main(args: &[OsString]) -> i32 {
    let options = match Options::try_parse_from(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { FLAG_ERROR } else { 0 };
        }
    };
    match run(options) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("strata bench: {e}");
            if matches!(e, Error::Usage(_)) { FLAG_ERROR } else { 1 }
        }
    }
}

/// `$XDG_CACHE_HOME/strata-bench`, else under /var/tmp (a directory per
/// user but root's, who may not share one).
fn default_work() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(cache) => PathBuf::from(cache).join("strata-bench"),
        None if crate::sys::is_root() => PathBuf::from("/var/tmp/strata-bench"),
        None => PathBuf::from(format!("/var/tmp/strata-bench-{}", crate::sys::ids().0)),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    path.canonicalize()
        .map_err(|e| Error::io(format!("resolving {}", path.display()), e))
}

/// The workloads asked for, in the table's order; an unknown one is an error.
fn select_workloads(names: &[String]) -> Result<Vec<&'static workloads::Workload>, Error> {
    for name in names {
        if workloads::find(name).is_none() {
            let known: Vec<&str> = workloads::WORKLOADS.iter().map(|w| w.name).collect();
            return Err(Error::Usage(format!(
                "unknown workload {name:?}: known workloads are {}",
                known.join(", ")
            )));
        }
    }
    Ok(workloads::WORKLOADS
        .iter()
        .filter(|w| names.is_empty() || names.iter().any(|n| n == w.name))
        .collect())
}

/// Cold rows need root (drop_caches): without it they are left out, and
/// the report says so.
fn without_cold_rows_unless_root(
    selected: Vec<&'static workloads::Workload>,
) -> (Vec<&'static workloads::Workload>, Option<targets::NotMeasured>) {
    if crate::sys::is_root() {
        return (selected, None);
    }
    let (cold, rest): (Vec<_>, Vec<_>) = selected.into_iter().partition(|w| w.state == workloads::State::Cold);
    let note = (!cold.is_empty()).then(|| targets::NotMeasured {
        label: cold.iter().map(|w| w.name).collect::<Vec<_>>().join(", "),
        reason: "cold is not available: dropping the caches (drop_caches) needs root".into(),
    });
    (rest, note)
}

fn run(options: Options) -> Result<i32, Error> {
    let selected = select_workloads(&options.workloads)?;
    let runs = options.runs.unwrap_or(if options.quick { 3 } else { 5 });
    if runs == 0 || runs > MAX_RUNS {
        return Err(Error::Usage(format!("--runs must be from 1 to {MAX_RUNS}, not {runs}")));
    }
    let (targets, mut not_measured) = targets::choose(options.peers.as_deref())?;
    let (selected, cold) = without_cold_rows_unless_root(selected);
    not_measured.extend(cold);
    let work = absolute(&options.work.unwrap_or_else(default_work))?;
    let out = absolute(&options.out)?;
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signals(&stop, &work)?;
    let progress = runner::Progress::new();
    // Whatever an earlier run that was killed left mounted.
    targets::unmount_all_under(&work);
    let scale = if options.quick {
        fixture::Scale::QUICK
    } else {
        fixture::Scale::FULL
    };
    let fx = fixture::prepare(
        &work.join(if options.quick { "fixture-quick" } else { "fixture" }),
        scale,
        &|l| progress.log(l),
    )?;
    let store_lowers = if options.store_lowers {
        Some(store_lowers::prepare(
            &fx.lowers(),
            &fx.dir.join("store-layers"),
            &|l| progress.log(l),
        )?)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let runner = runner::Runner {
        fx: &fx,
        store_lowers: store_lowers.as_deref(),
        dirs: runner::Dirs::new(&work),
        stop: &stop,
        progress: &progress,
    };
    let results = runner.run(targets, not_measured, selected, runs);
    progress.finish();
    targets::unmount_all_under(&work);
    let text = report::write(&results, &fx, started.elapsed(), &out)?;
    print!("{text}");
    eprintln!(
        "strata bench: wrote {}/bench.md, bench.csv, runs.csv, requests.csv and bench.svg",
        out.display()
    );
    Ok(if results.interrupted {
        INTERRUPTED
    } else if results.problems.is_empty() {
        0
    } else {
        1
    })
}

/// SIGINT and SIGTERM stop the run after the measurement under way (its
/// mount unmounted, what was measured reported); a second one unmounts
/// whatever is left under `work` and exits at once. Blocked here, before
/// any thread starts, so that they reach only the waiting threads.
fn stop_on_signals(stop: &Arc<AtomicBool>, work: &Path) -> Result<(), Error> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        crate::sys::signals::block_signal(sig).map_err(|e| Error::io("blocking signals".into(), e))?;
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let (stop, work) = (stop.clone(), work.to_path_buf());
        std::thread::spawn(move || {
            while crate::sys::signals::wait_for_signal(sig).is_ok() {
                if stop.swap(true, Ordering::SeqCst) {
                    targets::unmount_all_under(&work);
                    std::process::exit(INTERRUPTED);
                }
                eprintln!("strata bench: interrupted: stopping after this measurement (again to quit now)");
            }
        });
    }
    Ok(())
}
