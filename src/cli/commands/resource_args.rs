//! `run`/`create`'s resource flags (`-m/--memory`, `--memory-swap`,
//! `--memory-reservation`, `--cpus`, `--cpu-shares`, `--cpuset-cpus`,
//! `--pids-limit`), parsed as the docker CLI parses them and set in the
//! request's `HostConfig` under Docker's names.

use crate::wire::HostConfig;
use serde_json::Value;

/// Docker's `RAMInBytes`: a number with an optional binary unit (`b`, `k`,
/// `m`, `g`, `t`, `p`, case-insensitive, an optional trailing `b`).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let mult: f64 = match unit.strip_suffix('b').filter(|u| !u.is_empty()).unwrap_or(unit) {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(format!("invalid size: '{s}'")),
    };
    Ok((n * mult) as i64)
}

/// `--memory-swap`: a size, or -1 for unlimited.
fn parse_swap(s: &str) -> Result<i64, String> {
    if s.trim() == "-1" { Ok(-1) } else { parse_bytes(s) }
}

/// `--cpus`: a decimal number of CPUs, as nano-CPUs.
fn parse_cpus(s: &str) -> Result<i64, String> {
    let n: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("failed to parse {s} as a rational number"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("invalid value {s} for --cpus"));
    }
    Ok((n * 1e9).round() as i64)
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct ResourceArgs {
    /// Memory limit (e.g. 64m)
    #[arg(short = 'm', long, value_name = "BYTES", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory: Option<i64>,
    /// Memory plus swap limit: -1 for unlimited swap
    #[arg(long, value_name = "BYTES", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory_reservation: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "DECIMAL", value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

impl ResourceArgs {
    /// Docker's names and values, as the docker CLI sends them.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        let mut int = |name, v: Option<i64>| {
            if let Some(v) = v {
                out.push((name, Value::from(v)));
            }
        };
        int("Memory", self.memory);
        int("MemorySwap", self.memory_swap);
        int("MemoryReservation", self.memory_reservation);
        int("NanoCpus", self.cpus);
        int("CpuShares", self.cpu_shares);
        int("PidsLimit", self.pids_limit);
        if let Some(c) = &self.cpuset_cpus {
            out.push(("CpusetCpus", Value::from(c.clone())));
        }
        out
    }

    /// Sets them in a create request's `HostConfig`.
    pub fn apply(&self, host: &mut HostConfig) {
        for (name, value) in self.fields() {
            host.extra.insert(name.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_docker() {
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("64MB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        assert!(parse_bytes("x").is_err());
        assert!(parse_bytes("10q").is_err());
        assert_eq!(parse_swap("-1"), Ok(-1));
        assert_eq!(parse_cpus("0.5"), Ok(500_000_000));
        assert!(parse_cpus("-1").is_err());
    }
}
