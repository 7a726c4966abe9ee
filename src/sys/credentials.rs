//! A process's groups and effective capabilities, as its
//! `/proc/PID/status` states them (`Groups:`, `CapEff:`): what a FUSE
//! server needs of a caller the request names only by uid, gid and pid.

use std::io;

/// The credentials of one process at the time of reading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessCredentials {
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Effective capabilities, bit N for capability N.
    pub cap_effective: u64,
    /// Whether the process is in this process's user namespace: only then
    /// are its capabilities the ones that count over our objects.
    pub same_user_namespace: bool,
}

/// Reads the credentials of `pid` (a thread id works too: each thread has
/// its own). An unreadable or malformed status is an error.
pub fn process_credentials(pid: u32) -> io::Result<ProcessCredentials> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mut creds = parse_status(&status)?;
    creds.same_user_namespace = match (
        std::fs::read_link(format!("/proc/{pid}/ns/user")),
        std::fs::read_link("/proc/self/ns/user"),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    Ok(creds)
}

fn parse_status(status: &str) -> io::Result<ProcessCredentials> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("/proc status: bad {what}"));
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let groups = field("Groups:")
        .ok_or_else(|| bad("Groups"))?
        .split_whitespace()
        .map(|g| g.parse().map_err(|_| bad("Groups")))
        .collect::<io::Result<Vec<u32>>>()?;
    let cap_effective = field("CapEff:")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .ok_or_else(|| bad("CapEff"))?;
    Ok(ProcessCredentials {
        groups,
        cap_effective,
        same_user_namespace: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_groups_and_effective_capabilities() {
        let c = parse_status("Name:\tsh\nGroups:\t4 24 27 \nCapEff:\t0000000000000010\n").unwrap();
        assert_eq!(c.groups, vec![4, 24, 27]);
        assert_eq!(c.cap_effective, 1 << 4);
        assert_eq!(
            parse_status("Groups:\t\nCapEff:\t0\n").unwrap().groups,
            Vec::<u32>::new()
        );
        assert!(parse_status("Groups:\tx\nCapEff:\t0\n").is_err());
        assert!(parse_status("Groups:\t1\n").is_err());
        let me = process_credentials(std::process::id()).unwrap();
        assert!(me.same_user_namespace);
        assert!(process_credentials(u32::MAX).is_err());
    }
}
