use crate::cli::session::{self, Ended, RawTerminal};
use crate::cli::{Client, Error, encode};
use crate::wire::{ContainerInspect, WaitResponse};
use hyper::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    name: String,
}

pub async fn run(client: &Client, args: Args) -> Result<(), Error> {
    let c: ContainerInspect = client
        .get_json(&format!("/containers/{}/json", encode(&args.name)))
        .await?;
    if !c.state.running {
        return Err(Error::Usage(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    let stdin = c.config.open_stdin && !args.no_stdin;
    let tty = c.config.tty;
    let stream = client
        .hijack(
            &format!(
                "/containers/{}/attach?stream=1&stdout=1&stderr=1{}",
                c.id,
                if stdin { "&stdin=1" } else { "" }
            ),
            None,
        )
        .await?;
    let raw = if tty && stdin { RawTerminal::enable() } else { None };
    if tty {
        session::follow_terminal_size(client, format!("/containers/{}/resize", c.id));
    }
    let ended = session::run(stream, tty, stdin).await;
    drop(raw);
    if ended? == Ended::Detached {
        return Ok(());
    }
    let body = client
        .call(Method::POST, &format!("/containers/{}/wait", c.id), None)
        .await?;
    let reply: WaitResponse = serde_json::from_slice(&body).map_err(|e| Error::Protocol(e.to_string()))?;
    match reply.status_code {
        0 => Ok(()),
        code => Err(Error::Exit(code as i32)),
    }
}
