//! nsctl, l2tpns's UDP control protocol (Debian l2tpns 2.4.1 `control.h`,
//! `control.c`, `nsctl.c`, `processcontrol()`), wire-compatible with
//! Debian's `/usr/sbin/nsctl`. Docs/NSCTL.md describes the protocol.
//!
//! * [`wire`]: the datagram codec (checked [`Packet`] view, [`Request`] and
//!   [`Response`] reprs). Sans-IO: bytes in, typed values or errors out.
//! * [`server`]: the daemon's side as a pure function.
//! * [`chain`]: l2tpns's plugin-chain semantics for commands.
//! * [`client`]: the nsctl command line and output, used by `src/bin/nsctl.rs`.
//!
//! # Wiring it into the daemon
//!
//! The daemon owns one UDP socket (bound to 127.0.0.1:1702 by default; l2tpns
//! binds INADDR_ANY) and one [`ControlServer`]. For every datagram:
//!
//! ```ignore
//! let mut out = [0u8; nsctl::wire::MAX_PACKET];
//! let answer = server.handle(&datagram, &mut plugins, &mut out)?; // never fails with 4096 bytes
//! socket.send_to(&out[..answer.len], peer)?;                      // always reply, as l2tpns does
//! ```
//!
//! `plugins` implements [`ControlHandler`]: `help()` returns the loaded
//! plugins' help lines, `load_plugin` / `unload_plugin` change the list, and
//! `control(args)` runs the command, usually as
//! `chain::run_control(plugins.iter_mut(), role, args)` over
//! [`chain::ControlPlugin`]s in load order. `ControlServer::counters()` feeds
//! the statistics; `Answer::request` says what was asked, for the debug log.

pub mod chain;
pub mod client;
pub mod server;
pub mod wire;

#[cfg(test)]
mod tests;

pub use chain::{run_control, ClusterRole, ControlPlugin, PluginVerdict};
pub use server::{
    Answer, ControlHandler, ControlReply, ControlServer, Counters, LoadOutcome, UnloadOutcome,
};
pub use wire::{
    EmitError, MessageType, Packet, ParseError, Request, RequestKind, Response, ResponseKind,
};
