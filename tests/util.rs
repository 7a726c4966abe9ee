//! The shared fixture builder: daemons, clients, raw HTTP, tar archives.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const STRATAD: &str = env!("CARGO_BIN_EXE_stratad");
pub const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// A running `stratad` on a private root and socket, stopped on drop.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub socket: PathBuf,
    child: Option<Child>,
    pub extra_args: Vec<String>,
    /// Run the daemon as this uid and gid (via setpriv), unprivileged.
    pub run_as: Option<u32>,
    /// A command the daemon is run under (it gets stratad and its
    /// arguments after its own), e.g. to change its mount namespace.
    pub wrap: Vec<String>,
}

impl Daemon {
    pub fn start() -> Daemon {
        let mut d = Daemon::prepare();
        d.spawn();
        d
    }

    /// A daemon's directories, not yet started: adjust, then `spawn`.
    pub fn prepare() -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let socket = dir.path().join("stratad.sock");
        Daemon {
            dir,
            root,
            socket,
            child: None,
            extra_args: Vec::new(),
            run_as: None,
            wrap: Vec::new(),
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Starts the daemon process on this root and socket and waits for it.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stratad.log"))
            .expect("log");
        let mut cmd = match self.run_as {
            None if !self.wrap.is_empty() => {
                let mut c = Command::new(&self.wrap[0]);
                c.args(&self.wrap[1..]).arg(STRATAD);
                c
            }
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(STRATAD);
                c
            }
            None => Command::new(STRATAD),
        };
        let child = cmd
            .arg("--root")
            .arg(&self.root)
            .arg("-H")
            .arg(self.host())
            .args(["--shutdown-timeout", "2"])
            .args(&self.extra_args)
            .env("STRATA_LOG", "strata=debug")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn stratad");
        self.child = Some(child);
        wait_for(|| UnixStream::connect(&self.socket).is_ok(), "stratad to listen");
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A line of the daemon's /proc/PID/status (`VmHWM`, `VmRSS`) in KiB.
    pub fn status_kib(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid().expect("running"))).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {status}"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stratad.log")).unwrap_or_default()
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    pub fn strata(&self, args: &[&str]) -> Output {
        strata_at(&self.host(), args, None)
    }

    pub fn strata_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        strata_at(&self.host(), args, Some(stdin))
    }

    /// Runs `strata` and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.strata(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Imports a tar file and returns the image ID.
    pub fn import(&self, tar: &Path, name: &str) -> String {
        self.ok(&["import", tar.to_str().expect("utf-8"), name])
            .trim()
            .to_string()
    }

    /// Builds and imports the default image with scripts/busybox-image.sh,
    /// as the README's main flow does.
    pub fn import_busybox(&self) {
        let out = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/busybox-image.sh"))
            .env("STRATA", STRATA)
            .env("STRATA_HOST", self.host())
            .output()
            .expect("run busybox-image.sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        v[0].clone()
    }

    /// One raw HTTP/1.1 request over the socket; returns status and body.
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        http_request(&self.socket, method, path, body)
    }

    /// The docker CLI pointed at this daemon, if installed.
    pub fn docker(&self, args: &[&str]) -> Option<Output> {
        which("docker")?;
        let config = self.dir.path().join("docker-config");
        let child = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", &config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        Some(output_within(
            child,
            Duration::from_secs(120),
            &format!("docker {}", args.join(" ")),
        ))
    }

    /// A listing of every path under the store with type, size and mode:
    /// what "nothing was written" is checked against.
    pub fn store_snapshot(&self) -> Vec<String> {
        tree_snapshot(&self.root)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

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
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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

/// Builds tar archives entry by entry, including ones no sane tool would
/// write: raw names are put in the header as given.
pub struct TarBuilder {
    buf: Vec<u8>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder { buf: Vec::new() }
    }

    fn header(&mut self, name: &str, kind: tar::EntryType, mode: u32, size: u64, link: Option<&str>) {
        let mut h = tar::Header::new_gnu();
        {
            let raw = h.as_old_mut();
            raw.name = [0; 100];
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                raw.linkname = [0; 100];
                raw.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
    }

    pub fn dir(mut self, name: &str) -> Self {
        self.header(name, tar::EntryType::Directory, 0o755, 0, None);
        self
    }

    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.header(name, tar::EntryType::Regular, 0o644, data.len() as u64, None);
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// A regular file with the given permission bits (set-id bits too).
    pub fn file_mode(mut self, name: &str, data: &[u8], mode: u32) -> Self {
        self.header(name, tar::EntryType::Regular, mode, data.len() as u64, None);
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.header(name, tar::EntryType::Symlink, 0o777, 0, Some(target));
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        self.header(name, tar::EntryType::Link, 0o644, 0, Some(target));
        self
    }

    pub fn char_device(self, name: &str, major: u32, minor: u32) -> Self {
        self.device_node(name, tar::EntryType::Char, major, minor)
    }

    pub fn block_device(self, name: &str, major: u32, minor: u32) -> Self {
        self.device_node(name, tar::EntryType::Block, major, minor)
    }

    fn device_node(mut self, name: &str, kind: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).expect("path");
        h.set_entry_type(kind);
        h.set_mode(0o666);
        h.set_size(0);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        self
    }

    /// Appends bytes as they are (blocks built by hand).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// An entry of any type flag, mode and owner, with `data` (padded).
    pub fn entry(mut self, name: &str, flag: u8, mode: u32, uid: u64, data: &[u8]) -> Self {
        let mut h = raw_header(name.as_bytes(), flag, data.len() as u64);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend(padded(data));
        self
    }

    /// A character (`b'3'`) or block (`b'4'`) device.
    pub fn device(mut self, name: &str, flag: u8, major: u32, minor: u32, mode: u32) -> Self {
        let mut h = raw_header(name.as_bytes(), flag, 0);
        h.set_mode(mode);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        self
    }

    /// A PAX extended header (`x`) holding `records`, for the next entry.
    pub fn pax(self, records: &[(&str, &[u8])]) -> Self {
        let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
        self.extended(b'x', &data)
    }

    /// An extended header of type `flag` (`x`, `g`, GNU `L` or `K`) with `data`.
    pub fn extended(mut self, flag: u8, data: &[u8]) -> Self {
        let mut h = raw_header(b"././@Extended", flag, data.len() as u64);
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend(padded(data));
        self
    }

    /// An old GNU sparse entry (`S`) with any map: four slots in the
    /// header, the rest in extension blocks of 21, then `data`.
    pub fn old_gnu_sparse(mut self, name: &str, real: u64, map: &[(u64, u64)], data: &[u8]) -> Self {
        let mut h = raw_header(name.as_bytes(), b'S', data.len() as u64);
        let b = h.as_mut_bytes();
        b[483..495].copy_from_slice(&gnu_number(real));
        for (i, &(o, l)) in map.iter().take(4).enumerate() {
            b[386 + i * 24..398 + i * 24].copy_from_slice(&gnu_number(o));
            b[398 + i * 24..410 + i * 24].copy_from_slice(&gnu_number(l));
        }
        b[482] = u8::from(map.len() > 4);
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        let rest: Vec<&(u64, u64)> = map.iter().skip(4).collect();
        let chunks: Vec<_> = rest.chunks(21).collect();
        for (n, chunk) in chunks.iter().enumerate() {
            let mut ext = [0u8; 512];
            for (i, &&(o, l)) in chunk.iter().enumerate() {
                ext[i * 24..i * 24 + 12].copy_from_slice(&gnu_number(o));
                ext[i * 24 + 12..i * 24 + 24].copy_from_slice(&gnu_number(l));
            }
            ext[504] = u8::from(n + 1 < chunks.len());
            self.buf.extend_from_slice(&ext);
        }
        self.buf.extend(padded(data));
        self
    }

    /// A PAX sparse entry of GNU version `version` ("0.0", "0.1", "1.0")
    /// with any map, named as GNU tar names them.
    pub fn pax_sparse(self, version: &str, name: &str, real: u64, map: &[(u64, u64)], data: &[u8]) -> Self {
        let (real, count) = (real.to_string(), map.len().to_string());
        let numbers: Vec<String> = map.iter().flat_map(|(o, l)| [o.to_string(), l.to_string()]).collect();
        let mut records: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut body = data.to_vec();
        let mut header_name = format!("GNUSparseFile.1/{name}");
        match version {
            "0.0" => {
                header_name = name.to_string();
                records.push(("GNU.sparse.size", real.into_bytes()));
                records.push(("GNU.sparse.numblocks", count.into_bytes()));
                for pair in numbers.chunks(2) {
                    records.push(("GNU.sparse.offset", pair[0].clone().into_bytes()));
                    records.push(("GNU.sparse.numbytes", pair[1].clone().into_bytes()));
                }
            }
            "0.1" => {
                records.push(("GNU.sparse.size", real.into_bytes()));
                records.push(("GNU.sparse.numblocks", count.into_bytes()));
                records.push(("GNU.sparse.name", name.as_bytes().to_vec()));
                records.push(("GNU.sparse.map", numbers.join(",").into_bytes()));
            }
            _ => {
                records.push(("GNU.sparse.major", b"1".to_vec()));
                records.push(("GNU.sparse.minor", b"0".to_vec()));
                records.push(("GNU.sparse.name", name.as_bytes().to_vec()));
                records.push(("GNU.sparse.realsize", real.into_bytes()));
                let text: String = std::iter::once(count).chain(numbers).map(|n| n + "\n").collect();
                body = padded(text.as_bytes());
                body.extend_from_slice(data);
            }
        }
        let borrowed: Vec<(&str, &[u8])> = records.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        self.pax(&borrowed).entry(&header_name, b'0', 0o644, 0, &body)
    }

    /// Finishes with the two zero blocks that end an archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend(std::iter::repeat_n(0u8, 1024));
        self.buf
    }

    /// The archive without its end-of-archive blocks.
    pub fn unterminated(self) -> Vec<u8> {
        self.buf
    }
}

/// A GNU header with a raw name (no checks), type flag and size; the
/// caller sets the checksum.
fn raw_header(name: &[u8], flag: u8, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name = [0; 100];
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkflag = [flag];
    h.set_mode(0o644);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

/// A 12-byte GNU number: octal where it fits, base-256 beyond.
fn gnu_number(v: u64) -> [u8; 12] {
    let mut f = [0u8; 12];
    if v < 8u64.pow(11) {
        f.copy_from_slice(format!("{v:011o}\0").as_bytes());
    } else {
        f[0] = 0x80;
        f[4..].copy_from_slice(&v.to_be_bytes());
    }
    f
}

/// One PAX record, `<len> <key>=<value>\n`, its length counting itself.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let tail = key.len() + value.len() + 3;
    let mut n = tail + 1;
    while n.to_string().len() + tail != n {
        n += 1;
    }
    let mut r = format!("{n} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// A gzip-compressed tar whose first member is an extended header of type
/// `flag` (PAX `x` or `g`, GNU `L` or `K`) of `size` bytes, all of which
/// follow (one PAX record, or a name), then a small file and the end: what
/// an attacker sends to make a reader buffer `size` bytes. Made of gzip
/// members that each hold 1 MiB (the daemon reads multi-member gzip), so
/// neither building nor holding it costs more than about size/1000 bytes.
pub fn extended_header_bomb_gz(flag: u8, size: u64) -> Vec<u8> {
    let member = |bytes: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).expect("gzip");
        gz.finish().expect("gzip")
    };
    let mut h = raw_header(b"././@Bomb", flag, size);
    h.set_cksum();
    let mut head = h.as_bytes().to_vec();
    let prefix = format!("{size} comment=");
    if matches!(flag, b'x' | b'g') {
        head.extend_from_slice(prefix.as_bytes());
    }
    let filler = size - (head.len() as u64 - 512) - 1;
    let mut out = member(&head);
    const MIB: u64 = 1 << 20;
    let chunk = member(&vec![b'a'; MIB as usize]);
    for _ in 0..filler / MIB {
        out.extend_from_slice(&chunk);
    }
    let mut tail = vec![b'a'; (filler % MIB) as usize];
    tail.push(if matches!(flag, b'x' | b'g') { b'\n' } else { 0 });
    tail.resize(tail.len() + padded_len(size) as usize - size as usize, 0);
    tail.extend(TarBuilder::new().file("after", b"x").finish());
    out.extend(member(&tail));
    out
}

fn padded_len(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Writes (under `dir`, returning its path) a tar of one sparse file `f`
/// of `size` bytes with one byte of data at each offset of `data_at`, made
/// by GNU tar in `format`: `gnu` (old GNU sparse headers) or a PAX sparse
/// version (`0.0`, `0.1`, `1.0`). `None` when GNU tar cannot make it.
pub fn gnu_tar_sparse(dir: &Path, format: &str, size: u64, data_at: &[u64]) -> Option<PathBuf> {
    use std::os::unix::fs::FileExt;
    let src = dir.join(format!("sparse-src-{format}"));
    std::fs::create_dir_all(&src).ok()?;
    let f = std::fs::File::create(src.join("f")).ok()?;
    f.set_len(size).ok()?;
    for &at in data_at {
        f.write_all_at(b"x", at).ok()?;
    }
    drop(f);
    let out = dir.join(format!("sparse-{format}.tar"));
    let mut cmd = Command::new("tar");
    cmd.arg("--sparse").arg("-C").arg(&src).arg("-cf").arg(&out);
    if format == "gnu" {
        cmd.arg("--format=gnu");
    } else {
        cmd.arg("--format=posix").arg(format!("--sparse-version={format}"));
    }
    let ok = cmd.arg("f").stderr(Stdio::null()).status().ok()?.success();
    let _ = std::fs::remove_dir_all(&src);
    ok.then_some(out)
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

/// A small, ordinary root filesystem tar made with the `tar` crate's builder.
pub fn sample_rootfs_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let add_dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, path, std::io::empty()).expect("dir");
    };
    add_dir(&mut b, "./", 0o755);
    add_dir(&mut b, "etc/", 0o755);
    add_dir(&mut b, "bin/", 0o755);
    add_dir(&mut b, "tmp/", 0o1777);
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32, uid: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(1_600_000_001);
        b.append_data(&mut h, path, data).expect("file");
    };
    file(&mut b, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644, 0);
    file(&mut b, "etc/owned-by-1000", b"mine\n", 0o600, 1000);
    file(&mut b, "bin/tool", &vec![7u8; 100_000], 0o4755, 0);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "bin/sh", "/bin/tool").expect("symlink");
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    h.set_mode(0o4755);
    b.append_link(&mut h, "bin/tool-again", "bin/tool").expect("hardlink");
    b.into_inner().expect("finish")
}

/// The busybox image tar from scripts/busybox-image.sh, if busybox-static
/// is installed (CI installs it).
pub fn busybox_tar(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("busybox.tar");
    let status = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/busybox-image.sh"))
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(out)
}

pub const STRATAFS: &str = env!("CARGO_BIN_EXE_stratafs");

/// A test that cannot run here says why and returns; with `CI` set (CI
/// installs everything and runs as root) a missing requirement is a
/// failure, never a silent pass.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set, so this test must run, but: {why}");
    }
    eprintln!("SKIP: {why}");
}

/// The uid and gid of `strata-other`, an unprivileged local user made for
/// the tests that play a host user other than the daemon's (made with
/// `useradd` on first use), or None (with the reason) where it cannot be.
pub fn other_user() -> Result<(u32, u32), String> {
    const NAME: &str = "strata-other";
    let ids = || -> Option<(u32, u32)> {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).arg(NAME).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        Some((id("-u")?, id("-g")?))
    };
    if let Some(ids) = ids() {
        return Ok(ids);
    }
    if !rustix::process::geteuid().is_root() {
        return Err(format!("making the user {NAME} needs root"));
    }
    // Tests run in parallel: another may make it first.
    let _ = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NAME])
        .status();
    ids().ok_or_else(|| format!("useradd {NAME} failed (is useradd installed?)"))
}

/// Runs `args` as `uid:gid` with no supplementary groups and no
/// capabilities. setpriv keeps root's capabilities until its own exec, so
/// it execs a shell first, which then execs `args` as the plain user would.
pub fn run_as(uid: u32, gid: u32, args: &[&str]) -> Output {
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .args(["--", "/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv")
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

/// A small tmpfs mounted at a daemon's (not yet made) root, lazily
/// unmounted on drop: a store whose disk fills up.
pub struct SmallDisk(PathBuf);

impl SmallDisk {
    pub fn mount(d: &Daemon, size: &str) -> SmallDisk {
        std::fs::create_dir(&d.root).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&d.root)
            .status()
            .unwrap();
        assert!(mounted.success(), "mount tmpfs");
        SmallDisk(d.root.clone())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A rootless daemon: run as the tests' unprivileged user, its root and
/// socket directory that user's, `/dev/fuse` opened up as distributions
/// ship it, with the busybox image imported; None (with the reason) where
/// it cannot run.
pub fn rootless_daemon() -> Option<Daemon> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(why) = fuse_unavailable() {
        skip(why);
        return None;
    }
    if which("setpriv").is_none() || which("fusermount3").is_none() {
        skip("needs setpriv and fusermount3");
        return None;
    }
    std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(0o666)).unwrap();
    let (uid, gid) = crate::fs::test_user();
    let mut d = Daemon::prepare();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = d.dir.path().join("run");
    for dir in [&d.root, &run] {
        std::fs::create_dir(dir).unwrap();
        rustix::fs::chown(
            dir,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .unwrap();
    }
    d.socket = run.join("s.sock");
    d.run_as = Some(uid);
    d.spawn();
    d.import_busybox();
    Some(d)
}

/// Why FUSE tests cannot run here, if they cannot.
pub fn fuse_unavailable() -> Option<&'static str> {
    if !rustix::process::geteuid().is_root() {
        return Some("FUSE mount tests need root");
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing");
    }
    None
}

/// A `stratafs` mount over fresh directories, unmounted on drop.
pub struct Mount {
    pub dir: tempfile::TempDir,
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub mnt: PathBuf,
    pub options: String,
    mounted: bool,
}

impl Mount {
    /// Directories for `n` lower layers (l0 is the topmost), an upper, a
    /// work directory and a mountpoint; nothing mounted yet.
    pub fn prepare(n: usize) -> Mount {
        let dir = tempfile::tempdir().expect("tempdir");
        let lowers: Vec<PathBuf> = (0..n).map(|i| dir.path().join(format!("l{i}"))).collect();
        for l in &lowers {
            std::fs::create_dir(l).expect("lower");
        }
        let (upper, work, mnt) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("mnt"),
        );
        for d in [&upper, &work, &mnt] {
            std::fs::create_dir(d).expect("dir");
        }
        Mount {
            dir,
            lowers,
            upper,
            work,
            mnt,
            options: String::new(),
            mounted: false,
        }
    }

    pub fn lowerdir(&self) -> String {
        self.lowers
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Mounts with an upper layer (the usual case); panics on failure.
    pub fn mount(&mut self) {
        let out = self.try_mount(true);
        assert!(
            out.status.success(),
            "stratafs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.mounted = true;
    }

    pub fn mount_read_only(&mut self) {
        let out = self.try_mount(false);
        assert!(
            out.status.success(),
            "stratafs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.mounted = true;
    }

    pub fn try_mount(&self, with_upper: bool) -> Output {
        let mut opts = format!("lowerdir={}", self.lowerdir());
        if with_upper {
            opts += &format!(",upperdir={},workdir={}", self.upper.display(), self.work.display());
        }
        if !self.options.is_empty() {
            opts += ",";
            opts += &self.options;
        }
        Command::new(STRATAFS)
            .arg("-o")
            .arg(opts)
            .arg(&self.mnt)
            .stdin(Stdio::null())
            .output()
            .expect("run stratafs")
    }

    pub fn unmount(&mut self) {
        if self.mounted {
            let ok = Command::new("umount")
                .arg(&self.mnt)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
            }
            self.mounted = false;
        }
    }

    pub fn m(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// A filesystem image of its own, loop-mounted for a test and unmounted
/// (and its image removed) on drop, also when the test panics.
pub struct LoopFs {
    dir: tempfile::TempDir,
    pub mnt: PathBuf,
    mounted: bool,
}

impl LoopFs {
    /// A fresh XFS of `size` bytes (a sparse image; mkfs.xfs wants at least
    /// 300 MiB), with or without reflink, mounted with `options` besides
    /// `loop`. `Err` says why it cannot be made here (no mkfs.xfs, no loop
    /// devices, not root): the caller skips.
    pub fn xfs(size: u64, reflink: bool, options: &str) -> Result<LoopFs, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("loop mounts need root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let img = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).map_err(|e| format!("mkdir: {e}"))?;
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(size))
            .map_err(|e| format!("image: {e}"))?;
        let reflink = format!("reflink={}", u8::from(reflink));
        let mkfs = Command::new("mkfs.xfs")
            .args(["-q", "-f", "-m", &reflink])
            .arg(&img)
            .output();
        match mkfs {
            Err(e) => return Err(format!("mkfs.xfs not runnable ({e}; apt-get install xfsprogs)")),
            Ok(o) if !o.status.success() => {
                return Err(format!(
                    "mkfs.xfs -m {reflink} failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Ok(_) => {}
        }
        let options = if options.is_empty() {
            "loop".to_string()
        } else {
            format!("loop,{options}")
        };
        let out = Command::new("mount")
            .args(["-t", "xfs", "-o", &options])
            .arg(&img)
            .arg(&mnt)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot loop-mount an XFS image: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(LoopFs {
            dir,
            mnt,
            mounted: true,
        })
    }

    /// Bytes in use on the filesystem (after flushing it): blocks - free.
    pub fn used_bytes(&self) -> u64 {
        let f = std::fs::File::open(&self.mnt).expect("open loop mount");
        rustix::fs::syncfs(&f).expect("syncfs");
        let st = rustix::fs::fstatvfs(&f).expect("statvfs");
        (st.f_blocks - st.f_bfree) * st.f_frsize
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        // A FUSE server that was using the filesystem may take a moment to
        // exit after its own unmount; then detach lazily as a last resort
        // (the loop device goes once the last user does).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if Command::new("umount")
                .arg(&self.mnt)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.mounted = false;
    }
}
