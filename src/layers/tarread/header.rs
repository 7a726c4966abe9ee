//! One 512-byte header block: its field layout, numbers (octal and
//! base-256), checksum and the format it claims, read as Go's archive/tar
//! (and so Docker) reads them.

pub const BLOCK: usize = 512;
pub type Block = [u8; BLOCK];

/// The layouts a header block can have; they differ in what follows the
/// V7 fields (offset 257 on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    V7,
    /// POSIX ustar (and PAX, which is ustar plus extended headers): a
    /// 155-byte name prefix.
    Ustar,
    /// Schily's star: a 131-byte prefix, then times.
    Star,
    /// GNU: times, then the old sparse map; no prefix.
    Gnu,
}

// Field positions (V7, then ustar, then GNU).
const NAME: std::ops::Range<usize> = 0..100;
const MODE: std::ops::Range<usize> = 100..108;
const UID: std::ops::Range<usize> = 108..116;
const GID: std::ops::Range<usize> = 116..124;
const SIZE: std::ops::Range<usize> = 124..136;
const MTIME: std::ops::Range<usize> = 136..148;
const CHKSUM: std::ops::Range<usize> = 148..156;
const TYPEFLAG: usize = 156;
const LINKNAME: std::ops::Range<usize> = 157..257;
const MAGIC: std::ops::Range<usize> = 257..263;
const VERSION: std::ops::Range<usize> = 263..265;
const DEVMAJOR: std::ops::Range<usize> = 329..337;
const DEVMINOR: std::ops::Range<usize> = 337..345;
const USTAR_PREFIX: std::ops::Range<usize> = 345..500;
const STAR_PREFIX: std::ops::Range<usize> = 345..476;
const STAR_TRAILER: std::ops::Range<usize> = 508..512;
/// GNU: four sparse entries (offset, length: 12 bytes each), the
/// "extended" flag, the real size.
pub const GNU_SPARSE: std::ops::Range<usize> = 386..482;
pub const GNU_IS_EXTENDED: usize = 482;
pub const GNU_REAL_SIZE: std::ops::Range<usize> = 483..495;
/// A sparse extension block: 21 entries, then the "extended" flag.
pub const EXT_SPARSE: std::ops::Range<usize> = 0..504;
pub const EXT_IS_EXTENDED: usize = 504;
pub const SPARSE_ENTRY: usize = 24;

/// A header block's fields, before any extended header applies.
#[derive(Debug)]
pub struct RawHeader {
    pub format: Format,
    pub typeflag: u8,
    pub name: Vec<u8>,
    pub linkname: Vec<u8>,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub size: i64,
    pub mtime: i64,
    /// `None` when the field is not a number: only a device entry needs it,
    /// so only a device entry is refused for it.
    pub devmajor: Option<i64>,
    pub devminor: Option<i64>,
}

/// Why a block is not a usable header.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockError {
    /// Not a header at all: the checksum does not match.
    Checksum,
    /// A header whose numeric field cannot be read.
    Field(&'static str),
}

pub fn is_zero(b: &Block) -> bool {
    b.iter().all(|&c| c == 0)
}

/// The bytes of `field` up to its first NUL.
pub fn parse_string(field: &[u8]) -> &[u8] {
    match field.iter().position(|&c| c == 0) {
        Some(i) => &field[..i],
        None => field,
    }
}

fn is_pad(c: u8) -> bool {
    c == 0 || c.is_ascii_whitespace() || c == 0x0b
}

fn trim_pad(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b
        && is_pad(*first)
    {
        b = rest;
    }
    while let [rest @ .., last] = b
        && is_pad(*last)
    {
        b = rest;
    }
    b
}

/// An octal field: padding (NUL, spaces, other ASCII white space) around the
/// digits is ignored, text after a NUL is ignored, and a blank field is 0.
/// This accepts everything Go's `parseOctal` and the `tar` crate accept.
pub fn parse_octal(field: &[u8]) -> Option<i64> {
    let digits = trim_pad(parse_string(trim_pad(field)));
    if digits.is_empty() {
        return Some(0);
    }
    let text = std::str::from_utf8(digits).ok()?;
    let v = u64::from_str_radix(text, 8).ok()?;
    i64::try_from(v).ok()
}

/// A numeric field: base-256 (two's complement, big-endian, marked by the
/// top bit of the first byte) or octal. `None` on overflow or bad digits.
pub fn parse_numeric(field: &[u8]) -> Option<i64> {
    let Some(&first) = field.first() else {
        return Some(0);
    };
    if first & 0x80 == 0 {
        return parse_octal(field);
    }
    // -a-1 == !a: a negative number is read inverted, as an unsigned one.
    let inv = if first & 0x40 != 0 { 0xff } else { 0 };
    let mut x: u64 = 0;
    for (i, &c) in field.iter().enumerate() {
        let mut c = c ^ inv;
        if i == 0 {
            c &= 0x7f;
        }
        if x >> 56 != 0 {
            return None;
        }
        x = (x << 8) | u64::from(c);
    }
    let x = i64::try_from(x).ok()?;
    Some(if inv == 0xff { !x } else { x })
}

/// The unsigned and the signed sum of the block with the checksum field
/// read as spaces: old tars wrote either.
fn checksums(b: &Block) -> (i64, i64) {
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in b.iter().enumerate() {
        let c = if CHKSUM.contains(&i) { b' ' } else { c };
        unsigned += i64::from(c);
        signed += i64::from(c as i8);
    }
    (unsigned, signed)
}

/// The block's format, or `None` when its checksum is wrong (it is not a
/// header).
pub fn format_of(b: &Block) -> Option<Format> {
    let stored = parse_octal(&b[CHKSUM])?;
    let (unsigned, signed) = checksums(b);
    if stored != unsigned && stored != signed {
        return None;
    }
    let magic = &b[MAGIC];
    Some(if magic == b"ustar\0" && &b[STAR_TRAILER] == b"tar\0" {
        Format::Star
    } else if magic == b"ustar\0" {
        Format::Ustar
    } else if magic == b"ustar " && &b[VERSION] == b" \0" {
        Format::Gnu
    } else {
        Format::V7
    })
}

/// Reads a header block's own fields.
pub fn parse(b: &Block) -> Result<RawHeader, BlockError> {
    let format = format_of(b).ok_or(BlockError::Checksum)?;
    let num = |range: std::ops::Range<usize>, what| parse_numeric(&b[range]).ok_or(BlockError::Field(what));
    let mut name = parse_string(&b[NAME]).to_vec();
    let prefix = match format {
        Format::Ustar => parse_string(&b[USTAR_PREFIX]),
        Format::Star => parse_string(&b[STAR_PREFIX]),
        Format::V7 | Format::Gnu => &[],
    };
    if !prefix.is_empty() {
        let mut full = prefix.to_vec();
        full.push(b'/');
        full.append(&mut name);
        name = full;
    }
    let (devmajor, devminor) = match format {
        Format::V7 => (Some(0), Some(0)),
        _ => (parse_numeric(&b[DEVMAJOR]), parse_numeric(&b[DEVMINOR])),
    };
    Ok(RawHeader {
        format,
        typeflag: b[TYPEFLAG],
        name,
        linkname: parse_string(&b[LINKNAME]).to_vec(),
        mode: num(MODE, "bad mode field")?,
        uid: num(UID, "bad uid field")?,
        gid: num(GID, "bad gid field")?,
        size: num(SIZE, "bad size field")?,
        mtime: num(MTIME, "bad mtime field")?,
        devmajor,
        devminor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields_read_as_go_and_the_tar_crate_read_them() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b" 644 \0"), Some(0o644));
        assert_eq!(parse_octal(b"\0\0\x00644\0"), Some(0o644));
        assert_eq!(parse_octal(b"644 \0junk"), Some(0o644));
        assert_eq!(parse_octal(b"\t644\0"), Some(0o644));
        assert_eq!(parse_octal(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_octal(b"        "), Some(0));
        assert_eq!(parse_octal(b"64 4\0"), None);
        assert_eq!(parse_octal(b"0009\0"), None);
        assert_eq!(parse_octal(&[0xc3, 0xa9]), None);
    }

    #[test]
    fn base_256_fields_are_twos_complement() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 0x2a;
        assert_eq!(parse_numeric(&f), Some(42));
        f[4..12].copy_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(parse_numeric(&f), Some(1 << 40));
        let neg = [0xffu8; 8];
        assert_eq!(parse_numeric(&neg), Some(-1));
        let mut too_big = [0xffu8; 12];
        too_big[0] = 0x80;
        assert_eq!(parse_numeric(&too_big), None);
        let mut max = [0u8; 9];
        max[0] = 0x80;
        max[1..].copy_from_slice(&i64::MAX.to_be_bytes());
        assert_eq!(parse_numeric(&max), Some(i64::MAX));
        max[1] = 0x80;
        assert_eq!(parse_numeric(&max), None, "2^63 does not fit");
    }

    fn block_with_checksum(edit: impl Fn(&mut Block)) -> Block {
        let mut b = [0u8; BLOCK];
        b[..4].copy_from_slice(b"name");
        b[MODE].copy_from_slice(b"0000644\0");
        b[SIZE].copy_from_slice(b"00000000012\0");
        b[TYPEFLAG] = b'0';
        edit(&mut b);
        b[CHKSUM].copy_from_slice(b"        ");
        let (unsigned, _) = checksums(&b);
        b[CHKSUM].copy_from_slice(format!("{unsigned:06o}\0 ").as_bytes());
        b
    }

    #[test]
    fn checksums_signed_or_unsigned_and_formats() {
        let b = block_with_checksum(|_| {});
        assert_eq!(format_of(&b), Some(Format::V7));
        let h = parse(&b).unwrap();
        assert_eq!((h.name.as_slice(), h.size, h.mode), (&b"name"[..], 10, 0o644));

        // A high byte: the signed sum differs from the unsigned one.
        let mut high = block_with_checksum(|b| b[4] = 0xe9);
        let (_, signed) = checksums(&high);
        high[CHKSUM].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
        assert_eq!(format_of(&high), Some(Format::V7));
        high[0] ^= 1;
        assert_eq!(format_of(&high), None);
        assert_eq!(parse(&high).unwrap_err(), BlockError::Checksum);

        let ustar = block_with_checksum(|b| {
            b[MAGIC].copy_from_slice(b"ustar\0");
            b[USTAR_PREFIX.start..USTAR_PREFIX.start + 3].copy_from_slice(b"dir");
        });
        assert_eq!(format_of(&ustar), Some(Format::Ustar));
        assert_eq!(parse(&ustar).unwrap().name, b"dir/name");
        let gnu = block_with_checksum(|b| {
            b[MAGIC].copy_from_slice(b"ustar ");
            b[VERSION].copy_from_slice(b" \0");
            b[USTAR_PREFIX.start] = b'x'; // GNU atime, not a prefix
        });
        assert_eq!(format_of(&gnu), Some(Format::Gnu));
        assert_eq!(parse(&gnu).unwrap().name, b"name");
        let star = block_with_checksum(|b| {
            b[MAGIC].copy_from_slice(b"ustar\0");
            b[STAR_TRAILER].copy_from_slice(b"tar\0");
        });
        assert_eq!(format_of(&star), Some(Format::Star));
        let bad_uid = block_with_checksum(|b| b[UID].copy_from_slice(b"zzzzzzz\0"));
        assert_eq!(parse(&bad_uid).unwrap_err(), BlockError::Field("bad uid field"));
    }
}
