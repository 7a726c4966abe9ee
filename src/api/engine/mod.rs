//! Containers and their lifecycle: records in the store, the union mount
//! of each running container, its process (through `run`), its streams,
//! and execs. The HTTP handlers in `api::containers` and `api::exec` are
//! thin over this.
//!
//! On disk, `containers/<id>/` holds `container.json` (the record, written
//! whole: temp, fsync, rename), `upper/` and `work/` (the writable layer:
//! never removed but by `rm`), `merged/` (the mountpoint while running),
//! the generated `hostname`, `hosts`, `resolv.conf`, and the json-file log.
//! A container is created in `containers/.new-<id>` and renamed into place,
//! and removed by renaming to `.gone-<id>` first, so a crash never leaves a
//! half-made or half-removed container behind: both prefixes are swept at
//! start.

mod commit;
mod exec;
pub mod filter;
mod names;
pub mod output;
pub mod record;
mod security;
pub mod unsupported;

pub use commit::CommitOptions;
pub use exec::Exec;

use crate::api::error::ApiError;
use crate::api::types::{ContainerCreateRequest, ContainerState, ZERO_TIME};
use crate::fs::MountConfig;
use crate::layers::{Digest, Store};
use crate::run::{self, NetworkMode};
use crate::{sys, time};
use hyper::StatusCode;
use output::Output;
use record::Record;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Exit code recorded for a container whose process died with the daemon
/// (what Docker shows after a daemon crash).
const LOST_EXIT_CODE: i32 = 255;

pub struct Engine {
    dir: PathBuf,
    helper: PathBuf,
    store: Arc<Store>,
    containers: Mutex<BTreeMap<String, Arc<Container>>>,
    execs: Mutex<HashMap<String, Arc<Exec>>>,
    /// How containers are kept off the host's devices.
    devices: run::cgroup::DevicePolicy,
}

/// Where a container's lifecycle stands, for waiters: bumped on every exit
/// and on removal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub exits: u64,
    pub exit_code: i32,
    pub removed: bool,
}

pub struct Container {
    pub id: String,
    dir: PathBuf,
    live: Mutex<Live>,
    /// Serialises start, stop, kill-and-wait and removal.
    ops: tokio::sync::Mutex<()>,
    progress: watch::Sender<Progress>,
    pub output: Arc<Output>,
}

struct Live {
    record: Record,
    run: Option<RunHandles>,
    removed: bool,
}

/// What a running container holds.
struct RunHandles {
    process: Arc<run::Running>,
    /// The union mount; dropping it unmounts.
    mount: Option<fuser::BackgroundSession>,
    stdin: Arc<Stdin>,
    pty: Option<Arc<OwnedFd>>,
    /// What every exec'd process gets too.
    confinement: run::Confinement,
    /// Removed (dropped) once the container's process has ended.
    cgroup: Option<run::cgroup::Cgroup>,
}

/// A process's standard input as attached clients write it: closed (taken)
/// when a `StdinOnce` client ends its input.
#[derive(Default)]
pub struct Stdin(Mutex<Option<File>>);

impl Stdin {
    fn new(f: Option<File>) -> Arc<Stdin> {
        Arc::new(Stdin(Mutex::new(f)))
    }

    /// Blocking write of all of `data`; false once closed.
    pub fn write(&self, data: &[u8]) -> bool {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(f) => f.write_all(data).is_ok(),
            None => false,
        }
    }

    pub fn close(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// What the streams of a process are wired to.
pub struct Streams {
    pub stdin: Arc<Stdin>,
    pub pty: Option<Arc<OwnedFd>>,
}

fn internal(context: &str) -> impl FnOnce(io::Error) -> ApiError + '_ {
    move |e| {
        let status = if matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) {
            StatusCode::INSUFFICIENT_STORAGE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError::new(status, format!("{context}: {e}"))
    }
}

/// A container's record, written whole and readable by the daemon's user
/// only (it holds the environment the container was given).
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    sys::write_atomic(path, bytes, 0o600)
}

fn random_id() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut bytes))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn now_rfc3339() -> String {
    let (s, n) = time::now();
    time::format_rfc3339(s, n)
}

/// A signal by number or name (`KILL`, `SIGKILL`, `9`), as Docker takes it.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = s.trim_start_matches("SIG").to_ascii_uppercase();
    let n = match name.as_str() {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return None,
    };
    Some(n)
}

impl Engine {
    /// Loads every container of the store. Containers recorded as running
    /// died with the previous daemon: they are marked exited, and a mount
    /// their root may have left is detached, as is any cgroup of this
    /// store's.
    pub fn open(store: Arc<Store>, helper: PathBuf, devices: run::cgroup::DevicePolicy) -> io::Result<Engine> {
        let dir = store.root().join("containers");
        std::fs::create_dir_all(&dir)?;
        sys::make_private(&dir)?;
        // Compiled now rather than by the first container's start.
        if let Err(e) = run::seccomp::default_program() {
            tracing::error!("Docker's seccomp profile: {e}");
        }
        if let Some(m) = devices.manager() {
            tracing::info!(
                "containers' cgroups under {} ({:?})",
                m.parent().display(),
                m.hierarchy()
            );
            for (name, e) in m.sweep() {
                tracing::warn!("removing the stale cgroup {name}: {e}");
            }
        }
        let mut containers = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with('.') {
                // A create or a removal a crash interrupted.
                let _ = sys::unmount_lazy(&path.join("merged"));
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!("removing {}: {e}", path.display());
                }
                continue;
            }
            let record: Record = match std::fs::read(path.join("container.json"))
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(r) => r,
                Err(e) => {
                    // Kept on disk (the writable layer is never thrown away), but not served.
                    tracing::error!("container {name}: unreadable record, skipped: {e}");
                    continue;
                }
            };
            let _ = sys::unmount_lazy(&path.join("merged"));
            // Made by an older version with the umask's modes.
            for p in [
                path.clone(),
                path.join("container.json"),
                path.join(format!("{name}-json.log")),
            ] {
                match sys::make_private(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            let c = Container::new(path, record);
            {
                let mut live = c.lock();
                if live.record.state.running {
                    tracing::info!(
                        "container {} died with the previous daemon",
                        &name[..12.min(name.len())]
                    );
                    let state = &mut live.record.state;
                    state.running = false;
                    state.status = "exited".into();
                    state.pid = 0;
                    state.exit_code = LOST_EXIT_CODE;
                    state.finished_at = now_rfc3339();
                    if let Err(e) = c.save(&live.record) {
                        tracing::warn!("container {name}: saving its state: {e}");
                    }
                }
            }
            containers.insert(c.id.clone(), c);
        }
        Ok(Engine {
            dir,
            helper,
            store,
            containers: Mutex::new(containers),
            execs: Mutex::new(HashMap::new()),
            devices,
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Container>>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.map().values().cloned().collect()
    }

    /// By name (with or without `/`), full ID, or unique ID prefix.
    pub fn get(&self, name: &str) -> Result<Arc<Container>, ApiError> {
        let not_found = || ApiError::not_found(format!("No such container: {}", crate::quote::excerpt(name, 128)));
        let map = self.map();
        let bare = name.strip_prefix('/').unwrap_or(name);
        if let Some(c) = map.values().find(|c| c.lock().record.name == bare) {
            return Ok(c.clone());
        }
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let mut found = map.range(name.to_string()..).take_while(|(k, _)| k.starts_with(name));
        match (found.next(), found.next()) {
            (Some((_, c)), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(ApiError::bad_request(format!(
                "multiple IDs found with provided prefix: {name}"
            ))),
            _ => Err(not_found()),
        }
    }

    /// Images some container still stands on: they cannot be deleted.
    pub fn image_users(&self, image: &Digest) -> Vec<(String, bool)> {
        self.all()
            .into_iter()
            .filter_map(|c| {
                let l = c.lock();
                (l.record.image == *image).then(|| (c.id.clone(), l.record.state.running))
            })
            .collect()
    }

    pub fn create(&self, name: Option<&str>, req: ContainerCreateRequest) -> Result<Arc<Container>, ApiError> {
        let name = name.filter(|n| !n.is_empty()).map(record::validate_name).transpose()?;
        unsupported::check_create(&req, !sys::is_root())?;
        let mut config = req.config;
        let host_config = req.host_config;
        record::validate_user(&config.user)?;
        network_mode(&host_config.network_mode)?;
        security::seccomp_program(&host_config)?;
        if config.image.is_empty() {
            return Err(ApiError::bad_request("no image given"));
        }
        let image = self.store.image(&config.image)?;
        let (merged, path, args) = record::merge_image(std::mem::take(&mut config), &image.config)?;
        let mut config = merged;
        let id = random_id().map_err(internal("making an ID"))?;
        if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        let mut map = self.map();
        let name = match name {
            Some(n) => {
                if let Some(other) = map.values().find(|c| c.lock().record.name == n) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!(
                            "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                            other.id
                        ),
                    ));
                }
                n.to_string()
            }
            None => {
                let taken: Vec<String> = map.values().map(|c| c.lock().record.name.clone()).collect();
                names::generate(&id, |n| taken.iter().any(|t| t == n))
            }
        };
        let record = Record {
            id: id.clone(),
            name,
            created: now_rfc3339(),
            image: image.id,
            path,
            args,
            config,
            host_config,
            state: record::created_state(),
            restart_count: 0,
        };
        let staging = self.dir.join(format!(".new-{id}"));
        let made = (|| -> io::Result<()> {
            std::fs::create_dir(&staging)?;
            sys::make_private(&staging)?;
            for sub in ["upper", "work", "merged"] {
                std::fs::create_dir(staging.join(sub))?;
            }
            write_atomic(
                &staging.join("container.json"),
                &serde_json::to_vec_pretty(&record).map_err(io::Error::other)?,
            )?;
            std::fs::rename(&staging, self.dir.join(&id))?;
            sys::fsync_dir(&self.dir)
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(internal("creating the container")(e));
        }
        let c = Container::new(self.dir.join(&id), record);
        map.insert(id, c.clone());
        Ok(c)
    }

    /// Starts the container: mounts its root, starts its process, wires its
    /// streams. `Ok(false)` when it was already running.
    pub async fn start(self: &Arc<Self>, c: &Arc<Container>) -> Result<bool, ApiError> {
        let _op = c.ops.lock().await;
        let record = {
            let live = c.lock();
            if live.removed {
                return Err(ApiError::not_found(format!("No such container: {}", c.id)));
            }
            if live.run.is_some() {
                return Ok(false);
            }
            live.record.clone()
        };
        let image = self
            .store
            .image(&record.image.to_string())
            .map_err(|_| ApiError::internal(format!("the image {} of this container is gone", record.image.short())))?;
        let lowers = self.lowers(&image.config);
        let engine = self.clone();
        let c2 = c.clone();
        let started = tokio::task::spawn_blocking(move || engine.launch(&c2, &record, lowers))
            .await
            .map_err(|e| ApiError::internal(format!("start task failed: {e}")))?;
        match started {
            Ok(()) => Ok(true),
            Err((e, code)) => {
                let mut live = c.lock();
                live.record.state.exit_code = code;
                live.record.state.error = e.message.clone();
                let rec = live.record.clone();
                drop(live);
                let _ = c.save(&rec);
                if rec.host_config.auto_remove {
                    // As Docker: a --rm container that cannot start is removed.
                    let (engine, c) = (self.clone(), c.clone());
                    tokio::spawn(async move {
                        if let Err(e) = engine.remove(&c, true).await {
                            tracing::warn!("auto-removing {}: {}", &c.id[..12], e.message);
                        }
                    });
                }
                Err(e)
            }
        }
    }

    fn write_etc_files(c: &Container, record: &Record) -> io::Result<Vec<(String, PathBuf)>> {
        let hostname = &record.config.hostname;
        let hosts = format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
        );
        let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
        let files = [
            ("/etc/hostname", "hostname", format!("{hostname}\n").into_bytes()),
            ("/etc/hosts", "hosts", hosts.into_bytes()),
            ("/etc/resolv.conf", "resolv.conf", resolv),
        ];
        let mut out = Vec::new();
        for (target, file, bytes) in files {
            let path = c.dir.join(file);
            std::fs::write(&path, bytes)?;
            out.push((target.to_string(), path));
        }
        Ok(out)
    }

    /// The blocking part of start. On failure, the error and the exit code
    /// Docker records (127 for a command not found, 126 for one that cannot
    /// be executed).
    fn launch(
        self: &Arc<Self>,
        c: &Arc<Container>,
        record: &Record,
        lowers: Vec<PathBuf>,
    ) -> Result<(), (ApiError, i32)> {
        let fail = |e: ApiError| (e, 128);
        // Once per start at most (Docker's default: once per daemon);
        // execs reuse it.
        let seccomp = security::seccomp_program(&record.host_config).map_err(fail)?;
        let cgroup = self
            .devices
            .create(&record.id)
            .map_err(|e| fail(ApiError::internal(format!("the container's cgroup: {e}"))))?;
        let confinement = run::Confinement {
            seccomp,
            cgroups: cgroup.iter().map(|c| c.dir().to_path_buf()).collect(),
        };
        let etc_files = Self::write_etc_files(c, record).map_err(|e| fail(internal("writing /etc files")(e)))?;
        let merged = c.dir.join("merged");
        let mount = mount_root(c, lowers).map_err(|e| fail(internal("mounting the container's root")(e)))?;
        let tty = record.config.tty;
        let open_stdin = record.config.open_stdin;
        let Wiring {
            stdio,
            sources,
            streams,
        } = make_stdio(tty, open_stdin).map_err(|e| fail(internal("making the container's streams")(e)))?;
        let mut env = record.config.env.clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
            env.insert(0, format!("HOSTNAME={}", record.config.hostname));
        }
        if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        let spec = run::ContainerSpec {
            id: record.id.clone(),
            rootfs: merged,
            hostname: record.config.hostname.clone(),
            network: network_mode(&record.host_config.network_mode).map_err(fail)?,
            etc_files,
            process: run::ProcessSpec {
                args: record.argv(),
                env,
                cwd: record.config.working_dir.clone(),
                user: record.config.user.clone(),
                tty,
                console_size: console_size(tty, record.host_config.console_size),
            },
            confinement: confinement.clone(),
        };
        // Pipes' readers start first: a process that writes and exits at
        // once must still be heard. (A terminal's come after the start.)
        if !sources.is_empty() {
            c.output.start_run(sources);
        }
        let process = match run::start(&self.helper, &spec, stdio) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                drop(mount);
                if tty {
                    // No reader ends the run's output: clients attached
                    // for it are done.
                    c.output.close();
                }
                let code = e.exit_code().unwrap_or(128);
                let status = if e.exit_code().is_some() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                return Err((
                    ApiError::new(status, format!("failed to start container {}: {e}", &record.id[..12])),
                    code,
                ));
            }
        };
        let streams = match connect_terminal(&process, streams, open_stdin) {
            Ok((sources, streams)) => {
                c.output.start_run(sources);
                streams
            }
            Err(e) => {
                let _ = process.signal(9);
                let _ = process.wait();
                drop(mount);
                c.output.close();
                return Err(fail(internal("wiring the container's terminal")(e)));
            }
        };
        {
            let mut live = c.lock();
            let state = &mut live.record.state;
            state.status = "running".into();
            state.running = true;
            state.pid = process.pid();
            state.exit_code = 0;
            state.error.clear();
            state.started_at = now_rfc3339();
            state.finished_at = ZERO_TIME.into();
            live.run = Some(RunHandles {
                process: process.clone(),
                mount: Some(mount),
                stdin: streams.stdin,
                pty: streams.pty,
                confinement,
                cgroup,
            });
            let rec = live.record.clone();
            drop(live);
            if let Err(e) = c.save(&rec) {
                tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
            }
        }
        let engine = self.clone();
        let c = c.clone();
        let spawned = std::thread::Builder::new().name("wait".into()).spawn(move || {
            let code = match process.wait() {
                Ok(code) => code,
                Err(e) => {
                    tracing::error!("waiting for container {}: {e}", &c.id[..12]);
                    LOST_EXIT_CODE
                }
            };
            engine.exited(&c, code);
        });
        if let Err(e) = spawned {
            tracing::error!("starting the waiter: {e}");
        }
        Ok(())
    }

    /// The process is gone: record it, unmount, wake waiters, and remove
    /// the container when it was created with `--rm`.
    fn exited(self: &Arc<Self>, c: &Arc<Container>, code: i32) {
        // The exit is heard only once its output is read to the end: a
        // waiter then finds all of it in the logs, and --rm's removal (which
        // ends attached sessions) cuts none of it off.
        if !c.output.wait_drained(output::DRAIN_LIMIT) {
            tracing::warn!("container {}: its output had not ended at its exit", &c.id[..12]);
        }
        let (handles, auto_remove) = {
            let mut live = c.lock();
            let handles = live.run.take();
            let state = &mut live.record.state;
            state.status = "exited".into();
            state.running = false;
            state.pid = 0;
            state.exit_code = code;
            state.finished_at = now_rfc3339();
            let rec = live.record.clone();
            let auto_remove = rec.host_config.auto_remove;
            drop(live);
            if let Err(e) = c.save(&rec) {
                tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
            }
            (handles, auto_remove)
        };
        if let Some(mut h) = handles {
            h.stdin.close();
            // Detach first: a process of the container that has not quite
            // died yet must not make the unmount fail.
            let _ = sys::unmount_lazy(&c.dir.join("merged"));
            drop(h.mount.take());
            // Before waiters hear of the exit: the process is gone, so is
            // its cgroup.
            drop(h.cgroup.take());
        }
        c.progress.send_modify(|p| {
            p.exits += 1;
            p.exit_code = code;
        });
        if auto_remove {
            let engine = self.clone();
            let c = c.clone();
            // The removal takes the ops lock, which the stop that caused this exit may hold.
            tokio_handle_spawn(async move {
                if let Err(e) = engine.remove(&c, true).await {
                    tracing::warn!("auto-removing {}: {}", &c.id[..12], e.message);
                }
            });
        }
    }

    pub fn signal(&self, c: &Container, sig: i32) -> Result<(), ApiError> {
        let live = c.lock();
        let Some(run) = &live.run else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("cannot kill container: {}: container {} is not running", c.id, c.id),
            ));
        };
        run.process
            .signal(sig)
            .map_err(|e| ApiError::internal(format!("signalling {}: {e}", &c.id[..12])))
    }

    /// Docker's stop: the stop signal, then SIGKILL after `timeout` seconds
    /// (negative: wait for ever). `Ok(false)` when it was not running.
    pub async fn stop(&self, c: &Arc<Container>, timeout: Option<i64>, signal: Option<&str>) -> Result<bool, ApiError> {
        let _op = c.ops.lock().await;
        self.stop_locked(c, timeout, signal).await
    }

    async fn stop_locked(
        &self,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<bool, ApiError> {
        let (sig_name, default_timeout) = {
            let live = c.lock();
            if live.run.is_none() {
                return Ok(false);
            }
            (
                signal
                    .map(str::to_string)
                    .or_else(|| live.record.config.stop_signal.clone()),
                live.record.config.stop_timeout.unwrap_or(10),
            )
        };
        let sig = match sig_name.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s).ok_or_else(|| ApiError::bad_request(format!("Invalid signal: {s}")))?,
            None => 15,
        };
        let timeout = timeout.unwrap_or(default_timeout);
        let mut rx = c.progress.subscribe();
        let before = rx.borrow().exits;
        let _ = self.signal(c, sig);
        let exited = async {
            let _ = rx.wait_for(|p| p.exits > before).await;
        };
        if timeout < 0 {
            exited.await;
        } else if tokio::time::timeout(Duration::from_secs(timeout as u64), exited)
            .await
            .is_err()
        {
            let mut rx = c.progress.subscribe();
            let _ = self.signal(c, 9);
            let _ = rx.wait_for(|p| p.exits > before).await;
        }
        Ok(true)
    }

    /// Kills and waits, for removal with force.
    async fn kill_and_wait(&self, c: &Arc<Container>) {
        let mut rx = c.progress.subscribe();
        let before = rx.borrow().exits;
        if self.signal(c, 9).is_ok() {
            let _ = rx.wait_for(|p| p.exits > before).await;
        }
    }

    pub async fn restart(self: &Arc<Self>, c: &Arc<Container>, timeout: Option<i64>) -> Result<(), ApiError> {
        {
            let _op = c.ops.lock().await;
            self.stop_locked(c, timeout, None).await?;
            let mut live = c.lock();
            live.record.restart_count += 1;
        }
        self.start(c).await.map(|_| ())
    }

    /// Removes the container and its writable layer. Running: 409 unless
    /// `force`, which kills it first.
    pub async fn remove(&self, c: &Arc<Container>, force: bool) -> Result<(), ApiError> {
        let _op = c.ops.lock().await;
        let (running, name) = {
            let live = c.lock();
            if live.removed {
                return Ok(());
            }
            (live.run.is_some(), live.record.name.clone())
        };
        if running {
            if !force {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "cannot remove container \"/{name}\": container is running: stop the container before removing or force remove"
                    ),
                ));
            }
            self.kill_and_wait(c).await;
        }
        let gone = self.dir.join(format!(".gone-{}", c.id));
        std::fs::rename(&c.dir, &gone).map_err(internal("removing the container"))?;
        c.lock().removed = true;
        self.map().remove(&c.id);
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.container_id != c.id);
        c.output.close();
        let _ = sys::fsync_dir(&self.dir);
        // Done before the reply: `rm` returns once the writable layer is gone
        // (a failure here leaves `.gone-<id>`, swept at the next start).
        let removed = tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::remove_dir_all(&gone) {
                tracing::warn!("removing {}: {e}", gone.display());
            }
        });
        let _ = removed.await;
        c.progress.send_modify(|p| p.removed = true);
        Ok(())
    }

    /// Stops every running container (the daemon is shutting down), each
    /// with its stop timeout but at most `limit`.
    pub async fn shutdown(&self, limit: Duration) {
        let mut tasks = tokio::task::JoinSet::new();
        for c in self.all() {
            if c.is_running() {
                let timeout = c
                    .lock()
                    .record
                    .config
                    .stop_timeout
                    .unwrap_or(10)
                    .clamp(0, limit.as_secs() as i64);
                tasks.spawn(async move { stop_detached(&c, timeout).await });
            }
        }
        while tasks.join_next().await.is_some() {}
        if let Some(m) = self.devices.manager() {
            m.remove_parent();
        }
    }

    pub fn streams(&self, c: &Container) -> Option<Streams> {
        c.lock().run.as_ref().map(|r| Streams {
            stdin: r.stdin.clone(),
            pty: r.pty.clone(),
        })
    }

    pub fn resize(&self, c: &Container, h: u16, w: u16) -> Result<(), ApiError> {
        let live = c.lock();
        let Some(run) = &live.run else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Container {} is not running", c.id),
            ));
        };
        if let Some(pty) = &run.pty {
            run::resize_pty(std::os::fd::AsFd::as_fd(&**pty), h, w)
                .map_err(|e| ApiError::internal(format!("resizing: {e}")))?;
        }
        Ok(())
    }

    // Execs.

    pub fn create_exec(
        &self,
        c: &Arc<Container>,
        config: crate::api::types::ExecConfig,
    ) -> Result<Arc<Exec>, ApiError> {
        let (pid, record, confinement) = {
            let live = c.lock();
            match &live.run {
                Some(r) => (r.process.pid(), live.record.clone(), r.confinement.clone()),
                None => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("container {} is not running", c.id),
                    ));
                }
            }
        };
        if config.cmd.is_empty() {
            return Err(ApiError::bad_request("No exec command specified"));
        }
        unsupported::check_exec(&config)?;
        record::validate_user(&config.user)?;
        let id = random_id().map_err(internal("making an ID"))?;
        let exec = Arc::new(Exec::new(id.clone(), c.id.clone(), pid, confinement, &record, config));
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, exec.clone());
        Ok(exec)
    }

    pub fn get_exec(&self, id: &str) -> Result<Arc<Exec>, ApiError> {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {}", crate::quote::excerpt(id, 128))))
    }

    pub fn exec_ids(&self, container: &str) -> Vec<String> {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| e.container_id == container)
            .map(|e| e.id.clone())
            .collect()
    }

    /// The container's changes to its image, as `docker diff` lists them:
    /// from its writable layer and the image's chain index only.
    pub fn changes(&self, c: &Container) -> Result<Vec<crate::fs::changes::Change>, ApiError> {
        let image = c.lock().record.image;
        let upper = sys::BeneathDir::open(&c.dir.join("upper")).map_err(internal("opening the writable layer"))?;
        // Mapped, not read: a diff probes the index once per changed path,
        // so its cost follows the changes, not the image's size.
        let listed = match self.store.image_chain(&image) {
            Some(chain) => {
                let index = crate::layers::index::LayerIndex::open(&self.store.chain_index_path(&chain))
                    .map_err(internal("opening the image's index"))?;
                crate::fs::changes::changes(&upper, &index)
            }
            None => {
                let empty = crate::layers::index::IndexBuilder::new().encode();
                let index = crate::layers::index::LayerIndex::from_bytes(empty)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                crate::fs::changes::changes(&upper, &index)
            }
        };
        listed.map_err(internal("listing changes"))
    }

    /// The layer directories of an image, topmost first.
    pub(super) fn lowers(&self, image: &crate::layers::ImageConfig) -> Vec<PathBuf> {
        image
            .rootfs
            .diff_ids
            .iter()
            .rev()
            .map(|d| self.store.layer_dir(d))
            .collect()
    }

    pub fn helper(&self) -> &Path {
        &self.helper
    }
}

/// Mounts the container's root (its image's layers, `lowers` topmost
/// first, under its writable layer) at `merged/`, served by this process.
pub(super) fn mount_root(c: &Container, lowers: Vec<PathBuf>) -> io::Result<fuser::BackgroundSession> {
    let merged = c.dir.join("merged");
    let _ = sys::unmount_lazy(&merged);
    let mut cfg = MountConfig::new(lowers, Some(c.dir.join("upper")), Some(c.dir.join("work")), merged);
    // Every reader of a container's writable layer goes through its mount
    // (commit and export read the merged tree), so a file whose data is
    // still below is never mistaken for its hole.
    cfg.metacopy = true;
    // The writable layer sits in the store: no set-id bit, device node or
    // file capability is ever written to its disk, where a local user
    // could reach it; the mount shows them from xattrs.
    cfg.privileges_in_xattrs = true;
    if !sys::is_root() {
        // Rootless: the container's user namespace maps its root to this
        // user alone, so every file shows as this user's (its root's).
        let (uid, gid) = sys::ids();
        cfg.squash_uid = Some(uid);
        cfg.squash_gid = Some(gid);
    }
    crate::fs::mount_background(&cfg)
}

/// SIGTERM, then SIGKILL after `timeout` seconds, without the engine.
async fn stop_detached(c: &Arc<Container>, timeout: i64) {
    let _op = c.ops.lock().await;
    let mut rx = c.progress.subscribe();
    let before = rx.borrow().exits;
    let signal = |sig| {
        if let Some(run) = &c.lock().run {
            let _ = run.process.signal(sig);
        }
    };
    if !c.is_running() {
        return;
    }
    signal(15);
    let in_time = tokio::time::timeout(
        Duration::from_secs(timeout.max(0) as u64),
        rx.wait_for(|p| p.exits > before),
    )
    .await
    .is_ok();
    if !in_time {
        signal(9);
        let mut rx = c.progress.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|p| p.exits > before)).await;
    }
}

/// Spawns on the daemon's runtime from a plain thread.
fn tokio_handle_spawn(f: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(f);
        }
        Err(_) => {
            if let Some(h) = RUNTIME.get() {
                h.spawn(f);
            } else {
                tracing::error!("no runtime to finish a container's exit on");
            }
        }
    }
}

/// The daemon's runtime, for threads that finish a container's exit.
pub static RUNTIME: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

fn network_mode(mode: &str) -> Result<NetworkMode, ApiError> {
    match mode {
        "" | "default" | "host" => Ok(NetworkMode::Host),
        "none" => Ok(NetworkMode::None),
        other => Err(ApiError::bad_request(format!(
            "network mode {other:?} is not supported: use host or none"
        ))),
    }
}

/// A new process's standard streams: what it gets, what the daemon reads
/// (for the output), and what attached clients write to.
pub struct Wiring {
    pub stdio: run::Stdio,
    pub sources: Vec<(u8, File)>,
    pub streams: Streams,
}

/// Docker's `ConsoleSize` (height, width) as the process's initial terminal
/// size; 0 is unset.
fn console_size(tty: bool, size: Option<[u32; 2]>) -> Option<(u16, u16)> {
    let [h, w] = size.filter(|_| tty)?;
    let clamp = |n: u32| n.min(u16::MAX as u32) as u16;
    (h > 0 && w > 0).then(|| (clamp(h), clamp(w)))
}

/// A process's standard streams before its start: pipes (stdin /dev/null
/// unless it is kept open), or for a TTY nothing yet: the process makes its
/// terminal inside the container, and [`connect_terminal`] wires it after
/// the start.
pub fn make_stdio(tty: bool, open_stdin: bool) -> io::Result<Wiring> {
    if tty {
        return Ok(Wiring {
            stdio: run::Stdio::Terminal,
            sources: Vec::new(),
            streams: Streams {
                stdin: Stdin::new(None),
                pty: None,
            },
        });
    }
    let (out_r, out_w) = io::pipe()?;
    let (err_r, err_w) = io::pipe()?;
    let (stdin, writer) = if open_stdin {
        let (r, w) = io::pipe()?;
        (OwnedFd::from(r), Some(File::from(OwnedFd::from(w))))
    } else {
        (OwnedFd::from(File::open("/dev/null")?), None)
    };
    Ok(Wiring {
        stdio: run::Stdio::Fds {
            stdin,
            stdout: out_w.into(),
            stderr: err_w.into(),
        },
        sources: vec![
            (output::STDOUT, File::from(OwnedFd::from(out_r))),
            (output::STDERR, File::from(OwnedFd::from(err_r))),
        ],
        streams: Streams {
            stdin: Stdin::new(writer),
            pty: None,
        },
    })
}

/// After the start: a TTY process's terminal, whose master the daemon reads
/// (one output source, `STDOUT`; the kernel kept what came before), writes
/// (stdin, if `open_stdin`) and resizes. The sources to start and the
/// streams; for pipes, no sources (theirs started before) and `streams`.
pub fn connect_terminal(
    process: &run::Running,
    streams: Streams,
    open_stdin: bool,
) -> io::Result<(Vec<(u8, File)>, Streams)> {
    let Some(master) = process.take_pty_master() else {
        return Ok((Vec::new(), streams));
    };
    let reader = File::from(master.try_clone()?);
    let writer = if open_stdin {
        Some(File::from(master.try_clone()?))
    } else {
        None
    };
    Ok((
        vec![(output::STDOUT, reader)],
        Streams {
            stdin: Stdin::new(writer),
            pty: Some(Arc::new(master)),
        },
    ))
}

impl Container {
    fn new(dir: PathBuf, record: Record) -> Arc<Container> {
        let log = dir.join(format!("{}-json.log", record.id));
        Arc::new(Container {
            id: record.id.clone(),
            dir,
            output: Arc::new(Output::new(Some(&log))),
            live: Mutex::new(Live {
                record,
                run: None,
                removed: false,
            }),
            ops: tokio::sync::Mutex::new(()),
            progress: watch::channel(Progress::default()).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, record: &Record) -> io::Result<()> {
        write_atomic(
            &self.dir.join("container.json"),
            &serde_json::to_vec_pretty(record).map_err(io::Error::other)?,
        )
    }

    pub fn record(&self) -> Record {
        self.lock().record.clone()
    }

    pub fn state(&self) -> ContainerState {
        self.lock().record.state.clone()
    }

    pub fn is_running(&self) -> bool {
        self.lock().run.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.lock().run.as_ref().map(|r| r.process.pid())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }
}
