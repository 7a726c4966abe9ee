//! `commit`: a container's changes frozen into a new layer on top of its
//! image's layers (shared, not copied) and a new image.

use super::error::Error;
use super::error::internal;
use super::start::mount_root;
use super::{Container, Engine};
use crate::layers::Digest;
use crate::{sys, time};
use std::io;
use std::sync::Arc;

/// What `commit` takes besides the container.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    pub tag: Option<crate::layers::Reference>,
    pub comment: String,
    pub author: String,
    /// Dockerfile-style instructions (`CMD ["sh"]`) applied to the config.
    pub changes: Vec<String>,
    pub pause: bool,
}

impl Engine {
    /// `docker commit`: the container's changes as a new layer on top of its
    /// image's layers (shared, not copied), and a new image whose config is
    /// the container's, with `changes` applied and a history entry. The
    /// container is paused meanwhile (when `pause` and running); a stopped
    /// one is mounted for the time of the export. Nothing is written before
    /// every argument is validated.
    pub async fn commit(self: &Arc<Self>, c: &Arc<Container>, opts: CommitOptions) -> Result<Digest, Error> {
        let _op = c.ops.lock().await;
        if c.lock().removed {
            return Err(Error::not_found(format!("No such container: {}", c.id)));
        }
        let (tag, comment) = (opts.tag.clone(), opts.comment.clone());
        let (engine, c2) = (self.clone(), c.clone());
        let id = tokio::task::spawn_blocking(move || engine.commit_blocking(&c2, opts))
            .await
            .map_err(|e| Error::internal(format!("commit task failed: {e}")))??;
        // As moby's: the image made, then tagged, then the container's event.
        let id_text = id.to_string();
        self.image_event("create", &id_text, &id_text);
        let image_ref = tag.map(|t| t.to_string()).unwrap_or_default();
        if !image_ref.is_empty() {
            self.image_event("tag", &id_text, &image_ref);
        }
        self.event_of(
            c,
            "commit",
            &[("comment", comment), ("imageID", id_text), ("imageRef", image_ref)],
        );
        Ok(id)
    }

    fn commit_blocking(&self, c: &Arc<Container>, opts: CommitOptions) -> Result<Digest, Error> {
        let record = c.record();
        let parent = self.store.image(&record.image.to_string())?;
        let mut config = parent.config.clone();
        let (secs, nanos) = time::now();
        let created = time::format_rfc3339(secs, nanos);
        {
            let rc = &mut config.config;
            let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
            rc.user = nonempty(&record.config.user);
            rc.env = record.config.env.clone().filter(|e| !e.is_empty());
            rc.cmd = record.config.cmd.clone();
            rc.entrypoint = record.config.entrypoint.clone();
            rc.working_dir = nonempty(&record.config.working_dir);
            rc.labels = record.config.labels.clone().filter(|l| !l.is_empty());
            rc.stop_signal = record.config.stop_signal.clone();
        }
        for change in &opts.changes {
            config.apply_change(change).map_err(|e| Error::invalid(e.to_string()))?;
        }
        let author = (!opts.author.is_empty()).then(|| opts.author.clone());
        let comment = (!opts.comment.is_empty()).then(|| opts.comment.clone());
        config.created = Some(created.clone());
        config.author = author.clone();
        config.comment = comment.clone();
        config.history.push(crate::layers::image::History {
            created: Some(created),
            created_by: Some(record.argv().join(" ")),
            author,
            comment,
            empty_layer: false,
        });
        // A consistent moment: the processes stopped, then the changes read.
        let _paused = if opts.pause { self.hold_for_commit(c)? } else { None };
        let changes = self.changes(c)?;
        if changes.is_empty() {
            let (id, _) = self.store.commit(&parent.id, config, None, opts.tag)?;
            return Ok(id);
        }
        let (stored, written) = self.with_root(c, &parent.config, |merged, upper, ids| {
            let (mut reader, writer) = io::pipe().map_err(internal("making a pipe"))?;
            Ok(std::thread::scope(|s| {
                let export = s.spawn(|| {
                    // tar writes 512-byte headers: batch them into pipe-sized writes.
                    let out = io::BufWriter::with_capacity(1 << 16, writer);
                    let (written, mut out) = crate::fs::export::write_layer(
                        &changes,
                        merged,
                        crate::fs::export::opaque_in(upper),
                        ids,
                        out,
                    )?;
                    io::Write::flush(&mut out)?;
                    Ok::<_, io::Error>(written)
                });
                let stored = self.store.commit(&parent.id, config, Some(&mut reader), opts.tag);
                // A store that stopped early must not leave the writer blocked.
                drop(reader);
                (stored, export.join())
            }))
        })?;
        // When the store stops reading (a full disk), the writer sees a
        // closed pipe: the store's error is then the cause to report.
        let (id, layer, written) = match (stored, written) {
            (Ok((id, layer)), Ok(Ok(w))) => (id, layer, w),
            (Err(e), Ok(Err(w))) if w.kind() == io::ErrorKind::BrokenPipe => return Err(e.into()),
            (_, Ok(Err(e))) => return Err(internal("writing the layer")(e)),
            (_, Err(_)) => return Err(Error::internal("the layer writer panicked")),
            (Err(e), Ok(Ok(_))) => return Err(e.into()),
        };
        let layer = layer.map(|d| d.to_string()).unwrap_or_default();
        tracing::info!(container = %&c.id[..12], image = %id, %layer, bytes = written.bytes, "committed");
        Ok(id)
    }

    /// Runs `f` on the container's root as it is now (the live mount, or one
    /// made for the time of `f`), its writable layer, and how ids seen
    /// through the mount map to ids in a layer (a rootless daemon sees the
    /// container's root as itself).
    pub(super) fn with_root<T>(
        &self,
        c: &Container,
        image: &crate::layers::ImageConfig,
        f: impl FnOnce(&sys::BeneathDir, &sys::BeneathDir, crate::fs::export::IdShift) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let held = c.lock().user_mount.as_ref().is_some_and(|h| h.idle.is_some());
        let _mount = if c.is_running() || held {
            None
        } else {
            Some(mount_root(c, self.lowers(image)).map_err(internal("mounting the container's root"))?)
        };
        let merged = sys::BeneathDir::open(&c.dir.join("merged")).map_err(internal("opening the container's root"))?;
        let upper = sys::BeneathDir::open(&c.dir.join("upper")).map_err(internal("opening the writable layer"))?;
        let ids = if sys::is_root() {
            crate::fs::export::IdShift::default()
        } else {
            let (uid, gid) = sys::ids();
            crate::fs::export::IdShift {
                uid: Some((uid, 0)),
                gid: Some((gid, 0)),
            }
        };
        f(&merged, &upper, ids)
    }

    /// The layer `commit` would store now, as tar bytes (Strata's own:
    /// `GET /containers/{id}/layer`).
    pub async fn layer_tar(self: &Arc<Self>, c: &Arc<Container>) -> Result<Vec<u8>, Error> {
        let _op = c.ops.lock().await;
        let (engine, c) = (self.clone(), c.clone());
        tokio::task::spawn_blocking(move || {
            let record = c.record();
            let parent = engine.store.image(&record.image.to_string())?;
            let changes = engine.changes(&c)?;
            engine.with_root(&c, &parent.config, |merged, upper, ids| {
                crate::fs::export::write_layer(&changes, merged, crate::fs::export::opaque_in(upper), ids, Vec::new())
                    .map(|(_, bytes)| bytes)
                    .map_err(internal("writing the layer"))
            })
        })
        .await
        .map_err(|e| Error::internal(format!("layer task failed: {e}")))?
    }
}

impl Engine {
    /// The container's changes to its image, as `docker diff` lists them:
    /// from its writable layer and the image's chain index only.
    pub fn changes(&self, c: &Container) -> Result<Vec<crate::fs::changes::Change>, Error> {
        let image = c.lock().record.image;
        let upper = sys::BeneathDir::open(&c.dir.join("upper")).map_err(internal("opening the writable layer"))?;
        // Mapped, not read: a diff probes the index once per changed path,
        // so its cost follows the changes, not the image's size.
        let listed = match self.store.image_chain(&image) {
            Some(chain) => {
                let index = crate::layers::index::LayerIndex::open(&self.store.chain_index_path(&chain))
                    .map_err(internal("opening the image's index"))?;
                crate::fs::changes::changes(&upper, &index)
            }
            None => {
                let empty = crate::layers::index::IndexBuilder::new().encode();
                let index =
                    crate::layers::index::LayerIndex::from_bytes(empty).map_err(|e| Error::internal(e.to_string()))?;
                crate::fs::changes::changes(&upper, &index)
            }
        };
        listed.map_err(internal("listing changes"))
    }
}
