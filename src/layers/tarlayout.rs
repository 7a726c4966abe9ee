//! A layer's exact tar, kept as a layout beside its extracted tree (what
//! Docker keeps with tar-split): the tar's own bytes for everything that is
//! not file data (headers, PAX and GNU extended headers, sparse maps,
//! padding, the end-of-archive blocks and whatever follows them, data the
//! extraction did not keep) verbatim, and for each file's data only where
//! it is in the tree. [`LayerTar`] reassembles the bytes, whose sha256 is
//! the layer's diff_id, and checks that it is.
//!
//! On disk, `layers/<hex>/tar-layout`:
//!
//! ```text
//! 0   "STLAYOUT"  magic
//! 8   u32 LE      version (1)
//! 12  u32         0
//! 16  u64 LE      size of the tar
//! 24  [32]        its sha256 (the diff_id)
//! 56  gzip        records: 1 varint(n) BYTES      raw bytes, n ≤ 64 KiB
//!                          2 varint(n) PATH varint(k) (varint(offset) varint(len))×k
//!                                                 file data: those ranges of PATH
//!                          0                      the end
//! ```
//!
//! A file the archive itself replaces or deletes later (a path written
//! twice, a whiteout of a path it wrote) has lost its data by the end of the
//! extraction: the writer copies it aside before the extraction removes it
//! and, at [`LayoutWriter::finish`], writes those bytes into the layout.

mod rebuild;
#[cfg(test)]
mod tests;

pub use rebuild::LayerTar;

use super::digest::Digest;
use super::tarread::{MAX_SPARSE_ENTRIES, Segment, Tap};
use super::untar::Recorder;
use crate::sys::BeneathDir;
use rustix::fs::OFlags;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The layout's name in a layer's directory.
pub const FILE_NAME: &str = "tar-layout";
/// Data of replaced files, copied aside during the extraction.
const SPILL_NAME: &str = "tar-layout.spill";
const REWRITE_NAME: &str = "tar-layout.new";

const MAGIC: &[u8; 8] = b"STLAYOUT";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 56;
/// Largest raw record: a reader refuses larger ones.
const MAX_RAW: usize = 64 * 1024;
const MAX_PATH: usize = 4096;

const REC_END: u8 = 0;
const REC_RAW: u8 = 1;
const REC_DATA: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// Refused rather than rebuilt from the tree: a tar written again from
    /// the files would have another digest than the config's diff_id, and
    /// every reader (docker load, a registry's client) refuses such a layer.
    #[error(
        "layer {0} was stored before Strata kept each layer's exact tar, which cannot be rebuilt now \
         (a tar written again from its files would not have the digest its images name): \
         remove the images that use it and pull, load or import them again"
    )]
    Missing(Digest),
    #[error("layer {layer}: its exact tar cannot be rebuilt: {reason}")]
    Corrupt { layer: Digest, reason: String },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

fn io_ctx(context: &str) -> impl FnOnce(io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io {
        context: context.to_string(),
        source,
    }
}

/// Where a file's data is in the tree.
#[derive(Clone, Debug)]
enum Extent {
    /// Bytes `0..len`.
    Whole(u64),
    /// A sparse file's data segments, in data order.
    Sparse(Box<[Segment]>),
}

impl Extent {
    fn segments(&self) -> Vec<Segment> {
        match self {
            Extent::Whole(len) => vec![Segment { offset: 0, len: *len }],
            Extent::Sparse(s) => s.to_vec(),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(r: &mut impl Read) -> io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(invalid("a number runs past 64 bits"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// One record of the layout.
#[derive(Debug)]
enum Record {
    /// This many raw bytes follow.
    Raw(usize),
    Data {
        path: Vec<u8>,
        segments: Vec<Segment>,
    },
    End,
}

fn read_record(r: &mut impl Read) -> io::Result<Record> {
    let mut kind = [0u8; 1];
    r.read_exact(&mut kind)?;
    match kind[0] {
        REC_END => Ok(Record::End),
        REC_RAW => match usize::try_from(get_varint(r)?) {
            Ok(n) if n <= MAX_RAW => Ok(Record::Raw(n)),
            _ => Err(invalid("a raw record larger than 64 KiB")),
        },
        REC_DATA => {
            let n = get_varint(r)?;
            if n > MAX_PATH as u64 {
                return Err(invalid("a path longer than PATH_MAX"));
            }
            let mut path = vec![0u8; n as usize];
            r.read_exact(&mut path)?;
            let k = get_varint(r)?;
            if k > MAX_SPARSE_ENTRIES as u64 + 1 {
                return Err(invalid("more data segments than a sparse map holds"));
            }
            let mut segments = Vec::with_capacity(k as usize);
            for _ in 0..k {
                let offset = get_varint(r)?;
                let len = get_varint(r)?;
                segments.push(Segment { offset, len });
            }
            Ok(Record::Data { path, segments })
        }
        _ => Err(invalid("an unknown record")),
    }
}

fn data_record(path: &[u8], segments: &[Segment]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(path.len() + 8 + segments.len() * 8);
    rec.push(REC_DATA);
    put_varint(&mut rec, path.len() as u64);
    rec.extend_from_slice(path);
    put_varint(&mut rec, segments.len() as u64);
    for s in segments {
        put_varint(&mut rec, s.offset);
        put_varint(&mut rec, s.len);
    }
    rec
}

fn encoder(file: File) -> flate2::write::GzEncoder<BufWriter<File>> {
    flate2::write::GzEncoder::new(BufWriter::with_capacity(64 * 1024, file), flate2::Compression::fast())
}

/// Records a layer's layout while `untar` extracts it (it is the tar
/// reader's [`Tap`] and the extractor's [`Recorder`]). I/O errors are kept
/// and reported by [`LayoutWriter::finish`].
pub struct LayoutWriter {
    /// The layer's directory (beside `root/`).
    dir: PathBuf,
    out: Option<flate2::write::GzEncoder<BufWriter<File>>>,
    /// Raw bytes not yet written as a record.
    raw: Vec<u8>,
    /// Data records written so far.
    records: u64,
    /// Files whose data a data record names, by path: (record number, extent).
    by_path: BTreeMap<Vec<u8>, (u64, Extent)>,
    /// Replaced files' data: record number → offset in the spill file.
    spilled: HashMap<u64, u64>,
    spill: Option<(File, u64)>,
    error: Option<io::Error>,
}

impl LayoutWriter {
    /// Starts a layout in `dir`, the directory that will be the layer's.
    pub fn create(dir: &Path) -> Result<LayoutWriter, LayoutError> {
        let mut file = File::create(dir.join(FILE_NAME)).map_err(io_ctx("creating the tar layout"))?;
        file.write_all(&[0u8; HEADER_LEN])
            .map_err(io_ctx("writing the tar layout"))?;
        Ok(LayoutWriter {
            dir: dir.to_path_buf(),
            out: Some(encoder(file)),
            raw: Vec::with_capacity(MAX_RAW),
            records: 0,
            by_path: BTreeMap::new(),
            spilled: HashMap::new(),
            spill: None,
            error: None,
        })
    }

    fn keep(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let r = match self.out.as_mut() {
            Some(out) if self.error.is_none() => out.write_all(bytes),
            _ => Ok(()),
        };
        self.keep(r);
    }

    fn flush_raw(&mut self) {
        if self.raw.is_empty() {
            return;
        }
        let mut head = vec![REC_RAW];
        put_varint(&mut head, self.raw.len() as u64);
        self.write(&head);
        let raw = std::mem::take(&mut self.raw);
        self.write(&raw);
        self.raw = raw;
        self.raw.clear();
    }

    /// Copies the data of the file at `path` (as the layout names it) to
    /// the end of the spill file, returning where it starts.
    fn spill_file(&mut self, root: &BeneathDir, path: &[u8], extent: &Extent) -> io::Result<u64> {
        if self.spill.is_none() {
            let f = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(self.dir.join(SPILL_NAME))?;
            self.spill = Some((f, 0));
        }
        let src = root.open_file(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let (spill, end) = self.spill.as_mut().expect("created above");
        let start = *end;
        let mut buf = vec![0u8; 64 * 1024];
        for seg in extent.segments() {
            copy_range(&src, seg, &mut buf, |chunk| {
                spill.write_all_at(chunk, *end)?;
                *end += chunk.len() as u64;
                Ok(())
            })?;
        }
        Ok(start)
    }

    /// Writes the header and, when files were replaced, the layout again
    /// with their data in it. Call once the stream has been read to its end
    /// (`tar_size` bytes, digest `diff_id`); the layout is then complete in
    /// the directory given to [`LayoutWriter::create`], not yet flushed.
    pub fn finish(mut self, diff_id: &Digest, tar_size: u64) -> Result<(), LayoutError> {
        self.flush_raw();
        self.write(&[REC_END]);
        if let Some(e) = self.error.take() {
            return Err(io_ctx("writing the tar layout")(e));
        }
        let out = self.out.take().expect("finished once");
        let file = out
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(io_ctx("writing the tar layout"))?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&tar_size.to_le_bytes());
        header.extend_from_slice(diff_id.as_bytes());
        file.write_all_at(&header, 0)
            .map_err(io_ctx("writing the tar layout"))?;
        drop(file);
        if let Some((spill, _)) = self.spill.take() {
            self.inline_spilled(&spill, &header)?;
            fs::remove_file(self.dir.join(SPILL_NAME)).map_err(io_ctx("removing the spilled data"))?;
        }
        Ok(())
    }

    /// Rewrites the layout with each spilled record's data as raw records.
    fn inline_spilled(&self, spill: &File, header: &[u8]) -> Result<(), LayoutError> {
        let ctx = "writing the tar layout with the data of replaced files";
        let mut src = File::open(self.dir.join(FILE_NAME)).map_err(io_ctx(ctx))?;
        src.read_exact(&mut [0u8; HEADER_LEN]).map_err(io_ctx(ctx))?;
        let mut records = flate2::read::GzDecoder::new(BufReader::new(src));
        let mut dst = File::create(self.dir.join(REWRITE_NAME)).map_err(io_ctx(ctx))?;
        dst.write_all(header).map_err(io_ctx(ctx))?;
        let mut out = encoder(dst);
        let mut number = 0u64;
        let mut buf = vec![0u8; MAX_RAW];
        loop {
            match read_record(&mut records).map_err(io_ctx(ctx))? {
                Record::End => break,
                Record::Raw(n) => {
                    records.read_exact(&mut buf[..n]).map_err(io_ctx(ctx))?;
                    write_raw(&mut out, &buf[..n]).map_err(io_ctx(ctx))?;
                }
                Record::Data { path, segments } => {
                    match self.spilled.get(&number) {
                        None => out.write_all(&data_record(&path, &segments)),
                        Some(&at) => {
                            let len = segments.iter().map(|s| s.len).sum();
                            copy_range(spill, Segment { offset: at, len }, &mut buf, |c| write_raw(&mut out, c))
                        }
                    }
                    .map_err(io_ctx(ctx))?;
                    number += 1;
                }
            }
        }
        out.write_all(&[REC_END]).map_err(io_ctx(ctx))?;
        out.finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(io_ctx(ctx))?;
        fs::rename(self.dir.join(REWRITE_NAME), self.dir.join(FILE_NAME)).map_err(io_ctx(ctx))
    }
}

fn write_raw(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut head = vec![REC_RAW];
    put_varint(&mut head, bytes.len() as u64);
    out.write_all(&head)?;
    out.write_all(bytes)
}

/// Reads `seg` of `file` in chunks of `buf`'s size (at most), handing each
/// to `sink`; a file shorter than the range is an error.
fn copy_range(
    file: &File,
    seg: Segment,
    buf: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut at = seg.offset;
    let end = seg.offset + seg.len;
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(buf.len());
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a file of the layer is shorter than its layout says",
            ));
        }
        sink(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

impl Tap for LayoutWriter {
    fn raw(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (MAX_RAW - self.raw.len()).min(bytes.len());
            self.raw.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.raw.len() == MAX_RAW {
                self.flush_raw();
            }
        }
    }
}

impl Recorder for LayoutWriter {
    fn data(&mut self, path: &[u8], size: u64, sparse: Option<&[Segment]>) {
        self.flush_raw();
        let extent = match sparse {
            Some(s) => Extent::Sparse(s.into()),
            None => Extent::Whole(size),
        };
        let rec = data_record(path, &extent.segments());
        self.write(&rec);
        self.by_path.insert(path.to_vec(), (self.records, extent));
        self.records += 1;
    }

    fn removing(&mut self, root: &BeneathDir, path: &[u8]) {
        let mut below = path.to_vec();
        below.push(b'/');
        let mut after = path.to_vec();
        after.push(b'/' + 1);
        let mut doomed: Vec<Vec<u8>> = self.by_path.range(below..after).map(|(p, _)| p.clone()).collect();
        if self.by_path.contains_key(path) {
            doomed.push(path.to_vec());
        }
        for p in doomed {
            let (number, extent) = self.by_path.remove(&p).expect("listed above");
            let r = self.spill_file(root, &p, &extent).map(|at| {
                self.spilled.insert(number, at);
            });
            self.keep(r);
        }
    }
}
