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
use super::session_ids::{SessionIdHint, SessionTable};
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
    /// The owner's preference among free session ids, if it has one.
    id_hint: Option<Arc<dyn SessionIdHint>>,
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
            id_hint: None,
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
    /// The peer's StopCCN is acknowledged; only its retransmissions would
    /// still be answered: nothing of ours is outstanding.
    pub fn is_lingering(&self) -> bool {
        matches!(self.state, State::Lingering { .. })
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
    /// Prefer the session ids `hint` prefers for new calls (kept across
    /// datagrams; not saved with the tunnel).
    pub fn set_session_id_hint(&mut self, hint: Arc<dyn SessionIdHint>) {
        self.id_hint = Some(hint);
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
            let session = Session {
                peer_sid,
                connected: false,
            };
            match &self.id_hint {
                Some(h) => {
                    let tunnel = self.local_id;
                    self.sessions
                        .insert_preferring(session, |sid| h.prefers(tunnel, sid))
                }
                None => self.sessions.insert(session),
            }
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
mod tests;
