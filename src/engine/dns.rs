//! `--dns`, `--dns-search`, `--dns-option` (`HostConfig.Dns`,
//! `DnsSearch`, `DnsOptions`) and `--add-host` (`ExtraHosts`): checked at
//! create, written into the container's `/etc/resolv.conf` and
//! `/etc/hosts` at each start, as Docker writes them: each given list
//! replaces the lines of its kind from the host's file (`--dns-search .`
//! leaves no search line); extra hosts come after the standard lines.

use super::error::Error;
use super::spec::HostSettings;
use serde_json::Value;
use std::net::IpAddr;

fn strings(host: &HostSettings, key: &str) -> Vec<String> {
    host.extra
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// One `--add-host` entry, `NAME:IP` or `NAME=IP`.
fn split_host(entry: &str) -> Result<(&str, &str), Error> {
    let at = entry.find(['=', ':']);
    let (name, ip) = at.map(|i| (&entry[..i], &entry[i + 1..])).ok_or_else(|| {
        Error::invalid(format!(
            "bad format for add-host: {:?}",
            crate::quote::excerpt(entry, 128)
        ))
    })?;
    if name.is_empty() {
        return Err(Error::invalid(format!(
            "bad format for add-host: {:?}",
            crate::quote::excerpt(entry, 128)
        )));
    }
    Ok((name, ip.trim_start_matches('[').trim_end_matches(']')))
}

/// The create's check: addresses that parse; `host-gateway` only where
/// it means something (see [`extra_hosts`]).
pub fn check(host: &HostSettings) -> Result<(), Error> {
    for ns in strings(host, "Dns") {
        if ns.parse::<IpAddr>().is_err() {
            return Err(Error::invalid(format!(
                "invalid IP address: {}",
                crate::quote::excerpt(&ns, 64)
            )));
        }
    }
    for entry in strings(host, "ExtraHosts") {
        let (_, ip) = split_host(&entry)?;
        if ip == "host-gateway" {
            if host.network_mode == "none" {
                return Err(Error::invalid(
                    "strata does not support host-gateway in --add-host with --network none (there is no route to the host): use another network",
                ));
            }
            if host.network_mode != "host" && pasta_gateway().is_none() {
                return Err(Error::invalid(
                    "strata cannot map host-gateway in --add-host: the host has no IPv4 default route, whose gateway pasta maps to the host",
                ));
            }
        } else if ip.parse::<IpAddr>().is_err() {
            return Err(Error::invalid(format!(
                "invalid IP address in add-host: {:?}",
                crate::quote::excerpt(ip, 64)
            )));
        }
    }
    Ok(())
}

/// Whether the container asked for `host-gateway`: only then does pasta
/// map the gateway's address to the host (see `run::network::Bridge::map_gw`).
pub fn wants_host_gateway(host: &HostSettings) -> bool {
    strings(host, "ExtraHosts")
        .iter()
        .any(|e| split_host(e).is_ok_and(|(_, ip)| ip == "host-gateway"))
}

/// The gateway of the host's IPv4 default route: pasta gives the
/// container the same one and, without `--no-map-gw`, connects what is
/// sent to it to the host's loopback, so it is the host as the container
/// sees it.
fn pasta_gateway() -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-j", "-4", "route", "show", "default"])
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v[0]["gateway"].as_str().map(str::to_string)
}

/// `/etc/hosts` lines for `--add-host`; `host-gateway` is the host's
/// loopback address on the host's network, pasta's mapped gateway on a
/// network of the container's own.
pub fn extra_hosts(host: &HostSettings) -> String {
    let gateway = if !wants_host_gateway(host) {
        String::new()
    } else if host.network_mode == "host" {
        "127.0.0.1".into()
    } else {
        pasta_gateway().unwrap_or_default()
    };
    extra_hosts_with(host, &gateway)
}

fn extra_hosts_with(host: &HostSettings, gateway: &str) -> String {
    let mut out = String::new();
    for entry in strings(host, "ExtraHosts") {
        if let Ok((name, ip)) = split_host(&entry) {
            let ip = if ip == "host-gateway" { gateway } else { ip };
            if !ip.is_empty() {
                out.push_str(&format!("{ip}\t{name}\n"));
            }
        }
    }
    out
}

/// `base` (the resolver the mode gives) with the lists the container asks
/// for in place of the lines of their kinds.
pub fn resolv_conf(base: &str, host: &HostSettings) -> String {
    let dns = strings(host, "Dns");
    let search = strings(host, "DnsSearch");
    let options = strings(host, "DnsOptions");
    let replaced = |word: &str| match word {
        "nameserver" => !dns.is_empty(),
        "search" | "domain" => !search.is_empty(),
        "options" => !options.is_empty(),
        _ => false,
    };
    let mut out: String = base
        .lines()
        .filter(|l| !l.split_whitespace().next().is_some_and(replaced))
        .map(|l| format!("{l}\n"))
        .collect();
    for ns in &dns {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    let search: Vec<&String> = search.iter().filter(|s| s.as_str() != ".").collect();
    if !search.is_empty() {
        out.push_str(&format!(
            "search {}\n",
            search.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
        ));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: Value) -> HostSettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn resolver_lists_replace_their_kinds() {
        let base = "search lan\nnameserver 10.0.0.1\noptions edns0\n";
        let h =
            host(serde_json::json!({"Dns": ["192.0.2.53"], "DnsSearch": ["example.com"], "DnsOptions": ["ndots:2"]}));
        assert_eq!(
            resolv_conf(base, &h),
            "nameserver 192.0.2.53\nsearch example.com\noptions ndots:2\n"
        );
        let h = host(serde_json::json!({"DnsSearch": ["."]}));
        assert_eq!(resolv_conf(base, &h), "nameserver 10.0.0.1\noptions edns0\n");
        assert_eq!(resolv_conf(base, &host(serde_json::json!({}))), base);
    }

    #[test]
    fn extra_hosts_checked_and_written() {
        let h = host(serde_json::json!({"ExtraHosts": ["db:192.0.2.9", "six=::1", "br:[fe80::1]"]}));
        check(&h).unwrap();
        assert_eq!(extra_hosts(&h), "192.0.2.9\tdb\n::1\tsix\nfe80::1\tbr\n");
        let bad = host(serde_json::json!({"ExtraHosts": ["db:nope"]}));
        assert!(
            check(&bad)
                .unwrap_err()
                .to_string()
                .contains("invalid IP address in add-host")
        );
        assert!(!wants_host_gateway(&h));
        let gw = host(serde_json::json!({"ExtraHosts": ["h:host-gateway"], "NetworkMode": "none"}));
        assert!(check(&gw).unwrap_err().to_string().contains("host-gateway"));
        let gw = host(serde_json::json!({"ExtraHosts": ["db:192.0.2.9", "h=host-gateway"]}));
        assert!(wants_host_gateway(&gw));
        assert_eq!(extra_hosts_with(&gw, "192.0.2.1"), "192.0.2.9\tdb\n192.0.2.1\th\n");
        let gw = host(serde_json::json!({"ExtraHosts": ["h:host-gateway"], "NetworkMode": "host"}));
        check(&gw).unwrap();
        assert_eq!(extra_hosts(&gw), "127.0.0.1\th\n");
        assert!(check(&host(serde_json::json!({"Dns": ["x"]}))).is_err());
    }
}
