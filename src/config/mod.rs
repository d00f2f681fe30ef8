//! l2tpns configuration files: startup-config, ip_pool, PPP secrets, CLI users.
//!
//! Every parser here reads the file formats of Debian's l2tpns 2.4.1 (and
//! pppd's secrets format) so that an operator's existing `/etc/l2tpns` files
//! load unchanged. Docs/CONFIGURATION.md describes every variable.
//! Parsers take text and a path (for messages) and never touch the disk,
//! except the `load` helpers which only read one file.

use std::path::{Path, PathBuf};

pub mod acl;
pub mod ip_pool;
mod lexer;
pub mod secrets;
pub mod startup;
pub mod users;
pub mod vars;

pub use acl::{
    AclAddr, AclKind, AclRule, Action, PortMatch, Protocol, TcpFlagOp, TcpFlags, TcpMatch,
};

pub use ip_pool::{load_ip_pool, parse_ip_pool, IpPoolSpec};
pub use secrets::{load_secrets, parse_secrets, AddressRule, SecretEntry, Secrets};
pub use startup::{
    AuthType, Config, ConfigWarning, Located, LogTarget, NeighbourCmd, Statement, IMPLEMENTED,
};
pub use users::{load_users, md5_crypt, parse_users, CliUser, CliUsers, PasswordHash};

/// A configuration file that cannot be used: where, and why.
/// Displays as `FILE:LINE: reason` so editors and operators can jump to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {}", file.display(), line, reason)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line number; 0 when the problem is the whole file (cannot read it).
    pub line: usize,
    pub reason: String,
}

impl ConfigError {
    pub fn new(file: &Path, line: usize, reason: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// Reads a whole file for one of the parsers; a read error becomes a
/// `ConfigError` at line 0.
pub(crate) fn read_file(path: &Path) -> Result<String, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::new(path, 0, format!("cannot read: {e}")))?;
    // l2tpns reads bytes; invalid UTF-8 in a comment must not stop us.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
