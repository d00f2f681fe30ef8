//! sessionctl: nsctl `drop USER|SID [REASON]` (PPP Terminate, CDN,
//! accounting Stop with Admin-Reset) and `kill USER|SID [REASON]` (at once),
//! with l2tpns 2.4.1 sessionctl.c's texts and answers.

use crate::daemon::control::command::{Command, Reply, Target};
use crate::daemon::teardown::Cause;
use crate::dataplane::session_table::SessionKey;
use crate::nsctl::{ClusterRole, PluginVerdict, ResponseKind};
use crate::plugin::{Plugin, PluginControl};

pub struct SessionCtl;

fn stop(kind: ResponseKind, additional: Option<&str>) -> PluginVerdict {
    PluginVerdict::Stop {
        kind,
        additional: additional.map(str::to_owned),
    }
}

impl Plugin for SessionCtl {
    fn name(&self) -> &'static str {
        "sessionctl"
    }

    fn control_help(&self) -> Vec<String> {
        vec![
            "  drop USER|SID [REASON]                      Shutdown user session".into(),
            "  kill USER|SID [REASON]                      Kill user session".into(),
        ]
    }

    fn control(
        &mut self,
        api: &mut dyn PluginControl,
        role: ClusterRole,
        args: &[String],
    ) -> PluginVerdict {
        let Some(word) = args.first().map(String::as_str) else {
            return PluginVerdict::Pass;
        };
        if word != "drop" && word != "kill" {
            return PluginVerdict::Pass;
        }
        if !role.iam_master {
            return PluginVerdict::NotMaster;
        }
        if !(2..=3).contains(&args.len()) {
            return stop(
                ResponseKind::Err,
                Some("requires username or session id and optional reason"),
            );
        }
        // A number is a session id, anything else a user name (as l2tpns).
        let found = match args[1].parse::<u32>() {
            Ok(sid) if sid != 0 => api.session_by_sid(sid),
            _ => api.session_by_user(&args[1]),
        };
        let Some(session) = found.filter(|s| s.address.is_some()) else {
            return stop(ResponseKind::Err, Some("session not found"));
        };
        let target = Target::Session(SessionKey::from_nas_port(session.sid));
        let cause = Cause::AdminReset;
        let command = if word == "drop" {
            Command::Drop { target, cause }
        } else {
            Command::Kill { target, cause }
        };
        match api.execute(command) {
            Reply::Done(_) => stop(ResponseKind::Ok, None),
            Reply::Refused(why) => PluginVerdict::Error(Some(why)),
        }
    }
}
