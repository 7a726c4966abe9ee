//! Containers' cgroups: one per container, under a parent named after the
//! daemon's store, made before the container starts and removed when its
//! process ends; today they carry the device rules ([`super::devices`]),
//! and resource limits can be set on the same directories later.
//!
//! Two mechanisms enforce the device rules, and nothing inside the
//! container can undo either (it has neither `CAP_SYS_ADMIN` nor the
//! cgroup filesystem, and its seccomp filter refuses `bpf` and `mount`):
//!
//! - the cgroup v1 `devices` controller, where it is mounted: the
//!   container's cgroup gets `devices.deny` "a" and then the allow list;
//! - a cgroup2 device program (`BPF_PROG_TYPE_CGROUP_DEVICE`), attached to
//!   the container's directory in the unified hierarchy, which the kernel
//!   enforces also in hybrid mode (beside v1 controllers).
//!
//! A container's processes join its cgroup before anything of the image
//! runs: the shim writes the init's pid, and every exec'd process's, into
//! `cgroup.procs` while that process sets up, and the process waits for it
//! before it gives up privileges or execs (see `helper.rs`).
//!
//! A rootless daemon writes no device cgroup, and needs none (its resource
//! cgroups, when it has a delegated cgroup, are [`super::delegation`]'s
//! business and carry no device rule): in the user
//! namespace its containers run in, the kernel refuses `mknod` of a device,
//! and every mount made there is `nodev` — the FUSE root, which
//! `fusermount3` mounts `nodev` for an unprivileged user, and the tmpfs'es,
//! which a user namespace's mounts always are — so no device node in the
//! image or made later can be opened; only the host's own `/dev/null`,
//! `/dev/zero`… bound in from the host work ([`DevicePolicy::Kernel`]). A
//! root daemon that can use neither mechanism refuses to start containers
//! ([`DevicePolicy::Unavailable`]): never unconfined in silence.

use super::devices::{self, DEFAULT_RULES};
use super::ebpf;
use sha2::Digest;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which mechanism enforces the device rules (`stratad --device-cgroup`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// The v1 `devices` controller when mounted, else a cgroup2 program.
    #[default]
    Auto,
    V1,
    V2,
}

impl std::str::FromStr for Choice {
    type Err = String;
    fn from_str(s: &str) -> Result<Choice, String> {
        match s {
            "auto" => Ok(Choice::Auto),
            "v1" => Ok(Choice::V1),
            "v2" => Ok(Choice::V2),
            other => Err(format!("unknown device cgroup mode {other:?}: use auto, v1 or v2")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unavailable(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("building the device program: {0}")]
    Program(#[from] ebpf::Error),
    #[error("loading the device program: {0}")]
    Load(io::Error),
    #[error("the device rules did not take: {} still lists {listed:?}", path.display())]
    NotEnforced { path: PathBuf, listed: String },
    #[error("invalid container id {0:?}")]
    BadId(String),
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Where the cgroup filesystems are mounted, from `/proc/self/mountinfo`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mounts {
    /// A cgroup v1 hierarchy with the `devices` controller.
    pub v1_devices: Option<PathBuf>,
    /// The unified (cgroup2) hierarchy.
    pub v2: Option<PathBuf>,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
pub(super) fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first v1 `devices` hierarchy and the first cgroup2 mount listed.
pub fn parse_mountinfo(mountinfo: &str) -> Mounts {
    let mut mounts = Mounts::default();
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mountpoint) = head.split(' ').nth(4) else {
            continue;
        };
        let mut tail = tail.split(' ');
        let (fstype, super_opts) = (tail.next(), tail.nth(1).unwrap_or(""));
        let path = PathBuf::from(unescape(mountpoint));
        match fstype {
            Some("cgroup") if super_opts.split(',').any(|o| o == "devices") => {
                mounts.v1_devices.get_or_insert(path);
            }
            Some("cgroup2") => {
                mounts.v2.get_or_insert(path);
            }
            _ => {}
        }
    }
    mounts
}

/// The name of a store's parent cgroup: `strata-` and 16 hex digits of
/// the sha256 of the store's canonical path, so that daemons on other
/// stores never meet this one's cgroups.
pub fn parent_name(store_root: &Path) -> String {
    let path = std::fs::canonicalize(store_root).unwrap_or_else(|_| store_root.to_path_buf());
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("strata-{hex}")
}

/// The enforcing hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    V1Devices,
    V2,
}

/// A root daemon's containers' cgroups.
#[derive(Debug)]
pub struct Manager {
    hierarchy: Hierarchy,
    parent: PathBuf,
    /// The cgroup2 device program, loaded once, attached to each container's
    /// directory.
    program: Option<OwnedFd>,
}

/// How the daemon keeps containers off the host's devices.
#[derive(Debug)]
pub enum DevicePolicy {
    /// Rootless: the kernel forbids device nodes in the containers' user
    /// namespace (see the module doc); no cgroup is made.
    Kernel,
    Cgroups(Manager),
    /// Root, but neither mechanism is available: containers are refused
    /// with this reason.
    Unavailable(String),
}

impl DevicePolicy {
    /// The policy for a daemon on `store_root`; with root, the mechanism
    /// `choice` names. An explicit `v1` or `v2` that cannot be used is an
    /// error (the daemon does not start); `auto` with neither available
    /// gives [`DevicePolicy::Unavailable`].
    pub fn new(choice: Choice, store_root: &Path) -> Result<DevicePolicy, Error> {
        if !crate::sys::is_root() {
            return Ok(DevicePolicy::Kernel);
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err("reading", Path::new("/proc/self/mountinfo")))?;
        let mounts = parse_mountinfo(&mountinfo);
        let name = parent_name(store_root);
        let v1 = || match &mounts.v1_devices {
            Some(root) => Manager::open(Hierarchy::V1Devices, root.join(&name)),
            None => Err(Error::Unavailable(
                "the cgroup v1 devices controller is not mounted".into(),
            )),
        };
        let v2 = || match &mounts.v2 {
            Some(root) => Manager::open(Hierarchy::V2, root.join(&name)),
            None => Err(Error::Unavailable("no cgroup2 filesystem is mounted".into())),
        };
        let manager = match choice {
            Choice::V1 => v1()?,
            Choice::V2 => v2()?,
            Choice::Auto => match v1().or_else(|e1| v2().map_err(|e2| (e1, e2))) {
                Ok(m) => m,
                Err((e1, e2)) => {
                    return Ok(DevicePolicy::Unavailable(format!(
                        "refusing to start containers without device rules: {e1}, and {e2}"
                    )));
                }
            },
        };
        Ok(DevicePolicy::Cgroups(manager))
    }

    /// A new cgroup for container `id`, with the device rules in force:
    /// Docker's defaults and `extra_rules` (`--device`, `--privileged`);
    /// `None` for a rootless daemon.
    pub fn create(&self, id: &str, extra_rules: &[devices::Rule]) -> Result<Option<Cgroup>, Error> {
        match self {
            DevicePolicy::Kernel => Ok(None),
            DevicePolicy::Cgroups(m) => m.create(id, extra_rules).map(Some),
            DevicePolicy::Unavailable(why) => Err(Error::Unavailable(why.clone())),
        }
    }

    pub fn manager(&self) -> Option<&Manager> {
        match self {
            DevicePolicy::Cgroups(m) => Some(m),
            _ => None,
        }
    }

    /// Whether a spare cgroup made now can become a container's by a
    /// rename ([`Manager::adopt`]): only cgroup v1 renames directories
    /// (cgroup2 refuses), and a rootless daemon makes none.
    pub fn can_adopt(&self) -> bool {
        match self {
            DevicePolicy::Kernel => true,
            DevicePolicy::Cgroups(m) => m.hierarchy == Hierarchy::V1Devices,
            DevicePolicy::Unavailable(_) => false,
        }
    }
}

impl Manager {
    fn open(hierarchy: Hierarchy, parent: PathBuf) -> Result<Manager, Error> {
        let program = match hierarchy {
            Hierarchy::V1Devices => None,
            Hierarchy::V2 => Some(load_program(&[])?),
        };
        std::fs::create_dir_all(&parent).map_err(io_err("creating", &parent))?;
        Ok(Manager {
            hierarchy,
            parent,
            program,
        })
    }

    pub fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    /// This store's parent cgroup.
    pub fn parent(&self) -> &Path {
        &self.parent
    }

    /// Removes every cgroup under this store's parent (killing what is
    /// left in them: containers of a daemon that died), and nothing else.
    /// Run at start, when none of this store's containers runs. The names
    /// of those it could not remove come back with why.
    pub fn sweep(&self) -> Vec<(String, io::Error)> {
        let mut failed = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.parent) else {
            return failed;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            tracing::info!("removing the stale cgroup {}", entry.path().display());
            if let Err(e) = remove(&entry.path()) {
                failed.push((name, e));
            }
        }
        failed
    }

    /// Removes the parent if it is empty (the daemon is stopping).
    pub fn remove_parent(&self) {
        let _ = std::fs::remove_dir(&self.parent);
    }

    /// Makes the spare's cgroup `spare` (Docker's default rules, which
    /// hold while only the daemon's own code runs in it) into container
    /// `id`'s with `extra_rules` too: a rename, so that a process already
    /// in it, waiting, is in the container's cgroup without the move a
    /// `cgroup.procs` write makes (on v1 an RCU grace period, 7-23 ms
    /// measured here). v1 alone renames; elsewhere this is an error.
    pub fn adopt(&self, mut spare: Cgroup, id: &str, extra_rules: &[devices::Rule]) -> Result<Cgroup, Error> {
        let dir = self.fresh_dir(id, false)?;
        std::fs::rename(&spare.dir, &dir).map_err(io_err("renaming the spare cgroup to", &dir))?;
        spare.dir = dir;
        if !extra_rules.is_empty() {
            write_v1_rules(&spare.dir, extra_rules)?;
        }
        Ok(spare)
    }

    /// `parent/id`, after removing a leftover of that name; made when
    /// `make`.
    fn fresh_dir(&self, id: &str, make: bool) -> Result<PathBuf, Error> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::BadId(id.to_string()));
        }
        std::fs::create_dir_all(&self.parent).map_err(io_err("creating", &self.parent))?;
        let dir = self.parent.join(id);
        if dir.exists() {
            // Left by a run whose removal failed: start afresh.
            remove(&dir).map_err(io_err("removing the old", &dir))?;
        }
        if make {
            std::fs::create_dir(&dir).map_err(io_err("creating", &dir))?;
        }
        Ok(dir)
    }

    fn create(&self, id: &str, extra_rules: &[devices::Rule]) -> Result<Cgroup, Error> {
        let dir = self.fresh_dir(id, true)?;
        // From here on, dropping it removes the directory.
        let cgroup = Cgroup { dir };
        // A container with rules of its own gets a program of its own (the
        // attachment keeps it loaded for as long as the directory lives).
        let own = match self.hierarchy {
            Hierarchy::V2 if !extra_rules.is_empty() => Some(load_program(extra_rules)?),
            _ => None,
        };
        match (own.as_ref().or(self.program.as_ref()), self.hierarchy) {
            (_, Hierarchy::V1Devices) => write_v1_rules(&cgroup.dir, extra_rules)?,
            (Some(program), Hierarchy::V2) => {
                let fd = std::fs::File::open(&cgroup.dir).map_err(io_err("opening", &cgroup.dir))?;
                crate::sys::bpf::attach_cgroup_device_program(fd.as_fd(), program.as_fd())
                    .map_err(io_err("attaching the device program to", &cgroup.dir))?;
            }
            (None, Hierarchy::V2) => return Err(Error::Unavailable("no device program loaded".into())),
        }
        Ok(cgroup)
    }
}

/// Docker's default rules followed by `extra`, as a loaded device program.
fn load_program(extra: &[devices::Rule]) -> Result<OwnedFd, Error> {
    let rules: Vec<devices::Rule> = DEFAULT_RULES.iter().chain(extra).copied().collect();
    let insns = ebpf::encode(&devices::program(&rules)?);
    crate::sys::bpf::load_cgroup_device_program(&insns, "strata_devices").map_err(Error::Load)
}

/// Denies everything, allows the rules (Docker's, then `extra`) one write
/// at a time (the kernel parses one rule per write), and checks that the
/// list took.
fn write_v1_rules(dir: &Path, extra: &[devices::Rule]) -> Result<(), Error> {
    let write_each = |file: &str, lines: &[String]| -> Result<(), Error> {
        let path = dir.join(file);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err("opening", &path))?;
        for line in lines {
            f.write_all(line.as_bytes()).map_err(io_err("writing", &path))?;
        }
        Ok(())
    };
    write_each("devices.deny", &["a".to_string()])?;
    let allow: Vec<String> = DEFAULT_RULES.iter().chain(extra).map(devices::Rule::v1_line).collect();
    write_each("devices.allow", &allow)?;
    let list_path = dir.join("devices.list");
    let listed = std::fs::read_to_string(&list_path).map_err(io_err("reading", &list_path))?;
    if listed.lines().any(|l| l.starts_with("a ")) {
        return Err(Error::NotEnforced {
            path: list_path,
            listed,
        });
    }
    Ok(())
}

/// Kills what is left in a cgroup: `cgroup.kill` where the kernel has it
/// (cgroup2, 5.14 and later), else each process it lists.
fn kill_members(dir: &Path) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Removes a cgroup directory, killing what is left in it. A process
/// that has just exited may keep it busy for a moment: retried, for at
/// most about two seconds.
fn remove(dir: &Path) -> io::Result<()> {
    let mut wait = Duration::from_millis(1);
    let mut waited = Duration::ZERO;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && waited < Duration::from_secs(2) => {
                kill_members(dir);
                std::thread::sleep(wait);
                waited += wait;
                wait = (wait * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A container's cgroup directory; dropping it removes the directory
/// (killing anything still in it: the container is over).
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(e) = remove(&self.dir) {
            tracing::warn!("removing the cgroup {}: {e}", self.dir.display());
        }
    }
}

/// The `cgroup.procs` files of a process's cgroups, opened while the
/// host's cgroup filesystem is in view: the shim opens them before it
/// spawns the init, which then pivots the mount namespace they share.
pub struct Joiner(Vec<(PathBuf, std::fs::File)>);

impl Joiner {
    /// Opens `cgroup.procs` in each of `dirs`.
    pub fn open(dirs: &[PathBuf]) -> io::Result<Joiner> {
        let mut files = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .map_err(|e| joining(dir, e))?;
            files.push((dir.clone(), file));
        }
        Ok(Joiner(files))
    }

    /// Moves the process `pid` (as the writer's pid namespace numbers it)
    /// into each cgroup. The shim moves the container's init and each
    /// exec'd process so, before either runs anything of the image.
    pub fn join(&self, pid: u32) -> io::Result<()> {
        use std::io::Write;
        let pid = pid.to_string();
        for (dir, file) in &self.0 {
            (&*file).write_all(pid.as_bytes()).map_err(|e| joining(dir, e))?;
        }
        Ok(())
    }
}

fn joining(dir: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("joining the cgroup {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_names_the_devices_hierarchy_and_cgroup2() {
        let info = "\
25 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
34 33 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
38 33 0:33 / /sys/fs/cgroup/devices rw,relatime shared:13 - cgroup cgroup rw,devices
39 33 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
40 33 0:35 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,devices
";
        let m = parse_mountinfo(info);
        assert_eq!(m.v1_devices.as_deref(), Some(Path::new("/sys/fs/cgroup/devices")));
        assert_eq!(m.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/unified")));
        let m = parse_mountinfo("40 33 0:35 / /a\\040b rw - cgroup2 none rw\n");
        assert_eq!(m.v2.as_deref(), Some(Path::new("/a b")));
        assert_eq!(parse_mountinfo("garbage\n- -\n"), Mounts::default());
    }

    #[test]
    fn parents_are_named_per_store() {
        let a = parent_name(Path::new("/nonexistent/store-a"));
        let b = parent_name(Path::new("/nonexistent/store-b"));
        assert_ne!(a, b);
        assert_eq!(a, parent_name(Path::new("/nonexistent/store-a")));
        assert!(a.starts_with("strata-") && a.len() == "strata-".len() + 16, "{a}");
    }

    #[test]
    fn choices_parse() {
        assert_eq!("auto".parse::<Choice>(), Ok(Choice::Auto));
        assert_eq!("v1".parse::<Choice>(), Ok(Choice::V1));
        assert_eq!("v2".parse::<Choice>(), Ok(Choice::V2));
        assert!("v3".parse::<Choice>().is_err());
    }
}
