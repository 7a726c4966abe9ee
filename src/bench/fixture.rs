//! The seeded, layered fixture the workloads run on: four distro-like lower
//! layers (packages installed, upgraded and removed: whiteouts and opaque
//! directories), a tree to remove spread over two layers, a tar to extract
//! and a big file. Everything follows from the seed and the scale, so two
//! builds are identical; it is built once under the work directory and
//! reused while its manifest matches.
//!
//! The merged view the overlay rules give is computed while the layers are
//! written ([`Model`]), and the workloads check their results against it.

use super::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped whenever what a build makes changes: an older fixture is rebuilt.
const FIXTURE_VERSION: u32 = 1;
const SEED: u64 = 42;
/// Files up to this size are "small" (read_small_warm).
pub const SMALL_MAX: u64 = 16 * 1024;
/// The big file is written and read in blocks of this size.
pub const BLOCK: usize = 1 << 20;
/// Files per directory of the tar.
const UNTAR_PER_DIR: usize = 100;
const LOWER_LAYERS: usize = 4;

/// How big the fixture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    /// Approximate new entries of the image in each layer, bottom first.
    budgets: [usize; LOWER_LAYERS],
    rm_files: usize,
    pub untar_files: usize,
    pub big_size: u64,
}

impl Scale {
    /// About 30,000 image entries, a 4,200-file tree, 10,000 files to
    /// extract, 1 GiB: the sizes of `benches/union`.
    pub const FULL: Scale = Scale {
        budgets: [17_000, 7_200, 4_600, 2_900],
        rm_files: 4_200,
        untar_files: 10_000,
        big_size: 1 << 30,
    };
    /// A tenth of that, and 64 MiB: for `--quick`.
    pub const QUICK: Scale = Scale {
        budgets: [1_700, 720, 460, 290],
        rm_files: 420,
        untar_files: 1_000,
        big_size: 64 << 20,
    };
}

/// What a build made: written as `manifest.json` beside the layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub seed: u64,
    pub scale: Scale,
    /// Entries under `image/` in the merged view (`image` itself not counted).
    pub image_entries: usize,
    pub small_files: usize,
    pub small_bytes: u64,
    /// Entries of `rmtree` in the merged view, itself included.
    pub rm_entries: usize,
    pub whiteouts: usize,
    pub opaque_dirs: usize,
    /// Built as root: opaque directories carry `trusted.overlay.opaque`
    /// (what kernel overlayfs reads as root) beside `user.overlay.opaque`.
    pub as_root: bool,
}

/// A built fixture, ready to mount.
pub struct Fixture {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Every entry under `image/` of the merged view, relative to the mount.
    pub image_paths: Vec<String>,
    /// The small regular files of the image, relative to the mount.
    pub small_paths: Vec<String>,
}

impl Fixture {
    /// The lower layers, topmost first (as `lowerdir=` wants them).
    pub fn lowers(&self) -> Vec<PathBuf> {
        (1..=LOWER_LAYERS).rev().map(|n| layer_dir(&self.dir, n)).collect()
    }

    pub fn tar_path(&self) -> PathBuf {
        self.dir.join("untar.tar")
    }
}

fn layer_dir(fx: &Path, n: usize) -> PathBuf {
    fx.join("layers").join(format!("L{n}"))
}

/// The fixture at `dir` for `scale`: reused when its manifest says it was
/// built from the same seed, scale and version; rebuilt otherwise.
pub fn prepare(dir: &Path, scale: Scale, log: &dyn Fn(&str)) -> Result<Fixture, Error> {
    if let Some(fixture) = reuse(dir, scale) {
        log(&format!("fixture: reusing {}", dir.display()));
        return Ok(fixture);
    }
    log(&format!("fixture: building {} ...", dir.display()));
    let started = std::time::Instant::now();
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| Error::io(format!("removing the old fixture {}", dir.display()), e))?;
    }
    let fixture = build(dir, scale).map_err(|e| Error::io(format!("building the fixture in {}", dir.display()), e))?;
    let m = &fixture.manifest;
    log(&format!(
        "fixture: built in {:.0} s: {} image entries ({} small files, {} whiteouts, {} opaque directories)",
        started.elapsed().as_secs_f64(),
        m.image_entries,
        m.small_files,
        m.whiteouts,
        m.opaque_dirs
    ));
    Ok(fixture)
}

fn reuse(dir: &Path, scale: Scale) -> Option<Fixture> {
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()?;
    let as_root = crate::sys::is_root();
    if manifest.version != FIXTURE_VERSION
        || manifest.seed != SEED
        || manifest.scale != scale
        || manifest.as_root != as_root
    {
        return None;
    }
    let image_paths = read_list(&dir.join("image.list"))?;
    let small_paths = read_list(&dir.join("small.list"))?;
    if image_paths.len() != manifest.image_entries || small_paths.len() != manifest.small_files {
        return None;
    }
    Some(Fixture {
        dir: dir.to_path_buf(),
        manifest,
        image_paths,
        small_paths,
    })
}

fn read_list(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// SplitMix64: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

const SYLLABLES: &[&str] = &[
    "ba", "ko", "ri", "sel", "mon", "ta", "lu", "xen", "dor", "pi", "qua", "ve", "zu", "fen", "gra", "hol", "im", "jo",
    "kal", "nex", "ost", "pre", "rum", "sy",
];
const LANGS: &[&str] = &[
    "de", "fr", "es", "it", "pt_BR", "ru", "ja", "zh_CN", "pl", "nl", "sv", "cs", "da", "fi", "hu", "ko",
];
const EXTENSIONS: &[&str] = &["dat", "xml", "png", "txt", "svg", "json"];

/// Deterministic names, sizes and contents.
struct Gen {
    rng: Rng,
    pool: std::rc::Rc<Vec<u8>>,
}

impl Gen {
    fn new(seed: u64, pool: &std::rc::Rc<Vec<u8>>) -> Self {
        Gen {
            rng: Rng::new(seed),
            pool: pool.clone(),
        }
    }

    fn name(&mut self, lo: u64, hi: u64) -> String {
        (0..self.rng.range(lo, hi)).map(|_| *self.rng.pick(SYLLABLES)).collect()
    }

    /// Mostly small: 8% empty, half up to 2 KiB, the rest up to 16 KiB.
    fn small_size(&mut self) -> u64 {
        match self.rng.range(0, 99) {
            0..8 => 0,
            8..55 => self.rng.range(1, 2048),
            _ => self.rng.range(2049, SMALL_MAX),
        }
    }

    /// A few larger files (64 KiB to 2 MiB) among small ones.
    fn size(&mut self) -> u64 {
        if self.rng.range(0, 999) < 12 {
            return self.rng.range(64 << 10, 2 << 20);
        }
        self.small_size()
    }

    fn data(&mut self, n: u64) -> Vec<u8> {
        let n = n as usize;
        let start = self.rng.range(0, (self.pool.len() - n) as u64) as usize;
        self.pool[start..start + n].to_vec()
    }
}

/// One entry a layer writes.
enum Item {
    File { path: String, data: Vec<u8>, mode: u32 },
    Link { path: String, target: String },
}

impl Item {
    fn path(&self) -> &str {
        match self {
            Item::File { path, .. } | Item::Link { path, .. } => path,
        }
    }
}

/// A seed from a package's name, so its upgrade rewrites the same paths.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The files one package installs, under `image/`.
fn package(g: &mut Gen, pkg: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut file = |g: &mut Gen, path: String, size: u64, mode: u32| {
        let data = g.data(size);
        out.push(Item::File {
            path: format!("image/{path}"),
            data,
            mode,
        });
    };
    let size = g.rng.range(400, 8000);
    file(g, format!("usr/share/doc/{pkg}/copyright"), size, 0o644);
    let size = g.rng.range(300, SMALL_MAX);
    file(g, format!("usr/share/doc/{pkg}/changelog.Debian.gz"), size, 0o644);
    for ext in ["list", "md5sums"] {
        let size = g.size();
        file(g, format!("var/lib/dpkg/info/{pkg}.{ext}"), size, 0o644);
    }
    for _ in 0..g.rng.range(0, 3) {
        let tool = format!("{pkg}{}", g.name(0, 1));
        let size = g.size();
        file(g, format!("usr/bin/{tool}"), size, 0o755);
        let size = g.rng.range(200, 6000);
        file(g, format!("usr/share/man/man1/{tool}.1.gz"), size, 0o644);
    }
    if g.rng.chance(30) {
        for _ in 0..g.rng.range(4, 12) {
            let lang = *g.rng.pick(LANGS);
            let size = g.rng.range(500, SMALL_MAX);
            file(g, format!("usr/share/locale/{lang}/LC_MESSAGES/{pkg}.mo"), size, 0o644);
        }
    }
    if g.rng.chance(45) {
        let mut dirs = vec![format!("usr/share/{pkg}")];
        for _ in 0..g.rng.range(0, 6) {
            let parent = g.rng.pick(&dirs).clone();
            dirs.push(format!("{parent}/{}", g.name(1, 3)));
        }
        for _ in 0..g.rng.range(4, 70) {
            let dir = g.rng.pick(&dirs).clone();
            let (name, ext) = (g.name(1, 3), *g.rng.pick(EXTENSIONS));
            let size = g.size();
            file(g, format!("{dir}/{name}.{ext}"), size, 0o644);
        }
    }
    if g.rng.chance(50) {
        let so = format!("lib{pkg}.so.{}", g.rng.range(0, 6));
        let size = g.rng.range(4096, SMALL_MAX);
        file(g, format!("usr/lib/x86_64-linux-gnu/{so}.0"), size, 0o644);
        out.push(Item::Link {
            path: format!("image/usr/lib/x86_64-linux-gnu/{so}"),
            target: format!("{so}.0"),
        });
    }
    // A random name may repeat: the last one wins.
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<Item> = out
        .into_iter()
        .rev()
        .filter(|i| seen.insert(i.path().to_string()))
        .collect();
    unique.reverse();
    unique
}

/// The merged view of the layers written so far: what the overlay rules
/// make of them, path (relative to the mount) to entry.
#[derive(Default)]
struct Model {
    entries: BTreeMap<String, Entry>,
    whiteouts: usize,
    opaque_dirs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Dir,
    File(u64),
    Link,
}

impl Model {
    fn remove_below(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            self.entries.remove(&p);
        }
    }

    /// A non-directory in an upper layer hides whatever was below at its path.
    fn put(&mut self, path: &str, entry: Entry) {
        // Top down: a directory made over a lower non-directory replaces it.
        let ancestors: Vec<&Path> = Path::new(path)
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        for p in ancestors.into_iter().rev() {
            // A non-directory replaced has nothing below it to drop.
            self.entries.insert(p.to_string_lossy().into_owned(), Entry::Dir);
        }
        if entry != Entry::Dir {
            self.remove_below(path);
        }
        self.entries.insert(path.to_string(), entry);
    }

    fn whiteout(&mut self, path: &str) {
        self.remove_below(path);
        self.entries.remove(path);
        self.whiteouts += 1;
    }
}

/// Writes entries into one layer directory, keeping the model in step.
struct LayerWriter<'a> {
    root: PathBuf,
    model: &'a mut Model,
}

impl LayerWriter<'_> {
    fn write(&mut self, item: &Item) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.root.join(item.path());
        if path.is_dir() {
            return Ok(()); // a file over a directory of its own layer: skipped
        }
        std::fs::create_dir_all(path.parent().unwrap_or(&self.root))?;
        if path.symlink_metadata().is_ok() {
            std::fs::remove_file(&path)?;
        }
        match item {
            Item::File { data, mode, .. } => {
                std::fs::write(&path, data)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))?;
                self.model.put(item.path(), Entry::File(data.len() as u64));
            }
            Item::Link { target, .. } => {
                std::os::unix::fs::symlink(target, &path)?;
                self.model.put(item.path(), Entry::Link);
            }
        }
        Ok(())
    }

    /// A whiteout (a 0/0 character device), unless the layer has an entry there.
    fn whiteout(&mut self, rel: &str) -> std::io::Result<()> {
        use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
        let path = self.root.join(rel);
        if path.symlink_metadata().is_ok() || !self.model.entries.contains_key(rel) {
            return Ok(());
        }
        std::fs::create_dir_all(path.parent().unwrap_or(&self.root))?;
        mknodat(CWD, &path, FileType::CharacterDevice, Mode::empty(), makedev(0, 0))?;
        self.model.whiteout(rel);
        Ok(())
    }

    /// An opaque directory: what lower layers had below it is hidden.
    fn opaque_dir(&mut self, rel: &str) -> std::io::Result<()> {
        let path = self.root.join(rel);
        std::fs::create_dir_all(&path)?;
        let dir = std::fs::File::open(&path)?;
        // Rootless mounts read the user.* name (a whiteout, a 0/0 device,
        // needs no privilege since Linux 5.8).
        crate::sys::xattr::set(&dir, "user.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())?;
        if crate::sys::is_root() {
            crate::sys::xattr::set(&dir, "trusted.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())?;
        }
        self.model.remove_below(rel);
        self.model.put(rel, Entry::Dir);
        self.model.opaque_dirs += 1;
        Ok(())
    }
}

fn build(dir: &Path, scale: Scale) -> std::io::Result<Fixture> {
    let mut pool_rng = Rng::new(SEED + 1);
    let pool: Vec<u8> = (0..(4 << 20) / 8)
        .flat_map(|_| pool_rng.next_u64().to_le_bytes())
        .collect();
    let pool = std::rc::Rc::new(pool);
    let mut g = Gen::new(SEED, &pool);
    let mut model = Model::default();
    let mut installed: Vec<String> = Vec::new();
    let mut used = std::collections::HashSet::new();
    for n in 1..=LOWER_LAYERS {
        let root = layer_dir(dir, n);
        std::fs::create_dir_all(root.join("image"))?;
        model.put("image", Entry::Dir);
        let mut w = LayerWriter {
            root,
            model: &mut model,
        };
        let mut made = if n > 1 {
            change_lower(&mut w, &mut g, &pool, &mut installed, n)?
        } else {
            0
        };
        while made < scale.budgets[n - 1] {
            let pkg = loop {
                let name = g.name(2, 3);
                if used.insert(name.clone()) {
                    break name;
                }
            };
            let items = package(&mut Gen::new(name_seed(&pkg), &pool), &pkg);
            for item in &items {
                w.write(item)?;
            }
            made += items.len() + 2;
            installed.push(pkg);
        }
    }
    write_rmtree(dir, scale, &mut g, &mut model)?;
    write_big(&layer_dir(dir, 1).join("big").join("big.bin"), scale.big_size)?;
    write_tar(&dir.join("untar.tar"), scale, &mut g)?;
    finish(dir, scale, &model)
}

/// Upgrades, removals (whiteouts) and opaque directories over the layers
/// below `n`; returns how many entries that made.
fn change_lower(
    w: &mut LayerWriter,
    g: &mut Gen,
    pool: &std::rc::Rc<Vec<u8>>,
    installed: &mut Vec<String>,
    n: usize,
) -> std::io::Result<usize> {
    let mut made = 0;
    for _ in 0..installed.len().min(25) {
        let pkg = g.rng.pick(installed).clone();
        for item in package(&mut Gen::new(name_seed(&pkg), pool), &pkg) {
            if let Item::File { path, mode, .. } = item {
                let size = g.small_size();
                w.write(&Item::File {
                    path,
                    data: g.data(size),
                    mode,
                })?;
                made += 1;
            }
        }
    }
    for _ in 0..(if n > 2 { 4 } else { 2 }) {
        let pkg = installed.remove(g.rng.range(0, installed.len() as u64 - 1) as usize);
        // Directories first: their files go with them.
        for d in [format!("image/usr/share/doc/{pkg}"), format!("image/usr/share/{pkg}")] {
            w.whiteout(&d)?;
        }
        for item in package(&mut Gen::new(name_seed(&pkg), pool), &pkg) {
            w.whiteout(item.path())?;
        }
        made += 1;
    }
    let with_data: Vec<String> = installed
        .iter()
        .filter(|p| w.model.entries.get(&format!("image/usr/share/{p}")) == Some(&Entry::Dir))
        .cloned()
        .collect();
    for _ in 0..with_data.len().min(2) {
        let dir = format!("image/usr/share/{}", g.rng.pick(&with_data));
        if w.root.join(&dir).symlink_metadata().is_ok() {
            continue;
        }
        w.opaque_dir(&dir)?;
        for i in 0..g.rng.range(3, 12) {
            let size = g.small_size();
            w.write(&Item::File {
                path: format!("{dir}/new{i}.dat"),
                data: g.data(size),
                mode: 0o644,
            })?;
            made += 1;
        }
    }
    Ok(made)
}

/// The tree `rm_rf` removes: most in the bottom layer, the rest in the
/// third, in directories both have (merged).
fn write_rmtree(dir: &Path, scale: Scale, g: &mut Gen, model: &mut Model) -> std::io::Result<()> {
    let split = scale.rm_files * 6 / 7;
    for i in 0..scale.rm_files {
        let layer = if i < split { 1 } else { 3 };
        let mut w = LayerWriter {
            root: layer_dir(dir, layer),
            model: &mut *model,
        };
        let size = g.rng.range(0, 4096);
        let path = format!("rmtree/d{:02}/s{}/f{i}", (i * 7) % 60, i % 3);
        w.write(&Item::File {
            path,
            data: g.data(size),
            mode: 0o644,
        })?;
    }
    Ok(())
}

/// Block `i` of the big file: its number, then a fixed pattern (not sparse,
/// and each block tells where it belongs).
pub fn big_block(i: u64, base: &[u8]) -> Vec<u8> {
    let mut block = base.to_vec();
    block[..8].copy_from_slice(&i.to_le_bytes());
    block
}

pub fn big_base() -> Vec<u8> {
    let mut rng = Rng::new(SEED + 7);
    (0..BLOCK / 8).flat_map(|_| rng.next_u64().to_le_bytes()).collect()
}

fn write_big(path: &Path, size: u64) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let base = big_base();
    for i in 0..size / BLOCK as u64 {
        f.write_all(&big_block(i, &base))?;
    }
    f.into_inner().map_err(|e| e.into_error())?.sync_all()
}

fn write_tar(path: &Path, scale: Scale, g: &mut Gen) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut tar = tar::Builder::new(std::io::BufWriter::new(std::fs::File::create(&tmp)?));
    for d in 0..scale.untar_files / UNTAR_PER_DIR {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        tar.append_data(&mut h, format!("untar/d{d:03}"), std::io::empty())?;
        for i in 0..UNTAR_PER_DIR {
            let size = g.small_size();
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_size(size);
            tar.append_data(&mut h, format!("untar/d{d:03}/f{i:03}"), g.data(size).as_slice())?;
        }
    }
    tar.into_inner()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Writes the lists and the manifest (last: a fixture without one is rebuilt).
fn finish(dir: &Path, scale: Scale, model: &Model) -> std::io::Result<Fixture> {
    let image_paths: Vec<String> = model
        .entries
        .keys()
        .filter(|p| p.starts_with("image/"))
        .cloned()
        .collect();
    let small: Vec<(&String, u64)> = model
        .entries
        .iter()
        .filter(|(p, _)| p.starts_with("image/"))
        .filter_map(|(p, e)| match e {
            Entry::File(size) if *size <= SMALL_MAX => Some((p, *size)),
            _ => None,
        })
        .collect();
    let small_paths: Vec<String> = small.iter().map(|(p, _)| p.to_string()).collect();
    std::fs::write(dir.join("image.list"), image_paths.join("\n") + "\n")?;
    std::fs::write(dir.join("small.list"), small_paths.join("\n") + "\n")?;
    let manifest = Manifest {
        version: FIXTURE_VERSION,
        seed: SEED,
        scale,
        image_entries: image_paths.len(),
        small_files: small.len(),
        small_bytes: small.iter().map(|(_, s)| s).sum(),
        rm_entries: model.entries.keys().filter(|p| p.starts_with("rmtree/")).count() + 1,
        whiteouts: model.whiteouts,
        opaque_dirs: model.opaque_dirs,
        as_root: crate::sys::is_root(),
    };
    rustix::fs::sync();
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    crate::sys::write_atomic(&dir.join("manifest.json"), &json, 0o644)?;
    Ok(Fixture {
        dir: dir.to_path_buf(),
        manifest,
        image_paths,
        small_paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(m: &Model) -> Vec<&str> {
        m.entries.keys().map(String::as_str).collect()
    }

    #[test]
    fn the_model_follows_the_overlay_rules() {
        let mut m = Model::default();
        m.put("image/usr/share/doc/a/copyright", Entry::File(3));
        m.put("image/usr/share/doc/b", Entry::File(1));
        assert_eq!(
            paths(&m),
            [
                "image",
                "image/usr",
                "image/usr/share",
                "image/usr/share/doc",
                "image/usr/share/doc/a",
                "image/usr/share/doc/a/copyright",
                "image/usr/share/doc/b"
            ]
        );
        // A whiteout hides the directory and all below it; a file over a
        // directory hides what was below it too.
        m.whiteout("image/usr/share/doc/a");
        assert!(!paths(&m).iter().any(|p| p.contains("doc/a")), "{:?}", paths(&m));
        m.put("image/usr/share", Entry::File(0));
        assert_eq!(paths(&m), ["image", "image/usr", "image/usr/share"]);
        // A directory over a file replaces it.
        m.put("image/usr/share/x", Entry::Link);
        assert_eq!(m.entries["image/usr/share"], Entry::Dir);
    }

    #[test]
    fn the_generator_is_the_same_every_time() {
        let run = || {
            let mut r = Rng::new(SEED);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        assert_eq!(big_block(3, &big_base())[..8], 3u64.to_le_bytes());
    }
}
