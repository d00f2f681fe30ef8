//! Echo checks of established sessions, swept instead of timed.
//!
//! An established session's only deadlines are its LCP echo and idle
//! checks, counted from the user's last packet. With traffic, a timer per
//! session comes due every echo_timeout only to find newer activity and
//! re-arm: 10,000 times a second at 100,000 sessions, each a hash lookup
//! and a read of the session's counters far in memory, one after the other
//! (most of the daemon's CPU under fast-path traffic). Here those sessions
//! sit in a dense array instead: what is due is found by a sweep of one
//! word per session, and the due ones' activity stamps are read in one
//! tight loop whose cache misses overlap. Only a session whose deadline
//! traffic did not move on goes back to its link (to send an echo, or end).
//!
//! A session is held here only while `ServerLink::activity_span` says every
//! deadline it has counts from activity; otherwise it has a timer.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use crate::dataplane::session_table::{SessionCounters, SessionKey};
use crate::fx_hash::FxHashMap;

/// How often due sessions are looked for: an echo (or idle end) goes out at
/// most this late. The sweep reads 8 bytes a held session.
pub const SWEEP_EVERY_MS: u64 = 250;

struct Held {
    key: SessionKey,
    counters: Arc<SessionCounters>,
    /// The activity stamp (clock ticks, ms) the deadline was counted from.
    counted_from: u64,
    span_ms: u64,
}

#[derive(Default)]
pub(super) struct ActivityGates {
    /// The tick each held session comes due; parallel to `held`. Apart so
    /// that the sweep reads only this.
    due: Vec<u64>,
    held: Vec<Held>,
    index: FxHashMap<SessionKey, u32>,
    /// No sweep before this tick (0: none due yet).
    next_sweep: u64,
    last_sweep: u64,
}

impl ActivityGates {
    /// Hold `k` until tick `due`, its deadlines counting from activity over
    /// `span` (`ServerLink::activity_span`).
    pub fn hold(
        &mut self,
        k: SessionKey,
        counters: &Arc<SessionCounters>,
        span: Duration,
        due: u64,
    ) {
        let held = Held {
            key: k,
            counters: Arc::clone(counters),
            counted_from: counters.last_rx_tick.load(Relaxed),
            span_ms: span.as_millis() as u64,
        };
        match self.index.get(&k) {
            Some(&i) => {
                self.due[i as usize] = due;
                self.held[i as usize] = held;
            }
            None => {
                self.index.insert(k, self.held.len() as u32);
                self.due.push(due);
                self.held.push(held);
            }
        }
        let earliest = due.max(self.last_sweep + SWEEP_EVERY_MS);
        if self.next_sweep == 0 || earliest < self.next_sweep {
            self.next_sweep = earliest;
        }
    }

    pub fn release(&mut self, k: SessionKey) {
        let Some(i) = self.index.remove(&k) else {
            return;
        };
        let i = i as usize;
        self.due.swap_remove(i);
        self.held.swap_remove(i);
        if let Some(moved) = self.held.get(i) {
            self.index.insert(moved.key, i as u32);
        }
        if self.held.is_empty() {
            self.next_sweep = 0;
        }
    }

    /// The tick of the next sweep, if anything is held.
    pub fn next_sweep(&self) -> Option<u64> {
        (self.next_sweep != 0).then_some(self.next_sweep)
    }

    /// At tick `now`: move on the deadlines of due sessions whose traffic
    /// says so, and release (into `out`) those it does not: their links
    /// decide. A moved deadline is never later than the link's own would
    /// be (the link counts from that traffic or from something newer), so
    /// nothing is missed; at worst a link is asked once early.
    pub fn sweep(&mut self, now: u64, out: &mut Vec<SessionKey>) {
        if self.next_sweep == 0 || now < self.next_sweep {
            return;
        }
        self.last_sweep = now;
        let mut earliest = u64::MAX;
        let first = out.len();
        const CHUNK: usize = 16;
        for (c, dues) in self.due.chunks_mut(CHUNK).enumerate() {
            // Most chunks have nothing due: one branch-free pass over them
            // (vectorised) instead of a branch a session.
            let least = dues.iter().copied().fold(u64::MAX, u64::min);
            if least > now {
                earliest = earliest.min(least);
                continue;
            }
            for (j, due) in dues.iter_mut().enumerate() {
                if *due > now {
                    earliest = earliest.min(*due);
                    continue;
                }
                let h = &mut self.held[c * CHUNK + j];
                let stamp = h.counters.last_rx_tick.load(Relaxed);
                let moved = stamp + h.span_ms;
                if stamp > h.counted_from && moved > now {
                    h.counted_from = stamp;
                    *due = moved;
                    earliest = earliest.min(moved);
                } else {
                    out.push(h.key);
                }
            }
        }
        for &k in &out[first..] {
            self.release(k);
        }
        self.next_sweep = if self.held.is_empty() {
            0
        } else {
            earliest.max(now + SWEEP_EVERY_MS)
        };
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: u16) -> SessionKey {
        super::super::key(1, s)
    }

    /// `n` sessions held for 1 s spans, due 37 ms apart from 1 s on.
    fn staggered(c: &[Arc<SessionCounters>]) -> ActivityGates {
        let mut g = ActivityGates::default();
        for (i, c) in c.iter().enumerate() {
            let due = 1_000 + 37 * i as u64;
            g.hold(key(i as u16), c, Duration::from_secs(1), due);
        }
        g
    }

    fn swept(g: &mut ActivityGates, now: u64) -> Vec<SessionKey> {
        let mut out = Vec::new();
        g.sweep(now, &mut out);
        out
    }

    #[test]
    fn traffic_moves_the_deadline_on_and_silence_releases_the_session() {
        let counters = Arc::new(SessionCounters::default());
        counters.last_rx_tick.store(1_000, Relaxed);
        let mut g = ActivityGates::default();
        g.hold(key(7), &counters, Duration::from_secs(10), 11_000);
        assert_eq!(g.next_sweep(), Some(11_000));
        // Not due yet: nothing happens.
        assert!(swept(&mut g, 10_999).is_empty());
        // Traffic at 9 s: due again at 19 s, counted from that stamp.
        counters.last_rx_tick.store(9_000, Relaxed);
        assert!(swept(&mut g, 11_000).is_empty());
        assert_eq!(g.next_sweep(), Some(19_000));
        // Due at 19 s with nothing newer: released to its link.
        assert_eq!(swept(&mut g, 19_000), vec![key(7)]);
        assert_eq!((g.len(), g.next_sweep()), (0, None));
    }

    #[test]
    fn traffic_too_old_to_move_the_deadline_past_now_releases() {
        let counters = Arc::new(SessionCounters::default());
        let mut g = ActivityGates::default();
        g.hold(key(1), &counters, Duration::from_secs(10), 10_000);
        counters.last_rx_tick.store(2_000, Relaxed);
        // Swept late (12 s + 10 s span already passed at 30 s).
        assert_eq!(swept(&mut g, 30_000), vec![key(1)]);
    }

    #[test]
    fn sweeps_are_spaced_and_release_keeps_the_index_true() {
        let c: Vec<_> = (0..4)
            .map(|_| Arc::new(SessionCounters::default()))
            .collect();
        let mut g = ActivityGates::default();
        for (i, c) in c.iter().enumerate() {
            g.hold(key(i as u16), c, Duration::from_secs(10), 1_000 + i as u64);
        }
        // Session 0 goes: session 3 moves into its place.
        g.release(key(0));
        g.release(key(0));
        assert_eq!(g.len(), 3);
        // Re-holding 3 updates its own entry (found through the index).
        g.hold(key(3), &c[3], Duration::from_secs(10), 50_000);
        assert_eq!(g.len(), 3);
        assert_eq!(swept(&mut g, 2_000), vec![key(1), key(2)]);
        // The next sweep waits for the earliest due, and at least the
        // sweep interval.
        assert_eq!(g.next_sweep(), Some(50_000));
        g.hold(key(1), &c[1], Duration::from_secs(10), 2_001);
        assert_eq!(g.next_sweep(), Some(2_000 + SWEEP_EVERY_MS));
        assert!(swept(&mut g, 2_100).is_empty());
        assert_eq!(swept(&mut g, 2_250), vec![key(1)]);
        assert_eq!(swept(&mut g, 50_000), vec![key(3)]);
        assert_eq!(g.next_sweep(), None);
    }

    #[test]
    fn many_sessions_across_chunks_are_released_exactly_when_due_and_silent() {
        let n = 100u16;
        let c: Vec<_> = (0..n)
            .map(|_| Arc::new(SessionCounters::default()))
            .collect();
        let mut g = staggered(&c);
        // Every third session has traffic at 1 s.
        for i in (0..n).step_by(3) {
            c[i as usize].last_rx_tick.store(1_000, Relaxed);
        }
        let mut released = Vec::new();
        let mut now = 1_000;
        while g.len() > 0 {
            g.sweep(now, &mut released);
            now += 10;
        }
        released.sort_by_key(|k| k.session);
        assert_eq!(released.len(), usize::from(n));
        // Each went at its own due time (or, with traffic, 1 s after it),
        // never before: checked by releasing in a second run step by step.
        for c in &c {
            c.last_rx_tick.store(0, Relaxed);
        }
        let mut g = staggered(&c);
        for i in (0..n).step_by(3) {
            c[i as usize].last_rx_tick.store(1_000, Relaxed);
        }
        for now in (1_000..6_000).step_by(250) {
            let mut out = Vec::new();
            g.sweep(now, &mut out);
            for k in out {
                let due = 1_000 + 37 * u64::from(k.session);
                assert!(due <= now, "{k:?} released before it was due");
                // Traffic at 1 s moved those due before 2 s on to 2 s.
                if k.session % 3 == 0 && due <= 2_000 {
                    assert!(now >= 2_000, "{k:?} released despite traffic");
                }
            }
        }
        assert_eq!(g.len(), 0);
    }
}
