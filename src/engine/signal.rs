//! Signals as Docker takes them (`KILL`, `SIGKILL`, `sigkill`, `9`) and
//! sends them: a number checked once, at the edge, so the lifecycle code
//! never passes a bare 9 or 15.

use std::fmt;

/// A signal number in 1..=64 (the kernel's standard and real-time ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal(i32);

/// Linux's names, without `SIG`, in number order; the aliases after the
/// name each number prints as.
const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

impl Signal {
    pub const KILL: Signal = Signal(9);
    pub const TERM: Signal = Signal(15);

    /// By number or name, case-insensitive, with or without `SIG`, as
    /// Docker's `signal.ParseSignal`. `None` for anything else.
    pub fn parse(s: &str) -> Option<Signal> {
        if let Ok(n) = s.parse::<i32>() {
            return (1..=64).contains(&n).then_some(Signal(n));
        }
        let upper = s.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, number)| Signal(number))
    }

    /// The number the kernel takes.
    pub fn raw(self) -> i32 {
        self.0
    }
}

impl fmt::Display for Signal {
    /// `SIGKILL`; a signal with no name (the real-time ones) as its number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match NAMES.iter().find(|&&(_, n)| n == self.0) {
            Some((name, _)) => write!(f, "SIG{name}"),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_cases_parse_alike() {
        for s in ["SIGKILL", "KILL", "kill", "sigkill", "SigKill", "9"] {
            assert_eq!(Signal::parse(s), Some(Signal::KILL), "{s}");
        }
        assert_eq!(Signal::parse("sigterm"), Some(Signal::TERM));
        assert_eq!(Signal::parse("IOT"), Signal::parse("ABRT"));
        assert_eq!(Signal::parse("34").map(Signal::raw), Some(34));
    }

    #[test]
    fn nonsense_and_out_of_range_are_refused() {
        for s in ["", "0", "65", "-9", "SIG", "SIGSIGKILL", "KILLER", "9x"] {
            assert_eq!(Signal::parse(s), None, "{s}");
        }
    }

    #[test]
    fn signals_print_by_name_and_round_trip() {
        assert_eq!(Signal::KILL.to_string(), "SIGKILL");
        assert_eq!(Signal::parse("6").unwrap().to_string(), "SIGABRT");
        assert_eq!(Signal::parse("40").unwrap().to_string(), "40");
        for n in 1..=64 {
            let s = Signal::parse(&n.to_string()).unwrap();
            assert_eq!(Signal::parse(&s.to_string()), Some(s));
            assert_eq!(s.raw(), n);
        }
    }
}
