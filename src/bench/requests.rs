//! stratafs's FUSE requests by opcode around a timed part: it writes what
//! it has served so far to its `request_counts=` file on SIGUSR1 (`OPCODE
//! COUNT` lines, then `TOTAL`; renamed into place whole), so a snapshot
//! before and one after give the part's requests. See
//! `src/fs/union/requests.rs` for the format.

use super::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Requests by opcode (`TOTAL` left out: it is their sum).
pub type Counts = BTreeMap<String, u64>;

/// How long stratafs may take to write its counts.
const REPORT_WAIT: Duration = Duration::from_secs(10);

/// Asks one stratafs server for its counts.
pub struct RequestProbe {
    pid: u32,
    file: PathBuf,
}

impl RequestProbe {
    pub fn new(pid: u32, file: &Path) -> Self {
        RequestProbe {
            pid,
            file: file.to_path_buf(),
        }
    }

    /// The counts so far: the file removed, SIGUSR1, then the new file.
    pub fn snapshot(&self) -> Result<Counts, Error> {
        let fail = |why: String| Error::Requests(why);
        match std::fs::remove_file(&self.file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(fail(format!("removing {}: {e}", self.file.display())));
            }
            _ => {}
        }
        let pid = rustix::process::Pid::from_raw(self.pid as i32).ok_or_else(|| fail("no pid".into()))?;
        rustix::process::kill_process(pid, rustix::process::Signal::USR1)
            .map_err(|e| fail(format!("signalling stratafs ({}): {e}", self.pid)))?;
        let deadline = Instant::now() + REPORT_WAIT;
        loop {
            match std::fs::read_to_string(&self.file) {
                Ok(text) => {
                    return parse(&text).ok_or_else(|| fail(format!("{} is not a count report", self.file.display())));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(fail(format!("reading {}: {e}", self.file.display()))),
            }
        }
    }
}

/// `OPCODE COUNT` lines ending with `TOTAL N`; `None` if it is not that
/// (or the lines do not add up to the total).
pub fn parse(text: &str) -> Option<Counts> {
    let mut counts = Counts::new();
    let mut total = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, n) = line.split_once(' ')?;
        let n: u64 = n.trim().parse().ok()?;
        if name == "TOTAL" {
            total = Some(n);
        } else if name == "URING" {
            // Of the total, those served over io_uring: not an opcode.
        } else {
            counts.insert(name.to_string(), n);
        }
    }
    (total? == counts.values().sum::<u64>()).then_some(counts)
}

/// What `after` counted beyond `before`.
pub fn difference(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .map(|(op, &n)| (op.clone(), n.saturating_sub(before.get(op).copied().unwrap_or(0))))
        .filter(|&(_, n)| n > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_parses_and_must_add_up() {
        let c = parse("LOOKUP 3\nOPEN 1\nREAD 1\nTOTAL 5\n").unwrap();
        assert_eq!(c["LOOKUP"], 3);
        assert_eq!(parse("LOOKUP 3\nTOTAL 4\n"), None);
        assert_eq!(parse("LOOKUP x\nTOTAL 0\n"), None);
        assert_eq!(parse("TOTAL 0\n"), Some(Counts::new()));
        assert_eq!(parse("LOOKUP 3\nTOTAL 3\nURING 2\n").map(|c| c.len()), Some(1));
    }

    #[test]
    fn the_difference_keeps_what_grew() {
        let before = parse("LOOKUP 3\nTOTAL 3\n").unwrap();
        let after = parse("LOOKUP 5\nGETATTR 2\nTOTAL 7\n").unwrap();
        let d = difference(&before, &after);
        assert_eq!(d.get("LOOKUP"), Some(&2));
        assert_eq!(d.get("GETATTR"), Some(&2));
    }
}
