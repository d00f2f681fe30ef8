//! The control plane's state across a restart (save_state, SIGTERM): what
//! it saves and how it takes it back. Established tunnels with their
//! control channels' sequence state, sessions whose network is up with
//! their PPP, authorisation and accounting state, the counters and the
//! accounting not yet acknowledged. The address pool and the lookup maps
//! are rebuilt from the sessions. Time is kept as durations relative to
//! the save; the caller says how long the daemon was away.
//!
//! A call still being set up is not saved: its tunnel is told with a CDN
//! at restore, and the LAC redials it. State that belongs to the file
//! (format version, checksum, the configuration it was saved under) is
//! daemon::state_file's.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnetwork::Ipv4Network;
use tracing::warn;

use crate::auth::SessionAttrs;
use crate::dataplane::session_table::{CounterSnapshot, SessionCounters, SessionKey, TableUpdate};
use crate::l2tp::result_code::{CdnCode, CdnResult};
use crate::l2tp::tunnel::{Tunnel, TunnelSnapshot};
use crate::ppp::server::{LinkSnapshot, ServerLink};
use crate::radius::AccountingRequest;

use super::super::id_pool::IdPool;
use super::super::stats::ControlStats;
use super::io::Io;
use super::session::{self, Session};
use super::ControlPlane;

#[derive(Debug, Clone, bincode::Encode, bincode::Decode)]
pub struct SavedState {
    pub tunnels: Vec<SavedTunnel>,
    pub sessions: Vec<SavedSession>,
    pub stats: ControlStats,
    /// Accounting requests sent and not acknowledged: sent again.
    pub pending_accounting: Vec<AccountingRequest>,
}

#[derive(Debug, Clone, bincode::Encode, bincode::Decode)]
pub struct SavedTunnel {
    pub peer: SocketAddr,
    pub tunnel: TunnelSnapshot,
}

#[derive(Debug, Clone, bincode::Encode, bincode::Decode)]
pub struct SavedSession {
    pub tunnel: u16,
    pub session: u16,
    pub peer_session: u16,
    pub username: String,
    pub address: Ipv4Addr,
    pub static_route: bool,
    pub counters: CounterSnapshot,
    pub acct_serial: u64,
    pub acct_started: bool,
    pub calling_station_id: Option<String>,
    pub called_station_id: Option<String>,
    pub tx_connect_speed: u32,
    pub rx_connect_speed: u32,
    pub attrs: SavedAttrs,
    /// Durations before the save.
    pub since_opened: Duration,
    pub since_up: Duration,
    pub since_activity: Duration,
    /// Until the next interim update (zero: due).
    pub until_interim: Option<Duration>,
    pub policy: crate::dataplane::policy::SessionPolicy,
    pub link: LinkSnapshot,
}

/// `SessionAttrs` in a form the encoder takes (routes as address/prefix).
#[derive(Debug, Clone, Default, bincode::Encode, bincode::Decode)]
pub struct SavedAttrs {
    pub session_timeout: Option<u32>,
    pub idle_timeout: Option<u32>,
    pub interim_interval: Option<u32>,
    pub class: Vec<Vec<u8>>,
    pub routes: Vec<(Ipv4Addr, u8)>,
    pub dns: [Option<Ipv4Addr>; 2],
    pub cisco_avpairs: Vec<(String, String)>,
}

impl From<&SessionAttrs> for SavedAttrs {
    fn from(a: &SessionAttrs) -> Self {
        SavedAttrs {
            session_timeout: a.session_timeout,
            idle_timeout: a.idle_timeout,
            interim_interval: a.interim_interval,
            class: a.class.clone(),
            routes: a.routes.iter().map(|n| (n.network(), n.prefix())).collect(),
            dns: a.dns,
            cisco_avpairs: a.cisco_avpairs.clone(),
        }
    }
}

impl SavedAttrs {
    fn to_attrs(&self) -> SessionAttrs {
        SessionAttrs {
            session_timeout: self.session_timeout,
            idle_timeout: self.idle_timeout,
            interim_interval: self.interim_interval,
            class: self.class.clone(),
            routes: self
                .routes
                .iter()
                .filter_map(|&(a, p)| Ipv4Network::new(a, p).ok())
                .collect(),
            dns: self.dns,
            cisco_avpairs: self.cisco_avpairs.clone(),
            // Its rate, if it was one, is in the saved policy.
            filter_id: Vec::new(),
        }
    }
}

/// What a restore brought back, for the start-up log and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    pub tunnels: usize,
    pub sessions: usize,
    /// Calls that were being set up at the save: told with a CDN.
    pub calls_dropped: usize,
    /// Saved sessions refused (an address or id clash): told with a CDN.
    pub sessions_refused: usize,
    pub accounting_resent: usize,
}

impl ControlPlane {
    /// Everything worth keeping, as of `now`. Changes nothing: the daemon
    /// exits right after without telling any peer.
    pub fn save_state(&self, now: Instant) -> SavedState {
        let ago = |t: Instant| now.saturating_duration_since(t);
        let tunnels: Vec<SavedTunnel> = self
            .tunnels
            .values()
            .filter_map(|e| {
                Some(SavedTunnel {
                    peer: e.peer,
                    tunnel: e.tunnel.snapshot()?,
                })
            })
            .collect();
        let live: HashSet<u16> = tunnels.iter().map(|t| t.tunnel.local_id).collect();
        let sessions = self
            .sessions
            .iter()
            .filter(|(k, _)| live.contains(&k.tunnel))
            .filter_map(|(k, s)| {
                if s.end_cause.is_some() {
                    return None;
                }
                Some(SavedSession {
                    tunnel: k.tunnel,
                    session: k.session,
                    peer_session: s.peer_session,
                    username: s.username.as_deref()?.to_owned(),
                    address: s.address?,
                    static_route: s.static_route,
                    counters: s.counters.snapshot(),
                    acct_serial: s.acct_serial,
                    acct_started: s.acct_started,
                    calling_station_id: s.calling_station_id.as_deref().map(str::to_owned),
                    called_station_id: s.called_station_id.as_deref().map(str::to_owned),
                    tx_connect_speed: s.tx_connect_speed,
                    rx_connect_speed: s.rx_connect_speed,
                    attrs: SavedAttrs::from(&*s.attrs),
                    since_opened: ago(s.opened),
                    since_up: ago(s.up_at?),
                    since_activity: ago(s.last_activity),
                    until_interim: s.next_interim.map(|n| n.saturating_duration_since(now)),
                    policy: s.policy,
                    link: s.link.snapshot(now)?,
                })
            })
            .collect();
        SavedState {
            tunnels,
            sessions,
            stats: self.stats.clone(),
            pending_accounting: self.pending_accounting(),
        }
    }

    /// Take a saved state back, `downtime` after it was saved, into a
    /// control plane that has nothing yet. Sessions go straight to the
    /// data plane and their routes are set; accounting carries on (no new
    /// Start, the same Acct-Session-Id, the counters where they were).
    pub fn restore_state(
        &mut self,
        now: Instant,
        state: SavedState,
        downtime: Duration,
    ) -> Restored {
        let mut done = Restored::default();
        self.stats = state.stats;
        let max = self.settings.max_tunnels;
        let ids: Vec<u16> = state
            .tunnels
            .iter()
            .map(|t| t.tunnel.local_id)
            .filter(|&id| id != 0 && id <= max)
            .collect();
        self.tunnel_ids = IdPool::with_used(max, ids.iter().copied());
        for t in &state.tunnels {
            let tid = t.tunnel.local_id;
            if tid == 0 || tid > max || self.tunnels.contains_key(&tid) {
                warn!(
                    tunnel = tid,
                    "saved tunnel id is outside max_tunnels or repeated: not restored"
                );
                continue;
            }
            let tunnel = Tunnel::restore(self.settings.tunnel.clone(), &t.tunnel, now);
            self.add_tunnel(tid, tunnel, t.peer);
            done.tunnels += 1;
        }
        for saved in state.sessions {
            let k = SessionKey {
                tunnel: saved.tunnel,
                session: saved.session,
            };
            if self.restore_session(now, k, saved, downtime) {
                done.sessions += 1;
            } else {
                done.sessions_refused += 1;
            }
        }
        // Calls the tunnels know of with no session restored: CDN.
        let tids: Vec<u16> = self.tunnels.keys().copied().collect();
        for tid in tids {
            let orphans: Vec<u16> = match self.tunnels.get(&tid) {
                Some(e) => e
                    .tunnel
                    .session_ids()
                    .filter(|sid| !e.sessions.contains(sid))
                    .collect(),
                None => continue,
            };
            done.calls_dropped += orphans.len();
            if let Some(e) = self.tunnels.get_mut(&tid) {
                for sid in orphans {
                    let r = CdnResult::new(CdnCode::Administrative)
                        .with_message("LNS restarted during call setup");
                    e.tunnel.disconnect_session(now, sid, r);
                }
            }
            self.flush_tunnel(now, tid);
        }
        for req in state.pending_accounting {
            self.submit_accounting(now, req);
            done.accounting_resent += 1;
        }
        self.restored = done.sessions > 0 || done.tunnels > 0;
        done
    }

    /// One saved session back in place; false (and a CDN) when it cannot be.
    fn restore_session(
        &mut self,
        now: Instant,
        k: SessionKey,
        saved: SavedSession,
        downtime: Duration,
    ) -> bool {
        // A moment `d` before the save, in this process's clock.
        let before = |d: Duration| now.checked_sub(d + downtime).unwrap_or(now);
        let user: Arc<str> = Arc::from(saved.username.as_str());
        let a = saved.address;
        let clash = self.by_address.contains_key(&a) || self.sessions.contains_key(&k);
        let in_pool = self.pool.contains(a);
        let usable = self
            .tunnels
            .get(&k.tunnel)
            .is_some_and(|e| e.tunnel.session_peer_id(k.session).is_some());
        if clash || !usable || (in_pool && !self.pool.reserve_shared(a, &user)) {
            warn!(tunnel = k.tunnel, session = k.session, user = %user, ip = %a, "saved session clashes with another or lost its call: not restored");
            return false;
        }
        // An address that left ip_pool since the save stays with its
        // session (as after a reload) on a route of its own.
        let static_route = saved.static_route || !in_pool;
        if static_route {
            self.emit(Io::Route {
                add: true,
                net: Ipv4Network::from(a),
            });
        }
        let attrs = saved.attrs.to_attrs();
        for net in &attrs.routes {
            self.emit(Io::Route {
                add: true,
                net: *net,
            });
        }
        let link = ServerLink::restore(self.settings.ppp.clone(), &saved.link, downtime, now);
        let session = Session {
            link,
            connected: true,
            peer_session: saved.peer_session,
            username: Some(user.clone()),
            address: Some(a),
            static_route,
            counters: Arc::new(SessionCounters::resumed(&saved.counters)),
            in_dataplane: true,
            opened: before(saved.since_opened),
            acct_serial: saved.acct_serial,
            calling_station_id: saved.calling_station_id.map(Box::from),
            tx_connect_speed: saved.tx_connect_speed,
            rx_connect_speed: saved.rx_connect_speed,
            called_station_id: saved.called_station_id.map(Box::from),
            attrs: session::Attrs::new(attrs),
            auth_pending: None,
            up_at: Some(before(saved.since_up)),
            acct_started: saved.acct_started,
            // Interim updates keep their rhythm in wall time: one that fell
            // due while the daemon was away goes out now.
            next_interim: saved.until_interim.map(|d| {
                before(Duration::ZERO)
                    .checked_add(d)
                    .map_or(now, |t| t.max(now))
            }),
            last_activity: before(saved.since_activity),
            end_cause: None,
            policy: saved.policy,
        };
        self.buckets_used += session.policy.buckets();
        let session_gardened = session.policy.garden;
        self.lines.take(k);
        self.sessions.insert(k, Box::new(session));
        self.by_address.insert(a, k);
        if !session_gardened {
            self.by_user.entry(user).or_default().push(k);
        }
        if let Some(e) = self.tunnels.get_mut(&k.tunnel) {
            e.sessions.insert(k.session);
        }
        if let Some(entry) = self.dataplane_entry(k, a) {
            self.emit(Io::Table(TableUpdate::Upsert(entry)));
        }
        self.flush_session(now, k);
        self.arm_admin(k);
        true
    }
}

impl ControlPlane {
    /// `Command::SaveState`: queue the state for the driver to write and
    /// stop taking anything in. Nothing is sent to any peer.
    pub(super) fn save_and_stop(&mut self, now: Instant) -> super::command::Reply {
        if self.state_saved {
            return super::command::Reply::Refused("the state is already saved".into());
        }
        let started = Instant::now();
        let state = self.save_state(now);
        let line = format!(
            "saving {} tunnel(s) and {} session(s) to {} (snapshot taken in {:.1} ms)",
            state.tunnels.len(),
            state.sessions.len(),
            self.config.state_file.display(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        self.shutting_down = true;
        self.state_saved = true;
        self.emit(Io::SaveState {
            path: self.config.state_file.clone(),
            identity: super::super::state_file::Identity::of(&self.config, &self.settings.ppp),
            state: Box::new(state),
        });
        super::command::Reply::Done(vec![line])
    }

    /// The state was handed to the driver: the daemon stops once it is written.
    pub fn state_saved(&self) -> bool {
        self.state_saved
    }
}
