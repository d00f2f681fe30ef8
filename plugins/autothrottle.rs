//! autothrottle: throttling from RADIUS, as l2tpns 2.4.1's autothrottle.c.
//! Cisco-AVPairs of an Access-Accept or CoA-Request:
//!
//! * `throttle=N` (kbit/s, both ways), `throttle=yes` (throttle_speed),
//!   `throttle=no`;
//! * `lcp:interface-config#1=service-policy input N` (from the user) and
//!   `lcp:interface-config#2=service-policy output N` (to the user); the
//!   `#n` is not looked at, as in l2tpns.
//!
//! A CoA first lifts the throttle (`radius_reset`), then applies its own
//! pairs. Accounting records carry the rates back as the Cisco form.

use super::common::{target, throttle_speed};
use crate::daemon::control::command::Command;
use crate::plugin::{
    AcctAttributes, AcctKind, HookResult, Plugin, PluginApi, PluginControl, SessionInfo,
};

pub struct AutoThrottle;

/// What one pair asks for: (in, out) in kbit/s, `None` = leave it.
pub fn parse_pair(
    key: &str,
    value: &str,
    throttle_speed: u32,
) -> Option<(Option<u32>, Option<u32>)> {
    if key.starts_with("lcp:interface-config") {
        let mut words = value.split_whitespace();
        if words.next()? != "service-policy" {
            return None;
        }
        let direction = words.next()?;
        let rate: u32 = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        return match direction {
            "input" => Some((Some(rate), None)),
            "output" => Some((None, Some(rate))),
            _ => None,
        };
    }
    if key == "throttle" {
        let rate = match value {
            "yes" => throttle_speed,
            "no" => 0,
            n => n.parse().ok()?,
        };
        return Some((Some(rate), Some(rate)));
    }
    None
}

impl Plugin for AutoThrottle {
    fn name(&self) -> &'static str {
        "autothrottle"
    }

    fn radius_response(
        &mut self,
        api: &mut dyn PluginControl,
        session: &SessionInfo,
        key: &str,
        value: &str,
    ) -> HookResult {
        if let Some((rate_in, rate_out)) = parse_pair(key, value, throttle_speed(api)) {
            api.execute(Command::Throttle {
                target: target(session),
                rate_in,
                rate_out,
            });
        }
        HookResult::Continue
    }

    fn radius_reset(&mut self, api: &mut dyn PluginControl, session: &SessionInfo) -> HookResult {
        api.execute(Command::Throttle {
            target: target(session),
            rate_in: Some(0),
            rate_out: Some(0),
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
        let p = &session.policy;
        let mut n = 1;
        for (rate, direction) in [(p.throttle_in, "input"), (p.throttle_out, "output")] {
            if rate != 0 {
                add.cisco_avpair(&format!(
                    "lcp:interface-config#{n}=service-policy {direction} {rate}"
                ));
                n += 1;
            }
        }
        HookResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::parse_pair;

    #[test]
    fn pairs_as_l2tpns_reads_them() {
        let p = |k, v| parse_pair(k, v, 28);
        assert_eq!(p("throttle", "512"), Some((Some(512), Some(512))));
        assert_eq!(p("throttle", "yes"), Some((Some(28), Some(28))));
        assert_eq!(p("throttle", "no"), Some((Some(0), Some(0))));
        assert_eq!(p("throttle", "-1"), None);
        assert_eq!(p("throttle", "fast"), None);
        assert_eq!(
            p("lcp:interface-config#1", "service-policy input 256"),
            Some((Some(256), None))
        );
        assert_eq!(
            p("lcp:interface-config#2", "service-policy  output   1024"),
            Some((None, Some(1024)))
        );
        assert_eq!(
            p("lcp:interface-config#1", "service-policy sideways 1"),
            None
        );
        assert_eq!(p("lcp:interface-config#1", "service-policy input 1x"), None);
        assert_eq!(p("lcp:interface-config#1", "ip address 1.2.3.4"), None);
        assert_eq!(p("intercept", "1.2.3.4:5"), None);
    }
}
