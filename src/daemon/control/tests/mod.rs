//! The control plane without root, sockets or a TUN device: a LAC
//! (`l2tp::lac`) and a PPP client (`ppp::client`) talk to it through its
//! I/O actions, on a clock driven by hand; a RADIUS server in the test
//! (`radius_server`) answers when the bench has one.

mod garden;
mod limits;
mod plugin_hooks;
mod radius_server;
mod session_hook;
mod session_ids;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{AuthDecision, AuthRequest, Authenticator};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::daemon::clock::Clock;
use crate::daemon::session_hook::{HookSettings, SessionFacts};
use crate::daemon::teardown::Cause;
use crate::dataplane::session_table::{SessionEntry, TableUpdate};
use crate::l2tp::lac::{LacConfig, LacEvent, LacTunnel, OutgoingCall};
use crate::l2tp::message::{ControlMessage, MessageType};
use crate::l2tp::wire::{write_data_header, Header, DATA_HEADER_LEN};
use crate::pool::AddressPool;
use crate::ppp::client::{ClientConfig, ClientEvent, ClientLink};

use super::command::{Command, Origin, Target};
use super::io::Io;
use super::{Aaa, ControlPlane};
use radius_server::FakeRadius;

/// alice / pw, nobody else.
struct OneUser;

impl Authenticator for OneUser {
    fn authenticate(&mut self, req: &AuthRequest<'_>) -> AuthDecision {
        match req.credentials {
            Credentials::Pap { password } if req.username == "alice" && password == b"pw" => {
                AuthDecision::Accept {
                    address: None,
                    message: "Welcome".into(),
                    attrs: Default::default(),
                }
            }
            _ => AuthDecision::Reject {
                message: "no".into(),
            },
        }
    }

    fn name(&self) -> &'static str {
        "test"
    }
}

const LAC: &str = "192.0.2.9:1701";
const TUN: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

/// A LAC with one PPP client against a control plane, all on one clock.
struct Bench {
    now: Instant,
    /// The control plane's clock, as the data plane reads it to stamp
    /// sessions.
    clock: Arc<Clock>,
    cp: ControlPlane,
    lac: LacTunnel,
    client: Option<(ClientLink, u16, u16)>,
    /// The password the PPP client presents.
    password: &'static str,
    up: Option<Ipv4Addr>,
    table: Vec<TableUpdate>,
    disconnected: bool,
    /// Answers the control plane's RADIUS requests, when it has RADIUS.
    radius: Option<FakeRadius>,
    /// Disconnect/CoA answers the control plane sent.
    dae_answers: Vec<Vec<u8>>,
    /// session_hook runs the control plane asked for, in order.
    hooks: Vec<(Arc<HookSettings>, SessionFacts)>,
    /// Kernel routes added (true) or removed (false).
    routes: Vec<(bool, ipnetwork::Ipv4Network)>,
    /// The call the LAC places once its tunnel is up.
    call: OutgoingCall,
    /// ICCNs from the LAC still to be lost on the way (control loss).
    lose_iccns: u32,
    /// The client's network came up (it may send) before the data plane
    /// was told of its session.
    up_before_table: bool,
}

impl Bench {
    /// Logins checked against `OneUser`.
    fn new(password: &'static str) -> Bench {
        Bench::build(password, None)
    }

    /// Logins and accounting through `server`, which accepts everyone.
    fn with_radius(server: FakeRadius) -> Bench {
        let now = Instant::now();
        let aaa = server.aaa(now);
        let mut b = Bench::build("pw", Some(aaa));
        b.radius = Some(server);
        b
    }

    fn build(password: &'static str, aaa: Option<Aaa>) -> Bench {
        Bench::build_with(password, aaa, &Config::default(), Box::new(OneUser))
    }

    /// A bench on `cfg`, logins checked by `auth`.
    fn build_with(
        password: &'static str,
        aaa: Option<Aaa>,
        cfg: &Config,
        auth: Box<dyn Authenticator>,
    ) -> Bench {
        let now = Instant::now();
        let settings = crate::daemon::settings::control_settings(cfg, TUN);
        let pool = AddressPool::new((1..=4).map(|i| Ipv4Addr::new(10, 100, 0, i)));
        let clock = Arc::new(Clock::new(now));
        let cp = ControlPlane::new(settings, pool, Some(auth), aaa, clock.clone());
        let lac = LacTunnel::new(Arc::new(LacConfig::default()), 7, [1; 16], now);
        Bench {
            now,
            clock,
            cp,
            lac,
            client: None,
            password,
            up: None,
            table: Vec::new(),
            disconnected: false,
            radius: None,
            dae_answers: Vec::new(),
            hooks: Vec::new(),
            routes: Vec::new(),
            call: OutgoingCall::default(),
            lose_iccns: 0,
            up_before_table: false,
        }
    }

    fn lac_addr() -> SocketAddr {
        LAC.parse().unwrap()
    }

    /// Everything each side has to say, until nobody says anything.
    fn exchange(&mut self) {
        for _ in 0..100 {
            let mut quiet = true;
            while let Some(d) = self.lac.poll_transmit(self.now) {
                quiet = false;
                if self.lose_iccns > 0 && is_iccn(&d) {
                    self.lose_iccns -= 1;
                    continue;
                }
                self.cp.handle_datagram(self.now, Self::lac_addr(), &d);
            }
            while let Some(io) = self.cp.poll_io() {
                quiet = false;
                match io {
                    Io::L2tp { to, bytes } => {
                        assert_eq!(to, Self::lac_addr());
                        let h = Header::parse(&bytes).unwrap();
                        if h.is_control() {
                            self.lac.handle_datagram(self.now, &bytes);
                        } else if let Some((c, _, _)) = self.client.as_mut() {
                            let was_up = c.is_network_up();
                            c.handle_frame(self.now, &bytes[h.payload_offset()..]);
                            if !was_up && c.is_network_up() && upserts(&self.table).is_empty() {
                                self.up_before_table = true;
                            }
                        }
                    }
                    Io::Table(u) => self.table.push(u),
                    Io::Radius { socket, to, bytes } => {
                        let server = self.radius.as_mut().expect("a RADIUS server");
                        let answer = server.answer(&bytes);
                        self.cp
                            .handle_radius_datagram(self.now, socket, to, &answer);
                    }
                    Io::Dae { bytes, .. } => self.dae_answers.push(bytes),
                    Io::RunHook { hook, facts } => self.hooks.push((hook, *facts)),
                    Io::Route { add, net } => self.routes.push((add, net)),
                    other => panic!("unexpected I/O {other:?}"),
                }
            }
            while let Some(ev) = self.lac.poll_event() {
                quiet = false;
                match ev {
                    LacEvent::Established => {
                        self.lac.place_call(self.now, self.call.clone());
                    }
                    LacEvent::CallUp {
                        local_sid,
                        peer_sid,
                    } => {
                        let cfg = ClientConfig {
                            username: "alice".into(),
                            password: self.password.into(),
                            allowed_auth: None,
                            mru: 1460,
                            restart_time: Duration::from_secs(3),
                            max_configure: 10,
                            max_failure: 5,
                            request_dns: true,
                        };
                        let mut c = ClientLink::new(cfg, 0x1234_5678, self.now);
                        c.open(self.now);
                        self.client = Some((c, local_sid, peer_sid));
                    }
                    LacEvent::CallDisconnected { .. } => self.disconnected = true,
                    LacEvent::Closed { .. } => {}
                }
            }
            if let Some((c, _, peer_sid)) = self.client.as_mut() {
                while let Some(frame) = c.poll_transmit() {
                    quiet = false;
                    let mut d = vec![0; DATA_HEADER_LEN];
                    write_data_header(&mut d, self.lac.peer_id(), *peer_sid);
                    d.extend_from_slice(&frame);
                    self.cp.handle_datagram(self.now, Self::lac_addr(), &d);
                }
                while let Some(ev) = c.poll_event() {
                    if let ClientEvent::Up { local_address, .. } = ev {
                        self.up = Some(local_address);
                    }
                }
            }
            if quiet {
                return;
            }
        }
        panic!("the exchange never settled");
    }

    /// Ticks of 100 ms until the client's network is up.
    fn come_up(&mut self) {
        self.exchange();
        for _ in 0..50 {
            if self.up.is_some() {
                return;
            }
            self.tick(Duration::from_millis(100));
        }
        panic!("the session never came up");
    }

    /// Ticks of 100 ms until the LAC got its CDN.
    fn until_disconnected(&mut self) {
        for _ in 0..100 {
            if self.disconnected {
                return;
            }
            self.exchange();
            self.tick(Duration::from_millis(100));
        }
        panic!("the LAC never got its CDN");
    }

    fn tick(&mut self, d: Duration) {
        self.now += d;
        self.cp.handle_timeouts(self.now);
        self.lac.handle_timeout(self.now);
        if let Some((c, _, _)) = self.client.as_mut() {
            c.handle_timeout(self.now);
        }
        self.exchange();
    }
}

fn is_iccn(datagram: &[u8]) -> bool {
    let Ok(h) = Header::parse(datagram) else {
        return false;
    };
    h.is_control()
        && ControlMessage::parse(&datagram[h.payload_offset()..], None)
            .is_ok_and(|m| m.message_type == MessageType::Iccn)
}

fn upserts(t: &[TableUpdate]) -> Vec<&SessionEntry> {
    t.iter()
        .filter_map(|u| match u {
            TableUpdate::Upsert(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn a_session_comes_up_and_is_dropped_through_the_command_layer() {
    let mut b = Bench::new("pw");
    b.come_up();
    assert_eq!(b.up, Some(Ipv4Addr::new(10, 100, 0, 1)));
    // The data plane was told, with the address and the LAC's ids.
    let entries = upserts(&b.table);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].address, Ipv4Addr::new(10, 100, 0, 1));
    assert_eq!(entries[0].peer, Bench::lac_addr());
    assert_eq!(b.cp.session_count(), 1);
    // Its fast-path line is held: no other tunnel's call gets ids on it.
    let k = entries[0].key;
    assert!(b.cp.lines.is_taken(k));
    // Before the frame that let the client send: its first packet finds
    // the session in the workers and the fast path's maps.
    assert!(
        !b.up_before_table,
        "the client was up before the data plane knew its session"
    );

    // An operator drops alice: PPP Terminate, then the CDN, then the table.
    let target = Target::User("alice".into());
    let r = b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Drop {
            target,
            cause: Cause::AdminReset,
        },
    );
    assert!(r.is_done(), "{r:?}");
    b.until_disconnected();
    assert_eq!(b.cp.session_count(), 0);
    assert!(b
        .table
        .iter()
        .any(|u| matches!(u, TableUpdate::Remove(k) if k.session == entries_session(&b.table))));
    assert_eq!(b.cp.free_addresses(), 4);
    assert!(!b.cp.lines.is_taken(k), "its line is let go");
    assert!(
        !b.cp.lines.is_free(k),
        "and rests before a new call gets it"
    );
}

fn entries_session(t: &[TableUpdate]) -> u16 {
    upserts(t).first().map_or(0, |e| e.key.session)
}

/// A LAC sends PPP only after its ICCN, so the call's first PPP frame starts
/// LCP even while the ICCN is lost: the peer's Configure-Requests are not
/// wasted waiting for the retransmission. The late ICCN changes nothing.
#[test]
fn ppp_before_a_lost_iccn_starts_lcp_and_the_late_iccn_does_not_restart_it() {
    let mut b = Bench::new("pw");
    b.lose_iccns = 1;
    b.exchange();
    assert!(b.client.is_some(), "the LAC placed its call");
    assert_eq!(b.lose_iccns, 0, "the ICCN was lost");
    // Within one PPP restart interval, before the LAC retransmits the ICCN.
    for _ in 0..5 {
        b.tick(Duration::from_millis(100));
    }
    assert!(b.up.is_some(), "network up without the ICCN");
    let entries_before = upserts(&b.table).len();
    b.tick(Duration::from_secs(2)); // the retransmitted ICCN arrives
    b.tick(Duration::from_secs(4));
    assert_eq!(upserts(&b.table).len(), entries_before, "no renegotiation");
    assert_eq!(b.cp.sessions.len(), 1);
    assert!(b.cp.sessions.values().all(|s| s.link.is_network_up()));
}

#[test]
fn a_wrong_password_is_refused_and_nothing_is_allocated() {
    let mut b = Bench::new("wrong");
    b.exchange();
    for _ in 0..100 {
        b.tick(Duration::from_millis(100));
    }
    assert!(b.client.is_some(), "the call came up");
    assert_eq!(b.up, None);
    assert!(upserts(&b.table).is_empty());
    assert_eq!(b.cp.free_addresses(), 4);
    assert!(b.cp.stats.auth_rejected >= 1);
}

/// A control plane like `Bench::new`'s, with nothing in it yet.
fn fresh_control_plane(now: Instant) -> ControlPlane {
    let cfg = Config::default();
    let settings = crate::daemon::settings::control_settings(&cfg, TUN);
    let pool = AddressPool::new((1..=4).map(|i| Ipv4Addr::new(10, 100, 0, i)));
    ControlPlane::new(
        settings,
        pool,
        Some(Box::new(OneUser)),
        None,
        Arc::new(Clock::new(now)),
    )
}

#[test]
fn a_saved_session_carries_on_in_a_new_control_plane_without_renegotiation() {
    let mut b = Bench::new("pw");
    b.exchange();
    for _ in 0..50 {
        if b.up.is_some() {
            break;
        }
        b.tick(Duration::from_millis(100));
    }
    assert_eq!(b.up, Some(Ipv4Addr::new(10, 100, 0, 1)));
    let before = upserts(&b.table)[0].clone();

    // Save, through the file format's encoder, and stop the old one.
    let state = b.cp.save_state(b.now);
    assert_eq!((state.tunnels.len(), state.sessions.len()), (1, 1));
    let bytes = bincode::encode_to_vec(&state, bincode::config::standard()).unwrap();
    let (state, _): (super::SavedState, usize) =
        bincode::decode_from_slice(&bytes, bincode::config::standard()).unwrap();

    // Two seconds later a new process takes it back.
    let away = Duration::from_secs(2);
    b.now += away;
    let mut cp = fresh_control_plane(b.now);
    let done = cp.restore_state(b.now, state, away);
    assert_eq!((done.tunnels, done.sessions, done.calls_dropped), (1, 1, 0));
    b.cp = cp;
    b.table.clear();
    b.up = None;
    // Nothing goes to the LAC or the client: only the data plane is told.
    while let Some(io) = b.cp.poll_io() {
        match io {
            Io::Table(u) => b.table.push(u),
            other => panic!("a restore says nothing to peers, got {other:?}"),
        }
    }
    let after = upserts(&b.table);
    assert_eq!(after.len(), 1);
    assert_eq!(
        (
            after[0].key,
            after[0].address,
            after[0].peer,
            after[0].peer_tunnel,
            after[0].peer_session
        ),
        (
            before.key,
            before.address,
            before.peer,
            before.peer_tunnel,
            before.peer_session
        )
    );
    assert_eq!(b.cp.session_count(), 1);
    assert_eq!(b.cp.free_addresses(), 3, "the address stays taken");

    // Two minutes of LCP echoes and L2TP HELLOs: both sides stay up and
    // nothing is negotiated again.
    for _ in 0..120 {
        b.tick(Duration::from_secs(1));
    }
    assert_eq!(b.up, None, "IPCP came up again: a renegotiation");
    assert!(!b.disconnected);
    assert!(b.lac.is_established());
    assert_eq!(b.cp.session_count(), 1);
    let (c, _, _) = b.client.as_ref().unwrap();
    assert!(c.is_network_up());

    // The restored session is an ordinary one: a drop reaches the LAC.
    let r = b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Drop {
            target: Target::User("alice".into()),
            cause: Cause::AdminReset,
        },
    );
    assert!(r.is_done(), "{r:?}");
    for _ in 0..100 {
        if b.disconnected {
            break;
        }
        b.tick(Duration::from_millis(100));
    }
    assert!(b.disconnected);
    assert_eq!(b.cp.free_addresses(), 4);
}

#[test]
fn a_stop_does_not_wait_for_tunnels_the_lac_closed() {
    let mut b = Bench::new("pw");
    b.come_up();
    assert!(!b.cp.is_idle(), "a tunnel with a session is work left");
    b.lac
        .close(b.now, crate::daemon::teardown::stopccn_shutdown());
    b.exchange();
    // The LNS acknowledged the StopCCN and keeps the tunnel a
    // retransmission cycle to re-ack it; a stop need not wait for that.
    assert_eq!(b.cp.session_count(), 0);
    assert_eq!(b.cp.closing_tunnel_count(), 1);
    assert!(b.cp.is_idle());
}

#[test]
fn a_stop_waits_for_the_lac_to_acknowledge_its_stopccn() {
    let mut b = Bench::new("pw");
    b.come_up();
    b.cp.shutdown(b.now);
    // Our StopCCN is queued, not yet acknowledged.
    assert!(!b.cp.is_idle());
    b.exchange();
    assert!(b.cp.is_idle());
}

#[test]
fn upstream_traffic_postpones_the_echoes_and_silence_brings_them() {
    let mut b = Bench::new("pw");
    b.come_up();
    let counters = upserts(&b.table)[0].counters.clone();
    let echoes = |b: &Bench| b.client.as_ref().unwrap().0.stats().echo_requests_received;
    let before = echoes(&b);
    // The data plane stamps the session every second for 35 s (3.5 times
    // the default echo_timeout of 10 s): no echo is due.
    for _ in 0..35 {
        b.tick(Duration::from_secs(1));
        // As the control loop and a worker do: the clock at b.now, then
        // the session's stamp from it.
        b.clock.update(b.now);
        counters
            .last_rx_tick
            .store(b.clock.tick(), std::sync::atomic::Ordering::Relaxed);
    }
    assert_eq!(echoes(&b), before, "an echo despite traffic");
    // Then nothing from the user: an echo after echo_timeout.
    for _ in 0..12 {
        b.tick(Duration::from_secs(1));
    }
    assert!(echoes(&b) > before, "no echo after 12 s of silence");
}

#[test]
fn a_silent_sessions_echo_goes_out_within_the_sweep_of_its_due_time() {
    use crate::daemon::control::activity_gate::SWEEP_EVERY_MS;
    let mut b = Bench::new("pw");
    b.come_up();
    let echoes = |b: &Bench| b.client.as_ref().unwrap().0.stats().echo_requests_received;
    let before = echoes(&b);
    let t0 = b.now;
    while echoes(&b) == before {
        b.tick(Duration::from_millis(10));
        assert!(b.now - t0 < Duration::from_secs(12), "no echo in 12 s");
    }
    // echo_timeout is 10 s from the last frame (at most t0); the sweep
    // that finds it due comes within SWEEP_EVERY_MS.
    let late = b.now - t0;
    assert!(
        late <= Duration::from_millis(10_000 + SWEEP_EVERY_MS + 20),
        "{late:?}"
    );
    assert!(late >= Duration::from_millis(9_000), "{late:?}");
}
