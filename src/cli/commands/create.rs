use super::pull::{parse, pull};
use crate::cli::progress::terminal_width;
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::{ContainerConfig, ContainerCreateRequest, HostConfig, IdResponse};
use std::io::Write;

/// `--pull`: when `create`/`run` pull the image first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Before creating, every time.
    Always,
    /// When the daemon does not have it (Docker's default).
    #[default]
    Missing,
    /// Never: a missing image is an error.
    Never,
}

/// Parses `--pull`, refusing other values with docker's words.
pub fn parse_pull_policy(value: &str) -> Result<PullPolicy, String> {
    match value {
        "always" => Ok(PullPolicy::Always),
        "missing" | "" => Ok(PullPolicy::Missing),
        "never" => Ok(PullPolicy::Never),
        other => Err(format!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        )),
    }
}

/// The flags `create` and `run` share, as Docker spells them.
#[derive(clap::Args, Debug)]
pub struct ContainerArgs {
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Name the container
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to pass this one's)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User: NAME|UID[:GROUP|GID]
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Container host name
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Network: bridge (the default: its own, through pasta), host, none or a user-defined network
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container (a user-defined network's)
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub network_aliases: Vec<String>,
    /// IPv4 address (on a user-defined network with a --subnet of its own)
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// Override the image's entrypoint
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Set a label (KEY=VALUE)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Seconds to wait for the stop signal before killing
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<i64>,
    /// Signal that stops the container
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Pull the image before creating: always, missing (when absent) or never
    #[arg(long, value_name = "POLICY", default_value = "missing", value_parser = parse_pull_policy)]
    pub pull: PullPolicy,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub mount_args: super::mount_args::MountArgs,
    #[command(flatten)]
    pub security: super::security_args::SecurityArgs,
    #[command(flatten)]
    pub resources: super::resource_args::ResourceArgs,
    #[command(flatten)]
    pub init: super::init_args::InitArgs,
    #[command(flatten)]
    pub ports: super::port_args::PortArgs,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl ContainerArgs {
    /// The create request; `attached` when the client will attach (run
    /// without -d).
    pub fn request(&self, attached: bool) -> ContainerCreateRequest {
        let env: Vec<String> = self
            .env
            .iter()
            .filter_map(|e| {
                if e.contains('=') {
                    Some(e.clone())
                } else {
                    // Docker: `-e KEY` passes the client's value, if any.
                    std::env::var(e).ok().map(|v| format!("{e}={v}"))
                }
            })
            .collect();
        let labels = self
            .labels
            .iter()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        let mut request = ContainerCreateRequest {
            config: ContainerConfig {
                hostname: self.hostname.clone().unwrap_or_default(),
                user: self.user.clone().unwrap_or_default(),
                attach_stdin: attached && self.interactive,
                attach_stdout: attached,
                attach_stderr: attached,
                tty: self.tty,
                open_stdin: self.interactive,
                stdin_once: attached && self.interactive,
                env: Some(env),
                cmd: (!self.command.is_empty()).then(|| self.command.clone()),
                image: self.image.clone(),
                working_dir: self.workdir.clone().unwrap_or_default(),
                entrypoint: self.entrypoint.as_ref().map(|e| vec![e.clone()]),
                labels: Some(labels),
                stop_signal: self.stop_signal.clone(),
                stop_timeout: self.stop_timeout,
                ..Default::default()
            },
            host_config: HostConfig {
                network_mode: self.network.clone().unwrap_or_else(|| "default".into()),
                auto_remove: self.rm,
                console_size: if self.tty {
                    crate::cli::session::terminal_size().map(|(h, w)| [h as u32, w as u32])
                } else {
                    None
                },
                ..Default::default()
            },
        };
        if !self.network_aliases.is_empty() || self.ip.is_some() {
            // As docker: the endpoint of the network the mode names.
            let network = request.host_config.network_mode.clone();
            let mut endpoint = serde_json::json!({"Aliases": self.network_aliases});
            if let Some(ip) = &self.ip {
                endpoint["IPAMConfig"] = serde_json::json!({"IPv4Address": ip});
            }
            request.config.extra.insert(
                "NetworkingConfig".into(),
                serde_json::json!({"EndpointsConfig": {network: endpoint}}),
            );
        }
        self.security.apply(&mut request.host_config);
        self.resources.apply(&mut request.host_config);
        self.init.apply(&mut request.host_config);
        request
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    container: ContainerArgs,
}

/// Creates the container and returns its ID.
pub async fn create(client: &Client, args: &ContainerArgs, attached: bool) -> Result<String, Error> {
    let path = match &args.name {
        Some(n) => format!("/containers/create?name={}", encode(n)),
        None => "/containers/create".to_string(),
    };
    let mut request = args.request(attached);
    args.mount_args.apply(&mut request)?;
    args.ports
        .apply(&mut request.config, &mut request.host_config)
        .map_err(Error::Usage)?;
    let next_step = |e| with_next_step(e, &args.image);
    if args.pull == PullPolicy::Always {
        pull_to_stderr(client, &args.image, args.quiet)
            .await
            .map_err(next_step)?;
    }
    let reply = match client.post_json(&path, &request).await {
        Err(Error::Daemon { status: 404, message })
            if args.pull == PullPolicy::Missing && message.starts_with("No such image") =>
        {
            let reference = parse(&args.image)?.with_default_tag();
            if !args.quiet {
                eprintln!("Unable to find image '{}' locally", reference.familiar_string());
            }
            pull_to_stderr(client, &args.image, args.quiet)
                .await
                .map_err(next_step)?;
            client.post_json(&path, &request).await?
        }
        Err(e @ Error::Daemon { status: 404, .. }) if args.pull == PullPolicy::Never => return Err(next_step(e)),
        reply => reply?,
    };
    let id: IdResponse = serde_json::from_slice(&reply).map_err(|e| Error::Protocol(e.to_string()))?;
    for w in id.warnings.unwrap_or_default() {
        eprintln!("WARNING: {w}");
    }
    Ok(id.id)
}

/// An image that is not here and could not be pulled: what to do next
/// follows the error (this machine may have no registry to reach).
fn with_next_step(error: Error, image: &str) -> Error {
    if matches!(error, Error::Usage(_)) {
        return error;
    }
    let name = parse(image).map_or_else(|_| image.to_string(), |r| r.with_default_tag().familiar_string());
    Error::WithHint {
        error: Box::new(error),
        hint: format!(
            "To get the image: pull it from a registry you can reach (strata pull {name}), \
             load an archive of docker save (strata load -i FILE), or import a root filesystem \
             tar (strata import FILE {name})."
        ),
    }
}

/// Pulls an image for `create`/`run`, drawing the stream on stderr (stdout
/// is for the container), as docker does; with `-q` the stream is read
/// (its error still fails the pull) but not shown.
async fn pull_to_stderr(client: &Client, image: &str, quiet: bool) -> Result<(), Error> {
    let reference = parse(image)?.with_default_tag();
    if quiet {
        return pull(client, &reference, None, std::io::sink(), None).await;
    }
    let terminal = terminal_width(std::io::stderr());
    pull(client, &reference, None, std::io::stderr().lock(), terminal).await
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let id = create(client, &args.container, false).await?;
    write_out(out, &format!("{id}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies_parse_as_docker_spells_them() {
        assert_eq!(parse_pull_policy("always"), Ok(PullPolicy::Always));
        assert_eq!(parse_pull_policy("missing"), Ok(PullPolicy::Missing));
        assert_eq!(parse_pull_policy("never"), Ok(PullPolicy::Never));
        assert_eq!(
            parse_pull_policy("sometimes"),
            Err("invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"".into())
        );
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            c: ContainerArgs,
        }
        use clap::Parser as _;
        assert_eq!(
            Cli::parse_from(["x", "busybox"]).c.pull,
            PullPolicy::Missing,
            "the default"
        );
        assert_eq!(
            Cli::parse_from(["x", "--pull", "never", "busybox"]).c.pull,
            PullPolicy::Never
        );
        assert!(Cli::try_parse_from(["x", "--pull", "bad", "busybox"]).is_err());
        assert!(Cli::parse_from(["x", "-q", "busybox"]).c.quiet, "docker's -q/--quiet");
    }
}
