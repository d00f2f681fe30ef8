//! snoopctl: nsctl `snoop USER|SID IP PORT` and `unsnoop USER|SID`, with
//! l2tpns 2.4.1 snoopctl.c's texts and answers.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::common::{err, execute, session_named, target};
use crate::daemon::control::command::Command;
use crate::nsctl::{ClusterRole, PluginVerdict};
use crate::plugin::{Plugin, PluginControl};

pub struct SnoopCtl;

impl Plugin for SnoopCtl {
    fn name(&self) -> &'static str {
        "snoopctl"
    }

    fn control_help(&self) -> Vec<String> {
        vec![
            "  snoop USER|SID IP PORT                      Intercept user traffic".into(),
            "  unsnoop USER|SID                            Stop intercepting user".into(),
        ]
    }

    fn control(
        &mut self,
        api: &mut dyn PluginControl,
        role: ClusterRole,
        args: &[String],
    ) -> PluginVerdict {
        let snoop = match args.first().map(String::as_str) {
            Some("snoop") => true,
            Some("unsnoop") => false,
            _ => return PluginVerdict::Pass,
        };
        if !role.iam_master {
            return PluginVerdict::NotMaster;
        }
        if snoop && args.len() != 4 {
            return err("requires username or session id and host, port");
        }
        if !snoop && args.len() != 2 {
            return err("requires username or session id");
        }
        let session = match session_named(api, &args[1]) {
            Ok(s) => s,
            Err(answer) => return answer,
        };
        let to = if snoop {
            let ip = match args[2].parse::<Ipv4Addr>() {
                Ok(ip) if !ip.is_unspecified() && !ip.is_broadcast() => ip,
                _ => return err("invalid ip address"),
            };
            let port = match args[3].parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return err("invalid port"),
            };
            let to = SocketAddrV4::new(ip, port);
            if session.policy.snoop == Some(to) {
                return err("already intercepted");
            }
            Some(to)
        } else {
            if session.policy.snoop.is_none() {
                return err("not intercepted");
            }
            None
        };
        let target = target(&session);
        execute(api, Command::Snoop { target, to })
    }
}
