use crate::cli::format::indent_json;
use crate::cli::template::Template;
use crate::cli::{Client, Error, encode, write_out};
use hyper::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the image's config exactly as stored: its sha256 is the image ID
    #[arg(long)]
    config_raw: bool,
    /// Only this kind of object: container or image
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    /// Containers or images to inspect (containers first, as docker)
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
}

/// `strata container inspect`: containers only, as docker's.
#[derive(clap::Args, Debug)]
pub struct ContainerArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    names: Vec<String>,
}

/// `strata image inspect`: images only, as docker's.
#[derive(clap::Args, Debug)]
pub struct ImageArgs {
    /// Print the image's config exactly as stored: its sha256 is the image ID
    #[arg(long)]
    config_raw: bool,
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(required = true, value_name = "IMAGE")]
    names: Vec<String>,
}

pub async fn run(client: &Client, args: Args, out: &mut impl Write) -> Result<(), Error> {
    if args.config_raw {
        return config_raw(client, &args.names, out).await;
    }
    let kinds: &[&str] = match args.kind.as_deref() {
        None => &["containers", "images"],
        Some("container") => &["containers"],
        Some("image") => &["images"],
        Some(other) => return Err(Error::Usage(format!("\"{other}\" is not a valid value for --type"))),
    };
    inspect(client, kinds, args.format.as_deref(), &args.names, out).await
}

pub async fn container(client: &Client, args: ContainerArgs, out: &mut impl Write) -> Result<(), Error> {
    inspect(client, &["containers"], args.format.as_deref(), &args.names, out).await
}

pub async fn image(client: &Client, args: ImageArgs, out: &mut impl Write) -> Result<(), Error> {
    if args.config_raw {
        return config_raw(client, &args.names, out).await;
    }
    inspect(client, &["images"], args.format.as_deref(), &args.names, out).await
}

async fn config_raw(client: &Client, names: &[String], out: &mut impl Write) -> Result<(), Error> {
    if names.len() != 1 {
        return Err(Error::Usage("--config-raw takes exactly one image".into()));
    }
    let raw = client
        .call(Method::GET, &format!("/images/{}/config", encode(&names[0])), None)
        .await?;
    out.write_all(&raw).map_err(|source| Error::Io {
        context: "writing output".into(),
        source,
    })
}

/// Each name looked up as each of `kinds` in turn; docker's "Error: No
/// such object" when none has it (or the daemon's "No such container/image"
/// error when only one kind is asked, as `docker container inspect` prints it).
async fn inspect(
    client: &Client,
    kinds: &[&str],
    format: Option<&str>,
    names: &[String],
    out: &mut impl Write,
) -> Result<(), Error> {
    let template = match format {
        None | Some("") | Some("json") => None,
        Some(f) => Some(Template::parse(f).map_err(|e| Error::Usage(format!("template parsing error: {e}")))?),
    };
    let mut objects = Vec::new();
    let mut missing = None;
    'names: for name in names {
        let mut not_found = format!("Error: No such object: {name}");
        for kind in kinds {
            match client
                .call(Method::GET, &format!("/{kind}/{}/json", encode(name)), None)
                .await
            {
                Ok(raw) => {
                    objects.push(String::from_utf8_lossy(&raw).trim().to_string());
                    continue 'names;
                }
                Err(e @ Error::Daemon { status: 404, .. }) if kinds.len() == 1 => not_found = e.to_string(),
                Err(Error::Daemon { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        missing = Some(not_found);
    }
    match &template {
        // As docker: each object through the template, one per line; what
        // came before a failing one is printed.
        Some(t) => {
            for raw in &objects {
                let value: serde_json::Value = serde_json::from_str(raw)
                    .map_err(|e| Error::Protocol(format!("unable to read inspect data: {e}")))?;
                let text = t
                    .execute(&value)
                    .map_err(|e| Error::Usage(format!("template parsing error: {e}")))?;
                write_out(out, &(text + "\n"))?;
            }
        }
        None => {
            let joined = format!("[{}]", objects.join(","));
            write_out(out, &(indent_json(joined.as_bytes()) + "\n"))?;
        }
    }
    match missing {
        Some(line) => Err(Error::Usage(line)),
        None => Ok(()),
    }
}
