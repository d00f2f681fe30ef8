//! accel-ppp's rate format in Filter-Id (its shaper's `attr=Filter-Id`),
//! so an operator moving from accel-ppp keeps its RADIUS replies: with
//! `throttle_filter_id yes`, a Filter-Id of `DOWN/UP` (or one rate for
//! both) throttles the session at login and on CoA. Rates are kbit/s of
//! 1,000 bits, as accel-ppp's (tc's) kbit, with an optional `K` or `M`
//! (`10M/2M`); `/`, `\` and `:` separate them, as in accel-ppp. They are
//! converted to the throttle's own unit (l2tpns's kbit of 1,024 bits).

use std::time::Instant;

use tracing::debug;

use crate::dataplane::session_table::SessionKey;

use super::command::{Command, Origin, Target};
use super::ControlPlane;

/// One rate in bits per second: digits, then `K`/`k` (x1,000) or `M`/`m`
/// (x1,000,000); no suffix is kbit/s.
fn bits(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1_000),
        b'M' | b'm' => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1_000),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(mult).filter(|b| *b > 0)
}

/// (in = from the user, out = to the user) in kbit/s of 1,024 bits, from
/// accel-ppp's `DOWN/UP` (or `RATE`). None: not a rate.
pub fn parse(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let (down, up) = match s.find(['/', '\\', ':']) {
        Some(i) => (bits(&s[..i])?, bits(&s[i + 1..])?),
        None => {
            let b = bits(s)?;
            (b, b)
        }
    };
    let unit = |b: u64| u32::try_from(b.div_ceil(1024)).ok();
    Some((unit(up)?, unit(down)?))
}

impl ControlPlane {
    /// Throttle from the Filter-Ids of an Access-Accept or CoA-Request,
    /// when `throttle_filter_id` asks for it.
    pub(super) fn throttle_from_filter_id(
        &mut self,
        now: Instant,
        k: SessionKey,
        filter_ids: &[String],
    ) {
        if !self.config.throttle_filter_id {
            return;
        }
        for f in filter_ids {
            match parse(f) {
                Some((rate_in, rate_out)) => {
                    self.execute(
                        now,
                        Origin::Plugin("filter-id"),
                        Command::Throttle {
                            target: Target::Session(k),
                            rate_in: Some(rate_in),
                            rate_out: Some(rate_out),
                        },
                    );
                }
                None => {
                    debug!(tunnel = k.tunnel, session = k.session, filter_id = %f, "Filter-Id is not a rate (throttle_filter_id)")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accel_ppp_rates() {
        // 10 Mbit/s down, 2 Mbit/s up, in kbit of 1,024 bits.
        assert_eq!(parse("10M/2M"), Some((1954, 9766)));
        assert_eq!(parse("10240/2048"), Some((2000, 10000)));
        assert_eq!(parse("1024"), Some((1000, 1000)));
        assert_eq!(parse("512k:256K"), Some((250, 500)));
        assert_eq!(parse("8m\\1m"), Some((977, 7813)));
        assert_eq!(parse("web.in"), None);
        assert_eq!(parse("0/100"), None);
        assert_eq!(parse("10M/"), None);
        assert_eq!(parse(""), None);
    }
}
