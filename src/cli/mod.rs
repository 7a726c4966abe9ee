//! The `strata` client. Parsing happens in two steps, as in ripgrep: clap
//! turns the command line into raw flags, which are then validated into a
//! [`Config`]; each verb lives in its own file under `commands/` and talks to
//! the daemon only through the API (it knows `wire` and nothing else).

mod args;
mod client;
mod commands;
mod credentials;
mod format;
mod progress;
mod reference;
mod session;
mod template;
mod usage;

pub use client::{Client, TlsFiles};

use crate::wire::Host;
pub use args::Command;
use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to stratad at {host}: is it running? ({source})")]
    Connect { host: String, source: std::io::Error },
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    #[error("{0}")]
    Usage(String),
    /// An error line of the daemon's JSON stream: docker prints its
    /// message alone.
    #[error("{0}")]
    Stream(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("talking to stratad: {0}")]
    Protocol(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// An error and what the user can do about it, after a blank line.
    #[error("{error}\n\n{hint}")]
    WithHint { error: Box<Error>, hint: String },
    /// Failures already printed one by one (as `rmi` does); exit 1 quietly.
    #[error("")]
    Reported,
    /// Exit with this code, quietly (a container's exit code, or Docker's
    /// 125/126/127 after the error was printed).
    #[error("")]
    Exit(i32),
}

/// Raw flags, as typed.
#[derive(Parser, Debug)]
#[command(name = "strata", version, about = "The Strata client: talks to stratad over its API")]
pub struct RawArgs {
    /// Daemon to talk to: unix:///path or tcp://host:port
    #[arg(short = 'H', long = "host", env = "STRATA_HOST", value_name = "HOST")]
    host: Option<String>,
    /// Use TLS and verify the daemon; send a client certificate
    #[arg(long)]
    tlsverify: bool,
    /// CA certificate the daemon's certificate must chain to
    #[arg(long, value_name = "FILE")]
    tlscacert: Option<PathBuf>,
    /// Client certificate
    #[arg(long, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// Client key
    #[arg(long, value_name = "FILE")]
    tlskey: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Validated configuration.
pub struct Config {
    pub host: Host,
    pub tls: Option<TlsFiles>,
    pub command: Command,
}

impl RawArgs {
    pub fn validate(self) -> Result<Config, Error> {
        let host = match self.host.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => Host::parse(h).map_err(|e| Error::Usage(e.to_string()))?,
            None => Host::default_socket(),
        };
        let tls = if self.tlsverify {
            match (self.tlscacert, self.tlscert, self.tlskey) {
                (Some(ca), Some(cert), Some(key)) => Some(TlsFiles { ca, cert, key }),
                _ => {
                    return Err(Error::Usage(
                        "--tlsverify needs --tlscacert, --tlscert and --tlskey".into(),
                    ));
                }
            }
        } else {
            None
        };
        if matches!(host, Host::Tcp { .. }) && tls.is_none() {
            tracing::debug!("plain TCP to {host}");
        }
        Ok(Config {
            host,
            tls,
            command: self.command,
        })
    }
}

/// The exit code when stdout was closed before the output was all written.
const CLOSED_OUTPUT: i32 = 128 + 13;

/// Runs the client and returns the process exit code.
pub fn main() -> i32 {
    main_with(Vec::new())
}

/// [`main`], with `external` verbs listed in the help beside the client's:
/// commands the binary serves itself before the client parses (`strata
/// bench`), which this module knows only as clap trees.
pub fn main_with(external: Vec<clap::Command>) -> i32 {
    with_external(external);
    let root = command();
    let parsed = root
        .clone()
        .try_get_matches()
        .and_then(|m| <RawArgs as clap::FromArgMatches>::from_arg_matches(&m));
    let raw = match parsed {
        Ok(raw) => raw,
        Err(e) => {
            let argv: Vec<String> = std::env::args().collect();
            return usage::report(e, root, &argv);
        }
    };
    let config = match raw.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strata: {e}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("strata: starting the runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(run(config));
    // A read of stdin may still be blocked in a thread: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => 0,
        // Output piped into `head` and closed: nothing to say. Docker's
        // client dies of SIGPIPE there; this is the status a shell shows
        // for that (128 + 13).
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => CLOSED_OUTPUT,
        Err(Error::Reported) => 1,
        Err(Error::Exit(code)) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn run(config: Config) -> Result<(), Error> {
    let client = Client::new(config.host, config.tls.as_ref())?;
    let mut out = std::io::stdout().lock();
    args::run(&client, config.command, &mut out).await
}

/// Writes to stdout, mapping a closed pipe to an error like any other.
pub(crate) fn write_out(out: &mut impl std::io::Write, text: &str) -> Result<(), Error> {
    write_bytes(out, text.as_bytes())
}

/// Writes bytes to stdout, as [`write_out`] does text.
pub(crate) fn write_bytes(out: &mut impl std::io::Write, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).map_err(|source| Error::Io {
        context: "writing output".into(),
        source,
    })
}

/// Verbs the binary serves itself beside the client's (`strata bench`),
/// given to [`main_with`] or [`with_external`]: in the help, the
/// completion scripts and the man pages, as the client's verbs are.
static EXTERNAL: std::sync::OnceLock<Vec<clap::Command>> = std::sync::OnceLock::new();

/// Makes `external` part of [`command`] (once; what man pages are made from).
pub fn with_external(external: Vec<clap::Command>) {
    let _ = EXTERNAL.set(external);
}

/// The clap tree of the command line, the binary's own verbs included:
/// for parsing, completion scripts and man pages.
pub fn command() -> clap::Command {
    EXTERNAL
        .get()
        .into_iter()
        .flatten()
        .cloned()
        .fold(<RawArgs as clap::CommandFactory>::command(), clap::Command::subcommand)
}

/// One line of stdin, without its line end.
pub(crate) fn read_stdin_line() -> Result<String, Error> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|source| Error::Io {
            context: "reading stdin".into(),
            source,
        })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Percent-encodes a query or path value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
