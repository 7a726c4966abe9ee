//! Progress, as the docker CLI shows it.
//!
//! [`MessageDisplay`] draws the daemon's JSON message stream (pull, push,
//! load) exactly as Docker's `jsonmessage.DisplayJSONMessagesStream` does:
//! on a terminal, one line per layer id redrawn in place with ANSI cursor
//! moves (the same bytes docker writes, so the screen looks the same and a
//! test can replay them); to a pipe, one plain line per status change and
//! none for bytes moving. ANSI moves rather than indicatif's MultiProgress
//! because the daemon already sends the bars' state line by line, and
//! docker's placement rules (a line without an id ends the redrawn block)
//! are what users know.
//!
//! [`transfer_bar`] is the byte counter of save, load and export (indicatif,
//! on stderr, only when stderr is a terminal).

use super::Error;
use super::format::human_size_with_precision;
use crate::wire::{ProgressDetail, StreamMessage};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;

/// The widest line of a daemon's stream the client accepts.
const MAX_LINE: usize = 1 << 20;
/// The width docker assumes when it cannot ask the terminal.
const DEFAULT_WIDTH: usize = 200;

const ERASE_LINE: &str = "\x1b[2K";

/// Whether `fd` is a terminal, and then its width: what the terminal says
/// (0 for a pty nobody sized, so no bars, as docker), or docker's default
/// when it cannot say.
pub fn terminal_width(fd: impl AsFd) -> Option<usize> {
    let fd = fd.as_fd();
    if !rustix::termios::isatty(fd) {
        return None;
    }
    Some(match rustix::termios::tcgetwinsize(fd) {
        Ok(ws) => usize::from(ws.ws_col),
        Err(_) => DEFAULT_WIDTH,
    })
}

/// Docker's `JSONProgress.String()`: `[=====>    ]  1.2MB/3.4MB` (the bar
/// only on terminals wider than 110 columns), or the count alone when the
/// total is unknown; empty when nothing moved yet.
pub fn progress_text(p: &ProgressDetail, width: usize) -> String {
    let current = p.current.unwrap_or(0);
    let total = p.total.unwrap_or(0);
    let size = |n: u64| human_size_with_precision(i64::try_from(n).unwrap_or(i64::MAX), 4);
    if current == 0 && total == 0 {
        return String::new();
    }
    if total == 0 {
        return format!("{:>8}", size(current));
    }
    let percentage = ((current as f64 / total as f64 * 100.0) as usize / 2).min(50);
    let bar = if width > 110 {
        format!("[{}>{}] ", "=".repeat(percentage), " ".repeat(50 - percentage))
    } else {
        String::new()
    };
    let numbers = if current > total {
        format!("{:>8}", size(current))
    } else {
        format!("{:>8}/{}", size(current), size(total))
    };
    bar + &numbers
}

/// Draws a JSON message stream as docker does.
pub struct MessageDisplay<W: Write> {
    out: W,
    /// `Some(width)` when `out` is a terminal.
    terminal: Option<usize>,
    /// The line of each layer id in the block being redrawn, counted from
    /// its top: docker's `ids` map.
    lines: HashMap<String, usize>,
}

impl<W: Write> MessageDisplay<W> {
    pub fn new(out: W, terminal: Option<usize>) -> MessageDisplay<W> {
        MessageDisplay {
            out,
            terminal,
            lines: HashMap::new(),
        }
    }

    /// Shows one message; an error message ends the stream with its text.
    /// Messages carrying `aux` are results, not display (the caller reads
    /// them).
    pub fn show(&mut self, m: &StreamMessage) -> Result<(), Error> {
        if m.aux.is_some() {
            return Ok(());
        }
        let id = m.id.as_deref().filter(|i| !i.is_empty());
        let mut up = 0;
        match id {
            Some(id) if m.progress_detail.is_some() => {
                let count = self.lines.len();
                let line = *self.lines.entry(id.to_string()).or_insert(count);
                if line == count && self.terminal.is_some() {
                    self.write("\n")?;
                }
                up = self.lines.len() - line;
                if self.terminal.is_some() && up > 0 {
                    self.write(&format!("\x1b[{up}A"))?;
                }
            }
            // Anything else ends the block: later progress starts a new one.
            _ => self.lines.clear(),
        }
        self.display(m, id)?;
        if id.is_some() && self.terminal.is_some() && up > 0 {
            self.write(&format!("\x1b[{up}B"))?;
        }
        self.out.flush().map_err(write_error)
    }

    /// Docker's `JSONMessage.Display`.
    fn display(&mut self, m: &StreamMessage, id: Option<&str>) -> Result<(), Error> {
        if let Some(message) = error_of(m) {
            return Err(Error::Stream(message));
        }
        let status = m.status.as_deref().unwrap_or("");
        let stream = m.stream.as_deref().filter(|s| !s.is_empty());
        let progress = m.progress_detail.as_ref();
        let mut endl = "";
        match (self.terminal, progress) {
            (Some(_), Some(_)) if stream.is_none() => {
                endl = "\r";
                self.write(&format!("{ERASE_LINE}\r"))?;
            }
            // No bars in a pipe: only the lines that say something new.
            (_, Some(p)) if !progress_text(p, DEFAULT_WIDTH).is_empty() => return Ok(()),
            _ => {}
        }
        if let Some(id) = id {
            self.write(&format!("{id}: "))?;
        }
        match (self.terminal, progress, stream) {
            (Some(width), Some(p), _) => self.write(&format!("{status} {}{endl}", progress_text(p, width))),
            (_, _, Some(s)) => self.write(&format!("{s}{endl}")),
            _ => self.write(&format!("{status}{endl}\n")),
        }
    }

    fn write(&mut self, s: &str) -> Result<(), Error> {
        self.out.write_all(s.as_bytes()).map_err(write_error)
    }
}

fn write_error(source: std::io::Error) -> Error {
    Error::Io {
        context: "writing output".into(),
        source,
    }
}

/// The error a message carries, if any (`errorDetail`, or the older
/// `error` string alone).
pub fn error_of(m: &StreamMessage) -> Option<String> {
    match (&m.error_detail, &m.error) {
        (Some(detail), _) if !detail.message.is_empty() => Some(detail.message.clone()),
        (_, Some(e)) => Some(e.clone()),
        (Some(_), None) => Some("unknown error".into()),
        (None, None) => None,
    }
}

/// Reads a JSON-lines reply as it arrives, handing each message to `each`
/// (which may end the reading with an error). Lines are bounded.
pub async fn for_each_message<B>(
    mut body: B,
    mut each: impl FnMut(StreamMessage) -> Result<(), Error>,
) -> Result<(), Error>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut pending: Vec<u8> = Vec::new();
    let mut handle = |line: &[u8]| -> Result<(), Error> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let m = serde_json::from_slice(line)
            .map_err(|e| Error::Protocol(format!("bad line in the daemon's stream: {e}")))?;
        each(m)
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Protocol(format!("reading the daemon's stream: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        pending.extend_from_slice(&data);
        let mut start = 0;
        while let Some(nl) = pending[start..].iter().position(|&b| b == b'\n') {
            handle(&pending[start..start + nl])?;
            start += nl + 1;
        }
        pending.drain(..start);
        if pending.len() > MAX_LINE {
            return Err(Error::Protocol("a line of the daemon's stream is over 1 MiB".into()));
        }
    }
    handle(&pending)
}

/// A byte counter on stderr for an archive moving (`save`, `export`,
/// `import`); hidden when `quiet` (`-q`) or stderr is not a terminal.
pub fn transfer_bar(quiet: bool, total: Option<u64>, what: &'static str) -> indicatif::ProgressBar {
    if quiet || terminal_width(std::io::stderr()).is_none() {
        return indicatif::ProgressBar::hidden();
    }
    let template = match total {
        Some(_) => "{msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
        None => "{msg} {spinner} {bytes} {binary_bytes_per_sec}",
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .expect("the template is valid")
        .progress_chars("=> ");
    let bar = indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr())
        .with_style(style)
        .with_message(what);
    // Drawn at once: a short transfer shows what it was.
    bar.tick();
    bar
}

/// A spinner on stderr with the time so far, for a wait the daemon does
/// not report on (`commit`: the reply comes when the layer is written);
/// hidden when `quiet` (`-q`) or stderr is not a terminal.
pub fn wait_spinner(quiet: bool, what: String) -> indicatif::ProgressBar {
    if quiet || terminal_width(std::io::stderr()).is_none() {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template("{msg} {spinner} {elapsed}").expect("the template is valid");
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr())
        .with_style(style)
        .with_message(what);
    bar.tick();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A reader that moves `bar` on by what is read through it (an upload's
/// byte counter: `import`).
pub struct CountingReader<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R, bar: indicatif::ProgressBar) -> Self {
        CountingReader { inner, bar }
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for CountingReader<R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = polled {
            this.bar.inc((buf.filled().len() - before) as u64);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded `POST /images/create?fromImage=…` stream: two layers, one
    /// already stored, as the daemon (and dockerd) send them.
    const PULL: &str = r#"{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Already exists","progressDetail":{},"id":"aaaaaaaaaaaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbbbbbbbbbbb"}
{"status":"Waiting","progressDetail":{},"id":"bbbbbbbbbbbb"}
{"status":"Downloading","progressDetail":{"current":1000000,"total":2000000},"progress":"[=>] 1MB/2MB","id":"bbbbbbbbbbbb"}
{"status":"Downloading","progressDetail":{"current":2000000,"total":2000000},"id":"bbbbbbbbbbbb"}
{"status":"Verifying Checksum","progressDetail":{},"id":"bbbbbbbbbbbb"}
{"status":"Download complete","progressDetail":{},"id":"bbbbbbbbbbbb"}
{"status":"Extracting","progressDetail":{"current":2000000,"total":2000000},"id":"bbbbbbbbbbbb"}
{"status":"Pull complete","progressDetail":{},"id":"bbbbbbbbbbbb"}
{"status":"Digest: sha256:1111111111111111111111111111111111111111111111111111111111111111"}
{"status":"Status: Downloaded newer image for 127.0.0.1:5000/busybox:latest"}
"#;

    fn render(stream: &str, terminal: Option<usize>) -> (String, Result<(), Error>) {
        let mut out = Vec::new();
        let mut display = MessageDisplay::new(&mut out, terminal);
        let mut result = Ok(());
        for line in stream.lines() {
            result = display.show(&serde_json::from_str(line).unwrap());
            if result.is_err() {
                break;
            }
        }
        (String::from_utf8(out).unwrap(), result)
    }

    /// The screen a terminal shows after these bytes: only what the
    /// renderer uses (text, `\n`, `\r`, erase line, cursor up and down).
    fn screen(bytes: &str) -> Vec<String> {
        let mut rows: Vec<Vec<char>> = vec![Vec::new()];
        let (mut row, mut col) = (0usize, 0usize);
        let mut chars = bytes.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    row += 1;
                    col = 0;
                }
                '\r' => col = 0,
                '\x1b' => {
                    assert_eq!(chars.next(), Some('['));
                    let mut n = String::new();
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        n.push(chars.next().unwrap());
                    }
                    let n: usize = n.parse().unwrap();
                    match chars.next() {
                        Some('A') => row -= n,
                        Some('B') => row += n,
                        Some('K') if n == 2 => rows[row].clear(),
                        other => panic!("unexpected escape {other:?}"),
                    }
                }
                c => {
                    let line = &mut rows[row];
                    if line.len() <= col {
                        line.resize(col + 1, ' ');
                    }
                    line[col] = c;
                    col += 1;
                }
            }
            if rows.len() <= row {
                rows.resize(row + 1, Vec::new());
            }
        }
        rows.into_iter().map(|r| r.into_iter().collect::<String>()).collect()
    }

    #[test]
    fn a_pipe_gets_dockers_plain_lines_and_no_progress() {
        let (out, result) = render(PULL, None);
        result.unwrap();
        assert_eq!(
            out,
            "latest: Pulling from library/busybox\n\
             aaaaaaaaaaaa: Already exists\n\
             bbbbbbbbbbbb: Pulling fs layer\n\
             bbbbbbbbbbbb: Waiting\n\
             bbbbbbbbbbbb: Verifying Checksum\n\
             bbbbbbbbbbbb: Download complete\n\
             bbbbbbbbbbbb: Pull complete\n\
             Digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n\
             Status: Downloaded newer image for 127.0.0.1:5000/busybox:latest\n"
        );
    }

    #[test]
    fn a_terminal_redraws_one_line_per_layer() {
        let (bytes, result) = render(PULL, Some(120));
        result.unwrap();
        assert!(bytes.contains("\x1b[1A"), "moves up to redraw: {bytes:?}");
        assert_eq!(
            screen(&bytes),
            [
                "latest: Pulling from library/busybox",
                "aaaaaaaaaaaa: Already exists ",
                "bbbbbbbbbbbb: Pull complete ",
                "Digest: sha256:1111111111111111111111111111111111111111111111111111111111111111",
                "Status: Downloaded newer image for 127.0.0.1:5000/busybox:latest",
                "",
            ]
        );
        // Midway, the second layer's line shows its bar.
        let midway: String = PULL.lines().take(5).collect::<Vec<_>>().join("\n");
        let (bytes, _) = render(&midway, Some(120));
        assert_eq!(
            screen(&bytes)[2],
            format!(
                "bbbbbbbbbbbb: Downloading [{}>{}]      1MB/2MB",
                "=".repeat(25),
                " ".repeat(25)
            )
        );
        let (bytes, _) = render(&midway, Some(80));
        assert_eq!(
            screen(&bytes)[2],
            "bbbbbbbbbbbb: Downloading      1MB/2MB",
            "no bar when narrow"
        );
    }

    #[test]
    fn an_error_line_ends_the_stream_with_its_message() {
        let stream = r#"{"status":"Pulling from library/x","id":"latest"}
{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}
{"status":"never shown"}"#;
        let (out, result) = render(stream, None);
        assert_eq!(out, "latest: Pulling from library/x\n");
        match result {
            Err(e @ Error::Stream(_)) => assert_eq!(e.to_string(), "manifest unknown"),
            other => panic!("{other:?}"),
        }
        let (_, result) = render(r#"{"error":"old style"}"#, None);
        assert!(matches!(result, Err(Error::Stream(m)) if m == "old style"));
    }

    #[test]
    fn push_and_load_lines() {
        let stream = r#"{"status":"The push refers to repository [127.0.0.1:5000/busybox]"}
{"status":"Preparing","progressDetail":{},"id":"cccccccccccc"}
{"status":"Pushing","progressDetail":{"current":512,"total":1024},"id":"cccccccccccc"}
{"status":"Pushed","progressDetail":{},"id":"cccccccccccc"}
{"status":"latest: digest: sha256:2222 size: 527"}
{"progressDetail":{},"aux":{"Tag":"latest","Digest":"sha256:2222","Size":527}}
{"stream":"Loaded image: busybox:latest\n"}"#;
        let (out, result) = render(stream, None);
        result.unwrap();
        assert_eq!(
            out,
            "The push refers to repository [127.0.0.1:5000/busybox]\n\
             cccccccccccc: Preparing\n\
             cccccccccccc: Pushed\n\
             latest: digest: sha256:2222 size: 527\n\
             Loaded image: busybox:latest\n"
        );
    }

    /// A reply body arriving in the given pieces.
    struct Pieces(std::collections::VecDeque<&'static str>);

    impl hyper::body::Body for Pieces {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
            let piece = self
                .0
                .pop_front()
                .map(|p| Ok(hyper::body::Frame::data(bytes::Bytes::from(p))));
            std::task::Poll::Ready(piece)
        }
    }

    fn statuses(pieces: &[&'static str]) -> Result<Vec<String>, Error> {
        let mut seen = Vec::new();
        let body = Pieces(pieces.iter().copied().collect());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(for_each_message(body, |m| {
            seen.push(m.status.unwrap_or_default());
            Ok(())
        }))?;
        Ok(seen)
    }

    #[test]
    fn stream_lines_are_split_wherever_the_pieces_break() {
        let got = statuses(&["{\"status\":\"a\"}\n{\"sta", "tus\":\"b\"}\n\n{\"status\"", ":\"c\"}"]).unwrap();
        assert_eq!(got, ["a", "b", "c"], "the last line needs no newline");
        assert!(matches!(statuses(&["{\"status\":1}\n"]), Err(Error::Protocol(_))));
        let long: &'static str = Box::leak("x".repeat(MAX_LINE + 1).into_boxed_str());
        match statuses(&[long]) {
            Err(Error::Protocol(m)) => assert!(m.contains("over 1 MiB"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn progress_text_matches_jsonprogress() {
        let p = |current, total| ProgressDetail { current, total };
        assert_eq!(progress_text(&p(None, None), 200), "");
        assert_eq!(progress_text(&p(Some(1_234_567), None), 200), " 1.235MB");
        assert_eq!(
            progress_text(&p(Some(3_400_000), Some(3_400_000)), 200),
            format!("[{}>] {}", "=".repeat(50), "   3.4MB/3.4MB")
        );
        assert_eq!(progress_text(&p(Some(5), Some(4)), 100), "      5B");
        assert_eq!(
            progress_text(&p(Some(10_790_000), Some(51_360_000)), 80),
            " 10.79MB/51.36MB"
        );
    }
}
