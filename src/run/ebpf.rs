//! A small eBPF instruction builder: the few instructions a cgroup device
//! program needs, encoded as the kernel's `struct bpf_insn`, with forward
//! jumps to labels resolved when the program is finished. Only
//! `sys::bpf` hands the bytes to the kernel, whose verifier checks them
//! again.

/// A register. `R0` holds the return value, `R1` the context on entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
}

// Instruction classes, operations and sources (include/uapi/linux/bpf.h).
const CLASS_LDX: u8 = 0x01;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
const SIZE_W: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const OP_AND: u8 = 0x50;
const OP_RSH: u8 = 0x70;
const OP_MOV: u8 = 0xb0;
const OP_JNE: u8 = 0x50;
const OP_EXIT: u8 = 0x90;
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

/// One instruction (`struct bpf_insn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: Reg,
    pub src: Reg,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The kernel's encoding: the registers share a byte as bit fields
    /// (`dst_reg:4, src_reg:4`), whose order follows the byte order.
    pub fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.src as u8) << 4 | self.dst as u8
        } else {
            (self.dst as u8) << 4 | self.src as u8
        };
        let off = self.off.to_ne_bytes();
        let imm = self.imm.to_ne_bytes();
        [self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3]]
    }
}

/// A place in the program that jumps can name before it is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Builds a program; jumps go forward to labels (the verifier refuses
/// loops anyway).
#[derive(Debug, Default)]
pub struct Builder {
    insns: Vec<Insn>,
    /// Where each label was placed (instruction index), once it is.
    labels: Vec<Option<usize>>,
    /// (index of a jump, its label).
    fixups: Vec<(usize, Label)>,
}

/// Why a program could not be finished.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("a jump to a label that was never placed")]
    Unplaced,
    #[error("a jump backwards or too far")]
    BadJump,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn push(&mut self, code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> &mut Self {
        self.insns.push(Insn {
            code,
            dst,
            src,
            off,
            imm,
        });
        self
    }

    /// `dst = *(u32 *)(src + off)`, zero-extended.
    pub fn load_u32(&mut self, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(CLASS_LDX | MODE_MEM | SIZE_W, dst, src, off, 0)
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.push(CLASS_ALU64 | OP_MOV | SRC_X, dst, src, 0, 0)
    }

    /// `dst = imm`.
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(CLASS_ALU64 | OP_MOV | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst &= imm`.
    pub fn and_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(CLASS_ALU64 | OP_AND | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst >>= imm` (logical).
    pub fn rsh_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(CLASS_ALU64 | OP_RSH | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `if dst != imm goto label`.
    pub fn jne_imm(&mut self, dst: Reg, imm: i32, label: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.push(CLASS_JMP | OP_JNE | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `if dst != src goto label`.
    pub fn jne(&mut self, dst: Reg, src: Reg, label: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), label));
        self.push(CLASS_JMP | OP_JNE | SRC_X, dst, src, 0, 0)
    }

    /// `return R0`.
    pub fn exit(&mut self) -> &mut Self {
        self.push(CLASS_JMP | OP_EXIT, Reg::R0, Reg::R0, 0, 0)
    }

    /// A new label, to be placed later.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Places `label` at the next instruction.
    pub fn place(&mut self, label: Label) -> &mut Self {
        self.labels[label.0] = Some(self.insns.len());
        self
    }

    /// The instructions, with every jump's offset resolved.
    pub fn finish(mut self) -> Result<Vec<Insn>, Error> {
        for &(at, label) in &self.fixups {
            let target = self.labels[label.0].ok_or(Error::Unplaced)?;
            // Offsets count from the instruction after the jump.
            let off = target.checked_sub(at + 1).ok_or(Error::BadJump)?;
            self.insns[at].off = i16::try_from(off).map_err(|_| Error::BadJump)?;
        }
        Ok(self.insns)
    }
}

/// The program as bytes for `bpf(BPF_PROG_LOAD)`.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_lays_them_out() {
        let mut b = Builder::new();
        b.load_u32(Reg::R2, Reg::R1, 4).mov_imm(Reg::R0, 1).exit();
        let insns = b.finish().unwrap();
        let bytes = encode(&insns);
        // r2 = *(u32 *)(r1 + 4): 0x61, dst 2 / src 1, off 4.
        assert_eq!(&bytes[..8], &[0x61, 0x12, 4, 0, 0, 0, 0, 0]);
        // r0 = 1: 0xb7.
        assert_eq!(&bytes[8..16], &[0xb7, 0x00, 0, 0, 1, 0, 0, 0]);
        // exit: 0x95.
        assert_eq!(&bytes[16..], &[0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn jumps_resolve_forward_and_refuse_the_rest() {
        let mut b = Builder::new();
        let skip = b.label();
        b.jne_imm(Reg::R2, 7, skip)
            .mov_imm(Reg::R0, 1)
            .exit()
            .place(skip)
            .mov_imm(Reg::R0, 0)
            .exit();
        let insns = b.finish().unwrap();
        assert_eq!(insns[0].off, 2, "past the mov and the exit");
        assert_eq!(insns[0].code, 0x55);

        let mut b = Builder::new();
        let never = b.label();
        b.jne(Reg::R1, Reg::R3, never).exit();
        assert_eq!(b.finish().unwrap_err(), Error::Unplaced);

        let mut b = Builder::new();
        let back = b.label();
        b.place(back).exit().jne_imm(Reg::R2, 1, back);
        assert_eq!(b.finish().unwrap_err(), Error::BadJump);
    }
}
