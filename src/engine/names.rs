//! Names for containers created without one, in Docker's style
//! (`adjective_surname`).

const LEFT: &[&str] = &[
    "admiring",
    "agitated",
    "amazing",
    "blissful",
    "bold",
    "brave",
    "busy",
    "clever",
    "compassionate",
    "cool",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elegant",
    "epic",
    "fervent",
    "focused",
    "friendly",
    "gallant",
    "gifted",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "laughing",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "pensive",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "tender",
    "vibrant",
    "wizardly",
    "zealous",
];

const RIGHT: &[&str] = &[
    "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euclid", "faraday", "fermat", "feynman", "galileo",
    "gauss", "hamilton", "hopper", "hypatia", "johnson", "kepler", "knuth", "lamarr", "lovelace", "mccarthy",
    "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "thompson", "torvalds", "turing", "wozniak",
];

/// A free name derived from the container's (random) ID.
pub fn generate(id: &str, taken: impl Fn(&str) -> bool) -> String {
    let seed = u64::from_str_radix(&id[..id.len().min(15)], 16).unwrap_or(0);
    let base = format!(
        "{}_{}",
        LEFT[(seed % LEFT.len() as u64) as usize],
        RIGHT[((seed / LEFT.len() as u64) % RIGHT.len() as u64) as usize]
    );
    if !taken(&base) {
        return base;
    }
    (1..).map(|n| format!("{base}{n}")).find(|n| !taken(n)).unwrap_or(base)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_free() {
        let id = "0123456789abcdef";
        let first = super::generate(id, |_| false);
        assert!(first.contains('_'));
        let second = super::generate(id, |n| n == first);
        assert_ne!(first, second);
        assert!(second.starts_with(&first));
    }
}
