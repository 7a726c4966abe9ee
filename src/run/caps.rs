//! Capabilities: Docker's default set, their names (as seccomp
//! profiles' `includes.caps` spell them), and Docker's reading of
//! `--cap-add`/`--cap-drop` (moby's `oci/caps`: names with or without
//! `CAP_`, any case, and `ALL`).

use rustix::thread::CapabilitySet;

/// Docker's default capabilities: the bounding set of every container.
pub const DOCKER_CAPS: CapabilitySet = CapabilitySet::CHOWN
    .union(CapabilitySet::DAC_OVERRIDE)
    .union(CapabilitySet::FSETID)
    .union(CapabilitySet::FOWNER)
    .union(CapabilitySet::MKNOD)
    .union(CapabilitySet::NET_RAW)
    .union(CapabilitySet::SETGID)
    .union(CapabilitySet::SETUID)
    .union(CapabilitySet::SETFCAP)
    .union(CapabilitySet::SETPCAP)
    .union(CapabilitySet::NET_BIND_SERVICE)
    .union(CapabilitySet::SYS_CHROOT)
    .union(CapabilitySet::KILL)
    .union(CapabilitySet::AUDIT_WRITE);

/// Capability names by number (include/uapi/linux/capability.h).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The names of the capabilities in `set`, by number.
pub fn names(set: CapabilitySet) -> Vec<&'static str> {
    NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| set.contains(CapabilitySet::from_bits_retain(1 << bit)))
        .map(|(_, name)| *name)
        .collect()
}

/// Why a capability list was refused: Docker's words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown capability: {0:?}")]
    Unknown(String),
    #[error("capability not supported by your kernel or not available in the current environment: {0:?}")]
    Unsupported(String),
}

/// The highest capability number the running kernel knows
/// (`/proc/sys/kernel/cap_last_cap`), at most the last one named here.
pub fn last_cap() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(NAMES.len() - 1, |n| n.min(NAMES.len() - 1))
}

/// Every capability available here: the running kernel's that are in
/// this process's bounding set (as moby's `GetAllCapabilities`, which
/// leaves out what the daemon's environment lacks: a daemon in a
/// container). What `--privileged` and `--cap-add ALL` give.
pub fn all() -> CapabilitySet {
    (0..=last_cap())
        .map(|bit| CapabilitySet::from_bits_retain(1 << bit))
        .filter(|cap| rustix::thread::capability_is_in_bounding_set(*cap).unwrap_or(false))
        .fold(CapabilitySet::empty(), |acc, cap| acc | cap)
}

/// One name of a list, as moby's `NormalizeLegacyCapabilities` reads it:
/// `None` for `ALL`, else the capability's bit.
fn normalize(name: &str) -> Result<Option<CapabilitySet>, Error> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    let bit = NAMES
        .iter()
        .position(|n| *n == full)
        .ok_or_else(|| Error::Unknown(full.clone()))?;
    let cap = CapabilitySet::from_bits_retain(1 << bit);
    if bit > last_cap() || !all().contains(cap) {
        return Err(Error::Unsupported(full));
    }
    Ok(Some(cap))
}

/// A list's capabilities, and whether it says `ALL`.
fn read_list(names: &[String]) -> Result<(CapabilitySet, bool), Error> {
    let mut set = CapabilitySet::empty();
    let mut all = false;
    for name in names {
        match normalize(name)? {
            Some(cap) => set |= cap,
            None => all = true,
        }
    }
    Ok((set, all))
}

/// The container's capabilities, as moby's `TweakCapabilities`: all of
/// them when privileged; else with `ALL` added, all but those dropped;
/// with `ALL` dropped, only those added; otherwise `basics` less those
/// dropped, then those added (so a name in both lists is kept).
pub fn tweak(
    basics: CapabilitySet,
    adds: &[String],
    drops: &[String],
    privileged: bool,
) -> Result<CapabilitySet, Error> {
    if privileged {
        return Ok(all());
    }
    let (drop, drop_all) = read_list(drops)?;
    let (add, add_all) = read_list(adds)?;
    Ok(if add_all {
        all().difference(drop)
    } else if drop_all {
        add
    } else {
        basics.difference(drop) | add
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn docker_tweaks_the_default_set() {
        let t = |add: &[&str], drop: &[&str]| tweak(DOCKER_CAPS, &list(add), &list(drop), false).unwrap();
        assert_eq!(t(&[], &[]), DOCKER_CAPS);
        assert_eq!(t(&[], &["ALL"]), CapabilitySet::empty());
        assert_eq!(t(&["net_admin"], &["all"]), CapabilitySet::NET_ADMIN);
        assert_eq!(t(&["CAP_NET_ADMIN"], &[]), DOCKER_CAPS | CapabilitySet::NET_ADMIN);
        assert_eq!(
            t(&[], &["chown", "Cap_Kill"]),
            DOCKER_CAPS.difference(CapabilitySet::CHOWN | CapabilitySet::KILL)
        );
        assert_eq!(t(&["ALL"], &["SYS_ADMIN"]), all().difference(CapabilitySet::SYS_ADMIN));
        // Added after dropping: a name in both lists stays.
        assert!(t(&["CHOWN"], &["CHOWN"]).contains(CapabilitySet::CHOWN));
        assert_eq!(tweak(DOCKER_CAPS, &[], &list(&["ALL"]), true).unwrap(), all());
        assert!(all().contains(CapabilitySet::SYS_ADMIN | CapabilitySet::CHOWN));
        let e = tweak(DOCKER_CAPS, &list(&["NET_FLY"]), &[], false).unwrap_err();
        assert_eq!(e.to_string(), "unknown capability: \"CAP_NET_FLY\"");
    }

    #[test]
    fn dockers_set_by_name() {
        let n = names(DOCKER_CAPS);
        assert_eq!(n.len(), 14);
        for name in [
            "CAP_CHOWN",
            "CAP_MKNOD",
            "CAP_SYS_CHROOT",
            "CAP_AUDIT_WRITE",
            "CAP_SETFCAP",
        ] {
            assert!(n.contains(&name), "{name}");
        }
        assert!(!n.contains(&"CAP_SYS_ADMIN"));
        assert_eq!(names(CapabilitySet::SYS_ADMIN), ["CAP_SYS_ADMIN"]);
        assert_eq!(names(CapabilitySet::BPF), ["CAP_BPF"]);
    }
}
