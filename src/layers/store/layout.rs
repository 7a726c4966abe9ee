//! Handing out a stored layer's exact tar (see `tarlayout`).

use super::Store;
use crate::layers::digest::Digest;
use crate::layers::tarlayout::LayerTar;
use crate::layers::{Error, Result};

impl Store {
    /// The tar whose sha256 is `diff_id`, rebuilt from the stored layer as
    /// it is read (streamed, checked at its end). A layer stored before
    /// layouts were kept is refused (see `LayoutError::Missing`).
    pub fn layer_tar(&self, diff_id: &Digest) -> Result<LayerTar> {
        if !self.state().layers.contains_key(diff_id) {
            return Err(Error::Io {
                context: format!("layer {diff_id}"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such layer in the store"),
            });
        }
        Ok(LayerTar::open(&self.layer_dir(diff_id), *diff_id)?)
    }
}
