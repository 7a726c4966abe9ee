//! The verbs, as clap parses them, and the function each one runs. The
//! container and image verbs are one enum each, flattened into both the top
//! level (`strata run`, `strata pull`) and the management commands
//! (`strata container run`, `strata image pull`), as docker spells both;
//! only the verbs whose names differ between the two (`ps` / `container
//! ls`, `rmi` / `image rm`, `inspect`) are written out twice.

use super::commands;
use super::{Client, Error};
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum Command {
    // Container verbs: run, create, start, stop... (the same under `container`).
    #[command(flatten)]
    ContainerVerbs(ContainerVerb),
    /// List containers
    Ps(commands::ps::Args),
    /// List images
    Images(commands::images::Args),
    /// Return low-level information on containers or images
    Inspect(commands::inspect::Args),
    /// Remove one or more images
    Rmi(commands::rmi::Args),
    // Image verbs: pull, push, tag, history... (the same under `image`).
    #[command(flatten)]
    ImageVerbs(ImageVerb),
    /// Log in to a registry (the credentials stay in strata's own file)
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Show the client and daemon versions
    Version(commands::FormatArgs),
    /// Display system-wide information
    Info(commands::FormatArgs),
    /// Get real time events from the server
    Events(commands::events::Args),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
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
    /// Manage Strata (df, info, prune)
    #[command(subcommand)]
    System(SystemCommand),
    /// Generate the autocompletion script for the specified shell
    Completion(commands::completion::Args),
}

/// The verbs spelt the same as `strata VERB` and `strata container VERB`.
#[derive(Subcommand, Debug)]
pub enum ContainerVerb {
    /// Create and run a new container from an image
    Run(commands::run::Args),
    /// Create a new container
    Create(commands::create::Args),
    /// Start one or more stopped containers
    Start(commands::start::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(commands::attach::Args),
    /// Stop one or more running containers
    Stop(commands::lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(commands::lifecycle::KillArgs),
    /// Restart one or more containers
    Restart(commands::lifecycle::RestartArgs),
    /// Remove one or more containers
    Rm(commands::lifecycle::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(commands::lifecycle::WaitArgs),
    /// Rename a container
    Rename(commands::lifecycle::RenameArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(commands::resources::StatsArgs),
    /// Pause all processes within one or more containers
    Pause(commands::resources::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(commands::resources::NamesArgs),
    /// Update configuration of one or more containers
    Update(commands::resources::UpdateArgs),
    /// Fetch the logs of a container
    Logs(commands::logs::Args),
    /// Execute a command in a running container
    Exec(commands::exec::Args),
    /// Display the running processes of a container
    Top(commands::top::Args),
    /// List port mappings or a specific mapping for the container
    Port(commands::port::Args),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(commands::diff::Args),
    /// Create a new image from a container's changes
    Commit(commands::commit::Args),
    /// Export a container's filesystem as a tar archive
    Export(commands::archives::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(commands::cp::Args),
}

/// The verbs spelt the same as `strata VERB` and `strata image VERB`.
#[derive(Subcommand, Debug)]
pub enum ImageVerb {
    /// Download an image from a registry
    Pull(commands::pull::Args),
    /// Upload an image to a registry
    Push(commands::push::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(commands::tag::Args),
    /// Show the history of an image
    History(commands::history::Args),
    /// Import a root filesystem tar (plain or gzip) as an image
    Import(commands::import::Args),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(commands::archives::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(commands::archives::LoadArgs),
}

/// `strata container ...`
// Parsed once per process: the size of its largest verb costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(commands::ps::Args),
    /// Display detailed information on one or more containers
    Inspect(commands::inspect::ContainerArgs),
    #[command(flatten)]
    Verb(ContainerVerb),
    /// Remove all stopped containers
    Prune(commands::prune::ContainerPruneArgs),
}

/// `strata image ...`
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(commands::images::Args),
    /// Display detailed information on one or more images
    Inspect(commands::inspect::ImageArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(commands::rmi::Args),
    #[command(flatten)]
    Verb(ImageVerb),
    /// Remove unused images
    Prune(commands::prune::ImagePruneArgs),
}

/// `strata system ...`
#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show Strata disk usage
    Df(commands::prune::DfArgs),
    /// Get real time events from the server
    Events(commands::events::Args),
    /// Display system-wide information
    Info(commands::FormatArgs),
    /// Remove unused data
    Prune(commands::prune::SystemPruneArgs),
}

pub async fn run(client: &Client, command: Command, out: &mut impl Write) -> Result<(), Error> {
    match command {
        Command::ContainerVerbs(v) => container_verb(client, v, out).await,
        Command::Ps(a) => commands::ps::run(client, a, out).await,
        Command::Images(a) => commands::images::run(client, a, out).await,
        Command::Inspect(a) => commands::inspect::run(client, a, out).await,
        Command::Rmi(a) => commands::rmi::run(client, a, out).await,
        Command::ImageVerbs(v) => image_verb(client, v, out).await,
        Command::Login(a) => commands::login::login(client, a, out).await,
        Command::Logout(a) => commands::login::logout(a, out),
        Command::Version(a) => commands::version::run(client, a, out).await,
        Command::Info(a) => commands::info::run(client, a, out).await,
        Command::Events(a) => commands::events::run(client, a, out).await,
        Command::Container(c) => container(client, c, out).await,
        Command::Image(c) => image(client, c, out).await,
        Command::Network(c) => commands::network::run(client, c, out).await,
        Command::Volume(c) => commands::volume::run(client, c, out).await,
        Command::Mount(a) => commands::mount::mount(client, a, out).await,
        Command::Unmount(a) => commands::mount::unmount(client, a, out).await,
        Command::System(c) => system(client, c, out).await,
        Command::Completion(a) => commands::completion::run(a, out),
    }
}

async fn container(client: &Client, command: ContainerCommand, out: &mut impl Write) -> Result<(), Error> {
    match command {
        ContainerCommand::Ls(a) => commands::ps::run(client, a, out).await,
        ContainerCommand::Inspect(a) => commands::inspect::container(client, a, out).await,
        ContainerCommand::Verb(v) => container_verb(client, v, out).await,
        ContainerCommand::Prune(a) => commands::prune::containers(client, a, out).await,
    }
}

async fn image(client: &Client, command: ImageCommand, out: &mut impl Write) -> Result<(), Error> {
    match command {
        ImageCommand::Ls(a) => commands::images::run(client, a, out).await,
        ImageCommand::Inspect(a) => commands::inspect::image(client, a, out).await,
        ImageCommand::Rm(a) => commands::rmi::run(client, a, out).await,
        ImageCommand::Verb(v) => image_verb(client, v, out).await,
        ImageCommand::Prune(a) => commands::prune::images(client, a, out).await,
    }
}

async fn system(client: &Client, command: SystemCommand, out: &mut impl Write) -> Result<(), Error> {
    match command {
        SystemCommand::Df(a) => commands::prune::df(client, a, out).await,
        SystemCommand::Events(a) => commands::events::run(client, a, out).await,
        SystemCommand::Info(a) => commands::info::run(client, a, out).await,
        SystemCommand::Prune(a) => commands::prune::system(client, a, out).await,
    }
}

async fn container_verb(client: &Client, verb: ContainerVerb, out: &mut impl Write) -> Result<(), Error> {
    use commands::{archives, lifecycle, resources};
    match verb {
        ContainerVerb::Run(a) => commands::run::run(client, a, out).await,
        ContainerVerb::Create(a) => commands::create::run(client, a, out).await,
        ContainerVerb::Start(a) => commands::start::run(client, a, out).await,
        ContainerVerb::Attach(a) => commands::attach::run(client, a).await,
        ContainerVerb::Stop(a) => lifecycle::stop(client, a, out).await,
        ContainerVerb::Kill(a) => lifecycle::kill(client, a, out).await,
        ContainerVerb::Restart(a) => lifecycle::restart(client, a, out).await,
        ContainerVerb::Rm(a) => lifecycle::rm(client, a, out).await,
        ContainerVerb::Wait(a) => lifecycle::wait(client, a, out).await,
        ContainerVerb::Rename(a) => lifecycle::rename(client, a).await,
        ContainerVerb::Stats(a) => resources::stats(client, a, out).await,
        ContainerVerb::Pause(a) => resources::pause(client, a, out).await,
        ContainerVerb::Unpause(a) => resources::unpause(client, a, out).await,
        ContainerVerb::Update(a) => resources::update(client, a, out).await,
        ContainerVerb::Logs(a) => commands::logs::run(client, a).await,
        ContainerVerb::Exec(a) => commands::exec::run(client, a).await,
        ContainerVerb::Top(a) => commands::top::run(client, a, out).await,
        ContainerVerb::Port(a) => commands::port::run(client, a, out).await,
        ContainerVerb::Diff(a) => commands::diff::run(client, a, out).await,
        ContainerVerb::Commit(a) => commands::commit::run(client, a, out).await,
        ContainerVerb::Export(a) => archives::export(client, a).await,
        ContainerVerb::Cp(a) => commands::cp::run(client, a).await,
    }
}

async fn image_verb(client: &Client, verb: ImageVerb, out: &mut impl Write) -> Result<(), Error> {
    match verb {
        ImageVerb::Pull(a) => commands::pull::run(client, a, out).await,
        ImageVerb::Push(a) => commands::push::run(client, a, out).await,
        ImageVerb::Tag(a) => commands::tag::run(client, a).await,
        ImageVerb::History(a) => commands::history::run(client, a, out).await,
        ImageVerb::Import(a) => commands::import::run(client, a, out).await,
        ImageVerb::Save(a) => commands::archives::save(client, a).await,
        ImageVerb::Load(a) => commands::archives::load(client, a, out).await,
    }
}
