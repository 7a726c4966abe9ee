//! `docker top CONTAINER [ps OPTIONS]`: the processes of a container's PID
//! namespace, as `ps -ef` shows them, or as the host's `ps` shows them
//! with the user's options (as moby does: its rows kept for the
//! container's processes alone, found by the PID column).

use super::Error;
use super::container::Container;
use crate::run;

/// What `top` lists: ps's column titles and one row per process.
#[derive(Debug, PartialEq, Eq)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// The longest ps output read (a host with very many processes).
const MAX_PS_OUTPUT: usize = 16 << 20;

/// The processes of running container `c`; `ps_args` as Docker's
/// `ps_args` query (`-ef` when absent or empty).
pub fn top(c: &Container, ps_args: Option<&str>) -> Result<Top, Error> {
    let Some(pid) = c.pid() else {
        return Err(Error::conflict(format!("container {} is not running", c.id)));
    };
    let procs = run::processes(pid).map_err(|e| Error::internal(format!("listing processes: {e}")))?;
    match ps_args.map(str::trim).filter(|a| !a.is_empty() && *a != "-ef") {
        None => Ok(Top {
            titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
                .into_iter()
                .map(String::from)
                .collect(),
            processes: procs
                .into_iter()
                .map(|p| {
                    vec![
                        p.uid,
                        p.pid.to_string(),
                        p.ppid.to_string(),
                        "0".into(),
                        p.stime,
                        p.tty,
                        p.time,
                        p.cmd,
                    ]
                })
                .collect(),
        }),
        Some(args) => {
            let pids: Vec<u32> = procs.iter().map(|p| p.pid).collect();
            parse_ps(&run_ps(args, &pids)?, &pids)
        }
    }
}

/// The host's `ps` with `args` (split at spaces, as moby does), asked for
/// `pids` alone; again without that when the options refuse `-q` (`f`).
fn run_ps(args: &str, pids: &[u32]) -> Result<String, Error> {
    let args: Vec<&str> = args.split(' ').filter(|a| !a.is_empty()).collect();
    let only = format!("-q{}", pids.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
    let run = |extra: Option<&str>| {
        std::process::Command::new("ps")
            .args(&args)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
    };
    let out = match run(Some(&only)) {
        Ok(out) if out.status.success() => out,
        _ => run(None).map_err(|e| Error::internal(format!("Error running ps: {e}")))?,
    };
    if !out.status.success() {
        return Err(Error::internal(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    if out.stdout.len() > MAX_PS_OUTPUT {
        return Err(Error::internal("ps printed more than top reads"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// ps's table: the titles of its first line, then each row of a process
/// of `pids` (by the PID, or LWP, column), its last column keeping the
/// rest of the line (a command with spaces), as moby's `parsePSOutput`.
fn parse_ps(output: &str, pids: &[u32]) -> Result<Top, Error> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let pid_at = titles
        .iter()
        .rposition(|t| t == "PID" || t == "LWP")
        .ok_or_else(|| Error::internal("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(field) = fields.get(pid_at) else { continue };
        let pid: u32 = field
            .parse()
            .map_err(|e| Error::internal(format!("Unexpected pid '{field}': {e}")))?;
        if !pids.contains(&pid) {
            continue;
        }
        let last = titles.len() - 1;
        let mut row: Vec<String> = fields.iter().take(last).map(|f| f.to_string()).collect();
        row.push(fields.get(last..).map(|rest| rest.join(" ")).unwrap_or_default());
        processes.push(row);
    }
    Ok(Top { titles, processes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_by_pid_with_the_command_whole() {
        let out = "  PID COMMAND\n    1 init\n   42 sh -c sleep 1\n   43 other\n";
        let top = parse_ps(out, &[42, 1]).unwrap();
        assert_eq!(top.titles, ["PID", "COMMAND"]);
        assert_eq!(top.processes, [vec!["1", "init"], vec!["42", "sh -c sleep 1"]]);
    }

    #[test]
    fn without_a_pid_column_it_is_mobys_error() {
        let e = parse_ps("COMMAND\nsh\n", &[1]).unwrap_err();
        assert!(e.to_string().contains("Couldn't find PID field in ps output"), "{e}");
        let e = parse_ps("PID CMD\nx sh\n", &[1]).unwrap_err();
        assert!(e.to_string().contains("Unexpected pid 'x'"), "{e}");
    }
}
