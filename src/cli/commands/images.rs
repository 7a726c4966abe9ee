use crate::cli::format::{ListFormat, human_size, human_size_with_precision, table};
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
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Show all images (no intermediate images are hidden yet)
    #[arg(short, long)]
    all: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Filter: dangling=true|false, reference=PATTERN, label=KEY[=VALUE]
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Only images of this repository (and tag; `*` globs)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

/// `--filter` flags and the reference as Docker's `filters` query.
fn filters_query(args: &Args) -> Result<String, Error> {
    let mut map = super::filters::parse(&args.filter)?;
    if let Some(r) = &args.reference {
        map.entry("reference".into()).or_default().insert(r.clone(), true);
    }
    Ok(super::filters::query(&map))
}

struct Row {
    repository: String,
    tag: String,
    digest: String,
    id: String,
    created: i64,
    size: i64,
}

/// The repository of a `RepoTags`/`RepoDigests` entry and what follows its
/// `:` or `@`.
fn split_reference(r: &str, separator: char) -> Option<(&str, &str)> {
    let (repo, rest) = r.rsplit_once(separator)?;
    (!rest.contains('/')).then_some((repo, rest))
}

/// Docker's rows: one per tag (per tag and digest with `--digests`), then
/// the digests of repositories without a tag, or one `<none>` row.
fn rows(list: &[ImageSummary], no_trunc: bool, digests: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for i in list {
        let id = if no_trunc {
            i.id.clone()
        } else {
            i.id.trim_start_matches("sha256:").chars().take(12).collect()
        };
        let mut push = |repository: &str, tag: &str, digest: &str| {
            rows.push(Row {
                repository: repository.to_string(),
                tag: tag.to_string(),
                digest: digest.to_string(),
                id: id.clone(),
                created: i.created,
                size: i.size,
            })
        };
        let mut by_repo: Vec<(&str, Vec<&str>)> = Vec::new();
        for (repo, digest) in i.repo_digests.iter().filter_map(|d| split_reference(d, '@')) {
            match by_repo.iter_mut().find(|(r, _)| *r == repo) {
                Some((_, list)) => list.push(digest),
                None => by_repo.push((repo, vec![digest])),
            }
        }
        let tags: Vec<(&str, &str)> = i.repo_tags.iter().filter_map(|t| split_reference(t, ':')).collect();
        for (repo, tag) in &tags {
            match by_repo.iter().find(|(r, _)| r == repo) {
                Some((_, list)) if digests => list.iter().for_each(|d| push(repo, tag, d)),
                _ => push(repo, tag, "<none>"),
            }
        }
        let untagged = by_repo.iter().filter(|(r, _)| !tags.iter().any(|(t, _)| t == r));
        for (repo, list) in untagged {
            match digests {
                true => list.iter().for_each(|d| push(repo, "<none>", d)),
                false => push(repo, "<none>", "<none>"),
            }
        }
        if tags.is_empty() && by_repo.is_empty() {
            push("<none>", "<none>", "<none>");
        }
    }
    rows
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let _ = args.all;
    let list: Vec<ImageSummary> = client
        .get_json(&format!("/images/json{}", filters_query(&args)?))
        .await?;
    let rows = rows(&list, args.no_trunc, args.digests);
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        let mut s = String::new();
        for r in rows.iter().filter(|r| seen.insert(r.id.clone())) {
            s += &r.id;
            s.push('\n');
        }
        return write_out(out, &s);
    }
    let format = ListFormat::parse(args.format.as_deref())?;
    let items: Vec<serde_json::Value> = rows.iter().map(fields).collect();
    if let Some(text) = format.render(&items, &headers())? {
        return write_out(out, &text);
    }
    let mut header = vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
    if args.digests {
        header.insert(2, "DIGEST");
    }
    let mut cells = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for r in &rows {
        let mut row = vec![
            r.repository.clone(),
            r.tag.clone(),
            r.id.clone(),
            ago(r.created),
            human_size(r.size),
        ];
        if args.digests {
            row.insert(2, r.digest.clone());
        }
        cells.push(row);
    }
    write_out(out, &table(&cells))
}

/// The docker CLI's image formatter fields (`{{.Repository}}`, `{{.Tag}}`…);
/// `--format json` prints them all, keys sorted.
fn fields(r: &Row) -> serde_json::Value {
    serde_json::json!({
        "Containers": "N/A",
        // Go's time.String() form, as docker prints CreatedAt.
        "CreatedAt": go_time_string(r.created),
        "CreatedSince": ago(r.created),
        "Digest": r.digest,
        "ID": r.id,
        "Repository": r.repository,
        "SharedSize": "N/A",
        "Size": human_size(r.size),
        "Tag": r.tag,
        "UniqueSize": "N/A",
        // units.HumanSize: four digits, where Size has three.
        "VirtualSize": human_size_with_precision(r.size, 4),
    })
}

/// The header of each field in a `table` format, as docker names them.
fn headers() -> serde_json::Value {
    serde_json::json!({
        "Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE", "Tag": "TAG",
        "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tags: &[&str], digests: &[&str]) -> ImageSummary {
        ImageSummary {
            id: format!("sha256:{}", "ab".repeat(32)),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn cells(rows: &[Row]) -> Vec<(String, String, String)> {
        rows.iter()
            .map(|r| (r.repository.clone(), r.tag.clone(), r.digest.clone()))
            .collect()
    }

    #[test]
    fn digests_come_from_repo_digests_of_the_same_repository() {
        let d = format!("sha256:{}", "cd".repeat(32));
        let list = [
            image(
                &["127.0.0.1:5000/busybox:latest", "mine:1"],
                &[&format!("127.0.0.1:5000/busybox@{d}")],
            ),
            image(&[], &[&format!("gone@{d}")]),
            image(&[], &[]),
        ];
        let s = |x: &str| x.to_string();
        assert_eq!(
            cells(&rows(&list, false, true)),
            [
                (s("127.0.0.1:5000/busybox"), s("latest"), d.clone()),
                (s("mine"), s("1"), s("<none>")),
                (s("gone"), s("<none>"), d.clone()),
                (s("<none>"), s("<none>"), s("<none>")),
            ]
        );
        let plain = cells(&rows(&list, false, false));
        assert_eq!(plain[0], (s("127.0.0.1:5000/busybox"), s("latest"), s("<none>")));
        assert_eq!(plain[2], (s("gone"), s("<none>"), s("<none>")));
        assert_eq!(rows(&list, false, false)[0].id, "ab".repeat(6));
    }
}
