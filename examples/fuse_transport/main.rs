//! The per-request cost of the FUSE transport: the classic /dev/fuse
//! read/write loop against FUSE over io_uring, one prototype server (proto/)
//! with both transports over the same request handling. The targets, all
//! mounted side by side in a round: the classic loop with one reader thread,
//! with one per CPU (as stratafs runs fuser), with one per CPU each pinned
//! to its CPU (a control: the io_uring queues' threads are pinned, as
//! libfuse pins them), and io_uring (a queue per CPU); each workload and client count runs on each mount in turn, the
//! first target one later every round, and the medians are printed as a
//! Markdown table with the ratio of io_uring to the best classic target.
//! Run as root by benches/fuse-transport.sh, which switches the fuse
//! module's enable_uring on around it.
//!
//! Usage: fuse_transport [--rounds R] [--ops N] [--clients 1,2]
//!        [--workloads stat,read]
//!        [--targets classic:1,classic:2,classic-pinned:2,uring]
//!        [--mountpoint DIR]

mod proto;

use anyhow::{Context, Result, bail};
use proto::session::{Session, Transport, possible_cpus};
use proto::workload::{self, Measured, Workload};
use std::path::{Path, PathBuf};

/// A transport and, for the classic one, its reader threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    transport: Transport,
    threads: usize,
}

impl Target {
    fn parse(s: &str) -> Result<Target> {
        Ok(match s.split_once(':') {
            None if s == "uring" => Target {
                transport: Transport::Uring,
                threads: 1,
            },
            Some(("classic", n)) => Target {
                transport: Transport::Classic,
                threads: n.parse().context("classic:THREADS")?,
            },
            Some(("classic-pinned", n)) => Target {
                transport: Transport::ClassicPinned,
                threads: n.parse().context("classic-pinned:THREADS")?,
            },
            _ => bail!("unknown target {s:?} (classic:THREADS, classic-pinned:THREADS, uring)"),
        })
    }

    fn label(&self) -> String {
        match self.transport {
            Transport::Classic if self.threads == 1 => "classic, 1 thread".into(),
            Transport::Classic => format!("classic, {} threads", self.threads),
            Transport::ClassicPinned => format!("classic, {} pinned threads", self.threads),
            Transport::Uring => "io_uring".into(),
        }
    }

    fn dir_name(&self) -> String {
        format!("{}-{}", self.transport.name(), self.threads)
    }
}

struct Args {
    rounds: usize,
    ops: u64,
    clients: Vec<usize>,
    workloads: Vec<Workload>,
    targets: Vec<Target>,
    mountpoint: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let cpus = possible_cpus().unwrap_or(1);
    let mut targets = vec!["classic:1".to_string()];
    if cpus > 1 {
        targets.push(format!("classic:{cpus}"));
        targets.push(format!("classic-pinned:{cpus}"));
    }
    targets.push("uring".into());
    let mut a = Args {
        rounds: 5,
        ops: 200_000,
        clients: vec![1, 2],
        workloads: vec![Workload::Stat, Workload::Read],
        targets: targets.iter().map(|t| Target::parse(t)).collect::<Result<_>>()?,
        mountpoint: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value()?.parse()?,
            "--ops" => a.ops = value()?.parse()?,
            "--mountpoint" => a.mountpoint = Some(value()?.into()),
            "--clients" => {
                a.clients = value()?.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            "--targets" => a.targets = value()?.split(',').map(Target::parse).collect::<Result<_>>()?,
            "--workloads" => {
                a.workloads = value()?
                    .split(',')
                    .map(|w| match w {
                        "stat" => Ok(Workload::Stat),
                        "read" => Ok(Workload::Read),
                        _ => bail!("unknown workload {w:?} (stat, read)"),
                    })
                    .collect::<Result<_>>()?;
            }
            _ => bail!("unknown argument {flag:?}; see the top of examples/fuse_transport/main.rs"),
        }
    }
    if a.rounds == 0 || a.ops == 0 || a.clients.contains(&0) || a.targets.is_empty() {
        bail!("--rounds, --ops, --clients and --targets must be positive");
    }
    Ok(a)
}

/// One measurement: a target, a workload, a client count, a round.
struct Row {
    target: Target,
    workload: Workload,
    clients: usize,
    m: Measured,
}

/// One round: every target of `order` mounted side by side (each on its
/// own directory under `dir`), then each workload and client count run on
/// each mount in turn, in that order, so that the targets of a row are
/// measured seconds apart under the same load.
fn one_round(args: &Args, dir: &Path, order: &[Target], round: usize, rows: &mut Vec<Row>) -> Result<()> {
    let mut sessions = Vec::new();
    let mut measured = (|| -> Result<()> {
        for &t in order {
            let at = dir.join(t.dir_name());
            std::fs::create_dir_all(&at)?;
            let session = Session::mount(&at, t.transport, t.threads)
                .with_context(|| format!("mounting {} on {}", t.label(), at.display()))?;
            sessions.push((t, session));
        }
        for (_, session) in &sessions {
            // Warm up: the name's LOOKUP, the threads and rings running.
            workload::run(session, Workload::Stat, 1, 2_000)?;
        }
        for &w in &args.workloads {
            for &clients in &args.clients {
                for (target, session) in &sessions {
                    let m = workload::run(session, w, clients, args.ops)?;
                    eprintln!(
                        "round {}/{} {:18} {} x{clients}: {} requests for {} ops ({} over io_uring, {} over /dev/fuse, {} in all), {:.2} µs/request, {:.2} µs CPU/request",
                        round + 1,
                        args.rounds,
                        target.label(),
                        w.name(),
                        m.requests(),
                        m.ops,
                        m.via_uring,
                        m.via_dev,
                        m.all,
                        m.us_per_request(),
                        m.cpu_us_per_request()
                    );
                    rows.push(Row {
                        target: *target,
                        workload: w,
                        clients,
                        m,
                    });
                }
            }
        }
        Ok(())
    })();
    for (t, session) in sessions {
        if measured.is_err() {
            // A failed round may have left requests in flight: end the
            // connection first so that the unmount cannot wait on them.
            if let Some(abort) = session.abort_file() {
                let _ = std::fs::write(abort, "1");
            }
        }
        let unmounted = session.unmount().with_context(|| format!("unmounting {}", t.label()));
        measured = measured.and(unmounted);
    }
    measured
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The Markdown table: per workload and client count, each target's median
/// µs per request (and requests/s), the ratio of io_uring to the best
/// classic target, each target's median CPU µs per request (clients and
/// server), and the requests each op made (median, per target).
fn table(args: &Args, rows: &[Row]) -> String {
    let mut md = String::from("| workload | clients |");
    for t in &args.targets {
        md.push_str(&format!(" {} µs/request (requests/s) |", t.label()));
    }
    md.push_str(" io_uring / best classic |");
    for t in &args.targets {
        md.push_str(&format!(" {} CPU µs/request |", t.label()));
    }
    md.push_str(" requests per op |\n| --- | --- |");
    md.push_str(&" --- |".repeat(2 * args.targets.len() + 2));
    md.push('\n');
    for &w in &args.workloads {
        for &clients in &args.clients {
            let of = |t: &Target| -> Vec<&Measured> {
                rows.iter()
                    .filter(|r| r.target == *t && r.workload == w && r.clients == clients)
                    .map(|r| &r.m)
                    .collect()
            };
            let us = |t: &Target| median(of(t).iter().map(|m| m.us_per_request()).collect());
            md.push_str(&format!("| {} | {clients} |", w.name()));
            for t in &args.targets {
                md.push_str(&format!(" {:.2} ({:.0}) |", us(t), 1e6 / us(t)));
            }
            let best_classic = args
                .targets
                .iter()
                .filter(|t| t.transport != Transport::Uring)
                .map(us)
                .fold(f64::NAN, f64::min);
            let uring = args.targets.iter().find(|t| t.transport == Transport::Uring).map(us);
            match uring {
                Some(u) if best_classic.is_finite() => md.push_str(&format!(" {:.3}× |", u / best_classic)),
                _ => md.push_str(" - |"),
            }
            for t in &args.targets {
                let cpu = median(of(t).iter().map(|m| m.cpu_us_per_request()).collect());
                md.push_str(&format!(" {cpu:.2} |"));
            }
            let per_op: Vec<String> = args
                .targets
                .iter()
                .map(|t| {
                    let v = median(of(t).iter().map(|m| m.requests() as f64 / m.ops as f64).collect());
                    format!("{v:.3}")
                })
                .collect();
            md.push_str(&format!(" {} |\n", per_op.join(", ")));
        }
    }
    md
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if !rustix::process::geteuid().is_root() {
        bail!("fuse_transport mounts FUSE itself: run it as root");
    }
    let enable =
        std::fs::read_to_string("/sys/module/fuse/parameters/enable_uring").unwrap_or_else(|_| "absent".into());
    let labels: Vec<String> = args.targets.iter().map(Target::label).collect();
    eprintln!(
        "fuse enable_uring={}, {} possible CPUs, {} ops per phase, {} rounds, targets: {}",
        enable.trim(),
        possible_cpus()?,
        args.ops,
        args.rounds,
        labels.join("; ")
    );
    let tmp;
    let dir = match &args.mountpoint {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut rows = Vec::new();
    for round in 0..args.rounds {
        // Round robin: each round starts one target later, so that none
        // always runs first or last.
        let mut order = args.targets.clone();
        let n = order.len();
        order.rotate_left(round % n);
        one_round(&args, &dir, &order, round, &mut rows)?;
    }
    print!("{}", table(&args, &rows));
    Ok(())
}
