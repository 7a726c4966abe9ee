//! `strata volume create|ls|inspect|rm|prune`, printed as `docker volume`.

use super::filters;
use crate::cli::format::{ListFormat, human_size, indent_json, table};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use hyper::Method;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes (only anonymous ones unless --all)
    Prune(PruneArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Volume driver name (only "local")
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// Set driver specific options (KEY=VALUE)
    #[arg(short = 'o', long = "opt", value_name = "OPTION")]
    options: Vec<String>,
    /// The volume's name (a random one when absent)
    #[arg(value_name = "VOLUME")]
    name: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Filter: dangling=true|false, driver=NAME, label=KEY[=VALUE], name=PART
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Volumes to inspect
    #[arg(required = true, value_name = "VOLUME")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    force: bool,
    /// Volumes to remove
    #[arg(required = true, value_name = "VOLUME")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Filter: label=KEY[=VALUE], label!=KEY[=VALUE]
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

pub async fn run(client: &Client, command: Command, out: &mut impl Write) -> Result<(), Error> {
    match command {
        Command::Create(a) => create(client, a, out).await,
        Command::Ls(a) => list(client, a, out).await,
        Command::Inspect(a) => inspect(client, a, out).await,
        Command::Rm(a) => remove(client, a, out).await,
        Command::Prune(a) => prune(client, a, out).await,
    }
}

/// `KEY=VALUE` flags as a map; a flag without `=` keeps an empty value,
/// as docker's `opts.ListOpts` of labels does.
pub(crate) fn key_values(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (f.clone(), String::new()),
        })
        .collect()
}

async fn create(client: &Client, args: CreateArgs, out: &mut impl Write) -> Result<(), Error> {
    let request = VolumeCreateRequest {
        name: args.name.unwrap_or_default(),
        driver: args.driver,
        driver_opts: key_values(&args.options),
        labels: key_values(&args.labels),
    };
    let raw = client.post_json("/volumes/create", &request).await?;
    let volume: Volume = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    write_out(out, &format!("{}\n", volume.name))
}

/// The docker CLI's volume formatter fields.
fn volume_fields(v: &Volume) -> serde_json::Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_json::json!({
        "Name": v.name, "Driver": v.driver, "Scope": v.scope, "Mountpoint": v.mountpoint,
        "Labels": labels.join(","), "Links": "N/A", "Size": "N/A",
    })
}

thread_local! {
    static VOLUME_HEADERS: serde_json::Value = serde_json::json!({
        "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
    });
}

async fn list(client: &Client, args: LsArgs, out: &mut impl Write) -> Result<(), Error> {
    let query = filters::query(&filters::parse(&args.filter)?);
    let mut listed: VolumeListResponse = client.get_json(&format!("/volumes{query}")).await?;
    // docker sorts by name.
    listed.volumes.sort_by(|a, b| a.name.cmp(&b.name));
    let format = ListFormat::parse(args.format.as_deref())?;
    let fields: Vec<serde_json::Value> = listed.volumes.iter().map(volume_fields).collect();
    let text = if args.quiet {
        listed.volumes.iter().map(|v| format!("{}\n", v.name)).collect()
    } else if let Some(text) = format.render(&fields, &VOLUME_HEADERS.with(Clone::clone))? {
        text
    } else {
        let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
        rows.extend(listed.volumes.iter().map(|v| vec![v.driver.clone(), v.name.clone()]));
        table(&rows)
    };
    write_out(out, &text)
}

async fn inspect(client: &Client, args: InspectArgs, out: &mut impl Write) -> Result<(), Error> {
    let mut objects = Vec::new();
    let mut missing = None;
    for name in &args.names {
        match client
            .call(Method::GET, &format!("/volumes/{}", encode(name)), None)
            .await
        {
            Ok(raw) => objects.push(String::from_utf8_lossy(&raw).trim().to_string()),
            Err(Error::Daemon { status: 404, .. }) => missing = Some(name.clone()),
            Err(e) => return Err(e),
        }
    }
    write_out(
        out,
        &(indent_json(format!("[{}]", objects.join(",")).as_bytes()) + "\n"),
    )?;
    match missing {
        Some(name) => Err(Error::Usage(format!("Error: No such volume: {name}"))),
        None => Ok(()),
    }
}

async fn remove(client: &Client, args: RmArgs, out: &mut impl Write) -> Result<(), Error> {
    let mut failed = false;
    for name in &args.names {
        let path = format!("/volumes/{}{}", encode(name), if args.force { "?force=1" } else { "" });
        match client.call(Method::DELETE, &path, None).await {
            Ok(_) => write_out(out, &format!("{name}\n"))?,
            // As docker: report each failure, go on with the rest, exit 1.
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed { Err(Error::Reported) } else { Ok(()) }
}

async fn prune(client: &Client, args: PruneArgs, out: &mut impl Write) -> Result<(), Error> {
    let warning = if args.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !args.force && !confirm(warning, out)? {
        return Ok(());
    }
    let mut map = filters::parse(&args.filter)?;
    if args.all {
        map.entry("all".into()).or_default().insert("true".into(), true);
    }
    let path = format!("/volumes/prune{}", filters::query(&map));
    let raw = client.call(Method::POST, &path, None).await?;
    let report: VolumePruneResponse = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    write_out(out, &prune_report(&report))
}

/// What `docker volume prune` prints after the daemon's answer.
pub(crate) fn prune_report(report: &VolumePruneResponse) -> String {
    let mut text = String::new();
    if !report.volumes_deleted.is_empty() {
        text.push_str("Deleted Volumes:\n");
        for name in &report.volumes_deleted {
            text.push_str(name);
            text.push('\n');
        }
        text.push('\n');
    }
    text + &format!("Total reclaimed space: {}\n", human_size(report.space_reclaimed as i64))
}

/// docker's prompt: the warning, then `y`/`Y` on stdin continues; anything
/// else (or end of input) answers no.
pub(crate) fn confirm(warning: &str, out: &mut impl Write) -> Result<bool, Error> {
    write_out(out, &format!("{warning}\nAre you sure you want to continue? [y/N] "))?;
    out.flush().map_err(|source| Error::Io {
        context: "writing output".into(),
        source,
    })?;
    let answer = crate::cli::read_stdin_line()?;
    Ok(matches!(answer.trim(), "y" | "Y"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_options_keep_values_after_the_first_equals() {
        let m = key_values(&["a=b=c".into(), "flag".into()]);
        assert_eq!(m["a"], "b=c");
        assert_eq!(m["flag"], "");
    }

    #[test]
    fn prune_reports_as_docker() {
        let none = VolumePruneResponse::default();
        assert_eq!(prune_report(&none), "Total reclaimed space: 0B\n");
        let some = VolumePruneResponse {
            volumes_deleted: vec!["a".into(), "b".into()],
            space_reclaimed: 1500,
        };
        assert_eq!(
            prune_report(&some),
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 1.5kB\n"
        );
    }
}
