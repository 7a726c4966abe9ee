use crate::cli::{Client, Error, encode};
use crate::wire::ContainerInspect;
use http_body_util::BodyExt;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all", value_name = "N")]
    tail: String,
    /// Show logs since a timestamp (unix seconds or RFC 3339)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Show logs before a timestamp (unix seconds or RFC 3339)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    name: String,
}

pub async fn run(client: &Client, args: Args) -> Result<(), Error> {
    let c: ContainerInspect = client
        .get_json(&format!("/containers/{}/json", encode(&args.name)))
        .await?;
    let mut path = format!(
        "/containers/{}/logs?stdout=1&stderr=1&tail={}",
        c.id,
        encode(&args.tail)
    );
    if args.follow {
        path += "&follow=1";
    }
    if args.timestamps {
        path += "&timestamps=1";
    }
    for (k, v) in [("since", &args.since), ("until", &args.until)] {
        if let Some(v) = v {
            path += &format!("&{k}={}", encode(v));
        }
    }
    let mut body = client.stream(Method::GET, &path, None).await?;
    let mut pending: Vec<u8> = Vec::new();
    let io_err = |source| Error::Io {
        context: "writing output".into(),
        source,
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Protocol(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        if c.config.tty {
            std::io::stdout().write_all(&data).map_err(io_err)?;
            continue;
        }
        pending.extend_from_slice(&data);
        while pending.len() >= 8 {
            let len = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
            if pending.len() < 8 + len {
                break;
            }
            let payload = &pending[8..8 + len];
            if pending[0] == 2 {
                std::io::stderr().write_all(payload).map_err(io_err)?;
            } else {
                std::io::stdout().write_all(payload).map_err(io_err)?;
            }
            pending.drain(..8 + len);
        }
        let _ = std::io::stdout().flush();
    }
    Ok(())
}
