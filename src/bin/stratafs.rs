//! `stratafs`: the union filesystem as a standalone FUSE mount, with
//! fuse-overlayfs's command line, so Podman can use it as `mount_program`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use strata::fs::{MountConfig, OptionsError, UnionFs, parse_mount_args};

/// Set in the child that serves the mount; it reports on stdout.
const CHILD_ENV: &str = "STRATAFS_SERVING";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_mount_args(args.clone()) {
        Ok(c) => c,
        Err(OptionsError::Help(h)) => {
            println!("{h}");
            return;
        }
        Err(e) => {
            eprintln!("stratafs: {e}\n{}", strata::fs::USAGE);
            std::process::exit(1);
        }
    };
    let level = if cfg.debug { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("strata={level},stratafs={level}"))),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a log file or a pipe
        // gets plain lines.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    for opt in &cfg.ignored {
        tracing::warn!("unknown or unsupported option {opt:?} ignored");
    }
    if cfg.foreground {
        serve(&cfg, std::env::var_os(CHILD_ENV).is_some());
    } else {
        daemonize(&args);
    }
}

/// Runs a copy of ourselves in the foreground, detached, and returns once it
/// reports the mount ready (or failed).
fn daemonize(args: &[String]) {
    let exe = std::env::current_exe().unwrap_or_else(|_| "stratafs".into());
    let child = Command::new(exe)
        .arg("-f")
        .args(args)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stratafs: starting the server: {e}");
            std::process::exit(1);
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    match line.trim_end() {
        "ready" => {}
        "" => {
            let status = child.wait().ok();
            eprintln!("stratafs: the server exited before mounting ({status:?})");
            std::process::exit(1);
        }
        msg => {
            eprintln!("stratafs: {msg}");
            std::process::exit(1);
        }
    }
}

fn serve(cfg: &MountConfig, report: bool) {
    let say = |msg: &str| {
        if report {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{msg}");
            let _ = out.flush();
        } else if msg != "ready" {
            eprintln!("stratafs: {msg}");
        }
    };
    let fs = match UnionFs::new(cfg) {
        Ok(mut fs) => {
            fs.exit_when_unmounted();
            fs
        }
        Err(e) => {
            say(&format!("{e}"));
            std::process::exit(1);
        }
    };
    if let Some(path) = cfg.request_counts.clone() {
        report_counts_on_sigusr1(fs.request_counts(), path);
    }
    let session = match strata::fs::mount_union(fs, cfg) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("mounting {}: {e}", cfg.mountpoint.display()));
            std::process::exit(1);
        }
    };
    say("ready");
    if report {
        // Nothing more goes to the parent, which has gone.
        if let Ok(null) = std::fs::File::create("/dev/null") {
            let _ = strata::sys::redirect_stdout(&null);
        }
    }
    if let Err(e) = session.run() {
        tracing::error!("serving the mount: {e}");
        std::process::exit(1);
    }
}

/// SIGUSR1 writes the request counts so far to `path` (as the unmount
/// does), for a benchmark or a user who wants them from a live mount. The
/// signal is blocked before any serving thread starts, so only this thread
/// takes it.
fn report_counts_on_sigusr1(counts: std::sync::Arc<strata::fs::RequestCounts>, path: std::path::PathBuf) {
    if let Err(e) = strata::sys::signals::block_signal(libc::SIGUSR1) {
        tracing::warn!("request counts on SIGUSR1: {e}");
        return;
    }
    std::thread::spawn(move || {
        while strata::sys::signals::wait_for_signal(libc::SIGUSR1).is_ok() {
            if let Err(e) = counts.write_report(&path) {
                tracing::warn!("writing the request counts to {}: {e}", path.display());
            }
        }
    });
}
