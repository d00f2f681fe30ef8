//! A worker's share of per-session policy: the throttle buckets and snoop
//! targets of the sessions it owns. The TUN steering program and the
//! reuseport program give each session to one worker both ways, so this
//! state needs no lock and no atomic per packet; a session with no policy
//! costs one `is_empty` (no throttled or snooped session in this worker)
//! or one hash look-up. The buckets read the clock once per burst
//! ([`Policies::start_burst`]), and a packet within the rate leaves by the
//! worker's usual path (batched, offloaded), uncopied.
//!
//! Snoop copies go out first, so a copy is never delayed or lost by the
//! session's throttle (l2tpns: raw IP in a UDP datagram to IP:PORT, both
//! directions). They leave from a socket of the worker's own (not the L2TP
//! port), one datagram per IP packet as the subscriber sends or receives it.
//!
//! The walled garden is judged upstream after the snoop copy (the copy is
//! what the subscriber sent) and before the throttle; its portal redirect
//! is undone downstream before the copy (the copy is what the subscriber
//! receives).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use crate::dataplane::downstream::DownOutput;
use crate::dataplane::garden::{Garden, GardenVerdict};
use crate::dataplane::garden_nat::GardenNat;
use crate::dataplane::icmp::{self, UNREACHABLE_MAX};
use crate::dataplane::ipv4::Ipv4Packet;
use crate::dataplane::policy::SessionPolicy;
use crate::dataplane::session_table::{SessionKey, SessionTable, TableUpdate};
use crate::dataplane::shaper::{Admit, Shaper};
use crate::fx_hash::FxHashMap;
use crate::token_bucket::{Rate, TokenBucket};

/// A downstream datagram the bucket holds, and where it goes.
pub struct DownItem {
    pub peer: SocketAddr,
    pub datagram: Vec<u8>,
}

struct SessionState {
    policy: SessionPolicy,
    /// Its address and DNS servers (the garden lets DNS through).
    address: Ipv4Addr,
    dns: [Option<Ipv4Addr>; 2],
    up: Option<Shaper<Vec<u8>>>,
    down: Option<Shaper<DownItem>>,
}

/// What happens to a packet of a session under policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No throttle, or within the rate: forward it as usual.
    Pass,
    /// The bucket took it: what may go comes back from `release`, and
    /// `dropped` datagrams found its queue full (count
    /// `DropReason::Throttled` for each).
    Taken { dropped: usize },
    /// The walled garden does not allow it (count `DropReason::Gardened`).
    Refused,
}

/// What a bucket lets go: an IP packet for the TUN, or a datagram for a peer.
pub enum Released<'a> {
    Up(&'a [u8]),
    Down(&'a DownItem),
}

/// Policy events, added to the worker's stats per wake-up.
#[derive(Debug, Default, Clone, Copy)]
pub struct PolicyCounts {
    /// Snoop copies sent, and ones that could not be.
    pub snoop_sent: u64,
    pub snoop_errors: u64,
    /// Garden: TCP port 80 sent to the portal, refusals answered with ICMP
    /// administratively prohibited, and ones the rate left unanswered.
    pub garden_redirects: u64,
    pub garden_prohibited: u64,
    pub garden_prohibited_limited: u64,
}

/// This worker's share of `garden_icmp_rate`, and where the answers come from.
struct Prohibited {
    rate: Rate,
    bucket: TokenBucket,
    local: Ipv4Addr,
}

pub struct Policies {
    sessions: FxHashMap<SessionKey, SessionState>,
    /// Sessions with packets in a bucket's queue.
    backlog: VecDeque<SessionKey>,
    /// Downstream datagrams within the rate, sent at the next `release`.
    ready: Vec<DownItem>,
    /// ICMP answers to this worker's sessions, encapsulated at `release`.
    to_sessions: Vec<Vec<u8>>,
    garden: Arc<Garden>,
    nat: GardenNat,
    prohibited: Option<Prohibited>,
    snoop_socket: Option<UdpSocket>,
    pub counts: PolicyCounts,
    origin: Instant,
    /// The buckets' time for the current burst (see `start_burst`).
    now: u64,
    /// no_throttle_local_IP: traffic between two sessions is not throttled.
    no_throttle_local: bool,
}

impl Default for Policies {
    fn default() -> Self {
        Policies::new(Ipv4Addr::UNSPECIFIED, 0, 1)
    }
}

impl Policies {
    /// `local` is the source of the ICMP answers; `garden_icmp_rate` a
    /// second over all `workers` (0: none).
    pub fn new(local: Ipv4Addr, garden_icmp_rate: u32, workers: usize) -> Policies {
        let prohibited = (garden_icmp_rate > 0).then(|| {
            let rate = Rate::shared(garden_icmp_rate, workers, garden_icmp_rate);
            Prohibited {
                rate,
                bucket: TokenBucket::full(rate, 0),
                local,
            }
        });
        Policies {
            sessions: FxHashMap::default(),
            backlog: VecDeque::new(),
            ready: Vec::new(),
            to_sessions: Vec::new(),
            garden: Arc::default(),
            nat: GardenNat::default(),
            prohibited,
            snoop_socket: None,
            counts: PolicyCounts::default(),
            origin: Instant::now(),
            now: 0,
            no_throttle_local: false,
        }
    }

    /// Nanoseconds on the worker's own clock (the buckets' time).
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Read the clock for the packets of a burst: a burst lasts
    /// microseconds, well within the buckets' millisecond granularity.
    #[inline]
    pub fn start_burst(&mut self) {
        if !self.is_empty() {
            self.now = self.now_ns();
        }
    }

    /// no_throttle_local_IP (l2tpns): a packet between two sessions passes
    /// their throttles.
    pub fn with_no_throttle_local(mut self, on: bool) -> Policies {
        self.no_throttle_local = on;
        self
    }

    /// No session of this worker has a policy: nothing to look up.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Follow the control plane's table updates.
    pub fn on_update(&mut self, u: &TableUpdate) {
        match u {
            TableUpdate::Upsert(e) if e.policy != SessionPolicy::default() => {
                let now = self.now_ns();
                let p = e.policy;
                let st = self.sessions.entry(e.key).or_insert(SessionState {
                    policy: SessionPolicy::default(),
                    address: e.address,
                    dns: e.dns,
                    up: None,
                    down: None,
                });
                if st.policy.garden && !p.garden {
                    self.nat.forget(st.address);
                }
                st.policy = p;
                st.address = e.address;
                st.dns = e.dns;
                // A new rate starts a new bucket; what waits is kept.
                st.up = rebucket(st.up.take(), p.throttle_in, now);
                st.down = rebucket(st.down.take(), p.throttle_out, now);
            }
            TableUpdate::Upsert(e) => self.forget(&e.key),
            TableUpdate::Remove(k) => self.forget(k),
            TableUpdate::Garden(g) => self.garden = g.clone(),
        }
    }

    fn forget(&mut self, k: &SessionKey) {
        if let Some(st) = self.sessions.remove(k) {
            if st.policy.garden {
                self.nat.forget(st.address);
            }
        }
    }

    /// An upstream IP packet of session `k` (to the TUN); the garden may
    /// rewrite it for the portal. `table` tells other sessions' addresses
    /// (no_throttle_local_IP).
    pub fn upstream(&mut self, k: SessionKey, packet: &mut [u8], table: &SessionTable) -> Verdict {
        let now = self.now;
        let Some(st) = self.sessions.get_mut(&k) else {
            return Verdict::Pass;
        };
        if let Some(to) = st.policy.snoop {
            send_copy(&mut self.snoop_socket, &mut self.counts, to, packet);
        }
        if st.policy.garden {
            match self.garden.judge(&st.dns, packet) {
                GardenVerdict::Pass => {}
                GardenVerdict::Redirect(portal) => {
                    if self.nat.redirect(packet, portal, now / 1_000_000) {
                        self.counts.garden_redirects += 1;
                    }
                }
                GardenVerdict::Refuse => {
                    prohibit(
                        self.prohibited.as_mut(),
                        &mut self.counts,
                        &mut self.to_sessions,
                        packet,
                        now / 1_000_000,
                    );
                    return Verdict::Refused;
                }
            }
        }
        let Some(b) = st.up.as_mut() else {
            return Verdict::Pass;
        };
        // As l2tpns: not throttled when the destination is a session.
        if self.no_throttle_local && to_session(table, packet, 16) {
            return Verdict::Pass;
        }
        match b.admit(now, packet.len()) {
            Admit::Now => Verdict::Pass,
            Admit::Drop => Verdict::Taken { dropped: 1 },
            Admit::Queue => {
                b.push(packet.len(), packet.to_vec());
                if b.queued() == 1 {
                    self.backlog.push_back(k);
                }
                Verdict::Taken { dropped: 0 }
            }
        }
    }

    /// The downstream datagrams of one IP packet of session `k` in `out`
    /// (each the encapsulation prefix of `encap` bytes, then the IP
    /// packet). `Pass` when the bucket lets all of them go now: the
    /// caller sends them.
    pub fn downstream(
        &mut self,
        k: SessionKey,
        peer: SocketAddr,
        encap: usize,
        table: &SessionTable,
        out: &mut DownOutput,
    ) -> Verdict {
        let now = self.now;
        let Some(st) = self.sessions.get_mut(&k) else {
            return Verdict::Pass;
        };
        if let (true, Some(portal), false) =
            (st.policy.garden, self.garden.redirect, self.nat.is_empty())
        {
            let nat = &mut self.nat;
            out.for_each_datagram_mut(|d| {
                if let Some(ip) = d.get_mut(encap..) {
                    nat.reverse(ip, portal, now / 1_000_000);
                }
            });
        }
        let datagrams = out.datagrams();
        if let Some(to) = st.policy.snoop {
            for d in datagrams.clone() {
                let ip = d.get(encap..).unwrap_or_default();
                send_copy(&mut self.snoop_socket, &mut self.counts, to, ip);
            }
        }
        let Some(b) = st.down.as_mut() else {
            return Verdict::Pass;
        };
        // As l2tpns: not throttled when the source is a session.
        if self.no_throttle_local {
            let first = datagrams.clone().next().and_then(|d| d.get(encap..));
            if first.is_some_and(|ip| to_session(table, ip, 12)) {
                return Verdict::Pass;
            }
        }
        // Datagram by datagram: a TSO super-packet is tens of kilobytes,
        // more than a slow bucket or its queue ever holds.
        let item = |d: &[u8]| DownItem {
            peer,
            datagram: d.to_vec(),
        };
        let (mut within, mut taken, mut dropped) = (0, false, 0);
        for d in datagrams.clone() {
            let len = d.len().saturating_sub(encap);
            let admit = b.admit(now, len);
            if !taken {
                if admit == Admit::Now {
                    within += 1;
                    continue;
                }
                // Over the rate: the ones before it leave through `ready`.
                // Nothing of this session passes again before `release`:
                // the queue is not empty (a datagram is dropped with an
                // empty queue only if larger than the queue).
                taken = true;
                self.ready.extend(datagrams.clone().take(within).map(item));
            }
            match admit {
                Admit::Now => self.ready.push(item(d)),
                Admit::Drop => dropped += 1,
                Admit::Queue => {
                    b.push(len, item(d));
                    if b.queued() == 1 {
                        self.backlog.push_back(k);
                    }
                }
            }
        }
        if taken {
            Verdict::Taken { dropped }
        } else {
            Verdict::Pass
        }
    }

    /// Hand every packet the buckets allow now to `out`.
    pub fn release(&mut self, mut out: impl FnMut(Released<'_>)) {
        for item in self.ready.drain(..) {
            out(Released::Down(&item));
        }
        if self.backlog.is_empty() {
            return;
        }
        let now = self.now_ns();
        for _ in 0..self.backlog.len() {
            let Some(k) = self.backlog.pop_front() else {
                break;
            };
            let Some(st) = self.sessions.get_mut(&k) else {
                continue;
            };
            let mut waiting = false;
            if let Some(b) = st.up.as_mut() {
                while let Some(p) = b.release(now) {
                    out(Released::Up(&p));
                }
                waiting |= b.queued() > 0;
            }
            if let Some(b) = st.down.as_mut() {
                while let Some(item) = b.release(now) {
                    out(Released::Down(&item));
                }
                waiting |= b.queued() > 0;
            }
            if waiting {
                self.backlog.push_back(k);
            }
        }
    }

    /// The garden's ICMP answers to this worker's sessions, to send down
    /// each session as any downstream packet.
    pub fn take_answers(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.to_sessions)
    }

    /// Milliseconds until the next queued packet may go (None: nothing
    /// queued): the worker's poll timeout. ICMP answers go at once.
    pub fn next_release_ms(&self) -> Option<i32> {
        if !self.to_sessions.is_empty() || !self.ready.is_empty() {
            return Some(0);
        }
        let next = self
            .backlog
            .iter()
            .filter_map(|k| self.sessions.get(k))
            .flat_map(|st| {
                [
                    st.up.as_ref().and_then(Shaper::next_release_ns),
                    st.down.as_ref().and_then(Shaper::next_release_ns),
                ]
            })
            .flatten()
            .min()?;
        let ms = next.saturating_sub(self.now_ns()).div_ceil(1_000_000);
        Some(ms.min(1_000) as i32)
    }
}

/// Is the IPv4 address at `at` (12 source, 16 destination) of `ip` one a
/// session owns (its address or a Framed-Route)?
fn to_session(table: &SessionTable, ip: &[u8], at: usize) -> bool {
    match ip.get(at..at + 4) {
        Some(&[a, b, c, d]) => table.by_destination(Ipv4Addr::new(a, b, c, d)).is_some(),
        _ => false,
    }
}

/// The bucket for `kbps` (None when 0), keeping the old one's queue.
fn rebucket<T>(old: Option<Shaper<T>>, kbps: u32, now: u64) -> Option<Shaper<T>> {
    match old {
        Some(b) if b.kbps() == kbps => Some(b),
        _ if kbps == 0 => None,
        Some(b) => Some(b.with_rate(kbps, now)),
        None => Some(Shaper::new(kbps, now)),
    }
}

/// Answer a refused packet with ICMP administratively prohibited, if the
/// rate allows (and RFC 1122 §3.2.2 does).
fn prohibit(
    p: Option<&mut Prohibited>,
    counts: &mut PolicyCounts,
    to_sessions: &mut Vec<Vec<u8>>,
    packet: &[u8],
    now_ms: u64,
) {
    let (Some(p), Ok(ip)) = (p, Ipv4Packet::new_checked(packet)) else {
        return;
    };
    if !icmp::may_answer(&ip) {
        return;
    }
    if !p.bucket.take(p.rate, now_ms) {
        counts.garden_prohibited_limited += 1;
        return;
    }
    let mut buf = [0u8; UNREACHABLE_MAX];
    let n = icmp::admin_prohibited(&ip, p.local, &mut buf);
    counts.garden_prohibited += 1;
    to_sessions.push(buf.get(..n).unwrap_or_default().to_vec());
}

fn send_copy(
    socket: &mut Option<UdpSocket>,
    counts: &mut PolicyCounts,
    to: SocketAddrV4,
    ip: &[u8],
) {
    if socket.is_none() {
        *socket = UdpSocket::bind("0.0.0.0:0").ok().inspect(|s| {
            let _ = s.set_nonblocking(true);
        });
    }
    match socket.as_ref().map(|s| s.send_to(ip, to)) {
        Some(Ok(_)) => counts.snoop_sent += 1,
        _ => counts.snoop_errors += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::session_table::tests::entry;

    /// A worker's policies with session 1/1 throttled at 64 kbit/s
    /// (8,192 B/s, a bucket of 3,000 bytes).
    fn throttled() -> (Policies, SessionKey, SocketAddr) {
        let mut e = entry(1, 1, [10, 0, 0, 1], &[]);
        e.policy.throttle_out = 64;
        let (k, peer) = (e.key, e.peer);
        let mut p = Policies::default();
        p.on_update(&TableUpdate::Upsert(e));
        p.start_burst();
        (p, k, peer)
    }

    /// A worker's output holding these datagrams (each an encapsulation
    /// prefix of `ENCAP_LEN` bytes, then the packet).
    fn out<'a>(datagrams: impl Iterator<Item = &'a [u8]>) -> DownOutput {
        use crate::dataplane::downstream::ENCAP_LEN;
        let mut o = DownOutput::new();
        for d in datagrams {
            let (prefix, rest) = d.split_at(ENCAP_LEN);
            o.push(prefix.try_into().unwrap(), rest, &[]);
        }
        o
    }

    fn released(p: &mut Policies) -> usize {
        let mut n = 0;
        p.release(|_| n += 1);
        n
    }

    #[test]
    fn within_the_rate_passes_uncopied_and_beyond_it_waits() {
        let (mut p, k, peer) = throttled();
        let d = [0u8; 1010];
        let one = || std::iter::once(&d[..]);
        // Three 1,000-byte packets fill the 3,000-byte bucket.
        for _ in 0..3 {
            assert_eq!(
                p.downstream(k, peer, 10, &SessionTable::new(), &mut out(one())),
                Verdict::Pass
            );
        }
        assert_eq!(released(&mut p), 0, "nothing kept for the ones that passed");
        // The bucket is empty now: the next one waits in the queue.
        assert_eq!(
            p.downstream(k, peer, 10, &SessionTable::new(), &mut out(one())),
            Verdict::Taken { dropped: 0 }
        );
        assert_eq!(released(&mut p), 0);
        assert!(p.next_release_ms().is_some());
    }

    #[test]
    fn a_packet_cut_across_the_limit_keeps_its_order() {
        let (mut p, k, peer) = throttled();
        // Four 1,000-byte datagrams: three fit the 3,000-byte bucket.
        let d: Vec<[u8; 1010]> = (0..4u8).map(|i| [i; 1010]).collect();
        let all = d.iter().map(|x| &x[..]);
        assert_eq!(
            p.downstream(k, peer, 10, &SessionTable::new(), &mut out(all)),
            Verdict::Taken { dropped: 0 }
        );
        let mut firsts = Vec::new();
        p.release(|r| {
            if let Released::Down(item) = r {
                firsts.push(item.datagram[0]);
            }
        });
        assert_eq!(firsts, [0, 1, 2], "the fourth waits for credit");
    }

    #[test]
    fn a_packet_behind_held_ones_does_not_overtake_them() {
        let (mut p, k, peer) = throttled();
        // 2,500 of the 3,000 bytes go, the next 1,250 wait, and a 100-byte
        // packet the credit left would allow waits behind them, so it
        // cannot overtake them through the worker's batch.
        let big: Vec<[u8; 1260]> = (0..3u8).map(|i| [i; 1260]).collect();
        let all = big.iter().map(|x| &x[..]);
        assert_eq!(
            p.downstream(k, peer, 10, &SessionTable::new(), &mut out(all)),
            Verdict::Taken { dropped: 0 }
        );
        let small = [9u8; 110];
        assert_eq!(
            p.downstream(
                k,
                peer,
                10,
                &SessionTable::new(),
                &mut out(std::iter::once(&small[..]))
            ),
            Verdict::Taken { dropped: 0 }
        );
    }

    #[test]
    fn no_throttle_local_ip_lets_traffic_between_sessions_pass() {
        let (p, k, peer) = throttled();
        let mut p = p.with_no_throttle_local(true);
        let mut table = SessionTable::new();
        table.apply(TableUpdate::Upsert(entry(1, 2, [10, 0, 0, 2], &[])));
        // From another session (source 10.0.0.2 after the 10-byte prefix).
        let mut local = [0u8; 1010];
        local[10 + 12..10 + 16].copy_from_slice(&[10, 0, 0, 2]);
        for _ in 0..10 {
            assert_eq!(
                p.downstream(k, peer, 10, &table, &mut out(std::iter::once(&local[..]))),
                Verdict::Pass
            );
        }
        // From elsewhere: local traffic took no credit, so the bucket
        // still passes three, then holds the fourth.
        let d = [0u8; 1010];
        let verdicts: Vec<Verdict> = (0..4)
            .map(|_| p.downstream(k, peer, 10, &table, &mut out(std::iter::once(&d[..]))))
            .collect();
        assert_eq!(verdicts[..3], [Verdict::Pass; 3]);
        assert_eq!(verdicts[3], Verdict::Taken { dropped: 0 });
    }
}
