//! The LNS side of an L2TP tunnel (RFC 2661 §5.1 control connection
//! establishment, §5.2/§5.7 teardown, §6 messages, §7.4 incoming-call
//! session FSM). Sans-IO, quinn-proto style: `handle_datagram`,
//! `handle_timeout`, commands, and `poll_transmit`/`poll_timeout`/`poll_event`.
//!
//! Policies (documented choices):
//! - An ICRQ beyond `max_sessions` (or with no free id) is answered with a
//!   CDN directly (result 2, error 4 "insufficient resources"), no ICRP,
//!   and reported as `CallRefused`; so is one while the owner takes no
//!   calls (`set_call_refusal`), with the owner's CDN.
//! - Messages for an unknown session (ICCN, CDN, WEN, SLI) are acked and
//!   ignored (counted): the session was most likely torn down while the
//!   message was in flight.
//! - Unknown M-bit AVP (§4.1): in a session-scoped message the session is
//!   cleared with CDN 2/8, in a tunnel-scoped message the tunnel with
//!   StopCCN 2/8. An unknown message type with the M bit: StopCCN 2/8.
//! - OCRQ (we place no outgoing calls): CDN result 5 (permanent lack of
//!   facilities). WEN and SLI are acked and ignored.
//! - `Closed` is emitted at once when the peer sends StopCCN or when we
//!   refuse/abort the tunnel ourselves; after a local `close()` it is
//!   emitted when our StopCCN is acked or retransmission gives up. After a
//!   peer StopCCN the tunnel lingers one full retransmission cycle to re-ack
//!   retransmitted StopCCNs (§5.7) before `is_closed()` becomes true.

use super::avp::{AvpIter, AvpType};
use super::challenge::{challenge_response, verify_response};
use super::control_channel::{ChannelConfig, ChannelStats, ControlChannel};
use super::message::{
    ControlMessage, MessageError, MessageType, PppDisconnectCause, ProtocolVersion, Q931Cause,
    ResultCode,
};
use super::result_code::{CdnCode, CdnResult, ErrorCode, StopCcnCode, StopCcnResult};
use super::session_ids::SessionTable;
use super::wire::{Header, HeaderError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

mod snapshot;
pub use self::snapshot::TunnelSnapshot;

/// Framing Capabilities we announce: synchronous and asynchronous.
pub const FRAMING_SYNC_ASYNC: u32 = 3;
/// Firmware Revision we announce.
pub const FIRMWARE_REVISION: u16 = 0x0100;

/// LNS tunnel settings, shared by all tunnels of a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelConfig {
    /// Host Name AVP we send.
    pub hostname: String,
    /// Vendor Name AVP we send.
    pub vendor_name: String,
    /// l2tp_secret: answers a LAC's Challenge; unhides AVPs.
    pub secret: Option<Vec<u8>>,
    /// Challenge the LAC in SCCRP and require a correct response in SCCCN.
    pub require_peer_auth: bool,
    /// Our RWS.
    pub receive_window: u16,
    /// None = disable_sending_hello.
    pub hello_interval: Option<Duration>,
    pub retransmit_initial: Duration,
    pub retransmit_max: Duration,
    pub max_retransmits: u32,
    /// Per tunnel; 0 = no limit other than the 16-bit id space.
    pub max_sessions: u32,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            hostname: "l2tpns".into(),
            vendor_name: "l2tpns-rs".into(),
            secret: None,
            require_peer_auth: false,
            receive_window: 16,
            hello_interval: Some(Duration::from_secs(60)),
            retransmit_initial: Duration::from_secs(1),
            retransmit_max: Duration::from_secs(8),
            max_retransmits: 5,
            max_sessions: 0,
        }
    }
}

impl TunnelConfig {
    pub fn channel_config(&self) -> ChannelConfig {
        ChannelConfig {
            receive_window: self.receive_window.max(1),
            retransmit_initial: self.retransmit_initial,
            retransmit_max: self.retransmit_max,
            max_retransmits: self.max_retransmits,
            hello_interval: self.hello_interval,
        }
    }
}

/// How long to keep state after the peer's StopCCN: one full
/// retransmission cycle of the peer (assumed to use our settings).
pub(crate) fn linger_time(cfg: &ChannelConfig) -> Duration {
    let mut total = cfg.retransmit_initial;
    let mut step = cfg.retransmit_initial;
    for _ in 0..cfg.max_retransmits.min(64) {
        step = step.saturating_mul(2).min(cfg.retransmit_max);
        total = total.saturating_add(step);
    }
    total
}

/// What the LAC told us about an incoming call (ICRQ).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallInfo {
    pub call_serial_number: Option<u32>,
    pub bearer_type: Option<u32>,
    pub physical_channel_id: Option<u32>,
    pub calling_number: Option<String>,
    pub called_number: Option<String>,
    pub sub_address: Option<String>,
    pub minimum_bps: Option<u32>,
    pub maximum_bps: Option<u32>,
    pub private_group_id: Option<Vec<u8>>,
}

/// Proxy authentication AVPs of an ICCN (§4.4.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyAuth {
    pub authen_type: Option<u16>,
    pub name: Option<Vec<u8>>,
    pub challenge: Option<Vec<u8>>,
    pub id: Option<u8>,
    pub response: Option<Vec<u8>>,
}

/// What the LAC told us when the call connected (ICCN).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectInfo {
    pub tx_connect_speed: Option<u32>,
    pub rx_connect_speed: Option<u32>,
    pub framing_type: Option<u32>,
    pub sequencing_required: bool,
    pub private_group_id: Option<Vec<u8>>,
    pub initial_received_lcp_confreq: Option<Vec<u8>>,
    pub last_sent_lcp_confreq: Option<Vec<u8>>,
    pub last_received_lcp_confreq: Option<Vec<u8>>,
    /// Present when any proxy-authen AVP was sent.
    pub proxy_auth: Option<ProxyAuth>,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CdnInfo {
    /// True for a CDN from the peer; false when we cleared the session
    /// because of a protocol error (the CDN we sent is described).
    pub by_peer: bool,
    pub result: u16,
    pub error: Option<u16>,
    pub message: Option<String>,
    pub q931_cause: Option<Q931Cause>,
    pub ppp_disconnect_cause: Option<PppDisconnectCause>,
}

/// Why the tunnel is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent StopCCN.
    PeerStopCcn { result: Option<ResultCode> },
    /// Retransmissions were not acknowledged.
    PeerUnreachable,
    /// We refused or aborted the tunnel (auth, version, protocol error).
    Refused(StopCcnResult),
    /// `close()` was called.
    Local(StopCcnResult),
}

/// What the owner must know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelEvent {
    /// SCCCN accepted.
    Established,
    /// ICRQ accepted; ICRP already queued.
    IncomingCall {
        local_sid: u16,
        peer_sid: u16,
        call: CallInfo,
    },
    /// ICCN received.
    CallConnected {
        local_sid: u16,
        connect: ConnectInfo,
    },
    /// The session is gone and its id freed.
    CallDisconnected { local_sid: u16, info: CdnInfo },
    /// An ICRQ answered with CDN 2/4 (no room for the call).
    CallRefused { peer_sid: u16 },
    /// The tunnel is gone, with all its sessions.
    Closed { reason: CloseReason },
}

/// Why the first datagram could not start a tunnel (nothing to answer).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SccrqError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("not a control message")]
    NotControl,
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("first message is {0:?}, not SCCRQ")]
    NotSccrq(MessageType),
    #[error("SCCRQ with Ns {0}, expected 0")]
    BadNs(u16),
    #[error("SCCRQ with Assigned Tunnel ID 0")]
    ZeroTunnelId,
}

/// Counters for the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct TunnelStats {
    pub channel: ChannelStats,
    /// Datagrams with a bad header or bad AVPs (dropped, not acked).
    pub malformed: u64,
    /// Data messages handed to the control path (ignored).
    pub not_control: u64,
    /// Messages for a session id we do not have.
    pub unknown_session: u64,
    /// Valid messages that make no sense in the current state.
    pub unexpected: u64,
    /// ICRQs refused for lack of session ids.
    pub sessions_refused: u64,
    /// Messages refused for an unknown M-bit AVP.
    pub unknown_mandatory: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    WaitCtlConn,
    Established,
    /// Our StopCCN is out; `local` says whether `close()` sent it.
    Closing {
        local: bool,
    },
    /// Peer sent StopCCN; re-ack retransmissions until the deadline.
    Lingering {
        until: Instant,
    },
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Session {
    peer_sid: u16,
    connected: bool,
}

/// An LNS tunnel.
#[derive(Debug)]
pub struct Tunnel {
    cfg: Arc<TunnelConfig>,
    local_id: u16,
    peer_id: u16,
    peer_hostname: String,
    state: State,
    channel: ControlChannel,
    /// Our challenge, when we challenged the peer.
    our_challenge: Option<[u8; 16]>,
    sessions: SessionTable<Session>,
    events: VecDeque<TunnelEvent>,
    close_result: Option<StopCcnResult>,
    stats: TunnelStats,
    /// Set while the owner has no room for a call (its own limit over all
    /// tunnels): ICRQs get this CDN before any ICRP.
    call_refusal: Option<CdnResult>,
}

fn lossy(v: &Option<Vec<u8>>) -> Option<String> {
    v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

impl Tunnel {
    /// A new tunnel from the first datagram of a peer (an SCCRQ with an
    /// Assigned Tunnel ID). `challenge` = 16 random bytes, used if we
    /// challenge the peer. A refused SCCRQ still yields a tunnel: it sends
    /// the StopCCN and reports `Closed` at once.
    pub fn from_sccrq(
        cfg: Arc<TunnelConfig>,
        local_id: u16,
        datagram: &[u8],
        challenge: [u8; 16],
        now: Instant,
    ) -> Result<Tunnel, SccrqError> {
        let h = Header::parse(datagram)?;
        if !h.is_control() {
            return Err(SccrqError::NotControl);
        }
        let payload = h.payload(datagram);
        let msg = ControlMessage::parse(payload, cfg.secret.as_deref())?;
        if msg.message_type != MessageType::Sccrq {
            return Err(SccrqError::NotSccrq(msg.message_type));
        }
        let ns = h.ns().unwrap_or(0);
        if ns != 0 {
            return Err(SccrqError::BadNs(ns));
        }
        let peer_id = match msg.assigned_tunnel_id {
            Some(0) | None => return Err(SccrqError::ZeroTunnelId),
            Some(id) => id,
        };
        let mut channel = ControlChannel::new(cfg.channel_config(), peer_id, now);
        channel.set_peer_receive_window(msg.receive_window_size);
        channel.handle_message(now, ns, h.nr().unwrap_or(0), h.session_id(), payload);
        while channel.poll_deliver().is_some() {}
        let mut t = Tunnel {
            peer_hostname: lossy(&msg.host_name).unwrap_or_default(),
            cfg,
            local_id,
            peer_id,
            state: State::WaitCtlConn,
            channel,
            our_challenge: None,
            sessions: SessionTable::default(),
            events: VecDeque::new(),
            close_result: None,
            stats: TunnelStats::default(),
            call_refusal: None,
        };
        t.answer_sccrq(now, &msg, challenge);
        Ok(t)
    }

    fn answer_sccrq(&mut self, now: Instant, msg: &ControlMessage, challenge: [u8; 16]) {
        use StopCcnCode as S;
        if msg.unknown_mandatory.is_some() {
            self.stats.unknown_mandatory += 1;
            let r = StopCcnResult::new(S::GeneralError).with_error(ErrorCode::UnknownMandatoryAvp);
            return self.abort(now, r);
        }
        if msg.protocol_version
            != Some(ProtocolVersion {
                version: 1,
                revision: 0,
            })
        {
            return self.abort(now, StopCcnResult::new(S::UnsupportedVersion));
        }
        let secret = self.cfg.secret.clone();
        if (msg.challenge.is_some() || self.cfg.require_peer_auth) && secret.is_none() {
            let r = StopCcnResult::new(S::NotAuthorized).with_message("no tunnel secret");
            return self.abort(now, r);
        }
        let mut m = ControlMessage::new(MessageType::Sccrp);
        m.protocol_version = Some(ProtocolVersion {
            version: 1,
            revision: 0,
        });
        m.framing_capabilities = Some(FRAMING_SYNC_ASYNC);
        m.firmware_revision = Some(FIRMWARE_REVISION);
        m.host_name = Some(self.cfg.hostname.as_bytes().to_vec());
        m.vendor_name = Some(self.cfg.vendor_name.as_bytes().to_vec());
        m.assigned_tunnel_id = Some(self.local_id);
        m.receive_window_size = Some(self.cfg.receive_window.max(1));
        if let (Some(c), Some(s)) = (&msg.challenge, &secret) {
            m.challenge_response = Some(challenge_response(2, s, c));
        }
        if self.cfg.require_peer_auth {
            m.challenge = Some(challenge.to_vec());
            self.our_challenge = Some(challenge);
        }
        self.send(0, &m);
    }

    pub fn local_id(&self) -> u16 {
        self.local_id
    }
    pub fn peer_id(&self) -> u16 {
        self.peer_id
    }
    pub fn peer_hostname(&self) -> &str {
        &self.peer_hostname
    }
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }
    /// Fully done: the caller may free it.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
    /// StopCCN sent or received: no new calls, only the close handshake.
    pub fn is_closing(&self) -> bool {
        self.closing_or_closed()
    }
    pub fn session_peer_id(&self, local_sid: u16) -> Option<u16> {
        self.sessions.get(local_sid).map(|s| s.peer_sid)
    }
    /// Our ids of the tunnel's calls.
    pub fn session_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.sessions.iter().map(|(id, _)| id)
    }
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
    /// The CDN for ICRQs while the owner has no room for a call (None:
    /// they may become calls); set before handing over a datagram.
    pub fn set_call_refusal(&mut self, refusal: Option<CdnResult>) {
        self.call_refusal = refusal;
    }
    pub fn stats(&self) -> TunnelStats {
        TunnelStats {
            channel: self.channel.stats(),
            ..self.stats
        }
    }

    fn send(&mut self, session_id: u16, m: &ControlMessage) {
        // We never hide AVPs as LNS, so emit cannot fail.
        if let Ok(p) = m.to_payload(None) {
            self.channel.send(session_id, p);
        }
    }

    fn closing_or_closed(&self) -> bool {
        matches!(
            self.state,
            State::Closing { .. } | State::Lingering { .. } | State::Closed
        )
    }

    fn send_stopccn(&mut self, result: &StopCcnResult) {
        let mut m = ControlMessage::new(MessageType::StopCcn);
        m.assigned_tunnel_id = Some(self.local_id);
        m.result_code = Some(result.to_avp());
        self.send(0, &m);
        self.channel.set_hello_interval(None);
        self.sessions.clear();
    }

    /// We refuse or abort the tunnel: StopCCN out, Closed reported now.
    fn abort(&mut self, _now: Instant, result: StopCcnResult) {
        if self.closing_or_closed() {
            return;
        }
        self.send_stopccn(&result);
        self.state = State::Closing { local: false };
        self.events.push_back(TunnelEvent::Closed {
            reason: CloseReason::Refused(result),
        });
    }

    /// Send StopCCN; `Closed` once it is acked or retransmission gives up.
    pub fn close(&mut self, _now: Instant, result: StopCcnResult) {
        if self.closing_or_closed() {
            return;
        }
        self.send_stopccn(&result);
        self.close_result = Some(result);
        self.state = State::Closing { local: true };
    }

    fn send_cdn(&mut self, local_sid: u16, peer_sid: u16, result: &CdnResult) {
        let mut m = ControlMessage::new(MessageType::Cdn);
        m.assigned_session_id = Some(local_sid);
        m.result_code = Some(result.to_avp());
        self.send(peer_sid, &m);
    }

    /// Send CDN for one of our sessions and free its id. No event.
    pub fn disconnect_session(&mut self, _now: Instant, local_sid: u16, result: CdnResult) {
        if self.closing_or_closed() {
            return;
        }
        if let Some(s) = self.sessions.remove(local_sid) {
            self.send_cdn(local_sid, s.peer_sid, &result);
        }
    }

    /// Clear a session ourselves (protocol error) and tell the owner.
    fn clear_session(&mut self, local_sid: u16, result: CdnResult) {
        if let Some(s) = self.sessions.remove(local_sid) {
            self.send_cdn(local_sid, s.peer_sid, &result);
            self.events.push_back(TunnelEvent::CallDisconnected {
                local_sid,
                info: CdnInfo {
                    by_peer: false,
                    result: result.code.code(),
                    error: result.error.map(ErrorCode::code),
                    message: result.message,
                    ..Default::default()
                },
            });
        }
    }

    /// A control message for this tunnel (the whole UDP payload).
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        let h = match Header::parse(datagram) {
            Ok(h) => h,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if !h.is_control() {
            self.stats.not_control += 1;
            return;
        }
        if h.tunnel_id() != self.local_id && h.tunnel_id() != 0 {
            self.stats.unexpected += 1;
            return;
        }
        let payload = h.payload(datagram);
        // Validate before the channel acks it: a malformed message is
        // dropped unacknowledged, as if lost.
        if ControlMessage::parse(payload, self.cfg.secret.as_deref()).is_err() {
            self.stats.malformed += 1;
            return;
        }
        let (ns, nr) = (h.ns().unwrap_or(0), h.nr().unwrap_or(0));
        self.channel
            .handle_message(now, ns, nr, h.session_id(), payload);
        while let Some(d) = self.channel.poll_deliver() {
            if let Ok(m) = ControlMessage::parse(&d.payload, self.cfg.secret.as_deref()) {
                self.dispatch(now, d.session_id, m);
            }
        }
        self.check_progress(now);
    }

    fn check_progress(&mut self, now: Instant) {
        if self.channel.is_dead() && self.state != State::Closed {
            let emitted = matches!(
                self.state,
                State::Closing { local: false } | State::Lingering { .. }
            );
            let reason = match (self.state, self.close_result.take()) {
                (State::Closing { local: true }, Some(r)) => CloseReason::Local(r),
                _ => CloseReason::PeerUnreachable,
            };
            self.finish(emitted, reason);
            return;
        }
        match self.state {
            State::Closing { local } if self.channel.is_idle() => {
                let reason = CloseReason::Local(
                    self.close_result
                        .take()
                        .unwrap_or(StopCcnResult::new(StopCcnCode::ClearConnection)),
                );
                self.finish(!local, reason);
            }
            State::Lingering { until } if now >= until => self.state = State::Closed,
            _ => {}
        }
    }

    fn finish(&mut self, already_emitted: bool, reason: CloseReason) {
        self.sessions.clear();
        self.state = State::Closed;
        if !already_emitted {
            self.events.push_back(TunnelEvent::Closed { reason });
        }
    }

    fn dispatch(&mut self, now: Instant, sid: u16, m: ControlMessage) {
        use MessageType as M;
        match self.state {
            State::Closed | State::Lingering { .. } => return,
            State::Closing { local } => {
                if m.message_type == M::StopCcn {
                    // Both ends are closing: ours counts as done.
                    let reason = CloseReason::Local(
                        self.close_result
                            .take()
                            .unwrap_or(StopCcnResult::new(StopCcnCode::ClearConnection)),
                    );
                    self.finish(!local, reason);
                }
                return;
            }
            State::WaitCtlConn | State::Established => {}
        }
        if m.unknown_mandatory.is_some() {
            self.stats.unknown_mandatory += 1;
            return self.refuse_unknown_mandatory(now, sid, &m);
        }
        match m.message_type {
            M::Scccn => self.on_scccn(now, &m),
            M::StopCcn => self.on_stopccn(now, m),
            M::Hello | M::Wen | M::Sli | M::Zlb | M::Unknown(_) => {}
            M::Icrq => self.on_icrq(m),
            M::Iccn => self.on_iccn(sid, m),
            M::Cdn => self.on_cdn(sid, m),
            M::Ocrq => {
                let peer_sid = m.assigned_session_id.unwrap_or(0);
                let r = CdnResult::new(CdnCode::PermanentNoFacilities)
                    .with_message("outgoing calls not supported");
                self.send_cdn(0, peer_sid, &r);
            }
            M::Sccrq | M::Sccrp | M::Icrp | M::Ocrp | M::Occn => self.stats.unexpected += 1,
        }
    }

    fn refuse_unknown_mandatory(&mut self, now: Instant, sid: u16, m: &ControlMessage) {
        let cdn = CdnResult::new(CdnCode::GeneralError).with_error(ErrorCode::UnknownMandatoryAvp);
        if !m.message_type.is_session_scoped() {
            let r = StopCcnResult::new(StopCcnCode::GeneralError)
                .with_error(ErrorCode::UnknownMandatoryAvp);
            return self.abort(now, r);
        }
        if m.message_type == MessageType::Icrq {
            // No session yet: refuse the call.
            self.send_cdn(0, m.assigned_session_id.unwrap_or(0), &cdn);
        } else if self.sessions.get(sid).is_some() {
            self.clear_session(sid, cdn);
        } else {
            self.stats.unknown_session += 1;
        }
    }

    fn on_scccn(&mut self, now: Instant, m: &ControlMessage) {
        if self.state != State::WaitCtlConn {
            self.stats.unexpected += 1;
            return;
        }
        if let Some(ch) = self.our_challenge {
            let ok = match (&self.cfg.secret, &m.challenge_response) {
                (Some(s), Some(resp)) => verify_response(3, s, &ch, resp),
                _ => false,
            };
            if !ok {
                let r = StopCcnResult::new(StopCcnCode::NotAuthorized)
                    .with_message("bad challenge response");
                return self.abort(now, r);
            }
        }
        self.state = State::Established;
        self.events.push_back(TunnelEvent::Established);
    }

    fn on_stopccn(&mut self, now: Instant, m: ControlMessage) {
        let linger = linger_time(self.channel.config());
        self.channel.set_hello_interval(None);
        self.sessions.clear();
        self.state = State::Lingering {
            until: now + linger,
        };
        self.events.push_back(TunnelEvent::Closed {
            reason: CloseReason::PeerStopCcn {
                result: m.result_code,
            },
        });
    }

    fn on_icrq(&mut self, m: ControlMessage) {
        let peer_sid = m.assigned_session_id.unwrap_or(0);
        if self.state != State::Established || peer_sid == 0 {
            self.stats.unexpected += 1;
            return;
        }
        let limit = self.cfg.max_sessions;
        let full =
            self.call_refusal.is_some() || (limit != 0 && self.sessions.len() >= limit as usize);
        let local_sid = if full {
            None
        } else {
            self.sessions.insert(Session {
                peer_sid,
                connected: false,
            })
        };
        let Some(local_sid) = local_sid else {
            self.stats.sessions_refused += 1;
            let r = self.call_refusal.clone().unwrap_or_else(|| {
                CdnResult::new(CdnCode::GeneralError)
                    .with_error(ErrorCode::InsufficientResources)
                    .with_message("no free sessions")
            });
            self.events.push_back(TunnelEvent::CallRefused { peer_sid });
            return self.send_cdn(0, peer_sid, &r);
        };
        let mut icrp = ControlMessage::new(MessageType::Icrp);
        icrp.assigned_session_id = Some(local_sid);
        self.send(peer_sid, &icrp);
        let call = CallInfo {
            call_serial_number: m.call_serial_number,
            bearer_type: m.bearer_type,
            physical_channel_id: m.physical_channel_id,
            calling_number: lossy(&m.calling_number),
            called_number: lossy(&m.called_number),
            sub_address: lossy(&m.sub_address),
            minimum_bps: m.minimum_bps,
            maximum_bps: m.maximum_bps,
            private_group_id: m.private_group_id,
        };
        self.events.push_back(TunnelEvent::IncomingCall {
            local_sid,
            peer_sid,
            call,
        });
    }

    fn on_iccn(&mut self, sid: u16, m: ControlMessage) {
        let Some(s) = self.sessions.get_mut(sid) else {
            self.stats.unknown_session += 1;
            return;
        };
        if s.connected {
            self.stats.unexpected += 1;
            return;
        }
        s.connected = true;
        let proxy = m.proxy_authen_type.is_some()
            || m.proxy_authen_name.is_some()
            || m.proxy_authen_response.is_some();
        let connect = ConnectInfo {
            tx_connect_speed: m.tx_connect_speed,
            rx_connect_speed: m.rx_connect_speed,
            framing_type: m.framing_type,
            sequencing_required: m.sequencing_required,
            private_group_id: m.private_group_id,
            initial_received_lcp_confreq: m.initial_received_lcp_confreq,
            last_sent_lcp_confreq: m.last_sent_lcp_confreq,
            last_received_lcp_confreq: m.last_received_lcp_confreq,
            proxy_auth: proxy.then_some(ProxyAuth {
                authen_type: m.proxy_authen_type,
                name: m.proxy_authen_name,
                challenge: m.proxy_authen_challenge,
                id: m.proxy_authen_id,
                response: m.proxy_authen_response,
            }),
        };
        self.events.push_back(TunnelEvent::CallConnected {
            local_sid: sid,
            connect,
        });
    }

    fn on_cdn(&mut self, sid: u16, m: ControlMessage) {
        // A CDN sent before the LAC saw our ICRP carries session id 0.
        let local_sid = if sid == 0 {
            let peer = m.assigned_session_id;
            self.sessions.find(|s| Some(s.peer_sid) == peer)
        } else {
            Some(sid)
        };
        let Some(local_sid) = local_sid.filter(|l| self.sessions.remove(*l).is_some()) else {
            self.stats.unknown_session += 1;
            return;
        };
        let r = m.result_code.unwrap_or_default();
        let info = CdnInfo {
            by_peer: true,
            result: r.result,
            error: r.error,
            message: lossy(&r.message),
            q931_cause: m.q931_cause,
            ppp_disconnect_cause: m.ppp_disconnect_cause,
        };
        self.events
            .push_back(TunnelEvent::CallDisconnected { local_sid, info });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.channel.handle_timeout(now);
        self.check_progress(now);
    }

    /// Next UDP payload to send to the peer.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.state == State::Closed {
            return None;
        }
        self.channel.poll_transmit(now)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Lingering { until } => Some(until),
            _ => self.channel.poll_timeout(),
        }
    }

    pub fn poll_event(&mut self) -> Option<TunnelEvent> {
        self.events.pop_front()
    }
}

/// For the daemon's demultiplexer: the Assigned Tunnel ID of an SCCRQ
/// (header tunnel id 0), so retransmitted SCCRQs reach the tunnel they
/// created. None for anything else, or if the AVP is hidden.
pub fn sccrq_assigned_tunnel_id(datagram: &[u8]) -> Option<u16> {
    let h = Header::parse(datagram).ok()?;
    if !h.is_control() || h.tunnel_id() != 0 {
        return None;
    }
    let mut avps = AvpIter::new(h.payload(datagram));
    let first = avps.next()?.ok()?;
    if first.attr_type != AvpType::MessageType as u16
        || first.value != [0, 1]
        || first.vendor_id != 0
    {
        return None;
    }
    avps.map_while(Result::ok)
        .find(|a| a.vendor_id == 0 && a.attr_type == AvpType::AssignedTunnelId as u16 && !a.hidden)
        .and_then(|a| match a.value {
            [x, y] => Some(u16::from_be_bytes([*x, *y])),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2tp::avp::push_avp;
    use crate::l2tp::wire::build_control;

    const T0_CH: [u8; 16] = [0x42; 16];

    fn dgram(tid: u16, sid: u16, ns: u16, nr: u16, m: &ControlMessage) -> Vec<u8> {
        build_control(tid, sid, ns, nr, &m.to_payload(Some(b"s3cret")).unwrap())
    }

    pub(crate) fn sccrq_msg() -> ControlMessage {
        let mut m = ControlMessage::new(MessageType::Sccrq);
        m.protocol_version = Some(ProtocolVersion {
            version: 1,
            revision: 0,
        });
        m.framing_capabilities = Some(3);
        m.host_name = Some(b"lac".to_vec());
        m.assigned_tunnel_id = Some(77);
        m
    }

    struct Out {
        h: Header,
        m: ControlMessage,
    }

    fn drain(t: &mut Tunnel, now: Instant) -> Vec<Out> {
        std::iter::from_fn(|| t.poll_transmit(now))
            .map(|d| {
                let h = Header::parse(&d).unwrap();
                let m = ControlMessage::parse(h.payload(&d), Some(b"s3cret")).unwrap();
                Out { h, m }
            })
            .collect()
    }

    fn events(t: &mut Tunnel) -> Vec<TunnelEvent> {
        std::iter::from_fn(|| t.poll_event()).collect()
    }

    fn new_tunnel(cfg: TunnelConfig, sccrq: &ControlMessage, now: Instant) -> Tunnel {
        Tunnel::from_sccrq(Arc::new(cfg), 5, &dgram(0, 0, 0, 0, sccrq), T0_CH, now).unwrap()
    }

    /// An established tunnel; the peer's next Ns is 2, it has acked our SCCRP.
    fn established(cfg: TunnelConfig, now: Instant) -> Tunnel {
        let mut t = new_tunnel(cfg, &sccrq_msg(), now);
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.message_type, MessageType::Sccrp);
        t.handle_datagram(
            now,
            &dgram(5, 0, 1, 1, &ControlMessage::new(MessageType::Scccn)),
        );
        assert_eq!(events(&mut t), vec![TunnelEvent::Established]);
        drain(&mut t, now);
        t
    }

    fn icrq(peer_sid: u16) -> ControlMessage {
        let mut m = ControlMessage::new(MessageType::Icrq);
        m.assigned_session_id = Some(peer_sid);
        m.call_serial_number = Some(1);
        m
    }

    fn stopccn_result(o: &Out) -> (u16, Option<u16>) {
        assert_eq!(o.m.message_type, MessageType::StopCcn);
        let r = o.m.result_code.clone().unwrap();
        // Error code 0 is the placeholder emitted before a message.
        (r.result, r.error.filter(|e| *e != 0))
    }

    #[test]
    fn sccrp_contents() {
        let now = Instant::now();
        let mut t = new_tunnel(TunnelConfig::default(), &sccrq_msg(), now);
        let out = drain(&mut t, now);
        assert_eq!(out.len(), 1);
        let (h, m) = (&out[0].h, &out[0].m);
        assert_eq!((h.tunnel_id(), h.ns(), h.nr()), (77, Some(0), Some(1)));
        assert_eq!(m.assigned_tunnel_id, Some(5));
        assert_eq!(m.host_name.as_deref(), Some(&b"l2tpns"[..]));
        assert_eq!(m.receive_window_size, Some(16));
        assert_eq!(m.challenge, None);
        assert_eq!(t.peer_hostname(), "lac");
        assert!(!t.is_established());
    }

    #[test]
    fn answers_lac_challenge() {
        let now = Instant::now();
        let cfg = TunnelConfig {
            secret: Some(b"s3cret".to_vec()),
            ..Default::default()
        };
        let mut m = sccrq_msg();
        m.challenge = Some(vec![7; 16]);
        let mut t = new_tunnel(cfg, &m, now);
        let out = drain(&mut t, now);
        assert_eq!(
            out[0].m.challenge_response,
            Some(challenge_response(2, b"s3cret", &[7; 16]))
        );
    }

    #[test]
    fn sccrq_refusals() {
        let now = Instant::now();
        // Challenge but no secret: StopCCN 4.
        let mut m = sccrq_msg();
        m.challenge = Some(vec![1; 16]);
        let mut t = new_tunnel(TunnelConfig::default(), &m, now);
        let out = drain(&mut t, now);
        assert_eq!(stopccn_result(&out[0]), (4, None));
        assert_eq!(out[0].m.assigned_tunnel_id, Some(5));
        assert!(
            matches!(&events(&mut t)[..], [TunnelEvent::Closed { reason: CloseReason::Refused(r) }] if r.code == StopCcnCode::NotAuthorized)
        );
        // Once acked, done.
        t.handle_datagram(now, &build_control(5, 0, 1, 1, &[]));
        assert!(t.is_closed());
        assert!(events(&mut t).is_empty());

        // Wrong protocol version: StopCCN 5.
        let mut m = sccrq_msg();
        m.protocol_version = Some(ProtocolVersion {
            version: 2,
            revision: 0,
        });
        let mut t = new_tunnel(TunnelConfig::default(), &m, now);
        assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (5, None));

        // Unknown mandatory AVP: StopCCN 2/8.
        let mut p = sccrq_msg().to_payload(None).unwrap();
        push_avp(&mut p, true, false, 99, b"x");
        let d = build_control(0, 0, 0, 0, &p);
        let mut t =
            Tunnel::from_sccrq(Arc::new(TunnelConfig::default()), 5, &d, T0_CH, now).unwrap();
        assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (2, Some(8)));
        assert_eq!(t.stats().unknown_mandatory, 1);
    }

    #[test]
    fn sccrq_errors() {
        let now = Instant::now();
        let cfg = Arc::new(TunnelConfig::default());
        let f = |d: &[u8]| Tunnel::from_sccrq(cfg.clone(), 5, d, T0_CH, now).map(|_| ());
        assert!(matches!(f(&[0xc8, 0x02]), Err(SccrqError::Header(_))));
        assert_eq!(f(&[0, 2, 0, 0, 0, 0]), Err(SccrqError::NotControl));
        let mut m = sccrq_msg();
        m.assigned_tunnel_id = Some(0);
        assert_eq!(f(&dgram(0, 0, 0, 0, &m)), Err(SccrqError::ZeroTunnelId));
        assert_eq!(
            f(&dgram(0, 0, 3, 0, &sccrq_msg())),
            Err(SccrqError::BadNs(3))
        );
        assert_eq!(
            f(&dgram(0, 0, 0, 0, &ControlMessage::new(MessageType::Hello))),
            Err(SccrqError::NotSccrq(MessageType::Hello))
        );
        assert!(matches!(
            f(&build_control(0, 0, 0, 0, &[0x80, 0x08, 0, 0])),
            Err(SccrqError::Message(_))
        ));
    }

    #[test]
    fn sccrq_retransmit_reacked_only() {
        let now = Instant::now();
        let sccrq = dgram(0, 0, 0, 0, &sccrq_msg());
        assert_eq!(sccrq_assigned_tunnel_id(&sccrq), Some(77));
        assert_eq!(
            sccrq_assigned_tunnel_id(&build_control(5, 0, 0, 0, &[])),
            None
        );
        let mut t = new_tunnel(TunnelConfig::default(), &sccrq_msg(), now);
        drain(&mut t, now);
        let later = now + Duration::from_millis(500);
        t.handle_datagram(later, &sccrq);
        let out = drain(&mut t, later);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].m.message_type, MessageType::Zlb);
        assert_eq!(out[0].h.nr(), Some(1));
        assert!(events(&mut t).is_empty());
        assert_eq!(t.stats().channel.duplicates, 1);
        // SCCRP is retransmitted on its own schedule.
        t.handle_timeout(now + Duration::from_secs(1));
        let out = drain(&mut t, now + Duration::from_secs(1));
        assert_eq!(out[0].m.message_type, MessageType::Sccrp);
    }

    #[test]
    fn peer_auth_required() {
        let now = Instant::now();
        let cfg = TunnelConfig {
            secret: Some(b"s3cret".to_vec()),
            require_peer_auth: true,
            ..Default::default()
        };
        // Good response.
        let mut t = new_tunnel(cfg.clone(), &sccrq_msg(), now);
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.challenge, Some(T0_CH.to_vec()));
        let mut scccn = ControlMessage::new(MessageType::Scccn);
        scccn.challenge_response = Some(challenge_response(3, b"s3cret", &T0_CH));
        t.handle_datagram(now, &dgram(5, 0, 1, 1, &scccn));
        assert_eq!(events(&mut t), vec![TunnelEvent::Established]);
        // Missing response.
        let mut t = new_tunnel(cfg.clone(), &sccrq_msg(), now);
        drain(&mut t, now);
        t.handle_datagram(
            now,
            &dgram(5, 0, 1, 1, &ControlMessage::new(MessageType::Scccn)),
        );
        assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (4, None));
        assert!(!t.is_established());
        // Response computed with the wrong message type ID.
        let mut t = new_tunnel(cfg, &sccrq_msg(), now);
        drain(&mut t, now);
        scccn.challenge_response = Some(challenge_response(2, b"s3cret", &T0_CH));
        t.handle_datagram(now, &dgram(5, 0, 1, 1, &scccn));
        assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (4, None));
    }

    #[test]
    fn incoming_call_and_hidden_session_id() {
        let now = Instant::now();
        let cfg = TunnelConfig {
            secret: Some(b"s3cret".to_vec()),
            ..Default::default()
        };
        let mut t = established(cfg, now);
        let mut m = icrq(900);
        m.calling_number = Some(b"555".to_vec());
        m.random_vector = Some(vec![3; 16]);
        m.hidden_avps = vec![AvpType::AssignedSessionId as u16];
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &m));
        let ev = events(&mut t);
        let [TunnelEvent::IncomingCall {
            local_sid,
            peer_sid: 900,
            call,
        }] = &ev[..]
        else {
            panic!("{ev:?}")
        };
        assert_eq!(call.calling_number.as_deref(), Some("555"));
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.message_type, MessageType::Icrp);
        assert_eq!(out[0].h.session_id(), 900);
        assert_eq!(out[0].m.assigned_session_id, Some(*local_sid));
        let local_sid = *local_sid;
        // ICCN with proxy LCP.
        let mut iccn = ControlMessage::new(MessageType::Iccn);
        iccn.tx_connect_speed = Some(1000);
        iccn.framing_type = Some(1);
        iccn.last_sent_lcp_confreq = Some(vec![5, 6, 0, 0, 0, 1]);
        iccn.proxy_authen_type = Some(2);
        iccn.sequencing_required = true;
        t.handle_datagram(now, &dgram(5, local_sid, 3, 2, &iccn));
        let ev = events(&mut t);
        let [TunnelEvent::CallConnected {
            local_sid: l,
            connect,
        }] = &ev[..]
        else {
            panic!()
        };
        assert_eq!(*l, local_sid);
        assert!(connect.sequencing_required);
        assert_eq!(connect.proxy_auth.as_ref().unwrap().authen_type, Some(2));
        assert_eq!(
            connect.last_sent_lcp_confreq.as_deref(),
            Some(&[5, 6, 0, 0, 0, 1][..])
        );
        // ICCN gets a ZLB.
        let out = drain(&mut t, now);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].m.message_type, MessageType::Zlb);
        // CDN from the LAC.
        let mut cdn = ControlMessage::new(MessageType::Cdn);
        cdn.assigned_session_id = Some(900);
        cdn.result_code = Some(ResultCode {
            result: 1,
            error: None,
            message: None,
        });
        cdn.ppp_disconnect_cause = Some(PppDisconnectCause {
            code: 3,
            protocol: 0xc021,
            direction: 1,
            message: vec![],
        });
        t.handle_datagram(now, &dgram(5, local_sid, 4, 2, &cdn));
        let ev = events(&mut t);
        assert!(
            matches!(&ev[..], [TunnelEvent::CallDisconnected { info, .. }]
            if info.by_peer && info.result == 1 && info.ppp_disconnect_cause.as_ref().unwrap().code == 3)
        );
        assert_eq!(t.session_count(), 0);
        assert_eq!(t.session_peer_id(local_sid), None);
    }

    #[test]
    fn max_sessions_refused_with_cdn() {
        let now = Instant::now();
        let mut t = established(
            TunnelConfig {
                max_sessions: 1,
                ..Default::default()
            },
            now,
        );
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(1)));
        t.handle_datagram(now, &dgram(5, 0, 3, 1, &icrq(2)));
        let out = drain(&mut t, now);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].m.message_type, MessageType::Cdn);
        assert_eq!(out[1].h.session_id(), 2);
        let r = out[1].m.result_code.clone().unwrap();
        assert_eq!((r.result, r.error), (2, Some(4)));
        let ev = events(&mut t);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1], TunnelEvent::CallRefused { peer_sid: 2 });
        assert_eq!(t.stats().sessions_refused, 1);
    }

    #[test]
    fn no_call_while_the_owner_takes_none() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        let owners = CdnResult::new(CdnCode::GeneralError)
            .with_error(ErrorCode::InsufficientResources)
            .with_message("owner's limit");
        t.set_call_refusal(Some(owners));
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(1)));
        let out = drain(&mut t, now);
        // A CDN 2/4 straight away: no ICRP, no call.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].m.message_type, MessageType::Cdn);
        let r = out[0].m.result_code.clone().unwrap();
        assert_eq!((r.result, r.error), (2, Some(4)));
        assert_eq!(r.message.as_deref(), Some(&b"owner's limit"[..]));
        assert_eq!(events(&mut t), [TunnelEvent::CallRefused { peer_sid: 1 }]);
        assert_eq!(t.session_count(), 0);
        t.set_call_refusal(None);
        t.handle_datagram(now, &dgram(5, 0, 3, 1, &icrq(2)));
        assert!(matches!(
            events(&mut t)[..],
            [TunnelEvent::IncomingCall { peer_sid: 2, .. }]
        ));
    }

    #[test]
    fn unknown_mandatory_in_session_message_gives_cdn() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(9)));
        let TunnelEvent::IncomingCall { local_sid, .. } = events(&mut t)[0].clone() else {
            panic!()
        };
        drain(&mut t, now);
        let mut p = ControlMessage::new(MessageType::Iccn)
            .to_payload(None)
            .unwrap();
        push_avp(&mut p, true, false, 250, b"?");
        t.handle_datagram(now, &build_control(5, local_sid, 3, 2, &p));
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.message_type, MessageType::Cdn);
        let r = out[0].m.result_code.clone().unwrap();
        assert_eq!((r.result, r.error), (2, Some(8)));
        assert!(
            matches!(&events(&mut t)[..], [TunnelEvent::CallDisconnected { info, .. }] if !info.by_peer && info.error == Some(8))
        );
        assert!(t.is_established());
        // ICRQ with unknown M AVP: CDN without a session.
        let mut p = icrq(10).to_payload(None).unwrap();
        push_avp(&mut p, true, false, 250, b"?");
        t.handle_datagram(now, &build_control(5, 0, 4, 3, &p));
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.message_type, MessageType::Cdn);
        assert_eq!(out[0].h.session_id(), 10);
        assert_eq!(t.session_count(), 0);
    }

    #[test]
    fn unknown_mandatory_in_tunnel_message_gives_stopccn() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        let mut p = ControlMessage::new(MessageType::Hello)
            .to_payload(None)
            .unwrap();
        push_avp(&mut p, true, false, 250, b"?");
        t.handle_datagram(now, &build_control(5, 0, 2, 1, &p));
        assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (2, Some(8)));
        assert!(matches!(
            &events(&mut t)[..],
            [TunnelEvent::Closed {
                reason: CloseReason::Refused(_)
            }]
        ));
        // Unknown message type with the M bit.
        let mut t = established(TunnelConfig::default(), now);
        t.handle_datagram(
            now,
            &build_control(5, 0, 2, 1, &[0x80, 8, 0, 0, 0, 0, 0, 99]),
        );
        assert_eq!(stopccn_result(&drain(&mut t, now)[0]), (2, Some(8)));
        // ... and without: acked and ignored.
        let mut t = established(TunnelConfig::default(), now);
        t.handle_datagram(
            now,
            &build_control(5, 0, 2, 1, &[0x00, 8, 0, 0, 0, 0, 0, 99]),
        );
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.message_type, MessageType::Zlb);
        assert!(t.is_established());
    }

    #[test]
    fn misc_messages() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        // OCRQ: CDN 5.
        let mut o = ControlMessage::new(MessageType::Ocrq);
        o.assigned_session_id = Some(33);
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &o));
        let out = drain(&mut t, now);
        assert_eq!(out[0].m.message_type, MessageType::Cdn);
        assert_eq!(out[0].h.session_id(), 33);
        assert_eq!(out[0].m.result_code.as_ref().unwrap().result, 5);
        // WEN, SLI, HELLO, CDN for unknown session: acked, ignored.
        let mut wen = ControlMessage::new(MessageType::Wen);
        wen.call_errors = Some(Default::default());
        let mut sli = ControlMessage::new(MessageType::Sli);
        sli.accm = Some(Default::default());
        let mut cdn = ControlMessage::new(MessageType::Cdn);
        cdn.assigned_session_id = Some(4);
        for (i, m) in [wen, sli, ControlMessage::new(MessageType::Hello), cdn]
            .iter()
            .enumerate()
        {
            t.handle_datagram(now, &dgram(5, 1234, 3 + i as u16, 2, m));
            let out = drain(&mut t, now);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].m.message_type, MessageType::Zlb);
        }
        assert_eq!(t.stats().unknown_session, 1);
        assert!(events(&mut t).is_empty());
        assert!(t.is_established());
    }

    #[test]
    fn malformed_dropped_unacked() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        let bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xc8],
            vec![0xc8, 0x03, 0, 12, 0, 5, 0, 0, 0, 2, 0, 1],
            build_control(5, 0, 2, 1, &[0x80, 0x20, 0, 0, 0, 6]),
            build_control(5, 0, 2, 1, &[0x80, 0x04, 0, 0]),
        ];
        for d in &bad {
            t.handle_datagram(now, d);
        }
        assert_eq!(t.stats().malformed, bad.len() as u64);
        t.handle_datagram(now, &[0, 2, 0, 5, 0, 1, 0xff, 3]);
        assert_eq!(t.stats().not_control, 1);
        assert!(drain(&mut t, now).is_empty());
        assert!(t.is_established());
    }

    #[test]
    fn peer_stopccn_acked_and_lingers() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(9)));
        events(&mut t);
        drain(&mut t, now);
        let mut s = ControlMessage::new(MessageType::StopCcn);
        s.assigned_tunnel_id = Some(77);
        s.result_code = Some(ResultCode {
            result: 6,
            error: None,
            message: None,
        });
        let d = dgram(5, 0, 3, 2, &s);
        t.handle_datagram(now, &d);
        assert_eq!(drain(&mut t, now)[0].m.message_type, MessageType::Zlb);
        assert!(
            matches!(&events(&mut t)[..], [TunnelEvent::Closed { reason: CloseReason::PeerStopCcn { result: Some(r) } }] if r.result == 6)
        );
        assert_eq!(t.session_count(), 0);
        // Retransmitted StopCCN is re-acked.
        let later = now + Duration::from_secs(2);
        t.handle_datagram(later, &d);
        assert_eq!(drain(&mut t, later)[0].m.message_type, MessageType::Zlb);
        assert!(!t.is_closed());
        let until = t.poll_timeout().unwrap();
        assert_eq!(until, now + Duration::from_secs(31));
        t.handle_timeout(until);
        assert!(t.is_closed());
        assert!(events(&mut t).is_empty());
    }

    #[test]
    fn local_close_reports_when_acked() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        t.close(
            now,
            StopCcnResult::new(StopCcnCode::ShuttingDown).with_message("bye"),
        );
        let out = drain(&mut t, now);
        assert_eq!(stopccn_result(&out[0]), (6, None));
        assert!(events(&mut t).is_empty());
        t.handle_datagram(now, &build_control(5, 0, 2, 2, &[]));
        assert!(t.is_closed());
        assert!(
            matches!(&events(&mut t)[..], [TunnelEvent::Closed { reason: CloseReason::Local(r) }] if r.message.as_deref() == Some("bye"))
        );
    }

    #[test]
    fn local_close_gives_up() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        t.close(now, StopCcnResult::new(StopCcnCode::ClearConnection));
        drain(&mut t, now);
        while let Some(at) = t.poll_timeout() {
            t.handle_timeout(at);
            drain(&mut t, at);
        }
        assert!(t.is_closed());
        assert!(matches!(
            &events(&mut t)[..],
            [TunnelEvent::Closed {
                reason: CloseReason::Local(_)
            }]
        ));
    }

    #[test]
    fn out_of_order_session_messages() {
        let now = Instant::now();
        let mut t = established(TunnelConfig::default(), now);
        // ICCN (Ns 3) arrives before its ICRQ (Ns 2): queued, then both in order.
        let mut iccn = ControlMessage::new(MessageType::Iccn);
        iccn.tx_connect_speed = Some(1);
        iccn.framing_type = Some(1);
        t.handle_datagram(now, &dgram(5, 1, 3, 1, &iccn));
        assert!(events(&mut t).is_empty());
        t.handle_datagram(now, &dgram(5, 0, 2, 1, &icrq(9)));
        let ev = events(&mut t);
        assert!(
            matches!(
                &ev[..],
                [
                    TunnelEvent::IncomingCall { local_sid: 1, .. },
                    TunnelEvent::CallConnected { local_sid: 1, .. }
                ]
            ),
            "{ev:?}"
        );
    }
}
