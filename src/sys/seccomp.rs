//! Installing a compiled seccomp program (classic BPF, as libseccomp
//! exports it) on the calling thread: `seccomp(SECCOMP_SET_MODE_FILTER)`.

use std::io;

/// The size of one classic BPF instruction (`struct sock_filter`).
pub const SOCK_FILTER_SIZE: usize = 8;
/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// Installs `program` (`struct sock_filter` records in native byte order)
/// as a seccomp filter of the calling thread, inherited by its children
/// and kept across `execve`. The caller has set `no_new_privs` (or holds
/// `CAP_SYS_ADMIN`), else the kernel refuses with `EACCES`. A program
/// whose length is not a whole number of instructions, empty, or over
/// [`MAX_INSTRUCTIONS`] is refused with `EINVAL` before the kernel sees it.
pub fn install_filter(program: &[u8]) -> io::Result<()> {
    let count = program.len() / SOCK_FILTER_SIZE;
    if !program.len().is_multiple_of(SOCK_FILTER_SIZE) || count == 0 || count > MAX_INSTRUCTIONS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let filters: Vec<libc::sock_filter> = program
        .chunks_exact(SOCK_FILTER_SIZE)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let fprog = libc::sock_fprog {
        // At most MAX_INSTRUCTIONS (checked above), so it fits.
        len: count as u16,
        filter: filters.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `count` initialised `sock_filter` records
    // owned by `filters`, which outlives the call; the kernel only reads
    // them (it copies the program in before returning) and writes nothing
    // of ours. The flags are 0 and the operation installs a filter: it
    // changes no memory and no descriptor of this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_programs_are_refused_before_the_kernel() {
        for bad in [
            &[][..],
            &[0u8; 7][..],
            &[0u8; 12][..],
            &vec![0u8; 8 * (MAX_INSTRUCTIONS + 1)][..],
        ] {
            let e = install_filter(bad).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{} bytes", bad.len());
        }
    }
}
