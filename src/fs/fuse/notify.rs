//! Notifications to the kernel (messages with `unique` 0 and the code as
//! the error): dropping its cached attributes or pages of an inode
//! (`FUSE_NOTIFY_INVAL_INODE`) and a cached name (`FUSE_NOTIFY_INVAL_ENTRY`).
//! What fuser's `Notifier` did, over our own device handle.

use super::abi;
use super::session::Channel;
use std::io;

/// Sends notifications on a mount's connection. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    channel: Channel,
}

impl Notifier {
    pub(super) fn new(channel: Channel) -> Notifier {
        Notifier { channel }
    }

    /// Drops what the kernel caches of `ino`: its attributes, and its pages
    /// from `offset` for `len` bytes (0: to the end; an `offset` below 0:
    /// no pages). ENOENT (nothing cached) comes back as `NotFound`.
    pub fn inval_inode(&self, ino: u64, offset: i64, len: i64) -> io::Result<()> {
        let mut msg = header(abi::FUSE_NOTIFY_INVAL_INODE, 24);
        msg.extend_from_slice(&ino.to_le_bytes());
        msg.extend_from_slice(&offset.to_le_bytes());
        msg.extend_from_slice(&len.to_le_bytes());
        self.channel.send(&msg)
    }

    /// Drops the kernel's entry `name` in the directory `parent` (and the
    /// directory's cached listing with it).
    pub fn inval_entry(&self, parent: u64, name: &[u8]) -> io::Result<()> {
        let namelen = u32::try_from(name.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut msg = header(abi::FUSE_NOTIFY_INVAL_ENTRY, 16 + name.len() + 1);
        msg.extend_from_slice(&parent.to_le_bytes());
        msg.extend_from_slice(&namelen.to_le_bytes());
        msg.extend_from_slice(&0u32.to_le_bytes()); // flags
        msg.extend_from_slice(name);
        msg.push(0);
        self.channel.send(&msg)
    }
}

/// The out header of a notification `code` with `payload` bytes after it.
fn header(code: i32, payload: usize) -> Vec<u8> {
    let mut msg = Vec::with_capacity(abi::OUT_HEADER_LEN + payload);
    msg.extend_from_slice(&((abi::OUT_HEADER_LEN + payload) as u32).to_le_bytes());
    msg.extend_from_slice(&code.to_le_bytes());
    msg.extend_from_slice(&0u64.to_le_bytes());
    msg
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_entry_notification_carries_its_name_and_nul() {
        let h = super::header(3, 16 + 2);
        assert_eq!(h.len(), 16);
        assert_eq!(u32::from_le_bytes(h[0..4].try_into().unwrap()), 34);
        assert_eq!(i32::from_le_bytes(h[4..8].try_into().unwrap()), 3);
    }
}
