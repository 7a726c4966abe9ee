//! The workloads, in one table with the meanings of `benches/union`: each
//! runs on a fresh mount with an empty upper, times only its part between
//! [`Site::timed`]'s two points, and checks its result against the
//! fixture's manifest (a wrong result is reported, never timed).

use super::Error;
use super::fixture::{BLOCK, Fixture, big_base, big_block};
use super::requests::{Counts, RequestProbe, difference};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a measurement starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// sync + drop_caches after mounting (root only).
    Cold,
    /// The same work done once, untimed, first.
    Warm,
    /// Straight after mounting.
    Fresh,
}

impl State {
    pub fn describe(self) -> &'static str {
        match self {
            State::Cold => "cold",
            State::Warm => "warm",
            State::Fresh => "fresh mount",
        }
    }
}

pub struct Workload {
    pub name: &'static str,
    pub description: &'static str,
    pub state: State,
    /// Leaves much in the upper: the page cache is settled after it.
    pub writes: bool,
    run: fn(&mut Site) -> Result<Option<String>, Error>,
}

/// Every workload, in the report's order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "find_cold",
        description: "walk the image (readdir, like find)",
        state: State::Cold,
        writes: false,
        run: find_cold,
    },
    Workload {
        name: "find_warm",
        description: "walk the image",
        state: State::Warm,
        writes: false,
        run: find_warm,
    },
    Workload {
        name: "stat_cold",
        description: "lstat every entry of the image",
        state: State::Cold,
        writes: false,
        run: stat_cold,
    },
    Workload {
        name: "stat_warm",
        description: "lstat every entry of the image",
        state: State::Warm,
        writes: false,
        run: stat_warm,
    },
    Workload {
        name: "read_small_warm",
        description: "read every small file (<= 16 KiB) of the image",
        state: State::Warm,
        writes: false,
        run: read_small_warm,
    },
    Workload {
        name: "seq_read",
        description: "sequential read of the big lower file, 1 MiB blocks",
        state: State::Warm,
        writes: false,
        run: seq_read,
    },
    Workload {
        name: "seq_write",
        description: "write a new file as big as the big one, 1 MiB blocks, fsync",
        state: State::Fresh,
        writes: true,
        run: seq_write,
    },
    Workload {
        name: "untar",
        description: "extract the fixture's tar into the mount, then syncfs",
        state: State::Fresh,
        writes: true,
        run: untar,
    },
    Workload {
        name: "rm_rf",
        description: "remove a lower tree spread over two layers",
        state: State::Fresh,
        writes: true,
        run: rm_rf,
    },
];

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// What one measurement gives.
pub struct Measured {
    pub elapsed: Duration,
    /// What the requests are divided by: entries listed, files read or written.
    pub files: u64,
    /// stratafs's requests during the timed part.
    pub requests: Option<Counts>,
    /// What was wrong with the result, if anything.
    pub problem: Option<String>,
}

/// Where a workload runs.
pub struct Site<'a> {
    pub mnt: &'a Path,
    pub fx: &'a Fixture,
    pub probe: Option<&'a RequestProbe>,
    pub stop: &'a AtomicBool,
    timed: Option<(Duration, u64, Option<Counts>)>,
}

impl<'a> Site<'a> {
    pub fn new(mnt: &'a Path, fx: &'a Fixture, probe: Option<&'a RequestProbe>, stop: &'a AtomicBool) -> Self {
        Site {
            mnt,
            fx,
            probe,
            stop,
            timed: None,
        }
    }

    /// Runs `f`, measured, counting stratafs's requests over the same span.
    fn timed<R>(&mut self, files: u64, f: impl FnOnce(&Self) -> Result<R, Error>) -> Result<R, Error> {
        let before = self.probe.map(RequestProbe::snapshot).transpose()?;
        let started = Instant::now();
        let result = f(self)?;
        let elapsed = started.elapsed();
        let requests = match (self.probe, before) {
            (Some(probe), Some(before)) => Some(difference(&before, &probe.snapshot()?)),
            _ => None,
        };
        self.timed = Some((elapsed, files, requests));
        Ok(result)
    }

    fn check_stop(&self) -> Result<(), Error> {
        if self.stop.load(Ordering::Relaxed) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Workload {
    pub fn run(&self, site: &mut Site) -> Result<Measured, Error> {
        let problem = (self.run)(site)?;
        let (elapsed, files, requests) = site.timed.take().ok_or_else(|| Error::Workload {
            workload: self.name,
            why: "nothing was timed".into(),
        })?;
        Ok(Measured {
            elapsed,
            files,
            requests,
            problem,
        })
    }
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let context = format!("{what} {}", path.display());
    move |e| Error::io(context, e)
}

/// sync, then the clean page cache, dentries and inodes dropped.
pub fn drop_caches(what: &str) -> Result<(), Error> {
    rustix::fs::sync();
    std::fs::write("/proc/sys/vm/drop_caches", what)
        .map_err(|e| Error::io("writing /proc/sys/vm/drop_caches".into(), e))
}

/// Entries below `dir` (not itself), by readdir alone, as find does.
fn walk(site: &Site, dir: &Path) -> Result<u64, Error> {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        site.check_stop()?;
        for entry in std::fs::read_dir(&d).map_err(io("listing", &d))? {
            let entry = entry.map_err(io("listing", &d))?;
            count += 1;
            if entry
                .file_type()
                .map_err(io("reading the type of an entry in", &d))?
                .is_dir()
            {
                stack.push(entry.path());
            }
        }
    }
    Ok(count)
}

fn find_image(site: &mut Site, cold: bool) -> Result<Option<String>, Error> {
    let image = site.path("image");
    let expect = site.fx.manifest.image_entries as u64;
    let first = if cold {
        drop_caches("3")?;
        expect
    } else {
        walk(site, &image)?
    };
    let n = site.timed(expect, |s| walk(s, &image))?;
    Ok((n != expect || first != expect).then(|| format!("walk listed {first} then {n} entries, expected {expect}")))
}

fn find_cold(site: &mut Site) -> Result<Option<String>, Error> {
    find_image(site, true)
}

fn find_warm(site: &mut Site) -> Result<Option<String>, Error> {
    find_image(site, false)
}

fn lstat_all(site: &Site) -> Result<(), Error> {
    for (i, rel) in site.fx.image_paths.iter().enumerate() {
        if i % 256 == 0 {
            site.check_stop()?;
        }
        let p = site.path(rel);
        std::fs::symlink_metadata(&p).map_err(io("lstat of", &p))?;
    }
    Ok(())
}

fn stat_image(site: &mut Site, cold: bool) -> Result<Option<String>, Error> {
    if cold {
        drop_caches("3")?;
    } else {
        lstat_all(site)?;
    }
    site.timed(site.fx.image_paths.len() as u64, lstat_all)?;
    Ok(None)
}

fn stat_cold(site: &mut Site) -> Result<Option<String>, Error> {
    stat_image(site, true)
}

fn stat_warm(site: &mut Site) -> Result<Option<String>, Error> {
    stat_image(site, false)
}

/// Reads `path` to its end; returns its length.
fn read_through(path: &Path, buf: &mut [u8]) -> Result<u64, Error> {
    let mut f = std::fs::File::open(path).map_err(io("opening", path))?;
    let mut total = 0;
    loop {
        match f.read(buf).map_err(io("reading", path))? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

fn read_small(site: &Site) -> Result<u64, Error> {
    let mut buf = vec![0; 64 << 10];
    let mut total = 0;
    for (i, rel) in site.fx.small_paths.iter().enumerate() {
        if i % 256 == 0 {
            site.check_stop()?;
        }
        total += read_through(&site.path(rel), &mut buf)?;
    }
    Ok(total)
}

fn read_small_warm(site: &mut Site) -> Result<Option<String>, Error> {
    let want = site.fx.manifest.small_bytes;
    let first = read_small(site)?;
    let total = site.timed(site.fx.small_paths.len() as u64, read_small)?;
    Ok((first != want || total != want).then(|| format!("read {first} then {total} bytes, expected {want}")))
}

fn big_path(site: &Site) -> PathBuf {
    site.path("big/big.bin")
}

/// A few blocks of the big file against what was written.
fn check_big(path: &Path, size: u64) -> Result<Option<String>, Error> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).map_err(io("opening", path))?;
    let base = big_base();
    let blocks = size / BLOCK as u64;
    let mut got = vec![0; 4096];
    for i in [0, 1, blocks / 2, blocks - 1] {
        f.read_exact_at(&mut got, i * BLOCK as u64)
            .map_err(io("reading", path))?;
        if got[..] != big_block(i, &base)[..4096] {
            return Ok(Some(format!("block {i} of {} differs", path.display())));
        }
    }
    Ok(None)
}

fn seq_read(site: &mut Site) -> Result<Option<String>, Error> {
    let big = big_path(site);
    let want = site.fx.manifest.scale.big_size;
    let mut buf = vec![0; BLOCK];
    let first = read_through(&big, &mut buf)?;
    let n = site.timed(1, |_| read_through(&big, &mut buf))?;
    if first != want || n != want {
        return Ok(Some(format!("read {first} then {n} bytes, expected {want}")));
    }
    check_big(&big, want)
}

fn seq_write(site: &mut Site) -> Result<Option<String>, Error> {
    let out = site.path("seqwrite.bin");
    let size = site.fx.manifest.scale.big_size;
    let block = vec![0u8; BLOCK];
    site.timed(1, |s| {
        let mut f = std::fs::File::create(&out).map_err(io("creating", &out))?;
        for _ in 0..size / BLOCK as u64 {
            s.check_stop()?;
            f.write_all(&block).map_err(io("writing", &out))?;
        }
        f.sync_all().map_err(io("fsync of", &out))
    })?;
    let got = std::fs::metadata(&out).map_err(io("stat of", &out))?.len();
    Ok((got != size).then(|| format!("wrote {got} bytes, expected {size}")))
}

/// Regular files below `dir`.
fn count_files(dir: &Path) -> Result<u64, Error> {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io("listing", &d))? {
            let entry = entry.map_err(io("listing", &d))?;
            let kind = entry.file_type().map_err(io("reading the type of an entry in", &d))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                count += 1;
            }
        }
    }
    Ok(count)
}

fn untar(site: &mut Site) -> Result<Option<String>, Error> {
    let tar_path = site.fx.tar_path();
    // The tar is read from memory: the row measures the mount, not the tar's disk.
    let bytes = std::fs::read(&tar_path).map_err(io("reading", &tar_path))?;
    let files = site.fx.manifest.scale.untar_files as u64;
    site.timed(files, |s| {
        let mut archive = tar::Archive::new(bytes.as_slice());
        for entry in archive.entries().map_err(io("reading", &tar_path))? {
            s.check_stop()?;
            let mut entry = entry.map_err(io("reading", &tar_path))?;
            entry.unpack_in(s.mnt).map_err(io("extracting into", s.mnt))?;
        }
        let dir = std::fs::File::open(s.path("untar")).map_err(io("opening", &s.path("untar")))?;
        crate::sys::syncfs(&dir).map_err(io("syncfs of", s.mnt))
    })?;
    let n = count_files(&site.path("untar"))?;
    Ok((n != files).then(|| format!("{n} files after extraction, expected {files}")))
}

/// Entries below `dir`, itself included, through the lower layers
/// directly: puts them in the cache ("lower cached") without the mount.
fn warm_lower(site: &Site, rel: &str) -> Result<(), Error> {
    for lower in site.fx.lowers() {
        let dir = lower.join(rel);
        if dir.is_dir() {
            walk(site, &dir)?;
        }
    }
    Ok(())
}

fn rm_rf(site: &mut Site) -> Result<Option<String>, Error> {
    warm_lower(site, "rmtree")?;
    let tree = site.path("rmtree");
    let entries = site.fx.manifest.rm_entries as u64;
    site.timed(entries, |_| {
        std::fs::remove_dir_all(&tree).map_err(io("removing", &tree))
    })?;
    let listed = std::fs::read_dir(site.mnt)
        .map_err(io("listing", site.mnt))?
        .filter_map(Result::ok)
        .any(|e| e.file_name() == "rmtree");
    Ok((tree.symlink_metadata().is_ok() || listed).then(|| "rmtree still visible after its removal".to_string()))
}
