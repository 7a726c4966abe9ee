//! Execs: a second process run inside a running container's namespaces
//! and root, with its own streams (not logged, as Docker).

use super::error::Error;
use super::error::internal;
use super::output::Output;
use super::record::Record;
use super::signal::Signal;
use super::spec::ExecSpec;
use super::streams::console_size;
use super::{Container, Engine, Streams, Wiring, connect_terminal, make_stdio, random_id, record};
use crate::run;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub struct Exec {
    pub id: String,
    pub container_id: String,
    target_pid: u32,
    /// The container's: every process in it is confined alike.
    confinement: run::Confinement,
    pub config: ExecSpec,
    process: run::ProcessSpec,
    state: Mutex<ExecState>,
    pub output: Arc<Output>,
    done: watch::Sender<bool>,
}

#[derive(Default)]
struct ExecState {
    started: bool,
    process: Option<Arc<run::Running>>,
    pid: u32,
    exit_code: Option<i32>,
    pty: Option<Arc<std::os::fd::OwnedFd>>,
}

impl Exec {
    pub(super) fn new(
        id: String,
        container_id: String,
        target_pid: u32,
        mut confinement: run::Confinement,
        record: &Record,
        config: ExecSpec,
    ) -> Exec {
        if config.privileged {
            // `exec --privileged`: every capability, as moby's exec; the
            // container's seccomp filter and cgroup still hold.
            confinement.privileges.caps = Some(run::caps::all().bits());
        }
        // The link variables come first, as at the container's start.
        let link_env = record.endpoint.as_ref().map(|e| e.link_env.clone()).unwrap_or_default();
        let config_env =
            super::environment::replace_or_append(link_env, record.config.env.as_deref().unwrap_or_default());
        let env = super::environment::process_env(
            &config_env,
            &record.config.hostname,
            config.tty,
            config.env.as_deref().unwrap_or_default(),
        );
        let process = run::ProcessSpec {
            args: config.cmd.clone(),
            env,
            cwd: if config.working_dir.is_empty() {
                record.config.working_dir.clone()
            } else {
                config.working_dir.clone()
            },
            user: if config.user.is_empty() {
                record.config.user.clone()
            } else {
                config.user.clone()
            },
            tty: config.tty,
            console_size: console_size(config.tty, config.console_size),
        };
        Exec {
            id,
            container_id,
            target_pid,
            confinement,
            config,
            process,
            state: Mutex::new(ExecState::default()),
            output: Arc::new(Output::new(None)),
            done: watch::channel(false).0,
        }
    }

    /// Docker's `exec_create: CMD ARGS` (its space even with no
    /// arguments).
    fn action(&self, prefix: &str) -> String {
        let (first, rest) = self
            .config
            .cmd
            .split_first()
            .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
        format!("{prefix}: {first} {}", rest.join(" "))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the process (blocking). Output flows to `self.output`.
    pub fn start(self: &Arc<Self>, helper: &Path) -> Result<Streams, Error> {
        {
            let mut st = self.lock();
            if st.started {
                return Err(Error::conflict(format!(
                    "Error: Exec command {} has already run",
                    self.id
                )));
            }
            st.started = true;
        }
        let Wiring {
            stdio,
            sources,
            streams,
        } = make_stdio(self.config.tty, self.config.attach_stdin)
            .map_err(|e| Error::internal(format!("making the exec's streams: {e}")))?;
        // Pipes' readers first; a terminal's once the process has made it.
        if !sources.is_empty() {
            self.output.start_run(sources);
        }
        let process = match run::exec(helper, self.target_pid, &self.process, &self.confinement, stdio) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                if self.config.tty {
                    // No reader ends the output: attached clients are done.
                    self.output.close();
                }
                // Docker's exit code for any exec that could not start
                // (not found or not executable alike), and its words.
                self.lock().exit_code = Some(126);
                self.done.send_replace(true);
                return Err(match e {
                    run::Error::Start { message, .. } => Error::invalid(format!(
                        "OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown"
                    )),
                    e => Error::internal(format!("exec failed: {e}")),
                });
            }
        };
        let streams = match connect_terminal(&process, streams, self.config.attach_stdin) {
            Ok((sources, streams)) => {
                self.output.start_run(sources);
                streams
            }
            Err(e) => {
                let _ = process.signal(Signal::KILL.raw());
                let code = process.wait().unwrap_or(126);
                self.output.close();
                self.lock().exit_code = Some(code);
                self.done.send_replace(true);
                return Err(Error::internal(format!("wiring the exec's terminal: {e}")));
            }
        };
        {
            let mut st = self.lock();
            st.pid = process.pid();
            st.process = Some(process.clone());
            st.pty = streams.pty.clone();
        }
        let me = self.clone();
        let stdin = streams.stdin.clone();
        let spawned = std::thread::Builder::new().name("exec-wait".into()).spawn(move || {
            let code = process.wait().unwrap_or(126);
            stdin.close();
            let mut st = me.lock();
            st.exit_code = Some(code);
            st.process = None;
            st.pty = None;
            drop(st);
            me.done.send_replace(true);
        });
        if let Err(e) = spawned {
            tracing::error!("starting the exec waiter: {e}");
        }
        Ok(streams)
    }

    pub fn resize(&self, h: u16, w: u16) -> Result<(), Error> {
        let st = self.lock();
        match &st.pty {
            Some(pty) => run::resize_pty(std::os::fd::AsFd::as_fd(&**pty), h, w)
                .map_err(|e| Error::internal(format!("resizing: {e}"))),
            None if st.process.is_none() => Err(Error::conflict(format!("Exec {} is not running", self.id))),
            None => Ok(()),
        }
    }

    /// Resolves once the process has ended (or failed to start).
    pub async fn finished(&self) {
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Where it stands now.
    pub fn status(&self) -> ExecStatus {
        let st = self.lock();
        ExecStatus {
            running: st.process.is_some(),
            exit_code: st.exit_code,
            pid: st.pid,
        }
    }
}

/// Where an exec stands: running, its exit code once it ended (or failed
/// to start), its process's pid.
#[derive(Clone, Copy, Debug)]
pub struct ExecStatus {
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: u32,
}

impl Engine {
    /// An exec of `config` in `c`, which must be running. As for
    /// [`Engine::create`], `request_checked` is the caller's verdict on the
    /// fields the engine never sees, reported where those were checked
    /// before (after the container's state and the command).
    pub fn create_exec(
        &self,
        c: &Arc<Container>,
        config: ExecSpec,
        request_checked: Result<(), Error>,
    ) -> Result<Arc<Exec>, Error> {
        let (pid, record, confinement) = {
            let live = c.lock();
            match &live.run {
                Some(r) => (r.process.pid(), live.record.clone(), r.confinement.clone()),
                None => {
                    return Err(Error::conflict(format!("container {} is not running", c.id)));
                }
            }
        };
        c.refuse_if_paused()?;
        if config.cmd.is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        request_checked?;
        record::validate_user(&config.user)?;
        let id = random_id().map_err(internal("making an ID"))?;
        let exec = Arc::new(Exec::new(id.clone(), c.id.clone(), pid, confinement, &record, config));
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), exec.clone());
        self.container_event(&record, &exec.action("exec_create"), &[("execID", id)]);
        Ok(exec)
    }

    /// Starts `exec` ([`Exec::start`], blocking), with Docker's
    /// `exec_start` event, and its `exec_die` when it ends.
    pub fn start_exec(self: &Arc<Self>, exec: &Arc<Exec>) -> Result<Streams, Error> {
        let record = self.get(&exec.container_id)?.record();
        self.container_event(&record, &exec.action("exec_start"), &[("execID", exec.id.clone())]);
        let streams = exec.start(&self.helper)?;
        let (engine, exec) = (self.clone(), exec.clone());
        super::tokio_handle_spawn(async move {
            exec.finished().await;
            let code = exec.status().exit_code.unwrap_or(126);
            engine.container_event(
                &record,
                "exec_die",
                &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
            );
        });
        Ok(streams)
    }

    pub fn get_exec(&self, id: &str) -> Result<Arc<Exec>, Error> {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {}", crate::quote::excerpt(id, 128))))
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
}
