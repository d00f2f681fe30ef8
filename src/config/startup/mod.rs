//! The startup-config parser: `set VAR VALUE` lines into a typed `Config`,
//! and the other configuration-mode commands (plugins, BGP, access lists,
//! setforward) into a `Statement` list. Format and defaults follow l2tpns
//! 2.4.1 (`man 5 startup-config`; ffdn `l2tpns.c` `config_values[]`,
//! `initdata()`, `update_config()`; `cli.c` `cmd_set`).
//!
//! Each variable is declared once, in table.rs (declare.rs makes the
//! fields, defaults, parsing and printing of it); values.rs reads and
//! prints the kinds of value; statements.rs the other commands. Here: the
//! file as a whole, `set`, `show running-config` and the checks across
//! variables.
//!
//! Unlike l2tpns (which prints an error and carries on), an unknown variable
//! or a bad value stops the load with `FILE:LINE: reason`.

use std::path::{Path, PathBuf};

use super::lexer::split_line;
use super::vars::{self, VarType};
use super::ConfigError;

#[macro_use]
mod declare;
mod statements;
mod table;
mod values;

use statements::{Flow, Mode};
pub use statements::{Located, NeighbourCmd, Statement};
pub use table::{Config, VARS};
pub use values::{AuthType, DataPath, LogFormat, MessageAuthenticatorPolicy};

/// Something accepted but worth telling the operator (value clamped,
/// removed variable ignored...). The daemon logs these at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Where l2tpns keeps its files; the defaults of our file variables follow it.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/l2tpns";

impl Default for Config {
    fn default() -> Self {
        Config::with_dir(Path::new(DEFAULT_CONFIG_DIR))
    }
}

impl Config {
    /// Reads and parses a startup-config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = super::read_file(path)?;
        Config::parse(&text, path)
    }

    /// Parses startup-config text; `path` names the file in messages and
    /// gives the directory for relative file names.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut cfg = Config::with_dir(dir);
        cfg.source = path.to_path_buf();
        let mut mode = Mode::Config;
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let err = |reason: String| ConfigError::new(path, line, reason);
            let split = split_line(raw).map_err(err)?;
            if split.hash_in_quotes {
                cfg.warn(
                    path,
                    line,
                    "'#' inside quotes is kept (l2tpns would have cut the line there)",
                );
            }
            if split.words.is_empty() {
                continue;
            }
            cfg.line = line;
            match statements::command(&split.words, &mut mode).map_err(err)? {
                Flow::Set { name, value } => {
                    if let Some(msg) = cfg.set_from_file(name, value).map_err(err)? {
                        cfg.warn(path, line, msg);
                    }
                }
                Flow::Continue => {}
                Flow::Quit => break,
                Flow::Statement(statement) => cfg.statements.push(Located { line, statement }),
            }
        }
        cfg.finish(path).map_err(|e| ConfigError::new(path, 0, e))?;
        Ok(cfg)
    }

    fn warn(&mut self, path: &Path, line: usize, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: path.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    /// A `set` line; returns a warning for the log.
    fn set_from_file(&mut self, name: &str, value: &str) -> Result<Option<String>, String> {
        if let Some((_, why)) = vars::REMOVED.iter().find(|(n, _)| *n == name) {
            return Ok(Some(format!("variable \"{name}\" {why}")));
        }
        self.set_inner(name, value)
    }

    /// Sets one variable from its text value (as `set NAME VALUE` does); the
    /// CLI uses this too. Errors name the problem; the value is unchanged then.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.set_inner(name, value).map(|_| ())
    }

    fn set_inner(&mut self, name: &str, value: &str) -> Result<Option<String>, String> {
        let Some(info) = vars::find(name) else {
            if let Some((_, real)) = vars::RENAMED.iter().find(|(n, _)| *n == name) {
                return Err(format!(
                    "unknown variable \"{name}\" (did you mean \"{real}\"?)"
                ));
            }
            return Err(format!("unknown variable \"{name}\""));
        };
        let warning = self
            .assign(info.name, value)
            .map_err(|e| format!("{name}: {e}"))?;
        self.explicitly_set.insert(info.name, self.line);
        Ok(warning)
    }

    /// The `set` lines of `show running-config` / `write memory`, strings
    /// quoted like l2tpns prints them.
    pub fn running_config(&self) -> Vec<String> {
        VARS.iter()
            .filter_map(|v| {
                let value = self.get(v.name)?;
                Some(if v.ty == VarType::String {
                    // Single quotes when the value holds a double quote.
                    let q = if value.contains('"') { '\'' } else { '"' };
                    format!("set {} {q}{}{q}", v.name, value)
                } else {
                    format!("set {} {}", v.name, value)
                })
            })
            .collect()
    }

    /// Variables the file (or `set`) gave explicitly.
    pub fn explicitly_set(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.explicitly_set.keys().copied()
    }

    /// Variables set explicitly whose feature the daemon does not have yet.
    pub fn not_implemented_set(&self) -> Vec<&'static str> {
        VARS.iter()
            .filter(|v| !v.implemented && self.explicitly_set.contains_key(v.name))
            .map(|v| v.name)
            .collect()
    }

    /// Everything in the file the daemon accepts but does not act on yet:
    /// `(line, what)`, variables and statements in file order. Logged once
    /// at start-up so an operator knows what is silently without effect.
    pub fn not_implemented(&self) -> Vec<(usize, String)> {
        let mut v: Vec<(usize, String)> = self
            .not_implemented_set()
            .into_iter()
            .map(|n| {
                (
                    self.explicitly_set.get(n).copied().unwrap_or(0),
                    format!("set {n}"),
                )
            })
            .collect();
        v.extend(
            self.statements
                .iter()
                .filter(|l| !l.statement.is_implemented())
                .map(|l| (l.line, l.statement.keyword().to_string())),
        );
        v.sort();
        v
    }

    /// Where logs go, from `log_file`.
    pub fn log_target(&self) -> LogTarget {
        if self.log_file.is_empty() {
            LogTarget::Stderr
        } else if let Some(fac) = self.log_file.strip_prefix("syslog:") {
            let fac = if values::SYSLOG_FACILITIES.contains(&fac) {
                fac
            } else {
                "daemon"
            };
            LogTarget::Syslog(fac.to_string())
        } else {
            LogTarget::File(values::resolve(&self.config_dir, &self.log_file))
        }
    }

    /// The RADIUS accounting port of a server (authentication port + 1).
    pub fn radius_acct_port(auth_port: u16) -> u16 {
        auth_port.wrapping_add(1)
    }

    /// Cross-variable rules applied after the whole file (l2tpns `update_config`).
    fn finish(&mut self, path: &Path) -> Result<(), String> {
        let (min, max) = (self.radius_bind_min, self.radius_bind_max);
        let set = min != 0 || max != 0;
        if set && (min == 0 || max == 0 || max < min || max - min < 63) {
            return Err(format!(
                "radius_bind_min {min} / radius_bind_max {max}: the range must be at least 64 ports wide (or leave both unset)"
            ));
        }
        let floor = self
            .cluster_hb_interval
            .saturating_mul(4)
            .saturating_add(11);
        if self.cluster_hb_timeout < floor {
            self.warnings.push(ConfigWarning {
                file: path.to_path_buf(),
                line: 0,
                message: format!(
                    "cluster_hb_timeout {} raised to {floor} (4 x cluster_hb_interval + 11), as l2tpns does",
                    self.cluster_hb_timeout
                ),
            });
            self.cluster_hb_timeout = floor;
        }
        Ok(())
    }
}

/// Where the daemon's log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    File(PathBuf),
    Syslog(String),
}

#[cfg(test)]
mod tests;
