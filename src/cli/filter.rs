//! Output filters after `|` on a command line, as libcli offers them:
//! `include REGEX` (also `grep`, `egrep`), `exclude REGEX`, `begin REGEX`
//! and `count`, chained left to right (`| include x | count`). They apply to
//! the command's output one line at a time, so long outputs stream.
//! Patterns compile with size limits so a hostile pattern cannot take much
//! memory or time (the `regex` crate matches in linear time).

use regex::{Regex, RegexBuilder};

/// Most `|` stages on one line.
pub const MAX_STAGES: usize = 8;
/// Compiled-size limit per pattern.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Filter names for `?` and TAB, with help.
pub const FILTERS: &[(&str, &str)] = &[
    ("begin", "Begin with lines that match"),
    ("count", "Count of lines"),
    ("egrep", "Include lines that match extended regex"),
    ("exclude", "Exclude lines that match"),
    ("grep", "Include lines that match regex"),
    ("include", "Include lines that match"),
];

/// Why a filter cannot be used; displays as libcli prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("Missing filter")]
    Missing,
    #[error("Invalid filter \"{0}\"")]
    Unknown(String),
    #[error("Ambiguous filter \"{0}\"")]
    Ambiguous(String),
    #[error("Missing argument for filter \"{0}\"")]
    MissingPattern(String),
    #[error("Invalid pattern \"{0}\"")]
    Pattern(String),
    #[error("Too many filters (at most {MAX_STAGES})")]
    TooMany,
}

#[derive(Debug, Clone)]
enum Stage {
    Include(Regex),
    Exclude(Regex),
    /// Lines from the first match on; `true` once it matched.
    Begin(Regex, bool),
    Count(u64),
}

/// A chain of filters for one command's output.
#[derive(Debug, Clone)]
pub struct OutputFilter {
    stages: Vec<Stage>,
}

impl OutputFilter {
    /// Builds the chain from the words of each stage (`["include", "x"]`).
    pub fn parse(stages: &[Vec<String>]) -> Result<Self, FilterError> {
        if stages.len() > MAX_STAGES {
            return Err(FilterError::TooMany);
        }
        let stages = stages
            .iter()
            .map(|words| stage(words))
            .collect::<Result<_, _>>()?;
        Ok(OutputFilter { stages })
    }

    /// Whether `line` is shown; updates `begin` and `count` state.
    pub fn pass(&mut self, line: &str) -> bool {
        for s in &mut self.stages {
            match s {
                Stage::Include(re) if !re.is_match(line) => return false,
                Stage::Exclude(re) if re.is_match(line) => return false,
                Stage::Begin(re, started) => {
                    *started = *started || re.is_match(line);
                    if !*started {
                        return false;
                    }
                }
                Stage::Count(n) => {
                    *n += 1;
                    return false;
                }
                _ => {}
            }
        }
        true
    }

    /// What to print when the output ends: the count, if counting.
    pub fn finish(&self) -> Option<String> {
        self.stages.iter().find_map(|s| match s {
            Stage::Count(n) => Some(n.to_string()),
            _ => None,
        })
    }
}

/// Finds the filter a (possibly abbreviated) name means.
pub fn lookup(name: &str) -> Result<&'static str, FilterError> {
    let lower = name.to_ascii_lowercase();
    if let Some((f, _)) = FILTERS.iter().find(|(f, _)| *f == lower) {
        return Ok(f);
    }
    let mut m = FILTERS.iter().filter(|(f, _)| f.starts_with(&lower));
    match (m.next(), m.next()) {
        (Some((f, _)), None) if !lower.is_empty() => Ok(f),
        (Some(_), Some(_)) => Err(FilterError::Ambiguous(name.into())),
        _ => Err(FilterError::Unknown(name.into())),
    }
}

fn stage(words: &[String]) -> Result<Stage, FilterError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(FilterError::Missing);
    };
    let f = lookup(name)?;
    if f == "count" {
        return Ok(Stage::Count(0));
    }
    if rest.is_empty() {
        return Err(FilterError::MissingPattern(f.into()));
    }
    let pattern = rest.join(" ");
    let re = RegexBuilder::new(&pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|_| FilterError::Pattern(pattern))?;
    Ok(match f {
        "exclude" => Stage::Exclude(re),
        "begin" => Stage::Begin(re, false),
        _ => Stage::Include(re),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(stages: &[&[&str]]) -> Result<OutputFilter, FilterError> {
        let v: Vec<Vec<String>> = stages
            .iter()
            .map(|s| s.iter().map(|w| w.to_string()).collect())
            .collect();
        OutputFilter::parse(&v)
    }

    fn run(mut filt: OutputFilter, lines: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = lines
            .iter()
            .filter(|l| filt.pass(l))
            .map(|l| l.to_string())
            .collect();
        out.extend(filt.finish());
        out
    }

    const LINES: &[&str] = &["alpha 1", "beta 2", "gamma 3", "beta 4"];

    #[test]
    fn include_exclude_begin_count() {
        assert_eq!(
            run(f(&[&["inc", "beta"]]).unwrap(), LINES),
            ["beta 2", "beta 4"]
        );
        assert_eq!(
            run(f(&[&["grep", "a [13]"]]).unwrap(), LINES),
            ["alpha 1", "gamma 3"]
        );
        assert_eq!(
            f(&[&["e", "beta"]]).unwrap_err(),
            FilterError::Ambiguous("e".into())
        );
        assert_eq!(
            run(f(&[&["ex", "beta"]]).unwrap(), LINES),
            ["alpha 1", "gamma 3"]
        );
        assert_eq!(
            run(f(&[&["b", "^gam"]]).unwrap(), LINES),
            ["gamma 3", "beta 4"]
        );
        assert_eq!(run(f(&[&["cou"]]).unwrap(), LINES), ["4"]);
        assert_eq!(run(f(&[&["i", "beta"], &["count"]]).unwrap(), LINES), ["2"]);
    }

    #[test]
    fn errors_read_like_libcli() {
        assert_eq!(f(&[&[]]).unwrap_err().to_string(), "Missing filter");
        assert_eq!(
            f(&[&["sort"]]).unwrap_err().to_string(),
            "Invalid filter \"sort\""
        );
        assert_eq!(
            f(&[&["include"]]).unwrap_err().to_string(),
            "Missing argument for filter \"include\""
        );
        assert_eq!(
            f(&[&["in", "("]]).unwrap_err().to_string(),
            "Invalid pattern \"(\""
        );
        let many: Vec<&[&str]> = vec![&["count"]; MAX_STAGES + 1];
        assert_eq!(f(&many).unwrap_err(), FilterError::TooMany);
        // A pattern that would compile huge is refused, not built.
        assert!(matches!(
            f(&[&["in", "\\w{1000}\\w{1000}\\w{1000}"]]),
            Err(FilterError::Pattern(_))
        ));
    }
}
