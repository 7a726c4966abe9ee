//! Origin records of copied-up objects and the lower data of metacopy files.

use super::{UPPER, UnionFs};
use crate::fs::layer::{ORIGIN_XATTR, ORIGIN_XATTR_PRIVILEGED, Origin, file_type};
use crate::fs::nodes::{LowerData, layer_and_st_ino};
use crate::fs::{FsError, FsResult};
use crate::sys;
use rustix::fs::{FileType, OFlags, Stat, XattrFlags};
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::Arc;

impl UnionFs {
    pub(super) fn origin(&self, layer: usize, path: &[u8]) -> Option<u64> {
        if self.in_upper(layer) {
            self.layers[UPPER].origin(path)
        } else {
            None
        }
    }

    pub(super) fn origin_record(&self, layer: usize, path: &[u8]) -> Option<Origin> {
        if self.in_upper(layer) {
            self.layers[UPPER].origin_record(path)
        } else {
            None
        }
    }

    /// Where the data of an upper regular file copied up without it is.
    pub(super) fn lower_data_of(&self, origin: Origin, st: &Stat) -> Option<Arc<LowerData>> {
        let path = origin.data_path?;
        if file_type(st) != FileType::RegularFile {
            return None;
        }
        // A record naming no lower layer is kept as one: opening its data
        // is then an error rather than a read of the (empty) upper file.
        let (layer, st_ino) = layer_and_st_ino(origin.ino).unwrap_or((usize::MAX, 0));
        Some(Arc::new(LowerData { layer, path, st_ino }))
    }

    /// Opens the lower data of a metacopy file, checking that it is the
    /// file it was copied from (the stack of layers may have changed since).
    pub(in crate::fs) fn open_lower_data(&self, data: &LowerData) -> FsResult<File> {
        if data.layer >= self.layers.len() || self.in_upper(data.layer) {
            tracing::warn!("a metacopy file names layer {}, which this mount has not", data.layer);
            return Err(FsError::IO);
        }
        let layer = &self.layers[data.layer];
        let file = layer.open_file(&data.path, OFlags::RDONLY)?;
        // A lower store layer's numbers are its index's (a record made
        // before they were carries the disk's, which is checked too).
        let indexed = layer.indexed_ino(&data.path);
        if !indexed.is_some_and(|i| data.is(i)) && !data.is(rustix::fs::fstat(&file)?.st_ino) {
            tracing::warn!(
                "the data of a metacopy file is no longer at {} in layer {}",
                String::from_utf8_lossy(&data.path),
                data.layer
            );
            return Err(FsError::IO);
        }
        Ok(file)
    }

    /// A metacopy file's blocks are its lower data's (as `du` expects).
    pub(super) fn show_data_blocks(&self, st: &mut Stat, data: &LowerData) {
        if let Some(layer) = self.layers.get(data.layer).filter(|_| !self.in_upper(data.layer))
            && let Ok(lower) = layer.stat(&data.path)
            && data.is(lower.st_ino)
        {
            st.st_blocks = lower.st_blocks;
        }
    }

    /// Writes the origin record on a copy being made; false when neither
    /// xattr namespace takes it (then there is no origin and no metacopy).
    pub(in crate::fs) fn record_origin(&self, fd: impl AsFd, origin: &Origin) -> bool {
        // The trusted namespace where we may (root, not in a user
        // namespace), the user namespace otherwise.
        let value = origin.encode();
        [ORIGIN_XATTR_PRIVILEGED, ORIGIN_XATTR]
            .iter()
            .skip(usize::from(!self.privileged))
            .any(|name| sys::xattr::set(&fd, name, &value, XattrFlags::empty()).is_ok())
    }
}
