//! stratafs's own FUSE request loop over /dev/fuse (fuser 0.18 has none to
//! build on): the kernel's structs (`abi`), decoded requests (`request`),
//! encoded replies (`reply`), notifications (`notify`), passthrough
//! backings (`backing`) and the session that reads, dispatches and answers
//! (`session`) over /dev/fuse or, with FUSE over io_uring, over rings
//! (`uring`). fuser makes and removes the mount, and answers FUSE_INIT with
//! what our filesystem asks (see `session`).

pub mod abi;
mod backing;
mod notify;
pub mod reply;
pub mod request;
pub mod session;
mod uring;

pub use backing::BackingId;
pub use notify::Notifier;
pub use reply::Reply;
pub use request::{Header, Operation, Request};
pub use session::{BackgroundSession, Channel, Filesystem, Init, Session, Transport};
pub use uring::{pin_to, possible_cpus};
