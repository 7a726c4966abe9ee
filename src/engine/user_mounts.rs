//! User mounts (`strata mount`, Strata's own `/strata/mounts`): an image's
//! layers mounted where a user asks, or in a directory the daemon makes
//! (`mounts/<id>/merged` in the store), served by this process as the
//! containers' roots are. The lowers are the store's layer directories
//! themselves (nothing is copied); the mount is read-only (EROFS), or a
//! writable union over a directory of the user's (`upper`, outside the
//! store). Not a container's volumes and binds: those are `mounts`.
//!
//! Invariants: every entry of the list is mounted and served by its
//! session; an image mounted is held ([`Engine::image_holder`]: rmi is
//! refused); only a directory the daemon made is ever removed, and only
//! with `remove_dir` once unmounted (never a recursive removal, which would
//! reach through a mount that is still there). The daemon's shutdown ends
//! every mount; a killed daemon's own directories are detached and removed
//! at the next start ([`UserMounts::open`]).

use super::error::internal;
use super::{Engine, Error};
use crate::fs::MountConfig;
use crate::layers::Digest;
use crate::sys;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// What to mount, as a user asks for it (paths absolute).
#[derive(Clone, Debug, Default)]
pub struct MountRequest {
    /// An image's name or ID.
    pub target: String,
    /// Where: an existing empty directory; absent, the daemon makes one.
    pub dir: Option<PathBuf>,
    /// A writable directory the union is over (read-only without).
    pub upper: Option<PathBuf>,
    /// The upper's scratch directory (on its filesystem); absent, a
    /// sibling `NAME.work` of the upper, made if missing.
    pub work: Option<PathBuf>,
}

/// What a user mount is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Container,
}

/// A user mount, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountView {
    /// The image or container as the user named it.
    pub target: String,
    pub kind: Kind,
    /// The image's ID (`sha256:…`) or the container's.
    pub id: String,
    pub dir: PathBuf,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
}

/// Which mounts an unmount ends.
#[derive(Clone, Copy, Debug)]
pub enum Unmount<'a> {
    /// The one at this directory.
    Dir(&'a Path),
    /// Every mount of this image (by the name it was mounted with, or any
    /// name of the same image).
    Target(&'a str),
    All,
}

struct UserMount {
    view: MountView,
    /// The directory the daemon made (`mounts/<id>`), removed at unmount.
    owned: Option<PathBuf>,
    session: crate::fs::fuse::BackgroundSession,
}

/// The daemon's user mounts.
pub(super) struct UserMounts {
    /// `mounts/` in the store: the directories the daemon makes.
    dir: PathBuf,
    list: Mutex<Vec<UserMount>>,
}

impl UserMounts {
    /// Opens `mounts/` in the store, detaching and removing what a killed
    /// daemon left there (no mount outlives its daemon).
    pub(super) fn open(store_root: &Path) -> io::Result<UserMounts> {
        let dir = store_root.join("mounts");
        std::fs::create_dir_all(&dir)?;
        sys::make_private(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let owned = entry?.path();
            let merged = owned.join("merged");
            let _ = crate::fs::unmount_lazy(&merged);
            if let Err(e) = remove_owned(&owned) {
                tracing::warn!("removing the stale mount directory {}: {e}", owned.display());
            }
        }
        Ok(UserMounts {
            dir,
            list: Mutex::new(Vec::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<UserMount>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where `image` is mounted in `list`, if it is.
fn mounted_at(list: &[UserMount], image: &Digest) -> Option<PathBuf> {
    let image = image.to_string();
    list.iter().find(|m| m.view.id == image).map(|m| m.view.dir.clone())
}

/// Removes a directory the daemon made for a mount, once unmounted: only
/// empty directories go (`remove_dir`), so a mount still there is never
/// reached through.
fn remove_owned(owned: &Path) -> io::Result<()> {
    match std::fs::remove_dir(owned.join("merged")) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::remove_dir(owned)
}

/// An existing directory, absolute, outside the store (`what` names it in
/// errors); with `empty`, one with nothing in it.
fn existing_dir(path: &Path, what: &str, store: &Path, empty: bool) -> Result<PathBuf, Error> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(Error::invalid(format!("{what} {shown}: not an absolute path")));
    }
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::invalid(format!("{what} {shown} does not exist")),
        _ => Error::invalid(format!("{what} {shown}: {e}")),
    })?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!("{what} {shown} is not a directory")));
    }
    let canonical = std::fs::canonicalize(path).map_err(|e| Error::invalid(format!("{what} {shown}: {e}")))?;
    let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    if canonical.starts_with(&store) || store.starts_with(&canonical) {
        return Err(Error::invalid(format!(
            "{what} {shown} is inside the daemon's store (or holds it)"
        )));
    }
    if empty {
        let mut entries = std::fs::read_dir(path).map_err(|e| Error::invalid(format!("{what} {shown}: {e}")))?;
        if entries.next().is_some() {
            return Err(Error::invalid(format!("{what} {shown} is not empty")));
        }
    }
    Ok(canonical)
}

/// The upper's work directory: the one given, or `UPPER.work` beside the
/// upper (made if missing); never inside the upper or the mount point.
fn work_dir(upper: &Path, work: Option<&Path>, dir: &Path, store: &Path) -> Result<PathBuf, Error> {
    let work = match work {
        Some(w) => existing_dir(w, "the work directory", store, false)?,
        None => {
            let name = upper.file_name().unwrap_or_default().to_string_lossy();
            let sibling = upper.with_file_name(format!("{name}.work"));
            match std::fs::create_dir(&sibling) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(internal("making the work directory")(e)),
            }
            existing_dir(&sibling, "the work directory", store, false)?
        }
    };
    for other in [upper, dir] {
        if work.starts_with(other) || other.starts_with(&work) {
            return Err(Error::invalid(format!(
                "the work directory {} and {} contain one another",
                work.display(),
                other.display()
            )));
        }
    }
    Ok(work)
}

impl Engine {
    /// Mounts what the request names: a container (by name or ID) if
    /// there is one, or else an image.
    pub fn user_mount(&self, req: MountRequest) -> Result<MountView, Error> {
        if req.work.is_some() && req.upper.is_none() {
            return Err(Error::invalid("a work directory needs an upper directory"));
        }
        match self.get(&req.target) {
            Ok(c) => self.mount_container(&c, req),
            Err(Error::NotFound(_)) => self.mount_image(req),
            Err(e) => Err(e),
        }
    }

    /// Mounts an image's layers (see the module's doc). Without a
    /// directory or an upper, an image already mounted so is not mounted
    /// again: its mount is the answer (as `podman image mount`).
    fn mount_image(&self, req: MountRequest) -> Result<MountView, Error> {
        // Resolved under the lock `remove_image` holds: an image is either
        // mounted before its removal looks, or gone before this does.
        let mut list = self.user_mounts.lock();
        let image = self.store.image(&req.target)?;
        let store = self.store.root();
        if req.dir.is_none()
            && req.upper.is_none()
            && let Some(m) = list
                .iter()
                .find(|m| m.owned.is_some() && m.view.upper.is_none() && m.view.id == image.id.to_string())
        {
            return Ok(m.view.clone());
        }
        let (dir, owned) = match &req.dir {
            Some(d) => {
                let dir = existing_dir(d, "the mount point", store, true)?;
                if list.iter().any(|m| m.view.dir == dir) {
                    return Err(Error::conflict(format!("{} is mounted already", dir.display())));
                }
                (dir, None)
            }
            None => {
                let id = super::random_id().map_err(internal("making a mount's ID"))?;
                let owned = self.user_mounts.dir.join(&id[..12]);
                std::fs::create_dir(&owned)
                    .and_then(|()| std::fs::create_dir(owned.join("merged")))
                    .map_err(internal("making the mount point"))?;
                (owned.join("merged"), Some(owned))
            }
        };
        let mounted = self.mount_image_at(&req, &image, &dir);
        let (session, upper, work) = match mounted {
            Ok(m) => m,
            Err(e) => {
                if let Some(owned) = &owned {
                    let _ = remove_owned(owned);
                }
                return Err(e);
            }
        };
        let view = MountView {
            target: req.target,
            kind: Kind::Image,
            id: image.id.to_string(),
            dir,
            upper,
            work,
        };
        tracing::info!(image = %image.id.short(), dir = %view.dir.display(), "mounted");
        list.push(UserMount {
            view: view.clone(),
            owned,
            session,
        });
        Ok(view)
    }

    /// The union of `image`'s layers (under the request's upper) at `dir`.
    #[allow(clippy::type_complexity)]
    fn mount_image_at(
        &self,
        req: &MountRequest,
        image: &crate::layers::ImageSummary,
        dir: &Path,
    ) -> Result<(crate::fs::fuse::BackgroundSession, Option<PathBuf>, Option<PathBuf>), Error> {
        let store = self.store.root();
        let (upper, work) = match &req.upper {
            Some(u) => {
                let upper = existing_dir(u, "the upper directory", store, false)?;
                let work = work_dir(&upper, req.work.as_deref(), dir, store)?;
                (Some(upper), Some(work))
            }
            None => (None, None),
        };
        let lowers = image
            .config
            .rootfs
            .diff_ids
            .iter()
            .rev()
            .map(|d| self.store.layer_dir(d))
            .collect();
        let mut cfg = MountConfig::new(lowers, upper.clone(), work.clone(), dir.to_path_buf());
        cfg.read_only = upper.is_none();
        cfg.fsname = Some(format!("strata-image-{}", image.id.short()));
        if !sys::is_root() {
            // As a rootless container's root: every file is this user's.
            let (uid, gid) = sys::ids();
            cfg.squash_uid = Some(uid);
            cfg.squash_gid = Some(gid);
        }
        let session = crate::fs::mount_background(&cfg).map_err(internal("mounting the image"))?;
        Ok((session, upper, work))
    }

    /// Every user mount: images' in the order they were made, then
    /// containers'.
    pub fn user_mounts(&self) -> Vec<MountView> {
        let mut views: Vec<MountView> = self.user_mounts.lock().iter().map(|m| m.view.clone()).collect();
        for c in self.all() {
            let live = c.lock();
            if let Some(held) = &live.user_mount {
                views.extend(held.views(&c, &live.record.name));
            }
        }
        views
    }

    /// Where `image` is mounted, if it is.
    pub(super) fn image_mounted_at(&self, image: &Digest) -> Option<PathBuf> {
        mounted_at(&self.user_mounts.lock(), image)
    }

    /// `rmi`: the store's removal with Docker's rules, an image a
    /// container or a user mount holds kept; no mount of it is made
    /// meanwhile (the mounts' lock is held throughout).
    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Result<Vec<crate::layers::Removal>, crate::layers::Refusal>, crate::layers::Error> {
        let list = self.user_mounts.lock();
        let held_by = self.store.resolve(name).ok().and_then(|id| {
            self.container_on(&id).or_else(|| {
                mounted_at(&list, &id).map(|dir| crate::layers::ImageUser::Mount {
                    dir: dir.display().to_string(),
                })
            })
        });
        self.store.remove_image(name, force, held_by.as_ref())
    }

    /// Unmounts what `which` names (containers' mounts, then images'),
    /// each once its session has ended, and removes the directories the
    /// daemon made. Nothing of it mounted: a not-found error. A busy mount
    /// stays (and is the error).
    pub fn user_unmount(&self, which: Unmount<'_>) -> Result<Vec<MountView>, Error> {
        let mut done = self.unmount_containers(which)?;
        match self.unmount_images(which) {
            Ok(views) => done.extend(views),
            Err(Error::NotFound(_)) if !done.is_empty() => {}
            Err(e) => return Err(e),
        }
        Ok(done)
    }

    fn unmount_images(&self, which: Unmount<'_>) -> Result<Vec<MountView>, Error> {
        let mut list = self.user_mounts.lock();
        let image = match which {
            Unmount::Target(t) => self.store.resolve(t).ok(),
            _ => None,
        };
        let chosen = |m: &UserMount| match which {
            Unmount::Dir(d) => m.view.dir == d || std::fs::canonicalize(d).is_ok_and(|c| c == m.view.dir),
            Unmount::Target(t) => m.view.target == t || image.is_some_and(|i| i.to_string() == m.view.id),
            Unmount::All => true,
        };
        if !matches!(which, Unmount::All) && !list.iter().any(chosen) {
            let named = match which {
                Unmount::Dir(d) => d.display().to_string(),
                Unmount::Target(t) => t.to_string(),
                Unmount::All => String::new(),
            };
            return Err(Error::not_found(format!(
                "{} is not mounted",
                crate::quote::excerpt(&named, 256)
            )));
        }
        let mut done = Vec::new();
        let mut i = 0;
        while i < list.len() {
            if !chosen(&list[i]) {
                i += 1;
                continue;
            }
            let dir = list[i].view.dir.clone();
            match crate::fs::unmount(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::ResourceBusy => {
                    return Err(Error::conflict(format!("unmounting {}: target is busy", dir.display())));
                }
                // Unmounted behind the daemon's back: its session has ended.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {}
                Err(e) => return Err(internal("unmounting")(e)),
            }
            let m = list.remove(i);
            done.push(m.view.clone());
            end_session(m);
        }
        Ok(done)
    }

    /// At the daemon's shutdown (its containers stopped): every user
    /// mount ends, detached when busy.
    pub(super) fn end_user_mounts(&self) {
        for c in self.all() {
            let held = c.lock().user_mount.take();
            if let Some(held) = held {
                held.end(&c.dir.join("merged"));
            }
        }
        let mut list = self.user_mounts.lock();
        for m in list.drain(..) {
            let dir = &m.view.dir;
            if let Err(e) = crate::fs::unmount(dir) {
                tracing::warn!("unmounting {}: {e}; detaching it", dir.display());
                if let Err(e) = crate::fs::unmount_lazy(dir) {
                    tracing::error!("detaching {}: {e}", dir.display());
                }
                // A detached mount's session may serve on while it is in
                // use: not waited for (it ends with the daemon).
                drop(m.session);
                if let Some(owned) = &m.owned {
                    let _ = remove_owned(owned);
                }
                continue;
            }
            end_session(m);
        }
    }
}

/// Waits for an unmounted mount's session to end, then removes the
/// directory the daemon made for it.
fn end_session(m: UserMount) {
    if let Err(e) = m.session.join() {
        tracing::warn!("the session of {}: {e}", m.view.dir.display());
    }
    if let Some(owned) = &m.owned
        && let Err(e) = remove_owned(owned)
    {
        tracing::warn!("removing {}: {e}", owned.display());
    }
    tracing::info!(dir = %m.view.dir.display(), "unmounted");
}

/// A container's root held for `strata mount` (in its `Live`): one FUSE
/// session per writable layer, ever, so the user's view is the
/// container's own `merged/` (bound elsewhere on request), and a run
/// shares the session: a start takes `idle`, the exit gives it back.
#[derive(Default)]
pub(super) struct HeldRoot {
    /// The root's session while no run holds it.
    pub(super) idle: Option<crate::fs::fuse::BackgroundSession>,
    /// Mounted for a user at `merged/` itself (`strata mount CONTAINER`).
    at_merged: bool,
    /// Where the root is bound besides (root only).
    binds: Vec<PathBuf>,
}

impl HeldRoot {
    fn views(&self, c: &super::Container, name: &str) -> Vec<MountView> {
        let merged = self.at_merged.then(|| c.dir.join("merged"));
        merged
            .into_iter()
            .chain(self.binds.iter().cloned())
            .map(|dir| MountView {
                target: name.to_string(),
                kind: Kind::Container,
                id: c.id.clone(),
                dir,
                upper: None,
                work: None,
            })
            .collect()
    }

    /// Ends the held root now (the daemon's shutdown, a failed mount):
    /// binds detached, a session no run holds unmounted (detached when
    /// busy, and then not waited for).
    fn end(self, merged: &Path) {
        for b in &self.binds {
            if let Err(e) = sys::unmount_lazy(b) {
                tracing::warn!("detaching {}: {e}", b.display());
            }
        }
        if let Some(session) = self.idle {
            match crate::fs::unmount(merged) {
                Ok(()) => {
                    let _ = session.join();
                }
                Err(e) => {
                    tracing::warn!("unmounting {}: {e}; detaching it", merged.display());
                    let _ = crate::fs::unmount_lazy(merged);
                }
            }
        }
    }
}

impl Engine {
    /// A container's root for a user: its live root while it runs, or
    /// mounted as a start mounts it (and kept for the next start) while it
    /// does not; bound at the directory asked for (root only).
    fn mount_container(&self, c: &std::sync::Arc<super::Container>, req: MountRequest) -> Result<MountView, Error> {
        if req.upper.is_some() {
            return Err(Error::invalid(
                "--upper is for images: a container's root is over its own writable layer",
            ));
        }
        let merged = c.dir.join("merged");
        if req.dir.is_some() && !sys::is_root() {
            return Err(Error::invalid(format!(
                "a rootless daemon cannot bind a container's root elsewhere: mount it without a directory, at {}",
                merged.display()
            )));
        }
        let dir = req
            .dir
            .as_deref()
            .map(|d| existing_dir(d, "the mount point", self.store.root(), true))
            .transpose()?;
        let _op = c.ops.blocking_lock();
        let mut live = c.lock();
        if live.removed {
            return Err(Error::not_found(format!("No such container: {}", req.target)));
        }
        let made = live.user_mount.is_none();
        if made {
            // Its run's session, while there is a run (decided under the
            // lock its exit takes the run with); else one of its own.
            let idle = if live.run.is_some() {
                None
            } else {
                let image = live.record.image.to_string();
                drop(live);
                let image = self.store.image(&image)?;
                let session = super::start::mount_root(c, self.lowers(&image.config))
                    .map_err(internal("mounting the container's root"))?;
                live = c.lock();
                Some(session)
            };
            live.user_mount = Some(HeldRoot {
                idle,
                ..HeldRoot::default()
            });
        }
        let held = live.user_mount.as_mut().expect("held above");
        match &dir {
            Some(d) => {
                if let Err(e) = sys::bind_mount(&merged, d) {
                    let unused = made.then(|| live.user_mount.take()).flatten();
                    drop(live);
                    if let Some(unused) = unused {
                        unused.end(&merged);
                    }
                    return Err(internal("binding the container's root")(e));
                }
                held.binds.push(d.clone());
            }
            None => held.at_merged = true,
        }
        tracing::info!(container = %&c.id[..12], dir = %dir.as_ref().unwrap_or(&merged).display(), "mounted");
        Ok(MountView {
            target: req.target,
            kind: Kind::Container,
            id: c.id.clone(),
            dir: dir.unwrap_or(merged),
            upper: None,
            work: None,
        })
    }

    /// The containers' mounts `which` names: a container's every one, the
    /// one at a directory, or all.
    fn unmount_containers(&self, which: Unmount<'_>) -> Result<Vec<MountView>, Error> {
        let canonical = match which {
            Unmount::Dir(d) => std::fs::canonicalize(d).ok(),
            _ => None,
        };
        let wanted = |p: &Path| matches!(which, Unmount::Dir(d) if p == d) || canonical.as_deref() == Some(p);
        let target = match which {
            Unmount::Target(t) => self.get(t).ok().map(|c| c.id.clone()),
            _ => None,
        };
        let mut done = Vec::new();
        for c in self.all() {
            // Which of its mounts: `Some(None)` every one.
            let chosen: Option<Option<PathBuf>> = {
                let live = c.lock();
                let Some(held) = &live.user_mount else { continue };
                let merged = c.dir.join("merged");
                match which {
                    Unmount::All => Some(None),
                    Unmount::Target(_) => (target.as_deref() == Some(c.id.as_str())).then_some(None),
                    Unmount::Dir(_) if held.at_merged && wanted(&merged) => Some(Some(merged)),
                    Unmount::Dir(_) => held.binds.iter().find(|b| wanted(b)).map(|b| Some(b.clone())),
                }
            };
            if let Some(only) = chosen {
                let _op = c.ops.blocking_lock();
                done.extend(self.unmount_container_locked(&c, only.as_deref())?);
            }
        }
        Ok(done)
    }

    /// Ends a container's user mounts (`only`: the one at that directory),
    /// its lifecycle lock held. A busy one stays, and is the error. When
    /// none is left, a root no run holds is unmounted.
    pub(super) fn unmount_container_locked(
        &self,
        c: &super::Container,
        only: Option<&Path>,
    ) -> Result<Vec<MountView>, Error> {
        let merged = c.dir.join("merged");
        let (mut held, name) = {
            let mut live = c.lock();
            match live.user_mount.take() {
                Some(h) => (h, live.record.name.clone()),
                None => return Ok(Vec::new()),
            }
        };
        let before = held.views(c, &name);
        let give_back = |held: HeldRoot| c.lock().user_mount = Some(held);
        let mut binds = std::mem::take(&mut held.binds);
        let mut result = Ok(());
        binds.retain(|b| {
            if result.is_err() || only.is_some_and(|o| o != b.as_path()) {
                return true;
            }
            match rustix::mount::unmount(b, rustix::mount::UnmountFlags::empty()) {
                Ok(()) => false,
                Err(e) if e == rustix::io::Errno::INVAL => false,
                Err(e) => {
                    result = Err(Error::conflict(format!(
                        "unmounting {}: {}",
                        b.display(),
                        io::Error::from(e)
                    )));
                    true
                }
            }
        });
        held.binds = binds;
        if only.is_none_or(|o| o == merged) {
            held.at_merged = false;
        }
        if let Err(e) = result {
            give_back(held);
            return Err(e);
        }
        if held.at_merged || !held.binds.is_empty() {
            let after = held.views(c, &name);
            give_back(held);
            return Ok(before.into_iter().filter(|v| !after.contains(v)).collect());
        }
        if let Some(session) = held.idle.take() {
            match crate::fs::unmount(&merged) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {}
                Err(e) => {
                    held.idle = Some(session);
                    held.at_merged = true;
                    give_back(held);
                    return Err(Error::conflict(format!("unmounting {}: {e}", merged.display())));
                }
            }
            if let Err(e) = session.join() {
                tracing::warn!("the session of {}: {e}", merged.display());
            }
        }
        tracing::info!(container = %&c.id[..12], "unmounted");
        Ok(before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_point_must_be_an_empty_directory_outside_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(store.join("mounts")).unwrap();
        std::fs::create_dir(&empty).unwrap();
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        let check = |p: &Path| existing_dir(p, "the mount point", &store, true).map_err(|e| e.to_string());
        assert_eq!(check(&empty).unwrap(), std::fs::canonicalize(&empty).unwrap());
        for (path, said) in [
            (PathBuf::from("relative"), "not an absolute path"),
            (tmp.path().join("missing"), "does not exist"),
            (tmp.path().join("file"), "is not a directory"),
            (tmp.path().to_path_buf(), "is inside the daemon's store (or holds it)"),
            (store.join("mounts"), "is inside the daemon's store"),
        ] {
            let err = check(&path).unwrap_err();
            assert!(err.contains(said), "{}: {err}", path.display());
        }
        std::fs::write(empty.join("f"), b"").unwrap();
        assert!(check(&empty).unwrap_err().ends_with("is not empty"));
    }

    #[test]
    fn the_work_directory_is_beside_the_upper_and_apart_from_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, upper, mnt) = (tmp.path().join("s"), tmp.path().join("up"), tmp.path().join("mnt"));
        for d in [&store, &upper, &mnt] {
            std::fs::create_dir(d).unwrap();
        }
        let upper = std::fs::canonicalize(&upper).unwrap();
        let work = work_dir(&upper, None, &mnt, &store).unwrap();
        assert_eq!(work, upper.with_file_name("up.work"));
        assert!(work.is_dir());
        let inside = upper.join("w");
        std::fs::create_dir(&inside).unwrap();
        let err = work_dir(&upper, Some(&inside), &mnt, &store).unwrap_err().to_string();
        assert!(err.contains("contain one another"), "{err}");
    }
}
