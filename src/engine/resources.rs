//! A container's resource limits as Docker's `HostConfig` sets them
//! (`Memory`, `MemorySwap`, `MemoryReservation`, `NanoCpus`, `CpuShares`,
//! `CpuPeriod`, `CpuQuota`, `CpusetCpus`, `CpusetMems`, `PidsLimit`), read
//! from `HostSettings.extra`, validated with Docker's messages (moby's
//! `verifyPlatformContainerResources`), and turned into the runner's
//! [`Limits`]; and the daemon's maker of resource cgroups.

use super::error::Error;
use super::spec::HostSettings;
use crate::run::delegation::{self, Delegation, NotDelegated};
use crate::run::resources::{CPU_PERIOD_US, ContainerCgroups, Layout, Limits, Manager};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// Docker's minimum for `--memory` and `--memory-reservation`.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// An integer field of `HostConfig` (absent or null: 0).
fn int(host: &HostSettings, name: &str) -> Result<i64, Error> {
    match host.extra.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| Error::invalid(format!("HostConfig.{name} must be an integer"))),
    }
}

fn string(host: &HostSettings, name: &str) -> Result<String, Error> {
    match host.extra.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Error::invalid(format!("HostConfig.{name} must be a string"))),
    }
}

/// The cpus of a list such as `0-2,4`; `None` when it is not one.
pub fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo.parse::<u32>().ok()?, hi.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if lo > hi || hi > 8192 {
            return None;
        }
        cpus.extend(lo..=hi);
    }
    Some(cpus)
}

/// The host's online cpus (`/sys/devices/system/cpu/online`).
fn online_cpus() -> (String, Vec<u32>) {
    let list = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let list = list.trim().to_string();
    let cpus = parse_cpu_list(&list)
        .unwrap_or_else(|| (0..std::thread::available_parallelism().map_or(1, |n| n.get() as u32)).collect());
    (list, cpus)
}

fn memory_limits(host: &HostSettings, limits: &mut Limits) -> Result<(), Error> {
    let memory = int(host, "Memory")?;
    let mut swap = int(host, "MemorySwap")?;
    let reservation = int(host, "MemoryReservation")?;
    if memory != 0 && memory < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory limit allowed is 6MB"));
    }
    if swap > 0 && memory == 0 {
        return Err(Error::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if memory > 0 && swap > 0 && swap < memory {
        return Err(Error::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if reservation != 0 && reservation < MIN_MEMORY {
        return Err(Error::invalid("Minimum memory reservation allowed is 6MB"));
    }
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(Error::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    // Docker: with a memory limit and no swap limit, as much swap as
    // memory (the memory+swap limit is twice the memory limit).
    if memory > 0 && swap == 0 {
        swap = memory.saturating_mul(2);
    }
    if swap < -1 {
        swap = -1;
    }
    limits.memory = memory;
    limits.memory_swap = swap;
    limits.memory_reservation = reservation;
    Ok(())
}

fn cpu_limits(host: &HostSettings, limits: &mut Limits) -> Result<(), Error> {
    let nano = int(host, "NanoCpus")?;
    let period = int(host, "CpuPeriod")?;
    let quota = int(host, "CpuQuota")?;
    let shares = int(host, "CpuShares")?;
    let (online_list, online) = online_cpus();
    if nano > 0 && period > 0 {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if nano > 0 && quota > 0 {
        return Err(Error::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let n = online.len() as i64;
    if nano < 0 || nano > n * 1_000_000_000 {
        return Err(Error::invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )));
    }
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(Error::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if quota > 0 && quota < 1000 {
        return Err(Error::invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
    }
    if shares < 0 {
        return Err(Error::invalid("invalid CPU shares: it cannot be negative"));
    }
    if nano > 0 {
        limits.cpu_period = CPU_PERIOD_US;
        limits.cpu_quota = nano * CPU_PERIOD_US as i64 / 1_000_000_000;
    } else {
        limits.cpu_period = period as u64;
        limits.cpu_quota = quota;
    }
    // The kernel's range of cpu.shares.
    limits.cpu_shares = match shares {
        0 => 0,
        s => s.clamp(2, 262_144) as u64,
    };
    let cpus = string(host, "CpusetCpus")?;
    if !cpus.is_empty() {
        let Some(wanted) = parse_cpu_list(&cpus) else {
            return Err(Error::invalid(format!("Invalid value {cpus} for cpuset cpus")));
        };
        if wanted.iter().any(|c| !online.contains(c)) {
            return Err(Error::invalid(format!(
                "Requested CPUs are not available - requested {cpus}, available: {online_list}"
            )));
        }
    }
    let mems = string(host, "CpusetMems")?;
    if !mems.is_empty() && parse_cpu_list(&mems).is_none() {
        return Err(Error::invalid(format!("Invalid value {mems} for cpuset mems")));
    }
    limits.cpuset_cpus = cpus;
    limits.cpuset_mems = mems;
    Ok(())
}

/// The limits `host` asks for, checked as Docker checks them.
pub fn limits(host: &HostSettings) -> Result<Limits, Error> {
    let mut limits = Limits::default();
    memory_limits(host, &mut limits)?;
    cpu_limits(host, &mut limits)?;
    // Docker: 0 and -1 (and any negative) are "unlimited".
    limits.pids_limit = int(host, "PidsLimit")?.max(0);
    Ok(limits)
}

/// Checks a create's limits: Docker's errors, and a rootless daemon's
/// refusal when it has no delegated cgroup to apply them in.
pub fn check(host: &HostSettings) -> Result<Limits, Error> {
    let limits = limits(host)?;
    if limits.any()
        && !crate::sys::is_root()
        && let Err(why) = delegation()
    {
        return Err(Error::invalid(refusal(rustix::process::getuid().as_raw(), why)));
    }
    Ok(limits)
}

/// A rootless daemon's refusal of limits: why, and what to do.
fn refusal(uid: u32, why: &NotDelegated) -> String {
    format!(
        "strata: resource limits need a delegated cgroup for a rootless daemon: this daemon (uid {uid}) {why}; \
         delegate them (cgroup v2: systemd's Delegate=yes; v1: chown the daemon's cgroup directories to its \
         user) or remove --memory, --cpus, --pids-limit and the like"
    )
}

/// The host's layout (v1 or hybrid, or pure v2).
fn layout() -> Layout {
    if cgroups_rs::hierarchies::is_cgroup2_unified_mode() {
        Layout::V2
    } else {
        Layout::V1
    }
}

/// A rootless daemon's delegated cgroups, found once: the daemon's own
/// cgroups do not change while it runs.
fn delegation() -> &'static Result<Delegation, NotDelegated> {
    static DELEGATION: OnceLock<Result<Delegation, NotDelegated>> = OnceLock::new();
    DELEGATION.get_or_init(|| {
        let found = delegation::discover_self(layout());
        match &found {
            Ok(d) => tracing::info!("rootless: containers' cgroups go under the delegated {:?}", d.dirs()),
            Err(why) => tracing::info!("rootless: no delegated cgroup (this daemon {why}): no limits, stats or pause"),
        }
        found
    })
}

static MANAGER: OnceLock<Option<Manager>> = OnceLock::new();

/// The daemon's maker of resource cgroups, for the store at `store_root`
/// (one store per daemon): a root daemon's; a rootless daemon's when it
/// has a delegated cgroup, else `None`.
pub fn manager(store_root: &Path) -> Option<&'static Manager> {
    MANAGER
        .get_or_init(|| {
            let parent = crate::run::cgroup::parent_name(store_root);
            if crate::sys::is_root() {
                return Some(Manager::new(parent));
            }
            delegation()
                .as_ref()
                .ok()
                .map(|d| Manager::delegated(parent, d.clone()))
        })
        .as_ref()
}

/// Removes the cgroups a previous daemon left (at start).
pub fn sweep(store_root: &Path) {
    if let Some(m) = manager(store_root) {
        m.sweep();
    }
}

/// A starting container's resource cgroups, limits applied; `None` for a
/// rootless daemon without a delegated cgroup (whose create refused limits).
pub fn create(store_root: &Path, id: &str, host: &HostSettings) -> Result<Option<ContainerCgroups>, Error> {
    let limits = check(host)?;
    let Some(m) = manager(store_root) else {
        return Ok(None);
    };
    m.create(id, &limits)
        .map(Some)
        .map_err(|e| Error::internal(format!("the container's resource cgroups: {e}")))
}

/// A starting container's resource cgroups made from a spare's
/// ([`super::spare`]): renamed to the container's, limits applied.
pub fn adopt(
    store_root: &Path,
    spare: ContainerCgroups,
    id: &str,
    host: &HostSettings,
) -> Result<ContainerCgroups, Error> {
    let limits = check(host)?;
    let m = manager(store_root).ok_or_else(|| Error::internal("a spare's cgroups without a manager"))?;
    m.adopt(spare, id, &limits)
        .map_err(|e| Error::internal(format!("the container's resource cgroups: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: serde_json::Value) -> HostSettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn memory_limits_follow_docker() {
        let l = limits(&host(serde_json::json!({"Memory": 64 << 20}))).unwrap();
        assert_eq!((l.memory, l.memory_swap), (64 << 20, 128 << 20));
        let l = limits(&host(serde_json::json!({"Memory": 64 << 20, "MemorySwap": -1}))).unwrap();
        assert_eq!(l.memory_swap, -1);
        let e = |v| limits(&host(v)).unwrap_err().to_string();
        assert_eq!(
            e(serde_json::json!({"Memory": 1 << 20})),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(e(serde_json::json!({"MemorySwap": 64 << 20})).starts_with("You should always set the Memory"));
        assert!(e(serde_json::json!({"Memory": 64 << 20, "MemorySwap": 32 << 20})).starts_with("Minimum memoryswap"));
        assert!(
            e(serde_json::json!({"Memory": 16 << 20, "MemoryReservation": 32 << 20}))
                .starts_with("Minimum memory limit can not be less than memory reservation")
        );
        assert!(e(serde_json::json!({"Memory": "x"})).contains("HostConfig.Memory"));
    }

    #[test]
    fn cpu_limits_follow_docker() {
        let l = limits(&host(serde_json::json!({"NanoCpus": 500_000_000}))).unwrap();
        assert_eq!((l.cpu_quota, l.cpu_period), (50_000, 100_000));
        let e = |v| limits(&host(v)).unwrap_err().to_string();
        assert!(e(serde_json::json!({"NanoCpus": 1_000_000_000_000i64})).starts_with("Range of CPUs is from 0.01 to"));
        assert!(e(serde_json::json!({"NanoCpus": 1, "CpuPeriod": 1000})).starts_with("Conflicting options"));
        assert_eq!(
            e(serde_json::json!({"CpusetCpus": "a"})),
            "Invalid value a for cpuset cpus"
        );
        assert!(
            e(serde_json::json!({"CpusetCpus": "4000"}))
                .starts_with("Requested CPUs are not available - requested 4000, available: ")
        );
        assert_eq!(
            limits(&host(serde_json::json!({"CpusetCpus": "0"})))
                .unwrap()
                .cpuset_cpus,
            "0"
        );
        assert_eq!(
            limits(&host(serde_json::json!({"PidsLimit": -1}))).unwrap().pids_limit,
            0
        );
        assert!(!limits(&HostSettings::default()).unwrap().any());
    }

    #[test]
    fn the_rootless_refusal_says_what_to_do() {
        let why = NotDelegated::Hierarchies(vec!["memory".into(), "pids".into()]);
        assert_eq!(
            refusal(1000, &why),
            "strata: resource limits need a delegated cgroup for a rootless daemon: this daemon (uid 1000) \
             cannot write its cgroup in the memory, pids hierarchies; delegate them (cgroup v2: systemd's \
             Delegate=yes; v1: chown the daemon's cgroup directories to its user) or remove --memory, --cpus, \
             --pids-limit and the like"
        );
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_cpu_list("1"), Some(vec![1]));
        assert_eq!(parse_cpu_list("2-1"), None);
        assert_eq!(parse_cpu_list(""), None);
    }
}
