//! Between the wire's shapes and the engine's own: a create request's
//! `Config` and `HostConfig` become the engine's [`Config`] and
//! [`HostSettings`] (and inspect shows them back as they came), an exec
//! request becomes an [`ExecSpec`].
//!
//! A config and its wire shape are the same JSON object: the fields both
//! type have the same names and types, and each keeps the fields it does
//! not type in a flattened `extra`. So each is read as the other through
//! its JSON, and nothing is lost either way.

use super::error::ApiError;
use crate::engine::spec::{Config, ExecSpec, HostSettings};
use crate::wire;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `from`'s JSON object read as a `T`.
fn reshape<T: DeserializeOwned>(from: &impl Serialize, what: &str) -> Result<T, ApiError> {
    serde_json::to_value(from)
        .and_then(serde_json::from_value)
        .map_err(|e| ApiError::internal(format!("converting {what}: {e}")))
}

/// What the engine creates from a create request.
pub fn create_spec(req: &wire::ContainerCreateRequest) -> Result<(Config, HostSettings), ApiError> {
    Ok((
        reshape(&req.config, "Config")?,
        reshape(&req.host_config, "HostConfig")?,
    ))
}

/// A record's config and host settings as inspect shows them.
pub fn inspect_config(
    config: &Config,
    host: &HostSettings,
) -> Result<(wire::ContainerConfig, wire::HostConfig), ApiError> {
    Ok((reshape(config, "Config")?, reshape(host, "HostConfig")?))
}

/// The exec the engine runs. `DetachKeys` is the client's business and
/// any other field was refused already (`unsupported::check_exec`).
pub fn exec_spec(c: wire::ExecConfig) -> ExecSpec {
    ExecSpec {
        attach_stdin: c.attach_stdin,
        attach_stdout: c.attach_stdout,
        attach_stderr: c.attach_stderr,
        tty: c.tty,
        cmd: c.cmd,
        env: c.env,
        user: c.user,
        working_dir: c.working_dir,
        privileged: c.privileged,
        console_size: c.console_size,
    }
}

/// An image removal as `DELETE /images/{name}` and `POST /images/prune`
/// list it: one name untagged, or one image deleted.
pub fn delete_item(removal: crate::layers::Removal) -> wire::DeleteItem {
    use crate::layers::Removal;
    match removal {
        Removal::Untagged(t) => wire::DeleteItem {
            untagged: Some(t.to_string()),
            deleted: None,
        },
        Removal::Deleted(d) => wire::DeleteItem {
            untagged: None,
            deleted: Some(d.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A create request's config, as the docker CLI sends it, comes back
    /// from the engine's types as it went in: every field, typed by the
    /// engine or not.
    #[test]
    fn a_request_round_trips_through_the_engine_types() {
        let body = serde_json::json!({
            "Hostname": "h", "Domainname": "d", "User": "1000", "AttachStdout": true, "Tty": true,
            "OpenStdin": true, "Env": ["A=1"], "Cmd": ["sh"], "Image": "busybox", "WorkingDir": "/w",
            "Entrypoint": ["/init"], "Labels": {"a": "b"}, "StopSignal": "SIGINT", "StopTimeout": 3,
            "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {
                "NetworkMode": "none", "AutoRemove": true, "ConsoleSize": [24, 80],
                "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "Privileged": false,
                "SecurityOpt": ["seccomp=unconfined"]
            }
        });
        let req: wire::ContainerCreateRequest = serde_json::from_value(body.clone()).unwrap();
        let (config, host) = create_spec(&req).unwrap();
        assert_eq!((config.tty, config.stop_timeout), (true, Some(3)));
        assert_eq!(config.domainname, "d");
        assert_eq!(
            (host.network_mode.as_str(), host.console_size),
            ("none", Some([24, 80]))
        );
        assert_eq!(host.extra["RestartPolicy"]["Name"], "no");
        let (back_config, back_host) = inspect_config(&config, &host).unwrap();
        assert_eq!(back_config, req.config);
        assert_eq!(back_host, req.host_config);
        let again = serde_json::to_value(wire::ContainerCreateRequest {
            config: back_config,
            host_config: back_host,
        })
        .unwrap();
        assert_eq!(again["ExposedPorts"], body["ExposedPorts"]);
        assert_eq!(again["HostConfig"]["SecurityOpt"], body["HostConfig"]["SecurityOpt"]);
    }

    #[test]
    fn an_exec_request_keeps_what_the_engine_runs() {
        let body = r#"{"AttachStdout": true, "Tty": true, "Cmd": ["ls", "-l"], "Env": ["X=1"],
            "User": "nobody", "WorkingDir": "/tmp", "ConsoleSize": [10, 20], "DetachKeys": "ctrl-x"}"#;
        let spec = exec_spec(serde_json::from_str(body).unwrap());
        assert_eq!(spec.cmd, vec!["ls", "-l"]);
        assert!(spec.attach_stdout && spec.tty && !spec.attach_stdin);
        assert_eq!((spec.user.as_str(), spec.working_dir.as_str()), ("nobody", "/tmp"));
        assert_eq!(
            (spec.env, spec.console_size),
            (Some(vec!["X=1".to_string()]), Some([10, 20]))
        );
    }
}
