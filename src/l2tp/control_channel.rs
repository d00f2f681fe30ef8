//! Reliable delivery of control messages (RFC 2661 §5.8, §5.5 for HELLO),
//! shared by the LNS and LAC tunnels.
//!
//! - Ns/Nr in 16-bit sequence space; Nr acknowledges everything below it.
//! - Our send window is the peer's Receive Window Size (default 4, min 1).
//! - Messages ahead of the expected Ns but inside our advertised window are
//!   queued and delivered in order once the gap fills (l2tpns drops them).
//! - Duplicates (Ns already received) are dropped and re-acknowledged.
//! - Retransmission with exponential backoff (initial, doubling, capped);
//!   after `max_retransmits` unanswered retransmissions the peer is dead.
//! - Acks: a pending ack is sent as a ZLB by the next `poll_transmit` unless
//!   a message goes out first and carries it. Owners queue their reply in
//!   the same `handle_*` call, so replies piggyback the ack; a ZLB is sent
//!   immediately otherwise (no delayed-ack timer: simpler, one datagram).
//! - HELLO after `hello_interval` without any received message, when nothing
//!   is outstanding (an outstanding message already probes the peer).

use super::avp::push_message_type;
use super::message::MessageType;
use super::wire::build_control;

mod snapshot;
pub use self::snapshot::ChannelSnapshot;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Reliable delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Our receive window, advertised in SCCRQ/SCCRP.
    pub receive_window: u16,
    pub retransmit_initial: Duration,
    pub retransmit_max: Duration,
    pub max_retransmits: u32,
    /// None disables HELLO.
    pub hello_interval: Option<Duration>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            receive_window: 16,
            retransmit_initial: Duration::from_secs(1),
            retransmit_max: Duration::from_secs(8),
            max_retransmits: 5,
            hello_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// Counters for the daemon's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct ChannelStats {
    pub sent: u64,
    pub retransmits: u64,
    pub received: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order_queued: u64,
    pub dropped_out_of_window: u64,
    pub zlb_sent: u64,
    pub zlb_received: u64,
    pub hellos_sent: u64,
    /// Nr values that acknowledged messages we never sent.
    pub bogus_nr: u64,
}

/// A message delivered in order to the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Session ID from the header.
    pub session_id: u16,
    /// The AVPs.
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct Outstanding {
    ns: u16,
    session_id: u16,
    payload: Vec<u8>,
    deadline: Instant,
    retries: u32,
}

/// One end of a control connection's reliable transport.
#[derive(Debug)]
pub struct ControlChannel {
    cfg: ChannelConfig,
    peer_tunnel_id: u16,
    peer_rws: u16,
    next_ns: u16,
    expected_ns: u16,
    unacked: VecDeque<Outstanding>,
    pending: VecDeque<(u16, Vec<u8>)>,
    /// Messages ever queued / ever taken off `pending` (sent, or dropped
    /// when the peer died): tickets for `has_left_queue`.
    queued_total: u64,
    dequeued_total: u64,
    retransmit_queue: VecDeque<u16>,
    reorder: BTreeMap<u16, Delivered>,
    delivered: VecDeque<Delivered>,
    ack_pending: bool,
    last_rx: Instant,
    dead: bool,
    stats: ChannelStats,
}

/// Peer RWS when the AVP is absent (§4.4.3).
pub const DEFAULT_PEER_RWS: u16 = 4;

impl ControlChannel {
    pub fn new(cfg: ChannelConfig, peer_tunnel_id: u16, now: Instant) -> Self {
        ControlChannel {
            cfg,
            peer_tunnel_id,
            peer_rws: DEFAULT_PEER_RWS,
            next_ns: 0,
            expected_ns: 0,
            unacked: VecDeque::new(),
            pending: VecDeque::new(),
            queued_total: 0,
            dequeued_total: 0,
            retransmit_queue: VecDeque::new(),
            reorder: BTreeMap::new(),
            delivered: VecDeque::new(),
            ack_pending: false,
            last_rx: now,
            dead: false,
            stats: ChannelStats::default(),
        }
    }

    pub fn config(&self) -> &ChannelConfig {
        &self.cfg
    }
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }
    /// Retransmissions gave up: the peer is unreachable.
    pub fn is_dead(&self) -> bool {
        self.dead
    }
    /// A message for `session_id` still waits for room in the peer's window.
    pub fn is_queued(&self, session_id: u16) -> bool {
        self.pending.iter().any(|(s, _)| *s == session_id)
    }

    /// A ticket for the message just queued by `send` (the queue is FIFO):
    /// `has_left_queue(ticket)` tells in O(1) whether it is on the wire.
    pub fn last_queued_ticket(&self) -> u64 {
        self.queued_total
    }

    /// The message of `ticket` has left the send queue (it was sent, or
    /// the queue was dropped because the peer is dead).
    pub fn has_left_queue(&self, ticket: u64) -> bool {
        self.dequeued_total >= ticket
    }

    /// Nothing queued or waiting for an acknowledgement.
    pub fn is_idle(&self) -> bool {
        self.unacked.is_empty() && self.pending.is_empty()
    }
    pub fn peer_tunnel_id(&self) -> u16 {
        self.peer_tunnel_id
    }
    pub fn set_peer_tunnel_id(&mut self, id: u16) {
        self.peer_tunnel_id = id;
    }
    /// The peer's Receive Window Size AVP (None: absent, default 4; 0 is
    /// treated as 1).
    pub fn set_peer_receive_window(&mut self, rws: Option<u16>) {
        self.peer_rws = rws.unwrap_or(DEFAULT_PEER_RWS).max(1);
    }
    pub fn peer_receive_window(&self) -> u16 {
        self.peer_rws
    }
    pub fn set_hello_interval(&mut self, h: Option<Duration>) {
        self.cfg.hello_interval = h;
    }
    /// The Ns the next new message will carry.
    pub fn next_ns(&self) -> u16 {
        self.next_ns
    }
    /// The Ns we expect next from the peer (our Nr).
    pub fn expected_ns(&self) -> u16 {
        self.expected_ns
    }

    /// Queue a message (its AVPs) for reliable delivery.
    pub fn send(&mut self, session_id: u16, payload: Vec<u8>) {
        if !self.dead {
            self.pending.push_back((session_id, payload));
            self.queued_total += 1;
        }
    }

    /// Make the next `poll_transmit` send an acknowledgement.
    pub fn request_ack(&mut self) {
        self.ack_pending = true;
    }

    /// A received control message (already header-checked, T/L/S set).
    /// An empty payload is a ZLB.
    pub fn handle_message(
        &mut self,
        now: Instant,
        ns: u16,
        nr: u16,
        session_id: u16,
        payload: &[u8],
    ) {
        if self.dead {
            return;
        }
        self.stats.received += 1;
        self.last_rx = now;
        self.process_nr(nr);
        if payload.is_empty() {
            self.stats.zlb_received += 1;
            return;
        }
        self.ack_pending = true;
        let ahead = ns.wrapping_sub(self.expected_ns);
        if ahead == 0 {
            self.deliver(session_id, payload.to_vec());
            while let Some(m) = self.reorder.remove(&self.expected_ns) {
                self.deliver(m.session_id, m.payload);
            }
        } else if ahead >= 0x8000 {
            self.stats.duplicates += 1;
        } else if ahead < self.cfg.receive_window {
            if !self.reorder.contains_key(&ns) {
                self.stats.out_of_order_queued += 1;
                self.reorder.insert(
                    ns,
                    Delivered {
                        session_id,
                        payload: payload.to_vec(),
                    },
                );
            }
        } else {
            self.stats.dropped_out_of_window += 1;
        }
    }

    fn deliver(&mut self, session_id: u16, payload: Vec<u8>) {
        self.expected_ns = self.expected_ns.wrapping_add(1);
        self.stats.delivered += 1;
        self.delivered.push_back(Delivered {
            session_id,
            payload,
        });
    }

    /// Free the messages acknowledged by `nr` (everything with Ns < Nr, in
    /// sequence-number order). An Nr beyond what we sent is ignored.
    fn process_nr(&mut self, nr: u16) {
        let base = self.unacked.front().map_or(self.next_ns, |o| o.ns);
        let in_flight = self.next_ns.wrapping_sub(base);
        let acked = nr.wrapping_sub(base);
        if acked > in_flight {
            self.stats.bogus_nr += 1;
            return;
        }
        for _ in 0..acked {
            self.unacked.pop_front();
        }
    }

    /// The next message received in order, if any.
    pub fn poll_deliver(&mut self) -> Option<Delivered> {
        self.delivered.pop_front()
    }

    fn backoff(&self, retries: u32) -> Duration {
        let factor = 1u32.checked_shl(retries.min(31)).unwrap_or(u32::MAX);
        self.cfg
            .retransmit_initial
            .checked_mul(factor)
            .map_or(self.cfg.retransmit_max, |d| d.min(self.cfg.retransmit_max))
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead {
            return;
        }
        for i in 0..self.unacked.len() {
            let (deadline, retries) = match self.unacked.get(i) {
                Some(o) => (o.deadline, o.retries),
                None => break,
            };
            if deadline > now {
                continue;
            }
            if retries >= self.cfg.max_retransmits {
                self.dead = true;
                self.pending.clear();
                self.dequeued_total = self.queued_total;
                self.unacked.clear();
                self.retransmit_queue.clear();
                self.ack_pending = false;
                return;
            }
            let next = now + self.backoff(retries + 1);
            if let Some(o) = self.unacked.get_mut(i) {
                o.retries += 1;
                o.deadline = next;
                let ns = o.ns;
                self.retransmit_queue.push_back(ns);
            }
        }
        if let Some(h) = self.cfg.hello_interval {
            if self.is_idle() && now >= self.last_rx + h {
                let mut p = Vec::with_capacity(8);
                push_message_type(&mut p, MessageType::Hello.to_u16());
                self.stats.hellos_sent += 1;
                self.send(0, p);
                // The next HELLO is due a full interval later.
                self.last_rx = now;
            }
        }
    }

    /// The next datagram to send, if any. Call after every `handle_*`,
    /// `send` and `handle_timeout` until it returns None.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.dead {
            return None;
        }
        while let Some(ns) = self.retransmit_queue.pop_front() {
            if let Some(o) = self.unacked.iter().find(|o| o.ns == ns) {
                self.stats.retransmits += 1;
                self.ack_pending = false;
                return Some(build_control(
                    self.peer_tunnel_id,
                    o.session_id,
                    o.ns,
                    self.expected_ns,
                    &o.payload,
                ));
            }
        }
        if self.unacked.len() < usize::from(self.peer_rws) {
            if let Some((session_id, payload)) = self.pending.pop_front() {
                self.dequeued_total += 1;
                let ns = self.next_ns;
                self.next_ns = ns.wrapping_add(1);
                let out = build_control(
                    self.peer_tunnel_id,
                    session_id,
                    ns,
                    self.expected_ns,
                    &payload,
                );
                self.unacked.push_back(Outstanding {
                    ns,
                    session_id,
                    payload,
                    deadline: now + self.cfg.retransmit_initial,
                    retries: 0,
                });
                self.stats.sent += 1;
                self.ack_pending = false;
                return Some(out);
            }
        }
        if self.ack_pending {
            self.ack_pending = false;
            self.stats.zlb_sent += 1;
            return Some(build_control(
                self.peer_tunnel_id,
                0,
                self.next_ns,
                self.expected_ns,
                &[],
            ));
        }
        None
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead {
            return None;
        }
        let retx = self.unacked.iter().map(|o| o.deadline).min();
        let hello = match self.cfg.hello_interval {
            Some(h) if self.is_idle() => Some(self.last_rx + h),
            _ => None,
        };
        match (retx, hello) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2tp::wire::Header;

    fn msg(t: u16) -> Vec<u8> {
        let mut p = Vec::new();
        push_message_type(&mut p, t);
        p
    }

    fn hdr(d: &[u8]) -> (u16, u16, u16, bool) {
        let h = Header::parse(d).unwrap();
        (
            h.ns().unwrap(),
            h.nr().unwrap(),
            h.session_id(),
            h.payload(d).is_empty(),
        )
    }

    fn drain(c: &mut ControlChannel, now: Instant) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| c.poll_transmit(now)).collect()
    }

    fn delivered(c: &mut ControlChannel) -> Vec<u16> {
        std::iter::from_fn(|| c.poll_deliver())
            .map(|d| u16::from_be_bytes([d.payload[6], d.payload[7]]))
            .collect()
    }

    #[test]
    fn in_order_delivery_and_zlb_ack() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.handle_message(t0, 0, 0, 0, &msg(1));
        c.handle_message(t0, 1, 0, 0, &msg(3));
        assert_eq!(delivered(&mut c), vec![1, 3]);
        let out = drain(&mut c, t0);
        assert_eq!(out.len(), 1);
        assert_eq!(hdr(&out[0]), (0, 2, 0, true));
        assert_eq!(Header::parse(&out[0]).unwrap().tunnel_id(), 5);
        assert_eq!(c.stats().zlb_sent, 1);
        // A ZLB needs no ack.
        c.handle_message(t0, 0, 0, 0, &[]);
        assert!(drain(&mut c, t0).is_empty());
    }

    #[test]
    fn piggyback_ack() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.handle_message(t0, 0, 0, 0, &msg(1));
        c.send(0, msg(2));
        let out = drain(&mut c, t0);
        assert_eq!(out.len(), 1);
        assert_eq!(hdr(&out[0]), (0, 1, 0, false));
    }

    #[test]
    fn duplicate_reacked_and_dropped() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.handle_message(t0, 0, 0, 0, &msg(1));
        drain(&mut c, t0);
        c.handle_message(t0, 0, 0, 0, &msg(1));
        assert_eq!(delivered(&mut c), vec![1]);
        let out = drain(&mut c, t0);
        assert_eq!(out.len(), 1);
        assert_eq!(hdr(&out[0]), (0, 1, 0, true));
        assert_eq!(c.stats().duplicates, 1);
    }

    #[test]
    fn out_of_order_queued_then_delivered() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.handle_message(t0, 2, 0, 0, &msg(12));
        c.handle_message(t0, 1, 0, 0, &msg(11));
        c.handle_message(t0, 1, 0, 0, &msg(11)); // queued twice: counted once
        assert!(delivered(&mut c).is_empty());
        assert_eq!(c.stats().out_of_order_queued, 2);
        c.handle_message(t0, 0, 0, 0, &msg(10));
        assert_eq!(delivered(&mut c), vec![10, 11, 12]);
        assert_eq!(c.expected_ns(), 3);
    }

    #[test]
    fn out_of_window_dropped() {
        let t0 = Instant::now();
        let cfg = ChannelConfig {
            receive_window: 4,
            ..Default::default()
        };
        let mut c = ControlChannel::new(cfg, 5, t0);
        c.handle_message(t0, 4, 0, 0, &msg(1));
        c.handle_message(t0, 3, 0, 0, &msg(2));
        assert_eq!(c.stats().dropped_out_of_window, 1);
        assert_eq!(c.stats().out_of_order_queued, 1);
        c.handle_message(t0, 0, 0, 0, &msg(3));
        c.handle_message(t0, 1, 0, 0, &msg(4));
        c.handle_message(t0, 2, 0, 0, &msg(5));
        assert_eq!(delivered(&mut c), vec![3, 4, 5, 2]);
    }

    #[test]
    fn send_window_respected() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.set_peer_receive_window(Some(0));
        assert_eq!(c.peer_receive_window(), 1);
        c.set_peer_receive_window(Some(2));
        for _ in 0..4 {
            c.send(0, msg(6));
        }
        assert_eq!(drain(&mut c, t0).len(), 2);
        c.handle_message(t0, 0, 1, 0, &[]); // acks Ns 0
        let out = drain(&mut c, t0);
        assert_eq!(out.len(), 1);
        assert_eq!(hdr(&out[0]).0, 2);
        c.handle_message(t0, 0, 4, 0, &[]); // Nr 4 acks nothing we sent (3 max)
        assert_eq!(c.stats().bogus_nr, 1);
        c.handle_message(t0, 0, 3, 0, &[]);
        assert_eq!(drain(&mut c, t0).len(), 1);
    }

    #[test]
    fn retransmit_backoff_and_give_up() {
        let t0 = Instant::now();
        let cfg = ChannelConfig {
            hello_interval: None,
            ..Default::default()
        };
        let mut c = ControlChannel::new(cfg, 5, t0);
        c.send(0, msg(1));
        assert_eq!(drain(&mut c, t0).len(), 1);
        let mut at = 0u64;
        for gap in [1u64, 2, 4, 8, 8] {
            at += gap;
            let due = c.poll_timeout().unwrap();
            assert_eq!(due, t0 + Duration::from_secs(at));
            c.handle_timeout(due - Duration::from_millis(1));
            assert!(drain(&mut c, due).is_empty());
            c.handle_timeout(due);
            let out = drain(&mut c, due);
            assert_eq!(out.len(), 1);
            assert_eq!(hdr(&out[0]).0, 0);
        }
        assert_eq!(c.stats().retransmits, 5);
        let due = c.poll_timeout().unwrap();
        assert_eq!(due, t0 + Duration::from_secs(31));
        c.handle_timeout(due);
        assert!(c.is_dead());
        assert!(c.poll_transmit(due).is_none());
        assert!(c.poll_timeout().is_none());
    }

    #[test]
    fn retransmission_carries_current_nr() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.send(0, msg(1));
        drain(&mut c, t0);
        c.handle_message(t0, 0, 0, 0, &msg(2));
        c.poll_deliver();
        drain(&mut c, t0);
        c.handle_timeout(t0 + Duration::from_secs(1));
        let out = drain(&mut c, t0 + Duration::from_secs(1));
        assert_eq!(hdr(&out[0]), (0, 1, 0, false));
    }

    #[test]
    fn hello_after_idle() {
        let t0 = Instant::now();
        let cfg = ChannelConfig {
            hello_interval: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        let mut c = ControlChannel::new(cfg, 5, t0);
        let t1 = t0 + Duration::from_secs(30);
        c.handle_message(t1, 0, 0, 0, &msg(6));
        drain(&mut c, t1);
        assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(60)));
        c.handle_timeout(t1 + Duration::from_secs(59));
        assert!(drain(&mut c, t1).is_empty());
        let t2 = t1 + Duration::from_secs(60);
        c.handle_timeout(t2);
        let out = drain(&mut c, t2);
        assert_eq!(out.len(), 1);
        assert_eq!(
            Header::parse(&out[0]).unwrap().payload(&out[0]),
            &msg(6)[..]
        );
        assert_eq!(c.stats().hellos_sent, 1);
        // Disabled: no HELLO ever.
        let mut d = ControlChannel::new(
            ChannelConfig {
                hello_interval: None,
                ..Default::default()
            },
            5,
            t0,
        );
        assert_eq!(d.poll_timeout(), None);
        d.handle_timeout(t0 + Duration::from_secs(3600));
        assert!(drain(&mut d, t0).is_empty());
    }

    #[test]
    fn nr_wraps_around() {
        let t0 = Instant::now();
        let mut c = ControlChannel::new(ChannelConfig::default(), 5, t0);
        c.next_ns = 65534;
        c.expected_ns = 65535;
        c.set_peer_receive_window(Some(8));
        for _ in 0..4 {
            c.send(0, msg(6));
        }
        let ns: Vec<u16> = drain(&mut c, t0).iter().map(|d| hdr(d).0).collect();
        assert_eq!(ns, vec![65534, 65535, 0, 1]);
        c.handle_message(t0, 65535, 1, 0, &msg(6)); // acks 65534, 65535, 0
        assert_eq!(c.unacked.len(), 1);
        c.handle_message(t0, 0, 2, 0, &msg(6));
        assert!(c.unacked.is_empty());
        assert_eq!(c.expected_ns(), 1);
        // Out-of-order across the wrap.
        c.handle_message(t0, 2, 2, 0, &msg(7));
        c.handle_message(t0, 1, 2, 0, &msg(8));
        assert_eq!(delivered(&mut c), vec![6, 6, 8, 7]);
        // Duplicate from before the wrap.
        c.handle_message(t0, 65535, 2, 0, &msg(6));
        assert_eq!(c.stats().duplicates, 1);
    }
}
