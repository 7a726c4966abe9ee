//! `HostConfig.RestartPolicy` as moby's restart manager applies it:
//! `no`, `always`, `unless-stopped`, `on-failure[:N]`. After each exit the
//! policy read from the record (so an `update` of it counts) decides; a
//! restart waits a back-off (100 ms, doubling, at most a minute, back to
//! 100 ms once a run lasted 10 s) with the container `restarting`, and
//! counts in `RestartCount`. A user's `stop` or `kill` cancels it (and an
//! `unless-stopped` container the user stopped stays down at the daemon's
//! start, where `always` ones and the others start again).

use super::error::Error;
use super::spec::HostSettings;
use super::{Container, Engine};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
const RESET_AFTER: Duration = Duration::from_secs(10);

/// A container's restart policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Policy {
    pub name: String,
    pub maximum_retry_count: i64,
}

impl Policy {
    /// The policy of `host` (absent or null: `no`).
    pub fn of(host: &HostSettings) -> Policy {
        host.extra
            .get("RestartPolicy")
            .and_then(|v| Policy::deserialize(v).ok())
            .unwrap_or_default()
    }

    pub fn is_none(&self) -> bool {
        matches!(self.name.as_str(), "" | "no")
    }

    /// Whether an exit with `code` restarts (moby's `ShouldRestart`), after
    /// `restarts` restarts already.
    pub fn restarts(&self, code: i32, manually_stopped: bool, restarts: i64) -> bool {
        match self.name.as_str() {
            "always" => true,
            "unless-stopped" => !manually_stopped,
            "on-failure" => {
                let max = self.maximum_retry_count;
                code != 0 && (max == 0 || restarts < max)
            }
            _ => false,
        }
    }
}

/// Docker's checks of a create request's policy, with its words.
pub fn validate(host: &HostSettings) -> Result<(), Error> {
    let Some(value) = host.extra.get("RestartPolicy").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let policy = Policy::deserialize(value).map_err(|e| Error::invalid(format!("invalid restart policy: {e}")))?;
    if host.auto_remove && !policy.is_none() {
        return Err(Error::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    let max = policy.maximum_retry_count;
    match policy.name.as_str() {
        "always" | "unless-stopped" | "no" if max != 0 => {
            let mut msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'".to_string();
            if max < 0 {
                msg += " and cannot be negative";
            }
            Err(Error::invalid(msg))
        }
        "on-failure" if max < 0 => Err(Error::invalid(
            "invalid restart policy: maximum retry count cannot be negative",
        )),
        "always" | "unless-stopped" | "no" | "on-failure" | "" => Ok(()),
        other => Err(Error::invalid(format!(
            "invalid restart policy: unknown policy '{}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
            crate::quote::excerpt(other, 64)
        ))),
    }
}

/// The next back-off after `last` (zero: none yet) for a run of `ran`.
pub fn next_delay(last: Duration, ran: Duration) -> Duration {
    let last = if ran >= RESET_AFTER { Duration::ZERO } else { last };
    if last.is_zero() {
        FIRST_DELAY
    } else {
        (last * 2).min(MAX_DELAY)
    }
}

/// Each container's back-off and the generation of its pending restart
/// (a cancel bumps it, so a timer that wakes late starts nothing).
#[derive(Default)]
pub struct Restarts {
    by_id: Mutex<HashMap<String, Backoff>>,
}

#[derive(Default, Clone, Copy)]
struct Backoff {
    delay: Duration,
    generation: u64,
    cancelled: bool,
}

impl Restarts {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Backoff) -> T) -> T {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(id.to_string()).or_default())
    }

    /// A user's start: a fresh back-off, nothing cancelled.
    pub fn reset(&self, id: &str) {
        self.with(id, |b| *b = Backoff::default());
    }

    /// No restart after the coming exit, and none pending.
    pub fn cancel(&self, id: &str) {
        self.with(id, |b| {
            b.cancelled = true;
            b.generation += 1;
        });
    }

    fn schedule(&self, id: &str, ran: Duration) -> Option<(Duration, u64)> {
        self.with(id, |b| {
            if b.cancelled {
                return None;
            }
            b.delay = next_delay(b.delay, ran);
            b.generation += 1;
            Some((b.delay, b.generation))
        })
    }

    fn current(&self, id: &str, generation: u64) -> bool {
        self.with(id, |b| !b.cancelled && b.generation == generation)
    }
}

impl Engine {
    /// Called at the container's exit, before its state is recorded:
    /// `Some(delay)` when its policy restarts it (the state then becomes
    /// `restarting`, and [`Engine::restart_after`] starts it).
    pub(super) fn restart_decision(&self, c: &Container, code: i32, ran: Duration) -> Option<Duration> {
        let (policy, stopped, count) = {
            let live = c.lock();
            let r = &live.record;
            (Policy::of(&r.host_config), r.manually_stopped, r.restart_count)
        };
        if self.shutting_down() || !policy.restarts(code, stopped, count) {
            return None;
        }
        self.restarts.schedule(&c.id, ran).map(|(d, _)| d)
    }

    /// Starts `c` again after `delay`, unless cancelled meanwhile.
    pub(super) fn restart_after(self: &Arc<Self>, c: &Arc<Container>, delay: Duration) {
        let generation = self.restarts.with(&c.id, |b| b.generation);
        let (engine, c) = (self.clone(), c.clone());
        super::tokio_handle_spawn(async move {
            tokio::time::sleep(delay).await;
            if !engine.restarts.current(&c.id, generation) || !c.state().is_restarting() {
                return;
            }
            if let Err(e) = engine.start_run(&c).await {
                tracing::warn!("restarting {}: {e}", &c.id[..12]);
                engine.cancel_restart(&c);
            }
        });
    }

    /// Cancels a pending restart: the container is `exited` with its last
    /// code. `true` when one was pending.
    pub(super) fn cancel_restart(&self, c: &Container) -> bool {
        self.restarts.cancel(&c.id);
        let mut live = c.lock();
        if live.record.state.cancel_restart().is_err() {
            return false;
        }
        let rec = live.record.clone();
        drop(live);
        if let Err(e) = c.save(&rec) {
            tracing::warn!("container {}: saving its state: {e}", &c.id[..12]);
        }
        true
    }

    /// At the daemon's start: the containers whose policy wants them
    /// running again (`always`; `unless-stopped` unless the user stopped
    /// it; `on-failure` after a failure), started as by a user.
    pub fn start_restart_policies(self: &Arc<Self>) {
        for c in self.all() {
            let start = {
                let live = c.lock();
                let r = &live.record;
                r.state.started_at != super::status::ZERO_TIME
                    && !r.state.is_running()
                    && Policy::of(&r.host_config).restarts(r.state.exit_code, r.manually_stopped, r.restart_count)
            };
            if start {
                let engine = self.clone();
                super::tokio_handle_spawn(async move {
                    if let Err(e) = engine.start(&c).await {
                        tracing::warn!("starting {} (restart policy): {e}", &c.id[..12]);
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(json: serde_json::Value) -> HostSettings {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn policies_decide_as_moby() {
        let p = |name: &str, max| Policy {
            name: name.into(),
            maximum_retry_count: max,
        };
        assert!(!p("no", 0).restarts(1, false, 0));
        assert!(p("always", 0).restarts(0, true, 99));
        assert!(p("unless-stopped", 0).restarts(0, false, 0));
        assert!(!p("unless-stopped", 0).restarts(0, true, 0));
        assert!(!p("on-failure", 2).restarts(0, false, 0));
        assert!(p("on-failure", 2).restarts(3, false, 1));
        assert!(!p("on-failure", 2).restarts(3, false, 2));
        assert!(p("on-failure", 0).restarts(3, false, 1000));
    }

    #[test]
    fn the_back_off_doubles_caps_and_resets() {
        let short = Duration::from_secs(1);
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..12 {
            d = next_delay(d, short);
            seen.push(d.as_millis());
        }
        assert_eq!(&seen[..4], &[100, 200, 400, 800]);
        assert_eq!(*seen.last().unwrap(), 60_000);
        assert_eq!(next_delay(d, RESET_AFTER), FIRST_DELAY);
    }

    #[test]
    fn requests_are_checked_with_dockers_words() {
        let check = |json| validate(&host(json)).map_err(|e| e.to_string());
        check(serde_json::json!({})).unwrap();
        check(serde_json::json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})).unwrap();
        check(serde_json::json!({"RestartPolicy": {"Name": "no"}, "AutoRemove": true})).unwrap();
        assert_eq!(
            check(serde_json::json!({"RestartPolicy": {"Name": "always"}, "AutoRemove": true})).unwrap_err(),
            "can't create 'AutoRemove' container with restart policy"
        );
        assert!(
            check(serde_json::json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 1}}))
                .unwrap_err()
                .contains("can only be used with 'on-failure'")
        );
        assert!(
            check(serde_json::json!({"RestartPolicy": {"Name": "sometimes"}}))
                .unwrap_err()
                .contains("unknown policy 'sometimes'")
        );
        assert!(
            check(serde_json::json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}))
                .unwrap_err()
                .contains("cannot be negative")
        );
    }
}
