//! Strata: a layered filesystem and container tool.
//!
//! The modules mirror the architecture, and imports flow one way:
//!
//! - `wire`: the Docker Engine API's shapes and how Docker prints them, the
//!   leaf that both ends share; `cli`, the client, knows `wire` and nothing
//!   else of the crate.
//! - `api`: the daemon's HTTP API; it translates requests to the `engine`
//!   (containers) and `layers` (images), and their answers to `wire`.
//! - `engine`: containers and their lifecycle (create, start, stop, remove,
//!   exec, streams, commit) and images moving (pull, push), with its own
//!   records and errors; it runs on `layers`, `registry`, `fs` and `run`,
//!   and knows nothing of HTTP.
//! - `registry`: the registry client (OCI distribution: names, manifests,
//!   TLS, auth, blobs); it knows `layers` only, and the engine pulls and
//!   pushes through it.
//! - `layers`: the image store (layers, their indexes, images, references);
//!   it knows no mounts or processes.
//! - `fs`: the union filesystem over `layers`' indexes, served with FUSE.
//! - `run`: a container's process: namespaces, seccomp, cgroups, the shim.
//! - `sys`: every direct conversation with the kernel that needs care (path
//!   resolution beneath a root, locking, xattrs, atomic writes); the only
//!   module allowed `unsafe`.
//! - `bench`: `strata bench`, the union filesystem benchmark (a fixture,
//!   mounts of stratafs and its peers, workloads, the report); not a client
//!   of the daemon, it knows `sys` alone.
//! - `time` and `quote`: leaves every module may use (the clock and RFC
//!   3339; quoting what a client sent in a message).

#![deny(unsafe_code)]

pub mod api;
pub mod bench;
pub mod cli;
pub mod engine;
pub mod fs;
pub mod layers;
pub mod quote;
pub mod registry;
pub mod run;
pub mod sys;
pub mod time;
pub mod wire;

/// The version every component reports (defined with the wire, which the
/// client shares).
pub use wire::VERSION;
