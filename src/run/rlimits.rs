//! A container's resource limits (`--ulimit`), set by the init (and by
//! every exec'd process) just before its `execve`, as runc does.
//!
//! Invariant: only the names Docker accepts (go-units' `ulimit.go`) are
//! known here; the engine refuses any other before the container starts.

use rustix::process::Resource;
use serde::{Deserialize, Serialize};

/// One limit: Docker's name (`nofile`, …), soft and hard values.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rlimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// The kernel's resource for Docker's name of it.
pub fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "core" => Resource::Core,
        "cpu" => Resource::Cpu,
        "data" => Resource::Data,
        "fsize" => Resource::Fsize,
        "locks" => Resource::Locks,
        "memlock" => Resource::Memlock,
        "msgqueue" => Resource::Msgqueue,
        "nice" => Resource::Nice,
        "nofile" => Resource::Nofile,
        "nproc" => Resource::Nproc,
        "rss" => Resource::Rss,
        "rtprio" => Resource::Rtprio,
        "rttime" => Resource::Rttime,
        "sigpending" => Resource::Sigpending,
        "stack" => Resource::Stack,
        "as" => Resource::As,
        _ => return None,
    })
}

/// Sets each limit on the calling process; the error names the limit.
pub fn apply(limits: &[Rlimit]) -> Result<(), String> {
    for l in limits {
        let res = resource(&l.name).ok_or_else(|| format!("invalid ulimit type: {}", l.name))?;
        let limit = rustix::process::Rlimit {
            current: Some(l.soft),
            maximum: Some(l.hard),
        };
        rustix::process::setrlimit(res, limit).map_err(|e| {
            format!(
                "setting the ulimit {}={}:{}: {}",
                l.name,
                l.soft,
                l.hard,
                super::lookup::errno_text(&e.into())
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_names_are_known() {
        for n in ["nofile", "nproc", "core", "memlock", "stack", "cpu", "rtprio"] {
            assert!(resource(n).is_some(), "{n}");
        }
        assert!(resource("files").is_none());
        assert!(
            apply(&[Rlimit {
                name: "x".into(),
                soft: 1,
                hard: 1
            }])
            .is_err()
        );
    }
}
