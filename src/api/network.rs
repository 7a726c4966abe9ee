//! What inspect and `GET /containers/json` show of a container's network:
//! `NetworkSettings` (the network its mode names, a `bridge` run's address
//! and ports) and the summary's `Ports`.

use crate::engine::record::Record;

/// inspect's `NetworkSettings`: the network the mode names, with a
/// `bridge` run's address (pasta's: the host's) and its ports.
pub(super) fn network_settings(r: &Record) -> serde_json::Value {
    let mode = r.host_config.network_mode.as_str();
    let name = match mode {
        "none" | "host" => mode,
        _ => "bridge",
    };
    let e = r.endpoint.as_ref();
    let (ip, prefix, gateway) = e.map_or((String::new(), 0, String::new()), |e| {
        (e.ip.clone(), e.prefix_len, e.gateway.clone())
    });
    let ports = if name == "bridge" {
        crate::engine::ports::inspect_ports(&r.config, e)
    } else {
        serde_json::json!({})
    };
    serde_json::json!({
        "Networks": { name: {
            "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "",
            "NetworkID": name, "EndpointID": if e.is_some() { r.id.as_str() } else { "" },
            "Gateway": gateway, "IPAddress": ip, "IPPrefixLen": prefix,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
        }},
        "Ports": ports,
        "Gateway": gateway, "IPAddress": ip, "IPPrefixLen": prefix, "MacAddress": "",
    })
}

/// `ps`'s `Ports`: the published ports, then the exposed ones without a
/// host side, as Docker lists them.
pub(super) fn summary_ports(r: &Record) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let published = r.endpoint.as_ref().map(|e| e.ports.as_slice()).unwrap_or_default();
    for p in published {
        out.push(serde_json::json!({
            "IP": p.host_ip, "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto.as_str(),
        }));
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
