//! The CLI's `debug` / `no debug`: which log levels one connection sees on
//! its console, by l2tpns's names (critical, error, warning, info, calls,
//! data; `all`). Lines still pass the daemon's own `debug` level first, as
//! in l2tpns, whose console shows what it logs.

use tracing::Level;

/// l2tpns's categories, in its order, and the level each shows.
const FLAGS: [(&str, Level); 6] = [
    ("critical", Level::ERROR),
    ("error", Level::ERROR),
    ("warning", Level::WARN),
    ("info", Level::INFO),
    ("calls", Level::DEBUG),
    ("data", Level::TRACE),
];

/// One bit per entry of `FLAGS`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DebugFlags(u8);

impl DebugFlags {
    pub fn is_on(self) -> bool {
        self.0 != 0
    }

    /// Whether a line of this level goes to the console.
    pub fn shows(self, level: Level) -> bool {
        FLAGS
            .iter()
            .enumerate()
            .any(|(i, (_, l))| self.0 & (1 << i) != 0 && *l == level)
    }

    /// `debug ARGS` (`on`) or `no debug ARGS`: the new flags and the answer.
    /// No argument: `debug` shows what is on, `no debug` turns all off.
    pub fn apply(self, on: bool, args: &[String]) -> (DebugFlags, Vec<String>) {
        let mut bits = self.0;
        if args.is_empty() && on {
            return (self, vec![self.describe()]);
        }
        let all = (1u8 << FLAGS.len()) - 1;
        for a in args {
            let mask = match FLAGS.iter().position(|(n, _)| *n == a.as_str()) {
                Some(i) => 1 << i,
                None => all, // "all": the parser admits only the listed words
            };
            if on {
                bits |= mask;
            } else {
                bits &= !mask;
            }
        }
        if args.is_empty() {
            bits = 0;
        }
        let next = DebugFlags(bits);
        (next, vec![next.describe()])
    }

    fn describe(self) -> String {
        let on: Vec<&str> = FLAGS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, (n, _))| *n)
            .collect();
        if on.is_empty() {
            "Debugging is off".into()
        } else {
            format!("Currently debugging: {}", on.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_by_name_all_and_off() {
        let f = DebugFlags::default();
        let (f, out) = f.apply(true, &args(&["info", "calls"]));
        assert_eq!(out, ["Currently debugging: info calls"]);
        assert!(f.shows(Level::INFO) && f.shows(Level::DEBUG));
        assert!(!f.shows(Level::WARN) && !f.shows(Level::TRACE));
        let (g, out) = f.apply(true, &[]);
        assert_eq!(
            (g, out),
            (f, vec!["Currently debugging: info calls".to_string()])
        );
        let (f, _) = f.apply(false, &args(&["calls"]));
        assert!(f.shows(Level::INFO) && !f.shows(Level::DEBUG));
        let (f, _) = f.apply(true, &args(&["all"]));
        assert!(f.shows(Level::TRACE) && f.shows(Level::ERROR));
        let (f, out) = f.apply(false, &[]);
        assert!(!f.is_on());
        assert_eq!(out, ["Debugging is off"]);
    }
}
