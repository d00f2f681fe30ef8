//! l2tpns: an L2TP Network Server (RFC 2661) with userspace PPP, compatible
//! with Debian's l2tpns 2.4.1 configuration files.
//!
//! The protocol cores (`l2tp`, `ppp`, `dataplane` packet functions) are
//! sans-IO: they take bytes, events and an `Instant` and return what to send.
//! `daemon` owns the sockets, the TUN device, threads and timers.
//! Docs/ARCHITECTURE.md shows how the pieces fit and the path of a packet.

pub mod auth;
pub mod c_atoi;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod daemon;
pub mod dataplane;
pub mod fx_hash;
pub mod l2tp;
pub mod loadgen;
pub mod nsctl;
pub mod plugin;
#[path = "../plugins/mod.rs"]
pub mod plugins;
pub mod pool;
pub mod ppp;
pub mod radius;
pub mod timers;
pub mod token_bucket;
pub mod tun;
