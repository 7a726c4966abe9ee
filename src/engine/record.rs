//! What the store keeps of a container (`containers/<id>/container.json`),
//! and the Docker rules that turn a create request and an image into it.

use super::error::Error;
use super::spec::{Config, HostSettings};
use super::status::State;
use crate::layers::{Digest, ImageConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    pub image: Digest,
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host_config: HostSettings,
    pub state: State,
    #[serde(default)]
    pub restart_count: i64,
    /// The user stopped it (`stop`, `kill`): an `unless-stopped` policy
    /// does not start it at the daemon's start. Reset by a start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manually_stopped: bool,
    /// Binds, volumes (anonymous ones named) and tmpfs mounts, fixed at
    /// create (`mounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<super::mounts::MountEntry>,
    /// The network of the current run (a `bridge` one's address and
    /// published ports); cleared at its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<super::ports::Endpoint>,
    /// The user-defined networks it is on, by network ID (`attach`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Attachment>,
}

/// A container's place on a user-defined network: its aliases (fixed),
/// and while it runs its address and interface.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Attachment {
    /// The network's name (a network is never renamed).
    pub network: String,
    pub aliases: Vec<String>,
    /// The address asked for (`--ip`), `a.b.c.d`; empty for the next free one.
    pub requested_ip: String,
    /// `a.b.c.d` while it runs, empty otherwise.
    pub ip: String,
    pub prefix_len: u8,
    pub ifname: String,
    /// The MAC asked for (`--mac-address`, the endpoint's `MacAddress`),
    /// lower-case `aa:bb:…`; empty for a generated one.
    pub requested_mac: String,
    /// The interface's MAC while it runs, empty otherwise.
    pub mac: String,
    /// Its links on this network (`--link NAME:ALIAS`): NAME's container
    /// there is also ALIAS, for this container only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
}

impl Record {
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.path.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, with an optional leading `/`. Docker wants
/// two characters at least; one-letter names (`--name t`) are allowed here.
pub fn validate_name(name: &str) -> Result<&str, Error> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(Error::invalid(format!(
            "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            crate::quote::excerpt(name, 128)
        )));
    }
    Ok(n)
}

/// `user`, `uid`, `user:group`, `uid:gid`: resolved later inside the
/// container, but the shape is checked now.
pub fn validate_user(user: &str) -> Result<(), Error> {
    if user.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = user.split(':').collect();
    if parts.len() > 2 || parts.iter().any(|p| p.is_empty() || p.chars().any(char::is_whitespace)) {
        return Err(Error::invalid(format!(
            "invalid user {user:?}: expected NAME|UID[:GROUP|GID]"
        )));
    }
    Ok(())
}

/// `over`'s variables replace `env`'s of the same name (and come last).
pub fn merge_env(env: &mut Vec<String>, over: Vec<String>) {
    for e in over {
        let key = e.split('=').next().unwrap_or_default().to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
}

/// What Docker adds to a process's environment unless it is set:
/// `HOSTNAME` (first), and `TERM=xterm` on a terminal.
pub fn with_docker_defaults(mut env: Vec<String>, hostname: &str, tty: bool) -> Vec<String> {
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.insert(0, format!("HOSTNAME={hostname}"));
    }
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    env
}

/// The container's configuration as Docker completes it from the image:
/// environment merged (the request wins per key), the entrypoint and the
/// command (an entrypoint given with the request drops the image's
/// command), working directory, user, labels. Returns the config and the
/// process's path and arguments.
pub fn merge_image(mut config: Config, image: &ImageConfig) -> Result<(Config, String, Vec<String>), Error> {
    let defaults = &image.config;
    let env = super::environment::merge_image_env(
        config.env.take().unwrap_or_default(),
        defaults.env.as_deref().unwrap_or_default(),
    );
    config.env = Some(env);
    let entrypoint_given = config.entrypoint.is_some();
    if !entrypoint_given {
        config.entrypoint = defaults.entrypoint.clone();
    }
    // `--entrypoint ""` clears the image's entrypoint.
    if config
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        config.entrypoint = None;
    }
    if config.cmd.as_ref().is_none_or(Vec::is_empty) && !entrypoint_given {
        config.cmd = defaults.cmd.clone();
    }
    if config.working_dir.is_empty() {
        config.working_dir = defaults.working_dir.clone().unwrap_or_default();
    }
    if config.user.is_empty() {
        config.user = defaults.user.clone().unwrap_or_default();
    }
    if let Some(image_labels) = &defaults.labels {
        let labels = config.labels.get_or_insert_with(Default::default);
        for (k, v) in image_labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if config.stop_signal.is_none() {
        config.stop_signal = defaults.stop_signal.clone();
    }
    // The image's `EXPOSE`d ports join the request's, as Docker's.
    if let Some(image_ports) = &defaults.exposed_ports {
        let ports = config
            .extra
            .entry("ExposedPorts".to_string())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(ports) = ports.as_object_mut() {
            for (k, v) in image_ports {
                ports.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    argv.extend(config.cmd.clone().unwrap_or_default());
    if argv.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    let path = argv.remove(0);
    Ok((config, path, argv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::image::RunConfig;

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfig {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ImageConfig {
            config: RunConfig {
                env: Some(vec!["PATH=/bin".into(), "A=image".into()]),
                entrypoint: entrypoint.map(v),
                cmd: cmd.map(v),
                working_dir: Some("/srv".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn entrypoint_and_cmd_follow_docker() {
        let req = |ep: Option<Vec<&str>>, cmd: Option<Vec<&str>>| Config {
            entrypoint: ep.map(|e| e.into_iter().map(String::from).collect()),
            cmd: cmd.map(|e| e.into_iter().map(String::from).collect()),
            env: Some(vec!["A=req".into(), "B=1".into()]),
            ..Default::default()
        };
        // Image CMD only; request command replaces it.
        let (c, p, a) = merge_image(req(None, None), &image(None, Some(&["sh"]))).unwrap();
        assert_eq!((p.as_str(), a.len()), ("sh", 0));
        assert_eq!(c.env.unwrap(), vec!["A=req", "B=1", "PATH=/bin"]);
        assert_eq!(c.working_dir, "/srv");
        let (_, p, a) = merge_image(req(None, Some(vec!["echo", "hi"])), &image(None, Some(&["sh"]))).unwrap();
        assert_eq!((p.as_str(), a), ("echo", vec!["hi".to_string()]));
        // Image ENTRYPOINT + CMD; request CMD replaces only CMD.
        let img = image(Some(&["/init"]), Some(&["--default"]));
        let (_, p, a) = merge_image(req(None, None), &img).unwrap();
        assert_eq!((p.as_str(), a), ("/init", vec!["--default".to_string()]));
        let (_, p, a) = merge_image(req(None, Some(vec!["x"])), &img).unwrap();
        assert_eq!((p.as_str(), a), ("/init", vec!["x".to_string()]));
        // A request entrypoint drops the image's CMD.
        let (_, p, a) = merge_image(req(Some(vec!["ls"]), None), &img).unwrap();
        assert_eq!((p.as_str(), a.len()), ("ls", 0));
        // Nothing to run.
        assert!(merge_image(req(None, None), &image(None, None)).is_err());
    }

    #[test]
    fn a_record_written_by_an_older_version_still_loads() {
        // As the daemon wrote container.json before the state had a type
        // of its own (the wire's ContainerState, every field present).
        let old = r#"{
  "id": "4f1c",
  "name": "web",
  "created": "2026-11-28T18:38:33.12Z",
  "image": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "path": "sh",
  "args": ["-c", "sleep 1"],
  "config": {"Hostname": "4f1c", "Image": "busybox", "Tty": false},
  "host_config": {"NetworkMode": "host", "AutoRemove": false},
  "state": {
    "Status": "running", "Running": true, "Paused": false, "Restarting": false,
    "OOMKilled": false, "Dead": false, "Pid": 4242, "ExitCode": 0, "Error": "",
    "StartedAt": "2026-11-28T18:38:34Z", "FinishedAt": "0001-01-01T00:00:00Z"
  },
  "restart_count": 2
}"#;
        let r: Record = serde_json::from_str(old).unwrap();
        assert!(r.state.is_running());
        assert_eq!((r.state.pid, r.restart_count), (4242, 2));
        assert_eq!(r.state.started_at, "2026-11-28T18:38:34Z");
        assert_eq!(r.config.hostname, "4f1c");
        // And what this version writes, an older one reads the same way.
        let again: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(again["state"]["Running"], true);
        assert_eq!(again["state"]["Status"], "running");
        let exited = old.replace(
            r#""Status": "running", "Running": true"#,
            r#""Status": "exited", "Running": false"#,
        );
        let r: Record = serde_json::from_str(&exited).unwrap();
        assert!(!r.state.is_running());
    }

    /// A whole container.json as the daemon wrote it while the record held
    /// the wire's `ContainerConfig` and `HostConfig` (stratad 0.1.0, from
    /// `docker create -t -i --name web -e A=1 -w /tmp -u 1000:1000 --label
    /// team=core --stop-signal SIGINT --stop-timeout 7 --expose 8080
    /// --network none --security-opt seccomp=unconfined --rm --entrypoint
    /// /bin/sh busybox -c 'echo hi'`): it loads into the engine's types, with
    /// what inspect shows, and is written back the same, field for field.
    #[test]
    fn a_full_record_of_the_wire_types_loads_and_round_trips() {
        let old = include_str!("testdata/container-0.1.0.json");
        let r: Record = serde_json::from_str(old).unwrap();
        let c = &r.config;
        assert_eq!(
            (c.hostname.as_str(), c.user.as_str(), c.image.as_str()),
            ("a63545765b01", "1000:1000", "busybox")
        );
        assert!(c.tty && c.open_stdin && c.stdin_once);
        assert_eq!(c.extra["AttachStdin"], true);
        assert_eq!(c.env.as_deref(), Some(&["A=1".to_string()][..]));
        assert_eq!(c.entrypoint.as_deref(), Some(&["/bin/sh".to_string()][..]));
        assert_eq!(c.working_dir, "/tmp");
        assert_eq!(
            c.labels.as_ref().and_then(|l| l.get("team")).map(String::as_str),
            Some("core")
        );
        assert_eq!((c.stop_signal.as_deref(), c.stop_timeout), (Some("SIGINT"), Some(7)));
        assert!(c.extra.contains_key("ExposedPorts"));
        let h = &r.host_config;
        assert_eq!(
            (h.network_mode.as_str(), h.auto_remove, h.console_size),
            ("none", true, Some([0, 0]))
        );
        assert_eq!(h.extra["RestartPolicy"]["Name"], "no");
        assert_eq!(h.extra["SecurityOpt"], serde_json::json!(["seccomp=unconfined"]));
        assert_eq!(r.argv(), vec!["/bin/sh", "-c", "echo hi"]);
        let written = serde_json::to_value(&r).unwrap();
        let original: serde_json::Value = serde_json::from_str(old).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn docker_fills_hostname_and_term_only_when_unset() {
        let env = with_docker_defaults(vec!["A=1".into()], "box", true);
        assert_eq!(env, vec!["HOSTNAME=box", "A=1", "TERM=xterm"]);
        let set = vec!["TERM=vt100".to_string(), "HOSTNAME=mine".into()];
        assert_eq!(with_docker_defaults(set.clone(), "box", true), set);
        assert_eq!(with_docker_defaults(Vec::new(), "box", false), vec!["HOSTNAME=box"]);
        let mut env = vec!["A=1".to_string(), "B=2".into()];
        merge_env(&mut env, vec!["A=3".into()]);
        assert_eq!(env, vec!["B=2", "A=3"]);
    }

    #[test]
    fn names_and_users_are_checked() {
        assert_eq!(validate_name("/git").unwrap(), "git");
        assert_eq!(validate_name("t").unwrap(), "t");
        assert!(validate_name("").is_err());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a/b").is_err());
        for ok in ["", "root", "1000", "1000:1000", "nobody:nogroup"] {
            validate_user(ok).unwrap();
        }
        for bad in ["a:b:c", ":1", "1:", "a b"] {
            assert!(validate_user(bad).is_err(), "{bad}");
        }
    }
}
