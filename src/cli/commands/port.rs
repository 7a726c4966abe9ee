//! `strata port CONTAINER [PRIVATE[/PROTO]]`: the container's published
//! ports, from inspect's `NetworkSettings.Ports`, printed as docker does.

use crate::cli::{Client, Error, encode, write_out};
use serde_json::Value;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    name: String,
    /// PRIVATE_PORT[/PROTO]
    #[arg(value_name = "PRIVATE_PORT")]
    port: Option<String>,
}

/// `(PORT/PROTO, HOST_IP:HOST_PORT)` for every published port, sorted
/// by port number as docker sorts them.
pub fn published(ports: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, list) in ports.as_object().into_iter().flatten() {
        for b in list.as_array().into_iter().flatten() {
            let ip = b["HostIp"].as_str().unwrap_or("");
            let port = b["HostPort"].as_str().unwrap_or("");
            let addr = if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            };
            out.push((key.clone(), addr));
        }
    }
    let number = |k: &str| k.split('/').next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    out.sort_by(|a, b| (number(&a.0), &a.0, &a.1).cmp(&(number(&b.0), &b.0, &b.1)));
    out
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let v: Value = client
        .get_json(&format!("/containers/{}/json", encode(&args.name)))
        .await?;
    let all = published(&v["NetworkSettings"]["Ports"]);
    let text: String = match &args.port {
        None => all.iter().map(|(k, a)| format!("{k} -> {a}\n")).collect(),
        Some(p) => {
            let key = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
            let found: String = all
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, a)| format!("{a}\n"))
                .collect();
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "Error: No public port '{key}' published for {}",
                    args.name
                )));
            }
            found
        }
    };
    write_out(out, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_docker() {
        let ports = serde_json::json!({
            "443/tcp": null,
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}],
            "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}, {"HostIp": "::", "HostPort": "5353"}],
        });
        assert_eq!(
            published(&ports),
            [
                ("53/udp".to_string(), "0.0.0.0:5353".to_string()),
                ("53/udp".to_string(), "[::]:5353".to_string()),
                ("80/tcp".to_string(), "127.0.0.1:18080".to_string()),
            ]
        );
    }
}
