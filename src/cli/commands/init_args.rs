//! `run`/`create`'s `--init` and `--restart`, set in the request's
//! `HostConfig` as the docker CLI sets them (`Init`, `RestartPolicy`).

use crate::wire::{HostConfig, RestartPolicy};

/// `--restart no|always|unless-stopped|on-failure[:N]`, split as the docker
/// CLI splits it; the daemon judges the name (and refuses a count with any
/// policy but `on-failure`).
pub fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match s.split_once(':') {
        Some((name, count)) => {
            let count = count.parse::<i64>().map_err(|_| {
                format!("invalid restart policy format: maximum retry count must be an integer: {count:?}")
            })?;
            (name, count)
        }
        None => (s, 0),
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: count,
    })
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct InitArgs {
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long, value_name = "POLICY", value_parser = parse_restart)]
    pub restart: Option<RestartPolicy>,
}

impl InitArgs {
    /// Sets `Init` and `RestartPolicy` as the docker CLI does (`Init` only
    /// when asked, so a request without it is the CLI's).
    pub fn apply(&self, host: &mut HostConfig) {
        if self.init {
            host.extra.insert("Init".into(), serde_json::Value::Bool(true));
        }
        if let Some(policy) = &self.restart {
            host.restart_policy = policy.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_as_the_docker_cli() {
        let p = parse_restart("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        let p = parse_restart("always").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("always", 0));
        assert!(
            parse_restart("on-failure:x")
                .unwrap_err()
                .contains("must be an integer")
        );
        let mut host = HostConfig::default();
        InitArgs {
            init: true,
            restart: Some(parse_restart("unless-stopped").unwrap()),
        }
        .apply(&mut host);
        assert_eq!(host.extra["Init"], serde_json::Value::Bool(true));
        assert_eq!(host.restart_policy.name, "unless-stopped");
        let mut host = HostConfig::default();
        InitArgs::default().apply(&mut host);
        assert!(!host.extra.contains_key("Init") && host.restart_policy.name.is_empty());
    }
}
