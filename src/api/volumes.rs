//! `/volumes…`: the volume store over the engine (moby's
//! `api/server/router/volume` shapes and filters).

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{Query, empty, json};
use crate::engine::volumes::{ANONYMOUS_LABEL, VolumeInfo, VolumeView};
use crate::wire::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn wire(v: &VolumeView) -> Volume {
    Volume {
        created_at: v.info.created_at.clone(),
        driver: v.info.driver.clone(),
        labels: v.info.labels.clone(),
        mountpoint: v.mountpoint.display().to_string(),
        name: v.info.name.clone(),
        options: v.info.options.clone(),
        scope: "local".into(),
        usage_data: None,
    }
}

/// `label=KEY` or `label=KEY=VALUE` against a volume's labels.
pub(super) fn label_matches(labels: &BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

pub(super) fn bool_filter(key: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid filter '{key}={}'",
            crate::quote::excerpt(v, 64)
        ))),
    }
}

pub async fn create(daemon: &Arc<Daemon>, req: Request<Incoming>) -> Reply {
    let body = super::http::read_body(req.into_body(), super::http::JSON_BODY_LIMIT).await?;
    let body: VolumeCreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        VolumeCreateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    let engine = daemon.engine.clone();
    let view = tokio::task::spawn_blocking(move || {
        let name = if body.name.is_empty() {
            crate::engine::random_volume_name()?
        } else {
            body.name
        };
        engine.volume_create(VolumeInfo {
            name,
            driver: body.driver,
            labels: body.labels,
            options: body.driver_opts,
            created_at: String::new(),
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("volume task failed: {e}")))??;
    Ok(json(StatusCode::CREATED, &wire(&view)))
}

pub fn list(daemon: &Daemon, query: &Query) -> Reply {
    let filters = super::http::parse_filters(query.get("filters"))?;
    let mut volumes = daemon.engine.volume_list();
    for (key, values) in &filters {
        for v in values {
            match key.as_str() {
                "name" => {}
                "label" => {}
                "driver" => {}
                "dangling" => {
                    bool_filter(key, v)?;
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter '{}'",
                        crate::quote::excerpt(key, 64)
                    )));
                }
            }
        }
        volumes.retain(|vol| match key.as_str() {
            "name" => values.iter().any(|n| vol.info.name.contains(n.as_str())),
            "label" => values.iter().all(|l| label_matches(&vol.info.labels, l)),
            "driver" => values.contains(&vol.info.driver),
            _ => values
                .iter()
                .any(|d| bool_filter(key, d).is_ok_and(|dangling| dangling == vol.users.is_empty())),
        });
    }
    Ok(json(
        StatusCode::OK,
        &VolumeListResponse {
            volumes: volumes.iter().map(wire).collect(),
            warnings: None,
        },
    ))
}

pub fn inspect(daemon: &Daemon, name: &str) -> Reply {
    Ok(json(StatusCode::OK, &wire(&daemon.engine.volume(name)?)))
}

pub async fn remove(daemon: &Arc<Daemon>, name: &str, query: &Query) -> Reply {
    let (engine, name, force) = (daemon.engine.clone(), name.to_string(), query.flag("force"));
    tokio::task::spawn_blocking(move || engine.volume_remove(&name, force))
        .await
        .map_err(|e| ApiError::internal(format!("volume task failed: {e}")))??;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Anonymous unused volumes (all unused ones with `all=true`), narrowed
/// by `label=` / `label!=` filters.
pub async fn prune(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let filters = super::http::parse_filters(query.get("filters"))?;
    let mut all = false;
    for (key, values) in &filters {
        match key.as_str() {
            "all" => {
                all = values
                    .iter()
                    .map(|v| bool_filter(key, v))
                    .collect::<Result<Vec<_>, _>>()?
                    .contains(&true)
            }
            "label" | "label!" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{}'",
                    crate::quote::excerpt(key, 64)
                )));
            }
        }
    }
    let engine = daemon.engine.clone();
    let (names, space) = tokio::task::spawn_blocking(move || {
        engine.volume_prune(|v| {
            let labels = &v.info.labels;
            (!all && !labels.contains_key(ANONYMOUS_LABEL))
                || filters
                    .get("label")
                    .is_some_and(|l| !l.iter().all(|w| label_matches(labels, w)))
                || filters
                    .get("label!")
                    .is_some_and(|l| l.iter().any(|w| label_matches(labels, w)))
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("volume task failed: {e}")))?;
    Ok(json(
        StatusCode::OK,
        &VolumePruneResponse {
            volumes_deleted: names,
            space_reclaimed: space,
        },
    ))
}
