//! The merge rule of a lookup, apart from the layers it reads: which
//! object a name shows and which directories merge under it. Topmost
//! first, a whiteout hides everything below it; the first object found
//! is shown; only directories merge with what is below them, until an
//! opaque one; a redirect (a renamed directory) sends the rest of the walk
//! to the layers below at the redirect's target.

use super::lookup::READ_AHEAD_MIN;
use crate::fs::FsResult;
use crate::fs::layer::split;

/// One layer's answer for a name, as the rule sees it.
pub(super) enum Seen<T> {
    Absent,
    Whiteout,
    File(T),
    Dir(T),
}

/// What the walk asks of the layers: the mount's (`lookup`), or a test's.
pub(super) trait Layers {
    type Object;
    /// What layer `layer` holds at `path`.
    fn probe(&self, layer: usize, dir: &[u8], leaf: &[u8]) -> FsResult<Seen<Self::Object>>;
    /// Whether the directory at `path` in `layer` is opaque, and where it
    /// redirects the walk (only where a redirect is honoured).
    fn markers(&self, layer: usize, path: &[u8]) -> FsResult<(bool, Option<Vec<u8>>)>;
    /// The lower layers that may hold the name, and its path in each: asked
    /// only once the upper candidates are passed.
    fn lower_candidates(&self) -> FsResult<Vec<(usize, Vec<u8>)>>;
    /// Told, once, of the candidates left when a directory goes on through
    /// many more layers (`READ_AHEAD_MIN`).
    fn read_ahead(&self, rest: &[(usize, Vec<u8>)]);
    /// The layers below `layer`, topmost first.
    fn below(&self, layer: usize) -> std::ops::Range<usize>;
}

/// What the walk found: the object shown (its layer and path there) and
/// the directories merged under it, itself first.
pub(super) struct Walked<T> {
    pub(super) shown: Option<(usize, T, Vec<u8>)>,
    pub(super) merge: Vec<(usize, Vec<u8>)>,
}

/// Walks the candidates (layer, path of the name there), the upper ones
/// given, the lower ones asked for when those are passed.
pub(super) fn walk<L: Layers>(layers: &L, mut candidates: Vec<(usize, Vec<u8>)>) -> FsResult<Walked<L::Object>> {
    let mut lower_pending = true;
    let mut read_ahead = false;
    let mut shown = None;
    let mut merge = Vec::new();
    let mut i = 0;
    loop {
        if i == candidates.len() {
            if !lower_pending {
                break;
            }
            lower_pending = false;
            candidates.extend(layers.lower_candidates()?);
            continue;
        }
        let (l, path) = candidates[i].clone();
        i += 1;
        let (dir, leaf) = split(&path);
        let (object, is_dir) = match layers.probe(l, dir, leaf)? {
            Seen::Absent => continue,
            Seen::Whiteout => break,
            Seen::File(o) => (o, false),
            Seen::Dir(o) => (o, true),
        };
        if shown.is_none() {
            shown = Some((l, object, path.clone()));
        }
        // Only directories merge with what is below them.
        if !is_dir {
            break;
        }
        merge.push((l, path.clone()));
        if !read_ahead && candidates.len() - i >= READ_AHEAD_MIN {
            // A directory that goes on through many layers: what this loop
            // reads of them, read ahead at once.
            read_ahead = true;
            layers.read_ahead(&candidates[i..]);
        }
        let (opaque, redirect) = layers.markers(l, &path)?;
        if opaque {
            break;
        }
        if let Some(target) = redirect {
            candidates = layers.below(l).map(|x| (x, target.clone())).collect();
            i = 0;
            lower_pending = false;
        }
    }
    Ok(Walked { shown, merge })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::HashMap;

    /// Layers 0 (upper) to `count - 1`, holding `objects` by (layer, path).
    #[derive(Default)]
    struct Fake {
        count: usize,
        files: HashMap<(usize, &'static str), &'static str>,
        dirs: HashMap<(usize, &'static str), &'static str>,
        whiteouts: Vec<(usize, &'static str)>,
        opaque: Vec<(usize, &'static str)>,
        redirects: HashMap<(usize, &'static str), &'static str>,
        asked_lower: Cell<bool>,
    }

    impl Layers for Fake {
        type Object = &'static str;
        fn probe(&self, layer: usize, dir: &[u8], leaf: &[u8]) -> FsResult<Seen<&'static str>> {
            let path = String::from_utf8(crate::fs::layer::join(dir, leaf)).unwrap();
            let key = |m: &HashMap<(usize, &'static str), &'static str>| m.get(&(layer, path.as_str())).copied();
            Ok(if let Some(o) = key(&self.files) {
                Seen::File(o)
            } else if let Some(o) = key(&self.dirs) {
                Seen::Dir(o)
            } else if self.whiteouts.contains(&(layer, path.as_str())) {
                Seen::Whiteout
            } else {
                Seen::Absent
            })
        }
        fn markers(&self, layer: usize, path: &[u8]) -> FsResult<(bool, Option<Vec<u8>>)> {
            let path = std::str::from_utf8(path).unwrap();
            let redirect = self.redirects.get(&(layer, path)).map(|t| t.as_bytes().to_vec());
            Ok((self.opaque.contains(&(layer, path)), redirect))
        }
        fn lower_candidates(&self) -> FsResult<Vec<(usize, Vec<u8>)>> {
            self.asked_lower.set(true);
            Ok((1..self.count).map(|l| (l, b"d/n".to_vec())).collect())
        }
        fn read_ahead(&self, _rest: &[(usize, Vec<u8>)]) {}
        fn below(&self, layer: usize) -> std::ops::Range<usize> {
            layer + 1..self.count
        }
    }

    fn run(fake: &Fake) -> (Option<(usize, &'static str)>, Vec<usize>) {
        let w = walk(fake, vec![(0, b"d/n".to_vec())]).unwrap();
        (
            w.shown.map(|(l, o, _)| (l, o)),
            w.merge.iter().map(|(l, _)| *l).collect(),
        )
    }

    #[test]
    fn an_upper_file_hides_the_lower_ones_without_asking_for_them() {
        let mut f = Fake {
            count: 3,
            ..Fake::default()
        };
        f.files.insert((0, "d/n"), "upper");
        f.files.insert((2, "d/n"), "lower");
        assert_eq!(run(&f), (Some((0, "upper")), vec![]));
        assert!(!f.asked_lower.get());
    }

    #[test]
    fn a_whiteout_hides_everything_below_it() {
        let mut f = Fake {
            count: 3,
            ..Fake::default()
        };
        f.whiteouts.push((1, "d/n"));
        f.files.insert((2, "d/n"), "lower");
        assert_eq!(run(&f), (None, vec![]));
        assert!(f.asked_lower.get());
    }

    #[test]
    fn the_topmost_object_shows_and_directories_merge_until_an_opaque_one() {
        let mut f = Fake {
            count: 5,
            ..Fake::default()
        };
        f.dirs.insert((1, "d/n"), "one");
        f.dirs.insert((2, "d/n"), "two");
        f.dirs.insert((3, "d/n"), "three");
        f.dirs.insert((4, "d/n"), "four");
        f.opaque.push((3, "d/n"));
        assert_eq!(run(&f), (Some((1, "one")), vec![1, 2, 3]));
    }

    #[test]
    fn a_file_below_a_directory_ends_the_merge() {
        let mut f = Fake {
            count: 3,
            ..Fake::default()
        };
        f.dirs.insert((0, "d/n"), "upper");
        f.files.insert((1, "d/n"), "file");
        f.dirs.insert((2, "d/n"), "below the file");
        assert_eq!(run(&f), (Some((0, "upper")), vec![0]));
    }

    #[test]
    fn a_redirect_sends_the_walk_below_to_its_target() {
        let mut f = Fake {
            count: 3,
            ..Fake::default()
        };
        f.dirs.insert((0, "d/n"), "moved");
        f.redirects.insert((0, "d/n"), "old/place");
        f.dirs.insert((1, "d/n"), "not looked at");
        f.dirs.insert((2, "old/place"), "content");
        assert_eq!(run(&f), (Some((0, "moved")), vec![0, 2]));
        assert!(!f.asked_lower.get(), "the redirect replaces the lower candidates");
    }
}
