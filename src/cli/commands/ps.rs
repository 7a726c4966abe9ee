use crate::cli::format::{ellipsis, table};
use crate::cli::{Client, Error, write_out};
use crate::wire::ContainerSummary;
use crate::wire::display::ago;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let path = if args.all {
        "/containers/json?all=1"
    } else {
        "/containers/json"
    };
    let list: Vec<ContainerSummary> = client.get_json(path).await?;
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
    }
    write_out(out, &table(&rows))
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
