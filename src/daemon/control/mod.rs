//! The control plane: the one owner of tunnels, sessions, the address pool and
//! authentication. It drives the sans-IO L2TP and PPP state machines with the
//! datagrams the data plane hands over, executes what they ask (send, arm a
//! timer, authenticate, allocate an address) and publishes session state to
//! the data-plane workers as `TableUpdate`s.

use std::collections::{HashMap, HashSet};

use crate::fx_hash::{FxBuildHasher, FxHashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use tracing::{debug, info, warn};

use crate::auth::Authenticator;
use crate::dataplane::session_table::{SessionCounters, SessionKey, TableUpdate};
use crate::l2tp::tunnel::{Tunnel, TunnelConfig, TunnelEvent};
use crate::l2tp::wire::{write_data_header, Header, DATA_HEADER_LEN};
use crate::pool::AddressPool;
use crate::ppp::server::{ServerConfig, ServerEvent, ServerLink};

mod aaa;
mod acct_dir;
pub(super) mod activity_gate;
pub mod admission;
mod census;
pub mod cli;
mod cli_policy;
pub mod command;
mod dae;
mod filter_rate;
mod garden;
mod hook;
pub mod io;
mod new_tunnel;
pub mod plugin_host;
pub mod reconfigure;
mod saved;
mod session;
mod session_life;
mod show;
#[cfg(test)]
mod tests;

pub use self::aaa::{Aaa, AaaSettings};
pub use self::acct_dir::AcctDirSettings;
pub use self::census::{SessionState, TunnelState};
use self::io::Io;
pub use self::saved::{Restored, SavedState};
use self::session::Session;
use super::clock::Clock;
use super::fast_lines::{fast_capacity, LineBook, LineLayout};
use super::id_pool::IdPool;
use super::stats::ControlStats;
use super::teardown::Cause;
use crate::timers::Timers;

/// Settings the control plane needs, derived once from the startup-config.
pub struct Settings {
    pub tunnel: Arc<TunnelConfig>,
    pub ppp: Arc<ServerConfig>,
    pub dns: [Option<Ipv4Addr>; 2],
    pub allow_duplicate_users: bool,
    pub guest_accounts: Vec<String>,
    pub anti_spoof: bool,
    pub max_tunnels: u16,
    /// 0 = no limit.
    pub max_sessions: u32,
    /// session_hook, when set.
    pub session_hook: Option<Arc<crate::daemon::session_hook::HookSettings>>,
    /// Per-source limits on new tunnels and on refusals.
    pub sources: admission::SourceLimits,
    /// packet_limit: downstream packets per session per 0.1 s (0 = none).
    pub packet_limit: u32,
    /// The walled garden (garden file and garden_redirect) the workers apply.
    pub garden: Arc<crate::dataplane::garden::Garden>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TimerKey {
    Tunnel(u16),
    /// The session's PPP link timers.
    Session(u16, u16),
    /// Session-Timeout, Idle-Timeout, interim accounting.
    Admin(u16, u16),
    Radius,
    /// accounting_dir's usage files.
    AcctDir,
    /// The plugins' `timer` hook, every second while one is loaded.
    PluginTimer,
}

struct TunnelEntry {
    tunnel: Tunnel,
    peer: SocketAddr,
    /// Our session ids on this tunnel, so closing a tunnel costs its own
    /// sessions, not a scan of all of them.
    sessions: HashSet<u16, FxBuildHasher>,
}

/// How late a timer may fire so that its neighbours fire with it. At
/// 100,000 sessions the LCP keepalives alone are 10,000 deadlines a second,
/// spread evenly: woken for each, the loop would wake 10,000 times a
/// second; with 10 ms of slack it wakes at most 100 times and serves a
/// hundred of them in one pass (and one send batch). No protocol timer
/// here is shorter than a second.
const TIMER_SLACK: Duration = Duration::from_millis(10);

pub struct ControlPlane {
    settings: Settings,
    /// I/O for the driver to perform (`poll_io`).
    io: std::collections::VecDeque<io::Io>,
    // Maps keyed by ids we allocate use the Fx hash (SipHash was a tenth of
    // the control plane's setup cost); those keyed by what peers choose
    // (addresses and ports, user names) keep std's keyed SipHash.
    tunnels: FxHashMap<u16, TunnelEntry>,
    tunnel_ids: IdPool,
    by_peer: HashMap<(SocketAddr, u16), u16>,
    /// Per-source limits on new tunnels.
    admission: admission::Admission,
    /// Boxed: a map grows by doubling and runs between 44% and 87% full,
    /// so an inline ~1 KiB record would waste up to its own size per session.
    sessions: FxHashMap<SessionKey, Box<Session>>,
    /// The fast-path lines the sessions' ids pick: new calls get ids whose
    /// line is free (daemon::fast_lines).
    lines: Arc<LineBook>,
    by_user: HashMap<Arc<str>, session::UserSessions>,
    by_address: FxHashMap<Ipv4Addr, SessionKey>,
    pool: AddressPool,
    /// The secrets file; None when RADIUS authenticates (primary_radius).
    auth: Option<Box<dyn Authenticator>>,
    /// RADIUS authentication, accounting and DAE, when servers are configured.
    aaa: Option<Aaa>,
    /// The configuration in force (`set_config` at start, then reloads).
    config: crate::config::Config,
    started: Instant,
    /// The wall clock at `started`, since the Unix epoch: with the `now`
    /// every call gets, the wall-clock time without reading the clock.
    started_unix: Duration,
    /// When `uptime` last ran and the data plane's totals then (its rates
    /// are over the time since).
    last_uptime: Option<(Instant, super::speed::Totals)>,
    /// Loaded plugins, in load order.
    plugins: crate::plugin::Plugins,
    /// nsctl: its counters, and its socket when it listens.
    nsctl_server: crate::nsctl::ControlServer,
    nsctl_socket: Option<plugin_host::NsctlSettings>,
    /// accounting_dir, when set.
    acct_dir: Option<Box<acct_dir::AcctDir>>,
    timers: Timers<TimerKey>,
    /// Established sessions whose every deadline counts from the user's
    /// traffic: swept instead of timed (activity_gate).
    activity_gates: activity_gate::ActivityGates,
    rng: rand::rngs::StdRng,
    clock: Arc<Clock>,
    pub stats: ControlStats,
    shutting_down: bool,
    /// Sessions came back from saved state: no Accounting-On at start (it
    /// would tell the RADIUS server that every session of ours ended).
    restored: bool,
    /// `Command::SaveState` ran: nothing more is taken in.
    state_saved: bool,
    /// Throttle buckets the sessions hold (throttle_buckets caps them).
    buckets_used: usize,
    /// Acct-Session-Id = start time (unique across restarts) + a counter.
    session_counter: u32,
}

fn key(tunnel: u16, session: u16) -> SessionKey {
    SessionKey { tunnel, session }
}

impl ControlPlane {
    pub fn new(
        settings: Settings,
        pool: AddressPool,
        auth: Option<Box<dyn Authenticator>>,
        aaa: Option<Aaa>,
        clock: Arc<Clock>,
    ) -> ControlPlane {
        let max = settings.max_tunnels;
        let layout = LineLayout::for_capacity(fast_capacity(settings.max_sessions));
        let lines = Arc::new(LineBook::new(layout));
        let mut cp = ControlPlane {
            settings,
            io: std::collections::VecDeque::new(),
            tunnels: FxHashMap::default(),
            tunnel_ids: IdPool::new(max),
            by_peer: HashMap::new(),
            admission: Default::default(),
            sessions: FxHashMap::default(),
            lines,
            by_user: HashMap::new(),
            by_address: FxHashMap::default(),
            pool,
            auth,
            aaa,
            config: Default::default(),
            started: Instant::now(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
            last_uptime: None,
            plugins: Default::default(),
            nsctl_server: Default::default(),
            nsctl_socket: None,
            acct_dir: None,
            timers: Timers::default(),
            activity_gates: Default::default(),
            rng: rand::rngs::StdRng::from_entropy(),
            clock,
            stats: ControlStats::default(),
            shutting_down: false,
            restored: false,
            state_saved: false,
            buckets_used: 0,
            session_counter: 0,
        };
        if *cp.settings.garden != crate::dataplane::garden::Garden::default() {
            cp.publish_garden();
        }
        cp
    }

    /// Tunnels that are open (not closing or lingering after StopCCN).
    pub fn tunnel_count(&self) -> usize {
        self.tunnels
            .values()
            .filter(|t| !t.tunnel.is_closing())
            .count()
    }

    /// Tunnels closing: waiting for a StopCCN ack, or lingering one
    /// retransmission cycle after the peer's StopCCN (RFC 2661 §5.7).
    pub fn closing_tunnel_count(&self) -> usize {
        self.tunnels.len() - self.tunnel_count()
    }

    /// The PPP settings links are made with (the state file records what
    /// restored links depend on).
    pub fn ppp_settings(&self) -> Arc<ServerConfig> {
        self.settings.ppp.clone()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// What the per-source limits on new tunnels did.
    pub fn admission_stats(&self) -> admission::AdmissionStats {
        self.admission.stats
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let sweep = self
            .activity_gates
            .next_sweep()
            .map(|t| self.clock.instant_of(t));
        match (self.timers.next(), sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Start time in seconds since the Unix epoch (the high half of
    /// Acct-Session-Id).
    fn boot_secs(&self) -> u32 {
        self.started_unix.as_secs() as u32
    }

    /// `now` in seconds since the Unix epoch.
    fn unix_secs(&self, now: Instant) -> u64 {
        let t = match now.checked_duration_since(self.started) {
            Some(d) => self.started_unix + d,
            None => self
                .started_unix
                .saturating_sub(self.started.duration_since(now)),
        };
        t.as_secs()
    }

    /// The session's user name for log lines ("" before authentication).
    fn user_of(&self, k: SessionKey) -> &str {
        self.sessions
            .get(&k)
            .and_then(|s| s.username.as_deref())
            .unwrap_or("")
    }

    // ---- input from the data plane ------------------------------------

    /// A datagram the data plane did not forward itself: an L2TP control
    /// message, or a PPP frame that is not IPv4 data of an up session.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let header = match Header::parse(bytes) {
            Ok(h) => h,
            Err(e) => {
                self.stats.malformed += 1;
                debug!(%from, "malformed L2TP header: {e}");
                return;
            }
        };
        if header.is_control() {
            self.handle_control(now, from, header.tunnel_id(), bytes);
        } else {
            let payload = bytes.get(header.payload_offset()..).unwrap_or(&[]);
            let k = key(header.tunnel_id(), header.session_id());
            self.handle_ppp(now, from, k, payload, bytes);
        }
    }

    fn handle_control(&mut self, now: Instant, from: SocketAddr, tid: u16, bytes: &[u8]) {
        // Lines rested by now are preferred again for this datagram's calls.
        self.lines.expire(now);
        if tid == 0 {
            self.handle_new_tunnel(now, from, bytes);
            return;
        }
        let refusal = (!self.has_room_for_a_call()).then(super::teardown::cdn_no_resources);
        let Some(entry) = self.tunnels.get_mut(&tid) else {
            self.stats.unknown_tunnel += 1;
            debug!(%from, tunnel = tid, "control message for unknown tunnel");
            return;
        };
        // Only the tunnel's peer, address and port (RFC 2661 §8.1): anyone
        // else could otherwise forge a StopCCN or CDN, or steal the tunnel.
        if entry.peer != from {
            self.stats.wrong_source += 1;
            debug!(%from, tunnel = tid, peer = %entry.peer, "control message from another address or port than the tunnel's: dropped");
            return;
        }
        // An ICRQ beyond max_sessions gets its CDN 2/4 before any ICRP.
        entry.tunnel.set_call_refusal(refusal);
        entry.tunnel.handle_datagram(now, bytes);
        self.flush_tunnel(now, tid);
    }

    /// `ppp`: the frame; `datagram`: the whole L2TP datagram it came in.
    fn handle_ppp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        k: SessionKey,
        ppp: &[u8],
        datagram: &[u8],
    ) {
        let Some(peer) = self.tunnels.get(&k.tunnel).map(|t| t.peer) else {
            self.stats.unknown_session += 1;
            return;
        };
        if peer != from {
            self.stats.wrong_source += 1;
            debug!(%from, tunnel = k.tunnel, %peer, "PPP frame from another address or port than the tunnel's: dropped");
            return;
        }
        let Some(s) = self.sessions.get_mut(&k) else {
            self.stats.unknown_session += 1;
            debug!(
                tunnel = k.tunnel,
                session = k.session,
                "PPP frame for unknown session"
            );
            return;
        };
        if s.link.is_network_up() && ipv4_payload(ppp).is_some() {
            // Overtook the data plane's table update (see dataplane::upstream).
            self.forward_early_ipv4(k, from, datagram);
            return;
        }
        if !s.connected {
            // A LAC sends PPP only after its ICCN (RFC 2661 §5.4), so this
            // frame says the call is connected even when the ICCN itself is
            // still lost or queued behind a lost message. Start LCP now, as
            // l2tpns does; waiting for the ICCN under heavy control loss
            // lets the peer's LCP run out of Configure-Requests.
            debug!(
                tunnel = k.tunnel,
                session = k.session,
                "PPP frame before the ICCN: starting LCP"
            );
            s.connected = true;
            s.link.open(now);
        }
        s.link.handle_frame(now, ppp);
        session::trace_frame("in", k, ppp, &s.link);
        self.flush_session(now, k);
    }

    /// An upstream IPv4 packet the data plane did not know the session of,
    /// for a session whose network is up: check and forward it as the data
    /// plane would have.
    ///
    /// The data plane's own `classify` judges it, on a table of this one
    /// session: the same anti-spoofing (Framed-Route sources too), MSS
    /// clamping, counters and idle stamp as every later packet gets.
    fn forward_early_ipv4(&mut self, k: SessionKey, from: SocketAddr, datagram: &[u8]) {
        use crate::dataplane::drop_reason::DropReason;
        use crate::dataplane::upstream::{upstream_clamp_mss, UpVerdict};
        let Some(address) = self.sessions.get(&k).and_then(|s| s.address) else {
            return;
        };
        let Some(entry) = self.dataplane_entry(k, address) else {
            return;
        };
        let mut table = crate::dataplane::session_table::SessionTable::new();
        table.apply(TableUpdate::Upsert(entry));
        let mut copy = datagram.to_vec();
        match upstream_clamp_mss(&table, &mut copy, from, self.clock.tick()) {
            UpVerdict::ToTun(ip, _) => {
                self.stats.early_ipv4 += 1;
                self.emit(Io::Tun(ip.to_vec()));
            }
            UpVerdict::Drop(DropReason::SpoofedSource) => self.stats.spoofed += 1,
            UpVerdict::Drop(_) | UpVerdict::ToControl => self.stats.malformed += 1,
        }
    }

    // ---- timers and clock ------------------------------------------------

    pub fn handle_timeouts(&mut self, now: Instant) {
        for t in self.timers.expired(now) {
            match t {
                TimerKey::Tunnel(tid) => {
                    if let Some(e) = self.tunnels.get_mut(&tid) {
                        e.tunnel.handle_timeout(now);
                        self.flush_tunnel(now, tid);
                    }
                }
                TimerKey::Admin(tid, sid) => self.admin_tick(now, key(tid, sid)),
                TimerKey::Radius => self.radius_timeout(now),
                TimerKey::AcctDir => self.acct_dir_tick(now),
                TimerKey::PluginTimer => self.plugin_timer(now),
                TimerKey::Session(tid, sid) => self.session_due(now, key(tid, sid)),
            }
        }
        let mut released = Vec::new();
        // The tick `now` is in (floor): a due tick is then never in the future.
        let tick = self.clock.ms_at(now) + 1;
        self.activity_gates.sweep(tick, &mut released);
        for k in released {
            self.session_due(now, k);
        }
    }

    /// The session's deadline came (its timer, or the activity sweep).
    fn session_due(&mut self, now: Instant, k: SessionKey) {
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        let last = s
            .counters
            .last_rx_tick
            .load(std::sync::atomic::Ordering::Relaxed);
        if last != 0 {
            s.link.note_peer_activity(self.clock.instant_of(last));
        }
        // The user's traffic moved the echo on and nothing else is due:
        // only re-arm (the whole pass through the link and its events was
        // most of the daemon's CPU at 100,000 sessions with traffic).
        if s.link.poll_timeout().is_some_and(|at| at > now) {
            self.arm_session(k);
            return;
        }
        s.link.handle_timeout(now);
        self.flush_session(now, k);
    }

    /// Wait for the session's next deadline: in the activity sweep when
    /// every deadline it has counts from the user's traffic (the echo and
    /// idle checks of an established link), on a timer otherwise.
    fn arm_session(&mut self, k: SessionKey) {
        let timer = TimerKey::Session(k.tunnel, k.session);
        let Some(s) = self.sessions.get(&k) else {
            return;
        };
        let at = s.link.poll_timeout();
        match (at, s.link.activity_span()) {
            (Some(at), Some(span)) => {
                let due = self.clock.tick_at(at);
                self.activity_gates.hold(k, &s.counters, span, due);
                self.timers.set(timer, None);
            }
            _ => {
                self.activity_gates.release(k);
                self.timers.set(timer, at);
            }
        }
    }

    // ---- driving the state machines ------------------------------------

    fn flush_tunnel(&mut self, now: Instant, tid: u16) {
        let mut events = Vec::new();
        if let Some(e) = self.tunnels.get_mut(&tid) {
            while let Some(d) = e.tunnel.poll_transmit(now) {
                self.io.push_back(Io::L2tp {
                    to: e.peer,
                    bytes: d,
                });
            }
            while let Some(ev) = e.tunnel.poll_event() {
                events.push(ev);
            }
        }
        for ev in events {
            self.tunnel_event(now, tid, ev);
        }
        // Events may have queued more (CDNs); send them and re-arm.
        if let Some(e) = self.tunnels.get_mut(&tid) {
            while let Some(d) = e.tunnel.poll_transmit(now) {
                self.io.push_back(Io::L2tp {
                    to: e.peer,
                    bytes: d,
                });
            }
            if e.tunnel.is_closed() {
                self.free_tunnel(tid);
            } else {
                let at = e.tunnel.poll_timeout();
                self.timers.set(TimerKey::Tunnel(tid), at);
            }
        }
    }

    fn tunnel_event(&mut self, now: Instant, tid: u16, ev: TunnelEvent) {
        match ev {
            TunnelEvent::Established => {
                info!(tunnel = tid, "tunnel established");
            }
            TunnelEvent::IncomingCall {
                local_sid,
                peer_sid,
                call,
            } => {
                debug!(tunnel = tid, session = local_sid, ?call, "incoming call");
                // Several ICRQs released at once from the reorder queue may
                // pass the tunnel's check: the ICRP is out, so a CDN follows.
                if !self.has_room_for_a_call() {
                    self.refused_call(tid, peer_sid);
                    if let Some(e) = self.tunnels.get_mut(&tid) {
                        e.tunnel.disconnect_session(
                            now,
                            local_sid,
                            super::teardown::cdn_no_resources(),
                        );
                    }
                    return;
                }
                let mut challenge = [0u8; 16];
                self.rng.fill_bytes(&mut challenge);
                let magic = self.rng.next_u32();
                let link = ServerLink::new(self.settings.ppp.clone(), magic, challenge, now);
                if let Some(e) = self.tunnels.get_mut(&tid) {
                    e.sessions.insert(local_sid);
                }
                self.session_counter = self.session_counter.wrapping_add(1);
                self.lines.take(key(tid, local_sid));
                self.sessions.insert(
                    key(tid, local_sid),
                    Box::new(Session {
                        link,
                        connected: false,
                        peer_session: peer_sid,
                        username: None,
                        address: None,
                        static_route: false,
                        counters: Arc::new(SessionCounters::new()),
                        in_dataplane: false,
                        opened: now,
                        acct_serial: (u64::from(self.boot_secs()) << 32)
                            | u64::from(self.session_counter),
                        calling_station_id: call.calling_number.as_deref().map(Box::from),
                        tx_connect_speed: 0,
                        rx_connect_speed: 0,
                        called_station_id: call.called_number.as_deref().map(Box::from),
                        attrs: Default::default(),
                        auth_pending: None,
                        up_at: None,
                        acct_started: false,
                        next_interim: None,
                        last_activity: now,
                        end_cause: None,
                        policy: Default::default(),
                    }),
                );
            }
            TunnelEvent::CallRefused { peer_sid } => self.refused_call(tid, peer_sid),
            TunnelEvent::CallConnected { local_sid, connect } => {
                let k = key(tid, local_sid);
                debug!(
                    tunnel = tid,
                    session = local_sid,
                    ?connect,
                    "call connected, starting LCP"
                );
                if let Some(s) = self.sessions.get_mut(&k) {
                    s.tx_connect_speed = connect.tx_connect_speed.unwrap_or(0);
                    s.rx_connect_speed = connect.rx_connect_speed.unwrap_or(0);
                    if std::mem::replace(&mut s.connected, true) {
                        // LCP already started on the call's first PPP frame.
                        return;
                    }
                    s.link.open(now);
                    self.flush_session(now, k);
                }
            }
            TunnelEvent::CallDisconnected { local_sid, info } => {
                // The "session closed" line carries the result and PPP cause.
                debug!(
                    tunnel = tid,
                    session = local_sid,
                    user = self.user_of(key(tid, local_sid)),
                    ?info,
                    "LAC disconnected the call"
                );
                let cause = Cause::LacDisconnect {
                    result: info.result,
                    ppp_cause: info.ppp_disconnect_cause.as_ref().map(|c| c.code),
                };
                self.end_session(now, key(tid, local_sid), cause, false);
            }
            TunnelEvent::Closed { reason } => {
                info!(tunnel = tid, ?reason, "tunnel closed");
                self.end_tunnel_sessions(now, tid, Cause::TunnelClosed);
            }
        }
    }

    /// Room for one more session: under max_sessions and not shutting down.
    fn has_room_for_a_call(&self) -> bool {
        let limit = self.settings.max_sessions as usize;
        !self.shutting_down && (limit == 0 || self.sessions.len() < limit)
    }

    fn refused_call(&mut self, tid: u16, peer_sid: u16) {
        self.stats.session_limit += 1;
        warn!(
            tunnel = tid,
            peer_session = peer_sid,
            "refusing a call: max_sessions {} reached or shutting down",
            self.settings.max_sessions
        );
    }

    /// End every session of a tunnel without CDNs (the tunnel is going).
    fn end_tunnel_sessions(&mut self, now: Instant, tid: u16, cause: Cause) {
        let sids: Vec<u16> = match self.tunnels.get(&tid) {
            Some(e) => e.sessions.iter().copied().collect(),
            None => return,
        };
        for sid in sids {
            self.end_session(now, key(tid, sid), cause.clone(), false);
        }
    }

    fn free_tunnel(&mut self, tid: u16) {
        if let Some(e) = self.tunnels.remove(&tid) {
            self.by_peer.remove(&(e.peer, e.tunnel.peer_id()));
            self.admission.tunnel_freed(e.peer.ip());
            self.timers.set(TimerKey::Tunnel(tid), None);
            self.tunnel_ids.release(tid);
            debug!(tunnel = tid, "tunnel freed");
        }
    }

    /// Drive a session: send what its PPP link queued, act on its events
    /// (which may queue more), and re-arm its timer.
    ///
    /// NetworkUp is acted on before the frames are sent: one of them may
    /// be the IPCP Configure-Ack that lets the peer send, and the data
    /// plane (the workers, the fast path's maps) must know the session
    /// before its first packet arrives. Every other event comes after the
    /// frames (a Terminate-Ack must go out before Closed ends the session).
    fn flush_session(&mut self, now: Instant, k: SessionKey) {
        loop {
            let events: Vec<ServerEvent> = match self.sessions.get_mut(&k) {
                Some(s) => std::iter::from_fn(|| s.link.poll_event()).collect(),
                None => return,
            };
            let idle = events.is_empty();
            let (up, rest): (Vec<_>, Vec<_>) = events
                .into_iter()
                .partition(|e| matches!(e, ServerEvent::NetworkUp { .. }));
            for ev in up {
                self.session_event(now, k, ev);
            }
            self.send_session_frames(k);
            if idle {
                break;
            }
            for ev in rest {
                self.session_event(now, k, ev);
            }
        }
        if let Some(s) = self.sessions.get_mut(&k) {
            if s.link.is_network_up() {
                // Drained: give back what setup's bursts made the queues grow to.
                s.link.release_idle_buffers();
            }
            self.arm_session(k);
        }
    }

    /// Where a tunnel's LAC is and its tunnel id for our data messages.
    fn tunnel_peer(&self, tid: u16) -> Option<(SocketAddr, u16)> {
        self.tunnels.get(&tid).map(|t| (t.peer, t.tunnel.peer_id()))
    }

    /// PPP frames go to the LAC inside L2TP data messages.
    fn send_session_frames(&mut self, k: SessionKey) {
        let Some((peer, peer_tid)) = self
            .tunnels
            .get(&k.tunnel)
            .map(|t| (t.peer, t.tunnel.peer_id()))
        else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&k) else {
            return;
        };
        while let Some(frame) = s.link.poll_transmit() {
            session::trace_frame("out", k, &frame, &s.link);
            let mut bytes = vec![0; DATA_HEADER_LEN];
            write_data_header(&mut bytes, peer_tid, s.peer_session);
            bytes.extend_from_slice(&frame);
            self.io.push_back(Io::L2tp { to: peer, bytes });
        }
    }

    // ---- administrative actions -----------------------------------------

    /// Clean shutdown (SIGQUIT): StopCCN to every tunnel, refuse new ones.
    pub(super) fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        // Every session's Stop is queued first, then Accounting-Off, then
        // the StopCCNs (which end the calls on the LACs' side).
        let tids: Vec<u16> = self.tunnels.keys().copied().collect();
        for &tid in &tids {
            self.end_tunnel_sessions(now, tid, Cause::AdminShutdown);
        }
        self.accounting_onoff(now, crate::radius::AcctStatus::AccountingOff);
        for tid in tids {
            if let Some(e) = self.tunnels.get_mut(&tid) {
                e.tunnel.close(now, super::teardown::stopccn_shutdown());
            }
            self.flush_tunnel(now, tid);
        }
    }

    /// Nothing left to wait for: no tunnel (but those only lingering after
    /// the peer's StopCCN: waiting a retransmission cycle, up to 31 s, to
    /// re-ack a StopCCN nobody will resend kept a stop waiting for its
    /// deadline), no accounting in flight.
    pub fn is_idle(&self) -> bool {
        self.tunnels.values().all(|t| t.tunnel.is_lingering())
            && self
                .aaa
                .as_ref()
                .is_none_or(|a| a.accounting_in_flight() == 0)
    }

    pub fn free_addresses(&self) -> usize {
        self.pool.free_count()
    }

    /// When the control loop must wake next: the next timer, but not
    /// sooner than TIMER_SLACK from now, and within half a second even
    /// when nothing is pending (the clock the workers read must tick).
    pub fn wake_deadline(&self, now: Instant) -> Instant {
        let tick = now + Duration::from_millis(500);
        self.timers
            .next()
            .map_or(tick, |t| t.max(now + TIMER_SLACK).min(tick))
    }
}

/// The IPv4 packet of a PPP frame (optional FF 03, 1- or 2-byte protocol).
fn ipv4_payload(frame: &[u8]) -> Option<&[u8]> {
    match crate::dataplane::ppp_data::parse(frame) {
        Ok((crate::dataplane::ppp_data::PROTO_IPV4, at)) => frame.get(at..),
        _ => None,
    }
}
