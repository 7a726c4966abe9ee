//! The benchmarks: the union benchmark's Python package (its oracle of the
//! overlay rules and the request counts' arithmetic) under its unit tests,
//! and `strata bench` (src/bench) run for real on its quick fixture, and
//! the FUSE transport prototype (examples/fuse_transport) in both transports.

// The prototype server of benches/fuse-transport.sh: /dev/fuse and io_uring.
mod fuse_transport;

use crate::util::{STRATA, output_within, require, root, text, tools, which};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

#[test]
fn the_union_benchmarks_unit_tests_pass() {
    require!(tools(&["python3"]));
    let benches = concat!(env!("CARGO_MANIFEST_DIR"), "/benches");
    let out = Command::new("python3")
        .args(["-m", "unittest", "union.test_oracle", "union.test_requests"])
        .current_dir(benches)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OK") && err.contains("Ran "), "{err}");
}

/// `strata bench --quick --runs RUNS --work WORK --out OUT ARGS...`.
fn bench_command(runs: u32, work: &Path, out: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(STRATA);
    cmd.args(["bench", "--quick", "--runs", &runs.to_string(), "--work"])
        .arg(work)
        .arg("--out")
        .arg(out)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn bench(work: &Path, out: &Path, args: &[&str]) -> Output {
    let child = bench_command(1, work, out, args).spawn().expect("spawn strata bench");
    output_within(child, Duration::from_secs(120), "strata bench")
}

/// Mount points at or below `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let dir = dir.to_string_lossy().into_owned();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&dir))
        .map(str::to_string)
        .collect()
}

/// The cells of the Markdown table's row for `workload`.
fn table_row(md: &str, workload: &str) -> Vec<String> {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| {workload} | ")))
        .unwrap_or_else(|| panic!("no row for {workload} in:\n{md}"));
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn strata_bench_quick_writes_a_table_a_csv_and_a_chart_with_request_counts() {
    require!(crate::util::fuse());
    let dir = tempfile::tempdir().expect("tempdir");
    let (work, out) = (dir.path().join("work"), dir.path().join("out"));
    let run = bench(&work, &out, &["--workload", "find_warm", "--workload", "untar"]);
    assert!(run.status.success(), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("run 1/1 untar ") && !err.contains('\x1b') && !err.contains('░'),
        "no bar into a pipe: {err}"
    );
    let fo = which("fuse-overlayfs").is_some();
    let labels: &[&str] = if fo {
        &["kernel overlayfs", "stratafs", "fuse-overlayfs"]
    } else {
        &["kernel overlayfs", "stratafs"]
    };

    // The Markdown, printed and written: a row per workload, a number per target.
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(
        String::from_utf8_lossy(&run.stdout).contains(&md),
        "the table is printed too"
    );
    let header = table_row(&md, "workload");
    for label in labels {
        assert!(header.iter().any(|h| h.starts_with(label)), "{label} in {header:?}");
    }
    for w in ["find_warm", "untar"] {
        let row = table_row(&md, w);
        assert_eq!(row.len(), 2 + labels.len(), "{row:?}");
        for cell in &row[2..] {
            let ms: f64 = cell
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{w}: {cell:?}"));
            assert!(ms > 0.0, "{w}: {cell}");
        }
        assert!(
            row[3].contains('×'),
            "stratafs has a ratio to kernel overlayfs: {row:?}"
        );
    }
    assert!(!md.contains("| find_cold |"), "only the workloads asked for: {md}");
    if !fo {
        assert!(md.contains("fuse-overlayfs: not measured: not found on PATH"), "{md}");
    }

    // stratafs's requests, by opcode: extracting 1,000 files is 1,000 CREATEs.
    let requests = std::fs::read_to_string(out.join("requests.csv")).expect("requests.csv");
    assert!(
        requests.lines().any(|l| l == "untar,stratafs,1,CREATE,1000,1000"),
        "{requests}"
    );
    assert!(md.contains("## stratafs: FUSE requests per file"), "{md}");
    let untar_requests = md
        .lines()
        .filter(|l| l.starts_with("| untar | 1000 |"))
        .collect::<Vec<_>>();
    assert!(
        untar_requests.len() == 1 && untar_requests[0].contains("CREATE 1.00"),
        "{md}"
    );

    // The CSV: a row per (workload, target) with its median.
    let csv = std::fs::read_to_string(out.join("bench.csv")).expect("bench.csv");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * labels.len(), "{csv}");
    for row in &rows {
        let ms: f64 = row[5].parse().unwrap_or_else(|_| panic!("median of {row:?}"));
        assert!(ms > 0.0 && row[4] == "1", "{row:?}");
        if row[2] == "stratafs" {
            assert!(
                row[7].parse::<f64>().is_ok_and(|n| n > 0.0),
                "requests per file: {row:?}"
            );
        }
    }

    // The chart: a bar per (workload, target), and it renders.
    let svg = std::fs::read_to_string(out.join("bench.svg")).expect("bench.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
    assert_eq!(svg.matches("<title>").count(), rows.len(), "{svg}");
    let rsvg = which("rsvg-convert");
    assert!(
        rsvg.is_some() || std::env::var_os("CI").is_none(),
        "rsvg-convert (librsvg2-bin) is needed to check that the chart renders"
    );
    if let Some(rsvg) = rsvg {
        let png = dir.path().join("bench.png");
        let r = Command::new(rsvg)
            .arg(out.join("bench.svg"))
            .arg("-o")
            .arg(&png)
            .output()
            .expect("rsvg-convert");
        assert!(
            r.status.success() && png.metadata().is_ok_and(|m| m.len() > 1000),
            "{}",
            text(&r)
        );
    }
    assert_eq!(mounts_under(&work), Vec::<String>::new(), "nothing is left mounted");
}

#[test]
fn strata_bench_refuses_an_unknown_workload_or_peer_before_doing_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (work, out) = (dir.path().join("work"), dir.path().join("out"));
    for (args, wanted) in [
        (
            ["--workload", "find_hot"],
            "unknown workload \"find_hot\": known workloads are find_cold, find_warm",
        ),
        (
            ["--peers", "overlay,btrfs"],
            "unknown peer \"btrfs\": known peers are overlay, fuse-overlayfs",
        ),
    ] {
        let run = bench(&work, &out, &args);
        assert_eq!(run.status.code(), Some(125), "{}", text(&run));
        assert!(String::from_utf8_lossy(&run.stderr).contains(wanted), "{}", text(&run));
        assert!(!work.exists() && !out.exists(), "nothing was made");
    }
}

#[test]
fn an_interrupted_strata_bench_unmounts_and_reports_what_it_measured() {
    require!(crate::util::fuse());
    require!(root());
    let dir = tempfile::tempdir().expect("tempdir");
    let (work, out) = (dir.path().join("work"), dir.path().join("out"));
    let mut child = bench_command(500, &work, &out, &["--workload", "find_warm", "--peers", "overlay"])
        .spawn()
        .expect("spawn strata bench");
    // The first measurement done (its line on stderr), then Ctrl-C.
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("run 1/500 find_warm")) {
        seen.push(
            rx.recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no measurement: {seen:?}")),
        );
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let run = output_within(child, Duration::from_secs(60), "interrupted strata bench");
    assert_eq!(run.status.code(), Some(130), "{}", text(&run));
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(
        md.contains("Interrupted: the table holds what was measured before."),
        "{md}"
    );
    let row = table_row(&md, "find_warm");
    assert!(row[3].ends_with(')') && row[2].ends_with("ms"), "{row:?}");
    assert_eq!(mounts_under(&work), Vec::<String>::new(), "nothing is left mounted");
}

#[test]
fn a_rootless_strata_bench_measures_stratafs_and_says_what_it_could_not() {
    require!(crate::util::fuse_for_users());
    let (uid, gid) = crate::util::test_user();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let (work, out) = (dir.path().join("work"), dir.path().join("out"));
    let mut cmd = bench_command(1, &work, &out, &["--workload", "find_cold", "--workload", "find_warm"]);
    std::os::unix::process::CommandExt::uid(&mut cmd, uid);
    std::os::unix::process::CommandExt::gid(&mut cmd, gid);
    cmd.env("HOME", dir.path());
    let run = output_within(
        cmd.spawn().expect("spawn strata bench"),
        Duration::from_secs(120),
        "strata bench",
    );
    assert!(run.status.success(), "{}", text(&run));
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(md.contains("- kernel overlayfs: not measured: needs root"), "{md}");
    assert!(md.contains("- find_cold: not measured: cold is not available"), "{md}");
    assert!(
        !md.contains("| find_cold |") && !md.contains('×'),
        "no cold row, no ratio: {md}"
    );
    let row = table_row(&md, "find_warm");
    assert!(row[2].ends_with(" ms"), "stratafs measured: {row:?}");
    assert_eq!(mounts_under(&work), Vec::<String>::new(), "nothing is left mounted");
}

#[test]
fn strata_bench_store_lowers_mounts_layers_of_the_store_for_stratafs() {
    require!(crate::util::fuse());
    require!(root());
    let dir = tempfile::tempdir().expect("tempdir");
    let (work, out) = (dir.path().join("work"), dir.path().join("out"));
    let args = ["--store-lowers", "--peers", "overlay", "--workload", "stat_cold"];
    let run = bench(&work, &out, &args);
    assert!(run.status.success(), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("store lowers: "), "the layers were made: {err}");
    for n in 0..4 {
        let layer = work.join(format!("fixture-quick/store-layers/S{n}"));
        assert!(
            layer.join("index").is_file() && layer.join("root").is_dir(),
            "{}",
            layer.display()
        );
    }
    // Its results were checked against the fixture's merged view.
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(!md.contains("Problems"), "{md}");
    assert!(table_row(&md, "stat_cold")[3].contains('×'), "{md}");
    // A second run reuses them, and stratafs (only) mounts them: with one
    // index made unreadable, it alone cannot mount.
    std::fs::write(work.join("fixture-quick/store-layers/S0/index"), b"not an index").unwrap();
    let again = bench(&work, &out, &args);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains("store lowers: "), "{err}");
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(md.contains("stratafs: not measured"), "{md}");
    assert!(!md.contains("kernel overlayfs: not measured"), "{md}");
}
