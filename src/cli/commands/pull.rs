//! `strata pull`: `POST /images/create?fromImage=…`, with the stored
//! credentials of the reference's registry, drawn as docker draws it.

use crate::cli::credentials::{self, CredentialStore};
use crate::cli::progress::{MessageDisplay, for_each_message, terminal_width};
use crate::cli::reference::Reference;
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::AuthConfig;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pull this platform's image of a multi-platform one: OS/ARCH[/VARIANT]
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// Print only the image's full name
    #[arg(short, long)]
    quiet: bool,
    /// The image: NAME[:TAG|@DIGEST]
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    name: String,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let reference = parse(&args.name)?;
    if reference.is_name_only() && !args.quiet {
        write_out(out, "Using default tag: latest\n")?;
    }
    let reference = reference.with_default_tag();
    if args.quiet {
        pull(client, &reference, args.platform.as_deref(), std::io::sink(), None).await?;
    } else {
        let terminal = terminal_width(std::io::stdout());
        pull(client, &reference, args.platform.as_deref(), &mut *out, terminal).await?;
    }
    write_out(out, &format!("{reference}\n"))
}

pub fn parse(name: &str) -> Result<Reference, Error> {
    Reference::parse(name).map_err(|e| Error::Usage(e.to_string()))
}

/// Pulls `reference` (tagged or digested), drawing the daemon's stream on
/// `out` (`terminal`: its width when it is one).
pub async fn pull(
    client: &Client,
    reference: &Reference,
    platform: Option<&str>,
    out: impl Write,
    terminal: Option<usize>,
) -> Result<(), Error> {
    let mut path = format!(
        "/images/create?fromImage={}&tag={}",
        encode(&reference.name()),
        encode(reference.api_tag())
    );
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        path += &format!("&platform={}", encode(&p.to_lowercase()));
    }
    let auth = stored_auth(&reference.domain);
    let body = client.stream_with_auth(Method::POST, &path, None, &auth).await?;
    let mut display = MessageDisplay::new(out, terminal);
    for_each_message(body, |m| display.show(&m)).await
}

/// The stored login for a registry, or none (anonymous). A credentials file
/// that cannot be read is a warning here, as docker warns about its config:
/// an anonymous pull may still work.
pub fn stored_auth(domain: &str) -> AuthConfig {
    let store = credentials::default_path().and_then(CredentialStore::open);
    match store {
        Ok(store) => store.get(&credentials::server_key(domain)).unwrap_or_default(),
        Err(e) => {
            eprintln!("WARNING: {e}");
            AuthConfig::default()
        }
    }
}
