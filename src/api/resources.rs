//! `POST /containers/{id}/pause`, `/unpause` and `/update`, and `GET
//! /containers/{id}/stats`: thin over the engine (`engine::pause`,
//! `engine::update`, `engine::stats`).

use super::handle::{Daemon, Reply};
use super::http::{Query, empty, json};
use crate::engine::Container;
use crate::engine::stats::Sample;
use crate::wire::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, PidsStats, Stats, ThrottlingData, ZERO_TIME,
};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::body::Incoming;
use std::sync::Arc;

pub async fn pause(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    daemon.engine.pause(c).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn unpause(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    daemon.engine.unpause(c).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn update(daemon: &Arc<Daemon>, c: &Arc<Container>, req: hyper::Request<Incoming>) -> Reply {
    let body = super::http::read_body(req.into_body(), super::http::JSON_BODY_LIMIT).await?;
    let update: serde_json::Map<String, serde_json::Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| super::error::ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    let warnings = daemon.engine.update(c, update).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "Warnings": warnings })))
}

/// The engine's sample as Docker's `StatsJSON`; `prev` gives `precpu_stats`
/// and `preread`. No sample (not running): zeros, as Docker.
fn wire_stats(c: &Container, sample: Option<&Sample>, prev: Option<&Sample>) -> Stats {
    let name = format!("/{}", c.record().name);
    let Some(s) = sample else {
        return Stats {
            name,
            id: c.id.clone(),
            read: ZERO_TIME.into(),
            preread: ZERO_TIME.into(),
            ..Default::default()
        };
    };
    let k = &s.counters;
    let blkio: Vec<BlkioEntry> = k
        .blkio
        .iter()
        .map(|&(major, minor, op, value)| BlkioEntry {
            major,
            minor,
            op: op.into(),
            value,
        })
        .collect();
    Stats {
        name,
        id: c.id.clone(),
        read: s.read.clone(),
        preread: prev.map_or_else(|| ZERO_TIME.into(), |p| p.read.clone()),
        pids_stats: PidsStats {
            current: Some(k.pids),
            limit: k.pids_limit,
        },
        blkio_stats: BlkioStats {
            io_service_bytes_recursive: Some(blkio),
            ..Default::default()
        },
        cpu_stats: cpu_stats(s),
        precpu_stats: prev.map(cpu_stats).unwrap_or_default(),
        memory_stats: MemoryStats {
            usage: Some(k.memory_usage),
            max_usage: Some(k.memory_max_usage),
            stats: Some(k.memory_stat.clone()),
            failcnt: Some(k.memory_failcnt),
            limit: Some(k.memory_limit),
        },
        ..Default::default()
    }
}

fn cpu_stats(s: &Sample) -> CpuStats {
    let k = &s.counters;
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: k.cpu_total,
            percpu_usage: (!k.cpu_percpu.is_empty()).then(|| k.cpu_percpu.clone()),
            usage_in_kernelmode: k.cpu_kernel,
            usage_in_usermode: k.cpu_user,
        },
        system_cpu_usage: Some(s.system_cpu),
        online_cpus: Some(s.online_cpus),
        throttling_data: ThrottlingData {
            periods: k.periods,
            throttled_periods: k.throttled_periods,
            throttled_time: k.throttled_time,
        },
    }
}

fn line(stats: &Stats) -> Bytes {
    let mut v = serde_json::to_vec(stats).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// `GET /containers/{id}/stats`: one object (`stream=false`: two samples
/// a second apart so that CPU % can be computed, unless `one-shot`), or one
/// a second until the client goes (`stream=true`, the default).
pub async fn stats(c: &Arc<Container>, query: &Query) -> Reply {
    let stream = query.get("stream").is_none_or(|v| v == "1" || v == "true");
    let one_shot = query.flag("one-shot");
    if !stream {
        let first = c.stats_sample();
        let (prev, now) = if one_shot || first.is_none() {
            (None, first)
        } else {
            tokio::time::sleep(INTERVAL).await;
            (first, c.stats_sample())
        };
        return Ok(json(StatusCode::OK, &wire_stats(c, now.as_ref(), prev.as_ref())));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let c = c.clone();
    tokio::spawn(async move {
        let mut prev: Option<Sample> = None;
        loop {
            let now = c.stats_sample();
            if tx
                .send(line(&wire_stats(&c, now.as_ref(), prev.as_ref())))
                .await
                .is_err()
            {
                return;
            }
            prev = now;
            tokio::time::sleep(INTERVAL).await;
        }
    });
    let mut resp = hyper::Response::new(super::http::channel(rx));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// How often a stream samples (Docker's: once a second).
const INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
