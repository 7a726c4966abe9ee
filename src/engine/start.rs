//! `start`: the container's root mounted, its process started and its
//! streams wired; and the exit, when the process ends.

use super::container::RunHandles;
use super::create::network_mode;
use super::error::{Error, internal};
use super::record::{self, Record};
use super::signal::Signal;
use super::streams::console_size;
use super::{
    Container, Engine, LOST_EXIT_CODE, Wiring, connect_terminal, make_stdio, now_rfc3339, output, privileges, security,
    tokio_handle_spawn,
};
use crate::fs::MountConfig;
use crate::quote::bounded;
use crate::{run, sys};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

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

impl Engine {
    /// Starts the container: mounts its root, starts its process, wires its
    /// streams. `Ok(false)` when it was already running.
    pub async fn start(self: &Arc<Self>, c: &Arc<Container>) -> Result<bool, Error> {
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
            Ok(()) => Ok(true),
            Err((e, code)) => {
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
    fn launch(self: &Arc<Self>, c: &Arc<Container>, record: &Record, lowers: Vec<PathBuf>) -> Result<(), (Error, i32)> {
        let fail = |e: Error| (e, 128);
        let (confinement, cgroup) = self.confine(record).map_err(fail)?;
        let etc_files = Self::write_etc_files(c, record).map_err(|e| fail(internal("writing /etc files")(e)))?;
        let user_mounts = super::mounts::to_run(&record.mounts, |n| self.volumes.data_dir(n)).map_err(fail)?;
        let mount = mount_root(c, lowers).map_err(|e| fail(internal("mounting the container's root")(e)))?;
        self.fill_volumes(c, record)
            .map_err(|e| fail(internal("copying the image's content into a volume")(e)))?;
        let tty = record.config.tty;
        let open_stdin = record.config.open_stdin;
        let Wiring {
            stdio,
            sources,
            streams,
        } = make_stdio(tty, open_stdin).map_err(|e| fail(internal("making the container's streams")(e)))?;
        let spec = run::ContainerSpec {
            id: record.id.clone(),
            rootfs: c.dir.join("merged"),
            hostname: record.config.hostname.clone(),
            network: network_mode(&record.host_config.network_mode).map_err(fail)?,
            etc_files,
            mounts: user_mounts,
            readonly_root: super::mounts::readonly_root(&record.host_config),
            process: process_spec(record),
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
                return Err(start_failure(&record.id, e));
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
                drop(mount);
                c.output.close();
                return Err(fail(internal("wiring the container's terminal")(e)));
            }
        };
        mark_running(
            c,
            RunHandles {
                process: process.clone(),
                mount: Some(mount),
                stdin: streams.stdin,
                pty: streams.pty,
                confinement,
                cgroup,
            },
        );
        self.spawn_waiter(c, process);
        Ok(())
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
        let handles = c.lock().run.take();
        if let Some(mut h) = handles {
            h.stdin.close();
            // Detach first: a process of the container that has not quite
            // died yet must not make the unmount fail.
            let _ = sys::unmount_lazy(&c.dir.join("merged"));
            drop(h.mount.take());
            drop(h.cgroup.take());
        }
        let auto_remove = {
            let mut live = c.lock();
            if let Err(refused) = live.record.state.exit(code, now_rfc3339()) {
                tracing::warn!("container {}: {refused}", &c.id[..12]);
            }
            let rec = live.record.clone();
            drop(live);
            if let Err(e) = c.save(&rec) {
                tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
            }
            rec.host_config.auto_remove
        };
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
    let env = record::with_docker_defaults(
        record.config.env.clone().unwrap_or_default(),
        &record.config.hostname,
        tty,
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
fn start_failure(id: &str, e: run::Error) -> (Error, i32) {
    let code = e.exit_code().unwrap_or(128);
    let message = format!("failed to start container {}: {e}", &id[..12]);
    let error = if e.exit_code().is_some() {
        Error::invalid(message)
    } else {
        Error::internal(message)
    };
    (error, code)
}

/// Records the started process as the container's run, and saves.
fn mark_running(c: &Container, run: RunHandles) {
    let mut live = c.lock();
    if let Err(refused) = live.record.state.start(run.process.pid(), now_rfc3339()) {
        tracing::warn!("container {}: {refused}", &c.id[..12]);
    }
    live.run = Some(run);
    let rec = live.record.clone();
    drop(live);
    if let Err(e) = c.save(&rec) {
        tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
    }
}
