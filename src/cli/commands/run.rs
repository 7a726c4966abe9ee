use super::create::{ContainerArgs, create};
use crate::cli::session::{self, Ended, RawTerminal};
use crate::cli::{Client, Error, write_out};
use crate::wire::WaitResponse;
use http_body_util::BodyExt;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run in the background and print the container ID
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    container: ContainerArgs,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let c = &args.container;
    let id = create(client, c, !args.detach).await.map_err(report(125))?;
    if args.detach {
        client
            .call(Method::POST, &format!("/containers/{id}/start"), None)
            .await
            .map_err(|e| exit_for_start(&e))?;
        return write_out(out, &format!("{id}\n"));
    }
    attach_and_start(client, &id, c.tty, c.interactive, c.rm).await
}

/// Prints `e` and exits with `code`, as docker run does for its own errors.
pub fn report(code: i32) -> impl Fn(Error) -> Error {
    move |e| {
        eprintln!("strata: {e}");
        Error::Exit(code)
    }
}

pub fn exit_for_start(e: &Error) -> Error {
    eprintln!("strata: {e}");
    let message = match e {
        Error::Daemon { message, .. } => message.as_str(),
        _ => "",
    };
    Error::Exit(session::start_failure_code(message))
}

/// Docker's order: attach, wait (its head must arrive first), start,
/// resize; then the session, and the exit code from the wait.
pub async fn attach_and_start(client: &Client, id: &str, tty: bool, stdin: bool, removed: bool) -> Result<(), Error> {
    let stream = client
        .hijack(
            &format!(
                "/containers/{id}/attach?stream=1&stdout=1&stderr=1{}",
                if stdin { "&stdin=1" } else { "" }
            ),
            None,
        )
        .await
        .map_err(report(125))?;
    let condition = if removed { "removed" } else { "next-exit" };
    let wait = client
        .request(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
        )
        .await
        .map_err(report(125))?;
    // Signals are forwarded from before the start, as the docker CLI does:
    // one that arrives while the start is under way must reach the
    // container, not kill the client.
    if !tty {
        session::proxy_signals(client, format!("/containers/{id}/kill"));
    }
    client
        .call(Method::POST, &format!("/containers/{id}/start"), None)
        .await
        .map_err(|e| exit_for_start(&e))?;
    let raw = if tty && stdin { RawTerminal::enable() } else { None };
    if tty {
        session::follow_terminal_size(client, format!("/containers/{id}/resize"));
    }
    let ended = session::run(stream, tty, stdin).await;
    drop(raw);
    if ended? == Ended::Detached {
        return Ok(());
    }
    let body = wait
        .collect()
        .await
        .map_err(|e| Error::Protocol(e.to_string()))?
        .to_bytes();
    let reply: WaitResponse =
        serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("bad wait reply: {e}")))?;
    match reply.status_code {
        0 => Ok(()),
        code => Err(Error::Exit(code as i32)),
    }
}
