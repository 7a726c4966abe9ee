//! `stats`: one sample of a container's counters (from its resource
//! cgroups, `run::stats`) with the host's CPU time and the moment it was
//! read; a container that is not running has none (Docker shows zeros).

use super::container::Container;
use super::now_rfc3339;
use crate::run::stats::{self, Counters};

/// One reading.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// RFC 3339.
    pub read: String,
    pub counters: Counters,
    /// The host's CPU time, nanoseconds.
    pub system_cpu: u64,
    pub online_cpus: u32,
}

impl Container {
    /// The container's counters now; `None` when it is not running (or
    /// the daemon, rootless without a delegated cgroup, has none to read).
    pub fn stats_sample(&self) -> Option<Sample> {
        let live = self.lock();
        let cgroups = live.run.as_ref()?.resources.as_ref()?;
        let counters = stats::read(cgroups);
        drop(live);
        // The CPUs this daemon may run on (its affinity), as Docker's
        // `online_cpus`.
        let online = std::thread::available_parallelism().map_or(1, |n| n.get());
        Some(Sample {
            read: now_rfc3339(),
            counters,
            system_cpu: stats::host_cpu_time(),
            online_cpus: online as u32,
        })
    }
}
