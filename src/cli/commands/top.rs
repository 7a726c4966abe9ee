use crate::cli::format::table;
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::TopResponse;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    name: String,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let top: TopResponse = client
        .get_json(&format!("/containers/{}/top", encode(&args.name)))
        .await?;
    let mut rows = vec![top.titles];
    rows.extend(top.processes);
    write_out(out, &table(&rows))
}
