use crate::cli::format::{ellipsis, human_size, table};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::HistoryItem;
use crate::wire::display::ago;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// The image
    #[arg(value_name = "IMAGE")]
    name: String,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let items: Vec<HistoryItem> = client
        .get_json(&format!("/images/{}/history", encode(&args.name)))
        .await?;
    let short = |id: &str| {
        if args.no_trunc || id == "<missing>" {
            id.to_string()
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        }
    };
    if args.quiet {
        let s: String = items.iter().map(|i| short(&i.id) + "\n").collect();
        return write_out(out, &s);
    }
    let mut cells = vec![
        vec!["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
    ];
    for i in &items {
        let created_by = if args.no_trunc {
            i.created_by.clone()
        } else {
            ellipsis(&i.created_by.replace('\t', " "), 45)
        };
        cells.push(vec![
            short(&i.id),
            ago(i.created),
            created_by,
            human_size(i.size),
            i.comment.clone(),
        ]);
    }
    write_out(out, &table(&cells))
}
