//! Quoting what a client sent in a message: at most a short prefix, so a
//! 100 KB name cannot make a 100 KB error (or log line).

/// At most `max` characters of `s`, then `…` and the full length.
pub fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
    }
}

/// The longest message an API error carries (a backstop: callers quote
/// names with [`excerpt`] already).
pub const MESSAGE_MAX: usize = 1024;

/// `message` as an error may carry it: whole up to [`MESSAGE_MAX`] bytes,
/// otherwise cut to an excerpt well under it.
pub fn bounded(message: String) -> String {
    if message.len() > MESSAGE_MAX {
        excerpt(&message, MESSAGE_MAX / 4 - 16)
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::{MESSAGE_MAX, bounded, excerpt};

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("ééééé", 2), "éé… (10 bytes)");
        assert!(excerpt(&"x".repeat(100_000), 64).len() < 100);
    }

    #[test]
    fn messages_over_the_limit_are_cut_below_it() {
        let at_limit = "y".repeat(MESSAGE_MAX);
        assert_eq!(bounded(at_limit.clone()), at_limit);
        let over = bounded("z".repeat(MESSAGE_MAX + 1));
        assert!(over.len() < MESSAGE_MAX && over.ends_with("(1025 bytes)"), "{over}");
    }
}
