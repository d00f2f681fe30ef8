//! The CLI's per-session policy commands, with l2tpns 2.4.1's words:
//! `throttle USER [RATE | in RATE | out RATE | in R out R]`, `no throttle
//! USER...`, `show throttle`, `snoop USER IP PORT`, `no snoop USER...`. A
//! session is named by user, or by its SID (a number, as nsctl takes it).
//! The changes themselves are `Command::Throttle` and `Command::Snoop`.

use crate::c_atoi::atoi_u32;
use std::time::Instant;

use crate::cli::Outcome;
use crate::dataplane::session_table::SessionKey;

use super::command::{Command, Origin, Target};
use super::ControlPlane;

type Answer = (Vec<String>, Outcome);

fn failed(line: impl Into<String>) -> Answer {
    (vec![line.into()], Outcome::Failed)
}

impl ControlPlane {
    /// A user's (first) session, or the session of a SID.
    fn named_session(&self, name: &str) -> Option<SessionKey> {
        if let Ok(sid) = name.parse::<u32>() {
            let k = SessionKey::from_nas_port(sid);
            return self.sessions.contains_key(&k).then_some(k);
        }
        self.by_user.get(name)?.iter().next()
    }

    pub(super) fn cli_throttle(&mut self, now: Instant, origin: Origin, args: &[String]) -> Answer {
        let Some(user) = args.first() else {
            return failed("Specify a user to throttle");
        };
        let Some(k) = self.named_session(user) else {
            return failed(format!("User {user} is not connected"));
        };
        let speed = u32::try_from(self.config.throttle_speed).unwrap_or(u32::MAX);
        let (rate_in, rate_out) = match &args[1..] {
            [] => (speed, speed),
            [rate] => match atoi_u32(rate) {
                0 => return failed(format!("Invalid rate \"{rate}\"")),
                r => (r, r),
            },
            rest if rest.len() == 2 || rest.len() == 4 => {
                let (mut i, mut o) = (0, 0);
                for pair in rest.chunks(2) {
                    let (word, rate) = (pair[0].as_str(), atoi_u32(&pair[1]));
                    let is = |w: &str| !word.is_empty() && w.starts_with(word);
                    match (is("in"), is("out"), rate) {
                        (true, _, r) if r > 0 => i = r,
                        (false, true, r) if r > 0 => o = r,
                        _ => {
                            return failed(format!(
                                "Invalid rate specification \"{} {}\"",
                                pair[0], pair[1]
                            ))
                        }
                    }
                }
                (i, o)
            }
            _ => return failed("Invalid arguments"),
        };
        let p = self.sessions.get(&k).map(|s| s.policy).unwrap_or_default();
        if (rate_in != 0 && p.throttle_in != 0) || (rate_out != 0 && p.throttle_out != 0) {
            return failed(format!("User {user} already throttled, unthrottle first"));
        }
        let change = |want: u32, have: u32| (want != 0 && want != have).then_some(want);
        let (ci, co) = (
            change(rate_in, p.throttle_in),
            change(rate_out, p.throttle_out),
        );
        if ci.is_none() && co.is_none() {
            return failed(format!("User {user} already throttled at this rate"));
        }
        self.execute(
            now,
            origin,
            Command::Throttle {
                target: Target::Session(k),
                rate_in: ci,
                rate_out: co,
            },
        );
        (vec![format!("Throttling user {user}")], Outcome::Done)
    }

    pub(super) fn cli_no_throttle(
        &mut self,
        now: Instant,
        origin: Origin,
        args: &[String],
    ) -> Answer {
        self.each_named(args, "Specify a user to unthrottle", |cp, user, k| {
            if !cp.sessions.get(&k).is_some_and(|s| s.policy.is_throttled()) {
                return Err(format!("User {user} not throttled"));
            }
            cp.execute(
                now,
                origin.clone(),
                Command::Throttle {
                    target: Target::Session(k),
                    rate_in: Some(0),
                    rate_out: Some(0),
                },
            );
            Ok(format!("Unthrottling user {user}"))
        })
    }

    /// l2tpns's `no ...` commands: each user named in turn, an answer line
    /// each, failed if any failed.
    fn each_named(
        &mut self,
        args: &[String],
        none: &str,
        mut act: impl FnMut(&mut Self, &str, SessionKey) -> Result<String, String>,
    ) -> Answer {
        if args.is_empty() {
            return failed(none);
        }
        let mut lines = Vec::new();
        let mut ok = true;
        for user in args {
            let line = match self.named_session(user) {
                Some(k) => act(self, user, k),
                None => Err(format!("User {user} is not connected")),
            };
            ok &= line.is_ok();
            lines.push(line.unwrap_or_else(|e| e));
        }
        (lines, if ok { Outcome::Done } else { Outcome::Failed })
    }

    pub(super) fn cli_snoop(&mut self, now: Instant, origin: Origin, args: &[String]) -> Answer {
        let [user, ip, port] = args else {
            return failed("Specify username, ip and port");
        };
        let Some(k) = self.named_session(user) else {
            return failed(format!("User {user} is not connected"));
        };
        let ip = match ip.parse::<std::net::Ipv4Addr>() {
            Ok(a) if !a.is_unspecified() && !a.is_broadcast() => a,
            _ => return failed(format!("Cannot parse IP \"{ip}\"")),
        };
        let port = match atoi_u32(port) {
            p @ 1..=65535 => p as u16,
            _ => return failed(format!("Invalid port {port}")),
        };
        let to = std::net::SocketAddrV4::new(ip, port);
        self.execute(
            now,
            origin,
            Command::Snoop {
                target: Target::Session(k),
                to: Some(to),
            },
        );
        (vec![format!("Snooping user {user} to {to}")], Outcome::Done)
    }

    pub(super) fn cli_no_snoop(&mut self, now: Instant, origin: Origin, args: &[String]) -> Answer {
        self.each_named(args, "Specify a user to unsnoop", |cp, user, k| {
            cp.execute(
                now,
                origin.clone(),
                Command::Snoop {
                    target: Target::Session(k),
                    to: None,
                },
            );
            Ok(format!("Not snooping user {user}"))
        })
    }

    /// `show throttle`: l2tpns's columns. TBFI/TBFO, l2tpns's bucket
    /// numbers, are 0: our buckets live in the session's worker, unnumbered.
    pub(super) fn cli_show_throttle(&self) -> Answer {
        let mut v = vec![format!(
            "{:>5} {:>4} {:<32} {:>7} {:>6} {:>6} {:>6}",
            "SID", "TID", "Username", "Rate In", "Out", "TBFI", "TBFO"
        )];
        let mut keys: Vec<&SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.policy.is_throttled())
            .map(|(k, _)| k)
            .collect();
        keys.sort_by_key(|k| (k.tunnel, k.session));
        for k in keys {
            let s = &self.sessions[k];
            v.push(format!(
                "{:>5} {:>4} {:<32}  {:>6} {:>6} {:>6} {:>6}",
                k.nas_port(),
                k.tunnel,
                s.username.as_deref().unwrap_or(""),
                s.policy.throttle_in,
                s.policy.throttle_out,
                0,
                0
            ));
        }
        (v, Outcome::Done)
    }
}
