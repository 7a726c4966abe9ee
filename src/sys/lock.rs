use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// An exclusive advisory lock on a file, held for the life of the value.
/// Two daemons on one store would corrupt each other's state; the second one
/// is refused at start instead.
#[derive(Debug)]
pub struct LockFile {
    _file: File,
}

impl LockFile {
    pub fn try_lock(path: &Path) -> io::Result<LockFile> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
        Ok(LockFile { _file: file })
    }
}
