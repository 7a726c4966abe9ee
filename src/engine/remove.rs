//! `rm`: a container and its writable layer removed (renamed to
//! `.gone-<id>` first).

use super::error::{Error, internal};
use super::{Container, Engine};
use crate::sys;
use std::sync::Arc;

impl Engine {
    /// Removes the container and its writable layer. Running: 409 unless
    /// `force`, which kills it first.
    pub async fn remove(&self, c: &Arc<Container>, force: bool) -> Result<(), Error> {
        let _op = c.ops.lock().await;
        let (running, name) = {
            let live = c.lock();
            if live.removed {
                return Ok(());
            }
            (
                live.record.state.is_running() || live.record.state.is_restarting(),
                live.record.name.clone(),
            )
        };
        let mounted = c.lock().user_mount.is_some();
        if mounted && !force {
            return Err(Error::conflict(format!(
                "cannot remove container \"/{name}\": container is mounted (strata mount): unmount it before removing or force remove"
            )));
        }
        if running {
            if !force {
                let status = c.state().status;
                return Err(Error::conflict(format!(
                    "cannot remove container \"/{name}\": container is {status}: stop the container before removing or force remove"
                )));
            }
            self.kill_and_wait(c).await;
        }
        if mounted {
            // Forced: its user mounts end first (nothing is removed through
            // a mount still there).
            let unmounted = tokio::task::block_in_place(|| self.unmount_container_locked(c, None));
            unmounted?;
        }
        let gone = self.dir.join(format!(".gone-{}", c.id));
        {
            // No record write lands in the directory once it is renamed.
            let _writes = c.saves.written.lock().unwrap_or_else(|p| p.into_inner());
            std::fs::rename(&c.dir, &gone).map_err(internal("removing the container"))?;
            c.lock().removed = true;
        }
        self.map().remove(&c.id);
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.container_id != c.id);
        c.output.close();
        let record = c.record();
        if record.host_config.auto_remove {
            // `--rm` takes the container's anonymous volumes with it, as Docker.
            self.remove_anonymous_volumes(&record.mounts);
        }
        // The container is gone for everyone now (a crash from here on
        // leaves `.gone-<id>`, swept at the next start): a `wait
        // --condition removed` (`run --rm`) returns while its writable
        // layer is deleted.
        self.container_event(&record, "destroy", &[]);
        c.progress.send_modify(|p| p.removed = true);
        // Done before `rm`'s reply: it returns once the writable layer is gone.
        let c = c.clone();
        let removed = tokio::task::spawn_blocking(move || {
            // Nothing is removed through a mount: a `--rm` run's teardown
            // detaches its root, but may have tried at the old path, before
            // the rename (see `exited`).
            if c.finish_teardown() {
                let _ = crate::fs::unmount_lazy(&gone.join("merged"));
            }
            // The rename made durable after the waiters are told (`run --rm`
            // returns then): a power loss before it brings the container back
            // as it was, which is no harm.
            let _ = sys::fsync_dir(gone.parent().unwrap_or(&gone));
            if let Err(e) = std::fs::remove_dir_all(&gone) {
                tracing::warn!("removing {}: {e}", gone.display());
            }
        });
        let _ = removed.await;
        Ok(())
    }
}
