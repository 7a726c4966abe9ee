//! `/images/…`: list, import, inspect, history, raw config, tag, remove.

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{Body, Query, bytes, json};
use crate::engine::PieceReader;
use crate::layers::{self, ImageConfig, ImportOptions, Reference, Store};
use crate::layers::{ImageUser, Refusal, Removal};
use crate::time;
use crate::wire::{
    DeleteItem, GraphDriver, HistoryItem, ImageInspect, ImageMetadata, ImageSummary, RootFs, StreamMessage,
};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use std::io;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Runs a blocking store operation off the async threads.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, layers::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
        .map_err(ApiError::from)
}

/// `*` and `?` globbing, as Go's `path.Match` does for reference filters.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) && p[pi] != '*' {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

pub async fn list(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let filters = super::http::parse_filters(query.get("filters"))?;
    for key in filters.keys() {
        if !matches!(key.as_str(), "dangling" | "reference" | "label") {
            return Err(ApiError::bad_request(format!("invalid filter '{key}'")));
        }
    }
    let dangling = filters
        .get("dangling")
        .and_then(|v| v.first())
        .map(|v| v == "true" || v == "1");
    let references = filters.get("reference").cloned().unwrap_or_default();
    let labels = filters.get("label").cloned().unwrap_or_default();
    let list: Vec<ImageSummary> = daemon
        .store
        .images()
        .into_iter()
        .filter(|i| dangling.is_none_or(|d| d == i.tags.is_empty()))
        // With a reference filter, an image lists only its matching tags, as
        // Docker's does, and images with none drop out.
        .filter_map(|mut i| {
            if !references.is_empty() {
                i.tags
                    .retain(|t| references.iter().any(|r| glob(r, t.name()) || glob(r, &t.to_string())));
                if i.tags.is_empty() {
                    return None;
                }
            }
            Some(i)
        })
        .filter(|i| {
            let have = i.config.config.labels.clone().unwrap_or_default();
            labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => have.get(k).is_some_and(|x| x == v),
                None => have.contains_key(l),
            })
        })
        .map(|i| ImageSummary {
            id: i.id.to_string(),
            parent_id: i.parent.map(|p| p.to_string()).unwrap_or_default(),
            repo_tags: i.tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: i.repo_digests.clone(),
            created: i.created,
            size: i.size as i64,
            shared_size: -1,
            labels: i.config.config.labels.clone().unwrap_or_default(),
            containers: -1,
        })
        .collect();
    Ok(json(StatusCode::OK, &list))
}

pub async fn inspect(daemon: &Arc<Daemon>, name: &str) -> Reply {
    let i = daemon.store.image(name)?;
    // Named as overlay2 names them for images: the top layer is UpperDir,
    // the rest (top to bottom) LowerDir.
    let mut dirs = i
        .config
        .rootfs
        .diff_ids
        .iter()
        .rev()
        .map(|d| daemon.store.layer_dir(d).join("root").display().to_string());
    let mut graph_data = std::collections::BTreeMap::new();
    if let Some(top) = dirs.next() {
        graph_data.insert("UpperDir".to_string(), top);
    }
    let lower: Vec<String> = dirs.collect();
    if !lower.is_empty() {
        graph_data.insert("LowerDir".to_string(), lower.join(":"));
    }
    let inspect = ImageInspect {
        id: i.id.to_string(),
        repo_tags: i.tags.iter().map(|t| t.to_string()).collect(),
        repo_digests: i.repo_digests.clone(),
        parent: i.parent.map(|p| p.to_string()).unwrap_or_default(),
        comment: i.config.comment.clone().unwrap_or_default(),
        created: i.config.created.clone().unwrap_or_else(|| time::format_rfc3339(0, 0)),
        docker_version: String::new(),
        author: i.config.author.clone().unwrap_or_default(),
        config: crate::wire::with_docker_empty_fields(serde_json::to_value(&i.config.config).unwrap_or_default()),
        architecture: i.config.architecture.clone(),
        os: i.config.os.clone(),
        size: i.size as i64,
        graph_driver: GraphDriver {
            name: "strata".into(),
            data: graph_data,
        },
        root_fs: RootFs {
            kind: i.config.rootfs.kind.clone(),
            layers: i.config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
        },
        metadata: ImageMetadata {
            // Go's zero time, which the docker CLI expects when never tagged.
            last_tag_time: crate::wire::ZERO_TIME.into(),
        },
    };
    Ok(json(StatusCode::OK, &inspect))
}

/// The exact config bytes; the image ID is their sha256.
pub async fn config(daemon: &Arc<Daemon>, name: &str) -> Reply {
    let name = name.to_string();
    let raw = blocking(&daemon.store, move |s| s.config_bytes(&name)).await?;
    Ok(bytes(StatusCode::OK, "application/json", raw))
}

pub async fn history(daemon: &Arc<Daemon>, name: &str) -> Reply {
    let i = daemon.store.image(name)?;
    let ids = daemon.store.history_ids(&i.id);
    let all = daemon.store.images();
    let mut layers = i.config.rootfs.diff_ids.iter();
    let mut items: Vec<HistoryItem> = i
        .config
        .history
        .iter()
        .enumerate()
        .map(|(n, h)| {
            let size = if h.empty_layer {
                0
            } else {
                layers
                    .next()
                    .and_then(|d| daemon.store.layer(d))
                    .map(|l| l.size as i64)
                    .unwrap_or(0)
            };
            let id = ids.get(n).copied().flatten();
            let tags = id
                .and_then(|id| all.iter().find(|s| s.id == id))
                .map(|s| s.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>());
            HistoryItem {
                id: id.map(|d| d.to_string()).unwrap_or_else(|| "<missing>".into()),
                created: h.created.as_deref().and_then(time::parse_rfc3339).unwrap_or(0),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: tags.filter(|t| !t.is_empty()),
                size,
                comment: h.comment.clone().unwrap_or_default(),
            }
        })
        .collect();
    if items.is_empty() {
        // A config with no history still has an image to show.
        items.push(HistoryItem {
            id: i.id.to_string(),
            created: i.created,
            size: i.size as i64,
            ..Default::default()
        });
    }
    items.reverse();
    Ok(json(StatusCode::OK, &items))
}

pub async fn tag(daemon: &Arc<Daemon>, name: &str, query: &Query) -> Reply {
    let target = Reference::from_parts(query.get("repo").unwrap_or(""), query.get("tag").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = name.to_string();
    let tagged = target.to_string();
    blocking(&daemon.store, move |s| s.tag(&name, target)).await?;
    if let Ok(id) = daemon.store.resolve(&tagged) {
        daemon.engine.image_event("tag", &id.to_string(), &tagged);
    }
    Ok(super::http::empty(StatusCode::CREATED))
}

pub async fn remove(daemon: &Arc<Daemon>, name: &str, query: &Query) -> Reply {
    let name = name.to_string();
    let force = query.flag("force");
    let image_id = daemon.store.resolve(&name).ok().map(|d| d.to_string());
    let engine = daemon.engine.clone();
    let removals = blocking(&daemon.store, move |_| engine.remove_image(&name, force))
        .await?
        .map_err(refusal_error)?;
    // As moby's: an untag or a delete names the image by its ID.
    for r in &removals {
        let (action, id) = match r {
            Removal::Untagged(t) => ("untag", image_id.clone().unwrap_or_else(|| t.to_string())),
            Removal::Deleted(d) => ("delete", d.to_string()),
        };
        daemon.engine.image_event(action, &id, &id);
    }
    let items: Vec<DeleteItem> = removals.into_iter().map(super::convert::delete_item).collect();
    Ok(json(StatusCode::OK, &items))
}

/// A refused removal in Docker's words, which the docker CLI shows as they
/// are (a 409, as Docker's conflicts are).
fn refusal_error(refusal: Refusal) -> ApiError {
    let message = match refusal {
        Refusal::MultipleTags { image } => format!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            image.short()
        ),
        Refusal::TagInUse { tag, image, user } => match user {
            ImageUser::Container { id, .. } => format!(
                "conflict: unable to remove repository reference \"{tag}\" (must force) - container {id} is using its referenced image {}",
                image.short()
            ),
            ImageUser::Mount { dir } => format!(
                "conflict: unable to remove repository reference \"{tag}\" (must force) - image {} is mounted at {dir}",
                image.short()
            ),
        },
        Refusal::ImageInUse { image, user } => match user {
            ImageUser::Container { id, running } => format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by {} container {id}",
                image.short(),
                if running { "running" } else { "stopped" },
            ),
            ImageUser::Mount { dir } => format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by the mount at {dir}",
                image.short(),
            ),
        },
        Refusal::HasChildren { image } => format!(
            "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
            image.short()
        ),
    };
    ApiError::new(StatusCode::CONFLICT, message)
}

/// `POST /images/create?fromSrc=-`: import the request body as a one-layer
/// image. Everything the query says is validated before the body is read;
/// the reply comes once the layer and image are committed, so a bad archive
/// gets a plain 400 and the client's `Error response from daemon: …`.
pub async fn create(daemon: &Arc<Daemon>, query: &Query, body: Incoming) -> Reply {
    let result = import_options(query);
    let opts = match result {
        Ok(opts) => opts,
        Err(e) => {
            drain(body).await;
            return Err(e);
        }
    };
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
    let store = daemon.store.clone();
    let work = tokio::task::spawn_blocking(move || store.import(PieceReader::new(rx), &opts));
    pump(body, tx).await;
    let result = work
        .await
        .map_err(|e| ApiError::internal(format!("import task failed: {e}")))?
        .map_err(ApiError::from)?;
    tracing::info!(
        image = %result.image,
        layer = %result.layer,
        bytes = result.tar_bytes,
        entries = result.entries,
        "imported"
    );
    let id = result.image.to_string();
    daemon.engine.image_event("import", &id, &id);
    let mut line = serde_json::to_vec(&StreamMessage {
        status: Some(result.image.to_string()),
        ..Default::default()
    })
    .expect("serialises");
    line.push(b'\n');
    Ok(stream_reply(line))
}

fn stream_reply(body: Vec<u8>) -> Response<Body> {
    bytes(StatusCode::OK, "application/json", body)
}

fn import_options(query: &Query) -> Result<ImportOptions, ApiError> {
    match query.get("fromSrc") {
        Some("-") => {}
        Some(src) => {
            let src = crate::quote::excerpt(src, 128);
            return Err(ApiError::bad_request(format!(
                "importing from {src:?} is not supported: send the archive as the request body (fromSrc=-)"
            )));
        }
        // (`fromImage` is a pull: see `api::registry`.)
        None => return Err(ApiError::bad_request("fromSrc=- or fromImage is required")),
    }
    let repo = query.get("repo").unwrap_or("");
    let tag = if repo.is_empty() {
        None
    } else {
        Some(
            Reference::from_parts(repo, query.get("tag").unwrap_or(""))
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        )
    };
    let changes = query.get_all("changes");
    let mut scratch = ImageConfig::default();
    for c in &changes {
        scratch
            .apply_change(c)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    Ok(ImportOptions {
        tag,
        message: query.get("message").map(str::to_string),
        changes,
    })
}

/// Feeds the request body to the blocking reader. Once the reader is gone
/// (the archive was refused), the rest is read and dropped so that the
/// client, still uploading, gets the error reply instead of a reset.
pub(super) async fn pump(mut body: Incoming, tx: mpsc::Sender<io::Result<Bytes>>) {
    let mut tx = Some(tx);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                let Ok(data) = frame.into_data() else { continue };
                if let Some(sender) = &tx
                    && sender.send(Ok(data)).await.is_err()
                {
                    tx = None;
                }
            }
            Err(e) => {
                if let Some(sender) = &tx {
                    let _ = sender
                        .send(Err(io::Error::other(format!("reading the request body: {e}"))))
                        .await;
                }
                return;
            }
        }
    }
}

async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::http::parse_filters;

    #[test]
    fn globs_and_filters() {
        assert!(glob("busybox", "busybox"));
        assert!(glob("bus*", "busybox"));
        assert!(glob("b?sybox:*", "busybox:latest"));
        assert!(!glob("busy", "busybox"));
        assert!(glob("*x", "busybox"));
        assert!(!glob("*z", "busybox"));
        let f = parse_filters(Some(r#"{"reference":{"a":true},"dangling":["true"]}"#)).unwrap();
        assert_eq!(f["reference"], vec!["a"]);
        assert_eq!(f["dangling"], vec!["true"]);
        assert!(parse_filters(Some("[1]")).is_err());
        assert!(parse_filters(None).unwrap().is_empty());
    }

    #[test]
    fn refusals_are_worded_as_docker_words_them() {
        let image = layers::Digest::of(b"config");
        let short = image.short();
        let user = |running| ImageUser::Container {
            id: "0123456789ab".into(),
            running,
        };
        let cases = [
            (
                Refusal::MultipleTags { image },
                format!(
                    "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                ),
            ),
            (
                Refusal::TagInUse {
                    tag: Reference::parse("busybox").unwrap(),
                    image,
                    user: user(false),
                },
                format!(
                    "conflict: unable to remove repository reference \"busybox:latest\" (must force) - container 0123456789ab is using its referenced image {short}"
                ),
            ),
            (
                Refusal::ImageInUse {
                    image,
                    user: user(true),
                },
                format!(
                    "conflict: unable to delete {short} (cannot be forced) - image is being used by running container 0123456789ab"
                ),
            ),
            (
                Refusal::ImageInUse {
                    image,
                    user: user(false),
                },
                format!(
                    "conflict: unable to delete {short} (cannot be forced) - image is being used by stopped container 0123456789ab"
                ),
            ),
            (
                Refusal::HasChildren { image },
                format!("conflict: unable to delete {short} (cannot be forced) - image has dependent child images"),
            ),
        ];
        for (refusal, message) in cases {
            let e = refusal_error(refusal);
            assert_eq!(e.status, StatusCode::CONFLICT);
            assert_eq!(e.message, message);
        }
    }
}
