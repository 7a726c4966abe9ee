//! The container's filesystem set-up as data: [`plan`] turns a spec into a
//! list of [`Step`]s, [`execute`] runs them through a [`Syscalls`]
//! implementation (the real one in `linux.rs`, a recording fake in tests).
//!
//! Paths in steps are container paths ("/dev/null"): the real implementation
//! resolves them beneath the new root (`RESOLVE_IN_ROOT`), so a symlink in
//! the image cannot steer a mount onto the host.

use super::{ContainerSpec, NetworkMode};
use rustix::mount::MountFlags;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// What a container path is, for the steps that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Other,
}

/// Where a mount comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A new filesystem instance; the name is only the mount's source label.
    Fresh(&'static str),
    /// A host path (a device node, a file the caller made, host `/sys`).
    Host(PathBuf),
    /// A path inside the new root (to bind something onto itself).
    Root(String),
}

/// One step of the set-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Every mount private, recursively: nothing propagates to the host.
    MakeMountsPrivate,
    /// Bind the root filesystem onto itself (pivot_root needs a mount).
    BindRootfs(PathBuf),
    /// `mkdir -p` inside the new root.
    MakeDir {
        path: String,
        mode: u32,
    },
    /// An empty file (and its parents) if the path does not exist.
    MakeFile {
        path: String,
    },
    Mount {
        source: Source,
        target: String,
        fstype: Option<&'static str>,
        flags: MountFlags,
        data: String,
    },
    /// Remount a mount read-only, keeping its other flags.
    RemountReadOnly {
        target: String,
    },
    /// A fresh read-only sysfs, or where that is refused (a user namespace
    /// that does not own the network namespace) a recursive bind of the
    /// host's `/sys`, remounted read-only.
    Sysfs {
        target: String,
    },
    /// A writable sysfs (a privileged container's), or the host's `/sys`
    /// bound recursively where a fresh one is refused.
    WritableSysfs {
        target: String,
    },
    Symlink {
        link: String,
        target: String,
    },
    /// Hide a path: `/dev/null` over a file, a read-only tmpfs over a
    /// directory; nothing if it does not exist.
    Mask {
        path: String,
    },
    /// Bind a path onto itself read-only; nothing if it does not exist.
    ReadOnly {
        path: String,
    },
    LoopbackUp,
    /// `pivot_root` into the new root and detach the old one.
    PivotRoot,
    SetHostname(String),
    /// `setdomainname`, only for a domain name given.
    SetDomainname(String),
}

/// A mount the user asked for, resolved by the engine: a host path (a bind
/// source or a volume's `_data`) or a fresh tmpfs, over `target` (an
/// absolute container path, resolved beneath the root like every step's).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserMount {
    pub kind: UserMountKind,
    pub target: String,
    pub readonly: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum UserMountKind {
    /// A recursive bind of a host path; `dir`: the source is a directory
    /// (the target is made as one, else as an empty file).
    Bind { source: PathBuf, dir: bool },
    /// A new tmpfs with these options (`size=…,mode=…`).
    Tmpfs { data: String },
}

/// The steps of the user's mounts, then the read-only root's remount.
fn user_mounts(spec: &ContainerSpec, steps: &mut Vec<Step>) {
    for m in &spec.mounts {
        match &m.kind {
            UserMountKind::Bind { source, dir: true } => {
                steps.push(dir(&m.target, 0o755));
                steps.push(mount(
                    Source::Host(source.clone()),
                    &m.target,
                    None,
                    MountFlags::BIND | MountFlags::REC,
                    "",
                ));
            }
            UserMountKind::Bind { source, dir: false } => {
                steps.push(Step::MakeFile { path: m.target.clone() });
                steps.push(mount(
                    Source::Host(source.clone()),
                    &m.target,
                    None,
                    MountFlags::BIND,
                    "",
                ));
            }
            UserMountKind::Tmpfs { data } => {
                steps.push(dir(&m.target, 0o755));
                let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
                steps.push(mount(Source::Fresh("tmpfs"), &m.target, Some("tmpfs"), flags, data));
            }
        }
        if m.readonly {
            steps.push(Step::RemountReadOnly {
                target: m.target.clone(),
            });
        }
    }
}

/// The system calls the steps need.
pub trait Syscalls {
    fn make_mounts_private(&mut self) -> io::Result<()>;
    fn bind_rootfs(&mut self, rootfs: &Path) -> io::Result<()>;
    /// What `path` (inside the new root, symlinks followed there) is; `None`
    /// if it does not exist.
    fn kind(&mut self, path: &str) -> io::Result<Option<Kind>>;
    /// One directory whose parent exists.
    fn mkdir(&mut self, path: &str, mode: u32) -> io::Result<()>;
    fn create_file(&mut self, path: &str) -> io::Result<()>;
    fn mount(
        &mut self,
        source: &Source,
        target: &str,
        fstype: Option<&str>,
        flags: MountFlags,
        data: &str,
    ) -> io::Result<()>;
    fn remount_read_only(&mut self, target: &str) -> io::Result<()>;
    fn symlink(&mut self, link: &str, target: &str) -> io::Result<()>;
    fn loopback_up(&mut self) -> io::Result<()>;
    fn pivot_root(&mut self) -> io::Result<()>;
    fn sethostname(&mut self, name: &str) -> io::Result<()>;
    fn setdomainname(&mut self, name: &str) -> io::Result<()>;
}

/// The host device nodes bound into the container's `/dev`.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Docker's masked paths.
pub const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READ_ONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

fn mount(source: Source, target: &str, fstype: Option<&'static str>, flags: MountFlags, data: &str) -> Step {
    Step::Mount {
        source,
        target: target.to_string(),
        fstype,
        flags,
        data: data.to_string(),
    }
}

fn dir(path: &str, mode: u32) -> Step {
    Step::MakeDir {
        path: path.to_string(),
        mode,
    }
}

/// The set-up of a new container. `rootless`: running as root of a user
/// namespace this process made (no `gid=5` for devpts, whose group is not
/// mapped).
pub fn plan(spec: &ContainerSpec, rootless: bool) -> Vec<Step> {
    let (nosuid, nodev, noexec) = (MountFlags::NOSUID, MountFlags::NODEV, MountFlags::NOEXEC);
    let mut steps = vec![
        Step::MakeMountsPrivate,
        Step::BindRootfs(spec.rootfs.clone()),
        dir("/proc", 0o755),
        mount(
            Source::Fresh("proc"),
            "/proc",
            Some("proc"),
            nosuid | nodev | noexec,
            "",
        ),
    ];
    steps.extend(dev_steps(rootless));
    let privileges = &spec.confinement.privileges;
    steps.extend(device_steps(privileges));
    steps.push(dir("/sys", 0o755));
    steps.push(if privileges.privileged {
        Step::WritableSysfs { target: "/sys".into() }
    } else {
        Step::Sysfs { target: "/sys".into() }
    });
    for (target, source) in &spec.etc_files {
        steps.push(Step::MakeFile { path: target.clone() });
        steps.push(mount(Source::Host(source.clone()), target, None, MountFlags::BIND, ""));
    }
    // A privileged container, as Docker's: nothing masked, `/proc/sys`
    // and the rest writable.
    if !privileges.privileged {
        for path in MASKED {
            steps.push(Step::Mask { path: path.to_string() });
        }
        for path in READ_ONLY {
            steps.push(Step::ReadOnly { path: path.to_string() });
        }
    }
    user_mounts(spec, &mut steps);
    if spec.network == NetworkMode::None {
        steps.push(Step::LoopbackUp);
    }
    if spec.readonly_root {
        // Last: every mount point above had to be made in the root first.
        steps.push(Step::RemountReadOnly { target: "/".into() });
    }
    steps.push(Step::PivotRoot);
    steps.push(Step::SetHostname(spec.hostname.clone()));
    if !spec.domainname.is_empty() {
        steps.push(Step::SetDomainname(spec.domainname.clone()));
    }
    steps
}

/// `/dev` as Docker makes it: a tmpfs with the safe devices bound from the
/// host, a private devpts, `/dev/shm` and the usual links.
fn dev_steps(rootless: bool) -> Vec<Step> {
    let (nosuid, nodev, noexec) = (MountFlags::NOSUID, MountFlags::NODEV, MountFlags::NOEXEC);
    let mut steps = vec![
        dir("/dev", 0o755),
        mount(
            Source::Fresh("tmpfs"),
            "/dev",
            Some("tmpfs"),
            nosuid | MountFlags::STRICTATIME,
            "mode=755,size=65536k",
        ),
    ];
    for dev in DEVICES {
        let path = format!("/dev/{dev}");
        steps.push(Step::MakeFile { path: path.clone() });
        steps.push(mount(
            Source::Host(PathBuf::from(&path)),
            &path,
            None,
            MountFlags::BIND,
            "",
        ));
    }
    let pts_data = if rootless {
        "newinstance,ptmxmode=0666,mode=0620".to_string()
    } else {
        "newinstance,ptmxmode=0666,mode=0620,gid=5".to_string()
    };
    steps.push(dir("/dev/pts", 0o755));
    steps.push(mount(
        Source::Fresh("devpts"),
        "/dev/pts",
        Some("devpts"),
        nosuid | noexec,
        &pts_data,
    ));
    steps.push(Step::Symlink {
        link: "/dev/ptmx".into(),
        target: "pts/ptmx".into(),
    });
    steps.push(dir("/dev/shm", 0o1777));
    steps.push(mount(
        Source::Fresh("shm"),
        "/dev/shm",
        Some("tmpfs"),
        nosuid | nodev | noexec,
        "mode=1777,size=65536k",
    ));
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/core", "/proc/kcore"),
    ] {
        steps.push(Step::Symlink {
            link: link.into(),
            target: target.into(),
        });
    }
    steps
}

/// The host's device nodes a privileged container gets in its `/dev`, as
/// runc's `HostDevices`: every character or block device under `/dev`,
/// but for those the container has its own of (`pts`, `shm`, `mqueue`),
/// `console` and the ones bound anyway ([`DEVICES`]).
pub fn host_devices() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            if t.is_dir() {
                if !matches!(
                    name.as_ref(),
                    "pts" | "shm" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev" | "fd"
                ) {
                    walk(&path, out);
                }
            } else if (t.is_char_device() || t.is_block_device()) && !matches!(name.as_ref(), "console" | "ptmx") {
                out.push(path.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out.retain(|p| !DEVICES.iter().any(|d| p.strip_prefix("/dev/") == Some(d)));
    out.sort();
    out
}

/// `--device` nodes and, privileged, the host's: each bound from the host
/// over an empty file (its parents made) in the container's `/dev` tmpfs.
fn device_steps(privileges: &super::Privileges) -> Vec<Step> {
    let mut pairs: Vec<(PathBuf, String)> = Vec::new();
    if privileges.privileged {
        pairs.extend(host_devices().into_iter().map(|p| (PathBuf::from(&p), p)));
    }
    for d in &privileges.devices {
        pairs.retain(|(_, c)| *c != d.container);
        pairs.push((d.host.clone(), d.container.clone()));
    }
    let mut steps = Vec::new();
    for (host, container) in pairs {
        steps.push(Step::MakeFile {
            path: container.clone(),
        });
        steps.push(mount(Source::Host(host), &container, None, MountFlags::BIND, ""));
    }
    steps
}

fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn mkdir_all(sys: &mut dyn Syscalls, path: &str, mode: u32) -> io::Result<()> {
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "`..` in a container path"));
        }
        prefix.push('/');
        prefix.push_str(part);
        match sys.kind(&prefix)? {
            Some(Kind::Dir) => {}
            Some(Kind::Other) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{prefix} is not a directory"),
                ));
            }
            None => match sys.mkdir(&prefix, mode) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                other => other?,
            },
        }
    }
    Ok(())
}

fn not_permitted(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(n) if n == rustix::io::Errno::PERM.raw_os_error() || n == rustix::io::Errno::ACCESS.raw_os_error())
}

/// Runs one step.
pub fn run_step(sys: &mut dyn Syscalls, step: &Step) -> io::Result<()> {
    match step {
        Step::MakeMountsPrivate => sys.make_mounts_private(),
        Step::BindRootfs(rootfs) => sys.bind_rootfs(rootfs),
        Step::MakeDir { path, mode } => mkdir_all(sys, path, *mode),
        Step::MakeFile { path } => {
            mkdir_all(sys, parent(path), 0o755)?;
            match sys.kind(path)? {
                None => sys.create_file(path),
                Some(Kind::Other) => Ok(()),
                Some(Kind::Dir) => Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{path} is a directory"),
                )),
            }
        }
        Step::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => sys.mount(source, target, *fstype, *flags, data),
        Step::RemountReadOnly { target } => sys.remount_read_only(target),
        Step::Sysfs { target } => {
            let flags = MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
            match sys.mount(&Source::Fresh("sysfs"), target, Some("sysfs"), flags, "") {
                Err(e) if not_permitted(&e) => {
                    let flags = MountFlags::BIND | MountFlags::REC;
                    sys.mount(&Source::Host(PathBuf::from("/sys")), target, None, flags, "")?;
                    sys.remount_read_only(target)
                }
                other => other,
            }
        }
        Step::WritableSysfs { target } => {
            let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
            match sys.mount(&Source::Fresh("sysfs"), target, Some("sysfs"), flags, "") {
                Err(e) if not_permitted(&e) => {
                    let flags = MountFlags::BIND | MountFlags::REC;
                    sys.mount(&Source::Host(PathBuf::from("/sys")), target, None, flags, "")
                }
                other => other,
            }
        }
        Step::Symlink { link, target } => sys.symlink(link, target),
        Step::Mask { path } => match sys.kind(path)? {
            None => Ok(()),
            Some(Kind::Dir) => sys.mount(&Source::Fresh("tmpfs"), path, Some("tmpfs"), MountFlags::RDONLY, ""),
            Some(Kind::Other) => {
                let null = Source::Host(PathBuf::from("/dev/null"));
                sys.mount(&null, path, None, MountFlags::BIND, "")
            }
        },
        Step::ReadOnly { path } => match sys.kind(path)? {
            None => Ok(()),
            Some(_) => {
                let flags = MountFlags::BIND | MountFlags::REC;
                sys.mount(&Source::Root(path.clone()), path, None, flags, "")?;
                sys.remount_read_only(path)
            }
        },
        Step::LoopbackUp => sys.loopback_up(),
        Step::PivotRoot => sys.pivot_root(),
        Step::SetHostname(name) => sys.sethostname(name),
        Step::SetDomainname(name) => sys.setdomainname(name),
    }
}

/// Runs every step in order; the error names the step that failed.
pub fn execute(sys: &mut dyn Syscalls, steps: &[Step]) -> Result<(), String> {
    for step in steps {
        run_step(sys, step).map_err(|e| format!("{}: {}", describe(step), super::lookup::errno_text(&e)))?;
    }
    Ok(())
}

/// A step in words, for error messages.
pub fn describe(step: &Step) -> String {
    match step {
        Step::MakeMountsPrivate => "making mounts private".into(),
        Step::BindRootfs(p) => format!("binding the root filesystem {}", p.display()),
        Step::MakeDir { path, .. } => format!("creating directory {path}"),
        Step::MakeFile { path } => format!("creating mount point {path}"),
        Step::Mount {
            source, target, fstype, ..
        } => match (source, fstype) {
            (Source::Host(p), _) => format!("bind-mounting {} on {target}", p.display()),
            (Source::Root(p), _) => format!("bind-mounting {p} on {target}"),
            (Source::Fresh(_), Some(t)) => format!("mounting {t} on {target}"),
            (Source::Fresh(s), None) => format!("mounting {s} on {target}"),
        },
        Step::RemountReadOnly { target } => format!("remounting {target} read-only"),
        Step::Sysfs { target } | Step::WritableSysfs { target } => format!("mounting sysfs on {target}"),
        Step::Symlink { link, target } => format!("creating symlink {link} -> {target}"),
        Step::Mask { path } => format!("masking {path}"),
        Step::ReadOnly { path } => format!("making {path} read-only"),
        Step::LoopbackUp => "bringing up the loopback interface".into(),
        Step::PivotRoot => "pivot_root".into(),
        Step::SetHostname(h) => format!("setting hostname {h:?}"),
        Step::SetDomainname(d) => format!("setting domain name {d:?}"),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
