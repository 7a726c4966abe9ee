//! Reading an image archive into the store, all or nothing. The upload is
//! unpacked first (the order of an archive's entries is not fixed) into a
//! directory under the store's `tmp/`, by the store's safe extraction (no
//! `..`, no absolute path, nothing written through a symlink); then every
//! file it names is checked — present, inside the archive, of the digest
//! and size it is named by — before any layer is stored, and every image's
//! layers are stored and checked against its config before any image is
//! added. A refused archive leaves no image, tag or layer, and `tmp/` as
//! it was.

mod formats;

use super::Error;
use crate::layers::digest::Digest;
use crate::layers::reference::Reference;
use crate::layers::untar::{self, ExtractOptions};
use crate::layers::{BlobExpectation, Compression, ExpectedLayer, ExternalImage, Store};
use crate::sys::BeneathDir;
use rustix::fs::{FileType, OFlags};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a load added: an image and the tags it got, and the images those
/// tags were taken from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub id: Digest,
    pub tags: Vec<Reference>,
    /// Tags that named another image before: (tag, that image).
    pub moved: Vec<(Reference, Digest)>,
}

/// How far the storing of one layer is: bytes of its blob read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub layer: Digest,
    pub current: u64,
    pub total: u64,
}

/// Reports progress at most every this many bytes (and at the end).
const PROGRESS_STEP: u64 = 512 * 1024;

/// A layer's blob as it is read, reported to `report`.
struct Reporting<'a, R> {
    inner: R,
    progress: Progress,
    reported: u64,
    report: &'a mut dyn FnMut(Progress),
}

impl<R: Read> Read for Reporting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.current += n as u64;
        let at_end = n == 0 && !buf.is_empty();
        if self.progress.current - self.reported >= PROGRESS_STEP || (at_end && self.reported < self.progress.current) {
            self.reported = self.progress.current;
            (self.report)(self.progress);
        }
        Ok(n)
    }
}

/// A layer of an image in the archive.
#[derive(Clone, Debug)]
struct LayerFile {
    /// Where it is in the archive (cleaned, symlinks resolved).
    path: Vec<u8>,
    diff_id: Digest,
    /// The blob's digest and size, when the archive names it by them.
    blob: Option<BlobExpectation>,
}

/// An image of the archive, checked as far as can be before storing.
#[derive(Clone, Debug)]
struct ImageFile {
    config: Vec<u8>,
    layers: Vec<LayerFile>,
    tags: Vec<Reference>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(format!("invalid archive: {}", message.into()))
}

/// Largest JSON file read from an archive (manifest.json, an index, a
/// manifest, a config).
const MAX_JSON: u64 = 8 << 20;
/// Symlinks followed, one to the next, within an archive.
const MAX_LINKS: usize = 8;

/// Loads every image of the archive `reader` (a tar, maybe gzip'd).
pub fn load(store: &Store, reader: impl Read) -> Result<Vec<Loaded>, Error> {
    load_reporting(store, reader, &mut |_| {})
}

/// [`load`], telling `report` how far each layer it stores is (not called
/// before the whole archive has been read).
pub fn load_reporting(
    store: &Store,
    reader: impl Read,
    report: &mut dyn FnMut(Progress),
) -> Result<Vec<Loaded>, Error> {
    let work = Unpacked::create(store)?;
    work.unpack(reader)?;
    let images = formats::images(&work)?;
    ingest(store, &work, &images, report)
}

/// The archive unpacked under the store's `tmp/`; removed when dropped
/// (and, after a crash, by the store's next start).
struct Unpacked {
    dir: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Unpacked {
    fn create(store: &Store) -> Result<Unpacked, Error> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = store
            .root()
            .join("tmp")
            .join(format!("archive-load-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).map_err(crate::layers::Error::io("creating a temporary directory"))?;
        Ok(Unpacked { dir })
    }

    fn unpack(&self, reader: impl Read) -> Result<(), Error> {
        let tree = self.dir.join("archive");
        std::fs::create_dir(&tree).map_err(crate::layers::Error::io("creating a temporary directory"))?;
        let root = BeneathDir::open(&tree).map_err(crate::layers::Error::io("opening a temporary directory"))?;
        let reader = crate::layers::store::decompressed(reader)?;
        untar::extract(reader, &root, ExtractOptions { privileged: false }).map_err(crate::layers::Error::from)?;
        Ok(())
    }

    fn root(&self) -> Result<BeneathDir, Error> {
        BeneathDir::open(&self.dir.join("archive"))
            .map_err(|e| crate::layers::Error::io("opening the unpacked archive")(e).into())
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let result = BeneathDir::open(&self.dir)
            .and_then(|d| d.clear())
            .and_then(|()| std::fs::remove_dir(&self.dir));
        if let Err(e) = result {
            tracing::warn!("removing {}: {e}", self.dir.display());
        }
    }
}

/// Whether the archive holds something at `name`.
fn exists(root: &BeneathDir, name: &[u8]) -> bool {
    root.stat_path(name).is_ok()
}

/// `name` as the archive names it (from a JSON file), cleaned, with a
/// final symlink followed within the archive (Docker's older archives link
/// a repeated layer to its first copy): the regular file it ends at.
fn resolve(root: &BeneathDir, named_by: &str, name: &str) -> Result<Vec<u8>, Error> {
    let outside = || invalid(format!("{named_by} names {name:?}, which is outside the archive"));
    let mut path = untar::clean_path(name.as_bytes()).map_err(|_| outside())?;
    for _ in 0..=MAX_LINKS {
        let st = match root.stat_path(&path) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(invalid(format!(
                    "{named_by} names {name:?}, which the archive does not hold"
                )));
            }
            // A symlink in a parent: refused by the beneath-only open.
            Err(_) => return Err(outside()),
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => return Ok(path),
            FileType::Symlink => {
                let (parent, leaf) = match path.iter().rposition(|&c| c == b'/') {
                    Some(i) => (path[..i].to_vec(), path[i + 1..].to_vec()),
                    None => (Vec::new(), path.clone()),
                };
                let dir = root.open_dir(&parent).map_err(|_| outside())?;
                let target = dir
                    .read_link(crate::sys::Name::new(&leaf).map_err(|_| outside())?)
                    .map_err(|_| outside())?;
                if target.first() == Some(&b'/') {
                    return Err(outside());
                }
                let joined = [parent.as_slice(), b"/", target.as_slice()].concat();
                path = lexical_clean(&joined).ok_or_else(outside)?;
            }
            _ => return Err(invalid(format!("{named_by} names {name:?}, which is not a file"))),
        }
    }
    Err(invalid(format!("{named_by} names {name:?}: too many symlinks")))
}

/// `a/b/../c` → `a/c`; `None` when it climbs above the top.
fn lexical_clean(path: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in path.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

fn open(root: &BeneathDir, path: &[u8]) -> Result<File, Error> {
    root.open_file(path, OFlags::RDONLY | OFlags::NONBLOCK)
        .map_err(|e| crate::layers::Error::io(format!("reading {}", String::from_utf8_lossy(path)))(e).into())
}

/// A small file of the archive (JSON), at most [`MAX_JSON`] bytes.
fn read_small(root: &BeneathDir, named_by: &str, name: &str) -> Result<Vec<u8>, Error> {
    let path = resolve(root, named_by, name)?;
    let mut data = Vec::new();
    open(root, &path)?
        .take(MAX_JSON + 1)
        .read_to_end(&mut data)
        .map_err(crate::layers::Error::io("reading the archive"))?;
    if data.len() as u64 > MAX_JSON {
        return Err(invalid(format!("{name:?} is larger than {MAX_JSON} bytes")));
    }
    Ok(data)
}

/// How a layer file is compressed, from its first bytes.
fn compression_of(root: &BeneathDir, path: &[u8]) -> Result<Compression, Error> {
    let mut head = [0u8; 4];
    let mut f = open(root, path)?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(crate::layers::Error::io("reading the archive")(e).into()),
        }
    }
    Ok(match &head[..got] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}

/// Stores every layer the images need (each checked against its config's
/// diff_id, and its blob's digest when named so), then adds the images.
fn ingest(
    store: &Store,
    work: &Unpacked,
    images: &[ImageFile],
    report: &mut dyn FnMut(Progress),
) -> Result<Vec<Loaded>, Error> {
    let root = work.root()?;
    let mut stored: Vec<Digest> = Vec::new();
    let result = (|| {
        for layer in images.iter().flat_map(|i| &i.layers) {
            if store.layer(&layer.diff_id).is_some() || stored.contains(&layer.diff_id) {
                continue;
            }
            let expected = ExpectedLayer {
                diff_id: layer.diff_id,
                compression: compression_of(&root, &layer.path)?,
                blob: layer.blob,
            };
            let file = open(&root, &layer.path)?;
            let total = file
                .metadata()
                .map_err(crate::layers::Error::io("reading the archive"))?
                .len();
            report(Progress {
                layer: layer.diff_id,
                current: 0,
                total,
            });
            let reader = Reporting {
                inner: file,
                progress: Progress {
                    layer: layer.diff_id,
                    current: 0,
                    total,
                },
                reported: 0,
                report: &mut *report,
            };
            store.store_layer_expecting(reader, &expected)?;
            stored.push(layer.diff_id);
        }
        let mut loaded = Vec::new();
        for image in images {
            let id = Digest::of(&image.config);
            let moved = image
                .tags
                .iter()
                .filter_map(|t| {
                    store
                        .resolve(&t.to_string())
                        .ok()
                        .filter(|old| *old != id)
                        .map(|old| (t.clone(), old))
                })
                .collect();
            let added = store.add_external_image(&ExternalImage {
                config: &image.config,
                tags: image.tags.clone(),
                ..Default::default()
            })?;
            loaded.push(Loaded {
                id: added,
                tags: image.tags.clone(),
                moved,
            });
        }
        Ok(loaded)
    })();
    if result.is_err() {
        store.discard_unreferenced_layers(&stored);
    }
    result
}
