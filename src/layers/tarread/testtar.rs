//! Hand-built tar archives for tests, including ones no tool would write.

/// A header block with a raw name (no checks), GNU or ustar.
pub fn block(name: &[u8], flag: u8, size: u64, gnu: bool) -> Vec<u8> {
    let mut h = if gnu {
        tar::Header::new_gnu()
    } else {
        tar::Header::new_ustar()
    };
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkflag = [flag];
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h.as_bytes().to_vec()
}

pub fn fix_checksum(b: &mut [u8]) {
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b[..512].iter().map(|&c| u32::from(c)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

pub fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

pub fn record(k: &str, v: &[u8]) -> Vec<u8> {
    let tail = k.len() + v.len() + 3;
    let mut n = tail + 1;
    while n.to_string().len() + tail != n {
        n += 1;
    }
    let mut r = format!("{n} {k}=").into_bytes();
    r.extend_from_slice(v);
    r.push(b'\n');
    r
}

pub fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let data: Vec<u8> = records.iter().flat_map(|(k, v)| record(k, v)).collect();
    let mut out = block(b"PaxHeaders/x", b'x', data.len() as u64, false);
    out.extend(padded(&data));
    out
}

pub fn file(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = block(name, b'0', data.len() as u64, false);
    out.extend(padded(data));
    out
}

pub fn end() -> Vec<u8> {
    vec![0; 1024]
}

/// An old GNU sparse header: `slots` in the header, `more` in extension
/// blocks of 21.
pub fn old_gnu(name: &[u8], real: u64, map: &[(u64, u64)], data: &[u8]) -> Vec<u8> {
    let mut out = block(name, b'S', data.len() as u64, true);
    // Octal where it fits, else base-256, as GNU tar writes numbers.
    let num = |v: u64| -> [u8; 12] {
        let mut f = [0u8; 12];
        if v < 8u64.pow(11) {
            f.copy_from_slice(format!("{v:011o}\0").as_bytes());
        } else {
            f[0] = 0x80;
            f[4..].copy_from_slice(&v.to_be_bytes());
        }
        f
    };
    let put = |b: &mut [u8], at: usize, (o, l): (u64, u64)| {
        b[at..at + 12].copy_from_slice(&num(o));
        b[at + 12..at + 24].copy_from_slice(&num(l));
    };
    out[483..495].copy_from_slice(&num(real));
    for (i, &e) in map.iter().take(4).enumerate() {
        put(&mut out, 386 + i * 24, e);
    }
    let rest: Vec<_> = map.iter().skip(4).collect();
    out[482] = u8::from(!rest.is_empty());
    fix_checksum(&mut out);
    let chunks: Vec<_> = rest.chunks(21).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let mut ext = [0u8; 512];
        for (i, &&e) in chunk.iter().enumerate() {
            put(&mut ext, i * 24, e);
        }
        ext[504] = u8::from(n + 1 < chunks.len());
        out.extend(ext);
    }
    out.extend(padded(data));
    out
}

/// A PAX sparse entry of GNU version `version` (0.0, 0.1 or 1.0).
pub fn pax_sparse(version: &str, name: &[u8], real: u64, map: &[(u64, u64)], data: &[u8]) -> Vec<u8> {
    let real = real.to_string();
    let joined: Vec<String> = map.iter().flat_map(|(o, l)| [o.to_string(), l.to_string()]).collect();
    let count = map.len().to_string();
    let mut records: Vec<(&str, Vec<u8>)> = vec![("GNU.sparse.size", real.clone().into_bytes())];
    let mut body = data.to_vec();
    match version {
        "0.0" => {
            records.push(("GNU.sparse.numblocks", count.clone().into_bytes()));
            for (o, l) in map {
                records.push(("GNU.sparse.offset", o.to_string().into_bytes()));
                records.push(("GNU.sparse.numbytes", l.to_string().into_bytes()));
            }
        }
        "0.1" => {
            records.push(("GNU.sparse.name", name.to_vec()));
            records.push(("GNU.sparse.numblocks", count.clone().into_bytes()));
            records.push(("GNU.sparse.map", joined.join(",").into_bytes()));
        }
        _ => {
            records = vec![
                ("GNU.sparse.major", b"1".to_vec()),
                ("GNU.sparse.minor", b"0".to_vec()),
                ("GNU.sparse.name", name.to_vec()),
                ("GNU.sparse.realsize", real.into_bytes()),
            ];
            let mut text = format!("{count}\n");
            for n in &joined {
                text += &format!("{n}\n");
            }
            body = padded(text.as_bytes());
            body.extend_from_slice(data);
        }
    }
    let borrowed: Vec<(&str, &[u8])> = records.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let mut out = pax(&borrowed);
    // As GNU tar names them: 0.0 under the real name, later versions under
    // a name that only their sparse records map back.
    let mut header_name = name.to_vec();
    if version != "0.0" {
        header_name = [&b"GNUSparseFile.1/"[..], name].concat();
    }
    out.extend(block(&header_name, b'0', body.len() as u64, false));
    out.extend(padded(&body));
    out
}
