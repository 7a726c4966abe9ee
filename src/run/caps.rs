//! Capabilities: Docker's default set, and their names (as seccomp
//! profiles' `includes.caps` spell them).

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

#[cfg(test)]
mod tests {
    use super::*;

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
