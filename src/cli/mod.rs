//! The telnet CLI of l2tpns (libcli-based, Cisco-like), as a sans-IO engine.
//!
//! The daemon accepts TCP connections on `cli_bind_address:23` and gives
//! each one a `CliSession`: bytes read go to `handle_input`, bytes from
//! `poll_transmit` go to the socket, and `poll_request` says what to run
//! (`CliRequest::Execute { command, args }`), answered with
//! `command_output(lines)` and `command_done(outcome)`. Docs/CLI.md lists
//! the commands, the login rules and this seam.
//!
//! - `telnet`: RFC 854 IAC parsing and the server's option negotiation.
//! - `editor`: line editing, echo, history.
//! - `commands`: every command as data (`COMMANDS`).
//! - `parser`: abbreviations, arguments, `?` help and TAB candidates.
//! - `filter`: `| include` / `exclude` / `begin` / `count`.
//! - `login`: who gets in (local, users file, enable password).
//! - `session`: ties them together for one connection.

pub mod commands;
pub mod editor;
pub mod filter;
pub mod login;
pub mod parser;
pub mod session;
pub mod telnet;

pub use commands::{CommandId, CommandSpec, Mode, Privilege, COMMANDS};
pub use filter::OutputFilter;
pub use login::LoginPolicy;
pub use session::{CliRequest, CliSession, CloseReason, Outcome};

#[cfg(test)]
mod tests;
