//! A container's mounts: `HostConfig.Binds` (`-v`), `HostConfig.Mounts`
//! (`--mount`), `HostConfig.Tmpfs` (`--tmpfs`), `Config.Volumes` (`-v
//! /path`) and the image's `VOLUME`s, parsed into one typed list with
//! Docker's errors. The list is fixed at create (anonymous volumes get
//! their names then) and kept in the record; [`to_run`] turns it into the
//! runner's mounts at each start.

use super::error::Error;
use super::spec::{Config, HostSettings};
use super::volumes::validate_name;
use crate::run::plan::{UserMount, UserMountKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container, as its record keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountEntry {
    pub kind: MountType,
    /// A host path (bind), a volume's name (volume; empty until an
    /// anonymous one is named at create), nothing (tmpfs).
    pub source: String,
    pub target: String,
    pub readonly: bool,
    /// The options as given (`-v`'s third part), for inspect's `Mode`.
    #[serde(default)]
    pub mode: String,
    /// tmpfs options for the kernel (`size=…,mode=…`).
    #[serde(default)]
    pub tmpfs: String,
    /// `volume-nocopy` / `nocopy`: an empty volume is not filled.
    #[serde(default)]
    pub nocopy: bool,
    /// Anonymous volumes are removed with `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
}

fn absolute(target: &str, kind: &str) -> Result<String, Error> {
    if !target.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{}' mount path must be absolute",
            crate::quote::excerpt(target, 256)
        )));
    }
    if target.split('/').any(|p| p == "..") || target == "/" {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"{kind}\": invalid specification: destination can't be '{}'",
            crate::quote::excerpt(target, 256)
        )));
    }
    // Docker cleans the path: `/data/` is `/data`.
    let clean: Vec<&str> = target.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    Ok(format!("/{}", clean.join("/")))
}

/// `-v SRC:DST[:OPTS]` (a list entry of `HostConfig.Binds`).
fn parse_bind(spec: &str) -> Result<MountEntry, Error> {
    let bad = || {
        Error::invalid(format!(
            "invalid volume specification: '{}'",
            crate::quote::excerpt(spec, 256)
        ))
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => return Err(bad()),
    };
    if source.is_empty() || target.is_empty() {
        return Err(bad());
    }
    let kind = if source.starts_with('/') {
        MountType::Bind
    } else {
        validate_name(source)?;
        MountType::Volume
    };
    let kind_word = if kind == MountType::Bind { "bind" } else { "volume" };
    let mut entry = MountEntry {
        kind,
        source: source.to_string(),
        target: absolute(target, kind_word)?,
        readonly: false,
        mode: mode.to_string(),
        tmpfs: String::new(),
        nocopy: false,
        anonymous: false,
    };
    for opt in mode.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => entry.readonly = true,
            "rw" => entry.readonly = false,
            // SELinux relabelling: a no-op on a host without SELinux, as in Docker.
            "z" | "Z" => {}
            "nocopy" if kind == MountType::Volume => entry.nocopy = true,
            "private" | "rprivate" => {}
            "shared" | "rshared" | "slave" | "rslave" => return Err(propagation(opt)),
            _ => return Err(bad()),
        }
    }
    Ok(entry)
}

fn propagation(p: &str) -> Error {
    Error::invalid(format!(
        "strata does not support bind propagation {} yet: only private and rprivate",
        crate::quote::excerpt(p, 32)
    ))
}

/// `tmpfs` options: `ro`/`rw` and the flags strata always sets are taken
/// out, the rest (`size`, `mode`, `uid`, `gid`, `nr_inodes`) go to the kernel.
fn tmpfs_options(target: &str, opts: &str) -> Result<(bool, String), Error> {
    let mut readonly = false;
    let mut data = Vec::new();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let key = opt.split('=').next().unwrap_or_default();
        match key {
            "ro" => readonly = true,
            "rw" | "noexec" | "nosuid" | "nodev" => {}
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" => data.push(opt),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid tmpfs option for {target}: {}",
                    crate::quote::excerpt(opt, 64)
                )));
            }
        }
    }
    Ok((readonly, data.join(",")))
}

fn tmpfs_entry(target: &str, opts: &str) -> Result<MountEntry, Error> {
    let target = absolute(target, "tmpfs")?;
    let (readonly, tmpfs) = tmpfs_options(&target, opts)?;
    Ok(MountEntry {
        kind: MountType::Tmpfs,
        source: String::new(),
        target,
        readonly,
        mode: opts.to_string(),
        tmpfs,
        nocopy: false,
        anonymous: false,
    })
}

/// One entry of `HostConfig.Mounts` (what `--mount` becomes).
fn parse_mount(v: &Value) -> Result<MountEntry, Error> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let typ = s("Type");
    let target = s("Target");
    let source = s("Source");
    let readonly = v.get("ReadOnly").and_then(Value::as_bool).unwrap_or(false);
    if target.is_empty() {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"{typ}\": field Target must not be empty"
        )));
    }
    let (kind, source) = match typ {
        "bind" => {
            if source.is_empty() {
                return Err(Error::invalid(
                    "invalid mount config for type \"bind\": field Source must not be empty",
                ));
            }
            if !source.starts_with('/') {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                    crate::quote::excerpt(source, 256)
                )));
            }
            let prop = v
                .pointer("/BindOptions/Propagation")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !matches!(prop, "" | "private" | "rprivate") {
                return Err(propagation(prop));
            }
            (MountType::Bind, source.to_string())
        }
        "volume" => {
            if !source.is_empty() {
                validate_name(source)?;
            }
            let driver = v
                .pointer("/VolumeOptions/DriverConfig/Name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !matches!(driver, "" | "local") {
                return Err(Error::invalid(format!(
                    "strata does not support the volume driver {} yet: only local",
                    crate::quote::excerpt(driver, 64)
                )));
            }
            (MountType::Volume, source.to_string())
        }
        "tmpfs" => {
            let mut opts = Vec::new();
            if let Some(n) = v
                .pointer("/TmpfsOptions/SizeBytes")
                .and_then(Value::as_i64)
                .filter(|n| *n > 0)
            {
                opts.push(format!("size={n}"));
            }
            if let Some(m) = v
                .pointer("/TmpfsOptions/Mode")
                .and_then(Value::as_u64)
                .filter(|m| *m > 0)
            {
                opts.push(format!("mode={m:o}"));
            }
            let mut e = tmpfs_entry(target, &opts.join(","))?;
            e.readonly = readonly;
            e.mode.clear();
            return Ok(e);
        }
        other => {
            return Err(Error::invalid(format!(
                "mount type unknown: {}",
                crate::quote::excerpt(other, 32)
            )));
        }
    };
    let word = if kind == MountType::Bind { "bind" } else { "volume" };
    Ok(MountEntry {
        anonymous: kind == MountType::Volume && source.is_empty(),
        kind,
        source,
        target: absolute(target, word)?,
        readonly,
        mode: String::new(),
        tmpfs: String::new(),
        nocopy: v
            .pointer("/VolumeOptions/NoCopy")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn list<T: serde::de::DeserializeOwned + Default>(host: &HostSettings, key: &str, shape: &str) -> Result<T, Error> {
    match host.extra.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|_| Error::invalid(format!("HostConfig.{key} must be {shape}")))
        }
    }
}

/// `--read-only`.
pub fn readonly_root(host: &HostSettings) -> bool {
    host.extra
        .get("ReadonlyRootfs")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Every mount of a new container, in Docker's order of precedence (a
/// target named twice by the user is an error; the image's `VOLUME`s and
/// `Config.Volumes` only fill targets nothing else covers). Anonymous
/// volumes have no name yet.
pub fn parse(config: &Config, host: &HostSettings, image_volumes: &[String]) -> Result<Vec<MountEntry>, Error> {
    let mut out: Vec<MountEntry> = Vec::new();
    let binds: Vec<String> = list(host, "Binds", "a list of strings")?;
    let mounts: Vec<Value> = list(host, "Mounts", "a list of mounts")?;
    let tmpfs: BTreeMap<String, String> = list(host, "Tmpfs", "a map of paths to options")?;
    let parsed = binds
        .iter()
        .map(|b| parse_bind(b))
        .chain(mounts.iter().map(parse_mount))
        .chain(tmpfs.iter().map(|(t, o)| tmpfs_entry(t, o)));
    for entry in parsed {
        let entry = entry?;
        if out.iter().any(|m| m.target == entry.target) {
            return Err(Error::invalid(format!("Duplicate mount point: {}", entry.target)));
        }
        out.push(entry);
    }
    let config_volumes: Vec<String> = match config.extra.get("Volumes") {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    for target in config_volumes.iter().chain(image_volumes) {
        let target = absolute(target, "volume")?;
        if out.iter().any(|m| m.target == target) {
            continue;
        }
        out.push(MountEntry {
            kind: MountType::Volume,
            source: String::new(),
            target,
            readonly: false,
            mode: String::new(),
            tmpfs: String::new(),
            nocopy: false,
            anonymous: true,
        });
    }
    Ok(out)
}

/// `HostConfig.VolumesFrom`: `CONTAINER[:ro|rw]`, and whether to force
/// read-only (`Some(true)`), read-write, or keep each mount's mode.
pub fn volumes_from(host: &HostSettings) -> Result<Vec<(String, Option<bool>)>, Error> {
    let entries: Vec<String> = list(host, "VolumesFrom", "a list of strings")?;
    entries
        .iter()
        .map(|e| match e.split_once(':') {
            None => Ok((e.clone(), None)),
            Some((c, "ro")) => Ok((c.to_string(), Some(true))),
            Some((c, "rw")) => Ok((c.to_string(), Some(false))),
            Some(_) => Err(Error::invalid(format!(
                "invalid mode for volumes-from: {}",
                crate::quote::excerpt(e, 128)
            ))),
        })
        .collect()
}

/// Adds another container's mounts (`--volumes-from`) under this one's:
/// a target the request mounts itself keeps the request's mount. The
/// volumes are shared, so none of them is this container's anonymous one.
pub fn add_from(mounts: &mut Vec<MountEntry>, from: &[MountEntry], readonly: Option<bool>) {
    for m in from {
        if mounts.iter().any(|x| x.target == m.target) {
            continue;
        }
        let mut m = m.clone();
        m.anonymous = false;
        if let Some(ro) = readonly {
            m.readonly = ro;
        }
        mounts.push(m);
    }
}

/// The error for a bind source that is not there (Docker's `--mount`
/// text; strata gives it for `-v` too rather than making a directory).
pub fn missing_source(source: &str) -> Error {
    Error::invalid(format!(
        "invalid mount config for type \"bind\": bind source path does not exist: {}",
        crate::quote::excerpt(source, 256)
    ))
}

/// The runner's mounts; `volume_dir` gives a volume's `_data`.
pub fn to_run(entries: &[MountEntry], volume_dir: impl Fn(&str) -> PathBuf) -> Result<Vec<UserMount>, Error> {
    entries
        .iter()
        .map(|m| {
            let kind = match m.kind {
                MountType::Bind => {
                    let meta = std::fs::metadata(Path::new(&m.source)).map_err(|_| missing_source(&m.source))?;
                    UserMountKind::Bind {
                        source: PathBuf::from(&m.source),
                        dir: meta.is_dir(),
                    }
                }
                MountType::Volume => UserMountKind::Bind {
                    source: volume_dir(&m.source),
                    dir: true,
                },
                MountType::Tmpfs => UserMountKind::Tmpfs { data: m.tmpfs.clone() },
            };
            Ok(UserMount {
                kind,
                target: m.target.clone(),
                readonly: m.readonly,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: Value) -> HostSettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn binds_volumes_and_tmpfs() {
        let h = host(serde_json::json!({
            "Binds": ["/srv:/data:ro,z", "cache:/cache/", "vol:/v:nocopy"],
            "Tmpfs": {"/tmp": "rw,size=1m,mode=1777"},
            "Mounts": [{"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 448}}],
        }));
        let m = parse(&Config::default(), &h, &["/img".into(), "/data".into()]).unwrap();
        assert_eq!(m.len(), 6);
        assert_eq!(
            (m[0].kind, m[0].source.as_str(), m[0].target.as_str(), m[0].readonly),
            (MountType::Bind, "/srv", "/data", true)
        );
        assert_eq!((m[1].kind, m[1].target.as_str()), (MountType::Volume, "/cache"));
        assert!(m[2].nocopy);
        assert_eq!(m[3].tmpfs, "size=1024,mode=700");
        assert_eq!(
            (m[4].target.as_str(), m[4].tmpfs.as_str()),
            ("/tmp", "size=1m,mode=1777")
        );
        // The image's /data is covered by the bind; /img is anonymous.
        assert!(m[5].anonymous && m[5].target == "/img" && m[5].source.is_empty());
    }

    #[test]
    fn docker_errors() {
        let e = |v: Value| parse(&Config::default(), &host(v), &[]).unwrap_err().to_string();
        assert!(e(serde_json::json!({"Binds": ["/a:rel"]})).contains("mount path must be absolute"));
        assert!(e(serde_json::json!({"Binds": ["a"]})).contains("invalid volume specification"));
        assert!(e(serde_json::json!({"Binds": ["x y:/a"]})).contains("includes invalid characters"));
        assert!(e(serde_json::json!({"Binds": ["/a:/b:rshared"]})).contains("propagation"));
        assert!(e(serde_json::json!({"Binds": ["/a:/b", "/c:/b"]})).contains("Duplicate mount point: /b"));
        assert!(e(serde_json::json!({"Binds": ["/a:/b/.."]})).contains("destination"));
        let m = serde_json::json!({"Mounts": [{"Type": "bind", "Source": "/a", "Target": "/b", "BindOptions": {"Propagation": "shared"}}]});
        assert!(e(m).contains("only private and rprivate"));
        assert!(e(serde_json::json!({"Tmpfs": {"/t": "exec"}})).contains("invalid tmpfs option"));
    }

    #[test]
    fn a_missing_bind_source_is_an_error() {
        let m = parse_bind("/no/such/dir/strata:/x").unwrap();
        let e = to_run(&[m], |n| PathBuf::from(n)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir/strata"
        );
    }
}
