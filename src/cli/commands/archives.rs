//! `strata save`, `load` and `export`: image archives and a container's
//! filesystem as tars, streamed between a file (or stdin/stdout) and the
//! daemon; save and export count the bytes on a terminal, load shows the
//! daemon's progress lines. An output file is written
//! beside its final name and renamed into place once complete, so a failed
//! save leaves no half file (docker does the same).

use crate::cli::client::ReaderBody;
use crate::cli::progress::{MessageDisplay, for_each_message, terminal_width, transfer_bar};
use crate::cli::{Client, Error, encode};
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::Incoming;
use indicatif::ProgressBar;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncRead;

#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// No byte counter on a terminal
    #[arg(short, long)]
    quiet: bool,
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The images
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// No byte counter on a terminal
    #[arg(short, long)]
    quiet: bool,
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    container: String,
}

const REFUSE_TERMINAL: &str = "cowardly refusing to save to a terminal. Use the -o flag or redirect";

pub async fn save(client: &Client, args: SaveArgs) -> Result<(), Error> {
    let output = output_for(args.output.as_deref(), "failed to save image")?;
    let names: Vec<String> = args.images.iter().map(|n| format!("names={}", encode(n))).collect();
    let body = client
        .stream(Method::GET, &format!("/images/get?{}", names.join("&")), None)
        .await?;
    copy_out(body, output, transfer_bar(args.quiet, None, "Saving")).await
}

pub async fn export(client: &Client, args: ExportArgs) -> Result<(), Error> {
    let output = output_for(args.output.as_deref(), "failed to export container")?;
    let path = format!("/containers/{}/export", encode(&args.container));
    let body = client.stream(Method::GET, &path, None).await?;
    copy_out(body, output, transfer_bar(args.quiet, None, "Exporting")).await
}

pub async fn load(client: &Client, args: LoadArgs, out: &mut impl Write) -> Result<(), Error> {
    let body: Box<dyn AsyncRead + Unpin + Send + Sync> = match &args.input {
        Some(path) => Box::new(tokio::fs::File::open(path).await.map_err(|source| Error::Io {
            context: format!("open {}", path.display()),
            source,
        })?),
        None if rustix::termios::isatty(std::io::stdin().as_fd()) => {
            return Err(Error::Usage("requested load from stdin, but stdin is empty".into()));
        }
        None => Box::new(tokio::io::stdin()),
    };
    let terminal = terminal_width(std::io::stdout());
    // As docker: the daemon's `Loading layer` bars only on a terminal (they
    // are the progress of a load; no byte counter of the upload besides).
    let quiet = args.quiet || terminal.is_none();
    let reply = client
        .stream(
            Method::POST,
            &format!("/images/load?quiet={}", u8::from(quiet)),
            Some(ReaderBody::boxed(body)),
        )
        .await?;
    let mut display = MessageDisplay::new(&mut *out, terminal);
    for_each_message(reply, |m| display.show(&m)).await
}

/// Where an archive goes: a new file (checked before anything is asked of
/// the daemon), or stdout when it is not a terminal.
enum Output {
    File(PendingFile),
    Stdout,
}

fn output_for(path: Option<&Path>, failed: &str) -> Result<Output, Error> {
    match path {
        None if terminal_width(std::io::stdout()).is_some() => Err(Error::Usage(REFUSE_TERMINAL.into())),
        None => Ok(Output::Stdout),
        Some(p) => PendingFile::create(p)
            .map(Output::File)
            .map_err(|e| Error::Usage(format!("{failed}: {e}"))),
    }
}

/// Sends a reply's body to the output, counting bytes; a file is kept
/// only when the whole body arrived.
async fn copy_out(body: Incoming, output: Output, bar: ProgressBar) -> Result<(), Error> {
    match output {
        Output::Stdout => copy_body(body, &mut std::io::stdout().lock(), bar).await,
        Output::File(mut pending) => {
            copy_body(body, &mut pending.file, bar).await?;
            pending.commit()
        }
    }
}

async fn copy_body(mut body: Incoming, sink: &mut impl Write, bar: ProgressBar) -> Result<(), Error> {
    let write_err = |source| Error::Io {
        context: "writing the archive".into(),
        source,
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Protocol(format!("reading the archive: {e}")))?;
        if let Ok(data) = frame.into_data() {
            sink.write_all(&data).map_err(write_err)?;
            bar.inc(data.len() as u64);
        }
    }
    bar.finish_and_clear();
    sink.flush().map_err(write_err)
}

/// A file being written under a temporary name beside its final one;
/// removed unless committed.
struct PendingFile {
    file: std::fs::File,
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl PendingFile {
    fn create(path: &Path) -> Result<PendingFile, String> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(format!(
                "unable to validate output path: directory {:?} does not exist",
                dir.display().to_string()
            ));
        }
        let name = path
            .file_name()
            .ok_or_else(|| format!("{}: not a file name", path.display()))?;
        let tmp = dir.join(format!(".{}.strata-tmp-{}", name.to_string_lossy(), std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        Ok(PendingFile {
            file,
            tmp,
            path: path.to_path_buf(),
            committed: false,
        })
    }

    fn commit(mut self) -> Result<(), Error> {
        let io = |source| Error::Io {
            context: format!("writing {}", self.path.display()),
            source,
        };
        self.file.sync_all().map_err(io)?;
        std::fs::rename(&self.tmp, &self.path).map_err(io)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_file_appears_only_when_committed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out.tar");
        let mut pending = PendingFile::create(&path).unwrap();
        pending.file.write_all(b"half").unwrap();
        drop(pending);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing left");

        let mut pending = PendingFile::create(&path).unwrap();
        pending.file.write_all(b"whole").unwrap();
        pending.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

        let e = PendingFile::create(&tmp.path().join("nodir/out.tar")).err().unwrap();
        assert!(e.starts_with("unable to validate output path: directory \""), "{e}");
        assert!(e.ends_with("nodir\" does not exist"), "{e}");
    }
}
