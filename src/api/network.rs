//! What inspect and `GET /containers/json` show of a container's network:
//! `NetworkSettings` (the network its mode names, a `bridge` run's address
//! and ports) and the summary's `Ports`.

use crate::engine::record::Record;

/// inspect's `NetworkSettings`: the network the mode names, with a
/// `bridge` run's address (pasta's: the host's) and its ports.
pub(super) fn network_settings(r: &Record, gateways: &std::collections::BTreeMap<String, String>) -> serde_json::Value {
    let mode = r.host_config.network_mode.as_str();
    let name = match mode {
        "none" | "host" => mode,
        _ => "bridge",
    };
    let e = r.endpoint.as_ref();
    let (ip, prefix, gateway, mac) = e.map_or((String::new(), 0, String::new(), String::new()), |e| {
        (e.ip.clone(), e.prefix_len, e.gateway.clone(), e.mac_address.clone())
    });
    let ports = if name == "bridge" {
        crate::engine::ports::inspect_ports(&r.config, e)
    } else {
        serde_json::json!({})
    };
    let mut networks = serde_json::Map::new();
    if !crate::engine::attach_mode_is_user(mode) && !mode.starts_with("container:") {
        networks.insert(
            name.to_string(),
            serde_json::json!({
                "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": mac,
                "NetworkID": name, "EndpointID": if e.is_some() { r.id.as_str() } else { "" },
                "Gateway": gateway, "IPAddress": ip, "IPPrefixLen": prefix,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
            }),
        );
    }
    // The user-defined networks: their address while it runs; the names
    // it answers to there.
    for (id, a) in &r.networks {
        let running = !a.ip.is_empty();
        let mut names = vec![r.name.clone()];
        names.extend(a.aliases.iter().cloned());
        names.push(r.id[..12].to_string());
        networks.insert(
            a.network.clone(),
            serde_json::json!({
                "IPAMConfig": if a.requested_ip.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::json!({"IPv4Address": a.requested_ip})
                },
                "Links": null,
                "Aliases": if a.aliases.is_empty() { serde_json::Value::Null } else { serde_json::json!(a.aliases) },
                // The interface's while it runs, else the asked-for one.
                "MacAddress": if running { &a.mac } else { &a.requested_mac },
                "NetworkID": id, "EndpointID": if running { r.id.as_str() } else { "" },
                "Gateway": if running { gateways.get(id).cloned().unwrap_or_default() } else { String::new() },
                "IPAddress": a.ip, "IPPrefixLen": a.prefix_len,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "DNSNames": if running { serde_json::json!(names) } else { serde_json::Value::Null },
            }),
        );
    }
    let (ip, prefix, gateway, mac) = if crate::engine::attach_mode_is_user(mode) {
        (String::new(), 0, String::new(), String::new())
    } else {
        (ip, prefix, gateway, mac)
    };
    serde_json::json!({
        "Networks": networks,
        "Ports": ports,
        "Gateway": gateway, "IPAddress": ip, "IPPrefixLen": prefix, "MacAddress": mac,
    })
}

/// `ps`'s `Ports`: the published ports, then the exposed ones without a
/// host side, as Docker lists them.
pub(super) fn summary_ports(r: &Record) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let published = r.endpoint.as_ref().map(|e| e.ports.as_slice()).unwrap_or_default();
    for p in published {
        for ip in crate::engine::ports::shown_addresses(&p.host_ip) {
            out.push(serde_json::json!({
                "IP": ip, "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto.as_str(),
            }));
        }
    }
    for key in crate::engine::ports::exposed(&r.config) {
        if let Ok((port, proto)) = crate::engine::ports::parse_port_key(&key)
            && !published.iter().any(|p| p.container_port == port && p.proto == proto)
        {
            out.push(serde_json::json!({"PrivatePort": port, "Type": proto.as_str()}));
        }
    }
    out
}
