//! `run`/`create`'s `-p/--publish`, `-P/--publish-all` and `--expose`,
//! parsed as the docker CLI parses them (`nat.ParsePortSpec`):
//! `[IP:][HOST:]CTR[/PROTO]`, each port part a number or a range `A-B`.

use crate::wire::{ContainerConfig, HostConfig};
use serde_json::{Map, Value, json};

#[derive(clap::Args, Debug, Default)]
pub struct PortArgs {
    /// Publish a container's port(s) to the host: [IP:][HOST:]CTR[/PROTO]
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long = "expose", value_name = "PORT")]
    pub expose: Vec<String>,
}

/// One `-p` entry: the container's `PORT/PROTO` and its host side.
#[derive(Debug, PartialEq, Eq)]
pub struct Mapping {
    pub key: String,
    pub host_ip: String,
    pub host_port: String,
}

/// `A` or `A-B` as (A, B); docker's wording on a bad one.
fn range(s: &str, what: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid {what}: {s}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses one `-p` value into its mappings (one per port of a range).
pub fn parse_publish(spec: &str) -> Result<Vec<Mapping>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    // An IPv6 address is in brackets: `[::1]:80:80`.
    let (ip, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r.split_once(']').ok_or_else(|| format!("invalid IP address: {rest}"))?;
            (ip.to_string(), after.strip_prefix(':').unwrap_or(after).to_string())
        }
        None => (String::new(), rest.to_string()),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match (ip.is_empty(), parts.as_slice()) {
        (true, [c]) => (String::new(), "", *c),
        (true, [h, c]) => (String::new(), *h, *c),
        (true, [i, h, c]) => (i.to_string(), *h, *c),
        (false, [h, c]) => (ip, *h, *c),
        _ => return Err(format!("invalid port format: {spec}")),
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if ctr.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    let (c0, c1) = range(ctr, "containerPort")?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(range(host, "hostPort")?)
    };
    let mut out = Vec::new();
    for (i, port) in (c0..=c1).enumerate() {
        let host_port = match host_range {
            None => String::new(),
            // One container port to a host range: docker's "any of these".
            Some((h0, h1)) if c0 == c1 && h0 != h1 => format!("{h0}-{h1}"),
            Some((h0, h1)) => {
                if h1 - h0 != c1 - c0 {
                    return Err(format!(
                        "invalid ranges specified for container and host Ports: {ctr} and {host}"
                    ));
                }
                (h0 + i as u16).to_string()
            }
        };
        out.push(Mapping {
            key: format!("{port}/{proto}"),
            host_ip: ip.clone(),
            host_port,
        });
    }
    Ok(out)
}

impl PortArgs {
    /// Sets `ExposedPorts`, `PortBindings` and `PublishAllPorts`; a bad
    /// spec is docker's error.
    pub fn apply(&self, config: &mut ContainerConfig, host: &mut HostConfig) -> Result<(), String> {
        let mut exposed = Map::new();
        let mut bindings: Map<String, Value> = Map::new();
        for e in &self.expose {
            let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
            let (a, b) = range(port, "range format for --expose specification")?;
            for p in a..=b {
                exposed.insert(format!("{p}/{proto}"), json!({}));
            }
        }
        for spec in &self.publish {
            for m in parse_publish(spec)? {
                exposed.insert(m.key.clone(), json!({}));
                let list = bindings.entry(m.key).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(json!({"HostIp": m.host_ip, "HostPort": m.host_port}));
                }
            }
        }
        if !exposed.is_empty() {
            config.extra.insert("ExposedPorts".into(), Value::Object(exposed));
        }
        host.extra.insert("PortBindings".into(), Value::Object(bindings));
        if self.publish_all {
            host.extra.insert("PublishAllPorts".into(), Value::Bool(true));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(key: &str, ip: &str, port: &str) -> Mapping {
        Mapping {
            key: key.into(),
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn docker_syntaxes() {
        assert_eq!(parse_publish("80").unwrap(), [m("80/tcp", "", "")]);
        assert_eq!(parse_publish("8080:80").unwrap(), [m("80/tcp", "", "8080")]);
        assert_eq!(
            parse_publish("127.0.0.1:18080:80/udp").unwrap(),
            [m("80/udp", "127.0.0.1", "18080")]
        );
        assert_eq!(parse_publish("127.0.0.1::80").unwrap(), [m("80/tcp", "127.0.0.1", "")]);
        assert_eq!(parse_publish("[::1]:8080:80").unwrap(), [m("80/tcp", "::1", "8080")]);
        assert_eq!(
            parse_publish("8000-8001:80-81").unwrap(),
            [m("80/tcp", "", "8000"), m("81/tcp", "", "8001")]
        );
        assert_eq!(parse_publish("8000-8010:80").unwrap(), [m("80/tcp", "", "8000-8010")]);
    }

    #[test]
    fn bad_specs() {
        assert_eq!(parse_publish("abc").unwrap_err(), "invalid containerPort: abc");
        assert_eq!(parse_publish("x:80").unwrap_err(), "invalid hostPort: x");
        assert_eq!(parse_publish("80/xyz").unwrap_err(), "invalid proto: xyz");
        assert_eq!(parse_publish("1.2.3:80:80").unwrap_err(), "invalid IP address: 1.2.3");
        assert!(parse_publish("8000-8002:80-81").is_err());
        assert!(parse_publish("1:2:3:4").is_err());
    }

    #[test]
    fn apply_sets_dockers_fields() {
        let args = PortArgs {
            publish: vec!["127.0.0.1:18080:80".into()],
            publish_all: true,
            expose: vec!["443".into()],
        };
        let (mut c, mut h) = (ContainerConfig::default(), HostConfig::default());
        args.apply(&mut c, &mut h).unwrap();
        assert_eq!(c.extra["ExposedPorts"], json!({"80/tcp": {}, "443/tcp": {}}));
        assert_eq!(
            h.extra["PortBindings"],
            json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]})
        );
        assert_eq!(h.extra["PublishAllPorts"], json!(true));
    }
}
