//! The integration tests: one binary, a real `stratad` per test on a
//! temporary socket and store, driven by the `strata` binary, raw HTTP and
//! (when installed) the real `docker` CLI. The modules mirror `src/`.

// The shared fixture builder: daemons, clients, raw HTTP, tar archives.
mod util;

// Archives: save, load and export, read and written by other tools.
mod archives;
// The benchmarks' own logic under its unit tests.
mod benches;
// The `strata` client: Docker's output formats and rules.
mod cli;
// Seccomp and device rules on containers, as Docker sets them.
mod confinement;
// Containers through stratad: lifecycle, streams, isolation, commit, rootless.
mod containers;
// The daemon's life: restarts, crashes, locking, listeners and TLS.
mod daemon;
// The real docker CLI (client only) driving stratad.
mod docker_cli;
// `stratafs` (src/fs): real FUSE mounts, one module per concept of the union.
mod fs;
// Hostile or malformed imports: refused with 400, nothing changed.
mod hostile;
// Importing root filesystem tars: digests, the stored layer, its index.
mod import;
// The daemon's memory across containers: a run's cost goes away with it.
mod memory;
// Registries: the fixtures (a real registry, a token issuer, a fake).
mod registry;
// What a `docker run` may ask for: honoured, or refused naming the option.
mod options;
// Hostile API requests: bounded bodies, short quotes in errors.
mod requests;
// The container runner (src/run) on a plain busybox root directory.
mod run;
// The store on a shared host: private to the daemon's user.
mod store;
