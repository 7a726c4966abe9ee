//! Images made by the tests, in the forms registries and archives hold:
//! a config (its exact bytes; their sha256 is the image ID) and layer tars,
//! written as a Docker archive (`docker save` of Docker ≤ 24, what `skopeo
//! copy docker-archive:` reads) or as registry blobs (gzip layers and a
//! Docker schema 2 manifest, to serve from a fake registry or PUT to a
//! real one).

use super::sha256_hex;
use std::io::Write;
use std::path::Path;

/// The media types of Docker schema 2 and OCI manifests and layers.
pub mod media {
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// Every manifest type, as an `Accept` header lists them.
    pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.docker.distribution.manifest.v2+json";
}

/// `sha256:HEX` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// gzip of `bytes` at the default level, no name and mtime 0: the same
/// input always gives the same blob.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// One blob as a registry stores it: its descriptor's fields and bytes.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: digest_of(&bytes),
            bytes,
        }
    }

    /// The descriptor JSON a manifest lists it with.
    pub fn descriptor(&self) -> serde_json::Value {
        serde_json::json!({
            "mediaType": self.media_type,
            "size": self.bytes.len(),
            "digest": self.digest,
        })
    }
}

/// An image: layer tars (uncompressed) and the config that names them.
#[derive(Clone, Debug)]
pub struct TestImage {
    /// The config's exact bytes: `sha256` of them is the image ID.
    pub config: Vec<u8>,
    /// The layers' tars, bottom first; their sha256 are the diff_ids.
    pub layers: Vec<Vec<u8>>,
}

impl TestImage {
    /// A `linux/ARCH` image of `layers` (bottom first) running `sh`.
    pub fn new(architecture: &str, layers: Vec<Vec<u8>>) -> TestImage {
        let diff_ids: Vec<String> = layers.iter().map(|l| digest_of(l)).collect();
        let history: Vec<_> = (0..layers.len())
            .map(|i| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("layer {i}")}))
            .collect();
        let config = serde_json::json!({
            "architecture": architecture,
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        TestImage {
            config: serde_json::to_vec(&config).expect("config JSON"),
            layers,
        }
    }

    /// The image ID: `sha256:` of the config's bytes.
    pub fn id(&self) -> String {
        digest_of(&self.config)
    }

    /// The layers' diff_ids (`sha256:` of each uncompressed tar), bottom first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| digest_of(l)).collect()
    }

    /// Writes the image as a Docker ≤ 24 archive (`manifest.json`,
    /// `repositories`, `HEX.json`, `N/layer.tar`) tagged `repo_tag`.
    pub fn write_docker_archive(&self, path: &Path, repo_tag: &str) {
        let config_name = format!("{}.json", sha256_hex(&self.config));
        let layer_names: Vec<String> = (0..self.layers.len()).map(|i| format!("{i}/layer.tar")).collect();
        let manifest = serde_json::json!([{
            "Config": config_name,
            "RepoTags": [repo_tag],
            "Layers": layer_names,
        }]);
        let (repo, tag) = repo_tag.rsplit_once(':').expect("REPO:TAG");
        let top = sha256_hex(self.layers.last().map_or(&[][..], |l| l));
        let repositories = serde_json::json!({ repo: { tag: top } });
        let file = std::fs::File::create(path).expect("create the archive");
        let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_mtime(1_700_000_000);
            tar.append_data(&mut h, name, data).expect("archive entry");
        };
        add("manifest.json", &serde_json::to_vec(&manifest).expect("JSON"));
        add("repositories", &serde_json::to_vec(&repositories).expect("JSON"));
        add(&config_name, &self.config);
        for (name, layer) in layer_names.iter().zip(&self.layers) {
            add(name, layer);
        }
        tar.into_inner().expect("finish").flush().expect("flush");
    }

    /// The image as a registry holds it: gzip layers and a Docker schema 2
    /// manifest listing them.
    pub fn registry_blobs(&self) -> RegistryImage {
        let config = Blob::new(media::DOCKER_CONFIG, self.config.clone());
        let layers: Vec<Blob> = self
            .layers
            .iter()
            .map(|l| Blob::new(media::DOCKER_LAYER_GZIP, gzip(l)))
            .collect();
        let manifest = schema2_manifest(&config, &layers);
        RegistryImage {
            manifest: Blob::new(media::DOCKER_MANIFEST, manifest),
            config,
            layers,
        }
    }
}

/// The bytes of a Docker schema 2 manifest of `config` and `layers`.
pub fn schema2_manifest(config: &Blob, layers: &[Blob]) -> Vec<u8> {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&manifest).expect("manifest JSON")
}

/// An image's blobs as a registry serves them.
#[derive(Clone, Debug)]
pub struct RegistryImage {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

/// A layer tar of one regular file `name` holding `data`.
pub fn one_file_layer(name: &str, data: &[u8]) -> Vec<u8> {
    super::TarBuilder::new().file(name, data).finish()
}
