//! Writing the archive `docker save` writes (Docker 25+): deterministic, the
//! same images give the same bytes, and streamed, layers included.

use super::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Error, INDEX, Index, MANIFEST, Manifest, ManifestItem,
    OCI_LAYOUT, OCI_LAYOUT_CONTENT, Platform, REPOSITORIES, blob_path, full_name, media,
};
use crate::layers::digest::Digest;
use crate::layers::reference::Reference;
use crate::layers::{ImageSummary, Store};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// One image to save, with the tags the request named it by.
#[derive(Clone, Debug)]
struct SaveImage {
    id: Digest,
    /// The config's exact bytes (its digest is `id`).
    config: Vec<u8>,
    diff_ids: Vec<Digest>,
    tags: Vec<Reference>,
    platform: Platform,
}

/// What a save writes, checked before any byte of it is: every image
/// exists and every layer's exact tar can be rebuilt (its size is known).
#[derive(Clone, Debug)]
pub struct SavePlan {
    images: Vec<SaveImage>,
    layer_sizes: BTreeMap<Digest, u64>,
}

impl SavePlan {
    /// The bytes of layers the archive will hold.
    pub fn layer_bytes(&self) -> u64 {
        self.layer_sizes.values().sum()
    }
}

/// The images and tags `name` means to `docker save`: a tagged reference
/// that one tag; a bare repository name all its tags (or, with none, an
/// image ID prefix); an ID the image alone, untagged.
fn resolve(store: &Store, all: &[ImageSummary], name: &str) -> Result<Vec<(Digest, Option<Reference>)>, Error> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let by_id = name.starts_with("sha256:") || Digest::from_hex(name).is_some() || name.contains('@');
    if by_id {
        return Ok(vec![(store.resolve(name)?, None)]);
    }
    let reference = Reference::parse(name).map_err(crate::layers::Error::from)?;
    if last.contains(':') {
        let id = all
            .iter()
            .find(|i| i.tags.contains(&reference))
            .map(|i| i.id)
            .ok_or_else(|| Error::NotFound("reference does not exist".to_string()))?;
        return Ok(vec![(id, Some(reference))]);
    }
    let mut tagged: Vec<(Digest, Option<Reference>)> = all
        .iter()
        .flat_map(|i| {
            i.tags
                .iter()
                .filter(|t| t.name() == reference.name())
                .map(|t| (i.id, Some(t.clone())))
        })
        .collect();
    if tagged.is_empty() {
        // An ID prefix, or nothing: moby's image search names the term as
        // given (`No such image: nothing`), not as a tagged name.
        let id = store.resolve(name).map_err(|e| match e {
            crate::layers::Error::ImageNotFound(_) => {
                crate::layers::Error::ImageNotFound(crate::quote::excerpt(name, 128))
            }
            e => e,
        })?;
        return Ok(vec![(id, None)]);
    }
    tagged.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(tagged)
}

/// Resolves `names` and checks that every layer can be handed out.
pub fn plan(store: &Store, names: &[String]) -> Result<SavePlan, Error> {
    let all = store.images();
    let mut images: Vec<SaveImage> = Vec::new();
    for name in names {
        for (id, tag) in resolve(store, &all, name)? {
            let at = match images.iter().position(|i| i.id == id) {
                Some(at) => at,
                None => {
                    let summary = all.iter().find(|i| i.id == id).expect("resolved from the listing");
                    images.push(SaveImage {
                        id,
                        config: store.config_bytes(&id.to_string())?,
                        diff_ids: summary.config.rootfs.diff_ids.clone(),
                        tags: Vec::new(),
                        platform: Platform {
                            architecture: summary.config.architecture.clone(),
                            os: summary.config.os.clone(),
                            variant: None,
                        },
                    });
                    images.len() - 1
                }
            };
            if let Some(tag) = tag
                && !images[at].tags.contains(&tag)
            {
                images[at].tags.push(tag);
            }
        }
    }
    let mut layer_sizes = BTreeMap::new();
    for d in images.iter().flat_map(|i| &i.diff_ids) {
        if !layer_sizes.contains_key(d) {
            layer_sizes.insert(*d, store.layer_tar(d)?.size());
        }
    }
    Ok(SavePlan { images, layer_sizes })
}

/// A file of the archive under `blobs/sha256/`.
enum Blob {
    Bytes(Vec<u8>),
    Layer(u64),
}

/// The archive's small files: every blob but the layers' content, and the
/// four top-level files, each as its bytes.
struct Files {
    blobs: BTreeMap<Digest, Blob>,
    index: Vec<u8>,
    manifest: Vec<u8>,
    repositories: Option<Vec<u8>>,
}

fn json_line<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec(value).expect("archive files serialise");
    v.push(b'\n');
    v
}

fn files(plan: &SavePlan) -> Files {
    let mut blobs: BTreeMap<Digest, Blob> = plan.layer_sizes.iter().map(|(d, s)| (*d, Blob::Layer(*s))).collect();
    let mut index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        manifests: Vec::new(),
    };
    let mut items = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in &plan.images {
        let descriptor = |media_type: &str, digest: &Digest, size: usize| Descriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size: size as i64,
            annotations: BTreeMap::new(),
            platform: None,
        };
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_string()),
            config: descriptor(media::OCI_CONFIG, &image.id, image.config.len()),
            layers: (image.diff_ids.iter())
                .map(|d| descriptor(media::OCI_LAYER, d, plan.layer_sizes[d] as usize))
                .collect(),
        };
        let manifest = serde_json::to_vec(&manifest).expect("manifests serialise");
        let manifest_digest = Digest::of(&manifest);
        let mut entry = descriptor(media::OCI_MANIFEST, &manifest_digest, manifest.len());
        entry.platform = Some(image.platform.clone());
        if image.tags.is_empty() {
            index.manifests.push(entry.clone());
        }
        for tag in &image.tags {
            let mut named = entry.clone();
            named.annotations.insert(ANNOTATION_IMAGE_NAME.into(), full_name(tag));
            named.annotations.insert(ANNOTATION_REF_NAME.into(), tag.tag().into());
            index.manifests.push(named);
            if let Some(top) = image.diff_ids.last() {
                // Docker names the top layer's legacy ID here; nothing reads it now.
                repositories
                    .entry(tag.name().to_string())
                    .or_default()
                    .insert(tag.tag().to_string(), top.hex());
            }
        }
        items.push(ManifestItem {
            config: blob_path(&image.id),
            repo_tags: (!image.tags.is_empty()).then(|| image.tags.iter().map(|t| t.to_string()).collect()),
            layers: image.diff_ids.iter().map(blob_path).collect(),
        });
        blobs.insert(image.id, Blob::Bytes(image.config.clone()));
        blobs.insert(manifest_digest, Blob::Bytes(manifest));
    }
    Files {
        blobs,
        index: serde_json::to_vec(&index).expect("indexes serialise"),
        manifest: json_line(&items),
        repositories: (!repositories.is_empty()).then(|| json_line(&repositories)),
    }
}

fn header(path: &str, size: u64, dir: bool) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h.set_cksum();
    Ok(h)
}

/// Writes the archive `plan` describes, in name order (as Docker's tar of
/// its temporary directory is): `blobs/`, the blobs, then `index.json`,
/// `manifest.json`, `oci-layout`, `repositories`. Layers are streamed from
/// the store, each checked against its diff_id as it goes.
pub fn write(store: &Store, plan: &SavePlan, out: impl Write) -> io::Result<()> {
    let files = files(plan);
    let mut tar = tar::Builder::new(io::BufWriter::with_capacity(64 * 1024, out));
    tar.append(&header("blobs/", 0, true)?, io::empty())?;
    tar.append(&header("blobs/sha256/", 0, true)?, io::empty())?;
    for (digest, blob) in &files.blobs {
        let path = blob_path(digest);
        match blob {
            Blob::Bytes(b) => tar.append(&header(&path, b.len() as u64, false)?, b.as_slice())?,
            Blob::Layer(size) => {
                let layer = store.layer_tar(digest).map_err(io::Error::other)?;
                if layer.size() != *size {
                    return Err(io::Error::other(format!("layer {digest} changed during the save")));
                }
                tar.append(&header(&path, *size, false)?, layer)?;
            }
        }
    }
    tar.append(&header(INDEX, files.index.len() as u64, false)?, files.index.as_slice())?;
    tar.append(
        &header(MANIFEST, files.manifest.len() as u64, false)?,
        files.manifest.as_slice(),
    )?;
    tar.append(
        &header(OCI_LAYOUT, OCI_LAYOUT_CONTENT.len() as u64, false)?,
        OCI_LAYOUT_CONTENT,
    )?;
    if let Some(r) = &files.repositories {
        tar.append(&header(REPOSITORIES, r.len() as u64, false)?, r.as_slice())?;
    }
    tar.into_inner()?.flush()
}
