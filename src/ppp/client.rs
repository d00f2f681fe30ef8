//! The client side of one PPP link, as a dial-up peer would run it (used by
//! the load generator): LCP accepting the server's Authentication-Protocol
//! (RFC 1661 §6.2), PAP (RFC 1334) or CHAP-MD5 (RFC 1994) as the peer, then
//! IPCP asking for an address and DNS servers (RFC 1332, RFC 1877).

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::chap::{self, ChapClient, ChapClientResult, ChapValue};
use super::fsm::{Fsm, FsmConfig, FsmOutput, GaveUp, LayerEvent};
use super::ipcp::IpcpClient;
use super::lcp::{AuthPolicy, LcpNegotiator};
use super::pap::{PapClient, PapClientResult};
use super::wire::{code, emit_frame, protocol, ControlPacket, Frame};

pub use super::fsm::State;
pub use super::lcp::AuthProto;
pub use super::link::{CloseReason, LinkStats, Phase};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    pub username: String,
    pub password: String,
    /// None: accept PAP or CHAP, whichever the server asks for.
    pub allowed_auth: Option<AuthProto>,
    pub mru: u16,
    pub restart_time: Duration,
    pub max_configure: u32,
    pub max_failure: u32,
    pub request_dns: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// IPCP Opened.
    Up {
        local_address: Ipv4Addr,
        peer_address: Ipv4Addr,
        dns: [Option<Ipv4Addr>; 2],
    },
    /// PAP Nak or CHAP Failure; the link closes next.
    AuthFailed { message: String },
    /// LCP finished.
    Closed { reason: CloseReason },
}

#[derive(Debug)]
enum Auth {
    None,
    Pap(PapClient),
    Chap(ChapClient),
}

/// One client-side PPP link.
#[derive(Debug)]
pub struct ClientLink {
    cfg: ClientConfig,
    phase: Phase,
    lcp: Fsm<LcpNegotiator>,
    ipcp: Fsm<IpcpClient>,
    auth: Auth,
    /// Give up waiting for a CHAP Challenge at this time.
    auth_deadline: Option<Instant>,
    close_reason: Option<CloseReason>,
    closed: bool,
    network_up: bool,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<ClientEvent>,
    stats: LinkStats,
}

impl ClientLink {
    pub fn new(cfg: ClientConfig, magic: u32, _now: Instant) -> ClientLink {
        let fc = FsmConfig {
            restart_time: cfg.restart_time,
            max_configure: cfg.max_configure,
            max_terminate: 2,
            max_failure: cfg.max_failure,
        };
        let lcp = LcpNegotiator::new(cfg.mru, magic, AuthPolicy::Accept(cfg.allowed_auth));
        let ipcp = IpcpClient::new(cfg.request_dns);
        ClientLink {
            phase: Phase::Dead,
            lcp: Fsm::new(lcp, fc),
            ipcp: Fsm::new(ipcp, fc),
            auth: Auth::None,
            auth_deadline: None,
            close_reason: None,
            closed: false,
            network_up: false,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            stats: LinkStats::default(),
            cfg,
        }
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

    pub fn is_network_up(&self) -> bool {
        self.network_up
    }

    pub fn peer_mru(&self) -> u16 {
        self.lcp.neg.peer_mru()
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let auth = match &self.auth {
            Auth::Pap(p) => p.poll_timeout(),
            Auth::Chap(c) => c.poll_timeout(),
            Auth::None => None,
        };
        [
            self.lcp.poll_timeout(),
            self.ipcp.poll_timeout(),
            self.auth_deadline,
            auth,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn open(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.phase = Phase::Establish;
        self.lcp.open(now);
        self.lcp.up(now);
        self.pump(now);
    }

    pub fn close(&mut self, now: Instant) {
        self.close_with(now, CloseReason::AdminClose);
    }

    fn close_with(&mut self, now: Instant, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.close_reason.get_or_insert(reason);
        self.lcp.close(now);
        self.pump(now);
        if matches!(self.lcp.state(), State::Initial | State::Closed) {
            self.finish();
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.lcp.handle_timeout(now);
        self.ipcp.handle_timeout(now);
        if self.auth_deadline.is_some_and(|t| t <= now) {
            self.auth_deadline = None;
            self.close_with(now, CloseReason::AuthTimeout);
        }
        let resend = match &mut self.auth {
            Auth::Pap(p) => p.handle_timeout(now).map(|o| o.map(|p| (protocol::PAP, p))),
            Auth::Chap(c) => c
                .handle_timeout(now)
                .map(|o| o.map(|p| (protocol::CHAP, p))),
            Auth::None => Ok(None),
        };
        match resend {
            Ok(Some((proto, pkt))) => self.tx_frame(emit_frame(proto, &pkt)),
            Ok(None) => {}
            Err(GaveUp) => self.close_with(now, CloseReason::AuthTimeout),
        }
        self.pump(now);
    }

    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        if self.closed {
            return;
        }
        self.stats.frames_received += 1;
        let Ok(frame) = Frame::parse(frame) else {
            self.stats.malformed_frames += 1;
            return;
        };
        let Ok(p) = ControlPacket::parse(frame.payload()) else {
            if frame.protocol() == protocol::IPV4 {
                self.stats.discarded_frames += 1;
            } else {
                self.stats.malformed_frames += 1;
            }
            return;
        };
        match frame.protocol() {
            protocol::LCP => self.handle_lcp(now, &p),
            protocol::PAP => self.handle_pap(now, &p),
            protocol::CHAP => self.handle_chap(now, &p),
            protocol::IPCP if self.phase == Phase::Network => self.ipcp.handle_packet(now, &p),
            protocol::IPCP | protocol::IPV4 => self.stats.discarded_frames += 1,
            other => self.protocol_reject(other, frame.payload()),
        }
        self.pump(now);
    }

    fn handle_lcp(&mut self, now: Instant, p: &ControlPacket<'_>) {
        let opened = self.lcp.state() == State::Opened;
        match p.code() {
            code::PROTOCOL_REJECT => {
                self.stats.protocol_rejects_received += 1;
                if opened {
                    match p.data() {
                        [0xC0, 0x21, ..] => self.lcp.rxj(now, false),
                        [0x80, 0x21, ..] => self.ipcp.rxj(now, false),
                        _ => {}
                    }
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
                self.lcp.handle_packet(now, p);
            }
            _ => {
                self.lcp.handle_packet(now, p);
                if self.lcp.neg.loopback_detected() {
                    self.close_reason
                        .get_or_insert(CloseReason::LoopbackDetected);
                    self.lcp.close(now);
                }
            }
        }
    }

    fn handle_pap(&mut self, now: Instant, p: &ControlPacket<'_>) {
        let Auth::Pap(client) = &mut self.auth else {
            self.stats.discarded_frames += 1;
            return;
        };
        match client.handle_reply(p.code(), p.identifier(), p.data()) {
            Some(PapClientResult::Success) => self.start_network(now),
            Some(PapClientResult::Failure(msg)) => self.auth_failed(now, &msg),
            None => {}
        }
    }

    fn handle_chap(&mut self, now: Instant, p: &ControlPacket<'_>) {
        let Auth::Chap(client) = &mut self.auth else {
            self.stats.discarded_frames += 1;
            return;
        };
        if p.code() == chap::code::CHALLENGE {
            let Ok(ch) = ChapValue::parse(p.data()) else {
                self.stats.malformed_frames += 1;
                return;
            };
            self.auth_deadline = None;
            let resp = client.handle_challenge(now, p.identifier(), &ch);
            self.tx_frame(emit_frame(protocol::CHAP, &resp));
            return;
        }
        match client.handle_result(p.code(), p.identifier(), p.data()) {
            Some(ChapClientResult::Success) => self.start_network(now),
            Some(ChapClientResult::Failure(msg)) => self.auth_failed(now, &msg),
            None => {}
        }
    }

    fn auth_failed(&mut self, now: Instant, message: &[u8]) {
        self.events.push_back(ClientEvent::AuthFailed {
            message: String::from_utf8_lossy(message).into_owned(),
        });
        self.close_with(now, CloseReason::AuthFailed);
    }

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

    fn start_network(&mut self, now: Instant) {
        if self.phase != Phase::Authenticate {
            return;
        }
        self.phase = Phase::Network;
        self.auth_deadline = None;
        self.ipcp.open(now);
        self.ipcp.up(now);
    }

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
            FsmOutput::Packet(p) => self.tx_frame(emit_frame(protocol::LCP, &p)),
            FsmOutput::NegotiationFailed => {
                let reason = self.lcp.neg.failure_reason();
                self.close_reason.get_or_insert(reason);
            }
            FsmOutput::Layer(LayerEvent::Up) => self.lcp_up(now),
            FsmOutput::Layer(LayerEvent::Down) => {
                self.phase = if matches!(self.lcp.state(), State::Closing | State::Stopping) {
                    Phase::Terminate
                } else {
                    Phase::Establish
                };
                self.auth = Auth::None;
                self.auth_deadline = None;
                self.ipcp.down();
                self.ipcp.close(now);
            }
            FsmOutput::Layer(LayerEvent::Started) => {}
            FsmOutput::Layer(LayerEvent::Finished) => {
                let reason = if self.lcp.configure_timed_out() {
                    CloseReason::ConfigureTimeout
                } else {
                    CloseReason::NegotiationFailed
                };
                self.close_reason.get_or_insert(reason);
                self.finish();
            }
        }
    }

    fn lcp_up(&mut self, now: Instant) {
        self.phase = Phase::Authenticate;
        let user = self.cfg.username.as_bytes();
        let pass = self.cfg.password.as_bytes();
        match self.lcp.neg.peer_auth() {
            Some(AuthProto::Pap) => {
                let mut c =
                    PapClient::new(user, pass, self.cfg.restart_time, self.cfg.max_configure);
                if let Some(p) = c.send(now) {
                    self.tx_frame(emit_frame(protocol::PAP, &p));
                }
                self.auth = Auth::Pap(c);
            }
            Some(AuthProto::Chap) => {
                self.auth = Auth::Chap(ChapClient::new(
                    user,
                    pass,
                    self.cfg.restart_time,
                    self.cfg.max_configure,
                ));
                let wait = self.cfg.restart_time * self.cfg.max_configure.max(1);
                self.auth_deadline = Some(now + wait);
            }
            None => self.start_network(now),
        }
    }

    fn ipcp_output(&mut self, now: Instant, o: FsmOutput) {
        match o {
            FsmOutput::Packet(p) => self.tx_frame(emit_frame(protocol::IPCP, &p)),
            FsmOutput::NegotiationFailed => {
                self.close_reason
                    .get_or_insert(CloseReason::NegotiationFailed);
            }
            FsmOutput::Layer(LayerEvent::Up) => {
                self.network_up = true;
                let n = &self.ipcp.neg;
                self.events.push_back(ClientEvent::Up {
                    local_address: n.local_address(),
                    peer_address: n.peer_address().unwrap_or(Ipv4Addr::UNSPECIFIED),
                    dns: n.dns(),
                });
            }
            FsmOutput::Layer(LayerEvent::Down) => self.network_up = false,
            FsmOutput::Layer(LayerEvent::Started) => {}
            FsmOutput::Layer(LayerEvent::Finished) => {
                if self.phase == Phase::Network {
                    let reason = if self.ipcp.configure_timed_out() {
                        CloseReason::ConfigureTimeout
                    } else {
                        CloseReason::NegotiationFailed
                    };
                    self.close_with(now, reason);
                }
            }
        }
    }

    fn finish(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.phase = Phase::Dead;
        self.auth_deadline = None;
        self.network_up = false;
        let reason = self.close_reason.unwrap_or(CloseReason::NegotiationFailed);
        self.events.push_back(ClientEvent::Closed { reason });
    }

    fn tx_frame(&mut self, frame: Vec<u8>) {
        self.stats.frames_sent += 1;
        self.tx.push_back(frame);
    }
}
