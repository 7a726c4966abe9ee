//! `docker ps --filter`: Docker's container filters, honoured or refused.
//! Values of one key are alternatives; keys must all hold (moby's
//! `daemon/list.go` rules). A filter this daemon cannot evaluate is an
//! error, never a filter that lets everything through.

use super::error::Error;
use super::record::Record;
use super::status::Status;
use crate::layers::{Digest, Store};
use std::collections::BTreeMap;

/// Docker's container states (`status=` values).
const STATES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// A parsed filter set for the container list.
#[derive(Debug, Default)]
pub struct ContainerFilter {
    ids: Vec<String>,
    names: Vec<Pattern>,
    labels: Vec<String>,
    statuses: Vec<String>,
    exited: Vec<i32>,
    ancestors: Vec<Digest>,
    /// Only containers created before (after) this one: its creation time.
    before: Option<String>,
    since: Option<String>,
    networks: Vec<String>,
    /// Filters that no container here can match (no volumes, health
    /// checks, published ports or tasks exist): present means "none".
    matches_nothing: bool,
    expose: Vec<String>,
    /// `volume=NAME|DESTINATION|SOURCE`.
    volumes: Vec<String>,
    /// `status=` asks for stopped containers too (Docker sets `all`).
    pub wants_all: bool,
}

impl ContainerFilter {
    /// `filters` as the API parses them from the query; `find`
    /// resolves a container name or ID to its record (for before/since).
    pub fn parse(
        filters: &BTreeMap<String, Vec<String>>,
        store: &Store,
        find: impl Fn(&str) -> Option<Record>,
    ) -> Result<ContainerFilter, Error> {
        let mut f = ContainerFilter::default();
        for (key, values) in filters {
            let invalid = |v: &str| Error::invalid(format!("invalid filter '{key}={}'", crate::quote::excerpt(v, 64)));
            for v in values {
                match key.as_str() {
                    "id" => f.ids.push(v.clone()),
                    "name" => f.names.push(Pattern::parse(v).map_err(|m| {
                        Error::invalid(format!("invalid filter 'name={}': {m}", crate::quote::excerpt(v, 64)))
                    })?),
                    "label" => f.labels.push(v.clone()),
                    "status" => {
                        if !STATES.contains(&v.as_str()) {
                            return Err(invalid(v));
                        }
                        f.statuses.push(v.clone());
                        f.wants_all = true;
                    }
                    "exited" => f.exited.push(v.parse().map_err(|_| invalid(v))?),
                    "ancestor" => f.ancestors.push(store.image(v).map_err(|_| invalid(v))?.id),
                    "before" | "since" => {
                        let r = find(v).ok_or_else(|| {
                            Error::not_found(format!("No such container: {}", crate::quote::excerpt(v, 64)))
                        })?;
                        let slot = if key == "before" { &mut f.before } else { &mut f.since };
                        *slot = Some(r.created);
                    }
                    "network" => f.networks.push(v.clone()),
                    "volume" => f.volumes.push(v.clone()),
                    "publish" => f.matches_nothing = true,
                    "health" => match v.as_str() {
                        "none" => {}
                        "starting" | "healthy" | "unhealthy" => f.matches_nothing = true,
                        _ => return Err(invalid(v)),
                    },
                    "is-task" => match v.as_str() {
                        "false" | "0" => {}
                        "true" | "1" => f.matches_nothing = true,
                        _ => return Err(invalid(v)),
                    },
                    "isolation" => {
                        if !matches!(v.as_str(), "" | "default") {
                            f.matches_nothing = true;
                        }
                    }
                    "expose" => f
                        .expose
                        .push(if v.contains('/') { v.clone() } else { format!("{v}/tcp") }),
                    _ => {
                        return Err(Error::invalid(format!(
                            "invalid filter '{}'",
                            crate::quote::excerpt(key, 64)
                        )));
                    }
                }
            }
        }
        Ok(f)
    }

    /// Whether the container of `r` passes; `parent_of` walks the image
    /// lineage (for `ancestor`).
    pub fn matches(&self, r: &Record, parent_of: impl Fn(&Digest) -> Option<Digest>) -> bool {
        let any = |list: &[String], pred: &dyn Fn(&str) -> bool| list.is_empty() || list.iter().any(|v| pred(v));
        if self.matches_nothing {
            return false;
        }
        let name = format!("/{}", r.name);
        let labels = r.config.labels.clone().unwrap_or_default();
        let network = match r.host_config.network_mode.as_str() {
            "" | "default" => "host",
            other => other,
        };
        any(&self.ids, &|v| r.id.starts_with(v))
            && (self.names.is_empty() || self.names.iter().any(|p| p.is_match(&name)))
            && any(&self.labels, &|v| match v.split_once('=') {
                Some((k, want)) => labels.get(k).is_some_and(|x| x == want),
                None => labels.contains_key(v),
            })
            && any(&self.statuses, &|v| r.state.status.as_str() == v)
            && (self.exited.is_empty()
                || (r.state.status == Status::Exited && self.exited.contains(&r.state.exit_code)))
            && (self.ancestors.is_empty() || self.descends_from(r.image, &parent_of))
            && self.before.as_ref().is_none_or(|t| r.created < *t)
            && self.since.as_ref().is_none_or(|t| r.created > *t)
            && any(&self.networks, &|v| v == network)
            && any(&self.volumes, &|v| {
                r.mounts.iter().any(|m| m.source == v || m.target == v)
            })
            && (self.expose.is_empty() || {
                let exposed = r.config.extra.get("ExposedPorts").and_then(|v| v.as_object());
                self.expose.iter().any(|p| exposed.is_some_and(|m| m.contains_key(p)))
            })
    }

    fn descends_from(&self, image: Digest, parent_of: &impl Fn(&Digest) -> Option<Digest>) -> bool {
        let mut at = Some(image);
        // Bounded: a lineage is a chain of commits, never a cycle, but a
        // corrupt store must not loop.
        for _ in 0..1000 {
            let Some(id) = at else { return false };
            if self.ancestors.contains(&id) {
                return true;
            }
            at = parent_of(&id);
        }
        false
    }
}

/// The part of Go's regexp syntax a name filter may use: literals, `.`,
/// `^`, `$`, `\` escapes, and `*`, `+`, `?` after an atom. Anything else
/// (classes, groups, alternation) is refused rather than misread.
#[derive(Debug)]
pub struct Pattern {
    anchored_start: bool,
    anchored_end: bool,
    atoms: Vec<(Atom, Repeat)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Atom {
    Any,
    Char(char),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Repeat {
    One,
    ZeroOrMore,
    OneOrMore,
    ZeroOrOne,
}

impl Pattern {
    pub fn parse(s: &str) -> Result<Pattern, String> {
        let mut chars: Vec<char> = s.chars().collect();
        let anchored_start = chars.first() == Some(&'^');
        if anchored_start {
            chars.remove(0);
        }
        let anchored_end = chars.last() == Some(&'$') && !(chars.len() >= 2 && chars[chars.len() - 2] == '\\');
        if anchored_end {
            chars.pop();
        }
        let mut atoms: Vec<(Atom, Repeat)> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let atom = match c {
                '.' => Atom::Any,
                '\\' => {
                    i += 1;
                    Atom::Char(*chars.get(i).ok_or("a trailing backslash")?)
                }
                '*' | '+' | '?' => {
                    let Some(last) = atoms.last_mut().filter(|(_, r)| *r == Repeat::One) else {
                        return Err(format!("{c} must follow a character"));
                    };
                    last.1 = match c {
                        '*' => Repeat::ZeroOrMore,
                        '+' => Repeat::OneOrMore,
                        _ => Repeat::ZeroOrOne,
                    };
                    i += 1;
                    continue;
                }
                '[' | ']' | '(' | ')' | '|' | '{' | '}' | '^' | '$' => {
                    return Err(format!("strata does not support {c} in name filters yet"));
                }
                c => Atom::Char(c),
            };
            atoms.push((atom, Repeat::One));
            i += 1;
        }
        Ok(Pattern {
            anchored_start,
            anchored_end,
            atoms,
        })
    }

    /// Whether the pattern matches anywhere in `text` (as Go's
    /// `regexp.MatchString`), honouring the anchors.
    pub fn is_match(&self, text: &str) -> bool {
        // A set of positions in the pattern, moved along the text: time is
        // linear in the text times the pattern, and no recursion, whatever
        // the input (`.*.*.*…` cannot make a request take exponential time).
        let n = self.atoms.len();
        let mut live = vec![false; n + 1];
        live[0] = true;
        self.skip_optional(&mut live);
        for c in text.chars() {
            if live[n] && !self.anchored_end {
                return true;
            }
            let mut next = vec![false; n + 1];
            for (i, &(atom, rep)) in self.atoms.iter().enumerate() {
                if live[i] && (atom == Atom::Any || atom == Atom::Char(c)) {
                    next[i + 1] = true;
                    if matches!(rep, Repeat::ZeroOrMore | Repeat::OneOrMore) {
                        next[i] = true;
                    }
                }
            }
            if !self.anchored_start {
                next[0] = true;
            }
            self.skip_optional(&mut next);
            live = next;
        }
        live[n]
    }

    /// Adds the positions reached by skipping atoms that may match nothing.
    fn skip_optional(&self, live: &mut [bool]) {
        for (i, &(_, rep)) in self.atoms.iter().enumerate() {
            if live[i] && matches!(rep, Repeat::ZeroOrMore | Repeat::ZeroOrOne) {
                live[i + 1] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, t: &str) -> bool {
        Pattern::parse(p).unwrap().is_match(t)
    }

    #[test]
    fn name_patterns_match_as_go_regexps_do() {
        assert!(m("web", "/my-web-1"));
        assert!(!m("zzz", "/my-web-1"));
        assert!(m("^/my", "/my-web-1"));
        assert!(!m("^my", "/my-web-1"));
        assert!(m("web-1$", "/my-web-1"));
        assert!(!m("web$", "/my-web-1"));
        assert!(m("^/my-.*-1$", "/my-web-1"));
        assert!(m("w.b", "/web"));
        assert!(m("^/a+b?c*$", "/aaa"));
        assert!(!m("^/a+$", "/"));
        assert!(m("a\\.b", "/a.b"));
        assert!(!m("a\\.b", "/axb"));
        assert!(m("", "/anything"));
        // Memoised: this would take ~100^20 steps by plain backtracking.
        let many = format!("{}x", ".*".repeat(20));
        assert!(!m(&many, &"a".repeat(100)));
        for bad in ["[ab]", "(a)", "a|b", "a{2}", "*a", "a\\"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any pattern parses or is refused; a literal one matches exactly
        /// where it is a substring, as Go's regexp would.
        #[test]
        fn literal_patterns_are_substrings(any in ".{0,20}", text in "[a-c/-]{0,12}", lit in "[a-c-]{0,4}") {
            if let Ok(p) = Pattern::parse(&any) {
                let _ = p.is_match(&text);
            }
            prop_assert_eq!(m(&lit, &text), text.contains(&lit));
            prop_assert_eq!(m(&format!("^{lit}$"), &text), text == lit);
        }
    }
}
