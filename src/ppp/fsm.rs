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
mod tests {
    use super::*;

    /// Requests option 1 = [1]; Naks peer option 1 unless it is [7];
    /// Rejects option 9; fails on a Reject of its own option.
    #[derive(Default, Debug)]
    struct TestNeg {
        acked: u32,
    }

    impl Negotiator for TestNeg {
        fn build_request(&mut self, out: &mut Vec<u8>) {
            super::super::wire::emit_option(out, 1, &[1]);
        }
        fn judge(&mut self, o: &ConfigOption<'_>) -> Verdict {
            match (o.kind, o.data) {
                (1, [7]) => Verdict::Ack,
                (1, _) => Verdict::Nak(vec![7]),
                (9, _) => Verdict::Reject,
                _ => Verdict::Ack,
            }
        }
        fn peer_acked(&mut self, _: &[ConfigOption<'_>]) {
            self.acked += 1;
        }
        fn handle_nak(&mut self, _: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
            Ok(())
        }
        fn handle_reject(&mut self, _: &[ConfigOption<'_>]) -> Result<(), Unacceptable> {
            Err(Unacceptable)
        }
    }

    fn fsm() -> Fsm<TestNeg> {
        Fsm::new(TestNeg::default(), FsmConfig::default())
    }

    fn drain(f: &mut Fsm<TestNeg>) -> Vec<FsmOutput> {
        std::iter::from_fn(|| f.poll_output()).collect()
    }

    fn codes(out: &[FsmOutput]) -> Vec<u8> {
        out.iter()
            .filter_map(|o| match o {
                FsmOutput::Packet(p) => p.first().copied(),
                _ => None,
            })
            .collect()
    }

    fn layers(out: &[FsmOutput]) -> Vec<LayerEvent> {
        out.iter()
            .filter_map(|o| match o {
                FsmOutput::Layer(l) => Some(*l),
                _ => None,
            })
            .collect()
    }

    fn pkt(code: u8, id: u8, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        emit_packet(&mut v, code, id, data);
        v
    }

    fn feed(f: &mut Fsm<TestNeg>, now: Instant, bytes: &[u8]) {
        let p = ControlPacket::parse(bytes).unwrap();
        f.handle_packet(now, &p);
    }

    /// Bring to Req-Sent and return the id of our request.
    fn started(f: &mut Fsm<TestNeg>, now: Instant) -> u8 {
        f.open(now);
        f.up(now);
        let out = drain(f);
        assert_eq!(layers(&out), vec![LayerEvent::Started]);
        assert_eq!(codes(&out), vec![code::CONFIGURE_REQUEST]);
        assert_eq!(f.state(), State::ReqSent);
        match &out[1] {
            FsmOutput::Packet(p) => p[1],
            _ => unreachable!(),
        }
    }

    fn opened(f: &mut Fsm<TestNeg>, now: Instant) {
        let id = started(f, now);
        feed(f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
        assert_eq!(f.state(), State::AckRcvd);
        feed(f, now, &pkt(code::CONFIGURE_REQUEST, 50, &[1, 3, 7]));
        assert_eq!(f.state(), State::Opened);
        let out = drain(f);
        assert_eq!(codes(&out), vec![code::CONFIGURE_ACK]);
        assert_eq!(layers(&out), vec![LayerEvent::Up]);
        assert_eq!(f.poll_timeout(), None);
    }

    #[test]
    fn initial_up_open() {
        let now = Instant::now();
        let mut f = fsm();
        f.up(now);
        assert_eq!(f.state(), State::Closed);
        f.open(now);
        assert_eq!(f.state(), State::ReqSent);
        assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_REQUEST]);
        assert_eq!(f.poll_timeout(), Some(now + Duration::from_secs(3)));
    }

    #[test]
    fn open_via_ack_sent() {
        let now = Instant::now();
        let mut f = fsm();
        let id = started(&mut f, now);
        feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 9, &[1, 3, 7]));
        assert_eq!(f.state(), State::AckSent);
        assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_ACK]);
        // An Ack with the wrong id or content is discarded.
        feed(
            &mut f,
            now,
            &pkt(code::CONFIGURE_ACK, id.wrapping_add(1), &[1, 3, 1]),
        );
        feed(&mut f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 2]));
        assert_eq!(f.state(), State::AckSent);
        feed(&mut f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
        assert_eq!(f.state(), State::Opened);
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Up]);
        assert_eq!(f.neg.acked, 1);
    }

    #[test]
    fn opened_paths() {
        let now = Instant::now();
        let mut f = fsm();
        opened(&mut f, now);
        // RCR in Opened: tld, scr, sca -> Ack-Sent.
        feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 51, &[1, 3, 7]));
        let out = drain(&mut f);
        assert_eq!(layers(&out), vec![LayerEvent::Down]);
        assert_eq!(
            codes(&out),
            vec![code::CONFIGURE_REQUEST, code::CONFIGURE_ACK]
        );
        assert_eq!(f.state(), State::AckSent);
    }

    #[test]
    fn nak_then_reject_after_max_failure() {
        let now = Instant::now();
        let mut f = fsm();
        started(&mut f, now);
        for i in 0..5 {
            feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, i, &[1, 3, 2]));
            let out = drain(&mut f);
            assert_eq!(codes(&out), vec![code::CONFIGURE_NAK]);
            assert_eq!(
                out[0],
                FsmOutput::Packet(pkt(code::CONFIGURE_NAK, i, &[1, 3, 7]))
            );
        }
        feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 5, &[1, 3, 2]));
        let out = drain(&mut f);
        assert_eq!(
            out,
            vec![FsmOutput::Packet(pkt(
                code::CONFIGURE_REJECT,
                5,
                &[1, 3, 2]
            ))]
        );
        assert_eq!(f.state(), State::ReqSent);
    }

    #[test]
    fn reject_wins_over_nak() {
        let now = Instant::now();
        let mut f = fsm();
        started(&mut f, now);
        feed(
            &mut f,
            now,
            &pkt(code::CONFIGURE_REQUEST, 3, &[1, 3, 2, 9, 2]),
        );
        let out = drain(&mut f);
        assert_eq!(
            out,
            vec![FsmOutput::Packet(pkt(code::CONFIGURE_REJECT, 3, &[9, 2]))]
        );
        // A malformed option list is silently discarded.
        feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 4, &[1, 9]));
        assert!(drain(&mut f).is_empty());
    }

    #[test]
    fn max_configure_gives_up() {
        let t0 = Instant::now();
        let mut f = fsm();
        started(&mut f, t0);
        let mut sent = 1;
        let mut now = t0;
        while let Some(t) = f.poll_timeout() {
            now = t;
            f.handle_timeout(now);
            let out = drain(&mut f);
            sent += codes(&out)
                .iter()
                .filter(|c| **c == code::CONFIGURE_REQUEST)
                .count();
            if f.state() == State::Stopped {
                assert_eq!(layers(&out), vec![LayerEvent::Finished]);
            }
        }
        assert_eq!(sent, 10);
        assert_eq!(f.state(), State::Stopped);
        assert_eq!(now, t0 + Duration::from_secs(30));
    }

    #[test]
    fn timeout_before_deadline_is_ignored() {
        let now = Instant::now();
        let mut f = fsm();
        started(&mut f, now);
        f.handle_timeout(now + Duration::from_secs(1));
        assert!(drain(&mut f).is_empty());
    }

    #[test]
    fn close_sends_terminate_twice_then_finishes() {
        let now = Instant::now();
        let mut f = fsm();
        opened(&mut f, now);
        f.close(now);
        let out = drain(&mut f);
        assert_eq!(layers(&out), vec![LayerEvent::Down]);
        assert_eq!(codes(&out), vec![code::TERMINATE_REQUEST]);
        assert_eq!(f.state(), State::Closing);
        let t1 = f.poll_timeout().unwrap();
        f.handle_timeout(t1);
        assert_eq!(codes(&drain(&mut f)), vec![code::TERMINATE_REQUEST]);
        let t2 = f.poll_timeout().unwrap();
        f.handle_timeout(t2);
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
        assert_eq!(f.state(), State::Closed);
        assert_eq!(f.poll_timeout(), None);
    }

    #[test]
    fn close_then_terminate_ack() {
        let now = Instant::now();
        let mut f = fsm();
        opened(&mut f, now);
        f.close(now);
        drain(&mut f);
        feed(&mut f, now, &pkt(code::TERMINATE_ACK, 1, &[]));
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
        assert_eq!(f.state(), State::Closed);
        // RCR in Closed: sta.
        feed(&mut f, now, &pkt(code::CONFIGURE_REQUEST, 8, &[]));
        assert_eq!(codes(&drain(&mut f)), vec![code::TERMINATE_ACK]);
    }

    #[test]
    fn peer_terminate_in_opened() {
        let now = Instant::now();
        let mut f = fsm();
        opened(&mut f, now);
        feed(&mut f, now, &pkt(code::TERMINATE_REQUEST, 77, &[]));
        let out = drain(&mut f);
        assert_eq!(layers(&out), vec![LayerEvent::Down]);
        assert_eq!(out[1], FsmOutput::Packet(pkt(code::TERMINATE_ACK, 77, &[])));
        assert_eq!(f.state(), State::Stopping);
        let t = f.poll_timeout().unwrap();
        assert_eq!(t, now + Duration::from_secs(3));
        f.handle_timeout(t);
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
        assert_eq!(f.state(), State::Stopped);
    }

    #[test]
    fn terminate_request_during_negotiation() {
        let now = Instant::now();
        let mut f = fsm();
        started(&mut f, now);
        feed(&mut f, now, &pkt(code::TERMINATE_REQUEST, 4, &[]));
        assert_eq!(codes(&drain(&mut f)), vec![code::TERMINATE_ACK]);
        assert_eq!(f.state(), State::ReqSent);
    }

    #[test]
    fn nak_resends_and_reject_fails() {
        let now = Instant::now();
        let mut f = fsm();
        let id = started(&mut f, now);
        feed(&mut f, now, &pkt(code::CONFIGURE_NAK, id, &[1, 3, 5]));
        assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_REQUEST]);
        // A Nak for an old id is ignored.
        feed(&mut f, now, &pkt(code::CONFIGURE_NAK, id, &[1, 3, 5]));
        assert!(drain(&mut f).is_empty());
        let id = id + 1;
        feed(&mut f, now, &pkt(code::CONFIGURE_REJECT, id, &[1, 3, 1]));
        let out = drain(&mut f);
        assert_eq!(out[0], FsmOutput::NegotiationFailed);
        assert_eq!(codes(&out), vec![code::TERMINATE_REQUEST]);
        assert_eq!(f.state(), State::Closing);
    }

    #[test]
    fn code_reject_and_unknown_code() {
        let now = Instant::now();
        let mut f = fsm();
        opened(&mut f, now);
        feed(&mut f, now, &pkt(42, 3, &[1, 2]));
        let out = drain(&mut f);
        assert_eq!(codes(&out), vec![code::CODE_REJECT]);
        // Code-Reject of Echo (RXJ+) is harmless; of Configure-Request fatal.
        feed(&mut f, now, &pkt(code::CODE_REJECT, 1, &[9, 1, 0, 4]));
        assert_eq!(f.state(), State::Opened);
        feed(&mut f, now, &pkt(code::CODE_REJECT, 1, &[1, 1, 0, 4]));
        let out = drain(&mut f);
        assert_eq!(layers(&out), vec![LayerEvent::Down]);
        assert_eq!(codes(&out), vec![code::TERMINATE_REQUEST]);
        assert_eq!(f.state(), State::Stopping);
    }

    #[test]
    fn down_and_close_from_starting() {
        let now = Instant::now();
        let mut f = fsm();
        opened(&mut f, now);
        f.down();
        assert_eq!(f.state(), State::Starting);
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Down]);
        f.close(now);
        assert_eq!(f.state(), State::Initial);
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Finished]);
    }

    #[test]
    fn crossed_ack_in_ack_rcvd() {
        let now = Instant::now();
        let mut f = fsm();
        let id = started(&mut f, now);
        feed(&mut f, now, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
        assert_eq!(f.state(), State::AckRcvd);
        // Timer still runs in Ack-Rcvd: TO+ resends -> Req-Sent.
        let t = f.poll_timeout().unwrap();
        f.handle_timeout(t);
        assert_eq!(f.state(), State::ReqSent);
        assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_REQUEST]);
    }

    #[test]
    fn retransmitted_request_keeps_identifier_and_duplicates_do_not_renegotiate() {
        let t0 = Instant::now();
        let mut f = fsm();
        let id = started(&mut f, t0);
        // TO+ in Req-Sent: the same request, same Identifier (§5.1).
        f.handle_timeout(t0 + Duration::from_secs(3));
        let out = drain(&mut f);
        assert_eq!(
            out,
            vec![FsmOutput::Packet(pkt(
                code::CONFIGURE_REQUEST,
                id,
                &[1, 3, 1]
            ))]
        );
        // The Ack of the first copy opens; the Ack of the second is a duplicate.
        feed(&mut f, t0, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
        feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 50, &[1, 3, 7]));
        assert_eq!(f.state(), State::Opened);
        drain(&mut f);
        feed(&mut f, t0, &pkt(code::CONFIGURE_ACK, id, &[1, 3, 1]));
        assert_eq!(f.state(), State::Opened);
        assert!(drain(&mut f).is_empty());
        // The peer's copy of the request we Acked (our Ack crossed it): Ack again.
        feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 50, &[1, 3, 7]));
        assert_eq!(f.state(), State::Opened);
        assert_eq!(
            drain(&mut f),
            vec![FsmOutput::Packet(pkt(code::CONFIGURE_ACK, 50, &[1, 3, 7]))]
        );
        // A new request (new Identifier) still renegotiates (RFC 1661 RCR in Opened).
        feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 51, &[1, 3, 7]));
        assert_eq!(f.state(), State::AckSent);
        assert_eq!(layers(&drain(&mut f)), vec![LayerEvent::Down]);
    }

    #[test]
    fn lost_naks_do_not_count_toward_max_failure() {
        let t0 = Instant::now();
        let mut f = fsm();
        started(&mut f, t0);
        drain(&mut f);
        // The same unacceptable request 20 times (our Naks lost): still Naked.
        for _ in 0..20 {
            feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, 60, &[1, 3, 2]));
            assert_eq!(codes(&drain(&mut f)), vec![code::CONFIGURE_NAK]);
        }
        // A peer that ignores our Nak (new Identifier each time) is Rejected
        // once Max-Failure (5) Naks went unheeded.
        let mut last = Vec::new();
        for id in 61..70 {
            feed(&mut f, t0, &pkt(code::CONFIGURE_REQUEST, id, &[1, 3, 2]));
            last = codes(&drain(&mut f));
        }
        assert_eq!(last, vec![code::CONFIGURE_REJECT]);
    }

    #[test]
    fn max_configure_timeout_is_reported() {
        let t0 = Instant::now();
        let mut f = fsm();
        started(&mut f, t0);
        for n in 1..=10 {
            f.handle_timeout(t0 + Duration::from_secs(3 * n));
        }
        assert_eq!(f.state(), State::Stopped);
        assert!(f.configure_timed_out());
    }
}
