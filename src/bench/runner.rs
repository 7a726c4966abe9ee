//! The interleaved run: each target probed once (one that cannot mount is
//! not measured, with why), then for run: for workload: for target, each
//! measurement on a fresh mount with an empty upper, unmounted before the
//! next one whatever happened. What goes wrong is kept as a problem for
//! the report, never raised, except an interrupt, which ends the run.

use super::Error;
use super::fixture::Fixture;
use super::requests::{Counts, RequestProbe};
use super::targets::{Layers, NotMeasured, Target};
use super::workloads::{Site, Workload, drop_caches};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// One measurement.
#[derive(Debug, Clone)]
pub struct Sample {
    pub workload: &'static str,
    pub target: String,
    pub run: u32,
    pub ms: f64,
    pub files: u64,
    pub requests: Option<Counts>,
}

/// What a run measured.
pub struct Results {
    pub targets: Vec<Target>,
    pub not_measured: Vec<NotMeasured>,
    pub workloads: Vec<&'static Workload>,
    pub runs: u32,
    pub samples: Vec<Sample>,
    pub problems: Vec<String>,
    pub interrupted: bool,
}

/// Progress: a bar on a terminal (stderr), plain lines into a pipe.
pub struct Progress {
    bar: ProgressBar,
    terminal: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        // Drawn from the first measurement on (see `start`).
        let bar = ProgressBar::hidden();
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} {msg}") {
            bar.set_style(style);
        }
        Progress { bar, terminal }
    }

    pub fn log(&self, line: &str) {
        if !self.bar.is_hidden() {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    fn start(&self, total: u64) {
        self.bar.set_length(total);
        if self.terminal {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn step(&self, what: String) {
        self.bar.set_message(what);
    }

    fn done_one(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The directories of a run under the work directory.
pub struct Dirs {
    pub mnt: PathBuf,
    pub scratch: PathBuf,
    pub counts: PathBuf,
    pub server_log: PathBuf,
}

impl Dirs {
    pub fn new(work: &Path) -> Self {
        Dirs {
            mnt: work.join("mnt"),
            scratch: work.join("scratch"),
            counts: work.join("requests.txt"),
            server_log: work.join("server.log"),
        }
    }

    /// An empty upper and work directory.
    fn fresh_scratch(&self) -> Result<(PathBuf, PathBuf), Error> {
        self.wipe_scratch()?;
        let (upper, work) = (self.scratch.join("upper"), self.scratch.join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        Ok((upper, work))
    }

    fn wipe_scratch(&self) -> Result<(), Error> {
        match std::fs::remove_dir_all(&self.scratch) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing {}", self.scratch.display()), e))
            }
            _ => Ok(()),
        }
    }
}

pub struct Runner<'a> {
    pub fx: &'a Fixture,
    /// `--store-lowers`: what stratafs mounts instead of the fixture's lowers.
    pub store_lowers: Option<&'a [PathBuf]>,
    pub dirs: Dirs,
    pub stop: &'a AtomicBool,
    pub progress: &'a Progress,
}

impl Runner<'_> {
    /// Mounts each target once; one that cannot mount is not measured.
    fn probe(&self, targets: Vec<Target>, not_measured: &mut Vec<NotMeasured>) -> Vec<Target> {
        let mut ok = Vec::new();
        for t in targets {
            let mounted = self.dirs.fresh_scratch().and_then(|(upper, work)| {
                let layers = Layers {
                    lowers: &self.fx.lowers(),
                    store_lowers: self.store_lowers,
                    upper: &upper,
                    work: &work,
                };
                t.mount(&layers, &self.dirs.mnt, None, &self.dirs.server_log)
            });
            match mounted {
                Ok(m) => {
                    m.close();
                    self.progress.log(&format!("target: {:<20} {}", t.label, t.version));
                    ok.push(t);
                }
                Err(e) => not_measured.push(NotMeasured {
                    label: t.label.clone(),
                    reason: format!("cannot mount: {e}"),
                }),
            }
        }
        ok
    }

    pub fn run(
        &self,
        targets: Vec<Target>,
        mut not_measured: Vec<NotMeasured>,
        workloads: Vec<&'static Workload>,
        runs: u32,
    ) -> Results {
        let targets = self.probe(targets, &mut not_measured);
        let mut results = Results {
            targets,
            not_measured,
            workloads,
            runs,
            samples: Vec::new(),
            problems: Vec::new(),
            interrupted: false,
        };
        if !results.targets.iter().any(|t| t.id == super::targets::STRATAFS) {
            results
                .problems
                .push("stratafs could not mount: nothing measured".into());
            return results;
        }
        self.progress
            .start(u64::from(runs) * (results.workloads.len() * results.targets.len()) as u64);
        'runs: for run in 1..=runs {
            for w in results.workloads.clone() {
                let mut line = format!("run {run}/{runs} {:<16}", w.name);
                for t in results.targets.clone() {
                    self.progress
                        .step(format!("run {run}/{runs} {} on {}", w.name, t.label));
                    match self.measure(w, &t, run) {
                        Ok(Ok(sample)) => {
                            line.push_str(&format!("  {}={:.1}", t.id, sample.ms));
                            results.samples.push(sample);
                        }
                        Ok(Err(problem)) => {
                            line.push_str(&format!("  {}=FAIL", t.id));
                            results
                                .problems
                                .push(format!("{} / {} (run {run}): {problem}", w.name, t.label));
                        }
                        Err(Error::Interrupted) => {
                            results.interrupted = true;
                            break 'runs;
                        }
                        Err(e) => {
                            line.push_str(&format!("  {}=FAIL", t.id));
                            results
                                .problems
                                .push(format!("{} / {} (run {run}): {e}", w.name, t.label));
                        }
                    }
                    self.progress.done_one();
                }
                self.progress.log(&format!("{line} ms"));
            }
        }
        if let Err(e) = self.dirs.wipe_scratch() {
            results.problems.push(e.to_string());
        }
        results
    }

    /// One measurement: a sample, or what was wrong with its result.
    fn measure(&self, w: &'static Workload, t: &Target, run: u32) -> Result<Result<Sample, String>, Error> {
        let (upper, work) = self.dirs.fresh_scratch()?;
        let lowers = self.fx.lowers();
        let layers = Layers {
            lowers: &lowers,
            store_lowers: self.store_lowers,
            upper: &upper,
            work: &work,
        };
        let stratafs = t.id == super::targets::STRATAFS;
        let counts = stratafs.then_some(self.dirs.counts.as_path());
        let mount = t.mount(&layers, &self.dirs.mnt, counts, &self.dirs.server_log)?;
        let probe = mount
            .server_pid()
            .filter(|_| stratafs)
            .map(|pid| RequestProbe::new(pid, &self.dirs.counts));
        let mut site = Site::new(&self.dirs.mnt, self.fx, probe.as_ref(), self.stop);
        let measured = w.run(&mut site);
        mount.close();
        self.dirs.wipe_scratch()?;
        if w.writes && crate::sys::is_root() {
            // The next target must not pay for this one's writes and
            // deletions (ext4 skips recently freed inodes while their
            // table blocks are cached): flush, then drop clean pages.
            drop_caches("1")?;
        }
        let measured = measured?;
        if let Some(problem) = measured.problem {
            return Ok(Err(format!("wrong result: {problem}")));
        }
        Ok(Ok(Sample {
            workload: w.name,
            target: t.id.clone(),
            run,
            ms: measured.elapsed.as_secs_f64() * 1000.0,
            files: measured.files,
            requests: measured.requests,
        }))
    }
}
