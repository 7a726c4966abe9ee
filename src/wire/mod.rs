//! The wire types of the API: the Docker Engine API shapes (version 1.50)
//! that `stratad` serves and the `strata` client reads. The client depends on
//! this module and nothing else of the crate; `api` converts the engine's
//! records to these shapes.
//!
//! Every struct defaults missing fields, so a client tolerates older or newer
//! daemons, and serialises field names exactly as Docker does. One file per
//! family of endpoints: [`system`], [`images`], [`containers`], [`exec`],
//! [`auth`] (registry credentials).

mod auth;
mod containers;
pub mod display;
mod events;
mod exec;
mod images;
mod networks;
mod stats;
mod system;
pub mod timestamp;
mod user_mounts;
mod volumes;

pub use auth::*;
pub use containers::*;
pub use events::*;
pub use exec::*;
pub use images::*;
pub use networks::*;
pub use stats::*;
pub use system::*;
pub use user_mounts::*;
pub use volumes::*;

use serde::{Deserialize, Serialize};

/// The version every component reports (`strata version`, `/version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The API version this daemon speaks, and the oldest it accepts.
pub const API_VERSION: &str = "1.50";
pub const MIN_API_VERSION: &str = "1.24";

/// `{"message": "..."}`, the body of every error response.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorResponse {
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// The 8-byte header of each frame of a multiplexed (non-TTY) stream:
/// stream (0 stdin, 1 stdout, 2 stderr, 3 error), three zeros, and the
/// payload length as a big-endian u32.
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let n = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// The zero time of Go, which Docker prints for times that never happened.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
