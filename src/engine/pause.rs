//! `pause` and `unpause` through the freezer of the container's resource
//! cgroups (`run::resources`): every process of the container stops where
//! it is, and nothing in it can notice or undo it (unlike SIGSTOP, which a
//! parent sees). The record says `State.Paused` (status `paused`, still
//! running), as Docker's.
//!
//! `commit --pause` freezes the same way for its moment of reading
//! ([`Engine::hold_for_commit`]); only a rootless daemon without a
//! delegated cgroup (see `run::delegation`), whose containers have no
//! cgroup, stops the processes with SIGSTOP.

use super::container::Container;
use super::error::Error;
use super::{Engine, now_rfc3339};
use crate::run;
use std::sync::Arc;

/// Freezes or thaws the container's cgroup; the record's `Paused` follows.
fn set_frozen(c: &Container, frozen: bool) -> Result<(), Error> {
    let mut live = c.lock();
    let id = c.id.clone();
    let Some(run) = &live.run else {
        return Err(Error::conflict(format!("Container {id} is not running")));
    };
    match (frozen, live.record.state.paused) {
        (true, true) => return Err(Error::conflict(format!("Container {id} is already paused"))),
        (false, false) => return Err(Error::conflict(format!("Container {id} is not paused"))),
        _ => {}
    }
    let Some(cgroups) = &run.resources else {
        return Err(Error::invalid(
            "strata: pause needs the container's freezer cgroup, which a rootless daemon without a delegated cgroup does not have",
        ));
    };
    let done = if frozen { cgroups.freeze() } else { cgroups.thaw() };
    done.map_err(|e| Error::internal(e.to_string()))?;
    live.record.state.paused = frozen;
    let rec = live.record.clone();
    drop(live);
    if let Err(e) = c.save(&rec) {
        tracing::warn!("container {}: saving its state at {}: {e}", &id[..12], now_rfc3339());
    }
    Ok(())
}

/// What keeps a container still while commit reads it: the freezer, or
/// SIGSTOP where there is none; released when dropped.
pub(super) enum Hold {
    Frozen(Arc<Container>),
    Stopped(#[allow(dead_code)] run::Paused),
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Hold::Frozen(c) = self
            && let Some(cgroups) = c.lock().run.as_ref().and_then(|r| r.resources.as_ref())
            && let Err(e) = cgroups.thaw()
        {
            tracing::warn!("container {}: thawing after the commit: {e}", &c.id[..12]);
        }
    }
}

impl Engine {
    pub async fn pause(&self, c: &Arc<Container>) -> Result<(), Error> {
        let _op = c.ops.lock().await;
        set_frozen(c, true)?;
        self.event_of(c, "pause", &[]);
        Ok(())
    }

    pub async fn unpause(&self, c: &Arc<Container>) -> Result<(), Error> {
        let _op = c.ops.lock().await;
        set_frozen(c, false)?;
        self.event_of(c, "unpause", &[]);
        Ok(())
    }

    /// Keeps a running container's processes still for a commit: `None`
    /// when it is not running or already paused (the user's pause holds).
    pub(super) fn hold_for_commit(&self, c: &Arc<Container>) -> Result<Option<Hold>, Error> {
        let live = c.lock();
        let Some(run) = &live.run else { return Ok(None) };
        if live.record.state.paused {
            return Ok(None);
        }
        if let Some(cgroups) = &run.resources {
            cgroups.freeze().map_err(|e| Error::internal(format!("pausing: {e}")))?;
            drop(live);
            return Ok(Some(Hold::Frozen(c.clone())));
        }
        let pid = run.process.pid();
        drop(live);
        let stopped = run::pause(pid).map_err(|e| Error::internal(format!("pausing: {e}")))?;
        Ok(Some(Hold::Stopped(stopped)))
    }
}

impl Container {
    /// A signal sent to a paused container reaches it only once thawed
    /// (the freezer holds even SIGKILL): Docker unpauses it then. Called
    /// after the signal is sent.
    pub(super) fn thaw_if_paused(&self) {
        let mut live = self.lock();
        if !live.record.state.paused {
            return;
        }
        if let Some(cgroups) = live.run.as_ref().and_then(|r| r.resources.as_ref())
            && let Err(e) = cgroups.thaw()
        {
            tracing::warn!("container {}: thawing: {e}", &self.id[..12]);
            return;
        }
        live.record.state.paused = false;
        let rec = live.record.clone();
        drop(live);
        let _ = self.save(&rec);
    }

    /// Docker refuses an exec in a paused container.
    pub(super) fn refuse_if_paused(&self) -> Result<(), Error> {
        if self.lock().record.state.paused {
            return Err(Error::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                self.id
            )));
        }
        Ok(())
    }
}
