use crate::cli::format::{ListFormat, ellipsis, human_size, table};
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
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
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
    let format = ListFormat::parse(args.format.as_deref())?;
    let fields: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            serde_json::json!({
                "ID": short(&i.id),
                "CreatedSince": ago(i.created),
                "CreatedAt": crate::wire::display::rfc3339(i.created),
                "CreatedBy": created_by(i, args.no_trunc),
                "Size": human_size(i.size),
                "Comment": i.comment,
            })
        })
        .collect();
    let headers = serde_json::json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
        "Size": "SIZE", "Comment": "COMMENT",
    });
    if let Some(text) = format.render(&fields, &headers)? {
        return write_out(out, &text);
    }
    let mut cells = vec![
        vec!["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
    ];
    for i in &items {
        cells.push(vec![
            short(&i.id),
            ago(i.created),
            created_by(i, args.no_trunc),
            human_size(i.size),
            i.comment.clone(),
        ]);
    }
    write_out(out, &table(&cells))
}

/// docker's CREATED BY: tabs as spaces, 45 characters unless --no-trunc.
fn created_by(i: &HistoryItem, no_trunc: bool) -> String {
    if no_trunc {
        i.created_by.clone()
    } else {
        ellipsis(&i.created_by.replace('\t', " "), 45)
    }
}
