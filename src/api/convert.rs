//! Between the wire's shapes and the engine's own: a create request's
//! `Config` and `HostConfig` become the engine's [`Config`] and
//! [`HostSettings`] (and inspect shows them back as they came), an exec
//! request becomes an [`ExecSpec`].
//!
//! The pairs have the same fields; each conversion names every field of
//! both sides (no `..`), so a field added to one and not the other does
//! not compile.

use crate::engine::spec::{Config, ExecSpec, HostSettings, RestartPolicy};
use crate::wire;

/// `From` both ways between two structs of the same fields (each field
/// converted with `into`: itself, or its own pair's conversion).
macro_rules! same_fields {
    ($a:path, $b:path, { $($field:ident),* $(,)? }) => {
        impl From<$a> for $b {
            fn from(x: $a) -> $b {
                let $a { $($field),* } = x;
                $b { $($field: $field.into()),* }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> $a {
                let $b { $($field),* } = x;
                $a { $($field: $field.into()),* }
            }
        }
    };
}

same_fields!(wire::ContainerConfig, Config, {
    hostname, domainname, user, attach_stdin, attach_stdout, attach_stderr, tty, open_stdin, stdin_once,
    env, cmd, image, working_dir, entrypoint, labels, stop_signal, stop_timeout, extra,
});

same_fields!(wire::RestartPolicy, RestartPolicy, { name, maximum_retry_count });

same_fields!(wire::HostConfig, HostSettings, {
    network_mode, auto_remove, console_size, restart_policy, privileged, extra,
});

/// The exec the engine runs. `DetachKeys` is the client's business and
/// any other field was refused already (`unsupported::check_exec`).
impl From<wire::ExecConfig> for ExecSpec {
    fn from(c: wire::ExecConfig) -> ExecSpec {
        let wire::ExecConfig {
            attach_stdin,
            attach_stdout,
            attach_stderr,
            tty,
            cmd,
            env,
            user,
            working_dir,
            privileged,
            detach_keys: _,
            console_size,
            extra: _,
        } = c;
        ExecSpec {
            attach_stdin,
            attach_stdout,
            attach_stderr,
            tty,
            cmd,
            env,
            user,
            working_dir,
            privileged,
            console_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A create request's config, as the docker CLI sends it, comes back
    /// from the engine's types as it went in: every field, known or not.
    #[test]
    fn a_request_round_trips_through_the_engine_types() {
        let body = serde_json::json!({
            "Hostname": "h", "User": "1000", "Tty": true, "OpenStdin": true, "Env": ["A=1"],
            "Cmd": ["sh"], "Image": "busybox", "WorkingDir": "/w", "Entrypoint": ["/init"],
            "Labels": {"a": "b"}, "StopSignal": "SIGINT", "StopTimeout": 3,
            "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {
                "NetworkMode": "none", "AutoRemove": true, "ConsoleSize": [24, 80],
                "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                "SecurityOpt": ["seccomp=unconfined"]
            }
        });
        let req: wire::ContainerCreateRequest = serde_json::from_value(body.clone()).unwrap();
        let (config, host): (Config, HostSettings) = (req.config.clone().into(), req.host_config.clone().into());
        assert_eq!((config.tty, config.stop_timeout), (true, Some(3)));
        assert_eq!(
            (host.network_mode.as_str(), host.console_size),
            ("none", Some([24, 80]))
        );
        let back = wire::ContainerCreateRequest {
            config: config.into(),
            host_config: host.into(),
        };
        assert_eq!(back.config, req.config);
        assert_eq!(back.host_config, req.host_config);
        let again = serde_json::to_value(&back).unwrap();
        assert_eq!(again["ExposedPorts"], body["ExposedPorts"]);
        assert_eq!(again["HostConfig"]["SecurityOpt"], body["HostConfig"]["SecurityOpt"]);
    }

    #[test]
    fn an_exec_request_keeps_what_the_engine_runs() {
        let body = r#"{"AttachStdout": true, "Tty": true, "Cmd": ["ls", "-l"], "Env": ["X=1"],
            "User": "nobody", "WorkingDir": "/tmp", "ConsoleSize": [10, 20], "DetachKeys": "ctrl-x"}"#;
        let spec: ExecSpec = serde_json::from_str::<wire::ExecConfig>(body).unwrap().into();
        assert_eq!(spec.cmd, vec!["ls", "-l"]);
        assert!(spec.attach_stdout && spec.tty && !spec.attach_stdin);
        assert_eq!((spec.user.as_str(), spec.working_dir.as_str()), ("nobody", "/tmp"));
        assert_eq!(
            (spec.env, spec.console_size),
            (Some(vec!["X=1".to_string()]), Some([10, 20]))
        );
    }
}
