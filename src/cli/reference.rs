//! Image references as the docker CLI reads them (distribution's
//! `ParseNormalizedNamed`): `busybox` is `docker.io/library/busybox`, the
//! first path component names a registry when it contains `.` or `:`, is
//! `localhost` or has upper case letters; `index.docker.io` is `docker.io`.
//! The client needs the registry part to pick the stored credentials and the
//! full name for what `pull` prints; the daemon does its own parsing.

use std::fmt;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
const LEGACY_HUB: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME: usize = 255;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Format,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than 255 characters")]
    TooLong,
}

/// A parsed, normalised reference: `domain/path[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry: `docker.io`, `127.0.0.1:5000`, `localhost`, `a.b`.
    pub domain: String,
    /// The repository inside it: `library/busybox`, `team/app`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:` and at least 32 hex digits.
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReferenceError::HexName(input.to_string()));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (input, None),
        };
        let (domain, remainder) = split_domain(rest);
        let (path, tag) = match remainder.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t)),
            _ => (remainder.as_str(), None),
        };
        if path.to_lowercase() != path {
            return Err(ReferenceError::Uppercase(path.to_string()));
        }
        if !valid_domain(&domain) || !path.split('/').all(valid_component) {
            return Err(ReferenceError::Format);
        }
        if tag.is_some_and(|t| !valid_tag(t)) || digest.is_some_and(|d| !valid_digest(d)) {
            return Err(ReferenceError::Format);
        }
        if domain.len() + 1 + path.len() > MAX_NAME {
            return Err(ReferenceError::TooLong);
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// Neither a tag nor a digest was given.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// `latest` when neither a tag nor a digest was given (`TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short name people type: `busybox`, `127.0.0.1:5000/busybox`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DOCKER_HUB {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_PREFIX) {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The familiar name with its tag and digest: `busybox:latest`.
    pub fn familiar_string(&self) -> String {
        self.familiar_name() + &self.suffix()
    }

    /// What the API's `tag` parameter carries: the digest, else the tag.
    pub fn api_tag(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("")
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s = s + ":" + t;
        }
        if let Some(d) = &self.digest {
            s = s + "@" + d;
        }
        s
    }
}

/// The full form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name(), self.suffix())
    }
}

/// distribution's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest)) if is_registry(first) => (first.to_string(), rest.to_string()),
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if domain == LEGACY_HUB {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Whether the first component of a name is a registry, as Docker decides.
pub fn is_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
}

/// `host[:port]` (or `[v6]:port`): labels of letters, digits and inner dashes.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (h, Some(p)),
        _ => (domain, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A path component: `[a-z0-9]+` joined by `.`, `_`, `__` or dashes.
fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !t.is_empty() && t.len() <= 128 && word(t.as_bytes()[0]) && t.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:hex`, with at least 32 hex digits (64 for sha256).
fn valid_digest(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return false;
    };
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let algorithm_ok = algorithm.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+.".contains(&b));
    hex_ok && algorithm_ok && (algorithm != "sha256" || hex.len() == 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn short_names_are_docker_hub_official_images() {
        let r = parsed("busybox");
        assert_eq!((r.domain.as_str(), r.path.as_str()), ("docker.io", "library/busybox"));
        assert!(r.is_name_only());
        let r = r.with_default_tag();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar_string(), "busybox:latest");
        assert_eq!(parsed("docker.io/library/busybox:1").familiar_string(), "busybox:1");
        assert_eq!(parsed("index.docker.io/team/app").name(), "docker.io/team/app");
        assert_eq!(parsed("team/app:v2").familiar_string(), "team/app:v2");
    }

    #[test]
    fn the_first_component_is_a_registry_with_a_dot_a_colon_or_localhost() {
        for (input, domain, path) in [
            ("localhost:5000/busybox", "localhost:5000", "busybox"),
            ("127.0.0.1:5000/busybox:latest", "127.0.0.1:5000", "busybox"),
            ("a.b/c", "a.b", "c"),
            ("localhost/x/y", "localhost", "x/y"),
            ("ghcr.io/owner/repo", "ghcr.io", "owner/repo"),
            ("Registry/x", "Registry", "x"),
            ("abc/def", "docker.io", "abc/def"),
        ] {
            let r = parsed(input);
            assert_eq!((r.domain.as_str(), r.path.as_str()), (domain, path), "{input}");
        }
        let r = parsed("127.0.0.1:5000/busybox").with_default_tag();
        assert_eq!(r.to_string(), "127.0.0.1:5000/busybox:latest");
        assert_eq!(r.familiar_name(), "127.0.0.1:5000/busybox");
    }

    #[test]
    fn tags_and_digests() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let r = parsed(&format!("localhost:5000/app@{digest}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.api_tag(), digest);
        assert_eq!(r.clone().with_default_tag(), r, "a digest needs no tag");
        let r = parsed(&format!("app:v1@{digest}"));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.api_tag(), digest, "the digest wins");
        assert_eq!(r.to_string(), format!("docker.io/library/app:v1@{digest}"));
        assert_eq!(parsed("app:v1.0-rc_2").api_tag(), "v1.0-rc_2");
    }

    #[test]
    fn bad_references_are_refused_with_dockers_words() {
        assert_eq!(
            Reference::parse("Busybox"),
            Err(ReferenceError::Uppercase("library/Busybox".into()))
        );
        assert_eq!(
            Reference::parse(&"a".repeat(64)),
            Err(ReferenceError::HexName("a".repeat(64)))
        );
        for bad in [
            "",
            "a//b",
            "-a",
            "a:",
            "a:-x",
            "a@sha256:123",
            "a@sha256",
            "a b",
            "a:5000:x/b",
            "host:port/x",
            "a..b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            Reference::parse(&format!("a.io/{}", "b".repeat(255))),
            Err(ReferenceError::TooLong)
        );
    }
}
