use crate::cli::format::indent_json;
use crate::cli::{Client, Error, encode, write_out};
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the image's config exactly as stored: its sha256 is the image ID
    #[arg(long)]
    config_raw: bool,
    /// Images to inspect
    #[arg(required = true, value_name = "IMAGE")]
    names: Vec<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    if args.config_raw {
        if args.names.len() != 1 {
            return Err(Error::Usage("--config-raw takes exactly one image".into()));
        }
        let raw = client
            .call(Method::GET, &format!("/images/{}/config", encode(&args.names[0])), None)
            .await?;
        return out.write_all(&raw).map_err(|source| Error::Io {
            context: "writing output".into(),
            source,
        });
    }
    let mut objects = Vec::new();
    let mut missing = None;
    for name in &args.names {
        match client
            .call(Method::GET, &format!("/images/{}/json", encode(name)), None)
            .await
        {
            Ok(raw) => objects.push(String::from_utf8_lossy(&raw).trim().to_string()),
            Err(Error::Daemon { status: 404, .. }) => missing = Some(name.clone()),
            Err(e) => return Err(e),
        }
    }
    let joined = format!("[{}]", objects.join(","));
    write_out(out, &(indent_json(joined.as_bytes()) + "\n"))?;
    match missing {
        Some(name) => Err(Error::Usage(format!("Error: No such object: {name}"))),
        None => Ok(()),
    }
}
