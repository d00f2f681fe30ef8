//! Deadlines of every tunnel and session state machine, so the control loop
//! sleeps until the earliest one instead of polling all objects.
//!
//! Each object has at most one registered deadline (its `poll_timeout()`);
//! re-arming replaces the old one.
//!
//! A hashed timing wheel: one slot per SLOT of time over one revolution,
//! an ordered set for what lies beyond it. Setting a deadline is one hash
//! update and a push; a replaced deadline stays in its slot and is skipped
//! when the slot comes round (its key's deadline no longer matches). At
//! 100,000 sessions every session's echo check comes round once per
//! echo_timeout, 10,000 a second: an ordered set paid several cache misses
//! per re-arm on its way down the tree, which was a third of the daemon's
//! CPU with traffic and no logins.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::BTreeSet;
use std::hash::Hash;
use std::time::Instant;

use crate::fx_hash::FxHashMap;

/// One slot's width (about 8 ms: under the control loop's 10 ms of timer
/// slack, so a wake-up serves one or two slots).
const SLOT_NANOS: u128 = 1 << 23;
/// Slots in one revolution (about 34 s: the echo checks, L2TP
/// retransmissions and PPP restart timers all fit; HELLOs and session
/// timeouts wait in the ordered set).
const SLOTS: u64 = 4096;
const WORDS: usize = (SLOTS / 64) as usize;

pub struct Timers<K: Copy + Ord + Hash> {
    /// Each key's live deadline: the truth the slots are checked against.
    by_key: FxHashMap<K, Instant>,
    /// Slot `tick % SLOTS` holds the deadlines of `tick`, for ticks in
    /// `cursor..cursor + SLOTS`; replaced ones linger until their slot is
    /// read.
    wheel: Vec<Vec<(Instant, K)>>,
    /// Entries in the wheel, replaced ones included.
    in_wheel: usize,
    /// A bit per slot with anything in it: `next()` finds the first in a
    /// few words instead of walking up to 4,096 slots (once per loop pass
    /// of the daemon and the load generator, whose timers are sparse).
    occupied: [u64; WORDS],
    /// Deadlines a revolution or more past `cursor`.
    far: BTreeSet<(Instant, K)>,
    /// Tick 0; set by the first deadline.
    origin: Option<Instant>,
    /// The first tick not yet read to its end.
    cursor: u64,
    /// At or before the earliest live deadline; None: to be worked out.
    hint: Cell<Option<Instant>>,
}

impl<K: Copy + Ord + Hash> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_key: FxHashMap::default(),
            wheel: (0..SLOTS).map(|_| Vec::new()).collect(),
            in_wheel: 0,
            occupied: [0; WORDS],
            far: BTreeSet::new(),
            origin: None,
            cursor: 0,
            hint: Cell::new(None),
        }
    }
}

impl<K: Copy + Ord + Hash> Timers<K> {
    /// Register `key`'s next deadline (None = nothing pending).
    pub fn set(&mut self, key: K, at: Option<Instant>) {
        let old = match at {
            Some(at) => {
                let old = self.by_key.insert(key, at);
                // Re-arming with the same deadline (most calls) costs one
                // lookup.
                if old == Some(at) {
                    return;
                }
                self.place(at, key);
                if self.hint.get().is_some_and(|h| at < h) {
                    self.hint.set(Some(at));
                }
                old
            }
            None => self.by_key.remove(&key),
        };
        if let Some(old) = old {
            if !self.far.is_empty() {
                self.far.remove(&(old, key));
            }
            if self.hint.get() == Some(old) {
                self.hint.set(None);
            }
        }
    }

    /// `key`'s deadline, if armed.
    pub fn deadline(&self, key: K) -> Option<Instant> {
        self.by_key.get(&key).copied()
    }

    /// The earliest deadline (or a little before it, when that one was
    /// replaced since: the caller then wakes for nothing once).
    pub fn next(&self) -> Option<Instant> {
        if self.by_key.is_empty() {
            return None;
        }
        if let Some(h) = self.hint.get() {
            return Some(h);
        }
        // The first slot with anything in it holds the earliest (skipped
        // when the wheel is empty: a few far deadlines, an idle daemon).
        let in_wheel = (self.in_wheel > 0)
            .then(|| self.first_occupied())
            .flatten()
            .and_then(|i| self.wheel[i].iter().map(|(at, _)| *at).min());
        let far = self.far.first().map(|(at, _)| *at);
        let next = in_wheel.into_iter().chain(far).min();
        self.hint.set(next);
        next
    }

    /// Take every key whose deadline is at or before `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<K> {
        let mut fired = Vec::new();
        let Some(origin) = self.origin else {
            return Vec::new();
        };
        let end = tick(origin, now);
        // Taking deadlines away leaves a lower bound one still; only one
        // that is due now is worked out again.
        if self.hint.get().is_some_and(|h| h <= now) {
            self.hint.set(None);
        }
        loop {
            if self.in_wheel == 0 {
                // Nothing to read on the way: jump to the set's first.
                let far = self.far.first().map_or(end, |(at, _)| tick(origin, *at));
                self.cursor = self.cursor.max(end.min(far));
                self.pull_far();
            }
            if self.cursor >= end {
                break;
            }
            // Every live deadline of a slot behind `now`'s is due.
            self.read_slot(self.cursor, now, &mut fired);
            self.cursor += 1;
            self.pull_far();
        }
        self.read_slot(self.cursor, now, &mut fired);
        fired.sort_unstable();
        fired.into_iter().map(|(_, k)| k).collect()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The first slot with anything in it, from the cursor's round the
    /// wheel: the earliest ticks first.
    fn first_occupied(&self) -> Option<usize> {
        let start = (self.cursor % SLOTS) as usize;
        let (w0, b0) = (start / 64, start % 64);
        let here = self.occupied[w0] & (!0u64 << b0);
        if here != 0 {
            return Some(w0 * 64 + here.trailing_zeros() as usize);
        }
        for i in 1..=WORDS {
            let w = (w0 + i) % WORDS;
            let mut bits = self.occupied[w];
            if i == WORDS {
                // Round to the cursor's own word: the slots before it.
                bits &= !(!0u64 << b0);
            }
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Into the wheel if within a revolution of the cursor, else the set.
    fn place(&mut self, at: Instant, key: K) {
        let origin = *self.origin.get_or_insert(at);
        let t = tick(origin, at).max(self.cursor);
        if t < self.cursor + SLOTS {
            let i = (t % SLOTS) as usize;
            self.wheel[i].push((at, key));
            self.occupied[i / 64] |= 1 << (i % 64);
            self.in_wheel += 1;
        } else {
            self.far.insert((at, key));
        }
    }

    /// Move the set's deadlines that came within a revolution into slots.
    fn pull_far(&mut self) {
        let Some(origin) = self.origin else { return };
        while let Some(&(at, key)) = self.far.first() {
            if tick(origin, at) >= self.cursor + SLOTS {
                break;
            }
            self.far.pop_first();
            self.place(at, key);
        }
    }

    /// Fire the slot's live deadlines at or before `now`, drop the replaced
    /// ones, keep the rest.
    fn read_slot(&mut self, t: u64, now: Instant, fired: &mut Vec<(Instant, K)>) {
        let index = (t % SLOTS) as usize;
        let mut slot = std::mem::take(&mut self.wheel[index]);
        let before = slot.len();
        let by_key = &mut self.by_key;
        slot.retain(|&(at, key)| {
            let Entry::Occupied(live) = by_key.entry(key) else {
                return false;
            };
            if *live.get() != at {
                return false;
            }
            if at > now {
                return true;
            }
            live.remove();
            fired.push((at, key));
            false
        });
        self.in_wheel -= before - slot.len();
        if slot.is_empty() {
            self.occupied[index / 64] &= !(1 << (index % 64));
        }
        // The slot keeps its allocation for the next revolution.
        self.wheel[index] = slot;
    }
}

/// Slots from `origin` to `at` (0 before it).
fn tick(origin: Instant, at: Instant) -> u64 {
    let n = at.saturating_duration_since(origin).as_nanos() / SLOT_NANOS;
    u64::try_from(n).unwrap_or(u64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearm_replaces_and_expiry_is_ordered() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(1u32, Some(t0 + Duration::from_secs(5)));
        t.set(2u32, Some(t0 + Duration::from_secs(1)));
        t.set(1u32, Some(t0 + Duration::from_secs(2)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.expired(t0 + Duration::from_secs(3)), vec![2, 1]);
        assert!(t.is_empty());
        assert_eq!(t.next(), None);
        t.set(3, Some(t0));
        t.set(3, None);
        assert!(t.is_empty());
        assert_eq!(t.expired(t0 + Duration::from_secs(9)), Vec::<u32>::new());
    }

    #[test]
    fn a_deadline_fires_at_its_instant_not_before() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        let at = t0 + Duration::from_millis(1500);
        t.set(7u32, Some(at));
        assert_eq!(t.next(), Some(at));
        assert!(t.expired(at - Duration::from_nanos(1)).is_empty());
        assert_eq!(t.next(), Some(at));
        assert_eq!(t.expired(at), vec![7]);
    }

    #[test]
    fn far_deadlines_and_long_sleeps() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        // Beyond one revolution (34 s): the ordered set, then the wheel.
        t.set(1u32, Some(t0 + Duration::from_secs(60)));
        t.set(2u32, Some(t0 + Duration::from_secs(3600)));
        t.set(3u32, Some(t0 + Duration::from_secs(10)));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(t.expired(t0 + Duration::from_secs(11)), vec![3]);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(60)));
        assert!(t.expired(t0 + Duration::from_secs(59)).is_empty());
        // Re-armed further while waiting in the set.
        t.set(1u32, Some(t0 + Duration::from_secs(70)));
        assert!(t.expired(t0 + Duration::from_secs(65)).is_empty());
        assert_eq!(t.expired(t0 + Duration::from_secs(70)), vec![1]);
        // A whole day asleep: the hour's deadline, once.
        assert_eq!(t.expired(t0 + Duration::from_secs(86_400)), vec![2]);
        assert!(t.is_empty());
        // A deadline already past when set fires at the next look.
        t.set(4u32, Some(t0));
        assert_eq!(t.next(), Some(t0));
        assert_eq!(t.expired(t0 + Duration::from_secs(86_400)), vec![4]);
    }

    #[test]
    fn replaced_deadlines_never_fire_and_a_key_fires_once() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        let s = |n| Some(t0 + Duration::from_millis(n));
        // Set, moved, moved back: two entries for the same (at, key) in
        // the wheel, one firing.
        t.set(1u32, s(100));
        t.set(1u32, s(200));
        t.set(1u32, s(100));
        t.set(2u32, s(150));
        t.set(2u32, None);
        t.set(3u32, s(120));
        t.set(3u32, s(5000));
        assert_eq!(t.expired(t0 + Duration::from_secs(1)), vec![1]);
        assert_eq!(t.deadline(3), s(5000));
        assert_eq!(t.expired(t0 + Duration::from_secs(6)), vec![3]);
        assert!(t.is_empty());
    }

    #[test]
    fn next_finds_the_first_slot_round_the_wheel() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(0u32, Some(t0));
        // Move the cursor two thirds of the way round.
        let now = t0 + Duration::from_secs(22);
        assert_eq!(t.expired(now), vec![0]);
        // 33 s ahead: in a slot behind the cursor's index (wrapped).
        let late = now + Duration::from_secs(33);
        t.set(1, Some(late));
        assert_eq!(t.next(), Some(late));
        let soon = now + Duration::from_millis(1003);
        t.set(2, Some(soon));
        assert_eq!(t.next(), Some(soon));
        assert_eq!(t.expired(soon), vec![2]);
        assert_eq!(t.next(), Some(late));
        assert_eq!(t.expired(late), vec![1]);
        assert_eq!(t.next(), None);
    }

    /// Against the obvious model: random sets, clears and clock steps.
    #[test]
    fn matches_an_ordered_set_model() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(11);
        let t0 = Instant::now();
        let mut t = Timers::default();
        let mut model: std::collections::BTreeMap<u16, Instant> = Default::default();
        let mut now = t0;
        for _ in 0..20_000 {
            let key = rng.gen_range(0..300u16);
            match rng.gen_range(0..10) {
                0 => {
                    t.set(key, None);
                    model.remove(&key);
                }
                1..=6 => {
                    let ahead = Duration::from_millis(rng.gen_range(0..80_000));
                    let at = (now + ahead)
                        .checked_sub(Duration::from_millis(50))
                        .unwrap_or(now);
                    t.set(key, Some(at));
                    model.insert(key, at);
                }
                _ => {
                    now += Duration::from_millis(rng.gen_range(0..3000));
                    let mut due: Vec<(Instant, u16)> = model
                        .iter()
                        .filter(|(_, at)| **at <= now)
                        .map(|(k, at)| (*at, *k))
                        .collect();
                    due.sort();
                    for (_, k) in &due {
                        model.remove(k);
                    }
                    let want: Vec<u16> = due.into_iter().map(|(_, k)| k).collect();
                    assert_eq!(t.expired(now), want);
                }
            }
            let earliest = model.values().min().copied();
            match (t.next(), earliest) {
                (Some(n), Some(e)) => assert!(n <= e, "next {n:?} after {e:?}"),
                (n, e) => assert_eq!(n.is_some(), e.is_some()),
            }
            assert_eq!(t.len(), model.len());
        }
    }
}
