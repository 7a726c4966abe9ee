//! `stratad`: the Strata daemon. Owns the store and serves the API.

use anyhow::{Context, bail};
use clap::Parser;
use std::path::PathBuf;
use strata::api::{Daemon, DaemonConfig, TlsFiles, default_config_dir, default_root};
use strata::wire::Host;

#[path = "stratad/pidfile.rs"]
mod pidfile;

/// The Strata daemon: owns images and layers and serves the Docker Engine API.
#[derive(Parser, Debug)]
#[command(name = "stratad", version, about)]
struct Args {
    /// Root of the store [default: /var/lib/strata as root, $XDG_DATA_HOME/strata otherwise]
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Where to listen: unix:///path or tcp://addr:port (repeatable)
    /// [default: unix:///run/strata/strata.sock as root, unix://$XDG_RUNTIME_DIR/strata/strata.sock otherwise]
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Serve TCP with TLS and require client certificates signed by --tlscacert
    #[arg(long)]
    tlsverify: bool,
    /// CA certificate (PEM) that client certificates must chain to
    #[arg(long, value_name = "FILE")]
    tlscacert: Option<PathBuf>,
    /// Server certificate (PEM)
    #[arg(long, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// Server private key (PEM)
    #[arg(long, value_name = "FILE")]
    tlskey: Option<PathBuf>,
    /// Allow plain TCP without TLS, on loopback addresses only
    #[arg(long)]
    insecure: bool,
    /// What keeps containers off the host's devices (as root): v1, the cgroup v1
    /// devices controller; v2, a cgroup2 device program (BPF); auto, v1 where it is
    /// mounted, else v2. Without either, containers are refused.
    #[arg(long, default_value = "auto", value_name = "auto|v1|v2")]
    device_cgroup: strata::run::cgroup::Choice,
    /// Seconds running containers get to stop when the daemon shuts down
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    shutdown_timeout: u64,
    /// A registry reachable over plain HTTP (HOST or HOST:PORT; repeatable).
    /// Loopback registries always are.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registries: Vec<String>,
    /// Strata's config directory: registries' CAs and client certificates in
    /// DIR/certs.d/HOST:PORT/ [default: /etc/strata as root, $XDG_CONFIG_HOME/strata otherwise]
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// Start every container on a new shim, not on the spare kept ready in
    /// cgroups of its own (slower: for comparison and diagnosis)
    #[arg(long)]
    no_spare: bool,
    /// Where to write the daemon's pid [default: stratad.pid beside the first
    /// Unix socket: /run/strata/stratad.pid as root,
    /// $XDG_RUNTIME_DIR/strata/stratad.pid otherwise]
    #[arg(short = 'p', long, value_name = "FILE")]
    pidfile: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace
    #[arg(short = 'l', long, default_value = "info", value_name = "LEVEL")]
    log_level: String,
    /// Same as --log-level debug
    #[arg(short = 'D', long)]
    debug: bool,
}

impl Args {
    fn into_config(self) -> anyhow::Result<DaemonConfig> {
        let hosts = if self.hosts.is_empty() {
            vec![Host::default_socket()]
        } else {
            self.hosts.iter().map(|h| Host::parse(h)).collect::<Result<_, _>>()?
        };
        let tls = if self.tlsverify {
            match (self.tlscacert, self.tlscert, self.tlskey) {
                (Some(ca), Some(cert), Some(key)) => Some(TlsFiles { ca, cert, key }),
                _ => bail!("--tlsverify needs --tlscacert, --tlscert and --tlskey"),
            }
        } else {
            if self.tlscacert.is_some() || self.tlscert.is_some() || self.tlskey.is_some() {
                bail!("--tlscacert, --tlscert and --tlskey take effect only with --tlsverify");
            }
            None
        };
        Ok(DaemonConfig {
            root: self.root.unwrap_or_else(default_root),
            hosts,
            tls,
            insecure: self.insecure,
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout),
            device_cgroup: self.device_cgroup,
            no_spare: self.no_spare,
            helper: std::env::current_exe().context("finding stratad's own executable")?,
            registry: strata::registry::RegistryConfig {
                insecure: self.insecure_registries,
                config_dir: self.config_dir.unwrap_or_else(default_config_dir),
            },
        })
    }
}

/// SIGTERM's and SIGINT's handlers, installed now (inside the runtime,
/// before the daemon says it is ready: a signal from then on is a clean
/// stop, never the default action), and the future that ends with the
/// first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down");
    })
}

fn main() {
    // The container helpers re-run this binary: they must start here,
    // single-threaded, before anything else.
    strata::run::dispatch_helper();
    // Before any thread: each container mount's buffers must go back to
    // the kernel when the mount ends (see sys::keep_large_blocks_mapped).
    strata::sys::keep_large_blocks_mapped();
    let args = Args::parse();
    let level = if args.debug {
        "debug".to_string()
    } else {
        args.log_level.clone()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("strata={level},stratad={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a log file or a pipe
        // gets plain lines.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(args) {
        eprintln!("stratad: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let pidfile_arg = args.pidfile.clone();
    let config = args.into_config()?;
    let pid_path = pidfile_arg.unwrap_or_else(|| pidfile::default_path(&config.hosts));
    pidfile::refuse_if_taken(&pid_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let (daemon, listeners) = Daemon::start(config).await?;
        let pidfile = pidfile::PidFile::write(&pid_path)?;
        tracing::info!(root = %daemon.store.root().display(), version = strata::VERSION, "stratad ready");
        listeners.serve(daemon, shutdown).await;
        pidfile.remove();
        Ok(())
    })
}
