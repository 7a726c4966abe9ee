//! Docker's seccomp profile format, and its resolution for one container
//! as moby's `seccomp_linux.go` does it: the native architecture picks its
//! `archMap` entry (the architecture and its sub-architectures), and each
//! rule's `includes`/`excludes` are evaluated against that architecture,
//! the container's bounding capabilities and the running kernel.
//!
//! An `excludes` drops the rule when *any* of its conditions holds (the
//! architecture is listed, any listed capability is held, the kernel is at
//! least `minKernel`); an `includes` keeps it only when *all* hold (the
//! architecture is listed, every capability is held, the kernel is at
//! least `minKernel`).

use serde::Deserialize;

/// A profile as Docker reads it (unknown fields are ignored, as Go's
/// decoder does; a `null` list is an empty one).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// The old form: a plain list of architectures.
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub syscalls: Option<Vec<Syscall>>,
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub listener_path: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// The old form: one name.
    #[serde(default)]
    pub name: String,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    /// "<kernel>.<major>", e.g. "4.8".
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What a profile is resolved against.
#[derive(Clone, Debug)]
pub struct Target {
    /// The native architecture as libseccomp names it (`SCMP_ARCH_X86_64`).
    pub scmp_arch: &'static str,
    /// The same as profiles' `includes.arches` name it (Go's: `amd64`).
    pub arch: &'static str,
    /// The container's bounding set (`CAP_CHOWN`, …).
    pub caps: Vec<&'static str>,
    /// The running kernel's version and major revision.
    pub kernel: (u64, u64),
}

/// A rule that applies to the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<String>,
    pub action: String,
    pub errno_ret: Option<u32>,
    pub args: Vec<Arg>,
}

/// A profile resolved for one target: what libseccomp is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub default_action: String,
    pub default_errno_ret: Option<u32>,
    /// Architectures besides the native one (`SCMP_ARCH_*`).
    pub arches: Vec<String>,
    pub rules: Vec<Rule>,
}

/// "4.8" → (4, 8); a third part or a suffix is an error, as in moby.
pub fn parse_kernel_version(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid kernel version: {s:?}, expected \"<kernel>.<major>\"");
    let (a, b) = s.split_once('.').ok_or_else(bad)?;
    let a: u8 = a.parse().map_err(|_| bad())?;
    let b: u8 = b.parse().map_err(|_| bad())?;
    if (a, b) == (0, 0) {
        return Err(format!("{}: version cannot be 0.0", bad()));
    }
    Ok((a.into(), b.into()))
}

/// The kernel and major revision of a release string ("6.18.44-foo" →
/// (6, 18)).
pub fn release_version(release: &str) -> Option<(u64, u64)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let a = parts.next()?.parse().ok()?;
    let b = parts.next()?.parse().ok()?;
    Some((a, b))
}

impl Filter {
    fn min_kernel(&self) -> Result<Option<(u64, u64)>, String> {
        match self.min_kernel.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => parse_kernel_version(v).map(Some),
        }
    }
}

impl Syscall {
    /// Whether the rule applies to `target`.
    fn applies(&self, target: &Target) -> Result<bool, String> {
        let has_cap = |c: &String| target.caps.iter().any(|t| t == c);
        if let Some(ex) = &self.excludes
            && (ex.arches.iter().flatten().any(|a| a == target.arch)
                || ex.caps.iter().flatten().any(has_cap)
                || ex.min_kernel()?.is_some_and(|k| target.kernel >= k))
        {
            return Ok(false);
        }
        if let Some(inc) = &self.includes {
            let arches = inc.arches.as_deref().unwrap_or_default();
            if !arches.is_empty() && !arches.iter().any(|a| a == target.arch) {
                return Ok(false);
            }
            if !inc.caps.iter().flatten().all(has_cap) {
                return Ok(false);
            }
            if inc.min_kernel()?.is_some_and(|k| target.kernel < k) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Profile {
    /// The profile for `target`; `None` when it has neither a default
    /// action nor rules (moby reads that as "no seccomp").
    pub fn resolve(&self, target: &Target) -> Result<Option<Resolved>, String> {
        let syscalls = self.syscalls.as_deref().unwrap_or_default();
        if self.default_action.is_empty() && syscalls.is_empty() {
            return Ok(None);
        }
        if self.default_action.is_empty() {
            return Err("the profile has rules but no defaultAction".into());
        }
        let (old, map) = (self.architectures.as_deref(), self.arch_map.as_deref());
        let arches = match (old.unwrap_or_default(), map.unwrap_or_default()) {
            (a, m) if !a.is_empty() && !m.is_empty() => {
                return Err(
                    "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"
                        .into(),
                );
            }
            (a, _) if !a.is_empty() => a.to_vec(),
            (_, m) => m
                .iter()
                .find(|e| e.architecture == target.scmp_arch)
                .map(|e| {
                    let mut v = vec![e.architecture.clone()];
                    v.extend(e.sub_architectures.iter().flatten().cloned());
                    v
                })
                .unwrap_or_default(),
        };
        let mut rules = Vec::new();
        for call in syscalls {
            let names = match (call.names.as_deref().unwrap_or_default(), call.name.as_str()) {
                (n, name) if !n.is_empty() && !name.is_empty() => {
                    return Err(
                        "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"
                            .into(),
                    );
                }
                (n, "") => n.to_vec(),
                (_, name) => vec![name.to_string()],
            };
            if !call.applies(target)? {
                continue;
            }
            rules.push(Rule {
                names,
                action: call.action.clone(),
                errno_ret: call.errno_ret,
                args: call.args.clone().unwrap_or_default(),
            });
        }
        Ok(Some(Resolved {
            default_action: self.default_action.clone(),
            default_errno_ret: self.default_errno_ret,
            arches,
            rules,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[&'static str]) -> Target {
        Target {
            scmp_arch: "SCMP_ARCH_X86_64",
            arch: "amd64",
            caps: caps.to_vec(),
            kernel: (6, 18),
        }
    }

    fn default_profile() -> Profile {
        serde_json::from_str(super::super::DEFAULT_PROFILE).unwrap()
    }

    fn allowed<'a>(r: &'a Resolved, name: &str) -> Vec<&'a Rule> {
        r.rules.iter().filter(|x| x.names.iter().any(|n| n == name)).collect()
    }

    #[test]
    fn dockers_profile_resolves_for_dockers_capabilities_on_amd64() {
        let caps = super::super::super::caps::names(super::super::super::caps::DOCKER_CAPS);
        let r = default_profile().resolve(&target(&caps)).unwrap().unwrap();
        assert_eq!(r.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(r.default_errno_ret, Some(1));
        assert_eq!(r.arches, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        // Without CAP_SYS_ADMIN: no unshare, mount or bpf; clone only
        // without namespace flags; clone3 gets ENOSYS (so libc falls back).
        for name in ["unshare", "mount", "bpf", "setns", "umount2"] {
            assert!(allowed(&r, name).is_empty(), "{name}");
        }
        let clone = allowed(&r, "clone");
        assert_eq!(clone.len(), 1, "{clone:?}");
        assert_eq!(clone[0].args[0].op, "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone[0].args[0].index, 0, "not the s390 form");
        let clone3 = allowed(&r, "clone3");
        assert_eq!(
            (clone3[0].action.as_str(), clone3[0].errno_ret),
            ("SCMP_ACT_ERRNO", Some(38))
        );
        // amd64's own, and the minKernel one; no other architecture's.
        assert_eq!(allowed(&r, "arch_prctl").len(), 1);
        assert_eq!(allowed(&r, "ptrace").len(), 1);
        assert!(allowed(&r, "s390_runtime_instr").is_empty());
        // CAP_SYS_CHROOT is in Docker's set, CAP_SYS_TIME is not.
        assert_eq!(allowed(&r, "chroot").len(), 1);
        assert!(allowed(&r, "settimeofday").is_empty());
    }

    #[test]
    fn includes_need_all_and_excludes_any() {
        let r = default_profile().resolve(&target(&["CAP_SYS_ADMIN"])).unwrap().unwrap();
        assert_eq!(allowed(&r, "unshare").len(), 1);
        // The masked clone rule is excluded with CAP_SYS_ADMIN, and so is
        // clone3's ENOSYS.
        assert!(allowed(&r, "clone").iter().all(|x| x.args.is_empty()));
        assert!(allowed(&r, "clone3").iter().all(|x| x.action == "SCMP_ACT_ALLOW"));
        let old_kernel = Target {
            kernel: (4, 4),
            ..target(&[])
        };
        let r = default_profile().resolve(&old_kernel).unwrap().unwrap();
        assert!(allowed(&r, "ptrace").is_empty(), "minKernel 4.8");
        let s390 = Target {
            scmp_arch: "SCMP_ARCH_S390X",
            arch: "s390x",
            ..target(&[])
        };
        let r = default_profile().resolve(&s390).unwrap().unwrap();
        assert_eq!(r.arches, ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]);
        assert_eq!(allowed(&r, "clone")[0].args[0].index, 1, "s390's argument order");
    }

    #[test]
    fn malformed_profiles_are_refused_and_empty_ones_mean_none() {
        let parse = |s: &str| serde_json::from_str::<Profile>(s).unwrap();
        assert_eq!(parse("{}").resolve(&target(&[])), Ok(None));
        assert_eq!(
            parse(r#"{"syscalls": null, "defaultAction": ""}"#).resolve(&target(&[])),
            Ok(None)
        );
        let both = r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                       "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#;
        assert!(parse(both).resolve(&target(&[])).unwrap_err().contains("archMap"));
        let names = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}"#;
        assert!(parse(names).resolve(&target(&[])).unwrap_err().contains("'names'"));
        let kernel = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "4"}}]}"#;
        assert!(
            parse(kernel)
                .resolve(&target(&[]))
                .unwrap_err()
                .contains("kernel version")
        );
        let rules = r#"{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO"}]}"#;
        assert!(parse(rules).resolve(&target(&[])).is_err());
        // The old single name, and the old architectures list.
        let old = r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                      "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO"}]}"#;
        let r = parse(old).resolve(&target(&[])).unwrap().unwrap();
        assert_eq!(r.arches, ["SCMP_ARCH_X86"]);
        assert_eq!(r.rules[0].names, ["mkdir"]);
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("4.8"), Ok((4, 8)));
        assert!(parse_kernel_version("4.8.1").is_err());
        assert!(parse_kernel_version("0.0").is_err());
        assert!(parse_kernel_version("x.1").is_err());
        assert_eq!(release_version("6.18.44-fc-v1045"), Some((6, 18)));
        assert_eq!(release_version("3.12-1-amd64"), Some((3, 12)));
        assert_eq!(release_version("x"), None);
    }
}
