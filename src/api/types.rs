//! The wire types of the API: the Docker Engine API shapes (version 1.50)
//! that `stratad` serves and the `strata` client reads. The client depends on
//! this module and nothing else of the daemon.
//!
//! Every struct defaults missing fields, so a client tolerates older or newer
//! daemons, and serialises field names exactly as Docker does.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The API version this daemon speaks, and the oldest it accepts.
pub const API_VERSION: &str = "1.50";
pub const MIN_API_VERSION: &str = "1.24";

/// `{"message": "..."}`, the body of every error response.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

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

/// An entry of `GET /images/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub labels: BTreeMap<String, String>,
    pub containers: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageMetadata {
    pub last_tag_time: String,
}

/// `GET /images/{name}/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    /// RFC 3339.
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: Value,
    pub architecture: String,
    pub os: String,
    pub size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub metadata: ImageMetadata,
}

/// An entry of `GET /images/{name}/history`, newest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryItem {
    /// An image ID, or `<missing>` for steps with no local image.
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Option<Vec<String>>,
    pub size: i64,
    pub comment: String,
}

/// An entry of `DELETE /images/{name}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// One line of a JSON-stream reply (`import`, later `load` and `pull`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorResponse>,
}

/// A container's settings that come with the image (`Config` of create
/// and inspect). Unknown fields are kept, so inspect shows what was sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

/// The host side of a container's settings (`HostConfig`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub network_mode: String,
    pub auto_remove: bool,
    pub console_size: Option<[u32; 2]>,
    pub restart_policy: RestartPolicy,
    pub privileged: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The body of `POST /containers/create`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    pub host_config: HostConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// An entry of `GET /containers/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    /// Unix seconds.
    pub created: i64,
    pub state: String,
    pub status: String,
    pub ports: Vec<Value>,
    pub labels: BTreeMap<String, String>,
    pub mounts: Vec<Value>,
    pub host_config: SummaryHostConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    pub network_mode: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// created, running, paused, restarting, removing, exited or dead.
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: u32,
    pub exit_code: i32,
    pub error: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` when never.
    pub started_at: String,
    pub finished_at: String,
}

/// `GET /containers/{id}/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    pub id: String,
    /// RFC 3339.
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<Value>,
    pub config: ContainerConfig,
    pub network_settings: Value,
}

/// The body of `POST /containers/{id}/wait`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    pub status_code: i64,
    pub error: Option<ErrorResponse>,
}

/// The body of `POST /containers/{id}/exec`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub cmd: Vec<String>,
    pub env: Option<Vec<String>>,
    pub user: String,
    pub working_dir: String,
    pub privileged: bool,
    pub detach_keys: String,
    pub console_size: Option<[u32; 2]>,
    /// Whatever else came: refused when set (see `engine::unsupported`).
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// The body of `POST /exec/{id}/start`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartConfig {
    pub detach: bool,
    pub tty: bool,
    pub console_size: Option<[u32; 2]>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecProcessConfig {
    pub entrypoint: String,
    pub arguments: Vec<String>,
    pub tty: bool,
    pub user: String,
    pub privileged: bool,
}

/// `GET /exec/{id}/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub process_config: ExecProcessConfig,
    pub open_stdin: bool,
    pub open_stdout: bool,
    pub open_stderr: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub pid: u32,
}

/// `GET /containers/{id}/top`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TopResponse {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// An entry of `GET /containers/{id}/changes`: Kind 0 = C, 1 = A, 2 = D.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ChangeItem {
    pub path: String,
    pub kind: u8,
}

/// The 8-byte header of each frame of a multiplexed (non-TTY) stream:
/// stream (0 stdin, 1 stdout, 2 stderr, 3 error), three zeros, and the
/// payload length as a big-endian u32.
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let n = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// The zero time of Go, which Docker prints for times that never happened.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

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

/// Seconds since the epoch, by this machine's clock.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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

    #[test]
    fn summaries_use_docker_field_names() {
        let s = serde_json::to_value(ImageSummary {
            id: "sha256:x".into(),
            ..Default::default()
        })
        .unwrap();
        for key in [
            "Id",
            "ParentId",
            "RepoTags",
            "RepoDigests",
            "Created",
            "Size",
            "SharedSize",
            "Labels",
            "Containers",
        ] {
            assert!(s.get(key).is_some(), "{key}");
        }
        let i = serde_json::to_value(ImageInspect::default()).unwrap();
        assert!(i.get("RootFS").is_some());
        let d = serde_json::to_string(&DeleteItem {
            untagged: Some("a:b".into()),
            deleted: None,
        })
        .unwrap();
        assert_eq!(d, r#"{"Untagged":"a:b"}"#);
        let m = serde_json::to_string(&StreamMessage {
            error: Some("x".into()),
            error_detail: Some(ErrorResponse { message: "x".into() }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m, r#"{"error":"x","errorDetail":{"message":"x"}}"#);
    }
}
