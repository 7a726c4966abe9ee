//! The registry client: the OCI distribution spec (Docker Registry HTTP API
//! v2) over hyper and rustls. `name` resolves references as Docker does,
//! `manifest` reads manifests and indexes and picks a platform,
//! `transport` makes connections (TLS with the system roots and
//! `certs.d`, plain HTTP only for loopback and `--insecure-registry`
//! hosts), `auth` answers Basic and Bearer challenges, and `session` is one
//! repository's conversation: manifests and blobs, with retries, and
//! `upload` its write side (blobs and manifests pushed).
//!
//! It knows `layers` (digests, compression) and nothing above: the daemon
//! passes credentials as [`Credentials`] and never stores them.

mod auth;
pub mod manifest;
pub mod name;
mod session;
mod transport;
mod upload;

pub use manifest::{BlobRef, Layer, Manifest, Platform};
pub use name::RemoteName;
pub use session::{Blob, Reply, Request, Resolved, Session, status_error};
pub use upload::{Mount, Upload};

use crate::layers::Digest;
use std::fmt;
use std::path::PathBuf;

/// Daemon-wide registry settings.
#[derive(Clone, Debug, Default)]
pub struct RegistryConfig {
    /// `--insecure-registry` entries: `HOST` or `HOST:PORT` that may be
    /// reached over plain HTTP (loopback hosts always may).
    pub insecure: Vec<String>,
    /// Strata's config directory: CAs and client certificates in
    /// `certs.d/HOST[:PORT]/`.
    pub config_dir: PathBuf,
}

/// Credentials for one request, from the client. `Debug` hides secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// A refresh token from an earlier login (OAuth2 `refresh_token`).
    pub identity_token: String,
    /// A bearer token to send as is.
    pub registry_token: String,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.username.is_empty() && self.identity_token.is_empty() && self.registry_token.is_empty()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .finish()
    }
}

/// What can go wrong talking to a registry, in Docker's words where Docker
/// has them. No variant carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name that is not a reference (the whole message, Docker's words).
    #[error("{0}")]
    Name(String),
    /// Connecting failed (after the retries): `Get "URL": dial tcp …`.
    #[error("{method} \"{url}\": {message}")]
    Connect {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} \"{url}\": no basic auth credentials")]
    NoCredentials { method: String, url: String },
    /// 401/403 with credentials, or a refused token request.
    #[error("{0}")]
    Unauthorized(String),
    #[error("manifest for {name} not found: {detail}")]
    ManifestUnknown { name: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    /// Any other error status, with the registry's own error when it sent one.
    #[error("{0}")]
    Status(String),
    #[error("manifest verification failed for digest {0}")]
    ManifestDigest(Digest),
    #[error("manifest too big: more than {} bytes", manifest::MAX_MANIFEST_BYTES)]
    ManifestTooBig,
    #[error("unsupported manifest media type and no default available: {0}")]
    UnsupportedMediaType(String),
    #[error(
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {0} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/"
    )]
    Schema1(String),
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    #[error("manifest list nested more than {} deep", manifest::MAX_INDEX_DEPTH)]
    IndexTooDeep,
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    InvalidPlatform(String),
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Protocol(String),
    /// A blob is not what its descriptor says (longer than its size).
    #[error("filesystem layer verification failed for digest {0}")]
    BlobVerification(Digest),
    #[error("blob {digest}: {message}")]
    Blob { digest: Digest, message: String },
}

impl Error {
    /// Not there, as opposed to unreachable or refused (the API's 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::ManifestUnknown { .. } | Error::NotFound(_))
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::NoCredentials { .. } | Error::Unauthorized(_))
    }

    /// The client's input was wrong (a name, a platform).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, Error::Name(_) | Error::InvalidPlatform(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
