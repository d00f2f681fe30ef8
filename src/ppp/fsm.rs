//! The RFC 1661 §4 option-negotiation automaton shared by LCP and IPCP:
//! the ten states, the events Up/Down/Open/Close/TO+/TO-/RCR±/RCA/RCN/RTR/
//! RTA/RUC/RXJ±/RXR and their actions (§4.1 table), the restart timer and
//! counters of §4.6 (Max-Terminate, Max-Configure, Max-Failure: after that
//! many Naks in a row, options we would Nak are Rejected instead).
//! Protocol-specific option handling lives behind [`Negotiator`]. The
//! automaton emits control packets and This-Layer events into a queue that
//! the owner drains with [`Fsm::poll_output`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::wire::{code, emit_packet, ConfigOption, ConfigOptions, ControlPacket};

/// RFC 1661 §4.2 states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Initial,
    Starting,
    Closed,
    Stopped,
    Closing,
    Stopping,
    ReqSent,
    AckRcvd,
    AckSent,
    Opened,
}

/// This-Layer-Up/Down/Started/Finished (tlu, tld, tls, tlf).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerEvent {
    Up,
    Down,
    Started,
    Finished,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsmOutput {
    /// A control packet (code, id, length, data) for the owner to frame.
    Packet(Vec<u8>),
    Layer(LayerEvent),
    /// The negotiator found the peer's Nak/Reject unacceptable; the
    /// automaton has issued Close.
    NegotiationFailed,
}

/// Restart timer and counters (RFC 1661 §4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsmConfig {
    pub restart_time: Duration,
    pub max_configure: u32,
    pub max_terminate: u32,
    pub max_failure: u32,
}

impl Default for FsmConfig {
    fn default() -> Self {
        FsmConfig {
            restart_time: Duration::from_secs(3),
            max_configure: 10,
            max_terminate: 2,
            max_failure: 5,
        }
    }
}

/// What the negotiator thinks of one option in the peer's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ack,
    /// Nak, suggesting this value for the same option type.
    Nak(Vec<u8>),
    Reject,
}

/// The peer's Nak or Reject of our request left nothing we can live with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unacceptable;

/// A retransmitting sender used up its Max-Configure tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GaveUp;

/// Protocol-specific option handling (LCP, IPCP).
pub trait Negotiator {
    /// Append our Configure-Request options.
    fn build_request(&mut self, out: &mut Vec<u8>);
    /// Judge one option of the peer's Configure-Request.
    fn judge(&mut self, option: &ConfigOption<'_>) -> Verdict;
    /// Options the peer did not include but we want it to (Nak hints).
    fn missing(&mut self, _present: &[ConfigOption<'_>]) -> Vec<(u8, Vec<u8>)> {
        Vec::new()
    }
    /// We Acked this request: commit the peer's values.
    fn peer_acked(&mut self, options: &[ConfigOption<'_>]);
    /// The peer Acked our request: commit our values.
    fn ours_acked(&mut self, _options: &[ConfigOption<'_>]) {}
    /// The peer Naked some of our options.
    fn handle_nak(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable>;
    /// The peer Rejected some of our options.
    fn handle_reject(&mut self, options: &[ConfigOption<'_>]) -> Result<(), Unacceptable>;
    /// A new negotiation starts (irc before the first scr): forget peer values.
    fn reset(&mut self) {}
}

/// One instance of the automaton plus its negotiator.
#[derive(Debug)]
pub struct Fsm<N> {
    pub neg: N,
    cfg: FsmConfig,
    state: State,
    restart_counter: u32,
    nak_loops: u32,
    timer: Option<Instant>,
    next_id: u8,
    /// Identifier and options of our outstanding Configure-Request.
    req_id: u8,
    req_options: Vec<u8>,
    /// The peer Acked `req_id`: a further Ack with it is a duplicate.
    req_acked: bool,
    /// Identifier and options of the peer request we last Acked: the same
    /// request again in Opened is a retransmission that crossed our Ack.
    peer_req: Option<(u8, Vec<u8>)>,
    /// Identifier and options of the peer request we last Naked: the same
    /// request again means our Nak was lost, not that the peer ignores it,
    /// so it does not count toward Max-Failure.
    naked_req: Option<(u8, Vec<u8>)>,
    /// The last This-Layer-Finished came from Max-Configure running out.
    configure_timed_out: bool,
    out: VecDeque<FsmOutput>,
}

impl<N: Negotiator> Fsm<N> {
    pub fn new(neg: N, cfg: FsmConfig) -> Fsm<N> {
        Fsm {
            neg,
            cfg,
            state: State::Initial,
            restart_counter: 0,
            nak_loops: 0,
            timer: None,
            next_id: 1,
            req_id: 0,
            req_options: Vec::new(),
            req_acked: false,
            peer_req: None,
            naked_req: None,
            configure_timed_out: false,
            out: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn poll_output(&mut self) -> Option<FsmOutput> {
        self.out.pop_front()
    }

    /// Free the drained output queue's buffer: it keeps the capacity of its
    /// busiest moment otherwise. (An echo then allocates one again and the
    /// next release frees it: a malloc per 10 s per link, against ~100
    /// bytes per link kept for good.)
    pub fn release_idle_buffers(&mut self) {
        if self.out.is_empty() && self.out.capacity() > 0 {
            self.out = VecDeque::new();
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// The peer cannot have seen our requests so far (it was still
    /// authenticating): give the current negotiation its full
    /// Max-Configure again instead of counting those as failures.
    pub fn renew_configure_count(&mut self) {
        if matches!(self.state, State::ReqSent | State::AckRcvd | State::AckSent) {
            self.restart_counter = self.cfg.max_configure;
        }
    }

    /// A layer restored from saved state, Opened as it was before the
    /// restart: nothing is sent, no timer runs.
    pub fn restore_opened(&mut self, next_id: u8) {
        self.state = State::Opened;
        self.next_id = next_id;
        self.timer = None;
    }

    /// The identifier the next packet will carry (saved across a restart).
    pub fn next_id(&self) -> u8 {
        self.next_id
    }

    /// Allocate an identifier for a packet outside the automaton (Echo...).
    pub fn alloc_id(&mut self) -> u8 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    // ---- events from the layer below / above ----

    pub fn up(&mut self, now: Instant) {
        match self.state {
            State::Initial => self.state = State::Closed,
            State::Starting => {
                self.irc_configure();
                self.scr(now);
                self.state = State::ReqSent;
            }
            _ => {}
        }
    }

    pub fn down(&mut self) {
        match self.state {
            State::Closed | State::Closing => self.set(State::Initial),
            State::Stopped => {
                self.tls();
                self.set(State::Starting);
            }
            State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => {
                self.set(State::Starting)
            }
            State::Opened => {
                self.tld();
                self.set(State::Starting);
            }
            State::Initial | State::Starting => {}
        }
    }

    pub fn open(&mut self, now: Instant) {
        match self.state {
            State::Initial => {
                self.tls();
                self.state = State::Starting;
            }
            State::Closed => {
                self.irc_configure();
                self.scr(now);
                self.state = State::ReqSent;
            }
            // The "restart" option (r) is not implemented: stay put.
            State::Closing => self.state = State::Stopping,
            _ => {}
        }
    }

    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Starting => {
                self.tlf();
                self.set(State::Initial);
            }
            State::Stopped => self.set(State::Closed),
            State::Stopping => self.state = State::Closing,
            State::ReqSent | State::AckRcvd | State::AckSent => {
                self.irc_terminate();
                self.str(now);
                self.state = State::Closing;
            }
            State::Opened => {
                self.tld();
                self.irc_terminate();
                self.str(now);
                self.state = State::Closing;
            }
            State::Initial | State::Closed | State::Closing => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.timer {
            Some(t) if t <= now => {}
            _ => return,
        }
        self.timer = None;
        if self.restart_counter > 0 {
            // TO+
            match self.state {
                State::Closing | State::Stopping => self.str(now),
                State::ReqSent | State::AckSent => self.scr_again(now),
                State::AckRcvd => {
                    // The peer answered this request: a new Identifier (§5.1).
                    self.scr(now);
                    self.state = State::ReqSent;
                }
                _ => {}
            }
        } else {
            // TO-
            match self.state {
                State::Closing => {
                    self.tlf();
                    self.set(State::Closed);
                }
                State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => {
                    self.configure_timed_out = self.state != State::Stopping;
                    self.tlf();
                    self.set(State::Stopped);
                }
                _ => {}
            }
        }
    }

    /// The layer finished because Max-Configure requests went unacked.
    pub fn configure_timed_out(&self) -> bool {
        self.configure_timed_out
    }

    // ---- received packets ----

    /// Handle a packet with code 1..=7; any other code is RUC (Code-Reject).
    /// LCP handles its extra codes (8..=11) before calling this.
    pub fn handle_packet(&mut self, now: Instant, packet: &ControlPacket<'_>) {
        match packet.code() {
            code::CONFIGURE_REQUEST => self.rcr(now, packet),
            code::CONFIGURE_ACK => self.rca(now, packet),
            code::CONFIGURE_NAK | code::CONFIGURE_REJECT => self.rcn(now, packet),
            code::TERMINATE_REQUEST => self.rtr(now, packet.identifier()),
            code::TERMINATE_ACK => self.rta(now),
            code::CODE_REJECT => {
                // Rejecting one of the codes the automaton needs is fatal.
                let rejected = packet.data().first().copied().unwrap_or(0);
                let fatal = (code::CONFIGURE_REQUEST..=code::CODE_REJECT).contains(&rejected);
                self.rxj(now, !fatal);
            }
            _ => self.ruc(packet),
        }
    }

    /// RUC: send a Code-Reject quoting the packet.
    pub fn ruc(&mut self, packet: &ControlPacket<'_>) {
        if self.state == State::Initial || self.state == State::Starting {
            return;
        }
        let id = self.alloc_id();
        self.send(code::CODE_REJECT, id, &packet.to_bytes());
    }

    /// RXJ+ (permitted) or RXJ- (catastrophic): Code- or Protocol-Reject.
    pub fn rxj(&mut self, now: Instant, permitted: bool) {
        if permitted {
            return;
        }
        match self.state {
            State::Closed | State::Closing => {
                self.tlf();
                self.set(State::Closed);
            }
            State::Stopped | State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => {
                self.tlf();
                self.set(State::Stopped);
            }
            State::Opened => {
                self.tld();
                self.irc_terminate();
                self.str(now);
                self.state = State::Stopping;
            }
            State::Initial | State::Starting => {}
        }
    }

    fn rcr(&mut self, now: Instant, packet: &ControlPacket<'_>) {
        let id = packet.identifier();
        let options = match ConfigOptions::collect_checked(packet.data()) {
            Ok(o) => o,
            // A malformed option list cannot be judged: discard (§5.1).
            Err(_) => return,
        };
        match self.state {
            State::Initial | State::Starting | State::Closing | State::Stopping => return,
            State::Closed => {
                self.sta(id);
                return;
            }
            State::Opened if self.is_peer_retransmission(id, packet.data()) => {
                // Our Ack crossed this copy: Ack again, no renegotiation.
                self.send(code::CONFIGURE_ACK, id, packet.data());
                return;
            }
            _ => {}
        }
        if self.state == State::Opened {
            self.tld();
        }
        if self.state == State::Stopped || self.state == State::Opened {
            if self.state == State::Stopped {
                self.irc_configure();
            } else {
                // Renegotiation: a fresh request, but keep the counters.
                self.restart_counter = self.cfg.max_configure;
            }
            self.scr(now);
            self.state = State::ReqSent;
        }
        let good = self.answer_request(id, packet.data(), &options);
        self.state = match (self.state, good) {
            (State::ReqSent, true) | (State::AckSent, true) => State::AckSent,
            (State::AckRcvd, true) => {
                self.tlu();
                State::Opened
            }
            (State::AckSent, false) => State::ReqSent,
            (s, _) => s,
        };
        if self.state == State::Opened {
            self.timer = None;
        }
    }

    /// Send Ack, Nak or Reject for the peer's request; true for Ack (RCR+).
    fn answer_request(&mut self, id: u8, data: &[u8], options: &[ConfigOption<'_>]) -> bool {
        let mut rejects = Vec::new();
        let mut naks = Vec::new();
        for opt in options {
            match self.neg.judge(opt) {
                Verdict::Ack => {}
                Verdict::Reject => opt.emit(&mut rejects),
                // Past Max-Failure, what we would Nak we Reject (§4.6).
                Verdict::Nak(_) if self.nak_loops >= self.cfg.max_failure => opt.emit(&mut rejects),
                Verdict::Nak(value) => super::wire::emit_option(&mut naks, opt.kind, &value),
            }
        }
        if rejects.is_empty() && self.nak_loops < self.cfg.max_failure {
            for (kind, value) in self.neg.missing(options) {
                super::wire::emit_option(&mut naks, kind, &value);
            }
        }
        if !rejects.is_empty() {
            self.send(code::CONFIGURE_REJECT, id, &rejects);
            false
        } else if !naks.is_empty() {
            let again = self
                .naked_req
                .as_ref()
                .is_some_and(|(i, d)| *i == id && d.as_slice() == data);
            if !again {
                self.nak_loops = self.nak_loops.saturating_add(1);
                self.naked_req = Some((id, data.to_vec()));
            }
            self.send(code::CONFIGURE_NAK, id, &naks);
            false
        } else {
            self.nak_loops = 0;
            self.neg.peer_acked(options);
            let mut ack = Vec::new();
            for opt in options {
                opt.emit(&mut ack);
            }
            self.send(code::CONFIGURE_ACK, id, &ack);
            self.peer_req = Some((id, ack));
            true
        }
    }

    /// The peer request we already Acked, sent again with the same
    /// Identifier (§5.1: a retransmission MAY keep it; a new request MUST not).
    fn is_peer_retransmission(&self, id: u8, data: &[u8]) -> bool {
        self.peer_req
            .as_ref()
            .is_some_and(|(i, d)| *i == id && d.as_slice() == data)
    }

    fn rca(&mut self, now: Instant, packet: &ControlPacket<'_>) {
        // An Ack must echo our outstanding request exactly (§5.2).
        if packet.identifier() != self.req_id || packet.data() != self.req_options.as_slice() {
            return;
        }
        // A second Ack of a request already Acked (one per retransmission,
        // or duplicated on the way) carries no news: discard it.
        if self.req_acked && matches!(self.state, State::AckRcvd | State::Opened) {
            return;
        }
        if matches!(self.state, State::ReqSent | State::AckSent) {
            self.req_acked = true;
        }
        if matches!(self.state, State::ReqSent | State::AckSent) {
            let opts = self.req_options.clone();
            if let Ok(list) = ConfigOptions::collect_checked(&opts) {
                self.neg.ours_acked(&list);
            }
        }
        match self.state {
            State::Closed | State::Stopped => self.sta(packet.identifier()),
            State::ReqSent => {
                self.restart_counter = self.cfg.max_configure;
                self.timer = Some(now + self.cfg.restart_time);
                self.state = State::AckRcvd;
            }
            State::AckRcvd => {
                self.scr(now);
                self.state = State::ReqSent;
            }
            State::AckSent => {
                self.restart_counter = self.cfg.max_configure;
                self.timer = None;
                self.tlu();
                self.state = State::Opened;
            }
            State::Opened => {
                self.tld();
                self.scr(now);
                self.state = State::ReqSent;
            }
            _ => {}
        }
    }

    fn rcn(&mut self, now: Instant, packet: &ControlPacket<'_>) {
        if packet.identifier() != self.req_id {
            return;
        }
        let Ok(list) = ConfigOptions::collect_checked(packet.data()) else {
            return;
        };
        match self.state {
            State::Closed | State::Stopped => {
                self.sta(packet.identifier());
                return;
            }
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened => {}
            _ => return,
        }
        let verdict = if packet.code() == code::CONFIGURE_NAK {
            self.neg.handle_nak(&list)
        } else {
            self.neg.handle_reject(&list)
        };
        if verdict.is_err() {
            self.out.push_back(FsmOutput::NegotiationFailed);
            self.close(now);
            return;
        }
        match self.state {
            State::ReqSent | State::AckSent => {
                self.restart_counter = self.cfg.max_configure;
                self.scr(now);
            }
            State::AckRcvd => {
                self.scr(now);
                self.state = State::ReqSent;
            }
            State::Opened => {
                self.tld();
                self.scr(now);
                self.state = State::ReqSent;
            }
            _ => {}
        }
    }

    fn rtr(&mut self, now: Instant, id: u8) {
        match self.state {
            State::Initial | State::Starting => {}
            State::ReqSent | State::AckRcvd | State::AckSent => {
                self.sta(id);
                self.state = State::ReqSent;
            }
            State::Opened => {
                self.tld();
                // zrc: zero the counter but wait one restart interval.
                self.restart_counter = 0;
                self.timer = Some(now + self.cfg.restart_time);
                self.sta(id);
                self.state = State::Stopping;
            }
            _ => self.sta(id),
        }
    }

    fn rta(&mut self, now: Instant) {
        match self.state {
            // The identifier is not checked: a zrc Stopping sent no request.
            State::Closing | State::Stopping => {
                self.tlf();
                let next = if self.state == State::Closing {
                    State::Closed
                } else {
                    State::Stopped
                };
                self.set(next);
            }
            State::AckRcvd => self.state = State::ReqSent,
            State::Opened => {
                self.tld();
                self.scr(now);
                self.state = State::ReqSent;
            }
            _ => {}
        }
    }

    // ---- actions ----

    fn set(&mut self, state: State) {
        if matches!(
            state,
            State::Initial | State::Starting | State::Closed | State::Stopped | State::Opened
        ) {
            self.timer = None;
        }
        self.state = state;
    }

    fn irc_configure(&mut self) {
        self.restart_counter = self.cfg.max_configure;
        self.nak_loops = 0;
        self.peer_req = None;
        self.naked_req = None;
        self.neg.reset();
    }

    fn irc_terminate(&mut self) {
        self.restart_counter = self.cfg.max_terminate;
    }

    /// A new Configure-Request: new Identifier.
    fn scr(&mut self, now: Instant) {
        self.restart_counter = self.restart_counter.saturating_sub(1);
        self.timer = Some(now + self.cfg.restart_time);
        let mut options = Vec::new();
        self.neg.build_request(&mut options);
        self.req_id = self.alloc_id();
        self.req_acked = false;
        self.send(code::CONFIGURE_REQUEST, self.req_id, &options);
        self.req_options = options;
    }

    /// Timeout retransmission of an unanswered request: same Identifier
    /// (§5.1), so an Ack of any copy opens the layer, and the peer can tell
    /// the copy from a new request.
    fn scr_again(&mut self, now: Instant) {
        let mut options = Vec::new();
        self.neg.build_request(&mut options);
        if options != self.req_options || self.req_acked {
            self.scr(now);
            return;
        }
        self.restart_counter = self.restart_counter.saturating_sub(1);
        self.timer = Some(now + self.cfg.restart_time);
        self.send(code::CONFIGURE_REQUEST, self.req_id, &options);
    }

    fn str(&mut self, now: Instant) {
        self.restart_counter = self.restart_counter.saturating_sub(1);
        self.timer = Some(now + self.cfg.restart_time);
        let id = self.alloc_id();
        self.send(code::TERMINATE_REQUEST, id, &[]);
    }

    fn sta(&mut self, id: u8) {
        self.send(code::TERMINATE_ACK, id, &[]);
    }

    fn tlu(&mut self) {
        self.out.push_back(FsmOutput::Layer(LayerEvent::Up));
    }

    fn tld(&mut self) {
        self.out.push_back(FsmOutput::Layer(LayerEvent::Down));
    }

    fn tls(&mut self) {
        self.out.push_back(FsmOutput::Layer(LayerEvent::Started));
    }

    fn tlf(&mut self) {
        self.out.push_back(FsmOutput::Layer(LayerEvent::Finished));
    }

    /// Queue a control packet built outside the automaton (Echo, Reject...).
    pub fn send(&mut self, code: u8, id: u8, data: &[u8]) {
        let mut pkt = Vec::new();
        emit_packet(&mut pkt, code, id, data);
        self.out.push_back(FsmOutput::Packet(pkt));
    }
}

#[cfg(test)]
mod tests;
