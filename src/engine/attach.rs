//! Containers on user-defined networks: the networks' operations
//! (create, list, remove, prune, connect, disconnect) over the store of
//! [`super::networks`] and the namespaces of [`crate::run::bridge`]; the
//! links a start makes; and the names.
//!
//! Names are a managed `/etc/hosts` (the issue allows it, and busybox's
//! and glibc's resolvers read it with no daemon to run): every running
//! container on a network has a line for each other one there (its
//! address, name, aliases and short ID). The file is bind-mounted into
//! the container, so it is rewritten in place (same inode) whenever a
//! container on one of its networks starts, ends, connects or
//! disconnects ([`Engine::refresh_hosts`]).
//!
//! Rootless, the containers on user networks share one user namespace,
//! the daemon's holder's ([`crate::run::holder`]), which owns the
//! networks' namespaces too: only so may one process configure both ends
//! of a veth pair.

use super::error::Error;
use super::networks::{NetworkInfo, NetworkSpec};
use super::record::{Attachment, Record};
use super::spec::{Config, HostSettings};
use super::{Container, Engine};
use crate::run::bridge::{self, Link};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A container on a network, as the network shows it.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub ip: String,
    pub prefix_len: u8,
}

/// A network with the running containers on it.
#[derive(Clone, Debug)]
pub struct NetworkView {
    pub info: NetworkInfo,
    pub members: Vec<Member>,
}

/// Whether a network mode names a user-defined network.
pub fn is_user_mode(mode: &str) -> bool {
    !matches!(mode, "" | "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// What an endpoint config asks for: aliases, and an IPv4 address
/// (`--ip`). An IPv6 or link-local address is refused (no IPv6 here).
#[derive(Debug, Default, PartialEq)]
struct Endpoint {
    aliases: Vec<String>,
    ip: Option<Ipv4Addr>,
    mac: Option<String>,
    links: Vec<(String, String)>,
}

fn endpoint_settings(v: Option<&Value>) -> Result<Endpoint, Error> {
    let Some(v) = v else { return Ok(Endpoint::default()) };
    let ipam = &v["IPAMConfig"];
    let blank = |x: &Value| x.is_null() || x == "" || x.as_array().is_some_and(|a| a.is_empty());
    if let Some(o) = ipam.as_object()
        && let Some((key, _)) = o.iter().find(|(k, x)| *k != "IPv4Address" && !blank(x))
    {
        return Err(Error::invalid(format!(
            "strata does not support IPAMConfig.{key} (--ip6, --link-local-ip): remove it from the command"
        )));
    }
    let ip = match ipam["IPv4Address"].as_str().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<Ipv4Addr>()
                .map_err(|_| Error::invalid(format!("invalid IPv4 address: {s}")))?,
        ),
        None => None,
    };
    let aliases = v["Aliases"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let mac = super::mac::of_endpoint(Some(v))?;
    let links = super::links::of_endpoint(Some(v))?;
    Ok(Endpoint {
        aliases,
        ip,
        mac,
        links,
    })
}

/// Docker's rule: an address may be asked for only on a user network
/// whose subnet the user gave, and it must be in that subnet.
fn check_requested_ip(net: &NetworkInfo, ip: Option<Ipv4Addr>) -> Result<(), Error> {
    let Some(ip) = ip else { return Ok(()) };
    if !net.subnet_configured {
        return Err(Error::invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets",
        ));
    }
    match net.cidr() {
        Some(cidr) if super::networks::cidr_contains(cidr, ip) => Ok(()),
        _ => Err(Error::invalid(format!(
            "no configured subnet or ip-range contain the IP address {ip}"
        ))),
    }
}

/// The name of pasta's interface in a container: the host's interface of
/// its default route (pasta's default), `tap0` without one.
pub(super) fn pasta_ifname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::process::Command::new("ip")
            .args(["-j", "-4", "route", "show", "default"])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
            .and_then(|v| v[0]["dev"].as_str().map(str::to_string))
            .unwrap_or_else(|| "tap0".into())
    })
}

/// `/etc/hosts` as Docker writes it, with the container's own line and
/// the lines of its peers.
pub(super) fn hosts_text(r: &Record, own_ip: &str, peers: &str) -> String {
    let own = if own_ip.is_empty() { "127.0.1.1" } else { own_ip };
    let hostname = match r.config.domainname.as_str() {
        "" => r.config.hostname.clone(),
        domain => format!("{0}.{domain} {0}", r.config.hostname),
    };
    let extra = super::dns::extra_hosts(&r.host_config);
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n{extra}{own}\t{hostname}\n{peers}"
    )
}

/// The address a container's own name stands for: the one on the network
/// its mode names, else on any user network, else pasta's.
/// Rewrites a bind-mounted file in place (a new inode would not be seen
/// inside) so that a reader never finds it empty, as a truncation first
/// would leave it (`hostname -i` in a container just started, while its
/// start refreshes every hosts file, said "Unknown host"): nothing is
/// written when the text is the same; otherwise the new text goes over
/// the old from the start, and only then is the file cut to its length.
fn rewrite_in_place(path: &std::path::Path, text: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    if std::fs::read(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all_at(text, 0)?;
    f.set_len(text.len() as u64)
}

pub(super) fn own_ip(r: &Record) -> String {
    let mode = r.host_config.network_mode.as_str();
    r.networks
        .values()
        .find(|a| a.network == mode && !a.ip.is_empty())
        .or_else(|| r.networks.values().find(|a| !a.ip.is_empty()))
        .map(|a| a.ip.clone())
        .or_else(|| r.endpoint.as_ref().map(|e| e.ip.clone()))
        .unwrap_or_default()
}

impl Engine {
    /// A new user-defined network: its record, then (root) its namespace;
    /// a namespace that cannot be made takes the record back.
    pub fn network_create(&self, spec: NetworkSpec) -> Result<NetworkInfo, Error> {
        let info = self.networks.create(spec)?;
        if crate::sys::is_root()
            && let Some((base, len)) = info.cidr()
        {
            let gateway = info.gateway.parse().unwrap_or(base);
            if let Err(e) = bridge::ensure(&info.id, gateway, len) {
                let _ = self.networks.remove(&info);
                return Err(Error::internal(format!("creating network {}: {e}", info.name)));
            }
        }
        self.network_event("create", &info, None);
        Ok(info)
    }

    /// The running containers on `net`.
    fn members(&self, net: &NetworkInfo) -> Vec<Member> {
        let mut out = Vec::new();
        for c in self.all() {
            let r = c.record();
            if !r.state.is_running() {
                continue;
            }
            let on_default =
                net.name == "bridge" && matches!(r.host_config.network_mode.as_str(), "" | "default" | "bridge");
            if let Some(a) = r.networks.get(&net.id).filter(|a| !a.ip.is_empty()) {
                out.push(Member {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    ip: a.ip.clone(),
                    prefix_len: a.prefix_len,
                });
            } else if on_default && let Some(e) = &r.endpoint {
                out.push(Member {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    ip: e.ip.clone(),
                    prefix_len: e.prefix_len,
                });
            }
        }
        out
    }

    pub fn network_list(&self) -> Vec<NetworkView> {
        self.networks
            .list()
            .into_iter()
            .map(|info| NetworkView {
                members: self.members(&info),
                info,
            })
            .collect()
    }

    pub fn network(&self, key: &str) -> Result<NetworkView, Error> {
        let info = self.networks.get(key)?;
        Ok(NetworkView {
            members: self.members(&info),
            info,
        })
    }

    /// Removes a user-defined network no running container is on.
    pub fn network_remove(&self, key: &str) -> Result<(), Error> {
        let view = self.network(key)?;
        let info = &view.info;
        if info.is_predefined() {
            return Err(Error::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                info.name
            )));
        }
        if !view.members.is_empty() {
            return Err(Error::forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                info.name, info.id
            )));
        }
        self.networks.remove(info)?;
        bridge::remove(&info.id);
        self.holder().remove(&info.id);
        self.network_event("destroy", info, None);
        Ok(())
    }

    /// Removes the user-defined networks no running container is on for
    /// which `keep` says no; their names.
    pub fn network_prune(&self, keep: impl Fn(&NetworkInfo) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        for view in self.network_list() {
            if view.info.is_predefined() || !view.members.is_empty() || keep(&view.info) {
                continue;
            }
            if self.network_remove(&view.info.id).is_ok() {
                out.push(view.info.name);
            }
        }
        out
    }

    /// The user network a create's mode names as the record's first
    /// attachment, with the endpoint's aliases. As Docker, a network that
    /// does not exist is an error of the start, not of the create (the
    /// docker CLI takes a create's 404 for a missing image, and pulls):
    /// `strict` is the start's.
    pub(super) fn create_attachments(
        &self,
        config: &Config,
        host: &HostSettings,
        strict: bool,
    ) -> Result<BTreeMap<String, Attachment>, Error> {
        let mode = host.network_mode.as_str();
        let mut out = BTreeMap::new();
        let endpoints = config.extra.get("NetworkingConfig").map(|n| &n["EndpointsConfig"]);
        if !is_user_mode(mode) {
            let asked = |what: &str| {
                endpoints.and_then(Value::as_object).is_some_and(|eps| {
                    eps.values().any(|ep| match what {
                        "alias" => ep["Aliases"].as_array().is_some_and(|a| !a.is_empty()),
                        _ => ep["IPAMConfig"]["IPv4Address"].as_str().is_some_and(|s| !s.is_empty()),
                    })
                })
            };
            if asked("alias") {
                return Err(Error::invalid(
                    "network-scoped alias is supported only for containers in user defined networks",
                ));
            }
            if asked("ip") {
                return Err(Error::invalid(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            return Ok(out);
        }
        let net = match self.networks.get(mode) {
            Ok(net) => net,
            Err(_) if !strict => return Ok(out),
            Err(e) => return Err(e),
        };
        let mut endpoint = endpoint_settings(endpoints.and_then(|e| e.get(mode).or_else(|| e.get(&net.id))))?;
        check_requested_ip(&net, endpoint.ip)?;
        // An API client may name the links in HostConfig only.
        if endpoint.links.is_empty() {
            endpoint.links = super::links::of_host(host)?;
        }
        out.insert(
            net.id.clone(),
            Attachment {
                network: net.name.clone(),
                aliases: endpoint.aliases,
                requested_ip: endpoint.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                requested_mac: super::mac::requested(config, host)?.unwrap_or_default(),
                links: endpoint.links,
                ..Default::default()
            },
        );
        Ok(out)
    }

    /// The links of a start: an address leased on each of the record's
    /// networks (written into `record`), their namespaces made if a reboot
    /// took them. Whether the mode's network is internal (no pasta).
    pub(super) fn start_links(&self, record: &mut Record) -> Result<(Vec<Link>, bool), Error> {
        if record.networks.is_empty() && !is_user_mode(&record.host_config.network_mode) {
            return Ok((Vec::new(), false));
        }
        let mode = record.host_config.network_mode.clone();
        if is_user_mode(&mode) && !record.networks.values().any(|a| a.network == mode) {
            let more = self.create_attachments(&record.config, &record.host_config, true)?;
            record.networks.extend(more);
        }
        let mut names: Vec<String> = Vec::new();
        let mut links = Vec::new();
        let first_internal = record
            .networks
            .values()
            .find(|a| a.network == mode)
            .and_then(|a| self.networks.get(&a.network).ok())
            .is_some_and(|n| n.internal);
        if !first_internal {
            names.push(pasta_ifname().to_string());
        }
        for (id, a) in record.networks.iter_mut() {
            let net = self
                .networks
                .get(id)
                .map_err(|_| Error::not_found(format!("network {} not found", a.network)))?;
            let (netns, userns) = self.net_namespace(&net)?;
            let (ip, prefix_len) = self.networks.lease(&net, &record.id, a.requested_ip.parse().ok())?;
            let ifname = (0..)
                .map(|n| format!("eth{n}"))
                .find(|n| !names.contains(n))
                .unwrap_or_default();
            names.push(ifname.clone());
            let mac = match a.requested_mac.as_str() {
                "" => super::mac::generated()?,
                asked => asked.to_string(),
            };
            a.ip = ip.to_string();
            a.prefix_len = prefix_len;
            a.ifname = ifname.clone();
            a.mac = mac.clone();
            links.push(Link {
                netns,
                userns,
                ifname,
                ip,
                prefix_len,
                mac,
            });
        }
        Ok((links, first_internal))
    }

    /// The `/etc/hosts` lines of `record`'s peers: every other running
    /// container sharing one of its networks.
    pub(super) fn peer_lines(&self, record: &Record) -> String {
        let mut out = String::new();
        for c in self.all() {
            if c.id == record.id {
                continue;
            }
            let other = c.record();
            if !other.state.is_running() {
                continue;
            }
            for (id, a) in &other.networks {
                let Some(own) = record.networks.get(id) else { continue };
                if a.ip.is_empty() {
                    continue;
                }
                let mut names = vec![other.name.clone()];
                names.extend(a.aliases.iter().cloned());
                // This container's links to it on this network.
                let linked = own.links.iter().filter(|(name, _)| {
                    let name = name.strip_prefix('/').unwrap_or(name);
                    name == other.name || (name.len() >= 12 && other.id.starts_with(name))
                });
                names.extend(linked.map(|(_, alias)| alias.clone()));
                names.push(other.id[..12].to_string());
                out.push_str(&format!("{}\t{}\n", a.ip, names.join(" ")));
            }
        }
        // Its legacy links' lines on the default network.
        for line in record.endpoint.iter().flat_map(|e| &e.link_hosts) {
            out.push_str(line);
        }
        out
    }

    /// Rewrites the hosts file of every running container on a user
    /// network, in place (it is bind-mounted: a new inode would not be
    /// seen inside).
    pub(super) fn refresh_hosts(&self) {
        for c in self.all() {
            let r = c.record();
            if !r.state.is_running() || r.networks.is_empty() {
                continue;
            }
            let text = hosts_text(&r, &own_ip(&r), &self.peer_lines(&r));
            if let Err(e) = rewrite_in_place(&c.dir.join("hosts"), text.as_bytes()) {
                tracing::warn!("container {}: rewriting its hosts file: {e}", &c.id[..12]);
            }
        }
    }

    /// Unbinds every network's namespace (the daemon's shutdown).
    pub(super) fn networks_down(&self) {
        if crate::sys::is_root() {
            for n in self.networks.stored() {
                bridge::remove(&n.id);
            }
            self.link_bridge_down();
        }
        self.holder().end();
    }

    fn holder(&self) -> std::sync::MutexGuard<'_, crate::run::holder::Holder> {
        self.holder.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A network's namespace (made if missing: a reboot, or rootless the
    /// first use since the daemon's start), and rootless the user
    /// namespace it is in.
    pub(super) fn net_namespace(
        &self,
        net: &NetworkInfo,
    ) -> Result<(std::path::PathBuf, Option<std::path::PathBuf>), Error> {
        let (base, len) = net
            .cidr()
            .ok_or_else(|| Error::internal("a network without a subnet"))?;
        let gateway = net.gateway.parse().unwrap_or(base);
        let failed = |e: bridge::Error| Error::internal(format!("network {}: {e}", net.name));
        if crate::sys::is_root() {
            return Ok((bridge::ensure(&net.id, gateway, len).map_err(failed)?, None));
        }
        let mut holder = self.holder();
        let netns = holder.ensure(&net.id, gateway, len).map_err(failed)?;
        Ok((netns, Some(holder.userns().map_err(failed)?)))
    }

    /// The addresses of a run given back (at its end, or a failed start).
    pub(super) fn release_links(&self, c: &Container) {
        self.networks.release(&c.id, None);
    }

    /// Puts container `key` on network `net`: at once when it runs
    /// (a new interface), at its next start otherwise.
    pub fn network_connect(&self, net: &str, key: &str, endpoint: Option<&Value>) -> Result<(), Error> {
        let net = self.networks.get(net)?;
        let c = self.get(key)?;
        let Endpoint {
            aliases,
            ip: asked,
            mac: asked_mac,
            links,
        } = endpoint_settings(endpoint)?;
        if net.is_predefined() {
            return Err(Error::invalid(format!(
                "strata does not support connecting a container to the {} network yet",
                net.name
            )));
        }
        let mut live = c.lock();
        let mode = live.record.host_config.network_mode.clone();
        if mode == "host" {
            return Err(Error::forbidden(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if mode == "none" || mode.starts_with("container:") {
            return Err(Error::forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if live.record.networks.contains_key(&net.id) {
            return Err(Error::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                live.record.name, net.name
            )));
        }
        check_requested_ip(&net, asked)?;
        let mut a = Attachment {
            network: net.name.clone(),
            aliases,
            requested_ip: asked.map(|ip| ip.to_string()).unwrap_or_default(),
            requested_mac: asked_mac.clone().unwrap_or_default(),
            links,
            ..Default::default()
        };
        if let Some(pid) = live.run.as_ref().map(|r| r.process.pid()) {
            let (netns, userns) = self.net_namespace(&net)?;
            let mac = match asked_mac {
                Some(mac) => mac,
                None => super::mac::generated()?,
            };
            let (ip, prefix_len) = self.networks.lease(&net, &c.id, asked)?;
            let link = Link {
                netns,
                userns,
                ifname: bridge::free_ifname(pid),
                ip,
                prefix_len,
                mac,
            };
            if let Err(e) = bridge::attach(pid, &link) {
                self.networks.release(&c.id, Some(&net.id));
                return Err(Error::internal(format!("connecting to network {}: {e}", net.name)));
            }
            a.ip = ip.to_string();
            a.prefix_len = prefix_len;
            a.ifname = link.ifname;
            a.mac = link.mac;
        }
        live.record.networks.insert(net.id.clone(), a);
        let rec = live.record.clone();
        drop(live);
        c.save(&rec)
            .map_err(super::error::internal("saving the container's record"))?;
        // A stopped container connects at its next start.
        if rec.state.is_running() {
            self.network_event("connect", &net, Some(&c.id));
        }
        self.refresh_hosts();
        Ok(())
    }

    /// Takes container `key` off network `net` (its interface deleted when
    /// it runs).
    pub fn network_disconnect(&self, net: &str, key: &str) -> Result<(), Error> {
        let net = self.networks.get(net)?;
        let c: Arc<Container> = self.get(key)?;
        let mut live = c.lock();
        let Some(a) = live.record.networks.get(&net.id).cloned() else {
            return Err(Error::forbidden(format!(
                "container {} is not connected to network {}",
                c.id, net.name
            )));
        };
        if let Some(pid) = live.run.as_ref().map(|r| r.process.pid())
            && !a.ifname.is_empty()
        {
            bridge::detach(pid, &a.ifname, !crate::sys::is_root());
        }
        self.networks.release(&c.id, Some(&net.id));
        live.record.networks.remove(&net.id);
        let rec = live.record.clone();
        drop(live);
        c.save(&rec)
            .map_err(super::error::internal("saving the container's record"))?;
        if rec.state.is_running() {
            self.network_event("disconnect", &net, Some(&c.id));
        }
        // Its own file keeps its peers' lines until it is rewritten here.
        if rec.state.is_running() {
            let text = hosts_text(&rec, &own_ip(&rec), &self.peer_lines(&rec));
            let _ = rewrite_in_place(&c.dir.join("hosts"), text.as_bytes());
        }
        self.refresh_hosts();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_rewritten_in_place_keeps_its_inode_and_is_never_seen_empty() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("strata-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hosts");
        let (long, short) = (
            b"127.0.0.1\tlocalhost\n10.0.0.2\tweb\n".as_slice(),
            b"127.0.0.1\tlocalhost\n".as_slice(),
        );
        std::fs::write(&path, long).unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut empty = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    empty += usize::from(std::fs::read(&path).unwrap().is_empty());
                }
                empty
            })
        };
        for i in 0..2000 {
            rewrite_in_place(&path, if i % 2 == 0 { short } else { long }).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(reader.join().unwrap(), 0, "a reader saw the file empty");
        assert_eq!(std::fs::read(&path).unwrap(), long);
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            inode,
            "the bind mount's inode is kept"
        );
        rewrite_in_place(&path, short).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), short, "cut to the new length");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn modes_and_aliases() {
        assert!(is_user_mode("app"));
        for m in ["", "default", "bridge", "host", "none", "container:x"] {
            assert!(!is_user_mode(m), "{m}");
        }
        let v = serde_json::json!({"Aliases": ["a", "b"], "IPAMConfig": null, "MacAddress": ""});
        assert_eq!(endpoint_settings(Some(&v)).unwrap().aliases, ["a", "b"]);
        let v = serde_json::json!({"IPAMConfig": {"IPv4Address": "172.18.0.9"}});
        assert_eq!(
            endpoint_settings(Some(&v)).unwrap().ip,
            Some(Ipv4Addr::new(172, 18, 0, 9))
        );
        let v = serde_json::json!({"IPAMConfig": {"IPv4Address": "", "IPv6Address": "fd00::9"}});
        assert!(endpoint_settings(Some(&v)).is_err());
        let v = serde_json::json!({"IPAMConfig": {"IPv4Address": "300.1.1.1"}});
        assert!(endpoint_settings(Some(&v)).is_err());
        let v = serde_json::json!({"IPAMConfig": {"IPv4Address": "", "IPv6Address": "", "LinkLocalIPs": []}});
        assert_eq!(endpoint_settings(Some(&v)).unwrap(), Endpoint::default());
    }

    #[test]
    fn hosts_lines() {
        let mut r: Record = serde_json::from_value(serde_json::json!({
            "id": "x", "name": "web", "created": "", "image": format!("sha256:{}", "0".repeat(64)),
            "path": "sh", "args": [], "config": {"Hostname": "web"},
            "host_config": {"ExtraHosts": ["db2:192.0.2.9"]}, "state": {}
        }))
        .unwrap();
        let t = hosts_text(&r, "172.18.0.2", "172.18.0.3\tdb db0 0123456789ab\n");
        assert!(t.starts_with("127.0.0.1\tlocalhost\n"), "{t}");
        assert!(
            t.ends_with("192.0.2.9\tdb2\n172.18.0.2\tweb\n172.18.0.3\tdb db0 0123456789ab\n"),
            "{t}"
        );
        r.host_config.extra.clear();
        r.config.hostname = "h".into();
        assert!(hosts_text(&r, "", "").ends_with("127.0.1.1\th\n"));
    }
}
