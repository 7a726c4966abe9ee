//! Image archives: what `docker save` writes and `docker load` reads.
//!
//! [`save`] writes the archive Docker 25+ writes: an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/…` with each image's config,
//! its OCI manifest and its layers as uncompressed tars) plus Docker's
//! `manifest.json` and `repositories`, so old and new readers both take it.
//! [`load`] reads that, Docker's older archives (`<id>/layer.tar`) and OCI
//! archives from podman and skopeo. Both work over `Read`/`Write` and the
//! store; neither knows HTTP.

pub mod load;
pub mod save;
#[cfg(test)]
mod tests;

use super::digest::Digest;
use super::reference::Reference;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a save or load was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What was named does not exist (a 404, in Docker's words).
    #[error("{0}")]
    NotFound(String),
    /// The archive is bad: the client's fault; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::layers::Error),
}

pub const OCI_LAYOUT: &str = "oci-layout";
pub const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
pub const INDEX: &str = "index.json";
pub const MANIFEST: &str = "manifest.json";
pub const REPOSITORIES: &str = "repositories";

pub mod media {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}

/// containerd's annotation for an image's full name (`docker.io/library/busybox:latest`).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI's annotation for a manifest's tag in a layout.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI descriptor, with the fields archives use, in the order Go writes them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An OCI index (`index.json`) or a manifest list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An OCI image manifest or a Docker v2 schema 2 manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// One image of Docker's `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestItem {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub layers: Vec<String>,
}

/// `blobs/sha256/<hex>`.
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The full name containerd and OCI tools use: the familiar name with
/// Docker Hub's domain and `library/` put back.
pub fn full_name(r: &Reference) -> String {
    let name = r.name();
    let first = name.split('/').next().unwrap_or("");
    let has_domain = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        format!("{name}:{}", r.tag())
    } else if name.contains('/') {
        format!("docker.io/{name}:{}", r.tag())
    } else {
        format!("docker.io/library/{name}:{}", r.tag())
    }
}
