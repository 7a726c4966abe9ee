//! `/images/...`: summaries, inspect, history, removal and the JSON stream
//! of import.

use super::ErrorResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An entry of `GET /images/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub labels: BTreeMap<String, String>,
    pub containers: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageMetadata {
    pub last_tag_time: String,
}

/// `GET /images/{name}/json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    /// RFC 3339.
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: Value,
    pub architecture: String,
    pub os: String,
    pub size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub metadata: ImageMetadata,
}

/// The fields Docker's `Config` (moby's `container.Config`, which image
/// inspect showed up to API 1.49 and the docker CLI's types still carry)
/// always has, with their empty values: an imported image's config has
/// none of them, and `inspect -f '{{json .Config.Cmd}}'` run on the raw
/// JSON (as `strata` and the docker CLI's fallback do) must find `null`
/// rather than a missing key.
pub const CONFIG_EMPTY_FIELDS: &[(&str, EmptyValue)] = &[
    ("Hostname", EmptyValue::Text),
    ("Domainname", EmptyValue::Text),
    ("User", EmptyValue::Text),
    ("AttachStdin", EmptyValue::False),
    ("AttachStdout", EmptyValue::False),
    ("AttachStderr", EmptyValue::False),
    ("Tty", EmptyValue::False),
    ("OpenStdin", EmptyValue::False),
    ("StdinOnce", EmptyValue::False),
    ("Env", EmptyValue::Null),
    ("Cmd", EmptyValue::Null),
    ("Image", EmptyValue::Text),
    ("Volumes", EmptyValue::Null),
    ("WorkingDir", EmptyValue::Text),
    ("Entrypoint", EmptyValue::Null),
    ("OnBuild", EmptyValue::Null),
    ("Labels", EmptyValue::Null),
];

#[derive(Clone, Copy, Debug)]
pub enum EmptyValue {
    Text,
    False,
    Null,
}

/// `config` (an object; anything else becomes one) with every absent
/// field of [`CONFIG_EMPTY_FIELDS`] added, empty; present ones are kept.
pub fn with_docker_empty_fields(config: Value) -> Value {
    let mut map = match config {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    for (key, empty) in CONFIG_EMPTY_FIELDS {
        map.entry(key.to_string()).or_insert(match empty {
            EmptyValue::Text => Value::String(String::new()),
            EmptyValue::False => Value::Bool(false),
            EmptyValue::Null => Value::Null,
        });
    }
    Value::Object(map)
}

/// An entry of `GET /images/{name}/history`, newest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryItem {
    /// An image ID, or `<missing>` for steps with no local image.
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Option<Vec<String>>,
    pub size: i64,
    pub comment: String,
}

/// An entry of `DELETE /images/{name}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// One line of a JSON-stream reply (`import`, `load`, `pull`, `push`):
/// Docker's `jsonmessage.JSONMessage`. A per-layer line carries `id` (the
/// first 12 hex digits of the layer's compressed digest) and, while bytes
/// move, `progressDetail`; `aux` carries a result (push's tag, digest and
/// size); `error`/`errorDetail` end the stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// The bar as text (`[=====>   ] 1.2MB/3.4MB`), for old clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorResponse>,
}

impl StreamMessage {
    /// A status line, optionally about one layer (`id`).
    pub fn status(id: Option<&str>, status: impl Into<String>) -> StreamMessage {
        StreamMessage {
            id: id.map(str::to_string),
            status: Some(status.into()),
            ..Default::default()
        }
    }

    /// The line that ends a stream with an error.
    pub fn failure(message: impl Into<String>) -> StreamMessage {
        let message = message.into();
        StreamMessage {
            error: Some(message.clone()),
            error_detail: Some(ErrorResponse { message }),
            ..Default::default()
        }
    }

    /// The message as one line of the stream, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a StreamMessage serialises");
        line.push(b'\n');
        line
    }
}

/// `{"current": N, "total": M}`: bytes moved of a layer (`total` is
/// omitted when unknown, as Docker omits it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProgressDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// `push`'s result, in the last line's `aux`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PushResult {
    pub tag: String,
    pub digest: String,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_use_docker_field_names() {
        let s = serde_json::to_value(ImageSummary {
            id: "sha256:x".into(),
            ..Default::default()
        })
        .unwrap();
        for key in [
            "Id",
            "ParentId",
            "RepoTags",
            "RepoDigests",
            "Created",
            "Size",
            "SharedSize",
            "Labels",
            "Containers",
        ] {
            assert!(s.get(key).is_some(), "{key}");
        }
        let i = serde_json::to_value(ImageInspect::default()).unwrap();
        assert!(i.get("RootFS").is_some());
        let d = serde_json::to_string(&DeleteItem {
            untagged: Some("a:b".into()),
            deleted: None,
        })
        .unwrap();
        assert_eq!(d, r#"{"Untagged":"a:b"}"#);
        let m = serde_json::to_string(&StreamMessage {
            error: Some("x".into()),
            error_detail: Some(ErrorResponse { message: "x".into() }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m, r#"{"error":"x","errorDetail":{"message":"x"}}"#);
        assert_eq!(StreamMessage::failure("x").to_line(), format!("{m}\n").into_bytes());
    }

    #[test]
    fn progress_lines_have_docker_field_names() {
        let m = StreamMessage {
            progress_detail: Some(ProgressDetail {
                current: Some(5),
                total: None,
            }),
            ..StreamMessage::status(Some("0123456789ab"), "Downloading")
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"id":"0123456789ab","status":"Downloading","progressDetail":{"current":5}}"#
        );
        let back: StreamMessage = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
