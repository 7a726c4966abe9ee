//! Which devices a container may use: Docker's default rules, as the
//! cgroup v1 `devices` controller takes them (`devices.allow` lines) and
//! as a cgroup2 device program (eBPF, built with [`super::ebpf`]).
//!
//! The list is runc's `AllowedDevices` (libcontainer/specconv/spec_linux.go),
//! which Docker gets for every container that is not privileged, with
//! `/dev/console` (5:1) that Docker's own default spec adds (and runc's
//! older libcontainer/configs/device_defaults.go listed): creating any
//! device node is allowed (`c *:* m`, `b *:* m`), but only these may be
//! opened. Everything else is denied (`a *:* rwm` first).

use super::ebpf::{self, Builder, Reg};

/// What a rule covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Char,
    Block,
}

/// Access bits as both the v1 controller (letters) and the BPF context
/// (`BPF_DEVCG_ACC_*`) number them.
pub const MKNOD: u32 = 1;
pub const READ: u32 = 2;
pub const WRITE: u32 = 4;
const RWM: u32 = MKNOD | READ | WRITE;

/// One allow rule: a device type, major and minor (`None`: any), and the
/// accesses allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

const fn char_dev(major: u32, minor: Option<u32>, access: u32) -> Rule {
    Rule {
        kind: Kind::Char,
        major: Some(major),
        minor,
        access,
    }
}

/// Docker's default device rules (see the module doc).
pub const DEFAULT_RULES: &[Rule] = &[
    Rule {
        kind: Kind::Char,
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule {
        kind: Kind::Block,
        major: None,
        minor: None,
        access: MKNOD,
    },
    char_dev(1, Some(3), RWM),    // null
    char_dev(1, Some(5), RWM),    // zero
    char_dev(1, Some(7), RWM),    // full
    char_dev(1, Some(8), RWM),    // random
    char_dev(1, Some(9), RWM),    // urandom
    char_dev(5, Some(0), RWM),    // tty
    char_dev(5, Some(1), RWM),    // console
    char_dev(5, Some(2), RWM),    // ptmx
    char_dev(136, None, RWM),     // pts/*
    char_dev(10, Some(200), RWM), // net/tun
];

/// A privileged container's rules: every device, every access.
pub const ALL_RULES: &[Rule] = &[
    Rule {
        kind: Kind::Char,
        major: None,
        minor: None,
        access: RWM,
    },
    Rule {
        kind: Kind::Block,
        major: None,
        minor: None,
        access: RWM,
    },
];

/// `--device`'s permissions (`rwm`, any subset, any order), as access
/// bits; `None` for another letter or none at all.
pub fn parse_access(perms: &str) -> Option<u32> {
    let mut access = 0;
    for c in perms.chars() {
        access |= match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => return None,
        };
    }
    (access != 0).then_some(access)
}

impl Rule {
    /// The rule as a `devices.allow` line: `c 1:3 rwm`, `b *:* m`.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            Kind::Char => 'c',
            Kind::Block => 'b',
        };
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let mut access = String::new();
        for (bit, letter) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(letter);
            }
        }
        format!("{kind} {}:{} {access}", num(self.major), num(self.minor))
    }
}

// The BPF context (`struct bpf_cgroup_dev_ctx`): `access_type` is the
// access bits << 16 | the type (`BPF_DEVCG_DEV_BLOCK` 1, `_CHAR` 2).
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// A device program allowing what `rules` allow and denying the rest: it
/// returns 1 (allow) at the first rule that covers the request's type,
/// numbers and every access bit it asks for, 0 otherwise.
pub fn program(rules: &[Rule]) -> Result<Vec<ebpf::Insn>, ebpf::Error> {
    let mut b = Builder::new();
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    b.load_u32(Reg::R2, Reg::R1, CTX_ACCESS_TYPE)
        .mov(Reg::R3, Reg::R2)
        .and_imm(Reg::R2, 0xffff)
        .rsh_imm(Reg::R3, 16)
        .load_u32(Reg::R4, Reg::R1, CTX_MAJOR)
        .load_u32(Reg::R5, Reg::R1, CTX_MINOR);
    for rule in rules {
        let next = b.label();
        let kind = match rule.kind {
            Kind::Char => DEV_CHAR,
            Kind::Block => DEV_BLOCK,
        };
        b.jne_imm(Reg::R2, kind, next);
        if rule.access & RWM != RWM {
            // The request's bits must all be among the rule's: r1 = r3 &
            // allowed must still be r3.
            b.mov(Reg::R1, Reg::R3)
                .and_imm(Reg::R1, (rule.access & RWM) as i32)
                .jne(Reg::R1, Reg::R3, next);
        }
        // Device numbers fit easily (majors < 2^12, minors < 2^20), so the
        // sign-extended immediate compares exactly.
        if let Some(major) = rule.major {
            b.jne_imm(Reg::R4, major as i32, next);
        }
        if let Some(minor) = rule.minor {
            b.jne_imm(Reg::R5, minor as i32, next);
        }
        b.mov_imm(Reg::R0, 1).exit().place(next);
    }
    b.mov_imm(Reg::R0, 0).exit();
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a device program the way the kernel would, for the few
    /// instructions [`program`] emits.
    fn run(insns: &[ebpf::Insn], kind: i32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = insns[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                0x61 => r[d] = u64::from(ctx[(i.off / 4) as usize]),
                0xbf => r[d] = r[s],
                0xb7 => r[d] = i.imm as i64 as u64,
                0x57 => r[d] &= i.imm as i64 as u64,
                0x77 => r[d] >>= i.imm,
                0x55 if r[d] != i.imm as i64 as u64 => pc += i.off as usize,
                0x5d if r[d] != r[s] => pc += i.off as usize,
                0x55 | 0x5d => {}
                0x95 => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_default_program_allows_dockers_devices_only() {
        let p = program(DEFAULT_RULES).unwrap();
        let (c, b) = (DEV_CHAR, DEV_BLOCK);
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
            (136, 0),
            (136, 7),
            (10, 200),
        ] {
            for access in [READ, WRITE, READ | WRITE, MKNOD] {
                assert_eq!(run(&p, c, access, major, minor), 1, "c {major}:{minor} {access}");
            }
        }
        // mknod of anything, opening nothing else: loop, kvm, fuse,
        // loop-control, a disk.
        assert_eq!(run(&p, b, MKNOD, 7, 0), 1);
        assert_eq!(run(&p, c, MKNOD, 10, 232), 1);
        for (kind, major, minor) in [
            (b, 7, 0),
            (c, 10, 232),
            (c, 10, 229),
            (c, 10, 237),
            (b, 8, 0),
            (c, 1, 1),
            (c, 4, 0),
        ] {
            for access in [READ, WRITE, READ | WRITE, READ | MKNOD] {
                assert_eq!(
                    run(&p, kind, access, major, minor),
                    0,
                    "{kind} {major}:{minor} {access}"
                );
            }
        }
    }

    #[test]
    fn device_permissions_parse() {
        assert_eq!(parse_access("rwm"), Some(RWM));
        assert_eq!(parse_access("r"), Some(READ));
        assert_eq!(parse_access("mw"), Some(MKNOD | WRITE));
        assert_eq!(parse_access(""), None);
        assert_eq!(parse_access("rx"), None);
        let p = program(ALL_RULES).unwrap();
        assert_eq!(run(&p, DEV_BLOCK, READ | WRITE, 8, 0), 1);
        assert_eq!(run(&p, DEV_CHAR, READ, 10, 232), 1);
    }

    #[test]
    fn rules_render_as_devices_allow_lines() {
        let lines: Vec<String> = DEFAULT_RULES.iter().map(Rule::v1_line).collect();
        assert_eq!(lines[0], "c *:* m");
        assert_eq!(lines[1], "b *:* m");
        assert!(lines.contains(&"c 1:3 rwm".to_string()));
        assert!(lines.contains(&"c 136:* rwm".to_string()));
        assert!(lines.contains(&"c 10:200 rwm".to_string()));
        assert_eq!(lines.len(), 12);
    }
}
