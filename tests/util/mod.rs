//! The shared fixture builder: daemons, clients, raw HTTP, tar archives,
//! mounts, registries, and what a test requires of the machine (`require!`).
//!
//! One module per kind of fixture; this one re-exports them all and keeps
//! the small helpers (binaries, processes, raw HTTP, trees).

#![allow(dead_code)]

// A real stratad per test, and the host users the tests play.
mod daemon;
// Mounts: stratafs, loop-mounted filesystems, a small tmpfs.
mod mounts;
// Requirements of a test: root, FUSE, tools, users.
mod require;
// Image tars, valid and hostile.
mod tars;
// Registries: a real one per test (docker-registry) with its token
// issuer, a scripted fake, and the images seeded into them.
mod fake_registry;
mod registry;
mod registry_http;
mod test_image;
mod token_issuer;

pub use daemon::*;
pub use fake_registry::*;
pub use mounts::*;
pub use registry::*;
pub use registry_http::*;
pub use require::*;
pub use tars::*;
pub use test_image::*;
pub use token_issuer::*;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const STRATAD: &str = env!("CARGO_BIN_EXE_stratad");
pub const STRATA: &str = env!("CARGO_BIN_EXE_strata");

pub const STRATAFS: &str = env!("CARGO_BIN_EXE_stratafs");

pub fn strata_at(host: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(STRATA);
    cmd.arg("-H").arg(host).args(args).env_remove("STRATA_HOST");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn strata");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    output_within(child, Duration::from_secs(120), &format!("strata {}", args.join(" ")))
}

/// The output of `child`, which must finish within `limit`: a hung client
/// (a stream that never ends) fails the test instead of hanging the suite.
pub fn output_within(mut child: std::process::Child, limit: Duration, what: &str) -> Output {
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

pub fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

pub fn http_request(socket: &Path, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    http_request_with(socket, method, path, &[], body)
}

/// [`http_request`] with extra request headers.
pub fn http_request_with(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    // The daemon may answer and close early; a failed body write is fine.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, dechunk(&body))
}

/// Undoes chunked transfer encoding if the body looks chunked.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, tail)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 {
            return out;
        }
        if tail.len() < n {
            return body.to_string();
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
}

pub fn tree_snapshot(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).expect("lstat");
            use std::os::unix::fs::MetadataExt;
            let rel = p.strip_prefix(base).expect("under base").display().to_string();
            let size = if md.is_dir() { 0 } else { md.len() };
            out.push(format!("{rel} {:o} {size}", md.mode()));
            if md.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    walk(root, root, &mut out);
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes a tree occupies on disk (allocated blocks, as `du` counts).
pub fn disk_usage(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = std::fs::symlink_metadata(&p).expect("lstat");
        total += md.blocks() * 512;
        if md.is_dir() {
            stack.extend(
                std::fs::read_dir(&p)
                    .expect("read_dir")
                    .map(|e| e.expect("entry").path()),
            );
        }
    }
    total
}

/// A command's status and both streams, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
