//! The volume store: `<root>/volumes/<name>/_data` (what containers mount)
//! beside `volume.json` (driver, labels, options, creation time). A volume
//! is made in `volumes/.new-<name>` and renamed into place, and removed
//! through `volumes/.gone-<name>`, so a crash leaves no half-made volume;
//! both prefixes are swept by [`Volumes::open`]. Volumes outlive their
//! containers and the daemon: only `volume rm`, `volume prune`, `rm -v`
//! and `--rm` (anonymous ones) remove them.

use super::error::{Error, internal};
use crate::sys;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What `volume.json` keeps of a volume.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
}

impl VolumeInfo {
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

pub struct Volumes {
    dir: PathBuf,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "create {}: \"{}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
            crate::quote::excerpt(name, 128),
            crate::quote::excerpt(name, 128)
        )))
    }
}

impl Volumes {
    /// The store's volumes directory, made if missing; leftovers of an
    /// interrupted create or removal swept.
    pub fn open(root: &Path) -> std::io::Result<Volumes> {
        let dir = root.join("volumes");
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(Volumes { dir })
    }

    /// Where a volume's content lives (what a container mounts).
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    pub fn get(&self, name: &str) -> Result<VolumeInfo, Error> {
        let not_found = || Error::not_found(format!("get {}: no such volume", crate::quote::excerpt(name, 128)));
        if validate_name(name).is_err() {
            return Err(not_found());
        }
        let bytes = std::fs::read(self.dir.join(name).join("volume.json")).map_err(|_| not_found())?;
        serde_json::from_slice(&bytes).map_err(|e| Error::internal(format!("volume {name}: {e}")))
    }

    /// Creates a volume (driver `local` only); one that exists is returned
    /// as it is, as Docker does.
    pub fn create(&self, info: VolumeInfo) -> Result<VolumeInfo, Error> {
        validate_name(&info.name)?;
        if !matches!(info.driver.as_str(), "" | "local") {
            return Err(Error::invalid(format!(
                "error looking up volume plugin {}: plugin \"{}\" not found",
                crate::quote::excerpt(&info.driver, 64),
                crate::quote::excerpt(&info.driver, 64)
            )));
        }
        if !info.options.is_empty() {
            return Err(Error::invalid(
                "strata does not support volume driver options (--opt) yet",
            ));
        }
        if let Ok(existing) = self.get(&info.name) {
            return Ok(existing);
        }
        let info = VolumeInfo {
            driver: "local".into(),
            created_at: if info.created_at.is_empty() {
                super::now_rfc3339()
            } else {
                info.created_at
            },
            ..info
        };
        let staging = self.dir.join(format!(".new-{}", info.name));
        let made = (|| -> std::io::Result<()> {
            let _ = std::fs::remove_dir_all(&staging);
            std::fs::create_dir(&staging)?;
            sys::make_private(&staging)?;
            // `_data` itself is the container's: the mode of a fresh volume
            // is Docker's 0755 (the image's content may set another).
            std::fs::create_dir(staging.join("_data"))?;
            let json = serde_json::to_vec_pretty(&info).map_err(std::io::Error::other)?;
            std::fs::write(staging.join("volume.json"), json)?;
            match std::fs::rename(&staging, self.dir.join(&info.name)) {
                // Made meanwhile by another create: theirs stands.
                Err(e) if self.dir.join(&info.name).exists() => {
                    let _ = std::fs::remove_dir_all(&staging);
                    let _ = e;
                }
                other => other?,
            }
            sys::fsync_dir(&self.dir)
        })();
        made.map_err(internal("creating the volume"))?;
        self.get(&info.name)
    }

    pub fn list(&self) -> Vec<VolumeInfo> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<VolumeInfo> = entries
            .flatten()
            .filter_map(|e| self.get(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Removes a volume and its content (the caller checked it is unused).
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        self.get(name)?;
        let gone = self.dir.join(format!(".gone-{name}"));
        std::fs::rename(self.dir.join(name), &gone).map_err(internal("removing the volume"))?;
        let _ = sys::fsync_dir(&self.dir);
        if let Err(e) = std::fs::remove_dir_all(&gone) {
            tracing::warn!("removing {}: {e}", gone.display());
        }
        Ok(())
    }

    /// The bytes a volume's content takes (for prune's `SpaceReclaimed`).
    pub fn size(&self, name: &str) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(meta) = std::fs::symlink_metadata(p) else {
                return 0;
            };
            if meta.is_dir() {
                std::fs::read_dir(p)
                    .map(|d| d.flatten().map(|e| walk(&e.path())).sum())
                    .unwrap_or(0)
            } else {
                meta.len()
            }
        }
        walk(&self.data_dir(name))
    }
}

/// A volume as the API lists it: its record, where it lives, and the
/// containers that use it.
pub struct VolumeView {
    pub info: VolumeInfo,
    pub mountpoint: PathBuf,
    pub users: Vec<String>,
}

impl super::Engine {
    /// Names the anonymous volumes of a new container's mounts and makes
    /// every volume they name that does not exist yet.
    pub(super) fn make_volumes(&self, mounts: &mut [super::mounts::MountEntry]) -> Result<(), Error> {
        for m in mounts.iter_mut().filter(|m| m.kind == super::mounts::MountType::Volume) {
            let mut labels = BTreeMap::new();
            if m.source.is_empty() {
                m.source = super::random_id().map_err(internal("making a volume name"))?;
                m.anonymous = true;
            }
            if m.anonymous {
                labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
            }
            self.create_volume(VolumeInfo {
                name: m.source.clone(),
                labels,
                ..Default::default()
            })?;
        }
        Ok(())
    }

    /// [`Volumes::create`], and its event when the volume is new.
    fn create_volume(&self, info: VolumeInfo) -> Result<VolumeInfo, Error> {
        let existed = self.volumes.get(&info.name).is_ok();
        let info = self.volumes.create(info)?;
        if !existed {
            self.volume_event("create", &info.name, &[]);
        }
        Ok(info)
    }

    /// [`Volumes::remove`], and its event.
    fn destroy_volume(&self, name: &str) -> Result<(), Error> {
        self.volumes.remove(name)?;
        self.volume_event("destroy", name, &[]);
        Ok(())
    }

    /// The containers (IDs) whose mounts name the volume.
    fn volume_users(&self, name: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|c| {
                c.lock()
                    .record
                    .mounts
                    .iter()
                    .any(|m| m.kind == super::mounts::MountType::Volume && m.source == name)
            })
            .map(|c| c.id.clone())
            .collect()
    }

    fn view(&self, info: VolumeInfo) -> VolumeView {
        VolumeView {
            mountpoint: self.volumes.data_dir(&info.name),
            users: self.volume_users(&info.name),
            info,
        }
    }

    /// A volume's content directory on the host.
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.volumes.data_dir(name)
    }

    pub fn volume_create(&self, info: VolumeInfo) -> Result<VolumeView, Error> {
        let info = self.create_volume(info)?;
        Ok(self.view(info))
    }

    pub fn volume(&self, name: &str) -> Result<VolumeView, Error> {
        let info = self.volumes.get(name)?;
        Ok(self.view(info))
    }

    pub fn volume_list(&self) -> Vec<VolumeView> {
        self.volumes.list().into_iter().map(|i| self.view(i)).collect()
    }

    /// `DELETE /volumes/{name}`: 409 while a container uses it, unless
    /// `force` (Docker's rule, which still refuses a volume in use).
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), Error> {
        let v = match self.volume(name) {
            Err(Error::NotFound(_)) if force => return Ok(()),
            other => other?,
        };
        if !v.users.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                v.users.join(", ")
            )));
        }
        self.destroy_volume(name)
    }

    /// `POST /volumes/prune`: unused volumes that `keep` does not hold
    /// back; their names and the bytes freed.
    pub fn volume_prune(&self, keep: impl Fn(&VolumeView) -> bool) -> (Vec<String>, u64) {
        let mut names = Vec::new();
        let mut space = 0;
        for v in self.volume_list() {
            if !v.users.is_empty() || keep(&v) {
                continue;
            }
            let size = self.volumes.size(&v.info.name);
            if self.destroy_volume(&v.info.name).is_ok() {
                names.push(v.info.name);
                space += size;
            }
        }
        (names, space)
    }

    /// `rm -v` and `--rm`: the container's anonymous volumes that no other
    /// container uses.
    pub fn remove_anonymous_volumes(&self, mounts: &[super::mounts::MountEntry]) {
        for m in mounts.iter().filter(|m| m.anonymous) {
            if self.volume_users(&m.source).is_empty()
                && let Err(e) = self.destroy_volume(&m.source)
            {
                tracing::warn!("removing the volume {}: {e}", m.source);
            }
        }
    }
}

/// Fills an empty volume from the image's content at its mount target, as
/// Docker does on a volume's first mount: `root` is the container's mounted
/// root, `target` the container path, resolved beneath `root` (an image's
/// symlink cannot point the copy at the host). Symlinks are copied as
/// symlinks, never followed; owners and modes are kept.
pub fn fill_from_image(root: &Path, target: &str, data: &Path) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    if std::fs::read_dir(data)?.next().is_some() {
        return Ok(());
    }
    let rel = target.trim_start_matches('/');
    let top = match rustix::fs::openat2(
        rustix::fs::CWD,
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::empty(),
    )
    .and_then(|r| {
        rustix::fs::openat2(
            &r,
            if rel.is_empty() { "." } else { rel },
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }) {
        Ok(fd) => fd,
        // Nothing (or not a directory) at the target: nothing to copy.
        Err(_) => return Ok(()),
    };
    let source = PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&top)));
    let meta = std::fs::metadata(&source)?;
    copy_tree(&source, data, 0)?;
    keep_owner_and_mode(data, &meta)
}

fn keep_owner_and_mode(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    match std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid())) {
        // A rootless daemon cannot give files away; they stay its own.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
        other => other?,
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
}

/// Copies the entries of `from` into the existing directory `to`. Every
/// source is read without following a symlink (`symlink_metadata`, and
/// a symlink becomes a symlink); destinations are made new (`create_new`),
/// so nothing outside `to` is written.
fn copy_tree(from: &Path, to: &Path, depth: usize) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    if depth > 256 {
        return Err(std::io::Error::other(
            "the image's tree is too deep to copy into a volume",
        ));
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
            match std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid())) {
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
                other => other?,
            }
            continue;
        }
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst, depth + 1)?;
        } else if ft.is_file() {
            let mut input = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&src)?;
            let mut out = std::fs::OpenOptions::new().write(true).create_new(true).open(&dst)?;
            std::io::copy(&mut input, &mut out)?;
        } else {
            // Devices, fifos and sockets are not copied into a volume.
            continue;
        }
        keep_owner_and_mode(&dst, &meta)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_docker() {
        for ok in ["ab", "data", "a.b-c_d", "0x"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "a", "-a", ".a", "a/b", "a b", "a:b", "../x"] {
            let e = validate_name(bad).unwrap_err();
            assert!(e.to_string().contains("includes invalid characters"), "{e}");
        }
    }

    #[test]
    fn create_get_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let v = Volumes::open(tmp.path()).unwrap();
        let info = v
            .create(VolumeInfo {
                name: "data".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(info.driver, "local");
        assert!(v.data_dir("data").is_dir());
        std::fs::write(v.data_dir("data").join("f"), b"12345").unwrap();
        // Created again: the same volume, its content kept.
        v.create(VolumeInfo {
            name: "data".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v.size("data"), 5);
        assert_eq!(v.list().len(), 1);
        assert!(
            v.create(VolumeInfo {
                name: "x2".into(),
                driver: "nfs".into(),
                ..Default::default()
            })
            .is_err()
        );
        v.remove("data").unwrap();
        assert!(matches!(v.get("data"), Err(Error::NotFound(_))));
        assert!(v.list().is_empty());
    }
}
