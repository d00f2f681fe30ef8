//! A session's traffic counters, shared by whoever forwards its packets
//! and read by the control plane without a lock (Relaxed: statistics and
//! idle detection, no ordering with other data).
//!
//! Two paths may forward a session: the userspace workers add to the
//! atomics here, and the kernel fast path (daemon::fastpath) adds to a slot
//! of its own, [`FastCounters`], while the session is in it. Readers take
//! the sum through the methods ([`SessionCounters::rx_bytes`] and so on),
//! so accounting, the CLI and the saved state see both, live.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// One session's slot in the fast path's counter map: a BPF array that is
/// mmapped once and kept for the life of the process, added to by the BPF
/// programs. The layout is the programs' (bpf/fastpath_maps.h).
#[repr(C)]
#[derive(Debug, Default)]
pub struct FastCounters {
    pub up_packets: AtomicU64,
    pub up_bytes: AtomicU64,
    pub down_packets: AtomicU64,
    pub down_bytes: AtomicU64,
}

impl FastCounters {
    pub fn clear(&self) {
        for c in self.all() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Up packets, up bytes, down packets, down bytes.
    pub fn all(&self) -> [&AtomicU64; 4] {
        [
            &self.up_packets,
            &self.up_bytes,
            &self.down_packets,
            &self.down_bytes,
        ]
    }
}

/// Per-session counters. The public atomics are the userspace path's; the
/// methods of the same names give the session's totals.
#[derive(Debug, Default)]
pub struct SessionCounters {
    /// Upstream IPv4 packets written to the TUN.
    pub rx_packets: AtomicU64,
    /// Upstream IPv4 bytes (IP total length) written to the TUN.
    pub rx_bytes: AtomicU64,
    /// Downstream datagrams sent to the peer (one per fragment).
    pub tx_packets: AtomicU64,
    /// Downstream IPv4 bytes sent to the peer (sum of fragment IP lengths).
    pub tx_bytes: AtomicU64,
    /// Coarse time of the last upstream IPv4 packet (the worker's tick).
    pub last_rx_tick: AtomicU64,
    /// Upstream packets dropped because the source address was spoofed.
    pub spoof_drops: AtomicU64,
    /// Downstream packets over the MRU with DF set (dropped, maybe answered by ICMP).
    pub too_big_drops: AtomicU64,
    /// Downstream packets over the MRU that were fragmented.
    pub fragmented: AtomicU64,
    /// The fast path's slot while the session is in it; null otherwise.
    fast: AtomicPtr<FastCounters>,
}

/// A plain copy of [`SessionCounters`] for display, accounting and saved state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CounterSnapshot {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub last_rx_tick: u64,
    pub spoof_drops: u64,
    pub too_big_drops: u64,
    pub fragmented: u64,
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl SessionCounters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters that carry on from a saved copy (a restored session).
    /// The last-packet tick is a clock reading of the old process: not kept.
    pub fn resumed(c: &CounterSnapshot) -> Self {
        let n = |v: u64| AtomicU64::new(v);
        SessionCounters {
            rx_packets: n(c.rx_packets),
            rx_bytes: n(c.rx_bytes),
            tx_packets: n(c.tx_packets),
            tx_bytes: n(c.tx_bytes),
            last_rx_tick: n(0),
            spoof_drops: n(c.spoof_drops),
            too_big_drops: n(c.too_big_drops),
            fragmented: n(c.fragmented),
            fast: AtomicPtr::default(),
        }
    }

    fn fast(&self) -> Option<&'static FastCounters> {
        // SAFETY: only `attach_fast` stores a non-null pointer, and it takes
        // a `&'static` (the mapping is never unmapped).
        unsafe { self.fast.load(Ordering::Acquire).as_ref() }
    }

    fn with_fast(&self, own: &AtomicU64, fast: impl Fn(&FastCounters) -> &AtomicU64) -> u64 {
        load(own) + self.fast().map_or(0, |f| load(fast(f)))
    }

    /// Upstream IPv4 packets, both paths.
    pub fn rx_packets(&self) -> u64 {
        self.with_fast(&self.rx_packets, |f| &f.up_packets)
    }

    /// Upstream IPv4 bytes (IP total length), both paths.
    pub fn rx_bytes(&self) -> u64 {
        self.with_fast(&self.rx_bytes, |f| &f.up_bytes)
    }

    /// Downstream packets sent to the peer, both paths.
    pub fn tx_packets(&self) -> u64 {
        self.with_fast(&self.tx_packets, |f| &f.down_packets)
    }

    /// Downstream IPv4 bytes sent to the peer, both paths.
    pub fn tx_bytes(&self) -> u64 {
        self.with_fast(&self.tx_bytes, |f| &f.down_bytes)
    }

    /// The fast path took the session onto `slot`, which it cleared.
    pub fn attach_fast(&self, slot: &'static FastCounters) {
        let old = self
            .fast
            .swap(std::ptr::from_ref(slot).cast_mut(), Ordering::AcqRel);
        if !old.is_null() && !std::ptr::eq(old, slot) {
            // SAFETY: as in `fast`.
            self.fold(unsafe { &*old });
        }
    }

    /// The fast path let the session go: what it counted joins the
    /// userspace counts (a reader in between sees a moment's shortfall,
    /// never a count twice).
    pub fn detach_fast(&self) {
        let old = self.fast.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `fast`.
        if let Some(f) = unsafe { old.as_ref() } {
            self.fold(f);
        }
    }

    fn fold(&self, f: &FastCounters) {
        let add = |own: &AtomicU64, v: &AtomicU64| {
            own.fetch_add(load(v), Ordering::Relaxed);
        };
        add(&self.rx_packets, &f.up_packets);
        add(&self.rx_bytes, &f.up_bytes);
        add(&self.tx_packets, &f.down_packets);
        add(&self.tx_bytes, &f.down_bytes);
    }

    /// Start the traffic counts again (a session let out of the walled
    /// garden is accounted from then on).
    pub fn reset_traffic(&self) {
        for n in [
            &self.rx_bytes,
            &self.tx_bytes,
            &self.rx_packets,
            &self.tx_packets,
        ] {
            n.store(0, Ordering::Relaxed);
        }
        if let Some(f) = self.fast() {
            f.clear();
        }
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            rx_packets: self.rx_packets(),
            rx_bytes: self.rx_bytes(),
            tx_packets: self.tx_packets(),
            tx_bytes: self.tx_bytes(),
            last_rx_tick: load(&self.last_rx_tick),
            spoof_drops: load(&self.spoof_drops),
            too_big_drops: load(&self.too_big_drops),
            fragmented: load(&self.fragmented),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> &'static FastCounters {
        Box::leak(Box::default())
    }

    #[test]
    fn totals_are_both_paths_and_detaching_keeps_every_count() {
        let c = SessionCounters::new();
        c.rx_bytes.fetch_add(100, Ordering::Relaxed);
        let f = slot();
        c.attach_fast(f);
        f.up_bytes.fetch_add(40, Ordering::Relaxed);
        f.down_packets.fetch_add(3, Ordering::Relaxed);
        assert_eq!((c.rx_bytes(), c.tx_packets()), (140, 3));
        assert!(c.fast().is_some_and(|s| std::ptr::eq(s, f)));
        c.detach_fast();
        f.up_bytes.fetch_add(1000, Ordering::Relaxed); // the slot's next owner
        assert_eq!((c.rx_bytes(), c.tx_packets()), (140, 3));
        assert!(c.fast().is_none());
        assert_eq!(c.snapshot().rx_bytes, 140);
    }

    #[test]
    fn moving_to_another_slot_folds_the_old_one() {
        let c = SessionCounters::new();
        let (a, b) = (slot(), slot());
        c.attach_fast(a);
        a.up_packets.fetch_add(5, Ordering::Relaxed);
        c.attach_fast(b);
        b.up_packets.fetch_add(2, Ordering::Relaxed);
        assert_eq!(c.rx_packets(), 7);
        c.attach_fast(b); // the same slot again: nothing folded twice
        assert_eq!(c.rx_packets(), 7);
    }
}
