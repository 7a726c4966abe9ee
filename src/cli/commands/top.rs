use crate::cli::format::table;
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::TopResponse;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    name: String,
    /// Options for the host's ps (`-o pid,comm`), as docker's
    #[arg(value_name = "ps OPTIONS", trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut path = format!("/containers/{}/top", encode(&args.name));
    if !args.ps_options.is_empty() {
        path += &format!("?ps_args={}", encode(&args.ps_options.join(" ")));
    }
    let top: TopResponse = client.get_json(&path).await?;
    let mut rows = vec![top.titles];
    rows.extend(top.processes);
    write_out(out, &table(&rows))
}
