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
