//! Docker's `--since` and `--until` values (moby's `api/types/time`): the
//! docker CLI turns a Go duration (`10m`, before now), an RFC 3339 date or
//! time, or a Unix timestamp into `SECONDS[.NANOS]` before it sends it
//! ([`to_unix`]); the daemon reads that form ([`parse_unix`]). Both ends
//! here share the two.
//!
//! One difference: a time without a zone is read as UTC, where Docker
//! reads it in the client's local zone.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The CLI's words for a value that is none of the forms.
    #[error("failed to parse value as time or duration: {0:?}")]
    NotATime(String),
    /// The daemon's (Go's `strconv.ParseInt` error, as moby returns it).
    #[error("strconv.ParseInt: parsing {0:?}: invalid syntax")]
    NotATimestamp(String),
    /// A date-like value that is not a valid date or time.
    #[error("parsing time {0:?}: not a valid RFC 3339 date or time")]
    BadDate(String),
}

const NANOS: i64 = 1_000_000_000;

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?UNIT)+`.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let n = total as i64;
    Some(if negative { -n } else { n })
}

/// The CLI's conversion (moby's `GetTimestamp`): `now` minus a duration,
/// an RFC 3339 date or time, as `SECONDS.NANOS`; a Unix timestamp as given.
pub fn to_unix(value: &str, now: (i64, u32)) -> Result<String, Error> {
    if value != "0"
        && let Some(d) = parse_go_duration(value)
    {
        let t = (now.0 * NANOS + i64::from(now.1)).saturating_sub(d);
        return Ok(t.div_euclid(NANOS).to_string());
    }
    match parse_date(value) {
        Some(Ok((secs, nanos))) => Ok(format!("{secs}.{nanos:09}")),
        Some(Err(())) => Err(Error::BadDate(value.to_string())),
        None => {
            parse_unix(value).map_err(|_| Error::NotATime(value.to_string()))?;
            Ok(value.to_string())
        }
    }
}

/// The daemon's reading (moby's `ParseTimestamps`): `SECONDS[.FRACTION]`,
/// in nanoseconds since the epoch (a fraction past nine digits is cut).
pub fn parse_unix(value: &str) -> Result<i64, Error> {
    let bad = || Error::NotATimestamp(value.to_string());
    let (secs, frac) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let nine: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
            nine.parse::<i64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    secs.checked_mul(NANOS)
        .and_then(|s| s.checked_add(nanos))
        .ok_or_else(bad)
}

/// What the daemon accepts for `since`/`until`: the CLI's forms too (a
/// client other than docker may send them), in nanoseconds.
pub fn parse_any(value: &str, now: (i64, u32)) -> Result<i64, Error> {
    match to_unix(value, now) {
        Ok(unix) => parse_unix(&unix),
        Err(Error::NotATime(_)) => Err(Error::NotATimestamp(value.to_string())),
        Err(e) => Err(e),
    }
}

/// `YYYY-MM-DD[THH[:MM[:SS[.FRACTION]]]][Z|±HH:MM]`: `None` when the
/// value does not look like a date (no `-`), `Some(Err)` when it does but
/// is not one.
fn parse_date(value: &str) -> Option<Result<(i64, u32), ()>> {
    if !value.contains('-') || value.starts_with('-') {
        return None;
    }
    Some(parse_date_parts(value).ok_or(()))
}

fn parse_date_parts(value: &str) -> Option<(i64, u32)> {
    let (body, offset) = split_zone(value)?;
    let (date, time) = match body.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut d = date.split('-');
    let num = |s: Option<&str>, len: usize| -> Option<i64> {
        let s = s?;
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (y, mo, day) = (num(d.next(), 4)?, num(d.next(), 2)?, num(d.next(), 2)?);
    if d.next().is_some() {
        return None;
    }
    let (mut h, mut mi, mut s, mut nanos) = (0, 0, 0, 0u32);
    if let Some(t) = time {
        let (hms, frac) = match t.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (t, None),
        };
        let mut parts = hms.split(':');
        h = num(parts.next(), 2)?;
        mi = parts.next().map_or(Some(0), |p| num(Some(p), 2))?;
        let secs_part = parts.next();
        if frac.is_some() && secs_part.is_none() {
            return None;
        }
        s = secs_part.map_or(Some(0), |p| num(Some(p), 2))?;
        if parts.next().is_some() {
            return None;
        }
        if let Some(f) = frac {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            nanos = format!("{f:0<9}").parse().ok()?;
        }
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let stamp = format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}Z");
    let secs = crate::time::parse_rfc3339(&stamp)?;
    Some((secs - offset, nanos))
}

/// The body and the zone's offset in seconds (0 without a zone).
fn split_zone(value: &str) -> Option<(&str, i64)> {
    if let Some(body) = value.strip_suffix(['Z', 'z']) {
        return Some((body, 0));
    }
    // `±HH:MM` after the date's own dashes.
    let b = value.as_bytes();
    if b.len() > 16 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':' {
        let zone = &value[value.len() - 6..];
        let hours: i64 = zone[1..3].parse().ok()?;
        let minutes: i64 = zone[4..6].parse().ok()?;
        let offset = hours * 3600 + minutes * 60;
        let body = &value[..value.len() - 6];
        return Some((body, if zone.starts_with('-') { -offset } else { offset }));
    }
    Some((value, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: (i64, u32) = (1_796_306_400, 500);

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Some(600 * NANOS));
        assert_eq!(parse_go_duration("1h30m"), Some(5400 * NANOS));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("-2s"), Some(-2 * NANOS));
        assert_eq!(parse_go_duration("2\u{b5}s"), Some(2000));
        for bad in ["", "10", "m", "1x", "1..2s", ".s", "1h2", "-"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_clis_conversion() {
        assert_eq!(to_unix("10m", NOW).unwrap(), "1796305800");
        assert_eq!(to_unix("0", NOW).unwrap(), "0");
        assert_eq!(to_unix("1700000000", NOW).unwrap(), "1700000000");
        assert_eq!(to_unix("1700000000.5", NOW).unwrap(), "1700000000.5");
        assert_eq!(to_unix("2026-12-03", NOW).unwrap(), "1796256000.000000000");
        assert_eq!(to_unix("2026-12-03T14:00:00Z", NOW).unwrap(), "1796306400.000000000");
        assert_eq!(
            to_unix("2026-12-03T15:00:00+01:00", NOW).unwrap(),
            "1796306400.000000000"
        );
        assert_eq!(to_unix("2026-12-03T14:00:00.25Z", NOW).unwrap(), "1796306400.250000000");
        assert_eq!(to_unix("2026-12-03T14", NOW).unwrap(), "1796306400.000000000");
        assert_eq!(to_unix("2026-12-03T14:00", NOW).unwrap(), "1796306400.000000000");
        assert_eq!(
            to_unix("garbage", NOW).unwrap_err().to_string(),
            "failed to parse value as time or duration: \"garbage\""
        );
        assert!(matches!(to_unix("2026-13-03", NOW), Err(Error::BadDate(_))));
        assert!(matches!(to_unix("2026-12-03T14.5", NOW), Err(Error::BadDate(_))));
    }

    #[test]
    fn the_daemons_reading() {
        assert_eq!(parse_unix("12").unwrap(), 12 * NANOS);
        assert_eq!(parse_unix("12.5").unwrap(), 12 * NANOS + 500_000_000);
        assert_eq!(parse_unix("12.000000001").unwrap(), 12 * NANOS + 1);
        assert_eq!(parse_unix("12.1234567899").unwrap(), 12 * NANOS + 123_456_789);
        assert_eq!(parse_unix("-1").unwrap(), -NANOS);
        assert_eq!(
            parse_unix("garbage").unwrap_err().to_string(),
            "strconv.ParseInt: parsing \"garbage\": invalid syntax"
        );
        for bad in ["", "1.", "1.x", "1.-5", "99999999999999999999"] {
            assert!(parse_unix(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_any("10m", NOW).unwrap(), 1_796_305_800 * NANOS);
        assert_eq!(parse_any("2026-12-03T14:00:00Z", NOW).unwrap(), 1_796_306_400 * NANOS);
        assert!(matches!(parse_any("garbage", NOW), Err(Error::NotATimestamp(_))));
    }
}
