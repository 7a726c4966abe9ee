//! `--mac-address`: the MAC address of a container's interface on the
//! network its mode names. The docker CLI (API ≥ 1.44) sends it as that
//! endpoint's `MacAddress` in `NetworkingConfig`; older clients send the
//! deprecated container-wide `Config.MacAddress`, which is moved onto the
//! mode's endpoint as Docker's `handleMACAddressBC` does.
//!
//! Every `bridge` or user-network run has a MAC the daemon chose, asked
//! for or [`generated`], so inspect shows the address the interface has
//! without reading it back from the container's namespace.

use super::error::Error;
use super::spec::{Config, HostSettings};
use serde_json::Value;

/// A 48-bit MAC in any form Go's `net.ParseMAC` takes for one
/// (`01:23:45:67:89:ab`, `01-23-45-67-89-ab`, `0123.4567.89ab`), as
/// lower-case colon-separated hex; Docker's error otherwise. A multicast
/// address (the low bit of the first octet) is refused here: no kernel
/// interface takes one.
pub fn parse(s: &str) -> Result<String, Error> {
    let bad = || Error::invalid(format!("invalid MAC address {}", crate::quote::excerpt(s, 64)));
    let groups: Vec<&str> = if s.contains(':') {
        s.split(':').collect()
    } else if s.contains('-') {
        s.split('-').collect()
    } else {
        // Dotted: three groups of four digits, split into pairs.
        let dotted: Vec<&str> = s.split('.').collect();
        if dotted.len() != 3 || dotted.iter().any(|g| g.len() != 4) {
            return Err(bad());
        }
        dotted.iter().flat_map(|g| [&g[..2], &g[2..]]).collect()
    };
    if groups.len() != 6 || groups.iter().any(|g| g.len() != 2) {
        return Err(bad());
    }
    let mut octets = [0u8; 6];
    for (o, g) in octets.iter_mut().zip(&groups) {
        *o = u8::from_str_radix(g, 16).map_err(|_| bad())?;
    }
    if octets[0] & 1 == 1 {
        return Err(Error::invalid(format!(
            "invalid MAC address {s}: a multicast address cannot be an interface's"
        )));
    }
    Ok(format(octets))
}

fn format(octets: [u8; 6]) -> String {
    octets.iter().map(|o| format!("{o:02x}")).collect::<Vec<_>>().join(":")
}

/// A random locally administered unicast MAC, as Docker's bridge driver
/// makes one for an endpoint without an asked-for address.
pub fn generated() -> Result<String, Error> {
    let mut octets = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut octets))
        .map_err(super::error::internal("making a MAC address"))?;
    octets[0] = (octets[0] & 0xfe) | 0x02;
    Ok(format(octets))
}

/// The `MacAddress` an endpoint config asks for, checked; `None` unset.
pub fn of_endpoint(endpoint: Option<&Value>) -> Result<Option<String>, Error> {
    match endpoint.and_then(|e| e.get("MacAddress")).and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(s) => parse(s).map(Some),
    }
}

/// Whether `key` of `EndpointsConfig` is the endpoint of network mode `mode`.
fn is_modes_endpoint(key: &str, mode: &str) -> bool {
    match mode {
        "" | "default" | "bridge" => matches!(key, "default" | "bridge"),
        _ => key == mode,
    }
}

/// The MAC a create asks for on its mode's network: the endpoint's, or
/// the deprecated container-wide one. Docker's errors: a MAC on a mode
/// without an interface of its own (`host`, `none`, `container:`), and
/// two different ones.
pub fn requested(config: &Config, host: &HostSettings) -> Result<Option<String>, Error> {
    let mode = host.network_mode.as_str();
    let endpoints = config
        .extra
        .get("NetworkingConfig")
        .and_then(|n| n["EndpointsConfig"].as_object());
    let mut from_endpoint = None;
    for (key, ep) in endpoints.into_iter().flatten() {
        let mac = of_endpoint(Some(ep))?;
        if is_modes_endpoint(key, mode) && mac.is_some() {
            from_endpoint = mac;
        }
    }
    let wide = match config.extra.get("MacAddress").and_then(Value::as_str) {
        None | Some("") => None,
        Some(s) => Some(parse(s)?),
    };
    let own_interface = !matches!(mode, "host" | "none") && !mode.starts_with("container:");
    if !own_interface && (wide.is_some() || from_endpoint.is_some()) {
        return Err(Error::invalid("conflicting options: mac-address and the network mode"));
    }
    match (from_endpoint, wide) {
        (Some(e), Some(w)) if e != w => Err(Error::invalid(
            "the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty",
        )),
        (Some(e), _) => Ok(Some(e)),
        (None, w) => Ok(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: Value) -> Config {
        serde_json::from_value(json).unwrap()
    }

    fn host(mode: &str) -> HostSettings {
        HostSettings {
            network_mode: mode.into(),
            ..Default::default()
        }
    }

    #[test]
    fn forms_and_errors() {
        assert_eq!(parse("02:42:AC:11:00:09").unwrap(), "02:42:ac:11:00:09");
        assert_eq!(parse("02-42-ac-11-00-09").unwrap(), "02:42:ac:11:00:09");
        assert_eq!(parse("0242.ac11.0009").unwrap(), "02:42:ac:11:00:09");
        for bad in [
            "",
            "zz",
            "02:42:ac:11:00",
            "02:42:ac:11:00:09:01",
            "02:42:ac:11:00:0g",
            "2:42:ac:11:0:9",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().to_string(),
                format!("invalid MAC address {bad}"),
                "{bad}"
            );
        }
        assert!(
            parse("01:00:5e:00:00:01")
                .unwrap_err()
                .to_string()
                .contains("multicast")
        );
        let g = generated().unwrap();
        assert_eq!(parse(&g).unwrap(), g);
        assert_eq!(u8::from_str_radix(&g[..2], 16).unwrap() & 3, 2, "{g}");
    }

    #[test]
    fn the_modes_endpoint_or_the_deprecated_field() {
        let ep = |key: &str, mac: &str| {
            config(serde_json::json!({"NetworkingConfig": {"EndpointsConfig": {key: {"MacAddress": mac}}}}))
        };
        let mac = Some("02:42:ac:11:00:09".to_string());
        assert_eq!(
            requested(&ep("default", "02:42:ac:11:00:09"), &host("default")).unwrap(),
            mac
        );
        assert_eq!(requested(&ep("app", "02:42:ac:11:00:09"), &host("app")).unwrap(), mac);
        assert_eq!(requested(&ep("default", ""), &host("")).unwrap(), None);
        let wide = config(serde_json::json!({"MacAddress": "02:42:ac:11:00:09"}));
        assert_eq!(requested(&wide, &host("bridge")).unwrap(), mac);
        let e = requested(&wide, &host("host")).unwrap_err();
        assert_eq!(e.to_string(), "conflicting options: mac-address and the network mode");
        assert!(requested(&ep("none", "02:42:ac:11:00:09"), &host("none")).is_err());
        let mut both = ep("default", "02:42:ac:11:00:0a");
        both.extra.insert("MacAddress".into(), "02:42:ac:11:00:09".into());
        assert!(
            requested(&both, &host("default"))
                .unwrap_err()
                .to_string()
                .contains("must match")
        );
        let e = requested(&ep("default", "nope"), &host("default")).unwrap_err();
        assert_eq!(e.to_string(), "invalid MAC address nope");
    }
}
