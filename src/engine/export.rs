//! `export`: a container's whole root (its image's layers and its writable
//! layer, merged), as a tar, the way `docker export` writes it. Read
//! through the container's mount (the live one, or one made for the time
//! of the export), every path opened beneath the root, so no symlink ever
//! leads out of it.

use super::error::{Error, internal};
use super::{Container, Engine};
use crate::fs::changes::{Change, ChangeKind};
use crate::sys::{BeneathDir, Name};
use rustix::fs::FileType;
use std::io::{self, Write};
use std::sync::Arc;

impl Engine {
    /// Writes the container's root to `out` as a tar. `started` is called
    /// once the root is mounted and listed, right before the first byte:
    /// until then a failure is only this function's error.
    pub async fn export<W: Write + Send + 'static>(
        self: &Arc<Self>,
        c: &Arc<Container>,
        out: W,
        started: impl FnOnce() + Send + 'static,
    ) -> Result<u64, Error> {
        // No start, stop or commit meanwhile: a stopped container's root is
        // mounted for the export alone.
        let _op = c.ops.lock().await;
        if c.lock().removed {
            return Err(Error::not_found(format!("No such container: {}", c.id)));
        }
        let (engine, c2) = (self.clone(), c.clone());
        let written = tokio::task::spawn_blocking(move || engine.export_blocking(&c2, out, started))
            .await
            .map_err(|e| Error::internal(format!("export task failed: {e}")))??;
        self.event_of(c, "export", &[]);
        Ok(written)
    }

    fn export_blocking<W: Write>(&self, c: &Container, out: W, started: impl FnOnce()) -> Result<u64, Error> {
        let record = c.record();
        let image = self.store.image(&record.image.to_string())?;
        self.with_root(c, &image.config, |merged, _upper, ids| {
            let paths = whole_tree(merged).map_err(internal("reading the container's root"))?;
            started();
            let out = io::BufWriter::with_capacity(1 << 16, out);
            let (written, mut out) = crate::fs::export::write_layer(&paths, merged, |_| false, ids, out)
                .map_err(internal("writing the export"))?;
            out.flush().map_err(internal("writing the export"))?;
            Ok(written.bytes)
        })
    }
}

/// Every path under `root` as an addition, in the order a walk of the tree
/// meets them (a directory, then what it holds, names sorted). Directories
/// are opened from `root` by path one at a time, so depth costs no file
/// descriptors.
fn whole_tree(root: &BeneathDir) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    // Paths still to visit, the next one last; each flagged a directory or not.
    let mut todo: Vec<(Vec<u8>, bool)> = vec![(Vec::new(), true)];
    while let Some((rel, is_dir)) = todo.pop() {
        if !rel.is_empty() {
            out.push(Change {
                path: [b"/", rel.as_slice()].concat(),
                kind: ChangeKind::Added,
            });
        }
        if !is_dir {
            continue;
        }
        let dir = root.open_dir(&rel)?;
        let mut names = dir.entry_names()?;
        names.sort();
        for name in names.into_iter().rev() {
            let st = dir.stat(Name::new(&name).map_err(io::Error::other)?)?;
            let child_is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            let child = if rel.is_empty() {
                name
            } else {
                [rel.as_slice(), b"/", name.as_slice()].concat()
            };
            todo.push((child, child_is_dir));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_tree_is_listed_parents_first_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("b/deep/er")).unwrap();
        std::fs::write(p.join("b/deep/er/f"), "f").unwrap();
        std::fs::write(p.join("a"), "a").unwrap();
        std::fs::write(p.join("c"), "c").unwrap();
        std::os::unix::fs::symlink("/etc", p.join("b/link")).unwrap();
        let root = BeneathDir::open(p).unwrap();
        let paths: Vec<String> = whole_tree(&root)
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(&c.path).into_owned())
            .collect();
        assert_eq!(
            paths,
            ["/a", "/b", "/b/deep", "/b/deep/er", "/b/deep/er/f", "/b/link", "/c"]
        );
    }
}
