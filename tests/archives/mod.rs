//! Archives in and out: `save` (read by skopeo, umoci, podman and the
//! docker CLI), `load` (of what those write, and of hostile archives), and
//! `export` of a container's root. Bodies are binary, so requests go
//! through curl.

mod export;
mod load;
mod save;

use crate::util::{Daemon, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `GET path` into `out`; the HTTP status.
fn get_to_file(d: &Daemon, path: &str, out: &Path) -> u16 {
    let run = Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(&d.socket)
        .arg("-o")
        .arg(out)
        .args(["-w", "%{http_code}"])
        .arg(format!("http://localhost{path}"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&run.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl: {}", text(&run)))
}

/// `POST /images/load?quiet=1` of `file`; the HTTP status and the reply.
fn load_file(d: &Daemon, file: &Path) -> (u16, String) {
    load_file_query(d, file, "quiet=1")
}

fn load_file_query(d: &Daemon, file: &Path, query: &str) -> (u16, String) {
    let run = Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(&d.socket)
        .args(["-X", "POST", "-H", "Content-Type: application/x-tar", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .args(["-w", "\n%{http_code}"])
        .arg(format!("http://localhost/images/load?{query}"))
        .output()
        .expect("run curl");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let (body, status) = out.rsplit_once('\n').unwrap_or_else(|| panic!("curl: {}", text(&run)));
    (
        status.trim().parse().unwrap_or_else(|_| panic!("curl: {}", text(&run))),
        body.to_string(),
    )
}

/// Saves `names` through the API into a file of the daemon's directory.
fn save_to_file(d: &Daemon, names: &[&str], file: &str) -> PathBuf {
    let out = d.dir.path().join(file);
    let query: Vec<String> = names.iter().map(|n| format!("names={n}")).collect();
    let status = get_to_file(d, &format!("/images/get?{}", query.join("&")), &out);
    assert_eq!(
        status,
        200,
        "{}",
        String::from_utf8_lossy(&std::fs::read(&out).unwrap_or_default())
    );
    out
}

/// `podman ARGS` on a private store (vfs: no mounts needed) under `dir`.
fn podman(dir: &Path, args: &[&str]) -> Output {
    Command::new("podman")
        .arg("--root")
        .arg(dir.join("podman-root"))
        .arg("--runroot")
        .arg(dir.join("podman-run"))
        .args(["--storage-driver", "vfs", "--events-backend", "file"])
        .args(args)
        .env("TMPDIR", dir)
        .output()
        .expect("run podman")
}

#[track_caller]
fn success(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files of a tar archive: name → content.
fn archive_files(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(f);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}
