use crate::cli::{Client, Error, encode, write_out};
use crate::wire::IdResponse;
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Commit message
    #[arg(short, long, value_name = "MSG")]
    message: Option<String>,
    /// Author (e.g. "Jane Doe <jane@example.com>")
    #[arg(short, long, value_name = "AUTHOR")]
    author: Option<String>,
    /// Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, …)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Pause the container during the commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pause: bool,
    /// No progress on a terminal, only the image ID
    #[arg(short, long)]
    quiet: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    container: String,
    /// The new image's name
    #[arg(value_name = "REPOSITORY[:TAG]")]
    name: Option<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut path = format!("/commit?container={}", encode(&args.container));
    if let Some(name) = &args.name {
        // The tag is what follows the last colon after the last slash.
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        match name[slash..].rfind(':') {
            Some(i) => {
                let (repo, tag) = name.split_at(slash + i);
                path += &format!("&repo={}&tag={}", encode(repo), encode(&tag[1..]));
            }
            None => path += &format!("&repo={}", encode(name)),
        }
    }
    for (k, v) in [("comment", &args.message), ("author", &args.author)] {
        if let Some(v) = v {
            path += &format!("&{k}={}", encode(v));
        }
    }
    for c in &args.change {
        path += &format!("&changes={}", encode(c));
    }
    if !args.pause {
        path += "&pause=0";
    }
    let spinner = crate::cli::progress::wait_spinner(args.quiet, format!("Committing {}", args.container));
    let reply = client.call(Method::POST, &path, None).await;
    spinner.finish_and_clear();
    let reply = reply?;
    let id: IdResponse = serde_json::from_slice(&reply).map_err(|e| Error::Protocol(e.to_string()))?;
    write_out(out, &format!("{}\n", id.id))
}
