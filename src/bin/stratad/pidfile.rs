//! `--pidfile`: a file holding the daemon's pid, as dockerd's
//! /var/run/docker.pid. Written (atomically: a temporary file renamed over
//! it) once the store's lock is held and the sockets are bound, so the pid
//! it names is a daemon that owns them; removed at a clean exit. A file left
//! by a daemon that was killed names a dead process and is replaced; one
//! naming a live stratad (another store, the same pid file) is refused, as
//! dockerd refuses.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use strata::wire::Host;

/// Beside the first Unix socket the daemon listens on (by default
/// /run/strata/stratad.pid as root, $XDG_RUNTIME_DIR/strata/stratad.pid
/// otherwise), so that daemons on sockets of their own keep pid files of
/// their own.
pub fn default_path(hosts: &[Host]) -> PathBuf {
    let socket = hosts
        .iter()
        .find_map(|h| match h {
            Host::Unix(path) => Some(path.clone()),
            Host::Tcp { .. } => None,
        })
        .unwrap_or_else(|| match Host::default_socket() {
            Host::Unix(path) => path,
            Host::Tcp { .. } => PathBuf::from("/run/strata/strata.sock"),
        });
    socket.parent().unwrap_or_else(|| Path::new("/")).join("stratad.pid")
}

pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

/// Refuses a pid file that names a running stratad: checked before the
/// daemon opens anything (its containers' restart policies included).
pub fn refuse_if_taken(path: &Path) -> anyhow::Result<()> {
    if let Some(other) = live_stratad(path, std::process::id()) {
        bail!(
            "pid file {} names a running stratad (pid {other}): ensure it is not running or delete the file",
            path.display()
        );
    }
    Ok(())
}

impl PidFile {
    pub fn write(path: &Path) -> anyhow::Result<PidFile> {
        let pid = std::process::id();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = dir.join(format!(".{name}.{pid}.tmp"));
        std::fs::write(&temporary, format!("{pid}\n"))
            .and_then(|()| std::fs::rename(&temporary, path))
            .with_context(|| format!("writing the pid file {}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
            pid,
        })
    }

    /// Removes the file if it still names this daemon.
    pub fn remove(self) {
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid in the file, when it is a running stratad other than this one.
fn live_stratad(path: &Path, own: u32) -> Option<u32> {
    let pid = read_pid(path).filter(|&p| p != own)?;
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (command.trim() == "stratad").then_some(pid)
}
