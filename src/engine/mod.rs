//! Containers and their lifecycle: records in the store, the union mount
//! of each running container, its process (through `run`), its streams,
//! and execs, one file per lifecycle operation (`create`, `start`, `stop`,
//! `remove`, `exec`, `streams`, `commit`). The HTTP handlers in
//! `api::containers` are thin over this; the engine knows nothing of HTTP
//! (its errors are kinds, see [`Error`]). Images move in and out through
//! `pull` and `push` (over `registry`), reporting typed `progress` events.
//!
//! On disk, `containers/<id>/` holds `container.json` (the record, written
//! whole: temp, fsync, rename), `upper/` and `work/` (the writable layer:
//! never removed but by `rm`), `merged/` (the mountpoint while running),
//! the generated `hostname`, `hosts`, `resolv.conf`, and the json-file log.
//! A container is created in `containers/.new-<id>` and renamed into place,
//! and removed by renaming to `.gone-<id>` first, so a crash never leaves a
//! half-made or half-removed container behind: both prefixes are swept at
//! start. `mounts/<id>/merged` are the directories `strata mount` makes
//! (see `user_mounts`).

mod archive;
mod attach;
mod commit;
mod container;
mod create;
mod dns;
mod environment;
pub mod error;
pub mod events;
mod exec;
mod export;
pub mod filter;
mod links;
mod login;
mod mac;
pub mod mounts;
mod names;
pub mod networks;
pub mod output;
mod pause;
pub mod ports;
mod privileges;
pub mod progress;
mod prune;
pub mod pull;
pub mod push;
pub mod record;
mod remove;
mod rename;
mod resources;
mod restart;
mod security;
pub mod signal;
mod spare;
mod spare_network;
pub mod spec;
mod start;
pub mod stats;
pub mod status;
mod stop;
mod streams;
pub mod top;
mod update;
pub mod user_mounts;
pub mod volumes;

pub use crate::registry::{Credentials, RegistryConfig};
pub use archive::{CopyIn, PathStat};
pub use attach::{Member, NetworkView, is_user_mode as attach_mode_is_user};
pub use commit::CommitOptions;
pub use container::{Container, Progress};
pub use error::Error;
pub use exec::Exec;
pub use links::shown as links_shown;
pub use login::login;
pub use prune::{DiskUsage, ImageUsage};
pub use pull::{PieceReader, PullOutcome, PullRequest};
pub use push::{PushRequest, PushedTag};
pub use signal::Signal;
pub use streams::{Stdin, Streams, Wiring, connect_terminal, make_stdio};

use crate::layers::{Digest, Store};
use crate::run;
use crate::{sys, time};
use record::Record;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Exit code recorded for a container whose process died with the daemon
/// (what Docker shows after a daemon crash).
const LOST_EXIT_CODE: i32 = 255;

pub struct Engine {
    dir: PathBuf,
    helper: PathBuf,
    store: Arc<Store>,
    containers: Mutex<BTreeMap<String, Arc<Container>>>,
    execs: Mutex<HashMap<String, Arc<Exec>>>,
    /// How containers are kept off the host's devices.
    devices: run::cgroup::DevicePolicy,
    /// The restart policies' back-offs.
    restarts: restart::Restarts,
    /// Set by `shutdown`: exits then restart nothing.
    shutting_down: std::sync::atomic::AtomicBool,
    /// Named and anonymous volumes (`volumes/`).
    volumes: volumes::Volumes,
    /// The runtime's bind targets, every container's topmost lower
    /// ([`start::init_layer`]).
    init_layer: PathBuf,
    /// The spare shim the next start takes ([`spare`]).
    spares: spare::Spares,
    /// The spare network the next fitting bridge start takes ([`spare_network`]).
    spare_networks: spare_network::SpareNetworks,
    /// User-defined networks (`networks/`) and their leases.
    networks: networks::Networks,
    /// Rootless: the user namespace of the containers on user networks,
    /// and the networks' namespaces.
    holder: Mutex<run::holder::Holder>,
    /// What happened, for `/events`.
    events: events::Events,
    /// `strata mount`'s mounts of images.
    user_mounts: user_mounts::UserMounts,
}

fn random_id() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut bytes))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A new anonymous volume's name: 64 hex digits, as Docker's.
pub fn random_volume_name() -> Result<String, Error> {
    random_id().map_err(error::internal("making a volume name"))
}

/// A directory that exists and holds nothing (a missing or unreadable one
/// is not: it may hold something).
fn is_empty_dir(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

fn now_rfc3339() -> String {
    let (s, n) = time::now();
    time::format_rfc3339(s, n)
}

impl Engine {
    /// Loads every container of the store. Containers recorded as running
    /// died with the previous daemon: they are marked exited, and a mount
    /// their root may have left is detached, as is any cgroup of this
    /// store's.
    pub fn open(store: Arc<Store>, helper: PathBuf, devices: run::cgroup::DevicePolicy) -> io::Result<Engine> {
        let dir = store.root().join("containers");
        std::fs::create_dir_all(&dir)?;
        sys::make_private(&dir)?;
        // Compiled now rather than by the first container's start.
        if let Err(e) = run::seccomp::default_program() {
            tracing::error!("Docker's seccomp profile: {e}");
        }
        if let Some(m) = devices.manager() {
            tracing::info!(
                "containers' cgroups under {} ({:?})",
                m.parent().display(),
                m.hierarchy()
            );
            for (name, e) in m.sweep() {
                tracing::warn!("removing the stale cgroup {name}: {e}");
            }
        }
        let volumes = volumes::Volumes::open(store.root())?;
        let init_layer = start::init_layer(store.root())?;
        let networks = networks::Networks::open(store.root())?;
        let user_mounts = user_mounts::UserMounts::open(store.root())?;
        let holder = run::holder::Holder::new(&helper, store.root());
        if !sys::is_root() {
            // Those a killed daemon left.
            holder.sweep();
        }
        if sys::is_root() {
            // Each network's namespace and bridge: kept across a daemon's
            // restart (no container is on them now: their ends went with
            // the containers' namespaces), made again after a reboot.
            // (No sweep of the directory: other daemons' are there too.)
            for n in &networks.stored() {
                if let Some((base, len)) = n.cidr()
                    && let Err(e) = run::bridge::ensure(&n.id, n.gateway.parse().unwrap_or(base), len)
                {
                    tracing::error!("network {}: {e}", n.name);
                }
            }
        }
        resources::sweep(store.root());
        spare_network::sweep(store.root());
        let mut containers = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with('.') {
                // A create or a removal a crash interrupted.
                let _ = sys::unmount_lazy(&path.join("merged"));
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!("removing {}: {e}", path.display());
                }
                continue;
            }
            let record: Record = match std::fs::read(path.join("container.json"))
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(r) => r,
                Err(e) if is_empty_dir(&path.join("upper")) => {
                    // A `--rm` container's create whose unsynced record a
                    // power loss cut short (see `create`): nothing to keep.
                    tracing::warn!("container {name}: unreadable record over an empty writable layer, removed: {e}");
                    let _ = sys::unmount_lazy(&path.join("merged"));
                    if let Err(e) = std::fs::remove_dir_all(&path) {
                        tracing::warn!("removing {}: {e}", path.display());
                    }
                    continue;
                }
                Err(e) => {
                    // Kept on disk (the writable layer is never thrown away), but not served.
                    tracing::error!("container {name}: unreadable record, skipped: {e}");
                    continue;
                }
            };
            let _ = sys::unmount_lazy(&path.join("merged"));
            // Made by an older version with the umask's modes.
            for p in [
                path.clone(),
                path.join("container.json"),
                path.join(format!("{name}-json.log")),
            ] {
                match sys::make_private(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            // A pasta and a namespace file left by a daemon that was killed.
            run::network::cleanup(&path);
            let c = Container::new(path, record);
            {
                let mut live = c.lock();
                if live.record.state.is_restarting() {
                    // Its back-off died with the daemon: the last exit stands
                    // (and its policy may start it again, see `restart`).
                    let _ = live.record.state.cancel_restart();
                    if let Err(e) = c.save(&live.record) {
                        tracing::warn!("container {name}: saving its state: {e}");
                    }
                }
                if live.record.state.is_running() {
                    tracing::info!(
                        "container {} died with the previous daemon",
                        &name[..12.min(name.len())]
                    );
                    let exit = live.record.state.exit(LOST_EXIT_CODE, now_rfc3339());
                    debug_assert!(exit.is_ok(), "a running state exits");
                    if let Err(e) = c.save(&live.record) {
                        tracing::warn!("container {name}: saving its state: {e}");
                    }
                }
            }
            containers.insert(c.id.clone(), c);
        }
        Ok(Engine {
            dir,
            helper,
            store,
            containers: Mutex::new(containers),
            execs: Mutex::new(HashMap::new()),
            devices,
            restarts: restart::Restarts::default(),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            volumes,
            init_layer,
            spares: Default::default(),
            spare_networks: Default::default(),
            networks,
            holder: Mutex::new(holder),
            events: events::Events::default(),
            user_mounts,
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Container>>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.map().values().cloned().collect()
    }

    /// By name (with or without `/`), full ID, or unique ID prefix.
    pub fn get(&self, name: &str) -> Result<Arc<Container>, Error> {
        let not_found = || Error::not_found(format!("No such container: {}", crate::quote::excerpt(name, 128)));
        let map = self.map();
        let bare = name.strip_prefix('/').unwrap_or(name);
        if let Some(c) = map.values().find(|c| c.lock().record.name == bare) {
            return Ok(c.clone());
        }
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let mut found = map.range(name.to_string()..).take_while(|(k, _)| k.starts_with(name));
        match (found.next(), found.next()) {
            (Some((_, c)), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(Error::invalid(format!(
                "multiple IDs found with provided prefix: {name}"
            ))),
            _ => Err(not_found()),
        }
    }

    /// What keeps an image from being deleted: a container standing on
    /// it, or else a user mount of it.
    pub fn image_holder(&self, image: &Digest) -> Option<crate::layers::ImageUser> {
        self.container_on(image).or_else(|| {
            self.image_mounted_at(image).map(|dir| crate::layers::ImageUser::Mount {
                dir: dir.display().to_string(),
            })
        })
    }

    /// A container standing on `image`, if one does.
    fn container_on(&self, image: &Digest) -> Option<crate::layers::ImageUser> {
        self.all().into_iter().find_map(|c| {
            let l = c.lock();
            (l.record.image == *image).then(|| crate::layers::ImageUser::Container {
                id: c.id[..12.min(c.id.len())].to_string(),
                running: l.record.state.is_running(),
            })
        })
    }

    /// The layer directories of an image, topmost first.
    /// A container's lower layers, topmost first: the init layer, then
    /// the image's.
    pub(super) fn lowers(&self, image: &crate::layers::ImageConfig) -> Vec<PathBuf> {
        std::iter::once(self.init_layer.clone())
            .chain(image.rootfs.diff_ids.iter().rev().map(|d| self.store.layer_dir(d)))
            .collect()
    }

    fn shutting_down(&self) -> bool {
        self.shutting_down.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn helper(&self) -> &Path {
        &self.helper
    }
}

/// Spawns on the daemon's runtime from a plain thread.
fn tokio_handle_spawn(f: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(f);
        }
        Err(_) => {
            if let Some(h) = RUNTIME.get() {
                h.spawn(f);
            } else {
                tracing::error!("no runtime to finish a container's exit on");
            }
        }
    }
}

/// The daemon's runtime, for threads that finish a container's exit.
pub static RUNTIME: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
