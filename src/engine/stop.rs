//! `stop`, `kill` and `restart`: signals to a running container, and the
//! daemon's shutdown.

use super::error::Error;
use super::signal::Signal;
use super::{Container, Engine};
use std::sync::Arc;
use std::time::Duration;

/// SIGTERM, then SIGKILL after `timeout` seconds, without the engine.
async fn stop_detached(c: &Arc<Container>, timeout: i64) {
    let _op = c.ops.lock().await;
    let mut rx = c.progress.subscribe();
    let before = rx.borrow().exits;
    let signal = |sig: Signal| {
        if let Some(run) = &c.lock().run {
            let _ = run.process.signal(sig.raw());
        }
    };
    if !c.is_running() {
        return;
    }
    signal(Signal::TERM);
    let in_time = tokio::time::timeout(
        Duration::from_secs(timeout.max(0) as u64),
        rx.wait_for(|p| p.exits > before),
    )
    .await
    .is_ok();
    if !in_time {
        signal(Signal::KILL);
        let mut rx = c.progress.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|p| p.exits > before)).await;
    }
}

impl Engine {
    /// Docker's kill: the named signal (SIGKILL when none is).
    pub fn kill(&self, c: &Container, signal: Option<&str>) -> Result<(), Error> {
        let sig = match signal.filter(|s| !s.is_empty()) {
            None => Signal::KILL,
            Some(s) => requested(s)?,
        };
        self.signal(c, sig)
    }

    pub fn signal(&self, c: &Container, sig: Signal) -> Result<(), Error> {
        let live = c.lock();
        let Some(run) = &live.run else {
            return Err(Error::conflict(format!(
                "cannot kill container: {}: container {} is not running",
                c.id, c.id
            )));
        };
        run.process
            .signal(sig.raw())
            .map_err(|e| Error::internal(format!("signalling {}: {e}", &c.id[..12])))
    }

    /// Docker's stop: the stop signal, then SIGKILL after `timeout` seconds
    /// (negative: wait for ever). `Ok(false)` when it was not running.
    pub async fn stop(&self, c: &Arc<Container>, timeout: Option<i64>, signal: Option<&str>) -> Result<bool, Error> {
        let _op = c.ops.lock().await;
        self.stop_locked(c, timeout, signal).await
    }

    async fn stop_locked(&self, c: &Arc<Container>, timeout: Option<i64>, signal: Option<&str>) -> Result<bool, Error> {
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
            Some(s) => requested(s)?,
            None => Signal::TERM,
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
            let _ = self.signal(c, Signal::KILL);
            let _ = rx.wait_for(|p| p.exits > before).await;
        }
        Ok(true)
    }

    /// Kills and waits, for removal with force.
    pub(super) async fn kill_and_wait(&self, c: &Arc<Container>) {
        let mut rx = c.progress.subscribe();
        let before = rx.borrow().exits;
        if self.signal(c, Signal::KILL).is_ok() {
            let _ = rx.wait_for(|p| p.exits > before).await;
        }
    }

    pub async fn restart(self: &Arc<Self>, c: &Arc<Container>, timeout: Option<i64>) -> Result<(), Error> {
        {
            let _op = c.ops.lock().await;
            self.stop_locked(c, timeout, None).await?;
            let mut live = c.lock();
            live.record.restart_count += 1;
        }
        self.start(c).await.map(|_| ())
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
}

/// A signal a client named: Docker's words when it names none.
fn requested(s: &str) -> Result<Signal, Error> {
    Signal::parse(s).ok_or_else(|| Error::invalid(format!("Invalid signal: {s}")))
}
