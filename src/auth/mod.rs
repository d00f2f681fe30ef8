//! Authentication back ends behind one interface, so the control plane does
//! not care whether a login is checked against the secrets file (embedded
//! default) or, later, RADIUS.

pub mod secrets_file;

use crate::credentials::Credentials;
use std::net::Ipv4Addr;

/// What the control plane asks.
pub struct AuthRequest<'a> {
    pub username: &'a str,
    pub credentials: &'a Credentials,
}

/// The answer. `address`: an address the back end assigns (secrets file
/// address column, RADIUS Framed-IP-Address); None = take one from ip_pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    Accept {
        address: Option<Ipv4Addr>,
        message: String,
        attrs: SessionAttrs,
    },
    Reject {
        message: String,
    },
}

/// What an authorisation says about the session beyond its address
/// (RADIUS Access-Accept attributes; the secrets file sets none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionAttrs {
    pub session_timeout: Option<u32>,
    pub idle_timeout: Option<u32>,
    /// Acct-Interim-Interval: overrides radius_interim for this session.
    pub interim_interval: Option<u32>,
    /// Class attributes, echoed in accounting.
    pub class: Vec<Vec<u8>>,
    /// Framed-Route: networks routed to the session.
    pub routes: Vec<ipnetwork::Ipv4Network>,
    /// DNS servers for this session (override primary_dns/secondary_dns).
    pub dns: [Option<Ipv4Addr>; 2],
    /// Cisco-AVPair key=value pairs (for the plugin hooks).
    pub cisco_avpairs: Vec<(String, String)>,
    /// Filter-Id values (a rate with `throttle_filter_id`).
    pub filter_id: Vec<String>,
}

pub trait Authenticator: Send {
    fn authenticate(&mut self, req: &AuthRequest<'_>) -> AuthDecision;
    fn name(&self) -> &'static str;
}
