//! Micro-benchmarks of the hot paths below the union filesystem and the
//! store, without a harness or a dependency:
//!
//!     cargo bench --bench micro [FILTER]
//!
//! Each case runs in batches of at least 20 ms (the iteration count
//! calibrated first) and prints the median time per operation over the
//! batches, with the fastest and slowest batch. Inputs are generated from a
//! fixed seed, so runs compare.

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};
use strata::fs::changes::{Change, ChangeKind};
use strata::fs::export::{IdShift, write_layer};
use strata::layers::Digest;
use strata::layers::chain;
use strata::layers::index::{Entry, EntryKind, IndexBuilder, LayerIndex};
use strata::layers::untar::{ExtractOptions, extract};
use strata::sys::BeneathDir;

const BATCHES: usize = 11;
const BATCH_TIME: Duration = Duration::from_millis(20);

/// A small deterministic generator (xorshift64*), so no `rand` is needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Bench {
    filter: Option<String>,
}

impl Bench {
    /// Whether any case of a group (named by its prefix, as `index:`) is
    /// selected, so unselected groups skip building their inputs.
    fn wants(&self, group: &str, cases: &[&str]) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|flt| group.contains(flt) || cases.iter().any(|c| format!("{group} {c}").contains(flt)))
    }

    /// Times `f`, which does `ops` operations per call; prints the median
    /// per operation and, when `bytes` is given, the throughput.
    fn run<R>(&self, name: &str, ops: u64, bytes: Option<u64>, mut f: impl FnMut() -> R) {
        if self.filter.as_deref().is_some_and(|flt| !name.contains(flt)) {
            return;
        }
        let mut iters: u64 = 1;
        loop {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            if t.elapsed() >= BATCH_TIME || iters >= 1 << 32 {
                break;
            }
            iters *= 2;
        }
        let mut per_op: Vec<f64> = (0..BATCHES)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(f());
                }
                t.elapsed().as_nanos() as f64 / (iters * ops) as f64
            })
            .collect();
        per_op.sort_by(f64::total_cmp);
        let median = per_op[BATCHES / 2];
        let rate = bytes.map_or(String::new(), |b| {
            format!("  {:8.1} MB/s", b as f64 / ops as f64 / median * 1e3)
        });
        println!(
            "{name:<40} {:>12} /op  ({} .. {}){rate}",
            human(median),
            human(per_op[0]),
            human(per_op[BATCHES - 1])
        );
    }
}

fn human(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn file_entry(size: u64) -> Entry {
    Entry {
        kind: EntryKind::File,
        size,
        ..Entry::dir(0o644, 0, 0, 1_700_000_000)
    }
}

/// `n` distinct paths shaped like a distribution's tree: a few top
/// directories, package directories below them, files in those.
fn distro_paths(n: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    const TOP: [&str; 8] = [
        "usr/bin",
        "usr/lib/x86_64-linux-gnu",
        "usr/share/doc",
        "usr/share/locale",
        "usr/share/man/man1",
        "etc",
        "var/lib/dpkg/info",
        "usr/lib/python3/dist-packages",
    ];
    let mut set = std::collections::BTreeSet::new();
    while set.len() < n {
        let top = TOP[rng.below(TOP.len())];
        let pkg = rng.below(n / 20 + 1);
        let file = rng.below(1 << 20);
        set.insert(format!("{top}/pkg{pkg:05}/file{file:07}.dat").into_bytes());
    }
    set.into_iter().collect()
}

/// An index of `paths` (files), with the directories above them.
fn index_of(paths: &[Vec<u8>], rng: &mut Rng) -> IndexBuilder {
    let mut b = IndexBuilder::new();
    b.insert(Vec::new(), Entry::dir(0o755, 0, 0, 1_700_000_000));
    for p in paths {
        for (i, c) in p.iter().enumerate() {
            if *c == b'/' && b.get(&p[..i]).is_none() {
                b.insert(p[..i].to_vec(), Entry::dir(0o755, 0, 0, 1_700_000_000));
            }
        }
        b.insert(p.clone(), file_entry(rng.below(16 << 10) as u64));
    }
    b
}

fn bench_index(bench: &Bench) {
    if !bench.wants(
        "index:",
        &[
            "build 100k paths + encode",
            "encode 100k",
            "get hit (100k)",
            "get miss (100k)",
        ],
    ) {
        return;
    }
    let mut rng = Rng(42);
    let paths = distro_paths(100_000, &mut rng);
    let builder = index_of(&paths, &mut rng);
    let entries = builder.len() as u64;
    bench.run("index: build 100k paths + encode", 1, None, || {
        let mut r = Rng(7);
        index_of(&paths, &mut r).encode()
    });
    let bytes = builder.encode();
    println!(
        "    ({entries} entries incl. directories, {:.1} MiB encoded)",
        bytes.len() as f64 / (1 << 20) as f64
    );
    bench.run("index: encode 100k", 1, None, || builder.encode());
    let index = LayerIndex::from_bytes(bytes).expect("a valid index");
    // Lookups in random order, so the cache sees what a walk of many
    // directories does to it.
    let mut order: Vec<usize> = (0..paths.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let hits: Vec<&[u8]> = order.iter().take(4096).map(|&i| paths[i].as_slice()).collect();
    let misses: Vec<Vec<u8>> = hits
        .iter()
        .map(|p| {
            let mut m = p.to_vec();
            m.push(b'~');
            m
        })
        .collect();
    bench.run("index: get hit (100k)", hits.len() as u64, None, || {
        hits.iter().filter(|p| index.get(black_box(p)).is_some()).count()
    });
    bench.run("index: get miss (100k)", misses.len() as u64, None, || {
        misses.iter().filter(|p| index.get(black_box(p)).is_some()).count()
    });
    assert_eq!(hits.iter().filter(|p| index.get(p).is_some()).count(), hits.len());
    assert_eq!(misses.iter().filter(|p| index.get(p).is_some()).count(), 0);
}

fn bench_chain(bench: &Bench) {
    if !bench.wants("chain:", &["merge 4 layers"]) {
        return;
    }
    // Four layers of 25,000 paths: each upper one replaces some paths of
    // the layers below, deletes some (whiteouts) and adds its own.
    let mut rng = Rng(4242);
    let base = distro_paths(25_000, &mut rng);
    let mut layers = Vec::new();
    for layer in 0..4 {
        let mut b = if layer == 0 {
            index_of(&base, &mut rng)
        } else {
            let own: Vec<Vec<u8>> = distro_paths(25_000, &mut rng)
                .into_iter()
                .map(|mut p| {
                    p.extend_from_slice(format!(".l{layer}").as_bytes());
                    p
                })
                .collect();
            index_of(&own, &mut rng)
        };
        if layer > 0 {
            for _ in 0..500 {
                let p = base[rng.below(base.len())].clone();
                b.insert(p, file_entry(1));
            }
            for _ in 0..200 {
                let p = &base[rng.below(base.len())];
                let (dir, name) = p.split_at(p.iter().rposition(|c| *c == b'/').expect("a slash") + 1);
                let mut wh = dir.to_vec();
                wh.extend_from_slice(b".wh.");
                wh.extend_from_slice(name);
                b.insert(wh, Entry::whiteout());
            }
        }
        layers.push(LayerIndex::from_bytes(b.encode()).expect("a valid index"));
    }
    let total: usize = layers.iter().map(|l| l.len()).sum();
    bench.run(&format!("chain: merge 4 layers ({total} entries)"), 1, None, || {
        chain::merge(&layers).len()
    });
}

fn bench_digest(bench: &Bench) {
    if !bench.wants("digest:", &["sha256 of 64 MiB", "sha256 of 4 KiB"]) {
        return;
    }
    let mut rng = Rng(9);
    let data: Vec<u8> = (0..64 << 20).map(|_| rng.next() as u8).collect();
    bench.run("digest: sha256 of 64 MiB", 1, Some(data.len() as u64), || {
        Digest::of(black_box(&data))
    });
    let small = &data[..4096];
    bench.run("digest: sha256 of 4 KiB", 1, Some(4096), || {
        Digest::of(black_box(small))
    });
}

/// What a container start pays for its seccomp filter: Docker's profile
/// parsed, resolved and compiled by libseccomp (x86_64, x86 and x32).
fn bench_seccomp(bench: &Bench) {
    if !bench.wants("seccomp:", &["compile Docker's profile"]) {
        return;
    }
    bench.run("seccomp: compile Docker's profile", 1, None, || {
        strata::run::seccomp::compile_default().expect("the default profile")
    });
}

fn bench_tar(bench: &Bench) -> io::Result<()> {
    // A tree of 2,000 small files (0-16 KiB) in 40 directories, written as a
    // layer tar by what `commit` uses, then extracted as `import` does.
    const FILES: usize = 2000;
    if !bench.wants("tar:", &["write_layer 2,000 files", "extract 2,000 files"]) {
        return Ok(());
    }
    let tree = tempfile::tempdir()?;
    let mut rng = Rng(77);
    let mut changes = Vec::new();
    let mut content = 0u64;
    for d in 0..40 {
        let dir = format!("d{d:02}");
        std::fs::create_dir(tree.path().join(&dir))?;
        changes.push(Change {
            path: format!("/{dir}").into_bytes(),
            kind: ChangeKind::Added,
        });
        for f in 0..FILES / 40 {
            let name = format!("{dir}/f{f:03}");
            let size = rng.below(16 << 10);
            let data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            std::fs::write(tree.path().join(&name), &data)?;
            content += size as u64;
            changes.push(Change {
                path: format!("/{name}").into_bytes(),
                kind: ChangeKind::Added,
            });
        }
    }
    let merged = BeneathDir::open(tree.path())?;
    let no_opaque = |_: &[u8]| false;
    let (written, tar) = write_layer(&changes, &merged, no_opaque, IdShift::default(), Vec::new())?;
    println!(
        "    ({} entries, {:.1} MiB of content, tar {:.1} MiB)",
        changes.len(),
        content as f64 / (1 << 20) as f64,
        written.bytes as f64 / (1 << 20) as f64
    );
    bench.run(
        "tar: write_layer 2,000 files",
        changes.len() as u64,
        Some(written.bytes),
        || {
            write_layer(&changes, &merged, no_opaque, IdShift::default(), io::sink())
                .expect("writing the layer")
                .0
                .bytes
        },
    );
    // Extraction writes to disk: each call extracts into a new directory of
    // a scratch tree, removed at the end.
    let scratch = tempfile::tempdir()?;
    let mut n = 0u64;
    bench.run(
        "tar: extract 2,000 files",
        changes.len() as u64,
        Some(written.bytes),
        || {
            n += 1;
            let dir = scratch.path().join(n.to_string());
            std::fs::create_dir(&dir).expect("a scratch directory");
            let root = BeneathDir::open(&dir).expect("the scratch directory");
            extract(tar.as_slice(), &root, ExtractOptions { privileged: false })
                .expect("extracting")
                .tar_bytes
        },
    );
    Ok(())
}

fn main() {
    // `cargo bench` passes `--bench`; anything else not starting with `-`
    // selects cases by substring.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let bench = Bench { filter };
    println!("{:<40} {:>12}      (fastest .. slowest batch)", "case", "median");
    bench_index(&bench);
    bench_chain(&bench);
    bench_digest(&bench);
    bench_seccomp(&bench);
    if let Err(e) = bench_tar(&bench) {
        eprintln!("tar cases skipped: {e}");
    }
}
