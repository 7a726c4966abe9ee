//! `create`/`run`'s security flags, as the docker CLI spells and sends
//! them: `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt`
//! (`seccomp=FILE` sends the file's content), `--device`, `--group-add`,
//! `--ulimit`, `--oom-score-adj`. The daemon checks the values (Docker's
//! errors); only their shape is parsed here.

use crate::wire::HostConfig;
use serde_json::{Value, json};

#[derive(clap::Args, Debug, Default)]
pub struct SecurityArgs {
    /// Add a Linux capability (NAME, CAP_NAME or ALL)
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a Linux capability (NAME, CAP_NAME or ALL)
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container every capability and the host's devices
    #[arg(long)]
    pub privileged: bool,
    /// Security options: seccomp=unconfined|FILE, no-new-privileges[=BOOL]
    #[arg(long = "security-opt", value_name = "OPT", value_parser = parse_security_opt)]
    pub security_opt: Vec<String>,
    /// Add a host device: HOST[:CONTAINER][:PERMISSIONS]
    #[arg(long = "device", value_name = "DEVICE", value_parser = parse_device)]
    pub device: Vec<Device>,
    /// Add a supplementary group (name or number)
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Set a ulimit: NAME=SOFT[:HARD]
    #[arg(long = "ulimit", value_name = "ULIMIT", value_parser = parse_ulimit)]
    pub ulimit: Vec<Ulimit>,
    /// Tune the OOM killer's preference (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    host: String,
    container: String,
    permissions: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    name: String,
    soft: i64,
    hard: i64,
}

fn valid_mode(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// The docker CLI's `parseDevice`: `HOST`, `HOST:CTR`, `HOST:PERMS` or
/// `HOST:CTR:PERMS`.
fn parse_device(s: &str) -> Result<Device, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, mut container, mut permissions) = (parts[0], parts[0], "rwm");
    match parts.len() {
        1 => {}
        2 if valid_mode(parts[1]) => permissions = parts[1],
        2 => container = parts[1],
        3 if valid_mode(parts[2]) => (container, permissions) = (parts[1], parts[2]),
        _ => return Err(format!("invalid device specification: {s}")),
    }
    if host.is_empty() || !container.starts_with('/') {
        return Err(format!("invalid device specification: {s}"));
    }
    Ok(Device {
        host: host.into(),
        container: container.into(),
        permissions: permissions.into(),
    })
}

/// `NAME=SOFT[:HARD]` (the hard limit defaults to the soft).
fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    let num = |v: &str| v.parse::<i64>().map_err(|_| format!("invalid ulimit argument: {s}"));
    Ok(Ulimit {
        name: name.into(),
        soft: num(soft)?,
        hard: num(hard)?,
    })
}

/// `seccomp=FILE` becomes `seccomp=<the file's content>`, as the docker
/// CLI sends it; other options go as given.
fn parse_security_opt(s: &str) -> Result<String, String> {
    let Some(path) = s.strip_prefix("seccomp=") else {
        return Ok(s.to_string());
    };
    if matches!(path, "unconfined" | "builtin" | "") {
        return Ok(s.to_string());
    }
    let content = std::fs::read_to_string(path).map_err(|e| format!("opening seccomp profile ({path}) failed: {e}"))?;
    Ok(format!("seccomp={content}"))
}

impl SecurityArgs {
    /// Sets the flags' fields of the request's `HostConfig`.
    pub fn apply(&self, host: &mut HostConfig) {
        host.privileged = self.privileged;
        let mut set = |name: &str, v: Value| {
            host.extra.insert(name.to_string(), v);
        };
        if !self.cap_add.is_empty() {
            set("CapAdd", json!(self.cap_add));
        }
        if !self.cap_drop.is_empty() {
            set("CapDrop", json!(self.cap_drop));
        }
        if !self.security_opt.is_empty() {
            set("SecurityOpt", json!(self.security_opt));
        }
        if !self.group_add.is_empty() {
            set("GroupAdd", json!(self.group_add));
        }
        if !self.device.is_empty() {
            let devices: Vec<Value> = self
                .device
                .iter()
                .map(|d| json!({"PathOnHost": d.host, "PathInContainer": d.container, "CgroupPermissions": d.permissions}))
                .collect();
            set("Devices", Value::Array(devices));
        }
        if !self.ulimit.is_empty() {
            let limits: Vec<Value> = self
                .ulimit
                .iter()
                .map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard}))
                .collect();
            set("Ulimits", Value::Array(limits));
        }
        if let Some(adj) = self.oom_score_adj {
            set("OomScoreAdj", json!(adj));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_ulimits_parse_as_the_docker_cli() {
        let d = parse_device("/dev/null").unwrap();
        assert_eq!((d.container.as_str(), d.permissions.as_str()), ("/dev/null", "rwm"));
        let d = parse_device("/dev/null:/dev/n").unwrap();
        assert_eq!((d.container.as_str(), d.permissions.as_str()), ("/dev/n", "rwm"));
        let d = parse_device("/dev/null:r").unwrap();
        assert_eq!((d.container.as_str(), d.permissions.as_str()), ("/dev/null", "r"));
        let d = parse_device("/dev/null:/dev/n:rw").unwrap();
        assert_eq!((d.container.as_str(), d.permissions.as_str()), ("/dev/n", "rw"));
        assert!(parse_device("/dev/null:/dev/n:x").is_err());
        assert!(parse_device("/dev/null:rel").is_err());
        assert_eq!(
            parse_ulimit("nofile=100:200").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200
            }
        );
        assert_eq!(parse_ulimit("core=0").unwrap().hard, 0);
        assert!(parse_ulimit("nofile").is_err() && parse_ulimit("nofile=x").is_err());
    }

    #[test]
    fn flags_fill_the_host_config() {
        let args = SecurityArgs {
            cap_add: vec!["NET_ADMIN".into()],
            privileged: true,
            ulimit: vec![parse_ulimit("nofile=1:2").unwrap()],
            oom_score_adj: Some(-5),
            ..Default::default()
        };
        let mut host = HostConfig::default();
        args.apply(&mut host);
        assert!(host.privileged);
        assert_eq!(host.extra["CapAdd"], json!(["NET_ADMIN"]));
        assert_eq!(host.extra["Ulimits"], json!([{"Name": "nofile", "Soft": 1, "Hard": 2}]));
        assert_eq!(host.extra["OomScoreAdj"], json!(-5));
        assert!(!host.extra.contains_key("CapDrop"));
    }
}
