//! The registry credentials `strata login` keeps: the client's own file, not
//! docker's, `$STRATA_CONFIG/auth.json` (default
//! `$XDG_CONFIG_HOME/strata/auth.json`, i.e. `~/.config/strata/auth.json`),
//! shaped like the `auths` of docker's `config.json`:
//! `{"auths": {"127.0.0.1:5000": {"auth": "base64(user:pass)"}}}`, plus
//! `identitytoken` when the registry gave one (then the password is not
//! kept). Keys are registry host names, `docker.io` for Docker Hub (docker
//! writes `https://index.docker.io/v1/` there; one spelling is enough for a
//! file only strata reads).
//!
//! The file is mode 0600 in a 0700 directory and replaced atomically (a
//! temporary file beside it, fsync, rename), so a crash leaves the old file
//! or the new one. Errors name the file, never its content.

use crate::wire::AuthConfig;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Docker Hub's key in the file.
pub const HUB_KEY: &str = "docker.io";
/// What the docker CLI sends as Docker Hub's server address.
pub const HUB_ADDRESS: &str = "https://index.docker.io/v1/";
const FILE_NAME: &str = "auth.json";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("no place for the credentials file: set STRATA_CONFIG, XDG_CONFIG_HOME or HOME")]
    NoHome,
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// Only the position: serde's message could quote a secret.
    #[error("{path} is not a strata credentials file (line {line}, column {column})")]
    Parse { path: String, line: usize, column: usize },
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identitytoken: String,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entry(<hidden>)")
    }
}

/// The credentials file, read into memory.
#[derive(Debug)]
pub struct CredentialStore {
    path: PathBuf,
    file: AuthFile,
}

/// Where the file lives, from the environment.
pub fn default_path() -> Result<PathBuf, CredentialsError> {
    path_from(|name| std::env::var_os(name))
}

/// [`default_path`] with the environment given.
fn path_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf, CredentialsError> {
    let var = |name| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("STRATA_CONFIG") {
        return Ok(dir.join(FILE_NAME));
    }
    let config = var("XDG_CONFIG_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".config")))
        .ok_or(CredentialsError::NoHome)?;
    Ok(config.join("strata").join(FILE_NAME))
}

/// The key of a server address as typed to `login`/`logout` (docker's
/// `ConvertToHostname`): no scheme, no path; Docker Hub's names are one.
pub fn server_key(address: &str) -> String {
    let host = address
        .strip_prefix("https://")
        .or_else(|| address.strip_prefix("http://"))
        .unwrap_or(address);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => HUB_KEY.to_string(),
        h => h.to_string(),
    }
}

impl CredentialStore {
    /// Reads the file; an absent file is an empty store.
    pub fn open(path: PathBuf) -> Result<CredentialStore, CredentialsError> {
        let shown = path.display().to_string();
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CredentialsError::Parse {
                path: shown,
                line: e.line(),
                column: e.column(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AuthFile::default(),
            Err(source) => return Err(CredentialsError::Read { path: shown, source }),
        };
        Ok(CredentialStore { path, file })
    }

    /// The stored login for a registry (`key` as [`server_key`] gives it),
    /// ready for `X-Registry-Auth`.
    pub fn get(&self, key: &str) -> Option<AuthConfig> {
        let entry = self.file.auths.get(key)?;
        let mut auth = AuthConfig {
            auth: entry.auth.clone(),
            identitytoken: entry.identitytoken.clone(),
            serveraddress: if key == HUB_KEY { HUB_ADDRESS.into() } else { key.into() },
            ..Default::default()
        };
        auth.fill_from_auth_field();
        auth.auth.clear();
        Some(auth)
    }

    /// Records a login; with an identity token the password is not kept.
    pub fn set(&mut self, key: &str, username: &str, password: &str, identity_token: &str) {
        let secret = if identity_token.is_empty() { password } else { "" };
        let entry = Entry {
            auth: STANDARD.encode(format!("{username}:{secret}")),
            identitytoken: identity_token.to_string(),
        };
        self.file.auths.insert(key.to_string(), entry);
    }

    /// Forgets a login; false when there was none.
    pub fn remove(&mut self, key: &str) -> bool {
        self.file.auths.remove(key).is_some()
    }

    /// Replaces the file atomically: 0600 in a 0700 directory.
    pub fn save(&self) -> Result<(), CredentialsError> {
        let err = |source| CredentialsError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        let tmp = dir.join(format!(".{FILE_NAME}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut bytes = serde_json::to_vec_pretty(&self.file).expect("the file serialises");
            bytes.push(b'\n');
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn logins_round_trip_in_a_private_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("conf/strata/auth.json");
        let mut store = CredentialStore::open(path.clone()).unwrap();
        assert!(store.get("127.0.0.1:5000").is_none());
        store.set("127.0.0.1:5000", "alice", "s3cret:x", "");
        store.set(HUB_KEY, "bob", "hunter2", "refresh-token");
        store.save().unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            raw["auths"]["127.0.0.1:5000"]["auth"],
            STANDARD.encode("alice:s3cret:x"),
            "docker's config.json shape"
        );
        assert!(!String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains("hunter2"));

        let back = CredentialStore::open(path.clone()).unwrap();
        let a = back.get("127.0.0.1:5000").unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("alice", "s3cret:x"));
        assert_eq!(a.serveraddress, "127.0.0.1:5000");
        let b = back.get(HUB_KEY).unwrap();
        assert_eq!((b.username.as_str(), b.password.as_str()), ("bob", ""));
        assert_eq!(b.identitytoken, "refresh-token");
        assert_eq!(b.serveraddress, HUB_ADDRESS);
        assert!(!format!("{back:?}").contains("refresh-token"));
    }

    #[test]
    fn logout_removes_one_entry_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("auth.json");
        let mut store = CredentialStore::open(path.clone()).unwrap();
        store.set("a.io", "u", "p", "");
        store.set("b.io", "u", "p", "");
        store.save().unwrap();
        let mut store = CredentialStore::open(path.clone()).unwrap();
        assert!(store.remove("a.io"));
        assert!(!store.remove("a.io"));
        store.save().unwrap();
        let back = CredentialStore::open(path.clone()).unwrap();
        assert!(back.get("a.io").is_none());
        assert!(back.get("b.io").is_some());
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["auth.json"]);
    }

    #[test]
    fn a_failed_save_keeps_the_old_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("auth.json");
        let mut store = CredentialStore::open(path.clone()).unwrap();
        store.set("a.io", "u", "p", "");
        store.save().unwrap();
        let before = std::fs::read(&path).unwrap();
        // The rename cannot replace a directory: the save fails midway.
        let blocked = CredentialStore {
            path: tmp.path().join("dir"),
            file: AuthFile::default(),
        };
        std::fs::create_dir(tmp.path().join("dir")).unwrap();
        std::fs::write(tmp.path().join("dir/x"), b"").unwrap();
        assert!(matches!(blocked.save(), Err(CredentialsError::Write { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let mut names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["auth.json", "dir"], "no temporary file left");
    }

    #[test]
    fn a_garbage_file_is_refused_without_quoting_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("auth.json");
        std::fs::write(&path, br#"{"auths": {"x": "topsecret"}}"#).unwrap();
        let e = CredentialStore::open(path).unwrap_err().to_string();
        assert!(e.contains("is not a strata credentials file"), "{e}");
        assert!(!e.contains("topsecret"), "{e}");
    }

    #[test]
    fn the_file_lives_in_strata_config_or_the_xdg_config_dir() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into())
        };
        let path = |vars| path_from(env(vars)).ok();
        assert_eq!(
            path(&[("STRATA_CONFIG", "/c"), ("HOME", "/h")]),
            Some("/c/auth.json".into())
        );
        assert_eq!(
            path(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]),
            Some("/x/strata/auth.json".into())
        );
        assert_eq!(
            path(&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")]),
            Some("/h/.config/strata/auth.json".into())
        );
        assert_eq!(path(&[]), None);
    }

    #[test]
    fn server_addresses_become_host_names() {
        assert_eq!(server_key("https://index.docker.io/v1/"), HUB_KEY);
        assert_eq!(server_key("docker.io"), HUB_KEY);
        assert_eq!(server_key("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(server_key("localhost:5000"), "localhost:5000");
        assert_eq!(server_key("ghcr.io"), "ghcr.io");
    }
}
