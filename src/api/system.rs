//! `/_ping`, `/version`, `/info`.

use super::handle::{Daemon, Reply};
use super::http::{Body, bytes, json};
use crate::layers::{Digest, image::ImageConfig};
use crate::sys;
use crate::time;
use crate::wire::{API_VERSION, ComponentVersion, MIN_API_VERSION, Platform, SwarmInfo, SystemInfo, SystemVersion};
use hyper::header::{CACHE_CONTROL, HeaderName, HeaderValue, PRAGMA};
use hyper::{Method, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn ping(method: &Method) -> Response<Body> {
    let mut r = if method == Method::HEAD {
        bytes(StatusCode::OK, "text/plain; charset=utf-8", "")
    } else {
        bytes(StatusCode::OK, "text/plain; charset=utf-8", "OK")
    };
    let h = r.headers_mut();
    h.insert(
        HeaderName::from_static("docker-experimental"),
        HeaderValue::from_static("false"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

pub fn version() -> Response<Body> {
    let kernel = sys::kernel_release();
    let arch = ImageConfig::host_architecture().to_string();
    let engine = ComponentVersion {
        name: "Engine".into(),
        version: crate::VERSION.into(),
        details: BTreeMap::from([
            ("ApiVersion".to_string(), API_VERSION.to_string()),
            ("MinAPIVersion".to_string(), MIN_API_VERSION.to_string()),
            ("Os".to_string(), "linux".to_string()),
            ("Arch".to_string(), arch.clone()),
            ("KernelVersion".to_string(), kernel.clone()),
            ("GitCommit".to_string(), git_commit().to_string()),
            ("GoVersion".to_string(), "n/a (Rust)".to_string()),
            ("Experimental".to_string(), "false".to_string()),
        ]),
    };
    json(
        StatusCode::OK,
        &SystemVersion {
            platform: Platform { name: "Strata".into() },
            components: vec![engine],
            version: crate::VERSION.into(),
            api_version: API_VERSION.into(),
            min_api_version: MIN_API_VERSION.into(),
            git_commit: git_commit().into(),
            go_version: "n/a (Rust)".into(),
            os: "linux".into(),
            arch,
            kernel_version: kernel,
            build_time: String::new(),
        },
    )
}

fn git_commit() -> &'static str {
    option_env!("STRATA_GIT_COMMIT").unwrap_or("unknown")
}

pub async fn info(daemon: &Arc<Daemon>) -> Reply {
    let store = daemon.store.clone();
    let store_info = store.info();
    let (secs, nanos) = time::now();
    let root = store_info.root.display().to_string();
    let info = SystemInfo {
        id: Digest::of(format!("{}:{root}", sys::hostname()).as_bytes()).short(),
        images: store_info.images as u64,
        driver: "strata".into(),
        driver_status: vec![
            ["Layers".into(), store_info.layers.to_string()],
            ["Union filesystem".into(), "FUSE (coming)".into()],
        ],
        docker_root_dir: root,
        kernel_version: sys::kernel_release(),
        operating_system: os_release("PRETTY_NAME").unwrap_or_else(|| "Linux".into()),
        os_type: "linux".into(),
        os_version: os_release("VERSION_ID").unwrap_or_default(),
        architecture: std::env::consts::ARCH.into(),
        ncpu: std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1),
        mem_total: mem_total().unwrap_or(0),
        n_events_listener: daemon.engine.events().subscribers() as u64,
        name: sys::hostname(),
        server_version: crate::VERSION.into(),
        logging_driver: "json-file".into(),
        cgroup_driver: "none".into(),
        cgroup_version: String::new(),
        default_runtime: "strata".into(),
        security_options: if sys::is_root() {
            vec![]
        } else {
            vec!["name=rootless".into()]
        },
        swarm: SwarmInfo {
            local_node_state: "inactive".into(),
        },
        warnings: Vec::new(),
        system_time: time::format_rfc3339(secs, nanos),
        ..Default::default()
    };
    Ok(json(StatusCode::OK, &info))
}

fn os_release(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
}

fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
