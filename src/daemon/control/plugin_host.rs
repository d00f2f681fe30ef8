//! The control plane as plugins and nsctl see it: the narrow `PluginApi`
//! (session look-ups and the command layer), the plugin hooks at their
//! events, the plugins' 1 s timer, and nsctl requests answered through the
//! plugin chain.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::dataplane::session_table::SessionKey;
use crate::nsctl::{ClusterRole, ControlHandler, ControlReply, LoadOutcome, UnloadOutcome};
use crate::plugin::{
    AcctAttributes, AcctKind, HookResult, LoadError, Plugin, PluginApi, PluginControl, PostAuth,
    PreAuth, SessionInfo, Sid,
};
use crate::radius::ExtraAttribute;

use super::command::{Command, Origin, Reply};
use super::session::Session;
use super::{ControlPlane, TimerKey};

/// Who may use nsctl.
pub struct NsctlSettings {
    /// Besides loopback addresses (nsctl_allow).
    pub allowed: Vec<IpAddr>,
}

/// The control plane lent to a plugin for one event.
struct Host<'a> {
    cp: &'a mut ControlPlane,
    now: Instant,
    origin: Origin,
}

/// How often the `timer` hook runs (l2tpns: once a second).
const PLUGIN_TIMER_EVERY: Duration = Duration::from_secs(1);

/// What a plugin may know of session `k`.
pub(super) fn session_info_of(k: SessionKey, s: &Session) -> SessionInfo {
    SessionInfo {
        sid: k.nas_port(),
        user: s.username.as_deref().map(str::to_owned),
        address: s.address,
        policy: s.policy,
    }
}

impl ControlPlane {
    fn session_info(&self, k: SessionKey) -> Option<SessionInfo> {
        Some(session_info_of(k, self.sessions.get(&k)?))
    }

    /// Load the plugins the startup-config names, in its order.
    pub fn load_plugins(&mut self, now: Instant, names: &[String]) {
        for name in names {
            match self.plugins.load(name) {
                Ok(()) => info!(plugin = %name, "plugin loaded"),
                Err(LoadError::AlreadyLoaded) => {}
                Err(LoadError::Unknown) => warn!(
                    plugin = %name,
                    "load plugin {name}: no such plugin (available: {})",
                    crate::plugins::AVAILABLE.join(", ")
                ),
            }
        }
        self.arm_plugin_timer(now);
    }

    /// A plugin the registry does not know, as a test loads it.
    #[cfg(test)]
    pub(super) fn load_boxed_plugin(&mut self, now: Instant, p: Box<dyn Plugin>) {
        self.plugins.load_boxed(p);
        self.arm_plugin_timer(now);
    }

    /// After the plugin set changed: the 1 s timer runs while a plugin is
    /// loaded, and an idle daemon without plugins does not wake up for it.
    pub(super) fn arm_plugin_timer(&mut self, now: Instant) {
        let at = match self.timers.deadline(TimerKey::PluginTimer) {
            _ if self.plugins.is_empty() => None,
            Some(armed) => Some(armed),
            None => Some(now + PLUGIN_TIMER_EVERY),
        };
        self.timers.set(TimerKey::PluginTimer, at);
    }

    /// `timer`, then the next one a second later (a late wake-up runs it
    /// once, not once per second missed: l2tpns's main loop does the same).
    pub(super) fn plugin_timer(&mut self, now: Instant) {
        let unix = self.unix_secs(now);
        self.run_hook("timer", |p, cp| p.timer(cp, unix));
        self.arm_plugin_timer(now);
    }

    /// Runs `hook` over the plugins in load order (`Plugins::run`). They
    /// are taken out for the call, so a hook sees the control plane, never
    /// the plugin list it is in.
    fn run_hook(
        &mut self,
        event: &str,
        mut hook: impl FnMut(&mut dyn Plugin, &ControlPlane) -> HookResult,
    ) {
        let mut plugins = std::mem::take(&mut self.plugins);
        plugins.run(event, |p| hook(p, &*self));
        self.plugins = plugins;
    }

    /// Like `run_hook`, for hooks that may act on sessions: they get the
    /// control plane as `PluginControl` (the command layer), as `control`
    /// does, with `origin` naming the plugin's event in the log.
    fn run_control_hook(
        &mut self,
        now: Instant,
        event: &str,
        mut hook: impl FnMut(&mut dyn Plugin, &mut dyn PluginControl) -> HookResult,
    ) {
        let mut plugins = std::mem::take(&mut self.plugins);
        {
            let mut host = Host {
                cp: self,
                now,
                origin: Origin::Plugin("radius"),
            };
            plugins.run(event, |p| hook(p, &mut host));
        }
        self.plugins = plugins;
    }

    pub fn set_nsctl(&mut self, settings: NsctlSettings) {
        self.nsctl_socket = Some(settings);
    }

    /// `pre_auth`: plugins may rewrite the user name or refuse the login.
    pub(super) fn plugin_pre_auth(&mut self, username: String) -> Option<String> {
        if self.plugins.is_empty() {
            return Some(username);
        }
        let mut auth = PreAuth {
            username,
            continue_auth: true,
        };
        self.run_hook("pre_auth", |p, cp| p.pre_auth(cp, &mut auth));
        auth.continue_auth.then_some(auth.username)
    }

    /// `post_auth` on a login's answer: plugins may turn it round, garden
    /// the session and set the connect speeds. Returns (allowed, gardened).
    pub(super) fn plugin_post_auth(
        &mut self,
        k: SessionKey,
        username: &str,
        allowed: bool,
    ) -> (bool, bool) {
        if self.plugins.is_empty() {
            return (allowed, false);
        }
        let Some(s) = self.sessions.get(&k) else {
            return (allowed, false);
        };
        let mut auth = PostAuth {
            username: username.to_string(),
            auth_allowed: allowed,
            walled_garden: false,
            tx_connect_speed: s.tx_connect_speed,
            rx_connect_speed: s.rx_connect_speed,
        };
        self.run_hook("post_auth", |p, cp| p.post_auth(cp, &mut auth));
        if let Some(s) = self.sessions.get_mut(&k) {
            s.tx_connect_speed = auth.tx_connect_speed;
            s.rx_connect_speed = auth.rx_connect_speed;
        }
        (auth.auth_allowed, auth.walled_garden)
    }

    /// `radius_response` for each Cisco-AVPair, in order: each pair is its
    /// own event (a `Stop` ends the chain for that pair only).
    pub(super) fn plugin_radius_response(
        &mut self,
        now: Instant,
        k: SessionKey,
        pairs: &[(String, String)],
    ) {
        if self.plugins.is_empty() || pairs.is_empty() {
            return;
        }
        let Some(info) = self.session_info(k) else {
            return;
        };
        for (key, value) in pairs {
            self.run_control_hook(now, "radius_response", |p, cp| {
                p.radius_response(cp, &info, key, value)
            });
        }
    }

    /// `radius_reset`: a CoA is about to apply.
    pub(super) fn plugin_radius_reset(&mut self, now: Instant, k: SessionKey) {
        if self.plugins.is_empty() {
            return;
        }
        let Some(info) = self.session_info(k) else {
            return;
        };
        self.run_control_hook(now, "radius_reset", |p, cp| p.radius_reset(cp, &info));
    }

    /// `radius_account`: what the plugins add to this accounting record.
    /// `info` is passed in: at Stop the session has left the table.
    pub(super) fn plugin_radius_account(
        &mut self,
        info: &SessionInfo,
        kind: AcctKind,
    ) -> Vec<ExtraAttribute> {
        if self.plugins.is_empty() {
            return Vec::new();
        }
        let mut add = AcctAttributes::default();
        self.run_hook("radius_account", |p, cp| {
            p.radius_account(cp, info, kind, &mut add)
        });
        add.into_vec()
    }

    /// `new_session` (IPCP up) and `kill_session` (the session ends).
    pub(super) fn plugin_session_event(&mut self, k: SessionKey, up: bool) {
        if self.plugins.is_empty() {
            return;
        }
        let Some(info) = self.session_info(k) else {
            return;
        };
        if up {
            self.run_hook("new_session", |p, cp| p.new_session(cp, &info));
        } else {
            self.run_hook("kill_session", |p, cp| p.kill_session(cp, &info));
        }
    }

    /// An nsctl datagram: refused (counted) from outside loopback and
    /// nsctl_allow; else answered, always, as l2tpns does.
    pub fn handle_nsctl(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let allowed = from.ip().is_loopback()
            || self
                .nsctl_socket
                .as_ref()
                .is_some_and(|n| n.allowed.contains(&from.ip()));
        if !allowed {
            self.stats.nsctl_refused_source += 1;
            debug!(%from, "nsctl request from an address not in nsctl_allow: ignored");
            return;
        }
        let mut server = std::mem::take(&mut self.nsctl_server);
        let mut plugins = std::mem::take(&mut self.plugins);
        let mut out = [0u8; crate::nsctl::wire::MAX_PACKET];
        let answer = {
            let mut handler = Handler {
                plugins: &mut plugins,
                host: Host {
                    cp: self,
                    now,
                    origin: Origin::Nsctl(from),
                },
            };
            server.handle(bytes, &mut handler, &mut out)
        };
        self.plugins = plugins;
        self.nsctl_server = server;
        // load_plugin / unload_plugin may have changed the set.
        self.arm_plugin_timer(now);
        let Ok(answer) = answer else { return };
        match &answer.request {
            Ok(req) => {
                info!(%from, args = ?req.args, kind = ?req.kind, response = ?answer.response.kind, "nsctl")
            }
            Err(e) => debug!(%from, "malformed nsctl request: {e}"),
        }
        let bytes = out.get(..answer.len).unwrap_or_default().to_vec();
        self.emit(super::io::Io::Nsctl { to: from, bytes });
    }

    /// nsctl counters for the status line: requests by kind, malformed.
    pub fn nsctl_counters(&self) -> &crate::nsctl::Counters {
        self.nsctl_server.counters()
    }
}

impl PluginApi for ControlPlane {
    fn session_by_user(&self, user: &str) -> Option<SessionInfo> {
        let k = self.by_user.get(user)?.iter().next()?;
        self.session_info(k)
    }

    fn session_by_sid(&self, sid: Sid) -> Option<SessionInfo> {
        self.session_info(SessionKey::from_nas_port(sid))
    }

    fn config_value(&self, name: &str) -> Option<String> {
        self.config.get(name)
    }
}

impl PluginApi for Host<'_> {
    fn session_by_user(&self, user: &str) -> Option<SessionInfo> {
        self.cp.session_by_user(user)
    }

    fn session_by_sid(&self, sid: Sid) -> Option<SessionInfo> {
        self.cp.session_by_sid(sid)
    }

    fn config_value(&self, name: &str) -> Option<String> {
        self.cp.config_value(name)
    }
}

impl PluginControl for Host<'_> {
    fn execute(&mut self, command: Command) -> Reply {
        self.cp.execute(self.now, self.origin.clone(), command)
    }
}

/// nsctl's view of the plugin list.
struct Handler<'a> {
    plugins: &'a mut crate::plugin::Plugins,
    host: Host<'a>,
}

impl ControlHandler for Handler<'_> {
    fn help(&self) -> Vec<String> {
        self.plugins.help()
    }

    fn load_plugin(&mut self, name: &str) -> LoadOutcome {
        match self.plugins.load(name) {
            Ok(()) => {
                info!(plugin = name, "plugin loaded (nsctl)");
                LoadOutcome::Loaded
            }
            Err(LoadError::AlreadyLoaded) => LoadOutcome::AlreadyLoaded,
            Err(LoadError::Unknown) => LoadOutcome::Failed,
        }
    }

    fn unload_plugin(&mut self, name: &str) -> UnloadOutcome {
        if self.plugins.unload(name) {
            info!(plugin = name, "plugin unloaded (nsctl)");
            UnloadOutcome::Unloaded
        } else if crate::plugins::AVAILABLE.contains(&name) {
            UnloadOutcome::NotLoaded
        } else {
            UnloadOutcome::NotFound
        }
    }

    fn control(&mut self, args: &[String]) -> ControlReply {
        self.plugins
            .control(&mut self.host, ClusterRole::STANDALONE, args)
    }
}
