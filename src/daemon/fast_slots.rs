//! Which session holds which of the fast path's counter slots, apart from
//! the maps themselves so that it is testable without BPF: the slot's
//! counts reach the session's counters while it holds the slot, and join
//! them (and the totals of sessions gone) once, when it lets go.
//!
//! The once-a-second pass (idle stamps and totals) walks the holders in
//! slot order, so it reads the kernel's counter array front to back: in a
//! hash map's order each slot was a cache miss, most of the daemon's CPU
//! at 100,000 sessions with traffic.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::dataplane::session_table::{FastCounters, SessionCounters, SessionKey};

/// A session in a counter slot: its counters, the slot (kept, so the pass
/// looks nothing up), and the upstream count last seen there (for the
/// idle stamp).
struct Held {
    counters: Arc<SessionCounters>,
    slot: &'static FastCounters,
    seen_up: u64,
}

#[derive(Default)]
pub(super) struct SlotHolders {
    /// The sessions in the maps, with their slot (None: the counter map
    /// could not be read).
    sessions: HashMap<SessionKey, Option<u32>>,
    /// Per slot, the session in it.
    by_slot: Vec<Option<Held>>,
    /// What the slots counted for sessions that let go of them.
    gone: [u64; 4],
}

impl SlotHolders {
    /// `k` is in the maps, in `slot`. The same key upserted again keeps its
    /// slot and its counts; a slot it no longer has is let go.
    pub fn enter(
        &mut self,
        k: SessionKey,
        slot: Option<(u32, &'static FastCounters)>,
        counters: &Arc<SessionCounters>,
    ) {
        let index = slot.map(|(i, _)| i);
        if let Some(Some(old)) = self.sessions.insert(k, index) {
            if index != Some(old) {
                self.vacate(old);
            }
        }
        let Some((i, slot)) = slot else {
            return;
        };
        counters.attach_fast(slot);
        let held = Held {
            counters: Arc::clone(counters),
            slot,
            seen_up: slot.up_packets.load(Relaxed),
        };
        let i = i as usize;
        if self.by_slot.len() <= i {
            self.by_slot.resize_with(i + 1, || None);
        }
        self.by_slot[i] = Some(held);
    }

    /// `k` leaves: `forget` takes it out of the maps first, then its slot's
    /// counts join its counters (so a packet counted in between is not
    /// lost: the slot rests before its next session, and a program run
    /// already past the lookup finishes long before).
    pub fn leave(&mut self, k: SessionKey, forget: impl FnOnce()) {
        if let Some(index) = self.sessions.remove(&k) {
            forget();
            if let Some(i) = index {
                self.vacate(i);
            }
        }
    }

    fn vacate(&mut self, i: u32) {
        if let Some(held) = self.by_slot.get_mut(i as usize).and_then(Option::take) {
            add(&mut self.gone, held.slot);
            held.counters.detach_fast();
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Stamp `last_rx_tick` with `tick` for the sessions whose upstream
    /// the programs forwarded since the last call; the totals forwarded
    /// (up packets, up bytes, down packets, down bytes), gone included.
    /// One pass: each slot's line is read once for both.
    pub fn stamp(&mut self, tick: u64) -> [u64; 4] {
        let mut forwarded = self.gone;
        for held in self.by_slot.iter_mut().flatten() {
            add(&mut forwarded, held.slot);
            let n = held.slot.up_packets.load(Relaxed);
            if n != held.seen_up {
                held.seen_up = n;
                held.counters.last_rx_tick.store(tick, Relaxed);
            }
        }
        forwarded
    }

    /// The totals forwarded, as `stamp` gives them, stamping nothing.
    pub fn forwarded(&self) -> [u64; 4] {
        let mut forwarded = self.gone;
        for held in self.by_slot.iter().flatten() {
            add(&mut forwarded, held.slot);
        }
        forwarded
    }
}

fn add(sum: &mut [u64; 4], c: &FastCounters) {
    for (s, a) in sum.iter_mut().zip(c.all()) {
        *s += a.load(Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: u16) -> SessionKey {
        SessionKey::from_nas_port(1 << 16 | u32::from(s))
    }

    fn slot() -> &'static FastCounters {
        Box::leak(Box::default())
    }

    fn count(slot: &FastCounters, up: u64, down: u64) {
        slot.up_packets.fetch_add(up, Relaxed);
        slot.up_bytes.fetch_add(100 * up, Relaxed);
        slot.down_packets.fetch_add(down, Relaxed);
        slot.down_bytes.fetch_add(100 * down, Relaxed);
    }

    #[test]
    fn an_upsert_again_keeps_the_slot_and_counts_nothing_twice() {
        let (s0, c) = (slot(), Arc::new(SessionCounters::default()));
        let mut h = SlotHolders::default();
        h.enter(key(1), Some((0, s0)), &c);
        count(s0, 3, 2);
        // IPCP renegotiated: the session is upserted again, same slot.
        h.enter(key(1), Some((0, s0)), &c);
        count(s0, 1, 0);
        let snap = c.snapshot();
        assert_eq!((snap.rx_packets, snap.tx_packets), (4, 2));
        assert_eq!(h.forwarded(), [4, 400, 2, 200]);
        // It leaves: the slot's counts join its own, once.
        let mut forgotten = false;
        h.leave(key(1), || forgotten = true);
        assert!(forgotten);
        let snap = c.snapshot();
        assert_eq!((snap.rx_packets, snap.tx_packets), (4, 2));
        assert_eq!(h.forwarded(), [4, 400, 2, 200]);
        assert_eq!(h.len(), 0);
        // Leaving twice changes nothing.
        h.leave(key(1), || panic!("forgotten twice"));
        assert_eq!(c.snapshot().rx_packets, 4);
    }

    #[test]
    fn a_new_slot_for_the_same_key_lets_the_old_one_go() {
        let (s0, s1, c) = (slot(), slot(), Arc::new(SessionCounters::default()));
        let mut h = SlotHolders::default();
        h.enter(key(1), Some((0, s0)), &c);
        count(s0, 5, 0);
        h.enter(key(1), Some((7, s1)), &c);
        count(s1, 2, 0);
        assert_eq!(c.snapshot().rx_packets, 7);
        assert_eq!(h.forwarded()[0], 7);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn the_pass_stamps_only_sessions_that_sent_and_sums_in_slot_order() {
        let slots: Vec<_> = (0..3).map(|_| slot()).collect();
        let counters: Vec<_> = (0..3)
            .map(|_| Arc::new(SessionCounters::default()))
            .collect();
        let mut h = SlotHolders::default();
        // Entered out of slot order.
        for i in [2usize, 0, 1] {
            h.enter(key(i as u16), Some((i as u32, slots[i])), &counters[i]);
        }
        count(slots[1], 1, 0);
        count(slots[2], 0, 4);
        assert_eq!(h.stamp(500), [1, 100, 4, 400]);
        let stamps: Vec<u64> = counters
            .iter()
            .map(|c| c.last_rx_tick.load(Relaxed))
            .collect();
        // Downstream alone is not the user's activity.
        assert_eq!(stamps, [0, 500, 0]);
        // Nothing new: no stamp moves.
        assert_eq!(h.stamp(900), [1, 100, 4, 400]);
        assert_eq!(counters[1].last_rx_tick.load(Relaxed), 500);
    }
}
