//! `HostConfig.SecurityOpt`, the part of it that is the engine's: the
//! seccomp profile. Docker's forms: `seccomp=unconfined`, `seccomp=builtin`
//! (the default), and `seccomp=<a profile's JSON>` (what the docker CLI
//! sends for `--security-opt seccomp=FILE`: the file's content); the old
//! `seccomp:` separator too. Every other entry is left to the request's
//! validation elsewhere.

use super::error::Error;
use super::spec::HostSettings;
use crate::run::seccomp::{self, Program};

/// The seccomp profile a container asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seccomp {
    /// Docker's default profile.
    Default,
    Unconfined,
    /// A Docker-format profile, as JSON.
    Profile(String),
}

/// The entries of `SecurityOpt` (absent or `null`: none).
fn entries(host: &HostSettings) -> Result<Vec<String>, Error> {
    match host.extra.get("SecurityOpt") {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| Error::invalid("HostConfig.SecurityOpt must be a list of strings")),
    }
}

/// An entry's key and value, split as Docker does: at the first `=`, or
/// for an entry without one at the first `:` (the deprecated form).
fn split(entry: &str) -> Option<(&str, &str)> {
    if entry.contains('=') {
        entry.split_once('=')
    } else {
        entry.split_once(':')
    }
}

/// The seccomp choice of a container's `SecurityOpt` (the last `seccomp`
/// entry wins, as in Docker).
pub fn seccomp_choice(host: &HostSettings) -> Result<Seccomp, Error> {
    let mut choice = Seccomp::Default;
    for entry in entries(host)? {
        let Some(("seccomp", value)) = split(&entry) else {
            continue;
        };
        choice = match value {
            "" | "builtin" => Seccomp::Default,
            "unconfined" => Seccomp::Unconfined,
            json => Seccomp::Profile(json.to_string()),
        };
    }
    Ok(choice)
}

/// The compiled filter for a container's processes (`None`: unconfined):
/// Docker's default compiled once per daemon, another profile at each
/// call. An invalid profile is the client's error (400), with the
/// parser's or libseccomp's reason.
#[cfg(test)]
pub fn seccomp_program(host: &HostSettings) -> Result<Option<Program>, Error> {
    seccomp_program_for(host, &crate::run::Privileges::default())
}

/// [`seccomp_program`] for a container with these privileges: none when
/// privileged (as Docker's `WithSeccomp`), else the profile resolved
/// against the container's capability set (the rules a profile gives only
/// to holders of `CAP_SYS_ADMIN`, … follow `--cap-add`/`--cap-drop`).
pub fn seccomp_program_for(host: &HostSettings, privileges: &crate::run::Privileges) -> Result<Option<Program>, Error> {
    let choice = seccomp_choice(host)?;
    if privileges.privileged {
        return Ok(None);
    }
    let caps = privileges.capabilities();
    let compiled = match choice {
        Seccomp::Unconfined => return Ok(None),
        Seccomp::Default => seccomp::default_program_for(caps).map(Some),
        Seccomp::Profile(json) => seccomp::compile_json_with(&json, caps),
    };
    compiled.map_err(|e| Error::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(opts: serde_json::Value) -> HostSettings {
        serde_json::from_value(serde_json::json!({ "SecurityOpt": opts })).unwrap()
    }

    #[test]
    fn security_opts_choose_the_profile() {
        assert_eq!(seccomp_choice(&HostSettings::default()).unwrap(), Seccomp::Default);
        assert_eq!(
            seccomp_choice(&host(serde_json::Value::Null)).unwrap(),
            Seccomp::Default
        );
        let c = |opts: &[&str]| seccomp_choice(&host(serde_json::json!(opts))).unwrap();
        assert_eq!(c(&["seccomp=unconfined"]), Seccomp::Unconfined);
        assert_eq!(c(&["seccomp:unconfined"]), Seccomp::Unconfined);
        assert_eq!(c(&["seccomp=unconfined", "seccomp=builtin"]), Seccomp::Default);
        assert_eq!(
            c(&["label=disable", "no-new-privileges", "apparmor=x"]),
            Seccomp::Default
        );
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO"}]}"#;
        assert_eq!(c(&[&format!("seccomp={json}")]), Seccomp::Profile(json.to_string()));
        assert!(seccomp_choice(&host(serde_json::json!("seccomp=unconfined"))).is_err());
    }

    #[test]
    fn a_bad_profile_is_the_clients_error() {
        let e = seccomp_program(&host(serde_json::json!(["seccomp={not json"]))).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert!(
            e.to_string().starts_with("Decoding seccomp profile failed"),
            "{}",
            e.to_string()
        );
        let e = seccomp_program(&host(serde_json::json!([
            r#"seccomp={"defaultAction":"SCMP_ACT_NOPE"}"#
        ])))
        .unwrap_err();
        assert!(e.to_string().contains("unknown action"), "{}", e);
        assert_eq!(
            seccomp_program(&host(serde_json::json!(["seccomp=unconfined"]))).unwrap(),
            None
        );
        assert!(seccomp_program(&HostSettings::default()).unwrap().is_some());
    }
}
