//! `/strata/mounts`: Strata's own extension (the Docker API has no mount
//! call), for `strata mount` and `strata unmount`; shapes after podman's
//! `/libpod/images/{name}/mount`.

use serde::{Deserialize, Serialize};

/// The body of `POST /strata/mounts`: paths absolute; an empty one is
/// absent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserMountRequest {
    /// The image's name or ID.
    pub target: String,
    /// An existing empty directory; empty: the daemon makes one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// A writable directory the union is over; empty: read-only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub upper: String,
    /// The upper's work directory; empty: `UPPER.work` beside it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub work: String,
}

/// A user mount: `POST /strata/mounts` answers it (201), `GET` lists them,
/// `DELETE /strata/mounts?dir=…|target=…|all=1` answers those it ended.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserMount {
    /// The image as it was named.
    pub target: String,
    /// The image's ID (`sha256:…`).
    #[serde(rename = "ID")]
    pub id: String,
    /// `image`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Where it is mounted.
    pub dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub upper: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub work: String,
    /// Writable (over an upper).
    #[serde(rename = "RW")]
    pub rw: bool,
}
