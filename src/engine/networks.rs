//! User-defined networks: their records (`<root>/networks/<id>.json`,
//! written whole: temporary file, fsync, rename, fsync of the directory),
//! their subnets (from Docker's default pools, skipping what the store's
//! networks and the host's routes use), and the addresses leased to
//! running containers (in memory: no container runs across a daemon's
//! restart). `bridge`, `host` and `none` are predefined: never stored,
//! never removed. How containers join them is [`super::attach`].

use super::error::{Error, internal};
use crate::layers::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The networks every daemon has, with their drivers.
pub const PREDEFINED: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// What the store keeps of a network.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// RFC 3339.
    pub created: String,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    /// `a.b.c.d/len`; empty for the predefined ones.
    pub subnet: String,
    pub gateway: String,
    /// The subnet was the user's (`--subnet`): only then may a container
    /// ask for its own address (`--ip`), as Docker's rule is.
    pub subnet_configured: bool,
}

impl NetworkInfo {
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.iter().any(|(n, _)| *n == self.name)
    }

    /// The subnet's address and prefix length.
    pub fn cidr(&self) -> Option<(Ipv4Addr, u8)> {
        parse_cidr(&self.subnet).ok()
    }
}

/// What a create asks for (checked by [`Networks::create`]).
#[derive(Clone, Debug, Default)]
pub struct NetworkSpec {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub subnet: String,
    pub gateway: String,
}

/// `a.b.c.d/len` with no host bits set.
pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), Error> {
    let bad = || Error::invalid(format!("invalid CIDR address: {}", crate::quote::excerpt(s, 64)));
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if !(8..=30).contains(&len) {
        return Err(bad());
    }
    let masked = u32::from(addr) & mask(len);
    Ok((Ipv4Addr::from(masked), len))
}

fn mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    u32::from(a.0) & mask(len) == u32::from(b.0) & mask(len)
}

pub(super) fn cidr_contains(net: (Ipv4Addr, u8), ip: Ipv4Addr) -> bool {
    u32::from(ip) & mask(net.1) == u32::from(net.0)
}

/// Docker's default pools: 172.17–31.0.0/16 (172.17 is Docker's own
/// bridge, left to it), then 192.168.0.0/16 in /20s.
fn pool() -> impl Iterator<Item = (Ipv4Addr, u8)> {
    (18..=31u8)
        .map(|b| (Ipv4Addr::new(172, b, 0, 0), 16))
        .chain((0..16u8).map(|i| (Ipv4Addr::new(192, 168, i * 16, 0), 20)))
}

/// The IPv4 destinations of the host's routes (so of its addresses).
fn host_routes() -> Vec<(Ipv4Addr, u8)> {
    let out = std::process::Command::new("ip")
        .args(["-j", "-4", "route", "show", "table", "all"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .unwrap_or_default();
    out.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["dst"].as_str())
        .filter(|d| *d != "default")
        .filter_map(|d| {
            let d = if d.contains('/') {
                d.to_string()
            } else {
                format!("{d}/32")
            };
            let (a, l) = d.split_once('/')?;
            Some((a.parse().ok()?, l.parse().ok()?))
        })
        .collect()
}

/// A stable ID for a predefined network (they are not stored).
fn predefined_id(name: &str) -> String {
    Digest::of(format!("strata predefined network {name}").as_bytes()).hex()
}

pub struct Networks {
    dir: PathBuf,
    /// Addresses leased to running containers: network ID → address →
    /// container ID.
    leases: Mutex<HashMap<String, BTreeMap<Ipv4Addr, String>>>,
}

impl Networks {
    /// The store's networks directory, made if missing; temporary files of
    /// an interrupted write removed.
    pub fn open(root: &Path) -> std::io::Result<Networks> {
        let dir = root.join("networks");
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Networks {
            dir,
            leases: Mutex::new(HashMap::new()),
        })
    }

    fn predefined() -> Vec<NetworkInfo> {
        PREDEFINED
            .iter()
            .map(|(name, driver)| NetworkInfo {
                id: predefined_id(name),
                name: name.to_string(),
                driver: driver.to_string(),
                created: String::new(),
                ..Default::default()
            })
            .collect()
    }

    /// The user-defined networks, by name.
    pub fn stored(&self) -> Vec<NetworkInfo> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<NetworkInfo> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let bytes = std::fs::read(e.path()).ok()?;
                match serde_json::from_slice(&bytes) {
                    Ok(n) => Some(n),
                    Err(err) => {
                        tracing::error!("network record {}: {err}", e.path().display());
                        None
                    }
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Every network: the predefined ones, then the stored ones.
    pub fn list(&self) -> Vec<NetworkInfo> {
        let mut out = Self::predefined();
        out.extend(self.stored());
        out
    }

    /// By name, full ID or unique ID prefix (Docker's order).
    pub fn get(&self, key: &str) -> Result<NetworkInfo, Error> {
        let all = self.list();
        if let Some(n) = all.iter().find(|n| n.name == key) {
            return Ok(n.clone());
        }
        if let Some(n) = all.iter().find(|n| n.id == key) {
            return Ok(n.clone());
        }
        let not_found = || Error::not_found(format!("network {} not found", crate::quote::excerpt(key, 128)));
        if key.is_empty() || !crate::layers::digest::is_hex(key) {
            return Err(not_found());
        }
        let found: Vec<&NetworkInfo> = all.iter().filter(|n| n.id.starts_with(key)).collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found()),
            many => Err(Error::invalid(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                many.len()
            ))),
        }
    }

    /// A new network, with a subnet of the pool unless one is asked for.
    pub fn create(&self, spec: NetworkSpec) -> Result<NetworkInfo, Error> {
        validate_name(&spec.name)?;
        if !matches!(spec.driver.as_str(), "" | "bridge") {
            return Err(Error::invalid(format!(
                "strata supports only the bridge network driver, not {:?}",
                crate::quote::excerpt(&spec.driver, 64)
            )));
        }
        let _held = self.lock();
        if self.list().iter().any(|n| n.name == spec.name) {
            return Err(Error::conflict(format!(
                "network with name {} already exists",
                spec.name
            )));
        }
        let taken: Vec<(Ipv4Addr, u8)> = self.stored().iter().filter_map(NetworkInfo::cidr).collect();
        let subnet = if spec.subnet.is_empty() {
            let host = host_routes();
            pool()
                .find(|p| !taken.iter().chain(&host).any(|t| overlaps(*p, *t)))
                .ok_or_else(|| {
                    Error::invalid("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
                })?
        } else {
            let asked = parse_cidr(&spec.subnet)?;
            if taken.iter().any(|t| overlaps(asked, *t)) {
                return Err(Error::forbidden(
                    "invalid pool request: Pool overlaps with other one on this address space",
                ));
            }
            asked
        };
        let gateway = if spec.gateway.is_empty() {
            Ipv4Addr::from(u32::from(subnet.0) + 1)
        } else {
            let g: Ipv4Addr = spec
                .gateway
                .parse()
                .map_err(|_| Error::invalid(format!("invalid gateway address: {}", spec.gateway)))?;
            if !cidr_contains(subnet, g) {
                return Err(Error::forbidden(format!("no matching subnet for gateway {g}")));
            }
            g
        };
        let info = NetworkInfo {
            id: super::random_id().map_err(internal("making a network ID"))?,
            name: spec.name,
            driver: "bridge".into(),
            created: super::now_rfc3339(),
            internal: spec.internal,
            attachable: spec.attachable,
            labels: spec.labels,
            subnet: format!("{}/{}", subnet.0, subnet.1),
            gateway: gateway.to_string(),
            subnet_configured: !spec.subnet.is_empty(),
        };
        self.write(&info).map_err(internal("saving the network"))?;
        Ok(info)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<Ipv4Addr, String>>> {
        self.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, info: &NetworkInfo) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = self.dir.join(format!(".{}.tmp", info.id));
        let json = serde_json::to_vec_pretty(info).map_err(std::io::Error::other)?;
        let done = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.dir.join(format!("{}.json", info.id)))?;
            crate::sys::fsync_dir(&self.dir)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    }

    /// Removes a stored network's record.
    pub fn remove(&self, info: &NetworkInfo) -> Result<(), Error> {
        std::fs::remove_file(self.dir.join(format!("{}.json", info.id))).map_err(internal("removing the network"))?;
        let _ = crate::sys::fsync_dir(&self.dir);
        self.lock().remove(&info.id);
        Ok(())
    }

    /// An address of `net` for container `id` (its own when it has one):
    /// the lowest one after the gateway's not leased, or `want`.
    pub fn lease(&self, net: &NetworkInfo, id: &str, want: Option<Ipv4Addr>) -> Result<(Ipv4Addr, u8), Error> {
        let (base, len) = net
            .cidr()
            .ok_or_else(|| Error::internal(format!("network {} has no subnet", net.name)))?;
        let gateway: Option<Ipv4Addr> = net.gateway.parse().ok();
        let mut leases = self.lock();
        let table = leases.entry(net.id.clone()).or_default();
        if let Some((ip, _)) = table.iter().find(|(_, c)| *c == id) {
            return Ok((*ip, len));
        }
        let first = u32::from(base) + 1;
        let last = u32::from(base) | !mask(len);
        let free = |ip: Ipv4Addr| Some(ip) != gateway && !table.contains_key(&ip);
        let ip = match want {
            Some(ip) if cidr_contains((base, len), ip) && free(ip) => ip,
            Some(ip) => {
                return Err(Error::invalid(format!(
                    "Address already in use or not in the network's subnet: {ip}"
                )));
            }
            None => (first..last)
                .map(Ipv4Addr::from)
                .find(|ip| free(*ip))
                .ok_or_else(|| Error::forbidden(format!("no available IPv4 addresses on network {}", net.name)))?,
        };
        table.insert(ip, id.to_string());
        Ok((ip, len))
    }

    /// Gives back container `id`'s address on `net` (all its addresses
    /// with `None`).
    pub fn release(&self, id: &str, net: Option<&str>) {
        for (n, table) in self.lock().iter_mut() {
            if net.is_none_or(|want| want == n) {
                table.retain(|_, c| c != id);
            }
        }
    }
}

/// Docker's rule for network names.
fn validate_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            crate::quote::excerpt(name, 128)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn cidrs_and_overlaps() {
        assert_eq!(parse_cidr("10.1.2.3/16").unwrap(), (Ipv4Addr::new(10, 1, 0, 0), 16));
        assert!(parse_cidr("10.1.2.3").is_err());
        assert!(parse_cidr("fe80::/64").is_err());
        let a = parse_cidr("172.18.0.0/16").unwrap();
        assert!(overlaps(a, parse_cidr("172.18.5.0/24").unwrap()));
        assert!(!overlaps(a, parse_cidr("172.19.0.0/16").unwrap()));
    }

    #[test]
    fn create_pick_subnets_refuse_duplicates_and_lease() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::open(dir.path()).unwrap();
        let host = host_routes();
        let a = nets.create(spec("app")).unwrap();
        let b = nets.create(spec("other")).unwrap();
        let (ca, cb) = (a.cidr().unwrap(), b.cidr().unwrap());
        assert!(!overlaps(ca, cb), "{a:?} {b:?}");
        assert!(!host.iter().any(|h| overlaps(*h, ca)));
        assert_eq!(a.gateway, Ipv4Addr::from(u32::from(ca.0) + 1).to_string());
        let e = nets.create(spec("app")).unwrap_err();
        assert_eq!(e.to_string(), "network with name app already exists");
        assert!(matches!(e, Error::Conflict(_)));
        assert!(nets.create(spec("bridge")).is_err());
        let e = nets
            .create(NetworkSpec {
                driver: "overlay".into(),
                ..spec("x")
            })
            .unwrap_err();
        assert!(e.to_string().contains("only the bridge network driver"), "{e}");
        let e = nets
            .create(NetworkSpec {
                subnet: a.subnet.clone(),
                ..spec("y")
            })
            .unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
        // Leases: .2 then .3; the same container keeps its own; a release frees.
        let (ip1, _) = nets.lease(&a, "c1", None).unwrap();
        let (ip2, _) = nets.lease(&a, "c2", None).unwrap();
        assert_eq!(u32::from(ip1), u32::from(ca.0) + 2);
        assert_eq!(u32::from(ip2), u32::from(ca.0) + 3);
        assert_eq!(nets.lease(&a, "c1", None).unwrap().0, ip1);
        nets.release("c1", None);
        assert_eq!(nets.lease(&a, "c3", None).unwrap().0, ip1);
        // Persisted: a second open reads them; by ID prefix too.
        let again = Networks::open(dir.path()).unwrap();
        assert_eq!(again.get("app").unwrap(), a);
        assert_eq!(again.get(&a.id[..10]).unwrap(), a);
        assert_eq!(again.get("nope").unwrap_err().to_string(), "network nope not found");
        assert_eq!(again.list().len(), 5);
        again.remove(&a).unwrap();
        assert!(again.get("app").is_err());
    }
}
