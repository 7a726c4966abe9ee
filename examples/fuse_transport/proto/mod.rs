//! A FUSE server that owns its request loop, for measuring the transport
//! alone: the classic /dev/fuse read/write loop against FUSE over io_uring
//! (kernel 6.14+, the fuse module's `enable_uring`), both over the same
//! request handling (`fs`) and the same trivial filesystem. A benchmark
//! prototype (issue 18, item 6), not part of the shipped binaries: used by
//! `examples/fuse_transport/main.rs` (benches/fuse-transport.sh) and by the
//! integration tests (tests/benches/fuse_transport.rs).
//!
//! No `unsafe` of its own: `ring` is over the library's ring
//! (`strata::sys::uring`).

pub mod abi;
pub mod fs;
pub mod ring;
pub mod session;
pub mod workload;
