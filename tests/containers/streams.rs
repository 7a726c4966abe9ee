//! Logs, terminals and attached clients: both output streams kept, signals forwarded.

use super::{daemon, ok, on_terminal, stdout};
use crate::util::{output_within, require, text, tool};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn logs_keep_both_streams() {
    let d = require!(daemon());
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "l",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; sleep 0.2; echo out2",
        ],
    );
    assert_eq!(ok(&d, &["wait", "l"]).trim(), "0");
    let out = d.strata(&["logs", "l"]);
    assert_eq!(stdout(&out), "out\nout2\n", "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = ok(&d, &["logs", "--tail", "1", "l"]);
    assert_eq!(out, "out2\n");
    // Follow a running container's output to its end.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "f",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.2; done",
        ],
    );
    let out = ok(&d, &["logs", "-f", "f"]);
    assert_eq!(out, "1\n2\n3\n");
}

#[test]
fn interactive_shell_on_a_terminal_then_start_ai_again() {
    let d = require!(daemon());
    require!(tool("script"));
    // `tty | tr / X`: the terminal echoes the typed command, not its output.
    let out = on_terminal(
        &d,
        "run -it --name git busybox sh",
        "echo made > /marker; test -t 0 && echo IS-$((1+1))TTY; tty | tr / X; exit\\r",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = stdout(&out);
    assert!(s.contains("IS-2TTY"), "stdin is a terminal: {s}");
    assert!(s.contains("XdevXptsX0"), "the container's own terminal: {s}");
    let out = on_terminal(&d, "start -ai git", "cat /marker; exit 5\\r");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(stdout(&out).contains("made"), "{}", text(&out));
    // Detach with Ctrl-P Ctrl-Q leaves it running; attach again.
    let out = on_terminal(&d, "start -ai git", "\\020\\021");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(ok(&d, &["ps"]).contains("git"));
    // exec -it: a terminal of the container's devpts too (pts/0 is the
    // container's).
    let out = on_terminal(&d, "exec -it git sh", "tty | tr / X; exit 3\\r");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stdout(&out).contains("XdevXptsX1"), "{}", text(&out));
    let out = on_terminal(&d, "attach git", "exit 6\\r");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
}

#[test]
fn an_attached_client_forwards_its_signals() {
    let d = require!(daemon());
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["-H", &d.host(), "run", "--name", "sig", "busybox", "sh", "-c"])
        .arg("trap 'echo got-int; exit 42' INT; echo ready; while true; do sleep 0.1; done")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata run");
    let pid = child.id();
    // The client prints the container's output only once it forwards
    // signals (`run` installs the proxy, then copies the stream): "ready"
    // in its own stdout, not merely in the logs, means the trap is set and
    // an INT now reaches the container.
    let (ready, is_ready) = std::sync::mpsc::channel();
    let client_stdout = child.stdout.take().expect("stdout");
    let printed = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut printed = String::new();
        for line in std::io::BufReader::new(client_stdout).lines().map_while(Result::ok) {
            if line == "ready" {
                let _ = ready.send(());
            }
            printed.push_str(&line);
            printed.push('\n');
        }
        printed
    });
    is_ready
        .recv_timeout(Duration::from_secs(30))
        .expect("the client to print the container's ready");
    assert!(
        Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = output_within(child, Duration::from_secs(30), "strata run (signalled)");
    let printed = printed.join().unwrap();
    assert_eq!(out.status.code(), Some(42), "{printed}{}", text(&out));
    assert!(printed.contains("got-int"), "{printed}{}", text(&out));
}

/// Output written up to a process's exit, on both streams at once: it all
/// reaches a `run --rm` client (whose session the removal would end) and
/// the logs once `wait` has answered. Each stream is more than a pipe
/// holds, so some of it is still unread in the daemon's pipes when the
/// process exits. (When the exit was reported, and --rm removed the
/// container, before the pipes were drained, some `run --rm` of the 20 lost
/// up to 64 KiB of a stream in each of 8 runs of this test on a loaded
/// machine.)
#[test]
fn output_written_just_before_exit_is_all_delivered() {
    let d = require!(daemon());
    const BYTES: usize = 100_000;
    let script = format!("head -c {BYTES} /dev/zero | tr '\\0' e >&2 & head -c {BYTES} /dev/zero | tr '\\0' o; wait");
    let sizes = |out: &std::process::Output| (out.stdout.len(), out.stderr.len());
    for i in 0..20 {
        let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", &script]);
        assert!(out.status.success(), "run --rm {i}: {:?}", out.status);
        assert_eq!(sizes(&out), (BYTES, BYTES), "run --rm {i}: stdout, stderr");
        let id = ok(&d, &["run", "-d", "busybox", "sh", "-c", &script]);
        let id = id.trim();
        assert_eq!(ok(&d, &["wait", id]).trim(), "0");
        let out = d.strata(&["logs", id]);
        assert_eq!(sizes(&out), (BYTES, BYTES), "logs after wait {i}: stdout, stderr");
        ok(&d, &["rm", id]);
    }
}
