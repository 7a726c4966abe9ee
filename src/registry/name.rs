//! Remote references: `busybox` is `docker.io/library/busybox:latest`,
//! fetched from `registry-1.docker.io`; `HOST[:PORT]/repo` names its own
//! registry when the first part has a `.` or `:` or is `localhost`; a
//! digest (`@sha256:…`) pins the manifest. Names are validated by
//! [`crate::layers::Reference`], whose short form is what the store tags.

use super::{Error, Result};
use crate::layers::{Digest, Reference};

/// Docker Hub: its name in references, and where its API is.
const HUB_DOMAIN: &str = "docker.io";
const HUB_ENDPOINT: &str = "registry-1.docker.io";

/// A repository in a registry, and a tag or a digest in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteName {
    domain: String,
    path: String,
    /// The familiar (short) repository name: `busybox`, `127.0.0.1:5000/x`.
    familiar: String,
    tag: String,
    digest: Option<Digest>,
}

impl RemoteName {
    /// Parses the API's `fromImage` and `tag`: the image may carry its own
    /// `:tag` or `@digest`; `tag` may be a tag or a digest; no tag is
    /// `latest`.
    pub fn parse(image: &str, tag: &str) -> Result<RemoteName> {
        let invalid = || Error::Name(format!("invalid reference format: {image:?}"));
        let (image, mut digest) = match image.split_once('@') {
            Some((name, d)) => (name, Some(d.parse::<Digest>().map_err(|_| invalid())?)),
            None => (image, None),
        };
        let mut tag = tag;
        if tag.starts_with("sha256:") {
            digest = Some(
                tag.parse()
                    .map_err(|_| Error::Name(format!("invalid reference format: {tag:?}")))?,
            );
            tag = "";
        }
        let reference = Reference::from_parts(image, tag).map_err(|e| Error::Name(e.to_string()))?;
        let familiar = reference.name().to_string();
        let (domain, path) = match familiar.split_once('/') {
            // Docker's rule: a first part with a `.` or `:`, `localhost`, or
            // uppercase (which repositories cannot have) is a registry.
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            Some(_) => (HUB_DOMAIN.to_string(), familiar.clone()),
            None => (HUB_DOMAIN.to_string(), format!("library/{familiar}")),
        };
        // With a digest and no tag given, Docker tags nothing.
        let tag = if digest.is_some() && !has_tag(image) && tag.is_empty() {
            String::new()
        } else {
            reference.tag().to_string()
        };
        Ok(RemoteName {
            domain,
            path,
            familiar,
            tag,
            digest,
        })
    }

    /// A registry alone, no repository (for a login): `HOST[:PORT]` or
    /// `docker.io`.
    pub fn registry(domain: &str) -> Result<RemoteName> {
        let probe = RemoteName::parse(&format!("{domain}/x"), "")?;
        if probe.domain != domain {
            return Err(Error::Name(format!("invalid registry {domain:?}")));
        }
        Ok(RemoteName {
            domain: probe.domain,
            path: String::new(),
            familiar: String::new(),
            tag: String::new(),
            digest: None,
        })
    }

    /// The registry as references name it (`docker.io`, `HOST:PORT`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Where the registry's API is (`HOST[:PORT]`).
    pub fn endpoint(&self) -> &str {
        if self.domain == HUB_DOMAIN || self.domain == "index.docker.io" {
            HUB_ENDPOINT
        } else {
            &self.domain
        }
    }

    /// The repository in the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository as Docker shows it (`busybox`, `127.0.0.1:5000/x`).
    pub fn familiar(&self) -> &str {
        &self.familiar
    }

    /// The tag, empty for a pull by digest alone.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn digest(&self) -> Option<Digest> {
        self.digest
    }

    /// What the manifest is fetched by: the digest when there is one.
    pub fn manifest_reference(&self) -> String {
        match self.digest {
            Some(d) => d.to_string(),
            None => self.tag.clone(),
        }
    }

    /// `NAME:TAG` or `NAME@DIGEST`, as Docker's messages show the pull.
    pub fn display(&self) -> String {
        match self.digest {
            Some(d) => format!("{}@{d}", self.familiar),
            None => format!("{}:{}", self.familiar, self.tag),
        }
    }

    /// The store's tag for this pull (none for a pull by digest alone).
    pub fn store_tag(&self) -> Option<Reference> {
        if self.tag.is_empty() {
            return None;
        }
        Reference::from_parts(&self.familiar, &self.tag).ok()
    }

    /// `NAME@sha256:…`: the RepoDigest of a manifest pulled by this name.
    pub fn repo_digest(&self, manifest: &Digest) -> String {
        format!("{}@{manifest}", self.familiar)
    }
}

/// True when a name (without digest) ends in `:tag` (not a port).
fn has_tag(name: &str) -> bool {
    name.rfind(':').is_some_and(|i| !name[i..].contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_as_docker_resolves_them() {
        let n = RemoteName::parse("busybox", "").unwrap();
        assert_eq!(
            (n.domain(), n.endpoint(), n.path(), n.tag()),
            ("docker.io", "registry-1.docker.io", "library/busybox", "latest")
        );
        assert_eq!(n.display(), "busybox:latest");
        let n = RemoteName::parse("docker.io/library/ubuntu", "14.04").unwrap();
        assert_eq!((n.path(), n.familiar(), n.tag()), ("library/ubuntu", "ubuntu", "14.04"));
        let n = RemoteName::parse("index.docker.io/me/app:v1", "").unwrap();
        assert_eq!(
            (n.endpoint(), n.path(), n.display().as_str()),
            ("registry-1.docker.io", "me/app", "me/app:v1")
        );
        let n = RemoteName::parse("127.0.0.1:5000/busybox", "latest").unwrap();
        assert_eq!((n.endpoint(), n.path()), ("127.0.0.1:5000", "busybox"));
        assert_eq!(n.store_tag().unwrap().to_string(), "127.0.0.1:5000/busybox:latest");
        let n = RemoteName::parse("localhost/a/b", "").unwrap();
        assert_eq!((n.domain(), n.path()), ("localhost", "a/b"));
        let n = RemoteName::parse("Reg/app", "").unwrap();
        assert_eq!((n.domain(), n.path()), ("Reg", "app"));
        let n = RemoteName::parse("me/app", "").unwrap();
        assert_eq!((n.domain(), n.path()), ("docker.io", "me/app"));
    }

    #[test]
    fn digests_pin_the_manifest() {
        let d = Digest::of(b"m");
        let n = RemoteName::parse(&format!("127.0.0.1:5000/x@{d}"), "").unwrap();
        assert_eq!((n.digest(), n.tag()), (Some(d), ""));
        assert_eq!(n.manifest_reference(), d.to_string());
        assert_eq!(n.store_tag(), None);
        assert_eq!(n.display(), format!("127.0.0.1:5000/x@{d}"));
        let n = RemoteName::parse("busybox", &d.to_string()).unwrap();
        assert_eq!((n.digest(), n.tag()), (Some(d), ""));
        assert_eq!(n.repo_digest(&d), format!("busybox@{d}"));
    }

    #[test]
    fn a_registry_alone_is_named_by_its_host() {
        let r = RemoteName::registry("127.0.0.1:5000").unwrap();
        assert_eq!((r.endpoint(), r.path()), ("127.0.0.1:5000", ""));
        assert_eq!(
            RemoteName::registry("docker.io").unwrap().endpoint(),
            "registry-1.docker.io"
        );
        assert!(RemoteName::registry("not a host").is_err());
        assert!(RemoteName::registry("busybox").is_err());
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "UPPER", "a/", "x@sha256:00", "a:b:c", "-a"] {
            assert!(RemoteName::parse(bad, "").is_err(), "{bad:?}");
        }
        assert!(RemoteName::parse("x", "bad tag").is_err());
        assert!(RemoteName::parse("x", "sha256:zz").is_err());
        assert_eq!(
            RemoteName::parse("x@sha256:00", "").unwrap_err().to_string(),
            "invalid reference format: \"x@sha256:00\""
        );
        assert_eq!(
            RemoteName::parse("UPPER", "").unwrap_err().to_string(),
            "invalid reference format: repository name (UPPER) must be lowercase"
        );
    }
}
