//! What the session-commanding plugins share: naming a session as l2tpns's
//! plugins do (a number is a SID, anything else a user name; a session
//! without an address is "not found"), their error answer, and a command's
//! reply as an nsctl verdict.

use crate::daemon::control::command::{Command, Reply, Target};
use crate::dataplane::session_table::SessionKey;
use crate::nsctl::{PluginVerdict, ResponseKind};
use crate::plugin::{PluginApi, PluginControl, SessionInfo};

/// An nsctl error answer with l2tpns's text.
pub fn err(text: &str) -> PluginVerdict {
    PluginVerdict::Stop {
        kind: ResponseKind::Err,
        additional: Some(text.to_owned()),
    }
}

/// The session `arg` names, or the "session not found" answer.
pub fn session_named(api: &dyn PluginApi, arg: &str) -> Result<SessionInfo, PluginVerdict> {
    let found = match arg.parse::<u32>() {
        Ok(sid) if sid != 0 => api.session_by_sid(sid),
        _ => api.session_by_user(arg),
    };
    found
        .filter(|s| s.address.is_some())
        .ok_or_else(|| err("session not found"))
}

/// The command layer's target for a session a plugin was told of.
pub fn target(s: &SessionInfo) -> Target {
    Target::Session(SessionKey::from_nas_port(s.sid))
}

/// Run `command`; OK, or the refusal as an error answer.
pub fn execute(api: &mut dyn PluginControl, command: Command) -> PluginVerdict {
    match api.execute(command) {
        Reply::Done(_) => PluginVerdict::Stop {
            kind: ResponseKind::Ok,
            additional: None,
        },
        Reply::Refused(why) => PluginVerdict::Error(Some(why)),
    }
}

/// A throttle_speed as plugins read it (0 when unset or unreadable).
pub fn throttle_speed(api: &dyn PluginApi) -> u32 {
    api.config_value("throttle_speed")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
