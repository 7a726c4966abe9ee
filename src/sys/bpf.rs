//! The two `bpf(2)` commands a cgroup device program needs: loading it
//! (`BPF_PROG_LOAD`, type `BPF_PROG_TYPE_CGROUP_DEVICE`) and attaching it
//! to a cgroup2 directory (`BPF_PROG_ATTACH`, `BPF_CGROUP_DEVICE`). The
//! instructions themselves are built in safe code (`run::ebpf`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of ancestors keep running beside this one (all must allow), and
/// one attached below cannot replace it.
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
/// The size of one eBPF instruction (`struct bpf_insn`).
pub const INSN_SIZE: usize = 8;
/// Room for the verifier's explanation when it refuses a program.
const LOG_SIZE: usize = 64 * 1024;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`, laid out as
/// the kernel's `struct { ... }` of that command (the kernel zero-fills
/// the fields after the size given).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The fields of `union bpf_attr` for `BPF_PROG_ATTACH`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Loads a `BPF_PROG_TYPE_CGROUP_DEVICE` program: `insns` are `struct
/// bpf_insn` records in native byte order. The verifier's log comes back
/// in the error when it refuses the program.
pub fn load_cgroup_device_program(insns: &[u8], name: &str) -> io::Result<OwnedFd> {
    if insns.is_empty() || !insns.len().is_multiple_of(INSN_SIZE) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let license = c"Apache-2.0";
    let mut log = vec![0u8; LOG_SIZE];
    let mut prog_name = [0u8; 16];
    // At most 15 bytes, so the name stays NUL-terminated.
    for (d, s) in prog_name
        .iter_mut()
        .zip(name.bytes().filter(u8::is_ascii_alphanumeric).take(15))
    {
        *d = s;
    }
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len() / INSN_SIZE).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: LOG_SIZE as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
    };
    // SAFETY: `attr` is a properly laid out prefix of `union bpf_attr` for
    // this command and its size is passed; the pointers in it name live
    // buffers for the whole call: `insns` (read, `insn_cnt` records of 8
    // bytes: the length was checked to be a multiple), the NUL-terminated
    // licence (read), and `log` (written by the kernel, at most `log_size`
    // bytes, which is its length). On success the return value is a new
    // descriptor that nothing else owns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        let text = text.trim();
        if text.is_empty() {
            return Err(err);
        }
        return Err(io::Error::new(err.kind(), format!("{err}: the verifier said: {text}")));
    }
    // SAFETY: a successful BPF_PROG_LOAD returns a new descriptor, owned
    // by nobody else yet.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) })
}

/// Attaches a loaded device program to the cgroup2 directory `cgroup`
/// (opened `O_DIRECTORY`), beside the programs of its ancestors. It stays
/// attached once the descriptors are closed, until the cgroup is removed.
pub fn attach_cgroup_device_program(cgroup: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    // SAFETY: `attr` is the layout of `union bpf_attr` for this command,
    // its size is passed, and it holds no pointers: only the numbers of two
    // descriptors the borrows keep open for the call. The kernel reads it
    // and changes no memory of this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>() as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
