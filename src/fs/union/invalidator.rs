//! Telling the kernel about changes made beside the mount.

use super::UnionFs;
use crate::fs::fuse::Notifier;
use crate::fs::locks;
use crate::fs::nodes::{Nodes, ROOT};
use std::io;
use std::sync::{Arc, Mutex, RwLock};

/// Tells the kernel that something changed in the mounted tree without going
/// through the mount (the daemon writing into a container's upper layer),
/// so the long cache times stay right: the entry, its node and its parent's
/// listing are dropped from the kernel's caches, and the next lookup
/// refreshes this filesystem's own view.
#[derive(Clone)]
pub struct Invalidator {
    pub(super) nodes: Arc<RwLock<Nodes>>,
    pub(super) notifier: Arc<Mutex<Option<Notifier>>>,
}

impl Invalidator {
    /// Connects to the mount's session (`BackgroundSession::notifier`).
    pub fn attach(&self, notifier: Notifier) {
        *locks::lock(&self.notifier) = Some(notifier);
    }

    /// `path` (relative to the mount's root, `a/b`) changed.
    pub fn changed(&self, path: &[u8]) -> io::Result<()> {
        let (parent, child, name) = {
            let nodes = locks::read(&self.nodes);
            let mut parent = ROOT;
            let comps: Vec<&[u8]> = path.split(|&c| c == b'/').filter(|c| !c.is_empty()).collect();
            let Some((last, dirs)) = comps.split_last() else {
                return Ok(());
            };
            for comp in dirs {
                match nodes.child(parent, comp) {
                    Some(ino) => parent = ino,
                    // The kernel knows nothing below an unknown directory.
                    None => return Ok(()),
                }
            }
            (parent, nodes.child(parent, last), last.to_vec())
        };
        let notifier = locks::lock(&self.notifier);
        let Some(n) = notifier.as_ref() else { return Ok(()) };
        // ENOENT: the kernel had nothing cached; that is fine.
        let ok = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        ok(n.inval_entry(parent, &name))?;
        ok(n.inval_inode(parent, 0, 0))?;
        if let Some(ino) = child {
            ok(n.inval_inode(ino, 0, 0))?;
        }
        Ok(())
    }
}

impl UnionFs {
    /// A handle for telling the kernel about changes made beside the mount.
    pub fn invalidator(&self) -> Invalidator {
        Invalidator {
            nodes: self.nodes.clone(),
            notifier: Arc::new(Mutex::new(None)),
        }
    }
}
