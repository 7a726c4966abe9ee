//! `strata events`: the daemon's events as they happen (and the past ones
//! `--since` asks for), printed as the docker CLI prints them.

use crate::cli::commands::filters;
use crate::cli::template::{Error as TemplateError, Template};
use crate::cli::{Client, Error, encode, write_out};
use crate::wire::{EventMessage, timestamp};
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{Value, json};

/// The longest line of the stream read (an event is a few hundred bytes).
const LINE_LIMIT: usize = 1 << 20;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all events created since timestamp
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Format output using a custom template: 'json', or a Go template
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

/// How each event is printed.
enum Output {
    Pretty,
    /// `json`, `{{json .}}`: the event as the daemon sent it.
    Json,
    Template(Template),
}

/// The event as the docker CLI's template sees it: Go's field names.
fn template_value(e: &EventMessage) -> Value {
    json!({
        "Status": e.status,
        "ID": e.id,
        "From": e.from,
        "Type": e.kind,
        "Action": e.action,
        "Actor": {"ID": e.actor.id, "Attributes": e.actor.attributes},
        "Scope": e.scope,
        "Time": e.time,
        "TimeNano": e.time_nano,
    })
}

fn output(format: Option<&str>) -> Result<Output, Error> {
    let Some(f) = format.filter(|f| !f.is_empty()) else {
        return Ok(Output::Pretty);
    };
    if f == "json" || f.trim() == "{{json .}}" {
        return Ok(Output::Json);
    }
    // Checked on an empty event first, as docker does (its exit code 64):
    // an unknown field is an error, a missing attribute (a key of a map)
    // is not, there or later.
    let checked = Template::parse(f).and_then(|t| match t.execute(&template_value(&EventMessage::default())) {
        Err(TemplateError::Exec { at, .. }) if at.contains(".Attributes.") => Ok(t),
        other => other.map(|_| t),
    });
    match checked {
        Ok(t) => Ok(Output::Template(t.missing_is_null())),
        Err(e) => {
            eprintln!("Error parsing format: {e}");
            Err(Error::Exit(64))
        }
    }
}

fn render(out: &Output, e: &EventMessage) -> Result<String, Error> {
    Ok(match out {
        Output::Pretty => e.pretty_line(),
        Output::Json => serde_json::to_string(e).map_err(|e| Error::Protocol(e.to_string()))?,
        Output::Template(t) => t
            .execute(&template_value(e))
            .map_err(|e| Error::Usage(format!("template: {e}")))?,
    } + "\n")
}

/// The request's query: the times as the docker CLI sends them (Unix
/// seconds), the filters as JSON.
fn query(args: &Args) -> Result<String, Error> {
    let mut parts = Vec::new();
    for (key, value) in [("since", &args.since), ("until", &args.until)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            let unix = timestamp::to_unix(v, crate::time::now()).map_err(|e| Error::Usage(e.to_string()))?;
            parts.push(format!("{key}={}", encode(&unix)));
        }
    }
    let filters = filters::query(&filters::parse(&args.filter)?);
    if let Some(f) = filters.strip_prefix('?') {
        parts.push(f.to_string());
    }
    Ok(if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    })
}

pub async fn run(client: &Client, args: Args, out: &mut impl std::io::Write) -> Result<(), Error> {
    let printer = output(args.format.as_deref())?;
    let path = format!("/events{}", query(&args)?);
    let mut body = client.stream(Method::GET, &path, None).await?;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Protocol(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let event: EventMessage =
                serde_json::from_slice(&line).map_err(|e| Error::Protocol(format!("a bad event: {e}")))?;
            write_out(out, &render(&printer, &event)?)?;
            out.flush().map_err(|source| Error::Io {
                context: "writing output".into(),
                source,
            })?;
        }
        if pending.len() > LINE_LIMIT {
            return Err(Error::Protocol("an event longer than 1 MiB".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(since: Option<&str>, filter: &[&str]) -> Args {
        Args {
            since: since.map(str::to_string),
            until: None,
            filter: filter.iter().map(|s| s.to_string()).collect(),
            format: None,
        }
    }

    #[test]
    fn queries_are_the_docker_clis() {
        assert_eq!(query(&args(None, &[])).unwrap(), "");
        assert_eq!(
            query(&args(Some("1700000000"), &["type=image"])).unwrap(),
            format!("?since=1700000000&filters={}", encode(r#"{"type":{"image":true}}"#))
        );
        assert!(matches!(query(&args(Some("garbage"), &[])), Err(Error::Usage(_))));
        assert!(matches!(query(&args(None, &["nokey"])), Err(Error::Usage(_))));
    }

    #[test]
    fn templates_see_gos_field_names() {
        let e: EventMessage = serde_json::from_str(
            r#"{"status":"start","id":"abc","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"x"}},"scope":"local","time":5,"timeNano":5000000000}"#,
        )
        .unwrap();
        let Output::Template(t) = output(Some("{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Time}}")).unwrap()
        else {
            panic!("a template")
        };
        assert_eq!(render(&Output::Template(t), &e).unwrap(), "container start x 5\n");
        assert!(
            render(&Output::Json, &e)
                .unwrap()
                .starts_with(r#"{"status":"start","id":"abc","Type""#)
        );
        assert!(matches!(output(Some("{{.Nope}}")), Err(Error::Exit(64))));
        // A missing attribute prints as Go's zero value.
        let Output::Template(t) = output(Some("{{.Actor.Attributes.nope}}")).unwrap() else {
            panic!("a template")
        };
        assert_eq!(render(&Output::Template(t), &e).unwrap(), "<no value>\n");
    }
}
