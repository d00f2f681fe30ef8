//! Reads a command line against the command table (commands.rs): words
//! split on blanks with `"..."` quoting and `|` for output filters, command
//! words matched case-insensitively by unambiguous prefix (`sh ses` is
//! `show session`), argument counts checked, filters compiled. Also the
//! context help for `?` and the candidates for TAB, computed from the same
//! walk so that what `?` offers is what Enter accepts.
//!
//! Error texts are libcli 1.9/1.10's (`Invalid command "x"`,
//! `Incomplete command`); libcli has no ambiguity message (a too-short word
//! is simply invalid there), ours names the word.

use super::commands::{parent_mode, ArgValues, CommandSpec, Mode, Privilege, COMMANDS, GROUP_HELP};
use super::filter::{self, FilterError, OutputFilter, FILTERS};
use crate::config::vars::VARS;

/// A line that can run.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub spec: &'static CommandSpec,
    pub args: Vec<String>,
    pub filter: Option<OutputFilter>,
    /// The mode it runs in: a config command typed in a submode runs in
    /// config mode, and the session leaves the submode.
    pub mode: Mode,
}

/// Why a line cannot run; displays as the session prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("")]
    Empty,
    #[error("Invalid command \"{0}\"")]
    Invalid(String),
    #[error("Ambiguous command \"{0}\"")]
    Ambiguous(String),
    #[error("Incomplete command")]
    Incomplete,
    #[error("Invalid argument \"{0}\"")]
    TooManyArgs(String),
    #[error("{0}")]
    Filter(#[from] FilterError),
}

/// One word of a line, with where it sits (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
    /// An unquoted `|`.
    pub pipe: bool,
}

/// Splits a line into words. `"a b"` is one word; an unclosed quote runs to
/// the end of the line; `|` outside quotes is a word of its own.
pub fn tokenize(line: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'|' {
            out.push(Token {
                text: "|".into(),
                start: i,
                end: i + 1,
                pipe: true,
            });
            i += 1;
        } else {
            let start = i;
            let mut text = String::new();
            let mut quoted = false;
            while i < bytes.len() {
                let c = bytes[i];
                if c == b'"' {
                    quoted = !quoted;
                } else if !quoted && (c.is_ascii_whitespace() || c == b'|') {
                    break;
                } else {
                    text.push(char::from(c));
                }
                i += 1;
            }
            out.push(Token {
                text,
                start,
                end: i,
                pipe: false,
            });
        }
    }
    out
}

/// Where a walk over the command words ended.
enum Walk {
    /// Still in command words: these commands match so far, `depth` words in.
    Words {
        cands: Vec<&'static CommandSpec>,
        depth: usize,
    },
    /// A whole command matched; `argn` arguments follow it.
    Args {
        spec: &'static CommandSpec,
        argn: usize,
    },
}

fn visible(mode: Mode, privilege: Privilege) -> Vec<&'static CommandSpec> {
    COMMANDS
        .iter()
        .filter(|c| c.visible(mode, privilege))
        .collect()
}

/// Matches `words` against the commands visible in `mode`.
fn walk(words: &[&str], mode: Mode, privilege: Privilege) -> Result<Walk, ParseError> {
    let mut cands = visible(mode, privilege);
    for (i, t) in words.iter().enumerate() {
        let done = cands.iter().copied().find(|c| c.words.len() == i);
        let mut next: Vec<&'static str> = cands
            .iter()
            .filter_map(|c| c.words.get(i).copied())
            .collect();
        next.dedup();
        next.sort_unstable();
        next.dedup();
        let chosen = match next.iter().find(|w| w.eq_ignore_ascii_case(t)) {
            Some(w) => Some(*w),
            None => {
                let m: Vec<_> = next.iter().filter(|w| starts_with_ci(w, t)).collect();
                match m.len() {
                    0 => None,
                    1 => Some(*m[0]),
                    _ => return Err(ParseError::Ambiguous(words[..=i].join(" "))),
                }
            }
        };
        match (chosen, done) {
            (Some(w), _) => cands.retain(|c| c.words.get(i) == Some(&w)),
            (None, Some(spec)) => {
                return Ok(Walk::Args {
                    spec,
                    argn: words.len() - i,
                })
            }
            (None, None) => return Err(ParseError::Invalid(words[..=i].join(" "))),
        }
    }
    let depth = words.len();
    match cands.iter().copied().find(|c| c.words.len() == depth) {
        Some(spec) if cands.len() == 1 => Ok(Walk::Args { spec, argn: 0 }),
        _ => Ok(Walk::Words { cands, depth }),
    }
}

fn starts_with_ci(word: &str, prefix: &str) -> bool {
    word.len() >= prefix.len()
        && word.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Splits tokens into the command's words and the filter stages.
fn split_pipes(tokens: &[Token]) -> (Vec<&str>, Vec<Vec<String>>) {
    let mut parts = tokens.split(|t| t.pipe);
    let cmd = parts
        .next()
        .unwrap_or(&[])
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    let stages = parts
        .map(|p| p.iter().map(|t| t.text.clone()).collect())
        .collect();
    (cmd, stages)
}

/// Parses a finished line in `mode`.
pub fn parse(line: &str, mode: Mode, privilege: Privilege) -> Result<Parsed, ParseError> {
    let tokens = tokenize(line);
    let (words, stages) = split_pipes(&tokens);
    if words.is_empty() {
        return if stages.is_empty() {
            Err(ParseError::Empty)
        } else {
            Err(ParseError::Invalid("|".into()))
        };
    }
    let (walked, mode) = match walk(&words, mode, privilege) {
        Err(e @ ParseError::Invalid(_)) => match parent_mode(mode) {
            Some(parent) => (walk(&words, parent, privilege).map_err(|_| e)?, parent),
            None => return Err(e),
        },
        other => (other?, mode),
    };
    let (spec, argn) = match walked {
        Walk::Args { spec, argn } => (spec, argn),
        Walk::Words { cands, depth } => match cands.iter().find(|c| c.words.len() == depth) {
            Some(spec) => (*spec, 0),
            None => return Err(ParseError::Incomplete),
        },
    };
    let args: Vec<String> = words[words.len() - argn..]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if args.len() < spec.args.min {
        return Err(ParseError::Incomplete);
    }
    if let Some(extra) = args.get(spec.args.max) {
        return Err(ParseError::TooManyArgs(extra.clone()));
    }
    let filter = if stages.is_empty() {
        None
    } else {
        Some(OutputFilter::parse(&stages)?)
    };
    Ok(Parsed {
        spec,
        args,
        filter,
        mode,
    })
}

/// What TAB and `?` work on: the complete words before the cursor and the
/// partial word under it.
struct Context<'a> {
    words: Vec<String>,
    /// Filter stage being typed: `None` before any `|`, else the words of
    /// the current stage so far.
    stage: Option<Vec<String>>,
    partial: &'a str,
}

impl Context<'_> {
    fn words(&self) -> Vec<&str> {
        self.words.iter().map(String::as_str).collect()
    }
}

fn context(before: &str) -> Context<'_> {
    let tokens = tokenize(before);
    let ends_open =
        before.ends_with(|c: char| c.is_ascii_whitespace() || c == '|') || before.is_empty();
    let (complete, partial) = match tokens.split_last() {
        Some((last, rest)) if !ends_open && !last.pipe => (rest, &before[last.start..]),
        _ => (&tokens[..], ""),
    };
    let mut parts = complete.split(|t| t.pipe);
    let words = parts
        .next()
        .unwrap_or(&[])
        .iter()
        .map(|t| t.text.clone())
        .collect();
    let stage = parts
        .next_back()
        .map(|p| p.iter().map(|t| t.text.clone()).collect());
    Context {
        words,
        stage,
        partial,
    }
}

fn values(v: ArgValues) -> Vec<&'static str> {
    match v {
        ArgValues::Free => Vec::new(),
        ArgValues::Vars => VARS.iter().map(|v| v.name).collect(),
        ArgValues::Words(w) => w.to_vec(),
    }
}

fn arg_values(spec: &CommandSpec, argn: usize) -> Vec<&'static str> {
    if argn >= spec.args.max {
        return Vec::new();
    }
    values(if argn == 0 {
        spec.args.first
    } else {
        spec.args.rest
    })
}

fn group_help(word: &str) -> &'static str {
    GROUP_HELP
        .iter()
        .find(|(w, _)| *w == word)
        .map_or("", |(_, h)| h)
}

fn help_line(word: &str, help: &str) -> String {
    if help.is_empty() {
        format!("  {word}")
    } else {
        format!("  {word:<20} {help}")
    }
}

/// The candidates for the next command word, with help.
fn next_words(
    cands: &[&'static CommandSpec],
    depth: usize,
    partial: &str,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for c in cands {
        let Some(w) = c.words.get(depth) else {
            continue;
        };
        if !starts_with_ci(w, partial) || out.iter().any(|(o, _)| o == w) {
            continue;
        }
        let help = if c.words.len() == depth + 1 {
            c.help
        } else {
            group_help(w)
        };
        out.push((w, help));
    }
    out.sort_unstable_by_key(|(w, _)| *w);
    out
}

/// Context help for the text before the cursor (`?`), as lines.
pub fn help(before: &str, mode: Mode, privilege: Privilege) -> Vec<String> {
    let ctx = context(before);
    if let Some(stage) = &ctx.stage {
        return if stage.is_empty() {
            FILTERS
                .iter()
                .filter(|(f, _)| starts_with_ci(f, ctx.partial))
                .map(|(f, h)| help_line(f, h))
                .collect()
        } else if filter::lookup(&stage[0]) == Ok("count") {
            vec!["  <cr>".into()]
        } else {
            vec!["  WORD".into(), "  <cr>".into()]
        };
    }
    let words = ctx.words();
    let walked = match walk(&words, mode, privilege) {
        Err(ParseError::Invalid(_)) if parent_mode(mode).is_some() => {
            walk(&words, Mode::Config, privilege)
        }
        other => other,
    };
    match walked {
        Err(e) => vec![format!("% {e}")],
        Ok(Walk::Words { cands, depth }) => {
            let mut lines: Vec<String> = next_words(&cands, depth, ctx.partial)
                .into_iter()
                .map(|(w, h)| help_line(w, h))
                .collect();
            if ctx.partial.is_empty() {
                if let Some(spec) = cands.iter().find(|c| c.words.len() == depth) {
                    lines.extend(arg_help(spec, 0, ""));
                }
            }
            lines
        }
        Ok(Walk::Args { spec, argn }) => arg_help(spec, argn, ctx.partial),
    }
}

fn arg_help(spec: &CommandSpec, argn: usize, partial: &str) -> Vec<String> {
    let kind = if argn == 0 {
        spec.args.first
    } else {
        spec.args.rest
    };
    let mut lines: Vec<String> = if argn >= spec.args.max {
        Vec::new()
    } else if kind == ArgValues::Vars {
        // Too many to describe; the names are the help.
        arg_values(spec, argn)
            .into_iter()
            .filter(|v| starts_with_ci(v, partial))
            .map(|v| format!("  {v}"))
            .collect()
    } else {
        spec.args
            .help
            .iter()
            .map(|(w, h)| help_line(w, h))
            .collect()
    };
    if partial.is_empty() && argn >= spec.args.min {
        lines.push("  <cr>".into());
    }
    lines
}

/// TAB: the partial word's length and the words that could replace it.
pub fn complete(before: &str, mode: Mode, privilege: Privilege) -> (usize, Vec<String>) {
    let ctx = context(before);
    let partial = ctx.partial;
    let found: Vec<&str> = if let Some(stage) = &ctx.stage {
        if stage.is_empty() {
            FILTERS.iter().map(|(f, _)| *f).collect()
        } else {
            Vec::new()
        }
    } else {
        let words = ctx.words();
        let walked = match walk(&words, mode, privilege) {
            Err(ParseError::Invalid(_)) if parent_mode(mode).is_some() => {
                walk(&words, Mode::Config, privilege)
            }
            other => other,
        };
        match walked {
            Err(_) => Vec::new(),
            Ok(Walk::Words { cands, depth }) => next_words(&cands, depth, partial)
                .into_iter()
                .map(|(w, _)| w)
                .collect(),
            Ok(Walk::Args { spec, argn }) => arg_values(spec, argn),
        }
    };
    let cands = found
        .into_iter()
        .filter(|w| starts_with_ci(w, partial))
        .map(String::from)
        .collect();
    (partial.len(), cands)
}

#[cfg(test)]
mod tests;
