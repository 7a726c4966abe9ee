//! The layer store: content-addressed layers kept extracted with their
//! indexes, image configs named by their digest, and references.
//! Knows no mounts and no processes.

pub mod archive;
pub mod chain;
pub mod digest;
pub mod image;
pub mod index;
pub mod reference;
mod store;
pub mod tarlayout;
pub mod tarread;

pub mod untar;

pub use digest::Digest;
pub use image::ImageConfig;
pub use reference::Reference;
pub use store::{
    BlobExpectation, Compression, ExpectedLayer, ExternalImage, ImageSummary, ImageUser, ImportOptions, ImportResult,
    LayerRecord, Refusal, Removal, Store, StoreInfo,
};

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No such image: {0}")]
    ImageNotFound(String),
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
    #[error(transparent)]
    Archive(#[from] untar::ArchiveError),
    #[error(transparent)]
    Config(#[from] image::ConfigError),
    #[error(transparent)]
    Layout(#[from] tarlayout::LayoutError),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A layer's blob is not the one its descriptor names (digest or size).
    #[error("filesystem layer verification failed for digest {0}")]
    LayerVerification(Digest),
    /// A layer's uncompressed content is not what the image's config says.
    #[error("layers from manifest don't match image configuration: got layer {actual}, expected {expected}")]
    DiffIdMismatch { expected: Digest, actual: Digest },
    #[error("failed to read blob {0}: {1}")]
    BlobUnreadable(Digest, String),
    #[error("image config lists layer {0}, which is not in the store")]
    MissingLayer(Digest),
    #[error("the store at {} is in use by another stratad", .0.display())]
    Locked(PathBuf),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

impl From<untar::ExtractError> for Error {
    fn from(e: untar::ExtractError) -> Self {
        match e {
            untar::ExtractError::Archive(a) => Error::Archive(a),
            untar::ExtractError::Io(source) => Error::Io {
                context: "writing the layer".to_string(),
                source,
            },
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
