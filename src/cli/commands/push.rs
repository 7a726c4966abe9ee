//! `strata push`: `POST /images/{name}/push?tag=…` with the stored
//! credentials, drawn as docker draws it.

use super::pull::{parse, stored_auth};
use crate::cli::progress::{MessageDisplay, for_each_message, terminal_width};
use crate::cli::{Client, Error, encode, write_out};
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Push every tag of the repository
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    /// Print only the image's full name
    #[arg(short, long)]
    quiet: bool,
    /// The image: NAME[:TAG]
    #[arg(value_name = "NAME[:TAG]")]
    name: String,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut reference = parse(&args.name)?;
    if args.all_tags && !reference.is_name_only() {
        return Err(Error::Usage("tag can't be used with --all-tags/-a".into()));
    }
    let mut path = format!("/images/{}/push", encode(&reference.familiar_name()));
    if !args.all_tags {
        if reference.is_name_only() && !args.quiet {
            write_out(out, "Using default tag: latest\n")?;
        }
        reference = reference.with_default_tag();
        path += &format!("?tag={}", encode(reference.tag.as_deref().unwrap_or("latest")));
    }
    let auth = stored_auth(&reference.domain);
    let body = client.stream_with_auth(Method::POST, &path, None, &auth).await?;
    if args.quiet {
        let mut display = MessageDisplay::new(std::io::sink(), None);
        for_each_message(body, |m| display.show(&m)).await?;
        return write_out(out, &format!("{reference}\n"));
    }
    let mut display = MessageDisplay::new(&mut *out, terminal_width(std::io::stdout()));
    for_each_message(body, |m| display.show(&m)).await
}
