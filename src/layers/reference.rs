//! Image references (`name[:tag]`), validated and normalised as Docker does:
//! `docker.io/library/busybox` and `busybox` are the same repository, the
//! tag defaults to `latest`, and names are lowercase.

use std::fmt;

pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A repository name with a tag, in Docker's short ("familiar") form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    name: String,
    tag: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: {0:?}")]
    Invalid(String),
    #[error("invalid tag format: {0:?}")]
    InvalidTag(String),
    #[error("invalid reference format: repository name must not be longer than {MAX_NAME_LEN} characters")]
    TooLong,
}

impl Reference {
    /// Parses `name[:tag]`. A digest reference (`name@sha256:…`) is refused:
    /// local images have no registry digest.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.contains('@') {
            return Err(ReferenceError::Invalid(s.to_string()));
        }
        let (name, tag) = match s.rfind(':') {
            Some(i) if !s[i..].contains('/') => (&s[..i], Some(&s[i + 1..])),
            _ => (s, None),
        };
        let name = normalise_name(name)?;
        let tag = match tag {
            Some(t) => {
                check_tag(t)?;
                t.to_string()
            }
            None => DEFAULT_TAG.to_string(),
        };
        Ok(Reference { name, tag })
    }

    /// Builds a reference from separate repository and tag, as the API's
    /// `repo=…&tag=…` parameters carry them. `repo` may itself hold a tag when
    /// `tag` is empty (`docker import x.tar y:1` sends `repo=y:1`).
    pub fn from_parts(repo: &str, tag: &str) -> Result<Reference, ReferenceError> {
        if tag.is_empty() {
            return Reference::parse(repo);
        }
        check_tag(tag)?;
        if repo.contains('@') {
            return Err(ReferenceError::Invalid(repo.to_string()));
        }
        Ok(Reference {
            name: normalise_name(repo)?,
            tag: tag.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

fn check_tag(t: &str) -> Result<(), ReferenceError> {
    let mut chars = t.chars();
    let ok = t.len() <= MAX_TAG_LEN
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::InvalidTag(t.to_string()))
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let dashes = sep.bytes().all(|x| x == b'-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `label(.label)*(:port)?` with labels `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
fn is_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn normalise_name(name: &str) -> Result<String, ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Invalid(name.to_string()));
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(d) = domain
        && !is_domain(d)
    {
        return Err(ReferenceError::Invalid(name.to_string()));
    }
    for comp in path.split('/') {
        if !is_path_component(comp) {
            if comp.chars().any(|c| c.is_ascii_uppercase()) && is_path_component(&comp.to_ascii_lowercase()) {
                return Err(ReferenceError::Uppercase(name.to_string()));
            }
            return Err(ReferenceError::Invalid(name.to_string()));
        }
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ReferenceError::TooLong);
    }
    let familiar = match domain {
        Some("docker.io" | "index.docker.io") | None => path
            .strip_prefix("library/")
            .filter(|p| !p.contains('/'))
            .unwrap_or(path),
        Some(_) => name,
    };
    Ok(familiar.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "busybox:latest");
        assert_eq!(norm("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(norm("library/busybox"), "busybox:latest");
        assert_eq!(norm("docker.io/me/app"), "me/app:latest");
        assert_eq!(norm("localhost:5000/app:v1.2"), "localhost:5000/app:v1.2");
        assert_eq!(norm("a-b__c/e.f_g"), "a-b__c/e.f_g:latest");
        assert!(Reference::parse("a_b.c/x").is_err(), "a domain cannot hold `_`");
        assert_eq!(
            Reference::from_parts("docker.io/library/ubuntu", "git")
                .unwrap()
                .to_string(),
            "ubuntu:git"
        );
        assert_eq!(Reference::from_parts("y:1", "").unwrap().to_string(), "y:1");
    }

    #[test]
    fn refuses_bad_names() {
        assert!(matches!(
            Reference::parse("UPPER:case"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(Reference::parse("a:b:c").is_err());
        assert!(Reference::parse("").is_err());
        assert!(Reference::parse("a/").is_err());
        assert!(Reference::parse("-a").is_err());
        assert!(Reference::parse("a..b").is_err());
        assert!(Reference::parse("a:").is_err());
        assert!(Reference::parse("a:-x").is_err());
        assert!(Reference::parse("a@sha256:00").is_err());
        assert!(Reference::parse(&"a".repeat(300)).is_err());
        assert!(Reference::from_parts("x", "bad tag").is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Strings made of what references are made of, so that many parse.
        fn referenceish() -> impl Strategy<Value = String> {
            "(([a-zA-Z0-9-]{1,8}\\.)?[a-z0-9]{1,6}(:[0-9]{1,5})?/)?([a-z0-9]{1,6}([._-]{1,2}[a-z0-9]{1,4})?/){0,3}[a-zA-Z0-9._-]{1,10}(:[a-zA-Z0-9_.-]{1,12})?(@sha256:[0-9a-f]{4})?"
        }

        fn check_stable(s: &str) -> Result<(), TestCaseError> {
            if let Ok(r) = Reference::parse(s) {
                let shown = r.to_string();
                let again = Reference::parse(&shown);
                prop_assert_eq!(again.as_ref(), Ok(&r), "{:?} -> {:?}", s, shown);
                prop_assert_eq!(again.expect("parsed").to_string(), shown);
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn parsing_never_panics_and_is_stable(s in any::<String>()) {
                check_stable(&s)?;
                let half = s.char_indices().nth(s.chars().count() / 2).map_or(s.len(), |(i, _)| i);
                let (repo, tag) = s.split_at(half);
                let _ = Reference::from_parts(repo, tag);
            }

            #[test]
            fn reference_like_strings_are_stable(s in referenceish(), tag in "[a-zA-Z0-9_.-]{0,12}") {
                check_stable(&s)?;
                if let Ok(r) = Reference::from_parts(&s, &tag) {
                    let shown = r.to_string();
                    prop_assert_eq!(Reference::parse(&shown), Ok(r));
                }
            }
        }
    }
}
