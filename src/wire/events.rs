//! `GET /events`: Docker's `EventMessage`, one JSON object per line.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an event is about and who did it (`Actor`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventActor {
    #[serde(rename = "ID")]
    pub id: String,
    pub attributes: BTreeMap<String, String>,
}

/// One event as the docker CLI 28 reads it: the deprecated `status`,
/// `id` and `from` are still sent for containers (and the first two for
/// images), as moby 28 fills them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EventMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub time: i64,
    #[serde(rename = "timeNano", skip_serializing_if = "is_zero")]
    pub time_nano: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl EventMessage {
    /// The docker CLI's line: `TIME TYPE ACTION ID (k=v, …)`, the time
    /// in UTC with nine digits of fraction, the attributes sorted by key.
    pub fn pretty_line(&self) -> String {
        let mut out = String::new();
        let nanos = if self.time_nano != 0 {
            Some(self.time_nano)
        } else if self.time != 0 {
            Some(self.time.saturating_mul(1_000_000_000))
        } else {
            None
        };
        if let Some(n) = nanos {
            let (s, frac) = (n.div_euclid(1_000_000_000), n.rem_euclid(1_000_000_000));
            let stamp = crate::time::format_rfc3339(s, 0);
            out.push_str(&format!("{}.{frac:09}Z ", stamp.trim_end_matches('Z')));
        }
        out.push_str(&format!("{} {} {}", self.kind, self.action, self.actor.id));
        if !self.actor.attributes.is_empty() {
            let attrs: Vec<String> = self.actor.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!(" ({})", attrs.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_are_dockers() {
        let e = EventMessage {
            status: "start".into(),
            id: "abc".into(),
            from: "busybox".into(),
            kind: "container".into(),
            action: "start".into(),
            actor: EventActor {
                id: "abc".into(),
                attributes: BTreeMap::from([("name".into(), "x".into()), ("image".into(), "busybox".into())]),
            },
            scope: "local".into(),
            time: 1_796_306_400,
            time_nano: 1_796_306_400_000_000_123,
        };
        assert_eq!(
            e.pretty_line(),
            "2026-12-03T14:00:00.000000123Z container start abc (image=busybox, name=x)"
        );
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"x"}},"scope":"local","time":1796306400,"timeNano":1796306400000000123}"#
        );
        let bare = EventMessage {
            kind: "volume".into(),
            action: "create".into(),
            actor: EventActor {
                id: "v".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(bare.pretty_line(), "volume create v");
    }
}
