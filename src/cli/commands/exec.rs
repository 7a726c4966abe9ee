use crate::cli::session::{self, Ended, RawTerminal};
use crate::cli::{Client, Error, encode};
use crate::wire::{ExecConfig, ExecInspect, ExecStartConfig, IdResponse};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Detached mode: run the command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// User: NAME|UID[:GROUP|GID]
    #[arg(short, long, value_name = "USER")]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    workdir: Option<String>,
    #[arg(value_name = "CONTAINER")]
    name: String,
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

pub async fn run(client: &Client, args: Args) -> Result<(), Error> {
    let config = ExecConfig {
        attach_stdin: args.interactive && !args.detach,
        attach_stdout: !args.detach,
        attach_stderr: !args.detach,
        tty: args.tty,
        cmd: args.command.clone(),
        env: Some(args.env.clone()),
        user: args.user.clone().unwrap_or_default(),
        working_dir: args.workdir.clone().unwrap_or_default(),
        console_size: if args.tty {
            session::terminal_size().map(|(h, w)| [h as u32, w as u32])
        } else {
            None
        },
        ..Default::default()
    };
    let reply = client
        .post_json(&format!("/containers/{}/exec", encode(&args.name)), &config)
        .await?;
    let id: IdResponse = serde_json::from_slice(&reply).map_err(|e| Error::Protocol(e.to_string()))?;
    let start = ExecStartConfig {
        detach: args.detach,
        tty: args.tty,
        console_size: config.console_size,
    };
    let body = serde_json::to_vec(&start).map_err(|e| Error::Protocol(e.to_string()))?;
    if args.detach {
        let body = http_body_util::BodyExt::boxed(http_body_util::BodyExt::map_err(
            http_body_util::Full::new(bytes::Bytes::from(body)),
            |never| match never {},
        ));
        client
            .call(hyper::Method::POST, &format!("/exec/{}/start", id.id), Some(body))
            .await?;
        return Ok(());
    }
    let stream = client
        .hijack(&format!("/exec/{}/start", id.id), Some(body))
        .await
        .map_err(|e| {
            let message = match &e {
                Error::Daemon { message, .. } => message.clone(),
                _ => String::new(),
            };
            eprintln!("strata: {e}");
            Error::Exit(session::start_failure_code(&message))
        })?;
    let raw = if args.tty && args.interactive {
        RawTerminal::enable()
    } else {
        None
    };
    if args.tty {
        session::follow_terminal_size(client, format!("/exec/{}/resize", id.id));
    }
    let ended = session::run(stream, args.tty, args.interactive).await;
    drop(raw);
    if ended? == Ended::Detached {
        return Ok(());
    }
    let info: ExecInspect = client.get_json(&format!("/exec/{}/json", id.id)).await?;
    match info.exit_code {
        Some(0) | None => Ok(()),
        Some(code) => Err(Error::Exit(code)),
    }
}
