//! Legacy links, `--link NAME[:ALIAS]` (`HostConfig.Links`).
//!
//! On a user network a link is an alias only this container sees: its
//! `/etc/hosts` line for NAME's container on that network also names
//! ALIAS ([`super::attach`]'s `peer_lines`). As with Docker's resolver,
//! nothing is checked: the alias resolves while NAME runs there.
//!
//! On the default network, Docker's containers share `docker0`; here each
//! has only its own pasta, so two of them cannot reach each other at all
//! (Docker's `--icc=false`). A link is what connects them, as with
//! `--icc=false`: at the start of the linking container, it and each
//! linked one get an interface on the *link bridge*, a network of the
//! daemon's own on Docker's default subnet, 172.17.0.0/16 (its namespace
//! is made like a user network's, [`crate::run::bridge`]; it is listed
//! nowhere). A linked container keeps its interface until it ends. The
//! linking container's hosts file names each linked one (`IP ALIAS
//! HOSTNAME NAME`) and its environment has Docker's link variables
//! ([`env_vars`], as moby's `daemon/links`).
//!
//! Docker's errors: at create, a link to a container that does not exist
//! (400) or that runs on the host's network, and links from a `host` or
//! `container:` mode; at start, a linked container that is not running or
//! not on the default network.

use super::error::Error;
use super::networks::NetworkInfo;
use super::record::{Attachment, Record};
use super::spec::{Config, HostSettings};
use super::{Container, Engine};
use crate::run::bridge::{self, Link};
use crate::run::network::Protocol;
use serde_json::Value;
use std::sync::Arc;

/// The link bridge's subnet and gateway: Docker's `docker0`'s.
const SUBNET: &str = "172.17.0.0/16";
const GATEWAY: &str = "172.17.0.1";

/// `NAME[:ALIAS]` as Docker's `opts.ParseLink` reads it (also the
/// `/NAME:/PARENT/ALIAS` form inspect shows): the name and the alias.
pub fn parse(link: &str) -> Result<(String, String), Error> {
    if link.is_empty() {
        return Err(Error::invalid("empty string specified for links"));
    }
    let parts: Vec<&str> = link.split(':').collect();
    match parts.as_slice() {
        [name] => Ok((name.to_string(), name.to_string())),
        [name, alias] if name.starts_with('/') => {
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            Ok((name[1..].to_string(), alias.to_string()))
        }
        [name, alias] => Ok((name.to_string(), alias.to_string())),
        _ => Err(Error::invalid(format!(
            "bad format for links: {}",
            crate::quote::excerpt(link, 128)
        ))),
    }
}

/// `HostConfig.Links` as Docker's inspect shows a default-network
/// container's, `/NAME:/CONTAINER/ALIAS`; `None` for another mode (its
/// links are shown as they were given).
pub fn shown(r: &Record) -> Option<Vec<String>> {
    if !on_default_network(&r.host_config.network_mode) {
        return None;
    }
    let links = of_host(&r.host_config).ok().filter(|l| !l.is_empty())?;
    Some(
        links
            .iter()
            .map(|(name, alias)| format!("/{}:/{}/{alias}", name.trim_start_matches('/'), r.name))
            .collect(),
    )
}

/// `HostConfig.Links`, parsed.
pub fn of_host(host: &HostSettings) -> Result<Vec<(String, String)>, Error> {
    strings(host.extra.get("Links")).iter().map(|l| parse(l)).collect()
}

/// An endpoint config's `Links`, parsed.
pub fn of_endpoint(endpoint: Option<&Value>) -> Result<Vec<(String, String)>, Error> {
    strings(endpoint.and_then(|e| e.get("Links")))
        .iter()
        .map(|l| parse(l))
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn on_default_network(mode: &str) -> bool {
    matches!(mode, "" | "default" | "bridge")
}

/// Docker's link variables for the linked container `child_ip` under the
/// link's full name `/PARENT/ALIAS` (moby's `links.ToEnv`): the ports it
/// exposes (TCP first, ranges of consecutive ports summed up), its name,
/// and its environment but `HOME` and `PATH`.
pub fn env_vars(full_name: &str, child_ip: &str, child_env: &[String], mut ports: Vec<(u16, Protocol)>) -> Vec<String> {
    let alias = full_name
        .rsplit('/')
        .next()
        .unwrap_or(full_name)
        .to_uppercase()
        .replace('-', "_");
    ports.sort_by_key(|(n, p)| (*p != Protocol::Tcp, p.as_str(), *n));
    let mut env = Vec::new();
    // moby's walk, kept as it is so that the variables come in its order
    // (a range's summary after the port that ends it).
    let (mut start, mut end) = (ports.first().copied(), ports.first().copied());
    for (i, &(num, proto)) in ports.iter().enumerate() {
        let p = proto.as_str();
        if i == 0 {
            env.push(format!("{alias}_PORT={p}://{child_ip}:{num}"));
        }
        let prefix = format!("{alias}_PORT_{num}_{}", p.to_uppercase());
        env.push(format!("{prefix}={p}://{child_ip}:{num}"));
        env.push(format!("{prefix}_ADDR={child_ip}"));
        env.push(format!("{prefix}_PORT={num}"));
        env.push(format!("{prefix}_PROTO={p}"));
        if let Some((last, last_proto)) = end
            && u32::from(num) == u32::from(last) + 1
            && proto == last_proto
        {
            end = Some((num, proto));
            if i < ports.len() - 1 {
                continue;
            }
        }
        if let (Some((first, first_proto)), Some((last, last_proto))) = (start, end)
            && start != end
        {
            let (fp, lp) = (first_proto.as_str(), last_proto.as_str());
            let prefix = format!("{alias}_PORT_{first}_{}", fp.to_uppercase());
            env.push(format!("{prefix}_START={fp}://{child_ip}:{first}"));
            env.push(format!("{prefix}_PORT_START={first}"));
            env.push(format!("{prefix}_END={lp}://{child_ip}:{last}"));
            env.push(format!("{prefix}_PORT_END={last}"));
        }
        (start, end) = (Some((num, proto)), Some((num, proto)));
    }
    env.push(format!("{alias}_NAME={full_name}"));
    for e in child_env {
        if let Some((k, v)) = e.split_once('=')
            && k != "HOME"
            && k != "PATH"
        {
            env.push(format!("{alias}_ENV_{k}={v}"));
        }
    }
    env
}

/// What a start's legacy links give the linking container: its interface
/// on the link bridge, its hosts lines and its environment.
#[derive(Debug, Default)]
pub(super) struct Linked {
    pub link: Option<(Link, Attachment)>,
    pub hosts: Vec<String>,
    pub env: Vec<String>,
}

impl Engine {
    /// The create's checks of `HostConfig.Links` (Docker's
    /// `registerLinks`); on a user network only their form.
    pub(super) fn check_links(&self, config: &Config, host: &HostSettings) -> Result<(), Error> {
        let links = of_host(host)?;
        let mode = host.network_mode.as_str();
        if links.is_empty() || super::attach::is_user_mode(mode) {
            let endpoints = config.extra.get("NetworkingConfig").map(|n| &n["EndpointsConfig"]);
            for ep in endpoints.and_then(Value::as_object).into_iter().flatten() {
                of_endpoint(Some(ep.1))?;
            }
            return Ok(());
        }
        if mode == "host" {
            return Err(host_conflict());
        }
        if mode.starts_with("container:") {
            return Err(Error::invalid(
                "conflicting options: container type network can't be used with links. This would result in undefined behavior",
            ));
        }
        if !crate::sys::is_root() {
            return Err(Error::invalid(
                "strata does not support --link on a rootless daemon's default network yet: put the containers on a user-defined network (docker network create)",
            ));
        }
        for (name, _) in &links {
            let child = self.link_target(name)?;
            if child.record().host_config.network_mode == "host" {
                return Err(host_conflict());
            }
        }
        Ok(())
    }

    /// The container a link names, through `container:` modes to the one
    /// whose network it shares.
    fn link_target(&self, name: &str) -> Result<Arc<Container>, Error> {
        let wrap = |name: &str, e: Error| Error::invalid(format!("could not get container for {name}: {e}"));
        let mut child = self.get(name).map_err(|e| wrap(name, e))?;
        for _ in 0..8 {
            let mode = child.record().host_config.network_mode;
            let Some(other) = mode.strip_prefix("container:") else {
                break;
            };
            child = self.get(other).map_err(|e| wrap(other, e))?;
        }
        Ok(child)
    }

    /// The legacy links of a start on the default network: each linked
    /// container running there, joined to the link bridge if it is not
    /// yet; this one's interface there (named apart from `taken`).
    pub(super) fn legacy_links(&self, record: &Record, taken: &[String]) -> Result<Linked, Error> {
        let links = of_host(&record.host_config)?;
        if links.is_empty() || !on_default_network(&record.host_config.network_mode) {
            return Ok(Linked::default());
        }
        let net = self.link_network()?;
        let mut out = Linked::default();
        for (name, alias) in &links {
            let child = self.link_target(name)?;
            let full = format!("/{}/{alias}", record.name);
            if child.id == record.id {
                return Err(Error::invalid(format!(
                    "cannot link container /{} to itself",
                    record.name
                )));
            }
            let leg = self.join_link_bridge(&child, &net, &full)?;
            let other = child.record();
            let mut names = vec![alias.clone(), other.config.hostname.clone()];
            if *alias != other.name {
                names.push(other.name.clone());
            }
            out.hosts.push(format!("{}\t{}\n", leg.ip, names.join(" ")));
            let env = other.config.env.clone().unwrap_or_default();
            let ports = super::ports::exposed(&other.config)
                .iter()
                .filter_map(|k| super::ports::parse_port_key(k).ok())
                .collect();
            out.env.extend(env_vars(&full, &leg.ip, &env, ports));
        }
        let (netns, userns) = self.net_namespace(&net)?;
        let (ip, prefix_len) = self.networks.lease(&net, &record.id, None)?;
        let ifname = (0..)
            .map(|n| format!("eth{n}"))
            .find(|n| !taken.contains(n))
            .unwrap_or_default();
        let mac = super::mac::generated()?;
        let attachment = Attachment {
            network: net.name.clone(),
            ip: ip.to_string(),
            prefix_len,
            ifname: ifname.clone(),
            mac: mac.clone(),
            ..Default::default()
        };
        let link = Link {
            netns,
            userns,
            ifname,
            ip,
            prefix_len,
            mac,
        };
        out.link = Some((link, attachment));
        Ok(out)
    }

    /// The link bridge (the predefined `bridge` network, given Docker's
    /// subnet for its namespace).
    fn link_network(&self) -> Result<NetworkInfo, Error> {
        let mut net = self.networks.get("bridge")?;
        net.subnet = SUBNET.into();
        net.gateway = GATEWAY.into();
        Ok(net)
    }

    /// Container `child`'s interface on the link bridge, made now unless
    /// it has one (Docker's errors when it is not running, or not on the
    /// default network).
    fn join_link_bridge(&self, child: &Arc<Container>, net: &NetworkInfo, full: &str) -> Result<Attachment, Error> {
        let mut live = child.lock();
        let pid = live.run.as_ref().map(|r| r.process.pid());
        let (Some(pid), true) = (pid, live.record.state.is_running()) else {
            return Err(Error::invalid(format!(
                "Cannot link to a non running container: /{} AS {full}",
                live.record.name
            )));
        };
        if !on_default_network(&live.record.host_config.network_mode) {
            return Err(Error::invalid(format!(
                "Cannot link to /{}, as it does not belong to the default network",
                live.record.name
            )));
        }
        let Some(endpoint) = live.record.endpoint.as_mut() else {
            return Err(Error::invalid(format!(
                "Cannot link to /{}, as it does not belong to the default network",
                live.record.name
            )));
        };
        if let Some(leg) = &endpoint.link_leg {
            return Ok(leg.clone());
        }
        let (netns, userns) = self.net_namespace(net)?;
        let (ip, prefix_len) = self.networks.lease(net, &child.id, None)?;
        let link = Link {
            netns,
            userns,
            ifname: bridge::free_ifname(pid),
            ip,
            prefix_len,
            mac: super::mac::generated()?,
        };
        if let Err(e) = bridge::attach(pid, &link) {
            self.networks.release(&child.id, Some(&net.id));
            return Err(Error::internal(format!("linking to /{}: {e}", live.record.name)));
        }
        let leg = Attachment {
            network: net.name.clone(),
            ip: ip.to_string(),
            prefix_len,
            ifname: link.ifname,
            mac: link.mac,
            ..Default::default()
        };
        endpoint.link_leg = Some(leg.clone());
        let rec = live.record.clone();
        drop(live);
        child.save_soon(rec);
        Ok(leg)
    }

    /// Removes the link bridge's namespace (the daemon's shutdown).
    pub(super) fn link_bridge_down(&self) {
        if let Ok(net) = self.link_network() {
            bridge::remove(&net.id);
        }
    }
}

fn host_conflict() -> Error {
    Error::invalid(
        "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_forms() {
        assert_eq!(parse("web").unwrap(), ("web".into(), "web".into()));
        assert_eq!(parse("web:w").unwrap(), ("web".into(), "w".into()));
        assert_eq!(parse("/web:/client/w").unwrap(), ("web".into(), "w".into()));
        assert_eq!(parse("").unwrap_err().to_string(), "empty string specified for links");
        assert_eq!(parse("a:b:c").unwrap_err().to_string(), "bad format for links: a:b:c");
    }

    #[test]
    fn dockers_variables() {
        let env = env_vars(
            "/client/my-db",
            "172.17.0.2",
            &["PATH=/bin".into(), "PW=x".into(), "HOME=/root".into()],
            vec![(53, Protocol::Udp), (81, Protocol::Tcp), (80, Protocol::Tcp)],
        );
        let want = [
            "MY_DB_PORT=tcp://172.17.0.2:80",
            "MY_DB_PORT_80_TCP=tcp://172.17.0.2:80",
            "MY_DB_PORT_80_TCP_ADDR=172.17.0.2",
            "MY_DB_PORT_80_TCP_PORT=80",
            "MY_DB_PORT_80_TCP_PROTO=tcp",
            "MY_DB_PORT_81_TCP=tcp://172.17.0.2:81",
            "MY_DB_PORT_81_TCP_ADDR=172.17.0.2",
            "MY_DB_PORT_81_TCP_PORT=81",
            "MY_DB_PORT_81_TCP_PROTO=tcp",
            "MY_DB_PORT_53_UDP=udp://172.17.0.2:53",
            "MY_DB_PORT_53_UDP_ADDR=172.17.0.2",
            "MY_DB_PORT_53_UDP_PORT=53",
            "MY_DB_PORT_53_UDP_PROTO=udp",
            "MY_DB_PORT_80_TCP_START=tcp://172.17.0.2:80",
            "MY_DB_PORT_80_TCP_PORT_START=80",
            "MY_DB_PORT_80_TCP_END=tcp://172.17.0.2:81",
            "MY_DB_PORT_80_TCP_PORT_END=81",
            "MY_DB_NAME=/client/my-db",
            "MY_DB_ENV_PW=x",
        ];
        assert_eq!(env, want);
        assert_eq!(env_vars("/c/w", "1.2.3.4", &[], vec![]), ["W_NAME=/c/w"]);
    }
}
