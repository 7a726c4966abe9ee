//! The C allocator's settings for a long-lived server.
//!
//! glibc raises its mmap threshold whenever a large block that was mapped
//! is freed (up to 32 MiB), so later blocks of that size come from the
//! arena heaps instead — and `calloc` then zeroes them, touching every
//! page, and a freed one stays resident. The FUSE loop allocates a 16 MiB
//! request buffer per reader thread of every mount (as fuser did): after the first mount ended,
//! each container's mount cost ~32 MiB of resident memory that stayed
//! after the container was gone (13 MB per container, measured). A fixed
//! threshold keeps large blocks mapped: untouched pages cost nothing and
//! a freed block goes back to the kernel at once.

/// Fixes glibc's mmap threshold at its default (128 KiB), turning off the
/// dynamic adjustment. Call once, early in `main`. Elsewhere than glibc,
/// nothing to do.
pub fn keep_large_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it takes plain
        // integers and is safe to call at any time from any thread.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
        if ok != 1 {
            tracing::warn!("mallopt(M_MMAP_THRESHOLD) failed: large blocks may stay resident");
        }
    }
}
