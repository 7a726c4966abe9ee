//! What a test needs from the machine (root, FUSE, a tool, a user, the
//! busybox image): met, or not — then the test is skipped outside CI and
//! fails under CI.
//!
//! Every requirement is a function returning `Result<T, String>` (the
//! error says what is missing), unwrapped by [`require!`]. CI runs as root
//! with every package installed (`.ci/run` sets `CI`), so there a missing
//! requirement is a broken machine or a broken script, never a pass.

use super::which;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `require!(requirement)`: the value of a met requirement (`Ok(value)`);
/// for `Err(why)`, fails the test when `CI` is set, and otherwise prints
/// `SKIP: why` and returns from the test.
macro_rules! require {
    ($requirement:expr) => {
        match $requirement {
            Ok(met) => met,
            Err(why) => {
                crate::util::unmet(&why);
                return;
            }
        }
    };
}
pub(crate) use require;

/// Whether a missing requirement fails the test: `CI` set and not empty.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Reports a requirement that is not met: a panic under CI, a `SKIP:` line
/// otherwise. [`require!`] calls it and returns right after; a test calls it
/// alone for a part it skips. The panic names the test's line, not this one.
#[track_caller]
pub fn unmet(why: &str) {
    assert!(!in_ci(), "CI is set, so this test must run, but: {why}");
    eprintln!("SKIP: {why}");
}

/// Root (mounts, namespaces, chown, other users).
pub fn root() -> Result<(), String> {
    if rustix::process::geteuid().is_root() {
        Ok(())
    } else {
        Err("needs root".into())
    }
}

/// The FUSE device, as root: `/dev/fuse` must be the character device
/// 10:229 (not merely a file of that name) and open for reading and writing.
pub fn fuse() -> Result<(), String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    root().map_err(|_| "FUSE mount tests need root".to_string())?;
    let fuse = Path::new("/dev/fuse");
    let md = std::fs::metadata(fuse).map_err(|e| format!("/dev/fuse is missing: {e}"))?;
    let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
    if !md.file_type().is_char_device() || (major, minor) != (10, 229) {
        return Err(format!("/dev/fuse is not the FUSE device (device {major}:{minor})"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(fuse)
        .map_err(|e| format!("/dev/fuse cannot be opened: {e}"))?;
    Ok(())
}

/// The FUSE device for unprivileged mounts (through fusermount3): as
/// [`fuse`], then opened up to 0666 as distributions ship it (these
/// machines keep it at 0600). Every rootless test calls this itself rather
/// than rely on another test having done it first.
pub fn fuse_for_users() -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fuse()?;
    tools(&["fusermount3"])?;
    std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("opening up /dev/fuse: {e}"))
}

/// A program on `PATH`: its path.
pub fn tool(name: &str) -> Result<PathBuf, String> {
    which(name).ok_or_else(|| format!("{name} is not installed (scripts/deps.sh installs the tests' tools)"))
}

/// Every program of `names` on `PATH`.
pub fn tools(names: &[&str]) -> Result<(), String> {
    names.iter().try_for_each(|name| tool(name).map(drop))
}

/// The busybox image tar from scripts/busybox-image.sh, written under `dir`.
/// When the script fails, the error is its own: exit status and stderr.
pub fn busybox_tar(dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("busybox.tar");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/busybox-image.sh");
    let run = Command::new("bash")
        .arg(script)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run bash {script}: {e}"))?;
    if run.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "scripts/busybox-image.sh failed ({}): {}",
            run.status,
            String::from_utf8_lossy(&run.stderr).trim()
        ))
    }
}

/// A requirement of one part of a test: `Some(value)` when met; when not,
/// fails the test under CI, and otherwise prints `SKIP:` and gives `None`,
/// so that the rest of the test still runs.
#[track_caller]
pub fn part<T>(requirement: Result<T, String>) -> Option<T> {
    match requirement {
        Ok(met) => Some(met),
        Err(why) => {
            unmet(&format!("{why} (one part of the test)"));
            None
        }
    }
}

/// A Debian root filesystem tar (scripts/debian-image.sh: debootstrap's
/// minbase, from the Debian package registry), made once for the whole
/// test run and kept under the test target directory for later runs.
pub fn debian_tar() -> Result<PathBuf, String> {
    static MADE: std::sync::Mutex<Option<Result<PathBuf, String>>> = std::sync::Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(done) = made.as_ref() {
        return done.clone();
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian.tar");
    let result = if out.is_file() {
        Ok(out)
    } else {
        let partial = out.with_extension("tar.partial");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/debian-image.sh");
        match Command::new("bash").arg(script).arg("-o").arg(&partial).output() {
            Ok(run) if run.status.success() => std::fs::rename(&partial, &out)
                .map(|()| out)
                .map_err(|e| format!("keeping the Debian tar: {e}")),
            Ok(run) => Err(format!(
                "scripts/debian-image.sh failed ({}): {}",
                run.status,
                String::from_utf8_lossy(&run.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run bash {script}: {e}")),
        }
    };
    *made = Some(result.clone());
    result
}

const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// The tests that set enable_uring (the prototype's, stratafs's over
/// io_uring) take turns.
static SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The fuse module's enable_uring set while this lives, put back as it was
/// when dropped (also when the test fails).
pub struct UringSwitched {
    was: String,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Drop for UringSwitched {
    fn drop(&mut self) {
        let _ = std::fs::write(ENABLE_URING, self.was.trim());
    }
}

/// FUSE over io_uring switched on (`on`) or off: root may; the kernel needs
/// 6.14+ built with CONFIG_FUSE_IO_URING.
pub fn uring_switched(on: bool) -> Result<UringSwitched, String> {
    let turn = SWITCH.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let was = std::fs::read_to_string(ENABLE_URING).map_err(|e| {
        format!("{ENABLE_URING}: {e}: this kernel has no FUSE over io_uring (6.14+, CONFIG_FUSE_IO_URING)")
    })?;
    let guard = UringSwitched { was, _turn: turn };
    let want = if on { "Y" } else { "N" };
    std::fs::write(ENABLE_URING, want).map_err(|e| format!("cannot set {ENABLE_URING} to {want}: {e}"))?;
    match std::fs::read_to_string(ENABLE_URING) {
        Ok(now) if now.trim() == want => Ok(guard),
        now => Err(format!("{ENABLE_URING} did not stay {want}: {now:?}")),
    }
}
