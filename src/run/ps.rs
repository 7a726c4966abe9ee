//! `docker top`: the processes of a container's PID namespace, as `ps -ef`
//! shows them.

use super::Error;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;

/// One row of `ps -ef`: UID PID PPID C STIME TTY TIME CMD.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessInfo {
    /// User name from the host's /etc/passwd, or the number.
    pub uid: String,
    pub pid: u32,
    pub ppid: u32,
    /// Start time, "HH:MM" (UTC).
    pub stime: String,
    /// "?" or "pts/N".
    pub tty: String,
    /// CPU time, "HH:MM:SS".
    pub time: String,
    /// The command line joined by spaces, or `[comm]` when it is empty.
    pub cmd: String,
}

/// Clock ticks per second of /proc's times (USER_HZ, 100 on Linux).
const TICKS: u64 = 100;

fn ns_id(pid: &str) -> Option<(u64, u64)> {
    let md = std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok()?;
    Some((md.dev(), md.ino()))
}

/// Every host process in the PID namespace of `pid`, sorted by pid.
pub fn processes(pid: u32) -> Result<Vec<ProcessInfo>, Error> {
    let target = ns_id(&pid.to_string()).ok_or(Error::NoSuchProcess(pid))?;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let boot = boot_time();
    let mut out = Vec::new();
    let entries = std::fs::read_dir("/proc").map_err(Error::io("reading /proc"))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) || ns_id(name) != Some(target) {
            continue;
        }
        // A process may end while it is read: skip it then.
        if let Some(info) = read_process(name, &passwd, boot) {
            out.push(info);
        }
    }
    out.sort_by_key(|p| p.pid);
    Ok(out)
}

fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

fn user_name(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

fn read_process(pid: &str, passwd: &str, boot: u64) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    parse(pid.parse().ok()?, &stat, &status, &cmdline, passwd, boot)
}

fn parse(pid: u32, stat: &str, status: &str, cmdline: &[u8], passwd: &str, boot: u64) -> Option<ProcessInfo> {
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let ppid = field(4)? as u32;
    let tty_nr = field(7)?;
    let cpu = field(14)? + field(15)?;
    let start = field(22)?;
    let euid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())?;
    let started = boot + start / TICKS;
    let stime = format!("{:02}:{:02}", (started / 3600) % 24, (started / 60) % 60);
    let secs = cpu / TICKS;
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    let tty = match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        _ => "?".to_string(),
    };
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cmd = if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    };
    Some(ProcessInfo {
        uid: user_name(passwd, euid),
        pid,
        ppid,
        stime,
        tty,
        time,
        cmd,
    })
}

/// A container whose processes are stopped (SIGSTOP, which they cannot
/// catch) until this is dropped (SIGCONT): a consistent moment for a
/// commit. Processes that start meanwhile are rare (every process is
/// stopped), and stopped again on a second sweep.
pub struct Paused {
    pids: Vec<u32>,
}

/// Stops every process in the PID namespace of `pid`.
pub fn pause(pid: u32) -> Result<Paused, Error> {
    let mut stopped: Vec<u32> = Vec::new();
    for _ in 0..2 {
        for p in processes(pid)? {
            if !stopped.contains(&p.pid) {
                send(p.pid, rustix::process::Signal::STOP);
                stopped.push(p.pid);
            }
        }
    }
    Ok(Paused { pids: stopped })
}

fn send(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        // Gone already: nothing to stop or resume.
        let _ = rustix::process::kill_process(p, sig);
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        for &p in &self.pids {
            send(p, rustix::process::Signal::CONT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_entries() {
        let stat = "42 (my (odd) cmd) S 7 42 42 34816 42 4194560 100 0 0 0 250 120 0 0 20 0 1 0 360000 1000 10";
        let status = "Name:\tsh\nUid:\t1000\t33\t33\t33\nGid:\t0\t0\t0\t0\n";
        let passwd = "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n";
        let p = parse(42, stat, status, b"sleep\x00100\x00", passwd, 86_400 * 10 + 3600 * 5).unwrap();
        assert_eq!(p.uid, "www-data");
        assert_eq!((p.pid, p.ppid), (42, 7));
        assert_eq!(p.tty, "pts/0");
        assert_eq!(p.time, "00:00:03");
        // boot 05:00 plus 3600 s.
        assert_eq!(p.stime, "06:00");
        assert_eq!(p.cmd, "sleep 100");
        let p = parse(42, stat, "Uid:\t5\t5\t5\t5\n", b"", passwd, 0).unwrap();
        assert_eq!((p.uid.as_str(), p.cmd.as_str()), ("5", "[my (odd) cmd]"));
    }

    #[test]
    fn lists_this_process() {
        let me = std::process::id();
        let list = processes(me).unwrap();
        assert!(list.iter().any(|p| p.pid == me));
    }
}
