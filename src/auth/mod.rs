//! Authentication back ends behind one interface, so the control plane does
//! not care whether a login is checked against the secrets file (embedded
//! default) or, later, RADIUS.

pub mod secrets_file;

use crate::ppp::server::Credentials;
use std::net::Ipv4Addr;

/// What the control plane asks.
pub struct AuthRequest<'a> {
    pub username: &'a str,
    pub credentials: &'a Credentials,
}

/// The answer. `address`: an address the back end assigns (secrets file
/// address column, later Framed-IP-Address); None = take one from ip_pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    Accept {
        address: Option<Ipv4Addr>,
        message: String,
    },
    Reject {
        message: String,
    },
}

pub trait Authenticator: Send {
    fn authenticate(&mut self, req: &AuthRequest<'_>) -> AuthDecision;
    /// Re-read backing files (SIGHUP). Errors keep the old data.
    fn reload(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn name(&self) -> &'static str;
}
