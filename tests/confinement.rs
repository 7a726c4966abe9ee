//! Containers confined through stratad (issue 13): Docker's seccomp
//! filter on every process of a container (and `seccomp=unconfined` or a
//! profile of one's own instead), and Docker's device rules through the
//! cgroup v1 devices controller and through a cgroup2 device program, each
//! tested; the containers' cgroups' lifecycle; a root daemon without either
//! mechanism; and a rootless daemon, where the kernel forbids devices.

use crate::util::{
    Daemon, TarBuilder, busybox_tar, fuse, output_within, part, require, rootless_daemon, text, tool, tools,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The two hierarchies that can carry the device rules.
#[derive(Clone, Copy, Debug)]
enum Hierarchy {
    V1Devices,
    V2,
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `strata ARGS`, which must succeed; its stdout.
fn ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.strata(args);
    assert!(out.status.success(), "strata {args:?}: {}\n{}", text(&out), d.log());
    stdout(&out)
}

/// A root daemon started with `args`, with the busybox image; or what it
/// lacks to run containers here.
fn daemon_with(args: &[&str]) -> Result<Daemon, String> {
    fuse()?;
    let mut d = Daemon::prepare();
    d.extra_args = args.iter().map(|a| a.to_string()).collect();
    d.spawn();
    d.import_busybox();
    Ok(d)
}

/// Where this machine mounts the hierarchy (the first such mount in
/// mountinfo: ... MOUNTPOINT ... - FSTYPE SOURCE SUPER-OPTIONS).
fn cgroup_root(h: Hierarchy) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (head, tail) = line.split_once(" - ")?;
        let tail: Vec<&str> = tail.split(' ').collect();
        let found = match h {
            Hierarchy::V1Devices => tail[0] == "cgroup" && tail.get(2)?.split(',').any(|o| o == "devices"),
            Hierarchy::V2 => tail[0] == "cgroup2",
        };
        found.then(|| PathBuf::from(head.split(' ').nth(4).unwrap()))
    })
}

/// The store's parent cgroup's name, as stratad documents it: `strata-`
/// and the first 16 hex digits of the sha256 of the store's canonical path.
fn parent_name(store_root: &Path) -> String {
    let path = std::fs::canonicalize(store_root).unwrap_or_else(|_| store_root.to_path_buf());
    let hex = crate::util::sha256_hex(path.as_os_str().as_encoded_bytes());
    format!("strata-{}", &hex[..16])
}

fn flag(h: Hierarchy) -> &'static str {
    match h {
        Hierarchy::V1Devices => "--device-cgroup=v1",
        Hierarchy::V2 => "--device-cgroup=v2",
    }
}

/// A root daemon enforcing the device rules with `h`, and its store's
/// parent cgroup; or what is missing (`h` not mounted, no FUSE).
fn confined_daemon(h: Hierarchy) -> Result<(Daemon, PathBuf), String> {
    let root = cgroup_root(h).ok_or_else(|| format!("no {h:?} cgroup hierarchy is mounted"))?;
    let d = daemon_with(&[flag(h)])?;
    let parent = root.join(parent_name(&d.root));
    Ok((d, parent))
}

/// Runs `cmd` on a pseudo-terminal (`script`), with stdin held open (and
/// silent) until it ends.
fn on_terminal(cmd: &str) -> Output {
    let mut child = Command::new("script")
        .args(["-qefc", cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let stdin = child.stdin.take();
    let out = output_within(child, Duration::from_secs(60), cmd);
    drop(stdin);
    out
}

/// Creates a container through the API (as the docker CLI does, with
/// `SecurityOpt` as given), runs it attached, removes it.
fn run_with_security_opt(d: &Daemon, opts: &[String], script: &str) -> Output {
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["sh", "-c", script],
        "HostConfig": { "SecurityOpt": opts },
    });
    let (status, reply) = d.http("POST", "/containers/create", body.to_string().as_bytes());
    assert_eq!(status, 201, "{reply}");
    let id = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = d.strata(&["start", "-a", &id]);
    ok(d, &["rm", "-f", &id]);
    out
}

const SECCOMP_CHECK: &str =
    "grep Seccomp: /proc/self/status; unshare -Urm sh -c 'mount -t tmpfs none /tmp && echo mounted'; echo unshare=$?";

#[test]
fn containers_get_dockers_seccomp_filter_unless_unconfined() {
    let d = require!(daemon_with(&[]));
    // PID 1: filtered, and the finding's escape is refused.
    let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", SECCOMP_CHECK]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).starts_with("Seccomp:\t2\n"), "{}", text(&out));
    assert!(
        stdout(&out).contains("unshare=1") && !stdout(&out).contains("mounted"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("unshare(0x10020000): Operation not permitted"),
        "{}",
        text(&out)
    );
    // An exec'd process gets the container's filter too.
    let id = ok(&d, &["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    let status = ok(
        &d,
        &["exec", id, "grep", "Seccomp:", "/proc/1/status", "/proc/self/status"],
    );
    assert_eq!(status, "/proc/1/status:Seccomp:\t2\n/proc/self/status:Seccomp:\t2\n");
    let out = d.strata(&["exec", id, "sh", "-c", SECCOMP_CHECK]);
    assert!(stdout(&out).contains("unshare=1"), "{}", text(&out));
    ok(&d, &["rm", "-f", id]);

    // seccomp=unconfined (and the old `seccomp:` form): no filter.
    for opt in ["seccomp=unconfined", "seccomp:unconfined"] {
        let out = run_with_security_opt(&d, &[opt.to_string()], SECCOMP_CHECK);
        assert!(stdout(&out).starts_with("Seccomp:\t0\n"), "{opt}: {}", text(&out));
        assert!(stdout(&out).contains("mounted\nunshare=0"), "{opt}: {}", text(&out));
    }
    // Nor for its exec'd processes.
    let body = serde_json::json!({
        "Image": "busybox", "Cmd": ["sleep", "100"],
        "HostConfig": { "SecurityOpt": ["seccomp=unconfined"] },
    });
    let (status, reply) = d.http("POST", "/containers/create?name=loose", body.to_string().as_bytes());
    assert_eq!(status, 201, "{reply}");
    ok(&d, &["start", "loose"]);
    assert_eq!(
        ok(&d, &["exec", "loose", "grep", "Seccomp:", "/proc/self/status"]),
        "Seccomp:\t0\n"
    );
    ok(&d, &["rm", "-f", "loose"]);
}

/// Docker's default profile without the rules' mention of `drop`.
fn default_profile_without(drop: &[&str]) -> String {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/run/seccomp/default.json");
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    for rule in p["syscalls"].as_array_mut().unwrap() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| !drop.contains(&n.as_str().unwrap()));
        }
    }
    p.to_string()
}

#[test]
fn a_custom_profile_takes_effect_and_an_invalid_one_is_refused_at_create() {
    let d = require!(daemon_with(&[]));
    let script = "grep Seccomp: /proc/self/status; mkdir /tmp/x && echo made; touch /tmp/f && echo touched; \
                  unshare -Ur true && echo unshared";
    // Docker's default without mkdir and mkdirat: they get the default
    // action (EPERM); the rest of the profile holds.
    let without_mkdir = default_profile_without(&["mkdir", "mkdirat"]);
    let out = run_with_security_opt(&d, &[format!("seccomp={without_mkdir}")], script);
    assert_eq!(stdout(&out), "Seccomp:\t2\ntouched\n", "{}", text(&out));
    assert!(
        stderr(&out).contains("can't create directory '/tmp/x': Operation not permitted"),
        "{}",
        text(&out)
    );
    // Allow by default, deny one call with an errno of its own.
    let one_denied = r#"{"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#;
    let out = run_with_security_opt(&d, &[format!("seccomp={one_denied}")], script);
    assert_eq!(stdout(&out), "Seccomp:\t2\ntouched\nunshared\n", "{}", text(&out));
    assert!(
        stderr(&out).contains("can't create directory '/tmp/x': Permission denied"),
        "{}",
        text(&out)
    );
    // The docker CLI reads the file and sends its content.
    let file = d.dir.path().join("profile.json");
    std::fs::write(&file, &without_mkdir).unwrap();
    let file = file.to_str().unwrap();
    if let Some(out) = d.docker_part(&[
        "run",
        "--rm",
        "--security-opt",
        &format!("seccomp={file}"),
        "busybox",
        "sh",
        "-c",
        script,
    ]) {
        assert_eq!(stdout(&out), "Seccomp:\t2\ntouched\n", "{}", text(&out));
    }

    // Invalid profiles: 400 at create with the reason, and no container.
    for (profile, reason) in [
        ("{not json", "Decoding seccomp profile failed"),
        (
            r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
            "unknown action \\\"SCMP_ACT_NOPE\\\"",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "argument index 7 is out of range",
        ),
    ] {
        let body = serde_json::json!({
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": { "SecurityOpt": [format!("seccomp={profile}")] },
        });
        let (status, reply) = d.http("POST", "/containers/create", body.to_string().as_bytes());
        assert_eq!(status, 400, "{profile}: {reply}");
        assert!(reply.contains(reason), "{profile}: {reply}");
    }
    let bad = d.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap();
    let bad = format!("seccomp={}", bad.display());
    if let Some(out) = d.docker_part(&["create", "--security-opt", &bad, "busybox", "true"]) {
        assert!(!out.status.success(), "{}", text(&out));
        assert!(stderr(&out).contains("unknown action"), "{}", text(&out));
    }
    assert_eq!(ok(&d, &["ps", "-aq"]), "");
}

/// The tar of an image: busybox, and in `/devs` the device nodes the
/// finding opened (kvm, fuse, loop-control, loop0).
fn device_image(dir: &Path) -> Result<PathBuf, String> {
    let busybox = std::fs::read(busybox_tar(dir)?).map_err(|e| format!("reading the busybox tar: {e}"))?;
    let devices = TarBuilder::new()
        .dir("devs/")
        .char_device("devs/kvm", 10, 232)
        .char_device("devs/fuse", 10, 229)
        .char_device("devs/loop-control", 10, 237)
        .block_device("devs/loop0", 7, 0)
        .finish();
    let mut out = tar::Builder::new(Vec::new());
    for bytes in [busybox, devices] {
        let mut archive = tar::Archive::new(&bytes[..]);
        for entry in archive.entries().expect("tar entries") {
            let mut entry = entry.expect("tar entry");
            let header = entry.header().clone();
            out.append(&header, &mut entry).expect("append to the tar");
        }
    }
    let path = dir.join("devices.tar");
    std::fs::write(&path, out.into_inner().expect("finish the tar")).expect("write the tar");
    Ok(path)
}

/// Opens each of the image's device nodes for reading, then writing.
const OPEN_IMAGE_DEVICES: &str = "for d in kvm fuse loop-control loop0; do \
     (exec 3</devs/$d) && echo \"$d opened\"; (exec 3>/devs/$d) && echo \"$d opened\"; done; echo done";
/// Makes a block device for the host's loop0, then reads and opens it
/// for writing (`count=0`: nothing is written even where it opens).
const HOST_LOOP: &str = "mknod /tmp/blk b 7 0 && echo made; head -c 19 /tmp/blk; echo head=$?; \
     dd if=/dev/zero of=/tmp/blk bs=1 count=0; echo dd=$?";
/// Docker's default devices, each used.
const DEFAULT_DEVICES: &str = "head -c 3 /dev/zero | wc -c; echo x > /dev/null && echo null; \
     head -c 5 /dev/urandom | wc -c; head -c 5 /dev/random | wc -c; echo x > /dev/full; \
     (exec 3<>/dev/ptmx) && echo ptmx";

fn assert_host_loop_refused(out: &Output) {
    assert_eq!(stdout(out), "made\nhead=1\ndd=1\n", "{}", text(out));
    assert!(
        stderr(out).contains("head: /tmp/blk: Operation not permitted"),
        "{}",
        text(out)
    );
    assert!(
        stderr(out).contains("dd: can't open '/tmp/blk': Operation not permitted"),
        "{}",
        text(out)
    );
}

fn assert_default_devices_work(out: &Output) {
    assert_eq!(stdout(out), "3\nnull\n5\n5\nptmx\n", "{}", text(out));
    assert!(
        stderr(out).contains("No space left on device"),
        "/dev/full: {}",
        text(out)
    );
}

fn devices_are_confined(h: Hierarchy) {
    let (d, _) = require!(confined_daemon(h));
    let run = |image: &str, script: &str| d.strata(&["run", "--rm", image, "sh", "-c", script]);
    // PID 1: mknod works, opening the host's device does not.
    assert_host_loop_refused(&run("busybox", HOST_LOOP));
    assert_default_devices_work(&run("busybox", DEFAULT_DEVICES));
    // Device nodes shipped in an image cannot be opened.
    let tar = require!(device_image(d.dir.path()));
    d.import(&tar, "devices");
    let out = run("devices", OPEN_IMAGE_DEVICES);
    assert_eq!(stdout(&out), "done\n", "{}", text(&out));
    assert_eq!(
        stderr(&out).matches("Operation not permitted").count(),
        8,
        "{}",
        text(&out)
    );
    // The same from exec'd processes.
    let id = ok(&d, &["run", "-d", "devices", "sleep", "100"]);
    let id = id.trim();
    let exec = |script: &str| d.strata(&["exec", id, "sh", "-c", script]);
    assert_host_loop_refused(&exec(HOST_LOOP));
    assert_default_devices_work(&exec(DEFAULT_DEVICES));
    let out = exec(OPEN_IMAGE_DEVICES);
    assert_eq!(stdout(&out), "done\n", "{}", text(&out));
    // Terminals: /dev/tty and the container's pts, for run -t and exec -t.
    if part(tool("script")).is_some() {
        let tty_check = "echo x > /dev/tty && echo tty-ok; echo x > $(tty) && echo pts-ok; head -c 19 /tmp/blk 2>&1";
        let strata = format!("{} -H {}", crate::util::STRATA, d.host());
        // /tmp/blk: made by HOST_LOOP above.
        for cmd in [
            format!("{strata} exec -t {id} sh -c '{tty_check}'"),
            format!("{strata} run -t --rm devices sh -c 'mknod /tmp/blk b 7 0; {tty_check}'"),
        ] {
            let out = on_terminal(&cmd);
            let s = stdout(&out);
            assert!(s.contains("tty-ok") && s.contains("pts-ok"), "{cmd}: {}", text(&out));
            assert!(s.contains("Operation not permitted"), "{cmd}: {}", text(&out));
        }
    }
    ok(&d, &["rm", "-f", id]);
}

#[test]
fn host_devices_cannot_be_opened_with_cgroup_v1() {
    devices_are_confined(Hierarchy::V1Devices);
}

#[test]
fn host_devices_cannot_be_opened_with_a_cgroup2_program() {
    devices_are_confined(Hierarchy::V2);
}

fn cgroups_follow_containers(h: Hierarchy) {
    let (mut d, parent) = require!(confined_daemon(h));
    let id = ok(&d, &["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim().to_string();
    let dir = parent.join(&id);
    let pid = d.inspect(&id)["State"]["Pid"].as_u64().unwrap().to_string();
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("the container's cgroup");
    assert!(procs.lines().any(|l| l == pid), "{pid} not in {procs}");
    // An exec'd process joins it too.
    let out = ok(&d, &["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.contains(&format!("/{}/{id}\n", parent_name(&d.root))), "{out}");
    // Gone when the process ends; back at the next start; gone with rm.
    ok(&d, &["kill", &id]);
    assert_eq!(ok(&d, &["wait", &id]).trim(), "137");
    crate::util::wait_for(|| !dir.exists(), "the cgroup to go with the container's exit");
    ok(&d, &["start", &id]);
    assert!(dir.join("cgroup.procs").exists());
    ok(&d, &["rm", "-f", &id]);
    crate::util::wait_for(|| !dir.exists(), "the cgroup to go with rm");

    // A restart sweeps this store's stale cgroups, and only this store's.
    d.stop();
    let stale = parent.join("0123456789abcdef");
    std::fs::create_dir_all(&stale).unwrap();
    let other = parent
        .parent()
        .unwrap()
        .join(parent_name(Path::new("/nonexistent/another-store")));
    let theirs = other.join("0123456789abcdef");
    std::fs::create_dir_all(&theirs).unwrap();
    d.spawn();
    // Answered once the daemon has started (the socket listens earlier).
    ok(&d, &["ps", "-aq"]);
    let swept = !stale.exists();
    let kept = theirs.exists();
    let _ = std::fs::remove_dir(&theirs);
    let _ = std::fs::remove_dir(&other);
    let _ = std::fs::remove_dir(&stale);
    assert!(swept, "{} survived a restart", stale.display());
    assert!(kept, "another store's cgroup was removed");
}

#[test]
fn cgroup_v1_directories_follow_containers_and_stale_ones_are_swept() {
    cgroups_follow_containers(Hierarchy::V1Devices);
}

#[test]
fn cgroup2_directories_follow_containers_and_stale_ones_are_swept() {
    cgroups_follow_containers(Hierarchy::V2);
}

/// A shell wrapper that unmounts every cgroup filesystem (in a private
/// mount namespace of its own) and then runs its arguments.
fn without_cgroups() -> Vec<String> {
    let script = "for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET | sort -r); do umount -l \"$m\" || exit 1; done; \
                  exec \"$@\"";
    ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn a_root_daemon_without_device_cgroups_refuses_containers() {
    require!(fuse());
    require!(tools(&["unshare", "findmnt"]));
    let mut d = Daemon::prepare();
    d.wrap = without_cgroups();
    d.spawn();
    d.import_busybox();
    let out = d.strata(&["run", "--rm", "busybox", "true"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("refusing to start containers without device rules"),
        "{}",
        text(&out)
    );
    // Asked for a mechanism it cannot have, the daemon does not start.
    for (flag, reason) in [
        ("--device-cgroup=v1", "the cgroup v1 devices controller is not mounted"),
        ("--device-cgroup=v2", "no cgroup2 filesystem is mounted"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let socket = format!("unix://{}", dir.path().join("s.sock").display());
        let mut cmd = Command::new(&d.wrap[0]);
        cmd.args(&d.wrap[1..])
            .arg(crate::util::STRATAD)
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["-H", &socket, flag])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = output_within(cmd.spawn().unwrap(), Duration::from_secs(30), flag);
        assert!(!out.status.success(), "{flag}: {}", text(&out));
        assert!(stderr(&out).contains(reason), "{flag}: {}", text(&out));
    }
}

#[test]
fn a_rootless_daemon_filters_syscalls_and_the_kernel_forbids_devices() {
    let d = require!(rootless_daemon());
    let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", SECCOMP_CHECK]);
    assert!(stdout(&out).starts_with("Seccomp:\t2\n"), "{}", text(&out));
    assert!(stdout(&out).contains("unshare=1"), "{}", text(&out));
    // No device node can be made in the user namespace…
    let out = d.strata(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mknod /tmp/blk b 7 0; echo mknod=$?",
    ]);
    assert_eq!(stdout(&out), "mknod=1\n", "{}", text(&out));
    assert!(stderr(&out).contains("Operation not permitted"), "{}", text(&out));
    // …nor one shipped in the image opened: the FUSE root is nodev.
    let tar = require!(device_image(d.dir.path()));
    d.import(&tar, "devices");
    let out = d.strata(&[
        "run",
        "--rm",
        "devices",
        "sh",
        "-c",
        &format!("awk '$5 == \"/\"' /proc/self/mountinfo; {OPEN_IMAGE_DEVICES}"),
    ]);
    let s = stdout(&out);
    assert!(s.ends_with("done\n") && !s.contains("opened"), "{}", text(&out));
    assert!(
        s.lines().next().is_some_and(|root| root.contains("nodev")),
        "{}",
        text(&out)
    );
    // The host's own devices, bound in, work.
    let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", DEFAULT_DEVICES]);
    assert_default_devices_work(&out);
    // And no cgroup was made for it anywhere.
    for h in [Hierarchy::V1Devices, Hierarchy::V2] {
        if let Some(root) = cgroup_root(h) {
            let parent = root.join(parent_name(&d.root));
            assert!(!parent.exists(), "{}", parent.display());
        }
    }
}

/// The mount point of the v1 hierarchy with `controller`.
fn v1_root(controller: &str) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (head, tail) = line.split_once(" - ")?;
        let tail: Vec<&str> = tail.split(' ').collect();
        let found = tail[0] == "cgroup" && tail.get(2)?.split(',').any(|o| o == controller);
        found.then(|| PathBuf::from(head.split(' ').nth(4).unwrap()))
    })
}

/// The spare cgroups under `parent`: (name, inode).
fn spares(parent: &Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut out: Vec<(String, u64)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("spare"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().ino(),
            )
        })
        .collect();
    out.sort();
    out
}

fn procs(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    text.lines().map(str::to_string).collect()
}

fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).expect("stat"))
}

/// A spare is kept ready: one spare cgroup holding one process.
fn the_spare(parent: &Path) -> (String, u64) {
    crate::util::wait_for(
        || matches!(&spares(parent)[..], [(name, _)] if procs(&parent.join(name)).len() == 1),
        "a spare shim waiting in its cgroup",
    );
    spares(parent).remove(0)
}

#[test]
fn a_start_takes_the_spare_cgroups_and_its_shim_stays_out_of_them() {
    let (mut d, parent) = require!(confined_daemon(Hierarchy::V1Devices));
    let memory = require!(v1_root("memory").ok_or("no v1 memory hierarchy"));
    let memory_parent = memory.join(parent_name(&d.root));
    let (name, ino) = the_spare(&parent);
    let memory_ino = inode(&memory_parent.join(&name));

    let id = ok(&d, &["run", "-d", "-m", "64m", "busybox", "sleep", "100"]);
    let id = id.trim().to_string();
    let dir = parent.join(&id);
    // The container's cgroups are the spare's, renamed: cgroupfs keeps a
    // directory's inode across a rename, a new directory has a new one.
    assert_eq!(inode(&dir), ino, "the container's devices cgroup is not the spare's");
    assert_eq!(inode(&memory_parent.join(&id)), memory_ino, "nor its memory cgroup");
    // Its limit and Docker's device rules were written on them.
    let limit = std::fs::read_to_string(memory_parent.join(&id).join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    let rules = std::fs::read_to_string(dir.join("devices.list")).unwrap();
    assert!(!rules.lines().any(|l| l.starts_with("a ")), "{rules}");
    // The init was born there and is all there is: the pre-init is gone,
    // and the shim (the init's parent) never joined.
    let pid = d.inspect(&id)["State"]["Pid"].as_u64().unwrap().to_string();
    assert_eq!(procs(&dir), vec![pid.clone()]);
    assert_eq!(procs(&memory_parent.join(&id)), vec![pid.clone()]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let shim = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .to_string();
    let shim_cgroups = std::fs::read_to_string(format!("/proc/{shim}/cgroup")).unwrap();
    assert!(
        !shim_cgroups.contains(&id),
        "the shim {shim} is in the container's cgroups: {shim_cgroups}"
    );
    // An exec'd process joins them as before.
    let out = ok(&d, &["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.contains(&format!("/{}/{id}\n", parent_name(&d.root))), "{out}");

    // The next start gets a new spare.
    let (next, _) = the_spare(&parent);
    assert_ne!(next, name);
    // With --pids-limit 1 the pre-init and the init would be two tasks at
    // once: such a container starts on a new shim, and the spare stays.
    let out = d.strata(&["run", "--rm", "--pids-limit", "1", "busybox", "true"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(the_spare(&parent).0, next);

    ok(&d, &["rm", "-f", &id]);
    // A stopped daemon leaves no spare: no cgroup, no waiting process.
    d.stop();
    assert!(spares(&parent).is_empty(), "{:?}", spares(&parent));
    assert!(spares(&memory_parent).is_empty(), "{:?}", spares(&memory_parent));
}

#[test]
fn without_a_spare_containers_start_on_new_shims() {
    let root = require!(cgroup_root(Hierarchy::V1Devices).ok_or("no v1 devices hierarchy"));
    let d = require!(daemon_with(&["--device-cgroup=v1", "--no-spare"]));
    let parent = root.join(parent_name(&d.root));
    let id = ok(&d, &["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim().to_string();
    let pid = d.inspect(&id)["State"]["Pid"].as_u64().unwrap().to_string();
    assert_eq!(procs(&parent.join(&id)), vec![pid]);
    assert!(spares(&parent).is_empty(), "{:?}", spares(&parent));
    ok(&d, &["rm", "-f", &id]);
}
