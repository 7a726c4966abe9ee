//! A running container's counters, read from its resource cgroups
//! (`resources`) through `cgroups-rs`: CPU time (total, per CPU, user and
//! kernel, throttling), memory (usage, limit, `memory.stat`), pids and
//! block I/O; and the host's CPU time and memory, which `docker stats`
//! divides by.

use super::resources::ContainerCgroups;
use cgroups_rs::blkio::BlkIoController;
use cgroups_rs::cpu::CpuController;
use cgroups_rs::cpuacct::CpuAcctController;
use cgroups_rs::memory::MemController;
use cgroups_rs::pid::PidController;
use cgroups_rs::{Controller, MaxValue};
use std::collections::BTreeMap;

/// Nanoseconds per USER_HZ tick (100 per second on Linux).
const NS_PER_TICK: u64 = 10_000_000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// CPU time, nanoseconds.
    pub cpu_total: u64,
    pub cpu_percpu: Vec<u64>,
    pub cpu_user: u64,
    pub cpu_kernel: u64,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    /// The memory limit, capped at the host's memory (as Docker shows it).
    pub memory_limit: u64,
    pub memory_failcnt: u64,
    pub memory_stat: BTreeMap<String, u64>,
    pub pids: u64,
    /// `None`: no limit.
    pub pids_limit: Option<u64>,
    /// (major, minor, op, bytes): `Read` and `Write` per device.
    pub blkio: Vec<(u64, u64, &'static str, u64)>,
}

/// `user N` and `system N` of `cpuacct.stat` (ticks), or `user_usec` /
/// `system_usec` of a v2 `cpu.stat`, in nanoseconds.
fn user_and_kernel(stat: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for line in stat.lines() {
        let mut f = line.split_whitespace();
        let (Some(k), Some(v)) = (f.next(), f.next().and_then(|v| v.parse::<u64>().ok())) else {
            continue;
        };
        match k {
            "user" => out.0 = v * NS_PER_TICK,
            "system" => out.1 = v * NS_PER_TICK,
            "user_usec" => out.0 = v * 1000,
            "system_usec" => out.1 = v * 1000,
            _ => {}
        }
    }
    out
}

/// A flat-keyed cgroup file (`cpu.stat`) as a map.
fn keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The host's total memory, bytes (`/proc/meminfo`).
pub fn host_memory() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The host's CPU time since boot, nanoseconds (the first line of
/// `/proc/stat`, as Docker computes `system_cpu_usage`).
pub fn host_cpu_time() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    parse_host_cpu(&stat)
}

fn parse_host_cpu(stat: &str) -> u64 {
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    // user nice system idle iowait irq softirq steal (guest is in user).
    line.split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum::<u64>()
        * NS_PER_TICK
}

fn cpu(cg: &ContainerCgroups, c: &mut Counters) {
    let cgroup = cg.cgroup();
    if let Some(acct) = cgroup.controller_of::<CpuAcctController>() {
        let a = acct.cpuacct();
        c.cpu_total = a.usage;
        c.cpu_percpu = a
            .usage_percpu
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        (c.cpu_user, c.cpu_kernel) = user_and_kernel(&a.stat);
    }
    if let Some(cpu) = cgroup.controller_of::<CpuController>() {
        let stat = keyed(&cpu.cpu().stat);
        c.periods = stat.get("nr_periods").copied().unwrap_or(0);
        c.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
        c.throttled_time = stat
            .get("throttled_time")
            .copied()
            .or_else(|| stat.get("throttled_usec").map(|u| u * 1000))
            .unwrap_or(0);
        if cgroup.v2() {
            // v2 has no cpuacct: cpu.stat says it all, in µs.
            c.cpu_total = stat.get("usage_usec").copied().unwrap_or(0) * 1000;
            (c.cpu_user, c.cpu_kernel) = user_and_kernel(&cpu.cpu().stat);
        }
    }
}

fn memory(cg: &ContainerCgroups, c: &mut Counters) {
    let Some(mem) = cg.cgroup().controller_of::<MemController>() else {
        return;
    };
    let m = mem.memory_stat();
    c.memory_usage = m.usage_in_bytes;
    c.memory_max_usage = m.max_usage_in_bytes;
    c.memory_failcnt = m.fail_cnt;
    let host = host_memory();
    let limit = u64::try_from(m.limit_in_bytes).unwrap_or(u64::MAX);
    c.memory_limit = if host > 0 { limit.min(host) } else { limit };
    if let Ok(text) = std::fs::read_to_string(mem.path().join("memory.stat")) {
        c.memory_stat = keyed(&text);
    }
}

/// The counters of a running container's cgroups (what a controller
/// cannot give stays 0).
pub fn read(cg: &ContainerCgroups) -> Counters {
    let mut c = Counters::default();
    cpu(cg, &mut c);
    memory(cg, &mut c);
    let cgroup = cg.cgroup();
    if let Some(pids) = cgroup.controller_of::<PidController>() {
        c.pids = pids.get_pid_current().unwrap_or(0);
        c.pids_limit = match pids.get_pid_max() {
            Ok(MaxValue::Value(n)) if n > 0 => Some(n as u64),
            _ => None,
        };
    }
    if let Some(blkio) = cgroup.controller_of::<BlkIoController>() {
        let b = blkio.blkio();
        let list = if b.throttle.io_service_bytes_recursive.is_empty() {
            b.io_service_bytes_recursive
        } else {
            b.throttle.io_service_bytes_recursive
        };
        for s in list {
            let (major, minor) = (s.major as u64, s.minor as u64);
            c.blkio.push((major, minor, "Read", s.read));
            c.blkio.push((major, minor, "Write", s.write));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_parse() {
        assert_eq!(user_and_kernel("user 10\nsystem 5\n"), (100_000_000, 50_000_000));
        assert_eq!(
            user_and_kernel("usage_usec 9\nuser_usec 7\nsystem_usec 2\n"),
            (7000, 2000)
        );
        assert_eq!(
            parse_host_cpu("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 1 1 1\n"),
            36 * NS_PER_TICK
        );
        assert_eq!(parse_host_cpu(""), 0);
        let k = keyed("nr_periods 4\nnr_throttled 2\nthrottled_time 99\n");
        assert_eq!(k.get("nr_throttled"), Some(&2));
    }
}
