//! The client's side of attach and exec: the terminal in raw mode, the
//! user's input to the daemon (with Ctrl-P Ctrl-Q to detach), the output
//! back to stdout and stderr (demultiplexed when there is no TTY), and the
//! terminal size.

use super::{Client, Error};
use hyper::Method;
use std::io::Write;
use std::os::fd::AsFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the stream: the process's output is over.
    Output,
    /// The user typed the detach keys.
    Detached,
}

/// The terminal in raw mode while this lives.
pub struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    /// Raw mode on stdin when it is a terminal; None otherwise.
    pub fn enable() -> Option<RawTerminal> {
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        if !rustix::termios::isatty(fd) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin().as_fd(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// The size of the terminal on stdout (or stdin), as (rows, columns).
pub fn terminal_size() -> Option<(u16, u16)> {
    for fd in [std::io::stdout().as_fd(), std::io::stdin().as_fd()] {
        if let Ok(ws) = rustix::termios::tcgetwinsize(fd)
            && ws.ws_row > 0
        {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// Sends the terminal's size now and whenever it changes, to `path`
/// (`/containers/{id}/resize` or `/exec/{id}/resize`).
pub fn follow_terminal_size(client: &Client, path: String) {
    let client = client.clone();
    async fn send(client: &Client, path: &str) {
        if let Some((h, w)) = terminal_size() {
            let _ = client.call(Method::POST, &format!("{path}?h={h}&w={w}"), None).await;
        }
    }
    tokio::spawn(async move {
        send(&client, &path).await;
        let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else {
            return;
        };
        while winch.recv().await.is_some() {
            send(&client, &path).await;
        }
    });
}

/// Forwards the signals this client receives to the container (`kill`
/// requests to `path`), as docker's sig-proxy does for a non-TTY session:
/// Ctrl-C stops the container's process, not just the client.
pub fn proxy_signals(client: &Client, path: String) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::interrupt(), "INT"),
        (SignalKind::terminate(), "TERM"),
        (SignalKind::hangup(), "HUP"),
        (SignalKind::quit(), "QUIT"),
        (SignalKind::user_defined1(), "USR1"),
        (SignalKind::user_defined2(), "USR2"),
    ] {
        let Ok(mut stream) = signal(kind) else { continue };
        let (client, path) = (client.clone(), path.clone());
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let _ = client.call(Method::POST, &format!("{path}?signal={name}"), None).await;
            }
        });
    }
}

const CTRL_P: u8 = 0x10;
const CTRL_Q: u8 = 0x11;

/// Copies the user's input to the daemon until it ends (then half-closes)
/// or the user types Ctrl-P Ctrl-Q (when `detach_keys`).
async fn send_input<W: AsyncWrite + Unpin>(mut to: W, detach_keys: bool) -> Ended {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 8192];
    let mut pending_p = false;
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n + 1);
        for &b in &buf[..n] {
            if detach_keys {
                if pending_p {
                    pending_p = false;
                    if b == CTRL_Q {
                        return Ended::Detached;
                    }
                    out.push(CTRL_P);
                }
                if b == CTRL_P {
                    pending_p = true;
                    continue;
                }
            }
            out.push(b);
        }
        if !out.is_empty() && to.write_all(&out).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    std::future::pending().await
}

/// Copies the daemon's output to stdout/stderr: raw for a TTY, otherwise
/// demultiplexing Docker's 8-byte frame headers.
async fn receive_output<R: AsyncRead + Unpin>(mut from: R, tty: bool) -> Result<(), Error> {
    let mut buf = vec![0u8; 32 * 1024];
    let io_err = |source| Error::Io {
        context: "writing output".into(),
        source,
    };
    if tty {
        loop {
            let n = from.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            out.write_all(&buf[..n]).map_err(io_err)?;
            out.flush().map_err(io_err)?;
        }
    }
    let mut header = [0u8; 8];
    loop {
        if from.read_exact(&mut header).await.is_err() {
            return Ok(());
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut data = vec![0u8; len];
        if from.read_exact(&mut data).await.is_err() {
            return Ok(());
        }
        match header[0] {
            2 => {
                let mut err = std::io::stderr().lock();
                err.write_all(&data).map_err(io_err)?;
                err.flush().map_err(io_err)?;
            }
            3 => eprint!("{}", String::from_utf8_lossy(&data)),
            _ => {
                let mut out = std::io::stdout().lock();
                out.write_all(&data).map_err(io_err)?;
                out.flush().map_err(io_err)?;
            }
        }
    }
}

/// Runs a hijacked session until the output ends or the user detaches.
pub async fn run<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    tty: bool,
    send_stdin: bool,
) -> Result<Ended, Error> {
    let (rd, wr) = tokio::io::split(stream);
    let input = async move {
        if send_stdin {
            send_input(wr, tty).await
        } else {
            // Keep the write side open: closing it would end some sessions early.
            let _keep = wr;
            std::future::pending().await
        }
    };
    tokio::select! {
        r = receive_output(rd, tty) => r.map(|()| Ended::Output),
        e = input => Ok(e),
    }
}

/// Docker's exit codes for a container that could not start: 127 when the
/// command was not found, 126 when it could not be executed, 125 otherwise.
pub fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found") || message.contains("no such file or directory") {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_map_to_docker_codes() {
        assert_eq!(
            start_failure_code("exec: \"nosuch\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec: \"/etc\": permission denied"), 126);
        assert_eq!(start_failure_code("unable to find user x"), 125);
    }
}
