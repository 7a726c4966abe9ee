use super::run::{attach_and_start, exit_for_start};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::ContainerInspect;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach the container's STDIN
    #[arg(short, long)]
    interactive: bool,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    if args.attach || args.interactive {
        if args.names.len() > 1 {
            return Err(Error::Usage(
                "you cannot start and attach multiple containers at once".into(),
            ));
        }
        let c: ContainerInspect = client
            .get_json(&format!("/containers/{}/json", encode(&args.names[0])))
            .await?;
        return attach_and_start(
            client,
            &c.id,
            c.config.tty,
            args.interactive && c.config.open_stdin,
            c.host_config.auto_remove,
        )
        .await;
    }
    let mut failed = false;
    for name in &args.names {
        match client
            .call(Method::POST, &format!("/containers/{}/start", encode(name)), None)
            .await
        {
            Ok(_) => write_out(out, &format!("{name}\n"))?,
            Err(e) => {
                let _ = exit_for_start(&e);
                failed = true;
            }
        }
    }
    if failed { Err(Error::Reported) } else { Ok(()) }
}
