//! `stop`, `kill` and `restart`: signals to a running container, and the
//! daemon's shutdown. Every stop takes one path, Docker's: the stop signal
//! (the request's, else the container's `StopSignal`, else SIGTERM), then
//! SIGKILL after the timeout (the request's, else the container's
//! `StopTimeout`, else 10 s).

use super::error::Error;
use super::signal::Signal;
use super::{Container, Engine};
use std::sync::Arc;
use std::time::Duration;

impl Engine {
    /// Docker's kill: the named signal (SIGKILL when none is).
    pub fn kill(&self, c: &Container, signal: Option<&str>) -> Result<(), Error> {
        let sig = match signal.filter(|s| !s.is_empty()) {
            None => Signal::KILL,
            Some(s) => requested(s)?,
        };
        // As moby: a kill is the user's stop; the stop signal (any signal
        // when none is configured) or SIGKILL also cancels the restart policy.
        let stop_signal = c.lock().record.config.stop_signal.as_deref().and_then(Signal::parse);
        let cancels = sig == Signal::KILL || stop_signal.is_none_or(|s| s == sig);
        mark_stopped_by_user(c);
        if cancels {
            self.restarts.cancel(&c.id);
            if self.cancel_restart(c) {
                return Ok(());
            }
        }
        c.signal(sig)?;
        self.kill_event(c, sig);
        Ok(())
    }

    /// Docker's `kill` event, for every signal sent by a kill or a stop.
    fn kill_event(&self, c: &Container, sig: Signal) {
        self.event_of(c, "kill", &[("signal", sig.raw().to_string())]);
    }

    /// Docker's stop: the stop signal, then SIGKILL after `timeout` seconds
    /// (negative: wait for ever). `Ok(false)` when it was not running.
    pub async fn stop(&self, c: &Arc<Container>, timeout: Option<i64>, signal: Option<&str>) -> Result<bool, Error> {
        let _op = c.ops.lock().await;
        mark_stopped_by_user(c);
        self.restarts.cancel(&c.id);
        if self.cancel_restart(c) {
            return Ok(true);
        }
        let stopped = stop_locked(Some(self), c, timeout, signal, None).await?;
        if stopped {
            self.event_of(c, "stop", &[]);
        }
        Ok(stopped)
    }

    /// Kills and waits, for removal with force.
    pub(super) async fn kill_and_wait(&self, c: &Arc<Container>) {
        self.restarts.cancel(&c.id);
        self.cancel_restart(c);
        let mut rx = c.progress.subscribe();
        let before = rx.borrow().exits;
        if c.signal(Signal::KILL).is_ok() {
            self.kill_event(c, Signal::KILL);
            let _ = rx.wait_for(|p| p.exits > before).await;
        }
    }

    pub async fn restart(self: &Arc<Self>, c: &Arc<Container>, timeout: Option<i64>) -> Result<(), Error> {
        {
            let _op = c.ops.lock().await;
            // Not the policy's restart: the start below resets its count.
            self.restarts.cancel(&c.id);
            self.cancel_restart(c);
            if stop_locked(Some(self), c, timeout, None, None).await? {
                self.event_of(c, "stop", &[]);
            }
        }
        self.start(c).await?;
        self.event_of(c, "restart", &[]);
        Ok(())
    }

    /// Stops every running container (the daemon is shutting down) as
    /// `stop` does, each with its stop timeout but at most `limit`, and
    /// waits at most `SHUTDOWN_KILL_WAIT` after a SIGKILL: a process that
    /// does not die must not keep the daemon from exiting.
    pub async fn shutdown(&self, limit: Duration) {
        self.shutting_down.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut tasks = tokio::task::JoinSet::new();
        for c in self.all() {
            if c.is_running() {
                let timeout = stop_timeout(&c, None).clamp(0, limit.as_secs() as i64);
                tasks.spawn(async move {
                    let _op = c.ops.lock().await;
                    if let Err(e) = stop_locked(None, &c, Some(timeout), None, Some(SHUTDOWN_KILL_WAIT)).await {
                        // Its recorded stop signal is not one: as Docker, SIGTERM then.
                        tracing::warn!("stopping {}: {e}", &c.id[..12]);
                        let _ = stop_locked(None, &c, Some(timeout), Some("SIGTERM"), Some(SHUTDOWN_KILL_WAIT)).await;
                    }
                });
            }
        }
        while tasks.join_next().await.is_some() {}
        self.spares.clear();
        // It may wait for a spare's pasta being started.
        tokio::task::block_in_place(|| self.spare_networks.clear());
        self.end_user_mounts();
        // The exits just recorded are written in the background.
        let _ = tokio::task::spawn_blocking(|| super::container::wait_for_saves(Duration::from_secs(10))).await;
        // The networks' namespaces go with the daemon (made again at its
        // next start): a stopped daemon leaves nothing in /run.
        self.networks_down();
        if let Some(m) = self.devices.manager() {
            m.remove_parent();
        }
    }
}

/// Records that the user stopped `c` (an `unless-stopped` policy keeps it
/// down at the daemon's start).
fn mark_stopped_by_user(c: &Container) {
    let mut live = c.lock();
    if live.record.manually_stopped {
        return;
    }
    live.record.manually_stopped = true;
    let rec = live.record.clone();
    drop(live);
    if let Err(e) = c.save(&rec) {
        tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
    }
}

/// How long the daemon's shutdown waits for a container it sent SIGKILL.
const SHUTDOWN_KILL_WAIT: Duration = Duration::from_secs(5);

impl Container {
    /// Sends `sig` to the container's process: a conflict when it is not
    /// running.
    pub(super) fn signal(&self, sig: Signal) -> Result<(), Error> {
        let live = self.lock();
        let Some(run) = &live.run else {
            return Err(Error::conflict(format!(
                "cannot kill container: {}: container {} is not running",
                self.id, self.id
            )));
        };
        let sent = run
            .process
            .signal(sig.raw())
            .map_err(|e| Error::internal(format!("signalling {}: {e}", &self.id[..12])));
        drop(live);
        self.thaw_if_paused();
        sent
    }
}

/// The one stop, for a caller holding `c.ops`: the stop signal, then
/// SIGKILL after the timeout (negative: wait for ever), then the exit,
/// waited for at most `kill_wait` when given. `Ok(false)` when the
/// container was not running. Each signal sent is an event of `engine`'s
/// (none at the daemon's shutdown).
async fn stop_locked(
    engine: Option<&Engine>,
    c: &Arc<Container>,
    timeout: Option<i64>,
    signal: Option<&str>,
    kill_wait: Option<Duration>,
) -> Result<bool, Error> {
    let sig_name = {
        let live = c.lock();
        if !live.record.state.is_running() {
            return Ok(false);
        }
        signal
            .map(str::to_string)
            .or_else(|| live.record.config.stop_signal.clone())
    };
    let sig = match sig_name.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => requested(s)?,
        None => Signal::TERM,
    };
    let timeout = stop_timeout(c, timeout);
    let mut rx = c.progress.subscribe();
    let before = rx.borrow().exits;
    if c.signal(sig).is_ok()
        && let Some(e) = engine
    {
        e.kill_event(c, sig);
    }
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
        if c.signal(Signal::KILL).is_ok()
            && let Some(e) = engine
        {
            e.kill_event(c, Signal::KILL);
        }
        let exited = rx.wait_for(|p| p.exits > before);
        match kill_wait {
            Some(bound) => drop(tokio::time::timeout(bound, exited).await),
            None => drop(exited.await),
        }
    }
    Ok(true)
}

/// The request's timeout, else the container's `StopTimeout`, else 10 s.
fn stop_timeout(c: &Container, requested: Option<i64>) -> i64 {
    requested.unwrap_or_else(|| c.lock().record.config.stop_timeout.unwrap_or(10))
}

/// A signal a client named: Docker's words when it names none.
fn requested(s: &str) -> Result<Signal, Error> {
    Signal::parse(s).ok_or_else(|| Error::invalid(format!("Invalid signal: {s}")))
}
