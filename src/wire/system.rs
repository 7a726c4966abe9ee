//! `/version`, `/info`, and where a daemon listens (`Host`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    pub name: String,
    pub version: String,
    pub details: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    #[serde(rename = "Name")]
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemVersion {
    pub platform: Platform,
    pub components: Vec<ComponentVersion>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmInfo {
    pub local_node_state: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemInfo {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: u64,
    pub containers_running: u64,
    pub containers_paused: u64,
    pub containers_stopped: u64,
    pub images: u64,
    pub driver: String,
    pub driver_status: Vec<[String; 2]>,
    pub docker_root_dir: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub os_version: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: u64,
    /// Clients subscribed to `/events` now.
    #[serde(rename = "NEventsListener")]
    pub n_events_listener: u64,
    pub mem_total: u64,
    pub name: String,
    pub server_version: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub default_runtime: String,
    pub security_options: Vec<String>,
    pub swarm: SwarmInfo,
    pub warnings: Vec<String>,
    pub system_time: String,
    pub experimental_build: bool,
}

/// Where a daemon listens and a client connects: `unix:///path` or
/// `tcp://host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

#[derive(Debug, thiserror::Error)]
#[error("invalid host {0:?}: expected unix:///path/to/socket or tcp://host:port")]
pub struct HostError(String);

impl Host {
    pub fn parse(s: &str) -> Result<Host, HostError> {
        let err = || HostError(s.to_string());
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() || !path.starts_with('/') {
                return Err(err());
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            let (host, port) = addr.rsplit_once(':').ok_or_else(err)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(err());
            }
            let port = port.parse().map_err(|_| err())?;
            return Ok(Host::Tcp {
                host: host.to_string(),
                port,
            });
        }
        Err(err())
    }

    /// The default socket: `/run/strata/strata.sock` for root,
    /// `$XDG_RUNTIME_DIR/strata/strata.sock` otherwise.
    pub fn default_socket() -> Host {
        let base = if rustix::process::geteuid().is_root() {
            PathBuf::from("/run")
        } else {
            std::env::var_os("XDG_RUNTIME_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join(format!("strata-{}", rustix::process::geteuid().as_raw())))
        };
        Host::Unix(base.join("strata").join("strata.sock"))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Host::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_and_print() {
        assert_eq!(
            Host::parse("unix:///run/s.sock").unwrap(),
            Host::Unix("/run/s.sock".into())
        );
        assert_eq!(
            Host::parse("tcp://127.0.0.1:2376").unwrap().to_string(),
            "tcp://127.0.0.1:2376"
        );
        assert_eq!(Host::parse("tcp://[::1]:2376").unwrap().to_string(), "tcp://[::1]:2376");
        for bad in [
            "",
            "unix://",
            "unix://rel",
            "tcp://host",
            "tcp://:1",
            "http://x:1",
            "tcp://h:99999",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
    }
}

/// `POST /containers/prune`. `ContainersDeleted` is null when none was,
/// as moby's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainersPruneResponse {
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// `POST /images/prune`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImagesPruneResponse {
    pub images_deleted: Option<Vec<super::DeleteItem>>,
    pub space_reclaimed: u64,
}

/// `GET /system/df` (API 1.50's form: moby's `types.DiskUsage`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    pub layers_size: i64,
    pub images: Vec<super::ImageSummary>,
    pub containers: Vec<super::ContainerSummary>,
    pub volumes: Vec<super::Volume>,
    pub build_cache: Vec<serde_json::Value>,
}
