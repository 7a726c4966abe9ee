//! The formats an archive may be in: Docker's `manifest.json` (with
//! `<id>/layer.tar` files before Docker 25, with `blobs/sha256/…` after),
//! and an OCI image layout (`index.json`, podman's and skopeo's
//! `oci-archive`), told apart by which of the two files it holds.

use super::{ImageFile, LayerFile, MAX_JSON, Unpacked, exists, invalid, read_small, resolve};
use crate::layers::BlobExpectation;
use crate::layers::archive::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Error, INDEX, Index, MANIFEST, Manifest, ManifestItem,
    media,
};
use crate::layers::digest::Digest;
use crate::layers::image::ImageConfig;
use crate::layers::reference::Reference;
use crate::sys::BeneathDir;

/// How deep an index may point to indexes.
const MAX_INDEX_DEPTH: usize = 4;

/// Every image of the archive, each file it names checked.
pub(super) fn images(work: &Unpacked) -> Result<Vec<ImageFile>, Error> {
    let root = work.root()?;
    let mut images = if exists(&root, MANIFEST.as_bytes()) {
        docker_images(&root)?
    } else if exists(&root, INDEX.as_bytes()) {
        oci_images(&root)?
    } else {
        return Err(invalid("it holds neither manifest.json nor index.json"));
    };
    if images.is_empty() {
        return Err(invalid("it holds no image"));
    }
    // One image named twice (two tags) is one image with both names.
    let mut merged: Vec<ImageFile> = Vec::new();
    for image in images.drain(..) {
        match merged.iter_mut().find(|m| m.config == image.config) {
            Some(m) => {
                for t in image.tags {
                    if !m.tags.contains(&t) {
                        m.tags.push(t);
                    }
                }
            }
            None => merged.push(image),
        }
    }
    Ok(merged)
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| invalid(format!("{what}: {e}")))
}

fn config(bytes: &[u8]) -> Result<ImageConfig, Error> {
    Ok(ImageConfig::parse(bytes).map_err(crate::layers::Error::from)?)
}

fn tag(name: &str) -> Result<Reference, Error> {
    Ok(Reference::parse(name).map_err(crate::layers::Error::from)?)
}

/// Docker's `manifest.json`: each image's config and layer files by path.
fn docker_images(root: &BeneathDir) -> Result<Vec<ImageFile>, Error> {
    let items: Vec<ManifestItem> = json(&read_small(root, "the archive", MANIFEST)?, MANIFEST)?;
    let mut images = Vec::new();
    for item in items {
        let bytes = read_small(root, MANIFEST, &item.config)?;
        // The config's file is named by its digest (`<hex>.json` or
        // `blobs/sha256/<hex>`): the content must be that digest's.
        let leaf = item.config.rsplit('/').next().unwrap_or(&item.config);
        if let Some(named) = Digest::from_hex(leaf.strip_suffix(".json").unwrap_or(leaf))
            && named != Digest::of(&bytes)
        {
            return Err(invalid(format!(
                "{:?} does not hold the content of its digest (its sha256 is {})",
                item.config,
                Digest::of(&bytes)
            )));
        }
        let diff_ids = config(&bytes)?.rootfs.diff_ids;
        if item.layers.len() != diff_ids.len() {
            return Err(invalid(format!(
                "manifest.json lists {} layers for an image whose config lists {}",
                item.layers.len(),
                diff_ids.len()
            )));
        }
        let layers = (item.layers.iter().zip(diff_ids))
            .map(|(name, diff_id)| {
                Ok(LayerFile {
                    path: resolve(root, MANIFEST, name)?,
                    diff_id,
                    blob: None,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let tags = (item.repo_tags.unwrap_or_default().iter())
            .map(|t| tag(t))
            .collect::<Result<Vec<_>, Error>>()?;
        images.push(ImageFile {
            config: bytes,
            layers,
            tags,
        });
    }
    Ok(images)
}

fn blob_name(d: &Descriptor) -> Result<(Digest, String), Error> {
    let digest: Digest = d
        .digest
        .parse()
        .map_err(|_| invalid(format!("unsupported or invalid digest {:?}", d.digest)))?;
    let name = format!("blobs/sha256/{}", digest.hex());
    Ok((digest, name))
}

/// A small blob, checked against its descriptor's digest and size.
fn read_blob(root: &BeneathDir, named_by: &str, d: &Descriptor) -> Result<Vec<u8>, Error> {
    let (digest, name) = blob_name(d)?;
    if d.size < 0 || d.size as u64 > MAX_JSON {
        return Err(invalid(format!(
            "{named_by} names a blob of {} bytes for {}",
            d.size, d.digest
        )));
    }
    let bytes = read_small(root, named_by, &name)?;
    if Digest::of(&bytes) != digest || bytes.len() as i64 != d.size {
        return Err(invalid(format!(
            "blob {} does not match its descriptor (digest or size)",
            d.digest
        )));
    }
    Ok(bytes)
}

/// The name an index entry gives its image: containerd's full name, or a
/// full reference as OCI's ref name (a bare tag names no repository).
fn name_of(d: &Descriptor) -> Option<Reference> {
    if let Some(name) = d.annotations.get(ANNOTATION_IMAGE_NAME) {
        return Reference::parse(name).ok();
    }
    let r = d.annotations.get(ANNOTATION_REF_NAME)?;
    (r.contains('/') || r.contains(':'))
        .then(|| Reference::parse(r).ok())
        .flatten()
}

/// An OCI layout: `index.json`, manifests and indexes by digest.
fn oci_images(root: &BeneathDir) -> Result<Vec<ImageFile>, Error> {
    let index: Index = json(&read_small(root, "the archive", INDEX)?, INDEX)?;
    let mut images = Vec::new();
    for d in &index.manifests {
        let name = name_of(d);
        collect(root, d, name, 0, &mut images)?;
    }
    Ok(images)
}

fn collect(
    root: &BeneathDir,
    d: &Descriptor,
    name: Option<Reference>,
    depth: usize,
    images: &mut Vec<ImageFile>,
) -> Result<(), Error> {
    match d.media_type.as_str() {
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => {
            let bytes = read_blob(root, INDEX, d)?;
            images.push(oci_image(root, &json(&bytes, &d.digest)?, name)?);
            Ok(())
        }
        media::OCI_INDEX | media::DOCKER_LIST => {
            if depth >= MAX_INDEX_DEPTH {
                return Err(invalid(format!(
                    "indexes point to indexes more than {MAX_INDEX_DEPTH} deep"
                )));
            }
            let index: Index = json(&read_blob(root, INDEX, d)?, &d.digest)?;
            let arch = ImageConfig::host_architecture();
            let here: Vec<&Descriptor> = (index.manifests.iter())
                .filter(|m| {
                    m.platform
                        .as_ref()
                        .is_none_or(|p| p.os == "linux" && p.architecture == arch)
                })
                .collect();
            if here.is_empty() {
                return Err(invalid(format!("index {} holds no image for linux/{arch}", d.digest)));
            }
            here.into_iter()
                .try_for_each(|m| collect(root, m, name.clone(), depth + 1, images))
        }
        other => Err(invalid(format!("unknown media type {other:?} for {}", d.digest))),
    }
}

fn oci_image(root: &BeneathDir, manifest: &Manifest, name: Option<Reference>) -> Result<ImageFile, Error> {
    let what = format!("the manifest of {}", manifest.config.digest);
    let config_bytes = read_blob(root, &what, &manifest.config)?;
    let diff_ids = config(&config_bytes)?.rootfs.diff_ids;
    if manifest.layers.len() != diff_ids.len() {
        return Err(invalid(format!(
            "a manifest lists {} layers for an image whose config lists {}",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    for (d, diff_id) in manifest.layers.iter().zip(diff_ids) {
        if !matches!(
            d.media_type.as_str(),
            media::OCI_LAYER
                | media::OCI_LAYER_GZIP
                | media::OCI_LAYER_ZSTD
                | media::DOCKER_LAYER
                | media::DOCKER_LAYER_GZIP
        ) {
            return Err(invalid(format!("unknown layer media type {:?}", d.media_type)));
        }
        let (digest, file) = blob_name(d)?;
        let path = resolve(root, &what, &file)?;
        // Checked against the digest and size as it is stored.
        let size = u64::try_from(d.size).map_err(|_| invalid(format!("a negative size for {}", d.digest)))?;
        layers.push(LayerFile {
            path,
            diff_id,
            blob: Some(BlobExpectation { digest, size }),
        });
    }
    Ok(ImageFile {
        config: config_bytes,
        layers,
        tags: name.into_iter().collect(),
    })
}
