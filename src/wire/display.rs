//! How Docker prints wire values for people, the same on both ends of the
//! wire: durations (the daemon's `ps` status "Up 5 minutes", the client's
//! "2 minutes ago") and Go's `time.String()` of a unix time. The only part of
//! the wire that reads the clock (`crate::time`, a leaf).

use crate::time;

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let hours = ((secs as f64) / 3600.0 + 0.5) as i64;
    match secs {
        s if s < 1 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".to_string(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        s => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// "N units ago" for a unix time.
pub fn ago(unix: i64) -> String {
    format!("{} ago", human_duration(time::now_unix() - unix))
}

/// Go's `time.Time.String()` of a unix time in UTC, as docker prints
/// `CreatedAt`: `2025-11-28 18:38:33 +0000 UTC`.
pub fn go_time_string(unix: i64) -> String {
    time::format_rfc3339(unix, 0)
        .replacen('T', " ", 1)
        .replace('Z', " +0000 UTC")
}

/// Go's `time.Unix(unix, 0).Format(time.RFC3339)` in UTC, as `docker
/// history --format '{{.CreatedAt}}'` prints it.
pub fn rfc3339(unix: i64) -> String {
    time::format_rfc3339(unix, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }

    #[test]
    fn go_time_strings_read_like_docker() {
        assert_eq!(go_time_string(1_764_355_113), "2025-11-28 18:38:33 +0000 UTC");
        assert_eq!(go_time_string(0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn ages_count_back_from_now() {
        assert_eq!(ago(time::now_unix() - 600), "10 minutes ago");
    }
}
