//! The LAC side of an L2TP tunnel (RFC 2661 §5.1, §7.2 incoming calls), for
//! the load generator and for end-to-end tests of the LNS. Same sans-IO
//! shape as [`super::tunnel::Tunnel`].
//!
//! With `hide_avps` (and a secret) the ICRQ carries a Random Vector and a
//! hidden Assigned Session ID (§4.3), to exercise the LNS's unhiding. The
//! Random Vector is derived from the caller's random `challenge` bytes and a
//! counter (the core takes no randomness of its own).

use super::challenge::{challenge_response, verify_response};
use super::control_channel::{ChannelStats, ControlChannel};
use super::message::{ControlMessage, MessageType, ProtocolVersion};
use super::result_code::{CdnResult, ErrorCode, StopCcnCode, StopCcnResult};
use super::session_ids::SessionTable;
use super::tunnel::{linger_time, CdnInfo, CloseReason, FRAMING_SYNC_ASYNC};
use super::wire::Header;
use md5::{Digest, Md5};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// LAC settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LacConfig {
    pub hostname: String,
    pub vendor_name: String,
    pub secret: Option<Vec<u8>>,
    /// Put a Challenge in SCCRQ and verify the LNS's response (needs secret).
    pub challenge_lns: bool,
    /// Hide the Assigned Session ID of ICRQs (needs secret).
    pub hide_avps: bool,
    pub receive_window: u16,
    pub hello_interval: Option<Duration>,
    pub retransmit_initial: Duration,
    pub retransmit_max: Duration,
    pub max_retransmits: u32,
}

impl Default for LacConfig {
    fn default() -> Self {
        LacConfig {
            hostname: "lac".into(),
            vendor_name: "l2tpns-rs loadgen".into(),
            secret: None,
            challenge_lns: false,
            hide_avps: false,
            receive_window: 16,
            hello_interval: Some(Duration::from_secs(60)),
            retransmit_initial: Duration::from_secs(1),
            retransmit_max: Duration::from_secs(8),
            max_retransmits: 5,
        }
    }
}

impl LacConfig {
    fn channel_config(&self) -> super::control_channel::ChannelConfig {
        super::control_channel::ChannelConfig {
            receive_window: self.receive_window.max(1),
            retransmit_initial: self.retransmit_initial,
            retransmit_max: self.retransmit_max,
            max_retransmits: self.max_retransmits,
            hello_interval: self.hello_interval,
        }
    }
}

/// A call to place (ICRQ, then ICCN after the ICRP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCall {
    pub call_serial_number: u32,
    pub bearer_type: Option<u32>,
    pub calling_number: Option<String>,
    pub called_number: Option<String>,
    pub tx_connect_speed: u32,
    pub rx_connect_speed: Option<u32>,
    /// 1 = synchronous, 2 = asynchronous.
    pub framing_type: u32,
}

impl Default for OutgoingCall {
    fn default() -> Self {
        OutgoingCall {
            call_serial_number: 1,
            bearer_type: None,
            calling_number: None,
            called_number: None,
            tx_connect_speed: 100_000_000,
            rx_connect_speed: None,
            framing_type: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LacEvent {
    /// SCCRP accepted, SCCCN queued.
    Established,
    /// ICRP received, ICCN queued: the session can carry PPP.
    CallUp {
        local_sid: u16,
        peer_sid: u16,
    },
    /// CDN from the LNS (or we cleared the call).
    CallDisconnected {
        local_sid: u16,
        info: CdnInfo,
    },
    Closed {
        reason: CloseReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    WaitCtlReply,
    Established,
    Closing { local: bool },
    Lingering { until: Instant },
    Closed,
}

#[derive(Debug, Clone)]
struct Call {
    peer_sid: u16,
    up: bool,
    call: OutgoingCall,
}

/// The LAC end of a tunnel.
#[derive(Debug)]
pub struct LacTunnel {
    cfg: Arc<LacConfig>,
    local_id: u16,
    state: State,
    channel: ControlChannel,
    challenge: [u8; 16],
    rv_counter: u32,
    calls: SessionTable<Call>,
    events: VecDeque<LacEvent>,
    /// Calls whose ICCN still waits in the send window: like a real LAC,
    /// PPP starts (CallUp) only once the ICCN is on the wire.
    /// Calls whose ICCN waits in the send queue: (local sid, peer sid,
    /// queue ticket), in queue order.
    iccn_waiting: VecDeque<(u16, u16, u64)>,
    close_result: Option<StopCcnResult>,
    malformed: u64,
}

impl LacTunnel {
    /// Queue an SCCRQ. `challenge` = 16 random bytes.
    pub fn new(cfg: Arc<LacConfig>, local_id: u16, challenge: [u8; 16], now: Instant) -> LacTunnel {
        let channel = ControlChannel::new(cfg.channel_config(), 0, now);
        let mut t = LacTunnel {
            cfg,
            local_id,
            state: State::WaitCtlReply,
            channel,
            challenge,
            rv_counter: 0,
            calls: SessionTable::default(),
            events: VecDeque::new(),
            iccn_waiting: VecDeque::new(),
            close_result: None,
            malformed: 0,
        };
        let mut m = ControlMessage::new(MessageType::Sccrq);
        m.protocol_version = Some(ProtocolVersion {
            version: 1,
            revision: 0,
        });
        m.framing_capabilities = Some(FRAMING_SYNC_ASYNC);
        m.host_name = Some(t.cfg.hostname.as_bytes().to_vec());
        m.vendor_name = Some(t.cfg.vendor_name.as_bytes().to_vec());
        m.assigned_tunnel_id = Some(local_id);
        m.receive_window_size = Some(t.cfg.receive_window.max(1));
        if t.cfg.challenge_lns && t.cfg.secret.is_some() {
            m.challenge = Some(challenge.to_vec());
        }
        t.send(0, &m);
        t
    }

    pub fn local_id(&self) -> u16 {
        self.local_id
    }
    pub fn peer_id(&self) -> u16 {
        self.channel.peer_tunnel_id()
    }
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }
    pub fn call_peer_id(&self, local_sid: u16) -> Option<u16> {
        self.calls
            .get(local_sid)
            .map(|c| c.peer_sid)
            .filter(|p| *p != 0)
    }
    pub fn stats(&self) -> ChannelStats {
        self.channel.stats()
    }
    /// Datagrams dropped as malformed.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    fn send(&mut self, sid: u16, m: &ControlMessage) {
        if let Ok(p) = m.to_payload(self.cfg.secret.as_deref()) {
            self.channel.send(sid, p);
        }
    }

    fn next_random_vector(&mut self) -> Vec<u8> {
        self.rv_counter = self.rv_counter.wrapping_add(1);
        let mut h = Md5::new();
        h.update(self.challenge);
        h.update(self.rv_counter.to_be_bytes());
        h.finalize().to_vec()
    }

    /// Place a call (ICRQ). Returns our session id, or None if the tunnel is
    /// not established or no id is free.
    pub fn place_call(&mut self, _now: Instant, call: OutgoingCall) -> Option<u16> {
        if self.state != State::Established {
            return None;
        }
        let mut m = ControlMessage::new(MessageType::Icrq);
        m.call_serial_number = Some(call.call_serial_number);
        m.bearer_type = call.bearer_type;
        m.calling_number = call.calling_number.as_ref().map(|s| s.as_bytes().to_vec());
        m.called_number = call.called_number.as_ref().map(|s| s.as_bytes().to_vec());
        let sid = self.calls.insert(Call {
            peer_sid: 0,
            up: false,
            call,
        })?;
        m.assigned_session_id = Some(sid);
        if self.cfg.hide_avps && self.cfg.secret.is_some() {
            m.random_vector = Some(self.next_random_vector());
            m.hidden_avps = vec![super::avp::AvpType::AssignedSessionId as u16];
        }
        self.send(0, &m);
        Some(sid)
    }

    /// Hang up a call (CDN) and free its id. No event.
    pub fn hangup(&mut self, _now: Instant, local_sid: u16, result: CdnResult) {
        if !matches!(self.state, State::Established) {
            return;
        }
        if let Some(c) = self.calls.remove(local_sid) {
            let mut m = ControlMessage::new(MessageType::Cdn);
            m.assigned_session_id = Some(local_sid);
            m.result_code = Some(result.to_avp());
            self.send(c.peer_sid, &m);
        }
    }

    fn send_stopccn(&mut self, r: &StopCcnResult) {
        let mut m = ControlMessage::new(MessageType::StopCcn);
        m.assigned_tunnel_id = Some(self.local_id);
        m.result_code = Some(r.to_avp());
        self.send(0, &m);
        self.channel.set_hello_interval(None);
        self.calls.clear();
    }

    fn closing_or_closed(&self) -> bool {
        matches!(
            self.state,
            State::Closing { .. } | State::Lingering { .. } | State::Closed
        )
    }

    /// StopCCN; `Closed` once acked or given up.
    pub fn close(&mut self, _now: Instant, result: StopCcnResult) {
        if self.closing_or_closed() {
            return;
        }
        self.send_stopccn(&result);
        self.close_result = Some(result);
        self.state = State::Closing { local: true };
    }

    fn abort(&mut self, result: StopCcnResult) {
        if self.closing_or_closed() {
            return;
        }
        self.send_stopccn(&result);
        self.state = State::Closing { local: false };
        self.events.push_back(LacEvent::Closed {
            reason: CloseReason::Refused(result),
        });
    }

    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        let Ok(h) = Header::parse(datagram) else {
            self.malformed += 1;
            return;
        };
        let payload = h.payload(datagram);
        if !h.is_control()
            || h.tunnel_id() != self.local_id
            || ControlMessage::parse(payload, self.cfg.secret.as_deref()).is_err()
        {
            self.malformed += 1;
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

    fn dispatch(&mut self, now: Instant, sid: u16, m: ControlMessage) {
        use MessageType as M;
        match self.state {
            State::Closed | State::Lingering { .. } => return,
            State::Closing { local } => {
                if m.message_type == M::StopCcn {
                    self.finish(!local);
                }
                return;
            }
            _ => {}
        }
        if m.unknown_mandatory.is_some() && !m.message_type.is_session_scoped() {
            let r = StopCcnResult::new(StopCcnCode::GeneralError)
                .with_error(ErrorCode::UnknownMandatoryAvp);
            return self.abort(r);
        }
        match m.message_type {
            M::Sccrp => self.on_sccrp(m),
            M::StopCcn => {
                self.calls.clear();
                self.channel.set_hello_interval(None);
                let until = now + linger_time(self.channel.config());
                self.state = State::Lingering { until };
                self.events.push_back(LacEvent::Closed {
                    reason: CloseReason::PeerStopCcn {
                        result: m.result_code,
                    },
                });
            }
            M::Icrp => self.on_icrp(sid, m),
            M::Cdn => self.on_cdn(sid, m),
            _ => {}
        }
    }

    fn on_cdn(&mut self, sid: u16, m: ControlMessage) {
        if self.calls.remove(sid).is_none() {
            return;
        }
        let r = m.result_code.unwrap_or_default();
        let info = CdnInfo {
            by_peer: true,
            result: r.result,
            error: r.error,
            message: r.message.map(|b| String::from_utf8_lossy(&b).into_owned()),
            q931_cause: m.q931_cause,
            ppp_disconnect_cause: m.ppp_disconnect_cause,
        };
        self.events.push_back(LacEvent::CallDisconnected {
            local_sid: sid,
            info,
        });
    }

    fn on_sccrp(&mut self, m: ControlMessage) {
        if self.state != State::WaitCtlReply {
            return;
        }
        self.channel
            .set_peer_tunnel_id(m.assigned_tunnel_id.unwrap_or(0));
        self.channel.set_peer_receive_window(m.receive_window_size);
        let secret = self.cfg.secret.clone();
        if self.cfg.challenge_lns {
            let ok = match (&secret, &m.challenge_response) {
                (Some(s), Some(r)) => verify_response(2, s, &self.challenge, r),
                _ => false,
            };
            if !ok {
                return self.abort(
                    StopCcnResult::new(StopCcnCode::NotAuthorized)
                        .with_message("bad challenge response"),
                );
            }
        }
        let mut scccn = ControlMessage::new(MessageType::Scccn);
        if let Some(c) = &m.challenge {
            let Some(s) = &secret else {
                return self.abort(StopCcnResult::new(StopCcnCode::NotAuthorized));
            };
            scccn.challenge_response = Some(challenge_response(3, s, c));
        }
        self.send(0, &scccn);
        self.state = State::Established;
        self.events.push_back(LacEvent::Established);
    }

    fn on_icrp(&mut self, sid: u16, m: ControlMessage) {
        let Some(c) = self.calls.get_mut(sid) else {
            return;
        };
        if c.up {
            return;
        }
        c.up = true;
        c.peer_sid = m.assigned_session_id.unwrap_or(0);
        let peer_sid = c.peer_sid;
        let mut iccn = ControlMessage::new(MessageType::Iccn);
        iccn.tx_connect_speed = Some(c.call.tx_connect_speed);
        iccn.rx_connect_speed = c.call.rx_connect_speed;
        iccn.framing_type = Some(c.call.framing_type);
        self.send(peer_sid, &iccn);
        let ticket = self.channel.last_queued_ticket();
        self.iccn_waiting.push_back((sid, peer_sid, ticket));
    }

    /// CallUp for every call whose ICCN has left the send queue.
    fn release_call_ups(&mut self) {
        // The send queue is FIFO, so the ICCNs leave it in the order they
        // were queued (a scan of the queue per call was quadratic).
        while let Some(&(local_sid, peer_sid, ticket)) = self.iccn_waiting.front() {
            if !self.channel.has_left_queue(ticket) {
                break;
            }
            self.iccn_waiting.pop_front();
            self.events.push_back(LacEvent::CallUp {
                local_sid,
                peer_sid,
            });
        }
    }

    fn finish(&mut self, already_emitted: bool) {
        self.calls.clear();
        self.state = State::Closed;
        if !already_emitted {
            let r = self
                .close_result
                .take()
                .unwrap_or(StopCcnResult::new(StopCcnCode::ClearConnection));
            self.events.push_back(LacEvent::Closed {
                reason: CloseReason::Local(r),
            });
        }
    }

    fn check_progress(&mut self, now: Instant) {
        if self.channel.is_dead() && self.state != State::Closed {
            let emitted = matches!(
                self.state,
                State::Closing { local: false } | State::Lingering { .. }
            );
            let local = matches!(self.state, State::Closing { local: true });
            self.calls.clear();
            self.state = State::Closed;
            if !emitted {
                let reason = match (local, self.close_result.take()) {
                    (true, Some(r)) => CloseReason::Local(r),
                    _ => CloseReason::PeerUnreachable,
                };
                self.events.push_back(LacEvent::Closed { reason });
            }
            return;
        }
        match self.state {
            State::Closing { local } if self.channel.is_idle() => self.finish(!local),
            State::Lingering { until } if now >= until => self.state = State::Closed,
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.channel.handle_timeout(now);
        self.check_progress(now);
    }

    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.state == State::Closed {
            return None;
        }
        let d = self.channel.poll_transmit(now);
        if !self.iccn_waiting.is_empty() {
            self.release_call_ups();
        }
        d
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Lingering { until } => Some(until),
            _ => self.channel.poll_timeout(),
        }
    }

    pub fn poll_event(&mut self) -> Option<LacEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
