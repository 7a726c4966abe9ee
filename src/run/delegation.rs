//! A rootless daemon's delegated cgroups: the cgroups the daemon itself is
//! in (`/proc/self/cgroup`), where its user may make children and move
//! processes into them, and where its containers' resource cgroups then
//! go (`<own>/strata-<hash>/<id>`, see [`super::resources::Manager`]).
//!
//! - cgroup v1 (and hybrid) hosts: each hierarchy the containers' cgroups
//!   use ([`super::resources::CONTROLLERS`], those mounted) must hold the
//!   daemon in a directory its user can write, with a writable
//!   `cgroup.procs` — what root sets up by chowning the directory and its
//!   files to the user (LXC's `pam_cgfs`). The kernel then lets the user
//!   make children (their files owned by the maker) and move processes of
//!   the same user into them; the containers' init moves itself, which v1
//!   allows when its euid is the owner's.
//! - a pure cgroup v2 host: the daemon's own cgroup must be writable and
//!   already enable the controllers it needs in `cgroup.subtree_control`
//!   (see [`V2_NEEDED`]). Since v2 forbids processes in a cgroup whose
//!   subtree has controllers enabled (but the root of a cgroup namespace),
//!   that holds when the daemon runs at the root of a cgroup namespace; the
//!   daemon does not move itself into a leaf to make it hold (crun's and
//!   podman's way), which this project cannot test yet.
//!
//! Discovery is a pure function of the texts of `/proc/self/cgroup` and
//! `/proc/self/mountinfo` and a writability check, so it is unit-tested
//! with fake ones.

use super::cgroup::unescape;
use super::resources::{CONTROLLERS, Layout};
use cgroups_rs::cgroup::Cgroup;
use cgroups_rs::{Hierarchy, Subsystem};
use std::path::{Path, PathBuf};

/// The v2 controllers a delegated subtree must enable: those the limits
/// write (`cpuset` and `io` are used when enabled, not required).
pub const V2_NEEDED: &[&str] = &["cpu", "memory", "pids"];

/// Where a rootless daemon may make its containers' cgroups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delegation {
    /// Each v1 controller of [`CONTROLLERS`] mounted here, with the
    /// daemon's own (writable) directory in its hierarchy.
    V1(Vec<(String, PathBuf)>),
    /// The daemon's own directory of the unified hierarchy, and the
    /// controllers its `cgroup.subtree_control` enables.
    V2(PathBuf, Vec<String>),
}

/// Why there is no usable delegation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotDelegated {
    /// v1: the hierarchies whose own directory the daemon cannot write.
    #[error("cannot write its cgroup in the {} hierarchies", .0.join(", "))]
    Hierarchies(Vec<String>),
    /// v2: the own directory, and why it is not usable.
    #[error("cannot use its cgroup {}: {why}", .0.display(), why = .1)]
    V2(PathBuf, String),
    #[error("{0}")]
    Unknown(String),
}

/// One cgroup filesystem of a mount table.
#[derive(Debug, PartialEq, Eq)]
struct CgroupMount {
    mountpoint: PathBuf,
    /// The directory of the hierarchy mounted there (`/` usually).
    root: String,
    /// v1: the controllers it carries; v2: empty.
    controllers: Vec<String>,
    v2: bool,
}

fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        let mut head = head.split(' ');
        let (Some(root), Some(mountpoint)) = (head.nth(3), head.next()) else {
            continue;
        };
        let mut tail = tail.split(' ');
        let (fstype, super_opts) = (tail.next(), tail.nth(1).unwrap_or(""));
        let v2 = match fstype {
            Some("cgroup") => false,
            Some("cgroup2") => true,
            _ => continue,
        };
        mounts.push(CgroupMount {
            mountpoint: PathBuf::from(unescape(mountpoint)),
            root: unescape(root),
            controllers: if v2 {
                Vec::new()
            } else {
                super_opts.split(',').map(str::to_string).collect()
            },
            v2,
        });
    }
    mounts
}

/// The lines of `/proc/self/cgroup`: (controllers, path); v2's line has
/// no controllers (`0::/path`).
fn own_cgroups(proc_cgroup: &str) -> Vec<(Vec<String>, String)> {
    proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
            let list = list.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect();
            Some((list, path.to_string()))
        })
        .collect()
}

/// The directory of cgroup `path` (as `/proc/self/cgroup` names it) under
/// `mount`; a mount of a subtree (ROOT not `/`) strips that prefix.
fn dir_of(mount: &CgroupMount, path: &str) -> PathBuf {
    let rel = match path.strip_prefix(mount.root.trim_end_matches('/')) {
        Some(rest) if mount.root != "/" && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    mount.mountpoint.join(rel.trim_start_matches('/'))
}

/// Whether the daemon's user may make children of `dir` and move
/// processes into it: `dir` and its `cgroup.procs` writable.
pub fn writable(dir: &Path) -> bool {
    use rustix::fs::{Access, access};
    dir.is_dir() && access(dir, Access::WRITE_OK).is_ok() && access(dir.join("cgroup.procs"), Access::WRITE_OK).is_ok()
}

/// The delegation the daemon has on a host of `layout`, from the texts of
/// `/proc/self/cgroup` and `/proc/self/mountinfo`; `writable` checks a
/// directory (see [`writable`]).
pub fn discover(
    layout: Layout,
    proc_cgroup: &str,
    mountinfo: &str,
    writable: &dyn Fn(&Path) -> bool,
) -> Result<Delegation, NotDelegated> {
    let mounts = cgroup_mounts(mountinfo);
    let own = own_cgroups(proc_cgroup);
    match layout {
        Layout::V1 => {
            let mut dirs = Vec::new();
            let mut missing = Vec::new();
            for controller in CONTROLLERS {
                let has = |list: &[String]| list.iter().any(|c| c == controller);
                let Some(mount) = mounts.iter().find(|m| !m.v2 && has(&m.controllers)) else {
                    // Not mounted here: the containers do without it, as a
                    // root daemon's do.
                    continue;
                };
                let dir = own.iter().find(|(list, _)| has(list)).map(|(_, p)| dir_of(mount, p));
                match dir {
                    Some(dir) if writable(&dir) => dirs.push((controller.to_string(), dir)),
                    _ => missing.push(controller.to_string()),
                }
            }
            if !missing.is_empty() {
                return Err(NotDelegated::Hierarchies(missing));
            }
            if dirs.is_empty() {
                return Err(NotDelegated::Unknown("no cgroup v1 controller is mounted".into()));
            }
            Ok(Delegation::V1(dirs))
        }
        Layout::V2 => {
            let mount = mounts
                .iter()
                .find(|m| m.v2)
                .ok_or_else(|| NotDelegated::Unknown("no cgroup2 filesystem is mounted".into()))?;
            let (_, path) = own
                .iter()
                .find(|(list, _)| list.is_empty())
                .ok_or_else(|| NotDelegated::Unknown("/proc/self/cgroup has no cgroup2 line".into()))?;
            let dir = dir_of(mount, path);
            if !writable(&dir) {
                return Err(NotDelegated::V2(dir, "it is not writable".into()));
            }
            if !super::resources::delegated(&dir, V2_NEEDED) {
                return Err(NotDelegated::V2(
                    dir,
                    format!("its cgroup.subtree_control does not enable {}", V2_NEEDED.join(", ")),
                ));
            }
            let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
            Ok(Delegation::V2(
                dir,
                enabled.split_whitespace().map(str::to_string).collect(),
            ))
        }
    }
}

/// [`discover`] for this process.
pub fn discover_self(layout: Layout) -> Result<Delegation, NotDelegated> {
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| NotDelegated::Unknown(format!("reading {p}: {e}")));
    discover(
        layout,
        &read("/proc/self/cgroup")?,
        &read("/proc/self/mountinfo")?,
        &writable,
    )
}

impl Delegation {
    /// The delegated directories, each once (a v1 hierarchy carrying
    /// several controllers, `cpu,cpuacct`, is one directory).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = match self {
            Delegation::V1(list) => list.iter().map(|(_, d)| d.clone()).collect(),
            Delegation::V2(dir, _) => vec![dir.clone()],
        };
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// A `cgroups-rs` hierarchy whose roots are the delegated directories,
    /// so that a [`Cgroup`] of relative path `P` is `<own>/P` in each.
    pub fn hierarchy(&self) -> Box<dyn Hierarchy> {
        let (v2, roots) = match self {
            Delegation::V1(list) => (false, list.clone()),
            Delegation::V2(dir, enabled) => {
                // v2's freezer is core (`cgroup.freeze`), no controller.
                let names = enabled.iter().map(String::as_str).chain(["freezer"]);
                (true, names.map(|c| (c.to_string(), dir.clone())).collect())
            }
        };
        Box::new(Rooted { v2, roots })
    }
}

/// A hierarchy of the controllers named, each rooted at its directory.
#[derive(Clone, Debug)]
struct Rooted {
    v2: bool,
    roots: Vec<(String, PathBuf)>,
}

fn subsystem(controller: &str, root: PathBuf, v2: bool) -> Option<Subsystem> {
    use cgroups_rs::{blkio, cpu, cpuacct, cpuset, freezer, memory, pid};
    Some(match controller {
        "memory" => Subsystem::Mem(memory::MemController::new(root, v2)),
        "cpu" => Subsystem::Cpu(cpu::CpuController::new(root, v2)),
        "cpuacct" if !v2 => Subsystem::CpuAcct(cpuacct::CpuAcctController::new(root)),
        "cpuset" => Subsystem::CpuSet(cpuset::CpuSetController::new(root, v2)),
        "pids" => Subsystem::Pid(pid::PidController::new(root, v2)),
        "freezer" => Subsystem::Freezer(freezer::FreezerController::new(root, v2)),
        "blkio" if !v2 => Subsystem::BlkIo(blkio::BlkIoController::new(root, v2)),
        "io" if v2 => Subsystem::BlkIo(blkio::BlkIoController::new(root, v2)),
        _ => return None,
    })
}

impl Hierarchy for Rooted {
    fn subsystems(&self) -> Vec<Subsystem> {
        self.roots
            .iter()
            .filter_map(|(c, root)| subsystem(c, root.clone(), self.v2))
            .collect()
    }

    /// The first root: on v2 the only one (where `cgroups-rs` makes a v2
    /// cgroup's directories).
    fn root(&self) -> PathBuf {
        self.roots.first().map(|(_, r)| r.clone()).unwrap_or_default()
    }

    fn root_control_group(&self) -> Cgroup {
        Cgroup::load(Box::new(self.clone()), "")
    }

    fn parent_control_group(&self, path: &str) -> Cgroup {
        let parent = Path::new(path).parent().unwrap_or(Path::new(""));
        Cgroup::load(Box::new(self.clone()), parent)
    }

    fn v2(&self) -> bool {
        self.v2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake host: a mount table of v1 hierarchies under `base`, each
    /// with the daemon's cgroup `own` made; those in `readonly` lack the
    /// `cgroup.procs` that the fake writability check looks for.
    fn fake_v1(base: &Path, own: &str, readonly: &[&str]) -> (String, String) {
        let mut mountinfo = String::from("25 30 0:22 / /sys rw - sysfs sysfs rw\n");
        let mut proc_cgroup = String::new();
        let hierarchies = ["cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"];
        for (i, h) in hierarchies.iter().enumerate() {
            let mp = base.join(h);
            std::fs::create_dir_all(mp.join(own)).unwrap();
            if !readonly.iter().any(|r| h.split(',').any(|c| c == *r)) {
                std::fs::write(mp.join(own).join("cgroup.procs"), "").unwrap();
            }
            mountinfo += &format!("{} 30 0:{i} / {} rw - cgroup cgroup rw,{h}\n", 40 + i, mp.display());
            proc_cgroup += &format!("{}:{h}:/{own}\n", i + 1);
        }
        mountinfo += &format!("60 30 0:50 / {}/unified rw - cgroup2 cgroup2 rw\n", base.display());
        proc_cgroup += "0::/\n";
        (proc_cgroup, mountinfo)
    }

    fn procs_exist(dir: &Path) -> bool {
        dir.join("cgroup.procs").is_file()
    }

    #[test]
    fn v1_delegation_names_each_controllers_own_directory() {
        let base = tempfile::tempdir().unwrap();
        let (pc, mi) = fake_v1(base.path(), "deleg/x", &[]);
        let Delegation::V1(dirs) = discover(Layout::V1, &pc, &mi, &procs_exist).unwrap() else {
            panic!("not v1");
        };
        let names: Vec<&str> = dirs.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, CONTROLLERS);
        let cpuacct = dirs.iter().find(|(c, _)| c == "cpuacct").unwrap();
        assert_eq!(cpuacct.1, base.path().join("cpu,cpuacct/deleg/x"));
        assert!(!dirs.iter().any(|(c, _)| c == "devices"));
    }

    #[test]
    fn v1_refusal_names_the_hierarchies_not_delegated() {
        let base = tempfile::tempdir().unwrap();
        let (pc, mi) = fake_v1(base.path(), "deleg", &["memory", "pids"]);
        let e = discover(Layout::V1, &pc, &mi, &procs_exist).unwrap_err();
        assert_eq!(e, NotDelegated::Hierarchies(vec!["memory".into(), "pids".into()]));
        assert_eq!(e.to_string(), "cannot write its cgroup in the memory, pids hierarchies");
        // A controller not mounted at all is not asked for.
        let (pc, mi) = fake_v1(base.path(), "deleg", &[]);
        let mi: String = mi
            .lines()
            .filter(|l| !l.contains("rw,freezer"))
            .map(|l| format!("{l}\n"))
            .collect();
        let Delegation::V1(dirs) = discover(Layout::V1, &pc, &mi, &procs_exist).unwrap() else {
            panic!("not v1");
        };
        assert_eq!(dirs.len(), CONTROLLERS.len() - 1);
        assert!(!dirs.iter().any(|(c, _)| c == "freezer"));
        // Not in the hierarchy's cgroup /proc/self/cgroup names: missing.
        let pc = pc.replace(":memory:/deleg", ":memory:/elsewhere");
        let e = discover(Layout::V1, &pc, &mi, &procs_exist).unwrap_err();
        assert_eq!(e, NotDelegated::Hierarchies(vec!["memory".into()]));
        let e = discover(Layout::V1, "", "", &procs_exist).unwrap_err();
        assert!(matches!(e, NotDelegated::Unknown(_)), "{e:?}");
    }

    #[test]
    fn a_mounted_subtree_is_stripped_from_the_own_path() {
        let m = CgroupMount {
            mountpoint: PathBuf::from("/sys/fs/cgroup/memory"),
            root: "/lxc/c1".into(),
            controllers: vec!["memory".into()],
            v2: false,
        };
        assert_eq!(dir_of(&m, "/lxc/c1/strata"), Path::new("/sys/fs/cgroup/memory/strata"));
        assert_eq!(dir_of(&m, "/lxc/c1"), Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(dir_of(&m, "/other"), Path::new("/sys/fs/cgroup/memory/other"));
        let m = CgroupMount { root: "/".into(), ..m };
        assert_eq!(dir_of(&m, "/a/b"), Path::new("/sys/fs/cgroup/memory/a/b"));
        let parsed = cgroup_mounts("38 33 0:33 /lxc/c1 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].root, "/lxc/c1");
        assert_eq!(parsed[0].mountpoint, Path::new("/sys/fs/cgroup/memory"));
        assert!(!parsed[0].v2 && parsed[0].controllers.iter().any(|c| c == "memory"));
    }

    #[test]
    fn the_delegated_hierarchy_roots_each_controller_at_its_own_directory() {
        let d = Delegation::V1(vec![
            ("memory".into(), PathBuf::from("/cg/memory/deleg")),
            ("cpuacct".into(), PathBuf::from("/cg/cpu,cpuacct/deleg")),
            ("devices".into(), PathBuf::from("/cg/devices/deleg")),
        ]);
        let cg = Cgroup::load_with_specified_controllers(
            d.hierarchy(),
            "strata-0/abc",
            vec!["memory".into(), "cpuacct".into()],
        );
        let paths: Vec<PathBuf> = cg
            .subsystems()
            .iter()
            .map(|s| s.to_controller().path().to_path_buf())
            .collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/cg/memory/deleg/strata-0/abc"),
                PathBuf::from("/cg/cpu,cpuacct/deleg/strata-0/abc")
            ]
        );
        assert_eq!(d.dirs().len(), 3);
        let v2 = Delegation::V2(PathBuf::from("/cg/own"), vec!["memory".into(), "pids".into()]);
        let cg = Cgroup::load(v2.hierarchy(), "strata-0/abc");
        assert!(cg.v2());
        let names: Vec<String> = cg.subsystems().iter().map(|s| s.controller_name()).collect();
        assert_eq!(names, ["memory", "pids", "freezer"]);
        assert!(
            cg.subsystems()
                .iter()
                .all(|s| s.to_controller().path() == Path::new("/cg/own/strata-0/abc"))
        );
    }

    #[test]
    fn v2_delegation_needs_the_controllers_enabled_below_its_own_cgroup() {
        let base = tempfile::tempdir().unwrap();
        let own = base.path().join("user.slice/stratad.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.procs"), "").unwrap();
        let mi = format!("30 23 0:26 / {} rw - cgroup2 cgroup2 rw\n", base.path().display());
        let pc = "0::/user.slice/stratad.service\n";
        let e = discover(Layout::V2, pc, &mi, &procs_exist).unwrap_err();
        assert!(
            e.to_string().contains("does not enable cpu, memory, pids") && e.to_string().contains("stratad.service"),
            "{e}"
        );
        std::fs::write(own.join("cgroup.subtree_control"), "cpu io memory pids\n").unwrap();
        let d = discover(Layout::V2, pc, &mi, &procs_exist).unwrap();
        assert_eq!(
            d,
            Delegation::V2(
                own.clone(),
                vec!["cpu".into(), "io".into(), "memory".into(), "pids".into()]
            )
        );
        std::fs::remove_file(own.join("cgroup.procs")).unwrap();
        let e = discover(Layout::V2, pc, &mi, &procs_exist).unwrap_err();
        assert!(e.to_string().ends_with("it is not writable"), "{e}");
        assert!(discover(Layout::V2, "1:memory:/\n", &mi, &procs_exist).is_err());
    }
}
