//! PAX extended header records (`<len> <key>=<value>\n`), parsed as Go's
//! archive/tar parses them. Only the records extraction uses are kept, so
//! what a header costs is bounded by its (bounded) size.

use std::collections::BTreeMap;

/// Most extended attributes one entry may carry (Linux itself lists at most
/// 64 KiB of names per file).
pub const MAX_XATTRS: usize = 1024;

/// The records of one PAX header that extraction uses. A later record for
/// the same key replaces an earlier one; an empty value means "keep the
/// header's own field", as in Go.
#[derive(Debug, Default)]
pub struct Pax {
    pub path: Option<Vec<u8>>,
    pub linkpath: Option<Vec<u8>>,
    pub size: Option<Vec<u8>>,
    pub uid: Option<Vec<u8>>,
    pub gid: Option<Vec<u8>>,
    pub mtime: Option<Vec<u8>>,
    /// `SCHILY.xattr.<name>` with a UTF-8 name.
    pub xattrs: BTreeMap<String, Vec<u8>>,
    pub sparse: SparseRecords,
}

/// The `GNU.sparse.*` records.
#[derive(Debug, Default)]
pub struct SparseRecords {
    pub major: Option<Vec<u8>>,
    pub minor: Option<Vec<u8>>,
    pub name: Option<Vec<u8>>,
    pub size: Option<Vec<u8>>,
    pub realsize: Option<Vec<u8>>,
    pub numblocks: Option<Vec<u8>>,
    /// Format 0.1's `GNU.sparse.map`, or format 0.0's repeated
    /// `GNU.sparse.offset` / `GNU.sparse.numbytes` records joined into the
    /// same comma-separated form (they replace a `map` record).
    pub map: Option<Vec<u8>>,
}

/// A non-empty value, the way Go reads `hdr.PAXRecords[key] != ""`.
pub fn value(v: &Option<Vec<u8>>) -> Option<&[u8]> {
    v.as_deref().filter(|v| !v.is_empty())
}

/// A record's key and value, and what follows the record.
struct Split<'a> {
    key: &'a [u8],
    value: &'a [u8],
    rest: &'a [u8],
}

/// Splits the first record off `s`.
fn next_record(s: &[u8]) -> Result<Split<'_>, &'static str> {
    let space = s.iter().position(|&c| c == b' ').ok_or("PAX record without a length")?;
    let len: i64 = std::str::from_utf8(&s[..space])
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or("PAX record with a bad length")?;
    // The length counts itself, the space, the record and its newline.
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n >= 5 && n <= s.len() && n > space + 1)
        .ok_or("PAX record length out of range")?;
    let (record, rest) = (&s[space + 1..len - 1], &s[len..]);
    if s[len - 1] != b'\n' {
        return Err("PAX record not ended by a newline");
    }
    let eq = record.iter().position(|&c| c == b'=').ok_or("PAX record without `=`")?;
    let (key, value) = (&record[..eq], &record[eq + 1..]);
    let named = matches!(key, b"path" | b"linkpath" | b"uname" | b"gname");
    if key.is_empty() || (named && value.contains(&0)) || (!named && key.contains(&0)) {
        return Err("invalid PAX record");
    }
    Ok(Split { key, value, rest })
}

impl Pax {
    /// Parses a whole PAX header's data.
    pub fn parse(mut data: &[u8]) -> Result<Pax, String> {
        let mut pax = Pax::default();
        // Format 0.0's pairs, checked for order and joined as 0.1 writes them.
        let mut pairs: Vec<u8> = Vec::new();
        let mut pair_values = 0usize;
        while !data.is_empty() {
            let Split { key, value, rest } = next_record(data).map_err(str::to_string)?;
            data = rest;
            let slot = match key {
                b"path" => &mut pax.path,
                b"linkpath" => &mut pax.linkpath,
                b"size" => &mut pax.size,
                b"uid" => &mut pax.uid,
                b"gid" => &mut pax.gid,
                b"mtime" => &mut pax.mtime,
                b"GNU.sparse.major" => &mut pax.sparse.major,
                b"GNU.sparse.minor" => &mut pax.sparse.minor,
                b"GNU.sparse.name" => &mut pax.sparse.name,
                b"GNU.sparse.size" => &mut pax.sparse.size,
                b"GNU.sparse.realsize" => &mut pax.sparse.realsize,
                b"GNU.sparse.numblocks" => &mut pax.sparse.numblocks,
                b"GNU.sparse.map" => &mut pax.sparse.map,
                b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                    let want_offset = pair_values.is_multiple_of(2);
                    if want_offset != (key == b"GNU.sparse.offset") || value.contains(&b',') {
                        return Err("GNU sparse 0.0 records out of order".into());
                    }
                    if pair_values > 0 {
                        pairs.push(b',');
                    }
                    pairs.extend_from_slice(value);
                    pair_values += 1;
                    continue;
                }
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.")
                        && let Ok(name) = std::str::from_utf8(name)
                    {
                        if pax.xattrs.len() >= MAX_XATTRS && !pax.xattrs.contains_key(name) {
                            return Err(format!("more than {MAX_XATTRS} extended attributes on one entry"));
                        }
                        pax.xattrs.insert(name.to_string(), value.to_vec());
                    }
                    continue;
                }
            };
            *slot = Some(value.to_vec());
        }
        if pair_values > 0 {
            pax.sparse.map = Some(pairs);
        }
        Ok(pax)
    }
}

/// Parses a decimal integer as Go's `strconv.ParseInt(s, 10, 64)` does:
/// an optional sign, digits, no overflow.
pub fn parse_int(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Parses a PAX time (`1700000000.123456789`, possibly negative); digits
/// beyond nanoseconds are dropped.
pub fn parse_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = int.parse().ok()?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: u32 = digits.parse().ok()?;
    if (sec < 0 || int.starts_with('-')) && nsec > 0 {
        // -1.5 means 1.5 s before the epoch.
        return Some((sec.checked_sub(1)?, 1_000_000_000 - nsec));
    }
    Some((sec, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(k: &str, v: &str) -> Vec<u8> {
        let body = format!(" {k}={v}\n");
        let mut n = body.len() + 1;
        while n.to_string().len() + body.len() != n {
            n += 1;
        }
        format!("{n}{body}").into_bytes()
    }

    #[test]
    fn records_parse_and_the_last_one_wins() {
        let mut data = record("path", "first");
        data.extend(record("path", "a/b\nc"));
        data.extend(record("size", "123"));
        data.extend(record("SCHILY.xattr.user.x", "v\0w"));
        data.extend(record("comment", "ignored"));
        let pax = Pax::parse(&data).unwrap();
        assert_eq!(pax.path.as_deref(), Some(&b"a/b\nc"[..]));
        assert_eq!(pax.size.as_deref(), Some(&b"123"[..]));
        assert_eq!(pax.xattrs["user.x"], b"v\0w");
        assert_eq!(Pax::parse(b"").unwrap().path, None);
    }

    #[test]
    fn malformed_records_are_refused() {
        for bad in [
            &b"5 a=\n\0\0\0"[..],
            b"x path=a\n",
            b"7 path=a\n",
            b"3 a=\n",
            b"7 =abc\n",
            b"8 noeq\n\n",
            b"11 path=a\0\n",
        ] {
            assert!(Pax::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(Pax::parse(&record("path", "")).unwrap().path.is_some());
    }

    #[test]
    fn sparse_zero_zero_pairs_join_in_order() {
        let mut data = record("GNU.sparse.offset", "0");
        data.extend(record("GNU.sparse.numbytes", "5"));
        data.extend(record("GNU.sparse.offset", "100"));
        data.extend(record("GNU.sparse.numbytes", "1"));
        assert_eq!(Pax::parse(&data).unwrap().sparse.map.unwrap(), b"0,5,100,1");
        let mut swapped = record("GNU.sparse.numbytes", "5");
        swapped.extend(record("GNU.sparse.offset", "0"));
        assert!(Pax::parse(&swapped).is_err());
        assert!(Pax::parse(&record("GNU.sparse.offset", "1,2")).is_err());
    }

    #[test]
    fn xattrs_are_bounded() {
        let mut data = Vec::new();
        for i in 0..=MAX_XATTRS {
            data.extend(record(&format!("SCHILY.xattr.user.{i}"), "v"));
        }
        assert!(Pax::parse(&data).unwrap_err().contains("extended attributes"));
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time(b"1700000000.5"), Some((1700000000, 500_000_000)));
        assert_eq!(parse_time(b"12"), Some((12, 0)));
        assert_eq!(parse_time(b"-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_time(b"1.1234567891"), Some((1, 123_456_789)));
        assert_eq!(parse_time(b"x"), None);
        assert_eq!(parse_time(b"1.x"), None);
        assert_eq!(parse_int(b"+5"), Some(5));
        assert_eq!(parse_int(b"99999999999999999999"), None);
    }
}
