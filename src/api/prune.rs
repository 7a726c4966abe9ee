//! `POST /containers/prune`, `POST /images/prune`, `GET /system/df`, and
//! the prunes of what this daemon has none of (`/networks/prune`,
//! `/build/prune`), which `docker system prune` calls too.
//! Filters as moby's prune filters: `until`, `label`, `label!`, and for
//! images `dangling`.

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{Query, json};
use super::volumes::{bool_filter, label_matches};
use crate::wire::{ContainersPruneResponse, DeleteItem, DiskUsage, ImageSummary, ImagesPruneResponse};
use hyper::StatusCode;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The filters every prune takes.
#[derive(Default)]
struct PruneFilter {
    /// Only what was created before this (unix seconds).
    until: Option<i64>,
    labels: Vec<String>,
    not_labels: Vec<String>,
}

impl PruneFilter {
    /// Whether something created at `created` with `labels` is kept.
    fn keeps(&self, created: i64, labels: &BTreeMap<String, String>) -> bool {
        self.until.is_some_and(|t| created >= t)
            || !self.labels.iter().all(|l| label_matches(labels, l))
            || self.not_labels.iter().any(|l| label_matches(labels, l))
    }
}

fn invalid(key: &str, v: &str) -> ApiError {
    ApiError::bad_request(format!(
        "invalid filter '{}={}'",
        crate::quote::excerpt(key, 64),
        crate::quote::excerpt(v, 64)
    ))
}

/// The query's filters; keys other than the common ones and `extra` are
/// refused, as moby refuses them.
fn parse(query: &Query, extra: &[&str]) -> Result<(PruneFilter, BTreeMap<String, Vec<String>>), ApiError> {
    let filters = super::http::parse_filters(query.get("filters"))?;
    let mut f = PruneFilter::default();
    for (key, values) in &filters {
        match key.as_str() {
            "until" => {
                for v in values {
                    f.until = Some(until(v, crate::time::now_unix()).ok_or_else(|| invalid(key, v))?);
                }
            }
            "label" => f.labels.extend(values.iter().cloned()),
            "label!" => f.not_labels.extend(values.iter().cloned()),
            k if extra.contains(&k) => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{}'",
                    crate::quote::excerpt(key, 64)
                )));
            }
        }
    }
    Ok((f, filters))
}

/// moby's `until`: unix seconds (a fraction allowed), RFC 3339, or a Go
/// duration (`24h`, `1h30m`, `90s`) before `now`.
fn until(v: &str, now: i64) -> Option<i64> {
    if let Ok(secs) = v.parse::<f64>() {
        return Some(secs as i64);
    }
    if let Some(t) = crate::time::parse_rfc3339(v) {
        return Some(t);
    }
    let mut total = 0f64;
    let mut rest = v;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[u_end..];
    }
    Some(now - total as i64)
}

/// `POST /containers/prune`: stopped containers.
pub async fn containers(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let (f, _) = parse(query, &[])?;
    let (ids, space) = daemon
        .engine
        .container_prune(|r| {
            let created = crate::time::parse_rfc3339(&r.created).unwrap_or(0);
            f.keeps(created, &r.config.labels.clone().unwrap_or_default())
        })
        .await;
    tracing::info!(containers = ids.len(), bytes = space, "pruned containers");
    Ok(json(
        StatusCode::OK,
        &ContainersPruneResponse {
            containers_deleted: (!ids.is_empty()).then_some(ids),
            space_reclaimed: space,
        },
    ))
}

/// `POST /images/prune`: dangling images, or (`dangling=false`) every
/// unused one.
pub async fn images(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let (f, filters) = parse(query, &["dangling"])?;
    let mut all = false;
    for v in filters.get("dangling").into_iter().flatten() {
        all = !bool_filter("dangling", v)?;
    }
    let engine = daemon.engine.clone();
    let (removals, space) = tokio::task::spawn_blocking(move || {
        engine.image_prune(all, |i| {
            f.keeps(i.created, &i.config.config.labels.clone().unwrap_or_default())
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("prune task failed: {e}")))??;
    tracing::info!(removals = removals.len(), bytes = space, "pruned images");
    let items: Vec<DeleteItem> = removals.into_iter().map(super::convert::delete_item).collect();
    Ok(json(
        StatusCode::OK,
        &ImagesPruneResponse {
            images_deleted: (!items.is_empty()).then_some(items),
            space_reclaimed: space,
        },
    ))
}

/// `GET /system/df`: images (each with its shared bytes and containers),
/// containers with their writable layers' bytes, volumes with theirs.
pub async fn disk_usage(daemon: &Arc<Daemon>) -> Reply {
    let engine = daemon.engine.clone();
    let usage = tokio::task::spawn_blocking(move || engine.disk_usage())
        .await
        .map_err(|e| ApiError::internal(format!("df task failed: {e}")))?;
    let images = usage
        .images
        .into_iter()
        .map(|u| {
            let i = u.image;
            ImageSummary {
                id: i.id.to_string(),
                parent_id: i.parent.map(|p| p.to_string()).unwrap_or_default(),
                repo_tags: i.tags.iter().map(|t| t.to_string()).collect(),
                repo_digests: i.repo_digests.clone(),
                created: i.created,
                size: i.size as i64,
                shared_size: u.shared as i64,
                labels: i.config.config.labels.clone().unwrap_or_default(),
                containers: u.containers as i64,
            }
        })
        .collect();
    let containers = usage
        .containers
        .iter()
        .map(|(r, size)| {
            let mut s = super::containers::summary(r);
            s.size_rw = Some(*size as i64);
            s.size_root_fs = Some(*size as i64);
            s
        })
        .collect();
    let volumes = usage
        .volumes
        .iter()
        .map(|(v, size)| {
            let mut w = super::volumes::wire(v);
            w.usage_data = Some(serde_json::json!({"Size": size, "RefCount": v.users.len()}));
            w
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &DiskUsage {
            layers_size: usage.layers_size as i64,
            images,
            containers,
            volumes,
            build_cache: Vec::new(),
        },
    ))
}

/// `POST /build/prune`: this daemon has no build cache, so nothing goes.
pub fn build_cache() -> Reply {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"CachesDeleted": null, "SpaceReclaimed": 0}),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn until_takes_timestamps_and_durations() {
        let now = 1_000_000;
        assert_eq!(super::until("1700000000", now), Some(1_700_000_000));
        assert_eq!(super::until("1700000000.5", now), Some(1_700_000_000));
        assert_eq!(super::until("2023-11-14T22:13:20Z", now), Some(1_700_000_000));
        assert_eq!(super::until("1h30m", now), Some(now - 5400));
        assert_eq!(super::until("10s", now), Some(now - 10));
        assert_eq!(super::until("10x", now), None);
        assert_eq!(super::until("h", now), None);
    }
}
