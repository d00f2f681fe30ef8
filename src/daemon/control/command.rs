//! The one command layer: every control surface (signals, DAE/CoA, and the
//! CLI, nsctl and plugins as they come) asks the control plane through
//! `ControlPlane::execute` with a `Command` and gets a `Reply`. An action
//! exists once here, whoever asks for it; the surfaces only translate their
//! own syntax into a `Command` and the `Reply` into their own answer.

use std::time::Instant;

use tracing::info;

use crate::dataplane::session_table::SessionKey;

use super::super::teardown::Cause;
use super::ControlPlane;

/// Who asked: named in the log line of every action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Signal(&'static str),
    Dae(std::net::SocketAddr),
    Cli(String),
    Nsctl(std::net::SocketAddr),
    Plugin(&'static str),
}

/// How the sessions of a `Drop` are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Session(SessionKey),
    /// Every session of this user.
    User(String),
    /// Every session of this tunnel, then the tunnel (StopCCN).
    Tunnel(u16),
}

/// A change of authorisation (RFC 5176 CoA): only what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    pub session_timeout: Option<u32>,
    pub idle_timeout: Option<u32>,
    pub cisco_avpairs: Vec<(String, String)>,
    pub filter_id: Vec<String>,
}

#[derive(Debug)]
pub enum Command {
    /// Clean disconnect: PPP Terminate, CDN, accounting Stop with `cause`
    /// (CLI `drop`, nsctl `drop`, DAE Disconnect-Request).
    Drop { target: Target, cause: Cause },
    /// At once, without telling the client (nsctl `kill`): CDN only.
    Kill { target: Target, cause: Cause },
    /// New limits for live sessions (CoA).
    Authorize {
        sessions: Vec<SessionKey>,
        change: Authorization,
    },
    /// Take over a configuration read again from disk (SIGHUP, CLI
    /// `reload`) or changed by the CLI (`set`).
    Reconfigure(Box<super::reconfigure::Reconfigure>),
    /// StopCCN to every tunnel and exit once they are closed (SIGQUIT,
    /// CLI `shutdown`).
    Shutdown,
    /// Throttle the sessions of `target` (kbit/s; `Some(0)` lifts it,
    /// `None` leaves that direction as it is): CLI `throttle`, nsctl
    /// throttlectl, the autothrottle plugin, CoA.
    Throttle {
        target: Target,
        rate_in: Option<u32>,
        rate_out: Option<u32>,
    },
    /// Copy every IP packet of the sessions of `target`, both ways, as raw
    /// IP in UDP to `to` (None: stop): CLI `snoop`, nsctl snoopctl, the
    /// autosnoop plugin.
    Snoop {
        target: Target,
        to: Option<std::net::SocketAddrV4>,
    },
    /// Walled garden: put the sessions of `target` in (`garden`) or let
    /// them out, renamed to `rename` if given (nsctl through the garden
    /// plugin).
    Garden {
        target: Target,
        garden: bool,
        rename: Option<String>,
    },
    /// Save every tunnel and session to the state file and stop without
    /// telling any peer (SIGTERM/SIGINT with save_state): the next start
    /// takes them back.
    SaveState,
}

/// The answer: lines for the one who asked, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Done(Vec<String>),
    Refused(String),
}

impl Reply {
    fn done(line: impl Into<String>) -> Reply {
        Reply::Done(vec![line.into()])
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Reply::Done(_))
    }
}

impl ControlPlane {
    pub fn execute(&mut self, now: Instant, origin: Origin, command: Command) -> Reply {
        info!(?origin, ?command, "command");
        match command {
            Command::Drop { target, cause } => self.drop_target(now, &target, cause, false),
            Command::Kill { target, cause } => self.drop_target(now, &target, cause, true),
            Command::Authorize { sessions, change } => {
                let n = sessions.len();
                for k in sessions {
                    self.authorize(now, k, &change);
                }
                Reply::done(format!("{n} session(s) changed"))
            }
            Command::Reconfigure(r) => {
                let lines = self.reconfigure(now, *r);
                if lines.is_empty() {
                    Reply::done("configuration reloaded: nothing changed")
                } else {
                    Reply::Done(lines)
                }
            }
            Command::Shutdown => {
                if !self.shutting_down {
                    self.shutdown(now);
                }
                Reply::done("closing every tunnel")
            }
            Command::SaveState => self.save_and_stop(now),
            Command::Throttle {
                target,
                rate_in,
                rate_out,
            } => {
                let keys = self.sessions_of(&target);
                if keys.is_empty() {
                    return Reply::Refused(format!("no such {}", target_name(&target)));
                }
                let buckets = crate::dataplane::policy::SessionPolicy::buckets;
                let limit = self.config.throttle_buckets as usize;
                for &k in &keys {
                    let Some(old) = self.sessions.get(&k).map(|s| s.policy) else {
                        continue;
                    };
                    let mut new = old;
                    new.throttle_in = rate_in.unwrap_or(old.throttle_in);
                    new.throttle_out = rate_out.unwrap_or(old.throttle_out);
                    let in_use = self.buckets_used - buckets(&old);
                    if in_use + buckets(&new) > limit {
                        tracing::warn!(
                            tunnel = k.tunnel,
                            session = k.session,
                            "throttle refused: all {limit} buckets in use (throttle_buckets)"
                        );
                        return Reply::Refused(format!(
                            "no free throttle bucket ({limit} in use; raise throttle_buckets)"
                        ));
                    }
                    self.set_policy(k, |p| *p = new);
                }
                Reply::done(format!("{} session(s) throttled", keys.len()))
            }
            Command::Garden {
                target,
                garden,
                rename,
            } => {
                let keys = self.sessions_of(&target);
                if keys.is_empty() {
                    return Reply::Refused(format!("no such {}", target_name(&target)));
                }
                for &k in &keys {
                    if let Err(why) = self.set_garden(now, k, garden, rename.as_deref()) {
                        return Reply::Refused(why);
                    }
                }
                let what = if garden {
                    "gardened"
                } else {
                    "released from the garden"
                };
                Reply::done(format!("{} session(s) {what}", keys.len()))
            }
            Command::Snoop { target, to } => {
                let keys = self.sessions_of(&target);
                if keys.is_empty() {
                    return Reply::Refused(format!("no such {}", target_name(&target)));
                }
                for &k in &keys {
                    self.set_policy(k, |p| p.snoop = to);
                }
                Reply::done(format!("{} session(s) intercepted", keys.len()))
            }
        }
    }

    /// The sessions a target names now (empty when it names nothing).
    pub(super) fn sessions_of(&self, target: &Target) -> Vec<SessionKey> {
        let mut v: Vec<SessionKey> = match target {
            Target::Session(k) => self.sessions.get(k).map(|_| *k).into_iter().collect(),
            Target::User(u) => self
                .by_user
                .get(u.as_str())
                .map(|s| s.iter().collect())
                .unwrap_or_default(),
            Target::Tunnel(t) => self
                .tunnels
                .get(t)
                .map(|e| e.sessions.iter().map(|s| super::key(*t, *s)).collect())
                .unwrap_or_default(),
        };
        v.sort_by_key(|k| (k.tunnel, k.session));
        v
    }

    fn drop_target(&mut self, now: Instant, target: &Target, cause: Cause, at_once: bool) -> Reply {
        let keys = self.sessions_of(target);
        let tunnel = match target {
            Target::Tunnel(t) if self.tunnels.contains_key(t) => Some(*t),
            _ => None,
        };
        if keys.is_empty() && tunnel.is_none() {
            return Reply::Refused(format!("no such {}", target_name(target)));
        }
        for &k in &keys {
            if at_once {
                self.end_session(now, k, cause.clone(), true);
            } else {
                self.close_session(now, k, cause.clone());
            }
        }
        if let Some(t) = tunnel {
            self.close_tunnel(now, t);
        }
        Reply::done(format!("{} session(s) dropped", keys.len()))
    }

    /// End a tunnel's sessions (with Admin-Reset accounting) and the
    /// tunnel itself with a StopCCN.
    fn close_tunnel(&mut self, now: Instant, tid: u16) {
        self.end_tunnel_sessions(now, tid, Cause::AdminReset);
        if let Some(e) = self.tunnels.get_mut(&tid) {
            e.tunnel.close(now, super::super::teardown::stopccn_admin());
        }
        self.flush_tunnel(now, tid);
    }

    /// Change a session's policy; the data plane hears of it at once when
    /// the session is in it (else when its network comes up).
    pub(super) fn set_policy(
        &mut self,
        k: SessionKey,
        change: impl FnOnce(&mut crate::dataplane::policy::SessionPolicy),
    ) {
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        let before = s.policy;
        change(&mut s.policy);
        if s.policy == before {
            return;
        }
        self.buckets_used = self.buckets_used - before.buckets() + s.policy.buckets();
        tracing::info!(tunnel = k.tunnel, session = k.session, user = s.username.as_deref().unwrap_or(""), policy = ?s.policy, "session policy");
        if let (true, Some(a)) = (s.in_dataplane, s.address) {
            if let Some(entry) = self.dataplane_entry(k, a) {
                self.emit(super::io::Io::Table(
                    crate::dataplane::session_table::TableUpdate::Upsert(entry),
                ));
            }
        }
    }

    /// CoA, as l2tpns: the plugins reset what earlier Cisco-AVPairs set
    /// (`radius_reset`), new Session-Timeout / Idle-Timeout take effect
    /// now, then the CoA's Cisco-AVPairs go to the plugins
    /// (`radius_response`) and replace the session's.
    fn authorize(&mut self, now: Instant, k: SessionKey, change: &Authorization) {
        if !self.sessions.contains_key(&k) {
            return;
        }
        self.plugin_radius_reset(now, k);
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        if let Some(t) = change.session_timeout {
            s.attrs.session_timeout = Some(t);
        }
        if let Some(t) = change.idle_timeout {
            s.attrs.idle_timeout = Some(t);
        }
        if s.attrs.cisco_avpairs != change.cisco_avpairs {
            s.attrs.cisco_avpairs = change.cisco_avpairs.clone();
        }
        self.plugin_radius_response(now, k, &change.cisco_avpairs);
        self.throttle_from_filter_id(now, k, &change.filter_id);
        self.arm_admin(k);
    }
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Session(k) => format!("session {}/{}", k.tunnel, k.session),
        Target::User(u) => format!("user {u}"),
        Target::Tunnel(t) => format!("tunnel {t}"),
    }
}
