//! The daemon's spare network ([`run::network::SpareNetwork`]): a root
//! daemon keeps one network namespace with pasta configured on it for the
//! next default-network container that fits it (no published port, no
//! link, no MAC address and no host gateway asked for), so that pasta's
//! start, the largest part of such a container's start, is off that
//! start's path. A new one is made after each take, off the path.
//!
//! Its files are in `/run/strata/spare-net/<name>` (pasta's pid file)
//! and `/run/strata/netns/<name>`, outside the store (whose tree holds
//! only what its records say). A name is the store's cgroup name (a hash
//! of its path) and random digits: unique on the host, whose root daemons
//! share `/run/strata`, and this store's. What a killed daemon left (its
//! spare, or a container's adopted one) is ended at the next start by
//! [`sweep`].

use super::Engine;
use crate::run::network::{Bridge, SpareNetwork};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where the spares' directories are.
const DIR: &str = "/run/strata/spare-net";

/// The start of the names of `store`'s spares.
fn prefix(store: &Path) -> String {
    format!("{}-", crate::run::cgroup::parent_name(store))
}

/// How long a stopping daemon waits for a spare being made.
const CLEAR_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// The slot and its bookkeeping.
#[derive(Debug, Default)]
pub(super) struct SpareNetworks {
    slot: Mutex<Option<SpareNetwork>>,
    /// One is being made.
    filling: AtomicBool,
    /// `--no-spare`, a rootless daemon, a spare that could not be made,
    /// or a daemon stopping.
    off: AtomicBool,
}

impl SpareNetworks {
    fn take(&self) -> Option<SpareNetwork> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn is_full(&self) -> bool {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Ends the spare, if any, and makes no more (the daemon is stopping).
    /// Blocks while one is being made (at most pasta's start limit): a
    /// pasta started by a thread the exit cuts short would outlive the
    /// daemon, as pasta runs on its own.
    pub(super) fn clear(&self) {
        {
            let _slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            self.off.store(true, Ordering::SeqCst);
        }
        let deadline = std::time::Instant::now() + CLEAR_LIMIT;
        while self.filling.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(self.take());
    }
}

/// Whether a container's bridge, made concrete by `prepare_network` but
/// for its MAC address, is what a spare's pasta was started for.
pub(super) fn fits(bridge: &Bridge, mac_requested: bool) -> bool {
    !mac_requested
        && bridge.ports.is_empty()
        && bridge.links.is_empty()
        && !bridge.internal
        && bridge.userns.is_none()
        && !bridge.map_gw
        && bridge.netns.is_none()
}

/// Ends the spares a killed daemon of `store` left (its own or its
/// containers'), before this daemon makes any.
pub(super) fn sweep(store: &Path) {
    let Ok(entries) = std::fs::read_dir(DIR) else {
        return;
    };
    let ours = prefix(store);
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&ours) {
            continue;
        }
        let dir = entry.path();
        crate::run::network::cleanup(&dir);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!("removing {}: {e}", dir.display());
        }
    }
}

impl Engine {
    /// Starts keeping a spare network (at the daemon's start), unless
    /// `off` (`--no-spare`) or rootless.
    pub fn keep_spare_networks(self: &Arc<Self>, off: bool) {
        if off || !crate::sys::is_root() {
            self.spare_networks.off.store(true, Ordering::SeqCst);
            return;
        }
        self.refill_spare_network();
    }

    /// Makes a new spare network in the background if the slot is empty.
    pub(super) fn refill_spare_network(self: &Arc<Self>) {
        let spares = &self.spare_networks;
        if spares.off.load(Ordering::SeqCst) || spares.is_full() || spares.filling.swap(true, Ordering::SeqCst) {
            return;
        }
        let engine = self.clone();
        let spawned = std::thread::Builder::new().name("spare-net".into()).spawn(move || {
            let made = engine.make_spare_network();
            let spares = &engine.spare_networks;
            match made {
                // Under the slot's lock, which `clear` takes to turn spares
                // off: a spare is either put where it finds it, or ended here.
                Ok(n) => {
                    let mut slot = spares.slot.lock().unwrap_or_else(|p| p.into_inner());
                    if spares.off.load(Ordering::SeqCst) {
                        drop(slot);
                        drop(n);
                    } else {
                        drop(slot.replace(n));
                    }
                }
                // Not again: what failed (no pasta, say) fails each time,
                // and each container starts its own pasta.
                Err(e) => {
                    tracing::warn!("making a spare network: {e} (no more spare networks)");
                    spares.off.store(true, Ordering::SeqCst);
                }
            }
            spares.filling.store(false, Ordering::SeqCst);
        });
        if spawned.is_err() {
            spares.filling.store(false, Ordering::SeqCst);
        }
    }

    fn make_spare_network(&self) -> Result<SpareNetwork, String> {
        let id = super::random_id().map_err(|e| format!("naming it: {e}"))?;
        let dir: PathBuf = Path::new(DIR).join(format!("{}{}", prefix(self.store.root()), &id[..16]));
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mac = super::mac::generated().map_err(|e| e.to_string())?;
        let began = std::time::Instant::now();
        match SpareNetwork::make(&dir, &mac) {
            Ok(n) => {
                tracing::debug!("spare network {} made in {:?}", dir.display(), began.elapsed());
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(e.to_string())
            }
        }
    }

    /// The spare network, for a start whose bridge [`fits`] it.
    pub(super) fn take_spare_network(&self) -> Option<SpareNetwork> {
        self.spare_networks.take()
    }
}
