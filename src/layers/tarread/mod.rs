//! A streaming tar reader with bounded memory. It reads archives as Go's
//! archive/tar reads them (Docker's reader, so a layer means the same here
//! as there): V7, ustar, star, GNU and PAX headers, signed and unsigned
//! checksums, octal and base-256 numbers (a blank field is 0), PAX records
//! (`path`, `linkpath`, `size`, which overrides the header's, `uid`, `gid`,
//! `mtime`, `SCHILY.xattr.*`), GNU long names and links, and sparse files in
//! every format GNU tar writes (old GNU, PAX 0.0, 0.1 and 1.0).
//!
//! Memory per entry is O(1 MiB) whatever the archive claims: a PAX header,
//! GNU long name or long link larger than [`MAX_SPECIAL_SIZE`] is refused
//! from its header, before any of it is read; a sparse map holds at most
//! [`MAX_SPARSE_ENTRIES`] entries; PAX records that extraction does not use
//! are parsed and dropped. Entry data is never buffered: the caller reads it
//! through [`Reader::read`].
//!
//! A [`Tap`] sees every byte the reader takes from its stream except entry
//! data read through [`Reader::read`]: headers, extended headers, sparse
//! maps, padding, data it skipped, the end-of-archive blocks and (with
//! [`Reader::drain_trailing`]) whatever follows them. That is what a layer's
//! exact tar needs besides the files' contents.
//!
//! Where Go and the `tar` crate disagree, this follows Go (a later PAX
//! record or extended header replaces an earlier one; directories, links and
//! devices carry no data whatever their size field says; a `\0` type flag
//! with a trailing `/` is a directory). As the `tar` crate did, the first
//! zero block ends the archive and a stream that ends before it is truncated.

mod header;
mod pax;
mod sparse;

pub use header::BLOCK;
pub use sparse::{MAX_ENTRIES as MAX_SPARSE_ENTRIES, Segment};

use header::{Block, BlockError, Format, RawHeader};
use pax::{Pax, value};
use sparse::RawEntry;
use std::io::{self, Read};

/// Largest PAX header, GNU long name or long link read: Go's
/// `maxSpecialFileSize`, which Docker inherits.
pub const MAX_SPECIAL_SIZE: u64 = 1 << 20;

/// Type flags.
pub mod typeflag {
    pub const REG_A: u8 = 0;
    pub const REG: u8 = b'0';
    pub const LINK: u8 = b'1';
    pub const SYMLINK: u8 = b'2';
    pub const CHAR: u8 = b'3';
    pub const BLOCK: u8 = b'4';
    pub const DIR: u8 = b'5';
    pub const FIFO: u8 = b'6';
    pub const CONT: u8 = b'7';
    pub const PAX: u8 = b'x';
    pub const PAX_GLOBAL: u8 = b'g';
    pub const GNU_LONGNAME: u8 = b'L';
    pub const GNU_LONGLINK: u8 = b'K';
    pub const GNU_SPARSE: u8 = b'S';

    /// Types whose entries carry no data, whatever their size field says.
    pub fn header_only(t: u8) -> bool {
        matches!(t, LINK | SYMLINK | CHAR | BLOCK | DIR | FIFO)
    }
}

/// Longest prefix of an archive's name quoted in a message.
const QUOTE_MAX: usize = 256;

/// `name` quoted for a message: at most its first 256 bytes, then `…` and
/// its full length, so a hostile name cannot make a message of any size.
pub fn quote(name: &[u8]) -> String {
    if name.len() <= QUOTE_MAX {
        return format!("{:?}", String::from_utf8_lossy(name));
    }
    format!(
        "{:?}… ({} bytes)",
        String::from_utf8_lossy(&name[..QUOTE_MAX]),
        name.len()
    )
}

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The stream's first block is not a tar header.
    #[error("{0}")]
    NotTar(&'static str),
    /// The stream ended before the end-of-archive block.
    #[error("the stream ended before the end-of-archive marker")]
    Truncated,
    /// Reading the stream failed (a corrupt compression, a client gone).
    #[error("reading the archive: {0}")]
    Read(#[from] io::Error),
    /// A malformed header or extended header, at entry `entry` (from 1).
    #[error("entry {entry}: {reason}")]
    Malformed { entry: u64, reason: String },
    /// A sparse map the named entry cannot have.
    #[error("{}: {reason}", quote(name))]
    Sparse { name: Vec<u8>, reason: String },
}

/// One archive entry, extended headers applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// One of [`typeflag`]'s values (never `REG_A`).
    pub typeflag: u8,
    pub name: Vec<u8>,
    pub linkname: Vec<u8>,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    /// The file's size: its real size for a sparse file.
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// `None` when the field holds no number.
    pub devmajor: Option<i64>,
    pub devminor: Option<i64>,
    /// `SCHILY.xattr.*` records with a UTF-8 name and a non-empty value,
    /// sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// For a sparse file, where its data goes (in data order); the rest of
    /// the file is holes.
    pub sparse: Option<Vec<Segment>>,
}

/// Extended headers seen before an entry's own header.
#[derive(Default)]
struct Extended {
    pax: Option<Pax>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

impl Extended {
    fn any(&self) -> bool {
        self.pax.is_some() || self.long_name.is_some() || self.long_link.is_some()
    }
}

/// Sees the bytes of the stream that are not entry data read through
/// [`Reader::read`], in stream order. Infallible: a tap that can fail keeps
/// its error for its owner to collect.
pub trait Tap {
    fn raw(&mut self, bytes: &[u8]);
}

/// No tap.
impl Tap for () {
    fn raw(&mut self, _: &[u8]) {}
}

impl<T: Tap + ?Sized> Tap for &mut T {
    fn raw(&mut self, bytes: &[u8]) {
        (**self).raw(bytes);
    }
}

pub struct Reader<R, T: Tap = ()> {
    r: R,
    tap: T,
    /// Data of the current entry not yet read.
    remaining: u64,
    /// Padding after it, to the next block.
    pad: u64,
    /// The entry being read, from 1.
    entry: u64,
    header_blocks: u64,
    done: bool,
}

fn padding(n: u64) -> u64 {
    (BLOCK as u64 - n % BLOCK as u64) % BLOCK as u64
}

impl<R: Read> Reader<R> {
    pub fn new(r: R) -> Self {
        Reader::with_tap(r, ())
    }
}

impl<R: Read, T: Tap> Reader<R, T> {
    pub fn with_tap(r: R, tap: T) -> Self {
        Reader {
            r,
            tap,
            remaining: 0,
            pad: 0,
            entry: 0,
            header_blocks: 0,
            done: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.r
    }

    pub fn tap(&mut self) -> &mut T {
        &mut self.tap
    }

    /// Reads the stream to its end once the archive has ended, through the
    /// tap (what follows the end-of-archive block is part of the layer's
    /// bytes and its digest). Returns how many bytes there were.
    pub fn drain_trailing(&mut self) -> Result<u64, TarError> {
        let mut buf = [0u8; 8192];
        let mut total = 0u64;
        loop {
            match self.r.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    self.tap.raw(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Bytes of the current entry's data not yet read.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Reads the current entry's data (for a sparse file, its data
    /// segments one after the other); 0 once it is all read.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        loop {
            match self.r.read(&mut buf[..want]) {
                Ok(0) => return Err(TarError::Truncated),
                Ok(n) => {
                    self.remaining -= n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> TarError {
        TarError::Malformed {
            entry: self.entry,
            reason: reason.into(),
        }
    }

    /// Fills `buf` from the stream; false if the stream ended before its
    /// first byte.
    fn fill(&mut self, buf: &mut [u8]) -> Result<bool, TarError> {
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(TarError::Truncated),
                Ok(n) => {
                    self.tap.raw(&buf[got..got + n]);
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn fill_exact(&mut self, buf: &mut [u8]) -> Result<(), TarError> {
        if self.fill(buf)? || buf.is_empty() {
            Ok(())
        } else {
            Err(TarError::Truncated)
        }
    }

    /// Skips `n` bytes (through the tap).
    fn skip(&mut self, mut n: u64) -> Result<(), TarError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let want = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
            self.fill_exact(&mut buf[..want])?;
            n -= want as u64;
        }
        Ok(())
    }

    /// The next header block, or `None` at the end-of-archive (zero) block.
    fn header_block(&mut self) -> Result<Option<Block>, TarError> {
        let mut b = [0u8; BLOCK];
        self.fill_exact(&mut b)?;
        self.header_blocks += 1;
        Ok((!header::is_zero(&b)).then_some(b))
    }

    fn parse_block(&self, b: &Block) -> Result<RawHeader, TarError> {
        header::parse(b).map_err(|e| match e {
            BlockError::Checksum if self.header_blocks == 1 => {
                TarError::NotTar("the first block is not a tar header: bad checksum")
            }
            BlockError::Checksum => self.malformed("bad header checksum"),
            BlockError::Field(what) => self.malformed(what),
        })
    }

    /// The data of an extended header (PAX, GNU long name or link), refused
    /// from its header when larger than [`MAX_SPECIAL_SIZE`].
    fn special(&mut self, raw: &RawHeader, what: &str) -> Result<Vec<u8>, TarError> {
        let size = u64::try_from(raw.size).map_err(|_| self.malformed(format!("{what} of negative size")))?;
        if size > MAX_SPECIAL_SIZE {
            return Err(self.malformed(format!("{what} of {size} bytes exceeds 1 MiB")));
        }
        let mut data = vec![0u8; size as usize];
        self.fill_exact(&mut data)?;
        self.skip(padding(size))?;
        Ok(data)
    }

    /// Advances to the next entry (skipping what is left of the current
    /// one) and returns its header; `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Header>, TarError> {
        if self.done {
            return Ok(None);
        }
        let rest = self.remaining + std::mem::take(&mut self.pad);
        self.remaining = 0;
        self.skip(rest)?;
        self.entry += 1;
        let mut ext = Extended::default();
        loop {
            let Some(block) = self.header_block()? else {
                if ext.any() {
                    return Err(self.malformed("an extended header describes no entry: the archive ends"));
                }
                self.done = true;
                return Ok(None);
            };
            let raw = self.parse_block(&block)?;
            match raw.typeflag {
                typeflag::PAX | typeflag::PAX_GLOBAL => {
                    let global = raw.typeflag == typeflag::PAX_GLOBAL;
                    let data = self.special(&raw, if global { "PAX global header" } else { "PAX header" })?;
                    let pax = Pax::parse(&data).map_err(|r| self.malformed(r))?;
                    // A global header is an entry of its own to Go; nothing
                    // before it applies past it, and extraction ignores it.
                    ext = Extended::default();
                    if !global {
                        ext.pax = Some(pax);
                    }
                }
                typeflag::GNU_LONGNAME => {
                    let data = self.special(&raw, "GNU long name")?;
                    ext.long_name = Some(header::parse_string(&data).to_vec());
                }
                typeflag::GNU_LONGLINK => {
                    let data = self.special(&raw, "GNU long link")?;
                    ext.long_link = Some(header::parse_string(&data).to_vec());
                }
                _ => return self.entry_header(raw, &block, ext).map(Some),
            }
        }
    }

    fn entry_header(&mut self, raw: RawHeader, block: &Block, ext: Extended) -> Result<Header, TarError> {
        let mut h = Header {
            typeflag: raw.typeflag,
            name: raw.name,
            linkname: raw.linkname,
            mode: raw.mode,
            uid: raw.uid,
            gid: raw.gid,
            size: 0,
            mtime: raw.mtime,
            mtime_nsec: 0,
            devmajor: raw.devmajor,
            devminor: raw.devminor,
            xattrs: Vec::new(),
            sparse: None,
        };
        let mut size = raw.size;
        if let Some(pax) = &ext.pax {
            self.merge_pax(pax, &mut h, &mut size)?;
        }
        if let Some(n) = ext.long_name.filter(|n| !n.is_empty()) {
            h.name = n;
        }
        if let Some(l) = ext.long_link.filter(|l| !l.is_empty()) {
            h.linkname = l;
        }
        if h.typeflag == typeflag::REG_A {
            // Before ustar, a directory was a file whose name ends in `/`.
            h.typeflag = if h.name.ends_with(b"/") {
                typeflag::DIR
            } else {
                typeflag::REG
            };
        }
        let header_only = typeflag::header_only(h.typeflag);
        let data = if header_only {
            0
        } else {
            u64::try_from(size).map_err(|_| self.malformed("negative size"))?
        };
        self.remaining = data;
        self.pad = padding(data);

        let map = if h.typeflag == typeflag::GNU_SPARSE {
            Some(self.old_gnu_map(raw.format, block, &h.name, &mut size)?)
        } else if let Some(pax) = &ext.pax {
            self.pax_sparse(pax, &mut h.name, &mut size)?
        } else {
            None
        };
        if let Some(map) = map {
            let bad = |reason: String| TarError::Sparse {
                name: h.name.clone(),
                reason,
            };
            if header_only {
                return Err(bad("a sparse map on an entry that has no data".into()));
            }
            let segments = sparse::validate(&map, size).map_err(bad)?;
            let mapped: u64 = segments.iter().map(|s| s.len).sum();
            if mapped != self.remaining {
                return Err(bad(format!(
                    "the sparse map places {mapped} bytes of data but the entry carries {}",
                    self.remaining
                )));
            }
            h.sparse = Some(segments);
        }
        h.size = u64::try_from(size).unwrap_or(0);
        Ok(h)
    }

    fn merge_pax(&self, pax: &Pax, h: &mut Header, size: &mut i64) -> Result<(), TarError> {
        let int = |v: &Option<Vec<u8>>, what: &str| -> Result<Option<i64>, TarError> {
            value(v)
                .map(|v| pax::parse_int(v).ok_or_else(|| self.malformed(format!("bad PAX {what} record"))))
                .transpose()
        };
        if let Some(p) = value(&pax.path) {
            h.name = p.to_vec();
        }
        if let Some(l) = value(&pax.linkpath) {
            h.linkname = l.to_vec();
        }
        if let Some(uid) = int(&pax.uid, "uid")? {
            h.uid = uid;
        }
        if let Some(gid) = int(&pax.gid, "gid")? {
            h.gid = gid;
        }
        if let Some(s) = int(&pax.size, "size")? {
            *size = s;
        }
        // An unreadable time keeps the header's, as extraction always did.
        if let Some((sec, nsec)) = value(&pax.mtime).and_then(pax::parse_time) {
            h.mtime = sec;
            h.mtime_nsec = nsec;
        }
        h.xattrs = pax
            .xattrs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(())
    }

    /// The old GNU map: four slots in the header, then extension blocks
    /// (read before the data, not part of it) while the "extended" flag is set.
    fn old_gnu_map(
        &mut self,
        format: Format,
        block: &Block,
        name: &[u8],
        size: &mut i64,
    ) -> Result<Vec<RawEntry>, TarError> {
        let bad = |reason: String| TarError::Sparse {
            name: name.to_vec(),
            reason,
        };
        if format != Format::Gnu {
            return Err(bad("an old GNU sparse entry in a header that is not GNU".into()));
        }
        *size = header::parse_numeric(&block[header::GNU_REAL_SIZE]).ok_or_else(|| bad("bad real size".into()))?;
        let mut map = Vec::new();
        sparse::read_slots(&block[header::GNU_SPARSE], &mut map).map_err(bad)?;
        let mut extended = block[header::GNU_IS_EXTENDED] != 0;
        let mut blocks = 0;
        while extended {
            blocks += 1;
            if blocks > MAX_SPARSE_ENTRIES / 21 + 1 {
                return Err(bad(format!("more than {} sparse extension headers", blocks - 1)));
            }
            let mut ext = [0u8; BLOCK];
            self.fill_exact(&mut ext)?;
            sparse::read_slots(&ext[header::EXT_SPARSE], &mut map).map_err(bad)?;
            extended = ext[header::EXT_IS_EXTENDED] != 0;
        }
        Ok(map)
    }

    /// The PAX sparse formats, told apart as Go tells them apart; `None`
    /// for an entry that is not sparse (or of a sparse version GNU tar does
    /// not write, which is then an ordinary file, as in Go).
    fn pax_sparse(&mut self, pax: &Pax, name: &mut Vec<u8>, size: &mut i64) -> Result<Option<Vec<RawEntry>>, TarError> {
        let s = &pax.sparse;
        let version = (value(&s.major).unwrap_or(b""), value(&s.minor).unwrap_or(b""));
        let v1 = match version {
            (b"0", b"0" | b"1") => false,
            (b"1", b"0") => true,
            (b"", b"") if value(&s.map).is_some() => false,
            _ => return Ok(None),
        };
        if let Some(n) = value(&s.name) {
            *name = n.to_vec();
        }
        let bad = |reason: String| TarError::Sparse {
            name: name.clone(),
            reason,
        };
        if let Some(v) = value(&s.size).or(value(&s.realsize)) {
            *size = pax::parse_int(v).ok_or_else(|| bad("bad GNU.sparse.size".into()))?;
        }
        if !v1 {
            return sparse::parse_0x1(value(&s.numblocks), value(&s.map))
                .map(Some)
                .map_err(bad);
        }
        // 1.0: the map is in the data's first blocks.
        let mut map = sparse::Map1x0::new();
        let mut blk = [0u8; BLOCK];
        loop {
            if self.remaining < BLOCK as u64 {
                return Err(bad("the sparse map runs past the entry's data".into()));
            }
            self.fill_exact(&mut blk)?;
            self.remaining -= BLOCK as u64;
            if map.feed(&blk).map_err(bad)? {
                return Ok(Some(map.finish()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testtar;
