//! Image tars: hand-made (valid and hostile) with TarBuilder, by GNU tar, and the busybox image.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
