//! The built-in init (`--init`, Docker's `docker-init`, tini): PID 1 of
//! the container, confined like its command (it forks after the
//! capabilities, the user and the seccomp filter are in force), that
//! forwards the signals it receives to the command, reaps every zombie
//! that reparents to it, and exits with the command's code (128+N when
//! signal N killed it).
//!
//! Why: a process that is PID 1 of its namespace gets no signal its
//! handlers do not catch (the kernel drops them: `sleep` ignores SIGINT
//! and SIGTERM as PID 1), and orphans become its children, which a shell
//! or a server never waits for.

use crate::sys::signals::{self, Forked};
use rustix::process::{Pid, WaitOptions};
use std::time::Duration;

/// How long one wait for a signal lasts before the zombies are reaped
/// anyway (a SIGCHLD is never lost while blocked, but coalesces).
const TICK: Duration = Duration::from_secs(1);

/// Forks the command: `None` in the child (which then execs it), the
/// child's pid in the parent, which then closes what only the child may
/// hold and calls [`reap_and_exit`].
pub fn fork(tty: bool) -> std::io::Result<Option<i32>> {
    // Blocked before the fork: no signal can hit the parent's default
    // disposition in between; the child unblocks them before its exec.
    signals::block_forwardable_signals()?;
    match signals::fork_single_threaded()? {
        Forked::Child => {
            isolate(tty);
            signals::unblock_all_signals()?;
            Ok(None)
        }
        Forked::Parent(child) => Ok(Some(child)),
    }
}

/// The parent's life: reaps and forwards until the command ends, then
/// exits with its code.
pub fn reap_and_exit(child: i32) -> ! {
    // Its /proc entries (the spec in its environment) are for the daemon's
    // eyes: not dumpable, so not readable by the container's root without
    // CAP_SYS_PTRACE.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let _ = rustix::thread::set_name(c"docker-init");
    std::process::exit(reap(child))
}

/// The child: a process group of its own, the terminal's foreground one
/// (so a Ctrl-C reaches it directly, as tini does). SIGTTOU is still
/// blocked here, so `tcsetpgrp` from the background is allowed.
fn isolate(tty: bool) {
    let _ = rustix::process::setpgid(None, None);
    if tty {
        let _ = rustix::termios::tcsetpgrp(std::io::stdin(), rustix::process::getpid());
    }
}

/// Forwards signals to `child` and reaps every zombie until `child` ends;
/// its Docker exit code.
fn reap(child: i32) -> i32 {
    let Some(child_pid) = Pid::from_raw(child) else {
        return 1;
    };
    loop {
        match signals::wait_signal(TICK) {
            // The terminal's job control stops concern only a process that
            // reads or writes it, which this one does not.
            Some(libc::SIGCHLD | libc::SIGTTIN | libc::SIGTTOU) | None => {}
            Some(sig) => {
                if let Some(signal) = crate::sys::signal_from_raw(sig) {
                    let _ = rustix::process::kill_process(child_pid, signal);
                }
            }
        }
        // Every zombie, the command's included, until none has ended (or
        // none is left).
        while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
            if pid == child_pid {
                return match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => code,
                    (None, Some(sig)) => 128 + sig,
                    (None, None) => 255,
                };
            }
        }
    }
}
