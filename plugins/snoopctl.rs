//! snoopctl: nsctl `snoop USER|SID IP PORT` and `unsnoop USER|SID`, with
//! l2tpns 2.4.1 snoopctl.c's texts and answers.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::daemon::control::command::{Command, Reply, Target};
use crate::dataplane::session_table::SessionKey;
use crate::nsctl::{ClusterRole, PluginVerdict, ResponseKind};
use crate::plugin::{Plugin, PluginControl};

pub struct SnoopCtl;

fn err(text: &str) -> PluginVerdict {
    PluginVerdict::Stop {
        kind: ResponseKind::Err,
        additional: Some(text.to_owned()),
    }
}

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
        let found = match args[1].parse::<u32>() {
            Ok(sid) if sid != 0 => api.session_by_sid(sid),
            _ => api.session_by_user(&args[1]),
        };
        let Some(session) = found.filter(|s| s.address.is_some()) else {
            return err("session not found");
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
        let target = Target::Session(SessionKey::from_nas_port(session.sid));
        match api.execute(Command::Snoop { target, to }) {
            Reply::Done(_) => PluginVerdict::Stop {
                kind: ResponseKind::Ok,
                additional: None,
            },
            Reply::Refused(why) => PluginVerdict::Error(Some(why)),
        }
    }
}
