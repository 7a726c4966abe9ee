//! A request read from the kernel, decoded: its header and an
//! [`Operation`] borrowing its names and data from the buffer. A request
//! too short for what its opcode carries is refused ([`Malformed`], answered
//! EIO), never a panic.

use super::abi::{self, Bytes, Decode, op};

/// Who asks, and about what: `struct fuse_in_header` as the handlers see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Header {
    pub unique: u64,
    pub opcode: u32,
    pub nodeid: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

impl Header {
    pub fn uid(&self) -> u32 {
        self.uid
    }

    pub fn gid(&self) -> u32 {
        self.gid
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// The operations stratafs serves (and the few the session answers
/// itself); any other opcode is [`Operation::Unknown`] (ENOSYS).
#[derive(Debug)]
pub enum Operation<'a> {
    Lookup {
        name: &'a [u8],
    },
    Forget {
        nlookup: u64,
    },
    BatchForget {
        nodes: Vec<abi::ForgetOne>,
    },
    Getattr {
        fh: Option<u64>,
    },
    Setattr(abi::SetattrIn),
    Readlink,
    Symlink {
        name: &'a [u8],
        target: &'a [u8],
    },
    Mknod {
        arg: abi::MknodIn,
        name: &'a [u8],
    },
    Mkdir {
        arg: abi::MkdirIn,
        name: &'a [u8],
    },
    Unlink {
        name: &'a [u8],
    },
    Rmdir {
        name: &'a [u8],
    },
    Rename {
        name: &'a [u8],
        newdir: u64,
        newname: &'a [u8],
        flags: u32,
    },
    Link {
        oldnodeid: u64,
        newname: &'a [u8],
    },
    Open {
        flags: u32,
    },
    Read(abi::ReadIn),
    Write {
        arg: abi::WriteIn,
        data: &'a [u8],
    },
    Statfs,
    Release(abi::ReleaseIn),
    Fsync(abi::FsyncIn),
    Setxattr {
        arg: abi::SetxattrIn,
        name: &'a [u8],
        value: &'a [u8],
    },
    Getxattr {
        size: u32,
        name: &'a [u8],
    },
    Listxattr {
        size: u32,
    },
    Removexattr {
        name: &'a [u8],
    },
    Flush(abi::FlushIn),
    /// FUSE_INIT: the offered flags, both halves (`flags2` only with
    /// FUSE_INIT_EXT).
    Init {
        arg: abi::InitIn,
        flags: u64,
    },
    Opendir {
        flags: u32,
    },
    Readdir(abi::ReadIn),
    Releasedir(abi::ReleaseIn),
    Fsyncdir(abi::FsyncIn),
    Access {
        mask: u32,
    },
    Create {
        arg: abi::CreateIn,
        name: &'a [u8],
    },
    Interrupt {
        unique: u64,
    },
    Destroy,
    Fallocate(abi::FallocateIn),
    Readdirplus(abi::ReadIn),
    Lseek(abi::LseekIn),
    CopyFileRange(abi::CopyFileRangeIn),
    Unknown,
}

/// A decoded request.
#[derive(Debug)]
pub struct Request<'a> {
    pub header: Header,
    pub op: Operation<'a>,
}

/// A request that cannot be decoded. With its header, it is answered
/// (EIO); without one (shorter than a header) there is no one to answer.
#[derive(Debug)]
pub struct Malformed(pub Option<Header>);

impl<'a> Request<'a> {
    /// Decodes the request in `buf` (one read from /dev/fuse).
    pub fn parse(buf: &'a [u8]) -> Result<Request<'a>, Malformed> {
        let mut b = Bytes::new(buf);
        let h = abi::InHeader::decode(&mut b).ok_or(Malformed(None))?;
        let header = Header {
            unique: h.unique,
            opcode: h.opcode,
            nodeid: h.nodeid,
            uid: h.uid,
            gid: h.gid,
            pid: h.pid,
        };
        let body = (h.len as usize)
            .checked_sub(abi::IN_HEADER_LEN)
            .and_then(|n| b.take(n))
            .ok_or(Malformed(Some(header)))?;
        let op = decode(h.opcode, Bytes::new(body)).ok_or(Malformed(Some(header)))?;
        Ok(Request { header, op })
    }
}

/// The operation `opcode` from its body; None when the body is too short.
fn decode<'a>(opcode: u32, mut b: Bytes<'a>) -> Option<Operation<'a>> {
    Some(match opcode {
        op::LOOKUP => Operation::Lookup { name: b.name()? },
        op::FORGET => Operation::Forget {
            nlookup: abi::ForgetIn::decode(&mut b)?.nlookup,
        },
        op::BATCH_FORGET => {
            let arg = abi::BatchForgetIn::decode(&mut b)?;
            let nodes = (0..arg.count)
                .map(|_| abi::ForgetOne::decode(&mut b))
                .collect::<Option<Vec<_>>>()?;
            Operation::BatchForget { nodes }
        }
        op::GETATTR => {
            let arg = abi::GetattrIn::decode(&mut b)?;
            Operation::Getattr {
                fh: (arg.getattr_flags & abi::FUSE_GETATTR_FH != 0).then_some(arg.fh),
            }
        }
        op::SETATTR => Operation::Setattr(abi::SetattrIn::decode(&mut b)?),
        op::READLINK => Operation::Readlink,
        op::SYMLINK => Operation::Symlink {
            name: b.name()?,
            target: b.name()?,
        },
        op::MKNOD => Operation::Mknod {
            arg: abi::MknodIn::decode(&mut b)?,
            name: b.name()?,
        },
        op::MKDIR => Operation::Mkdir {
            arg: abi::MkdirIn::decode(&mut b)?,
            name: b.name()?,
        },
        op::UNLINK => Operation::Unlink { name: b.name()? },
        op::RMDIR => Operation::Rmdir { name: b.name()? },
        op::RENAME => {
            let newdir = abi::RenameIn::decode(&mut b)?.newdir;
            Operation::Rename {
                name: b.name()?,
                newdir,
                newname: b.name()?,
                flags: 0,
            }
        }
        op::RENAME2 => {
            let arg = abi::Rename2In::decode(&mut b)?;
            Operation::Rename {
                name: b.name()?,
                newdir: arg.newdir,
                newname: b.name()?,
                flags: arg.flags,
            }
        }
        op::LINK => Operation::Link {
            oldnodeid: abi::LinkIn::decode(&mut b)?.oldnodeid,
            newname: b.name()?,
        },
        op::OPEN => Operation::Open {
            flags: abi::OpenIn::decode(&mut b)?.flags,
        },
        op::READ => Operation::Read(abi::ReadIn::decode(&mut b)?),
        op::WRITE => {
            let arg = abi::WriteIn::decode(&mut b)?;
            Operation::Write {
                arg,
                data: b.take(arg.size as usize)?,
            }
        }
        op::STATFS => Operation::Statfs,
        op::RELEASE => Operation::Release(abi::ReleaseIn::decode(&mut b)?),
        op::FSYNC => Operation::Fsync(abi::FsyncIn::decode(&mut b)?),
        op::SETXATTR => {
            let arg = abi::SetxattrIn::decode(&mut b)?;
            Operation::Setxattr {
                arg,
                name: b.name()?,
                value: b.take(arg.size as usize)?,
            }
        }
        op::GETXATTR => Operation::Getxattr {
            size: abi::GetxattrIn::decode(&mut b)?.size,
            name: b.name()?,
        },
        op::LISTXATTR => Operation::Listxattr {
            size: abi::GetxattrIn::decode(&mut b)?.size,
        },
        op::REMOVEXATTR => Operation::Removexattr { name: b.name()? },
        op::FLUSH => Operation::Flush(abi::FlushIn::decode(&mut b)?),
        op::INIT => {
            let arg = abi::InitIn::decode(&mut b)?;
            let high = match u64::from(arg.flags) & abi::init::INIT_EXT {
                0 => 0,
                _ => b.u32().unwrap_or(0),
            };
            Operation::Init {
                arg,
                flags: u64::from(arg.flags) | u64::from(high) << 32,
            }
        }
        op::OPENDIR => Operation::Opendir {
            flags: abi::OpenIn::decode(&mut b)?.flags,
        },
        op::READDIR => Operation::Readdir(abi::ReadIn::decode(&mut b)?),
        op::RELEASEDIR => Operation::Releasedir(abi::ReleaseIn::decode(&mut b)?),
        op::FSYNCDIR => Operation::Fsyncdir(abi::FsyncIn::decode(&mut b)?),
        op::ACCESS => Operation::Access {
            mask: abi::AccessIn::decode(&mut b)?.mask,
        },
        op::CREATE => Operation::Create {
            arg: abi::CreateIn::decode(&mut b)?,
            name: b.name()?,
        },
        op::INTERRUPT => Operation::Interrupt {
            unique: abi::InterruptIn::decode(&mut b)?.unique,
        },
        op::DESTROY => Operation::Destroy,
        op::FALLOCATE => Operation::Fallocate(abi::FallocateIn::decode(&mut b)?),
        op::READDIRPLUS => Operation::Readdirplus(abi::ReadIn::decode(&mut b)?),
        op::LSEEK => Operation::Lseek(abi::LseekIn::decode(&mut b)?),
        op::COPY_FILE_RANGE => Operation::CopyFileRange(abi::CopyFileRangeIn::decode(&mut b)?),
        _ => Operation::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(opcode: u32, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((abi::IN_HEADER_LEN + body.len()) as u32).to_le_bytes());
        b.extend_from_slice(&opcode.to_le_bytes());
        b.extend_from_slice(&7u64.to_le_bytes()); // unique
        b.extend_from_slice(&1u64.to_le_bytes()); // nodeid
        b.extend_from_slice(&[0u8; 16]); // uid gid pid extlen padding
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn a_lookup_borrows_its_name() {
        let buf = request(op::LOOKUP, b"name\0");
        let r = Request::parse(&buf).unwrap();
        assert_eq!(r.header.unique, 7);
        assert!(matches!(r.op, Operation::Lookup { name: b"name" }));
    }

    #[test]
    fn short_or_malformed_requests_are_refused_not_panics() {
        assert!(matches!(Request::parse(&[0u8; 10]), Err(Malformed(None))));
        // A name without its NUL, a MKDIR without its struct, a WRITE
        // shorter than its size, a header longer than the buffer.
        for (opcode, body) in [
            (op::LOOKUP, &b"name"[..]),
            (op::MKDIR, &[1u8, 0, 0, 0][..]),
            (op::WRITE, &[0u8; 40][..]),
            (op::RENAME, &[0u8; 8][..]),
        ] {
            let mut buf = request(opcode, body);
            if opcode == op::WRITE {
                buf[40 + 16] = 9; // size 9, no data
            }
            match Request::parse(&buf) {
                Err(Malformed(Some(h))) => assert_eq!(h.unique, 7),
                other => panic!("{opcode}: {other:?}"),
            }
        }
        let mut buf = request(op::STATFS, b"");
        buf[0] = 200;
        assert!(matches!(Request::parse(&buf), Err(Malformed(Some(_)))));
    }

    #[test]
    fn a_batch_forget_lists_its_nodes() {
        let mut body = Vec::new();
        body.extend_from_slice(&2u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        for (n, l) in [(5u64, 1u64), (6, 2)] {
            body.extend_from_slice(&n.to_le_bytes());
            body.extend_from_slice(&l.to_le_bytes());
        }
        let buf = request(op::BATCH_FORGET, &body);
        let Operation::BatchForget { nodes } = Request::parse(&buf).unwrap().op else {
            panic!()
        };
        assert_eq!(nodes.len(), 2);
        assert_eq!((nodes[1].nodeid, nodes[1].nlookup), (6, 2));
        // One node short.
        let buf = request(op::BATCH_FORGET, &body[..body.len() - 1]);
        assert!(Request::parse(&buf).is_err());
    }
}
