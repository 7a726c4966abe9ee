use crate::cli::client::ReaderBody;
use crate::cli::progress::{CountingReader, transfer_bar};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::StreamMessage;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Commit message (the history comment)
    #[arg(short, long)]
    message: Option<String>,
    /// Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, …)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// No byte counter on a terminal, only the image ID
    #[arg(short, long)]
    quiet: bool,
    /// A tar file, or - for standard input
    file: String,
    /// Name for the image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut path = "/images/create?fromSrc=-".to_string();
    if let Some(r) = &args.reference {
        path += &format!("&repo={}", encode(r));
    }
    if let Some(m) = &args.message {
        path += &format!("&message={}", encode(m));
    }
    for c in &args.change {
        path += &format!("&changes={}", encode(c));
    }
    // On a terminal, a byte counter of the upload on stderr (the daemon's
    // reply comes once the image is stored: a bad archive is a plain 400).
    let (body, bar) = if args.file == "-" {
        let bar = transfer_bar(args.quiet, None, "Importing");
        (
            ReaderBody::boxed(CountingReader::new(tokio::io::stdin(), bar.clone())),
            bar,
        )
    } else {
        let f = tokio::fs::File::open(&args.file).await.map_err(|source| Error::Io {
            context: format!("open {}", args.file),
            source,
        })?;
        let size = f.metadata().await.ok().map(|m| m.len());
        let bar = transfer_bar(args.quiet, size, "Importing");
        (ReaderBody::boxed(CountingReader::new(f, bar.clone())), bar)
    };
    let bytes = client.call(Method::POST, &path, Some(body)).await;
    bar.finish_and_clear();
    let bytes = bytes?;
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let msg: StreamMessage = serde_json::from_slice(line).map_err(|e| Error::Protocol(e.to_string()))?;
        if let Some(e) = msg.error {
            return Err(Error::Daemon {
                status: 200,
                message: e,
            });
        }
        if let Some(s) = msg.status {
            write_out(out, &format!("{s}\n"))?;
        }
    }
    Ok(())
}
