//! Read-only memory maps of files that never change once written.
//!
//! A mapped file that shrinks under the mapping raises SIGBUS on access, so
//! only files that are immutable by construction may be mapped: written to a
//! temporary name, flushed, renamed into place, and never opened for writing
//! again (the store's layer and chain indexes).

use std::fs::File;
use std::io;
use std::path::Path;

/// The bytes of an immutable file, mapped read-only and shared with the page
/// cache (every mount of the same layer shares one copy in memory).
pub struct ImmutableMap(memmap2::Mmap);

impl ImmutableMap {
    /// Maps the file at `path`. The caller vouches that nothing rewrites or
    /// truncates it while the map lives (see the module comment).
    pub fn open(path: &Path) -> io::Result<ImmutableMap> {
        let file = File::open(path)?;
        // SAFETY: the store never writes to a file after renaming it into
        // place (invariant of its callers), so the mapping's bytes do not
        // change and the file is not truncated while mapped.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(ImmutableMap(map))
    }
}

impl AsRef<[u8]> for ImmutableMap {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for ImmutableMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImmutableMap({} bytes)", self.0.len())
    }
}
