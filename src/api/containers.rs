//! `/containers/…` and `/exec/…`: the lifecycle, streams and execs, over
//! the engine.

use super::convert;
use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::hijack::{self, Session};
use super::http::{Query, channel, empty, json};
use crate::engine::filter::ContainerFilter;
use crate::engine::output::{self, Chunk, read_log};
use crate::engine::status::{State, Status};
use crate::engine::{CommitOptions, Container, Engine, Exec, record::Record};
use crate::layers::Reference;
use crate::time;
use crate::wire::display::human_duration;
use crate::wire::{
    ChangeItem, ContainerCreateRequest, ContainerInspect, ContainerState, ContainerSummary, ExecConfig, ExecInspect,
    ExecProcessConfig, ExecStartConfig, GraphDriver, IdResponse, SummaryHostConfig, TopResponse, WaitResponse,
};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;
use tokio::sync::mpsc;

async fn read_json<T: serde::de::DeserializeOwned + Default>(req: Request<Incoming>) -> Result<T, ApiError> {
    let body = super::http::read_body(req.into_body(), super::http::JSON_BODY_LIMIT).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

fn engine(daemon: &Daemon) -> &Arc<Engine> {
    &daemon.engine
}

pub async fn create(daemon: &Arc<Daemon>, query: &Query, req: Request<Incoming>) -> Reply {
    let body: ContainerCreateRequest = read_json(req).await?;
    let engine = engine(daemon).clone();
    let name = query.get("name").map(str::to_string);
    let refusals = super::unsupported::check_create(&body, !crate::sys::is_root());
    let (config, host_config) = convert::create_spec(&body)?;
    // As Docker: a host network has no ports to publish (none has none either, silently).
    let published = host_config
        .extra
        .get("PortBindings")
        .and_then(serde_json::Value::as_object)
        .is_some_and(|m| !m.is_empty());
    let warnings = if host_config.network_mode == "host" && published {
        vec!["Published ports are discarded when using host network mode".to_string()]
    } else {
        Vec::new()
    };
    let c = tokio::task::spawn_blocking(move || engine.create(name.as_deref(), config, host_config, refusals))
        .await
        .map_err(|e| ApiError::internal(format!("create task failed: {e}")))??;
    Ok(json(
        StatusCode::CREATED,
        &IdResponse {
            id: c.id.clone(),
            warnings: Some(warnings),
        },
    ))
}

/// `Up 5 seconds`, `Exited (0) 3 seconds ago`, `Created`, as `docker ps`.
fn status_text(r: &Record) -> String {
    let since = |t: &str| time::now_unix() - time::parse_rfc3339(t).unwrap_or_else(time::now_unix);
    match r.state.status {
        Status::Running if r.state.paused => format!("Up {} (Paused)", human_duration(since(&r.state.started_at))),
        Status::Running => format!("Up {}", human_duration(since(&r.state.started_at))),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            r.state.exit_code,
            human_duration(since(&r.state.finished_at))
        ),
        Status::Created => "Created".into(),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            r.state.exit_code,
            human_duration(since(&r.state.finished_at))
        ),
    }
}

/// The engine's state as Docker's `State` object.
fn wire_state(s: &State) -> ContainerState {
    ContainerState {
        status: s.docker_status().into(),
        // Docker's: a restarting container counts as running.
        running: s.is_running() || s.is_restarting(),
        paused: s.paused,
        restarting: s.is_restarting(),
        oom_killed: s.oom_killed,
        pid: s.pid,
        exit_code: s.exit_code,
        error: s.error.clone(),
        started_at: s.started_at.clone(),
        finished_at: s.finished_at.clone(),
        ..Default::default()
    }
}

fn command_text(r: &Record) -> String {
    r.argv().join(" ")
}

pub fn list(daemon: &Daemon, query: &Query) -> Reply {
    let filters = super::http::parse_filters(query.get("filters"))?;
    let filter = ContainerFilter::parse(&filters, &daemon.store, |name| {
        engine(daemon).get(name).ok().map(|c| c.record())
    })?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|n| *n > 0);
    // As Docker: a limit, or a status filter, includes stopped containers.
    let all = query.flag("all") || limit.is_some() || filter.wants_all;
    let parent_of = |id: &crate::layers::Digest| daemon.store.image(&id.to_string()).ok().and_then(|i| i.parent);
    let mut rows: Vec<(Arc<Container>, Record)> = engine(daemon)
        .all()
        .into_iter()
        .map(|c| {
            let r = c.record();
            (c, r)
        })
        .filter(|(_, r)| all || r.state.is_running() || r.state.is_restarting())
        .filter(|(_, r)| filter.matches(r, parent_of))
        .collect();
    // Newest first; RFC 3339 strings of one format sort as times.
    rows.sort_by(|a, b| b.1.created.cmp(&a.1.created));
    if let Some(n) = limit {
        rows.truncate(n as usize);
    }
    // `size=1` (`ps -s`): the writable layer's bytes, and with the image's
    // (`virtual`), walked only for the rows listed.
    let sizes = query.flag("size");
    let list: Vec<ContainerSummary> = rows
        .into_iter()
        .map(|(c, r)| {
            let mut s = summary(&r);
            if sizes {
                let rw = engine(daemon).writable_size(&c) as i64;
                let image = daemon.store.image(&r.image.to_string()).map_or(0, |i| i.size as i64);
                s.size_rw = Some(rw);
                s.size_root_fs = Some(rw + image);
            }
            s
        })
        .collect();
    Ok(json(StatusCode::OK, &list))
}

/// A container as lists show it (`ps`, `system df`).
pub(super) fn summary(r: &Record) -> ContainerSummary {
    let image_name = if r.config.image.is_empty() {
        r.image.to_string()
    } else {
        r.config.image.clone()
    };
    ContainerSummary {
        id: r.id.clone(),
        names: vec![format!("/{}", r.name)],
        image: image_name,
        image_id: r.image.to_string(),
        command: command_text(r),
        created: time::parse_rfc3339(&r.created).unwrap_or(0),
        state: r.state.status.as_str().into(),
        status: status_text(r),
        labels: r.config.labels.clone().unwrap_or_default(),
        ports: super::network::summary_ports(r),
        host_config: SummaryHostConfig {
            network_mode: r.host_config.network_mode.clone(),
        },
        ..Default::default()
    }
}

/// A record's mounts as Docker's `Mounts`.
fn mount_points(daemon: &Daemon, r: &Record) -> Vec<serde_json::Value> {
    use crate::engine::mounts::MountType;
    r.mounts
        .iter()
        .map(|m| {
            let (kind, name, source, driver) = match m.kind {
                MountType::Bind => ("bind", String::new(), m.source.clone(), String::new()),
                MountType::Volume => (
                    "volume",
                    m.source.clone(),
                    daemon.engine.volume_dir(&m.source).display().to_string(),
                    "local".to_string(),
                ),
                MountType::Tmpfs => ("tmpfs", String::new(), String::new(), String::new()),
            };
            let point = crate::wire::MountPoint {
                kind: kind.into(),
                name,
                source,
                destination: m.target.clone(),
                driver,
                mode: m.mode.clone(),
                rw: !m.readonly,
                propagation: if m.kind == MountType::Bind {
                    "rprivate".into()
                } else {
                    String::new()
                },
            };
            serde_json::to_value(point).unwrap_or_default()
        })
        .collect()
}

pub fn inspect(daemon: &Daemon, c: &Container) -> Reply {
    let r = c.record();
    let dir = c.dir().display().to_string();
    let mut data = std::collections::BTreeMap::new();
    data.insert("UpperDir".to_string(), format!("{dir}/upper"));
    data.insert("WorkDir".to_string(), format!("{dir}/work"));
    data.insert("MergedDir".to_string(), format!("{dir}/merged"));
    data.insert(
        "LowerDir".to_string(),
        daemon
            .store
            .image(&r.image.to_string())
            .map(|img| {
                img.config
                    .rootfs
                    .diff_ids
                    .iter()
                    .rev()
                    .map(|d| daemon.store.layer_dir(d).join("root").display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .unwrap_or_default(),
    );
    let exec_ids = engine(daemon).exec_ids(&r.id);
    let (mut config, mut host_config) = convert::inspect_config(&r.config, &r.host_config)?;
    if let Some(links) = crate::engine::links_shown(&r) {
        host_config.extra.insert("Links".into(), serde_json::json!(links));
    }
    // Docker's container Config always has these two, null when unset.
    for key in ["Volumes", "OnBuild"] {
        config.extra.entry(key.to_string()).or_insert(serde_json::Value::Null);
    }
    let inspect = ContainerInspect {
        id: r.id.clone(),
        created: r.created.clone(),
        path: r.path.clone(),
        args: r.args.clone(),
        state: wire_state(&r.state),
        image: r.image.to_string(),
        resolv_conf_path: format!("{dir}/resolv.conf"),
        hostname_path: format!("{dir}/hostname"),
        hosts_path: format!("{dir}/hosts"),
        log_path: c.output.log_path().map(|p| p.display().to_string()).unwrap_or_default(),
        name: format!("/{}", r.name),
        restart_count: r.restart_count,
        driver: "stratafs".into(),
        platform: "linux".into(),
        exec_ids: (!exec_ids.is_empty()).then_some(exec_ids),
        host_config,
        graph_driver: GraphDriver {
            name: "stratafs".into(),
            data,
        },
        mounts: mount_points(daemon, &r),
        config,
        network_settings: super::network::network_settings(
            &r,
            &daemon
                .engine
                .network_list()
                .into_iter()
                .map(|n| (n.info.id, n.info.gateway))
                .collect(),
        ),
    };
    Ok(json(StatusCode::OK, &inspect))
}

pub async fn start(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    if engine(daemon).start(c).await? {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Ok(empty(StatusCode::NOT_MODIFIED))
    }
}

fn timeout_param(query: &Query) -> Result<Option<i64>, ApiError> {
    match query
        .get("t")
        .or_else(|| query.get("timeout"))
        .filter(|t| !t.is_empty())
    {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid timeout {t:?}"))),
    }
}

pub async fn stop(daemon: &Arc<Daemon>, c: &Arc<Container>, query: &Query) -> Reply {
    let t = timeout_param(query)?;
    if engine(daemon).stop(c, t, query.get("signal")).await? {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Ok(empty(StatusCode::NOT_MODIFIED))
    }
}

pub fn kill(daemon: &Daemon, c: &Container, query: &Query) -> Reply {
    engine(daemon).kill(c, query.get("signal"))?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn restart(daemon: &Arc<Daemon>, c: &Arc<Container>, query: &Query) -> Reply {
    let t = timeout_param(query)?;
    engine(daemon).restart(c, t).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn remove(daemon: &Arc<Daemon>, c: &Arc<Container>, query: &Query) -> Reply {
    engine(daemon).remove(c, query.flag("force")).await?;
    if query.flag("v") {
        engine(daemon).remove_anonymous_volumes(&c.record().mounts);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `/wait`: the head goes out at once; the body when the condition holds.
pub fn wait(c: &Arc<Container>, query: &Query) -> Reply {
    let condition = query
        .get("condition")
        .filter(|s| !s.is_empty())
        .unwrap_or("not-running");
    if !matches!(condition, "not-running" | "next-exit" | "removed") {
        return Err(ApiError::bad_request(format!("invalid condition: {condition:?}")));
    }
    let mut progress = c.progress();
    let start = *progress.borrow();
    let running = c.is_running();
    let last_code = c.state().exit_code;
    let condition = condition.to_string();
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let code = match condition.as_str() {
            "not-running" if !running => Some(last_code),
            "removed" => progress
                .wait_for(|p| p.removed)
                .await
                .ok()
                .map(|p| if p.exits > start.exits { p.exit_code } else { last_code }),
            _ => progress
                .wait_for(|p| p.exits > start.exits || p.removed)
                .await
                .ok()
                .map(|p| if p.exits > start.exits { p.exit_code } else { last_code }),
        };
        let reply = WaitResponse {
            status_code: code.unwrap_or(last_code) as i64,
            error: None,
        };
        let mut body = serde_json::to_vec(&reply).unwrap_or_default();
        body.push(b'\n');
        let _ = tx.send(Bytes::from(body)).await;
    });
    let mut resp = Response::new(channel(rx));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

pub fn attach(daemon: &Daemon, c: &Arc<Container>, query: &Query, req: &mut Request<Incoming>) -> Reply {
    let r = c.record();
    let tty = r.config.tty;
    let want_stdin = query.flag("stdin") && r.config.open_stdin;
    // Subscribe before the upgrade so no output between now and the
    // session is lost (run attaches, then starts).
    let (rx, log_len) = c.output.subscribe();
    let replay = if query.flag("logs") {
        c.output
            .log_path()
            .and_then(|p| read_log(p, log_len).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|l| {
                let stream = if l.stream == "stderr" {
                    output::STDERR
                } else {
                    output::STDOUT
                };
                (stream, Bytes::from(l.log.into_bytes()))
            })
            .collect()
    } else {
        Vec::new()
    };
    let stdin = if want_stdin {
        // The run's stdin exists only once started: resolve it lazily.
        Some(LazyStdin {
            engine: engine(daemon).clone(),
            container: c.clone(),
            // A TTY's input is not closed when a client goes: that is how
            // clients detach (Ctrl-P Ctrl-Q), and a pty has no end of input.
            once: r.config.stdin_once && !tty,
        })
    } else {
        None
    };
    let stream = query.flag("stream") || !query.flag("logs");
    engine(daemon).attached(c);
    let session_stdout = query.flag("stdout");
    let session_stderr = query.flag("stderr");
    hijack::upgrade(req, tty, move |conn| async move {
        let stdin = match stdin {
            Some(l) => l.resolve().await,
            None => None,
        };
        hijack::run(
            conn,
            Session {
                replay,
                output: stream.then_some(rx),
                stdout: session_stdout,
                stderr: session_stderr,
                stdin,
                tty,
                before_close: None,
            },
        )
        .await
    })
}

/// The stdin of a container that an attach made before its start will
/// write to: waits (briefly) for the start.
struct LazyStdin {
    engine: Arc<Engine>,
    container: Arc<Container>,
    once: bool,
}

impl LazyStdin {
    async fn resolve(self) -> Option<(Arc<crate::engine::Stdin>, bool)> {
        for _ in 0..600 {
            if let Some(s) = self.engine.streams(&self.container) {
                return Some((s.stdin, self.once));
            }
            if self.container.progress().borrow().removed {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}

pub fn resize(daemon: &Daemon, c: &Container, query: &Query) -> Reply {
    let (h, w) = size_params(query)?;
    engine(daemon).resize(c, h, w)?;
    Ok(empty(StatusCode::OK))
}

fn size_params(query: &Query) -> Result<(u16, u16), ApiError> {
    let get = |k: &str| {
        query
            .get(k)
            .unwrap_or("0")
            .parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("invalid {k}: {:?}", query.get(k).unwrap_or(""))))
    };
    Ok((get("h")?, get("w")?))
}

pub async fn logs(c: &Arc<Container>, query: &Query) -> Reply {
    let (stdout, stderr) = (query.flag("stdout"), query.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tty = c.record().config.tty;
    let follow = query.flag("follow") && c.is_running();
    let timestamps = query.flag("timestamps");
    let tail: Option<usize> = match query.get("tail").filter(|t| !t.is_empty() && *t != "all") {
        Some(t) => Some(
            t.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid tail {t:?}")))?,
        ),
        None => None,
    };
    let since = query.get("since").and_then(parse_time_param);
    let until = query.get("until").and_then(parse_time_param);
    let (rx, log_len) = c.output.subscribe();
    let path = c.output.log_path().map(|p| p.to_path_buf());
    let lines = match path {
        Some(p) => tokio::task::spawn_blocking(move || read_log(&p, log_len))
            .await
            .map_err(|e| ApiError::internal(format!("log task failed: {e}")))?
            .map_err(|e| ApiError::internal(format!("reading the log: {e}")))?,
        None => Vec::new(),
    };
    let wanted = move |stream: u8| (stream == output::STDOUT && stdout) || (stream == output::STDERR && stderr);
    let mut chunks: Vec<(i64, Chunk, String)> = lines
        .into_iter()
        .map(|l| {
            let t = time::parse_rfc3339(&l.time).unwrap_or(0);
            let stream = if l.stream == "stderr" {
                output::STDERR
            } else {
                output::STDOUT
            };
            (t, (stream, Bytes::from(l.log.into_bytes())), l.time)
        })
        .filter(|(t, (s, _), _)| wanted(*s) && since.is_none_or(|x| *t >= x) && until.is_none_or(|x| *t <= x))
        .collect();
    if let Some(n) = tail {
        let skip = chunks.len().saturating_sub(n);
        chunks.drain(..skip);
    }
    let stamp = move |t: &str, (s, b): Chunk| -> Chunk {
        if timestamps {
            let mut v = format!("{t} ").into_bytes();
            v.extend_from_slice(&b);
            (s, Bytes::from(v))
        } else {
            (s, b)
        }
    };
    let (tx, body_rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for (_, chunk, t) in chunks {
            if tx.send(hijack::encode(tty, &stamp(&t, chunk))).await.is_err() {
                return;
            }
        }
        if follow {
            let mut rx = rx;
            while let Some(chunk) = rx.recv().await {
                if !wanted(chunk.0) {
                    continue;
                }
                let (s, n) = time::now();
                let t = time::format_rfc3339(s, n);
                if tx.send(hijack::encode(tty, &stamp(&t, chunk))).await.is_err() {
                    return;
                }
            }
        }
    });
    let mut resp = Response::new(channel(body_rx));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        }),
    );
    Ok(resp)
}

/// Unix seconds (possibly fractional) or RFC 3339.
fn parse_time_param(s: &str) -> Option<i64> {
    if s.is_empty() || s == "0" {
        return None;
    }
    s.split('.')
        .next()
        .and_then(|x| x.parse().ok())
        .or_else(|| time::parse_rfc3339(s))
}

/// `GET /containers/{id}/changes`: `[{"Path":"/etc","Kind":0}, …]`.
pub async fn changes(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    let (engine, c) = (engine(daemon).clone(), c.clone());
    let list = tokio::task::spawn_blocking(move || engine.changes(&c))
        .await
        .map_err(|e| ApiError::internal(format!("changes task failed: {e}")))??;
    let items: Vec<ChangeItem> = list
        .into_iter()
        .map(|ch| ChangeItem {
            path: String::from_utf8_lossy(&ch.path).into_owned(),
            kind: ch.kind as u8,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`.
pub async fn commit(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let name = query
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("no container given"))?;
    let c = engine(daemon).get(name)?;
    let repo = query.get("repo").unwrap_or("");
    let tag = query.get("tag").unwrap_or("");
    let reference = match (repo, tag) {
        ("", "") => None,
        ("", _) => return Err(ApiError::bad_request("a tag needs a repository")),
        (r, "") => Some(Reference::parse(r)),
        (r, t) => Some(Reference::parse(&format!("{r}:{t}"))),
    }
    .transpose()
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let opts = CommitOptions {
        tag: reference,
        comment: query.get("comment").unwrap_or("").to_string(),
        author: query.get("author").unwrap_or("").to_string(),
        changes: query.get_all("changes").into_iter().filter(|c| !c.is_empty()).collect(),
        // Docker pauses unless told not to.
        pause: query.get("pause").is_none_or(|_| query.flag("pause")),
    };
    let id = engine(daemon).commit(&c, opts).await?;
    Ok(json(
        StatusCode::CREATED,
        &IdResponse {
            id: id.to_string(),
            warnings: None,
        },
    ))
}

/// `GET /containers/{id}/layer` (Strata's own): the OCI layer tar that
/// `commit` would store now; its sha256 is that layer's diff_id.
pub async fn layer(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    let tar = engine(daemon).layer_tar(c).await?;
    Ok(super::http::bytes(StatusCode::OK, "application/x-tar", tar))
}

/// `GET /containers/{id}/top?ps_args=…`.
pub fn top(c: &Container, query: &Query) -> Reply {
    let top = crate::engine::top::top(c, query.get("ps_args"))?;
    Ok(json(
        StatusCode::OK,
        &TopResponse {
            titles: top.titles,
            processes: top.processes,
        },
    ))
}

pub async fn exec_create(daemon: &Arc<Daemon>, c: &Arc<Container>, req: Request<Incoming>) -> Reply {
    let config: ExecConfig = read_json(req).await?;
    let refusals = super::unsupported::check_exec(&config);
    let exec = engine(daemon).create_exec(c, convert::exec_spec(config), refusals)?;
    Ok(json(
        StatusCode::CREATED,
        &IdResponse {
            id: exec.id.clone(),
            warnings: None,
        },
    ))
}

pub async fn exec_start(daemon: &Arc<Daemon>, id: &str, mut req: Request<Incoming>) -> Reply {
    let exec = engine(daemon).get_exec(id)?;
    let body = super::http::read_body(req.body_mut(), super::http::JSON_BODY_LIMIT).await?;
    let start: ExecStartConfig = if body.iter().all(u8::is_ascii_whitespace) {
        ExecStartConfig::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    let (rx, _) = exec.output.subscribe();
    let start_exec = {
        let (exec, engine) = (exec.clone(), engine(daemon).clone());
        move || async move {
            tokio::task::spawn_blocking(move || engine.start_exec(&exec))
                .await
                .map_err(|e| ApiError::internal(format!("exec task failed: {e}")))?
                .map_err(ApiError::from)
        }
    };
    if start.detach {
        start_exec().await?;
        return Ok(empty(StatusCode::OK));
    }
    // As Docker: the stream is taken over first, and a process that cannot
    // start says why on it (its exit code, 126, comes from the exec's
    // inspect), so the client prints the reason rather than an upgrade
    // failure.
    let tty = exec.config.tty;
    let (stdout, stderr) = (exec.config.attach_stdout, exec.config.attach_stderr);
    let attach_stdin = exec.config.attach_stdin;
    hijack::upgrade(&mut req, tty, move |conn| async move {
        let session = match start_exec().await {
            Ok(streams) => Session {
                replay: Vec::new(),
                output: Some(rx),
                stdout,
                stderr,
                stdin: attach_stdin.then(|| (streams.stdin.clone(), !tty)),
                tty,
                // The client reads the exit code once the stream ends: let it be there.
                before_close: Some(Box::pin(async move {
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), exec.finished()).await;
                })),
            },
            Err(e) => Session {
                replay: vec![(output::STDOUT, Bytes::from(format!("{}\r\n", e.message)))],
                output: None,
                stdout: true,
                stderr: false,
                stdin: None,
                tty,
                before_close: None,
            },
        };
        hijack::run(conn, session).await
    })
}

pub fn exec_resize(daemon: &Daemon, id: &str, query: &Query) -> Reply {
    let exec = engine(daemon).get_exec(id)?;
    let (h, w) = size_params(query)?;
    exec.resize(h, w)?;
    Ok(empty(StatusCode::CREATED))
}

pub fn exec_inspect(daemon: &Daemon, id: &str) -> Reply {
    let exec = engine(daemon).get_exec(id)?;
    Ok(json(StatusCode::OK, &wire_exec(&exec)))
}

/// An exec as Docker's `ExecInspect`: its command split into entrypoint
/// and arguments.
fn wire_exec(exec: &Exec) -> ExecInspect {
    let status = exec.status();
    let mut args = exec.config.cmd.clone();
    let entrypoint = if args.is_empty() { String::new() } else { args.remove(0) };
    ExecInspect {
        id: exec.id.clone(),
        running: status.running,
        exit_code: status.exit_code,
        process_config: ExecProcessConfig {
            entrypoint,
            arguments: args,
            tty: exec.config.tty,
            user: exec.config.user.clone(),
            privileged: exec.config.privileged,
        },
        open_stdin: exec.config.attach_stdin,
        open_stdout: exec.config.attach_stdout,
        open_stderr: exec.config.attach_stderr,
        container_id: exec.container_id.clone(),
        pid: status.pid,
    }
}
