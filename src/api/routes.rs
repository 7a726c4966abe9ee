//! Request dispatch: version prefixes, Docker's routes, common headers.

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{Body, Query, percent_decode};
use super::{
    archives, containers, copy, events, images, networks, prune, push, registry, resources, system, user_mounts,
    volumes,
};
use crate::wire::{API_VERSION, MIN_API_VERSION};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;

pub async fn handle(daemon: Arc<Daemon>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = route(daemon, req).await.unwrap_or_else(ApiError::into_response);
    tracing::debug!(%method, %path, status = %resp.status(), "request");
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static(API_VERSION),
    );
    h.insert(HeaderName::from_static("ostype"), HeaderValue::from_static("linux"));
    h.insert(
        HeaderName::from_static("server"),
        HeaderValue::from_static(concat!("Strata/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    Ok(resp)
}

/// Splits `/v1.NN/rest` into the version and `/rest`, refusing versions
/// outside what this daemon speaks, as Docker does.
fn strip_version(path: &str) -> Result<&str, ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(parsed) = parse_version(ver) else {
        return Ok(path);
    };
    if parsed > parse_version(API_VERSION).expect("const") {
        return Err(ApiError::bad_request(format!(
            "client version {ver} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if parsed < parse_version(MIN_API_VERSION).expect("const") {
        return Err(ApiError::bad_request(format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok(tail)
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

async fn route(daemon: Arc<Daemon>, mut req: Request<Incoming>) -> Reply {
    let raw_path = req.uri().path().to_string();
    let path = percent_decode(strip_version(&raw_path)?, false);
    let query = Query::parse(req.uri().query());
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => Ok(system::ping(&method)),
        (&Method::GET, ["version"]) => Ok(system::version()),
        (&Method::GET, ["info"]) => system::info(&daemon).await,
        (&Method::GET, ["events"]) => events::events(&daemon, &query).await,
        (&Method::GET, ["images", "json"]) => images::list(&daemon, &query).await,
        (&Method::POST, ["images", "create"]) if query.get("fromImage").is_some() => {
            registry::pull(&daemon, &query, req.headers()).await
        }
        (&Method::GET, ["images", "get"]) => archives::save(&daemon, query.get_all("names")).await,
        (&Method::POST, ["images", "load"]) => archives::load(&daemon, &query, req.into_body()).await,
        (&Method::POST, ["images", "create"]) => images::create(&daemon, &query, req.into_body()).await,
        (&Method::POST, ["auth"]) => registry::login(&daemon, req.into_body()).await,
        (&Method::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            push::push(&daemon, &name.join("/"), &query, req.headers()).await
        }
        (&Method::POST, ["images", "prune"]) => prune::images(&daemon, &query).await,
        (&Method::GET, ["system", "df"]) => prune::disk_usage(&daemon).await,
        (&Method::POST, ["build", "prune"]) => prune::build_cache(),
        (_, ["images", rest @ ..]) if !rest.is_empty() => image_route(&daemon, &method, rest, &query).await,
        (&Method::POST, ["containers", "create"]) => containers::create(&daemon, &query, req).await,
        (&Method::GET, ["containers", "json"]) => containers::list(&daemon, &query),
        (&Method::POST, ["containers", "prune"]) => prune::containers(&daemon, &query).await,
        (_, ["containers", id, rest @ ..]) => {
            let c = daemon.engine.get(id)?;
            match (&method, rest) {
                (&Method::GET, ["json"]) => containers::inspect(&daemon, &c),
                (&Method::POST, ["start"]) => containers::start(&daemon, &c).await,
                (&Method::POST, ["stop"]) => containers::stop(&daemon, &c, &query).await,
                (&Method::POST, ["kill"]) => containers::kill(&daemon, &c, &query),
                (&Method::POST, ["restart"]) => containers::restart(&daemon, &c, &query).await,
                (&Method::POST, ["rename"]) => {
                    daemon.engine.rename(&c, query.get("name").unwrap_or(""))?;
                    Ok(super::http::empty(StatusCode::NO_CONTENT))
                }
                (&Method::POST, ["wait"]) => containers::wait(&c, &query),
                (&Method::POST, ["attach"]) => containers::attach(&daemon, &c, &query, &mut req),
                (&Method::POST, ["resize"]) => containers::resize(&daemon, &c, &query),
                (&Method::GET, ["logs"]) => containers::logs(&c, &query).await,
                (&Method::GET, ["top"]) => containers::top(&c, &query),
                (&Method::GET, ["changes"]) => containers::changes(&daemon, &c).await,
                (&Method::GET, ["layer"]) => containers::layer(&daemon, &c).await,
                (&Method::GET, ["export"]) => archives::export(&daemon, &c).await,
                (&Method::HEAD, ["archive"]) => copy::head(&daemon, &c, id, &query).await,
                (&Method::GET, ["archive"]) => copy::get(&daemon, &c, id, &query).await,
                (&Method::PUT, ["archive"]) => copy::put(&daemon, &c, id, &query, req.into_body()).await,
                (&Method::POST, ["exec"]) => containers::exec_create(&daemon, &c, req).await,
                (&Method::DELETE, []) => containers::remove(&daemon, &c, &query).await,
                (&Method::POST, ["pause"]) => resources::pause(&daemon, &c).await,
                (&Method::POST, ["unpause"]) => resources::unpause(&daemon, &c).await,
                (&Method::POST, ["update"]) => resources::update(&daemon, &c, req).await,
                (&Method::GET, ["stats"]) => resources::stats(&c, &query).await,
                _ => Err(ApiError::not_found("page not found")),
            }
        }
        (&Method::POST, ["commit"]) => containers::commit(&daemon, &query).await,
        (&Method::POST, ["exec", id, "start"]) => containers::exec_start(&daemon, id, req).await,
        (&Method::POST, ["exec", id, "resize"]) => containers::exec_resize(&daemon, id, &query),
        (&Method::GET, ["exec", id, "json"]) => containers::exec_inspect(&daemon, id),
        (&Method::GET, ["networks"]) => networks::list(&daemon, &query),
        (&Method::POST, ["networks", "create"]) => networks::create(&daemon, req).await,
        (&Method::POST, ["networks", "prune"]) => networks::prune(&daemon, &query).await,
        (&Method::GET, ["networks", id]) => networks::inspect(&daemon, id),
        (&Method::DELETE, ["networks", id]) => networks::remove(&daemon, id).await,
        (&Method::POST, ["networks", id, "connect"]) => networks::connect(&daemon, id, req).await,
        (&Method::POST, ["networks", id, "disconnect"]) => networks::disconnect(&daemon, id, req).await,
        (_, ["networks", ..]) => Err(ApiError::not_found("page not found")),
        (&Method::GET, ["volumes"]) => volumes::list(&daemon, &query),
        (&Method::POST, ["volumes", "create"]) => volumes::create(&daemon, req).await,
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(&daemon, &query).await,
        (&Method::GET, ["volumes", name]) => volumes::inspect(&daemon, name),
        (&Method::DELETE, ["volumes", name]) => volumes::remove(&daemon, name, &query).await,
        (_, ["volumes", name, ..]) => Err(ApiError::not_found(format!(
            "get {}: no such volume",
            crate::quote::excerpt(name, 128)
        ))),
        (&Method::POST, ["strata", "mounts"]) => user_mounts::create(&daemon, req).await,
        (&Method::GET, ["strata", "mounts"]) => user_mounts::list(&daemon),
        (&Method::DELETE, ["strata", "mounts"]) => user_mounts::remove(&daemon, &query).await,
        (_, ["plugins", name, ..]) => Err(ApiError::not_found(format!(
            "plugin \"{}\" not found",
            crate::quote::excerpt(name, 128)
        ))),
        _ => Err(ApiError::not_found("page not found")),
    }
}

/// `/images/{name}/…`: names may contain `/`, so the action is the last
/// segment when it is one of the known actions.
async fn image_route(daemon: &Arc<Daemon>, method: &Method, rest: &[&str], query: &Query) -> Reply {
    let (name_parts, action) = match rest.split_last() {
        Some((last, init)) if !init.is_empty() && matches!(*last, "json" | "history" | "tag" | "config" | "get") => {
            (init, Some(*last))
        }
        _ => (rest, None),
    };
    let name = name_parts.join("/");
    match (method, action) {
        (&Method::GET, Some("json")) => images::inspect(daemon, &name).await,
        (&Method::GET, Some("history")) => images::history(daemon, &name).await,
        (&Method::GET, Some("config")) => images::config(daemon, &name).await,
        (&Method::GET, Some("get")) => archives::save(daemon, vec![name]).await,
        (&Method::POST, Some("tag")) => images::tag(daemon, &name, query).await,
        (&Method::DELETE, None) => images::remove(daemon, &name, query).await,
        _ => Err(ApiError::not_found("page not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strip_and_bound() {
        assert_eq!(strip_version("/v1.50/images/json").unwrap(), "/images/json");
        assert_eq!(strip_version("/v1.24/_ping").unwrap(), "/_ping");
        assert_eq!(strip_version("/images/json").unwrap(), "/images/json");
        assert_eq!(strip_version("/volumes").unwrap(), "/volumes");
        assert!(strip_version("/v1.99/info").is_err());
        assert!(strip_version("/v1.12/info").is_err());
    }
}
