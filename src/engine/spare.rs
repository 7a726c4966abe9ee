//! The daemon's spare shim ([`run::spare`]): one kept ready, in cgroups
//! of its own, for the next start to take. The start renames those
//! cgroups to the container's and writes its limits and device rules on
//! them, so that neither a new shim's start nor a move into a cgroup is
//! on its path; a new spare is made after each take, off the path.
//!
//! A start that cannot use one starts as before, on a new shim: when
//! none is ready (starts close together), when the host's cgroups cannot
//! be renamed (cgroup2), with `--pids-limit 1` (the pre-init and the init
//! are two tasks for a moment), or when the daemon runs with
//! `--no-spare`.

use super::error::Error;
use super::spec::HostSettings;
use super::{Engine, privileges, resources, security};
use crate::run::{self, cgroup::Cgroup, resources::ContainerCgroups};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How long a start waits for a spare still joining its cgroups (on v1
/// an RCU grace period) before it starts on a new shim instead.
const READY_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A spare shim and the cgroups its pre-init waits in.
#[derive(Debug)]
pub(super) struct Prepared {
    // Dropped first: the shim and its pre-init end, then the cgroups go.
    shim: run::spare::Spare,
    device: Option<Cgroup>,
    resources: Option<ContainerCgroups>,
}

/// What a start gets from a spare: the confinement (its cgroups named),
/// the container's cgroups, and the shim to start on.
pub(super) type Adopted = (
    run::Confinement,
    Option<Cgroup>,
    Option<ContainerCgroups>,
    run::spare::Spare,
);

/// The slot and its bookkeeping.
#[derive(Debug, Default)]
pub(super) struct Spares {
    slot: Mutex<Option<Prepared>>,
    /// Numbers the spares' cgroups (`spare1`, `spare2`…).
    made: AtomicU64,
    /// A spare is being made.
    filling: AtomicBool,
    /// `--no-spare`, or a host whose cgroups cannot be renamed.
    off: AtomicBool,
}

impl Spares {
    fn take(&self) -> Option<Prepared> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Ends the spare, if any (the daemon is stopping).
    pub(super) fn clear(&self) {
        self.off.store(true, Ordering::SeqCst);
        drop(self.take());
    }
}

/// Whether a container with these settings can start on a spare.
fn fits(host: &HostSettings) -> bool {
    // A limit of one task would refuse the init's fork while the pre-init
    // still counts.
    resources::check(host).is_ok_and(|l| !(1..2).contains(&l.pids_limit))
}

impl Engine {
    /// Starts keeping a spare shim (at the daemon's start), unless `off`
    /// (`--no-spare`) or this host's cgroups cannot be renamed.
    pub fn keep_spares(self: &Arc<Self>, off: bool) {
        let renames = self.devices.can_adopt() && resources::manager(self.store.root()).is_none_or(|m| m.can_adopt());
        if off || !renames {
            tracing::info!(
                "containers start on new shims (no spare: {})",
                if off { "--no-spare" } else { "cgroup2" }
            );
            self.spares.off.store(true, Ordering::SeqCst);
            return;
        }
        self.refill_spare();
    }

    /// Makes a new spare in the background if the slot is empty.
    pub(super) fn refill_spare(self: &Arc<Self>) {
        let spares = &self.spares;
        let full = || spares.slot.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        if spares.off.load(Ordering::SeqCst) || full() || spares.filling.swap(true, Ordering::SeqCst) {
            return;
        }
        let engine = self.clone();
        let spawned = std::thread::Builder::new().name("spare".into()).spawn(move || {
            let made = engine.make_spare();
            let spares = &engine.spares;
            match made {
                Ok(p) if !spares.off.load(Ordering::SeqCst) => {
                    let old = spares.slot.lock().unwrap_or_else(|p| p.into_inner()).replace(p);
                    drop(old);
                }
                Ok(p) => drop(p),
                Err(e) => tracing::warn!("making a spare shim: {e}"),
            }
            spares.filling.store(false, Ordering::SeqCst);
        });
        if spawned.is_err() {
            spares.filling.store(false, Ordering::SeqCst);
        }
    }

    fn make_spare(&self) -> Result<Prepared, Error> {
        let name = format!("spare{}", self.spares.made.fetch_add(1, Ordering::SeqCst) + 1);
        let device = self
            .devices
            .create(&name, &[])
            .map_err(|e| Error::internal(format!("the spare's cgroup: {e}")))?;
        let resources = match resources::manager(self.store.root()) {
            Some(m) => Some(
                m.create(&name, &Default::default())
                    .map_err(|e| Error::internal(format!("the spare's cgroups: {e}")))?,
            ),
            None => None,
        };
        let mut dirs: Vec<_> = device.iter().map(|c| c.dir().to_path_buf()).collect();
        dirs.extend(resources.iter().flat_map(|r| r.dirs()));
        let shim = run::spare::Spare::spawn(&self.helper, &dirs)
            .map_err(|e| Error::internal(format!("the spare shim: {e}")))?;
        Ok(Prepared {
            shim,
            device,
            resources,
        })
    }

    /// The spare, made container `host`'s: its cgroups renamed with the
    /// limits and rules written. `None` when there is none, or it does not
    /// fit (the caller starts on a new shim); an error is the container's
    /// own (a bad profile, a bad limit).
    pub(super) fn adopt_spare(self: &Arc<Self>, id: &str, host: &HostSettings) -> Option<Result<Adopted, Error>> {
        if !fits(host) {
            return None;
        }
        // The next is made once this start is under way (see launch).
        let mut p = self.spares.take()?;
        // Its pre-init must be in its cgroups (and have opened them by
        // name) before they are renamed. One that is not, in a second,
        // is dropped: the start goes on a new shim.
        if let Err(e) = p.shim.wait_ready(READY_LIMIT) {
            tracing::warn!("the spare shim: {e}");
            return None;
        }
        Some(self.adopt(p, id, host))
    }

    fn adopt(&self, p: Prepared, id: &str, host: &HostSettings) -> Result<Adopted, Error> {
        let Prepared {
            shim,
            device,
            resources: spare_resources,
        } = p;
        let settings = privileges::settings(host)?;
        let seccomp = security::seccomp_program_for(host, &settings.privileges)?;
        let cgroup = match (device, self.devices.manager()) {
            (Some(cg), Some(m)) => Some(
                m.adopt(cg, id, &settings.device_rules)
                    .map_err(|e| Error::internal(format!("the container's cgroup: {e}")))?,
            ),
            (None, None) => None,
            _ => return Err(Error::internal("the spare's cgroups do not match the daemon's")),
        };
        let resources = match spare_resources {
            Some(rc) => Some(resources::adopt(self.store.root(), rc, id, host)?),
            None => None,
        };
        let mut cgroups: Vec<_> = cgroup.iter().map(|c| c.dir().to_path_buf()).collect();
        cgroups.extend(resources.iter().flat_map(|r| r.dirs()));
        let confinement = run::Confinement {
            seccomp,
            cgroups,
            privileges: settings.privileges,
        };
        Ok((confinement, cgroup, resources, shim))
    }
}
