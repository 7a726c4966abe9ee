//! A writable layer's changes over its image, classified as `docker diff`
//! does (see shared/notes/diff-commit.md), from the upper directory and the
//! image's merged index alone: the cost follows the number of changes, not
//! the size of the image.

use super::layer::{OPAQUE_MARKER, REAL_DEVICE_XATTR, WHITEOUT_PREFIX, file_type, is_whiteout_device, join};
use super::override_stat;
use crate::layers::index::{Entry, EntryKind, LayerIndex};
use crate::sys::{self, BeneathDir, Name};
use rustix::fs::{FileType, Stat};
use std::collections::BTreeSet;
use std::io;

/// Docker's change kinds, with its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path, absolute (`/etc/passwd`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub path: Vec<u8>,
    pub kind: ChangeKind,
}

/// Paths a container runtime makes itself; Docker does not list them.
const RUNTIME_PATHS: [&[u8]; 10] = [
    b"/dev",
    b"/proc",
    b"/sys",
    b"/.dockerenv",
    b"/etc/hostname",
    b"/etc/hosts",
    b"/etc/resolv.conf",
    b"/etc/mtab",
    b"/run/.containerenv",
    b"/dev/console",
];

fn is_runtime_path(p: &[u8]) -> bool {
    RUNTIME_PATHS
        .iter()
        .any(|r| p == *r || (p.starts_with(r) && p.get(r.len()) == Some(&b'/')))
}

const REDIRECTS: [&str; 2] = ["trusted.overlay.redirect", "user.overlay.redirect"];
const OPAQUES: [&str; 3] = [
    "trusted.overlay.opaque",
    "user.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];
const CAPABILITY: &str = "security.capability";

struct Walk<'a, B: AsRef<[u8]>> {
    lower: &'a LayerIndex<B>,
    out: BTreeSet<Change>,
}

/// The changes the upper layer `upper` makes to the image whose merged
/// index (its chain index) is `lower`, sorted by path (parents first).
pub fn changes<B: AsRef<[u8]>>(upper: &BeneathDir, lower: &LayerIndex<B>) -> io::Result<Vec<Change>> {
    let mut w = Walk {
        lower,
        out: BTreeSet::new(),
    };
    w.dir(upper, b"", Some(b"".to_vec()), false, is_opaque(upper)?)?;
    let mut list: Vec<Change> = w.out.into_iter().filter(|c| !is_runtime_path(&c.path)).collect();
    list.sort_by(|a, b| a.path.cmp(&b.path));
    list.dedup_by(|a, b| a.path == b.path);
    Ok(list)
}

fn absolute(path: &[u8]) -> Vec<u8> {
    let mut p = b"/".to_vec();
    p.extend_from_slice(path);
    p
}

pub(super) fn is_opaque(dir: &BeneathDir) -> io::Result<bool> {
    for name in OPAQUES {
        if sys::xattr::get(dir.as_fd(), name)?.is_some_and(|v| v == b"y") {
            return Ok(true);
        }
    }
    Ok(dir.stat(Name::new(OPAQUE_MARKER).map_err(io::Error::other)?).is_ok())
}

fn redirect(dir: &BeneathDir) -> io::Result<Option<Vec<u8>>> {
    for name in REDIRECTS {
        if let Some(v) = sys::xattr::get(dir.as_fd(), name)? {
            let v: Vec<u8> = v.into_iter().take_while(|&c| c != 0).collect();
            return Ok(v.strip_prefix(b"/").map(<[u8]>::to_vec));
        }
    }
    Ok(None)
}

fn kind_of(st: &Stat) -> EntryKind {
    match file_type(st) {
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink,
        FileType::CharacterDevice => EntryKind::CharDevice,
        FileType::BlockDevice => EntryKind::BlockDevice,
        FileType::Fifo => EntryKind::Fifo,
        _ => EntryKind::File,
    }
}

/// Docker's comparison: type, permission bits, owner, device numbers; for
/// non-directories also size and mtime (same second when either side has
/// no nanoseconds); and `security.capability`.
fn differs(st: &Stat, capability: &[u8], e: &Entry) -> bool {
    let kind = kind_of(st);
    if kind != e.kind || st.st_mode & 0o7777 != e.mode || st.st_uid != e.uid || st.st_gid != e.gid {
        return true;
    }
    if matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice)
        && (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)) != (e.rdev_major, e.rdev_minor)
    {
        return true;
    }
    if kind != EntryKind::Dir {
        let (sec, nsec) = (st.st_mtime, st.st_mtime_nsec as u32);
        let same_time = sec == e.mtime_sec && (nsec == e.mtime_nsec || nsec == 0 || e.mtime_nsec == 0);
        if st.st_size as u64 != e.size || !same_time {
            return true;
        }
    }
    capability != e.capability.as_slice()
}

/// The file capability Docker compares (`security.capability`, or the copy
/// kept aside by `privileges_in_xattrs`); none for directories and symlinks.
fn capability(d: &BeneathDir, name: &[u8], st: &Stat) -> io::Result<Vec<u8>> {
    if matches!(file_type(st), FileType::Directory | FileType::Symlink) {
        return Ok(Vec::new());
    }
    let fd = d.open_path(name)?;
    Ok(match sys::xattr::get(&fd, override_stat::KEPT_CAPABILITY_XATTR)? {
        Some(kept) => kept,
        None => sys::xattr::get(&fd, CAPABILITY)?.unwrap_or_default(),
    })
}

impl<B: AsRef<[u8]>> Walk<'_, B> {
    fn add(&mut self, path: &[u8], kind: ChangeKind) {
        self.out.insert(Change {
            path: absolute(path),
            kind,
        });
    }

    /// Walks the upper directory at `path`. `lower_dir` is where its image
    /// content is (None when it has none); `added` when the directory itself
    /// is new (every entry below it is then added); `opaque` when the image
    /// content below it is hidden. Returns whether anything below changed.
    fn dir(
        &mut self,
        d: &BeneathDir,
        path: &[u8],
        lower_dir: Option<Vec<u8>>,
        added: bool,
        opaque: bool,
    ) -> io::Result<bool> {
        let mut names = d.entry_names()?;
        names.sort();
        let mut present: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut changed = false;
        for name in names {
            if name == OPAQUE_MARKER {
                continue;
            }
            let n = Name::new(&name).map_err(io::Error::other)?;
            let mut st = d.stat(n)?;
            let hidden = if let Some(h) = name.strip_prefix(WHITEOUT_PREFIX) {
                Some(h.to_vec())
            } else if is_whiteout_device(&st) && sys::xattr::get(d.open_path(&name)?, REAL_DEVICE_XATTR)?.is_none() {
                Some(name.clone())
            } else {
                None
            };
            // What the runtime makes itself is no change, not even to the
            // directories holding it (Docker keeps it in a separate init layer).
            let target = hidden.as_deref().unwrap_or(&name);
            if is_runtime_path(&absolute(&join(path, target))) {
                present.insert(target.to_vec());
                continue;
            }
            if let Some(h) = hidden {
                present.insert(h.clone());
                let below = lower_dir.as_ref().filter(|_| !added && !opaque);
                if below.is_some_and(|ld| self.lower.get(&join(ld, &h)).is_some()) {
                    self.add(&join(path, &h), ChangeKind::Deleted);
                    changed = true;
                }
                continue;
            }
            present.insert(name.clone());
            // What it is, where the disk may not say it (privileges_in_xattrs).
            override_stat::present_at(d, n, &mut st)?;
            let child = join(path, &name);
            let image = lower_dir
                .as_ref()
                .filter(|_| !added)
                .and_then(|ld| self.lower.get(&join(ld, &name)))
                .map(|r| r.to_entry());
            let is_dir = file_type(&st) == FileType::Directory;
            let sub = if is_dir { Some(d.child_dir(n)?) } else { None };
            match image {
                None => {
                    self.add(&child, ChangeKind::Added);
                    changed = true;
                    if let Some(sub) = sub {
                        let target = redirect(&sub)?;
                        self.dir(&sub, &child, target, true, false)?;
                    }
                }
                Some(e) => {
                    let mut this = differs(&st, &capability(d, &name, &st)?, &e);
                    if let Some(sub) = sub {
                        let (below, new) = if e.kind == EntryKind::Dir {
                            (
                                redirect(&sub)?.or_else(|| lower_dir.as_ref().map(|ld| join(ld, &name))),
                                false,
                            )
                        } else {
                            (None, true)
                        };
                        let sub_opaque = is_opaque(&sub)?;
                        this |= self.dir(&sub, &child, below, new, sub_opaque)?;
                    } else if e.kind == EntryKind::Dir {
                        // A directory replaced by a file: its old entries are gone.
                        let old = lower_dir.as_ref().map(|ld| join(ld, &name)).unwrap_or_default();
                        self.deleted_children(&child, &old);
                    }
                    if this {
                        self.add(&child, ChangeKind::Modified);
                        changed = true;
                    }
                }
            }
        }
        // Otherwise the image's entries are not looked at: they are unchanged.
        if let Some(ld) = lower_dir.as_ref().filter(|_| added || opaque) {
            changed |= self.unlisted_image(path, ld, added, &present);
        }
        Ok(changed)
    }

    /// The entries of the image directory `ld` that the upper directory at
    /// `path` does not list (`present`): no longer shown (it is opaque), or
    /// shown at a new place (`added`: a renamed directory, added here).
    /// Returns whether there were any.
    fn unlisted_image(&mut self, path: &[u8], ld: &[u8], added: bool, present: &BTreeSet<Vec<u8>>) -> bool {
        let children: Vec<(Vec<u8>, bool)> = self
            .lower
            .children(ld)
            .filter(|(n, _)| !present.contains(*n))
            .map(|(n, r)| (n.to_vec(), r.kind() == EntryKind::Dir))
            .collect();
        let any = !children.is_empty();
        for (name, is_dir) in children {
            let child = join(path, &name);
            if added {
                self.add(&child, ChangeKind::Added);
                if is_dir {
                    self.added_tree(&child, &join(ld, &name));
                }
            } else {
                self.add(&child, ChangeKind::Deleted);
            }
        }
        any
    }

    /// Everything below the image directory `lower` shows, newly, at `path`.
    fn added_tree(&mut self, path: &[u8], lower: &[u8]) {
        let below: Vec<Vec<u8>> = self
            .lower
            .below(lower)
            .map(|r| r.path()[lower.len() + 1..].to_vec())
            .collect();
        for rel in below {
            self.add(&join(path, &rel), ChangeKind::Added);
        }
    }

    fn deleted_children(&mut self, path: &[u8], lower: &[u8]) {
        let names: Vec<Vec<u8>> = self.lower.children(lower).map(|(n, _)| n.to_vec()).collect();
        for n in names {
            self.add(&join(path, &n), ChangeKind::Deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::index::IndexBuilder;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    fn entry_of(p: &Path) -> Entry {
        let md = std::fs::symlink_metadata(p).unwrap();
        let kind = if md.is_dir() {
            EntryKind::Dir
        } else if md.file_type().is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::File
        };
        Entry {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: if md.is_dir() { 0 } else { md.len() },
            mtime_sec: md.mtime(),
            mtime_nsec: md.mtime_nsec() as u32,
            ..Entry::dir(0, 0, 0, 0)
        }
    }

    #[test]
    fn classifies_like_docker_diff() {
        let tmp = tempfile::tempdir().unwrap();
        let (image, upper) = (tmp.path().join("image"), tmp.path().join("upper"));
        // The image, as a directory, indexed with its real metadata.
        for d in ["etc", "tree/a", "bin", "opq", "movedir/sub", "keep"] {
            std::fs::create_dir_all(image.join(d)).unwrap();
        }
        for f in [
            "etc/passwd",
            "etc/shadow",
            "etc/same",
            "tree/a/b",
            "bin/sh",
            "opq/old",
            "movedir/sub/x",
            "keep/k",
        ] {
            std::fs::write(image.join(f), f).unwrap();
        }
        let mut b = IndexBuilder::new();
        b.insert(Vec::new(), entry_of(&image));
        for e in walkdir(&image) {
            let rel = e.strip_prefix(&image).unwrap().to_str().unwrap().as_bytes().to_vec();
            b.insert(rel, entry_of(&e));
        }
        let lower = LayerIndex::from_bytes(b.encode()).unwrap();

        // The upper: copies keep the image's metadata (cp -a), as copy-up does.
        std::fs::create_dir(&upper).unwrap();
        let cp = |from: &str, to: &str| {
            assert!(
                std::process::Command::new("cp")
                    .arg("-a")
                    .arg(image.join(from))
                    .arg(upper.join(to))
                    .status()
                    .unwrap()
                    .success()
            );
        };
        std::fs::create_dir(upper.join("etc")).unwrap();
        cp("etc/same", "etc/same");
        cp("etc/passwd", "etc/passwd");
        std::fs::write(upper.join("etc/passwd"), "changed!").unwrap();
        std::fs::write(upper.join("etc/.wh.shadow"), "").unwrap();
        std::fs::write(upper.join("etc/new"), "n").unwrap();
        std::fs::write(upper.join("etc/hostname"), "runtime").unwrap();
        std::fs::write(upper.join(".wh.tree"), "").unwrap();
        std::fs::create_dir_all(upper.join("newdir/sub")).unwrap();
        std::fs::write(upper.join("newdir/sub/f"), "f").unwrap();
        std::fs::create_dir(upper.join("bin")).unwrap();
        cp("bin/sh", "bin/sh");
        std::fs::set_permissions(upper.join("bin/sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(upper.join("opq")).unwrap();
        std::fs::write(upper.join("opq/.wh..wh..opq"), "").unwrap();
        std::fs::write(upper.join("opq/x"), "x").unwrap();
        std::fs::create_dir(upper.join("moved")).unwrap();
        sys::xattr::set(
            BeneathDir::open(&upper.join("moved")).unwrap().as_fd(),
            "user.overlay.redirect",
            b"/movedir",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        std::fs::write(upper.join(".wh.movedir"), "").unwrap();
        std::fs::create_dir(upper.join("keep")).unwrap();
        cp("keep/k", "keep/k");
        // Unchanged copy (same mode, owner, size, mtime): not listed.

        let got: Vec<String> = changes(&BeneathDir::open(&upper).unwrap(), &lower)
            .unwrap()
            .into_iter()
            .map(|c| format!("{} {}", c.kind.letter(), String::from_utf8_lossy(&c.path)))
            .collect();
        let want = [
            "C /bin",
            "C /bin/sh",
            "C /etc",
            "A /etc/new",
            "C /etc/passwd",
            "D /etc/shadow",
            "A /moved",
            "A /moved/sub",
            "A /moved/sub/x",
            "D /movedir",
            "A /newdir",
            "A /newdir/sub",
            "A /newdir/sub/f",
            "C /opq",
            "D /opq/old",
            "A /opq/x",
            "D /tree",
        ];
        assert_eq!(got, want);
    }

    fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.clone());
            if p.is_dir() {
                out.extend(walkdir(&p));
            }
        }
        out
    }
}
