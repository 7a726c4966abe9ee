//! `cp`: files and directories into and out of running and stopped
//! containers through `/containers/{id}/archive`, with the docker CLI and
//! `strata`; paths resolved inside the root; hostile archives refused.

use super::ok;
use crate::util::{Daemon, require, text};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn docker_daemon() -> Result<Daemon, String> {
    Daemon::with_docker_and_busybox()
}

/// `docker ARGS` with `input` on its stdin.
fn docker_stdin(d: &Daemon, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new("docker")
        .arg("-H")
        .arg(d.host())
        .args(args)
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A host tree to copy in: `src/hello` (0755), `src/dir/inner/file`.
fn host_tree(base: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let src = base.join("src");
    std::fs::create_dir_all(src.join("dir/inner")).unwrap();
    std::fs::write(src.join("hello"), "hello\n").unwrap();
    std::fs::set_permissions(src.join("hello"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(src.join("dir/inner/file"), "inner\n").unwrap();
    src
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Both directions with the docker CLI, a file and a directory, into a
/// running and a stopped container; `diff` shows what came in.
#[test]
fn docker_cp_copies_both_ways_running_and_stopped() {
    let d = require!(docker_daemon());
    let src = host_tree(d.dir.path());
    let s = |p: &str| format!("{}/{p}", src.display());
    d.docker_ok(&["run", "-d", "--name", "r", "busybox", "sleep", "1000"]);
    d.docker_ok(&["create", "--name", "s", "busybox", "true"]);
    for c in ["r", "s"] {
        d.docker_ok(&["cp", &s("hello"), &format!("{c}:/hello")]);
        d.docker_ok(&["cp", &s("dir"), &format!("{c}:/tmp/")]);
        let diff = ok(&d, &["diff", c]);
        assert!(
            diff.contains("A /hello\n") && diff.contains("A /tmp/dir/inner/file\n"),
            "{c}: {diff}"
        );
        let out = d.dir.path().join(format!("out-{c}"));
        std::fs::create_dir_all(&out).unwrap();
        let o = |p: &str| format!("{}/{p}", out.display());
        d.docker_ok(&["cp", &format!("{c}:/hello"), &o("hello")]);
        d.docker_ok(&["cp", &format!("{c}:/tmp/dir"), &o("")]);
        d.docker_ok(&["cp", &format!("{c}:/etc/passwd"), &o("passwd")]);
        assert_eq!(read(&out.join("hello")), "hello\n");
        assert_eq!(read(&out.join("dir/inner/file")), "inner\n");
        assert!(read(&out.join("passwd")).starts_with("root:"), "a file of the image");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("hello")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "the mode is kept both ways");
    }
    assert_eq!(
        d.docker_ok(&["exec", "r", "cat", "/hello", "/tmp/dir/inner/file"]),
        "hello\ninner\n"
    );
    // A tar both ways through `-`.
    let tar = docker_stdin(&d, &["cp", "r:/tmp/dir", "-"], b"");
    assert!(tar.status.success(), "{}", text(&tar));
    let mut names: Vec<String> = tar::Archive::new(tar.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["dir", "dir/inner", "dir/inner/file"]);
    let up = docker_stdin(&d, &["cp", "-", "s:/root"], &tar.stdout);
    assert!(up.status.success(), "{}", text(&up));
    assert!(ok(&d, &["diff", "s"]).contains("A /root/dir/inner/file\n"));
    // Not yet: the files the runtime binds while the container runs.
    let err = d.docker_fails(&["cp", "r:/etc/hosts", &d.dir.path().join("hosts").display().to_string()]);
    assert!(
        err.contains("copying to or from a file the runtime binds is not supported yet"),
        "{err}"
    );
    d.docker_ok(&["rm", "-f", "r"]);
}

/// A symlink in the container that points above its root resolves inside
/// it, reading and writing: the host's directory of that name is never
/// touched.
#[test]
fn a_symlink_escape_stays_inside_the_root() {
    let d = require!(docker_daemon());
    let canary = d.dir.path().join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("file"), "host\n").unwrap();
    let c = canary.display().to_string();
    let script = format!("mkdir -p {c} && echo inside > {c}/file && ln -s /../../../..{c} /link && ln -s /.. /up");
    d.docker_ok(&["run", "--name", "e", "busybox", "sh", "-c", &script]);
    let out = d.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    d.docker_ok(&["cp", "e:/link/file", &format!("{}/read", out.display())]);
    assert_eq!(read(&out.join("read")), "inside\n", "read inside the root");
    d.docker_ok(&["cp", "-L", "e:/link", &format!("{}/followed", out.display())]);
    assert_eq!(
        read(&out.join("followed/file")),
        "inside\n",
        "-L follows the link inside the root"
    );
    let src = host_tree(d.dir.path());
    d.docker_ok(&["cp", &format!("{}/hello", src.display()), "e:/link/"]);
    d.docker_ok(&["cp", &format!("{}/hello", src.display()), "e:/up/up/hello2"]);
    let names: Vec<_> = std::fs::read_dir(&canary)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["file"], "nothing written on the host");
    assert_eq!(read(&canary.join("file")), "host\n");
    let diff = ok(&d, &["diff", "e"]);
    assert!(diff.contains(&format!("A {c}/hello\n")), "{diff}");
    assert!(diff.contains("A /hello2\n"), "{diff}");
}

/// A tar whose entries climb out, are absolute, or write through a
/// symlink or hard-link out is refused by the store's extraction rules.
#[test]
fn a_hostile_tar_is_refused() {
    let d = require!(docker_daemon());
    let canary = d.dir.path().join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    d.docker_ok(&["create", "--name", "h", "busybox", "true"]);
    let c = canary.display().to_string();
    let raw_name = |h: &mut tar::Header, name: &str| {
        let field = &mut h.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
    };
    let file = |name: &str| {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        raw_name(&mut h, name);
        h.set_size(4);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"evil"[..]).unwrap();
        b.into_inner().unwrap()
    };
    let through_link = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_path("esc").unwrap();
        h.set_link_name(&c).unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        let mut f = tar::Header::new_ustar();
        f.set_path("esc/pwned").unwrap();
        f.set_size(4);
        f.set_cksum();
        b.append(&f, &b"evil"[..]).unwrap();
        b.into_inner().unwrap()
    };
    let hard_link = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Link);
        h.set_path("hl").unwrap();
        let target = format!("../../../..{c}/x");
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        b.into_inner().unwrap()
    };
    let cases = [
        ("a `..` entry", file(&format!("../../../..{c}/pwned")), "climbs out"),
        ("an absolute entry", file(&format!("{c}/pwned")), "absolute path"),
        ("a write through a symlink", through_link, "symlink"),
        ("a hard link out", hard_link, "leaves the layer"),
    ];
    for (what, tar, says) in cases {
        let out = docker_stdin(&d, &["cp", "-", "h:/"], &tar);
        assert!(!out.status.success(), "{what} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{what}: {err}");
    }
    assert_eq!(std::fs::read_dir(&canary).unwrap().count(), 0, "nothing on the host");
    let diff = ok(&d, &["diff", "h"]);
    assert!(!diff.contains("pwned"), "{diff}");
}

/// Docker's errors: a missing path, a missing container.
#[test]
fn missing_paths_and_containers_are_docker_s_errors() {
    let d = require!(docker_daemon());
    d.docker_ok(&["create", "--name", "m", "busybox", "true"]);
    let out = d.dir.path().join("o");
    let err = d.docker_fails(&["cp", "m:/nope/x", &out.display().to_string()]);
    assert!(err.contains("Could not find the file /nope/x in container m"), "{err}");
    let err = d.docker_fails(&["cp", "nosuch:/etc/passwd", &out.display().to_string()]);
    assert!(err.contains("No such container: nosuch"), "{err}");
    assert!(!out.exists());
}

/// The uid of the single file in a tar.
fn tar_uid(tar: &[u8]) -> u64 {
    let mut a = tar::Archive::new(tar);
    let e = a.entries().unwrap().next().unwrap().unwrap();
    e.header().uid().unwrap()
}

/// `-L` follows a symlink of the container; `-a` gives what is copied in
/// the container user's ids, and without it the archive's are kept, as
/// Docker does.
#[test]
fn follow_links_and_archive_mode() {
    let d = require!(docker_daemon());
    d.docker_ok(&[
        "run",
        "--name",
        "l",
        "--user",
        "1234:5678",
        "busybox",
        "ln",
        "-s",
        "/etc/passwd",
        "/tmp/lnk",
    ]);
    let out = d.dir.path().join("o");
    std::fs::create_dir_all(&out).unwrap();
    d.docker_ok(&["cp", "l:/tmp/lnk", &format!("{}/plain", out.display())]);
    let plain = std::fs::symlink_metadata(out.join("plain")).unwrap();
    assert!(plain.file_type().is_symlink(), "without -L the link itself");
    d.docker_ok(&["cp", "-L", "l:/tmp/lnk", &format!("{}/followed", out.display())]);
    assert!(read(&out.join("followed")).starts_with("root:"), "with -L its target");

    let src = host_tree(d.dir.path());
    std::os::unix::fs::lchown(src.join("hello"), Some(4321), Some(4321)).unwrap();
    let hello = format!("{}/hello", src.display());
    d.docker_ok(&["cp", &hello, "l:/tmp/kept"]);
    d.docker_ok(&["cp", "-a", &hello, "l:/tmp/mapped"]);
    let tar = |p: &str| docker_stdin(&d, &["cp", &format!("l:{p}"), "-"], b"").stdout;
    assert_eq!(tar_uid(&tar("/tmp/kept")), 4321, "the archive's owner");
    assert_eq!(tar_uid(&tar("/tmp/mapped")), 1234, "the container's user");
}

/// `PUT` into a path that is not a directory is Docker's 400, and a
/// read-only root refuses writes.
#[test]
fn extraction_needs_a_writable_directory() {
    let d = require!(super::daemon());
    require!(crate::util::tools(&["curl"]));
    ok(&d, &["create", "--name", "f", "busybox", "true"]);
    ok(&d, &["create", "--name", "ro", "--read-only", "busybox", "true"]);
    let put = |c: &str, path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/stderr",
                "-w",
                "%{http_code}",
                "-X",
                "PUT",
                "--data-binary",
                "@/dev/null",
            ])
            .arg("--unix-socket")
            .arg(&d.socket)
            .arg(format!("http://localhost/containers/{c}/archive?path={path}"))
            .output()
            .unwrap();
        (stdout_of(&out), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, body) = put("f", "/etc/passwd");
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("extraction point is not a directory"), "{body}");
    let (code, body) = put("f", "/nope");
    assert_eq!(code, "404", "{body}");
    assert!(body.contains("Could not find the file /nope in container f"), "{body}");
    let (code, body) = put("ro", "/tmp");
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("container rootfs is marked read-only"), "{body}");
    assert_eq!(ok(&d, &["diff", "f"]), "");
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `strata cp`: the same forms, both ways, a running and a stopped
/// container, `-` on either side.
#[test]
fn strata_cp_copies_both_ways() {
    let d = require!(super::daemon());
    let src = host_tree(d.dir.path());
    let s = |p: &str| format!("{}/{p}", src.display());
    ok(&d, &["run", "-d", "--name", "r", "busybox", "sleep", "1000"]);
    ok(&d, &["create", "--name", "s", "busybox", "true"]);
    for c in ["r", "s"] {
        ok(&d, &["cp", &s("hello"), &format!("{c}:/hello")]);
        ok(&d, &["cp", &s("dir"), &format!("{c}:/tmp/")]);
        ok(&d, &["cp", &s("dir"), &format!("{c}:/renamed")]);
        let diff = ok(&d, &["diff", c]);
        for p in ["/hello", "/tmp/dir/inner/file", "/renamed/inner/file"] {
            assert!(diff.contains(&format!("A {p}\n")), "{c}: {p} in {diff}");
        }
        let out = d.dir.path().join(format!("strata-out-{c}"));
        std::fs::create_dir_all(&out).unwrap();
        let o = |p: &str| format!("{}/{p}", out.display());
        ok(&d, &["cp", &format!("{c}:/hello"), &o("h2")]);
        ok(&d, &["cp", &format!("{c}:/tmp/dir"), &o("")]);
        ok(&d, &["cp", &format!("{c}:/renamed"), &o("again")]);
        assert_eq!(read(&out.join("h2")), "hello\n");
        assert_eq!(read(&out.join("dir/inner/file")), "inner\n");
        assert_eq!(read(&out.join("again/inner/file")), "inner\n");
    }
    let tar = d.strata(&["cp", "r:/tmp/dir", "-"]);
    assert!(tar.status.success(), "{}", text(&tar));
    let up = d.strata_stdin(&["cp", "-", "s:/root"], &tar.stdout);
    assert!(up.status.success(), "{}", text(&up));
    assert!(ok(&d, &["diff", "s"]).contains("A /root/dir/inner/file\n"));
    let err = d.strata(&["cp", "s:/nope", "/tmp/x"]);
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("Could not find the file /nope in container s"),
        "{}",
        text(&err)
    );
    ok(&d, &["rm", "-f", "r"]);
}

/// Volumes and binds are copied into and out of, at their sources (a
/// symlink in one resolves within it); a read-only one refuses writes, a
/// tmpfs (only inside the running container) is refused with a clear
/// error.
#[test]
fn volumes_and_binds_are_copied_tmpfs_refused() {
    let d = require!(docker_daemon());
    let bind = d.dir.path().join("bind");
    let ro = d.dir.path().join("ro");
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::os::unix::fs::symlink("/", bind.join("up")).unwrap();
    let b = format!("{}:/data", bind.display());
    let r = format!("{}:/ro:ro", ro.display());
    d.docker_ok(&[
        "create", "--name", "v", "-v", &b, "-v", "vol:/vol", "-v", &r, "--tmpfs", "/tm", "busybox", "true",
    ]);
    let src = host_tree(d.dir.path());
    let hello = format!("{}/hello", src.display());
    d.docker_ok(&["cp", &hello, "v:/data/hello"]);
    assert_eq!(read(&bind.join("hello")), "hello\n", "written at the bind's source");
    let name = format!("strata-cp-test-{}", std::process::id());
    d.docker_ok(&["cp", &hello, &format!("v:/data/up/{name}")]);
    assert!(bind.join(&name).is_file(), "the symlink resolved within the bind");
    assert!(!Path::new("/").join(&name).exists(), "not on the host's root");
    d.docker_ok(&["cp", &format!("{}/dir", src.display()), "v:/vol/"]);
    let mountpoint = d.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "vol"]);
    assert_eq!(read(&Path::new(mountpoint.trim()).join("dir/inner/file")), "inner\n");
    assert!(
        !ok(&d, &["diff", "v"]).contains("hello"),
        "not in the container's layer"
    );

    let out = d.dir.path().join("o");
    std::fs::create_dir_all(&out).unwrap();
    d.docker_ok(&["cp", "v:/vol/dir", &out.display().to_string()]);
    assert_eq!(read(&out.join("dir/inner/file")), "inner\n");
    d.docker_ok(&["cp", "v:/data", &out.display().to_string()]);
    assert_eq!(
        read(&out.join("data/hello")),
        "hello\n",
        "a mount's root named after its mount point"
    );

    let err = d.docker_fails(&["cp", &hello, "v:/ro/x"]);
    assert!(err.contains("mounted volume is marked read-only"), "{err}");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    let err = d.docker_fails(&["cp", &hello, "v:/tm/x"]);
    assert!(
        err.contains("copying to or from a tmpfs mount is not supported yet"),
        "{err}"
    );
}

/// A directory with a symlink, a hard link, an executable, a private
/// directory, another owner and a 10 MB file goes in and comes back out
/// the same (modes, owners, contents, links), and inside the container its
/// tar says the same.
#[test]
fn a_round_trip_keeps_modes_owners_links_and_contents() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let d = require!(docker_daemon());
    let src = d.dir.path().join("rt");
    std::fs::create_dir_all(src.join("private")).unwrap();
    std::fs::write(src.join("exe"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(src.join("exe"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::hard_link(src.join("exe"), src.join("hard")).unwrap();
    std::os::unix::fs::symlink("exe", src.join("link")).unwrap();
    let big: Vec<u8> = (0..10_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("private/owned"), "mine\n").unwrap();
    std::os::unix::fs::lchown(src.join("private/owned"), Some(1000), Some(1001)).unwrap();
    std::fs::set_permissions(src.join("private"), std::fs::Permissions::from_mode(0o700)).unwrap();
    d.docker_ok(&["create", "--name", "t", "busybox", "true"]);
    d.docker_ok(&["cp", &src.display().to_string(), "t:/"]);

    let tar = docker_stdin(&d, &["cp", "t:/rt", "-"], b"");
    assert!(tar.status.success(), "{}", text(&tar));
    let mut seen = std::collections::BTreeMap::new();
    for e in tar::Archive::new(tar.stdout.as_slice()).entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let name = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
        seen.insert(
            name,
            (
                h.entry_type().as_byte(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                link,
            ),
        );
    }
    assert_eq!(seen["rt/exe"].1 & 0o7777, 0o755);
    assert_eq!(seen["rt/private"].1 & 0o7777, 0o700);
    assert_eq!(
        (seen["rt/private/owned"].2, seen["rt/private/owned"].3),
        (1000, 1001),
        "owners kept"
    );
    assert_eq!((seen["rt/link"].0, seen["rt/link"].4.as_deref()), (b'2', Some("exe")));
    let hard = [&seen["rt/exe"], &seen["rt/hard"]];
    assert!(
        hard.iter().any(|e| e.0 == b'1'),
        "one of the two names is a hard link to the other: {seen:?}"
    );

    let out = d.dir.path().join("back");
    std::fs::create_dir_all(&out).unwrap();
    d.docker_ok(&["cp", "t:/rt", &out.display().to_string()]);
    let back = out.join("rt");
    assert!(std::fs::read(back.join("big")).unwrap() == big, "the 10 MB file");
    assert_eq!(read(&back.join("exe")), "#!/bin/sh\necho hi\n");
    let meta = |p: &str| std::fs::symlink_metadata(back.join(p)).unwrap();
    assert_eq!(meta("exe").permissions().mode() & 0o7777, 0o755);
    assert_eq!(meta("private").permissions().mode() & 0o7777, 0o700);
    assert_eq!(meta("exe").ino(), meta("hard").ino(), "still one inode");
    assert_eq!(std::fs::read_link(back.join("link")).unwrap(), Path::new("exe"));
}

/// A rootless daemon copies too: files go in through its mount (root
/// inside, its user outside), `diff` shows them, and they come back out
/// owned by root in the tar, as the container sees them.
#[test]
fn a_rootless_daemon_copies_both_ways() {
    let d = require!(crate::util::rootless_daemon());
    let src = d.dir.path().join("rl-src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), "rootless\n").unwrap();
    // The daemon's user reads the source through the client, which runs as root here.
    ok(&d, &["create", "--name", "s", "busybox", "true"]);
    ok(&d, &["run", "-d", "--name", "r", "busybox", "sleep", "1000"]);
    for c in ["s", "r"] {
        ok(&d, &["cp", &src.join("d").display().to_string(), &format!("{c}:/tmp/")]);
        assert!(ok(&d, &["diff", c]).contains("A /tmp/d/f\n"), "{c}");
        let tar = d.strata(&["cp", &format!("{c}:/tmp/d"), "-"]);
        assert!(tar.status.success(), "{}", text(&tar));
        let mut a = tar::Archive::new(tar.stdout.as_slice());
        let mut found = false;
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_string_lossy() == "d/f" {
                use std::io::Read;
                let mut s = String::new();
                e.read_to_string(&mut s).unwrap();
                assert_eq!((s.as_str(), e.header().uid().unwrap()), ("rootless\n", 0), "{c}");
                found = true;
            }
        }
        assert!(found, "{c}: d/f in the tar");
    }
    assert_eq!(ok(&d, &["exec", "r", "cat", "/tmp/d/f"]), "rootless\n");
    ok(&d, &["rm", "-f", "r"]);
}

/// `HEAD …/archive`: the stat in `X-Docker-Container-Path-Stat`, its mode
/// in Go's `os.FileMode` bits and a symlink's target resolved inside the
/// root.
#[test]
fn the_path_stat_header_is_docker_s() {
    use base64::Engine as _;
    let d = require!(super::daemon());
    require!(crate::util::tools(&["curl"]));
    ok(
        &d,
        &[
            "run",
            "--name",
            "st",
            "busybox",
            "sh",
            "-c",
            "ln -s /../../etc /up && chmod 4755 /bin/busybox",
        ],
    );
    let stat = |path: &str| -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sI", "--unix-socket"])
            .arg(&d.socket)
            .arg(format!("http://localhost/containers/st/archive?path={path}"))
            .output()
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        let value = head
            .lines()
            .find_map(|l| l.strip_prefix("x-docker-container-path-stat: "))
            .unwrap_or_else(|| panic!("no stat header in {head}"));
        let json = base64::engine::general_purpose::STANDARD.decode(value.trim()).unwrap();
        serde_json::from_slice(&json).unwrap()
    };
    let etc = stat("/etc");
    assert_eq!(
        (etc["name"].as_str(), etc["mode"].as_u64()),
        (Some("etc"), Some((1 << 31) | 0o755))
    );
    let up = stat("/up");
    assert_eq!(up["mode"].as_u64(), Some((1 << 27) | 0o777));
    assert_eq!(up["linkTarget"], "/etc", "resolved inside the root");
    let bb = stat("/bin/busybox");
    assert_eq!(
        bb["mode"].as_u64(),
        Some((1 << 23) | 0o755),
        "set-uid as Go's ModeSetuid"
    );
    assert!(bb["size"].as_u64().unwrap() > 100_000 && bb["mtime"].as_str().unwrap().ends_with('Z'));
}
