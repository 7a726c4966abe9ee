//! Finding the executable as runc does (Go's `exec.LookPath`), with
//! Docker's messages and exit codes.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a process could not be started: Docker's message and exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// An errno as Go prints it: "no such file or directory", "permission denied".
pub fn errno_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Docker's exit code for an exec error: 127 when the file is missing, 126
/// when it cannot be executed.
pub fn exec_error_code(err: &io::Error) -> i32 {
    match err.raw_os_error() {
        Some(libc_enoent) if libc_enoent == rustix::io::Errno::NOENT.raw_os_error() => 127,
        Some(e) if e == rustix::io::Errno::NOTDIR.raw_os_error() => 127,
        _ => 126,
    }
}

/// Go's `findExecutable`: a file (not a directory) this process may execute.
fn find_executable(path: &Path) -> io::Result<()> {
    let md = std::fs::metadata(path)?;
    if md.is_dir() {
        return Err(io::Error::from(rustix::io::Errno::ACCESS));
    }
    match rustix::fs::accessat(
        rustix::fs::CWD,
        path,
        rustix::fs::Access::EXEC_OK,
        rustix::fs::AtFlags::EACCESS,
    ) {
        Ok(()) => Ok(()),
        Err(e) if e != rustix::io::Errno::NOSYS && e != rustix::io::Errno::PERM => Err(e.into()),
        Err(_) if md.permissions().mode() & 0o111 != 0 => Ok(()),
        Err(_) => Err(io::Error::from(rustix::io::Errno::ACCESS)),
    }
}

/// The path to execute for `name` (argv\[0\]): as given when it contains a
/// `/`, else the first executable match in `path_env` (`PATH`'s value; an
/// empty entry is the current directory).
pub fn look_path(name: &str, path_env: &str) -> Result<PathBuf, Failure> {
    if name.is_empty() {
        return Err(Failure::new(127, "exec: \"\": executable file not found in $PATH"));
    }
    if name.contains('/') {
        return match find_executable(Path::new(name)) {
            Ok(()) => Ok(PathBuf::from(name)),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                Err(Failure::new(126, format!("exec: \"{name}\": permission denied")))
            }
            Err(e) => Err(Failure::new(
                exec_error_code(&e),
                format!("exec: \"{name}\": stat {name}: {}", errno_text(&e)),
            )),
        };
    }
    for dir in path_env.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if find_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(Failure::new(
        127,
        format!("exec: \"{name}\": executable file not found in $PATH"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(path: &Path, mode: u32) {
        std::fs::write(path, b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn path_search_finds_the_first_executable() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        file(&a.join("tool"), 0o644);
        file(&b.join("tool"), 0o755);
        std::fs::create_dir(a.join("dir")).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        assert_eq!(look_path("tool", &path).unwrap(), b.join("tool"));
        // A directory of that name is skipped, not an error.
        std::fs::create_dir(b.join("dir")).unwrap();
        let err = look_path("dir", &path).unwrap_err();
        assert_eq!(err.code, 127);
        let err = look_path("nosuchcmd", &path).unwrap_err();
        assert_eq!(
            err,
            Failure::new(127, "exec: \"nosuchcmd\": executable file not found in $PATH")
        );
    }

    #[test]
    fn paths_with_a_slash_are_not_searched() {
        let t = tempfile::tempdir().unwrap();
        file(&t.path().join("x"), 0o755);
        let x = t.path().join("x");
        let x = x.to_str().unwrap();
        assert_eq!(look_path(x, "").unwrap(), PathBuf::from(x));
        let d = t.path().to_str().unwrap();
        let err = look_path(d, "/bin").unwrap_err();
        assert_eq!(err, Failure::new(126, format!("exec: \"{d}\": permission denied")));
        let missing = format!("{d}/missing");
        let err = look_path(&missing, "/bin").unwrap_err();
        assert_eq!(err.code, 127);
        assert_eq!(
            err.message,
            format!("exec: \"{missing}\": stat {missing}: no such file or directory")
        );
    }

    #[test]
    fn not_executable_is_permission_denied_for_non_root() {
        if rustix::process::geteuid().is_root() {
            // root may execute any file with an x bit; without one, eaccess
            // still refuses, which is what this checks.
        }
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("plain");
        file(&f, 0o644);
        let f = f.to_str().unwrap();
        let err = look_path(f, "").unwrap_err();
        assert_eq!(err, Failure::new(126, format!("exec: \"{f}\": permission denied")));
    }

    #[test]
    fn errno_text_is_gos() {
        let e = io::Error::from(rustix::io::Errno::NOENT);
        assert_eq!(errno_text(&e), "no such file or directory");
        assert_eq!(exec_error_code(&e), 127);
        assert_eq!(exec_error_code(&io::Error::from(rustix::io::Errno::ACCESS)), 126);
    }
}
