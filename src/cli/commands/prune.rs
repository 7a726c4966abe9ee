//! `strata container prune`, `image prune [-a]`, `system df [-v]` and
//! `system prune [-a] [--volumes]`, asked and printed as the docker CLI
//! asks and prints them.

use super::filters;
use super::volume::{confirm, prune_report};
use crate::cli::format::{human_size_with_precision, table};
use crate::cli::{Client, Error, write_out};
use crate::wire::{ContainersPruneResponse, DiskUsage, ImagesPruneResponse, VolumePruneResponse, display};
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    verbose: bool,
}

#[derive(clap::Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

pub async fn containers(client: &Client, a: ContainerPruneArgs, out: &mut impl Write) -> Result<(), Error> {
    if !a.force && !confirm("WARNING! This will remove all stopped containers.", out)? {
        return Ok(());
    }
    let report = prune_containers(client, &a.filter).await?;
    write_out(out, &(containers_report(&report) + &total(report.space_reclaimed)))
}

pub async fn images(client: &Client, a: ImagePruneArgs, out: &mut impl Write) -> Result<(), Error> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(warning, out)? {
        return Ok(());
    }
    let report = prune_images(client, &a.filter, a.all).await?;
    write_out(out, &(images_report(&report) + &total(report.space_reclaimed)))
}

/// docker's `units.HumanSize`: four significant digits.
fn human_size(bytes: i64) -> String {
    human_size_with_precision(bytes, 4)
}

fn total(bytes: u64) -> String {
    format!("Total reclaimed space: {}\n", human_size(bytes as i64))
}

async fn prune_containers(client: &Client, filter: &[String]) -> Result<ContainersPruneResponse, Error> {
    let q = filters::query(&filters::parse(filter)?);
    let raw = client
        .call(Method::POST, &format!("/containers/prune{q}"), None)
        .await?;
    serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))
}

async fn prune_images(client: &Client, filter: &[String], all: bool) -> Result<ImagesPruneResponse, Error> {
    let mut map = filters::parse(filter)?;
    if all {
        map.entry("dangling".into()).or_default().insert("false".into(), true);
    }
    let q = filters::query(&map);
    let raw = client.call(Method::POST, &format!("/images/prune{q}"), None).await?;
    serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))
}

fn containers_report(r: &ContainersPruneResponse) -> String {
    match r.containers_deleted.as_deref() {
        Some(ids) if !ids.is_empty() => format!("Deleted Containers:\n{}\n\n", ids.join("\n")),
        _ => String::new(),
    }
}

fn images_report(r: &ImagesPruneResponse) -> String {
    let Some(items) = r.images_deleted.as_deref().filter(|i| !i.is_empty()) else {
        return String::new();
    };
    let mut text = "Deleted Images:\n".to_string();
    for i in items {
        if let Some(t) = &i.untagged {
            text += &format!("untagged: {t}\n");
        }
        if let Some(d) = &i.deleted {
            text += &format!("deleted: {d}\n");
        }
    }
    text + "\n"
}

pub async fn system(client: &Client, a: SystemPruneArgs, out: &mut impl Write) -> Result<(), Error> {
    let mut warning =
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n"
            .to_string();
    if a.volumes {
        warning += "  - all anonymous volumes not used by at least one container\n";
    }
    warning += if a.all {
        "  - all images without at least one container associated to them\n  - all build cache\n"
    } else {
        "  - all dangling images\n  - unused build cache\n"
    };
    if !a.force && !confirm(&warning, out)? {
        return Ok(());
    }
    let containers = prune_containers(client, &a.filter).await?;
    let mut text = containers_report(&containers);
    let mut space = containers.space_reclaimed;
    // Docker's order: containers, networks, volumes, images.
    let q = filters::query(&filters::parse(&a.filter)?);
    let raw = client.call(Method::POST, &format!("/networks/prune{q}"), None).await?;
    let nets: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    if let Some(names) = nets["NetworksDeleted"].as_array().filter(|n| !n.is_empty()) {
        text += "Deleted Networks:\n";
        for n in names.iter().filter_map(|n| n.as_str()) {
            text += &format!("{n}\n");
        }
        text += "\n";
    }
    if a.volumes {
        let q = filters::query(&filters::parse(&a.filter)?);
        let raw = client.call(Method::POST, &format!("/volumes/prune{q}"), None).await?;
        let v: VolumePruneResponse = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
        space += v.space_reclaimed;
        let report = prune_report(&v);
        // Only its list: the total is the sum printed last.
        text += report.split("Total reclaimed space").next().unwrap_or("");
    }
    let images = prune_images(client, &a.filter, a.all).await?;
    text += &images_report(&images);
    space += images.space_reclaimed;
    write_out(out, &(text + &total(space)))
}

/// `size (N%)` of what is reclaimable out of `total`, as docker prints it.
fn reclaimable(bytes: i64, total: i64) -> String {
    if total <= 0 {
        return human_size(bytes);
    }
    format!("{} ({}%)", human_size(bytes), bytes * 100 / total)
}

pub async fn df(client: &Client, a: DfArgs, out: &mut impl Write) -> Result<(), Error> {
    let raw = client.call(Method::GET, "/system/df", None).await?;
    let u: DiskUsage = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    if a.verbose {
        return write_out(out, &verbose(&u));
    }
    let used: i64 = u
        .images
        .iter()
        .filter(|i| i.containers > 0 && i.size >= 0 && i.shared_size >= 0)
        .map(|i| i.size - i.shared_size)
        .sum();
    let rw = |c: &crate::wire::ContainerSummary| c.size_rw.unwrap_or(0);
    let c_size: i64 = u.containers.iter().map(rw).sum();
    let c_free: i64 = u.containers.iter().filter(|c| c.state != "running").map(rw).sum();
    let vsize = |v: &crate::wire::Volume| v.usage_data.as_ref().and_then(|d| d["Size"].as_i64()).unwrap_or(0);
    let vrefs = |v: &crate::wire::Volume| v.usage_data.as_ref().and_then(|d| d["RefCount"].as_i64()).unwrap_or(0);
    let v_size: i64 = u.volumes.iter().map(vsize).sum();
    let v_free: i64 = u.volumes.iter().filter(|v| vrefs(v) == 0).map(vsize).sum();
    let n = |x: usize| x.to_string();
    let rows = vec![
        vec![
            "TYPE".into(),
            "TOTAL".into(),
            "ACTIVE".into(),
            "SIZE".into(),
            "RECLAIMABLE".into(),
        ],
        vec![
            "Images".into(),
            n(u.images.len()),
            n(u.images.iter().filter(|i| i.containers > 0).count()),
            human_size(u.layers_size),
            reclaimable(u.layers_size - used, u.layers_size),
        ],
        vec![
            "Containers".into(),
            n(u.containers.len()),
            n(u.containers.iter().filter(|c| c.state == "running").count()),
            human_size(c_size),
            reclaimable(c_free, c_size),
        ],
        vec![
            "Local Volumes".into(),
            n(u.volumes.len()),
            n(u.volumes.iter().filter(|v| vrefs(v) > 0).count()),
            human_size(v_size),
            reclaimable(v_free, v_size),
        ],
        vec!["Build Cache".into(), "0".into(), "0".into(), "0B".into(), "0B".into()],
    ];
    write_out(out, &table(&rows))
}

/// `system df -v`: a table per kind.
fn verbose(u: &DiskUsage) -> String {
    let mut images = vec![
        [
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for i in &u.images {
        let (repo, tag) = i
            .repo_tags
            .first()
            .and_then(|t| t.rsplit_once(':'))
            .map(|(r, t)| (r.to_string(), t.to_string()))
            .unwrap_or(("<none>".into(), "<none>".into()));
        let id = i.id.trim_start_matches("sha256:");
        images.push(vec![
            repo,
            tag,
            id[..id.len().min(12)].to_string(),
            display::ago(i.created),
            human_size(i.size),
            human_size(i.shared_size),
            human_size(i.size - i.shared_size),
            i.containers.to_string(),
        ]);
    }
    let mut containers = vec![
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in &u.containers {
        containers.push(vec![
            c.id[..c.id.len().min(12)].to_string(),
            c.image.clone(),
            format!("\"{}\"", crate::cli::format::ellipsis(&c.command, 20)),
            c.mounts.len().to_string(),
            human_size(c.size_rw.unwrap_or(0)),
            display::ago(c.created),
            c.status.clone(),
            c.names
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
        ]);
    }
    let mut volumes = vec![["VOLUME NAME", "LINKS", "SIZE"].map(String::from).to_vec()];
    for v in &u.volumes {
        let d = v.usage_data.clone().unwrap_or_default();
        volumes.push(vec![
            v.name.clone(),
            d["RefCount"].as_i64().unwrap_or(0).to_string(),
            human_size(d["Size"].as_i64().unwrap_or(0)),
        ]);
    }
    format!(
        "Images space usage:\n\n{}\nContainers space usage:\n\n{}\nLocal Volumes space usage:\n\n{}\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n",
        table(&images),
        table(&containers),
        table(&volumes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DeleteItem;

    #[test]
    fn reports_read_as_docker_s() {
        let none = ContainersPruneResponse::default();
        assert_eq!(containers_report(&none) + &total(0), "Total reclaimed space: 0B\n");
        let some = ImagesPruneResponse {
            images_deleted: Some(vec![
                DeleteItem {
                    untagged: Some("a:1".into()),
                    deleted: None,
                },
                DeleteItem {
                    untagged: None,
                    deleted: Some("sha256:ab".into()),
                },
            ]),
            space_reclaimed: 1500,
        };
        assert_eq!(
            images_report(&some) + &total(1500),
            "Deleted Images:\nuntagged: a:1\ndeleted: sha256:ab\n\nTotal reclaimed space: 1.5kB\n"
        );
        assert_eq!(reclaimable(50, 200), "50B (25%)");
        assert_eq!(reclaimable(0, 0), "0B");
    }
}
