//! Containers' seccomp filter: a Docker-format profile (by default
//! Docker's own, embedded from moby/profiles: see `README.md` here),
//! resolved for the container ([`profile`]) and compiled with libseccomp
//! into a classic BPF [`Program`]. The daemon compiles Docker's default
//! once ([`default_program`]) and another profile once per container
//! start; the container's init, and every exec'd process, installs the
//! program before `execve` (`sys::seccomp`): last, after its capabilities
//! and `no_new_privs`, when `no_new_privs` is asked; else while it still
//! holds `CAP_SYS_ADMIN` (see `helper.rs`).
//!
//! As runc does: every architecture of the native architecture's `archMap`
//! entry is in the filter (x86_64 with x86 and x32), a syscall name
//! libseccomp cannot resolve is skipped (a profile may name calls newer
//! than the library), a rule whose action is the default action is left
//! out, each rule's `errnoRet` is honoured (EPERM without one) as is
//! `defaultErrnoRet`, and a rule naming one argument twice becomes one rule
//! per condition.

pub mod profile;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use profile::{Profile, Resolved, Target};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek};
use std::str::FromStr;

/// Docker's default profile (moby/profiles `seccomp/default.json`).
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

const EPERM: u32 = 1;
/// The most arguments a syscall has.
const MAX_ARGS: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Docker's words for a profile that is not valid JSON of its shape.
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(serde_json::Error),
    #[error("seccomp profile: {0}")]
    Invalid(String),
    #[error("compiling the seccomp profile: {0}")]
    Compile(String),
}

fn invalid(m: impl Into<String>) -> Error {
    Error::Invalid(m.into())
}

fn compile_err(what: &str) -> impl FnOnce(libseccomp::error::SeccompError) -> Error + '_ {
    move |e| Error::Compile(format!("{what}: {e}"))
}

/// A compiled filter: `struct sock_filter` records in native byte order,
/// ready for `seccomp(SECCOMP_SET_MODE_FILTER)`. Travels to the helpers
/// in their JSON spec as hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Program(Vec<u8>);

impl Program {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Instructions in the program.
    pub fn len(&self) -> usize {
        self.0.len() / crate::sys::seccomp::SOCK_FILTER_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Installs the program on the calling thread (see
    /// `sys::seccomp::install_filter`).
    pub fn install(&self) -> std::io::Result<()> {
        crate::sys::seccomp::install_filter(&self.0)
    }
}

impl From<Program> for String {
    fn from(p: Program) -> String {
        p.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl TryFrom<String> for Program {
    type Error = String;
    fn try_from(hex: String) -> Result<Program, String> {
        let digit = |c: u8| {
            (c as char)
                .to_digit(16)
                .ok_or_else(|| format!("not hex: {:?}", c as char))
        };
        if !hex.len().is_multiple_of(2) {
            return Err("odd number of hex digits".into());
        }
        let bytes = hex
            .as_bytes()
            .chunks_exact(2)
            .map(|p| Ok((digit(p[0])? << 4 | digit(p[1])?) as u8))
            .collect::<Result<Vec<u8>, String>>()?;
        Ok(Program(bytes))
    }
}

/// The native architecture: libseccomp's name, and profiles' (Go's).
fn native_arch() -> Result<(&'static str, &'static str), Error> {
    let little = cfg!(target_endian = "little");
    Ok(match std::env::consts::ARCH {
        "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
        "x86" => ("SCMP_ARCH_X86", "x86"),
        "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
        "arm" => ("SCMP_ARCH_ARM", "arm"),
        "riscv64" => ("SCMP_ARCH_RISCV64", "riscv64"),
        "s390x" => ("SCMP_ARCH_S390X", "s390x"),
        "loongarch64" => ("SCMP_ARCH_LOONGARCH64", "loong64"),
        "powerpc64" if little => ("SCMP_ARCH_PPC64LE", "ppc64le"),
        "powerpc64" => ("SCMP_ARCH_PPC64", "ppc64"),
        other => return Err(invalid(format!("the architecture {other} is not supported"))),
    })
}

/// A container on this machine: the native architecture, the running
/// kernel, and Docker's default capabilities as the bounding set.
pub fn container_target() -> Result<Target, Error> {
    container_target_with(super::caps::DOCKER_CAPS)
}

/// A container on this machine whose capability set is `caps` (what a
/// profile's `includes.caps`/`excludes.caps` are judged against).
pub fn container_target_with(caps: rustix::thread::CapabilitySet) -> Result<Target, Error> {
    let (scmp_arch, arch) = native_arch()?;
    let release = crate::sys::kernel_release();
    let kernel = profile::release_version(&release)
        .ok_or_else(|| invalid(format!("cannot read the kernel version of {release:?}")))?;
    Ok(Target {
        scmp_arch,
        arch,
        caps: super::caps::names(caps),
        kernel,
    })
}

/// Parses a Docker-format profile.
pub fn parse(json: &str) -> Result<Profile, Error> {
    serde_json::from_str(json).map_err(Error::Decode)
}

/// Compiles `json` for a container on this machine; `None` when the
/// profile asks for no filter (no default action and no rules).
pub fn compile_json(json: &str) -> Result<Option<Program>, Error> {
    compile_json_with(json, super::caps::DOCKER_CAPS)
}

/// [`compile_json`] for a container whose capability set is `caps`.
pub fn compile_json_with(json: &str, caps: rustix::thread::CapabilitySet) -> Result<Option<Program>, Error> {
    let profile = parse(json)?;
    if !profile.listener_path.is_empty() {
        return Err(invalid("listenerPath (SCMP_ACT_NOTIFY) is not supported"));
    }
    if let Some(flag) = profile.flags.iter().flatten().next() {
        return Err(invalid(format!("the flag {flag} is not supported")));
    }
    match profile.resolve(&container_target_with(caps)?).map_err(Error::Invalid)? {
        Some(resolved) => compile(&resolved).map(Some),
        None => Ok(None),
    }
}

/// Docker's default profile, compiled for a container on this machine.
pub fn compile_default() -> Result<Program, Error> {
    compile_json(DEFAULT_PROFILE)?.ok_or_else(|| invalid("the default profile is empty"))
}

/// [`compile_default`], once per process: what it compiles to depends only
/// on the architecture, Docker's capabilities and the running kernel, none
/// of which changes while the daemon runs, and libseccomp takes about
/// 20 ms for it (`cargo bench --bench micro seccomp`; most of it
/// generating the BPF), which a container start need not pay each time.
pub fn default_program() -> Result<Program, Error> {
    static DEFAULT: std::sync::OnceLock<Result<Program, String>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| compile_default().map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::Compile)
}

/// Docker's default profile for a container whose capability set is
/// `caps`: [`default_program`] for Docker's set, else compiled once per
/// set and kept (a daemon sees few sets).
pub fn default_program_for(caps: rustix::thread::CapabilitySet) -> Result<Program, Error> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    if caps == super::caps::DOCKER_CAPS {
        return default_program();
    }
    static BY_CAPS: Mutex<Option<HashMap<u64, Program>>> = Mutex::new(None);
    if let Some(p) = BY_CAPS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_default()
        .get(&caps.bits())
    {
        return Ok(p.clone());
    }
    let program = compile_json_with(DEFAULT_PROFILE, caps)?.ok_or_else(|| invalid("the default profile is empty"))?;
    BY_CAPS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_default()
        .insert(caps.bits(), program.clone());
    Ok(program)
}

/// A profile's action (`SCMP_ACT_*`) with its errno (EPERM by default)
/// for ERRNO and TRACE.
fn action(name: &str, errno_ret: Option<u32>) -> Result<ScmpAction, Error> {
    let ret = errno_ret.unwrap_or(EPERM);
    let ret16 = u16::try_from(ret).map_err(|_| invalid(format!("errnoRet {ret} is too large")))?;
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(i32::from(ret16)),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(ret16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => return Err(invalid("SCMP_ACT_NOTIFY is not supported (no listener)")),
        other => return Err(invalid(format!("unknown action {other:?}"))),
    })
}

fn condition(arg: &profile::Arg) -> Result<ScmpArgCompare, Error> {
    if arg.index >= MAX_ARGS {
        return Err(invalid(format!("argument index {} is out of range", arg.index)));
    }
    let op = match arg.op.as_str() {
        "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(arg.value),
        other => ScmpCompareOp::from_str(other).map_err(|_| invalid(format!("unknown comparison {other:?}")))?,
    };
    // For MASKED_EQ the value is the mask and valueTwo the datum.
    let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
        arg.value_two
    } else {
        arg.value
    };
    Ok(ScmpArgCompare::new(arg.index, op, datum))
}

/// Compiles a resolved profile.
pub fn compile(resolved: &Resolved) -> Result<Program, Error> {
    let default = action(&resolved.default_action, resolved.default_errno_ret)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(compile_err("creating the filter"))?;
    for name in &resolved.arches {
        let arch = ScmpArch::from_str(name).map_err(|_| invalid(format!("unknown architecture {name:?}")))?;
        ctx.add_arch(arch).map_err(compile_err(name))?;
    }
    for rule in &resolved.rules {
        let act = action(&rule.action, rule.errno_ret)?;
        if act == default {
            continue;
        }
        let conditions = rule.args.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
        let mut seen = [0u32; MAX_ARGS as usize];
        for a in &rule.args {
            seen[a.index as usize] += 1;
        }
        // libseccomp takes one condition per argument in a rule; Docker's
        // old reading of repeats is one rule per condition.
        let groups: Vec<Vec<ScmpArgCompare>> = if seen.iter().any(|&n| n > 1) {
            conditions.into_iter().map(|c| vec![c]).collect()
        } else {
            vec![conditions]
        };
        for name in &rule.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                tracing::debug!("seccomp: unknown syscall {name:?} skipped");
                continue;
            };
            for group in &groups {
                ctx.add_rule_conditional(act, syscall, group)
                    .map_err(compile_err(&format!("adding the rule for {name}")))?;
            }
        }
    }
    export(&ctx)
}

/// The compiled program, through a memfd (libseccomp 2.5 exports to a
/// descriptor only).
fn export(ctx: &ScmpFilterContext) -> Result<Program, Error> {
    let io = |e: std::io::Error| Error::Compile(format!("exporting the program: {e}"));
    let fd = rustix::fs::memfd_create("strata-seccomp", rustix::fs::MemfdFlags::CLOEXEC).map_err(|e| io(e.into()))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file).map_err(compile_err("exporting the program"))?;
    file.rewind().map_err(io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    let size = crate::sys::seccomp::SOCK_FILTER_SIZE;
    if bytes.is_empty() || !bytes.len().is_multiple_of(size) {
        return Err(Error::Compile(format!("libseccomp exported {} bytes", bytes.len())));
    }
    let max = crate::sys::seccomp::MAX_INSTRUCTIONS;
    if bytes.len() / size > max {
        return Err(invalid(format!(
            "the profile compiles to {} instructions, over the kernel's {max}",
            bytes.len() / size
        )));
    }
    Ok(Program(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_compiles() {
        let started = std::time::Instant::now();
        let p = compile_default().unwrap();
        eprintln!("compiled {} instructions in {:?}", p.len(), started.elapsed());
        assert_eq!(default_program().unwrap(), p);
        assert!(p.len() > 100 && p.len() <= 4096, "{}", p.len());
        let hex: String = p.clone().into();
        assert_eq!(Program::try_from(hex).unwrap(), p);
        assert!(Program::try_from("0g".to_string()).is_err());
        assert!(Program::try_from("abc".to_string()).is_err());
    }

    #[test]
    fn custom_profiles_compile_or_say_why_not() {
        let ok = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                                  {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]}"#;
        assert!(compile_json(ok).unwrap().is_some());
        assert_eq!(compile_json("{}").unwrap(), None);
        let err = |json: &str| compile_json(json).unwrap_err().to_string();
        assert!(err("{").starts_with("Decoding seccomp profile failed"), "{}", err("{"));
        assert!(err(r#"{"defaultAction": 3}"#).starts_with("Decoding"));
        assert!(err(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).contains("unknown action"));
        assert!(err(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#).contains("NOTIFY"));
        assert!(err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x"}"#).contains("listenerPath"));
        assert!(
            err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [], "architectures": ["SCMP_ARCH_NOPE"]}"#)
                .contains("unknown architecture")
        );
        let bad_arg = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#;
        assert!(err(bad_arg).contains("out of range"));
        let bad_op = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOON"}]}]}"#;
        assert!(err(bad_op).contains("unknown comparison"));
        // One argument twice: one rule per condition, as Docker reads it.
        let twice = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}"#;
        assert!(compile_json(twice).unwrap().is_some());
    }
}
