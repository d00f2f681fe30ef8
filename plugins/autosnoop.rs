//! autosnoop: lawful intercept from RADIUS, as l2tpns 2.4.1's autosnoop.c.
//! A Cisco-AVPair `intercept=IP:PORT` in an Access-Accept or CoA-Request
//! copies every IP packet of the session, both ways, to IP:PORT; a CoA
//! first stops it (`radius_reset`). Accounting records carry
//! `intercept=IP:PORT` back while it runs.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::common::target;
use crate::daemon::control::command::Command;
use crate::plugin::{
    AcctAttributes, AcctKind, HookResult, Plugin, PluginApi, PluginControl, SessionInfo,
};

pub struct AutoSnoop;

/// `IP:PORT` as l2tpns reads it: no colon, or an address or port that does
/// not parse (or is 0), intercepts nothing.
pub fn parse_target(value: &str) -> Option<SocketAddrV4> {
    let (ip, port) = value.split_once(':')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let port: u16 = port.parse().ok()?;
    (!ip.is_unspecified() && port != 0).then(|| SocketAddrV4::new(ip, port))
}

impl Plugin for AutoSnoop {
    fn name(&self) -> &'static str {
        "autosnoop"
    }

    fn radius_response(
        &mut self,
        api: &mut dyn PluginControl,
        session: &SessionInfo,
        key: &str,
        value: &str,
    ) -> HookResult {
        if key == "intercept" {
            let to = parse_target(value);
            if to.is_none() {
                tracing::info!(
                    sid = session.sid,
                    value,
                    "not intercepting: the reply string should be intercept=ip:port"
                );
            }
            api.execute(Command::Snoop {
                target: target(session),
                to,
            });
        }
        HookResult::Continue
    }

    fn radius_reset(&mut self, api: &mut dyn PluginControl, session: &SessionInfo) -> HookResult {
        api.execute(Command::Snoop {
            target: target(session),
            to: None,
        });
        HookResult::Continue
    }

    fn radius_account(
        &mut self,
        _api: &dyn PluginApi,
        session: &SessionInfo,
        _kind: AcctKind,
        add: &mut AcctAttributes,
    ) -> HookResult {
        if let Some(to) = session.policy.snoop {
            add.cisco_avpair(&format!("intercept={to}"));
        }
        HookResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn targets_as_l2tpns_reads_them() {
        assert_eq!(
            parse_target("192.0.2.1:5000"),
            Some("192.0.2.1:5000".parse().unwrap())
        );
        assert_eq!(parse_target("192.0.2.1"), None);
        assert_eq!(parse_target("192.0.2.1:0"), None);
        assert_eq!(parse_target("0.0.0.0:5000"), None);
        assert_eq!(parse_target("nowhere:5000"), None);
        assert_eq!(parse_target(":5000"), None);
    }
}
