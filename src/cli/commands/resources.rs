//! `stats`, `pause`, `unpause` and `update`, as the docker CLI has them.

use super::resource_args::ResourceArgs;
use crate::cli::format::{ListFormat, binary_size, human_size, table};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::{ContainerSummary, Stats};
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    resources: ResourceArgs,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "POLICY")]
    restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

async fn each(
    names: &[String],
    out: &mut impl Write,
    action: &str,
    body: Option<&serde_json::Value>,
    client: &Client,
) -> Result<(), Error> {
    let mut failed = false;
    for name in names {
        let path = format!("/containers/{}/{action}", encode(name));
        let done = match body {
            Some(b) => client.post_json(&path, b).await.map(|_| ()),
            None => client.call(Method::POST, &path, None).await.map(|_| ()),
        };
        match done {
            Ok(()) => write_out(out, &format!("{name}\n"))?,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed { Err(Error::Reported) } else { Ok(()) }
}

pub async fn pause(client: &Client, args: NamesArgs, out: &mut impl Write) -> Result<(), Error> {
    each(&args.names, out, "pause", None, client).await
}

pub async fn unpause(client: &Client, args: NamesArgs, out: &mut impl Write) -> Result<(), Error> {
    each(&args.names, out, "unpause", None, client).await
}

/// `--restart no|always|unless-stopped|on-failure[:N]` as the API's object.
fn restart_policy(s: &str) -> serde_json::Value {
    let (name, count) = s.split_once(':').unwrap_or((s, "0"));
    serde_json::json!({"Name": name, "MaximumRetryCount": count.parse::<i64>().unwrap_or(0)})
}

pub async fn update(client: &Client, args: UpdateArgs, out: &mut impl Write) -> Result<(), Error> {
    let mut body = serde_json::Map::new();
    for (name, value) in args.resources.fields() {
        body.insert(name.to_string(), value);
    }
    if let Some(r) = &args.restart {
        body.insert("RestartPolicy".into(), restart_policy(r));
    }
    each(
        &args.names,
        out,
        "update",
        Some(&serde_json::Value::Object(body)),
        client,
    )
    .await
}

/// Docker's CPU %: the container's CPU time over the host's, times the CPUs.
fn cpu_percent(s: &Stats) -> f64 {
    let cpu = s.cpu_stats.cpu_usage.total_usage as f64 - s.precpu_stats.cpu_usage.total_usage as f64;
    let system = s.cpu_stats.system_cpu_usage.unwrap_or(0) as f64 - s.precpu_stats.system_cpu_usage.unwrap_or(0) as f64;
    let cpus = f64::from(s.cpu_stats.online_cpus.unwrap_or(1));
    if cpu > 0.0 && system > 0.0 {
        cpu / system * cpus * 100.0
    } else {
        0.0
    }
}

/// Docker's memory usage: without the inactive page cache.
fn memory_usage(s: &Stats) -> u64 {
    let usage = s.memory_stats.usage.unwrap_or(0);
    let stats = s.memory_stats.stats.as_ref();
    let inactive = stats
        .and_then(|m| m.get("total_inactive_file").or_else(|| m.get("inactive_file")))
        .copied()
        .unwrap_or(0);
    if inactive < usage { usage - inactive } else { usage }
}

/// A row as `docker stats` prints it.
pub fn row(s: &Stats) -> Vec<String> {
    let usage = memory_usage(s);
    let limit = s.memory_stats.limit.unwrap_or(0);
    let mem_percent = if limit > 0 {
        usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let (mut read, mut write) = (0u64, 0u64);
    for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.to_ascii_lowercase().as_str() {
            "read" => read += e.value,
            "write" => write += e.value,
            _ => {}
        }
    }
    vec![
        s.id.chars().take(12).collect(),
        s.name.trim_start_matches('/').to_string(),
        format!("{:.2}%", cpu_percent(s)),
        format!("{} / {}", binary_size(usage), binary_size(limit)),
        format!("{mem_percent:.2}%"),
        "0B / 0B".to_string(),
        format!("{} / {}", human_size(read as i64), human_size(write as i64)),
        s.pids_stats.current.unwrap_or(0).to_string(),
    ]
}

const HEADER: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];

/// The docker CLI's stats formatter fields, from a row of the table
/// (`cells` in [`HEADER`]'s order) and the container as it was named.
fn stats_fields(container: &str, cells: &[String]) -> serde_json::Value {
    let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
    serde_json::json!({
        "Container": container, "ID": cell(0), "Name": cell(1), "CPUPerc": cell(2), "MemUsage": cell(3),
        "MemPerc": cell(4), "NetIO": cell(5), "BlockIO": cell(6), "PIDs": cell(7),
    })
}

pub async fn stats(client: &Client, args: StatsArgs, out: &mut impl Write) -> Result<(), Error> {
    let names = if args.names.is_empty() {
        let list: Vec<ContainerSummary> = client
            .get_json(if args.all {
                "/containers/json?all=1"
            } else {
                "/containers/json"
            })
            .await?;
        list.into_iter().map(|c| c.id).collect()
    } else {
        args.names.clone()
    };
    let format = ListFormat::parse(args.format.as_deref())?;
    loop {
        let mut rows = vec![HEADER.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        let mut fields = Vec::new();
        for name in &names {
            let path = format!("/containers/{}/stats?stream=false", encode(name));
            let s: Stats = client.get_json(&path).await?;
            let cells = row(&s);
            fields.push(stats_fields(name, &cells));
            rows.push(cells);
        }
        let text = match format.render(&fields, &stats_fields("CONTAINER", &HEADER.map(String::from)))? {
            Some(text) => text,
            None => table(&rows),
        };
        if args.no_stream {
            return write_out(out, &text);
        }
        // As docker: the screen is redrawn each second.
        write_out(out, &format!("\x1b[2J\x1b[H{text}"))?;
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_print_as_docker_stats() {
        let s: Stats = serde_json::from_value(serde_json::json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000}, "system_cpu_usage": 20_000_000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000, "online_cpus": 2},
            "memory_stats": {"usage": 2_097_152 + 1_048_576, "limit": 67_108_864, "stats": {"total_inactive_file": 1_048_576}},
            "pids_stats": {"current": 3},
            "blkio_stats": {"io_service_bytes_recursive": [{"major": 8, "minor": 0, "op": "Read", "value": 1_500_000}]}
        }))
        .unwrap();
        assert_eq!(
            row(&s),
            [
                "0123456789ab",
                "web",
                "40.00%",
                "2MiB / 64MiB",
                "3.12%",
                "0B / 0B",
                "1.5MB / 0B",
                "3"
            ]
        );
        assert_eq!(restart_policy("on-failure:3")["MaximumRetryCount"], 3);
    }
}
