//! throttlectl: nsctl `throttle USER|SID [RATE|[in|out] RATE ...]` and
//! `unthrottle USER|SID`, with l2tpns 2.4.1 throttlectl.c's texts and
//! answers. No rate: throttle_speed; one: both ways; `in`/`out` pairs (any
//! prefix of the word, as l2tpns's strncmp): that direction only.

use super::common::{err, execute, session_named, target, throttle_speed};
use crate::c_atoi::atoi_u32;
use crate::daemon::control::command::Command;
use crate::nsctl::{ClusterRole, PluginVerdict};
use crate::plugin::{Plugin, PluginControl};

pub struct ThrottleCtl;

/// (in, out) for `throttle`'s arguments after the session; `None` = leave
/// that direction. Err: the answer.
pub fn rates(
    args: &[String],
    throttle_speed: u32,
) -> Result<(Option<u32>, Option<u32>), &'static str> {
    let (rate_in, rate_out) = match args {
        [] => (Some(throttle_speed), Some(throttle_speed)),
        [rate] => (Some(atoi_u32(rate)), Some(atoi_u32(rate))),
        pairs => {
            let (mut i, mut o) = (None, None);
            for pair in pairs.chunks(2) {
                let [word, rate] = pair else { break };
                if !word.is_empty() && "in".starts_with(word.as_str()) {
                    i = Some(atoi_u32(rate));
                } else if !word.is_empty() && "out".starts_with(word.as_str()) {
                    o = Some(atoi_u32(rate));
                } else {
                    return Err("invalid rate");
                }
            }
            (i, o)
        }
    };
    // l2tpns refuses a zero among the rates it was given.
    if rate_in == Some(0) || rate_out == Some(0) {
        return Err("invalid rate");
    }
    Ok((rate_in, rate_out))
}

impl Plugin for ThrottleCtl {
    fn name(&self) -> &'static str {
        "throttlectl"
    }

    fn control_help(&self) -> Vec<String> {
        vec![
            "  throttle USER|SID [RATE|[in|out] RATE ...]  Throttle user traffic".into(),
            "  unthrottle USER|SID                         Stop throttling user".into(),
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
        let throttle = match word {
            "throttle" => true,
            "unthrottle" => false,
            _ => return PluginVerdict::Pass,
        };
        if !role.iam_master {
            return PluginVerdict::NotMaster;
        }
        if throttle && !(2..=6).contains(&args.len()) {
            return err("requires username or session id and optional rate(s)");
        }
        if !throttle && args.len() != 2 {
            return err("requires username or session id");
        }
        let session = match session_named(api, &args[1]) {
            Ok(s) => s,
            Err(answer) => return answer,
        };
        let (rate_in, rate_out) = if throttle {
            match rates(&args[2..], throttle_speed(api)) {
                Ok(r) => r,
                Err(why) => return err(why),
            }
        } else {
            (Some(0), Some(0))
        };
        let p = session.policy;
        let same = |want: Option<u32>, have: u32| want.is_some_and(|w| w == have);
        if same(rate_in, p.throttle_in) && same(rate_out, p.throttle_out) {
            return err(if throttle {
                "already throttled"
            } else {
                "not throttled"
            });
        }
        let target = target(&session);
        execute(
            api,
            Command::Throttle {
                target,
                rate_in,
                rate_out,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::rates;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rates_as_l2tpns_reads_them() {
        assert_eq!(rates(&a(&[]), 28), Ok((Some(28), Some(28))));
        assert_eq!(rates(&a(&["512"]), 28), Ok((Some(512), Some(512))));
        assert_eq!(rates(&a(&["in", "64"]), 28), Ok((Some(64), None)));
        assert_eq!(
            rates(&a(&["o", "128", "i", "64"]), 28),
            Ok((Some(64), Some(128)))
        );
        assert_eq!(rates(&a(&["sideways", "64"]), 28), Err("invalid rate"));
        assert_eq!(rates(&a(&["0"]), 28), Err("invalid rate"));
        assert_eq!(rates(&a(&["in", "x"]), 28), Err("invalid rate"));
    }
}
