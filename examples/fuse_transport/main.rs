//! The per-request cost of the FUSE transport: the classic /dev/fuse
//! read/write loop against FUSE over io_uring, one prototype server (proto/)
//! with both transports over the same request handling, both mounted side
//! by side, the same workload run against each in turn, the order swapped
//! every round (ABBA), medians printed as a
//! Markdown table with the ratio uring/classic. Run as root by
//! benches/fuse-transport.sh, which switches the fuse module's enable_uring
//! on around it.
//!
//! Usage: fuse_transport [--rounds R] [--ops N] [--clients 1,2]
//!        [--workloads stat,read] [--transport both|classic|uring]
//!        [--threads T] [--mountpoint DIR]

mod proto;

use anyhow::{Context, Result, bail};
use proto::session::{Session, Transport, possible_cpus};
use proto::workload::{self, Measured, Workload};
use std::path::{Path, PathBuf};

struct Args {
    rounds: usize,
    ops: u64,
    clients: Vec<usize>,
    workloads: Vec<Workload>,
    transports: Vec<Transport>,
    threads: usize,
    mountpoint: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        rounds: 5,
        ops: 200_000,
        clients: vec![1, 2],
        workloads: vec![Workload::Stat, Workload::Read],
        transports: vec![Transport::Classic, Transport::Uring],
        threads: possible_cpus().unwrap_or(1),
        mountpoint: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value()?.parse()?,
            "--ops" => a.ops = value()?.parse()?,
            "--threads" => a.threads = value()?.parse()?,
            "--mountpoint" => a.mountpoint = Some(value()?.into()),
            "--clients" => {
                a.clients = value()?.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
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
            "--transport" => {
                a.transports = match value()?.as_str() {
                    "both" => vec![Transport::Classic, Transport::Uring],
                    "classic" => vec![Transport::Classic],
                    "uring" => vec![Transport::Uring],
                    t => bail!("unknown transport {t:?} (both, classic, uring)"),
                }
            }
            _ => bail!("unknown argument {flag:?}; see the top of examples/fuse_transport/main.rs"),
        }
    }
    if a.rounds == 0 || a.ops == 0 || a.clients.contains(&0) {
        bail!("--rounds, --ops and --clients must be positive");
    }
    Ok(a)
}

/// One measurement: a transport, a workload, a client count, a round.
struct Row {
    transport: Transport,
    workload: Workload,
    clients: usize,
    m: Measured,
}

/// One round: every transport of `order` mounted side by side (each on its
/// own directory under `dir`), then each workload and client count run on
/// each mount in turn, in that order, so that the two transports of a row
/// are measured seconds apart under the same load.
fn one_round(args: &Args, dir: &Path, order: &[Transport], round: usize, rows: &mut Vec<Row>) -> Result<()> {
    let mut sessions = Vec::new();
    let mut measured = (|| -> Result<()> {
        for &t in order {
            let at = dir.join(t.name());
            std::fs::create_dir_all(&at)?;
            let session = Session::mount(&at, t, args.threads)
                .with_context(|| format!("mounting the {} transport on {}", t.name(), at.display()))?;
            sessions.push((t, session));
        }
        for (_, session) in &sessions {
            // Warm up: the name's LOOKUP, the threads and rings running.
            workload::run(session, Workload::Stat, 1, 2_000)?;
        }
        for &w in &args.workloads {
            for &clients in &args.clients {
                for (transport, session) in &sessions {
                    let m = workload::run(session, w, clients, args.ops)?;
                    eprintln!(
                        "round {}/{} {:7} {} x{clients}: {} requests for {} ops ({} over io_uring, {} over /dev/fuse, {} in all), {:.2} µs/request",
                        round + 1,
                        args.rounds,
                        transport.name(),
                        w.name(),
                        m.requests(),
                        m.ops,
                        m.via_uring,
                        m.via_dev,
                        m.all,
                        m.us_per_request()
                    );
                    rows.push(Row {
                        transport: *transport,
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
        let unmounted = session
            .unmount()
            .with_context(|| format!("unmounting the {} transport", t.name()));
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

fn table(args: &Args, rows: &[Row]) -> String {
    let mut md = String::from(
        "| workload | clients | classic µs/request | uring µs/request | classic requests/s | uring requests/s | uring/classic (µs/request) | requests per op (classic, uring) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for &w in &args.workloads {
        for &clients in &args.clients {
            let cell = |t: Transport| {
                let of: Vec<&Measured> = rows
                    .iter()
                    .filter(|r| r.transport == t && r.workload == w && r.clients == clients)
                    .map(|r| &r.m)
                    .collect();
                let us = median(of.iter().map(|m| m.us_per_request()).collect());
                let per_op = median(of.iter().map(|m| m.requests() as f64 / m.ops as f64).collect());
                (us, per_op, !of.is_empty())
            };
            let (c, u) = (cell(Transport::Classic), cell(Transport::Uring));
            let show = |x: (f64, f64, bool)| {
                if x.2 {
                    (
                        format!("{:.2}", x.0),
                        format!("{:.0}", 1e6 / x.0),
                        format!("{:.3}", x.1),
                    )
                } else {
                    ("-".into(), "-".into(), "-".into())
                }
            };
            let (cs, us) = (show(c), show(u));
            let ratio = if c.2 && u.2 {
                format!("{:.3}×", u.0 / c.0)
            } else {
                "-".into()
            };
            md.push_str(&format!(
                "| {} | {clients} | {} | {} | {} | {} | {ratio} | {}, {} |\n",
                w.name(),
                cs.0,
                us.0,
                cs.1,
                us.1,
                cs.2,
                us.2
            ));
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
    eprintln!(
        "fuse enable_uring={}, {} possible CPUs, {} ops per phase, {} rounds, {} classic reader threads",
        enable.trim(),
        possible_cpus()?,
        args.ops,
        args.rounds,
        args.threads
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
        // ABBA: each transport goes first in every other round.
        let mut order = args.transports.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        one_round(&args, &dir, &order, round, &mut rows)?;
    }
    print!("{}", table(&args, &rows));
    Ok(())
}
