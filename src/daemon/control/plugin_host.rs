//! The control plane as plugins and nsctl see it: the narrow `PluginApi`
//! (session look-ups and the command layer), the plugin hooks at their
//! events, and nsctl requests answered through the plugin chain.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tracing::{debug, info, warn};

use crate::dataplane::session_table::SessionKey;
use crate::nsctl::{ClusterRole, ControlHandler, ControlReply, LoadOutcome, UnloadOutcome};
use crate::plugin::{LoadError, PluginApi, PluginControl, PostAuth, PreAuth, SessionInfo, Sid};

use super::command::{Command, Origin, Reply};
use super::ControlPlane;

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

impl ControlPlane {
    fn session_info(&self, k: SessionKey) -> Option<SessionInfo> {
        let s = self.sessions.get(&k)?;
        Some(SessionInfo {
            sid: k.nas_port(),
            user: s.username.as_deref().map(str::to_owned),
            address: s.address,
        })
    }

    /// Load the plugins the startup-config names, in its order.
    pub fn load_plugins(&mut self, names: &[String]) {
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
        let mut plugins = std::mem::take(&mut self.plugins);
        plugins.run("pre_auth", |p| p.pre_auth(&*self, &mut auth));
        self.plugins = plugins;
        auth.continue_auth.then_some(auth.username)
    }

    /// `post_auth` on an accepted login: plugins may set the connect speeds.
    pub(super) fn plugin_post_auth(&mut self, k: SessionKey, username: &str) {
        if self.plugins.is_empty() {
            return;
        }
        let Some(s) = self.sessions.get(&k) else {
            return;
        };
        let mut auth = PostAuth {
            username: username.to_string(),
            tx_connect_speed: s.tx_connect_speed,
            rx_connect_speed: s.rx_connect_speed,
        };
        let mut plugins = std::mem::take(&mut self.plugins);
        plugins.run("post_auth", |p| p.post_auth(&*self, &mut auth));
        self.plugins = plugins;
        if let Some(s) = self.sessions.get_mut(&k) {
            s.tx_connect_speed = auth.tx_connect_speed;
            s.rx_connect_speed = auth.rx_connect_speed;
        }
    }

    /// `new_session` (IPCP up) and `kill_session` (the session ends).
    pub(super) fn plugin_session_event(&mut self, k: SessionKey, up: bool) {
        if self.plugins.is_empty() {
            return;
        }
        let Some(info) = self.session_info(k) else {
            return;
        };
        let mut plugins = std::mem::take(&mut self.plugins);
        if up {
            plugins.run("new_session", |p| p.new_session(&*self, &info));
        } else {
            plugins.run("kill_session", |p| p.kill_session(&*self, &info));
        }
        self.plugins = plugins;
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
}

impl PluginApi for Host<'_> {
    fn session_by_user(&self, user: &str) -> Option<SessionInfo> {
        self.cp.session_by_user(user)
    }

    fn session_by_sid(&self, sid: Sid) -> Option<SessionInfo> {
        self.cp.session_by_sid(sid)
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
