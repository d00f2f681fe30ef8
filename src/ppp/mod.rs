//! PPP in userspace, sans-IO: RFC 1661 option automaton, LCP, PAP, CHAP-MD5,
//! IPCP (+RFC 1877 DNS); server side (LNS) and client side (loadgen).

pub mod chap;
pub mod client;
pub mod fsm;
pub mod ipcp;
pub mod lcp;
pub mod link;
pub mod pap;
pub mod server;
pub mod wire;

pub use client::{ClientConfig, ClientEvent, ClientLink};
pub use fsm::State;
pub use ipcp::NetworkGrant;
pub use lcp::AuthProto;
pub use link::{CloseReason, LinkStats, Phase};
pub use server::{ServerConfig, ServerEvent, ServerLink};

#[cfg(test)]
mod link_tests;
#[cfg(test)]
mod lossy_tests;
