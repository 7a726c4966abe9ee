//! Image configs (the OCI/Docker image config JSON) and Dockerfile-style
//! changes applied to them (`import -c`, later `commit -c`).
//!
//! An image's ID is the sha256 of its config bytes, so the bytes we write
//! must be deterministic: configs are serialised through `serde_json::Value`,
//! whose maps are sorted, compactly. Configs read from elsewhere are kept as
//! their original bytes; fields this version does not know survive in `extra`.

use super::digest::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default)]
    pub os: String,
    pub rootfs: RootFs,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The defaults for containers run from the image (the config's `config`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid image config: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid image config: rootfs type {0:?} is not \"layers\"")]
    RootFsType(String),
    #[error("invalid change {0:?}: {1}")]
    Change(String, String),
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ConfigError> {
        let config: ImageConfig = serde_json::from_slice(bytes)?;
        if config.rootfs.kind != "layers" {
            return Err(ConfigError::RootFsType(config.rootfs.kind));
        }
        Ok(config)
    }

    /// The canonical bytes: sorted keys, compact. The image ID is their digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("image configs always serialise");
        serde_json::to_vec(&value).expect("values always serialise")
    }

    /// The architecture name OCI uses for this build.
    pub fn host_architecture() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        }
    }

    /// Applies one Dockerfile-style instruction, as `docker import -c` and
    /// `docker commit -c` accept them.
    pub fn apply_change(&mut self, change: &str) -> Result<(), ConfigError> {
        let err = |why: &str| ConfigError::Change(change.to_string(), why.to_string());
        let trimmed = change.trim();
        let (instr, args) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
        let args = args.trim();
        let c = &mut self.config;
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => c.cmd = Some(exec_or_shell(args).ok_or_else(|| err("CMD needs a command"))?),
            "ENTRYPOINT" => c.entrypoint = Some(exec_or_shell(args).ok_or_else(|| err("ENTRYPOINT needs a command"))?),
            "ENV" => {
                for (k, v) in key_values(args, true).map_err(|e| err(&e))? {
                    let env = c.env.get_or_insert_with(Vec::new);
                    let prefix = format!("{k}=");
                    env.retain(|e| !e.starts_with(&prefix));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                for (k, v) in key_values(args, false).map_err(|e| err(&e))? {
                    c.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                }
            }
            "WORKDIR" => {
                let dir = single(args).ok_or_else(|| err("WORKDIR needs one path"))?;
                let base = c.working_dir.clone().unwrap_or_else(|| "/".to_string());
                c.working_dir = Some(if dir.starts_with('/') {
                    dir
                } else {
                    format!("{}/{}", base.trim_end_matches('/'), dir)
                });
            }
            "USER" => c.user = Some(single(args).ok_or_else(|| err("USER needs one user"))?),
            "STOPSIGNAL" => c.stop_signal = Some(single(args).ok_or_else(|| err("STOPSIGNAL needs one signal"))?),
            "EXPOSE" => {
                let words = words(args).map_err(|e| err(&e))?;
                if words.is_empty() {
                    return Err(err("EXPOSE needs a port"));
                }
                for p in words {
                    let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                    if port.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                        return Err(err("EXPOSE takes PORT[/tcp|udp|sctp]"));
                    }
                    c.exposed_ports
                        .get_or_insert_with(BTreeMap::new)
                        .insert(format!("{port}/{proto}"), Value::Object(Default::default()));
                }
            }
            "VOLUME" => {
                let paths = if args.starts_with('[') {
                    serde_json::from_str::<Vec<String>>(args).map_err(|_| err("VOLUME takes paths or a JSON array"))?
                } else {
                    words(args).map_err(|e| err(&e))?
                };
                if paths.is_empty() {
                    return Err(err("VOLUME needs a path"));
                }
                for p in paths {
                    c.volumes
                        .get_or_insert_with(BTreeMap::new)
                        .insert(p, Value::Object(Default::default()));
                }
            }
            "" => return Err(err("empty instruction")),
            other => {
                return Err(err(&format!(
                    "{other} is not supported here (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR)"
                )));
            }
        }
        Ok(())
    }
}

/// JSON exec form `["a","b"]`, else the shell form `/bin/sh -c "<args>"`.
fn exec_or_shell(args: &str) -> Option<Vec<String>> {
    if args.starts_with('[')
        && let Ok(v) = serde_json::from_str::<Vec<String>>(args)
    {
        return Some(v);
    }
    if args.is_empty() {
        return None;
    }
    Some(vec!["/bin/sh".to_string(), "-c".to_string(), args.to_string()])
}

fn single(args: &str) -> Option<String> {
    match words(args).ok()?.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Splits on whitespace, honouring double and single quotes and backslashes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                cur.push(chars.next().ok_or("trailing backslash")?);
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".to_string());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `k=v k2="v 2"`, or (for ENV) the legacy single pair `k v w`.
fn key_values(args: &str, legacy_space_form: bool) -> Result<Vec<(String, String)>, String> {
    let ws = words(args)?;
    if ws.is_empty() {
        return Err("needs KEY=VALUE".to_string());
    }
    if legacy_space_form && !ws[0].contains('=') {
        let (k, v) = args.split_once(char::is_whitespace).ok_or("needs a value")?;
        return Ok(vec![(k.to_string(), words(v.trim())?.join(" "))]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_are_sorted_and_stable() {
        let mut c = ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        c.rootfs.diff_ids.push(Digest::of(b"x"));
        c.apply_change("CMD [\"sh\"]").unwrap();
        let bytes = c.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"sh\"]}"),
            "{text}"
        );
        let back = ImageConfig::parse(&bytes).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn unknown_fields_survive() {
        let raw = br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"variant":"v8","config":{"Healthcheck":{"Test":["NONE"]}}}"#;
        let c = ImageConfig::parse(raw).unwrap();
        let again = String::from_utf8(c.to_bytes()).unwrap();
        assert!(again.contains("\"variant\":\"v8\""));
        assert!(again.contains("\"Healthcheck\""));
    }

    #[test]
    fn changes_apply_like_dockerfile_instructions() {
        let mut c = ImageConfig::default();
        c.apply_change("CMD echo hi").unwrap();
        assert_eq!(c.config.cmd.as_deref().unwrap(), ["/bin/sh", "-c", "echo hi"]);
        c.apply_change("ENTRYPOINT [\"/bin/busybox\"]").unwrap();
        c.apply_change("ENV A=1 B=\"two words\"").unwrap();
        c.apply_change("ENV A 3").unwrap();
        assert_eq!(c.config.env.as_deref().unwrap(), ["B=two words", "A=3"]);
        c.apply_change("WORKDIR /srv").unwrap();
        c.apply_change("WORKDIR app").unwrap();
        assert_eq!(c.config.working_dir.as_deref(), Some("/srv/app"));
        c.apply_change("USER 1000:1000").unwrap();
        c.apply_change("LABEL a=b").unwrap();
        c.apply_change("EXPOSE 80 53/udp").unwrap();
        assert!(c.config.exposed_ports.as_ref().unwrap().contains_key("53/udp"));
        for bad in [
            "RUN make",
            "EXPOSE http",
            "ENV",
            "USER a b",
            "",
            "LABEL =x",
            "ENV A=\"open",
        ] {
            assert!(c.apply_change(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
