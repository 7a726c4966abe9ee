//! `strata cp`: files between a container and the host, as `docker cp`
//! copies them, through `/containers/{id}/archive` (`HEAD` for the stat,
//! `GET` a tar out, `PUT` a tar in). `-` is a tar on stdin or stdout.
//!
//! The daemon names a tar's entries from the copied path's base name; the
//! client renames that first component when the copy gets a new name
//! (`cp c:/a/f ./g`), as the docker CLI's rebasing does. On the host,
//! entries are written only below the destination: a `..`, an absolute
//! name or a path through a symlink is refused.

use crate::cli::client::ReaderBody;
use crate::cli::{Client, Error, encode};
use crate::wire::ContainerPathStat;
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::Method;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:SRC_PATH, or a host path (- for a tar on stdin)
    #[arg(value_name = "SRC")]
    src: String,
    /// CONTAINER:DEST_PATH, or a host path (- for a tar on stdout)
    #[arg(value_name = "DEST")]
    dst: String,
}

/// `CONTAINER:PATH`, or a host path: one that is absolute or starts with
/// `.` is the host's, whatever colons it holds (docker's rule).
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => (Some(c), p),
        _ => (None, arg),
    }
}

fn usage(m: impl Into<String>) -> Error {
    Error::Usage(m.into())
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

pub async fn run(client: &Client, args: Args) -> Result<(), Error> {
    match (split(&args.src), split(&args.dst)) {
        ((Some(_), _), (Some(_), _)) => Err(usage("copying between containers is not supported")),
        ((None, _), (None, _)) => Err(usage("must specify at least one container source")),
        ((Some(c), src), (None, dst)) => copy_out(client, c, src, dst, &args).await,
        ((None, src), (Some(c), dst)) => copy_in(client, c, src, dst, &args).await,
    }
}

fn archive_path(container: &str, path: &str) -> String {
    format!("/containers/{}/archive?path={}", encode(container), encode(path))
}

/// The stat of a container's path (`HEAD`), or the daemon's error.
async fn stat(client: &Client, container: &str, path: &str) -> Result<ContainerPathStat, Error> {
    let resp = client
        .request(Method::HEAD, &archive_path(container, path), None)
        .await?;
    let status = resp.status();
    if !status.is_success() {
        // A HEAD has no body: the message is Docker's for the status.
        let message = if status == hyper::StatusCode::NOT_FOUND {
            format!("Could not find the file {path} in container {container}")
        } else {
            format!("{status}")
        };
        return Err(Error::Daemon {
            status: status.as_u16(),
            message,
        });
    }
    let header = resp
        .headers()
        .get(ContainerPathStat::HEADER)
        .ok_or_else(|| Error::Protocol("no path stat in the reply".into()))?;
    decode_stat(header.as_bytes())
}

fn decode_stat(b64: &[u8]) -> Result<ContainerPathStat, Error> {
    let json = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| Error::Protocol(format!("bad path stat: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| Error::Protocol(format!("bad path stat: {e}")))
}

/// The last component of a path (`/` for the root).
fn base(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit('/').next() {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => "/".into(),
    }
}

async fn copy_out(client: &Client, c: &str, src: &str, dst: &str, args: &Args) -> Result<(), Error> {
    let mut src = src.to_string();
    let mut rename_from: Option<String> = None;
    if args.follow_link {
        let st = stat(client, c, &src).await?;
        if st.mode & ContainerPathStat::SYMLINK != 0 {
            rename_from = Some(base(&st.link_target));
            src = st.link_target;
        }
    }
    let resp = client.request(Method::GET, &archive_path(c, &src), None).await?;
    if !resp.status().is_success() {
        return Err(client_error(resp).await);
    }
    let stat = match resp.headers().get(ContainerPathStat::HEADER) {
        Some(h) => decode_stat(h.as_bytes())?,
        None => return Err(Error::Protocol("no path stat in the reply".into())),
    };
    let mut body = resp.into_body();
    if dst == "-" {
        let mut out = io::stdout().lock();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::Protocol(format!("reading the archive: {e}")))?;
            if let Ok(data) = frame.into_data() {
                out.write_all(&data).map_err(io_err("writing the archive"))?;
            }
        }
        return out.flush().map_err(io_err("writing the archive"));
    }
    let src_base = rename_from.unwrap_or_else(|| base(&src));
    let src_is_dir = stat.mode & ContainerPathStat::DIR != 0;
    let (into, rename) = local_target(Path::new(dst), &src_base, src_is_dir, src.ends_with("/."))?;
    // The body is read on a blocking thread through a pipe-like channel.
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(8);
    let keep_owners = args.archive;
    let writer = tokio::task::spawn_blocking(move || {
        unpack(
            ChannelReader {
                rx,
                buf: bytes::Bytes::new(),
            },
            &into,
            rename,
            keep_owners,
        )
    });
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Protocol(format!("reading the archive: {e}")))?;
        if let Ok(data) = frame.into_data()
            && tx.send(data).is_err()
        {
            break;
        }
    }
    drop(tx);
    writer.await.map_err(|e| Error::Protocol(e.to_string()))?
}

/// Where a copy out goes: the directory to unpack in and, when the copy
/// takes a new name, (the tar's first component, the new one).
fn local_target(
    dst: &Path,
    src_base: &str,
    src_is_dir: bool,
    contents: bool,
) -> Result<(PathBuf, Option<(String, String)>), Error> {
    let dst_text = dst.to_string_lossy();
    match std::fs::metadata(dst) {
        // Into it: `base/…` (or, for `dir/.`, `./…`, the contents) as named.
        Ok(m) if m.is_dir() => Ok((dst.to_path_buf(), None)),
        Ok(_) if src_is_dir => Err(usage(format!(
            "cannot copy a directory to a file: {dst_text} exists and is not a directory"
        ))),
        Ok(_) => Ok((parent_of(dst), Some((src_base.to_string(), file_name(dst)?)))),
        Err(_) if dst_text.ends_with('/') => Err(usage(format!("destination directory {dst_text} does not exist"))),
        Err(_) => {
            let parent = parent_of(dst);
            if !parent.is_dir() {
                return Err(usage(format!(
                    "destination directory {} does not exist",
                    parent.display()
                )));
            }
            let first = if contents {
                ".".to_string()
            } else {
                src_base.to_string()
            };
            Ok((parent, Some((first, file_name(dst)?))))
        }
    }
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(p: &Path) -> Result<String, Error> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| usage(format!("invalid destination {}", p.display())))
}

struct ChannelReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    buf: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.buf = b,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// `name` with its first component renamed by `rename`, checked to stay
/// below the destination (no `..`, not absolute).
fn rebased(name: &Path, rename: &Option<(String, String)>) -> Result<PathBuf, Error> {
    let mut out = PathBuf::new();
    for (i, comp) in name.components().enumerate() {
        match comp {
            Component::Normal(c) => {
                let c = c.to_string_lossy();
                match rename {
                    Some((from, to)) if i == 0 && *c == **from => out.push(to),
                    _ => out.push(&*c),
                }
            }
            Component::CurDir => {
                if let Some((from, to)) = rename
                    && i == 0
                    && from == "."
                {
                    out.push(to);
                }
            }
            _ => return Err(usage(format!("refusing the archive entry {}", name.display()))),
        }
    }
    Ok(out)
}

/// Unpacks a tar below `into`, never through a symlink.
fn unpack(reader: impl Read, into: &Path, rename: Option<(String, String)>, keep_owners: bool) -> Result<(), Error> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    let root = into.canonicalize().map_err(io_err(format!("{}", into.display())))?;
    let entries = archive.entries().map_err(io_err("reading the archive"))?;
    for entry in entries {
        let mut entry = entry.map_err(io_err("reading the archive"))?;
        let name = entry.path().map_err(io_err("reading the archive"))?.into_owned();
        let rel = rebased(&name, &rename)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = root.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(format!("{}", parent.display())))?;
            let real = parent.canonicalize().map_err(io_err(format!("{}", parent.display())))?;
            if !real.starts_with(&root) {
                return Err(usage(format!(
                    "refusing to write {} outside {}",
                    rel.display(),
                    root.display()
                )));
            }
        }
        if entry.header().entry_type() == tar::EntryType::Link {
            let link = entry.link_name().map_err(io_err("reading the archive"))?;
            let link = link.ok_or_else(|| usage("a hard link without a target"))?;
            let from = root.join(rebased(&link, &rename)?);
            let _ = std::fs::remove_file(&target);
            std::fs::hard_link(&from, &target).map_err(io_err(format!("{}", target.display())))?;
            continue;
        }
        entry.unpack(&target).map_err(io_err(format!("{}", target.display())))?;
        if keep_owners {
            let (uid, gid) = (entry.header().uid(), entry.header().gid());
            if let (Ok(uid), Ok(gid)) = (uid, gid) {
                let _ = std::os::unix::fs::lchown(&target, u32::try_from(uid).ok(), u32::try_from(gid).ok());
            }
        }
    }
    Ok(())
}

async fn copy_in(client: &Client, c: &str, src: &str, dst: &str, args: &Args) -> Result<(), Error> {
    let mut dst = dst.to_string();
    let mut st = stat(client, c, &dst).await;
    if let Ok(s) = &st
        && s.mode & ContainerPathStat::SYMLINK != 0
    {
        dst = s.link_target.clone();
        st = stat(client, c, &dst).await;
    }
    let (exists, is_dir) = match &st {
        Ok(s) => (true, s.mode & ContainerPathStat::DIR != 0),
        Err(_) => (false, false),
    };
    let query = |dir: &str| {
        format!(
            "{}&noOverwriteDirNonDir=true&copyUIDGID={}",
            archive_path(c, dir),
            args.archive
        )
    };
    if src == "-" {
        if !is_dir {
            return Err(usage(format!("destination \"{c}:{dst}\" must be a directory")));
        }
        let body = ReaderBody::boxed(tokio::io::stdin());
        client.call(Method::PUT, &query(&dst), Some(body)).await?;
        return Ok(());
    }
    let local = Path::new(src);
    let meta = if args.follow_link {
        std::fs::metadata(local)
    } else {
        std::fs::symlink_metadata(local)
    }
    .map_err(io_err(format!("stat {src}")))?;
    let contents = src.ends_with("/.");
    let (dir, name) = if exists && is_dir {
        (dst.clone(), if contents { None } else { Some(base(src)) })
    } else if exists {
        if meta.is_dir() {
            return Err(usage(format!("cannot copy a directory to a file: {c}:{dst}")));
        }
        (parent_in_container(&dst), Some(base(&dst)))
    } else if dst.ends_with('/') {
        return Err(st.err().unwrap_or_else(|| usage("no such directory")));
    } else {
        (parent_in_container(&dst), Some(base(&dst)))
    };
    let body = tar_of(local.to_path_buf(), name, args.follow_link)?;
    client.call(Method::PUT, &query(&dir), Some(body)).await?;
    Ok(())
}

fn parent_in_container(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => t[..i].into(),
    }
}

/// A tar of the host path `src`, its entries named from `name` (the
/// directory's contents at the top when `None`), written on a thread into
/// a pipe the request body reads: nothing is held whole in memory.
fn tar_of(src: PathBuf, name: Option<String>, follow: bool) -> Result<crate::cli::client::ReqBody, Error> {
    let (read, write) = io::pipe().map_err(io_err("making a pipe"))?;
    std::thread::spawn(move || {
        let mut b = tar::Builder::new(io::BufWriter::new(write));
        b.follow_symlinks(follow);
        b.mode(tar::HeaderMode::Complete);
        let done = match &name {
            Some(n) if src.is_dir() && (follow || !src.is_symlink()) => b.append_dir_all(n, &src),
            Some(n) => b.append_path_with_name(&src, n),
            None => b.append_dir_all(".", &src),
        };
        // A failure cuts the stream short: the daemon refuses the truncated tar.
        if done.and_then(|()| b.finish()).is_err() {
            return;
        }
        let _ = b.into_inner().map(|mut w| w.flush());
    });
    let reader = tokio::fs::File::from_std(std::fs::File::from(std::os::fd::OwnedFd::from(read)));
    Ok(ReaderBody::boxed(reader))
}

/// The daemon's error in a reply (the client's own helper reads only
/// successful bodies).
async fn client_error(resp: hyper::Response<hyper::body::Incoming>) -> Error {
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<crate::wire::ErrorResponse>(&body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("{status}"));
    Error::Daemon {
        status: status.as_u16(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_and_host_paths_are_told_apart() {
        assert_eq!(split("c:/etc"), (Some("c"), "/etc"));
        assert_eq!(split("/a:b"), (None, "/a:b"));
        assert_eq!(split("./c:d"), (None, "./c:d"));
        assert_eq!(split("file"), (None, "file"));
        assert_eq!(parent_in_container("/a/b"), "/a");
        assert_eq!(parent_in_container("/a"), "/");
        assert_eq!(base("/a/b/"), "b");
    }

    #[test]
    fn entries_are_renamed_and_kept_below() {
        let r = Some(("f".to_string(), "g".to_string()));
        assert_eq!(rebased(Path::new("f/x"), &r).unwrap(), PathBuf::from("g/x"));
        assert_eq!(rebased(Path::new("h/f"), &r).unwrap(), PathBuf::from("h/f"));
        assert!(rebased(Path::new("../x"), &None).is_err());
        assert!(rebased(Path::new("/x"), &None).is_err());
    }
}
