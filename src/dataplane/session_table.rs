//! The worker's view of IPCP-up sessions: O(1) lookup by our (tunnel, session)
//! ids for upstream and by IPv4 destination for downstream, with
//! longest-prefix match over Framed-Routes. One table per worker, updated
//! between packets from `TableUpdate`s sent by the control plane; counters
//! are shared atomics so the control plane reads them without a lock.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ipnetwork::Ipv4Network;

use super::packet_limit::PacketWindow;
pub use super::session_counters::{CounterSnapshot, FastCounters, SessionCounters};
use crate::fx_hash::FxHashMap;

/// Our local ids, as they appear in upstream L2TP data headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub tunnel: u16,
    pub session: u16,
}

impl SessionKey {
    /// The one number that names a session outside: RADIUS NAS-Port, and
    /// the SID of the CLI, nsctl and plugins: (tunnel id << 16) | session id.
    pub fn nas_port(self) -> u32 {
        (u32::from(self.tunnel) << 16) | u32::from(self.session)
    }

    pub fn from_nas_port(n: u32) -> SessionKey {
        SessionKey {
            tunnel: (n >> 16) as u16,
            session: n as u16,
        }
    }
}

/// One IPCP-up session as the data plane needs it.
#[derive(Clone, Debug)]
pub struct SessionEntry {
    pub key: SessionKey,
    /// The LAC's UDP address for this tunnel.
    pub peer: SocketAddr,
    /// The peer's ids, written in downstream headers.
    pub peer_tunnel: u16,
    pub peer_session: u16,
    /// The address assigned by IPCP.
    pub address: Ipv4Addr,
    /// Framed-Route: extra networks routed to the session.
    pub routes: Vec<Ipv4Network>,
    /// The peer's MRU: the largest IPv4 packet we may send it.
    pub mru: u16,
    /// Check upstream source addresses (l2tpns: unless `disable_no_spoof`).
    pub anti_spoof: bool,
    /// packet_limit: downstream packets per 0.1 s (0 = no limit), and this
    /// worker's count of them.
    pub packet_limit: u32,
    pub down_window: PacketWindow,
    /// Throttle, snoop, garden: applied by the worker that owns the session.
    pub policy: super::policy::SessionPolicy,
    /// The DNS servers IPCP gave it: a gardened session may always reach them.
    pub dns: [Option<Ipv4Addr>; 2],
    pub counters: Arc<SessionCounters>,
}

impl SessionEntry {
    /// May this session send from `src`?
    #[inline]
    pub fn owns_source(&self, src: Ipv4Addr) -> bool {
        src == self.address || self.routes.iter().any(|r| r.contains(src))
    }
}

/// A change published by the control plane, applied by each worker between packets.
#[derive(Clone, Debug)]
pub enum TableUpdate {
    /// Insert or replace the session with this key.
    Upsert(SessionEntry),
    Remove(SessionKey),
    /// The walled garden (at start and when a reload changes it); not a
    /// session's, so the table itself ignores it.
    Garden(std::sync::Arc<super::garden::Garden>),
}

/// Slot index into `SessionTable::slots`.
type Slot = u32;

/// Address and route indexes, kept apart from the slots so both can be borrowed at once.
struct DestinationIndex {
    by_addr: FxHashMap<u32, Slot>,
    /// `routes[len]`: masked network -> slot, for prefix length `len`.
    routes: [FxHashMap<u32, Slot>; 33],
    /// Bit `len` set when `routes[len]` is non-empty, so lookups probe only present lengths.
    route_lens: u64,
}

impl Default for DestinationIndex {
    fn default() -> Self {
        Self {
            by_addr: FxHashMap::default(),
            routes: std::array::from_fn(|_| FxHashMap::default()),
            route_lens: 0,
        }
    }
}

#[inline]
fn mask(len: u8) -> u32 {
    match len {
        0 => 0,
        l => u32::MAX << (32 - u32::from(l.min(32))),
    }
}

impl DestinationIndex {
    /// Index `e`; the last writer wins if two sessions claim the same destination.
    fn insert(&mut self, e: &SessionEntry, slot: Slot) {
        if !e.address.is_unspecified() {
            self.by_addr.insert(u32::from(e.address), slot);
        }
        for r in &e.routes {
            let len = r.prefix().min(32);
            let net = u32::from(r.ip()) & mask(len);
            self.routes[usize::from(len)].insert(net, slot);
            self.route_lens |= 1 << len;
        }
    }

    /// Remove `e`'s entries, but only those still pointing at `slot`.
    fn remove(&mut self, e: &SessionEntry, slot: Slot) {
        let a = u32::from(e.address);
        if self.by_addr.get(&a) == Some(&slot) {
            self.by_addr.remove(&a);
        }
        for r in &e.routes {
            let len = r.prefix().min(32);
            let net = u32::from(r.ip()) & mask(len);
            let map = &mut self.routes[usize::from(len)];
            if map.get(&net) == Some(&slot) {
                map.remove(&net);
            }
            if map.is_empty() {
                self.route_lens &= !(1 << len);
            }
        }
    }

    #[inline]
    fn lookup(&self, dst: u32) -> Option<Slot> {
        if let Some(&s) = self.by_addr.get(&dst) {
            return Some(s);
        }
        let mut lens = self.route_lens;
        while lens != 0 {
            let len = 63 - lens.leading_zeros(); // longest present length first
            lens &= !(1u64 << len);
            let len = len as u8;
            if let Some(&s) = self.routes[usize::from(len)].get(&(dst & mask(len))) {
                return Some(s);
            }
        }
        None
    }
}

/// See the module comment.
#[derive(Default)]
pub struct SessionTable {
    slots: Vec<Option<SessionEntry>>,
    free: Vec<Slot>,
    by_key: FxHashMap<SessionKey, Slot>,
    dest: DestinationIndex,
}

impl SessionTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, u: TableUpdate) {
        match u {
            TableUpdate::Upsert(e) => self.upsert(e),
            TableUpdate::Remove(k) => self.remove(k),
            TableUpdate::Garden(_) => {}
        }
    }

    fn upsert(&mut self, e: SessionEntry) {
        let slot = match self.by_key.get(&e.key) {
            Some(&slot) => {
                if let Some(old) = self.slots.get(slot as usize).and_then(Option::as_ref) {
                    self.dest.remove(old, slot);
                }
                slot
            }
            None => {
                let slot = match self.free.pop() {
                    Some(s) => s,
                    None => {
                        self.slots.push(None);
                        (self.slots.len() - 1) as Slot
                    }
                };
                self.by_key.insert(e.key, slot);
                slot
            }
        };
        self.dest.insert(&e, slot);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = Some(e);
        }
    }

    fn remove(&mut self, k: SessionKey) {
        let Some(slot) = self.by_key.remove(&k) else {
            return;
        };
        if let Some(old) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            self.dest.remove(&old, slot);
        }
        self.free.push(slot);
    }

    #[inline]
    fn slot(&self, s: Slot) -> Option<&SessionEntry> {
        self.slots.get(s as usize).and_then(Option::as_ref)
    }

    /// Upstream lookup by our (tunnel, session) ids.
    #[inline]
    pub fn by_key(&self, k: SessionKey) -> Option<&SessionEntry> {
        self.by_key.get(&k).and_then(|&s| self.slot(s))
    }

    /// Downstream lookup: the session address first, then the longest matching route.
    #[inline]
    pub fn by_destination(&self, dst: Ipv4Addr) -> Option<&SessionEntry> {
        self.dest.lookup(u32::from(dst)).and_then(|s| self.slot(s))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &SessionEntry> {
        self.slots.iter().filter_map(Option::as_ref)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(tunnel: u16, session: u16, addr: [u8; 4], routes: &[&str]) -> SessionEntry {
        SessionEntry {
            key: SessionKey { tunnel, session },
            peer: "192.0.2.1:1701".parse().unwrap(),
            peer_tunnel: tunnel + 1000,
            peer_session: session + 1000,
            address: Ipv4Addr::from(addr),
            routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
            mru: 1500,
            anti_spoof: true,
            packet_limit: 0,
            down_window: Default::default(),
            policy: Default::default(),
            dns: [None, None],
            counters: Arc::new(SessionCounters::new()),
        }
    }

    fn key(t: u16, s: u16) -> SessionKey {
        SessionKey {
            tunnel: t,
            session: s,
        }
    }

    fn dst_key(t: &SessionTable, a: &str) -> Option<SessionKey> {
        t.by_destination(a.parse().unwrap()).map(|e| e.key)
    }

    #[test]
    fn insert_lookup_remove() {
        let mut t = SessionTable::new();
        assert!(t.is_empty());
        t.apply(TableUpdate::Upsert(entry(1, 2, [10, 0, 0, 1], &[])));
        t.apply(TableUpdate::Upsert(entry(1, 3, [10, 0, 0, 2], &[])));
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.by_key(key(1, 2)).unwrap().address,
            Ipv4Addr::new(10, 0, 0, 1)
        );
        assert_eq!(dst_key(&t, "10.0.0.2"), Some(key(1, 3)));
        assert_eq!(dst_key(&t, "10.0.0.3"), None);
        assert!(t.by_key(key(2, 2)).is_none());
        t.apply(TableUpdate::Remove(key(1, 2)));
        assert_eq!(t.len(), 1);
        assert!(t.by_key(key(1, 2)).is_none());
        assert_eq!(dst_key(&t, "10.0.0.1"), None);
        t.apply(TableUpdate::Remove(key(1, 2))); // idempotent
        assert_eq!(t.len(), 1);
        // slot reuse
        t.apply(TableUpdate::Upsert(entry(5, 5, [10, 0, 0, 5], &[])));
        assert_eq!(t.slots.len(), 2);
        assert_eq!(dst_key(&t, "10.0.0.5"), Some(key(5, 5)));
        assert_eq!(t.iter().count(), 2);
    }

    #[test]
    fn upsert_replaces_address_and_routes() {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(entry(
            1,
            1,
            [10, 0, 0, 1],
            &["192.168.0.0/24"],
        )));
        t.apply(TableUpdate::Upsert(entry(
            1,
            1,
            [10, 0, 0, 9],
            &["172.16.0.0/16"],
        )));
        assert_eq!(t.len(), 1);
        assert_eq!(dst_key(&t, "10.0.0.1"), None);
        assert_eq!(dst_key(&t, "192.168.0.7"), None);
        assert_eq!(dst_key(&t, "10.0.0.9"), Some(key(1, 1)));
        assert_eq!(dst_key(&t, "172.16.200.1"), Some(key(1, 1)));
        assert_eq!(t.dest.route_lens, 1 << 16);
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(entry(
            1,
            1,
            [10, 0, 0, 1],
            &["192.168.0.0/16"],
        )));
        t.apply(TableUpdate::Upsert(entry(
            1,
            2,
            [10, 0, 0, 2],
            &["192.168.1.0/24"],
        )));
        t.apply(TableUpdate::Upsert(entry(
            1,
            3,
            [10, 0, 0, 3],
            &["192.168.1.128/25", "0.0.0.0/0"],
        )));
        t.apply(TableUpdate::Upsert(entry(
            1,
            4,
            [10, 0, 0, 4],
            &["192.168.1.200/32"],
        )));
        assert_eq!(dst_key(&t, "192.168.2.1"), Some(key(1, 1)));
        assert_eq!(dst_key(&t, "192.168.1.1"), Some(key(1, 2)));
        assert_eq!(dst_key(&t, "192.168.1.129"), Some(key(1, 3)));
        assert_eq!(dst_key(&t, "192.168.1.200"), Some(key(1, 4)));
        assert_eq!(dst_key(&t, "8.8.8.8"), Some(key(1, 3))); // default route
        t.apply(TableUpdate::Remove(key(1, 3)));
        assert_eq!(dst_key(&t, "192.168.1.129"), Some(key(1, 2)));
        assert_eq!(dst_key(&t, "8.8.8.8"), None);
        assert_eq!(t.dest.route_lens, (1 << 16) | (1 << 24) | (1 << 32));
    }

    #[test]
    fn route_with_host_bits_is_masked() {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(entry(
            1,
            1,
            [10, 0, 0, 1],
            &["192.168.5.77/24"],
        )));
        assert_eq!(dst_key(&t, "192.168.5.1"), Some(key(1, 1)));
        t.apply(TableUpdate::Remove(key(1, 1)));
        assert_eq!(t.dest.route_lens, 0);
    }

    #[test]
    fn duplicate_address_last_writer_wins_and_survives_stale_remove() {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(entry(
            1,
            1,
            [10, 0, 0, 1],
            &["10.9.0.0/16"],
        )));
        t.apply(TableUpdate::Upsert(entry(
            2,
            1,
            [10, 0, 0, 1],
            &["10.9.0.0/16"],
        )));
        assert_eq!(dst_key(&t, "10.0.0.1"), Some(key(2, 1)));
        t.apply(TableUpdate::Remove(key(1, 1)));
        assert_eq!(dst_key(&t, "10.0.0.1"), Some(key(2, 1)));
        assert_eq!(dst_key(&t, "10.9.3.3"), Some(key(2, 1)));
    }

    #[test]
    fn unspecified_address_is_not_indexed() {
        let mut t = SessionTable::new();
        t.apply(TableUpdate::Upsert(entry(1, 1, [0, 0, 0, 0], &[])));
        assert_eq!(dst_key(&t, "0.0.0.0"), None);
        assert!(t.by_key(key(1, 1)).is_some());
    }

    #[test]
    fn owns_source() {
        let e = entry(1, 1, [10, 0, 0, 1], &["192.168.0.0/24"]);
        assert!(e.owns_source(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(e.owns_source(Ipv4Addr::new(192, 168, 0, 200)));
        assert!(!e.owns_source(Ipv4Addr::new(192, 168, 1, 1)));
        assert!(!e.owns_source(Ipv4Addr::new(10, 0, 0, 2)));
    }

    /// Not a test: the cost of the per-packet table work (lookup by
    /// destination, then the counter add) with 1,000 vs 1,000,000 sessions,
    /// destinations in round-robin order as `l2tpns-loadgen source` sends
    /// them. Run with
    /// `cargo test --release --lib lookup_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn lookup_cost_1k_vs_1m() {
        use std::time::Instant;
        for n in [1_000u32, 1_000_000] {
            let mut t = SessionTable::new();
            let base = u32::from(Ipv4Addr::new(10, 64, 0, 0));
            for i in 0..n {
                let a = (base + i).to_be_bytes();
                t.apply(TableUpdate::Upsert(entry(
                    1 + (i / 50_000) as u16,
                    1 + (i % 50_000) as u16,
                    a,
                    &[],
                )));
            }
            let rounds = 5_000_000u32;
            let t0 = Instant::now();
            let mut hits = 0u64;
            for k in 0..rounds {
                let dst = Ipv4Addr::from(base + k % n);
                if let Some(e) = t.by_destination(dst) {
                    e.counters
                        .tx_packets
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    hits += u64::from(e.peer_session);
                }
            }
            let ns = t0.elapsed().as_nanos() as f64 / f64::from(rounds);
            eprintln!("sessions={n} lookup+count ns_per_packet={ns:.1} ({hits})");
        }
    }
}
