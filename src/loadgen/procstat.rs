//! CPU time of a process from /proc/PID/stat (proc(5)): utime and stime,
//! fields 14 and 15, in clock ticks (sysconf(_SC_CLK_TCK)). Used to charge
//! the LNS's CPU to the traffic it carried.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProcStatError {
    #[error("no ')' closing the command name")]
    NoCommand,
    #[error("field {0} missing")]
    Missing(usize),
    #[error("field {0} is not a number")]
    NotANumber(usize),
}

/// utime + stime in clock ticks, from the text of /proc/PID/stat. The
/// command name (field 2) may hold spaces and ')', so fields are counted
/// after its last ')'.
pub fn parse_cpu_ticks(stat: &str) -> Result<u64, ProcStatError> {
    let close = stat.rfind(')').ok_or(ProcStatError::NoCommand)?;
    let rest = stat.get(close + 1..).ok_or(ProcStatError::NoCommand)?;
    // rest starts at field 3 (state).
    let mut fields = rest.split_whitespace();
    let mut field = |n: usize| -> Result<u64, ProcStatError> {
        let s = fields.next().ok_or(ProcStatError::Missing(n))?;
        s.parse().map_err(|_| ProcStatError::NotANumber(n))
    };
    for n in 3..14 {
        field(n).or_else(|e| match e {
            // state (3) is a letter; others before 14 are not needed.
            ProcStatError::NotANumber(_) => Ok(0),
            e => Err(e),
        })?;
    }
    let utime = field(14)?;
    let stime = field(15)?;
    Ok(utime.saturating_add(stime))
}

/// Clock ticks per second.
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// CPU seconds (user + system) used by `pid` so far; None if unreadable.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = parse_cpu_ticks(&text).ok()?;
    Some(ticks as f64 / clock_ticks_per_sec() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        "1234 (l2tpns) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 3 0 100 0 0";

    #[test]
    fn utime_plus_stime() {
        assert_eq!(parse_cpu_ticks(SAMPLE), Ok(325));
        let odd = "77 (a) b) (c) R 1 1 1 0 -1 0 0 0 0 0 3 4 0 0";
        assert_eq!(parse_cpu_ticks(odd), Ok(7));
    }

    #[test]
    fn malformed_stat_is_an_error() {
        assert_eq!(parse_cpu_ticks(""), Err(ProcStatError::NoCommand));
        assert_eq!(
            parse_cpu_ticks("1 (x) S 1 2"),
            Err(ProcStatError::Missing(6))
        );
        assert_eq!(
            parse_cpu_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 4"),
            Err(ProcStatError::NotANumber(14))
        );
        assert_eq!(
            parse_cpu_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 3"),
            Err(ProcStatError::Missing(15))
        );
    }

    #[test]
    fn our_own_process_is_readable() {
        assert!(cpu_seconds(std::process::id()).is_some());
        assert!(clock_ticks_per_sec() > 0);
    }
}
