//! garden: the walled garden, as l2tpns 2.4.1 garden.c. A login RADIUS (or
//! the secrets file) refuses comes in gardened; nsctl `garden USER|SID`
//! puts a session in, `ungarden SID [USER]` lets it out (renamed if a user
//! is given, a duplicate login dropped, its counters reset and a fresh
//! Acct-Start sent). What a gardened session may reach is the data plane's
//! (the `garden` file, `garden_redirect`); l2tpns's iptables chains and
//! `build-garden` script are not used (Docs/DIFFERENCES.md).

use super::common::{err, execute, target};
use crate::daemon::control::command::Command;
use crate::nsctl::{ClusterRole, PluginVerdict};
use crate::plugin::{HookResult, Plugin, PluginApi, PluginControl, PostAuth};

pub struct Garden;

impl Plugin for Garden {
    fn name(&self) -> &'static str {
        "garden"
    }

    fn post_auth(&mut self, _api: &dyn PluginApi, auth: &mut PostAuth) -> HookResult {
        // A successful login is none of ours.
        if auth.auth_allowed {
            return HookResult::Continue;
        }
        tracing::info!(user = %auth.username, "Walled Garden allowing login");
        auth.auth_allowed = true;
        auth.walled_garden = true;
        HookResult::Continue
    }

    fn control_help(&self) -> Vec<String> {
        vec![
            "  garden USER|SID                             Put user into the walled garden".into(),
            "  ungarden SID [USER]                         Release session from garden".into(),
        ]
    }

    fn control(
        &mut self,
        api: &mut dyn PluginControl,
        role: ClusterRole,
        args: &[String],
    ) -> PluginVerdict {
        let garden = match args.first().map(String::as_str) {
            Some("garden") => true,
            Some("ungarden") => false,
            _ => return PluginVerdict::Pass,
        };
        if !role.iam_master {
            return PluginVerdict::NotMaster;
        }
        if args.len() < 2 || args.len() > 3 || (args.len() > 2 && garden) {
            return err(if garden {
                "requires username or session id"
            } else {
                "requires session id and optional username"
            });
        }
        // A number is a SID; a name only for `garden` (l2tpns cannot
        // ungarden by user name: gardened sessions are not found by name).
        let found = match args[1].parse::<u32>() {
            Ok(sid) if sid != 0 => api.session_by_sid(sid),
            _ if garden => api.session_by_user(&args[1]),
            _ => None,
        };
        let Some(session) = found.filter(|s| s.address.is_some()) else {
            return err("session not found");
        };
        if session.policy.garden == garden {
            return err(if garden {
                "already in walled garden"
            } else {
                "not in walled garden"
            });
        }
        let command = Command::Garden {
            target: target(&session),
            garden,
            rename: args.get(2).cloned(),
        };
        execute(api, command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_login_comes_in_gardened_an_accepted_one_untouched() {
        struct NoApi;
        impl PluginApi for NoApi {
            fn session_by_user(&self, _: &str) -> Option<crate::plugin::SessionInfo> {
                None
            }
            fn session_by_sid(&self, _: u32) -> Option<crate::plugin::SessionInfo> {
                None
            }
            fn config_value(&self, _: &str) -> Option<String> {
                None
            }
        }
        let mut auth = PostAuth {
            username: "u".into(),
            auth_allowed: false,
            walled_garden: false,
            tx_connect_speed: 0,
            rx_connect_speed: 0,
        };
        Garden.post_auth(&NoApi, &mut auth);
        assert!(auth.auth_allowed && auth.walled_garden);
        let mut ok = PostAuth {
            auth_allowed: true,
            walled_garden: false,
            ..auth
        };
        Garden.post_auth(&NoApi, &mut ok);
        assert!(!ok.walled_garden);
    }
}
