//! The engine's errors, by kind: what went wrong for the caller, not how a
//! protocol says it. `api` maps each kind to its status code.

use crate::layers;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such container, exec or image (Docker's 404).
    #[error("{0}")]
    NotFound(String),
    /// The container's state forbids it: not running, running, a name in
    /// use (Docker's 409).
    #[error("{0}")]
    Conflict(String),
    /// Refused by the object's own rules: a predefined network, one in
    /// use (Docker's 403).
    #[error("{0}")]
    Forbidden(String),
    /// The request itself is wrong or asks for what is not supported
    /// (Docker's 400).
    #[error("{0}")]
    InvalidArgument(String),
    /// A registry refused the credentials, or wants some (Docker's 401).
    #[error("{0}")]
    Unauthorized(String),
    /// The disk or the quota is full (507).
    #[error("{0}")]
    StorageFull(String),
    /// Anything else the daemon failed at (500).
    #[error("{0}")]
    Internal(String),
    /// From the image store, with its own kinds.
    #[error(transparent)]
    Store(#[from] layers::Error),
}

impl Error {
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::Forbidden(message.into())
    }
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument(message.into())
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }
}

/// An I/O failure while doing `context`: storage full when the disk or the
/// quota is, internal otherwise.
pub(crate) fn internal(context: &str) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| {
        let message = format!("{context}: {e}");
        if matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) {
            Error::StorageFull(message)
        } else {
            Error::Internal(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_not_an_internal_error() {
        let full = internal("writing")(io::Error::from(io::ErrorKind::StorageFull));
        assert!(matches!(full, Error::StorageFull(m) if m.starts_with("writing: ")));
        let other = internal("writing")(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(other, Error::Internal(_)));
    }
}
