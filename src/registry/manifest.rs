//! Manifests as registries serve them: OCI image manifests and indexes,
//! Docker schema 2 manifests and manifest lists (read with `oci-spec`'s
//! types, which share their shape), bounded in size and checked against
//! their digest; schema 1 and unknown media types are refused. An index is
//! resolved to the entry for one platform.

use super::{Error, Result};
use crate::layers::{Compression, Digest};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

/// Manifests larger than this are refused (as containerd and Docker do).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// An index may point to indexes this deep (index → index → manifest).
pub const MAX_INDEX_DEPTH: usize = 2;
/// Image configs larger than this are refused.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// The `Accept` header of a manifest request: every type we read.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A blob a manifest points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// A layer of an image manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub blob: BlobRef,
    pub compression: Compression,
}

/// A manifest, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    Image { config: BlobRef, layers: Vec<Layer> },
    Index(Vec<IndexEntry>),
}

/// One entry of an index (a manifest or another index) and its platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub blob: BlobRef,
    pub platform: Option<Platform>,
}

/// `os/architecture[/variant]`, normalised as containerd's platform
/// matcher normalises them (`aarch64` is `arm64`, whose default variant
/// is `v8`; `arm` defaults to `v7`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Linux on the host's architecture: what a pull takes by default.
    pub fn host() -> Platform {
        Platform::new("linux", crate::layers::ImageConfig::host_architecture(), None)
    }

    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let architecture = match architecture {
            "aarch64" => "arm64",
            "x86_64" | "x86-64" => "amd64",
            "i386" => "386",
            a => a,
        };
        let variant = variant.filter(|v| !v.is_empty()).map(str::to_string);
        Platform {
            os: os.to_ascii_lowercase(),
            architecture: architecture.to_string(),
            variant,
        }
    }

    /// Parses the API's `platform=os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| !p.is_empty();
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(Error::InvalidPlatform(s.to_string())),
        }
    }

    /// The variant, with the architecture's default when none is named.
    fn effective_variant(&self) -> Option<&str> {
        match (self.variant.as_deref(), self.architecture.as_str()) {
            (Some(v), _) => Some(v),
            (None, "arm64") => Some("v8"),
            (None, "arm") => Some("v7"),
            (None, _) => None,
        }
    }

    /// Whether an index entry for `other` serves this platform.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.effective_variant() == other.effective_variant()
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// Checks a manifest's bytes against the digest it was asked by and the
/// registry's `Docker-Content-Digest`; returns the digest of the bytes.
pub fn verify(bytes: &[u8], asked: Option<Digest>, header: Option<&str>) -> Result<Digest> {
    let actual = Digest::of(bytes);
    if let Some(d) = asked
        && d != actual
    {
        return Err(Error::ManifestDigest(d));
    }
    if let Some(h) = header {
        let claimed: Digest = h
            .trim()
            .parse()
            .map_err(|_| Error::InvalidManifest(format!("Docker-Content-Digest {h:?}")))?;
        if claimed != actual {
            return Err(Error::ManifestDigest(claimed));
        }
    }
    Ok(actual)
}

/// Reads a manifest of `content_type` (the reply's, used when the JSON has
/// no `mediaType`). `name` is for the schema 1 message.
pub fn parse(bytes: &[u8], content_type: Option<&str>, name: &str) -> Result<Manifest> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(Error::ManifestTooBig);
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| Error::InvalidManifest(e.to_string()))?;
    let header_type = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let media_type = head.media_type.clone().or(header_type).unwrap_or_default();
    if head.schema_version == Some(1) || DOCKER_SCHEMA1.contains(&media_type.as_str()) {
        return Err(Error::Schema1(name.to_string()));
    }
    let media_type = match media_type.as_str() {
        // A bare OCI document says what it is by its shape.
        "" | "application/json" if head.manifests.is_some() => OCI_INDEX,
        "" | "application/json" => OCI_MANIFEST,
        m => m,
    };
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let m: ImageManifest = serde_json::from_slice(bytes).map_err(|e| Error::InvalidManifest(e.to_string()))?;
            image_manifest(&m)
        }
        OCI_INDEX | DOCKER_LIST => {
            let i: ImageIndex = serde_json::from_slice(bytes).map_err(|e| Error::InvalidManifest(e.to_string()))?;
            let entries = i.manifests().iter().map(index_entry).collect::<Result<_>>()?;
            Ok(Manifest::Index(entries))
        }
        other => Err(Error::UnsupportedMediaType(other.to_string())),
    }
}

fn image_manifest(m: &ImageManifest) -> Result<Manifest> {
    let config = blob_ref(m.config())?;
    if !CONFIG_TYPES.contains(&config.media_type.as_str()) {
        return Err(Error::UnsupportedMediaType(config.media_type));
    }
    let layers = m
        .layers()
        .iter()
        .map(|d| {
            let blob = blob_ref(d)?;
            let compression = layer_compression(&blob.media_type)?;
            Ok(Layer { blob, compression })
        })
        .collect::<Result<_>>()?;
    Ok(Manifest::Image { config, layers })
}

/// A layer's compression, from its media type.
pub fn layer_compression(media_type: &str) -> Result<Compression> {
    Ok(match media_type {
        "application/vnd.oci.image.layer.v1.tar" | "application/vnd.oci.image.layer.nondistributable.v1.tar" => {
            Compression::None
        }
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression::Gzip,
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Compression::Zstd,
        other => return Err(Error::UnsupportedMediaType(other.to_string())),
    })
}

fn index_entry(d: &Descriptor) -> Result<IndexEntry> {
    let platform = d.platform().as_ref().map(|p| {
        let os = p.os().to_string();
        let arch = p.architecture().to_string();
        Platform::new(&os, &arch, p.variant().as_deref())
    });
    Ok(IndexEntry {
        blob: blob_ref(d)?,
        platform,
    })
}

fn blob_ref(d: &Descriptor) -> Result<BlobRef> {
    let digest = d.digest().to_string();
    let digest: Digest = digest
        .parse()
        .map_err(|_| Error::InvalidManifest(format!("unsupported digest {digest:?}")))?;
    Ok(BlobRef {
        media_type: d.media_type().to_string(),
        digest,
        size: d.size(),
    })
}

/// The entry of an index for `want`: the first that matches, as
/// containerd's matcher takes it. Attestations (`unknown/unknown`) never
/// match.
pub fn select<'a>(entries: &'a [IndexEntry], want: &Platform) -> Result<&'a IndexEntry> {
    entries
        .iter()
        .find(|e| e.platform.as_ref().is_some_and(|p| want.matches(p)))
        .ok_or_else(|| Error::NoMatchingPlatform(want.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(media_type: &str, data: &[u8]) -> String {
        format!(
            r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
            Digest::of(data),
            data.len()
        )
    }

    fn image(media_type: &str, layer_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{},"layers":[{}]}}"#,
            desc("application/vnd.docker.container.image.v1+json", b"config"),
            desc(layer_type, b"layer")
        )
    }

    fn entry(arch: &str, variant: Option<&str>) -> String {
        let variant = variant.map(|v| format!(r#","variant":"{v}""#)).unwrap_or_default();
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":3,"platform":{{"os":"linux","architecture":"{arch}"{variant}}}}}"#,
            Digest::of(arch.as_bytes())
        )
    }

    #[test]
    fn image_manifests_of_both_formats_are_read() {
        for (mt, lt, c) in [
            (
                DOCKER_MANIFEST,
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Compression::Gzip,
            ),
            (
                OCI_MANIFEST,
                "application/vnd.oci.image.layer.v1.tar+zstd",
                Compression::Zstd,
            ),
            (
                OCI_MANIFEST,
                "application/vnd.oci.image.layer.v1.tar",
                Compression::None,
            ),
        ] {
            let Manifest::Image { config, layers } = parse(image(mt, lt).as_bytes(), None, "x").unwrap() else {
                panic!("not an image manifest");
            };
            assert_eq!(config.digest, Digest::of(b"config"));
            assert_eq!(layers.len(), 1);
            assert_eq!((layers[0].blob.digest, layers[0].blob.size), (Digest::of(b"layer"), 5));
            assert_eq!(layers[0].compression, c);
        }
    }

    #[test]
    fn unknown_types_schema1_and_huge_manifests_are_refused() {
        let e = parse(image(OCI_MANIFEST, "application/x-weird").as_bytes(), None, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported manifest media type and no default available: application/x-weird"
        );
        let e = parse(br#"{"schemaVersion":2,"mediaType":"text/html"}"#, None, "x").unwrap_err();
        assert!(matches!(e, Error::UnsupportedMediaType(_)), "{e}");
        let e = parse(
            br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#,
            None,
            "127.0.0.1:5000/old:1",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("schema 1 support has been removed. Suggest the author of 127.0.0.1:5000/old:1")
        );
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(parse(&huge, None, "x"), Err(Error::ManifestTooBig)));
        assert!(matches!(parse(b"<html>", None, "x"), Err(Error::InvalidManifest(_))));
    }

    #[test]
    fn an_index_resolves_to_the_platform_asked_for() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{},{},{}]}}"#,
            entry("amd64", None),
            entry("arm64", Some("v8")),
            entry("arm", Some("v6"))
        );
        let Manifest::Index(entries) = parse(index.as_bytes(), None, "x").unwrap() else {
            panic!("not an index");
        };
        let pick = |p: &str| select(&entries, &Platform::parse(p).unwrap()).map(|e| e.blob.digest);
        assert_eq!(pick("linux/amd64").unwrap(), Digest::of(b"amd64"));
        assert_eq!(pick("linux/arm64").unwrap(), Digest::of(b"arm64"));
        assert_eq!(pick("linux/aarch64/v8").unwrap(), Digest::of(b"arm64"));
        assert_eq!(pick("linux/arm/v6").unwrap(), Digest::of(b"arm"));
        assert_eq!(
            pick("linux/arm").unwrap_err().to_string(),
            "no matching manifest for linux/arm in the manifest list entries"
        );
        assert!(pick("windows/amd64").is_err());
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//x").is_err());
    }

    #[test]
    fn digests_are_checked_against_the_request_and_the_header() {
        let bytes = b"{}";
        let d = Digest::of(bytes);
        assert_eq!(verify(bytes, Some(d), Some(&d.to_string())).unwrap(), d);
        assert_eq!(verify(bytes, None, None).unwrap(), d);
        let other = Digest::of(b"other");
        assert_eq!(
            verify(bytes, Some(other), None).unwrap_err().to_string(),
            format!("manifest verification failed for digest {other}")
        );
        assert!(verify(bytes, None, Some(&other.to_string())).is_err());
        assert!(verify(bytes, None, Some("garbage")).is_err());
    }
}
