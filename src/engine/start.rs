//! `start`: the container's root mounted, its process started and its
//! streams wired; and the exit, when the process ends.

use super::container::RunHandles;
use super::create::network_mode;
use super::error::{Error, internal};
use super::record::Record;
use super::signal::Signal;
use super::streams::console_size;
use super::{
    Container, Engine, LOST_EXIT_CODE, Wiring, connect_terminal, make_stdio, now_rfc3339, output, privileges,
    resources, security, tokio_handle_spawn,
};
use crate::fs::MountConfig;
use crate::quote::bounded;
use crate::{run, sys};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// The files the runtime binds over in every container, made empty once
/// per store in a layer of their own (`init-layer/`), which every
/// container's root has as its topmost lower, as Docker's `-init` layer:
/// the init finds its bind targets there instead of creating them in the
/// writable layer (four FUSE requests each, and a copied-up `/etc` that
/// `diff` and `commit` would see).
const INIT_FILES: [&str; 3] = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// The store's init layer, made if missing (in a temporary directory,
/// renamed into place whole).
pub(super) fn init_layer(store_root: &std::path::Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = store_root.join("init-layer");
    if INIT_FILES.iter().all(|f| dir.join(f).is_file()) {
        return Ok(dir);
    }
    let tmp = store_root.join(".init-layer.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::DirBuilder::new().mode(0o755).create(&tmp)?;
    std::fs::DirBuilder::new().mode(0o755).create(tmp.join("etc"))?;
    for f in INIT_FILES {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(tmp.join(f))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir)?;
    sys::fsync_dir(store_root)?;
    Ok(dir)
}

/// Mounts the container's root (its image's layers, `lowers` topmost
/// first, under its writable layer) at `merged/`, served by this process.
pub(super) fn mount_root(c: &Container, lowers: Vec<PathBuf>) -> io::Result<crate::fs::fuse::BackgroundSession> {
    // A finished run's detach, still to come, would take this mount away.
    c.finish_teardown();
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

/// A root session a start made or took but did not use: back to the
/// `strata mount` that holds the root, or ended.
fn give_back_root(c: &Container, mount: crate::fs::fuse::BackgroundSession) {
    let mut live = c.lock();
    match live.user_mount.as_mut() {
        Some(held) => held.idle = Some(mount),
        None => {
            drop(live);
            drop(mount);
        }
    }
}

impl Engine {
    /// A user's start (or the daemon's, for a restart policy): as
    /// [`Engine::start_run`], with a fresh restart count and back-off (as
    /// moby's). `Ok(false)` when it runs, or its policy restarts it.
    pub async fn start(self: &Arc<Self>, c: &Arc<Container>) -> Result<bool, Error> {
        {
            let mut live = c.lock();
            if live.record.state.is_restarting() {
                return Ok(false);
            }
            if !live.record.state.is_running() {
                live.record.restart_count = 0;
                live.record.manually_stopped = false;
            }
        }
        self.restarts.reset(&c.id);
        self.start_run(c).await
    }

    /// Starts the container: mounts its root, starts its process, wires its
    /// streams. `Ok(false)` when it was already running.
    pub(super) async fn start_run(self: &Arc<Self>, c: &Arc<Container>) -> Result<bool, Error> {
        let _op = c.ops.lock().await;
        let record = {
            let live = c.lock();
            if live.removed {
                return Err(Error::not_found(format!("No such container: {}", c.id)));
            }
            if live.record.state.is_running() {
                return Ok(false);
            }
            live.record.clone()
        };
        let image = self
            .store
            .image(&record.image.to_string())
            .map_err(|_| Error::internal(format!("the image {} of this container is gone", record.image.short())))?;
        let lowers = self.lowers(&image.config);
        let engine = self.clone();
        let c2 = c.clone();
        let started = tokio::task::spawn_blocking(move || engine.launch(&c2, &record, lowers))
            .await
            .map_err(|e| Error::internal(format!("start task failed: {e}")))?;
        match started {
            // Its start event is told in `launch`, before its waiter.
            Ok(()) => Ok(true),
            Err((e, code)) => {
                self.release_links(c);
                let mut live = c.lock();
                if let Err(refused) = live.record.state.start_failed(code, bounded(e.to_string())) {
                    tracing::warn!("container {}: {refused}", &c.id[..12]);
                }
                let rec = live.record.clone();
                drop(live);
                let _ = c.save(&rec);
                if rec.host_config.auto_remove {
                    // As Docker: a --rm container that cannot start is removed.
                    let (engine, c) = (self.clone(), c.clone());
                    tokio::spawn(async move {
                        if let Err(e) = engine.remove(&c, true).await {
                            tracing::warn!("auto-removing {}: {}", &c.id[..12], e);
                        }
                    });
                }
                Err(e)
            }
        }
    }

    /// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`, as Docker
    /// writes them: for a `bridge` container the hosts file names its
    /// address and the resolver skips the host's loopback servers
    /// ([`super::ports::bridge_resolv_conf`]), which it cannot reach.
    fn write_etc_files(
        &self,
        c: &Container,
        record: &Record,
        endpoint: Option<&super::ports::Endpoint>,
    ) -> io::Result<Vec<(String, PathBuf)>> {
        let hostname = &record.config.hostname;
        let mut with_endpoint = record.clone();
        with_endpoint.endpoint = endpoint.cloned();
        // Its peers are named before it runs; they learn its name after.
        let linked = endpoint.is_some_and(|e| !e.link_hosts.is_empty());
        let peers = if record.networks.is_empty() && !linked {
            String::new()
        } else {
            self.peer_lines(&with_endpoint)
        };
        let hosts = super::attach::hosts_text(record, &super::attach::own_ip(&with_endpoint), &peers);
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = match endpoint {
            Some(_) => super::ports::bridge_resolv_conf(&host_resolv),
            None => host_resolv,
        };
        let resolv = super::dns::resolv_conf(&resolv, &record.host_config).into_bytes();
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
    fn launch(self: &Arc<Self>, c: &Arc<Container>, record: &Record, lowers: Vec<PathBuf>) -> Result<(), (Error, i32)> {
        let fail = |e: Error| (e, 128);
        // The previous run's, if still under way: its paths are this run's.
        c.finish_teardown();
        let (confinement, cgroup, resources, spare) = match self.adopt_spare(&record.id, &record.host_config) {
            Some(adopted) => {
                let (confinement, cgroup, resources, spare) = adopted.map_err(fail)?;
                (confinement, cgroup, resources, Some(spare))
            }
            None => {
                let (mut confinement, cgroup) = self.confine(record).map_err(fail)?;
                let resources = resources::create(self.store.root(), &record.id, &record.host_config).map_err(fail)?;
                confinement.cgroups.extend(resources.iter().flat_map(|r| r.dirs()));
                (confinement, cgroup, resources, None)
            }
        };
        // The addresses on its user networks (given back by start_run on
        // a failure, by `exited` at the end).
        let mut record = record.clone();
        let record = &mut record;
        let Prepared {
            network,
            endpoint,
            hostname,
            domainname,
            etc_files,
            spare_network,
        } = self.prepare_network(c, record)?;
        let user_mounts = super::mounts::to_run(&record.mounts, |n| self.volumes.data_dir(n)).map_err(fail)?;
        // A root `strata mount` holds is this run's: one session per
        // writable layer, ever.
        let held = c.lock().user_mount.as_mut().and_then(|h| h.idle.take());
        let mount = match held {
            Some(session) => session,
            None => mount_root(c, lowers).map_err(|e| fail(internal("mounting the container's root")(e)))?,
        };
        if let Err(e) = self.fill_volumes(c, record) {
            give_back_root(c, mount);
            return Err(fail(internal("copying the image's content into a volume")(e)));
        }
        let tty = record.config.tty;
        let open_stdin = record.config.open_stdin;
        let Wiring {
            stdio,
            sources,
            streams,
        } = match make_stdio(tty, open_stdin) {
            Ok(w) => w,
            Err(e) => {
                give_back_root(c, mount);
                return Err(fail(internal("making the container's streams")(e)));
            }
        };
        let spec = run::ContainerSpec {
            id: record.id.clone(),
            rootfs: c.dir.join("merged"),
            hostname,
            domainname,
            network,
            etc_files,
            mounts: user_mounts,
            readonly_root: super::mounts::readonly_root(&record.host_config),
            process: process_spec(record),
            confinement: confinement.clone(),
            // `HostConfig.Init` (null: the daemon's default, off).
            init: record
                .host_config
                .extra
                .get("Init")
                .and_then(serde_json::Value::as_bool)
                == Some(true),
        };
        // Pipes' readers start first: a process that writes and exits at
        // once must still be heard. (A terminal's come after the start.)
        if !sources.is_empty() {
            c.output.start_run(sources);
        }
        let started = match spare {
            Some(spare) => spare.start(&spec, stdio),
            None => run::start(&self.helper, &spec, stdio),
        };
        // The next start's spares, made while this container runs (the
        // network's whenever its slot is empty: a start that failed after
        // taking it, before here, made none).
        self.refill_spare();
        self.refill_spare_network();
        let process = match started {
            Ok(p) => {
                if let Some(n) = spare_network {
                    p.keep_pasta(n.into_pasta());
                }
                Arc::new(p)
            }
            Err(e) => {
                give_back_root(c, mount);
                if tty {
                    // No reader ends the run's output: clients attached
                    // for it are done.
                    c.output.close();
                }
                return Err(start_failure(record, e));
            }
        };
        let streams = match connect_terminal(&process, streams, open_stdin) {
            Ok((sources, streams)) => {
                c.output.start_run(sources);
                streams
            }
            Err(e) => {
                let _ = process.signal(Signal::KILL.raw());
                let _ = process.wait();
                give_back_root(c, mount);
                c.output.close();
                return Err(fail(internal("wiring the container's terminal")(e)));
            }
        };
        mark_running(
            c,
            endpoint,
            record.networks.clone(),
            RunHandles {
                process: process.clone(),
                mount: Some(mount),
                stdin: streams.stdin,
                pty: streams.pty,
                confinement,
                cgroup,
                resources,
            },
        );
        // Its connect and start are told before its waiter may tell its
        // disconnect and die (a process that exits at once).
        self.network_events(record, "connect");
        self.event_of(c, "start", &[]);
        self.spawn_waiter(c, process);
        if !record.networks.is_empty() {
            self.refresh_hosts();
        }
        Ok(())
    }

    /// The network of a start: its mode made concrete (the links to its
    /// user networks, its published ports, the pid of a `container:`
    /// mode's container), its endpoint, and its hostname and /etc files.
    fn prepare_network(&self, c: &Container, record: &mut Record) -> Result<Prepared, (Error, i32)> {
        let fail = |e: Error| (e, 128);
        let mut spare_network = None;
        let mut network = network_mode(&record.host_config.network_mode).map_err(fail)?;
        let (links, internal_only) = self.start_links(record).map_err(fail)?;
        let endpoint = match &mut network {
            run::NetworkMode::Bridge(bridge) if internal_only => {
                bridge.userns = links.first().and_then(|l| l.userns.clone());
                bridge.links = links;
                bridge.internal = true;
                bridge.dir = c.dir.clone();
                None
            }
            run::NetworkMode::Bridge(bridge) => {
                bridge.userns = links.first().and_then(|l| l.userns.clone());
                bridge.links = links;
                let wanted = super::ports::bindings(&record.config, &record.host_config).map_err(fail)?;
                bridge.ports = super::ports::allocate(&wanted).map_err(|e| fail(network_failure(record, &e)))?;
                bridge.dir = c.dir.clone();
                bridge.map_gw = super::dns::wants_host_gateway(&record.host_config);
                let requested = super::mac::requested(&record.config, &record.host_config)
                    .map_err(fail)?
                    .filter(|_| !super::attach::is_user_mode(&record.host_config.network_mode));
                let mac_requested = requested.is_some();
                bridge.mac = match requested {
                    Some(mac) => mac,
                    None => super::mac::generated().map_err(fail)?,
                };
                let mut endpoint = super::ports::endpoint(bridge.ports.clone(), bridge.mac.clone());
                let taken: Vec<String> = std::iter::once(super::attach::pasta_ifname().to_string())
                    .chain(bridge.links.iter().map(|l| l.ifname.clone()))
                    .collect();
                let linked = self.legacy_links(record, &taken).map_err(fail)?;
                if let Some((link, leg)) = linked.link {
                    bridge.links.push(link);
                    endpoint.link_leg = Some(leg);
                }
                endpoint.link_hosts = linked.hosts;
                // Docker's order: the link variables, then the container's own.
                if !linked.env.is_empty() {
                    let own = record.config.env.take().unwrap_or_default();
                    record.config.env = Some(super::environment::replace_or_append(linked.env.clone(), &own));
                }
                endpoint.link_env = linked.env;
                // pasta already on a namespace made ahead, for a start that
                // asks nothing of it: its MAC is the container's.
                if super::spare_network::fits(bridge, mac_requested) {
                    spare_network = self.take_spare_network();
                }
                if let Some(n) = &spare_network {
                    bridge.mac = n.mac().to_string();
                    bridge.netns = n.netns().map(std::path::Path::to_path_buf);
                    endpoint.mac_address = bridge.mac.clone();
                }
                Some(endpoint)
            }
            _ => None,
        };
        // `container:NAME`: its namespace, and its names and resolver.
        let joined = match &mut network {
            run::NetworkMode::Container(pid) => {
                let (target_pid, target) = self.network_container(record).map_err(fail)?;
                *pid = target_pid;
                Some(target)
            }
            _ => None,
        };
        let (hostname, domainname, etc_files) = match &joined {
            Some(target) => (
                target.record().config.hostname,
                target.record().config.domainname,
                ["hostname", "hosts", "resolv.conf"]
                    .iter()
                    .map(|f| (format!("/etc/{f}"), target.dir.join(f)))
                    .collect(),
            ),
            None => (
                record.config.hostname.clone(),
                record.config.domainname.clone(),
                self.write_etc_files(c, record, endpoint.as_ref())
                    .map_err(|e| fail(internal("writing /etc files")(e)))?,
            ),
        };
        Ok(Prepared {
            network,
            endpoint,
            hostname,
            domainname,
            etc_files,
            spare_network,
        })
    }

    /// The running container a `container:NAME` mode names, and its
    /// init's pid (Docker's errors when it is not there, not running, or
    /// this one).
    fn network_container(&self, record: &Record) -> Result<(u32, Arc<Container>), Error> {
        let name = record.host_config.network_mode.trim_start_matches("container:");
        let target = self.get(name)?;
        if target.id == record.id {
            return Err(Error::invalid("cannot join own network namespace"));
        }
        match target.pid() {
            Some(pid) => Ok((pid, target)),
            None => Err(Error::conflict(format!(
                "cannot join network namespace of a non running container: {name}"
            ))),
        }
    }

    /// Empty volumes (not `nocopy`) get the image's content at their path.
    fn fill_volumes(&self, c: &Container, record: &Record) -> io::Result<()> {
        let root = c.dir.join("merged");
        for m in record
            .mounts
            .iter()
            .filter(|m| m.kind == super::mounts::MountType::Volume && !m.nocopy)
        {
            super::volumes::fill_from_image(&root, &m.target, &self.volumes.data_dir(&m.source))?;
        }
        Ok(())
    }

    /// The seccomp program and the cgroup of a container's processes.
    fn confine(&self, record: &Record) -> Result<(run::Confinement, Option<run::cgroup::Cgroup>), Error> {
        // Once per start at most (Docker's default: once per daemon);
        // execs reuse it.
        let settings = privileges::settings(&record.host_config)?;
        let seccomp = security::seccomp_program_for(&record.host_config, &settings.privileges)?;
        let cgroup = self
            .devices
            .create(&record.id, &settings.device_rules)
            .map_err(|e| Error::internal(format!("the container's cgroup: {e}")))?;
        let confinement = run::Confinement {
            seccomp,
            cgroups: cgroup.iter().map(|c| c.dir().to_path_buf()).collect(),
            privileges: settings.privileges,
        };
        Ok((confinement, cgroup))
    }

    /// A thread that waits for the container's process and records its exit.
    fn spawn_waiter(self: &Arc<Self>, c: &Arc<Container>, process: Arc<run::Running>) {
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
    }

    /// The process is gone: drain its output, unmount, remove its cgroup,
    /// record it, wake waiters, and remove the container when it was
    /// created with `--rm`.
    ///
    /// The run's resources go before the state says "exited": whoever sees
    /// that state (`wait`, `inspect`) may start the container again at
    /// once, and the new run's mount and cgroup have the same paths as this
    /// one's, so a late teardown would take them away.
    fn exited(self: &Arc<Self>, c: &Arc<Container>, code: i32) {
        // The exit is heard only once its output is read to the end: a
        // waiter then finds all of it in the logs, and --rm's removal (which
        // ends attached sessions) cuts none of it off.
        if !c.output.wait_drained(output::DRAIN_LIMIT) {
            tracing::warn!("container {}: its output had not ended at its exit", &c.id[..12]);
        }
        let (handles, auto_remove) = {
            let mut live = c.lock();
            let mut handles = live.run.take();
            // A root `strata mount` holds stays mounted, for it.
            if let (Some(h), Some(held)) = (handles.as_mut(), live.user_mount.as_mut()) {
                held.idle = h.mount.take();
            }
            (handles, live.record.host_config.auto_remove)
        };
        let mut oom_killed = false;
        if let Some(mut h) = handles {
            h.stdin.close();
            oom_killed = h.resources.as_ref().is_some_and(|r| r.oom_kills() > 0);
            let (mount, cgroup, resources) = (h.mount.take(), h.cgroup.take(), h.resources.take());
            // Detached before the session ends: a process of the container
            // that has not quite died yet must not make the unmount fail.
            let merged = c.dir.join("merged");
            if auto_remove {
                // Its last run (no policy restarts a --rm container): the
                // detach (which waits for an RCU grace period: 8.8 ms under
                // strace here), the session's end and the cgroups' removal (the
                // kernel's cgroup lock, held through a grace period by any
                // move into a cgroup) go after the waiters are told.
                // Whatever mounts its root next or removes it waits for
                // them (`Container::finish_teardown`); the removal, which
                // may rename the directory first, detaches again there.
                let teardown = move || {
                    if mount.is_some() {
                        let _ = crate::fs::unmount_lazy(&merged);
                    }
                    drop((mount, cgroup, resources));
                };
                match std::thread::Builder::new().name("teardown".into()).spawn(teardown) {
                    Ok(handle) => c.lock().teardown = Some(handle),
                    Err(e) => tracing::warn!("container {}: the teardown thread: {e}", &c.id[..12]),
                }
            } else {
                if mount.is_some() {
                    let _ = sys::unmount_lazy(&merged);
                }
                drop((mount, cgroup, resources));
            }
        }
        let ran = {
            let started = c.lock().record.state.started_at.clone();
            let secs =
                crate::time::now_unix() - crate::time::parse_rfc3339(&started).unwrap_or_else(crate::time::now_unix);
            std::time::Duration::from_secs(secs.max(0) as u64)
        };
        let restart = self.restart_decision(c, code, ran);
        let auto_remove = {
            let mut live = c.lock();
            let changed = match restart {
                Some(_) => {
                    live.record.restart_count += 1;
                    live.record.state.restarting(code, now_rfc3339())
                }
                None => live.record.state.exit(code, now_rfc3339()),
            };
            if let Err(refused) = changed {
                tracing::warn!("container {}: {refused}", &c.id[..12]);
            }
            live.record.state.oom_killed = oom_killed;
            live.record.endpoint = None;
            for a in live.record.networks.values_mut() {
                a.ip.clear();
                a.ifname.clear();
                a.mac.clear();
            }
            let rec = live.record.clone();
            drop(live);
            let auto_remove = rec.host_config.auto_remove;
            c.save_soon(rec);
            auto_remove
        };
        self.release_links(c);
        self.refresh_hosts();
        // As moby: the networks let go of it, then it dies.
        let record = c.record();
        if oom_killed {
            self.container_event(&record, "oom", &[]);
        }
        self.network_events(&record, "disconnect");
        self.container_event(
            &record,
            "die",
            &[
                ("exitCode", code.to_string()),
                ("execDuration", ran.as_secs().to_string()),
            ],
        );
        c.progress.send_modify(|p| {
            p.exits += 1;
            p.exit_code = code;
        });
        if let Some(delay) = restart {
            self.restart_after(c, delay);
        }
        if auto_remove {
            let engine = self.clone();
            let c = c.clone();
            // The removal takes the ops lock, which the stop that caused this exit may hold.
            tokio_handle_spawn(async move {
                if let Err(e) = engine.remove(&c, true).await {
                    tracing::warn!("auto-removing {}: {}", &c.id[..12], e);
                }
            });
        }
    }
}

/// The container's process: its command, and the environment Docker gives
/// it (`HOSTNAME` unless set, `TERM=xterm` on a terminal unless set).
fn process_spec(record: &Record) -> run::ProcessSpec {
    let tty = record.config.tty;
    let env = super::environment::process_env(
        record.config.env.as_deref().unwrap_or_default(),
        &record.config.hostname,
        tty,
        &[],
    );
    run::ProcessSpec {
        args: record.argv(),
        env,
        cwd: record.config.working_dir.clone(),
        user: record.config.user.clone(),
        tty,
        console_size: console_size(tty, record.host_config.console_size),
    }
}

/// A process that did not start: the client's error (400) when the runner
/// says why with an exit code (127 not found, 126 not executable), the
/// daemon's otherwise; and the exit code to record.
fn start_failure(record: &Record, e: run::Error) -> (Error, i32) {
    if let run::Error::Network(e) = &e {
        return (network_failure(record, e), 128);
    }
    let id = &record.id;
    let code = e.exit_code().unwrap_or(128);
    let message = format!("failed to start container {}: {e}", &id[..12]);
    let error = if e.exit_code().is_some() {
        Error::invalid(message)
    } else {
        Error::internal(message)
    };
    (error, code)
}

/// Docker's error for a network that could not be set up (a host port
/// taken): the daemon's (500), naming the container's endpoint.
fn network_failure(record: &Record, e: &run::network::Error) -> Error {
    Error::internal(format!(
        "driver failed programming external connectivity on endpoint {} ({}): {e}",
        record.name, record.id
    ))
}

/// What [`Engine::prepare_network`] gives a start.
struct Prepared {
    network: run::NetworkMode,
    endpoint: Option<super::ports::Endpoint>,
    hostname: String,
    domainname: String,
    etc_files: Vec<(String, PathBuf)>,
    /// The spare network the bridge joins ([`super::spare_network`]).
    spare_network: Option<run::network::SpareNetwork>,
}

/// Records the started process as the container's run, and saves (in
/// the background).
fn mark_running(
    c: &Arc<Container>,
    endpoint: Option<super::ports::Endpoint>,
    networks: std::collections::BTreeMap<String, super::record::Attachment>,
    run: RunHandles,
) {
    let mut live = c.lock();
    live.record.endpoint = endpoint;
    live.record.networks = networks;
    if let Err(refused) = live.record.state.start(run.process.pid(), now_rfc3339()) {
        tracing::warn!("container {}: {refused}", &c.id[..12]);
    }
    live.run = Some(run);
    let rec = live.record.clone();
    drop(live);
    c.save_soon(rec);
}
