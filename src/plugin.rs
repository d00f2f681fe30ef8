//! Plugins: l2tpns's hooks as a Rust trait. A plugin lives in the top-level
//! `plugins/` folder, is registered there by name, and is enabled by
//! `load plugin NAME` in the startup-config or `load_plugin NAME` over
//! nsctl. Loaded plugins run in load order. They see a narrow API
//! (`PluginApi`): look sessions up, ask for commands through the command
//! layer, never the data plane's tables. Docs/PLUGINS.md shows how to
//! write one.
//!
//! The hooks called: `pre_auth` (before a login is checked), `post_auth`
//! (a login's answer, accepted or refused), `radius_response` (each Cisco-AVPair of an
//! Access-Accept or CoA-Request), `radius_reset` (a CoA, before its values
//! apply), `new_session` (IPCP up), `kill_session` (a session ends),
//! `radius_account` (an accounting Start, Interim-Update or Stop is built:
//! attributes may be added), `timer` (once a second while a plugin is
//! loaded) and `control` (an nsctl command).

use std::net::Ipv4Addr;

use crate::daemon::control::command::{Command, Reply};
use crate::nsctl::{ClusterRole, PluginVerdict};
use crate::radius::ExtraAttribute;

/// l2tpns's session id as plugins and nsctl name it: NAS-Port,
/// (tunnel id << 16) | session id.
pub type Sid = u32;

/// What a plugin may know of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub sid: Sid,
    pub user: Option<String>,
    pub address: Option<Ipv4Addr>,
    /// Throttle, snoop, garden (autothrottle echoes the rates in accounting).
    pub policy: crate::dataplane::policy::SessionPolicy,
}

/// What every hook may ask of the daemon: look sessions up, read the
/// configuration (l2tpns's `getconfig`).
pub trait PluginApi {
    fn session_by_user(&self, user: &str) -> Option<SessionInfo>;
    fn session_by_sid(&self, sid: Sid) -> Option<SessionInfo>;
    /// A startup-config variable's value as `show running-config` prints it.
    fn config_value(&self, name: &str) -> Option<String>;
}

/// What a command hook (`control`) may do besides: run a command as the
/// CLI or nsctl would, through the command layer.
pub trait PluginControl: PluginApi {
    fn execute(&mut self, command: Command) -> Reply;
}

/// `pre_auth`'s parameters: the user name may be rewritten, and the login
/// refused (l2tpns's `param_pre_auth.continue_auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreAuth {
    pub username: String,
    pub continue_auth: bool,
}

/// `post_auth`'s parameters, for an accepted or a refused login (l2tpns's
/// `param_post_auth`): a plugin may turn the answer round (`auth_allowed`),
/// put the session in the walled garden (garden: a refused login comes in
/// gardened) and fill in the LAC's connect speeds (setrxspeed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostAuth {
    pub username: String,
    pub auth_allowed: bool,
    pub walled_garden: bool,
    pub tx_connect_speed: u32,
    pub rx_connect_speed: u32,
}

/// Which accounting record `radius_account` is adding to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcctKind {
    Start,
    InterimUpdate,
    Stop,
}

/// What `radius_account` may add to an Accounting-Request: vendor
/// attributes (Cisco-AVPair first of all) and standard ones the LNS does not
/// write itself. They go after the LNS's own, in the order added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AcctAttributes(Vec<ExtraAttribute>);

/// Standard attributes a plugin may not add: the ones the LNS writes in an
/// Accounting-Request (radius::request::encode_accounting_request), a second
/// copy of which would confuse the server; Vendor-Specific (use `vendor`);
/// Message-Authenticator (the builder signs it, first); and 0.
const LNS_ATTRIBUTES: &[u8] = &[
    0, 1, 4, 5, 6, 7, 8, 25, 26, 30, 31, 32, 40, 41, 42, 43, 44, 46, 47, 48, 49, 52, 53, 55, 61, 80,
];

/// `AcctAttributes::standard` was given a type the LNS writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedAttribute(pub u8);

impl AcctAttributes {
    /// Cisco-AVPair (vendor 9, attribute 1), "key=value".
    pub fn cisco_avpair(&mut self, pair: &str) {
        self.0.push(ExtraAttribute::cisco_avpair(pair));
    }

    /// One sub-attribute of `vendor` inside a Vendor-Specific (26).
    pub fn vendor(&mut self, vendor: u32, typ: u8, value: &[u8]) {
        let value = value.to_vec();
        self.0.push(ExtraAttribute::Vendor { vendor, typ, value });
    }

    /// A standard attribute (Connect-Info, Acct-Multi-Session-Id, ...).
    pub fn standard(&mut self, typ: u8, value: &[u8]) -> Result<(), ReservedAttribute> {
        if LNS_ATTRIBUTES.contains(&typ) {
            return Err(ReservedAttribute(typ));
        }
        let value = value.to_vec();
        self.0.push(ExtraAttribute::Standard { typ, value });
        Ok(())
    }

    pub fn into_vec(self) -> Vec<ExtraAttribute> {
        self.0
    }
}

/// A hook's answer (l2tpns's PLUGIN_RET_OK / STOP / ERROR): `Stop` ends the
/// chain for this event, `Error` too, and is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookResult {
    Continue,
    Stop,
    Error(String),
}

pub trait Plugin: Send {
    fn name(&self) -> &'static str;

    fn pre_auth(&mut self, _api: &dyn PluginApi, _auth: &mut PreAuth) -> HookResult {
        HookResult::Continue
    }

    /// An accepted login, before the network comes up.
    fn post_auth(&mut self, _api: &dyn PluginApi, _auth: &mut PostAuth) -> HookResult {
        HookResult::Continue
    }

    /// One `key=value` of a Cisco-AVPair in an Access-Accept (after
    /// `post_auth`, before the network comes up) or a CoA-Request (after
    /// `radius_reset`), in attribute order. `key` is what precedes the first
    /// '=', `value` what follows (unquoted; empty when there is no '=').
    /// It may act on the session through the command layer (autothrottle:
    /// `Command::Throttle`).
    fn radius_response(
        &mut self,
        _api: &mut dyn PluginControl,
        _session: &SessionInfo,
        _key: &str,
        _value: &str,
    ) -> HookResult {
        HookResult::Continue
    }

    /// A CoA-Request for this session, before its values apply: forget
    /// what earlier Cisco-AVPairs set (the CoA's own follow).
    fn radius_reset(&mut self, _api: &mut dyn PluginControl, _session: &SessionInfo) -> HookResult {
        HookResult::Continue
    }

    fn new_session(&mut self, _api: &dyn PluginApi, _session: &SessionInfo) -> HookResult {
        HookResult::Continue
    }

    fn kill_session(&mut self, _api: &dyn PluginApi, _session: &SessionInfo) -> HookResult {
        HookResult::Continue
    }

    /// An Accounting-Request for this session is being built: `add` what
    /// it should carry besides the LNS's attributes. A Stop comes after
    /// `kill_session`.
    fn radius_account(
        &mut self,
        _api: &dyn PluginApi,
        _session: &SessionInfo,
        _kind: AcctKind,
        _add: &mut AcctAttributes,
    ) -> HookResult {
        HookResult::Continue
    }

    /// Once a second while at least one plugin is loaded; the time is the
    /// control plane's, in seconds since the Unix epoch.
    fn timer(&mut self, _api: &dyn PluginApi, _now_unix_secs: u64) -> HookResult {
        HookResult::Continue
    }

    /// nsctl help lines (`plugin_control_help`).
    fn control_help(&self) -> Vec<String> {
        Vec::new()
    }

    /// An nsctl command; `args[0]` is the command word (may be absent).
    fn control(
        &mut self,
        _api: &mut dyn PluginControl,
        _role: ClusterRole,
        _args: &[String],
    ) -> PluginVerdict {
        PluginVerdict::Pass
    }
}

/// The loaded plugins, in load order.
#[derive(Default)]
pub struct Plugins {
    loaded: Vec<Box<dyn Plugin>>,
}

/// Why `load` did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    AlreadyLoaded,
    Unknown,
}

impl Plugins {
    pub fn load(&mut self, name: &str) -> Result<(), LoadError> {
        if self.is_loaded(name) {
            return Err(LoadError::AlreadyLoaded);
        }
        let plugin = crate::plugins::create(name).ok_or(LoadError::Unknown)?;
        self.loaded.push(plugin);
        Ok(())
    }

    /// A plugin the registry does not know (tests' recording plugins).
    #[cfg(test)]
    pub fn load_boxed(&mut self, plugin: Box<dyn Plugin>) {
        self.loaded.push(plugin);
    }

    /// Whether it was loaded.
    pub fn unload(&mut self, name: &str) -> bool {
        let before = self.loaded.len();
        self.loaded.retain(|p| p.name() != name);
        self.loaded.len() != before
    }

    pub fn is_loaded(&self, name: &str) -> bool {
        self.loaded.iter().any(|p| p.name() == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.loaded.iter().map(|p| p.name()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
    }

    pub fn help(&self) -> Vec<String> {
        self.loaded.iter().flat_map(|p| p.control_help()).collect()
    }

    /// Runs `hook` over the plugins in load order until one stops the chain.
    pub fn run(
        &mut self,
        event: &str,
        mut hook: impl FnMut(&mut dyn Plugin) -> HookResult,
    ) -> HookResult {
        for p in &mut self.loaded {
            match hook(p.as_mut()) {
                HookResult::Continue => {}
                HookResult::Error(e) => {
                    tracing::warn!(plugin = p.name(), "{event}: {e}");
                    return HookResult::Error(e);
                }
                HookResult::Stop => return HookResult::Stop,
            }
        }
        HookResult::Continue
    }

    /// nsctl's plugin chain: the first verdict other than Pass answers.
    pub fn control(
        &mut self,
        api: &mut dyn PluginControl,
        role: ClusterRole,
        args: &[String],
    ) -> crate::nsctl::ControlReply {
        for p in &mut self.loaded {
            if let Some(reply) = crate::nsctl::chain::answer(p.control(api, role, args), role) {
                return reply;
            }
        }
        crate::nsctl::ControlReply::Unhandled
    }
}
