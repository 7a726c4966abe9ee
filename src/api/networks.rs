//! `/networks…`: networks over the engine (moby's
//! `api/server/router/network` shapes, filters and errors).

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{Query, empty, json};
use crate::engine::NetworkView;
use crate::engine::networks::NetworkSpec;
use crate::wire::{
    ConfigReference, EndpointResource, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkPruneResponse, NetworkResource,
};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::collections::BTreeMap;
use std::sync::Arc;

fn wire(v: &NetworkView) -> NetworkResource {
    let n = &v.info;
    let config = if n.subnet.is_empty() {
        Vec::new()
    } else {
        vec![IpamConfig {
            subnet: n.subnet.clone(),
            gateway: n.gateway.clone(),
            ..Default::default()
        }]
    };
    let containers = v
        .members
        .iter()
        .map(|m| {
            (
                m.id.clone(),
                EndpointResource {
                    name: m.name.clone(),
                    endpoint_id: m.id.clone(),
                    mac_address: String::new(),
                    ipv4_address: format!("{}/{}", m.ip, m.prefix_len),
                    ipv6_address: String::new(),
                },
            )
        })
        .collect();
    NetworkResource {
        name: n.name.clone(),
        id: n.id.clone(),
        created: if n.created.is_empty() {
            crate::wire::ZERO_TIME.to_string()
        } else {
            n.created.clone()
        },
        scope: "local".into(),
        driver: n.driver.clone(),
        enable_ipv4: n.driver != "null",
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".into(),
            options: Some(BTreeMap::new()),
            config: Some(config),
        },
        internal: n.internal,
        attachable: n.attachable,
        ingress: false,
        config_from: ConfigReference::default(),
        config_only: false,
        containers,
        options: BTreeMap::new(),
        labels: n.labels.clone(),
    }
}

fn label_matches(labels: &BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

fn bad_filter(key: &str) -> ApiError {
    ApiError::bad_request(format!("invalid filter '{}'", crate::quote::excerpt(key, 64)))
}

/// Refuses what a create asks for that is not honoured, by its name.
fn spec(body: NetworkCreateRequest) -> Result<NetworkSpec, ApiError> {
    let refuse = |what: &str| {
        Err(ApiError::bad_request(format!(
            "strata does not support {what} for networks yet"
        )))
    };
    if body.name.is_empty() {
        return Err(ApiError::bad_request("network name must not be empty"));
    }
    if !matches!(body.scope.as_str(), "" | "local") {
        return refuse("a scope other than local");
    }
    if body.ingress {
        return refuse("Ingress");
    }
    if body.config_only || body.config_from.as_ref().is_some_and(|v| !v.is_null()) {
        return refuse("ConfigOnly and ConfigFrom");
    }
    if body.enable_ipv6 == Some(true) {
        return refuse("IPv6 (EnableIPv6)");
    }
    if body.enable_ipv4 == Some(false) {
        return refuse("disabling IPv4 (EnableIPv4)");
    }
    if body.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return refuse("driver options (--opt)");
    }
    let ipam = body.ipam.unwrap_or_default();
    if !matches!(ipam.driver.as_str(), "" | "default") {
        return refuse("IPAM drivers other than default (--ipam-driver)");
    }
    if ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return refuse("IPAM options (--ipam-opt)");
    }
    let configs = ipam.config.unwrap_or_default();
    if configs.len() > 1 {
        return refuse("more than one subnet");
    }
    let config = configs.into_iter().next().unwrap_or_default();
    if !config.ip_range.is_empty() {
        return refuse("IPAM IPRange (--ip-range)");
    }
    if !config.auxiliary_addresses.is_empty() {
        return refuse("IPAM AuxiliaryAddresses (--aux-address)");
    }
    if config.subnet.is_empty() && !config.gateway.is_empty() {
        return Err(ApiError::bad_request("a gateway needs a subnet (--subnet)"));
    }
    Ok(NetworkSpec {
        name: body.name,
        driver: body.driver,
        internal: body.internal,
        attachable: body.attachable,
        labels: body.labels.unwrap_or_default(),
        subnet: config.subnet,
        gateway: config.gateway,
    })
}

async fn read_json<T: serde::de::DeserializeOwned + Default>(req: Request<Incoming>) -> Result<T, ApiError> {
    let body = super::http::read_body(req.into_body(), super::http::JSON_BODY_LIMIT).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::engine::Error> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("network task failed: {e}")))??)
}

pub async fn create(daemon: &Arc<Daemon>, req: Request<Incoming>) -> Reply {
    let spec = spec(read_json(req).await?)?;
    let engine = daemon.engine.clone();
    let info = blocking(move || engine.network_create(spec)).await?;
    Ok(json(
        StatusCode::CREATED,
        &NetworkCreateResponse {
            id: info.id,
            warning: String::new(),
        },
    ))
}

pub fn list(daemon: &Daemon, query: &Query) -> Reply {
    let filters = super::http::parse_filters(query.get("filters"))?;
    let mut nets = daemon.engine.network_list();
    for (key, values) in &filters {
        if !matches!(
            key.as_str(),
            "name" | "id" | "driver" | "label" | "type" | "scope" | "dangling"
        ) {
            return Err(bad_filter(key));
        }
        for v in values {
            if key == "type" && !matches!(v.as_str(), "custom" | "builtin") {
                return Err(ApiError::bad_request(format!(
                    "invalid filter: 'type'='{}'",
                    crate::quote::excerpt(v, 64)
                )));
            }
        }
        nets.retain(|n| {
            let i = &n.info;
            match key.as_str() {
                "name" => values.iter().any(|v| i.name.contains(v.as_str())),
                "id" => values.iter().any(|v| i.id.starts_with(v.as_str())),
                "driver" => values.contains(&i.driver),
                "label" => values.iter().all(|l| label_matches(&i.labels, l)),
                "scope" => values.iter().any(|v| v == "local"),
                "dangling" => values
                    .iter()
                    .any(|v| (v == "true" || v == "1") == (!i.is_predefined() && n.members.is_empty())),
                _ => values.iter().any(|v| (v == "builtin") == i.is_predefined()),
            }
        });
    }
    Ok(json(StatusCode::OK, &nets.iter().map(wire).collect::<Vec<_>>()))
}

pub fn inspect(daemon: &Daemon, key: &str) -> Reply {
    Ok(json(StatusCode::OK, &wire(&daemon.engine.network(key)?)))
}

pub async fn remove(daemon: &Arc<Daemon>, key: &str) -> Reply {
    let (engine, key) = (daemon.engine.clone(), key.to_string());
    blocking(move || engine.network_remove(&key)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Unused user-defined networks, narrowed by `label=`/`label!=` (and
/// `until=`, refused: not kept apart from the creation times yet).
pub async fn prune(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let filters = super::http::parse_filters(query.get("filters"))?;
    for key in filters.keys() {
        if !matches!(key.as_str(), "label" | "label!") {
            return Err(bad_filter(key));
        }
    }
    let engine = daemon.engine.clone();
    let names = blocking(move || {
        Ok(engine.network_prune(|n| {
            filters
                .get("label")
                .is_some_and(|l| !l.iter().all(|w| label_matches(&n.labels, w)))
                || filters
                    .get("label!")
                    .is_some_and(|l| l.iter().any(|w| label_matches(&n.labels, w)))
        }))
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &NetworkPruneResponse {
            networks_deleted: Some(names),
        },
    ))
}

pub async fn connect(daemon: &Arc<Daemon>, key: &str, req: Request<Incoming>) -> Reply {
    let body: NetworkConnectRequest = read_json(req).await?;
    let (engine, key) = (daemon.engine.clone(), key.to_string());
    blocking(move || engine.network_connect(&key, &body.container, body.endpoint_config.as_ref())).await?;
    Ok(empty(StatusCode::OK))
}

pub async fn disconnect(daemon: &Arc<Daemon>, key: &str, req: Request<Incoming>) -> Reply {
    let body: NetworkDisconnectRequest = read_json(req).await?;
    let (engine, key) = (daemon.engine.clone(), key.to_string());
    blocking(move || engine.network_disconnect(&key, &body.container)).await?;
    Ok(empty(StatusCode::OK))
}
