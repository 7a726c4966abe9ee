//! `-v/--volume`, `--mount`, `--tmpfs`, `--volumes-from` and `--read-only`
//! of `strata run/create`, turned into the create request as the docker
//! CLI does: `-v` with a source into `HostConfig.Binds`, `-v /path` into
//! `Config.Volumes`, `--mount` into `HostConfig.Mounts` JSON, `--tmpfs`
//! into the `HostConfig.Tmpfs` map.

use crate::cli::Error;
use crate::wire::ContainerCreateRequest;
use serde_json::{Map, Value, json};

#[derive(clap::Args, Debug, Default)]
pub struct MountArgs {
    /// Bind mount a volume (SRC:DST[:OPTS], or DST for an anonymous volume)
    #[arg(short = 'v', long = "volume", value_name = "LIST")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,src=,dst=,readonly,…)
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTS])
    #[arg(long = "tmpfs", value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
}

/// One `--mount` value as the docker CLI sends it.
fn mount_json(spec: &str) -> Result<Value, Error> {
    let bad = |why: &str| Error::Usage(format!("invalid argument \"{spec}\" for \"--mount\" flag: {why}"));
    let mut m = Map::new();
    let (mut bind, mut volume, mut tmpfs) = (Map::new(), Map::new(), Map::new());
    m.insert("Type".into(), json!("volume"));
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').map_or((field, None), |(k, v)| (k, Some(v)));
        let flag = |v: Option<&str>| matches!(v, None | Some("true" | "1"));
        match (key, value) {
            ("type", Some(t)) => {
                m.insert("Type".into(), json!(t));
            }
            ("source" | "src", Some(s)) => {
                m.insert("Source".into(), json!(s));
            }
            ("target" | "dst" | "destination", Some(t)) => {
                m.insert("Target".into(), json!(t));
            }
            ("readonly" | "ro", v) => {
                m.insert("ReadOnly".into(), json!(flag(v)));
            }
            ("bind-propagation", Some(p)) => {
                bind.insert("Propagation".into(), json!(p));
            }
            ("volume-nocopy", v) => {
                volume.insert("NoCopy".into(), json!(flag(v)));
            }
            ("tmpfs-size", Some(s)) => {
                let n = parse_size(s).ok_or_else(|| bad("invalid tmpfs-size"))?;
                tmpfs.insert("SizeBytes".into(), json!(n));
            }
            ("tmpfs-mode", Some(s)) => {
                let n = u32::from_str_radix(s, 8).map_err(|_| bad("invalid tmpfs-mode"))?;
                tmpfs.insert("Mode".into(), json!(n));
            }
            _ => return Err(bad(&format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    for (k, v) in [
        ("BindOptions", bind),
        ("VolumeOptions", volume),
        ("TmpfsOptions", tmpfs),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), Value::Object(v));
        }
    }
    Ok(Value::Object(m))
}

/// `64m`, `1g`, `1024`: bytes.
fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches('b');
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

impl MountArgs {
    /// Adds the mounts to a create request.
    pub fn apply(&self, req: &mut ContainerCreateRequest) -> Result<(), Error> {
        let mut binds = Vec::new();
        let mut anonymous = Map::new();
        for v in &self.volumes {
            if v.contains(':') {
                binds.push(json!(v));
            } else {
                anonymous.insert(v.clone(), json!({}));
            }
        }
        let mounts = self
            .mounts
            .iter()
            .map(|m| mount_json(m))
            .collect::<Result<Vec<_>, _>>()?;
        let tmpfs: Map<String, Value> = self
            .tmpfs
            .iter()
            .map(|t| {
                let (path, opts) = t.split_once(':').unwrap_or((t, ""));
                (path.to_string(), json!(opts))
            })
            .collect();
        let host = &mut req.host_config.extra;
        let lists = [
            ("Binds", Value::Array(binds)),
            ("Mounts", Value::Array(mounts)),
            ("Tmpfs", Value::Object(tmpfs)),
            ("VolumesFrom", json!(self.volumes_from)),
        ];
        for (key, value) in lists {
            if value.as_array().is_some_and(|a| !a.is_empty()) || value.as_object().is_some_and(|o| !o.is_empty()) {
                host.insert(key.into(), value);
            }
        }
        if self.read_only {
            host.insert("ReadonlyRootfs".into(), json!(true));
        }
        if !anonymous.is_empty() {
            req.config.extra.insert("Volumes".into(), Value::Object(anonymous));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_what_the_docker_cli_sends() {
        let args = MountArgs {
            volumes: vec!["/h:/c:ro".into(), "/anon".into()],
            mounts: vec!["type=tmpfs,dst=/run,tmpfs-size=1m,tmpfs-mode=1770".into()],
            tmpfs: vec!["/tmp:size=1m".into()],
            volumes_from: vec!["other:ro".into()],
            read_only: true,
        };
        let mut req = ContainerCreateRequest::default();
        args.apply(&mut req).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["HostConfig"]["Binds"], json!(["/h:/c:ro"]));
        assert_eq!(v["Volumes"], json!({"/anon": {}}));
        assert_eq!(
            v["HostConfig"]["Mounts"][0],
            json!({"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1770}})
        );
        assert_eq!(v["HostConfig"]["Tmpfs"], json!({"/tmp": "size=1m"}));
        assert_eq!(v["HostConfig"]["VolumesFrom"], json!(["other:ro"]));
        assert_eq!(v["HostConfig"]["ReadonlyRootfs"], true);
        let bad = MountArgs {
            mounts: vec!["type=bind,what=1".into()],
            ..Default::default()
        };
        assert!(bad.apply(&mut ContainerCreateRequest::default()).is_err());
    }
}
