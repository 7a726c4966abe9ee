//! Passthrough backings, as fuser's `examples/passthrough.rs` keeps them in
//! its `BackingCache`: one kernel backing per (inode, layer), shared by all
//! the passthrough opens of it and dropped on the last one's release (a
//! copy-up makes a new one for the upper copy). Beside them, the page-cache
//! opens of each inode: the kernel refuses passthrough and page-cache opens
//! of one inode at once, so either kind keeps the other out.
//!
//! Generic over the backing (`fuse::BackingId` in the mount) so that the
//! rule can be tested without a kernel.

use crate::fs::locks;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

pub(super) struct Backings<B> {
    /// One lock for all three maps: a check of one and a change of another
    /// (a passthrough open seeing no page-cache open) are one step.
    state: Mutex<State<B>>,
}

struct State<B> {
    /// The live backing of each (inode, layer), owned by its handles.
    shared: HashMap<(u64, usize), Weak<B>>,
    /// Passthrough handles and the backing each holds.
    by_handle: HashMap<u64, Arc<B>>,
    /// Inodes with page-cache opens, and their handles.
    cached: HashMap<u64, HashSet<u64>>,
}

impl<B> Backings<B> {
    pub(super) fn new() -> Backings<B> {
        Backings {
            state: Mutex::new(State {
                shared: HashMap::new(),
                by_handle: HashMap::new(),
                cached: HashMap::new(),
            }),
        }
    }

    /// Counts a page-cache open of `ino` by the handle `fh`, unless `ino`
    /// has a passthrough backing alive (then the open must be passthrough
    /// too) and `force` is not given.
    pub(super) fn start_cached(&self, ino: u64, fh: u64, force: bool) -> bool {
        let mut state = locks::lock(&self.state);
        if !force && state.shared.iter().any(|((i, _), w)| *i == ino && w.strong_count() > 0) {
            return false;
        }
        state.cached.entry(ino).or_default().insert(fh);
        true
    }

    /// The backing the passthrough open `fh` of `ino` in `layer` holds
    /// until its release: the live one, or one made by `make`. `Ok(None)`
    /// while `ino` has page-cache opens; `make`'s error when it fails.
    pub(super) fn share<E>(
        &self,
        ino: u64,
        layer: usize,
        fh: u64,
        make: impl FnOnce() -> Result<B, E>,
    ) -> Result<Option<Arc<B>>, E> {
        let mut state = locks::lock(&self.state);
        let backing = match state.shared.get(&(ino, layer)).and_then(Weak::upgrade) {
            Some(b) => b,
            None if state.cached.contains_key(&ino) => return Ok(None),
            None => {
                let b = Arc::new(make()?);
                state.shared.insert((ino, layer), Arc::downgrade(&b));
                b
            }
        };
        state.by_handle.insert(fh, backing.clone());
        Ok(Some(backing))
    }

    /// The handle `fh` (an open of `ino`, if it was one) is released: its
    /// page-cache open ends, or its hold on a backing, which goes with its
    /// last holder.
    pub(super) fn release(&self, ino: Option<u64>, fh: u64) {
        let held = {
            let mut state = locks::lock(&self.state);
            if let Some(ino) = ino
                && let Some(set) = state.cached.get_mut(&ino)
            {
                set.remove(&fh);
                if set.is_empty() {
                    state.cached.remove(&ino);
                }
            }
            state.by_handle.remove(&fh)
        };
        if held.is_some() {
            // Dropped outside the lock: the last holder closes the backing
            // in the kernel.
            drop(held);
            locks::lock(&self.state).shared.retain(|_, w| w.strong_count() > 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A backing that says which `make` made it.
    #[derive(Debug, PartialEq)]
    struct Made(u32);

    fn share(b: &Backings<Made>, made: &Cell<u32>, ino: u64, layer: usize, fh: u64) -> Option<Arc<Made>> {
        b.share(ino, layer, fh, || {
            made.set(made.get() + 1);
            Ok::<_, ()>(Made(made.get()))
        })
        .unwrap()
    }

    #[test]
    fn opens_of_one_inode_share_a_backing_until_the_last_release() {
        let (b, made) = (Backings::new(), Cell::new(0));
        let first = share(&b, &made, 7, 0, 1).unwrap();
        let second = share(&b, &made, 7, 0, 2).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(made.get(), 1);
        // Another layer's object (the upper copy) is another backing.
        let upper = share(&b, &made, 7, 1, 3).unwrap();
        assert_eq!(*upper, Made(2));
        let weak = Arc::downgrade(&first);
        drop((first, second, upper));
        b.release(Some(7), 1);
        assert!(weak.upgrade().is_some(), "handle 2 still holds it");
        b.release(Some(7), 2);
        assert!(weak.upgrade().is_none(), "dropped on the last release");
        assert_eq!(*share(&b, &made, 7, 0, 4).unwrap(), Made(3));
    }

    #[test]
    fn page_cache_and_passthrough_opens_keep_each_other_out() {
        let (b, made) = (Backings::new(), Cell::new(0));
        assert!(b.start_cached(5, 1, false));
        assert!(share(&b, &made, 5, 0, 2).is_none());
        assert_eq!(made.get(), 0);
        // Another inode is not concerned.
        let other = share(&b, &made, 6, 0, 3).unwrap();
        assert!(!b.start_cached(6, 4, false));
        assert!(b.start_cached(6, 4, true), "forced: counted anyway");
        b.release(Some(5), 1);
        assert!(share(&b, &made, 5, 0, 5).is_some());
        drop(other);
        b.release(Some(6), 3);
        b.release(Some(6), 4);
        assert!(b.start_cached(6, 6, false));
    }

    #[test]
    fn a_failed_make_shares_nothing() {
        let b: Backings<Made> = Backings::new();
        assert_eq!(b.share(1, 0, 1, || Err("refused")), Err("refused"));
        assert!(b.start_cached(1, 2, false));
    }
}
