use crate::cli::{Client, Error, encode, write_out};
use crate::wire::DeleteItem;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Remove an image even if several names refer to it
    #[arg(short, long)]
    force: bool,
    /// Images to remove
    #[arg(required = true, value_name = "IMAGE")]
    names: Vec<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut first_error = None;
    for name in &args.names {
        let path = format!("/images/{}{}", encode(name), if args.force { "?force=1" } else { "" });
        match client.call(Method::DELETE, &path, None).await {
            Ok(bytes) => {
                let items: Vec<DeleteItem> =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(e.to_string()))?;
                let mut s = String::new();
                for i in items {
                    if let Some(u) = i.untagged {
                        s += &format!("Untagged: {u}\n");
                    }
                    if let Some(d) = i.deleted {
                        s += &format!("Deleted: {d}\n");
                    }
                }
                write_out(out, &s)?;
            }
            // Like docker: report each failure, go on with the rest, exit 1.
            Err(e) => {
                eprintln!("{e}");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(_) => Err(Error::Reported),
        None => Ok(()),
    }
}
