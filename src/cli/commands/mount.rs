//! `strata mount` and `strata unmount` (Strata's own, as `podman image
//! mount` and `podman mount`): an image's layers or a container's root
//! mounted by the daemon, over `/strata/mounts`.

use crate::cli::format::{ListFormat, table};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::{UserMount, UserMountRequest};
use hyper::Method;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct MountArgs {
    /// A writable directory to mount an image's layers under (read-only without)
    #[arg(long, value_name = "DIR")]
    upper: Option<PathBuf>,
    /// The upper directory's work directory (default: UPPER.work beside it)
    #[arg(long, value_name = "DIR", requires = "upper")]
    work: Option<PathBuf>,
    /// With no image: format the list using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// With no image: only display the mount points
    #[arg(short, long)]
    quiet: bool,
    /// The container or image to mount (none: list what is mounted)
    #[arg(value_name = "IMAGE|CONTAINER")]
    target: Option<String>,
    /// An existing empty directory to mount it at (default: one the daemon makes)
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct UnmountArgs {
    /// Unmount everything mounted
    #[arg(short, long, conflicts_with = "targets")]
    all: bool,
    /// Images, containers or mount points to unmount
    #[arg(value_name = "TARGET|DIR", required_unless_present = "all")]
    targets: Vec<String>,
}

/// A path the daemon can use: absolute (relative to the current directory).
fn absolute(path: &Path) -> Result<String, Error> {
    std::path::absolute(path)
        .map(|p| p.display().to_string())
        .map_err(|source| Error::Io {
            context: format!("resolving {}", path.display()),
            source,
        })
}

pub async fn mount(client: &Client, args: MountArgs, out: &mut impl Write) -> Result<(), Error> {
    let Some(target) = args.target else {
        if args.upper.is_some() || args.dir.is_some() {
            return Err(Error::Usage("--upper needs an image to mount".into()));
        }
        return list(client, args.format.as_deref(), args.quiet, out).await;
    };
    let request = UserMountRequest {
        target,
        dir: args.dir.as_deref().map(absolute).transpose()?.unwrap_or_default(),
        upper: args.upper.as_deref().map(absolute).transpose()?.unwrap_or_default(),
        work: args.work.as_deref().map(absolute).transpose()?.unwrap_or_default(),
    };
    let raw = client.post_json("/strata/mounts", &request).await?;
    let mounted: UserMount = serde_json::from_slice(&raw).map_err(|e| Error::Protocol(e.to_string()))?;
    write_out(out, &format!("{}\n", mounted.dir))
}

fn fields(m: &UserMount) -> serde_json::Value {
    let short = m.id.strip_prefix("sha256:").unwrap_or(&m.id);
    serde_json::json!({
        "Target": m.target, "ID": &short[..12.min(short.len())], "Type": m.kind,
        "Dir": m.dir, "Upper": m.upper, "RW": m.rw,
    })
}

thread_local! {
    static HEADERS: serde_json::Value = serde_json::json!({
        "Target": "TARGET", "ID": "ID", "Type": "TYPE", "Dir": "DIR", "Upper": "UPPER", "RW": "RW",
    });
}

async fn list(client: &Client, format: Option<&str>, quiet: bool, out: &mut impl Write) -> Result<(), Error> {
    let mounts: Vec<UserMount> = client.get_json("/strata/mounts").await?;
    let format = ListFormat::parse(format)?;
    let items: Vec<serde_json::Value> = mounts.iter().map(fields).collect();
    let text = if quiet {
        mounts.iter().map(|m| format!("{}\n", m.dir)).collect()
    } else if let Some(text) = format.render(&items, &HEADERS.with(Clone::clone))? {
        text
    } else {
        let mut rows = vec![vec!["TARGET".to_string(), "ID".to_string(), "DIR".to_string()]];
        rows.extend(items.iter().zip(&mounts).map(|(f, m)| {
            let id = f["ID"].as_str().unwrap_or_default().to_string();
            vec![m.target.clone(), id, m.dir.clone()]
        }));
        table(&rows)
    };
    write_out(out, &text)
}

/// An argument of `unmount` that is a path (rather than an image name):
/// absolute, or `./`, `../`, `.`.
fn is_path(arg: &str) -> bool {
    arg.starts_with('/') || arg.starts_with("./") || arg.starts_with("../") || arg == "." || arg == ".."
}

pub async fn unmount(client: &Client, args: UnmountArgs, out: &mut impl Write) -> Result<(), Error> {
    if args.all {
        client.call(Method::DELETE, "/strata/mounts?all=1", None).await?;
        return Ok(());
    }
    let mut failed = false;
    for arg in &args.targets {
        let by_dir = || absolute(Path::new(arg)).map(|d| format!("/strata/mounts?dir={}", encode(&d)));
        let path = if is_path(arg) {
            by_dir()?
        } else {
            format!("/strata/mounts?target={}", encode(arg))
        };
        let mut ended = client.call(Method::DELETE, &path, None).await;
        // A relative directory named as an image would be.
        if matches!(ended, Err(Error::Daemon { status: 404, .. })) && !is_path(arg) && Path::new(arg).is_dir() {
            ended = client.call(Method::DELETE, &by_dir()?, None).await;
        }
        match ended {
            Ok(_) => write_out(out, &format!("{arg}\n"))?,
            // As rmi: each failure reported, the rest still done, exit 1.
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed { Err(Error::Reported) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::is_path;

    #[test]
    fn only_paths_written_as_paths_are_directories() {
        for p in ["/mnt", "./mnt", "../mnt", ".", ".."] {
            assert!(is_path(p), "{p}");
        }
        for t in ["busybox", "library/busybox:latest", "mnt", "ctr"] {
            assert!(!is_path(t), "{t}");
        }
    }
}
