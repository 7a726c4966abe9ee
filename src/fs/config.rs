//! `stratafs`'s command line, which is fuse-overlayfs's:
//! `stratafs [-f] [-d] -o lowerdir=A:B[,upperdir=U,workdir=W][,…] MOUNTPOINT`.

use std::path::PathBuf;
use std::time::Duration;

/// A validated mount request.
#[derive(Clone, Debug, PartialEq)]
pub struct MountConfig {
    /// Lower layers, topmost first (the leftmost in `lowerdir=`).
    pub lowers: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    pub mountpoint: PathBuf,
    pub foreground: bool,
    pub debug: bool,
    /// Entry and attribute cache time (`timeout=`, seconds; an hour by default).
    pub timeout: Duration,
    pub read_only: bool,
    /// `noatime`: reads never update access times (the kernel's mount
    /// flag); `relatime`, the kernel's default, is accepted as a no-op.
    pub noatime: bool,
    pub allow_other: bool,
    pub allow_root: bool,
    /// `fsync=0` / `volatile`: fsync is a no-op.
    pub no_fsync: bool,
    pub fsname: Option<String>,
    /// `uidmapping=`/`gidmapping=`: (shown id, id on disk, count) ranges.
    pub uid_map: Vec<(u32, u32, u32)>,
    pub gid_map: Vec<(u32, u32, u32)>,
    /// `squash_to_root`, `squash_to_uid=`, `squash_to_gid=`: every object
    /// shows this owner.
    pub squash_uid: Option<u32>,
    pub squash_gid: Option<u32>,
    /// `static_nlink`: directories report one link (as some filesystems do),
    /// so tools do not rely on the count.
    pub static_nlink: bool,
    /// POSIX ACLs, enforced by the kernel (`noacl` turns them off).
    pub acl: bool,
    /// `permissions=server`: this filesystem checks permissions itself
    /// (see `union::permissions`) instead of the kernel
    /// (`default_permissions`, `permissions=kernel`, the default).
    pub server_permissions: bool,
    /// FUSE passthrough of file data when the kernel allows it
    /// (`passthrough=0` turns it off).
    pub passthrough: bool,
    /// `metacopy=on`: a change of metadata only (chmod, chown, utimes,
    /// xattrs, a link or rename) copies up a lower file without its data,
    /// which stays below until the file is first opened for writing, as
    /// kernel overlayfs's option of that name does. Off by default, as
    /// there: a tool reading the upper directory itself (not through the
    /// mount) would see such a file as a hole of the right size.
    pub metacopy: bool,
    /// `privileges_in_xattrs`: set-uid and set-gid bits, device nodes and
    /// file capabilities are never written to the upper layer's disk, where
    /// anyone reaching it could use them; they are kept in xattrs and shown
    /// through the mount (see `override_stat`). For containers, whose
    /// writable layers sit in a shared store.
    pub privileges_in_xattrs: bool,
    /// `request_counts=FILE`: the requests served, by opcode, written to
    /// FILE at unmount (and by `stratafs` on SIGUSR1); see
    /// `union::requests`. An absolute path outside the mount.
    pub request_counts: Option<PathBuf>,
    /// `transport=auto|classic|uring`: how requests travel (see
    /// `fuse::Transport`); `auto` by default.
    pub transport: crate::fs::fuse::Transport,
    /// Options accepted for compatibility but not acted on (yet), and
    /// unknown ones: both are warned about, as fuse-overlayfs does.
    pub ignored: Vec<String>,
}

impl MountConfig {
    /// A mount of `lowers` (topmost first) under `upper`, with every option
    /// at its default.
    pub fn new(lowers: Vec<PathBuf>, upper: Option<PathBuf>, work: Option<PathBuf>, mountpoint: PathBuf) -> Self {
        MountConfig {
            lowers,
            upper,
            work,
            mountpoint,
            foreground: false,
            debug: false,
            // Every change goes through the mount and lower layers never change,
            // so the kernel may keep entries and attributes long (as it does for
            // kernel overlayfs); `timeout=` shortens it for layers changed out of band.
            timeout: Duration::from_secs(3600),
            read_only: false,
            noatime: false,
            allow_other: false,
            allow_root: false,
            no_fsync: false,
            fsname: None,
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            squash_uid: None,
            squash_gid: None,
            static_nlink: false,
            acl: true,
            server_permissions: false,
            passthrough: true,
            metacopy: false,
            privileges_in_xattrs: false,
            request_counts: None,
            transport: crate::fs::fuse::Transport::Auto,
            ignored: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("no lowerdir= given")]
    NoLower,
    #[error("no mountpoint given")]
    NoMountpoint,
    #[error("upperdir= needs workdir= (and the other way round)")]
    UpperWithoutWork,
    #[error("bad value for {0}")]
    BadValue(String),
    #[error("unexpected argument {0:?}")]
    Unexpected(String),
    #[error("{0}")]
    Help(String),
}

/// Splits `A:B\:C` on unescaped colons.
fn split_layers(v: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ':' => out.push(PathBuf::from(std::mem::take(&mut cur))),
            c => cur.push(c),
        }
    }
    out.push(PathBuf::from(cur));
    out.into_iter().filter(|p| !p.as_os_str().is_empty()).collect()
}

/// Splits an `-o` string on commas not escaped by a backslash.
fn split_options(o: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = o.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// `to:host:len[:to:host:len…]`, as fuse-overlayfs takes it.
fn parse_id_map(v: &str) -> Option<Vec<(u32, u32, u32)>> {
    let nums: Vec<u32> = v.split(':').map(|n| n.parse().ok()).collect::<Option<_>>()?;
    if nums.is_empty() || !nums.len().is_multiple_of(3) {
        return None;
    }
    Some(nums.chunks(3).map(|c| (c[0], c[1], c[2])).collect())
}

pub const USAGE: &str =
    "usage: stratafs [-f] [-d] -o lowerdir=DIR[:DIR…][,upperdir=DIR,workdir=DIR][,OPTION…] MOUNTPOINT";

/// Parses the arguments after the program name.
pub fn parse_mount_args<I: IntoIterator<Item = String>>(args: I) -> Result<MountConfig, OptionsError> {
    let mut options: Vec<String> = Vec::new();
    let mut positional: Vec<String> = Vec::new();
    let mut foreground = false;
    let mut debug = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" => foreground = true,
            "-d" | "--debug" => {
                debug = true;
                foreground = true;
            }
            "-h" | "--help" => return Err(OptionsError::Help(USAGE.to_string())),
            "-o" => options.extend(split_options(&it.next().ok_or(OptionsError::BadValue("-o".into()))?)),
            s if s.starts_with("-o") => options.extend(split_options(&s[2..])),
            s if s.starts_with('-') => return Err(OptionsError::Unexpected(s.to_string())),
            _ => positional.push(a),
        }
    }
    let mut cfg = MountConfig::new(Vec::new(), None, None, PathBuf::new());
    cfg.foreground = foreground;
    cfg.debug = debug;
    for opt in options {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        fn need<'a>(key: &str, v: Option<&'a str>) -> Result<&'a str, OptionsError> {
            v.ok_or_else(|| OptionsError::BadValue(key.to_string()))
        }
        match key {
            "lowerdir" => cfg.lowers.extend(split_layers(need(key, value)?)),
            "upperdir" => cfg.upper = Some(PathBuf::from(need(key, value)?)),
            "workdir" => cfg.work = Some(PathBuf::from(need(key, value)?)),
            "timeout" => {
                let secs: f64 = need(key, value)?
                    .parse()
                    .map_err(|_| OptionsError::BadValue("timeout".into()))?;
                if !(0.0..=86_400.0).contains(&secs) {
                    return Err(OptionsError::BadValue("timeout".into()));
                }
                cfg.timeout = Duration::from_secs_f64(secs);
            }
            "ro" => cfg.read_only = true,
            "rw" => cfg.read_only = false,
            "noatime" => cfg.noatime = true,
            "relatime" => cfg.noatime = false,
            "allow_other" => cfg.allow_other = true,
            "allow_root" => cfg.allow_root = true,
            "fsync" => cfg.no_fsync = need(key, value)? == "0",
            "volatile" => cfg.no_fsync = true,
            "fsname" => cfg.fsname = Some(need(key, value)?.to_string()),
            "noacl" => cfg.acl = false,
            "permissions" => {
                cfg.server_permissions = match need(key, value)? {
                    "server" => true,
                    "kernel" => false,
                    _ => return Err(OptionsError::BadValue(opt.clone())),
                }
            }
            "uidmapping" => cfg.uid_map = parse_id_map(need(key, value)?).ok_or(OptionsError::BadValue(opt.clone()))?,
            "gidmapping" => cfg.gid_map = parse_id_map(need(key, value)?).ok_or(OptionsError::BadValue(opt.clone()))?,
            "squash_to_root" => {
                cfg.squash_uid = Some(0);
                cfg.squash_gid = Some(0);
            }
            "squash_to_uid" => {
                cfg.squash_uid = Some(
                    need(key, value)?
                        .parse()
                        .map_err(|_| OptionsError::BadValue(opt.clone()))?,
                )
            }
            "squash_to_gid" => {
                cfg.squash_gid = Some(
                    need(key, value)?
                        .parse()
                        .map_err(|_| OptionsError::BadValue(opt.clone()))?,
                )
            }
            "static_nlink" => cfg.static_nlink = true,
            "passthrough" => cfg.passthrough = need(key, value)? != "0",
            "metacopy" => {
                cfg.metacopy = match need(key, value)? {
                    "on" => true,
                    "off" => false,
                    _ => return Err(OptionsError::BadValue(opt.clone())),
                }
            }
            "privileges_in_xattrs" => cfg.privileges_in_xattrs = true,
            "transport" => {
                cfg.transport = need(key, value)?
                    .parse()
                    .map_err(|()| OptionsError::BadValue(opt.clone()))?
            }
            "request_counts" => {
                let path = PathBuf::from(need(key, value)?);
                if !path.is_absolute() || path.file_name().is_none() {
                    return Err(OptionsError::BadValue(opt.clone()));
                }
                cfg.request_counts = Some(path);
            }
            _ => cfg.ignored.push(opt.clone()),
        }
    }
    if cfg.lowers.is_empty() {
        return Err(OptionsError::NoLower);
    }
    if cfg.upper.is_some() != cfg.work.is_some() {
        return Err(OptionsError::UpperWithoutWork);
    }
    match positional.as_slice() {
        [mp] => cfg.mountpoint = PathBuf::from(mp),
        [] => return Err(OptionsError::NoMountpoint),
        [_, extra, ..] => return Err(OptionsError::Unexpected(extra.clone())),
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn parses_fuse_overlayfs_command_lines() {
        let c = parse_mount_args(args(
            "-o lowerdir=/a:/b\\:c,upperdir=/u,workdir=/w,timeout=2.5,xyz=1 /mnt",
        ))
        .unwrap();
        assert_eq!(c.lowers, vec![PathBuf::from("/a"), PathBuf::from("/b:c")]);
        assert_eq!(c.upper.as_deref(), Some(std::path::Path::new("/u")));
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(c.ignored, vec!["xyz=1".to_string()]);
        assert_eq!(c.mountpoint, PathBuf::from("/mnt"));
        assert!(!c.foreground);
        let c = parse_mount_args(args(
            "-o lowerdir=/a,uidmapping=0:1000:1:1:100000:65536,squash_to_uid=7 /m",
        ))
        .unwrap();
        assert_eq!(c.uid_map, vec![(0, 1000, 1), (1, 100000, 65536)]);
        assert_eq!(c.squash_uid, Some(7));
        assert!(parse_mount_args(args("-o lowerdir=/a,uidmapping=0:1 /m")).is_err());
        let c = parse_mount_args(args("-f -olowerdir=/a,ro,volatile /m")).unwrap();
        assert!(c.foreground && c.read_only && c.no_fsync && c.upper.is_none());
        assert!(!c.metacopy);
        let c = parse_mount_args(args("-o lowerdir=/a,metacopy=on /m")).unwrap();
        assert!(c.metacopy);
        assert!(parse_mount_args(args("-o lowerdir=/a,metacopy=yes /m")).is_err());
        let c = parse_mount_args(args("-o lowerdir=/a,permissions=server /m")).unwrap();
        assert!(c.server_permissions);
        assert!(parse_mount_args(args("-o lowerdir=/a,permissions=user /m")).is_err());
        assert!(!c.privileges_in_xattrs);
        let c = parse_mount_args(args("-o lowerdir=/a,privileges_in_xattrs /m")).unwrap();
        assert!(c.privileges_in_xattrs && c.ignored.is_empty());
        assert_eq!(c.request_counts, None);
        assert_eq!(c.transport, crate::fs::fuse::Transport::Auto);
        let c = parse_mount_args(args("-o lowerdir=/a,transport=uring /m")).unwrap();
        assert_eq!(c.transport, crate::fs::fuse::Transport::Uring);
        let c = parse_mount_args(args("-o lowerdir=/a,transport=classic /m")).unwrap();
        assert_eq!(c.transport, crate::fs::fuse::Transport::Classic);
        assert!(parse_mount_args(args("-o lowerdir=/a,transport=ring /m")).is_err());
        let c = parse_mount_args(args("-o lowerdir=/a,request_counts=/tmp/n /m")).unwrap();
        assert_eq!(c.request_counts, Some(PathBuf::from("/tmp/n")));
        for bad in ["request_counts=rel", "request_counts", "request_counts=/"] {
            assert!(
                parse_mount_args(args(&format!("-o lowerdir=/a,{bad} /m"))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_incomplete_command_lines() {
        assert_eq!(parse_mount_args(args("/m")), Err(OptionsError::NoLower));
        assert_eq!(
            parse_mount_args(args("-o lowerdir=/a")),
            Err(OptionsError::NoMountpoint)
        );
        assert_eq!(
            parse_mount_args(args("-o lowerdir=/a,upperdir=/u /m")),
            Err(OptionsError::UpperWithoutWork)
        );
        assert!(parse_mount_args(args("-o lowerdir=/a,timeout=x /m")).is_err());
        assert!(parse_mount_args(args("-x -o lowerdir=/a /m")).is_err());
    }
}
