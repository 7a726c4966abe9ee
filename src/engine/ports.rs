//! Published ports: `HostConfig.PortBindings` and `PublishAllPorts`
//! checked at create as Docker checks them, and made concrete at each
//! start (a random host port chosen, a taken one refused with Docker's
//! error before pasta runs); and what inspect and `ps` show of them.

use super::error::Error;
use super::spec::{Config, HostSettings};
use crate::run::network::{PortMap, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, TcpListener, UdpSocket};

/// One asked-for binding: the container's port and protocol, the host's
/// address ("" for all) and port (0 for a random one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub container_port: u16,
    pub proto: Protocol,
    pub host_ip: String,
    pub host_port: u16,
}

/// The network a `bridge` run has, as pasta configured it: shown by
/// inspect and `ps` while it runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub ports: Vec<PortMap>,
    /// The MAC of pasta's interface in the container.
    #[serde(default)]
    pub mac_address: String,
    /// Its interface on the link bridge, once a legacy link made one
    /// ([`super::links`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_leg: Option<super::record::Attachment>,
    /// Its hosts lines for the containers it links to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_hosts: Vec<String>,
    /// Its link variables (also an exec's, as Docker's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_env: Vec<String>,
}

fn invalid_spec(s: &str) -> Error {
    Error::invalid(format!("invalid port specification: {s:?}"))
}

/// `"80/tcp"` (the protocol defaults to tcp, as Docker's `nat.NewPort`).
pub fn parse_port_key(key: &str) -> Result<(u16, Protocol), Error> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" | "" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => return Err(Error::invalid("strata does not support sctp ports yet")),
        _ => return Err(Error::invalid(format!("invalid proto: {proto}"))),
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((p, proto)),
        _ => Err(invalid_spec(port)),
    }
}

/// A `HostPort`: "" or "0" is random (0); a range `A-B` takes its first.
fn parse_host_port(s: &str) -> Result<u16, Error> {
    if s.is_empty() {
        return Ok(0);
    }
    let first = s.split_once('-').map_or(s, |(a, _)| a);
    first.parse::<u16>().map_err(|_| invalid_spec(s))
}

/// The bindings a container asks for, checked (Docker's 400s at create):
/// `PortBindings`, then with `PublishAllPorts` every exposed port not
/// bound already, on a random port of all addresses.
pub fn bindings(config: &Config, host: &HostSettings) -> Result<Vec<Binding>, Error> {
    let mut out = Vec::new();
    if let Some(map) = host.extra.get("PortBindings").and_then(Value::as_object) {
        for (key, list) in map {
            let (container_port, proto) = parse_port_key(key)?;
            let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
            for b in list {
                let host_ip = b.get("HostIp").and_then(Value::as_str).unwrap_or("").to_string();
                if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
                    return Err(Error::invalid(format!("invalid host IP address: {host_ip}")));
                }
                let host_port = parse_host_port(b.get("HostPort").and_then(Value::as_str).unwrap_or(""))?;
                out.push(Binding {
                    container_port,
                    proto,
                    host_ip,
                    host_port,
                });
            }
        }
    }
    let publish_all = host.extra.get("PublishAllPorts").and_then(Value::as_bool) == Some(true);
    for key in exposed(config) {
        let (container_port, proto) = parse_port_key(&key)?;
        if publish_all
            && !out
                .iter()
                .any(|b| b.container_port == container_port && b.proto == proto)
        {
            out.push(Binding {
                container_port,
                proto,
                host_ip: String::new(),
                host_port: 0,
            });
        }
    }
    Ok(out)
}

/// `Config.ExposedPorts`' keys (the image's included at create).
pub fn exposed(config: &Config) -> Vec<String> {
    config
        .extra
        .get("ExposedPorts")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Concrete ports for a start: each host port checked free by binding it
/// (Docker's error when taken), a random one chosen by binding port 0.
/// The sockets are closed before pasta binds the ports.
///
/// A binding without an address is kept without one: pasta then listens
/// on both families (one dual-stack socket), as Docker binds `0.0.0.0`
/// and `::`; it is checked free on `::` (dual-stack, so both) when the
/// host has IPv6.
pub fn allocate(bindings: &[Binding]) -> Result<Vec<PortMap>, crate::run::network::Error> {
    let mut out: Vec<PortMap> = Vec::new();
    for b in merge_families(bindings) {
        let mut map = PortMap {
            host_ip: b.host_ip.clone(),
            host_port: b.host_port,
            container_port: b.container_port,
            proto: b.proto,
        };
        let ip: IpAddr = match map.host_ip.parse() {
            Ok(ip) => ip,
            Err(_) if host_has_ipv6() => IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED),
            Err(_) => IpAddr::from([0, 0, 0, 0]),
        };
        let bound = match b.proto {
            Protocol::Tcp => TcpListener::bind((ip, b.host_port)).and_then(|l| l.local_addr()),
            Protocol::Udp => UdpSocket::bind((ip, b.host_port)).and_then(|l| l.local_addr()),
        };
        match bound {
            Ok(addr) => map.host_port = addr.port(),
            Err(_) => return Err(crate::run::network::port_in_use(&map)),
        }
        out.push(map);
    }
    Ok(out)
}

/// `0.0.0.0` and `::` asked for one host port become one binding without
/// an address (pasta refuses the two as overlapping).
fn merge_families(bindings: &[Binding]) -> Vec<Binding> {
    let mut out: Vec<Binding> = Vec::new();
    for b in bindings {
        let other_family = match b.host_ip.as_str() {
            "0.0.0.0" => "::",
            "::" => "0.0.0.0",
            _ => "",
        };
        let pair = out.iter_mut().find(|p| {
            b.host_port != 0
                && p.host_ip == other_family
                && (p.host_port, p.container_port, p.proto) == (b.host_port, b.container_port, b.proto)
        });
        match pair {
            Some(pair) => pair.host_ip.clear(),
            None => out.push(b.clone()),
        }
    }
    out
}

/// Whether the host has IPv6 (its loopback `::1` can be bound).
pub fn host_has_ipv6() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| TcpListener::bind("[::1]:0").is_ok())
}

/// The addresses a published port shows (inspect, `ps`, `docker port`):
/// one without an address is `0.0.0.0` and, with IPv6, `::`, as Docker's.
pub fn shown_addresses(host_ip: &str) -> Vec<&str> {
    match host_ip {
        "" if host_has_ipv6() => vec!["0.0.0.0", "::"],
        "" => vec!["0.0.0.0"],
        ip => vec![ip],
    }
}

/// The endpoint of a `bridge` run: pasta gives the container the host's
/// address and gateway (of the interface of its default route).
pub fn endpoint(ports: Vec<PortMap>, mac_address: String) -> Endpoint {
    let (ip, prefix_len, gateway) = host_address().clone();
    Endpoint {
        ip,
        prefix_len,
        gateway,
        ports,
        mac_address,
        ..Default::default()
    }
}

/// The host's IPv4 address, its prefix length and its default gateway,
/// as `ip` reports them (read once: pasta copies them the same way).
fn host_address() -> &'static (String, u8, String) {
    static ADDRESS: std::sync::OnceLock<(String, u8, String)> = std::sync::OnceLock::new();
    ADDRESS.get_or_init(|| {
        let ip_json = |args: &[&str]| -> Value {
            std::process::Command::new("ip")
                .args(args)
                .output()
                .ok()
                .and_then(|o| serde_json::from_slice(&o.stdout).ok())
                .unwrap_or(Value::Null)
        };
        let route = ip_json(&["-j", "-4", "route", "show", "default"]);
        let gateway = route[0]["gateway"].as_str().unwrap_or("").to_string();
        let dev = route[0]["dev"].as_str().unwrap_or("").to_string();
        if dev.is_empty() {
            return (String::new(), 0, gateway);
        }
        let addr = ip_json(&["-j", "-4", "addr", "show", "dev", &dev]);
        let info = &addr[0]["addr_info"][0];
        let ip = info["local"].as_str().unwrap_or("").to_string();
        let prefix = info["prefixlen"].as_u64().unwrap_or(0) as u8;
        (ip, prefix, gateway)
    })
}

/// A `bridge` container's `/etc/resolv.conf`, as Docker writes it for the
/// default bridge: the host's, without its loopback nameservers (the
/// container's loopback is its own); when none remains, Docker's
/// fallback, Google's public resolvers.
pub fn bridge_resolv_conf(host: &str) -> String {
    let is_loopback = |line: &str| {
        let mut words = line.split_whitespace();
        words.next() == Some("nameserver")
            && words
                .next()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .is_some_and(|a| a.is_loopback())
    };
    let kept: Vec<&str> = host.lines().filter(|l| !is_loopback(l)).collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if !kept.iter().any(|l| l.split_whitespace().next() == Some("nameserver")) {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// inspect's `NetworkSettings.Ports`: every exposed or published port,
/// `null` when not published.
pub fn inspect_ports(config: &Config, endpoint: Option<&Endpoint>) -> Value {
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    for key in exposed(config) {
        let key = if key.contains('/') { key } else { format!("{key}/tcp") };
        map.insert(key, Value::Null);
    }
    for p in endpoint.map(|e| e.ports.as_slice()).unwrap_or_default() {
        let key = format!("{}/{}", p.container_port, p.proto.as_str());
        let entry = map.entry(key).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        if let Value::Array(list) = entry {
            for ip in shown_addresses(&p.host_ip) {
                list.push(serde_json::json!({"HostIp": ip, "HostPort": p.host_port.to_string()}));
            }
        }
    }
    serde_json::to_value(map).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: Value) -> HostSettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn port_keys() {
        assert_eq!(parse_port_key("80/tcp").unwrap(), (80, Protocol::Tcp));
        assert_eq!(parse_port_key("53/udp").unwrap(), (53, Protocol::Udp));
        assert_eq!(parse_port_key("8080").unwrap(), (8080, Protocol::Tcp));
        for bad in ["abc/tcp", "0/tcp", "65536/tcp", "-1", ""] {
            let e = parse_port_key(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid port specification: "), "{bad}: {e}");
        }
        assert_eq!(
            parse_port_key("abc/tcp").unwrap_err().to_string(),
            "invalid port specification: \"abc\""
        );
        assert_eq!(parse_port_key("80/xyz").unwrap_err().to_string(), "invalid proto: xyz");
    }

    #[test]
    fn bindings_and_publish_all() {
        let h = host(serde_json::json!({
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}], "53/udp": [{"HostIp": "", "HostPort": ""}]},
            "PublishAllPorts": true
        }));
        let mut c = Config::default();
        c.extra
            .insert("ExposedPorts".into(), serde_json::json!({"80/tcp": {}, "443/tcp": {}}));
        let b = bindings(&c, &h).unwrap();
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b.contains(&Binding {
            container_port: 80,
            proto: Protocol::Tcp,
            host_ip: "127.0.0.1".into(),
            host_port: 18080
        }));
        assert!(b.contains(&Binding {
            container_port: 443,
            proto: Protocol::Tcp,
            host_ip: "".into(),
            host_port: 0
        }));
        let bad = host(serde_json::json!({"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}));
        assert_eq!(
            bindings(&c, &bad).unwrap_err().to_string(),
            "invalid port specification: \"99999\""
        );
        let bad = host(serde_json::json!({"PortBindings": {"80/tcp": [{"HostIp": "x.y", "HostPort": "1"}]}}));
        assert!(bindings(&c, &bad).is_err());
    }

    #[test]
    fn allocation_and_a_taken_port() {
        let b = Binding {
            container_port: 80,
            proto: Protocol::Tcp,
            host_ip: "127.0.0.1".into(),
            host_port: 0,
        };
        let maps = allocate(std::slice::from_ref(&b)).unwrap();
        assert!(maps[0].host_port > 0);
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = allocate(&[Binding { host_port: port, ..b }]).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "failed to bind port 127.0.0.1:{port}/tcp: Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use"
            )
        );
    }

    #[test]
    fn resolv_conf_without_loopback_servers() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n";
        assert_eq!(
            bridge_resolv_conf(host),
            "search lan\nnameserver 10.0.0.1\noptions edns0\n"
        );
        assert_eq!(
            bridge_resolv_conf("nameserver 127.0.0.53\nnameserver ::1\n"),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn inspect_shows_unpublished_as_null() {
        let mut c = Config::default();
        c.extra
            .insert("ExposedPorts".into(), serde_json::json!({"80/tcp": {}, "443/tcp": {}}));
        let e = Endpoint {
            ports: vec![PortMap {
                host_ip: "127.0.0.1".into(),
                host_port: 18080,
                container_port: 80,
                proto: Protocol::Tcp,
            }],
            ..Default::default()
        };
        let v = inspect_ports(&c, Some(&e));
        assert_eq!(
            v,
            serde_json::json!({"443/tcp": null, "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]})
        );
        // No address: both families, as Docker's 0.0.0.0 and ::.
        let all = Endpoint {
            ports: vec![PortMap {
                host_ip: String::new(),
                ..e.ports[0].clone()
            }],
            ..Default::default()
        };
        let shown = &inspect_ports(&c, Some(&all))["80/tcp"];
        let v4 = serde_json::json!({"HostIp": "0.0.0.0", "HostPort": "18080"});
        let v6 = serde_json::json!({"HostIp": "::", "HostPort": "18080"});
        if host_has_ipv6() {
            assert_eq!(shown, &serde_json::json!([v4, v6]));
        } else {
            assert_eq!(shown, &serde_json::json!([v4]));
        }
    }

    #[test]
    fn both_families_of_one_port_are_one_binding() {
        let b = |ip: &str, port: u16| Binding {
            container_port: 80,
            proto: Protocol::Tcp,
            host_ip: ip.into(),
            host_port: port,
        };
        let merged = merge_families(&[
            b("0.0.0.0", 8080),
            b("::", 8080),
            b("::", 8081),
            b("0.0.0.0", 0),
            b("::", 0),
        ]);
        assert_eq!(merged, [b("", 8080), b("::", 8081), b("0.0.0.0", 0), b("::", 0)]);
        let maps = allocate(&[b("127.0.0.1", 0)]).unwrap();
        assert_eq!(maps[0].host_ip, "127.0.0.1");
        assert_ne!(maps[0].host_port, 0);
    }
}
