//! sessionctl: nsctl `drop USER|SID [REASON]` (PPP Terminate, CDN,
//! accounting Stop with Admin-Reset) and `kill USER|SID [REASON]` (at once),
//! with l2tpns 2.4.1 sessionctl.c's texts and answers.

use super::common::{err, execute, session_named, target};
use crate::daemon::control::command::Command;
use crate::daemon::teardown::Cause;
use crate::nsctl::{ClusterRole, PluginVerdict};
use crate::plugin::{Plugin, PluginControl};

pub struct SessionCtl;

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
            return err("requires username or session id and optional reason");
        }
        let session = match session_named(api, &args[1]) {
            Ok(s) => s,
            Err(answer) => return answer,
        };
        let target = target(&session);
        let cause = Cause::AdminReset;
        let command = if word == "drop" {
            Command::Drop { target, cause }
        } else {
            Command::Kill { target, cause }
        };
        execute(api, command)
    }
}
