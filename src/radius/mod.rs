//! RADIUS, sans-IO: the client for authentication (RFC 2865) and
//! accounting (RFC 2866, RFC 2869), with Message-Authenticator always sent
//! first and checked on replies (RFC 3579 §3.2), and the server side of
//! Dynamic Authorization (RFC 5176 Disconnect/CoA). radius-rs is the codec
//! and dictionary; the state machines, identifiers, retries, fail-over and
//! signing are here. Docs/RADIUS.md lists every attribute sent and read.

pub mod authenticator;
pub mod builder;
pub mod client;
pub mod config;
pub mod dae;
pub mod ids;
pub mod latency;
pub mod reply;
pub mod request;
pub mod terminate_cause;

#[cfg(test)]
mod tests;

pub use client::{Outcome, RadiusClient, RequestId, Transmit};
pub use config::{ClientConfig, MessageAuthenticatorPolicy, ServerAddrs, ServerStats};
pub use dae::{build_dae_response, parse_dae_request, DaeError, DaeKind, DaeRequest};
pub use reply::{AuthReply, FramedIp};
pub use request::{AccessRequest, AccountingRequest, AcctStatus, ExtraAttribute, RequestKind};
pub use terminate_cause::terminate_cause_name;
