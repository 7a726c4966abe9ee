//! Where a container stands: its `Status` (the single source of truth for
//! "running") and the `State` the record keeps, whose changes are methods
//! that refuse the transitions Docker does not make.
//!
//! On disk the state keeps the shape older versions wrote (Docker's
//! `State` object, `Running` included), so existing stores read and older
//! daemons can still read what this one writes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The time Docker shows for "never" (Go's zero `time.Time`); the API
/// shows the same (`wire::ZERO_TIME`).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A container's status, as Docker names it in `State.Status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Never started.
    #[default]
    Created,
    /// Its process runs.
    Running,
    /// Its process ended (or died with a previous daemon).
    Exited,
    /// Its process ended and its restart policy starts it again after the
    /// back-off (Docker counts it as running: `State.Running` is true).
    Restarting,
}

impl Status {
    /// Docker's state string: `created`, `running`, `exited`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Restarting => "restarting",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition the state machine does not make.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a container that is {from} cannot become {to}")]
pub struct Refused {
    pub from: Status,
    pub to: Status,
}

/// What a container's record keeps of its runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "StateFile", into = "StateFile")]
pub struct State {
    pub status: Status,
    /// 0 unless running.
    pub pid: u32,
    pub exit_code: i32,
    /// Why the last start failed; empty after a start.
    pub error: String,
    /// RFC 3339; [`ZERO_TIME`] when never.
    pub started_at: String,
    pub finished_at: String,
    /// The last run's process was killed by its memory limit's OOM killer.
    pub oom_killed: bool,
    /// Running, its processes frozen (`pause`); `Status` stays running, as
    /// Docker's `State.Running` does.
    pub paused: bool,
}

impl State {
    /// A container never started.
    pub fn created() -> State {
        State {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            oom_killed: false,
            paused: false,
        }
    }

    /// Docker's `State.Status`: `paused` for a paused running container.
    pub fn docker_status(&self) -> &'static str {
        if self.paused && self.is_running() {
            "paused"
        } else {
            self.status.as_str()
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == Status::Running
    }

    /// Created or exited → running, with the process's `pid`, at `now`.
    pub fn start(&mut self, pid: u32, now: String) -> Result<(), Refused> {
        self.refuse_if_running(Status::Running)?;
        self.status = Status::Running;
        self.pid = pid;
        self.exit_code = 0;
        self.error.clear();
        self.started_at = now;
        self.finished_at = ZERO_TIME.into();
        self.oom_killed = false;
        self.paused = false;
        Ok(())
    }

    /// Running → exited with `code`, at `now`.
    pub fn exit(&mut self, code: i32, now: String) -> Result<(), Refused> {
        if !self.is_running() {
            return Err(Refused {
                from: self.status,
                to: Status::Exited,
            });
        }
        self.status = Status::Exited;
        self.pid = 0;
        self.exit_code = code;
        self.finished_at = now;
        self.paused = false;
        Ok(())
    }

    pub fn is_restarting(&self) -> bool {
        self.status == Status::Restarting
    }

    /// Running → restarting: the process ended with `code` at `now`, and
    /// its restart policy starts it again after the back-off.
    pub fn restarting(&mut self, code: i32, now: String) -> Result<(), Refused> {
        self.exit(code, now)?;
        self.status = Status::Restarting;
        Ok(())
    }

    /// Restarting → exited: the back-off was cancelled (`stop`, `rm -f`,
    /// a failed start) and the last exit stands.
    pub fn cancel_restart(&mut self) -> Result<(), Refused> {
        if !self.is_restarting() {
            return Err(Refused {
                from: self.status,
                to: Status::Exited,
            });
        }
        self.status = Status::Exited;
        Ok(())
    }

    /// A start that failed: the status stays, the exit code and the error
    /// Docker shows are recorded.
    pub fn start_failed(&mut self, code: i32, error: String) -> Result<(), Refused> {
        self.refuse_if_running(self.status)?;
        self.exit_code = code;
        self.error = error;
        Ok(())
    }

    fn refuse_if_running(&self, to: Status) -> Result<(), Refused> {
        match self.status {
            Status::Running => Err(Refused {
                from: Status::Running,
                to,
            }),
            Status::Created | Status::Exited | Status::Restarting => Ok(()),
        }
    }
}

/// The state as `container.json` has always held it: Docker's `State`
/// object. `Running` and the flags this daemon never sets are written for
/// older readers and ignored when read: `Status` decides.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StateFile {
    status: Status,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: u32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
}

impl From<StateFile> for State {
    fn from(f: StateFile) -> State {
        State {
            status: f.status,
            pid: f.pid,
            exit_code: f.exit_code,
            error: f.error,
            started_at: f.started_at,
            finished_at: f.finished_at,
            oom_killed: f.oom_killed,
            paused: f.paused && f.status == Status::Running,
        }
    }
}

impl From<State> for StateFile {
    fn from(s: State) -> StateFile {
        StateFile {
            // Docker's: a restarting container counts as running.
            running: s.is_running() || s.is_restarting(),
            restarting: s.is_restarting(),
            status: s.status,
            pid: s.pid,
            exit_code: s.exit_code,
            error: s.error,
            started_at: s.started_at,
            finished_at: s.finished_at,
            oom_killed: s.oom_killed,
            paused: s.paused,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_runs_exits_and_runs_again() {
        let mut s = State::created();
        assert!(!s.is_running());
        s.start(42, "t1".into()).unwrap();
        assert_eq!((s.status, s.pid, s.is_running()), (Status::Running, 42, true));
        assert_eq!(s.finished_at, ZERO_TIME);
        s.exit(3, "t2".into()).unwrap();
        assert_eq!((s.status, s.pid, s.exit_code), (Status::Exited, 0, 3));
        assert_eq!(s.finished_at, "t2");
        s.start(43, "t3".into()).unwrap();
        assert_eq!((s.exit_code, s.started_at.as_str()), (0, "t3"));
    }

    #[test]
    fn invalid_transitions_are_refused_and_change_nothing() {
        let mut s = State::created();
        assert_eq!(
            s.exit(1, "t".into()),
            Err(Refused {
                from: Status::Created,
                to: Status::Exited
            })
        );
        assert_eq!(s, State::created());
        s.start(7, "t1".into()).unwrap();
        let running = s.clone();
        assert!(s.start(8, "t2".into()).is_err());
        assert!(s.start_failed(127, "no such file".into()).is_err());
        assert_eq!(s, running);
    }

    #[test]
    fn a_failed_start_keeps_the_status_and_says_why() {
        let mut s = State::created();
        s.start_failed(127, "not found".into()).unwrap();
        assert_eq!(
            (s.status, s.exit_code, s.error.as_str()),
            (Status::Created, 127, "not found")
        );
        s.start(9, "t".into()).unwrap();
        assert!(s.error.is_empty());
    }

    #[test]
    fn a_restart_policy_restarts_or_is_cancelled() {
        let mut s = State::created();
        assert!(s.restarting(1, "t".into()).is_err());
        s.start(5, "t1".into()).unwrap();
        s.restarting(3, "t2".into()).unwrap();
        assert_eq!(
            (s.status, s.pid, s.exit_code, s.is_running()),
            (Status::Restarting, 0, 3, false)
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            (v["Status"].as_str(), v["Running"].as_bool(), v["Restarting"].as_bool()),
            (Some("restarting"), Some(true), Some(true))
        );
        assert_eq!(serde_json::from_value::<State>(v).unwrap(), s);
        s.start(6, "t3".into()).unwrap();
        s.restarting(3, "t4".into()).unwrap();
        s.cancel_restart().unwrap();
        assert_eq!((s.status, s.exit_code), (Status::Exited, 3));
        assert!(s.cancel_restart().is_err());
    }

    #[test]
    fn the_state_keeps_dockers_shape_on_disk() {
        let mut s = State::created();
        s.start(5, "2026-01-01T00:00:00Z".into()).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["Status"], "running");
        assert_eq!(v["Running"], true);
        assert_eq!(v["Pid"], 5);
        assert_eq!(v["OOMKilled"], false);
        let back: State = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<State>(r#"{"Status":"sleeping"}"#).is_err());
    }
}
