//! Resource limits on a container's cgroups, through the `cgroups-rs`
//! crate: on a cgroup v1 (or hybrid) host one cgroup per controller
//! hierarchy the container uses (memory, cpu, cpuacct, cpuset, pids,
//! freezer, blkio), on a pure cgroup v2 host one directory of the unified
//! hierarchy with those controllers enabled.
//!
//! Every container of a root daemon, and of a rootless one with a
//! delegated cgroup ([`super::delegation`], its containers' cgroups then
//! under `<own>/strata-<hash>/<id>`), gets them, limits or not: `stats`,
//! `pause` and the OOM report read and write the same directories. They
//! live under the store's parent (`strata-<hash>`, [`super::cgroup::parent_name`])
//! at the root of each hierarchy, beside the device cgroup, so that the
//! daemon's own (the sandbox's memory cgroup may be `/process_api/<hash>`)
//! never limits them. The shim moves the container's processes into each
//! directory before they run anything of the image (they are in
//! [`super::Confinement::cgroups`]); dropping the
//! [`ContainerCgroups`] removes them, and [`Manager::sweep`] removes those
//! a dead daemon left.

use super::delegation::Delegation;
use cgroups_rs::cgroup::Cgroup;
use cgroups_rs::cpu::CpuController;
use cgroups_rs::cpuset::CpuSetController;
use cgroups_rs::freezer::FreezerController;
use cgroups_rs::memory::MemController;
use cgroups_rs::pid::PidController;
use cgroups_rs::{Controller, Hierarchy, MaxValue};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The controllers a container's cgroups have.
pub const CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio"];

/// The CFS period `--cpus` uses (Docker's: 100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the container's cgroup {path}: {source}")]
    Cgroup {
        path: String,
        source: cgroups_rs::error::Error,
    },
    #[error("setting {what} on the container's cgroup: {source}")]
    Set {
        what: &'static str,
        source: cgroups_rs::error::Error,
    },
    #[error("the container has no {0} cgroup")]
    NoController(&'static str),
    #[error("invalid container id {0:?}")]
    BadId(String),
    #[error("renaming the spare cgroup {} to {}: {source}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}

/// A container's limits, in the kernel's units; 0 (or empty) is "unset",
/// which leaves the kernel's default (no limit).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Bytes.
    pub memory: i64,
    /// Memory plus swap, bytes; -1 unlimited.
    pub memory_swap: i64,
    /// The soft limit, bytes.
    pub memory_reservation: i64,
    /// Relative weight (v1 `cpu.shares`; v2 converted to a weight).
    pub cpu_shares: u64,
    /// CFS quota per period, µs; 0 unset.
    pub cpu_quota: i64,
    pub cpu_period: u64,
    /// A cpu list (`0-1,3`); empty: the parent's.
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// Tasks; 0 or negative: unlimited.
    pub pids_limit: i64,
}

impl Limits {
    /// Whether anything is limited.
    pub fn any(&self) -> bool {
        *self != Limits::default()
    }
}

/// Which kind of hierarchy the host has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1 controllers (alone, or beside an empty cgroup2: hybrid).
    V1,
    /// The unified hierarchy alone.
    V2,
}

fn hierarchy(layout: Layout) -> Box<dyn Hierarchy> {
    match layout {
        Layout::V1 => Box::new(cgroups_rs::hierarchies::V1::new()),
        Layout::V2 => Box::new(cgroups_rs::hierarchies::V2::new()),
    }
}

/// The controllers to make a container's cgroup with: on v1 those of
/// [`CONTROLLERS`] (not `devices`, which `cgroup` manages, nor the
/// others); on v2 every controller the root offers (`None`), which gives
/// `cgroups-rs` its core freezer too ("freezer", "cpuacct" and "blkio"
/// are no v2 controller names, and naming them is an error there).
fn controllers(layout: Layout) -> Option<Vec<String>> {
    match layout {
        Layout::V1 => Some(CONTROLLERS.iter().map(|s| s.to_string()).collect()),
        Layout::V2 => None,
    }
}

/// A handle on a container's cgroups (made or not) in `hier`.
fn load(layout: Layout, hier: Box<dyn Hierarchy>, path: &str) -> Cgroup {
    match controllers(layout) {
        Some(list) => Cgroup::load_with_specified_controllers(hier, path, list),
        None => Cgroup::load(hier, path),
    }
}

/// The relative path of a container's cgroups in every hierarchy.
pub fn relative_path(parent: &str, id: &str) -> String {
    format!("{parent}/{id}")
}

/// A daemon's maker of containers' resource cgroups: a root daemon's
/// under each hierarchy's root, a rootless one's under its delegated
/// cgroups ([`super::delegation`]).
#[derive(Debug)]
pub struct Manager {
    layout: Layout,
    /// The store's parent cgroup's name (relative to each hierarchy's
    /// root, or to the delegated directory).
    parent: String,
    /// A rootless daemon's delegated cgroups; `None` as root.
    delegation: Option<Delegation>,
    /// The host's v1 mounts, read once: `V1::new` reads and parses all of
    /// /proc/self/mountinfo (two or three times a start), and the cgroup
    /// filesystems' mount points do not move under a running daemon.
    v1: Option<cgroups_rs::hierarchies::V1>,
}

impl Manager {
    /// The manager of the host's layout for the store's parent `parent`.
    pub fn new(parent: String) -> Manager {
        let layout = if cgroups_rs::hierarchies::is_cgroup2_unified_mode() {
            Layout::V2
        } else {
            Layout::V1
        };
        Manager {
            layout,
            parent,
            delegation: None,
            v1: (layout == Layout::V1).then(cgroups_rs::hierarchies::V1::new),
        }
    }

    /// A rootless daemon's manager, making the containers' cgroups at
    /// `<own>/<parent>/<id>` in each delegated directory.
    pub fn delegated(parent: String, delegation: Delegation) -> Manager {
        let layout = match delegation {
            Delegation::V1(_) => Layout::V1,
            Delegation::V2(..) => Layout::V2,
        };
        Manager {
            layout,
            parent,
            delegation: Some(delegation),
            v1: None,
        }
    }

    fn hierarchy(&self) -> Box<dyn Hierarchy> {
        match (&self.delegation, &self.v1) {
            (Some(d), _) => d.hierarchy(),
            (None, Some(v1)) => Box::new(v1.clone()),
            (None, None) => hierarchy(self.layout),
        }
    }

    fn load(&self, path: &str) -> Cgroup {
        load(self.layout, self.hierarchy(), path)
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The containers' cgroups of container `id`, made afresh (a
    /// leftover of the same name is removed first) with `limits` applied.
    pub fn create(&self, id: &str, limits: &Limits) -> Result<ContainerCgroups, Error> {
        let path = self.fresh_path(id)?;
        let cgroup = Cgroup::new_with_specified_controllers(self.hierarchy(), &path, controllers(self.layout))
            .map_err(|source| Error::Cgroup {
                path: path.clone(),
                source,
            })?;
        // From here on, dropping it removes the directories.
        let cgroups = ContainerCgroups { cgroup, armed: true };
        cgroups.apply(limits)?;
        Ok(cgroups)
    }

    /// The relative path of container `id`'s cgroups, checked to be one
    /// plain name and cleared of a stale cgroup of the same id (killing
    /// what is left in it), so that the caller can make it anew.
    fn fresh_path(&self, id: &str) -> Result<String, Error> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::BadId(id.to_string()));
        }
        let path = relative_path(&self.parent, id);
        let stale = self.load(&path);
        if stale.exists() {
            let _ = stale.kill();
            let _ = stale.delete();
        }
        Ok(path)
    }

    /// Whether a spare's cgroups can become a container's by a rename
    /// ([`Manager::adopt`]): v1 alone renames directories.
    pub fn can_adopt(&self) -> bool {
        self.layout == Layout::V1
    }

    /// Makes a spare's cgroups (`create`d without limits, a process of the
    /// daemon's waiting in them) into container `id`'s, with `limits`
    /// applied: each directory renamed, so that the waiting process is in
    /// the container's cgroups without a move (see
    /// [`super::cgroup::Manager::adopt`]). On an error nothing is renamed.
    pub fn adopt(&self, mut spare: ContainerCgroups, id: &str, limits: &Limits) -> Result<ContainerCgroups, Error> {
        let path = self.fresh_path(id)?;
        let mut renamed: Vec<(PathBuf, PathBuf)> = Vec::new();
        for from in spare.dirs() {
            let to = from.with_file_name(id);
            if let Err(source) = std::fs::rename(&from, &to) {
                for (back, done) in renamed.iter().rev() {
                    let _ = std::fs::rename(done, back);
                }
                return Err(Error::Rename { from, to, source });
            }
            renamed.push((from, to));
        }
        // The spare's handle names the old paths: it must not remove them.
        spare.armed = false;
        let cgroups = ContainerCgroups {
            cgroup: self.load(&path),
            armed: true,
        };
        cgroups.apply(limits)?;
        Ok(cgroups)
    }

    /// Removes every container cgroup under this store's parent (killing
    /// what is left in them), in each hierarchy. Run at daemon start.
    pub fn sweep(&self) {
        let roots: Vec<PathBuf> = match (&self.delegation, self.layout) {
            (Some(d), _) => d.dirs(),
            (None, Layout::V2) => vec![hierarchy(self.layout).root()],
            (None, Layout::V1) => {
                let v1 = cgroups_rs::hierarchies::V1::new();
                v1.subsystems()
                    .iter()
                    .filter(|s| CONTROLLERS.contains(&s.controller_name().as_str()))
                    .map(|s| s.to_controller().path().to_path_buf())
                    .collect()
            }
        };
        for root in roots {
            let Ok(entries) = std::fs::read_dir(root.join(&self.parent)) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let id = entry.file_name().to_string_lossy().into_owned();
                let path = relative_path(&self.parent, &id);
                let cg = self.load(&path);
                let _ = cg.kill();
                if let Err(e) = cg.delete() {
                    tracing::warn!("removing the stale cgroup {path}: {e}");
                }
            }
        }
    }
}

/// A container's resource cgroups; dropping it removes them (killing
/// anything still in them: the container is over).
#[derive(Debug)]
pub struct ContainerCgroups {
    cgroup: Cgroup,
    /// Whether dropping it removes the directories (not once renamed).
    armed: bool,
}

impl ContainerCgroups {
    /// The directories a container's process joins.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .cgroup
            .subsystems()
            .iter()
            .map(|s| s.to_controller().path().to_path_buf())
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    fn controller<T>(&self, name: &'static str) -> Result<&T, Error>
    where
        T: Controller + cgroups_rs::ControllIdentifier,
        for<'a> &'a T: From<&'a cgroups_rs::Subsystem>,
    {
        self.cgroup.controller_of::<T>().ok_or(Error::NoController(name))
    }

    /// Writes the limits; unset ones are left alone (a new cgroup's
    /// defaults: unlimited). Used at start and by `update`.
    pub fn apply(&self, limits: &Limits) -> Result<(), Error> {
        let set = |what: &'static str| move |source| Error::Set { what, source };
        if limits.memory != 0 || limits.memory_swap != 0 || limits.memory_reservation != 0 {
            let mem: &MemController = self.controller("memory")?;
            if limits.memory_reservation > 0 {
                mem.set_soft_limit(limits.memory_reservation)
                    .map_err(set("memory reservation"))?;
            }
            if limits.memory > 0 {
                // The swap limit must stay at or above the memory limit:
                // when raising the memory past the current swap limit, the
                // swap limit goes first.
                if mem.set_limit(limits.memory).is_err() {
                    mem.set_memswap_limit(limits.memory_swap).map_err(set("memory swap"))?;
                    mem.set_limit(limits.memory).map_err(set("memory"))?;
                }
            }
            if limits.memory_swap != 0 && !self.cgroup.v2() {
                mem.set_memswap_limit(limits.memory_swap).map_err(set("memory swap"))?;
            } else if limits.memory_swap != 0 {
                mem.set_memswap_limit(v2_swap(limits)).map_err(set("memory swap"))?;
            }
        }
        if limits.cpu_shares > 0 || limits.cpu_quota != 0 {
            let cpu: &CpuController = self.controller("cpu")?;
            if limits.cpu_shares > 0 {
                cpu.set_shares(limits.cpu_shares).map_err(set("cpu shares"))?;
            }
            if limits.cpu_quota != 0 {
                let period = (limits.cpu_period > 0).then_some(limits.cpu_period);
                cpu.set_cfs_quota_and_period(Some(limits.cpu_quota), period)
                    .map_err(set("cpu quota"))?;
            }
        }
        if !limits.cpuset_cpus.is_empty() || !limits.cpuset_mems.is_empty() {
            let cpuset: &CpuSetController = self.controller("cpuset")?;
            if !limits.cpuset_cpus.is_empty() {
                cpuset.set_cpus(&limits.cpuset_cpus).map_err(set("cpuset cpus"))?;
            }
            if !limits.cpuset_mems.is_empty() {
                cpuset.set_mems(&limits.cpuset_mems).map_err(set("cpuset mems"))?;
            }
        }
        if limits.pids_limit != 0 {
            let pids: &PidController = self.controller("pids")?;
            let max = if limits.pids_limit > 0 {
                MaxValue::Value(limits.pids_limit)
            } else {
                MaxValue::Max
            };
            pids.set_pid_max(max).map_err(set("pids limit"))?;
        }
        Ok(())
    }

    /// How many processes the memory limit's OOM killer killed (v1
    /// `memory.oom_control`, v2 `memory.events`): read when the
    /// container's process has ended, before the cgroup goes.
    pub fn oom_kills(&self) -> u64 {
        if self.cgroup.v2() {
            let Ok(mem) = self.controller::<MemController>("memory") else {
                return 0;
            };
            let events = std::fs::read_to_string(mem.path().join("memory.events")).unwrap_or_default();
            return parse_oom_kill(&events);
        }
        // The one file, not `memory_stat()`'s dozen: this is read on every
        // container's exit.
        match self.controller::<MemController>("memory") {
            Ok(mem) => {
                parse_oom_kill(&std::fs::read_to_string(mem.path().join("memory.oom_control")).unwrap_or_default())
            }
            Err(_) => 0,
        }
    }

    /// Freezes every process of the container (v1 `freezer.state`, v2
    /// `cgroup.freeze`) and waits for the kernel to say it is frozen.
    pub fn freeze(&self) -> Result<(), Error> {
        let freezer: &FreezerController = self.controller("freezer")?;
        freezer.freeze().map_err(|source| Error::Set {
            what: "freezer",
            source,
        })
    }

    pub fn thaw(&self) -> Result<(), Error> {
        let freezer: &FreezerController = self.controller("freezer")?;
        freezer.thaw().map_err(|source| Error::Set {
            what: "freezer",
            source,
        })
    }
}

/// v2's `memory.swap.max` is swap alone, where Docker's `MemorySwap` (and
/// v1's `memory.memsw.limit_in_bytes`) is memory plus swap; -1 unlimited.
fn v2_swap(limits: &Limits) -> i64 {
    match limits.memory_swap {
        -1 => -1,
        total => (total - limits.memory).max(0),
    }
}

/// The `oom_kill` count of a v2 `memory.events`.
/// The `oom_kill N` line of v1 `memory.oom_control` or v2 `memory.events`.
fn parse_oom_kill(events: &str) -> u64 {
    events
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

impl Drop for ContainerCgroups {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = self.cgroup.kill();
        // A process that has just exited may keep a cgroup busy a moment.
        for attempt in 0..20 {
            match self.cgroup.delete() {
                Ok(()) => return,
                Err(e) if attempt == 19 => tracing::warn!("removing the cgroup {}: {e}", self.cgroup.path()),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10 << attempt.min(3))),
            }
        }
    }
}

/// Whether `dir` is a cgroup2 directory whose `cgroup.subtree_control`
/// enables `controllers` (a delegated subtree a rootless daemon can use).
pub fn delegated(dir: &Path, controllers: &[&str]) -> bool {
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    controllers.iter().all(|c| enabled.split_whitespace().any(|e| e == *c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_oom_kills_parse() {
        let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(events), 1);
        assert_eq!(parse_oom_kill(""), 0);
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_oom_kill(v1), 3);
    }

    #[test]
    fn v2_takes_every_controller_and_v1_its_own() {
        assert_eq!(controllers(Layout::V2), None);
        let v1 = controllers(Layout::V1).unwrap();
        assert!(v1.iter().any(|c| c == "freezer") && !v1.iter().any(|c| c == "devices"));
        let cg = load(Layout::V2, hierarchy(Layout::V2), "strata-test/abc");
        assert!(cg.v2());
    }

    #[test]
    fn v2_swap_is_swap_alone() {
        let l = |memory, memory_swap| Limits {
            memory,
            memory_swap,
            ..Limits::default()
        };
        assert_eq!(v2_swap(&l(64 << 20, 128 << 20)), 64 << 20);
        assert_eq!(v2_swap(&l(64 << 20, 64 << 20)), 0);
        assert_eq!(v2_swap(&l(64 << 20, -1)), -1);
    }

    #[test]
    fn limits_know_when_unset() {
        assert!(!Limits::default().any());
        let l = Limits {
            pids_limit: 10,
            ..Limits::default()
        };
        assert!(l.any());
        assert_eq!(relative_path("strata-0123", "abc"), "strata-0123/abc");
    }

    #[test]
    fn delegation_needs_every_controller() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.subtree_control"), "cpu memory pids\n").unwrap();
        assert!(delegated(dir.path(), &["memory", "pids"]));
        assert!(!delegated(dir.path(), &["memory", "cpuset"]));
        assert!(!delegated(Path::new("/nonexistent"), &["memory"]));
    }
}
