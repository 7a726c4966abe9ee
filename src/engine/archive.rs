//! `docker cp`: a path of a container's root stat'ed, read as a tar, or a
//! tar extracted into a directory of it, running or stopped.
//!
//! Everything goes through the container's merged view (the live mount, or
//! one made for the time of the operation), so what is written lands in its
//! writable layer through the union filesystem and `diff` shows it. A path
//! is resolved as Docker resolves it, inside the root: each symlink met is
//! read and followed by hand, an absolute target and `..` restarting from
//! (and never climbing above) the root; the result is a path with no
//! symlink in it, opened with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so a
//! symlink swapped in meanwhile makes the open fail rather than lead out.

use super::error::{Error, internal};
use super::mounts::MountType;
use super::{Container, Engine};
use crate::fs::changes::{Change, ChangeKind};
use crate::layers::untar::{self, ExtractError, ExtractOptions, IntoTree};
use crate::sys::{BeneathDir, Name};
use rustix::fs::{FileType, Stat};
use std::io::{self, Read, Write};
use std::sync::Arc;

/// Docker's `ContainerPathStat`: `mode` in Go's `os.FileMode` bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    /// RFC 3339, UTC.
    pub mtime: String,
    /// For a symlink, the absolute path in the container it resolves to.
    pub link_target: String,
}

/// How a `PUT …/archive` extracts.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyIn {
    pub no_overwrite_dir_non_dir: bool,
    pub copy_uid_gid: bool,
}

/// Symlinks followed in one resolution before it is a loop (Linux's 40
/// is per lookup; Go's FollowSymlinkInScope allows 255).
const MAX_LINKS: usize = 255;

impl Engine {
    /// `HEAD /containers/{id}/archive`: the stat of `path` (a final
    /// symlink not followed). `asked` is the container as the client named
    /// it, for Docker's not-found message.
    pub async fn stat_path(self: &Arc<Self>, c: &Arc<Container>, asked: &str, path: &str) -> Result<PathStat, Error> {
        let (path, asked) = (path.to_string(), asked.to_string());
        self.in_root(c, move |root, mounts| {
            let at = locate(root, mounts, &path, follows_last(&path), &asked)?;
            let st = at.dir.stat_path(&at.rel).map_err(|e| missing(e, &path, &asked))?;
            path_stat(&at, &path, &st).map_err(internal("reading the path"))
        })
        .await
    }

    /// `GET /containers/{id}/archive`: `path` as a tar, its entries named
    /// from its base name down. `started` gets the stat once the path is
    /// found, before the first byte.
    pub async fn archive_path<W: Write + Send + 'static>(
        self: &Arc<Self>,
        c: &Arc<Container>,
        asked: &str,
        path: &str,
        out: W,
        started: impl FnOnce(PathStat) + Send + 'static,
    ) -> Result<u64, Error> {
        let (path, asked) = (path.to_string(), asked.to_string());
        let ids = self.id_shift();
        let written = self
            .in_root(c, move |root, mounts| {
                let at = locate(root, mounts, &path, follows_last(&path), &asked)?;
                let rel = &at.rel;
                let st = at.dir.stat_path(rel).map_err(|e| missing(e, &path, &asked))?;
                let stat = path_stat(&at, &path, &st).map_err(internal("reading the path"))?;
                // Entries are named from the base, so the tar is written from
                // its parent: `rel` is `parent/leaf`. The root of the container
                // is `.`; that of a mount is named after its mount point.
                let (parent, leaf) = match rel.iter().rposition(|&b| b == b'/') {
                    Some(i) => (&rel[..i], rel[i + 1..].to_vec()),
                    None if rel.is_empty() => (&rel[..0], b".".to_vec()),
                    None => (&rel[..0], rel.clone()),
                };
                let contents = path.ends_with("/.");
                let leaf = if contents { b".".to_vec() } else { leaf };
                let from = if leaf == b"." {
                    at.dir.open_dir(rel)
                } else {
                    at.dir.open_dir(parent)
                }
                .map_err(internal("opening the path"))?;
                let entries = subtree(&from, &leaf).map_err(internal("listing the path"))?;
                let mount_name =
                    (rel.is_empty() && !at.target.is_empty() && !contents).then(|| base_name(&path).into_bytes());
                let name = move |r: &[u8]| match &mount_name {
                    Some(m) => [m.as_slice(), r.strip_prefix(b".").unwrap_or(r)].concat(),
                    None => r.to_vec(),
                };
                started(stat);
                let out = io::BufWriter::with_capacity(1 << 16, out);
                let (written, mut out) = crate::fs::export::write_named(&entries, &from, |_| false, ids, out, &name)
                    .map_err(internal("writing the archive"))?;
                out.flush().map_err(internal("writing the archive"))?;
                Ok(written.bytes)
            })
            .await?;
        self.event_of(c, "archive-path", &[]);
        Ok(written)
    }

    /// `PUT /containers/{id}/archive`: the tar `body` extracted into the
    /// directory `path` (a final symlink followed), through the union
    /// filesystem, by the store's extraction rules (a hostile entry stops
    /// it with a 400).
    pub async fn extract_to(
        self: &Arc<Self>,
        c: &Arc<Container>,
        asked: &str,
        path: &str,
        body: impl Read + Send + 'static,
        how: CopyIn,
    ) -> Result<(), Error> {
        if super::mounts::readonly_root(&c.record().host_config) {
            return Err(Error::invalid("container rootfs is marked read-only"));
        }
        let (path, asked) = (path.to_string(), asked.to_string());
        let privileged = crate::sys::is_root();
        let user = c.record().config.user;
        self.in_root(c, move |root, mounts| {
            let at = locate(root, mounts, &path, true, &asked)?;
            if at.readonly {
                return Err(Error::invalid("mounted volume is marked read-only"));
            }
            let st = at.dir.stat_path(&at.rel).map_err(|e| missing(e, &path, &asked))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                return Err(Error::invalid("extraction point is not a directory"));
            }
            let dir = at.dir.open_dir(&at.rel).map_err(internal("opening the directory"))?;
            let owner = if how.copy_uid_gid {
                container_user(root, &user)?
            } else {
                None
            };
            let tree = IntoTree {
                no_overwrite_dir_non_dir: how.no_overwrite_dir_non_dir,
                owner,
            };
            match untar::extract_into(body, &dir, ExtractOptions { privileged }, tree) {
                Ok(done) => {
                    tracing::info!(bytes = done.tar_bytes, path = %path, "copied into the container");
                    Ok(())
                }
                Err(ExtractError::Archive(a)) => Err(Error::invalid(a.to_string())),
                Err(ExtractError::Io(e)) => Err(internal("extracting the archive")(e)),
            }
        })
        .await?;
        self.event_of(c, "extract-to-dir", &[]);
        Ok(())
    }

    /// Runs `f` on the container's merged root and its mounts' targets,
    /// with no start, stop or commit meanwhile.
    async fn in_root<T: Send + 'static>(
        self: &Arc<Self>,
        c: &Arc<Container>,
        f: impl FnOnce(&BeneathDir, &[Reach]) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let _op = c.ops.lock().await;
        if c.lock().removed {
            return Err(Error::not_found(format!("No such container: {}", c.id)));
        }
        let (engine, c) = (self.clone(), c.clone());
        tokio::task::spawn_blocking(move || {
            let record = c.record();
            let image = engine.store.image(&record.image.to_string())?;
            let reach = |target: &str, source: Option<std::path::PathBuf>, readonly| Reach {
                target: target.trim_matches('/').as_bytes().to_vec(),
                source,
                readonly,
                what: "a tmpfs mount",
            };
            let mounts: Vec<Reach> = record
                .mounts
                .iter()
                .map(|m| {
                    let source = match m.kind {
                        MountType::Volume => Some(engine.volumes.data_dir(&m.source)),
                        MountType::Bind => Some(m.source.clone().into()),
                        MountType::Tmpfs => None,
                    };
                    reach(&m.target, source, m.readonly)
                })
                .chain(
                    // Bound over the image's files while it runs.
                    ["etc/hostname", "etc/hosts", "etc/resolv.conf"]
                        .iter()
                        .filter(|_| record.state.is_running())
                        .map(|p| Reach {
                            what: "a file the runtime binds",
                            ..reach(p, None, true)
                        }),
                )
                .collect();
            engine.with_root(&c, &image.config, |merged, _upper, _ids| f(merged, &mounts))
        })
        .await
        .map_err(|e| Error::internal(format!("copy task failed: {e}")))?
    }

    fn id_shift(&self) -> crate::fs::export::IdShift {
        if crate::sys::is_root() {
            return Default::default();
        }
        let (uid, gid) = crate::sys::ids();
        crate::fs::export::IdShift {
            uid: Some((uid, 0)),
            gid: Some((gid, 0)),
        }
    }
}

/// The uid and gid of the container's `User` (`copyUIDGID`), names
/// looked up in the container's own `/etc/passwd` and `/etc/group`. No
/// `User` keeps the archive's owners, as Docker does.
fn container_user(root: &BeneathDir, user: &str) -> Result<Option<(u32, u32)>, Error> {
    if user.is_empty() {
        return Ok(None);
    }
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    let unknown = || Error::invalid(format!("unable to find user {u}: no matching entries in passwd file"));
    let (uid, primary) = match u.parse::<u32>() {
        Ok(uid) => (
            uid,
            lookup(root, b"etc/passwd", u, 0).and_then(|f| f.get(3)?.parse().ok()),
        ),
        Err(_) => {
            let fields = lookup(root, b"etc/passwd", u, 0).ok_or_else(unknown)?;
            let uid = fields.get(2).and_then(|v| v.parse().ok()).ok_or_else(unknown)?;
            (uid, fields.get(3).and_then(|v| v.parse().ok()))
        }
    };
    let gid = match g {
        "" => primary.unwrap_or(0),
        g => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup(root, b"etc/group", g, 0)
                .and_then(|f| f.get(2)?.parse().ok())
                .ok_or_else(|| {
                    Error::invalid(format!("unable to find group {g}: no matching entries in group file"))
                })?,
        },
    };
    Ok(Some((uid, gid)))
}

/// The `:`-separated fields of the line of `file` (in the container's
/// root, opened without following symlinks) whose field `key` (or, for a
/// number, field 2) is `name`.
fn lookup(root: &BeneathDir, file: &[u8], name: &str, key: usize) -> Option<Vec<String>> {
    let mut text = String::new();
    root.open_file(file, rustix::fs::OFlags::RDONLY)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    let by_id = name.parse::<u32>().is_ok();
    text.lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.get(if by_id { 2 } else { key }).map(String::as_str) == Some(name))
}

/// Docker resolves the last component of a path ending in `/` or `/.`.
fn follows_last(path: &str) -> bool {
    path.ends_with('/') || path.ends_with("/.")
}

/// A missing path (or one under a non-directory) is Docker's 404.
fn missing(e: io::Error, path: &str, asked: &str) -> Error {
    if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) {
        Error::not_found(format!(
            "Could not find the file {} in container {}",
            crate::quote::excerpt(path, 256),
            crate::quote::excerpt(asked, 128)
        ))
    } else {
        internal("resolving the path")(e)
    }
}

/// A mount of the container as `cp` reaches it: its target (relative),
/// where its files are on the host (`None`: a tmpfs, or a file the runtime
/// binds, only inside the container's namespace), read-only or not.
struct Reach {
    target: Vec<u8>,
    source: Option<std::path::PathBuf>,
    readonly: bool,
    /// What it is, for the refusal of one without a source.
    what: &'static str,
}

/// Where a path of the container is: a directory (the merged root, or a
/// volume's or bind's source) and the path beneath it.
struct Located {
    dir: BeneathDir,
    rel: Vec<u8>,
    /// The mount's target (empty for the root).
    target: Vec<u8>,
    readonly: bool,
}

/// Resolves `path` in the container's root; a path under a volume or bind
/// mount is then resolved again beneath its source, from the mount point
/// down (a symlink there resolves within the mount: the volume's content
/// never leads out of it). A tmpfs, only inside the running container, is
/// refused.
fn locate(root: &BeneathDir, mounts: &[Reach], path: &str, follow_last: bool, asked: &str) -> Result<Located, Error> {
    let rel = resolve(root, path, follow_last).map_err(|e| missing(e, path, asked))?;
    let under = |m: &&Reach| {
        !m.target.is_empty()
            && (rel == m.target || (rel.starts_with(&m.target) && rel.get(m.target.len()) == Some(&b'/')))
    };
    let Some(m) = mounts.iter().filter(under).max_by_key(|m| m.target.len()) else {
        let dir = root.try_clone().map_err(internal("opening the container's root"))?;
        return Ok(Located {
            dir,
            rel,
            target: Vec::new(),
            readonly: false,
        });
    };
    let Some(source) = &m.source else {
        return Err(Error::invalid(format!(
            "copying to or from {} is not supported yet: {} is under /{}",
            m.what,
            crate::quote::excerpt(path, 256),
            String::from_utf8_lossy(&m.target)
        )));
    };
    let dir = BeneathDir::open(source).map_err(|e| missing(e, path, asked))?;
    let rest = String::from_utf8_lossy(&rel[m.target.len()..]).into_owned();
    let rel = resolve(&dir, &rest, follow_last).map_err(|e| missing(e, path, asked))?;
    Ok(Located {
        dir,
        rel,
        target: m.target.clone(),
        readonly: m.readonly,
    })
}

/// `path` (absolute in the container or not) as a path relative to `root`
/// with no symlink and no `..` in it. Symlinks are followed as if `root`
/// were `/`, the last component only when `follow_last`; a missing
/// component ends the lookups (the rest is taken as written), as Go's
/// `FollowSymlinkInScope` does.
pub(crate) fn resolve(root: &BeneathDir, path: &str, follow_last: bool) -> io::Result<Vec<u8>> {
    let mut done: Vec<Vec<u8>> = Vec::new();
    // Components still to walk, the next one last.
    let mut todo: Vec<Vec<u8>> = components(path.as_bytes());
    let mut links = 0;
    let mut missing = false;
    while let Some(comp) = todo.pop() {
        if comp == b".." {
            done.pop();
            continue;
        }
        done.push(comp);
        if missing || (todo.is_empty() && !follow_last) {
            continue;
        }
        let rel = done.join(&b'/');
        let st = match root.stat_path(&rel) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(rustix::io::Errno::LOOP.into());
        }
        let leaf = done.pop().unwrap_or_default();
        let parent = root.open_dir(&done.join(&b'/'))?;
        let target = parent.read_link(Name::new(&leaf).map_err(io::Error::other)?)?;
        if target.first() == Some(&b'/') {
            done.clear();
        }
        todo.extend(components(&target));
    }
    Ok(done.join(&b'/'))
}

/// The non-empty, non-`.` components of `path`, last first.
fn components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .rev()
        .map(<[u8]>::to_vec)
        .collect()
}

fn path_stat(at: &Located, path: &str, st: &Stat) -> io::Result<PathStat> {
    let kind = FileType::from_raw_mode(st.st_mode);
    let link_target = if kind == FileType::Symlink {
        let full = resolve(&at.dir, &String::from_utf8_lossy(&at.rel), true)?;
        let full = [at.target.as_slice(), b"/", full.as_slice()].concat();
        format!("/{}", String::from_utf8_lossy(&full).trim_matches('/'))
    } else {
        String::new()
    };
    Ok(PathStat {
        name: base_name(path),
        size: st.st_size,
        mode: go_file_mode(st.st_mode),
        mtime: crate::time::format_rfc3339(st.st_mtime, st.st_mtime_nsec as u32),
        link_target,
    })
}

/// Go's `filepath.Base` of the path made absolute.
fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit('/').next() {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => "/".to_string(),
    }
}

/// `st_mode` as Go's `os.FileMode`, as Docker sends it.
pub fn go_file_mode(mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const NAMED_PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR_DEVICE: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = mode & 0o777;
    m |= match FileType::from_raw_mode(mode) {
        FileType::Directory => DIR,
        FileType::Symlink => SYMLINK,
        FileType::Fifo => NAMED_PIPE,
        FileType::Socket => SOCKET,
        FileType::BlockDevice => DEVICE,
        FileType::CharacterDevice => DEVICE | CHAR_DEVICE,
        _ => 0,
    };
    for (bit, go) in [(0o4000, SETUID), (0o2000, SETGID), (0o1000, STICKY)] {
        if mode & bit != 0 {
            m |= go;
        }
    }
    m
}

/// `leaf` of `dir` and, for a directory, everything below it, parents
/// first, as additions (what `write_layer` writes).
fn subtree(dir: &BeneathDir, leaf: &[u8]) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    let mut todo: Vec<Vec<u8>> = vec![leaf.to_vec()];
    while let Some(rel) = todo.pop() {
        let st = dir.stat_path(&rel)?;
        out.push(Change {
            path: [b"/", rel.as_slice()].concat(),
            kind: ChangeKind::Added,
        });
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            continue;
        }
        let mut names = dir.open_dir(&rel)?.entry_names()?;
        names.sort();
        for name in names.into_iter().rev() {
            todo.push([rel.as_slice(), b"/", name.as_slice()].concat());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("etc/real")).unwrap();
        std::fs::write(p.join("etc/real/f"), "f").unwrap();
        std::os::unix::fs::symlink("/../../../etc/real", p.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", p.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("real/f", p.join("etc/rel")).unwrap();
        std::os::unix::fs::symlink("loop", p.join("loop")).unwrap();
        let root = BeneathDir::open(p).unwrap();
        let r = |path: &str, last: bool| String::from_utf8(resolve(&root, path, last).unwrap()).unwrap();
        assert_eq!(r("/escape/f", false), "etc/real/f");
        assert_eq!(r("/escape", false), "escape", "a last symlink is kept");
        assert_eq!(r("/escape", true), "etc/real");
        assert_eq!(r("/etc/up/etc/real", true), "etc/real", "`..` stops at the root");
        assert_eq!(r("etc/rel", true), "etc/real/f");
        assert_eq!(r("/../../nope/x/../y", true), "nope/y");
        let e = resolve(&root, "/loop", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(rustix::io::Errno::LOOP.raw_os_error()));
    }

    #[test]
    fn modes_are_go_file_modes() {
        assert_eq!(go_file_mode(0o040755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o120777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(0o104755), (1 << 23) | 0o755);
        assert_eq!(go_file_mode(0o020666), (1 << 26) | (1 << 21) | 0o666);
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("/a/."), ".");
    }

    #[test]
    fn a_subtree_is_listed_parents_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("d/e")).unwrap();
        std::fs::write(p.join("d/e/f"), "f").unwrap();
        std::fs::write(p.join("d/a"), "a").unwrap();
        let root = BeneathDir::open(p).unwrap();
        let paths: Vec<String> = subtree(&root, b"d")
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(&c.path).into_owned())
            .collect();
        assert_eq!(paths, ["/d", "/d/a", "/d/e", "/d/e/f"]);
    }
}
