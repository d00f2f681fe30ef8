//! The LNS side of one PPP link (RFC 1661 §3 phases): LCP, then PAP or
//! CHAP with the decision left to the caller (RADIUS), then IPCP; LCP
//! Echo keepalive and idle timeout (l2tpns echo_timeout/idle_echo_timeout),
//! Protocol-Reject of protocols we do not run (§5.7). Sans-IO in the
//! quinn-proto shape: `handle_*` in, `poll_*` out, time passed in.

use crate::credentials::Credentials;
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chap::{self, ChapServer, ChapServerAction, ChapValue};
use super::fsm::{Fsm, FsmConfig, FsmOutput, GaveUp, LayerEvent};
use super::ipcp::IpcpServer;
use super::lcp::{AuthPolicy, LcpNegotiator};
use super::pap::{self, PapRequest, PapServer, PapServerAction};
use super::wire::{code, emit_frame, protocol, ControlPacket, Frame};

mod snapshot;
pub use self::snapshot::LinkSnapshot;
pub use super::fsm::State;
pub use super::ipcp::NetworkGrant;
pub use super::lcp::AuthProto;
pub use super::link::{CloseReason, LinkStats, Phase};

/// Per-server PPP settings (from the l2tpns startup config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Our MRU (from l2tp_mtu).
    pub mru: u16,
    /// radius_authtypes order, first preferred; non-empty.
    pub auth_order: Vec<AuthProto>,
    /// ppp_restart_time (3 s).
    pub restart_time: Duration,
    /// ppp_max_configure (10).
    pub max_configure: u32,
    /// ppp_max_failure (5).
    pub max_failure: u32,
    /// echo_timeout (10 s): Echo-Request after this long without hearing
    /// from the peer. Zero disables echoes.
    pub echo_interval: Duration,
    /// idle_echo_timeout (240 s): close after this long without hearing
    /// from the peer. Zero disables the check.
    pub idle_timeout: Duration,
    /// ppp_keepalive = no: echo every echo_interval even when traffic flows.
    pub echo_always: bool,
    /// CHAP Name in our Challenge.
    pub hostname: String,
    /// Our IPCP address.
    pub local_address: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// Answer with `auth_accept` or `auth_reject`, now or later.
    AuthRequest {
        username: String,
        credentials: Credentials,
    },
    /// IPCP Opened: data may flow.
    NetworkUp { peer_address: Ipv4Addr },
    /// IPCP left Opened.
    NetworkDown,
    /// LCP finished: send CDN and free the session.
    Closed { reason: CloseReason },
}

#[derive(Debug)]
enum Auth {
    None,
    Pap(PapServer),
    /// Boxed: CHAP's state is several times PAP's, and the enum would
    /// otherwise be that size on every link.
    Chap(Box<ChapServer>),
}

/// One LNS-side PPP link.
#[derive(Debug)]
pub struct ServerLink {
    cfg: Arc<ServerConfig>,
    challenge: [u8; 16],
    phase: Phase,
    lcp: Fsm<LcpNegotiator>,
    ipcp: Fsm<IpcpServer>,
    auth: Auth,
    /// Give up waiting for a PAP request at this time.
    auth_deadline: Option<Instant>,
    /// An IPCP Configure-Request that arrived during authentication,
    /// replayed once the network phase starts (saves the peer a restart).
    early_ipcp: Option<Vec<u8>>,
    /// Our PAP Ack / CHAP Success, repeated with each IPCP request until
    /// the peer sends IPCP: if it was lost, a peer that does not repeat
    /// its Response would discard our IPCP forever.
    auth_success: Option<Vec<u8>>,
    /// IPCP requests sent while `auth_success` is held.
    ipcp_unheard_requests: u32,
    last_rx: Instant,
    last_echo: Option<Instant>,
    lcp_opened_at: Instant,
    close_reason: Option<CloseReason>,
    closed: bool,
    network_up: bool,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<ServerEvent>,
    stats: LinkStats,
}

fn fsm_config(restart_time: Duration, max_configure: u32, max_failure: u32) -> FsmConfig {
    FsmConfig {
        restart_time,
        max_configure,
        max_terminate: 2,
        max_failure,
    }
}

impl ServerLink {
    /// `magic` and `challenge` are random values from the caller.
    pub fn new(cfg: Arc<ServerConfig>, magic: u32, challenge: [u8; 16], now: Instant) -> Self {
        let fc = fsm_config(cfg.restart_time, cfg.max_configure, cfg.max_failure);
        let lcp = LcpNegotiator::new(cfg.mru, magic, AuthPolicy::Require(cfg.auth_order.clone()));
        let placeholder = NetworkGrant {
            peer_address: Ipv4Addr::UNSPECIFIED,
            dns: [None, None],
        };
        let ipcp = IpcpServer::new(cfg.local_address, placeholder);
        ServerLink {
            challenge,
            phase: Phase::Dead,
            lcp: Fsm::new(lcp, fc),
            ipcp: Fsm::new(ipcp, fc),
            auth: Auth::None,
            auth_deadline: None,
            early_ipcp: None,
            auth_success: None,
            ipcp_unheard_requests: 0,
            last_rx: now,
            last_echo: None,
            lcp_opened_at: now,
            close_reason: None,
            closed: false,
            network_up: false,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            stats: LinkStats::default(),
            cfg,
        }
    }

    // ---- getters ----

    pub fn peer_mru(&self) -> u16 {
        self.lcp.neg.peer_mru()
    }

    /// The DNS servers IPCP grants (or granted) the peer.
    pub fn dns(&self) -> [Option<std::net::Ipv4Addr>; 2] {
        self.ipcp.neg.grant().dns
    }

    pub fn is_network_up(&self) -> bool {
        self.network_up
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn lcp_state(&self) -> State {
        self.lcp.state()
    }

    pub fn ipcp_state(&self) -> State {
        self.ipcp.state()
    }

    // ---- poll ----

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Free the buffers of drained queues. Call after `poll_transmit` and
    /// `poll_event` returned None on a long-lived (network up) link: the
    /// queues keep the capacity of their busiest moment (setup), several
    /// hundred bytes a session otherwise. Changes nothing else.
    pub fn release_idle_buffers(&mut self) {
        if self.tx.is_empty() && self.tx.capacity() > 0 {
            self.tx = VecDeque::new();
        }
        if self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
        self.lcp.release_idle_buffers();
        self.ipcp.release_idle_buffers();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.protocol_deadline();
        if self.keepalive_active() {
            t = min_opt(t, self.next_echo());
            t = min_opt(t, self.idle_deadline());
        }
        t
    }

    /// The deadlines that do not count from the peer's activity: the
    /// automata's restart timers, the authentication deadline and a CHAP
    /// Challenge's retransmission.
    fn protocol_deadline(&self) -> Option<Instant> {
        let t = [
            self.lcp.poll_timeout(),
            self.ipcp.poll_timeout(),
            self.auth_deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        match &self.auth {
            Auth::Chap(c) => min_opt(t, c.poll_timeout()),
            _ => t,
        }
    }

    /// When every deadline this link has left counts from the peer's last
    /// activity (an established link's echo and idle checks, `echo_always`
    /// off, nothing retransmitting): the shortest of those spans. Traffic
    /// stamped at T then puts the link's next deadline no earlier than
    /// T + span, so a caller that sees newer traffic can wait that long
    /// without asking the link again (the control plane's echo checks at
    /// 100,000 sessions, which would otherwise read every busy session's
    /// link each echo_timeout).
    pub fn activity_span(&self) -> Option<Duration> {
        if !self.keepalive_active() || self.cfg.echo_always || self.protocol_deadline().is_some() {
            return None;
        }
        [self.cfg.echo_interval, self.cfg.idle_timeout]
            .into_iter()
            .filter(|d| !d.is_zero())
            .min()
    }

    // ---- commands ----

    /// The lower layer is up: start LCP.
    pub fn open(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.last_rx = now;
        self.phase = Phase::Establish;
        self.lcp.open(now);
        self.lcp.up(now);
        self.pump(now);
    }

    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.close_reason.get_or_insert(reason);
        self.lcp.close(now);
        self.pump(now);
        // Close from Closed/Stopped/Initial finishes without a tlf.
        if matches!(self.lcp.state(), State::Initial | State::Closed) {
            self.finish();
        }
    }

    pub fn auth_accept(&mut self, now: Instant, message: &str, grant: NetworkGrant) {
        let Some(reply) = self.decide(true, message) else {
            return;
        };
        self.tx_frame(reply.clone());
        self.auth_success = Some(reply);
        self.ipcp_unheard_requests = 0;
        self.ipcp.neg.set_grant(grant);
        self.phase = Phase::Network;
        self.ipcp.open(now);
        self.ipcp.up(now);
        if let Some(req) = self.early_ipcp.take() {
            if let Ok(p) = ControlPacket::parse(&req) {
                self.ipcp.handle_packet(now, &p);
            }
        }
        self.pump(now);
    }

    pub fn auth_reject(&mut self, now: Instant, message: &str) {
        let Some(reply) = self.decide(false, message) else {
            return;
        };
        self.tx_frame(reply);
        self.close(now, CloseReason::AuthFailed);
    }

    /// The PAP Ack/Nak or CHAP Success/Failure frame, if a decision was due.
    fn decide(&mut self, success: bool, message: &str) -> Option<Vec<u8>> {
        if self.closed || self.phase != Phase::Authenticate {
            return None;
        }
        match &mut self.auth {
            Auth::Pap(s) => s
                .decide(success, message.as_bytes())
                .map(|p| framed(protocol::PAP, &p)),
            Auth::Chap(s) => s
                .decide(success, message.as_bytes())
                .map(|p| framed(protocol::CHAP, &p)),
            Auth::None => None,
        }
    }

    pub fn note_peer_activity(&mut self, at: Instant) {
        self.last_rx = self.last_rx.max(at);
    }

    // ---- input ----

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.lcp.handle_timeout(now);
        self.ipcp.handle_timeout(now);
        self.auth_timeout(now);
        self.keepalive(now);
        self.pump(now);
    }

    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.frames_received += 1;
        self.note_peer_activity(now);
        let frame = match Frame::parse(frame) {
            Ok(f) => f,
            Err(_) => {
                self.stats.malformed_frames += 1;
                return;
            }
        };
        match frame.protocol() {
            protocol::LCP => self.handle_lcp(now, frame.payload()),
            protocol::PAP => self.handle_pap(frame.payload()),
            protocol::CHAP => self.handle_chap(frame.payload()),
            protocol::IPCP => self.handle_ipcp(now, frame.payload()),
            // Data the data plane did not keep: too early, or not ours.
            protocol::IPV4 => self.stats.discarded_frames += 1,
            other => self.protocol_reject(other, frame.payload()),
        }
        self.pump(now);
    }

    fn handle_lcp(&mut self, now: Instant, payload: &[u8]) {
        let Some(p) = self.control_packet(payload) else {
            return;
        };
        let opened = self.lcp.state() == State::Opened;
        match p.code() {
            code::PROTOCOL_REJECT => {
                self.stats.protocol_rejects_received += 1;
                if !opened {
                    return;
                }
                match p.data() {
                    [0xC0, 0x21, ..] => self.lcp.rxj(now, false),
                    [0x80, 0x21, ..] => self.ipcp.rxj(now, false),
                    _ => {}
                }
            }
            code::ECHO_REQUEST => {
                self.stats.echo_requests_received += 1;
                if opened {
                    let mut data = self.lcp.neg.magic().to_be_bytes().to_vec();
                    data.extend_from_slice(p.data().get(4..).unwrap_or(&[]));
                    self.lcp.send(code::ECHO_REPLY, p.identifier(), &data);
                }
            }
            code::ECHO_REPLY => self.stats.echo_replies_received += 1,
            code::DISCARD_REQUEST => {}
            code::TERMINATE_REQUEST if opened => {
                self.close_reason.get_or_insert(CloseReason::PeerTerminated);
                self.lcp.handle_packet(now, &p);
            }
            _ => {
                self.lcp.handle_packet(now, &p);
                if self.lcp.neg.loopback_detected() {
                    self.close_reason
                        .get_or_insert(CloseReason::LoopbackDetected);
                    self.lcp.close(now);
                }
            }
        }
    }

    fn handle_pap(&mut self, payload: &[u8]) {
        if !matches!(self.phase, Phase::Authenticate | Phase::Network) {
            self.stats.discarded_frames += 1;
            return;
        }
        let Some(p) = self.control_packet(payload) else {
            return;
        };
        if p.code() != pap::code::AUTHENTICATE_REQUEST {
            self.stats.discarded_frames += 1;
            return;
        }
        let Ok(req) = PapRequest::parse(p.data()) else {
            self.stats.malformed_frames += 1;
            return;
        };
        // Some peers (SonicWall) send PAP although CHAP was negotiated:
        // take it if PAP is allowed and the CHAP exchange has not started.
        if let Auth::Chap(c) = &self.auth {
            if c.is_challenging() && self.cfg.auth_order.contains(&AuthProto::Pap) {
                self.auth = Auth::Pap(PapServer::new());
            }
        }
        let Auth::Pap(server) = &mut self.auth else {
            self.stats.discarded_frames += 1;
            return;
        };
        match server.handle_request(p.identifier(), &req) {
            PapServerAction::Ask { username, password } => {
                self.auth_deadline = None;
                self.events.push_back(ServerEvent::AuthRequest {
                    username: String::from_utf8_lossy(&username).into_owned(),
                    credentials: Credentials::Pap { password },
                });
            }
            PapServerAction::Wait => {}
            PapServerAction::Reply(r) => {
                self.tx_frame(framed(protocol::PAP, &r));
                self.peer_missed_auth_result();
            }
        }
    }

    fn handle_chap(&mut self, payload: &[u8]) {
        if !matches!(self.phase, Phase::Authenticate | Phase::Network) {
            self.stats.discarded_frames += 1;
            return;
        }
        let Some(p) = self.control_packet(payload) else {
            return;
        };
        let Auth::Chap(server) = &mut self.auth else {
            self.stats.discarded_frames += 1;
            return;
        };
        if p.code() != chap::code::RESPONSE {
            self.stats.discarded_frames += 1;
            return;
        }
        let Ok(resp) = ChapValue::parse(p.data()) else {
            self.stats.malformed_frames += 1;
            return;
        };
        match server.handle_response(p.identifier(), &resp) {
            ChapServerAction::Ask {
                username,
                id,
                challenge,
                response,
            } => self.events.push_back(ServerEvent::AuthRequest {
                username: String::from_utf8_lossy(&username).into_owned(),
                credentials: Credentials::Chap {
                    id,
                    challenge,
                    response,
                },
            }),
            ChapServerAction::Ignore => {}
            ChapServerAction::Reply(r) => {
                self.tx_frame(framed(protocol::CHAP, &r));
                self.peer_missed_auth_result();
            }
        }
    }

    fn handle_ipcp(&mut self, now: Instant, payload: &[u8]) {
        let Some(p) = self.control_packet(payload) else {
            return;
        };
        match self.phase {
            Phase::Network => {
                self.auth_success = None;
                self.ipcp.handle_packet(now, &p)
            }
            Phase::Authenticate if p.code() == code::CONFIGURE_REQUEST => {
                self.early_ipcp = Some(p.to_bytes())
            }
            _ => self.stats.discarded_frames += 1,
        }
    }

    /// RFC 1661 §5.7: only in LCP Opened; quote as much as the peer's MRU allows.
    fn protocol_reject(&mut self, rejected: u16, payload: &[u8]) {
        if self.lcp.state() != State::Opened {
            self.stats.discarded_frames += 1;
            return;
        }
        let room = usize::from(self.peer_mru()).saturating_sub(6);
        let mut data = rejected.to_be_bytes().to_vec();
        data.extend_from_slice(payload.get(..room).unwrap_or(payload));
        let id = self.lcp.alloc_id();
        self.lcp.send(code::PROTOCOL_REJECT, id, &data);
        self.stats.protocol_rejects_sent += 1;
    }

    /// The peer repeated its PAP request / CHAP Response after our
    /// decision: it had not seen the result, so it was still
    /// authenticating and discarded our IPCP requests. Those do not count.
    fn peer_missed_auth_result(&mut self) {
        if self.phase == Phase::Network && self.auth_success.is_some() {
            self.ipcp.renew_configure_count();
        }
    }

    fn control_packet<'a>(&mut self, payload: &'a [u8]) -> Option<ControlPacket<'a>> {
        match ControlPacket::parse(payload) {
            Ok(p) => Some(p),
            Err(_) => {
                self.stats.malformed_frames += 1;
                None
            }
        }
    }

    // ---- timers ----

    fn auth_timeout(&mut self, now: Instant) {
        if self.auth_deadline.is_some_and(|t| t <= now) {
            self.auth_deadline = None;
            self.close(now, CloseReason::AuthTimeout);
            return;
        }
        if let Auth::Chap(c) = &mut self.auth {
            match c.handle_timeout(now) {
                Ok(Some(p)) => self.tx_frame(framed(protocol::CHAP, &p)),
                Ok(None) => {}
                Err(GaveUp) => self.close(now, CloseReason::AuthTimeout),
            }
        }
    }

    fn keepalive_active(&self) -> bool {
        !self.closed && self.lcp.state() == State::Opened
    }

    fn next_echo(&self) -> Option<Instant> {
        if self.cfg.echo_interval.is_zero() {
            return None;
        }
        let base = if self.cfg.echo_always {
            self.last_echo.unwrap_or(self.lcp_opened_at)
        } else {
            self.last_echo.map_or(self.last_rx, |e| e.max(self.last_rx))
        };
        Some(base + self.cfg.echo_interval)
    }

    fn idle_deadline(&self) -> Option<Instant> {
        if self.cfg.idle_timeout.is_zero() {
            return None;
        }
        Some(self.last_rx + self.cfg.idle_timeout)
    }

    fn keepalive(&mut self, now: Instant) {
        if !self.keepalive_active() {
            return;
        }
        if self.idle_deadline().is_some_and(|t| t <= now) {
            self.close(now, CloseReason::EchoTimeout);
            return;
        }
        if self.next_echo().is_some_and(|t| t <= now) {
            self.last_echo = Some(now);
            let id = self.lcp.alloc_id();
            let magic = self.lcp.neg.magic().to_be_bytes();
            self.lcp.send(code::ECHO_REQUEST, id, &magic);
            self.stats.echo_requests_sent += 1;
        }
    }

    // ---- automaton outputs ----

    /// Drain both automata until quiet, acting on their layer events.
    fn pump(&mut self, now: Instant) {
        loop {
            if let Some(o) = self.lcp.poll_output() {
                self.lcp_output(now, o);
            } else if let Some(o) = self.ipcp.poll_output() {
                self.ipcp_output(now, o);
            } else {
                break;
            }
        }
    }

    fn lcp_output(&mut self, now: Instant, o: FsmOutput) {
        match o {
            FsmOutput::Packet(p) => self.tx_frame(framed(protocol::LCP, &p)),
            FsmOutput::NegotiationFailed => {
                let reason = self.lcp.neg.failure_reason();
                self.close_reason.get_or_insert(reason);
            }
            FsmOutput::Layer(LayerEvent::Up) => self.lcp_up(now),
            FsmOutput::Layer(LayerEvent::Down) => self.lcp_down(now),
            FsmOutput::Layer(LayerEvent::Started) => {}
            FsmOutput::Layer(LayerEvent::Finished) => {
                self.phase = Phase::Dead;
                self.note_lcp_finish();
                self.finish();
            }
        }
    }

    fn ipcp_output(&mut self, now: Instant, o: FsmOutput) {
        match o {
            FsmOutput::Packet(p) => {
                // A retransmitted Configure-Request before the peer spoke IPCP.
                let request = p.first() == Some(&code::CONFIGURE_REQUEST);
                if let Some(ok) = self.auth_success.as_ref().filter(|_| request) {
                    // The first request goes right after the result itself.
                    if self.ipcp_unheard_requests > 0 {
                        let ok = ok.clone();
                        self.tx_frame(ok);
                    }
                    self.ipcp_unheard_requests = self.ipcp_unheard_requests.saturating_add(1);
                }
                self.tx_frame(framed(protocol::IPCP, &p))
            }
            FsmOutput::NegotiationFailed => {
                self.close_reason
                    .get_or_insert(CloseReason::NegotiationFailed);
            }
            FsmOutput::Layer(LayerEvent::Up) => {
                self.network_up = true;
                let peer_address = self
                    .ipcp
                    .neg
                    .peer_address()
                    .unwrap_or(Ipv4Addr::UNSPECIFIED);
                self.events
                    .push_back(ServerEvent::NetworkUp { peer_address });
            }
            FsmOutput::Layer(LayerEvent::Down) => {
                if self.network_up {
                    self.network_up = false;
                    self.events.push_back(ServerEvent::NetworkDown);
                }
            }
            FsmOutput::Layer(LayerEvent::Started) => {}
            // IPCP gave up: without a network layer the link is useless.
            FsmOutput::Layer(LayerEvent::Finished) => {
                if self.phase == Phase::Network {
                    let reason = if self.ipcp.configure_timed_out() {
                        CloseReason::ConfigureTimeout
                    } else {
                        CloseReason::NegotiationFailed
                    };
                    self.close(now, reason);
                }
            }
        }
    }

    fn lcp_up(&mut self, now: Instant) {
        self.phase = Phase::Authenticate;
        self.lcp_opened_at = now;
        self.last_echo = None;
        self.early_ipcp = None;
        let cfg = &self.cfg;
        match self.lcp.neg.our_auth() {
            Some(AuthProto::Chap) => {
                let mut c = ChapServer::new(
                    self.challenge,
                    cfg.hostname.as_bytes(),
                    cfg.restart_time,
                    cfg.max_configure,
                );
                let p = c.start(now);
                self.auth = Auth::Chap(Box::new(c));
                self.tx_frame(framed(protocol::CHAP, &p));
            }
            Some(AuthProto::Pap) => {
                self.auth = Auth::Pap(PapServer::new());
                self.auth_deadline = Some(now + cfg.restart_time * cfg.max_configure.max(1));
            }
            // Only with an empty auth_order: we never let a peer in unauthenticated.
            None => self.close(now, CloseReason::NegotiationFailed),
        }
    }

    fn lcp_down(&mut self, now: Instant) {
        self.phase = if matches!(self.lcp.state(), State::Closing | State::Stopping) {
            Phase::Terminate
        } else {
            Phase::Establish
        };
        self.auth = Auth::None;
        self.auth_deadline = None;
        self.early_ipcp = None;
        self.auth_success = None;
        self.ipcp.down();
        self.ipcp.close(now);
    }

    /// Every way LCP finishes without a reason already noted is a
    /// negotiation failure of some kind; say which.
    fn note_lcp_finish(&mut self) {
        let reason = if self.lcp.configure_timed_out() {
            CloseReason::ConfigureTimeout
        } else {
            CloseReason::NegotiationFailed
        };
        self.close_reason.get_or_insert(reason);
    }

    fn finish(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.phase = Phase::Dead;
        self.auth_deadline = None;
        let reason = self.close_reason.unwrap_or(CloseReason::NegotiationFailed);
        self.events.push_back(ServerEvent::Closed { reason });
    }

    fn tx_frame(&mut self, frame: Vec<u8>) {
        self.stats.frames_sent += 1;
        self.tx.push_back(frame);
    }
}

fn framed(proto: u16, packet: &[u8]) -> Vec<u8> {
    emit_frame(proto, packet)
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
