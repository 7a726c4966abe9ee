//! `request_counts=FILE`: stratafs counts the requests it serves by opcode
//! and writes them on SIGUSR1 and at unmount; the counts agree with what
//! the kernel says it sent (its `fuse:fuse_request_send` tracepoint).

use crate::util::{Mount, fuse, require, wait_for};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `OPCODE N` lines as a map.
fn parse_counts(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().expect("a count")))
        .collect()
}

/// The pid of the stratafs serving `mnt` (the one whose command line names
/// the counts file).
fn server_pid(counts: &Path) -> i32 {
    let want = counts.display().to_string();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("stratafs") && cmdline.contains(&want) {
            return pid;
        }
    }
    panic!("no stratafs with {want}");
}

/// Asks the server for its counts (SIGUSR1) and waits for the new report.
pub(super) fn counts_now(counts: &Path) -> BTreeMap<String, u64> {
    let _ = fs::remove_file(counts);
    let pid = rustix::process::Pid::from_raw(server_pid(counts)).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::USR1).unwrap();
    wait_for(|| counts.exists(), "the report after SIGUSR1");
    parse_counts(&fs::read_to_string(counts).unwrap())
}

fn mount_counting(files: usize) -> (Mount, PathBuf) {
    let mut m = Mount::prepare(1);
    for i in 0..files {
        fs::write(m.lowers[0].join(format!("f{i}")), format!("{i}\n")).unwrap();
    }
    let counts = m.dir.path().join("counts");
    m.options = format!("request_counts={}", counts.display());
    m.mount();
    (m, counts)
}

#[test]
fn stratafs_counts_requests_by_opcode_on_sigusr1_and_at_unmount() {
    require!(fuse());
    let (mut m, counts) = mount_counting(20);
    let before = counts_now(&counts);
    for i in 0..20 {
        assert_eq!(fs::read_to_string(m.m(&format!("f{i}"))).unwrap(), format!("{i}\n"));
    }
    for i in 0..5 {
        fs::write(m.m(&format!("new{i}")), "x").unwrap();
    }
    let after = counts_now(&counts);
    let delta = |op: &str| after.get(op).unwrap_or(&0) - before.get(op).unwrap_or(&0);
    assert_eq!(delta("OPEN"), 20, "{after:?}");
    assert_eq!(delta("CREATE"), 5, "{after:?}");
    assert!(delta("READ") >= 20, "{after:?}");
    let total: u64 = after.iter().filter(|(k, _)| *k != "TOTAL").map(|(_, v)| v).sum();
    assert_eq!(after["TOTAL"], total);
    // The unmount writes the final counts: at least what was seen.
    let _ = fs::remove_file(&counts);
    m.unmount();
    wait_for(|| counts.exists(), "the report at unmount");
    let last = parse_counts(&fs::read_to_string(&counts).unwrap());
    assert!(
        last["OPEN"] >= after["OPEN"] && last["TOTAL"] >= after["TOTAL"],
        "{last:?}"
    );
    let leftovers: Vec<_> = fs::read_dir(m.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary reports left: {leftovers:?}");
}

/// A tracefs instance recording one FUSE connection's requests.
struct Trace(PathBuf);

impl Trace {
    fn start(connection: u64) -> Result<Trace, String> {
        let root = Path::new("/sys/kernel/tracing");
        if !root.join("events").exists() {
            let _ = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev"])
                .arg(root)
                .status();
        }
        if !root.join("events/fuse/fuse_request_send").exists() {
            return Err("the kernel has no fuse:fuse_request_send tracepoint (or no tracefs)".into());
        }
        let dir = root.join(format!("instances/strata-test-{}", std::process::id()));
        fs::create_dir(&dir).map_err(|e| format!("making a tracefs instance: {e}"))?;
        let trace = Trace(dir);
        let event = trace.0.join("events/fuse/fuse_request_send");
        fs::write(trace.0.join("buffer_size_kb"), "8192").unwrap();
        fs::write(event.join("filter"), format!("connection == {connection}")).unwrap();
        fs::write(event.join("enable"), "1").unwrap();
        fs::write(trace.0.join("tracing_on"), "1").unwrap();
        Ok(trace)
    }

    /// Stops and counts by opcode name (`FUSE_` dropped).
    fn stop(&self) -> BTreeMap<String, u64> {
        fs::write(self.0.join("tracing_on"), "0").unwrap();
        let text = fs::read_to_string(self.0.join("trace")).unwrap();
        let mut counts = BTreeMap::new();
        for line in text.lines().filter(|l| l.contains("fuse_request_send:")) {
            if let Some(name) = line.split("(FUSE_").nth(1).and_then(|r| r.split(')').next()) {
                *counts.entry(name.to_string()).or_default() += 1;
            }
        }
        counts
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("events/fuse/fuse_request_send/enable"), "0");
        let _ = fs::remove_dir(&self.0);
    }
}

#[test]
fn the_counts_agree_with_the_kernels_tracepoint() {
    require!(fuse());
    let (m, counts) = mount_counting(30);
    let connection = fs::metadata(&m.mnt).unwrap().dev();
    let before = counts_now(&counts);
    let trace = require!(Trace::start(connection));
    for i in 0..30 {
        fs::read(m.m(&format!("f{i}"))).unwrap();
    }
    fs::create_dir(m.m("d")).unwrap();
    fs::write(m.m("d/x"), "x").unwrap();
    fs::rename(m.m("d/x"), m.m("d/y")).unwrap();
    fs::remove_file(m.m("f0")).unwrap();
    let sent = trace.stop();
    drop(trace);
    // FORGET travels on its own queue, without the tracepoint (INIT came
    // before the trace, INTERRUPT is counted as the rest). A request is
    // traced when queued: the server may not have taken the last RELEASE
    // yet, so ask again until the counts agree (or time runs out).
    let served = |after: &BTreeMap<String, u64>, op: &str| after.get(op).unwrap_or(&0) - before.get(op).unwrap_or(&0);
    let mut after = counts_now(&counts);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sent.iter().any(|(op, n)| served(&after, op) != *n) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        after = counts_now(&counts);
    }
    for (op, n) in &sent {
        let got = served(&after, op);
        assert_eq!(
            got, *n,
            "{op}: the kernel sent {n}, stratafs counted {got} ({sent:?} / {after:?})"
        );
    }
    for op in ["OPEN", "MKDIR", "CREATE", "RENAME", "UNLINK"] {
        assert!(sent.contains_key(op), "{op} not traced: {sent:?}");
    }
}

/// The requests `work` made on a fresh counting mount (an empty lower), by
/// opcode: the mount, and the delta of each opcode's count.
pub(super) fn requests_delta(work: impl FnOnce(&Mount)) -> (Mount, impl Fn(&str) -> u64) {
    let (m, counts) = mount_counting(0);
    let before = counts_now(&counts);
    work(&m);
    let after = counts_now(&counts);
    let delta = move |op: &str| after.get(op).unwrap_or(&0) - before.get(op).unwrap_or(&0);
    (m, delta)
}
