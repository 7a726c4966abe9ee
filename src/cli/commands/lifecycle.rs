//! `stop`, `kill`, `restart`, `rm` and `wait`: one request per container,
//! each name printed as it succeeds, failures reported one by one.

use crate::cli::{Client, Error, encode, write_out};
use crate::wire::WaitResponse;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    time: Option<i64>,
    /// Signal to send to the container
    #[arg(short, long, value_name = "SIGNAL")]
    signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, value_name = "SIGNAL")]
    signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    time: Option<i64>,
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

async fn each(
    names: &[String],
    out: &mut impl Write,
    mut call: impl AsyncFnMut(&str) -> Result<Option<String>, Error>,
) -> Result<(), Error> {
    let mut failed = false;
    for name in names {
        match call(name).await {
            Ok(line) => write_out(out, &format!("{}\n", line.unwrap_or_else(|| name.clone())))?,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed { Err(Error::Reported) } else { Ok(()) }
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

pub async fn stop(client: &Client, args: StopArgs, out: &mut impl Write) -> Result<(), Error> {
    let q = query(&[("t", args.time.map(|t| t.to_string())), ("signal", args.signal.clone())]);
    each(&args.names, out, async |name| {
        client
            .call(Method::POST, &format!("/containers/{}/stop{q}", encode(name)), None)
            .await
            .map(|_| None)
    })
    .await
}

pub async fn kill(client: &Client, args: KillArgs, out: &mut impl Write) -> Result<(), Error> {
    let q = query(&[("signal", args.signal.clone())]);
    each(&args.names, out, async |name| {
        client
            .call(Method::POST, &format!("/containers/{}/kill{q}", encode(name)), None)
            .await
            .map(|_| None)
    })
    .await
}

pub async fn restart(client: &Client, args: RestartArgs, out: &mut impl Write) -> Result<(), Error> {
    let q = query(&[("t", args.time.map(|t| t.to_string()))]);
    each(&args.names, out, async |name| {
        client
            .call(Method::POST, &format!("/containers/{}/restart{q}", encode(name)), None)
            .await
            .map(|_| None)
    })
    .await
}

pub async fn rm(client: &Client, args: RmArgs, out: &mut impl Write) -> Result<(), Error> {
    let q = if args.force { "?force=1" } else { "" };
    each(&args.names, out, async |name| {
        client
            .call(Method::DELETE, &format!("/containers/{}{q}", encode(name)), None)
            .await
            .map(|_| None)
    })
    .await
}

pub async fn wait(client: &Client, args: WaitArgs, out: &mut impl Write) -> Result<(), Error> {
    each(&args.names, out, async |name| {
        let body = client
            .call(Method::POST, &format!("/containers/{}/wait", encode(name)), None)
            .await?;
        let reply: WaitResponse = serde_json::from_slice(&body).map_err(|e| Error::Protocol(e.to_string()))?;
        Ok(Some(reply.status_code.to_string()))
    })
    .await
}

#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    container: String,
    #[arg(value_name = "NEW_NAME")]
    new_name: String,
}

/// `strata rename CONTAINER NEW_NAME`: prints nothing, as docker.
pub async fn rename(client: &Client, args: RenameArgs) -> Result<(), Error> {
    let path = format!(
        "/containers/{}/rename?name={}",
        encode(&args.container),
        encode(&args.new_name)
    );
    client.call(Method::POST, &path, None).await.map(drop)
}
