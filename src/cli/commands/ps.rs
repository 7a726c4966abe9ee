use crate::cli::format::{ListFormat, ellipsis, human_size, table};
use crate::cli::{Client, Error, write_out};
use crate::wire::ContainerSummary;
use crate::wire::display::{ago, go_time_string};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Filter output based on conditions provided (name=, status=, label=, ancestor=, …)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "N", default_value_t = -1, allow_negative_numbers = true)]
    last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    latest: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Display total file sizes
    #[arg(short, long)]
    size: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut path = format!("/containers/json?all={}", u8::from(args.all));
    // As docker: -l is the last one; a limit includes stopped containers.
    let last = if args.latest { 1 } else { args.last };
    if last > 0 {
        path += &format!("&limit={last}");
    }
    let filters = super::filters::query(&super::filters::parse(&args.filter)?);
    if let Some(q) = filters.strip_prefix('?') {
        path += &format!("&{q}");
    }
    // As docker: sizes are asked for (they cost a walk of each writable
    // layer) only with -s or when the format shows them.
    let size = args.size || args.format.as_deref().is_some_and(|f| f.contains(".Size"));
    if size {
        path += "&size=1";
    }
    let list: Vec<ContainerSummary> = client.get_json(&path).await?;
    let id = |s: &str| {
        if args.no_trunc {
            s.to_string()
        } else {
            s.chars().take(12).collect()
        }
    };
    if args.quiet {
        let s: String = list.iter().map(|c| id(&c.id) + "\n").collect();
        return write_out(out, &s);
    }
    let format = ListFormat::parse(args.format.as_deref())?;
    let items: Vec<serde_json::Value> = list.iter().map(|c| fields(c, args.no_trunc)).collect();
    if let Some(text) = format.render(&items, &headers())? {
        return write_out(out, &text);
    }
    let mut rows = vec![
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ]
        .into_iter()
        .chain(args.size.then_some("SIZE"))
        .map(String::from)
        .collect::<Vec<_>>(),
    ];
    for c in &list {
        let command = if args.no_trunc {
            c.command.clone()
        } else {
            ellipsis(&c.command, 20)
        };
        rows.push(vec![
            id(&c.id),
            c.image.clone(),
            format!("\"{command}\""),
            ago(c.created),
            c.status.clone(),
            ports_column(&c.ports),
            c.names
                .iter()
                .map(|n| n.trim_start_matches('/').to_string())
                .collect::<Vec<_>>()
                .join(","),
        ]);
        if args.size {
            rows.last_mut().expect("a row was pushed").push(size_column(c));
        }
    }
    write_out(out, &table(&rows))
}

/// docker's SIZE: the writable layer's bytes (and, after, with the image's).
fn size_column(c: &ContainerSummary) -> String {
    match (c.size_rw, c.size_root_fs) {
        (Some(rw), Some(root)) if root > 0 => format!("{} (virtual {})", human_size(rw), human_size(root)),
        (Some(rw), _) => human_size(rw),
        _ => String::new(),
    }
}

/// The docker CLI's container formatter fields (`{{.ID}}`, `{{.Names}}`…).
fn fields(c: &ContainerSummary, no_trunc: bool) -> serde_json::Value {
    let trunc = |s: &str, n: usize| {
        if no_trunc {
            s.to_string()
        } else {
            s.chars().take(n).collect()
        }
    };
    let command = if no_trunc {
        c.command.clone()
    } else {
        ellipsis(&c.command, 20)
    };
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .filter_map(|m| m["Name"].as_str().or(m["Source"].as_str()))
        .map(|m| trunc(m, 15))
        .collect();
    let size = size_column(c);
    serde_json::json!({
        "ID": trunc(&c.id, 12),
        "Image": c.image,
        "Command": serde_json::to_string(&command).unwrap_or_default(),
        "CreatedAt": go_time_string(c.created),
        "RunningFor": ago(c.created),
        "Ports": ports_column(&c.ports),
        "State": c.state,
        "Status": c.status,
        "Size": size,
        "Names": c.names.iter().map(|n| n.trim_start_matches('/')).collect::<Vec<_>>().join(","),
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": c.host_config.network_mode,
        "LocalVolumes": c.mounts.iter().filter(|m| m["Type"] == "volume").count().to_string(),
    })
}

/// The header of each field in a `table` format, as docker names them.
fn headers() -> serde_json::Value {
    serde_json::json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES",
    })
}

/// docker's PORTS column: `127.0.0.1:18080->80/tcp` for a published
/// port, `80/tcp` for one only exposed, joined with ", ".
fn ports_column(ports: &[serde_json::Value]) -> String {
    let mut items: Vec<(u64, String)> = ports
        .iter()
        .map(|p| {
            let private = p["PrivatePort"].as_u64().unwrap_or(0);
            let proto = p["Type"].as_str().unwrap_or("tcp");
            let text = match (p["IP"].as_str(), p["PublicPort"].as_u64()) {
                (Some(ip), Some(public)) if ip.contains(':') => format!("[{ip}]:{public}->{private}/{proto}"),
                (Some(ip), Some(public)) => format!("{ip}:{public}->{private}/{proto}"),
                _ => format!("{private}/{proto}"),
            };
            (private, text)
        })
        .collect();
    items.sort();
    items.dedup();
    items.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_column_as_docker() {
        let ports = [
            serde_json::json!({"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 18080, "Type": "tcp"}),
            serde_json::json!({"PrivatePort": 443, "Type": "tcp"}),
        ];
        assert_eq!(super::ports_column(&ports), "127.0.0.1:18080->80/tcp, 443/tcp");
    }
}
