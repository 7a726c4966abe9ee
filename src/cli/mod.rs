//! The `strata` client. Parsing happens in two steps, as in ripgrep: clap
//! turns the command line into raw flags, which are then validated into a
//! [`Config`]; each verb lives in its own file under `commands/` and talks to
//! the daemon only through the API (it knows `wire` and nothing else).

mod client;
mod commands;
mod credentials;
mod format;
mod progress;
mod reference;
mod session;
mod template;

pub use client::{Client, TlsFiles};

use crate::wire::Host;
use clap::{Parser, Subcommand};
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
    #[arg(short = 'H', long = "host", env = "STRATA_HOST", global = true, value_name = "HOST")]
    host: Option<String>,
    /// Use TLS and verify the daemon; send a client certificate
    #[arg(long, global = true)]
    tlsverify: bool,
    /// CA certificate the daemon's certificate must chain to
    #[arg(long, global = true, value_name = "FILE")]
    tlscacert: Option<PathBuf>,
    /// Client certificate
    #[arg(long, global = true, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// Client key
    #[arg(long, global = true, value_name = "FILE")]
    tlskey: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the client and daemon versions
    Version(commands::FormatArgs),
    /// Show system-wide information
    Info(commands::FormatArgs),
    /// Get real time events from the server
    Events(commands::events::Args),
    /// Import a root filesystem tar (plain or gzip) as an image
    Import(commands::import::Args),
    /// List images
    Images(commands::images::Args),
    /// Show an image's details as JSON
    Inspect(commands::inspect::Args),
    /// Give an image another name
    Tag(commands::tag::Args),
    /// Remove images
    Rmi(commands::rmi::Args),
    /// Show an image's history
    History(commands::history::Args),
    /// Create and run a container
    Run(commands::run::Args),
    /// Create a container
    Create(commands::create::Args),
    /// Start containers
    Start(commands::start::Args),
    /// Attach to a running container
    Attach(commands::attach::Args),
    /// List containers
    Ps(commands::ps::Args),
    /// Stop running containers
    Stop(commands::lifecycle::StopArgs),
    /// Kill running containers
    Kill(commands::lifecycle::KillArgs),
    /// Restart containers
    Restart(commands::lifecycle::RestartArgs),
    /// Remove containers
    Rm(commands::lifecycle::RmArgs),
    /// Block until containers stop, then print their exit codes
    Wait(commands::lifecycle::WaitArgs),
    /// Rename a container
    Rename(commands::lifecycle::RenameArgs),
    /// Display a live stream of containers' resource usage statistics
    Stats(commands::resources::StatsArgs),
    /// Pause all processes within containers
    Pause(commands::resources::NamesArgs),
    /// Unpause all processes within containers
    Unpause(commands::resources::NamesArgs),
    /// Update configuration of containers
    Update(commands::resources::UpdateArgs),
    /// Fetch the logs of a container
    Logs(commands::logs::Args),
    /// Run a command in a running container
    Exec(commands::exec::Args),
    /// Show the running processes of a container
    Top(commands::top::Args),
    /// List port mappings or a specific mapping for the container
    Port(commands::port::Args),
    /// List the changes to files and directories of a container's filesystem
    Diff(commands::diff::Args),
    /// Create a new image from a container's changes
    Commit(commands::commit::Args),
    /// Download an image from a registry
    Pull(commands::pull::Args),
    /// Upload an image to a registry
    Push(commands::push::Args),
    /// Log in to a registry (the credentials stay in strata's own file)
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Save images to a tar archive (streamed to STDOUT by default)
    Save(commands::archives::SaveArgs),
    /// Load images from a tar archive or STDIN
    Load(commands::archives::LoadArgs),
    /// Export a container's filesystem as a tar archive
    Export(commands::archives::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(commands::cp::Args),
    /// Manage networks
    #[command(subcommand)]
    Network(commands::network::Command),
    /// Manage volumes
    #[command(subcommand)]
    Volume(commands::volume::Command),
    /// Mount an image's layers (read-only, or over --upper) or a container's root; with no argument, list what is mounted
    Mount(commands::mount::MountArgs),
    /// Unmount what `strata mount` mounted
    #[command(visible_alias = "umount")]
    Unmount(commands::mount::UnmountArgs),
    /// Manage containers (prune)
    #[command(subcommand)]
    Container(commands::prune::ContainerCommand),
    /// Manage images (prune)
    #[command(subcommand)]
    Image(commands::prune::ImageCommand),
    /// Manage the daemon's data (df, prune)
    #[command(subcommand)]
    System(commands::prune::SystemCommand),
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

/// Runs the client and returns the process exit code.
pub fn main() -> i32 {
    let config = match RawArgs::parse().validate() {
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
    match config.command {
        Command::Version(a) => commands::version::run(&client, a, &mut out).await,
        Command::Info(a) => commands::info::run(&client, a, &mut out).await,
        Command::Events(a) => commands::events::run(&client, a, &mut out).await,
        Command::Import(a) => commands::import::run(&client, a, &mut out).await,
        Command::Images(a) => commands::images::run(&client, a, &mut out).await,
        Command::Inspect(a) => commands::inspect::run(&client, a, &mut out).await,
        Command::Tag(a) => commands::tag::run(&client, a).await,
        Command::Rmi(a) => commands::rmi::run(&client, a, &mut out).await,
        Command::History(a) => commands::history::run(&client, a, &mut out).await,
        Command::Run(a) => commands::run::run(&client, a, &mut out).await,
        Command::Create(a) => commands::create::run(&client, a, &mut out).await,
        Command::Start(a) => commands::start::run(&client, a, &mut out).await,
        Command::Attach(a) => commands::attach::run(&client, a).await,
        Command::Ps(a) => commands::ps::run(&client, a, &mut out).await,
        Command::Stop(a) => commands::lifecycle::stop(&client, a, &mut out).await,
        Command::Kill(a) => commands::lifecycle::kill(&client, a, &mut out).await,
        Command::Restart(a) => commands::lifecycle::restart(&client, a, &mut out).await,
        Command::Rm(a) => commands::lifecycle::rm(&client, a, &mut out).await,
        Command::Wait(a) => commands::lifecycle::wait(&client, a, &mut out).await,
        Command::Rename(a) => commands::lifecycle::rename(&client, a).await,
        Command::Stats(a) => commands::resources::stats(&client, a, &mut out).await,
        Command::Pause(a) => commands::resources::pause(&client, a, &mut out).await,
        Command::Unpause(a) => commands::resources::unpause(&client, a, &mut out).await,
        Command::Update(a) => commands::resources::update(&client, a, &mut out).await,
        Command::Logs(a) => commands::logs::run(&client, a).await,
        Command::Exec(a) => commands::exec::run(&client, a).await,
        Command::Top(a) => commands::top::run(&client, a, &mut out).await,
        Command::Port(a) => commands::port::run(&client, a, &mut out).await,
        Command::Diff(a) => commands::diff::run(&client, a, &mut out).await,
        Command::Commit(a) => commands::commit::run(&client, a, &mut out).await,
        Command::Pull(a) => commands::pull::run(&client, a, &mut out).await,
        Command::Push(a) => commands::push::run(&client, a, &mut out).await,
        Command::Login(a) => commands::login::login(&client, a, &mut out).await,
        Command::Logout(a) => commands::login::logout(a, &mut out),
        Command::Save(a) => commands::archives::save(&client, a).await,
        Command::Load(a) => commands::archives::load(&client, a, &mut out).await,
        Command::Export(a) => commands::archives::export(&client, a).await,
        Command::Cp(a) => commands::cp::run(&client, a).await,
        Command::Volume(c) => commands::volume::run(&client, c, &mut out).await,
        Command::Mount(a) => commands::mount::mount(&client, a, &mut out).await,
        Command::Unmount(a) => commands::mount::unmount(&client, a, &mut out).await,
        Command::Container(c) => commands::prune::container(&client, c, &mut out).await,
        Command::Image(c) => commands::prune::image(&client, c, &mut out).await,
        Command::System(c) => commands::prune::system(&client, c, &mut out).await,
        Command::Network(c) => commands::network::run(&client, c, &mut out).await,
    }
}

/// Writes to stdout, mapping a closed pipe to an error like any other.
pub(crate) fn write_out(out: &mut impl std::io::Write, text: &str) -> Result<(), Error> {
    out.write_all(text.as_bytes()).map_err(|source| Error::Io {
        context: "writing output".into(),
        source,
    })
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
