use crate::cli::{Client, Error, encode, write_out};
use crate::wire::ChangeItem;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write the changes as the OCI layer tar `commit` would store (to stdout)
    #[arg(long)]
    tar: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    name: String,
}

/// `A`, `C` and `D` lines in the daemon's order, as `docker diff` prints.
pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    if args.tar {
        let tar = client
            .call(
                hyper::Method::GET,
                &format!("/containers/{}/layer", encode(&args.name)),
                None,
            )
            .await?;
        return out.write_all(&tar).map_err(|source| Error::Io {
            context: "writing output".into(),
            source,
        });
    }
    let items: Vec<ChangeItem> = client
        .get_json(&format!("/containers/{}/changes", encode(&args.name)))
        .await?;
    let text: String = items
        .iter()
        .map(|c| {
            let kind = match c.kind {
                1 => 'A',
                2 => 'D',
                _ => 'C',
            };
            format!("{kind} {}\n", c.path)
        })
        .collect();
    write_out(out, &text)
}
