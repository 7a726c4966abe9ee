//! One file per verb.

pub mod archives;
pub mod attach;
pub mod commit;
pub mod completion;
pub mod cp;
pub mod create;
pub mod diff;
pub mod events;
pub mod exec;
pub mod filters;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod init_args;
pub mod inspect;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod mount;
pub mod mount_args;
pub mod network;
pub mod port;
pub mod port_args;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod resource_args;
pub mod resources;
pub mod rmi;
pub mod run;
pub mod security_args;
pub mod start;
pub mod tag;
pub mod top;
pub mod version;
pub mod volume;

/// `-f/--format` of `version` and `info`: a Go template run on what the
/// command would print (docker's field names).
#[derive(clap::Args, Debug)]
pub struct FormatArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

impl FormatArgs {
    /// The template run on `data`, or None when there is no `--format`.
    pub fn render(&self, data: &serde_json::Value) -> Result<Option<String>, crate::cli::Error> {
        let Some(f) = self.format.as_deref() else {
            return Ok(None);
        };
        let usage = |e: crate::cli::template::Error| crate::cli::Error::Usage(format!("template parsing error: {e}"));
        let text = match f {
            "json" => crate::cli::template::go_json(data),
            f => crate::cli::template::Template::parse(f)
                .map_err(usage)?
                .execute(data)
                .map_err(usage)?,
        };
        Ok(Some(text + "\n"))
    }
}
