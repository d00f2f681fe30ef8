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
pub mod metrics_address;
pub mod secrets;
pub mod startup;
pub mod users;
pub mod vars;

pub use acl::{
    AclAddr, AclKind, AclRule, Action, PortMatch, Protocol, TcpFlagOp, TcpFlags, TcpMatch,
};

pub use ip_pool::{load_ip_pool, parse_ip_pool, IpPoolSpec};
pub use secrets::{load_secrets, parse_secrets, AddressRule, SecretEntry, Secrets};
pub use startup::{AuthType, Config, ConfigWarning, Located, LogTarget, NeighbourCmd, Statement};
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn repo(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    }

    #[test]
    fn error_display_is_file_line_reason() {
        let e = ConfigError::new(Path::new("/x/startup-config"), 7, "bad");
        assert_eq!(e.to_string(), "/x/startup-config:7: bad");
    }

    #[test]
    fn missing_file_is_an_error_at_line_0() {
        let e = Config::load(&repo("etc/does-not-exist")).unwrap_err();
        assert_eq!(e.line, 0);
    }

    #[test]
    fn our_samples_load() {
        let c = Config::load(&repo("etc/startup-config")).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.bind_address, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(c.tundevicename, "l2tpns0");
        assert_eq!(c.ppp_secrets_file, repo("etc/ppp-secrets"));
        assert_eq!(c.ip_pool_file, repo("etc/ip_pool"));
        assert!(
            c.not_implemented_set().is_empty(),
            "{:?}",
            c.not_implemented_set()
        );
        let pool = load_ip_pool(&c.ip_pool_file, c.bind_address).unwrap();
        assert_eq!(pool.addresses.len(), 1016);
        let secrets = load_secrets(&c.ppp_secrets_file).unwrap();
        assert!(secrets.warnings.is_empty());
        let fixed = secrets.lookup("fixed", "lns").unwrap();
        assert_eq!(
            fixed.addresses,
            AddressRule::Fixed(Ipv4Addr::new(10, 254, 3, 200))
        );
        assert!(pool.addresses.contains(&Ipv4Addr::new(10, 254, 3, 200)));
        let users = load_users(&c.users_file).unwrap();
        assert!(users.users.is_empty() && users.warnings.is_empty());
    }

    /// Real l2tpns 2.4.1 files (the peer harness's and Debian's shipped
    /// samples) load unchanged.
    #[test]
    fn l2tpns_2_4_1_files_load_unchanged() {
        for dir in [
            "tests/data/l2tpns-2.4.1/peer",
            "tests/data/l2tpns-2.4.1/debian",
        ] {
            let c = Config::load(&repo(&format!("{dir}/startup-config")))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(c.warnings.is_empty(), "{dir}: {:?}", c.warnings);
            let pool = load_ip_pool(&c.ip_pool_file, c.bind_address).unwrap();
            assert!(!pool.addresses.is_empty(), "{dir}");
            load_users(&c.users_file).unwrap();
        }
        let peer = Config::load(&repo("tests/data/l2tpns-2.4.1/peer/startup-config")).unwrap();
        assert_eq!(peer.radius_authtypes, vec![AuthType::Pap, AuthType::Chap]);
        assert_eq!(peer.tundevicename, "patun0");
        assert!(peer.radius_accounting);
        assert!(!peer.not_implemented_set().contains(&"radius_accounting"));
        assert!(peer.not_implemented_set().contains(&"cluster_interface"));
        let deb = Config::load(&repo("tests/data/l2tpns-2.4.1/debian/startup-config")).unwrap();
        assert_eq!(deb.log_file, "/var/log/l2tpns");
        assert_eq!(deb.primary_radius, Some(Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(deb.cli_bind_address, Some(Ipv4Addr::LOCALHOST));
        let pool = load_ip_pool(&deb.ip_pool_file, deb.bind_address).unwrap();
        assert_eq!(pool.addresses.len(), 2 * 254);
    }
}
