//! Descriptors passed over a unix socket (`SCM_RIGHTS`): how a container's
//! init hands the master of the terminal it made to the runtime.

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The most descriptors one message may carry; more are refused (sending)
/// or closed by the kernel (receiving).
pub const MAX_FDS: usize = 4;

/// Sends all of `data` on a stream socket, `fds` attached to its first
/// byte. `data` must not be empty when `fds` is not (a descriptor travels
/// with data).
pub fn send_with_fds(sock: impl AsFd, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS || (data.is_empty() && !fds.is_empty()) {
        return Err(Errno::INVAL.into());
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(Errno::NOBUFS.into());
    }
    let mut sent = 0;
    while sent < data.len() {
        let n = if sent == 0 {
            rustix::net::sendmsg(&sock, &[IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL)
        } else {
            rustix::net::send(&sock, &data[sent..], SendFlags::NOSIGNAL)
        };
        match n {
            Ok(n) => sent += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Receives up to `buf.len()` bytes; the descriptors that came with them
/// (close-on-exec) are appended to `fds`. `Ok(0)`: end of stream.
pub fn recv_with_fds(sock: impl AsFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = loop {
        match rustix::net::recvmsg(
            &sock,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(Errno::INTR) => continue,
            other => break other?,
        }
    };
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    Ok(received.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_descriptor_travels_with_its_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, mut w) = io::pipe().unwrap();
        send_with_fds(&a, b"P", &[r.as_fd()]).unwrap();
        drop(r);
        (&a).write_all(b"rest").unwrap();
        drop(a);
        let mut fds = Vec::new();
        let mut data = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            let n = recv_with_fds(&b, &mut buf, &mut fds).unwrap();
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        assert_eq!(data, b"Prest");
        assert_eq!(fds.len(), 1);
        let flags = rustix::io::fcntl_getfd(&fds[0]).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        w.write_all(b"x").unwrap();
        let mut got = [0u8; 1];
        rustix::io::read(&fds[0], &mut got).unwrap();
        assert_eq!(&got, b"x");
        assert!(send_with_fds(&b, b"", &[w.as_fd()]).is_err());
    }
}
