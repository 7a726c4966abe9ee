//! Sparse files: the maps of the formats GNU tar writes (old GNU header
//! slots, PAX 0.0 / 0.1 records, PAX 1.0's map at the head of the data),
//! validated as Go's archive/tar validates them (`validateSparseEntries`).
//! The map says where the entry's data goes in the file; everything else
//! is a hole.

/// Most map entries one file may have: 1 MiB of (offset, length) pairs.
pub const MAX_ENTRIES: usize = 1 << 16;
/// Longest number in a PAX 1.0 map (`i64::MAX` has 19 digits).
const MAX_TOKEN: usize = 64;

/// A run of data: `len` bytes of the entry's data go at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub offset: u64,
    pub len: u64,
}

/// One map entry as the archive states it: (offset, length).
pub type RawEntry = (i64, i64);

fn push(map: &mut Vec<RawEntry>, entry: RawEntry) -> Result<(), String> {
    if map.len() >= MAX_ENTRIES {
        return Err(format!("sparse map of more than {MAX_ENTRIES} entries"));
    }
    map.push(entry);
    Ok(())
}

/// Reads old GNU sparse slots (24 bytes each: offset, length; a slot
/// starting with NUL ends the list, as in GNU and BSD tar).
pub fn read_slots(slots: &[u8], map: &mut Vec<RawEntry>) -> Result<(), String> {
    for slot in slots.chunks_exact(super::header::SPARSE_ENTRY) {
        if slot[0] == 0 {
            break;
        }
        let offset = super::header::parse_numeric(&slot[..12]);
        let len = super::header::parse_numeric(&slot[12..]);
        match (offset, len) {
            (Some(o), Some(l)) => push(map, (o, l))?,
            _ => return Err("bad number in the old GNU sparse map".into()),
        }
    }
    Ok(())
}

fn parse_count(v: &[u8]) -> Result<usize, String> {
    let n = super::pax::parse_int(v)
        .filter(|&n| n >= 0)
        .ok_or("bad sparse map entry count")?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_ENTRIES)
        .ok_or_else(|| format!("sparse map of {n} entries exceeds {MAX_ENTRIES}"))
}

/// PAX 0.0 and 0.1: `GNU.sparse.numblocks` entries in the comma-separated
/// `GNU.sparse.map`.
pub fn parse_0x1(numblocks: Option<&[u8]>, map: Option<&[u8]>) -> Result<Vec<RawEntry>, String> {
    let count = parse_count(numblocks.unwrap_or(b""))?;
    let map = map.unwrap_or(b"");
    let fields = if map.is_empty() {
        0
    } else {
        map.iter().filter(|&&c| c == b',').count() + 1
    };
    if fields != 2 * count {
        return Err(format!(
            "sparse map holds {fields} numbers where {count} entries need {}",
            2 * count
        ));
    }
    let mut out = Vec::with_capacity(count);
    let mut numbers = map.split(|&c| c == b',');
    while let (Some(o), Some(l)) = (numbers.next(), numbers.next()) {
        match (super::pax::parse_int(o), super::pax::parse_int(l)) {
            (Some(o), Some(l)) => out.push((o, l)),
            _ => return Err("bad number in the sparse map".into()),
        }
    }
    Ok(out)
}

/// PAX 1.0's map, read from the first blocks of the entry's data:
/// newline-terminated decimal numbers, the count first. Parsed as the
/// blocks arrive, so its memory is that of the entries alone.
#[derive(Debug, Default)]
pub struct Map1x0 {
    count: Option<usize>,
    pending: Option<i64>,
    token: Vec<u8>,
    entries: Vec<RawEntry>,
}

impl Map1x0 {
    pub fn new() -> Self {
        Self::default()
    }

    fn complete(&self) -> bool {
        self.count == Some(self.entries.len())
    }

    /// Takes the next block of the map; true once the map is complete (the
    /// rest of that block is padding).
    pub fn feed(&mut self, block: &[u8]) -> Result<bool, String> {
        for &c in block {
            if self.complete() {
                break;
            }
            if c != b'\n' {
                if self.token.len() >= MAX_TOKEN {
                    return Err("number too long in the sparse map".into());
                }
                self.token.push(c);
                continue;
            }
            let n = super::pax::parse_int(&self.token);
            let token = std::mem::take(&mut self.token);
            if self.count.is_none() {
                self.count = Some(parse_count(&token)?);
                continue;
            }
            let n = n.ok_or("bad number in the sparse map")?;
            match self.pending.take() {
                None => self.pending = Some(n),
                Some(offset) => self.entries.push((offset, n)),
            }
        }
        Ok(self.complete())
    }

    pub fn finish(self) -> Vec<RawEntry> {
        self.entries
    }
}

/// Checks a map against the file's real size: offsets and lengths not
/// negative, in order, not overlapping, ending within the file.
pub fn validate(map: &[RawEntry], size: i64) -> Result<Vec<Segment>, String> {
    if size < 0 {
        return Err(format!("negative real size {size}"));
    }
    let mut prev_end = 0i64;
    let mut out = Vec::with_capacity(map.len());
    for &(offset, len) in map {
        if offset < 0 || len < 0 {
            return Err(format!("sparse map entry ({offset}, {len}) is negative"));
        }
        let end = offset
            .checked_add(len)
            .ok_or_else(|| format!("sparse map entry ({offset}, {len}) overflows"))?;
        if end > size {
            return Err(format!(
                "sparse data at {offset} of {len} bytes ends beyond the real size {size}"
            ));
        }
        if prev_end > offset {
            return Err(format!(
                "sparse data at {offset} overlaps or precedes the data before it, which ends at {prev_end}"
            ));
        }
        prev_end = end;
        out.push(Segment {
            offset: offset as u64,
            len: len as u64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_validated_as_go_validates_them() {
        let seg = |offset, len| Segment { offset, len };
        assert_eq!(
            validate(&[(0, 5), (5, 0), (10, 2), (12, 0)], 12).unwrap(),
            vec![seg(0, 5), seg(5, 0), seg(10, 2), seg(12, 0)]
        );
        assert!(validate(&[], 0).unwrap().is_empty());
        assert!(validate(&[(0, 1)], -1).is_err());
        assert!(validate(&[(-1, 1)], 10).is_err());
        assert!(validate(&[(0, -1)], 10).is_err());
        assert!(validate(&[(1, i64::MAX)], i64::MAX).is_err());
        assert!(validate(&[(8, 3)], 10).unwrap_err().contains("beyond"));
        assert!(validate(&[(0, 5), (4, 1)], 10).unwrap_err().contains("overlaps"));
        assert!(validate(&[(5, 1), (0, 1)], 10).is_err());
    }

    #[test]
    fn pax_0x1_maps_parse() {
        assert_eq!(parse_0x1(Some(b"2"), Some(b"0,5,10,2")).unwrap(), vec![(0, 5), (10, 2)]);
        assert!(parse_0x1(Some(b"0"), None).unwrap().is_empty());
        assert!(parse_0x1(Some(b"0"), Some(b"")).unwrap().is_empty());
        assert!(parse_0x1(Some(b"2"), Some(b"0,5,10")).is_err());
        assert!(parse_0x1(Some(b"1"), Some(b"0,x")).is_err());
        assert!(parse_0x1(None, Some(b"0,1")).is_err());
        assert!(parse_0x1(Some(b"-1"), Some(b"")).is_err());
        assert!(parse_0x1(Some(b"99999999"), Some(b"")).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn pax_1x0_maps_parse_across_blocks() {
        let mut text = b"3\n0\n5\n".to_vec();
        text.extend(std::iter::repeat_n(b'0', 20));
        text.extend(b"10\n2\n12\n0\n");
        let mut m = Map1x0::new();
        let mut blocks = text.chunks(16);
        let mut done = false;
        for b in blocks.by_ref() {
            done = m.feed(b).unwrap();
            if done {
                break;
            }
        }
        assert!(done && blocks.next().is_none());
        assert_eq!(m.finish(), vec![(0, 5), (10, 2), (12, 0)]);

        let mut m = Map1x0::new();
        assert!(m.feed(b"0\njunk after the map is padding").unwrap());
        let mut m = Map1x0::new();
        assert!(m.feed(b"99999999\n").unwrap_err().contains("exceeds"));
        let mut m = Map1x0::new();
        assert!(m.feed(&[b'1'; 100]).unwrap_err().contains("too long"));
        let mut m = Map1x0::new();
        assert!(m.feed(b"1\n0\nx\n").is_err());
        let mut m = Map1x0::new();
        assert!(!m.feed(b"2\n0\n1\n").unwrap(), "one entry of two");
    }

    #[test]
    fn old_gnu_slots_stop_at_a_nul() {
        let mut slots = [0u8; 96];
        slots[..12].copy_from_slice(b"00000000000\0");
        slots[12..24].copy_from_slice(b"00000000012\0");
        slots[24..36].copy_from_slice(b"00000000100\0");
        slots[36..48].copy_from_slice(b"00000000001\0");
        let mut map = Vec::new();
        read_slots(&slots, &mut map).unwrap();
        assert_eq!(map, vec![(0, 10), (64, 1)]);
        slots[24..36].copy_from_slice(b"0000000010x\0");
        assert!(read_slots(&slots, &mut Vec::new()).is_err());
    }
}
