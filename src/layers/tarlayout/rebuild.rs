//! Reassembling a layer's exact tar from its layout and its tree.

use super::{FILE_NAME, HEADER_LEN, LayoutError, MAGIC, Record, VERSION, io_ctx, read_record};
use crate::layers::digest::Digest;
use crate::layers::tarread::Segment;
use crate::sys::BeneathDir;
use rustix::fs::OFlags;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes held back until the digest is checked: at least the end-of-archive
/// blocks, so a reader never gets a complete-looking tar whose bytes are wrong.
pub(super) const HOLD: usize = 1024;
/// How much is produced at a time.
const CHUNK: usize = 64 * 1024;

enum Current {
    /// Between records.
    Idle,
    /// Raw bytes of the record left to copy.
    Raw(usize),
    /// A file's data: the segments left, and how much of the first is done.
    Data {
        path: Vec<u8>,
        file: File,
        segments: std::vec::IntoIter<Segment>,
        segment: Segment,
    },
}

/// A stored layer's tar, reassembled as it is read: its size and digest are
/// the ones the layer was stored with. The digest is checked at the end,
/// before the last [`HOLD`] bytes are handed out: a layer whose files were
/// changed fails with an `InvalidData` error rather than giving other bytes.
/// Memory is bounded (a few chunks), whatever the layer's size.
pub struct LayerTar {
    layer: Digest,
    size: u64,
    records: flate2::read::GzDecoder<BufReader<File>>,
    root: BeneathDir,
    current: Current,
    hasher: Sha256,
    produced: u64,
    buf: Vec<u8>,
    pos: usize,
    verified: bool,
}

impl LayerTar {
    /// Opens the tar of the layer stored in `dir` (`root/` and the layout),
    /// whose diff_id is `layer`.
    pub fn open(dir: &Path, layer: Digest) -> Result<LayerTar, LayoutError> {
        let mut file = match File::open(dir.join(FILE_NAME)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LayoutError::Missing(layer)),
            Err(e) => return Err(io_ctx("opening the tar layout")(e)),
        };
        let corrupt = |reason: &str| LayoutError::Corrupt {
            layer,
            reason: reason.to_string(),
        };
        let mut header = [0u8; HEADER_LEN];
        file.read_exact(&mut header)
            .map_err(|_| corrupt("its layout is shorter than its header"))?;
        if &header[..8] != MAGIC || header[8..12] != VERSION.to_le_bytes() {
            return Err(corrupt("its layout is not one this version of Strata reads"));
        }
        if header[24..56] != layer.as_bytes()[..] {
            return Err(corrupt("its layout is another layer's"));
        }
        let size = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
        let root = BeneathDir::open(&dir.join("root")).map_err(io_ctx("opening the layer's tree"))?;
        Ok(LayerTar {
            layer,
            size,
            records: flate2::read::GzDecoder::new(BufReader::with_capacity(64 * 1024, file)),
            root,
            current: Current::Idle,
            hasher: Sha256::new(),
            produced: 0,
            buf: Vec::with_capacity(CHUNK + HOLD),
            pos: 0,
            verified: false,
        })
    }

    /// The tar's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn digest(&self) -> Digest {
        self.layer
    }

    fn error(&self, what: impl std::fmt::Display) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("layer {}: its exact tar cannot be rebuilt: {what}", self.layer),
        )
    }

    /// Appends the next bytes of the tar to `buf`; false at its end.
    fn produce(&mut self) -> io::Result<bool> {
        loop {
            match &mut self.current {
                Current::Idle => match read_record(&mut self.records).map_err(|e| self.error(e))? {
                    Record::End => return Ok(false),
                    Record::Raw(n) => self.current = Current::Raw(n),
                    Record::Data { path, segments } => self.current = self.open_data(path, segments)?,
                },
                Current::Raw(0) => self.current = Current::Idle,
                Current::Raw(left) => {
                    let n = (*left).min(CHUNK);
                    *left -= n;
                    let start = self.buf.len();
                    self.buf.resize(start + n, 0);
                    if let Err(e) = self.records.read_exact(&mut self.buf[start..]) {
                        return Err(self.error(e));
                    }
                    return Ok(true);
                }
                Current::Data { segment, segments, .. } if segment.len == 0 => match segments.next() {
                    Some(next) => *segment = next,
                    None => self.current = Current::Idle,
                },
                Current::Data {
                    path, file, segment, ..
                } => {
                    let want = usize::try_from(segment.len).unwrap_or(usize::MAX).min(CHUNK);
                    let start = self.buf.len();
                    self.buf.resize(start + want, 0);
                    let n = file.read_at(&mut self.buf[start..], segment.offset)?;
                    self.buf.truncate(start + n);
                    if n == 0 {
                        let what = format!("{} is shorter than the layer's tar says", quote(path));
                        return Err(self.error(what));
                    }
                    segment.offset += n as u64;
                    segment.len -= n as u64;
                    return Ok(true);
                }
            }
        }
    }

    /// Opens a file of the tree, beneath the layer's root, never through a
    /// symlink, and only if it is a regular file.
    fn open_data(&self, path: Vec<u8>, segments: Vec<Segment>) -> io::Result<Current> {
        let file = self
            .root
            .open_file(&path, OFlags::RDONLY | OFlags::NONBLOCK)
            .map_err(|e| self.error(format!("{}: {e}", quote(&path))))?;
        if !file.metadata()?.is_file() {
            return Err(self.error(format!("{} is not a regular file", quote(&path))));
        }
        Ok(Current::Data {
            path,
            file,
            segments: segments.into_iter(),
            segment: Segment { offset: 0, len: 0 },
        })
    }

    fn verify(&mut self) -> io::Result<()> {
        let hasher = std::mem::take(&mut self.hasher);
        let got = Digest::from_bytes(hasher.finalize().into());
        if self.produced != self.size || got != self.layer {
            return Err(self.error(format!(
                "its files give {} bytes of digest {got}, not the {} bytes it was stored with \
                 (the stored layer was changed)",
                self.produced, self.size
            )));
        }
        Ok(())
    }
}

fn quote(path: &[u8]) -> String {
    crate::layers::tarread::quote(path)
}

impl Read for LayerTar {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let ready = self.buf.len() - self.pos;
            let releasable = if self.verified {
                ready
            } else {
                ready.saturating_sub(HOLD)
            };
            if releasable > 0 || out.is_empty() {
                let n = releasable.min(out.len());
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.verified {
                return Ok(0);
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
            let start = self.buf.len();
            if self.produce()? {
                self.hasher.update(&self.buf[start..]);
                self.produced += (self.buf.len() - start) as u64;
                if self.produced > self.size {
                    return Err(self.error("its layout runs past the tar's size"));
                }
            } else {
                self.verify()?;
                self.verified = true;
            }
        }
    }
}
