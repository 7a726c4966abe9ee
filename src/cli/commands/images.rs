use crate::cli::format::{human_size, table};
use crate::cli::{Client, Error, write_out};
use crate::wire::ImageSummary;
use crate::wire::display::{ago, go_time_string};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate IDs
    #[arg(long)]
    no_trunc: bool,
    /// Show all images (no intermediate images are hidden yet)
    #[arg(short, long)]
    all: bool,
    /// Output format: "table" (default) or "json" (one object per line)
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Filter: dangling=true|false, reference=PATTERN, label=KEY[=VALUE]
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Only images of this repository (and tag; `*` globs)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

/// `key=value` flags as Docker's `filters` JSON.
fn filters_query(args: &Args) -> Result<String, Error> {
    let mut map: std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>> = Default::default();
    for f in &args.filter {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("bad format of filter (expected name=value): {f}")))?;
        map.entry(k.to_string()).or_default().insert(v.to_string(), true);
    }
    if let Some(r) = &args.reference {
        map.entry("reference".into()).or_default().insert(r.clone(), true);
    }
    if map.is_empty() {
        return Ok(String::new());
    }
    let json = serde_json::to_string(&map).expect("serialises");
    Ok(format!("?filters={}", crate::cli::encode(&json)))
}

struct Row {
    repository: String,
    tag: String,
    id: String,
    created: i64,
    size: i64,
}

fn rows(list: &[ImageSummary], no_trunc: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for i in list {
        let id = if no_trunc {
            i.id.clone()
        } else {
            i.id.trim_start_matches("sha256:").chars().take(12).collect()
        };
        let mut push = |repository: &str, tag: &str| {
            rows.push(Row {
                repository: repository.to_string(),
                tag: tag.to_string(),
                id: id.clone(),
                created: i.created,
                size: i.size,
            })
        };
        if i.repo_tags.is_empty() {
            push("<none>", "<none>");
        }
        for t in &i.repo_tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "<none>"));
            push(repo, tag);
        }
    }
    rows
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let _ = args.all;
    let list: Vec<ImageSummary> = client
        .get_json(&format!("/images/json{}", filters_query(&args)?))
        .await?;
    let rows = rows(&list, args.no_trunc);
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        let mut s = String::new();
        for r in rows.iter().filter(|r| seen.insert(r.id.clone())) {
            s += &r.id;
            s.push('\n');
        }
        return write_out(out, &s);
    }
    match args.format.as_deref() {
        None | Some("table") => {
            let mut cells = vec![
                vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
                    .into_iter()
                    .map(String::from)
                    .collect::<Vec<_>>(),
            ];
            for r in &rows {
                cells.push(vec![
                    r.repository.clone(),
                    r.tag.clone(),
                    r.id.clone(),
                    ago(r.created),
                    human_size(r.size),
                ]);
            }
            write_out(out, &table(&cells))
        }
        Some("json") => {
            let mut s = String::new();
            for r in &rows {
                // Go's time.String() form, as docker prints CreatedAt.
                let created_at = go_time_string(r.created);
                let line = serde_json::json!({
                    "Containers": "N/A",
                    "CreatedAt": created_at,
                    "CreatedSince": ago(r.created),
                    "Digest": "<none>",
                    "ID": r.id,
                    "Repository": r.repository,
                    "SharedSize": "N/A",
                    "Size": human_size(r.size),
                    "Tag": r.tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size(r.size),
                });
                s += &line.to_string();
                s.push('\n');
            }
            write_out(out, &s)
        }
        Some(other) => Err(Error::Usage(format!(
            "unsupported --format {other:?}: use \"table\" or \"json\""
        ))),
    }
}
