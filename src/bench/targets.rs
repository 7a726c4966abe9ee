//! The filesystems measured and how each is mounted: stratafs (the one
//! beside the running binary, or on PATH), kernel overlayfs (`mount(2)`,
//! as root) and the fuse-overlayfs peers installed, all with the same
//! `lowerdir=`, `upperdir=` and `workdir=`. A [`Mount`] is unmounted when
//! it goes out of scope, whatever happened while it was up.

use super::Error;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The peers `--peers` knows (stratafs is always measured).
pub const PEER_NAMES: &[&str] = &["overlay", "fuse-overlayfs"];
/// The name of kernel overlayfs's column: the reference of every ratio.
pub const OVERLAY: &str = "overlay";
pub const STRATAFS: &str = "stratafs";

/// How long a FUSE server may take to mount, or to exit once unmounted.
const SERVER_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub enum Kind {
    Overlay,
    Stratafs(PathBuf),
    FuseOverlayfs(PathBuf),
}

/// One filesystem to measure.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its column: `overlay`, `stratafs`, `fuse-overlayfs-1`...
    pub id: String,
    /// What the report calls it: `fuse-overlayfs 1.x`.
    pub label: String,
    /// Its binary and version, for the report's header.
    pub version: String,
    pub kind: Kind,
}

/// A target that was asked for but is not measured, and why.
#[derive(Debug, Clone)]
pub struct NotMeasured {
    pub label: String,
    pub reason: String,
}

/// Stratafs, then the peers asked for (all of them by default) that can be
/// measured here; the others, with why not. An unknown peer is an error.
pub fn choose(peers: Option<&[String]>) -> Result<(Vec<Target>, Vec<NotMeasured>), Error> {
    let all: Vec<String> = PEER_NAMES.iter().map(|s| s.to_string()).collect();
    let peers = peers.unwrap_or(&all);
    let mut targets = vec![stratafs()?];
    let mut skipped = Vec::new();
    for peer in peers {
        let (name, path) = match peer.split_once('=') {
            Some((name, path)) => (name, Some(PathBuf::from(path))),
            None => (peer.as_str(), None),
        };
        match name {
            STRATAFS => {}
            OVERLAY | "overlayfs" | "kernel" if path.is_none() => match overlay() {
                Ok(t) => targets.push(t),
                Err(reason) => skipped.push(NotMeasured {
                    label: "kernel overlayfs".into(),
                    reason,
                }),
            },
            "fuse-overlayfs" => match fuse_overlayfs(path, &targets) {
                Ok(t) => targets.push(t),
                Err(reason) => skipped.push(NotMeasured {
                    label: "fuse-overlayfs".into(),
                    reason,
                }),
            },
            _ => {
                return Err(Error::Usage(format!(
                    "unknown peer {peer:?}: known peers are {} (fuse-overlayfs=PATH for a build elsewhere)",
                    PEER_NAMES.join(", ")
                )));
            }
        }
    }
    // Kernel overlayfs first: the reference column.
    targets.sort_by_key(|t| t.id != OVERLAY);
    Ok((targets, skipped))
}

/// The first executable `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn stratafs() -> Result<Target, Error> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("stratafs")));
    let exe = beside
        .filter(|p| is_executable(p))
        .or_else(|| on_path("stratafs"))
        .ok_or_else(|| Error::Usage("stratafs not found beside strata nor on PATH: install it with strata".into()))?;
    Ok(Target {
        id: STRATAFS.into(),
        label: STRATAFS.into(),
        version: format!("{} (strata {})", exe.display(), crate::VERSION),
        kind: Kind::Stratafs(exe),
    })
}

fn overlay() -> Result<Target, String> {
    if !crate::sys::is_root() {
        return Err("needs root (mount(2) of overlayfs; a rootless mount in a user namespace is not done here)".into());
    }
    // Whether the kernel has it (a module loads at the first mount) is
    // for the probe mount to find out.
    Ok(Target {
        id: OVERLAY.into(),
        label: "kernel overlayfs".into(),
        version: format!("kernel {}", crate::sys::kernel_release()),
        kind: Kind::Overlay,
    })
}

fn fuse_overlayfs(path: Option<PathBuf>, so_far: &[Target]) -> Result<Target, String> {
    let exe = match path {
        Some(p) if is_executable(&p) => p,
        Some(p) => return Err(format!("{} is not an executable file", p.display())),
        None => on_path("fuse-overlayfs").ok_or("not found on PATH (apt-get install fuse-overlayfs)")?,
    };
    let out = Command::new(&exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{} --version: {e}", exe.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let version =
        fuse_overlayfs_version(&text).ok_or_else(|| format!("{} --version says no version", exe.display()))?;
    let major = version.split('.').next().unwrap_or("0");
    let mut id = format!("fuse-overlayfs-{major}");
    if so_far.iter().any(|t| t.id == id) {
        id = format!("{id}-{}", so_far.len());
    }
    Ok(Target {
        label: format!("fuse-overlayfs {major}.x"),
        version: format!("{}: {version}", exe.display()),
        id,
        kind: Kind::FuseOverlayfs(exe),
    })
}

/// `fuse-overlayfs: version 1.13` (the line of the tool, not of fusermount
/// or libfuse) → `1.13`.
pub fn fuse_overlayfs_version(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| l.to_lowercase().contains("version"))
        .find(|l| !l.contains("fusermount") && !l.to_lowercase().contains("library"))
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|v| v.trim_end_matches(',').to_string())
}

/// Where a mount's layers are.
pub struct Layers<'a> {
    pub lowers: &'a [PathBuf],
    /// The same layers in the store's format, for stratafs (`--store-lowers`).
    pub store_lowers: Option<&'a [PathBuf]>,
    pub upper: &'a Path,
    pub work: &'a Path,
}

/// A mounted target; unmounted on drop.
pub struct Mount {
    pub mnt: PathBuf,
    server: Option<Child>,
    unmounted: bool,
}

impl Target {
    /// Mounts this target at `mnt`; `counts` names stratafs's
    /// `request_counts=` file (ignored by the others).
    pub fn mount(&self, layers: &Layers, mnt: &Path, counts: Option<&Path>, log: &Path) -> Result<Mount, Error> {
        for d in [layers.upper, layers.work, mnt] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let lowers = match (&self.kind, layers.store_lowers) {
            (Kind::Stratafs(_), Some(store)) => store,
            _ => layers.lowers,
        };
        let lowers: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        let mut opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            layers.upper.display(),
            layers.work.display()
        );
        let fail = |why: String| Error::Mount {
            target: self.label.clone(),
            why,
        };
        let server = match &self.kind {
            Kind::Overlay => {
                let data = std::ffi::CString::new(opts).map_err(|e| fail(e.to_string()))?;
                rustix::mount::mount(
                    "overlay",
                    mnt,
                    "overlay",
                    rustix::mount::MountFlags::empty(),
                    data.as_c_str(),
                )
                .map_err(|e| fail(format!("mount -t overlay: {e}")))?;
                None
            }
            Kind::Stratafs(exe) => {
                if let Some(counts) = counts {
                    opts.push_str(&format!(",request_counts={}", counts.display()));
                }
                Some(start_stratafs(exe, &opts, mnt, log).map_err(fail)?)
            }
            Kind::FuseOverlayfs(exe) => Some(start_fuse_server(exe, &opts, mnt, log).map_err(fail)?),
        };
        Ok(Mount {
            mnt: mnt.to_path_buf(),
            server,
            unmounted: false,
        })
    }
}

fn server_command(exe: &Path, opts: &str, mnt: &Path, log: &Path) -> Result<Command, String> {
    let log = std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(["-f", "-o", opts]).arg(mnt).stdin(Stdio::null()).stderr(log);
    // Its own process group: a Ctrl-C at the terminal reaches the bench,
    // which unmounts, and not the server under a mount still in use.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    Ok(cmd)
}

/// stratafs in the foreground, telling on stdout when the mount is up
/// (the protocol of its own daemon mode: "ready", or what went wrong).
fn start_stratafs(exe: &Path, opts: &str, mnt: &Path, log: &Path) -> Result<Child, String> {
    let mut cmd = server_command(exe, opts, mnt, log)?;
    cmd.env("STRATAFS_SERVING", "1").stdout(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(SERVER_WAIT).unwrap_or_default();
    match line.trim_end() {
        "ready" if mounted(mnt) => Ok(child),
        other => {
            stop(&mut child, mnt);
            let why = if other.is_empty() {
                log_tail(log)
            } else {
                other.to_string()
            };
            Err(format!("stratafs did not mount: {why}"))
        }
    }
}

/// A FUSE server in the foreground; up once its mount is in the mount table.
fn start_fuse_server(exe: &Path, opts: &str, mnt: &Path, log: &Path) -> Result<Child, String> {
    let mut child = server_command(exe, opts, mnt, log)?
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let deadline = Instant::now() + SERVER_WAIT;
    while !mounted(mnt) {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}) before mounting: {}", log_tail(log)));
        }
        if Instant::now() > deadline {
            stop(&mut child, mnt);
            return Err(format!("not mounted after {} s", SERVER_WAIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(child)
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

/// Unmounts `mnt` (if mounted) and makes sure its server is gone.
fn stop(child: &mut Child, mnt: &Path) {
    unmount(mnt);
    let deadline = Instant::now() + SERVER_WAIT;
    while !matches!(child.try_wait(), Ok(Some(_))) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Mount {
    /// The FUSE server's pid (for stratafs's request counts).
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    /// Unmounts and waits for the server to exit: stratafs has then
    /// written its final request counts.
    pub fn close(mut self) {
        self.close_now();
    }

    fn close_now(&mut self) {
        if self.unmounted {
            return;
        }
        self.unmounted = true;
        match self.server.as_mut() {
            Some(child) => stop(child, &self.mnt),
            None => unmount(&self.mnt),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.close_now();
    }
}

/// Unmounts `mnt`: plainly (retrying while busy), else detached. Without
/// root, a FUSE mount is the user's to unmount through `fusermount3 -u`.
pub fn unmount(mnt: &Path) {
    for _ in 0..20 {
        if !mounted(mnt) {
            return;
        }
        match rustix::mount::unmount(mnt, rustix::mount::UnmountFlags::empty()) {
            Ok(()) => return,
            Err(rustix::io::Errno::PERM) if fusermount(mnt, "-u") => return,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    if crate::sys::unmount_lazy(mnt).is_err() && !fusermount(mnt, "-uz") {
        eprintln!("strata bench: could not unmount {}", mnt.display());
    }
}

/// `fusermount3 FLAG mnt` (or `fusermount`); whether it worked.
fn fusermount(mnt: &Path, flag: &str) -> bool {
    ["fusermount3", "fusermount"].iter().any(|tool| {
        Command::new(tool)
            .arg(flag)
            .arg(mnt)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The mount points in this process's mount table, as written there
/// (`\040` for a space and so on, decoded).
pub fn mount_points() -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
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

pub fn mounted(mnt: &Path) -> bool {
    mount_points().iter().any(|p| p == mnt)
}

/// Unmounts whatever is mounted under `dir` (left by a run that was
/// killed), deepest first.
pub fn unmount_all_under(dir: &Path) {
    let mut points: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|p| p.starts_with(dir) && p != dir)
        .collect();
    points.sort();
    for p in points.iter().rev() {
        unmount(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_fuse_overlayfs_own_line() {
        let v1 = "fusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10\nFUSE library version 3.14.0\n";
        assert_eq!(fuse_overlayfs_version(v1).as_deref(), Some("1.10"));
        assert_eq!(
            fuse_overlayfs_version("fuse-overlayfs: version 2.0.1\n").as_deref(),
            Some("2.0.1")
        );
        assert_eq!(fuse_overlayfs_version("usage: fuse-overlayfs\n"), None);
    }

    #[test]
    fn mount_points_are_decoded() {
        assert_eq!(unescape("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
