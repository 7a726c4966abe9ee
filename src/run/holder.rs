//! Rootless user-defined networks: one user namespace for all of the
//! daemon's containers on them (Podman's "pause" process), with the
//! networks' namespaces inside it.
//!
//! Without root, moving a veth end between a network's namespace and a
//! container's needs CAP_NET_ADMIN over both, so both must be owned by
//! one user namespace. The holder is a process (`HELPER __strata-hold
//! TAG`, which only waits) made by `unshare -r` with the same one-id map
//! as a container's own; each network is another such process that
//! `unshare --net` made inside it. A container on a user network joins
//! the holder's user namespace instead of making its own (the shim), and
//! [`super::bridge`]'s commands run with `nsenter --user` into it.
//!
//! The processes carry the store's tag on their command line: a daemon
//! that was killed leaves them, and the next one ends them
//! ([`sweep`]) before it makes new ones.

use super::bridge::Error;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The hidden subcommand of the helper that only waits.
pub const HOLD_ARG: &str = "__strata-hold";

/// The helper's `__strata-hold`: waits until it is killed.
pub fn hold_main() -> ! {
    loop {
        std::thread::park();
    }
}

fn spawn(cmd: &mut Command, what: &str) -> Result<Child, Error> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| Error::Io {
            what: what.to_string(),
            source,
        })
}

/// Waits (bounded) until `pid`'s namespace of `kind` differs from ours:
/// its `unshare` has run.
fn wait_unshared(pid: u32, kind: &str) -> Result<(), Error> {
    let ours = std::fs::read_link(format!("/proc/self/ns/{kind}")).ok();
    for _ in 0..500 {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
        let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if theirs.is_some() && theirs != ours && String::from_utf8_lossy(&args).contains(HOLD_ARG) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Err(Error::Failed {
        what: "making a namespace holder".into(),
        message: format!("process {pid} did not unshare its {kind} namespace"),
    })
}

/// The user namespace and the networks' namespaces of a rootless daemon.
pub struct Holder {
    helper: PathBuf,
    tag: String,
    user: Option<Child>,
    nets: HashMap<String, Child>,
}

impl Holder {
    pub fn new(helper: &Path, store: &Path) -> Holder {
        Holder {
            helper: helper.to_path_buf(),
            tag: format!("strata-store={}", store.display()),
            user: None,
            nets: HashMap::new(),
        }
    }

    /// The holder's pid, made at the first call.
    pub fn user_pid(&mut self) -> Result<u32, Error> {
        if let Some(c) = &mut self.user
            && c.try_wait().ok().flatten().is_none()
        {
            return Ok(c.id());
        }
        let child = spawn(
            Command::new("unshare")
                .arg("--map-root-user")
                .arg(&self.helper)
                .args([HOLD_ARG, &self.tag]),
            "starting the user namespace holder",
        )?;
        let pid = child.id();
        self.user = Some(child);
        wait_unshared(pid, "user")?;
        Ok(pid)
    }

    /// The user namespace's file.
    pub fn userns(&mut self) -> Result<PathBuf, Error> {
        Ok(PathBuf::from(format!("/proc/{}/ns/user", self.user_pid()?)))
    }

    /// The namespace of network `id` (made with its bridge if missing).
    pub fn ensure(&mut self, id: &str, gateway: Ipv4Addr, prefix_len: u8) -> Result<PathBuf, Error> {
        if let Some(c) = self.nets.get_mut(id)
            && c.try_wait().ok().flatten().is_none()
        {
            return Ok(PathBuf::from(format!("/proc/{}/ns/net", c.id())));
        }
        let userns = self.userns()?;
        let child = spawn(
            Command::new("nsenter")
                .arg(format!("--user={}", userns.display()))
                .args(["--preserve-credentials", "unshare", "--net"])
                .arg(&self.helper)
                .args([HOLD_ARG, &self.tag]),
            "starting a network's namespace",
        )?;
        let pid = child.id();
        self.nets.insert(id.to_string(), child);
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let made = wait_unshared(pid, "net")
            .and_then(|()| super::bridge::configure(&netns, Some(&userns), gateway, prefix_len));
        if let Err(e) = made {
            self.remove(id);
            return Err(e);
        }
        Ok(netns)
    }

    /// Ends network `id`'s namespace.
    pub fn remove(&mut self, id: &str) {
        if let Some(mut c) = self.nets.remove(id) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Ends everything (the daemon's shutdown).
    pub fn end(&mut self) {
        let ids: Vec<String> = self.nets.keys().cloned().collect();
        for id in ids {
            self.remove(&id);
        }
        if let Some(mut c) = self.user.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Ends the holders a killed daemon of this store left, and waits
    /// (bounded) until they are gone.
    pub fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut killed = Vec::new();
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let words: Vec<&[u8]> = args.split(|b| *b == 0).collect();
            let ours = words.contains(&HOLD_ARG.as_bytes()) && words.contains(&self.tag.as_bytes());
            if ours && let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                killed.push(pid);
            }
        }
        // A zombie's command line is empty: gone enough.
        let alive = |pid: &i32| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty());
        for _ in 0..1000 {
            if !killed.iter().any(alive) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.end();
    }
}
