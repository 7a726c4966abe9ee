use crate::cli::{Client, Error, encode};
use hyper::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image to name
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    source: String,
    /// The new name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    target: String,
}

pub async fn run(client: &Client, args: Args) -> Result<(), Error> {
    // The daemon validates and normalises the name; send it whole as `repo`.
    let path = format!("/images/{}/tag?repo={}", encode(&args.source), encode(&args.target));
    client.call(Method::POST, &path, None).await?;
    Ok(())
}
