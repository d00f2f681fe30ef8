//! l2tpns's plugin chain for nsctl commands (2.4.1 `run_plugins(PLUGIN_CONTROL)`
//! and `processcontrol()`): each loaded plugin sees the command in load order;
//! the first that does not pass decides the answer.
//!
//! A daemon's [`super::ControlHandler::control`] can be one call to
//! [`run_control`] over its plugins.

use std::net::Ipv4Addr;

use super::server::ControlReply;
use super::wire::ResponseKind;

/// What one plugin says about a command (the `PLUGIN_RET_*` values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginVerdict {
    /// Not mine (`PLUGIN_RET_OK`): ask the next plugin.
    Pass,
    /// Handled (`PLUGIN_RET_STOP`), with the response and an optional line.
    Stop {
        /// OK or ERR.
        kind: ResponseKind,
        /// One line of output, if any.
        additional: Option<String>,
    },
    /// Failed (`PLUGIN_RET_ERROR`), with its text if any.
    Error(Option<String>),
    /// Mine, but only the cluster master may do it (`PLUGIN_RET_NOTMASTER`).
    NotMaster,
}

/// Where the command runs, as plugins see it (`param_control.iam_master`)
/// and as the "must be run on master" answer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterRole {
    /// This node is the master (always true without clustering).
    pub iam_master: bool,
    /// The elected master's address, if known.
    pub master: Option<Ipv4Addr>,
}

impl ClusterRole {
    /// A node with no cluster: it is its own master.
    pub const STANDALONE: ClusterRole = ClusterRole {
        iam_master: true,
        master: None,
    };
}

/// One plugin's nsctl side (`plugin_control` and `plugin_control_help`).
pub trait ControlPlugin {
    /// Lines for `help`, e.g. `"  drop USER|SID [REASON]   Shutdown user session"`.
    fn help(&self) -> Vec<String>;
    /// Looks at a command; `args[0]` is the command word, and may be absent
    /// in a crafted request.
    fn control(&mut self, role: ClusterRole, args: &[String]) -> PluginVerdict;
}

/// Runs a command through `plugins` in load order, with l2tpns's semantics:
/// the first verdict other than [`PluginVerdict::Pass`] is the answer; if all
/// pass, the command is unhandled.
pub fn run_control<'a>(
    plugins: impl IntoIterator<Item = &'a mut (dyn ControlPlugin + 'a)>,
    role: ClusterRole,
    args: &[String],
) -> ControlReply {
    for p in plugins {
        if let Some(reply) = answer(p.control(role, args), role) {
            return reply;
        }
    }
    ControlReply::Unhandled
}

/// The answer one plugin's verdict gives, or None: ask the next plugin.
pub fn answer(verdict: PluginVerdict, role: ClusterRole) -> Option<ControlReply> {
    match verdict {
        PluginVerdict::Pass => None,
        PluginVerdict::Stop { kind, additional } => {
            Some(ControlReply::Handled { kind, additional })
        }
        PluginVerdict::Error(text) => Some(ControlReply::Error(text)),
        PluginVerdict::NotMaster => Some(ControlReply::NotMaster(role.master)),
    }
}

/// Help lines of `plugins`, in load order, at most 255 (one datagram's
/// argument count, as l2tpns caps it).
pub fn collect_help<'a>(
    plugins: impl IntoIterator<Item = &'a (dyn ControlPlugin + 'a)>,
) -> Vec<String> {
    plugins
        .into_iter()
        .flat_map(|p| p.help())
        .take(super::wire::MAX_ARGS)
        .collect()
}
