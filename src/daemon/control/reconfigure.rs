//! A new configuration for the running daemon (SIGHUP, CLI `reload` and
//! `set`): what changed is applied where it can be without dropping a
//! session, and each change that needs a restart is named. New sessions see
//! the new DNS servers, pool and PPP/L2TP parameters; sessions that are up
//! keep what they negotiated; addresses in use that left the pool stay
//! until their session ends.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Instant;

use ipnetwork::Ipv4Network;
use tracing::{info, warn};

use crate::config::vars::{VarInfo, VARS};
use crate::config::{Config, Statement};

use super::{ControlPlane, Settings};

/// What the daemon read from disk (or the CLI changed) for the control
/// plane to take over.
pub struct Reconfigure {
    pub config: Config,
    pub settings: Settings,
    /// The pool's addresses and networks, when ip_pool was read again.
    pub pool: Option<(Vec<Ipv4Addr>, Vec<Ipv4Network>)>,
    /// The secrets file, read again (no RADIUS).
    pub auth: Option<crate::auth::secrets_file::SecretsFileAuth>,
}

impl std::fmt::Debug for Reconfigure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reconfigure({})", self.config.source.display())
    }
}

/// The variables whose value differs.
pub fn changed(old: &Config, new: &Config) -> Vec<&'static VarInfo> {
    VARS.iter()
        .filter(|v| old.get(v.name) != new.get(v.name))
        .collect()
}

impl ControlPlane {
    /// The configuration the daemon runs with (`show running-config`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// Take over a new configuration; returns a line per change.
    pub(super) fn reconfigure(&mut self, now: Instant, r: Reconfigure) -> Vec<String> {
        let mut lines = Vec::new();
        let changes = changed(&self.config, &r.config);
        for var in &changes {
            // Each variable's row in config/startup/table.rs says whether it is live.
            let name = var.name;
            let line = if var.live {
                format!("{name}: now {}", r.config.get(name).unwrap_or_default())
            } else if !var.implemented {
                format!("{name}: changed (accepted, not implemented yet)")
            } else {
                warn!("{name} changed in the configuration: it cannot change while the daemon runs and takes effect at the next start");
                format!("{name}: takes effect at the next start (cannot change live)")
            };
            lines.push(line);
        }
        // New tunnels and sessions take the new parameters; the tunnel id
        // space was sized at start.
        let max_tunnels = self.settings.max_tunnels;
        let garden_changed = self.settings.garden != r.settings.garden;
        self.settings = r.settings;
        self.settings.max_tunnels = max_tunnels;
        if garden_changed {
            let g = &self.settings.garden;
            lines.push(format!(
                "garden: {} rules, redirect {}",
                g.rules.len(),
                g.redirect.map_or("none".into(), |a| a.to_string())
            ));
            self.publish_garden();
        }
        if let Some(aaa) = self.aaa.as_mut() {
            aaa.settings.accounting = r.config.radius_accounting;
            aaa.settings.interim = r.config.radius_interim;
            aaa.settings.kill_timedout = r.config.kill_timedout_sessions;
        }
        if let Some((addresses, routes)) = r.pool {
            self.pool = self.pool.reloaded(addresses);
            // Routes of networks that left the file stay for the sessions
            // there; the driver takes EEXIST for the ones already in.
            for net in routes {
                self.emit(super::io::Io::Route { add: true, net });
            }
            lines.push(format!(
                "ip pool: {} addresses, {} free",
                self.pool.len(),
                self.pool.free_count()
            ));
        }
        if let Some(auth) = r.auth {
            self.auth = Some(Box::new(auth));
        }
        self.reload_plugins(now, &r.config);
        self.acct_dir_reconfigure(&r.config);
        if let Err(e) = crate::daemon::logging::reload(u32::from(r.config.debug)) {
            warn!("log: {e} (log_file)");
        }
        self.config = r.config;
        for l in &lines {
            info!("configuration: {l}");
        }
        if changes.is_empty() {
            info!("configuration reloaded: nothing changed");
        }
        lines
    }

    /// Load what the new file adds, unload what it no longer names.
    fn reload_plugins(&mut self, now: Instant, config: &Config) {
        let wanted = Statement::plugins(&config.statements);
        let before = Statement::plugins(&self.config.statements);
        let gone: BTreeSet<&String> = before.iter().filter(|p| !wanted.contains(p)).collect();
        for p in gone {
            if self.plugins.unload(p) {
                info!(plugin = %p, "plugin unloaded (configuration)");
            }
        }
        self.load_plugins(now, &wanted);
    }
}
