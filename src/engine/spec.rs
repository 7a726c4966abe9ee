//! What a container and an exec are asked to run, as the engine keeps them:
//! [`Config`] (the process and its environment) and [`HostSettings`] (how
//! the host runs it) are what a [`Record`](super::record::Record) saves;
//! [`ExecSpec`] is an exec's request.
//!
//! Invariant: `Config` and `HostSettings` serialise with the field names
//! the Docker API uses (PascalCase), because `containers/<id>/container.json`
//! was written with the API's own types before the engine had these: old
//! records load, and older versions read what this one writes. Fields the
//! engine does not use (`AttachStdout`, `RestartPolicy`, …)
//! are kept as they came, as opaque JSON in `extra`, so inspect still shows
//! them and a record written now has the same fields as before.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the container runs and with what: its process, environment,
/// terminal and stdin, labels, and how it is stopped.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    /// `--domainname`: the UTS domain name, and the hosts file's
    /// `IP host.domain host` line.
    pub domainname: String,
    pub user: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// The image as the request named it (the record keeps its digest).
    pub image: String,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Everything else the request set, unread here but for `ExposedPorts`
    /// (by `filter`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// How the host runs the container: its network, its terminal's size,
/// whether it is removed when it ends; the security options stay in
/// `extra` (`SecurityOpt`, read by `security`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostSettings {
    pub network_mode: String,
    pub auto_remove: bool,
    pub console_size: Option<[u32; 2]>,
    /// Everything else the request set, unread here but for `SecurityOpt`
    /// (by `security`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A second process to run in a running container. Unset fields take the
/// container's (working directory, user) or add to them (environment).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecSpec {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub cmd: Vec<String>,
    pub env: Option<Vec<String>>,
    pub user: String,
    pub working_dir: String,
    pub privileged: bool,
    pub console_size: Option<[u32; 2]>,
}
