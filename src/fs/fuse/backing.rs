//! Passthrough backings (`FUSE_DEV_IOC_BACKING_OPEN`): a file the kernel
//! reads and writes itself for an open, named in the OPEN or CREATE reply
//! by its id, closed (`FUSE_DEV_IOC_BACKING_CLOSE`) when dropped. The
//! union's `backings` keeps one per inode, shared by its opens.

use super::session::Channel;
use std::fs::File;
use std::io;

/// An open backing of a mount's connection.
pub struct BackingId {
    channel: Channel,
    id: u32,
}

impl BackingId {
    /// Registers `file` with the connection (the kernel wants
    /// CAP_SYS_ADMIN: EPERM otherwise).
    pub fn open(channel: &Channel, file: &File) -> io::Result<BackingId> {
        let id = crate::sys::open_backing(channel.fd(), file)?;
        Ok(BackingId {
            channel: channel.clone(),
            id,
        })
    }

    /// The id a reply names it by.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for BackingId {
    fn drop(&mut self) {
        // After the connection ended the kernel has dropped it already.
        if let Err(e) = crate::sys::close_backing(self.channel.fd(), self.id)
            && e.raw_os_error() != Some(libc::ENODEV)
        {
            tracing::warn!("closing passthrough backing {}: {e}", self.id);
        }
    }
}

impl std::fmt::Debug for BackingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackingId({})", self.id)
    }
}
