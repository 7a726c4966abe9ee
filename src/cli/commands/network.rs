//! `strata network create|ls|inspect|rm|prune|connect|disconnect`, printed
//! as `docker network`.

use super::filters;
use super::volume::{confirm, key_values};
use crate::cli::format::{ListFormat, indent_json, table};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::{
    Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkPruneResponse, NetworkResource,
};
use hyper::Method;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the network (only "bridge")
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Set metadata on a network (KEY=VALUE)
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// Set driver specific options (KEY=VALUE)
    #[arg(short = 'o', long = "opt", value_name = "OPTION")]
    options: Vec<String>,
    /// Subnet in CIDR format
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 gateway for the subnet
    #[arg(long)]
    gateway: Option<String>,
    /// Allocate container IPs from a sub-range
    #[arg(long)]
    ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    attachable: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    ipv6: bool,
    #[arg(value_name = "NETWORK")]
    name: String,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Filter: driver=, id=, label=, name=, type=custom|builtin
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true, value_name = "NETWORK")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Filter: label=KEY[=VALUE], label!=KEY[=VALUE]
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "ALIAS")]
    aliases: Vec<String>,
    /// IPv4 address
    #[arg(long)]
    ip: Option<String>,
    #[arg(value_name = "NETWORK")]
    network: String,
    #[arg(value_name = "CONTAINER")]
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    force: bool,
    #[arg(value_name = "NETWORK")]
    network: String,
    #[arg(value_name = "CONTAINER")]
    container: String,
}

pub async fn run(client: &Client, command: Command, out: &mut impl Write) -> Result<(), Error> {
    match command {
        Command::Create(a) => create(client, a, out).await,
        Command::Ls(a) => list(client, a, out).await,
        Command::Inspect(a) => inspect(client, a, out).await,
        Command::Rm(a) => remove(client, a, out).await,
        Command::Prune(a) => prune(client, a, out).await,
        Command::Connect(a) => {
            let mut endpoint = serde_json::json!({ "Aliases": a.aliases });
            if let Some(ip) = a.ip {
                endpoint["IPAMConfig"] = serde_json::json!({ "IPv4Address": ip });
            }
            let body = NetworkConnectRequest {
                container: a.container,
                endpoint_config: Some(endpoint),
            };
            client
                .post_json(&format!("/networks/{}/connect", encode(&a.network)), &body)
                .await
                .map(drop)
        }
        Command::Disconnect(a) => {
            let body = NetworkDisconnectRequest {
                container: a.container,
                force: a.force,
            };
            client
                .post_json(&format!("/networks/{}/disconnect", encode(&a.network)), &body)
                .await
                .map(drop)
        }
    }
}

async fn create(client: &Client, a: CreateArgs, out: &mut impl Write) -> Result<(), Error> {
    let config = match (&a.subnet, &a.gateway, &a.ip_range) {
        (None, None, None) => Vec::new(),
        _ => vec![IpamConfig {
            subnet: a.subnet.clone().unwrap_or_default(),
            gateway: a.gateway.clone().unwrap_or_default(),
            ip_range: a.ip_range.clone().unwrap_or_default(),
            ..Default::default()
        }],
    };
    let request = NetworkCreateRequest {
        name: a.name,
        driver: a.driver,
        internal: a.internal,
        attachable: a.attachable,
        enable_ipv6: a.ipv6.then_some(true),
        ipam: Some(Ipam {
            driver: "default".into(),
            options: Some(BTreeMap::new()),
            config: Some(config),
        }),
        options: Some(key_values(&a.options)),
        labels: Some(key_values(&a.labels)),
        ..Default::default()
    };
    let raw = client.post_json("/networks/create", &request).await?;
    let created: NetworkCreateResponse = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    write_out(out, &format!("{}\n", created.id))
}

/// `docker network ls`'s table (sorted by name) or its IDs.
/// The docker CLI's network formatter fields.
fn network_fields(n: &NetworkResource, no_trunc: bool) -> serde_json::Value {
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_json::json!({
        "ID": if no_trunc { n.id.clone() } else { n.id.chars().take(12).collect() },
        "Name": n.name, "Driver": n.driver, "Scope": n.scope,
        "IPv4": n.enable_ipv4.to_string(), "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(), "CreatedAt": n.created, "Labels": labels.join(","),
    })
}

fn list_formatted(mut nets: Vec<NetworkResource>, a: &LsArgs) -> Result<String, Error> {
    let format = ListFormat::parse(a.format.as_deref())?;
    nets.sort_by(|x, y| x.name.cmp(&y.name));
    let fields: Vec<serde_json::Value> = nets.iter().map(|n| network_fields(n, a.no_trunc)).collect();
    let headers = serde_json::json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
        "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS",
    });
    match a.quiet {
        true => Ok(list_text(nets, true, a.no_trunc)),
        false => Ok(format
            .render(&fields, &headers)?
            .unwrap_or_else(|| list_text(nets, false, a.no_trunc))),
    }
}

fn list_text(mut nets: Vec<NetworkResource>, quiet: bool, no_trunc: bool) -> String {
    nets.sort_by(|a, b| a.name.cmp(&b.name));
    let id = |n: &NetworkResource| {
        if no_trunc {
            n.id.clone()
        } else {
            n.id.chars().take(12).collect()
        }
    };
    if quiet {
        return nets.iter().map(|n| format!("{}\n", id(n))).collect();
    }
    let mut rows = vec![vec![
        "NETWORK ID".to_string(),
        "NAME".into(),
        "DRIVER".into(),
        "SCOPE".into(),
    ]];
    rows.extend(
        nets.iter()
            .map(|n| vec![id(n), n.name.clone(), n.driver.clone(), n.scope.clone()]),
    );
    table(&rows)
}

async fn list(client: &Client, a: LsArgs, out: &mut impl Write) -> Result<(), Error> {
    let query = filters::query(&filters::parse(&a.filter)?);
    let nets: Vec<NetworkResource> = client.get_json(&format!("/networks{query}")).await?;
    write_out(out, &list_formatted(nets, &a)?)
}

async fn inspect(client: &Client, a: InspectArgs, out: &mut impl Write) -> Result<(), Error> {
    let mut objects = Vec::new();
    let mut failed = false;
    for name in &a.names {
        match client
            .call(Method::GET, &format!("/networks/{}", encode(name)), None)
            .await
        {
            Ok(raw) => objects.push(String::from_utf8_lossy(&raw).trim().to_string()),
            Err(e @ Error::Daemon { status: 404, .. }) => {
                eprintln!("{e}");
                failed = true;
            }
            Err(e) => return Err(e),
        }
    }
    write_out(
        out,
        &(indent_json(format!("[{}]", objects.join(",")).as_bytes()) + "\n"),
    )?;
    if failed { Err(Error::Reported) } else { Ok(()) }
}

async fn remove(client: &Client, a: RmArgs, out: &mut impl Write) -> Result<(), Error> {
    let mut failed = false;
    for name in &a.names {
        match client
            .call(Method::DELETE, &format!("/networks/{}", encode(name)), None)
            .await
        {
            Ok(_) => write_out(out, &format!("{name}\n"))?,
            Err(Error::Daemon { status: 404, .. }) if a.force => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed { Err(Error::Reported) } else { Ok(()) }
}

/// What `docker network prune` prints after the daemon's answer.
fn prune_report(report: &NetworkPruneResponse) -> String {
    let deleted = report.networks_deleted.as_deref().unwrap_or_default();
    if deleted.is_empty() {
        return String::new();
    }
    let mut text = "Deleted Networks:\n".to_string();
    for name in deleted {
        text.push_str(name);
        text.push('\n');
    }
    text + "\n"
}

async fn prune(client: &Client, a: PruneArgs, out: &mut impl Write) -> Result<(), Error> {
    let warning = "WARNING! This will remove all custom networks not used by at least one container.";
    if !a.force && !confirm(warning, out)? {
        return Ok(());
    }
    let path = format!("/networks/prune{}", filters::query(&filters::parse(&a.filter)?));
    let raw = client.call(Method::POST, &path, None).await?;
    let report: NetworkPruneResponse = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    write_out(out, &prune_report(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_as_docker() {
        let n = |name: &str, id: &str, driver: &str| NetworkResource {
            name: name.into(),
            id: id.repeat(64),
            driver: driver.into(),
            scope: "local".into(),
            ..Default::default()
        };
        let nets = vec![
            n("none", "c", "null"),
            n("app", "a", "bridge"),
            n("bridge", "b", "bridge"),
        ];
        assert_eq!(
            list_text(nets.clone(), false, false),
            "NETWORK ID     NAME      DRIVER    SCOPE\naaaaaaaaaaaa   app       bridge    local\nbbbbbbbbbbbb   bridge    bridge    local\ncccccccccccc   none      null      local\n"
        );
        assert_eq!(
            list_text(nets, true, false),
            "aaaaaaaaaaaa\nbbbbbbbbbbbb\ncccccccccccc\n"
        );
    }

    #[test]
    fn prune_report_as_docker() {
        assert_eq!(prune_report(&NetworkPruneResponse::default()), "");
        let r = NetworkPruneResponse {
            networks_deleted: Some(vec!["a".into(), "b".into()]),
        };
        assert_eq!(prune_report(&r), "Deleted Networks:\na\nb\n\n");
    }
}
