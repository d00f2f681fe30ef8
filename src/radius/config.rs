//! Client configuration and per-server counters for the RADIUS client
//! (RFC 2865 §2.5 retransmission, RFC 5080 §2.2.1 failover guidance).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// One RADIUS server: authentication and accounting addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAddrs {
    pub auth: SocketAddr,
    pub acct: SocketAddr,
}

impl ServerAddrs {
    /// Accounting on the authentication port + 1, like l2tpns.
    pub fn new(auth: SocketAddr) -> ServerAddrs {
        let mut acct = auth;
        acct.set_port(auth.port().wrapping_add(1));
        ServerAddrs { auth, acct }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// [primary, secondary, ...]; tried in order.
    pub servers: Vec<ServerAddrs>,
    pub secret: Vec<u8>,
    /// Number of UDP sockets the I/O side opened; each gives 256 identifiers.
    pub sockets: usize,
    /// First retransmission after this, doubling per retry, capped at `MAX_RETRANSMIT`.
    pub timeout: Duration,
    /// Transmissions per server before failing over.
    pub retries: u32,
    /// A server that let a whole request time out is skipped this long.
    pub dead_time: Duration,
    /// Which Access-* replies must carry a Message-Authenticator.
    pub require_message_authenticator: MessageAuthenticatorPolicy,
    pub nas_ip: Ipv4Addr,
    pub nas_identifier: String,
}

/// Upper bound of the retransmission interval (RFC 5080 §2.2.1 MRT spirit).
pub const MAX_RETRANSMIT: Duration = Duration::from_secs(10);

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            servers: Vec::new(),
            secret: Vec::new(),
            sockets: 16,
            timeout: Duration::from_secs(3),
            retries: 3,
            dead_time: Duration::from_secs(30),
            require_message_authenticator: MessageAuthenticatorPolicy::Auto,
            nas_ip: Ipv4Addr::UNSPECIFIED,
            nas_identifier: String::new(),
        }
    }
}

/// When an Access-Accept/Reject/Challenge must be signed with a
/// Message-Authenticator (Blast-RADIUS, CVE-2024-3596). One that is present
/// is always checked, whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAuthenticatorPolicy {
    /// As FreeRADIUS's own `auto`: a server's unsigned replies are accepted
    /// until it has once sent a signed one, and dropped from then on.
    Auto,
    Yes,
    No,
}

impl std::fmt::Display for MessageAuthenticatorPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MessageAuthenticatorPolicy::Auto => "auto",
            MessageAuthenticatorPolicy::Yes => "yes",
            MessageAuthenticatorPolicy::No => "no",
        })
    }
}

/// Counters for one configured server (index as in `ClientConfig::servers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests first sent to this server (including fail-overs to it).
    pub requests: u64,
    pub accepts: u64,
    pub rejects: u64,
    pub acct_responses: u64,
    /// Requests that got no answer from this server after all tries.
    pub timeouts: u64,
    pub retries: u64,
    pub bad_authenticator: u64,
    /// Replies dropped for a missing or wrong Message-Authenticator.
    pub bad_message_authenticator: u64,
    pub unknown_id: u64,
    pub wrong_source: u64,
    pub malformed: u64,
}
