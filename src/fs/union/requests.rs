//! Counts of the FUSE requests the union serves, by opcode: the figure the
//! filesystem's speed is driven by (a request is a round trip through the
//! kernel; times are noisy here, counts are not).
//!
//! One relaxed atomic add per request, in the handler that serves it
//! (BATCH_FORGET once per message, whatever its nodes). Opcodes we do not
//! implement are not seen here; the kernel's `fuse:fuse_request_send`
//! tracepoint sees everything (`benches/union/requests.py`).

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! opcodes {
    ($($op:ident => $name:literal,)*) => {
        /// The requests the union serves, named as the kernel names them
        /// (`FUSE_` dropped).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Op { $($op,)* }

        impl Op {
            pub const ALL: &'static [Op] = &[$(Op::$op,)*];

            pub fn name(self) -> &'static str {
                match self { $(Op::$op => $name,)* }
            }
        }
    };
}

opcodes! {
    Lookup => "LOOKUP",
    Forget => "FORGET",
    Getattr => "GETATTR",
    Setattr => "SETATTR",
    Readlink => "READLINK",
    Symlink => "SYMLINK",
    Mknod => "MKNOD",
    Mkdir => "MKDIR",
    Unlink => "UNLINK",
    Rmdir => "RMDIR",
    Rename => "RENAME",
    Link => "LINK",
    Open => "OPEN",
    Read => "READ",
    Write => "WRITE",
    Statfs => "STATFS",
    Release => "RELEASE",
    Fsync => "FSYNC",
    Setxattr => "SETXATTR",
    Getxattr => "GETXATTR",
    Listxattr => "LISTXATTR",
    Removexattr => "REMOVEXATTR",
    Flush => "FLUSH",
    Opendir => "OPENDIR",
    Readdir => "READDIR",
    Releasedir => "RELEASEDIR",
    Fsyncdir => "FSYNCDIR",
    Access => "ACCESS",
    Create => "CREATE",
    Fallocate => "FALLOCATE",
    Readdirplus => "READDIRPLUS",
    Lseek => "LSEEK",
    CopyFileRange => "COPY_FILE_RANGE",
    BatchForget => "BATCH_FORGET",
    Init => "INIT",
    Destroy => "DESTROY",
    Interrupt => "INTERRUPT",
}

/// The counts since the mount, one per [`Op`], and how many of them came
/// over io_uring.
pub struct RequestCounts {
    counts: Vec<AtomicU64>,
    over_ring: AtomicU64,
}

impl Default for RequestCounts {
    fn default() -> Self {
        RequestCounts {
            counts: Op::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            over_ring: AtomicU64::new(0),
        }
    }
}

impl RequestCounts {
    /// One more request `op`. Relaxed: a count is read only for a report,
    /// never to decide anything.
    #[inline]
    pub fn count(&self, op: Op) {
        self.counts[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// One more request came over an io_uring queue (counted by opcode
    /// as well).
    #[inline]
    pub fn count_over_ring(&self) {
        self.over_ring.fetch_add(1, Ordering::Relaxed);
    }

    /// The requests that came over io_uring (the rest over /dev/fuse).
    pub fn over_ring(&self) -> u64 {
        self.over_ring.load(Ordering::Relaxed)
    }

    pub fn get(&self, op: Op) -> u64 {
        self.counts[op as usize].load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        Op::ALL.iter().map(|&op| self.get(op)).sum()
    }

    /// `OPCODE COUNT` lines for the opcodes seen, most first (ties by
    /// name), then `TOTAL N`, then `URING N` (of the total, those served
    /// over io_uring) when any were.
    pub fn report(&self) -> String {
        let mut seen: Vec<(u64, &str)> = Op::ALL
            .iter()
            .map(|&op| (self.get(op), op.name()))
            .filter(|&(n, _)| n > 0)
            .collect();
        seen.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let mut text = String::new();
        for (n, name) in seen {
            let _ = writeln!(text, "{name} {n}");
        }
        let _ = writeln!(text, "TOTAL {}", self.total());
        if self.over_ring() > 0 {
            let _ = writeln!(text, "URING {}", self.over_ring());
        }
        text
    }

    /// Writes [`RequestCounts::report`] to `path` whole or not at all: a
    /// temporary file beside it, renamed over it, so a reader never sees
    /// half a report.
    pub fn write_report(&self, path: &Path) -> io::Result<()> {
        let name = path.file_name().ok_or_else(|| io::Error::other("no file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(self.report().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_are_indexed_in_order() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i);
        }
    }

    #[test]
    fn a_report_lists_what_was_seen_most_first() {
        let c = RequestCounts::default();
        assert_eq!(c.report(), "TOTAL 0\n");
        for _ in 0..3 {
            c.count(Op::Lookup);
        }
        c.count(Op::Read);
        c.count(Op::Open);
        assert_eq!(c.report(), "LOOKUP 3\nOPEN 1\nREAD 1\nTOTAL 5\n");
        c.count_over_ring();
        assert_eq!(c.report(), "LOOKUP 3\nOPEN 1\nREAD 1\nTOTAL 5\nURING 1\n");
    }

    #[test]
    fn a_written_report_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("counts");
        std::fs::write(&path, "old").unwrap();
        let c = RequestCounts::default();
        c.count(Op::Getattr);
        c.write_report(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "GETATTR 1\nTOTAL 1\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
