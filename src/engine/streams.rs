//! A process's standard streams: the pipes or terminal a container's (or an
//! exec's) process is given, what the daemon reads for its output, and
//! what attached clients write to (stdin) and resize (the terminal).

use super::error::Error;
use super::{Container, Engine, output};
use crate::run;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

/// A process's standard input as attached clients write it: closed (taken)
/// when a `StdinOnce` client ends its input.
#[derive(Default)]
pub struct Stdin(Mutex<Option<File>>);

impl Stdin {
    pub(super) fn new(f: Option<File>) -> Arc<Stdin> {
        Arc::new(Stdin(Mutex::new(f)))
    }

    /// Blocking write of all of `data`; false once closed.
    pub fn write(&self, data: &[u8]) -> bool {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(f) => f.write_all(data).is_ok(),
            None => false,
        }
    }

    pub fn close(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// What the streams of a process are wired to.
pub struct Streams {
    pub stdin: Arc<Stdin>,
    pub pty: Option<Arc<OwnedFd>>,
}

/// A new process's standard streams: what it gets, what the daemon reads
/// (for the output), and what attached clients write to.
pub struct Wiring {
    pub stdio: run::Stdio,
    pub sources: Vec<(u8, File)>,
    pub streams: Streams,
}

/// Docker's `ConsoleSize` (height, width) as the process's initial terminal
/// size; 0 is unset.
pub(super) fn console_size(tty: bool, size: Option<[u32; 2]>) -> Option<(u16, u16)> {
    let [h, w] = size.filter(|_| tty)?;
    let clamp = |n: u32| n.min(u16::MAX as u32) as u16;
    (h > 0 && w > 0).then(|| (clamp(h), clamp(w)))
}

/// A process's standard streams before its start: pipes (stdin /dev/null
/// unless it is kept open), or for a TTY nothing yet: the process makes its
/// terminal inside the container, and [`connect_terminal`] wires it after
/// the start.
pub fn make_stdio(tty: bool, open_stdin: bool) -> io::Result<Wiring> {
    if tty {
        return Ok(Wiring {
            stdio: run::Stdio::Terminal,
            sources: Vec::new(),
            streams: Streams {
                stdin: Stdin::new(None),
                pty: None,
            },
        });
    }
    let (out_r, out_w) = io::pipe()?;
    let (err_r, err_w) = io::pipe()?;
    let (stdin, writer) = if open_stdin {
        let (r, w) = io::pipe()?;
        (OwnedFd::from(r), Some(File::from(OwnedFd::from(w))))
    } else {
        (OwnedFd::from(File::open("/dev/null")?), None)
    };
    Ok(Wiring {
        stdio: run::Stdio::Fds {
            stdin,
            stdout: out_w.into(),
            stderr: err_w.into(),
        },
        sources: vec![
            (output::STDOUT, File::from(OwnedFd::from(out_r))),
            (output::STDERR, File::from(OwnedFd::from(err_r))),
        ],
        streams: Streams {
            stdin: Stdin::new(writer),
            pty: None,
        },
    })
}

/// After the start: a TTY process's terminal, whose master the daemon reads
/// (one output source, `STDOUT`; the kernel kept what came before), writes
/// (stdin, if `open_stdin`) and resizes. The sources to start and the
/// streams; for pipes, no sources (theirs started before) and `streams`.
pub fn connect_terminal(
    process: &run::Running,
    streams: Streams,
    open_stdin: bool,
) -> io::Result<(Vec<(u8, File)>, Streams)> {
    let Some(master) = process.take_pty_master() else {
        return Ok((Vec::new(), streams));
    };
    let reader = File::from(master.try_clone()?);
    let writer = if open_stdin {
        Some(File::from(master.try_clone()?))
    } else {
        None
    };
    Ok((
        vec![(output::STDOUT, reader)],
        Streams {
            stdin: Stdin::new(writer),
            pty: Some(Arc::new(master)),
        },
    ))
}

impl Engine {
    pub fn streams(&self, c: &Container) -> Option<Streams> {
        c.lock().run.as_ref().map(|r| Streams {
            stdin: r.stdin.clone(),
            pty: r.pty.clone(),
        })
    }

    pub fn resize(&self, c: &Container, h: u16, w: u16) -> Result<(), Error> {
        let live = c.lock();
        let Some(run) = &live.run else {
            return Err(Error::conflict(format!("Container {} is not running", c.id)));
        };
        if let Some(pty) = &run.pty {
            run::resize_pty(std::os::fd::AsFd::as_fd(&**pty), h, w)
                .map_err(|e| Error::internal(format!("resizing: {e}")))?;
        }
        Ok(())
    }
}
