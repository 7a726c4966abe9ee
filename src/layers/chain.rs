//! Chain indexes: an image's layers merged, once, into the view a union
//! mount shows, so that a lookup is one probe in one index however many
//! layers the image has. Built from the per-layer indexes alone (no layer
//! tree is walked), and named by the OCI chain ID of the layer stack.
//!
//! Merge rules (the kernel overlayfs rules, top layer first): the topmost
//! entry for a path wins; directories merge with the directories below them
//! until a non-directory, an opaque directory or a whiteout is met; a
//! whiteout hides its path and everything below it in lower layers. The
//! result has no whiteout entries; each entry names its layer (0 = bottom).

use super::digest::Digest;
use super::index::{EntryKind, IndexBuilder, LayerIndex};
use std::collections::BTreeSet;

/// The OCI chain ID: `chain(L1) = diff_id(L1)`,
/// `chain(L1..Ln) = sha256(chain(L1..Ln-1) + " " + diff_id(Ln))`.
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    let (first, rest) = diff_ids.split_first()?;
    Some(
        rest.iter()
            .fold(*first, |chain, d| Digest::of(format!("{chain} {d}").as_bytes())),
    )
}

/// The strict ancestors of `path` (`a/b/c` → `""`, `a`, `a/b`).
fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let cuts = path.iter().enumerate().filter(|(_, c)| **c == b'/').map(|(i, _)| i);
    std::iter::once(&path[..0])
        .chain(cuts.map(move |i| &path[..i]))
        .filter(move |_| !path.is_empty())
}

/// Merges layer indexes, given bottom first, into a chain index.
pub fn merge<B: AsRef<[u8]>>(layers: &[LayerIndex<B>]) -> IndexBuilder {
    let mut out = IndexBuilder::new();
    // Paths whose lower versions (and everything below them) are gone.
    let mut hidden: BTreeSet<Vec<u8>> = BTreeSet::new();
    // Directories whose lower children are gone (opaque, or merged down to
    // a non-directory).
    let mut sealed: BTreeSet<Vec<u8>> = BTreeSet::new();
    for (pos, layer) in layers.iter().enumerate().rev() {
        // A layer's own markers act only on the layers below it.
        let mut new_hidden = Vec::new();
        let mut new_sealed = Vec::new();
        for rec in layer.iter() {
            let path = rec.path();
            if hidden.contains(path) {
                continue;
            }
            let blocked = ancestors(path).any(|a| {
                hidden.contains(a) || sealed.contains(a) || out.get(a).is_some_and(|e| e.kind != EntryKind::Dir)
            });
            if blocked {
                continue;
            }
            let kind = rec.kind();
            if let Some(above) = out.get(path) {
                // Already visible from above. A directory above a
                // non-directory stops merging there.
                if above.kind == EntryKind::Dir && kind != EntryKind::Dir {
                    new_sealed.push(path.to_vec());
                }
                continue;
            }
            if kind == EntryKind::Whiteout {
                new_hidden.push(path.to_vec());
                continue;
            }
            let mut entry = rec.to_entry();
            if entry.is_opaque() {
                new_sealed.push(path.to_vec());
            }
            entry.layer = pos as u32;
            out.insert(path.to_vec(), entry);
        }
        hidden.extend(new_hidden);
        sealed.extend(new_sealed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::index::{Entry, FLAG_OPAQUE};

    fn file() -> Entry {
        Entry {
            kind: EntryKind::File,
            ..Entry::dir(0o644, 0, 0, 0)
        }
    }
    fn dir() -> Entry {
        Entry::dir(0o755, 0, 0, 0)
    }
    fn layer(entries: &[(&str, Entry)]) -> LayerIndex {
        let mut b = IndexBuilder::new();
        b.insert(Vec::new(), dir());
        for (p, e) in entries {
            b.insert(p.as_bytes().to_vec(), e.clone());
        }
        LayerIndex::from_bytes(b.encode()).unwrap()
    }
    fn view(b: &IndexBuilder) -> Vec<(String, u32)> {
        b.iter()
            .map(|(p, e)| (String::from_utf8(p.clone()).unwrap(), e.layer))
            .collect()
    }

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        assert_eq!(chain_id(&[]), None);
        assert_eq!(chain_id(&[a]), Some(a));
        assert_eq!(chain_id(&[a, b]), Some(Digest::of(format!("{a} {b}").as_bytes())));
    }

    #[test]
    fn ancestors_are_strict() {
        let got: Vec<&[u8]> = ancestors(b"a/b/c").collect();
        assert_eq!(got, vec![&b""[..], b"a", b"a/b"]);
        assert_eq!(ancestors(b"").count(), 0);
    }

    #[test]
    fn merges_like_overlayfs() {
        let mut opaque = dir();
        opaque.flags = FLAG_OPAQUE;
        let bottom = layer(&[
            ("etc", dir()),
            ("etc/passwd", file()),
            ("etc/shadow", file()),
            ("gone", dir()),
            ("gone/deep", file()),
            ("opq", dir()),
            ("opq/old", file()),
            ("x", dir()),
            ("x/under-file", file()),
            ("y", file()),
        ]);
        let middle = layer(&[("x", file()), ("etc/group", file())]);
        let top = layer(&[
            ("etc", dir()),
            ("etc/shadow", Entry::whiteout()),
            ("gone", Entry::whiteout()),
            ("opq", opaque),
            ("opq/new", file()),
            ("x", dir()),
            ("y", dir()),
            ("y/child", file()),
        ]);
        let merged = merge(&[bottom, middle, top]);
        let expected: Vec<(String, u32)> = [
            ("", 2),
            ("etc", 2),
            ("etc/group", 1),
            ("etc/passwd", 0),
            ("opq", 2),
            ("opq/new", 2),
            ("x", 2),
            ("y", 2),
            ("y/child", 2),
        ]
        .iter()
        .map(|(p, l)| (p.to_string(), *l))
        .collect();
        // x: a directory on top of a file on top of a directory; the bottom
        // directory's children must not show through.
        assert_eq!(view(&merged), expected);
    }
}
