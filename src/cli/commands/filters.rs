//! `--filter KEY=VALUE` flags as the daemon's `filters` query parameter
//! (`{"KEY":{"VALUE":true}}`, the form every docker CLI verb sends).

use crate::cli::Error;
use std::collections::BTreeMap;

/// Docker's filter map: key → set of values.
pub type Filters = BTreeMap<String, BTreeMap<String, bool>>;

/// The flags as a filter map; a flag without `=` is docker's usage error.
pub fn parse(flags: &[String]) -> Result<Filters, Error> {
    let mut map = Filters::new();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("bad format of filter (expected name=value): {f}")))?;
        map.entry(k.to_string()).or_default().insert(v.to_string(), true);
    }
    Ok(map)
}

/// `?filters=…` for a non-empty map, "" otherwise.
pub fn query(map: &Filters) -> String {
    if map.is_empty() {
        return String::new();
    }
    let json = serde_json::to_string(map).expect("a map of strings serialises");
    format!("?filters={}", crate::cli::encode(&json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_docker_filters() {
        let map = parse(&["label=a=b".into(), "dangling=true".into(), "label=c".into()]).unwrap();
        let json = r#"{"dangling":{"true":true},"label":{"a=b":true,"c":true}}"#;
        assert_eq!(query(&map), format!("?filters={}", crate::cli::encode(json)));
        assert_eq!(query(&Filters::new()), "");
        assert!(matches!(parse(&["nokey".into()]), Err(Error::Usage(_))));
    }
}
