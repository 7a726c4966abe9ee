//! What the containers' built-in init needs beyond rustix's safe API: a
//! fork of a single-threaded process, the signal mask, and waiting for a
//! signal (`sigtimedwait`, `sigwait`).

use std::io;
use std::time::Duration;

/// Which side of a fork this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Child,
    /// The child's pid.
    Parent(i32),
}

/// The synchronous signals, which report a fault of the thread itself:
/// never blocked, never forwarded (as tini).
const NOT_FORWARDED: &[i32] = &[
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// Every signal but [`NOT_FORWARDED`] (SIGKILL and SIGSTOP cannot be
/// blocked: the kernel ignores them in a mask).
fn forwardable_set() -> libc::sigset_t {
    // SAFETY: sigfillset and sigdelset only write the set they are given,
    // which lives on this stack frame, and the numbers are valid signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for &sig in NOT_FORWARDED {
            libc::sigdelset(&mut set, sig);
        }
        set
    }
}

/// Blocks every forwardable signal in this (single-threaded) process: they
/// stay pending until [`wait_signal`] takes them. A child made by
/// [`fork_single_threaded`] inherits the mask: it must
/// [`unblock_all_signals`] before its `execve`.
pub fn block_forwardable_signals() -> io::Result<()> {
    let set = forwardable_set();
    // SAFETY: sigprocmask reads a valid set and writes no old set (null).
    let rc = unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Unblocks every signal (the mask a command is exec'd with: `execve`
/// keeps the mask, and `std`'s `Command` leaves it as it is).
pub fn unblock_all_signals() -> io::Result<()> {
    // SAFETY: sigemptyset writes the set on this stack frame; sigprocmask
    // reads it and writes no old set (null).
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The next pending forwardable signal, waiting at most `timeout`; `None`
/// when none came (or the wait was interrupted).
pub fn wait_signal(timeout: Duration) -> Option<i32> {
    let set = forwardable_set();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the set and the timespec are valid for the call; no siginfo
    // is asked for (null).
    let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    (sig > 0).then_some(sig)
}

/// The number of threads of this process, from `/proc/self/status`.
fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no thread count in /proc/self/status"))
}

/// `fork(2)` of a process that has one thread (checked: an error
/// otherwise, or when /proc cannot tell).
pub fn fork_single_threaded() -> io::Result<Forked> {
    if thread_count()? != 1 {
        return Err(io::Error::other("fork of a process with more than one thread"));
    }
    // SAFETY: with a single thread, no lock of another thread can be held
    // at the fork, so the child may go on running ordinary Rust code (the
    // allocator, std) as the parent does; nothing else is shared.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// A set of one signal.
fn single_set(sig: i32) -> libc::sigset_t {
    // SAFETY: sigemptyset and sigaddset only write the set on this stack
    // frame; an invalid `sig` makes sigaddset fail, leaving the set empty.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        set
    }
}

/// Blocks `sig` in the calling thread, and so in every thread it starts
/// afterwards (they inherit the mask): the signal then waits, pending,
/// for [`wait_for_signal`] in whichever thread asks.
pub fn block_signal(sig: i32) -> io::Result<()> {
    let set = single_set(sig);
    // SAFETY: pthread_sigmask reads a valid set and writes no old set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits until `sig` (blocked with [`block_signal`] in every thread) is
/// delivered to the process.
pub fn wait_for_signal(sig: i32) -> io::Result<()> {
    let set = single_set(sig);
    let mut got: libc::c_int = 0;
    // SAFETY: the set and `got` are valid for the call.
    let rc = unsafe { libc::sigwait(&set, &mut got) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}
