//! A container as the engine holds it: its record, what it holds while
//! running (`Live`, `RunHandles`), the lock that serialises its lifecycle
//! operations, and the progress waiters watch.

use super::output::Output;
use super::record::Record;
use super::status::State;
use super::streams::Stdin;
use crate::run;
use crate::sys;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Where a container's lifecycle stands, for waiters: bumped on every exit
/// and on removal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub exits: u64,
    pub exit_code: i32,
    pub removed: bool,
}

pub struct Container {
    pub id: String,
    pub(super) dir: PathBuf,
    pub(super) live: Mutex<Live>,
    /// Serialises start, stop, kill-and-wait and removal.
    pub(super) ops: tokio::sync::Mutex<()>,
    pub(super) progress: watch::Sender<Progress>,
    pub output: Arc<Output>,
    /// Orders the record's writes (see [`Container::save_soon`]).
    pub(super) saves: Saves,
}

/// A container's record writes, numbered as they are asked for: one at a
/// time (they share a temporary file), and never an older record over a
/// newer one. Removal holds the lock while it renames the directory away,
/// so no write lands in a directory being deleted.
#[derive(Debug, Default)]
pub(super) struct Saves {
    asked: AtomicU64,
    /// The number of the record on disk.
    pub(super) written: Mutex<u64>,
}

/// Background record writes not yet done, across containers: the daemon
/// waits for them before it exits.
static SAVING: AtomicUsize = AtomicUsize::new(0);

/// Waits, at most `limit`, for the background record writes.
pub(super) fn wait_for_saves(limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while SAVING.load(Ordering::SeqCst) > 0 && start.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

pub(super) struct Live {
    pub(super) record: Record,
    pub(super) run: Option<RunHandles>,
    pub(super) removed: bool,
    /// A finished run's teardown still under way in the background (a
    /// `--rm` container's, see `exited`): the next start waits for it.
    pub(super) teardown: Option<std::thread::JoinHandle<()>>,
    /// Its root held for `strata mount` (see `user_mounts`).
    pub(super) user_mount: Option<super::user_mounts::HeldRoot>,
}

/// What a running container holds.
pub(super) struct RunHandles {
    pub(super) process: Arc<run::Running>,
    /// The union mount; dropping it unmounts.
    pub(super) mount: Option<crate::fs::fuse::BackgroundSession>,
    pub(super) stdin: Arc<Stdin>,
    pub(super) pty: Option<Arc<OwnedFd>>,
    /// What every exec'd process gets too.
    pub(super) confinement: run::Confinement,
    /// Removed (dropped) once the container's process has ended.
    pub(super) cgroup: Option<run::cgroup::Cgroup>,
    /// The resource cgroups (limits, stats, freezer); removed likewise.
    pub(super) resources: Option<run::resources::ContainerCgroups>,
}

/// Writes a container's record as `dir/container.json`: whole (through
/// `sys::write_atomic`) and readable by the daemon's user only (it holds
/// the environment the container was given).
pub(super) fn write_record(dir: &Path, record: &Record) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    sys::write_atomic(&dir.join("container.json"), &bytes, 0o600)
}

/// [`write_record`] into a directory not yet in place (a create's
/// staging directory): no temporary, no fsync.
pub(super) fn write_record_unsynced(dir: &Path, record: &Record) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("container.json"))?;
    f.write_all(&bytes)
}

impl Container {
    pub(super) fn new(dir: PathBuf, record: Record) -> Arc<Container> {
        let log = dir.join(format!("{}-json.log", record.id));
        Arc::new(Container {
            id: record.id.clone(),
            dir,
            output: Arc::new(Output::new(Some(&log))),
            live: Mutex::new(Live {
                record,
                run: None,
                removed: false,
                teardown: None,
                user_mount: None,
            }),
            ops: tokio::sync::Mutex::new(()),
            progress: watch::channel(Progress::default()).0,
            saves: Saves::default(),
        })
    }

    /// Waits for a finished run's teardown still under way in the
    /// background (see `Engine::exited`): its root's mount and cgroups have
    /// this container's paths. `true` when there was one.
    pub(super) fn finish_teardown(&self) -> bool {
        let handle = self.lock().teardown.take();
        match handle {
            Some(handle) => {
                let _ = handle.join();
                true
            }
            None => false,
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `record` (durable when this returns).
    pub(super) fn save(&self, record: &Record) -> io::Result<()> {
        let n = self.saves.asked.fetch_add(1, Ordering::SeqCst) + 1;
        self.write_numbered(n, record)
    }

    /// Writes the record of a `--rm` container's start or end in the
    /// background, off the caller's path (an fsync here costs about 2 ms,
    /// twice per run); any other container's at once. A crash may lose
    /// such a record without harm (a container recorded as running is
    /// marked exited at the next start; one recorded as created just shows
    /// so), and the write is as durable and whole as
    /// [`Container::save`]'s, a few milliseconds later.
    pub(super) fn save_soon(self: &Arc<Self>, record: Record) {
        if !record.host_config.auto_remove {
            // Only a `--rm` container's (its record goes with it at its
            // exit): anyone else's store is as the reply said once the
            // reply comes, for whoever looks at it next.
            if let Err(e) = self.save(&record) {
                tracing::warn!("container {}: saving its state: {e}", &self.id[..12]);
            }
            return;
        }
        let n = self.saves.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let c = self.clone();
        SAVING.fetch_add(1, Ordering::SeqCst);
        let write = move || {
            if let Err(e) = c.write_numbered(n, &record)
                && !c.lock().removed
            {
                tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
            }
            SAVING.fetch_sub(1, Ordering::SeqCst);
        };
        if let Err(e) = std::thread::Builder::new().name("save".into()).spawn(write) {
            SAVING.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("container {}: saving its state: {e}", &self.id[..12]);
        }
    }

    fn write_numbered(&self, n: u64, record: &Record) -> io::Result<()> {
        let mut written = self.saves.written.lock().unwrap_or_else(|p| p.into_inner());
        if *written > n {
            // A newer record is on disk already.
            return Ok(());
        }
        write_record(&self.dir, record)?;
        *written = n;
        Ok(())
    }

    pub fn record(&self) -> Record {
        self.lock().record.clone()
    }

    pub fn state(&self) -> State {
        self.lock().record.state.clone()
    }

    /// As the record's status says: set running with the run's handles and
    /// exited as they are dropped, under the same lock.
    pub fn is_running(&self) -> bool {
        self.lock().record.state.is_running()
    }

    pub fn pid(&self) -> Option<u32> {
        self.lock().run.as_ref().map(|r| r.process.pid())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }
}
