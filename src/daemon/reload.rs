//! SIGHUP (and the CLI's `reload`): read startup-config, ip_pool and the
//! secrets file again, as at start, and hand the result to the control
//! plane (`Command::Reconfigure`). A file that does not load keeps the
//! running configuration, with the reason in the log.

use std::net::Ipv4Addr;
use std::time::Instant;

use tracing::{error, warn};

use super::control::command::{Command, Origin, Reply};
use super::control::reconfigure::Reconfigure;
use super::control::ControlPlane;
use super::{read_config, settings, Options};

/// What a reload needs to know of the start.
pub struct Reloader {
    pub opts: Options,
    /// The TUN address (fixed while the daemon runs).
    pub tun_addr: Ipv4Addr,
    /// The CLI's users file, replaced for new connections.
    pub cli_users: super::cli_io::SharedUsers,
}

impl Reloader {
    fn read(&self) -> Result<Reconfigure, String> {
        let config = read_config(&self.opts)?;
        for w in &config.warnings {
            warn!("{}:{}: {}", w.file.display(), w.line, w.message);
        }
        let pool = settings::read_pool(&config)?;
        let auth = settings::local_auth(&config)?;
        // Last: nothing above failed, so the new files are taken whole.
        let users = super::cli_io::load_users(&config);
        if let Ok(mut u) = self.cli_users.write() {
            *u = users;
        }
        Ok(Reconfigure {
            settings: settings::control_settings(&config, self.tun_addr),
            config,
            pool: Some(pool),
            auth,
        })
    }

    /// Read everything again and apply it; `origin` names who asked.
    pub fn reload(&self, cp: &mut ControlPlane, origin: Origin) -> Reply {
        match self.read() {
            Ok(r) => cp.execute(Instant::now(), origin, Command::Reconfigure(Box::new(r))),
            Err(e) => {
                error!("reload: {e}: keeping the running configuration");
                Reply::Refused(format!("{e}: keeping the running configuration"))
            }
        }
    }
}
