//! What a container may do, read from its `HostConfig` as Docker reads
//! it: `CapAdd`/`CapDrop`/`Privileged` (moby's `TweakCapabilities`),
//! `SecurityOpt` `no-new-privileges[=BOOL]`, `GroupAdd`, `Devices`,
//! `Ulimits` and `OomScoreAdj`, into the runner's [`run::Privileges`] and
//! the device rules of the container's cgroup. Docker's error texts.
//!
//! Invariant: the record keeps these fields as the request sent them
//! (inspect shows them so, as Docker's does); they are read again at each
//! start, and checked at create so that a bad one is the client's 400.

use super::error::Error;
use super::spec::HostSettings;
use crate::run::{self, DeviceMount, devices};
use serde::Deserialize;
use serde_json::Value;
use std::os::unix::fs::FileTypeExt;

/// The runner's privileges and the cgroup's extra device rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub privileges: run::Privileges,
    pub device_rules: Vec<devices::Rule>,
}

/// A `HostConfig` field as `T`; absent or `null` is `T::default()`.
fn field<T: for<'de> Deserialize<'de> + Default>(host: &HostSettings, name: &str, shape: &str) -> Result<T, Error> {
    match host.extra.get(name) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|_| Error::invalid(format!("HostConfig.{name} must be {shape}")))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DeviceRequest {
    path_on_host: String,
    path_in_container: String,
    cgroup_permissions: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Ulimit {
    name: String,
    soft: i64,
    hard: i64,
}

/// `SecurityOpt`'s `no-new-privileges`: bare is true, `=BOOL` as Go's
/// `strconv.ParseBool`; the last entry wins.
fn no_new_privileges(host: &HostSettings) -> Result<bool, Error> {
    let opts: Vec<String> = field(host, "SecurityOpt", "a list of strings")?;
    let mut set = false;
    for opt in &opts {
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        if key != "no-new-privileges" {
            continue;
        }
        set = match value {
            None => true,
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
            Some(_) => return Err(Error::invalid(format!("invalid --security-opt 2: {opt:?}"))),
        };
    }
    Ok(set)
}

/// A `--device`: the host node (its type and numbers), where it goes, and
/// the cgroup rule allowing it.
fn device(req: &DeviceRequest) -> Result<(DeviceMount, devices::Rule), Error> {
    let host = &req.path_on_host;
    let gathering = |why: &str| {
        Error::invalid(format!(
            "error gathering device information while adding custom device {host:?}: {why}"
        ))
    };
    let meta = std::fs::metadata(host).map_err(|e| {
        let text = crate::run::errno_text(&e);
        gathering(&text)
    })?;
    let t = meta.file_type();
    let kind = if t.is_char_device() {
        devices::Kind::Char
    } else if t.is_block_device() {
        devices::Kind::Block
    } else {
        return Err(gathering("not a device node"));
    };
    let container = if req.path_in_container.is_empty() {
        host.clone()
    } else {
        req.path_in_container.clone()
    };
    if !container.starts_with('/') || container.split('/').any(|p| p == "..") {
        return Err(Error::invalid(format!("{container} is not an absolute path")));
    }
    let perms = if req.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        req.cgroup_permissions.as_str()
    };
    let access = devices::parse_access(perms)
        .ok_or_else(|| Error::invalid(format!("invalid device cgroup permissions {perms:?}: use r, w and m")))?;
    use std::os::unix::fs::MetadataExt;
    let rdev = meta.rdev();
    let rule = devices::Rule {
        kind,
        major: Some(rustix::fs::major(rdev)),
        minor: Some(rustix::fs::minor(rdev)),
        access,
    };
    let mount = DeviceMount {
        host: host.into(),
        container,
    };
    Ok((mount, rule))
}

/// `Ulimits`, as go-units checks them.
fn ulimits(host: &HostSettings) -> Result<Vec<run::rlimits::Rlimit>, Error> {
    let list: Vec<Ulimit> = field(host, "Ulimits", "a list of {Name, Soft, Hard}")?;
    list.iter()
        .map(|u| {
            if run::rlimits::resource(&u.name).is_none() {
                return Err(Error::invalid(format!("invalid ulimit type: {}", u.name)));
            }
            // -1 is unlimited (RLIM_INFINITY).
            let value = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
            let (soft, hard) = (value(u.soft), value(u.hard));
            if soft > hard {
                return Err(Error::invalid(format!(
                    "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                    u.soft, u.hard
                )));
            }
            Ok(run::rlimits::Rlimit {
                name: u.name.clone(),
                soft,
                hard,
            })
        })
        .collect()
}

/// The container's settings, or the client's error.
pub fn settings(host: &HostSettings) -> Result<Settings, Error> {
    let privileged: bool = field(host, "Privileged", "a boolean")?;
    let adds: Vec<String> = field(host, "CapAdd", "a list of strings")?;
    let drops: Vec<String> = field(host, "CapDrop", "a list of strings")?;
    let caps = run::caps::tweak(run::caps::DOCKER_CAPS, &adds, &drops, privileged)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let oom_score_adj: i64 = field(host, "OomScoreAdj", "a number")?;
    if !(-1000..=1000).contains(&oom_score_adj) {
        return Err(Error::invalid(format!(
            "Invalid value {oom_score_adj}, range for oom score adj is [-1000, 1000]"
        )));
    }
    let requests: Vec<DeviceRequest> = field(host, "Devices", "a list of devices")?;
    let mut device_rules = Vec::new();
    let mut mounts = Vec::new();
    for req in &requests {
        let (mount, rule) = device(req)?;
        mounts.push(mount);
        device_rules.push(rule);
    }
    if privileged {
        device_rules.extend_from_slice(devices::ALL_RULES);
    }
    let privileges = run::Privileges {
        caps: (caps != run::caps::DOCKER_CAPS).then_some(caps.bits()),
        no_new_privs: no_new_privileges(host)?,
        rlimits: ulimits(host)?,
        group_add: field(host, "GroupAdd", "a list of strings")?,
        oom_score_adj: (oom_score_adj != 0).then_some(oom_score_adj as i32),
        privileged,
        devices: mounts,
    };
    Ok(Settings {
        privileges,
        device_rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::thread::CapabilitySet;

    fn host(v: serde_json::Value) -> HostSettings {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: serde_json::Value) -> String {
        settings(&host(v)).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_dockers() {
        let s = settings(&HostSettings::default()).unwrap();
        assert_eq!(s, Settings::default());
        let s = settings(&host(
            serde_json::json!({"CapAdd": null, "CapDrop": [], "Ulimits": [], "Devices": [],
            "OomScoreAdj": 0, "Privileged": false, "GroupAdd": null}),
        ))
        .unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn capabilities_and_privileged() {
        let s = settings(&host(serde_json::json!({"CapDrop": ["ALL"], "CapAdd": ["net_admin"]}))).unwrap();
        assert_eq!(s.privileges.capabilities(), CapabilitySet::NET_ADMIN);
        let s = settings(&host(serde_json::json!({"Privileged": true}))).unwrap();
        assert_eq!(s.privileges.capabilities(), run::caps::all());
        assert!(s.privileges.privileged);
        assert_eq!(s.device_rules, devices::ALL_RULES);
        assert_eq!(
            err(serde_json::json!({"CapAdd": ["FLY"]})),
            "unknown capability: \"CAP_FLY\""
        );
        assert!(err(serde_json::json!({"CapAdd": "NET_ADMIN"})).contains("HostConfig.CapAdd"));
    }

    #[test]
    fn no_new_privileges_as_docker_parses_it() {
        let nnp = |opts: serde_json::Value| {
            settings(&host(serde_json::json!({"SecurityOpt": opts}))).map(|s| s.privileges.no_new_privs)
        };
        assert!(!nnp(serde_json::json!(null)).unwrap());
        assert!(nnp(serde_json::json!(["no-new-privileges"])).unwrap());
        assert!(nnp(serde_json::json!(["no-new-privileges=true"])).unwrap());
        assert!(nnp(serde_json::json!(["no-new-privileges:true"])).unwrap());
        assert!(!nnp(serde_json::json!(["no-new-privileges", "no-new-privileges=false"])).unwrap());
        let e = nnp(serde_json::json!(["no-new-privileges=maybe"])).unwrap_err();
        assert_eq!(e.to_string(), "invalid --security-opt 2: \"no-new-privileges=maybe\"");
    }

    #[test]
    fn devices_ulimits_and_oom_score() {
        let s = settings(&host(serde_json::json!({"Devices": [
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"}]})))
        .unwrap();
        assert_eq!(s.privileges.devices[0].container, "/dev/mynull");
        assert_eq!(s.device_rules[0].v1_line(), "c 1:3 r");
        assert_eq!(
            err(serde_json::json!({"Devices": [{"PathOnHost": "/dev/nope"}]})),
            "error gathering device information while adding custom device \"/dev/nope\": no such file or directory"
        );
        assert!(err(serde_json::json!({"Devices": [{"PathOnHost": "/etc/passwd"}]})).ends_with("not a device node"));
        assert!(
            err(serde_json::json!({"Devices": [{"PathOnHost": "/dev/null", "CgroupPermissions": "rx"}]}))
                .contains("rx")
        );
        let s = settings(&host(
            serde_json::json!({"Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
            "OomScoreAdj": 500}),
        ))
        .unwrap();
        assert_eq!(
            s.privileges.rlimits,
            vec![run::rlimits::Rlimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200
            }]
        );
        assert_eq!(s.privileges.oom_score_adj, Some(500));
        assert_eq!(
            err(serde_json::json!({"Ulimits": [{"Name": "files", "Soft": 1, "Hard": 1}]})),
            "invalid ulimit type: files"
        );
        assert!(err(serde_json::json!({"Ulimits": [{"Name": "nofile", "Soft": 2, "Hard": 1}]})).contains("2 > 1"));
        assert!(err(serde_json::json!({"OomScoreAdj": 1001})).contains("[-1000, 1000]"));
    }
}
